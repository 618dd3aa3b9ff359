import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import * as T from '../src/index.js';
import { cpuKernelInfo, getNumThreads, setNumThreads, tensor, type Tensor } from '../src/index.js';
import { philoxBlocks, philoxBlocksJs } from '../src/random/philox.js';
import { defaultThreads } from '../src/cpu/wasm/runtime.js';
import { seeded } from './helpers.js';

/**
 * The cpu backend's WebAssembly SIMD kernels (threads 1 and 2): float32 results against a float64
 * reference computed by the plain TypeScript loops (float64 never takes the wasm path), on sizes
 * that are not multiples of the micro-kernel's panels, strided and broadcast operands.
 */

const initialThreads = getNumThreads();
afterAll(() => setNumThreads(initialThreads));

/** Float64 copy of a float32 tensor (same values; float64 takes the plain TypeScript path). */
const ref64 = (x: Tensor): Tensor => T.cast(x, 'float64');

function expectNear(got: Tensor, want: Tensor, tol: number): void {
  const g = got.dataSync() as Float32Array;
  const w = want.dataSync() as Float64Array;
  expect(got.shape).toEqual(want.shape);
  expect(got.dtype).toBe('float32');
  let worst = 0;
  let scale = 1;
  for (let i = 0; i < w.length; i++) scale = Math.max(scale, Math.abs(w[i]));
  for (let i = 0; i < w.length; i++) worst = Math.max(worst, Math.abs(g[i] - w[i]));
  expect(worst / scale).toBeLessThan(tol);
}

describe('cpu WebAssembly kernels', () => {
  it('are in use on this machine (SIMD build; threads default to the cores)', () => {
    const info = cpuKernelInfo();
    expect(info.wasm).toBe(true);
    expect(info.threads).toBeGreaterThanOrEqual(1);
  });

  it('the committed kernels match their generator (scripts/build-wasm.mjs --check)', () => {
    const out = execFileSync(process.execPath, [fileURLToPath(new URL('../scripts/build-wasm.mjs', import.meta.url)), '--check'], { encoding: 'utf8' });
    expect(out).toMatch(/up to date/);
  });

  it('TESSERA_NUM_THREADS sets the default thread count; a bad value is refused by name', () => {
    expect(defaultThreads('3')).toBe(3);
    expect(defaultThreads('')).toBeGreaterThanOrEqual(1);
    for (const bad of ['0', '-2', '1.5', 'two']) expect(() => defaultThreads(bad)).toThrow(`TESSERA_NUM_THREADS: expected a positive integer, received '${bad}'`);
  });

  for (const threads of [1, 2]) {
    it(`Philox blocks from the WebAssembly kernel equal the TypeScript reference (${threads} thread(s))`, () => {
      setNumThreads(threads);
      // Keys with the top bit set, and a start that carries into the counter's high word.
      for (const [k0, k1, start] of [[0x9abcdef0, 0x12345678, 0], [7, 0xffffffff, 0xfffff000], [123, 456, 2 ** 40 + 5]]) {
        const n = 10_000;
        const fast = new Uint32Array(4 * n);
        const ref = new Uint32Array(4 * n);
        philoxBlocks(k0, k1, start, n, fast);
        philoxBlocksJs(k0, k1, start, n, ref);
        expect(fast).toEqual(ref);
      }
    });
  }

  it('setNumThreads rejects a non-positive or fractional count', () => {
    expect(() => setNumThreads(0)).toThrow(/setNumThreads: expected a positive integer, received 0/);
    expect(() => setNumThreads(1.5)).toThrow(/positive integer/);
  });

  for (const threads of [1, 2]) {
    describe(`matmul, ${threads} thread(s)`, () => {
      const shapes: [number, number, number][] = [
        [24, 24, 24], [25, 31, 37], [6, 8, 500], [7, 9, 1000], [61, 67, 59], [130, 17, 300], [1, 700, 64], [300, 1, 64],
        [2708, 16, 143], [97, 103, 257], [48, 256, 513],
      ];
      for (const [m, n, k] of shapes) {
        it(`${m}x${k} @ ${k}x${n}`, () => {
          setNumThreads(threads);
          const a = tensor(seeded(m * k, m + k), { shape: [m, k] });
          const b = tensor(seeded(k * n, n + 7), { shape: [k, n] });
          const y = T.matmul(a, b);
          const want = T.matmul(ref64(a), ref64(b));
          expectNear(y, want, 1e-5);
          T.dispose([a, b, y, want]);
        });
      }

      it('transposed and strided operands', () => {
        setNumThreads(threads);
        const [m, n, k] = [45, 38, 70];
        const aT = tensor(seeded(k * m, 5), { shape: [k, m] });
        const bT = tensor(seeded(n * k, 6), { shape: [n, k] });
        const big = tensor(seeded(m * 2 * k * 3, 8), { shape: [m * 2, k * 3] });
        // A view with steps: every other row, every third column.
        const a2 = T.slice(T.slice(big, 0, 0, 2 * m, 2), 1, 0, 3 * k, 3);
        expect(a2.shape).toEqual([m, k]);
        for (const [a, b] of [[T.transpose(aT, 0, 1), T.transpose(bT, 0, 1)], [a2, T.transpose(bT, 0, 1)]] as [Tensor, Tensor][]) {
          const y = T.matmul(a, b);
          const want = T.matmul(ref64(a), ref64(b));
          expectNear(y, want, 1e-5);
          T.dispose([y, want]);
        }
        T.dispose([aT, bT, big, a2]);
      });

      it('A read unpacked (few column panels): transposed and row-major A, odd rows, K over one block, batches', () => {
        setNumThreads(threads);
        // [k, m] transposed to [m, k]: rows adjacent (mode 1); a heap-sized and a small operand
        for (const [m, n, k] of [[1433, 64, 2708], [37, 16, 301], [5, 9, 600]] as [number, number, number][]) {
          const aT = tensor(seeded(k * m, m), { shape: [k, m] });
          const g = tensor(seeded(k * n, n), { shape: [k, n] });
          const a = T.transpose(aT, 0, 1);
          expectNear(T.matmul(a, g), T.matmul(ref64(a), ref64(g)), 1e-5);
          // row-major A with the same shapes (mode 2), and on a row-offset view
          const r = tensor(seeded(m * k, m + 1), { shape: [m, k] });
          const w = tensor(seeded(k * n, n + 1), { shape: [k, n] });
          expectNear(T.matmul(r, w), T.matmul(ref64(r), ref64(w)), 1e-5);
          if (m > 3) expectNear(T.matmul(T.narrow(r, 0, 1, m - 3), w), T.matmul(T.narrow(ref64(r), 0, 1, m - 3), ref64(w)), 1e-5);
        }
        // batched A in both layouts, and a broadcast (stride-0) A
        const a3 = tensor(seeded(3 * 301 * 47, 3), { shape: [3, 301, 47] });
        const w3 = tensor(seeded(3 * 301 * 20, 4), { shape: [3, 301, 20] });
        const aT3 = T.transpose(a3, 1, 2);
        expectNear(T.matmul(aT3, w3), T.matmul(ref64(aT3), ref64(w3)), 1e-5);
        const b3 = tensor(seeded(3 * 47 * 13, 5), { shape: [3, 47, 13] });
        expectNear(T.matmul(a3, b3), T.matmul(ref64(a3), ref64(b3)), 1e-5);
        const one = tensor(seeded(301 * 47, 6), { shape: [301, 47] });
        expectNear(T.matmul(one, b3), T.matmul(ref64(one), ref64(b3)), 1e-5);
      });

      it('few rows of A times a wide row-major B (run transposed, B read in place): Gᵀ X shapes, odd sizes, batches', () => {
        setNumThreads(threads);
        for (const [m, n, k] of [[64, 1433, 2708], [13, 517, 301], [3, 1000, 7], [61, 300, 259]] as [number, number, number][]) {
          const g = tensor(seeded(k * m, m + 2), { shape: [k, m] });
          const x = tensor(seeded(k * n, n + 2), { shape: [k, n] });
          const gT = T.transpose(g, 0, 1); // Gᵀ: rows of A adjacent
          expectNear(T.matmul(gT, x), T.matmul(ref64(gT), ref64(x)), 1e-5);
          const a = tensor(seeded(m * k, m + 3), { shape: [m, k] }); // row-major A
          expectNear(T.matmul(a, x), T.matmul(ref64(a), ref64(x)), 1e-5);
          // B a column slice of a wider matrix (row stride > n)
          const wide = tensor(seeded(k * (n + 9), n + 4), { shape: [k, n + 9] });
          const xs = T.narrow(wide, 1, 4, n);
          expectNear(T.matmul(a, xs), T.matmul(ref64(a), ref64(xs)), 1e-5);
        }
        // batched A with a broadcast B, and batched B
        const a3 = tensor(seeded(3 * 11 * 150, 7), { shape: [3, 11, 150] });
        const b2 = tensor(seeded(150 * 333, 8), { shape: [150, 333] });
        expectNear(T.matmul(a3, b2), T.matmul(ref64(a3), ref64(b2)), 1e-5);
        const b3 = tensor(seeded(3 * 150 * 333, 9), { shape: [3, 150, 333] });
        expectNear(T.matmul(a3, b3), T.matmul(ref64(a3), ref64(b3)), 1e-5);
      });

      it('outputs in the heap written in place by the micro-kernel: rows not a multiple of 4, K over two blocks, batches, empty K', () => {
        setNumThreads(threads);
        // >= 64 KiB outputs live in the WebAssembly heap; n a multiple of 8 lets the kernel write them directly
        for (const [batch, m, n, k] of [[1, 1027, 24, 700], [3, 203, 32, 300], [1, 2049, 8, 5], [2, 4097, 16, 1]] as [number, number, number, number][]) {
          const a = tensor(seeded(batch * m * k, m), { shape: [batch, m, k] });
          const b = tensor(seeded(batch * k * n, n), { shape: [batch, k, n] });
          const y = T.matmul(a, b);
          expectNear(y, T.matmul(ref64(a), ref64(b)), 1e-5);
          // a transposed A (read as columns) into the same kind of output
          const at = T.transpose(tensor(seeded(batch * m * k, m + 2), { shape: [batch, k, m] }), 1, 2);
          expectNear(T.matmul(at, b), T.matmul(ref64(at), ref64(b)), 1e-5);
        }
        const y0 = T.matmul(T.zeros([3000, 0]), T.zeros([0, 24]));
        expect(Array.from(y0.dataSync() as Float32Array).every((v) => v === 0)).toBe(true);
      });

      it('batched, with a broadcast operand (batch stride 0)', () => {
        setNumThreads(threads);
        const a = tensor(seeded(3 * 29 * 33, 9), { shape: [3, 29, 33] });
        const w = tensor(seeded(33 * 41, 10), { shape: [33, 41] });
        const y = T.matmul(a, w);
        const want = T.matmul(ref64(a), ref64(w));
        expectNear(y, want, 1e-5);
        const yb = T.matmul(T.transpose(w, 0, 1), T.transpose(a, 1, 2));
        const wantb = T.matmul(T.transpose(ref64(w), 0, 1), T.transpose(ref64(a), 1, 2));
        expectNear(yb, wantb, 1e-5);
        T.dispose([a, w, y, want, yb, wantb]);
      });

      const convCases: { name: string; x: number[]; w: number[]; opts: T.ConvOptions; bias: boolean }[] = [
        { name: 'plain 3x3', x: [5, 3, 17, 19], w: [8, 3, 3, 3], opts: {}, bias: true },
        // outputs in the heap with whole column panels (32 x 32 pixels): written in place by the gemm, bias added after
        { name: 'output written in place, with bias', x: [4, 3, 32, 32], w: [16, 3, 3, 3], opts: { padding: 1 }, bias: true },
        { name: 'output written in place, groups 2', x: [8, 4, 32, 32], w: [6, 2, 3, 3], opts: { padding: 1, groups: 2 }, bias: true },
        { name: 'an output in the WebAssembly heap (>= 64 KiB), with bias', x: [4, 3, 40, 40], w: [16, 3, 3, 3], opts: {}, bias: true },
        { name: 'stride 2, padding 1', x: [3, 4, 15, 16], w: [6, 4, 3, 3], opts: { stride: 2, padding: 1 }, bias: true },
        { name: 'dilation 2, asymmetric kernel', x: [2, 3, 20, 13], w: [7, 3, 3, 2], opts: { dilation: 2, padding: [1, 2] }, bias: false },
        { name: 'groups 2', x: [4, 6, 12, 12], w: [10, 3, 3, 3], opts: { groups: 2, padding: 1 }, bias: true },
        { name: 'one big kernel, tiny output (the weight-gradient shape)', x: [1, 64, 28, 28], w: [16, 64, 26, 26], opts: {}, bias: false },
        // kernels larger than the output take the transposed-im2col path: padding, stride, dilation, groups, a strided input
        { name: 'big kernel with padding 1 (the 3x3 weight gradient)', x: [2, 12, 28, 28], w: [6, 12, 28, 28], opts: { padding: 1 }, bias: true },
        { name: 'big kernel, stride 2, dilation 2, asymmetric padding', x: [2, 4, 23, 21], w: [5, 4, 9, 8], opts: { stride: 2, dilation: 2, padding: [3, 1] }, bias: false },
        { name: 'big kernel, groups 2', x: [3, 6, 14, 15], w: [4, 3, 12, 13], opts: { groups: 2, padding: [2, 1] }, bias: true },
        // convTranspose2d outputs in the heap: col2im on the WebAssembly kernel (stride, dilation, groups)
        { name: 'stride 2, dilation 2, groups 2, transposed output in the heap', x: [3, 6, 55, 53], w: [8, 3, 3, 3], opts: { stride: 2, dilation: 2, padding: [2, 1], groups: 2 }, bias: true },
        { name: 'stride [3, 2], asymmetric kernel, transposed output in the heap', x: [2, 5, 61, 70], w: [4, 5, 4, 3], opts: { stride: [3, 2], padding: [1, 0] }, bias: false },
      ];
      for (const c of convCases) {
        it(`conv2d and convTranspose2d: ${c.name}`, () => {
          setNumThreads(threads);
          const size = (s: number[]) => s.reduce((a, b) => a * b, 1);
          const x = tensor(seeded(size(c.x), 21), { shape: c.x });
          const w = tensor(seeded(size(c.w), 22), { shape: c.w });
          const b = c.bias ? tensor(seeded(c.w[0], 23), { shape: [c.w[0]] }) : null;
          const y = T.conv2d(x, w, b, c.opts);
          const want = T.conv2d(ref64(x), ref64(w), b && ref64(b), c.opts);
          expectNear(y, want, 1e-5);
          // The transposed conv maps y's shape back (the input gradient's shape).
          const groups = c.opts.groups ?? 1;
          const wt = tensor(seeded(c.w[0] * c.w[1] * c.w[2] * c.w[3], 24), { shape: [c.w[0], c.w[1], c.w[2], c.w[3]] });
          const topts = { stride: c.opts.stride, padding: c.opts.padding as number | [number, number] | undefined, dilation: c.opts.dilation, groups };
          const bt = c.bias ? tensor(seeded(c.w[1] * groups, 25), { shape: [c.w[1] * groups] }) : null;
          const z = T.convTranspose2d(y, wt, bt, topts);
          const wantZ = T.convTranspose2d(ref64(y), ref64(wt), bt && ref64(bt), topts);
          expectNear(z, wantZ, 1e-5);
          T.dispose([x, w, b, y, want, wt, bt, z, wantZ].filter((t): t is Tensor => t !== null));
        });
      }

      it('conv2d with weights read in place (an offset slice) and copied (a transposed view)', () => {
        setNumThreads(threads);
        const x = tensor(seeded(4 * 3 * 30 * 31, 26), { shape: [4, 3, 30, 31] });
        const big = tensor(seeded(12 * 3 * 3 * 3, 27), { shape: [12, 3, 3, 3] });
        for (const w of [T.narrow(big, 0, 3, 7), T.transpose(big, 2, 3)]) {
          expectNear(T.conv2d(x, w, null, { padding: 1 }), T.conv2d(ref64(x), ref64(w), null, { padding: 1 }), 1e-5);
          expectNear(T.conv2d(x, w, null, { groups: 1, stride: 2 }), T.conv2d(ref64(x), ref64(w), null, { stride: 2 }), 1e-5);
        }
        // kernels larger than the output, read per input channel: in place (a permuted output
        // gradient, as the weight gradient passes it) and copied (kernels transposed)
        const xb = tensor(seeded(2 * 40 * 20 * 20, 28), { shape: [2, 40, 20, 20] });
        const g = tensor(seeded(40 * 6 * 18 * 18, 29), { shape: [40, 6, 18, 18] });
        for (const wb of [T.permute(g, [1, 0, 2, 3]), T.transpose(T.permute(g, [1, 0, 2, 3]), 2, 3)]) {
          expectNear(T.conv2d(xb, wb, null, { padding: 1 }), T.conv2d(ref64(xb), ref64(wb), null, { padding: 1 }), 1e-5);
        }
      });

      it('an empty inner dimension gives zeros', () => {
        setNumThreads(threads);
        const a = T.zeros([40, 0]);
        const b = T.zeros([0, 50]);
        const y = T.matmul(a, b);
        expect(y.shape).toEqual([40, 50]);
        expect(Array.from(y.dataSync() as Float32Array).every((v) => v === 0)).toBe(true);
      });

      it('gives the same bits with 1 and 2 threads (each output is computed by one chunk in a fixed order)', () => {
        const a = tensor(seeded(200 * 300, 11), { shape: [200, 300] });
        const b = tensor(seeded(300 * 150, 12), { shape: [300, 150] });
        setNumThreads(1);
        const y1 = T.matmul(a, b);
        setNumThreads(threads);
        const y2 = T.matmul(a, b);
        expect(Array.from(y2.dataSync() as Float32Array)).toEqual(Array.from(y1.dataSync() as Float32Array));
      });
    });
  }

  for (const threads of [1, 2]) {
    describe(`elementwise and storage, ${threads} thread(s)`, () => {
      // Large enough for the heap and the kernel (>= 16,384 elements), not a multiple of 4 or of a chunk.
      const n = 3 * 32768 + 7;
      /** Values with NaN, ±0, ±Infinity and negatives mixed in. */
      const special = (seed: number) => {
        const v = seeded(n, seed);
        v[0] = NaN;
        v[1] = -0;
        v[2] = 0;
        v[3] = Infinity;
        v[4] = -Infinity;
        v[n - 1] = NaN;
        v[n - 2] = -0;
        return v;
      };
      /** got (float32) equals want (float64) rounded to float32, NaN where want is NaN, same sign of zero. */
      const expectExact = (got: Tensor, want: Tensor) => {
        expect(got.shape).toEqual(want.shape);
        const g = got.dataSync() as Float32Array;
        const w = Float32Array.from(want.dataSync() as Float64Array);
        const bad: number[] = [];
        for (let i = 0; i < w.length && bad.length < 5; i++) if (!Object.is(g[i], w[i])) bad.push(i);
        expect(bad.map((i) => [i, g[i], w[i]])).toEqual([]);
      };

      it('binary ops on whole tensors, with a scalar, and with a broadcast single value match the float64 reference', () => {
        setNumThreads(threads);
        const a = tensor(special(31), { shape: [n] });
        const b = tensor(special(32).reverse(), { shape: [n] });
        const one = tensor(Float32Array.of(-0.375), { shape: [1] });
        const ops: [string, (x: Tensor, y: Tensor | number) => Tensor][] = [
          ['add', T.add], ['sub', T.sub], ['mul', T.mul], ['div', T.div], ['maximum', T.maximum as never], ['minimum', T.minimum as never],
          ['reluBackward', T.reluBackward],
        ];
        for (const [name, f] of ops) {
          expectExact(f(a, b), f(ref64(a), ref64(b)));
          if (name !== 'maximum' && name !== 'minimum') expectExact(f(a, 2.5), f(ref64(a), 2.5));
          // a one-element tensor expanded: stride 0 on either side
          const wide = T.expand(one, [n]);
          expectExact(f(wide, a), f(ref64(wide), ref64(a)));
          expectExact(f(a, wide), f(ref64(a), ref64(wide)));
        }
      });

      it('unary ops and copies match the reference; strided views fall back to the loops with the same values', () => {
        setNumThreads(threads);
        const a = tensor(special(33), { shape: [n] });
        for (const f of [T.relu, T.neg, T.abs, T.sqrt]) expectExact(f(a), f(ref64(a)));
        const m = tensor(seeded(300 * 257, 34), { shape: [300, 257] });
        expectExact(T.contiguous(T.transpose(m, 0, 1)), T.contiguous(T.transpose(ref64(m), 0, 1)));
        expectExact(T.mul(T.transpose(m, 0, 1), 3), T.mul(T.transpose(ref64(m), 0, 1), 3));
        expectExact(T.add(m, T.reshape(T.arange(0, 257, 1), [1, 257])), T.add(ref64(m), T.reshape(T.arange(0, 257, 1, { dtype: 'float64' }), [1, 257])));
        // copy_ into a view, and an offset view as input
        const c = T.zeros([300, 257]);
        c.copy_(m);
        expectExact(c, ref64(m));
        const tail = T.narrow(m, 0, 100, 200);
        expectExact(T.sub(tail, 1), T.sub(T.narrow(ref64(m), 0, 100, 200), 1));
      });

      it('exp, sigmoid, silu, tanh, expm1, elu (float64 in the kernel) are within 1 ulp of the loops, nearly always equal; leakyRelu and clamp exact', () => {
        setNumThreads(threads);
        const v = special(35);
        // magnitudes from 1e-9 to 150 (exp's float32 overflow at 88.7, underflow near -103.9, the kernel's clamp at 120)
        for (let i = 5; i < n - 5; i++) v[i] *= [1e-9, 1e-4, 2e-3, 0.5, 4, 30, 95, 150][i % 8];
        v.set([88.72, 88.73, -87.33, -103.97, -104, 119.9, 120.1, -120.1, 1e30, -1e30, 1e-38, -1e-40, 9.9e-4, -9.9e-4, 1.01e-3, 9.9e-5, 1.01e-4], 5);
        const a = tensor(v, { shape: [n] });
        const a64 = ref64(a);
        const ulps = (x: number, y: number): number => {
          if (Object.is(x, y) || (x !== x && y !== y)) return 0;
          if (x !== x || y !== y) return Infinity;
          const key = (f: number) => {
            const b = new Int32Array(Float32Array.of(f).buffer)[0];
            return b < 0 ? -(b & 0x7fffffff) - 1 : b; // -0 one step below +0
          };
          return Math.abs(key(x) - key(y));
        };
        const approx: [string, (t: Tensor) => Tensor][] = [
          ['exp', T.exp], ['sigmoid', T.sigmoid], ['silu', T.silu], ['tanh', T.tanh], ['expm1', T.expm1], ['elu', (t) => T.elu(t, 1.7)],
        ];
        const m = T.narrow(tensor(v.subarray(0, 300 * 280), { shape: [300, 280] }), 1, 9, 263); // rows 280 apart: the row kernel
        for (const [name, f] of approx) {
          for (const [x, x64] of [[a, a64], [m, ref64(m)]]) {
            const g = f(x).dataSync();
            const w = f(x64).dataSync();
            let worst = 0;
            let differ = 0;
            for (let i = 0; i < w.length; i++) {
              const u = ulps(g[i], Math.fround(w[i]));
              worst = Math.max(worst, u);
              if (u) differ++;
            }
            expect({ name, worst }).toEqual({ name, worst: worst <= 1 ? worst : 'more than 1 ulp' });
            expect(differ).toBeLessThanOrEqual(w.length * 1e-4);
          }
        }
        for (const f of [(t: Tensor) => T.leakyRelu(t, 0.2), (t: Tensor) => T.clamp(t, -0.1, 0.3), (t: Tensor) => T.clamp(t, 2)]) {
          expectExact(f(a), f(a64));
          expectExact(f(m), f(ref64(m)));
        }
      });

      it('2-D jobs (row and column broadcasts, strided rows, special values) match the float64 reference', () => {
        setNumThreads(threads);
        const R = 301;
        const C = 263; // odd: vector body and scalar tail in every row
        const m = tensor(special(61).subarray(0, R * C), { shape: [R, C] });
        const wide = tensor(special(62).subarray(0, R * (C + 40)), { shape: [R, C + 40] });
        const bias = tensor(seeded(C, 63), { shape: [C] }); // outside the memory: copied to scratch
        const bigRow = T.contiguous(T.expand(T.reshape(tensor(seeded(C, 64), { shape: [C] }), [1, C]), [200, C])); // in the memory
        const col = tensor(seeded(R, 65), { shape: [R, 1] });
        const colHeap = tensor(seeded(R * 60, 66), { shape: [R, 60] }); // column 7 of it: a strided column in the memory
        const short = tensor(special(67).subarray(0, 5000 * 7), { shape: [5000, 7] });
        const perRow = tensor(seeded(5000, 68), { shape: [5000, 1] });
        const msgs = tensor(special(69).subarray(0, 500 * 8 * 8), { shape: [500, 8, 8] });
        const alpha = tensor(seeded(500 * 8, 70), { shape: [500, 8, 1] });
        const colsB = tensor(seeded(3 * 257, 71), { shape: [3, 257, 1] });
        const rowsB = tensor(special(72).subarray(0, 3 * 263), { shape: [3, 1, 263] });
        const big = (count: number, seed: number) => {
          const v = seeded(count, seed);
          v.set(special(seed).subarray(0, 5), 0);
          v.set(special(seed).subarray(0, 5), count - 5);
          return v;
        };
        const cube = tensor(big(3 * 257 * 263, 73), { shape: [3, 257, 263] });
        const cubeWide = tensor(big(3 * 257 * 280, 74), { shape: [3, 257, 280] });
        const cases: [Tensor, Tensor][] = [];
        for (const f of [T.add, T.sub, T.mul, T.div, T.maximum as (a: Tensor, b: Tensor) => Tensor, T.reluBackward]) {
          cases.push([f(m, bias), f(ref64(m), ref64(bias))]); // a bias: row broadcast
          cases.push([f(bias, m), f(ref64(bias), ref64(m))]);
          cases.push([f(m, col), f(ref64(m), ref64(col))]); // one value per row
          cases.push([f(col, m), f(ref64(col), ref64(m))]);
          const c7 = T.narrow(colHeap, 1, 7, 1);
          cases.push([f(m, c7), f(ref64(m), T.narrow(ref64(colHeap), 1, 7, 1))]);
          const cut = T.narrow(wide, 1, 13, C); // rows C long, R rows C + 40 apart
          cases.push([f(cut, m), f(T.narrow(ref64(wide), 1, 13, C), ref64(m))]);
          cases.push([f(T.narrow(bigRow, 0, 0, 1), T.narrow(m, 0, 0, 200)), f(T.narrow(ref64(bigRow), 0, 0, 1), T.narrow(ref64(m), 0, 0, 200))]);
          // short rows: [E, heads, C] messages times [E, heads, 1] attention (rows of 7 and 8)
          cases.push([f(short, perRow), f(ref64(short), ref64(perRow))]);
          cases.push([f(msgs, alpha), f(ref64(msgs), ref64(alpha))]);
          // rank 3 after merging (one 2-D job per outer index): [B, N, 1] with [B, 1, M], and a [B, N, M] slice
          cases.push([f(colsB, rowsB), f(ref64(colsB), ref64(rowsB))]);
          cases.push([f(cube, T.narrow(rowsB, 0, 1, 1)), f(ref64(cube), T.narrow(ref64(rowsB), 0, 1, 1))]);
          cases.push([f(T.narrow(cubeWide, 2, 5, 263), colsB), f(T.narrow(ref64(cubeWide), 2, 5, 263), ref64(colsB))]);
        }
        for (const f of [T.relu, T.neg, T.abs, T.sqrt]) {
          const cut = T.narrow(wide, 1, 3, C);
          cases.push([f(cut), f(T.narrow(ref64(wide), 1, 3, C))]);
        }
        for (const [got, want] of cases) expectExact(got, want);
      });

      it('spmm (the CSR kernel): duplicates, empty rows, k with and without a tail, strided dense rows; same bits at 1 and 2 threads', () => {
        const n = 3001;
        const m = 2503;
        const nnz = 20_011;
        // rows drawn from the first 2/3 only: the last third of the rows is empty
        const rows = Int32Array.from(seeded(nnz, 71), (v) => Math.floor(((v + 1) / 3) * n) % n);
        const cols = Int32Array.from(seeded(nnz, 72), (v) => Math.floor(((v + 1) / 2) * m) % m);
        rows.set(rows.subarray(0, 50), 100); cols.set(cols.subarray(0, 50), 100); // repeated coordinates
        const idx = new Int32Array(2 * nnz);
        idx.set(rows);
        idx.set(cols, nnz);
        const vals = seeded(nnz, 73);
        const a = T.sparseCooTensor(tensor(idx, { dtype: 'int32', shape: [2, nnz] }), tensor(vals, { shape: [nnz] }), [n, m]);
        const a64 = T.sparseCooTensor(tensor(idx, { dtype: 'int32', shape: [2, nnz] }), tensor(Float64Array.from(vals), { dtype: 'float64', shape: [nnz] }), [n, m]);
        const wide = tensor(seeded(m * 40, 74), { shape: [m, 40] });
        for (const d of [tensor(seeded(m * 19, 75), { shape: [m, 19] }), tensor(seeded(m * 3, 76), { shape: [m, 3] }), T.narrow(wide, 1, 5, 24)]) {
          setNumThreads(1);
          const one = T.spmm(a, d);
          setNumThreads(threads);
          const many = T.spmm(a, d);
          expectNear(many, T.spmm(a64, ref64(d)), 1e-5);
          expect(Array.from(many.dataSync())).toEqual(Array.from(one.dataSync()));
          const lastRows = many.dataSync().subarray(Math.ceil((2 * n) / 3 + 2) * d.shape[1]);
          expect(lastRows.every((v) => v === 0)).toBe(true);
        }
        a.dispose();
        a64.dispose();
      });

      it('row gathers (indexSelect / gather on dim 0 with a row-constant index) copy exactly: strided index, offset and narrowed x', () => {
        setNumThreads(threads);
        const N = 3001;
        const E = 4099;
        const wide = tensor(seeded(N * 40, 81), { shape: [N, 40] });
        const idx = tensor(Int32Array.from(seeded(E, 82), (v) => Math.floor(((v + 1) / 2) * N) % N), { dtype: 'int32', shape: [E] });
        const pairs = T.stack([idx, T.flip(idx, [0])], 1); // [E, 2]: column 0 has stride 2
        const strided = T.select(pairs, 1, 0);
        for (const x of [T.narrow(wide, 1, 0, 37), T.narrow(wide, 0, 9, 2900), T.narrow(wide, 1, 3, 8)]) {
          const x64 = ref64(x);
          const cases: [Tensor, Tensor][] = [
            [T.indexSelect(x, 0, T.remainder(idx, x.shape[0])), T.indexSelect(x64, 0, T.remainder(idx, x.shape[0]))],
            [T.indexSelect(x, 0, T.remainder(strided, x.shape[0])), T.indexSelect(x64, 0, T.remainder(strided, x.shape[0]))],
            [T.gather(x, 0, T.expand(T.reshape(T.remainder(idx, x.shape[0]), [E, 1]), [E, x.shape[1]])), T.gather(x64, 0, T.expand(T.reshape(T.remainder(idx, x.shape[0]), [E, 1]), [E, x.shape[1]]))],
          ];
          for (const [got, want] of cases) {
            expect(got.shape).toEqual(want.shape);
            expect(Array.from(got.dataSync())).toEqual(Array.from(want.dataSync()));
          }
        }
      });

      it('row scatter-adds (scatterAdd on dim 0 with a row-constant index) match float64 and give the same bits at 1 and 2 threads', () => {
        const N = 3001;
        const E = 20_011;
        const idx = tensor(Int32Array.from(seeded(E, 83), (v) => Math.floor(((v + 1) / 3) * N) % N), { dtype: 'int32', shape: [E, 1] });
        const wide = tensor(seeded(E * 70, 84), { shape: [E, 70] });
        for (const F of [64, 37, 5]) {
          const src = T.narrow(wide, 1, 70 - F, F); // rows 70 floats apart
          const base = tensor(seeded(N * F, 85 + F), { shape: [N, F] });
          const index = T.expand(idx, [E, F]);
          setNumThreads(1);
          const one = T.scatterAdd(base, 0, index, src);
          setNumThreads(threads);
          const many = T.scatterAdd(base, 0, index, src);
          expectNear(many, T.scatterAdd(ref64(base), 0, index, ref64(src)), 1e-5);
          expect(Array.from(many.dataSync())).toEqual(Array.from(one.dataSync()));
          // rows no index names keep the input
          const hit = new Set(idx.dataSync());
          const miss = [...Array(N).keys()].find((r) => !hit.has(r))!;
          expect(Array.from(many.dataSync().subarray(miss * F, miss * F + F))).toEqual(Array.from(base.dataSync().subarray(miss * F, miss * F + F)));
        }
      });

      it('topk (the selection kernel) equals the stable sort: ties, NaN, signed zeros and infinities, both directions, dim 0 too', () => {
        setNumThreads(threads);
        const rows = 333;
        const cols = 1031;
        const v = Float32Array.from(seeded(rows * cols, 86), (s) => Math.round(s * 8) / 8); // many ties
        for (let i = 0; i < v.length; i += 97) v[i] = NaN;
        for (let i = 5; i < v.length; i += 89) v[i] = i % 2 ? -0 : 0;
        for (let i = 11; i < v.length; i += 293) v[i] = i % 2 ? Infinity : -Infinity;
        const x = tensor(v, { shape: [rows, cols] });
        const x64 = ref64(x);
        for (const k of [1, 7, 20, 257]) {
          for (const largest of [false, true]) {
            const got = T.topk(x, k, { dim: -1, largest });
            const want = T.topk(x64, k, { dim: -1, largest });
            expect(Array.from(got.indices.dataSync())).toEqual(Array.from(want.indices.dataSync()));
            expect(Array.from(got.values.dataSync())).toEqual(Array.from(want.values.dataSync()));
          }
        }
        const t = T.transpose(x, 0, 1); // dim 0 of a [cols, rows] view: rows made contiguous first
        const got = T.topk(t, 20, { dim: 0, largest: false });
        const want = T.topk(T.transpose(x64, 0, 1), 20, { dim: 0, largest: false });
        expect(Array.from(got.indices.dataSync())).toEqual(Array.from(want.indices.dataSync()));
        expect(Array.from(got.values.dataSync())).toEqual(Array.from(want.values.dataSync()));
      });

      it('segment sum / mean / max / min (the segment kernel) round the float64 result once: empty segments, NaN, odd features', () => {
        setNumThreads(threads);
        const E = 9001;
        const S = 1201;
        // sorted segment ids with gaps (empty segments) and one long segment
        const ids = Int32Array.from(seeded(E, 91), (v) => Math.floor(((v + 1) / 2) * S) % S).sort();
        ids.fill(500, 2000, 4000);
        const index = tensor(ids, { dtype: 'int32', shape: [E] });
        for (const F of [1, 6, 33]) {
          const v = Float32Array.from(seeded(E * F, 92 + F), (x) => Math.round(x * 16) / 16); // ties for max / min
          v[17 * F] = NaN;
          const src = tensor(v, { shape: [E, F] });
          const src64 = ref64(src);
          const rounded = (t: Tensor) => Array.from(t.dataSync(), (x) => Math.fround(x));
          expect(Array.from(T.segmentSum(src, index, S).dataSync())).toEqual(rounded(T.segmentSum(src64, index, S)));
          expect(Array.from(T.segmentMean(src, index, S).dataSync())).toEqual(rounded(T.segmentMean(src64, index, S)));
          for (const f of [T.segmentMax, T.segmentMin]) {
            const got = f(src, index, S);
            const want = f(src64, index, S);
            expect(Array.from(got.values.dataSync())).toEqual(rounded(want.values));
            expect(Array.from(got.argIndices.dataSync())).toEqual(Array.from(want.argIndices.dataSync()));
          }
        }
      });

      it('cdist (p = 2, 1, inf, 0) rounds the float64 result once: batches, odd columns, repeated points', () => {
        setNumThreads(threads);
        const a = tensor(Float32Array.from(seeded(3 * 301 * 5, 95), (x) => Math.round(x * 4) / 4), { shape: [3, 301, 5] });
        const b = tensor(Float32Array.from(seeded(3 * 257 * 5, 96), (x) => Math.round(x * 4) / 4), { shape: [3, 257, 5] });
        const withNaN = seeded(2 * 400 * 3, 97);
        withNaN[3 * 17 + 1] = NaN; // point 17 of cloud 0
        const pts = tensor(withNaN, { shape: [2, 400, 3] });
        for (const p of [2, 1, Infinity, 0]) {
          for (const [x, y] of [[a, b], [pts, pts], [T.narrow(a, 1, 7, 200), b]]) {
            const got = T.cdist(x, y, { p });
            const want = T.cdist(ref64(x), ref64(y), { p });
            expect(got.shape).toEqual(want.shape);
            expect(Array.from(got.dataSync())).toEqual(Array.from(want.dataSync(), (v) => Math.fround(v)));
          }
        }
      });

      it('sums of long rows (the reduction kernel) match float64 and give the same bits at 1 and 2 threads', () => {
        const long = tensor(seeded(3 * 70_001, 41), { shape: [3, 70_001] });
        const rows = tensor(seeded(200 * 1500, 42), { shape: [200, 1500] });
        const tall = tensor(seeded(5000 * 64, 45), { shape: [5000, 64] });
        const nchw = tensor(seeded(9 * 5 * 27 * 29, 43), { shape: [9, 5, 27, 29] });
        const ncl = tensor(seeded(7 * 11 * 333, 44), { shape: [7, 11, 333] });
        const cases: [string, () => Tensor, () => Tensor][] = [
          ['all of a long tensor', () => T.sum(long), () => T.sum(ref64(long))],
          ['rows spanning several blocks', () => T.sum(long, { dim: 1 }), () => T.sum(ref64(long), { dim: 1 })],
          ['many rows', () => T.sum(rows, { dim: -1, keepdim: true }), () => T.sum(ref64(rows), { dim: -1, keepdim: true })],
          ['mean over rows', () => T.mean(rows, { dim: 1 }), () => T.mean(ref64(rows), { dim: 1 })],
          ['a narrowed view (row stride > row length)', () => T.sum(T.narrow(rows, 1, 100, 1200), { dim: 1 }), () => T.sum(T.narrow(ref64(rows), 1, 100, 1200), { dim: 1 })],
          ['columns (the column-sum kernel: 8 per chunk and a tail of 4)', () => T.sum(rows, { dim: 0 }), () => T.sum(ref64(rows), { dim: 0 })],
          ['columns of a narrowed view (row stride > columns), keepdim', () => T.sum(T.narrow(rows, 1, 3, 701), { dim: 0, keepdim: true }), () => T.sum(T.narrow(ref64(rows), 1, 3, 701), { dim: 0, keepdim: true })],
          ['the mean of 64 columns over 5,000 rows (batch norm)', () => T.mean(tall, { dim: 0 }), () => T.mean(ref64(tall), { dim: 0 })],
          ['over dims [0, 2, 3] of [N, C, H, W] (two strided runs per output)', () => T.sum(nchw, { dim: [0, 2, 3] }), () => T.sum(ref64(nchw), { dim: [0, 2, 3] })],
          ['over dims [0, 2] of a narrowed [N, C, L]', () => T.sum(T.narrow(ncl, 2, 5, 300), { dim: [0, 2] }), () => T.sum(T.narrow(ref64(ncl), 2, 5, 300), { dim: [0, 2] })],
        ];
        for (const [, got, want] of cases) {
          setNumThreads(1);
          const one = got();
          setNumThreads(threads);
          const many = got();
          expectNear(many, want(), 1e-6);
          expect(Array.from(many.dataSync())).toEqual(Array.from(one.dataSync()));
        }
      });

      it('back-to-back jobs of different sizes never mix (the publish protocol of the thread pool)', () => {
        setNumThreads(threads);
        // Alternate one-chunk and many-chunk jobs of two different kernels; a worker that claimed a
        // chunk of a new job with the previous job's claim word would corrupt a result.
        const small = tensor(seeded(16_400, 51), { shape: [16_400] });
        const big = tensor(seeded(400_000, 52), { shape: [400_000] });
        const wantSmall = Array.from((T.mul(ref64(small), 3).dataSync() as Float64Array).map(Math.fround));
        const wantBig = T.sum(ref64(big)).dataSync()[0];
        for (let i = 0; i < 400; i++) {
          const y = T.mul(small, 3);
          const s = T.sum(big);
          expect(Math.abs(s.dataSync()[0] - wantBig)).toBeLessThan(1e-3 * Math.abs(wantBig) + 1e-3);
          if (i % 50 === 0) expect(Array.from(y.dataSync())).toEqual(wantSmall);
          T.dispose([y, s]);
        }
      });

      it('storages of freed tensors are reused (zeros() of a reused one is all zeros), and memory() counts them once', () => {
        setNumThreads(threads);
        const before = T.memory();
        for (let i = 0; i < 5; i++) {
          const x = T.tidy(() => T.add(T.ones([n]), 1));
          expect(Array.from(x.dataSync().subarray(0, 3))).toEqual([2, 2, 2]);
          x.dispose();
          const z = T.zeros([n]);
          const d = z.dataSync() as Float32Array;
          expect(d.every((v) => v === 0)).toBe(true);
          z.dispose();
        }
        const after = T.memory();
        expect(after.tensors).toBe(before.tensors);
        expect(after.bytes).toBe(before.bytes);
      });
    });
  }
});
