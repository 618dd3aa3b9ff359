/**
 * Runner → orchestrator messages: one JSON object per stdout line, prefixed with `@@bench ` so that
 * whatever a library prints on stdout is told apart (and kept as a log line). The Python runner
 * writes the same messages.
 */
import type { WorkloadId } from './spec.js';

export const LINE_PREFIX = '@@bench ';

/** Flags every runner understands (the orchestrator passes all of them). */
export interface RunnerOptions {
  workloads: WorkloadId[];
  /** Timed runs per workload (fewer when `budgetS` is exhausted; at least one). */
  repeats: number;
  /** Untimed runs first (compilation, pipeline caches, JIT); one only when a run takes over 1 s. */
  warmup: number;
  /** Seconds of warm-up runs at least (more runs until they have passed; at most 50). */
  warmupS: number;
  /** Seconds of timed runs per workload variant after which no new repeat starts. */
  budgetS: number;
  /** Threads a system may use, where it can be told. */
  threads: number;
  /** Folder with the shared graph (written by `inputs.ts`). */
  inputs: string;
}

export interface VariantSummary {
  label: string;
  status: 'ok' | 'unsupported' | 'error' | 'skipped';
  medianMs?: number;
  reason?: string;
}

export type Message =
  | { type: 'info'; info: Record<string, unknown> }
  | { type: 'start'; workload: WorkloadId; variant?: string }
  | {
      type: 'result';
      workload: WorkloadId;
      status: 'ok';
      /** Timed runs of the fastest variant, in ms. */
      times: number[];
      /** The first (warm-up) run of that variant: compilation included. */
      firstMs: number;
      /** Which formulation was fastest, when a system has several. */
      variant?: string;
      variants?: VariantSummary[];
      note?: string;
    }
  | { type: 'result'; workload: WorkloadId; status: 'unsupported' | 'error'; reason: string; variants?: VariantSummary[] }
  | { type: 'done' };

export function parseMessage(line: string): Message | null {
  if (!line.startsWith(LINE_PREFIX)) return null;
  try {
    return JSON.parse(line.slice(LINE_PREFIX.length)) as Message;
  } catch {
    return null;
  }
}
