/**
 * SWA for modules against PyTorch 1.13 (fixtures/gen_swa.py): an MLP with BatchNorm1d trained with
 * SGD, averaged by AveragedModel (equal average; EMA with useBuffers), then updateBn. Also
 * Module.deepCopy, updateBn's restoring of momentum and mode, batch ownership, memory and bad input.
 */
import { readFileSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import * as T from '@tessera/tensor';
import { backward } from '@tessera/autodiff';
import { SGD } from '@tessera/optimize';
import * as nn from '../src/index.js';
import { expectClose, forEachBackend, fromFixture, fixtureValues, type FixtureTensor } from '../../tensor/test/helpers.js';

interface SwaCase {
  name: string;
  lr: number;
  epochs: number;
  swaStart: number;
  batchSize: number;
  useBuffers: boolean;
  updateBn: boolean;
  initial: [string, FixtureTensor][];
  x: FixtureTensor;
  y: FixtureTensor;
  xTest: FixtureTensor;
  trained: [string, FixtureTensor][];
  averaged: [string, FixtureTensor][];
  afterBn: [string, FixtureTensor][];
  evalOutput: FixtureTensor;
}

const cases = JSON.parse(readFileSync(new URL('./fixtures/swa.json', import.meta.url), 'utf8')).cases as SwaCase[];

/** The averaging rule of each case of gen_swa.py (undefined: the default equal average). */
const AVG_FNS: Record<string, nn.AvgFn | undefined> = {
  equal: undefined,
  ema_buffers: (avg, cur) => T.add(T.mul(avg, 0.7), T.mul(cur, 0.3)),
};

const mlp = () => new nn.Sequential(new nn.Linear(4, 8), new nn.BatchNorm1d(8), new nn.ReLU(), new nn.Linear(8, 3));

async function expectState(m: nn.Module, want: [string, FixtureTensor][], tol: { atol: number; rtol: number }): Promise<void> {
  const state = m.stateDict();
  expect(Object.keys(state)).toEqual(want.map(([k]) => k));
  for (const [k, f] of want) {
    expect(state[k].dtype, k).toBe(f.dtype === 'float64' ? 'float32' : f.dtype);
    await expectClose(state[k], fixtureValues(f), { ...tol, shape: f.shape });
  }
}

const tol = { atol: 1e-4, rtol: 1e-4 };

forEachBackend('SWA matches PyTorch 1.13', (device) => {
  it('has an averaging rule for every fixture case', () => {
    expect(cases.map((c) => c.name).filter((n) => !(n in AVG_FNS))).toEqual([]);
  });

  for (const c of cases) {
    it(`${c.name}: trained model, averaged model, batch-norm update and eval output`, async () => {
      const model = await mlp().to(device);
      const init = Object.fromEntries(c.initial.map(([k, f]) => [k, fromFixture(f, device)]));
      model.loadStateDict(init);
      T.dispose(Object.values(init));
      const [x, y, xTest] = [c.x, c.y, c.xTest].map((f) => fromFixture(f, device));
      const loader = new nn.DataLoader(new nn.TensorDataset(x, y), { batchSize: c.batchSize });
      const opt = new SGD(model.parameters(), { lr: c.lr });
      const swa = new nn.AveragedModel(model, { avgFn: AVG_FNS[c.name], useBuffers: c.useBuffers });
      let step = 0;
      for (let epoch = 0; epoch < c.epochs; epoch++) {
        for await (const batch of loader) {
          const [xb, yb] = batch as T.Tensor[];
          opt.zeroGrad();
          T.tidy(() => backward(nn.F.mseLoss(model.forward(xb), yb)));
          opt.step();
          T.dispose([xb, yb]);
          if (++step >= c.swaStart) swa.updateParameters(model);
        }
      }
      await expectState(model, c.trained, tol);
      await expectState(swa, c.averaged, tol);
      const bn = swa.module.at(1) as nn.BatchNorm1d;
      if (c.updateBn) await nn.updateBn(loader, swa);
      await expectState(swa, c.afterBn, tol);
      expect([swa.training, bn.training, bn.momentum]).toEqual([true, true, 0.1]);
      swa.eval();
      const out = swa.forward(xTest) as T.Tensor;
      await expectClose(out, fixtureValues(c.evalOutput), { ...tol, shape: c.evalOutput.shape });
      opt.zeroGrad();
      T.dispose([x, y, xTest, out]);
      model.dispose();
      swa.dispose();
    });
  }

  it('updateParameters keeps memory flat and records nothing', async () => {
    T.manualSeed(1);
    const model = await mlp().to(device);
    const swa = new nn.AveragedModel(model, { useBuffers: true });
    swa.updateParameters(model);
    await swa.nAveraged.data();
    const before = T.memory();
    for (let i = 0; i < 20; i++) swa.updateParameters(model);
    expect(Number((await swa.nAveraged.data())[0])).toBe(21);
    const after = T.memory();
    expect([after.tensors, after.bytes]).toEqual([before.tensors, before.bytes]);
    for (const p of swa.parameters()) expect([p.gradFn, p.requiresGrad]).toEqual([null, true]);
    model.dispose();
    swa.dispose();
  });

  it('updateBn disposes DataLoader batches and keeps memory flat', async () => {
    T.manualSeed(2);
    const model = await mlp().to(device);
    const x = T.randn([40, 4], { device });
    const loader = new nn.DataLoader(new nn.TensorDataset(x), { batchSize: 8 });
    await nn.updateBn(loader, model);
    const before = T.memory();
    await nn.updateBn(loader, model);
    await nn.updateBn(loader, model);
    const after = T.memory();
    expect([after.tensors, after.bytes]).toEqual([before.tensors, before.bytes]);
    // The cumulative average over the 5 equal-size batches is the mean of the batch means.
    const bn = model.at(1) as nn.BatchNorm1d;
    const h = T.tidy(() => (model.at(0) as nn.Linear).forward(x));
    const batchMeans = T.tidy(() => T.mean(T.reshape(h, [5, 8, 8]), { dim: 1 }));
    await expectClose(bn.runningMean!, T.mean(batchMeans, { dim: 0 }), { atol: 1e-5, rtol: 1e-5 });
    expect(Number((await bn.numBatchesTracked!.data())[0])).toBe(5);
    T.dispose([x, h, batchMeans]);
    model.dispose();
  });

  it(`AveragedModel.create puts the copy on ${device} and moves cpu values there`, async () => {
    T.manualSeed(6);
    const model = await mlp().to('cpu');
    const a = await nn.AveragedModel.create(model, { device });
    expect(new Set([...a.parameters(), ...a.buffers()].map((t) => t.device))).toEqual(new Set([device]));
    a.updateParameters(model);
    await expectClose(a.module.at(0).parameters()[0], model.at(0).parameters()[0].dataSync());
    expect(() => new nn.AveragedModel(model, { device } as never)).toThrow(/use await AveragedModel.create/);
    model.dispose();
    a.dispose();
  });
});

describe('updateBn and AveragedModel without golden files [cpu]', () => {
  beforeAll(() => T.setDefaultDevice('cpu'));

  it('restores each momentum and the model mode, and takes the first element of array batches', async () => {
    T.manualSeed(3);
    const model = new nn.Sequential(new nn.Linear(3, 4), new nn.BatchNorm1d(4, { momentum: 0.3 }), new nn.Dropout(0.5), new nn.Linear(4, 4), new nn.BatchNorm1d(4, { momentum: null }));
    model.eval();
    const batches = [[T.randn([6, 3]), T.zeros([6])], [T.randn([6, 3]), T.zeros([6])]];
    await nn.updateBn(batches, model);
    const bns = [model.at(1), model.at(4)] as nn.BatchNorm1d[];
    expect(bns.map((m) => m.momentum)).toEqual([0.3, null]);
    expect(model.modules().map((m) => m.training)).toEqual(new Array(6).fill(false));
    expect(bns.map((m) => Number(m.numBatchesTracked!.dataSync()[0]))).toEqual([2, 2]);
    // Batches of a plain array belong to the caller: they are left alive.
    expect(batches.flat().every((t) => !t.isDisposed)).toBe(true);
    // The first norm saw both batches: its running mean is the mean of the two batch means.
    const means = batches.map(([b]) => T.tidy(() => T.mean((model.at(0) as nn.Linear).forward(b), { dim: 0 })));
    await expectClose(bns[0].runningMean!, T.tidy(() => T.mean(T.stack(means), { dim: 0 })), { atol: 1e-6, rtol: 1e-5 });
    T.dispose([batches, means]);
    model.dispose();
  });

  it('does nothing for a model without batch norms, and rejects bad input', async () => {
    const lin = new nn.Linear(2, 2);
    const one = T.ones([2, 2]);
    await nn.updateBn([one], lin); // no batch norm: nothing runs, and the caller's batch stays alive
    expect(one.isDisposed).toBe(false);
    one.dispose();
    await expect(nn.updateBn(3 as never, lin)).rejects.toThrow(/updateBn: expected an iterable or async iterable of batches/);
    await expect(nn.updateBn([], {} as never)).rejects.toThrow(/updateBn: expected a Module/);
    const bn = new nn.Sequential(new nn.Linear(2, 2), new nn.BatchNorm1d(2));
    await expect(nn.updateBn([['x']], bn)).rejects.toThrow(/updateBn: batch 0 is not a tensor/);
    expect(((bn.at(1) as nn.BatchNorm1d).momentum)).toBe(0.1);
    expect(() => new nn.AveragedModel(3 as never)).toThrow(/AveragedModel: expected a Module/);
    expect(() => new nn.AveragedModel(lin, { avgFn: 3 as never })).toThrow(/avgFn must be a function/);
    const avg = new nn.AveragedModel(lin);
    expect(() => avg.updateParameters(new nn.Linear(2, 3) as never)).toThrow(/AveragedModel.updateParameters: weight has shape \[3, 2\] but the averaged weight has \[2, 2\]/);
    expect(() => avg.updateParameters(new nn.Sequential(new nn.Linear(2, 2), new nn.Linear(2, 2)) as never)).toThrow(/the model has 4 parameters, the averaged copy 2/);
    lin.dispose();
    bn.dispose();
    avg.dispose();
  });

  it('state dicts round-trip, including nAveraged', async () => {
    T.manualSeed(4);
    const model = mlp();
    const a = new nn.AveragedModel(model);
    a.updateParameters(model);
    a.updateParameters(model);
    const b = new nn.AveragedModel(mlp());
    b.loadStateDict(a.stateDict());
    expect(Number(b.nAveraged.dataSync()[0])).toBe(2);
    for (const [k, t] of Object.entries(a.stateDict())) expect(Array.from(b.stateDict()[k].dataSync()), k).toEqual(Array.from(t.dataSync()));
    // The third update averages (it does not copy): (2 avg + new) / 3 with avg = old weights.
    const old = Array.from(b.module.at(0).parameters()[0].dataSync());
    const m2 = mlp();
    b.updateParameters(m2);
    const fresh = Array.from(m2.at(0).parameters()[0].dataSync());
    await expectClose(b.module.at(0).parameters()[0], old.map((v, i) => (2 * v + fresh[i]) / 3), { atol: 1e-6, rtol: 1e-6 });
    for (const m of [model, a, b, m2]) m.dispose();
  });
});

describe('Module.deepCopy [cpu]', () => {
  beforeAll(() => T.setDefaultDevice('cpu'));

  it('copies parameters, buffers and children into independent tensors of the same class', async () => {
    T.manualSeed(5);
    const shared = new nn.Linear(3, 3);
    const frozen = new nn.Linear(3, 2);
    frozen.weight.requiresGrad = false;
    const dict = new nn.ModuleDict({ a: shared, b: new nn.ConvTranspose2d(2, 2, 3) });
    const model = new nn.Sequential(shared, new nn.BatchNorm1d(3), new nn.ModuleList([shared, frozen]), dict);
    const copy = model.deepCopy();
    expect(copy).toBeInstanceOf(nn.Sequential);
    expect(copy).not.toBe(model);
    expect(Object.keys(copy.stateDict())).toEqual(Object.keys(model.stateDict()));
    const pairs = Object.keys(model.stateDict()).map((k) => [model.stateDict()[k], copy.stateDict()[k]] as const);
    for (const [a, b] of pairs) {
      expect(b).not.toBe(a);
      expect(Array.from(b.dataSync())).toEqual(Array.from(a.dataSync()));
      expect([nn.isParameter(b), nn.isBuffer(b), b.requiresGrad, b.grad]).toEqual([nn.isParameter(a), nn.isBuffer(a), a.requiresGrad, null]);
    }
    // Shared modules stay shared within the copy, not with the original.
    const cl = copy.at(2) as nn.ModuleList;
    expect(cl.at(0)).toBe(copy.at(0));
    expect((copy.at(3) as nn.ModuleDict).get('a')).toBe(copy.at(0));
    expect(copy.at(0)).not.toBe(shared);
    expect((cl.at(1) as nn.Linear).weight.requiresGrad).toBe(false);
    // Independent storage: changing the copy leaves the original alone.
    T.copy_((copy.at(0) as nn.Linear).weight, T.zeros([3, 3]));
    expect(Array.from(shared.weight.dataSync()).some((v) => v !== 0)).toBe(true);
    // Copies of modules with options objects still run.
    const img = T.randn([1, 2, 4, 4]);
    const y0 = (dict.get('b') as nn.ConvTranspose2d).forward(img);
    const y1 = ((copy.at(3) as nn.ModuleDict).get('b') as nn.ConvTranspose2d).forward(img);
    await expectClose(y1, y0);
    T.dispose([img, y0, y1]);
    model.dispose();
    copy.dispose();
  });
});
