/**
 * One record per elementwise op. The cpu backend compiles `js` into a loop, the webgpu backend
 * compiles `wgsl` into a shader, and the conformance tests enumerate this table. Expressions use
 * `a` (and `b`) for the operands and `p0`, `p1` for scalar parameters. Helper functions they call
 * (`erf`, `isnan`, ...) are defined in each backend's prelude.
 *
 * Unary kinds:  'float' lifts int/bool inputs to float32; 'same' keeps the dtype; 'pred' returns bool.
 * Binary kinds: 'arith' returns the promoted dtype; 'fdiv' a float; 'cmp' and 'logical' return bool.
 */
export interface UnaryOpDef {
  readonly kind: 'float' | 'same' | 'pred';
  readonly js: string;
  readonly wgsl: string;
  /** Integer forms for 'same' ops, when they differ from the float forms. */
  readonly jsInt?: string;
  readonly wgslInt?: string;
  /** Input dtypes refused (with a clear error). */
  readonly refuse?: readonly string[];
}

export interface BinaryOpDef {
  readonly kind: 'arith' | 'fdiv' | 'cmp' | 'logical';
  readonly js: string;
  readonly wgsl: string;
  readonly jsInt?: string;
  readonly wgslInt?: string;
  readonly refuse?: readonly string[];
}

export const UNARY_OPS = {
  neg: { kind: 'same', js: '-a', wgsl: '-a', refuse: ['bool', 'uint32'] },
  abs: { kind: 'same', js: 'Math.abs(a)', wgsl: 'abs(a)', refuse: ['bool'] },
  // sign(NaN) is 0, as in PyTorch
  sign: { kind: 'same', js: '(a > 0 ? 1 : a < 0 ? -1 : 0)', wgsl: 'select(select(0.0, -1.0, a < 0.0), 1.0, a > 0.0)', wgslInt: 'T(select(select(0, -1, i32(a) < 0), 1, i32(a) > 0))', refuse: ['bool'] },
  exp: { kind: 'float', js: 'Math.exp(a)', wgsl: 'exp(a)' },
  expm1: { kind: 'float', js: 'Math.expm1(a)', wgsl: 'expm1_(a)' },
  log: { kind: 'float', js: 'Math.log(a)', wgsl: 'log_(a)' },
  log1p: { kind: 'float', js: 'Math.log1p(a)', wgsl: 'log1p_(a)' },
  sqrt: { kind: 'float', js: 'Math.sqrt(a)', wgsl: 'sqrt_(a)' },
  rsqrt: { kind: 'float', js: '1 / Math.sqrt(a)', wgsl: '1.0 / sqrt_(a)' },
  reciprocal: { kind: 'float', js: '1 / a', wgsl: '1.0 / a' },
  sin: { kind: 'float', js: 'Math.sin(a)', wgsl: 'sin(a)' },
  cos: { kind: 'float', js: 'Math.cos(a)', wgsl: 'cos(a)' },
  tan: { kind: 'float', js: 'Math.tan(a)', wgsl: 'tan(a)' },
  tanh: { kind: 'float', js: 'Math.tanh(a)', wgsl: 'tanh_(a)' },
  sigmoid: { kind: 'float', js: '1 / (1 + Math.exp(-a))', wgsl: 'sigmoid_(a)' },
  relu: { kind: 'same', js: '(a > 0 ? a : a !== a ? a : 0)', wgsl: 'select(select(0.0, a, a > 0.0), a, isnan(a))', wgslInt: 'max(a, T(0))', refuse: ['bool'] },
  leakyRelu: { kind: 'float', js: '(a > 0 ? a : a * p0)', wgsl: 'select(a * p0, a, a > 0.0)' },
  elu: { kind: 'float', js: '(a > 0 ? a : p0 * Math.expm1(a))', wgsl: 'select(p0 * expm1_(a), a, a > 0.0)' },
  gelu: { kind: 'float', js: '0.5 * a * (1 + erf(a * Math.SQRT1_2))', wgsl: '0.5 * a * (1.0 + erf(a * 0.7071067811865476))' },
  geluTanh: { kind: 'float', js: '0.5 * a * (1 + Math.tanh(0.7978845608028654 * (a + 0.044715 * a * a * a)))', wgsl: '0.5 * a * (1.0 + tanh_(0.7978845608028654 * (a + 0.044715 * a * a * a)))' },
  silu: { kind: 'float', js: 'a / (1 + Math.exp(-a))', wgsl: 'a * sigmoid_(a)' },
  softplus: { kind: 'float', js: '(a * p0 > p1 ? a : Math.log1p(Math.exp(a * p0)) / p0)', wgsl: 'select(log1p_(exp(a * p0)) / p0, a, a * p0 > p1)' },
  erf: { kind: 'float', js: 'erf(a)', wgsl: 'erf(a)' },
  floor: { kind: 'same', js: 'Math.floor(a)', wgsl: 'floor(a)', jsInt: 'a', wgslInt: 'a', refuse: ['bool'] },
  ceil: { kind: 'same', js: 'Math.ceil(a)', wgsl: 'ceil(a)', jsInt: 'a', wgslInt: 'a', refuse: ['bool'] },
  round: { kind: 'same', js: 'roundHalfEven(a)', wgsl: 'round(a)', jsInt: 'a', wgslInt: 'a', refuse: ['bool'] },
  trunc: { kind: 'same', js: 'Math.trunc(a)', wgsl: 'trunc(a)', jsInt: 'a', wgslInt: 'a', refuse: ['bool'] },
  clamp: { kind: 'same', js: '(a !== a ? a : Math.min(Math.max(a, p0), p1))', wgsl: 'select(min(max(a, p0), p1), a, isnan(a))', jsInt: 'Math.min(Math.max(a, p0), p1)', wgslInt: 'min(max(a, T(p0)), T(p1))', refuse: ['bool'] },
  isNaN: { kind: 'pred', js: 'a !== a', wgsl: 'isnan(a)', jsInt: 'false', wgslInt: 'false' },
  isFinite: { kind: 'pred', js: 'Number.isFinite(a)', wgsl: 'isfinite(a)', jsInt: 'true', wgslInt: 'true' },
  logicalNot: { kind: 'pred', js: 'a === 0', wgsl: '!truthy(a)', wgslInt: 'a == T(0)' },
} as const satisfies Record<string, UnaryOpDef>;

export const BINARY_OPS = {
  add: { kind: 'arith', js: 'a + b', wgsl: 'a + b', jsInt: 'a + b' },
  sub: { kind: 'arith', js: 'a - b', wgsl: 'a - b', refuse: ['bool'] },
  mul: { kind: 'arith', js: 'a * b', wgsl: 'a * b', jsInt: 'Math.imul(a, b)' },
  div: { kind: 'fdiv', js: 'a / b', wgsl: 'a / b' },
  pow: { kind: 'fdiv', js: 'pow_(a, b)', wgsl: 'pow_(a, b)' },
  atan2: { kind: 'fdiv', js: 'Math.atan2(a, b)', wgsl: 'atan2_(a, b)' },
  remainder: { kind: 'arith', js: 'remainder_(a, b)', wgsl: 'remainder_(a, b)', jsInt: '(b === 0 ? 0 : a - Math.floor(a / b) * b)', wgslInt: 'select(a - T(floor(f32(a) / f32(b))) * b, T(0), b == T(0))', refuse: ['bool'] },
  minimum: { kind: 'arith', js: '(a !== a || b !== b ? NaN : Math.min(a, b))', wgsl: 'select(min(a, b), a + b, isnan(a) || isnan(b))', jsInt: 'Math.min(a, b)', wgslInt: 'min(a, b)' },
  maximum: { kind: 'arith', js: '(a !== a || b !== b ? NaN : Math.max(a, b))', wgsl: 'select(max(a, b), a + b, isnan(a) || isnan(b))', jsInt: 'Math.max(a, b)', wgslInt: 'max(a, b)' },
  // relu's gradient: 0 where the input b is <= 0, else the gradient a (PyTorch's threshold_backward(a, b, 0): a NaN input passes a)
  reluBackward: { kind: 'arith', js: '(b <= 0 ? 0 : a)', wgsl: 'select(a, 0.0, b <= 0.0 && !isnan(b))', wgslInt: 'select(a, T(0), b <= T(0))', refuse: ['bool'] },
  eq: { kind: 'cmp', js: 'a === b', wgsl: 'a == b' },
  // WGSL compilers may assume floats are never NaN, so the float forms test NaN by its bits
  ne: { kind: 'cmp', js: 'a !== b', wgsl: 'a != b || isnan(a) || isnan(b)', wgslInt: 'a != b' },
  lt: { kind: 'cmp', js: 'a < b', wgsl: 'a < b' },
  le: { kind: 'cmp', js: 'a <= b', wgsl: 'a <= b' },
  gt: { kind: 'cmp', js: 'a > b', wgsl: 'a > b' },
  ge: { kind: 'cmp', js: 'a >= b', wgsl: 'a >= b' },
  logicalAnd: { kind: 'logical', js: '(a !== 0) && (b !== 0)', wgsl: 'truthy(a) && truthy(b)', wgslInt: '(a != T(0)) && (b != T(0))' },
  logicalOr: { kind: 'logical', js: '(a !== 0) || (b !== 0)', wgsl: 'truthy(a) || truthy(b)', wgslInt: '(a != T(0)) || (b != T(0))' },
  logicalXor: { kind: 'logical', js: '(a !== 0) !== (b !== 0)', wgsl: 'truthy(a) != truthy(b)', wgslInt: '(a != T(0)) != (b != T(0))' },
} as const satisfies Record<string, BinaryOpDef>;

export type UnaryOp = keyof typeof UNARY_OPS;
export type BinaryOp = keyof typeof BINARY_OPS;

/** JS helpers available to `js` expressions. */
export const JS_PRELUDE = `
function erf(x) {
  // Abramowitz & Stegun 7.1.26, |error| < 1.5e-7
  const s = x < 0 ? -1 : 1; x = Math.abs(x);
  const t = 1 / (1 + 0.3275911 * x);
  const y = 1 - (((((1.061405429 * t - 1.453152027) * t) + 1.421413741) * t - 0.284496736) * t + 0.254829592) * t * Math.exp(-x * x);
  return s * y;
}
function pow_(a, b) {
  // C's pow (and PyTorch): 1^y, x^0 and (-1)^±inf are 1 even for NaN; Math.pow says NaN
  if (b === 0 || a === 1 || (a === -1 && (b === Infinity || b === -Infinity))) return 1;
  return Math.pow(a, b);
}
function remainder_(a, b) {
  // exact fmod, then the sign of the divisor (Python's and PyTorch's remainder)
  const r = a % b;
  return r !== 0 && (r < 0) !== (b < 0) ? r + b : r;
}
function roundHalfEven(x) {
  const r = Math.round(x);
  return (Math.abs(x % 1) === 0.5 && r % 2 !== 0) ? r - 1 : r;
}
`;
