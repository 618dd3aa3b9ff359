import type { TensorSpec } from '../backend.js';
import { numel } from '../shape.js';
import { buf, registerWebGPUKernel } from './backend.js';
import { MAIN, WGSL_PRELUDE } from './prelude.js';
import './conv.js';

/**
 * Pooling and resampling over [N, C, H, W] views (the frontend lifts 1-D and unbatched inputs):
 * one invocation per output element (convolutions are in conv.ts). Every size, stride and offset is in the
 * meta buffer, so each op compiles one pipeline for all shapes. Inputs are read through their
 * strides (as i32: views may have negative strides); outputs are contiguous.
 *
 * Meta layout shared by all kernels: M[0] output count, M[1..4] output N, C, H, W, M[5..8] input
 * N, C, H, W, M[9..13] input offset and strides, M[14] output offset, then per-op fields from M[15].
 */
const OP = 15;

function baseMeta(x: TensorSpec, out: TensorSpec, fields: number[]): Int32Array {
  return Int32Array.from([numel(out.shape), ...out.shape, ...x.shape, x.offset, ...x.strides, out.offset, ...fields]);
}

const u32 = (m: Int32Array) => new Uint32Array(m.buffer);

/** WGSL: meta accessors and the decomposition of the flat output index i into (n, c, oy, ox). */
const HEADER = /* wgsl */ `
fn mi(k: u32) -> i32 { return bitcast<i32>(M[k]); }
fn mf(k: u32) -> f32 { return bitcast<f32>(M[k]); }
`;
const DECOMPOSE = /* wgsl */ `
  if (i >= M[0]) { return; }
  let OC = M[2]; let OH = M[3]; let OW = M[4];
  let H = mi(7u); let W = mi(8u);
  let ox = i % OW; let rowIndex = i / OW; let oy = rowIndex % OH; let planeIndex = rowIndex / OH; let c = planeIndex % OC; let n = planeIndex / OC;
  let xoff = mi(9u); let xs0 = mi(10u); let xs1 = mi(11u); let xs2 = mi(12u); let xs3 = mi(13u);
  let yoff = u32(mi(14u));`;

/** A complete shader: storage bindings, the meta buffer, helper functions, then `body` inside main. */
function shader(bindings: string[], body: string, helpers = ''): string {
  // Each binding reads '<access> <name>: <type>'.
  const decls = bindings.map((b, k) => {
    const [access, decl] = [b.slice(0, b.indexOf(' ')), b.slice(b.indexOf(' ') + 1)];
    return `@group(0) @binding(${k}) var<storage, ${access}> ${decl};`;
  }).join('\n');
  return `${decls}\n@group(0) @binding(${bindings.length}) var<storage, read> M: array<u32>;\n${WGSL_PRELUDE}${HEADER}${helpers}\n${MAIN}${DECOMPOSE}\n${body}\n}\n`;
}

const POOL_FIELDS = /* wgsl */ `
  let kh = mi(${OP}u); let kw = mi(${OP + 1}u); let sh = mi(${OP + 2}u); let sw = mi(${OP + 3}u);
  let ph = mi(${OP + 4}u); let pw = mi(${OP + 5}u);
  let plane = xoff + i32(n) * xs0 + i32(c) * xs1;`;

/**
 * Max pooling with PyTorch's rules: padding is skipped, a NaN replaces the running max (the last
 * NaN wins), ties keep the first index, an all -inf window reports its first in-bounds position.
 */
const MAX_POOL = shader(['read X: array<f32>', 'read_write Y: array<f32>', 'read_write I: array<i32>'], /* wgsl */ `${POOL_FIELDS}
  let dh = mi(${OP + 6}u); let dw = mi(${OP + 7}u);
  var y0 = i32(oy) * sh - ph;
  var x0 = i32(ox) * sw - pw;
  let y1 = min(y0 + (kh - 1) * dh + 1, H);
  let x1 = min(x0 + (kw - 1) * dw + 1, W);
  while (y0 < 0) { y0 += dh; }
  while (x0 < 0) { x0 += dw; }
  var best = -inf_();
  var arg = y0 * W + x0;
  for (var iy = y0; iy < y1; iy += dh) {
    for (var ix = x0; ix < x1; ix += dw) {
      let v = X[plane + iy * xs2 + ix * xs3];
      if (v > best || isnan(v)) { best = v; arg = iy * W + ix; }
    }
  }
  Y[yoff + i] = best;
  I[u32(mi(${OP + 8}u)) + i] = arg;`);

registerWebGPUKernel('maxPool2d', (gpu, [x], [values, indices], p) => {
  gpu.dispatch({
    code: MAX_POOL,
    buffers: [buf(x), buf(values), buf(indices)],
    meta: u32(baseMeta(x, values, [...p.kernel, ...p.stride, ...p.padding, ...p.dilation, indices.offset])),
    threads: numel(values.shape),
  });
});

/** Average pooling: the window clipped to the padded input gives the count-include-pad divisor, clipped to the input the sum. */
const AVG_POOL = shader(['read X: array<f32>', 'read_write Y: array<f32>'], /* wgsl */ `${POOL_FIELDS}
  let includePad = M[${OP + 6}u] != 0u; let divisor = mi(${OP + 7}u);
  let yStart = i32(oy) * sh - ph;
  let xStart = i32(ox) * sw - pw;
  let yPadEnd = min(yStart + kh, H + ph);
  let xPadEnd = min(xStart + kw, W + pw);
  let y0 = max(yStart, 0); let y1 = min(yPadEnd, H);
  let x0 = max(xStart, 0); let x1 = min(xPadEnd, W);
  if (y0 >= y1 || x0 >= x1) { Y[yoff + i] = 0.0; return; }
  var sum = 0.0;
  for (var iy = y0; iy < y1; iy++) {
    for (var ix = x0; ix < x1; ix++) { sum += X[plane + iy * xs2 + ix * xs3]; }
  }
  var count = select((y1 - y0) * (x1 - x0), (yPadEnd - yStart) * (xPadEnd - xStart), includePad);
  if (divisor != 0) { count = divisor; }
  Y[yoff + i] = sum / f32(count);`);

registerWebGPUKernel('avgPool2d', (gpu, [x], [out], p) => {
  gpu.dispatch({
    code: AVG_POOL,
    buffers: [buf(x), buf(out)],
    meta: u32(baseMeta(x, out, [...p.kernel, ...p.stride, ...p.padding, p.countIncludePad ? 1 : 0, p.divisor])),
    threads: numel(out.shape),
  });
});

/** Adaptive average pooling: output cell i averages input [floor(i n / m), ceil((i + 1) n / m)). */
const ADAPTIVE_AVG_POOL = shader(['read X: array<f32>', 'read_write Y: array<f32>'], /* wgsl */ `
  let plane = xoff + i32(n) * xs0 + i32(c) * xs1;
  let y0 = i32(oy) * H / i32(OH); let y1 = (i32(oy + 1u) * H + i32(OH) - 1) / i32(OH);
  let x0 = i32(ox) * W / i32(OW); let x1 = (i32(ox + 1u) * W + i32(OW) - 1) / i32(OW);
  var sum = 0.0;
  for (var iy = y0; iy < y1; iy++) {
    for (var ix = x0; ix < x1; ix++) { sum += X[plane + iy * xs2 + ix * xs3]; }
  }
  Y[yoff + i] = sum / f32((y1 - y0) * (x1 - x0));`);

registerWebGPUKernel('adaptiveAvgPool2d', (gpu, [x], [out]) => {
  gpu.dispatch({ code: ADAPTIVE_AVG_POOL, buffers: [buf(x), buf(out)], meta: u32(baseMeta(x, out, [])), threads: numel(out.shape) });
});

/**
 * Nearest or bilinear resampling with PyTorch's index rules (see the cpu kernel): sizes that
 * match copy, nearest at exactly twice the size halves the index, else ratio-based sampling in f32.
 */
const INTERPOLATE = shader(['read X: array<f32>', 'read_write Y: array<f32>'], /* wgsl */ `
  let bilinear = M[${OP}u] != 0u; let alignCorners = M[${OP + 1}u] != 0u;
  let plane = xoff + i32(n) * xs0 + i32(c) * xs1;
  let ty = taps(i32(oy), H, i32(OH), mf(${OP + 2}u), bilinear, alignCorners);
  let tx = taps(i32(ox), W, i32(OW), mf(${OP + 3}u), bilinear, alignCorners);
  let r0 = plane + ty.i0 * xs2; let r1 = plane + ty.i1 * xs2;
  let c0 = tx.i0 * xs3; let c1 = tx.i1 * xs3;
  if (!bilinear) { Y[yoff + i] = X[r0 + c0]; return; }
  let top = tx.l0 * X[r0 + c0] + tx.l1 * X[r0 + c1];
  let bottom = tx.l0 * X[r1 + c0] + tx.l1 * X[r1 + c1];
  Y[yoff + i] = ty.l0 * top + ty.l1 * bottom;`, /* wgsl */ `
struct Taps { i0: i32, i1: i32, l0: f32, l1: f32 }
fn taps(d: i32, size: i32, outSize: i32, ratio: f32, bilinear: bool, alignCorners: bool) -> Taps {
  if (outSize == size) { return Taps(d, d, 1.0, 0.0); }
  if (!bilinear) {
    if (outSize == 2 * size) { return Taps(d >> 1u, d >> 1u, 1.0, 0.0); }
    let s = min(i32(floor(f32(d) * ratio)), size - 1);
    return Taps(s, s, 1.0, 0.0);
  }
  var src = ratio * f32(d);
  if (!alignCorners) { src = max(ratio * (f32(d) + 0.5) - 0.5, 0.0); }
  let i0 = i32(src);
  let l1 = clamp(src - f32(i0), 0.0, 1.0);
  return Taps(i0, i0 + select(0, 1, i0 < size - 1), 1.0 - l1, l1);
}
`);

registerWebGPUKernel('interpolate2d', (gpu, [x], [out], p) => {
  const m = baseMeta(x, out, [p.bilinear ? 1 : 0, p.alignCorners ? 1 : 0, 0, 0]);
  new Float32Array(m.buffer).set(p.ratio, OP + 2);
  gpu.dispatch({ code: INTERPOLATE, buffers: [buf(x), buf(out)], meta: u32(m), threads: numel(out.shape) });
});
