import { beforeAll, describe, expect, it } from 'vitest';
import * as T from '@tessera/tensor';
import type { Tensor } from '@tessera/tensor';
import { backward, gradcheck, gradgradcheck } from '../src/index.js';
import { BACKENDS, expectClose, expectGradsMatchAcrossDevices, seeded, useDevices } from './helpers.js';

useDevices();
// gradcheck builds its float64 cotangents on the default device, which init made webgpu.
beforeAll(() => T.setDefaultDevice('cpu'));

const f64 = (data: ArrayLike<number>, shape: number[]) => T.tensor(Array.from(data), { dtype: 'float64', shape });
const numel = (shape: number[]) => shape.reduce((a, b) => a * b, 1);
/** Seeded values in [lo, hi). */
const uniform = (shape: number[], seed: number, lo = -1, hi = 1) => f64(Array.from(seeded(numel(shape), seed), (v) => lo + ((v + 1) / 2) * (hi - lo)), shape);
/** Seeded values with 0.3 <= |v| < 1.5 and a random sign. */
const awayFromZero = (shape: number[], seed: number) =>
  f64(Array.from(seeded(numel(shape), seed), (v) => Math.sign(v || 1) * (0.3 + 1.2 * Math.abs(v))), shape);
/** A permutation of distinct, well separated values (no ties for amax/amin/max/min). */
const distinct = (shape: number[], seed: number) => {
  const n = numel(shape);
  const order = Array.from(seeded(n, seed)).map((v, i) => [v, i]).sort((a, b) => a[0] - b[0]);
  const data = new Array<number>(n);
  order.forEach(([, i], rank) => (data[i] = (rank - n / 2) * 0.25 + 0.05));
  return f64(data, shape);
};

type Opts = { dim?: number | number[]; keepdim?: boolean };
/** The reduction option variants every reduction is checked with, on a [2, 3, 4] input. */
const variants: Opts[] = [{}, { dim: 1 }, { dim: -1, keepdim: true }, { dim: [0, 2] }, { dim: [-3, 1], keepdim: true }, { keepdim: true }];
const label = (o: object) => JSON.stringify(o);

interface Case {
  name: string;
  f: (...xs: Tensor[]) => Tensor;
  inputs: () => Tensor[];
  /** Second order too (default true). */
  second?: boolean;
}

const cases: Case[] = [];
const add = (name: string, f: Case['f'], inputs: Case['inputs'], second = true) => cases.push({ name, f, inputs, second });

for (const o of variants) {
  add(`sum ${label(o)}`, (x) => T.sum(x, o), () => [uniform([2, 3, 4], 1)]);
  add(`mean ${label(o)}`, (x) => T.mean(x, o), () => [uniform([2, 3, 4], 2)]);
  add(`prod ${label(o)}`, (x) => T.prod(x, o), () => [awayFromZero([2, 3, 4], 3)]);
  add(`amax ${label(o)}`, (x) => T.amax(x, o), () => [distinct([2, 3, 4], 4)]);
  add(`amin ${label(o)}`, (x) => T.amin(x, o), () => [distinct([2, 3, 4], 5)]);
  add(`logsumexp ${label(o)}`, (x) => T.logsumexp(x, o), () => [uniform([2, 3, 4], 6, -2, 2)]);
  add(`variance ${label(o)}`, (x) => T.variance(x, o), () => [uniform([2, 3, 4], 7)]);
  add(`std ${label(o)}`, (x) => T.std(x, o), () => [uniform([2, 3, 4], 8)]);
  add(`norm ${label(o)}`, (x) => T.norm(x, o), () => [uniform([2, 3, 4], 9)]);
}
for (const correction of [0, 2]) {
  add(`variance correction ${correction}`, (x) => T.variance(x, { dim: 1, correction }), () => [uniform([2, 3, 4], 10)]);
  add(`std correction ${correction}`, (x) => T.std(x, { dim: [0, 2], keepdim: true, correction }), () => [uniform([2, 3, 4], 11)]);
}
for (const p of [1, Infinity, -Infinity, 3, 0.5, 'fro'] as const) {
  add(`norm p=${p} over dim 1`, (x) => T.norm(x, { p, dim: 1 }), () => [p === Infinity || p === -Infinity ? distinct([2, 3, 4], 12) : awayFromZero([2, 3, 4], 12)]);
  add(`norm p=${p} over all`, (x) => T.norm(x, { p, keepdim: true }), () => [p === Infinity || p === -Infinity ? distinct([2, 3, 4], 13) : awayFromZero([2, 3, 4], 13)]);
}
add('norm p=0 (zero gradient)', (x) => T.norm(x, { p: 0, dim: 0 }), () => [awayFromZero([2, 3], 14)]);
// Slices with one zero: exact to second order; with two zeros: exact to first order (documented).
add('prod with one zero per slice', (x) => T.prod(x, { dim: 1 }), () => [f64([0.5, 0, 2, -1.5, 0.7, 0, 1.1, 0.9, 1.2], [3, 3])]);
add('prod with one zero overall', (x) => T.prod(x), () => [f64([0.5, 1.3, 2, -1.5, 0, 0.8], [2, 3])]);
add('prod with two zeros in a slice', (x) => T.prod(x, { dim: 0 }), () => [f64([0, 0, 2, 0, 1.5, 0.7], [2, 3])], false);
for (const m of ['max', 'min'] as const) {
  const op = m === 'max' ? T.max : T.min;
  add(`${m} over all`, (x) => op(x), () => [distinct([2, 3, 4], 15)]);
  for (const o of [{ dim: 1 }, { dim: -1, keepdim: true }, { dim: 0, keepdim: false }]) {
    add(`${m} ${label(o)} values`, (x) => op(x, o).values, () => [distinct([2, 3, 4], 16)]);
  }
}
for (const dim of [0, 1, -1]) {
  add(`cumsum dim ${dim}`, (x) => T.cumsum(x, dim), () => [uniform([2, 3, 4], 17)]);
  add(`cumprod dim ${dim}`, (x) => T.cumprod(x, dim), () => [awayFromZero([2, 3, 4], 18)]);
  add(`softmax dim ${dim}`, (x) => T.softmax(x, dim), () => [uniform([2, 3, 4], 19, -2, 2)]);
  add(`logSoftmax dim ${dim}`, (x) => T.logSoftmax(x, dim), () => [uniform([2, 3, 4], 20, -2, 2)]);
}
add('softmax default dim', (x) => T.softmax(x), () => [uniform([3, 4], 21, -2, 2)]);
add('logSoftmax default dim', (x) => T.logSoftmax(x), () => [uniform([3, 4], 22, -2, 2)]);
add('reductions of a rank-0 tensor', (x) => T.add(T.cumsum(x, 0), T.add(T.sum(x), T.max(x, { dim: 0 }).values)), () => [f64([0.7], [])]);

describe('reduction rules: gradcheck and gradgradcheck (cpu, float64)', () => {
  for (const c of cases) {
    it(c.name, () => {
      const inputs = c.inputs();
      try {
        expect(gradcheck(c.f, inputs)).toBe(true);
        if (c.second) expect(gradgradcheck(c.f, inputs)).toBe(true);
      } finally {
        T.dispose(inputs);
      }
    });
  }
});

/** d sum(f(x)) / dx as numbers (float64 cpu). */
function grad1(f: (x: Tensor) => Tensor, data: number[], shape: number[]): number[] {
  const x = T.tensor(data, { dtype: 'float64', shape }).requiresGrad_();
  T.tidy(() => backward(T.sum(f(x))));
  const g = Array.from(x.grad!.dataSync() as Float64Array);
  x.dispose();
  return g;
}

describe('reduction rules: ties and zeros follow PyTorch', () => {
  it('amax/amin and max/min without dim split the gradient among ties', () => {
    expect(grad1((x) => T.amax(x, { dim: 1 }), [1, 3, 3, 2, 2, 0], [2, 3])).toEqual([0, 0.5, 0.5, 0.5, 0.5, 0]);
    expect(grad1((x) => T.amin(x, { dim: 0 }), [1, 3, 0, 1, 2, 0], [2, 3])).toEqual([0.5, 0, 0.5, 0.5, 1, 0.5]);
    expect(grad1((x) => T.max(x), [1, 3, 3, 2], [4])).toEqual([0, 0.5, 0.5, 0]);
    expect(grad1((x) => T.min(x), [1, 1, 1, 2], [4]).map((v) => +v.toFixed(12))).toEqual([1 / 3, 1 / 3, 1 / 3, 0].map((v) => +v.toFixed(12)));
  });

  it('max/min with dim route the gradient to the returned index', async () => {
    const x = T.tensor([1, 3, 3, 2, 2, 0], { dtype: 'float64', shape: [2, 3] }).requiresGrad_();
    const { values, indices } = T.max(x, { dim: 1 });
    T.tidy(() => backward(T.sum(T.mul(values, T.tensor([2, 5], { dtype: 'float64' })))));
    const idx = Array.from(indices.dataSync());
    const want = [0, 0, 0, 0, 0, 0];
    want[idx[0]] = 2;
    want[3 + idx[1]] = 5;
    await expectClose(x.grad!, want);
    T.dispose([x, values, indices]);
  });

  it('norm with p = ±inf splits among ties with the sign of x', () => {
    expect(grad1((x) => T.norm(x, { p: Infinity }), [1, -3, 3], [3])).toEqual([0, -0.5, 0.5]);
  });

  it('norm and std of a zero slice have gradient 0', () => {
    expect(grad1((x) => T.norm(x, { dim: 1 }), [0, 0, 0, 3, 4, 0], [2, 3])).toEqual([0, 0, 0, 0.6, 0.8, 0]);
    expect(grad1((x) => T.norm(x, { p: 3, dim: 1 }), [0, 0, 0, 1, 0, 0], [2, 3])).toEqual([0, 0, 0, 1, 0, 0]);
    expect(grad1((x) => T.std(x, { dim: 1 }), [2, 2, 2, 1, 1, 1], [2, 3])).toEqual([0, 0, 0, 0, 0, 0]);
  });

  it('prod with zeros: the product of the other elements', () => {
    expect(grad1((x) => T.prod(x, { dim: 1 }), [2, 0, 3, 0, 0, 5, 4, 5, 6], [3, 3])).toEqual([0, 6, 0, 0, 0, 0, 30, 24, 20]);
  });
});

const gpuCases: Case[] = [
  { name: 'sum', f: (x) => T.sum(x, { dim: [0, 2], keepdim: true }), inputs: () => [uniform([3, 4, 5], 30)] },
  { name: 'mean', f: (x) => T.mean(x, { dim: -1 }), inputs: () => [uniform([3, 4, 5], 31)] },
  { name: 'prod', f: (x) => T.prod(x, { dim: 1 }), inputs: () => [awayFromZero([3, 4, 5], 32)] },
  { name: 'amax', f: (x) => T.amax(x, { dim: 1 }), inputs: () => [distinct([3, 4, 5], 33)] },
  { name: 'amin (ties)', f: (x) => T.amin(x, { dim: 0 }), inputs: () => [f64([1, 2, 1, 0, 2, 0], [2, 3])] },
  { name: 'max with dim', f: (x) => T.max(x, { dim: -1 }).values, inputs: () => [distinct([3, 4, 5], 34)] },
  { name: 'variance', f: (x) => T.variance(x, { dim: [1, 2] }), inputs: () => [uniform([3, 4, 5], 35)] },
  { name: 'std', f: (x) => T.std(x, { dim: 0, correction: 0 }), inputs: () => [uniform([3, 4, 5], 36)] },
  { name: 'logsumexp', f: (x) => T.logsumexp(x, { dim: 1, keepdim: true }), inputs: () => [uniform([3, 4, 5], 37, -3, 3)] },
  { name: 'norm', f: (x) => T.add(T.norm(x, { dim: 1 }), T.norm(x, { p: 3, dim: 1 })), inputs: () => [awayFromZero([3, 4, 5], 38)] },
  { name: 'softmax', f: (x) => T.softmax(x, 1), inputs: () => [uniform([3, 4, 5], 39, -3, 3)] },
  { name: 'logSoftmax', f: (x) => T.logSoftmax(x, -1), inputs: () => [uniform([3, 4, 5], 40, -3, 3)] },
  { name: 'cumsum', f: (x) => T.cumsum(x, 1), inputs: () => [uniform([3, 4, 5], 41)] },
  { name: 'cumprod', f: (x) => T.cumprod(x, -1), inputs: () => [awayFromZero([3, 4, 5], 42)] },
  { name: 'min with dim', f: (x) => T.min(x, { dim: 1, keepdim: true }).values, inputs: () => [distinct([3, 4, 5], 43)] },
  { name: 'max and min over all (ties)', f: (x) => T.add(T.max(x), T.mul(T.min(x), 2)), inputs: () => [f64([1, 3, 3, 0, 2, 0], [2, 3])] },
];

describe.runIf(BACKENDS.includes('webgpu'))('reduction rules: webgpu gradients match cpu (float32)', () => {
  for (const c of gpuCases) it(c.name, () => expectGradsMatchAcrossDevices(c.f, c.inputs()));
});

describe('reduction rules: memory stays flat over 50 forward + backward steps', () => {
  for (const device of BACKENDS) {
    it(device, () => {
      const dtype = device === 'webgpu' ? 'float32' : 'float64';
      const x = T.tensor(Array.from(seeded(24, 43)), { dtype, device, shape: [2, 3, 4] }).requiresGrad_();
      let before: { tensors: number; bytes: number } | null = null;
      for (let step = 0; step < 50; step++) {
        T.tidy(() => {
          const s = T.softmax(x, -1);
          const a = T.add(T.logsumexp(T.logSoftmax(x, 1), { dim: 1 }), T.variance(x, { dim: 1 }));
          const b = T.mul(T.std(x, { dim: [0, 2], keepdim: true }), T.amax(T.cumsum(s, 2), { dim: -1, keepdim: true }));
          const c = T.add(T.norm(x, { dim: 0 }), T.max(x, { dim: 0 }).values);
          backward(T.add(T.add(T.sum(a), T.mean(b)), T.add(T.sum(T.prod(c, { dim: 1 })), T.sum(T.cumprod(T.add(s, 1), 0)))));
        });
        x.grad!.dispose();
        x.grad = null;
        if (step === 2) before = { tensors: T.memory().tensors, bytes: T.memory().bytes };
      }
      expect({ tensors: T.memory().tensors, bytes: T.memory().bytes }).toEqual(before);
      x.dispose();
    });
  }
});
