/**
 * SGC (Wu et al., ICML 2019) on Cora / CiteSeer, public split. Paper: 81.0 / 71.9 %.
 * Logistic regression on S²X with S = D^-1/2 (A + I) D^-1/2 (K = 2): S²X is computed once per
 * run (SGConv `cached`) and reused, so an epoch is one [N, F] × [F, C] product. Adam lr 0.2,
 * 100 epochs, no dropout, weight decay 5e-5 (the paper tunes it per dataset on the validation set;
 * this is one fixed value), row-normalised features.
 *
 *   pnpm --filter @tessera/examples sgc -- --dataset Cora --seeds 10 [--epochs N] [--device webgpu]
 */
import { fileURLToPath } from 'node:url';
import type * as T from '@tessera/tensor';
import { Module } from '@tessera/nn';
import { Adam } from '@tessera/optimize';
import { SGConv } from '@tessera/graph';
import type { NodeSpec } from '../lib/node-classification.js';
import { nodeCli } from './run-node.js';

export class SGC extends Module {
  conv: SGConv;
  constructor(inChannels: number, outChannels: number, K = 2) {
    super();
    this.conv = new SGConv(inChannels, outChannels, { K, cached: true });
  }

  forward(x: T.Tensor, edgeIndex: T.Tensor): T.Tensor {
    return this.conv.forward(x, edgeIndex);
  }
}

export const SGC_WEIGHT_DECAY = 5e-5;

export const SGC_SPEC: NodeSpec = {
  name: 'sgc',
  model: 'SGC',
  description: `SGConv(F, C, K = 2, cached S²X), Adam lr 0.2, weight decay ${SGC_WEIGHT_DECAY}, no dropout, 100 epochs`,
  paper: {
    Cora: { accuracy: 81.0, source: 'Wu et al. 2019, Table 2' },
    CiteSeer: { accuracy: 71.9, source: 'Wu et al. 2019, Table 2' },
  },
  epochs: 100,
  makeModel: (f, c) => new SGC(f, c, 2),
  makeOptimizer: (m) => new Adam(m.parameters(), { lr: 0.2, weightDecay: SGC_WEIGHT_DECAY }),
};

if (process.argv[1] === fileURLToPath(import.meta.url)) await nodeCli(SGC_SPEC, process.argv.slice(2));
