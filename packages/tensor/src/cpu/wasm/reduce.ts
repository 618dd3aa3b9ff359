import type { CpuView } from '../backend.js';
import { CHUNK_CSUM, CHUNK_RSUM, wasmRuntime } from './runtime.js';

/** Elements per block: a block's float64 partial sum is one chunk of work. */
const BLOCK = 1 << 16;
/** Elements a chunk sums at least (when runs are shorter, it takes several). */
const CHUNK_ELEMENTS = 1 << 15;
/** Runs shorter than this stay on the loops (the handoff would dominate). */
const MIN_ROW = 1024;
/** With several runs per output (a reduction over two strided dims), shorter runs pay off. */
const MIN_RUN = 256;

/**
 * Sums of float32 rows on the WebAssembly kernel across the thread pool: output r sums `runs`
 * runs of K contiguous elements, run j of row r at x.offset + r * rowStride + j * runStride, of a
 * heap-backed storage (runs = 1: plain rows; runs > 1: e.g. a bias gradient, summed over the
 * batch and the pixels of [N, C, H, W]). Each run is split into fixed blocks summed in float64,
 * and a row's blocks are added in order, so the result does not depend on the thread count.
 * Returns false (nothing written) when the input is not in the heap or runs are short.
 */
export function wasmRowSums(x: CpuView, out: CpuView, rows: number, rowStride: number, K: number, runs = 1, runStride = 0): boolean {
  if (x.dtype !== 'float32' || K < (runs > 1 ? MIN_RUN : MIN_ROW)) return false;
  const rt = wasmRuntime();
  if (!rt || !rt.owns(x.data)) return false;
  const blocks = Math.ceil(K / BLOCK);
  const total = rows * runs * blocks;
  rt.resetArena();
  const partials = rt.alloc(2 * total);
  // several short runs per chunk: a claim per 784-float run cost more than the run (2 threads
  // summed a [64, 32, 28, 28] bias gradient 4x slower than 1)
  const itemsPer = Math.max(1, Math.floor(CHUNK_ELEMENTS / Math.min(K, BLOCK)));
  rt.run(CHUNK_RSUM, [x.data.byteOffset + x.offset * 4, rowStride, K, blocks, BLOCK, partials, runs, runStride, itemsPer, total], Math.ceil(total / itemsPer));
  const p = new Float64Array(rt.memory.buffer, partials, total);
  const O = out.data;
  const per = runs * blocks;
  for (let r = 0; r < rows; r++) {
    let acc = 0;
    for (let b = 0; b < per; b++) acc += p[r * per + b];
    O[out.offset + r] = acc;
  }
  return true;
}

/**
 * Sums down M adjacent columns of K rows (row r at x.offset + r * rowStride) of a heap-backed
 * float32 storage, on the WebAssembly kernel: 8 columns per chunk, each column's rows added in
 * order in float64 (the same sums as the loops). False when the input is not in the heap.
 */
export function wasmColumnSums(x: CpuView, out: CpuView, M: number, rowStride: number, K: number): boolean {
  if (x.dtype !== 'float32' || M * K < 1 << 14) return false;
  const rt = wasmRuntime();
  if (!rt || !rt.owns(x.data)) return false;
  rt.resetArena();
  const sums = rt.alloc(2 * M);
  rt.run(CHUNK_CSUM, [x.data.byteOffset + x.offset * 4, rowStride * 4, K, M, sums], Math.ceil(M / 8));
  const p = new Float64Array(rt.memory.buffer, sums, M);
  const O = out.data;
  for (let r = 0; r < M; r++) O[out.offset + r] = p[r];
  return true;
}
