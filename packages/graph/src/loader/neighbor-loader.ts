import * as T from '@tessera/tensor';
import { Graph, type GraphInit } from '../data/graph.js';
import { checkEdgeRange, edgeTensor, intTensor } from '../utils/edges.js';
import { cscFromArrays, type CscAdjacency } from './csc.js';
import { checkBatchSize, epochBatches, InputNodes, numBatches, type SeedBatchOptions } from './input.js';
import { checkGenerator, checkNumNeighbors, sampleNeighbors, type SampledNeighborhood } from './neighbor-sampler.js';

export interface NeighborLoaderOptions extends SeedBatchOptions {
  /** Neighbours drawn per node at each hop, hop 1 first (e.g. [25, 10]); -1 takes all. */
  numNeighbors: readonly number[];
  /** Draw neighbours with replacement (default false). */
  replace?: boolean;
}

/**
 * One sampled subgraph (PyG's NeighborLoader output): the first `batchSize` nodes are the seeds.
 * `x`, `y`, `pos` and the masks hold the rows of the sampled nodes, `edgeIndex` the sampled edges
 * (neighbour → node) in local ids, `edgeAttr`/`edgeWeight` their rows. Extra tensors: `nId`
 * (global node ids), `eId` (positions in the original edge index), `inputId` (the seeds'
 * positions in the loader's input nodes). Other attributes of the source graph are not carried.
 */
export class NeighborBatch extends Graph {
  /** Number of seed nodes: the first rows of every node-level attribute. */
  readonly batchSize: number;
  /** New nodes per hop, the seeds first: [batchSize, hop 1, hop 2, ...]. */
  readonly numSampledNodes: readonly number[];
  /** Sampled edges per hop. */
  readonly numSampledEdges: readonly number[];

  /** @internal Built by NeighborLoader. */
  constructor(init: GraphInit, batchSize: number, numSampledNodes: number[], numSampledEdges: number[]) {
    super(init);
    this.batchSize = batchSize;
    this.numSampledNodes = Object.freeze([...numSampledNodes]);
    this.numSampledEdges = Object.freeze([...numSampledEdges]);
  }

  /** int32 [numNodes]: the global id of each node of the subgraph. */
  get nId(): T.Tensor {
    return this.get('nId')!;
  }

  /** int32 [numEdges]: the position of each edge in the original edge index. */
  get eId(): T.Tensor {
    return this.get('eId')!;
  }

  /** int32 [batchSize]: the seeds' positions in the loader's input nodes. */
  get inputId(): T.Tensor {
    return this.get('inputId')!;
  }
}

const NODE_ROWS = ['x', 'y', 'pos', 'trainMask', 'valMask', 'testMask'] as const;
const EDGE_ROWS = ['edgeAttr', 'edgeWeight'] as const;

/**
 * Mini-batches of sampled neighbourhoods for training GNNs on large graphs (GraphSAGE; PyG's
 * `NeighborLoader`): `for await (const batch of loader)` yields one NeighborBatch per
 * `batchSize` input nodes, sampled hop by hop with `sampleNeighbors` (uniform, without
 * replacement by default) from the in-neighbours of each node, as message passing with the flow
 * source → target aggregates them.
 *
 * The edge index is read back and grouped by target once, at the start of the first epoch (await
 * `prepare()` to do it earlier). Sampling runs on the host; node and edge rows are gathered on the
 * graph's device. Deterministic for a given generator state.
 *
 * Ownership: each batch belongs to the consumer, who disposes it. The loader keeps no tensors;
 * the graph must stay alive while it is iterated.
 */
export class NeighborLoader implements AsyncIterable<NeighborBatch> {
  readonly graph: Graph;
  readonly numNeighbors: readonly number[];
  readonly batchSize: number;
  readonly shuffle: boolean;
  readonly replace: boolean;
  readonly dropLast: boolean;
  readonly #generator: T.Generator;
  readonly #input: InputNodes;
  #csc: CscAdjacency | null = null;

  constructor(graph: Graph, options: NeighborLoaderOptions) {
    const op = 'NeighborLoader';
    if (!(graph instanceof Graph)) throw new TypeError(`${op}: expected a Graph, received ${graph === null ? 'null' : typeof graph}`);
    if (graph.isDisposed) throw new Error(`${op}: the graph has been disposed`);
    if (!graph.edgeIndex) throw new Error(`${op}: the graph has no edgeIndex to sample from`);
    if (typeof options !== 'object' || options === null) throw new TypeError(`${op}: expected an options object with numNeighbors, received ${String(options)}`);
    this.numNeighbors = Object.freeze([...checkNumNeighbors(op, options.numNeighbors)]);
    this.batchSize = checkBatchSize(op, options.batchSize);
    this.shuffle = options.shuffle ?? false;
    this.replace = options.replace ?? false;
    this.dropLast = options.dropLast ?? false;
    this.#generator = checkGenerator(op, options.generator);
    this.#input = new InputNodes(op, options.inputNodes, graph.numNodes);
    this.graph = graph;
  }

  /** Batches per epoch; throws until the input nodes are known (given as an array, or after `prepare()`). */
  get length(): number {
    const ids = this.#input.known;
    if (!ids) throw new Error('NeighborLoader.length: the input nodes are a tensor not read yet; await loader.prepare() first');
    return numBatches(ids.length, this.batchSize, this.dropLast);
  }

  /** Reads the edge index and the input nodes back (once). Called by the iterator. */
  async prepare(): Promise<this> {
    await this.#input.resolve();
    if (!this.#csc) {
      const ei = this.graph.edgeIndex!;
      const E = ei.shape[1];
      const data = (await ei.data()) as Int32Array;
      const row = data.slice(0, E);
      const col = data.slice(E, 2 * E);
      // the Graph checked the ids at construction on cpu, not on webgpu
      checkEdgeRange('NeighborLoader', row, col, this.graph.numNodes);
      this.#csc = cscFromArrays(row, col, this.graph.numNodes);
    }
    return this;
  }

  async *[Symbol.asyncIterator](): AsyncIterator<NeighborBatch> {
    await this.prepare();
    const ids = this.#input.known!;
    for (const positions of epochBatches(ids.length, this.batchSize, this.shuffle, this.dropLast, this.#generator)) {
      const seeds = positions.map((p) => ids[p]);
      const s = sampleNeighbors(this.#csc!, seeds, { numNeighbors: this.numNeighbors, replace: this.replace, generator: this.#generator });
      yield this.#makeBatch(s, positions);
    }
  }

  #makeBatch(s: SampledNeighborhood, positions: Int32Array): NeighborBatch {
    const g = this.graph;
    const device = g.device!;
    const made: T.Tensor[] = [];
    const track = (t: T.Tensor) => (made.push(t), t);
    try {
      const nId = track(intTensor(s.node, device));
      const eId = track(intTensor(s.edge, device));
      const init: GraphInit = {
        edgeIndex: track(edgeTensor(s.row, s.col, device)),
        numNodes: s.node.length,
        extra: { nId, eId, inputId: track(intTensor(positions, device)) },
      };
      for (const key of NODE_ROWS) {
        const t = g[key];
        if (t) init[key] = track(t.rank >= 1 && t.shape[0] === g.numNodes ? T.indexSelect(t, 0, nId) : T.reshape(t, [...t.shape]));
      }
      for (const key of EDGE_ROWS) {
        const t = g[key];
        if (t) init[key] = track(T.indexSelect(t, 0, eId));
      }
      return new NeighborBatch(init, s.numSampledNodes[0], s.numSampledNodes, s.numSampledEdges);
    } catch (e) {
      T.dispose(made);
      throw e;
    }
  }
}
