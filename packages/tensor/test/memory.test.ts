import { expect, it } from 'vitest';
import * as T from '../src/index.js';
import { add, dispose, exp, keep, matmul, memory, mul, reshape, sum, tensor, tidy, transpose, type DeviceName, type Tensor } from '../src/index.js';
import { forEachBackend, seeded } from './helpers.js';

const ITERATIONS = 1000;

/** One step of a small training-like loop: elementwise ops, a reduction and a matmul. */
function step(w: Tensor, x: Tensor): Tensor {
  const h = T.relu(matmul(x, w));
  const y = add(mul(h, 0.5), exp(T.neg(h)));
  return sum(y, { dim: 1 });
}

function expectSameMemory(before: T.MemoryInfo, after: T.MemoryInfo) {
  expect(after.tensors, 'live tensors').toBe(before.tensors);
  expect(after.storages, 'live storages').toBe(before.storages);
  expect(after.bytes, 'live bytes').toBe(before.bytes);
}

function inputs(device: DeviceName) {
  return { w: tensor(seeded(8 * 4, 1), { device, shape: [8, 4] }), x: tensor(seeded(3 * 8, 2), { device, shape: [3, 8] }) };
}

forEachBackend('memory', (device) => {
  it(`stays flat over ${ITERATIONS} iterations with tidy`, async () => {
    const { w, x } = inputs(device);
    let acc = T.zeros([3], { device });
    const before = memory();
    for (let i = 0; i < ITERATIONS; i++) {
      const next = tidy(() => add(acc, step(w, x)));
      acc.dispose();
      acc = next;
    }
    await T.sync();
    expectSameMemory(before, memory());
    expect((await acc.data()).every(Number.isFinite)).toBe(true);
    dispose([w, x, acc]);
  });

  it(`stays flat over ${ITERATIONS} iterations with async tidy`, async () => {
    const { w, x } = inputs(device);
    const before = memory();
    let last = 0;
    for (let i = 0; i < ITERATIONS; i++) {
      last = await tidy(async () => {
        const s = sum(step(w, x));
        // read back only now and then: a readback per step would dominate on webgpu
        return i % 100 === 0 ? s.item() : 0;
      });
    }
    expectSameMemory(before, memory());
    expect(Number.isFinite(last)).toBe(true);
    dispose([w, x]);
  });

  it(`stays flat over ${ITERATIONS} iterations with explicit dispose`, async () => {
    const { w, x } = inputs(device);
    const before = memory();
    for (let i = 0; i < ITERATIONS; i++) {
      const m = matmul(x, w);
      const r = T.relu(m);
      const e = exp(r);
      const s = sum(e, { dim: 0 });
      const v = reshape(e, [4, 3]);
      const t = transpose(v);
      dispose([m, r, e, s, v, t]);
    }
    expectSameMemory(before, memory());
    dispose([w, x]);
  });

  it('keep() exempts a tensor from the tidy scopes; nested tidies pass results outward', async () => {
    const before = memory();
    let kept: Tensor | undefined;
    const outer = tidy(() => {
      const a = tensor([1, 2], { device });
      const inner = tidy(() => {
        const b = mul(a, 2);
        kept = keep(add(b, 1));
        return { b, list: [exp(b)] };
      });
      expect(a.isDisposed).toBe(false);
      expect(inner.b.isDisposed).toBe(false);
      return inner.list[0];
    });
    expect(kept!.isDisposed).toBe(false);
    expect(outer.isDisposed).toBe(false);
    expect(memory().tensors - before.tensors).toBe(2);
    expect(Array.from(await kept!.data())).toEqual([3, 5]);
    dispose([kept, outer]);
    expectSameMemory(before, memory());
  });

  it('disposes everything created in a tidy that throws', () => {
    const before = memory();
    expect(() => tidy(() => {
      tensor([1], { device });
      throw new Error('boom');
    })).toThrow('boom');
    expectSameMemory(before, memory());
  });

  it('disposing a view keeps the base alive, and the storage lives while any view does', async () => {
    const before = memory();
    const base = tensor([[1, 2, 3], [4, 5, 6]], { device });
    const v = transpose(base);
    expect(memory().storages - before.storages).toBe(1);
    v.dispose();
    expect(Array.from(await base.data())).toEqual([1, 2, 3, 4, 5, 6]);
    const row = T.select(base, 0, 1);
    base.dispose();
    expect(Array.from(await row.data())).toEqual([4, 5, 6]);
    expect(memory().bytes - before.bytes).toBeGreaterThan(0);
    row.dispose();
    expectSameMemory(before, memory());
  });

  it('frees with a using declaration (Symbol.dispose)', () => {
    const before = memory();
    {
      using t = tensor([1, 2, 3], { device });
      using u = mul(t, 2);
      expect(memory().tensors - before.tensors).toBe(2);
      expect(u.isDisposed).toBe(false);
    }
    expectSameMemory(before, memory());
  });

  it('reading or using a disposed tensor throws a clear error', async () => {
    const t = tensor([1, 2], { device });
    t.dispose();
    t.dispose();
    expect(t.isDisposed).toBe(true);
    await expect(t.data()).rejects.toThrow(/disposed/);
    expect(() => t.dataSync()).toThrow(/disposed/);
    expect(() => add(t, 1)).toThrow(/add: first operand has been disposed/);
    expect(() => sum(t)).toThrow(/sum: input has been disposed/);
    expect(() => matmul(t, t)).toThrow(/matmul: first operand has been disposed/);
    expect(String(t)).toMatch(/disposed/);
  });
});
