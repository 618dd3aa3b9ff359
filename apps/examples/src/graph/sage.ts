/**
 * GraphSAGE, full-graph training (Hamilton et al., NeurIPS 2017) on Cora / CiteSeer, public split.
 * The paper has no Planetoid numbers; the reference is DGL's full-graph example (README: Cora ~83.3,
 * CiteSeer ~71.1), whose setting this follows: two SAGEConv layers with DGL's 'gcn' aggregator
 * (the default of DGL's graphsage.py, which produced the README numbers): h'_i = W · mean of
 * {h_j : j ∈ N(i)} ∪ {h_i} + b, no separate root weight. Here that is SAGEConv(aggr 'mean',
 * rootWeight false) over the edge index with one self-loop per node, with DGL's initialisation
 * (Glorot-uniform, ReLU gain; zero bias). Hidden 16, ReLU, dropout 0.5 on
 * both layers' inputs, Adam lr 0.01, weight decay 5e-4 (all parameters), 200 epochs, row-normalised
 * features (as DGL's citation datasets).
 *
 *   pnpm --filter @tessera/examples sage -- --dataset Cora --seeds 10 [--epochs N] [--device webgpu]
 */
import { fileURLToPath } from 'node:url';
import * as T from '@tessera/tensor';
import { F, Module, init } from '@tessera/nn';
import { Adam } from '@tessera/optimize';
import { SAGEConv, addSelfLoops } from '@tessera/graph';
import type { NodeSpec } from '../lib/node-classification.js';
import { nodeCli } from './run-node.js';

export class GraphSAGE extends Module {
  conv1: SAGEConv;
  conv2: SAGEConv;
  constructor(inChannels: number, hidden: number, outChannels: number, readonly dropout = 0.5) {
    super();
    this.conv1 = new SAGEConv(inChannels, hidden, { aggr: 'mean', rootWeight: false });
    this.conv2 = new SAGEConv(hidden, outChannels, { aggr: 'mean', rootWeight: false });
    // DGL's SAGEConv initialisation: Glorot-uniform weights with the ReLU gain, zero bias.
    for (const conv of [this.conv1, this.conv2]) {
      init.xavierUniform_(conv.linL.weight, { gain: init.calculateGain('relu') });
      init.constant_(conv.linL.bias!, 0);
    }
  }

  /** edgeIndex without self-loops (Planetoid's); each node's own features join its neighbours' mean. */
  forward(x: T.Tensor, edgeIndex: T.Tensor): T.Tensor {
    return T.tidy(() => {
      const ei = addSelfLoops(edgeIndex, null, { numNodes: x.shape[0] }).edgeIndex;
      let h = F.dropout(x, this.dropout, this.training);
      h = F.dropout(T.relu(this.conv1.forward(h, ei)), this.dropout, this.training);
      return this.conv2.forward(h, ei);
    });
  }
}

export const SAGE_SPEC: NodeSpec = {
  name: 'sage',
  model: 'GraphSAGE (gcn aggr.)',
  description: "SAGEConv(F, 16) → ReLU → SAGEConv(16, C), DGL's 'gcn' aggregator (mean over the neighbours and the node itself, no root weight), dropout 0.5 (both layers' inputs), Adam lr 0.01, weight decay 5e-4, 200 epochs",
  paper: {
    Cora: { accuracy: 83.3, source: 'DGL GraphSAGE example README, full graph (the paper has no Planetoid numbers)' },
    CiteSeer: { accuracy: 71.1, source: 'DGL GraphSAGE example README, full graph (the paper has no Planetoid numbers)' },
  },
  epochs: 200,
  makeModel: (f, c) => new GraphSAGE(f, 16, c),
  makeOptimizer: (m) => new Adam(m.parameters(), { lr: 0.01, weightDecay: 5e-4 }),
};

if (process.argv[1] === fileURLToPath(import.meta.url)) await nodeCli(SAGE_SPEC, process.argv.slice(2));
