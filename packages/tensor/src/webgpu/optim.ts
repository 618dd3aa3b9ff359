import type { TensorSpec } from '../backend.js';
import { numel } from '../shape.js';
import { buf, registerWebGPUKernel } from './backend.js';
import { WGSL_PRELUDE } from './prelude.js';

/**
 * Fused Adam / AdamW step (see ops/optim.ts): param, expAvg, expAvgSq (and the AMSGrad maximum)
 * updated in place from the gradient, one invocation per 4 elements when every view is aligned
 * to 4 (vec4 loads and stores), else per element. The arithmetic follows the elementwise form
 * step by step, each product and sum rounded to f32 like the separate ops.
 *
 * Meta: n, then offsets of grad, param, expAvg, expAvgSq, max; then f32 bits of beta1, 1 - beta1,
 * beta2, 1 - beta2, weightDecay, 1 - lr wd, sqrt(1 - beta2^t), eps, lr / (1 - beta1^t); then the
 * flags L2 (decay added to the gradient) and decoupled (decay applied to the parameter).
 */
function source(vec: boolean, amsgrad: boolean): string {
  const T = vec ? 'vec4<f32>' : 'f32';
  const idx = (k: number) => (vec ? `M[${k}u] / 4u + i` : `M[${k}u] + i`);
  const update = `
  let b1 = f(6u); let c1 = f(7u); let b2 = f(8u); let c2 = f(9u);
  var g = G[${idx(1)}];
  let p = Pm[${idx(2)}];
  if (M[15] != 0u) { g = g + p * f(10u); }
  var base = p;
  if (M[16] != 0u) { base = p * f(11u); }
  let m = Mm[${idx(3)}] * b1 + g * c1;
  let v = Vv[${idx(4)}] * b2 + (g * g) * c2;
  Mm[${idx(3)}] = m;
  Vv[${idx(4)}] = v;
  ${amsgrad ? `let x = Vx[${idx(5)}];
  let second = select(max(x, v), x + v, isnan4(x) | isnan4(v));
  Vx[${idx(5)}] = second;` : 'let second = v;'}
  let denom = sqrt(second) / f(12u) + f(13u);
  Pm[${idx(2)}] = base - (m / denom) * f(14u);`;
  return /* wgsl */ `
@group(0) @binding(0) var<storage, read> G: array<${T}>;
@group(0) @binding(1) var<storage, read_write> Pm: array<${T}>;
@group(0) @binding(2) var<storage, read_write> Mm: array<${T}>;
@group(0) @binding(3) var<storage, read_write> Vv: array<${T}>;
${amsgrad ? `@group(0) @binding(4) var<storage, read_write> Vx: array<${T}>;` : ''}
@group(0) @binding(${amsgrad ? 5 : 4}) var<storage, read> M: array<u32>;
${WGSL_PRELUDE}
fn f(k: u32) -> f32 { return bitcast<f32>(M[k]); }
fn isnan4(x: ${T}) -> ${vec ? 'vec4<bool>' : 'bool'} { return ${vec ? 'vec4<bool>(isnan(x.x), isnan(x.y), isnan(x.z), isnan(x.w))' : 'isnan(x)'}; }
@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.x + gid.y * nwg.x * 64u;
  if (i >= ${vec ? 'M[0] / 4u' : 'M[0]'}) { return; }
  ${update}
}
`;
}

const sources = new Map<string, string>();
const code = (vec: boolean, amsgrad: boolean) => {
  const key = `${vec}${amsgrad}`;
  let s = sources.get(key);
  if (!s) sources.set(key, (s = source(vec, amsgrad)));
  return s;
};

/** The last n % 4 elements of an aligned update go through the scalar kernel. */
registerWebGPUKernel('adamStep', (gpu, [grad], state, p) => {
  const n = numel(grad.shape);
  const amsgrad = state.length === 4;
  const views: TensorSpec[] = [grad, ...state];
  const vec = views.every((v) => v.offset % 4 === 0);
  const meta = new Uint32Array(17);
  const f32 = new Float32Array(meta.buffer);
  meta[0] = n;
  views.forEach((v, k) => (meta[1 + k] = v.offset));
  const { lr, beta1, beta2, eps, weightDecay, decoupled, bc1, bc2 } = p;
  f32.set([beta1, 1 - beta1, beta2, 1 - beta2, weightDecay, 1 - lr * weightDecay, Math.sqrt(bc2), eps, lr / bc1], 6);
  meta[15] = !decoupled && weightDecay !== 0 ? 1 : 0;
  meta[16] = decoupled && weightDecay !== 0 ? 1 : 0;
  const buffers = views.map(buf);
  const whole = vec ? n - (n % 4) : 0;
  if (whole > 0) gpu.dispatch({ code: code(true, amsgrad), buffers, meta, threads: whole / 4 });
  if (whole < n) {
    const tail = meta.slice();
    tail[0] = n - whole;
    views.forEach((v, k) => (tail[1 + k] = v.offset + whole));
    gpu.dispatch({ code: code(false, amsgrad), buffers, meta: tail, threads: n - whole });
  }
});
