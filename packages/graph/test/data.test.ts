import { expect, it } from 'vitest';
import * as T from '@tessera/tensor';
import { forEachBackend, expectClose } from '../../tensor/test/helpers.js';
import { Graph } from '../src/data/graph.js';
import { Batch } from '../src/data/batch.js';
import { InMemoryDataset } from '../src/data/dataset.js';
import { GraphDataLoader } from '../src/data/loader.js';

const ei = (pairs: number[][], device: T.DeviceName) =>
  T.tensor(Int32Array.from([...pairs.map((p) => p[0]), ...pairs.map((p) => p[1])]), { dtype: 'int32', shape: [2, pairs.length], device });

/** A small graph whose values encode `tag`, so batched parts can be told apart. */
function makeGraph(n: number, edges: number[][], tag: number, device: T.DeviceName): Graph {
  return new Graph({
    x: T.tensor(Float32Array.from({ length: n * 2 }, (_, i) => tag * 100 + i), { shape: [n, 2], device }),
    edgeIndex: ei(edges, device),
    edgeAttr: T.tensor(Float32Array.from(edges, (_, i) => tag + i / 10), { shape: [edges.length, 1], device }),
    y: T.tensor(Int32Array.from([tag]), { dtype: 'int32', device }),
    extra: { nodeTag: T.full([n], tag, { dtype: 'int32', device }) },
  });
}

forEachBackend('Graph', (device) => {
  it('holds attributes, infers numNodes and reports counts', async () => {
    const g = new Graph({ x: T.zeros([4, 3], { device }), edgeIndex: ei([[0, 1], [1, 2], [2, 0]], device), y: T.tensor([0, 1, 1, 0], { dtype: 'int32', device }) });
    expect(g.numNodes).toBe(4);
    expect(g.numEdges).toBe(3);
    expect(g.numNodeFeatures).toBe(3);
    expect(g.numEdgeFeatures).toBe(0);
    expect(g.keys()).toEqual(['x', 'edgeIndex', 'y']);
    expect(g.device).toBe(device);
    expect(String(g)).toBe('Graph(x=[4, 3], edgeIndex=[2, 3], y=[4], numNodes=4)');
    expect(await g.hasIsolatedNodes()).toBe(true); // node 3
    expect(await g.hasSelfLoops()).toBe(false);
    expect(await g.isUndirected()).toBe(false);
    g.dispose();
    expect(g.isDisposed).toBe(true);
  });

  it('infers numNodes from the edges on cpu and asks for it on webgpu; empty graphs are fine', async () => {
    const edges = ei([[0, 5], [5, 0]], device);
    if (device === 'cpu') {
      const g = new Graph({ edgeIndex: edges });
      expect(g.numNodes).toBe(6);
      g.dispose();
    } else {
      expect(() => new Graph({ edgeIndex: edges })).toThrow(/pass numNodes/);
      edges.dispose();
    }
    const empty = new Graph({ edgeIndex: T.zeros([2, 0], { dtype: 'int32', device }), numNodes: 0 });
    expect([empty.numNodes, empty.numEdges]).toEqual([0, 0]);
    expect(await empty.hasIsolatedNodes()).toBe(false);
    expect(await empty.isUndirected()).toBe(true);
    empty.dispose();
    const bare = new Graph();
    expect([bare.numNodes, bare.numEdges, bare.keys().length]).toEqual([0, 0, 0]);
  });

  it('rejects bad attributes with errors naming them', async () => {
    const x = T.zeros([3, 2], { device });
    const good = ei([[0, 1]], device);
    const bad = (init: ConstructorParameters<typeof Graph>[0]) => () => new Graph(init);
    expect(bad({ x, edgeIndex: T.zeros([3, 2], { dtype: 'int32', device }) })).toThrow(/Graph: expected edgeIndex of shape \[2, E\], received \[3, 2\]/);
    expect(bad({ x, edgeIndex: T.zeros([2, 2], { device }) })).toThrow(/Graph: expected edgeIndex of dtype int32, received float32/);
    expect(bad({ x, edgeIndex: good, edgeAttr: T.zeros([2, 4], { device }) })).toThrow(/Graph: expected edgeAttr with one row per edge \(shape \[1, \.\.\.\]\), received \[2, 4\]/);
    expect(bad({ x, pos: T.zeros([4, 3], { device }) })).toThrow(/Graph: expected pos with one row per node \(shape \[3, \.\.\.\]\), received \[4, 3\]/);
    expect(bad({ x, numNodes: 5 })).toThrow(/expected x with one row per node \(shape \[5, \.\.\.\]\)/);
    expect(bad({ x, trainMask: T.zeros([3], { device }) })).toThrow(/expected trainMask to be a bool tensor \[3\] or \[3, S\], received float32/);
    expect(bad({ x, edgeIndex: good, edgeWeight: T.zeros([1], { dtype: 'int32', device }) })).toThrow(/expected a float edgeWeight, received int32/);
    expect(bad({ x, numNodes: -1 })).toThrow(/numNodes must be a non-negative integer, received -1/);
    expect(bad({ x, egdeIndex: good } as never)).toThrow(/unknown attribute 'egdeIndex'/);
    expect(bad({ x, extra: { x: good } })).toThrow(/extra attribute 'x' shadows a named attribute/);
    // out-of-range ids: at construction on cpu, in validate() everywhere
    const outOfRange = ei([[0, 1], [1, 3]], device);
    if (device === 'cpu') {
      expect(bad({ x, edgeIndex: outOfRange })).toThrow(/Graph: edgeIndex holds edge 1 = \(1, 3\) with a node id outside \[0, 3\)/);
    } else {
      const g = new Graph({ x, edgeIndex: outOfRange });
      await expect(g.validate()).rejects.toThrow(/Graph.validate: edgeIndex holds edge 1 = \(1, 3\)/);
      const other = T.zeros([3], { device: 'cpu' });
      expect(bad({ x, y: other })).toThrow(/expected all attributes on one device, received x on 'webgpu' and y on 'cpu'/);
      other.dispose();
    }
    T.dispose([x, good, outOfRange]);
  });

  it('with() shares unchanged tensors as views; each graph is disposed on its own', async () => {
    const before = T.memory();
    const g = makeGraph(3, [[0, 1], [1, 2]], 1, device);
    const h = g.with({ y: null, x: T.ones([3, 5], { device }), extra: { more: T.zeros([3], { device }) } });
    expect(h.keys()).toEqual(['x', 'edgeIndex', 'edgeAttr', 'nodeTag', 'more']);
    expect(h.numNodeFeatures).toBe(5);
    expect(g.numNodeFeatures).toBe(2);
    g.dispose();
    await expectClose(h.edgeIndex!, [[0, 1], [1, 2]]);
    await expectClose(h.get('nodeTag')!, [1, 1, 1]);
    h.dispose();
    expect(T.memory().tensors).toBe(before.tensors);
    expect(T.memory().bytes).toBe(before.bytes);
  });

  it('survives tidy (a Graph keeps its tensors) and moves between devices', async () => {
    const g = T.tidy(() => makeGraph(2, [[0, 1]], 3, device));
    await expectClose(g.x!, [[300, 301], [302, 303]]);
    const c = await g.to('cpu');
    expect(c.device).toBe('cpu');
    await expectClose(c.edgeAttr!, [[3]]);
    const k = g.clone();
    g.dispose();
    await expectClose(k.get('nodeTag')!, [3, 3]);
    c.dispose();
    k.dispose();
  });
});

forEachBackend('Batch', (device) => {
  const specs: [number, number[][]][] = [[3, [[0, 1], [1, 2], [2, 0]]], [0, []], [2, [[1, 0]]], [4, [[0, 3], [3, 2], [2, 2]]]];

  it('merges graphs into one disjoint graph with batch, ptr and shifted edge ids', async () => {
    const graphs = specs.map(([n, e], i) => makeGraph(n, e, i + 1, device));
    const b = Batch.fromGraphs(graphs);
    expect(b.numGraphs).toBe(4);
    expect(b.numNodes).toBe(9);
    expect(b.numEdges).toBe(7);
    expect(b.graphSizes).toEqual([3, 0, 2, 4]);
    await expectClose(b.batch, [0, 0, 0, 2, 2, 3, 3, 3, 3], { dtype: 'int32' });
    await expectClose(b.ptr, [0, 3, 3, 5, 9], { dtype: 'int32' });
    // graph 2's ids shift by 3, graph 3's by 5
    await expectClose(b.edgeIndex!, [[0, 1, 2, 4, 5, 8, 7], [1, 2, 0, 3, 8, 7, 7]], { dtype: 'int32' });
    await expectClose(b.y!, [1, 2, 3, 4]);
    await expectClose(b.get('nodeTag')!, [1, 1, 1, 3, 3, 4, 4, 4, 4]);
    await expectClose(b.edgeAttr!, [[1], [1.1], [1.2], [3], [4], [4.1], [4.2]]);
    expect(String(b)).toContain('batch=[9], ptr=[5], numGraphs=4');
    // batch[node] equals the graph whose x block holds the node
    const xs = Array.from(await b.x!.data());
    const batch = Array.from(await b.batch.data());
    batch.forEach((g, node) => expect(Math.floor(xs[2 * node] / 100)).toBe(g + 1));
    for (const g of graphs) g.dispose();
    b.dispose();
  });

  it('toGraphs() gives back the original graphs', async () => {
    const before = T.memory();
    const graphs = specs.map(([n, e], i) => makeGraph(n, e, i + 1, device));
    const b = Batch.fromGraphs(graphs);
    const back = b.toGraphs();
    expect(back.map((g) => g.numNodes)).toEqual(specs.map(([n]) => n));
    for (let i = 0; i < graphs.length; i++) {
      expect(back[i].keys()).toEqual(graphs[i].keys());
      for (const key of graphs[i].keys()) {
        const want = graphs[i].get(key)!;
        await expectClose(back[i].get(key)!, want, { dtype: want.dtype });
      }
    }
    const moved = await b.to('cpu');
    expect(moved).toBeInstanceOf(Batch);
    await expectClose(moved.batch, [0, 0, 0, 2, 2, 3, 3, 3, 3]);
    for (const g of [...graphs, ...back, b, moved]) g.dispose();
    expect(T.memory().tensors).toBe(before.tensors);
  });

  it('batches 0-d attributes into a vector and index-like extras with offsets', async () => {
    const mk = (n: number, v: number) => new Graph({ x: T.zeros([n, 1], { device }), y: T.scalar(v, { device }), extra: { anchorIndex: T.tensor([[0], [n - 1]], { dtype: 'int32', device }) } });
    const gs = [mk(2, 5), mk(3, 7)];
    const b = Batch.fromGraphs(gs);
    await expectClose(b.y!, [5, 7], { shape: [2] });
    await expectClose(b.get('anchorIndex')!, [[0, 2], [1, 4]]);
    const back = b.toGraphs();
    expect(back[1].y!.shape).toEqual([]);
    await expectClose(back[1].get('anchorIndex')!, [[0], [2]]);
    for (const g of [...gs, ...back, b]) g.dispose();
  });

  it('rejects graphs that do not fit together', () => {
    const a = makeGraph(2, [[0, 1]], 1, device);
    const noY = a.with({ y: null });
    const wide = a.with({ x: T.zeros([2, 3], { device }) });
    expect(() => Batch.fromGraphs([])).toThrow(/Batch.fromGraphs: expected a non-empty array of Graphs/);
    expect(() => Batch.fromGraphs([a, noY])).toThrow(/graphs\[1\] has attributes \[x, edgeIndex, edgeAttr, nodeTag\] but graphs\[0\] has \[x, edgeIndex, edgeAttr, y, nodeTag\]/);
    expect(() => Batch.fromGraphs([a, wide])).toThrow(/x has shape \[2, 2\] in graphs\[0\] and \[2, 3\] in graphs\[1\]; they must agree outside dim 0/);
    expect(() => Batch.fromGraphs([a, {} as Graph])).toThrow(/graphs\[1\] is not a Graph/);
    for (const g of [a, noY, wide]) g.dispose();
  });
});

forEachBackend('InMemoryDataset and GraphDataLoader', (device) => {
  const make = () => new InMemoryDataset(Array.from({ length: 10 }, (_, i) => makeGraph(1 + (i % 3), [[0, 0]], i, device)), { numClasses: 10 });

  it('serves views of its graphs, subsets and a transform', async () => {
    const ds = make();
    expect(ds.length).toBe(10);
    expect(ds.numNodeFeatures).toBe(2);
    expect(ds.numEdgeFeatures).toBe(1);
    expect(ds.numClasses).toBe(10);
    const g = await ds.get(4);
    await expectClose(g.y!, [4]);
    g.dispose();
    expect(ds.at(4).isDisposed).toBe(false);
    const sub = ds.index([7, 2]);
    ds.dispose(); // the subset keeps its own views alive
    const s0 = await sub.get(0);
    await expectClose(s0.y!, [7]);
    s0.dispose();
    const sl = sub.slice(1);
    expect(sl.length).toBe(1);
    const s1 = await sl.get(0);
    await expectClose(s1.y!, [2]);
    s1.dispose();
    sl.dispose();
    const tr = new InMemoryDataset([sub.at(1).with({})], { transform: (q) => q.with({ y: T.mul(q.y!, 10) }) });
    const t0 = await tr.get(0);
    await expectClose(t0.y!, [20]);
    t0.dispose();
    await expect(tr.get(1)).rejects.toThrow(/InMemoryDataset.get: index must be an integer in \[0, 1\), received 1/);
    sub.dispose();
    tr.dispose();
  });

  it('computes numClasses from labels on cpu, and asks for it elsewhere', () => {
    const ds = new InMemoryDataset([0, 2, 1].map((c) => new Graph({ y: T.tensor([c], { dtype: 'int32', device }), numNodes: 1 })));
    if (device === 'cpu') expect(ds.numClasses).toBe(3);
    else expect(() => ds.numClasses).toThrow(/labels on 'webgpu' cannot be read synchronously; pass numClasses/);
    ds.dispose();
  });

  it('yields Batches, shuffles deterministically and keeps memory flat', async () => {
    const ds = make();
    const epoch = async (loader: GraphDataLoader) => {
      const ys: number[][] = [];
      for await (const b of loader) {
        expect(b).toBeInstanceOf(Batch);
        ys.push(Array.from(await b.y!.data()));
        b.dispose();
      }
      return ys;
    };
    const plain = new GraphDataLoader(ds, { batchSize: 4 });
    expect(plain.length).toBe(3);
    expect(await epoch(plain)).toEqual([[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]);
    expect(await epoch(new GraphDataLoader(ds, { batchSize: 4, dropLast: true }))).toEqual([[0, 1, 2, 3], [4, 5, 6, 7]]);
    const shuffled = () => epoch(new GraphDataLoader(ds, { batchSize: 3, shuffle: true, generator: new T.Generator(7) }));
    const a = await shuffled();
    expect(await shuffled()).toEqual(a);
    expect(a.flat().sort((p, q) => p - q)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(a.flat()).not.toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    const loader = new GraphDataLoader(ds, { batchSize: 3, shuffle: true });
    await epoch(loader);
    const before = T.memory();
    for (let i = 0; i < 3; i++) await epoch(loader);
    for await (const b of loader) {
      b.dispose();
      break;
    }
    expect(T.memory().tensors).toBe(before.tensors);
    expect(T.memory().bytes).toBe(before.bytes);
    ds.dispose();
  });
});
