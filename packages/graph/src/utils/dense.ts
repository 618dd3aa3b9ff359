import * as T from '@tessera/tensor';
import { checkEdgeAttr, checkEdgeIndex, readEdges, withIndex } from './edges.js';

export interface ToDenseAdjOptions {
  /** int32 [N], sorted: the graph of each node, for a batch of disjoint graphs. Default: one graph. */
  batch?: T.Tensor;
  /** Per-edge values [E] or [E, ...F] summed into the matrix (stays differentiable); default 1 per edge. */
  edgeAttr?: T.Tensor;
  /** Size of each graph's matrix; default the largest graph. Edges to nodes beyond it are dropped. */
  maxNumNodes?: number;
  /** Number of graphs; default batch's largest id + 1. */
  batchSize?: number;
}

/**
 * Dense adjacency matrices [B, N, N] (or [B, N, N, ...F] with a multi-dim `edgeAttr`) of a batch
 * of graphs, zero-padded to N nodes; duplicate edges add up (PyG's `to_dense_adj`). Async: the
 * edge index and batch vector are read back.
 */
export async function toDenseAdj(edgeIndex: T.Tensor, options: ToDenseAdjOptions = {}): Promise<T.Tensor> {
  const op = 'toDenseAdj';
  checkEdgeIndex(op, edgeIndex);
  const device = edgeIndex.device;
  const { batch } = options;
  let nodeGraph: Int32Array;
  if (batch !== undefined) {
    if (!T.isTensor(batch) || batch.isDisposed) throw new TypeError(`${op}: expected batch to be a live int32 Tensor`);
    if (batch.rank !== 1 || batch.dtype !== 'int32') throw new TypeError(`${op}: expected batch to be an int32 vector [N], received ${batch.dtype} [${batch.shape.join(', ')}]`);
    if (batch.device !== device) throw new Error(`${op}: expected batch on the edge index's device '${device}', received '${batch.device}'`);
    nodeGraph = (await batch.data()) as Int32Array;
    for (let i = 0; i < nodeGraph.length; i++) {
      if (nodeGraph[i] < 0 || (i > 0 && nodeGraph[i] < nodeGraph[i - 1])) throw new RangeError(`${op}: batch must be non-negative and sorted ascending; batch[${i}] = ${nodeGraph[i]}`);
    }
  }
  const { row, col, numNodes } = await readEdges(op, edgeIndex, batch ? batch.shape[0] : undefined);
  nodeGraph ??= new Int32Array(numNodes);
  const attr = checkEdgeAttr(op, options.edgeAttr, row.length, device);
  if (attr && !(attr.dtype === 'float32' || attr.dtype === 'float64')) throw new TypeError(`${op}: expected a float edgeAttr, received ${attr.dtype}`);
  const B = options.batchSize ?? (nodeGraph.length ? nodeGraph[nodeGraph.length - 1] + 1 : batch ? 0 : 1);
  if (!Number.isInteger(B) || B < 0) throw new RangeError(`${op}: batchSize must be a non-negative integer, received ${B}`);
  const counts = new Int32Array(B);
  for (const g of nodeGraph) {
    if (g >= B) throw new RangeError(`${op}: batch holds graph id ${g}, outside [0, ${B}) for batchSize ${B}`);
    counts[g]++;
  }
  const start = new Int32Array(B);
  for (let g = 1; g < B; g++) start[g] = start[g - 1] + counts[g - 1];
  let N = options.maxNumNodes ?? counts.reduce((a, b) => Math.max(a, b), 0);
  if (!Number.isInteger(N) || N < 0) throw new RangeError(`${op}: maxNumNodes must be a non-negative integer, received ${N}`);
  if (options.maxNumNodes === undefined && batch === undefined) N = numNodes;
  if (B * N * N > 2 ** 31 - 1) throw new RangeError(`${op}: a dense [${B}, ${N}, ${N}] adjacency has more than 2^31 entries`);
  // the flat cell (graph, i, j) of each kept edge; edges beyond maxNumNodes are dropped
  const E = row.length;
  const keptCell: number[] = [];
  const keptEdge: number[] = [];
  for (let e = 0; e < E; e++) {
    const g = nodeGraph[row[e]];
    if (nodeGraph[col[e]] !== g) throw new RangeError(`${op}: edge ${e} = (${row[e]}, ${col[e]}) joins graphs ${g} and ${nodeGraph[col[e]]} of the batch`);
    const i = row[e] - start[g];
    const j = col[e] - start[g];
    if (i >= N || j >= N) continue;
    keptEdge.push(e);
    keptCell.push((g * N + i) * N + j);
  }
  const cells = B * N * N;
  const featShape = attr ? attr.shape.slice(1) : [];
  if (keptEdge.length === 0) return T.zeros([B, N, N, ...featShape], { dtype: attr?.dtype ?? 'float32', device });
  // sort the kept edges by cell so that a segment sum adds duplicates deterministically
  const order = keptEdge.map((_, k) => k).sort((a, b) => keptCell[a] - keptCell[b] || a - b);
  const sortedEdge = order.map((k) => keptEdge[k]);
  const sortedCell = order.map((k) => keptCell[k]);
  return withIndex(sortedCell, device, (seg) => T.tidy(() => {
    const values = attr
      ? withIndex(sortedEdge, device, (idx) => T.indexSelect(attr, 0, idx))
      : T.ones([sortedEdge.length], { device });
    return T.reshape(T.segmentSum(values, seg, cells), [B, N, N, ...featShape]);
  }));
}
