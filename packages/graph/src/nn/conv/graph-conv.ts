import * as T from '@tessera/tensor';
import type { Tensor } from '@tessera/tensor';
import { Linear, type FactoryOptions, type Module } from '@tessera/nn';
import { checkEdgeIndex } from '../../utils/loop.js';
import type { Aggregation } from '../aggr.js';
import { MessagePassing, type MessageArgs, type NodeFeatures, type PropagateArgs } from '../message-passing.js';
import { checkEdgeTensor, checkNodeFeatures, checkPositiveInt, checkSameDevice, layerName, scaleRows } from '../util.js';
import type { EdgeWeightOptions } from './gcn.js';

/** Splits `x` (a tensor, or a [source, target] pair for bipartite graphs) and checks both sides. */
export function nodePair(m: Module & { inChannels: number | readonly [number, number] }, x: NodeFeatures, edgeIndex: Tensor): [Tensor, Tensor] {
  const [inJ, inI] = typeof m.inChannels === 'number' ? [m.inChannels, m.inChannels] : m.inChannels;
  if (x instanceof T.Tensor) {
    checkNodeFeatures(m, x, inJ === inI ? inJ : undefined);
    if (inJ !== inI) throw new TypeError(`${layerName(m)}: inChannels is [${inJ}, ${inI}]: pass x as a [source, target] pair`);
  } else if (!Array.isArray(x) || x.length !== 2 || x[1] === null) {
    throw new TypeError(`${layerName(m)}: expected x to be a tensor or a [source, target] pair of tensors, received ${Array.isArray(x) ? `an array of ${x.length} with target ${x[1] === null ? 'null' : 'given'}` : typeof x}`);
  }
  const [xj, xi] = x instanceof T.Tensor ? [x, x] : (x as [Tensor, Tensor]);
  checkNodeFeatures(m, xj, inJ, x instanceof T.Tensor ? 'x' : 'x[0] (source features)');
  checkNodeFeatures(m, xi, inI, x instanceof T.Tensor ? 'x' : 'x[1] (target features)');
  if (xi.device !== xj.device) throw new Error(`${layerName(m)}: the source features are on ${xj.device} but the target features on ${xi.device}`);
  checkEdgeIndex(layerName(m), edgeIndex, xj.shape[0], xi.shape[0]);
  checkSameDevice(m, xj, edgeIndex);
  return [xj, xi];
}

export interface GraphConvOptions extends FactoryOptions {
  /** Neighbourhood aggregation (default 'sum'). */
  aggr?: Aggregation | readonly Aggregation[];
  bias?: boolean;
}

/**
 * The graph convolution of Morris et al. ("Weisfeiler and Leman go neural"; PyG's GraphConv):
 * x'_i = Θ_root x_i + Θ_rel aggr_{j→i} (e_ji x_j). forward(x, edgeIndex, { edgeWeight? }); x may be
 * a [source, target] pair. State: lin_rel.weight, lin_rel.bias, lin_root.weight.
 */
export class GraphConv extends MessagePassing {
  linRel: Linear;
  linRoot: Linear;

  constructor(readonly inChannels: number | readonly [number, number], readonly outChannels: number, options: GraphConvOptions = {}) {
    super({ aggr: options.aggr ?? 'sum' });
    const [inJ, inI] = typeof inChannels === 'number' ? [inChannels, inChannels] : inChannels;
    checkPositiveInt('GraphConv', 'inChannels', inJ);
    checkPositiveInt('GraphConv', 'inChannels', inI);
    checkPositiveInt('GraphConv', 'outChannels', outChannels);
    const multi = Array.isArray(this.aggr) ? this.aggr.length : 1;
    this.linRel = new Linear(inJ * multi, outChannels, options);
    this.linRoot = new Linear(inI, outChannels, { ...options, bias: false });
  }

  forward(x: NodeFeatures, edgeIndex: Tensor, options: EdgeWeightOptions = {}): Tensor {
    const [xj, xi] = nodePair(this, x, edgeIndex);
    checkEdgeTensor(this, options.edgeWeight, edgeIndex.shape[1], 'edgeWeight', 1, xj.device);
    return T.tidy(() => {
      const out = this.linRel.forward(this.propagate(edgeIndex, { x: [xj, xi], edgeWeight: options.edgeWeight }));
      return T.add(out, this.linRoot.forward(xi));
    });
  }

  override message({ x_j, edgeWeight }: MessageArgs): Tensor {
    return scaleRows(x_j, edgeWeight);
  }

  override messageAndAggregate(adj: T.SparseTensor, { x }: PropagateArgs): Tensor {
    return T.spmm(adj, (x as [Tensor, Tensor])[0]);
  }

  protected override extraRepr(): string {
    return `${String(this.inChannels)}, ${this.outChannels}`;
  }
}
