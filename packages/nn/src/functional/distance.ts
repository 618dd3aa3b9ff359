/** Similarities, distances, normalisation and the embedding / ranking losses built on them. */
import * as T from '@tessera/tensor';
import { checkFloat, checkNumber, checkSameDevice, checkSameShape, checkTensorArg, reduce, reductionOf, shapeStr, type ReductionOptions } from './reduction.js';

function broadcastPair(fn: string, a: T.Tensor, b: T.Tensor): number[] {
  const n = Math.max(a.rank, b.rank);
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const x = a.shape[a.rank - n + i] ?? 1;
    const y = b.shape[b.rank - n + i] ?? 1;
    if (x !== y && x !== 1 && y !== 1) throw new RangeError(`${fn}: shapes ${shapeStr(a.shape)} and ${shapeStr(b.shape)} do not broadcast`);
    out.push(x === 1 ? y : x);
  }
  return out;
}

/**
 * PyTorch 1.13's cosine similarity along `dim` (default 1): (x1 / max(|x1|, eps)) · (x2 / max(|x2|, eps)),
 * the inputs broadcast together; normalising first keeps the result in [-1, 1]. Values match
 * PyTorch 1.13; where a norm is below eps the gradient is that of the clamped formula, which
 * differs from PyTorch's (its backward is not the derivative of its forward there).
 */
export function cosineSimilarity(x1: T.Tensor, x2: T.Tensor, options: { dim?: number; eps?: number } = {}): T.Tensor {
  const fn = 'cosineSimilarity';
  checkFloat(fn, x1, 'x1');
  checkFloat(fn, x2, 'x2');
  checkSameDevice(fn, x1, x2);
  const shape = broadcastPair(fn, x1, x2);
  const dim = options.dim ?? 1;
  if (!Number.isInteger(dim) || dim < -shape.length || dim >= shape.length) throw new RangeError(`${fn}: dim ${dim} is out of range for broadcast shape ${shapeStr(shape)}`);
  const eps = checkNumber(fn, options.eps ?? 1e-8, 'eps', (e) => e >= 0 && Number.isFinite(e), 'a non-negative number');
  return T.tidy(() => {
    const [a, b] = T.broadcastTensors(x1, x2);
    const unit = (x: T.Tensor) => T.div(x, T.clamp(T.norm(x, { dim, keepdim: true }), eps));
    return T.sum(T.mul(unit(a), unit(b)), { dim });
  });
}

/** The p-norm of x1 - x2 + eps over the last dim, as PyTorch's pairwise_distance. */
export function pairwiseDistance(x1: T.Tensor, x2: T.Tensor, options: { p?: number; eps?: number; keepdim?: boolean } = {}): T.Tensor {
  const fn = 'pairwiseDistance';
  checkFloat(fn, x1, 'x1');
  checkFloat(fn, x2, 'x2');
  checkSameDevice(fn, x1, x2);
  const shape = broadcastPair(fn, x1, x2);
  if (shape.length === 0) throw new RangeError(`${fn}: expected inputs of rank >= 1, received 0-d tensors`);
  const p = checkNumber(fn, options.p ?? 2, 'p', (v) => v >= 0, 'a non-negative number');
  const eps = checkNumber(fn, options.eps ?? 1e-6, 'eps', (e) => e >= 0 && Number.isFinite(e), 'a non-negative number');
  return T.tidy(() => T.norm(T.add(T.sub(x1, x2), eps), { p, dim: -1, keepdim: options.keepdim ?? false }));
}

/** x / max(|x|_p, eps) along `dim` (default 1). */
export function normalize(x: T.Tensor, options: { p?: number; dim?: number; eps?: number } = {}): T.Tensor {
  const fn = 'normalize';
  checkFloat(fn, x, 'input');
  const p = checkNumber(fn, options.p ?? 2, 'p', (v) => v >= 0, 'a non-negative number');
  const eps = checkNumber(fn, options.eps ?? 1e-12, 'eps', (e) => e >= 0 && Number.isFinite(e), 'a non-negative number');
  const dim = options.dim ?? 1;
  if (!Number.isInteger(dim) || dim < -x.rank || dim >= x.rank) throw new RangeError(`${fn}: dim ${dim} is out of range for input ${shapeStr(x.shape)}`);
  return T.tidy(() => T.div(x, T.clamp(T.norm(x, { p, dim, keepdim: true }), eps)));
}

/** Checks a ±1 target of `shape` (any numeric dtype) on the input's device. */
function signTarget(fn: string, target: T.Tensor, shape: readonly number[], input: T.Tensor): void {
  checkTensorArg(fn, target, 'target');
  checkSameDevice(fn, input, target);
  if (target.dtype === 'bool') throw new TypeError(`${fn}: expected a numeric target of 1 and -1, received bool`);
  if (target.rank !== shape.length || target.shape.some((s, i) => s !== shape[i])) {
    throw new RangeError(`${fn}: expected target of shape ${shapeStr(shape)}, received ${shapeStr(target.shape)}`);
  }
}

/** 1 - cos(x1, x2) where target = 1, max(0, cos - margin) where target = -1; inputs [N, D] or [D]. */
export function cosineEmbeddingLoss(x1: T.Tensor, x2: T.Tensor, target: T.Tensor, options: ReductionOptions & { margin?: number } = {}): T.Tensor {
  const fn = 'cosineEmbeddingLoss';
  const r = reductionOf(fn, options);
  checkFloat(fn, x1, 'x1');
  checkFloat(fn, x2, 'x2');
  checkSameDevice(fn, x1, x2);
  checkSameShape(fn, x1, x2, 'x1', 'x2');
  if (x1.rank !== 1 && x1.rank !== 2) throw new RangeError(`${fn}: expected inputs of shape [N, D] or [D], received ${shapeStr(x1.shape)}`);
  signTarget(fn, target, x1.shape.slice(0, -1), x1);
  const margin = checkNumber(fn, options.margin ?? 0, 'margin');
  const dim = x1.rank - 1;
  return T.tidy(() => {
    const prod = T.sum(T.mul(x1, x2), { dim });
    const m1 = T.add(T.sum(T.square(x1), { dim }), 1e-12);
    const m2 = T.add(T.sum(T.square(x2), { dim }), 1e-12);
    const cos = T.div(prod, T.sqrt(T.mul(m1, m2)));
    const pos = T.where(T.eq(target, 1), T.sub(1, cos), 0);
    const neg = T.where(T.eq(target, -1), T.relu(T.sub(cos, margin)), 0);
    return reduce(T.add(pos, neg), r);
  });
}

/** max(0, -target (x1 - x2) + margin). */
export function marginRankingLoss(x1: T.Tensor, x2: T.Tensor, target: T.Tensor, options: ReductionOptions & { margin?: number } = {}): T.Tensor {
  const fn = 'marginRankingLoss';
  const r = reductionOf(fn, options);
  checkFloat(fn, x1, 'x1');
  checkFloat(fn, x2, 'x2');
  checkSameDevice(fn, x1, x2);
  checkSameShape(fn, x1, x2, 'x1', 'x2');
  signTarget(fn, target, x1.shape, x1);
  const margin = checkNumber(fn, options.margin ?? 0, 'margin');
  return T.tidy(() => reduce(T.relu(T.add(T.neg(T.mul(target, T.sub(x1, x2))), margin)), r));
}

/** x where target = 1, max(0, margin - x) where target = -1 (x is typically a distance). */
export function hingeEmbeddingLoss(input: T.Tensor, target: T.Tensor, options: ReductionOptions & { margin?: number } = {}): T.Tensor {
  const fn = 'hingeEmbeddingLoss';
  const r = reductionOf(fn, options);
  checkFloat(fn, input, 'input');
  signTarget(fn, target, input.shape, input);
  const margin = checkNumber(fn, options.margin ?? 1, 'margin');
  return T.tidy(() => {
    const hinge = T.where(T.ne(target, 1), T.relu(T.sub(margin, input)), 0);
    const self = T.where(T.ne(target, -1), input, 0);
    return reduce(T.add(hinge, self), r);
  });
}

/**
 * max(0, d(a, p) - d(a, n) + margin) with d the pairwiseDistance; `swap` uses
 * min(d(a, n), d(p, n)) as the negative distance (Balntas et al. 2016).
 */
export function tripletMarginLoss(anchor: T.Tensor, positive: T.Tensor, negative: T.Tensor, options: ReductionOptions & { margin?: number; p?: number; eps?: number; swap?: boolean } = {}): T.Tensor {
  const fn = 'tripletMarginLoss';
  const r = reductionOf(fn, options);
  for (const [t, n] of [[anchor, 'anchor'], [positive, 'positive'], [negative, 'negative']] as const) checkFloat(fn, t, n);
  checkSameDevice(fn, anchor, positive, negative);
  if (anchor.rank !== 1 && anchor.rank !== 2) throw new RangeError(`${fn}: expected anchor of shape [N, D] or [D], received ${shapeStr(anchor.shape)}`);
  checkSameShape(fn, anchor, positive, 'anchor', 'positive');
  checkSameShape(fn, anchor, negative, 'anchor', 'negative');
  const margin = checkNumber(fn, options.margin ?? 1, 'margin', (m) => m > 0 && Number.isFinite(m), 'a positive number');
  const o = { p: options.p ?? 2, eps: options.eps ?? 1e-6 };
  return T.tidy(() => {
    const dPos = pairwiseDistance(anchor, positive, o);
    let dNeg = pairwiseDistance(anchor, negative, o);
    if (options.swap) dNeg = T.minimum(dNeg, pairwiseDistance(positive, negative, o));
    return reduce(T.relu(T.add(T.sub(dPos, dNeg), margin)), r);
  });
}
