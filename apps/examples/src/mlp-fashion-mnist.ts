/**
 * A 784-256-256-10 MLP (ReLU) on Fashion-MNIST with AdamW, batch 128. Target: ≥ 88 % test accuracy.
 *
 *   pnpm mlp-fashion-mnist -- --epochs 10 [--limit 3000] [--device webgpu] [--out DIR]
 */
import { fileURLToPath } from 'node:url';
import { Flatten, Linear, ReLU, Sequential } from '@tessera/nn';
import { AdamW } from '@tessera/optimize';
import { parseCli } from './lib/cli.js';
import { trainFashionMnist, type TrainConfig, type TrainResult } from './lib/train.js';

export const MLP_DEFAULTS = { epochs: 10, batchSize: 128, lr: 1e-3 };

export function mlpConfig(overrides: Partial<TrainConfig> = {}): TrainConfig {
  return {
    name: 'mlp-fashion-mnist',
    modelDescription: 'Flatten → Linear(784, 256) → ReLU → Linear(256, 256) → ReLU → Linear(256, 10); AdamW (weight decay 0.01), cross-entropy',
    target: 0.88,
    makeModel: () => new Sequential(new Flatten(), new Linear(784, 256), new ReLU(), new Linear(256, 256), new ReLU(), new Linear(256, 10)),
    makeOptimizer: (model, lr) => new AdamW(model.parameters(), { lr, weightDecay: 0.01 }),
    ...MLP_DEFAULTS,
    ...overrides,
  };
}

export function trainMlp(overrides: Partial<TrainConfig> = {}): Promise<TrainResult> {
  return trainFashionMnist(mlpConfig(overrides));
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const o = parseCli(process.argv.slice(2), MLP_DEFAULTS);
  const out = o.out ?? fileURLToPath(new URL('../out/mlp-fashion-mnist', import.meta.url));
  const r = await trainMlp({ ...o, out, testLimit: o.limit ? Math.min(10_000, Math.ceil(o.limit / 3)) : undefined });
  console.log(`split: ${r.split}`);
  console.log(`final test accuracy ${(r.testAccuracy * 100).toFixed(2)} % on ${r.testSize} images (target ≥ 88 %); report in ${out}/report.md`);
}
