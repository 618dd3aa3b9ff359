import * as T from '@tessera/tensor';
import { Module, parameter } from '../module.js';
import { resetLinearLike } from './linear.js';
import { checkInput, checkPositiveInt, factory, layerName, shapeStr, type FactoryOptions } from './util.js';

type Spatial = number | readonly number[];

export interface ConvLayerOptions extends FactoryOptions {
  stride?: Spatial;
  /** Zero padding per side, or 'valid' / 'same' (stride 1 only). */
  padding?: Spatial | 'valid' | 'same';
  dilation?: Spatial;
  groups?: number;
  bias?: boolean;
  /**
   * How the input is padded (default 'zeros'). The others pad with F.pad's mode of that name by
   * `padding` on each side (for 'same', as PyTorch splits it), then convolve without padding.
   */
  paddingMode?: PaddingMode;
}

export type PaddingMode = 'zeros' | 'reflect' | 'replicate' | 'circular';
const PADDING_MODES: readonly string[] = ['zeros', 'reflect', 'replicate', 'circular'];

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
  readonly paddingMode: PaddingMode;
  protected readonly convOptions: T.ConvOptions;
  /** F.pad amounts (last dim first, before/after) for the non-zero padding modes; null for 'zeros'. */
  protected readonly modePadding: number[] | null;

  constructor(layer: string, spatial: number, readonly inChannels: number, readonly outChannels: number, kernelSize: Spatial, options: ConvLayerOptions) {
    super();
    this.groups = options.groups ?? 1;
    checkChannels(layer, inChannels, outChannels, this.groups);
    this.kernelSize = expand(kernelSize, spatial);
    if (this.kernelSize.length !== spatial) throw new RangeError(`${layer}: kernelSize must be a number or ${spatial} numbers, received ${JSON.stringify(kernelSize)}`);
    this.kernelSize.forEach((k) => checkPositiveInt(layer, 'kernelSize', k));
    this.convOptions = { stride: options.stride ?? 1, padding: options.padding ?? 0, dilation: options.dilation ?? 1, groups: this.groups };
    this.paddingMode = options.paddingMode ?? 'zeros';
    if (!PADDING_MODES.includes(this.paddingMode)) throw new TypeError(`${layer}: paddingMode must be one of ${PADDING_MODES.join(', ')}, received '${String(options.paddingMode)}'`);
    this.modePadding = this.paddingMode === 'zeros' ? null : reversedPadding(layer, spatial, this.kernelSize, this.convOptions);
    this.weight = parameter(T.zeros([outChannels, inChannels / this.groups, ...this.kernelSize], factory(options)));
    this.bias = options.bias === false ? null : parameter(T.zeros([outChannels], factory(options)));
    resetLinearLike(layer, this.weight, this.bias);
  }

  /** Runs `conv` on x, padded first by the padding mode when it is not 'zeros'. */
  protected convolve(x: T.Tensor, conv: (x: T.Tensor, w: T.Tensor, b: T.Tensor | null, o: T.ConvOptions) => T.Tensor): T.Tensor {
    const pads = this.modePadding;
    if (!pads) return conv(x, this.weight, this.bias, this.convOptions);
    for (let k = 0; k < pads.length / 2; k++) {
      const n = x.shape[x.rank - 1 - k];
      const p = Math.max(pads[2 * k], pads[2 * k + 1]);
      const ok = this.paddingMode === 'reflect' ? p < n : this.paddingMode === 'circular' ? p <= n : true;
      if (!ok) {
        const rule = this.paddingMode === 'reflect' ? 'smaller than' : 'at most';
        throw new RangeError(`${layerName(this)}: ${this.paddingMode} padding ${p} must be ${rule} the input size ${n} (input shape ${shapeStr(x.shape)})`);
      }
    }
    return T.tidy(() => conv(T.pad(x, pads, { mode: this.paddingMode as T.PadMode }), this.weight, this.bias, { ...this.convOptions, padding: 0 }));
  }

  protected override extraRepr(): string {
    const o = this.convOptions;
    const mode = this.paddingMode === 'zeros' ? '' : `, paddingMode=${this.paddingMode}`;
    return `${this.inChannels}, ${this.outChannels}, kernelSize=${shapeStr(this.kernelSize)}, stride=${JSON.stringify(o.stride)}, padding=${JSON.stringify(o.padding)}${mode}`;
  }
}

/**
 * PyTorch's _reversed_padding_repeated_twice: F.pad amounts, last spatial dim first, for `padding`
 * per side (a number or one per dim), 'valid' (none) or 'same' (d (k - 1) split with the smaller half first).
 */
function reversedPadding(layer: string, spatial: number, kernel: number[], o: T.ConvOptions): number[] {
  const padding = o.padding ?? 0;
  const dilation = expand((o.dilation ?? 1) as Spatial, spatial);
  let perDim: [number, number][];
  if (padding === 'valid') perDim = kernel.map(() => [0, 0]);
  else if (padding === 'same') {
    if (expand((o.stride ?? 1) as Spatial, spatial).some((v) => v !== 1)) throw new RangeError(`${layer}: padding 'same' needs stride 1, received stride ${JSON.stringify(o.stride)}`);
    perDim = kernel.map((k, i) => {
      const total = dilation[i] * (k - 1);
      return [Math.floor(total / 2), total - Math.floor(total / 2)];
    });
  } else {
    const p = expand(padding as Spatial, spatial);
    if (p.length !== spatial || !p.every((v) => Number.isInteger(v) && v >= 0)) {
      throw new RangeError(`${layer}: padding must be a non-negative integer or ${spatial} of them, 'valid' or 'same', received ${JSON.stringify(padding)}`);
    }
    perDim = p.map((v) => [v, v]);
  }
  return perDim.reverse().flat();
}

/** 1-D convolution: x [N, inChannels, L] or [inChannels, L]. */
export class Conv1d extends ConvNd {
  constructor(inChannels: number, outChannels: number, kernelSize: Spatial, options: ConvLayerOptions = {}) {
    super('Conv1d', 1, inChannels, outChannels, kernelSize, options);
  }

  forward(x: T.Tensor): T.Tensor {
    checkInput(this, x, [2, 3], (r) => r - 2, this.inChannels, `[N, ${this.inChannels}, L] or [${this.inChannels}, L]`);
    return this.convolve(x, T.conv1d);
  }
}

/** 2-D convolution: x [N, inChannels, H, W] or [inChannels, H, W]. */
export class Conv2d extends ConvNd {
  constructor(inChannels: number, outChannels: number, kernelSize: Spatial, options: ConvLayerOptions = {}) {
    super('Conv2d', 2, inChannels, outChannels, kernelSize, options);
  }

  forward(x: T.Tensor): T.Tensor {
    checkInput(this, x, [3, 4], (r) => r - 3, this.inChannels, `[N, ${this.inChannels}, H, W] or [${this.inChannels}, H, W]`);
    return this.convolve(x, T.conv2d);
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
  protected readonly transposeOptions: T.ConvTransposeOptions;

  constructor(readonly inChannels: number, readonly outChannels: number, kernelSize: Spatial, options: ConvTransposeLayerOptions = {}) {
    super();
    this.groups = options.groups ?? 1;
    checkChannels('ConvTranspose2d', inChannels, outChannels, this.groups);
    this.kernelSize = expand(kernelSize, 2);
    if (this.kernelSize.length !== 2) throw new RangeError(`ConvTranspose2d: kernelSize must be a number or 2 numbers, received ${JSON.stringify(kernelSize)}`);
    this.kernelSize.forEach((k) => checkPositiveInt('ConvTranspose2d', 'kernelSize', k));
    this.transposeOptions = {
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
    return T.convTranspose2d(x, this.weight, this.bias, this.transposeOptions);
  }

  protected override extraRepr(): string {
    return `${this.inChannels}, ${this.outChannels}, kernelSize=${shapeStr(this.kernelSize)}, stride=${JSON.stringify(this.transposeOptions.stride)}`;
  }
}
