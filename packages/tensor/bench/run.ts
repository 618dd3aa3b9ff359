/**
 * Micro-benchmarks of @tessera/tensor on every available device: matmul 256/1024/2048, add of 1M,
 * sum of 16M, scatterAdd 10,556x16, spmm on Cora's adjacency (from TESSERA_DATA_DIR, default
 * ../shared/data), conv2d forward and backward (batch 64 of 1x28x28, 32 filters 3x3: the ops
 * @tessera/autodiff runs for it), and kNN (k = 20 in 16 clouds of 1,024 3-D points). Each figure
 * is the median of several runs after a warm-up, including the readback that WebGPU needs to
 * finish; on webgpu the note also gives the dispatches one run records. Writes bench/results.md
 * and bench/results.json (rows of devices not benchmarked this time are kept from the last run).
 *
 *   pnpm --filter @tessera/tensor bench [-- --quick] [-- --device=webgpu]
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as T from '../src/index.js';

const quick = process.argv.includes('--quick');
const only = process.argv.find((a) => a.startsWith('--device='))?.slice('--device='.length);
const reps = quick ? 3 : 7;
const dataDir = process.env.TESSERA_DATA_DIR ?? join(import.meta.dirname, '../../../../shared/data');

/** Dispatches recorded by the last timed run (webgpu). */
let lastDispatches = 0;

async function median(fn: () => T.Tensor | Promise<T.Tensor>, n = reps): Promise<number> {
  const times: number[] = [];
  for (let i = 0; i <= n; i++) {
    const d0 = T.webgpuStats().dispatches;
    const t0 = performance.now();
    const out = await fn();
    await out.data();
    const dt = performance.now() - t0;
    lastDispatches = T.webgpuStats().dispatches - d0;
    out.dispose();
    if (i > 0) times.push(dt); // the first run warms up pipelines and the JIT
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)];
}

/** The note of a row, with the dispatch count on webgpu. */
const noted = (device: T.DeviceName, note: string) => (device === 'webgpu' ? [note, `${lastDispatches} dispatches`].filter(Boolean).join('; ') : note);

/** Cora's citation graph as directed edges (both directions, duplicates removed): 10,556 for the full graph. */
function coraEdges(): { n: number; src: Int32Array; dst: Int32Array } | null {
  const cites = join(dataDir, 'cora_linqs/cora.cites');
  const content = join(dataDir, 'cora_linqs/cora.content');
  if (!existsSync(cites) || !existsSync(content)) return null;
  const ids = new Map<string, number>();
  for (const line of readFileSync(content, 'utf8').split('\n')) {
    const id = line.slice(0, line.indexOf('\t'));
    if (id) ids.set(id, ids.size);
  }
  const seen = new Set<number>();
  const s: number[] = [];
  const d: number[] = [];
  for (const line of readFileSync(cites, 'utf8').split('\n')) {
    const [a, b] = line.trim().split(/\s+/);
    if (!a || !b || !ids.has(a) || !ids.has(b)) continue;
    const u = ids.get(a)!;
    const v = ids.get(b)!;
    if (u === v) continue;
    for (const [x, y] of [[u, v], [v, u]]) {
      const key = x * 100000 + y;
      if (!seen.has(key)) {
        seen.add(key);
        s.push(x);
        d.push(y);
      }
    }
  }
  return { n: ids.size, src: Int32Array.from(s), dst: Int32Array.from(d) };
}

interface Row { workload: string; device: string; ms: number; note: string }
const rows: Row[] = [];

async function run(device: T.DeviceName) {
  T.setDefaultDevice(device);
  T.manualSeed(0);
  const sizes = quick ? [256, 1024] : [256, 1024, 2048];
  for (const n of sizes) {
    const a = T.rand([n, n]);
    const b = T.rand([n, n]);
    const ms = await median(() => T.matmul(a, b), n >= 2048 ? Math.min(reps, 3) : reps);
    rows.push({ workload: `matmul ${n}`, device, ms, note: noted(device, `${((2 * n ** 3) / (ms * 1e6)).toFixed(2)} GFLOP/s`) });
    a.dispose();
    b.dispose();
  }
  {
    const a = T.rand([1 << 20]);
    const b = T.rand([1 << 20]);
    const ms = await median(() => T.add(a, b));
    rows.push({ workload: 'add 1M', device, ms, note: noted(device, `${((3 * 4 * (1 << 20)) / (ms * 1e6)).toFixed(2)} GB/s`) });
    a.dispose();
    b.dispose();
  }
  {
    const a = T.rand([1 << 24]);
    const ms = await median(() => T.sum(a));
    rows.push({ workload: 'sum 16M', device, ms, note: noted(device, `${((4 * (1 << 24)) / (ms * 1e6)).toFixed(2)} GB/s`) });
    a.dispose();
  }
  const cora = coraEdges();
  const E = cora ? cora.src.length : 10556;
  const N = cora ? cora.n : 2708;
  {
    const src = T.rand([E, 16]);
    const index = cora ? T.tensor(cora.dst) : T.randint(0, N, [E]);
    const idx2 = index.reshape([E, 1]).expand([E, 16]);
    const base = T.zeros([N, 16]);
    const ms = await median(() => T.scatterAdd(base, 0, idx2, src));
    rows.push({ workload: `scatterAdd ${E}x16`, device, ms, note: noted(device, `into ${N}x16`) });
    for (const t of [src, index, idx2, base]) t.dispose();
  }
  if (cora) {
    const indices = T.stack([T.tensor(cora.dst), T.tensor(cora.src)]);
    const adj = T.sparseCooTensor(indices, T.ones([E]), [N, N]);
    const x = T.rand([N, 16]);
    const ms = await median(() => T.spmm(adj, x));
    rows.push({ workload: `spmm Cora (${N}, ${E} nnz) x 16`, device, ms, note: noted(device, '') });
    adj.dispose();
    x.dispose();
    indices.dispose();
  } else {
    rows.push({ workload: 'spmm Cora', device, ms: NaN, note: `skipped: no Cora files under ${dataDir}` });
  }
  {
    // Conv2d(1, 32, 3) on a batch of 64 MNIST-sized images: the forward with bias, then what
    // autodiff runs for the layer's gradients (weight: a conv with batch and channels exchanged;
    // bias: a sum), and separately the input gradient (a transposed conv) for a layer that needs it.
    const x = T.rand([64, 1, 28, 28]);
    const w = T.rand([32, 1, 3, 3]);
    const b = T.rand([32]);
    const gy = T.rand([64, 32, 26, 26]);
    let ms = await median(() => T.tidy(() => {
      const y = T.conv2d(x, w, b);
      const dw = T.transpose(T.conv2d(T.permute(x, [1, 0, 2, 3]), T.permute(gy, [1, 0, 2, 3])), 0, 1);
      const db = T.sum(gy, { dim: [0, 2, 3] });
      return T.stack([T.sum(y), T.sum(dw), T.sum(db)]);
    }));
    rows.push({ workload: 'conv2d 64x1x28x28, 32 3x3: fwd + dW + db', device, ms, note: noted(device, '') });
    ms = await median(() => T.convTranspose2d(gy, w));
    rows.push({ workload: 'conv2d 64x1x28x28, 32 3x3: dX', device, ms, note: noted(device, 'convTranspose2d') });
    for (const t of [x, w, b, gy]) t.dispose();
  }
  {
    const clouds = T.rand([16, 1024, 3]);
    const ms = await median(() => T.tidy(() => T.topk(T.cdist(clouds, clouds), 20, { largest: false }).indices), quick ? 1 : 3);
    rows.push({ workload: 'kNN k=20, 16 x 1,024 3-D points', device, ms, note: noted(device, 'cdist + topk') });
    clouds.dispose();
  }
}

const info = await T.init({ device: 'auto' });
if (!T.isAvailable('webgpu')) {
  try {
    await T.init({ device: 'webgpu' });
  } catch {
    console.log('webgpu: no adapter; benchmarking cpu only');
  }
}
const adapter = T.deviceInfo().adapter;
const devices = T.deviceInfo().available.filter((d) => !only || d === only);
for (const d of devices) {
  process.stdout.write(`benchmarking ${d}...\n`);
  await run(d);
}
T.setDefaultDevice(info.device);
// Keep the last results of devices not benchmarked now.
const previous = join(import.meta.dirname, 'results.json');
if (existsSync(previous)) {
  const kept = (JSON.parse(readFileSync(previous, 'utf8')).rows as Row[]).filter((r) => !devices.includes(r.device as T.DeviceName));
  rows.unshift(...kept);
}
const table = ['| workload | device | median ms | note |', '|---|---|---:|---|', ...rows.map((r) => `| ${r.workload} | ${r.device} | ${r.ms === null || Number.isNaN(r.ms) ? '—' : r.ms.toFixed(3)} | ${r.note} |`)].join('\n');
const header = `# @tessera/tensor micro-benchmarks\n\nNode ${process.version}; webgpu adapter: ${adapter ? `${adapter.description} (${adapter.isFallbackAdapter ? 'software' : 'hardware'})` : 'none'}; ${reps} runs after a warm-up, readback included.\n\n`;
writeFileSync(join(import.meta.dirname, 'results.md'), header + table + '\n');
writeFileSync(join(import.meta.dirname, 'results.json'), JSON.stringify({ node: process.version, adapter, rows }, null, 2));
console.log(table);
await T.shutdown();
