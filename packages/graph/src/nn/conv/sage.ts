import * as T from '@tessera/tensor';
import type { Tensor } from '@tessera/tensor';
import { F, Linear, type FactoryOptions } from '@tessera/nn';
import { MessagePassing, type MessageArgs, type NodeFeatures } from '../message-passing.js';
import { LSTMAggregation, type NeighborhoodLayout } from '../lstm-aggr.js';
import { checkPositiveInt } from '../util.js';
import { nodePair } from './graph-conv.js';

export type SAGEAggregation = 'mean' | 'max' | 'sum' | 'lstm';

export interface SAGEConvOptions extends FactoryOptions {
  /** Neighbourhood aggregator (default 'mean'). 'max' with `project` is the paper's max-pooling aggregator. */
  aggr?: SAGEAggregation;
  /** L2-normalise the output rows (default false). */
  normalize?: boolean;
  /** Add the transformed root features Θ_r x_i (default true). */
  rootWeight?: boolean;
  /** Transform neighbours by relu(W x_j + b) before aggregating (the pooling aggregator's MLP; default false). */
  project?: boolean;
  bias?: boolean;
}

/**
 * GraphSAGE (Hamilton et al.; PyG's SAGEConv): x'_i = W_l aggr_{j→i} x_j + W_r x_i, optionally
 * L2-normalised. forward(x, edgeIndex, { layout? }), x may be a [source, target] pair; `layout`
 * (from neighborhoodLayout) is needed for the LSTM aggregator off the cpu.
 * State: lin.weight/lin.bias (project), aggr_module.lstm.* (lstm), lin_l.weight, lin_l.bias, lin_r.weight.
 */
export class SAGEConv extends MessagePassing {
  lin: Linear | null;
  aggrModule: LSTMAggregation | null;
  linL: Linear;
  linR: Linear | null;
  readonly sageAggr: SAGEAggregation;
  readonly normalize: boolean;
  readonly project: boolean;

  constructor(readonly inChannels: number | readonly [number, number], readonly outChannels: number, options: SAGEConvOptions = {}) {
    const aggr = options.aggr ?? 'mean';
    if (!['mean', 'max', 'sum', 'lstm'].includes(aggr)) throw new TypeError(`SAGEConv: aggr must be 'mean', 'max', 'sum' or 'lstm', received '${String(aggr)}'`);
    super({ aggr: aggr === 'lstm' ? 'sum' : aggr, fuse: false });
    const [inJ, inI] = typeof inChannels === 'number' ? [inChannels, inChannels] : inChannels;
    checkPositiveInt('SAGEConv', 'inChannels', inJ);
    checkPositiveInt('SAGEConv', 'inChannels', inI);
    checkPositiveInt('SAGEConv', 'outChannels', outChannels);
    this.sageAggr = aggr;
    this.normalize = options.normalize ?? false;
    this.project = options.project ?? false;
    this.lin = this.project ? new Linear(inJ, inJ, { ...options, bias: true }) : null;
    this.aggrModule = aggr === 'lstm' ? new LSTMAggregation(inJ, inJ, options) : null;
    this.linL = new Linear(inJ, outChannels, options);
    this.linR = options.rootWeight === false ? null : new Linear(inI, outChannels, { ...options, bias: false });
  }

  forward(x: NodeFeatures, edgeIndex: Tensor, options: { layout?: NeighborhoodLayout } = {}): Tensor {
    const [xj, xi] = nodePair(this, x, edgeIndex);
    return T.tidy(() => {
      const src = this.lin ? T.relu(this.lin.forward(xj)) : xj;
      let out = this.linL.forward(this.propagate(edgeIndex, { x: [src, xi], layout: options.layout }));
      if (this.linR) out = T.add(out, this.linR.forward(xi));
      return this.normalize ? F.normalize(out, { p: 2, dim: -1 }) : out;
    });
  }

  override aggregate(messages: Tensor, args: MessageArgs): Tensor {
    if (!this.aggrModule) return super.aggregate(messages, args);
    return this.aggrModule.forward(messages, args.index, args.sizeI, args.layout);
  }

  protected override extraRepr(): string {
    return `${String(this.inChannels)}, ${this.outChannels}, aggr=${this.sageAggr}`;
  }
}
