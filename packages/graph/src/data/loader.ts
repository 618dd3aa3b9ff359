import * as T from '@tessera/tensor';
import { DataLoader, type Dataset } from '@tessera/nn';
import { Batch } from './batch.js';
import type { Graph } from './graph.js';

export interface GraphDataLoaderOptions {
  batchSize?: number;
  /** A new random order each epoch (T.randperm with `generator`). */
  shuffle?: boolean;
  /** Drop the last batch when it is smaller than batchSize. */
  dropLast?: boolean;
  /** Seeds the shuffling: the same seed gives the same sequence of epochs. */
  generator?: T.Generator;
}

/**
 * Iterates a dataset of graphs in mini-batches of disjoint graphs (PyG's `DataLoader`):
 * `for await (const batch of loader)` yields one `Batch` per step. The batch order comes from
 * @tessera/nn's DataLoader (same shuffling and dropLast rules).
 *
 * Ownership: each Batch belongs to the consumer, who disposes it (`batch.dispose()`). The graphs
 * returned by `dataset.get` are disposed by the loader once merged. Batches are built on demand,
 * so leaving the loop early leaves nothing behind.
 */
export class GraphDataLoader implements AsyncIterable<Batch> {
  readonly dataset: Dataset<Graph>;
  readonly #order: DataLoader<Graph, unknown>;

  constructor(dataset: Dataset<Graph>, options: GraphDataLoaderOptions = {}) {
    const { batchSize, shuffle, dropLast, generator } = options;
    this.#order = new DataLoader(dataset, { batchSize, shuffle, dropLast, generator, prefetch: 0 });
    this.dataset = dataset;
  }

  get batchSize(): number {
    return this.#order.batchSize;
  }

  /** Number of batches per epoch. */
  get length(): number {
    return this.#order.length;
  }

  async *[Symbol.asyncIterator](): AsyncIterator<Batch> {
    for (const indices of this.#order.batchIndices()) yield await this.#makeBatch(indices);
  }

  async #makeBatch(indices: number[]): Promise<Batch> {
    const graphs: Graph[] = [];
    try {
      for (const i of indices) graphs.push(await this.dataset.get(i));
      return Batch.fromGraphs(graphs);
    } finally {
      for (const g of graphs) g.dispose();
    }
  }
}
