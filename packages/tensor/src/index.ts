// Kernels register themselves with their backend on import.
import './cpu/elementwise.js';
import './cpu/reduce.js';
import './webgpu/elementwise.js';
import './webgpu/reduce.js';
import './methods.js';

export { Tensor, isTensor, type NestedArray } from './tensor.js';
export type { DType, TypedArray } from './dtype.js';
export { DTYPES, promoteTypes } from './dtype.js';
export type { DeviceName, Backend, Storage, TensorSpec } from './backend.js';
export { broadcastShapes, type Shape } from './shape.js';
export { init, shutdown, sync, deviceInfo, setDefaultDevice, getDefaultDevice, isAvailable, webgpuBackend, type InitOptions, type DeviceInfo } from './device.js';
export { memory, tidy, keep, dispose, type MemoryInfo } from './memory.js';
export { Generator, manualSeed, defaultGenerator } from './random/philox.js';
export * from './ops/creation.js';
export * from './ops/elementwise.js';
export * from './ops/movement.js';
export * from './ops/reduction.js';
export * from './ops/matmul.js';
export * from './ops/random.js';
export { to } from './ops/transfer.js';
export { empty, type CreateOptions, type TensorOrScalar, type Scalar } from './ops/util.js';
export { UNARY_OPS as unaryOps, BINARY_OPS as binaryOps, type UnaryOp, type BinaryOp } from './ops/optable.js';
