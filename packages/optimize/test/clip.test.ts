import { readFileSync } from 'node:fs';
import { expect, it } from 'vitest';
import * as T from '@tessera/tensor';
import type { DeviceName, Tensor } from '@tessera/tensor';
import { expectClose, fixtureValues, forEachBackend, fromFixture, type FixtureCase } from '../../tensor/test/helpers.js';
import { clipGradNorm, clipGradNormAsync, clipGradValue, clipWeights } from '../src/index.js';

const cases = (JSON.parse(readFileSync(new URL('./fixtures/clip.json', import.meta.url), 'utf8')) as { cases: FixtureCase[] }).cases;

/** Parameters (zeros) whose gradients are the given tensors. */
function withGrads(grads: Tensor[], device: DeviceName): Tensor[] {
  return grads.map((g) => {
    const p = T.zerosLike(g, { device }).requiresGrad_();
    p.grad = g;
    return p;
  });
}

const disposeAll = (params: Tensor[]) => params.forEach((p) => (p.grad?.dispose(), p.dispose()));

forEachBackend('clipGradNorm vs torch.nn.utils.clip_grad_norm_', (device) => {
  for (const c of cases) {
    it(`${c.name}`, async () => {
      const params = withGrads(c.inputs.map((f) => fromFixture(f, device)), device);
      const normType = fixtureValues({ shape: [], dtype: 'float32', data: [c.params!.normType as number] })[0];
      const total = clipGradNorm(params, c.params!.maxNorm as number, { normType });
      await expectClose(total, fixtureValues(c.expected[0]), { shape: [], rtol: 1e-5 });
      for (let i = 0; i < params.length; i++) await expectClose(params[i].grad!, fixtureValues(c.expected[i + 1]), { atol: 1e-6, rtol: 1e-5 });
      total.dispose();
      disposeAll(params);
    });
  }

  it('clipGradNormAsync gives the same result', async () => {
    const c = cases[0];
    const params = withGrads(c.inputs.map((f) => fromFixture(f, device)), device);
    const total = await clipGradNormAsync(params, c.params!.maxNorm as number, { errorIfNonfinite: true });
    await expectClose(total, fixtureValues(c.expected[0]), { rtol: 1e-5 });
    await expectClose(params[1].grad!, fixtureValues(c.expected[2]), { atol: 1e-6, rtol: 1e-5 });
    total.dispose();
    disposeAll(params);
  });

  it('parameters without gradients are skipped; none at all gives a norm of 0', async () => {
    const a = T.zeros([2], { device }).requiresGrad_();
    const b = T.zeros([2], { device }).requiresGrad_();
    const g = (b.grad = T.tensor([3, 4], { device }));
    const total = clipGradNorm([a, b], 1);
    expect(b.grad).toBe(g); // scaled in place
    await expectClose(total, 5);
    await expectClose(b.grad, [0.6, 0.8], { rtol: 1e-5 });
    const none = clipGradNorm(a, 1);
    await expectClose(none, 0);
    T.dispose([total, none, a, b, b.grad]);
  });

  it('errorIfNonfinite throws and leaves the gradients unchanged', async () => {
    const p = T.zeros([3], { device }).requiresGrad_();
    p.grad = T.tensor([1, Infinity, 2], { device });
    const before = T.memory().tensors;
    await expect(clipGradNormAsync(p, 1, { errorIfNonfinite: true })).rejects.toThrow(/clipGradNormAsync: the total 2-norm of the gradients is Infinity/);
    if (device === 'cpu') expect(() => clipGradNorm(p, 1, { errorIfNonfinite: true })).toThrow(/clipGradNorm: the total 2-norm of the gradients is Infinity/);
    else expect(() => clipGradNorm(p, 1, { errorIfNonfinite: true })).toThrow(/clipGradNorm: errorIfNonfinite must read the norm, which 'webgpu' cannot do synchronously; use await clipGradNormAsync/);
    expect(T.memory().tensors).toBe(before);
    await expectClose(p.grad, [1, Infinity, 2]);
    T.dispose([p, p.grad]);
  });

  it('clipGradValue clamps each element', async () => {
    const p = T.zeros([4], { device }).requiresGrad_();
    p.grad = T.tensor([-3, -0.5, 0.2, 7], { device });
    clipGradValue([p], 1);
    await expectClose(p.grad, [-1, -0.5, 0.2, 1]);
    T.dispose([p, p.grad]);
  });

  it('clipWeights clamps the parameters in place (same tensor)', async () => {
    const p = T.tensor([-0.3, 0.001, 0.02, 5], { device }).requiresGrad_();
    const same = p;
    clipWeights([p], 0.01);
    expect(p).toBe(same);
    expect(p.requiresGrad).toBe(true);
    await expectClose(p, [-0.01, 0.001, 0.01, 0.01]);
    p.dispose();
  });

  it('keeps memory flat over a clipping loop', async () => {
    const params = withGrads([T.randn([8, 8], { device }), T.randn([8], { device })], device);
    const start = T.memory();
    for (let i = 0; i < 20; i++) {
      clipGradNorm(params, 0.5, { normType: i % 2 ? Infinity : 2 }).dispose();
      clipGradValue(params, 0.1);
      clipWeights(params, 0.2);
    }
    await params[0].grad!.data();
    const end = T.memory();
    expect(end.tensors).toBe(start.tensors);
    expect(end.bytes).toBe(start.bytes);
    disposeAll(params);
  });
});

it('bad inputs', () => {
  const p = T.zeros([2], { device: 'cpu' }).requiresGrad_();
  expect(() => clipGradNorm([p], -1)).toThrow(/clipGradNorm: maxNorm must be a number >= 0, received -1/);
  expect(() => clipGradNorm([p], 1, { normType: 0 })).toThrow(/clipGradNorm: normType must be a positive number or Infinity, received 0/);
  expect(() => clipGradNorm([p, 3 as unknown as Tensor], 1)).toThrow(/clipGradNorm: element 1 is not a Tensor/);
  expect(() => clipGradNorm('w' as unknown as Tensor[], 1)).toThrow(/clipGradNorm: expected a tensor or an array of tensors, received w/);
  expect(() => clipGradValue([p], NaN)).toThrow(/clipGradValue: clipValue must be a number >= 0, received NaN/);
  expect(() => clipWeights([p], -0.1)).toThrow(/clipWeights: c must be a number >= 0, received -0.1/);
  p.dispose();
});
