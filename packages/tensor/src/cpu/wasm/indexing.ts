import type { CpuView } from '../backend.js';
import { CHUNK_CDIST, CHUNK_GATHER_ROWS, CHUNK_SCATTER_ADD_ROWS, CHUNK_SEGMENT_REDUCE, CHUNK_TOPK, wasmRuntime, type WasmRuntime } from './runtime.js';
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
  const vo = outAddress(rt, values, n);
  const io = outAddress(rt, indices, n);
  const per = Math.max(1, Math.ceil(CHUNK_ELEMENTS / cols), Math.ceil(rows / (64 * rt.numThreads)));
  rt.run(CHUNK_TOPK, [xa, cols, k, largest ? -1 : 0, vo, io, per, rows], Math.ceil(rows / per));
  copyBack(rt, values, vo, n);
  copyBack(rt, indices, io, n);
  return true;
}

/** An output view's byte address: in place when it is in the heap, else scratch (copied back by `copyBack`). */
function outAddress(rt: WasmRuntime, v: CpuView, n: number): number {
  return rt.owns(v.data) ? v.data.byteOffset + v.offset * 4 : rt.alloc(n);
}

function copyBack(rt: WasmRuntime, v: CpuView, at: number, n: number): void {
  if (rt.owns(v.data)) return;
  const src = v.dtype === 'float32' ? new Float32Array(rt.memory.buffer, at, n) : new Int32Array(rt.memory.buffer, at, n);
  v.data.set(src, v.offset);
}

const SEGMENT_OPS: Record<string, number> = { sum: 0, mean: 1, max: 2, min: 3 };

/**
 * Segment sum / mean / max / min of a contiguous float32 [E, F] src over the segments of a row
 * pointer vector (numSegments + 1 int32), into values [S, F] (and the winning rows for max / min),
 * across the pool by segments. False (nothing written) when it does not apply.
 */
export function wasmSegmentReduce(src: CpuView, ptr: CpuView, values: CpuView, args: CpuView | undefined, op: string, S: number, F: number): boolean {
  const code = SEGMENT_OPS[op];
  const E = src.shape[0];
  if (code === undefined || src.dtype !== 'float32' || values.dtype !== 'float32' || E * F < MIN_ELEMENTS || S === 0) return false;
  const rt = wasmRuntime();
  if (!rt || !rt.owns(src.data)) return false;
  rt.resetArena();
  const p = place(rt, ptr, S + 1);
  const vo = outAddress(rt, values, S * F);
  const ao = args ? outAddress(rt, args, S * F) : 0;
  const per = Math.max(1, Math.ceil(S / (64 * rt.numThreads)), Math.ceil((S * CHUNK_ELEMENTS) / (E * F)));
  rt.run(CHUNK_SEGMENT_REDUCE, [src.data.byteOffset + src.offset * 4, p, F, E, code, vo, ao, per, S], Math.ceil(S / per));
  copyBack(rt, values, vo, S * F);
  if (args) copyBack(rt, args, ao, S * F);
  return true;
}

const CDIST_MODES = new Map<number, number>([[2, 0], [1, 1], [Infinity, 2], [0, 3]]);

/**
 * Pairwise p-distances (p = 2, 1, inf or 0) of contiguous float32 [batch, rowsA, cols] and
 * [batch, rowsB, cols] into a contiguous [batch, rowsA, rowsB] out, across the pool by rows of x1.
 * float64 accumulation in column order, as the plain loop. False when it does not apply.
 */
export function wasmCdist(a: CpuView, b: CpuView, out: CpuView, batch: number, rowsA: number, rowsB: number, cols: number, p: number): boolean {
  const mode = CDIST_MODES.get(p);
  const n = batch * rowsA;
  if (mode === undefined || a.dtype !== 'float32' || b.dtype !== 'float32' || out.dtype !== 'float32' || n * rowsB * Math.max(cols, 1) < MIN_ELEMENTS || rowsA === 0) return false;
  const rt = wasmRuntime();
  if (!rt) return false;
  rt.resetArena();
  const x1 = place(rt, a, n * cols);
  const x2 = place(rt, b, batch * rowsB * cols);
  const o = outAddress(rt, out, n * rowsB);
  const per = Math.max(1, Math.ceil(n / (64 * rt.numThreads)), Math.ceil(CHUNK_ELEMENTS / Math.max(1, rowsB * cols)));
  rt.run(CHUNK_CDIST, [x1, x2, rowsA, rowsB, cols, mode, o, per, n], Math.ceil(n / per));
  copyBack(rt, out, o, n * rowsB);
  return true;
}
