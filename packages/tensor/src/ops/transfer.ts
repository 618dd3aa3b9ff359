import type { DeviceName } from '../backend.js';
import { Tensor } from '../tensor.js';
import { tensor } from './creation.js';
import { checkTensor, resolveDevice } from './util.js';

/** A copy on another device (a new view when already there). Asynchronous: WebGPU reads are. */
export async function to(x: Tensor, device: DeviceName): Promise<Tensor> {
  checkTensor('to', x);
  const d = resolveDevice('to', device);
  if (x.device === d) return x._view(x.shape, x.strides, x.offset);
  if (x.dtype === 'float64' && d === 'webgpu') {
    throw new TypeError("to: float64 is not supported on the webgpu device (WGSL has no f64); cast to float32 first");
  }
  const data = await x.data();
  return tensor(data, { dtype: x.dtype, device: d, shape: x.shape });
}
