import * as T from '@tessera/tensor';

/**
 * A map-style dataset: `length` samples, read one at a time with `get(i)` (sync or async).
 * Tensors returned by `get` are owned by the caller: the DataLoader disposes them once they are
 * collated, so `get` should return fresh tensors or views, never a tensor the dataset keeps.
 */
export interface Dataset<S> {
  readonly length: number;
  get(index: number): S | Promise<S>;
}

/** The number of samples of a dataset, validated (named `op` in errors). */
export function datasetLength(op: string, dataset: Dataset<unknown>): number {
  if (typeof dataset !== 'object' || dataset === null || typeof dataset.get !== 'function') {
    throw new TypeError(`${op}: expected a dataset with length and get(i), received ${String(dataset)}`);
  }
  const n = dataset.length;
  if (!Number.isInteger(n) || n < 0) throw new RangeError(`${op}: dataset.length must be a non-negative integer, received ${String(n)}`);
  return n;
}

/** Samples are the i-th rows (dim 0) of each tensor, as views: `[t0[i], t1[i], ...]`. */
export class TensorDataset implements Dataset<T.Tensor[]> {
  readonly tensors: readonly T.Tensor[];

  constructor(...tensors: T.Tensor[]) {
    if (tensors.length === 0) throw new TypeError('TensorDataset: expected at least one tensor');
    tensors.forEach((t, i) => {
      if (!T.isTensor(t)) throw new TypeError(`TensorDataset: argument ${i} is not a tensor`);
      if (t.rank === 0) throw new RangeError(`TensorDataset: argument ${i} is 0-d; expected a tensor with a dim 0 to index`);
    });
    const n = tensors[0].shape[0];
    tensors.forEach((t, i) => {
      if (t.shape[0] !== n) throw new RangeError(`TensorDataset: expected every tensor to have size ${n} in dim 0, received [${t.shape.join(', ')}] for argument ${i}`);
    });
    this.tensors = tensors;
  }

  get length(): number {
    return this.tensors[0].shape[0];
  }

  get(index: number): T.Tensor[] {
    if (!Number.isInteger(index) || index < 0 || index >= this.length) {
      throw new RangeError(`TensorDataset.get: index must be an integer in [0, ${this.length}), received ${index}`);
    }
    return this.tensors.map((t) => t.select(0, index));
  }
}
