import * as T from '@tessera/tensor';

/**
 * Walker's alias method (Vose's O(n) construction): after setup, each draw from a discrete
 * distribution over n outcomes costs two uniforms and one comparison, whatever n is.
 * Table i keeps outcome i with probability prob[i] and otherwise gives alias[i].
 */
export interface AliasTable {
  readonly prob: Float64Array;
  readonly alias: Int32Array;
}

/** 2^-32: turns a raw 32-bit word into a uniform in [0, 1). */
export const WORD = 2 ** -32;

/** Throws unless `gen` is a T.Generator; returns the default generator when it is undefined. */
export function generatorOf(op: string, gen: unknown): T.Generator {
  const g = gen ?? T.defaultGenerator;
  if (!(g instanceof T.Generator)) throw new TypeError(`${op}: generator must be a T.Generator`);
  return g;
}

/**
 * Builds the alias table of `weights[start..end)` into `prob[start..end)` / `alias[start..end)`
 * (alias entries are local indices 0..n-1). The weights must be non-negative with a positive sum.
 * `small` and `large` are scratch of length ≥ end − start.
 */
export function aliasBuildInto(weights: ArrayLike<number>, start: number, end: number, prob: Float64Array, alias: Int32Array, small: Int32Array, large: Int32Array): void {
  const n = end - start;
  let total = 0;
  for (let i = start; i < end; i++) total += weights[i];
  let ns = 0;
  let nl = 0;
  for (let i = 0; i < n; i++) {
    const s = (weights[start + i] * n) / total;
    prob[start + i] = s;
    alias[start + i] = i;
    if (s < 1) small[ns++] = i;
    else large[nl++] = i;
  }
  while (ns > 0 && nl > 0) {
    const s = small[--ns];
    const l = large[--nl];
    alias[start + s] = l;
    // the large outcome gives away 1 − prob[s] of its mass to fill column s
    const rest = prob[start + l] + prob[start + s] - 1;
    prob[start + l] = rest;
    if (rest < 1) small[ns++] = l;
    else large[nl++] = l;
  }
  // leftovers are 1 up to rounding
  while (nl > 0) prob[start + large[--nl]] = 1;
  while (ns > 0) prob[start + small[--ns]] = 1;
}

/** One draw from the table stored at [start, start + n): a local index in [0, n). */
export function aliasPick(prob: Float64Array, alias: Int32Array, start: number, n: number, u1: number, u2: number): number {
  const i = Math.min(n - 1, Math.floor(u1 * n));
  return u2 < prob[start + i] ? i : alias[start + i];
}

/**
 * The alias table of a discrete distribution given by non-negative weights (normalised here:
 * `probs` need not sum to 1).
 */
export function aliasSetup(probs: ArrayLike<number>): AliasTable {
  const op = 'aliasSetup';
  if (probs === null || typeof probs !== 'object' || typeof probs.length !== 'number') throw new TypeError(`${op}: expected an array of probabilities`);
  const n = probs.length;
  if (n === 0) throw new RangeError(`${op}: expected at least one probability, received an empty array`);
  let total = 0;
  for (let i = 0; i < n; i++) {
    const p = probs[i];
    if (typeof p !== 'number' || !(p >= 0) || !Number.isFinite(p)) throw new RangeError(`${op}: probabilities must be finite and non-negative, received ${String(p)} at index ${i}`);
    total += p;
  }
  if (!(total > 0)) throw new RangeError(`${op}: probabilities must have a positive sum, received all zeros`);
  const prob = new Float64Array(n);
  const alias = new Int32Array(n);
  aliasBuildInto(probs, 0, n, prob, alias, new Int32Array(n), new Int32Array(n));
  return { prob, alias };
}

export interface AliasDrawOptions {
  /** Default: the global generator (`T.manualSeed`). */
  generator?: T.Generator;
}

/** `numSamples` independent draws from an alias table: outcome indices, int32. */
export function aliasDraw(table: AliasTable, numSamples: number, options: AliasDrawOptions = {}): Int32Array {
  const op = 'aliasDraw';
  if (!table || !(table.prob instanceof Float64Array) || !(table.alias instanceof Int32Array) || table.prob.length !== table.alias.length || table.prob.length === 0) {
    throw new TypeError(`${op}: expected a table from aliasSetup ({ prob: Float64Array, alias: Int32Array } of equal, non-zero length)`);
  }
  if (!Number.isInteger(numSamples) || numSamples < 0) throw new RangeError(`${op}: numSamples must be a non-negative integer, received ${numSamples}`);
  const gen = generatorOf(op, options.generator);
  const n = table.prob.length;
  const out = new Int32Array(numSamples);
  if (numSamples === 0) return out;
  const w = gen.bits(2 * numSamples);
  for (let k = 0; k < numSamples; k++) out[k] = aliasPick(table.prob, table.alias, 0, n, w[2 * k] * WORD, w[2 * k + 1] * WORD);
  return out;
}
