/**
 * The node-classification runner shared by the Planetoid reproductions (GCN, SGC, GAT, APPNP, ...):
 * full-batch training on the public split (20 labels per class, 500 validation, 1,000 test nodes),
 * Adam, one evaluation per epoch, the checkpoint rule "test accuracy at the epoch of best
 * validation accuracy (ties: lower validation loss)", optional early stopping, `memory()` checked
 * flat across epochs, several seeds, a markdown report with mean ± std next to the paper.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import * as T from '@tessera/tensor';
import { backward, noGrad } from '@tessera/autodiff';
import { F, type Module } from '@tessera/nn';
import type { Optimizer } from '@tessera/optimize';
import { NormalizeFeatures, Planetoid, maskToIndex, type Graph, type PlanetoidName } from '@tessera/graph';
import { lineChartsSvg } from './svg.js';
import { mean, reproTable, std, type ReproRow } from './stats.js';

export const SPLIT = 'public (20/class train, 500 val, 1,000 test)';
export const CHECKPOINT = 'test acc. at best val. acc. (ties: lower val. loss)';
export const CHECKPOINT_VAL_LOSS = 'test acc. at lowest val. loss';

/** A node classifier: logits [N, C] from node features and the edge index. */
export interface NodeModel extends Module {
  forward(x: T.Tensor, edgeIndex: T.Tensor): T.Tensor;
}

export interface PaperNumber {
  /** Test accuracy in percent. */
  accuracy: number;
  std?: number;
  source: string;
}

/** A per-dataset precomputation shared by all seeds of a run (NodeSpec.prepare), e.g. GWNN's wavelet basis. */
export interface PreparedData {
  dispose(): void;
  /** One line for the report (sizes, ...). */
  summary?: string;
}

export interface NodeSpec {
  /** Output folder name, e.g. 'gcn'. */
  name: string;
  /** Model name for the table, e.g. 'GCN'. */
  model: string;
  /** Architecture and hyper-parameters, one sentence (for the report). */
  description: string;
  paper: Partial<Record<PlanetoidName, PaperNumber>>;
  epochs: number;
  /** Early stopping: stop when neither validation accuracy nor loss improved for this many epochs. */
  patience?: number;
  /** Row-normalise the features (NormalizeFeatures; default true). */
  normalizeFeatures?: boolean;
  /**
   * Checkpoint rule: 'valAcc' (default) takes the test accuracy at the best validation accuracy
   * (ties: lower validation loss); 'valLoss' at the lowest validation loss (DAGNN's code).
   */
  checkpoint?: 'valAcc' | 'valLoss';
  /**
   * Made once per run after the dataset is loaded, passed to every seed's makeModel and disposed
   * when the run ends; its time is measured and reported (SGC-style caches that cost seconds).
   */
  prepare?: (graph: Graph) => Promise<PreparedData>;
  makeModel: (numFeatures: number, numClasses: number, prepared?: PreparedData) => NodeModel;
  makeOptimizer: (model: NodeModel) => Optimizer;
}

export interface NodeRunOptions {
  dataset: PlanetoidName;
  /** Number of seeds (0, 1, ..., seeds − 1) or the list of seeds. */
  seeds: number | number[];
  /** Overrides spec.epochs (reduced runs). */
  epochs?: number;
  /** Overrides spec.patience. */
  patience?: number;
  device?: 'cpu' | 'webgpu';
  /** Report folder; none written when undefined. */
  out?: string;
  /** Progress lines on stderr (default true). */
  progress?: boolean;
  /** The floor is paper − margin, in points (default 1.5). */
  floorMargin?: number;
}

export interface SeedResult {
  seed: number;
  /** Test accuracy at the checkpoint (fraction). */
  testAccuracy: number;
  valAccuracy: number;
  bestEpoch: number;
  epochsRun: number;
  secondsPerEpoch: number;
  curves: { trainLoss: number[]; trainAcc: number[]; valAcc: number[]; testAcc: number[] };
  memory: { tensors: number; bytes: number }[];
}

export interface NodeRunResult {
  row: ReproRow;
  /** Seconds spent in spec.prepare (0 without one) and its summary line. */
  prepareSeconds: number;
  prepareSummary?: string;
  seeds: SeedResult[];
  meanAccuracy: number;
  stdAccuracy: number;
}

function dataDir(): string | undefined {
  return process.env.TESSERA_DATA_DIR;
}

/** Loads a Planetoid graph (features row-normalised unless told otherwise) with its split indices. */
export async function loadPlanetoid(name: PlanetoidName, device: T.DeviceName, normalize = true) {
  const ds = await Planetoid.load({ name, root: dataDir(), device, transform: normalize ? new NormalizeFeatures() : undefined });
  const g = await ds.get(0);
  const idx = { train: await maskToIndex(g.trainMask!), val: await maskToIndex(g.valMask!), test: await maskToIndex(g.testMask!) };
  const y = { train: T.indexSelect(g.y!, 0, idx.train), val: T.indexSelect(g.y!, 0, idx.val) };
  const dispose = () => {
    T.dispose([idx.train, idx.val, idx.test, y.train, y.val]);
    g.dispose();
    ds.dispose();
  };
  return { graph: g, numClasses: ds.numClasses, idx, y, dispose };
}

type Loaded = Awaited<ReturnType<typeof loadPlanetoid>>;

/** One evaluation pass: accuracies on train/val/test and the validation loss (one read-back). */
async function evaluate(model: NodeModel, d: Loaded): Promise<{ train: number; val: number; test: number; valLoss: number }> {
  model.eval();
  const g: Graph = d.graph;
  const stats = noGrad(() =>
    T.tidy(() => {
      const out = model.forward(g.x!, g.edgeIndex!);
      const correct = T.eq(T.argmax(out, { dim: 1 }), g.y!).float();
      const acc = (i: T.Tensor) => T.div(T.indexSelect(correct, 0, i).sum(), i.shape[0]);
      const valLoss = F.crossEntropy(T.indexSelect(out, 0, d.idx.val), d.y.val);
      return T.stack([acc(d.idx.train), acc(d.idx.val), acc(d.idx.test), valLoss]);
    }),
  );
  const [train, val, test, valLoss] = Array.from(await stats.data());
  stats.dispose();
  model.train();
  return { train, val, test, valLoss };
}

/** Trains one seed; throws if memory() grows after the first epoch. */
export async function trainSeed(spec: NodeSpec, d: Loaded, seed: number, o: { epochs: number; patience?: number; device: T.DeviceName; log: (s: string) => void; prepared?: PreparedData }): Promise<SeedResult> {
  T.manualSeed(seed);
  const g = d.graph;
  const model = spec.makeModel(g.numNodeFeatures, d.numClasses, o.prepared);
  await model.to(o.device);
  model.train();
  const opt = spec.makeOptimizer(model);
  const curves: SeedResult['curves'] = { trainLoss: [], trainAcc: [], valAcc: [], testAcc: [] };
  const memory: SeedResult['memory'] = [];
  let best = { val: -1, valLoss: Infinity, test: 0, epoch: 0 };
  let bestLoss = Infinity;
  // The best validation accuracy so far (equals best.val under the default checkpoint rule).
  let bestAcc = -1;
  let sinceImproved = 0;
  let epoch = 0;
  const t0 = performance.now();
  try {
    for (epoch = 1; epoch <= o.epochs; epoch++) {
      opt.zeroGrad();
      const loss = T.tidy(() => {
        const out = model.forward(g.x!, g.edgeIndex!);
        const l = F.crossEntropy(T.indexSelect(out, 0, d.idx.train), d.y.train);
        backward(l);
        return l;
      });
      opt.step();
      opt.zeroGrad();
      const lossValue = await loss.item();
      loss.dispose();
      if (!Number.isFinite(lossValue)) throw new Error(`${spec.name}: training loss is ${lossValue} at epoch ${epoch} (seed ${seed})`);
      const ev = await evaluate(model, d);
      curves.trainLoss.push(lossValue);
      curves.trainAcc.push(ev.train);
      curves.valAcc.push(ev.val);
      curves.testAcc.push(ev.test);
      const m = T.memory();
      memory.push({ tensors: m.tensors, bytes: m.bytes });
      if (memory.length > 1 && (m.tensors > memory[0].tensors || m.bytes > memory[0].bytes)) {
        throw new Error(`${spec.name}: memory grew: ${m.tensors} tensors / ${m.bytes} bytes after epoch ${epoch}, ${memory[0].tensors} / ${memory[0].bytes} after epoch 1 (a leak)`);
      }
      const better = spec.checkpoint === 'valLoss' ? ev.valLoss < best.valLoss : ev.val > best.val || (ev.val === best.val && ev.valLoss < best.valLoss);
      if (better) best = { val: ev.val, valLoss: ev.valLoss, test: ev.test, epoch };
      // Patience counts epochs in which neither validation accuracy nor validation loss improved (GAT's rule).
      if (ev.val >= bestAcc || ev.valLoss < bestLoss) sinceImproved = 0;
      else sinceImproved++;
      bestLoss = Math.min(bestLoss, ev.valLoss);
      bestAcc = Math.max(bestAcc, ev.val);
      if (epoch % 10 === 0 || epoch === 1) {
        o.log(`\r  seed ${seed} epoch ${epoch}/${o.epochs} loss ${lossValue.toFixed(4)} train ${(ev.train * 100).toFixed(1)} val ${(ev.val * 100).toFixed(1)} test ${(ev.test * 100).toFixed(1)} | best val ${(best.val * 100).toFixed(1)} @${best.epoch} | ${((performance.now() - t0) / 1000 / epoch).toFixed(2)} s/epoch, ${m.tensors} tensors   `);
      }
      if (o.patience !== undefined && sinceImproved >= o.patience) break;
    }
  } finally {
    for (const st of opt.state.values()) T.dispose(Object.values(st).filter(T.isTensor));
    model.dispose();
  }
  const epochsRun = Math.min(epoch, o.epochs);
  o.log(`\n  seed ${seed}: test ${(best.test * 100).toFixed(2)} % at epoch ${best.epoch} (val ${(best.val * 100).toFixed(2)} %), ${epochsRun} epochs\n`);
  return { seed, testAccuracy: best.test, valAccuracy: best.val, bestEpoch: best.epoch, epochsRun, secondsPerEpoch: (performance.now() - t0) / 1000 / epochsRun, curves, memory };
}

/** Runs several seeds of one model on one dataset; writes report.md, curves.svg and metrics.json to `out`. */
export async function runNodeClassification(spec: NodeSpec, o: NodeRunOptions): Promise<NodeRunResult> {
  const device = o.device ?? 'cpu';
  const paper = spec.paper[o.dataset];
  if (!paper) throw new Error(`${spec.name}: no paper number for ${o.dataset}; datasets: ${Object.keys(spec.paper).join(', ')}`);
  const log = (s: string) => o.progress !== false && process.stderr.write(s);
  await T.init({ device });
  T.setDefaultDevice(device);
  const seeds = typeof o.seeds === 'number' ? Array.from({ length: o.seeds }, (_, i) => i) : o.seeds;
  const epochs = o.epochs ?? spec.epochs;
  const patience = o.patience ?? spec.patience;
  const d = await loadPlanetoid(o.dataset, device, spec.normalizeFeatures ?? true);
  const results: SeedResult[] = [];
  let prepared: PreparedData | undefined;
  let prepareSeconds = 0;
  let prepareSummary: string | undefined;
  try {
    if (spec.prepare) {
      const t0 = performance.now();
      prepared = await spec.prepare(d.graph);
      prepareSeconds = (performance.now() - t0) / 1000;
      prepareSummary = prepared.summary;
      log(`${spec.model} on ${o.dataset}: precomputed in ${prepareSeconds.toFixed(2)} s${prepared.summary ? ` (${prepared.summary})` : ''}\n`);
    }
    for (const seed of seeds) {
      log(`${spec.model} on ${o.dataset}, seed ${seed} (${results.length + 1}/${seeds.length}), device ${device}\n`);
      results.push(await trainSeed(spec, d, seed, { epochs, patience, device, log, prepared }));
    }
  } finally {
    prepared?.dispose();
    d.dispose();
  }
  const accuracies = results.map((r) => r.testAccuracy * 100);
  const row: ReproRow = {
    model: spec.model,
    dataset: o.dataset,
    split: SPLIT,
    checkpoint: `${spec.checkpoint === 'valLoss' ? CHECKPOINT_VAL_LOSS : CHECKPOINT}; ${epochs} epochs${patience !== undefined ? `, patience ${patience}` : ''}`,
    accuracies,
    paper: paper.accuracy,
    paperStd: paper.std,
    floor: paper.accuracy - (o.floorMargin ?? 1.5),
  };
  const result: NodeRunResult = { row, prepareSeconds, prepareSummary, seeds: results, meanAccuracy: mean(accuracies), stdAccuracy: std(accuracies) };
  if (o.out) writeNodeReport(spec, o, result, device, paper);
  return result;
}

function writeNodeReport(spec: NodeSpec, o: NodeRunOptions, r: NodeRunResult, device: string, paper: PaperNumber): void {
  const out = o.out!;
  mkdirSync(out, { recursive: true });
  writeFileSync(`${out}/metrics.json`, JSON.stringify({ row: r.row, prepareSeconds: r.prepareSeconds, seeds: r.seeds.map(({ memory, ...s }) => ({ ...s, memory: memory[memory.length - 1] })) }, null, 2));
  const s0 = r.seeds[0];
  writeFileSync(
    `${out}/curves.svg`,
    lineChartsSvg([
      { title: `${spec.model} ${o.dataset} seed ${s0.seed}: training loss`, series: [{ label: 'train loss', values: s0.curves.trainLoss, color: '#1f77b4' }] },
      {
        title: 'accuracy',
        series: [
          { label: 'train', values: s0.curves.trainAcc, color: '#1f77b4' },
          { label: 'val', values: s0.curves.valAcc, color: '#ff7f0e' },
          { label: 'test', values: s0.curves.testAcc, color: '#2ca02c' },
        ],
      },
    ]),
  );
  const perSeed = r.seeds.map((s) => `| ${s.seed} | ${(s.testAccuracy * 100).toFixed(2)} | ${(s.valAccuracy * 100).toFixed(2)} | ${s.bestEpoch} | ${s.epochsRun} | ${s.secondsPerEpoch.toFixed(2)} | ${s.memory[0].tensors} → ${s.memory[s.memory.length - 1].tensors} |`);
  const md = [
    `# ${spec.model} on ${o.dataset}`,
    '',
    `- Model: ${spec.description}`,
    `- Data: Planetoid ${o.dataset}, ${SPLIT}${spec.normalizeFeatures === false ? '' : '; features row-normalised'}`,
    `- Checkpoint rule: ${r.row.checkpoint}`,
    `- Device: ${device}; seeds ${r.seeds.map((s) => s.seed).join(', ')} (T.manualSeed(seed))`,
    ...(spec.prepare ? [`- Precomputation (once per run, shared by the seeds): ${r.prepareSeconds.toFixed(2)} s${r.prepareSummary ? `; ${r.prepareSummary}` : ''}`] : []),
    `- Paper: ${paper.accuracy}${paper.std !== undefined ? ` ± ${paper.std}` : ''} % (${paper.source})`,
    '',
    reproTable([r.row]),
    '',
    '| seed | test acc. (%) | val acc. (%) | best epoch | epochs run | s / epoch | memory (tensors, epoch 1 → last) |',
    '|---:|---:|---:|---:|---:|---:|---|',
    ...perSeed,
    '',
    `![loss and accuracy of seed ${s0.seed}](curves.svg)`,
    '',
  ].join('\n');
  writeFileSync(`${out}/report.md`, md);
}
