import { beforeAll, describe, expect, it } from 'vitest';
import * as T from '@tessera/tensor';
import { backward } from '@tessera/autodiff';
import * as nn from '../src/index.js';
import { expectClose, forEachBackend, fromFixture, fixtureValues, type FixtureTensor } from '../../tensor/test/helpers.js';
import { readFileSync } from 'node:fs';

interface LayerCase {
  name: string;
  state: [string, FixtureTensor][];
  inputs: FixtureTensor[];
  output: FixtureTensor;
  outWeight: FixtureTensor;
  inputGrads: (FixtureTensor | null)[];
  paramGrads: [string, FixtureTensor][];
}
interface StatsCase {
  name: string;
  op: 'stats';
  state: [string, FixtureTensor][];
  steps: FixtureTensor[];
  after: [string, FixtureTensor][];
  evalInput: FixtureTensor;
  evalOutput: FixtureTensor;
}

const all = JSON.parse(readFileSync(new URL('./fixtures/layers.json', import.meta.url), 'utf8')).cases as (LayerCase | StatsCase)[];
const layerCases = all.filter((c): c is LayerCase => (c as StatsCase).op !== 'stats');
const statsCases = all.filter((c): c is StatsCase => (c as StatsCase).op === 'stats');

/** The Tessera counterpart of each PyTorch layer in gen_layers.py. */
const factories: Record<string, () => nn.Module> = {
  Linear: () => new nn.Linear(4, 3),
  Linear_nobias_3d: () => new nn.Linear(4, 3, { bias: false }),
  Bilinear: () => new nn.Bilinear(3, 2, 4),
  Embedding_padding: () => new nn.Embedding(5, 3, { paddingIdx: 1 }),
  Conv1d: () => new nn.Conv1d(2, 4, 3, { stride: 2, padding: 1 }),
  Conv2d: () => new nn.Conv2d(3, 4, 3, { padding: 1 }),
  Conv2d_groups: () => new nn.Conv2d(4, 4, [3, 2], { stride: [2, 1], groups: 2, bias: false }),
  ConvTranspose2d: () => new nn.ConvTranspose2d(3, 2, 3, { stride: 2, padding: 1, outputPadding: 1 }),
  MaxPool1d: () => new nn.MaxPool1d(3, { stride: 2, padding: 1 }),
  MaxPool2d: () => new nn.MaxPool2d(3, { stride: 2, padding: 1 }),
  AvgPool1d: () => new nn.AvgPool1d(3, { stride: 2, padding: 1, countIncludePad: false }),
  AvgPool2d: () => new nn.AvgPool2d(2),
  AdaptiveAvgPool2d: () => new nn.AdaptiveAvgPool2d([2, 3]),
  Upsample_nearest: () => new nn.Upsample({ scaleFactor: 2, mode: 'nearest' }),
  Upsample_bilinear: () => new nn.Upsample({ size: [5, 4], mode: 'bilinear', alignCorners: false }),
  BatchNorm1d_train: () => new nn.BatchNorm1d(3),
  BatchNorm2d_train: () => new nn.BatchNorm2d(3),
  BatchNorm1d_eval: () => new nn.BatchNorm1d(3).eval(),
  LayerNorm: () => new nn.LayerNorm([3, 4]),
  GroupNorm: () => new nn.GroupNorm(2, 4),
  InstanceNorm2d: () => new nn.InstanceNorm2d(3, { affine: true }),
  ReLU: () => new nn.ReLU(),
  ReLU6: () => new nn.ReLU6(),
  LeakyReLU: () => new nn.LeakyReLU(0.2),
  PReLU: () => new nn.PReLU({ numParameters: 3 }),
  ELU: () => new nn.ELU(0.5),
  GELU: () => new nn.GELU(),
  GELU_tanh: () => new nn.GELU('tanh'),
  SiLU: () => new nn.SiLU(),
  Mish: () => new nn.Mish(),
  Softplus: () => new nn.Softplus(2, 5),
  Tanh: () => new nn.Tanh(),
  Sigmoid: () => new nn.Sigmoid(),
  Softmax: () => new nn.Softmax(1),
  LogSoftmax: () => new nn.LogSoftmax(-1),
  'BatchNorm2d_momentum0.3': () => new nn.BatchNorm2d(3, { momentum: 0.3 }),
  BatchNorm1d_cumulative: () => new nn.BatchNorm1d(2, { momentum: null }),
};

async function build(name: string, state: [string, FixtureTensor][], device: T.DeviceName): Promise<nn.Module> {
  const m = await factories[name]().to(device);
  const dict = Object.fromEntries(state.map(([k, t]) => [k, fromFixture(t, device)]));
  m.loadStateDict(dict);
  T.dispose(Object.values(dict));
  return m;
}

const tol = { atol: 2e-5, rtol: 2e-4 };

forEachBackend('layers match PyTorch 1.13', (device) => {
  it('has a factory for every fixture case', () => {
    expect(all.map((c) => c.name).filter((n) => !factories[n])).toEqual([]);
  });

  for (const c of layerCases) {
    it(`${c.name}: forward, input and parameter gradients`, async () => {
      const m = await build(c.name, c.state, device);
      const inputs = c.inputs.map((f) => fromFixture(f, device));
      for (const x of inputs) if (x.dtype === 'float32') x.requiresGrad_();
      const out = m.forward(...inputs) as T.Tensor;
      await expectClose(out, fixtureValues(c.output), { ...tol, shape: c.output.shape });
      const w = fromFixture(c.outWeight, device);
      const loss = T.sum(T.mul(out, w));
      backward(loss);
      for (const [i, g] of c.inputGrads.entries()) {
        if (!g) continue;
        expect(inputs[i].grad, `grad of input ${i}`).not.toBeNull();
        await expectClose(inputs[i].grad!, fixtureValues(g), { ...tol, shape: g.shape });
      }
      const params = new Map(m.namedParameters());
      expect([...params.keys()]).toEqual(c.paramGrads.map(([k]) => k));
      for (const [k, g] of c.paramGrads) {
        expect(params.get(k)!.grad, `grad of ${k}`).not.toBeNull();
        await expectClose(params.get(k)!.grad!, fixtureValues(g), { ...tol, shape: g.shape });
      }
      T.dispose([...inputs, out, w, loss]);
      m.dispose();
    });
  }

  for (const c of statsCases) {
    it(`${c.name}: running statistics after ${c.steps.length} training steps, then eval output`, async () => {
      const m = await build(c.name, c.state, device);
      m.train();
      for (const f of c.steps) {
        const x = fromFixture(f, device);
        T.dispose([m.forward(x), x]);
      }
      const state = m.stateDict();
      expect(Object.keys(state)).toEqual(c.after.map(([k]) => k));
      for (const [k, f] of c.after) await expectClose(state[k], fixtureValues(f), { ...tol, shape: f.shape });
      m.eval();
      const x = fromFixture(c.evalInput, device);
      const y = m.forward(x);
      await expectClose(y, fixtureValues(c.evalOutput), tol);
      T.dispose([x, y]);
      m.dispose();
    });
  }

  describe('layers without golden files', () => {
    it('Identity and Flatten', async () => {
      const x = T.arange(0, 24, 1, { device, dtype: 'float32' }).reshape([2, 3, 4]);
      const id = new nn.Identity().forward(x);
      await expectClose(id, await x.data());
      id.dispose();
      expect(x.isDisposed).toBe(false);
      const f = new nn.Flatten().forward(x);
      expect(f.shape).toEqual([2, 12]);
      const f0 = new nn.Flatten(0, 1).forward(x);
      expect(f0.shape).toEqual([6, 4]);
      T.dispose([x, f, f0]);
    });

    it('Dropout: identity in eval; in training zeroes about p and rescales the rest by 1/(1-p)', async () => {
      T.manualSeed(7);
      const d = new nn.Dropout(0.3);
      const x = T.ones([100, 100], { device });
      const y = d.forward(x);
      const v = Array.from(await y.data());
      const zeros = v.filter((a) => a === 0).length / v.length;
      expect(zeros).toBeGreaterThan(0.27);
      expect(zeros).toBeLessThan(0.33);
      expect(v.every((a) => a === 0 || Math.abs(a - 1 / 0.7) < 1e-6)).toBe(true);
      d.eval();
      const z = d.forward(x);
      await expectClose(z, await x.data());
      T.dispose([x, y, z]);
    });

    it('Dropout gradients follow the mask', async () => {
      T.manualSeed(3);
      const x = T.ones([50], { device }).requiresGrad_();
      const y = new nn.Dropout(0.5).forward(x);
      const loss = T.sum(y);
      backward(loss);
      await expectClose(x.grad!, await y.data());
      T.dispose([x, y, loss]);
    });
  });
});

describe('default initialisation (cpu)', () => {
  beforeAll(() => T.setDefaultDevice('cpu'));
  it('Linear and Conv2d weights and biases lie within the PyTorch bounds', async () => {
    T.manualSeed(0);
    const lin = new nn.Linear(64, 32);
    const bound = 1 / Math.sqrt(64); // kaiming_uniform(a=√5) gives U(±1/√fanIn) too
    for (const p of lin.parameters()) {
      const v = Array.from(await p.data());
      expect(Math.max(...v.map(Math.abs))).toBeLessThanOrEqual(bound);
      expect(Math.max(...v.map(Math.abs))).toBeGreaterThan(0.9 * bound);
    }
    const conv = new nn.Conv2d(4, 6, 3);
    const cb = 1 / Math.sqrt(4 * 9);
    const w = Array.from(await conv.weight.data());
    expect(Math.max(...w.map(Math.abs))).toBeLessThanOrEqual(cb);
    lin.dispose();
    conv.dispose();
  });

  it('Embedding is N(0, 1) with a zero padding row; BatchNorm starts at weight 1, bias 0', async () => {
    T.manualSeed(0);
    const e = new nn.Embedding(200, 50, { paddingIdx: -1 });
    expect(e.paddingIdx).toBe(199);
    const v = Array.from(await e.weight.data());
    expect(v.slice(199 * 50).every((a) => a === 0)).toBe(true);
    const body = v.slice(0, 199 * 50);
    const mean = body.reduce((a, b) => a + b, 0) / body.length;
    const std = Math.sqrt(body.reduce((a, b) => a + (b - mean) ** 2, 0) / body.length);
    expect(Math.abs(mean)).toBeLessThan(0.03);
    expect(Math.abs(std - 1)).toBeLessThan(0.03);
    const bn = new nn.BatchNorm2d(4);
    await expectClose(bn.weight!, [1, 1, 1, 1]);
    await expectClose(bn.bias!, [0, 0, 0, 0]);
    e.dispose();
    bn.dispose();
  });
});

describe('bad inputs name the layer and the shapes', () => {
  beforeAll(() => T.setDefaultDevice('cpu'));
  it('wrong feature / channel sizes', () => {
    const lin = new nn.Linear(4, 3);
    const x = T.zeros([2, 5]);
    expect(() => lin.forward(x)).toThrow(/Linear\(inFeatures=4, outFeatures=3.*expected input of shape \[\.\.\., 4\], received \[2, 5\]/);
    const conv = new nn.Conv2d(3, 8, 3);
    const img = T.zeros([1, 4, 5, 5]);
    expect(() => conv.forward(img)).toThrow(/Conv2d\(3, 8.*expected input of shape \[N, 3, H, W\].*received \[1, 4, 5, 5\]/);
    const bn = new nn.BatchNorm1d(3);
    expect(() => bn.forward(T.zeros([1, 3]))).toThrow(/BatchNorm1d.*more than 1 value per channel/);
    expect(() => bn.forward(x)).toThrow(/BatchNorm1d\(3.*\[N, 3\].*received \[2, 5\]/);
    expect(() => new nn.LayerNorm(4).forward(T.zeros([2, 3]))).toThrow(/LayerNorm.*\[\.\.\., 4\].*received \[2, 3\]/);
    expect(() => new nn.Embedding(3, 2).forward(T.zeros([2]))).toThrow(/Embedding.*int32 indices, received float32/);
    expect(() => lin.forward(T.zeros([2, 4], { dtype: 'int32' }))).toThrow(/Linear.*float32 or float64 input, received int32/);
  });

  it('bad constructor arguments', () => {
    expect(() => new nn.Linear(0, 3)).toThrow(/Linear: inFeatures must be a positive integer, received 0/);
    expect(() => new nn.Conv2d(3, 4, 3, { groups: 2 })).toThrow(/divisible by groups/);
    expect(() => new nn.GroupNorm(3, 4)).toThrow(/divisible by numGroups/);
    expect(() => new nn.Dropout(1.5)).toThrow(/Dropout: p must be in \[0, 1\], received 1.5/);
    expect(() => new nn.Embedding(3, 2, { paddingIdx: 3 })).toThrow(/paddingIdx/);
  });
});
