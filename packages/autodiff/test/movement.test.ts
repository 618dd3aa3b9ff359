import { beforeAll, describe, expect, it } from 'vitest';
import * as T from '@tessera/tensor';
import type { Tensor } from '@tessera/tensor';
import { backward, gradcheck, gradgradcheck } from '../src/index.js';
import { BACKENDS, expectGradsMatchAcrossDevices, forEachBackend, randnWeights, useDevices } from './helpers.js';

useDevices();
// gradcheck makes its float64 cotangents on the default device, which init moved to webgpu.
beforeAll(() => T.setDefaultDevice('cpu'));

const gen = new T.Generator(7);
const rnd = (shape: number[]) => T.randn(shape, { dtype: 'float64', generator: gen });
const sq = (y: Tensor) => T.mul(y, y);

type Case = [name: string, f: (...xs: Tensor[]) => Tensor | Tensor[], shapes: number[][]];

// Outputs are squared so that second order runs the rules on cotangents that depend on the input.
const unary = (op: (x: Tensor) => Tensor) => (x: Tensor) => sq(op(x));

const cases: Case[] = [
  ['contiguous of a transposed view', unary((x) => T.contiguous(T.transpose(x, 0, 1))), [[2, 3]]],
  ['clone', unary((x) => T.clone(x)), [[2, 3]]],
  ['view', unary((x) => T.view(x, [3, 2])), [[2, 3]]],
  ['permute', unary((x) => T.permute(x, [2, 0, -2])), [[2, 3, 4]]],
  ['transpose (default dims)', unary((x) => T.transpose(x)), [[2, 3, 2]]],
  ['transpose (0, 2)', unary((x) => T.transpose(x, 0, 2)), [[2, 3, 2]]],
  ['transpose of a 1-d tensor', unary((x) => T.transpose(x)), [[3]]],
  ['expand', unary((x) => T.expand(x, [2, 3, 4])), [[3, 1]]],
  ['expand with -1', unary((x) => T.expand(x, [2, -1, 4])), [[3, 1]]],
  ['broadcastTo', unary((x) => T.broadcastTo(x, [2, 3])), [[3]]],
  ['broadcastTensors', (a, b) => T.broadcastTensors(a, b).map(sq), [[2, 1], [3]]],
  ['broadcastTensors, one output unused', (a, b) => sq(T.broadcastTensors(a, b)[1]), [[2, 1], [3]]],
  ['unsqueeze', unary((x) => T.unsqueeze(x, -1)), [[2, 3]]],
  ['squeeze all', unary((x) => T.squeeze(x)), [[2, 1, 3, 1]]],
  ['squeeze one dim', unary((x) => T.squeeze(x, 1)), [[2, 1, 3, 1]]],
  ['flatten', unary((x) => T.flatten(x, 1)), [[2, 3, 2]]],
  ['unflatten', unary((x) => T.unflatten(x, 1, [2, 3])), [[2, 6]]],
  ['slice', unary((x) => T.slice(x, 1, 1, 3)), [[2, 4]]],
  ['slice with negative bounds', unary((x) => T.slice(x, -1, -3, -1)), [[2, 4]]],
  ['slice with step', unary((x) => T.slice(x, 0, 1, 7, 2)), [[7, 2]]],
  ['slice with step and ragged tail', unary((x) => T.slice(x, 1, 0, undefined, 3)), [[2, 5]]],
  ['slice of a non-contiguous view', unary((x) => T.slice(T.transpose(x), 0, 1, undefined, 2)), [[3, 5]]],
  ['narrow', unary((x) => T.narrow(x, 0, 1, 2)), [[4, 2]]],
  ['narrow with negative start', unary((x) => T.narrow(x, 1, -2, 2)), [[2, 4]]],
  ['select', unary((x) => T.select(x, 1, 2)), [[2, 3, 2]]],
  ['select with negative index', unary((x) => T.select(x, 0, -1)), [[3, 2]]],
  ['flip', unary((x) => T.flip(x, [0, -1])), [[2, 3]]],
  ['cat', (a, b, c) => sq(T.cat([a, b, c], 1)), [[2, 1], [2, 3], [2, 2]]],
  ['cat on a negative dim with the same tensor twice', (a, b) => sq(T.cat([a, b, a], -1)), [[2, 2], [2, 1]]],
  ['cat skipping 1-d empty tensors', (a, b) => sq(T.cat([a, T.zeros([0], { dtype: 'float64' }), b])), [[2], [3]]],
  ['stack', (a, b) => sq(T.stack([a, b], 1)), [[2, 3], [2, 3]]],
  ['stack on the last dim', (a, b) => sq(T.stack([a, b], -1)), [[2, 3], [2, 3]]],
  ['split by size', (x) => T.split(x, 2, 1).map(sq), [[2, 5]]],
  ['split by sections, an output unused', (x) => T.split(x, [1, 3], 0).slice(1).map(sq), [[4, 2]]],
  ['chunk', (x) => T.chunk(x, 3, -1).map(sq), [[2, 7]]],
  ['chunk, an output unused', (x) => [sq(T.chunk(x, 2)[0])], [[4, 2]]],
  ['unbind', (x) => T.unbind(x, 1).map(sq), [[2, 3]]],
  ['unbind, outputs unused', (x) => [sq(T.unbind(x)[1])], [[3, 2]]],
  ['pad constant', unary((x) => T.pad(x, [1, 2, 0, 1], { value: 0.5 })), [[2, 3]]],
  ['pad constant with cropping', unary((x) => T.pad(x, [-1, 2, 1, -1])), [[3, 4]]],
  ['pad reflect', unary((x) => T.pad(x, [2, 1], { mode: 'reflect' })), [[2, 4]]],
  ['pad reflect on two dims', unary((x) => T.pad(x, [1, 2, 2, 1], { mode: 'reflect' })), [[3, 4]]],
  ['pad replicate', unary((x) => T.pad(x, [2, 3, 1, 0], { mode: 'replicate' })), [[2, 3]]],
  ['pad circular', unary((x) => T.pad(x, [2, 1, 0, 3], { mode: 'circular' })), [[3, 3]]],
  ['roll', unary((x) => T.roll(x, [1, -2], [0, 1])), [[3, 4]]],
  ['roll flattened', unary((x) => T.roll(x, 4)), [[2, 3]]],
  ['repeat', unary((x) => T.repeat(x, [2, 1, 3])), [[2, 2]]],
  ['repeat with a zero', unary((x) => T.repeat(x, [0, 2])), [[2, 2]]],
  ['tril', unary((x) => T.tril(x)), [[3, 3]]],
  ['tril with a diagonal', unary((x) => T.tril(x, -1)), [[2, 3, 4]]],
  ['triu', unary((x) => T.triu(x, 1)), [[3, 4]]],
];

describe('movement rules', () => {
  for (const [name, f, shapes] of cases) {
    it(`${name}: gradcheck and gradgradcheck`, () => {
      const xs = shapes.map(rnd);
      expect(gradcheck(f, xs)).toBe(true);
      expect(gradgradcheck(f, xs)).toBe(true);
      T.dispose(xs);
    });
  }

  it('gives exact slice / pad gradients', () => {
    const x = T.arange(0, 6, 1, { dtype: 'float64' }).requiresGrad_();
    T.tidy(() => backward(T.sum(T.mul(T.slice(x, 0, 1, 6, 2), T.tensor([1, 2, 3], { dtype: 'float64' })))));
    expect(Array.from(x.grad!.dataSync())).toEqual([0, 1, 0, 2, 0, 3]);
    x.grad!.dispose();
    x.grad = null;
    T.tidy(() => backward(T.sum(T.pad(x, [2, 1], { mode: 'replicate' }))));
    expect(Array.from(x.grad!.dataSync())).toEqual([3, 1, 1, 1, 1, 2]);
    T.dispose([x.grad!, x]);
  });
});

const deviceCases: [string, (...xs: Tensor[]) => Tensor | Tensor[], number[][]][] = [
  ['cat', (a, b) => T.cat([T.mul(a, a), b], 1), [[3, 2], [3, 4]]],
  ['pad constant', (x) => T.pad(T.mul(x, x), [1, 2, -1, 1]), [[4, 5]]],
  ['pad reflect', (x) => T.pad(x, [2, 2, 1, 1], { mode: 'reflect' }), [[4, 5]]],
  ['pad circular', (x) => T.pad(x, [1, 3], { mode: 'circular' }), [[2, 4]]],
  ['slice', (x) => T.slice(T.mul(x, x), 1, 1, 6, 2), [[3, 7]]],
  ['select and stack', (x) => T.stack([T.select(x, 0, 1), T.select(x, 0, -1)]), [[3, 4]]],
  ['pad replicate', (x) => T.pad(x, [2, 1, 1, 2], { mode: 'replicate' }), [[3, 4]]],
  ['contiguous of a transposed view', (x) => T.mul(T.contiguous(T.transpose(x, 0, 1)), x.reshape([4, 3])), [[3, 4]]],
  ['clone', (x) => T.mul(T.clone(x), x), [[3, 4]]],
  ['view, unsqueeze, squeeze', (x) => T.squeeze(T.unsqueeze(T.view(T.mul(x, x), [4, 3]), 1)), [[3, 4]]],
  ['flatten, unflatten', (x) => T.unflatten(T.flatten(T.mul(x, x)), 0, [6, 4]), [[2, 3, 4]]],
  ['permute', (x) => T.permute(T.mul(x, x), [2, 0, 1]), [[2, 3, 4]]],
  ['transpose', (x) => T.transpose(T.mul(x, x), 0, 2), [[2, 3, 4]]],
  ['expand', (x) => T.expand(T.mul(x, x), [2, 3, 4]), [[3, 1]]],
  ['broadcastTo', (x) => T.broadcastTo(T.mul(x, x), [3, 4]), [[4]]],
  ['broadcastTensors', (a, b) => T.broadcastTensors(T.mul(a, a), b), [[3, 1], [4]]],
  ['narrow', (x) => T.narrow(T.mul(x, x), 1, 1, 3), [[3, 5]]],
  ['flip', (x) => T.flip(T.mul(x, x), [0, -1]), [[3, 4]]],
  ['split', (x) => T.split(T.mul(x, x), [1, 3], 1), [[3, 4]]],
  ['chunk, an output unused', (x) => T.chunk(T.mul(x, x), 3, 0)[1], [[6, 2]]],
  ['unbind', (x) => T.unbind(T.mul(x, x), 1), [[3, 4]]],
  ['roll', (x) => T.roll(T.mul(x, x), [1, -2], [0, 1]), [[3, 4]]],
  ['repeat', (x) => T.repeat(T.mul(x, x), [2, 1, 3]), [[2, 3]]],
  ['tril, triu', (x) => T.add(T.tril(T.mul(x, x), -1), T.triu(x, 1)), [[4, 4]]],
];

describe('movement rules: webgpu gradients match cpu', () => {
  const gpu = BACKENDS.includes('webgpu');
  for (const [name, f, shapes] of deviceCases) {
    it.runIf(gpu)(name, () =>
      expectGradsMatchAcrossDevices(
        f,
        shapes.map((s, i) => T.randn(s, { generator: new T.Generator(11 + i), device: 'cpu' })),
        { weights: randnWeights(3) },
      ),
    );
  }
});

forEachBackend('movement rules: memory', (device) => {
  it('stays flat over 50 forward + backward steps', async () => {
    const x = T.randn([4, 6], { device }).requiresGrad_();
    const y = T.randn([4, 2], { device }).requiresGrad_();
    const step = () =>
      T.tidy(() => {
        const parts = T.split(T.cat([x, y], 1), [3, 5], 1);
        const a = T.pad(T.slice(parts[1], 0, 0, 4, 2), [1, 1, 0, 0], { mode: 'reflect' });
        const b = T.repeat(T.flip(T.transpose(T.select(T.stack([x, x]), 0, 1)), 0), [1, 2]);
        const loss = T.add(T.sum(T.mul(a, a)), T.sum(T.mul(T.roll(T.expand(T.unsqueeze(b, 0), [2, 6, 8]), 1, 2), b)));
        backward(loss);
      });
    let before: T.MemoryInfo | null = null;
    for (let i = 0; i < 50; i++) {
      step();
      await x.grad!.data();
      T.dispose([x.grad!, y.grad!]);
      x.grad = null;
      y.grad = null;
      if (i === 2) before = T.memory();
    }
    expect(T.memory().tensors).toBe(before!.tensors);
    expect(T.memory().bytes).toBe(before!.bytes);
    T.dispose([x, y]);
  });
});
