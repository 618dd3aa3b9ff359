import type { TensorSpec } from '../backend.js';
import { numel } from '../shape.js';
import { buf, registerWebGPUKernel, type WebGPUBackend } from './backend.js';
import { cached, grid, sgTiling, SUBGROUP_DIAGNOSTIC, subgroupTilePlacement } from './matmul.js';
import { MAIN, WGSL_PRELUDE } from './prelude.js';

/**
 * conv2d and convTranspose2d over [N, C, H, W] views (the frontend lifts 1-D and unbatched
 * inputs; outputs are contiguous). conv2d's weight gradient reaches here too, as a conv2d in
 * which batch and channels trade places (see @tessera/autodiff), with a small output and a long
 * reduction.
 *
 * With 8-lane subgroups (CPU drivers; see matmul.ts) both are implicit GEMMs: rows are the output
 * channels of one group, columns the output pixels (n, oy, ox), and k runs over (input channel,
 * ky, kx). Lane l loads the weights of rows row0 + l + 8u (shared by subgroupBroadcast) and the
 * input under its 4 pixels; nothing is materialised (no im2col buffer). Long reductions with few
 * tiles are split over workgroups and summed by a second pass. Elsewhere each output element is
 * one invocation summing its window (the portable kernels below).
 */

/**
 * Meta (i32): 0 M rows per group, 1 P pixels, 2 K, 3 sgx, 4 tilesX, 5 splits, 6 kChunk, 7 groups,
 * 8 OH, 9 OW, 10 H, 11 W, 12 Cg (input channels per group), 13 KH, 14 KW, 15..19 x offset and
 * strides, 20..24 weight offset and strides, 25..30 stride, padding, dilation (y, x),
 * 31 output offset, 32 output channels, 33 bias flag, 34 bias offset, 35 bias stride,
 * 36 split stride (elements per partial output; 0 without split).
 */
function gemmConvSource(transposed: boolean, strided: boolean, tm: number): string {
  const U = tm / 8;
  // Weight rows: output channel o of group g. conv2d: W[g M + o, ch, ky, kx]; transposed: W[g Cg + ch, o, ky, kx].
  const wRow = transposed ? 'P[20] + (g * Cg) * P[21] + oa * P[22]' : 'P[20] + (g * M + oa) * P[21]';
  const wK = transposed ? 'ch * P[21] + ky * P[23] + kx * P[24]' : 'ch * P[22] + ky * P[23] + kx * P[24]';
  // The input position under output pixel j for tap (ky, kx), and whether it is inside the image.
  const tap = (j: number) => (transposed
    ? strided
      ? `let ty${j} = ty0${j} - ky * P[29]; let tx${j} = tx0${j} - kx * P[30];
    let iy${j} = ty${j} / P[25]; let ix${j} = tx${j} / P[26];
    let ok${j} = ty${j} >= 0 && tx${j} >= 0 && iy${j} * P[25] == ty${j} && ix${j} * P[26] == tx${j} && iy${j} < H && ix${j} < W;`
      : `let iy${j} = ty0${j} - ky * P[29]; let ix${j} = tx0${j} - kx * P[30];
    let ok${j} = iy${j} >= 0 && ix${j} >= 0 && iy${j} < H && ix${j} < W;`
    : `let iy${j} = ty0${j} + ky * P[29]; let ix${j} = tx0${j} + kx * P[30];
    let ok${j} = iy${j} >= 0 && ix${j} >= 0 && iy${j} < H && ix${j} < W;`)
    + `\n    let v${j} = select(0.0, X[select(P[15], xb${j} + ch * P[17] + iy${j} * P[18] + ix${j} * P[19], ok${j})], ok${j});`;
  const pixel = (j: number) => `let p${j} = min(unit * 4 + ${j}, PX - 1);
  let n${j} = p${j} / OHW; let pix${j} = p${j} - n${j} * OHW;
  let oy${j} = pix${j} / OW; let ox${j} = pix${j} - oy${j} * OW;
  let xb${j} = P[15] + n${j} * P[16] + (g * Cg) * P[17];
  ${transposed ? `let ty0${j} = oy${j} + P[27]; let tx0${j} = ox${j} + P[28];` : `let ty0${j} = oy${j} * P[25] - P[27]; let tx0${j} = ox${j} * P[26] - P[28];`}`;
  const fmas = Array.from({ length: tm }, (_, r) => `c${r} = fma(vec4<f32>(subgroupBroadcast(a${r >> 3}, ${r & 7}u)), bv, c${r});`);
  return /* wgsl */ `enable subgroups;
${SUBGROUP_DIAGNOSTIC}
@group(0) @binding(0) var<storage, read> X: array<f32>;
@group(0) @binding(1) var<storage, read> Wt: array<f32>;
@group(0) @binding(2) var<storage, read> Bias: array<f32>;
@group(0) @binding(3) var<storage, read_write> Y: array<f32>;
@group(0) @binding(4) var<storage, read> P: array<i32>;
@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32, @builtin(subgroup_invocation_id) lane: u32) {
  let M = P[0]; let PX = P[1]; let K = P[2]; let sgx = P[3]; let tilesX = P[4]; let splits = P[5]; let kChunk = P[6];
  let OH = P[8]; let OW = P[9]; let H = P[10]; let W = P[11]; let Cg = P[12]; let KH = P[13]; let KW = P[14];
  ${subgroupTilePlacement(tm, 'g')}
  let unit = unit0 + i32(lane);
  let k0 = split * kChunk;
  let k1 = select(k0, min(K, k0 + kChunk), row0 < M && unit0 * 4 < PX);
  ${Array.from({ length: U }, (_, u) => `let oa${u} = min(row0 + i32(lane) + ${8 * u}, M - 1);`).join(' ')}
  ${Array.from({ length: U }, (_, u) => `let w${u} = ${wRow.replace('oa', `oa${u}`)};`).join(' ')}
  let OHW = OH * OW;
  ${[0, 1, 2, 3].map(pixel).join('\n  ')}
  let KHW = KH * KW;
  var ch = k0 / KHW;
  var ky = (k0 - ch * KHW) / KW;
  var kx = k0 - ch * KHW - ky * KW;
  ${Array.from({ length: tm }, (_, r) => `var c${r} = vec4<f32>(0.0);`).join(' ')}
  for (var k = k0; k < k1; k++) {
    let wk = ${wK};
    ${Array.from({ length: U }, (_, u) => `let a${u} = Wt[w${u} + wk];`).join(' ')}
    ${[0, 1, 2, 3].map(tap).join('\n    ')}
    let bv = vec4<f32>(v0, v1, v2, v3);
    ${fmas.join('\n    ')}
    kx += 1;
    let wrapX = kx == KW;
    kx = select(kx, 0, wrapX);
    ky = select(ky, ky + 1, wrapX);
    let wrapY = ky == KH;
    ky = select(ky, 0, wrapY);
    ch = select(ch, ch + 1, wrapY);
  }
  let O = P[32];
  let base = select(P[31], split * P[36], splits > 1);
  let bias = P[33] != 0 && splits == 1;
  ${Array.from({ length: tm }, (_, r) => `store(row0 + ${r}, c${r}, M, g, O, OHW, PX, unit, base, bias);`).join('\n  ')}
}

fn store(o: i32, v: vec4<f32>, M: i32, g: i32, O: i32, OHW: i32, PX: i32, unit: i32, base: i32, bias: bool) {
  if (o >= M) { return; }
  let oc = g * M + o;
  let b = select(0.0, Bias[P[34] + oc * P[35]], bias);
  for (var j = 0; j < 4; j++) {
    let p = unit * 4 + j;
    if (p < PX) {
      let n = p / OHW;
      Y[base + (n * O + oc) * OHW + p - n * OHW] = v[j] + b;
    }
  }
}`;
}

/** Sums split partial outputs (contiguous, like the output) and adds the bias. */
const SPLIT_SUM = /* wgsl */ `
@group(0) @binding(0) var<storage, read> S: array<f32>;
@group(0) @binding(1) var<storage, read> Bias: array<f32>;
@group(0) @binding(2) var<storage, read_write> Y: array<f32>;
@group(0) @binding(3) var<storage, read> P: array<i32>;
@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = i32(gid.x + gid.y * nwg.x * 64u);
  let total = P[36];
  if (i >= total) { return; }
  var s = 0.0;
  for (var q = 0; q < P[5]; q++) { s += S[q * total + i]; }
  if (P[33] != 0) { s += Bias[P[34] + ((i / (P[8] * P[9])) % P[32]) * P[35]]; }
  Y[P[31] + i] = s;
}`;

/** Params of a convolution kernel call (frontend `run` params). */
interface ConvParams {
  stride: number[];
  padding: number[];
  dilation: number[];
  groups: number;
}

function gemmConv(gpu: WebGPUBackend, transposed: boolean, x: TensorSpec, w: TensorSpec, bias: TensorSpec | undefined, out: TensorSpec, p: ConvParams): void {
  const [N, C, H, W] = x.shape;
  const [, O, OH, OW] = out.shape;
  const [, w1, KH, KW] = w.shape;
  const groups = p.groups;
  const Cg = transposed ? C / groups : w1;
  const M = transposed ? w1 : O / groups;
  const PX = N * OH * OW;
  const K = Cg * KH * KW;
  const tm = M <= 8 ? 8 : 16;
  const t = sgTiling(groups, M, PX, K, tm);
  const total = numel(out.shape);
  const split = t.splits > 1;
  const meta = Int32Array.from([
    M, PX, K, t.sgx, t.tilesX, t.splits, t.kChunk, groups,
    OH, OW, H, W, Cg, KH, KW,
    x.offset, ...x.strides, w.offset, ...w.strides,
    ...p.stride, ...p.padding, ...p.dilation,
    out.offset, O, bias ? 1 : 0, bias?.offset ?? 0, bias?.strides[0] ?? 0, split ? total : 0,
  ]);
  const strided = transposed && (p.stride[0] > 1 || p.stride[1] > 1);
  const code = cached(`conv${transposed}${strided}${tm}`, () => gemmConvSource(transposed, strided, tm));
  const target = split ? gpu.scratchEmpty(4 * total * t.splits) : buf(out);
  // Without a bias the weight fills its slot (read-only bindings may alias); the flag skips it.
  const biasBuf = buf(bias ?? w);
  const u32 = new Uint32Array(meta.buffer);
  gpu.dispatch({ code, buffers: [buf(x), buf(w), biasBuf, target], meta: u32, workgroups: grid(t.tilesX * t.tilesY, groups * t.splits) });
  if (split) gpu.dispatch({ code: SPLIT_SUM, buffers: [target, biasBuf, buf(out)], meta: u32, threads: total });
}

// ---------------------------------------------------------------------------------------------
// Portable kernels: one invocation per output element.
//
// Meta: M[0] output count, M[1..4] output N, C, H, W, M[5..8] input N, C, H, W, M[9..13] input
// offset and strides, M[14] output offset, M[15..] stride, padding, dilation (each y, x), groups,
// bias flag, weight offset, strides and shape, bias offset and stride.

const OP = 15;

const DIRECT_HEADER = /* wgsl */ `
@group(0) @binding(0) var<storage, read> X: array<f32>;
@group(0) @binding(1) var<storage, read> Wt: array<f32>;
@group(0) @binding(2) var<storage, read> B: array<f32>;
@group(0) @binding(3) var<storage, read_write> Y: array<f32>;
@group(0) @binding(4) var<storage, read> M: array<u32>;
${WGSL_PRELUDE}
fn mi(k: u32) -> i32 { return bitcast<i32>(M[k]); }
${MAIN}
  if (i >= M[0]) { return; }
  let OC = M[2]; let OH = M[3]; let OW = M[4];
  let H = mi(7u); let W = mi(8u);
  let ox = i % OW; let rowIndex = i / OW; let oy = rowIndex % OH; let planeIndex = rowIndex / OH; let c = planeIndex % OC; let n = planeIndex / OC;
  let xoff = mi(9u); let xs0 = mi(10u); let xs1 = mi(11u); let xs2 = mi(12u); let xs3 = mi(13u);
  let yoff = u32(mi(14u));
  let sh = mi(${OP}u); let sw = mi(${OP + 1}u); let ph = mi(${OP + 2}u); let pw = mi(${OP + 3}u);
  let dh = mi(${OP + 4}u); let dw = mi(${OP + 5}u); let groups = mi(${OP + 6}u); let hasBias = M[${OP + 7}u] != 0u;
  let woff = mi(${OP + 8}u); let ws0 = mi(${OP + 9}u); let ws1 = mi(${OP + 10}u); let ws2 = mi(${OP + 11}u); let ws3 = mi(${OP + 12}u);
  let W1 = mi(${OP + 14}u); let KH = mi(${OP + 15}u); let KW = mi(${OP + 16}u);
  let boff = mi(${OP + 17}u); let bs0 = mi(${OP + 18}u);
  let ni = i32(n); let ci = i32(c);`;

/** Direct convolution: output (n, o, oy, ox) sums its group's Cg x kh x kw input window. */
const CONV2D = /* wgsl */ `${DIRECT_HEADER}
  let Cg = W1;
  let g = ci / (i32(OC) / groups);
  let iy0 = i32(oy) * sh - ph;
  let ix0 = i32(ox) * sw - pw;
  var acc = 0.0;
  for (var k = 0; k < Cg; k++) {
    let xc = xoff + ni * xs0 + (g * Cg + k) * xs1;
    let wc = woff + ci * ws0 + k * ws1;
    for (var ky = 0; ky < KH; ky++) {
      let iy = iy0 + ky * dh;
      if (iy < 0 || iy >= H) { continue; }
      for (var kx = 0; kx < KW; kx++) {
        let ix = ix0 + kx * dw;
        if (ix < 0 || ix >= W) { continue; }
        acc += X[xc + iy * xs2 + ix * xs3] * Wt[wc + ky * ws2 + kx * ws3];
      }
    }
  }
  if (hasBias) { acc += B[boff + ci * bs0]; }
  Y[yoff + i] = acc;
}`;

/**
 * Transposed convolution as a gather: output (n, o, oy, ox) sums x[n, ci, iy, ix] * w[ci, o % Og, ky, kx]
 * over taps with iy * sh = oy + ph - ky * dh (and likewise for x). The output size is the output view's.
 */
const CONV_TRANSPOSE2D = /* wgsl */ `${DIRECT_HEADER}
  let Og = W1;
  let Cg = mi(6u) / groups;
  let g = ci / Og;
  let ol = ci - g * Og;
  let ty0 = i32(oy) + ph;
  let tx0 = i32(ox) + pw;
  var acc = 0.0;
  for (var k = 0; k < Cg; k++) {
    let cin = g * Cg + k;
    let xc = xoff + ni * xs0 + cin * xs1;
    let wc = woff + cin * ws0 + ol * ws1;
    for (var ky = 0; ky < KH; ky++) {
      let ty = ty0 - ky * dh;
      if (ty < 0) { break; }
      let iy = ty / sh;
      if (iy * sh != ty || iy >= H) { continue; }
      for (var kx = 0; kx < KW; kx++) {
        let tx = tx0 - kx * dw;
        if (tx < 0) { break; }
        let ix = tx / sw;
        if (ix * sw != tx || ix >= W) { continue; }
        acc += X[xc + iy * xs2 + ix * xs3] * Wt[wc + ky * ws2 + kx * ws3];
      }
    }
  }
  if (hasBias) { acc += B[boff + ci * bs0]; }
  Y[yoff + i] = acc;
}`;

function directConv(gpu: WebGPUBackend, code: string, x: TensorSpec, w: TensorSpec, bias: TensorSpec | undefined, out: TensorSpec, p: ConvParams): void {
  const meta = Int32Array.from([
    numel(out.shape), ...out.shape, ...x.shape, x.offset, ...x.strides, out.offset,
    ...p.stride, ...p.padding, ...p.dilation, p.groups, bias ? 1 : 0,
    w.offset, ...w.strides, ...w.shape, bias?.offset ?? 0, bias?.strides[0] ?? 0,
  ]);
  gpu.dispatch({ code, buffers: [buf(x), buf(w), buf(bias ?? w), buf(out)], meta: new Uint32Array(meta.buffer), threads: numel(out.shape) });
}

for (const transposed of [false, true]) {
  registerWebGPUKernel(transposed ? 'convTranspose2d' : 'conv2d', (gpu, [x, w, bias], [out], params) => {
    const p = params as ConvParams;
    if (numel(out.shape) === 0) return;
    if (gpu.subgroups8) gemmConv(gpu, transposed, x, w, bias, out, p);
    else directConv(gpu, transposed ? CONV_TRANSPOSE2D : CONV2D, x, w, bias, out, p);
  });
}
