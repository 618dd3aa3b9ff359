import * as T from '@tessera/tensor';
import type { Dataset } from '@tessera/nn';
import { Graph } from './graph.js';

/** Anything that maps a Graph to a new Graph (the transforms in `transforms/`, or a function). */
export type GraphTransformLike = { forward(graph: Graph): Graph | Promise<Graph> } | ((graph: Graph) => Graph | Promise<Graph>);

/** Applies a transform; the input graph is left as it is. */
export async function applyTransform(transform: GraphTransformLike, graph: Graph): Promise<Graph> {
  const out = await (typeof transform === 'function' ? transform(graph) : transform.forward(graph));
  if (!(out instanceof Graph)) throw new TypeError(`transform ${String(transform)} returned ${out === null ? 'null' : typeof out}, expected a Graph`);
  return out;
}

/** A dataset of graphs, usable with @tessera/nn's Dataset-based tools and GraphDataLoader. */
export type GraphDataset = Dataset<Graph>;

export interface InMemoryDatasetOptions {
  /** Applied to each graph on access (`get`), as PyG's `transform`. */
  transform?: GraphTransformLike;
  /** Number of target classes; default computed from the graphs' `y` when they are on cpu. */
  numClasses?: number;
}

/**
 * Graphs held in memory (PyG's `InMemoryDataset`). `get(i)` returns a new Graph that the caller
 * owns and disposes (views of the stored tensors, then `transform` if any); the stored graphs
 * belong to the dataset and are freed by `dispose()`.
 */
export class InMemoryDataset implements GraphDataset {
  readonly #graphs: Graph[];
  readonly transform: GraphTransformLike | undefined;
  #numClasses: number | undefined;

  /** Takes ownership of `graphs`. */
  constructor(graphs: readonly Graph[], options: InMemoryDatasetOptions = {}) {
    const op = 'InMemoryDataset';
    if (!Array.isArray(graphs)) throw new TypeError(`${op}: expected an array of Graphs`);
    graphs.forEach((g, i) => {
      if (!(g instanceof Graph)) throw new TypeError(`${op}: graphs[${i}] is not a Graph`);
    });
    const { transform, numClasses } = options;
    if (transform !== undefined && typeof transform !== 'function' && typeof (transform as { forward?: unknown })?.forward !== 'function') {
      throw new TypeError(`${op}: transform must be a function or have a forward(graph) method`);
    }
    if (numClasses !== undefined && (!Number.isInteger(numClasses) || numClasses < 0)) throw new RangeError(`${op}: numClasses must be a non-negative integer, received ${numClasses}`);
    this.#graphs = graphs.slice();
    this.transform = transform;
    this.#numClasses = numClasses;
  }

  get length(): number {
    return this.#graphs.length;
  }

  #check(op: string, index: number): Graph {
    if (!Number.isInteger(index) || index < 0 || index >= this.#graphs.length) {
      throw new RangeError(`${op}: index must be an integer in [0, ${this.#graphs.length}), received ${index}`);
    }
    const g = this.#graphs[index];
    if (g.isDisposed) throw new Error(`${op}: the dataset has been disposed`);
    return g;
  }

  /** Graph `index` (a new Graph, owned by the caller), transformed when a transform is set. */
  async get(index: number): Promise<Graph> {
    const stored = this.#check(`${this.constructor.name}.get`, index);
    const view = stored.with({});
    if (!this.transform) return view;
    let out: Graph | undefined;
    try {
      out = await applyTransform(this.transform, view);
      return out;
    } finally {
      if (out !== view) view.dispose();
    }
  }

  /** The stored graph itself, untransformed (owned by the dataset: do not dispose it). */
  at(index: number): Graph {
    return this.#check(`${this.constructor.name}.at`, index);
  }

  /** A dataset of the graphs at `indices` (views; independent of this one's lifetime), same transform. */
  index(indices: readonly number[] | T.Tensor): InMemoryDataset {
    const op = `${this.constructor.name}.index`;
    let ids: number[];
    if (T.isTensor(indices)) {
      if (indices.device !== 'cpu' || indices.rank !== 1 || (indices.dtype !== 'int32' && indices.dtype !== 'bool')) {
        throw new TypeError(`${op}: expected a cpu int32 vector of indices or a cpu bool mask, received ${indices.dtype} [${indices.shape.join(', ')}] on ${indices.device}`);
      }
      const data = indices.dataSync();
      if (indices.dtype === 'bool') {
        if (data.length !== this.length) throw new RangeError(`${op}: expected a bool mask of shape [${this.length}], received [${data.length}]`);
        ids = [];
        data.forEach((v, i) => v && ids.push(i));
      } else {
        ids = Array.from(data);
      }
    } else {
      ids = Array.from(indices);
    }
    const graphs = ids.map((i) => this.#check(op, i));
    return new InMemoryDataset(graphs.map((g) => g.with({})), { transform: this.transform, numClasses: this.#numClasses });
  }

  /** A dataset of the graphs in `start .. end-1` (as Array.prototype.slice). */
  slice(start = 0, end = this.length): InMemoryDataset {
    const ids = Array.from({ length: this.length }, (_, i) => i).slice(start, end);
    return this.index(ids);
  }

  /** The graphs in a random order (T.randperm with `generator`). */
  shuffle(options: { generator?: T.Generator } = {}): InMemoryDataset {
    const perm = T.randperm(this.length, { generator: options.generator, device: 'cpu' });
    try {
      return this.index(Array.from(perm.dataSync()));
    } finally {
      perm.dispose();
    }
  }

  /** Node features per node of the (stored) graphs. */
  get numNodeFeatures(): number {
    return this.#graphs[0]?.numNodeFeatures ?? 0;
  }

  get numFeatures(): number {
    return this.numNodeFeatures;
  }

  get numEdgeFeatures(): number {
    return this.#graphs[0]?.numEdgeFeatures ?? 0;
  }

  /**
   * Number of classes: as given, else (for graphs on cpu) the last dim of a float 2-D `y`, or the
   * largest integer label + 1.
   */
  get numClasses(): number {
    if (this.#numClasses !== undefined) return this.#numClasses;
    let classes = 0;
    for (const g of this.#graphs) {
      const y = g.y;
      if (!y) continue;
      if (y.device !== 'cpu') throw new Error(`${this.constructor.name}.numClasses: labels on '${y.device}' cannot be read synchronously; pass numClasses to the constructor`);
      if ((y.dtype === 'float32' || y.dtype === 'float64') && y.rank === 2) classes = Math.max(classes, y.shape[1]);
      else for (const v of y.dataSync()) if (v + 1 > classes) classes = v + 1;
    }
    this.#numClasses = classes;
    return classes;
  }

  dispose(): void {
    for (const g of this.#graphs) g.dispose();
  }

  [Symbol.dispose](): void {
    this.dispose();
  }

  toString(): string {
    return `${this.constructor.name}(${this.length})`;
  }
}
