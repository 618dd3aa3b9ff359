import { KERNELS_RELAXED, KERNELS_SIMD } from './kernels.generated.js';

/**
 * The WebAssembly side of the cpu backend: one shared linear memory, the SIMD kernel module
 * instantiated on it by this thread and by a pool of worker threads, and a scratch arena that a
 * kernel call packs its operands into.
 *
 * Work is handed out as numbered chunks: the caller publishes a job (a chunk function id, its
 * integer arguments and the chunk count) in a control block in shared memory, wakes the workers,
 * and then claims chunks itself like any worker. Chunks are claimed with compare-and-swap on one
 * word that holds the job's generation (top bits) and the next chunk index (low 20 bits), so a
 * late worker can never claim a chunk of a job it did not read. The caller blocks on
 * `Atomics.wait` until every chunk is done, so kernels stay synchronous. A job never depends on a
 * worker having started: the caller alone can finish it.
 *
 * Where blocking is not allowed (a browser's main thread) or workers cannot be made (no
 * SharedArrayBuffer: a page without cross-origin isolation), everything runs on the calling
 * thread.
 */

/**
 * Control block layout (int32 words at the bottom of the memory). The claim word, the done
 * counter and the job's description sit on separate cache lines: every claim and every finished
 * chunk writes a line the other threads then miss on.
 */
const WAKE = 0;
const NEXT = 16;
const DONE = 32;
/** Job number (counts publications), chunk count, chunk function and arguments: written before a job opens. */
const JOB = 48;
const TOTAL = 49;
const FUNC = 50;
const ARGS = 52;
const MAX_ARGS = 24;
const CTRL_WORDS = ARGS + MAX_ARGS;
/** Scratch starts after the control block, 64-byte aligned. */
const ARENA_BASE = 512;
/** How long (ms) a pool thread spins before sleeping, waiting for the next job or the last chunks. */
const SPIN_MS = 1;
const PAGE = 65536;
/** 4 GiB: the wasm32 limit (the memory is reserved virtually, committed as it grows). */
const MAX_PAGES = 65536;
/** Highest heap address: 4 GiB (wasm32) less a page. */
const HEAP_LIMIT = (MAX_PAGES - 1) * PAGE;
const CHUNK_BITS = 20;
export const MAX_CHUNKS = (1 << CHUNK_BITS) - 1;

/**
 * Chunk functions: JS source shared by this thread and the workers, so both map a chunk index to
 * the same kernel call. `k` is the instance's exports, `a` the job's argument words.
 */
const CHUNK_SOURCE = `[
  // 0: gemm over a grid of (batch, m-chunk, n-chunk) tiles.
  // a: ap bp cp K ldc mPanels nPanels mPer nPer chunksM chunksN apStride bpStride cpStride amode as M
  function (k, a, c) {
    const perBatch = a[9] * a[10];
    const b = Math.floor(c / perBatch);
    const r = c - b * perBatch;
    const cm = r % a[9];
    const cn = (r - cm) / a[9];
    const mp0 = cm * a[7];
    const np0 = cn * a[8];
    k.gemm(a[0] + b * a[11], a[1] + b * a[12], a[2] + b * a[13], a[3], a[4],
      mp0, Math.min(a[5], mp0 + a[7]), np0, Math.min(a[6], np0 + a[8]), a[14], a[15], a[16]);
  },
  // 1: pack panels of one operand's batch entries: chunk c = (entry b, panels [q*per, min(panels, (q+1)*per))).
  // a: src rs cs dst rows cols width per panels srcBatch dstBatch (bytes between entries)
  function (k, a, c) {
    const perEntry = Math.ceil(a[8] / a[7]);
    const b = Math.floor(c / perEntry);
    const p0 = (c - b * perEntry) * a[7];
    k.pack(a[0] + b * a[9], a[1], a[2], a[3] + b * a[10], a[4], a[5], a[6], p0, Math.min(a[8], p0 + a[7]));
  },
  // 2: Philox blocks [c*per, min(n, (c+1)*per)). a: k0 k1 startLo startHi n out per
  function (k, a, c) {
    const first = c * a[6];
    k.philox(a[0], a[1], a[2], a[3], first, Math.min(a[4] - first, a[6]), a[5]);
  },
  // 3: elementwise over elements [c*per, min(n, (c+1)*per)). a: code a aRuns b bRuns o n per
  function (k, a, c) {
    const first = c * a[7];
    const at = first * 4;
    k.ew(a[0], a[1] + (a[2] ? at : 0), a[3] + (a[4] ? at : 0), a[5] + at, Math.min(a[6] - first, a[7]));
  },
  // 4: float64 partial sums of row blocks: item i = (row q, block b), chunk c the items
  // [c*per, min(total, (c+1)*per)); row q = r * runs + j starts at element r * rowStride + j * runStride.
  // a: x rowStride K blocks block partials runs runStride per total
  function (k, a, c) {
    const end = Math.min(a[9], (c + 1) * a[8]);
    for (let i = c * a[8]; i < end; i++) {
      const q = Math.floor(i / a[3]);
      const b = i - q * a[3];
      const r = Math.floor(q / a[6]);
      const j = q - r * a[6];
      const start = b * a[4];
      k.rsum(a[0] + (r * a[1] + j * a[7] + start) * 4, Math.min(a[4], a[2] - start), a[5] + i * 8);
    }
  },
  // 5: Adam over elements [c*per, min(n, (c+1)*per)). a: g p m v x n per consts flags
  function (k, a, c) {
    const at = c * a[6] * 4;
    k.adam(a[0] + at, a[1] + at, a[2] + at, a[3] + at, a[4] + at, Math.min(a[5] - c * a[6], a[6]), a[7], a[8]);
  },
  // 6: elementwise over rows [c*per, min(R, (c+1)*per)) of an [R, C] job: row r of each input
  // starts rowStep bytes after the previous one (0 for a row broadcast).
  // a: code a aRowStep b bRowStep o C per R
  function (k, a, c) {
    k.ewr(a[0], a[1], a[2], a[3], a[4], a[5], a[6], c * a[7], Math.min(a[8], (c + 1) * a[7]));
  },
  // 7: col2im of image c (convTranspose2d): every row (o, ky, kx) of its gemm result added into the
  // output pixels it lands on. a: F ld Og KH KW dh dw sh sw ph pw H W OH OW out outImage outChannel0 fImage
  // (F, out: byte addresses; ld, outImage, fImage: floats)
  function (k, a, c) {
    for (let o = 0; o < a[2]; o++) for (let ky = 0; ky < a[3]; ky++) for (let kx = 0; kx < a[4]; kx++) {
      const shiftY = ky * a[5] - a[9];
      const shiftX = kx * a[6] - a[10];
      const ixLo = Math.max(0, Math.ceil(-shiftX / a[8]));
      const ixHi = Math.min(a[12], Math.floor((a[14] - 1 - shiftX) / a[8]) + 1);
      const iyLo = Math.max(0, Math.ceil(-shiftY / a[7]));
      const iyHi = Math.min(a[11], Math.floor((a[13] - 1 - shiftY) / a[7]) + 1);
      if (ixHi <= ixLo || iyHi <= iyLo) continue;
      const row = (o * a[3] + ky) * a[4] + kx;
      const src = a[0] + (c * a[18] + row * a[1] + iyLo * a[12] + ixLo) * 4;
      const dst = a[15] + (c * a[16] + (a[17] + o) * a[13] * a[14] + (iyLo * a[7] + shiftY) * a[14] + ixLo * a[8] + shiftX) * 4;
      k.addruns(src, dst, ixHi - ixLo, iyHi - iyLo, a[12] * 4, a[7] * a[14] * 4, a[8] * 4);
    }
  },
  // 8: column sums of columns [c*8, min(M, c*8 + 8)). a: x rowStride(bytes) K M out(float64s)
  function (k, a, c) {
    k.csum(a[0] + c * 32, a[1], a[2], Math.min(8, a[3] - c * 8), a[4] + c * 64);
  },
  // 9: CSR spmm of rows [c*per, min(n, (c+1)*per)). a: rp ci va d ldd(bytes) out k per n
  function (k, a, c) {
    const r0 = c * a[7];
    k.spmm(a[0], a[1], a[2], a[3], a[4], a[5], a[6], r0, Math.min(a[8], r0 + a[7]));
  },
  // 10: im2col (conv2d) of channels [q*cpc, min(C, (q+1)*cpc)) of image n, chunk c = (n, q).
  // a: x xImage xc xh xw H W C KH KW sh sw ph pw dh dw OH OW dst dstImage cpc (x, dst, strides in bytes)
  function (k, a, c) {
    const per = Math.ceil(a[7] / a[20]);
    const n = Math.floor(c / per);
    const c0 = (c - n * per) * a[20];
    k.im2col(a[0] + n * a[1] + c0 * a[2], a[2], a[3], a[4], a[5], a[6], Math.min(a[20], a[7] - c0), a[8], a[9], a[10], a[11], a[12], a[13], a[14], a[15], a[16], a[17],
      a[18] + n * a[19] + c0 * a[8] * a[9] * a[16] * a[17] * 4);
  },
  // 11: gather rows [c*per, min(n, (c+1)*per)). a: x ldx(bytes) idx is(bytes) out F per n
  function (k, a, c) {
    const r0 = c * a[6];
    k.gatherrows(a[0], a[1], a[2], a[3], a[4], a[5], r0, Math.min(a[7], r0 + a[6]));
  },
  // 12: scatter-add of columns [c*w, min(F, (c+1)*w)) of every row. a: idx is(bytes) src lds(bytes) out F E w
  function (k, a, c) {
    const c0 = c * a[7];
    k.scatteraddrows(a[0], a[1], a[2], a[3], a[4], a[5], a[6], c0, Math.min(a[5], c0 + a[7]));
  },
  // 13: top-k of rows [c*per, min(rows, (c+1)*per)). a: x cols k flip vo io per rows
  function (k, a, c) {
    const r0 = c * a[6];
    k.topk(a[0], a[1], a[2], a[3], a[4], a[5], r0, Math.min(a[7], r0 + a[6]));
  },
  // 14: segment reduction of segments [c*per, min(S, (c+1)*per)). a: src ptr F E op vo ao per S
  function (k, a, c) {
    const s0 = c * a[7];
    k.segreduce(a[0], a[1], a[2], a[3], a[4], a[5], a[6], s0, Math.min(a[8], s0 + a[7]));
  },
  // 15: cdist of rows [c*per, min(n, (c+1)*per)) of the flattened x1. a: x1 x2 rowsA rowsB cols mode out per n
  function (k, a, c) {
    const i0 = c * a[7];
    k.cdist(a[0], a[1], a[2], a[3], a[4], a[5], a[6], i0, Math.min(a[8], i0 + a[7]));
  },
]`;

export const CHUNK_GEMM = 0;
export const CHUNK_PACK = 1;
export const CHUNK_PHILOX = 2;
export const CHUNK_EW = 3;
export const CHUNK_RSUM = 4;
export const CHUNK_ADAM = 5;
export const CHUNK_EW_ROWS = 6;
export const CHUNK_COL2IM = 7;
export const CHUNK_CSUM = 8;
export const CHUNK_SPMM = 9;
export const CHUNK_IM2COL = 10;
export const CHUNK_GATHER_ROWS = 11;
export const CHUNK_SCATTER_ADD_ROWS = 12;
export const CHUNK_TOPK = 13;
export const CHUNK_SEGMENT_REDUCE = 14;
export const CHUNK_CDIST = 15;

/** Claims and runs chunks of the published job until none is left (the workers' loop body, too). */
const RUN_SOURCE = `function runChunks(ctrl, kernels, chunks) {
  let job = -1, total = 0, fn = 0, args = null;
  for (;;) {
    const cur = Atomics.load(ctrl, ${NEXT});
    if ((cur & ${MAX_CHUNKS}) >= Atomics.load(ctrl, ${TOTAL})) return;
    if (Atomics.compareExchange(ctrl, ${NEXT}, cur, cur + 1) !== cur) continue;
    // Claimed: the job cannot change before this chunk is done (the caller waits for it), so its
    // description is read now, once per job.
    const now = Atomics.load(ctrl, ${JOB});
    if (now !== job) {
      job = now;
      total = ctrl[${TOTAL}];
      fn = ctrl[${FUNC}];
      args = ctrl.slice(${ARGS}, ${ARGS + MAX_ARGS});
    }
    // a claim past the end (the chunk count read above was the previous job's) runs nothing
    if ((cur & ${MAX_CHUNKS}) >= total) return;
    chunks[fn](kernels, args, cur & ${MAX_CHUNKS});
    if (Atomics.add(ctrl, ${DONE}, 1) + 1 === total) Atomics.notify(ctrl, ${DONE});
  }
}`;

const WORKER_SOURCE = `
const isNode = typeof process !== 'undefined' && !!process.versions?.node;
const chunks = ${CHUNK_SOURCE};
${RUN_SOURCE}
function start({ module, memory }) {
  const kernels = new WebAssembly.Instance(module, { env: { memory } }).exports;
  const ctrl = new Int32Array(memory.buffer, 0, ${CTRL_WORDS});
  for (;;) {
    const wake = Atomics.load(ctrl, ${WAKE});
    if (wake < 0) return;
    runChunks(ctrl, kernels, chunks);
    // Spin a little before sleeping: kernels come in bursts (a training step is hundreds), and a
    // sleeping thread takes tens of microseconds to wake (more in a VM), longer than many jobs.
    const until = performance.now() + ${SPIN_MS};
    while (Atomics.load(ctrl, ${WAKE}) === wake && performance.now() < until) {}
    Atomics.wait(ctrl, ${WAKE}, wake);
  }
}
if (isNode) start(require('node:worker_threads').workerData);
else self.onmessage = (e) => start(e.data);
`;

type Kernels = { gemm(...args: number[]): void; pack(...args: number[]): void; philox(...args: number[]): void; ew(...args: number[]): void; rsum(...args: number[]): void; adam(...args: number[]): void; addruns(...args: number[]): void; csum(...args: number[]): void; spmm(...args: number[]): void; ewr(...args: number[]): void; im2col(...args: number[]): void; gatherrows(...args: number[]): void; scatteraddrows(...args: number[]): void; topk(...args: number[]): void; segreduce(...args: number[]): void; cdist(...args: number[]): void };
type ChunkFn = (k: Kernels, a: Int32Array, c: number) => void;

const decode = (b64: string): Uint8Array<ArrayBuffer> => {
  const bin = atob(b64);
  const out = new Uint8Array(new ArrayBuffer(bin.length));
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
};

/** One worker thread: Node's worker_threads or a Web Worker. */
interface PoolWorker {
  terminate(): void;
}

/**
 * Node 20's V8 implements relaxed SIMD behind a flag (on by default from Node 22): turn it on before
 * the first compile unless TESSERA_WASM_RELAXED=0. Wasm feature flags are read at compile time.
 */
function enableRelaxedSimdInNode(): void {
  const proc = (globalThis as any).process;
  if (!proc?.versions?.node || proc.env?.TESSERA_WASM_RELAXED === '0') return;
  if (WebAssembly.validate(decode(KERNELS_RELAXED) )) return;
  proc.getBuiltinModule?.('node:v8')?.setFlagsFromString('--experimental-wasm-relaxed-simd');
}

function relaxedSupported(): boolean {
  if ((globalThis as any).process?.env?.TESSERA_WASM_RELAXED === '0') return false;
  enableRelaxedSimdInNode();
  try {
    return WebAssembly.validate(decode(KERNELS_RELAXED));
  } catch {
    return false;
  }
}

/**
 * V8 first runs wasm on its baseline compiler and moves a function to the optimizing one only
 * once it has run enough ("dynamic tiering"). The kernels are few and hot, and their baseline
 * code is 2-3x slower (it keeps the gemm accumulators in memory): a conv training step took
 * 14 ms over its first ten runs against 4 once warm. With dynamic tiering off, V8 optimizes
 * every function of a module in the background right after compiling it. The flag is
 * process-wide (modules compiled later are optimized eagerly too); TESSERA_WASM_EAGER=0 leaves it.
 */
function optimizeEagerlyInNode(): void {
  const proc = (globalThis as any).process;
  if (!proc?.versions?.node || proc.env?.TESSERA_WASM_EAGER === '0') return;
  proc.getBuiltinModule?.('node:v8')?.setFlagsFromString('--no-wasm-dynamic-tiering');
}

/** Whether this thread may block (Atomics.wait throws on a browser's main thread). */
function canBlock(): boolean {
  try {
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 1, 0);
    return true;
  } catch {
    return false;
  }
}

/**
 * The default thread count: `env` (TESSERA_NUM_THREADS, like OMP_NUM_THREADS for PyTorch) when
 * set, else the machine's cores. @internal
 */
export const defaultThreads = (env: string | undefined = (globalThis as any).process?.env?.TESSERA_NUM_THREADS): number => {
  if (env !== undefined && env !== '') {
    const n = Number(env);
    if (!Number.isInteger(n) || n < 1) throw new RangeError(`TESSERA_NUM_THREADS: expected a positive integer, received '${env}'`);
    return n;
  }
  const os = (globalThis as any).process?.getBuiltinModule?.('node:os');
  if (os?.availableParallelism) return os.availableParallelism();
  return Math.max(1, (globalThis as any).navigator?.hardwareConcurrency ?? 1);
};

/**
 * Bytes a heap or scratch block of `bytes` takes: rounded up to 64, plus 64 of slack, so kernels
 * that read a few floats past an operand's last element (unpacked gemm operands: results from
 * them are discarded) never read outside the memory.
 */
const blockBytes = (bytes: number): number => Math.ceil(bytes / 64) * 64 + 64;

export class WasmRuntime {
  readonly memory: WebAssembly.Memory;
  readonly kernels: Kernels;
  /** Whether the fused multiply-add (relaxed SIMD) build is in use. */
  readonly relaxed: boolean;
  private readonly module: WebAssembly.Module;
  private readonly ctrl: Int32Array;
  private readonly chunks: ChunkFn[];
  private readonly blocking: boolean;
  private workers: PoolWorker[] = [];
  private threads = 1;
  private f32cache: Float32Array | null = null;
  /** Scratch arena: one heap block, bumped by alloc() and emptied by resetArena(). */
  private arenaAt = 0;
  private arenaBytes = 0;
  private arenaTop = 0;
  /** Arena blocks outgrown during a kernel: freed at the next resetArena(). */
  private retired: [number, number][] = [];
  /** Heap: bump pointer, and free blocks [at, bytes] sorted by address (adjacent ones merged). */
  private heapTop = ARENA_BASE;
  private freeBlocks: [number, number][] = [];
  private freeTotal = 0;
  /** SharedArrayBuffer objects of this memory (a new one after each growth). */
  private buffers = new WeakSet<object>();

  constructor(threads: number) {
    this.relaxed = relaxedSupported();
    optimizeEagerlyInNode();
    this.module = new WebAssembly.Module(decode(this.relaxed ? KERNELS_RELAXED : KERNELS_SIMD) );
    this.memory = new WebAssembly.Memory({ initial: 16, maximum: MAX_PAGES, shared: true });
    this.kernels = new WebAssembly.Instance(this.module, { env: { memory: this.memory } }).exports as unknown as Kernels;
    this.ctrl = new Int32Array(this.memory.buffer, 0, CTRL_WORDS);
    this.chunks = new Function(`return ${CHUNK_SOURCE};`)() as ChunkFn[];
    this.blocking = canBlock();
    this.setThreads(threads);
  }

  /** Threads that share a kernel's work, this one included. */
  get numThreads(): number {
    return this.threads;
  }

  /** Sets the thread count (1 = this thread only). Workers beyond it are stopped; missing ones started. */
  setThreads(n: number): void {
    if (!Number.isInteger(n) || n < 1) throw new RangeError(`setNumThreads: expected a positive integer, received ${n}`);
    const want = this.blocking ? n : 1;
    while (this.workers.length > want - 1) this.workers.pop()!.terminate();
    while (this.workers.length < want - 1) {
      const w = this.spawn();
      if (!w) break;
      this.workers.push(w);
    }
    this.threads = this.workers.length + 1;
  }

  private spawn(): PoolWorker | null {
    const data = { module: this.module, memory: this.memory };
    const wt = (globalThis as any).process?.getBuiltinModule?.('node:worker_threads');
    if (wt) {
      const w = new wt.Worker(WORKER_SOURCE, { eval: true, workerData: data });
      w.unref();
      return { terminate: () => void w.terminate() };
    }
    const W = (globalThis as any).Worker;
    if (typeof W !== 'function' || !(globalThis as any).crossOriginIsolated) return null;
    const url = URL.createObjectURL(new Blob([WORKER_SOURCE], { type: 'text/javascript' }));
    const w = new W(url);
    w.postMessage(data);
    return { terminate: () => w.terminate() };
  }

  /** A float32 view of the whole memory (renewed after growth). */
  get f32(): Float32Array {
    const buf = this.memory.buffer;
    if (!this.f32cache || this.f32cache.buffer !== buf) {
      this.f32cache = new Float32Array(buf);
      this.buffers.add(buf);
    }
    return this.f32cache;
  }

  /** A float32 view of `size` floats at byte address `at`. */
  f32View(at: number, size: number): Float32Array {
    const buf = this.memory.buffer;
    this.buffers.add(buf);
    return new Float32Array(buf, at, size);
  }

  /** Whether `a` is a view of this memory (a heap-backed cpu storage or scratch). */
  owns(a: ArrayBufferView): boolean {
    return this.buffers.has(a.buffer);
  }

  /**
   * Reserves `bytes` (rounded up to 64) of the heap; returns the byte address, or null when the
   * memory cannot grow that far. Best fit among the free blocks, else from the top.
   */
  heapAlloc(bytes: number): number | null {
    const size = blockBytes(bytes);
    let best = -1;
    for (let i = 0; i < this.freeBlocks.length; i++) {
      const b = this.freeBlocks[i][1];
      if (b >= size && (best < 0 || b < this.freeBlocks[best][1])) best = i;
    }
    if (best >= 0) {
      const [at, b] = this.freeBlocks[best];
      if (b === size) this.freeBlocks.splice(best, 1);
      else this.freeBlocks[best] = [at + size, b - size];
      this.freeTotal -= size;
      return at;
    }
    const at = this.heapTop;
    const end = at + size;
    if (end > HEAP_LIMIT) return null;
    const have = this.memory.buffer.byteLength;
    if (end > have) {
      try {
        this.memory.grow(Math.ceil((end - have) / PAGE));
      } catch {
        return null;
      }
    }
    this.heapTop = end;
    return at;
  }

  /** Returns a block from heapAlloc (same `bytes`). */
  heapFree(at: number, bytes: number): void {
    const size = blockBytes(bytes);
    const list = this.freeBlocks;
    let lo = 0;
    let hi = list.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (list[mid][0] < at) lo = mid + 1;
      else hi = mid;
    }
    list.splice(lo, 0, [at, size]);
    this.freeTotal += size;
    // merge with the next and the previous block
    if (lo + 1 < list.length && list[lo][0] + list[lo][1] === list[lo + 1][0]) {
      list[lo][1] += list[lo + 1][1];
      list.splice(lo + 1, 1);
    }
    if (lo > 0 && list[lo - 1][0] + list[lo - 1][1] === list[lo][0]) {
      list[lo - 1][1] += list[lo][1];
      list.splice(lo, 1);
      lo--;
    }
    // a free block at the top lowers the top
    const last = list[list.length - 1];
    if (last && last[0] + last[1] === this.heapTop) {
      this.heapTop = last[0];
      this.freeTotal -= last[1];
      list.pop();
    }
  }

  /** Heap bytes freed but not yet reused (below the top). */
  get heapFreeBytes(): number {
    return this.freeTotal;
  }

  /** Empties the scratch arena: call at the start of a kernel. */
  resetArena(): void {
    for (const [at, bytes] of this.retired) this.heapFree(at, bytes);
    this.retired = [];
    this.arenaTop = this.arenaAt;
  }

  /** Reserves `floats` float32s of scratch (64-byte aligned); returns the byte offset. */
  alloc(floats: number): number {
    const bytes = blockBytes(floats * 4);
    if (this.arenaTop + bytes > this.arenaAt + this.arenaBytes) {
      // A bigger block; the old one stays valid until the next resetArena (earlier allocations of
      // this kernel live there).
      const want = Math.max(bytes, 2 * this.arenaBytes, 1 << 20);
      const at = this.heapAlloc(want);
      if (at === null) throw new RangeError(`cpu backend: a kernel needs ${bytes} bytes of WebAssembly scratch, more than the memory can grow to`);
      if (this.arenaBytes) this.retired.push([this.arenaAt, this.arenaBytes]);
      this.arenaAt = at;
      this.arenaBytes = want;
      this.arenaTop = at;
    }
    const at = this.arenaTop;
    this.arenaTop += bytes;
    return at;
  }

  /**
   * Runs chunks [0, total) of chunk function `fn` with integer arguments `args`, spread over the
   * pool; returns when all are done.
   */
  run(fn: number, args: readonly number[], total: number): void {
    if (total <= 0) return;
    if (total > MAX_CHUNKS) throw new RangeError(`cpu backend: ${total} chunks exceed the limit of ${MAX_CHUNKS}`);
    if (args.length > MAX_ARGS) throw new RangeError('cpu backend: too many kernel arguments');
    const ctrl = this.ctrl;
    if (this.threads === 1) {
      const a = Int32Array.from(args);
      for (let c = 0; c < total; c++) this.chunks[fn](this.kernels, a, c);
      return;
    }
    // Publish. First close the claim word under the new generation (index MAX_CHUNKS: nothing to
    // claim): a worker still looking at the previous job's exhausted word could otherwise read the
    // new TOTAL and claim with a compare-and-swap on the old word, running a chunk of the new job
    // with half-written arguments. Then arguments and counters, then open (index 0), then wake.
    const gen = ((Atomics.load(ctrl, NEXT) >>> CHUNK_BITS) + 1) & 0x7ff;
    Atomics.store(ctrl, NEXT, (gen << CHUNK_BITS) | MAX_CHUNKS);
    Atomics.store(ctrl, DONE, 0);
    Atomics.store(ctrl, TOTAL, total);
    Atomics.store(ctrl, FUNC, fn);
    Atomics.store(ctrl, JOB, (Atomics.load(ctrl, JOB) + 1) | 0);
    for (let i = 0; i < args.length; i++) Atomics.store(ctrl, ARGS + i, args[i]);
    Atomics.store(ctrl, NEXT, gen << CHUNK_BITS);
    Atomics.add(ctrl, WAKE, 1);
    Atomics.notify(ctrl, WAKE);
    runChunks(ctrl, this.kernels, this.chunks);
    // the last chunks are usually a few microseconds from done: spin before sleeping
    const until = performance.now() + SPIN_MS;
    for (;;) {
      const done = Atomics.load(ctrl, DONE);
      if (done >= total) break;
      if (performance.now() < until) continue;
      Atomics.wait(ctrl, DONE, done);
    }
  }
}

const runChunks = new Function(`${RUN_SOURCE}; return runChunks;`)() as (ctrl: Int32Array, k: Kernels, chunks: ChunkFn[]) => void;

let runtime: WasmRuntime | null | undefined;

/** The shared runtime, created on first use; null where WebAssembly SIMD or shared memory is unavailable. */
export function wasmRuntime(): WasmRuntime | null {
  if (runtime === undefined) {
    const threads = defaultThreads(); // a bad TESSERA_NUM_THREADS throws here, not silently disabling wasm
    try {
      runtime = typeof SharedArrayBuffer === 'function' && WebAssembly.validate(decode(KERNELS_SIMD) ) ? new WasmRuntime(threads) : null;
    } catch {
      runtime = null;
    }
  }
  return runtime;
}

/** Threads the cpu backend's WebAssembly kernels use (1 where they are unavailable). */
export function getNumThreads(): number {
  return wasmRuntime()?.numThreads ?? 1;
}

/**
 * Sets the threads the cpu backend's WebAssembly kernels use, this one included (default: the
 * machine's cores). Where threads cannot be used (a browser page without cross-origin isolation,
 * or a browser's main thread) the kernels run on the calling thread whatever is set here.
 */
export function setNumThreads(n: number): void {
  if (!Number.isInteger(n) || n < 1) throw new RangeError(`setNumThreads: expected a positive integer, received ${n}`);
  wasmRuntime()?.setThreads(n);
}

/** What the cpu backend's WebAssembly kernels run on. */
export function cpuKernelInfo(): { wasm: boolean; relaxedSimd: boolean; threads: number } {
  const rt = wasmRuntime();
  return { wasm: !!rt, relaxedSimd: rt?.relaxed ?? false, threads: rt?.numThreads ?? 1 };
}
