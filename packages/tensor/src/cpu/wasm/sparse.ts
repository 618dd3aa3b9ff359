import type { CpuView } from '../backend.js';
import { CHUNK_SPMM, wasmRuntime, type WasmRuntime } from './runtime.js';

/** Below this many multiply-adds the loops win. */
const MIN_MACS = 1 << 15;
/** Multiply-adds per chunk: enough to amortise a claim. */
const CHUNK_MACS = 1 << 16;

/**
 * CSR (row pointers, column ids, values) x dense float32 on the WebAssembly kernel across the
 * pool, rows split into chunks of about equal work (by entries). The dense operand and the output
 * must live in the heap with adjacent columns; the CSR arrays are copied into scratch unless they
 * do. False (nothing written) otherwise.
 */
export function wasmSpmm(rowPtr: CpuView, colIdx: CpuView, vals: CpuView, dense: CpuView, out: CpuView, rows: number, k: number): boolean {
  if (dense.dtype !== 'float32' || out.dtype !== 'float32' || vals.dtype !== 'float32') return false;
  const nnz = colIdx.shape[0];
  if (nnz * k < MIN_MACS || (k > 1 && dense.strides[1] !== 1)) return false;
  const rt = wasmRuntime();
  if (!rt || !rt.owns(dense.data) || !rt.owns(out.data)) return false;
  rt.resetArena();
  const rp = place(rt, rowPtr, rows + 1);
  const ci = place(rt, colIdx, nnz);
  const va = place(rt, vals, nnz);
  const per = Math.max(1, Math.ceil((rows * CHUNK_MACS) / (nnz * k)), Math.ceil(rows / (64 * rt.numThreads)));
  const d = dense.data.byteOffset + dense.offset * 4;
  rt.run(CHUNK_SPMM, [rp, ci, va, d, dense.strides[0] * 4, out.data.byteOffset + out.offset * 4, k, per, rows], Math.ceil(rows / per));
  return true;
}

/** The byte address of `n` 32-bit elements of a contiguous view: in place, or copied into scratch. */
export function place(rt: WasmRuntime, v: CpuView, n: number): number {
  if (rt.owns(v.data)) return v.data.byteOffset + v.offset * 4;
  const at = rt.alloc(n);
  const src = v.data.subarray(v.offset, v.offset + n);
  if (v.dtype === 'float32') rt.f32.set(src, at >> 2);
  else new Int32Array(rt.memory.buffer, at, n).set(src);
  return at;
}
