/**
 * Convolution, pooling and resampling, with PyTorch's `torch.nn.functional` semantics.
 *
 * Every op is computed by a 2-D kernel over [N, C, H, W] views: 1-D ops and unbatched inputs are
 * lifted by inserting size-1 dims into the kernel's view of the tensor (no copy), so one kernel per
 * op serves all of them, and strided (permuted, sliced) inputs are read in place.
 *
 * For autodiff: conv2d's input gradient is convTranspose2d of the output gradient with the same
 * geometry (the transposed kernel takes its output size from the output view, so any input size
 * can be reproduced), and maxPool keeps the flat per-plane argmax indices.
 */
import type { TensorSpec } from '../backend.js';
import type { DType } from '../dtype.js';
import { shapeStr } from '../shape.js';
import type { Tensor } from '../tensor.js';
import type { ValuesIndices } from './reduction.js';
import { checkDTypeIn, checkRank, checkTensor, empty, run, sameDevice } from './util.js';

/** A size per spatial dim, or one number for all of them. */
export type SpatialArg = number | readonly number[];

const FLOATS: readonly DType[] = ['float32', 'float64'];

/** Normalises a number-or-tuple argument to one integer >= min per spatial dim. */
function perDim(op: string, name: string, v: SpatialArg, dims: number, min: number): number[] {
  const list = typeof v === 'number' ? new Array<number>(dims).fill(v) : Array.isArray(v) ? [...v] : null;
  if (!list || list.length !== dims || !list.every((d) => Number.isInteger(d) && d >= min)) {
    throw new RangeError(`${op}: ${name} must be an integer >= ${min} or ${dims} of them, received ${JSON.stringify(v)}`);
  }
  return list;
}

/**
 * The kernel's [N, C, H, W] view of an [N?, C, ...spatial] tensor: a size-1 batch dim when
 * unbatched, a size-1 H dim for 1-D ops.
 */
function asNCHW(t: TensorSpec, batched: boolean, spatial: number): TensorSpec {
  const shape = [...t.shape];
  const strides = [...t.strides];
  if (spatial === 1) {
    shape.splice(shape.length - 1, 0, 1);
    strides.splice(strides.length - 1, 0, 0);
  }
  if (!batched) {
    shape.unshift(1);
    strides.unshift(0);
  }
  return { storage: t.storage, shape, strides, offset: t.offset, dtype: t.dtype };
}

/** Pads a per-spatial-dim list to (H, W) for the lifted 1-D case. */
const hw = (v: number[], fill: number) => (v.length === 1 ? [fill, v[0]] : v);

/** Checks a float input of rank spatial+1 (unbatched) or spatial+2 whose non-batch dims are non-empty. */
function checkSpatialInput(op: string, x: Tensor, spatial: number): boolean {
  checkTensor(op, x);
  checkDTypeIn(op, x, FLOATS);
  checkRank(op, x, [spatial + 1, spatial + 2]);
  const batched = x.rank === spatial + 2;
  if (x.shape.slice(batched ? 1 : 0).some((d) => d === 0)) {
    throw new RangeError(`${op}: expected non-empty channel and spatial dims (only the batch may be empty), received shape ${shapeStr(x.shape)}`);
  }
  return batched;
}

// ---------------------------------------------------------------------------------------------
// Convolution

export interface ConvOptions {
  stride?: SpatialArg;
  /** Zero padding on both sides, or 'valid' (none) or 'same' (output size = input size; stride 1 only). */
  padding?: SpatialArg | 'valid' | 'same';
  dilation?: SpatialArg;
  groups?: number;
}

export interface ConvTransposeOptions {
  stride?: SpatialArg;
  padding?: SpatialArg;
  /** Extra size added to one side of the output, to pick among the input sizes a strided conv maps to one output size. */
  outputPadding?: SpatialArg;
  dilation?: SpatialArg;
  groups?: number;
}

interface ConvOperands {
  batched: boolean;
  groups: number;
}

function checkConvOperands(op: string, spatial: number, x: Tensor, weight: Tensor, bias: Tensor | null | undefined, groupsArg: number | undefined, transposed: boolean): ConvOperands {
  const batched = checkSpatialInput(op, x, spatial);
  checkTensor(op, weight, 'weight');
  if (bias !== undefined && bias !== null) checkTensor(op, bias, 'bias');
  sameDevice(op, x, weight, ...(bias ? [bias] : []));
  for (const [t, name] of [[weight, 'weight'], [bias, 'bias']] as const) {
    if (t && t.dtype !== x.dtype) throw new TypeError(`${op}: expected ${name} dtype ${x.dtype} (the input's), received ${t.dtype}`);
  }
  checkRank(op, weight, [spatial + 2], 'weight');
  const groups = groupsArg ?? 1;
  if (!Number.isInteger(groups) || groups < 1) throw new RangeError(`${op}: groups must be a positive integer, received ${groups}`);
  const channels = x.shape[batched ? 1 : 0];
  const [w0, w1] = weight.shape;
  if (transposed) {
    // weight [C_in, C_out / groups, ...kernel]
    if (w0 !== channels) {
      throw new RangeError(`${op}: weight of shape ${shapeStr(weight.shape)} expects input with ${w0} channels, received input of shape ${shapeStr(x.shape)}`);
    }
    if (channels % groups !== 0) throw new RangeError(`${op}: groups=${groups} must divide the ${channels} input channels (input shape ${shapeStr(x.shape)})`);
  } else {
    // weight [C_out, C_in / groups, ...kernel]
    if (w0 % groups !== 0) throw new RangeError(`${op}: groups=${groups} must divide the ${w0} output channels of weight ${shapeStr(weight.shape)}`);
    if (channels !== w1 * groups) {
      throw new RangeError(`${op}: with groups=${groups}, weight of shape ${shapeStr(weight.shape)} expects input with ${w1 * groups} channels, received input of shape ${shapeStr(x.shape)}`);
    }
  }
  const outChannels = transposed ? w1 * groups : w0;
  if (bias && (bias.rank !== 1 || bias.shape[0] !== outChannels)) {
    throw new RangeError(`${op}: expected bias of shape [${outChannels}], received ${shapeStr(bias.shape)}`);
  }
  if (weight.shape.slice(2).some((k) => k === 0)) throw new RangeError(`${op}: expected a non-empty kernel, received weight of shape ${shapeStr(weight.shape)}`);
  return { batched, groups };
}

function convNd(op: string, spatial: number, x: Tensor, weight: Tensor, bias: Tensor | null | undefined, options: ConvOptions): Tensor {
  const { batched, groups } = checkConvOperands(op, spatial, x, weight, bias, options.groups, false);
  const stride = perDim(op, 'stride', options.stride ?? 1, spatial, 1);
  const dilation = perDim(op, 'dilation', options.dilation ?? 1, spatial, 1);
  const kernel = weight.shape.slice(2);
  const inSize = x.shape.slice(-spatial);
  const pad = options.padding ?? 0;
  let padBefore: number[];
  let padTotal: number[];
  if (pad === 'valid') {
    padBefore = padTotal = new Array<number>(spatial).fill(0);
  } else if (pad === 'same') {
    if (stride.some((s) => s !== 1)) throw new RangeError(`${op}: padding='same' needs stride 1, received stride ${shapeStr(stride)}`);
    // Like PyTorch, an odd total pads one more on the end side.
    padTotal = kernel.map((k, i) => dilation[i] * (k - 1));
    padBefore = padTotal.map((t) => Math.floor(t / 2));
  } else if (typeof pad === 'string') {
    throw new TypeError(`${op}: padding must be a number, ${spatial} numbers, 'valid' or 'same', received '${pad}'`);
  } else {
    padBefore = perDim(op, 'padding', pad, spatial, 0);
    padTotal = padBefore.map((p) => 2 * p);
  }
  const outSize = inSize.map((n, i) => {
    const padded = n + padTotal[i];
    const span = dilation[i] * (kernel[i] - 1) + 1;
    if (padded < span) {
      throw new RangeError(`${op}: the padded input size ${shapeStr(inSize.map((m, j) => m + padTotal[j]))} is smaller than the dilated kernel ${shapeStr(kernel.map((k, j) => dilation[j] * (k - 1) + 1))} (input shape ${shapeStr(x.shape)}, weight ${shapeStr(weight.shape)})`);
    }
    return Math.floor((padded - span) / stride[i]) + 1;
  });
  const outShape = [...(batched ? [x.shape[0]] : []), weight.shape[0], ...outSize];
  const out = empty(outShape, x.dtype, x.device, op);
  const inputs = [asNCHW(x, batched, spatial), asNCHW(weight, true, spatial), ...(bias ? [bias] : [])];
  run('conv2d', inputs, [asNCHW(out, batched, spatial)], {
    stride: hw(stride, 1), padding: hw(padBefore, 0), dilation: hw(dilation, 1), groups,
  });
  return out;
}

/** 2-D convolution (cross-correlation) of x [N, C, H, W] or [C, H, W] with weight [O, C/groups, kh, kw]. */
export function conv2d(x: Tensor, weight: Tensor, bias?: Tensor | null, options: ConvOptions = {}): Tensor {
  return convNd('conv2d', 2, x, weight, bias, options);
}

/** 1-D convolution of x [N, C, L] or [C, L] with weight [O, C/groups, k]. */
export function conv1d(x: Tensor, weight: Tensor, bias?: Tensor | null, options: ConvOptions = {}): Tensor {
  return convNd('conv1d', 1, x, weight, bias, options);
}

function convTransposeNd(op: string, spatial: number, x: Tensor, weight: Tensor, bias: Tensor | null | undefined, options: ConvTransposeOptions): Tensor {
  const { batched, groups } = checkConvOperands(op, spatial, x, weight, bias, options.groups, true);
  const stride = perDim(op, 'stride', options.stride ?? 1, spatial, 1);
  const dilation = perDim(op, 'dilation', options.dilation ?? 1, spatial, 1);
  const padding = perDim(op, 'padding', options.padding ?? 0, spatial, 0);
  const outputPadding = perDim(op, 'outputPadding', options.outputPadding ?? 0, spatial, 0);
  outputPadding.forEach((p, i) => {
    if (p >= stride[i] && p >= dilation[i]) {
      throw new RangeError(`${op}: outputPadding must be smaller than stride or dilation, received outputPadding ${shapeStr(outputPadding)}, stride ${shapeStr(stride)}, dilation ${shapeStr(dilation)}`);
    }
  });
  const kernel = weight.shape.slice(2);
  const inSize = x.shape.slice(-spatial);
  const outSize = inSize.map((n, i) => (n - 1) * stride[i] - 2 * padding[i] + dilation[i] * (kernel[i] - 1) + outputPadding[i] + 1);
  if (outSize.some((n) => n <= 0)) {
    throw new RangeError(`${op}: the output size ${shapeStr(outSize)} is not positive (input shape ${shapeStr(x.shape)}, weight ${shapeStr(weight.shape)}, padding ${shapeStr(padding)})`);
  }
  const outShape = [...(batched ? [x.shape[0]] : []), weight.shape[1] * groups, ...outSize];
  const out = empty(outShape, x.dtype, x.device, op);
  const inputs = [asNCHW(x, batched, spatial), asNCHW(weight, true, spatial), ...(bias ? [bias] : [])];
  run('convTranspose2d', inputs, [asNCHW(out, batched, spatial)], {
    stride: hw(stride, 1), padding: hw(padding, 0), dilation: hw(dilation, 1), groups,
  });
  return out;
}

/**
 * Transposed 2-D convolution of x [N, C, H, W] or [C, H, W] with weight [C, O/groups, kh, kw]; the
 * gradient of conv2d with respect to its input.
 */
export function convTranspose2d(x: Tensor, weight: Tensor, bias?: Tensor | null, options: ConvTransposeOptions = {}): Tensor {
  return convTransposeNd('convTranspose2d', 2, x, weight, bias, options);
}

/** Transposed 1-D convolution of x [N, C, L] or [C, L] with weight [C, O/groups, k]. */
export function convTranspose1d(x: Tensor, weight: Tensor, bias?: Tensor | null, options: ConvTransposeOptions = {}): Tensor {
  return convTransposeNd('convTranspose1d', 1, x, weight, bias, options);
}

// ---------------------------------------------------------------------------------------------
// Pooling

export interface PoolOptions {
  /** Defaults to the kernel size. */
  stride?: SpatialArg | null;
  padding?: SpatialArg;
  /** Rounds the output size up instead of down (windows that would start in the end padding are dropped). */
  ceilMode?: boolean;
}

export interface MaxPoolOptions extends PoolOptions {
  dilation?: SpatialArg;
  /** Also return the argmax of each window as a flat index into its input plane (H * W), int32. */
  returnIndices?: boolean;
}

export interface AvgPoolOptions extends PoolOptions {
  /** Count the zero padding in the divisor (default true). */
  countIncludePad?: boolean;
  /** Divide every window sum by this instead. */
  divisorOverride?: number;
}

interface PoolGeometry {
  batched: boolean;
  kernel: number[];
  stride: number[];
  padding: number[];
  dilation: number[];
  outShape: number[];
}

/** PyTorch's pooling output size: floor or ceil of the window count, never starting a window in the end padding. */
function poolOutSize(n: number, k: number, s: number, p: number, d: number, ceil: boolean): number {
  const span = n + 2 * p - d * (k - 1) - 1;
  let out = Math.floor((span + (ceil ? s - 1 : 0)) / s) + 1;
  if (ceil && (out - 1) * s >= n + p) out--;
  return out;
}

function poolGeometry(op: string, spatial: number, x: Tensor, kernelSize: SpatialArg, options: MaxPoolOptions): PoolGeometry {
  const batched = checkSpatialInput(op, x, spatial);
  const kernel = perDim(op, 'kernelSize', kernelSize, spatial, 1);
  const stride = options.stride === undefined || options.stride === null ? kernel : perDim(op, 'stride', options.stride, spatial, 1);
  const padding = perDim(op, 'padding', options.padding ?? 0, spatial, 0);
  const dilation = perDim(op, 'dilation', options.dilation ?? 1, spatial, 1);
  if (padding.some((p, i) => p > kernel[i] / 2)) {
    throw new RangeError(`${op}: padding ${shapeStr(padding)} must be at most half the kernel size ${shapeStr(kernel)}`);
  }
  const inSize = x.shape.slice(-spatial);
  const outSize = inSize.map((n, i) => poolOutSize(n, kernel[i], stride[i], padding[i], dilation[i], options.ceilMode ?? false));
  if (outSize.some((n) => n < 1)) {
    throw new RangeError(`${op}: the output size ${shapeStr(outSize)} is too small (input shape ${shapeStr(x.shape)}, kernel ${shapeStr(kernel)}, stride ${shapeStr(stride)}, padding ${shapeStr(padding)}, dilation ${shapeStr(dilation)})`);
  }
  return { batched, kernel, stride, padding, dilation, outShape: [...x.shape.slice(0, -spatial), ...outSize] };
}

function maxPoolNd(op: string, spatial: number, x: Tensor, kernelSize: SpatialArg, options: MaxPoolOptions): Tensor | ValuesIndices {
  const g = poolGeometry(op, spatial, x, kernelSize, options);
  const values = empty(g.outShape, x.dtype, x.device, op);
  const indices = empty(g.outShape, 'int32', x.device, op);
  run('maxPool2d', [asNCHW(x, g.batched, spatial)], [asNCHW(values, g.batched, spatial), asNCHW(indices, g.batched, spatial)], {
    kernel: hw(g.kernel, 1), stride: hw(g.stride, 1), padding: hw(g.padding, 0), dilation: hw(g.dilation, 1),
  });
  if (options.returnIndices) return { values, indices };
  indices.dispose();
  return values;
}

/** 2-D max pooling over x [N, C, H, W] or [C, H, W]; NaN wins a window, as in PyTorch. */
export function maxPool2d(x: Tensor, kernelSize: SpatialArg, options?: MaxPoolOptions & { returnIndices?: false }): Tensor;
export function maxPool2d(x: Tensor, kernelSize: SpatialArg, options: MaxPoolOptions & { returnIndices: true }): ValuesIndices;
export function maxPool2d(x: Tensor, kernelSize: SpatialArg, options: MaxPoolOptions = {}): Tensor | ValuesIndices {
  return maxPoolNd('maxPool2d', 2, x, kernelSize, options);
}

/** 1-D max pooling over x [N, C, L] or [C, L]. */
export function maxPool1d(x: Tensor, kernelSize: SpatialArg, options?: MaxPoolOptions & { returnIndices?: false }): Tensor;
export function maxPool1d(x: Tensor, kernelSize: SpatialArg, options: MaxPoolOptions & { returnIndices: true }): ValuesIndices;
export function maxPool1d(x: Tensor, kernelSize: SpatialArg, options: MaxPoolOptions = {}): Tensor | ValuesIndices {
  return maxPoolNd('maxPool1d', 1, x, kernelSize, options);
}

function avgPoolNd(op: string, spatial: number, x: Tensor, kernelSize: SpatialArg, options: AvgPoolOptions): Tensor {
  const g = poolGeometry(op, spatial, x, kernelSize, { ...options, dilation: 1 });
  const divisor = options.divisorOverride ?? 0;
  if (options.divisorOverride !== undefined && (!Number.isInteger(divisor) || divisor === 0)) {
    throw new RangeError(`${op}: divisorOverride must be a non-zero integer, received ${options.divisorOverride}`);
  }
  const out = empty(g.outShape, x.dtype, x.device, op);
  run('avgPool2d', [asNCHW(x, g.batched, spatial)], [asNCHW(out, g.batched, spatial)], {
    kernel: hw(g.kernel, 1), stride: hw(g.stride, 1), padding: hw(g.padding, 0),
    countIncludePad: options.countIncludePad ?? true, divisor,
  });
  return out;
}

/** 2-D average pooling over x [N, C, H, W] or [C, H, W]. */
export function avgPool2d(x: Tensor, kernelSize: SpatialArg, options: AvgPoolOptions = {}): Tensor {
  return avgPoolNd('avgPool2d', 2, x, kernelSize, options);
}

/** 1-D average pooling over x [N, C, L] or [C, L]. */
export function avgPool1d(x: Tensor, kernelSize: SpatialArg, options: AvgPoolOptions = {}): Tensor {
  return avgPoolNd('avgPool1d', 1, x, kernelSize, options);
}

/** A per-dim output size where null keeps the input's size. */
export type AdaptiveSize = number | null | readonly (number | null)[];

function adaptiveAvgPoolNd(op: string, spatial: number, x: Tensor, outputSize: AdaptiveSize): Tensor {
  const batched = checkSpatialInput(op, x, spatial);
  const inSize = x.shape.slice(-spatial);
  const list = Array.isArray(outputSize) ? [...outputSize] : new Array<number | null>(spatial).fill(outputSize as number | null);
  if (list.length !== spatial || !list.every((d) => d === null || (Number.isInteger(d) && d >= 0))) {
    throw new RangeError(`${op}: outputSize must be a non-negative integer (or null to keep a dim) or ${spatial} of them, received ${JSON.stringify(outputSize)}`);
  }
  const outSize = list.map((d, i) => d ?? inSize[i]);
  const out = empty([...x.shape.slice(0, -spatial), ...outSize], x.dtype, x.device, op);
  run('adaptiveAvgPool2d', [asNCHW(x, batched, spatial)], [asNCHW(out, batched, spatial)]);
  return out;
}

/** Averages x [N, C, H, W] or [C, H, W] over windows [floor(i H / oh), ceil((i + 1) H / oh)) to a fixed output size. */
export function adaptiveAvgPool2d(x: Tensor, outputSize: AdaptiveSize): Tensor {
  return adaptiveAvgPoolNd('adaptiveAvgPool2d', 2, x, outputSize);
}

/** Averages x [N, C, L] or [C, L] to a fixed output length. */
export function adaptiveAvgPool1d(x: Tensor, outputSize: number): Tensor {
  return adaptiveAvgPoolNd('adaptiveAvgPool1d', 1, x, outputSize);
}

// ---------------------------------------------------------------------------------------------
// Resampling

export interface InterpolateOptions {
  /** Output spatial size (give this or scaleFactor). */
  size?: SpatialArg;
  /** Output size = floor(input size * scaleFactor). */
  scaleFactor?: number | readonly number[];
  /** 'nearest' (1-D or 2-D spatial) or 'bilinear' (2-D spatial). Default 'nearest'. */
  mode?: 'nearest' | 'bilinear';
  /** Bilinear only: map corner pixel centres onto each other (default false). */
  alignCorners?: boolean;
  /**
   * With scaleFactor, sample with ratio in/out computed from the output size instead of 1/scaleFactor
   * (PyTorch's recompute_scale_factor). Default false.
   */
  recomputeScaleFactor?: boolean;
}

/**
 * Resizes x [N, C, L] or [N, C, H, W] as PyTorch 1.13's F.interpolate: 'nearest' samples
 * floor(dst * ratio); 'bilinear' samples ratio * (dst + 0.5) - 0.5 (or dst * (in - 1) / (out - 1)
 * with alignCorners), where ratio is 1/scaleFactor when given, else in/out.
 */
export function interpolate(x: Tensor, options: InterpolateOptions): Tensor {
  const op = 'interpolate';
  checkTensor(op, x);
  checkDTypeIn(op, x, FLOATS);
  checkRank(op, x, [3, 4]);
  const spatial = x.rank - 2;
  const mode = options.mode ?? 'nearest';
  if (mode !== 'nearest' && mode !== 'bilinear') throw new TypeError(`${op}: mode must be 'nearest' or 'bilinear', received '${String(mode)}'`);
  if (mode === 'bilinear' && spatial !== 2) throw new RangeError(`${op}: mode 'bilinear' needs a 4-D input [N, C, H, W], received shape ${shapeStr(x.shape)}`);
  if (mode === 'nearest' && options.alignCorners !== undefined) {
    throw new TypeError(`${op}: alignCorners can only be set with mode 'bilinear'`);
  }
  if ((options.size === undefined) === (options.scaleFactor === undefined)) {
    throw new TypeError(`${op}: give exactly one of size and scaleFactor`);
  }
  if (x.shape.slice(1).some((d) => d === 0)) {
    throw new RangeError(`${op}: expected non-empty channel and spatial dims (only the batch may be empty), received shape ${shapeStr(x.shape)}`);
  }
  const inSize = x.shape.slice(2);
  let outSize: number[];
  let scales: (number | null)[] = new Array<null>(spatial).fill(null);
  if (options.size !== undefined) {
    outSize = perDim(op, 'size', options.size, spatial, 1);
  } else {
    const sf = options.scaleFactor!;
    const factors = typeof sf === 'number' ? new Array<number>(spatial).fill(sf) : Array.isArray(sf) ? [...sf] : [];
    if (factors.length !== spatial || !factors.every((f) => Number.isFinite(f) && f > 0)) {
      throw new RangeError(`${op}: scaleFactor must be a positive number or ${spatial} of them, received ${JSON.stringify(sf)}`);
    }
    outSize = inSize.map((n, i) => Math.floor(n * factors[i]));
    if (outSize.some((n) => n < 1)) throw new RangeError(`${op}: scaleFactor ${JSON.stringify(sf)} gives an empty output ${shapeStr(outSize)} for input shape ${shapeStr(x.shape)}`);
    if (!options.recomputeScaleFactor) scales = factors.map((f) => 1 / f);
  }
  const alignCorners = options.alignCorners ?? false;
  // The sampling ratio per dim, as PyTorch's area_pixel_compute_scale computes it.
  const ratio = outSize.map((o, i) => {
    if (mode === 'bilinear' && alignCorners) return o > 1 ? (inSize[i] - 1) / (o - 1) : 0;
    return scales[i] ?? inSize[i] / o;
  });
  const out = empty([...x.shape.slice(0, 2), ...outSize], x.dtype, x.device, op);
  run('interpolate2d', [asNCHW(x, true, spatial)], [asNCHW(out, true, spatial)], {
    bilinear: mode === 'bilinear', alignCorners, ratio: hw(ratio, 1),
  });
  return out;
}
