export { partitionGraph, type EdgeList, type PartitionOptions, type PartitionResult } from './partition.js';
export { ClusterData, ClusterLoader, type ClusterDataOptions, type ClusterLoaderOptions } from './cluster.js';
export { clusterGcnNorm, type ClusterGcnNormOptions } from './norm.js';
export { stochasticBlockModel, type StochasticBlockModelOptions } from './sbm.js';
