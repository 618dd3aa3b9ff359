import * as T from '@tessera/tensor';
import type { Tensor } from '@tessera/tensor';
import { Linear, ModuleList, parameter, type FactoryOptions } from '@tessera/nn';
import { laplacian, type LaplacianNormalization } from '../../utils/norm.js';
import { MessagePassing, type MessageArgs, type PropagateArgs } from '../message-passing.js';
import { checkEdgeTensor, checkGraph, checkPositiveInt, factory, glorot_, layerName, scaleRows, floatOf } from '../util.js';

export interface ChebConvOptions extends FactoryOptions {
  /** Laplacian: 'sym' (default) I - D^-1/2 A D^-1/2, 'rw' I - D^-1 A, or null D - A. */
  normalization?: LaplacianNormalization;
  /** Largest eigenvalue of the Laplacian used to rescale it (default 2, an upper bound for 'sym' and 'rw'). */
  lambdaMax?: number;
  bias?: boolean;
}

/**
 * Chebyshev spectral graph convolution (Defferrard et al.; PyG's ChebConv):
 * X' = Σ_{k<K} T_k(L̂) X Θ_k + b with L̂ = 2L/λmax - I and T_0 = I, T_1 = L̂, T_k = 2 L̂ T_{k-1} - T_{k-2}.
 * forward(x, edgeIndex, { edgeWeight?, lambdaMax? }). State: lins.0.weight ... lins.{K-1}.weight, bias.
 */
export class ChebConv extends MessagePassing {
  lins: ModuleList;
  bias: Tensor | null;
  readonly normalization: LaplacianNormalization;
  readonly lambdaMax: number | undefined;

  constructor(readonly inChannels: number, readonly outChannels: number, readonly K: number, options: ChebConvOptions = {}) {
    super({ aggr: 'sum' });
    checkPositiveInt('ChebConv', 'inChannels', inChannels);
    checkPositiveInt('ChebConv', 'outChannels', outChannels);
    checkPositiveInt('ChebConv', 'K', K);
    const norm = options.normalization === undefined ? 'sym' : options.normalization;
    if (norm !== null && norm !== 'sym' && norm !== 'rw') throw new TypeError(`ChebConv: normalization must be 'sym', 'rw' or null, received '${String(norm)}'`);
    this.normalization = norm;
    this.lambdaMax = options.lambdaMax;
    this.lins = new ModuleList(Array.from({ length: K }, () => {
      const lin = new Linear(inChannels, outChannels, { bias: false, ...options });
      glorot_(lin.weight);
      return lin;
    }));
    this.bias = options.bias === false ? null : parameter(T.zeros([outChannels], factory(options)));
  }

  forward(x: Tensor, edgeIndex: Tensor, options: { edgeWeight?: Tensor | null; lambdaMax?: number } = {}): Tensor {
    checkGraph(this, x, edgeIndex, this.inChannels);
    checkEdgeTensor(this, options.edgeWeight, edgeIndex.shape[1], 'edgeWeight', 1, x.device);
    let lambdaMax = options.lambdaMax ?? this.lambdaMax;
    if (lambdaMax === undefined) {
      // Only the normalised Laplacians have a known bound (2); D - A needs the caller's value.
      if (this.normalization === null) throw new Error(`${layerName(this)}: pass lambdaMax (the largest eigenvalue of L = D - A) for normalization null`);
      lambdaMax = 2;
    }
    if (!(lambdaMax > 0) || !Number.isFinite(lambdaMax)) throw new RangeError(`${layerName(this)}: lambdaMax must be a positive number, received ${lambdaMax}`);
    const n = x.shape[0];
    const e = edgeIndex.shape[1];
    return T.tidy(() => {
      const lap = laplacian(edgeIndex, options.edgeWeight, n, { normalization: this.normalization, dtype: floatOf(x) });
      // L̂ = 2L/λmax - I: scale every entry, then subtract 1 on the N diagonal entries at the end.
      const scaled = T.mul(lap.edgeWeight, 2 / lambdaMax!);
      const w = T.cat([T.narrow(scaled, 0, 0, e), T.sub(T.narrow(scaled, 0, e, n), 1)], 0);
      const lins = [...this.lins] as Linear[];
      let t0 = x;
      let out = lins[0].forward(t0);
      if (lins.length > 1) {
        let t1 = this.propagate(lap.edgeIndex, { x, edgeWeight: w });
        out = T.add(out, lins[1].forward(t1));
        for (const lin of lins.slice(2)) {
          const t2 = T.sub(T.mul(this.propagate(lap.edgeIndex, { x: t1, edgeWeight: w }), 2), t0);
          out = T.add(out, lin.forward(t2));
          [t0, t1] = [t1, t2];
        }
      }
      return this.bias ? T.add(out, this.bias) : out;
    });
  }

  override message({ x_j, edgeWeight }: MessageArgs): Tensor {
    return scaleRows(x_j, edgeWeight);
  }

  override messageAndAggregate(adj: T.SparseTensor, { x }: PropagateArgs): Tensor {
    return T.spmm(adj, x as Tensor);
  }

  protected override extraRepr(): string {
    return `${this.inChannels}, ${this.outChannels}, K=${this.K}, normalization=${this.normalization}`;
  }
}
