/** Option checks and state-buffer helpers shared by the optimizers. */
import * as T from '@tessera/tensor';
import type { Tensor } from '@tessera/tensor';
import type { ParamGroup, ParamState } from '../optimizer.js';

type Check = (v: unknown) => boolean;

export const nonNegative: Check = (v) => typeof v === 'number' && v >= 0 && Number.isFinite(v);
export const positive: Check = (v) => typeof v === 'number' && v > 0 && Number.isFinite(v);
/** In [0, 1): decay rates such as betas, alpha, rho. */
export const unitInterval: Check = (v) => typeof v === 'number' && v >= 0 && v < 1;
export const boolean: Check = (v) => typeof v === 'boolean';
export const pairOf = (each: Check): Check => (v) => Array.isArray(v) && v.length === 2 && v.every(each);

/**
 * Validates every group's options (after merging with the defaults), so a bad per-group value is
 * caught in the constructor with the optimizer, option and group named.
 */
/** The option checks every Adam-family optimizer shares; each adds its own extras. */
export const ADAM_FAMILY_CHECKS = {
  betas: [pairOf(unitInterval), 'two numbers in [0, 1)'],
  eps: [nonNegative, 'a number >= 0'],
  weightDecay: [nonNegative, 'a number >= 0'],
  maximize: [boolean, 'a boolean'],
} as const;

export function checkGroups(name: string, groups: ParamGroup[], spec: Record<string, readonly [Check, string]>): void {
  groups.forEach((g, gi) => {
    for (const [key, [ok, expected]] of Object.entries(spec)) {
      if (!ok(g[key])) throw new RangeError(`${name}: ${key} must be ${expected}, received ${JSON.stringify(g[key])} (group ${gi})`);
    }
  });
}

/** The state buffer `key`, created by `init` (and kept past the step's tidy scope) on first use. */
export function buffer(state: ParamState, key: string, init: () => Tensor): Tensor {
  const existing = state[key];
  if (existing instanceof T.Tensor) return existing;
  const t = T.keep(init());
  state[key] = t;
  return t;
}

/** The group's options, typed (the base class stores them untyped next to `params`). */
export function opts<O>(group: ParamGroup): O & { lr: number } {
  return group as unknown as O & { lr: number };
}

/** `grad + weightDecay * p` (L2 penalty folded into the gradient), or `grad` when it is 0. */
export function withL2(grad: Tensor, p: Tensor, weightDecay: number): Tensor {
  return weightDecay !== 0 ? T.add(grad, T.mul(p, weightDecay)) : grad;
}

/** `beta * avg + (1 - beta) * x`, the exponential moving average step. */
export function ema(avg: Tensor, x: Tensor, beta: number): Tensor {
  return T.add(T.mul(avg, beta), T.mul(x, 1 - beta));
}

/** ||a|| / ||b|| as a 0-d tensor, or 1 where either norm is 0 (the trust ratio of LARS and LAMB). */
export function trustRatio(numerator: Tensor, denominator: Tensor): Tensor {
  return T.where(T.logicalAnd(T.gt(numerator, 0), T.gt(denominator, 0)), T.div(numerator, denominator), 1);
}

/** Increments and returns the step counter kept in `state.step`. */
export function nextStep(state: ParamState): number {
  const step = ((state.step as number | undefined) ?? 0) + 1;
  state.step = step;
  return step;
}
