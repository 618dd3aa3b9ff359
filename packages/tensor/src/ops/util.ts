import type { DeviceName, TensorSpec } from '../backend.js';
import { checkDType, type DType } from '../dtype.js';
import { engine } from '../engine.js';
import { numel, shapeStr, type Shape } from '../shape.js';
import { Tensor } from '../tensor.js';

export interface CreateOptions {
  dtype?: DType;
  device?: DeviceName;
}

export function resolveDevice(op: string, device?: DeviceName): DeviceName {
  if (device === undefined) return engine.defaultDevice;
  if (device !== 'cpu' && device !== 'webgpu') throw new TypeError(`${op}: unknown device '${String(device)}'; expected 'cpu' or 'webgpu'`);
  return device;
}

/** A new uninitialised contiguous tensor. */
export function empty(shape: Shape, dtype: DType = 'float32', device?: DeviceName, op = 'empty'): Tensor {
  const dev = resolveDevice(op, device);
  checkDType(op, dtype);
  if (dtype === 'float64' && dev === 'webgpu') {
    throw new TypeError(`${op}: float64 is not supported on the webgpu device (WGSL has no f64); use the cpu device for float64`);
  }
  const backend = engine.backend(dev, op);
  return new Tensor(backend.allocate(dtype, numel(shape)), shape);
}

/** Throws unless `x` is a live Tensor. */
export function checkTensor(op: string, x: unknown, name = 'input'): Tensor {
  if (!(x instanceof Tensor)) throw new TypeError(`${op}: expected ${name} to be a Tensor, received ${x === null ? 'null' : typeof x}`);
  if (x.isDisposed) throw new Error(`${op}: ${name} has been disposed`);
  return x;
}

/** Throws unless all tensors live on one device; returns it. */
export function sameDevice(op: string, ...ts: Tensor[]): DeviceName {
  const d = ts[0].device;
  for (const t of ts) {
    if (t.device !== d) throw new Error(`${op}: expected all tensors on one device, received ${ts.map((u) => u.device).join(' and ')}; move them with \`await t.to('${d}')\``);
  }
  return d;
}

export function checkDTypeIn(op: string, t: Tensor, allowed: readonly DType[], name = 'input'): void {
  if (!allowed.includes(t.dtype)) throw new TypeError(`${op}: expected ${name} dtype in {${allowed.join(', ')}}, received ${t.dtype}`);
}

export function checkRank(op: string, t: Tensor, ranks: readonly number[], name = 'input'): void {
  if (!ranks.includes(t.rank)) {
    throw new RangeError(`${op}: expected ${name} of rank ${ranks.join(' or ')}, received shape ${shapeStr(t.shape)}`);
  }
}

/** Allocates outputs on the inputs' device and runs the kernel. */
export function run(kernel: string, inputs: readonly TensorSpec[], outputs: readonly TensorSpec[], params?: Record<string, unknown>): void {
  const backend = (outputs[0] ?? inputs[0]).storage.backend;
  backend.run(kernel, inputs, outputs, params);
}

/** The strides of `t` broadcast to `shape` (stride 0 on broadcast dims), as a kernel view. */
export function broadcastSpec(t: Tensor, shape: Shape): TensorSpec {
  const r = shape.length;
  const strides = new Array<number>(r).fill(0);
  for (let i = 0; i < t.rank; i++) {
    const j = r - t.rank + i;
    strides[j] = t.shape[i] === 1 && shape[j] !== 1 ? 0 : t.strides[i];
  }
  return { storage: t.storage, shape, strides, offset: t.offset, dtype: t.dtype };
}

export type Scalar = number | boolean;
export type TensorOrScalar = Tensor | Scalar;
