import * as T from '@tessera/tensor';
import type { Tensor } from '@tessera/tensor';
import { addRemainingSelfLoops, checkEdgeIndex, inferNumNodes } from '../utils/loop.js';
import { degree } from '../utils/norm.js';

export interface ClusterGcnNormOptions {
  /** Number of nodes; default the largest id + 1 (cpu only; pass it on webgpu). */
  numNodes?: number;
  /** λ of the diagonal enhancement (default 0: plain row normalisation of A + I). */
  lambda?: number;
  /** Weights of the input edges [E] (default 1): A holds them. */
  edgeWeight?: Tensor | null;
  /** dtype of the weights when edgeWeight is absent (default float32). */
  dtype?: 'float32' | 'float64';
}

/**
 * Cluster-GCN's normalisation with diagonal enhancement (Chiang et al. 2019, eq. 10–11):
 * Ã = (D + I)^-1 (A + I), then Ã + λ diag(Ã), in edge-list form. Returns the edge index with one
 * self-loop per node appended (as `gcnNorm`: an existing loop keeps its weight and moves to the
 * appended slot, its original column gets weight 0) and the weight of each edge: an edge j → i
 * gets A_ij / (d_i + 1) and the loop of i gets (1 + λ) / (d_i + 1), d_i being i's weighted
 * in-degree. Each node's incoming weights sum to 1 + λ / (d_i + 1).
 *
 * Use the weights with a layer that takes them as given, e.g.
 * `new GCNConv(inC, outC, { normalize: false })` and `conv.forward(x, edgeIndex, { edgeWeight })`.
 * Stays on the device, no read-back; differentiable in edgeWeight.
 */
export function clusterGcnNorm(edgeIndex: Tensor, options: ClusterGcnNormOptions = {}): { edgeIndex: Tensor; edgeWeight: Tensor } {
  const op = 'clusterGcnNorm';
  checkEdgeIndex(op, edgeIndex);
  const lambda = options.lambda ?? 0;
  if (typeof lambda !== 'number' || !Number.isFinite(lambda)) throw new RangeError(`${op}: lambda must be a finite number, received ${String(lambda)}`);
  const e = edgeIndex.shape[1];
  const w = options.edgeWeight ?? null;
  if (w !== null) {
    if (!T.isTensor(w) || w.rank !== 1 || w.shape[0] !== e) throw new RangeError(`${op}: expected edgeWeight of shape [${e}] (one per edge), received ${T.isTensor(w) ? `[${w.shape.join(', ')}]` : typeof w}`);
    if (w.dtype !== 'float32' && w.dtype !== 'float64') throw new TypeError(`${op}: expected a float edgeWeight, received ${w.dtype}`);
    if (w.device !== edgeIndex.device) throw new Error(`${op}: expected edgeWeight on the edge index's device '${edgeIndex.device}', received '${w.device}'`);
  }
  const n = inferNumNodes(op, edgeIndex, options.numNodes);
  checkEdgeIndex(op, edgeIndex, n);
  return T.tidy(() => {
    const dtype = w?.dtype ?? options.dtype ?? 'float32';
    const weights = w ?? T.ones([e], { dtype, device: edgeIndex.device });
    const looped = addRemainingSelfLoops(edgeIndex, weights, { fillValue: 1, numNodes: n });
    const target = T.select(looped.edgeIndex, 0, 1);
    const deg = degree(target, n, { weight: looped.edgeAttr });
    // d_i + 1 > 0 unless a node's only in-edge is a loop of weight 0: give such rows 0, not inf
    const pos = T.gt(deg, 0);
    const inv = T.where(pos, T.reciprocal(T.where(pos, deg, 1)), 0);
    const scale = T.cat([T.ones([e], { dtype, device: edgeIndex.device }), T.full([n], 1 + lambda, { dtype, device: edgeIndex.device })], 0);
    return { edgeIndex: looped.edgeIndex, edgeWeight: T.mul(T.mul(looped.edgeAttr, T.indexSelect(inv, 0, target)), scale) };
  });
}
