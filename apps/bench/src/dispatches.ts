/**
 * Dispatches per run and medians of Tessera's webgpu workloads with elementwise fusion on and off
 * (TESSERA_WEBGPU_FUSION=0), in one run: `tsx src/dispatches.ts [--workloads a,b] [--out dir]`.
 * Writes dispatches.md next to the main results.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { parseMessage } from './protocol.js';
import { WORKLOADS } from './spec.js';

const PKG = join(dirname(fileURLToPath(import.meta.url)), '..');
const { values } = parseArgs({ options: { workloads: { type: 'string', default: 'mlp,gcn,gat,conv,knn,add-1m' }, out: { type: 'string', default: join(PKG, 'results') }, repeats: { type: 'string', default: '7' } } });
const ids = String(values.workloads).split(',').filter(Boolean);

interface Row { median?: number; dispatches?: number; error?: string }
function measure(fusion: boolean): Map<string, Row> {
  const r = spawnSync('npx', ['tsx', 'src/systems/tessera.ts', '--device', 'webgpu', '--workloads', ids.join(','), '--repeats', String(values.repeats)], {
    cwd: PKG,
    encoding: 'utf8',
    env: { ...process.env, TESSERA_WEBGPU_FUSION: fusion ? '1' : '0' },
    maxBuffer: 1 << 26,
  });
  if (r.status !== 0) throw new Error(`tessera runner failed (fusion ${fusion ? 'on' : 'off'}):\n${r.stderr.slice(-2000)}`);
  const rows = new Map<string, Row>();
  for (const line of r.stdout.split('\n')) {
    const m = parseMessage(line);
    if (m?.type !== 'result') continue;
    if (m.status !== 'ok') {
      rows.set(m.workload, { error: m.reason });
      continue;
    }
    const t = [...m.times].sort((a, b) => a - b);
    const d = /(\d+) dispatches per run/.exec(m.note ?? '');
    rows.set(m.workload, { median: t[Math.floor(t.length / 2)], dispatches: d ? Number(d[1]) : undefined });
  }
  return rows;
}

// Twice each, alternating (off, on, off, on), keeping each workload's lower median: the second
// process of a pair is not favoured by the order.
const best = (a: Map<string, Row>, b: Map<string, Row>) => new Map([...a].map(([id, r]) => {
  const q = b.get(id);
  return [id, q?.median !== undefined && (r.median === undefined || q.median < r.median) ? q : r];
}));
const off1 = measure(false);
const on1 = measure(true);
const off = best(off1, measure(false));
const on = best(on1, measure(true));
const title = (id: string) => WORKLOADS.find((w) => w.id === id)?.title ?? id;
const fmt = (x?: number) => (x === undefined ? '—' : x < 10 ? x.toFixed(2) : x.toFixed(1));
const lines = [
  '# Tessera webgpu: dispatches per run, elementwise fusion off and on',
  '',
  `Command: \`npx tsx src/dispatches.ts\` (apps/bench), ${new Date().toISOString().slice(0, 10)}. Each row is one run of the workload as in the main table (forward, backward, optimizer step where it has one, results read back); medians in ms over ${values.repeats} runs, the lower of two processes per mode (run alternately).`,
  '',
  '| workload | dispatches, fusion off | dispatches, fusion on | median ms, off | median ms, on |',
  '|---|---:|---:|---:|---:|',
  ...ids.map((id) => {
    const a = off.get(id) ?? {};
    const b = on.get(id) ?? {};
    return `| ${title(id)} | ${a.dispatches ?? a.error ?? '—'} | ${b.dispatches ?? b.error ?? '—'} | ${fmt(a.median)} | ${fmt(b.median)} |`;
  }),
  '',
];
mkdirSync(String(values.out), { recursive: true });
writeFileSync(join(String(values.out), 'dispatches.md'), lines.join('\n'));
console.log(lines.join('\n'));
