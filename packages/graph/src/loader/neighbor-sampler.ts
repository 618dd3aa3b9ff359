import * as T from '@tessera/tensor';
import type { CscAdjacency } from './csc.js';

export interface SampleNeighborsOptions {
  /** Neighbours drawn per node at each hop, hop 1 (the seeds' neighbours) first; -1 takes all. */
  numNeighbors: readonly number[];
  /** Draw with replacement (default false: min(degree, k) distinct neighbours). */
  replace?: boolean;
  /** Default: the global generator (`T.manualSeed`). */
  generator?: T.Generator;
}

/** A sampled neighbourhood in host arrays, as pyg-lib's `neighbor_sample` returns it. */
export interface SampledNeighborhood {
  /** Global ids of the sampled nodes: the seeds first, then each hop's new nodes in order of discovery. */
  node: Int32Array;
  /** Local id of each sampled edge's source (the neighbour). */
  row: Int32Array;
  /** Local id of each sampled edge's target. */
  col: Int32Array;
  /** Position of each sampled edge in the original edge index. */
  edge: Int32Array;
  /** New nodes per hop, the seeds first: [numSeeds, hop 1, hop 2, ...]. */
  numSampledNodes: number[];
  /** Sampled edges per hop: [hop 1, hop 2, ...]. */
  numSampledEdges: number[];
}

/** Throws unless `numNeighbors` is a non-empty list of integers ≥ -1. */
export function checkNumNeighbors(op: string, numNeighbors: unknown): readonly number[] {
  if (!Array.isArray(numNeighbors) || numNeighbors.length === 0) {
    throw new RangeError(`${op}: numNeighbors must be a non-empty array with one fan-out per hop (-1 for all neighbours), received ${Array.isArray(numNeighbors) ? '[]' : String(numNeighbors)}`);
  }
  for (const k of numNeighbors) {
    if (!Number.isInteger(k) || k < -1) throw new RangeError(`${op}: numNeighbors must hold integers ≥ -1 (-1 = all neighbours), received [${numNeighbors.join(', ')}]`);
  }
  return numNeighbors as readonly number[];
}

export function checkGenerator(op: string, generator: unknown): T.Generator {
  const gen = generator ?? T.defaultGenerator;
  if (!(gen instanceof T.Generator)) throw new TypeError(`${op}: generator must be a T.Generator, received ${typeof gen}`);
  return gen;
}

// A reusable global → local id map per adjacency (all -1 between calls), so a batch costs
// O(sampled) and not O(numNodes).
const scratchMaps = new WeakMap<CscAdjacency, Int32Array>();

function localIds(csc: CscAdjacency): Int32Array {
  let m = scratchMaps.get(csc);
  if (!m) {
    m = new Int32Array(csc.numNodes).fill(-1);
    scratchMaps.set(csc, m);
  }
  return m;
}

/**
 * Uniform neighbour sampling, hop by hop (GraphSAGE; PyG's NeighborLoader sampler): at hop h,
 * every node added at hop h − 1 (the seeds at hop 1) draws `numNeighbors[h − 1]` of its
 * in-neighbours — min(k, degree) distinct ones without replacement (a partial Fisher–Yates
 * shuffle), k independent uniform ones with replacement, all of them for k = -1. Nodes are
 * deduplicated: a neighbour already sampled keeps its local id, and only new nodes expand at the
 * next hop. Each draw adds the edge neighbour → node.
 *
 * Host-side and synchronous; deterministic for a given generator state (the draws of a hop are
 * taken in one call to the generator).
 */
export function sampleNeighbors(csc: CscAdjacency, seeds: ArrayLike<number>, options: SampleNeighborsOptions): SampledNeighborhood {
  const op = 'sampleNeighbors';
  const fanouts = checkNumNeighbors(op, options?.numNeighbors);
  const replace = options.replace ?? false;
  const gen = checkGenerator(op, options.generator);
  const N = csc.numNodes;
  const local = localIds(csc);
  const node: number[] = [];
  try {
    for (let i = 0; i < seeds.length; i++) {
      const s = seeds[i];
      if (!Number.isInteger(s) || s < 0 || s >= N) throw new RangeError(`${op}: seed ${String(s)} is outside [0, ${N}) for a graph of ${N} nodes`);
      if (local[s] >= 0) throw new RangeError(`${op}: seed ${s} appears more than once`);
      local[s] = node.length;
      node.push(s);
    }
    const row: number[] = [];
    const col: number[] = [];
    const edge: number[] = [];
    const numSampledNodes = [node.length];
    const numSampledEdges: number[] = [];
    const { colPtr, row: nbr, edgeId } = csc;
    const swaps = new Map<number, number>();
    let begin = 0;
    for (const k of fanouts) {
      const end = node.length;
      const edgesBefore = row.length;
      // one generator call per hop: count the uniforms this hop needs
      let draws = 0;
      for (let t = begin; t < end; t++) {
        const d = colPtr[node[t] + 1] - colPtr[node[t]];
        if (k >= 0 && d > 0 && (replace || k < d)) draws += k;
      }
      const u = draws > 0 ? gen.uniform(draws, true) : new Float64Array(0);
      let next = 0;
      const take = (target: number, at: number) => {
        const src = nbr[at];
        let id = local[src];
        if (id < 0) {
          id = node.length;
          local[src] = id;
          node.push(src);
        }
        row.push(id);
        col.push(local[target]);
        edge.push(edgeId[at]);
      };
      for (let t = begin; t < end; t++) {
        const v = node[t];
        const start = colPtr[v];
        const d = colPtr[v + 1] - start;
        if (d === 0 || k === 0) continue;
        if (k < 0 || (!replace && k >= d)) {
          for (let j = 0; j < d; j++) take(v, start + j);
        } else if (replace) {
          for (let j = 0; j < k; j++) take(v, start + Math.floor(u[next++] * d));
        } else {
          // partial Fisher–Yates over positions 0..d-1, with the swapped entries kept in a map: O(k)
          swaps.clear();
          for (let j = 0; j < k; j++) {
            const r = j + Math.floor(u[next++] * (d - j));
            const picked = swaps.get(r) ?? r;
            swaps.set(r, swaps.get(j) ?? j);
            take(v, start + picked);
          }
        }
      }
      numSampledNodes.push(node.length - end);
      numSampledEdges.push(row.length - edgesBefore);
      begin = end;
    }
    return { node: Int32Array.from(node), row: Int32Array.from(row), col: Int32Array.from(col), edge: Int32Array.from(edge), numSampledNodes, numSampledEdges };
  } finally {
    for (const v of node) local[v] = -1;
  }
}
