/**
 * The runner side of the protocol, shared by the TypeScript runners: parses the flags, times each
 * workload (warm-up, then repeats within a budget), picks the fastest formulation when a system
 * offers several, and reports one JSON line per workload.
 *
 * Timed region: `Case.run()` from the call until its promise resolves, which every runner makes
 * include reading the result back to the host (for GPUs: until the readback has landed). Inputs
 * are created in `setup`, outside the timed region.
 */
import { parseArgs } from 'node:util';
import { LINE_PREFIX, type Message, type RunnerOptions, type VariantSummary } from './protocol.js';
import { WORKLOAD_IDS, type WorkloadId } from './spec.js';
import { ensureInputs } from './inputs.js';

/** One prepared workload: `run` is timed, `dispose` frees what setup made. */
export interface Case {
  run(): Promise<unknown>;
  dispose?(): unknown;
}

/** One formulation of a workload (e.g. TF.js GCN with a dense or a segment-sum adjacency). */
export interface Variant {
  label: string;
  setup(): Case | Promise<Case>;
  /** Why this formulation is not run here (e.g. known to take minutes per call on this backend). */
  skip?: string;
}

/** A workload is one setup, or several formulations of which the fastest is reported. */
export type Workload = (() => Case | Promise<Case>) | Variant[];

export type Workloads = Partial<Record<WorkloadId, Workload>>;

/** Thrown by a setup when the system lacks something the workload needs. */
export class Unsupported extends Error {}

const UNSUPPORTED_PATTERN = /not registered for backend|not implemented|not supported|unsupported|no kernel/i;

export function emit(message: Message): void {
  process.stdout.write(`${LINE_PREFIX}${JSON.stringify(message)}\n`);
}

/** The flags of every runner, plus any runner-specific ones (`extra`, as strings). */
export function parseRunnerArgs(extra: Record<string, { type: 'string'; default?: string }> = {}) {
  const { values } = parseArgs({
    options: {
      workloads: { type: 'string', default: WORKLOAD_IDS.join(',') },
      repeats: { type: 'string', default: '7' },
      warmup: { type: 'string', default: '2' },
      'warmup-s': { type: 'string', default: '1' },
      budget: { type: 'string', default: '10' },
      threads: { type: 'string', default: '0' },
      inputs: { type: 'string', default: '' },
      ...extra,
    },
    allowPositionals: false,
  });
  const workloads = String(values.workloads)
    .split(',')
    .filter(Boolean) as WorkloadId[];
  for (const w of workloads) if (!WORKLOAD_IDS.includes(w)) throw new Error(`unknown workload '${w}'; expected some of ${WORKLOAD_IDS.join(', ')}`);
  const options: RunnerOptions = {
    workloads,
    repeats: positiveInt('repeats', values.repeats),
    warmup: positiveInt('warmup', values.warmup),
    warmupS: nonNegative('warmup-s', values['warmup-s']),
    budgetS: Number(values.budget),
    threads: Number(values.threads),
    inputs: String(values.inputs) || ensureInputs(),
  };
  return { options, values: values as Record<string, string | undefined> };
}

function nonNegative(name: string, value: unknown): number {
  const n = Number(value);
  if (!(n >= 0)) throw new Error(`--${name} must be a number of seconds >= 0, received ${String(value)}`);
  return n;
}

function positiveInt(name: string, value: unknown): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new Error(`--${name} must be a positive integer, received ${String(value)}`);
  return n;
}

export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

async function timeOnce(c: Case): Promise<number> {
  const t0 = performance.now();
  await c.run();
  return performance.now() - t0;
}

/**
 * Warm-up (one run only when a run takes over a second; else at least `warmup` runs and more
 * until `warmupS` seconds have passed, at most 50), then timed runs within the budget.
 */
async function measure(c: Case, o: RunnerOptions): Promise<{ firstMs: number; times: number[] }> {
  const firstMs = await timeOnce(c);
  if (firstMs < 1000) {
    let spent = firstMs;
    for (let i = 1; i < 50 && (i < o.warmup || spent < o.warmupS * 1000); i++) spent += await timeOnce(c);
  }
  const times: number[] = [];
  let total = 0;
  while (times.length < o.repeats && (times.length === 0 || total < o.budgetS * 1000)) {
    const t = await timeOnce(c);
    times.push(t);
    total += t;
  }
  return { firstMs, times };
}

function describe(err: unknown): { status: 'unsupported' | 'error'; reason: string } {
  const message = err instanceof Error ? err.message : String(err);
  const reason = message.split('\n')[0].slice(0, 300);
  const unsupported = err instanceof Unsupported || UNSUPPORTED_PATTERN.test(message);
  return { status: unsupported ? 'unsupported' : 'error', reason };
}

async function runVariant(v: Variant, o: RunnerOptions) {
  if (v.skip) return { label: v.label, status: 'skipped' as const, reason: v.skip };
  let c: Case | undefined;
  try {
    c = await v.setup();
    return { ...(await measure(c, o)), label: v.label };
  } catch (err) {
    return { label: v.label, ...describe(err) };
  } finally {
    try {
      await c?.dispose?.();
    } catch {
      // a failed run may leave a case half-disposed; the next workload starts from fresh inputs
    }
  }
}

/**
 * Runs the requested workloads one after another and reports each. `afterEach` may return a note
 * (e.g. tensors left alive) to attach to the workload's result.
 */
export async function runWorkloads(impls: Workloads, o: RunnerOptions, afterEach?: () => string | undefined | Promise<string | undefined>): Promise<void> {
  for (const id of o.workloads) {
    emit({ type: 'start', workload: id });
    const impl = impls[id];
    if (!impl) {
      emit({ type: 'result', workload: id, status: 'unsupported', reason: 'not available in this system' });
      continue;
    }
    const variants: Variant[] = typeof impl === 'function' ? [{ label: '', setup: impl }] : impl;
    const outcomes = [];
    for (const [i, v] of variants.entries()) {
      if (i > 0) emit({ type: 'start', workload: id, variant: v.label }); // each formulation gets its own --timeout
      outcomes.push(await runVariant(v, o));
    }
    const summaries: VariantSummary[] = outcomes.map((r) =>
      'times' in r ? { label: r.label, status: 'ok', medianMs: median(r.times) } : { label: r.label, status: r.status, reason: r.reason },
    );
    const ok = outcomes.filter((r) => 'times' in r);
    const note = await afterEach?.();
    const multi = variants.length > 1 ? { variants: summaries } : {};
    if (ok.length) {
      const best = ok.reduce((a, b) => (median(b.times) < median(a.times) ? b : a));
      emit({ type: 'result', workload: id, status: 'ok', times: best.times, firstMs: best.firstMs, ...(best.label ? { variant: best.label } : {}), ...multi, ...(note ? { note } : {}) });
    } else {
      const failed = outcomes as { label: string; status: 'unsupported' | 'error' | 'skipped'; reason: string }[];
      const status = failed.some((r) => r.status === 'error') ? 'error' : 'unsupported';
      const reason = failed.map((r) => (r.label ? `${r.label}: ${r.reason}` : r.reason)).join('; ');
      emit({ type: 'result', workload: id, status, reason, ...multi });
    }
  }
  emit({ type: 'done' });
}
