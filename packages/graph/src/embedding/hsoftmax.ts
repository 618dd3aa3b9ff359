import * as T from '@tessera/tensor';
import { Module, buffer, parameter } from '@tessera/nn';

/**
 * A binary tree over n leaves (the nodes of a graph) for the hierarchical softmax: n − 1 inner
 * nodes, each a binary classifier. Leaf v's path from the root is `pathNodes[v·D .. v·D + depth[v])`
 * (inner-node ids in 0..n−2, root first) with `pathSigns` +1 where the path goes left and −1 where
 * it goes right; entries past the leaf's depth are padding (node 0, sign 0). D = `maxDepth`.
 */
export interface BinaryTree {
  readonly numLeaves: number;
  readonly maxDepth: number;
  readonly depth: Int32Array;
  readonly pathNodes: Int32Array;
  readonly pathSigns: Float32Array;
}

/**
 * Builds the tree by repeatedly merging two subtrees into a new inner node; `pickTwo` returns the
 * two subtrees to merge (node ids: leaves 0..n−1, inner nodes n..2n−2 in creation order) and
 * `push(id, a, b)` hands the new inner node back.
 */
function buildTree(op: string, n: number, pickTwo: () => [number, number], push: (id: number, a: number, b: number) => void): BinaryTree {
  if (!Number.isInteger(n) || n < 2) throw new RangeError(`${op}: a hierarchical softmax needs at least 2 leaves, received ${n}`);
  const parent = new Int32Array(2 * n - 1).fill(-1);
  const isLeft = new Uint8Array(2 * n - 1);
  for (let k = 0; k < n - 1; k++) {
    const [a, b] = pickTwo();
    const id = n + k;
    parent[a] = id;
    parent[b] = id;
    isLeft[a] = 1;
    push(id, a, b);
  }
  const depth = new Int32Array(n);
  let maxDepth = 0;
  for (let v = 0; v < n; v++) {
    let d = 0;
    for (let u = v; parent[u] >= 0; u = parent[u]) d++;
    depth[v] = d;
    maxDepth = Math.max(maxDepth, d);
  }
  const pathNodes = new Int32Array(n * maxDepth);
  const pathSigns = new Float32Array(n * maxDepth);
  for (let v = 0; v < n; v++) {
    // walk up from the leaf, filling the path from its end (the root comes first)
    let i = depth[v];
    for (let u = v; parent[u] >= 0; u = parent[u]) {
      i--;
      pathNodes[v * maxDepth + i] = parent[u] - n;
      pathSigns[v * maxDepth + i] = isLeft[u] ? 1 : -1;
    }
  }
  return { numLeaves: n, maxDepth, depth, pathNodes, pathSigns };
}

/**
 * Huffman tree over leaves with the given counts (word2vec's choice; DeepWalk uses node degrees):
 * frequent leaves get short paths, so the expected path length is minimal. Ties are broken by
 * leaf index (leaves before merged nodes), so the tree is deterministic.
 */
export function huffmanTree(counts: ArrayLike<number>): BinaryTree {
  const op = 'huffmanTree';
  if (!counts || typeof counts.length !== 'number') throw new TypeError(`${op}: expected an array of counts`);
  const n = counts.length;
  for (let i = 0; i < n; i++) {
    if (typeof counts[i] !== 'number' || !(counts[i] >= 0) || !Number.isFinite(counts[i])) throw new RangeError(`${op}: counts must be finite and non-negative, received ${String(counts[i])} at index ${i}`);
  }
  // Two queues: the leaves sorted by count, and the merged nodes (created in non-decreasing weight).
  const leaves = Array.from({ length: n }, (_, i) => i).sort((a, b) => counts[a] - counts[b] || a - b);
  const weight = new Float64Array(Math.max(1, 2 * n - 1));
  for (let i = 0; i < n; i++) weight[i] = counts[i];
  const merged: number[] = [];
  let li = 0;
  let mi = 0;
  const popMin = () => (mi >= merged.length || (li < n && weight[leaves[li]] <= weight[merged[mi]]) ? leaves[li++] : merged[mi++]);
  return buildTree(op, n, () => [popMin(), popMin()], (id, a, b) => {
    weight[id] = weight[a] + weight[b];
    merged.push(id);
  });
}

/** A balanced tree (depth ⌈log2 n⌉): pairs subtrees first-in first-out, leaves in index order. */
export function balancedTree(numLeaves: number): BinaryTree {
  const queue: number[] = Array.from({ length: Math.max(0, numLeaves) }, (_, i) => i);
  let head = 0;
  return buildTree('balancedTree', numLeaves, () => [queue[head++], queue[head++]], (id) => void queue.push(id));
}

/**
 * The hierarchical softmax (Morin & Bengio 2005; word2vec; DeepWalk eq. 265–268): the probability
 * of leaf u given a vector h is the product, along u's root-to-leaf path, of σ(+θ_n·h) at each
 * left turn and σ(−θ_n·h) at each right turn, θ_n the inner node's vector (`weight`, [n − 1, d],
 * zeros at the start as word2vec). The leaf probabilities sum to 1 for every h, and one
 * log-probability costs O(depth·d) instead of O(n·d).
 */
export class HierarchicalSoftmax extends Module {
  weight: T.Tensor;
  /** [n, D] int32 and float32 path tables of the tree (buffers: they move with `to`). */
  pathNodes: T.Tensor;
  pathSigns: T.Tensor;
  readonly numLeaves: number;
  readonly maxDepth: number;

  constructor(tree: BinaryTree, readonly dim: number, options: { device?: T.DeviceName } = {}) {
    super();
    const op = 'HierarchicalSoftmax';
    if (!tree || !(tree.pathNodes instanceof Int32Array) || !(tree.pathSigns instanceof Float32Array)) throw new TypeError(`${op}: expected a BinaryTree (huffmanTree / balancedTree)`);
    if (!Number.isInteger(dim) || dim < 1) throw new RangeError(`${op}: dim must be a positive integer, received ${dim}`);
    this.numLeaves = tree.numLeaves;
    this.maxDepth = tree.maxDepth;
    const device = options.device;
    this.weight = parameter(T.zeros([tree.numLeaves - 1, dim], { device }));
    this.pathNodes = buffer(T.tensor(tree.pathNodes, { dtype: 'int32', shape: [tree.numLeaves, tree.maxDepth], device }));
    this.pathSigns = buffer(T.tensor(tree.pathSigns, { dtype: 'float32', shape: [tree.numLeaves, tree.maxDepth], device }));
  }

  /** log p(target | h) for h [P, d] and int32 targets [P] (leaf ids): [P]. */
  logProb(h: T.Tensor, target: T.Tensor): T.Tensor {
    const op = 'HierarchicalSoftmax.logProb';
    if (!T.isTensor(h) || h.rank !== 2 || h.shape[1] !== this.dim) throw new RangeError(`${op}: expected h of shape [P, ${this.dim}], received ${T.isTensor(h) ? `[${h.shape.join(', ')}]` : typeof h}`);
    if (!T.isTensor(target) || target.dtype !== 'int32' || target.rank !== 1 || target.shape[0] !== h.shape[0]) {
      throw new RangeError(`${op}: expected int32 targets of shape [${h.shape[0]}], received ${T.isTensor(target) ? `${target.dtype} [${target.shape.join(', ')}]` : typeof target}`);
    }
    const P = h.shape[0];
    const D = this.maxDepth;
    return T.tidy(() => {
      const nodes = T.indexSelect(this.pathNodes, 0, target); // [P, D]
      const signs = T.indexSelect(this.pathSigns, 0, target); // [P, D], 0 = padding
      const theta = T.reshape(T.indexSelect(this.weight, 0, T.reshape(nodes, [-1])), [P, D, this.dim]);
      const dots = T.sum(T.mul(theta, T.unsqueeze(h, 1)), { dim: -1 }); // [P, D]
      // log σ(s·x) = −softplus(−s·x); padded steps (s = 0) are masked out
      const steps = T.mul(T.softplus(T.neg(T.mul(signs, dots))), T.abs(signs));
      return T.neg(T.sum(steps, { dim: -1 }));
    });
  }

  /**
   * The skip-gram loss of whole rows (walks): the mean over every window pair (center row[j],
   * context row[j + k], k = 1 .. C − 1) of −log p(context | h_center), for int32 rows [R, len] and
   * their vectors h [R, len, d]. Same value as `forward` on the listed pairs, computed from one
   * matrix of products per row (each row's vectors against the path vectors of its nodes) so that
   * a path vector is gathered once per row and node instead of once per pair.
   */
  windowLoss(h: T.Tensor, rows: T.Tensor, contextSize: number): T.Tensor {
    const op = 'HierarchicalSoftmax.windowLoss';
    if (!T.isTensor(rows) || rows.dtype !== 'int32' || rows.rank !== 2) throw new TypeError(`${op}: expected int32 rows [R, len], received ${T.isTensor(rows) ? `${rows.dtype} [${rows.shape.join(', ')}]` : typeof rows}`);
    const [R, len] = rows.shape;
    if (!Number.isInteger(contextSize) || contextSize < 2 || contextSize > len) throw new RangeError(`${op}: contextSize must be an integer in [2, ${len}], received ${contextSize}`);
    if (!T.isTensor(h) || h.rank !== 3 || h.shape[0] !== R || h.shape[1] !== len || h.shape[2] !== this.dim) {
      throw new RangeError(`${op}: expected h of shape [${R}, ${len}, ${this.dim}], received ${T.isTensor(h) ? `[${h.shape.join(', ')}]` : typeof h}`);
    }
    const D = this.maxDepth;
    const nW = len + 1 - contextSize;
    const nP = nW * (contextSize - 1);
    // pair (j, j + k), path step i: entry [j, (j + k)·D + i] of the row's product matrix and entry (j + k)·D + i of its signs
    const prodIdx = new Int32Array(nP * D);
    const signIdx = new Int32Array(nP * D);
    let at = 0;
    for (let j = 0; j < nW; j++) {
      for (let k = 1; k < contextSize; k++) {
        for (let i = 0; i < D; i++, at++) {
          signIdx[at] = (j + k) * D + i;
          prodIdx[at] = j * len * D + signIdx[at];
        }
      }
    }
    return T.tidy(() => {
      const flat = T.reshape(rows, [-1]);
      const nodes = T.reshape(T.indexSelect(this.pathNodes, 0, flat), [-1]); // [R·len·D]
      const theta = T.reshape(T.indexSelect(this.weight, 0, nodes), [R, len * D, this.dim]);
      const prod = T.reshape(T.bmm(h, T.transpose(theta, 1, 2)), [R, len * len * D]);
      const dots = T.indexSelect(prod, 1, T.tensor(prodIdx, { dtype: 'int32', device: rows.device })); // [R, nP·D]
      const signs = T.indexSelect(T.reshape(T.indexSelect(this.pathSigns, 0, flat), [R, len * D]), 1, T.tensor(signIdx, { dtype: 'int32', device: rows.device }));
      const steps = T.mul(T.softplus(T.neg(T.mul(signs, dots))), T.abs(signs));
      return T.div(T.sum(steps), R * nP);
    });
  }

  /** Mean negative log-likelihood of the targets. */
  forward(h: T.Tensor, target: T.Tensor): T.Tensor {
    return T.tidy(() => T.neg(T.mean(this.logProb(h, target))));
  }
}
