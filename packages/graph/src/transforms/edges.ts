import * as T from '@tessera/tensor';
import type { Graph } from '../data/graph.js';
import { toUndirected } from '../utils/undirected.js';
import type { EdgeReduce } from '../utils/coalesce.js';
import { addSelfLoops, type LoopFill } from '../utils/loop.js';
import { gcnNorm } from '../utils/norm.js';
import { checkGraph, type GraphTransform } from './compose.js';

/**
 * Makes the graph undirected (PyG's `ToUndirected`): every edge gets its reverse, duplicates are
 * merged and `edgeAttr` / `edgeWeight` of merged edges reduced with `reduce` (default 'add').
 * Other attributes are kept as they are.
 */
export class ToUndirected implements GraphTransform {
  readonly reduce: EdgeReduce;

  constructor(options: { reduce?: EdgeReduce } = {}) {
    this.reduce = options.reduce ?? 'add';
  }

  async forward(graph: Graph): Promise<Graph> {
    checkGraph('ToUndirected', graph);
    const ei = graph.edgeIndex;
    if (!ei) return graph.with({});
    const opts = { numNodes: graph.numNodes, reduce: this.reduce };
    const made: T.Tensor[] = [];
    try {
      const a = await toUndirected(ei, { ...opts, edgeAttr: graph.edgeAttr });
      made.push(a.edgeIndex, ...(a.edgeAttr ? [a.edgeAttr] : []));
      let edgeWeight: T.Tensor | undefined;
      if (graph.edgeWeight) {
        const w = await toUndirected(ei, { ...opts, edgeAttr: graph.edgeWeight });
        w.edgeIndex.dispose();
        edgeWeight = w.edgeAttr;
        made.push(edgeWeight!);
      }
      return graph.with({ edgeIndex: a.edgeIndex, edgeAttr: a.edgeAttr, edgeWeight });
    } catch (e) {
      T.dispose(made);
      throw e;
    }
  }

  toString(): string {
    return `ToUndirected(reduce=${this.reduce})`;
  }
}

/**
 * Appends a self-loop (i, i) to every node (PyG's `AddSelfLoops`, with part B's `addSelfLoops`):
 * `edgeWeight` and `edgeAttr`, when present, get `fillValue` for the loops (default 1; or a
 * reduction such as 'mean' of each node's incoming values).
 */
export class AddSelfLoops implements GraphTransform {
  readonly fillValue: LoopFill;

  constructor(options: { fillValue?: LoopFill } = {}) {
    this.fillValue = options.fillValue ?? 1;
  }

  async forward(graph: Graph): Promise<Graph> {
    checkGraph('AddSelfLoops', graph);
    const ei = graph.edgeIndex;
    if (!ei) return graph.with({});
    const options = { fillValue: this.fillValue, numNodes: graph.numNodes };
    return T.tidy(() => {
      const base = addSelfLoops(ei, graph.edgeAttr ?? null, options);
      const w = graph.edgeWeight ? addSelfLoops(ei, graph.edgeWeight, options).edgeAttr : null;
      return graph.with({ edgeIndex: base.edgeIndex, edgeAttr: base.edgeAttr ?? undefined, edgeWeight: w ?? undefined });
    });
  }

  toString(): string {
    return `AddSelfLoops(fillValue=${typeof this.fillValue === 'object' ? 'tensor' : this.fillValue})`;
  }
}

/**
 * Replaces the edges by the GCN-normalised ones (PyG's `GCNNorm`, with part B's `gcnNorm`):
 * self-loops added (unless `addSelfLoops: false`) and `edgeWeight` = w_ij / sqrt(d_i d_j).
 */
export class GCNNorm implements GraphTransform {
  readonly addSelfLoops: boolean;

  constructor(options: { addSelfLoops?: boolean } = {}) {
    this.addSelfLoops = options.addSelfLoops ?? true;
  }

  async forward(graph: Graph): Promise<Graph> {
    const op = 'GCNNorm';
    checkGraph(op, graph);
    const ei = graph.edgeIndex;
    if (!ei) throw new Error(`${op}: the graph has no edgeIndex`);
    if (graph.edgeAttr && this.addSelfLoops) {
      throw new Error(`${op}: the graph's edgeAttr [${graph.edgeAttr.shape.join(', ')}] would no longer match the edges once self-loops are added; remove it first (graph.with({ edgeAttr: null }))`);
    }
    return T.tidy(() => {
      const r = gcnNorm(ei, graph.edgeWeight ?? null, graph.numNodes, { addSelfLoops: this.addSelfLoops });
      return graph.with({ edgeIndex: r.edgeIndex, edgeWeight: r.edgeWeight });
    });
  }

  toString(): string {
    return `GCNNorm(addSelfLoops=${this.addSelfLoops})`;
  }
}
