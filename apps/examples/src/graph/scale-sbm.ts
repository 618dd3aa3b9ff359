/**
 * Cluster-GCN at scale on a synthetic graph: a stochastic block model with 1,000,000 nodes and
 * 10,000,000 edges (edge-index columns, i.e. 5,000,000 undirected edges stored both ways; a
 * fraction `--inside` of them inside blocks), node features correlated with the block (the block's
 * random mean vector plus unit Gaussian noise), labels = block, half of the nodes for training and
 * a quarter each for validation and test. The graph is partitioned into `--parts` clusters and a
 * 2-layer GCN is trained with `--clusters-per-batch` clusters per step for `--epochs` epochs;
 * accuracy is measured batch by batch (clusters of the same size, between-batch edges left out),
 * so nothing of the size of the graph is materialised beyond the features, labels and the
 * permuted CSR.
 *
 * Reports: generation time, partition time (wall and CPU), balance and edge cut (next to the
 * planted cut), seconds per epoch, peak `T.memory()` tensor bytes and peak process RSS. Not run in
 * CI at full size (see test/cluster.test.ts for a 20k-node run).
 *
 *   pnpm --filter @tessera/examples scale-sbm -- [--nodes 1000000] [--edges 10000000] [--blocks 10]
 *     [--parts 1000] [--clusters-per-batch 20] [--epochs 2] [--seed 0] [--device cpu|webgpu] [--out DIR]
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import * as T from '@tessera/tensor';
import { backward, noGrad } from '@tessera/autodiff';
import { F } from '@tessera/nn';
import { Adam } from '@tessera/optimize';
import { ClusterData, ClusterLoader, Graph, maskToIndex, stochasticBlockModel } from '@tessera/graph';
import { parseFlags, positiveFlag } from '../lib/cli.js';
import { lineChartsSvg } from '../lib/svg.js';
import { ClusterGCNNet, normalizeAdjacency } from './cluster-gcn.js';

export interface ScaleSbmOptions {
  nodes?: number;
  /** Edge-index columns (each undirected edge counts twice). */
  edges?: number;
  blocks?: number;
  /** Fraction of the edges inside blocks (default 0.8). */
  inside?: number;
  features?: number;
  /** Scale of the block means relative to the unit noise (default 0.3). */
  signal?: number;
  parts?: number;
  clustersPerBatch?: number;
  hidden?: number;
  epochs?: number;
  seed?: number;
  device?: 'cpu' | 'webgpu';
  out?: string;
  progress?: boolean;
}

export interface ScaleSbmResult {
  settings: Required<Omit<ScaleSbmOptions, 'out' | 'progress'>>;
  numEdges: number;
  seconds: { generate: number; features: number; partition: number; partitionCpu: number; epochs: number[] };
  partition: { balance: number; edgeCut: number; totalEdges: number; plantedCut: number; minSize: number; maxSize: number };
  /** Mean training loss per epoch. */
  losses: number[];
  /** Loss of every step (all epochs). */
  stepLosses: number[];
  accuracy: { train: number; val: number; test: number };
  /** Accuracy before training (chance level check). */
  initialAccuracy: number;
  peakTensorBytes: number;
  /** Tensor bytes after each epoch (flat when nothing leaks). */
  memory: { tensors: number; bytes: number }[];
  peakRssBytes: number;
}

/** Node features: the block's mean (Gaussian, scaled by `signal`) plus unit Gaussian noise, built in chunks. */
function blockFeatures(n: number, blockOf: (u: number) => number, blocks: number, f: number, signal: number, gen: T.Generator): Float32Array {
  const means = gen.normal(blocks * f);
  const x = new Float32Array(n * f);
  const chunk = 1 << 16;
  for (let u0 = 0; u0 < n; u0 += chunk) {
    const u1 = Math.min(n, u0 + chunk);
    const noise = gen.normal((u1 - u0) * f);
    for (let u = u0; u < u1; u++) {
      const b = blockOf(u);
      for (let k = 0; k < f; k++) x[u * f + k] = signal * means[b * f + k] + noise[(u - u0) * f + k];
    }
  }
  return x;
}

export async function runScaleSbm(o: ScaleSbmOptions = {}): Promise<ScaleSbmResult> {
  const s: ScaleSbmResult['settings'] = {
    nodes: o.nodes ?? 1_000_000,
    edges: o.edges ?? 10_000_000,
    blocks: o.blocks ?? 10,
    inside: o.inside ?? 0.8,
    features: o.features ?? 32,
    signal: o.signal ?? 0.3,
    parts: o.parts ?? 1000,
    clustersPerBatch: o.clustersPerBatch ?? 20,
    hidden: o.hidden ?? 64,
    epochs: o.epochs ?? 2,
    seed: o.seed ?? 0,
    device: o.device ?? 'cpu',
  };
  const log = (m: string) => o.progress !== false && process.stderr.write(m);
  await T.init({ device: s.device });
  T.setDefaultDevice(s.device);
  T.manualSeed(s.seed);
  // the process's peak resident set size so far (maxRSS is in KiB)
  const rss = () => process.resourceUsage().maxRSS * 1024;
  const N = s.nodes;
  const B = s.blocks;
  const sizes = Array.from({ length: B }, (_, b) => Math.floor(N / B) + (b < N % B ? 1 : 0));
  const starts = [0];
  for (const size of sizes) starts.push(starts[starts.length - 1] + size);
  const blockOf = (u: number) => {
    let b = Math.min(B - 1, Math.floor(u / (N / B)));
    while (u < starts[b]) b--;
    while (u >= starts[b + 1]) b++;
    return b;
  };
  // probabilities that give `edges` columns in expectation, a fraction `inside` within blocks
  const pairsIn = sizes.reduce((a, n) => a + (n * (n - 1)) / 2, 0);
  const pairsOut = (N * (N - 1)) / 2 - pairsIn;
  const undirected = s.edges / 2;
  const pIn = Math.min(1, (s.inside * undirected) / pairsIn);
  const pOut = Math.min(1, ((1 - s.inside) * undirected) / pairsOut);

  let t0 = performance.now();
  const gen = new T.Generator(s.seed);
  const edgeIndex = stochasticBlockModel(sizes, { pIn, pOut }, { generator: gen, device: s.device });
  const generate = (performance.now() - t0) / 1000;
  const E = edgeIndex.shape[1];
  log(`SBM: ${N} nodes, ${B} blocks, ${E} edge-index columns in ${generate.toFixed(1)} s\n`);

  t0 = performance.now();
  const x = T.tensor(blockFeatures(N, blockOf, B, s.features, s.signal, gen), { shape: [N, s.features], device: s.device });
  const y = T.tensor(Int32Array.from({ length: N }, (_, u) => blockOf(u)), { dtype: 'int32', device: s.device });
  const split = gen.uniform(N);
  const mask = (lo: number, hi: number) => T.tensor(Uint8Array.from(split, (v) => (v >= lo && v < hi ? 1 : 0)), { dtype: 'bool', device: s.device });
  const graph = new Graph({ x, y, edgeIndex, trainMask: mask(0, 0.5), valMask: mask(0.5, 0.75), testMask: mask(0.75, 1), numNodes: N });
  const features = (performance.now() - t0) / 1000;
  // the planted cut: edges between blocks (each undirected edge once)
  const ei = (await edgeIndex.data()) as Int32Array;
  let planted = 0;
  for (let e = 0; e < E; e++) if (blockOf(ei[e]) !== blockOf(ei[E + e])) planted++;

  t0 = performance.now();
  const cpu0 = process.cpuUsage();
  let data: ClusterData | undefined;
  try {
    data = await ClusterData.create(graph, s.parts, { generator: new T.Generator(s.seed) });
    graph.dispose(); // the ClusterData holds its own views
    const partitionSeconds = (performance.now() - t0) / 1000;
    const partitionCpu = process.cpuUsage(cpu0).user / 1e6;
    const p = data.partition;
    const partition = { balance: p.balance, edgeCut: p.edgeCut, totalEdges: p.totalEdgeWeight, plantedCut: planted / 2, minSize: Math.min(...p.partSizes), maxSize: Math.max(...p.partSizes) };
    log(`partition: ${s.parts} clusters in ${partitionSeconds.toFixed(1)} s (${partitionCpu.toFixed(1)} s CPU), balance ${p.balance.toFixed(3)}, cut ${p.edgeCut} of ${p.totalEdgeWeight} edges (planted cut ${planted / 2})\n`);

    const model = new ClusterGCNNet(s.features, s.hidden, B, 0.5);
    await model.to(s.device);
    const opt = new Adam(model.parameters(), { lr: 0.01 });
    const loader = new ClusterLoader(data, { batchSize: s.clustersPerBatch, shuffle: true, generator: new T.Generator(s.seed + 1) });
    const evalLoader = new ClusterLoader(data, { batchSize: s.clustersPerBatch });
    const initialAccuracy = (await evaluate(model, evalLoader)).test;
    const losses: number[] = [];
    const stepLosses: number[] = [];
    const epochSeconds: number[] = [];
    const memory: ScaleSbmResult['memory'] = [];
    let peakTensorBytes = T.memory().bytes;
    try {
      for (let epoch = 1; epoch <= s.epochs; epoch++) {
        const te = performance.now();
        let steps = 0;
        let sum = 0;
        for (const batch of loader) {
          const trainIdx = await maskToIndex(batch.trainMask!);
          const adj = normalizeAdjacency(batch.edgeIndex!, batch.numNodes, 'gcn', 0);
          try {
            opt.zeroGrad();
            const loss = T.tidy(() => {
              const out = model.forward(batch.x!, adj.edgeIndex, adj.edgeWeight);
              const l = F.crossEntropy(T.indexSelect(out, 0, trainIdx), T.indexSelect(batch.y!, 0, trainIdx));
              peakTensorBytes = Math.max(peakTensorBytes, T.memory().bytes);
              backward(l);
              peakTensorBytes = Math.max(peakTensorBytes, T.memory().bytes);
              return l;
            });
            opt.step();
            opt.zeroGrad();
            const v = await loss.item();
            loss.dispose();
            if (!Number.isFinite(v)) throw new Error(`scale-sbm: training loss is ${v} at epoch ${epoch}, step ${steps + 1}`);
            stepLosses.push(v);
            sum += v;
            steps++;
          } finally {
            T.dispose([trainIdx, adj.edgeIndex, adj.edgeWeight]);
            batch.dispose();
          }
          if (steps % 10 === 0) log(`\r  epoch ${epoch}/${s.epochs} step ${steps}/${loader.length} loss ${(sum / steps).toFixed(4)} | ${((performance.now() - te) / 1000 / steps).toFixed(2)} s/step   `);
        }
        epochSeconds.push((performance.now() - te) / 1000);
        losses.push(sum / steps);
        const m = T.memory();
        memory.push({ tensors: m.tensors, bytes: m.bytes });
        log(`\r  epoch ${epoch}/${s.epochs}: loss ${(sum / steps).toFixed(4)}, ${epochSeconds[epochSeconds.length - 1].toFixed(1)} s, ${m.tensors} tensors / ${(m.bytes / 2 ** 20).toFixed(1)} MB live\n`);
      }
      const accuracy = await evaluate(model, evalLoader);
      log(`accuracy (batched evaluation): train ${(accuracy.train * 100).toFixed(1)} %, val ${(accuracy.val * 100).toFixed(1)} %, test ${(accuracy.test * 100).toFixed(1)} % (before training ${(initialAccuracy * 100).toFixed(1)} %)\n`);
      const result: ScaleSbmResult = {
        settings: s,
        numEdges: E,
        seconds: { generate, features, partition: partitionSeconds, partitionCpu, epochs: epochSeconds },
        partition,
        losses,
        stepLosses,
        accuracy,
        initialAccuracy,
        peakTensorBytes,
        memory,
        peakRssBytes: rss(),
      };
      if (o.out) writeReport(result, o.out);
      return result;
    } finally {
      for (const st of opt.state.values()) T.dispose(Object.values(st).filter(T.isTensor));
      model.dispose();
    }
  } finally {
    data?.dispose();
    if (!graph.isDisposed) graph.dispose();
  }
}

/** Accuracy on the train / val / test nodes, batch by batch (eval mode, no gradients). */
async function evaluate(model: ClusterGCNNet, loader: ClusterLoader): Promise<{ train: number; val: number; test: number }> {
  model.eval();
  const correct = [0, 0, 0];
  const total = [0, 0, 0];
  for (const batch of loader) {
    const adj = normalizeAdjacency(batch.edgeIndex!, batch.numNodes, 'gcn', 0);
    const counts = noGrad(() =>
      T.tidy(() => {
        const hit = T.eq(T.argmax(model.forward(batch.x!, adj.edgeIndex, adj.edgeWeight), { dim: 1 }), batch.y!).float();
        const masks = [batch.trainMask!, batch.valMask!, batch.testMask!].map((m) => m.float());
        return T.stack([...masks.map((m) => T.mul(hit, m).sum()), ...masks.map((m) => m.sum())]);
      }),
    );
    const v = await counts.data();
    for (let i = 0; i < 3; i++) {
      correct[i] += v[i];
      total[i] += v[3 + i];
    }
    T.dispose([counts, adj.edgeIndex, adj.edgeWeight]);
    batch.dispose();
  }
  model.train();
  return { train: correct[0] / total[0], val: correct[1] / total[1], test: correct[2] / total[2] };
}

const mb = (b: number) => `${(b / 2 ** 20).toFixed(1)} MB`;

function writeReport(r: ScaleSbmResult, out: string): void {
  mkdirSync(out, { recursive: true });
  writeFileSync(`${out}/metrics.json`, JSON.stringify(r, null, 2));
  writeFileSync(`${out}/loss.svg`, lineChartsSvg([{ title: 'Cluster-GCN on the SBM: training loss per step', series: [{ label: 'loss', values: r.stepLosses, color: '#d62728' }] }]));
  const s = r.settings;
  const p = r.partition;
  const md = [
    `# Cluster-GCN on a ${s.nodes.toLocaleString('en')}-node stochastic block model`,
    '',
    `- Graph: SBM, ${s.blocks} blocks, ${r.numEdges.toLocaleString('en')} edge-index columns (${(r.numEdges / 2).toLocaleString('en')} undirected edges), ${(s.inside * 100).toFixed(0)} % of them inside blocks in expectation; features ${s.features}-dim (block mean × ${s.signal} + N(0, 1)); labels = block; 50 / 25 / 25 % train / val / test nodes`,
    `- Model: GCNConv(${s.features}, ${s.hidden}) → ReLU → GCNConv(${s.hidden}, ${s.blocks}), dropout 0.5, Adam lr 0.01; D^-1/2 (A + I) D^-1/2 per batch; ${s.parts} clusters, ${s.clustersPerBatch} per batch (${Math.ceil(s.parts / s.clustersPerBatch)} steps per epoch), ${s.epochs} epochs; device ${s.device}, seed ${s.seed}`,
    '',
    '| quantity | value |',
    '|---|---:|',
    `| SBM generation | ${r.seconds.generate.toFixed(1)} s |`,
    `| features, labels, masks | ${r.seconds.features.toFixed(1)} s |`,
    `| partition + ClusterData (wall / CPU) | ${r.seconds.partition.toFixed(1)} s / ${r.seconds.partitionCpu.toFixed(1)} s |`,
    `| partition balance (largest / ideal) | ${p.balance.toFixed(3)} (sizes ${p.minSize}–${p.maxSize}) |`,
    `| edge cut | ${p.edgeCut.toLocaleString('en')} of ${p.totalEdges.toLocaleString('en')} (${((p.edgeCut / p.totalEdges) * 100).toFixed(1)} %); between blocks: ${p.plantedCut.toLocaleString('en')} |`,
    `| seconds per epoch | ${r.seconds.epochs.map((t) => t.toFixed(1)).join(', ')} |`,
    `| mean training loss per epoch | ${r.losses.map((l) => l.toFixed(4)).join(', ')} |`,
    `| accuracy train / val / test (batched) | ${(r.accuracy.train * 100).toFixed(1)} / ${(r.accuracy.val * 100).toFixed(1)} / ${(r.accuracy.test * 100).toFixed(1)} % (before training: ${(r.initialAccuracy * 100).toFixed(1)} %) |`,
    `| peak T.memory() tensor bytes | ${mb(r.peakTensorBytes)} |`,
    `| tensor bytes after each epoch | ${r.memory.map((m) => mb(m.bytes)).join(', ')} |`,
    `| peak process RSS | ${mb(r.peakRssBytes)} |`,
    '',
    `With ${s.parts} clusters the cut is far above the between-block cut: a cluster of ${Math.round(s.nodes / s.parts)} nodes in a random-looking block keeps few of its nodes' ~${Math.round(r.numEdges / s.nodes)} neighbours. Cluster-GCN only needs each batch to keep many edges, which merging ${s.clustersPerBatch} clusters per batch helps.`,
    '',
    '![training loss per step](loss.svg)',
    '',
  ].join('\n');
  writeFileSync(`${out}/report.md`, md);
}

const USAGE = 'flags: --nodes N --edges N --blocks N --parts K --clusters-per-batch Q --hidden H --epochs N --seed N --device cpu|webgpu --out DIR';

export function parseScaleCli(argv: string[]): ScaleSbmOptions & { device: 'cpu' | 'webgpu'; out: string | undefined } {
  const o: ScaleSbmOptions & { device: 'cpu' | 'webgpu'; out: string | undefined } = { device: 'cpu', out: undefined };
  parseFlags(argv, USAGE, o, (flag, v) => {
    const int = () => positiveFlag(flag, v, true, USAGE);
    switch (flag) {
      case '--nodes': o.nodes = int(); break;
      case '--edges': o.edges = int(); break;
      case '--blocks': o.blocks = int(); break;
      case '--parts': o.parts = int(); break;
      case '--clusters-per-batch': o.clustersPerBatch = int(); break;
      case '--hidden': o.hidden = int(); break;
      case '--epochs': o.epochs = int(); break;
      case '--seed':
        if (!Number.isInteger(Number(v)) || Number(v) < 0) throw new Error(`--seed: expected a non-negative integer, received ${v}; ${USAGE}`);
        o.seed = Number(v);
        break;
      default: return false;
    }
    return true;
  });
  return o;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const o = parseScaleCli(process.argv.slice(2));
  const out = o.out ?? fileURLToPath(new URL('../../out/scale-sbm', import.meta.url));
  const r = await runScaleSbm({ ...o, out });
  console.log(`partition ${r.seconds.partition.toFixed(1)} s, epochs ${r.seconds.epochs.map((t) => t.toFixed(1)).join(' / ')} s, test accuracy ${(r.accuracy.test * 100).toFixed(1)} %, peak tensors ${mb(r.peakTensorBytes)}, peak RSS ${mb(r.peakRssBytes)}`);
  console.log(`report in ${out}/report.md`);
  await T.shutdown();
}
