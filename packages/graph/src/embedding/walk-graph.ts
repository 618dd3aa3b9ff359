import * as T from '@tessera/tensor';
import { checkEdgeIndex, checkEdgeRange, checkNumNodes, maxNodeId, splitRows } from '../utils/edges.js';
import { aliasBuildInto } from './alias.js';

export interface WalkGraphOptions {
  /** Default: the largest node id + 1. */
  numNodes?: number;
  /** One positive weight per edge; a walk leaves a node along an edge with probability ∝ its weight. */
  edgeWeight?: ArrayLike<number> | null;
}

/**
 * A graph in compressed sparse row form on the host, built once for random walks: the out-edges
 * of node v are `col[rowptr[v] .. rowptr[v + 1])`, sorted by target so that "is x a neighbour of
 * t" is a binary search. Duplicate edges are kept and count as multiplicity (as PyG's walks do).
 */
export class WalkGraph {
  readonly numNodes: number;
  readonly rowptr: Int32Array;
  readonly col: Int32Array;
  /** Edge weights in CSR order, or null for an unweighted graph. */
  readonly weight: Float64Array | null;
  /** Per-node alias tables over the out-edge weights, aligned with `col` (weighted graphs only). */
  readonly firstProb: Float64Array | null;
  readonly firstAlias: Int32Array | null;

  private constructor(numNodes: number, rowptr: Int32Array, col: Int32Array, weight: Float64Array | null) {
    this.numNodes = numNodes;
    this.rowptr = rowptr;
    this.col = col;
    this.weight = weight;
    if (weight) {
      const E = col.length;
      this.firstProb = new Float64Array(E);
      this.firstAlias = new Int32Array(E);
      let maxDeg = 0;
      for (let v = 0; v < numNodes; v++) maxDeg = Math.max(maxDeg, rowptr[v + 1] - rowptr[v]);
      const small = new Int32Array(maxDeg);
      const large = new Int32Array(maxDeg);
      for (let v = 0; v < numNodes; v++) if (rowptr[v + 1] > rowptr[v]) aliasBuildInto(weight, rowptr[v], rowptr[v + 1], this.firstProb, this.firstAlias, small, large);
    } else {
      this.firstProb = null;
      this.firstAlias = null;
    }
  }

  /** From host arrays of edge sources and targets (any order). */
  static fromArrays(row: ArrayLike<number>, col: ArrayLike<number>, options: WalkGraphOptions = {}): WalkGraph {
    const op = 'WalkGraph';
    if (!row || !col || typeof row.length !== 'number' || typeof col.length !== 'number') throw new TypeError(`${op}: expected arrays of edge sources and targets`);
    if (row.length !== col.length) throw new RangeError(`${op}: row and col must have the same length, received ${row.length} and ${col.length}`);
    const E = row.length;
    for (let e = 0; e < E; e++) {
      if (!Number.isInteger(row[e]) || !Number.isInteger(col[e])) throw new TypeError(`${op}: node ids must be integers, received (${row[e]}, ${col[e]}) at edge ${e}`);
    }
    const N = checkNumNodes(op, options.numNodes) ?? maxNodeId(row, col);
    checkEdgeRange(op, row, col, N);
    const w = options.edgeWeight ?? null;
    if (w !== null) {
      if (typeof w.length !== 'number' || w.length !== E) throw new RangeError(`${op}: edgeWeight must hold one weight per edge (${E}), received ${typeof w.length === 'number' ? w.length : typeof w}`);
      for (let e = 0; e < E; e++) {
        if (!(w[e] > 0) || !Number.isFinite(w[e])) throw new RangeError(`${op}: edge weights must be finite and positive, received ${w[e]} at edge ${e}`);
      }
    }
    // Two stable counting sorts (by target, then by source) give CSR order sorted by (source, target).
    const byCol = countingOrder(col, N, null);
    const order = countingOrder(row, N, byCol);
    const rowptr = new Int32Array(N + 1);
    for (let e = 0; e < E; e++) rowptr[row[e] + 1]++;
    for (let v = 0; v < N; v++) rowptr[v + 1] += rowptr[v];
    const c = new Int32Array(E);
    const wt = w === null ? null : new Float64Array(E);
    for (let k = 0; k < E; k++) {
      c[k] = col[order[k]];
      if (wt) wt[k] = w![order[k]];
    }
    return new WalkGraph(N, rowptr, c, wt);
  }

  /** From a [2, E] int32 edge index (read back once) and optional [E] edge weights. */
  static async fromEdgeIndex(edgeIndex: T.Tensor, options: { numNodes?: number; edgeWeight?: T.Tensor | null } = {}): Promise<WalkGraph> {
    const op = 'WalkGraph.fromEdgeIndex';
    checkEdgeIndex(op, edgeIndex);
    const E = edgeIndex.shape[1];
    const [row, col] = splitRows((await edgeIndex.data()) as Int32Array, E);
    let weight: Float64Array | null = null;
    const ew = options.edgeWeight ?? null;
    if (ew !== null) {
      if (!T.isTensor(ew) || ew.rank !== 1 || ew.shape[0] !== E) throw new RangeError(`${op}: edgeWeight must be a tensor of shape [${E}], received ${T.isTensor(ew) ? `[${ew.shape.join(', ')}]` : typeof ew}`);
      weight = Float64Array.from(await ew.data());
    }
    return WalkGraph.fromArrays(row, col, { numNodes: checkNumNodes(op, options.numNodes), edgeWeight: weight });
  }

  get numEdges(): number {
    return this.col.length;
  }

  degree(v: number): number {
    return this.rowptr[v + 1] - this.rowptr[v];
  }

  /** Whether the edge u → v exists (binary search in u's sorted targets). */
  hasEdge(u: number, v: number): boolean {
    let lo = this.rowptr[u];
    let hi = this.rowptr[u + 1];
    const col = this.col;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const c = col[mid];
      if (c === v) return true;
      if (c < v) lo = mid + 1;
      else hi = mid;
    }
    return false;
  }
}

/** A stable ordering of `order ?? 0..E-1` by `key` (counting sort over [0, N)). */
function countingOrder(key: ArrayLike<number>, N: number, order: Int32Array | null): Int32Array {
  const E = key.length;
  const start = new Int32Array(N + 1);
  for (let e = 0; e < E; e++) start[key[e] + 1]++;
  for (let v = 0; v < N; v++) start[v + 1] += start[v];
  const out = new Int32Array(E);
  for (let k = 0; k < E; k++) {
    const e = order ? order[k] : k;
    out[start[key[e]]++] = e;
  }
  return out;
}
