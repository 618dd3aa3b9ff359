import * as T from '@tessera/tensor';

/**
 * Host-side random helpers for the partitioner and the cluster loader. All draws go through a
 * `T.Generator`, so results are reproducible under `T.manualSeed` (or a given generator).
 */

/** Throws unless `gen` is undefined or a T.Generator; returns the generator to use. */
export function resolveGenerator(op: string, gen: unknown): T.Generator {
  if (gen === undefined) return T.defaultGenerator;
  if (!(gen instanceof T.Generator)) throw new TypeError(`${op}: generator must be a T.Generator, received ${gen === null ? 'null' : typeof gen}`);
  return gen;
}

/** A uniformly random permutation of 0..n-1 (Fisher–Yates). */
export function randomPermutation(n: number, gen: T.Generator): Int32Array {
  const p = new Int32Array(n);
  for (let i = 0; i < n; i++) p[i] = i;
  shuffleInPlace(p, gen);
  return p;
}

/** Shuffles `a` in place (Fisher–Yates, 53-bit uniforms). */
export function shuffleInPlace(a: Int32Array, gen: T.Generator): void {
  const n = a.length;
  if (n < 2) return;
  const u = gen.uniform(n, true);
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(u[i] * (i + 1));
    const t = a[i];
    a[i] = a[j];
    a[j] = t;
  }
}

/** One integer uniform in [0, n). */
export function randomInt(n: number, gen: T.Generator): number {
  return Math.floor(gen.uniform(1, true)[0] * n);
}
