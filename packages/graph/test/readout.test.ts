import { beforeAll, describe, expect, it } from 'vitest';
import * as T from '@tessera/tensor';
import { backward } from '@tessera/autodiff';
import * as nn from '@tessera/nn';
import { BatchNorm, GraphNorm } from '../src/nn/norm.js';
import { globalAddPool, globalMaxPool, globalMeanPool } from '../src/nn/pool.js';
import { GlobalAttention, JumpingKnowledge, Set2Set } from '../src/nn/readout.js';
import { checkCase, expectClose, fixture, fixtureValues, forEachBackend, fromFixture, hasNonFinite, loadInputs, tol, withState, type Inputs } from './layer-helpers.js';

interface ReadoutSpec {
  make: () => nn.Module;
  run: (m: any, i: Inputs) => T.Tensor;
}

const batched = (m: any, i: Inputs) => m.forward(i.x, i.batch, i.size ?? undefined);

/** The Tessera counterpart of each readout case in gen_layers.py. */
const readouts: Record<string, ReadoutSpec> = {
  BatchNorm: { make: () => new BatchNorm(4), run: (m, i) => m.forward(i.x) },
  GraphNorm: { make: () => new GraphNorm(4), run: batched },
  GraphNorm_single: { make: () => new GraphNorm(4), run: batched },
  Set2Set: { make: () => new Set2Set(4, 3), run: batched },
  GlobalAttention: { make: () => new GlobalAttention(new nn.Linear(4, 1), new nn.Linear(4, 5)), run: batched },
  JumpingKnowledge_cat: { make: () => new JumpingKnowledge('cat'), run: (m, i) => m.forward([i.x, i.x1, i.x2]) },
  JumpingKnowledge_max: { make: () => new JumpingKnowledge('max'), run: (m, i) => m.forward([i.x, i.x1, i.x2]) },
  JumpingKnowledge_lstm: { make: () => new JumpingKnowledge('lstm', { channels: 4, numLayers: 3 }), run: (m, i) => m.forward([i.x, i.x1, i.x2]) },
};

const pools = { globalAddPool, globalMeanPool, globalMaxPool };

forEachBackend('readouts and norms match PyTorch (PyG semantics)', (device) => {
  it('has a spec for every fixture case', () => {
    expect(fixture.readouts.map((c) => c.name).filter((n) => !readouts[n])).toEqual([]);
  });

  for (const c of fixture.readouts) {
    it(`${c.name}: output, input and parameter gradients`, async () => {
      const spec = readouts[c.name];
      const m = await withState(spec.make(), c.state, device);
      const inputs = loadInputs(c, device);
      const out = spec.run(m, inputs);
      await checkCase(c, m, inputs, out);
      T.dispose([...Object.values(inputs), out]);
      m.dispose();
    });
  }

  for (const c of fixture.pools) {
    it(`${c.name}: per-graph values (an empty graph reads 0) and gradients`, async () => {
      const x = fromFixture(c.inputs.x, device).requiresGrad_();
      const batch = fromFixture(c.inputs.batch, device);
      const out = pools[c.name as keyof typeof pools](x, batch, c.size);
      await expectClose(out, fixtureValues(c.output), { ...tol, shape: c.output.shape });
      const rows = Array.from(await out.data());
      expect(rows.slice(4, 8)).toEqual([0, 0, 0, 0]);
      const w = fromFixture(c.outWeight, device);
      backward(T.sum(T.mul(out, w)));
      await expectClose(x.grad!, fixtureValues(c.inputGrads.x), tol);
      T.dispose([x, batch, out, w]);
    });
  }

  it('pooling without a batch vector reads out the whole graph as one', async () => {
    const x = T.tensor([[1, -2], [3, 4], [-5, 6]], { device });
    await expectClose(globalAddPool(x), [[-1, 8]]);
    await expectClose(globalMeanPool(x), [[-1 / 3, 8 / 3]]);
    await expectClose(globalMaxPool(x), [[3, 6]]);
    x.dispose();
  });

  it('graph readouts are invariant to the order of the nodes', async () => {
    const c = fixture.readouts.find((k) => k.name === 'Set2Set')!;
    const x = fromFixture(c.inputs.x as any, device);
    const batch = fromFixture(c.inputs.batch as any, device);
    const perm = T.tensor([5, 2, 6, 0, 3, 1, 4], { dtype: 'int32', device });
    const xp = T.indexSelect(x, 0, perm);
    const bp = T.indexSelect(batch, 0, perm);
    const modules: [string, (x: T.Tensor, b: T.Tensor) => T.Tensor][] = [
      ['globalAddPool', (a, b) => globalAddPool(a, b, 3)],
      ['globalMeanPool', (a, b) => globalMeanPool(a, b, 3)],
      ['globalMaxPool', (a, b) => globalMaxPool(a, b, 3)],
    ];
    const s2s = await withState(new Set2Set(4, 3), c.state, device);
    const att = await new GlobalAttention(new nn.Linear(4, 1), new nn.Linear(4, 5)).to(device);
    modules.push(['Set2Set', (a, b) => s2s.forward(a, b, 3)], ['GlobalAttention', (a, b) => att.forward(a, b, 3)]);
    for (const [name, f] of modules) {
      const a = f(x, batch);
      const b = f(xp, bp);
      expect(await hasNonFinite(a), name).toBe(false);
      await expectClose(b, a, tol);
      T.dispose([a, b]);
    }
    T.dispose([x, batch, perm, xp, bp]);
    s2s.dispose();
    att.dispose();
  });

  it('GraphNorm normalises each graph to zero mean and unit variance with default parameters', async () => {
    const m = await new GraphNorm(2).to(device);
    const x = T.tensor([[1, 2], [3, 8], [10, -1], [20, 1], [30, 3]], { device });
    const batch = T.tensor([0, 0, 1, 1, 1], { dtype: 'int32', device });
    const out = m.forward(x, batch, 2);
    const v = Array.from(await out.data());
    for (const rows of [[0, 1], [2, 3, 4]]) {
      for (let f = 0; f < 2; f++) {
        const col = rows.map((r) => v[r * 2 + f]);
        const mean = col.reduce((a, b) => a + b, 0) / col.length;
        const variance = col.reduce((a, b) => a + (b - mean) ** 2, 0) / col.length;
        expect(mean).toBeCloseTo(0, 5);
        expect(variance).toBeCloseTo(1, 3);
      }
    }
    T.dispose([x, batch, out]);
    m.dispose();
  });
});

describe('readouts reject bad input', () => {
  // The checks below read indices synchronously: they run on the cpu whatever the default device.
  beforeAll(() => T.setDefaultDevice('cpu'));

  it('names the function, expected and received', () => {
    const x = T.ones([4, 2], { device: 'cpu' });
    const batch = T.tensor([0, 0, 1], { dtype: 'int32', device: 'cpu' });
    expect(() => globalAddPool(x, batch)).toThrow(/globalAddPool: expected batch to be an int32 tensor of shape \[4\]/);
    const outOfRange = T.tensor([0, 0, 1, 5], { dtype: 'int32', device: 'cpu' });
    expect(() => globalMeanPool(x, outOfRange, 2)).toThrow(/globalMeanPool: batch\[3\] = 5 is out of range for 2 graphs/);
    expect(() => new Set2Set(3, 2).forward(x)).toThrow(/Set2Set\(3, 6, processingSteps=2\): expected x of shape \[N, 3\], received \[4, 2\]/);
    expect(() => new GraphNorm(3).forward(x)).toThrow(/expected x of shape \[N, 3\]/);
    expect(() => new JumpingKnowledge('max').forward([x, T.ones([4, 3], { device: 'cpu' })])).toThrow(/needs representations of one shape/);
    expect(() => new JumpingKnowledge('lstm')).toThrow(/channels must be a positive integer/);
    expect(() => new GlobalAttention(new nn.Linear(2, 3), new nn.Linear(2, 5)).forward(x)).toThrow(/gateNn must map x to \[4, 1\] or \[4, 5\], produced \[4, 3\]/);
    T.dispose([x, batch, outOfRange]);
  });
});

forEachBackend('readouts on webgpu need the graph count', (device) => {
  it(device === 'cpu' ? 'infers the number of graphs from the batch vector' : 'asks for size when the batch vector cannot be read synchronously', async () => {
    const x = T.ones([3, 2], { device });
    const batch = T.tensor([0, 2, 2], { dtype: 'int32', device });
    if (device === 'cpu') {
      const out = globalAddPool(x, batch);
      await expectClose(out, [[1, 1], [0, 0], [2, 2]]);
      out.dispose();
    } else {
      expect(() => globalAddPool(x, batch)).toThrow(/pass size \(the number of graphs\)/);
    }
    T.dispose([x, batch]);
  });
});
