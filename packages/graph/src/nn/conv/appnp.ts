import * as T from '@tessera/tensor';
import type { Tensor } from '@tessera/tensor';
import { F } from '@tessera/nn';
import { checkEdgeTensor, checkGraph, checkPositiveInt, checkProbability, layerName } from '../util.js';
import { NormalizedPropagation, type EdgeWeightOptions, type NormalizedPropagationOptions } from './gcn.js';

export interface APPNPOptions extends NormalizedPropagationOptions {
  /** Dropout on the normalised edge weights in training (default 0). */
  dropout?: number;
}

/**
 * Personalised-PageRank propagation (Klicpera et al.; PyG's APPNP), no parameters:
 * X_0 = X, X_{k+1} = (1 - α) Â X_k + α X, output X_K. forward(x, edgeIndex, { edgeWeight? }).
 */
export class APPNP extends NormalizedPropagation {
  readonly dropout: number;

  constructor(readonly K: number, readonly alpha: number, options: APPNPOptions = {}) {
    super(options);
    checkPositiveInt('APPNP', 'K', K);
    checkProbability('APPNP', 'alpha', alpha);
    this.dropout = options.dropout ?? 0;
    checkProbability('APPNP', 'dropout', this.dropout);
  }

  forward(x: Tensor, edgeIndex: Tensor, options: EdgeWeightOptions = {}): Tensor {
    checkGraph(this, x, edgeIndex);
    checkEdgeTensor(this, options.edgeWeight, edgeIndex.shape[1], 'edgeWeight', 1, x.device);
    if (!this.normalize && !options.edgeWeight && this.dropout > 0 && this.training) {
      throw new Error(`${layerName(this)}: edge dropout needs edge weights; pass edgeWeight or normalize`);
    }
    return T.tidy(() => {
      const { edgeIndex: ei, edgeWeight: w } = this.propagationGraph(x, edgeIndex, options.edgeWeight ?? null);
      let h = x;
      for (let k = 0; k < this.K; k++) {
        const wk = w && this.dropout > 0 && this.training ? F.dropout(w, this.dropout, true) : w;
        h = T.add(T.mul(this.propagate(ei, { x: h, edgeWeight: wk }), 1 - this.alpha), T.mul(x, this.alpha));
      }
      return h;
    });
  }

  protected override extraRepr(): string {
    return `K=${this.K}, alpha=${this.alpha}`;
  }
}
