import * as T from '@tessera/tensor';
import type { Module } from '../module.js';

export const shapeStr = (s: readonly number[]) => `[${s.join(', ')}]`;

/** The name a layer uses in its errors, e.g. 'Linear(inFeatures=4, outFeatures=3)'. */
export const layerName = (m: Module) => String(m).split('\n')[0];

/** Throws unless x is a tensor of a float dtype; names the layer. */
export function checkFloatInput(m: Module, x: unknown): asserts x is T.Tensor {
  if (!(x instanceof T.Tensor)) throw new TypeError(`${layerName(m)}: expected a Tensor input, received ${x === null ? 'null' : typeof x}`);
  if (x.dtype !== 'float32' && x.dtype !== 'float64') throw new TypeError(`${layerName(m)}: expected a float32 or float64 input, received ${x.dtype}`);
}

/** Throws unless x has one of the ranks and `dim` (counted from the front of the unbatched or batched form) has size `size`. */
export function checkInput(m: Module, x: unknown, ranks: number[], channelDim: (rank: number) => number, size: number, expected: string): asserts x is T.Tensor {
  checkFloatInput(m, x);
  if (!ranks.includes(x.rank) || x.shape[channelDim(x.rank)] !== size) {
    throw new RangeError(`${layerName(m)}: expected input of shape ${expected}, received ${shapeStr(x.shape)}`);
  }
}

/** Creation options shared by layers with parameters. */
export interface FactoryOptions {
  device?: T.DeviceName;
  dtype?: 'float32' | 'float64';
}

export const factory = (o: FactoryOptions) => ({ device: o.device, dtype: o.dtype ?? 'float32' });

export function checkPositiveInt(layer: string, name: string, v: number): void {
  if (!Number.isInteger(v) || v <= 0) throw new RangeError(`${layer}: ${name} must be a positive integer, received ${v}`);
}
