/**
 * Layer options against PyTorch 1.13 (fixtures/gen_layers_extra.py): Conv1d/Conv2d paddingMode,
 * InstanceNorm1d/2d with running statistics, MaxPool returnIndices with MaxUnpool1d/2d, Embedding
 * maxNorm; then the errors of these options.
 */
import { readFileSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import * as T from '@tessera/tensor';
import { backward } from '@tessera/autodiff';
import * as nn from '../src/index.js';
import { expectClose, forEachBackend, fromFixture, fixtureValues, type FixtureTensor } from '../../tensor/test/helpers.js';

type State = [string, FixtureTensor][];
interface LayerCase {
  kind: 'layer';
  name: string;
  state: State;
  inputs: FixtureTensor[];
  output: FixtureTensor;
  outWeight: FixtureTensor;
  inputGrads: FixtureTensor[];
  paramGrads: State;
}
interface StatsCase {
  kind: 'stats';
  name: string;
  state: State;
  steps: FixtureTensor[];
  trainOutputs: FixtureTensor[];
  after: State;
  evalInput: FixtureTensor;
  evalOutput: FixtureTensor;
  outWeight: FixtureTensor;
  inputGrad: FixtureTensor;
  paramGrads: State;
}
interface UnpoolCase {
  kind: 'unpool';
  name: string;
  input: FixtureTensor;
  values: FixtureTensor;
  indices: FixtureTensor;
  outputSize: number[] | null;
  output: FixtureTensor;
  outWeight: FixtureTensor;
  inputGrad: FixtureTensor;
}
interface EmbeddingCase {
  kind: 'embedding';
  name: string;
  state: State;
  indices: FixtureTensor;
  output: FixtureTensor;
  weightAfter: FixtureTensor;
  outWeight: FixtureTensor;
  weightGrad: FixtureTensor;
}
type Case = LayerCase | StatsCase | UnpoolCase | EmbeddingCase;

const cases = JSON.parse(readFileSync(new URL('./fixtures/layers_extra.json', import.meta.url), 'utf8')).cases as Case[];
const ofKind = <K extends Case['kind']>(k: K) => cases.filter((c): c is Extract<Case, { kind: K }> => c.kind === k);

/** The Tessera counterpart of each module case of gen_layers_extra.py. */
const factories: Record<string, () => nn.Module> = {
  Conv1d_reflect: () => new nn.Conv1d(2, 3, 3, { padding: 2, paddingMode: 'reflect' }),
  Conv1d_circular_same: () => new nn.Conv1d(2, 3, 4, { padding: 'same', paddingMode: 'circular' }),
  Conv1d_replicate_unbatched: () => new nn.Conv1d(2, 2, 3, { stride: 2, padding: 1, paddingMode: 'replicate' }),
  Conv2d_reflect: () => new nn.Conv2d(2, 3, 3, { stride: 2, padding: [1, 2], paddingMode: 'reflect' }),
  Conv2d_replicate_groups: () => new nn.Conv2d(2, 4, [2, 3], { padding: [2, 1], groups: 2, bias: false, paddingMode: 'replicate' }),
  Conv2d_circular: () => new nn.Conv2d(3, 2, 3, { padding: 1, paddingMode: 'circular' }),
  Conv2d_circular_same_dilated: () => new nn.Conv2d(2, 2, 3, { padding: 'same', dilation: 2, paddingMode: 'circular' }),
  InstanceNorm1d_affine: () => new nn.InstanceNorm1d(3, { affine: true }),
  InstanceNorm1d_unbatched: () => new nn.InstanceNorm1d(3),
  InstanceNorm2d_track_train: () => new nn.InstanceNorm2d(2, { affine: true, trackRunningStats: true }),
  InstanceNorm2d_eval_running: () => new nn.InstanceNorm2d(3, { affine: true, trackRunningStats: true }).eval(),
  InstanceNorm1d_stats: () => new nn.InstanceNorm1d(3, { momentum: 0.2, affine: true, trackRunningStats: true }),
  InstanceNorm2d_stats: () => new nn.InstanceNorm2d(2, { trackRunningStats: true }),
  Embedding_maxNorm: () => new nn.Embedding(6, 4, { maxNorm: 1 }),
  Embedding_maxNorm_p1_padding: () => new nn.Embedding(5, 3, { maxNorm: 1.5, normType: 1, paddingIdx: 3 }),
};

type Pool = nn.MaxPool1d<true> | nn.MaxPool2d<true>;
const pools: Record<string, () => [Pool, nn.MaxUnpool1d | nn.MaxUnpool2d]> = {
  pool2d_padded_outputSize: () => [new nn.MaxPool2d(3, { stride: 2, padding: 1, returnIndices: true }), new nn.MaxUnpool2d(3, { stride: 2, padding: 1 })],
  pool2d: () => [new nn.MaxPool2d(2, { returnIndices: true }), new nn.MaxUnpool2d(2)],
  pool2d_unbatched_overlap: () => [new nn.MaxPool2d(3, { stride: 1, returnIndices: true }), new nn.MaxUnpool2d(3, { stride: 1 })],
  pool1d_fullOutputSize: () => [new nn.MaxPool1d(2, { returnIndices: true }), new nn.MaxUnpool1d(2)],
  pool1d_dilated: () => [new nn.MaxPool1d(2, { stride: 1, dilation: 2, returnIndices: true }), new nn.MaxUnpool1d(3, { stride: 1 })],
};

async function build(name: string, state: State, device: T.DeviceName): Promise<nn.Module> {
  const m = await factories[name]().to(device);
  const dict = Object.fromEntries(state.map(([k, t]) => [k, fromFixture(t, device)]));
  m.loadStateDict(dict);
  T.dispose(Object.values(dict));
  return m;
}

async function expectParamGrads(m: nn.Module, want: State): Promise<void> {
  const params = new Map(m.namedParameters());
  expect([...params.keys()]).toEqual(want.map(([k]) => k));
  for (const [k, g] of want) {
    expect(params.get(k)!.grad, `grad of ${k}`).not.toBeNull();
    await expectClose(params.get(k)!.grad!, fixtureValues(g), { ...tol, shape: g.shape });
  }
}

const tol = { atol: 2e-5, rtol: 2e-4 };

forEachBackend('layer options match PyTorch 1.13', (device) => {
  it('has a factory for every fixture case', () => {
    expect(cases.map((c) => c.name).filter((n) => !factories[n] && !pools[n])).toEqual([]);
  });

  for (const c of ofKind('layer')) {
    it(`${c.name}: forward, input and parameter gradients`, async () => {
      const m = await build(c.name, c.state, device);
      const inputs = c.inputs.map((f) => fromFixture(f, device).requiresGrad_());
      const out = m.forward(...inputs) as T.Tensor;
      await expectClose(out, fixtureValues(c.output), { ...tol, shape: c.output.shape });
      const w = fromFixture(c.outWeight, device);
      const loss = T.sum(T.mul(out, w));
      backward(loss);
      for (const [i, g] of c.inputGrads.entries()) await expectClose(inputs[i].grad!, fixtureValues(g), { ...tol, shape: g.shape });
      await expectParamGrads(m, c.paramGrads);
      T.dispose([...inputs, out, w, loss]);
      m.dispose();
    });
  }

  for (const c of ofKind('stats')) {
    it(`${c.name}: training outputs, running statistics, then eval output and gradients`, async () => {
      const m = await build(c.name, c.state, device);
      m.train();
      for (const [i, f] of c.steps.entries()) {
        const x = fromFixture(f, device);
        const y = m.forward(x) as T.Tensor;
        await expectClose(y, fixtureValues(c.trainOutputs[i]), { ...tol, shape: c.trainOutputs[i].shape });
        T.dispose([x, y]);
      }
      const state = m.stateDict();
      expect(Object.keys(state)).toEqual(c.after.map(([k]) => k));
      for (const [k, f] of c.after) await expectClose(state[k], fixtureValues(f), { ...tol, shape: f.shape });
      m.eval();
      const x = fromFixture(c.evalInput, device).requiresGrad_();
      const y = m.forward(x) as T.Tensor;
      await expectClose(y, fixtureValues(c.evalOutput), { ...tol, shape: c.evalOutput.shape });
      const w = fromFixture(c.outWeight, device);
      const loss = T.sum(T.mul(y, w));
      backward(loss);
      await expectClose(x.grad!, fixtureValues(c.inputGrad), { ...tol, shape: c.inputGrad.shape });
      await expectParamGrads(m, c.paramGrads);
      T.dispose([x, y, w, loss]);
      m.dispose();
    });
  }

  for (const c of ofKind('unpool')) {
    it(`${c.name}: max pooling indices, unpooling and the gradient through both`, async () => {
      const [pool, unpool] = pools[c.name]();
      const x = fromFixture(c.input, device).requiresGrad_();
      const { values, indices } = pool.forward(x);
      await expectClose(values, fixtureValues(c.values), { ...tol, shape: c.values.shape });
      expect(indices.dtype).toBe('int32');
      await expectClose(indices, fixtureValues(c.indices), { atol: 0, rtol: 0, shape: c.indices.shape });
      const out = unpool.forward(values, indices, c.outputSize ?? undefined);
      await expectClose(out, fixtureValues(c.output), { ...tol, shape: c.output.shape });
      const w = fromFixture(c.outWeight, device);
      const loss = T.sum(T.mul(out, w));
      backward(loss);
      await expectClose(x.grad!, fixtureValues(c.inputGrad), { ...tol, shape: c.inputGrad.shape });
      T.dispose([x, values, indices, out, w, loss]);
    });
  }

  for (const c of ofKind('embedding')) {
    it(`${c.name}: renormalised weight, output and weight gradient`, async () => {
      const m = (await build(c.name, c.state, device)) as nn.Embedding;
      const idx = fromFixture(c.indices, device);
      const out = m.forward(idx);
      await expectClose(m.weight, fixtureValues(c.weightAfter), { ...tol, shape: c.weightAfter.shape });
      await expectClose(out, fixtureValues(c.output), { ...tol, shape: c.output.shape });
      const w = fromFixture(c.outWeight, device);
      const loss = T.sum(T.mul(out, w));
      backward(loss);
      await expectClose(m.weight.grad!, fixtureValues(c.weightGrad), { ...tol, shape: c.weightGrad.shape });
      expect(m.weight.gradFn).toBeNull(); // the renormalisation is not recorded
      T.dispose([idx, out, w, loss]);
      m.dispose();
    });
  }

  it('Embedding maxNorm keeps memory flat and leaves rows within the norm alone', async () => {
    T.manualSeed(11);
    const e = await new nn.Embedding(10, 4, { maxNorm: 1.2 }).to(device);
    const idx = T.tensor([1, 4, 4, 7], { dtype: 'int32', device });
    T.dispose(e.forward(idx));
    const before = T.memory();
    for (let i = 0; i < 5; i++) T.dispose(e.forward(idx));
    const after = T.memory();
    expect([after.tensors, after.bytes]).toEqual([before.tensors, before.bytes]);
    const rows = Array.from(await e.weight.data());
    const norm = (r: number) => Math.hypot(...rows.slice(4 * r, 4 * r + 4));
    for (const r of [1, 4, 7]) expect(norm(r)).toBeLessThanOrEqual(1.2 + 1e-5);
    idx.dispose();
    e.dispose();
  });
});

describe('errors of the layer options [cpu]', () => {
  beforeAll(() => T.setDefaultDevice('cpu'));

  it('paddingMode', () => {
    expect(() => new nn.Conv2d(2, 2, 3, { paddingMode: 'mirror' as never })).toThrow(/Conv2d: paddingMode must be one of zeros, reflect, replicate, circular, received 'mirror'/);
    expect(() => new nn.Conv1d(2, 2, 3, { padding: 'same', stride: 2, paddingMode: 'reflect' })).toThrow(/Conv1d: padding 'same' needs stride 1/);
    const conv = new nn.Conv1d(1, 1, 5, { padding: 3, paddingMode: 'reflect' });
    expect(() => conv.forward(T.zeros([1, 1, 3]))).toThrow(/Conv1d\(1, 1.*paddingMode=reflect.*reflect padding 3 must be smaller than the input size 3 \(input shape \[1, 1, 3\]\)/);
    const circ = new nn.Conv2d(1, 1, 3, { padding: [1, 3], paddingMode: 'circular' });
    expect(() => circ.forward(T.zeros([1, 1, 4, 2]))).toThrow(/circular padding 3 must be at most the input size 2/);
  });

  it('InstanceNorm', () => {
    expect(() => new nn.InstanceNorm1d(3, { momentum: null as never })).toThrow(/InstanceNorm1d: momentum must be a number in \[0, 1\]; the cumulative average \(null\) exists for batch norm only/);
    expect(() => new nn.InstanceNorm2d(3, { momentum: 2 })).toThrow(/InstanceNorm2d: momentum must be in \[0, 1\], received 2/);
    const n1 = new nn.InstanceNorm1d(3, { trackRunningStats: true });
    expect(() => n1.forward(T.zeros([2, 4, 5]))).toThrow(/InstanceNorm1d\(3.*expected input of shape \[N, 3, L\] or \[3, L\], received \[2, 4, 5\]/);
    expect(() => n1.forward(T.zeros([2, 3, 1]))).toThrow(/InstanceNorm1d.*more than 1 spatial element when training.*\[2, 3, 1\]/);
    n1.eval();
    const y = n1.forward(T.ones([2, 3, 1])); // eval with running statistics: one element is fine
    expect(Array.from(y.dataSync()).every((v) => Math.abs(v - 1 / Math.sqrt(1 + 1e-5)) < 1e-6)).toBe(true);
    expect(Object.keys(n1.stateDict())).toEqual(['running_mean', 'running_var', 'num_batches_tracked']);
    expect(Object.keys(new nn.InstanceNorm2d(2).stateDict())).toEqual([]);
  });

  it('MaxUnpool', () => {
    const unpool = new nn.MaxUnpool2d(2);
    const x = T.ones([1, 1, 2, 2]);
    const idx = T.tensor([0, 1, 4, 15], { dtype: 'int32', shape: [1, 1, 2, 2] });
    expect(() => unpool.forward(x, T.zeros([1, 1, 2, 2]))).toThrow(/MaxUnpool2d.*expected int32 indices.*received float32/);
    expect(() => unpool.forward(x, T.zeros([1, 1, 2], { dtype: 'int32' }))).toThrow(/MaxUnpool2d.*expected indices of the input's shape \[1, 1, 2, 2\], received \[1, 1, 2\]/);
    expect(() => unpool.forward(x, idx, [6, 4])).toThrow(/MaxUnpool2d.*invalid outputSize \[6, 4\] \(dim 0 must be between 2 and 6, exclusive\)/);
    expect(() => unpool.forward(x, idx, [1, 4, 4])).toThrow(/outputSize must hold 2 or 4 numbers/);
    expect(() => unpool.forward(x, idx, [3, 3])).toThrow(/MaxUnpool2d.*found an invalid max index 15 \(the output plane \[3, 3\] holds 9 elements\)/);
    const ok = unpool.forward(x, idx);
    expect(Array.from(ok.dataSync())).toEqual([1, 1, 0, 0, 1, ...new Array<number>(10).fill(0), 1]);
    expect(() => new nn.MaxUnpool1d(0)).toThrow(/MaxUnpool1d: kernelSize must be an integer >= 1/);
    T.dispose([x, idx, ok]);
  });

  it('Embedding maxNorm', () => {
    expect(() => new nn.Embedding(3, 2, { maxNorm: 0 })).toThrow(/Embedding: maxNorm must be a positive number or null, received 0/);
    expect(() => new nn.Embedding(3, 2, { maxNorm: 1, normType: 'fro' as never })).toThrow(/Embedding: normType must be a number/);
    const e = new nn.Embedding(3, 2, { maxNorm: 1 });
    expect(() => e.forward(T.tensor([0, 3], { dtype: 'int32' }))).toThrow(/out of range/);
    e.dispose();
  });
});
