/**
 * GIN-0 (Xu et al., "How Powerful are Graph Neural Networks?", ICLR 2019) on MUTAG / PROTEINS with
 * stratified 10-fold cross-validation. Paper (Table 1, GIN-0): 89.4 ± 5.6 / 76.2 ± 2.8 %.
 * Settings of the paper and the authors' code: 5 layers including the input layer, i.e. 4 GINConv
 * layers with ε = 0 fixed, each MLP Linear → BatchNorm → ReLU → Linear followed by BatchNorm → ReLU;
 * sum readout of every layer's node features (the input's included), each through its own
 * Linear(·, C) with dropout 0.5, the scores summed; hidden 32 (MUTAG) / 64 (PROTEINS), batch size 32
 * (MUTAG) / 128 (PROTEINS); Adam lr 0.01 halved every 50 epochs, no weight decay, 350 epochs; node
 * features are the one-hot node labels. One epoch is one pass over the training folds in a random
 * order (the authors' code instead draws 50 random batches per epoch). Protocol: see
 * lib/graph-classification.ts.
 *
 *   pnpm --filter @tessera/examples gin -- --dataset MUTAG --folds 10 --seeds 1 [--epochs N] [--device webgpu]
 */
import { fileURLToPath } from 'node:url';
import * as T from '@tessera/tensor';
import { BatchNorm1d, F, Linear, Module, ModuleList, ReLU, Sequential } from '@tessera/nn';
import { Adam, StepLR } from '@tessera/optimize';
import { GINConv, globalAddPool } from '@tessera/graph';
import { graphCvCli, type GraphSpec } from '../lib/graph-classification.js';

/** Hidden width and batch size per dataset (the paper tunes both per dataset). */
export const GIN_SETTINGS: Record<string, { hidden: number; batchSize: number }> = {
  MUTAG: { hidden: 32, batchSize: 32 },
  PROTEINS: { hidden: 64, batchSize: 128 },
};

function settings(dataset: string): { hidden: number; batchSize: number } {
  const s = GIN_SETTINGS[dataset];
  if (!s) throw new Error(`GIN: no settings for dataset ${dataset}; datasets: ${Object.keys(GIN_SETTINGS).join(', ')}`);
  return s;
}

export class GIN extends Module {
  convs: ModuleList;
  norms: ModuleList;
  heads: ModuleList;

  /** `layers` counts the input layer, as the paper: layers − 1 GINConv layers, `layers` readout heads. */
  constructor(inChannels: number, hidden: number, numClasses: number, readonly layers = 5, readonly dropout = 0.5) {
    super();
    const mlp = (i: number) => new Sequential(new Linear(i, hidden), new BatchNorm1d(hidden), new ReLU(), new Linear(hidden, hidden));
    this.convs = new ModuleList(Array.from({ length: layers - 1 }, (_, l) => new GINConv(mlp(l === 0 ? inChannels : hidden), { eps: 0 })));
    this.norms = new ModuleList(Array.from({ length: layers - 1 }, () => new BatchNorm1d(hidden)));
    this.heads = new ModuleList(Array.from({ length: layers }, (_, l) => new Linear(l === 0 ? inChannels : hidden, numClasses)));
  }

  forward(x: T.Tensor, edgeIndex: T.Tensor, batch: T.Tensor, numGraphs: number): T.Tensor {
    return T.tidy(() => {
      const convs = [...this.convs] as GINConv[];
      const norms = [...this.norms] as BatchNorm1d[];
      const heads = [...this.heads] as Linear[];
      const hs = [x];
      for (let l = 0; l < convs.length; l++) hs.push(T.relu(norms[l].forward(convs[l].forward(hs[l], edgeIndex))));
      let score = F.dropout(heads[0].forward(globalAddPool(hs[0], batch, numGraphs)), this.dropout, this.training);
      for (let l = 1; l < hs.length; l++) score = T.add(score, F.dropout(heads[l].forward(globalAddPool(hs[l], batch, numGraphs)), this.dropout, this.training));
      return score;
    });
  }
}

export const GIN_SPEC: GraphSpec = {
  name: 'gin',
  model: 'GIN-0',
  description: (d) => {
    const { hidden, batchSize } = settings(d);
    return `5 layers incl. input (4 × GINConv ε = 0 with MLP Linear → BN → ReLU → Linear, then BN → ReLU), hidden ${hidden}, sum readout of all 5 layers through Linear heads with dropout 0.5, batch size ${batchSize}, Adam lr 0.01 × 0.5 every 50 epochs, 350 epochs`;
  },
  paper: {
    MUTAG: { accuracy: 89.4, std: 5.6, source: 'Xu et al. 2019, Table 1 (GIN-0)' },
    PROTEINS: { accuracy: 76.2, std: 2.8, source: 'Xu et al. 2019, Table 1 (GIN-0)' },
  },
  epochs: 350,
  batchSize: (d) => settings(d).batchSize,
  makeModel: (f, c, d) => new GIN(f, settings(d).hidden, c),
  makeOptimizer: (m) => new Adam(m.parameters(), { lr: 0.01 }),
  makeScheduler: (opt) => new StepLR(opt, { stepSize: 50, gamma: 0.5 }),
};

if (process.argv[1] === fileURLToPath(import.meta.url)) await graphCvCli(GIN_SPEC, process.argv.slice(2));
