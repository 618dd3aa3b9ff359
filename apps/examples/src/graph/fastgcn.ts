/**
 * FastGCN (Chen, Ma & Xiao, ICLR 2018) on Cora / CiteSeer, public split, against full-batch GCN
 * (gcn.ts, run by the shared node-classification runner). The paper's numbers use the
 * full-supervised split and are not comparable; the target is the FastGCN mean within 1.5 points
 * of the full-batch GCN mean. Reported next to it: training time per epoch and the working memory
 * of one training step.
 *
 * Model: the 2-layer GCN out = Â · relu(Â X W0 + b0) · W1 + b1 (hidden 16, dropout 0.5 on the
 * input and hidden layer, Adam lr 0.01, weight decay 5e-4 on the first layer, 200 epochs, as
 * gcn.ts). As in the paper's code, ÂX is computed once, so only the outer propagation is sampled:
 * per batch of output nodes (the training nodes, shuffled, 70 per batch) FastGCNSampler draws
 * t = 400 nodes i.i.d. from q(u) ∝ ‖Â(:, u)‖² and the batch's logits are
 * Σ_j Â(v, u_j) (h(u_j) W1) / (t q(u_j)) + b1, computed from ÂX's rows of the sampled nodes only.
 * Inference uses the exact Â. Checkpoint: test accuracy at the best validation accuracy (ties:
 * lower validation loss), evaluated once per epoch, as the runner does for GCN.
 *
 *   pnpm --filter @tessera/examples fastgcn -- --dataset Cora --seeds 10 [--epochs N] [--device webgpu]
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import * as T from '@tessera/tensor';
import { backward, noGrad } from '@tessera/autodiff';
import { F, Linear, Module, init, parameter } from '@tessera/nn';
import { Adam } from '@tessera/optimize';
import { FastGCNSampler, type FastGCNBatch, type PlanetoidName } from '@tessera/graph';
import { parseGraphCli } from '../lib/graph-cli.js';
import { CHECKPOINT, SPLIT, loadPlanetoid, runNodeClassification, type NodeRunResult } from '../lib/node-classification.js';
import { lineChartsSvg } from '../lib/svg.js';
import { mean, std } from '../lib/stats.js';
import { GCN_SPEC } from './gcn.js';

/** The 2-layer GCN of FastGCN on precomputed ÂX: layer 1 is a row-wise map, layer 2 propagates. */
export class FastGCN extends Module {
  lin0: Linear;
  lin1: Linear;
  /** Added after the propagation, as GCNConv's bias. */
  bias1: T.Tensor;
  constructor(inChannels: number, hidden: number, outChannels: number, readonly dropout = 0.5) {
    super();
    // GCNConv's initialisation: Glorot weights, zero bias
    this.lin0 = new Linear(inChannels, hidden);
    this.lin1 = new Linear(hidden, outChannels, { bias: false });
    init.xavierUniform_(this.lin0.weight);
    init.constant_(this.lin0.bias!, 0);
    init.xavierUniform_(this.lin1.weight);
    this.bias1 = parameter(T.zeros([outChannels]));
  }

  /** relu(ÂX W0 + b0) W1 for the given rows of ÂX. */
  #hidden(ax: T.Tensor): T.Tensor {
    const h = F.dropout(T.relu(this.lin0.forward(F.dropout(ax, this.dropout, this.training))), this.dropout, this.training);
    return this.lin1.forward(h);
  }

  /** Training: the logits of the batch's output nodes from the sampled layer. */
  forwardSampled(ax: T.Tensor, batch: FastGCNBatch): T.Tensor {
    return T.tidy(() => T.add(T.spmm(batch.layers[0].adj, this.#hidden(T.indexSelect(ax, 0, batch.nodes[0]))), this.bias1));
  }

  /** Inference: exact propagation with the full Â. */
  forward(ax: T.Tensor, adj: T.SparseTensor): T.Tensor {
    return T.tidy(() => T.add(T.spmm(adj, this.#hidden(ax)), this.bias1));
  }
}

export interface FastGCNConfig {
  hidden: number;
  /** Output nodes per batch. */
  batchSize: number;
  /** Nodes sampled for the propagation into the output layer (t). */
  numSamples: number;
  /** 'all': the paper's q over every node; 'batch': q restricted to the batch's neighbours. */
  support: 'all' | 'batch';
  lr: number;
  weightDecay: number;
  dropout: number;
  epochs: number;
}

export const FASTGCN_CONFIG: FastGCNConfig = { hidden: 16, batchSize: 70, numSamples: 400, support: 'all', lr: 0.01, weightDecay: 5e-4, dropout: 0.5, epochs: 200 };

export const FASTGCN_MARGIN = 1.5;

export interface FastGCNSeedResult {
  seed: number;
  testAccuracy: number;
  valAccuracy: number;
  bestEpoch: number;
  /** Seconds per epoch, training and evaluation (as the runner counts GCN's). */
  secondsPerEpoch: number;
  trainSecondsPerEpoch: number;
  /** Bytes alive after a training step's forward pass or after its backward pass (the larger) minus the bytes alive before the step; largest over the run. */
  stepBytes: number;
  curves: { trainLoss: number[]; valAcc: number[]; testAcc: number[] };
  /** T.memory() after each optimisation step. */
  memory: { tensors: number; bytes: number }[];
}

export interface FastGCNDatasetResult {
  dataset: PlanetoidName;
  fastgcn: { seeds: FastGCNSeedResult[]; accuracies: number[]; mean: number; std: number };
  /** Full-batch GCN (runNodeClassification with GCN_SPEC), when run. */
  gcn?: { result: NodeRunResult; stepBytes: number };
  delta?: number;
}

export interface FastGCNRunOptions {
  dataset: PlanetoidName;
  seeds: number | number[];
  epochs?: number;
  device?: 'cpu' | 'webgpu';
  out?: string;
  progress?: boolean;
  /** Also train the full-batch GCN baseline (default true). */
  baseline?: boolean;
  config?: Partial<FastGCNConfig>;
}

type Loaded = Awaited<ReturnType<typeof loadPlanetoid>>;

/** Bytes held by live tensors now (T.memory()). */
function bytesNow(): number {
  return T.memory().bytes;
}

async function evaluate(model: FastGCN, ax: T.Tensor, adj: T.SparseTensor, d: Loaded): Promise<{ val: number; test: number; valLoss: number }> {
  model.eval();
  const y = d.graph.y!;
  const stats = noGrad(() =>
    T.tidy(() => {
      const out = model.forward(ax, adj);
      const correct = T.eq(T.argmax(out, { dim: 1 }), y).float();
      const acc = (i: T.Tensor) => T.div(T.indexSelect(correct, 0, i).sum(), i.shape[0]);
      return T.stack([acc(d.idx.val), acc(d.idx.test), F.crossEntropy(T.indexSelect(out, 0, d.idx.val), d.y.val)]);
    }),
  );
  const [val, test, valLoss] = Array.from(await stats.data());
  stats.dispose();
  model.train();
  return { val, test, valLoss };
}

async function trainSeed(d: Loaded, ax: T.Tensor, adj: T.SparseTensor, seed: number, cfg: FastGCNConfig, device: T.DeviceName, log: (s: string) => void): Promise<FastGCNSeedResult> {
  T.manualSeed(seed);
  const g = d.graph;
  const model = new FastGCN(g.numNodeFeatures, cfg.hidden, d.numClasses, cfg.dropout);
  await model.to(device);
  model.train();
  const opt = new Adam(
    [
      { params: model.lin0.parameters(), weightDecay: cfg.weightDecay },
      { params: [...model.lin1.parameters(), model.bias1], weightDecay: 0 },
    ],
    { lr: cfg.lr },
  );
  const sampler = new FastGCNSampler(g, { numSamples: [cfg.numSamples], batchSize: cfg.batchSize, inputNodes: d.idx.train, shuffle: true, support: cfg.support, generator: new T.Generator(seed) });
  await sampler.prepare();
  const curves: FastGCNSeedResult['curves'] = { trainLoss: [], valAcc: [], testAcc: [] };
  const memory: FastGCNSeedResult['memory'] = [];
  let best = { val: -1, valLoss: Infinity, test: 0, epoch: 0 };
  let trainSeconds = 0;
  let stepBytes = 0;
  const t0 = performance.now();
  try {
    for (let epoch = 1; epoch <= cfg.epochs; epoch++) {
      const e0 = performance.now();
      let lossSum = 0;
      let seen = 0;
      for await (const b of sampler) {
        try {
          const rest = bytesNow();
          const yb = T.indexSelect(g.y!, 0, b.nodes[1]);
          opt.zeroGrad();
          const loss = T.tidy(() => {
            const l = F.crossEntropy(model.forwardSampled(ax, b), yb);
            const forwardBytes = bytesNow();
            backward(l);
            stepBytes = Math.max(stepBytes, forwardBytes - rest, bytesNow() - rest);
            return l;
          });
          opt.step();
          opt.zeroGrad();
          lossSum += b.batchSize * (await loss.item());
          seen += b.batchSize;
          T.dispose([loss, yb]);
        } finally {
          b.dispose();
        }
        const m = T.memory();
        memory.push({ tensors: m.tensors, bytes: m.bytes });
        if (m.tensors > memory[0].tensors || m.bytes > memory[0].bytes) {
          throw new Error(`fastgcn: memory grew: ${m.tensors} tensors / ${m.bytes} bytes after step ${memory.length}, ${memory[0].tensors} / ${memory[0].bytes} after the first step (a leak)`);
        }
      }
      trainSeconds += (performance.now() - e0) / 1000;
      const loss = lossSum / seen;
      if (!Number.isFinite(loss)) throw new Error(`fastgcn: training loss is ${loss} at epoch ${epoch} (seed ${seed})`);
      const ev = await evaluate(model, ax, adj, d);
      curves.trainLoss.push(loss);
      curves.valAcc.push(ev.val);
      curves.testAcc.push(ev.test);
      if (ev.val > best.val || (ev.val === best.val && ev.valLoss < best.valLoss)) best = { val: ev.val, valLoss: ev.valLoss, test: ev.test, epoch };
      if (epoch % 10 === 0 || epoch === 1) {
        log(`\r  FastGCN seed ${seed} epoch ${epoch}/${cfg.epochs} loss ${loss.toFixed(4)} val ${(ev.val * 100).toFixed(1)} test ${(ev.test * 100).toFixed(1)} | best val ${(best.val * 100).toFixed(1)} @${best.epoch} | ${((performance.now() - t0) / 1000 / epoch).toFixed(3)} s/epoch, ${T.memory().tensors} tensors   `);
      }
    }
  } finally {
    for (const st of opt.state.values()) T.dispose(Object.values(st).filter(T.isTensor));
    model.dispose();
  }
  log(`\n  FastGCN seed ${seed}: test ${(best.test * 100).toFixed(2)} % at epoch ${best.epoch} (val ${(best.val * 100).toFixed(2)} %)\n`);
  const epochs = cfg.epochs;
  return { seed, testAccuracy: best.test, valAccuracy: best.val, bestEpoch: best.epoch, secondsPerEpoch: (performance.now() - t0) / 1000 / epochs, trainSecondsPerEpoch: trainSeconds / epochs, stepBytes, curves, memory };
}

/** The working memory of one full-batch GCN training step (GCN_SPEC's model and optimiser), measured as for FastGCN. */
async function gcnStepBytes(d: Loaded, device: T.DeviceName): Promise<number> {
  T.manualSeed(0);
  const g = d.graph;
  const model = GCN_SPEC.makeModel(g.numNodeFeatures, d.numClasses);
  await model.to(device);
  model.train();
  const opt = GCN_SPEC.makeOptimizer(model);
  let peak = 0;
  try {
    // the second step: the first also builds the cached normalised graph and Adam's state
    for (let i = 0; i < 2; i++) {
      const rest = bytesNow();
      opt.zeroGrad();
      const loss = T.tidy(() => {
        const l = F.crossEntropy(T.indexSelect(model.forward(g.x!, g.edgeIndex!), 0, d.idx.train), d.y.train);
        const forwardBytes = bytesNow();
        backward(l);
        peak = Math.max(forwardBytes, bytesNow()) - rest;
        return l;
      });
      opt.step();
      opt.zeroGrad();
      loss.dispose();
    }
  } finally {
    for (const st of opt.state.values()) T.dispose(Object.values(st).filter(T.isTensor));
    model.dispose();
  }
  return peak;
}

/** FastGCN on one dataset over several seeds, and (by default) full-batch GCN with the same seeds. */
export async function runFastGcn(o: FastGCNRunOptions): Promise<FastGCNDatasetResult> {
  const device = o.device ?? 'cpu';
  const cfg: FastGCNConfig = { ...FASTGCN_CONFIG, ...o.config, ...(o.epochs !== undefined ? { epochs: o.epochs } : {}) };
  const log = (s: string) => o.progress !== false && process.stderr.write(s);
  await T.init({ device });
  T.setDefaultDevice(device);
  const seeds = typeof o.seeds === 'number' ? Array.from({ length: o.seeds }, (_, i) => i) : o.seeds;
  const d = await loadPlanetoid(o.dataset, device);
  const rs: FastGCNSeedResult[] = [];
  let gcnBytes = 0;
  try {
    // Â and ÂX once per run (the sampler builds the same Â for every seed)
    const s = await new FastGCNSampler(d.graph, { numSamples: [1] }).prepare();
    const adj = s.adjacency();
    const ax = T.keep(T.spmm(adj, d.graph.x!));
    try {
      for (const seed of seeds) {
        log(`FastGCN on ${o.dataset}, seed ${seed} (${rs.length + 1}/${seeds.length}), device ${device}\n`);
        rs.push(await trainSeed(d, ax, adj, seed, cfg, device, log));
      }
    } finally {
      ax.dispose();
      adj.dispose();
    }
    if (o.baseline !== false) gcnBytes = await gcnStepBytes(d, device);
  } finally {
    d.dispose();
  }
  const accuracies = rs.map((r) => r.testAccuracy * 100);
  const result: FastGCNDatasetResult = { dataset: o.dataset, fastgcn: { seeds: rs, accuracies, mean: mean(accuracies), std: std(accuracies) } };
  if (o.baseline !== false) {
    const gcn = await runNodeClassification(GCN_SPEC, { dataset: o.dataset, seeds, epochs: o.epochs, device, progress: o.progress });
    result.gcn = { result: gcn, stepBytes: gcnBytes };
    result.delta = result.fastgcn.mean - gcn.meanAccuracy;
  }
  if (o.out) writeReport(o.out, result, cfg, device);
  return result;
}

const mib = (b: number) => `${(b / 2 ** 20).toFixed(2)} MiB`;

export function fastGcnTable(r: FastGCNDatasetResult, cfg: FastGCNConfig): string {
  const lines = [
    '| model | dataset | split | checkpoint rule | runs | test acc. mean ± std (%) | s / epoch (train + eval) | train s / epoch | step memory |',
    '|---|---|---|---|---:|---:|---:|---:|---:|',
  ];
  const f = r.fastgcn;
  lines.push(`| FastGCN (t = ${cfg.numSamples}, batch ${cfg.batchSize}, support ${cfg.support}) | ${r.dataset} | ${SPLIT} | ${CHECKPOINT}; ${cfg.epochs} epochs | ${f.seeds.length} | ${f.mean.toFixed(2)} ± ${f.std.toFixed(2)} | ${mean(f.seeds.map((s) => s.secondsPerEpoch)).toFixed(3)} | ${mean(f.seeds.map((s) => s.trainSecondsPerEpoch)).toFixed(3)} | ${mib(Math.max(...f.seeds.map((s) => s.stepBytes)))} |`);
  if (r.gcn) {
    const g = r.gcn.result;
    lines.push(`| GCN, full batch (gcn.ts) | ${r.dataset} | ${SPLIT} | ${g.row.checkpoint} | ${g.seeds.length} | ${g.meanAccuracy.toFixed(2)} ± ${g.stdAccuracy.toFixed(2)} | ${mean(g.seeds.map((s) => s.secondsPerEpoch)).toFixed(3)} | — | ${mib(r.gcn.stepBytes)} |`);
  }
  return lines.join('\n');
}

function writeReport(out: string, r: FastGCNDatasetResult, cfg: FastGCNConfig, device: string): void {
  mkdirSync(out, { recursive: true });
  const f = r.fastgcn;
  writeFileSync(
    `${out}/metrics.json`,
    JSON.stringify({
      dataset: r.dataset, config: cfg, delta: r.delta,
      fastgcn: { ...f, seeds: f.seeds.map(({ memory, ...s }) => ({ ...s, memory: [memory[0], memory[memory.length - 1]] })) },
      gcn: r.gcn && { row: r.gcn.result.row, meanAccuracy: r.gcn.result.meanAccuracy, stdAccuracy: r.gcn.result.stdAccuracy, stepBytes: r.gcn.stepBytes, secondsPerEpoch: r.gcn.result.seeds.map((s) => s.secondsPerEpoch) },
    }, null, 2),
  );
  const s0 = f.seeds[0];
  const g0 = r.gcn?.result.seeds[0];
  writeFileSync(
    `${out}/curves.svg`,
    lineChartsSvg([
      { title: `${r.dataset} seed ${s0.seed}: training loss`, series: [{ label: 'FastGCN (sampled)', values: s0.curves.trainLoss, color: '#ff7f0e' }, ...(g0 ? [{ label: 'GCN full batch', values: g0.curves.trainLoss, color: '#1f77b4' }] : [])] },
      { title: 'validation accuracy', series: [{ label: 'FastGCN', values: s0.curves.valAcc, color: '#ff7f0e' }, ...(g0 ? [{ label: 'GCN full batch', values: g0.curves.valAcc, color: '#1f77b4' }] : [])] },
    ]),
  );
  const verdict = r.delta === undefined ? '' : `FastGCN − full-batch GCN: ${r.delta >= 0 ? '+' : ''}${r.delta.toFixed(2)} points (target: ≥ −${FASTGCN_MARGIN}): **${r.delta >= -FASTGCN_MARGIN ? 'met' : 'NOT met'}**.`;
  const md = [
    `# FastGCN on ${r.dataset} against full-batch GCN`,
    '',
    `- Model: out = Â · relu(ÂX W0 + b0) W1 + b1, hidden ${cfg.hidden}, dropout ${cfg.dropout} (input and hidden), Adam lr ${cfg.lr}, weight decay ${cfg.weightDecay} on the first layer, ${cfg.epochs} epochs — GCN's architecture and optimiser (gcn.ts)`,
    `- Sampling: ÂX precomputed once; per batch of ${cfg.batchSize} training nodes (shuffled), t = ${cfg.numSamples} nodes drawn i.i.d. from q(u) ∝ ‖Â(:, u)‖²${cfg.support === 'batch' ? ' restricted to the batch\'s neighbours' : ' over all nodes'}; the outer propagation is the unbiased estimate Σ_j Â(v, u_j) h(u_j) / (t q(u_j)). Inference: exact Â.`,
    `- Data: Planetoid ${r.dataset}, ${SPLIT}; features row-normalised`,
    `- Checkpoint rule: ${CHECKPOINT}, evaluated every epoch. Device: ${device}; seeds ${f.seeds.map((s) => s.seed).join(', ')}`,
    '- Step memory: T.memory().bytes after the loss (forward pass) or after backward inside a training step, whichever is larger, minus the bytes alive before the step; largest over the run (GCN: its second step). It leaves out the resident data (X, ÂX, the graph) and the parameters.',
    '- The paper reports FastGCN on the full-supervised split (Cora 85.0 %), not comparable here; the target is FastGCN within 1.5 points of full-batch GCN.',
    '',
    fastGcnTable(r, cfg),
    '',
    verdict,
    '',
    '| seed | test acc. (%) | val acc. (%) | best epoch | s / epoch | memory (tensors, first step → last) |',
    '|---:|---:|---:|---:|---:|---|',
    ...f.seeds.map((s) => `| ${s.seed} | ${(s.testAccuracy * 100).toFixed(2)} | ${(s.valAccuracy * 100).toFixed(2)} | ${s.bestEpoch} | ${s.secondsPerEpoch.toFixed(3)} | ${s.memory[0].tensors} → ${s.memory[s.memory.length - 1].tensors} |`),
    '',
    `![training loss and validation accuracy, seed ${s0.seed}](curves.svg)`,
    '',
  ].join('\n');
  writeFileSync(`${out}/report.md`, md);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const o = parseGraphCli(process.argv.slice(2), { dataset: 'Cora', seeds: 10, datasets: ['Cora', 'CiteSeer'] });
  const out = o.out ?? fileURLToPath(new URL(`../../out/fastgcn-${o.dataset.toLowerCase()}`, import.meta.url));
  const r = await runFastGcn({ dataset: o.dataset as PlanetoidName, seeds: o.seeds, epochs: o.epochs, device: o.device, out });
  console.log(fastGcnTable(r, { ...FASTGCN_CONFIG, ...(o.epochs ? { epochs: o.epochs } : {}) }));
  if (r.delta !== undefined) console.log(`FastGCN − full-batch GCN: ${r.delta.toFixed(2)} points (target ≥ −${FASTGCN_MARGIN})`);
  console.log(`report in ${out}/report.md`);
  await T.shutdown();
}
