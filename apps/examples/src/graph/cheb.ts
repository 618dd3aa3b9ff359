/**
 * ChebNet (Defferrard et al., NeurIPS 2016) on Cora / CiteSeer, public split, in the setting of Kipf
 * & Welling's comparison (ICLR 2017, Table 3: "Chebyshev, K = 3", Cora 79.5 / CiteSeer 69.8 %).
 * Their K is the polynomial degree, so the filter has K + 1 = 4 terms T_0..T_3 of the rescaled
 * Laplacian 2L/λmax − I, L = I − D^-1/2 A D^-1/2 (no self-loops): ChebConv(K = 4) in the PyG / Tessera
 * convention, where K counts the terms. λmax = 2 exactly on Cora and CiteSeer (both have components
 * that are single edges, whose normalised Laplacian has eigenvalue 2), which is also ChebConv's
 * default. ChebConv(F, 16) → ReLU → ChebConv(16, C), dropout 0.5 on the input and hidden layer, Adam
 * lr 0.01, weight decay 5e-4 on the first layer only (their code), 200 epochs, row-normalised features.
 *
 *   pnpm --filter @tessera/examples cheb -- --dataset Cora --seeds 10 [--epochs N] [--device webgpu]
 */
import { fileURLToPath } from 'node:url';
import * as T from '@tessera/tensor';
import { F, Module } from '@tessera/nn';
import { Adam } from '@tessera/optimize';
import { ChebConv } from '@tessera/graph';
import type { NodeSpec } from '../lib/node-classification.js';
import { nodeCli } from './run-node.js';

/** Kipf & Welling's K (polynomial degree); ChebConv takes the number of terms, K + 1. */
export const CHEB_DEGREE = 3;

export class ChebNet extends Module {
  conv1: ChebConv;
  conv2: ChebConv;
  constructor(inChannels: number, hidden: number, outChannels: number, readonly dropout = 0.5, degree = CHEB_DEGREE) {
    super();
    this.conv1 = new ChebConv(inChannels, hidden, degree + 1);
    this.conv2 = new ChebConv(hidden, outChannels, degree + 1);
  }

  forward(x: T.Tensor, edgeIndex: T.Tensor): T.Tensor {
    return T.tidy(() => {
      let h = F.dropout(x, this.dropout, this.training);
      h = F.dropout(T.relu(this.conv1.forward(h, edgeIndex)), this.dropout, this.training);
      return this.conv2.forward(h, edgeIndex);
    });
  }
}

export const CHEB_SPEC: NodeSpec = {
  name: 'cheb',
  model: 'ChebNet (K = 3)',
  description: `ChebConv(F, 16, ${CHEB_DEGREE + 1} terms T_0..T_${CHEB_DEGREE}) → ReLU → ChebConv(16, C), sym. Laplacian, λmax = 2, dropout 0.5 (input and hidden), Adam lr 0.01, weight decay 5e-4 on the first layer, 200 epochs`,
  paper: {
    Cora: { accuracy: 79.5, source: 'Kipf & Welling 2017, Table 3 (Chebyshev, K = 3)' },
    CiteSeer: { accuracy: 69.8, source: 'Kipf & Welling 2017, Table 3 (Chebyshev, K = 3)' },
  },
  epochs: 200,
  makeModel: (f, c) => new ChebNet(f, 16, c),
  makeOptimizer: (m) => {
    const model = m as ChebNet;
    return new Adam(
      [
        { params: model.conv1.parameters(), weightDecay: 5e-4 },
        { params: model.conv2.parameters(), weightDecay: 0 },
      ],
      { lr: 0.01 },
    );
  },
};

if (process.argv[1] === fileURLToPath(import.meta.url)) await nodeCli(CHEB_SPEC, process.argv.slice(2));
