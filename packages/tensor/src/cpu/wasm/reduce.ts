import type { CpuView } from '../backend.js';
import { CHUNK_RSUM, wasmRuntime } from './runtime.js';

/** Elements per block: a block's float64 partial sum is one chunk of work. */
const BLOCK = 1 << 16;
/** Rows shorter than this stay on the loops (the handoff would dominate). */
const MIN_ROW = 1024;

/**
 * Sums of float32 rows on the WebAssembly kernel across the thread pool: row r is the K contiguous
 * elements at x.offset + r * rowStride of a heap-backed storage. Each row is split into fixed
 * blocks summed in float64 and the blocks are added in order, so the result does not depend on the
 * thread count. Returns false (nothing written) when the input is not in the heap or rows are short.
 */
export function wasmRowSums(x: CpuView, out: CpuView, rows: number, rowStride: number, K: number): boolean {
  if (x.dtype !== 'float32' || K < MIN_ROW) return false;
  const rt = wasmRuntime();
  if (!rt || !rt.owns(x.data)) return false;
  const blocks = Math.ceil(K / BLOCK);
  const total = rows * blocks;
  rt.resetArena();
  const partials = rt.alloc(2 * total);
  rt.run(CHUNK_RSUM, [x.data.byteOffset + x.offset * 4, rowStride, K, blocks, BLOCK, partials], total);
  const p = new Float64Array(rt.memory.buffer, partials, total);
  const O = out.data;
  for (let r = 0; r < rows; r++) {
    let acc = 0;
    for (let b = 0; b < blocks; b++) acc += p[r * blocks + b];
    O[out.offset + r] = acc;
  }
  return true;
}
