export { Graph, GRAPH_KEYS, type GraphKey, type GraphInit, type GraphChanges } from './graph.js';
export { Batch } from './batch.js';
export { InMemoryDataset, applyTransform, type GraphDataset, type GraphTransformLike, type InMemoryDatasetOptions } from './dataset.js';
export { GraphDataLoader, type GraphDataLoaderOptions } from './loader.js';
