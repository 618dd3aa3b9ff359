/**
 * Parameter averaging: an exponential moving average (EMA) of parameters, and the equal average of
 * SWA (torch.optim.swa_utils.AveragedModel's default). Both keep their own copies (the "shadow"),
 * updated in place without recording; `dispose()` frees them. SWA's batch-norm statistics update
 * (swa_utils.update_bn) needs nn modules and is not part of this package.
 */
import * as T from '@tessera/tensor';
import type { Tensor } from '@tessera/tensor';

function checkParams(name: string, params: unknown, like?: Tensor[]): Tensor[] {
  if (!Array.isArray(params) || params.length === 0) throw new TypeError(`${name}: expected a non-empty array of tensors, received ${String(params)}`);
  params.forEach((p, i) => {
    if (!(p instanceof T.Tensor)) throw new TypeError(`${name}: element ${i} is not a Tensor`);
    if (!(p.dtype === 'float32' || p.dtype === 'float64')) throw new TypeError(`${name}: element ${i} has dtype ${p.dtype}; expected float32 or float64`);
  });
  const list = params as Tensor[];
  if (like) {
    if (list.length !== like.length) throw new RangeError(`${name}: expected ${like.length} tensors (as at construction), received ${list.length}`);
    list.forEach((p, i) => {
      const want = like[i];
      if (p.shape.join(',') !== want.shape.join(',') || p.device !== want.device) {
        throw new RangeError(`${name}: tensor ${i} has shape [${p.shape.join(', ')}] on ${p.device}; expected [${want.shape.join(', ')}] on ${want.device}`);
      }
    });
  }
  return list;
}

/** Copies of the tensors that do not require gradients. */
function snapshot(params: Tensor[]): Tensor[] {
  return T.withoutRecording(() => params.map((p) => T.clone(p)));
}

function copyAll(dst: Tensor[], src: Tensor[]): void {
  T.withoutRecording(() => dst.forEach((d, i) => d.copy_(src[i])));
}

export interface EMAOptions {
  /** The decay d in shadow <- d shadow + (1 - d) param (e.g. 0.999). */
  decay: number;
  /**
   * Warm-up as tf.train.ExponentialMovingAverage(num_updates=...): the decay used at the n-th
   * update (n = 0, 1, ...) is min(decay, (1 + n) / (10 + n)), so early averages follow the
   * parameters closely instead of staying near their initial values. Default false.
   */
  warmup?: boolean;
}

/**
 * An exponential moving average of parameters: `update()` after each optimizer step, `copyTo`
 * to evaluate with the averages, `store` + `copyTo` + `restore` to evaluate and then resume training.
 */
export class ExponentialMovingAverage {
  readonly decay: number;
  readonly warmup: boolean;
  /** How many times update() ran. */
  numUpdates = 0;
  private readonly params: Tensor[];
  private readonly shadow: Tensor[];
  private stored: Tensor[] | null = null;

  constructor(params: Tensor[], options: EMAOptions) {
    this.params = checkParams('ExponentialMovingAverage', params);
    const decay = options?.decay;
    if (typeof decay !== 'number' || !(decay >= 0 && decay <= 1)) throw new RangeError(`ExponentialMovingAverage: decay must be in [0, 1], received ${String(decay)}`);
    this.decay = decay;
    this.warmup = options.warmup ?? false;
    this.shadow = snapshot(this.params);
  }

  /** The decay that the next update() will use. */
  currentDecay(): number {
    const n = this.numUpdates;
    return this.warmup ? Math.min(this.decay, (1 + n) / (10 + n)) : this.decay;
  }

  /** shadow <- d shadow + (1 - d) param, with d = currentDecay(); params default to those given at construction. */
  update(params: Tensor[] = this.params): void {
    const list = checkParams('ExponentialMovingAverage.update', params, this.shadow);
    const rate = 1 - this.currentDecay();
    T.withoutRecording(() =>
      T.tidy(() => {
        // shadow - (1 - d)(shadow - param): one fused form that is exact when d = 0 or 1.
        this.shadow.forEach((s, i) => s.copy_(T.sub(s, T.mul(T.sub(s, list[i]), rate))));
      }),
    );
    this.numUpdates++;
  }

  /** Writes the averages into `params` (default: those given at construction). */
  copyTo(params: Tensor[] = this.params): void {
    copyAll(checkParams('ExponentialMovingAverage.copyTo', params, this.shadow), this.shadow);
  }

  /** Saves a copy of `params` so that restore() can put them back after evaluating with the averages. */
  store(params: Tensor[] = this.params): void {
    const list = checkParams('ExponentialMovingAverage.store', params, this.shadow);
    T.dispose(this.stored ?? []);
    this.stored = snapshot(list);
  }

  /** Writes the stored values back into `params` and frees them. */
  restore(params: Tensor[] = this.params): void {
    if (this.stored === null) throw new Error('ExponentialMovingAverage.restore: nothing stored; call store() first');
    copyAll(checkParams('ExponentialMovingAverage.restore', params, this.shadow), this.stored);
    T.dispose(this.stored);
    this.stored = null;
  }

  /** The averages themselves (owned by this object: do not dispose them). */
  get averages(): readonly Tensor[] {
    return this.shadow;
  }

  /** Frees the averages and anything stored. */
  dispose(): void {
    T.dispose(this.shadow);
    T.dispose(this.stored ?? []);
    this.stored = null;
  }
}

/**
 * The running equal average of parameter snapshots (SWA): the first update() copies, the n-th
 * (n = nAveraged + 1) does avg <- avg + (param - avg) / n.
 */
export class AveragedParameters {
  /** How many snapshots are in the average. */
  nAveraged = 0;
  private readonly average: Tensor[];

  constructor(params: Tensor[]) {
    this.average = snapshot(checkParams('AveragedParameters', params));
  }

  update(params: Tensor[]): void {
    const list = checkParams('AveragedParameters.update', params, this.average);
    const n = this.nAveraged + 1;
    T.withoutRecording(() =>
      T.tidy(() => {
        if (n === 1) this.average.forEach((a, i) => a.copy_(list[i]));
        else this.average.forEach((a, i) => a.copy_(T.add(a, T.div(T.sub(list[i], a), n))));
      }),
    );
    this.nAveraged = n;
  }

  /** Writes the average into `params`. */
  copyTo(params: Tensor[]): void {
    if (this.nAveraged === 0) throw new Error('AveragedParameters.copyTo: no snapshot averaged yet; call update() first');
    copyAll(checkParams('AveragedParameters.copyTo', params, this.average), this.average);
  }

  /** The average itself (owned by this object: do not dispose it). */
  get averages(): readonly Tensor[] {
    return this.average;
  }

  dispose(): void {
    T.dispose(this.average);
  }
}
