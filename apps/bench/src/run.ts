/**
 * Side-by-side benchmarks: runs each system in its own child process (one after another), collects
 * their timings, and writes results.md + results.json with medians, ratios to the fastest system
 * per workload and the issue's targets evaluated.
 *
 *   pnpm --filter @tessera/bench bench [-- --systems tessera-cpu,torch-cpu --workloads gcn,mlp --repeats 7 --quick]
 *
 * A runner that hangs or crashes loses only the workload it was on: the orchestrator kills it
 * after `--timeout` seconds without a result, records "timeout" (or "error"), and starts it again
 * on the remaining workloads.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, freemem, loadavg, release, tmpdir, totalmem } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { median } from './harness.js';
import { ensureInputs } from './inputs.js';
import { parseMessage } from './protocol.js';
import { evaluateTargets, finishCells, markdown, type Cell, type SystemRun } from './report.js';
import { GAT, GRAPH, SHAPES, SYSTEM_IDS, SYSTEMS, WORKLOAD_IDS, WORKLOADS, type SystemSpec, type WorkloadId } from './spec.js';

const PKG = resolve(import.meta.dirname, '..');

const { values: flags } = parseArgs({
  options: {
    systems: { type: 'string', default: SYSTEM_IDS.join(',') },
    workloads: { type: 'string', default: WORKLOAD_IDS.join(',') },
    repeats: { type: 'string' },
    warmup: { type: 'string' },
    'warmup-s': { type: 'string' },
    budget: { type: 'string' },
    timeout: { type: 'string' },
    threads: { type: 'string', default: String(cpus().length) },
    python: { type: 'string', default: existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3' },
    out: { type: 'string', default: join(PKG, 'results') },
    quick: { type: 'boolean', default: false },
    verbose: { type: 'boolean', default: false },
    help: { type: 'boolean', default: false },
  },
});

if (flags.help) {
  console.log(`usage: tsx src/run.ts [options]
  --systems a,b      some of ${SYSTEM_IDS.join(', ')}
  --workloads a,b    some of ${WORKLOAD_IDS.join(', ')}
  --repeats N        timed runs per workload (default 7; 2 with --quick)
  --warmup N         untimed runs first (default 2; 1 with --quick; 1 when a run takes over 1 s)
  --warmup-s S       and more untimed runs until S seconds of warm-up have passed, at most 50 (default 1; 0 with --quick)
  --budget S         seconds of timed runs after which no new repeat starts (default 10; 2 with --quick)
  --timeout S        seconds a workload (each formulation of it) may take before its runner is killed (default 240; 120 with --quick)
  --threads N        threads for systems that take a count (default: the number of cores, ${cpus().length})
  --python PATH      interpreter for the PyTorch runner (default /usr/bin/python3)
  --out DIR          where results.md and results.json go (default apps/bench/results)
  --quick            few repeats, for a smoke test
  --verbose          echo what the runners print`);
  process.exit(0);
}

const pick = <T extends string>(what: string, list: string, known: readonly T[]): T[] => {
  const items = list.split(',').filter(Boolean);
  for (const x of items) if (!known.includes(x as T)) throw new Error(`unknown ${what} '${x}'; expected some of ${known.join(', ')}`);
  return items as T[];
};
const systems = pick('system', flags.systems!, SYSTEM_IDS).map((id) => SYSTEMS.find((s) => s.id === id)!);
const workloads = pick('workload', flags.workloads!, WORKLOAD_IDS);
const quick = flags.quick!;
const settings = {
  repeats: Number(flags.repeats ?? (quick ? 2 : 7)),
  warmup: Number(flags.warmup ?? (quick ? 1 : 2)),
  warmupS: Number(flags['warmup-s'] ?? (quick ? 0 : 1)),
  budget: Number(flags.budget ?? (quick ? 2 : 10)),
  timeout: Number(flags.timeout ?? (quick ? 120 : 240)),
  threads: Number(flags.threads),
};
for (const [k, v] of Object.entries(settings)) {
  if (k === 'warmupS' ? !(v >= 0) : !(v > 0)) throw new Error(`--${k === 'warmupS' ? 'warmup-s' : k} must be a ${k === 'warmupS' ? 'number >= 0' : 'positive number'}, received ${v}`);
}

// Fresh inputs for every run (the runners' own default is a cache that could predate the data files).
const inputs = ensureInputs(mkdtempSync(join(tmpdir(), 'tessera-bench-inputs-')));
const inputMeta = JSON.parse(readFileSync(join(inputs, 'meta.json'), 'utf8')) as { source: string; edges: number; nnz: number };

function runnerArgs(pending: WorkloadId[]): string[] {
  const s = settings;
  return ['--workloads', pending.join(','), '--repeats', `${s.repeats}`, '--warmup', `${s.warmup}`, '--warmup-s', `${s.warmupS}`, '--budget', `${s.budget}`, '--threads', `${s.threads}`, '--inputs', inputs];
}

function command(sys: SystemSpec, pending: WorkloadId[]): [string, string[]] {
  const script = join(PKG, sys.script);
  if (sys.runtime === 'python') return [flags.python!, [script, ...sys.args, '--spec', JSON.stringify({ GRAPH, GAT, SHAPES }), ...runnerArgs(pending)]];
  // The same tsx loader as this process, so the runners see the workspace sources too.
  return [process.execPath, [...process.execArgv, script, ...sys.args, ...runnerArgs(pending)]];
}

interface ChildOutcome {
  cells: Cell[];
  info: Record<string, unknown>;
  /** The workload it was on when it died or was killed. */
  current: WorkloadId | null;
  timedOut: boolean;
  started: boolean;
  tail: string[];
}

function runChild(sys: SystemSpec, pending: WorkloadId[]): Promise<ChildOutcome> {
  const [cmd, args] = command(sys, pending);
  const child = spawn(cmd, args, { cwd: PKG, stdio: ['ignore', 'pipe', 'pipe'] });
  const o: ChildOutcome = { cells: [], info: {}, current: null, timedOut: false, started: false, tail: [] };
  let timer: NodeJS.Timeout | undefined;
  const arm = () => {
    clearTimeout(timer);
    timer = setTimeout(() => {
      o.timedOut = true;
      child.kill('SIGKILL');
    }, settings.timeout * 1000);
  };
  arm(); // start-up counts too (a WebGPU adapter that never answers)
  const keep = (line: string) => {
    if (!line.trim()) return;
    o.tail.push(line);
    if (o.tail.length > 40) o.tail.shift();
    if (flags.verbose) process.stderr.write(`  [${sys.id}] ${line}\n`);
  };
  createInterface({ input: child.stderr! }).on('line', keep);
  createInterface({ input: child.stdout! }).on('line', (line) => {
    const m = parseMessage(line);
    if (!m) return keep(line);
    if (m.type === 'info') o.info = m.info;
    else if (m.type === 'start') {
      o.started = true;
      o.current = m.workload;
      arm();
    } else if (m.type === 'result') {
      o.current = null;
      arm(); // also catches a runner that hangs on its way out
      const { type: _type, ...rest } = m;
      const cell: Cell = { system: sys.id, ...rest };
      o.cells.push(cell);
      const shown = m.status === 'ok' ? `${median(m.times).toFixed(2)} ms (n=${m.times.length}${m.variant ? `, ${m.variant}` : ''})` : `${m.status}: ${m.reason}`;
      console.log(`  ${sys.id.padEnd(15)} ${m.workload.padEnd(12)} ${shown}`);
    }
  });
  return new Promise((done) => {
    child.on('close', () => {
      clearTimeout(timer);
      done(o);
    });
  });
}

async function runSystem(sys: SystemSpec): Promise<{ cells: Cell[]; info: Record<string, unknown> }> {
  const cells: Cell[] = [];
  let info: Record<string, unknown> = {};
  let pending = [...workloads];
  while (pending.length) {
    const o = await runChild(sys, pending);
    cells.push(...o.cells);
    if (Object.keys(o.info).length) info = o.info;
    const lastLines = o.tail.slice(-3).join(' / ').slice(0, 400);
    if (o.current) {
      const reason = o.timedOut ? `no result within --timeout ${settings.timeout} s (runner killed)` : `runner exited during the workload: ${lastLines}`;
      cells.push({ system: sys.id, workload: o.current, status: o.timedOut ? 'timeout' : 'error', reason });
      console.log(`  ${sys.id.padEnd(15)} ${o.current.padEnd(12)} ${o.timedOut ? 'timeout' : 'error'}: ${reason}`);
    }
    const finished = new Set(cells.map((c) => c.workload));
    const left = pending.filter((w) => !finished.has(w));
    if (left.length && !o.started) {
      // It failed before its first workload: starting it again would fail the same way.
      const reason = o.timedOut ? `runner did not start within ${settings.timeout} s` : `runner failed to start: ${lastLines}`;
      for (const w of left) cells.push({ system: sys.id, workload: w, status: 'error', reason });
      console.log(`  ${sys.id.padEnd(15)} ${reason}`);
      break;
    }
    pending = left;
  }
  return { cells, info };
}

function torchAvailable(): string | null {
  const r = spawnSync(flags.python!, ['-c', 'import torch'], { encoding: 'utf8', timeout: 60_000 });
  if (r.error) return `${flags.python} could not be run (${r.error.message})`;
  if (r.status !== 0) return `torch is not importable with ${flags.python}: ${(r.stderr ?? '').trim().split('\n').pop()}`;
  return null;
}

const machine = {
  node: process.version,
  cpu: cpus()[0]?.model ?? 'unknown',
  cores: cpus().length,
  os: `${process.platform} ${release()}`,
  memoryGiB: +(totalmem() / 2 ** 30).toFixed(1),
  freeMemoryGiB: +(freemem() / 2 ** 30).toFixed(1),
  loadAverageAtStart: loadavg().map((x) => +x.toFixed(2)),
};
const started = new Date();
console.log(`bench: ${systems.length} systems × ${workloads.length} workloads on ${machine.cpu} (${machine.cores} cores), load ${machine.loadAverageAtStart.join(' ')}`);

const cells: Cell[] = [];
const runs: SystemRun[] = [];
for (const sys of systems) {
  if (sys.runtime === 'python') {
    const missing = torchAvailable();
    if (missing) {
      console.log(`${sys.id}: skipped — ${missing}`);
      runs.push({ id: sys.id, label: sys.label, status: 'skipped', reason: missing, info: {}, wallS: 0 });
      for (const w of workloads) cells.push({ system: sys.id, workload: w, status: 'skipped', reason: missing });
      continue;
    }
  }
  console.log(`${sys.id}:`);
  const t0 = performance.now();
  const r = await runSystem(sys);
  cells.push(...r.cells);
  runs.push({ id: sys.id, label: sys.label, status: 'ran', info: r.info, wallS: (performance.now() - t0) / 1000 });
}

rmSync(inputs, { recursive: true, force: true });
finishCells(cells);
const targets = evaluateTargets(cells);
const loadAtEnd = loadavg().map((x) => +x.toFixed(2));
const s = settings;
const header = [
  `${started.toISOString()}, ${((Date.now() - started.getTime()) / 1000).toFixed(0)} s. Node ${machine.node}, ${machine.cpu}, ${machine.cores} cores, ${machine.os}, ${machine.memoryGiB} GiB; load average ${machine.loadAverageAtStart.join(' ')} at the start, ${loadAtEnd.join(' ')} at the end.`,
  '',
  `Each system runs in its own process, one after another. Per workload: ${s.warmup} untimed warm-up run${s.warmup > 1 ? 's (only the first when it takes over 1 s)' : ''}${s.warmupS > 0 ? `, more until ${s.warmupS} s of warm-up have passed (at most 50 runs; JIT systems reach their steady speed)` : ''}, then up to ${s.repeats} timed runs, fewer once ${s.budget} s of timed runs are spent (at least one); the median is reported. Results are read back to the host inside the timed region (on GPUs: until the readback has landed). Systems that take a thread count were given ${s.threads}.${quick ? ' **Quick run** (smoke test): few repeats, numbers are rough.' : ''}`,
  '',
  `Graph: ${inputMeta.source}; ${inputMeta.edges} directed edges, Â with ${inputMeta.nnz} entries. Workloads are described in apps/bench/README.md.`,
];
const title = 'Tessera side-by-side benchmarks';
const md = markdown({ title, header, systems: runs, workloads, cells, targets });
mkdirSync(flags.out!, { recursive: true });
writeFileSync(join(flags.out!, 'results.md'), md);
writeFileSync(
  join(flags.out!, 'results.json'),
  JSON.stringify(
    {
      title,
      started: started.toISOString(),
      settings: { ...settings, quick },
      machine: { ...machine, loadAverageAtEnd: loadAtEnd },
      inputs: inputMeta,
      workloads: WORKLOADS.filter((w) => workloads.includes(w.id)),
      systems: runs,
      cells,
      targets,
    },
    null,
    2,
  ) + '\n',
);
console.log(`\n${md}\nwrote ${join(flags.out!, 'results.md')} and results.json`);
