export { Linear, Bilinear, Identity, Flatten, Embedding, type LinearOptions, type EmbeddingOptions } from './linear.js';
export { Conv1d, Conv2d, ConvTranspose2d, type ConvLayerOptions, type ConvTransposeLayerOptions } from './conv.js';
export { MaxPool1d, MaxPool2d, AvgPool1d, AvgPool2d, AdaptiveAvgPool2d, Upsample, type MaxPoolLayerOptions, type AvgPoolLayerOptions, type UpsampleOptions } from './pooling.js';
export { BatchNorm1d, BatchNorm2d, LayerNorm, GroupNorm, InstanceNorm2d, type BatchNormOptions, type LayerNormOptions, type GroupNormOptions, type InstanceNormOptions } from './norm.js';
export { Dropout } from './dropout.js';
export { ReLU, ReLU6, LeakyReLU, PReLU, ELU, GELU, SiLU, Swish, Mish, Softplus, Tanh, Sigmoid, Softmax, LogSoftmax, type PReLUOptions } from './activation.js';
export type { FactoryOptions } from './util.js';
