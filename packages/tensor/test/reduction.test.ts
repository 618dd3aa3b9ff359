import { describe, expect, it } from 'vitest';
import * as T from '../src/index.js';
import { amax, arange, argmax, argmin, cumsum, full, logSoftmax, max, mean, min, reshape, softmax, sum, tensor, tidy, type Tensor } from '../src/index.js';
import { casesOf, expectStrided, relayout, type Layout } from './core.js';
import { expectClose, fixtureValues, forEachBackend, fromFixture, seeded, type FixtureCase } from './helpers.js';

const REDUCTIONS = ['sum', 'mean', 'prod', 'amax', 'amin', 'max', 'min', 'argmax', 'argmin', 'var', 'std', 'logsumexp', 'norm', 'all', 'any', 'cumsum', 'cumprod', 'softmax', 'logSoftmax'];
const fns = T as unknown as Record<string, (...args: unknown[]) => Tensor>;

/** Runs a golden case's op; max/min with a dim give [values, indices]. */
function call(c: FixtureCase, x: Tensor): Tensor[] {
  const p = c.params ?? {};
  const dim = p.dim as number | number[] | undefined;
  const keepdim = p.keepdim as boolean | undefined;
  switch (c.op) {
    case 'max':
    case 'min': {
      if (dim === undefined) return [fns[c.op](x)];
      const r = (c.op === 'max' ? max : min)(x, { dim: dim as number, keepdim });
      return [r.values, r.indices];
    }
    case 'var':
      return [T.variance(x, { dim, keepdim, correction: p.correction as number })];
    case 'std':
      return [T.std(x, { dim, keepdim, correction: p.correction as number })];
    case 'norm':
      return [T.norm(x, { dim, keepdim, p: p.p === 'inf' ? Infinity : (p.p as number | 'fro' | undefined) })];
    case 'cumsum':
    case 'cumprod':
    case 'softmax':
    case 'logSoftmax':
      return [fns[c.op](x, dim)];
    default:
      return [fns[c.op](x, { dim, keepdim })];
  }
}

forEachBackend('reductions (golden values)', (device) => {
  const cases = casesOf(...REDUCTIONS);
  it('covers every reduction', () => {
    for (const op of REDUCTIONS) expect(cases.some((c) => c.op === op), op).toBe(true);
  });
  for (const c of cases) {
    for (const layout of ['contiguous', 'transposed', 'flipped'] as Layout[]) {
      it(`${c.op}: ${c.name} (${layout})`, async () => {
        const x0 = fromFixture(c.inputs[0], device);
        const x = relayout(x0, layout);
        if (layout === 'flipped' || (layout === 'transposed' && x.shape.filter((d) => d > 1).length > 1)) expectStrided(x);
        const out = call(c, x);
        expect(out.length).toBe(c.expected.length);
        for (let k = 0; k < out.length; k++) {
          const e = c.expected[k];
          await expectClose(out[k], fixtureValues(e), { shape: e.shape, dtype: e.dtype, atol: 1e-5, rtol: 2e-5 });
        }
        expect(x0.isDisposed).toBe(false);
        T.dispose([x0, x, out]);
      });
    }
  }
});

forEachBackend('reductions: large inputs', (device) => {
  it('reduces more than 65,535 rows (per-row kernels wrap into the second grid dim)', async () => {
    const rows = 70_000;
    const x = reshape(arange(0, rows * 3, 1, { device, dtype: 'float32' }), [rows, 3]);
    const s = sum(x, { dim: 1 });
    const m = max(x, { dim: -1 });
    const cs = cumsum(x, 1);
    const [sv, mv, mi, csv] = await Promise.all([s, m.values, m.indices, cs].map((t) => t.data()));
    for (const r of [0, 1, 65_534, 65_535, 65_536, rows - 1]) {
      expect(sv[r], `sum row ${r}`).toBe(9 * r + 3);
      expect(mv[r], `max row ${r}`).toBe(3 * r + 2);
      expect(mi[r], `argmax row ${r}`).toBe(2);
      expect(csv[3 * r + 2], `cumsum row ${r}`).toBe(9 * r + 3);
    }
    T.dispose([x, s, m, cs]);
  });

  it('reduces more than 65,535 rows longer than one workgroup (workgroup-per-row kernel)', async () => {
    const rows = 65_537;
    const K = 65; // above the 64-element threshold for one invocation per row
    const x = reshape(T.remainder(arange(0, rows * K, 1, { device, dtype: 'int32' }), K), [rows, K]);
    const s = sum(x, { dim: 1 });
    const am = argmax(x, { dim: 1 });
    const [sv, av] = await Promise.all([s.data(), am.data()]);
    for (const r of [0, 65_534, 65_535, 65_536]) {
      expect(sv[r], `sum row ${r}`).toBe((K * (K - 1)) / 2);
      expect(av[r], `argmax row ${r}`).toBe(K - 1);
    }
    T.dispose([x, s, am]);
  });

  it('reduces a row of 1M elements', async () => {
    const n = 1_000_000;
    const v = seeded(n, 7);
    v[987_654] = 5;
    v[12] = -5;
    let ref = 0;
    for (const u of v) ref += u;
    const x = tensor(v, { device });
    const [s, mx, ai, an, me] = [sum(x), amax(x), argmax(x), argmin(x), mean(x)];
    expect(Math.abs((await s.item()) - ref)).toBeLessThan(1e-5 * n * 0.5);
    expect(await mx.item()).toBe(5);
    expect(await ai.item()).toBe(987_654);
    expect(await an.item()).toBe(12);
    expect(Math.abs((await me.item()) - ref / n)).toBeLessThan(1e-6);
    const ls = logSoftmax(x, 0);
    const lsv = await ls.data();
    const lse = Math.log(v.reduce((acc, u) => acc + Math.exp(u - 5), 0)) + 5;
    expect(lsv[987_654]).toBeCloseTo(5 - lse, 4);
    T.dispose([x, s, mx, ai, an, me, ls]);
  });
});

forEachBackend('reductions: semantics', (device) => {
  it('sum of an empty tensor is 0 and prod 1, with the reduced shape', async () => {
    const e = full([2, 0], 1, { device });
    await expectClose(sum(e), [0], { shape: [] });
    await expectClose(T.prod(e, { dim: 1 }), [1, 1], { shape: [2] });
    await expectClose(sum(e, { dim: 0, keepdim: true }), [], { shape: [1, 0] });
    e.dispose();
  });

  it('returns the first index on ties and on repeated NaN', async () => {
    const x = tensor([[2, NaN, 2, NaN], [7, 7, 1, 1]], { device });
    const r = max(x, { dim: 1 });
    await expectClose(r.values, [NaN, 7]);
    await expectClose(r.indices, [1, 0], { dtype: 'int32' });
    await expectClose(argmin(x, { dim: 1 }), [1, 2], { dtype: 'int32' });
    T.dispose([x, r]);
  });

  it('keeps memory flat in reductions that build intermediates', async () => {
    const x = tensor([[1, 2, 3], [4, 5, 6]], { device });
    const before = T.memory();
    for (let i = 0; i < 50; i++) {
      tidy(() => [T.variance(x, { dim: 1 }), T.logsumexp(x), T.norm(x, { p: 3 }), softmax(x, 0), T.std(x)]).forEach((t) => t.dispose());
      T.dispose([mean(x, { dim: [0, 1] }), T.all(x), T.any(x, { dim: 0 }), T.cumprod(x, 1), max(x, { dim: 0 })]);
    }
    const after = T.memory();
    expect(after.tensors).toBe(before.tensors);
    expect(after.bytes).toBe(before.bytes);
    x.dispose();
  });
});

describe('reductions: float64 on cpu', () => {
  it('sums and normalises in float64', async () => {
    const v = [1e-10, 1, -1, 2];
    const x = tensor(new Float64Array(v), { device: 'cpu' });
    const m = v.reduce((p, q) => p + q) / 4;
    const z = v.reduce((p, q) => p + Math.exp(q - 2), 0);
    await expectClose(sum(x), [2 + 1e-10], { dtype: 'float64', atol: 0, rtol: 1e-15 });
    await expectClose(T.variance(x, { correction: 0 }), [v.reduce((p, q) => p + (q - m) ** 2, 0) / 4], { dtype: 'float64', atol: 0, rtol: 1e-14 });
    await expectClose(softmax(x), v.map((q) => Math.exp(q - 2) / z), { dtype: 'float64', atol: 0, rtol: 1e-14 });
    x.dispose();
  });
});
