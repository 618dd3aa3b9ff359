/**
 * Gradient and weight clipping, as torch.nn.utils.clip_grad_norm_ / clip_grad_value_, plus the
 * weight clipping of the original WGAN critic. All update in place (`copy_`) without recording.
 */
import * as T from '@tessera/tensor';
import type { Tensor } from '@tessera/tensor';

export interface ClipGradNormOptions {
  /** The p of the norm: any positive number or Infinity (default 2). */
  normType?: number;
  /** Throw instead of scaling when the total norm is NaN or infinite (default false). */
  errorIfNonfinite?: boolean;
}

function tensorList(name: string, params: Tensor | Tensor[]): Tensor[] {
  const list = params instanceof T.Tensor ? [params] : params;
  if (!Array.isArray(list)) throw new TypeError(`${name}: expected a tensor or an array of tensors, received ${String(params)}`);
  list.forEach((p, i) => {
    if (!(p instanceof T.Tensor)) throw new TypeError(`${name}: element ${i} is not a Tensor`);
  });
  const devices = new Set(list.map((p) => p.device));
  if (devices.size > 1) throw new Error(`${name}: all tensors must be on one device, received ${[...devices].join(' and ')}`);
  return list;
}

function finiteNumber(name: string, what: string, v: unknown, min: number): number {
  if (typeof v !== 'number' || !(v >= min) || Number.isNaN(v)) throw new RangeError(`${name}: ${what} must be a number >= ${min}, received ${String(v)}`);
  return v;
}

/** The p-norm of all the gradients together: the p-norm of their p-norms (their largest one for Infinity). */
function totalNorm(grads: Tensor[], p: number): Tensor {
  return T.tidy(() => {
    const norms = grads.map((g) => T.norm(g, { p }));
    if (p === Infinity) return T.amax(T.stack(norms));
    return T.norm(T.stack(norms), { p });
  });
}

function checkNorm(name: string, normType: unknown): number {
  if (typeof normType !== 'number' || !(normType > 0)) throw new RangeError(`${name}: normType must be a positive number or Infinity, received ${String(normType)}`);
  return normType;
}

function scaleGrads(grads: Tensor[], total: Tensor, maxNorm: number): void {
  T.tidy(() => {
    // Always multiply (by at most 1), as PyTorch does, so no value is read back from the device.
    const coef = T.clamp(T.div(maxNorm, T.add(total, 1e-6)), null, 1);
    for (const g of grads) g.copy_(T.mul(g, coef));
  });
}

function prepare(name: string, params: Tensor | Tensor[], maxNorm: number, options: ClipGradNormOptions) {
  const list = tensorList(name, params);
  const grads = list.map((p) => p.grad).filter((g): g is Tensor => g !== null);
  finiteNumber(name, 'maxNorm', maxNorm, 0);
  const p = checkNorm(name, options?.normType ?? 2);
  return { grads, p, device: list[0]?.device };
}

/**
 * Scales all gradients together so that their combined p-norm is at most maxNorm
 * (grad *= min(1, maxNorm / (norm + 1e-6))), and returns that norm before clipping, as a scalar
 * tensor (the caller disposes it). `errorIfNonfinite` reads the norm synchronously, which only
 * cpu tensors allow: on webgpu use `await clipGradNormAsync(...)`.
 */
export function clipGradNorm(params: Tensor | Tensor[], maxNorm: number, options: ClipGradNormOptions = {}): Tensor {
  const { grads, p, device } = prepare('clipGradNorm', params, maxNorm, options);
  if (grads.length === 0) return T.scalar(0, { device });
  if (options.errorIfNonfinite && grads[0].device !== 'cpu') {
    throw new Error(`clipGradNorm: errorIfNonfinite must read the norm, which '${grads[0].device}' cannot do synchronously; use await clipGradNormAsync(...)`);
  }
  return T.withoutRecording(() => {
    const total = totalNorm(grads, p);
    if (options.errorIfNonfinite) throwIfNonfinite('clipGradNorm', total.dataSync()[0], p, total);
    scaleGrads(grads, total, maxNorm);
    return total;
  });
}

/** clipGradNorm for any device, reading the norm (asynchronously) when errorIfNonfinite is set. */
export async function clipGradNormAsync(params: Tensor | Tensor[], maxNorm: number, options: ClipGradNormOptions = {}): Promise<Tensor> {
  const { grads, p, device } = prepare('clipGradNormAsync', params, maxNorm, options);
  if (grads.length === 0) return T.scalar(0, { device });
  const total = T.withoutRecording(() => totalNorm(grads, p));
  if (options.errorIfNonfinite) throwIfNonfinite('clipGradNormAsync', await total.item(), p, total);
  T.withoutRecording(() => scaleGrads(grads, total, maxNorm));
  return total;
}

function throwIfNonfinite(name: string, value: number, p: number, total: Tensor): void {
  if (Number.isFinite(value)) return;
  total.dispose();
  throw new Error(`${name}: the total ${p}-norm of the gradients is ${value}, so they cannot be clipped; the gradients were left unchanged`);
}

/** Clamps every gradient element into [-clipValue, clipValue], in place. */
export function clipGradValue(params: Tensor | Tensor[], clipValue: number): void {
  const grads = tensorList('clipGradValue', params).map((p) => p.grad).filter((g): g is Tensor => g !== null);
  finiteNumber('clipGradValue', 'clipValue', clipValue, 0);
  T.withoutRecording(() => T.tidy(() => grads.forEach((g) => g.copy_(T.clamp(g, -clipValue, clipValue)))));
}

/** Clamps every parameter into [-c, c], in place (the WGAN critic's weight clipping; call after optimizer.step()). */
export function clipWeights(params: Tensor | Tensor[], c: number): void {
  const list = tensorList('clipWeights', params);
  finiteNumber('clipWeights', 'c', c, 0);
  T.withoutRecording(() => T.tidy(() => list.forEach((p) => p.copy_(T.clamp(p, -c, c)))));
}
