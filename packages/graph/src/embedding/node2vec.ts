import * as T from '@tessera/tensor';
import { noGrad } from '@tessera/autodiff';
import { Embedding, Module } from '@tessera/nn';
import { WORD, aliasDraw, aliasSetup, generatorOf, type AliasTable } from './alias.js';
import { HierarchicalSoftmax, balancedTree, huffmanTree } from './hsoftmax.js';
import { RandomWalker, checkInt, walkBatches, walkWindows, type WalkOptions } from './walk.js';
import { WalkGraph } from './walk-graph.js';

/** The skip-gram objective: negative sampling (node2vec, PyG) or the hierarchical softmax (DeepWalk). */
export type SkipGramObjective = 'negative-sampling' | 'hierarchical-softmax';

export interface Node2VecOptions extends WalkOptions {
  embeddingDim: number;
  /** Steps per walk (a walk holds walkLength + 1 nodes). */
  walkLength: number;
  /** Window size: each window is a center node and the contextSize − 1 nodes after it. */
  contextSize: number;
  /** Walks started from every node per epoch (default 1). */
  walksPerNode?: number;
  /** Negative windows per positive window (default 1). */
  numNegativeSamples?: number;
  /**
   * Where negatives come from: 'uniform' over the nodes (default, as PyG) or 'unigram', word2vec's
   * noise distribution ∝ count^0.75 with the node degree as count (a walk visits a node of an
   * undirected graph in proportion to its degree).
   */
  negativeDistribution?: 'uniform' | 'unigram';
  objective?: SkipGramObjective;
  /**
   * Standard deviation of the initial embedding (default 1: N(0, 1) as PyG). A small value (0.1)
   * converges in a few epochs where N(0, 1) needs ~100: with 128 dimensions the initial logits
   * are ~N(0, 128) and Adam first has to shrink them.
   */
  initStd?: number;
  /** Tree of the hierarchical softmax: Huffman over node degrees (default) or balanced. */
  tree?: 'huffman' | 'balanced';
  device?: T.DeviceName;
  /** Source of the walks and negatives; default the global generator at the time of each draw. */
  generator?: T.Generator;
}

export interface SkipGramBatch {
  /** Positive rows, int32 [B, walkLength + 1]: one walk from each start node. */
  posRw: T.Tensor;
  /** Negative rows, int32 [B·numNegativeSamples, walkLength + 1]: each start node, then nodes from the noise distribution. */
  negRw: T.Tensor;
  /** The walks' start nodes. */
  batch: Int32Array;
}

/**
 * node2vec (Grover & Leskovec, KDD 2016) in PyG's shape: an embedding table (`embedding.weight`,
 * N(0, initStd²) at the start, initStd = 1 as PyG), trained by skip-gram on biased second-order random walks. A
 * training step: `for (const { posRw, negRw } of model.loader({ batchSize: 128 }))` →
 * `model.loss(posRw, negRw)` → backward → optimizer step (Adam from @tessera/optimize; there is
 * no SparseAdam) → dispose posRw and negRw.
 *
 * Rows and windows: `loss` takes int32 rows of any length ≥ contextSize and uses every window of
 * each row, i.e. the pairs (row[j], row[j + k]) for j = 0 .. len − contextSize, k = 1 ..
 * contextSize − 1 (row[j] is the center). PyG's windows ([W, contextSize], from `posSample` /
 * `negSample`) are rows with one window each; `loader` / `sample` hand over whole walks instead
 * (the same pairs, computed from one Gram matrix per walk — several times faster).
 *
 * Loss with negative sampling: the mean over positive pairs of −log σ(z_c·z_x) plus the mean over
 * negative pairs of −log σ(−z_c·z_n), computed as softplus (PyG adds 1e-15 inside the log
 * instead: the same value unless a logit is below −34). Negative rows are PyG's: the start node,
 * then walkLength nodes from the noise distribution. With the hierarchical softmax the loss is
 * the mean −log p(context | z_center) over the positive pairs, p given by a HierarchicalSoftmax
 * (`hs`) over the nodes; negative rows are not used.
 */
export class Node2Vec extends Module {
  embedding: Embedding;
  /** The hierarchical softmax's inner-node vectors and tree (objective 'hierarchical-softmax'). */
  hs: HierarchicalSoftmax | null;
  readonly walker: RandomWalker;
  readonly numNodes: number;
  readonly embeddingDim: number;
  readonly walkLength: number;
  readonly contextSize: number;
  readonly walksPerNode: number;
  readonly numNegativeSamples: number;
  readonly negativeDistribution: 'uniform' | 'unigram';
  readonly objective: SkipGramObjective;
  readonly generator: T.Generator | undefined;
  private readonly unigram: AliasTable | null;

  /** Builds the walk graph from a [2, E] edge index (read back once), then the model. */
  static async create<M extends Node2Vec>(this: new (graph: WalkGraph, options: Node2VecOptions) => M, edgeIndex: T.Tensor, options: Node2VecOptions & { numNodes?: number; edgeWeight?: T.Tensor | null }): Promise<M> {
    const graph = await WalkGraph.fromEdgeIndex(edgeIndex, { numNodes: options.numNodes, edgeWeight: options.edgeWeight });
    return new this(graph, { ...options, device: options.device ?? edgeIndex.device });
  }

  constructor(graph: WalkGraph, options: Node2VecOptions) {
    super();
    const op = new.target.name;
    if (!(graph instanceof WalkGraph)) throw new TypeError(`${op}: expected a WalkGraph (or use ${op}.create(edgeIndex, options))`);
    if (!options || typeof options !== 'object') throw new TypeError(`${op}: expected an options object { embeddingDim, walkLength, contextSize, ... }`);
    this.numNodes = graph.numNodes;
    if (this.numNodes < 1) throw new RangeError(`${op}: the graph has no nodes`);
    this.embeddingDim = checkInt(op, 'embeddingDim', options.embeddingDim, 1);
    this.walkLength = checkInt(op, 'walkLength', options.walkLength, 1);
    this.contextSize = checkInt(op, 'contextSize', options.contextSize, 2);
    if (this.walkLength < this.contextSize) throw new RangeError(`${op}: walkLength (${this.walkLength}) must be ≥ contextSize (${this.contextSize})`);
    this.walksPerNode = checkInt(op, 'walksPerNode', options.walksPerNode ?? 1, 1);
    this.numNegativeSamples = checkInt(op, 'numNegativeSamples', options.numNegativeSamples ?? 1, 1);
    const neg = options.negativeDistribution ?? 'uniform';
    if (neg !== 'uniform' && neg !== 'unigram') throw new RangeError(`${op}: negativeDistribution must be 'uniform' or 'unigram', received ${String(neg)}`);
    this.negativeDistribution = neg;
    const objective = options.objective ?? 'negative-sampling';
    if (objective !== 'negative-sampling' && objective !== 'hierarchical-softmax') throw new RangeError(`${op}: objective must be 'negative-sampling' or 'hierarchical-softmax', received ${String(objective)}`);
    this.objective = objective;
    const tree = options.tree ?? 'huffman';
    if (tree !== 'huffman' && tree !== 'balanced') throw new RangeError(`${op}: tree must be 'huffman' or 'balanced', received ${String(tree)}`);
    if (objective === 'hierarchical-softmax' && this.numNodes < 2) throw new RangeError(`${op}: the hierarchical softmax needs at least 2 nodes, received ${this.numNodes}`);
    if (options.generator !== undefined) generatorOf(op, options.generator);
    this.generator = options.generator;
    this.walker = new RandomWalker(graph, options);
    const degree = Float64Array.from({ length: this.numNodes }, (_, v) => graph.degree(v));
    this.unigram = neg === 'unigram' && graph.numEdges > 0 ? aliasSetup(degree.map((d) => d ** 0.75)) : null;
    const initStd = options.initStd ?? 1;
    if (typeof initStd !== 'number' || !(initStd >= 0) || !Number.isFinite(initStd)) throw new RangeError(`${op}: initStd must be a finite number ≥ 0, received ${String(initStd)}`);
    this.embedding = new Embedding(this.numNodes, this.embeddingDim, { device: options.device });
    if (initStd !== 1) noGrad(() => T.tidy(() => void T.copy_(this.embedding.weight, T.mul(this.embedding.weight, initStd))));
    this.hs = objective === 'hierarchical-softmax'
      ? new HierarchicalSoftmax(tree === 'huffman' ? huffmanTree(degree) : balancedTree(this.numNodes), this.embeddingDim, { device: options.device })
      : null;
  }

  get device(): T.DeviceName {
    return this.embedding.weight.device;
  }

  /** The embedding table [N, d] itself (not a copy), or its rows at int32 `batch`. */
  forward(batch?: T.Tensor): T.Tensor {
    return batch === undefined ? this.embedding.weight : this.embedding.forward(batch);
  }

  private gen(): T.Generator {
    return this.generator ?? T.defaultGenerator;
  }

  /**
   * An epoch of training batches, streamed: walksPerNode rounds, each over all nodes in a fresh
   * random order (shuffle: true, default), `batchSize` walks per batch (default 128). The
   * caller disposes each batch's `posRw` and `negRw`.
   */
  *loader(options: { batchSize?: number; shuffle?: boolean } = {}): Generator<SkipGramBatch, void, undefined> {
    const gen = this.gen();
    for (const b of walkBatches(this.walker, { walkLength: this.walkLength, walksPerNode: this.walksPerNode, batchSize: options.batchSize ?? 128, shuffle: options.shuffle, generator: gen })) {
      yield { posRw: this.upload(b.walks, this.walkLength + 1), negRw: this.upload(this.negativeRows(b.start, gen), this.walkLength + 1), batch: b.start };
    }
  }

  /** One walk from each node of `batch` and the matching negative rows (whole rows, as `loader`). */
  sample(batch: ArrayLike<number>): SkipGramBatch {
    const gen = this.gen();
    const start = this.checkNodes('sample', batch);
    const walks = this.walker.walk(start, this.walkLength, { generator: gen });
    return { posRw: this.upload(walks, this.walkLength + 1), negRw: this.upload(this.negativeRows(start, gen), this.walkLength + 1), batch: start };
  }

  /** PyG's `pos_sample`: the windows of one walk from each node of `batch`, int32 [(walkLength + 2 − contextSize)·B, contextSize]. */
  posSample(batch: ArrayLike<number>): T.Tensor {
    const start = this.checkNodes('posSample', batch);
    const walks = this.walker.walk(start, this.walkLength, { generator: this.gen() });
    return this.upload(walkWindows(walks, start.length, this.contextSize), this.contextSize);
  }

  /** PyG's `neg_sample`: the windows of the negative rows of `batch`, int32 [(walkLength + 2 − contextSize)·B·numNegativeSamples, contextSize]. */
  negSample(batch: ArrayLike<number>): T.Tensor {
    const start = this.checkNodes('negSample', batch);
    const rows = this.negativeRows(start, this.gen());
    return this.upload(walkWindows(rows, start.length * this.numNegativeSamples, this.contextSize), this.contextSize);
  }

  private checkNodes(op: string, batch: ArrayLike<number>): Int32Array {
    const out = Int32Array.from(batch);
    for (let i = 0; i < out.length; i++) {
      if (out[i] !== batch[i] || out[i] < 0 || out[i] >= this.numNodes) throw new RangeError(`${this.constructor.name}.${op}: batch[${i}] = ${batch[i]} is not a node id in [0, ${this.numNodes})`);
    }
    return out;
  }

  /** numNegativeSamples rows per start node (repeat-major, as PyG's batch.repeat): the start, then walkLength noise nodes. */
  private negativeRows(start: Int32Array, gen: T.Generator): Int32Array {
    const L1 = this.walkLength + 1;
    const K = this.numNegativeSamples;
    const B = start.length;
    const draws = B * K * this.walkLength;
    const noise = this.unigram ? aliasDraw(this.unigram, draws, { generator: gen }) : uniformNodes(draws, this.numNodes, gen);
    const out = new Int32Array(B * K * L1);
    let d = 0;
    for (let r = 0; r < B * K; r++) {
      out[r * L1] = start[r % B];
      for (let j = 1; j < L1; j++) out[r * L1 + j] = noise[d++];
    }
    return out;
  }

  private upload(rows: Int32Array, len: number): T.Tensor {
    return T.tensor(rows, { dtype: 'int32', shape: [rows.length / len, len], device: this.device });
  }

  private checkRows(op: string, rw: unknown, name: string): T.Tensor {
    if (!T.isTensor(rw) || rw.dtype !== 'int32' || rw.rank !== 2 || rw.shape[1] < this.contextSize) {
      throw new TypeError(`${op}: expected ${name} to be an int32 tensor [rows, length ≥ contextSize = ${this.contextSize}], received ${T.isTensor(rw) ? `${rw.dtype} [${rw.shape.join(', ')}]` : String(rw)}`);
    }
    if (rw.device !== this.device) throw new Error(`${op}: ${name} is on ${rw.device}, the embedding on ${this.device}`);
    return rw;
  }

  /**
   * The skip-gram loss of a batch (a scalar): see the class comment. `negRw` is required for
   * negative sampling and ignored by the hierarchical softmax.
   */
  loss(posRw: T.Tensor, negRw?: T.Tensor): T.Tensor {
    const op = `${this.constructor.name}.loss`;
    this.checkRows(op, posRw, 'posRw');
    if (this.objective === 'hierarchical-softmax') return T.tidy(() => this.hsLoss(posRw));
    if (negRw === undefined) throw new TypeError(`${op}: negative sampling needs negRw (from loader() / sample() / negSample())`);
    this.checkRows(op, negRw, 'negRw');
    return T.tidy(() => T.add(T.mean(T.softplus(T.neg(this.pairLogits(posRw)))), T.mean(T.softplus(this.pairLogits(negRw)))));
  }

  /** z_center · z_context for every window pair of every row: [R, (len + 1 − C)·(C − 1)]. */
  private pairLogits(rw: T.Tensor): T.Tensor {
    const [R, len] = rw.shape;
    const C = this.contextSize;
    if (len === C) {
      // one window per row: the center against the C − 1 others
      const center = this.embedding.forward(T.narrow(rw, 1, 0, 1)); // [R, 1, d]
      const rest = this.embedding.forward(T.narrow(rw, 1, 1, C - 1)); // [R, C − 1, d]
      return T.reshape(T.sum(T.mul(center, rest), { dim: -1 }), [R, C - 1]);
    }
    // whole walks: all dot products of a row in one Gram matrix, then the band of window pairs
    const H = this.embedding.forward(rw); // [R, len, d]
    const gram = T.reshape(T.bmm(H, T.transpose(H, 1, 2)), [R, len * len]);
    const [centers, contexts] = windowPairs(len, C);
    return T.indexSelect(gram, 1, T.tensor(Int32Array.from(centers, (c, i) => c * len + contexts[i]), { dtype: 'int32', device: rw.device }));
  }

  private hsLoss(posRw: T.Tensor): T.Tensor {
    return this.hs!.windowLoss(this.embedding.forward(posRw), posRw, this.contextSize);
  }
}

/** Column pairs (center j, context j + k) of every window of a row of `len` nodes, k = 1 .. C − 1. */
function windowPairs(len: number, C: number): [Int32Array, Int32Array] {
  const nW = len + 1 - C;
  const centers = new Int32Array(nW * (C - 1));
  const contexts = new Int32Array(nW * (C - 1));
  let i = 0;
  for (let j = 0; j < nW; j++) {
    for (let k = 1; k < C; k++, i++) {
      centers[i] = j;
      contexts[i] = j + k;
    }
  }
  return [centers, contexts];
}

function uniformNodes(n: number, numNodes: number, gen: T.Generator): Int32Array {
  const out = new Int32Array(n);
  if (n === 0) return out;
  const w = gen.bits(n);
  for (let i = 0; i < n; i++) out[i] = Math.min(numNodes - 1, Math.floor(w[i] * WORD * numNodes));
  return out;
}

/**
 * DeepWalk (Perozzi et al., KDD 2014): uniform random walks (node2vec with p = q = 1) and
 * skip-gram with the hierarchical softmax over a Huffman tree of node degrees by default
 * (objective 'negative-sampling' is the alternative).
 */
export class DeepWalk extends Node2Vec {
  /** As Node2Vec's options; p and q must be 1 or left out. */
  constructor(graph: WalkGraph, options: Node2VecOptions) {
    const o = options;
    if (o && ((o.p !== undefined && o.p !== 1) || (o.q !== undefined && o.q !== 1))) {
      throw new RangeError(`DeepWalk: walks are uniform (p = q = 1), received p = ${String(o.p)}, q = ${String(o.q)}; use Node2Vec for biased walks`);
    }
    super(graph, { ...options, objective: options?.objective ?? 'hierarchical-softmax', p: 1, q: 1 });
  }
}
