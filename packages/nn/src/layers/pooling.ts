import * as T from '@tessera/tensor';
import { Module } from '../module.js';
import { checkFloatInput, layerName, shapeStr } from './util.js';

type Spatial = number | readonly number[];

function checkRank(m: Module, x: unknown, ranks: number[], expected: string): asserts x is T.Tensor {
  checkFloatInput(m, x);
  if (!ranks.includes(x.rank)) throw new RangeError(`${layerName(m)}: expected input of shape ${expected}, received ${shapeStr(x.shape)}`);
}

export interface MaxPoolLayerOptions<R extends boolean = boolean> {
  /** Default: kernelSize. */
  stride?: Spatial | null;
  padding?: Spatial;
  dilation?: Spatial;
  ceilMode?: boolean;
  /**
   * Also return each window's argmax, as a flat int32 index into its input plane (L, or H * W),
   * as PyTorch: forward returns { values, indices } (what MaxUnpool1d/2d take).
   */
  returnIndices?: R;
}

/** What a max pooling layer returns: the pooled tensor, or { values, indices } with returnIndices. */
export type MaxPoolOutput<R extends boolean> = R extends true ? T.ValuesIndices : T.Tensor;

function maxPool<R extends boolean>(spatial: 1 | 2, x: T.Tensor, kernelSize: Spatial, options: MaxPoolLayerOptions<R>): MaxPoolOutput<R> {
  const pool = spatial === 1 ? T.maxPool1d : T.maxPool2d;
  const o = { ...options, returnIndices: false as const };
  return (options.returnIndices ? pool(x, kernelSize, { ...o, returnIndices: true }) : pool(x, kernelSize, o)) as MaxPoolOutput<R>;
}

/** Max over sliding windows of x [N, C, L] or [C, L]. */
export class MaxPool1d<R extends boolean = false> extends Module {
  constructor(readonly kernelSize: Spatial, readonly options: MaxPoolLayerOptions<R> = {}) {
    super();
  }

  forward(x: T.Tensor): MaxPoolOutput<R> {
    checkRank(this, x, [2, 3], '[N, C, L] or [C, L]');
    return maxPool(1, x, this.kernelSize, this.options);
  }

  protected override extraRepr(): string {
    return `kernelSize=${JSON.stringify(this.kernelSize)}${this.options.returnIndices ? ', returnIndices=true' : ''}`;
  }
}

/** Max over sliding windows of x [N, C, H, W] or [C, H, W]. */
export class MaxPool2d<R extends boolean = false> extends Module {
  constructor(readonly kernelSize: Spatial, readonly options: MaxPoolLayerOptions<R> = {}) {
    super();
  }

  forward(x: T.Tensor): MaxPoolOutput<R> {
    checkRank(this, x, [3, 4], '[N, C, H, W] or [C, H, W]');
    return maxPool(2, x, this.kernelSize, this.options);
  }

  protected override extraRepr(): string {
    return `kernelSize=${JSON.stringify(this.kernelSize)}${this.options.returnIndices ? ', returnIndices=true' : ''}`;
  }
}

export interface MaxUnpoolLayerOptions {
  /** Default: kernelSize. */
  stride?: Spatial | null;
  padding?: Spatial;
}

function perDim(layer: string, name: string, v: Spatial, spatial: number, min: number): number[] {
  const out = typeof v === 'number' ? new Array<number>(spatial).fill(v) : [...v];
  if (out.length !== spatial || !out.every((k) => Number.isInteger(k) && k >= min)) {
    throw new RangeError(`${layer}: ${name} must be an integer >= ${min} or ${spatial} of them, received ${JSON.stringify(v)}`);
  }
  return out;
}

/**
 * Shared by MaxUnpool1d/2d: a partial inverse of max pooling that puts each value at its index in a
 * zero plane (the other positions stay zero), as torch.nn.MaxUnpool; gradients flow back to x by gather.
 */
abstract class MaxUnpool extends Module {
  readonly kernel: number[];
  readonly stride: number[];
  readonly padding: number[];

  constructor(layer: string, protected readonly spatial: 1 | 2, readonly kernelSize: Spatial, options: MaxUnpoolLayerOptions) {
    super();
    this.kernel = perDim(layer, 'kernelSize', kernelSize, spatial, 1);
    this.stride = options.stride === undefined || options.stride === null ? this.kernel : perDim(layer, 'stride', options.stride, spatial, 1);
    this.padding = perDim(layer, 'padding', options.padding ?? 0, spatial, 0);
  }

  /**
   * Unpools x (the values of max pooling) with `indices` (its returned indices, same shape).
   * `outputSize` (the spatial size, or the whole shape) picks among the input sizes that pool to
   * x's size, as PyTorch; by default (in - 1) * stride - 2 * padding + kernel per dim.
   */
  forward(x: T.Tensor, indices: T.Tensor, outputSize?: readonly number[]): T.Tensor {
    const k = this.spatial;
    const name = layerName(this);
    checkRank(this, x, [k + 1, k + 2], k === 1 ? '[N, C, L] or [C, L]' : '[N, C, H, W] or [C, H, W]');
    if (!(indices instanceof T.Tensor) || indices.dtype !== 'int32') {
      throw new TypeError(`${name}: expected int32 indices (from max pooling with returnIndices), received ${indices instanceof T.Tensor ? indices.dtype : typeof indices}`);
    }
    if (indices.shape.length !== x.rank || indices.shape.some((d, i) => d !== x.shape[i])) {
      throw new RangeError(`${name}: expected indices of the input's shape ${shapeStr(x.shape)}, received ${shapeStr(indices.shape)}`);
    }
    if (indices.device !== x.device) throw new TypeError(`${name}: indices are on ${indices.device} but the input is on ${x.device}`);
    const inSize = x.shape.slice(-k);
    const defaults = inSize.map((n, d) => (n - 1) * this.stride[d] - 2 * this.padding[d] + this.kernel[d]);
    let size = defaults;
    if (outputSize !== undefined) {
      const given = outputSize.length === k + 2 ? outputSize.slice(2) : [...outputSize];
      if (given.length !== k) throw new RangeError(`${name}: outputSize must hold ${k} or ${k + 2} numbers, received ${shapeStr(outputSize)}`);
      given.forEach((n, d) => {
        const [lo, hi] = [defaults[d] - this.stride[d], defaults[d] + this.stride[d]];
        if (!(Number.isInteger(n) && n > lo && n < hi)) throw new RangeError(`${name}: invalid outputSize ${shapeStr(outputSize)} (dim ${d} must be between ${lo} and ${hi}, exclusive)`);
      });
      size = given;
    }
    if (size.some((n) => n < 1)) throw new RangeError(`${name}: the output size ${shapeStr(size)} is empty for input shape ${shapeStr(x.shape)}`);
    const plane = size.reduce((a, b) => a * b, 1);
    if (indices.device === 'cpu') {
      // Checked on cpu only: on webgpu it would need a readback (the scatter there drops such indices).
      const bad = indices.dataSync().find((v) => v < 0 || v >= plane);
      if (bad !== undefined) throw new RangeError(`${name}: found an invalid max index ${bad} (the output plane ${shapeStr(size)} holds ${plane} elements)`);
    }
    const lead = x.shape.slice(0, -k);
    const rows = lead.reduce((a, b) => a * b, 1);
    return T.tidy(() => {
      const zeros = T.zeros([rows, plane], { dtype: x.dtype, device: x.device });
      const out = T.scatter(zeros, 1, T.reshape(indices, [rows, -1]), T.reshape(x, [rows, -1]));
      return T.reshape(out, [...lead, ...size]);
    });
  }

  protected override extraRepr(): string {
    return `kernelSize=${shapeStr(this.kernel)}, stride=${shapeStr(this.stride)}, padding=${shapeStr(this.padding)}`;
  }
}

/** Inverse of MaxPool1d: x and indices [N, C, L] or [C, L]. */
export class MaxUnpool1d extends MaxUnpool {
  constructor(kernelSize: Spatial, options: MaxUnpoolLayerOptions = {}) {
    super('MaxUnpool1d', 1, kernelSize, options);
  }
}

/** Inverse of MaxPool2d: x and indices [N, C, H, W] or [C, H, W]. */
export class MaxUnpool2d extends MaxUnpool {
  constructor(kernelSize: Spatial, options: MaxUnpoolLayerOptions = {}) {
    super('MaxUnpool2d', 2, kernelSize, options);
  }
}

export interface AvgPoolLayerOptions {
  stride?: Spatial | null;
  padding?: Spatial;
  ceilMode?: boolean;
  /** Count the zero padding in the divisor (default true). */
  countIncludePad?: boolean;
  divisorOverride?: number;
}

/** Mean over sliding windows of x [N, C, L] or [C, L]. */
export class AvgPool1d extends Module {
  constructor(readonly kernelSize: Spatial, readonly options: AvgPoolLayerOptions = {}) {
    super();
  }

  forward(x: T.Tensor): T.Tensor {
    checkRank(this, x, [2, 3], '[N, C, L] or [C, L]');
    return T.avgPool1d(x, this.kernelSize, this.options);
  }

  protected override extraRepr(): string {
    return `kernelSize=${JSON.stringify(this.kernelSize)}`;
  }
}

/** Mean over sliding windows of x [N, C, H, W] or [C, H, W]. */
export class AvgPool2d extends Module {
  constructor(readonly kernelSize: Spatial, readonly options: AvgPoolLayerOptions = {}) {
    super();
  }

  forward(x: T.Tensor): T.Tensor {
    checkRank(this, x, [3, 4], '[N, C, H, W] or [C, H, W]');
    return T.avgPool2d(x, this.kernelSize, this.options);
  }

  protected override extraRepr(): string {
    return `kernelSize=${JSON.stringify(this.kernelSize)}`;
  }
}

/** Averages x [N, C, H, W] or [C, H, W] to a fixed spatial size (null keeps that dim). */
export class AdaptiveAvgPool2d extends Module {
  constructor(readonly outputSize: number | null | readonly (number | null)[]) {
    super();
  }

  forward(x: T.Tensor): T.Tensor {
    checkRank(this, x, [3, 4], '[N, C, H, W] or [C, H, W]');
    return T.adaptiveAvgPool2d(x, this.outputSize);
  }

  protected override extraRepr(): string {
    return `outputSize=${JSON.stringify(this.outputSize)}`;
  }
}

export interface UpsampleOptions {
  size?: Spatial;
  scaleFactor?: number | readonly number[];
  /** 'nearest' (default) or 'bilinear'. */
  mode?: 'nearest' | 'bilinear';
  alignCorners?: boolean;
}

/** Resizes x [N, C, L] or [N, C, H, W] (F.interpolate). */
export class Upsample extends Module {
  constructor(readonly options: UpsampleOptions) {
    super();
    if ((options.size === undefined) === (options.scaleFactor === undefined)) throw new TypeError('Upsample: give exactly one of size and scaleFactor');
  }

  forward(x: T.Tensor): T.Tensor {
    checkRank(this, x, [3, 4], '[N, C, L] or [N, C, H, W]');
    return T.interpolate(x, this.options);
  }

  protected override extraRepr(): string {
    return `mode=${this.options.mode ?? 'nearest'}`;
  }
}
