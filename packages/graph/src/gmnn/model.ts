/**
 * The node model GMNN's reference code uses for both of its networks: a two-layer GCN with dropout
 * on its input and on its hidden layer. As qθ it reads node features; as pφ it reads label
 * distributions (one-hot labels, optionally next to the features).
 */
import * as T from '@tessera/tensor';
import { F, Module, init, type FactoryOptions } from '@tessera/nn';
import { GCNConv } from '../nn/conv/gcn.js';
import { checkPositiveInt } from '../nn/util.js';

/** A node classifier: logits [N, C] from node inputs [N, F] and an edge index [2, E]. */
export interface GMNNNodeModel extends Module {
  forward(x: T.Tensor, edgeIndex: T.Tensor): T.Tensor;
}

export interface GMNNGCNOptions extends FactoryOptions {
  /** Dropout rate on the input (default 0.5). */
  inputDropout?: number;
  /** Dropout rate on the hidden layer (default 0, the reference code's Cora setting). */
  dropout?: number;
  /** Normalise the graph once and reuse it (default true: GMNN is transductive, one graph). */
  cached?: boolean;
  /** Generator for the dropout masks (default: the global one, `T.manualSeed`). */
  generator?: T.Generator;
  /** Biases in both layers (default false, as the reference code; PyG's GCNConv default is true). */
  bias?: boolean;
  /**
   * Weight initialisation: 'uniform' U(−1/√out, 1/√out), the reference code's (default), or
   * 'glorot', GCNConv's own. On Cora (3 seeds) the reference's bias-free uniform setting gave GMNN
   * 83.1 %, GCNConv's defaults (glorot, bias) 81.8 %.
   */
  weightInit?: 'uniform' | 'glorot';
}

function checkRate(name: string, p: number): number {
  if (!(typeof p === 'number' && p >= 0 && p < 1)) throw new RangeError(`GMNNGCN: ${name} must be in [0, 1), received ${String(p)}`);
  return p;
}

/**
 * dropout(inputDropout) → GCNConv(in, hidden) → ReLU → dropout(dropout) → GCNConv(hidden, out),
 * bias-free and initialised as the reference code by default.
 * forward(x [N, in], edgeIndex [2, E]) → logits [N, out]. State: conv1.lin.weight, conv2.lin.weight
 * (and conv*.bias with bias: true).
 */
export class GMNNGCN extends Module implements GMNNNodeModel {
  conv1: GCNConv;
  conv2: GCNConv;
  readonly inputDropout: number;
  readonly dropout: number;
  readonly generator: T.Generator | undefined;

  constructor(readonly inChannels: number, readonly hiddenChannels: number, readonly outChannels: number, options: GMNNGCNOptions = {}) {
    super();
    checkPositiveInt('GMNNGCN', 'inChannels', inChannels);
    checkPositiveInt('GMNNGCN', 'hiddenChannels', hiddenChannels);
    checkPositiveInt('GMNNGCN', 'outChannels', outChannels);
    this.inputDropout = checkRate('inputDropout', options.inputDropout ?? 0.5);
    this.dropout = checkRate('dropout', options.dropout ?? 0);
    if (options.generator !== undefined && !(options.generator instanceof T.Generator)) throw new TypeError('GMNNGCN: generator must be a T.Generator');
    this.generator = options.generator;
    const weightInit = options.weightInit ?? 'uniform';
    if (weightInit !== 'uniform' && weightInit !== 'glorot') throw new RangeError(`GMNNGCN: weightInit must be 'uniform' or 'glorot', received ${String(weightInit)}`);
    const conv = { cached: options.cached ?? true, bias: options.bias ?? false, device: options.device, dtype: options.dtype };
    this.conv1 = new GCNConv(inChannels, hiddenChannels, conv);
    this.conv2 = new GCNConv(hiddenChannels, outChannels, conv);
    if (weightInit === 'uniform') {
      for (const c of [this.conv1, this.conv2]) {
        const bound = 1 / Math.sqrt(c.outChannels);
        init.uniform_(c.lin.weight, { a: -bound, b: bound });
      }
    }
  }

  forward(x: T.Tensor, edgeIndex: T.Tensor): T.Tensor {
    const g = { generator: this.generator };
    return T.tidy(() => {
      const h = T.relu(this.conv1.forward(F.dropout(x, this.inputDropout, this.training, g), edgeIndex));
      return this.conv2.forward(F.dropout(h, this.dropout, this.training, g), edgeIndex);
    });
  }

  /** Frees the parameters and the layers' cached normalised graphs (Module.dispose frees only parameters and buffers). */
  override dispose(): void {
    this.conv1.dispose();
    this.conv2.dispose();
    super.dispose();
  }

  protected override extraRepr(): string {
    return `${this.inChannels}, ${this.hiddenChannels}, ${this.outChannels}, inputDropout=${this.inputDropout}, dropout=${this.dropout}`;
  }
}
