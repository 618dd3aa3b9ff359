import { arrayType, isFloat, type DType } from '../dtype.js';
import { checkShape, numel, type Shape } from '../shape.js';
import { Tensor } from '../tensor.js';
import { tidy } from '../memory.js';
import { defaultGenerator, type Generator } from '../random/philox.js';
import { tensor } from './creation.js';
import { cast, div, lt, mul, ne, neg, log, sub, where } from './elementwise.js';
import { cumsum, sum, argmin } from './reduction.js';
import { reshape, unsqueeze, expand, contiguous, cat } from './movement.js';
import { checkTensor, type CreateOptions } from './util.js';

/**
 * Random tensors. Values are drawn from a Philox4x32-10 stream on the host and uploaded, so the
 * same seed gives the same bits on cpu and webgpu.
 */
export interface RandomOptions extends CreateOptions {
  generator?: Generator;
}

const gen = (o: RandomOptions) => o.generator ?? defaultGenerator;

function floatDType(op: string, o: RandomOptions): DType {
  const d = o.dtype ?? 'float32';
  if (!isFloat(d)) throw new TypeError(`${op}: expected a float dtype, received ${d}`);
  return d;
}

function fromValues(values: Float64Array, shape: Shape, dtype: DType, o: RandomOptions): Tensor {
  const arr = dtype === 'float64' ? values : new (arrayType(dtype))(values);
  return tensor(arr, { dtype, device: o.device, shape });
}

/** Uniform on [0, 1). */
export function rand(shape: Shape, options: RandomOptions = {}): Tensor {
  const s = checkShape('rand', shape);
  const dtype = floatDType('rand', options);
  return fromValues(gen(options).uniform(numel(s), dtype === 'float64'), s, dtype, options);
}

/** Standard normal. */
export function randn(shape: Shape, options: RandomOptions = {}): Tensor {
  const s = checkShape('randn', shape);
  return fromValues(gen(options).normal(numel(s)), s, floatDType('randn', options), options);
}

/** Normal with the given mean and std. */
export function normal(mean: number, std: number, shape: Shape, options: RandomOptions = {}): Tensor {
  if (!(std >= 0)) throw new RangeError(`normal: std must be non-negative, received ${std}`);
  const s = checkShape('normal', shape);
  const v = gen(options).normal(numel(s));
  for (let i = 0; i < v.length; i++) v[i] = mean + std * v[i];
  return fromValues(v, s, floatDType('normal', options), options);
}

/** Uniform integers in [low, high). */
export function randint(low: number, high: number, shape: Shape, options: RandomOptions = {}): Tensor {
  if (!Number.isInteger(low) || !Number.isInteger(high) || high <= low) {
    throw new RangeError(`randint: expected integers low < high, received ${low} and ${high}`);
  }
  const s = checkShape('randint', shape);
  const u = gen(options).uniform(numel(s), true);
  const dtype = options.dtype ?? 'int32';
  const out = new (arrayType(dtype))(u.length);
  for (let i = 0; i < u.length; i++) out[i] = low + Math.floor(u[i] * (high - low));
  return tensor(out, { dtype, device: options.device, shape: s });
}

/** A random permutation of 0..n-1 (int32). */
export function randperm(n: number, options: RandomOptions = {}): Tensor {
  if (!Number.isInteger(n) || n < 0) throw new RangeError(`randperm: n must be a non-negative integer, received ${n}`);
  const u = gen(options).uniform(n, true);
  const p = new Int32Array(n);
  for (let i = 0; i < n; i++) p[i] = i;
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(u[i] * (i + 1));
    const t = p[i];
    p[i] = p[j];
    p[j] = t;
  }
  return tensor(p, { dtype: options.dtype ?? 'int32', device: options.device });
}

/** 1 with probability p (a number with `shape`, or a tensor of probabilities), else 0. */
export function bernoulli(p: Tensor | number, shapeOrOptions?: Shape | RandomOptions, maybeOptions: RandomOptions = {}): Tensor {
  if (p instanceof Tensor) {
    checkTensor('bernoulli', p, 'probabilities');
    const options = (shapeOrOptions as RandomOptions | undefined) ?? {};
    if (!isFloat(p.dtype)) throw new TypeError(`bernoulli: expected float probabilities, received ${p.dtype}`);
    return tidy(() => {
      const u = rand(p.shape, { ...options, dtype: p.dtype, device: p.device });
      return cast(lt(u, p), options.dtype ?? p.dtype);
    });
  }
  if (!(p >= 0 && p <= 1)) throw new RangeError(`bernoulli: p must be in [0, 1], received ${p}`);
  const shape = checkShape('bernoulli', shapeOrOptions ?? []);
  const options = maybeOptions;
  const u = gen(options).uniform(numel(shape));
  const dtype = options.dtype ?? 'float32';
  const out = new (arrayType(dtype))(u.length);
  for (let i = 0; i < u.length; i++) out[i] = u[i] < p ? 1 : 0;
  return tensor(out, { dtype, device: options.device, shape });
}

/**
 * Draws `numSamples` category indices per row of (unnormalised, non-negative) weights, with or
 * without replacement, as PyTorch's multinomial. Runs on the tensor's device.
 */
export function multinomial(probs: Tensor, numSamples: number, options: RandomOptions & { replacement?: boolean } = {}): Tensor {
  checkTensor('multinomial', probs, 'probs');
  if (probs.rank !== 1 && probs.rank !== 2) throw new RangeError(`multinomial: expected probs of rank 1 or 2, received shape [${probs.shape.join(', ')}]`);
  if (!isFloat(probs.dtype)) throw new TypeError(`multinomial: expected float probs, received ${probs.dtype}`);
  const C = probs.shape[probs.rank - 1];
  if (!Number.isInteger(numSamples) || numSamples <= 0) throw new RangeError(`multinomial: numSamples must be a positive integer, received ${numSamples}`);
  if (!options.replacement && numSamples > C) throw new RangeError(`multinomial: cannot draw ${numSamples} samples without replacement from ${C} categories`);
  return tidy(() => {
    const P = probs.rank === 1 ? unsqueeze(probs, 0) : probs;
    const R = P.shape[0];
    const o = { device: probs.device, generator: options.generator, dtype: P.dtype };
    let idx: Tensor;
    if (options.replacement) {
      const cdf = cumsum(P, 1);
      const total = reshape(contiguous(cdf.shape[1] ? selectLast(cdf) : cdf), [R, 1, 1]);
      const u = mul(rand([R, numSamples, 1], o), total);
      // index = number of cdf entries <= u  (strictly below u: first index whose cdf exceeds u)
      const below = cast(lt(expand(unsqueeze(cdf, 1), [R, numSamples, C]), u), 'int32');
      idx = sum(below, { dim: 2 });
      idx = where(lt(idx, C), idx, C - 1);
    } else {
      // exponential race: the k smallest -log(u)/p are a draw without replacement
      let keys = div(neg(log(sub(1, rand([R, C], o)))), P);
      const cols = reshape(tensorRange(C, probs), [1, C]);
      const picks: Tensor[] = [];
      for (let s = 0; s < numSamples; s++) {
        const i = argmin(keys, { dim: 1, keepdim: true });
        picks.push(i);
        keys = where(ne(cols, i), keys, Infinity);
      }
      idx = cat(picks, 1);
    }
    const out = cast(idx, 'int32');
    return probs.rank === 1 ? reshape(out, [numSamples]) : out;
  });
}

function selectLast(t: Tensor): Tensor {
  const n = t.shape[t.rank - 1];
  return t._view([...t.shape.slice(0, -1), 1], t.strides, t.offset + (n - 1) * t.strides[t.rank - 1]);
}

function tensorRange(n: number, like: Tensor): Tensor {
  return tensor(Int32Array.from({ length: n }, (_, i) => i), { device: like.device });
}

