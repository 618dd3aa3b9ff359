/**
 * Cluster-GCN (Chiang et al., KDD 2019) on Cora / CiteSeer, public split, next to full-batch GCN
 * trained and evaluated by the same code. The graph is cut into `--parts` clusters by the
 * multilevel partitioner (`ClusterData`); each step trains on the subgraph induced by
 * `--clusters-per-batch` random clusters, between-cluster edges of the chosen clusters included
 * (`ClusterLoader`, the paper's stochastic multiple partitions), so an epoch visits every node once.
 * Model: GCNConv(F, hidden) → ReLU → GCNConv(hidden, C), dropout 0.5, Adam lr 0.01, weight decay
 * 5e-4 on the first layer (as gcn.ts), the adjacency of each batch normalised on the fly
 * (`--norm gcn`: D^-1/2 (A + I) D^-1/2; `--norm cluster`: the paper's (D + I)^-1 (A + I) + λ diag,
 * `clusterGcnNorm`). Evaluation runs on the full graph after every epoch; checkpoint: test
 * accuracy at the epoch of best validation accuracy (ties: lower validation loss).
 *
 * The report gives accuracy mean ± std over seeds for both, the partition's balance and edge cut,
 * and the peak `T.memory()` bytes of a training step (sampled after forward and after backward).
 *
 *   pnpm --filter @tessera/examples cluster-gcn -- --dataset Cora --seeds 10 [--epochs N]
 *     [--parts K] [--clusters-per-batch Q] [--norm gcn|cluster] [--lambda X] [--hidden H] [--device webgpu]
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import * as T from '@tessera/tensor';
import { backward, noGrad } from '@tessera/autodiff';
import { F, Module } from '@tessera/nn';
import { Adam } from '@tessera/optimize';
import { ClusterData, ClusterLoader, GCNConv, clusterGcnNorm, gcnNorm, maskToIndex, type Graph, type PlanetoidName } from '@tessera/graph';
import { parseFlags, positiveFlag } from '../lib/cli.js';
import { CHECKPOINT, SPLIT, loadPlanetoid } from '../lib/node-classification.js';
import { mean, std } from '../lib/stats.js';
import { lineChartsSvg } from '../lib/svg.js';

export type AdjNorm = 'gcn' | 'cluster';

/** Two GCN layers over edge weights given by the caller (normalised per batch). */
export class ClusterGCNNet extends Module {
  conv1: GCNConv;
  conv2: GCNConv;
  constructor(inChannels: number, hidden: number, outChannels: number, readonly dropout = 0.5) {
    super();
    this.conv1 = new GCNConv(inChannels, hidden, { normalize: false });
    this.conv2 = new GCNConv(hidden, outChannels, { normalize: false });
  }

  forward(x: T.Tensor, edgeIndex: T.Tensor, edgeWeight: T.Tensor): T.Tensor {
    return T.tidy(() => {
      let h = F.dropout(x, this.dropout, this.training);
      h = F.dropout(T.relu(this.conv1.forward(h, edgeIndex, { edgeWeight })), this.dropout, this.training);
      return this.conv2.forward(h, edgeIndex, { edgeWeight });
    });
  }
}

/** The normalised adjacency of a graph with `numNodes` nodes: edge index with self-loops and weights. */
export function normalizeAdjacency(edgeIndex: T.Tensor, numNodes: number, norm: AdjNorm, lambda: number): { edgeIndex: T.Tensor; edgeWeight: T.Tensor } {
  return norm === 'gcn' ? gcnNorm(edgeIndex, null, numNodes) : clusterGcnNorm(edgeIndex, { numNodes, lambda });
}

export interface ClusterGcnOptions {
  dataset: PlanetoidName;
  /** Number of seeds (0, 1, ..., seeds − 1) or the list of seeds. */
  seeds: number | number[];
  /** Epochs of both models (default 200; an epoch of Cluster-GCN is parts / clustersPerBatch steps). */
  epochs?: number;
  /** Clusters (default 20). */
  parts?: number;
  /** Clusters per batch, the paper's q (default 5). */
  clustersPerBatch?: number;
  hidden?: number;
  /** Adjacency normalisation of every batch and of the evaluation graph (default 'gcn'). */
  norm?: AdjNorm;
  /** λ of the diagonal enhancement with norm 'cluster' (default 0). */
  lambda?: number;
  /** Train the full-batch baseline too (default true). */
  fullBatch?: boolean;
  device?: 'cpu' | 'webgpu';
  out?: string;
  progress?: boolean;
}

export interface SeedRun {
  seed: number;
  testAccuracy: number;
  valAccuracy: number;
  bestEpoch: number;
  secondsPerEpoch: number;
  /** Largest T.memory().bytes seen in a training step (after forward, after backward). */
  peakBytes: number;
  curves: { trainLoss: number[]; valAcc: number[]; testAcc: number[] };
  memory: { tensors: number; bytes: number }[];
}

export interface ModeResult {
  accuracies: number[];
  mean: number;
  std: number;
  seeds: SeedRun[];
  /** Largest peak over the seeds. */
  peakBytes: number;
}

export interface ClusterGcnResult {
  dataset: PlanetoidName;
  cluster: ModeResult;
  full?: ModeResult;
  partition: { parts: number; clustersPerBatch: number; balance: number; edgeCut: number; totalEdges: number; cutFraction: number; seconds: number; sizes: number[] };
  /** T.memory().bytes with the dataset loaded, before training (included in the peaks). */
  residentBytes: number;
  settings: Required<Pick<ClusterGcnOptions, 'epochs' | 'parts' | 'clustersPerBatch' | 'hidden' | 'norm' | 'lambda'>> & { device: string };
}

type Loaded = Awaited<ReturnType<typeof loadPlanetoid>>;

interface Context {
  d: Loaded;
  /** The normalised full graph (evaluation, and full-batch training). */
  full: { edgeIndex: T.Tensor; edgeWeight: T.Tensor };
  clusterData: ClusterData;
  o: ClusterGcnResult['settings'];
  log: (s: string) => void;
}

async function evaluate(model: ClusterGCNNet, c: Context): Promise<{ val: number; test: number; valLoss: number }> {
  model.eval();
  const g = c.d.graph;
  const stats = noGrad(() =>
    T.tidy(() => {
      const out = model.forward(g.x!, c.full.edgeIndex, c.full.edgeWeight);
      const correct = T.eq(T.argmax(out, { dim: 1 }), g.y!).float();
      const acc = (i: T.Tensor) => T.div(T.indexSelect(correct, 0, i).sum(), i.shape[0]);
      return T.stack([acc(c.d.idx.val), acc(c.d.idx.test), F.crossEntropy(T.indexSelect(out, 0, c.d.idx.val), c.d.y.val)]);
    }),
  );
  const [val, test, valLoss] = Array.from(await stats.data());
  stats.dispose();
  model.train();
  return { val, test, valLoss };
}

/**
 * One training step on a subgraph; returns the loss and the largest T.memory().bytes seen at the
 * end of the forward pass (all activations alive) and right after backward (gradients alive).
 */
function step(model: ClusterGCNNet, opt: Adam, x: T.Tensor, adj: { edgeIndex: T.Tensor; edgeWeight: T.Tensor }, trainIdx: T.Tensor, yTrain: T.Tensor): { loss: T.Tensor; bytes: number } {
  opt.zeroGrad();
  let bytes = 0;
  const loss = T.tidy(() => {
    const out = model.forward(x, adj.edgeIndex, adj.edgeWeight);
    const l = F.crossEntropy(T.indexSelect(out, 0, trainIdx), yTrain);
    bytes = T.memory().bytes;
    backward(l);
    bytes = Math.max(bytes, T.memory().bytes);
    return l;
  });
  opt.step();
  opt.zeroGrad();
  return { loss, bytes };
}

/** Trains one seed with Cluster-GCN batches or on the full graph; throws if memory() grows after epoch 1. */
async function trainSeed(mode: 'cluster' | 'full', c: Context, seed: number): Promise<SeedRun> {
  T.manualSeed(seed);
  const g = c.d.graph;
  const model = new ClusterGCNNet(g.numNodeFeatures, c.o.hidden, c.d.numClasses);
  await model.to(c.o.device as T.DeviceName);
  model.train();
  const opt = new Adam(
    [
      { params: model.conv1.parameters(), weightDecay: 5e-4 },
      { params: model.conv2.parameters(), weightDecay: 0 },
    ],
    { lr: 0.01 },
  );
  const loader = new ClusterLoader(c.clusterData, { batchSize: c.o.clustersPerBatch, shuffle: true, generator: new T.Generator(seed) });
  const curves: SeedRun['curves'] = { trainLoss: [], valAcc: [], testAcc: [] };
  const memory: SeedRun['memory'] = [];
  let best = { val: -1, valLoss: Infinity, test: 0, epoch: 0 };
  let peakBytes = 0;
  const t0 = performance.now();
  try {
    for (let epoch = 1; epoch <= c.o.epochs; epoch++) {
      let lossSum = 0;
      let steps = 0;
      if (mode === 'full') {
        const { loss, bytes } = step(model, opt, g.x!, c.full, c.d.idx.train, c.d.y.train);
        peakBytes = Math.max(peakBytes, bytes);
        lossSum += await loss.item();
        loss.dispose();
        steps++;
      } else {
        for (const batch of loader) {
          try {
            lossSum += await clusterStep(model, opt, batch, c, (b) => (peakBytes = Math.max(peakBytes, b)));
            steps++;
          } finally {
            batch.dispose();
          }
        }
      }
      const lossValue = lossSum / steps;
      if (!Number.isFinite(lossValue)) throw new Error(`cluster-gcn: training loss is ${lossValue} at epoch ${epoch} (seed ${seed}, ${mode})`);
      const ev = await evaluate(model, c);
      curves.trainLoss.push(lossValue);
      curves.valAcc.push(ev.val);
      curves.testAcc.push(ev.test);
      const m = T.memory();
      memory.push({ tensors: m.tensors, bytes: m.bytes });
      if (memory.length > 1 && (m.tensors > memory[0].tensors || m.bytes > memory[0].bytes)) {
        throw new Error(`cluster-gcn (${mode}): memory grew: ${m.tensors} tensors / ${m.bytes} bytes after epoch ${epoch}, ${memory[0].tensors} / ${memory[0].bytes} after epoch 1 (a leak)`);
      }
      if (ev.val > best.val || (ev.val === best.val && ev.valLoss < best.valLoss)) best = { val: ev.val, valLoss: ev.valLoss, test: ev.test, epoch };
      if (epoch % 20 === 0 || epoch === 1) {
        c.log(`\r  ${mode} seed ${seed} epoch ${epoch}/${c.o.epochs} loss ${lossValue.toFixed(4)} val ${(ev.val * 100).toFixed(1)} test ${(ev.test * 100).toFixed(1)} | best val ${(best.val * 100).toFixed(1)} @${best.epoch} | ${((performance.now() - t0) / 1000 / epoch).toFixed(2)} s/epoch   `);
      }
    }
  } finally {
    for (const st of opt.state.values()) T.dispose(Object.values(st).filter(T.isTensor));
    model.dispose();
  }
  c.log(`\n  ${mode} seed ${seed}: test ${(best.test * 100).toFixed(2)} % at epoch ${best.epoch} (val ${(best.val * 100).toFixed(2)} %)\n`);
  return { seed, testAccuracy: best.test, valAccuracy: best.val, bestEpoch: best.epoch, secondsPerEpoch: (performance.now() - t0) / 1000 / c.o.epochs, peakBytes, curves, memory };
}

/** One Cluster-GCN step on a batch (skipped, loss 0, when the batch holds no training node). */
async function clusterStep(model: ClusterGCNNet, opt: Adam, batch: Graph, c: Context, peak: (bytes: number) => void): Promise<number> {
  const trainIdx = await maskToIndex(batch.trainMask!);
  const adj = normalizeAdjacency(batch.edgeIndex!, batch.numNodes, c.o.norm, c.o.lambda);
  const yTrain = T.indexSelect(batch.y!, 0, trainIdx);
  try {
    if (trainIdx.shape[0] === 0) return 0;
    const { loss, bytes } = step(model, opt, batch.x!, adj, trainIdx, yTrain);
    peak(bytes);
    const v = await loss.item();
    loss.dispose();
    return v;
  } finally {
    T.dispose([trainIdx, adj.edgeIndex, adj.edgeWeight, yTrain]);
  }
}

function summarise(runs: SeedRun[]): ModeResult {
  const accuracies = runs.map((r) => r.testAccuracy * 100);
  return { accuracies, mean: mean(accuracies), std: std(accuracies), seeds: runs, peakBytes: Math.max(...runs.map((r) => r.peakBytes)) };
}

/** Partitions the dataset once (generator seed 0), then trains Cluster-GCN (and full-batch GCN) for each seed. */
export async function runClusterGcn(o: ClusterGcnOptions): Promise<ClusterGcnResult> {
  const device = o.device ?? 'cpu';
  const settings: ClusterGcnResult['settings'] = {
    epochs: o.epochs ?? 200,
    parts: o.parts ?? 20,
    clustersPerBatch: o.clustersPerBatch ?? 5,
    hidden: o.hidden ?? 16,
    norm: o.norm ?? 'gcn',
    lambda: o.lambda ?? 0,
    device,
  };
  const log = (s: string) => o.progress !== false && process.stderr.write(s);
  await T.init({ device });
  T.setDefaultDevice(device);
  const seeds = typeof o.seeds === 'number' ? Array.from({ length: o.seeds }, (_, i) => i) : o.seeds;
  const d = await loadPlanetoid(o.dataset, device);
  const full = normalizeAdjacency(d.graph.edgeIndex!, d.graph.numNodes, settings.norm, settings.lambda);
  let clusterData: ClusterData | undefined;
  try {
    const t0 = performance.now();
    clusterData = await ClusterData.create(d.graph, settings.parts, { generator: new T.Generator(0) });
    const p = clusterData.partition;
    const partition = {
      parts: settings.parts,
      clustersPerBatch: settings.clustersPerBatch,
      balance: p.balance,
      edgeCut: p.edgeCut,
      totalEdges: p.totalEdgeWeight,
      cutFraction: p.edgeCut / p.totalEdgeWeight,
      seconds: (performance.now() - t0) / 1000,
      sizes: Array.from(p.partSizes),
    };
    log(`${o.dataset}: ${settings.parts} clusters in ${partition.seconds.toFixed(2)} s, balance ${p.balance.toFixed(3)}, ${p.edgeCut} of ${p.totalEdgeWeight} edges cut (${(partition.cutFraction * 100).toFixed(1)} %)\n`);
    const residentBytes = T.memory().bytes;
    const c: Context = { d, full, clusterData, o: settings, log };
    const clusterRuns: SeedRun[] = [];
    const fullRuns: SeedRun[] = [];
    for (const seed of seeds) {
      log(`Cluster-GCN on ${o.dataset}, seed ${seed} (${clusterRuns.length + 1}/${seeds.length}), device ${device}\n`);
      clusterRuns.push(await trainSeed('cluster', c, seed));
      if (o.fullBatch !== false) {
        log(`full-batch GCN on ${o.dataset}, seed ${seed}\n`);
        fullRuns.push(await trainSeed('full', c, seed));
      }
    }
    const result: ClusterGcnResult = {
      dataset: o.dataset,
      cluster: summarise(clusterRuns),
      full: fullRuns.length ? summarise(fullRuns) : undefined,
      partition,
      residentBytes,
      settings,
    };
    if (o.out) writeReport(result, o.out);
    return result;
  } finally {
    clusterData?.dispose();
    T.dispose([full.edgeIndex, full.edgeWeight]);
    d.dispose();
  }
}

const mb = (b: number) => `${(b / 2 ** 20).toFixed(2)} MB`;

function writeReport(r: ClusterGcnResult, out: string): void {
  mkdirSync(out, { recursive: true });
  const strip = (m?: ModeResult) => m && { ...m, seeds: m.seeds.map(({ memory, ...s }) => ({ ...s, memory: memory[memory.length - 1] })) };
  writeFileSync(`${out}/metrics.json`, JSON.stringify({ ...r, cluster: strip(r.cluster), full: strip(r.full) }, null, 2));
  const s0 = r.cluster.seeds[0];
  const f0 = r.full?.seeds[0];
  const pct = (v: number[]) => v.map((a) => a * 100);
  writeFileSync(
    `${out}/curves.svg`,
    lineChartsSvg([
      {
        title: `${r.dataset} seed ${s0.seed}: training loss`,
        series: [{ label: 'Cluster-GCN', values: s0.curves.trainLoss, color: '#d62728' }, ...(f0 ? [{ label: 'full batch', values: f0.curves.trainLoss, color: '#1f77b4' }] : [])],
      },
      {
        title: 'validation accuracy (%)',
        series: [{ label: 'Cluster-GCN', values: pct(s0.curves.valAcc), color: '#d62728' }, ...(f0 ? [{ label: 'full batch', values: pct(f0.curves.valAcc), color: '#1f77b4' }] : [])],
      },
    ]),
  );
  const { settings: st, partition: p } = r;
  const floor = r.full ? r.full.mean - 1.5 : undefined;
  const row = (name: string, m: ModeResult) => `| ${name} | ${m.accuracies.length} | ${m.mean.toFixed(2)} ± ${m.std.toFixed(2)} | ${mb(m.peakBytes)} | ${mb(m.peakBytes - r.residentBytes)} | ${(m.seeds.reduce((a, s) => a + s.secondsPerEpoch, 0) / m.seeds.length).toFixed(2)} |`;
  const md = [
    `# Cluster-GCN on ${r.dataset}`,
    '',
    `- Model: GCNConv(F, ${st.hidden}) → ReLU → GCNConv(${st.hidden}, C), dropout 0.5, Adam lr 0.01, weight decay 5e-4 on the first layer, ${st.epochs} epochs; adjacency normalisation '${st.norm}'${st.norm === 'cluster' ? ` (λ = ${st.lambda})` : ''} per batch and for evaluation`,
    `- Cluster-GCN: ${p.parts} clusters (multilevel partitioner, ${p.seconds.toFixed(2)} s), ${p.clustersPerBatch} random clusters per batch (${Math.ceil(p.parts / p.clustersPerBatch)} steps per epoch), between-cluster edges of the chosen clusters kept; evaluation on the full graph`,
    `- Partition: balance ${p.balance.toFixed(3)} (largest cluster / ideal), sizes ${Math.min(...p.sizes)}–${Math.max(...p.sizes)}, edge cut ${p.edgeCut} of ${p.totalEdges} undirected edges (${(p.cutFraction * 100).toFixed(1)} %)`,
    `- Data: Planetoid ${r.dataset}, ${SPLIT}; features row-normalised`,
    `- Checkpoint rule: ${CHECKPOINT}`,
    `- Device: ${st.device}; seeds ${r.cluster.seeds.map((s) => s.seed).join(', ')} (T.manualSeed(seed); the partition uses generator seed 0)`,
    `- Memory: peak T.memory().bytes in a training step (sampled after the forward and after the backward pass); "above resident" subtracts the ${mb(r.residentBytes)} held before training (dataset, normalised full graph)`,
    '',
    '| training | runs | test acc. mean ± std (%) | peak memory | above resident | s / epoch |',
    '|---|---:|---:|---:|---:|---:|',
    row('Cluster-GCN', r.cluster),
    ...(r.full ? [row('full-batch GCN', r.full)] : []),
    '',
    floor !== undefined ? `Target: Cluster-GCN within 1.5 points of full-batch GCN (≥ ${floor.toFixed(2)} %): ${r.cluster.mean >= floor ? 'met' : '**not met**'} (Δ = ${(r.cluster.mean - r.full!.mean).toFixed(2)}). For reference, Kipf & Welling report 81.5 (Cora) / 70.3 (CiteSeer) for full-batch GCN.` : '',
    '',
    '| seed | Cluster-GCN test (%) | best epoch | full-batch test (%) | best epoch |',
    '|---:|---:|---:|---:|---:|',
    ...r.cluster.seeds.map((s, i) => `| ${s.seed} | ${(s.testAccuracy * 100).toFixed(2)} | ${s.bestEpoch} | ${r.full ? (r.full.seeds[i].testAccuracy * 100).toFixed(2) : '–'} | ${r.full ? r.full.seeds[i].bestEpoch : '–'} |`),
    '',
    `![training loss and validation accuracy, seed ${s0.seed}](curves.svg)`,
    '',
  ].join('\n');
  writeFileSync(`${out}/report.md`, md);
}

const USAGE = 'flags: --dataset Cora|CiteSeer --seeds N --epochs N --parts K --clusters-per-batch Q --hidden H --norm gcn|cluster --lambda X --full 0|1 --device cpu|webgpu --out DIR';

export function parseClusterCli(argv: string[]): ClusterGcnOptions {
  const o = { dataset: 'Cora' as PlanetoidName, seeds: 10, device: 'cpu' as 'cpu' | 'webgpu', out: undefined as string | undefined } as ClusterGcnOptions & { device: 'cpu' | 'webgpu'; out: string | undefined };
  parseFlags(argv, USAGE, o, (flag, v) => {
    const int = () => positiveFlag(flag, v, true, USAGE);
    switch (flag) {
      case '--dataset': {
        const name = (['Cora', 'CiteSeer'] as const).find((n) => n.toLowerCase() === String(v).toLowerCase());
        if (!name) throw new Error(`--dataset: expected Cora or CiteSeer, received ${v}; ${USAGE}`);
        o.dataset = name;
        break;
      }
      case '--seeds': o.seeds = int(); break;
      case '--epochs': o.epochs = int(); break;
      case '--parts': o.parts = int(); break;
      case '--clusters-per-batch': o.clustersPerBatch = int(); break;
      case '--hidden': o.hidden = int(); break;
      case '--norm':
        if (v !== 'gcn' && v !== 'cluster') throw new Error(`--norm: expected gcn or cluster, received ${v}; ${USAGE}`);
        o.norm = v;
        break;
      case '--lambda': {
        const x = Number(v);
        if (v === undefined || !Number.isFinite(x)) throw new Error(`--lambda: expected a number, received ${v}; ${USAGE}`);
        o.lambda = x;
        break;
      }
      case '--full':
        if (v !== '0' && v !== '1') throw new Error(`--full: expected 0 or 1, received ${v}; ${USAGE}`);
        o.fullBatch = v === '1';
        break;
      default: return false;
    }
    return true;
  });
  return o;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const o = parseClusterCli(process.argv.slice(2));
  const out = o.out ?? fileURLToPath(new URL(`../../out/cluster-gcn-${o.dataset.toLowerCase()}`, import.meta.url));
  const r = await runClusterGcn({ ...o, out });
  console.log(`Cluster-GCN ${r.cluster.mean.toFixed(2)} ± ${r.cluster.std.toFixed(2)} %${r.full ? `, full-batch GCN ${r.full.mean.toFixed(2)} ± ${r.full.std.toFixed(2)} %` : ''}; partition balance ${r.partition.balance.toFixed(3)}, ${(r.partition.cutFraction * 100).toFixed(1)} % of edges cut`);
  console.log(`report in ${out}/report.md`);
  await T.shutdown();
}
