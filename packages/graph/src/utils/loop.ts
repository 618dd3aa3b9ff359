/**
 * Self-loop utilities over an edge index [2, E] (int32; row 0 = source j, row 1 = target i).
 *
 * Functions whose output size depends on the data (removeSelfLoops, containsSelfLoops) read the
 * edge index back and are asynchronous, like the tensor core's nonzero/unique. Those that keep
 * shapes fixed (addSelfLoops, addRemainingSelfLoops) stay on the device and are synchronous.
 */
import * as T from '@tessera/tensor';
import type { Tensor } from '@tessera/tensor';

const shapeStr = (s: readonly number[]) => `[${s.join(', ')}]`;

function describe(v: unknown): string {
  if (v instanceof T.Tensor) return `${v.dtype} tensor of shape ${shapeStr(v.shape)}`;
  return v === null ? 'null' : typeof v;
}

/**
 * Throws unless `edgeIndex` is an int32 [2, E] tensor. On cpu it also checks that sources lie in
 * [0, numSrc) and targets in [0, numDst) (webgpu cannot read indices synchronously; there
 * out-of-range entries are ignored by the kernels, as in the tensor core).
 */
export function checkEdgeIndex(op: string, edgeIndex: unknown, numSrc?: number, numDst: number | undefined = numSrc): asserts edgeIndex is Tensor {
  if (!(edgeIndex instanceof T.Tensor) || edgeIndex.dtype !== 'int32' || edgeIndex.rank !== 2 || edgeIndex.shape[0] !== 2) {
    throw new TypeError(`${op}: expected edgeIndex to be an int32 tensor of shape [2, E], received ${describe(edgeIndex)}`);
  }
  if (edgeIndex.device !== 'cpu' || numSrc === undefined) return;
  const e = edgeIndex.shape[1];
  const data = T.tidy(() => T.contiguous(edgeIndex).dataSync());
  for (let k = 0; k < 2 * e; k++) {
    const n = k < e ? numSrc : numDst!;
    const v = data[k];
    if (v < 0 || v >= n) {
      const side = k < e ? 'source' : 'target';
      throw new RangeError(`${op}: edgeIndex[${k < e ? 0 : 1}][${k % e}] = ${v} is out of range for ${n} ${side} nodes (expected 0 <= index < ${n})`);
    }
  }
}

/** numNodes when given, else max(edgeIndex) + 1 read synchronously (cpu only). */
export function inferNumNodes(op: string, edgeIndex: Tensor, numNodes?: number): number {
  if (numNodes !== undefined) {
    if (!Number.isInteger(numNodes) || numNodes < 0) throw new RangeError(`${op}: numNodes must be a non-negative integer, received ${numNodes}`);
    return numNodes;
  }
  if (edgeIndex.device !== 'cpu') {
    throw new Error(`${op}: pass numNodes for an edge index on '${edgeIndex.device}' (inferring it needs a synchronous read, which only cpu tensors allow)`);
  }
  const data = T.tidy(() => T.contiguous(edgeIndex).dataSync());
  let max = -1;
  for (const v of data) if (v > max) max = v;
  return max + 1;
}

/** Checks that `attr` has one row per edge. */
function checkEdgeAttr(op: string, attr: Tensor | undefined | null, e: number, name = 'edgeAttr'): void {
  if (attr === undefined || attr === null) return;
  if (!(attr instanceof T.Tensor) || attr.rank < 1 || attr.shape[0] !== e) {
    throw new RangeError(`${op}: expected ${name} with ${e} rows (one per edge), received ${describe(attr)}`);
  }
}

/** [0, 1, ..., n-1] twice: the edge index of n self-loops. */
export function loopIndex(n: number, device: T.DeviceName): Tensor {
  return T.tidy(() => {
    const r = T.arange(0, n, 1, { dtype: 'int32', device });
    return T.stack([r, r], 0);
  });
}

/** bool [E]: true where source == target. */
export function selfLoopMask(edgeIndex: Tensor): Tensor {
  return T.tidy(() => T.eq(T.select(edgeIndex, 0, 0), T.select(edgeIndex, 0, 1)));
}

/** `index` [E] laid out along dim 0 of `shape` [E, ...F] (a broadcast view, for scatter/gather). */
export function spreadRows(index: Tensor, shape: readonly number[]): Tensor {
  return T.expand(T.reshape(index, [shape[0], ...shape.slice(1).map(() => 1)]), shape);
}

export type LoopFill = number | Tensor | 'add' | 'sum' | 'mean' | 'max' | 'min';

export interface AddSelfLoopsOptions {
  /**
   * Attribute of the new loops: a number, a tensor (one row of attributes, or one row per node
   * [N, ...]), or the reduction ('add' | 'sum' | 'mean' | 'max' | 'min') of the attributes of the
   * edges that point at each node (0 for nodes without incoming edges). Default 1.
   */
  fillValue?: LoopFill;
  /** Number of nodes; inferred as max(edgeIndex) + 1 on cpu when absent (required on webgpu). */
  numNodes?: number;
}

/** The [N, ...F] attributes of the N new loops. */
function loopAttr(op: string, edgeIndex: Tensor, attr: Tensor, n: number, fill: LoopFill): Tensor {
  const rowShape = attr.shape.slice(1);
  const like = { dtype: attr.dtype, device: attr.device };
  if (typeof fill === 'number') return T.full([n, ...rowShape], fill, like);
  if (fill instanceof T.Tensor) {
    const perNode = fill.rank === attr.rank && fill.shape[0] === n && fill.shape.slice(1).every((d, k) => d === rowShape[k]);
    const shared = fill.rank === rowShape.length && fill.shape.every((d, k) => d === rowShape[k]);
    if (!perNode && !shared) throw new RangeError(`${op}: expected fillValue of shape ${shapeStr(rowShape)} or ${shapeStr([n, ...rowShape])}, received ${shapeStr(fill.shape)}`);
    return perNode ? T.contiguous(fill) : T.contiguous(T.expand(T.unsqueeze(fill, 0), [n, ...rowShape]));
  }
  const reduce = { add: 'sum', sum: 'sum', mean: 'mean', max: 'amax', min: 'amin' }[fill] as T.ScatterReduceOp | undefined;
  if (!reduce) throw new TypeError(`${op}: fillValue must be a number, a tensor or one of 'add', 'sum', 'mean', 'max', 'min', received ${String(fill)}`);
  const col = T.select(edgeIndex, 0, 1);
  return T.scatterReduce(T.zeros([n, ...rowShape], like), 0, spreadRows(col, attr.shape), attr, reduce, { includeSelf: false });
}

/**
 * Appends a self-loop (i, i) for every node (as PyG's add_self_loops; existing loops are kept).
 * Returns the new edge index [2, E + N] and, when `edgeAttr` [E, ...] is given, its attributes
 * [E + N, ...] with the loops' attributes from `fillValue`.
 */
export function addSelfLoops(edgeIndex: Tensor, edgeAttr?: Tensor | null, options: AddSelfLoopsOptions = {}): { edgeIndex: Tensor; edgeAttr: Tensor | null } {
  const op = 'addSelfLoops';
  checkEdgeIndex(op, edgeIndex);
  const n = inferNumNodes(op, edgeIndex, options.numNodes);
  checkEdgeIndex(op, edgeIndex, n);
  checkEdgeAttr(op, edgeAttr, edgeIndex.shape[1]);
  return T.tidy(() => {
    const loops = loopIndex(n, edgeIndex.device);
    const ei = T.cat([edgeIndex, loops], 1);
    if (!edgeAttr) return { edgeIndex: ei, edgeAttr: null };
    return { edgeIndex: ei, edgeAttr: T.cat([edgeAttr, loopAttr(op, edgeIndex, edgeAttr, n, options.fillValue ?? 1)], 0) };
  });
}

/**
 * PyG's add_remaining_self_loops without data-dependent shapes: every node gets a loop appended
 * (edge index [2, E + N]); a node that already had one keeps that loop's attribute on the appended
 * loop, and the original loop stays in place with attribute 0, so any weighted sum over the edges
 * equals PyG's. Nodes without a loop get `fillValue` (default 1).
 */
export function addRemainingSelfLoops(edgeIndex: Tensor, edgeAttr?: Tensor | null, options: { fillValue?: number; numNodes?: number } = {}): { edgeIndex: Tensor; edgeAttr: Tensor } {
  const op = 'addRemainingSelfLoops';
  checkEdgeIndex(op, edgeIndex);
  const n = inferNumNodes(op, edgeIndex, options.numNodes);
  checkEdgeIndex(op, edgeIndex, n);
  const e = edgeIndex.shape[1];
  checkEdgeAttr(op, edgeAttr, e);
  const fill = options.fillValue ?? 1;
  return T.tidy(() => {
    const attr = edgeAttr ?? T.ones([e], { device: edgeIndex.device });
    const rowShape = attr.shape.slice(1);
    const isLoop = selfLoopMask(edgeIndex);
    // Loops scatter their attribute to their node; other edges to a spare slot n that is dropped.
    const slot = T.where(isLoop, T.select(edgeIndex, 0, 0), n);
    const base = T.full([n + 1, ...rowShape], fill, { dtype: attr.dtype, device: attr.device });
    const loops = T.narrow(T.scatter(base, 0, spreadRows(slot, attr.shape), attr), 0, 0, n);
    const maskShape = [e, ...rowShape.map(() => 1)];
    const kept = T.where(T.reshape(isLoop, maskShape), 0, attr);
    return { edgeIndex: T.cat([edgeIndex, loopIndex(n, edgeIndex.device)], 1), edgeAttr: T.cat([kept, loops], 0) };
  });
}

/** Reads the self-loop mask back (asynchronously) as a JS array. */
async function loopFlags(edgeIndex: Tensor): Promise<Uint8Array> {
  const mask = selfLoopMask(edgeIndex);
  try {
    return Uint8Array.from(await mask.data(), (v) => (v ? 1 : 0));
  } finally {
    mask.dispose();
  }
}

/**
 * Drops the edges (i, i) and their attributes (PyG's remove_self_loops). Asynchronous: the
 * number of edges left depends on the data, which is read back.
 */
export async function removeSelfLoops(edgeIndex: Tensor, edgeAttr?: Tensor | null): Promise<{ edgeIndex: Tensor; edgeAttr: Tensor | null }> {
  const op = 'removeSelfLoops';
  checkEdgeIndex(op, edgeIndex);
  checkEdgeAttr(op, edgeAttr, edgeIndex.shape[1]);
  const flags = await loopFlags(edgeIndex);
  const keep: number[] = [];
  flags.forEach((f, k) => {
    if (!f) keep.push(k);
  });
  return T.tidy(() => {
    const idx = T.tensor(keep, { dtype: 'int32', device: edgeIndex.device });
    return { edgeIndex: T.indexSelect(edgeIndex, 1, idx), edgeAttr: edgeAttr ? T.indexSelect(edgeAttr, 0, idx) : null };
  });
}

/** True when some edge is a self-loop (asynchronous: reads the edge index back). */
export async function containsSelfLoops(edgeIndex: Tensor): Promise<boolean> {
  checkEdgeIndex('containsSelfLoops', edgeIndex);
  return (await loopFlags(edgeIndex)).some((f) => f === 1);
}
