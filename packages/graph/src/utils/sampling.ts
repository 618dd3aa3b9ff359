import * as T from '@tessera/tensor';
import { boolTensor, checkNumNodes, edgeTensor, readEdges } from './edges.js';

export interface NegativeSamplingOptions {
  numNodes?: number;
  /** How many non-edges to draw; default the number of edges. Fewer come back if fewer exist. */
  numNegSamples?: number;
  /** Draw unordered pairs and return each in both directions (2·⌊numNegSamples/2⌋ edges). */
  forceUndirected?: boolean;
  /** Default: the global generator (`T.manualSeed`). */
  generator?: T.Generator;
}

// Above this many candidate pairs, non-edges are found by rejection instead of being listed.
const ENUMERATE_LIMIT = 1 << 24;
const MAX_ROUNDS = 64;

/**
 * Draws node pairs (i, j), i ≠ j, that are not edges, uniformly and without repetition (PyG's
 * `negative_sampling`): int32 [2, K]. Deterministic for a given generator state. Async: the edge
 * index is read back.
 */
export async function negativeSampling(edgeIndex: T.Tensor, options: NegativeSamplingOptions = {}): Promise<T.Tensor> {
  const op = 'negativeSampling';
  const { row, col, numNodes: N } = await readEdges(op, edgeIndex, checkNumNodes(op, options.numNodes));
  const E = row.length;
  const undirected = options.forceUndirected ?? false;
  const requested = options.numNegSamples ?? E;
  if (!Number.isInteger(requested) || requested < 0) throw new RangeError(`${op}: numNegSamples must be a non-negative integer, received ${requested}`);
  const gen = options.generator ?? T.defaultGenerator;
  if (!(gen instanceof T.Generator)) throw new TypeError(`${op}: generator must be a T.Generator`);
  // pairs are keyed i * N + j; unordered pairs by (min, max)
  const key = undirected ? (i: number, j: number) => (i < j ? i * N + j : j * N + i) : (i: number, j: number) => i * N + j;
  const existing = new Set<number>();
  for (let e = 0; e < E; e++) if (row[e] !== col[e]) existing.add(key(row[e], col[e]));
  const population = undirected ? (N * (N - 1)) / 2 : N * (N - 1);
  const available = population - existing.size;
  const k = Math.min(undirected ? Math.floor(requested / 2) : requested, available);
  const picked = k === 0 ? [] : population <= ENUMERATE_LIMIT && k > available / 4
    ? pickFromList(nonEdges(N, existing, undirected), k, gen)
    : pickByRejection(op, N, existing, key, k, gen);
  const rows = picked.map((p) => Math.floor(p / N));
  const cols = picked.map((p, i) => p - rows[i] * N);
  return undirected ? edgeTensor([...rows, ...cols], [...cols, ...rows], edgeIndex.device) : edgeTensor(rows, cols, edgeIndex.device);
}

function nonEdges(N: number, existing: Set<number>, undirected: boolean): number[] {
  const out: number[] = [];
  for (let i = 0; i < N; i++) {
    for (let j = undirected ? i + 1 : 0; j < N; j++) {
      const k = i * N + j;
      if (i !== j && !existing.has(k)) out.push(k);
    }
  }
  return out;
}

/** k entries of `list` drawn without replacement (a partial Fisher–Yates shuffle). */
function pickFromList(list: number[], k: number, gen: T.Generator): number[] {
  const u = gen.uniform(k, true);
  for (let i = 0; i < k; i++) {
    const j = i + Math.floor(u[i] * (list.length - i));
    const t = list[i];
    list[i] = list[j];
    list[j] = t;
  }
  return list.slice(0, k);
}

/** Uniform ordered pairs i ≠ j (canonicalised by `key`), rejecting edges and repeats. */
function pickByRejection(op: string, N: number, existing: Set<number>, key: (i: number, j: number) => number, k: number, gen: T.Generator): number[] {
  const chosen = new Set<number>();
  const out: number[] = [];
  for (let round = 0; out.length < k; round++) {
    if (round === MAX_ROUNDS) throw new Error(`${op}: found only ${out.length} of ${k} non-edges after ${MAX_ROUNDS} rounds of rejection sampling; the graph is too dense to sample by rejection`);
    const u = gen.uniform(Math.ceil((k - out.length) * 1.5) + 8, true);
    for (let t = 0; t < u.length && out.length < k; t++) {
      const idx = Math.floor(u[t] * N * (N - 1));
      const i = Math.floor(idx / (N - 1));
      const j0 = idx - i * (N - 1);
      const p = key(i, j0 >= i ? j0 + 1 : j0);
      if (existing.has(p) || chosen.has(p)) continue;
      chosen.add(p);
      out.push(p);
    }
  }
  return out;
}

export interface DropoutEdgeOptions {
  /** Probability of dropping each edge (default 0.5), in [0, 1). */
  p?: number;
  /** Drop (i, j) and (j, i) together: one draw per unordered pair. */
  forceUndirected?: boolean;
  /** When false, nothing is dropped (evaluation mode). Default true. */
  training?: boolean;
  generator?: T.Generator;
}

/**
 * Drops each edge with probability `p` (PyG's `dropout_edge`): the kept edges, in input order,
 * and the bool mask of kept input edges. Async: the edge index is read back.
 */
export async function dropoutEdge(edgeIndex: T.Tensor, options: DropoutEdgeOptions = {}): Promise<{ edgeIndex: T.Tensor; edgeMask: T.Tensor }> {
  const op = 'dropoutEdge';
  const p = options.p ?? 0.5;
  if (!(p >= 0 && p < 1)) throw new RangeError(`${op}: p must be in [0, 1), received ${p}`);
  const { row, col, numNodes } = await readEdges(op, edgeIndex);
  const E = row.length;
  const mask = new Uint8Array(E).fill(1);
  if (options.training ?? true) {
    const gen = options.generator ?? T.defaultGenerator;
    if (!(gen instanceof T.Generator)) throw new TypeError(`${op}: generator must be a T.Generator`);
    const u = gen.uniform(E);
    const pairDraw = new Map<number, number>();
    for (let e = 0; e < E; e++) {
      let draw = u[e];
      if (options.forceUndirected) {
        const k = Math.min(row[e], col[e]) * numNodes + Math.max(row[e], col[e]);
        const first = pairDraw.get(k);
        if (first === undefined) pairDraw.set(k, draw);
        else draw = first;
      }
      mask[e] = draw >= p ? 1 : 0;
    }
  }
  const r: number[] = [];
  const c: number[] = [];
  for (let e = 0; e < E; e++) {
    if (mask[e]) {
      r.push(row[e]);
      c.push(col[e]);
    }
  }
  return { edgeIndex: edgeTensor(r, c, edgeIndex.device), edgeMask: boolTensor(mask, edgeIndex.device) };
}
