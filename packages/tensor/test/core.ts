/**
 * Helpers shared by the core conformance suites: the golden cases of gen_core.py grouped by op,
 * and non-contiguous views with the same elements as a given tensor.
 */
import { expect } from 'vitest';
import { contiguous, flip, permute, select, stack, tidy, zerosLike, type Tensor } from '../src/index.js';
import { loadFixture, type FixtureCase } from './helpers.js';

export const coreCases: FixtureCase[] = await loadFixture('core');

/** The golden cases of the given ops, in file order. */
export function casesOf(...ops: string[]): FixtureCase[] {
  return coreCases.filter((c) => ops.includes(c.op));
}

export type Layout = 'contiguous' | 'transposed' | 'flipped' | 'strided';
export const LAYOUTS: readonly Layout[] = ['contiguous', 'transposed', 'flipped', 'strided'];

const reversed = (r: number) => Array.from({ length: r }, (_, i) => r - 1 - i);

/**
 * A view with the elements of `x` laid out differently in memory: 'transposed' stores the
 * dims in reverse order (permuted strides), 'flipped' stores every dim backwards (negative
 * strides), 'strided' interleaves the elements with zeros (a step-2 slice of the last dim).
 */
export function relayout(x: Tensor, layout: Layout): Tensor {
  if (layout === 'contiguous' || x.rank === 0) return x;
  return tidy(() => {
    const all = reversed(x.rank);
    switch (layout) {
      case 'transposed':
        return permute(contiguous(permute(x, all), true), all);
      case 'flipped':
        return flip(contiguous(flip(x, all), true), all);
      case 'strided':
        return select(stack([x, zerosLike(x)], -1), -1, 0);
    }
  });
}

/** Asserts that `t` is not contiguous (so a test of a non-contiguous layout tests one). */
export function expectStrided(t: Tensor): void {
  if (t.size > 1) expect(t.isContiguous(), `${t} with strides [${t.strides.join(', ')}]`).toBe(false);
}
