import { describe, expect, it } from 'vitest';
import * as T from '../src/index.js';
import {
  argsort, bincount, cdist, dispose, maskedSelect, memory, nonzero, permute, searchsorted, slice, sort, tensor, tidy, topk, transpose, unique,
  type DeviceName, type Tensor,
} from '../src/index.js';
import { expectClose, fixtureValues, forEachBackend, fromFixture, loadFixture, seeded, type FixtureCase } from './helpers.js';

const cases = await loadFixture('sorting');
const byOp = (op: string) => cases.filter((c) => c.op === op);
const param = (c: FixtureCase, key: string) => {
  const v = c.params?.[key];
  return v === 'inf' ? Infinity : v;
};

async function expectExact(t: Tensor, expected: number[], shape: readonly number[], dtype?: string) {
  await expectClose(t, expected, { atol: 0, rtol: 0, shape, dtype: dtype as never });
}

/** Stable JS reference: indices of a row sorted with NaN largest, ties by index. */
function referenceOrder(row: ArrayLike<number>, descending = false): number[] {
  const key = (v: number) => (Number.isNaN(v) ? Infinity : v);
  const rank = (a: number, b: number) => {
    const va = row[a];
    const vb = row[b];
    if (Number.isNaN(va) || Number.isNaN(vb)) return Number.isNaN(va) === Number.isNaN(vb) ? 0 : Number.isNaN(va) ? 1 : -1;
    return key(va) - key(vb);
  };
  return Array.from({ length: row.length }, (_, i) => i).sort((a, b) => (descending ? -rank(a, b) : rank(a, b)) || a - b);
}

forEachBackend('sort / argsort / topk (PyTorch golden values)', (device) => {
  for (const c of byOp('sort')) {
    it(c.name, async () => {
      const x = fromFixture(c.inputs[0], device);
      const before = Array.from(await x.data());
      const opts = { dim: param(c, 'dim') as number, descending: param(c, 'descending') as boolean };
      const { values, indices } = sort(x, opts);
      await expectClose(values, fixtureValues(c.expected[0]), { atol: 0, rtol: 0, shape: c.expected[0].shape, dtype: x.dtype });
      await expectExact(indices, fixtureValues(c.expected[1]), c.expected[1].shape, 'int32');
      const idx = argsort(x, opts);
      await expectExact(idx, fixtureValues(c.expected[1]), c.expected[1].shape, 'int32');
      expect(Array.from(await x.data())).toEqual(before);
      dispose([x, values, indices, idx]);
    });
  }
  for (const c of byOp('topk')) {
    it(c.name, async () => {
      const x = fromFixture(c.inputs[0], device);
      const { values, indices } = topk(x, param(c, 'k') as number, { dim: param(c, 'dim') as number, largest: param(c, 'largest') as boolean });
      await expectClose(values, fixtureValues(c.expected[0]), { atol: 0, rtol: 0, shape: c.expected[0].shape, dtype: x.dtype });
      await expectExact(indices, fixtureValues(c.expected[1]), c.expected[1].shape, 'int32');
      dispose([x, values, indices]);
    });
  }

  it('sorts uint32 and bool', async () => {
    const u = tensor(Uint32Array.from([7, 0, 4294967295, 7, 3]), { device });
    const su = sort(u, { descending: true });
    await expectExact(su.values, [4294967295, 7, 7, 3, 0], [5], 'uint32');
    await expectExact(su.indices, [2, 0, 3, 4, 1], [5]);
    const b = tensor([true, false, true, false], { device });
    const sb = sort(b);
    expect(await sb.values.array()).toEqual([false, false, true, true]);
    await expectExact(sb.indices, [1, 3, 0, 2], [4]);
    dispose([u, su, b, sb]);
  });

  it('sorts int32 extremes and keeps ties stable when descending', async () => {
    const x = tensor(Int32Array.from([0, -2147483648, 2147483647, -1, 0, -2147483648]), { device });
    const s = sort(x, { descending: true });
    await expectExact(s.values, [2147483647, 0, 0, -1, -2147483648, -2147483648], [6], 'int32');
    await expectExact(s.indices, [2, 0, 4, 3, 1, 5], [6]);
    dispose([x, s]);
  });

  it('sorts non-contiguous views (transposed, sliced, permuted)', async () => {
    // tidy frees the inline inputs and views too
    await tidy(async () => {
      const base = tensor(seeded(6 * 10, 7), { device, shape: [6, 10] });
      const t = transpose(base); // [10, 6]
      const s = slice(base, 1, 1, 9, 2); // [6, 4], stride 2
      const host = await base.array() as number[][];
      const st = sort(t, { dim: 0 }); // sorts each row of base, laid out transposed
      const expectedT: number[][] = Array.from({ length: 10 }, () => new Array<number>(6));
      const expectedTi: number[][] = Array.from({ length: 10 }, () => new Array<number>(6));
      host.forEach((row, r) => referenceOrder(row).forEach((src, k) => {
        expectedT[k][r] = row[src];
        expectedTi[k][r] = src;
      }));
      await expectClose(st.values, expectedT, { atol: 0, rtol: 0, shape: [10, 6] });
      await expectExact(st.indices, expectedTi.flat(), [10, 6]);
      const ss = sort(s, { descending: true });
      const rows = host.map((row) => [1, 3, 5, 7].map((i) => row[i]));
      await expectClose(ss.values, rows.map((row) => referenceOrder(row, true).map((i) => row[i])), { atol: 0, rtol: 0, shape: [6, 4] });
      const p = permute(tensor(seeded(24, 3), { device, shape: [2, 3, 4] }), [2, 0, 1]);
      const sp = topk(p, 2, { dim: 1 });
      const ph = await p.array() as number[][][];
      const want = ph.map((plane) => [0, 1, 2].map((j) => [plane[0][j], plane[1][j]].sort((a, b) => b - a)));
      await expectClose(sp.values, want.map((plane) => [0, 1].map((k) => plane.map((pair) => pair[k]))), { atol: 0, rtol: 0, shape: [4, 2, 3] });
      dispose([base, t, s, st, ss, p, sp]);
    });
  });

  it('sorts a long row (> 65,536 elements) stably in both directions', async () => {
    const n = 100_003;
    const data = Float32Array.from(seeded(n, 11), (v) => Math.round(v * 500)); // many ties
    data[17] = NaN;
    data[n - 1] = NaN;
    const x = tensor(data, { device });
    for (const descending of [false, true]) {
      const { values, indices } = sort(x, { descending });
      const order = referenceOrder(data, descending);
      await expectExact(indices, order, [n], 'int32');
      await expectClose(values, order.map((i) => data[i]), { atol: 0, rtol: 0 });
      dispose([values, indices]);
    }
    const top = topk(x, 5, { largest: false });
    await expectExact(top.indices, referenceOrder(data).slice(0, 5), [5]);
    dispose([x, top]);
  });

  it('sorts many short rows (10,000 rows of 20)', async () => {
    const rows = 10_000;
    const cols = 20;
    const data = Float32Array.from(seeded(rows * cols, 5), (v) => Math.round(v * 8));
    const x = tensor(data, { device, shape: [rows, cols] });
    const { values, indices } = sort(x, { descending: true });
    const [gotV, gotI] = [await values.data(), await indices.data()];
    const wantI = new Int32Array(rows * cols);
    const wantV = new Float32Array(rows * cols);
    for (let r = 0; r < rows; r++) {
      const row = data.subarray(r * cols, (r + 1) * cols);
      referenceOrder(row, true).forEach((src, k) => {
        wantI[r * cols + k] = src;
        wantV[r * cols + k] = row[src];
      });
    }
    expect(gotI).toEqual(wantI);
    expect(gotV).toEqual(wantV);
    dispose([x, values, indices]);
  });

  it('handles empty and 0-d tensors', async () => {
    // tidy frees the inline inputs and views too
    await tidy(async () => {
      const e = tensor([], { device });
      const se = sort(e);
      expect(se.values.shape).toEqual([0]);
      const m = tensor(new Float32Array(0), { device, shape: [3, 0] });
      const sm = sort(m, { dim: 0 });
      expect(sm.indices.shape).toEqual([3, 0]);
      const t0 = topk(tensor(seeded(8, 2), { device, shape: [2, 4] }), 0);
      expect(t0.values.shape).toEqual([2, 0]);
      const s = tensor(2.5, { device });
      const ss = sort(s);
      await expectExact(ss.values, [2.5], []);
      await expectExact(ss.indices, [0], [], 'int32');
      dispose([e, se, m, sm, t0, s, ss]);
    });
  });

  it('Tensor methods sort, argsort and topk', async () => {
    const x = tensor([3, 1, 2], { device });
    const s = x.sort();
    const a = x.argsort({ descending: true });
    const t = x.topk(1);
    await expectExact(s.values, [1, 2, 3], [3]);
    await expectExact(a, [0, 2, 1], [3]);
    await expectExact(t.indices, [0], [1]);
    dispose([x, s, a, t]);
  });
});

forEachBackend('searchsorted / cdist (PyTorch golden values)', (device) => {
  for (const c of byOp('searchsorted')) {
    it(c.name, async () => {
      const s = fromFixture(c.inputs[0], device);
      const v = fromFixture(c.inputs[1], device);
      const out = searchsorted(s, v, { right: param(c, 'right') as boolean });
      await expectExact(out, fixtureValues(c.expected[0]), c.expected[0].shape, 'int32');
      dispose([s, v, out]);
    });
  }
  for (const c of byOp('cdist')) {
    it(c.name, async () => {
      const a = fromFixture(c.inputs[0], device);
      const b = fromFixture(c.inputs[1], device);
      const out = cdist(a, b, { p: param(c, 'p') as number });
      await expectClose(out, fixtureValues(c.expected[0]), { atol: 1e-6, rtol: 2e-5, shape: c.expected[0].shape, dtype: 'float32' });
      dispose([a, b, out]);
    });
  }

  it('searchsorted on non-contiguous inputs, empty values and an empty sequence', async () => {
    // tidy frees the inline inputs and views too
    await tidy(async () => {
      const seq = tensor([[1, 10], [2, 20], [3, 30]], { device }); // transposed: [[1,2,3],[10,20,30]]
      const st = transpose(seq);
      const vals = tensor([[2.5, 0], [25, 31]], { device });
      const out = searchsorted(st, vals);
      await expectExact(out, [2, 0, 2, 3], [2, 2]);
      const none = searchsorted(st, tensor(new Float32Array(0), { device, shape: [2, 0] }));
      expect(none.shape).toEqual([2, 0]);
      const emptySeq = searchsorted(tensor([], { device }), tensor([1, 2], { device }), { right: true });
      await expectExact(emptySeq, [0, 0], [2]);
      dispose([seq, st, vals, out, none, emptySeq]);
    });
  });

  it('cdist p = 2 is accurate for nearly equal points', async () => {
    const a = tensor([[1000, 1000]], { device });
    const b = tensor([[1000.0625, 1000]], { device });
    const d = cdist(a, b);
    await expectClose(d, [[0.0625]], { atol: 0, rtol: 1e-6 });
    dispose([a, b, d]);
  });

  it('cdist on transposed inputs, empty sets and zero-width points', async () => {
    // tidy frees the inline inputs and views too
    await tidy(async () => {
      const a = transpose(tensor([[0, 3], [0, 4]], { device })); // [[0,0],[3,4]]
      const b = tensor([[0, 0]], { device });
      const d = cdist(a, b);
      await expectClose(d, [[0], [5]], { shape: [2, 1] });
      const e = cdist(tensor(new Float32Array(0), { device, shape: [0, 2] }), b);
      expect(e.shape).toEqual([0, 1]);
      const z = cdist(tensor(new Float32Array(0), { device, shape: [2, 0] }), tensor(new Float32Array(0), { device, shape: [3, 0] }));
      await expectExact(z, [0, 0, 0, 0, 0, 0], [2, 3]);
      dispose([a, b, d, e, z]);
    });
  });

  it('cdist beyond one dispatch (4.3M outputs)', async () => {
    const P = 2100;
    const R = 2048;
    const a = tensor(Float32Array.from({ length: P }, (_, i) => i), { device, shape: [P, 1] });
    const b = tensor(Float32Array.from({ length: R }, (_, j) => j), { device, shape: [R, 1] });
    const d = cdist(a, b, { p: 1 });
    const got = await d.data();
    let bad = 0;
    for (let i = 0; i < P; i++) for (let j = 0; j < R; j++) if (got[i * R + j] !== Math.abs(i - j)) bad++;
    expect(bad).toBe(0);
    dispose([a, b, d]);
  });
});

forEachBackend('nonzero / maskedSelect / unique / bincount (PyTorch golden values)', (device) => {
  for (const c of byOp('nonzero')) {
    it(c.name, async () => {
      const x = fromFixture(c.inputs[0], device);
      const out = await nonzero(x);
      await expectExact(out, fixtureValues(c.expected[0]), c.expected[0].shape, 'int32');
      dispose([x, out]);
    });
  }
  for (const c of byOp('maskedSelect')) {
    it(c.name, async () => {
      const x = fromFixture(c.inputs[0], device);
      const m = fromFixture(c.inputs[1], device);
      const out = await maskedSelect(x, m);
      await expectClose(out, fixtureValues(c.expected[0]), { atol: 0, rtol: 0, shape: c.expected[0].shape, dtype: x.dtype });
      dispose([x, m, out]);
    });
  }
  for (const c of byOp('unique')) {
    it(c.name, async () => {
      const x = fromFixture(c.inputs[0], device);
      const { values, inverse, counts } = await unique(x, { returnInverse: true, returnCounts: true });
      await expectClose(values, fixtureValues(c.expected[0]), { atol: 0, rtol: 0, shape: c.expected[0].shape, dtype: x.dtype });
      await expectExact(inverse!, fixtureValues(c.expected[1]), c.expected[1].shape, 'int32');
      await expectExact(counts!, fixtureValues(c.expected[2]), c.expected[2].shape, 'int32');
      const plain = await unique(x);
      expect(plain.inverse).toBeUndefined();
      expect(plain.counts).toBeUndefined();
      dispose([x, values, inverse, counts, plain]);
    });
  }
  for (const c of byOp('bincount')) {
    it(c.name, async () => {
      const x = fromFixture(c.inputs[0], device);
      const w = c.inputs[1] ? fromFixture(c.inputs[1], device) : undefined;
      const out = await bincount(x, { weights: w, minlength: param(c, 'minlength') as number | undefined });
      await expectClose(out, fixtureValues(c.expected[0]), { atol: 1e-6, rtol: 1e-6, shape: c.expected[0].shape, dtype: w ? 'float32' : 'int32' });
      dispose([x, w, out]);
    });
  }

  it('nonzero and maskedSelect over many blocks, on non-contiguous views', async () => {
    // tidy frees the inline inputs and views too
    await tidy(async () => {
      const n = 700_001; // > 512 blocks of 1,024: the block scan runs in several chunks
      const data = Float32Array.from(seeded(n, 9), (v) => (v > 0.6 ? v : 0));
      const x = tensor(data, { device });
      const nz = await nonzero(x);
      const want: number[] = [];
      data.forEach((v, i) => { if (v !== 0) want.push(i); });
      await expectExact(nz, want, [want.length, 1]);
      const mask = tensor(Uint8Array.from(data, (v) => (v !== 0 ? 1 : 0)), { device, dtype: 'bool' });
      const sel = await maskedSelect(x, mask);
      await expectClose(sel, want.map((i) => data[i]), { atol: 0, rtol: 0 });
      const grid = tensor(seeded(12, 4), { device, shape: [3, 4] });
      const gt = transpose(grid); // [4, 3]
      const nt = await nonzero(slice(gt, 0, 1, 4, 2)); // rows 1 and 3 of the transpose, all nonzero
      await expectExact(nt, [0, 0, 0, 1, 0, 2, 1, 0, 1, 1, 1, 2], [6, 2]);
      dispose([x, nz, mask, sel, grid, gt, nt]);
    });
  });

  it('bool, 0-d and empty inputs of the data-dependent ops', async () => {
    // tidy frees the inline inputs and views too
    await tidy(async () => {
      const b = tensor([[true, false], [false, true]], { device });
      await expectExact(await nonzero(b), [0, 0, 1, 1], [2, 2], 'int32');
      const s = await nonzero(tensor(5, { device }));
      expect(s.shape).toEqual([1, 0]);
      const z = await nonzero(tensor(0, { device }));
      expect(z.shape).toEqual([0, 0]);
      const none = await nonzero(tensor([0, 0, -0], { device }));
      expect(none.shape).toEqual([0, 1]);
      const empty = await nonzero(tensor(new Float32Array(0), { device, shape: [2, 0, 3] }));
      expect(empty.shape).toEqual([0, 3]);
      const ms = await maskedSelect(tensor([1, 2], { device }), tensor([false, false], { device }));
      expect(ms.shape).toEqual([0]);
      const u = await unique(tensor([], { device }), { returnCounts: true });
      expect(u.values.shape).toEqual([0]);
      expect(u.counts!.shape).toEqual([0]);
      const bc = await bincount(tensor(new Int32Array(0), { device }), { minlength: 3 });
      await expectExact(bc, [0, 0, 0], [3], 'int32');
      const ub = await unique(tensor([true, false, true], { device }));
      expect(await ub.values.array()).toEqual([false, true]);
      dispose([b, s, z, none, empty, ms, u, bc, ub]);
    });
  });

  it('Tensor methods nonzero, maskedSelect, unique and bincount', async () => {
    // tidy frees the inline inputs and views too
    await tidy(async () => {
      const x = tensor(Int32Array.from([2, 0, 2]), { device });
      const nz = await x.nonzero();
      const ms = await x.maskedSelect(tensor([true, true, false], { device }));
      const u = await x.unique();
      const bc = await x.bincount();
      await expectExact(nz, [0, 2], [2, 1]);
      await expectExact(ms, [2, 0], [2]);
      await expectExact(u.values, [0, 2], [2]);
      await expectExact(bc, [1, 0, 2], [3]);
      dispose([x, nz, ms, u, bc]);
    });
  });
});

forEachBackend('sorting ops: bad input', (device: DeviceName) => {
  it('rejects bad arguments with errors naming the op', async () => {
    // tidy frees the inline inputs and views too
    await tidy(async () => {
      const x = tensor([[1, 2], [3, 4]], { device });
      const i = tensor(Int32Array.from([1, 2]), { device });
      expect(() => sort(null as never)).toThrow(/sort: expected input to be a Tensor/);
      expect(() => sort(x, { dim: 2 })).toThrow(/sort: dim 2 is out of range/);
      expect(() => argsort(x, 'desc' as never)).toThrow(/argsort: expected an options object/);
      expect(() => topk(x, 3)).toThrow(/topk: k must be an integer in \[0, 2\]/);
      expect(() => topk(x, -1)).toThrow(/topk/);
      expect(() => topk(x, 1.5)).toThrow(/topk/);
      expect(() => searchsorted(tensor([true], { device }), x)).toThrow(/searchsorted: expected sortedSequence dtype/);
      expect(() => searchsorted(x, tensor([1, 2, 3], { device }))).toThrow(/searchsorted: a sortedSequence of shape \[2, 2\] needs values of shape \[2, V\]/);
      expect(() => searchsorted(tensor(1, { device }), x)).toThrow(/searchsorted: expected sortedSequence of rank >= 1/);
      expect(() => cdist(i, i)).toThrow(/cdist: expected x1 dtype in \{float32, float64\}, received int32/);
      expect(() => cdist(x, tensor([[1, 2, 3]], { device }))).toThrow(/cdist: .* must have the same last dim/);
      expect(() => cdist(tensor([1, 2], { device }), x)).toThrow(/cdist: expected x1 and x2 of rank >= 2/);
      expect(() => cdist(x, x, { p: -1 })).toThrow(/cdist: p must be a number >= 0/);
      expect(() => cdist(x, x, { p: NaN })).toThrow(/cdist: p must be/);
      await expect(maskedSelect(x, i)).rejects.toThrow(/maskedSelect: expected a bool mask, received int32/);
      await expect(maskedSelect(x, tensor([true, false, true], { device }))).rejects.toThrow(/maskedSelect: shapes \[2, 2\] and \[3\] cannot be broadcast/);
      await expect(unique(x, { dim: 0 as never })).rejects.toThrow(/unique: dim is not supported/);
      await expect(bincount(x)).rejects.toThrow(/bincount: expected input dtype in \{int32, uint32\}, received float32/);
      await expect(bincount(tensor(Int32Array.from([1, -3]), { device }))).rejects.toThrow(/bincount: expected non-negative values, received -3/);
      await expect(bincount(i, { weights: tensor([1, 2, 3], { device }) })).rejects.toThrow(/bincount: expected weights of shape \[2\], received \[3\]/);
      await expect(bincount(i, { minlength: -1 })).rejects.toThrow(/bincount: minlength must be a non-negative integer/);
      const gone = tensor([1], { device });
      gone.dispose();
      await expect(nonzero(gone)).rejects.toThrow(/nonzero: input has been disposed/);
      if (device === 'webgpu') {
        const c = tensor([1, 2], { device: 'cpu' });
        expect(() => searchsorted(c, tensor([1], { device }))).toThrow(/searchsorted: expected all tensors on one device/);
        c.dispose();
      } else {
        const f = tensor([3, 1, 2], { device, dtype: 'float64' });
        const s = sort(f);
        await expectExact(s.values, [1, 2, 3], [3], 'float64');
        const d = cdist(tensor([[0, 0]], { device, dtype: 'float64' }), tensor([[3, 4]], { device, dtype: 'float64' }));
        await expectExact(d, [5], [1, 1], 'float64');
        dispose([f, s, d]);
      }
      dispose([x, i]);
    });
  });
});

forEachBackend('sorting ops: memory', (device) => {
  it('keeps memory flat over 60 iterations of every op', async () => {
    const x = tensor(seeded(3 * 700, 8), { device, shape: [3, 700] });
    const ints = tensor(Int32Array.from({ length: 50 }, (_, k) => (k * 7) % 11), { device });
    const seq = tensor([-0.5, 0, 0.5], { device });
    const mask = tensor(Uint8Array.from({ length: 700 }, (_, k) => k % 3), { device, dtype: 'bool' });
    const step = async () => {
      dispose([sort(x, { dim: 0 }), argsort(x), topk(x, 4, { dim: 1, largest: false }), searchsorted(seq, x), cdist(x, x, { p: 3 })]);
      dispose([await nonzero(x), await maskedSelect(x, mask), await unique(ints, { returnInverse: true, returnCounts: true }), await bincount(ints, { weights: ints })]);
    };
    await step();
    const before = memory();
    for (let k = 0; k < 60; k++) await step();
    const after = memory();
    expect(after.tensors).toBe(before.tensors);
    expect(after.bytes).toBe(before.bytes);
    dispose([x, ints, seq, mask]);
  });
});

describe('sorting fixtures', () => {
  it('cover every op', () => {
    for (const op of ['sort', 'topk', 'searchsorted', 'cdist', 'nonzero', 'maskedSelect', 'unique', 'bincount']) expect(byOp(op).length).toBeGreaterThan(0);
  });
});

forEachBackend('topk selects per row without a full sort (k * 4 <= n)', (device) => {
  // Values with many ties, NaNs and signed zeros; the selection must equal the head of the stable sort.
  const [rows, n] = [37, 101];
  const raw = seeded(rows * n, 77);
  const vals = Float32Array.from(raw, (v, i) => (i % 17 === 0 ? NaN : i % 13 === 0 ? -0 : Math.round(v * 8) / 8));
  const show = (a: ArrayLike<number>) => Array.from(a, (v) => (Number.isNaN(v) ? 'NaN' : v));
  for (const largest of [true, false]) {
    for (const [k, dim] of [[1, -1], [5, -1], [25, 1], [3, 0]] as [number, number][]) {
      it(`k=${k}, dim ${dim}, largest=${largest}`, async () => {
        const x = T.tensor(vals, { shape: [rows, n], device });
        const got = T.topk(x, k, { dim, largest });
        const all = T.sort(x, { dim, descending: largest });
        const d = dim < 0 ? 1 : dim;
        const head = { values: T.narrow(all.values, d, 0, k), indices: T.narrow(all.indices, d, 0, k) };
        expect(got.values.shape).toEqual(head.values.shape);
        expect(Array.from(await got.indices.data())).toEqual(Array.from(await head.indices.data()));
        expect(show(await got.values.data())).toEqual(show(await head.values.data()));
        T.dispose([x, got.values, got.indices, all.values, all.indices, head.values, head.indices]);
      });
    }
  }
});
