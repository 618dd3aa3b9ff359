/**
 * Gradient rules of the index-driven ops (gather/scatter family, segment reductions, sparse
 * matmul) and of sort, topk and cdist. Index tensors get no gradient (null).
 */
import * as T from '@tessera/tensor';
import type { Tensor } from '@tessera/tensor';
import { defineGrad, sumToShape } from '../engine.js';

const zerosOf = (shape: readonly number[], like: Tensor) => T.zeros(shape, { dtype: like.dtype, device: like.device });

/** `t` padded with zeros at the end of each dim up to `shape` (src tensors may exceed the index). */
function padTo(t: Tensor, shape: readonly number[]): Tensor {
  if (t.shape.every((d, k) => d === shape[k])) return t;
  return T.pad(t, shape.flatMap((_, k) => [0, shape[shape.length - 1 - k] - t.shape[t.rank - 1 - k]]));
}

/** The leading index.shape block of `src` (the part scatter reads). */
function cropTo(src: Tensor, shape: readonly number[]): Tensor {
  let r = src;
  shape.forEach((d, k) => {
    if (r.shape[k] !== d) r = T.narrow(r, k, 0, d);
  });
  return r;
}

/** `index` (1-D or 0-d) laid out along `dim` of `shape` and broadcast over the other dims. */
function spreadIndex(index: Tensor, dim: number, shape: readonly number[]): Tensor {
  const view = shape.map((_, k) => (k === dim ? shape[k] : 1));
  return T.expand(T.reshape(index, view), shape);
}

const normDim = (dim: number, rank: number) => (dim < 0 ? dim + rank : dim);

defineGrad('indexSelect', ([g], { args }) =>
  T.tidy(() => {
    const [x, dim, index] = args as [Tensor, number, Tensor];
    const d = normDim(dim, x.rank);
    return [T.scatterAdd(zerosOf(x.shape, g!), d, spreadIndex(index, d, g!.shape), g!), null];
  }),
);

defineGrad('gather', ([g], { args }) =>
  T.tidy(() => {
    const [x, dim, index] = args as [Tensor, number, Tensor];
    return [T.scatterAdd(zerosOf(x.shape, g!), dim, index, g!), null];
  }),
);

/**
 * scatter: the written positions no longer depend on x; src gets the cotangent of the positions it
 * was written to (with repeated indices every duplicate gets it, as in PyTorch, although only the
 * last one was kept).
 */
defineGrad('scatter', ([g], { args, needs }) =>
  T.tidy(() => {
    const [, dim, index, src] = args as [Tensor, number, Tensor, Tensor | number];
    const out: (Tensor | null)[] = [needs[0] ? T.scatter(g!, dim, index, 0) : null, null];
    if (src instanceof T.Tensor) out.push(needs[2] ? padTo(T.gather(g!, dim, index), src.shape) : null);
    return out;
  }),
);

defineGrad('scatterAdd', ([g], { args, needs }) =>
  T.tidy(() => {
    const [, dim, index, src] = args as [Tensor, number, Tensor, Tensor];
    return [needs[0] ? g : null, null, needs[2] ? padTo(T.gather(g!, dim, index), src.shape) : null];
  }),
);

/**
 * scatterReduce: 'sum' and 'mean' are linear; for 'mean' each element's cotangent is shared by
 * its count (itself when includeSelf, plus what was scattered to it). 'amax'/'amin' split the
 * cotangent evenly among the contributions equal to the result, as PyTorch does. Without
 * includeSelf, elements that received something no longer depend on x. 'prod' handles zero
 * factors in the first-order gradient; its second order is exact only where at most one factor of
 * an element is zero (with two or more zeros the mixed second derivative is not produced).
 */
defineGrad('scatterReduce', ([g], { args, outputs, needs }) =>
  T.tidy(() => {
    const [x, dim, index, src, reduce] = args as [Tensor, number, Tensor, Tensor, T.ScatterReduceOp];
    const includeSelf = ((args[5] ?? {}) as { includeSelf?: boolean }).includeSelf ?? true;
    const gy = g!;
    const srcPart = cropTo(src, index.shape);
    // 1 where x still takes part in the result, 0 where (without includeSelf) it was replaced.
    const selfKept = includeSelf ? null : T.scatter(T.onesLike(gy), dim, index, 0);
    const withSelf = (t: Tensor) => (selfKept ? T.mul(t, selfKept) : t);
    let dx: Tensor;
    let dsrc: Tensor;
    if (reduce === 'sum') {
      dx = withSelf(gy);
      dsrc = T.gather(gy, dim, index);
    } else if (reduce === 'mean') {
      const scattered = T.scatterAdd(zerosOf(x.shape, gy), dim, index, T.onesLike(srcPart));
      const count = includeSelf ? T.add(scattered, 1) : T.clamp(scattered, 1);
      const shared = T.div(gy, count);
      dx = includeSelf ? shared : withSelf(gy);
      dsrc = T.gather(shared, dim, index);
    } else if (reduce === 'amax' || reduce === 'amin') {
      const y = outputs[0];
      const selfIs = withSelf(T.cast(T.eq(x, y), gy.dtype));
      const srcIs = T.cast(T.eq(srcPart, T.gather(y, dim, index)), gy.dtype);
      const shared = T.div(gy, T.scatterAdd(selfIs, dim, index, srcIs));
      dx = T.mul(selfIs, shared);
      dsrc = T.mul(srcIs, T.gather(shared, dim, index));
    } else {
      // prod: each factor's cotangent is g times the product of the other factors of its
      // element: y / c for a non-zero factor c; for a zero factor, the product P of the non-zero
      // factors when it is the only zero (Z, the count of zero factors, is 1), else 0.
      const y = outputs[0];
      const selfF = selfKept ? T.where(T.eq(selfKept, 1), x, 1) : x;
      const nonzero = (t: Tensor) => T.where(T.eq(t, 0), 1, t);
      const zeros = T.scatterAdd(T.cast(T.eq(selfF, 0), gy.dtype), dim, index, T.cast(T.eq(srcPart, 0), gy.dtype));
      const p = T.scatterReduce(nonzero(selfF), dim, index, nonzero(srcPart), 'prod');
      const others = (c: Tensor, yc: Tensor, z: Tensor, pc: Tensor) => T.where(T.eq(c, 0), T.where(T.eq(z, 1), pc, 0), T.div(yc, nonzero(c)));
      dx = withSelf(T.mul(gy, others(selfF, y, zeros, p)));
      const at = (t: Tensor) => T.gather(t, dim, index);
      dsrc = T.mul(at(gy), others(srcPart, at(y), at(zeros), at(p)));
    }
    return [needs[0] ? dx : null, null, needs[2] ? padTo(dsrc, src.shape) : null];
  }),
);

/** One segment id per row of src: rows outside every segment get a zero cotangent. */
defineGrad('segmentSum', ([g], { args }) => T.tidy(() => [T.indexSelect(g!, 0, args[1] as Tensor), null]));

/**
 * segmentSumCsr: row r belongs to segment s with ptr[s] <= r < ptr[s + 1] (found by a search of
 * ptr on the device); rows before ptr[0] or from ptr[last] on belong to none and get zero.
 */
defineGrad('segmentSumCsr', ([g], { args }) =>
  T.tidy(() => {
    const [src, ptr] = args as [Tensor, Tensor];
    const rows = src.shape[0];
    const segs = ptr.shape[0] - 1;
    if (segs === 0 || rows === 0) return [zerosOf(src.shape, g!), null];
    const r = T.arange(0, rows, 1, { dtype: 'int32', device: src.device });
    const seg = T.sub(T.searchsorted(ptr, r, { right: true }), 1);
    const inside = T.logicalAnd(T.ge(seg, 0), T.lt(seg, segs));
    const picked = T.indexSelect(g!, 0, T.clamp(seg, 0, segs - 1));
    const mask = T.reshape(T.cast(inside, g!.dtype), [rows, ...src.shape.slice(1).map(() => 1)]);
    return [T.mul(picked, mask), null];
  }),
);

defineGrad('segmentMean', ([g], { args }) =>
  T.tidy(() => {
    const [src, index, numSegments] = args as [Tensor, Tensor, number];
    const counts = T.segmentSum(T.ones([src.shape[0]], { dtype: g!.dtype, device: g!.device }), index, numSegments);
    const perRow = T.reshape(T.clamp(counts, 1), [numSegments, ...src.shape.slice(1).map(() => 1)]);
    return [T.indexSelect(T.div(g!, perRow), 0, index), null];
  }),
);

/**
 * segmentMax/Min: each value's cotangent goes to the row that gave it (argIndices). Empty
 * segments point at row E, a padding row that is dropped.
 */
function segmentExtremumRule(op: string) {
  defineGrad(op, ([g], { args, outputs }) =>
    T.tidy(() => {
      const src = args[0] as Tensor;
      const E = src.shape[0];
      const padded = T.scatterAdd(zerosOf([E + 1, ...src.shape.slice(1)], g!), 0, outputs[1], g!);
      return [T.narrow(padded, 0, 0, E), null];
    }),
  );
}

segmentExtremumRule('segmentMax');
segmentExtremumRule('segmentMin');

/** Softmax within segments: dx = y (g - sum over the segment of g y). */
defineGrad('segmentSoftmax', ([g], { args, outputs }) =>
  T.tidy(() => {
    const [, index, numSegments] = args as [Tensor, Tensor, number];
    const y = outputs[0];
    const dot = T.segmentSum(T.mul(g!, y), index, numSegments);
    return [T.mul(y, T.sub(g!, T.indexSelect(dot, 0, index))), null];
  }),
);

/**
 * spmm(A, B): dB = Aᵀ g, itself an spmm with the transpose (a CSR of Aᵀ built on the device;
 * duplicate entries add up, as in the forward pass), so it stays one deterministic kernel and is
 * differentiable again. The sparse values are not a tensor input of the op and get no gradient.
 * The engine saves a copy of A that shares its data, so the caller may dispose A before backward.
 */
defineGrad('spmm', ([g], { args }) =>
  T.tidy(() => {
    const [a] = args as [T.SparseTensor, Tensor];
    const at = a.transpose();
    try {
      return [T.spmm(at, g!)];
    } finally {
      at.dispose();
    }
  }),
);

/** sort and topk: the values' cotangent goes back to where each value came from. */
function selectionRule(op: string, dimOf: (args: readonly unknown[]) => number | undefined) {
  defineGrad(op, ([g], { args, inputs, outputs }) =>
    T.tidy(() => {
      const x = inputs[0];
      if (x.rank === 0) return [g];
      const dim = normDim(dimOf(args) ?? -1, x.rank);
      return [T.scatterAdd(zerosOf(x.shape, g!), dim, outputs[1], g!)];
    }),
  );
}

selectionRule('sort', (args) => (args[1] as T.SortOptions | undefined)?.dim);
selectionRule('topk', (args) => (args[2] as T.TopkOptions | undefined)?.dim);

/**
 * cdist: d_ij = ||x1_i - x2_j||_p, so d d_ij / d x1_i = sign(diff) |diff|^(p-1) / d_ij^(p-1) for
 * 0 < p < inf (p = 1: sign(diff); p = 2: diff / d_ij), and for p = inf sign(diff) on the
 * coordinates where |diff| reaches the max. Pairs at zero distance get 0, as in PyTorch, and so
 * does p = 0 (a count).
 */
defineGrad('cdist', ([g], { args, inputs, outputs, needs }) =>
  T.tidy(() => {
    const [x1, x2] = inputs;
    const p = ((args[2] ?? {}) as { p?: number }).p ?? 2;
    if (p === 0) return [needs[0] ? T.zerosLike(x1) : null, needs[1] ? T.zerosLike(x2) : null];
    const diff = T.sub(T.unsqueeze(x1, -2), T.unsqueeze(x2, -3));
    const dist = T.unsqueeze(outputs[0], -1);
    const gy = T.unsqueeze(g!, -1);
    let dd: Tensor;
    if (p === 1) {
      dd = T.sign(diff);
    } else if (p === Infinity) {
      dd = T.mul(T.sign(diff), T.cast(T.eq(T.abs(diff), dist), diff.dtype));
    } else {
      // Dividing by 1 where the distance is 0 gives 0 there, since every difference is 0 too.
      const safe = T.where(T.eq(dist, 0), 1, dist);
      if (p === 2) {
        dd = T.div(diff, safe);
      } else {
        // |diff|^(p-1) taken as 0 where diff = 0 (for p < 1 that is PyTorch's convention rather than
        // the limit), through a safe base so that no inf reaches the second order.
        const zero = T.eq(diff, 0);
        const mag = T.where(zero, 0, T.pow(T.where(zero, 1, T.abs(diff)), p - 1));
        dd = T.mul(T.sign(diff), T.div(mag, T.pow(safe, p - 1)));
      }
    }
    const t = T.mul(gy, dd);
    return [
      needs[0] ? sumToShape(T.sum(t, { dim: -2 }), x1.shape) : null,
      needs[1] ? sumToShape(T.neg(T.sum(t, { dim: -3 })), x2.shape) : null,
    ];
  }),
);
