import { describe, expect, it } from 'vitest';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { checkFlatMemory, parseGmnnCli, runGmnn } from '../src/graph/gmnn.js';

/**
 * GMNN in a reduced run: real Cora, public split, cpu, seed 0, 40 pre-training + 40 M-step + 40
 * E-step epochs (the full run uses 100 each). Measured at 40 epochs (seeds 0, 1, 2): GMNN 82.4,
 * 83.4, 81.5 %; q alone 82.5, 82.6, 80.5 %. The full 100-epoch run gave 83.1–83.2 % for seeds 0–2
 * (paper 83.7, released code 83.4 ± 0.8). The floor below is under the lowest of those.
 * ≈ 20 s of cpu time.
 */
const GMNN_FLOOR = 81.0;

describe('GMNN reproduction (reduced: Cora, seed 0, 40 + 40 + 40 epochs)', () => {
  it(`q after EM reaches ≥ ${GMNN_FLOOR} % test accuracy; memory flat; report written`, async () => {
    const out = mkdtempSync(join(tmpdir(), 'gmnn-'));
    try {
      const r = await runGmnn({ dataset: 'Cora', seeds: [0], epochs: 40, device: 'cpu', progress: false, out });
      expect(r.seeds).toHaveLength(1);
      const s = r.seeds[0];
      expect(r.gmnn.mean).toBeGreaterThanOrEqual(GMNN_FLOOR);
      expect(r.qAlone.mean).toBeGreaterThan(78); // q alone is a GCN (≈ 80–82.5 % at 40 epochs)
      expect(s.history).toHaveLength(120);
      expect(s.tensorsAfter).toBe(s.tensorsBefore);
      expect(() => checkFlatMemory(s.history)).not.toThrow();
      for (const f of ['report.md', 'accuracy.svg', 'metrics.json']) expect(existsSync(join(out, f)), f).toBe(true);
      const md = readFileSync(join(out, 'report.md'), 'utf8');
      expect(md).toContain('| GMNN (W/o Attr. in pφ) | Cora |');
      expect(md).toContain('q alone (pre-training = GCN)');
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  }, 300_000);

  it('checkFlatMemory flags growth within a phase and across EM iterations', () => {
    const l = (phase: 'pretrain' | 'mStep' | 'eStep', iteration: number, epoch: number, tensors: number) => ({ phase, iteration, epoch, loss: 1, train: 0, val: 0, test: 0, tensors, bytes: tensors * 4 });
    expect(() => checkFlatMemory([l('pretrain', 0, 1, 5), l('pretrain', 0, 2, 5), l('mStep', 1, 1, 7), l('mStep', 1, 2, 7)])).not.toThrow();
    expect(() => checkFlatMemory([l('pretrain', 0, 1, 5), l('pretrain', 0, 2, 6)])).toThrow(/memory grew in pretrain of iteration 0: 6 tensors/);
    expect(() => checkFlatMemory([l('eStep', 1, 1, 9), l('eStep', 2, 1, 10)])).toThrow(/eStep\/2 holds 10 tensors/);
  });

  it('parses its flags and rejects unknown ones', () => {
    expect(parseGmnnCli(['--dataset', 'citeseer', '--seeds', '3', '--epochs', '20', '--p-features'])).toMatchObject({ dataset: 'CiteSeer', seeds: 3, epochs: 20, pWithFeatures: true, device: 'cpu' });
    expect(() => parseGmnnCli(['--dataset', 'PubMed'])).toThrow(/--dataset: expected one of Cora, CiteSeer, received PubMed/);
    expect(() => parseGmnnCli(['--lr', '0.1'])).toThrow(/unknown flag --lr/);
  });
});
