import { CHUNK_PHILOX, wasmRuntime } from '../cpu/wasm/runtime.js';

/**
 * Philox4x32-10 (Salmon et al., "Parallel random numbers: as easy as 1, 2, 3", SC'11): a
 * counter-based generator. Block b of a stream keyed by (k0, k1) is a pure function of b, so any
 * backend that evaluates the same blocks draws the same bits.
 */
const M0 = 0xd2511f53;
const M1 = 0xcd9e8d57;
const W0 = 0x9e3779b9;
const W1 = 0xbb67ae85;

function mulhi(a: number, b: number): number {
  const a0 = a & 0xffff, a1 = a >>> 16, b0 = b & 0xffff, b1 = b >>> 16;
  const p00 = a0 * b0, p01 = a0 * b1, p10 = a1 * b0, p11 = a1 * b1;
  const mid = (p00 >>> 16) + (p01 & 0xffff) + (p10 & 0xffff);
  return (p11 + (p01 >>> 16) + (p10 >>> 16) + (mid >>> 16)) >>> 0;
}

/** Below this many blocks the JS loop is used (no handoff to the WebAssembly kernel). */
const WASM_MIN_BLOCKS = 4096;

/** Writes blocks [start, start + count) of the stream into `out` (4 u32 per block). */
export function philoxBlocks(k0: number, k1: number, start: number, count: number, out: Uint32Array): void {
  const rt = count >= WASM_MIN_BLOCKS ? wasmRuntime() : null;
  if (rt) {
    // The same blocks from the WebAssembly kernel (64-bit multiplies), spread over the thread pool.
    rt.resetArena();
    const at = rt.alloc(4 * count);
    const per = Math.max(WASM_MIN_BLOCKS, Math.ceil(count / (4 * rt.numThreads)));
    rt.run(CHUNK_PHILOX, [k0 | 0, k1 | 0, start | 0, Math.floor(start / 0x100000000) | 0, count, at, per], Math.ceil(count / per));
    out.set(new Uint32Array(rt.memory.buffer, at, 4 * count));
    return;
  }
  philoxBlocksJs(k0, k1, start, count, out);
}

/** The reference implementation (and the path for short draws). */
export function philoxBlocksJs(k0: number, k1: number, start: number, count: number, out: Uint32Array): void {
  for (let blk = 0; blk < count; blk++) {
    const b = start + blk;
    let c0 = b >>> 0, c1 = Math.floor(b / 0x100000000) >>> 0, c2 = 0, c3 = 0;
    let key0 = k0 >>> 0, key1 = k1 >>> 0;
    for (let r = 0; r < 10; r++) {
      const hi0 = mulhi(M0, c0), lo0 = Math.imul(M0, c0) >>> 0;
      const hi1 = mulhi(M1, c2), lo1 = Math.imul(M1, c2) >>> 0;
      c0 = (hi1 ^ c1 ^ key0) >>> 0;
      c1 = lo1;
      c2 = (hi0 ^ c3 ^ key1) >>> 0;
      c3 = lo0;
      key0 = (key0 + W0) >>> 0;
      key1 = (key1 + W1) >>> 0;
    }
    out[4 * blk] = c0;
    out[4 * blk + 1] = c1;
    out[4 * blk + 2] = c2;
    out[4 * blk + 3] = c3;
  }
}

/**
 * A seeded stream. Each draw takes the next blocks of the stream, so the same seed and the same
 * sequence of calls give the same values on every device.
 */
export class Generator {
  private k0 = 0;
  private k1 = 0;
  /** Next unused block. */
  offset = 0;

  constructor(seed = 0) {
    this.manualSeed(seed);
  }

  manualSeed(seed: number): this {
    if (!Number.isSafeInteger(seed) || seed < 0) throw new RangeError(`manualSeed: seed must be a non-negative safe integer, received ${seed}`);
    this.k0 = seed >>> 0;
    this.k1 = Math.floor(seed / 0x100000000) >>> 0;
    this.offset = 0;
    return this;
  }

  /** n raw 32-bit words. */
  bits(n: number): Uint32Array {
    const blocks = Math.ceil(n / 4);
    const out = new Uint32Array(blocks * 4);
    philoxBlocks(this.k0, this.k1, this.offset, blocks, out);
    this.offset += blocks;
    return n === out.length ? out : out.subarray(0, n);
  }

  /** n uniforms in [0, 1): 24-bit resolution for float32, 53-bit for float64. */
  uniform(n: number, float64 = false): Float64Array {
    const out = new Float64Array(n);
    if (float64) {
      const w = this.bits(2 * n);
      for (let i = 0; i < n; i++) out[i] = ((w[2 * i] >>> 5) * 67108864 + (w[2 * i + 1] >>> 6)) / 9007199254740992;
    } else {
      const w = this.bits(n);
      for (let i = 0; i < n; i++) out[i] = (w[i] >>> 8) / 16777216;
    }
    return out;
  }

  /** n standard normals by Box–Muller on pairs of uniforms in (0, 1]. */
  normal(n: number): Float64Array {
    const pairs = Math.ceil(n / 2);
    const w = this.bits(2 * pairs);
    const out = new Float64Array(2 * pairs);
    for (let i = 0; i < pairs; i++) {
      const u1 = ((w[2 * i] >>> 8) + 1) / 16777216;
      const u2 = (w[2 * i + 1] >>> 8) / 16777216;
      const r = Math.sqrt(-2 * Math.log(u1));
      out[2 * i] = r * Math.cos(2 * Math.PI * u2);
      out[2 * i + 1] = r * Math.sin(2 * Math.PI * u2);
    }
    return n === out.length ? out : out.subarray(0, n);
  }
}

/** The global generator used when no `generator` option is given. Seeded with 0 until `manualSeed`. */
export const defaultGenerator = new Generator(0);

/** Seeds the global generator. */
export function manualSeed(seed: number): void {
  defaultGenerator.manualSeed(seed);
}
