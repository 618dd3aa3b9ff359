import { describe, expect, it } from 'vitest';
import * as T from '@tessera/tensor';
import { backward, gradcheck, gradgradcheck, gradOf } from '../src/index.js';

describe('engine', () => {
  it('accumulates gradients of a small expression', () => {
    const x = T.tensor([1, 2, 3], { dtype: 'float64' }).requiresGrad_();
    const y = T.tensor([4, 5, 6], { dtype: 'float64' }).requiresGrad_();
    const before = T.memory().tensors;
    T.tidy(() => backward(T.sum(T.add(T.mul(x, y), T.exp(x)))));
    expect(Array.from(x.grad!.dataSync())).toEqual([4 + Math.exp(1), 5 + Math.exp(2), 6 + Math.exp(3)]);
    expect(Array.from(y.grad!.dataSync())).toEqual([1, 2, 3]);
    expect(T.memory().tensors).toBe(before + 2); // the two .grad tensors
    T.dispose([x, y]);
    expect(T.memory().tensors).toBe(before - 2);
  });

  it('passes gradcheck and gradgradcheck', () => {
    const a = T.randn([3, 4], { dtype: 'float64' });
    const b = T.randn([4], { dtype: 'float64' });
    const f = (p: T.Tensor, q: T.Tensor) => T.exp(T.mul(T.add(p, q), p));
    expect(gradcheck(f, [a, b])).toBe(true);
    expect(gradgradcheck(f, [a, b])).toBe(true);
    T.dispose([a, b]);
  });

  it('keeps memory flat over training-like steps', () => {
    const w = T.randn([8], { dtype: 'float64' }).requiresGrad_();
    let before = -1;
    for (let i = 0; i < 50; i++) {
      T.tidy(() => {
        const loss = T.sum(T.mul(T.exp(w), w));
        backward(loss);
      });
      w.grad!.dispose();
      w.grad = null;
      if (i === 2) before = T.memory().tensors;
    }
    expect(T.memory().tensors).toBe(before);
    const [g] = gradOf([T.sum(T.mul(w, w))], [w]);
    expect(Array.from(g!.dataSync()).every((v, i) => Math.abs(v - 2 * w.dataSync()[i]) < 1e-12)).toBe(true);
  });

  it('gradOf w.r.t. an intermediate stops there and leaves the upstream graph usable', () => {
    const x = T.tensor([0.5, -1, 2], { dtype: 'float64' }).requiresGrad_();
    T.tidy(() => {
      const h = T.exp(x);
      const y = T.sum(T.mul(h, h));
      const [gh] = gradOf([y], [h]);
      expect(Array.from(gh!.dataSync())).toEqual(Array.from(T.mul(h, 2).dataSync()));
      // The exp node was not run nor freed: a backward through it still works.
      backward(T.sum(h));
      expect(Array.from(x.grad!.dataSync())).toEqual(Array.from(h.dataSync()));
    });
    x.dispose();
  });

  it('keeps a sparse operand alive for backward after the user disposes it', () => {
    const x = T.tensor([[1, 2], [3, 4], [5, 6]], { dtype: 'float64' }).requiresGrad_();
    const before = T.memory().tensors;
    const indices = T.tensor([[0, 1, 1], [2, 0, 1]], { dtype: 'int32' });
    const values = T.tensor([2, -1, 3], { dtype: 'float64' });
    const a = T.sparseCooTensor(indices, values, [2, 3]);
    T.dispose([indices, values]);
    const y = T.spmm(a, x);
    a.dispose();
    const loss = T.sum(y);
    backward(loss);
    // d/dx sum(A x) = A^T 1: column sums of A spread over x's columns
    expect(Array.from(x.grad!.dataSync())).toEqual([-1, -1, 3, 3, 2, 2]);
    T.dispose([y, loss]);
    x.grad!.dispose();
    x.grad = null;
    expect(T.memory().tensors).toBe(before);
    x.dispose();
  });

  it('records Tensor methods, including float(), mT and methods of other op families', () => {
    const x = T.tensor([[1, 2], [3, 4]], { dtype: 'float64' }).requiresGrad_();
    T.tidy(() => {
      backward(x.mul(x).mT.float().sum());
      expect(Array.from(x.grad!.dataSync())).toEqual([2, 4, 6, 8]);
      for (const t of [x.var(), x.sort().values, x.inverse(), x.gather(0, T.tensor([[0, 1]], { dtype: 'int32' }))]) {
        expect(t.requiresGrad).toBe(true);
      }
    });
    x.dispose();
  });
});

