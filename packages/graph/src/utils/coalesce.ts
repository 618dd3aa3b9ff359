import * as T from '@tessera/tensor';
import { checkEdgeAttr, edgeTensor, readEdges, sortEdgesPerm, withIndex } from './edges.js';

/** How the attributes of duplicate edges are merged. */
export type EdgeReduce = 'add' | 'sum' | 'mean' | 'min' | 'max' | 'mul';
const REDUCES: readonly EdgeReduce[] = ['add', 'sum', 'mean', 'min', 'max', 'mul'];

export interface CoalesceOptions {
  /** Per-edge values [E, ...] merged over duplicates with `reduce` (stays differentiable). */
  edgeAttr?: T.Tensor;
  /** Node count; default: the largest id + 1. Ids must lie below it. */
  numNodes?: number;
  /** Default 'add', as PyG. */
  reduce?: EdgeReduce;
  /** Sort by (row, col) (default) or by (col, row). */
  sortByRow?: boolean;
}

export interface EdgeResult {
  /** int32 [2, E']. */
  edgeIndex: T.Tensor;
  /** [E', ...] when an `edgeAttr` was given. */
  edgeAttr?: T.Tensor;
}

export function checkReduce(op: string, reduce: unknown): EdgeReduce {
  if (!REDUCES.includes(reduce as EdgeReduce)) throw new TypeError(`${op}: reduce must be one of ${REDUCES.join(', ')}, received '${String(reduce)}'`);
  return reduce as EdgeReduce;
}

/**
 * Sorts edges by (row, col) and merges duplicates, reducing their attributes (PyG's `coalesce`).
 * Async: the edge index is read back; the attributes stay on the device and are reduced there.
 */
export async function coalesce(edgeIndex: T.Tensor, options: CoalesceOptions = {}): Promise<EdgeResult> {
  const op = 'coalesce';
  const { row, col, numNodes } = await readEdges(op, edgeIndex, options.numNodes);
  const attr = checkEdgeAttr(op, options.edgeAttr, row.length, edgeIndex.device);
  const reduce = checkReduce(op, options.reduce ?? 'add');
  return coalesceHost(row, col, numNodes, edgeIndex.device, attr, reduce, options.sortByRow ?? true);
}

/** coalesce on edges already read back (shared with toUndirected). */
export function coalesceHost(
  row: Int32Array, col: Int32Array, numNodes: number, device: T.DeviceName,
  attr: T.Tensor | undefined, reduce: EdgeReduce, sortByRow = true,
): EdgeResult {
  const E = row.length;
  const perm = sortEdgesPerm(row, col, numNodes, !sortByRow);
  // segment id of each sorted edge; a new segment starts where (row, col) changes
  const seg = new Int32Array(E);
  const outRow: number[] = [];
  const outCol: number[] = [];
  let identityOrder = true;
  for (let i = 0; i < E; i++) {
    const e = perm[i];
    if (e !== i) identityOrder = false;
    const fresh = i === 0 || row[e] !== outRow[outRow.length - 1] || col[e] !== outCol[outCol.length - 1];
    if (fresh) {
      outRow.push(row[e]);
      outCol.push(col[e]);
    }
    seg[i] = outRow.length - 1;
  }
  const result: EdgeResult = { edgeIndex: edgeTensor(outRow, outCol, device) };
  if (attr) {
    try {
      result.edgeAttr = identityOrder && outRow.length === E ? T.reshape(attr, [...attr.shape]) : reduceSegments(attr, perm, seg, outRow.length, reduce);
    } catch (e) {
      result.edgeIndex.dispose();
      throw e;
    }
  }
  return result;
}

/** attr rows gathered in `perm` order, then reduced over the sorted segment ids `seg`. */
function reduceSegments(attr: T.Tensor, perm: Int32Array, seg: Int32Array, numSegments: number, reduce: EdgeReduce): T.Tensor {
  const device = attr.device;
  return withIndex(perm, device, (p) => withIndex(seg, device, (s) => T.tidy(() => {
    const sorted = T.indexSelect(attr, 0, p);
    switch (reduce) {
      case 'add':
      case 'sum': return T.segmentSum(sorted, s, numSegments);
      case 'mean': return T.segmentMean(sorted, s, numSegments);
      case 'max': return T.segmentMax(sorted, s, numSegments).values;
      case 'min': return T.segmentMin(sorted, s, numSegments).values;
      case 'mul': {
        const index = T.expand(T.reshape(s, [seg.length, ...sorted.shape.slice(1).map(() => 1)]), [...sorted.shape]);
        const init = T.ones([numSegments, ...sorted.shape.slice(1)], { dtype: sorted.dtype, device });
        return T.scatterReduce(init, 0, T.contiguous(index), sorted, 'prod');
      }
    }
  })));
}
