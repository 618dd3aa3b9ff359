/**
 * APPNP (Klicpera et al., ICLR 2019) on Cora, public split. The paper evaluates on its own random
 * splits (Cora 85.0 there), so the reference is DGL's public-split reproduction (83.7, DGL
 * examples/mxnet/appnp README). Settings as DGL's example: MLP F → 64 → C (ReLU), dropout 0.5 on
 * the features and hidden layer, APPNP propagation K = 10, α = 0.1 with edge dropout 0.5, Adam lr
 * 0.01, weight decay 5e-4, 200 epochs, row-normalised features.
 *
 *   pnpm --filter @tessera/examples appnp -- --dataset Cora --seeds 10 [--epochs N] [--device webgpu]
 */
import { fileURLToPath } from 'node:url';
import * as T from '@tessera/tensor';
import { F, Linear, Module } from '@tessera/nn';
import { Adam } from '@tessera/optimize';
import { APPNP } from '@tessera/graph';
import type { NodeSpec } from '../lib/node-classification.js';
import { nodeCli } from './run-node.js';

export class APPNPNet extends Module {
  lin1: Linear;
  lin2: Linear;
  prop: APPNP;
  constructor(inChannels: number, hidden: number, outChannels: number, readonly dropout = 0.5, K = 10, alpha = 0.1, edgeDropout = 0.5) {
    super();
    this.lin1 = new Linear(inChannels, hidden);
    this.lin2 = new Linear(hidden, outChannels);
    this.prop = new APPNP(K, alpha, { dropout: edgeDropout, cached: true });
  }

  forward(x: T.Tensor, edgeIndex: T.Tensor): T.Tensor {
    return T.tidy(() => {
      let h = F.dropout(x, this.dropout, this.training);
      h = F.dropout(T.relu(this.lin1.forward(h)), this.dropout, this.training);
      return this.prop.forward(this.lin2.forward(h), edgeIndex);
    });
  }
}

export const APPNP_SPEC: NodeSpec = {
  name: 'appnp',
  model: 'APPNP',
  description: 'Linear(F, 64) → ReLU → Linear(64, C) → APPNP(K = 10, α = 0.1, edge dropout 0.5), dropout 0.5, Adam lr 0.01, weight decay 5e-4, 200 epochs',
  paper: {
    Cora: { accuracy: 83.7, source: 'DGL APPNP example README (public split; the paper reports 85.0 on its own random splits)' },
  },
  epochs: 200,
  makeModel: (f, c) => new APPNPNet(f, 64, c),
  makeOptimizer: (m) => new Adam(m.parameters(), { lr: 0.01, weightDecay: 5e-4 }),
};

if (process.argv[1] === fileURLToPath(import.meta.url)) await nodeCli(APPNP_SPEC, process.argv.slice(2));
