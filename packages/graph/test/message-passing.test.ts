import { beforeAll, describe, expect, it } from 'vitest';
import * as T from '@tessera/tensor';
import type { Tensor } from '@tessera/tensor';
import { backward, gradcheck } from '@tessera/autodiff';
import { aggregate, type Aggregation } from '../src/nn/aggr.js';
import { GATConv } from '../src/nn/conv/gat.js';
import { GCNConv } from '../src/nn/conv/gcn.js';
import { MessagePassing, type MessageArgs, type PropagateArgs } from '../src/nn/message-passing.js';
import { addRemainingSelfLoops, addSelfLoops, containsSelfLoops, removeSelfLoops } from '../src/utils/loop.js';
import { degree, gcnNorm, laplacian, softmax } from '../src/utils/norm.js';
import { checkCase, expectClose, fixture, forEachBackend, hasNonFinite, loadInputs, tol } from './layer-helpers.js';

/** message = x_j, aggregation by the unfused (scatter) path. */
class Propagate extends MessagePassing {
  forward(x: Tensor, edgeIndex: Tensor): Tensor {
    return this.propagate(edgeIndex, { x });
  }
}

/** The same with the fused sparse path, counting which path ran. */
class FusedPropagate extends Propagate {
  fused = 0;
  unfused = 0;

  override message(args: MessageArgs): Tensor {
    this.unfused++;
    return super.message(args);
  }

  override messageAndAggregate(adj: T.SparseTensor, { x }: PropagateArgs): Tensor {
    this.fused++;
    return T.spmm(adj, x as Tensor);
  }
}

const aggregateCases = fixture.convs.filter((c) => c.name.startsWith('Aggregate_'));

/** Dense [n, n] matrix (row = target i, col = source j) of an edge list, duplicates summed. */
function dense(ei: ArrayLike<number>, w: ArrayLike<number>, n: number): number[][] {
  const e = w.length;
  const m = Array.from({ length: n }, () => new Array<number>(n).fill(0));
  for (let k = 0; k < e; k++) m[ei[k]][ei[e + k]] += w[k];
  return m;
}

forEachBackend('MessagePassing aggregations match PyTorch', (device) => {
  for (const c of aggregateCases) {
    it(`${c.name}: values and gradients, isolated nodes give 0`, async () => {
      const inputs = loadInputs(c, device);
      const m = new Propagate({ aggr: c.aggr as Aggregation | Aggregation[] });
      const out = m.forward(inputs.x, inputs.edgeIndex);
      // Nodes 5 and 6 receive nothing.
      const rows = Array.from(await out.data()).slice(5 * out.shape[1]);
      expect(rows.every((v) => v === 0)).toBe(true);
      await checkCase(c, m, inputs, out);
      T.dispose([...Object.values(inputs), out]);
    });
  }

  it('the fused (spmm) and unfused paths agree, with and without edge weights', async () => {
    const c = aggregateCases.find((k) => k.name === 'Aggregate_sum')!;
    const inputs = loadInputs(c, device);
    const m = new FusedPropagate();
    const out = m.forward(inputs.x, inputs.edgeIndex);
    expect([m.fused, m.unfused]).toEqual([1, 0]);
    await checkCase(c, m, inputs, out);
    const unfused = new FusedPropagate({ fuse: false });
    const out2 = unfused.forward(inputs.x, inputs.edgeIndex);
    expect([unfused.fused, unfused.unfused]).toEqual([0, 1]);
    await expectClose(out2, out, tol);
    T.dispose([...Object.values(inputs), out, out2]);
  });

  it('GCNConv takes the fused path unless the edge weights need a gradient', async () => {
    const x = T.tensor(Array.from({ length: 15 }, (_, k) => Math.cos(k)), { device, shape: [5, 3] });
    const edgeIndex = T.tensor([0, 1, 2, 3, 4, 1, 2, 0, 0, 0], { dtype: 'int32', device, shape: [2, 5] });
    const conv = await new GCNConv(3, 2).to(device);
    let fused = 0;
    const spmm = conv.messageAndAggregate.bind(conv);
    conv.messageAndAggregate = (adj, args) => {
      fused++;
      return spmm(adj, args);
    };
    const w = T.tensor([0.5, 1, 1.5, 2, 0.7], { device });
    const a = conv.forward(x, edgeIndex, { edgeWeight: w });
    expect(fused).toBe(1);
    w.requiresGrad_();
    const b = conv.forward(x, edgeIndex, { edgeWeight: w });
    expect(fused).toBe(1);
    await expectClose(b, a, tol);
    backward(T.sum(b));
    expect(w.grad).not.toBeNull();
    expect(await hasNonFinite(w.grad!)).toBe(false);
    T.dispose([x, edgeIndex, w, a, b]);
    conv.dispose();
  });

  it('lifts x_i, x_j and any node-level argument, and passes edge-level ones through', async () => {
    class Probe extends MessagePassing {
      seen: MessageArgs | null = null;
      index: Tensor | null = null;
      forward(x: Tensor, h: Tensor, edgeIndex: Tensor, edgeAttr: Tensor): Tensor {
        return this.propagate(edgeIndex, { x, h, edgeAttr, scale: 10 });
      }
      override message(args: MessageArgs): Tensor {
        this.seen = args;
        // The edge tensors live as long as propagate: keep a copy to look at afterwards.
        this.index = T.keep(T.clone(args.index));
        // x_i + 10 x_j * e + h_j
        return T.add(T.add(args.x_i, T.mul(T.mul(args.x_j, args.scale), T.unsqueeze(args.edgeAttr, -1))), args.h_j);
      }
      override update(aggregated: Tensor, args: MessageArgs): Tensor {
        return T.sub(aggregated, T.mul(args.x, 0));
      }
    }
    const x = T.tensor([[1, 2], [3, 4], [5, 6]], { device });
    const h = T.tensor([[100, 200], [300, 400], [500, 600]], { device });
    const edgeIndex = T.tensor([[0, 2, 2], [1, 1, 0]], { dtype: 'int32', device });
    const e = T.tensor([1, 2, 3], { device });
    const m = new Probe();
    const out = m.forward(x, h, edgeIndex, e);
    // node 1 <- 0 (e=1), 2 (e=2); node 0 <- 2 (e=3); node 2 <- nothing.
    const want = [[1 + 150 + 500, 2 + 180 + 600], [3 + 10 + 100 + 3 + 100 + 500, 4 + 20 + 200 + 4 + 120 + 600], [0, 0]];
    await expectClose(out, want, { atol: 1e-4 });
    expect(m.seen!.sizeI).toBe(3);
    expect(m.seen!.scale).toBe(10);
    expect(Array.from(await m.index!.data())).toEqual([1, 1, 0]);
    T.dispose([x, h, edgeIndex, e, out, m.index]);
  });

  it("flow 'target_to_source' aggregates over edgeIndex[0]", async () => {
    const x = T.tensor([[1], [10], [100]], { device });
    const edgeIndex = T.tensor([[0, 0, 1], [1, 2, 2]], { dtype: 'int32', device });
    const out = new Propagate({ flow: 'target_to_source' }).forward(x, edgeIndex);
    await expectClose(out, [[110], [100], [0]]);
    T.dispose([x, edgeIndex, out]);
  });

  it('bipartite [source, target] features: x_j from the sources, x_i from the targets', async () => {
    class Bip extends MessagePassing {
      forward(xs: Tensor, xt: Tensor, edgeIndex: Tensor): Tensor {
        return this.propagate(edgeIndex, { x: [xs, xt] });
      }
      override message({ x_i, x_j }: MessageArgs): Tensor {
        return T.mul(x_i, x_j);
      }
    }
    const xs = T.tensor([[1], [2], [3], [4]], { device });
    const xt = T.tensor([[10], [100]], { device });
    const edgeIndex = T.tensor([[0, 3, 2], [1, 1, 0]], { dtype: 'int32', device });
    const out = new Bip().forward(xs, xt, edgeIndex);
    await expectClose(out, [[30], [500]]);
    T.dispose([xs, xt, edgeIndex, out]);
  });

  it('a sparse adjacency goes to messageAndAggregate', async () => {
    const x = T.tensor([[1, 2], [3, 4], [5, 6]], { device });
    const adj = T.sparseCooTensor(T.tensor([[0, 0, 2], [1, 2, 0]], { dtype: 'int32', device }), T.tensor([1, 2, 3], { device }), [3, 3]);
    const m = new FusedPropagate();
    const out = m.propagate(adj, { x });
    await expectClose(out, [[13, 16], [0, 0], [3, 6]]);
    expect(() => new Propagate().propagate(adj, { x })).toThrow(/needs messageAndAggregate, which Propagate does not implement/);
    T.dispose([x, out]);
    adj.dispose();
  });

  it('a multi-aggregation concatenates along the last dim', async () => {
    const src = T.tensor([[1, 2], [3, 4], [5, 0]], { device });
    const index = T.tensor([0, 0, 2], { dtype: 'int32', device });
    const out = aggregate(src, index, 3, ['sum', 'min', 'var']);
    await expectClose(out, [[4, 6, 1, 2, 1, 1], [0, 0, 0, 0, 0, 0], [5, 0, 5, 0, 0, 0]]);
    T.dispose([src, index, out]);
  });
});

describe('MessagePassing rejects bad input', () => {
  // The checks below read indices synchronously: they run on the cpu whatever the default device.
  beforeAll(() => T.setDefaultDevice('cpu'));

  it('names the layer, the argument and the shapes', () => {
    const x = T.ones([3, 2], { device: 'cpu' });
    const ei = T.tensor([[0, 1], [1, 2]], { dtype: 'int32', device: 'cpu' });
    const bad = T.tensor([[0, 3], [1, 2]], { dtype: 'int32', device: 'cpu' });
    expect(() => new Propagate().forward(x, bad)).toThrow(/Propagate\.propagate: edgeIndex\[0\]\[1\] = 3 is out of range for 3 source nodes/);
    class UsesH extends MessagePassing {
      forward(h: Tensor): Tensor {
        return this.propagate(ei, { x, h });
      }
      override message({ h_j }: MessageArgs): Tensor {
        return h_j;
      }
    }
    const h = T.ones([4, 2], { device: 'cpu' });
    expect(() => new UsesH().forward(h)).toThrow(/cannot lift 'h' to 'h_j': expected 3 rows \(one per source node\), received shape \[4, 2\]/);
    expect(() => new Propagate().propagate(ei, {})).toThrow(/pass node features x or size/);
    expect(() => new Propagate({ aggr: 'median' as Aggregation })).toThrow(/aggr must be one of 'sum'/);
    expect(() => aggregate(x, T.zeros([2], { dtype: 'int32', device: 'cpu' }), 3)).toThrow(/expected an int32 index of shape \[3\]/);
    T.dispose([x, ei, bad, h]);
  });
});

forEachBackend('self-loop and normalisation utilities', (device) => {
  const edges = () => T.tensor([[0, 1, 2, 2], [1, 2, 2, 0]], { dtype: 'int32', device });

  it('addSelfLoops appends one loop per node with the fill value', async () => {
    const ei = edges();
    const attr = T.tensor([[1, 10], [2, 20], [3, 30], [4, 40]], { device });
    const a = addSelfLoops(ei, null, { numNodes: 4 });
    expect(Array.from(await a.edgeIndex.data())).toEqual([0, 1, 2, 2, 0, 1, 2, 3, 1, 2, 2, 0, 0, 1, 2, 3]);
    expect(a.edgeAttr).toBeNull();
    const b = addSelfLoops(ei, attr, { numNodes: 4, fillValue: 0.5 });
    await expectClose(T.narrow(b.edgeAttr!, 0, 4, 4), [[0.5, 0.5], [0.5, 0.5], [0.5, 0.5], [0.5, 0.5]]);
    // Mean of the incoming edges' attributes (node 2 gets edges 1 and 2; node 3 nothing).
    const c = addSelfLoops(ei, attr, { numNodes: 4, fillValue: 'mean' });
    await expectClose(T.narrow(c.edgeAttr!, 0, 4, 4), [[4, 40], [1, 10], [2.5, 25], [0, 0]]);
    const fill = T.tensor([7, 8], { device });
    const d = addSelfLoops(ei, attr, { numNodes: 4, fillValue: fill });
    await expectClose(T.narrow(d.edgeAttr!, 0, 4, 1), [[7, 8]]);
    T.dispose([ei, attr, a, b, c, d, fill]);
  });

  it('addRemainingSelfLoops keeps an existing loop weight and zeroes its old slot', async () => {
    const ei = edges();
    const w = T.tensor([1, 2, 3, 4], { device });
    const r = addRemainingSelfLoops(ei, w, { numNodes: 3, fillValue: 9 });
    expect(r.edgeIndex.shape).toEqual([2, 7]);
    await expectClose(r.edgeAttr, [1, 2, 0, 4, 9, 9, 3]);
    T.dispose([ei, w, r]);
  });

  it('removeSelfLoops and containsSelfLoops read the edges back', async () => {
    const ei = edges();
    const w = T.tensor([1, 2, 3, 4], { device });
    expect(await containsSelfLoops(ei)).toBe(true);
    const r = await removeSelfLoops(ei, w);
    expect(Array.from(await r.edgeIndex.data())).toEqual([0, 1, 2, 1, 2, 0]);
    await expectClose(r.edgeAttr!, [1, 2, 4]);
    expect(await containsSelfLoops(r.edgeIndex)).toBe(false);
    T.dispose([ei, w, r]);
  });

  it('degree counts (or sums weights) per index', async () => {
    const index = T.tensor([1, 1, 3, 0], { dtype: 'int32', device });
    const d = degree(index, 5);
    await expectClose(d, [1, 2, 0, 1, 0]);
    const w = T.tensor([0.5, 1, 2, 3], { device });
    const dw = degree(index, 5, { weight: w });
    await expectClose(dw, [3, 1.5, 0, 2, 0]);
    T.dispose([index, d, w, dw]);
  });

  it('gcnNorm is D^-1/2 (A + I) D^-1/2 with in-degrees, isolated nodes included', async () => {
    const ei = T.tensor([[0, 1, 1, 3], [1, 0, 2, 2]], { dtype: 'int32', device });
    const w = T.tensor([1, 2, 0.5, 1.5], { device });
    const n = gcnNorm(ei, w, 5);
    const got = dense(Array.from(await n.edgeIndex.data()), Array.from(await n.edgeWeight.data()), 5);
    // A[j][i] = w_ji plus I; d_i = Σ_j A[j][i]; Â[j][i] = A[j][i] / sqrt(d_j d_i).
    const A = dense([0, 1, 1, 3, 1, 0, 2, 2], [1, 2, 0.5, 1.5], 5).map((row, j) => row.map((v, i) => v + (i === j ? 1 : 0)));
    const deg = A[0].map((_, i) => A.reduce((s, row) => s + row[i], 0));
    const want = A.map((row, j) => row.map((v, i) => v / Math.sqrt(deg[j] * deg[i])));
    got.forEach((row, j) => row.forEach((v, i) => expect(v).toBeCloseTo(want[j][i], 5)));
    T.dispose([ei, w, n]);
  });

  it('laplacian: D - A, I - D^-1/2 A D^-1/2 and I - D^-1 A, ignoring input self-loops', async () => {
    const ei = T.tensor([[0, 1, 1, 2, 2], [1, 0, 2, 1, 2]], { dtype: 'int32', device });
    const w = T.tensor([1, 1, 2, 2, 5], { device });
    const A = [[0, 1, 0], [1, 0, 2], [0, 2, 0]];
    const deg = A.map((row) => row.reduce((a, b) => a + b, 0));
    const wants: Record<string, number[][]> = {
      none: A.map((row, r) => row.map((v, c) => (r === c ? deg[r] : -v))),
      sym: A.map((row, r) => row.map((v, c) => (r === c ? 1 : -v / Math.sqrt(deg[r] * deg[c])))),
      rw: A.map((row, r) => row.map((v, c) => (r === c ? 1 : -v / deg[r]))),
    };
    for (const [name, normalization] of [['none', null], ['sym', 'sym'], ['rw', 'rw']] as const) {
      const l = laplacian(ei, w, 3, { normalization });
      const got = dense(Array.from(await l.edgeIndex.data()), Array.from(await l.edgeWeight.data()), 3);
      got.forEach((row, r) => row.forEach((v, c) => expect(v, `${name} [${r}, ${c}]`).toBeCloseTo(wants[name][r][c], 5)));
      T.dispose(l);
    }
    T.dispose([ei, w]);
  });

  it('softmax normalises within each group (unsorted index) and is stable for large inputs', async () => {
    const src = T.tensor([[1, 1000], [2, 1001], [3, -5], [0.5, 1002]], { device });
    const index = T.tensor([2, 0, 2, 2], { dtype: 'int32', device });
    const out = softmax(src, index, 3);
    const e = (a: number[]) => {
      const m = Math.max(...a);
      const s = a.reduce((acc, v) => acc + Math.exp(v - m), 0);
      return a.map((v) => Math.exp(v - m) / s);
    };
    const c0 = e([1, 3, 0.5]);
    const c1 = e([1000, -5, 1002]);
    await expectClose(out, [[c0[0], c1[0]], [1, 1], [c0[1], c1[1]], [c0[2], c1[2]]], { atol: 1e-6 });
    T.dispose([src, index, out]);
  });
});

describe('graph utilities reject bad input', () => {
  // The checks below read indices synchronously: they run on the cpu whatever the default device.
  beforeAll(() => T.setDefaultDevice('cpu'));

  it('names the function, expected and received', async () => {
    const ei = T.tensor([[0, 1], [1, 2]], { dtype: 'int32', device: 'cpu' });
    expect(() => addSelfLoops(ei, T.ones([3], { device: 'cpu' }), { numNodes: 3 })).toThrow(/addSelfLoops: expected edgeAttr with 2 rows \(one per edge\)/);
    expect(() => addSelfLoops(ei, null, { numNodes: 2 })).toThrow(/addSelfLoops: edgeIndex\[1\]\[1\] = 2 is out of range for 2 target nodes/);
    expect(() => gcnNorm(T.ones([2, 2], { device: 'cpu' }), null, 3)).toThrow(/gcnNorm: expected edgeIndex to be an int32 tensor of shape \[2, E\]/);
    expect(() => gcnNorm(ei, T.ones([5], { device: 'cpu' }), 3)).toThrow(/gcnNorm: expected edgeWeight of shape \[2\]/);
    expect(() => laplacian(ei, null, 3, { normalization: 'x' as any })).toThrow(/normalization must be null, 'sym' or 'rw'/);
    expect(() => softmax(T.ones([3], { device: 'cpu' }), T.zeros([2], { dtype: 'int32', device: 'cpu' }), 2)).toThrow(/softmax: expected index of shape \[3\]/);
    expect(() => degree(T.ones([2], { device: 'cpu' }), 3)).toThrow(/degree: expected index to be a 1-D int32 tensor/);
    await expect(removeSelfLoops(T.ones([2, 2], { device: 'cpu' }))).rejects.toThrow(/removeSelfLoops: expected edgeIndex/);
    ei.dispose();
  });
});

describe('gradients against finite differences (float64, cpu)', () => {
  beforeAll(() => T.setDefaultDevice('cpu'));
  const f64 = { dtype: 'float64' as const, device: 'cpu' as const };
  const edgeIndex = () => T.tensor([[0, 1, 1, 2, 3, 4, 0], [1, 0, 2, 1, 1, 1, 3]], { dtype: 'int32', device: 'cpu' });
  const rand = (shape: number[], seed: number) => T.randn(shape, { ...f64, generator: new T.Generator(seed) });

  for (const aggr of ['sum', 'mean', 'max', 'min', 'softmax', 'var', 'std'] as const) {
    it(`aggregation '${aggr}'`, () => {
      const ei = edgeIndex();
      const m = new Propagate({ aggr });
      expect(gradcheck((x) => m.forward(x, ei), [rand([6, 3], 1)])).toBe(true);
      ei.dispose();
    });
  }

  it('softmax, gcnNorm and the normalised laplacians with respect to the edge weights', () => {
    const ei = edgeIndex();
    const w = T.add(T.rand([7], { ...f64, generator: new T.Generator(2) }), 0.5);
    expect(gradcheck((s) => softmax(s, T.select(ei, 0, 1), 6), [rand([7, 2], 3)])).toBe(true);
    expect(gradcheck((v) => gcnNorm(ei, v, 6).edgeWeight, [w])).toBe(true);
    expect(gradcheck((v) => laplacian(ei, v, 6, { normalization: 'sym' }).edgeWeight, [w])).toBe(true);
    expect(gradcheck((v) => laplacian(ei, v, 6, { normalization: 'rw' }).edgeWeight, [w])).toBe(true);
    T.dispose([ei, w]);
  });

  it('GCNConv and GATConv with respect to features, edge weights and edge features', () => {
    const ei = edgeIndex();
    const gcn = new GCNConv(3, 2, { dtype: 'float64' });
    const w = T.add(T.rand([7], { ...f64, generator: new T.Generator(4) }), 0.5);
    expect(gradcheck((x, v) => gcn.forward(x, ei, { edgeWeight: v }), [rand([6, 3], 5), w])).toBe(true);
    const gat = new GATConv(3, 2, { heads: 2, edgeDim: 2, dtype: 'float64' });
    expect(gradcheck((x, a) => gat.forward(x, ei, { edgeAttr: a }), [rand([6, 3], 6), rand([7, 2], 7)])).toBe(true);
    T.dispose([ei, w]);
    gcn.dispose();
    gat.dispose();
  });
});
