// Kernels register themselves with their backend on import.
import './cpu/elementwise.js';
import './cpu/reduce.js';
import './webgpu/elementwise.js';
import './webgpu/reduce.js';
import './cpu/indexing.js';
import './webgpu/indexing.js';
import './cpu/sorting.js';
import './webgpu/sorting.js';
import './cpu/nn.js';
import './webgpu/nn.js';
import './cpu/linalg.js';
import './cpu/optim.js';
import './webgpu/linalg.js';
import './methods.js';
import './differentiable.js';

export { Tensor, isTensor, type NestedArray } from './tensor.js';
export type { DType, TypedArray } from './dtype.js';
export { DTYPES, promoteTypes } from './dtype.js';
export type { DeviceName, Backend, Storage, TensorSpec } from './backend.js';
export { broadcastShapes, type Shape } from './shape.js';
export { init, shutdown, sync, deviceInfo, setDefaultDevice, getDefaultDevice, isAvailable, webgpuBackend, webgpuStats, resetWebgpuStats, type InitOptions, type DeviceInfo, type WebGPUStats } from './device.js';
export { memory, tidy, keep, dispose, type MemoryInfo } from './memory.js';
export { Generator, manualSeed, defaultGenerator } from './random/philox.js';
export * from './ops/creation.js';
export * from './ops/elementwise.js';
export * from './ops/movement.js';
export * from './ops/reduction.js';
export * from './ops/matmul.js';
export * from './ops/random.js';
export * from './ops/indexing.js';
export * from './ops/sorting.js';
export * from './ops/nn.js';
export * from './ops/linalg.js';
export * from './ops/optim.js';
export * from './sparse.js';
export { to } from './ops/transfer.js';
export { setNumThreads, getNumThreads, cpuKernelInfo } from './cpu/wasm/runtime.js';
// Explicit re-exports shadow the unwrapped functions of `export *` above.
export {
  neg, abs, sign, exp, expm1, log, log1p, sqrt,
  rsqrt, reciprocal, sin, cos, tan, tanh, sigmoid, relu,
  silu, erf, floor, ceil, round, trunc, leakyRelu, elu,
  gelu, softplus, clamp, cast, add, sub, mul, div,
  pow, atan2, remainder, minimum, maximum, reluBackward, square, where, maskedFill,
  contiguous, clone, reshape, view, permute, transpose, expand, broadcastTo,
  broadcastTensors, unsqueeze, squeeze, flatten, unflatten, slice, narrow, select,
  flip, cat, stack, split, chunk, unbind, pad, roll,
  repeat, tril, triu, sum, prod, mean, amax, amin,
  max, min, variance, std, logsumexp, norm, cumsum, cumprod,
  softmax, logSoftmax, matmul, mm, bmm, dot, outer, einsum,
  inv, det, slogdet, solve, cholesky, qr, eigh, svd,
  diagonal, trace, conv1d, conv2d, convTranspose1d, convTranspose2d, maxPool1d, maxPool2d,
  avgPool1d, avgPool2d, adaptiveAvgPool1d, adaptiveAvgPool2d, interpolate, indexSelect, gather, scatter,
  scatterAdd, scatterReduce, segmentSum, segmentSumCsr, segmentMean, segmentMax, segmentMin, segmentSoftmax,
  spmm, sort, topk, cdist,
} from './differentiable.js';
export { setGradRecorder, primitive, withoutRecording, tensorsIn, tensorsOut, type GradRecorder } from './autograd.js';
export { empty, type CreateOptions, type TensorOrScalar, type Scalar } from './ops/util.js';
export { UNARY_OPS as unaryOps, BINARY_OPS as binaryOps, type UnaryOp, type BinaryOp } from './ops/optable.js';
