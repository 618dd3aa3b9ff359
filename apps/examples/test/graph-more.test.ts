import { describe, expect, it } from 'vitest';
import * as T from '@tessera/tensor';
import { runNodeClassification, type NodeRunResult } from '../src/lib/node-classification.js';
import { runGraphClassification, stratifiedKFold } from '../src/lib/graph-classification.js';
import { GIN_SPEC } from '../src/graph/gin.js';
import { CHEB_SPEC } from '../src/graph/cheb.js';
import { SAGE_SPEC } from '../src/graph/sage.js';
import { DAGNN_SPEC } from '../src/graph/dagnn.js';
import { GWNN_SPEC } from '../src/graph/gwnn.js';

/**
 * Reduced runs of the ChebNet / GraphSAGE / DAGNN / GWNN / GIN reproductions (cpu, real data).
 * The runners throw if T.memory() after any epoch exceeds its value after epoch 1; checked here too.
 * The Cora runs use seed 0 and a fraction of the epochs, so their floors are below the papers'
 * (which need the full runs, see the reports): each floor is the accuracy measured for exactly this
 * run on this machine, rounded down, minus about 3 points, and stays above the 31.9 % of always
 * predicting Cora's most frequent test class.
 */
const CORA = { dataset: 'Cora' as const, seeds: [0], device: 'cpu' as const, progress: false };

/** Measured (seed 0): ChebNet 67.1 % after 10 epochs, GraphSAGE 79.1 % after 10, DAGNN 72.4 % after 20, GWNN 65.3 % after 10 (filters starting at ones, as the authors' code). */
const FLOORS = { cheb: 64, sage: 76, dagnn: 69, gwnn: 62 };

function expectFlat(memory: { tensors: number; bytes: number }[]) {
  for (const m of memory) expect(m).toEqual(memory[0]);
}

function expectNodeRun(r: NodeRunResult, floor: number) {
  expect(r.seeds).toHaveLength(1);
  expect(r.meanAccuracy).toBeGreaterThanOrEqual(floor);
  expectFlat(r.seeds[0].memory);
}

describe('stratifiedKFold', () => {
  it('partitions the indices into k folds of near-equal size with the class proportions, reproducibly', () => {
    const labels = Array.from({ length: 103 }, (_, i) => (i % 3 === 0 ? 1 : 0)); // 35 of class 1, 68 of class 0
    const folds = stratifiedKFold(labels, 10, new T.Generator(7));
    expect(folds.flat().sort((a, b) => a - b)).toEqual(labels.map((_, i) => i));
    const sizes = folds.map((f) => f.length);
    expect(Math.max(...sizes) - Math.min(...sizes)).toBeLessThanOrEqual(1);
    for (const f of folds) {
      const ones = f.filter((i) => labels[i] === 1).length;
      expect(ones === 3 || ones === 4).toBe(true);
    }
    expect(stratifiedKFold(labels, 10, new T.Generator(7))).toEqual(folds);
    expect(stratifiedKFold(labels, 10, new T.Generator(8))).not.toEqual(folds);
    expect(() => stratifiedKFold([0, 0, 1], 2, new T.Generator(0))).toThrow(/class 1 has 1 members, fewer than k = 2/);
  });
});

describe('graph classification (reduced): GIN-0 on MUTAG', () => {
  // Measured: 87.72 % (50 of 57 held-out graphs) at epoch 14; the full run is in the report.
  it('folds 0–2 of the 10-fold split, 15 of 350 epochs: fold-mean accuracy at the best epoch ≥ 83.8 % (paper 89.4 − 5.6)', async () => {
    const r = await runGraphClassification(GIN_SPEC, { dataset: 'MUTAG', folds: 10, foldIndices: [0, 1, 2], seeds: [0], epochs: 15, progress: false });
    expect(r.row.floor).toBeCloseTo(83.8, 6);
    expect(r.cv[0].folds.map((f) => f.testSize)).toEqual([19, 19, 19]);
    expect(r.row.accuracies).toHaveLength(3);
    expect(r.meanAccuracy).toBeGreaterThanOrEqual(83.8);
    for (const f of r.cv[0].folds) expectFlat(f.memory);
  }, 300_000);
});

describe('node classification (reduced, Cora public split, seed 0)', () => {
  it(`ChebNet (K = 3), 10 of 200 epochs: test accuracy ≥ ${FLOORS.cheb} %`, async () => {
    expectNodeRun(await runNodeClassification(CHEB_SPEC, { ...CORA, epochs: 10 }), FLOORS.cheb);
  }, 300_000);

  it(`GraphSAGE, 10 of 200 epochs: test accuracy ≥ ${FLOORS.sage} %`, async () => {
    expectNodeRun(await runNodeClassification(SAGE_SPEC, { ...CORA, epochs: 10 }), FLOORS.sage);
  }, 300_000);

  it(`DAGNN, 20 of ≤ 1,000 epochs: test accuracy ≥ ${FLOORS.dagnn} %`, async () => {
    expectNodeRun(await runNodeClassification(DAGNN_SPEC, { ...CORA, epochs: 20 }), FLOORS.dagnn);
  }, 300_000);

  it(`GWNN, wavelet bases + 10 of ≤ 1,000 epochs: test accuracy ≥ ${FLOORS.gwnn} %`, async () => {
    const r = await runNodeClassification(GWNN_SPEC, { ...CORA, epochs: 10 });
    expect(r.prepareSummary).toMatch(/ψ \d+ non-zeros/);
    expectNodeRun(r, FLOORS.gwnn);
  }, 300_000);
});
