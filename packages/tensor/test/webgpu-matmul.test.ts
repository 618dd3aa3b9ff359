/**
 * The webgpu GEMM kernels against float64 products on the cpu: every kernel family (packed,
 * direct, portable), tile size, vec4 and scalar operand paths, orientation, split-K, odd sizes,
 * strided, flipped and offset views and broadcast batches. Each case runs once per kernel family
 * the adapter can use (subgroup kernels where it has 8-lane subgroups, the portable ones always).
 */
import { afterAll, describe, expect, it } from 'vitest';
import * as T from '../src/index.js';
import { planGemm, type GemmPlan, type GemmProblem } from '../src/webgpu/matmul.js';
import { relayout, type Layout } from './core.js';
import { BACKENDS, expectFlatMemory, seeded64, useDevices } from './helpers.js';

interface Case {
  m: number;
  k: number;
  n: number;
  batch?: number;
  /** A given as the transpose of a contiguous [k, m] tensor (and likewise B as [n, k]). */
  ta?: boolean;
  tb?: boolean;
  /** A (or B) broadcast over the batch (batch stride 0). */
  a0?: boolean;
  b0?: boolean;
  /** What the subgroup planner must choose for this case. */
  plan?: Partial<Pick<GemmPlan, 'kind' | 'swapped' | 'packA' | 'packB' | 'bVec' | 'cVec'>> & { tm?: number; split?: boolean };
}

const CASES: Case[] = [
  { m: 5, k: 37, n: 64, plan: { kind: 'direct', tm: 8, bVec: true, cVec: true, swapped: false, split: false } },
  { m: 37, k: 53, n: 29, plan: { kind: 'direct', tm: 16, bVec: false, cVec: false, swapped: false } },
  { m: 40, k: 30, n: 29, ta: true, tb: true, plan: { kind: 'direct', swapped: true, bVec: true, cVec: false } },
  { m: 300, k: 40, n: 6, plan: { kind: 'direct', tm: 8, swapped: true, bVec: false } },
  { m: 16, k: 3000, n: 40, plan: { kind: 'direct', tm: 16, split: true, cVec: true } },
  { m: 3, k: 5000, n: 3, plan: { kind: 'direct', split: true, cVec: false } },
  { m: 1024, k: 80, n: 1028, plan: { kind: 'packed', packA: true, packB: false, cVec: true } },
  { m: 1024, k: 80, n: 1028, ta: true, plan: { kind: 'packed', packA: false, packB: false } },
  { m: 1024, k: 80, n: 1028, tb: true, plan: { kind: 'packed', packA: true, packB: true } },
  { m: 1027, k: 67, n: 1027, plan: { kind: 'packed', packA: true, packB: true, cVec: false } },
  { m: 96, k: 80, n: 72, plan: { kind: 'direct' } },
  { m: 2708, k: 143, n: 64, plan: { kind: 'direct' } },
  { m: 64, k: 4096, n: 64, plan: { kind: 'direct', split: true } },
  { m: 1024, k: 64, n: 1024, batch: 2, a0: true, plan: { kind: 'packed' } },
  { m: 33, k: 17, n: 65, batch: 4, b0: true, plan: { kind: 'direct', bVec: false } },
  { m: 7, k: 9, n: 12, batch: 5, tb: true },
  // odd sizes around the tile edges
  ...[[1, 1, 1], [2, 3, 5], [8, 8, 8], [9, 15, 17], [17, 31, 33], [31, 2, 63], [63, 64, 65], [65, 7, 1], [1, 67, 66], [66, 1, 67]].map(([m, k, n]) => ({ m, k, n })),
];

const name = (c: Case) => `${c.batch ?? 1}x[${c.m}x${c.k}]@[${c.k}x${c.n}]${c.ta ? ' Aᵀ' : ''}${c.tb ? ' Bᵀ' : ''}${c.a0 ? ' A broadcast' : ''}${c.b0 ? ' B broadcast' : ''}`;

/** An operand [batch, rows, cols] with seeded values, transposed in memory or broadcast over the batch as asked. */
function operand(c: Case, which: 'a' | 'b', device: T.DeviceName, dtype: T.DType): T.Tensor {
  const [rows, cols] = which === 'a' ? [c.m, c.k] : [c.k, c.n];
  const batch = c.batch ?? 1;
  const bcast = which === 'a' ? c.a0 : c.b0;
  const trans = which === 'a' ? c.ta : c.tb;
  const copies = bcast ? 1 : batch;
  const data = seeded64(copies * rows * cols, which === 'a' ? 11 : 23);
  return T.tidy(() => {
    let t = T.tensor(data, { dtype, device, shape: trans ? [copies, cols, rows] : [copies, rows, cols] });
    if (trans) t = T.transpose(t, 1, 2);
    return bcast ? T.expand(t, [batch, rows, cols]) : t;
  });
}

/** The kernel problem that matmul builds for a case (views as the frontend passes them). */
function problemOf(c: Case): GemmProblem {
  const { m, k, n } = c;
  const batch = c.batch ?? 1;
  const a = c.ta ? { off: 0, sb: m * k, si: 1, sj: m } : { off: 0, sb: m * k, si: k, sj: 1 };
  const b = c.tb ? { off: 0, sb: k * n, si: 1, sj: k } : { off: 0, sb: k * n, si: n, sj: 1 };
  if (c.a0) a.sb = 0;
  if (c.b0) b.sb = 0;
  return { batch, m, n, k, a, b, c: { off: 0, sb: m * n, si: n, sj: 1 } };
}

async function expectProduct(y: T.Tensor, c: Case): Promise<void> {
  const ref = T.matmul(operand(c, 'a', 'cpu', 'float64'), operand(c, 'b', 'cpu', 'float64'));
  const want = await ref.data();
  const got = await y.data();
  expect([...y.shape]).toEqual([...ref.shape]);
  // |values| < 1: the float32 error grows at most linearly with k
  const tol = 1e-5 + 2e-7 * c.k;
  const bad: string[] = [];
  for (let i = 0; i < want.length; i++) if (!(Math.abs(got[i] - want[i]) <= tol) && bad.length < 5) bad.push(`[${i}] ${got[i]} vs ${want[i]}`);
  expect(bad, `mismatches (tolerance ${tol})`).toEqual([]);
  ref.dispose();
}

describe('planGemm (subgroup kernels)', () => {
  for (const c of CASES.filter((x) => x.plan)) {
    it(`${name(c)} plans ${JSON.stringify(c.plan)}`, () => {
      const p = planGemm(true, problemOf(c));
      const { tm, split, ...rest } = c.plan!;
      expect(p).toMatchObject(rest);
      if (tm !== undefined) expect(p.tiling.tm).toBe(tm);
      if (split !== undefined) expect(p.tiling.splits > 1).toBe(split);
      // tiles cover the output
      const cols = p.tiling.tilesX * p.tiling.sgx * 32;
      const rows = p.tiling.tilesY * (8 / p.tiling.sgx) * p.tiling.tm;
      expect(cols).toBeGreaterThanOrEqual(p.problem.n);
      expect(rows).toBeGreaterThanOrEqual(p.problem.m);
      expect(p.tiling.splits * p.tiling.kChunk).toBeGreaterThanOrEqual(p.problem.k);
    });
  }

  it('plans the portable kernel without subgroups, splitting long reductions', () => {
    const p = planGemm(false, problemOf({ m: 20, k: 20000, n: 20 }));
    expect(p.kind).toBe('portable');
    expect(p.tiling.splits).toBeGreaterThan(1);
  });
});

if (BACKENDS.includes('webgpu')) {
  useDevices();
  const families = (): ('subgroups' | 'portable')[] => (T.webgpuBackend()!.subgroups8 ? ['subgroups', 'portable'] : ['portable']);

  describe('webgpu matmul kernels', () => {
    let original: boolean | undefined;
    const use = (family: 'subgroups' | 'portable') => {
      const gpu = T.webgpuBackend()!;
      original ??= gpu.subgroups8;
      gpu.subgroups8 = family === 'subgroups';
    };
    afterAll(() => {
      if (original !== undefined) T.webgpuBackend()!.subgroups8 = original;
    });

    it('finds 8-lane subgroups on lavapipe (the fast kernels are the ones tested)', () => {
      const gpu = T.webgpuBackend()!;
      if (/llvmpipe/i.test(gpu.adapterInfo.description ?? '')) expect(gpu.subgroups8).toBe(true);
    });

    for (const c of CASES) {
      it(`matches float64 on ${name(c)}`, async () => {
        for (const family of families()) {
          use(family);
          const a = operand(c, 'a', 'webgpu', 'float32');
          const b = operand(c, 'b', 'webgpu', 'float32');
          const y = T.matmul(a, b);
          await expectProduct(y, c);
          T.dispose([a, b, y]);
        }
      });
    }

    for (const layout of ['transposed', 'flipped', 'strided'] as Layout[]) {
      for (const c of [{ m: 70, k: 66, n: 68 }, { m: 13, k: 29, n: 40 }] as Case[]) {
        it(`reads ${layout} operands (${name(c)})`, async () => {
          for (const family of families()) {
            use(family);
            const a = operand(c, 'a', 'webgpu', 'float32');
            const b = operand(c, 'b', 'webgpu', 'float32');
            const [ra, rb] = [relayout(a, layout), relayout(b, layout)];
            const y = T.matmul(ra, rb);
            await expectProduct(y, c);
            T.dispose([a, b, ra, rb, y]);
          }
        });
      }
    }

    it('reads views at odd offsets (narrowed operands)', async () => {
      const c: Case = { m: 70, k: 65, n: 66 };
      for (const family of families()) {
        use(family);
        const a = operand(c, 'a', 'webgpu', 'float32');
        const b = operand(c, 'b', 'webgpu', 'float32');
        // the same values one element into a wider buffer: offset 1, row stride cols + 1
        const wide = (t: T.Tensor) => T.tidy(() => T.narrow(T.pad(t, [1, 0]), -1, 1, t.shape[2]));
        const [wa, wb] = [wide(a), wide(b)];
        expect(wa.offset % 4).not.toBe(0);
        const y = T.matmul(wa, wb);
        await expectProduct(y, c);
        T.dispose([a, b, wa, wb, y]);
      }
    });

    it('keeps memory flat over the split-K path', () => {
      const a = T.rand([64, 2048], { device: 'webgpu' });
      const b = T.rand([2048, 72], { device: 'webgpu' });
      const step = () => T.tidy(() => {
        T.matmul(a, b);
      });
      expectFlatMemory(step, 5);
      T.dispose([a, b]);
    });
  });
}
