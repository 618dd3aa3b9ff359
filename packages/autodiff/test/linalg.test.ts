import { beforeAll, describe, expect, it } from 'vitest';
import * as T from '@tessera/tensor';
import type { Tensor } from '@tessera/tensor';
import { backward, detach, gradcheck, gradgradcheck } from '../src/index.js';
import { BACKENDS, expectGradsMatchAcrossDevices, forEachBackend, randnWeights, useDevices } from './helpers.js';

useDevices();
// gradcheck makes its float64 cotangents on the default device, which init moved to webgpu.
beforeAll(() => T.setDefaultDevice('cpu'));

const gen = new T.Generator(5);
const rnd = (shape: number[]) => T.randn(shape, { dtype: 'float64', generator: gen, device: 'cpu' });
/** Random matrices plus 3 I: comfortably invertible. */
const wellConditioned = (shape: number[]) =>
  T.tidy(() => T.add(rnd(shape), T.mul(T.eye(shape[shape.length - 1], shape[shape.length - 1], { dtype: 'float64', device: 'cpu' }), 3)));
const sq = (y: Tensor) => T.mul(y, y);
const mT = (x: Tensor) => T.transpose(x, -2, -1);
/** X X^T + 3 I: symmetric positive definite, and symmetric under any perturbation of X. */
const spd = (x: Tensor) => T.add(T.matmul(x, mT(x)), T.mul(T.eye(x.shape[x.rank - 1], x.shape[x.rank - 1], { dtype: x.dtype, device: x.device }), 3));
const symmetrize = (x: Tensor) => T.mul(T.add(x, mT(x)), 0.5);

type Case = [name: string, f: (...xs: Tensor[]) => Tensor | Tensor[], inputs: () => Tensor[]];
const shapes = (...s: number[][]) => () => s.map(rnd);

// Outputs are squared so that second order runs the rules on cotangents that depend on the inputs
// (and so that decompositions are checked through sign-invariant functions of their vectors).
const cases: Case[] = [
  ['matmul 2-d', (a, b) => sq(T.matmul(a, b)), shapes([2, 3], [3, 4])],
  ['matmul 2-d @ a transposed matrix (Linear)', (a, w) => sq(T.matmul(a, T.transpose(w, 0, 1))), shapes([2, 3], [4, 3])],
  ['matmul 1-d @ 2-d', (a, b) => sq(T.matmul(a, b)), shapes([3], [3, 2])],
  ['matmul 2-d @ 1-d', (a, b) => sq(T.matmul(a, b)), shapes([2, 3], [3])],
  ['matmul 1-d @ 1-d', (a, b) => sq(T.matmul(a, b)), shapes([3], [3])],
  ['matmul batch broadcast', (a, b) => sq(T.matmul(a, b)), shapes([2, 1, 2, 3], [3, 3, 2])],
  ['matmul 1-d @ batched', (a, b) => sq(T.matmul(a, b)), shapes([3], [2, 3, 2])],
  ['matmul batched @ 1-d', (a, b) => sq(T.matmul(a, b)), shapes([2, 2, 3], [3])],
  ['matmul with the same operand twice', (a) => sq(T.matmul(a, a)), shapes([3, 3])],
  ['mm', (a, b) => sq(T.mm(a, b)), shapes([2, 3], [3, 2])],
  ['bmm', (a, b) => sq(T.bmm(a, b)), shapes([2, 2, 3], [2, 3, 2])],
  ['dot', (a, b) => sq(T.dot(a, b)), shapes([4], [4])],
  ['outer', (a, b) => sq(T.outer(a, b)), shapes([3], [2])],
  ['einsum ij,jk->ik', (a, b) => sq(T.einsum('ij,jk->ik', a, b)), shapes([2, 3], [3, 2])],
  ['einsum implicit output', (a, b) => sq(T.einsum('ij,jk', a, b)), shapes([2, 3], [3, 2])],
  ['einsum batched bij,bjk->bik', (a, b) => sq(T.einsum('bij,bjk->bik', a, b)), shapes([2, 2, 3], [2, 3, 2])],
  ['einsum broadcast batch', (a, b) => sq(T.einsum('bij,bjk->bik', a, b)), shapes([1, 2, 3], [2, 3, 2])],
  ['einsum index summed from one operand', (a, b) => sq(T.einsum('ij,kl->il', a, b)), shapes([2, 3], [2, 2])],
  ['einsum transposed output', (a, b) => sq(T.einsum('ij,kj->ki', a, b)), shapes([2, 3], [2, 3])],
  ['einsum i,i->', (a, b) => sq(T.einsum('i,i->', a, b)), shapes([3], [3])],
  ['einsum i,j->ij', (a, b) => sq(T.einsum('i,j->ij', a, b)), shapes([3], [2])],
  ['einsum ij->ji', (a) => sq(T.einsum('ij->ji', a)), shapes([2, 3])],
  ['einsum ij->', (a) => sq(T.einsum('ij->', a)), shapes([2, 3])],
  ['einsum ijk->ki', (a) => sq(T.einsum('ijk->ki', a)), shapes([2, 3, 2])],
  ['inv', (a) => sq(T.inv(a)), () => [wellConditioned([3, 3])]],
  ['inv batched', (a) => sq(T.inv(a)), () => [wellConditioned([2, 3, 3])]],
  ['det', (a) => sq(T.det(a)), () => [wellConditioned([3, 3])]],
  ['det batched', (a) => sq(T.det(a)), () => [wellConditioned([2, 2, 2])]],
  ['slogdet logabsdet', (a) => sq(T.slogdet(a).logabsdet), () => [wellConditioned([2, 3, 3])]],
  ['slogdet of a negative determinant, both outputs', (a) => { const r = T.slogdet(T.neg(a)); return [r.sign, sq(r.logabsdet)]; }, () => [wellConditioned([3, 3])]],
  ['solve matrix rhs', (a, b) => sq(T.solve(a, b)), () => [wellConditioned([3, 3]), rnd([3, 2])]],
  ['solve vector rhs', (a, b) => sq(T.solve(a, b)), () => [wellConditioned([3, 3]), rnd([3])]],
  ['solve batched vector rhs', (a, b) => sq(T.solve(a, b)), () => [wellConditioned([2, 3, 3]), rnd([2, 3])]],
  ['solve broadcast A', (a, b) => sq(T.solve(a, b)), () => [wellConditioned([3, 3]), rnd([2, 3, 2])]],
  ['solve broadcast 1-d rhs', (a, b) => sq(T.solve(a, b)), () => [wellConditioned([2, 3, 3]), rnd([3])]],
  ['solve broadcast both', (a, b) => sq(T.solve(a, b)), () => [wellConditioned([2, 1, 2, 2]), rnd([3, 2, 1])]],
  ['cholesky', (x) => sq(T.cholesky(spd(x))), shapes([3, 3])],
  ['cholesky upper', (x) => sq(T.cholesky(spd(x), { upper: true })), shapes([3, 3])],
  ['cholesky batched', (x) => sq(T.cholesky(spd(x))), shapes([2, 3, 3])],
  ['qr square', (a) => { const { Q, R } = T.qr(a); return [sq(Q), sq(R)]; }, () => [wellConditioned([3, 3])]],
  ['qr tall', (a) => { const { Q, R } = T.qr(a); return [sq(Q), sq(R)]; }, shapes([4, 3])],
  ['qr tall batched', (a) => { const { Q, R } = T.qr(a); return [sq(Q), sq(R)]; }, shapes([2, 4, 2])],
  ['qr wide', (a) => { const { Q, R } = T.qr(a); return [sq(Q), sq(R)]; }, shapes([2, 4])],
  ['qr R only', (a) => sq(T.qr(a).R), shapes([4, 3])],
  ['qr Q only, complete mode on a square matrix', (a) => sq(T.qr(a, { mode: 'complete' }).Q), shapes([3, 3])],
  ['eigh', (x) => { const { eigenvalues, eigenvectors } = T.eigh(symmetrize(x)); return [sq(eigenvalues), sq(eigenvectors)]; }, shapes([3, 3])],
  ['eigh eigenvalues only, batched', (x) => sq(T.eigh(symmetrize(x)).eigenvalues), shapes([2, 3, 3])],
  ['eigh eigenvectors only, upper triangle', (x) => sq(T.eigh(symmetrize(x), { UPLO: 'U' }).eigenvectors), shapes([3, 3])],
  ['svd S only', (a) => sq(T.svd(a).S), shapes([3, 2])],
  ['svd S only, full matrices', (a) => sq(T.svd(a, { fullMatrices: true }).S), shapes([2, 4])],
  ['svd square', (a) => { const { U, S, Vh } = T.svd(a); return [sq(U), sq(S), sq(Vh)]; }, shapes([3, 3])],
  ['svd tall', (a) => { const { U, S, Vh } = T.svd(a); return [sq(U), sq(S), sq(Vh)]; }, shapes([4, 2])],
  ['svd wide, batched', (a) => { const { U, S, Vh } = T.svd(a); return [sq(U), sq(S), sq(Vh)]; }, shapes([2, 2, 4])],
  ['svd U only', (a) => sq(T.svd(a).U), shapes([4, 3])],
  ['svd full matrices, tall, the paired columns of U', (a) => { const { U, S, Vh } = T.svd(a, { fullMatrices: true }); return [sq(T.slice(U, -1, 0, 2)), sq(S), sq(Vh)]; }, shapes([4, 2])],
  ['svd full matrices, wide, the paired rows of Vh', (a) => { const { U, Vh } = T.svd(a, { fullMatrices: true }); return [sq(U), sq(T.slice(Vh, -2, 0, 2))]; }, shapes([2, 3])],
  ['diagonal', (x) => sq(T.diagonal(x)), shapes([3, 3])],
  ['diagonal with a positive offset of a rectangle', (x) => sq(T.diagonal(x, { offset: 1 })), shapes([3, 4])],
  ['diagonal with a negative offset', (x) => sq(T.diagonal(x, { offset: -1 })), shapes([4, 3])],
  ['diagonal over other dims', (x) => sq(T.diagonal(x, { offset: 1, dim1: 2, dim2: 0 })), shapes([3, 2, 4])],
  ['diagonal past the edge (empty)', (x) => sq(T.diagonal(x, { offset: 4 })), shapes([2, 3])],
  ['trace', (x) => sq(T.trace(x)), shapes([3, 4])],
  ['trace batched', (x) => sq(T.trace(x)), shapes([2, 3, 3])],
];

describe('matmul and linear algebra rules', () => {
  for (const [name, f, make] of cases) {
    it(`${name}: gradcheck and gradgradcheck`, () => {
      const xs = make();
      expect(gradcheck(f, xs)).toBe(true);
      expect(gradgradcheck(f, xs)).toBe(true);
      T.dispose(xs);
    });
  }

  it('gives the matrix behind a transposed operand (x @ Wᵀ) a contiguous gradient', () => {
    const [x, w] = shapes([5, 3], [4, 3])();
    const wl = detach(w).requiresGrad_();
    backward(T.sum(T.matmul(x, T.transpose(wl, 0, 1))));
    expect(wl.grad!.isContiguous()).toBe(true);
    // d/dW of sum(x Wᵀ) = 1ᵀ x for every row of W
    const colSums = T.sum(x, { dim: 0 }).dataSync();
    const g = wl.grad!.dataSync();
    for (let o = 0; o < 4; o++) for (let i = 0; i < 3; i++) expect(g[o * 3 + i]).toBeCloseTo(colSums[i], 12);
    T.dispose([x, w, wl]);
  });

  it('gives the symmetric cholesky gradient, as PyTorch', () => {
    // torch.linalg.cholesky(A).sum().backward() for A = [[4, 2], [2, 3]] gives this A.grad.
    const A = T.tensor([[4, 2], [2, 3]], { dtype: 'float64', device: 'cpu' }).requiresGrad_();
    T.tidy(() => backward(T.sum(T.cholesky(A))));
    const want = [0.21338834764831843, 0.07322330470336313, 0.07322330470336313, 0.35355339059327373];
    Array.from(A.grad!.dataSync()).forEach((v, i) => expect(v).toBeCloseTo(want[i], 12));
    A.dispose();
  });

  it('refuses the qr gradient it does not define', () => {
    const a = rnd([4, 2]).requiresGrad_();
    expect(() => T.tidy(() => backward(T.sum(T.qr(a, { mode: 'complete' }).Q)))).toThrow(/complete mode/);
    a.dispose();
  });
});

const deviceCases: [string, (...xs: Tensor[]) => Tensor | Tensor[], () => Tensor[]][] = [
  ['matmul batch broadcast', (a, b) => T.matmul(a, b), shapes([2, 1, 3, 4], [3, 4, 2])],
  ['matmul 1-d @ batched', (a, b) => T.matmul(a, b), shapes([4], [2, 4, 3])],
  ['inv', (a) => T.inv(a), () => [wellConditioned([2, 3, 3])]],
  ['solve broadcast', (a, b) => T.solve(a, b), () => [wellConditioned([2, 3, 3]), rnd([3, 2])]],
  ['solve batched vector rhs', (a, b) => T.solve(a, b), () => [wellConditioned([2, 3, 3]), rnd([2, 3])]],
  ['mm', (a, b) => T.mm(a, b), shapes([3, 4], [4, 2])],
  ['bmm', (a, b) => T.bmm(a, b), shapes([2, 3, 4], [2, 4, 2])],
  ['dot', (a, b) => sq(T.dot(a, b)), shapes([5], [5])],
  ['outer', (a, b) => T.outer(a, b), shapes([3], [4])],
  ['einsum bij,jk->bki', (a, b) => T.einsum('bij,jk->bki', a, b), shapes([2, 3, 4], [4, 2])],
  ['det', (a) => sq(T.det(a)), () => [wellConditioned([2, 3, 3])]],
  ['slogdet', (a) => sq(T.slogdet(a).logabsdet), () => [wellConditioned([2, 3, 3])]],
  ['cholesky', (x) => T.cholesky(spd(x)), shapes([2, 3, 3])],
  ['qr', (a) => { const { Q, R } = T.qr(a); return [sq(Q), sq(R)]; }, shapes([4, 3])],
  ['eigh', (x) => { const { eigenvalues, eigenvectors } = T.eigh(symmetrize(x)); return [sq(eigenvalues), sq(eigenvectors)]; }, shapes([3, 3])],
  ['svd', (a) => { const { U, S, Vh } = T.svd(a); return [sq(U), sq(S), sq(Vh)]; }, shapes([4, 3])],
  ['diagonal', (x) => T.diagonal(T.mul(x, x), { offset: 1 }), shapes([3, 4])],
  ['trace', (x) => sq(T.trace(x)), shapes([2, 3, 3])],
];

describe('matmul and linear algebra rules: webgpu gradients match cpu', () => {
  for (const [name, f, make] of deviceCases) {
    it.runIf(BACKENDS.includes('webgpu'))(name, () => expectGradsMatchAcrossDevices(f, make(), { weights: randnWeights(3) }));
  }
});

forEachBackend('matmul and linear algebra rules: memory', (device) => {
  it('stays flat over 50 forward + backward steps', async () => {
    const [a, b] = T.tidy(() => [
      T.keep(T.tensor(Array.from(wellConditioned([2, 3, 3]).dataSync()), { shape: [2, 3, 3], device }).requiresGrad_()),
      T.keep(T.tensor(Array.from(rnd([3, 2]).dataSync()), { shape: [3, 2], device }).requiresGrad_()),
    ]);
    const step = () =>
      T.tidy(() => {
        const x = T.solve(a, T.matmul(T.inv(a), b));
        const e = T.einsum('bij,jk->bik', T.matmul(a, a), b);
        const loss = T.add(T.sum(T.mul(x, x)), T.add(T.sum(T.mul(e, T.trace(a).reshape([2, 1, 1]))), T.sum(T.diagonal(a, { dim1: -2, dim2: -1 }))));
        backward(loss);
      });
    let before: T.MemoryInfo | null = null;
    for (let i = 0; i < 50; i++) {
      step();
      await a.grad!.data();
      T.dispose([a.grad!, b.grad!]);
      a.grad = null;
      b.grad = null;
      if (i === 2) before = T.memory();
    }
    expect(T.memory().tensors).toBe(before!.tensors);
    expect(T.memory().bytes).toBe(before!.bytes);
    T.dispose([a, b]);
  });
});
