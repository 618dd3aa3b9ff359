import { describe, expect, it } from 'vitest';
import * as T from '../src/index.js';
import { bmm, dot, einsum, matmul, memory, mm, outer, tensor, tidy, transpose, type Tensor } from '../src/index.js';
import { casesOf, expectStrided, relayout, type Layout } from './core.js';
import { expectClose, fixtureValues, forEachBackend, fromFixture, seeded, type FixtureCase } from './helpers.js';

const PRODUCTS = { matmul, mm, bmm, dot, outer } as Record<string, (a: Tensor, b: Tensor) => Tensor>;

function call(c: FixtureCase, [a, b]: Tensor[], ins: Tensor[]): Tensor {
  if (c.op === 'einsum') return einsum(c.params!.equation as string, ...ins);
  const how = c.params?.pre;
  const ta = how === 'ta' || how === 'tab' ? transpose(a, -1, -2) : a;
  const tb = how === 'tb' || how === 'tab' ? transpose(b, -1, -2) : b;
  return PRODUCTS[c.op](ta, tb);
}

forEachBackend('matmul and einsum (golden values)', (device) => {
  for (const c of casesOf('matmul', 'mm', 'bmm', 'dot', 'outer', 'einsum')) {
    for (const layout of ['contiguous', 'flipped'] as Layout[]) {
      it(`${c.op}: ${c.name} (${layout} operands)`, async () => {
        const ins0 = c.inputs.map((f) => fromFixture(f, device));
        const ins = ins0.map((x) => relayout(x, layout));
        if (layout !== 'contiguous') ins.forEach(expectStrided);
        const y = call(c, ins, ins);
        const e = c.expected[0];
        await expectClose(y, fixtureValues(e), { shape: e.shape, dtype: 'float32', atol: 1e-5, rtol: 1e-5 });
        T.dispose([ins0, ins, y]);
      });
    }
  }

  it('runs a transposed matmul on a size that is not a multiple of the tile', async () => {
    const [m, k, n] = [37, 53, 29];
    const av = seeded(m * k, 3);
    const bv = seeded(k * n, 4);
    // aT is stored [k, m]; matmul(transpose(aT), b) reads A through transposed strides
    const aT = tensor(Float32Array.from({ length: k * m }, (_, i) => av[(i % m) * k + Math.floor(i / m)]), { device, shape: [k, m] });
    const b = tensor(bv, { device, shape: [k, n] });
    const y = matmul(transpose(aT), b);
    const ref = new Float64Array(m * n);
    for (let i = 0; i < m; i++) for (let j = 0; j < n; j++) for (let p = 0; p < k; p++) ref[i * n + j] += av[i * k + p] * bv[p * n + j];
    await expectClose(y, ref, { shape: [m, n], atol: 1e-5, rtol: 1e-5 });
    T.dispose([aT, b, y]);
  });

  it('keeps memory flat over matmul, einsum and outer', () => {
    const a = tensor(seeded(12), { device, shape: [3, 4] });
    const b = tensor(seeded(8, 2), { device, shape: [4, 2] });
    const before = memory();
    for (let i = 0; i < 50; i++) {
      tidy(() => {
        matmul(a, b);
        einsum('ij,jk->ik', a, b);
        einsum('ij->', a);
        outer(T.select(a, 0, 0), T.select(b, 1, 0));
        dot(T.select(a, 0, 1), T.select(b, 1, 1));
      });
    }
    const after = memory();
    expect(after.tensors).toBe(before.tensors);
    expect(after.bytes).toBe(before.bytes);
    T.dispose([a, b]);
  });
});

describe('matmul: float64 on cpu', () => {
  it('multiplies in float64 and promotes float32 x float64 to float64', async () => {
    const av = [1 + 1e-12, 2, 3, 4, 5, 6];
    const a = tensor(new Float64Array(av), { device: 'cpu', shape: [2, 3] });
    const b = tensor(new Float64Array([1, -1, 1e-12, 0, 2, 3]), { device: 'cpu', shape: [3, 2] });
    await expectClose(matmul(a, b), [1 + 1e-12 + 2e-12 + 6, -1 - 1e-12 + 9, 4 + 5e-12 + 12, -4 + 18], { dtype: 'float64', atol: 0, rtol: 1e-15 });
    const f = tensor([[1, 0], [0, 1], [1, 1]], { device: 'cpu' });
    await expectClose(mm(a, f), [4 + 1e-12, 5, 10, 11], { dtype: 'float64', atol: 0, rtol: 1e-15 });
    const c = tensor(new Float64Array(12).fill(0.5), { device: 'cpu', shape: [2, 3, 2] });
    await expectClose(bmm(c, transpose(c, 1, 2)), new Array(2 * 3 * 3).fill(0.5), { dtype: 'float64', atol: 0, rtol: 0 });
    T.dispose([a, b, f, c]);
  });
});
