import { describe, expect, it } from 'vitest';
import {
  gather, indexSelect, memory, scatter, scatterAdd, scatterReduce, segmentMax, segmentMean, segmentMin, segmentSoftmax, segmentSum, segmentSumCsr,
  sync, tensor, tidy, transpose, zeros, type DeviceName, type ScatterReduceOp, type Tensor,
} from '../src/index.js';
import * as T from '../src/index.js';
import { expectClose, forEachBackend, fromFixture, loadFixture, seeded, type FixtureCase } from './helpers.js';

/** it() with the body in an async tidy: the tensors a test creates are freed when it ends, so memory checks see no garbage. */
const itTidy = (name: string, body: () => Promise<void> | void) => it(name, () => tidy(async () => { await body(); }));

const cases = await loadFixture('indexing');

function runCase(c: FixtureCase, device: DeviceName): Tensor {
  const [x, a, b] = c.inputs.map((f) => fromFixture(f, device));
  const p = c.params as { dim: number; reduce: ScatterReduceOp; includeSelf: boolean; value?: number };
  try {
    switch (c.op) {
      case 'indexSelect': return indexSelect(x, p.dim, a);
      case 'gather': return gather(x, p.dim, a);
      case 'scatter': return scatter(x, p.dim, a, p.value ?? b);
      case 'scatterAdd': return scatterAdd(x, p.dim, a, b);
      case 'scatterReduce': return scatterReduce(x, p.dim, a, b, p.reduce, { includeSelf: p.includeSelf });
      default: throw new Error(`unknown fixture op ${c.op}`);
    }
  } finally {
    for (const t of [x, a, b]) t?.dispose();
  }
}

/** A sorted segment-id vector with empty segments (0, 3 and the last) and a long one. */
function sortedIds(E: number, numSegments: number): Int32Array {
  const r = seeded(E, 11);
  const ids = Int32Array.from(r, (v) => 1 + Math.floor(((v + 1) / 2) * (numSegments - 2)));
  ids.sort();
  return ids.map((s) => (s === 3 ? 4 : s));
}

/** Brute-force segment reduction in float64: per segment and feature, values and arg rows. */
function segmentRef(src: Float32Array, ids: Int32Array, numSegments: number, F: number, op: 'sum' | 'mean' | 'max' | 'min') {
  const values = new Float64Array(numSegments * F);
  const args = new Int32Array(numSegments * F).fill(ids.length);
  for (let s = 0; s < numSegments; s++) {
    for (let f = 0; f < F; f++) {
      const rows = [...ids.keys()].filter((e) => ids[e] === s);
      if (!rows.length) continue;
      const vs = rows.map((e) => src[e * F + f]);
      if (op === 'sum' || op === 'mean') values[s * F + f] = vs.reduce((u, v) => u + v, 0) / (op === 'mean' ? vs.length : 1);
      else {
        const best = op === 'max' ? Math.max(...vs) : Math.min(...vs);
        values[s * F + f] = best;
        args[s * F + f] = rows[vs.indexOf(best)];
      }
    }
  }
  return { values, args };
}

forEachBackend('indexing golden values (PyTorch)', (device) => {
  for (const c of cases.filter((k) => k.op !== 'sparse')) {
    itTidy(c.name, async () => {
      const out = runCase(c, device);
      await expectClose(out, c.expected[0].data as number[], { shape: c.expected[0].shape, dtype: c.expected[0].dtype, atol: 1e-5, rtol: 1e-5 });
      out.dispose();
    });
  }
});

forEachBackend('indexing', (device) => {
  itTidy('works on non-contiguous views and through Tensor methods', async () => {
    const base = tensor(Array.from(seeded(20, 3)), { device, shape: [5, 4] });
    const xt = transpose(base, 0, 1); // [4, 5] view
    const xc = xt.contiguous();
    const idx = tensor([[4, 0, 2, 2, 1], [0, 0, 3, 1, 4]], { dtype: 'int32', device });
    const idxT = transpose(tensor([[4, 0], [0, 0], [2, 3], [2, 1], [1, 4]], { dtype: 'int32', device }), 0, 1);
    const src = tensor(Array.from(seeded(10, 4)), { device, shape: [2, 5] });
    const pairs: [Tensor, Tensor][] = [
      [xt.gather(1, idxT), gather(xc, 1, idx)],
      [xt.scatterAdd(1, idxT, src), scatterAdd(xc, 1, idx, src)],
      [xt.scatterReduce(1, idx, transpose(src.contiguous().reshape([5, 2]), 0, 1), 'amax', { includeSelf: false }), scatterReduce(xc, 1, idx, transpose(src.reshape([5, 2]), 0, 1).contiguous(), 'amax', { includeSelf: false })],
      [xt.indexSelect(0, tensor([3, 1, 3], { dtype: 'int32', device }).slice(0, 0, 3, 2)), indexSelect(xc, 0, tensor([3, 3], { dtype: 'int32', device }))],
      [xt.scatter(1, idxT, -1), scatter(xc, 1, idx, -1)],
    ];
    for (const [a, b] of pairs) await expectClose(a, await b.array(), { shape: b.shape, atol: 0, rtol: 0 });
    await expectClose(xt, await xc.array()); // inputs are not mutated
  });

  itTidy('accepts int32, uint32, bool (copies) and float64 (cpu) data', async () => {
    const idx = tensor([2, 0, 2], { dtype: 'int32', device });
    await expectClose(indexSelect(tensor([7, 8, 9], { dtype: 'uint32', device }), 0, idx), [9, 7, 9], { dtype: 'uint32' });
    await expectClose(gather(tensor([true, false, true], { device }), 0, idx), [1, 1, 1], { dtype: 'bool' });
    await expectClose(scatter(tensor([false, false, false], { device }), 0, tensor([1], { dtype: 'int32', device }), 1), [0, 1, 0], { dtype: 'bool' });
    await expectClose(scatterAdd(tensor([1, 2, 3], { dtype: 'int32', device }), 0, idx, tensor([10, 20, 30], { dtype: 'int32', device })), [21, 2, 43], { dtype: 'int32' });
    const u = tensor([7, 8, 9], { dtype: 'uint32', device });
    const uSrc = tensor([4, 20, 1], { dtype: 'uint32', device });
    await expectClose(scatterReduce(u, 0, idx, uSrc, 'amin'), [7, 8, 1], { dtype: 'uint32' });
    await expectClose(scatterReduce(u, 0, idx, uSrc, 'mean', { includeSelf: false }), [20, 8, 2], { dtype: 'uint32' });
    await expectClose(scatterReduce(u, 0, idx, uSrc, 'amax', { includeSelf: false }), [20, 8, 4], { dtype: 'uint32' });
    if (device === 'cpu') {
      const f64 = tensor([1, 2, 3], { dtype: 'float64', device });
      await expectClose(scatterReduce(f64, 0, idx, tensor([0.1, 0.2, 0.3], { dtype: 'float64', device }), 'mean'), [(1 + 0.2) / 2, 2, (3 + 0.1 + 0.3) / 3], { dtype: 'float64', atol: 1e-15 });
    }
  });

  itTidy('handles empty index and empty input', async () => {
    const x = tensor([[1, 2], [3, 4]], { device });
    const none = zeros([0, 2], { dtype: 'int32', device });
    await expectClose(scatterAdd(x, 0, none, zeros([0, 2], { device })), [1, 2, 3, 4], { shape: [2, 2] });
    await expectClose(scatterReduce(x, 0, none, zeros([0, 2], { device }), 'amin', { includeSelf: false }), [1, 2, 3, 4]);
    await expectClose(gather(x, 0, none), [], { shape: [0, 2] });
    await expectClose(indexSelect(zeros([0, 3], { device }), 1, tensor([2, 0], { dtype: 'int32', device })), [], { shape: [0, 2] });
  });

  itTidy('scatter keeps the last of repeated targets, on both devices', async () => {
    const out = scatter(zeros([3], { device }), 0, tensor([1, 1, 2, 1], { dtype: 'int32', device }), tensor([5, 6, 7, 8], { device }));
    await expectClose(out, [0, 8, 7], { atol: 0, rtol: 0 });
  });

  itTidy('scatterAdd is bit-identical from run to run', async () => {
    const N = 500;
    const E = 6000;
    const F = 8;
    const x = zeros([N, F], { device });
    const idx = tensor(Array.from(seeded(E, 21), (v) => Math.floor(((v + 1) / 2) * N)), { dtype: 'int32', device, shape: [E, 1] }).expand([E, F]);
    const src = tensor(Array.from(seeded(E * F, 22), (v) => v * 1000), { device, shape: [E, F] });
    const a = await scatterAdd(x, 0, idx, src).data();
    const b = await scatterAdd(x, 0, idx, src).data();
    expect(Buffer.from(a.buffer).equals(Buffer.from(b.buffer))).toBe(true);
  });

  itTidy('scatterAdd of rows by an index expanded over trailing dims (rank 3, contiguous and permuted src, int32)', async () => {
    const E = 37;
    const N = 9;
    const ids = Array.from(seeded(E, 81), (v) => Math.floor(((v + 1) / 2) * N) % N);
    const index = T.expand(T.reshape(tensor(ids, { dtype: 'int32', device }), [E, 1, 1]), [E, 3, 2]);
    const vals = Array.from(seeded(E * 6, 82), (v) => Math.round(v * 8));
    for (const dtype of ['float32', 'int32'] as const) {
      const x = tensor(Array.from(seeded(N * 6, 83), (v) => Math.round(v * 8)), { dtype, device, shape: [N, 3, 2] });
      const xs = Array.from(await x.data());
      const srcs = [tensor(vals, { dtype, device, shape: [E, 3, 2] }), T.permute(tensor(vals, { dtype, device, shape: [E, 2, 3] }), [0, 2, 1])];
      for (const src of srcs) {
        const sv = Array.from(await src.contiguous().data());
        const want = [...xs];
        for (let e = 0; e < E; e++) for (let j = 0; j < 6; j++) want[ids[e] * 6 + j] += sv[e * 6 + j];
        await expectClose(scatterAdd(x, 0, index, src), want, { dtype, atol: 0, rtol: 0, shape: [N, 3, 2] });
      }
    }
  });

  itTidy('matches a float64 reference on a Cora-sized graph (2,708 nodes, 10,556 edges, 16 features)', async () => {
    const N = 2708;
    const E = 10556;
    const F = 16;
    const dst = Int32Array.from(seeded(E, 31), (v) => Math.floor(((v + 1) / 2) * N));
    const feat = seeded(E * F, 32);
    const ref = new Float64Array(N * F);
    for (let e = 0; e < E; e++) for (let f = 0; f < F; f++) ref[dst[e] * F + f] += feat[e * F + f];
    const idx = tensor(dst, { dtype: 'int32', device, shape: [E, 1] }).expand([E, F]);
    const out = scatterAdd(zeros([N, F], { device }), 0, idx, tensor(feat, { device, shape: [E, F] }));
    await expectClose(out, ref, { atol: 1e-4, rtol: 1e-4 });
    const mean = scatterReduce(zeros([N, F], { device }), 0, idx, tensor(feat, { device, shape: [E, F] }), 'mean', { includeSelf: false });
    const count = new Float64Array(N);
    for (const d of dst) count[d]++;
    await expectClose(mean, ref.map((v, k) => (count[Math.floor(k / F)] ? v / count[Math.floor(k / F)] : 0)), { atol: 1e-5, rtol: 1e-4 });
  });

  itTidy('runs past one dispatch (4.2M+ threads: output of 4,194,400 elements)', async () => {
    const n = 65536 * 64 + 96;
    const targets = [0, 17, n - 1, 4194303, 4194304, n - 1];
    const out = scatterAdd(zeros([n], { device }), 0, tensor(targets, { dtype: 'int32', device }), tensor([1, 2, 3, 4, 5, 6], { device }));
    const d = await out.data();
    expect([d[0], d[17], d[4194303], d[4194304], d[n - 1], d[n - 2]]).toEqual([1, 2, 4, 5, 9, 0]);
    let total = 0;
    for (let i = 0; i < n; i++) total += d[i];
    expect(total).toBe(21);
    const back = indexSelect(out, 0, tensor(Int32Array.from({ length: n }, (_, i) => n - 1 - i), { dtype: 'int32', device }));
    const r = await back.data();
    expect([r[0], r[n - 1], r[n - 18], r[1]]).toEqual([9, 1, 2, 0]);
    out.dispose();
    back.dispose();
  });

  itTidy('keeps memory flat over repeated use', async () => {
    const x = tensor(Array.from(seeded(24, 5)), { device, shape: [6, 4] });
    const idx = tensor([[0, 5, 5, 2], [1, 1, 0, 2]], { dtype: 'int32', device });
    const ids = tensor([0, 0, 2, 2, 3, 5], { dtype: 'int32', device });
    const step = () => tidy(() => {
      gather(x, 0, idx);
      indexSelect(x, 1, tensor([3, 0], { dtype: 'int32', device }));
      scatter(x, 0, idx, 1.5);
      for (const r of ['sum', 'mean', 'amax', 'amin', 'prod'] as const) scatterReduce(x, 0, idx, x, r, { includeSelf: false });
      segmentSum(x, ids, 7);
      segmentMean(x, ids, 7);
      segmentMax(x, ids, 7);
      segmentMin(x, ids, 7);
      segmentSoftmax(x, ids, 7);
      segmentSumCsr(x, tensor([0, 2, 2, 6], { dtype: 'int32', device }));
    });
    step();
    await sync();
    const before = memory();
    for (let i = 0; i < 50; i++) step();
    await sync();
    const after = memory();
    expect(after.tensors).toBe(before.tensors);
    expect(after.bytes).toBe(before.bytes);
  });
});

forEachBackend('segment reductions', (device) => {
  const E = 300;
  const numSegments = 40;
  const F = 6;
  const ids = sortedIds(E, numSegments);
  const src = seeded(E * F, 41);

  for (const op of ['sum', 'mean', 'max', 'min'] as const) {
    itTidy(`segment ${op} matches brute force and scatterReduce`, async () => {
      const s = tensor(src, { device, shape: [E, 2, 3] });
      const index = tensor(ids, { dtype: 'int32', device });
      const ref = segmentRef(src, ids, numSegments, F, op);
      const fn = { sum: segmentSum, mean: segmentMean, max: segmentMax, min: segmentMin }[op];
      const r = fn(s, index, numSegments);
      const values = 'argIndices' in r ? r.values : r;
      await expectClose(values, ref.values, { shape: [numSegments, 2, 3], atol: 1e-5, rtol: 1e-5 });
      if ('argIndices' in r) await expectClose(r.argIndices, ref.args, { dtype: 'int32', atol: 0, rtol: 0 });
      // The same numbers from scatterReduce with the index broadcast over features (empty segments keep 0).
      const reduce = { sum: 'sum', mean: 'mean', max: 'amax', min: 'amin' }[op] as ScatterReduceOp;
      const viaScatter = scatterReduce(zeros([numSegments, 2, 3], { device }), 0, index.reshape([E, 1, 1]).expand([E, 2, 3]), s, reduce, { includeSelf: false });
      await expectClose(values, await viaScatter.array(), { atol: 1e-5, rtol: 1e-5 });
    });
  }

  itTidy('segmentSoftmax normalises within each segment', async () => {
    const s = tensor(src, { device, shape: [E, F] });
    const out = segmentSoftmax(s, tensor(ids, { dtype: 'int32', device }), numSegments);
    const ref = new Float64Array(E * F);
    for (let seg = 0; seg < numSegments; seg++) {
      const rows = [...ids.keys()].filter((e) => ids[e] === seg);
      for (let f = 0; f < F; f++) {
        const m = Math.max(...rows.map((e) => src[e * F + f]));
        const z = rows.reduce((u, e) => u + Math.exp(src[e * F + f] - m), 0);
        for (const e of rows) ref[e * F + f] = Math.exp(src[e * F + f] - m) / z;
      }
    }
    await expectClose(out, ref, { shape: [E, F], atol: 1e-6, rtol: 1e-5 });
  });

  itTidy('segmentSumCsr agrees with segmentSum; int32 and float64 where the device has them', async () => {
    const ptr = new Int32Array(numSegments + 1);
    for (let s = 0; s <= numSegments; s++) ptr[s] = ids.findIndex((v) => v >= s) === -1 ? E : ids.findIndex((v) => v >= s);
    const s = tensor(src, { device, shape: [E, F] });
    const a = segmentSumCsr(s, tensor(ptr, { dtype: 'int32', device }));
    await expectClose(a, await segmentSum(s, tensor(ids, { dtype: 'int32', device }), numSegments).array(), { atol: 1e-6, rtol: 1e-6 });
    const ints = tensor([5, -2, 7, 1], { dtype: 'int32', device });
    const seg = tensor([0, 0, 2, 2], { dtype: 'int32', device });
    await expectClose(segmentSum(ints, seg, 3), [3, 0, 8], { dtype: 'int32' });
    const mx = segmentMax(ints, seg, 3);
    await expectClose(mx.values, [5, 0, 7], { dtype: 'int32' });
    await expectClose(mx.argIndices, [0, 4, 2]);
    if (device === 'cpu') {
      await expectClose(segmentMean(tensor([1, 2, 4], { dtype: 'float64', device }), tensor([0, 0, 1], { dtype: 'int32', device }), 2), [1.5, 4], { dtype: 'float64' });
    }
  });

  itTidy('takes non-contiguous src and gives ties to the first row', async () => {
    const base = tensor([[3, 1, 3], [1, 3, 2]], { device });
    const r = segmentMax(transpose(base, 0, 1), tensor([0, 0, 0], { dtype: 'int32', device }), 1); // rows [3,1] [1,3] [3,2]
    await expectClose(r.values, [3, 3]);
    await expectClose(r.argIndices, [0, 1]);
  });

  itTidy('rejects bad segment inputs', () => {
    const s = tensor([[1], [2], [3]], { device });
    const ids3 = tensor([0, 1, 1], { dtype: 'int32', device });
    expect(() => segmentSum(s, tensor([0, 1], { dtype: 'int32', device }), 2)).toThrow(/segmentSum: expected index of shape \[3\]/);
    expect(() => segmentSum(s, tensor([0, 1, 1], { device }), 2)).toThrow(/segmentSum: expected index of dtype int32/);
    expect(() => segmentSum(s, ids3, -1)).toThrow(/segmentSum: numSegments/);
    expect(() => segmentMean(s.int(), ids3, 2)).toThrow(/segmentMean: expected src dtype/);
    expect(() => segmentSumCsr(s, tensor([0, 1], { dtype: 'float32', device }))).toThrow(/segmentSumCsr: expected ptr of dtype int32/);
    if (device === 'cpu') {
      expect(() => segmentSum(s, tensor([1, 0, 1], { dtype: 'int32', device }), 2)).toThrow(/segmentSum: index must be sorted/);
      expect(() => segmentMax(s, tensor([0, 1, 2], { dtype: 'int32', device }), 2)).toThrow(/segmentMax: segment id 2 is out of range/);
      expect(() => segmentSumCsr(s, tensor([0, 4], { dtype: 'int32', device }))).toThrow(/segmentSumCsr: ptr must be non-decreasing/);
    }
  });

  itTidy('leaves out-of-range segment ids out on webgpu (documented), throws on cpu', async () => {
    const s = tensor([[1], [2], [3], [4]], { device });
    const ids4 = tensor([-1, 0, 0, 5], { dtype: 'int32', device });
    if (device === 'cpu') expect(() => segmentSum(s, ids4, 2)).toThrow(/segmentSum/);
    else {
      await expectClose(segmentSum(s, ids4, 2), [5, 0]);
      await expectClose(segmentSoftmax(s, ids4, 2), [0, 1 / (1 + Math.E), Math.E / (1 + Math.E), 0]);
    }
  });
});

forEachBackend('indexing bad inputs', (device) => {
  const x2x3 = () => tensor([[1, 2, 3], [4, 5, 6]], { device });

  itTidy('names the op and what was expected', () => {
    const x = x2x3();
    const idx = tensor([[0, 1, 0]], { dtype: 'int32', device });
    expect(() => indexSelect(x, 0, tensor([0], { device }))).toThrow(/indexSelect: expected index of dtype int32, received float32/);
    expect(() => indexSelect(x, 2, tensor([0], { dtype: 'int32', device }))).toThrow(/indexSelect: dim 2 is out of range/);
    expect(() => indexSelect(x, 0, idx)).toThrow(/indexSelect: expected index of rank 0 or 1/);
    expect(() => gather(x, 0, tensor([0, 1], { dtype: 'int32', device }))).toThrow(/gather: expected index of rank 2/);
    expect(() => gather(x, 0, tensor([[0, 1, 0, 1]], { dtype: 'int32', device }))).toThrow(/gather: expected index .* received index shape \[1, 4\]/);
    expect(() => scatter(x, 0, idx, tensor([[1, 2]], { device }))).toThrow(/scatter: expected src of rank 2 at least as large as index \[1, 3\]/);
    expect(() => scatter(x, 0, idx, tensor([[1, 2, 3]], { dtype: 'int32', device }))).toThrow(/scatter: expected src of dtype float32/);
    expect(() => scatterAdd(x, 0, idx, 1 as unknown as Tensor)).toThrow(/scatterAdd: expected src to be a Tensor/);
    expect(() => scatterReduce(x, 0, idx, x, 'max' as ScatterReduceOp)).toThrow(/scatterReduce: reduce must be one of/);
    expect(() => scatterAdd(x.bool(), 0, idx, x.bool())).toThrow(/scatterAdd: expected input dtype in/);
    expect(() => gather(null as unknown as Tensor, 0, idx)).toThrow(/gather: expected input to be a Tensor/);
  });

  itTidy('rejects tensors on different devices', async () => {
    if (device === 'cpu') return;
    const x = x2x3();
    const cpuIdx = tensor([0], { dtype: 'int32', device: 'cpu' });
    expect(() => indexSelect(x, 0, cpuIdx)).toThrow(/indexSelect: expected all tensors on one device/);
  });

  itTidy('throws for out-of-range indices: on cpu at the call, on webgpu at the next read (then reads work again)', async () => {
    const x = x2x3();
    const bad = tensor([[0, 2, -1]], { dtype: 'int32', device });
    if (device === 'cpu') {
      expect(() => gather(x, 0, bad)).toThrow(/gather: index 2 is out of range for dim 0 of size 2/);
      expect(() => indexSelect(x, 1, tensor([3], { dtype: 'int32', device }))).toThrow(/indexSelect: index 3 is out of range/);
      expect(() => scatterAdd(x, 0, bad, x)).toThrow(/scatterAdd: index 2 is out of range/);
      // the check walks views in place: a transposed index, an offset slice and an expanded one
      const base = tensor([[0, 1], [1, 7]], { dtype: 'int32', device });
      const tr = transpose(base, 0, 1); // the 7 sits at a strided position
      expect(() => gather(tensor([[1, 2], [3, 4]], { device }), 0, tr)).toThrow(/gather: index 7 is out of range for dim 0 of size 2/);
      const tail = T.narrow(base, 0, 1, 1); // [[1, 7]], offset 2
      expect(() => indexSelect(x, 1, T.reshape(tail, [2]))).toThrow(/indexSelect: index 7 is out of range/);
      const fine = T.narrow(base, 0, 0, 1); // [[0, 1]]: the bad row is outside the view
      await expectClose(gather(x, 0, T.expand(fine, [2, 2])), [1, 5, 1, 5]);
      expect(() => gather(x, 0, T.expand(T.narrow(transpose(base, 0, 1), 1, 1, 1), [2, 3]))).toThrow(/gather: index 7 is out of range/);
      base.dispose();
    } else {
      const ok = tensor([1, 2], { device });
      await expect(gather(x, 0, bad).data()).rejects.toThrow(/gather: index (2|-1) is out of range for a dimension of size 2 .*webgpu device/);
      await expectClose(ok, [1, 2]); // the report is cleared
      // reported by a later read of another tensor, too
      const y = indexSelect(x, 1, tensor([3, 0], { dtype: 'int32', device }));
      await expect(ok.data()).rejects.toThrow(/indexSelect: index 3 is out of range for a dimension of size 3/);
      y.dispose();
      await expect(scatterAdd(x, 0, bad, tensor([[10, 20, 30]], { device })).data()).rejects.toThrow(/scatterAdd: index (2|-1) is out of range for a dimension of size 2/);
      await expect(scatterReduce(x, 0, tensor([[5, 0, 0]], { dtype: 'int32', device }), x, 'amax').data()).rejects.toThrow(/scatterReduce: index 5 is out of range/);
      await expectClose(gather(x, 0, tensor([[1, 0, 1]], { dtype: 'int32', device })), [4, 2, 6]);
    }
  });
});

describe('indexing fixture', () => {
  it('covers every reduce with includeSelf both ways', () => {
    const names = cases.filter((c) => c.op === 'scatterReduce').map((c) => `${(c.params as { reduce: string }).reduce}/${(c.params as { includeSelf: boolean }).includeSelf}`);
    expect(new Set(names).size).toBe(10);
  });
});
