/**
 * DeepWalk (Perozzi et al., KDD 2014) on Cora / CiteSeer: uniform random walks and skip-gram with
 * the hierarchical softmax over a Huffman tree of node degrees (the paper's objective), 128
 * dimensions, walks of length 20, window 10, 10 walks per node per epoch (the paper walks 80
 * times per node with length 40: too slow for a cpu example), Adam lr 0.01, embedding initStd 0.1.
 * Evaluation as node2vec.ts: a logistic-regression probe on the public split and on random 50 %
 * splits, against random features. Paper number on the public split: 67.2 % (Cora), 43.2 %
 * (CiteSeer), from Yang et al. (2016) as quoted in Kipf & Welling (2017), Table 2.
 *
 *   pnpm --filter @tessera/examples deepwalk -- --dataset Cora --seeds 3 [--epochs N] [--device webgpu]
 */
import { fileURLToPath } from 'node:url';
import { DeepWalk } from '@tessera/graph';
import { embeddingCli, type EmbeddingSpec } from './node2vec.js';

const SOURCE = 'Yang et al. 2016 (Planetoid), as quoted by Kipf & Welling 2017, Table 2';

export const DEEPWALK_SPEC: EmbeddingSpec = {
  name: 'deepwalk',
  model: 'DeepWalk',
  description: 'DeepWalk: uniform walks, hierarchical softmax over a Huffman tree of node degrees, 128 dimensions, walk length 20, window 10, 10 walks per node per epoch, initStd 0.1',
  reference: {
    Cora: { accuracy: 67.2, source: SOURCE },
    CiteSeer: { accuracy: 43.2, source: SOURCE },
  },
  epochs: 1,
  lr: 0.01,
  batchSize: 256,
  makeModel: (graph, o) =>
    new DeepWalk(graph, { embeddingDim: 128, walkLength: 20, contextSize: 10, walksPerNode: o.walksPerNode ?? 10, objective: 'hierarchical-softmax', tree: 'huffman', initStd: 0.1, device: o.device }),
};

if (process.argv[1] === fileURLToPath(import.meta.url)) await embeddingCli(DEEPWALK_SPEC, process.argv.slice(2));
