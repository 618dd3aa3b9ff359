import { expect, it } from 'vitest';
import * as T from '../src/index.js';
import { arange, cat, clone, contiguous, expand, flip, memory, pad, permute, reshape, slice, split, tensor, transpose, view, zeros, type Tensor } from '../src/index.js';
import { casesOf, expectStrided, relayout, type Layout } from './core.js';
import { expectClose, fixtureValues, forEachBackend, fromFixture, type FixtureCase } from './helpers.js';

const MOVEMENT = ['reshape', 'view', 'permute', 'transpose', 'expand', 'squeeze', 'unsqueeze', 'flatten', 'unflatten', 'slice', 'narrow', 'select', 'flip', 'cat', 'stack',
  'split', 'chunk', 'unbind', 'pad', 'roll', 'repeat', 'tril', 'triu', 'contiguous', 'clone'];

/** A transform applied before the op, to make its input a non-trivial view. */
function pre(x: Tensor, how: unknown): Tensor {
  switch (how) {
    case 'transpose12': return transpose(x, 1, 2);
    case 'transpose02': return transpose(x, 0, 2);
    case 't': return transpose(x);
    case 'flip1': return flip(x, 1);
    default: return x;
  }
}

function call(c: FixtureCase, xs: Tensor[]): Tensor[] {
  const p = (c.params ?? {}) as Record<string, any>;
  const x = pre(xs[0], p.pre);
  switch (c.op) {
    case 'reshape': return [reshape(x, p.shape)];
    case 'view': return [view(x, p.shape)];
    case 'permute': return [permute(x, p.dims)];
    case 'transpose': return [transpose(x, p.dim0, p.dim1)];
    case 'expand': return [expand(x, p.shape)];
    case 'squeeze': return [T.squeeze(x, p.dim)];
    case 'unsqueeze': return [T.unsqueeze(x, p.dim)];
    case 'flatten': return [T.flatten(x, p.startDim, p.endDim)];
    case 'unflatten': return [T.unflatten(x, p.dim, p.sizes)];
    case 'slice': return [slice(x, p.dim, p.start, p.end, p.step)];
    case 'narrow': return [T.narrow(x, p.dim, p.start, p.length)];
    case 'select': return [T.select(x, p.dim, p.index)];
    case 'flip': return [flip(x, p.dims)];
    case 'cat': return [cat(xs, p.dim)];
    case 'stack': return [T.stack(xs, p.dim)];
    case 'split': return split(x, p.size, p.dim);
    case 'chunk': return T.chunk(x, p.chunks, p.dim);
    case 'unbind': return T.unbind(x, p.dim);
    case 'pad': return [pad(x, p.pad, { mode: p.mode, value: p.value })];
    case 'roll': return [T.roll(x, p.shifts, p.dims)];
    case 'repeat': return [T.repeat(x, p.repeats)];
    case 'tril': return [T.tril(x, p.diagonal)];
    case 'triu': return [T.triu(x, p.diagonal)];
    case 'contiguous': return [contiguous(x)];
    case 'clone': return [clone(x)];
    default: throw new Error(`no call for ${c.op}`);
  }
}

forEachBackend('movement (golden values)', (device) => {
  const cases = casesOf(...MOVEMENT);
  it('covers every movement op', () => {
    for (const op of MOVEMENT) expect(cases.some((c) => c.op === op), op).toBe(true);
  });
  for (const c of cases) {
    for (const layout of ['contiguous', 'flipped', 'strided'] as Layout[]) {
      it(`${c.name} (${layout} input)`, async () => {
        const xs0 = c.inputs.map((f) => fromFixture(f, device));
        const xs = xs0.map((x) => relayout(x, layout));
        if (layout !== 'contiguous') xs.forEach(expectStrided);
        const out = call(c, xs);
        expect(out.length, 'number of outputs').toBe(c.expected.length);
        for (let k = 0; k < out.length; k++) {
          const e = c.expected[k];
          await expectClose(out[k], fixtureValues(e), { shape: e.shape, dtype: e.dtype, atol: 0, rtol: 0 });
        }
        const before = await Promise.all(xs0.map((x) => x.data()));
        expect(before.map((d) => Array.from(d)), 'inputs unchanged').toEqual(c.inputs.map((f) => fixtureValues(f)));
        T.dispose([xs0, xs, out]);
      });
    }
  }
});

forEachBackend('movement: views and copies', (device) => {
  it('reshape of a contiguous tensor is a view; of a transposed one a correct copy', async () => {
    const x = reshape(arange(0, 6, 1, { device, dtype: 'float32' }), [2, 3]);
    const v = reshape(x, [3, 2]);
    expect(v.storage).toBe(x.storage);
    const t = transpose(x);
    const r = reshape(t, [6]);
    expect(r.storage).not.toBe(x.storage);
    await expectClose(r, [0, 3, 1, 4, 2, 5]);
    // merging dims that stay adjacent in memory keeps a view
    const x3 = reshape(arange(0, 24, 1, { device, dtype: 'float32' }), [2, 3, 4]);
    const p = permute(x3, [1, 0, 2]);
    const m = reshape(p, [3, 8]);
    expect(m.storage).not.toBe(x3.storage);
    await expectClose(slice(m, 0, 0, 1), [0, 1, 2, 3, 12, 13, 14, 15]);
    const s = reshape(T.select(x3, 0, 1), [12]);
    expect(s.storage).toBe(x3.storage);
    await expectClose(s, Array.from({ length: 12 }, (_, i) => 12 + i));
    T.dispose([x, v, t, r, x3, p, m, s]);
  });

  it('view refuses layouts that need a copy, naming the shapes', () => {
    const x = zeros([2, 3], { device });
    const t = transpose(x);
    expect(() => view(t, [6])).toThrow(/view: .*\[3, 2\].*\[6\]/);
    expect(() => view(x, [4])).toThrow(/view: .*\[2, 3\].*\[4\]/);
    expect(() => reshape(x, [-1, -1])).toThrow(/reshape/);
    expect(() => reshape(x, [4, -1])).toThrow(/reshape: .*\[2, 3\].*\[4, -1\]/);
    T.dispose([x, t]);
  });

  it('contiguous returns a view when already contiguous; clone always copies', () => {
    const x = zeros([2, 3], { device });
    const c = contiguous(x);
    const k = clone(x);
    expect(c.storage).toBe(x.storage);
    expect(k.storage).not.toBe(x.storage);
    const t = contiguous(transpose(x));
    expect(t.isContiguous()).toBe(true);
    T.dispose([x, c, k, t]);
  });

  it('pads with negative padding on both sides and crops to empty', async () => {
    const x = reshape(arange(0, 6, 1, { device, dtype: 'float32' }), [2, 3]);
    await expectClose(pad(x, [-1, -1]), [[1], [4]]);
    await expectClose(pad(x, [-3, 0]), [], { shape: [2, 0] });
    x.dispose();
  });

  it('cat of views into a strided destination and of empty tensors', async () => {
    const a = tensor([[1, 2], [3, 4]], { device });
    const e = zeros([0, 2], { device });
    const y = cat([flip(a, 0), e, transpose(a)], 0);
    await expectClose(y, [[3, 4], [1, 2], [1, 3], [2, 4]]);
    T.dispose([a, e, y]);
  });

  it('keeps memory flat over a loop of movement ops', () => {
    const x = reshape(arange(0, 24, 1, { device, dtype: 'float32' }), [2, 3, 4]);
    const before = memory();
    for (let i = 0; i < 50; i++) {
      T.tidy(() => {
        split(x, 2, 2);
        T.chunk(x, 3, 1);
        pad(x, [1, 1], { mode: 'reflect' });
        pad(x, [1, 2, 1, 0], { mode: 'circular' });
        T.roll(x, [1, -1], [0, 2]);
        T.repeat(x, [2, 1, 1]);
        T.triu(x, 1);
        T.stack([x, x], 1);
        reshape(transpose(x, 0, 2), [-1]);
      });
    }
    const after = memory();
    expect(after.tensors).toBe(before.tensors);
    expect(after.bytes).toBe(before.bytes);
    x.dispose();
  });
});
