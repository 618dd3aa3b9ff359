import * as T from '@tessera/tensor';
import { Module, parameter } from '../module.js';
import { resetLinearLike } from './linear.js';
import { checkInput, checkPositiveInt, factory, shapeStr, type FactoryOptions } from './util.js';

type Spatial = number | readonly number[];

export interface ConvLayerOptions extends FactoryOptions {
  stride?: Spatial;
  /** Zero padding per side, or 'valid' / 'same' (stride 1 only). */
  padding?: Spatial | 'valid' | 'same';
  dilation?: Spatial;
  groups?: number;
  bias?: boolean;
}

const expand = (v: Spatial, n: number) => (typeof v === 'number' ? new Array<number>(n).fill(v) : [...v]);

function checkChannels(layer: string, inChannels: number, outChannels: number, groups: number): void {
  checkPositiveInt(layer, 'inChannels', inChannels);
  checkPositiveInt(layer, 'outChannels', outChannels);
  checkPositiveInt(layer, 'groups', groups);
  if (inChannels % groups || outChannels % groups) {
    throw new RangeError(`${layer}: inChannels (${inChannels}) and outChannels (${outChannels}) must be divisible by groups (${groups})`);
  }
}

/** Shared by Conv1d and Conv2d: weight [out, in / groups, ...kernel], PyTorch's default init. */
abstract class ConvNd extends Module {
  weight: T.Tensor;
  bias: T.Tensor | null;
  readonly kernelSize: number[];
  readonly groups: number;
  protected readonly convOptions: T.ConvOptions;

  constructor(layer: string, spatial: number, readonly inChannels: number, readonly outChannels: number, kernelSize: Spatial, options: ConvLayerOptions) {
    super();
    this.groups = options.groups ?? 1;
    checkChannels(layer, inChannels, outChannels, this.groups);
    this.kernelSize = expand(kernelSize, spatial);
    if (this.kernelSize.length !== spatial) throw new RangeError(`${layer}: kernelSize must be a number or ${spatial} numbers, received ${JSON.stringify(kernelSize)}`);
    this.kernelSize.forEach((k) => checkPositiveInt(layer, 'kernelSize', k));
    this.convOptions = { stride: options.stride ?? 1, padding: options.padding ?? 0, dilation: options.dilation ?? 1, groups: this.groups };
    this.weight = parameter(T.zeros([outChannels, inChannels / this.groups, ...this.kernelSize], factory(options)));
    this.bias = options.bias === false ? null : parameter(T.zeros([outChannels], factory(options)));
    resetLinearLike(layer, this.weight, this.bias);
  }

  protected override extraRepr(): string {
    const o = this.convOptions;
    return `${this.inChannels}, ${this.outChannels}, kernelSize=${shapeStr(this.kernelSize)}, stride=${JSON.stringify(o.stride)}, padding=${JSON.stringify(o.padding)}`;
  }
}

/** 1-D convolution: x [N, inChannels, L] or [inChannels, L]. */
export class Conv1d extends ConvNd {
  constructor(inChannels: number, outChannels: number, kernelSize: Spatial, options: ConvLayerOptions = {}) {
    super('Conv1d', 1, inChannels, outChannels, kernelSize, options);
  }

  forward(x: T.Tensor): T.Tensor {
    checkInput(this, x, [2, 3], (r) => r - 2, this.inChannels, `[N, ${this.inChannels}, L] or [${this.inChannels}, L]`);
    return T.conv1d(x, this.weight, this.bias, this.convOptions);
  }
}

/** 2-D convolution: x [N, inChannels, H, W] or [inChannels, H, W]. */
export class Conv2d extends ConvNd {
  constructor(inChannels: number, outChannels: number, kernelSize: Spatial, options: ConvLayerOptions = {}) {
    super('Conv2d', 2, inChannels, outChannels, kernelSize, options);
  }

  forward(x: T.Tensor): T.Tensor {
    checkInput(this, x, [3, 4], (r) => r - 3, this.inChannels, `[N, ${this.inChannels}, H, W] or [${this.inChannels}, H, W]`);
    return T.conv2d(x, this.weight, this.bias, this.convOptions);
  }
}

export interface ConvTransposeLayerOptions extends FactoryOptions {
  stride?: Spatial;
  padding?: Spatial;
  outputPadding?: Spatial;
  dilation?: Spatial;
  groups?: number;
  bias?: boolean;
}

/** Transposed 2-D convolution (the gradient of conv2d w.r.t. its input); weight [in, out / groups, kh, kw]. */
export class ConvTranspose2d extends Module {
  weight: T.Tensor;
  bias: T.Tensor | null;
  readonly kernelSize: number[];
  readonly groups: number;
  readonly #options: T.ConvTransposeOptions;

  constructor(readonly inChannels: number, readonly outChannels: number, kernelSize: Spatial, options: ConvTransposeLayerOptions = {}) {
    super();
    this.groups = options.groups ?? 1;
    checkChannels('ConvTranspose2d', inChannels, outChannels, this.groups);
    this.kernelSize = expand(kernelSize, 2);
    if (this.kernelSize.length !== 2) throw new RangeError(`ConvTranspose2d: kernelSize must be a number or 2 numbers, received ${JSON.stringify(kernelSize)}`);
    this.kernelSize.forEach((k) => checkPositiveInt('ConvTranspose2d', 'kernelSize', k));
    this.#options = {
      stride: options.stride ?? 1, padding: options.padding ?? 0, outputPadding: options.outputPadding ?? 0,
      dilation: options.dilation ?? 1, groups: this.groups,
    };
    this.weight = parameter(T.zeros([inChannels, outChannels / this.groups, ...this.kernelSize], factory(options)));
    this.bias = options.bias === false ? null : parameter(T.zeros([outChannels], factory(options)));
    // PyTorch computes the fans from the weight as stored, so fanIn = (out / groups) * kh * kw here.
    resetLinearLike('ConvTranspose2d', this.weight, this.bias);
  }

  forward(x: T.Tensor): T.Tensor {
    checkInput(this, x, [3, 4], (r) => r - 3, this.inChannels, `[N, ${this.inChannels}, H, W] or [${this.inChannels}, H, W]`);
    return T.convTranspose2d(x, this.weight, this.bias, this.#options);
  }

  protected override extraRepr(): string {
    return `${this.inChannels}, ${this.outChannels}, kernelSize=${shapeStr(this.kernelSize)}, stride=${JSON.stringify(this.#options.stride)}`;
  }
}
