import type { CpuView } from '../backend.js';
import { CHUNK_GATHER_ROWS, CHUNK_SCATTER_ADD_ROWS, CHUNK_TOPK, wasmRuntime, type WasmRuntime } from './runtime.js';
import { place } from './sparse.js';

/** Below this many elements moved (or scanned) the loops win. */
const MIN_ELEMENTS = 1 << 15;
/** Elements per chunk: enough to amortise a claim. */
const CHUNK_ELEMENTS = 1 << 15;

/** The byte address of the n int32 values of a strided 1-D index: in place when contiguous in the heap, else copied into scratch. */
function placeIndex(rt: WasmRuntime, index: CpuView, n: number, stride: number): [at: number, bytes: number] {
  if (rt.owns(index.data)) return [index.data.byteOffset + index.offset * 4, stride * 4];
  const at = rt.alloc(n);
  const dst = new Int32Array(rt.memory.buffer, at, n);
  const I = index.data;
  for (let e = 0, r = index.offset; e < n; e++, r += stride) dst[e] = I[r];
  return [at, 4];
}

/**
 * Rows of x (E rows of F adjacent floats, `xs` elements apart) copied into a contiguous [E, F]
 * out, row e from row index[e * is] of x, across the pool. x and out must be float32 in the
 * heap; false (nothing written) otherwise.
 */
export function wasmGatherRows(x: CpuView, index: CpuView, out: CpuView, E: number, F: number, xs: number, is: number): boolean {
  if (x.dtype !== 'float32' || out.dtype !== 'float32' || E * F < MIN_ELEMENTS) return false;
  const rt = wasmRuntime();
  if (!rt || !rt.owns(x.data) || !rt.owns(out.data)) return false;
  rt.resetArena();
  const [idx, ib] = placeIndex(rt, index, E, is);
  const per = Math.max(1, Math.ceil(CHUNK_ELEMENTS / F), Math.ceil(E / (64 * rt.numThreads)));
  rt.run(CHUNK_GATHER_ROWS, [x.data.byteOffset + x.offset * 4, xs * 4, idx, ib, out.data.byteOffset + out.offset * 4, F, per, E], Math.ceil(E / per));
  return true;
}

/**
 * out[index[e]] += src[e] for rows e in order (F adjacent floats a row; src rows `ss` elements
 * apart, out contiguous), across the pool split by columns: each element still sums its rows in
 * index order, so the result does not depend on the thread count. float32 in the heap only.
 */
export function wasmScatterAddRows(index: CpuView, src: CpuView, out: CpuView, E: number, F: number, ss: number, is: number): boolean {
  if (src.dtype !== 'float32' || out.dtype !== 'float32' || E * F < MIN_ELEMENTS) return false;
  const rt = wasmRuntime();
  if (!rt || !rt.owns(src.data) || !rt.owns(out.data)) return false;
  rt.resetArena();
  const [idx, ib] = placeIndex(rt, index, E, is);
  // Column blocks of whole vectors, one per thread at least where the rows are wide enough.
  const w = Math.max(4, Math.ceil(F / rt.numThreads / 4) * 4);
  rt.run(CHUNK_SCATTER_ADD_ROWS, [idx, ib, src.data.byteOffset + src.offset * 4, ss * 4, out.data.byteOffset + out.offset * 4, F, E, w], Math.ceil(F / w));
  return true;
}

/**
 * The k smallest (or largest) of each row of a contiguous float32 [rows, cols] x, in stable-sort
 * order, into contiguous values (float32) and indices (int32), across the pool by rows. False
 * (nothing written) when the wasm path does not apply.
 */
export function wasmTopk(x: CpuView, values: CpuView, indices: CpuView, rows: number, cols: number, k: number, largest: boolean): boolean {
  if (x.dtype !== 'float32' || values.dtype !== 'float32' || k < 1 || rows * cols < MIN_ELEMENTS) return false;
  const rt = wasmRuntime();
  if (!rt) return false;
  rt.resetArena();
  const xa = place(rt, x, rows * cols);
  const n = rows * k;
  const vo = rt.owns(values.data) ? values.data.byteOffset + values.offset * 4 : rt.alloc(n);
  const io = rt.owns(indices.data) ? indices.data.byteOffset + indices.offset * 4 : rt.alloc(n);
  const per = Math.max(1, Math.ceil(CHUNK_ELEMENTS / cols), Math.ceil(rows / (64 * rt.numThreads)));
  rt.run(CHUNK_TOPK, [xa, cols, k, largest ? -1 : 0, vo, io, per, rows], Math.ceil(rows / per));
  if (!rt.owns(values.data)) values.data.set(new Float32Array(rt.memory.buffer, vo, n), values.offset);
  if (!rt.owns(indices.data)) indices.data.set(new Int32Array(rt.memory.buffer, io, n), indices.offset);
  return true;
}
