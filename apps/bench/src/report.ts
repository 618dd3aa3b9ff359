/**
 * From raw timings to the report: medians, ratios to the best system per workload, rates, the
 * targets evaluated, and the markdown tables.
 */
import { median } from './harness.js';
import type { VariantSummary } from './protocol.js';
import { SYSTEMS, TARGETS, WORKLOADS, type Target, type WorkloadId } from './spec.js';

export type CellStatus = 'ok' | 'unsupported' | 'error' | 'timeout' | 'skipped';

export interface Cell {
  system: string;
  workload: WorkloadId;
  status: CellStatus;
  times?: number[];
  firstMs?: number;
  medianMs?: number;
  /** median / best median of the workload (1 = fastest). */
  ratio?: number;
  /** GFLOP/s or GB/s where the workload has a work measure. */
  rate?: number;
  variant?: string;
  variants?: VariantSummary[];
  reason?: string;
  note?: string;
}

export interface SystemRun {
  id: string;
  label: string;
  status: 'ran' | 'skipped';
  reason?: string;
  info: Record<string, unknown>;
  wallS: number;
}

export interface TargetResult {
  text: string;
  status: 'met' | 'missed' | 'n/a';
  measured: string;
}

export function finishCells(cells: Cell[]): void {
  for (const c of cells) if (c.status === 'ok' && c.times?.length) c.medianMs = median(c.times);
  for (const w of WORKLOADS) {
    const ok = cells.filter((c) => c.workload === w.id && c.medianMs !== undefined);
    const best = Math.min(...ok.map((c) => c.medianMs!));
    for (const c of ok) {
      c.ratio = c.medianMs! / best;
      if (w.work) c.rate = w.work.amount / (c.medianMs! * 1e6);
    }
  }
}

const label = (id: string) => SYSTEMS.find((s) => s.id === id)?.label ?? id;
const ms = (x: number) => (x >= 100 ? x.toFixed(0) : x >= 10 ? x.toFixed(1) : x >= 1 ? x.toFixed(2) : x.toFixed(3));

function evaluate(t: Target, cells: Cell[]): TargetResult {
  const cell = (system: string) => cells.find((c) => c.system === system && c.workload === t.workload && c.medianMs !== undefined);
  const mine = cell(t.system);
  if (!mine) return { text: t.text, status: 'n/a', measured: `no ${label(t.system)} result` };
  if (t.kind === 'rate') {
    return { text: t.text, status: mine.rate! >= t.min ? 'met' : 'missed', measured: `${mine.rate!.toFixed(1)} ${WORKLOADS.find((w) => w.id === t.workload)!.work!.unit}` };
  }
  const others = t.others.map(cell).filter((c): c is Cell => c !== undefined);
  if (!others.length) return { text: t.text, status: 'n/a', measured: `no result from ${t.others.map(label).join(', ')}` };
  const best = others.reduce((a, b) => (b.medianMs! < a.medianMs! ? b : a));
  const r = mine.medianMs! / best.medianMs!;
  const met = t.strict ? r < t.max : r <= t.max;
  const missing = t.others.filter((o) => !others.some((c) => c.system === o));
  const measured =
    `${label(t.system)} ${ms(mine.medianMs!)} ms vs ${label(best.system)} ${ms(best.medianMs!)} ms: ` +
    (r <= 1 ? `${(1 / r).toFixed(2)}× faster` : `${r.toFixed(2)}× slower`) +
    (missing.length ? ` (no result: ${missing.map(label).join(', ')})` : '');
  return { text: t.text, status: met ? 'met' : 'missed', measured };
}

export function evaluateTargets(cells: Cell[]): TargetResult[] {
  return TARGETS.map((t) => evaluate(t, cells));
}

function cellText(c: Cell | undefined): string {
  if (!c) return '—';
  if (c.status !== 'ok' || c.medianMs === undefined) return c.status;
  const v = `${ms(c.medianMs)} (${c.ratio!.toFixed(c.ratio! < 10 ? 2 : 1)}×)`;
  return c.ratio === 1 ? `**${v}**` : v;
}

export interface ReportInput {
  title: string;
  header: string[];
  systems: SystemRun[];
  workloads: WorkloadId[];
  cells: Cell[];
  targets: TargetResult[];
}

export function markdown(r: ReportInput): string {
  const systems = r.systems.filter((s) => s.status === 'ran');
  const workloads = WORKLOADS.filter((w) => r.workloads.includes(w.id));
  const get = (s: string, w: WorkloadId) => r.cells.find((c) => c.system === s && c.workload === w);
  const out: string[] = [`# ${r.title}`, '', ...r.header, ''];

  out.push('## Median time per run, ms (ratio to the fastest system; **bold** = fastest)', '');
  out.push(`| workload | ${systems.map((s) => s.label).join(' | ')} |`, `|---|${systems.map(() => '---:').join('|')}|`);
  for (const w of workloads) out.push(`| ${w.title} | ${systems.map((s) => cellText(get(s.id, w.id))).join(' | ')} |`);

  const rated = workloads.filter((w) => w.work);
  if (rated.length) {
    out.push('', '## Throughput (from the medians)', '');
    out.push(`| workload | unit | ${systems.map((s) => s.label).join(' | ')} |`, `|---|---|${systems.map(() => '---:').join('|')}|`);
    for (const w of rated) {
      out.push(`| ${w.title} | ${w.work!.unit} | ${systems.map((s) => (get(s.id, w.id)?.rate !== undefined ? get(s.id, w.id)!.rate!.toFixed(2) : '—')).join(' | ')} |`);
    }
  }

  out.push('', '## Targets (issue 5; ratios from this run)', '', '| target | measured | status |', '|---|---|---|');
  for (const t of r.targets) out.push(`| ${t.text} | ${t.measured} | ${t.status === 'met' ? '✅ met' : t.status === 'missed' ? '❌ missed' : 'n/a'} |`);

  out.push('', '## Systems', '');
  for (const s of r.systems) {
    if (s.status === 'skipped') {
      out.push(`- **${s.label}**: skipped — ${s.reason}`);
      continue;
    }
    const info = Object.entries(s.info)
      .filter(([, v]) => v !== undefined && v !== '')
      .map(([k, v]) => `${k}: ${typeof v === 'string' ? v : JSON.stringify(v)}`)
      .join('; ');
    out.push(`- **${s.label}** (${s.wallS.toFixed(0)} s): ${info}`);
  }

  out.push('', '## Details', '', '| system | workload | n | min | median | max | first run | notes |', '|---|---|---:|---:|---:|---:|---:|---|');
  for (const s of systems) {
    for (const w of workloads) {
      const c = get(s.id, w.id);
      if (!c) continue;
      const notes = [
        c.variant ? `fastest formulation: ${c.variant}` : '',
        c.variants && c.variants.length > 1
          ? `tried: ${c.variants.map((v) => `${v.label} ${v.status === 'ok' ? `${ms(v.medianMs!)} ms` : `${v.status}${v.reason ? ` (${v.reason})` : ''}`}`).join('; ')}`
          : '',
        c.status !== 'ok' && c.reason ? c.reason : '',
        c.note ?? '',
      ]
        .filter(Boolean)
        .join('. ')
        .replace(/\|/g, '\\|');
      if (c.status === 'ok' && c.times?.length) {
        const t = c.times;
        out.push(`| ${s.label} | ${w.title} | ${t.length} | ${ms(Math.min(...t))} | ${ms(c.medianMs!)} | ${ms(Math.max(...t))} | ${ms(c.firstMs!)} | ${notes} |`);
      } else {
        out.push(`| ${s.label} | ${w.title} | — | — | ${c.status} | — | — | ${notes} |`);
      }
    }
  }
  return out.join('\n') + '\n';
}
