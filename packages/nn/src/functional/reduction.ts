/** Shared argument checks and the reduction step every loss ends with. */
import * as T from '@tessera/tensor';

export type Reduction = 'mean' | 'sum' | 'none';

export interface ReductionOptions {
  /** 'mean' (default) averages the per-element losses, 'sum' adds them, 'none' returns them. */
  reduction?: Reduction;
}

const shapeStr = (s: readonly number[]) => `[${s.join(', ')}]`;
export { shapeStr };

/** Validates and returns `options.reduction` (default 'mean'); `extra` admits e.g. 'batchmean'. */
export function reductionOf<R extends string = Reduction>(fn: string, options: { reduction?: string } | undefined, extra: readonly string[] = []): R {
  if (options !== undefined && (typeof options !== 'object' || options === null)) {
    throw new TypeError(`${fn}: expected an options object, received ${String(options)}`);
  }
  const r = options?.reduction ?? 'mean';
  const allowed = ['mean', 'sum', 'none', ...extra];
  if (!allowed.includes(r)) throw new TypeError(`${fn}: reduction must be one of ${allowed.map((a) => `'${a}'`).join(', ')}, received '${String(r)}'`);
  return r as R;
}

/** Reduces per-element losses; the caller owns the result (inputs are not disposed). */
export function reduce(loss: T.Tensor, reduction: Reduction): T.Tensor {
  if (reduction === 'sum') return T.sum(loss);
  if (reduction === 'mean') return T.mean(loss);
  return T.cast(loss, loss.dtype);
}

export function checkTensorArg(fn: string, x: unknown, name: string): T.Tensor {
  if (!(x instanceof T.Tensor)) throw new TypeError(`${fn}: expected ${name} to be a Tensor, received ${x === null ? 'null' : typeof x}`);
  return x;
}

export function checkFloat(fn: string, x: unknown, name: string): T.Tensor {
  const t = checkTensorArg(fn, x, name);
  if (t.dtype !== 'float32' && t.dtype !== 'float64') throw new TypeError(`${fn}: expected ${name} to be float32 or float64, received ${t.dtype}`);
  return t;
}

export function checkSameShape(fn: string, a: T.Tensor, b: T.Tensor, aName: string, bName: string): void {
  if (a.shape.length !== b.shape.length || a.shape.some((s, i) => s !== b.shape[i])) {
    throw new RangeError(`${fn}: expected ${bName} of the same shape as ${aName} ${shapeStr(a.shape)}, received ${shapeStr(b.shape)}`);
  }
}

export function checkSameDevice(fn: string, ...ts: (T.Tensor | undefined)[]): void {
  const present = ts.filter((t): t is T.Tensor => t !== undefined);
  const dev = present[0]?.device;
  for (const t of present) {
    if (t.device !== dev) throw new TypeError(`${fn}: all tensors must be on one device, received ${dev} and ${t.device} (move one with await t.to(device))`);
  }
}

/** Checks that `w` broadcasts to `shape` (PyTorch's loss weights must). */
export function checkBroadcastable(fn: string, w: T.Tensor, shape: readonly number[], name: string): void {
  const ok = w.rank <= shape.length && w.shape.every((s, i) => s === 1 || s === shape[shape.length - w.rank + i]);
  if (!ok) throw new RangeError(`${fn}: expected ${name} broadcastable to ${shapeStr(shape)}, received ${shapeStr(w.shape)}`);
}

export function checkNumber(fn: string, v: unknown, name: string, ok: (n: number) => boolean = Number.isFinite, expect = 'a finite number'): number {
  if (typeof v !== 'number' || !ok(v)) throw new RangeError(`${fn}: expected ${name} to be ${expect}, received ${String(v)}`);
  return v;
}
