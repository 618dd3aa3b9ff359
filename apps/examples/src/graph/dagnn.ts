/**
 * DAGNN (Liu, Gao & Ji, "Towards Deeper Graph Neural Networks", KDD 2020) on Cora, public split.
 * Paper (Table 2): 84.4 ± 0.5 %. Settings of the authors' run.sh for Cora: an MLP Linear(F, 64) →
 * ReLU → Linear(64, C) with dropout 0.8 on its input and hidden layer, then DAGNNProp: K = 10
 * propagations by D^-1/2 (A + I) D^-1/2 and a learned per-node, per-hop retention score
 * σ(H_k s + b) that weights the hops' sum. Adam lr 0.01, weight decay 5e-3 on all parameters, up to
 * 1,000 epochs, row-normalised features. Checkpoint as the authors' code: test accuracy at the lowest validation loss. Early
 * stopping differs: the runner's patience rule (100 epochs without a better validation accuracy or
 * loss) instead of the code's "after epoch 500, stop when the validation loss exceeds the mean of
 * the previous 100".
 *
 *   pnpm --filter @tessera/examples dagnn -- --dataset Cora --seeds 10 [--epochs N] [--device webgpu]
 */
import { fileURLToPath } from 'node:url';
import * as T from '@tessera/tensor';
import { F, Linear, Module } from '@tessera/nn';
import { Adam } from '@tessera/optimize';
import { DAGNNProp } from '@tessera/graph';
import type { NodeSpec } from '../lib/node-classification.js';
import { nodeCli } from './run-node.js';

export class DAGNN extends Module {
  lin1: Linear;
  lin2: Linear;
  prop: DAGNNProp;
  constructor(inChannels: number, hidden: number, outChannels: number, readonly dropout = 0.8, K = 10) {
    super();
    this.lin1 = new Linear(inChannels, hidden);
    this.lin2 = new Linear(hidden, outChannels);
    this.prop = new DAGNNProp(K, outChannels);
  }

  forward(x: T.Tensor, edgeIndex: T.Tensor): T.Tensor {
    return T.tidy(() => {
      let h = F.dropout(x, this.dropout, this.training);
      h = F.dropout(T.relu(this.lin1.forward(h)), this.dropout, this.training);
      return this.prop.forward(this.lin2.forward(h), edgeIndex);
    });
  }
}

export const DAGNN_SPEC: NodeSpec = {
  name: 'dagnn',
  model: 'DAGNN',
  description: 'Linear(F, 64) → ReLU → Linear(64, C) → DAGNNProp(K = 10), dropout 0.8 (input and hidden), Adam lr 0.01, weight decay 5e-3, ≤ 1,000 epochs, patience 100',
  paper: { Cora: { accuracy: 84.4, std: 0.5, source: 'Liu et al. 2020, Table 2' } },
  epochs: 1000,
  patience: 100,
  checkpoint: 'valLoss',
  makeModel: (f, c) => new DAGNN(f, 64, c, 0.8, 10),
  makeOptimizer: (m) => new Adam(m.parameters(), { lr: 0.01, weightDecay: 5e-3 }),
};

if (process.argv[1] === fileURLToPath(import.meta.url)) await nodeCli(DAGNN_SPEC, process.argv.slice(2));
