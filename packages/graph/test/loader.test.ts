import { describe, expect, it } from 'vitest';
import * as T from '@tessera/tensor';
import { forEachBackend, expectClose } from '../../tensor/test/helpers.js';
import { Graph } from '../src/data/graph.js';
import { gcnNorm } from '../src/utils/norm.js';
import { toCsc } from '../src/loader/csc.js';
import { sampleNeighbors } from '../src/loader/neighbor-sampler.js';
import { NeighborLoader, type NeighborBatch } from '../src/loader/neighbor-loader.js';
import { FastGCNSampler, type FastGCNBatch } from '../src/loader/fastgcn.js';

type Pairs = [number, number][];
const ei = (pairs: Pairs, device: T.DeviceName) =>
  T.tensor(Int32Array.from([...pairs.map((p) => p[0]), ...pairs.map((p) => p[1])]), { dtype: 'int32', shape: [2, pairs.length], device });

/** A seeded random directed multigraph (duplicate edges and self-loops included). */
function randomPairs(n: number, e: number, seed: number): Pairs {
  const u = new T.Generator(seed).uniform(2 * e);
  return Array.from({ length: e }, (_, i) => [Math.floor(u[2 * i] * n), Math.floor(u[2 * i + 1] * n)]);
}

/** A seeded random undirected simple graph (both directions, no loops, no duplicates). */
function randomUndirected(n: number, e: number, seed: number): Pairs {
  const keys = new Set<number>();
  for (const [a, b] of randomPairs(n, e, seed)) if (a !== b) keys.add(Math.min(a, b) * n + Math.max(a, b));
  return [...keys].flatMap((k) => [[Math.floor(k / n), k % n], [k % n, Math.floor(k / n)]] as Pairs);
}

/**
 * Upper critical value of χ² with `df` degrees of freedom at level 0.001 (Wilson–Hilferty; within
 * 1 % of the exact quantile for df ≥ 3).
 */
function chiSquareCritical(df: number): number {
  const z = 3.0902;
  const a = 2 / (9 * df);
  return df * (1 - a + z * Math.sqrt(a)) ** 3;
}

function chiSquare(observed: number[], expected: number[]): number {
  return observed.reduce((s, o, i) => s + (o - expected[i]) ** 2 / expected[i], 0);
}

const ints = async (t: T.Tensor) => Array.from(await t.data(), Number);

interface ReadBatch {
  nId: number[];
  row: number[];
  col: number[];
  eId: number[];
  inputId: number[];
  x: number[];
  y: number[];
  edgeAttr: number[];
}

async function readBatch(b: NeighborBatch): Promise<ReadBatch> {
  const e = await ints(b.edgeIndex!);
  const E = b.numEdges;
  return {
    nId: await ints(b.nId), row: e.slice(0, E), col: e.slice(E), eId: await ints(b.eId), inputId: await ints(b.inputId),
    x: Array.from(await b.x!.data()), y: await ints(b.y!), edgeAttr: Array.from(await b.edgeAttr!.data()),
  };
}

forEachBackend('NeighborLoader', (device) => {
  const N = 60;
  const pairs = randomPairs(N, 400, 3);
  const inDegree = new Array<number>(N).fill(0);
  for (const [, d] of pairs) inDegree[d]++;
  const xs = Float32Array.from({ length: N * 3 }, (_, i) => Math.sin(i) * 10);
  const ys = Int32Array.from({ length: N }, (_, i) => (i * 7) % 5);
  const attrs = Float32Array.from({ length: pairs.length * 2 }, (_, i) => i / 2);
  const trainMask = Uint8Array.from({ length: N }, (_, i) => (i % 3 === 0 || i % 5 === 1 ? 1 : 0));
  const inputIds = [...trainMask.keys()].filter((i) => trainMask[i]);
  const makeGraph = () =>
    new Graph({
      x: T.tensor(xs, { shape: [N, 3], device }),
      y: T.tensor(ys, { dtype: 'int32', device }),
      edgeIndex: ei(pairs, device),
      edgeAttr: T.tensor(attrs, { shape: [pairs.length, 2], device }),
      trainMask: T.tensor(trainMask, { dtype: 'bool', device }),
    });

  it('yields subgraphs of sampled in-edges: seeds first, correct rows, fan-out min(degree, k), each input node once per epoch', async () => {
    const g = makeGraph();
    const before = T.memory().tensors;
    const numNeighbors = [3, 2];
    const loader = new NeighborLoader(g, { numNeighbors, batchSize: 7, inputNodes: g.trainMask, shuffle: true, generator: new T.Generator(11) });
    await loader.prepare();
    expect(loader.length).toBe(Math.ceil(inputIds.length / 7));
    const seen: number[] = [];
    let batches = 0;
    for await (const b of loader) {
      batches++;
      const r = await readBatch(b);
      const bs = b.batchSize;
      expect(bs).toBe(Math.min(7, inputIds.length - 7 * (batches - 1)));
      expect(b.numNodes).toBe(r.nId.length);
      expect(new Set(r.nId).size).toBe(r.nId.length); // nodes deduplicated
      expect(b.numSampledNodes.reduce((a, c) => a + c, 0)).toBe(b.numNodes);
      expect(b.numSampledEdges.reduce((a, c) => a + c, 0)).toBe(b.numEdges);
      expect(b.numSampledNodes[0]).toBe(bs);
      // seeds first, and inputId points at them in the input nodes
      const seeds = r.nId.slice(0, bs);
      expect(r.inputId.map((p) => inputIds[p])).toEqual(seeds);
      seen.push(...seeds);
      // every sampled edge is an original edge, relabelled to local ids, used at most once
      expect(new Set(r.eId).size).toBe(r.eId.length);
      for (let e = 0; e < r.eId.length; e++) expect([r.nId[r.row[e]], r.nId[r.col[e]]]).toEqual(pairs[r.eId[e]]);
      // fan-out: a node added at hop h draws min(in-degree, k_{h+1}) edges; the last hop's nodes none
      const fanIn = new Array<number>(b.numNodes).fill(0);
      for (const c of r.col) fanIn[c]++;
      let start = 0;
      b.numSampledNodes.forEach((count, hop) => {
        for (let i = start; i < start + count; i++) {
          const k = numNeighbors[hop];
          expect(fanIn[i], `node ${r.nId[i]} at hop ${hop}`).toBe(k === undefined ? 0 : Math.min(k, inDegree[r.nId[i]]));
        }
        start += count;
      });
      // node and edge rows gathered from the original graph
      expect(r.x).toEqual(r.nId.flatMap((v) => Array.from(xs.subarray(3 * v, 3 * v + 3))));
      expect(r.y).toEqual(r.nId.map((v) => ys[v]));
      expect(r.edgeAttr).toEqual(r.eId.flatMap((e) => [attrs[2 * e], attrs[2 * e + 1]]));
      b.dispose();
    }
    expect(batches).toBe(loader.length);
    expect([...seen].sort((a, b) => a - b)).toEqual(inputIds);
    expect(T.memory().tensors).toBe(before);
    g.dispose();
  });

  it('takes all neighbours with -1, exactly k with replacement, and is deterministic under the generator', async () => {
    const g = makeGraph();
    const runEpoch = async (options: { numNeighbors: number[]; replace?: boolean }, seed: number) => {
      const out: ReadBatch[] = [];
      const sizes: number[][] = [];
      for await (const b of new NeighborLoader(g, { ...options, batchSize: 16, shuffle: true, generator: new T.Generator(seed) })) {
        out.push(await readBatch(b));
        sizes.push([...b.numSampledNodes]);
        b.dispose();
      }
      return { out, sizes };
    };
    const all = await runEpoch({ numNeighbors: [-1] }, 1);
    for (const r of all.out) {
      const fanIn = new Map<number, number>();
      for (const c of r.col) fanIn.set(c, (fanIn.get(c) ?? 0) + 1);
      for (let i = 0; i < r.inputId.length; i++) expect(fanIn.get(i) ?? 0).toBe(inDegree[r.nId[i]]);
    }
    const withReplacement = await runEpoch({ numNeighbors: [5], replace: true }, 2);
    for (const r of withReplacement.out) {
      for (let i = 0; i < r.inputId.length; i++) expect(r.col.filter((c) => c === i).length).toBe(inDegree[r.nId[i]] > 0 ? 5 : 0);
      for (let e = 0; e < r.eId.length; e++) expect([r.nId[r.row[e]], r.nId[r.col[e]]]).toEqual(pairs[r.eId[e]]);
    }
    const a = await runEpoch({ numNeighbors: [4, 3] }, 7);
    const b = await runEpoch({ numNeighbors: [4, 3] }, 7);
    const c = await runEpoch({ numNeighbors: [4, 3] }, 8);
    expect(b).toEqual(a);
    expect(c.out.map((r) => r.nId)).not.toEqual(a.out.map((r) => r.nId));
    g.dispose();
  });

  it('rejects bad input with errors that name the loader', async () => {
    const g = makeGraph();
    expect(() => new NeighborLoader(g, { numNeighbors: [] })).toThrow(/NeighborLoader: numNeighbors must be a non-empty array/);
    expect(() => new NeighborLoader(g, { numNeighbors: [2, -3] })).toThrow(/integers ≥ -1/);
    expect(() => new NeighborLoader(g, { numNeighbors: [2], batchSize: 0 })).toThrow(/NeighborLoader: batchSize must be a positive integer, received 0/);
    expect(() => new NeighborLoader(g, { numNeighbors: [2], batchSize: -4 })).toThrow(/batchSize/);
    expect(() => new NeighborLoader(g, { numNeighbors: [2], inputNodes: [0, N] })).toThrow(`NeighborLoader: inputNodes holds node ${N}, outside [0, ${N})`);
    const outOfRange = T.tensor(Int32Array.from([1, 2, 99]), { dtype: 'int32', device });
    const loader = new NeighborLoader(g, { numNeighbors: [2], inputNodes: outOfRange });
    await expect(loader.prepare()).rejects.toThrow(/NeighborLoader: inputNodes holds node 99, outside \[0, 60\)/);
    const noEdges = new Graph({ x: T.zeros([3, 1], { device }) });
    expect(() => new NeighborLoader(noEdges, { numNeighbors: [2] })).toThrow(/no edgeIndex/);
    noEdges.dispose();
    const csc = await toCsc(g.edgeIndex!, N);
    expect(() => sampleNeighbors(csc, [0, 0], { numNeighbors: [1] })).toThrow(/sampleNeighbors: seed 0 appears more than once/);
    expect(() => sampleNeighbors(csc, [N], { numNeighbors: [1] })).toThrow(/sampleNeighbors: seed 60 is outside \[0, 60\)/);
    T.dispose([outOfRange]);
    g.dispose();
  });
});

describe('sampleNeighbors: uniform draws (χ² at level 0.001, fixed seed)', () => {
  // node 0 has in-neighbours 1..6 (plus an edge into node 1 that must never be drawn for node 0)
  const star = async () => {
    const edges = ei([[1, 0], [2, 0], [3, 0], [4, 0], [5, 0], [6, 0], [0, 1]], 'cpu');
    const csc = await toCsc(edges);
    edges.dispose();
    return csc;
  };

  it('without replacement every 2-subset of the 6 neighbours is equally likely', async () => {
    const csc = await star();
    expect(Array.from(csc.colPtr)).toEqual([0, 6, 7, 7, 7, 7, 7, 7]);
    const gen = new T.Generator(123);
    const counts = new Map<string, number>();
    const M = 3000;
    for (let i = 0; i < M; i++) {
      const s = sampleNeighbors(csc, [0], { numNeighbors: [2], generator: gen });
      expect(s.row.length).toBe(2);
      const picked = [...s.node.subarray(1)].sort((a, b) => a - b);
      expect(picked[0]).not.toBe(picked[1]);
      counts.set(picked.join(','), (counts.get(picked.join(',')) ?? 0) + 1);
    }
    expect(counts.size).toBe(15);
    const stat = chiSquare([...counts.values()], new Array(15).fill(M / 15));
    expect(stat).toBeLessThan(chiSquareCritical(14));
  });

  it('with replacement every ordered pair of draws is equally likely', () => {
    return star().then((csc) => {
      const gen = new T.Generator(321);
      const counts = new Array<number>(36).fill(0);
      const M = 3600;
      for (let i = 0; i < M; i++) {
        const s = sampleNeighbors(csc, [0], { numNeighbors: [2], replace: true, generator: gen });
        const [a, b] = Array.from(s.row, (r) => s.node[r]);
        counts[(a - 1) * 6 + (b - 1)]++;
      }
      expect(chiSquare(counts, new Array(36).fill(M / 36))).toBeLessThan(chiSquareCritical(35));
    });
  });
});

/** The path 0 – 1 – 2 (both directions). */
const pathGraph = (device: T.DeviceName) => new Graph({ edgeIndex: ei([[0, 1], [1, 0], [1, 2], [2, 1]], device), numNodes: 3 });

describe('FastGCNSampler: proposal and estimator (cpu, float64)', () => {
  it('computes q(u) ∝ ‖Â(:, u)‖² by hand on a path', async () => {
    // Ã = A + I has degrees [2, 3, 2]; Â = D̃^-1/2 Ã D̃^-1/2: columns 0 and 2 hold 1/2 and 1/√6, column 1 holds 1/√6, 1/3, 1/√6,
    // so ‖Â(:, 0)‖² = 1/4 + 1/6 = 15/36, ‖Â(:, 1)‖² = 1/6 + 1/9 + 1/6 = 16/36, ‖Â(:, 2)‖² = 15/36.
    const g = pathGraph('cpu');
    const s = await new FastGCNSampler(g, { numSamples: [2] }).prepare();
    const q = s.proposal();
    [15 / 46, 16 / 46, 15 / 46].forEach((v, i) => expect(q[i]).toBeCloseTo(v, 14));
    const A = s.adjacency();
    const dense = A.toDense();
    A.dispose();
    const r6 = 1 / Math.sqrt(6);
    await expectClose(dense, [[0.5, r6, 0], [r6, 1 / 3, r6], [0, r6, 0.5]], { atol: 1e-7 });
    dense.dispose();
    // unnormalised: Â = A + I, column norms² = 2, 3, 2
    const raw = await new FastGCNSampler(g, { numSamples: [2], normalize: false }).prepare();
    [2 / 7, 3 / 7, 2 / 7].forEach((v, i) => expect(raw.proposal()[i]).toBeCloseTo(v, 14));
    g.dispose();
  });

  it('uses the same Â as gcnNorm (GCNConv) on a random graph with loops and duplicate edges', async () => {
    const N = 25;
    const pairs = randomPairs(N, 90, 5);
    const g = new Graph({ edgeIndex: ei(pairs, 'cpu'), numNodes: N });
    const s = await new FastGCNSampler(g, { numSamples: [3], dtype: 'float64' }).prepare();
    const A = s.adjacency();
    const mine = A.toDense();
    A.dispose();
    const norm = gcnNorm(g.edgeIndex!, null, N, { dtype: 'float64' });
    // gcnNorm lists (source, target); Â's rows are targets
    const refSparse = T.tidy(() => T.sparseCooTensor(T.flip(norm.edgeIndex, 0), norm.edgeWeight, [N, N]));
    const ref = refSparse.toDense();
    await expectClose(mine, ref, { atol: 1e-12 });
    T.dispose([mine, ref, norm.edgeIndex, norm.edgeWeight]);
    refSparse.dispose();
    g.dispose();
  });

  it('draws nodes with the frequencies of q (χ² at level 0.001)', async () => {
    const N = 40;
    const g = new Graph({ edgeIndex: ei(randomUndirected(N, 70, 9), 'cpu'), numNodes: N });
    const s = await new FastGCNSampler(g, { numSamples: [5], generator: new T.Generator(2) }).prepare();
    const q = s.proposal();
    expect(q.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 12);
    const M = 40_000;
    const counts = new Array<number>(N).fill(0);
    for (const v of s.drawNodes(M)) counts[v]++;
    expect(Math.min(...q) * M).toBeGreaterThan(5); // χ² needs ≥ 5 expected per cell
    expect(chiSquare(counts, Array.from(q, (p) => p * M))).toBeLessThan(chiSquareCritical(N - 1));
    g.dispose();
  });

  /** The mean of `draws` estimates of (Â^L H)[batch] against the exact value, within 4.5 standard errors. */
  async function checkUnbiased(support: 'all' | 'batch', numSamples: number[]) {
    const N = 30;
    const g = new Graph({ edgeIndex: ei(randomUndirected(N, 60, 4), 'cpu'), numNodes: N });
    const F = 3;
    const H = T.tensor(Float64Array.from({ length: N * F }, (_, i) => Math.cos(1.7 * i) + 0.5), { shape: [N, F], dtype: 'float64', device: 'cpu' });
    const s = await new FastGCNSampler(g, { numSamples, support, dtype: 'float64', generator: new T.Generator(17) }).prepare();
    const batch = [3, 8, 0, 21, 14];
    const A = s.adjacency();
    const exact = T.tidy(() => {
      let h = H;
      for (let l = 0; l < numSamples.length; l++) h = T.spmm(A, h);
      return T.indexSelect(h, 0, T.tensor(Int32Array.from(batch), { dtype: 'int32', device: 'cpu' }));
    });
    const want = Array.from(await exact.data());
    const M = 2000;
    const sum = new Float64Array(batch.length * F);
    const sumSq = new Float64Array(batch.length * F);
    for (let m = 0; m < M; m++) {
      const b: FastGCNBatch = s.sampleLayers(batch);
      const est = T.tidy(() => {
        let h = T.indexSelect(H, 0, b.nodes[0]);
        for (const layer of b.layers) h = T.spmm(layer.adj, h);
        return h;
      });
      const d = est.dataSync();
      for (let i = 0; i < d.length; i++) {
        sum[i] += d[i];
        sumSq[i] += d[i] * d[i];
      }
      est.dispose();
      b.dispose();
    }
    let worst = 0;
    for (let i = 0; i < sum.length; i++) {
      const mean = sum[i] / M;
      const se = Math.sqrt(Math.max(sumSq[i] / M - mean * mean, 0) / M);
      worst = Math.max(worst, Math.abs(mean - want[i]) / (se + 1e-12));
    }
    expect(worst).toBeLessThan(4.5);
    T.dispose([H, exact]);
    A.dispose();
    g.dispose();
  }

  it('is unbiased: the mean of sampled one-layer products approaches (ÂH)[batch]', () => checkUnbiased('all', [6]));
  it('is unbiased with two sampled layers: the mean approaches (Â²H)[batch]', () => checkUnbiased('all', [8, 6]));
  it("is unbiased with the support restricted to the batch's neighbourhood", () => checkUnbiased('batch', [4]));
});

forEachBackend('FastGCNSampler', (device) => {
  it('yields per batch the sampled nodes and consistent sparse / edge-list layers; each input node once per epoch', async () => {
    const N = 50;
    const pairs = randomUndirected(N, 120, 12);
    const before = T.memory().tensors;
    const g = new Graph({ edgeIndex: ei(pairs, device), numNodes: N });
    const inputNodes = Array.from({ length: 23 }, (_, i) => 2 * i + 1);
    const s = new FastGCNSampler(g, { numSamples: [10, 12], batchSize: 6, inputNodes, shuffle: true, generator: new T.Generator(3) });
    expect(s.length).toBe(4);
    await s.prepare();
    const A = s.adjacency();
    const denseT = A.toDense();
    const dense = Array.from(await denseT.data());
    denseT.dispose();
    const q = s.proposal();
    const seen: number[] = [];
    for await (const b of s) {
      expect(b.nodes).toHaveLength(3);
      expect(b.layers).toHaveLength(2);
      const ids = await Promise.all(b.nodes.map(ints));
      expect(ids[2]).toHaveLength(b.batchSize);
      expect((await ints(b.inputId!)).map((p) => inputNodes[p])).toEqual(ids[2]);
      seen.push(...ids[2]);
      for (let l = 0; l < 2; l++) {
        const { adj, edgeIndex, edgeWeight } = b.layers[l];
        const [src, dst] = [ids[l], ids[l + 1]];
        expect(new Set(src).size).toBe(src.length);
        expect(src.length).toBeLessThanOrEqual([12, 10][l]);
        expect([...adj.shape]).toEqual([dst.length, src.length]);
        const idx = await ints(adj.indices);
        const val = Array.from(await adj.values.data());
        const nnz = val.length;
        expect(await ints(edgeIndex)).toEqual([...idx.slice(nnz), ...idx.slice(0, nnz)]);
        await expectClose(edgeWeight, val);
        // each entry is Â(v, u) · c / (t q(u)) for a positive integer count c ≤ t
        const t = [12, 10][l];
        for (let k = 0; k < nnz; k++) {
          const v = dst[idx[k]];
          const u = src[idx[nnz + k]];
          expect(dense[v * N + u]).not.toBe(0);
          const c = (val[k] * t * q[u]) / dense[v * N + u];
          expect(Math.abs(c - Math.round(c))).toBeLessThan(1e-3 * c);
          expect(Math.round(c)).toBeGreaterThanOrEqual(1);
          expect(Math.round(c)).toBeLessThanOrEqual(t);
        }
      }
      b.dispose();
    }
    expect(seen.sort((a, b) => a - b)).toEqual(inputNodes);
    A.dispose();
    g.dispose();
    expect(T.memory().tensors).toBe(before);
  });

  it('rejects bad input with errors that name the sampler', async () => {
    const g = pathGraph(device);
    expect(() => new FastGCNSampler(g, { numSamples: [] })).toThrow(/FastGCNSampler: numSamples must be a non-empty array of positive integers/);
    expect(() => new FastGCNSampler(g, { numSamples: [0] })).toThrow(/numSamples/);
    expect(() => new FastGCNSampler(g, { numSamples: [2], batchSize: 0 })).toThrow(/FastGCNSampler: batchSize must be a positive integer, received 0/);
    expect(() => new FastGCNSampler(g, { numSamples: [2], inputNodes: [3] })).toThrow('FastGCNSampler: inputNodes holds node 3, outside [0, 3)');
    expect(() => new FastGCNSampler(g, { numSamples: [2], support: 'local' as 'all' })).toThrow(/support must be 'all' or 'batch'/);
    const s = new FastGCNSampler(g, { numSamples: [2] });
    expect(() => s.proposal()).toThrow(/FastGCNSampler.proposal: call await sampler.prepare\(\) first/);
    await s.prepare();
    expect(() => s.sampleLayers([0, 5])).toThrow(/FastGCNSampler.sampleLayers: node 5 is outside \[0, 3\)/);
    if (device !== 'cpu') expect(() => new FastGCNSampler(g, { numSamples: [2], dtype: 'float64' })).toThrow(/float64 is cpu only/);
    const noLoops = new Graph({ x: T.zeros([3, 1], { device }), edgeIndex: ei([], device) });
    await expect(new FastGCNSampler(noLoops, { numSamples: [1], addSelfLoops: false }).prepare()).rejects.toThrow(/every column of Â is zero/);
    noLoops.dispose();
    g.dispose();
  });
});
