import { describe, expect, it } from 'vitest';
import { runSageMinibatch } from '../src/graph/sage-minibatch.js';
import { runFastGcn } from '../src/graph/fastgcn.js';

/**
 * The sampling reproductions in a reduced run (cpu, real Cora, public split, seeds 0 and 1, no
 * baselines: their full runs are in the reports). Both runners throw if T.memory() after any
 * optimisation step exceeds its value after the first step; checked here too.
 */

/**
 * GraphSAGE with NeighborLoader mini-batches ([25, 10], 32 seeds per batch), 15 of its 100 epochs:
 * 81.0 / 81.0 % measured (seeds 0, 1; the same after 20 epochs). Floor: the full-graph model's
 * mean over 5 seeds, 80.82 % (sage-minibatch report, 100 epochs), minus the 1.5-point margin.
 */
const SAGE_FLOOR = 79.3;
const SAGE_EPOCHS = 15;

/**
 * FastGCN (t = 400, batch 70), 100 of its 200 epochs: 80.3 / 82.4 % measured (seeds 0, 1; their
 * best epochs are 74 and 79, so the full run gives the same). Floor: GCN's paper number 81.5 − 1.5,
 * the floor full-batch GCN meets in graph.test.ts (our full-batch GCN: 82.14 % over 5 seeds).
 */
const FASTGCN_FLOOR = 80.0;
const FASTGCN_EPOCHS = 100;

const flat = (memory: { tensors: number; bytes: number }[]) => {
  expect(memory.length).toBeGreaterThan(1);
  for (const m of memory) expect(m).toEqual(memory[0]);
};

describe('sampling reproductions (reduced, Cora, 2 seeds)', () => {
  it(`GraphSAGE with NeighborLoader mini-batches: mean test accuracy ≥ ${SAGE_FLOOR} % after ${SAGE_EPOCHS} epochs`, async () => {
    const r = await runSageMinibatch({ dataset: 'Cora', seeds: 2, epochs: SAGE_EPOCHS, device: 'cpu', progress: false, modes: ['mini-batch'] });
    const mb = r.results[0];
    expect(mb.mode).toBe('mini-batch');
    expect(mb.seeds.map((s) => s.seed)).toEqual([0, 1]);
    expect(mb.seeds[0].stepsPerEpoch).toBe(5); // 140 training nodes in batches of 32
    expect(mb.mean).toBeGreaterThanOrEqual(SAGE_FLOOR);
    for (const s of mb.seeds) flat(s.memory);
  }, 120_000);

  it(`FastGCN: mean test accuracy ≥ ${FASTGCN_FLOOR} % after ${FASTGCN_EPOCHS} epochs`, async () => {
    const r = await runFastGcn({ dataset: 'Cora', seeds: 2, epochs: FASTGCN_EPOCHS, device: 'cpu', progress: false, baseline: false });
    expect(r.fastgcn.seeds.map((s) => s.seed)).toEqual([0, 1]);
    expect(r.fastgcn.mean).toBeGreaterThanOrEqual(FASTGCN_FLOOR);
    for (const s of r.fastgcn.seeds) {
      flat(s.memory);
      expect(s.memory.length).toBe(2 * FASTGCN_EPOCHS); // 140 training nodes in batches of 70
      expect(s.stepBytes).toBeGreaterThan(0);
    }
  }, 120_000);
});
