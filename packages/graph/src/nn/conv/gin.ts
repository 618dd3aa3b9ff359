import * as T from '@tessera/tensor';
import type { Tensor } from '@tessera/tensor';
import { buffer, Linear, Module, parameter, type FactoryOptions } from '@tessera/nn';
import { MessagePassing, type MessageArgs, type PropagateArgs } from '../message-passing.js';
import { checkEdgeTensor, checkGraph, checkPositiveInt, factory, layerName, shapeStr } from '../util.js';

export interface GINConvOptions extends FactoryOptions {
  /** Initial ε (default 0). */
  eps?: number;
  /** Learn ε (default false: it is a buffer). */
  trainEps?: boolean;
}

function checkNn(layer: string, nn: unknown): asserts nn is Module {
  if (!(nn instanceof Module)) throw new TypeError(`${layer}: expected nn to be a Module (e.g. an MLP), received ${nn === null ? 'null' : typeof nn}`);
}

function makeEps(options: GINConvOptions): Tensor {
  const eps = options.eps ?? 0;
  if (!Number.isFinite(eps)) throw new RangeError(`GINConv: eps must be a finite number, received ${eps}`);
  const t = T.full([1], eps, factory(options));
  return options.trainEps ? parameter(t) : buffer(t);
}

/**
 * Graph isomorphism network layer (Xu et al.; PyG's GINConv): x'_i = nn((1 + ε) x_i + Σ_{j→i} x_j).
 * forward(x, edgeIndex). State: nn.*, eps (a parameter with trainEps, else a buffer).
 */
export class GINConv extends MessagePassing {
  nn: Module;
  eps: Tensor;

  constructor(nn: Module, options: GINConvOptions = {}) {
    super({ aggr: 'sum' });
    checkNn('GINConv', nn);
    this.nn = nn;
    this.eps = makeEps(options);
  }

  forward(x: Tensor, edgeIndex: Tensor): Tensor {
    checkGraph(this, x, edgeIndex);
    return T.tidy(() => {
      const agg = this.propagate(edgeIndex, { x });
      return this.nn.forward(T.add(agg, T.mul(x, T.add(this.eps, 1))));
    });
  }

  override messageAndAggregate(adj: T.SparseTensor, { x }: PropagateArgs): Tensor {
    return T.spmm(adj, x as Tensor);
  }
}

export interface GINEConvOptions extends GINConvOptions {
  /** Edge feature size; when given, edge features are mapped to the node feature size by a Linear `lin`. */
  edgeDim?: number;
  /** Node feature size (needed with edgeDim when nn does not start with a Linear). */
  inChannels?: number;
}

/**
 * GIN with edge features (Hu et al.; PyG's GINEConv): x'_i = nn((1 + ε) x_i + Σ_{j→i} relu(x_j + Θ e_ji)).
 * forward(x, edgeIndex, { edgeAttr }). State: nn.*, eps, [lin.weight, lin.bias].
 */
export class GINEConv extends MessagePassing {
  nn: Module;
  eps: Tensor;
  lin: Linear | null;

  constructor(nn: Module, options: GINEConvOptions = {}) {
    super({ aggr: 'sum', fuse: false });
    checkNn('GINEConv', nn);
    this.nn = nn;
    this.eps = makeEps(options);
    this.lin = null;
    if (options.edgeDim !== undefined) {
      checkPositiveInt('GINEConv', 'edgeDim', options.edgeDim);
      const first = [...nn.modules()].find((m) => m instanceof Linear) as Linear | undefined;
      const inChannels = options.inChannels ?? first?.inFeatures;
      if (inChannels === undefined) throw new Error('GINEConv: pass inChannels with edgeDim (nn has no Linear to read it from)');
      checkPositiveInt('GINEConv', 'inChannels', inChannels);
      this.lin = new Linear(options.edgeDim, inChannels, options);
    }
  }

  forward(x: Tensor, edgeIndex: Tensor, options: { edgeAttr?: Tensor } = {}): Tensor {
    checkGraph(this, x, edgeIndex);
    const e = edgeIndex.shape[1];
    const attr = options.edgeAttr;
    if (!attr) throw new Error(`${layerName(this)}: edgeAttr is required (use GINConv for graphs without edge features)`);
    checkEdgeTensor(this, attr, e, 'edgeAttr', 2, x.device);
    const want = this.lin ? this.lin.inFeatures : x.shape[1];
    if (attr.shape[1] !== want) {
      throw new RangeError(`${layerName(this)}: expected edgeAttr of shape [${e}, ${want}]${this.lin ? ' (edgeDim)' : ' (the node feature size; pass edgeDim to map other sizes)'}, received ${shapeStr(attr.shape)}`);
    }
    return T.tidy(() => {
      const edge = this.lin ? this.lin.forward(attr) : attr;
      if (edge.shape[1] !== x.shape[1]) throw new RangeError(`${layerName(this)}: lin maps edge features to ${edge.shape[1]} channels but x has ${x.shape[1]}`);
      const agg = this.propagate(edgeIndex, { x, edgeAttr: edge });
      return this.nn.forward(T.add(agg, T.mul(x, T.add(this.eps, 1))));
    });
  }

  override message({ x_j, edgeAttr }: MessageArgs): Tensor {
    return T.relu(T.add(x_j, edgeAttr));
  }
}
