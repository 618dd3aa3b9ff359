import { expect, it } from 'vitest';
import * as T from '@tessera/tensor';
import type { Tensor } from '@tessera/tensor';
import { expectClose, forEachBackend } from '../../tensor/test/helpers.js';
import { AveragedParameters, ExponentialMovingAverage } from '../src/index.js';

forEachBackend('ExponentialMovingAverage', (device) => {
  const param = (v: number[]) => T.tensor(v, { device }).requiresGrad_();

  it('follows shadow <- d shadow + (1 - d) param (hand-computed)', async () => {
    const p = param([1, -2]);
    const ema = new ExponentialMovingAverage([p], { decay: 0.9 });
    const values = [[3, 0], [5, 4], [-1, 1]];
    let want = [1, -2];
    for (const v of values) {
      T.tidy(() => p.copy_(T.tensor(v, { device })));
      ema.update();
      want = want.map((s, i) => 0.9 * s + 0.1 * v[i]);
    }
    expect(ema.numUpdates).toBe(3);
    await expectClose(ema.averages[0] as Tensor, want, { rtol: 1e-6 });
    expect(ema.averages[0].requiresGrad).toBe(false);
    ema.dispose();
    p.dispose();
  });

  it('warm-up uses min(decay, (1 + n) / (10 + n))', async () => {
    const p = param([0]);
    const ema = new ExponentialMovingAverage([p], { decay: 0.99, warmup: true });
    let want = 0;
    for (let n = 0; n < 5; n++) {
      expect(ema.currentDecay()).toBeCloseTo(Math.min(0.99, (1 + n) / (10 + n)), 15);
      const d = ema.currentDecay();
      const v = n + 1;
      T.withoutRecording(() => T.tidy(() => p.copy_(T.tensor([v], { device }))));
      ema.update([p]);
      want = d * want + (1 - d) * v;
    }
    await expectClose(ema.averages[0] as Tensor, [want], { rtol: 1e-6 });
    ema.dispose();
    p.dispose();
  });

  it('store, copyTo and restore swap the averages in and out', async () => {
    const p = param([1, 2, 3]);
    const ema = new ExponentialMovingAverage([p], { decay: 0.5 });
    T.tidy(() => p.copy_(T.tensor([3, 4, 5], { device })));
    ema.update(); // averages: [2, 3, 4]
    ema.store();
    ema.copyTo();
    await expectClose(p, [2, 3, 4]);
    ema.restore();
    await expectClose(p, [3, 4, 5]);
    expect(() => ema.restore()).toThrow(/ExponentialMovingAverage.restore: nothing stored; call store\(\) first/);
    ema.dispose();
    p.dispose();
  });

  it('keeps memory flat over a training-style loop (SGD steps written here)', async () => {
    const p = T.randn([16, 4], { device }).requiresGrad_();
    const ema = new ExponentialMovingAverage([p], { decay: 0.99, warmup: true });
    const start = T.memory();
    for (let i = 0; i < 20; i++) {
      T.withoutRecording(() => T.tidy(() => p.copy_(T.sub(p, T.mul(T.sin(p), 0.1)))));
      ema.update();
      if (i % 5 === 0) {
        ema.store();
        ema.copyTo();
        ema.restore();
      }
    }
    await p.data();
    expect(T.memory().tensors).toBe(start.tensors);
    expect(T.memory().bytes).toBe(start.bytes);
    ema.dispose();
    p.dispose();
  });
});

forEachBackend('AveragedParameters', (device) => {
  it('is the running equal average of the snapshots (hand-computed)', async () => {
    const p = T.tensor([[1, 2], [3, 4]], { device }).requiresGrad_();
    const avg = new AveragedParameters([p]);
    expect(avg.nAveraged).toBe(0);
    expect(() => avg.copyTo([p])).toThrow(/AveragedParameters.copyTo: no snapshot averaged yet/);
    const snaps = [[[1, 2], [3, 4]], [[3, 0], [1, 8]], [[-4, 1], [2, 0]], [[0, 5], [6, 2]]];
    for (const s of snaps) {
      T.tidy(() => p.copy_(T.tensor(s, { device })));
      avg.update([p]);
    }
    expect(avg.nAveraged).toBe(4);
    const mean = [0, 1, 2, 3].map((k) => snaps.reduce((acc, s) => acc + s[k >> 1][k & 1], 0) / 4);
    await expectClose(avg.averages[0] as Tensor, mean, { rtol: 1e-6 });
    avg.copyTo([p]);
    await expectClose(p, mean, { rtol: 1e-6 });
    avg.dispose();
    p.dispose();
  });

  it('keeps memory flat', async () => {
    const ps = [T.randn([8, 3], { device }).requiresGrad_(), T.randn([3], { device }).requiresGrad_()];
    const avg = new AveragedParameters(ps);
    const start = T.memory();
    for (let i = 0; i < 20; i++) {
      T.withoutRecording(() => T.tidy(() => ps.forEach((p) => p.copy_(T.mul(p, 0.9)))));
      avg.update(ps);
    }
    avg.copyTo(ps);
    await ps[0].data();
    expect(T.memory().tensors).toBe(start.tensors);
    expect(T.memory().bytes).toBe(start.bytes);
    avg.dispose();
    T.dispose(ps);
  });
});

it('bad inputs', () => {
  const device = 'cpu';
  T.tidy(() => {
    const p = T.zeros([2, 2], { device }).requiresGrad_();
    expect(() => new ExponentialMovingAverage([], { decay: 0.9 })).toThrow(/ExponentialMovingAverage: expected a non-empty array of tensors/);
    expect(() => new ExponentialMovingAverage([p], { decay: 1.5 })).toThrow(/ExponentialMovingAverage: decay must be in \[0, 1\], received 1.5/);
    expect(() => new ExponentialMovingAverage([T.zeros([2], { dtype: 'int32', device })], { decay: 0.9 })).toThrow(/element 0 has dtype int32; expected float32 or float64/);
    const ema = new ExponentialMovingAverage([p], { decay: 0.9 });
    expect(() => ema.update([T.zeros([3], { device })])).toThrow(/ExponentialMovingAverage.update: tensor 0 has shape \[3\] on cpu; expected \[2, 2\] on cpu/);
    expect(() => ema.copyTo([p, p])).toThrow(/ExponentialMovingAverage.copyTo: expected 1 tensors \(as at construction\), received 2/);
    const avg = new AveragedParameters([p]);
    expect(() => avg.update([3 as unknown as Tensor])).toThrow(/AveragedParameters.update: element 0 is not a Tensor/);
    ema.dispose();
    avg.dispose();
  });
});
