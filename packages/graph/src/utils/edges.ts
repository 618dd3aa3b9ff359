import * as T from '@tessera/tensor';

/**
 * Host-side helpers shared by the edge utilities. Utilities whose output size depends on the data
 * (coalesce, subgraph, sampling, ...) are async: they read `edgeIndex` back once, work on the
 * int32 arrays in JS and upload the result to the input's device, as the tensor package's
 * `unique` / `nonzero` do.
 */

/** An edge list read back from a [2, E] int32 tensor: `row` = sources, `col` = targets. */
export interface HostEdges {
  row: Int32Array;
  col: Int32Array;
  numNodes: number;
}

const shapeStr = (s: readonly number[]) => `[${s.join(', ')}]`;

/** Throws unless `edgeIndex` is a live int32 tensor of shape [2, E]. */
export function checkEdgeIndex(op: string, edgeIndex: unknown, name = 'edgeIndex'): T.Tensor {
  if (!T.isTensor(edgeIndex)) throw new TypeError(`${op}: expected ${name} to be a Tensor of shape [2, E], received ${edgeIndex === null ? 'null' : typeof edgeIndex}`);
  if (edgeIndex.isDisposed) throw new Error(`${op}: ${name} has been disposed`);
  if (edgeIndex.rank !== 2 || edgeIndex.shape[0] !== 2) throw new RangeError(`${op}: expected ${name} of shape [2, E], received ${shapeStr(edgeIndex.shape)}`);
  if (edgeIndex.dtype !== 'int32') throw new TypeError(`${op}: expected ${name} of dtype int32, received ${edgeIndex.dtype} (cast it with .cast('int32'))`);
  return edgeIndex;
}

/** Throws unless `numNodes` is undefined or a non-negative integer. */
export function checkNumNodes(op: string, numNodes: unknown): number | undefined {
  if (numNodes === undefined) return undefined;
  if (typeof numNodes !== 'number' || !Number.isInteger(numNodes) || numNodes < 0) {
    throw new RangeError(`${op}: numNodes must be a non-negative integer, received ${String(numNodes)}`);
  }
  return numNodes;
}

/** Largest node id + 1 (0 for no edges). */
export function maxNodeId(row: ArrayLike<number>, col: ArrayLike<number>): number {
  let m = -1;
  for (let i = 0; i < row.length; i++) {
    if (row[i] > m) m = row[i];
    if (col[i] > m) m = col[i];
  }
  return m + 1;
}

/** Throws on the first edge whose endpoints fall outside [0, numNodes). */
export function checkEdgeRange(op: string, row: ArrayLike<number>, col: ArrayLike<number>, numNodes: number, name = 'edgeIndex'): void {
  for (let e = 0; e < row.length; e++) {
    const r = row[e];
    const c = col[e];
    if (r < 0 || r >= numNodes || c < 0 || c >= numNodes) {
      throw new RangeError(`${op}: ${name} holds edge ${e} = (${r}, ${c}) with a node id outside [0, ${numNodes}) for a graph of ${numNodes} nodes`);
    }
  }
}

/** Splits the row-major data of a [2, E] tensor into its two rows (copies, safe to keep). */
export function splitRows(data: Int32Array, numEdges: number): [Int32Array, Int32Array] {
  return [data.slice(0, numEdges), data.slice(numEdges, 2 * numEdges)];
}

/**
 * Reads `edgeIndex` back, checks its shape, dtype and node ids, and resolves the number of nodes:
 * `numNodes` when given (ids must be below it), else the largest id + 1.
 */
export async function readEdges(op: string, edgeIndex: T.Tensor, numNodes?: number): Promise<HostEdges> {
  checkEdgeIndex(op, edgeIndex);
  const given = checkNumNodes(op, numNodes);
  const E = edgeIndex.shape[1];
  const [row, col] = splitRows((await edgeIndex.data()) as Int32Array, E);
  const n = given ?? maxNodeId(row, col);
  checkEdgeRange(op, row, col, n);
  return { row, col, numNodes: n };
}

/** A [2, E] int32 tensor from two id arrays. */
export function edgeTensor(row: ArrayLike<number>, col: ArrayLike<number>, device: T.DeviceName): T.Tensor {
  const E = row.length;
  const data = new Int32Array(2 * E);
  data.set(row, 0);
  data.set(col, E);
  return T.tensor(data, { dtype: 'int32', shape: [2, E], device });
}

/** An int32 vector on `device`. */
export function intTensor(values: ArrayLike<number>, device: T.DeviceName): T.Tensor {
  return T.tensor(Int32Array.from(values), { dtype: 'int32', shape: [values.length], device });
}

/** A bool vector on `device`. */
export function boolTensor(values: Uint8Array, device: T.DeviceName): T.Tensor {
  return T.tensor(values, { dtype: 'bool', shape: [values.length], device });
}

/**
 * Throws unless `attr` is undefined or a live tensor with one row per edge (dim 0 = E) on the
 * edge index's device.
 */
export function checkEdgeAttr(op: string, attr: unknown, numEdges: number, device: T.DeviceName, name = 'edgeAttr'): T.Tensor | undefined {
  if (attr === undefined || attr === null) return undefined;
  if (!T.isTensor(attr)) throw new TypeError(`${op}: expected ${name} to be a Tensor, received ${typeof attr}`);
  if (attr.isDisposed) throw new Error(`${op}: ${name} has been disposed`);
  if (attr.rank < 1 || attr.shape[0] !== numEdges) {
    throw new RangeError(`${op}: expected ${name} with one row per edge (shape [${numEdges}, ...]), received ${shapeStr(attr.shape)}`);
  }
  if (attr.device !== device) throw new Error(`${op}: expected ${name} on the edge index's device '${device}', received '${attr.device}'`);
  return attr;
}

/**
 * The permutation that sorts edges by (row, col) — or (col, row) with `byCol` — in O(E + N): two
 * stable counting sorts, the secondary key first.
 */
export function sortEdgesPerm(row: Int32Array, col: Int32Array, numNodes: number, byCol = false): Int32Array {
  const [major, minor] = byCol ? [col, row] : [row, col];
  const E = row.length;
  const byMinor = countingSort(minor, numNodes, identity(E));
  return countingSort(major, numNodes, byMinor);
}

function identity(n: number): Int32Array {
  const p = new Int32Array(n);
  for (let i = 0; i < n; i++) p[i] = i;
  return p;
}

/** Stable counting sort of the positions `order` by `key[order[i]]`. */
function countingSort(key: Int32Array, range: number, order: Int32Array): Int32Array {
  const start = new Int32Array(range + 1);
  for (let i = 0; i < order.length; i++) start[key[order[i]] + 1]++;
  for (let k = 0; k < range; k++) start[k + 1] += start[k];
  const out = new Int32Array(order.length);
  for (let i = 0; i < order.length; i++) out[start[key[order[i]]]++] = order[i];
  return out;
}

/** An int32 vector of `values` uploaded and used in `fn`, then freed. */
export function withIndex<R>(values: ArrayLike<number>, device: T.DeviceName, fn: (index: T.Tensor) => R): R {
  const index = intTensor(values, device);
  try {
    return fn(index);
  } finally {
    index.dispose();
  }
}

/**
 * The node count of a graph given by its edges: `numNodes` when given, else the largest id + 1.
 * Async: the edge index is read back (PyG's `maybe_num_nodes`).
 */
export async function maybeNumNodes(edgeIndex: T.Tensor, numNodes?: number): Promise<number> {
  const given = checkNumNodes('maybeNumNodes', numNodes);
  if (given !== undefined) return given;
  return (await readEdges('maybeNumNodes', edgeIndex)).numNodes;
}
