import * as T from '@tessera/tensor';
import type { Tensor } from '@tessera/tensor';
import { detach } from '@tessera/autodiff';
import { Linear, type FactoryOptions } from '@tessera/nn';
import { gcnNorm } from '../../utils/norm.js';
import { MessagePassing, type MessageArgs, type PropagateArgs } from '../message-passing.js';
import { checkEdgeTensor, checkGraph, checkPositiveInt, scaleRows, floatOf } from '../util.js';
import type { EdgeWeightOptions } from './gcn.js';

export interface SGConvOptions extends FactoryOptions {
  /** Number of propagation hops (default 1). */
  K?: number;
  /** Keep S^K X from the first call and reuse it (transductive use only; default false). */
  cached?: boolean;
  /** Add self-loops before normalising (default true). */
  addSelfLoops?: boolean;
  bias?: boolean;
}

/**
 * Simplified graph convolution (Wu et al.; PyG's SGConv): X' = S^K X Θ + b with
 * S = D^-1/2 (A + I) D^-1/2. forward(x, edgeIndex, { edgeWeight? }). State: lin.weight, lin.bias.
 */
export class SGConv extends MessagePassing {
  lin: Linear;
  readonly K: number;
  readonly cached: boolean;
  readonly addSelfLoops: boolean;
  #cachedX: Tensor | null = null;

  constructor(readonly inChannels: number, readonly outChannels: number, options: SGConvOptions = {}) {
    super({ aggr: 'sum' });
    checkPositiveInt('SGConv', 'inChannels', inChannels);
    checkPositiveInt('SGConv', 'outChannels', outChannels);
    this.K = options.K ?? 1;
    checkPositiveInt('SGConv', 'K', this.K);
    this.cached = options.cached ?? false;
    this.addSelfLoops = options.addSelfLoops ?? true;
    this.lin = new Linear(inChannels, outChannels, options);
  }

  forward(x: Tensor, edgeIndex: Tensor, options: EdgeWeightOptions = {}): Tensor {
    checkGraph(this, x, edgeIndex, this.inChannels);
    checkEdgeTensor(this, options.edgeWeight, edgeIndex.shape[1], 'edgeWeight', 1, x.device);
    return T.tidy(() => {
      let h = this.#cachedX;
      if (!h) {
        const norm = gcnNorm(edgeIndex, options.edgeWeight, x.shape[0], { addSelfLoops: this.addSelfLoops, flow: this.flow, dtype: floatOf(x) });
        h = x;
        for (let k = 0; k < this.K; k++) h = this.propagate(norm.edgeIndex, { x: h, edgeWeight: norm.edgeWeight });
        // Cached without its graph, as PyG (the cache is a constant of later calls).
        if (this.cached) this.#cachedX = T.keep(detach(h));
      }
      return this.lin.forward(h);
    });
  }

  override message({ x_j, edgeWeight }: MessageArgs): Tensor {
    return scaleRows(x_j, edgeWeight);
  }

  override messageAndAggregate(adj: T.SparseTensor, { x }: PropagateArgs): Tensor {
    return T.spmm(adj, x as Tensor);
  }

  /** Forgets the cached propagated features. */
  resetCache(): void {
    this.#cachedX?.dispose();
    this.#cachedX = null;
  }

  /** Moves the parameters; a cached graph is dropped (it lives on the old device). */
  override async to(device: T.DeviceName): Promise<this> {
    this.resetCache();
    return super.to(device);
  }

  override dispose(): void {
    this.resetCache();
    super.dispose();
  }

  protected override extraRepr(): string {
    return `${this.inChannels}, ${this.outChannels}, K=${this.K}`;
  }
}
