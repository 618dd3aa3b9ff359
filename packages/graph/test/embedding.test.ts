import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import * as T from '@tessera/tensor';
import { backward, noGrad } from '@tessera/autodiff';
import { Adam } from '@tessera/optimize';
import { expectClose, forEachBackend, fromFixture, type FixtureTensor } from '../../tensor/test/helpers.js';
import {
  DeepWalk,
  HierarchicalSoftmax,
  Node2Vec,
  RandomWalker,
  WalkGraph,
  aliasDraw,
  aliasSetup,
  balancedTree,
  huffmanTree,
  randomWalk,
  walkBatches,
  walkWindows,
} from '../src/embedding/index.js';

// ------------------------------------------------------------------ helpers

/** Upper 0.999 quantile of χ²(df) (Wilson–Hilferty; within 1 % for df ≥ 2). */
function chi2Critical(df: number): number {
  const z = 3.0902;
  const a = 2 / (9 * df);
  return df * (1 - a + z * Math.sqrt(a)) ** 3;
}

/** Pearson's χ² of observed counts against expected probabilities. */
function chi2(counts: ArrayLike<number>, probs: ArrayLike<number>): number {
  let n = 0;
  for (let i = 0; i < counts.length; i++) n += counts[i];
  let s = 0;
  for (let i = 0; i < probs.length; i++) {
    const e = n * probs[i];
    s += (counts[i] - e) ** 2 / e;
  }
  return s;
}

/** Undirected edge list → both directions. */
function undirected(pairs: [number, number][]): [number[], number[]] {
  return [pairs.flatMap(([a, b]) => [a, b]), pairs.flatMap(([a, b]) => [b, a])];
}

/** Two planted communities of `half` nodes each (dense inside, sparse across), seeded. */
function plantedPartition(half: number, pIn: number, pOut: number, seed: number): { row: number[]; col: number[]; label: number[] } {
  const n = 2 * half;
  const u = new T.Generator(seed).uniform(n * n, true);
  const pairs: [number, number][] = [];
  for (let i = 0; i < n; i++) {
    for (let j = i + 1; j < n; j++) if (u[i * n + j] < ((i < half) === (j < half) ? pIn : pOut)) pairs.push([i, j]);
  }
  const [row, col] = undirected(pairs);
  return { row, col, label: Array.from({ length: n }, (_, i) => (i < half ? 0 : 1)) };
}

// ------------------------------------------------------------------ alias sampling (host side)

describe('alias sampling', () => {
  const probs = [0.4, 0.25, 0.15, 0.1, 0.05, 0.03, 0.015, 0.005];

  it('the table encodes exactly the input distribution (and normalises weights)', () => {
    const weights = probs.map((p) => p * 7); // unnormalised
    const { prob, alias } = aliasSetup(weights);
    const n = probs.length;
    const mass = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      expect(prob[i]).toBeGreaterThanOrEqual(0);
      expect(prob[i]).toBeLessThanOrEqual(1 + 1e-12);
      mass[i] += prob[i] / n;
      mass[alias[i]] += (1 - prob[i]) / n;
    }
    for (let i = 0; i < n; i++) expect(mass[i]).toBeCloseTo(probs[i], 12);
  });

  it('draws pass a χ² goodness-of-fit test for a skewed distribution (fixed seed)', () => {
    const table = aliasSetup(probs);
    const draws = aliasDraw(table, 200_000, { generator: new T.Generator(11) });
    const counts = new Float64Array(probs.length);
    for (const d of draws) counts[d]++;
    expect(chi2(counts, probs)).toBeLessThan(chi2Critical(probs.length - 1));
    // deterministic for a given generator state
    expect(aliasDraw(table, 50, { generator: new T.Generator(11) })).toEqual(draws.slice(0, 50));
  });

  it('handles zero-probability outcomes and a single outcome', () => {
    const t = aliasSetup([0, 3, 0, 1]);
    const d = aliasDraw(t, 20_000, { generator: new T.Generator(1) });
    const c = [0, 0, 0, 0];
    for (const v of d) c[v]++;
    expect(c[0]).toBe(0);
    expect(c[2]).toBe(0);
    expect(chi2([c[1], c[3]], [0.75, 0.25])).toBeLessThan(chi2Critical(1) * 1.05);
    expect(Array.from(aliasDraw(aliasSetup([2]), 5))).toEqual([0, 0, 0, 0, 0]);
  });

  it('rejects bad input with clear errors', () => {
    expect(() => aliasSetup([])).toThrow(/aliasSetup: expected at least one probability/);
    expect(() => aliasSetup([0.5, -0.1])).toThrow(/aliasSetup: probabilities must be finite and non-negative, received -0.1 at index 1/);
    expect(() => aliasSetup([0.5, NaN])).toThrow(/aliasSetup/);
    expect(() => aliasSetup([0, 0])).toThrow(/positive sum/);
    expect(() => aliasDraw(aliasSetup([1, 2]), -1)).toThrow(/aliasDraw: numSamples must be a non-negative integer/);
    expect(() => aliasDraw({ prob: new Float64Array(2), alias: new Int32Array(3) }, 1)).toThrow(/aliasDraw: expected a table/);
  });
});

// ------------------------------------------------------------------ walks (host side)

describe('random walks', () => {
  // t = 0 is the previous node, v = 1 the current one. N(1) = {0, 2, 3, 4}; N(0) = {1, 2}.
  // α(0, x): x = 0 → 1/p, x = 2 (a neighbour of 0) → 1, x = 3, 4 → 1/q. Node 5 hangs off 4.
  const pairs: [number, number][] = [[0, 1], [1, 2], [1, 3], [1, 4], [0, 2], [2, 3], [4, 5]];
  const [row, col] = undirected(pairs);

  /** Empirical distribution of the second step of walks 0 → 1 → x. */
  function secondStep(graph: WalkGraph, p: number, q: number, sampler: 'rejection' | 'alias', n: number): Float64Array {
    const walks = new RandomWalker(graph, { p, q, sampler }).walk(new Int32Array(n), 2, { generator: new T.Generator(5) });
    const counts = new Float64Array(graph.numNodes);
    for (let b = 0; b < n; b++) if (walks[3 * b + 1] === 1) counts[walks[3 * b + 2]]++;
    return counts;
  }

  for (const sampler of ['rejection', 'alias'] as const) {
    it(`node2vec transition probabilities match the analytic ones (χ², sampler '${sampler}')`, () => {
      const g = WalkGraph.fromArrays(row, col);
      for (const [p, q] of [[0.5, 2], [4, 0.25], [1, 1]]) {
        const w = [1 / p, 1, 1 / q, 1 / q]; // x = 0, 2, 3, 4
        const z = w.reduce((a, b) => a + b);
        const counts = secondStep(g, p, q, sampler, 60_000);
        const observed = [counts[0], counts[2], counts[3], counts[4]];
        expect(counts[1] + counts[5]).toBe(0); // only neighbours of 1
        expect(chi2(observed, w.map((x) => x / z))).toBeLessThan(chi2Critical(3));
      }
    });

    it(`weighted node2vec: probabilities ∝ w(cur, x)·α(prev, x) (χ², sampler '${sampler}')`, () => {
      // weights per undirected edge, both directions
      const ew = [1, 2, 1, 3, 1, 1, 1];
      const g = WalkGraph.fromArrays(row, col, { edgeWeight: ew.flatMap((x) => [x, x]) });
      const [p, q] = [0.5, 2];
      // edges from 1: to 0 (w 1), 2 (w 2), 3 (w 1), 4 (w 3)
      const w = [1 * (1 / p), 2 * 1, 1 * (1 / q), 3 * (1 / q)];
      const z = w.reduce((a, b) => a + b);
      const counts = secondStep(g, p, q, sampler, 60_000);
      expect(chi2([counts[0], counts[2], counts[3], counts[4]], w.map((x) => x / z))).toBeLessThan(chi2Critical(3));
    });
  }

  it('the first step is first-order: uniform, or ∝ the edge weight', () => {
    const g = WalkGraph.fromArrays(row, col);
    const walks = randomWalk(g, new Int32Array(40_000).fill(1), 1, { p: 0.3, q: 5, generator: new T.Generator(2) });
    const c = new Float64Array(6);
    for (let b = 0; b < 40_000; b++) c[walks[2 * b + 1]]++;
    expect(chi2([c[0], c[2], c[3], c[4]], [0.25, 0.25, 0.25, 0.25])).toBeLessThan(chi2Critical(3));
  });

  it('uniform walks: every step is an edge; isolated nodes and dead ends keep the walk in place (as PyG)', () => {
    // a random undirected graph plus an isolated node 30 and a directed dead end 31 (29 → 31)
    const u = new T.Generator(3).uniform(400);
    const ps: [number, number][] = [];
    for (let k = 0; k < 200; k++) ps.push([Math.floor(u[2 * k] * 30), Math.floor(u[2 * k + 1] * 30)]);
    const [r, c] = undirected(ps);
    const g = WalkGraph.fromArrays([...r, 29], [...c, 31], { numNodes: 32 });
    const L = 12;
    const starts = Int32Array.from({ length: 32 }, (_, i) => i);
    const walks = randomWalk(g, starts, L, { generator: new T.Generator(4) });
    expect(walks.length).toBe(32 * (L + 1));
    for (let b = 0; b < 32; b++) {
      const w = walks.subarray(b * (L + 1), (b + 1) * (L + 1));
      expect(w[0]).toBe(b);
      for (let i = 0; i < L; i++) {
        if (g.degree(w[i]) === 0) expect(w[i + 1]).toBe(w[i]);
        else expect(g.hasEdge(w[i], w[i + 1])).toBe(true);
      }
    }
    expect(Array.from(walks.subarray(30 * (L + 1), 31 * (L + 1)))).toEqual(new Array(L + 1).fill(30));
    // a walk that reaches the dead end stays there
    const toDeadEnd = randomWalk(WalkGraph.fromArrays([0, 1], [1, 2], { numNodes: 3 }), [0], 5);
    expect(Array.from(toDeadEnd)).toEqual([0, 1, 2, 2, 2, 2]);
    // node2vec walks on the same graph also only follow edges
    const biased = randomWalk(g, starts, L, { p: 2, q: 0.5, generator: new T.Generator(4) });
    for (let b = 0; b < 32; b++) {
      for (let i = 0; i < L; i++) {
        const [a, z] = [biased[b * (L + 1) + i], biased[b * (L + 1) + i + 1]];
        expect(g.degree(a) === 0 ? z === a : g.hasEdge(a, z)).toBe(true);
      }
    }
  });

  it('walks are deterministic under the generator and T.manualSeed', () => {
    const g = WalkGraph.fromArrays(row, col);
    const s = Int32Array.from([0, 1, 2, 3, 4, 5]);
    const a = randomWalk(g, s, 10, { p: 0.5, q: 2, generator: new T.Generator(9) });
    expect(randomWalk(g, s, 10, { p: 0.5, q: 2, generator: new T.Generator(9) })).toEqual(a);
    expect(randomWalk(g, s, 10, { p: 0.5, q: 2, generator: new T.Generator(10) })).not.toEqual(a);
    T.manualSeed(3);
    const b = randomWalk(g, s, 10);
    T.manualSeed(3);
    expect(randomWalk(g, s, 10)).toEqual(b);
  });

  it('walkBatches streams r rounds, each over every node once in a fresh shuffled order', () => {
    const g = WalkGraph.fromArrays(row, col);
    const it = walkBatches(new RandomWalker(g), { walkLength: 4, walksPerNode: 3, batchSize: 4, generator: new T.Generator(1) });
    const first = it.next();
    expect(first.done).toBe(false); // a generator: one batch at a time
    const batches = [first.value!, ...it];
    expect(batches.map((b) => b.start.length)).toEqual([4, 2, 4, 2, 4, 2]);
    const orders: number[][] = [];
    for (const b of batches) {
      expect(b.walks.length).toBe(b.start.length * 5);
      for (let i = 0; i < b.start.length; i++) expect(b.walks[5 * i]).toBe(b.start[i]);
      (orders[b.round] ??= []).push(...b.start);
    }
    expect(orders).toHaveLength(3);
    for (const o of orders) expect([...o].sort()).toEqual([0, 1, 2, 3, 4, 5]);
    expect(orders.some((o) => o.join() !== '0,1,2,3,4,5')).toBe(true);
    const inOrder = [...walkBatches(new RandomWalker(g), { walkLength: 2, batchSize: 6, shuffle: false })];
    expect(Array.from(inOrder[0].start)).toEqual([0, 1, 2, 3, 4, 5]);
  });

  it("walkWindows cuts walks into PyG's window layout", () => {
    const walks = Int32Array.from([10, 11, 12, 13, 14, 20, 21, 22, 23, 24]);
    expect(Array.from(walkWindows(walks, 2, 3))).toEqual([10, 11, 12, 20, 21, 22, 11, 12, 13, 21, 22, 23, 12, 13, 14, 22, 23, 24]);
  });

  it('WalkGraph sorts edges into CSR and keeps duplicates as multiplicity', () => {
    const g = WalkGraph.fromArrays([2, 0, 2, 0, 1], [1, 2, 0, 1, 2], { numNodes: 4 });
    expect(Array.from(g.rowptr)).toEqual([0, 2, 3, 5, 5]);
    expect(Array.from(g.col)).toEqual([1, 2, 2, 0, 1]);
    expect(g.hasEdge(2, 0)).toBe(true);
    expect(g.hasEdge(0, 3)).toBe(false);
    const dup = WalkGraph.fromArrays([0, 0, 0], [1, 1, 2]);
    const w = randomWalk(dup, new Int32Array(30_000), 1, { generator: new T.Generator(8) });
    let ones = 0;
    for (let b = 0; b < 30_000; b++) ones += w[2 * b + 1] === 1 ? 1 : 0;
    expect(chi2([ones, 30_000 - ones], [2 / 3, 1 / 3])).toBeLessThan(chi2Critical(1) * 1.05);
  });

  it('rejects bad input with clear errors', () => {
    const g = WalkGraph.fromArrays(row, col);
    expect(() => new RandomWalker(g, { p: 0 })).toThrow(/RandomWalker: p must be a finite number > 0, received 0/);
    expect(() => new RandomWalker(g, { q: -1 })).toThrow(/RandomWalker: q must be a finite number > 0, received -1/);
    expect(() => new RandomWalker(g, { p: NaN })).toThrow(/p must be/);
    expect(() => new RandomWalker(g, { sampler: 'metropolis' as never })).toThrow(/sampler must be 'rejection' or 'alias'/);
    expect(() => new RandomWalker(g, { p: 2, sampler: 'alias', maxAliasEntries: 5 })).toThrow(/needs 38 per-edge alias entries.*above maxAliasEntries = 5; use sampler: 'rejection'/);
    expect(() => randomWalk(g, [7], 3)).toThrow(/RandomWalker.walk: start node 7 \(index 0\) is outside \[0, 6\)/);
    expect(() => randomWalk(g, [0], -1)).toThrow(/walkLength must be an integer ≥ 0/);
    expect(() => WalkGraph.fromArrays([0, 1], [1])).toThrow(/WalkGraph: row and col must have the same length, received 2 and 1/);
    expect(() => WalkGraph.fromArrays([0, 1], [1, 5], { numNodes: 3 })).toThrow(/WalkGraph: edgeIndex holds edge 1 = \(1, 5\) with a node id outside \[0, 3\)/);
    expect(() => WalkGraph.fromArrays([0], [1], { edgeWeight: [-2] })).toThrow(/WalkGraph: edge weights must be finite and positive, received -2 at edge 0/);
    expect(() => WalkGraph.fromArrays([0], [1], { edgeWeight: [1, 2] })).toThrow(/edgeWeight must hold one weight per edge \(1\), received 2/);
    expect(() => [...walkBatches(new RandomWalker(g), { walkLength: 3, batchSize: 0 })]).toThrow(/walkBatches: batchSize must be an integer ≥ 1, received 0/);
    expect(() => walkWindows(new Int32Array(6), 2, 4)).toThrow(/walkWindows: contextSize 4 exceeds the walk's 3 nodes/);
  });
});

// ------------------------------------------------------------------ trees of the hierarchical softmax (host side)

describe('hierarchical softmax trees', () => {
  /** Kraft equality Σ 2^−depth = 1 holds for every full binary tree. */
  const kraft = (depth: Int32Array) => Array.from(depth).reduce((a, d) => a + 2 ** -d, 0);

  it('Huffman: a full binary tree, frequent leaves no deeper than rare ones, minimal weighted depth', () => {
    const counts = [50, 1, 1, 2, 7, 20, 3, 3, 12, 1];
    const t = huffmanTree(counts);
    expect(t.numLeaves).toBe(10);
    expect(kraft(t.depth)).toBeCloseTo(1, 12);
    for (let a = 0; a < 10; a++) for (let b = 0; b < 10; b++) if (counts[a] > counts[b]) expect(t.depth[a]).toBeLessThanOrEqual(t.depth[b]);
    // the Huffman cost Σ count·depth equals the sum of the merged weights, computed independently
    const heap = [...counts];
    let cost = 0;
    while (heap.length > 1) {
      heap.sort((x, y) => x - y);
      const m = heap.shift()! + heap.shift()!;
      cost += m;
      heap.push(m);
    }
    expect(counts.reduce((s, c, i) => s + c * t.depth[i], 0)).toBe(cost);
    // every inner node appears, each path starts at the root
    const D = t.maxDepth;
    const seen = new Set<number>();
    for (let v = 0; v < 10; v++) for (let i = 0; i < t.depth[v]; i++) seen.add(t.pathNodes[v * D + i]);
    expect(seen.size).toBe(9);
    const roots = new Set(Array.from({ length: 10 }, (_, v) => t.pathNodes[v * D]));
    expect(roots.size).toBe(1);
  });

  it('balanced: depth ⌈log2 n⌉', () => {
    for (const n of [2, 3, 7, 8, 9, 100]) {
      const t = balancedTree(n);
      expect(t.maxDepth).toBe(Math.ceil(Math.log2(n)));
      expect(kraft(t.depth)).toBeCloseTo(1, 12);
    }
    expect(() => balancedTree(1)).toThrow(/balancedTree: a hierarchical softmax needs at least 2 leaves, received 1/);
    expect(() => huffmanTree([1, -1])).toThrow(/huffmanTree: counts must be finite and non-negative, received -1 at index 1/);
  });
});

// ------------------------------------------------------------------ tensors: losses and training (both backends)

interface LossCase {
  name: string;
  contextSize: number;
  weight: FixtureTensor;
  posRw: FixtureTensor;
  negRw: FixtureTensor;
  loss: number;
  grad: FixtureTensor;
}
const lossCases = (JSON.parse(readFileSync(new URL('./fixtures/embedding.json', import.meta.url), 'utf8')) as { cases: LossCase[] }).cases;

/** A Node2Vec over a path graph of n nodes (the walks do not matter for the loss). */
function pathModel(n: number, dim: number, contextSize: number, device: T.DeviceName, extra: Partial<ConstructorParameters<typeof Node2Vec>[1]> = {}) {
  const r = Array.from({ length: n - 1 }, (_, i) => i);
  const g = WalkGraph.fromArrays([...r, ...r.map((i) => i + 1)], [...r.map((i) => i + 1), ...r]);
  return new Node2Vec(g, { embeddingDim: dim, walkLength: Math.max(contextSize, 6), contextSize, device, ...extra });
}

forEachBackend('Node2Vec / DeepWalk', (device) => {
  for (const c of lossCases) {
    it(`negative-sampling loss and gradient match PyG's formula in torch: ${c.name}`, async () => {
      const [n, d] = c.weight.shape;
      const model = pathModel(n, d, c.contextSize, device);
      const w = fromFixture(c.weight, device);
      noGrad(() => void T.copy_(model.embedding.weight, w));
      const pos = fromFixture(c.posRw, device);
      const neg = fromFixture(c.negRw, device);
      const loss = model.loss(pos, neg);
      backward(loss);
      await expectClose(loss, c.loss, { atol: 1e-5, rtol: 1e-5 });
      await expectClose(model.embedding.weight.grad!, fromFixture(c.grad, device), { atol: 1e-5, rtol: 1e-4 });
      if (c.posRw.shape[1] > c.contextSize) {
        // whole rows and their PyG windows give the same loss
        const win = (t: T.Tensor, f: FixtureTensor) => {
          const w = walkWindows(Int32Array.from(f.data as number[]), t.shape[0], c.contextSize);
          return T.tensor(w, { dtype: 'int32', shape: [w.length / c.contextSize, c.contextSize], device });
        };
        const [pw, nw] = [win(pos, c.posRw), win(neg, c.negRw)];
        const l2 = noGrad(() => model.loss(pw, nw));
        await expectClose(l2, c.loss, { atol: 1e-5, rtol: 1e-5 });
        T.dispose([pw, nw, l2]);
      }
      T.dispose([loss, w, pos, neg]);
      model.dispose();
    });
  }

  it('hierarchical softmax: leaf probabilities sum to 1 for random vectors and match a brute-force product', async () => {
    const counts = Array.from({ length: 23 }, (_, i) => (i * 7) % 11);
    for (const tree of [huffmanTree(counts), balancedTree(23)]) {
      const hs = new HierarchicalSoftmax(tree, 5, { device });
      const theta = T.randn([22, 5], { generator: new T.Generator(3), device });
      noGrad(() => void T.copy_(hs.weight, theta));
      const h = T.randn([4, 5], { generator: new T.Generator(4), device });
      // every (vector, leaf) pair
      const hRep = T.reshape(T.expand(T.unsqueeze(h, 1), [4, 23, 5]), [92, 5]);
      const leaves = T.tensor(Int32Array.from({ length: 92 }, (_, i) => i % 23), { dtype: 'int32', device });
      const logp = noGrad(() => hs.logProb(hRep, leaves));
      const lp = Array.from(await logp.data());
      for (let r = 0; r < 4; r++) {
        const total = lp.slice(r * 23, (r + 1) * 23).reduce((a, b) => a + Math.exp(b), 0);
        expect(Math.abs(total - 1)).toBeLessThan(1e-5);
      }
      // brute force for vector 0, leaf 5
      const th = Array.from(await theta.data());
      const hv = Array.from(await h.data()).slice(0, 5);
      let brute = 0;
      for (let i = 0; i < tree.depth[5]; i++) {
        const node = tree.pathNodes[5 * tree.maxDepth + i];
        const dot = hv.reduce((s, x, k) => s + x * th[node * 5 + k], 0);
        brute += Math.log(1 / (1 + Math.exp(-tree.pathSigns[5 * tree.maxDepth + i] * dot)));
      }
      expect(lp[5]).toBeCloseTo(brute, 4);
      // windowLoss over whole rows = the mean NLL over the rows' window pairs
      const rowsData = Int32Array.from([3, 9, 14, 0, 22, 5, 1, 1, 7, 18, 2, 11]); // 2 rows of 6
      const rows = T.tensor(rowsData, { dtype: 'int32', shape: [2, 6], device });
      const hRows = T.randn([2, 6, 5], { generator: new T.Generator(6), device });
      const viaRows = noGrad(() => hs.windowLoss(hRows, rows, 3));
      const centers: number[] = [];
      const contexts: number[] = [];
      for (let r = 0; r < 2; r++) for (let j = 0; j <= 6 - 3; j++) for (let k = 1; k < 3; k++) {
        centers.push(r * 6 + j);
        contexts.push(rowsData[r * 6 + j + k]);
      }
      const cIdx = T.tensor(centers, { dtype: 'int32', device });
      const hPairs = T.indexSelect(T.reshape(hRows, [12, 5]), 0, cIdx);
      const tgt = T.tensor(contexts, { dtype: 'int32', device });
      const viaPairs = noGrad(() => hs.forward(hPairs, tgt));
      await expectClose(viaRows, Array.from(await viaPairs.data()), { atol: 1e-5, rtol: 1e-5 });
      T.dispose([theta, h, hRep, leaves, logp, rows, hRows, viaRows, cIdx, hPairs, tgt, viaPairs]);
      hs.dispose();
    }
  });

  it('loader: walk rows and PyG-style negative rows on the device, deterministic under T.manualSeed', async () => {
    const model = pathModel(9, 4, 3, device, { walkLength: 5, walksPerNode: 2, numNegativeSamples: 2 });
    const collect = async () => {
      const out: number[][] = [];
      for (const { posRw, negRw, batch } of model.loader({ batchSize: 4 })) {
        expect(posRw.shape).toEqual([batch.length, 6]);
        expect(negRw.shape).toEqual([2 * batch.length, 6]);
        expect(posRw.device).toBe(device);
        const p = Array.from(await posRw.data());
        const n = Array.from(await negRw.data());
        for (let i = 0; i < batch.length; i++) {
          expect(p[6 * i]).toBe(batch[i]);
          expect(n[6 * i]).toBe(batch[i]);
          expect(n[6 * (i + batch.length)]).toBe(batch[i]);
        }
        out.push(p, n);
        T.dispose([posRw, negRw]);
      }
      return out;
    };
    T.manualSeed(21);
    const a = await collect();
    expect(a).toHaveLength(2 * 6); // 2 rounds × ⌈9 / 4⌉ batches, pos and neg each
    T.manualSeed(21);
    expect(await collect()).toEqual(a);
    // PyG's windows
    const pw = model.posSample([0, 4]);
    expect(pw.shape).toEqual([(5 + 2 - 3) * 2, 3]);
    const nw = model.negSample([0, 4]);
    expect(nw.shape).toEqual([(5 + 2 - 3) * 2 * 2, 3]);
    T.dispose([pw, nw]);
    model.dispose();
  });

  it('create() builds the walk graph from an edge index on the device; forward returns the table or rows', async () => {
    const ei = T.tensor([[0, 1, 1, 2, 2, 3], [1, 0, 2, 1, 3, 2]], { dtype: 'int32', device });
    const n2v = await Node2Vec.create(ei, { numNodes: 5, embeddingDim: 3, walkLength: 4, contextSize: 2, p: 2, q: 0.5, sampler: 'alias' });
    expect(n2v.numNodes).toBe(5);
    expect(n2v.device).toBe(device);
    expect(n2v.walker.graph.numEdges).toBe(6);
    expect(n2v.forward()).toBe(n2v.embedding.weight);
    const idx = T.tensor([4, 0], { dtype: 'int32', device });
    const rows = n2v.forward(idx);
    const all = Array.from(await n2v.embedding.weight.data());
    await expectClose(rows, [...all.slice(12, 15), ...all.slice(0, 3)], { shape: [2, 3] });
    // node 4 is isolated: its walk stays put
    const pos = n2v.sample([4]).posRw;
    expect(Array.from(await pos.data())).toEqual([4, 4, 4, 4, 4]);
    const dw = await DeepWalk.create(ei, { embeddingDim: 3, walkLength: 4, contextSize: 2 });
    expect(dw.objective).toBe('hierarchical-softmax');
    expect(dw.walker.p).toBe(1);
    expect(dw.parameters()).toHaveLength(2); // embedding.weight, hs.weight
    expect(Object.keys(dw.stateDict())).toEqual(['embedding.weight', 'hs.weight', 'hs.path_nodes', 'hs.path_signs']);
    const dwNs = new DeepWalk(dw.walker.graph, { embeddingDim: 3, walkLength: 4, contextSize: 2, objective: 'negative-sampling', device });
    expect(dwNs.hs).toBeNull();
    T.dispose([ei, idx, rows, pos]);
    for (const m of [n2v, dw, dwNs]) m.dispose();
  });

  it("unigram negatives follow degree^0.75 (χ²)", async () => {
    // a star with 5 leaves plus a path 5 - 6 - 7: degrees 5, 1×4, 2, 2, 1
    const [r, c] = undirected([[0, 1], [0, 2], [0, 3], [0, 4], [0, 5], [5, 6], [6, 7]]);
    const model = new Node2Vec(WalkGraph.fromArrays(r, c), { embeddingDim: 2, walkLength: 40, contextSize: 2, negativeDistribution: 'unigram', device, numNegativeSamples: 50 });
    const { posRw, negRw: neg } = model.sample(Int32Array.from({ length: 8 }, (_, i) => i));
    posRw.dispose();
    const d = Array.from(await neg.data());
    const counts = new Float64Array(8);
    for (let i = 0; i < d.length; i++) if (i % 41 !== 0) counts[d[i]]++;
    const deg = [5, 1, 1, 1, 1, 2, 2, 1].map((x) => x ** 0.75);
    const z = deg.reduce((a, b) => a + b);
    expect(chi2(counts, deg.map((x) => x / z))).toBeLessThan(chi2Critical(7));
    neg.dispose();
    model.dispose();
  });

  for (const kind of ['node2vec (negative sampling, p = 1, q = 0.5)', 'DeepWalk (hierarchical softmax)'] as const) {
    it(`${kind}: the loss decreases, two planted communities separate, memory stays flat`, async () => {
      const { row, col, label } = plantedPartition(16, 0.4, 0.02, 5);
      const graph = WalkGraph.fromArrays(row, col);
      T.manualSeed(1);
      const opts = { embeddingDim: 8, walkLength: 8, contextSize: 4, walksPerNode: 4, initStd: 0.1, device };
      const model = kind.startsWith('DeepWalk') ? new DeepWalk(graph, opts) : new Node2Vec(graph, { ...opts, q: 0.5 });
      expect(model.objective).toBe(kind.startsWith('DeepWalk') ? 'hierarchical-softmax' : 'negative-sampling');
      const held = model.sample(Int32Array.from({ length: 32 }, (_, i) => i));
      const before = noGrad(() => model.loss(held.posRw, held.negRw));
      const opt = new Adam(model.parameters(), { lr: 0.05 });
      const epochLoss: number[] = [];
      const mem: number[] = [];
      for (let epoch = 0; epoch < 12; epoch++) {
        let total = 0;
        let steps = 0;
        for (const { posRw, negRw } of model.loader({ batchSize: 32 })) {
          opt.zeroGrad();
          const loss = model.loss(posRw, negRw);
          backward(loss);
          opt.step();
          opt.zeroGrad();
          total += await loss.item();
          steps++;
          T.dispose([loss, posRw, negRw]);
          mem.push(T.memory().tensors);
        }
        epochLoss.push(total / steps);
      }
      const after = noGrad(() => model.loss(held.posRw, held.negRw));
      const [l0, l1] = [await before.item(), await after.item()];
      expect(l1).toBeLessThan(0.9 * l0); // on a fixed batch
      expect(epochLoss[11]).toBeLessThan(epochLoss[0]);
      T.dispose([before, after, held.posRw, held.negRw]);
      // never above the count after the first step (the optimizer state exists from then on)
      expect(Math.max(...mem)).toBe(mem[0]);
      // nearest-centroid accuracy of the community labels from the embedding
      const z = (await model.forward().array()) as number[][];
      const cent = [0, 1].map((k) => {
        const rows = z.filter((_, i) => label[i] === k);
        return z[0].map((_, j) => rows.reduce((s, r) => s + r[j], 0) / rows.length);
      });
      const dist = (a: number[], b: number[]) => a.reduce((s, x, j) => s + (x - b[j]) ** 2, 0);
      const correct = z.filter((r, i) => (dist(r, cent[0]) < dist(r, cent[1]) ? 0 : 1) === label[i]).length;
      expect(correct / z.length).toBeGreaterThanOrEqual(0.9);
      for (const st of opt.state.values()) T.dispose(Object.values(st).filter(T.isTensor));
      model.dispose();
    });
  }

  it('rejects bad input with clear errors', () => {
    const g = WalkGraph.fromArrays([0, 1, 1, 2], [1, 0, 2, 1]);
    const base = { embeddingDim: 4, walkLength: 5, contextSize: 3, device };
    expect(() => new Node2Vec(g, { ...base, p: 0 })).toThrow(/p must be a finite number > 0, received 0/);
    expect(() => new Node2Vec(g, { ...base, q: -2 })).toThrow(/q must be a finite number > 0, received -2/);
    expect(() => new Node2Vec(g, { ...base, walkLength: 2 })).toThrow(/Node2Vec: walkLength \(2\) must be ≥ contextSize \(3\)/);
    expect(() => new Node2Vec(g, { ...base, contextSize: 1 })).toThrow(/Node2Vec: contextSize must be an integer ≥ 2, received 1/);
    expect(() => new Node2Vec(g, { ...base, embeddingDim: 0 })).toThrow(/Node2Vec: embeddingDim must be an integer ≥ 1, received 0/);
    expect(() => new Node2Vec(g, { ...base, walksPerNode: 0 })).toThrow(/walksPerNode must be an integer ≥ 1/);
    expect(() => new Node2Vec(g, { ...base, numNegativeSamples: 1.5 })).toThrow(/numNegativeSamples must be an integer ≥ 1, received 1.5/);
    expect(() => new Node2Vec(g, { ...base, objective: 'softmax' as never })).toThrow(/objective must be 'negative-sampling' or 'hierarchical-softmax'/);
    expect(() => new Node2Vec(g, { ...base, negativeDistribution: 'zipf' as never })).toThrow(/negativeDistribution must be 'uniform' or 'unigram'/);
    expect(() => new Node2Vec(g, { ...base, initStd: -1 })).toThrow(/initStd must be a finite number ≥ 0/);
    expect(() => new DeepWalk(g, { ...base, p: 2 })).toThrow(/DeepWalk: walks are uniform \(p = q = 1\), received p = 2/);
    expect(() => new Node2Vec({} as WalkGraph, base)).toThrow(/Node2Vec: expected a WalkGraph/);
    const model = new Node2Vec(g, base);
    const rows = T.tensor([[0, 1, 2]], { dtype: 'int32', device });
    const short = T.tensor([[0, 1]], { dtype: 'int32', device });
    const fl = T.tensor([[0, 1, 2]], { device });
    expect(() => model.loss(short, rows)).toThrow(/Node2Vec.loss: expected posRw to be an int32 tensor \[rows, length ≥ contextSize = 3\], received int32 \[1, 2\]/);
    expect(() => model.loss(rows, fl)).toThrow(/expected negRw to be an int32 tensor.*received float32 \[1, 3\]/);
    expect(() => model.loss(rows)).toThrow(/Node2Vec.loss: negative sampling needs negRw/);
    expect(() => model.posSample([3])).toThrow(/Node2Vec.posSample: batch\[0\] = 3 is not a node id in \[0, 3\)/);
    T.dispose([rows, short, fl]);
    model.dispose();
  });
});
