import * as T from '@tessera/tensor';
import type { Tensor } from '@tessera/tensor';
import { F, Linear, parameter, type FactoryOptions, type Module } from '@tessera/nn';
import { loopIndex, selfLoopMask, spreadRows } from '../../utils/loop.js';
import { softmax } from '../../utils/norm.js';
import { MessagePassing, type MessageArgs } from '../message-passing.js';
import { checkEdgeTensor, checkGraph, checkPositiveInt, checkProbability, factory, glorot_, layerName, shapeStr } from '../util.js';

export interface GATConvOptions extends FactoryOptions {
  /** Number of attention heads (default 1). */
  heads?: number;
  /** Concatenate the heads' outputs (default true) or average them. */
  concat?: boolean;
  /** LeakyReLU slope of the attention logits (default 0.2). */
  negativeSlope?: number;
  /** Dropout on the normalised attention coefficients in training (default 0). */
  dropout?: number;
  /** Give every node a self-loop (default true; existing loops are replaced, see below). */
  addSelfLoops?: boolean;
  /** Edge feature size: edge features then enter the attention logits. */
  edgeDim?: number;
  /** Edge features of the added loops: a number, or 'mean' (default) / 'sum' / 'max' / 'min' of the node's incoming edges' features. */
  fillValue?: number | 'mean' | 'sum' | 'add' | 'max' | 'min';
  bias?: boolean;
}

export interface GATForwardOptions {
  /** Edge features [E, edgeDim] (or [E] when edgeDim is 1). */
  edgeAttr?: Tensor | null;
  /** Also return the edge index the attention ran over and its coefficients [E', heads]. */
  returnAttentionWeights?: boolean;
}

export interface AttentionOutput {
  out: Tensor;
  /** The edges the attention ran over ([2, E + N] with loops added) and α per edge and head. */
  attention: { edgeIndex: Tensor; alpha: Tensor };
}

/** Edge structure after the self-loop step shared by GATConv and GATv2Conv. */
export interface LoopedGraph {
  edgeIndex: Tensor;
  /** bool [E'] marking input self-loops that the appended loops replace (their attention is 0), or null. */
  replaced: Tensor | null;
  edgeAttr: Tensor | null;
}

/**
 * PyG removes existing self-loops and appends one per node; here, to keep shapes independent of
 * the data, existing loops stay in place but are masked out of the attention (α = 0), and one loop
 * per node is appended. Loop edge features come from `fill` over the other incoming edges.
 */
export function withSelfLoops(edgeIndex: Tensor, edgeAttr: Tensor | null, n: number, fill: GATConvOptions['fillValue']): LoopedGraph {
  const replaced = selfLoopMask(edgeIndex);
  const ei = T.cat([edgeIndex, loopIndex(n, edgeIndex.device)], 1);
  if (!edgeAttr) return { edgeIndex: ei, replaced: T.cat([replaced, T.zeros([n], { dtype: 'bool', device: edgeIndex.device })], 0), edgeAttr: null };
  const rowShape = edgeAttr.shape.slice(1);
  const like = { dtype: edgeAttr.dtype, device: edgeAttr.device };
  let loops: Tensor;
  if (typeof fill === 'number') {
    loops = T.full([n, ...rowShape], fill, like);
  } else {
    // Input loops are sent to a spare slot n, so they take no part in the fill reduction.
    const col = T.where(replaced, n, T.select(edgeIndex, 0, 1));
    const rows = spreadRows(col, edgeAttr.shape);
    const zeros = T.zeros([n + 1, ...rowShape], like);
    const op = ({ mean: 'mean', sum: 'sum', add: 'sum', max: 'amax', min: 'amin' } as const)[fill ?? 'mean'];
    const reduced = op === 'sum' ? T.scatterAdd(zeros, 0, rows, edgeAttr) : T.scatterReduce(zeros, 0, rows, edgeAttr, op, { includeSelf: false });
    loops = T.narrow(reduced, 0, 0, n);
  }
  return { edgeIndex: ei, replaced: T.cat([replaced, T.zeros([n], { dtype: 'bool', device: edgeIndex.device })], 0), edgeAttr: T.cat([edgeAttr, loops], 0) };
}

/** Attention logits -> coefficients: replaced loops masked out, softmax over each target's edges, dropout. */
export function attentionCoefficients(logits: Tensor, replaced: Tensor | null, index: Tensor, n: number, dropout: number, training: boolean): Tensor {
  const masked = replaced ? T.where(T.unsqueeze(replaced, -1), -Infinity, logits) : logits;
  const alpha = softmax(masked, index, n);
  return dropout > 0 && training ? F.dropout(alpha, dropout, true) : alpha;
}

export function checkGatOptions(layer: string, inChannels: number, outChannels: number, o: GATConvOptions): void {
  checkPositiveInt(layer, 'inChannels', inChannels);
  checkPositiveInt(layer, 'outChannels', outChannels);
  checkPositiveInt(layer, 'heads', o.heads ?? 1);
  checkProbability(layer, 'dropout', o.dropout ?? 0);
  if (o.edgeDim !== undefined) checkPositiveInt(layer, 'edgeDim', o.edgeDim);
  const fill = o.fillValue ?? 'mean';
  if (typeof fill !== 'number' && !['mean', 'sum', 'add', 'max', 'min'].includes(fill)) throw new TypeError(`${layer}: fillValue must be a number or 'mean', 'sum', 'add', 'max', 'min', received '${String(fill)}'`);
}

/** Edge features as [E, edgeDim] after checking them against the layer's edgeDim. */
export function edgeFeatures(m: Module & { readonly edgeDim: number | undefined }, edgeAttr: Tensor | null | undefined, e: number, device: T.DeviceName): Tensor | null {
  if (edgeAttr === undefined || edgeAttr === null) return null;
  if (m.edgeDim === undefined) throw new Error(`${layerName(m)}: received edgeAttr but the layer was built without edgeDim`);
  checkEdgeTensor(m, edgeAttr, e, 'edgeAttr', undefined, device);
  const attr = edgeAttr.rank === 1 ? T.unsqueeze(edgeAttr, -1) : edgeAttr;
  if (attr.rank !== 2 || attr.shape[1] !== m.edgeDim) throw new RangeError(`${layerName(m)}: expected edgeAttr of shape [${e}, ${m.edgeDim}], received ${shapeStr(edgeAttr.shape)}`);
  return attr;
}

/**
 * What GATConv and GATv2Conv share: the options, the self-loop step and the head concat/mean + bias
 * at the end of forward. Subclasses compute the messages and attention logits (`scores`).
 */
export abstract class GATBase extends MessagePassing {
  readonly heads: number;
  readonly concat: boolean;
  readonly negativeSlope: number;
  readonly dropout: number;
  readonly addSelfLoops: boolean;
  readonly edgeDim: number | undefined;
  readonly fillValue: NonNullable<GATConvOptions['fillValue']>;

  constructor(layer: string, readonly inChannels: number, readonly outChannels: number, options: GATConvOptions) {
    super({ aggr: 'sum', fuse: false });
    checkGatOptions(layer, inChannels, outChannels, options);
    this.heads = options.heads ?? 1;
    this.concat = options.concat ?? true;
    this.negativeSlope = options.negativeSlope ?? 0.2;
    this.dropout = options.dropout ?? 0;
    this.addSelfLoops = options.addSelfLoops ?? true;
    this.edgeDim = options.edgeDim;
    this.fillValue = options.fillValue ?? 'mean';
  }

  abstract bias: Tensor | null;

  /**
   * The subclass's part of forward: the messages h [N, heads, out] that the attention weighs and the
   * attention logits [E', heads] of the edges `g` (src -> dst, edge features `g.edgeAttr`).
   */
  protected abstract scores(x: Tensor, g: LoopedGraph & { src: Tensor; dst: Tensor }): { h: Tensor; logits: Tensor };

  forward(x: Tensor, edgeIndex: Tensor, options: GATForwardOptions & { returnAttentionWeights: true }): AttentionOutput;
  forward(x: Tensor, edgeIndex: Tensor, options?: GATForwardOptions): Tensor;
  forward(x: Tensor, edgeIndex: Tensor, options: GATForwardOptions = {}): Tensor | AttentionOutput {
    checkGraph(this, x, edgeIndex, this.inChannels);
    const n = x.shape[0];
    return T.tidy(() => {
      const attr = edgeFeatures(this, options.edgeAttr, edgeIndex.shape[1], x.device);
      const looped: LoopedGraph = this.addSelfLoops ? withSelfLoops(edgeIndex, attr, n, this.fillValue) : { edgeIndex, replaced: null, edgeAttr: attr };
      const ei = looped.edgeIndex;
      const dst = T.select(ei, 0, 1);
      const { h, logits } = this.scores(x, { ...looped, src: T.select(ei, 0, 0), dst });
      const alpha = attentionCoefficients(logits, looped.replaced, dst, n, this.dropout, this.training);
      const agg = this.propagate(ei, { x: h, alpha });
      let out = this.concat ? T.reshape(agg, [n, this.heads * this.outChannels]) : T.mean(agg, { dim: 1 });
      if (this.bias) out = T.add(out, this.bias);
      // A new handle even when ei is the caller's edge index, so the result can be disposed freely.
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

/**
 * Graph attention (Veličković et al.; PyG's GATConv):
 * x'_i = Σ_{j ∈ N(i) ∪ {i}} α_ij Θ x_j with α_ij = softmax_j(LeakyReLU(a_srcᵀ Θ x_j + a_dstᵀ Θ x_i [+ a_edgeᵀ Θ_e e_ji])),
 * per head; heads are concatenated or averaged. forward(x, edgeIndex, { edgeAttr?, returnAttentionWeights? }).
 * State: lin.weight, att_src, att_dst, [lin_edge.weight, att_edge], bias.
 */
export class GATConv extends GATBase {
  lin: Linear;
  attSrc: Tensor;
  attDst: Tensor;
  linEdge: Linear | null;
  attEdge: Tensor | null;
  bias: Tensor | null;

  constructor(inChannels: number, outChannels: number, options: GATConvOptions = {}) {
    super('GATConv', inChannels, outChannels, options);
    const hc = this.heads * outChannels;
    const f = factory(options);
    this.lin = new Linear(inChannels, hc, { ...options, bias: false });
    glorot_(this.lin.weight);
    this.attSrc = parameter(glorot_(T.zeros([1, this.heads, outChannels], f)));
    this.attDst = parameter(glorot_(T.zeros([1, this.heads, outChannels], f)));
    this.linEdge = this.edgeDim === undefined ? null : new Linear(this.edgeDim, hc, { ...options, bias: false });
    if (this.linEdge) glorot_(this.linEdge.weight);
    this.attEdge = this.edgeDim === undefined ? null : parameter(glorot_(T.zeros([1, this.heads, outChannels], f)));
    this.bias = options.bias === false ? null : parameter(T.zeros([this.concat ? hc : outChannels], f));
  }

  protected scores(x: Tensor, g: LoopedGraph & { src: Tensor; dst: Tensor }): { h: Tensor; logits: Tensor } {
    const [H, C] = [this.heads, this.outChannels];
    const h = T.reshape(this.lin.forward(x), [x.shape[0], H, C]);
    const aSrc = T.sum(T.mul(h, this.attSrc), { dim: -1 });
    const aDst = T.sum(T.mul(h, this.attDst), { dim: -1 });
    let logits = T.add(T.indexSelect(aSrc, 0, g.src), T.indexSelect(aDst, 0, g.dst));
    if (g.edgeAttr && this.linEdge && this.attEdge) {
      const he = T.reshape(this.linEdge.forward(g.edgeAttr), [-1, H, C]);
      logits = T.add(logits, T.sum(T.mul(he, this.attEdge), { dim: -1 }));
    }
    return { h, logits: T.leakyRelu(logits, this.negativeSlope) };
  }
}
