import * as T from '@tessera/tensor';
import type { Tensor } from '@tessera/tensor';
import { Linear, parameter, type FactoryOptions } from '@tessera/nn';
import { gcnNorm } from '../../utils/norm.js';
import { MessagePassing, type MessageArgs, type PropagateArgs } from '../message-passing.js';
import { checkEdgeTensor, checkGraph, checkPositiveInt, factory, glorot_, scaleRows, floatOf } from '../util.js';

export interface EdgeWeightOptions {
  /** One weight per edge, [E]. */
  edgeWeight?: Tensor | null;
}

/** A normalised edge list kept across calls (GCNConv/SGConv/APPNP `cached`). */
export class NormCache {
  #value: { edgeIndex: Tensor; edgeWeight: Tensor } | null = null;

  get(make: () => { edgeIndex: Tensor; edgeWeight: Tensor }): { edgeIndex: Tensor; edgeWeight: Tensor } {
    if (!this.#value) {
      const v = make();
      this.#value = { edgeIndex: T.keep(v.edgeIndex), edgeWeight: T.keep(v.edgeWeight) };
    }
    return this.#value;
  }

  clear(): void {
    if (this.#value) T.dispose([this.#value.edgeIndex, this.#value.edgeWeight]);
    this.#value = null;
  }
}

/** Options of the normalised-graph propagation shared by GCNConv and APPNP. */
export interface NormalizedPropagationOptions {
  /** Normalise the graph once and reuse it on later calls (transductive use only; default false). */
  cached?: boolean;
  /** Add self-loops before normalising (default true). */
  addSelfLoops?: boolean;
  /** Apply D^-1/2 (A + I) D^-1/2 (default true); otherwise edges are used with their weights as given. */
  normalize?: boolean;
}

/**
 * Sum propagation of edge-weighted messages over the (optionally cached) D^-1/2 (A + I) D^-1/2
 * graph: the part GCNConv and APPNP share.
 */
export abstract class NormalizedPropagation extends MessagePassing {
  readonly cached: boolean;
  readonly addSelfLoops: boolean;
  readonly normalize: boolean;
  readonly #cache = new NormCache();

  constructor(options: NormalizedPropagationOptions) {
    super({ aggr: 'sum' });
    this.cached = options.cached ?? false;
    this.addSelfLoops = options.addSelfLoops ?? true;
    this.normalize = options.normalize ?? true;
  }

  /** The edges and weights to propagate over: normalised (from the cache when cached) or as given. */
  protected propagationGraph(x: Tensor, edgeIndex: Tensor, edgeWeight: Tensor | null, improved?: boolean): { edgeIndex: Tensor; edgeWeight: Tensor | null } {
    if (!this.normalize) return { edgeIndex, edgeWeight };
    const norm = () => gcnNorm(edgeIndex, edgeWeight, x.shape[0], { improved, addSelfLoops: this.addSelfLoops, flow: this.flow, dtype: floatOf(x) });
    return this.cached ? this.#cache.get(norm) : norm();
  }

  override message({ x_j, edgeWeight }: MessageArgs): Tensor {
    return scaleRows(x_j, edgeWeight);
  }

  override messageAndAggregate(adj: T.SparseTensor, { x }: PropagateArgs): Tensor {
    return T.spmm(adj, x as Tensor);
  }

  /** Forgets the cached normalised graph. */
  resetCache(): void {
    this.#cache.clear();
  }

  /** Moves the parameters; a cached graph is dropped (it lives on the old device). */
  override async to(device: T.DeviceName): Promise<this> {
    this.#cache.clear();
    return super.to(device);
  }

  override dispose(): void {
    this.#cache.clear();
    super.dispose();
  }
}

export interface GCNConvOptions extends FactoryOptions, NormalizedPropagationOptions {
  /** Self-loops get weight 2 (default false). */
  improved?: boolean;
  bias?: boolean;
}

/**
 * Graph convolution of Kipf & Welling (PyG's GCNConv): X' = D^-1/2 (A + I) D^-1/2 X Θ + b.
 * forward(x [N, in], edgeIndex [2, E], { edgeWeight? }) -> [N, out]. State: lin.weight, bias.
 */
export class GCNConv extends NormalizedPropagation {
  lin: Linear;
  bias: Tensor | null;
  readonly improved: boolean;

  constructor(readonly inChannels: number, readonly outChannels: number, options: GCNConvOptions = {}) {
    super(options);
    checkPositiveInt('GCNConv', 'inChannels', inChannels);
    checkPositiveInt('GCNConv', 'outChannels', outChannels);
    this.improved = options.improved ?? false;
    this.lin = new Linear(inChannels, outChannels, { bias: false, ...options });
    glorot_(this.lin.weight);
    this.bias = options.bias === false ? null : parameter(T.zeros([outChannels], factory(options)));
  }

  forward(x: Tensor, edgeIndex: Tensor, options: EdgeWeightOptions = {}): Tensor {
    checkGraph(this, x, edgeIndex, this.inChannels);
    checkEdgeTensor(this, options.edgeWeight, edgeIndex.shape[1], 'edgeWeight', 1, x.device);
    return T.tidy(() => {
      const g = this.propagationGraph(x, edgeIndex, options.edgeWeight ?? null, this.improved);
      const out = this.propagate(g.edgeIndex, { x: this.lin.forward(x), edgeWeight: g.edgeWeight });
      return this.bias ? T.add(out, this.bias) : out;
    });
  }

  protected override extraRepr(): string {
    return `${this.inChannels}, ${this.outChannels}`;
  }
}
