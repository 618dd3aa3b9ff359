import { expect, it } from 'vitest';
import { memory, sparseCooTensor, spmm, sync, tensor, tidy, transpose, zeros, type SparseTensor } from '../src/index.js';
import { expectClose, forEachBackend, fromFixture, loadFixture, seeded } from './helpers.js';

/** it() with the body in an async tidy: the tensors a test creates are freed when it ends, so memory checks see no garbage. */
const itTidy = (name: string, body: () => Promise<void> | void) => it(name, () => tidy(async () => { await body(); }));

const golden = (await loadFixture('indexing')).find((c) => c.op === 'sparse')!;

/** A random [n, m] COO matrix with repeated coordinates, and its dense float64 form. */
function randomCoo(n: number, m: number, nnz: number, seed: number) {
  const rows = Int32Array.from(seeded(nnz, seed), (v) => Math.floor(((v + 1) / 2) * n));
  const cols = Int32Array.from(seeded(nnz, seed + 1), (v) => Math.floor(((v + 1) / 2) * m));
  const vals = seeded(nnz, seed + 2);
  const dense = new Float64Array(n * m);
  for (let j = 0; j < nnz; j++) dense[rows[j] * m + cols[j]] += vals[j];
  const indices = new Int32Array(2 * nnz);
  indices.set(rows);
  indices.set(cols, nnz);
  return { indices, vals, dense };
}

forEachBackend('sparse COO', (device) => {
  const fromGolden = () => {
    const [idx, vals] = golden.inputs.map((f) => fromFixture(f, device));
    return sparseCooTensor(idx, vals, [6, 5]);
  };

  itTidy('toDense, spmm and transpose match PyTorch', async () => {
    const sp = fromGolden();
    const dense = fromFixture(golden.inputs[2], device);
    const [toDense, , , mm, tDense] = golden.expected;
    await expectClose(sp.toDense(), toDense.data as number[], { shape: [6, 5] });
    await expectClose(spmm(sp, dense), mm.data as number[], { shape: [6, 3], atol: 1e-5, rtol: 1e-5 });
    await expectClose(sp.matmul(dense), mm.data as number[], { atol: 1e-5, rtol: 1e-5 });
    const t = sp.transpose();
    expect([...t.shape]).toEqual([5, 6]);
    await expectClose(t.toDense(), tDense.data as number[], { shape: [5, 6] });
    t.dispose();
    sp.dispose();
  });

  itTidy('coalesce sorts and sums duplicates like PyTorch', async () => {
    const sp = fromGolden();
    const co = await sp.coalesce();
    expect(co.isCoalesced()).toBe(true);
    expect(sp.isCoalesced()).toBe(false);
    await expectClose(co.indices, golden.expected[1].data as number[], { shape: golden.expected[1].shape, dtype: 'int32' });
    await expectClose(co.values, golden.expected[2].data as number[], { atol: 1e-6, rtol: 1e-6 });
    co.dispose();
    sp.dispose();
  });

  itTidy('toCsr groups by row, keeping entry order within a row', async () => {
    const sp = sparseCooTensor(tensor([[2, 0, 2, 1, 0], [1, 3, 0, 2, 0]], { dtype: 'int32', device }), tensor([1, 2, 3, 4, 5], { device }), [4, 4]);
    const csr = sp.toCsr();
    await expectClose(csr.rowPtr, [0, 2, 3, 5, 5], { dtype: 'int32' });
    await expectClose(csr.colIndices, [3, 0, 2, 1, 0], { dtype: 'int32' });
    await expectClose(csr.values, [2, 5, 4, 1, 3]);
    for (const t of Object.values(csr)) t.dispose();
    sp.dispose();
  });

  itTidy('spmm takes a non-contiguous dense operand and empty matrices', async () => {
    const sp = fromGolden();
    const denseT = transpose(fromFixture(golden.inputs[2], device).contiguous().reshape([3, 5]).contiguous(), 0, 1); // [5, 3] view
    const ref = spmm(sp, denseT.contiguous());
    await expectClose(spmm(sp, denseT), await ref.array(), { atol: 0, rtol: 0 });
    const empty = sparseCooTensor(zeros([2, 0], { dtype: 'int32', device }), zeros([0], { device }), [3, 5]);
    await expectClose(spmm(empty, denseT), new Array(9).fill(0), { shape: [3, 3] });
    await expectClose(empty.toDense(), new Array(15).fill(0));
    const co = await empty.coalesce();
    expect(co.nnz).toBe(0);
    co.dispose();
    empty.dispose();
    sp.dispose();
  });

  itTidy('matches a float64 reference on a Cora-sized adjacency (2,708 nodes, 10,556 edges, 16 features)', async () => {
    const N = 2708;
    const F = 16;
    const { indices, vals, dense } = randomCoo(N, N, 10556, 51);
    const x = seeded(N * F, 54);
    const ref = new Float64Array(N * F);
    for (let r = 0; r < N; r++) {
      for (let c = 0; c < N; c++) {
        const a = dense[r * N + c];
        if (a !== 0) for (let f = 0; f < F; f++) ref[r * F + f] += a * x[c * F + f];
      }
    }
    const sp = sparseCooTensor(tensor(indices, { dtype: 'int32', device, shape: [2, 10556] }), tensor(vals, { device }), [N, N]);
    await expectClose(spmm(sp, tensor(x, { device, shape: [N, F] })), ref, { atol: 1e-4, rtol: 1e-4 });
    const co = await sp.coalesce();
    await expectClose(spmm(co, tensor(x, { device, shape: [N, F] })), ref, { atol: 1e-4, rtol: 1e-4 });
    co.dispose();
    sp.dispose();
  });

  itTidy('rejects bad inputs with the op name', async () => {
    const idx = tensor([[0, 1], [1, 0]], { dtype: 'int32', device });
    const vals = tensor([1, 2], { device });
    expect(() => sparseCooTensor(tensor([[0, 1], [1, 0]], { device }), vals, [2, 2])).toThrow(/sparseCooTensor: expected indices of dtype int32/);
    expect(() => sparseCooTensor(tensor([0, 1], { dtype: 'int32', device }), vals, [2, 2])).toThrow(/sparseCooTensor: expected indices of shape \[2, nnz\]/);
    expect(() => sparseCooTensor(idx, tensor([1, 2, 3], { device }), [2, 2])).toThrow(/sparseCooTensor: expected values of shape \[2\]/);
    expect(() => sparseCooTensor(idx, vals.bool(), [2, 2])).toThrow(/sparseCooTensor: expected values dtype/);
    expect(() => sparseCooTensor(idx, vals, [2])).toThrow(/sparseCooTensor: expected shape \[n, m\]/);
    const sp = sparseCooTensor(idx, vals, [2, 2]);
    expect(() => spmm(sp, zeros([3, 2], { device }))).toThrow(/spmm: expected dense of shape \[2, k\] .* received \[3, 2\]/);
    expect(() => spmm(sp, zeros([2, 2], { dtype: 'int32', device }))).toThrow(/spmm: expected dense of dtype float32/);
    expect(() => spmm({} as SparseTensor, zeros([2, 2], { device }))).toThrow(/spmm: expected a SparseTensor/);
    const outOfRange = tensor([[0, 2], [1, 0]], { dtype: 'int32', device });
    if (device === 'cpu') expect(() => sparseCooTensor(outOfRange, vals, [2, 2])).toThrow(/sparseCooTensor: entry 1 at \(2, 0\) is out of range/);
    else {
      // Unchecked on webgpu at construction (documented): ignored by toDense, reported by spmm's
      // CSR build at the next read, rejected by coalesce.
      const bad = sparseCooTensor(outOfRange, vals, [2, 2]);
      await expectClose(bad.toDense(), [0, 1, 0, 0]);
      await expect(spmm(bad, tensor([[1], [10]], { device })).data()).rejects.toThrow(/toCsr: index 2 is out of range for a dimension of size 2/);
      await expect(bad.coalesce()).rejects.toThrow(/coalesce: entry 1 at \(2, 0\) is out of range/);
      bad.dispose();
    }
    sp.dispose();
    expect(() => sp.toDense()).toThrow(/toDense: the sparse tensor has been disposed/);
    if (device !== 'cpu') {
      const onCpu = sparseCooTensor(tensor([[0], [0]], { dtype: 'int32', device: 'cpu' }), tensor([1], { device: 'cpu' }), [1, 1]);
      expect(() => spmm(onCpu, zeros([1, 1], { device }))).toThrow(/spmm: expected all tensors on one device/);
      onCpu.dispose();
    }
  });

  itTidy('keeps memory flat, and dispose frees what the sparse tensor holds', async () => {
    const { indices, vals } = randomCoo(30, 20, 90, 61);
    const idx = tensor(indices, { dtype: 'int32', device, shape: [2, 90] });
    const v = tensor(vals, { device });
    const x = tensor(seeded(20 * 4, 62), { device, shape: [20, 4] });
    const step = async () => {
      const sp = sparseCooTensor(idx, v, [30, 20]);
      const co = await sp.coalesce();
      const ct = co.transpose();
      tidy(() => {
        spmm(sp, x);
        spmm(ct, zeros([30, 2], { device }));
        sp.toDense();
        co.toCsr();
      });
      for (const t of [sp, co, ct]) t.dispose();
    };
    await step();
    await sync();
    const before = memory();
    for (let i = 0; i < 50; i++) await step();
    await sync();
    const after = memory();
    expect(after.tensors).toBe(before.tensors);
    expect(after.bytes).toBe(before.bytes);
  });
});
