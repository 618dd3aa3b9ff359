import { isFloat, toFloat, type DType } from '../dtype.js';
import { flatStride, normDim, normDims, numel, shapeStr } from '../shape.js';
import { Tensor } from '../tensor.js';
import { tidy } from '../memory.js';
import { full } from './creation.js';
import { abs, add, cast, div, exp, isFinite, log, pow, sqrt, square, sub, where } from './elementwise.js';
import { contiguous, permute, reshape } from './movement.js';
import { checkTensor, empty, run } from './util.js';

export interface ReduceOptions {
  /** Dims to reduce (all when omitted). */
  dim?: number | readonly number[];
  keepdim?: boolean;
}

type RowOp = 'sum' | 'prod' | 'max' | 'min' | 'argmax' | 'argmin';

/** Moves `dims` to the end, makes the data contiguous and runs a row kernel; returns the output shape too. */
function rowReduce(op: string, kernelOp: RowOp, x: Tensor, dims: number[], keepdim: boolean, outDtype: DType): Tensor {
  const rest = x.shape.map((_, i) => i).filter((i) => !dims.includes(i));
  const K = numel(dims.map((d) => x.shape[d]));
  const Mrows = numel(rest.map((d) => x.shape[d]));
  const outShape = keepdim ? x.shape.map((s, i) => (dims.includes(i) ? 1 : s)) : rest.map((d) => x.shape[d]);
  if (K === 0 && kernelOp !== 'sum' && kernelOp !== 'prod') {
    throw new RangeError(`${op}: cannot reduce over an empty dim of a tensor of shape ${shapeStr(x.shape)}`);
  }
  // The cpu kernel walks any strided view (no copy); webgpu's reads rows and their elements with
  // one stride each (a contiguous row, or a column of a row-major matrix).
  const inPlace = x.device === 'cpu' || twoStridesAfter(x, rest, dims);
  if (!inPlace && K > 0 && Mrows > 0 && !kernelOp.startsWith('arg')) {
    // webgpu with reduced dims on both sides of a kept one (a bias gradient's sum over N, H, W):
    // reduce the trailing ones first (contiguous rows), then the rest (columns, read in place),
    // instead of copying the whole tensor permuted.
    const inner = dims.filter((d) => d > rest[rest.length - 1]);
    if (inner.length > 0 && inner.length < dims.length) {
      const partial = rowReduce(op, kernelOp, x, inner, true, outDtype);
      try {
        return rowReduce(op, kernelOp, partial, dims, keepdim, outDtype);
      } finally {
        partial.dispose();
      }
    }
  }
  const out = empty(outShape, outDtype, x.device, op);
  if (Mrows === 0) return out;
  const p = permute(x, [...rest, ...dims]);
  const c = inPlace ? p : contiguous(p);
  if (c !== p) p.dispose();
  try {
    if (K === 0) {
      run('fill', [], [out], { value: kernelOp === 'sum' ? 0 : 1 });
    } else {
      run('reduce', [c], [out], { op: kernelOp, rows: Mrows, cols: K, split: rest.length });
    }
  } finally {
    c.dispose();
  }
  return out;
}

/** Whether `x` permuted to [...rest, ...dims] walks its kept dims and its reduced dims with one stride each. */
function twoStridesAfter(x: Tensor, rest: number[], dims: number[]): boolean {
  const order = [...rest, ...dims];
  const shape = order.map((d) => x.shape[d]);
  const strides = order.map((d) => x.strides[d]);
  return flatStride(shape, strides, 0, rest.length) !== null && flatStride(shape, strides, rest.length) !== null;
}

function prepare(op: string, x: Tensor, options: ReduceOptions) {
  checkTensor(op, x);
  if (options !== undefined && (typeof options !== 'object' || options === null)) {
    throw new TypeError(`${op}: expected an options object like { dim, keepdim }, received ${typeof options}`);
  }
  return { dims: normDims(op, options.dim, x.rank), keepdim: options.keepdim ?? false };
}

const sumType = (d: DType): DType => (d === 'bool' || d === 'uint32' ? 'int32' : d);

export function sum(x: Tensor, options: ReduceOptions = {}): Tensor {
  const { dims, keepdim } = prepare('sum', x, options);
  const dt = sumType(x.dtype);
  if (dt !== x.dtype) return tidy(() => rowReduce('sum', 'sum', cast(x, dt), dims, keepdim, dt));
  return rowReduce('sum', 'sum', x, dims, keepdim, dt);
}

export function prod(x: Tensor, options: ReduceOptions = {}): Tensor {
  const { dims, keepdim } = prepare('prod', x, options);
  const dt = sumType(x.dtype);
  if (dt !== x.dtype) return tidy(() => rowReduce('prod', 'prod', cast(x, dt), dims, keepdim, dt));
  return rowReduce('prod', 'prod', x, dims, keepdim, dt);
}

/** Mean; int and bool inputs give float32. */
export function mean(x: Tensor, options: ReduceOptions = {}): Tensor {
  const { dims, keepdim } = prepare('mean', x, options);
  const n = numel(dims.map((d) => x.shape[d]));
  return tidy(() => {
    const xf = isFloat(x.dtype) ? x : cast(x, toFloat(x.dtype));
    return div(rowReduce('mean', 'sum', xf, dims, keepdim, xf.dtype), n);
  });
}

/** Largest values over dims (PyTorch's amax). */
export function amax(x: Tensor, options: ReduceOptions = {}): Tensor {
  const { dims, keepdim } = prepare('amax', x, options);
  return rowReduce('amax', 'max', x, dims, keepdim, x.dtype);
}

export function amin(x: Tensor, options: ReduceOptions = {}): Tensor {
  const { dims, keepdim } = prepare('amin', x, options);
  return rowReduce('amin', 'min', x, dims, keepdim, x.dtype);
}

export interface ValuesIndices {
  values: Tensor;
  indices: Tensor;
}

function extremeDim(op: 'max' | 'min', x: Tensor, dim: number, keepdim: boolean): ValuesIndices {
  const d = normDim(op, dim, x.rank);
  const indices = rowReduce(op, op === 'max' ? 'argmax' : 'argmin', x, x.rank ? [d] : [], keepdim, 'int32');
  const values = rowReduce(op, op, x, x.rank ? [d] : [], keepdim, x.dtype);
  return { values, indices };
}

/** `max(x)` is the largest element; `max(x, { dim })` gives `{ values, indices }` along dim, as in PyTorch. */
export function max(x: Tensor): Tensor;
export function max(x: Tensor, options: { dim: number; keepdim?: boolean }): ValuesIndices;
export function max(x: Tensor, options?: { dim?: number; keepdim?: boolean }): Tensor | ValuesIndices {
  checkTensor('max', x);
  if (options?.dim === undefined) return amax(x);
  return extremeDim('max', x, options.dim, options.keepdim ?? false);
}

export function min(x: Tensor): Tensor;
export function min(x: Tensor, options: { dim: number; keepdim?: boolean }): ValuesIndices;
export function min(x: Tensor, options?: { dim?: number; keepdim?: boolean }): Tensor | ValuesIndices {
  checkTensor('min', x);
  if (options?.dim === undefined) return amin(x);
  return extremeDim('min', x, options.dim, options.keepdim ?? false);
}

function argExtreme(op: 'argmax' | 'argmin', x: Tensor, options: { dim?: number; keepdim?: boolean }): Tensor {
  checkTensor(op, x);
  if (options.dim === undefined) {
    const flat = reshape(x, [-1]);
    try {
      const r = rowReduce(op, op, flat, [0], false, 'int32');
      if (!options.keepdim) return r;
      const k = reshape(r, x.shape.map(() => 1));
      r.dispose();
      return k;
    } finally {
      flat.dispose();
    }
  }
  const d = normDim(op, options.dim, x.rank);
  return rowReduce(op, op, x, x.rank ? [d] : [], options.keepdim ?? false, 'int32');
}

/** Index of the largest element (of the flattened tensor when dim is omitted); the first one on ties. */
export const argmax = (x: Tensor, options: { dim?: number; keepdim?: boolean } = {}) => argExtreme('argmax', x, options);
export const argmin = (x: Tensor, options: { dim?: number; keepdim?: boolean } = {}) => argExtreme('argmin', x, options);

export interface VarOptions extends ReduceOptions {
  /** Subtracted from the count in the divisor: 1 (default) is Bessel's correction, 0 the population variance. */
  correction?: number;
}

export function variance(x: Tensor, options: VarOptions = {}): Tensor {
  const { dims, keepdim } = prepare('var', x, options);
  const n = numel(dims.map((d) => x.shape[d]));
  const correction = options.correction ?? 1;
  return tidy(() => {
    const m = mean(x, { dim: dims, keepdim: true });
    const ss = sum(square(sub(x, m)), { dim: dims, keepdim });
    return div(ss, Math.max(0, n - correction));
  });
}

export function std(x: Tensor, options: VarOptions = {}): Tensor {
  return tidy(() => sqrt(variance(x, options)));
}

/** log(sum(exp(x))) over dims, stable for large and -inf inputs. */
export function logsumexp(x: Tensor, options: ReduceOptions = {}): Tensor {
  const { dims, keepdim } = prepare('logsumexp', x, options);
  return tidy(() => {
    const xf = isFloat(x.dtype) ? x : cast(x, 'float32');
    const m = amax(xf, { dim: dims, keepdim: true });
    const safe = where(isFinite(m), m, 0);
    const s = log(sum(exp(sub(xf, safe)), { dim: dims, keepdim: true }));
    const r = add(s, safe);
    return keepdim ? r : reshape(r, x.shape.filter((_, i) => !dims.includes(i)));
  });
}

export interface NormOptions extends ReduceOptions {
  /** 2 (default, 'fro'), 1, Infinity, -Infinity, 0 (count of non-zeros) or any other p. */
  p?: number | 'fro';
}

export function norm(x: Tensor, options: NormOptions = {}): Tensor {
  const { dims, keepdim } = prepare('norm', x, options);
  const p = options.p === 'fro' || options.p === undefined ? 2 : options.p;
  if (typeof p !== 'number' || Number.isNaN(p)) throw new TypeError(`norm: p must be a number or 'fro', received ${String(options.p)}`);
  const o = { dim: dims, keepdim };
  return tidy(() => {
    const xf = isFloat(x.dtype) ? x : cast(x, 'float32');
    if (p === 2) return sqrt(sum(square(xf), o));
    if (p === 1) return sum(abs(xf), o);
    if (p === Infinity) return amax(abs(xf), o);
    if (p === -Infinity) return amin(abs(xf), o);
    if (p === 0) return sum(cast(cast(xf, 'bool'), xf.dtype), o);
    return pow(sum(pow(abs(xf), p), o), 1 / p);
  });
}

export function all(x: Tensor, options: ReduceOptions = {}): Tensor {
  const { dims, keepdim } = prepare('all', x, options);
  if (numel(dims.map((d) => x.shape[d])) === 0) return full(keepdim ? x.shape.map((s, i) => (dims.includes(i) ? 1 : s)) : x.shape.filter((_, i) => !dims.includes(i)), true, { device: x.device });
  return tidy(() => rowReduce('all', 'min', x.dtype === 'bool' ? x : cast(x, 'bool'), dims, keepdim, 'bool'));
}

export function any(x: Tensor, options: ReduceOptions = {}): Tensor {
  const { dims, keepdim } = prepare('any', x, options);
  if (numel(dims.map((d) => x.shape[d])) === 0) return full(keepdim ? x.shape.map((s, i) => (dims.includes(i) ? 1 : s)) : x.shape.filter((_, i) => !dims.includes(i)), false, { device: x.device });
  return tidy(() => rowReduce('any', 'max', x.dtype === 'bool' ? x : cast(x, 'bool'), dims, keepdim, 'bool'));
}

function scan(op: 'cumsum' | 'cumprod', x: Tensor, dim: number): Tensor {
  checkTensor(op, x);
  const d = normDim(op, dim, x.rank);
  const dt = sumType(x.dtype);
  return tidy(() => {
    const xc = dt === x.dtype ? x : cast(x, dt);
    if (x.rank === 0) return contiguous(xc, true);
    const order = [...x.shape.keys()].filter((i) => i !== d).concat([d]);
    const c = contiguous(permute(xc, order), true);
    const K = x.shape[d];
    const out = empty(c.shape, dt, x.device, op);
    if (c.size > 0) run('scan', [c], [out], { op: op === 'cumsum' ? 'sum' : 'prod', rows: c.size / K, cols: K });
    const inv = order.map((_, i) => order.indexOf(i));
    return contiguous(permute(out, inv));
  });
}

export const cumsum = (x: Tensor, dim: number) => scan('cumsum', x, dim);
export const cumprod = (x: Tensor, dim: number) => scan('cumprod', x, dim);

export function softmax(x: Tensor, dim = -1): Tensor {
  checkTensor('softmax', x);
  const d = normDim('softmax', dim, x.rank);
  return tidy(() => {
    const xf = isFloat(x.dtype) ? x : cast(x, 'float32');
    const m = amax(xf, { dim: d, keepdim: true });
    const e = exp(sub(xf, where(isFinite(m), m, 0)));
    return div(e, sum(e, { dim: d, keepdim: true }));
  });
}

export function logSoftmax(x: Tensor, dim = -1): Tensor {
  checkTensor('logSoftmax', x);
  const d = normDim('logSoftmax', dim, x.rank);
  return tidy(() => {
    const xf = isFloat(x.dtype) ? x : cast(x, 'float32');
    const m = amax(xf, { dim: d, keepdim: true });
    const shifted = sub(xf, where(isFinite(m), m, 0));
    return sub(shifted, log(sum(exp(shifted), { dim: d, keepdim: true })));
  });
}

