import * as T from '@tessera/tensor';
import type { Graph } from '../data/graph.js';
import { edgeTensor, readEdges, withIndex } from '../utils/edges.js';
import { negativeSampling } from '../utils/sampling.js';
import { checkGraph, type GraphTransform } from './compose.js';

/** A random permutation of 0..n-1 drawn from `generator` (host side). */
function permutation(n: number, generator?: T.Generator): number[] {
  const p = T.randperm(n, { generator, device: 'cpu' });
  try {
    return Array.from(p.dataSync());
  } finally {
    p.dispose();
  }
}

/** A count given as an integer, or as a fraction in [0, 1) of `total` (rounded as PyG does). */
function resolveCount(op: string, name: string, v: number, total: number, round: (x: number) => number): number {
  if (!(v >= 0) || (!Number.isInteger(v) && v >= 1)) throw new RangeError(`${op}: ${name} must be a non-negative integer or a fraction in [0, 1), received ${v}`);
  return Number.isInteger(v) ? v : round(v * total);
}

function checkGenerator(op: string, g: unknown): T.Generator | undefined {
  if (g !== undefined && !(g instanceof T.Generator)) throw new TypeError(`${op}: generator must be a T.Generator`);
  return g as T.Generator | undefined;
}

export interface RandomNodeSplitOptions {
  /**
   * 'train_rest' (default): `numVal` and `numTest` random nodes, every other node trains.
   * 'test_rest': `numTrainPerClass` per class, `numVal` of the rest, every other node tests.
   * 'random': `numTrainPerClass` per class, then `numVal` and `numTest` of the rest.
   */
  split?: 'train_rest' | 'test_rest' | 'random';
  /** Number of independent splits; with more than 1 the masks are [N, numSplits]. */
  numSplits?: number;
  numTrainPerClass?: number;
  /** A count, or a fraction of the nodes. Default 500. */
  numVal?: number;
  /** A count, or a fraction of the nodes. Default 1000. */
  numTest?: number;
  generator?: T.Generator;
}

/**
 * Random train/val/test node masks (PyG's `RandomNodeSplit`), drawn from `generator` (default the
 * global one: `T.manualSeed` makes it reproducible). The per-class modes read the labels `y`.
 */
export class RandomNodeSplit implements GraphTransform {
  readonly split: 'train_rest' | 'test_rest' | 'random';
  readonly numSplits: number;
  readonly numTrainPerClass: number;
  readonly numVal: number;
  readonly numTest: number;
  readonly generator: T.Generator | undefined;

  constructor(options: RandomNodeSplitOptions = {}) {
    const op = 'RandomNodeSplit';
    this.split = options.split ?? 'train_rest';
    if (!['train_rest', 'test_rest', 'random'].includes(this.split)) throw new RangeError(`${op}: split must be 'train_rest', 'test_rest' or 'random', received '${String(this.split)}'`);
    this.numSplits = options.numSplits ?? 1;
    this.numTrainPerClass = options.numTrainPerClass ?? 20;
    for (const [k, v] of [['numSplits', this.numSplits], ['numTrainPerClass', this.numTrainPerClass]] as const) {
      if (!Number.isInteger(v) || v < (k === 'numSplits' ? 1 : 0)) throw new RangeError(`${op}: ${k} must be a ${k === 'numSplits' ? 'positive' : 'non-negative'} integer, received ${v}`);
    }
    this.numVal = options.numVal ?? 500;
    this.numTest = options.numTest ?? 1000;
    resolveCount(op, 'numVal', this.numVal, 1, Math.round);
    resolveCount(op, 'numTest', this.numTest, 1, Math.round);
    this.generator = checkGenerator(op, options.generator);
  }

  async forward(graph: Graph): Promise<Graph> {
    const op = 'RandomNodeSplit';
    checkGraph(op, graph);
    const N = graph.numNodes;
    const numVal = resolveCount(op, 'numVal', this.numVal, N, Math.round);
    const numTest = resolveCount(op, 'numTest', this.numTest, N, Math.round);
    let labels: ArrayLike<number> | undefined;
    if (this.split !== 'train_rest') {
      const y = graph.y;
      if (!y || y.rank !== 1 || y.shape[0] !== N || (y.dtype !== 'int32' && y.dtype !== 'uint32')) {
        throw new TypeError(`${op}: split '${this.split}' needs integer node labels y of shape [${N}], received ${y ? `${y.dtype} [${y.shape.join(', ')}]` : 'none'}`);
      }
      labels = await y.data();
    }
    const S = this.numSplits;
    const masks = [new Uint8Array(N * S), new Uint8Array(N * S), new Uint8Array(N * S)];
    for (let s = 0; s < S; s++) {
      const [train, val, test] = this.#one(op, N, numVal, numTest, labels);
      for (let i = 0; i < N; i++) {
        masks[0][i * S + s] = train[i];
        masks[1][i * S + s] = val[i];
        masks[2][i * S + s] = test[i];
      }
    }
    const shape = S === 1 ? [N] : [N, S];
    const device = graph.device ?? T.getDefaultDevice();
    const [trainMask, valMask, testMask] = masks.map((m) => T.tensor(m, { dtype: 'bool', shape, device }));
    try {
      return graph.with({ trainMask, valMask, testMask });
    } catch (e) {
      T.dispose([trainMask, valMask, testMask]);
      throw e;
    }
  }

  #one(op: string, N: number, numVal: number, numTest: number, labels?: ArrayLike<number>): Uint8Array[] {
    const train = new Uint8Array(N);
    const val = new Uint8Array(N);
    const test = new Uint8Array(N);
    if (this.split === 'train_rest') {
      if (numVal + numTest > N) throw new RangeError(`${op}: numVal + numTest = ${numVal + numTest} exceeds the ${N} nodes`);
      const perm = permutation(N, this.generator);
      perm.forEach((v, k) => {
        if (k < numVal) val[v] = 1;
        else if (k < numVal + numTest) test[v] = 1;
        else train[v] = 1;
      });
      return [train, val, test];
    }
    // per class: the first numTrainPerClass nodes of the class in a random order
    let numClasses = 0;
    for (let i = 0; i < N; i++) numClasses = Math.max(numClasses, labels![i] + 1);
    const taken = new Array<number>(numClasses).fill(0);
    for (const v of permutation(N, this.generator)) {
      if (taken[labels![v]] < this.numTrainPerClass) {
        taken[labels![v]]++;
        train[v] = 1;
      }
    }
    const rest: number[] = [];
    for (let i = 0; i < N; i++) if (!train[i]) rest.push(i);
    const order = permutation(rest.length, this.generator).map((k) => rest[k]);
    const testEnd = this.split === 'test_rest' ? order.length : numVal + numTest;
    if (numVal > order.length || testEnd > order.length) throw new RangeError(`${op}: numVal + numTest = ${numVal + numTest} exceeds the ${order.length} nodes left after the training nodes`);
    order.forEach((v, k) => {
      if (k < numVal) val[v] = 1;
      else if (k < testEnd) test[v] = 1;
    });
    return [train, val, test];
  }

  toString(): string {
    return `RandomNodeSplit(split=${this.split})`;
  }
}

export interface RandomLinkSplitOptions {
  /** Validation edges: a count or a fraction of the edges (default 0.1). */
  numVal?: number;
  /** Test edges: a count or a fraction of the edges (default 0.2). */
  numTest?: number;
  /**
   * The graph holds each link in both directions: split the links (edges with row <= col) and
   * give the message-passing graphs both directions of their links. Default false.
   */
  isUndirected?: boolean;
  /** Add negative pairs to the training supervision too (default true; val/test always get them). */
  addNegativeTrainSamples?: boolean;
  /** Negative pairs per positive one (default 1). */
  negSamplingRatio?: number;
  /**
   * Fraction (or count) of the training links used only as supervision, not for message passing
   * (default 0: all training links are both).
   */
  disjointTrainRatio?: number;
  generator?: T.Generator;
}

/**
 * Splits the links of a graph into train / val / test graphs for link prediction (PyG's
 * `RandomLinkSplit`). Each returned graph keeps the node attributes and has
 * - `edgeIndex` (and `edgeAttr` / `edgeWeight`): the message-passing edges — the training links
 *   for train and val, training + validation links for test;
 * - `edgeLabelIndex` int32 [2, L]: its positive links, then sampled non-edges of the full graph;
 * - `edgeLabel` float32 [L]: 1 for the positives, 0 for the negatives.
 * Deterministic for a given generator state (default the global one, `T.manualSeed`).
 */
export class RandomLinkSplit {
  readonly options: Required<Omit<RandomLinkSplitOptions, 'generator'>> & { generator?: T.Generator };

  constructor(options: RandomLinkSplitOptions = {}) {
    const op = 'RandomLinkSplit';
    const o = {
      numVal: options.numVal ?? 0.1,
      numTest: options.numTest ?? 0.2,
      isUndirected: options.isUndirected ?? false,
      addNegativeTrainSamples: options.addNegativeTrainSamples ?? true,
      negSamplingRatio: options.negSamplingRatio ?? 1,
      disjointTrainRatio: options.disjointTrainRatio ?? 0,
      generator: checkGenerator(op, options.generator),
    };
    resolveCount(op, 'numVal', o.numVal, 1, Math.floor);
    resolveCount(op, 'numTest', o.numTest, 1, Math.floor);
    resolveCount(op, 'disjointTrainRatio', o.disjointTrainRatio, 1, Math.floor);
    if (!(o.negSamplingRatio >= 0)) throw new RangeError(`${op}: negSamplingRatio must be non-negative, received ${o.negSamplingRatio}`);
    this.options = o;
  }

  /** [train, val, test]: three new Graphs owned by the caller; the input is unchanged. */
  async forward(graph: Graph): Promise<[Graph, Graph, Graph]> {
    const op = 'RandomLinkSplit';
    checkGraph(op, graph);
    const ei = graph.edgeIndex;
    if (!ei) throw new Error(`${op}: the graph has no edgeIndex`);
    const o = this.options;
    const { row, col } = await readEdges(op, ei, graph.numNodes);
    const candidates: number[] = [];
    for (let e = 0; e < row.length; e++) if (!o.isUndirected || row[e] <= col[e]) candidates.push(e);
    const perm = permutation(candidates.length, o.generator).map((k) => candidates[k]);
    const L = perm.length;
    const numVal = resolveCount(op, 'numVal', o.numVal, L, Math.floor);
    const numTest = resolveCount(op, 'numTest', o.numTest, L, Math.floor);
    const numTrain = L - numVal - numTest;
    if (numTrain <= 0) throw new RangeError(`${op}: numVal (${numVal}) + numTest (${numTest}) leave no training links out of ${L}`);
    const numDisjoint = resolveCount(op, 'disjointTrainRatio', o.disjointTrainRatio, numTrain, Math.floor);
    if (numDisjoint >= numTrain) throw new RangeError(`${op}: disjointTrainRatio leaves no training links for message passing (${numDisjoint} of ${numTrain})`);
    const trainLinks = perm.slice(0, numTrain);
    const valLinks = perm.slice(numTrain, numTrain + numVal);
    const testLinks = perm.slice(numTrain + numVal);
    const trainSupervision = numDisjoint > 0 ? trainLinks.slice(0, numDisjoint) : trainLinks;
    const trainMessage = numDisjoint > 0 ? trainLinks.slice(numDisjoint) : trainLinks;

    const ratio = o.negSamplingRatio;
    const numNegVal = Math.floor(numVal * ratio);
    const numNegTest = Math.floor(numTest * ratio);
    const numNegTrain = o.addNegativeTrainSamples ? Math.floor(trainSupervision.length * ratio) : 0;
    const neg = await negativeSampling(ei, { numNodes: graph.numNodes, numNegSamples: numNegVal + numNegTest + numNegTrain, generator: o.generator });
    const negData = (await neg.data()) as Int32Array;
    const K = neg.shape[1];
    neg.dispose();
    // negatives are handed out val first, then test, then train (as PyG); fewer may exist than asked
    const negSlice = (from: number, to: number) => {
      const a = Math.min(from, K);
      const b = Math.min(to, K);
      return { row: negData.subarray(a, b), col: negData.subarray(K + a, K + b) };
    };
    const negVal = negSlice(0, numNegVal);
    const negTest = negSlice(numNegVal, numNegVal + numNegTest);
    const negTrain = negSlice(numNegVal + numNegTest, numNegVal + numNegTest + numNegTrain);

    const out: Graph[] = [];
    try {
      out.push(this.#make(graph, row, col, trainMessage, trainSupervision, negTrain));
      out.push(this.#make(graph, row, col, trainLinks, valLinks, negVal));
      out.push(this.#make(graph, row, col, [...trainLinks, ...valLinks], testLinks, negTest));
      return out as [Graph, Graph, Graph];
    } catch (e) {
      for (const g of out) g.dispose();
      throw e;
    }
  }

  /** One split: message-passing edges `message`, supervision `positive` links + `negative` pairs. */
  #make(graph: Graph, row: Int32Array, col: Int32Array, message: number[], positive: number[], negative: { row: Int32Array; col: Int32Array }): Graph {
    const device = graph.edgeIndex!.device;
    const undirected = this.options.isUndirected;
    // message passing: the chosen edges, and their reverses for an undirected graph
    const order = undirected ? [...message, ...message] : message;
    const mRow = order.map((e, k) => (k < message.length ? row[e] : col[e]));
    const mCol = order.map((e, k) => (k < message.length ? col[e] : row[e]));
    const P = positive.length;
    const lRow = [...positive.map((e) => row[e]), ...negative.row];
    const lCol = [...positive.map((e) => col[e]), ...negative.col];
    const label = new Float32Array(lRow.length);
    label.fill(1, 0, P);
    return T.tidy(() => {
      const pick = (t: T.Tensor | undefined) => (t ? withIndex(order, device, (idx) => T.indexSelect(t, 0, idx)) : undefined);
      return graph.with({
        edgeIndex: edgeTensor(mRow, mCol, device),
        edgeAttr: pick(graph.edgeAttr),
        edgeWeight: pick(graph.edgeWeight),
        edgeLabelIndex: edgeTensor(lRow, lCol, device),
        edgeLabel: T.tensor(label, { device }),
      });
    });
  }

  toString(): string {
    const o = this.options;
    return `RandomLinkSplit(numVal=${o.numVal}, numTest=${o.numTest}, isUndirected=${o.isUndirected})`;
  }
}
