import type { DeviceName } from '../backend.js';
import { arrayType, checkDType, type DType, type TypedArray } from '../dtype.js';
import { engine } from '../engine.js';
import { checkShape, numel, type Shape } from '../shape.js';
import { Tensor, type NestedArray } from '../tensor.js';
import { empty, resolveDevice, run, type CreateOptions } from './util.js';

export type TensorLike = NestedArray | TypedArray | readonly number[];

function flatten(op: string, data: unknown, shape: number[], out: number[], depth: number) {
  if (Array.isArray(data)) {
    if (shape.length <= depth) shape.push(data.length);
    else if (shape[depth] !== data.length) throw new RangeError(`${op}: ragged nested array (dim ${depth} has lengths ${shape[depth]} and ${data.length})`);
    for (const d of data) flatten(op, d, shape, out, depth + 1);
  } else if (typeof data === 'number' || typeof data === 'boolean') {
    if (depth !== shape.length) throw new RangeError(`${op}: ragged nested array (a scalar at depth ${depth} where arrays of rank ${shape.length} were expected)`);
    out.push(Number(data));
  } else {
    throw new TypeError(`${op}: expected numbers, booleans, nested arrays or a TypedArray, received ${data === null ? 'null' : typeof data}`);
  }
}

function inferDType(data: unknown): DType {
  if (data instanceof Float32Array) return 'float32';
  if (data instanceof Float64Array) return 'float64';
  if (data instanceof Int32Array) return 'int32';
  if (data instanceof Uint32Array) return 'uint32';
  if (data instanceof Uint8Array) return 'bool';
  let sawBool = false;
  const walk = (d: unknown): boolean => (Array.isArray(d) ? d.every(walk) : typeof d === 'boolean' ? (sawBool = true) : false);
  return walk(data) && sawBool ? 'bool' : 'float32';
}

/**
 * A tensor from nested arrays, a flat TypedArray (with `shape`), or a scalar. The dtype defaults to
 * the TypedArray's, bool for booleans, else float32. The data is copied.
 */
export function tensor(data: TensorLike | number | boolean, options: CreateOptions & { shape?: Shape } = {}): Tensor {
  const op = 'tensor';
  const dtype = checkDType(op, options.dtype ?? inferDType(data));
  let shape: number[];
  let flat: ArrayLike<number>;
  if (ArrayBuffer.isView(data)) {
    flat = data as TypedArray;
    shape = options.shape ? checkShape(op, options.shape) : [flat.length];
  } else {
    const out: number[] = [];
    shape = [];
    flatten(op, data, shape, out, 0);
    flat = out;
    if (options.shape) {
      const s = checkShape(op, options.shape);
      if (numel(s) !== out.length) throw new RangeError(`${op}: shape [${s.join(', ')}] needs ${numel(s)} elements, received ${out.length}`);
      shape = s;
    }
  }
  if (numel(shape) !== flat.length) throw new RangeError(`${op}: shape [${shape.join(', ')}] needs ${numel(shape)} elements, received ${flat.length}`);
  return upload(op, flat, shape, dtype, options.device);
}

/** A new tensor holding `flat`; errors (float64 on webgpu, ...) name `op`. */
function upload(op: string, flat: ArrayLike<number>, shape: Shape, dtype: DType, device?: DeviceName): Tensor {
  const t = empty(shape, dtype, device, op);
  const Arr = arrayType(dtype);
  const arr = flat instanceof Arr ? flat : dtype === 'bool' ? Uint8Array.from(flat, (v) => (v ? 1 : 0)) : Arr.from(flat);
  engine.backend(t.device).write(t.storage, arr as TypedArray);
  return t;
}

/** A 0-d tensor holding one value. */
export function scalar(value: number | boolean, options: CreateOptions = {}): Tensor {
  return tensor(value, options);
}

export function full(shape: Shape, value: number | boolean, options: CreateOptions = {}): Tensor {
  const s = checkShape('full', shape);
  const dtype = options.dtype ?? (typeof value === 'boolean' ? 'bool' : 'float32');
  const t = empty(s, dtype, options.device, 'full');
  run('fill', [], [t], { value: Number(value) });
  return t;
}

export const zeros = (shape: Shape, options: CreateOptions = {}) => full(shape, 0, options);
export const ones = (shape: Shape, options: CreateOptions = {}) => full(shape, 1, options);

const likeOpts = (t: Tensor, o: CreateOptions): CreateOptions => ({ dtype: o.dtype ?? t.dtype, device: o.device ?? t.device });
export const zerosLike = (t: Tensor, o: CreateOptions = {}) => full(t.shape, 0, likeOpts(t, o));
export const onesLike = (t: Tensor, o: CreateOptions = {}) => full(t.shape, 1, likeOpts(t, o));
export const fullLike = (t: Tensor, value: number | boolean, o: CreateOptions = {}) => full(t.shape, value, likeOpts(t, o));
export const emptyLike = (t: Tensor, o: CreateOptions = {}) => empty(t.shape, o.dtype ?? t.dtype, o.device ?? t.device);

/** Values from `start` up to (not including) `end` by `step`; `arange(n)` is 0..n-1. */
export function arange(start: number, end?: number, step = 1, options: CreateOptions = {}): Tensor {
  if (end === undefined) [start, end] = [0, start];
  if (!Number.isFinite(start) || !Number.isFinite(end) || !Number.isFinite(step) || step === 0) {
    throw new RangeError(`arange: expected finite start, end and a non-zero step, received (${start}, ${end}, ${step})`);
  }
  const n = Math.max(0, Math.ceil((end - start) / step));
  const dtype = options.dtype ?? ([start, end, step].every(Number.isInteger) ? 'int32' : 'float32');
  const data = new (arrayType(dtype))(n);
  for (let i = 0; i < n; i++) data[i] = start + i * step;
  return upload('arange', data, [n], dtype, options.device);
}

/** `steps` evenly spaced values from `start` to `end` inclusive. */
export function linspace(start: number, end: number, steps: number, options: CreateOptions = {}): Tensor {
  if (!Number.isInteger(steps) || steps < 0) throw new RangeError(`linspace: steps must be a non-negative integer, received ${steps}`);
  const dtype = options.dtype ?? 'float32';
  const data = new (arrayType(dtype))(steps);
  const step = steps > 1 ? (end - start) / (steps - 1) : 0;
  for (let i = 0; i < steps; i++) data[i] = i === steps - 1 && steps > 1 ? end : start + i * step;
  return upload('linspace', data, [steps], dtype, options.device);
}

/** The n×m identity. */
export function eye(n: number, m = n, options: CreateOptions = {}): Tensor {
  checkShape('eye', [n, m]);
  const dtype = options.dtype ?? 'float32';
  const data = new (arrayType(dtype))(n * m);
  for (let i = 0; i < Math.min(n, m); i++) data[i * m + i] = 1;
  return upload('eye', data, [n, m], dtype, resolveDevice('eye', options.device));
}
