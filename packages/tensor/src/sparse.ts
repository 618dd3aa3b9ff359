import type { DeviceName } from './backend.js';
import type { DType } from './dtype.js';
import { keep, tidy } from './memory.js';
import { tensor, zeros } from './ops/creation.js';
import { add, ge, logicalAnd, lt, mul, where } from './ops/elementwise.js';
import { indexSelect, scatterAdd, segmentSum } from './ops/indexing.js';
import { contiguous, flip, narrow, reshape, select } from './ops/movement.js';
import { checkTensor, empty, run, sameDevice } from './ops/util.js';
import { shapeStr } from './shape.js';
import { Tensor } from './tensor.js';

/** A sparse matrix in compressed-row form. Rows' entries keep the COO order (sorted when coalesced). */
export interface CsrMatrix {
  /** int32 [n + 1]: row r holds entries rowPtr[r] .. rowPtr[r+1]-1. */
  rowPtr: Tensor;
  /** int32 [nnz]. */
  colIndices: Tensor;
  /** [nnz]. */
  values: Tensor;
}

const VALUE_DTYPES: readonly DType[] = ['float32', 'float64', 'int32'];

/**
 * A 2-D sparse matrix in coordinate form (PyTorch's sparse COO): `indices` [2, nnz] int32 holds
 * (row, col) pairs, `values` [nnz] the entries; duplicates add up, as in PyTorch.
 *
 * A SparseTensor owns its two tensors and is outside `tidy` scopes: free it with `dispose()` (or
 * `using`). Entries with out-of-range coordinates throw on cpu at construction; on webgpu they
 * cannot be checked synchronously: toDense ignores them, toCsr/spmm report them at the next read
 * (a RangeError naming toCsr) and `coalesce()` throws.
 */
export class SparseTensor {
  readonly shape: readonly [number, number];
  readonly indices: Tensor;
  readonly values: Tensor;
  readonly #coalesced: boolean;

  /** @internal Takes ownership of `indices` and `values`; use `sparseCooTensor` instead. */
  constructor(indices: Tensor, values: Tensor, shape: readonly [number, number], coalesced: boolean) {
    this.indices = keep(indices);
    this.values = keep(values);
    this.shape = Object.freeze([shape[0], shape[1]]) as readonly [number, number];
    this.#coalesced = coalesced;
  }

  get nnz(): number {
    return this.values.shape[0];
  }

  get device(): DeviceName {
    return this.values.device;
  }

  get dtype(): DType {
    return this.values.dtype;
  }

  get isDisposed(): boolean {
    return this.values.isDisposed;
  }

  /** True when entries are sorted by (row, col) with no duplicates. */
  isCoalesced(): boolean {
    return this.#coalesced;
  }

  #check(op: string) {
    if (this.isDisposed) throw new Error(`${op}: the sparse tensor has been disposed`);
  }

  /**
   * Sorted by (row, col) with duplicates summed. Asynchronous because the number of distinct
   * entries depends on the data: the indices are read back (values stay on the device and are
   * summed there by a deterministic segment sum).
   */
  async coalesce(): Promise<SparseTensor> {
    this.#check('coalesce');
    const [n, m] = this.shape;
    const nnz = this.nnz;
    const idx = (await this.indices.data()) as Int32Array;
    const rows = idx.subarray(0, nnz);
    const cols = idx.subarray(nnz);
    checkCoordinates('coalesce', rows, cols, n, m);
    const order = Int32Array.from({ length: nnz }, (_, i) => i).sort((a, b) => rows[a] - rows[b] || cols[a] - cols[b] || a - b);
    const segIds = new Int32Array(nnz);
    const kept: number[] = [];
    for (let k = 0; k < nnz; k++) {
      const p = order[k];
      const fresh = k === 0 || rows[p] !== rows[order[k - 1]] || cols[p] !== cols[order[k - 1]];
      if (fresh) kept.push(p);
      segIds[k] = kept.length - 1;
    }
    const device = this.device;
    const indices = tensor([...kept.map((p) => rows[p]), ...kept.map((p) => cols[p])], { dtype: 'int32', device, shape: [2, kept.length] });
    const values = tidy(() => {
      const sorted = indexSelect(this.values, 0, tensor(order, { dtype: 'int32', device }));
      return segmentSum(sorted, tensor(segIds, { dtype: 'int32', device }), kept.length);
    });
    return new SparseTensor(indices, values, this.shape, true);
  }

  /** Compressed-row form (a stable grouping by row on the device); the caller owns the three tensors. */
  toCsr(): CsrMatrix {
    this.#check('toCsr');
    const [n] = this.shape;
    return tidy(() => {
      const rowPtr = empty([n + 1], 'int32', this.device, 'toCsr');
      const perm = empty([this.nnz], 'int32', this.device, 'toCsr');
      run('groupByKey', [select(this.indices, 0, 0)], [rowPtr, perm], { numKeys: n, op: 'toCsr' });
      return { rowPtr, colIndices: indexSelect(select(this.indices, 0, 1), 0, perm), values: indexSelect(this.values, 0, perm) };
    });
  }

  /** The [m, n] transpose (not coalesced: entries keep their order). */
  transpose(): SparseTensor {
    this.#check('transpose');
    const indices = tidy(() => contiguous(flip(this.indices, 0), true));
    return new SparseTensor(indices, contiguous(this.values, true), [this.shape[1], this.shape[0]], false);
  }

  /** The dense [n, m] matrix; duplicate entries add up. */
  toDense(): Tensor {
    this.#check('toDense');
    const [n, m] = this.shape;
    if (n * m > 2 ** 31 - 1) throw new RangeError(`toDense: a dense [${n}, ${m}] matrix has more elements than int32 indices can address`);
    return tidy(() => {
      const rows = select(this.indices, 0, 0);
      const cols = select(this.indices, 0, 1);
      const valid = logicalAnd(logicalAnd(ge(rows, 0), lt(rows, n)), logicalAnd(ge(cols, 0), lt(cols, m)));
      // entries out of range (unchecked on webgpu) go to one extra slot, dropped after
      const flat = where(valid, add(mul(rows, m), cols), n * m);
      const dense = scatterAdd(zeros([n * m + 1], { dtype: this.dtype, device: this.device }), 0, flat, this.values);
      return reshape(narrow(dense, 0, 0, n * m), [n, m]);
    });
  }

  /** Same as `spmm(this, dense)`. */
  matmul(dense: Tensor): Tensor {
    return spmm(this, dense);
  }

  dispose(): void {
    this.indices.dispose();
    this.values.dispose();
  }

  [Symbol.dispose](): void {
    this.dispose();
  }

  toString(): string {
    return `SparseTensor(shape=[${this.shape.join(', ')}], nnz=${this.isDisposed ? '?' : this.nnz}, dtype=${this.isDisposed ? '?' : this.dtype}, device=${this.isDisposed ? 'disposed' : this.device})`;
  }
}

function checkCoordinates(op: string, rows: ArrayLike<number>, cols: ArrayLike<number>, n: number, m: number) {
  for (let i = 0; i < rows.length; i++) {
    if (rows[i] < 0 || rows[i] >= n || cols[i] < 0 || cols[i] >= m) {
      throw new RangeError(`${op}: entry ${i} at (${rows[i]}, ${cols[i]}) is out of range for shape [${n}, ${m}]`);
    }
  }
}

/**
 * A sparse COO matrix from `indices` [2, nnz] int32 and `values` [nnz] (float32, float64 or int32)
 * of shape [n, m]. The inputs are not taken over: the sparse tensor holds its own references.
 */
export function sparseCooTensor(indices: Tensor, values: Tensor, shape: readonly number[]): SparseTensor {
  const op = 'sparseCooTensor';
  checkTensor(op, indices, 'indices');
  checkTensor(op, values, 'values');
  sameDevice(op, indices, values);
  if (indices.dtype !== 'int32') throw new TypeError(`${op}: expected indices of dtype int32, received ${indices.dtype}`);
  if (!VALUE_DTYPES.includes(values.dtype)) throw new TypeError(`${op}: expected values dtype in {${VALUE_DTYPES.join(', ')}}, received ${values.dtype}`);
  if (indices.rank !== 2 || indices.shape[0] !== 2) throw new RangeError(`${op}: expected indices of shape [2, nnz], received ${shapeStr(indices.shape)}`);
  if (values.rank !== 1 || values.shape[0] !== indices.shape[1]) {
    throw new RangeError(`${op}: expected values of shape [${indices.shape[1]}] (one per index column), received ${shapeStr(values.shape)}`);
  }
  if (!Array.isArray(shape) || shape.length !== 2 || !shape.every((d) => Number.isInteger(d) && d >= 0)) {
    throw new RangeError(`${op}: expected shape [n, m] of non-negative integers, received ${JSON.stringify(shape)}`);
  }
  const [n, m] = shape as [number, number];
  if (indices.device === 'cpu') {
    const idx = contiguous(indices);
    const data = idx.dataSync();
    idx.dispose();
    const nnz = indices.shape[1];
    checkCoordinates(op, data.subarray(0, nnz), data.subarray(nnz), n, m);
  }
  return new SparseTensor(contiguous(indices), contiguous(values), [n, m], false);
}

/**
 * sparse [n, m] @ dense [m, k] -> dense [n, k]. Deterministic on both devices: one invocation per
 * output element walks its row's nonzeros in CSR order.
 */
export function spmm(sparse: SparseTensor, dense: Tensor): Tensor {
  const op = 'spmm';
  if (!(sparse instanceof SparseTensor)) throw new TypeError(`${op}: expected a SparseTensor as first argument, received ${typeof sparse}`);
  if (sparse.isDisposed) throw new Error(`${op}: the sparse tensor has been disposed`);
  checkTensor(op, dense, 'dense');
  sameDevice(op, sparse.values, dense);
  const [n, m] = sparse.shape;
  if (dense.rank !== 2 || dense.shape[0] !== m) throw new RangeError(`${op}: expected dense of shape [${m}, k] for a sparse [${n}, ${m}] matrix, received ${shapeStr(dense.shape)}`);
  if (dense.dtype !== sparse.dtype) throw new TypeError(`${op}: expected dense of dtype ${sparse.dtype} (the sparse values'), received ${dense.dtype}`);
  const k = dense.shape[1];
  return tidy(() => {
    const csr = sparse.toCsr();
    const out = empty([n, k], dense.dtype, dense.device, op);
    run('csrSpmm', [csr.rowPtr, csr.colIndices, csr.values, dense], [out], { rows: n, cols: k });
    return out;
  });
}
