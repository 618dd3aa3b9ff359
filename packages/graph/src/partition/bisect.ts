import type * as T from '@tessera/tensor';
import { inducedCsr, type CsrGraph } from './csr.js';
import { IndexedMaxHeap } from './heap.js';
import { randomPermutation } from './random.js';

/** Fiduccia–Mattheyses passes per bisection (each stops early when it finds nothing better). */
const FM_PASSES = 10;

/**
 * Initial partition of the coarsest graph into k parts by recursive bisection: split the node
 * weight in the ratio ⌊k/2⌋ : ⌈k/2⌉, then split each side again. Each bisection grows one side
 * from a random seed (greedy graph growing), refines it with Fiduccia–Mattheyses, and keeps the
 * best of a few tries.
 */
export function recursiveBisection(g: CsrGraph, k: number, imbalance: number, gen: T.Generator): Int32Array {
  const part = new Int32Array(g.n);
  const ids = new Int32Array(g.n);
  for (let i = 0; i < g.n; i++) ids[i] = i;
  // each bisection gets an equal share of the allowed imbalance (the shares multiply along a path)
  const levels = Math.max(1, Math.ceil(Math.log2(k)));
  const tolerance = Math.pow(imbalance, 1 / levels);
  const recurse = (sub: CsrGraph, subIds: Int32Array, parts: number, offset: number): void => {
    if (parts === 1 || sub.n <= 1) {
      for (let i = 0; i < sub.n; i++) part[subIds[i]] = offset;
      return;
    }
    const left = parts >> 1;
    const side = bisect(sub, left / parts, tolerance, gen);
    const sides: Int32Array[] = [new Int32Array(sub.n), new Int32Array(sub.n)];
    const count = [0, 0];
    for (let i = 0; i < sub.n; i++) sides[side[i]][count[side[i]]++] = i;
    const scratch = new Int32Array(sub.n).fill(-1);
    for (const s of [0, 1]) {
      const nodes = sides[s].subarray(0, count[s]);
      const child = inducedCsr(sub, nodes, scratch);
      const childIds = new Int32Array(nodes.length);
      for (let i = 0; i < nodes.length; i++) childIds[i] = subIds[nodes[i]];
      recurse(child, childIds, s === 0 ? left : parts - left, s === 0 ? offset : offset + left);
    }
  };
  recurse(g, ids, k, 0);
  return part;
}

/** Side 0 gets about `fraction` of the node weight; returns side (0/1) per node. */
export function bisect(g: CsrGraph, fraction: number, tolerance: number, gen: T.Generator): Uint8Array {
  let total = 0;
  for (let u = 0; u < g.n; u++) total += g.vwgt[u];
  const target: [number, number] = [fraction * total, (1 - fraction) * total];
  const maxW: [number, number] = [tolerance * target[0], tolerance * target[1]];
  const heap = new IndexedMaxHeap(g.n);
  const tries = g.n <= 1000 ? 8 : g.n <= 20000 ? 4 : 2;
  let best: Uint8Array | undefined;
  let bestScore: [number, number] = [Infinity, Infinity];
  for (let t = 0; t < tries; t++) {
    const side = growBisection(g, target[0], heap, gen);
    const cut = fmRefine(g, side, target, maxW, heap);
    const score: [number, number] = [overweight(g, side, maxW), cut];
    if (score[0] < bestScore[0] - 1e-9 || (Math.abs(score[0] - bestScore[0]) <= 1e-9 && score[1] < bestScore[1])) {
      best = side;
      bestScore = score;
    }
  }
  return best!;
}

/** How far the heavier side (relative to its limit) exceeds its limit; 0 when balanced. */
function overweight(g: CsrGraph, side: Uint8Array, maxW: [number, number]): number {
  const w = [0, 0];
  for (let u = 0; u < g.n; u++) w[side[u]] += g.vwgt[u];
  return Math.max(0, w[0] - maxW[0], w[1] - maxW[1]);
}

/**
 * Greedy graph growing: start side 0 from a random node and keep adding the node whose move cuts
 * the least (largest gain) until side 0 holds its target weight; a new random seed is taken when
 * the grown region has no more neighbours (disconnected graphs).
 */
function growBisection(g: CsrGraph, target0: number, heap: IndexedMaxHeap, gen: T.Generator): Uint8Array {
  const { n, xadj, adjncy, adjwgt, vwgt } = g;
  const side = new Uint8Array(n).fill(1);
  const toZero = new Float64Array(n);
  const degW = new Float64Array(n);
  for (let u = 0; u < n; u++) for (let j = xadj[u]; j < xadj[u + 1]; j++) degW[u] += adjwgt[j];
  const seeds = randomPermutation(n, gen);
  let nextSeed = 0;
  let w0 = 0;
  heap.clear();
  while (w0 < target0) {
    let u = heap.pop();
    if (u < 0) {
      while (nextSeed < n && side[seeds[nextSeed]] === 0) nextSeed++;
      if (nextSeed === n) break;
      u = seeds[nextSeed];
    }
    // do not overshoot by more than half a node: the refinement would have to undo it
    if (w0 > 0 && w0 + vwgt[u] - target0 > target0 - w0) break;
    side[u] = 0;
    w0 += vwgt[u];
    for (let j = xadj[u]; j < xadj[u + 1]; j++) {
      const v = adjncy[j];
      if (side[v] === 0) continue;
      toZero[v] += adjwgt[j];
      heap.set(v, 2 * toZero[v] - degW[v]);
    }
  }
  heap.clear();
  return side;
}

/**
 * Two-way Fiduccia–Mattheyses refinement: each pass moves every node at most once, always the
 * best-gain node of the side that is heavier relative to its target (so balance is restored
 * first), allowing moves that worsen the cut, then rolls back to the best state seen (balanced
 * before smaller cut). Returns the final cut.
 */
function fmRefine(g: CsrGraph, side: Uint8Array, target: [number, number], maxW: [number, number], heap: IndexedMaxHeap): number {
  const { n, xadj, adjncy, adjwgt, vwgt } = g;
  const gain = new Float64Array(n);
  const locked = new Uint8Array(n);
  const moves = new Int32Array(n);
  const heaps = [heap, new IndexedMaxHeap(n)];
  const limit = Math.min(Math.max(Math.floor(0.01 * n), 15), 100);
  let cut = 0;
  for (let pass = 0; pass < FM_PASSES; pass++) {
    const w = [0, 0];
    cut = 0;
    heaps[0].clear();
    heaps[1].clear();
    for (let u = 0; u < n; u++) {
      w[side[u]] += vwgt[u];
      let ext = 0;
      let int = 0;
      for (let j = xadj[u]; j < xadj[u + 1]; j++) {
        if (side[adjncy[j]] === side[u]) int += adjwgt[j];
        else ext += adjwgt[j];
      }
      gain[u] = ext - int;
      cut += ext;
      locked[u] = 0;
      heaps[side[u]].set(u, gain[u]);
    }
    cut /= 2;
    const excess = () => Math.max(0, w[0] - maxW[0], w[1] - maxW[1]);
    let bestExcess = excess();
    let bestCut = cut;
    let bestIdx = 0;
    let nmoves = 0;
    let since = 0;
    while (since < limit) {
      let from = w[0] - target[0] > w[1] - target[1] ? 0 : 1;
      if (heaps[from].size === 0) from = 1 - from;
      const u = heaps[from].pop();
      if (u < 0) break;
      const to = 1 - from;
      side[u] = to;
      locked[u] = 1;
      w[from] -= vwgt[u];
      w[to] += vwgt[u];
      cut -= gain[u];
      gain[u] = -gain[u];
      moves[nmoves++] = u;
      for (let j = xadj[u]; j < xadj[u + 1]; j++) {
        const v = adjncy[j];
        gain[v] += side[v] === to ? -2 * adjwgt[j] : 2 * adjwgt[j];
        if (!locked[v]) heaps[side[v]].set(v, gain[v]);
      }
      const ex = excess();
      if (ex < bestExcess - 1e-9 || (ex <= bestExcess + 1e-9 && cut < bestCut - 1e-9)) {
        bestExcess = ex;
        bestCut = cut;
        bestIdx = nmoves;
        since = 0;
      } else {
        since++;
      }
    }
    for (let i = nmoves - 1; i >= bestIdx; i--) side[moves[i]] = 1 - side[moves[i]];
    cut = bestCut;
    if (bestIdx === 0) break;
  }
  heaps[0].clear();
  return cut;
}
