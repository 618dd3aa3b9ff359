import { expect, it } from 'vitest';
import * as T from '../src/index.js';
import { arange, emptyLike, eye, full, fullLike, linspace, ones, onesLike, scalar, tensor, zeros, zerosLike, type Tensor } from '../src/index.js';
import { casesOf } from './core.js';
import { expectClose, fixtureValues, forEachBackend } from './helpers.js';

const CREATORS = { arange, linspace, eye } as unknown as Record<string, (...args: unknown[]) => Tensor>;

forEachBackend('creation (golden values)', (device) => {
  for (const c of casesOf('arange', 'linspace', 'eye')) {
    it(c.name, async () => {
      const args = [...(c.params!.args as number[])];
      // the options object follows the positional arguments of each creator
      const arity = { arange: 3, linspace: 3, eye: 2 }[c.op]!;
      while (args.length < arity) args.push(undefined as unknown as number);
      const t = CREATORS[c.op](...args, { device, dtype: c.params!.dtype });
      const e = c.expected[0];
      expect(t.device).toBe(device);
      await expectClose(t, fixtureValues(e), { shape: e.shape, dtype: e.dtype, atol: 1e-7, rtol: 1e-6 });
      t.dispose();
    });
  }
});

forEachBackend('creation', (device) => {
  it('tensor from nested arrays, with the inferred dtype', async () => {
    const t = tensor([[1, 2.5], [-3, 4]], { device });
    await expectClose(t, [1, 2.5, -3, 4], { shape: [2, 2], dtype: 'float32', atol: 0 });
    expect(await t.array()).toEqual([[1, 2.5], [-3, 4]]);
    const b = tensor([[true, false, true]], { device });
    await expectClose(b, [1, 0, 1], { shape: [1, 3], dtype: 'bool' });
    expect(await b.array()).toEqual([[true, false, true]]);
    const s = scalar(7, { device, dtype: 'int32' });
    expect(s.shape).toEqual([]);
    expect(await s.item()).toBe(7);
    const e = tensor([], { device });
    expect(e.shape).toEqual([0]);
    T.dispose([t, b, s, e]);
  });

  it('tensor from TypedArrays with a shape, copying the data', async () => {
    const data = new Int32Array([1, 2, 3, 4, 5, 6]);
    const t = tensor(data, { device, shape: [3, 2] });
    data[0] = 99;
    await expectClose(t, [1, 2, 3, 4, 5, 6], { shape: [3, 2], dtype: 'int32', atol: 0 });
    const u = tensor(new Uint32Array([4000000000, 1]), { device });
    await expectClose(u, [4000000000, 1], { dtype: 'uint32', atol: 0, rtol: 0 });
    const f = tensor(new Float32Array([0.1, NaN, -Infinity]), { device });
    await expectClose(f, [Math.fround(0.1), NaN, -Infinity], { dtype: 'float32', atol: 0, rtol: 0 });
    const bits = tensor(new Uint8Array([1, 0, 1, 1]), { device, shape: [2, 2] });
    await expectClose(bits, [1, 0, 1, 1], { dtype: 'bool' });
    const cast = tensor([1.7, -2.2], { device, dtype: 'int32' });
    await expectClose(cast, [1, -2], { dtype: 'int32' });
    T.dispose([t, u, f, bits, cast]);
  });

  it('zeros, ones, full and their *Like forms', async () => {
    const z = zeros([2, 3], { device });
    await expectClose(z, new Array(6).fill(0), { shape: [2, 3], dtype: 'float32' });
    await expectClose(ones([4], { device, dtype: 'int32' }), [1, 1, 1, 1], { dtype: 'int32' });
    await expectClose(full([2], -2.5, { device }), [-2.5, -2.5], { dtype: 'float32' });
    await expectClose(full([2], true, { device }), [1, 1], { dtype: 'bool' });
    await expectClose(full([], Infinity, { device }), [Infinity], { shape: [] });
    await expectClose(full([0, 5], 3, { device }), [], { shape: [0, 5] });
    const i = tensor([[1, 2]], { device, dtype: 'int32' });
    await expectClose(zerosLike(i), [0, 0], { shape: [1, 2], dtype: 'int32' });
    await expectClose(onesLike(i, { dtype: 'float32' }), [1, 1], { shape: [1, 2], dtype: 'float32' });
    await expectClose(fullLike(i, 7), [7, 7], { dtype: 'int32' });
    const el = emptyLike(i);
    expect([el.shape, el.dtype, el.device]).toEqual([[1, 2], 'int32', device]);
    T.dispose([z, i, el]);
  });

  it('creates float64 on cpu and refuses it on webgpu', async () => {
    if (device === 'cpu') {
      await expectClose(arange(0, 1, 0.25, { device, dtype: 'float64' }), [0, 0.25, 0.5, 0.75], { dtype: 'float64', atol: 0 });
      await expectClose(linspace(0, 1, 3, { device, dtype: 'float64' }), [0, 0.5, 1], { dtype: 'float64', atol: 0 });
    } else {
      expect(() => zeros([2], { device, dtype: 'float64' })).toThrow(/zeros|full.*float64.*webgpu/);
      expect(() => tensor([1], { device, dtype: 'float64' })).toThrow(/tensor: float64.*webgpu/);
      expect(() => eye(2, 2, { device, dtype: 'float64' })).toThrow(/eye: float64.*webgpu/);
    }
  });
});
