import * as T from '@tessera/tensor';
import type { Tensor } from '@tessera/tensor';
import { Linear, parameter } from '@tessera/nn';
import { factory, glorot_ } from '../util.js';
import { GATBase, type GATConvOptions, type LoopedGraph } from './gat.js';

export interface GATv2ConvOptions extends GATConvOptions {
  /** One weight matrix for sources and targets (default false). */
  shareWeights?: boolean;
}

/**
 * GATv2 (Brody et al.; PyG's GATv2Conv), "dynamic" attention:
 * α_ij = softmax_j(aᵀ LeakyReLU(Θ_r x_i + Θ_l x_j [+ Θ_e e_ji])), x'_i = Σ_j α_ij Θ_l x_j per head.
 * forward(x, edgeIndex, { edgeAttr?, returnAttentionWeights? }).
 * State: lin_l.weight, lin_l.bias, lin_r.weight, lin_r.bias, att, [lin_edge.weight], bias.
 */
export class GATv2Conv extends GATBase {
  linL: Linear;
  linR: Linear;
  att: Tensor;
  linEdge: Linear | null;
  bias: Tensor | null;
  readonly shareWeights: boolean;

  constructor(inChannels: number, outChannels: number, options: GATv2ConvOptions = {}) {
    super('GATv2Conv', inChannels, outChannels, options);
    this.shareWeights = options.shareWeights ?? false;
    const hc = this.heads * outChannels;
    const f = factory(options);
    const bias = options.bias ?? true;
    this.linL = new Linear(inChannels, hc, { ...options, bias });
    glorot_(this.linL.weight);
    this.linR = this.shareWeights ? this.linL : new Linear(inChannels, hc, { ...options, bias });
    if (!this.shareWeights) glorot_(this.linR.weight);
    this.att = parameter(glorot_(T.zeros([1, this.heads, outChannels], f)));
    this.linEdge = this.edgeDim === undefined ? null : new Linear(this.edgeDim, hc, { ...options, bias: false });
    if (this.linEdge) glorot_(this.linEdge.weight);
    this.bias = bias ? parameter(T.zeros([this.concat ? hc : outChannels], f)) : null;
  }

  protected scores(x: Tensor, g: LoopedGraph & { src: Tensor; dst: Tensor }): { h: Tensor; logits: Tensor } {
    const shape = [x.shape[0], this.heads, this.outChannels];
    const xl = T.reshape(this.linL.forward(x), shape);
    const xr = this.shareWeights ? xl : T.reshape(this.linR.forward(x), shape);
    let z = T.add(T.indexSelect(xl, 0, g.src), T.indexSelect(xr, 0, g.dst));
    if (g.edgeAttr && this.linEdge) z = T.add(z, T.reshape(this.linEdge.forward(g.edgeAttr), [-1, this.heads, this.outChannels]));
    return { h: xl, logits: T.sum(T.mul(T.leakyRelu(z, this.negativeSlope), this.att), { dim: -1 }) };
  }
}
