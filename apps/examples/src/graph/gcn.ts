/**
 * GCN (Kipf & Welling, ICLR 2017) on Cora / CiteSeer, public split. Paper: 81.5 / 70.3 %.
 * Two GCNConv layers (hidden 16, ReLU), dropout 0.5 on the input and hidden layer, Adam lr 0.01,
 * weight decay 5e-4 on the first layer only (as the paper's code), 200 epochs, row-normalised
 * features, cached normalised adjacency.
 *
 *   pnpm --filter @tessera/examples gcn -- --dataset Cora --seeds 10 [--epochs N] [--device webgpu]
 */
import { fileURLToPath } from 'node:url';
import * as T from '@tessera/tensor';
import { F, Module } from '@tessera/nn';
import { Adam } from '@tessera/optimize';
import { GCNConv } from '@tessera/graph';
import type { NodeSpec } from '../lib/node-classification.js';
import { nodeCli } from './run-node.js';

export class GCN extends Module {
  conv1: GCNConv;
  conv2: GCNConv;
  constructor(inChannels: number, hidden: number, outChannels: number, readonly dropout = 0.5) {
    super();
    this.conv1 = new GCNConv(inChannels, hidden, { cached: true });
    this.conv2 = new GCNConv(hidden, outChannels, { cached: true });
  }

  forward(x: T.Tensor, edgeIndex: T.Tensor): T.Tensor {
    return T.tidy(() => {
      let h = F.dropout(x, this.dropout, this.training);
      h = F.dropout(T.relu(this.conv1.forward(h, edgeIndex)), this.dropout, this.training);
      return this.conv2.forward(h, edgeIndex);
    });
  }
}

export const GCN_SPEC: NodeSpec = {
  name: 'gcn',
  model: 'GCN',
  description: 'GCNConv(F, 16) → ReLU → GCNConv(16, C), dropout 0.5 (input and hidden), Adam lr 0.01, weight decay 5e-4 on the first layer, 200 epochs',
  paper: {
    Cora: { accuracy: 81.5, source: 'Kipf & Welling 2017, Table 2' },
    CiteSeer: { accuracy: 70.3, source: 'Kipf & Welling 2017, Table 2' },
  },
  epochs: 200,
  makeModel: (f, c) => new GCN(f, 16, c),
  makeOptimizer: (m) => {
    const model = m as GCN;
    return new Adam(
      [
        { params: model.conv1.parameters(), weightDecay: 5e-4 },
        { params: model.conv2.parameters(), weightDecay: 0 },
      ],
      { lr: 0.01 },
    );
  },
};

if (process.argv[1] === fileURLToPath(import.meta.url)) await nodeCli(GCN_SPEC, process.argv.slice(2));
