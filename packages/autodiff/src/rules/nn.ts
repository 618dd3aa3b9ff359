/**
 * Gradient rules of the neural-net kernels: convolutions, pooling and resampling.
 *
 * Every rule is built from public tensor ops (transposed convolutions, scatters, matmuls with
 * small constant matrices), so gradients of gradients come from the same rules. Unbatched inputs
 * are given a size-1 batch dim for the computation and lose it again at the end.
 */
import * as T from '@tessera/tensor';
import type { Tensor } from '@tessera/tensor';
import { defineGrad, detach } from '../engine.js';

type Spatial = 1 | 2;
type ConvFn = (x: Tensor, w: Tensor, b: Tensor | null, o: T.ConvOptions) => Tensor;
type ConvTFn = (x: Tensor, w: Tensor, b: Tensor | null, o: T.ConvTransposeOptions) => Tensor;

const convOf = (spatial: Spatial): ConvFn => (spatial === 1 ? T.conv1d : T.conv2d);
const convTOf = (spatial: Spatial): ConvTFn => (spatial === 1 ? T.convTranspose1d : T.convTranspose2d);

const perDim = (v: T.SpatialArg | null | undefined, spatial: number, fallback: number[]): number[] =>
  v === undefined || v === null ? fallback : typeof v === 'number' ? new Array<number>(spatial).fill(v) : [...v];

const prod = (xs: readonly number[]) => xs.reduce((a, b) => a * b, 1);

/** Narrows the trailing `sizes.length` dims of `t` to `sizes` (a view; no-op where already that size). */
function cropSpatial(t: Tensor, sizes: readonly number[]): Tensor {
  let r = t;
  const first = t.rank - sizes.length;
  sizes.forEach((n, i) => {
    if (r.shape[first + i] !== n) r = T.narrow(r, first + i, 0, n);
  });
  return r;
}

/**
 * The weight gradient of a convolution of `inp` [N, C, ...S] giving `gout` [N, O, ...OS]
 * (cotangent): for each group, a convolution of the input with the cotangent in which batch and
 * channels trade places and stride and dilation swap roles. The groups ride along as conv groups
 * by stacking (group, batch) on the channel axis. Returns [O, C / groups, ...kernel].
 */
function convWeightGrad(spatial: Spatial, inp: Tensor, gout: Tensor, kernel: readonly number[], stride: number[], padding: number[], dilation: number[], groups: number): Tensor {
  const [N, C] = inp.shape;
  const O = gout.shape[1];
  const S = inp.shape.slice(2);
  const OS = gout.shape.slice(2);
  // An empty batch contributes nothing (and would make the conv below channel-less).
  if (N === 0) return T.zeros([O, C / groups, ...kernel], { dtype: gout.dtype, device: gout.device });
  const tail = S.map((_, i) => i + 3);
  const a = T.reshape(T.permute(T.reshape(inp, [N, groups, C / groups, ...S]), [2, 1, 0, ...tail]), [C / groups, groups * N, ...S]);
  const b = T.reshape(T.permute(T.reshape(gout, [N, groups, O / groups, ...OS]), [1, 2, 0, ...tail]), [O, N, ...OS]);
  const r = convOf(spatial)(a, b, null, { stride: dilation, dilation: stride, padding, groups });
  return cropSpatial(T.transpose(r, 0, 1), kernel);
}

/** Sum of `g` over every dim but the channel dim (the bias gradient). */
function biasGrad(g: Tensor, batched: boolean): Tensor {
  const dims = g.shape.map((_, i) => i).filter((i) => i !== (batched ? 1 : 0));
  return T.sum(g, { dim: dims });
}

const batch = (t: Tensor, batched: boolean) => (batched ? t : T.unsqueeze(t, 0));
const unbatch = (t: Tensor, batched: boolean) => (batched ? t : T.squeeze(t, 0));

function convRule(spatial: Spatial) {
  defineGrad(spatial === 1 ? 'conv1d' : 'conv2d', ([g], { args, needs }) =>
    T.tidy(() => {
      const [x, w, bias] = args as [Tensor, Tensor, Tensor | null | undefined];
      const opts = (args[3] ?? {}) as T.ConvOptions;
      const ones = new Array<number>(spatial).fill(1);
      const stride = perDim(opts.stride, spatial, ones);
      const dilation = perDim(opts.dilation, spatial, ones);
      const groups = opts.groups ?? 1;
      const kernel = w.shape.slice(2);
      let before: number[];
      let after: number[];
      if (opts.padding === 'valid') {
        before = after = new Array<number>(spatial).fill(0);
      } else if (opts.padding === 'same') {
        // As the op: an odd total pads one more at the end.
        const total = kernel.map((k, i) => dilation[i] * (k - 1));
        before = total.map((t) => Math.floor(t / 2));
        after = total.map((t, i) => t - before[i]);
      } else {
        before = after = perDim(opts.padding, spatial, new Array<number>(spatial).fill(0));
      }
      const batched = x.rank === spatial + 2;
      const xb = batch(x, batched);
      const gb = batch(g!, batched);
      const inSize = x.shape.slice(-spatial);
      const outSize = g!.shape.slice(-spatial);
      const out: (Tensor | null)[] = [null, null];
      if (needs[0]) {
        // The transposed conv reproduces (O - 1) s - 2 p + d (k - 1) + 1 positions; outputPadding
        // adds the rows a strided conv skipped (< stride), and the extra end row of an odd 'same'
        // padding is cropped.
        const base = outSize.map((o, i) => (o - 1) * stride[i] - 2 * before[i] + dilation[i] * (kernel[i] - 1) + 1);
        const outputPadding = base.map((b, i) => Math.max(0, inSize[i] - b));
        const dx = convTOf(spatial)(gb, w, null, { stride, padding: before, dilation, groups, outputPadding });
        out[0] = unbatch(cropSpatial(dx, inSize), batched);
      }
      if (needs[1]) {
        // Asymmetric ('same') padding: pad the end explicitly so that the conv pads symmetrically.
        const extra = after.map((a, i) => a - before[i]);
        const xp = extra.some((e) => e > 0) ? T.pad(xb, [...extra].reverse().flatMap((e) => [0, e])) : xb;
        out[1] = convWeightGrad(spatial, xp, gb, kernel, stride, before, dilation, groups);
      }
      if (bias instanceof T.Tensor) out.push(needs[2] ? biasGrad(g!, batched) : null);
      return out;
    }),
  );
}

function convTransposeRule(spatial: Spatial) {
  defineGrad(spatial === 1 ? 'convTranspose1d' : 'convTranspose2d', ([g], { args, needs }) =>
    T.tidy(() => {
      const [x, w, bias] = args as [Tensor, Tensor, Tensor | null | undefined];
      const opts = (args[3] ?? {}) as T.ConvTransposeOptions;
      const ones = new Array<number>(spatial).fill(1);
      const stride = perDim(opts.stride, spatial, ones);
      const dilation = perDim(opts.dilation, spatial, ones);
      const padding = perDim(opts.padding, spatial, new Array<number>(spatial).fill(0));
      const groups = opts.groups ?? 1;
      const batched = x.rank === spatial + 2;
      const xb = batch(x, batched);
      const gb = batch(g!, batched);
      const out: (Tensor | null)[] = [null, null];
      if (needs[0]) {
        // The forward conv of the cotangent; an outputPadding >= stride adds positions no input
        // reaches, which show up as extra trailing outputs here and are cropped.
        const dx = convOf(spatial)(gb, w, null, { stride, padding, dilation, groups });
        out[0] = unbatch(cropSpatial(dx, x.shape.slice(-spatial)), batched);
      }
      // The transposed conv is the input-adjoint of a conv from the output space to the input
      // space, so its weight gradient is that conv's weight gradient with the roles exchanged.
      if (needs[1]) out[1] = convWeightGrad(spatial, gb, xb, w.shape.slice(2), stride, padding, dilation, groups);
      if (bias instanceof T.Tensor) out.push(needs[2] ? biasGrad(g!, batched) : null);
      return out;
    }),
  );
}

convRule(1);
convRule(2);
convTransposeRule(1);
convTransposeRule(2);

/**
 * Max pooling routes each cotangent to its window's argmax (the same position the forward pass
 * picked, so overlapping windows accumulate). The indices are the op's own output when it
 * returned them, else the op is run again on the saved input.
 */
function maxPoolRule(spatial: Spatial) {
  const op = spatial === 1 ? 'maxPool1d' : 'maxPool2d';
  defineGrad(op, ([g], { args, outputs }) =>
    T.tidy(() => {
      const [x, kernel] = args as [Tensor, T.SpatialArg];
      const opts = (args[2] ?? {}) as T.MaxPoolOptions;
      const pool = spatial === 1 ? T.maxPool1d : T.maxPool2d;
      const indices = opts.returnIndices ? outputs[1] : pool(detach(x), kernel, { ...opts, returnIndices: true }).indices;
      const lead = prod(x.shape.slice(0, -spatial));
      const plane = prod(x.shape.slice(-spatial));
      const perPlane = prod(g!.shape.slice(-spatial));
      const dx = T.scatterAdd(T.zeros([lead, plane], { dtype: g!.dtype, device: g!.device }), 1, T.reshape(indices, [lead, perPlane]), T.reshape(g!, [lead, perPlane]));
      return [T.reshape(dx, x.shape)];
    }),
  );
}

maxPoolRule(1);
maxPoolRule(2);

/**
 * Average pooling's adjoint: each cotangent divided by its window's divisor (computed per dim as
 * the kernel does: the window clipped to the padded input when padding counts, to the input
 * otherwise, or divisorOverride), then spread over the window by a transposed conv with a kernel of
 * ones. Works for every option, ceilMode included; windows that hold no input give nothing.
 */
function avgPoolRule(spatial: Spatial) {
  defineGrad(spatial === 1 ? 'avgPool1d' : 'avgPool2d', ([g], { args }) =>
    T.tidy(() => {
      const [x, kernelArg] = args as [Tensor, T.SpatialArg];
      const opts = (args[2] ?? {}) as T.AvgPoolOptions;
      const kernel = perDim(kernelArg, spatial, []);
      const stride = perDim(opts.stride, spatial, kernel);
      const padding = perDim(opts.padding, spatial, new Array<number>(spatial).fill(0));
      const includePad = opts.countIncludePad ?? true;
      const inSize = x.shape.slice(-spatial);
      const outSize = g!.shape.slice(-spatial);
      // Per-dim scale of each window: the product over dims is 1 / divisor.
      const scales = outSize.map((O, i) =>
        Array.from({ length: O }, (_, o) => {
          const start = o * stride[i] - padding[i];
          const padEnd = Math.min(start + kernel[i], inSize[i] + padding[i]);
          const lo = Math.max(start, 0);
          const hi = Math.min(padEnd, inSize[i]);
          if (lo >= hi) return 0;
          if (opts.divisorOverride !== undefined) return 1;
          return 1 / (includePad ? padEnd - start : hi - lo);
        }),
      );
      const scaleData = spatial === 1 ? scales[0] : scales[0].flatMap((a) => scales[1].map((b) => a * b));
      const override = opts.divisorOverride !== undefined ? 1 / opts.divisorOverride : 1;
      const scale = T.tensor(scaleData.map((v) => v * override), { dtype: g!.dtype, device: g!.device, shape: outSize });
      const lead = prod(x.shape.slice(0, -spatial));
      const scaled = T.reshape(T.mul(g!, scale), [lead, 1, ...outSize]);
      const base = outSize.map((o, i) => (o - 1) * stride[i] - 2 * padding[i] + kernel[i]);
      const outputPadding = base.map((b, i) => Math.max(0, inSize[i] - b));
      const ones = T.ones([1, 1, ...kernel], { dtype: g!.dtype, device: g!.device });
      const spread = convTOf(spatial)(scaled, ones, null, { stride, padding, outputPadding });
      return [T.reshape(cropSpatial(spread, inSize), x.shape)];
    }),
  );
}

avgPoolRule(1);
avgPoolRule(2);

/**
 * Resamplings that are linear maps applied separately along each spatial dim, y = A_h x A_w^T:
 * the gradient is A_h^T g A_w. `rows(n, o)` gives, per output position, its (input index,
 * weight) taps along a dim of input size n and output size o.
 */
function separableGrad(x: Tensor, g: Tensor, spatial: number, rows: (dim: number, n: number, o: number) => [number, number][][]): Tensor {
  const inSize = x.shape.slice(-spatial);
  const outSize = g.shape.slice(-spatial);
  const matrix = (dim: number, transposed: boolean) => {
    const n = inSize[dim];
    const o = outSize[dim];
    const data = new Float64Array(n * o);
    rows(dim, n, o).forEach((taps, r) => {
      for (const [i, wgt] of taps) data[transposed ? i * o + r : r * n + i] += wgt;
    });
    return T.tensor(data, { dtype: g.dtype, device: g.device, shape: transposed ? [n, o] : [o, n] });
  };
  const last = T.matmul(g, matrix(spatial - 1, false));
  return spatial === 1 ? last : T.matmul(matrix(0, true), last);
}

defineGrad('adaptiveAvgPool1d', ([g], { inputs }) => T.tidy(() => [separableGrad(inputs[0], g!, 1, adaptiveRows)]));
defineGrad('adaptiveAvgPool2d', ([g], { inputs }) => T.tidy(() => [separableGrad(inputs[0], g!, 2, adaptiveRows)]));

function adaptiveRows(_dim: number, n: number, o: number): [number, number][][] {
  return Array.from({ length: o }, (_, r) => {
    const lo = Math.floor((r * n) / o);
    const hi = Math.ceil(((r + 1) * n) / o);
    return Array.from({ length: hi - lo }, (__, k) => [lo + k, 1 / (hi - lo)] as [number, number]);
  });
}

/**
 * interpolate: nearest scatters each cotangent back to its source element; bilinear spreads it
 * over its two taps per dim with their weights. The taps are recomputed as the kernel computes
 * them (sampling ratio from scaleFactor or the sizes, alignCorners mapping corner centres, the
 * same float32 rounding), so the gradient is the exact adjoint of what the forward pass did.
 */
defineGrad('interpolate', ([g], { args }) =>
  T.tidy(() => {
    const [x, opts] = args as [Tensor, T.InterpolateOptions];
    const spatial = x.rank - 2;
    const bilinear = opts.mode === 'bilinear';
    const alignCorners = opts.alignCorners ?? false;
    const round = x.dtype === 'float32' ? Math.fround : (v: number) => v;
    const factors = opts.scaleFactor === undefined || opts.recomputeScaleFactor ? null : perDim(opts.scaleFactor, spatial, []);
    return [
      separableGrad(x, g!, spatial, (dim, n, o) => {
        const ratio = bilinear && alignCorners ? (o > 1 ? (n - 1) / (o - 1) : 0) : factors ? 1 / factors[dim] : n / o;
        const r = round(ratio);
        return Array.from({ length: o }, (_, d): [number, number][] => {
          if (o === n) return [[d, 1]];
          if (!bilinear) return [[o === 2 * n ? d >> 1 : Math.min(Math.floor(round(d * r)), n - 1), 1]];
          const src = alignCorners ? round(r * d) : Math.max(round(round(r * (d + 0.5)) - 0.5), 0);
          const i0 = Math.trunc(src);
          const l1 = Math.min(Math.max(round(src - i0), 0), 1);
          return [[i0, round(1 - l1)], [i0 + (i0 < n - 1 ? 1 : 0), l1]];
        });
      }),
    ];
  }),
);
