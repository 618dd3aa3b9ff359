import { beforeAll, describe, expect, it } from 'vitest';
import * as T from '@tessera/tensor';
import type { Tensor } from '@tessera/tensor';
import { backward, gradcheck, gradgradcheck, gradOf } from '../src/index.js';
import { BACKENDS, expectClose, expectGradsMatchAcrossDevices, seeded, useDevices } from './helpers.js';

useDevices();
// gradcheck builds its float64 cotangents on the default device, which init made webgpu.
beforeAll(() => T.setDefaultDevice('cpu'));

const f64 = (data: ArrayLike<number>, shape: number[]) => T.tensor(Array.from(data), { dtype: 'float64', shape });
/** Seeded values in [lo, hi). */
const uniform = (shape: number[], seed: number, lo = -1, hi = 1) =>
  f64(Array.from(seeded(shape.reduce((a, b) => a * b, 1), seed), (v) => lo + ((v + 1) / 2) * (hi - lo)), shape);
/** Seeded values with 0.2 <= |v| < 1: away from the kink at 0. */
const awayFromZero = (shape: number[], seed: number) =>
  f64(Array.from(seeded(shape.reduce((a, b) => a * b, 1), seed), (v) => Math.sign(v || 1) * (0.2 + 0.8 * Math.abs(v))), shape);

interface Case {
  name: string;
  f: (...xs: Tensor[]) => Tensor;
  inputs: () => Tensor[];
}

const x23 = () => [uniform([2, 3], 1)];
const pos23 = () => [uniform([2, 3], 2, 0.3, 2)];
const kinked = () => [awayFromZero([2, 3], 3)];
// Away from integers and from the halves where round jumps.
const fractional = () => [f64([0.2, 1.3, -0.7, 2.1, -1.6, 0.4], [2, 3])];

const cases: Case[] = [
  { name: 'neg', f: T.neg, inputs: x23 },
  { name: 'abs', f: T.abs, inputs: kinked },
  { name: 'sign', f: T.sign, inputs: kinked },
  { name: 'exp', f: T.exp, inputs: x23 },
  { name: 'expm1', f: T.expm1, inputs: x23 },
  { name: 'log', f: T.log, inputs: pos23 },
  { name: 'log1p', f: T.log1p, inputs: x23 },
  { name: 'sqrt', f: T.sqrt, inputs: pos23 },
  { name: 'rsqrt', f: T.rsqrt, inputs: pos23 },
  { name: 'reciprocal', f: T.reciprocal, inputs: kinked },
  { name: 'sin', f: T.sin, inputs: x23 },
  { name: 'cos', f: T.cos, inputs: x23 },
  { name: 'tan', f: T.tan, inputs: x23 },
  { name: 'tanh', f: T.tanh, inputs: x23 },
  { name: 'sigmoid', f: T.sigmoid, inputs: x23 },
  { name: 'relu', f: T.relu, inputs: kinked },
  { name: 'silu', f: T.silu, inputs: x23 },
  { name: 'erf', f: T.erf, inputs: x23 },
  { name: 'floor', f: T.floor, inputs: fractional },
  { name: 'ceil', f: T.ceil, inputs: fractional },
  { name: 'round', f: T.round, inputs: fractional },
  { name: 'trunc', f: T.trunc, inputs: fractional },
  { name: 'leakyRelu (default slope)', f: (x) => T.leakyRelu(x), inputs: kinked },
  { name: 'leakyRelu (slope 0.3)', f: (x) => T.leakyRelu(x, 0.3), inputs: kinked },
  { name: 'elu (default alpha)', f: (x) => T.elu(x), inputs: kinked },
  { name: 'elu (alpha 1.7)', f: (x) => T.elu(x, 1.7), inputs: kinked },
  { name: 'gelu', f: (x) => T.gelu(x), inputs: () => [uniform([2, 3], 4, -3, 3)] },
  { name: 'gelu (tanh)', f: (x) => T.gelu(x, { approximate: 'tanh' }), inputs: () => [uniform([2, 3], 4, -3, 3)] },
  { name: 'softplus', f: (x) => T.softplus(x), inputs: () => [uniform([2, 3], 5, -3, 3)] },
  // beta x crosses the threshold (x = 0.5) in both directions, away from it.
  { name: 'softplus (beta 2, threshold 1)', f: (x) => T.softplus(x, { beta: 2, threshold: 1 }), inputs: () => [f64([-1, 0.1, 0.3, 0.7, 1.2, 2], [2, 3])] },
  { name: 'clamp (numbers)', f: (x) => T.clamp(x, -0.5, 0.5), inputs: () => [f64([-0.9, -0.3, 0.1, 0.45, 0.7, -0.6], [2, 3])] },
  { name: 'clamp (min only)', f: (x) => T.clamp(x, -0.5), inputs: () => [f64([-0.9, -0.3, 0.1, 0.45, 0.7, -0.6], [2, 3])] },
  { name: 'clamp (max only)', f: (x) => T.clamp(x, null, 0.2), inputs: () => [f64([-0.9, -0.3, 0.1, 0.45, 0.7, -0.6], [2, 3])] },
  {
    name: 'clamp (tensor bounds, broadcast)',
    f: (x, lo, hi) => T.clamp(x, lo, hi),
    inputs: () => [f64([-0.9, -0.3, 0.1, 0.45, 0.7, -0.6], [2, 3]), f64([-0.5, 0, 0.2], [3]), f64([0.3, 0.5], [2, 1])],
  },
  { name: 'clamp (tensor min, number max)', f: (x, lo) => T.clamp(x, lo, 0.4), inputs: () => [f64([-0.9, -0.3, 0.1, 0.45, 0.7, -0.6], [2, 3]), f64([-0.5, 0, 0.2], [3])] },
  { name: 'clamp (crossed bounds)', f: (x, lo, hi) => T.clamp(x, lo, hi), inputs: () => [f64([-0.9, 0.3, 1.2], [3]), f64([0.5, 0.5, 0.5], [3]), f64([0.1, 0.1, 0.1], [3])] },
  { name: 'cast (float64 to float64)', f: (x) => T.cast(x, 'float64'), inputs: x23 },
  { name: 'add (broadcast)', f: T.add, inputs: () => [uniform([2, 3], 6), uniform([3], 7)] },
  // relu's own gradient op: linear in the gradient, constant in the (kink-free) input
  { name: 'reluBackward (broadcast input)', f: T.reluBackward, inputs: () => [uniform([2, 3], 8), f64([-0.7, 0.4, 1.1], [3])] },
  { name: 'add (number)', f: (x) => T.add(2, x), inputs: x23 },
  { name: 'sub (broadcast)', f: T.sub, inputs: () => [uniform([2, 1], 6), uniform([2, 3], 7)] },
  { name: 'sub (number first)', f: (x) => T.sub(1.5, x), inputs: x23 },
  { name: 'mul (broadcast)', f: T.mul, inputs: () => [uniform([2, 3], 6), uniform([1, 3], 7)] },
  { name: 'mul (same tensor)', f: (x) => T.mul(x, x), inputs: x23 },
  { name: 'div (broadcast)', f: T.div, inputs: () => [uniform([2, 3], 6), awayFromZero([3], 7)] },
  { name: 'div (number numerator)', f: (x) => T.div(2, x), inputs: kinked },
  { name: 'div (number denominator)', f: (x) => T.div(x, 4), inputs: x23 },
  { name: 'pow (tensor, tensor, broadcast)', f: T.pow, inputs: () => [uniform([2, 3], 8, 0.3, 2), uniform([3], 9, -2, 2)] },
  { name: 'pow (number exponent)', f: (x) => T.pow(x, 3), inputs: x23 },
  { name: 'pow (fractional exponent)', f: (x) => T.pow(x, 2.5), inputs: pos23 },
  { name: 'pow (number base)', f: (x) => T.pow(2, x), inputs: x23 },
  { name: 'atan2 (broadcast)', f: T.atan2, inputs: () => [uniform([2, 3], 10), awayFromZero([3], 11)] },
  { name: 'atan2 (number)', f: (x) => T.atan2(x, -0.7), inputs: x23 },
  // a / b stays away from integers, where remainder jumps.
  { name: 'remainder (broadcast)', f: T.remainder, inputs: () => [f64([1.3, -0.4, 2.5, -1.7, 0.6, 3.1], [2, 3]), f64([0.8, 1.1, -0.9], [3])] },
  { name: 'minimum (broadcast)', f: T.minimum, inputs: () => [uniform([2, 3], 12), uniform([3], 13)] },
  { name: 'maximum (broadcast)', f: T.maximum, inputs: () => [uniform([2, 3], 12), uniform([3], 13)] },
  { name: 'maximum (number)', f: (x) => T.maximum(x, 0.1), inputs: kinked },
  { name: 'square', f: T.square, inputs: x23 },
  { name: 'where (broadcast)', f: (a, b) => T.where(T.gt(a, 0), a, b), inputs: () => [awayFromZero([2, 3], 14), uniform([3], 15)] },
  { name: 'where (number branch)', f: (a) => T.where(T.gt(a, 0), 0.5, T.mul(a, a)), inputs: kinked },
  { name: 'maskedFill (number)', f: (x) => T.maskedFill(x, T.tensor([true, false, true], { shape: [3] }), -1), inputs: x23 },
  {
    name: 'maskedFill (tensor value, broadcast)',
    f: (x, v) => T.maskedFill(x, T.tensor([true, false, true, false, false, true], { shape: [2, 3] }), v),
    inputs: () => [uniform([2, 3], 16), uniform([3], 17)],
  },
  { name: 'maskedFill (scalar tensor value)', f: (x, v) => T.maskedFill(x, T.tensor([false, true], { shape: [2, 1] }), v), inputs: () => [uniform([2, 3], 16), f64([0.7], [])] },
];

describe('elementwise rules: gradcheck and gradgradcheck (cpu, float64)', () => {
  for (const c of cases) {
    it(c.name, () => {
      const inputs = c.inputs();
      try {
        expect(gradcheck(c.f, inputs)).toBe(true);
        expect(gradgradcheck(c.f, inputs)).toBe(true);
      } finally {
        T.dispose(inputs);
      }
    });
  }
});

describe('elementwise rules: values at kinks and ties follow PyTorch', () => {
  const grad1 = (f: (x: Tensor) => Tensor, data: number[]) => {
    const x = T.tensor(data, { dtype: 'float64' }).requiresGrad_();
    T.tidy(() => backward(T.sum(f(x))));
    const g = Array.from(x.grad!.dataSync() as Float64Array);
    x.dispose();
    return g;
  };

  it('relu, abs and leakyRelu at 0, sign/floor have zero gradient', () => {
    expect(grad1(T.relu, [-1, 0, 2])).toEqual([0, 0, 1]);
    expect(grad1(T.abs, [-1, 0, 2])).toEqual([-1, 0, 1]);
    expect(grad1((x) => T.leakyRelu(x, 0.1), [-1, 0, 2])).toEqual([0.1, 0.1, 1]);
    expect(grad1(T.sign, [-1, 0, 2])).toEqual([0, 0, 0]);
    expect(grad1(T.floor, [-1.5, 0, 2.5])).toEqual([0, 0, 0]);
  });

  it('clamp passes the gradient on the bounds, and to crossed tensor bounds as torch does', async () => {
    expect(grad1((x) => T.clamp(x, -1, 1), [-2, -1, 0, 1, 2])).toEqual([0, 1, 1, 1, 0]);
    // torch.clamp(x, mn, mx) with x = [0, 1, 2, 3], mn = [1, 1, 1, 2.5], mx = [1, 2, 1.5, 2.5].
    const x = T.tensor([0, 1, 2, 3], { dtype: 'float64' }).requiresGrad_();
    const mn = T.tensor([1, 1, 1, 2.5], { dtype: 'float64' }).requiresGrad_();
    const mx = T.tensor([1, 2, 1.5, 2.5], { dtype: 'float64' }).requiresGrad_();
    T.tidy(() => backward(T.sum(T.clamp(x, mn, mx))));
    await expectClose(x.grad!, [0, 1, 0, 0]);
    await expectClose(mn.grad!, [0, 0, 0, 0]);
    await expectClose(mx.grad!, [0, 0, 1, 1]);
    T.dispose([x, mn, mx]);
  });

  it('minimum and maximum split the gradient evenly on ties', async () => {
    const a = T.tensor([1, 2, 3], { dtype: 'float64' }).requiresGrad_();
    const b = T.tensor([1, 5, 0], { dtype: 'float64' }).requiresGrad_();
    T.tidy(() => backward(T.sum(T.maximum(a, b))));
    await expectClose(a.grad!, [0.5, 0, 1]);
    await expectClose(b.grad!, [0.5, 1, 0]);
    T.dispose([a.grad!, b.grad!]);
    a.grad = null;
    b.grad = null;
    T.tidy(() => backward(T.sum(T.minimum(a, b))));
    await expectClose(a.grad!, [0.5, 1, 0]);
    await expectClose(b.grad!, [0.5, 0, 1]);
    T.dispose([a, b]);
  });

  it('pow at base 0 matches torch (zero exponent gradient, zero base gradient for exponent 0)', async () => {
    const a = T.tensor([0, 0, 2], { dtype: 'float64' }).requiresGrad_();
    const b = T.tensor([2, 0, -1], { dtype: 'float64' }).requiresGrad_();
    T.tidy(() => backward(T.sum(T.pow(a, b))));
    await expectClose(a.grad!, [0, 0, -0.25]);
    await expectClose(b.grad!, [0, 0, 0.5 * Math.log(2)]);
    expect(grad1((x) => T.pow(0, x), [0, 0, 2])).toEqual([0, 0, 0]);
    expect(grad1((x) => T.pow(x, 0), [0, 2])).toEqual([0, 0]);
    T.dispose([a, b]);
  });

  it('cast passes the gradient between float dtypes, in the input dtype, and stops at integers', async () => {
    const x = T.tensor([1.5, -2, 3], { dtype: 'float64' }).requiresGrad_();
    T.tidy(() => backward(T.sum(T.square(T.cast(x, 'float32')))));
    expect(x.grad!.dtype).toBe('float64');
    await expectClose(x.grad!, [3, -4, 6]);
    x.grad!.dispose();
    x.grad = null;
    // The integer copy is a constant: only the outer x carries a gradient.
    T.tidy(() => backward(T.sum(T.mul(x, T.cast(T.cast(x, 'int32'), 'float64')))));
    await expectClose(x.grad!, [1, -2, 3]);
    x.dispose();
  });

  it('maskedFill sends the masked gradients to a tensor value', async () => {
    const x = T.tensor([1, 2, 3, 4], { dtype: 'float64', shape: [2, 2] }).requiresGrad_();
    const v = T.tensor(5, { dtype: 'float64' }).requiresGrad_();
    const mask = T.tensor([true, false, true, true], { shape: [2, 2] });
    T.tidy(() => backward(T.sum(T.mul(T.maskedFill(x, mask, v), T.tensor([1, 2, 3, 4], { dtype: 'float64', shape: [2, 2] })))));
    await expectClose(x.grad!, [0, 2, 0, 0]);
    await expectClose(v.grad!, 8);
    T.dispose([x, v, mask]);
  });

  it('where gives no gradient to the condition or to integer branches', async () => {
    const a = T.tensor([1, -2, 3], { dtype: 'float64' }).requiresGrad_();
    const [g] = gradOf([T.sum(T.where(T.gt(a, 0), a, T.tensor([7, 8, 9], { dtype: 'int32' })))], [a]);
    await expectClose(g!, [1, 0, 1]);
    T.dispose([a, g!]);
  });
});

const gpuCases: Case[] = [
  { name: 'mul (broadcast)', f: T.mul, inputs: () => [uniform([4, 5], 20), uniform([5], 21)] },
  { name: 'div (broadcast)', f: T.div, inputs: () => [uniform([4, 5], 22), awayFromZero([4, 1], 23)] },
  { name: 'pow (broadcast)', f: T.pow, inputs: () => [uniform([4, 5], 24, 0.3, 2), uniform([5], 25, -2, 2)] },
  { name: 'pow (number)', f: (x) => T.pow(x, 3), inputs: () => [uniform([4, 5], 26)] },
  { name: 'tanh', f: T.tanh, inputs: () => [uniform([4, 5], 27, -3, 3)] },
  { name: 'gelu', f: (x) => T.gelu(x), inputs: () => [uniform([4, 5], 28, -3, 3)] },
  { name: 'gelu (tanh)', f: (x) => T.gelu(x, { approximate: 'tanh' }), inputs: () => [uniform([4, 5], 28, -3, 3)] },
  { name: 'softplus', f: (x) => T.softplus(x, { beta: 2, threshold: 3 }), inputs: () => [uniform([4, 5], 29, -3, 3)] },
  { name: 'clamp', f: (x, lo) => T.clamp(x, lo, 0.5), inputs: () => [uniform([4, 5], 30), uniform([5], 31, -0.5, 0)] },
  { name: 'where', f: (a, b) => T.where(T.gt(a, 0), T.sin(a), b), inputs: () => [awayFromZero([4, 5], 32), uniform([1, 5], 33)] },
  { name: 'sigmoid, silu, elu', f: (x) => T.add(T.mul(T.sigmoid(x), T.silu(x)), T.elu(x)), inputs: () => [awayFromZero([4, 5], 34)] },
  { name: 'atan2', f: T.atan2, inputs: () => [uniform([4, 5], 35), awayFromZero([5], 36)] },
  { name: 'maximum, minimum', f: (a, b) => T.add(T.maximum(a, b), T.mul(T.minimum(a, b), 2)), inputs: () => [uniform([4, 5], 37), uniform([5], 38)] },
  { name: 'maskedFill (tensor value)', f: (x, v) => T.maskedFill(x, T.gt(x, 0.2), v), inputs: () => [uniform([4, 5], 39), uniform([5], 40)] },
  { name: 'neg', f: T.neg, inputs: () => [uniform([4, 5], 50)] },
  { name: 'abs', f: T.abs, inputs: () => [awayFromZero([4, 5], 51)] },
  { name: 'sign, floor, ceil, round, trunc (zero gradients)', f: (x) => T.add(T.mul(T.add(T.add(T.sign(x), T.floor(x)), T.add(T.ceil(x), T.trunc(x))), T.round(x)), x), inputs: () => [f64([0.2, 1.3, -0.7, 2.1, -1.6, 0.4, 2.8, -2.3, 0.9, -0.1], [2, 5])] },
  { name: 'exp', f: T.exp, inputs: () => [uniform([4, 5], 52, -2, 2)] },
  { name: 'expm1', f: T.expm1, inputs: () => [uniform([4, 5], 53, -2, 2)] },
  { name: 'log', f: T.log, inputs: () => [uniform([4, 5], 54, 0.3, 2)] },
  { name: 'log1p', f: T.log1p, inputs: () => [uniform([4, 5], 55, -0.5, 2)] },
  { name: 'sqrt', f: T.sqrt, inputs: () => [uniform([4, 5], 56, 0.3, 2)] },
  { name: 'rsqrt', f: T.rsqrt, inputs: () => [uniform([4, 5], 57, 0.3, 2)] },
  { name: 'reciprocal', f: T.reciprocal, inputs: () => [awayFromZero([4, 5], 58)] },
  { name: 'cos', f: T.cos, inputs: () => [uniform([4, 5], 59, -3, 3)] },
  { name: 'tan', f: T.tan, inputs: () => [uniform([4, 5], 60)] },
  { name: 'relu', f: T.relu, inputs: () => [awayFromZero([4, 5], 61)] },
  { name: 'erf', f: T.erf, inputs: () => [uniform([4, 5], 62, -2, 2)] },
  { name: 'leakyRelu', f: (x) => T.leakyRelu(x, 0.3), inputs: () => [awayFromZero([4, 5], 63)] },
  { name: 'square', f: T.square, inputs: () => [uniform([4, 5], 64)] },
  // The float-to-float cast passes the gradient; the integer copy is a constant.
  { name: 'cast', f: (x) => T.add(T.square(T.cast(x, 'float32')), T.mul(x, T.cast(T.cast(x, 'int32'), 'float32'))), inputs: () => [f64([0.2, 1.3, -0.7, 2.1, -1.6, 0.4], [2, 3])] },
  { name: 'add (broadcast, number)', f: (a, b) => T.add(T.add(a, b), 2), inputs: () => [uniform([4, 5], 65), uniform([5], 66)] },
  { name: 'sub (broadcast, number first)', f: (a, b) => T.sub(1.5, T.sub(a, b)), inputs: () => [uniform([4, 1], 67), uniform([4, 5], 68)] },
  // a / b stays away from integers, where remainder jumps.
  { name: 'remainder (broadcast)', f: T.remainder, inputs: () => [f64([1.3, -0.4, 2.5, -1.7, 0.6, 3.1], [2, 3]), f64([0.8, 1.1, -0.9], [3])] },
  { name: 'reshape', f: (x) => T.mul(T.reshape(x, [5, 4]), T.reshape(x, [5, 4])), inputs: () => [uniform([4, 5], 69)] },
];

describe.runIf(BACKENDS.includes('webgpu'))('elementwise rules: webgpu gradients match cpu (float32)', () => {
  for (const c of gpuCases) it(c.name, () => expectGradsMatchAcrossDevices(c.f, c.inputs()));
});

describe('elementwise rules: memory stays flat over 50 forward + backward steps', () => {
  for (const device of BACKENDS) {
    it(device, () => {
      const dtype = device === 'webgpu' ? 'float32' : 'float64';
      const x = T.tensor(Array.from(seeded(12, 41)), { dtype, device, shape: [3, 4] }).requiresGrad_();
      const b = T.tensor(Array.from(seeded(4, 42)), { dtype, device, shape: [4] }).requiresGrad_();
      const mask = T.tensor([true, false, false, true], { device, shape: [4] });
      let before: { tensors: number; bytes: number } | null = null;
      for (let step = 0; step < 50; step++) {
        T.tidy(() => {
          const h = T.gelu(T.add(T.mul(x, b), T.pow(T.div(x, T.add(T.abs(b), 1)), 2)));
          const y = T.maskedFill(T.clamp(T.where(T.gt(h, 0), T.tanh(h), T.softplus(h)), -0.9, 0.9), mask, 0);
          backward(T.sum(T.maximum(T.mul(y, T.exp(T.neg(y))), T.sigmoid(x))));
        });
        T.dispose([x.grad!, b.grad!]);
        x.grad = null;
        b.grad = null;
        if (step === 2) before = { tensors: T.memory().tensors, bytes: T.memory().bytes };
      }
      expect({ tensors: T.memory().tensors, bytes: T.memory().bytes }).toEqual(before);
      T.dispose([x, b, mask]);
    });
  }
});
