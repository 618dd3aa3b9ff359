/** Classification losses over a class dim (dim 1, or dim 0 for an unbatched input), and oneHot. */
import * as T from '@tessera/tensor';
import { checkFloat, checkNumber, checkSameDevice, checkTensorArg, reductionOf, shapeStr, type ReductionOptions } from './reduction.js';

export interface NllLossOptions extends ReductionOptions {
  /** A float weight per class, shape [C]. */
  weight?: T.Tensor;
  /** Targets equal to this contribute nothing, to the loss nor to the 'mean' denominator (default -100). */
  ignoreIndex?: number;
}

export interface CrossEntropyOptions extends NllLossOptions {
  /** Mixes the target with the uniform distribution: (1 - s) target + s / C (default 0). */
  labelSmoothing?: number;
}

/** Throws (cpu only) when a class index is outside [0, C) and is not ignoreIndex. */
function checkClassRange(fn: string, target: T.Tensor, C: number, ignoreIndex: number): void {
  // webgpu tensors cannot be read synchronously: there out-of-range indices are not detected
  // (the gather kernel skips them), so the loss is silently wrong. Check on cpu before moving data.
  if (target.device !== 'cpu') return;
  const d = target.dataSync();
  for (let i = 0; i < d.length; i++) {
    if ((d[i] < 0 || d[i] >= C) && d[i] !== ignoreIndex) throw new RangeError(`${fn}: target class ${d[i]} is out of range for ${C} classes (expected 0 <= target < ${C}, or ignoreIndex ${ignoreIndex})`);
  }
}

/** Validates input/target/weight for class-index targets; returns the input and target with a batch dim. */
function indexArgs(fn: string, input: T.Tensor, target: T.Tensor, options: NllLossOptions) {
  checkFloat(fn, input, 'input');
  checkTensorArg(fn, target, 'target');
  if (target.dtype !== 'int32') throw new TypeError(`${fn}: expected int32 class indices as target, received ${target.dtype} (float targets of the input's shape are class probabilities, for crossEntropy only)`);
  if (input.rank === 0) throw new RangeError(`${fn}: expected input of shape [C], [N, C] or [N, C, d1, ...], received a 0-d tensor`);
  const batched = input.rank >= 2;
  const want = batched ? [input.shape[0], ...input.shape.slice(2)] : [];
  if (target.rank !== want.length || target.shape.some((s, i) => s !== want[i])) {
    throw new RangeError(`${fn}: expected target of shape ${shapeStr(want)} for input ${shapeStr(input.shape)}, received ${shapeStr(target.shape)}`);
  }
  const C = input.shape[batched ? 1 : 0];
  const ignoreIndex = checkNumber(fn, options.ignoreIndex ?? -100, 'ignoreIndex', Number.isInteger, 'an integer');
  const weight = options.weight === undefined ? undefined : checkFloat(fn, options.weight, 'weight');
  if (weight && (weight.rank !== 1 || weight.shape[0] !== C)) throw new RangeError(`${fn}: expected weight of shape [${C}] (one per class), received ${shapeStr(weight.shape)}`);
  checkSameDevice(fn, input, target, weight);
  checkClassRange(fn, target, C, ignoreIndex);
  return { batched, C, ignoreIndex, weight };
}

/**
 * The shared core of nllLoss and crossEntropy on batched log-probabilities `logp` [N, C, ...]:
 * per-element losses -w[t] logp[t] (mixed with the label-smoothing term) and the 'mean'
 * denominator, the sum of w[t] over non-ignored targets, as PyTorch 1.13 normalises.
 */
function indexLoss(logp: T.Tensor, target: T.Tensor, C: number, ignoreIndex: number, weight: T.Tensor | undefined, smoothing: number, reduction: string): T.Tensor {
  const keep = T.ne(target, ignoreIndex);
  const safe = T.where(keep, target, 0);
  const picked = T.squeeze(T.gather(logp, 1, T.unsqueeze(safe, 1)), 1);
  const mask = T.cast(keep, logp.dtype);
  const w = weight ? T.mul(T.reshape(T.indexSelect(weight, 0, T.flatten(safe)), target.shape), mask) : mask;
  let l = T.neg(T.mul(picked, w));
  if (smoothing > 0) {
    const wshape = logp.shape.map((s, i) => (i === 1 ? s : 1));
    const all = weight ? T.mul(logp, T.reshape(weight, wshape)) : logp;
    const smooth = T.mul(T.neg(T.sum(all, { dim: 1 })), mask);
    l = T.add(T.mul(l, 1 - smoothing), T.mul(smooth, smoothing / C));
  }
  if (reduction === 'none') return l;
  if (reduction === 'sum') return T.sum(l);
  return T.div(T.sum(l), T.sum(w));
}

/**
 * Negative log-likelihood of class indices under log-probabilities: input [C], [N, C] or
 * [N, C, d1, ...] with target (int32) [], [N] or [N, d1, ...]. With 'mean' the sum is divided by
 * the total weight of the non-ignored targets (NaN when every target is ignored, as in PyTorch).
 * Out-of-range targets throw on cpu; on webgpu they cannot be checked synchronously.
 */
export function nllLoss(input: T.Tensor, target: T.Tensor, options: NllLossOptions = {}): T.Tensor {
  const fn = 'nllLoss';
  const r = reductionOf(fn, options);
  const { batched, C, ignoreIndex, weight } = indexArgs(fn, input, target, options);
  return T.tidy(() => {
    const x = batched ? input : T.unsqueeze(input, 0);
    const t = batched ? target : T.unsqueeze(target, 0);
    const l = indexLoss(x, t, C, ignoreIndex, weight, 0, r);
    return batched || r !== 'none' ? l : T.squeeze(l, 0);
  });
}

/**
 * logSoftmax over the class dim followed by the negative log-likelihood, with PyTorch 1.13's two
 * target kinds: int32 class indices ([N] or [N, d1, ...], as nllLoss; weight, ignoreIndex and
 * labelSmoothing apply and 'mean' divides by the total weight of the non-ignored targets), or
 * float class probabilities of the input's shape ('mean' divides by the number of positions,
 * N d1 ..., whatever the weights; ignoreIndex is not supported there).
 */
export function crossEntropy(input: T.Tensor, target: T.Tensor, options: CrossEntropyOptions = {}): T.Tensor {
  const fn = 'crossEntropy';
  const r = reductionOf(fn, options);
  const s = checkNumber(fn, options.labelSmoothing ?? 0, 'labelSmoothing', (v) => v >= 0 && v <= 1, 'a number in [0, 1]');
  checkFloat(fn, input, 'input');
  checkTensorArg(fn, target, 'target');
  if (target.dtype === 'float32' || target.dtype === 'float64') return probabilityCrossEntropy(input, target, options, r, s);
  const { batched, C, ignoreIndex, weight } = indexArgs(fn, input, target, options);
  return T.tidy(() => {
    const x = batched ? input : T.unsqueeze(input, 0);
    const t = batched ? target : T.unsqueeze(target, 0);
    const l = indexLoss(T.logSoftmax(x, 1), t, C, ignoreIndex, weight, s, r);
    return batched || r !== 'none' ? l : T.squeeze(l, 0);
  });
}

function probabilityCrossEntropy(input: T.Tensor, target: T.Tensor, options: CrossEntropyOptions, r: string, smoothing: number): T.Tensor {
  const fn = 'crossEntropy';
  if (input.rank === 0) throw new RangeError(`${fn}: expected input of shape [C], [N, C] or [N, C, d1, ...], received a 0-d tensor`);
  if (target.rank !== input.rank || target.shape.some((d, i) => d !== input.shape[i])) {
    throw new RangeError(`${fn}: expected class-probability target of the input's shape ${shapeStr(input.shape)} (or int32 class indices), received ${shapeStr(target.shape)}`);
  }
  if (options.ignoreIndex !== undefined && options.ignoreIndex !== -100) throw new TypeError(`${fn}: ignoreIndex is not supported with class-probability (float) targets`);
  const dim = input.rank >= 2 ? 1 : 0;
  const C = input.shape[dim];
  const weight = options.weight === undefined ? undefined : checkFloat(fn, options.weight, 'weight');
  if (weight && (weight.rank !== 1 || weight.shape[0] !== C)) throw new RangeError(`${fn}: expected weight of shape [${C}] (one per class), received ${shapeStr(weight.shape)}`);
  checkSameDevice(fn, input, target, weight);
  return T.tidy(() => {
    const t = smoothing > 0 ? T.add(T.mul(target, 1 - smoothing), smoothing / C) : target;
    let prod = T.mul(T.logSoftmax(input, dim), t);
    if (weight) prod = T.mul(prod, T.reshape(weight, input.shape.map((d, i) => (i === dim ? d : 1))));
    if (r === 'none') return T.neg(T.sum(prod, { dim }));
    const total = T.neg(T.sum(prod));
    return r === 'sum' ? total : T.div(total, input.size / C);
  });
}

/**
 * One-hot encoding of int32 class indices: shape [...x.shape, numClasses], int32. numClasses
 * defaults to max(x) + 1, which needs a synchronous read: on webgpu give it explicitly.
 */
export function oneHot(x: T.Tensor, options: { numClasses?: number } = {}): T.Tensor {
  const fn = 'oneHot';
  checkTensorArg(fn, x, 'input');
  if (x.dtype !== 'int32') throw new TypeError(`${fn}: expected int32 class indices, received ${x.dtype}`);
  let n = options.numClasses ?? -1;
  if (n !== -1) checkNumber(fn, n, 'numClasses', (v) => Number.isInteger(v) && v >= 1, 'a positive integer (or -1 to infer it)');
  if (x.device === 'cpu') {
    const d = x.dataSync();
    let max = -1;
    for (let i = 0; i < d.length; i++) {
      if (d[i] < 0 || (n !== -1 && d[i] >= n)) throw new RangeError(`${fn}: class index ${d[i]} is out of range (expected 0 <= index < ${n === -1 ? 'numClasses' : n})`);
      max = Math.max(max, d[i]);
    }
    if (n === -1) n = max + 1;
    if (n < 1) throw new RangeError(`${fn}: cannot infer numClasses from an empty input; pass numClasses`);
  } else if (n === -1) {
    throw new TypeError(`${fn}: numClasses must be given on ${x.device} (inferring it needs a synchronous read)`);
  }
  const classes = n;
  return T.tidy(() => T.cast(T.eq(T.unsqueeze(x, -1), T.arange(classes, undefined, 1, { dtype: 'int32', device: x.device })), 'int32'));
}
