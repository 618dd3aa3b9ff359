import { expect, it } from 'vitest';
import * as T from '../src/index.js';
import { binaryOps, cast, expand, full, maskedFill, promoteTypes, tensor, tidy, unaryOps, where, zeros, type DType, type Tensor, type TensorOrScalar } from '../src/index.js';
import { casesOf, expectStrided, LAYOUTS, relayout } from './core.js';
import { expectClose, fixtureValues, forEachBackend, fromFixture, type FixtureCase } from './helpers.js';

type UnaryName = keyof typeof unaryOps;
type BinaryName = keyof typeof binaryOps;
const fns = T as unknown as Record<string, (...args: unknown[]) => Tensor>;

/** Calls the public function behind a table entry (some take their parameters as options). */
function callUnary(op: UnaryName, x: Tensor, p: Record<string, unknown> = {}): Tensor {
  switch (op) {
    case 'gelu': return T.gelu(x);
    case 'geluTanh': return T.gelu(x, { approximate: 'tanh' });
    case 'leakyRelu': return T.leakyRelu(x, p.negativeSlope as number | undefined);
    case 'elu': return T.elu(x, p.alpha as number | undefined);
    case 'softplus': return T.softplus(x, { beta: p.beta as number | undefined, threshold: p.threshold as number | undefined });
    case 'clamp': return T.clamp(x, p.min as number | undefined, p.max as number | undefined);
    default: return fns[op](x);
  }
}

const callBinary = (op: BinaryName, a: TensorOrScalar, b: TensorOrScalar): Tensor => fns[op](a, b);

/** Tessera's result dtype of a unary op (src/ops/optable.ts kinds). */
function unaryDType(op: UnaryName, d: DType): DType {
  const kind = unaryOps[op].kind;
  return kind === 'float' ? (d === 'float64' ? d : 'float32') : kind === 'pred' ? 'bool' : d;
}

function binaryDType(op: BinaryName, d: DType): DType {
  const kind = binaryOps[op].kind;
  return kind === 'cmp' || kind === 'logical' ? 'bool' : kind === 'fdiv' && (d === 'int32' || d === 'uint32' || d === 'bool') ? 'float32' : d;
}

const refused = (def: object, d: DType) => ((def as { refuse?: readonly string[] }).refuse ?? []).includes(d);

// Float32 results of transcendental functions differ from PyTorch's by a few ulp on the GPU.
const TOL = { atol: 1e-6, rtol: 2e-5 };

/** Ops whose zero results must keep the sign PyTorch gives them (neg(0) is -0, sqrt(-0) is -0, ...). */
const SIGNED_ZERO_OPS = new Set(['neg', 'floor', 'ceil', 'round', 'trunc', 'sqrt', 'sin', 'tan', 'tanh', 'expm1', 'log1p']);

/** Checks the sign of exact zeros. */
async function expectSignedZeros(t: Tensor, expected: number[]) {
  const got = Array.from(await t.data());
  const bad = expected.map((e, i) => (e === 0 && got[i] === 0 && !Object.is(e, got[i]) ? `[${i}] got ${Object.is(got[i], -0) ? '-0' : '0'}` : '')).filter(Boolean);
  expect(bad, `signed zeros of ${t}`).toEqual([]);
}

forEachBackend('unary ops (golden values)', (device) => {
  const cases = casesOf(...Object.keys(unaryOps));
  it('has golden cases for every table entry and input dtype it accepts', () => {
    for (const op of Object.keys(unaryOps) as UnaryName[]) {
      for (const d of ['float32', 'int32', 'bool'] as DType[]) {
        const found = cases.some((c) => c.op === op && c.params?.dtype === d);
        expect(`${op} ${d}: ${found}`).toBe(`${op} ${d}: ${!refused(unaryOps[op], d)}`);
      }
    }
  });

  for (const c of cases) {
    const op = c.op as UnaryName;
    const layouts = c.params?.layouts ? LAYOUTS : ['contiguous' as const];
    for (const layout of layouts) {
      it(`${c.name} ${layout}`, async () => {
        const x0 = fromFixture(c.inputs[0], device);
        const x = relayout(x0, layout);
        if (layout !== 'contiguous') expectStrided(x);
        const y = callUnary(op, x, c.params);
        const want = fixtureValues(c.expected[0]);
        await expectClose(y, want, { ...TOL, shape: c.expected[0].shape, dtype: unaryDType(op, x.dtype) });
        if (SIGNED_ZERO_OPS.has(op)) await expectSignedZeros(y, want);
        expect(Array.from(await x0.data()), 'input unchanged').toEqual(fixtureValues(c.inputs[0]).map((v) => (x0.dtype === 'bool' ? Number(v !== 0) : Math.fround(v))));
        T.dispose([x0, x, y]);
      });
    }
  }

  it('refuses the dtypes the table refuses, naming the op', () => {
    for (const op of Object.keys(unaryOps) as UnaryName[]) {
      for (const d of ['int32', 'bool', 'uint32'] as DType[]) {
        if (!refused(unaryOps[op], d)) continue;
        const x = zeros([2], { dtype: d, device });
        expect(() => callUnary(op, x, op === 'clamp' ? { min: 0 } : {})).toThrow(new RegExp(`${op === 'geluTanh' ? 'gelu' : op}.*${d}`));
        x.dispose();
      }
    }
  });

  it('maps empty tensors to empty tensors', async () => {
    const x = zeros([0, 3], { device });
    for (const op of Object.keys(unaryOps) as UnaryName[]) {
      const y = callUnary(op, x, op === 'clamp' ? { min: 0 } : {});
      expect([...y.shape]).toEqual([0, 3]);
      expect(Array.from(await y.data())).toEqual([]);
      y.dispose();
    }
    x.dispose();
  });

  it('handles uint32 inputs', async () => {
    const x = tensor(new Uint32Array([0, 3, 4000000000]), { device });
    await expectClose(T.abs(x), [0, 3, 4000000000], { dtype: 'uint32', atol: 0, rtol: 0 });
    await expectClose(T.sqrt(x), [0, Math.sqrt(3), Math.fround(Math.sqrt(4000000000))], { dtype: 'float32', rtol: 1e-6 });
    await expectClose(T.isFinite(x), [1, 1, 1], { dtype: 'bool' });
    x.dispose();
  });
});

forEachBackend('binary ops (golden values)', (device) => {
  const cases = casesOf(...Object.keys(binaryOps));
  it('has golden cases for every table entry and input dtype it accepts', () => {
    for (const op of Object.keys(binaryOps) as BinaryName[]) {
      for (const d of ['float32', 'int32', 'bool'] as DType[]) {
        const found = cases.some((c) => c.op === op && c.params?.dtype === d && c.name.endsWith('grid'));
        expect(`${op} ${d}: ${found}`).toBe(`${op} ${d}: ${!refused(binaryOps[op], d)}`);
      }
    }
  });

  const run = async (c: FixtureCase, a: Tensor | number, b: Tensor | number) => {
    const op = c.op as BinaryName;
    const y = callBinary(op, a, b);
    const ta = a instanceof T.Tensor ? a : null;
    const tb = b instanceof T.Tensor ? b : null;
    const inDType = ta && tb ? promoteTypes(ta.dtype, tb.dtype) : ta ? (ta!.dtype !== 'float32' && !Number.isInteger(b) ? 'float32' : ta!.dtype) : (tb!.dtype !== 'float32' && !Number.isInteger(a) ? 'float32' : tb!.dtype);
    const want = fixtureValues(c.expected[0]);
    await expectClose(y, want, { ...TOL, shape: c.expected[0].shape, dtype: binaryDType(op, inDType) });
    y.dispose();
  };

  for (const c of cases) {
    if (c.params?.scalar !== undefined) {
      it(c.name, async () => {
        const x = fromFixture(c.inputs[0], device);
        const s = c.params!.scalar as number;
        await (c.params!.side === 'left' ? run(c, s, x) : run(c, x, s));
        x.dispose();
      });
      continue;
    }
    it(c.name, async () => {
      const [a, b] = c.inputs.map((f) => fromFixture(f, device));
      await run(c, a, b);
      T.dispose([a, b]);
    });
    if (c.params?.layouts) {
      for (const layout of LAYOUTS.slice(1)) {
        it(`${c.name} ${layout}, second operand expanded`, async () => {
          const [a0, b0] = c.inputs.map((f) => fromFixture(f, device));
          const a = relayout(a0, layout);
          const b = expand(relayout(b0, layout === 'transposed' ? 'flipped' : layout), a.shape);
          expectStrided(a);
          await run(c, a, b);
          T.dispose([a0, b0, a, b]);
        });
      }
    }
  }

  it('refuses the dtypes the table refuses, naming the op', () => {
    for (const op of Object.keys(binaryOps) as BinaryName[]) {
      if (!refused(binaryOps[op], 'bool')) continue;
      const x = zeros([2], { dtype: 'bool', device });
      expect(() => callBinary(op, x, x)).toThrow(new RegExp(`${op}.*bool`));
      x.dispose();
    }
  });

  it('broadcasts empty tensors', async () => {
    const a = zeros([0, 3], { device });
    const b = tensor([1, 2, 3], { device });
    for (const op of Object.keys(binaryOps) as BinaryName[]) {
      const y = callBinary(op, a, b);
      expect([...y.shape], op).toEqual([0, 3]);
      expect(Array.from(await y.data())).toEqual([]);
      y.dispose();
    }
    T.dispose([a, b]);
  });

  it('does not mutate its inputs', async () => {
    const a = tensor([1, -2, 3], { device });
    const b = tensor([4, 5, -6], { device });
    for (const op of Object.keys(binaryOps) as BinaryName[]) callBinary(op, a, b).dispose();
    expect(Array.from(await a.data())).toEqual([1, -2, 3]);
    expect(Array.from(await b.data())).toEqual([4, 5, -6]);
    T.dispose([a, b]);
  });
});

forEachBackend('elementwise: where, maskedFill, cast', (device) => {
  for (const c of casesOf('where')) {
    it(c.name, async () => {
      const ins = c.inputs.map((f) => fromFixture(f, device));
      const y = ins.length === 3 ? where(ins[0], ins[1], ins[2]) : where(ins[0], c.params!.a as number, c.params!.b as number);
      await expectClose(y, fixtureValues(c.expected[0]), { shape: c.expected[0].shape, dtype: c.expected[0].dtype });
      T.dispose([ins, y]);
    });
  }
  for (const c of casesOf('maskedFill')) {
    it(c.name, async () => {
      const [x, mask] = c.inputs.map((f) => fromFixture(f, device));
      const v = c.params!.value === '-inf' ? -Infinity : (c.params!.value as number);
      const y = maskedFill(x, mask, v);
      await expectClose(y, fixtureValues(c.expected[0]), { shape: c.expected[0].shape, dtype: x.dtype });
      T.dispose([x, mask, y]);
    });
  }
  it('where with a transposed condition and flipped operands', async () => {
    const cond = tensor([[true, false], [false, true], [true, true]], { device });
    const a = tensor([[1, 2, 3], [4, 5, 6]], { device });
    const y = where(cond.transpose(), T.flip(a, 1), 0);
    await expectClose(y, [[3, 0, 1], [0, 5, 4]], { dtype: 'float32' });
    T.dispose([cond, a, y]);
  });
  it('maskedFill with a tensor value', async () => {
    const x = tensor([1, 2, 3], { device, dtype: 'int32' });
    const m = tensor([false, true, true], { device });
    const v = full([], 7.9, { device });
    await expectClose(maskedFill(x, m, v), [1, 7, 7], { dtype: 'int32' });
    T.dispose([x, m, v]);
  });

  for (const c of casesOf('cast')) {
    const to = c.params!.to as DType;
    it(c.name, async () => {
      const x = fromFixture(c.inputs[0], device);
      if (device === 'webgpu' && to === 'float64') {
        expect(() => cast(x, to)).toThrow(/cast.*float64.*webgpu/);
      } else {
        const y = cast(x, to);
        // exact up to the float32 rounding of the decimal golden values
        await expectClose(y, fixtureValues(c.expected[0]), { shape: c.expected[0].shape, dtype: to, atol: 0, rtol: 1e-7 });
        y.dispose();
      }
      x.dispose();
    });
  }
  it('clamp with tensor bounds broadcasts them', async () => {
    const x = tensor([[-5, 0.5, 9], [NaN, 2, -1]], { device });
    const lo = tensor([[-1], [0]], { device });
    const hi = tensor([1, 1, 3], { device });
    await expectClose(T.clamp(x, lo, hi), [[-1, 0.5, 3], [NaN, 1, 0]], { dtype: 'float32' });
    await expectClose(T.clamp(x, null, hi), [[-5, 0.5, 3], [NaN, 1, -1]], { dtype: 'float32' });
    T.dispose([x, lo, hi]);
  });

  it('integer remainder by zero is 0 (PyTorch raises)', async () => {
    const a = tensor([7, -7, 3], { device, dtype: 'int32' });
    const b = tensor([0, 3, -2], { device, dtype: 'int32' });
    await expectClose(T.remainder(a, b), [0, 2, -1], { dtype: 'int32', atol: 0 });
    T.dispose([a, b]);
  });

  it('cast to and from uint32', async () => {
    const x = tensor([0.5, 0, 2.9, 7], { device });
    const u = cast(x, 'uint32');
    const big = tensor(new Uint32Array([0, 5, 4000000000]), { device });
    await expectClose(u, [0, 0, 2, 7], { dtype: 'uint32', atol: 0, rtol: 0 });
    await expectClose(cast(u, 'bool'), [0, 0, 1, 1], { dtype: 'bool' });
    await expectClose(cast(big, 'float32'), [0, 5, 4000000000], { dtype: 'float32' });
    T.dispose([x, u, big]);
  });
});

forEachBackend('elementwise: sizes beyond one dispatch', (device) => {
  it('adds 4.3M elements (more than 65,535 x 64 threads)', async () => {
    const n = 4_300_000;
    expect(n).toBeGreaterThan(65535 * 64);
    const a = T.arange(0, n, 1, { device, dtype: 'float32' });
    const b = full([n], 1, { device });
    const y = T.add(a, b);
    const s = tidy(() => T.neg(T.flip(y, 0)));
    const got = await y.data();
    const rev = await s.data();
    for (const i of [0, 1, 4_194_239, 4_194_240, 4_194_303, 4_194_304, n - 2, n - 1]) {
      expect(got[i], `y[${i}]`).toBe(i + 1);
      expect(rev[n - 1 - i], `neg(flip(y))[${n - 1 - i}]`).toBe(-(i + 1));
    }
    T.dispose([a, b, y, s]);
  });
});
