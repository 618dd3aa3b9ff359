import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as T from '@tessera/tensor';
import { backward, noGrad } from '@tessera/autodiff';
import * as nn from '@tessera/nn';
import { Adam } from '@tessera/optimize';
import { APPNP } from '../src/nn/conv/appnp.js';
import { ChebConv } from '../src/nn/conv/cheb.js';
import { DAGNNProp } from '../src/nn/conv/dagnn.js';
import { EdgeConv } from '../src/nn/conv/edge-conv.js';
import { GATConv } from '../src/nn/conv/gat.js';
import { GATv2Conv } from '../src/nn/conv/gatv2.js';
import { GCNConv } from '../src/nn/conv/gcn.js';
import { GINConv, GINEConv } from '../src/nn/conv/gin.js';
import { GraphConv } from '../src/nn/conv/graph-conv.js';
import { GWNNConv, heatWavelets, type GraphWavelets } from '../src/nn/conv/gwnn.js';
import { SAGEConv } from '../src/nn/conv/sage.js';
import { SGConv } from '../src/nn/conv/sg.js';
import { neighborhoodLayout } from '../src/nn/lstm-aggr.js';
import { checkCase, expectClose, settleGarbage, fixture, fixtureValues, forEachBackend, fromFixture, hasNonFinite, loadInputs, relabel, tol, withState, type FixtureTensor, type Inputs, type LayerCase } from './layer-helpers.js';

const mlp = (...sizes: number[]) => {
  const layers: nn.Module[] = [];
  for (let k = 0; k < sizes.length - 1; k++) {
    layers.push(new nn.Linear(sizes[k], sizes[k + 1]));
    if (k < sizes.length - 2) layers.push(new nn.ReLU());
  }
  return new nn.Sequential(...layers);
};

/** Resources a run made (layouts, wavelets) that the test disposes. */
type Extras = { dispose(): void }[];

interface ConvSpec {
  make: () => nn.Module;
  run: (m: any, i: Inputs, extras: Extras) => T.Tensor | Promise<T.Tensor>;
}

const plain = (m: any, i: Inputs) => m.forward(i.x, i.edgeIndex);
const weighted = (m: any, i: Inputs) => m.forward(i.x, i.edgeIndex, { edgeWeight: i.edgeWeight });
const withAttr = (m: any, i: Inputs) => m.forward(i.x, i.edgeIndex, { edgeAttr: i.edgeAttr });

/** The Tessera counterpart of each conv case in gen_layers.py. */
const convs: Record<string, ConvSpec> = {
  GCNConv: { make: () => new GCNConv(4, 3), run: plain },
  GCNConv_edgeWeight: { make: () => new GCNConv(4, 3), run: weighted },
  GCNConv_improved_selfLoops: { make: () => new GCNConv(4, 3, { improved: true }), run: weighted },
  GCNConv_noLoops: { make: () => new GCNConv(4, 3, { addSelfLoops: false }), run: weighted },
  GCNConv_unnormalized: { make: () => new GCNConv(4, 3, { normalize: false }), run: weighted },
  ChebConv_K3_sym: { make: () => new ChebConv(4, 3, 3), run: plain },
  ChebConv_K2_rw: { make: () => new ChebConv(4, 3, 2, { normalization: 'rw' }), run: (m, i) => m.forward(i.x, i.edgeIndex, { edgeWeight: i.edgeWeight, lambdaMax: i.lambdaMax }) },
  ChebConv_K4_none: { make: () => new ChebConv(4, 3, 4, { normalization: null, lambdaMax: 6 }), run: plain },
  SGConv_K2: { make: () => new SGConv(4, 3, { K: 2 }), run: plain },
  GraphConv_sum_edgeWeight: { make: () => new GraphConv(4, 3), run: weighted },
  GraphConv_mean: { make: () => new GraphConv(4, 3, { aggr: 'mean' }), run: plain },
  SAGEConv_mean: { make: () => new SAGEConv(4, 3), run: plain },
  SAGEConv_max_project: { make: () => new SAGEConv(4, 3, { aggr: 'max', project: true }), run: plain },
  SAGEConv_lstm: {
    make: () => new SAGEConv(4, 3, { aggr: 'lstm' }),
    // On cpu the layout is built inside; elsewhere it is read back once beforehand.
    run: async (m, i, extras) => {
      if (i.x.device === 'cpu') return m.forward(i.x, i.edgeIndex);
      const layout = await neighborhoodLayout(T.select(i.edgeIndex, 0, 1), i.x.shape[0]);
      extras.push(layout);
      return m.forward(i.x, i.edgeIndex, { layout });
    },
  },
  SAGEConv_mean_normalize_noroot: { make: () => new SAGEConv(4, 3, { normalize: true, rootWeight: false }), run: plain },
  SAGEConv_bipartite: { make: () => new SAGEConv([4, 5], 3), run: (m, i) => m.forward([i.x, i.xDst], i.edgeIndex) },
  GATConv_heads2_concat: { make: () => new GATConv(4, 3, { heads: 2 }), run: plain },
  GATConv_heads3_mean_selfLoops: { make: () => new GATConv(4, 2, { heads: 3, concat: false, negativeSlope: 0.1 }), run: plain },
  GATConv_edgeDim: { make: () => new GATConv(4, 3, { heads: 2, edgeDim: 3 }), run: withAttr },
  GATConv_noLoops: { make: () => new GATConv(4, 3, { heads: 2, addSelfLoops: false }), run: plain },
  GATv2Conv_heads2: { make: () => new GATv2Conv(4, 3, { heads: 2 }), run: plain },
  GATv2Conv_edgeDim_mean: { make: () => new GATv2Conv(4, 3, { heads: 2, concat: false, edgeDim: 3 }), run: withAttr },
  GATv2Conv_shareWeights: { make: () => new GATv2Conv(4, 3, { shareWeights: true }), run: plain },
  GINConv_trainEps: { make: () => new GINConv(mlp(4, 5, 3), { eps: 0.1, trainEps: true }), run: plain },
  GINConv: { make: () => new GINConv(mlp(4, 3)), run: plain },
  GINEConv_edgeDim: { make: () => new GINEConv(mlp(4, 5, 3), { edgeDim: 3 }), run: withAttr },
  APPNP_K3: { make: () => new APPNP(3, 0.1), run: weighted },
  DAGNNProp_K3: { make: () => new DAGNNProp(3, 4), run: plain },
  EdgeConv: { make: () => new EdgeConv(mlp(8, 5, 3)), run: plain },
  GWNNConv: {
    make: () => new GWNNConv(4, 3, 7),
    run: async (m, i, extras) => {
      const wavelets = await waveletsOf(gwnnCase, i.x.device);
      extras.push(wavelets);
      return m.forward(i.x, wavelets);
    },
  },
};

const convCases = fixture.convs.filter((c) => !c.name.startsWith('Aggregate_'));
const gwnnCase = convCases.find((c) => c.name === 'GWNNConv')!;

/** Two eval-mode forwards of `m` agree exactly; returns the first and puts `m` back in training mode. */
async function evalOutput(m: nn.Module & { forward(x: T.Tensor, edgeIndex: T.Tensor): T.Tensor }, x: T.Tensor, edgeIndex: T.Tensor): Promise<T.Tensor> {
  m.eval();
  const a = m.forward(x, edgeIndex);
  const b = m.forward(x, edgeIndex);
  await expectClose(a, b, { atol: 0, rtol: 0 });
  b.dispose();
  m.train();
  return a;
}

async function waveletsOf(c: LayerCase, device: T.DeviceName, threshold = c.threshold as number): Promise<GraphWavelets> {
  const ei = fromFixture(c.edgeIndex as FixtureTensor, device);
  try {
    return await heatWavelets(ei, 7, { scale: c.scale as number, order: c.order as number, threshold });
  } finally {
    ei.dispose();
  }
}

async function runCase(c: LayerCase, device: T.DeviceName, inputs: Inputs, extras: Extras) {
  const spec = convs[c.name];
  const m = await withState(spec.make(), c.state, device);
  const out = await spec.run(m, inputs, extras);
  return { m, out };
}

function disposeAll(inputs: Inputs, extras: Extras, ...rest: unknown[]) {
  T.dispose([...Object.values(inputs), ...rest]);
  for (const e of extras) e.dispose();
}

forEachBackend('graph convolutions match PyTorch (PyG semantics)', (device) => {
  it('has a spec for every fixture case', () => {
    expect(convCases.map((c) => c.name).filter((n) => !convs[n])).toEqual([]);
  });

  for (const c of convCases) {
    it(`${c.name}: output, input and parameter gradients`, async () => {
      const inputs = loadInputs(c, device);
      const extras: Extras = [];
      const { m, out } = await runCase(c, device, inputs, extras);
      await checkCase(c, m, inputs, out);
      disposeAll(inputs, extras, out);
      m.dispose();
    });
  }

  it('heatWavelets: the Chebyshev bases match e^{-sL} and e^{sL} and invert each other', async () => {
    const c = gwnnCase;
    const exact = await waveletsOf(c, device, 0);
    try {
      const psi = exact.psi.toDense();
      const inv = exact.psiInv.toDense();
      // Order 30 on a spectrum in [0, 2] leaves an error far below float32 precision.
      await expectClose(psi, fixtureValues(c.psiExact as FixtureTensor), { atol: 2e-5, rtol: 1e-4 });
      await expectClose(inv, fixtureValues(c.psiInvExact as FixtureTensor), { atol: 1e-4, rtol: 1e-4 });
      const prod = T.matmul(psi, inv);
      await expectClose(prod, T.eye(7, 7, { device }), { atol: 1e-4, rtol: 0 });
      T.dispose([psi, inv, prod]);
    } finally {
      exact.dispose();
    }
    const sparse = await waveletsOf(c, device);
    try {
      const psi = sparse.psi.toDense();
      await expectClose(psi, fixtureValues(c.inputs.psi as FixtureTensor), { atol: 2e-5, rtol: 1e-4 });
      const values = Array.from(await sparse.psi.values.data());
      expect(values.every((v) => Math.abs(v) >= (c.threshold as number))).toBe(true);
      expect(sparse.psi.nnz).toBeLessThan(49);
      psi.dispose();
    } finally {
      sparse.dispose();
    }
  });
});

describe('heatWavelets: the reference code\'s second basis', () => {
  it("inverse 'reference-code' is U diag(exp(s e^{-sλ})) Uᵀ of the normalised Laplacian (eigendecomposition, float64)", async () => {
    const c = gwnnCase;
    const s = c.scale as number;
    const ei = fromFixture(c.edgeIndex as FixtureTensor, 'cpu');
    const [rows, cols] = [Array.from((await T.select(ei, 0, 0).data()) as Int32Array), Array.from((await T.select(ei, 0, 1).data()) as Int32Array)];
    // L = I - D^-1/2 A D^-1/2 from the edge list (both directions present)
    const n = 7;
    const deg = new Array(n).fill(0);
    for (const r of rows) deg[r]++;
    const L = Array.from({ length: n * n }, (_, k) => (k % (n + 1) === 0 ? 1 : 0)); // an isolated node keeps L_ii = 1
    rows.forEach((r, e) => (L[r * n + cols[e]] -= 1 / Math.sqrt(deg[r] * deg[cols[e]])));
    const { eigenvalues, eigenvectors } = T.eigh(T.tensor(L, { dtype: 'float64', shape: [n, n], device: 'cpu' }));
    const lam = Array.from(await eigenvalues.data());
    const U = Array.from(await eigenvectors.data());
    const want = Array.from({ length: n * n }, (_, k) => {
      const [i, j] = [Math.floor(k / n), k % n];
      return lam.reduce((acc, l, q) => acc + U[i * n + q] * Math.exp(s * Math.exp(-s * l)) * U[j * n + q], 0);
    });
    const w = await heatWavelets(ei, n, { scale: s, order: 30, threshold: 0, dtype: 'float64', inverse: 'reference-code' });
    await expectClose(w.psiInv.toDense(), want, { atol: 1e-7, rtol: 1e-7 }); // e^{sL} would differ by O(1)
    await expect(heatWavelets(ei, n, { scale: s, inverse: 'inverse' as never })).rejects.toThrow(/heatWavelets: inverse must be 'exact' or 'reference-code', received 'inverse'/);
    w.dispose();
    ei.dispose();
  });
});

/** A random relabelling that moves every node. */
const PERM = [3, 6, 0, 5, 1, 2, 4];

forEachBackend('graph convolutions are permutation equivariant', (device) => {
  for (const c of convCases) {
    it(`${c.name}: relabelling the nodes permutes the output rows`, async () => {
      const inputs = loadInputs(c, device);
      const extras: Extras = [];
      const { m, out } = await runCase(c, device, inputs, extras);
      const ei = c.inputs.edgeIndex as FixtureTensor | undefined;
      const permIdx = T.tensor(PERM, { dtype: 'int32', device });
      const permuted: Inputs = { ...inputs };
      let out2: T.Tensor;
      if (c.name === 'GWNNConv') {
        // The diagonal filter is per node: relabel it too, and build the wavelets of the relabelled graph.
        const wei = relabel(fixtureValues(c.edgeIndex as FixtureTensor), PERM, device);
        const w2 = await heatWavelets(wei, 7, { scale: c.scale as number, order: c.order as number, threshold: c.threshold as number });
        extras.push(w2);
        const g = m as GWNNConv;
        noGrad(() => T.tidy(() => void T.copy_(g.filter, T.indexSelect(T.clone(g.filter), 0, permIdx))));
        permuted.x = T.indexSelect(inputs.x, 0, permIdx);
        out2 = g.forward(permuted.x, w2);
        wei.dispose();
      } else if (c.name === 'SAGEConv_bipartite') {
        // Relabel the source side only (the targets keep their order).
        const edges = fixtureValues(ei!);
        const inv = new Array<number>(7);
        PERM.forEach((old, p) => (inv[old] = p));
        const e = edges.length / 2;
        permuted.edgeIndex = T.tensor(edges.map((v, k) => (k < e ? inv[v] : v)), { dtype: 'int32', device, shape: [2, e] });
        permuted.x = T.indexSelect(inputs.x, 0, permIdx);
        out2 = await convs[c.name].run(m, permuted, extras);
      } else {
        permuted.edgeIndex = relabel(fixtureValues(ei!), PERM, device);
        permuted.x = T.indexSelect(inputs.x, 0, permIdx);
        out2 = await convs[c.name].run(m, permuted, extras);
      }
      const expected = c.name === 'SAGEConv_bipartite' ? out : T.indexSelect(out, 0, permIdx);
      await expectClose(out2, expected, tol);
      disposeAll(inputs, extras, out, out2, expected, permIdx, permuted.x, permuted.edgeIndex);
      m.dispose();
    });
  }
});

/** x [5, 4] and a graph whose nodes 3 and 4 have no incoming edge. */
function smallGraph(device: T.DeviceName, edges: number[][] = [[0, 1, 2, 3], [1, 2, 0, 0]]) {
  const x = T.tensor(Array.from({ length: 20 }, (_, k) => Math.sin(k + 1)), { device, shape: [5, 4] });
  const edgeIndex = T.tensor(edges.flat(), { dtype: 'int32', device, shape: [2, edges[0].length] });
  return { x, edgeIndex };
}

/** Layers that take (x [N, 4], edgeIndex) and give [N, 3] (or [N, 4] for APPNP). */
const simpleLayers: Record<string, () => nn.Module> = {
  GCNConv: () => new GCNConv(4, 3),
  ChebConv: () => new ChebConv(4, 3, 3),
  SGConv: () => new SGConv(4, 3, { K: 2 }),
  GraphConv: () => new GraphConv(4, 3, { aggr: ['mean', 'max'] }),
  SAGEConv: () => new SAGEConv(4, 3, { aggr: 'max' }),
  SAGEConv_lstm: () => new SAGEConv(4, 3, { aggr: 'lstm' }),
  GATConv: () => new GATConv(4, 3, { heads: 2, concat: false }),
  GATv2Conv: () => new GATv2Conv(4, 3),
  GINConv: () => new GINConv(mlp(4, 3)),
  APPNP: () => new APPNP(2, 0.2),
  DAGNNProp: () => new DAGNNProp(2, 4),
  EdgeConv: () => new EdgeConv(mlp(8, 3)),
};

forEachBackend('graph convolutions on edge cases', (device) => {
  for (const [name, make] of Object.entries(simpleLayers)) {
    it(`${name}: an empty graph (no edges) gives finite outputs and gradients`, async () => {
      const m = await make().to(device);
      const { x, edgeIndex } = smallGraph(device, [[], []]);
      x.requiresGrad_();
      const layout = name === 'SAGEConv_lstm' && device !== 'cpu' ? await neighborhoodLayout(T.select(edgeIndex, 0, 1), 5) : undefined;
      const out = (m as any).forward(x, edgeIndex, layout ? { layout } : undefined) as T.Tensor;
      expect(out.shape[0]).toBe(5);
      expect(await hasNonFinite(out)).toBe(false);
      backward(T.sum(out));
      expect(await hasNonFinite(x.grad!)).toBe(false);
      T.dispose([x, edgeIndex, out]);
      layout?.dispose();
      m.dispose();
    });
  }

  it('GCNConv on an empty graph is lin(x) + bias (every node keeps only its self-loop of weight 1)', async () => {
    const m = await new GCNConv(4, 3).to(device);
    nn.init.uniform_(m.bias!);
    const { x, edgeIndex } = smallGraph(device, [[], []]);
    const out = m.forward(x, edgeIndex);
    const want = T.add(m.lin.forward(x), m.bias!);
    await expectClose(out, want, tol);
    T.dispose([x, edgeIndex, out, want]);
    m.dispose();
  });

  it('GATConv: attention weights sum to 1 over each target, input self-loops get 0', async () => {
    const m = await new GATConv(4, 3, { heads: 2 }).to(device);
    const { x, edgeIndex } = smallGraph(device, [[0, 1, 2, 3, 2], [1, 2, 0, 0, 2]]);
    const { out, attention } = m.forward(x, edgeIndex, { returnAttentionWeights: true });
    expect(out.shape).toEqual([5, 6]);
    expect(attention.edgeIndex.shape).toEqual([2, 10]);
    expect(attention.alpha.shape).toEqual([10, 2]);
    const alpha = Array.from(await attention.alpha.data());
    const dst = Array.from(await T.select(attention.edgeIndex, 0, 1).data());
    for (let node = 0; node < 5; node++) {
      for (let h = 0; h < 2; h++) {
        const s = dst.reduce((acc, d, k) => (d === node ? acc + alpha[k * 2 + h] : acc), 0);
        expect(s).toBeCloseTo(1, 5);
      }
    }
    expect([alpha[8], alpha[9]]).toEqual([0, 0]); // edge 4 is the input loop (2, 2)
    T.dispose([x, edgeIndex, out, attention.edgeIndex, attention.alpha]);
    m.dispose();
  });

  it('GATConv: attention dropout acts in training only', async () => {
    const m = await new GATConv(4, 3, { heads: 2, dropout: 0.5 }).to(device);
    const { x, edgeIndex } = smallGraph(device);
    const a = await evalOutput(m, x, edgeIndex);
    T.manualSeed(5);
    const { attention } = m.forward(x, edgeIndex, { returnAttentionWeights: true });
    const alpha = Array.from(await attention.alpha.data());
    // Dropped coefficients are 0, kept ones are scaled by 2.
    expect(alpha.some((v) => v === 0)).toBe(true);
    expect(alpha.some((v) => v > 1)).toBe(true);
    T.dispose([x, edgeIndex, a, attention.edgeIndex, attention.alpha]);
    m.dispose();
  });

  it(device === 'cpu' ? 'edges out of range throw' : 'edges out of range throw at the next read (webgpu cannot read indices synchronously)', async () => {
    const m = await new GraphConv(4, 3).to(device);
    const { x, edgeIndex } = smallGraph(device, [[0, 1], [1, 2]]);
    const bad = smallGraph(device, [[0, 1, 7, 2], [1, 2, 0, 9]]).edgeIndex;
    if (device === 'cpu') {
      expect(() => m.forward(x, bad)).toThrow(/GraphConv\(4, 3\): edgeIndex\[0\]\[2\] = 7 is out of range for 5 source nodes/);
    } else {
      const got = m.forward(x, bad);
      await expect(got.data()).rejects.toThrow(/index (7|9) is out of range for a dimension of size 5 .*webgpu device/);
      // the report is cleared: the same layer on a valid graph reads back normally
      const ok = m.forward(x, edgeIndex);
      expect((await ok.data()).every(Number.isFinite)).toBe(true);
      T.dispose([ok, got]);
    }
    T.dispose([x, edgeIndex, bad]);
    m.dispose();
  });

  it(device === 'cpu' ? 'the LSTM aggregator builds its layout from a cpu edge index' : 'the LSTM aggregator asks for a layout off the cpu', async () => {
    const m = await new SAGEConv(4, 3, { aggr: 'lstm' }).to(device);
    const { x, edgeIndex } = smallGraph(device);
    if (device === 'cpu') {
      const layout = await neighborhoodLayout(T.select(edgeIndex, 0, 1), 5);
      const a = m.forward(x, edgeIndex);
      const b = m.forward(x, edgeIndex, { layout });
      await expectClose(a, b, { atol: 0, rtol: 0 });
      T.dispose([a, b]);
      layout.dispose();
    } else {
      expect(() => m.forward(x, edgeIndex)).toThrow(/pass `layout: await neighborhoodLayout\(edgeIndex\[1\], numNodes\)`/);
    }
    T.dispose([x, edgeIndex]);
    m.dispose();
  });

  it('APPNP edge dropout acts in training only and stays finite', async () => {
    const m = new APPNP(3, 0.1, { dropout: 0.5 });
    const { x, edgeIndex } = smallGraph(device);
    const a = await evalOutput(m, x, edgeIndex);
    T.manualSeed(3);
    const c = m.forward(x, edgeIndex);
    expect(await hasNonFinite(c)).toBe(false);
    const diff = Array.from(await T.sub(c, a).data());
    expect(diff.some((v) => Math.abs(v) > 1e-3)).toBe(true);
    T.dispose([x, edgeIndex, a, c]);
  });

  it('GCNConv cached reuses the normalised graph; resetCache forgets it', async () => {
    const m = await new GCNConv(4, 3, { cached: true }).to(device);
    const g1 = smallGraph(device);
    const g2 = smallGraph(device, [[4, 3], [0, 1]]);
    const a = m.forward(g1.x, g1.edgeIndex);
    const b = m.forward(g2.x, g2.edgeIndex); // the cache wins: same graph as a
    await expectClose(b, a, { atol: 0, rtol: 0 });
    m.resetCache();
    const c = m.forward(g2.x, g2.edgeIndex);
    const fresh = await new GCNConv(4, 3).to(device);
    fresh.loadStateDict(m.stateDict());
    const want = fresh.forward(g2.x, g2.edgeIndex);
    await expectClose(c, want, tol);
    T.dispose([g1.x, g1.edgeIndex, g2.x, g2.edgeIndex, a, b, c, want]);
    m.dispose();
    fresh.dispose();
  });

  it('SGConv cached keeps S^K X from the first call (without its graph)', async () => {
    const m = await new SGConv(4, 3, { K: 2, cached: true }).to(device);
    const g = smallGraph(device);
    const x2 = T.mul(g.x, 3);
    const a = m.forward(g.x, g.edgeIndex);
    const b = m.forward(x2, g.edgeIndex); // the cached features win
    await expectClose(b, a, { atol: 0, rtol: 0 });
    m.resetCache();
    const c = m.forward(x2, g.edgeIndex);
    // SGConv is linear in x up to the bias: lin(3 S^K x) = 3 lin(S^K x) - 2 b.
    const want = T.sub(T.mul(a, 3), T.mul(m.lin.bias!, 2));
    await expectClose(c, want, tol);
    T.dispose([g.x, g.edgeIndex, x2, a, b, c, want]);
    m.dispose();
  });

  it('training a GCN + GAT model keeps memory flat', async () => {
    const conv1 = await new GCNConv(4, 8).to(device);
    const conv2 = await new GATConv(8, 2, { heads: 2, concat: false }).to(device);
    const opt = new Adam([...conv1.parameters(), ...conv2.parameters()], { lr: 0.01 });
    const { x, edgeIndex } = smallGraph(device);
    const target = T.tensor([0, 1, 0, 1, 1], { dtype: 'int32', device });
    const losses: number[] = [];
    const step = async () => {
      opt.zeroGrad();
      const loss = T.tidy(() => {
        const h = T.relu(conv1.forward(x, edgeIndex));
        return nn.F.crossEntropy(conv2.forward(h, edgeIndex), target);
      });
      backward(loss);
      opt.step();
      losses.push(await loss.item());
      loss.dispose();
    };
    await step();
    await settleGarbage();
    const before = T.memory();
    for (let k = 0; k < 5; k++) await step();
    await settleGarbage();
    const after = T.memory();
    expect([after.tensors, after.bytes]).toEqual([before.tensors, before.bytes]);
    expect(losses.at(-1)!).toBeLessThan(losses[0]);
    T.dispose([x, edgeIndex, target]);
    conv1.dispose();
    conv2.dispose();
  });
});

describe('graph convolutions reject bad input', () => {
  // The checks below read indices synchronously: they run on the cpu whatever the default device.
  beforeAll(() => T.setDefaultDevice('cpu'));

  const x = T.tensor(Array.from({ length: 20 }, (_, k) => k / 10), { device: 'cpu', shape: [5, 4] });
  const edgeIndex = T.tensor([0, 1, 2, 3, 1, 2, 0, 0], { dtype: 'int32', device: 'cpu', shape: [2, 4] });
  afterAll(() => T.dispose([x, edgeIndex]));

  it('edge indices out of range name the layer, the entry and the node count', () => {
    const bad = T.tensor([0, 1, 9, 3, 1, 2, 0, 0], { dtype: 'int32', device: 'cpu', shape: [2, 4] });
    for (const m of [new GCNConv(4, 3), new GATConv(4, 3), new SAGEConv(4, 3), new GINConv(mlp(4, 3)), new ChebConv(4, 3, 2), new EdgeConv(mlp(8, 3))]) {
      expect(() => (m as any).forward(x, bad)).toThrow(/edgeIndex\[0\]\[2\] = 9 is out of range for 5 source nodes/);
      expect(() => (m as any).forward(x, bad)).toThrow(new RegExp(`^${m.constructor.name}`));
    }
    const negative = T.tensor([0, 1, 2, 3, 1, -1, 0, 0], { dtype: 'int32', device: 'cpu', shape: [2, 4] });
    expect(() => new GCNConv(4, 3).forward(x, negative)).toThrow(/edgeIndex\[1\]\[1\] = -1 is out of range/);
    T.dispose([bad, negative]);
  });

  it("GWNNConv's filter starts at U(0.9, 1.1) or at ones, and an unknown filterInit is refused", async () => {
    const uniform = new GWNNConv(4, 3, 50);
    const f = Array.from(await uniform.filter.data());
    expect(Math.min(...f)).toBeGreaterThanOrEqual(0.9);
    expect(Math.max(...f)).toBeLessThanOrEqual(1.1);
    expect(Math.max(...f) - Math.min(...f)).toBeGreaterThan(0.05);
    const ones = new GWNNConv(4, 3, 50, { filterInit: 'ones' });
    expect(Array.from(await ones.filter.data())).toEqual(new Array(50).fill(1));
    expect(() => new GWNNConv(4, 3, 5, { filterInit: 'zeros' as any })).toThrow(/GWNNConv: filterInit must be 'uniform' or 'ones', received zeros/);
    uniform.dispose();
    ones.dispose();
  });

  it('mismatched feature sizes are reported with expected and received shapes', () => {
    expect(() => new GCNConv(3, 2).forward(x, edgeIndex)).toThrow(/GCNConv\(3, 2\): expected x of shape \[N, 3\], received \[5, 4\]/);
    expect(() => new GATConv(6, 2).forward(x, edgeIndex)).toThrow(/expected x of shape \[N, 6\], received \[5, 4\]/);
    expect(() => new SAGEConv([4, 6], 2).forward([x, x], edgeIndex)).toThrow(/expected x\[1\] \(target features\) of shape \[N, 6\]/);
    expect(() => new GINConv(mlp(3, 2)).forward(x, edgeIndex)).toThrow(/expected input of shape \[\.\.\., 3\], received \[5, 4\]/);
    const attr = T.ones([4, 2], { device: 'cpu' });
    expect(() => new GINEConv(mlp(4, 2)).forward(x, edgeIndex, { edgeAttr: attr })).toThrow(/expected edgeAttr of shape \[4, 4\]/);
    expect(() => new GATConv(4, 2).forward(x, edgeIndex, { edgeAttr: attr })).toThrow(/without edgeDim/);
    expect(() => new GATConv(4, 2, { edgeDim: 3 }).forward(x, edgeIndex, { edgeAttr: attr })).toThrow(/expected edgeAttr of shape \[4, 3\], received \[4, 2\]/);
    const w = T.ones([3], { device: 'cpu' });
    expect(() => new GCNConv(4, 2).forward(x, edgeIndex, { edgeWeight: w })).toThrow(/expected edgeWeight of shape \[4\]/);
    T.dispose([attr, w]);
  });

  it('malformed edge indices and options are rejected', () => {
    const f = T.ones([2, 4], { device: 'cpu' });
    expect(() => new GCNConv(4, 3).forward(x, f)).toThrow(/expected edgeIndex to be an int32 tensor of shape \[2, E\], received float32 tensor of shape \[2, 4\]/);
    const three = T.zeros([3, 4], { dtype: 'int32', device: 'cpu' });
    expect(() => new GCNConv(4, 3).forward(x, three)).toThrow(/shape \[2, E\]/);
    expect(() => new GCNConv(0, 3)).toThrow(/inChannels must be a positive integer, received 0/);
    expect(() => new GATConv(4, 3, { dropout: 2 })).toThrow(/dropout must be in \[0, 1\]/);
    expect(() => new SAGEConv(4, 3, { aggr: 'median' as any })).toThrow(/aggr must be 'mean', 'max', 'sum' or 'lstm'/);
    expect(() => new ChebConv(4, 3, 2, { normalization: null }).forward(x, edgeIndex)).toThrow(/pass lambdaMax/);
    T.dispose([f, three]);
  });
});
