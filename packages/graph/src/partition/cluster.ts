import * as T from '@tessera/tensor';
import { Graph, GRAPH_KEYS, shareTensor } from '../data/graph.js';
import { edgeTensor, intTensor, readEdges } from '../utils/edges.js';
import { partitionGraph, type PartitionOptions, type PartitionResult } from './partition.js';
import { resolveGenerator, shuffleInPlace } from './random.js';

export type ClusterDataOptions = Omit<PartitionOptions, 'numNodes'>;

const NODE_KEYS = ['x', 'y', 'pos', 'trainMask', 'valMask', 'testMask'] as const;
const EDGE_KEYS = ['edgeAttr', 'edgeWeight'] as const;

/**
 * A graph cut into clusters for Cluster-GCN (Chiang et al., KDD 2019; PyG's `ClusterData`):
 * `partitionGraph` splits the nodes into `numParts` clusters, which are then numbered so that each
 * cluster is a contiguous range of positions: cluster c holds the nodes
 * `perm[partptr[c] .. partptr[c + 1])` (original ids). The edges are kept once, as a CSR over those
 * positions (`rowptr`, `col`, with `edgeId` the original edge of each entry), so that the subgraph
 * of any set of clusters is cut out in time linear in its size.
 *
 * Node and edge attributes are not copied: `collate` gathers the rows of a batch from the original
 * graph (held as views until `dispose`). Async construction: `await ClusterData.create(graph, k)`.
 */
export class ClusterData {
  readonly numParts: number;
  /** Position → original node id: the nodes cluster by cluster. */
  readonly perm: Int32Array;
  /** [numParts + 1]: cluster c occupies positions partptr[c] .. partptr[c + 1]. */
  readonly partptr: Int32Array;
  /** CSR of the edges by source position: entries rowptr[p] .. rowptr[p + 1] leave position p. */
  readonly rowptr: Int32Array;
  /** Target position of each CSR entry. */
  readonly col: Int32Array;
  /** Original edge id (column of edgeIndex) of each CSR entry. */
  readonly edgeId: Int32Array;
  /** The partition: part of every node, part sizes, balance, edge cut. */
  readonly partition: PartitionResult;
  readonly #graph: Graph;
  readonly #clusterOf: Int32Array;
  /** Scratch: a chosen cluster's first local id in the batch being built, -1 otherwise. */
  readonly #localStart: Int32Array;

  private constructor(graph: Graph, partition: PartitionResult, row: Int32Array, col: Int32Array) {
    const n = graph.numNodes;
    const k = partition.numParts;
    this.#graph = graph;
    this.partition = partition;
    this.numParts = k;
    const { part, partSizes } = partition;
    this.partptr = new Int32Array(k + 1);
    for (let c = 0; c < k; c++) this.partptr[c + 1] = this.partptr[c] + partSizes[c];
    const fill = this.partptr.slice(0, k);
    this.perm = new Int32Array(n);
    const position = new Int32Array(n);
    this.#clusterOf = new Int32Array(n);
    for (let u = 0; u < n; u++) {
      const p = fill[part[u]]++;
      this.perm[p] = u;
      position[u] = p;
      this.#clusterOf[p] = part[u];
    }
    const E = row.length;
    this.rowptr = new Int32Array(n + 1);
    for (let e = 0; e < E; e++) this.rowptr[position[row[e]] + 1]++;
    for (let p = 0; p < n; p++) this.rowptr[p + 1] += this.rowptr[p];
    const next = this.rowptr.slice(0, n);
    this.col = new Int32Array(E);
    this.edgeId = new Int32Array(E);
    for (let e = 0; e < E; e++) {
      const j = next[position[row[e]]]++;
      this.col[j] = position[col[e]];
      this.edgeId[j] = e;
    }
    this.#localStart = new Int32Array(k).fill(-1);
  }

  /**
   * Partitions `graph` into `numParts` clusters (options as `partitionGraph`: edgeWeight,
   * nodeWeight, imbalance, generator). The graph stays usable and owned by the caller; the
   * ClusterData keeps its own views of the tensors until disposed.
   */
  static async create(graph: Graph, numParts: number, options: ClusterDataOptions = {}): Promise<ClusterData> {
    const op = 'ClusterData';
    if (!(graph instanceof Graph)) throw new TypeError(`${op}: expected a Graph, received ${graph === null ? 'null' : typeof graph}`);
    if (graph.isDisposed) throw new Error(`${op}: the graph has been disposed`);
    const n = graph.numNodes;
    const { row, col } = graph.edgeIndex ? await readEdges(op, graph.edgeIndex, n) : { row: new Int32Array(0), col: new Int32Array(0) };
    const partition = await partitionGraph({ row, col }, numParts, { ...options, numNodes: n });
    return new ClusterData(graph.with({}), partition, row, col);
  }

  get numNodes(): number {
    return this.perm.length;
  }

  get numEdges(): number {
    return this.col.length;
  }

  /** The original graph (views; owned by this ClusterData). */
  get graph(): Graph {
    return this.#graph;
  }

  /** Number of clusters (PyG's `len(cluster_data)`). */
  get length(): number {
    return this.numParts;
  }

  /** Original ids of the nodes of cluster c. */
  clusterNodes(c: number): Int32Array {
    this.#checkCluster('ClusterData.clusterNodes', c);
    return this.perm.subarray(this.partptr[c], this.partptr[c + 1]);
  }

  /** Cluster c alone, with the edges inside it (PyG's `cluster_data[c]`). */
  get(c: number): Graph {
    return this.collate([c]);
  }

  /**
   * The subgraph induced by the union of `clusters` — their nodes, cluster after cluster in the
   * order given, and every edge between two of them (within or between the chosen clusters) —
   * as a new Graph owned by the caller. Node-level attributes (x, y, pos, masks, extras with one
   * row per node) and edge-level ones (edgeAttr, edgeWeight, extras with one row per edge) are
   * gathered; `extra.nId` holds the original id of each node and `extra.eId` the original edge id
   * of each edge. Other attributes (e.g. a graph-level y) are shared as views.
   */
  collate(clusters: readonly number[]): Graph {
    const op = 'ClusterData.collate';
    if (!Array.isArray(clusters)) throw new TypeError(`${op}: expected an array of cluster ids, received ${typeof clusters}`);
    const start = this.#localStart;
    const { partptr, rowptr, col, edgeId } = this;
    let numNodes = 0;
    let bound = 0;
    try {
      for (const c of clusters) {
        this.#checkCluster(op, c);
        if (start[c] >= 0) throw new RangeError(`${op}: cluster ${c} is listed twice`);
        start[c] = numNodes;
        numNodes += partptr[c + 1] - partptr[c];
        bound += rowptr[partptr[c + 1]] - rowptr[partptr[c]];
      }
      const nId = new Int32Array(numNodes);
      const src = new Int32Array(bound);
      const dst = new Int32Array(bound);
      const eId = new Int32Array(bound);
      let k = 0;
      for (const c of clusters) {
        nId.set(this.perm.subarray(partptr[c], partptr[c + 1]), start[c]);
        for (let p = partptr[c]; p < partptr[c + 1]; p++) {
          const local = start[c] + p - partptr[c];
          for (let j = rowptr[p]; j < rowptr[p + 1]; j++) {
            const t = col[j];
            const ct = this.#clusterOf[t];
            if (start[ct] < 0) continue;
            src[k] = local;
            dst[k] = start[ct] + t - partptr[ct];
            eId[k++] = edgeId[j];
          }
        }
      }
      return this.#makeGraph(nId, src.subarray(0, k), dst.subarray(0, k), eId.subarray(0, k));
    } finally {
      for (const c of clusters) if (Number.isInteger(c) && c >= 0 && c < this.numParts) start[c] = -1;
    }
  }

  #makeGraph(nId: Int32Array, src: Int32Array, dst: Int32Array, eId: Int32Array): Graph {
    const g = this.#graph;
    const device = g.device ?? T.getDefaultDevice();
    const N = g.numNodes;
    const E = this.numEdges;
    const made: T.Tensor[] = [];
    const track = (t: T.Tensor) => (made.push(t), t);
    try {
      const nIdT = track(intTensor(nId, device));
      const eIdT = track(intTensor(eId, device));
      const init: Record<string, unknown> = { numNodes: nId.length, edgeIndex: track(edgeTensor(src, dst, device)) };
      const extra: Record<string, T.Tensor> = { nId: nIdT, eId: eIdT };
      const pick = (t: T.Tensor, nodeLevel: boolean, edgeLevel: boolean) =>
        track(nodeLevel ? T.indexSelect(t, 0, nIdT) : edgeLevel ? T.indexSelect(t, 0, eIdT) : shareTensor(t));
      for (const key of g.keys()) {
        if (key === 'edgeIndex') continue;
        const t = g.get(key)!;
        const named = (GRAPH_KEYS as readonly string[]).includes(key);
        if (named && !(NODE_KEYS as readonly string[]).includes(key) && !(EDGE_KEYS as readonly string[]).includes(key)) {
          init[key] = track(shareTensor(t)); // edgeLabel / edgeLabelIndex: not node- or edge-indexed here
          continue;
        }
        const rows = t.rank >= 1 ? t.shape[0] : -1;
        const nodeLevel = (NODE_KEYS as readonly string[]).includes(key) ? rows === N : !named && rows === N;
        const edgeLevel = !nodeLevel && ((EDGE_KEYS as readonly string[]).includes(key) || (!named && rows === E));
        if (named) init[key] = pick(t, nodeLevel, edgeLevel);
        else if (key !== 'nId' && key !== 'eId') extra[key] = pick(t, nodeLevel, edgeLevel);
      }
      return new Graph({ ...init, extra });
    } catch (e) {
      for (const t of made) t.dispose();
      throw e;
    }
  }

  #checkCluster(op: string, c: unknown): asserts c is number {
    if (typeof c !== 'number' || !Number.isInteger(c) || c < 0 || c >= this.numParts) {
      throw new RangeError(`${op}: expected a cluster id in [0, ${this.numParts}), received ${String(c)}`);
    }
  }

  /** Frees the views of the original graph's tensors. */
  dispose(): void {
    this.#graph.dispose();
  }

  [Symbol.dispose](): void {
    this.dispose();
  }
}

export interface ClusterLoaderOptions {
  /** Clusters merged into each batch (the paper's q; default 1). */
  batchSize?: number;
  /** A new random grouping of the clusters each epoch (default false, as PyG; pass true to train). */
  shuffle?: boolean;
  /** Seeds the shuffling; default the global generator (`T.manualSeed`). */
  generator?: T.Generator;
}

/**
 * Cluster-GCN's stochastic multiple partitions (PyG's `ClusterLoader`): each epoch groups the
 * clusters of a ClusterData into batches of `batchSize` (randomly with `shuffle`, without
 * replacement, so every node appears in exactly one batch per epoch) and yields, per batch, the
 * subgraph induced by its clusters, between-cluster edges included (`ClusterData.collate`).
 *
 *   for (const batch of loader) { ...; batch.dispose(); }   // `for await` works too
 *
 * Batches are built on demand from the permuted CSR, and each belongs to the consumer, who
 * disposes it; leaving the loop early leaves nothing behind.
 */
export class ClusterLoader implements Iterable<Graph> {
  readonly clusterData: ClusterData;
  readonly batchSize: number;
  readonly shuffle: boolean;
  readonly #generator: T.Generator;

  constructor(clusterData: ClusterData, options: ClusterLoaderOptions = {}) {
    const op = 'ClusterLoader';
    if (!(clusterData instanceof ClusterData)) throw new TypeError(`${op}: expected a ClusterData, received ${clusterData === null ? 'null' : typeof clusterData}`);
    const batchSize = options.batchSize ?? 1;
    if (!Number.isInteger(batchSize) || batchSize < 1) throw new RangeError(`${op}: batchSize must be a positive integer (clusters per batch), received ${String(batchSize)}`);
    this.clusterData = clusterData;
    this.batchSize = batchSize;
    this.shuffle = options.shuffle ?? false;
    this.#generator = resolveGenerator(op, options.generator);
  }

  /** Batches per epoch. */
  get length(): number {
    return Math.ceil(this.clusterData.numParts / this.batchSize);
  }

  /** The cluster ids of each batch of one epoch (draws a new order when shuffling). */
  batchClusters(): number[][] {
    const order = new Int32Array(this.clusterData.numParts);
    for (let c = 0; c < order.length; c++) order[c] = c;
    if (this.shuffle) shuffleInPlace(order, this.#generator);
    const out: number[][] = [];
    for (let b = 0; b < order.length; b += this.batchSize) out.push(Array.from(order.subarray(b, b + this.batchSize)));
    return out;
  }

  *[Symbol.iterator](): Iterator<Graph> {
    for (const clusters of this.batchClusters()) yield this.clusterData.collate(clusters);
  }
}
