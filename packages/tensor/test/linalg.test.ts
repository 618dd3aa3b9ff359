import { expect, it } from 'vitest';
import {
  add, arange, cast, cholesky, det, diagonal, eigh, expand, inv, isNaN, memory, mul, qr, reshape, slogdet, solve, svd, tensor, tidy, trace,
  transpose, unsqueeze, type DeviceName, type DType, type Tensor,
} from '../src/index.js';
import { expectClose, fixtureValues, forEachBackend, fromFixture, loadFixture, seeded, type FixtureCase, type FixtureTensor } from './helpers.js';

const cases = await loadFixture('linalg');
const casesOf = (op: string) => cases.filter((c) => c.op === op);

const dtypesOn = (device: DeviceName): DType[] => (device === 'cpu' ? ['float64', 'float32'] : ['float32']);
const tolOf = (dtype: DType) => (dtype === 'float64' ? 1e-10 : 1e-4);

function input(f: FixtureTensor, device: DeviceName, dtype: DType): Tensor {
  const t = fromFixture(f, device);
  if (t.dtype === dtype) return t;
  const c = cast(t, dtype);
  t.dispose();
  return c;
}

type Matrix = number[][];

/** The [..., r, c] elements of `t` as a list of row-major matrices. */
async function matrices(t: Tensor): Promise<Matrix[]> {
  const data = Array.from(await t.data());
  const [r, c] = t.shape.slice(-2);
  return Array.from({ length: data.length / (r * c) }, (_, b) => Array.from({ length: r }, (_, i) => data.slice((b * r + i) * c, (b * r + i + 1) * c)));
}

/** The [..., n] elements of `t` as a list of vectors. */
async function vectors(t: Tensor): Promise<number[][]> {
  const data = Array.from(await t.data());
  const n = t.shape[t.rank - 1];
  return Array.from({ length: data.length / n }, (_, b) => data.slice(b * n, (b + 1) * n));
}

const matmulJS = (a: Matrix, b: Matrix): Matrix => a.map((row) => b[0].map((_, j) => row.reduce((s, v, k) => s + v * b[k][j], 0)));
const transposeJS = (a: Matrix): Matrix => (a.length ? a[0].map((_, j) => a.map((row) => row[j])) : []);
const identityJS = (n: number): Matrix => Array.from({ length: n }, (_, i) => Array.from({ length: n }, (_, j) => (i === j ? 1 : 0)));
const scaleColumns = (a: Matrix, s: number[]): Matrix => a.map((row) => row.map((v, j) => v * s[j]));
const maxAbs = (a: Matrix) => Math.max(1, ...a.flat().map(Math.abs));

function expectMatrixClose(got: Matrix, want: Matrix, atol: number, what: string): void {
  expect(got.length, what).toBe(want.length);
  let worst = 0;
  got.forEach((row, i) => row.forEach((v, j) => (worst = Math.max(worst, Math.abs(v - want[i][j])))));
  expect(worst, `${what}: largest deviation`).toBeLessThanOrEqual(atol);
}

forEachBackend('linalg golden values', (device) => {
  for (const dtype of dtypesOn(device)) {
    const tol = tolOf(dtype);
    const check = async (c: FixtureCase, got: Tensor[]) => {
      for (let k = 0; k < c.expected.length; k++) {
        await expectClose(got[k], fixtureValues(c.expected[k]), { atol: tol, rtol: tol, shape: c.expected[k].shape, dtype });
      }
    };

    for (const c of casesOf('inv')) {
      it(`${c.name} (${dtype})`, async () => check(c, [inv(input(c.inputs[0], device, dtype))]));
    }
    for (const c of casesOf('det')) {
      it(`${c.name} (${dtype})`, async () => check(c, [det(input(c.inputs[0], device, dtype))]));
    }
    for (const c of casesOf('slogdet')) {
      it(`${c.name} (${dtype})`, async () => {
        const { sign, logabsdet } = slogdet(input(c.inputs[0], device, dtype));
        await check(c, [sign, logabsdet]);
      });
    }
    for (const c of casesOf('solve')) {
      it(`${c.name} (${dtype})`, async () => check(c, [solve(input(c.inputs[0], device, dtype), input(c.inputs[1], device, dtype))]));
    }
    for (const c of casesOf('cholesky')) {
      it(`${c.name} (${dtype})`, async () => check(c, [cholesky(input(c.inputs[0], device, dtype), { upper: c.params?.upper === true })]));
    }
    for (const c of casesOf('eigh')) {
      it(`${c.name}: eigenvalues match torch, A V = V diag(w), V orthonormal (${dtype})`, async () => {
        const A = input(c.inputs[0], device, dtype);
        const { eigenvalues, eigenvectors } = eigh(A);
        await check(c, [eigenvalues]);
        const [As, Vs, ws] = [await matrices(A), await matrices(eigenvectors), await vectors(eigenvalues)];
        As.forEach((a, b) => {
          const atol = tol * maxAbs(a) * 10;
          expectMatrixClose(matmulJS(a, Vs[b]), scaleColumns(Vs[b], ws[b]), atol, 'A V - V diag(w)');
          expectMatrixClose(matmulJS(transposeJS(Vs[b]), Vs[b]), identityJS(a.length), atol, 'V^T V - I');
        });
      });
    }
    for (const c of casesOf('svd')) {
      for (const fullMatrices of [false, true]) {
        it(`${c.name}: S matches torch, U diag(S) Vh = A, U and Vh orthonormal, fullMatrices=${fullMatrices} (${dtype})`, async () => {
          const A = input(c.inputs[0], device, dtype);
          const [m, n] = A.shape.slice(-2);
          const k = Math.min(m, n);
          const { U, S, Vh } = svd(A, { fullMatrices });
          await check(c, [S]);
          expect(U.shape.slice(-2)).toEqual([m, fullMatrices ? m : k]);
          expect(Vh.shape.slice(-2)).toEqual([fullMatrices ? n : k, n]);
          const [As, Us, Ss, Vhs] = [await matrices(A), await matrices(U), await vectors(S), await matrices(Vh)];
          As.forEach((a, b) => {
            const atol = tol * maxAbs(a) * 10;
            const u = Us[b].map((row) => row.slice(0, k));
            const vh = Vhs[b].slice(0, k);
            expectMatrixClose(matmulJS(scaleColumns(u, Ss[b]), vh), a, atol, 'U diag(S) Vh - A');
            expectMatrixClose(matmulJS(transposeJS(Us[b]), Us[b]), identityJS(Us[b][0].length), atol, 'U^T U - I');
            expectMatrixClose(matmulJS(Vhs[b], transposeJS(Vhs[b])), identityJS(Vhs[b].length), atol, 'Vh Vh^T - I');
            for (let i = 1; i < k; i++) expect(Ss[b][i]).toBeLessThanOrEqual(Ss[b][i - 1]);
          });
        });
      }
    }
  }
});

forEachBackend('linalg qr invariants', (device) => {
  for (const dtype of dtypesOn(device)) {
    const tol = tolOf(dtype);
    for (const shape of [[2, 5, 3], [3, 5], [4, 4], [2, 3, 6]]) {
      for (const mode of ['reduced', 'complete'] as const) {
        it(`qr ${mode} of [${shape}]: Q orthonormal, R upper triangular, QR = A (${dtype})`, async () => {
          const [m, n] = shape.slice(-2);
          const k = Math.min(m, n);
          const A = tensor(seeded(shape.reduce((a, b) => a * b), 11), { shape, dtype, device });
          const { Q, R } = qr(A, { mode });
          const qc = mode === 'complete' ? m : k;
          expect(Q.shape).toEqual([...shape.slice(0, -2), m, qc]);
          expect(R.shape).toEqual([...shape.slice(0, -2), qc, n]);
          const [As, Qs, Rs] = [await matrices(A), await matrices(Q), await matrices(R)];
          As.forEach((a, b) => {
            expectMatrixClose(matmulJS(Qs[b], Rs[b]), a, tol * 10, 'QR - A');
            expectMatrixClose(matmulJS(transposeJS(Qs[b]), Qs[b]), identityJS(qc), tol * 10, 'Q^T Q - I');
            Rs[b].forEach((row, i) => row.forEach((v, j) => {
              if (j < i) expect(v, `R[${i}][${j}]`).toBe(0);
            }));
          });
        });
      }
    }
    it(`qr of a matrix with a zero column (${dtype})`, async () => {
      const A = tensor([[0, 1, 2], [0, 3, 4], [0, 5, 7]], { dtype, device });
      const { Q, R } = qr(A);
      const [[q], [r]] = [await matrices(Q), await matrices(R)];
      expectMatrixClose(matmulJS(q, r), (await matrices(A))[0], tol * 10, 'QR - A');
      expectMatrixClose(matmulJS(transposeJS(q), q), identityJS(3), tol * 10, 'Q^T Q - I');
    });
  }
});

forEachBackend('linalg larger matrices', (device) => {
  it('eigh of a 48x48 symmetric matrix and svd of a 40x24 matrix (float32)', async () => {
    const n = 48;
    const x = seeded(n * n, 5);
    const sym = Float32Array.from({ length: n * n }, (_, e) => (x[e] + x[(e % n) * n + Math.floor(e / n)]) / 2);
    const A = tensor(sym, { shape: [n, n], device });
    const { eigenvalues, eigenvectors } = eigh(A);
    const [[a], [v], [w]] = [await matrices(A), await matrices(eigenvectors), await vectors(eigenvalues)];
    expectMatrixClose(matmulJS(a, v), scaleColumns(v, w), 1e-4 * 10, 'A V - V diag(w)');
    expectMatrixClose(matmulJS(transposeJS(v), v), identityJS(n), 1e-4 * 10, 'V^T V - I');

    const G = tensor(seeded(40 * 24, 6), { shape: [40, 24], device });
    const { U, S, Vh } = svd(G);
    const [[g], [u], [s], [vh]] = [await matrices(G), await matrices(U), await vectors(S), await matrices(Vh)];
    expectMatrixClose(matmulJS(scaleColumns(u, s), vh), g, 1e-4 * 10, 'U diag(S) Vh - A');
    expectMatrixClose(matmulJS(transposeJS(u), u), identityJS(24), 1e-4 * 10, 'U^T U - I');
  });
});

forEachBackend('linalg strided inputs', (device) => {
  for (const dtype of dtypesOn(device)) {
    const tol = tolOf(dtype);
    it(`transposed (non-contiguous) matrices give the transposed results (${dtype})`, async () => {
      const ci = casesOf('inv')[0];
      const A = input(ci.inputs[0], device, dtype);
      const want = (await matrices(inv(A))).map(transposeJS);
      const got = await matrices(inv(transpose(A, -2, -1)));
      got.forEach((g, b) => expectMatrixClose(g, want[b], tol, 'inv(A^T) - inv(A)^T'));
      const cd = casesOf('det')[0];
      await expectClose(det(transpose(input(cd.inputs[0], device, dtype), -1, -2)), fixtureValues(cd.expected[0]), { atol: tol, rtol: tol });
      const cs = casesOf('svd')[0];
      await expectClose(svd(transpose(input(cs.inputs[0], device, dtype), -1, -2)).S, fixtureValues(cs.expected[0]), { atol: tol, rtol: tol });
    });
    it(`broadcast and permuted batch dims are copied to a mergeable layout (${dtype})`, async () => {
      const cd = casesOf('det')[0];
      const A = input(cd.inputs[0], device, dtype);
      const want = fixtureValues(cd.expected[0]);
      // batch strides [0, n*n] cannot merge into one stride
      const E = expand(unsqueeze(A, 0), [2, ...A.shape]);
      await expectClose(det(E), [...want, ...want], { atol: tol, rtol: tol, shape: [2, 3] });
      const ce = casesOf('eigh')[0];
      const S = input(ce.inputs[0], device, dtype);
      const { eigenvalues } = eigh(expand(unsqueeze(S, 1), [3, 2, 5, 5]), { UPLO: 'U' });
      const w = fixtureValues(ce.expected[0]);
      await expectClose(eigenvalues, [0, 1, 2].flatMap((b) => [...w.slice(b * 5, b * 5 + 5), ...w.slice(b * 5, b * 5 + 5)]), { atol: tol, rtol: tol });
    });
    it(`solve broadcasts A over a batched B given as an offset view (${dtype})`, async () => {
      const c = casesOf('solve').find((x) => x.name === 'solve broadcast batch')!;
      const A = input(c.inputs[0], device, dtype);
      const Bfull = input(c.inputs[1], device, dtype);
      // the same values read through a view with a non-zero offset: B is the second half of [B; B]
      const doubled = reshape(expand(unsqueeze(Bfull, 0), [2, ...Bfull.shape]), [2 * 3, 1, 4, 2]);
      const view = doubled.slice(0, 3, 6);
      expect(view.offset).toBeGreaterThan(0);
      await expectClose(solve(A, view), fixtureValues(c.expected[0]), { atol: tol, rtol: tol, shape: [3, 1, 4, 2] });
    });
  }
});

forEachBackend('linalg edge cases', (device) => {
  it('empty batches and 0x0 matrices', async () => {
    await expectClose(inv(tensor([], { shape: [0, 3, 3], device })), [], { shape: [0, 3, 3] });
    await expectClose(det(tensor([], { shape: [2, 0, 0], device })), [1, 1], { shape: [2] });
    const { sign, logabsdet } = slogdet(tensor([], { shape: [2, 0, 0], device }));
    await expectClose(sign, [1, 1]);
    await expectClose(logabsdet, [0, 0]);
    await expectClose(solve(tensor([], { shape: [0, 2, 2], device }), tensor([], { shape: [0, 2], device })), [], { shape: [0, 2] });
    const { Q, R } = qr(tensor([], { shape: [3, 0], device }), { mode: 'complete' });
    await expectClose(Q, [1, 0, 0, 0, 1, 0, 0, 0, 1], { shape: [3, 3] });
    expect(R.shape).toEqual([3, 0]);
  });

  it('svd of zero and rank-one matrices completes orthonormal bases', async () => {
    for (const A of [tensor([[0, 0], [0, 0], [0, 0]], { device }), tensor([[1, 2, 2], [2, 4, 4]], { device })]) {
      const { U, S, Vh } = svd(A, { fullMatrices: true });
      const [[a], [u], [s], [vh]] = [await matrices(A), await matrices(U), await vectors(S), await matrices(Vh)];
      const k = s.length;
      expectMatrixClose(matmulJS(scaleColumns(u.map((r) => r.slice(0, k)), s), vh.slice(0, k)), a, 1e-5, 'U diag(S) Vh - A');
      expectMatrixClose(matmulJS(transposeJS(u), u), identityJS(u.length), 1e-5, 'U^T U - I');
      expectMatrixClose(matmulJS(vh, transposeJS(vh)), identityJS(vh.length), 1e-5, 'Vh Vh^T - I');
    }
  });

  it('singular and non-positive-definite input: cpu throws like torch, webgpu returns NaN', async () => {
    const singular = tensor([[[1, 2], [3, 4]], [[1, 2], [2, 4]]], { device });
    const indefinite = tensor([[1, 2], [2, 1]], { device });
    const rhs = tensor([1, 1], { device });
    const before = memory();
    if (device === 'cpu') {
      expect(() => inv(singular)).toThrow(/inv: the input matrix is singular \(batch element 1\)/);
      expect(() => solve(singular, rhs)).toThrow(/solve: the input matrix is singular/);
      expect(() => cholesky(indefinite)).toThrow(/cholesky: the input is not positive-definite: the leading minor of order 2/);
      expect(memory().tensors).toBe(before.tensors);
    } else {
      await expectClose(isNaN(inv(singular)), [0, 0, 0, 0, 1, 1, 1, 1]);
      await expectClose(isNaN(cholesky(indefinite)), [1, 1, 1, 1]);
    }
    await expectClose(det(singular), [-2, 0]);
  });

  it('rejects bad input with errors naming the op', () => {
    const sq = tensor([[1, 2], [3, 4]], { device });
    expect(() => inv(tensor([[1, 2, 3], [4, 5, 6]], { device }))).toThrow(/inv: expected input to be a batch of square matrices \[\.\.\., n, n\], received shape \[2, 3\]/);
    expect(() => det(tensor([1, 2], { device }))).toThrow(/det: expected input of shape \[\.\.\., n, n\] \(rank >= 2\), received shape \[2\]/);
    expect(() => slogdet(tensor([[1, 2], [3, 4]], { dtype: 'int32', device }))).toThrow(/slogdet: expected input dtype in \{float32, float64\}, received int32/);
    expect(() => cholesky(tensor([[1, 2, 3]], { device }))).toThrow(/cholesky/);
    expect(() => eigh(sq, { UPLO: 'X' as 'L' })).toThrow(/eigh: UPLO must be 'L' or 'U'/);
    expect(() => qr(sq, { mode: 'r' as 'reduced' })).toThrow(/qr: mode must be 'reduced' or 'complete'/);
    expect(() => svd(tensor([[1, 2]], { dtype: 'bool', device }))).toThrow(/svd: expected input dtype/);
    expect(() => solve(sq, tensor([1, 2, 3], { device }))).toThrow(/solve: A of shape \[2, 2\] needs B of shape \[\.\.\., 2\] or \[\.\.\., 2, k\], received shape \[3\]/);
    expect(() => solve(tensor([[[1, 0], [0, 1]], [[1, 0], [0, 1]]], { device }), tensor([[[1], [2]], [[1], [2]], [[1], [2]]], { device }))).toThrow(/solve: shapes \[2\] and \[3\] cannot be broadcast/);
    expect(() => solve(sq, tensor([[1], [2]], { dtype: 'int32', device }))).toThrow(/solve: expected B dtype/);
    expect(() => diagonal(sq, { dim1: 1, dim2: -1 })).toThrow(/diagonal: dim1 and dim2 must differ/);
    expect(() => trace(tensor([1, 2], { device }))).toThrow(/trace: expected a tensor of rank >= 2/);
    const gone = tensor([[1]], { device });
    gone.dispose();
    expect(() => inv(gone)).toThrow(/inv: input has been disposed/);
    if (device === 'cpu') {
      expect(() => solve(tensor([[1, 0], [0, 1]], { dtype: 'float64', device }), tensor([1, 2], { device }))).toThrow(/solve: expected A and B of one dtype, received float64 and float32/);
    } else {
      expect(() => solve(sq, tensor([1, 2], { device: 'cpu' }))).toThrow(/solve: expected all tensors on one device/);
    }
  });

  it('diagonal is a view; trace sums it', async () => {
    const x = arange(0, 24, 1, { device });
    const A = reshape(x, [2, 3, 4]);
    const d = diagonal(A, { dim1: 1, dim2: 2, offset: 1 });
    expect(d.storage).toBe(A.storage);
    await expectClose(d, [1, 6, 11, 13, 18, 23], { shape: [2, 3] });
    await expectClose(diagonal(A, { dim1: -1, dim2: 1, offset: -2 }), [2, 7, 14, 19], { shape: [2, 2] });
    await expectClose(diagonal(A, { offset: 1 }), [4, 20, 5, 21, 6, 22, 7, 23], { shape: [4, 2] });
    await expectClose(diagonal(A, { dim1: 1, dim2: 2, offset: 9 }), [], { shape: [2, 0] });
    await expectClose(trace(A), [15, 51], { shape: [2] });
    await expectClose(A.trace(), [15, 51]);
    await expectClose(A.diagonal({ dim1: -2, dim2: -1 }), [0, 5, 10, 12, 17, 22]);
    const M = tensor([[2, 1], [1, 3]], { device });
    await expectClose(M.det(), [5]);
    await expectClose(M.inverse(), [0.6, -0.2, -0.2, 0.4]);
    await expectClose(M.slogdet().logabsdet, [Math.log(5)]);
  });

  it('does not mutate its inputs', async () => {
    const A = tensor([[4, 1], [1, 3]], { device });
    const B = tensor([1, 2], { device });
    tidy(() => [inv(A), det(A), solve(A, B), cholesky(A), qr(A), eigh(A), svd(A)]);
    await expectClose(A, [4, 1, 1, 3]);
    await expectClose(B, [1, 2]);
  });
});

forEachBackend('linalg dispatch size and memory', (device) => {
  it('det of more than 65,535 x 64 matrices (one invocation per matrix)', async () => {
    const B = 65535 * 64 + 100;
    const d = tidy(() => {
      const x = reshape(arange(0, B, 1, { device }), [B, 1, 1]);
      // [[x + 2, 1], [1, 1]] has determinant x + 1
      return det(add(mul(x, tensor([[1, 0], [0, 0]], { device })), tensor([[2, 1], [1, 1]], { device })));
    });
    const got = await d.data();
    d.dispose();
    expect(got.length).toBe(B);
    let bad = 0;
    for (let i = 0; i < B; i++) if (!(Math.abs(got[i] - (i + 1)) <= 1e-5 * (i + 1))) bad++;
    expect(bad).toBe(0);
  });

  it('memory stays flat over 50 iterations of every op', async () => {
    const A = tensor([[4, 1, 0.5], [1, 3, 0.2], [0.5, 0.2, 2]], { device });
    const B = tensor([[1, 2], [3, 4], [5, 6]], { device });
    const Bt = transpose(B, 0, 1);
    const step = () => {
      const outs = [inv(A), det(A), solve(A, B), cholesky(A, { upper: true }), trace(A), diagonal(A)];
      const s = slogdet(A);
      const q = qr(B, { mode: 'complete' });
      const e = eigh(A);
      const v = svd(Bt, { fullMatrices: true });
      for (const t of [...outs, s.sign, s.logabsdet, q.Q, q.R, e.eigenvalues, e.eigenvectors, v.U, v.S, v.Vh]) t.dispose();
    };
    step();
    const before = memory();
    for (let i = 0; i < 50; i++) step();
    const after = memory();
    expect(after.tensors).toBe(before.tensors);
    expect(after.bytes).toBe(before.bytes);
  });
});
