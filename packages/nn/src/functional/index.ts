/** PyTorch's torch.nn.functional in camelCase: losses, distances and activations over tensor ops. */
export type { Reduction, ReductionOptions } from './reduction.js';
export * from './regression.js';
export * from './classification.js';
export * from './distance.js';
export * from './activations.js';
