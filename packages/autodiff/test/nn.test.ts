import { beforeAll, describe, expect, it } from 'vitest';
import * as T from '@tessera/tensor';
import type { Tensor } from '@tessera/tensor';
import { backward } from '../src/index.js';
import { BACKENDS, checkFirstAndSecondOrder, expectGradsMatchAcrossDevices, forEachBackend, seeded, useDevices } from './helpers.js';

useDevices();
// gradcheck draws its cotangents on the default device, which init({ device: 'webgpu' }) changed.
beforeAll(() => T.setDefaultDevice('cpu'));

const gen = new T.Generator(7);
const rand = (shape: number[]) => T.randn(shape, { dtype: 'float64', device: 'cpu', generator: gen });

const check = (f: (...xs: Tensor[]) => Tensor, shapes: number[][]) => checkFirstAndSecondOrder(f, shapes.map(rand));

describe('conv gradients (cpu float64)', () => {
  const cases: [string, number[], number[], T.ConvOptions, boolean][] = [
    ['plain', [2, 2, 5, 5], [3, 2, 3, 3], {}, false],
    ['stride 2, padding 1, bias', [2, 2, 6, 5], [3, 2, 3, 3], { stride: 2, padding: 1 }, true],
    ['dilation 2', [1, 2, 7, 6], [2, 2, 2, 3], { dilation: 2, padding: [1, 0] }, false],
    ['groups 2, bias', [2, 4, 5, 4], [4, 2, 3, 2], { groups: 2, stride: [2, 1] }, true],
    ["padding 'same' with an even kernel", [1, 2, 5, 5], [2, 2, 2, 3], { padding: 'same' }, true],
    ['stride 3 skipping trailing rows', [1, 1, 7, 8], [2, 1, 2, 2], { stride: 3 }, false],
  ];
  for (const [name, xs, ws, opts, bias] of cases) {
    it(`conv2d ${name}`, () => {
      if (bias) check((x, w, b) => T.conv2d(x, w, b, opts), [xs, ws, [ws[0]]]);
      else check((x, w) => T.conv2d(x, w, null, opts), [xs, ws]);
    });
  }

  it('conv2d and convTranspose2d with an empty batch give zero weight gradients', () => {
    const x = T.zeros([0, 2, 4, 4], { dtype: 'float64', device: 'cpu' }).requiresGrad_();
    const w = T.ones([3, 2, 3, 3], { dtype: 'float64', device: 'cpu' }).requiresGrad_();
    const b = T.ones([3], { dtype: 'float64', device: 'cpu' }).requiresGrad_();
    T.tidy(() => backward(T.sum(T.convTranspose2d(T.conv2d(x, w, b, { padding: 1 }), w, null, { padding: 1 }))));
    expect([...x.grad!.shape]).toEqual([0, 2, 4, 4]);
    expect(Array.from(w.grad!.dataSync()).every((v) => v === 0)).toBe(true);
    expect(Array.from(b.grad!.dataSync())).toEqual([0, 0, 0]);
    T.dispose([x, w, b]);
  });

  it('conv2d unbatched', () => check((x, w, b) => T.conv2d(x, w, b, { padding: 1, stride: 2 }), [[2, 5, 4], [3, 2, 3, 3], [3]]));

  it('conv1d stride 2, padding 1, bias', () => check((x, w, b) => T.conv1d(x, w, b, { stride: 2, padding: 1 }), [[2, 2, 7], [3, 2, 3], [3]]));
  it('conv1d groups 2, dilation 2', () => check((x, w) => T.conv1d(x, w, null, { groups: 2, dilation: 2 }), [[2, 4, 8], [4, 2, 3]]));
  it('conv1d unbatched, same padding', () => check((x, w) => T.conv1d(x, w, null, { padding: 'same' }), [[2, 6], [3, 2, 4]]));

  const tcases: [string, number[], number[], T.ConvTransposeOptions, boolean][] = [
    ['plain', [2, 2, 3, 3], [2, 3, 3, 3], {}, false],
    ['stride 2, padding 1, outputPadding 1, bias', [1, 2, 3, 4], [2, 2, 3, 3], { stride: 2, padding: 1, outputPadding: 1 }, true],
    ['groups 2, dilation 2', [2, 4, 3, 3], [4, 1, 2, 2], { groups: 2, dilation: 2 }, false],
    ['outputPadding >= stride (dilation 3)', [1, 2, 3, 3], [2, 2, 2, 2], { dilation: 3, outputPadding: [2, 1] }, false],
  ];
  for (const [name, xs, ws, opts, bias] of tcases) {
    it(`convTranspose2d ${name}`, () => {
      if (bias) check((x, w, b) => T.convTranspose2d(x, w, b, opts), [xs, ws, [ws[1] * (opts.groups ?? 1)]]);
      else check((x, w) => T.convTranspose2d(x, w, null, opts), [xs, ws]);
    });
  }
  it('convTranspose1d stride 2, groups 2, bias, unbatched', () =>
    check((x, w, b) => T.convTranspose1d(x, w, b, { stride: 2, groups: 2, padding: 1 }), [[4, 5], [4, 2, 3], [4]]));
});

describe('pooling and resampling gradients (cpu float64)', () => {
  it('maxPool2d overlapping windows with padding', () => check((x) => T.maxPool2d(x, 3, { stride: 2, padding: 1 }), [[2, 2, 5, 6]]));
  it('maxPool2d dilation and ceilMode', () => check((x) => T.maxPool2d(x, 2, { stride: 2, dilation: 2, ceilMode: true }), [[1, 2, 7, 6]]));
  it('maxPool2d returnIndices (values carry the gradient)', () => check((x) => T.maxPool2d(x, 2, { returnIndices: true }).values, [[2, 4, 4]]));
  it('maxPool1d', () => check((x) => T.maxPool1d(x, 3, { stride: 1, padding: 1 }), [[2, 3, 6]]));

  it('avgPool2d default', () => check((x) => T.avgPool2d(x, 2), [[2, 2, 4, 5]]));
  it('avgPool2d padding, countIncludePad false', () => check((x) => T.avgPool2d(x, 3, { stride: 2, padding: 1, countIncludePad: false }), [[1, 2, 5, 6]]));
  it('avgPool2d padding, ceilMode', () => check((x) => T.avgPool2d(x, [3, 2], { stride: 2, padding: 1, ceilMode: true }), [[1, 2, 6, 5]]));
  it('avgPool2d divisorOverride, overlapping', () => check((x) => T.avgPool2d(x, 3, { stride: 1, divisorOverride: 4 }), [[3, 5, 5]]));
  it('avgPool1d ceilMode without countIncludePad', () => check((x) => T.avgPool1d(x, 3, { stride: 2, padding: 1, ceilMode: true, countIncludePad: false }), [[2, 2, 8]]));

  it('adaptiveAvgPool2d with overlapping windows', () => check((x) => T.adaptiveAvgPool2d(x, [3, 4]), [[2, 2, 5, 7]]));
  it('adaptiveAvgPool2d to 1 (global)', () => check((x) => T.adaptiveAvgPool2d(x, 1), [[2, 3, 4]]));
  it('adaptiveAvgPool1d', () => check((x) => T.adaptiveAvgPool1d(x, 4), [[2, 2, 7]]));

  it('interpolate nearest, scale 2', () => check((x) => T.interpolate(x, { scaleFactor: 2 }), [[1, 2, 3, 4]]));
  it('interpolate nearest, downsample to a size', () => check((x) => T.interpolate(x, { size: [2, 5] }), [[1, 2, 5, 3]]));
  it('interpolate nearest, fractional scaleFactor (sampling ratio 1 / factor)', () => check((x) => T.interpolate(x, { scaleFactor: [1.7, 0.8] }), [[1, 2, 3, 5]]));
  it('interpolate nearest 1-D', () => check((x) => T.interpolate(x, { size: 7 }), [[2, 2, 3]]));
  it('interpolate bilinear', () => check((x) => T.interpolate(x, { size: [5, 7], mode: 'bilinear' }), [[1, 2, 3, 4]]));
  it('interpolate bilinear alignCorners', () => check((x) => T.interpolate(x, { size: [5, 2], mode: 'bilinear', alignCorners: true }), [[2, 1, 3, 4]]));
  it('interpolate bilinear scaleFactor 1.5 (downsampled width kept from the factor)', () =>
    check((x) => T.interpolate(x, { scaleFactor: [1.5, 0.6], mode: 'bilinear' }), [[1, 2, 4, 5]]));
});

const prod = (s: number[]) => s.reduce((a, b) => a * b, 1);

/** Seeded float64 inputs of the given shapes (seeds 3, 4, ...), on cpu. */
const seededInputs = (shapes: number[][]) => shapes.map((s, i) => T.tensor(seeded(prod(s), i + 3), { dtype: 'float64', device: 'cpu', shape: s }));
const weights = (shape: readonly number[]) => seeded(prod([...shape]), 41);

describe.runIf(BACKENDS.includes('webgpu'))('webgpu gradients match cpu', () => {
  const cases: [string, (...xs: Tensor[]) => Tensor, number[][]][] = [
    ['conv2d stride 2, padding 1, groups 2, bias', (x, w, b) => T.conv2d(x, w, b, { stride: 2, padding: 1, groups: 2 }), [[2, 4, 7, 6], [6, 2, 3, 3], [6]]],
    ['conv2d dilation 2', (x, w) => T.conv2d(x, w, null, { dilation: 2 }), [[1, 3, 8, 8], [2, 3, 3, 3]]],
    ['convTranspose2d stride 2', (x, w, b) => T.convTranspose2d(x, w, b, { stride: 2, padding: 1, outputPadding: 1 }), [[2, 3, 4, 4], [3, 2, 3, 3], [2]]],
    ['maxPool2d', (x) => T.maxPool2d(x, 3, { stride: 2, padding: 1 }), [[2, 3, 7, 8]]],
    ['avgPool2d', (x) => T.avgPool2d(x, 3, { stride: 2, padding: 1, countIncludePad: false, ceilMode: true }), [[2, 3, 8, 7]]],
    ['adaptiveAvgPool2d', (x) => T.adaptiveAvgPool2d(x, [3, 2]), [[2, 2, 7, 5]]],
    ['interpolate bilinear', (x) => T.interpolate(x, { size: [9, 6], mode: 'bilinear' }), [[2, 2, 4, 5]]],
    ['interpolate bilinear alignCorners', (x) => T.interpolate(x, { scaleFactor: 2, mode: 'bilinear', alignCorners: true }), [[1, 2, 3, 5]]],
    ['interpolate nearest', (x) => T.interpolate(x, { size: [5, 9] }), [[1, 2, 3, 4]]],
    ['conv1d stride 2, padding 1, bias', (x, w, b) => T.conv1d(x, w, b, { stride: 2, padding: 1 }), [[2, 2, 9], [3, 2, 3], [3]]],
    ['convTranspose1d stride 2, groups 2, bias', (x, w, b) => T.convTranspose1d(x, w, b, { stride: 2, groups: 2, padding: 1 }), [[2, 4, 5], [4, 2, 3], [4]]],
    ['maxPool1d', (x) => T.maxPool1d(x, 3, { stride: 2, padding: 1 }), [[2, 3, 9]]],
    ['avgPool1d', (x) => T.avgPool1d(x, 3, { stride: 2, padding: 1, ceilMode: true, countIncludePad: false }), [[2, 2, 8]]],
    ['adaptiveAvgPool1d', (x) => T.adaptiveAvgPool1d(x, 4), [[2, 2, 7]]],
  ];
  for (const [name, f, shapes] of cases) it(name, () => expectGradsMatchAcrossDevices(f, seededInputs(shapes), { weights }));
});

forEachBackend('conv net memory', (device) => {
  it('stays flat over 50 forward + backward steps', async () => {
    const opts = { dtype: 'float32' as const, device };
    const w1 = T.tensor(seeded(4 * 1 * 3 * 3, 1), { ...opts, shape: [4, 1, 3, 3] }).requiresGrad_();
    const b1 = T.tensor(seeded(4, 2), { ...opts, shape: [4] }).requiresGrad_();
    const w2 = T.tensor(seeded(2 * 4 * 2 * 2, 3), { ...opts, shape: [2, 4, 2, 2] }).requiresGrad_();
    const x = T.tensor(seeded(2 * 1 * 8 * 8, 4), { ...opts, shape: [2, 1, 8, 8] });
    const params = [w1, b1, w2];
    let before = { tensors: -1, bytes: -1 };
    for (let step = 0; step < 50; step++) {
      T.tidy(() => {
        const h = T.maxPool2d(T.conv2d(x, w1, b1, { padding: 1 }), 2);
        const u = T.interpolate(T.convTranspose2d(h, T.transpose(w2, 0, 1), null, { stride: 2 }), { size: [8, 8], mode: 'bilinear' });
        const y = T.adaptiveAvgPool2d(T.avgPool2d(u, 2, { stride: 1 }), 2);
        backward(T.sum(T.mul(y, y)));
      });
      for (const p of params) {
        p.grad!.dispose();
        p.grad = null;
      }
      if (step === 2) before = T.memory();
    }
    await T.sync();
    expect(T.memory().tensors).toBe(before.tensors);
    expect(T.memory().bytes).toBe(before.bytes);
    T.dispose([...params, x]);
  });
});
