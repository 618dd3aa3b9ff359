import * as T from '@tessera/tensor';
import type { Tensor } from '@tessera/tensor';
import { Linear, parameter } from '@tessera/nn';
import { MessagePassing, type MessageArgs } from '../message-passing.js';
import { checkGraph, factory, glorot_ } from '../util.js';
import { attentionCoefficients, checkGatOptions, edgeFeatures, withSelfLoops, type AttentionOutput, type GATConvOptions, type GATForwardOptions } from './gat.js';

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
export class GATv2Conv extends MessagePassing {
  linL: Linear;
  linR: Linear;
  att: Tensor;
  linEdge: Linear | null;
  bias: Tensor | null;
  readonly heads: number;
  readonly concat: boolean;
  readonly negativeSlope: number;
  readonly dropout: number;
  readonly addSelfLoops: boolean;
  readonly edgeDim: number | undefined;
  readonly fillValue: NonNullable<GATConvOptions['fillValue']>;
  readonly shareWeights: boolean;

  constructor(readonly inChannels: number, readonly outChannels: number, options: GATv2ConvOptions = {}) {
    super({ aggr: 'sum', fuse: false });
    checkGatOptions('GATv2Conv', inChannels, outChannels, options);
    this.heads = options.heads ?? 1;
    this.concat = options.concat ?? true;
    this.negativeSlope = options.negativeSlope ?? 0.2;
    this.dropout = options.dropout ?? 0;
    this.addSelfLoops = options.addSelfLoops ?? true;
    this.edgeDim = options.edgeDim;
    this.fillValue = options.fillValue ?? 'mean';
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

  forward(x: Tensor, edgeIndex: Tensor, options: GATForwardOptions & { returnAttentionWeights: true }): AttentionOutput;
  forward(x: Tensor, edgeIndex: Tensor, options?: GATForwardOptions): Tensor;
  forward(x: Tensor, edgeIndex: Tensor, options: GATForwardOptions = {}): Tensor | AttentionOutput {
    checkGraph(this, x, edgeIndex, this.inChannels);
    const n = x.shape[0];
    const [H, C] = [this.heads, this.outChannels];
    return T.tidy(() => {
      let attr = edgeFeatures(this, options.edgeAttr, edgeIndex.shape[1], x.device);
      const xl = T.reshape(this.linL.forward(x), [n, H, C]);
      const xr = this.shareWeights ? xl : T.reshape(this.linR.forward(x), [n, H, C]);
      let ei = edgeIndex;
      let replaced: Tensor | null = null;
      if (this.addSelfLoops) ({ edgeIndex: ei, replaced, edgeAttr: attr } = withSelfLoops(edgeIndex, attr, n, this.fillValue));
      const src = T.select(ei, 0, 0);
      const dst = T.select(ei, 0, 1);
      let z = T.add(T.indexSelect(xl, 0, src), T.indexSelect(xr, 0, dst));
      if (attr && this.linEdge) z = T.add(z, T.reshape(this.linEdge.forward(attr), [-1, H, C]));
      const logits = T.sum(T.mul(T.leakyRelu(z, this.negativeSlope), this.att), { dim: -1 });
      const alpha = attentionCoefficients(logits, replaced, dst, n, this.dropout, this.training);
      const agg = this.propagate(ei, { x: xl, alpha });
      let out = this.concat ? T.reshape(agg, [n, H * C]) : T.mean(agg, { dim: 1 });
      if (this.bias) out = T.add(out, this.bias);
      return options.returnAttentionWeights ? { out, attention: { edgeIndex: T.contiguous(ei), alpha } } : out;
    });
  }

  override message({ x_j, alpha }: MessageArgs): Tensor {
    return T.mul(x_j, T.unsqueeze(alpha, -1));
  }

  protected override extraRepr(): string {
    return `${this.inChannels}, ${this.outChannels}, heads=${this.heads}`;
  }
}
