import type { TensorSpec } from '../backend.js';
import { isFloat, type DType } from '../dtype.js';
import { normDim, numel, shapeStr } from '../shape.js';
import { Tensor } from '../tensor.js';
import { full, zeros } from './creation.js';
import { contiguous } from './movement.js';
import { checkDTypeIn, checkRank, checkTensor, empty, run, sameDevice } from './util.js';

/**
 * Index-driven primitives with PyTorch semantics (indices are int32): indexSelect, gather, scatter,
 * scatterAdd, scatterReduce, and segment reductions over a sorted segment-id vector (the
 * torch_scatter / PyG message-passing workhorse).
 *
 * Out-of-range indices throw on cpu. On webgpu they cannot be checked without a readback, so
 * they are ignored: gather/indexSelect produce 0 there, scatter drops the contribution, and
 * segment ops leave the row out of every segment. Every op is deterministic on both devices.
 */

export type ScatterReduceOp = 'sum' | 'mean' | 'amax' | 'amin' | 'prod';
const REDUCE_OPS: readonly ScatterReduceOp[] = ['sum', 'mean', 'amax', 'amin', 'prod'];
const REDUCE_DTYPES: readonly DType[] = ['float32', 'float64', 'int32', 'uint32'];

function checkIndex(op: string, index: unknown, name = 'index'): Tensor {
  const t = checkTensor(op, index, name);
  if (t.dtype !== 'int32') throw new TypeError(`${op}: expected ${name} of dtype int32, received ${t.dtype}`);
  return t;
}

/** On cpu, throws unless every index lies in [0, size); on webgpu out-of-range indices are ignored by the kernels. */
/**
 * Throws if an index is outside [0, size). On cpu here; on webgpu the kernels check on the device
 * and the error is thrown by the next read (WebGPUBackend.indexErrorBuffer).
 */
function checkIndexRange(op: string, index: Tensor, size: number, what: string) {
  if (index.device !== 'cpu') return;
  // Read the storage in place (no copy, no tensors made): a broadcast (expanded) index repeats its
  // values along stride-0 dims, which the walk visits once.
  const data = index.storage.backend.readSync(index.storage);
  const shape: number[] = [];
  const strides: number[] = [];
  for (let d = 0; d < index.rank; d++) {
    if (index.shape[d] === 0) return;
    if (index.strides[d] === 0 || index.shape[d] === 1) continue;
    shape.push(index.shape[d]);
    strides.push(index.strides[d]);
  }
  const rank = shape.length;
  const inner = rank ? shape[rank - 1] : 1;
  const step = rank ? strides[rank - 1] : 0;
  const coord = new Array<number>(rank).fill(0);
  let row = index.offset;
  for (;;) {
    for (let j = 0, p = row; j < inner; j++, p += step) {
      const v = data[p];
      if (v < 0 || v >= size) throw new RangeError(`${op}: index ${v} is out of range for ${what} of size ${size} (expected 0 <= index < ${size})`);
    }
    let d = rank - 2;
    for (; d >= 0; d--) {
      coord[d]++;
      row += strides[d];
      if (coord[d] < shape[d]) break;
      row -= strides[d] * shape[d];
      coord[d] = 0;
    }
    if (d < 0) return;
  }
}

function checkRankAtLeast1(op: string, x: Tensor, name: string) {
  if (x.rank === 0) throw new RangeError(`${op}: expected ${name} of rank >= 1, received a 0-d tensor`);
}

/** Checks shared by indexSelect, gather and the scatters: a tensor input of rank >= 1 and an int32 index on its device. */
function checkInputAndIndex(op: string, x: Tensor, index: Tensor) {
  checkTensor(op, x);
  checkIndex(op, index);
  sameDevice(op, x, index);
  checkRankAtLeast1(op, x, 'input');
}

/** The entries of `x` at `index` (1-D) along `dim`; the result has `index.size` entries on that dim. */
export function indexSelect(x: Tensor, dim: number, index: Tensor): Tensor {
  const op = 'indexSelect';
  checkInputAndIndex(op, x, index);
  checkRank(op, index, [0, 1], 'index');
  const d = normDim(op, dim, x.rank);
  checkIndexRange(op, index, x.shape[d], `dim ${d}`);
  const shape = x.shape.slice();
  shape[d] = index.size;
  // A stride-0 view of the index over the output shape turns this into a gather.
  const strides = shape.map((_, k) => (k === d && index.rank === 1 ? index.strides[0] : 0));
  const idx: TensorSpec = { storage: index.storage, shape, strides, offset: index.offset, dtype: 'int32' };
  const out = empty(shape, x.dtype, x.device, op);
  run('gather', [x, idx], [out], { dim: d, op });
  return out;
}

/** out[i][j][k] = x[index[i][j][k]][j][k] for dim 0 (and likewise for other dims); out has index's shape. */
export function gather(x: Tensor, dim: number, index: Tensor): Tensor {
  const op = 'gather';
  checkInputAndIndex(op, x, index);
  const d = normDim(op, dim, x.rank);
  if (index.rank !== x.rank || index.shape.some((s, k) => k !== d && s > x.shape[k])) {
    throw new RangeError(`${op}: expected index of rank ${x.rank} no larger than input ${shapeStr(x.shape)} outside dim ${d}, received index shape ${shapeStr(index.shape)}`);
  }
  checkIndexRange(op, index, x.shape[d], `dim ${d}`);
  const out = empty(index.shape, x.dtype, x.device, op);
  run('gather', [x, index], [out], { dim: d, op });
  return out;
}

type ScatterKind = ScatterReduceOp | 'replace';

/** Shared checks and dispatch of scatter, scatterAdd and scatterReduce. Returns a new tensor. */
function scatterImpl(op: string, x: Tensor, dim: number, index: Tensor, src: Tensor | number, reduce: ScatterKind, includeSelf: boolean): Tensor {
  checkInputAndIndex(op, x, index);
  if (reduce !== 'replace') checkDTypeIn(op, x, REDUCE_DTYPES);
  const d = normDim(op, dim, x.rank);
  if (index.rank !== x.rank || index.shape.some((s, k) => k !== d && s > x.shape[k])) {
    throw new RangeError(`${op}: expected index of rank ${x.rank} no larger than input ${shapeStr(x.shape)} outside dim ${d}, received index shape ${shapeStr(index.shape)}`);
  }
  if (src instanceof Tensor) {
    checkTensor(op, src, 'src');
    sameDevice(op, x, src);
    if (src.dtype !== x.dtype) throw new TypeError(`${op}: expected src of dtype ${x.dtype} (the input's), received ${src.dtype}`);
    if (src.rank !== x.rank || index.shape.some((s, k) => s > src.shape[k])) {
      throw new RangeError(`${op}: expected src of rank ${x.rank} at least as large as index ${shapeStr(index.shape)}, received src shape ${shapeStr(src.shape)}`);
    }
  } else if (typeof src !== 'number' || reduce !== 'replace') {
    throw new TypeError(`${op}: expected src to be a Tensor${reduce === 'replace' ? ' or a number' : ''}, received ${typeof src}`);
  }
  checkIndexRange(op, index, x.shape[d], `dim ${d}`);
  const out = contiguous(x, true);
  const value = src instanceof Tensor ? src : full([], src, { dtype: x.dtype, device: x.device });
  try {
    const srcSpec: TensorSpec = src instanceof Tensor ? src : { storage: value.storage, shape: index.shape, strides: index.shape.map(() => 0), offset: value.offset, dtype: value.dtype };
    run('scatterReduce', [index, srcSpec], [out], { dim: d, reduce, includeSelf, intResult: !isFloat(x.dtype), op });
  } catch (e) {
    out.dispose();
    throw e;
  } finally {
    if (value !== src) value.dispose();
  }
  return out;
}

/**
 * A copy of `x` with `src` written at `index` along `dim` (src may be a number). Where indices
 * repeat, the last contribution in row-major order of `index` wins, on both devices.
 */
export const scatter = (x: Tensor, dim: number, index: Tensor, src: Tensor | number) => scatterImpl('scatter', x, dim, index, src, 'replace', true);

/** A copy of `x` with `src` summed in at `index` along `dim` (repeated indices accumulate). */
export const scatterAdd = (x: Tensor, dim: number, index: Tensor, src: Tensor) => scatterImpl('scatterAdd', x, dim, index, src, 'sum', true);

/**
 * torch.scatter_reduce: reduces the `src` values scattered to each element with `reduce`. With
 * `includeSelf` (default) the element's own value takes part (and counts for 'mean'); without it,
 * elements that receive something are reduced over the scattered values only, and the others keep
 * their value. Integer 'mean' rounds toward -inf, as PyTorch does.
 */
export function scatterReduce(x: Tensor, dim: number, index: Tensor, src: Tensor, reduce: ScatterReduceOp, options: { includeSelf?: boolean } = {}): Tensor {
  if (!REDUCE_OPS.includes(reduce)) throw new TypeError(`scatterReduce: reduce must be one of ${REDUCE_OPS.join(', ')}, received '${String(reduce)}'`);
  return scatterImpl('scatterReduce', x, dim, index, src, reduce, options.includeSelf ?? true);
}

interface Segments {
  /** src as a contiguous [E, F] block (a view when already contiguous). */
  flat: Tensor;
  /** Segment boundaries, int32 [numSegments + 1]. */
  ptr: Tensor;
  features: number;
}

function checkSegmentSrc(op: string, src: Tensor, dtypes: readonly DType[]) {
  checkTensor(op, src, 'src');
  checkRankAtLeast1(op, src, 'src');
  checkDTypeIn(op, src, dtypes, 'src');
}

/** Checks a sorted segment-id vector and computes its CSR pointer on the device (binary search per segment). */
function segments(op: string, src: Tensor, index: Tensor, numSegments: number, dtypes: readonly DType[]): Segments {
  checkSegmentSrc(op, src, dtypes);
  checkIndex(op, index);
  sameDevice(op, src, index);
  checkRank(op, index, [1], 'index');
  if (index.shape[0] !== src.shape[0]) throw new RangeError(`${op}: expected index of shape [${src.shape[0]}] (one segment id per row of src ${shapeStr(src.shape)}), received ${shapeStr(index.shape)}`);
  if (!Number.isInteger(numSegments) || numSegments < 0) throw new RangeError(`${op}: numSegments must be a non-negative integer, received ${numSegments}`);
  if (index.device === 'cpu') {
    const ids = index.dataSync();
    for (let i = 0; i < ids.length; i++) {
      if (ids[i] < 0 || ids[i] >= numSegments) throw new RangeError(`${op}: segment id ${ids[i]} is out of range for numSegments ${numSegments}`);
      if (i > 0 && ids[i] < ids[i - 1]) throw new RangeError(`${op}: index must be sorted ascending; index[${i}] = ${ids[i]} follows ${ids[i - 1]}`);
    }
  }
  const ptr = empty([numSegments + 1], 'int32', src.device, op);
  run('segmentPtr', [index], [ptr], { numSegments });
  return { flat: contiguous(src), ptr, features: numel(src.shape.slice(1)) };
}

function csrSegments(op: string, src: Tensor, ptr: Tensor, dtypes: readonly DType[]): Segments {
  checkSegmentSrc(op, src, dtypes);
  checkIndex(op, ptr, 'ptr');
  sameDevice(op, src, ptr);
  checkRank(op, ptr, [1], 'ptr');
  if (ptr.shape[0] < 1) throw new RangeError(`${op}: expected ptr of length numSegments + 1 >= 1, received shape ${shapeStr(ptr.shape)}`);
  if (ptr.device === 'cpu') {
    const p = ptr.dataSync();
    for (let i = 0; i < p.length; i++) {
      if (p[i] < 0 || p[i] > src.shape[0] || (i > 0 && p[i] < p[i - 1])) {
        throw new RangeError(`${op}: ptr must be non-decreasing within [0, ${src.shape[0]}]; ptr[${i}] = ${p[i]}`);
      }
    }
  }
  return { flat: contiguous(src), ptr: contiguous(ptr), features: numel(src.shape.slice(1)) };
}

function reduceSegments(op: string, seg: Segments, kind: 'sum' | 'mean' | 'max' | 'min', withArgs: boolean): { values: Tensor; argIndices?: Tensor } {
  const { flat, ptr, features } = seg;
  const numSegments = ptr.shape[0] - 1;
  const shape = [numSegments, ...flat.shape.slice(1)];
  const values = empty(shape, flat.dtype, flat.device, op);
  const argIndices = withArgs ? empty(shape, 'int32', flat.device, op) : undefined;
  try {
    run('segmentReduce', [flat, ptr], argIndices ? [values, argIndices] : [values], { op: kind, numSegments, features });
  } finally {
    flat.dispose();
    ptr.dispose();
  }
  return { values, argIndices };
}

const SUM_DTYPES: readonly DType[] = ['float32', 'float64', 'int32'];
const FLOAT_DTYPES: readonly DType[] = ['float32', 'float64'];

/**
 * Sums rows of `src` [E, ...F] by segment: `index` [E] int32 holds each row's segment id, sorted
 * ascending. Returns [numSegments, ...F]; empty segments give 0.
 */
export function segmentSum(src: Tensor, index: Tensor, numSegments: number): Tensor {
  return reduceSegments('segmentSum', segments('segmentSum', src, index, numSegments, SUM_DTYPES), 'sum', false).values;
}

/** segmentSum with the segments given as a CSR pointer: rows ptr[s] .. ptr[s+1]-1 form segment s. */
export function segmentSumCsr(src: Tensor, ptr: Tensor): Tensor {
  return reduceSegments('segmentSumCsr', csrSegments('segmentSumCsr', src, ptr, SUM_DTYPES), 'sum', false).values;
}

/** Mean of each segment's rows (float dtypes); empty segments give 0. */
export function segmentMean(src: Tensor, index: Tensor, numSegments: number): Tensor {
  return reduceSegments('segmentMean', segments('segmentMean', src, index, numSegments, FLOAT_DTYPES), 'mean', false).values;
}

export interface SegmentExtremum {
  /** [numSegments, ...F]; 0 for empty segments. */
  values: Tensor;
  /**
   * int32 [numSegments, ...F]: the row of src that gave each value (the first one on ties; NaN
   * wins and propagates). Empty segments hold E = src.shape[0], as torch_scatter does, so that
   * gathers can use a row of padding.
   */
  argIndices: Tensor;
}

function extremum(op: string, kind: 'max' | 'min', src: Tensor, index: Tensor, numSegments: number): SegmentExtremum {
  const r = reduceSegments(op, segments(op, src, index, numSegments, SUM_DTYPES), kind, true);
  return { values: r.values, argIndices: r.argIndices! };
}

export const segmentMax = (src: Tensor, index: Tensor, numSegments: number) => extremum('segmentMax', 'max', src, index, numSegments);
export const segmentMin = (src: Tensor, index: Tensor, numSegments: number) => extremum('segmentMin', 'min', src, index, numSegments);

/** Softmax along dim 0 within each segment (per feature); the result has src's shape. */
export function segmentSoftmax(src: Tensor, index: Tensor, numSegments: number): Tensor {
  const op = 'segmentSoftmax';
  const { flat, ptr, features } = segments(op, src, index, numSegments, FLOAT_DTYPES);
  try {
    // Zeros first: on webgpu rows whose (unchecked) ids fall outside every segment stay 0.
    const out = zeros(src.shape, { dtype: src.dtype, device: src.device });
    run('segmentSoftmax', [flat, ptr], [out], { numSegments, features });
    return out;
  } finally {
    flat.dispose();
    ptr.dispose();
  }
}

declare module '../tensor.js' {
  interface Tensor {
    indexSelect(dim: number, index: Tensor): Tensor;
    gather(dim: number, index: Tensor): Tensor;
    scatter(dim: number, index: Tensor, src: Tensor | number): Tensor;
    scatterAdd(dim: number, index: Tensor, src: Tensor): Tensor;
    scatterReduce(dim: number, index: Tensor, src: Tensor, reduce: ScatterReduceOp, options?: { includeSelf?: boolean }): Tensor;
  }
}

Object.assign(Tensor.prototype, {
  indexSelect(this: Tensor, dim: number, index: Tensor) { return indexSelect(this, dim, index); },
  gather(this: Tensor, dim: number, index: Tensor) { return gather(this, dim, index); },
  scatter(this: Tensor, dim: number, index: Tensor, src: Tensor | number) { return scatter(this, dim, index, src); },
  scatterAdd(this: Tensor, dim: number, index: Tensor, src: Tensor) { return scatterAdd(this, dim, index, src); },
  scatterReduce(this: Tensor, dim: number, index: Tensor, src: Tensor, reduce: ScatterReduceOp, options?: { includeSelf?: boolean }) {
    return scatterReduce(this, dim, index, src, reduce, options);
  },
});
