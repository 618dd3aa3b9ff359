import { describe, expect, it } from 'vitest';
import * as T from '@tessera/tensor';
import { Graph } from '../src/data/graph.js';
import { GCNConv } from '../src/nn/conv/gcn.js';
import { ClusterData, ClusterLoader, clusterGcnNorm, partitionGraph, stochasticBlockModel } from '../src/partition/index.js';
import { undirectedCsr } from '../src/partition/csr.js';
import { binomial } from '../src/partition/sbm.js';
import { expectClose, forEachBackend, useDevices } from '../../tensor/test/helpers.js';
import { settleGarbage } from './layer-helpers.js';

useDevices();

type Pairs = [number, number][];
const toEdges = (pairs: Pairs, device: T.DeviceName = 'cpu') =>
  T.tensor(Int32Array.from([...pairs.map((p) => p[0]), ...pairs.map((p) => p[1])]), { dtype: 'int32', shape: [2, pairs.length], device });

async function hostEdges(t: T.Tensor): Promise<{ row: Int32Array; col: Int32Array }> {
  const d = (await t.data()) as Int32Array;
  const E = t.shape[1];
  return { row: d.slice(0, E), col: d.slice(E) };
}

/** Distinct unordered non-loop pairs of an edge list, as keys u * n + v with u < v. */
function undirectedKeys(row: ArrayLike<number>, col: ArrayLike<number>, n: number): Set<number> {
  const keys = new Set<number>();
  for (let e = 0; e < row.length; e++) {
    const [u, v] = row[e] < col[e] ? [row[e], col[e]] : [col[e], row[e]];
    if (u !== v) keys.add(u * n + v);
  }
  return keys;
}

/** Brute-force cut and balance of a part vector over the distinct undirected edges. */
function measure(row: ArrayLike<number>, col: ArrayLike<number>, n: number, part: ArrayLike<number>, k: number) {
  let cut = 0;
  const keys = undirectedKeys(row, col, n);
  for (const key of keys) if (part[Math.floor(key / n)] !== part[key % n]) cut++;
  const sizes = new Array<number>(k).fill(0);
  for (let u = 0; u < n; u++) sizes[part[u]]++;
  return { cut, total: keys.size, sizes, balance: Math.max(...sizes) / (n / k) };
}

/** A planted-partition graph: `blocks` blocks of `size` nodes, mean degree `deg`, a fraction `inside` of the edges within blocks. */
function planted(blocks: number, size: number, deg: number, inside: number, seed: number, device: T.DeviceName = 'cpu') {
  const n = blocks * size;
  const pIn = (deg * inside) / (size - 1);
  const pOut = (deg * (1 - inside)) / (n - size);
  return stochasticBlockModel(new Array(blocks).fill(size), { pIn, pOut }, { generator: new T.Generator(seed), device });
}

describe('partitionGraph', () => {
  for (const [blocks, size] of [[4, 500], [8, 400]] as const) {
    it(`recovers a planted partition (${blocks} blocks of ${size}): cut near the planted cut, far below a random one, balanced`, async () => {
      const n = blocks * size;
      const ei = planted(blocks, size, 12, 0.85, 7);
      const { row, col } = await hostEdges(ei);
      const r = await partitionGraph(ei, blocks, { generator: new T.Generator(1) });
      ei.dispose();
      expect(r.part).toBeInstanceOf(Int32Array);
      expect(r.part.length).toBe(n);
      for (const p of r.part) expect(p >= 0 && p < blocks).toBe(true);
      const m = measure(row, col, n, r.part, blocks);
      // the reported statistics are the brute-force ones
      expect(r.edgeCut).toBe(m.cut);
      expect(r.totalEdgeWeight).toBe(m.total);
      expect(Array.from(r.partSizes)).toEqual(m.sizes);
      expect(r.balance).toBeCloseTo(m.balance, 12);
      expect(r.balance).toBeLessThanOrEqual(1.03 + 1e-12);
      const plantedCut = measure(row, col, n, Int32Array.from({ length: n }, (_, u) => Math.floor(u / size)), blocks).cut;
      const randomCut = m.total * (1 - 1 / blocks); // expected cut of a uniformly random assignment
      expect(r.edgeCut).toBeLessThan(0.2 * randomCut);
      expect(r.edgeCut).toBeLessThanOrEqual(1.05 * plantedCut);
      // and the parts are the blocks: each part is ≥ 95 % one block
      for (let p = 0; p < blocks; p++) {
        const counts = new Array<number>(blocks).fill(0);
        for (let u = 0; u < n; u++) if (r.part[u] === p) counts[Math.floor(u / size)]++;
        expect(Math.max(...counts) / r.partSizes[p]).toBeGreaterThanOrEqual(0.95);
      }
    });
  }

  it('balances many parts on a random graph within the tolerance and beats a random assignment', async () => {
    const ei = stochasticBlockModel([3000], [[8 / 2999]], { generator: new T.Generator(3) }); // Erdős–Rényi: no planted structure
    const { row, col } = await hostEdges(ei);
    for (const [k, imbalance] of [[16, 1.03], [50, 1.1]] as const) {
      const r = await partitionGraph({ row, col }, k, { numNodes: 3000, imbalance, generator: new T.Generator(2) });
      expect(r.balance).toBeLessThanOrEqual(imbalance + 1e-12);
      expect(Math.min(...r.partSizes)).toBeGreaterThan(0);
      expect(r.edgeCut).toBeLessThan(0.75 * r.totalEdgeWeight * (1 - 1 / k));
    }
    ei.dispose();
  });

  it('is deterministic under the generator and under T.manualSeed', async () => {
    const ei = planted(4, 200, 10, 0.7, 11);
    const a = await partitionGraph(ei, 4, { generator: new T.Generator(5) });
    const b = await partitionGraph(ei, 4, { generator: new T.Generator(5) });
    expect(Array.from(b.part)).toEqual(Array.from(a.part));
    T.manualSeed(9);
    const c = await partitionGraph(ei, 4);
    T.manualSeed(9);
    const d = await partitionGraph(ei, 4);
    expect(Array.from(d.part)).toEqual(Array.from(c.part));
    ei.dispose();
  });

  it('handles disconnected graphs and isolated nodes', async () => {
    // four 30-node cycles (ids interleaved so components are not id ranges) and 40 isolated nodes
    const pairs: Pairs = [];
    for (let c = 0; c < 4; c++) for (let i = 0; i < 30; i++) pairs.push([4 * i + c, 4 * ((i + 1) % 30) + c]);
    const n = 160;
    const r4 = await partitionGraph(toEdges(pairs), 4, { numNodes: n, generator: new T.Generator(0) });
    expect(r4.balance).toBeLessThanOrEqual(1.03);
    expect(r4.edgeCut).toBeLessThanOrEqual(4); // a cycle split in two arcs costs 2; whole cycles cost 0
    const r7 = await partitionGraph(toEdges(pairs), 7, { numNodes: n, generator: new T.Generator(0) });
    expect(Math.max(...r7.partSizes)).toBeLessThanOrEqual(Math.ceil(n / 7));
    expect(Math.min(...r7.partSizes)).toBeGreaterThan(0);
    // no edges at all
    const empty = await partitionGraph({ row: [], col: [] }, 3, { numNodes: 10, generator: new T.Generator(0) });
    expect(Array.from(empty.partSizes).sort()).toEqual([3, 3, 4]);
    expect(empty.edgeCut).toBe(0);
  });

  it('numParts = 1 and numParts = numNodes', async () => {
    const ei = planted(2, 20, 6, 0.8, 1);
    const one = await partitionGraph(ei, 1);
    expect(Array.from(one.part)).toEqual(new Array(40).fill(0));
    expect(one.edgeCut).toBe(0);
    expect(one.balance).toBe(1);
    const all = await partitionGraph(ei, 40, { generator: new T.Generator(3) });
    expect([...all.part].sort((a, b) => a - b)).toEqual(Array.from({ length: 40 }, (_, i) => i));
    expect(all.edgeCut).toBe(all.totalEdgeWeight);
    ei.dispose();
  });

  it('treats the graph as undirected and simple: loops, repeats and reverse edges do not change it; inputs untouched', async () => {
    const base: Pairs = [[0, 1], [1, 2], [2, 3], [3, 0], [4, 5], [5, 6], [6, 7], [7, 4], [0, 4]];
    const noisy: Pairs = [...base, [1, 0], [2, 1], [1, 2], [5, 5], [0, 0], [4, 0], [7, 4]];
    const row = Int32Array.from(noisy.map((p) => p[0]));
    const col = Int32Array.from(noisy.map((p) => p[1]));
    const rowCopy = row.slice();
    const colCopy = col.slice();
    const r = await partitionGraph({ row, col }, 2, { generator: new T.Generator(0) });
    expect(Array.from(row)).toEqual(Array.from(rowCopy));
    expect(Array.from(col)).toEqual(Array.from(colCopy));
    expect(r.totalEdgeWeight).toBe(base.length);
    expect(r.edgeCut).toBe(1); // the two 4-cycles, joined by one edge
    // the CSR itself: symmetric, loop-free, no repeated neighbour, parallel edges keep the largest weight
    const g = undirectedCsr(Int32Array.from([0, 1, 0, 2, 2]), Int32Array.from([1, 0, 1, 2, 0]), 3, Float64Array.from([1, 5, 2, 9, 3]), new Float64Array(3).fill(1));
    const nb = (u: number) => Array.from(g.adjncy.subarray(g.xadj[u], g.xadj[u + 1])).map((v, i) => [v, g.adjwgt[g.xadj[u] + i]]).sort((a, b) => a[0] - b[0]);
    expect(nb(0)).toEqual([[1, 5], [2, 3]]);
    expect(nb(1)).toEqual([[0, 5]]);
    expect(nb(2)).toEqual([[0, 3]]);
  });

  it('respects edge weights and node weights', async () => {
    // an 8-cycle whose light edges are (1, 2) and (5, 6): the only good bisection cuts those two
    const pairs: Pairs = [[0, 1], [1, 2], [2, 3], [3, 4], [4, 5], [5, 6], [6, 7], [7, 0]];
    const w = [10, 1, 10, 10, 10, 1, 10, 10];
    for (const edgeWeight of [w, T.tensor(w)]) {
      const r = await partitionGraph(toEdges(pairs), 2, { edgeWeight, generator: new T.Generator(4) });
      expect(r.edgeCut).toBe(2);
      expect(r.part[2]).toBe(r.part[5]);
      expect(r.part[6]).toBe(r.part[1]);
      expect(r.part[2]).not.toBe(r.part[1]);
    }
    // node weights: one node weighs as much as the other three together
    const r = await partitionGraph({ row: [0, 1, 2], col: [1, 2, 3] }, 2, { nodeWeight: [3, 1, 1, 1], generator: new T.Generator(0) });
    expect(Array.from(r.partWeights).sort()).toEqual([3, 3]);
    expect(r.balance).toBe(1);
    expect(r.part[1]).toBe(r.part[2]);
    expect(r.part[0]).not.toBe(r.part[1]);
  });

  it('rejects bad input with clear errors', async () => {
    const ei = toEdges([[0, 1], [1, 2]]);
    await expect(partitionGraph(ei, 4)).rejects.toThrow(/partitionGraph: numParts \(4\) exceeds the number of nodes \(3\)/);
    await expect(partitionGraph(ei, 0)).rejects.toThrow(/numParts must be a positive integer, received 0/);
    await expect(partitionGraph(ei, 1.5)).rejects.toThrow(/numParts must be a positive integer/);
    await expect(partitionGraph(ei, 2, { imbalance: 0.9 })).rejects.toThrow(/imbalance must be a finite number >= 1, received 0.9/);
    await expect(partitionGraph(ei, 2, { numNodes: 2 })).rejects.toThrow(/node id outside \[0, 2\)/);
    await expect(partitionGraph(ei, 2, { edgeWeight: [1] })).rejects.toThrow(/expected edgeWeight of length 2 \(one per edge\), received 1/);
    await expect(partitionGraph(ei, 2, { edgeWeight: [1, -1] })).rejects.toThrow(/edgeWeight\[1\] = -1; weights must be finite and non-negative/);
    await expect(partitionGraph(ei, 2, { nodeWeight: [1, 1, NaN] })).rejects.toThrow(/nodeWeight\[2\] = NaN/);
    await expect(partitionGraph(ei, 2, { nodeWeight: [0, 0, 0] })).rejects.toThrow(/node weights sum to 0/);
    await expect(partitionGraph(ei.cast('float32'), 2)).rejects.toThrow(/expected edgeIndex of dtype int32, received float32/);
    await expect(partitionGraph({ row: [0, 1], col: [1] }, 2)).rejects.toThrow(/row and col must have the same length/);
    await expect(partitionGraph({ row: [0, 1.5], col: [1, 2] }, 2)).rejects.toThrow(/row\[1\] = 1.5 is not an int32 node id/);
    await expect(partitionGraph(ei, 2, { generator: {} as T.Generator })).rejects.toThrow(/generator must be a T.Generator/);
    ei.dispose();
  });
});

describe('stochasticBlockModel', () => {
  it('undirected: symmetric, loop-free, no repeats, sorted, edge counts as the probabilities say', async () => {
    const sizes = [300, 200, 100];
    const p = [[0.05, 0.01, 0.002], [0.01, 0.08, 0.02], [0.002, 0.02, 0.3]];
    const ei = stochasticBlockModel(sizes, p, { generator: new T.Generator(3) });
    const { row, col } = await hostEdges(ei);
    const n = 600;
    const block = (u: number) => (u < 300 ? 0 : u < 500 ? 1 : 2);
    const keys = new Set<number>();
    const counts = [[0, 0, 0], [0, 0, 0], [0, 0, 0]];
    let loops = 0;
    let unsorted = 0;
    for (let e = 0; e < row.length; e++) {
      if (row[e] === col[e]) loops++;
      if (e > 0 && !(row[e - 1] < row[e] || (row[e - 1] === row[e] && col[e - 1] < col[e]))) unsorted++;
      keys.add(row[e] * n + col[e]);
      counts[block(row[e])][block(col[e])]++;
    }
    expect([loops, unsorted]).toEqual([0, 0]);
    expect(keys.size).toBe(row.length);
    expect(Array.from(row).filter((r, e) => !keys.has(col[e] * n + r))).toEqual([]);
    for (let a = 0; a < 3; a++) {
      for (let b = a; b < 3; b++) {
        const pairs = a === b ? (sizes[a] * (sizes[a] - 1)) / 2 : sizes[a] * sizes[b];
        const got = a === b ? counts[a][a] / 2 : counts[a][b];
        const mean = pairs * p[a][b];
        expect(Math.abs(got - mean)).toBeLessThan(4 * Math.sqrt(mean * (1 - p[a][b])) + 1);
      }
    }
    ei.dispose();
  });

  it('directed, dense block pairs, determinism', async () => {
    const ei = stochasticBlockModel([50, 50], { pIn: 0.9, pOut: 0 }, { directed: true, generator: new T.Generator(1) });
    const { row, col } = await hostEdges(ei);
    const keys = new Set(Array.from(row, (r, e) => r * 100 + col[e]));
    expect(keys.size).toBe(row.length);
    expect(Array.from(row).filter((r, e) => r === col[e] || Math.floor(r / 50) !== Math.floor(col[e] / 50))).toEqual([]);
    const mean = 2 * 50 * 49 * 0.9;
    expect(Math.abs(row.length - mean)).toBeLessThan(4 * Math.sqrt(mean * 0.1));
    let asymmetric = 0;
    for (let e = 0; e < row.length; e++) if (!keys.has(col[e] * 100 + row[e])) asymmetric++;
    expect(asymmetric).toBeGreaterThan(0);
    // p = 1: complete blocks, exactly
    const full = stochasticBlockModel([5, 4], { pIn: 1, pOut: 0 });
    expect(full.shape).toEqual([2, 5 * 4 + 4 * 3]);
    full.dispose();
    const again = stochasticBlockModel([50, 50], { pIn: 0.9, pOut: 0 }, { directed: true, generator: new T.Generator(1) });
    expect(Array.from(await again.data())).toEqual(Array.from(await ei.data()));
    T.dispose([ei, again]);
  });

  it('binomial draws have the right mean and variance in both regimes', () => {
    const gen = new T.Generator(12);
    for (const [n, p] of [[1000, 0.005], [100000, 0.01], [50, 0.8]] as const) {
      const draws = Array.from({ length: 4000 }, () => binomial(n, p, gen));
      const m = draws.reduce((a, b) => a + b, 0) / draws.length;
      const v = draws.reduce((a, b) => a + (b - m) ** 2, 0) / (draws.length - 1);
      const sd = Math.sqrt(n * p * (1 - p));
      expect(Math.abs(m - n * p)).toBeLessThan((4 * sd) / Math.sqrt(draws.length));
      expect(v / (sd * sd)).toBeGreaterThan(0.85);
      expect(v / (sd * sd)).toBeLessThan(1.15);
      for (const d of draws) expect(Number.isInteger(d) && d >= 0 && d <= n).toBe(true);
    }
  });

  it('rejects bad input', () => {
    expect(() => stochasticBlockModel([3, 3], [[0.1, 0.2], [0.3, 0.1]])).toThrow(/undirected model needs symmetric edgeProbs, received edgeProbs\[1\]\[0\] = 0.3/);
    expect(() => stochasticBlockModel([3, 3], [[0.1, 0.2]])).toThrow(/expected edgeProbs of shape \[2, 2\]/);
    expect(() => stochasticBlockModel([3, 3], { pIn: 1.5, pOut: 0 })).toThrow(/pIn must be a probability in \[0, 1\], received 1.5/);
    expect(() => stochasticBlockModel([3, -1], { pIn: 0.5, pOut: 0 })).toThrow(/block sizes must be non-negative integers, received -1/);
    expect(() => stochasticBlockModel([], { pIn: 0.5, pOut: 0 })).toThrow(/blockSizes must be a non-empty array/);
  });
});

forEachBackend('ClusterData and ClusterLoader', (device) => {
  /** An SBM graph with random features, labels, masks, edge weights and edge features. */
  async function makeGraph(n = 240, blocks = 6) {
    const ei = planted(blocks, n / blocks, 8, 0.8, 21, device);
    const E = ei.shape[1];
    const gen = new T.Generator(8);
    const x = T.tensor(Float32Array.from(gen.normal(n * 3)), { shape: [n, 3], device });
    const y = T.tensor(Int32Array.from({ length: n }, (_, u) => Math.floor(u / (n / blocks))), { dtype: 'int32', device });
    const trainMask = T.tensor(Uint8Array.from({ length: n }, (_, u) => (u % 5 === 0 ? 1 : 0)), { dtype: 'bool', device });
    const edgeWeight = T.tensor(Float32Array.from(gen.uniform(E)), { device });
    const edgeAttr = T.tensor(Float32Array.from(gen.normal(2 * E)), { shape: [E, 2], device });
    const g = new Graph({ x, y, trainMask, edgeIndex: ei, edgeWeight, edgeAttr, numNodes: n });
    const host = { ...(await hostEdges(ei)), x: await x.data(), y: await y.data(), mask: await trainMask.data(), w: await edgeWeight.data(), attr: await edgeAttr.data() };
    return { g, host, n, E };
  }

  it('permutes the nodes into contiguous clusters', async () => {
    const { g, n } = await makeGraph();
    const data = await ClusterData.create(g, 10, { generator: new T.Generator(1) });
    g.dispose(); // the ClusterData holds its own views
    expect(data.length).toBe(10);
    expect([...data.perm].sort((a, b) => a - b)).toEqual(Array.from({ length: n }, (_, i) => i));
    expect(data.partptr[0]).toBe(0);
    expect(data.partptr[10]).toBe(n);
    for (let c = 0; c < 10; c++) {
      expect(data.partptr[c + 1] - data.partptr[c]).toBe(data.partition.partSizes[c]);
      for (const u of data.clusterNodes(c)) expect(data.partition.part[u]).toBe(c);
    }
    expect(data.partition.balance).toBeLessThanOrEqual(1.03 + 1e-12);
    data.dispose();
  });

  it('covers every node once per epoch and cuts out exactly the induced subgraph, attributes gathered', async () => {
    const { g, host, n, E } = await makeGraph();
    const data = await ClusterData.create(g, 10, { generator: new T.Generator(1) });
    const loader = new ClusterLoader(data, { batchSize: 3, shuffle: true, generator: new T.Generator(2) });
    expect(loader.length).toBe(4);
    await settleGarbage();
    await settleGarbage();
    const before = T.memory();
    for (let epoch = 0; epoch < 2; epoch++) {
      const seen = new Uint8Array(n);
      let batches = 0;
      for await (const batch of loader) {
        batches++;
        const nId = (await batch.get('nId')!.data()) as Int32Array;
        const eId = (await batch.get('eId')!.data()) as Int32Array;
        expect(batch.numNodes).toBe(nId.length);
        const inBatch = new Set(nId);
        expect(nId.filter((u) => seen[u]).length).toBe(0);
        for (const u of nId) seen[u] = 1;
        // brute force: every original edge with both ends in the batch, and nothing else
        const want: number[] = [];
        for (let e = 0; e < E; e++) if (inBatch.has(host.row[e]) && inBatch.has(host.col[e])) want.push(e);
        expect([...eId].sort((a, b) => a - b)).toEqual(want);
        const { row, col } = await hostEdges(batch.edgeIndex!);
        expect(Array.from(row, (r) => nId[r])).toEqual(Array.from(eId, (e) => host.row[e]));
        expect(Array.from(col, (c) => nId[c])).toEqual(Array.from(eId, (e) => host.col[e]));
        // node rows are the original rows of nId, edge rows those of eId
        expect(Array.from(await batch.x!.data())).toEqual(Array.from(nId).flatMap((u) => [0, 1, 2].map((f) => host.x[3 * u + f])));
        expect(Array.from(await batch.y!.data())).toEqual(Array.from(nId, (u) => host.y[u]));
        expect(Array.from(await batch.trainMask!.data())).toEqual(Array.from(nId, (u) => host.mask[u]));
        expect(Array.from(await batch.edgeWeight!.data())).toEqual(Array.from(eId, (e) => host.w[e]));
        expect(Array.from(await batch.edgeAttr!.data())).toEqual(Array.from(eId).flatMap((e) => [host.attr[2 * e], host.attr[2 * e + 1]]));
        batch.dispose();
      }
      expect(batches).toBe(4);
      expect(seen.every((s) => s === 1)).toBe(true);
    }
    await settleGarbage();
    expect(T.memory().tensors).toBe(before.tensors);
    expect(T.memory().bytes).toBe(before.bytes);
    data.dispose();
    g.dispose();
  });

  it('one cluster keeps only its internal edges; shuffling is seeded; bad input is refused', async () => {
    const { g, host } = await makeGraph(120, 4);
    const data = await ClusterData.create(g, 4, { generator: new T.Generator(3) });
    const c0 = data.get(0);
    const nodes = new Set(data.clusterNodes(0));
    const internal = Array.from(host.row).filter((r, e) => nodes.has(r) && nodes.has(host.col[e])).length;
    expect(c0.numEdges).toBe(internal);
    expect(c0.numNodes).toBe(nodes.size);
    c0.dispose();
    const order = (seed: number) => new ClusterLoader(data, { batchSize: 2, shuffle: true, generator: new T.Generator(seed) }).batchClusters();
    expect(order(5)).toEqual(order(5));
    expect(new ClusterLoader(data, { batchSize: 3 }).batchClusters()).toEqual([[0, 1, 2], [3]]);
    expect(() => data.collate([1, 1])).toThrow(/ClusterData.collate: cluster 1 is listed twice/);
    expect(() => data.collate([4])).toThrow(/expected a cluster id in \[0, 4\), received 4/);
    expect(() => new ClusterLoader(data, { batchSize: 0 })).toThrow(/batchSize must be a positive integer/);
    await expect(ClusterData.create(g, 500)).rejects.toThrow(/numParts \(500\) exceeds the number of nodes \(120\)/);
    // a failed collate leaves the scratch clean: the next batch is right
    expect(data.collate([2, 3]).numNodes).toBe(data.partition.partSizes[2] + data.partition.partSizes[3]);
    data.dispose();
    g.dispose();
  });
});

forEachBackend('clusterGcnNorm', (device) => {
  it('equals (D + I)^-1 (A + I) + λ diag(·) computed densely, and drives GCNConv with normalize: false', async () => {
    const n = 5; // node 4 is isolated
    const pairs: Pairs = [[0, 1], [1, 0], [1, 2], [2, 1], [2, 0], [3, 2], [0, 0]];
    const w = [0.5, 0.5, 2, 2, 1, 3, 1];
    const lambda = 0.7;
    // dense A[i][j] = weight of edge j -> i (messages flow source -> target)
    const A = Array.from({ length: n }, () => new Array<number>(n).fill(0));
    pairs.forEach(([j, i], e) => (A[i][j] += w[e]));
    const expected = Array.from({ length: n }, () => new Array<number>(n).fill(0));
    for (let i = 0; i < n; i++) {
      // node 0 already has a loop: A + I keeps its weight (as gcnNorm), others get 1
      const loop = A[i][i] > 0 ? A[i][i] : 1;
      const row = A[i].map((v, j) => (j === i ? loop : v));
      const d = row.reduce((a, b) => a + b, 0);
      for (let j = 0; j < n; j++) expected[i][j] = row[j] / d + (i === j ? (lambda * row[j]) / d : 0);
    }
    const ei = toEdges(pairs, device);
    const weight = T.tensor(w, { device });
    const out = clusterGcnNorm(ei, { numNodes: n, lambda, edgeWeight: weight });
    expect(out.edgeIndex.shape).toEqual([2, pairs.length + n]);
    const { row, col } = await hostEdges(out.edgeIndex);
    const vals = await out.edgeWeight.data();
    const dense = Array.from({ length: n }, () => new Array<number>(n).fill(0));
    for (let e = 0; e < row.length; e++) dense[col[e]][row[e]] += vals[e];
    await expectClose(T.tensor(dense.flat()), expected.flat(), { atol: 1e-6 });
    // unweighted, λ = 0: each row sums to 1
    const plain = clusterGcnNorm(ei, { numNodes: n });
    const sums = new Array<number>(n).fill(0);
    const pv = await plain.edgeWeight.data();
    const pc = (await hostEdges(plain.edgeIndex)).col;
    for (let e = 0; e < pc.length; e++) sums[pc[e]] += pv[e];
    await expectClose(T.tensor(sums), new Array(n).fill(1), { atol: 1e-6 });
    // GCNConv with the weights as given: Ã' X Θ + b
    const conv = new GCNConv(3, 2, { normalize: false, device });
    const x = T.tensor(Float32Array.from(new T.Generator(4).normal(n * 3)), { shape: [n, 3], device });
    const y = conv.forward(x, out.edgeIndex, { edgeWeight: out.edgeWeight });
    const xw = await T.matmul(x, T.transpose(conv.lin.weight, 0, 1)).data();
    const b = await conv.bias!.data();
    const want = Array.from({ length: n }, (_, i) => [0, 1].map((o) => expected[i].reduce((s, a, j) => s + a * xw[2 * j + o], 0) + b[o]));
    await expectClose(y, want.flat(), { atol: 1e-5 });
    expect(() => clusterGcnNorm(ei, { numNodes: n, lambda: NaN })).toThrow(/clusterGcnNorm: lambda must be a finite number, received NaN/);
    expect(() => clusterGcnNorm(ei, { numNodes: n, edgeWeight: T.tensor([1, 2], { device }) })).toThrow(/expected edgeWeight of shape \[7\] \(one per edge\), received \[2\]/);
    T.dispose([ei, weight, out.edgeIndex, out.edgeWeight, plain.edgeIndex, plain.edgeWeight, x, y]);
    conv.dispose();
  });
});
