export { Compose, type GraphTransform } from './compose.js';
export { NormalizeFeatures } from './features.js';
export { ToUndirected, AddSelfLoops, GCNNorm } from './edges.js';
export { RandomNodeSplit, RandomLinkSplit, type RandomNodeSplitOptions, type RandomLinkSplitOptions } from './splits.js';
