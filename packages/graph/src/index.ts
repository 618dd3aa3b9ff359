/**
 * @tessera/graph: graph data, message passing, GNN layers, readouts, datasets and transforms.
 */
export * from './data/index.js';
export * from './utils/index.js';
export * from './datasets/index.js';
export * from './transforms/index.js';
export * from './nn/index.js';
export * from './partition/index.js';
export * from './loader/index.js';
export * from './embedding/index.js';
export * from './gmnn/index.js';
