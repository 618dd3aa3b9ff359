/**
 * Stochastic weight averaging for modules (torch.optim.swa_utils): `AveragedModel` keeps a deep copy
 * of a model whose parameters (and optionally buffers) are a running average of the model's, and
 * `updateBn` recomputes the batch-norm statistics of a model (typically the averaged one) with one
 * pass over data. @tessera/optimize's AveragedParameters / ExponentialMovingAverage average plain
 * tensor lists; these work on modules, which @tessera/optimize cannot see.
 */
import * as T from '@tessera/tensor';
import { noGrad } from '@tessera/autodiff';
import { Module, buffer } from './module.js';
import { BatchNormBase } from './layers/norm.js';
import { DataLoader } from './data/dataloader.js';

/**
 * The averaging rule: the new average from the current average, the model's current value and the
 * number of models averaged so far (a 0-d tensor of the average's float dtype, >= 1 when called:
 * the first update copies instead), as PyTorch's avg_fn.
 */
export type AvgFn = (averaged: T.Tensor, current: T.Tensor, numAveraged: T.Tensor) => T.Tensor;

export interface AveragedModelOptions {
  /** Keep the averaged copy on this device (default: the model's). */
  device?: T.DeviceName;
  /** The averaging rule (default: the equal average avg + (current - avg) / (n + 1)). */
  avgFn?: AvgFn;
  /**
   * Average the buffers too, with the same rule (default false: the copy's buffers are left alone,
   * as PyTorch 1.13 does, and are usually recomputed with updateBn). Integer buffers such as
   * numBatchesTracked are averaged in float and truncated back, as PyTorch's copy_ does.
   */
  useBuffers?: boolean;
}

const equalAverage: AvgFn = (avg, cur, n) => T.add(avg, T.div(T.sub(cur, avg), T.add(n, 1)));

/**
 * A module holding a deep copy (`module`) of a model whose parameters are a running average of the
 * model's (torch.optim.swa_utils.AveragedModel): call `updateParameters(model)` after optimizer
 * steps (the first call copies the model). `forward` runs the averaged copy. State names are
 * PyTorch's: 'module.<name>' and 'n_averaged'.
 */
export class AveragedModel<M extends Module = Module> extends Module {
  module: M;
  /** int32 0-d buffer: how many times updateParameters ran. */
  nAveraged: T.Tensor;
  readonly avgFn: AvgFn;
  readonly useBuffers: boolean;

  /** The copy stays on the model's device; `await AveragedModel.create(model, { device })` puts it elsewhere. */
  constructor(model: M, options: Omit<AveragedModelOptions, 'device'> = {}) {
    super();
    if (!(model instanceof Module)) throw new TypeError(`AveragedModel: expected a Module to average, received ${model === null ? 'null' : typeof model}`);
    if (options.avgFn !== undefined && typeof options.avgFn !== 'function') throw new TypeError('AveragedModel: avgFn must be a function (averaged, current, numAveraged) => Tensor');
    if ((options as AveragedModelOptions).device !== undefined) {
      throw new TypeError('AveragedModel: moving the copy to a device is asynchronous; use await AveragedModel.create(model, { device })');
    }
    this.module = model.deepCopy();
    const device = this.module.parameters()[0]?.device ?? this.module.buffers()[0]?.device;
    this.nAveraged = buffer(T.zeros([], { dtype: 'int32', device }));
    this.avgFn = options.avgFn ?? equalAverage;
    this.useBuffers = options.useBuffers ?? false;
  }

  /** Builds the averaged model with its copy on `options.device` when given (PyTorch's device argument). */
  static async create<M extends Module>(model: M, options: AveragedModelOptions = {}): Promise<AveragedModel<M>> {
    const { device, ...rest } = options;
    const avg = new AveragedModel(model, rest);
    return device === undefined ? avg : avg.to(device);
  }

  forward(...args: Parameters<M['forward']>): ReturnType<M['forward']> {
    return this.module.forward(...args) as ReturnType<M['forward']>;
  }

  /**
   * Folds `model`'s current parameters (and buffers with useBuffers) into the average: the first
   * call copies them, later ones apply avgFn (chosen on the device with `where`, so nothing is read
   * back). `model` must have the structure of the averaged copy. Values on another device than the
   * copy's are moved when they are on the cpu; otherwise move the model first.
   */
  updateParameters(model: M): void {
    if (!(model instanceof Module)) throw new TypeError(`AveragedModel.updateParameters: expected a Module, received ${model === null ? 'null' : typeof model}`);
    const mine = this.useBuffers ? [...this.module.namedParameters(), ...this.module.namedBuffers()] : this.module.namedParameters();
    const theirs = this.useBuffers ? [...model.namedParameters(), ...model.namedBuffers()] : model.namedParameters();
    if (mine.length !== theirs.length) {
      throw new RangeError(`AveragedModel.updateParameters: the model has ${theirs.length} ${this.useBuffers ? 'parameters and buffers' : 'parameters'}, the averaged copy ${mine.length}`);
    }
    mine.forEach(([name, a], i) => {
      const [theirName, b] = theirs[i];
      if (a.shape.length !== b.shape.length || a.shape.some((d, j) => d !== b.shape[j])) {
        throw new RangeError(`AveragedModel.updateParameters: ${theirName} has shape [${b.shape.join(', ')}] but the averaged ${name} has [${a.shape.join(', ')}]`);
      }
      if (b.device !== a.device && b.device !== 'cpu') {
        throw new Error(`AveragedModel.updateParameters: ${theirName} is on ${b.device} but the averaged copy is on ${a.device}; move the model first`);
      }
    });
    const n = this.nAveraged;
    noGrad(() => T.tidy(() => {
      const first = T.eq(n, 0);
      mine.forEach(([, avg], i) => {
        let cur = theirs[i][1];
        if (cur.device !== avg.device) cur = T.tensor(cur.dataSync(), { dtype: cur.dtype, shape: cur.shape, device: avg.device });
        const float = avg.dtype === 'float32' || avg.dtype === 'float64';
        const ftype = float ? avg.dtype : avg.device === 'cpu' ? 'float64' : 'float32';
        const [a, c] = float ? [avg, cur] : [T.cast(avg, ftype), T.cast(cur, ftype)];
        const next = this.avgFn(a, c, T.cast(n, ftype));
        if (!(next instanceof T.Tensor)) throw new TypeError(`AveragedModel.updateParameters: avgFn must return a Tensor, received ${typeof next}`);
        const chosen = T.where(first, c, next);
        T.copy_(avg, float ? chosen : T.trunc(chosen));
      });
      T.copy_(n, T.add(n, 1));
    }));
  }

  protected override extraRepr(): string {
    return `useBuffers=${this.useBuffers}`;
  }
}

/** What updateBn accepts: an (async) iterable of input tensors, or of arrays whose first element is the input. */
export type BnLoader = AsyncIterable<unknown> | Iterable<unknown>;

export interface UpdateBnOptions {
  /** Move each input to this device before the forward pass. */
  device?: T.DeviceName;
  /**
   * Dispose each batch after its forward pass (default: true for a DataLoader, whose batches belong
   * to the consumer; false for other iterables, whose tensors the caller owns).
   */
  disposeBatches?: boolean;
}

/**
 * Recomputes the running statistics of every batch norm in `model` with one pass over `loader`
 * (torch.optim.swa_utils.update_bn): resets them, runs the model in training mode without
 * recording gradients, with momentum null (the cumulative average over the batches), then restores
 * each momentum and sets the whole model back to the training mode it had. Other layers run in
 * training mode during the pass too (dropout drops), as in PyTorch. Does nothing without batch norms.
 */
export async function updateBn(loader: BnLoader, model: Module, options: UpdateBnOptions = {}): Promise<void> {
  if (!(model instanceof Module)) throw new TypeError(`updateBn: expected a Module, received ${model === null ? 'null' : typeof model}`);
  const iterable = loader !== null && typeof loader === 'object' && (Symbol.asyncIterator in loader || Symbol.iterator in loader);
  if (!iterable) throw new TypeError(`updateBn: expected an iterable or async iterable of batches (e.g. a DataLoader), received ${loader === null ? 'null' : typeof loader}`);
  const norms = model.modules().filter((m): m is BatchNormBase => m instanceof BatchNormBase && m.runningMean !== null);
  if (!norms.length) return;
  const momenta = norms.map((m) => m.momentum);
  const wasTraining = model.training;
  const disposeBatches = options.disposeBatches ?? loader instanceof DataLoader;
  for (const m of norms) m.resetRunningStats();
  model.train();
  for (const m of norms) m.momentum = null;
  try {
    let i = 0;
    for await (const batch of loader as AsyncIterable<unknown>) {
      try {
        const input = Array.isArray(batch) ? (batch[0] as unknown) : batch;
        if (!(input instanceof T.Tensor)) throw new TypeError(`updateBn: batch ${i} is not a tensor or an array whose first element is a tensor`);
        const x = options.device !== undefined && input.device !== options.device ? await T.to(input, options.device) : input;
        try {
          noGrad(() => T.tidy(() => void model.forward(x)));
        } finally {
          if (x !== input) x.dispose();
        }
      } finally {
        if (disposeBatches) T.dispose(batch as T.Tensor[]);
      }
      i++;
    }
  } finally {
    norms.forEach((m, k) => (m.momentum = momenta[k]));
    model.train(wasTraining);
  }
}
