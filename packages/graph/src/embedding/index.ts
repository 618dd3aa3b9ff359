// DeepWalk and node2vec: alias sampling, random walks on a host CSR, skip-gram training.
export { aliasSetup, aliasDraw, type AliasTable, type AliasDrawOptions } from './alias.js';
export { WalkGraph, type WalkGraphOptions } from './walk-graph.js';
export { RandomWalker, randomWalk, walkBatches, walkWindows, type WalkOptions, type WalkSampler, type WalkBatch, type WalkBatchOptions } from './walk.js';
export { HierarchicalSoftmax, huffmanTree, balancedTree, type BinaryTree } from './hsoftmax.js';
export { Node2Vec, DeepWalk, type Node2VecOptions, type SkipGramBatch, type SkipGramObjective } from './node2vec.js';
