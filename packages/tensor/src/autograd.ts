/**
 * The seam between tensors and automatic differentiation. @tessera/tensor knows nothing of
 * gradients beyond this file: every differentiable public op is wrapped by `primitive`, which —
 * only when a recorder is installed (by @tessera/autodiff) and an input takes part in
 * differentiation — runs the op with recording suspended and hands the recorder the op's name,
 * its tensor inputs, its arguments and its outputs. Ops composed of other ops are therefore one
 * node each, with their own gradient rule, and nothing an op does internally is recorded.
 */
import { engine } from './engine.js';
import { Tensor } from './tensor.js';

export interface GradRecorder {
  /** Whether an op over these inputs must be recorded. */
  wants(inputs: readonly Tensor[]): boolean;
  /** Called after the op ran; `outputs` are the tensors found in `result`, in order. */
  record(op: string, inputs: readonly Tensor[], args: readonly unknown[], outputs: readonly Tensor[], result: unknown): void;
  /** Called when a tensor that belongs to a recorded graph is disposed. */
  release(t: Tensor): void;
}

let recorder: GradRecorder | null = null;
let suspended = 0;

/** Installs (or removes, with null) the recorder. Used by @tessera/autodiff. */
export function setGradRecorder(r: GradRecorder | null): void {
  recorder = r;
  engine.onGradDispose = r ? (t) => r.release(t) : null;
}

/** Tensors among an op's arguments: top-level tensors and arrays of tensors (cat, stack). */
export function tensorsIn(args: readonly unknown[]): Tensor[] {
  const out: Tensor[] = [];
  for (const a of args) {
    if (a instanceof Tensor) out.push(a);
    else if (Array.isArray(a)) for (const b of a) if (b instanceof Tensor) out.push(b);
  }
  return out;
}

/** Tensors in an op's result: a tensor, an array of them, or a plain object of them. */
export function tensorsOut(result: unknown): Tensor[] {
  if (result instanceof Tensor) return [result];
  if (Array.isArray(result)) return result.filter((r): r is Tensor => r instanceof Tensor);
  if (result && typeof result === 'object') return Object.values(result).filter((r): r is Tensor => r instanceof Tensor);
  return [];
}

/** Wraps a differentiable op so that autodiff can record it. Zero cost while no recorder is installed. */
export function primitive<F extends (...args: any[]) => any>(name: string, fn: F): F {
  const wrapped = function (this: unknown, ...args: unknown[]) {
    if (recorder === null || suspended > 0) return fn.apply(this, args);
    const inputs = tensorsIn(args);
    if (inputs.length === 0 || !recorder.wants(inputs)) return fn.apply(this, args);
    suspended++;
    let result: unknown;
    try {
      result = fn.apply(this, args);
    } finally {
      suspended--;
    }
    recorder.record(name, inputs, args, tensorsOut(result), result);
    return result;
  };
  Object.defineProperty(wrapped, 'name', { value: name });
  return wrapped as unknown as F;
}

/** Runs `fn` with recording off (no graph is built), like PyTorch's `torch.no_grad()`. */
export function withoutRecording<T>(fn: () => T): T {
  suspended++;
  try {
    return fn();
  } finally {
    suspended--;
  }
}
