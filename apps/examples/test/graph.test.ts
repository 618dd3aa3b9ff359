import { describe, expect, it } from 'vitest';
import { runNodeClassification, type NodeRunResult } from '../src/lib/node-classification.js';
import { GCN_SPEC } from '../src/graph/gcn.js';
import { SGC_SPEC } from '../src/graph/sgc.js';
import { GAT_SPEC } from '../src/graph/gat.js';
import { KARATE_FLOOR, runKarate } from '../src/graph/karate.js';

/**
 * The graph reproductions in a reduced run (cpu, real Cora, public split, seeds 0 and 1).
 * The runner throws if T.memory() after any epoch exceeds its value after epoch 1; checked here too.
 * Budget: the cpu backend needs ≈ 0.1 s per GCN epoch and ≈ 0.2 s per GAT epoch on this machine,
 * so GCN runs 100 of its 200 epochs and GAT 400 of its ≤ 1,000 (the 10-seed run's best-validation
 * epochs of seeds 0 and 1 are 183 and 372, both 82.80 %), each against the paper's floor.
 */
/** GAT: the paper's 83.0 − 1.5. */
const GAT_FLOOR = 81.5;
const GAT_EPOCHS = 400;
const BASE = { dataset: 'Cora' as const, seeds: 2, device: 'cpu' as const, progress: false };

function expectFlat(r: NodeRunResult) {
  for (const s of r.seeds) for (const m of s.memory) expect(m).toEqual(s.memory[0]);
}

describe('graph reproductions (reduced, Cora, 2 seeds)', () => {
  it('GCN: mean test accuracy ≥ 80.0 % (paper 81.5 − 1.5) after 100 epochs', async () => {
    const r = await runNodeClassification(GCN_SPEC, { ...BASE, epochs: 100 });
    expect(r.seeds.map((s) => s.seed)).toEqual([0, 1]);
    expect(r.row.floor).toBeCloseTo(80.0, 6);
    expect(r.meanAccuracy).toBeGreaterThanOrEqual(80.0);
    expectFlat(r);
  }, 300_000);

  it('SGC: mean test accuracy ≥ 79.5 % (paper 81.0 − 1.5), full 100 epochs', async () => {
    const r = await runNodeClassification(SGC_SPEC, BASE);
    expect(r.meanAccuracy).toBeGreaterThanOrEqual(79.5);
    expectFlat(r);
  });

  it(`GAT: mean test accuracy ≥ ${GAT_FLOOR} % (paper 83.0 − 1.5) within ${GAT_EPOCHS} epochs`, async () => {
    const r = await runNodeClassification(GAT_SPEC, { ...BASE, epochs: GAT_EPOCHS });
    expect(r.meanAccuracy).toBeGreaterThanOrEqual(GAT_FLOOR);
    expectFlat(r);
  }, 600_000);

  it(`karate club: GCN classifies the 32 unlabelled members with ≥ ${KARATE_FLOOR} % accuracy`, async () => {
    const r = await runKarate({ seeds: 2, progress: false });
    expect(r.mean).toBeGreaterThanOrEqual(KARATE_FLOOR);
    for (const s of r.seeds) {
      expect(s.embedding).toHaveLength(34);
      for (const m of s.memory) expect(m).toEqual(s.memory[0]);
    }
  });
});
