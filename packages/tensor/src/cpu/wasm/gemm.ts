import { MR, NR } from './kernels.generated.js';
import { CHUNK_GEMM, CHUNK_PACK, wasmRuntime, type WasmRuntime } from './runtime.js';

/**
 * float32 GEMM on the WebAssembly SIMD kernels: operands are packed into MR-row and NR-column
 * panels in the shared scratch arena (zero-padded to whole panels), the product is computed by
 * chunks of panels across the thread pool, and the padded result is handed back for the caller to
 * scatter into its output layout.
 */

/** Reads element (b, i, j) of a strided operand. */
export interface Operand {
  readonly data: ArrayLike<number>;
  readonly offset: number;
  /** Strides of (batch, row, column); batch stride may be 0 (broadcast). */
  readonly strides: readonly [number, number, number];
}

/**
 * Column panels (of NR) up to which A is read unpacked. Measured here (2-core EPYC, interleaved
 * runs): with 4–8 panels reading A in place is about twice as fast as packing it first (X W and
 * Xᵀ G of a GCN/GAT layer at Cora's size); from 16 panels on the two are even.
 */
const ROW_A_MAX_N_PANELS = 8;
const COL_A_MAX_N_PANELS = 8;

/** Below this many multiply-adds per batch entry the plain TypeScript loops win (no packing, no handoff). */
export const WASM_GEMM_MIN_MACS = 24 * 24 * 24;

/** The wasm runtime when it exists and the product is worth it. */
export function gemmRuntime(m: number, n: number, k: number): WasmRuntime | null {
  if (m * n * k < WASM_GEMM_MIN_MACS) return null;
  return wasmRuntime();
}

/** Packs rows [0, m) x cols [0, k) of `a` (batch entry b) into MR-row panels: panel p holds k steps of MR floats. */
function packA(f32: Float32Array, at: number, a: Operand, b: number, m: number, k: number, panels: number): void {
  const [sb, sm, sk] = a.strides;
  const base = a.offset + b * sb;
  const d = a.data;
  let o = at >> 2;
  for (let p = 0; p < panels; p++) {
    const r0 = p * MR;
    const rows = Math.min(MR, m - r0);
    if (rows === MR && sk === 1) {
      // Rows are contiguous: walk MR row pointers together.
      const rowBase = base + r0 * sm;
      for (let kk = 0; kk < k; kk++) {
        for (let r = 0; r < MR; r++) f32[o + r] = d[rowBase + r * sm + kk];
        o += MR;
      }
    } else {
      for (let kk = 0; kk < k; kk++) {
        const src = base + r0 * sm + kk * sk;
        let r = 0;
        for (; r < rows; r++) f32[o + r] = d[src + r * sm];
        for (; r < MR; r++) f32[o + r] = 0;
        o += MR;
      }
    }
  }
}

/** Packs `b` (batch entry bi) [k, n] into NR-column panels: panel p holds k steps of NR floats. */
function packB(f32: Float32Array, at: number, bm: Operand, bi: number, k: number, n: number, panels: number): void {
  const [sb, sk, sn] = bm.strides;
  const base = bm.offset + bi * sb;
  const d = bm.data;
  let o = at >> 2;
  for (let p = 0; p < panels; p++) {
    const c0 = p * NR;
    const cols = Math.min(NR, n - c0);
    if (cols === NR && sn === 1) {
      for (let kk = 0; kk < k; kk++) {
        const src = base + kk * sk + c0;
        for (let c = 0; c < NR; c++) f32[o + c] = d[src + c];
        o += NR;
      }
    } else {
      for (let kk = 0; kk < k; kk++) {
        const src = base + kk * sk + c0 * sn;
        let c = 0;
        for (; c < cols; c++) f32[o + c] = d[src + c * sn];
        for (; c < NR; c++) f32[o + c] = 0;
        o += NR;
      }
    }
  }
}

/**
 * The byte address of `op`'s element (0, 0, 0) in the WebAssembly memory: where it is when `op` is
 * a view of that memory; otherwise, when its elements (batches x rows x cols) occupy a region of its
 * Float32Array at most about twice their number (contiguous, transposed, sliced rows), that region
 * is copied into the arena. Null when neither applies.
 */
function spanCopy(rt: WasmRuntime, op: Operand, batches: number, rows: number, cols: number): number | null {
  if (!(op.data instanceof Float32Array)) return null;
  const [sb, sr, sc] = op.strides;
  if (sb < 0 || sr < 0 || sc < 0) return null;
  // already in the WebAssembly memory (a heap-backed storage): packed from where it is
  if (rt.owns(op.data)) return op.data.byteOffset + op.offset * 4;
  const span = 1 + (batches - 1) * sb + (rows - 1) * sr + (cols - 1) * sc;
  if (span > 2 * batches * rows * cols + 4096) return null;
  const at = rt.alloc(span);
  rt.f32.set(op.data.subarray(op.offset, op.offset + span), at >> 2);
  return at;
}

/**
 * Packs `panels` panels of each of `batches` entries of a strided operand already in wasm memory
 * (entry b at src + b * srcBatch, packed to dst + b * dstBatch bytes), in chunks across the pool:
 * one job for every entry (a job per entry cost a pool handoff each).
 */
function packInWasm(rt: WasmRuntime, src: number, rs: number, cs: number, dst: number, rows: number, cols: number, width: number, panels: number, batches = 1, srcBatch = 0, dstBatch = 0): void {
  const per = Math.max(1, Math.ceil((batches * panels) / (4 * rt.numThreads)), Math.ceil(4096 / Math.max(1, cols * width)));
  const perEntry = Math.min(per, panels);
  rt.run(CHUNK_PACK, [src, rs, cs, dst, rows, cols, width, perEntry, panels, srcBatch, dstBatch], batches * Math.ceil(panels / perEntry));
}

/** The padded result of {@link gemm}: row i, column j of batch entry b is `f32[at/4 + b*batchStride + i*ld + j]`. */
export interface GemmResult {
  readonly f32: Float32Array;
  /** Float offset of batch entry 0. */
  readonly base: number;
  readonly ld: number;
  readonly batchStride: number;
}

/**
 * Whether {@link gemm} can write C straight into `out` (a contiguous [batch, m, n] float32 array):
 * `out` lives in the WebAssembly memory and its rows are whole column panels.
 */
export function gemmWritesInto(rt: WasmRuntime, out: Float32Array, n: number): boolean {
  return n % NR === 0 && rt.owns(out);
}

/**
 * C[b] = A[b] (m x k) * B[b] (k x n) for b < batch. Returns the padded result in the arena (valid
 * until the runtime's next kernel call); with `into` (the byte address of an [m, n] output in the
 * memory with contiguous rows, batch entries `intoBatchStride` floats apart; allowed when
 * {@link gemmWritesInto}) C is written there.
 */
export function gemm(rt: WasmRuntime, a: Operand, bm: Operand, batch: number, m: number, n: number, k: number, into?: number, intoBatchStride = m * n): GemmResult {
  const mPanels = Math.ceil(m / MR);
  const nPanels = Math.ceil(n / NR);
  const aFloats = mPanels * MR * k;
  const bFloats = nPanels * NR * k;
  if (into !== undefined && n % NR !== 0) throw new Error(`gemm: direct output needs whole column panels of ${NR}, received n = ${n}`);
  const ld = nPanels * NR;
  // the micro-kernel writes only rows < m, so a direct output needs no padded rows
  const cFloats = into === undefined ? mPanels * MR * ld : m * ld;
  rt.resetArena();
  // A broadcast operand (batch stride 0) is packed once.
  const aBatches = a.strides[0] === 0 ? 1 : batch;
  const bBatches = bm.strides[0] === 0 ? 1 : batch;
  // Operands whose elements lie densely in their storage are copied in whole (a memcpy; not at all
  // when they live in the heap already) and packed by the wasm kernels across threads; others are
  // packed by the loops below.
  const aPlan = spanCopy(rt, a, aBatches, m, k);
  const bPlan = spanCopy(rt, bm, bBatches, k, n);
  // With few column panels each A element is used a few times only: A is read where it is, without
  // packing, when its rows (transposed: mode 1) or its k steps (row-major: mode 2) are adjacent.
  const [asb, asm, ask] = a.strides;
  const amode = aPlan === null ? 0 : asm === 1 && m > 1 && nPanels <= COL_A_MAX_N_PANELS ? 1 : ask === 1 && nPanels <= ROW_A_MAX_N_PANELS ? 2 : 0;
  const ap = amode ? 0 : rt.alloc(aFloats * aBatches);
  const bp = rt.alloc(bFloats * bBatches);
  const cp = into ?? rt.alloc(cFloats * batch);
  const f32 = rt.f32;
  if (amode) {
    // nothing to pack: the operand is read in place
  } else if (aPlan) {
    packInWasm(rt, aPlan, asm * 4, ask * 4, ap, m, k, MR, mPanels, aBatches, asb * 4, aFloats * 4);
  } else {
    for (let b = 0; b < aBatches; b++) packA(f32, ap + b * aFloats * 4, a, b, m, k, mPanels);
  }
  if (bPlan) {
    const [sb, sk, sn] = bm.strides;
    packInWasm(rt, bPlan, sn * 4, sk * 4, bp, n, k, NR, nPanels, bBatches, sb * 4, bFloats * 4);
  } else {
    for (let b = 0; b < bBatches; b++) packB(f32, bp + b * bFloats * 4, bm, b, k, n, nPanels);
  }
  const cStride = into === undefined ? cFloats : intoBatchStride;
  if (k === 0) {
    for (let b = 0; b < batch; b++) f32.fill(0, (cp >> 2) + b * cStride, (cp >> 2) + b * cStride + cFloats);
  } else {
    // Tiles of about 64 rows x 256 columns: enough chunks to balance threads, each big enough to amortise its B panels.
    const threads = rt.numThreads;
    let mPer = Math.max(1, Math.min(mPanels, 16));
    let nPer = Math.max(1, Math.min(nPanels, 32));
    // With few tiles, split further so every thread gets work.
    while (batch * Math.ceil(mPanels / mPer) * Math.ceil(nPanels / nPer) < 4 * threads && (mPer > 1 || nPer > 1)) {
      if (mPer >= nPer && mPer > 1) mPer = Math.ceil(mPer / 2);
      else nPer = Math.ceil(nPer / 2);
    }
    const chunksM = Math.ceil(mPanels / mPer);
    const chunksN = Math.ceil(nPanels / nPer);
    const aBase = amode ? aPlan! : ap;
    const aStride = aBatches === 1 ? 0 : amode ? asb * 4 : aFloats * 4;
    const as = amode === 1 ? ask * 4 : amode === 2 ? asm * 4 : 0;
    rt.run(
      CHUNK_GEMM,
      [aBase, bp, cp, k, ld * 4, mPanels, nPanels, mPer, nPer, chunksM, chunksN, aStride, bBatches === 1 ? 0 : bFloats * 4, cStride * 4, amode, as, m],
      batch * chunksM * chunksN,
    );
  }
  return { f32: rt.f32, base: cp >> 2, ld, batchStride: cStride };
}
