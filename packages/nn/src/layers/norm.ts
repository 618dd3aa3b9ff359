import * as T from '@tessera/tensor';
import { noGrad } from '@tessera/autodiff';
import { Module, buffer, parameter } from '../module.js';
import { checkFloatInput, checkPositiveInt, factory, layerName, shapeStr, type FactoryOptions } from './util.js';

/** (x - mean) / sqrt(var + eps) with the population variance over `dims`. */
function standardize(x: T.Tensor, dims: number[], eps: number): T.Tensor {
  const mean = T.mean(x, { dim: dims, keepdim: true });
  const variance = T.variance(x, { dim: dims, keepdim: true, correction: 0 });
  return T.mul(T.sub(x, mean), T.rsqrt(T.add(variance, eps)));
}

/** [C] -> [1, C, 1, ...] to broadcast over a channel-first tensor of `rank`. */
const perChannel = (t: T.Tensor, rank: number) => T.reshape(t, [1, t.shape[0], ...new Array<number>(rank - 2).fill(1)]);

export interface BatchNormOptions extends FactoryOptions {
  eps?: number;
  /** Weight of the new batch in the running averages (default 0.1); null for a cumulative average. */
  momentum?: number | null;
  /** Learn a per-channel scale and shift (default true). */
  affine?: boolean;
  /** Keep running mean/variance for eval mode (default true). */
  trackRunningStats?: boolean;
}

/**
 * Shared by BatchNorm1d/2d (PyTorch's _BatchNorm): normalises over all dims but the channel dim 1.
 * Exported for `instanceof` checks (updateBn finds batch norms with it).
 */
/** running = running + m (batch - running), in place, for the running mean and variance. */
function blendRunningStats(runningMean: T.Tensor, runningVar: T.Tensor, mean: T.Tensor, variance: T.Tensor, m: number | T.Tensor): void {
  const blend = (old: T.Tensor, cur: T.Tensor) => T.add(old, T.mul(T.sub(cur, old), m));
  T.copy_(runningMean, blend(runningMean, mean));
  T.copy_(runningVar, blend(runningVar, variance));
}

export abstract class BatchNormBase extends Module {
  weight: T.Tensor | null;
  bias: T.Tensor | null;
  runningMean: T.Tensor | null;
  runningVar: T.Tensor | null;
  numBatchesTracked: T.Tensor | null;
  readonly eps: number;
  /** Weight of a new batch in the running averages, or null for the cumulative average; may be changed (updateBn does). */
  momentum: number | null;

  constructor(layer: string, readonly numFeatures: number, options: BatchNormOptions) {
    super();
    checkPositiveInt(layer, 'numFeatures', numFeatures);
    this.eps = options.eps ?? 1e-5;
    this.momentum = options.momentum === undefined ? 0.1 : options.momentum;
    if (!(this.eps > 0)) throw new RangeError(`${layer}: eps must be positive, received ${this.eps}`);
    if (this.momentum !== null && !(this.momentum >= 0 && this.momentum <= 1)) throw new RangeError(`${layer}: momentum must be in [0, 1] or null, received ${this.momentum}`);
    const f = factory(options);
    const affine = options.affine ?? true;
    this.weight = affine ? parameter(T.ones([numFeatures], f)) : null;
    this.bias = affine ? parameter(T.zeros([numFeatures], f)) : null;
    const track = options.trackRunningStats ?? true;
    this.runningMean = track ? buffer(T.zeros([numFeatures], f)) : null;
    this.runningVar = track ? buffer(T.ones([numFeatures], f)) : null;
    this.numBatchesTracked = track ? buffer(T.zeros([], { dtype: 'int32', device: options.device })) : null;
  }

  protected abstract checkShape(x: T.Tensor): void;

  /** Running mean 0, running variance 1, no batches tracked (in place); nothing without running statistics. */
  resetRunningStats(): void {
    if (!this.runningMean) return;
    const [rm, rv, nbt] = [this.runningMean, this.runningVar!, this.numBatchesTracked!];
    noGrad(() => T.tidy(() => {
      for (const [t, v] of [[rm, 0], [rv, 1], [nbt, 0]] as const) T.copy_(t, T.full([], v, { dtype: t.dtype, device: t.device }));
    }));
  }

  forward(x: T.Tensor): T.Tensor {
    checkFloatInput(this, x);
    if (this.momentum !== null && !(this.momentum >= 0 && this.momentum <= 1)) throw new RangeError(`${layerName(this)}: momentum must be in [0, 1] or null, received ${this.momentum}`);
    this.checkShape(x);
    const dims = [...x.shape.keys()].filter((d) => d !== 1);
    const useBatch = this.training || !this.runningMean;
    const count = x.size / this.numFeatures;
    if (useBatch && count <= 1) throw new RangeError(`${layerName(this)}: expected more than 1 value per channel when training, received input of shape ${shapeStr(x.shape)}`);
    if (this.training && this.runningMean) this.updateRunningStats(x, dims, count);
    return T.tidy(() => {
      const y = useBatch
        ? standardize(x, dims, this.eps)
        : T.mul(T.sub(x, perChannel(this.runningMean!, x.rank)), T.rsqrt(T.add(perChannel(this.runningVar!, x.rank), this.eps)));
      if (!this.weight || !this.bias) return y;
      return T.add(T.mul(y, perChannel(this.weight, x.rank)), perChannel(this.bias, x.rank));
    });
  }

  /** running = (1 - m) running + m batch, with the unbiased batch variance (PyTorch). */
  private updateRunningStats(x: T.Tensor, dims: number[], count: number): void {
    const [rm, rv, nbt] = [this.runningMean!, this.runningVar!, this.numBatchesTracked!];
    noGrad(() => T.tidy(() => {
      T.copy_(nbt, T.add(nbt, 1));
      const m = this.momentum ?? T.reciprocal(T.cast(nbt, rm.dtype));
      const mean = T.mean(x, { dim: dims });
      const unbiased = T.mul(T.variance(x, { dim: dims, correction: 0 }), count / (count - 1));
      blendRunningStats(rm, rv, mean, unbiased, m);
    }));
  }

  protected override extraRepr(): string {
    return `${this.numFeatures}, eps=${this.eps}, momentum=${this.momentum}, affine=${this.weight !== null}, trackRunningStats=${this.runningMean !== null}`;
  }
}

/** Batch normalisation of x [N, C] or [N, C, L] over the batch (and length) per channel. */
export class BatchNorm1d extends BatchNormBase {
  constructor(numFeatures: number, options: BatchNormOptions = {}) {
    super('BatchNorm1d', numFeatures, options);
  }

  protected checkShape(x: T.Tensor): void {
    if ((x.rank !== 2 && x.rank !== 3) || x.shape[1] !== this.numFeatures) {
      throw new RangeError(`${layerName(this)}: expected input of shape [N, ${this.numFeatures}] or [N, ${this.numFeatures}, L], received ${shapeStr(x.shape)}`);
    }
  }
}

/** Batch normalisation of x [N, C, H, W] over the batch and space per channel. */
export class BatchNorm2d extends BatchNormBase {
  constructor(numFeatures: number, options: BatchNormOptions = {}) {
    super('BatchNorm2d', numFeatures, options);
  }

  protected checkShape(x: T.Tensor): void {
    if (x.rank !== 4 || x.shape[1] !== this.numFeatures) {
      throw new RangeError(`${layerName(this)}: expected input of shape [N, ${this.numFeatures}, H, W], received ${shapeStr(x.shape)}`);
    }
  }
}

export interface LayerNormOptions extends FactoryOptions {
  eps?: number;
  /** Learn an elementwise scale and shift of normalizedShape (default true). */
  elementwiseAffine?: boolean;
}

/** Normalises over the trailing dims given by normalizedShape, per sample. */
export class LayerNorm extends Module {
  weight: T.Tensor | null;
  bias: T.Tensor | null;
  readonly normalizedShape: number[];
  readonly eps: number;

  constructor(normalizedShape: number | readonly number[], options: LayerNormOptions = {}) {
    super();
    this.normalizedShape = typeof normalizedShape === 'number' ? [normalizedShape] : [...normalizedShape];
    if (!this.normalizedShape.length) throw new RangeError('LayerNorm: normalizedShape must not be empty');
    this.normalizedShape.forEach((d) => checkPositiveInt('LayerNorm', 'normalizedShape', d));
    this.eps = options.eps ?? 1e-5;
    const affine = options.elementwiseAffine ?? true;
    this.weight = affine ? parameter(T.ones(this.normalizedShape, factory(options))) : null;
    this.bias = affine ? parameter(T.zeros(this.normalizedShape, factory(options))) : null;
  }

  forward(x: T.Tensor): T.Tensor {
    checkFloatInput(this, x);
    const k = this.normalizedShape.length;
    if (x.rank < k || x.shape.slice(-k).some((d, i) => d !== this.normalizedShape[i])) {
      throw new RangeError(`${layerName(this)}: expected input of shape [..., ${this.normalizedShape.join(', ')}], received ${shapeStr(x.shape)}`);
    }
    return T.tidy(() => {
      const y = standardize(x, Array.from({ length: k }, (_, i) => x.rank - k + i), this.eps);
      return this.weight && this.bias ? T.add(T.mul(y, this.weight), this.bias) : y;
    });
  }

  protected override extraRepr(): string {
    return `${shapeStr(this.normalizedShape)}, eps=${this.eps}, elementwiseAffine=${this.weight !== null}`;
  }
}

export interface GroupNormOptions extends FactoryOptions {
  eps?: number;
  /** Learn a per-channel scale and shift (default true). */
  affine?: boolean;
}

/** Normalises x [N, C, *] over groups of C / numGroups channels (and all spatial dims) per sample. */
export class GroupNorm extends Module {
  weight: T.Tensor | null;
  bias: T.Tensor | null;
  readonly eps: number;

  constructor(readonly numGroups: number, readonly numChannels: number, options: GroupNormOptions = {}) {
    super();
    checkPositiveInt('GroupNorm', 'numGroups', numGroups);
    checkPositiveInt('GroupNorm', 'numChannels', numChannels);
    if (numChannels % numGroups) throw new RangeError(`GroupNorm: numChannels (${numChannels}) must be divisible by numGroups (${numGroups})`);
    this.eps = options.eps ?? 1e-5;
    const affine = options.affine ?? true;
    this.weight = affine ? parameter(T.ones([numChannels], factory(options))) : null;
    this.bias = affine ? parameter(T.zeros([numChannels], factory(options))) : null;
  }

  forward(x: T.Tensor): T.Tensor {
    checkFloatInput(this, x);
    if (x.rank < 2 || x.shape[1] !== this.numChannels) {
      throw new RangeError(`${layerName(this)}: expected input of shape [N, ${this.numChannels}, *], received ${shapeStr(x.shape)}`);
    }
    return T.tidy(() => {
      const grouped = T.reshape(x, [x.shape[0], this.numGroups, -1]);
      const y = T.reshape(standardize(grouped, [2], this.eps), x.shape);
      return this.weight && this.bias ? T.add(T.mul(y, perChannel(this.weight, x.rank)), perChannel(this.bias, x.rank)) : y;
    });
  }

  protected override extraRepr(): string {
    return `${this.numGroups}, ${this.numChannels}, eps=${this.eps}, affine=${this.weight !== null}`;
  }
}

export interface InstanceNormOptions extends FactoryOptions {
  eps?: number;
  /** Weight of a new batch in the running averages (default 0.1). PyTorch's instance norm has no cumulative (null) form. */
  momentum?: number;
  /** Learn a per-channel scale and shift (default false, as PyTorch). */
  affine?: boolean;
  /**
   * Keep running mean/variance (default false): training updates them with the per-channel
   * statistics averaged over the batch (unbiased variance), and eval mode normalises with them.
   */
  trackRunningStats?: boolean;
}

/**
 * Shared by InstanceNorm1d/2d: normalises each channel of each sample over its `spatial` trailing
 * dims; x is [N, C, ...spatial] or unbatched [C, ...spatial].
 */
abstract class InstanceNorm extends Module {
  weight: T.Tensor | null;
  bias: T.Tensor | null;
  runningMean: T.Tensor | null;
  runningVar: T.Tensor | null;
  /** Kept for PyTorch's state dict layout; PyTorch's instance norm never increments it. */
  numBatchesTracked: T.Tensor | null;
  readonly eps: number;
  momentum: number;

  constructor(layer: string, readonly numFeatures: number, protected readonly spatial: number, options: InstanceNormOptions) {
    super();
    checkPositiveInt(layer, 'numFeatures', numFeatures);
    this.eps = options.eps ?? 1e-5;
    if (!(this.eps > 0)) throw new RangeError(`${layer}: eps must be positive, received ${this.eps}`);
    if (options.momentum === null) throw new TypeError(`${layer}: momentum must be a number in [0, 1]; the cumulative average (null) exists for batch norm only, as in PyTorch`);
    this.momentum = options.momentum ?? 0.1;
    if (!(this.momentum >= 0 && this.momentum <= 1)) throw new RangeError(`${layer}: momentum must be in [0, 1], received ${this.momentum}`);
    const f = factory(options);
    const affine = options.affine ?? false;
    this.weight = affine ? parameter(T.ones([numFeatures], f)) : null;
    this.bias = affine ? parameter(T.zeros([numFeatures], f)) : null;
    const track = options.trackRunningStats ?? false;
    this.runningMean = track ? buffer(T.zeros([numFeatures], f)) : null;
    this.runningVar = track ? buffer(T.ones([numFeatures], f)) : null;
    this.numBatchesTracked = track ? buffer(T.zeros([], { dtype: 'int32', device: options.device })) : null;
  }

  forward(x: T.Tensor): T.Tensor {
    checkFloatInput(this, x);
    const k = this.spatial;
    if ((x.rank !== k + 1 && x.rank !== k + 2) || x.shape[x.rank - k - 1] !== this.numFeatures) {
      const dims = k === 1 ? ['L'] : ['H', 'W'];
      throw new RangeError(`${layerName(this)}: expected input of shape [N, ${this.numFeatures}, ${dims.join(', ')}] or [${this.numFeatures}, ${dims.join(', ')}], received ${shapeStr(x.shape)}`);
    }
    const useInput = this.training || !this.runningMean;
    const count = x.shape.slice(-k).reduce((a, b) => a * b, 1);
    if (useInput && count <= 1) throw new RangeError(`${layerName(this)}: expected more than 1 spatial element when training, received input of shape ${shapeStr(x.shape)}`);
    const dims = Array.from({ length: k }, (_, i) => 2 + i);
    const unbatched = x.rank === k + 1;
    return T.tidy(() => {
      const xb = unbatched ? T.unsqueeze(x, 0) : x;
      if (this.training && this.runningMean) this.updateRunningStats(xb, dims, count);
      let out = useInput
        ? standardize(xb, dims, this.eps)
        : T.mul(T.sub(xb, perChannel(this.runningMean!, k + 2)), T.rsqrt(T.add(perChannel(this.runningVar!, k + 2), this.eps)));
      if (this.weight && this.bias) out = T.add(T.mul(out, perChannel(this.weight, k + 2)), perChannel(this.bias, k + 2));
      return unbatched ? T.squeeze(out, 0) : out;
    });
  }

  /** running = (1 - m) running + m s, where s is the per-instance statistic averaged over the batch (unbiased variance). */
  private updateRunningStats(x: T.Tensor, dims: number[], count: number): void {
    const [rm, rv, m] = [this.runningMean!, this.runningVar!, this.momentum];
    noGrad(() => T.tidy(() => {
      const mean = T.mean(T.mean(x, { dim: dims }), { dim: 0 });
      const unbiased = T.mean(T.mul(T.variance(x, { dim: dims, correction: 0 }), count / (count - 1)), { dim: 0 });
      blendRunningStats(rm, rv, mean, unbiased, m);
    }));
  }

  protected override extraRepr(): string {
    return `${this.numFeatures}, eps=${this.eps}, momentum=${this.momentum}, affine=${this.weight !== null}, trackRunningStats=${this.runningMean !== null}`;
  }
}

/** Instance normalisation of x [N, C, L] or [C, L]: each channel of each sample over its length. */
export class InstanceNorm1d extends InstanceNorm {
  constructor(numFeatures: number, options: InstanceNormOptions = {}) {
    super('InstanceNorm1d', numFeatures, 1, options);
  }
}

/** Instance normalisation of x [N, C, H, W] or [C, H, W]: each channel of each sample over its spatial dims. */
export class InstanceNorm2d extends InstanceNorm {
  constructor(numFeatures: number, options: InstanceNormOptions = {}) {
    super('InstanceNorm2d', numFeatures, 2, options);
  }
}
