import * as T from '@tessera/tensor';
import { boolTensor, checkEdgeAttr, checkNumNodes, edgeTensor, intTensor, readEdges, withIndex } from './edges.js';

/** A node set: ids (number[] or an int32 tensor) or a bool mask over the nodes. */
export type NodeSet = readonly number[] | T.Tensor;

/**
 * The node ids of `subset` in the order given (ascending for a mask), checked against
 * `numNodes`; duplicates are an error (they would make relabelling ambiguous).
 */
export async function readNodeSet(op: string, subset: NodeSet, numNodes: number, name = 'subset'): Promise<Int32Array> {
  let ids: Int32Array;
  if (T.isTensor(subset)) {
    if (subset.isDisposed) throw new Error(`${op}: ${name} has been disposed`);
    if (subset.rank !== 1) throw new RangeError(`${op}: expected ${name} to be 1-D (node ids or a bool mask), received shape [${subset.shape.join(', ')}]`);
    const data = await subset.data();
    if (subset.dtype === 'bool') {
      if (subset.size !== numNodes) throw new RangeError(`${op}: expected a bool ${name} mask of shape [${numNodes}] (one entry per node), received [${subset.size}]`);
      const out: number[] = [];
      for (let i = 0; i < data.length; i++) if (data[i]) out.push(i);
      return Int32Array.from(out);
    }
    if (subset.dtype !== 'int32') throw new TypeError(`${op}: expected ${name} of dtype int32 (node ids) or bool (a mask), received ${subset.dtype}`);
    ids = data as Int32Array;
  } else if (Array.isArray(subset)) {
    for (const v of subset) if (!Number.isInteger(v)) throw new TypeError(`${op}: expected integer node ids in ${name}, received ${String(v)}`);
    ids = Int32Array.from(subset);
  } else {
    throw new TypeError(`${op}: expected ${name} to be an array of node ids or a Tensor, received ${subset === null ? 'null' : typeof subset}`);
  }
  const seen = new Uint8Array(numNodes);
  for (const v of ids) {
    if (v < 0 || v >= numNodes) throw new RangeError(`${op}: ${name} holds node ${v}, outside [0, ${numNodes}) for a graph of ${numNodes} nodes (pass numNodes if the graph has more nodes than its edges show)`);
    if (seen[v]) throw new RangeError(`${op}: ${name} holds node ${v} more than once`);
    seen[v] = 1;
  }
  return ids;
}

export interface SubgraphOptions {
  /** Per-edge values [E, ...], kept for the kept edges (stays differentiable). */
  edgeAttr?: T.Tensor;
  /** Renumber the kept nodes 0..k-1 in the order of `subset` (default false). */
  relabelNodes?: boolean;
  numNodes?: number;
}

export interface SubgraphResult {
  edgeIndex: T.Tensor;
  edgeAttr?: T.Tensor;
  /** bool [E]: which input edges were kept. */
  edgeMask: T.Tensor;
}

/**
 * The edges whose two ends are both in `subset` (PyG's `subgraph`). With `relabelNodes`, node
 * `subset[k]` becomes node k. Async: the edge index is read back.
 */
export async function subgraph(subset: NodeSet, edgeIndex: T.Tensor, options: SubgraphOptions = {}): Promise<SubgraphResult> {
  const op = 'subgraph';
  const given = checkNumNodes(op, options.numNodes);
  const { row, col, numNodes } = await readEdges(op, edgeIndex, given);
  // without numNodes, a subset may name isolated nodes beyond the largest edge id
  const n = given ?? Math.max(numNodes, subsetBound(subset));
  const ids = await readNodeSet(op, subset, n);
  const attr = checkEdgeAttr(op, options.edgeAttr, row.length, edgeIndex.device);
  const newId = new Int32Array(n).fill(-1);
  ids.forEach((v, k) => (newId[v] = k));
  return keepEdges(row, col, (r, c) => newId[r] >= 0 && newId[c] >= 0, options.relabelNodes ? newId : undefined, edgeIndex.device, attr);
}

function subsetBound(subset: NodeSet): number {
  if (T.isTensor(subset)) return subset.dtype === 'bool' ? subset.size : 0;
  let bound = 0;
  if (Array.isArray(subset)) for (const v of subset) if (typeof v === 'number' && v + 1 > bound) bound = v + 1;
  return bound;
}

/** Keeps the edges passing `test`, optionally renumbering their ends through `relabel`. */
export function keepEdges(
  row: Int32Array, col: Int32Array, test: (r: number, c: number) => boolean,
  relabel: Int32Array | undefined, device: T.DeviceName, attr: T.Tensor | undefined,
): SubgraphResult {
  const E = row.length;
  const mask = new Uint8Array(E);
  const kept: number[] = [];
  for (let e = 0; e < E; e++) {
    if (test(row[e], col[e])) {
      mask[e] = 1;
      kept.push(e);
    }
  }
  const r = kept.map((e) => (relabel ? relabel[row[e]] : row[e]));
  const c = kept.map((e) => (relabel ? relabel[col[e]] : col[e]));
  const result: SubgraphResult = { edgeIndex: edgeTensor(r, c, device), edgeMask: boolTensor(mask, device) };
  if (attr) result.edgeAttr = withIndex(kept, device, (idx) => T.indexSelect(attr, 0, idx));
  return result;
}

export interface KHopOptions {
  relabelNodes?: boolean;
  numNodes?: number;
  /**
   * 'source_to_target' (default): collect the nodes whose messages reach the seeds within
   * `numHops` (follow edges backwards); 'target_to_source': follow edges forwards.
   */
  flow?: 'source_to_target' | 'target_to_source';
  /**
   * false (default): keep every edge between the collected nodes. true: keep only the edges a
   * `numHops`-layer message passing uses, i.e. those pointing into a node reached in fewer than
   * `numHops` hops.
   */
  directed?: boolean;
}

export interface KHopResult {
  /** int32, ascending: the nodes within `numHops` of the seeds (seeds included). */
  subset: T.Tensor;
  edgeIndex: T.Tensor;
  /** int32: the position of each seed in `subset` (its id after relabelling). */
  mapping: T.Tensor;
  /** bool [E]: which input edges were kept. */
  edgeMask: T.Tensor;
}

/**
 * The `numHops`-hop neighbourhood of `nodeIdx` (a node, ids, or an int32 tensor) and the edges
 * among it, as PyG's `k_hop_subgraph`. Async: the edge index is read back.
 */
export async function kHopSubgraph(nodeIdx: number | NodeSet, numHops: number, edgeIndex: T.Tensor, options: KHopOptions = {}): Promise<KHopResult> {
  const op = 'kHopSubgraph';
  if (!Number.isInteger(numHops) || numHops < 0) throw new RangeError(`${op}: numHops must be a non-negative integer, received ${numHops}`);
  const flow = options.flow ?? 'source_to_target';
  if (flow !== 'source_to_target' && flow !== 'target_to_source') throw new TypeError(`${op}: flow must be 'source_to_target' or 'target_to_source', received '${String(flow)}'`);
  const given = checkNumNodes(op, options.numNodes);
  const { row, col, numNodes } = await readEdges(op, edgeIndex, given);
  const seedsIn = typeof nodeIdx === 'number' ? [nodeIdx] : nodeIdx;
  const n = given ?? Math.max(numNodes, subsetBound(seedsIn));
  const seeds = await readNodeSet(op, seedsIn, n, 'nodeIdx');
  // messages flow source -> target: to reach a seed, walk from target back to source
  const [from, to] = flow === 'source_to_target' ? [row, col] : [col, row];
  const E = row.length;
  const hop = new Int32Array(n).fill(-1);
  let frontier: number[] = Array.from(seeds);
  for (const s of frontier) hop[s] = 0;
  for (let h = 1; h <= numHops && frontier.length > 0; h++) {
    const inFrontier = new Uint8Array(n);
    for (const v of frontier) inFrontier[v] = 1;
    const next: number[] = [];
    for (let e = 0; e < E; e++) {
      if (inFrontier[to[e]] && hop[from[e]] < 0) {
        hop[from[e]] = h;
        next.push(from[e]);
      }
    }
    frontier = next;
  }
  const subsetIds: number[] = [];
  const newId = new Int32Array(n).fill(-1);
  for (let v = 0; v < n; v++) {
    if (hop[v] >= 0) {
      newId[v] = subsetIds.length;
      subsetIds.push(v);
    }
  }
  const test = options.directed
    ? (r: number, c: number) => { const [f, t] = flow === 'source_to_target' ? [r, c] : [c, r]; return hop[f] >= 0 && hop[t] >= 0 && hop[t] < numHops; }
    : (r: number, c: number) => hop[r] >= 0 && hop[c] >= 0;
  const device = edgeIndex.device;
  const kept = keepEdges(row, col, test, options.relabelNodes ? newId : undefined, device, undefined);
  return {
    subset: intTensor(subsetIds, device),
    edgeIndex: kept.edgeIndex,
    mapping: intTensor(Array.from(seeds, (s) => newId[s]), device),
    edgeMask: kept.edgeMask,
  };
}
