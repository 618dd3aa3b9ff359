/**
 * Fused optimizer updates, for @tessera/optimize: one kernel per parameter on webgpu, where the
 * same update written with elementwise ops takes about 14 dispatches (each scalar constant and
 * each intermediate is one), and one pass on cpu instead of a dozen full-size temporaries. Where
 * there is no kernel (float64, non-contiguous state) exactly that sequence of elementwise ops runs;
 * the cpu kernel rounds as those ops do, so results are what the optimizers computed before.
 */
import { shapeStr } from '../shape.js';
import { tidy } from '../memory.js';
import type { Tensor } from '../tensor.js';
import { add, div, maximum, mul, sqrt, square, sub } from './elementwise.js';
import { contiguous, copy_ } from './movement.js';
import { checkTensor, run, sameDevice } from './util.js';

export interface AdamStepOptions {
  lr: number;
  beta1: number;
  beta2: number;
  eps: number;
  /** The 1-based step number, for the bias corrections 1 - beta^step. */
  step: number;
  /** Weight decay (default 0): added to the gradient as wd * param (Adam), or see `decoupled`. */
  weightDecay?: number;
  /** AdamW: decay the parameter, param * (1 - lr * wd), instead of adding to the gradient. */
  decoupled?: boolean;
  /** AMSGrad: the running maximum of expAvgSq (updated in place), used in the denominator. */
  maxExpAvgSq?: Tensor | null;
}

/**
 * One step of torch.optim.Adam / AdamW in place: expAvg = beta1 expAvg + (1 - beta1) g,
 * expAvgSq = beta2 expAvgSq + (1 - beta2) g², and
 * param -= lr / (1 - beta1^step) * expAvg / (sqrt(v) / sqrt(1 - beta2^step) + eps), where v is
 * expAvgSq or, with AMSGrad, its running maximum. `grad` may be any layout; the state tensors
 * must be float tensors of the parameter's shape on its device. Returns `param`.
 */
export function adamStep_(param: Tensor, grad: Tensor, expAvg: Tensor, expAvgSq: Tensor, options: AdamStepOptions): Tensor {
  const op = 'adamStep_';
  const vmax = options.maxExpAvgSq ?? null;
  const named: [Tensor, string][] = [[param, 'param'], [grad, 'grad'], [expAvg, 'expAvg'], [expAvgSq, 'expAvgSq'], ...(vmax ? [[vmax, 'maxExpAvgSq'] as [Tensor, string]] : [])];
  for (const [t, name] of named) {
    checkTensor(op, t, name);
    if (t.dtype !== param.dtype || (t.dtype !== 'float32' && t.dtype !== 'float64')) throw new TypeError(`${op}: expected ${name} of the param's float dtype ${param.dtype}, received ${t.dtype}`);
    if (t.shape.length !== param.shape.length || t.shape.some((d, i) => d !== param.shape[i])) {
      throw new RangeError(`${op}: expected ${name} of the param's shape ${shapeStr(param.shape)}, received ${shapeStr(t.shape)}`);
    }
  }
  sameDevice(op, ...named.map(([t]) => t));
  const state = [param, expAvg, expAvgSq, ...(vmax ? [vmax] : [])];
  for (const t of state) if (t.gradFn !== null) throw new Error(`${op}: cannot update a tensor computed by a recorded op; detach it first`);
  if (new Set(named.map(([t]) => t.storage)).size !== named.length) throw new Error(`${op}: param, grad and the state tensors must not share storage`);
  const { lr, beta1, beta2, eps, step } = options;
  const weightDecay = options.weightDecay ?? 0;
  const decoupled = options.decoupled ?? false;
  for (const [v, name] of [[lr, 'lr'], [beta1, 'beta1'], [beta2, 'beta2'], [eps, 'eps'], [weightDecay, 'weightDecay']] as const) {
    if (typeof v !== 'number' || !Number.isFinite(v)) throw new RangeError(`${op}: expected a finite number for ${name}, received ${String(v)}`);
  }
  if (!Number.isInteger(step) || step < 1) throw new RangeError(`${op}: expected step to be an integer >= 1, received ${step}`);
  const bc1 = 1 - beta1 ** step;
  const bc2 = 1 - beta2 ** step;
  if (param.size === 0) return param;
  tidy(() => {
    if (param.storage.backend.hasKernel('adamStep') && param.dtype === 'float32' && state.every((t) => t.isContiguous())) {
      run('adamStep', [grad.isContiguous() ? grad : contiguous(grad)], state, { lr, beta1, beta2, eps, weightDecay, decoupled, bc1, bc2 });
      return;
    }
    // The elementwise form, op for op as @tessera/optimize's Adam wrote it.
    const g = !decoupled && weightDecay !== 0 ? add(grad, mul(param, weightDecay)) : grad;
    const base = decoupled && weightDecay !== 0 ? mul(param, 1 - lr * weightDecay) : param;
    copy_(expAvg, add(mul(expAvg, beta1), mul(g, 1 - beta1)));
    copy_(expAvgSq, add(mul(expAvgSq, beta2), mul(square(g), 1 - beta2)));
    let second = expAvgSq;
    if (vmax) {
      copy_(vmax, maximum(vmax, expAvgSq));
      second = vmax;
    }
    const denom = add(div(sqrt(second), Math.sqrt(bc2)), eps);
    copy_(param, sub(base, mul(div(expAvg, denom), lr / bc1)));
  });
  return param;
}
