import * as T from '@tessera/tensor';
import { checkEdgeIndex, checkEdgeRange, checkNumNodes, maxNodeId, splitRows } from '../utils/edges.js';
import { edgeCut, partWeights, undirectedCsr } from './csr.js';
import { multilevelPartition } from './multilevel.js';
import { resolveGenerator } from './random.js';

/** An edge list as a [2, E] int32 tensor, or as host arrays of sources and targets. */
export type EdgeList = T.Tensor | { row: ArrayLike<number>; col: ArrayLike<number> };

export interface PartitionOptions {
  /** Number of nodes; default the largest id in the edge list + 1. */
  numNodes?: number;
  /** Non-negative weight per edge [E] (default 1): heavier edges are cut less. Zero-weight edges are ignored. */
  edgeWeight?: T.Tensor | ArrayLike<number>;
  /** Non-negative weight per node [N] (default 1): parts are balanced by total node weight. */
  nodeWeight?: T.Tensor | ArrayLike<number>;
  /**
   * Allowed imbalance: every part weighs at most imbalance × total / numParts (default 1.03, METIS'
   * default for k-way). A part of ⌈total / numParts⌉ is always allowed. With non-unit node
   * weights the bound may be unreachable; the result reports the balance obtained.
   */
  imbalance?: number;
  /** Randomness of the matching, seeds and visit orders; default the global generator (`T.manualSeed`). */
  generator?: T.Generator;
}

export interface PartitionResult {
  /** The part of each node, in [0, numParts) (METIS' `part` vector). */
  part: Int32Array;
  numParts: number;
  /** Nodes per part. */
  partSizes: Int32Array;
  /** Total node weight per part (equals partSizes without nodeWeight). */
  partWeights: Float64Array;
  /** Heaviest part / (total node weight / numParts); 1 is perfect balance. */
  balance: number;
  /** Total weight of the edges between parts, each undirected edge counted once. */
  edgeCut: number;
  /** Total weight of the undirected edges (the graph as partitioned: no self-loops, no repeats). */
  totalEdgeWeight: number;
}

const DEFAULT_IMBALANCE = 1.03;

/**
 * Splits the nodes of a graph into `numParts` parts of about equal weight with few edges between
 * them: a multilevel partitioner in the manner of METIS (heavy-edge-matching coarsening, recursive
 * bisection of the coarsest graph, balance-constrained boundary refinement while uncoarsening),
 * in TypeScript on typed arrays. ClusterGCN's `ClusterData` uses it to cut a graph into clusters.
 *
 * The graph is taken as undirected: edge directions, self-loops, repeated edges and reverse
 * edges do not matter (parallel edges count once, with the largest weight). Disconnected graphs
 * and isolated nodes are fine. The result depends only on the input and the generator state.
 * Async: a tensor edge list is read back. Cost: about linear in nodes + edges, typed arrays only
 * (a million nodes and ten million edge-index columns into 1,000 parts: about 30 s of CPU time on a
 * 2-core test machine, within a 1.2 GB peak RSS for the whole run of apps/examples' scale-sbm.ts).
 */
export async function partitionGraph(edges: EdgeList, numParts: number, options: PartitionOptions = {}): Promise<PartitionResult> {
  const op = 'partitionGraph';
  if (typeof options !== 'object' || options === null) throw new TypeError(`${op}: options must be an object`);
  const { row, col } = await readEdgeList(op, edges);
  const given = checkNumNodes(op, options.numNodes);
  const n = given ?? maxNodeId(row, col);
  checkEdgeRange(op, row, col, n);
  if (typeof numParts !== 'number' || !Number.isInteger(numParts) || numParts < 1) throw new RangeError(`${op}: numParts must be a positive integer, received ${String(numParts)}`);
  if (numParts > n) throw new RangeError(`${op}: numParts (${numParts}) exceeds the number of nodes (${n}); every part needs at least one node`);
  const imbalance = options.imbalance ?? DEFAULT_IMBALANCE;
  if (typeof imbalance !== 'number' || !(imbalance >= 1) || !Number.isFinite(imbalance)) throw new RangeError(`${op}: imbalance must be a finite number >= 1, received ${String(imbalance)}`);
  const gen = resolveGenerator(op, options.generator);
  const edgeWeight = options.edgeWeight === undefined ? undefined : await readWeights(op, 'edgeWeight', options.edgeWeight, row.length, 'edge');
  const nodeWeight = options.nodeWeight === undefined ? new Float64Array(n).fill(1) : await readWeights(op, 'nodeWeight', options.nodeWeight, n, 'node');
  let totalNodeWeight = 0;
  for (let u = 0; u < n; u++) totalNodeWeight += nodeWeight[u];
  if (!(totalNodeWeight > 0)) throw new RangeError(`${op}: the node weights sum to ${totalNodeWeight}; at least one node needs a positive weight`);

  const g = undirectedCsr(row, col, n, edgeWeight, nodeWeight);
  const part = multilevelPartition(g, numParts, imbalance, gen);
  const pw = partWeights(g, part, numParts);
  const partSizes = new Int32Array(numParts);
  for (let u = 0; u < n; u++) partSizes[part[u]]++;
  let totalEdgeWeight = 0;
  for (let j = 0; j < g.adjwgt.length; j++) totalEdgeWeight += g.adjwgt[j];
  let heaviest = 0;
  for (const w of pw) heaviest = Math.max(heaviest, w);
  return {
    part,
    numParts,
    partSizes,
    partWeights: pw,
    balance: heaviest / (totalNodeWeight / numParts),
    edgeCut: edgeCut(g, part),
    totalEdgeWeight: totalEdgeWeight / 2,
  };
}

/** Sources and targets of an edge list as int32 arrays (the caller's arrays are not modified). */
export async function readEdgeList(op: string, edges: EdgeList): Promise<{ row: Int32Array; col: Int32Array }> {
  if (T.isTensor(edges)) {
    checkEdgeIndex(op, edges);
    const [row, col] = splitRows((await edges.data()) as Int32Array, edges.shape[1]);
    return { row, col };
  }
  if (typeof edges !== 'object' || edges === null || !('row' in edges) || !('col' in edges)) {
    throw new TypeError(`${op}: expected the edges as an int32 tensor [2, E] or { row, col } arrays, received ${edges === null ? 'null' : typeof edges}`);
  }
  const { row, col } = edges;
  if (row.length !== col.length) throw new RangeError(`${op}: row and col must have the same length, received ${row.length} and ${col.length}`);
  // int32 arrays are used as they are (the partitioner only reads them); others are converted and checked
  if (row instanceof Int32Array && col instanceof Int32Array) return { row, col };
  const out = [Int32Array.from(row), Int32Array.from(col)];
  for (const [name, src, arr] of [['row', row, out[0]], ['col', col, out[1]]] as const) {
    for (let e = 0; e < src.length; e++) {
      if (arr[e] !== src[e]) throw new TypeError(`${op}: ${name}[${e}] = ${String(src[e])} is not an int32 node id`);
    }
  }
  return { row: out[0], col: out[1] };
}

async function readWeights(op: string, name: string, w: T.Tensor | ArrayLike<number>, length: number, what: string): Promise<Float64Array> {
  let values: Float64Array;
  if (T.isTensor(w)) {
    if (w.isDisposed) throw new Error(`${op}: ${name} has been disposed`);
    if (w.rank !== 1) throw new RangeError(`${op}: expected ${name} of shape [${length}] (one per ${what}), received [${w.shape.join(', ')}]`);
    values = Float64Array.from(await w.data());
  } else if (w !== null && typeof w === 'object' && typeof (w as ArrayLike<number>).length === 'number') {
    values = Float64Array.from(w as ArrayLike<number>);
  } else {
    throw new TypeError(`${op}: expected ${name} to be a Tensor or an array of numbers, received ${w === null ? 'null' : typeof w}`);
  }
  if (values.length !== length) throw new RangeError(`${op}: expected ${name} of length ${length} (one per ${what}), received ${values.length}`);
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (!(v >= 0) || !Number.isFinite(v)) throw new RangeError(`${op}: ${name}[${i}] = ${v}; weights must be finite and non-negative`);
  }
  return values;
}
