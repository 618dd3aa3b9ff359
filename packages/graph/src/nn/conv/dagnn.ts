import * as T from '@tessera/tensor';
import type { Tensor } from '@tessera/tensor';
import { Linear, type FactoryOptions } from '@tessera/nn';
import { gcnNorm } from '../../utils/norm.js';
import { MessagePassing, type MessageArgs, type PropagateArgs } from '../message-passing.js';
import { checkEdgeTensor, checkGraph, checkPositiveInt, scaleRows, floatOf } from '../util.js';
import type { EdgeWeightOptions } from './gcn.js';

/**
 * DAGNN's adaptive propagation (Liu et al., "Towards Deeper Graph Neural Networks"):
 * H_0 = X, H_k = Â H_{k-1} (Â = D^-1/2 (A + I) D^-1/2) for k = 1..K, retention scores
 * s_k = σ(H_k w + b) per node, output Σ_k s_k H_k. forward(x [N, C], edgeIndex, { edgeWeight? }) -> [N, C].
 * State: proj.weight [1, C], proj.bias [1].
 */
export class DAGNNProp extends MessagePassing {
  proj: Linear;

  constructor(readonly K: number, readonly inChannels: number, options: FactoryOptions = {}) {
    super({ aggr: 'sum' });
    checkPositiveInt('DAGNNProp', 'K', K);
    checkPositiveInt('DAGNNProp', 'inChannels', inChannels);
    this.proj = new Linear(inChannels, 1, options);
  }

  forward(x: Tensor, edgeIndex: Tensor, options: EdgeWeightOptions = {}): Tensor {
    checkGraph(this, x, edgeIndex, this.inChannels);
    checkEdgeTensor(this, options.edgeWeight, edgeIndex.shape[1], 'edgeWeight', 1, x.device);
    return T.tidy(() => {
      const norm = gcnNorm(edgeIndex, options.edgeWeight, x.shape[0], { flow: this.flow, dtype: floatOf(x) });
      const hs = [x];
      for (let k = 0; k < this.K; k++) hs.push(this.propagate(norm.edgeIndex, { x: hs[k], edgeWeight: norm.edgeWeight }));
      const stacked = T.stack(hs, 1);
      const scores = T.sigmoid(this.proj.forward(stacked));
      return T.sum(T.mul(stacked, scores), { dim: 1 });
    });
  }

  override message({ x_j, edgeWeight }: MessageArgs): Tensor {
    return scaleRows(x_j, edgeWeight);
  }

  override messageAndAggregate(adj: T.SparseTensor, { x }: PropagateArgs): Tensor {
    return T.spmm(adj, x as Tensor);
  }

  protected override extraRepr(): string {
    return `K=${this.K}, inChannels=${this.inChannels}`;
  }
}
