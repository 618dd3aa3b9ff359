import { expect, it } from 'vitest';
import * as T from '@tessera/tensor';
import { forEachBackend, expectClose } from '../../tensor/test/helpers.js';
import { Graph } from '../src/data/graph.js';
import { Planetoid } from '../src/datasets/planetoid.js';
import { Compose } from '../src/transforms/compose.js';
import { NormalizeFeatures } from '../src/transforms/features.js';
import { AddSelfLoops, GCNNorm, ToUndirected } from '../src/transforms/edges.js';
import { RandomLinkSplit, RandomNodeSplit } from '../src/transforms/splits.js';

const DATA = process.env.TESSERA_DATA_DIR ?? new URL('../../../../shared/data', import.meta.url).pathname;

type Pairs = [number, number][];
const ei = (pairs: Pairs, device: T.DeviceName) =>
  T.tensor(Int32Array.from([...pairs.map((p) => p[0]), ...pairs.map((p) => p[1])]), { dtype: 'int32', shape: [2, pairs.length], device });

async function pairsOf(t: T.Tensor): Promise<Pairs> {
  const d = Array.from(await t.data());
  const E = t.shape[1];
  return Array.from({ length: E }, (_, e) => [d[e], d[E + e]]);
}

const rows = async (t: T.Tensor) => {
  const d = Array.from(await t.data());
  const F = t.shape[1];
  return Array.from({ length: t.shape[0] }, (_, i) => d.slice(i * F, (i + 1) * F));
};

forEachBackend('feature and edge transforms', (device) => {
  it('NormalizeFeatures shifts by the global minimum and makes rows sum to 1 (zero rows stay 0)', async () => {
    const x = [[1, 3, 0], [0, 0, 0], [2, 2, 4], [-1, 0, 1]];
    const g = new Graph({ x: T.tensor(x, { device }) });
    const out = await new NormalizeFeatures().forward(g);
    const shifted = x.map((r) => r.map((v) => v + 1));
    const want = shifted.map((r) => {
      const s = r.reduce((a, b) => a + b, 0);
      return r.map((v) => v / Math.max(s, 1));
    });
    await expectClose(out.x!, want);
    await expectClose(g.x!, x); // the input is unchanged
    const zero = await new NormalizeFeatures().forward(new Graph({ x: T.zeros([2, 3], { device }) }));
    await expectClose(zero.x!, [[0, 0, 0], [0, 0, 0]]);
    for (const h of [g, out, zero]) h.dispose();
  });

  it('ToUndirected adds reverse edges and merges the values of duplicates', async () => {
    const g = new Graph({
      x: T.zeros([3, 1], { device }),
      edgeIndex: ei([[0, 1], [1, 0], [1, 2]], device),
      edgeAttr: T.tensor([[1, 10], [2, 20], [3, 30]], { device }),
      edgeWeight: T.tensor([0.5, 0.25, 2], { device }),
    });
    const u = await new ToUndirected().forward(g);
    expect(await pairsOf(u.edgeIndex!)).toEqual([[0, 1], [1, 0], [1, 2], [2, 1]]);
    await expectClose(u.edgeAttr!, [[3, 30], [3, 30], [3, 30], [3, 30]]);
    await expectClose(u.edgeWeight!, [0.75, 0.75, 2, 2]);
    expect(await u.isUndirected()).toBe(true);
    const m = await new ToUndirected({ reduce: 'mean' }).forward(g);
    await expectClose(m.edgeWeight!, [0.375, 0.375, 2, 2]);
    expect(g.numEdges).toBe(3);
    for (const h of [g, u, m]) h.dispose();
  });

  it('AddSelfLoops appends one loop per node with the fill value', async () => {
    const g = new Graph({ x: T.zeros([3, 1], { device }), edgeIndex: ei([[0, 1], [2, 1]], device), edgeWeight: T.tensor([2, 4], { device }) });
    const a = await new AddSelfLoops().forward(g);
    expect(await pairsOf(a.edgeIndex!)).toEqual([[0, 1], [2, 1], [0, 0], [1, 1], [2, 2]]);
    await expectClose(a.edgeWeight!, [2, 4, 1, 1, 1]);
    const mean = await new AddSelfLoops({ fillValue: 'mean' }).forward(g);
    await expectClose(mean.edgeWeight!, [2, 4, 0, 3, 0]);
    for (const h of [g, a, mean]) h.dispose();
  });

  it('GCNNorm weights each edge by 1 / sqrt(d_i d_j) with self-loops, isolated nodes give no NaN', async () => {
    const pairs: Pairs = [[0, 1], [1, 0], [1, 2], [2, 1], [0, 2]];
    const g = new Graph({ x: T.zeros([4, 1], { device }), edgeIndex: ei(pairs, device) }); // node 3 isolated
    const n = await new GCNNorm().forward(g);
    const got = await pairsOf(n.edgeIndex!);
    const w = Array.from(await n.edgeWeight!.data());
    // degrees over targets, self-loop included
    const deg = [1, 1, 1, 1];
    for (const [, c] of pairs) deg[c]++;
    const want = new Map<string, number>();
    for (const [r, c] of [...pairs, [0, 0], [1, 1], [2, 2], [3, 3]]) want.set(`${r},${c}`, 1 / Math.sqrt(deg[r] * deg[c]));
    const have = new Map<string, number>();
    got.forEach(([r, c], k) => have.set(`${r},${c}`, (have.get(`${r},${c}`) ?? 0) + w[k]));
    expect([...have.keys()].sort()).toEqual([...want.keys()].sort());
    for (const [k, v] of want) expect(Math.abs(have.get(k)! - v)).toBeLessThan(1e-6);
    expect(w.every(Number.isFinite)).toBe(true);
    const withAttr = new Graph({ x: T.zeros([4, 1], { device }), edgeIndex: ei(pairs, device), edgeAttr: T.zeros([5, 2], { device }) });
    await expect(new GCNNorm().forward(withAttr)).rejects.toThrow(/GCNNorm: the graph's edgeAttr \[5, 2\] would no longer match the edges/);
    for (const h of [g, n, withAttr]) h.dispose();
  });

  it('Compose chains transforms and frees the intermediate graphs', async () => {
    const before = T.memory();
    const g = new Graph({ x: T.tensor([[1, 1], [0, 2], [3, 1]], { device }), edgeIndex: ei([[0, 1], [1, 2]], device) });
    const t = new Compose([new NormalizeFeatures(), new ToUndirected(), new AddSelfLoops(), (h: Graph) => h.with({ y: T.zeros([3], { device }) })]);
    const out = await t.forward(g);
    expect(out.keys()).toEqual(['x', 'edgeIndex', 'y']);
    expect(out.numEdges).toBe(4 + 3);
    await expectClose(out.x!, [[0.5, 0.5], [0, 1], [0.75, 0.25]]);
    const same = await new Compose([]).forward(g);
    expect(same).not.toBe(g);
    g.dispose();
    out.dispose();
    same.dispose();
    expect(T.memory().tensors).toBe(before.tensors);
    expect(() => new Compose([{} as never])).toThrow(/Compose: transforms\[0\] is neither a function nor has a forward\(graph\) method/);
  });
});

forEachBackend('RandomNodeSplit', (device) => {
  const labels = Array.from({ length: 60 }, (_, i) => i % 3);
  const graph = () => new Graph({ x: T.zeros([60, 1], { device }), y: T.tensor(labels, { dtype: 'int32', device }) });
  const masksOf = async (g: Graph) => Promise.all([g.trainMask!, g.valMask!, g.testMask!].map(async (m) => Array.from(await m.data())));

  it("'train_rest' draws val and test, the rest trains; deterministic under a seed", async () => {
    const g = graph();
    const run = async (seed: number) => {
      const out = await new RandomNodeSplit({ numVal: 10, numTest: 0.25, generator: new T.Generator(seed) }).forward(g);
      const m = await masksOf(out);
      out.dispose();
      return m;
    };
    const [train, val, test] = await run(1);
    expect([train, val, test].map((m) => m.reduce((a, b) => a + b, 0))).toEqual([35, 10, 15]);
    for (let i = 0; i < 60; i++) expect(train[i] + val[i] + test[i]).toBe(1);
    expect(await run(1)).toEqual([train, val, test]);
    expect(await run(2)).not.toEqual([train, val, test]);
    T.manualSeed(5);
    const a = await new RandomNodeSplit({ numVal: 10, numTest: 10 }).forward(g);
    T.manualSeed(5);
    const b = await new RandomNodeSplit({ numVal: 10, numTest: 10 }).forward(g);
    expect(await masksOf(a)).toEqual(await masksOf(b));
    for (const h of [g, a, b]) h.dispose();
  });

  it("'test_rest' and 'random' take numTrainPerClass per class; numSplits stacks splits", async () => {
    const g = graph();
    const tr = await new RandomNodeSplit({ split: 'test_rest', numTrainPerClass: 4, numVal: 6, generator: new T.Generator(3) }).forward(g);
    const [train, val, test] = await masksOf(tr);
    const perClass = [0, 0, 0];
    train.forEach((v, i) => v && perClass[labels[i]]++);
    expect(perClass).toEqual([4, 4, 4]);
    expect([val, test].map((m) => m.reduce((a, b) => a + b, 0))).toEqual([6, 42]);
    const rnd = await new RandomNodeSplit({ split: 'random', numTrainPerClass: 2, numVal: 5, numTest: 7, numSplits: 3, generator: new T.Generator(3) }).forward(g);
    expect(rnd.trainMask!.shape).toEqual([60, 3]);
    const cols = await rows(rnd.testMask!);
    const perSplit = [0, 1, 2].map((s) => cols.reduce((a, r) => a + r[s], 0));
    expect(perSplit).toEqual([7, 7, 7]);
    expect(cols.map((r) => r[0])).not.toEqual(cols.map((r) => r[1]));
    await expect(new RandomNodeSplit({ numVal: 50, numTest: 20 }).forward(g)).rejects.toThrow(/RandomNodeSplit: numVal \+ numTest = 70 exceeds the 60 nodes/);
    const noY = new Graph({ x: T.zeros([5, 1], { device }) });
    await expect(new RandomNodeSplit({ split: 'random' }).forward(noY)).rejects.toThrow(/split 'random' needs integer node labels y of shape \[5\], received none/);
    expect(() => new RandomNodeSplit({ numVal: 1.5 })).toThrow(/numVal must be a non-negative integer or a fraction in \[0, 1\), received 1.5/);
    for (const h of [g, tr, rnd, noY]) h.dispose();
  });
});

forEachBackend('RandomLinkSplit', (device) => {
  it("splits Cora's links as PyG does: sizes, disjointness, message-passing edges and negatives", async () => {
    const ds = await Planetoid.load({ name: 'Cora', root: DATA, device });
    const g = await ds.get(0);
    const [train, val, test] = await new RandomLinkSplit({ isUndirected: true, generator: new T.Generator(0) }).forward(g);
    // 5278 links: int(0.1 * 5278) = 527 val, int(0.2 * 5278) = 1055 test, 3696 train
    expect([train.numEdges, val.numEdges, test.numEdges]).toEqual([2 * 3696, 2 * 3696, 2 * (3696 + 527)]);
    expect([train, val, test].map((s) => s.edgeLabelIndex!.shape[1])).toEqual([2 * 3696, 2 * 527, 2 * 1055]);
    for (const s of [train, val, test]) {
      expect(s.numNodes).toBe(2708);
      expect(await s.isUndirected()).toBe(true);
      const lab = Array.from(await s.edgeLabel!.data());
      const P = lab.length / 2;
      expect(lab.slice(0, P).every((v) => v === 1) && lab.slice(P).every((v) => v === 0)).toBe(true);
    }
    const all = new Set((await pairsOf(g.edgeIndex!)).map(([a, b]) => `${a},${b}`));
    const key = ([a, b]: [number, number]) => `${a},${b}`;
    const trainEdges = new Set((await pairsOf(train.edgeIndex!)).map(key));
    expect(await pairsOf(val.edgeIndex!)).toEqual(await pairsOf(train.edgeIndex!));
    const labelPairs = async (s: Graph) => {
      const p = await pairsOf(s.edgeLabelIndex!);
      return { pos: p.slice(0, p.length / 2), neg: p.slice(p.length / 2) };
    };
    const [tl, vl, sl] = [await labelPairs(train), await labelPairs(val), await labelPairs(test)];
    // positives are real links, each link in exactly one split (row <= col), held out of message passing
    for (const p of [...tl.pos, ...vl.pos, ...sl.pos]) expect(all.has(key(p)) && p[0] <= p[1]).toBe(true);
    expect(new Set([...tl.pos, ...vl.pos, ...sl.pos].map(key)).size).toBe(3696 + 527 + 1055);
    expect(vl.pos.some((p) => trainEdges.has(key(p)))).toBe(false);
    const testEdges = new Set((await pairsOf(test.edgeIndex!)).map(key));
    expect(sl.pos.some((p) => testEdges.has(key(p)))).toBe(false);
    expect(vl.pos.every((p) => testEdges.has(key(p)))).toBe(true);
    // negatives are non-edges of the full graph, all distinct
    const negs = [...tl.neg, ...vl.neg, ...sl.neg];
    expect(negs.some((p) => all.has(key(p)) || p[0] === p[1])).toBe(false);
    expect(new Set(negs.map(key)).size).toBe(negs.length);
    // the node features are shared, untouched
    await expectClose(T.sum(train.x!), 49216);
    const again = await new RandomLinkSplit({ isUndirected: true, generator: new T.Generator(0) }).forward(g);
    expect(await pairsOf(again[2].edgeLabelIndex!)).toEqual(await pairsOf(test.edgeLabelIndex!));
    for (const h of [g, train, val, test, ...again]) h.dispose();
    ds.dispose();
  });

  it('keeps directed edges, edge values, disjoint supervision and optional negatives', async () => {
    const pairs: Pairs = Array.from({ length: 20 }, (_, i) => [i, (i * 7 + 3) % 20]);
    const g = new Graph({ x: T.zeros([20, 1], { device }), edgeIndex: ei(pairs, device), edgeWeight: T.tensor(pairs.map((_, i) => i), { device }) });
    const [train, val, test] = await new RandomLinkSplit({ numVal: 2, numTest: 4, disjointTrainRatio: 0.5, addNegativeTrainSamples: false, generator: new T.Generator(1) }).forward(g);
    expect([train.numEdges, val.numEdges, test.numEdges]).toEqual([7, 14, 16]);
    expect([train.edgeLabelIndex!.shape[1], val.edgeLabelIndex!.shape[1], test.edgeLabelIndex!.shape[1]]).toEqual([7, 4, 8]);
    // each message-passing edge keeps its own weight
    const w = Array.from(await val.edgeWeight!.data());
    (await pairsOf(val.edgeIndex!)).forEach(([a, b], k) => expect(pairs[w[k]]).toEqual([a, b]));
    // training supervision links are not message-passing edges
    const mp = new Set((await pairsOf(train.edgeIndex!)).map(([a, b]) => `${a},${b}`));
    expect((await pairsOf(train.edgeLabelIndex!)).some(([a, b]) => mp.has(`${a},${b}`))).toBe(false);
    await expect(new RandomLinkSplit({ numVal: 10, numTest: 10 }).forward(g)).rejects.toThrow(/RandomLinkSplit: numVal \(10\) \+ numTest \(10\) leave no training links out of 20/);
    for (const h of [g, train, val, test]) h.dispose();
  });
});

forEachBackend('datasets with a transform', (device) => {
  it('Planetoid applies NormalizeFeatures on get(), leaving the stored graph raw', async () => {
    const ds = await Planetoid.load({ name: 'CiteSeer', root: DATA, device, transform: new NormalizeFeatures() });
    const g = await ds.get(0);
    const sums = Array.from(await T.sum(g.x!, { dim: 1 }).data());
    // CiteSeer's 15 padded test nodes have no features: their rows stay 0
    expect(sums.filter((s) => s === 0).length).toBe(15);
    expect(sums.every((s) => s === 0 || Math.abs(s - 1) < 1e-5)).toBe(true);
    const raw = Array.from(await T.amax(ds.at(0).x!).data());
    expect(raw).toEqual([1]);
    g.dispose();
    ds.dispose();
  });
});
