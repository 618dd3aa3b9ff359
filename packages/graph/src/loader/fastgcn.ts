import * as T from '@tessera/tensor';
import { Graph } from '../data/graph.js';
import { checkEdgeRange, edgeTensor, intTensor } from '../utils/edges.js';
import { checkBatchSize, epochBatches, InputNodes, numBatches, type SeedBatchOptions } from './input.js';
import { checkGenerator } from './neighbor-sampler.js';

export interface FastGCNSamplerOptions extends SeedBatchOptions {
  /**
   * Nodes drawn i.i.d. for each sampled layer, the layer feeding the output first (as
   * NeighborLoader's numNeighbors): [t_{L−1}, ..., t_0]. One entry per propagation whose input is
   * sampled; a 2-layer GCN whose first propagation is precomputed (ÂX) needs one.
   */
  numSamples: readonly number[];
  /**
   * 'all' (default, the paper's eq. 10): q(u) ∝ ‖Â(:, u)‖² over all nodes. 'batch': the same q
   * restricted to (and renormalised over) the nodes with an entry in the rows of the layer above —
   * still unbiased, since the other columns contribute nothing, but no draw is wasted on them.
   */
  support?: 'all' | 'batch';
  /** Â = D̃^-1/2 (A + I) D̃^-1/2 as GCNConv (default true); false: Â = A (+ I) with the weights as given. */
  normalize?: boolean;
  /** Add the missing self-loops with weight 1 before normalising (default true). */
  addSelfLoops?: boolean;
  /** dtype of the adjacency values (default float32; float64 is cpu only). */
  dtype?: 'float32' | 'float64';
}

/** One sampled propagation from the nodes of a layer (sources) to those of the layer above (targets). */
export interface FastGCNLayer {
  /** [numTargets, numSources]: Â(v, u) · c_u / (t · q(u)) for u drawn c_u times; `spmm(adj, h)` estimates (Â H)[targets]. */
  adj: T.SparseTensor;
  /** int32 [2, nnz]: the same entries as local (source, target) ids, flow source → target. */
  edgeIndex: T.Tensor;
  /** [nnz]: their weights. */
  edgeWeight: T.Tensor;
}

/**
 * The sampled layers of one batch. `nodes[0]` are the bottom layer's (input) nodes, `nodes[L]` the
 * output batch; `layers[l]` propagates from `nodes[l]` to `nodes[l + 1]`. Sampled nodes appear once
 * (a node drawn c times carries c in its weights). The consumer disposes the batch.
 */
export class FastGCNBatch {
  /** @internal Built by FastGCNSampler. */
  constructor(readonly nodes: T.Tensor[], readonly layers: FastGCNLayer[], readonly inputId: T.Tensor | null) {}

  /** Number of output nodes. */
  get batchSize(): number {
    return this.nodes[this.nodes.length - 1].shape[0];
  }

  dispose(): void {
    for (const t of this.nodes) t.dispose();
    for (const l of this.layers) {
      l.adj.dispose();
      T.dispose([l.edgeIndex, l.edgeWeight]);
    }
    this.inputId?.dispose();
  }

  [Symbol.dispose](): void {
    this.dispose();
  }
}

/** Â by target rows, on the host, with the proposal. */
interface Prepared {
  rowPtr: Int32Array;
  col: Int32Array;
  val: Float64Array;
  q: Float64Array;
  cdf: Float64Array;
}

/**
 * FastGCN's layer-wise importance sampler (Chen, Ma & Xiao, ICLR 2018). The propagation
 * H^{l+1}(v) = σ(Σ_u Â(v, u) H^l(u) W^l) is estimated from t_l nodes u_1..u_t drawn i.i.d. from
 * q(u) = ‖Â(:, u)‖² / Σ_u' ‖Â(:, u')‖² as (1/t_l) Σ_j Â(v, u_j) H^l(u_j) W^l / q(u_j), which is
 * unbiased for every v. The top layer holds the batch of output nodes (`batchSize` of the input
 * nodes per step); each layer below is drawn independently of the others.
 *
 * `for await (const batch of sampler)` yields one FastGCNBatch per batch of output nodes: the
 * sampled node ids per layer and, per layer, the sparse estimator matrix (for `T.spmm`) and the
 * same entries as edgeIndex + edgeWeight. For inference use the exact Â (`adjacency()`).
 *
 * Â and q are built on the host at the first epoch (await `prepare()` to do it earlier); the
 * batches are uploaded to the graph's device. Deterministic for a given generator state.
 */
export class FastGCNSampler implements AsyncIterable<FastGCNBatch> {
  readonly graph: Graph;
  readonly numSamples: readonly number[];
  readonly batchSize: number;
  readonly shuffle: boolean;
  readonly dropLast: boolean;
  readonly support: 'all' | 'batch';
  readonly normalize: boolean;
  readonly addSelfLoops: boolean;
  readonly dtype: 'float32' | 'float64';
  readonly #generator: T.Generator;
  readonly #input: InputNodes;
  #prepared: Prepared | null = null;
  #local: Int32Array;

  constructor(graph: Graph, options: FastGCNSamplerOptions) {
    const op = 'FastGCNSampler';
    if (!(graph instanceof Graph)) throw new TypeError(`${op}: expected a Graph, received ${graph === null ? 'null' : typeof graph}`);
    if (graph.isDisposed) throw new Error(`${op}: the graph has been disposed`);
    if (!graph.edgeIndex) throw new Error(`${op}: the graph has no edgeIndex`);
    if (typeof options !== 'object' || options === null) throw new TypeError(`${op}: expected an options object with numSamples, received ${String(options)}`);
    const ns = options.numSamples;
    if (!Array.isArray(ns) || ns.length === 0 || !ns.every((t) => Number.isInteger(t) && t > 0)) {
      throw new RangeError(`${op}: numSamples must be a non-empty array of positive integers (nodes drawn per sampled layer), received ${Array.isArray(ns) ? `[${ns.join(', ')}]` : String(ns)}`);
    }
    this.numSamples = Object.freeze([...ns]);
    this.batchSize = checkBatchSize(op, options.batchSize);
    this.support = options.support ?? 'all';
    if (this.support !== 'all' && this.support !== 'batch') throw new TypeError(`${op}: support must be 'all' or 'batch', received '${String(this.support)}'`);
    this.dtype = options.dtype ?? 'float32';
    if (this.dtype !== 'float32' && this.dtype !== 'float64') throw new TypeError(`${op}: dtype must be 'float32' or 'float64', received '${String(this.dtype)}'`);
    if (this.dtype === 'float64' && graph.device !== 'cpu') throw new TypeError(`${op}: float64 is cpu only; the graph is on '${graph.device}'`);
    this.shuffle = options.shuffle ?? false;
    this.dropLast = options.dropLast ?? false;
    this.normalize = options.normalize ?? true;
    this.addSelfLoops = options.addSelfLoops ?? true;
    this.#generator = checkGenerator(op, options.generator);
    this.#input = new InputNodes(op, options.inputNodes, graph.numNodes);
    this.#local = new Int32Array(graph.numNodes).fill(-1);
    this.graph = graph;
  }

  /** Batches per epoch; throws until the input nodes are known (given as an array, or after `prepare()`). */
  get length(): number {
    const ids = this.#input.known;
    if (!ids) throw new Error('FastGCNSampler.length: the input nodes are a tensor not read yet; await sampler.prepare() first');
    return numBatches(ids.length, this.batchSize, this.dropLast);
  }

  /** Reads the graph back and builds Â and q (once). Called by the iterator. */
  async prepare(): Promise<this> {
    await this.#input.resolve();
    if (this.#prepared) return this;
    const g = this.graph;
    const N = g.numNodes;
    const ei = g.edgeIndex!;
    const E = ei.shape[1];
    const data = (await ei.data()) as Int32Array;
    const src = data.slice(0, E);
    const dst = data.slice(E, 2 * E);
    checkEdgeRange('FastGCNSampler', src, dst, N);
    const w = g.edgeWeight ? Float64Array.from(await g.edgeWeight.data()) : new Float64Array(E).fill(1);
    this.#prepared = normalizedAdjacency(src, dst, w, N, this.normalize, this.addSelfLoops);
    return this;
  }

  #ready(op: string): Prepared {
    if (!this.#prepared) throw new Error(`FastGCNSampler.${op}: call await sampler.prepare() first (iterating does it)`);
    return this.#prepared;
  }

  /** The proposal q over all nodes (a copy; sums to 1). */
  proposal(): Float64Array {
    return this.#ready('proposal').q.slice();
  }

  /** The exact Â as a sparse [N, N] matrix (rows = targets), for inference and for precomputing ÂX. The caller owns it. */
  adjacency(): T.SparseTensor {
    const p = this.#ready('adjacency');
    const N = this.graph.numNodes;
    const rows = new Int32Array(p.col.length);
    for (let v = 0; v < N; v++) rows.fill(v, p.rowPtr[v], p.rowPtr[v + 1]);
    return toSparse(rows, p.col, p.val, [N, N], this.graph.device!, this.dtype);
  }

  /** `count` node ids drawn i.i.d. from q. */
  drawNodes(count: number): Int32Array {
    const p = this.#ready('drawNodes');
    if (!Number.isInteger(count) || count < 0) throw new RangeError(`FastGCNSampler.drawNodes: count must be a non-negative integer, received ${count}`);
    const u = this.#generator.uniform(count, true);
    const out = new Int32Array(count);
    for (let i = 0; i < count; i++) out[i] = searchCdf(p.cdf, u[i] * p.cdf[p.cdf.length - 1]);
    return out;
  }

  async *[Symbol.asyncIterator](): AsyncIterator<FastGCNBatch> {
    await this.prepare();
    const ids = this.#input.known!;
    for (const positions of epochBatches(ids.length, this.batchSize, this.shuffle, this.dropLast, this.#generator)) {
      yield this.#sample(positions.map((k) => ids[k]), positions);
    }
  }

  /** The sampled layers below the given output nodes (after `prepare()`). */
  sampleLayers(outputNodes: ArrayLike<number>): FastGCNBatch {
    const op = 'FastGCNSampler.sampleLayers';
    this.#ready('sampleLayers');
    const N = this.graph.numNodes;
    const seen = new Set<number>();
    for (let i = 0; i < outputNodes.length; i++) {
      const v = outputNodes[i];
      if (!Number.isInteger(v) || v < 0 || v >= N) throw new RangeError(`${op}: node ${String(v)} is outside [0, ${N}) for a graph of ${N} nodes`);
      if (seen.has(v)) throw new RangeError(`${op}: node ${v} appears more than once`);
      seen.add(v);
    }
    return this.#sample(Int32Array.from(outputNodes), null);
  }

  #sample(batch: Int32Array, positions: Int32Array | null): FastGCNBatch {
    const p = this.#prepared!;
    const device = this.graph.device!;
    const L = this.numSamples.length;
    const nodeIds: Int32Array[] = new Array(L + 1);
    const entries: { row: Int32Array; col: Int32Array; val: Float64Array; shape: [number, number] }[] = new Array(L);
    nodeIds[L] = batch;
    for (let l = L - 1; l >= 0; l--) {
      const t = this.numSamples[L - 1 - l];
      const above = nodeIds[l + 1];
      const { nodes, weight } = this.support === 'all' ? this.#drawAll(p, t) : this.#drawInSupport(p, above, t);
      nodeIds[l] = nodes;
      entries[l] = this.#estimator(p, above, nodes, weight);
    }
    const made: T.Tensor[] = [];
    const sparse: T.SparseTensor[] = [];
    try {
      const nodes = nodeIds.map((ids) => {
        const t = intTensor(ids, device);
        made.push(t);
        return t;
      });
      const layers = entries.map((e) => {
        const adj = toSparse(e.row, e.col, e.val, e.shape, device, this.dtype);
        sparse.push(adj);
        const edgeIndex = edgeTensor(e.col, e.row, device);
        made.push(edgeIndex);
        const edgeWeight = T.tensor(e.val, { dtype: this.dtype, device });
        made.push(edgeWeight);
        return { adj, edgeIndex, edgeWeight };
      });
      const inputId = positions ? intTensor(positions, device) : null;
      return new FastGCNBatch(nodes, layers, inputId);
    } catch (e) {
      T.dispose(made);
      for (const s of sparse) s.dispose();
      throw e;
    }
  }

  /** t i.i.d. draws from q, deduplicated: the distinct nodes and c_u / (t q(u)) for each. */
  #drawAll(p: Prepared, t: number): { nodes: Int32Array; weight: Float64Array } {
    const u = this.#generator.uniform(t, true);
    const total = p.cdf[p.cdf.length - 1];
    const draws = new Int32Array(t);
    for (let i = 0; i < t; i++) draws[i] = searchCdf(p.cdf, u[i] * total);
    return this.#dedupe(draws, (v) => t * p.q[v]);
  }

  /** t i.i.d. draws from q restricted to the columns with an entry in the rows `above`. */
  #drawInSupport(p: Prepared, above: Int32Array, t: number): { nodes: Int32Array; weight: Float64Array } {
    const local = this.#local;
    const support: number[] = [];
    for (const v of above) {
      for (let k = p.rowPtr[v]; k < p.rowPtr[v + 1]; k++) {
        const u = p.col[k];
        if (local[u] < 0 && p.q[u] > 0) {
          local[u] = support.length;
          support.push(u);
        }
      }
    }
    for (const u of support) local[u] = -1;
    if (support.length === 0) return { nodes: new Int32Array(0), weight: new Float64Array(0) };
    const cdf = new Float64Array(support.length);
    let acc = 0;
    for (let i = 0; i < support.length; i++) cdf[i] = acc += p.q[support[i]];
    const uni = this.#generator.uniform(t, true);
    const draws = new Int32Array(t);
    for (let i = 0; i < t; i++) draws[i] = support[searchCdf(cdf, uni[i] * acc)];
    return this.#dedupe(draws, (v) => (t * p.q[v]) / acc);
  }

  /** Distinct draws in order of first appearance, each with count / denom(u). */
  #dedupe(draws: Int32Array, denom: (v: number) => number): { nodes: Int32Array; weight: Float64Array } {
    const local = this.#local;
    const nodes: number[] = [];
    const counts: number[] = [];
    for (const v of draws) {
      if (local[v] < 0) {
        local[v] = nodes.length;
        nodes.push(v);
        counts.push(0);
      }
      counts[local[v]]++;
    }
    for (const v of nodes) local[v] = -1;
    return { nodes: Int32Array.from(nodes), weight: Float64Array.from(nodes, (v, i) => counts[i] / denom(v)) };
  }

  /** The entries Â(v, u) · weight(u) of the rows `above` and the columns `below`, in local ids. */
  #estimator(p: Prepared, above: Int32Array, below: Int32Array, weight: Float64Array) {
    const local = this.#local;
    below.forEach((u, i) => (local[u] = i));
    const row: number[] = [];
    const col: number[] = [];
    const val: number[] = [];
    above.forEach((v, i) => {
      for (let k = p.rowPtr[v]; k < p.rowPtr[v + 1]; k++) {
        const j = local[p.col[k]];
        if (j < 0) continue;
        row.push(i);
        col.push(j);
        val.push(p.val[k] * weight[j]);
      }
    });
    for (const u of below) local[u] = -1;
    return { row: Int32Array.from(row), col: Int32Array.from(col), val: Float64Array.from(val), shape: [above.length, below.length] as [number, number] };
  }
}

/** The first index whose cumulative value exceeds x (clamped to the last positive entry). */
function searchCdf(cdf: Float64Array, x: number): number {
  let lo = 0;
  let hi = cdf.length - 1;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (cdf[mid] > x) hi = mid;
    else lo = mid + 1;
  }
  // x = total (u = 1 cannot happen, but rounding can reach it): step back over zero-mass entries
  while (lo > 0 && cdf[lo] === cdf[lo - 1]) lo--;
  return lo;
}

function toSparse(row: Int32Array, col: Int32Array, val: Float64Array, shape: [number, number], device: T.DeviceName, dtype: 'float32' | 'float64'): T.SparseTensor {
  const indices = edgeTensor(row, col, device);
  const values = T.tensor(val, { dtype, device });
  try {
    return T.sparseCooTensor(indices, values, shape);
  } finally {
    T.dispose([indices, values]);
  }
}

/**
 * Â by target rows (entry (v, u) weighs the message u → v; duplicates summed), with the missing
 * self-loops appended (weight 1) when asked and, when `normalize`, D̃^-1/2 Ã D̃^-1/2 with the
 * in-degrees d̃(v) = Σ_u Ã(v, u), as gcnNorm; plus q ∝ the squared column norms and its running sum.
 */
function normalizedAdjacency(src: Int32Array, dst: Int32Array, weight: Float64Array, N: number, normalize: boolean, addSelfLoops: boolean): Prepared {
  // rows by target, then by source inside a row (two stable counting sorts)
  const E = src.length;
  const bySrc = countingOrder(src, N, null);
  const order = countingOrder(dst, N, bySrc);
  const rowPtr = new Int32Array(N + 1);
  const col: number[] = [];
  const val: number[] = [];
  let k = 0;
  for (let v = 0; v < N; v++) {
    rowPtr[v] = col.length;
    let hasLoop = false;
    for (; k < E && dst[order[k]] === v; k++) {
      const e = order[k];
      const u = src[e];
      if (u === v) hasLoop = true;
      if (col.length > rowPtr[v] && col[col.length - 1] === u) val[val.length - 1] += weight[e];
      else {
        col.push(u);
        val.push(weight[e]);
      }
    }
    // as addRemainingSelfLoops: an existing loop keeps its weight
    if (addSelfLoops && !hasLoop) {
      col.push(v);
      val.push(1);
    }
  }
  rowPtr[N] = col.length;
  const c = Int32Array.from(col);
  const a = Float64Array.from(val);
  if (normalize) {
    const deg = new Float64Array(N);
    for (let v = 0; v < N; v++) for (let j = rowPtr[v]; j < rowPtr[v + 1]; j++) deg[v] += a[j];
    const dinv = deg.map((d) => (d > 0 ? 1 / Math.sqrt(d) : 0));
    for (let v = 0; v < N; v++) for (let j = rowPtr[v]; j < rowPtr[v + 1]; j++) a[j] *= dinv[v] * dinv[c[j]];
  }
  const q = new Float64Array(N);
  for (let j = 0; j < a.length; j++) q[c[j]] += a[j] * a[j];
  let total = 0;
  for (const x of q) total += x;
  if (!(total > 0)) throw new Error('FastGCNSampler: every column of Â is zero (no edges and no self-loops), so there is nothing to sample from');
  const cdf = new Float64Array(N);
  let acc = 0;
  for (let u = 0; u < N; u++) {
    q[u] /= total;
    cdf[u] = acc += q[u];
  }
  return { rowPtr, col: c, val: a, q, cdf };
}

/** A stable counting sort of `within` (or 0..E-1) by key. */
function countingOrder(key: Int32Array, range: number, within: Int32Array | null): Int32Array {
  const E = key.length;
  const start = new Int32Array(range + 1);
  for (let e = 0; e < E; e++) start[key[e] + 1]++;
  for (let r = 0; r < range; r++) start[r + 1] += start[r];
  const out = new Int32Array(E);
  for (let i = 0; i < E; i++) {
    const e = within ? within[i] : i;
    out[start[key[e]]++] = e;
  }
  return out;
}
