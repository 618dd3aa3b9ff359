export { toCsc, type CscAdjacency } from './csc.js';
export { sampleNeighbors, type SampleNeighborsOptions, type SampledNeighborhood } from './neighbor-sampler.js';
export { NeighborLoader, NeighborBatch, type NeighborLoaderOptions } from './neighbor-loader.js';
export { FastGCNSampler, FastGCNBatch, type FastGCNSamplerOptions, type FastGCNLayer } from './fastgcn.js';
export type { SeedBatchOptions } from './input.js';
