import * as T from '@tessera/tensor';
import { checkReduce, coalesceHost, type EdgeReduce, type EdgeResult } from './coalesce.js';
import { checkEdgeAttr, readEdges } from './edges.js';

export interface ToUndirectedOptions {
  /** Per-edge values [E, ...]; each reversed edge gets its edge's value, duplicates are reduced. */
  edgeAttr?: T.Tensor;
  numNodes?: number;
  /** How duplicates (an edge given in both directions, or twice) merge their values; default 'add' as PyG. */
  reduce?: EdgeReduce;
}

/**
 * Adds the reverse of every edge and coalesces (sorted by (row, col), no duplicates), as PyG's
 * `to_undirected`. Async: the edge index is read back.
 */
export async function toUndirected(edgeIndex: T.Tensor, options: ToUndirectedOptions = {}): Promise<EdgeResult> {
  const op = 'toUndirected';
  const { row, col, numNodes } = await readEdges(op, edgeIndex, options.numNodes);
  const attr = checkEdgeAttr(op, options.edgeAttr, row.length, edgeIndex.device);
  const reduce = checkReduce(op, options.reduce ?? 'add');
  const E = row.length;
  const bothRow = new Int32Array(2 * E);
  const bothCol = new Int32Array(2 * E);
  bothRow.set(row, 0);
  bothRow.set(col, E);
  bothCol.set(col, 0);
  bothCol.set(row, E);
  const doubled = attr ? T.cat([attr, attr], 0) : undefined;
  try {
    return coalesceHost(bothRow, bothCol, numNodes, edgeIndex.device, doubled, reduce);
  } finally {
    doubled?.dispose();
  }
}

export interface IsUndirectedOptions {
  /** When given, (i, j) and (j, i) must also carry equal values (duplicates summed first). */
  edgeAttr?: T.Tensor;
  numNodes?: number;
}

/**
 * Whether every edge (i, j) has its reverse (j, i) — with the same summed value when `edgeAttr`
 * is given — as PyG's `is_undirected`. Async: the edges (and values) are read back.
 */
export async function isUndirected(edgeIndex: T.Tensor, options: IsUndirectedOptions = {}): Promise<boolean> {
  const op = 'isUndirected';
  const { row, col, numNodes } = await readEdges(op, edgeIndex, options.numNodes);
  const attr = checkEdgeAttr(op, options.edgeAttr, row.length, edgeIndex.device);
  const E = row.length;
  const width = attr ? attr.size / Math.max(E, 1) : 0;
  const values = attr && E > 0 ? await attr.data() : undefined;
  // sum of the values per distinct (row, col), keyed by row * N + col
  const sums = new Map<number, Float64Array>();
  for (let e = 0; e < E; e++) {
    const key = row[e] * numNodes + col[e];
    let acc = sums.get(key);
    if (!acc) {
      acc = new Float64Array(width);
      sums.set(key, acc);
    }
    for (let k = 0; k < width; k++) acc[k] += values![e * width + k];
  }
  for (const [key, acc] of sums) {
    const r = Math.floor(key / Math.max(numNodes, 1));
    const c = key - r * numNodes;
    const back = sums.get(c * numNodes + r);
    if (!back) return false;
    for (let k = 0; k < width; k++) if (back[k] !== acc[k]) return false;
  }
  return true;
}
