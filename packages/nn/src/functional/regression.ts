/** Pointwise regression and probabilistic losses (PyTorch 1.13 F.* semantics), built on tensor ops. */
import * as T from '@tessera/tensor';
import { noGrad } from '@tessera/autodiff';
import { checkBroadcastable, checkFloat, checkNumber, checkSameDevice, checkSameShape, reduce, reductionOf, shapeStr, type ReductionOptions } from './reduction.js';

/** Checks a float input and a same-shape float target on one device; returns the reduction. */
function pair(fn: string, input: T.Tensor, target: T.Tensor, options: ReductionOptions | undefined) {
  const reduction = reductionOf(fn, options);
  checkFloat(fn, input, 'input');
  checkFloat(fn, target, 'target');
  checkSameDevice(fn, input, target);
  checkSameShape(fn, input, target, 'input', 'target');
  return reduction;
}

export function mseLoss(input: T.Tensor, target: T.Tensor, options: ReductionOptions = {}): T.Tensor {
  const r = pair('mseLoss', input, target, options);
  return T.tidy(() => reduce(T.square(T.sub(input, target)), r));
}

export function l1Loss(input: T.Tensor, target: T.Tensor, options: ReductionOptions = {}): T.Tensor {
  const r = pair('l1Loss', input, target, options);
  return T.tidy(() => reduce(T.abs(T.sub(input, target)), r));
}

/** Quadratic below `beta` (scaled by 1/beta), linear above; beta = 0 is the L1 loss. */
export function smoothL1Loss(input: T.Tensor, target: T.Tensor, options: ReductionOptions & { beta?: number } = {}): T.Tensor {
  const r = pair('smoothL1Loss', input, target, options);
  const beta = checkNumber('smoothL1Loss', options.beta ?? 1, 'beta', (b) => b >= 0 && Number.isFinite(b), 'a non-negative number');
  return T.tidy(() => {
    const d = T.abs(T.sub(input, target));
    if (beta === 0) return reduce(d, r);
    return reduce(T.where(T.lt(d, beta), T.div(T.mul(T.square(d), 0.5), beta), T.sub(d, 0.5 * beta)), r);
  });
}

/** Quadratic below `delta`, linear (slope delta) above: smoothL1Loss scaled by delta. */
export function huberLoss(input: T.Tensor, target: T.Tensor, options: ReductionOptions & { delta?: number } = {}): T.Tensor {
  const r = pair('huberLoss', input, target, options);
  const delta = checkNumber('huberLoss', options.delta ?? 1, 'delta', (b) => b > 0 && Number.isFinite(b), 'a positive number');
  return T.tidy(() => {
    const d = T.abs(T.sub(input, target));
    return reduce(T.where(T.lt(d, delta), T.mul(T.square(d), 0.5), T.mul(T.sub(d, 0.5 * delta), delta)), r);
  });
}

/** Reads a cpu tensor and throws if `bad` holds for an element (webgpu tensors cannot be read synchronously). */
function checkValuesOnCpu(fn: string, x: T.Tensor, bad: (v: number) => boolean, what: string): void {
  if (x.device !== 'cpu') return;
  const d = x.dataSync();
  for (let i = 0; i < d.length; i++) if (bad(d[i])) throw new RangeError(`${fn}: ${what}, received ${d[i]}`);
}

/**
 * -w [t log x + (1 - t) log(1 - x)] with each log clamped at -100 as PyTorch does, so x = 0 or 1
 * gives a finite loss. Inputs must be probabilities (checked on cpu only). At exactly x = 0 or 1
 * the gradient is NaN, where PyTorch's fused kernel clamps its denominator.
 */
export function binaryCrossEntropy(input: T.Tensor, target: T.Tensor, options: ReductionOptions & { weight?: T.Tensor } = {}): T.Tensor {
  const fn = 'binaryCrossEntropy';
  const r = pair(fn, input, target, options);
  const w = options.weight === undefined ? undefined : checkFloat(fn, options.weight, 'weight');
  if (w) {
    checkSameDevice(fn, input, w);
    checkBroadcastable(fn, w, input.shape, 'weight');
  }
  checkValuesOnCpu(fn, input, (v) => !(v >= 0 && v <= 1), 'expected every input in [0, 1]');
  return T.tidy(() => {
    const logX = T.clamp(T.log(input), -100);
    const log1mX = T.clamp(T.log(T.sub(1, input)), -100);
    let l = T.neg(T.add(T.mul(target, logX), T.mul(T.sub(1, target), log1mX)));
    if (w) l = T.mul(l, w);
    return reduce(l, r);
  });
}

/**
 * Sigmoid + binary cross-entropy in the overflow-free form
 * (1 - t) x + (1 + (pw - 1) t) log(1 + e^-x), with log(1 + e^-x) = m + log(e^-m + e^(-x-m)),
 * m = max(-x, 0), so logits of any size give exact losses and gradients.
 */
export function binaryCrossEntropyWithLogits(input: T.Tensor, target: T.Tensor, options: ReductionOptions & { weight?: T.Tensor; posWeight?: T.Tensor } = {}): T.Tensor {
  const fn = 'binaryCrossEntropyWithLogits';
  const r = pair(fn, input, target, options);
  const w = options.weight === undefined ? undefined : checkFloat(fn, options.weight, 'weight');
  const pw = options.posWeight === undefined ? undefined : checkFloat(fn, options.posWeight, 'posWeight');
  checkSameDevice(fn, input, w, pw);
  if (w) checkBroadcastable(fn, w, input.shape, 'weight');
  if (pw) checkBroadcastable(fn, pw, input.shape, 'posWeight');
  return T.tidy(() => {
    const m = T.relu(T.neg(input));
    const softplusNeg = T.add(m, T.log(T.add(T.exp(T.neg(m)), T.exp(T.sub(T.neg(input), m)))));
    const logWeight = pw ? T.add(T.mul(T.sub(pw, 1), target), 1) : undefined;
    let l = T.add(T.mul(T.sub(1, target), input), logWeight ? T.mul(logWeight, softplusNeg) : softplusNeg);
    if (w) l = T.mul(l, w);
    return reduce(l, r);
  });
}

/**
 * Kullback-Leibler divergence with `input` given as log-probabilities: t (log t - x), or with
 * `logTarget` e^t (t - x). 'batchmean' divides the sum by the batch size (dim 0), the
 * mathematically correct KL; 'mean' averages over every element, as PyTorch does.
 */
export function klDiv(input: T.Tensor, target: T.Tensor, options: { reduction?: 'mean' | 'sum' | 'none' | 'batchmean'; logTarget?: boolean } = {}): T.Tensor {
  const fn = 'klDiv';
  const r = reductionOf<'mean' | 'sum' | 'none' | 'batchmean'>(fn, options, ['batchmean']);
  pair(fn, input, target, {});
  return T.tidy(() => {
    let l: T.Tensor;
    if (options.logTarget) {
      l = T.mul(T.exp(target), T.sub(target, input));
    } else {
      // xlogy: 0 log 0 = 0; a safe argument keeps log(0) = -inf out of the graph.
      const safe = T.where(T.eq(target, 0), 1, target);
      l = T.sub(T.mul(target, T.log(safe)), T.mul(target, input));
    }
    if (r === 'batchmean') return input.rank === 0 ? T.sum(l) : T.div(T.sum(l), input.shape[0]);
    return reduce(l, r);
  });
}

/**
 * Negative log-likelihood of `target` under N(input, var): 0.5 (log v + (x - t)^2 / v) (+ 0.5 log 2π
 * when `full`). `var` has the input's shape, or lacks its last dim, or has 1 there (shared
 * variance). As in PyTorch, var is clamped at `eps` for the value only: gradients pass through.
 */
export function gaussianNllLoss(input: T.Tensor, target: T.Tensor, variance: T.Tensor, options: ReductionOptions & { full?: boolean; eps?: number } = {}): T.Tensor {
  const fn = 'gaussianNllLoss';
  const r = pair(fn, input, target, options);
  checkFloat(fn, variance, 'var');
  checkSameDevice(fn, input, variance);
  const eps = checkNumber(fn, options.eps ?? 1e-6, 'eps', (e) => e >= 0 && Number.isFinite(e), 'a non-negative number');
  const s = input.shape;
  const same = variance.rank === s.length && variance.shape.every((d, i) => d === s[i]);
  const lacksLast = variance.rank === s.length - 1 && variance.shape.every((d, i) => d === s[i]);
  const sharedLast = variance.rank === s.length && s.length > 0 && variance.shape[s.length - 1] === 1 && variance.shape.slice(0, -1).every((d, i) => d === s[i]);
  if (!same && !lacksLast && !sharedLast) {
    throw new RangeError(`${fn}: expected var of shape ${shapeStr(s)}, ${shapeStr(s.slice(0, -1))} or ${shapeStr([...s.slice(0, -1), 1])}, received ${shapeStr(variance.shape)}`);
  }
  checkValuesOnCpu(fn, variance, (v) => v < 0, 'expected a non-negative var');
  return T.tidy(() => {
    const v0 = lacksLast ? T.unsqueeze(variance, -1) : variance;
    // Straight-through clamp: the value is clamped, the gradient is that of var itself.
    const v = T.add(v0, noGrad(() => T.sub(T.clamp(v0, eps), v0)));
    let l = T.mul(T.add(T.log(v), T.div(T.square(T.sub(input, target)), v)), 0.5);
    if (options.full) l = T.add(l, 0.5 * Math.log(2 * Math.PI));
    return reduce(l, r);
  });
}

/**
 * Poisson negative log-likelihood: e^x - t x when `logInput` (default), else x - t log(x + eps);
 * `full` adds Stirling's approximation of log(t!) for targets above 1.
 */
export function poissonNllLoss(input: T.Tensor, target: T.Tensor, options: ReductionOptions & { logInput?: boolean; full?: boolean; eps?: number } = {}): T.Tensor {
  const fn = 'poissonNllLoss';
  const r = pair(fn, input, target, options);
  const eps = checkNumber(fn, options.eps ?? 1e-8, 'eps', (e) => e >= 0 && Number.isFinite(e), 'a non-negative number');
  return T.tidy(() => {
    let l = options.logInput ?? true ? T.sub(T.exp(input), T.mul(target, input)) : T.sub(input, T.mul(target, T.log(T.add(input, eps))));
    if (options.full) {
      const big = T.gt(target, 1);
      const t = T.where(big, target, 2); // keeps log(t) finite where the term is masked anyway
      const stirling = T.add(T.sub(T.mul(t, T.log(t)), t), T.mul(T.log(T.mul(t, 2 * Math.PI)), 0.5));
      l = T.add(l, T.where(big, stirling, 0));
    }
    return reduce(l, r);
  });
}
