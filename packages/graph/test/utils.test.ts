import { expect, it } from 'vitest';
import * as T from '@tessera/tensor';
import { backward } from '@tessera/autodiff';
import { forEachBackend, expectClose } from '../../tensor/test/helpers.js';
import { coalesce } from '../src/utils/coalesce.js';
import { isUndirected, toUndirected } from '../src/utils/undirected.js';
import { kHopSubgraph, subgraph } from '../src/utils/subgraph.js';
import { dropoutEdge, negativeSampling } from '../src/utils/sampling.js';
import { toDenseAdj } from '../src/utils/dense.js';
import { connectedComponents } from '../src/utils/components.js';
import { indexToMask, maskToIndex } from '../src/utils/mask.js';
import { maybeNumNodes } from '../src/utils/edges.js';

type Pairs = [number, number][];
const ei = (pairs: Pairs, device: T.DeviceName) =>
  T.tensor(Int32Array.from([...pairs.map((p) => p[0]), ...pairs.map((p) => p[1])]), { dtype: 'int32', shape: [2, pairs.length], device });

async function pairsOf(t: T.Tensor): Promise<Pairs> {
  expect(t.dtype).toBe('int32');
  expect(t.shape[0]).toBe(2);
  const d = Array.from(await t.data());
  const E = t.shape[1];
  return Array.from({ length: E }, (_, e) => [d[e], d[E + e]]);
}

/** A seeded random directed multigraph (duplicates and self-loops included). */
function randomPairs(n: number, e: number, seed: number): Pairs {
  const u = new T.Generator(seed).uniform(2 * e);
  return Array.from({ length: e }, (_, i) => [Math.floor(u[2 * i] * n), Math.floor(u[2 * i + 1] * n)]);
}

const sortPairs = (p: Pairs) => [...p].sort((a, b) => a[0] - b[0] || a[1] - b[1]);
const dedupe = (p: Pairs): Pairs => sortPairs(p).filter((q, i, all) => i === 0 || q[0] !== all[i - 1][0] || q[1] !== all[i - 1][1]);

forEachBackend('coalesce, toUndirected, isUndirected', (device) => {
  it('sorts, dedupes and reduces attributes of duplicate edges', async () => {
    const edges = ei([[2, 1], [0, 3], [2, 1], [0, 1], [2, 1]], device);
    const attr = T.tensor([[1, 10], [2, 20], [3, 30], [4, 40], [5, 50]], { device });
    const expected: Record<string, number[][]> = {
      add: [[4, 40], [2, 20], [9, 90]],
      mean: [[4, 40], [2, 20], [3, 30]],
      max: [[4, 40], [2, 20], [5, 50]],
      min: [[4, 40], [2, 20], [1, 10]],
      mul: [[4, 40], [2, 20], [15, 15000]],
    };
    for (const reduce of ['add', 'mean', 'max', 'min', 'mul'] as const) {
      const r = await coalesce(edges, { edgeAttr: attr, reduce });
      await expectClose(r.edgeIndex, [[0, 0, 2], [1, 3, 1]], { dtype: 'int32' });
      await expectClose(r.edgeAttr!, expected[reduce], { shape: [3, 2] });
      T.dispose([r.edgeIndex, r.edgeAttr]);
    }
    const byCol = await coalesce(edges, { sortByRow: false });
    expect(await pairsOf(byCol.edgeIndex)).toEqual([[0, 1], [2, 1], [0, 3]]);
    expect(byCol.edgeAttr).toBeUndefined();
    T.dispose([edges, attr, byCol.edgeIndex]);
  });

  it('matches a brute-force sort + dedupe on a random multigraph', async () => {
    const pairs = randomPairs(30, 400, 1);
    const edges = ei(pairs, device);
    const r = await coalesce(edges, { numNodes: 30 });
    expect(await pairsOf(r.edgeIndex)).toEqual(dedupe(pairs));
    const u = await toUndirected(edges);
    expect(await pairsOf(u.edgeIndex)).toEqual(dedupe([...pairs, ...pairs.map(([a, b]) => [b, a] as [number, number])]));
    expect(await isUndirected(u.edgeIndex)).toBe(true);
    expect(await isUndirected(edges)).toBe(false);
    T.dispose([edges, r.edgeIndex, u.edgeIndex]);
  });

  it('passes gradients through the reduced attributes', async () => {
    const edges = ei([[1, 0], [0, 1], [1, 0]], device);
    const w = T.tensor([1, 2, 3], { device }).requiresGrad_();
    const r = await coalesce(edges, { edgeAttr: w, reduce: 'mean' });
    await expectClose(r.edgeAttr!, [2, 2]);
    const loss = T.sum(T.mul(r.edgeAttr!, T.tensor([10, 100], { device })));
    backward(loss);
    // d/dw of 10 * w1 + 100 * (w0 + w2) / 2
    await expectClose(w.grad!, [50, 10, 50]);
    T.dispose([edges, w, r.edgeIndex, r.edgeAttr, loss]);
  });

  it('toUndirected gives each reversed edge its value; isUndirected compares values', async () => {
    const edges = ei([[0, 1], [1, 2], [2, 1]], device);
    const w = T.tensor([1, 5, 7], { device });
    const u = await toUndirected(edges, { edgeAttr: w });
    expect(await pairsOf(u.edgeIndex)).toEqual([[0, 1], [1, 0], [1, 2], [2, 1]]);
    await expectClose(u.edgeAttr!, [1, 1, 12, 12]);
    expect(await isUndirected(u.edgeIndex, { edgeAttr: u.edgeAttr })).toBe(true);
    const sym = ei([[0, 1], [1, 0]], device);
    const asym = T.tensor([1, 2], { device });
    expect(await isUndirected(sym)).toBe(true);
    expect(await isUndirected(sym, { edgeAttr: asym })).toBe(false);
    T.dispose([edges, w, u.edgeIndex, u.edgeAttr, sym, asym]);
  });

  it('rejects bad edge indices and attributes', async () => {
    const edges = ei([[0, 1], [1, 4]], device);
    await expect(coalesce(edges, { numNodes: 3 })).rejects.toThrow(/coalesce: edgeIndex holds edge 1 = \(1, 4\) with a node id outside \[0, 3\)/);
    await expect(coalesce(edges, { edgeAttr: T.zeros([3], { device }) })).rejects.toThrow(/coalesce: expected edgeAttr with one row per edge \(shape \[2, \.\.\.\]\), received \[3\]/);
    await expect(toUndirected(T.zeros([2, 2], { device }))).rejects.toThrow(/toUndirected: expected edgeIndex of dtype int32, received float32/);
    await expect(isUndirected(T.zeros([3, 2], { dtype: 'int32', device }))).rejects.toThrow(/isUndirected: expected edgeIndex of shape \[2, E\], received \[3, 2\]/);
    await expect(coalesce(edges, { reduce: 'median' as never })).rejects.toThrow(/reduce must be one of add, sum, mean, min, max, mul/);
    const neg = ei([[-1, 0]], device);
    await expect(maybeNumNodes(neg)).rejects.toThrow(/node id outside/);
    expect(await maybeNumNodes(edges)).toBe(5);
    expect(await maybeNumNodes(edges, 9)).toBe(9);
    T.dispose([edges, neg]);
  });

  it('handles empty edge sets', async () => {
    const none = T.zeros([2, 0], { dtype: 'int32', device });
    const r = await coalesce(none, { edgeAttr: T.zeros([0, 3], { device }) });
    expect(r.edgeIndex.shape).toEqual([2, 0]);
    expect(r.edgeAttr!.shape).toEqual([0, 3]);
    expect(await isUndirected(none)).toBe(true);
    T.dispose([none, r.edgeIndex, r.edgeAttr]);
  });
});

forEachBackend('subgraph and kHopSubgraph', (device) => {
  it('keeps edges inside the subset, relabelling in subset order', async () => {
    const edges = ei([[0, 1], [1, 2], [2, 3], [3, 0], [1, 3]], device);
    const attr = T.tensor([10, 11, 12, 13, 14], { device });
    const r = await subgraph([3, 1, 2], edges, { edgeAttr: attr, relabelNodes: true });
    expect(await pairsOf(r.edgeIndex)).toEqual([[1, 2], [2, 0], [1, 0]]);
    await expectClose(r.edgeAttr!, [11, 12, 14]);
    await expectClose(r.edgeMask, [false, true, true, false, true]);
    const mask = T.tensor([true, true, false, true], { device });
    const m = await subgraph(mask, edges);
    expect(await pairsOf(m.edgeIndex)).toEqual([[0, 1], [3, 0], [1, 3]]);
    await expect(subgraph([1, 1], edges)).rejects.toThrow(/subgraph: subset holds node 1 more than once/);
    await expect(subgraph([7], edges, { numNodes: 4 })).rejects.toThrow(/subgraph: subset holds node 7, outside \[0, 4\)/);
    await expect(subgraph(T.tensor([true], { device }), edges)).rejects.toThrow(/expected a bool subset mask of shape \[4\]/);
    T.dispose([edges, attr, r.edgeIndex, r.edgeAttr, r.edgeMask, mask, m.edgeIndex, m.edgeMask]);
  });

  it('collects k-hop neighbourhoods in both flows, as a brute-force BFS does', async () => {
    // a directed path 0 -> 1 -> 2 -> 3 -> 4 and a side edge 5 -> 2
    const edges = ei([[0, 1], [1, 2], [2, 3], [3, 4], [5, 2]], device);
    const s2t = await kHopSubgraph(3, 2, edges, { relabelNodes: true });
    await expectClose(s2t.subset, [1, 2, 3, 5], { dtype: 'int32' });
    await expectClose(s2t.mapping, [2]);
    expect(await pairsOf(s2t.edgeIndex)).toEqual([[0, 1], [1, 2], [3, 1]]);
    await expectClose(s2t.edgeMask, [false, true, true, false, true]);
    const t2s = await kHopSubgraph([1], 2, edges, { flow: 'target_to_source' });
    await expectClose(t2s.subset, [1, 2, 3]);
    expect(await pairsOf(t2s.edgeIndex)).toEqual([[1, 2], [2, 3]]);
    // directed: only edges into nodes reached in < numHops hops (a 1-hop view of node 2 keeps 1->2, 5->2)
    const undirectedView = await kHopSubgraph(2, 1, ei([[1, 2], [5, 2], [2, 5]], device));
    const directedView = await kHopSubgraph(2, 1, ei([[1, 2], [5, 2], [2, 5]], device), { directed: true });
    expect(await pairsOf(undirectedView.edgeIndex)).toEqual([[1, 2], [5, 2], [2, 5]]);
    expect(await pairsOf(directedView.edgeIndex)).toEqual([[1, 2], [5, 2]]);
    // random graph against a BFS over reversed edges
    const pairs = randomPairs(40, 90, 3);
    const rnd = ei(pairs, device);
    const k = await kHopSubgraph([0, 7], 3, rnd, { numNodes: 40 });
    const dist = new Map<number, number>([[0, 0], [7, 0]]);
    let frontier = [0, 7];
    for (let h = 1; h <= 3; h++) {
      const next: number[] = [];
      for (const [s, t] of pairs) if (frontier.includes(t) && !dist.has(s)) { dist.set(s, h); next.push(s); }
      frontier = next;
    }
    const want = [...dist.keys()].sort((a, b) => a - b);
    await expectClose(k.subset, want);
    expect(await pairsOf(k.edgeIndex)).toEqual(pairs.filter(([s, t]) => dist.has(s) && dist.has(t)));
    for (const r of [s2t, t2s, undirectedView, directedView, k]) T.dispose([r.subset, r.edgeIndex, r.mapping, r.edgeMask]);
    T.dispose([edges, rnd]);
  });
});

forEachBackend('negativeSampling and dropoutEdge', (device) => {
  it('draws distinct non-edges without self-loops, deterministically', async () => {
    const pairs = randomPairs(50, 300, 5);
    const edges = ei(pairs, device);
    const existing = new Set(pairs.map(([a, b]) => a * 50 + b));
    const draw = () => negativeSampling(edges, { numNodes: 50, numNegSamples: 200, generator: new T.Generator(11) });
    const neg = await draw();
    const got = await pairsOf(neg);
    expect(got.length).toBe(200);
    expect(got.every(([a, b]) => a !== b && !existing.has(a * 50 + b) && a >= 0 && a < 50 && b >= 0 && b < 50)).toBe(true);
    expect(new Set(got.map(([a, b]) => a * 50 + b)).size).toBe(200);
    const again = await draw();
    expect(await pairsOf(again)).toEqual(got);
    T.manualSeed(3);
    const g1 = await pairsOf(await negativeSampling(edges));
    T.manualSeed(3);
    expect(await pairsOf(await negativeSampling(edges))).toEqual(g1);
    expect(g1.length).toBe(300); // default: as many as edges
    T.dispose([edges, neg, again]);
  });

  it('returns every non-edge when fewer exist than asked, and symmetric pairs when forced undirected', async () => {
    // 4 nodes, all ordered pairs but (0,1), (2,3) and (3,2)
    const all: Pairs = [];
    for (let a = 0; a < 4; a++) for (let b = 0; b < 4; b++) if (a !== b) all.push([a, b]);
    const present = all.filter(([a, b]) => !((a === 0 && b === 1) || (a === 2 && b === 3) || (a === 3 && b === 2)));
    const edges = ei(present, device);
    const neg = await negativeSampling(edges, { numNegSamples: 10, generator: new T.Generator(1) });
    expect(sortPairs(await pairsOf(neg))).toEqual([[0, 1], [2, 3], [3, 2]]);
    const und = await negativeSampling(edges, { numNegSamples: 10, forceUndirected: true, generator: new T.Generator(1) });
    // unordered non-edges: only {2, 3} ({0, 1} has the edge (1, 0))
    expect(sortPairs(await pairsOf(und))).toEqual([[2, 3], [3, 2]]);
    const big = ei(randomPairs(3000, 2000, 9), device);
    const many = await pairsOf(await negativeSampling(big, { numNodes: 3000, forceUndirected: true, numNegSamples: 101, generator: new T.Generator(2) }));
    expect(many.length).toBe(100);
    for (let i = 0; i < 50; i++) expect(many[50 + i]).toEqual([many[i][1], many[i][0]]);
    await expect(negativeSampling(edges, { numNegSamples: -1 })).rejects.toThrow(/negativeSampling: numNegSamples must be a non-negative integer, received -1/);
    T.dispose([edges, neg, und, big]);
  });

  it('dropoutEdge drops about p of the edges, symmetric pairs together when asked', async () => {
    const pairs = randomPairs(200, 5000, 8);
    const edges = ei(pairs, device);
    const { edgeIndex, edgeMask } = await dropoutEdge(edges, { p: 0.3, generator: new T.Generator(4) });
    const kept = await pairsOf(edgeIndex);
    const mask = Array.from(await edgeMask.data());
    expect(mask.length).toBe(5000);
    expect(kept).toEqual(pairs.filter((_, e) => mask[e]));
    expect(Math.abs(kept.length / 5000 - 0.7)).toBeLessThan(0.03);
    const off = await dropoutEdge(edges, { p: 0.9, training: false });
    expect(off.edgeIndex.shape).toEqual([2, 5000]);
    const sym = ei([[0, 1], [1, 0], [2, 3], [3, 2], [4, 5], [5, 4]], device);
    for (let seed = 0; seed < 5; seed++) {
      const d = await dropoutEdge(sym, { forceUndirected: true, generator: new T.Generator(seed) });
      const m = Array.from(await d.edgeMask.data());
      expect([m[0], m[2], m[4]]).toEqual([m[1], m[3], m[5]]);
      T.dispose([d.edgeIndex, d.edgeMask]);
    }
    await expect(dropoutEdge(edges, { p: 1 })).rejects.toThrow(/dropoutEdge: p must be in \[0, 1\), received 1/);
    T.dispose([edges, edgeIndex, edgeMask, off.edgeIndex, off.edgeMask, sym]);
  });
});

forEachBackend('toDenseAdj, connectedComponents, masks', (device) => {
  it('builds padded dense adjacencies of a batch, summing duplicates', async () => {
    // graph 0: nodes 0..1, graph 1: nodes 2..4
    const edges = ei([[0, 1], [0, 1], [1, 1], [2, 4], [4, 3]], device);
    const batch = T.tensor([0, 0, 1, 1, 1], { dtype: 'int32', device });
    const adj = await toDenseAdj(edges, { batch });
    await expectClose(adj, [[[0, 2, 0], [0, 1, 0], [0, 0, 0]], [[0, 0, 1], [0, 0, 0], [0, 1, 0]]]);
    const w = T.tensor([[1, 2], [3, 4], [5, 6], [7, 8], [9, 10]], { device });
    const wadj = await toDenseAdj(edges, { batch, edgeAttr: w, maxNumNodes: 2 });
    expect(wadj.shape).toEqual([2, 2, 2, 2]);
    await expectClose(wadj, [[[[0, 0], [4, 6]], [[0, 0], [5, 6]]], [[[0, 0], [0, 0]], [[0, 0], [0, 0]]]]);
    const single = await toDenseAdj(ei([[0, 2]], device));
    await expectClose(single, [[[0, 0, 1], [0, 0, 0], [0, 0, 0]]]);
    await expect(toDenseAdj(ei([[0, 3]], device), { batch })).rejects.toThrow(/toDenseAdj: edge 0 = \(0, 3\) joins graphs 0 and 1 of the batch/);
    await expect(toDenseAdj(edges, { batch: T.tensor([1, 0, 0, 0, 0], { dtype: 'int32', device }) })).rejects.toThrow(/batch must be non-negative and sorted ascending/);
    T.dispose([edges, batch, adj, w, wadj, single]);
  });

  it('labels weak and strong components in order of their smallest node', async () => {
    // 0 -> 1 -> 2 -> 0 (a cycle), 2 -> 3, 4 isolated, 6 <-> 5
    const edges = ei([[0, 1], [1, 2], [2, 0], [2, 3], [6, 5], [5, 6]], device);
    const weak = await connectedComponents(edges, { numNodes: 7 });
    expect(weak.numComponents).toBe(3);
    await expectClose(weak.labels, [0, 0, 0, 0, 1, 2, 2], { dtype: 'int32' });
    const strong = await connectedComponents(edges, { numNodes: 7, connection: 'strong' });
    expect(strong.numComponents).toBe(4);
    await expectClose(strong.labels, [0, 0, 0, 1, 2, 3, 3]);
    // random sparse graph against a union of BFS trees
    const pairs = randomPairs(300, 200, 4);
    const rnd = await connectedComponents(ei(pairs, device), { numNodes: 300 });
    const adj = Array.from({ length: 300 }, () => [] as number[]);
    for (const [a, b] of pairs) { adj[a].push(b); adj[b].push(a); }
    const want = new Array<number>(300).fill(-1);
    let c = 0;
    for (let s = 0; s < 300; s++) {
      if (want[s] >= 0) continue;
      const queue = [s];
      want[s] = c;
      while (queue.length) for (const v of adj[queue.shift()!]) if (want[v] < 0) { want[v] = c; queue.push(v); }
      c++;
    }
    expect(rnd.numComponents).toBe(c);
    await expectClose(rnd.labels, want);
    T.dispose([edges, weak.labels, strong.labels, rnd.labels]);
  });

  it('gives correct results, not errors or NaN, for graphs without edges and isolated nodes', async () => {
    const none = T.zeros([2, 0], { dtype: 'int32', device });
    const cc = await connectedComponents(none, { numNodes: 3 });
    expect(cc.numComponents).toBe(3);
    await expectClose(cc.labels, [0, 1, 2]);
    const k = await kHopSubgraph(1, 2, none, { numNodes: 3 });
    await expectClose(k.subset, [1]);
    expect(k.edgeIndex.shape).toEqual([2, 0]);
    expect((await negativeSampling(none, { numNodes: 3 })).shape).toEqual([2, 0]);
    const neg = await negativeSampling(none, { numNodes: 3, numNegSamples: 10 });
    expect(sortPairs(await pairsOf(neg))).toEqual([[0, 1], [0, 2], [1, 0], [1, 2], [2, 0], [2, 1]]);
    await expectClose(await toDenseAdj(none, { maxNumNodes: 2 }), [[[0, 0], [0, 0]]]);
    const d = await dropoutEdge(none);
    expect(d.edgeIndex.shape).toEqual([2, 0]);
    const sub = await subgraph([0, 2], none, { numNodes: 3, relabelNodes: true });
    expect(sub.edgeIndex.shape).toEqual([2, 0]);
    const adj = await toDenseAdj(ei([[0, 1]], device), { batch: T.tensor([0, 0, 1], { dtype: 'int32', device }) });
    await expectClose(adj, [[[0, 1], [0, 0]], [[0, 0], [0, 0]]]); // graph 1: a single isolated node
    T.dispose([none, cc.labels, k.subset, k.edgeIndex, k.mapping, k.edgeMask, neg, d.edgeIndex, d.edgeMask, sub.edgeIndex, sub.edgeMask, adj]);
  });

  it('converts between index lists and masks', async () => {
    const idx = T.tensor([3, 0], { dtype: 'int32', device });
    const mask = indexToMask(idx, 5);
    await expectClose(mask, [true, false, false, true, false], { dtype: 'bool' });
    const back = await maskToIndex(mask);
    await expectClose(back, [0, 3], { dtype: 'int32', shape: [2] });
    T.dispose([idx, mask, back]);
  });
});
