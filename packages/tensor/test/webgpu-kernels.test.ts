/**
 * The webgpu kernel machinery around the GEMMs: division by multiply-shift, every elementwise
 * layout (vec4 runs with partial tails, vec4 rows with broadcasts, strided views and outputs),
 * fills through the queue, the scatter path for indices broadcast along rows, gather, the fused
 * Adam step, and the dispatch counters and profiler. Each webgpu result is checked against the
 * cpu (or a float64 reference written here).
 */
import { describe, expect, it } from 'vitest';
import * as T from '../src/index.js';
import { divMagic, UDIV } from '../src/webgpu/prelude.js';
import { BACKENDS, expectClose, expectFlatMemory, seeded, seeded64, useDevices } from './helpers.js';

/** The WGSL udiv in exact integer arithmetic. */
function udivRef(n: number, [magic, s1, s2]: [number, number, number]): number {
  const t = Number((BigInt(magic) * BigInt(n)) >> 32n);
  return (t + ((n - t) >>> s1)) >>> s2;
}

const DIVISORS = [1, 2, 3, 5, 7, 10, 26, 255, 256, 641, 1000003, 2 ** 31 - 1, 2 ** 31, 2 ** 32 - 1];
const dividends = (d: number) => [0, 1, d - 1, d, d + 1, 2 * d - 1, 12345, 2 ** 24 + 1, 2 ** 31 - 1, 2 ** 31, 2 ** 32 - 1].filter((n) => n >= 0 && n < 2 ** 32);

useDevices();

describe('divMagic', () => {
  it('divides every u32 exactly (edge dividends, divisors from 1 to 2^32 - 1)', () => {
    for (const d of DIVISORS) {
      const m = divMagic(d);
      for (const n of dividends(d)) expect(udivRef(n, m), `${n} / ${d}`).toBe(Math.floor(n / d));
    }
    let s = 7;
    for (let i = 0; i < 20000; i++) {
      s = (s * 1103515245 + 12345) >>> 0;
      const d = (s % 5000) + 1;
      const n = (s * 2654435761) >>> 0;
      expect(udivRef(n, divMagic(d))).toBe(Math.floor(n / d));
    }
  });

  it('rejects divisors that are not u32 values >= 1', () => {
    expect(() => divMagic(0)).toThrow(/divMagic: expected a u32 divisor >= 1, received 0/);
    expect(() => divMagic(2.5)).toThrow(/received 2.5/);
  });
});

describe('adamStep_', () => {
  /** Adam / AdamW in float64, following torch.optim. */
  function reference(p: number[], grads: number[][], o: { lr: number; b1: number; b2: number; eps: number; wd: number; decoupled: boolean; amsgrad: boolean }) {
    const m = p.map(() => 0);
    const v = p.map(() => 0);
    const vmax = p.map(() => 0);
    grads.forEach((g0, s) => {
      const t = s + 1;
      for (let i = 0; i < p.length; i++) {
        let g = g0[i];
        if (!o.decoupled) g += o.wd * p[i];
        const base = o.decoupled ? p[i] * (1 - o.lr * o.wd) : p[i];
        m[i] = o.b1 * m[i] + (1 - o.b1) * g;
        v[i] = o.b2 * v[i] + (1 - o.b2) * g * g;
        vmax[i] = Math.max(vmax[i], v[i]);
        const second = o.amsgrad ? vmax[i] : v[i];
        p[i] = base - (o.lr / (1 - o.b1 ** t)) * m[i] / (Math.sqrt(second) / Math.sqrt(1 - o.b2 ** t) + o.eps);
      }
    });
    return { p, m, v };
  }

  const VARIANTS = [
    { wd: 0, decoupled: false, amsgrad: false },
    { wd: 0.1, decoupled: false, amsgrad: false },
    { wd: 0.1, decoupled: true, amsgrad: false },
    { wd: 0, decoupled: false, amsgrad: true },
  ];

  for (const device of BACKENDS) {
    for (const variant of VARIANTS) {
      it(`follows torch.optim.Adam${variant.decoupled ? 'W' : ''}${variant.amsgrad ? ' (amsgrad)' : ''}${variant.wd && !variant.decoupled ? ' (L2)' : ''} on ${device}, sizes with partial tails`, async () => {
        const dtype = device === 'cpu' ? 'float64' : 'float32';
        for (const n of [1, 7, 4099]) {
          const o = { lr: 0.01, b1: 0.9, b2: 0.999, eps: 1e-8, ...variant };
          const p0 = Array.from(seeded64(n, n));
          const grads = [1, 2, 3].map((s) => Array.from(seeded64(n, 100 * s + n)));
          const want = reference([...p0], grads, o);
          const p = T.tensor(p0, { dtype, device });
          const m = T.zeros([n], { dtype, device });
          const v = T.zeros([n], { dtype, device });
          const vmax = o.amsgrad ? T.zeros([n], { dtype, device }) : null;
          grads.forEach((g, s) => {
            const grad = T.tensor(g, { dtype, device });
            T.adamStep_(p, grad, m, v, { lr: o.lr, beta1: o.b1, beta2: o.b2, eps: o.eps, step: s + 1, weightDecay: o.wd, decoupled: o.decoupled, maxExpAvgSq: vmax });
            grad.dispose();
          });
          const tol = device === 'cpu' ? 1e-12 : 2e-6;
          await expectClose(p, want.p, { atol: tol, rtol: tol });
          await expectClose(m, want.m, { atol: tol, rtol: tol });
          await expectClose(v, want.v, { atol: tol, rtol: tol });
          T.dispose([p, m, v, ...(vmax ? [vmax] : [])]);
        }
      });
    }
  }

  if (BACKENDS.includes('cpu')) {
    /** The update written with elementwise ops, op for op as ops/optim.ts's fallback. */
    function elementwiseStep(p: T.Tensor, g0: T.Tensor, m: T.Tensor, v: T.Tensor, vmax: T.Tensor | null, o: { lr: number; b1: number; b2: number; eps: number; wd: number; decoupled: boolean }, step: number) {
      const bc1 = 1 - o.b1 ** step;
      const bc2 = 1 - o.b2 ** step;
      T.tidy(() => {
        const g = !o.decoupled && o.wd !== 0 ? T.add(g0, T.mul(p, o.wd)) : g0;
        const base = o.decoupled && o.wd !== 0 ? T.mul(p, 1 - o.lr * o.wd) : p;
        T.copy_(m, T.add(T.mul(m, o.b1), T.mul(g, 1 - o.b1)));
        T.copy_(v, T.add(T.mul(v, o.b2), T.mul(T.square(g), 1 - o.b2)));
        let second = v;
        if (vmax) {
          T.copy_(vmax, T.maximum(vmax, v));
          second = vmax;
        }
        const denom = T.add(T.div(T.sqrt(second), Math.sqrt(bc2)), o.eps);
        T.copy_(p, T.sub(base, T.mul(T.div(m, denom), o.lr / bc1)));
      });
    }

    for (const variant of VARIANTS) {
      for (const [n, threads] of [[70_001, 1], [70_001, 2], [1_001, 1]]) it(`the cpu kernel gives the bits of the elementwise form (float32${variant.decoupled ? ', AdamW' : ''}${variant.amsgrad ? ', amsgrad' : ''}${variant.wd && !variant.decoupled ? ', L2' : ''}), ${n} elements, ${threads} thread(s), strided grads and offset views`, async () => {
        const threadsBefore = T.getNumThreads();
        T.setNumThreads(threads); // 70,001: the WebAssembly kernel (heap arrays), odd; 1,001: the TypeScript loop
        const o = { lr: 0.003, b1: 0.85, b2: 0.997, eps: 1e-7, ...variant };
        const raw = Float32Array.from(seeded64(n + 3, 11));
        raw[5] = NaN; // a NaN gradient element propagates the same way
        const pBig = T.tensor(Float32Array.from(seeded64(n + 1, 7)));
        const pa = T.slice(pBig, 0, 1, n + 1); // a contiguous view at an offset
        const pb = T.zeros([n]);
        T.copy_(pb, pa);
        const state = () => [T.zeros([n]), T.zeros([n]), variant.amsgrad ? T.zeros([n]) : null] as const;
        const [ma, va, xa] = state();
        const [mb, vb, xb] = state();
        for (let s = 1; s <= 3; s++) {
          const g = T.tidy(() => T.flip(T.mul(T.slice(T.tensor(raw), 0, 0, n), s), [0])); // reversed strides
          T.adamStep_(pa, g, ma, va, { lr: o.lr, beta1: o.b1, beta2: o.b2, eps: o.eps, step: s, weightDecay: o.wd, decoupled: o.decoupled, maxExpAvgSq: xa });
          elementwiseStep(pb, g, mb, vb, xb, o, s);
          g.dispose();
        }
        for (const [a, b] of [[pa, pb], [ma, mb], [va, vb], ...(xa && xb ? [[xa, xb]] : [])] as [T.Tensor, T.Tensor][]) {
          const da = new Uint32Array((await a.data()).buffer as ArrayBuffer);
          const db = new Uint32Array((await b.data()).buffer as ArrayBuffer);
          const fa = new Float32Array(da.buffer);
          let differ = 0; // the same bits, or both NaN (x86 and JS may give NaNs of different signs)
          for (let i = 0; i < n; i++) if (da[i] !== db[i] && !(Number.isNaN(fa[i]) && Number.isNaN(new Float32Array(db.buffer)[i]))) differ++;
          expect(differ).toBe(0);
        }
        expect(Number.isNaN((await pa.data())[n - 1 - 5])).toBe(true);
        T.dispose([pBig, pa, pb, ma, va, mb, vb, ...(xa && xb ? [xa, xb] : [])]);
        T.setNumThreads(threadsBefore);
      });
    }
  }
});


if (BACKENDS.includes('webgpu')) {
  const gpu = () => T.webgpuBackend()!;

  /** The same computation on webgpu (float32) and cpu, compared elementwise. */
  async function same(f: (device: T.DeviceName) => T.Tensor, atol = 0): Promise<void> {
    const y = f('webgpu');
    const ref = f('cpu');
    await expectClose(y, ref, { atol, rtol: atol, dtype: ref.dtype });
    T.dispose([y, ref]);
  }
  const data = (shape: number[], seed: number, device: T.DeviceName) => T.tensor(seeded(shape.reduce((a, b) => a * b, 1), seed), { device, shape });

  describe('webgpu udiv', () => {
    it('matches integer division on the device', async () => {
      const pairs = DIVISORS.flatMap((d) => dividends(d).map((n) => [n, d] as const));
      const meta = new Uint32Array(pairs.flatMap(([n, d]) => [n, ...divMagic(d)]));
      const out = T.zeros([pairs.length], { dtype: 'uint32', device: 'webgpu' });
      gpu().dispatch({
        code: `@group(0) @binding(0) var<storage, read_write> O: array<u32>;
@group(0) @binding(1) var<storage, read> M: array<u32>;
${UDIV}
@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let i = gid.x;
  if (i >= ${pairs.length}u) { return; }
  O[i] = udiv(M[4u * i], M[4u * i + 1u], M[4u * i + 2u], M[4u * i + 3u]);
}`,
        buffers: [(out.storage as unknown as { buffer: GPUBuffer }).buffer],
        meta,
        threads: pairs.length,
      });
      expect(Array.from(await out.data())).toEqual(pairs.map(([n, d]) => Math.floor(n / d)));
      out.dispose();
    });
  });

  describe('webgpu elementwise layouts', () => {
    it('contiguous vec4 runs with every partial tail', async () => {
      for (const n of [1, 2, 3, 4, 5, 6, 7, 8, 9, 4099]) await same((d) => T.tidy(() => T.add(data([n], 1, d), data([n], 2, d))));
    });

    it('large jobs, several groups per invocation: every layout, partial tails, offsets', async () => {
      // 2^16 groups and up run 4 per invocation; each size leaves some invocations part-empty
      for (const n of [4 * 65_536 + 1, 4 * 65_536 + 7, 1_000_003]) await same((d) => T.tidy(() => T.add(data([n], 1, d), data([n], 2, d))));
      await same((d) => T.tidy(() => T.mul(T.narrow(data([300_011], 3, d), 0, 1, 300_007), T.narrow(data([300_011], 4, d), 0, 3, 300_007))));
      await same((d) => T.tidy(() => T.add(data([1_031, 260], 5, d), data([260], 6, d))));
      await same((d) => T.tidy(() => T.sub(T.transpose(data([413, 659], 7, d), 0, 1), data([659, 413], 8, d))));
      await same((d) => T.tidy(() => T.exp(T.neg(data([300_001], 9, d)))), 1e-6);
    });

    it('contiguous runs at offsets that are not a multiple of 4', async () => {
      await same((d) => T.tidy(() => T.mul(T.narrow(data([23], 3, d), 0, 1, 21), T.narrow(data([23], 4, d), 0, 2, 21))));
    });

    it('vec4 rows with broadcast rows, columns and scalars', async () => {
      await same((d) => T.tidy(() => T.add(data([6, 8], 5, d), data([8], 6, d))));
      await same((d) => T.tidy(() => T.mul(data([6, 8], 7, d), data([6, 1], 8, d))));
      await same((d) => T.tidy(() => T.where(T.gt(data([6, 1, 8], 9, d), 0), data([6, 4, 8], 10, d), 2.5)));
      await same((d) => T.tidy(() => T.relu(T.add(data([3, 5, 12], 11, d), data([5, 1], 12, d)))));
    });

    it('strided views: transposed, flipped, broadcast inner dims, rank 8', async () => {
      await same((d) => T.tidy(() => T.sub(T.transpose(data([7, 9], 13, d), 0, 1), data([9, 7], 14, d))));
      await same((d) => T.tidy(() => T.mul(T.flip(data([5, 6], 15, d), [0, 1]), data([5, 6], 16, d))));
      await same((d) => T.tidy(() => T.add(data([2, 1, 3, 1, 2, 1, 2, 3], 17, d), data([1, 2, 1, 3, 1, 2, 1, 1], 18, d))));
      await same((d) => T.tidy(() => T.contiguous(T.permute(data([4, 3, 5, 6], 19, d), [1, 0, 3, 2]))));
    });

    it('strided outputs (copy into a slice) and integer, boolean and cast results', async () => {
      await same((d) => T.tidy(() => {
        const z = T.zeros([6, 10], { device: d });
        T.narrow(z, 1, 3, 5).copy_(data([6, 5], 20, d));
        return z;
      }));
      await same((d) => T.tidy(() => T.gt(data([9, 4], 21, d), data([4], 22, d))));
      await same((d) => T.tidy(() => T.add(T.arange(0, 12, 1, { device: d }).reshape([3, 4]), T.arange(0, 4, 1, { device: d }))));
      await same((d) => T.tidy(() => T.cast(T.mul(data([5, 7], 23, d), 100), 'int32')));
    });
  });

  describe('webgpu elementwise fusion', () => {
    /** Runs `f` with fusion on and off; both must equal the cpu, and fusion must not add dispatches. */
    async function fused(f: (device: T.DeviceName) => T.Tensor | T.Tensor[], atol = 0): Promise<{ on: number; off: number }> {
      const counts = { on: 0, off: 0 };
      const ref = [f('cpu')].flat();
      for (const mode of ['on', 'off'] as const) {
        gpu().fuseElementwise = mode === 'on';
        try {
          await T.sync();
          T.resetWebgpuStats();
          const ys = [f('webgpu')].flat();
          await T.sync();
          counts[mode] = T.webgpuStats().dispatches;
          for (let k = 0; k < ys.length; k++) await expectClose(ys[k], ref[k], { atol, rtol: atol, dtype: ref[k].dtype });
          T.dispose(ys);
        } finally {
          gpu().fuseElementwise = true;
        }
      }
      T.dispose(ref);
      expect(counts.on).toBeLessThanOrEqual(counts.off);
      return counts;
    }

    it('runs a chain over one shape as one dispatch (bias add, relu, bool intermediates, casts, where)', async () => {
      const c1 = await fused((d) => T.tidy(() => T.relu(T.add(data([33, 16], 1, d), data([16], 2, d)))));
      expect(c1).toEqual({ on: 1, off: 2 });
      const c2 = await fused((d) => T.tidy(() => {
        const x = data([7, 9], 3, d);
        const mask = T.gt(x, 0.1);
        return T.where(mask, T.mul(T.cast(mask, 'float32'), T.exp(x)), T.neg(x));
      }), 1e-6);
      expect(c2.on).toBe(1);
      expect(c2.off).toBe(6);
      const c3 = await fused((d) => T.tidy(() => T.cast(T.add(T.mul(T.arange(0, 30, 1, { device: d, dtype: 'int32' }), 3), T.tensor(7, { dtype: 'int32', device: d })), 'float32')));
      expect(c3.on).toBe(1);
      // parameters per op (leakyRelu's slope, clamp's bounds) and strided inputs
      const c4 = await fused((d) => T.tidy(() => T.clamp(T.leakyRelu(T.transpose(data([5, 11], 4, d), 0, 1), 0.3), -0.2, 0.35)), 1e-6);
      expect(c4).toEqual({ on: 1, off: 2 });
    });

    it('keeps every result that is still alive, and skips writing freed ones', async () => {
      const c = await fused((d) => {
        const x = data([4, 6], 5, d);
        const a = T.add(x, 1);
        const b = T.mul(a, a);
        const tmp = T.sub(b, x);
        const e = T.exp(tmp);
        tmp.dispose();
        x.dispose();
        // takes a freed buffer from the pool only once the chain that reads it is dispatched
        const later = data([4, 6], 6, d);
        return [a, b, e, later];
      }, 1e-6);
      expect(c.on).toBe(1);
      // a result freed before anything submits is never computed
      const x = data([1000], 6, 'webgpu');
      await T.sync();
      T.resetWebgpuStats();
      T.tidy(() => {
        T.exp(T.add(x, 2));
      });
      T.tidy(() => {
        T.sigmoid(T.mul(x, x));
      });
      await T.sync();
      expect(T.webgpuStats().dispatches).toBe(0);
      x.dispose();
    });

    it('large chains: four groups per invocation, partial tails, offsets, row and strided layouts', async () => {
      for (const n of [4 * 65_536 + 3, 1_000_001]) await fused((d) => T.tidy(() => T.sqrt(T.add(T.abs(data([n], 7, d)), data([n], 8, d)))), 1e-6);
      await fused((d) => T.tidy(() => T.sub(T.mul(T.narrow(data([300_013], 9, d), 0, 3, 300_007), 2), T.narrow(data([300_013], 10, d), 0, 1, 300_007))));
      await fused((d) => T.tidy(() => T.relu(T.add(data([1_031, 260], 11, d), data([260], 12, d)))));
      await fused((d) => T.tidy(() => T.neg(T.sub(T.transpose(data([413, 659], 13, d), 0, 1), data([659, 413], 14, d)))));
    });

    it('splits chains at their length and binding limits', async () => {
      const c1 = await fused((d) => T.tidy(() => {
        let y = data([50], 15, d);
        for (let k = 0; k < 40; k++) y = k % 2 ? T.mul(y, 1.01) : T.add(y, 0.5);
        return y;
      }), 1e-5);
      expect(c1.on).toBeGreaterThanOrEqual(3);
      expect(c1.on).toBeLessThan(c1.off);
      const c2 = await fused((d) => T.tidy(() => {
        let y = data([64], 16, d);
        for (let k = 0; k < 20; k++) y = T.add(y, data([64], 100 + k, d));
        return y;
      }), 1e-5);
      expect(c2.on).toBeGreaterThan(1);
      expect(c2.on).toBeLessThan(c2.off);
    });

    it('keeps reads and writes in order around the chain', async () => {
      // an input overwritten in place after the chain read it
      const x = T.tensor([1, 2, 3, 4], { device: 'webgpu' });
      const y = T.mul(T.add(x, 1), 10);
      x.copy_(T.tensor([-1, -1, -1, -1], { device: 'webgpu' }));
      const z = T.add(x, y);
      expect(Array.from(await y.data())).toEqual([20, 30, 40, 50]);
      expect(Array.from(await z.data())).toEqual([19, 29, 39, 49]);
      // a chain result read through another view (not fused: a transposed operand), and between GEMMs
      const a = data([8, 8], 17, 'webgpu');
      const e = T.exp(a);
      const f = T.add(T.transpose(e, 0, 1), 1);
      const g = T.relu(T.matmul(f, e));
      const aCpu = data([8, 8], 17, 'cpu');
      const eCpu = T.exp(aCpu);
      await expectClose(g, T.relu(T.matmul(T.add(T.transpose(eCpu, 0, 1), 1), eCpu)), { atol: 1e-5, rtol: 1e-5 });
      // copy_ into a slice of a storage the chain reads
      const base = T.arange(0, 12, 1, { device: 'webgpu' });
      const sq = T.square(base);
      T.narrow(base, 0, 2, 4).copy_(T.zeros([4], { device: 'webgpu' }));
      expect(Array.from(await sq.data())).toEqual(Array.from({ length: 12 }, (_, i) => i * i));
      expect(Array.from(await base.data())).toEqual([0, 1, 0, 0, 0, 0, 6, 7, 8, 9, 10, 11]);
      T.dispose([x, y, z, a, e, f, g, aCpu, eCpu, base, sq]);
    });

    it('names fused kernels in the profiler', async () => {
      const g = gpu();
      const x = data([16, 16], 18, 'webgpu');
      g.startProfile();
      const y = T.relu(T.add(x, 1));
      const profile = await g.stopProfile();
      expect([...profile.keys()]).toContain('fused add+relu');
      T.dispose([x, y]);
    });

    it('keeps memory flat over training-like steps', async () => {
      const w = T.rand([32, 32], { device: 'webgpu' }).requiresGrad_();
      const x = data([16, 32], 19, 'webgpu');
      const step = () => T.tidy(() => T.sum(T.sigmoid(T.mul(T.add(T.matmul(x, w), 0.5), 2)))).dispose();
      // synchronous steps (no await, so no finalizers run in between): chains stay pending across them
      expectFlatMemory(step, 20);
      const loss = T.tidy(() => T.sum(T.sigmoid(T.mul(T.add(T.matmul(x, w), 0.5), 2))));
      const [xc, wc] = [await T.to(x, 'cpu'), await T.to(w, 'cpu')];
      const ref = T.tidy(() => T.sum(T.sigmoid(T.mul(T.add(T.matmul(xc, wc), 0.5), 2))));
      await expectClose(loss, ref, { atol: 1e-4, rtol: 1e-5 });
      T.dispose([w, x, loss, ref, xc, wc]);
    });
  });

  describe('webgpu reductions over strided rows', () => {
    it('reduces over dim 0 in place (columns), flipped and expanded views, every op, without a copy', async () => {
      const ops = [T.sum, T.prod, T.amax, T.amin, T.argmax, T.argmin, T.mean] as const;
      for (const [r, c] of [[128, 256], [300, 10], [5, 7], [1000, 300], [1000, 50]]) {
        for (const op of ops) await same((d) => T.tidy(() => op(T.mul(data([r, c], r + c, d), op === T.prod ? 0.01 : 1), { dim: 0 })), 1e-4);
      }
      await same((d) => T.tidy(() => T.sum(T.flip(data([40, 300], 3, d), [0, 1]), { dim: 0 })), 1e-5);
      await same((d) => T.tidy(() => T.sum(T.expand(data([1, 300], 4, d), [50, 300]), { dim: 0 })), 1e-5);
      await same((d) => T.tidy(() => T.amax(data([6, 20, 30], 5, d), { dim: [0, 1] })), 0);
      await same((d) => T.tidy(() => T.sum(data([6, 20, 30], 6, d), { dim: [0, 2] })), 1e-5);
      // few long rows (a workgroup per row): ties go to the first index, as in PyTorch
      const ties = (d: T.DeviceName) => T.tidy(() => {
        const v = new Float32Array(4 * 500);
        for (let r = 0; r < 4; r++) for (const at of [7 + r * 50, 300 + r, 499]) v[r * 500 + at] = 2;
        return T.tensor(v, { device: d, shape: [4, 500] });
      });
      for (const op of [T.argmax, T.argmin] as const) await same((d) => T.tidy(() => op(ties(d), { dim: 1 })));
      await same((d) => T.tidy(() => T.argmax(T.transpose(ties(d), 0, 1), { dim: 0 })));
      // reduced dims on both sides of a kept one: the trailing ones first, then the rest in place
      for (const op of [T.sum, T.amax, T.amin, T.mean, T.prod] as const) {
        await same((d) => T.tidy(() => op(T.add(T.mul(data([8, 5, 7, 9], 8, d), 0.05), 1), { dim: [0, 2, 3] })), 1e-5);
        await same((d) => T.tidy(() => op(T.add(T.mul(data([8, 5, 7, 9], 9, d), 0.05), 1), { dim: [0, 3], keepdim: true })), 1e-5);
      }
      await same((d) => T.tidy(() => T.sum(T.transpose(data([8, 5, 7, 9], 10, d), 1, 3), { dim: [0, 2, 3] })), 1e-5);
      await same((d) => T.tidy(() => T.all(T.gt(data([4, 3, 6], 11, d), 0.02), { dim: [0, 2] })));
      const conv = data([64, 32, 28, 28], 12, 'webgpu');
      await T.sync();
      T.resetWebgpuStats();
      const bias = T.sum(conv, { dim: [0, 2, 3] });
      await T.sync();
      expect(T.webgpuStats().dispatches).toBe(2); // two reductions, no permuted copy
      T.dispose([conv, bias]);
      // a [128, 256] column sum is one dispatch (no transposed copy first)
      const x = data([128, 256], 7, 'webgpu');
      await T.sync();
      T.resetWebgpuStats();
      const y = T.sum(x, { dim: 0 });
      await T.sync();
      expect(T.webgpuStats().dispatches).toBe(1);
      T.dispose([x, y]);
    });
  });

  describe('webgpu long-row reductions (two passes)', () => {
    it('sum, prod, max and min over rows of 70,000 match the cpu, NaN winning max and min', async () => {
      const [rows, n] = [3, 70000];
      const v = seeded(rows * n, 40);
      const withNaN = Float32Array.from(v, (x, i) => (i === n + 123 ? NaN : x));
      const near1 = Float32Array.from(v, (x) => 1 + x * 1e-4);
      for (const op of ['sum', 'amax', 'amin'] as const) {
        await same((d) => T.tidy(() => T[op](T.tensor(withNaN, { device: d, shape: [rows, n] }), { dim: 1 })), 1e-4);
      }
      // lavapipe's f32 products of 70,000 factors near 1 drift about 3e-4 from the float64 value (the
      // single-pass kernel as much), so prod gets a looser tolerance
      await same((d) => T.tidy(() => T.prod(T.tensor(near1, { device: d, shape: [rows, n] }), { dim: 1 })), 1e-3);
      await same((d) => T.tidy(() => T.sum(T.tensor(v, { device: d }))), 1e-4);
    });
  });

  describe('webgpu fills', () => {
    it('writes small fills through the queue and dispatches large ones', async () => {
      T.resetWebgpuStats();
      const small = T.full([1000], 2.5, { device: 'webgpu' });
      expect(T.webgpuStats().dispatches).toBe(0);
      const large = T.full([20000], -1, { device: 'webgpu' });
      await T.sync(); // a large fill waits in the elementwise chain until something submits
      expect(T.webgpuStats().dispatches).toBe(1);
      expect(new Set(await small.data())).toEqual(new Set([2.5]));
      expect(new Set(await large.data())).toEqual(new Set([-1]));
      T.dispose([small, large]);
    });

    it('keeps fills in order with dispatches recorded before them', async () => {
      const x = T.ones([16], { device: 'webgpu' });
      const y = T.mul(x, 3);
      const z = T.zeros([16], { device: 'webgpu' });
      const w = T.add(y, z);
      expect(Array.from(await w.data())).toEqual(new Array(16).fill(3));
      T.dispose([x, y, z, w]);
    });
  });

  describe('webgpu scatter and gather', () => {
    const REDUCES = ['sum', 'mean', 'prod', 'amax', 'amin'] as const;
    it('scatters with an index broadcast along rows (message passing), every reduction', async () => {
      const E = 37;
      const idx = Int32Array.from({ length: E }, (_, i) => (i * 7) % 11);
      for (const reduce of REDUCES) {
        for (const includeSelf of [true, false]) {
          await same((d) => T.tidy(() => {
            const index = T.expand(T.reshape(T.tensor(idx, { device: d }), [E, 1]), [E, 3]);
            return T.scatterReduce(data([12, 5], 24, d), 0, index, data([E, 4], 25, d), reduce, { includeSelf });
          }), 1e-5);
        }
      }
    });

    it('scatters rows 4 features at a time (sum, mean) from contiguous, row-strided and offset sources', async () => {
      const E = 41;
      const idx = Int32Array.from({ length: E }, (_, i) => (i * 5) % 13);
      for (const reduce of ['sum', 'mean'] as const) {
        for (const includeSelf of [true, false]) {
          // src: contiguous [E, 8]; columns 4..12 of [E, 12] (row stride 12, offset 4: still whole
          // vec4s); columns 1..9 (offset 1: the scalar kernel)
          const sources = [(d: T.DeviceName) => data([E, 8], 31, d), (d: T.DeviceName) => T.narrow(data([E, 12], 32, d), 1, 4, 8), (d: T.DeviceName) => T.narrow(data([E, 12], 33, d), 1, 1, 8)];
          for (const source of sources) {
            await same((d) => T.tidy(() => {
              const index = T.expand(T.reshape(T.tensor(idx, { device: d }), [E, 1]), [E, 8]);
              return T.scatterReduce(data([13, 8], 30, d), 0, index, source(d), reduce, { includeSelf });
            }), 1e-5);
          }
        }
      }
    });

    it('scatters along dim 1 with a broadcast index, and integer scatterAdd', async () => {
      const idx = Int32Array.from([2, 0, 2, 1, 3, 2]);
      await same((d) => T.tidy(() => {
        const index = T.expand(T.reshape(T.tensor(idx, { device: d }), [1, 6]), [4, 6]);
        return T.scatterAdd(data([4, 5], 26, d), 1, index, data([4, 6], 27, d));
      }), 1e-6);
      await same((d) => T.tidy(() => {
        const index = T.expand(T.reshape(T.tensor(idx, { device: d }), [6, 1]), [6, 2]);
        return T.scatterAdd(T.zeros([4, 2], { dtype: 'int32', device: d }), 0, index, T.ones([6, 2], { dtype: 'int32', device: d }));
      }));
    });

    it('groups a row-constant index once and reuses it until the index is written or freed', async () => {
      const held = gpu().derivedBytes();
      const E = 50;
      const ids = Int32Array.from({ length: E }, (_, i) => (i * 13) % 17);
      const idx = T.tensor(ids, { device: 'webgpu', dtype: 'int32' });
      const index = T.tidy(() => T.expand(T.reshape(idx, [E, 1]), [E, 4]));
      const src = data([E, 4], 30, 'webgpu');
      const base = T.zeros([17, 4], { device: 'webgpu' });
      const ref = async (keys: Int32Array) => {
        const s = await src.array() as number[][];
        const want = Array.from({ length: 17 }, () => [0, 0, 0, 0]);
        keys.forEach((k, e) => s[e].forEach((v, f) => (want[k][f] += v)));
        return want;
      };
      const count = async (f: () => T.Tensor) => {
        await T.sync();
        T.resetWebgpuStats();
        const y = f();
        await T.sync();
        return { y, dispatches: T.webgpuStats().dispatches };
      };
      const first = await count(() => T.scatterAdd(base, 0, index, src));
      const again = await count(() => T.scatterAdd(base, 0, index, src));
      const amax = await count(() => T.scatterReduce(base, 0, index, src, 'amax', { includeSelf: false }));
      expect(again.dispatches).toBeLessThan(first.dispatches);
      expect(amax.dispatches).toBe(again.dispatches);
      expect(gpu().derivedBytes()).toBeGreaterThan(held);
      await expectClose(first.y, await ref(ids), { atol: 1e-5 });
      await expectClose(again.y, await ref(ids), { atol: 1e-5 });
      // overwritten in place: grouped again
      const ids2 = Int32Array.from({ length: E }, (_, i) => (i * 5 + 3) % 17);
      T.tidy(() => {
        idx.copy_(T.tensor(ids2, { device: 'webgpu', dtype: 'int32' }));
      });
      const after = await count(() => T.scatterAdd(base, 0, index, src));
      expect(after.dispatches).toBe(first.dispatches);
      await expectClose(after.y, await ref(ids2), { atol: 1e-5 });
      T.dispose([first.y, again.y, amax.y, after.y, index, idx, src, base]);
      expect(gpu().derivedBytes()).toBe(held);
    });

    it('reports a bad row-constant index at every use, not only when it is first grouped', async () => {
      const bad = T.tidy(() => T.expand(T.reshape(T.tensor([0, 9, 1], { device: 'webgpu', dtype: 'int32' }), [3, 1]), [3, 4]));
      const src = T.ones([3, 4], { device: 'webgpu' });
      const base = T.zeros([2, 4], { device: 'webgpu' });
      for (let k = 0; k < 2; k++) await expect(T.scatterAdd(base, 0, bad, src).data()).rejects.toThrow(/scatterAdd: index 9 is out of range for a dimension of size 2/);
      T.dispose([bad, src, base]);
    });

    it('gathers rank-3 views', async () => {
      const idx = Int32Array.from({ length: 2 * 5 * 3 }, (_, i) => (i * 5) % 4);
      await same((d) => T.tidy(() => T.gather(T.permute(data([4, 2, 3], 28, d), [1, 0, 2]), 1, T.tensor(idx, { device: d, shape: [2, 5, 3] }))));
    });
  });

  describe('webgpu topkRows', () => {
    it('selects the head of the stable sort (ties, NaN, signed zeros; largest and smallest; k up to 64)', async () => {
      const [rows, n] = [37, 101];
      const raw = seeded(rows * n, 77);
      const vals = Float32Array.from(raw, (v, i) => (i % 17 === 0 ? NaN : i % 13 === 0 ? -0 : Math.round(v * 8) / 8));
      const x = T.tensor(vals, { device: 'webgpu', shape: [rows, n] });
      for (const largest of [true, false]) {
        const all = T.sort(x, { dim: 1, descending: largest });
        for (const k of [1, 5, 20, 64]) {
          const values = T.empty([rows, k], 'float32', 'webgpu');
          const indices = T.empty([rows, k], 'int32', 'webgpu');
          gpu().run('topkRows', [x], [values, indices], { rows, cols: n, k, largest });
          const head = (t: T.Tensor) => T.tidy(() => T.contiguous(T.narrow(t, 1, 0, k)));
          const [hv, hi] = [head(all.values), head(all.indices)];
          expect(Array.from(await indices.data())).toEqual(Array.from(await hi.data()));
          const show = (a: ArrayLike<number>) => Array.from(a, (v) => (Number.isNaN(v) ? 'NaN' : Object.is(v, -0) ? 0 : v));
          expect(show(await values.data())).toEqual(show(await hv.data()));
          T.dispose([values, indices, hv, hi]);
        }
        T.dispose([all.values, all.indices]);
      }
      x.dispose();
    });

    it('orders int32 keys and refuses k above its limit', async () => {
      const x = T.tensor(Int32Array.from([5, -3, 5, 7, -3, 0, 7, 2]), { device: 'webgpu', shape: [1, 8] });
      const values = T.empty([1, 3], 'int32', 'webgpu');
      const indices = T.empty([1, 3], 'int32', 'webgpu');
      gpu().run('topkRows', [x], [values, indices], { rows: 1, cols: 8, k: 3, largest: false });
      expect(Array.from(await values.data())).toEqual([-3, -3, 0]);
      expect(Array.from(await indices.data())).toEqual([1, 4, 5]);
      expect(() => gpu().run('topkRows', [x], [values, indices], { rows: 1, cols: 8, k: 65, largest: false })).toThrow(/topkRows: k = 65 exceeds the kernel's limit of 64/);
      T.dispose([x, values, indices]);
    });
  });

  describe('adamStep_ on webgpu', () => {
    it('updates a parameter at an odd offset from a non-contiguous gradient on webgpu as on the cpu', async () => {
      const run = async (device: T.DeviceName) => {
        const whole = data([3, 11], 30, device);
        const p = T.narrow(T.reshape(whole, [33]), 0, 1, 30);
        const g = T.reshape(T.contiguous(T.transpose(data([6, 5], 31, device), 0, 1)), [30]);
        const gt = T.reshape(T.transpose(T.reshape(g, [5, 6]), 0, 1), [30]);
        const m = T.zeros([30], { device });
        const v = T.zeros([30], { device });
        for (let s = 1; s <= 2; s++) T.adamStep_(p, T.flip(gt, [0]), m, v, { lr: 0.05, beta1: 0.8, beta2: 0.99, eps: 1e-6, step: s });
        const out = Array.from(await whole.data());
        T.dispose([whole, p, g, gt, m, v]);
        return out;
      };
      const [a, b] = [await run('webgpu'), await run('cpu')];
      a.forEach((x, i) => expect(Math.abs(x - b[i])).toBeLessThan(1e-6));
    });

    it('runs as one dispatch on webgpu', () => {
      const p = T.rand([1000], { device: 'webgpu' });
      const g = T.rand([1000], { device: 'webgpu' });
      const m = T.zeros([1000], { device: 'webgpu' });
      const v = T.zeros([1000], { device: 'webgpu' });
      T.resetWebgpuStats();
      T.adamStep_(p, g, m, v, { lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, step: 1 });
      expect(T.webgpuStats().dispatches).toBe(1);
      T.dispose([p, g, m, v]);
    });

    it('rejects mismatched state, bad options and shared storage', () => {
      const p = T.zeros([4], { device: 'webgpu' });
      const opts = { lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, step: 1 };
      expect(() => T.adamStep_(p, T.zeros([5], { device: 'webgpu' }), T.zeros([4], { device: 'webgpu' }), T.zeros([4], { device: 'webgpu' }), opts)).toThrow(/adamStep_: expected grad of the param's shape \[4\], received \[5\]/);
      expect(() => T.adamStep_(p, T.zeros([4], { device: 'webgpu' }), T.zeros([4], { device: 'webgpu' }), T.zeros([4], { device: 'webgpu', dtype: 'int32' }), opts)).toThrow(/expected expAvgSq of the param's float dtype float32, received int32/);
      expect(() => T.adamStep_(p, T.zeros([4], { device: 'webgpu' }), T.zeros([4], { device: 'webgpu' }), T.zeros([4], { device: 'webgpu' }), { ...opts, step: 0 })).toThrow(/expected step to be an integer >= 1, received 0/);
      expect(() => T.adamStep_(p, T.zeros([4], { device: 'webgpu' }), p, T.zeros([4], { device: 'webgpu' }), opts)).toThrow(/must not share storage/);
      expect(() => T.adamStep_(p, T.zeros([4], { device: 'cpu' }), T.zeros([4], { device: 'webgpu' }), T.zeros([4], { device: 'webgpu' }), opts)).toThrow(/adamStep_: expected all tensors on one device/);
      p.dispose();
    });
  });

  describe('webgpuStats and the profiler', () => {
    it('counts dispatches, submits and readbacks since the last reset', async () => {
      const x = T.rand([4096], { device: 'webgpu' });
      T.resetWebgpuStats();
      expect(T.webgpuStats()).toEqual({ dispatches: 0, submits: 0, readbacks: 0 });
      const y = T.exp(T.add(x, 1));
      const m = T.matmul(T.reshape(x, [64, 64]), T.reshape(x, [64, 64]));
      expect(T.webgpuStats().dispatches).toBeGreaterThanOrEqual(2); // the fused add+exp, then the GEMM
      await y.data();
      const s = T.webgpuStats();
      expect(s.readbacks).toBe(1);
      expect(s.submits).toBeGreaterThanOrEqual(1);
      T.dispose([x, y, m]);
    });

    it('times dispatches by kernel name', async () => {
      const g = gpu();
      const x = T.rand([64, 64], { device: 'webgpu' });
      g.startProfile({ shapes: true });
      const y = T.matmul(x, x);
      const z = T.relu(y);
      const profile = await g.stopProfile();
      const names = [...profile.keys()];
      expect(names.some((k) => k.startsWith('matmul [1,64,64] [1,64,64] [64,64]'))).toBe(true);
      expect(names.some((k) => k.startsWith('unary'))).toBe(true);
      for (const e of profile.values()) expect(e.ms).toBeGreaterThanOrEqual(0);
      T.dispose([x, y, z]);
    });
  });
}
