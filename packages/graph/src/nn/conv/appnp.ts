import * as T from '@tessera/tensor';
import type { Tensor } from '@tessera/tensor';
import { F } from '@tessera/nn';
import { gcnNorm } from '../../utils/norm.js';
import { MessagePassing, type MessageArgs, type PropagateArgs } from '../message-passing.js';
import { checkEdgeTensor, checkGraph, checkPositiveInt, checkProbability, layerName, scaleRows, floatOf } from '../util.js';
import { NormCache, type EdgeWeightOptions } from './gcn.js';

export interface APPNPOptions {
  /** Dropout on the normalised edge weights in training (default 0). */
  dropout?: number;
  /** Normalise the graph once and reuse it (transductive use only; default false). */
  cached?: boolean;
  /** Add self-loops before normalising (default true). */
  addSelfLoops?: boolean;
  /** Apply D^-1/2 (A + I) D^-1/2 (default true). */
  normalize?: boolean;
}

/**
 * Personalised-PageRank propagation (Klicpera et al.; PyG's APPNP), no parameters:
 * X_0 = X, X_{k+1} = (1 - α) Â X_k + α X, output X_K. forward(x, edgeIndex, { edgeWeight? }).
 */
export class APPNP extends MessagePassing {
  readonly dropout: number;
  readonly cached: boolean;
  readonly addSelfLoops: boolean;
  readonly normalize: boolean;
  readonly #cache = new NormCache();

  constructor(readonly K: number, readonly alpha: number, options: APPNPOptions = {}) {
    super({ aggr: 'sum' });
    checkPositiveInt('APPNP', 'K', K);
    checkProbability('APPNP', 'alpha', alpha);
    this.dropout = options.dropout ?? 0;
    checkProbability('APPNP', 'dropout', this.dropout);
    this.cached = options.cached ?? false;
    this.addSelfLoops = options.addSelfLoops ?? true;
    this.normalize = options.normalize ?? true;
  }

  forward(x: Tensor, edgeIndex: Tensor, options: EdgeWeightOptions = {}): Tensor {
    checkGraph(this, x, edgeIndex);
    checkEdgeTensor(this, options.edgeWeight, edgeIndex.shape[1], 'edgeWeight', 1, x.device);
    if (!this.normalize && !options.edgeWeight && this.dropout > 0 && this.training) {
      throw new Error(`${layerName(this)}: edge dropout needs edge weights; pass edgeWeight or normalize`);
    }
    return T.tidy(() => {
      let ei = edgeIndex;
      let w = options.edgeWeight ?? null;
      if (this.normalize) {
        const norm = () => gcnNorm(edgeIndex, w, x.shape[0], { addSelfLoops: this.addSelfLoops, flow: this.flow, dtype: floatOf(x) });
        ({ edgeIndex: ei, edgeWeight: w } = this.cached ? this.#cache.get(norm) : norm());
      }
      let h = x;
      for (let k = 0; k < this.K; k++) {
        const wk = w && this.dropout > 0 && this.training ? F.dropout(w, this.dropout, true) : w;
        h = T.add(T.mul(this.propagate(ei, { x: h, edgeWeight: wk }), 1 - this.alpha), T.mul(x, this.alpha));
      }
      return h;
    });
  }

  override message({ x_j, edgeWeight }: MessageArgs): Tensor {
    return scaleRows(x_j, edgeWeight);
  }

  override messageAndAggregate(adj: T.SparseTensor, { x }: PropagateArgs): Tensor {
    return T.spmm(adj, x as Tensor);
  }

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

  protected override extraRepr(): string {
    return `K=${this.K}, alpha=${this.alpha}`;
  }
}
