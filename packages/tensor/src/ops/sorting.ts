import { promoteTypes, type DType, type TypedArray } from '../dtype.js';
import { broadcastShapes, normDim, numel, shapeStr } from '../shape.js';
import { Tensor } from '../tensor.js';
import { tidy } from '../memory.js';
import { tensor, zeros } from './creation.js';
import { cast } from './elementwise.js';
import { contiguous, expand, permute, reshape, select, slice } from './movement.js';
import { checkDTypeIn, checkTensor, empty, run, sameDevice } from './util.js';

/**
 * Sorting, searching and data-dependent selection. Sorting is stable and deterministic on both
 * backends: NaN sorts as the largest value and -0 equals +0, as in PyTorch; equal keys keep their
 * original order (also when descending). Ops whose output shape depends on the data (nonzero,
 * maskedSelect, unique, bincount) are async on every backend because they read a count back.
 */

export interface SortOptions {
  /** Dim to sort along (default -1). */
  dim?: number;
  descending?: boolean;
  /** Accepted for PyTorch compatibility; the sort is always stable. */
  stable?: boolean;
}

export interface SortResult {
  values: Tensor;
  /** int32 positions of the values along `dim` in the input. */
  indices: Tensor;
}

const SORTABLE: readonly DType[] = ['float32', 'float64', 'int32', 'uint32', 'bool'];
const NUMERIC: readonly DType[] = ['float32', 'float64', 'int32', 'uint32'];

function checkOptions(op: string, options: unknown): void {
  if (options !== undefined && (typeof options !== 'object' || options === null)) {
    throw new TypeError(`${op}: expected an options object, received ${options === null ? 'null' : typeof options}`);
  }
}

/** Sorts along dim `d` (already normalised); outputs are contiguous in the input's layout. */
function sortAlong(op: string, x: Tensor, d: number, descending: boolean): SortResult {
  if (x.rank === 0) return { values: contiguous(x, true), indices: zeros([], { dtype: 'int32', device: x.device }) };
  const n = x.shape[d];
  const perm = [...x.shape.keys()].filter((i) => i !== d).concat(d);
  const inverse = perm.map((_, i) => perm.indexOf(i));
  return tidy(() => {
    const rows = contiguous(permute(x, perm));
    const values = empty(rows.shape, x.dtype, x.device, op);
    const indices = empty(rows.shape, 'int32', x.device, op);
    if (rows.size > 0) run('sortRows', [rows], [values, indices], { rows: rows.size / n, cols: n, descending });
    if (d === x.rank - 1) return { values, indices };
    return { values: contiguous(permute(values, inverse)), indices: contiguous(permute(indices, inverse)) };
  });
}

/**
 * Sorts along `dim` (default -1), as PyTorch's `torch.sort`. Always stable: equal values keep
 * their input order, in both directions. NaN counts as the largest value.
 */
export function sort(x: Tensor, options: SortOptions = {}): SortResult {
  checkTensor('sort', x);
  checkOptions('sort', options);
  checkDTypeIn('sort', x, SORTABLE);
  const d = normDim('sort', options.dim ?? -1, x.rank);
  return sortAlong('sort', x, d, options.descending ?? false);
}

/** The int32 indices that sort `x` along `dim` (`sort(x, options).indices`). */
export function argsort(x: Tensor, options: SortOptions = {}): Tensor {
  checkTensor('argsort', x);
  checkOptions('argsort', options);
  checkDTypeIn('argsort', x, SORTABLE);
  const d = normDim('argsort', options.dim ?? -1, x.rank);
  const { values, indices } = sortAlong('argsort', x, d, options.descending ?? false);
  values.dispose();
  return indices;
}

export interface TopkOptions {
  dim?: number;
  /** Largest (default) or smallest values. */
  largest?: boolean;
  /** Accepted for PyTorch compatibility; results always come sorted. */
  sorted?: boolean;
}

/**
 * The `k` largest (or smallest) values along `dim` and their int32 indices, sorted. Ties keep the
 * lower index first (PyTorch leaves the order of ties unspecified).
 */
export function topk(x: Tensor, k: number, options: TopkOptions = {}): SortResult {
  checkTensor('topk', x);
  checkOptions('topk', options);
  checkDTypeIn('topk', x, SORTABLE);
  const d = normDim('topk', options.dim ?? -1, x.rank);
  const n = x.rank === 0 ? 1 : x.shape[d];
  if (!Number.isInteger(k) || k < 0 || k > n) {
    throw new RangeError(`topk: k must be an integer in [0, ${n}] for dim ${d} of a tensor of shape ${shapeStr(x.shape)}, received ${k}`);
  }
  return tidy(() => {
    if (x.rank > 0 && k > 0 && (x.device === 'cpu' ? k * 4 <= n : k <= 64 && k * 4 <= n) && x.storage.backend.hasKernel('topkRows')) {
      // Selection per row (k kept in order while scanning), not a full sort.
      const perm = [...x.shape.keys()].filter((i) => i !== d).concat(d);
      const inverse = perm.map((_, i) => perm.indexOf(i));
      const rows = contiguous(permute(x, perm));
      const shape = rows.shape.slice();
      shape[shape.length - 1] = k;
      const values = empty(shape, x.dtype, x.device, 'topk');
      const indices = empty(shape, 'int32', x.device, 'topk');
      if (values.size > 0) run('topkRows', [rows], [values, indices], { rows: rows.size / n, cols: n, k, largest: options.largest ?? true });
      if (d === x.rank - 1) return { values, indices };
      return { values: contiguous(permute(values, inverse)), indices: contiguous(permute(indices, inverse)) };
    }
    const all = sortAlong('topk', x, d, options.largest ?? true);
    if (x.rank === 0) return all;
    // copies, so the full sort's storage is freed
    return { values: contiguous(slice(all.values, d, 0, k), true), indices: contiguous(slice(all.indices, d, 0, k), true) };
  });
}

/**
 * For each of `values`, the index where it would be inserted into `sortedSequence` to keep it
 * sorted (int32, same shape as `values`), as PyTorch's `torch.searchsorted`. `sortedSequence` is
 * 1-D, or [..., S] with `values` [..., V] sharing the leading dims. `right` picks the last valid
 * position among equal values. The sequence is not checked for order (that would need a readback);
 * an unsorted one gives unspecified indices.
 */
export function searchsorted(sortedSequence: Tensor, values: Tensor, options: { right?: boolean } = {}): Tensor {
  const op = 'searchsorted';
  checkTensor(op, sortedSequence, 'sortedSequence');
  checkTensor(op, values, 'values');
  checkOptions(op, options);
  sameDevice(op, sortedSequence, values);
  checkDTypeIn(op, sortedSequence, NUMERIC, 'sortedSequence');
  checkDTypeIn(op, values, NUMERIC, 'values');
  if (sortedSequence.rank === 0) throw new RangeError(`${op}: expected sortedSequence of rank >= 1, received shape []`);
  const batched = sortedSequence.rank > 1;
  const lead = sortedSequence.shape.slice(0, -1);
  if (batched && (values.rank !== sortedSequence.rank || lead.some((s, i) => s !== values.shape[i]))) {
    throw new RangeError(`${op}: a sortedSequence of shape ${shapeStr(sortedSequence.shape)} needs values of shape [${[...lead, 'V'].join(', ')}], received ${shapeStr(values.shape)}`);
  }
  const S = sortedSequence.shape[sortedSequence.rank - 1];
  const perRow = batched ? values.shape[values.rank - 1] : values.size;
  const dtype = promoteTypes(sortedSequence.dtype, values.dtype);
  const out = empty(values.shape, 'int32', values.device, op);
  if (values.size === 0) return out;
  tidy(() => {
    const seq = contiguous(cast(sortedSequence, dtype));
    const vals = contiguous(cast(values, dtype));
    run('searchsorted', [seq, vals], [out], { n: values.size, seqLen: S, perRow, right: options.right ?? false });
  });
  return out;
}

/**
 * Pairwise p-norm distances between the rows of `x1` [..., P, M] and `x2` [..., R, M]:
 * [..., P, R], leading dims broadcast. `p` is 2 (default), 1, Infinity, 0 (count of differing
 * coordinates) or any other p >= 0. Computed directly from the differences (no matmul
 * expansion), so p = 2 is accurate for close points.
 */
export function cdist(x1: Tensor, x2: Tensor, options: { p?: number } = {}): Tensor {
  const op = 'cdist';
  checkTensor(op, x1, 'x1');
  checkTensor(op, x2, 'x2');
  checkOptions(op, options);
  sameDevice(op, x1, x2);
  checkDTypeIn(op, x1, ['float32', 'float64'], 'x1');
  checkDTypeIn(op, x2, ['float32', 'float64'], 'x2');
  const p = options.p ?? 2;
  if (typeof p !== 'number' || !(p >= 0)) throw new RangeError(`cdist: p must be a number >= 0, received ${String(p)}`);
  if (x1.rank < 2 || x2.rank < 2) throw new RangeError(`cdist: expected x1 and x2 of rank >= 2, received shapes ${shapeStr(x1.shape)} and ${shapeStr(x2.shape)}`);
  const M = x1.shape[x1.rank - 1];
  if (x2.shape[x2.rank - 1] !== M) {
    throw new RangeError(`cdist: x1 ${shapeStr(x1.shape)} and x2 ${shapeStr(x2.shape)} must have the same last dim`);
  }
  const P = x1.shape[x1.rank - 2];
  const R = x2.shape[x2.rank - 2];
  const batch = broadcastShapes(op, x1.shape.slice(0, -2), x2.shape.slice(0, -2));
  const B = numel(batch);
  const dtype = promoteTypes(x1.dtype, x2.dtype);
  const out = empty([...batch, P, R], dtype, x1.device, op);
  if (out.size === 0) return out;
  tidy(() => {
    const a = reshape(contiguous(cast(expand(x1, [...batch, P, M]), dtype)), [B, P, M]);
    const b = reshape(contiguous(cast(expand(x2, [...batch, R, M]), dtype)), [B, R, M]);
    run('cdist', [a, b], [out], { batch: B, rowsA: P, rowsB: R, cols: M, p });
  });
  return out;
}

/** Elements per block of the device compaction (a workgroup's share); also the cpu kernels' block. */
const COMPACT_BLOCK = 1024;

/**
 * Counts the nonzero elements of a contiguous `mask` on its device and returns them with the
 * per-block exclusive offsets that the compaction kernels scatter by. Only the total is read back.
 */
async function compactOffsets(mask: Tensor): Promise<{ offsets: Tensor; count: number }> {
  const blocks = Math.ceil(mask.size / COMPACT_BLOCK);
  const offsets = empty([blocks + 1], 'int32', mask.device, 'compact');
  try {
    run('compactCount', [mask], [offsets], { n: mask.size, block: COMPACT_BLOCK });
    const last = select(offsets, 0, blocks);
    try {
      return { offsets, count: await last.item() };
    } finally {
      last.dispose();
    }
  } catch (e) {
    offsets.dispose();
    throw e;
  }
}

/**
 * The int32 coordinates [n, rank] of the nonzero elements of `x` in row-major order (NaN counts
 * as nonzero), as PyTorch's `torch.nonzero`. Async on every backend: the number of rows is read
 * back from the device, then the coordinates are written on the device.
 */
export async function nonzero(x: Tensor): Promise<Tensor> {
  checkTensor('nonzero', x);
  checkDTypeIn('nonzero', x, SORTABLE);
  if (x.size === 0) return empty([0, x.rank], 'int32', x.device, 'nonzero');
  const flat = contiguous(x);
  try {
    const { offsets, count } = await compactOffsets(flat);
    try {
      const out = empty([count, x.rank], 'int32', x.device, 'nonzero');
      if (count > 0 && x.rank > 0) run('compactIndices', [flat, offsets], [out], { n: x.size, block: COMPACT_BLOCK, shape: x.shape });
      return out;
    } finally {
      offsets.dispose();
    }
  } finally {
    flat.dispose();
  }
}

/**
 * The elements of `x` where the bool `mask` is true, as a 1-D tensor in row-major order;
 * `x` and `mask` broadcast against each other (PyTorch's `torch.masked_select`). Async on every
 * backend: the count is read back from the device, then the elements are gathered on the device.
 */
export async function maskedSelect(x: Tensor, mask: Tensor): Promise<Tensor> {
  const op = 'maskedSelect';
  checkTensor(op, x);
  checkTensor(op, mask, 'mask');
  sameDevice(op, x, mask);
  if (mask.dtype !== 'bool') throw new TypeError(`${op}: expected a bool mask, received ${mask.dtype}`);
  const shape = broadcastShapes(op, x.shape, mask.shape);
  if (numel(shape) === 0) return empty([0], x.dtype, x.device, op);
  const [xs, ms] = tidy(() => [contiguous(expand(x, shape)), contiguous(expand(mask, shape))]);
  try {
    const { offsets, count } = await compactOffsets(ms);
    try {
      const out = empty([count], x.dtype, x.device, op);
      if (count > 0) run('compactValues', [ms, offsets, xs], [out], { n: xs.size, block: COMPACT_BLOCK });
      return out;
    } finally {
      offsets.dispose();
    }
  } finally {
    xs.dispose();
    ms.dispose();
  }
}

export interface UniqueOptions {
  /** Accepted for PyTorch compatibility; values always come sorted. */
  sorted?: boolean;
  returnInverse?: boolean;
  returnCounts?: boolean;
  /** Unique slices along a dim are not supported; leave undefined (the flattened tensor is used). */
  dim?: undefined;
}

export interface UniqueResult {
  /** The distinct values, ascending (1-D). */
  values: Tensor;
  /** int32, shape of the input: the position of each element's value in `values`. */
  inverse?: Tensor;
  /** int32 occurrences of each value. */
  counts?: Tensor;
}

function sameValue(a: number, b: number): boolean {
  return a === b; // NaN !== NaN: every NaN is its own value, as a sort-based unique gives
}

/**
 * The distinct elements of the flattened `x`, ascending, optionally with the inverse indices and
 * the counts (PyTorch's `torch.unique`). Async on every backend. The sort runs on the device; the
 * grouping reads the sorted values (and, for `returnInverse`, the permutation) back and does one
 * O(n) pass in JS, then uploads the results.
 */
export async function unique(x: Tensor, options: UniqueOptions = {}): Promise<UniqueResult> {
  const op = 'unique';
  checkTensor(op, x);
  checkOptions(op, options);
  checkDTypeIn(op, x, SORTABLE);
  if (options.dim !== undefined) throw new TypeError(`${op}: dim is not supported (only the flattened tensor); received dim ${String(options.dim)}`);
  const flat = reshape(x, [-1]);
  const { values: sortedT, indices: permT } = sortAlong(op, flat, 0, false);
  flat.dispose();
  let sorted: TypedArray;
  let perm: TypedArray | undefined;
  try {
    sorted = await sortedT.data();
    if (options.returnInverse) perm = await permT.data();
  } finally {
    sortedT.dispose();
    permT.dispose();
  }
  const n = sorted.length;
  const uniq: number[] = [];
  const counts: number[] = [];
  const inverse = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    if (i === 0 || !sameValue(sorted[i], sorted[i - 1])) {
      uniq.push(sorted[i]);
      counts.push(0);
    }
    counts[counts.length - 1]++;
    if (perm) inverse[perm[i]] = uniq.length - 1;
  }
  const device = x.device;
  const result: UniqueResult = { values: tensor(uniq, { dtype: x.dtype, device, shape: [uniq.length] }) };
  if (options.returnInverse) result.inverse = tensor(inverse, { device, shape: x.shape });
  if (options.returnCounts) result.counts = tensor(Int32Array.from(counts), { device });
  return result;
}

/**
 * Counts of each value of the non-negative 1-D int tensor `x` (int32), or sums of `weights` per
 * value (float32; float64 for float64 weights), with at least `minlength` bins (PyTorch's
 * `torch.bincount`). Async on every backend: it reads `x` (and `weights`) back, counts in one JS
 * pass (deterministic float sums in input order) and uploads the result.
 */
export async function bincount(x: Tensor, options: { weights?: Tensor; minlength?: number } = {}): Promise<Tensor> {
  const op = 'bincount';
  checkTensor(op, x);
  checkOptions(op, options);
  checkDTypeIn(op, x, ['int32', 'uint32']);
  if (x.rank !== 1) throw new RangeError(`${op}: expected a 1-D input, received shape ${shapeStr(x.shape)}`);
  const minlength = options.minlength ?? 0;
  if (!Number.isInteger(minlength) || minlength < 0) throw new RangeError(`${op}: minlength must be a non-negative integer, received ${minlength}`);
  const w = options.weights;
  if (w !== undefined) {
    checkTensor(op, w, 'weights');
    sameDevice(op, x, w);
    checkDTypeIn(op, w, NUMERIC, 'weights');
    if (w.rank !== 1 || w.shape[0] !== x.shape[0]) {
      throw new RangeError(`${op}: expected weights of shape ${shapeStr(x.shape)}, received ${shapeStr(w.shape)}`);
    }
  }
  const values = await x.data();
  const weights = w ? await w.data() : undefined;
  let bins = minlength;
  for (let i = 0; i < values.length; i++) {
    if (values[i] < 0) throw new RangeError(`${op}: expected non-negative values, received ${values[i]} at index ${i}`);
    bins = Math.max(bins, values[i] + 1);
  }
  const outDtype: DType = !w ? 'int32' : w.dtype === 'float64' ? 'float64' : 'float32';
  const acc = new Float64Array(bins);
  for (let i = 0; i < values.length; i++) acc[values[i]] += weights ? weights[i] : 1;
  return tensor(acc, { dtype: outDtype, device: x.device });
}

declare module '../tensor.js' {
  interface Tensor {
    sort(options?: SortOptions): SortResult;
    argsort(options?: SortOptions): Tensor;
    topk(k: number, options?: TopkOptions): SortResult;
    nonzero(): Promise<Tensor>;
    maskedSelect(mask: Tensor): Promise<Tensor>;
    unique(options?: UniqueOptions): Promise<UniqueResult>;
    bincount(options?: { weights?: Tensor; minlength?: number }): Promise<Tensor>;
  }
}

Tensor.prototype.sort = function (this: Tensor, options?: SortOptions) { return sort(this, options); };
Tensor.prototype.argsort = function (this: Tensor, options?: SortOptions) { return argsort(this, options); };
Tensor.prototype.topk = function (this: Tensor, k: number, options?: TopkOptions) { return topk(this, k, options); };
Tensor.prototype.nonzero = function (this: Tensor) { return nonzero(this); };
Tensor.prototype.maskedSelect = function (this: Tensor, mask: Tensor) { return maskedSelect(this, mask); };
Tensor.prototype.unique = function (this: Tensor, options?: UniqueOptions) { return unique(this, options); };
Tensor.prototype.bincount = function (this: Tensor, options?: { weights?: Tensor; minlength?: number }) { return bincount(this, options); };
