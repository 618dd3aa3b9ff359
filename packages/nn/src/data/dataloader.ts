import * as T from '@tessera/tensor';
import { defaultCollate } from './collate.js';
import { TensorDataset, datasetLength, type Dataset } from './dataset.js';

export interface DataLoaderOptions<S, B> {
  batchSize?: number;
  /** Draw a new random order each epoch (T.randperm with `generator`). */
  shuffle?: boolean;
  /** Drop the last batch when it is smaller than batchSize. */
  dropLast?: boolean;
  /** Seeds the shuffling: the same seed gives the same sequence of epochs. */
  generator?: T.Generator;
  /** Merges a list of samples into a batch; defaults to defaultCollate. */
  collate?: (samples: S[]) => B;
  /** How many batches are prepared ahead while the consumer works (0: on demand). */
  prefetch?: number;
}

/**
 * Iterates a dataset in batches: `for await (const batch of loader)`.
 *
 * Ownership: each batch holds new tensors that belong to the consumer, who must dispose them
 * (`T.dispose(batch)`) when done; batches left in the prefetch queue when the loop is left early
 * are disposed by the loader. Tensors returned by `dataset.get` are disposed by the loader once
 * collated (unless the collate function returns them as part of the batch).
 *
 * A TensorDataset with the default collate takes a fast path: one `indexSelect` per tensor and
 * batch instead of one view per sample and a stack; its batches are arrays `[x, y, ...]`.
 */
export class DataLoader<S = unknown, B = unknown> implements AsyncIterable<B> {
  readonly dataset: Dataset<S>;
  readonly batchSize: number;
  readonly shuffle: boolean;
  readonly dropLast: boolean;
  readonly prefetch: number;
  private readonly generator: T.Generator | undefined;
  private readonly collate: ((samples: S[]) => B) | undefined;

  constructor(dataset: Dataset<S>, options: DataLoaderOptions<S, B> = {}) {
    datasetLength('DataLoader', dataset);
    const { batchSize = 1, shuffle = false, dropLast = false, generator, collate, prefetch = 2 } = options;
    if (!Number.isInteger(batchSize) || batchSize < 1) throw new RangeError(`DataLoader: batchSize must be a positive integer, received ${batchSize}`);
    if (!Number.isInteger(prefetch) || prefetch < 0) throw new RangeError(`DataLoader: prefetch must be a non-negative integer, received ${prefetch}`);
    if (collate !== undefined && typeof collate !== 'function') throw new TypeError('DataLoader: collate must be a function');
    if (generator !== undefined && !(generator instanceof T.Generator)) throw new TypeError('DataLoader: generator must be a T.Generator');
    this.dataset = dataset;
    this.batchSize = batchSize;
    this.shuffle = Boolean(shuffle);
    this.dropLast = Boolean(dropLast);
    this.prefetch = prefetch;
    this.generator = generator;
    this.collate = collate;
  }

  /** Number of batches per epoch. */
  get length(): number {
    const n = datasetLength('DataLoader', this.dataset);
    return this.dropLast ? Math.floor(n / this.batchSize) : Math.ceil(n / this.batchSize);
  }

  /** The sample indices of each batch of one epoch (draws from the generator when shuffling). */
  batchIndices(): number[][] {
    const n = datasetLength('DataLoader', this.dataset);
    let order: ArrayLike<number>;
    if (this.shuffle) {
      const perm = T.randperm(n, { generator: this.generator, device: 'cpu' });
      order = perm.dataSync();
      perm.dispose();
    } else {
      order = Array.from({ length: n }, (_, i) => i);
    }
    const all = Array.from(order);
    const out: number[][] = [];
    for (let b = 0; b < this.length; b++) out.push(all.slice(b * this.batchSize, (b + 1) * this.batchSize));
    return out;
  }

  async *[Symbol.asyncIterator](): AsyncIterator<B> {
    const batches = this.batchIndices();
    // Bounded queue of batches in preparation, in order; awaiting them in order keeps the
    // sequence deterministic whatever order they finish in.
    const queue: Promise<B>[] = [];
    let next = 0;
    const fill = (limit: number) => {
      while (queue.length < limit && next < batches.length) {
        const p = this.makeBatch(batches[next++]);
        p.catch(() => {}); // surfaced when awaited below; avoids an unhandled rejection meanwhile
        queue.push(p);
      }
    };
    try {
      fill(Math.max(1, this.prefetch));
      while (queue.length > 0) {
        const batch = await queue.shift()!;
        fill(this.prefetch); // start the next batches before handing this one over
        yield batch;
        fill(1);
      }
    } finally {
      for (const p of queue.splice(0)) p.then((b) => T.dispose(b), () => {});
    }
  }

  private async makeBatch(indices: number[]): Promise<B> {
    const ds = this.dataset;
    if (ds instanceof TensorDataset && this.collate === undefined) {
      return ds.tensors.map((t) => {
        const idx = T.tensor(Int32Array.from(indices), { dtype: 'int32', device: t.device });
        try {
          return T.indexSelect(t, 0, idx);
        } finally {
          idx.dispose();
        }
      }) as B;
    }
    const samples = await Promise.all(indices.map((i) => ds.get(i)));
    try {
      const batch = (this.collate ?? (defaultCollate as (s: S[]) => B))(samples);
      const kept = new Set<T.Tensor>();
      collectTensors(batch, kept);
      const owned = new Set<T.Tensor>();
      collectTensors(samples, owned);
      for (const t of owned) if (!kept.has(t)) t.dispose();
      return batch;
    } catch (e) {
      T.dispose(samples);
      throw e;
    }
  }
}

function collectTensors(x: unknown, into: Set<T.Tensor>): void {
  if (T.isTensor(x)) into.add(x);
  else if (Array.isArray(x)) for (const v of x) collectTensors(v, into);
  else if (x !== null && typeof x === 'object' && Object.getPrototypeOf(x) === Object.prototype) for (const v of Object.values(x)) collectTensors(v, into);
}
