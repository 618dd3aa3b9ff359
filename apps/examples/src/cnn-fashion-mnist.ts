/**
 * A small CNN on Fashion-MNIST: two conv(3×3)+ReLU+maxpool blocks and a two-layer head, AdamW,
 * batch 128. Target: ≥ 90 % test accuracy.
 *
 *   pnpm cnn-fashion-mnist -- --epochs 5 [--limit 3000] [--device webgpu] [--out DIR]
 */
import { fileURLToPath } from 'node:url';
import { Conv2d, Flatten, Linear, MaxPool2d, ReLU, Sequential } from '@tessera/nn';
import { AdamW } from '@tessera/optimize';
import { parseCli } from './lib/cli.js';
import { trainFashionMnist, type TrainConfig, type TrainResult } from './lib/train.js';

export const CNN_DEFAULTS = { epochs: 8, batchSize: 128, lr: 1e-3 };

export function cnnConfig(overrides: Partial<TrainConfig> = {}): TrainConfig {
  return {
    name: 'cnn-fashion-mnist',
    modelDescription:
      'Conv2d(1, 16, 3, pad 1) → ReLU → MaxPool2d(2) → Conv2d(16, 32, 3, pad 1) → ReLU → MaxPool2d(2) → Flatten → Linear(1568, 128) → ReLU → Linear(128, 10); AdamW (weight decay 0.01), cross-entropy',
    target: 0.9,
    makeModel: () =>
      new Sequential(
        new Conv2d(1, 16, 3, { padding: 1 }),
        new ReLU(),
        new MaxPool2d(2),
        new Conv2d(16, 32, 3, { padding: 1 }),
        new ReLU(),
        new MaxPool2d(2),
        new Flatten(),
        new Linear(32 * 7 * 7, 128),
        new ReLU(),
        new Linear(128, 10),
      ),
    makeOptimizer: (model, lr) => new AdamW(model.parameters(), { lr, weightDecay: 0.01 }),
    ...CNN_DEFAULTS,
    ...overrides,
  };
}

export function trainCnn(overrides: Partial<TrainConfig> = {}): Promise<TrainResult> {
  return trainFashionMnist(cnnConfig(overrides));
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const o = parseCli(process.argv.slice(2), CNN_DEFAULTS);
  const out = o.out ?? fileURLToPath(new URL('../out/cnn-fashion-mnist', import.meta.url));
  const r = await trainCnn({ ...o, out, testLimit: o.limit ? Math.min(10_000, Math.ceil(o.limit / 3)) : undefined });
  console.log(`split: ${r.split}`);
  console.log(`final test accuracy ${(r.testAccuracy * 100).toFixed(2)} % on ${r.testSize} images (target ≥ 90 %); report in ${out}/report.md`);
}
