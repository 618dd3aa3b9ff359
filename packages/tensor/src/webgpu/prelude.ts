/**
 * WGSL helpers shared by generated kernels. WGSL lets implementations assume no NaN/Inf, so NaN
 * tests use bit patterns and the functions that can produce NaN or Inf say so explicitly.
 */
export const WGSL_PRELUDE = /* wgsl */ `
const NAN_BITS = 0x7fc00000u;
const INF_BITS = 0x7f800000u;
// A var keeps these out of constant evaluation, which rejects non-finite values.
fn nan_() -> f32 { var b = NAN_BITS; return bitcast<f32>(b); }
fn inf_() -> f32 { var b = INF_BITS; return bitcast<f32>(b); }
fn isnan(x: f32) -> bool { return (bitcast<u32>(x) & 0x7fffffffu) > 0x7f800000u; }
fn isfinite(x: f32) -> bool { return (bitcast<u32>(x) & 0x7f800000u) != 0x7f800000u; }
fn log_(x: f32) -> f32 {
  if (isnan(x) || x < 0.0) { return nan_(); }
  if (x == 0.0) { return -inf_(); }
  if (!isfinite(x)) { return x; }
  return log(x);
}
fn sqrt_(x: f32) -> f32 {
  if (isnan(x) || x < 0.0) { return nan_(); }
  if (!isfinite(x)) { return x; }
  return sqrt(x);
}
fn expm1_(x: f32) -> f32 {
  // Kahan: exact near zero without a series.
  let u = exp(x);
  if (u == 1.0) { return x; }
  let um1 = u - 1.0;
  if (um1 == -1.0) { return -1.0; }
  if (!isfinite(u)) { return u; }
  return um1 * x / log(u);
}
fn log1p_(x: f32) -> f32 {
  let u = 1.0 + x;
  if (u == 1.0) { return x; }
  if (!isfinite(u) || u <= 0.0) { return log_(u); }
  return log(u) * x / (u - 1.0);
}
fn tanh_(x: f32) -> f32 {
  if (isnan(x)) { return x; }
  return tanh(clamp(x, -10.0, 10.0));
}
fn sigmoid_(x: f32) -> f32 { return 1.0 / (1.0 + exp(-x)); }
fn erf(x0: f32) -> f32 {
  // Abramowitz & Stegun 7.1.26, |error| < 1.5e-7
  let s = select(1.0, -1.0, x0 < 0.0);
  let x = abs(x0);
  let t = 1.0 / (1.0 + 0.3275911 * x);
  let y = 1.0 - (((((1.061405429 * t - 1.453152027) * t) + 1.421413741) * t - 0.284496736) * t + 0.254829592) * t * exp(-x * x);
  return s * y;
}
fn truthy(x: f32) -> bool { return x != 0.0 || isnan(x); }
fn signbit(x: f32) -> bool { return (bitcast<u32>(x) >> 31u) == 1u; }
fn pow_(a: f32, b: f32) -> f32 {
  // C's pow (and PyTorch's): 1^y and x^0 are 1 even for NaN
  if (b == 0.0 || a == 1.0) { return 1.0; }
  if (isnan(a) || isnan(b)) { return nan_(); }
  if (!isfinite(b)) {
    let m = abs(a);
    if (m == 1.0) { return 1.0; }
    return select(0.0, inf_(), (m > 1.0) == (b > 0.0));
  }
  let odd = (floor(b) == b) && (abs(b) < 16777216.0) && ((i32(abs(b)) & 1) == 1);
  if (a == 0.0 || !isfinite(a)) {
    // 0^-y and inf^y are infinite, 0^y and inf^-y zero; an odd integer power keeps the base's sign
    let m = select(0.0, inf_(), (a == 0.0) == (b < 0.0));
    return select(m, -m, odd && signbit(a));
  }
  let m = pow(abs(a), b);
  if (a > 0.0) { return m; }
  if (floor(b) != b) { return nan_(); }
  return select(m, -m, odd);
}
fn atan2_(y: f32, x: f32) -> f32 {
  if (isnan(y) || isnan(x)) { return nan_(); }
  // atan2 of a zero y is undefined in WGSL: C gives +-0, or +-pi when x is negative or -0
  if (y == 0.0) {
    let r = select(0.0, 3.14159265358979, signbit(x));
    return select(r, -r, signbit(y));
  }
  return atan2(y, x);
}
fn remainder_(a: f32, b: f32) -> f32 {
  // an infinite divisor leaves a unchanged, or gives b when the signs differ (the sign of the divisor rules)
  if (!isfinite(b) && !isnan(b)) {
    if (!isfinite(a)) { return nan_(); }
    if (a == 0.0 || (a < 0.0) == (b < 0.0)) { return a; }
    return b;
  }
  return a - floor(a / b) * b;
}
`;

/** Entry point header: `i` is the flat invocation index of a 2-D grid of 64-wide workgroups. */
export const MAIN = /* wgsl */ `@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.x + gid.y * nwg.x * 64u;`;

/**
 * Magic numbers for dividing u32 values by `d` with a multiply and shifts (Granlund and
 * Montgomery, "Division by invariant integers using multiplication", fig. 4.1): exact for every
 * u32 dividend. Pass them to the WGSL `udiv`.
 */
export function divMagic(d: number): [number, number, number] {
  if (!Number.isInteger(d) || d < 1 || d > 0xffffffff) throw new RangeError(`divMagic: expected a u32 divisor >= 1, received ${d}`);
  const l = Math.ceil(Math.log2(d));
  const m = ((1n << 32n) * ((1n << BigInt(l)) - BigInt(d))) / BigInt(d) + 1n;
  return [Number(m & 0xffffffffn), Math.min(l, 1), Math.max(l - 1, 0)];
}

/**
 * WGSL `udiv(n, magic, s1, s2)` = n / d for the magic numbers of d. CPU drivers have no vector
 * integer division and would divide one lane at a time; this is a handful of vector operations.
 */
export const UDIV = /* wgsl */ `
fn mulhi(a: u32, b: u32) -> u32 {
  let a0 = a & 0xffffu; let a1 = a >> 16u;
  let b0 = b & 0xffffu; let b1 = b >> 16u;
  let lo = a0 * b0;
  let m1 = a1 * b0;
  let m2 = a0 * b1;
  let mid = (lo >> 16u) + (m1 & 0xffffu) + (m2 & 0xffffu);
  return a1 * b1 + (m1 >> 16u) + (m2 >> 16u) + (mid >> 16u);
}
fn udiv(n: u32, magic: u32, s1: u32, s2: u32) -> u32 {
  let t = mulhi(magic, n);
  return (t + ((n - t) >> s1)) >> s2;
}`;
