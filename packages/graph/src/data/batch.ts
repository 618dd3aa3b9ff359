import * as T from '@tessera/tensor';
import { GRAPH_KEYS, Graph, type GraphInit } from './graph.js';

/** How one attribute was concatenated, to split it again. */
interface Layout {
  /** Concatenation dim: 0, or the last dim for index-like attributes. */
  catDim: number;
  /** Index-like (name contains "index" or is "face"): offset by the node counts before it. */
  increment: boolean;
  /** 0-d in the graphs (stored as [1] each). */
  scalar: boolean;
  /** Start of each graph's part along catDim, and the total (length numGraphs + 1). */
  starts: number[];
}

/** PyG's rule: edge_index-like attributes hold node ids, so they are shifted when graphs are merged. */
export function isIndexKey(key: string): boolean {
  return key.toLowerCase().includes('index') || key === 'face';
}

const shapeStr = (s: readonly number[]) => `[${s.join(', ')}]`;

/**
 * Many graphs merged into one disjoint graph (PyG's `Batch`): node-level and edge-level
 * attributes are concatenated along dim 0 (graph-level ones too: `y` [1] per graph becomes [B]),
 * index-like ones (`edgeIndex`, `edgeLabelIndex`, any name containing "index") along their last
 * dim with each graph's ids shifted by the nodes before it. `batch` (int32 [N]) gives each node's
 * graph and `ptr` (int32 [B + 1]) where each graph's nodes start. `toGraphs()` splits it back.
 *
 * A Batch owns its tensors, `batch` and `ptr` included; `dispose()` frees them all. `to()` and
 * `clone()` give Batches; `with()` and the transforms give plain Graphs (without `batch`).
 */
export class Batch extends Graph {
  /** int32 [N]: the graph each node belongs to. */
  readonly batch: T.Tensor;
  /** int32 [numGraphs + 1]: graph g holds nodes ptr[g] .. ptr[g+1]-1. */
  readonly ptr: T.Tensor;
  readonly numGraphs: number;
  readonly #layout: Map<string, Layout>;
  readonly #nodeStarts: number[];

  private constructor(init: GraphInit, layout: Map<string, Layout>, nodeStarts: number[], device: T.DeviceName) {
    super(init);
    this.#layout = layout;
    this.#nodeStarts = nodeStarts;
    this.numGraphs = nodeStarts.length - 1;
    const batch = new Int32Array(this.numNodes);
    for (let g = 0; g < this.numGraphs; g++) batch.fill(g, nodeStarts[g], nodeStarts[g + 1]);
    this.batch = T.keep(T.tensor(batch, { dtype: 'int32', device }));
    this.ptr = T.keep(T.tensor(Int32Array.from(nodeStarts), { dtype: 'int32', device }));
  }

  /** Merges `graphs` (same attributes, dtypes, device and trailing shapes) into one Batch. */
  static fromGraphs(graphs: readonly Graph[]): Batch {
    const op = 'Batch.fromGraphs';
    if (!Array.isArray(graphs) || graphs.length === 0) throw new TypeError(`${op}: expected a non-empty array of Graphs`);
    graphs.forEach((g, i) => {
      if (!(g instanceof Graph)) throw new TypeError(`${op}: graphs[${i}] is not a Graph`);
      if (g.isDisposed) throw new Error(`${op}: graphs[${i}] has been disposed`);
    });
    const keys = graphs[0].keys();
    const sig = [...keys].sort().join(', ');
    let device: T.DeviceName | undefined;
    graphs.forEach((g, i) => {
      const k = g.keys();
      if ([...k].sort().join(', ') !== sig) throw new RangeError(`${op}: graphs[${i}] has attributes [${k.join(', ')}] but graphs[0] has [${keys.join(', ')}]`);
      const d = g.device;
      if (d !== undefined && device !== undefined && d !== device) throw new Error(`${op}: expected all graphs on one device, received '${device}' and '${d}' (graphs[${i}])`);
      device ??= d;
    });
    const nodeStarts = [0];
    for (const g of graphs) nodeStarts.push(nodeStarts[nodeStarts.length - 1] + g.numNodes);
    const layout = new Map<string, Layout>();
    const init: GraphInit = { numNodes: nodeStarts[nodeStarts.length - 1], extra: {} };
    const made: T.Tensor[] = [];
    try {
      for (const key of keys) {
        const { tensor, layout: l } = concatKey(op, key, graphs, nodeStarts);
        made.push(tensor);
        layout.set(key, l);
        if ((GRAPH_KEYS as readonly string[]).includes(key)) (init as Record<string, unknown>)[key] = tensor;
        else init.extra![key] = tensor;
      }
      return new Batch(init, layout, nodeStarts, device ?? T.getDefaultDevice());
    } catch (e) {
      for (const t of made) t.dispose();
      throw e;
    }
  }

  /** Graph `i` as it was before batching (new tensors: views, or shifted copies of index attributes). */
  getGraph(i: number): Graph {
    if (!Number.isInteger(i) || i < 0 || i >= this.numGraphs) throw new RangeError(`Batch.getGraph: index must be an integer in [0, ${this.numGraphs}), received ${i}`);
    const init: GraphInit = { numNodes: this.#nodeStarts[i + 1] - this.#nodeStarts[i], extra: {} };
    const made: T.Tensor[] = [];
    try {
      for (const [key, l] of this.#layout) {
        const t = this.get(key)!;
        const part = T.tidy(() => {
          let p = T.narrow(t, l.catDim, l.starts[i], l.starts[i + 1] - l.starts[i]);
          if (l.increment && this.#nodeStarts[i] > 0) p = T.sub(p, this.#nodeStarts[i]);
          return l.scalar ? T.reshape(p, []) : p;
        });
        made.push(part);
        if ((GRAPH_KEYS as readonly string[]).includes(key)) (init as Record<string, unknown>)[key] = part;
        else init.extra![key] = part;
      }
      return new Graph(init);
    } catch (e) {
      for (const t of made) t.dispose();
      throw e;
    }
  }

  /** All graphs, split back (PyG's `to_data_list`). */
  toGraphs(): Graph[] {
    const out: Graph[] = [];
    try {
      for (let i = 0; i < this.numGraphs; i++) out.push(this.getGraph(i));
      return out;
    } catch (e) {
      for (const g of out) g.dispose();
      throw e;
    }
  }

  /** Node count of each graph. */
  get graphSizes(): number[] {
    return this.#nodeStarts.slice(1).map((s, g) => s - this.#nodeStarts[g]);
  }

  override async to(device: T.DeviceName): Promise<Batch> {
    const g = await super.to(device);
    return Batch.#wrap(g, this.#layout, this.#nodeStarts, device);
  }

  override clone(): Batch {
    return Batch.#wrap(super.clone(), this.#layout, this.#nodeStarts, this.batch.device);
  }

  /** A Batch over the tensors of `g` (which it takes over; `g` itself is dropped). */
  static #wrap(g: Graph, layout: Map<string, Layout>, nodeStarts: number[], device: T.DeviceName): Batch {
    const init: GraphInit = { numNodes: g.numNodes, extra: {} };
    for (const key of g.keys()) {
      if ((GRAPH_KEYS as readonly string[]).includes(key)) (init as Record<string, unknown>)[key] = g.get(key);
      else init.extra![key] = g.get(key)!;
    }
    return new Batch(init, layout, nodeStarts, device);
  }

  override dispose(): void {
    super.dispose();
    this.batch.dispose();
    this.ptr.dispose();
  }

  override toString(): string {
    const base = super.toString();
    return `${base.slice(0, -1)}, batch=${shapeStr(this.batch.shape)}, ptr=${shapeStr(this.ptr.shape)}, numGraphs=${this.numGraphs})`;
  }
}

/** Concatenates attribute `key` of every graph (see Batch). */
function concatKey(op: string, key: string, graphs: readonly Graph[], nodeStarts: number[]): { tensor: T.Tensor; layout: Layout } {
  const ts = graphs.map((g) => g.get(key)!);
  const ref = ts[0];
  const scalar = ref.rank === 0;
  const increment = isIndexKey(key) && !scalar;
  const catDim = increment ? ref.rank - 1 : 0;
  ts.forEach((t, i) => {
    if (t.dtype !== ref.dtype) throw new TypeError(`${op}: ${key} is ${ref.dtype} in graphs[0] but ${t.dtype} in graphs[${i}]`);
    const same = t.rank === ref.rank && t.shape.every((d, k) => k === catDim || d === ref.shape[k]);
    if (!same) throw new RangeError(`${op}: ${key} has shape ${shapeStr(ref.shape)} in graphs[0] and ${shapeStr(t.shape)} in graphs[${i}]; they must agree outside dim ${catDim}`);
  });
  const starts = [0];
  for (const t of ts) starts.push(starts[starts.length - 1] + (scalar ? 1 : t.shape[catDim]));
  const tensor = T.tidy(() => {
    const parts = ts.map((t, i) => (scalar ? T.reshape(t, [1]) : increment && nodeStarts[i] > 0 ? T.add(t, nodeStarts[i]) : t));
    return T.cat(parts, catDim);
  });
  return { tensor, layout: { catDim, increment, scalar, starts } };
}
