/**
 * Memory stays flat (live tensors and bytes) over many forward-backward passes of a small MLP,
 * through the PyTorch face (backward into .grad, updated in place of the parameters) and the
 * functional face (valueAndGrad, gradients disposed each step).
 */
import { expect, it } from 'vitest';
import * as T from '@tessera/tensor';
import type { DeviceName, Tensor } from '@tessera/tensor';
import { backward, checkpoint, noGrad, valueAndGrad } from '../src/index.js';
import { floatFor, forEachBackend, seeded } from './helpers.js';

const STEPS = 1000;

forEachBackend('memory stays flat', (device: DeviceName) => {
  const dtype = floatFor(device);
  const param = (shape: number[], seed: number) => T.tensor(Array.from(seeded(shape[0] * (shape[1] ?? 1), seed), (v) => v * 0.5), { dtype, device, shape });
  const data = () => ({ x: param([4, 3], 1), y: param([4, 2], 2) });

  type Params = { w1: Tensor; b1: Tensor; w2: Tensor };
  const mlp = (p: Params, x: Tensor) => T.matmul(T.tanh(T.add(T.matmul(x, p.w1), p.b1)), p.w2);
  const mse = (p: Params, x: Tensor, y: Tensor) => T.mean(T.square(T.sub(mlp(p, x), y)));
  const fresh = (): Params => ({ w1: param([3, 5], 3), b1: param([5], 4), w2: param([5, 2], 5) });
  const snapshot = () => {
    const m = T.memory();
    return { tensors: m.tensors, bytes: m.bytes };
  };

  it(`${STEPS} backward + SGD steps (PyTorch face)`, () => {
    const { x, y } = data();
    const p = fresh();
    for (const t of Object.values(p)) t.requiresGrad_();
    let before = snapshot();
    let first = Infinity;
    let last = 0;
    for (let i = 0; i < STEPS; i++) {
      const loss = T.tidy(() => mse(p, x, y));
      backward(loss);
      if (device === 'cpu') {
        const v = loss.dataSync()[0];
        if (i === 0) first = v;
        last = v;
      }
      loss.dispose();
      // In-place-style update: replace each parameter's data, dropping its .grad.
      for (const k of Object.keys(p) as (keyof Params)[]) {
        const next = T.tidy(() => noGrad(() => T.sub(p[k], T.mul(p[k].grad!, 0.1))));
        p[k].dispose();
        p[k] = next.requiresGrad_();
      }
      if (i === 0) before = snapshot();
    }
    expect(snapshot()).toEqual(before);
    if (device === 'cpu') expect(last).toBeLessThan(first);
    T.dispose([p, x, y]);
  });

  it(`${STEPS / 4} valueAndGrad steps and checkpointed backward steps (functional face)`, () => {
    const { x, y } = data();
    const p = fresh();
    const step = valueAndGrad((p: Params) => mse(p, x, y));
    const ck = checkpoint((x: Tensor, w: Tensor) => T.tanh(T.matmul(x, w)));
    const w = param([3, 5], 6).requiresGrad_();
    let before = snapshot();
    for (let i = 0; i < STEPS / 4; i++) {
      const r = step(p);
      T.dispose(r);
      const loss = T.tidy(() => T.sum(ck(x, w)));
      backward(loss);
      loss.dispose();
      w.grad!.dispose();
      w.grad = null;
      if (i === 0) before = snapshot();
    }
    expect(snapshot()).toEqual(before);
    T.dispose([p, x, y, w]);
  });
});
