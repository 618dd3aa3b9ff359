import type * as T from '@tessera/tensor';
import { WORD, aliasBuildInto, aliasPick, generatorOf } from './alias.js';
import { WalkGraph } from './walk-graph.js';

/**
 * How node2vec's second-order step is drawn (both give the exact transition probabilities):
 * - 'rejection' (default; what PyG / torch-cluster do): propose a neighbour x of the current node
 *   by the first-order rule, accept it with probability α(prev, x) / max α. O(E) memory, one
 *   binary search per proposal; the expected number of proposals is at most max α / min α
 *   (1 when p = q = 1), so extreme p, q make it slow.
 * - 'alias': an alias table per directed edge (prev → cur) over cur's neighbours, built once:
 *   O(1) per step but Σ_v indeg(v)·outdeg(v) entries (12 bytes each), which explodes on dense or
 *   hub-heavy graphs; capped by `maxAliasEntries`.
 */
export type WalkSampler = 'rejection' | 'alias';

export interface WalkOptions {
  /** Return parameter: unnormalised weight 1/p for stepping back to the previous node (default 1). */
  p?: number;
  /** In-out parameter: weight 1/q for moving to a node that is not a neighbour of the previous one (default 1). */
  q?: number;
  sampler?: WalkSampler;
  /** Cap on the per-edge alias entries of the 'alias' sampler (default 2^25). */
  maxAliasEntries?: number;
}

const DEFAULT_MAX_ALIAS = 2 ** 25;

/** Raw 32-bit words from a generator, fetched in chunks (the draw count of rejection is not known ahead). */
class WordStream {
  private buf: Uint32Array = new Uint32Array(0);
  private at = 0;
  constructor(private readonly gen: T.Generator, private readonly chunk: number) {}

  next(): number {
    if (this.at === this.buf.length) {
      this.buf = this.gen.bits(this.chunk);
      this.at = 0;
    }
    return this.buf[this.at++] * WORD;
  }
}

export function checkPositive(op: string, name: string, v: unknown): number {
  if (typeof v !== 'number' || !(v > 0) || !Number.isFinite(v)) throw new RangeError(`${op}: ${name} must be a finite number > 0, received ${String(v)}`);
  return v;
}

export function checkInt(op: string, name: string, v: unknown, min: number): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min) throw new RangeError(`${op}: ${name} must be an integer ≥ ${min}, received ${String(v)}`);
  return v;
}

/**
 * Uniform (DeepWalk, p = q = 1) and node2vec second-order random walks on a WalkGraph. From
 * node `cur`, having come from `prev`, the walk moves to neighbour x with probability ∝
 * w(cur, x)·α(prev, x), α = 1/p if x = prev, 1 if x is a neighbour of prev, 1/q otherwise. The
 * first step is first-order (∝ w). A node without out-edges keeps the walk where it is (the walk
 * "stays", as PyG's): every later entry repeats it.
 */
export class RandomWalker {
  readonly graph: WalkGraph;
  readonly p: number;
  readonly q: number;
  readonly sampler: WalkSampler;
  private readonly firstOrder: boolean;
  private readonly invP: number;
  private readonly invQ: number;
  private readonly maxAlpha: number;
  /** 'alias': the table of CSR edge e starts at edgeStart[e] and has degree(col[e]) entries. */
  private edgeStart: Float64Array | null = null;
  private edgeProb: Float64Array | null = null;
  private edgeAlias: Int32Array | null = null;

  constructor(graph: WalkGraph, options: WalkOptions = {}) {
    const op = 'RandomWalker';
    if (!(graph instanceof WalkGraph)) throw new TypeError(`${op}: expected a WalkGraph (WalkGraph.fromEdgeIndex / fromArrays)`);
    this.graph = graph;
    this.p = checkPositive(op, 'p', options.p ?? 1);
    this.q = checkPositive(op, 'q', options.q ?? 1);
    const sampler = options.sampler ?? 'rejection';
    if (sampler !== 'rejection' && sampler !== 'alias') throw new RangeError(`${op}: sampler must be 'rejection' or 'alias', received ${String(sampler)}`);
    this.sampler = sampler;
    this.invP = 1 / this.p;
    this.invQ = 1 / this.q;
    this.maxAlpha = Math.max(this.invP, 1, this.invQ);
    this.firstOrder = this.p === 1 && this.q === 1;
    if (sampler === 'alias' && !this.firstOrder) this.buildEdgeTables(checkInt(op, 'maxAliasEntries', options.maxAliasEntries ?? DEFAULT_MAX_ALIAS, 1));
  }

  private buildEdgeTables(maxEntries: number): void {
    const { rowptr, col, weight, numNodes: N } = this.graph;
    const E = col.length;
    const start = new Float64Array(E + 1);
    let maxDeg = 0;
    for (let e = 0; e < E; e++) {
      const d = rowptr[col[e] + 1] - rowptr[col[e]];
      start[e + 1] = start[e] + d;
      maxDeg = Math.max(maxDeg, d);
    }
    const total = start[E];
    if (total > maxEntries) {
      throw new RangeError(`RandomWalker: the 'alias' sampler needs ${total} per-edge alias entries (Σ indeg·outdeg), above maxAliasEntries = ${maxEntries}; use sampler: 'rejection' (O(E) memory) or raise maxAliasEntries`);
    }
    const prob = new Float64Array(total);
    const alias = new Int32Array(total);
    const small = new Int32Array(maxDeg);
    const large = new Int32Array(maxDeg);
    const mark = new Int32Array(N).fill(-1);
    for (let t = 0; t < N; t++) {
      for (let k = rowptr[t]; k < rowptr[t + 1]; k++) mark[col[k]] = t;
      for (let e = rowptr[t]; e < rowptr[t + 1]; e++) {
        const v = col[e];
        const a = rowptr[v];
        const d = rowptr[v + 1] - a;
        if (d === 0) continue;
        const s = start[e];
        for (let j = 0; j < d; j++) {
          const x = col[a + j];
          const alpha = x === t ? this.invP : mark[x] === t ? 1 : this.invQ;
          prob[s + j] = (weight ? weight[a + j] : 1) * alpha;
        }
        // weights are read before being overwritten, position by position
        aliasBuildInto(prob, s, s + d, prob, alias, small, large);
      }
    }
    this.edgeStart = start;
    this.edgeProb = prob;
    this.edgeAlias = alias;
  }

  /** A first-order draw from node v's out-edges: the CSR position of the edge taken. */
  private firstStep(v: number, s: WordStream): number {
    const g = this.graph;
    const a = g.rowptr[v];
    const d = g.rowptr[v + 1] - a;
    if (g.firstProb) return a + aliasPick(g.firstProb, g.firstAlias!, a, d, s.next(), s.next());
    return a + Math.min(d - 1, Math.floor(s.next() * d));
  }

  /** The CSR position of the edge taken from `cur`, having arrived over edge `inEdge` from `prev`. */
  private secondStep(prev: number, cur: number, inEdge: number, s: WordStream): number {
    const g = this.graph;
    if (this.sampler === 'alias') {
      const a = g.rowptr[cur];
      return a + aliasPick(this.edgeProb!, this.edgeAlias!, this.edgeStart![inEdge], g.rowptr[cur + 1] - a, s.next(), s.next());
    }
    for (;;) {
      const e = this.firstStep(cur, s);
      const x = g.col[e];
      const alpha = x === prev ? this.invP : g.hasEdge(prev, x) ? 1 : this.invQ;
      if (s.next() * this.maxAlpha < alpha) return e;
    }
  }

  /**
   * One walk of `walkLength` steps from each start node: int32 row-major [B, walkLength + 1]
   * (the start first). Deterministic for a given generator state.
   */
  walk(start: ArrayLike<number>, walkLength: number, options: { generator?: T.Generator } = {}): Int32Array {
    const op = 'RandomWalker.walk';
    checkInt(op, 'walkLength', walkLength, 0);
    const gen = generatorOf(op, options.generator);
    const g = this.graph;
    const N = g.numNodes;
    const B = start.length;
    const L1 = walkLength + 1;
    const out = new Int32Array(B * L1);
    const s = new WordStream(gen, Math.max(64, Math.min(1 << 16, 2 * B * walkLength)));
    for (let b = 0; b < B; b++) {
      const v0 = start[b];
      if (!Number.isInteger(v0) || v0 < 0 || v0 >= N) throw new RangeError(`${op}: start node ${v0} (index ${b}) is outside [0, ${N})`);
      const o = b * L1;
      out[o] = v0;
      let prev = -1;
      let cur = v0;
      let inEdge = -1;
      for (let i = 1; i < L1; i++) {
        if (g.rowptr[cur + 1] === g.rowptr[cur]) {
          // no out-edges: the walk stays here from now on
          out.fill(cur, o + i, o + L1);
          break;
        }
        const e = prev < 0 || this.firstOrder ? this.firstStep(cur, s) : this.secondStep(prev, cur, inEdge, s);
        prev = cur;
        cur = g.col[e];
        inEdge = e;
        out[o + i] = cur;
      }
    }
    return out;
  }
}

/** One walk per start node (see RandomWalker): int32 row-major [B, walkLength + 1]. */
export function randomWalk(graph: WalkGraph, start: ArrayLike<number>, walkLength: number, options: WalkOptions & { generator?: T.Generator } = {}): Int32Array {
  return new RandomWalker(graph, options).walk(start, walkLength, { generator: options.generator });
}

/** A random permutation of `items` (Fisher–Yates with the generator's words). */
export function shuffled(items: ArrayLike<number>, gen: T.Generator): Int32Array {
  const out = Int32Array.from(items);
  const n = out.length;
  if (n < 2) return out;
  const w = gen.bits(n - 1);
  for (let i = n - 1; i > 0; i--) {
    const j = Math.min(i, Math.floor(w[n - 1 - i] * WORD * (i + 1)));
    const t = out[i];
    out[i] = out[j];
    out[j] = t;
  }
  return out;
}

export interface WalkBatchOptions {
  walkLength: number;
  /** Rounds r: each round walks once from every node (default 1). */
  walksPerNode?: number;
  /** Walks (start nodes) per batch (default 128). */
  batchSize?: number;
  /** A fresh random node order per round (default true); false walks the nodes in order. */
  shuffle?: boolean;
  /** The start nodes of each round (default all nodes). */
  nodes?: ArrayLike<number>;
  generator?: T.Generator;
}

export interface WalkBatch {
  /** 0-based round. */
  round: number;
  /** The start nodes, [B]. */
  start: Int32Array;
  /** Row-major [B, walkLength + 1]. */
  walks: Int32Array;
}

/**
 * Streams the walks of DeepWalk's / node2vec's outer loop: for each of r rounds, the nodes in a
 * shuffled order, cut into batches, one walk per node — only one batch is in memory at a time.
 */
export function* walkBatches(walker: RandomWalker, options: WalkBatchOptions): Generator<WalkBatch, void, undefined> {
  const op = 'walkBatches';
  if (!(walker instanceof RandomWalker)) throw new TypeError(`${op}: expected a RandomWalker`);
  const walkLength = checkInt(op, 'walkLength', options.walkLength, 0);
  const rounds = checkInt(op, 'walksPerNode', options.walksPerNode ?? 1, 1);
  const batchSize = checkInt(op, 'batchSize', options.batchSize ?? 128, 1);
  const gen = generatorOf(op, options.generator);
  const N = walker.graph.numNodes;
  const nodes = options.nodes ?? Int32Array.from({ length: N }, (_, i) => i);
  for (let i = 0; i < nodes.length; i++) {
    if (!Number.isInteger(nodes[i]) || nodes[i] < 0 || nodes[i] >= N) throw new RangeError(`${op}: nodes[${i}] = ${nodes[i]} is outside [0, ${N})`);
  }
  for (let round = 0; round < rounds; round++) {
    const order = options.shuffle === false ? Int32Array.from(nodes) : shuffled(nodes, gen);
    for (let b = 0; b < order.length; b += batchSize) {
      const start = order.slice(b, b + batchSize);
      yield { round, start, walks: walker.walk(start, walkLength, { generator: gen }) };
    }
  }
}

/**
 * The context windows of walks (PyG's layout): for j = 0 .. L + 1 − contextSize, the rows
 * walks[:, j : j + contextSize], block j after block j − 1. Int32 row-major
 * [(L + 2 − contextSize)·B, contextSize].
 */
export function walkWindows(walks: Int32Array, numWalks: number, contextSize: number): Int32Array {
  const op = 'walkWindows';
  checkInt(op, 'contextSize', contextSize, 1);
  if (numWalks === 0) return new Int32Array(0);
  const L1 = walks.length / numWalks;
  if (!Number.isInteger(L1)) throw new RangeError(`${op}: ${walks.length} entries do not split into ${numWalks} walks`);
  if (contextSize > L1) throw new RangeError(`${op}: contextSize ${contextSize} exceeds the walk's ${L1} nodes`);
  const nW = L1 + 1 - contextSize;
  const out = new Int32Array(nW * numWalks * contextSize);
  let o = 0;
  for (let j = 0; j < nW; j++) {
    for (let b = 0; b < numWalks; b++) {
      out.set(walks.subarray(b * L1 + j, b * L1 + j + contextSize), o);
      o += contextSize;
    }
  }
  return out;
}
