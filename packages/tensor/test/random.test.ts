import { describe, expect, it } from 'vitest';
import * as T from '../src/index.js';
import { bernoulli, Generator, manualSeed, multinomial, normal, rand, randint, randn, randperm, tensor, type DeviceName, type Tensor, type TypedArray } from '../src/index.js';
import { BACKENDS, forEachBackend, useDevices } from './helpers.js';

/** Every random op, drawn from the global generator in a fixed order. */
const DRAWS: Record<string, (device: DeviceName) => Tensor> = {
  rand: (device) => rand([1000], { device }),
  randn: (device) => randn([3, 333], { device }),
  randint: (device) => randint(-5, 7, [500], { device }),
  randperm: (device) => randperm(300, { device }),
  bernoulli: (device) => bernoulli(0.3, [500], { device }),
  bernoulliTensor: (device) => T.tidy(() => bernoulli(rand([400], { device }))),
  normal: (device) => normal(2, 3, [501], { device }),
  multinomialReplacement: (device) => T.tidy(() => multinomial(tensor([[0.1, 0.2, 0.3, 0.4], [1, 0, 2, 5], [0, 0, 0, 1]], { device }), 50, { replacement: true, device })),
  multinomial: (device) => T.tidy(() => multinomial(tensor([[0.1, 0.2, 0.3, 0.4, 0.5], [1, 0, 2, 5, 1]], { device }), 4, { device })),
};

async function drawAll(device: DeviceName, seed: number): Promise<Record<string, TypedArray>> {
  manualSeed(seed);
  const out: Record<string, TypedArray> = {};
  for (const [name, draw] of Object.entries(DRAWS)) {
    const t = draw(device);
    out[name] = await t.data();
    t.dispose();
  }
  return out;
}

useDevices();

describe('random: the same seed gives the same bits on every device', () => {
  for (const device of BACKENDS) {
    it(`cpu and ${device} draw identical arrays`, async () => {
      const cpu = await drawAll('cpu', 1234);
      const other = await drawAll(device, 1234);
      for (const name of Object.keys(DRAWS)) {
        expect(other[name].constructor, name).toBe(cpu[name].constructor);
        expect(Buffer.from(other[name].buffer, other[name].byteOffset, other[name].byteLength).equals(Buffer.from(cpu[name].buffer, cpu[name].byteOffset, cpu[name].byteLength)), `${name} bits`).toBe(true);
      }
    });
  }
});

forEachBackend('random', (device) => {
  it('manualSeed makes draws reproducible, and successive draws differ', async () => {
    const a = await drawAll(device, 7);
    const b = await drawAll(device, 7);
    const c = await drawAll(device, 8);
    for (const name of Object.keys(DRAWS)) {
      expect(Array.from(b[name]), name).toEqual(Array.from(a[name]));
      expect(Array.from(c[name]), name).not.toEqual(Array.from(a[name]));
    }
    manualSeed(7);
    const x = rand([10], { device });
    const y = rand([10], { device });
    expect(Array.from(await x.data())).not.toEqual(Array.from(await y.data()));
    T.dispose([x, y]);
  });

  it('a Generator object is independent of the global stream', async () => {
    const g1 = new Generator(5);
    const g2 = new Generator(5);
    manualSeed(99);
    const a = randn([20], { device, generator: g1 });
    rand([100], { device });
    const b = randn([20], { device, generator: g2 });
    expect(Array.from(await a.data())).toEqual(Array.from(await b.data()));
    T.dispose([a, b]);
  });

  it('randn of 100k has mean 0 and std 1 within 4 sigma', async () => {
    manualSeed(3);
    const n = 100_000;
    const x = randn([n], { device });
    const [m, s] = [T.mean(x), T.std(x)];
    expect(Math.abs(await m.item())).toBeLessThan(4 / Math.sqrt(n));
    expect(Math.abs((await s.item()) - 1)).toBeLessThan(4 / Math.sqrt(2 * n));
    const u = rand([n], { device });
    const mu = T.mean(u);
    expect(Math.abs((await mu.item()) - 0.5)).toBeLessThan(4 * Math.sqrt(1 / 12 / n));
    const uv = await u.data();
    expect(Math.min(...uv)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...uv)).toBeLessThan(1);
    const nv = normal(10, 0.5, [n], { device });
    const [nm, ns] = [T.mean(nv), T.std(nv)];
    expect(Math.abs((await nm.item()) - 10)).toBeLessThan(4 * 0.5 / Math.sqrt(n));
    expect(Math.abs((await ns.item()) - 0.5)).toBeLessThan(4 * 0.5 / Math.sqrt(2 * n));
    T.dispose([x, m, s, u, mu, nv, nm, ns]);
  });

  it('randint stays in [low, high) and hits every value; randperm is a permutation', async () => {
    manualSeed(4);
    const r = randint(-3, 4, [5000], { device });
    expect(r.dtype).toBe('int32');
    const v = Array.from(await r.data());
    expect(new Set(v)).toEqual(new Set([-3, -2, -1, 0, 1, 2, 3]));
    const p = randperm(1000, { device });
    const pv = Array.from(await p.data());
    expect([...pv].sort((a, b) => a - b)).toEqual(Array.from({ length: 1000 }, (_, i) => i));
    expect(pv).not.toEqual(Array.from({ length: 1000 }, (_, i) => i));
    const e = randperm(0, { device });
    expect(e.shape).toEqual([0]);
    T.dispose([r, p, e]);
  });

  it('bernoulli frequencies match p', async () => {
    manualSeed(5);
    const n = 20_000;
    const b = bernoulli(0.3, [n], { device });
    const f = await T.mean(b).item();
    expect(Math.abs(f - 0.3)).toBeLessThan(4 * Math.sqrt(0.3 * 0.7 / n));
    const probs = T.tidy(() => T.reshape(T.expand(tensor([0, 0.25, 1], { device }), [n / 4, 3]), [-1]));
    const bp = bernoulli(probs);
    const bv = await bp.data();
    let hits = 0;
    for (let i = 0; i < bv.length; i++) {
      if (i % 3 === 0) expect(bv[i]).toBe(0);
      if (i % 3 === 2) expect(bv[i]).toBe(1);
      if (i % 3 === 1) hits += bv[i];
    }
    expect(Math.abs(hits / (n / 4) - 0.25)).toBeLessThan(4 * Math.sqrt(0.25 * 0.75 / (n / 4)));
    T.dispose([b, probs, bp]);
  });

  it('multinomial frequencies follow the probabilities, with and without replacement', async () => {
    manualSeed(6);
    const w = [1, 2, 3, 4];
    const p = w.map((x) => x / 10);
    const n = 20_000;
    const probs = tensor(w, { device });
    const s = multinomial(probs, n, { replacement: true });
    expect(s.shape).toEqual([n]);
    const counts = [0, 0, 0, 0];
    for (const v of await s.data()) counts[v]++;
    counts.forEach((c, k) => expect(Math.abs(c / n - p[k]), `category ${k}`).toBeLessThan(4 * Math.sqrt(p[k] * (1 - p[k]) / n)));
    // without replacement: the first pick of each row follows p; the picks in a row are distinct
    const rows = 5000;
    const P = T.tidy(() => T.contiguous(T.expand(T.reshape(probs, [1, 4]), [rows, 4])));
    const d = multinomial(P, 3);
    const dv = await d.data();
    const first = [0, 0, 0, 0];
    for (let r = 0; r < rows; r++) {
      const picks = [dv[3 * r], dv[3 * r + 1], dv[3 * r + 2]];
      expect(new Set(picks).size).toBe(3);
      first[picks[0]]++;
    }
    first.forEach((c, k) => expect(Math.abs(c / rows - p[k]), `first pick ${k}`).toBeLessThan(4 * Math.sqrt(p[k] * (1 - p[k]) / rows)));
    const z = multinomial(tensor([0, 0, 5, 0], { device }), 1);
    expect(Array.from(await z.data())).toEqual([2]);
    T.dispose([probs, s, P, d, z]);
  });

  it('keeps memory flat over random draws', () => {
    const probs = tensor([[1, 2, 3]], { device });
    const before = T.memory();
    for (let i = 0; i < 50; i++) {
      T.tidy(() => {
        rand([3], { device });
        randn([3], { device });
        bernoulli(T.sigmoid(randn([4], { device })));
        multinomial(probs, 2, { replacement: true });
        multinomial(probs, 2);
      });
    }
    const after = T.memory();
    expect(after.tensors).toBe(before.tensors);
    expect(after.bytes).toBe(before.bytes);
    probs.dispose();
  });
});
