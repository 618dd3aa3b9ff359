/** F.* losses against PyTorch 1.13 (fixtures/gen_losses.py): values and input gradients, both devices. */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import * as T from '@tessera/tensor';
import { backward } from '@tessera/autodiff';
import { F } from '../src/index.js';
import { expectClose, forEachBackend } from '../../tensor/test/helpers.js';

interface TJson { shape: number[]; dtype: string; data: (number | string)[] }
interface Case { name: string; fn: string; inputs: [string, TJson][]; grad: string[]; options: Record<string, unknown>; expected: TJson; gw: TJson; grads: Record<string, TJson> }

const fixture = JSON.parse(readFileSync(new URL('./fixtures/losses.json', import.meta.url), 'utf8')) as { cases: Case[] };
const num = (v: number | string) => (typeof v === 'number' ? v : v === 'nan' ? NaN : v === 'inf' ? Infinity : -Infinity);
const vals = (j: TJson) => j.data.map(num);

function make(j: TJson, device: T.DeviceName): T.Tensor {
  const dtype = j.dtype === 'int32' ? 'int32' : 'float32';
  return T.tensor(j.dtype === 'int32' ? Int32Array.from(vals(j)) : Float32Array.from(vals(j)), { shape: j.shape, dtype, device });
}

/** Tensor arguments that PyTorch takes as keywords and Tessera as options. */
const OPTION_TENSORS = new Set(['weight', 'posWeight']);
type LossFn = (...args: unknown[]) => T.Tensor;

forEachBackend('F losses vs PyTorch 1.13', (device) => {
  const tol = { atol: 1e-4, rtol: 1e-4 };
  for (const c of fixture.cases) {
    it(c.name, async () => {
      const inputs = Object.fromEntries(c.inputs.map(([k, j]) => [k, make(j, device)]));
      for (const k of c.grad) inputs[k].requiresGrad_();
      const positional = c.inputs.filter(([k]) => !OPTION_TENSORS.has(k)).map(([k]) => inputs[k]);
      const options: Record<string, unknown> = { ...c.options };
      for (const [k] of c.inputs) if (OPTION_TENSORS.has(k)) options[k] = inputs[k];
      const fn = (F as unknown as Record<string, LossFn>)[c.fn];
      const out = fn(...positional, options);
      await expectClose(out, vals(c.expected), { ...tol, shape: c.expected.shape });
      const gw = make(c.gw, device);
      const total = T.tidy(() => T.sum(T.mul(out, gw)));
      if (c.grad.length > 0) backward(total);
      for (const k of c.grad) await expectClose(inputs[k].grad!, vals(c.grads[k]), { ...tol, shape: c.grads[k].shape });
      T.dispose([out, gw, total, ...c.grad.map((k) => inputs[k].grad!), ...Object.values(inputs)]);
    });
  }

  it('oneHot: int32 in, int32 out', async () => {
    const x = T.tensor(Int32Array.from([2, 0, 1, 2]), { shape: [2, 2], dtype: 'int32', device });
    const y = F.oneHot(x, { numClasses: 4 });
    expect(y.dtype).toBe('int32');
    await expectClose(y, [0, 0, 1, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0], { shape: [2, 2, 4] });
    T.dispose([x, y]);
  });

  it('oneHot: numClasses is required where indices cannot be read synchronously', () => {
    const x = T.tensor(Int32Array.from([1, 0]), { dtype: 'int32', device });
    if (device === 'webgpu') expect(() => F.oneHot(x)).toThrow(/oneHot: numClasses must be given on webgpu/);
    else F.oneHot(x).dispose();
    x.dispose();
  });

  it('dropout: scales survivors by 1/(1-p), identity in eval, follows the seed', async () => {
    const x = T.ones([2000], { device });
    T.manualSeed(3);
    const a = F.dropout(x, 0.25);
    T.manualSeed(3);
    const b = F.dropout(x, 0.25);
    const da = Array.from(await a.data());
    expect(da.every((v) => v === 0 || Math.abs(v - 4 / 3) < 1e-6)).toBe(true);
    const kept = da.filter((v) => v !== 0).length / da.length;
    expect(Math.abs(kept - 0.75)).toBeLessThan(0.05);
    await expectClose(b, da);
    const e = F.dropout(x, 0.25, false);
    await expectClose(e, x);
    T.dispose([x, a, b, e]);
  });

  it('memory stays flat over 50 loss + backward steps', async () => {
    const w = T.randn([6, 5], { device }).requiresGrad_();
    const xs = T.randn([8, 6], { device });
    const target = T.tensor(Int32Array.from([0, 1, 2, 3, 4, 0, 1, -100]), { dtype: 'int32', device });
    const probs = T.rand([8, 5], { device });
    const weight = T.tensor([1, 2, 0.5, 1, 1], { device });
    const step = () => {
      const loss = T.tidy(() => {
        const logits = T.matmul(xs, w);
        return T.add(
          T.add(F.crossEntropy(logits, target, { weight, labelSmoothing: 0.1 }), F.binaryCrossEntropyWithLogits(logits, probs)),
          T.add(F.klDiv(T.logSoftmax(logits, 1), T.softmax(probs, 1), { reduction: 'batchmean' }), F.tripletMarginLoss(logits, probs, T.flip(logits, 0), { swap: true })),
        );
      });
      backward(loss);
      loss.dispose();
      w.grad!.dispose();
      w.grad = null;
    };
    step();
    await T.tidy(() => w.data());
    const before = T.memory();
    for (let i = 0; i < 50; i++) step();
    await w.data();
    const after = T.memory();
    expect(after.tensors).toBe(before.tensors);
    expect(after.bytes).toBe(before.bytes);
    T.dispose([w, xs, target, probs, weight]);
  });
});

describe('F losses: bad inputs (cpu)', () => {
  const f = (d: number[], shape: number[]) => T.tensor(Float32Array.from(d), { shape, device: 'cpu' });
  const i = (d: number[]) => T.tensor(Int32Array.from(d), { dtype: 'int32', device: 'cpu' });
  it('rejects mismatched shapes, dtypes and reductions', () => {
    const a = f([1, 2, 3, 4], [2, 2]);
    const b = f([1, 2, 3], [3]);
    expect(() => F.mseLoss(a, b)).toThrow(/mseLoss: expected target of the same shape as input \[2, 2\], received \[3\]/);
    expect(() => F.l1Loss(a, a, { reduction: 'avg' as never })).toThrow(/l1Loss: reduction must be one of 'mean', 'sum', 'none', received 'avg'/);
    expect(() => F.klDiv(a, a, { reduction: 'batch' as never })).toThrow(/'batchmean'/);
    expect(() => F.mseLoss(i([1, 2]), i([1, 2]))).toThrow(/mseLoss: expected input to be float32 or float64, received int32/);
    expect(() => F.smoothL1Loss(a, a, { beta: -1 })).toThrow(/beta/);
    expect(() => F.gaussianNllLoss(a, a, f([1, 1, 1], [3]))).toThrow(/gaussianNllLoss: expected var of shape \[2, 2\], \[2\] or \[2, 1\], received \[3\]/);
    expect(() => F.gaussianNllLoss(a, a, f([1, -1], [2]))).toThrow(/non-negative var/);
    expect(() => F.binaryCrossEntropy(f([0.5, 1.5], [2]), f([0, 1], [2]))).toThrow(/binaryCrossEntropy: expected every input in \[0, 1\], received 1.5/);
    expect(() => F.binaryCrossEntropyWithLogits(a, a, { posWeight: f([1, 2, 3], [3]) })).toThrow(/posWeight broadcastable to \[2, 2\], received \[3\]/);
    expect(() => F.cosineEmbeddingLoss(a, a, f([1, 1, 1], [3]))).toThrow(/expected target of shape \[2\], received \[3\]/);
    expect(() => F.tripletMarginLoss(a, a, b)).toThrow(/negative of the same shape as anchor/);
    expect(() => F.mseLoss(a, null as never)).toThrow(/expected target to be a Tensor/);
  });
  it('checks class indices: dtype, shape, range (cpu), weight', () => {
    const x = f([1, 2, 3, 4, 5, 6], [2, 3]);
    expect(() => F.crossEntropy(x, i([0, 3]))).toThrow(/crossEntropy: target class 3 is out of range for 3 classes/);
    expect(() => F.nllLoss(x, i([0, -1]))).toThrow(/nllLoss: target class -1 is out of range/);
    expect(() => F.crossEntropy(x, i([0, 1, 2]))).toThrow(/crossEntropy: expected target of shape \[2\] for input \[2, 3\], received \[3\]/);
    expect(() => F.crossEntropy(x, f([0, 1, 2], [3]))).toThrow(/class-probability target of the input's shape \[2, 3\]/);
    expect(() => F.nllLoss(x, T.tensor([0, 1], { dtype: 'uint32', device: 'cpu' }))).toThrow(/expected int32 class indices as target, received uint32/);
    expect(() => F.crossEntropy(x, i([0, 1]), { weight: f([1, 1], [2]) })).toThrow(/expected weight of shape \[3\]/);
    expect(() => F.crossEntropy(x, i([0, 1]), { labelSmoothing: 2 })).toThrow(/labelSmoothing/);
    expect(() => F.oneHot(i([0, 4]), { numClasses: 3 })).toThrow(/oneHot: class index 4 is out of range/);
    expect(() => F.oneHot(x)).toThrow(/oneHot: expected int32 class indices, received float32/);
  });
  it('ignoreIndex matches PyTorch: all ignored gives NaN with mean; oneHot infers numClasses on cpu', async () => {
    const x = f([1, 2, 3, 4, 5, 6], [2, 3]);
    const l = F.crossEntropy(x, i([-100, -100]));
    expect(Number.isNaN((await l.data())[0])).toBe(true);
    const h = F.oneHot(i([1, 3]));
    expect(h.shape).toEqual([2, 4]);
    T.dispose([x, l, h]);
  });
});
