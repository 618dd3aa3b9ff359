import { isFloat, promoteScalar, promoteTypes, toFloat, type DType } from '../dtype.js';
import { broadcastShapes } from '../shape.js';
import { Tensor } from '../tensor.js';
import { full } from './creation.js';
import { BINARY_OPS, UNARY_OPS, type BinaryOp, type UnaryOp } from './optable.js';
import { broadcastSpec, checkTensor, empty, run, sameDevice, type TensorOrScalar } from './util.js';

function unary(op: UnaryOp, x: Tensor, p0 = 0, p1 = 0): Tensor {
  checkTensor(op, x);
  const def = UNARY_OPS[op];
  if ((def as { refuse?: readonly string[] }).refuse?.includes(x.dtype)) {
    throw new TypeError(`${op}: dtype ${x.dtype} is not supported`);
  }
  const dtype: DType = def.kind === 'float' ? toFloat(x.dtype) : def.kind === 'pred' ? 'bool' : x.dtype;
  const out = empty(x.shape, dtype, x.device, op);
  run('unary', [x], [out], { op, p0, p1 });
  return out;
}

/** Converts to another dtype (float→int truncates toward zero; nonzero→true). Always a new tensor. */
export function cast(x: Tensor, dtype: DType): Tensor {
  checkTensor('cast', x);
  if (x.dtype === dtype) return x._view(x.shape, x.strides, x.offset);
  const out = empty(x.shape, dtype, x.device, 'cast');
  run('cast', [x], [out]);
  return out;
}

function toTensor(op: string, v: TensorOrScalar, dtype: DType, like: Tensor): { t: Tensor; temp: boolean } {
  if (v instanceof Tensor) {
    checkTensor(op, v);
    if (v.dtype === dtype) return { t: v, temp: false };
    return { t: cast(v, dtype), temp: true };
  }
  if (typeof v !== 'number' && typeof v !== 'boolean') throw new TypeError(`${op}: expected a Tensor or a number, received ${typeof v}`);
  return { t: full([], Number(v), { dtype, device: like.device }), temp: true };
}

function binary(op: BinaryOp, a: TensorOrScalar, b: TensorOrScalar): Tensor {
  const def = BINARY_OPS[op];
  const ta = a instanceof Tensor ? a : null;
  const tb = b instanceof Tensor ? b : null;
  if (!ta && !tb) throw new TypeError(`${op}: expected at least one Tensor operand, received ${typeof a} and ${typeof b}`);
  if (ta) checkTensor(op, ta, 'first operand');
  if (tb) checkTensor(op, tb, 'second operand');
  if (ta && tb) sameDevice(op, ta, tb);
  let dtype = ta && tb ? promoteTypes(ta.dtype, tb.dtype) : ta ? promoteScalar(ta.dtype, b as number) : promoteScalar(tb!.dtype, a as number);
  if (def.kind === 'fdiv') dtype = toFloat(dtype);
  if ((def as { refuse?: readonly string[] }).refuse?.includes(dtype)) throw new TypeError(`${op}: dtype ${dtype} is not supported`);
  const like = (ta ?? tb)!;
  const A = toTensor(op, a, dtype, like);
  const B = toTensor(op, b, dtype, like);
  try {
    const shape = broadcastShapes(op, A.t.shape, B.t.shape);
    const outDtype = def.kind === 'cmp' || def.kind === 'logical' ? 'bool' : dtype;
    const out = empty(shape, outDtype, like.device, op);
    run('binary', [broadcastSpec(A.t, shape), broadcastSpec(B.t, shape)], [out], { op });
    return out;
  } finally {
    if (A.temp) A.t.dispose();
    if (B.temp) B.t.dispose();
  }
}

export const neg = (x: Tensor) => unary('neg', x);
export const abs = (x: Tensor) => unary('abs', x);
export const sign = (x: Tensor) => unary('sign', x);
export const exp = (x: Tensor) => unary('exp', x);
export const expm1 = (x: Tensor) => unary('expm1', x);
export const log = (x: Tensor) => unary('log', x);
export const log1p = (x: Tensor) => unary('log1p', x);
export const sqrt = (x: Tensor) => unary('sqrt', x);
export const rsqrt = (x: Tensor) => unary('rsqrt', x);
export const reciprocal = (x: Tensor) => unary('reciprocal', x);
export const sin = (x: Tensor) => unary('sin', x);
export const cos = (x: Tensor) => unary('cos', x);
export const tan = (x: Tensor) => unary('tan', x);
export const tanh = (x: Tensor) => unary('tanh', x);
export const sigmoid = (x: Tensor) => unary('sigmoid', x);
export const relu = (x: Tensor) => unary('relu', x);
export const silu = (x: Tensor) => unary('silu', x);
export const erf = (x: Tensor) => unary('erf', x);
export const floor = (x: Tensor) => unary('floor', x);
export const ceil = (x: Tensor) => unary('ceil', x);
export const round = (x: Tensor) => unary('round', x);
export const trunc = (x: Tensor) => unary('trunc', x);
export const isNaN = (x: Tensor) => unary('isNaN', x);
export const isFinite = (x: Tensor) => unary('isFinite', x);
export const logicalNot = (x: Tensor) => unary('logicalNot', x);
export const leakyRelu = (x: Tensor, negativeSlope = 0.01) => unary('leakyRelu', x, negativeSlope);
export const elu = (x: Tensor, alpha = 1) => unary('elu', x, alpha);

/** GELU; `approximate: 'tanh'` uses the tanh formula, as in PyTorch. */
export function gelu(x: Tensor, options: { approximate?: 'none' | 'tanh' } = {}): Tensor {
  const a = options.approximate ?? 'none';
  if (a !== 'none' && a !== 'tanh') throw new TypeError(`gelu: approximate must be 'none' or 'tanh', received '${a}'`);
  return unary(a === 'tanh' ? 'geluTanh' : 'gelu', x);
}

/** log(1 + exp(beta x)) / beta, linear above `threshold` as in PyTorch. */
export function softplus(x: Tensor, options: { beta?: number; threshold?: number } = {}): Tensor {
  const beta = options.beta ?? 1;
  if (!(beta > 0)) throw new RangeError(`softplus: beta must be positive, received ${beta}`);
  return unary('softplus', x, beta, options.threshold ?? 20);
}

/** Clamps into [min, max]; either bound may be omitted, and either may be a tensor. */
export function clamp(x: Tensor, min?: TensorOrScalar | null, max?: TensorOrScalar | null): Tensor {
  checkTensor('clamp', x);
  if ((min === undefined || min === null) && (max === undefined || max === null)) {
    throw new TypeError('clamp: at least one of min and max must be given');
  }
  if (min instanceof Tensor || max instanceof Tensor) {
    const lo = min !== undefined && min !== null ? maximum(x, min) : x;
    const hi = max !== undefined && max !== null ? minimum(lo, max) : lo;
    if (lo !== x && hi !== lo) lo.dispose();
    return hi === x ? cast(x, x.dtype) : hi;
  }
  const lo = min ?? -Infinity;
  const hi = max ?? Infinity;
  if (typeof lo !== 'number' || typeof hi !== 'number') throw new TypeError('clamp: bounds must be numbers or tensors');
  if (!isFloat(x.dtype) && (!Number.isInteger(lo) && Number.isFinite(lo) || !Number.isInteger(hi) && Number.isFinite(hi))) {
    throw new TypeError(`clamp: fractional bounds on an ${x.dtype} tensor; cast it to float first`);
  }
  return unary('clamp', x, lo, hi);
}

export const add = (a: TensorOrScalar, b: TensorOrScalar) => binary('add', a, b);
export const sub = (a: TensorOrScalar, b: TensorOrScalar) => binary('sub', a, b);
export const mul = (a: TensorOrScalar, b: TensorOrScalar) => binary('mul', a, b);
export const div = (a: TensorOrScalar, b: TensorOrScalar) => binary('div', a, b);
export const pow = (a: TensorOrScalar, b: TensorOrScalar) => binary('pow', a, b);
export const atan2 = (a: TensorOrScalar, b: TensorOrScalar) => binary('atan2', a, b);
export const remainder = (a: TensorOrScalar, b: TensorOrScalar) => binary('remainder', a, b);
export const minimum = (a: TensorOrScalar, b: TensorOrScalar) => binary('minimum', a, b);
export const maximum = (a: TensorOrScalar, b: TensorOrScalar) => binary('maximum', a, b);
/** relu's gradient: 0 where `x <= 0`, else `grad` (PyTorch's `threshold_backward(grad, x, 0)`; a NaN x passes grad). */
export const reluBackward = (grad: TensorOrScalar, x: TensorOrScalar) => binary('reluBackward', grad, x);
export const eq = (a: TensorOrScalar, b: TensorOrScalar) => binary('eq', a, b);
export const ne = (a: TensorOrScalar, b: TensorOrScalar) => binary('ne', a, b);
export const lt = (a: TensorOrScalar, b: TensorOrScalar) => binary('lt', a, b);
export const le = (a: TensorOrScalar, b: TensorOrScalar) => binary('le', a, b);
export const gt = (a: TensorOrScalar, b: TensorOrScalar) => binary('gt', a, b);
export const ge = (a: TensorOrScalar, b: TensorOrScalar) => binary('ge', a, b);
export const logicalAnd = (a: TensorOrScalar, b: TensorOrScalar) => binary('logicalAnd', a, b);
export const logicalOr = (a: TensorOrScalar, b: TensorOrScalar) => binary('logicalOr', a, b);
export const logicalXor = (a: TensorOrScalar, b: TensorOrScalar) => binary('logicalXor', a, b);
export const square = (x: Tensor) => binary('mul', x, x);

/** Elementwise `condition ? a : b` with broadcasting; `condition` must be bool. */
export function where(condition: Tensor, a: TensorOrScalar, b: TensorOrScalar): Tensor {
  checkTensor('where', condition, 'condition');
  if (condition.dtype !== 'bool') throw new TypeError(`where: expected a bool condition, received ${condition.dtype}`);
  const ta = a instanceof Tensor ? a : null;
  const tb = b instanceof Tensor ? b : null;
  for (const t of [ta, tb]) if (t) sameDevice('where', condition, checkTensor('where', t));
  const dtype = ta && tb ? promoteTypes(ta.dtype, tb.dtype) : ta ? promoteScalar(ta.dtype, b as number) : tb ? promoteScalar(tb.dtype, a as number) : typeof a === 'boolean' && typeof b === 'boolean' ? 'bool' : [a, b].every((v) => Number.isInteger(v)) ? 'int32' : 'float32';
  const A = toTensor('where', a, dtype, condition);
  const B = toTensor('where', b, dtype, condition);
  try {
    const shape = broadcastShapes('where', condition.shape, A.t.shape, B.t.shape);
    const out = empty(shape, dtype, condition.device, 'where');
    run('where', [broadcastSpec(condition, shape), broadcastSpec(A.t, shape), broadcastSpec(B.t, shape)], [out]);
    return out;
  } finally {
    if (A.temp) A.t.dispose();
    if (B.temp) B.t.dispose();
  }
}

/** `value` where `mask` is true, else `x` (PyTorch's masked_fill, not in place). */
export function maskedFill(x: Tensor, mask: Tensor, value: TensorOrScalar): Tensor {
  checkTensor('maskedFill', x);
  checkTensor('maskedFill', mask, 'mask');
  if (mask.dtype !== 'bool') throw new TypeError(`maskedFill: expected a bool mask, received ${mask.dtype}`);
  broadcastShapes('maskedFill', x.shape, mask.shape);
  const v = value instanceof Tensor ? cast(value, x.dtype) : value;
  try {
    const out = where(mask, v, x);
    if (out.dtype !== x.dtype) {
      const c = cast(out, x.dtype);
      out.dispose();
      return c;
    }
    return out;
  } finally {
    if (v instanceof Tensor) v.dispose();
  }
}

export { UNARY_OPS, BINARY_OPS };
