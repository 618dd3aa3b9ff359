import type { TensorSpec } from '../backend.js';
import { tidy } from '../memory.js';
import { broadcastShapes, contiguousStrides, normDim, numel, sameShape, shapeStr, type Shape } from '../shape.js';
import { Tensor } from '../tensor.js';
import { contiguous, expand, squeeze, unsqueeze } from './movement.js';
import { sum } from './reduction.js';
import { checkDTypeIn, checkTensor, empty, run, sameDevice } from './util.js';

/**
 * Small dense linear algebra with torch.linalg semantics, batched over leading dims, for float32
 * (both devices) and float64 (cpu). Each matrix of the batch is factorised by one kernel
 * invocation (one GPU thread per matrix), which suits the small matrices (n up to ~128) of
 * geometric and generative models; it is not a fast path for large matrices.
 *
 * Errors on singular / non-positive-definite input: the cpu device throws like PyTorch; the
 * webgpu device cannot throw from a kernel (results are read asynchronously), so it returns a
 * NaN-filled result for the affected matrices instead. Check with `isNaN` when that matters.
 */

const FLOAT_DTYPES = ['float32', 'float64'] as const;

interface MatrixDims {
  batch: number[];
  m: number;
  n: number;
}

/** Validates a float tensor of matrices [..., m, n] (square unless `square` is false). */
function checkMatrices(op: string, A: unknown, square = true, name = 'input'): MatrixDims {
  const t = checkTensor(op, A, name);
  checkDTypeIn(op, t, FLOAT_DTYPES, name);
  const want = square ? '[..., n, n]' : '[..., m, n]';
  if (t.rank < 2) throw new RangeError(`${op}: expected ${name} of shape ${want} (rank >= 2), received shape ${shapeStr(t.shape)}`);
  const m = t.shape[t.rank - 2];
  const n = t.shape[t.rank - 1];
  if (square && m !== n) throw new RangeError(`${op}: expected ${name} to be a batch of square matrices ${want}, received shape ${shapeStr(t.shape)}`);
  return { batch: t.shape.slice(0, -2), m, n };
}

/**
 * A [B, rows, cols] kernel view of `t` broadcast to `batch`: a view whenever the batch dims merge
 * into one stride (contiguous, transposed or broadcast inputs), else a contiguous copy. With
 * `transposed` the view reads the transpose of each matrix. Call inside tidy(): the copy is freed
 * with the scope.
 */
function matrixBatch(t: Tensor, batch: Shape, transposed = false): TensorSpec {
  const rows = t.shape[t.rank - 2];
  const cols = t.shape[t.rank - 1];
  let e = expand(t, [...batch, rows, cols]);
  const nb = batch.length;
  const dims = batch.map((size, i) => ({ size, stride: e.strides[i] })).filter((d) => d.size !== 1);
  const merges = dims.every((d, i) => i === dims.length - 1 || d.stride === dims[i + 1].stride * dims[i + 1].size);
  if (!merges) e = contiguous(e, true);
  const batchStride = dims.length && merges ? dims[dims.length - 1].stride : rows * cols;
  const [sr, sc] = [e.strides[nb], e.strides[nb + 1]];
  return {
    storage: e.storage,
    shape: transposed ? [numel(batch), cols, rows] : [numel(batch), rows, cols],
    strides: transposed ? [batchStride, sc, sr] : [batchStride, sr, sc],
    offset: e.offset,
    dtype: e.dtype,
  };
}

/** A fresh contiguous tensor seen by kernels as [B, ...dims]. */
function flatSpec(out: Tensor, B: number, dims: number[]): TensorSpec {
  const shape = [B, ...dims];
  return { storage: out.storage, shape, strides: contiguousStrides(shape), offset: out.offset, dtype: out.dtype };
}

/**
 * Inverse of each square matrix (LU with partial pivoting). Singular input: throws on cpu like
 * torch.linalg.inv; NaN-filled result on webgpu.
 */
export function inv(A: Tensor): Tensor {
  const { batch, n } = checkMatrices('inv', A);
  return tidy(() => {
    const B = numel(batch);
    const out = empty([...batch, n, n], A.dtype, A.device, 'inv');
    if (out.size > 0) run('linalgLuSolve', [matrixBatch(A, batch)], [flatSpec(out, B, [n, n])], { op: 'inv', identity: true });
    return out;
  });
}

/** Determinant of each square matrix, shape [...batch] (0 for singular input). */
export function det(A: Tensor): Tensor {
  const { batch } = checkMatrices('det', A);
  return tidy(() => {
    const B = numel(batch);
    const out = empty(batch, A.dtype, A.device, 'det');
    if (out.size > 0) run('linalgLuDet', [matrixBatch(A, batch)], [flatSpec(out, B, [])], { mode: 'det' });
    return out;
  });
}

export interface SignLogAbsDet {
  /** -1, 0 or 1. */
  sign: Tensor;
  /** log |det A|; -inf for singular input. */
  logabsdet: Tensor;
}

/** Sign and log-absolute-value of the determinant (det = sign * exp(logabsdet)), each [...batch]. */
export function slogdet(A: Tensor): SignLogAbsDet {
  const { batch } = checkMatrices('slogdet', A);
  return tidy(() => {
    const B = numel(batch);
    const sign = empty(batch, A.dtype, A.device, 'slogdet');
    const logabsdet = empty(batch, A.dtype, A.device, 'slogdet');
    if (sign.size > 0) run('linalgLuDet', [matrixBatch(A, batch)], [flatSpec(sign, B, []), flatSpec(logabsdet, B, [])], { mode: 'slogdet' });
    return { sign, logabsdet };
  });
}

/**
 * Solves A X = B for X, as torch.linalg.solve: A is [..., n, n]; B is [..., n, k], or a batch of
 * vectors [..., n] when it is 1-d or has A's shape without the last dim. Batch dims broadcast.
 * Singular A: throws on cpu like PyTorch; NaN-filled result on webgpu.
 */
export function solve(A: Tensor, B: Tensor): Tensor {
  const op = 'solve';
  const { batch: aBatch, n } = checkMatrices(op, A, true, 'A');
  checkTensor(op, B, 'B');
  checkDTypeIn(op, B, FLOAT_DTYPES, 'B');
  sameDevice(op, A, B);
  if (A.dtype !== B.dtype) throw new TypeError(`${op}: expected A and B of one dtype, received ${A.dtype} and ${B.dtype}`);
  const vector = B.rank === 1 || (B.rank === A.rank - 1 && sameShape(B.shape, A.shape.slice(0, -1)));
  if (!vector && B.rank < 2) throw new RangeError(`${op}: expected B of shape [..., n] or [..., n, k], received shape ${shapeStr(B.shape)}`);
  const rows = vector ? B.shape[B.rank - 1] : B.shape[B.rank - 2];
  if (rows !== n) {
    throw new RangeError(`${op}: A of shape ${shapeStr(A.shape)} needs B of shape [..., ${n}] or [..., ${n}, k], received shape ${shapeStr(B.shape)}`);
  }
  return tidy(() => {
    const B2 = vector ? unsqueeze(B, -1) : B;
    const k = B2.shape[B2.rank - 1];
    const batch = broadcastShapes(op, aBatch, B2.shape.slice(0, -2));
    const X = empty([...batch, n, k], A.dtype, A.device, op);
    if (X.size > 0) run('linalgLuSolve', [matrixBatch(A, batch), matrixBatch(B2, batch)], [flatSpec(X, numel(batch), [n, k])], { op, identity: false });
    return vector ? squeeze(X, -1) : X;
  });
}

/**
 * Cholesky factor L (A = L L^T, lower) of each symmetric positive-definite matrix, read from A's
 * lower triangle; with `upper`, U = L^T read from the upper triangle. Not positive-definite:
 * throws on cpu like torch.linalg.cholesky; NaN-filled factor on webgpu.
 */
export function cholesky(A: Tensor, options: { upper?: boolean } = {}): Tensor {
  const { batch, n } = checkMatrices('cholesky', A);
  const upper = options.upper ?? false;
  if (typeof upper !== 'boolean') throw new TypeError(`cholesky: upper must be a boolean, received ${typeof upper}`);
  return tidy(() => {
    const B = numel(batch);
    const out = empty([...batch, n, n], A.dtype, A.device, 'cholesky');
    if (out.size > 0) run('linalgCholesky', [matrixBatch(A, batch, upper)], [flatSpec(out, B, [n, n])], { upper });
    return out;
  });
}

export interface QR {
  Q: Tensor;
  R: Tensor;
}

/**
 * Householder QR of [..., m, n] matrices with k = min(m, n): mode 'reduced' gives Q [..., m, k]
 * and R [..., k, n]; 'complete' gives Q [..., m, m] and R [..., m, n]. Signs follow LAPACK's
 * reflector convention, but any column sign of Q (with the matching row of R) is valid.
 */
export function qr(A: Tensor, options: { mode?: 'reduced' | 'complete' } = {}): QR {
  const { batch, m, n } = checkMatrices('qr', A, false);
  const mode = options.mode ?? 'reduced';
  if (mode !== 'reduced' && mode !== 'complete') throw new RangeError(`qr: mode must be 'reduced' or 'complete', received '${String(mode)}'`);
  const k = Math.min(m, n);
  const qc = mode === 'complete' ? m : k;
  return tidy(() => {
    const B = numel(batch);
    const Q = empty([...batch, m, qc], A.dtype, A.device, 'qr');
    const R = empty([...batch, qc, n], A.dtype, A.device, 'qr');
    if (B > 0) run('linalgQr', [matrixBatch(A, batch)], [flatSpec(Q, B, [m, qc]), flatSpec(R, B, [qc, n])]);
    return { Q, R };
  });
}

export interface Eigh {
  /** [..., n], ascending. */
  eigenvalues: Tensor;
  /** [..., n, n]; column i belongs to eigenvalue i. Each column's sign is arbitrary. */
  eigenvectors: Tensor;
}

/**
 * Eigendecomposition of symmetric matrices by cyclic Jacobi, reading only the lower (UPLO='L')
 * or upper ('U') triangle.
 */
export function eigh(A: Tensor, options: { UPLO?: 'L' | 'U' } = {}): Eigh {
  const { batch, n } = checkMatrices('eigh', A);
  const uplo = options.UPLO ?? 'L';
  if (uplo !== 'L' && uplo !== 'U') throw new RangeError(`eigh: UPLO must be 'L' or 'U', received '${String(uplo)}'`);
  return tidy(() => {
    const B = numel(batch);
    const eigenvalues = empty([...batch, n], A.dtype, A.device, 'eigh');
    const eigenvectors = empty([...batch, n, n], A.dtype, A.device, 'eigh');
    if (eigenvectors.size > 0) run('linalgEigh', [matrixBatch(A, batch, uplo === 'U')], [flatSpec(eigenvalues, B, [n]), flatSpec(eigenvectors, B, [n, n])]);
    return { eigenvalues, eigenvectors };
  });
}

export interface SVD {
  U: Tensor;
  /** [..., k] with k = min(m, n), descending. */
  S: Tensor;
  Vh: Tensor;
}

/**
 * Singular value decomposition A = U diag(S) Vh by one-sided Jacobi (high relative accuracy for
 * the singular values). With `fullMatrices` false (default): U [..., m, k], Vh [..., k, n];
 * true: U [..., m, m], Vh [..., n, n]. Singular vectors are unique only up to sign.
 */
export function svd(A: Tensor, options: { fullMatrices?: boolean } = {}): SVD {
  const { batch, m, n } = checkMatrices('svd', A, false);
  const full = options.fullMatrices ?? false;
  if (typeof full !== 'boolean') throw new TypeError(`svd: fullMatrices must be a boolean, received ${typeof full}`);
  const k = Math.min(m, n);
  const uc = full ? m : k;
  const vr = full ? n : k;
  return tidy(() => {
    const B = numel(batch);
    const U = empty([...batch, m, uc], A.dtype, A.device, 'svd');
    const S = empty([...batch, k], A.dtype, A.device, 'svd');
    const Vh = empty([...batch, vr, n], A.dtype, A.device, 'svd');
    // The kernel works on the taller of A and A^T.
    const transposed = m < n;
    if (B > 0) {
      run('linalgSvd', [matrixBatch(A, batch, transposed)], [flatSpec(U, B, [m, uc]), flatSpec(S, B, [k]), flatSpec(Vh, B, [vr, n])], { transposed });
    }
    return { U, S, Vh };
  });
}

export interface DiagonalOptions {
  /** 0: main diagonal; > 0 above it; < 0 below it. */
  offset?: number;
  dim1?: number;
  dim2?: number;
}

/**
 * The diagonal of the 2-d planes (dim1, dim2) as a view (no copy), moved to the last dim, as
 * torch.diagonal. Defaults: offset 0, dim1 0, dim2 1.
 */
export function diagonal(x: Tensor, options: DiagonalOptions = {}): Tensor {
  const op = 'diagonal';
  checkTensor(op, x);
  if (x.rank < 2) throw new RangeError(`${op}: expected a tensor of rank >= 2, received shape ${shapeStr(x.shape)}`);
  const offset = options.offset ?? 0;
  if (!Number.isInteger(offset)) throw new TypeError(`${op}: offset must be an integer, received ${offset}`);
  const d1 = normDim(op, options.dim1 ?? 0, x.rank);
  const d2 = normDim(op, options.dim2 ?? 1, x.rank);
  if (d1 === d2) throw new RangeError(`${op}: dim1 and dim2 must differ, both are ${d1}`);
  const len = Math.max(0, Math.min(x.shape[d1] + Math.min(offset, 0), x.shape[d2] - Math.max(offset, 0)));
  const keep = x.shape.map((_, i) => i).filter((i) => i !== d1 && i !== d2);
  const start = len === 0 ? x.offset : x.offset + (offset >= 0 ? offset * x.strides[d2] : -offset * x.strides[d1]);
  return x._view([...keep.map((i) => x.shape[i]), len], [...keep.map((i) => x.strides[i]), x.strides[d1] + x.strides[d2]], start);
}

/**
 * Sum of the main diagonal of [..., m, n] matrices, shape [...batch] (torch.trace takes only a
 * 2-d input; leading dims batch here).
 */
export function trace(A: Tensor): Tensor {
  checkTensor('trace', A);
  if (A.rank < 2) throw new RangeError(`trace: expected a tensor of rank >= 2, received shape ${shapeStr(A.shape)}`);
  return tidy(() => sum(diagonal(A, { dim1: -2, dim2: -1 }), { dim: -1 }));
}

declare module '../tensor.js' {
  interface Tensor {
    det(): Tensor;
    slogdet(): SignLogAbsDet;
    inverse(): Tensor;
    diagonal(options?: DiagonalOptions): Tensor;
    trace(): Tensor;
  }
}

Tensor.prototype.det = function (this: Tensor) {
  return det(this);
};
Tensor.prototype.slogdet = function (this: Tensor) {
  return slogdet(this);
};
Tensor.prototype.inverse = function (this: Tensor) {
  return inv(this);
};
Tensor.prototype.diagonal = function (this: Tensor, options?: DiagonalOptions) {
  return diagonal(this, options);
};
Tensor.prototype.trace = function (this: Tensor) {
  return trace(this);
};
