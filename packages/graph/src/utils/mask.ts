import * as T from '@tessera/tensor';

/** A bool mask [size] that is true at `index` (int32 ids), as PyG's `index_to_mask`. */
export function indexToMask(index: T.Tensor, size: number): T.Tensor {
  const op = 'indexToMask';
  if (!T.isTensor(index) || index.isDisposed) throw new TypeError(`${op}: expected index to be a live int32 Tensor`);
  if (index.dtype !== 'int32' || index.rank !== 1) throw new TypeError(`${op}: expected an int32 vector of ids, received ${index.dtype} [${index.shape.join(', ')}]`);
  if (!Number.isInteger(size) || size < 0) throw new RangeError(`${op}: size must be a non-negative integer, received ${size}`);
  return T.tidy(() => T.scatter(T.zeros([size], { dtype: 'bool', device: index.device }), 0, index, 1));
}

/** The int32 ids where the bool `mask` is true, ascending (PyG's `mask_to_index`). Async: the count is read back. */
export async function maskToIndex(mask: T.Tensor): Promise<T.Tensor> {
  const op = 'maskToIndex';
  if (!T.isTensor(mask) || mask.isDisposed) throw new TypeError(`${op}: expected mask to be a live bool Tensor`);
  if (mask.dtype !== 'bool' || mask.rank !== 1) throw new TypeError(`${op}: expected a bool vector, received ${mask.dtype} [${mask.shape.join(', ')}]`);
  const nz = await T.nonzero(mask);
  try {
    return T.reshape(nz, [nz.shape[0]]);
  } finally {
    nz.dispose();
  }
}
