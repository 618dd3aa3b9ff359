/**
 * The training harness shared by the Fashion-MNIST examples: data split, seeded shuffling,
 * the train/eval loop, a stderr progress bar, a memory-flatness check, and the outputs
 * (metrics.json, a loss/accuracy SVG, a markdown report) in an output folder.
 */
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import * as T from '@tessera/tensor';
import { backward, noGrad } from '@tessera/autodiff';
import { DataLoader, F, TensorDataset, loadMnist, type Module } from '@tessera/nn';
import type { Optimizer } from '@tessera/optimize';
import { lineChartsSvg } from './svg.js';

export interface TrainConfig {
  name: string;
  /** A sentence describing the model for the report. */
  modelDescription: string;
  /** Test accuracy the full run is expected to reach (the report states it). */
  target: number;
  makeModel: () => Module;
  makeOptimizer: (model: Module, lr: number) => Optimizer;
  /** A learning-rate schedule stepped after every optimizer step (given the total number of steps). */
  makeScheduler?: (optimizer: Optimizer, totalSteps: number) => { step(): void };
  epochs: number;
  batchSize: number;
  lr: number;
  device?: 'cpu' | 'webgpu';
  seed?: number;
  /** Reduced run: train on the first `limit` training images (and evaluate on the first `testLimit`). */
  limit?: number;
  testLimit?: number;
  /** Output folder for metrics.json, curves.svg and report.md; none written when undefined. */
  out?: string;
  /** Draw the progress bar on stderr (default true). */
  progress?: boolean;
}

export interface EpochStats {
  epoch: number;
  trainLoss: number;
  testLoss: number;
  testAccuracy: number;
  seconds: number;
  memory: { tensors: number; bytes: number };
}

export interface TrainResult {
  split: string;
  trainSize: number;
  testSize: number;
  epochs: EpochStats[];
  testAccuracy: number;
}

function dataDir(): string {
  return process.env.TESSERA_DATA_DIR ?? new URL('../../../../../shared/data', import.meta.url).pathname;
}

/** Official train/test split; if the train files are absent, a split of the test files (stated). */
async function loadSplit(device: T.DeviceName) {
  const root = `${dataDir()}/fashion-mnist`;
  const opts = { kind: 'fashion-mnist' as const, root, device };
  if (existsSync(`${root}/train-images-idx3-ubyte.gz`) || existsSync(`${root}/train-images-idx3-ubyte`)) {
    return { train: await loadMnist({ ...opts, split: 'train' }), test: await loadMnist({ ...opts, split: 'test' }), split: 'official split: train 60,000 / test 10,000' };
  }
  const all = await loadMnist({ ...opts, split: 'test' });
  const n = all.images.shape[0];
  const cut = n > 50_000 ? 50_000 : Math.floor((n * 5) / 6);
  const part = (a: number, b: number) => ({ images: all.images.slice(0, a, b), labels: all.labels.slice(0, a, b) });
  return {
    train: part(0, cut),
    test: part(cut, n),
    split: `TRAIN SPLIT MISSING: trained on the first ${cut} images of the t10k files, evaluated on the remaining ${n - cut}`,
    keep: all,
  };
}

function bar(step: number, total: number, loss: number, perSec: number): string {
  const w = 24;
  const done = Math.round((step / total) * w);
  return `\r[${'#'.repeat(done)}${'.'.repeat(w - done)}] ${step}/${total} loss ${loss.toFixed(4)} ${perSec.toFixed(0)} img/s `;
}

/** Moves a batch to the training device, freeing the cpu copy. */
async function onDevice(t: T.Tensor, device: T.DeviceName): Promise<T.Tensor> {
  if (t.device === device) return t;
  const moved = await T.to(t, device);
  t.dispose();
  return moved;
}

async function evaluate(model: Module, x: T.Tensor, y: T.Tensor, batchSize: number, device: T.DeviceName) {
  model.eval();
  let correct = 0;
  let lossSum = 0;
  const n = x.shape[0];
  for (let i = 0; i < n; i += batchSize) {
    const j = Math.min(n, i + batchSize);
    const xb = await onDevice(x.slice(0, i, j), device);
    const yb = await onDevice(y.slice(0, i, j), device);
    const [c, l] = noGrad(() =>
      T.tidy(() => {
        const logits = model.forward(xb);
        return [T.eq(T.argmax(logits, { dim: 1 }), yb).float().sum(), F.crossEntropy(logits, yb, { reduction: 'sum' })];
      }),
    );
    correct += await c.item();
    lossSum += await l.item();
    T.dispose([c, l, xb, yb]);
  }
  model.train();
  return { accuracy: correct / n, loss: lossSum / n };
}

export async function trainFashionMnist(cfg: TrainConfig): Promise<TrainResult> {
  const device = cfg.device ?? 'cpu';
  const seed = cfg.seed ?? 0;
  const log = (s: string) => cfg.progress !== false && process.stderr.write(s);
  await T.init({ device });
  T.setDefaultDevice(device);
  T.manualSeed(seed);
  // The data stay on cpu (60,000 images exceed a WebGPU storage binding); batches move over.
  const data = await loadSplit('cpu');
  const trainN = Math.min(cfg.limit ?? Infinity, data.train.images.shape[0]);
  const testN = Math.min(cfg.testLimit ?? Infinity, data.test.images.shape[0]);
  const xTrain = data.train.images.slice(0, 0, trainN);
  const yTrain = data.train.labels.slice(0, 0, trainN);
  const xTest = data.test.images.slice(0, 0, testN);
  const yTest = data.test.labels.slice(0, 0, testN);
  const model = cfg.makeModel();
  await model.to(device);
  model.train();
  const opt = cfg.makeOptimizer(model, cfg.lr);
  const loader = new DataLoader(new TensorDataset(xTrain, yTrain), { batchSize: cfg.batchSize, shuffle: true, generator: new T.Generator(seed) });
  const scheduler = cfg.makeScheduler?.(opt, cfg.epochs * loader.length);
  const epochs: EpochStats[] = [];
  // Memory after the first step (when the optimizer state exists): later epochs must not exceed it.
  let baseline: { tensors: number; bytes: number } | undefined;
  try {
    for (let epoch = 1; epoch <= cfg.epochs; epoch++) {
      const t0 = performance.now();
      let lossSum = 0;
      let seen = 0;
      let step = 0;
      for await (const batch of loader) {
        const [xc, yc] = batch as T.Tensor[];
        const x = await onDevice(xc, device);
        const y = await onDevice(yc, device);
        opt.zeroGrad();
        const loss = T.tidy(() => {
          const l = F.crossEntropy(model.forward(x), y);
          backward(l);
          return l;
        });
        opt.step();
        scheduler?.step();
        const lv = await loss.item();
        lossSum += lv * x.shape[0];
        seen += x.shape[0];
        T.dispose([loss, x, y]);
        step++;
        if (!baseline) baseline = { ...T.memory() };
        if (step % 10 === 0 || step === loader.length) log(bar(step, loader.length, lv, seen / ((performance.now() - t0) / 1000)));
      }
      opt.zeroGrad();
      const { accuracy, loss } = await evaluate(model, xTest, yTest, 1000, device);
      const seconds = (performance.now() - t0) / 1000;
      const { tensors, bytes } = T.memory();
      epochs.push({ epoch, trainLoss: lossSum / seen, testLoss: loss, testAccuracy: accuracy, seconds, memory: { tensors, bytes } });
      log(`\nepoch ${epoch}/${cfg.epochs}: train loss ${(lossSum / seen).toFixed(4)}, test loss ${loss.toFixed(4)}, test accuracy ${(accuracy * 100).toFixed(2)} %, ${seconds.toFixed(1)} s, memory ${tensors} tensors / ${bytes} bytes\n`);
      if (baseline && (tensors > baseline.tensors || bytes > baseline.bytes)) {
        throw new Error(`${cfg.name}: memory grew: ${tensors} tensors / ${bytes} bytes after epoch ${epoch}, ${baseline.tensors} / ${baseline.bytes} after the first step (a leak)`);
      }
    }
  } finally {
    for (const st of opt.state.values()) T.dispose(Object.values(st).filter(T.isTensor));
    model.dispose();
    T.dispose([xTrain, yTrain, xTest, yTest, data.train.images, data.train.labels, data.test.images, data.test.labels]);
    if ('keep' in data && data.keep) T.dispose([data.keep.images, data.keep.labels]);
  }
  const result: TrainResult = { split: data.split, trainSize: trainN, testSize: testN, epochs, testAccuracy: epochs[epochs.length - 1]?.testAccuracy ?? NaN };
  if (cfg.out) writeOutputs(cfg, result, device);
  return result;
}

function writeOutputs(cfg: TrainConfig, r: TrainResult, device: string): void {
  mkdirSync(cfg.out!, { recursive: true });
  writeFileSync(`${cfg.out}/metrics.json`, JSON.stringify(r, null, 2));
  writeFileSync(
    `${cfg.out}/curves.svg`,
    lineChartsSvg([
      { title: 'loss', series: [{ label: 'train', values: r.epochs.map((e) => e.trainLoss), color: '#1f77b4' }, { label: 'test', values: r.epochs.map((e) => e.testLoss), color: '#d62728' }] },
      { title: 'test accuracy', series: [{ label: 'test', values: r.epochs.map((e) => e.testAccuracy), color: '#2ca02c' }] },
    ]),
  );
  const meanEpoch = r.epochs.reduce((a, e) => a + e.seconds, 0) / Math.max(1, r.epochs.length);
  const met = r.testAccuracy >= cfg.target;
  const rows = r.epochs.map((e) => `| ${e.epoch} | ${e.trainLoss.toFixed(4)} | ${e.testLoss.toFixed(4)} | ${(e.testAccuracy * 100).toFixed(2)} % | ${e.seconds.toFixed(1)} | ${e.memory.tensors} / ${e.memory.bytes} |`);
  const md = [
    `# ${cfg.name}`,
    '',
    `- Dataset: Fashion-MNIST (IDX files from ${dataDir()}/fashion-mnist)`,
    `- Split: ${r.split}; used ${r.trainSize} training and ${r.testSize} test images${cfg.limit ? ' (reduced run, --limit)' : ''}`,
    `- Model: ${cfg.modelDescription}`,
    `- Training: ${r.epochs.length} epochs, batch size ${cfg.batchSize}, lr ${cfg.lr}, seed ${cfg.seed ?? 0}, device ${device}`,
    `- Final test accuracy: **${(r.testAccuracy * 100).toFixed(2)} %** (target ≥ ${(cfg.target * 100).toFixed(0)} %: ${met ? 'met' : 'NOT met'})`,
    `- Time per epoch (mean, training + evaluation): ${meanEpoch.toFixed(1)} s`,
    '',
    '| epoch | train loss | test loss | test accuracy | seconds | memory (tensors / bytes) |',
    '|---:|---:|---:|---:|---:|---|',
    ...rows,
    '',
    '![loss and accuracy](curves.svg)',
    '',
  ].join('\n');
  writeFileSync(`${cfg.out}/report.md`, md);
}
