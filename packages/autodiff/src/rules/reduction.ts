/**
 * Gradient rules of the reductions, scans and softmaxes.
 *
 * A reduction's cotangent has the output's shape; it is reshaped with the reduced dims kept as
 * size 1 and broadcast back over the input. Conventions follow PyTorch: amax/amin (and max/min
 * without dim, norm with p = ±inf) split the gradient evenly among tied extrema, max/min with
 * dim route it to the returned index, std and the 2-norm have gradient 0 where they are 0.
 *
 * Limitations: prod's first-order gradient is exact with any number of zeros per slice, its
 * second-order gradient only with at most one zero per slice; cumprod's gradient assumes the
 * input has no zeros (it divides by the input).
 */
import * as T from '@tessera/tensor';
import type { Tensor } from '@tessera/tensor';
import { defineGrad } from '../engine.js';

interface ReduceArgs {
  dim?: number | readonly number[];
  keepdim?: boolean;
}

/** The reduced dims, normalised (all of them when `dim` is omitted). */
function dimsOf(x: Tensor, dim: number | readonly number[] | undefined): number[] {
  if (x.rank === 0) return [];
  if (dim === undefined) return x.shape.map((_, i) => i);
  return (typeof dim === 'number' ? [dim] : [...dim]).map((d) => (d < 0 ? d + x.rank : d));
}

/** `t`, a reduction's output or its cotangent, with the reduced dims as size 1 (broadcastable against x). */
function kept(t: Tensor, x: Tensor, dims: readonly number[], keepdim: boolean | undefined): Tensor {
  return keepdim ? t : T.reshape(t, x.shape.map((s, i) => (dims.includes(i) ? 1 : s)));
}

/**
 * `t` broadcast to `shape` as a view (expand is recorded, so the rule stays differentiable; no
 * full-size tensor is written: the consumer reads the stride-0 view).
 */
function spread(t: Tensor, shape: readonly number[]): Tensor {
  return T.expand(t, shape);
}

const count = (dims: readonly number[], x: Tensor) => dims.reduce((n, d) => n * x.shape[d], 1);

/**
 * A rule for a reduction with `{ dim, keepdim }` options: `grad` gets the cotangent and the output
 * with the reduced dims kept, and returns the input's gradient (or something that broadcasts to it).
 */
function reduction(op: string, grad: (gk: Tensor, x: Tensor, yk: Tensor, dims: number[], opts: Record<string, unknown>) => Tensor) {
  defineGrad(op, ([g], { args, inputs, outputs }) =>
    T.tidy(() => {
      const x = inputs[0];
      const opts = (args[1] ?? {}) as ReduceArgs & Record<string, unknown>;
      const dims = dimsOf(x, opts.dim);
      const r = grad(kept(g!, x, dims, opts.keepdim), x, kept(outputs[0], x, dims, opts.keepdim), dims, opts);
      return [spread(r, x.shape)];
    }),
  );
}

/** The gradient of amax/amin: split evenly among the elements equal to the extremum. */
function toExtrema(gk: Tensor, values: Tensor, yk: Tensor, dims: readonly number[]): Tensor {
  const hit = T.eq(values, yk);
  const ties = T.sum(T.cast(hit, gk.dtype), { dim: [...dims], keepdim: true });
  return T.where(hit, T.div(gk, ties), 0);
}

reduction('sum', (gk) => gk);
reduction('mean', (gk, x, _yk, dims) => T.div(gk, count(dims, x)));

reduction('prod', (gk, x, _yk, dims) => {
  // The product of the other elements of each slice, without dividing by zero: the product of the
  // non-zeros over x (x read as 1 at zeros), times the product of the other zeros: 1 in a slice
  // without zeros; in a slice with one zero, 1 at it and elsewhere that zero (the slice sum of the
  // zeros: value 0 but derivative 1, which keeps the second order exact); 0 with more zeros.
  const o = { dim: dims, keepdim: true };
  const isZero = T.eq(x, 0);
  const nonZero = T.where(isZero, 1, x);
  const zeros = T.sum(isZero, o);
  const lone = T.sum(T.where(isZero, x, 0), o);
  const otherZeros = T.where(T.eq(zeros, 0), 1, T.where(T.eq(zeros, 1), T.where(isZero, 1, lone), 0));
  return T.mul(T.mul(gk, T.div(T.prod(nonZero, o), nonZero)), otherZeros);
});

reduction('amax', (gk, x, yk, dims) => toExtrema(gk, x, yk, dims));
reduction('amin', (gk, x, yk, dims) => toExtrema(gk, x, yk, dims));

/** max/min: over everything without dim (as amax), else to the index returned along dim. */
function extreme(op: 'max' | 'min') {
  defineGrad(op, ([g], { args, inputs, outputs }) =>
    T.tidy(() => {
      const x = inputs[0];
      const opts = args[1] as { dim?: number; keepdim?: boolean } | undefined;
      if (opts?.dim === undefined) {
        const dims = dimsOf(x, undefined);
        return [spread(toExtrema(kept(g!, x, dims, false), x, kept(outputs[0], x, dims, false), dims), x.shape)];
      }
      if (x.rank === 0) return [g];
      const [d] = dimsOf(x, opts.dim);
      const idx = kept(outputs[1], x, [d], opts.keepdim);
      const positions = T.reshape(T.arange(0, x.shape[d], 1, { dtype: 'int32', device: x.device }), x.shape.map((s, i) => (i === d ? s : 1)));
      return [T.where(T.eq(positions, idx), kept(g!, x, [d], opts.keepdim), 0)];
    }),
  );
}
extreme('max');
extreme('min');

/** d var / dx = 2 (x - mean) / (n - correction). */
const varianceGrad = (x: Tensor, dims: number[], correction: unknown) =>
  T.div(T.mul(T.sub(x, T.mean(x, { dim: dims, keepdim: true })), 2), Math.max(0, count(dims, x) - ((correction as number | undefined) ?? 1)));

reduction('variance', (gk, x, _yk, dims, opts) => T.mul(gk, varianceGrad(x, dims, opts.correction)));
// d std = d var / (2 std); where std is 0 so is x - mean, and dividing by 1 instead gives 0.
reduction('std', (gk, x, yk, dims, opts) => T.mul(T.div(gk, T.mul(T.where(T.eq(yk, 0), 1, yk), 2)), varianceGrad(x, dims, opts.correction)));
reduction('logsumexp', (gk, x, yk) => T.mul(gk, T.exp(T.sub(x, yk))));

reduction('norm', (gk, x, yk, dims, opts) => {
  const p = opts.p === undefined || opts.p === 'fro' ? 2 : (opts.p as number);
  if (p === 0) return T.zerosLike(x);
  if (p === 1) return T.mul(gk, T.sign(x));
  if (p === Infinity || p === -Infinity) return T.mul(toExtrema(gk, T.abs(x), yk, dims), T.sign(x));
  // A zero norm means a zero slice, whose gradient is 0: divide by 1 there instead.
  const safeNorm = T.where(T.eq(yk, 0), 1, yk);
  if (p === 2) return T.mul(gk, T.div(x, safeNorm));
  // sign(x) |x|^(p-1) / norm^(p-1); |x| is read as 1 at zeros (where sign(x) = 0) so that p < 1 gives no 0 * inf.
  const absPow = T.pow(T.where(T.eq(x, 0), 1, T.abs(x)), p - 1);
  return T.mul(T.div(gk, T.pow(safeNorm, p - 1)), T.mul(T.sign(x), absPow));
});

/** Sums from each position to the end of `dim` (the transpose of cumsum). */
function reverseCumsum(t: Tensor, dim: number): Tensor {
  return T.flip(T.cumsum(T.flip(t, dim), dim), dim);
}

defineGrad('cumsum', ([g], { args, inputs }) => T.tidy(() => [inputs[0].rank === 0 ? g : reverseCumsum(g!, args[1] as number)]));
// Assumes x has no zeros: d y_j / d x_i = y_j / x_i for j >= i.
defineGrad('cumprod', ([g], { args, inputs, outputs }) =>
  T.tidy(() => {
    const x = inputs[0];
    if (x.rank === 0) return [g];
    return [T.div(reverseCumsum(T.mul(g!, outputs[0]), args[1] as number), x)];
  }),
);

defineGrad('softmax', ([g], { args, outputs }) =>
  T.tidy(() => {
    const y = outputs[0];
    const dim = (args[1] as number | undefined) ?? -1;
    return [T.mul(y, T.sub(g!, T.sum(T.mul(g!, y), { dim, keepdim: true })))];
  }),
);
// softmax = exp(logSoftmax): taking it of the output keeps the rule differentiable.
defineGrad('logSoftmax', ([g], { args, outputs }) =>
  T.tidy(() => {
    const dim = (args[1] as number | undefined) ?? -1;
    return [T.sub(g!, T.mul(T.exp(outputs[0]), T.sum(g!, { dim, keepdim: true })))];
  }),
);
