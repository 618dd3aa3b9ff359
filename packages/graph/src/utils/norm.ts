/**
 * Degree, GCN normalisation, graph Laplacians in edge-list form and the edge softmax. All stay on
 * the device with shapes fixed by the input (no readback), and all are differentiable with
 * respect to the edge weights and values.
 */
import * as T from '@tessera/tensor';
import type { Tensor } from '@tessera/tensor';
import { noGrad } from '@tessera/autodiff';
import { addRemainingSelfLoops, checkEdgeIndex, inferNumNodes, loopIndex, selfLoopMask, spreadRows } from './loop.js';

const shapeStr = (s: readonly number[]) => `[${s.join(', ')}]`;

function checkIndexVector(op: string, index: unknown, name = 'index'): asserts index is Tensor {
  if (!(index instanceof T.Tensor) || index.dtype !== 'int32' || index.rank !== 1) {
    const got = index instanceof T.Tensor ? `${index.dtype} tensor of shape ${shapeStr(index.shape)}` : typeof index;
    throw new TypeError(`${op}: expected ${name} to be a 1-D int32 tensor, received ${got}`);
  }
}

function checkWeight(op: string, w: Tensor | null | undefined, e: number, name = 'edgeWeight'): void {
  if (w === undefined || w === null) return;
  if (!(w instanceof T.Tensor) || w.rank !== 1 || w.shape[0] !== e) {
    throw new RangeError(`${op}: expected ${name} of shape [${e}] (one per edge), received ${w instanceof T.Tensor ? shapeStr(w.shape) : typeof w}`);
  }
  if (w.dtype !== 'float32' && w.dtype !== 'float64') throw new TypeError(`${op}: expected a float ${name}, received ${w.dtype}`);
}

/** Sum of `weight` (or the count of entries) per value of `index` [E] -> [numNodes]. */
export function degree(index: Tensor, numNodes: number, options: { weight?: Tensor | null; dtype?: 'float32' | 'float64' } = {}): Tensor {
  const op = 'degree';
  checkIndexVector(op, index);
  if (!Number.isInteger(numNodes) || numNodes < 0) throw new RangeError(`${op}: numNodes must be a non-negative integer, received ${numNodes}`);
  checkWeight(op, options.weight, index.shape[0], 'weight');
  return T.tidy(() => {
    const dtype = options.weight?.dtype ?? options.dtype ?? 'float32';
    const w = options.weight ?? T.ones([index.shape[0]], { dtype, device: index.device });
    return T.scatterAdd(T.zeros([numNodes], { dtype, device: index.device }), 0, index, w);
  });
}

/** d^p where d > 0, else 0 (an isolated node gets 0, not inf; no inf reaches the gradient either). */
function safePow(deg: Tensor, p: number): Tensor {
  return T.tidy(() => {
    const pos = T.gt(deg, 0);
    return T.where(pos, T.pow(T.where(pos, deg, 1), p), 0);
  });
}

export interface GcnNormOptions {
  /** Add self-loops (default true): existing loops keep their weight, the others get weight 1 (2 when improved). */
  addSelfLoops?: boolean;
  /** Self-loop weight 2 instead of 1 (Kipf & Welling's "improved" GCN; default false). */
  improved?: boolean;
  /** 'source_to_target' (default): degrees over targets (edgeIndex[1]); 'target_to_source': over sources. */
  flow?: 'source_to_target' | 'target_to_source';
  /** dtype of the weights when edgeWeight is absent (default float32). */
  dtype?: 'float32' | 'float64';
}

/**
 * Symmetric GCN normalisation D^-1/2 (A + I) D^-1/2 in edge-list form (PyG's gcn_norm): returns the
 * edge index (with the loops appended, see addRemainingSelfLoops) and the weight of each edge,
 * w_ji / sqrt(d_j d_i). Degrees of 0 give weight 0 rather than inf.
 */
export function gcnNorm(edgeIndex: Tensor, edgeWeight: Tensor | null | undefined, numNodes: number, options: GcnNormOptions = {}): { edgeIndex: Tensor; edgeWeight: Tensor } {
  const op = 'gcnNorm';
  checkEdgeIndex(op, edgeIndex);
  checkWeight(op, edgeWeight, edgeIndex.shape[1]);
  const n = inferNumNodes(op, edgeIndex, numNodes);
  const flow = options.flow ?? 'source_to_target';
  if (flow !== 'source_to_target' && flow !== 'target_to_source') throw new TypeError(`${op}: flow must be 'source_to_target' or 'target_to_source', received '${String(flow)}'`);
  return T.tidy(() => {
    let ei = edgeIndex;
    let w = edgeWeight ?? T.ones([edgeIndex.shape[1]], { dtype: options.dtype ?? 'float32', device: edgeIndex.device });
    if (options.addSelfLoops ?? true) ({ edgeIndex: ei, edgeAttr: w } = addRemainingSelfLoops(ei, w, { fillValue: options.improved ? 2 : 1, numNodes: n }));
    else checkEdgeIndex(op, ei, n);
    const row = T.select(ei, 0, 0);
    const col = T.select(ei, 0, 1);
    const dinv = safePow(degree(flow === 'source_to_target' ? col : row, n, { weight: w }), -0.5);
    return { edgeIndex: ei, edgeWeight: T.mul(T.mul(T.indexSelect(dinv, 0, row), w), T.indexSelect(dinv, 0, col)) };
  });
}

export type LaplacianNormalization = null | 'sym' | 'rw';

/**
 * The graph Laplacian in edge-list form (PyG's get_laplacian), with self-loops ignored:
 * null: L = D - A; 'sym': L = I - D^-1/2 A D^-1/2; 'rw': L = I - D^-1 A (degrees d_j = Σ_i w_ji over
 * each edge's source). `dtype` sets the values' dtype when edgeWeight is absent. Returns [2, E + N] indices: the E input edges with their off-diagonal value
 * (0 for input self-loops), then the N diagonal entries.
 */
export function laplacian(edgeIndex: Tensor, edgeWeight: Tensor | null | undefined, numNodes: number, options: { normalization?: LaplacianNormalization; dtype?: 'float32' | 'float64' } = {}): { edgeIndex: Tensor; edgeWeight: Tensor } {
  const op = 'laplacian';
  checkEdgeIndex(op, edgeIndex);
  const n = inferNumNodes(op, edgeIndex, numNodes);
  checkEdgeIndex(op, edgeIndex, n);
  const e = edgeIndex.shape[1];
  checkWeight(op, edgeWeight, e);
  const norm = options.normalization ?? null;
  if (norm !== null && norm !== 'sym' && norm !== 'rw') throw new TypeError(`${op}: normalization must be null, 'sym' or 'rw', received '${String(norm)}'`);
  return T.tidy(() => {
    const ones = T.ones([e], { dtype: edgeWeight?.dtype ?? options.dtype ?? 'float32', device: edgeIndex.device });
    const w = T.where(selfLoopMask(edgeIndex), 0, edgeWeight ?? ones);
    const row = T.select(edgeIndex, 0, 0);
    const col = T.select(edgeIndex, 0, 1);
    const deg = degree(row, n, { weight: w });
    let off: Tensor;
    let diag: Tensor;
    if (norm === null) {
      off = T.neg(w);
      diag = deg;
    } else if (norm === 'sym') {
      const dinv = safePow(deg, -0.5);
      off = T.neg(T.mul(T.mul(T.indexSelect(dinv, 0, row), w), T.indexSelect(dinv, 0, col)));
      diag = T.ones([n], { dtype: w.dtype, device: w.device });
    } else {
      off = T.neg(T.mul(T.indexSelect(safePow(deg, -1), 0, row), w));
      diag = T.ones([n], { dtype: w.dtype, device: w.device });
    }
    return { edgeIndex: T.cat([edgeIndex, loopIndex(n, edgeIndex.device)], 1), edgeWeight: T.cat([off, diag], 0) };
  });
}

/**
 * Softmax of `src` [E, ...] over the entries that share a value of `index` [E] (PyG's
 * utils.softmax, e.g. attention over each node's incoming edges). `index` need not be sorted.
 * The per-group max is subtracted (without gradient: it cancels) for stability.
 */
export function softmax(src: Tensor, index: Tensor, numNodes: number): Tensor {
  const op = 'softmax';
  if (!(src instanceof T.Tensor) || src.rank < 1 || (src.dtype !== 'float32' && src.dtype !== 'float64')) {
    throw new TypeError(`${op}: expected src to be a float tensor of rank >= 1, received ${src instanceof T.Tensor ? `${src.dtype} ${shapeStr(src.shape)}` : typeof src}`);
  }
  checkIndexVector(op, index);
  if (index.shape[0] !== src.shape[0]) throw new RangeError(`${op}: expected index of shape [${src.shape[0]}] (one per row of src ${shapeStr(src.shape)}), received ${shapeStr(index.shape)}`);
  if (!Number.isInteger(numNodes) || numNodes < 0) throw new RangeError(`${op}: numNodes must be a non-negative integer, received ${numNodes}`);
  if (src.device !== index.device) throw new Error(`${op}: src is on ${src.device} but index is on ${index.device}`);
  return T.tidy(() => {
    const rows = spreadRows(index, src.shape);
    const zeros = T.zeros([numNodes, ...src.shape.slice(1)], { dtype: src.dtype, device: src.device });
    const max = noGrad(() => T.scatterReduce(zeros, 0, rows, src, 'amax', { includeSelf: false }));
    const ex = T.exp(T.sub(src, T.indexSelect(max, 0, index)));
    const sum = T.scatterAdd(zeros, 0, rows, ex);
    return T.div(ex, T.add(T.indexSelect(sum, 0, index), 1e-16));
  });
}
