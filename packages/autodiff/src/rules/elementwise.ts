/**
 * Gradient rules of the elementwise ops. Each rule returns one gradient per tensor input.
 *
 * Conventions follow PyTorch: kinks take the one-sided value PyTorch picks (relu'(0) = 0,
 * abs'(0) = 0, clamp passes the gradient where min <= x <= max), piecewise-constant ops
 * (sign, floor, ceil, round, trunc) have zero gradient, and minimum/maximum split the gradient
 * evenly between equal operands.
 */
import * as T from '@tessera/tensor';
import type { Tensor } from '@tessera/tensor';
import { defineGrad, sumToShape } from '../engine.js';

type Operand = Tensor | number;

const isTensor = (a: unknown): a is Tensor => a instanceof T.Tensor;
const isFloat = (t: Tensor) => t.dtype === 'float32' || t.dtype === 'float64';

/** A rule for a one-input op, from the gradient `g`, the input `x`, the output `y` and the op's other arguments. */
function unary(op: string, grad: (g: Tensor, x: Tensor, y: Tensor, args: readonly unknown[]) => Tensor) {
  defineGrad(op, ([g], { args, inputs, outputs }) => T.tidy(() => [grad(g!, inputs[0], outputs[0], args.slice(1))]));
}

/** A rule for a piecewise-constant op: its gradient is zero wherever it is defined. */
function constant(op: string) {
  defineGrad(op, (_, { inputs }) => [T.zerosLike(inputs[0])]);
}

/**
 * A rule for binary ops whose operands may be tensors or numbers (only tensors get gradients);
 * the partials are of the broadcast shape and are summed back to each operand's shape.
 */
function binary(op: string, partials: (g: Tensor, a: Operand, b: Operand, y: Tensor, needs: { a: boolean; b: boolean }) => [Tensor | null, Tensor | null]) {
  defineGrad(op, ([g], { args, needs, outputs }) =>
    T.tidy(() => {
      const [a, b] = args as [Operand, Operand];
      const needA = isTensor(a) && needs[0];
      const needB = isTensor(b) && needs[isTensor(a) ? 1 : 0];
      const [ga, gb] = partials(g!, a, b, outputs[0], { a: needA, b: needB });
      const out: (Tensor | null)[] = [];
      if (isTensor(a)) out.push(needA && ga ? sumToShape(ga, a.shape) : null);
      if (isTensor(b)) out.push(needB && gb ? sumToShape(gb, b.shape) : null);
      return out;
    }),
  );
}

/** `cond` (bool) as 0/1 in the dtype of `like`. */
const indicator = (cond: Tensor, like: Tensor) => T.cast(cond, like.dtype);

// ---- unary ----

unary('neg', (g) => T.neg(g));
unary('abs', (g, x) => T.mul(g, T.sign(x)));
for (const op of ['sign', 'floor', 'ceil', 'round', 'trunc']) constant(op);
unary('exp', (g, _x, y) => T.mul(g, y));
unary('expm1', (g, _x, y) => T.mul(g, T.add(y, 1)));
unary('log', (g, x) => T.div(g, x));
unary('log1p', (g, x) => T.div(g, T.add(x, 1)));
unary('sqrt', (g, _x, y) => T.div(g, T.mul(y, 2)));
// d x^(-1/2) = -x^(-3/2) / 2 = -y^3 / 2
unary('rsqrt', (g, _x, y) => T.mul(g, T.mul(T.pow(y, 3), -0.5)));
unary('reciprocal', (g, _x, y) => T.neg(T.mul(g, T.square(y))));
unary('sin', (g, x) => T.mul(g, T.cos(x)));
unary('cos', (g, x) => T.neg(T.mul(g, T.sin(x))));
unary('tan', (g, _x, y) => T.mul(g, T.add(T.square(y), 1)));
unary('tanh', (g, _x, y) => T.mul(g, T.sub(1, T.square(y))));
unary('sigmoid', (g, _x, y) => T.mul(g, T.mul(y, T.sub(1, y))));
unary('relu', (g, x) => T.reluBackward(g, x));
// silu = x s(x): s + x s (1 - s)
unary('silu', (g, x) => {
  const s = T.sigmoid(x);
  return T.mul(g, T.mul(s, T.add(T.mul(x, T.sub(1, s)), 1)));
});
unary('erf', (g, x) => T.mul(g, T.mul(T.exp(T.neg(T.square(x))), 2 / Math.sqrt(Math.PI))));
unary('leakyRelu', (g, x, _y, [slope]) => T.where(T.gt(x, 0), g, T.mul(g, (slope as number | undefined) ?? 0.01)));
// elu = alpha (e^x - 1) below 0; e^x is taken of min(x, 0) so the unselected branch cannot overflow.
unary('elu', (g, x, _y, [alpha]) => T.where(T.gt(x, 0), g, T.mul(g, T.mul(T.exp(T.clamp(x, null, 0)), (alpha as number | undefined) ?? 1))));
unary('gelu', (g, x, _y, [options]) => {
  if ((options as { approximate?: string } | undefined)?.approximate === 'tanh') {
    // y = x (1 + tanh u) / 2 with u = k (x + c x^3)
    const k = Math.sqrt(2 / Math.PI);
    const c = 0.044715;
    const t = T.tanh(T.mul(T.add(x, T.mul(T.pow(x, 3), c)), k));
    const du = T.add(T.mul(T.square(x), 3 * c * k), k);
    const d = T.add(T.mul(T.add(t, 1), 0.5), T.mul(T.mul(x, T.sub(1, T.square(t))), T.mul(du, 0.5)));
    return T.mul(g, d);
  }
  // y = x Phi(x): Phi(x) + x phi(x)
  const cdf = T.mul(T.add(T.erf(T.mul(x, Math.SQRT1_2)), 1), 0.5);
  const pdf = T.mul(T.exp(T.mul(T.square(x), -0.5)), 1 / Math.sqrt(2 * Math.PI));
  return T.mul(g, T.add(cdf, T.mul(x, pdf)));
});
unary('softplus', (g, x, _y, [options]) => {
  const { beta = 1, threshold = 20 } = (options ?? {}) as { beta?: number; threshold?: number };
  const bx = T.mul(x, beta);
  // Linear (slope 1) above the threshold, as in the forward pass.
  return T.where(T.gt(bx, threshold), g, T.mul(g, T.sigmoid(bx)));
});

defineGrad('cast', ([g], { inputs, outputs, needs }) => {
  const x = inputs[0];
  // Only float-to-float casts carry a gradient (others are not recorded or end at an integer input).
  if (!needs[0] || !isFloat(x) || !isFloat(outputs[0])) return [null];
  return [T.cast(g!, x.dtype)];
});

defineGrad('clamp', ([g], { args, inputs, needs }) =>
  T.tidy(() => {
    const x = inputs[0];
    const [, min, max] = args as [Tensor, Operand | null | undefined, Operand | null | undefined];
    const hasMin = min !== undefined && min !== null;
    const hasMax = max !== undefined && max !== null;
    // PyTorch's clamp_backward: x keeps min <= x <= max; a tensor min gets x < min (when min < max),
    // a tensor max gets x > max or max < min (the forward returns max when the bounds cross).
    let keep: Tensor | null = null;
    if (hasMin) keep = T.ge(x, min);
    if (hasMax) keep = keep ? T.logicalAnd(keep, T.le(x, max)) : T.le(x, max);
    const out: (Tensor | null)[] = [needs[0] ? sumToShape(T.where(keep!, g!, 0), x.shape) : null];
    if (isTensor(min)) {
      const lower = hasMax ? T.logicalAnd(T.lt(x, min), T.lt(min, max)) : T.lt(x, min);
      out.push(needs[out.length] ? sumToShape(T.where(lower, g!, 0), min.shape) : null);
    }
    if (isTensor(max)) {
      const upper = hasMin ? T.logicalOr(T.gt(x, max), T.lt(max, min)) : T.gt(x, max);
      out.push(needs[out.length] ? sumToShape(T.where(upper, g!, 0), max.shape) : null);
    }
    return out;
  }),
);

// ---- binary ----

binary('add', (g) => [g, g]);
binary('sub', (g, _a, _b, _y, needs) => [g, needs.b ? T.neg(g) : null]);
binary('mul', (g, a, b, _y, needs) => [needs.a ? T.mul(g, b) : null, needs.b ? T.mul(g, a) : null]);
binary('div', (g, a, b, _y, needs) => [needs.a ? T.div(g, b) : null, needs.b ? T.neg(T.div(T.mul(g, a), T.mul(b, b))) : null]);
binary('pow', (g, a, b, y, needs) => {
  let ga: Tensor | null = null;
  if (needs.a) {
    // b a^(b-1), zero where b == 0 (where a^(b-1) could be infinite).
    if (typeof b === 'number') ga = b === 0 ? T.zerosLike(g) : T.mul(g, T.mul(T.pow(a, b - 1), b));
    else ga = T.where(T.eq(b, 0), 0, T.mul(g, T.mul(T.pow(a, T.sub(b, 1)), b)));
  }
  let gb: Tensor | null = null;
  if (needs.b) {
    // a^b log a, zero where a == 0 (log taken of 1 there, so no inf * 0 in higher orders).
    const logA = typeof a === 'number' ? (a === 0 ? 0 : Math.log(a)) : T.log(T.where(T.eq(a, 0), 1, a));
    gb = T.mul(g, T.mul(y, logA));
  }
  return [ga, gb];
});
const squared = (v: Operand) => (typeof v === 'number' ? v * v : T.square(v));
binary('atan2', (g, a, b) => {
  const r = T.add(squared(a), squared(b));
  return [T.div(T.mul(g, b), r), T.neg(T.div(T.mul(g, a), r))];
});
// remainder(a, b) = a - b floor(a / b)
binary('remainder', (g, a, b, _y, needs) => [g, needs.b ? T.neg(T.mul(g, T.floor(T.div(a, b)))) : null]);

/** maximum/minimum: the winner takes the gradient, ties split it evenly. */
function extremum(op: 'maximum' | 'minimum') {
  binary(op, (g, a, b) => {
    const wins = op === 'maximum' ? T.gt(a, b) : T.lt(a, b);
    const wa = T.add(indicator(wins, g), T.mul(indicator(T.eq(a, b), g), 0.5));
    return [T.mul(g, wa), T.mul(g, T.sub(1, wa))];
  });
}
extremum('maximum');
extremum('minimum');
// reluBackward(g, x) is linear in g with the same mask; x only selects (zero gradient, as relu'' = 0)
binary('reluBackward', (g, _a, b) => [T.reluBackward(g, b as Tensor), null]);

unary('square', (g, x) => T.mul(g, T.mul(x, 2)));

defineGrad('where', ([g], { args, needs }) =>
  T.tidy(() => {
    const [cond, a, b] = args as [Tensor, Operand, Operand];
    const out: (Tensor | null)[] = [null];
    if (isTensor(a)) out.push(needs[out.length] && isFloat(a) ? sumToShape(T.where(cond, g!, 0), a.shape) : null);
    if (isTensor(b)) out.push(needs[out.length] && isFloat(b) ? sumToShape(T.where(cond, 0, g!), b.shape) : null);
    return out;
  }),
);

defineGrad('maskedFill', ([g], { args, needs }) =>
  T.tidy(() => {
    const [x, mask, value] = args as [Tensor, Tensor, Operand];
    const out: (Tensor | null)[] = [needs[0] ? sumToShape(T.where(mask, 0, g!), x.shape) : null, null];
    // A tensor value is broadcast into every masked position: it collects their gradients.
    if (isTensor(value)) out.push(needs[2] && isFloat(value) ? sumToShape(T.where(mask, g!, 0), value.shape) : null);
    return out;
  }),
);

defineGrad('reshape', ([g], { inputs }) => [T.reshape(g!, inputs[0].shape)]);
