import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as T from '@tessera/tensor';
import type { Tensor } from '@tessera/tensor';
import { backward, gradcheck, gradgradcheck } from '../src/index.js';
import { BACKENDS, checkFirstAndSecondOrder, expectGradsMatchAcrossDevices, forEachBackend, seeded, useDevices } from './helpers.js';

useDevices();
// gradcheck draws its cotangents on the default device, which init({ device: 'webgpu' }) changed.
beforeAll(() => T.setDefaultDevice('cpu'));

const gen = new T.Generator(11);
const rand = (shape: number[]) => T.randn(shape, { dtype: 'float64', device: 'cpu', generator: gen });
const ints = (data: number[], shape?: number[], device: T.DeviceName = 'cpu') => T.tensor(data, { dtype: 'int32', device, shape: shape ?? [data.length] });

const check = (f: (...xs: Tensor[]) => Tensor, shapes: number[][] | Tensor[]) =>
  checkFirstAndSecondOrder(f, shapes.map((s) => (s instanceof T.Tensor ? s : rand(s))));

describe('gather / scatter gradients (cpu float64)', () => {
  it('indexSelect with repeated indices, both dims and a 0-d index', () => {
    const idx = ints([0, 2, 2, 1, 0]);
    check((x) => T.indexSelect(x, 1, idx), [[3, 4]]);
    check((x) => T.indexSelect(x, -2, idx), [[3, 2]]);
    const one = T.tensor(1, { dtype: 'int32', device: 'cpu' });
    check((x) => T.indexSelect(x, 0, one), [[3, 2]]);
    T.dispose([idx, one]);
  });

  it('gather with repeated indices and an index smaller than the input', () => {
    const idx = ints([0, 2, 2, 1, 1, 1], [2, 3]);
    check((x) => T.gather(x, 1, idx), [[3, 4]]);
    check((x) => T.gather(x, 0, ints([2, 0, 1, 1, 0, 2], [2, 3])), [[3, 4]]);
    idx.dispose();
  });

  it('scatter with a tensor src larger than the index, and with a number', () => {
    // Unique positions per column: with duplicates only the last write survives.
    const idx = ints([2, 0, 1, 0, 1, 2], [2, 3]);
    check((x, src) => T.scatter(x, 0, idx, src), [[3, 4], [3, 3]]);
    check((x) => T.scatter(x, 0, idx, 1.5), [[3, 3]]);
    idx.dispose();
  });

  it('scatterAdd with repeated indices', () => {
    const idx = ints([1, 1, 0, 3, 1, 3], [2, 3]);
    check((x, src) => T.scatterAdd(x, 1, idx, src), [[2, 4], [3, 4]]);
  });

  for (const reduce of ['sum', 'mean', 'amax', 'amin', 'prod'] as const) {
    for (const includeSelf of [true, false]) {
      it(`scatterReduce ${reduce}, includeSelf ${includeSelf}`, () => {
        const idx = ints([1, 1, 0, 0, 1, 3], [2, 3]);
        check((x, src) => T.scatterReduce(x, 1, idx, src, reduce, { includeSelf }), [[2, 5], [2, 4]]);
        idx.dispose();
      });
    }
  }

  it('scatterReduce prod with zero factors (first order; second order at one zero)', () => {
    const idx = ints([1, 1, 0, 0, 1, 3], [2, 3]);
    // element (0, 1): one zero factor (src); (1, 0): two zero factors (x and src); (1, 3): x is 0
    const x = T.tensor([[0.5, -1.2, 0.8, 1.1, 0.7], [0, 0.9, 1.3, 0, -0.6]], { dtype: 'float64', device: 'cpu' });
    const src = T.tensor([[0.7, 0, 1.4, 0.3], [0, -0.9, 1.2, 0.4]], { dtype: 'float64', device: 'cpu' });
    expect(gradcheck((a, b) => T.scatterReduce(a, 1, idx, b, 'prod'), [x, src])).toBe(true);
    expect(gradcheck((a, b) => T.scatterReduce(a, 1, idx, b, 'prod', { includeSelf: false }), [x, src])).toBe(true);
    const oneZero = T.tensor([[0.5, -1.2, 0.8, 1.1, 0.7], [0.6, 0.9, 1.3, 0, -0.6]], { dtype: 'float64', device: 'cpu' });
    expect(gradgradcheck((a, b) => T.scatterReduce(a, 1, idx, b, 'prod'), [oneZero, src])).toBe(true);
    expect(gradgradcheck((a, b) => T.scatterReduce(a, 1, idx, b, 'prod', { includeSelf: false }), [oneZero, src])).toBe(true);
    T.dispose([idx, x, src, oneZero]);
  });

  it('scatterReduce amax splits the cotangent between tied contributions', () => {
    const x = T.tensor([[0, 5]], { dtype: 'float64', device: 'cpu' }).requiresGrad_();
    const src = T.tensor([[2, 2, 1]], { dtype: 'float64', device: 'cpu' }).requiresGrad_();
    T.tidy(() => backward(T.sum(T.scatterReduce(x, 1, ints([0, 0, 0], [1, 3]), src, 'amax'))));
    expect(Array.from(x.grad!.dataSync())).toEqual([0, 1]);
    expect(Array.from(src.grad!.dataSync())).toEqual([0.5, 0.5, 0]);
    T.dispose([x, src]);
  });
});

describe('segment gradients (cpu float64)', () => {
  const index = ints([0, 0, 1, 1, 1, 3]);
  it('segmentSum', () => check((s) => T.segmentSum(s, index, 4), [[6, 2, 2]]));
  it('segmentSumCsr with rows outside every segment', () => {
    const ptr = ints([1, 3, 3, 5]);
    check((s) => T.segmentSumCsr(s, ptr), [[6, 3]]);
    ptr.dispose();
  });
  it('segmentMean with an empty segment', () => check((s) => T.segmentMean(s, index, 5), [[6, 3]]));
  it('segmentMax with an empty segment', () => check((s) => T.segmentMax(s, index, 4).values, [[6, 3]]));
  it('segmentMin', () => check((s) => T.segmentMin(s, index, 4).values, [[6, 2]]));
  it('segmentSoftmax', () => check((s) => T.segmentSoftmax(s, index, 4), [[6, 3]]));
});

describe('spmm / sort / topk / cdist gradients (cpu float64)', () => {
  it('spmm with duplicate entries (dense operand)', () => {
    const a = T.sparseCooTensor(ints([0, 2, 1, 0, 2, 1, 0, 3, 1, 1], [2, 5]), T.tensor([1.5, -2, 0.5, 3, 1], { dtype: 'float64', device: 'cpu' }), [3, 4]);
    check((d) => T.spmm(a, d), [[4, 2]]);
    a.dispose();
  });

  it('sort along dims, both orders', () => {
    check((x) => T.sort(x, { dim: 0, descending: true }).values, [[4, 3]]);
    check((x) => T.sort(x).values, [[2, 5]]);
  });

  it('topk largest and smallest', () => {
    check((x) => T.topk(x, 2).values, [[3, 5]]);
    check((x) => T.topk(x, 3, { dim: 0, largest: false }).values, [[4, 2]]);
  });

  for (const p of [2, 1, Infinity, 3, 1.5, 0.5]) {
    it(`cdist p = ${p} with broadcast batch dims`, () => check((a, b) => T.cdist(a, b, { p }), [[2, 3, 4], [2, 4]]));
  }

  it('cdist gives 0 gradient at zero distance (p = 2, as PyTorch)', () => {
    const a = T.tensor([[1, 2], [3, 4]], { dtype: 'float64', device: 'cpu' }).requiresGrad_();
    const b = T.tensor([[1, 2]], { dtype: 'float64', device: 'cpu' }).requiresGrad_();
    T.tidy(() => backward(T.sum(T.cdist(a, b))));
    const s = 1 / Math.SQRT2;
    expect(Array.from(a.grad!.dataSync()).map((v) => +v.toFixed(12))).toEqual([0, 0, +s.toFixed(12), +s.toFixed(12)]);
    expect(Array.from(b.grad!.dataSync()).map((v) => +v.toFixed(12))).toEqual([-s.toFixed(12), -s.toFixed(12)]);
    T.dispose([a, b]);
  });
});

const prod = (s: number[]) => s.reduce((a, b) => a * b, 1);

/** Seeded float64 inputs of the given shapes (seeds 5, 6, ...), on cpu. */
const seededInputs = (shapes: number[][]) => shapes.map((s, i) => T.tensor(seeded(prod(s), i + 5), { dtype: 'float64', device: 'cpu', shape: s }));
const weights = (shape: readonly number[]) => seeded(prod([...shape]), 43);

describe.runIf(BACKENDS.includes('webgpu'))('webgpu gradients match cpu', () => {
  const seg = [0, 0, 1, 1, 1, 3, 3];
  const sparse: T.SparseTensor[] = [];
  afterAll(() => {
    for (const a of sparse) a.dispose();
  });
  const cases: [string, (device: T.DeviceName, ...xs: Tensor[]) => Tensor, number[][]][] = [
    ['indexSelect', (d, x) => T.indexSelect(x, 0, ints([2, 0, 2, 1], undefined, d)), [[3, 4]]],
    ['gather', (d, x) => T.gather(x, 1, ints([0, 2, 2, 1, 3, 3], [2, 3], d)), [[3, 4]]],
    ['scatterAdd', (d, x, s) => T.scatterAdd(x, 0, ints([1, 1, 0, 2, 1, 2], [2, 3], d), s), [[3, 4], [3, 3]]],
    ['scatterReduce mean', (d, x, s) => T.scatterReduce(x, 0, ints([1, 1, 0, 2, 1, 2], [2, 3], d), s, 'mean', { includeSelf: false }), [[3, 4], [3, 3]]],
    ['segmentSum', (d, s) => T.segmentSum(s, ints(seg, undefined, d), 4), [[7, 3]]],
    ['segmentSoftmax', (d, s) => T.segmentSoftmax(s, ints(seg, undefined, d), 4), [[7, 3]]],
    ['segmentMax', (d, s) => T.segmentMax(s, ints(seg, undefined, d), 5).values, [[7, 3]]],
    // The rule reads the sparse matrix during backward: it is disposed only after the test.
    ['spmm', (d, x) => {
      const a = T.sparseCooTensor(ints([0, 2, 1, 0, 2, 1, 0, 3, 1, 1], [2, 5], d), T.tensor([1.5, -2, 0.5, 3, 1], { dtype: 'float32', device: d }), [3, 4]);
      sparse.push(a);
      return T.spmm(a, x);
    }, [[4, 3]]],
    ['sort', (_d, x) => T.sort(x, { dim: 1, descending: true }).values, [[3, 5]]],
    ['cdist', (_d, a, b) => T.cdist(a, b), [[4, 3], [5, 3]]],
    // Unique positions per column: with duplicates only the last write survives.
    ['scatter', (d, x, s) => T.scatter(x, 0, ints([2, 0, 1, 0, 1, 2], [2, 3], d), s), [[3, 4], [3, 3]]],
    ['segmentSumCsr', (d, s) => T.segmentSumCsr(s, ints([1, 3, 3, 6], undefined, d)), [[7, 3]]],
    ['segmentMean', (d, s) => T.segmentMean(s, ints(seg, undefined, d), 5), [[7, 3]]],
    ['segmentMin', (d, s) => T.segmentMin(s, ints(seg, undefined, d), 4).values, [[7, 3]]],
    ['topk', (_d, x) => T.topk(x, 2, { dim: 0, largest: false }).values, [[4, 3]]],
  ];
  // f gets the device its index tensors go on.
  for (const [name, f, shapes] of cases) it(name, () => expectGradsMatchAcrossDevices((...xs) => f(xs[0].device, ...xs), seededInputs(shapes), { weights }));
});

forEachBackend('GCN-style segment aggregation memory', (device) => {
  it('stays flat over 50 forward + backward steps', async () => {
    const opts = { dtype: 'float32' as const, device };
    const x = T.tensor(seeded(5 * 3, 1), { ...opts, shape: [5, 3] });
    const w = T.tensor(seeded(3 * 4, 2), { ...opts, shape: [3, 4] }).requiresGrad_();
    // edges sorted by destination
    const srcIdx = ints([1, 2, 0, 3, 4, 0, 1], undefined, device);
    const dst = ints([0, 0, 1, 2, 2, 4, 4], undefined, device);
    let before = { tensors: -1, bytes: -1 };
    for (let step = 0; step < 50; step++) {
      T.tidy(() => {
        const h = T.matmul(x, w);
        const msg = T.indexSelect(h, 0, srcIdx);
        const att = T.segmentSoftmax(msg, dst, 5);
        const agg = T.segmentSum(T.mul(att, msg), dst, 5);
        const pooled = T.segmentMax(agg, ints([0, 0, 1, 1, 1], undefined, device), 2).values;
        backward(T.add(T.sum(T.mul(pooled, pooled)), T.sum(T.gather(agg, 1, ints([0, 3, 1, 2, 2], [5, 1], device)))));
      });
      w.grad!.dispose();
      w.grad = null;
      if (step === 2) before = T.memory();
    }
    await T.sync();
    expect(T.memory().tensors).toBe(before.tensors);
    expect(T.memory().bytes).toBe(before.bytes);
    T.dispose([x, w, srcIdx, dst]);
  });
});
