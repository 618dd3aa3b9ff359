/**
 * GAT (Veličković et al., ICLR 2018) on Cora / CiteSeer, public split. Paper: 83.0 ± 0.7 / 72.5 ± 0.7 %.
 * GATConv(F, 8, heads 8) → ELU → GATConv(64, C, heads 1), dropout 0.6 on both layers' inputs and
 * on the attention coefficients, Adam lr 0.005, weight decay 5e-4, up to 1,000 epochs with
 * patience 100 (neither validation accuracy nor loss improved), row-normalised features.
 *
 *   pnpm --filter @tessera/examples gat -- --dataset Cora --seeds 10 [--epochs N] [--device webgpu]
 */
import { fileURLToPath } from 'node:url';
import * as T from '@tessera/tensor';
import { F, Module } from '@tessera/nn';
import { Adam } from '@tessera/optimize';
import { GATConv } from '@tessera/graph';
import type { NodeSpec } from '../lib/node-classification.js';
import { nodeCli } from './run-node.js';

export class GAT extends Module {
  conv1: GATConv;
  conv2: GATConv;
  constructor(inChannels: number, outChannels: number, readonly dropout = 0.6, hidden = 8, heads = 8, outHeads = 1) {
    super();
    this.conv1 = new GATConv(inChannels, hidden, { heads, dropout });
    // One output head on Cora/CiteSeer; the paper averages 8 on PubMed (concat: false either way).
    this.conv2 = new GATConv(hidden * heads, outChannels, { heads: outHeads, concat: false, dropout });
  }

  forward(x: T.Tensor, edgeIndex: T.Tensor): T.Tensor {
    return T.tidy(() => {
      let h = F.dropout(x, this.dropout, this.training);
      h = F.dropout(T.elu(this.conv1.forward(h, edgeIndex)), this.dropout, this.training);
      return this.conv2.forward(h, edgeIndex);
    });
  }
}

export const GAT_SPEC: NodeSpec = {
  name: 'gat',
  model: 'GAT',
  description: 'GATConv(F, 8, heads 8) → ELU → GATConv(64, C, heads 1), dropout 0.6 (inputs and attention), Adam lr 0.005, weight decay 5e-4, ≤ 1,000 epochs, patience 100',
  paper: {
    Cora: { accuracy: 83.0, std: 0.7, source: 'Veličković et al. 2018, Table 2' },
    CiteSeer: { accuracy: 72.5, std: 0.7, source: 'Veličković et al. 2018, Table 2' },
  },
  epochs: 1000,
  patience: 100,
  makeModel: (f, c) => new GAT(f, c),
  makeOptimizer: (m) => new Adam(m.parameters(), { lr: 0.005, weightDecay: 5e-4 }),
};

if (process.argv[1] === fileURLToPath(import.meta.url)) await nodeCli(GAT_SPEC, process.argv.slice(2));
