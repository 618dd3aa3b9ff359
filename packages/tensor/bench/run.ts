/**
 * Micro-benchmarks of @tessera/tensor on every available device: matmul 256/1024/2048, add of 1M,
 * sum of 16M, scatterAdd 10,556x16, and spmm on Cora's adjacency (from TESSERA_DATA_DIR, default
 * ../shared/data). Each figure is the median of several runs after a warm-up, including the
 * readback that WebGPU needs to finish. Writes bench/results.md and bench/results.json.
 *
 *   pnpm --filter @tessera/tensor bench [-- --quick]
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as T from '../src/index.js';

const quick = process.argv.includes('--quick');
const reps = quick ? 3 : 7;
const dataDir = process.env.TESSERA_DATA_DIR ?? join(import.meta.dirname, '../../../../shared/data');

async function median(fn: () => T.Tensor | Promise<T.Tensor>, n = reps): Promise<number> {
  const times: number[] = [];
  for (let i = 0; i <= n; i++) {
    const t0 = performance.now();
    const out = await fn();
    await out.data();
    const dt = performance.now() - t0;
    out.dispose();
    if (i > 0) times.push(dt); // the first run warms up pipelines and the JIT
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)];
}

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
    rows.push({ workload: `matmul ${n}`, device, ms, note: `${((2 * n ** 3) / (ms * 1e6)).toFixed(2)} GFLOP/s` });
    a.dispose();
    b.dispose();
  }
  {
    const a = T.rand([1 << 20]);
    const b = T.rand([1 << 20]);
    const ms = await median(() => T.add(a, b));
    rows.push({ workload: 'add 1M', device, ms, note: `${((3 * 4 * (1 << 20)) / (ms * 1e6)).toFixed(2)} GB/s` });
    a.dispose();
    b.dispose();
  }
  {
    const a = T.rand([1 << 24]);
    const ms = await median(() => T.sum(a));
    rows.push({ workload: 'sum 16M', device, ms, note: `${((4 * (1 << 24)) / (ms * 1e6)).toFixed(2)} GB/s` });
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
    rows.push({ workload: `scatterAdd ${E}x16`, device, ms, note: `into ${N}x16` });
    for (const t of [src, index, idx2, base]) t.dispose();
  }
  if (cora) {
    const indices = T.stack([T.tensor(cora.dst), T.tensor(cora.src)]);
    const adj = T.sparseCooTensor(indices, T.ones([E]), [N, N]);
    const x = T.rand([N, 16]);
    const ms = await median(() => T.spmm(adj, x));
    rows.push({ workload: `spmm Cora (${N}, ${E} nnz) x 16`, device, ms, note: '' });
    adj.dispose();
    x.dispose();
    indices.dispose();
  } else {
    rows.push({ workload: 'spmm Cora', device, ms: NaN, note: `skipped: no Cora files under ${dataDir}` });
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
for (const d of T.deviceInfo().available) {
  process.stdout.write(`benchmarking ${d}...\n`);
  await run(d);
}
T.setDefaultDevice(info.device);
const table = ['| workload | device | median ms | note |', '|---|---|---:|---|', ...rows.map((r) => `| ${r.workload} | ${r.device} | ${Number.isNaN(r.ms) ? '—' : r.ms.toFixed(3)} | ${r.note} |`)].join('\n');
const header = `# @tessera/tensor micro-benchmarks\n\nNode ${process.version}; webgpu adapter: ${adapter ? `${adapter.description} (${adapter.isFallbackAdapter ? 'software' : 'hardware'})` : 'none'}; ${reps} runs after a warm-up, readback included.\n\n`;
writeFileSync(join(import.meta.dirname, 'results.md'), header + table + '\n');
writeFileSync(join(import.meta.dirname, 'results.json'), JSON.stringify({ node: process.version, adapter, rows }, null, 2));
console.log(table);
await T.shutdown();
