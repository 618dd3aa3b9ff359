import { describe, expect, it } from 'vitest';
import { trainCnn } from '../src/cnn-fashion-mnist.js';
import { trainMlp } from '../src/mlp-fashion-mnist.js';

/**
 * The Fashion-MNIST examples in a reduced run (3,000 training images, 1 epoch, cpu, real data):
 * a quality floor on 1,000 held-out test images, and memory flat (trainFashionMnist throws if
 * T.memory() after an epoch exceeds its value after the first step; checked here too).
 */
const REDUCED = { epochs: 1, limit: 3000, testLimit: 1000, device: 'cpu' as const, progress: false };

describe('Fashion-MNIST examples (reduced)', () => {
  it('MLP reaches ≥ 70 % test accuracy', async () => {
    const r = await trainMlp({ ...REDUCED, batchSize: 64, lr: 2e-3 });
    expect(r.trainSize).toBe(3000);
    expect(r.testSize).toBe(1000);
    expect(r.testAccuracy).toBeGreaterThanOrEqual(0.7);
    expect(r.epochs[0].trainLoss).toBeLessThan(Math.log(10));
  });

  it('CNN reaches ≥ 60 % test accuracy', async () => {
    const r = await trainCnn({ ...REDUCED, batchSize: 64, lr: 2e-3 });
    expect(r.testAccuracy).toBeGreaterThanOrEqual(0.6);
  });

  it('memory stays flat across epochs', async () => {
    const r = await trainMlp({ ...REDUCED, epochs: 3, limit: 512, testLimit: 256, batchSize: 128 });
    const [a, b, c] = r.epochs.map((e) => e.memory);
    expect(b).toEqual(a);
    expect(c).toEqual(a);
  });
});
