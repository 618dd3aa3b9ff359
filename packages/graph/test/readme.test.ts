/**
 * The README's first example, run: load Cora with NormalizeFeatures, build the two-layer GCN
 * class, and take training steps with Adam (lr 0.01, weight decay 5e-4). Also checks that every
 * `T.*` / `F.*` name the README block calls exists in the package it names, so the block cannot
 * drift from the API unnoticed.
 */
import { describe, expect, it } from 'vitest';
import { readFile } from 'node:fs/promises';
import * as T from '@tessera/tensor';
import { backward, noGrad } from '@tessera/autodiff';
import { Adam } from '@tessera/optimize';
import { F, Module } from '@tessera/nn';
import { forEachBackend } from '../../tensor/test/helpers.js';
import { GCNConv, NormalizeFeatures, Planetoid } from '../src/index.js';
import * as G from '../src/index.js';

const README = await readFile(new URL('../README.md', import.meta.url), 'utf8');
const firstBlock = /```ts\n([\s\S]*?)```/.exec(README)?.[1] ?? '';

describe('README example: names', () => {
  it('the first code block exists and uses GCNConv, Planetoid, NormalizeFeatures and Adam', () => {
    for (const name of ['GCNConv', 'Planetoid.load', 'NormalizeFeatures', 'new Adam', 'weightDecay: 5e-4']) expect(firstBlock).toContain(name);
  });

  it('every T.* and F.* call in the first code block is exported', async () => {
    const nn = await import('@tessera/nn');
    const missing: string[] = [];
    for (const [, ns, name] of firstBlock.matchAll(/\b(T|F)\.([A-Za-z_]\w*)\s*\(/g)) {
      const mod = (ns === 'T' ? T : nn.F) as Record<string, unknown>;
      if (typeof mod[name] !== 'function') missing.push(`${ns}.${name}`);
    }
    // The graph names imported by the block must be exported too.
    const imported = /import\s*\{([^}]*)\}\s*from\s*'@tessera\/graph'/.exec(firstBlock)?.[1] ?? '';
    for (const name of imported.split(',').map((s) => s.trim()).filter(Boolean)) if (!(name in G)) missing.push(name);
    expect(missing).toEqual([]);
  });
});

/** The README's model, with the dropout from @tessera/nn's F (the tensor core has no dropout). */
class GCN extends Module {
  conv1 = new GCNConv(1433, 16);
  conv2 = new GCNConv(16, 7);
  forward(x: T.Tensor, edgeIndex: T.Tensor): T.Tensor {
    return this.conv2.forward(F.dropout(T.relu(this.conv1.forward(F.dropout(x, 0.5, this.training), edgeIndex)), 0.5, this.training), edgeIndex);
  }
}

forEachBackend('README example: GCN on Cora', (device) => {
  it('loads Cora, builds the GCN and trains: the training loss falls, memory stays flat', async () => {
    const cora = await Planetoid.load({ name: 'Cora', transform: new NormalizeFeatures(), device });
    const g = await cora.get(0);
    expect(cora.numClasses).toBe(7);
    expect(g.x!.shape).toEqual([2708, 1433]);
    T.manualSeed(0);
    const model = new GCN();
    await model.to(device);
    model.train();
    const opt = new Adam(model.parameters(), { lr: 0.01, weightDecay: 5e-4 });
    const trainIdx = await G.maskToIndex(g.trainMask!);
    const yTrain = T.indexSelect(g.y!, 0, trainIdx);
    const losses: number[] = [];
    let mem: { tensors: number; bytes: number } | undefined;
    try {
      for (let step = 0; step < 5; step++) {
        opt.zeroGrad();
        const loss = T.tidy(() => {
          const out = model.forward(g.x!, g.edgeIndex!);
          const l = F.crossEntropy(T.indexSelect(out, 0, trainIdx), yTrain);
          backward(l);
          return l;
        });
        opt.step();
        losses.push(await loss.item());
        loss.dispose();
        const m = T.memory();
        if (step === 1) mem = { tensors: m.tensors, bytes: m.bytes };
        if (step > 1) expect({ tensors: m.tensors, bytes: m.bytes }).toEqual(mem);
      }
      // Initial loss near ln 7 (random init), then it decreases.
      expect(losses[0]).toBeGreaterThan(1.5);
      expect(losses[0]).toBeLessThan(2.3);
      expect(losses[4]).toBeLessThan(losses[0]);
      for (const l of losses) expect(Number.isFinite(l)).toBe(true);
      model.eval();
      const out = noGrad(() => model.forward(g.x!, g.edgeIndex!));
      expect(out.shape).toEqual([2708, 7]);
      out.dispose();
    } finally {
      opt.zeroGrad();
      for (const st of opt.state.values()) T.dispose(Object.values(st).filter(T.isTensor));
      model.dispose();
      T.dispose([trainIdx, yTrain]);
      g.dispose();
    }
  });
});
