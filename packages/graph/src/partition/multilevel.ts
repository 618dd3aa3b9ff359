import type * as T from '@tessera/tensor';
import { recursiveBisection } from './bisect.js';
import { coarsen } from './coarsen.js';
import type { CsrGraph } from './csr.js';
import { KwayRefiner } from './refine.js';

/** Refinement passes per level (METIS' default niter). */
const REFINE_PASSES = 10;

/**
 * Multilevel k-way partitioning in the manner of METIS (Karypis & Kumar 1998):
 * 1. coarsen by heavy-edge matching until about max(20 k, 100) nodes remain;
 * 2. split the coarsest graph by recursive bisection;
 * 3. project the parts back level by level, rebalancing and refining the boundary at each.
 * Part weights stay within `maxW` whenever the node weights allow it (always for unit weights).
 * Refinement moves nothing out of a part lighter than ideal / imbalance.
 */
export function multilevelPartition(g: CsrGraph, k: number, imbalance: number, gen: T.Generator): Int32Array {
  if (k === 1) return new Int32Array(g.n);
  let total = 0;
  for (let u = 0; u < g.n; u++) total += g.vwgt[u];
  const ideal = total / k;
  // a part of ⌈ideal⌉ unit-weight nodes is always allowed, whatever the tolerance
  const maxW = Math.max(imbalance * ideal, Math.ceil(ideal - 1e-9));
  // and refinement does not shrink a part below ideal / imbalance (it would empty small parts)
  const minW = Math.min(ideal / imbalance, Math.floor(ideal + 1e-9));
  const { graphs, cmaps } = coarsen(g, Math.max(20 * k, 100), gen);
  const refiner = new KwayRefiner(k);
  const coarsest = graphs[graphs.length - 1];
  let part = recursiveBisection(coarsest, k, imbalance, gen);
  for (let level = graphs.length - 1; level >= 0; level--) {
    const fine = graphs[level];
    if (level < graphs.length - 1) {
      const cmap = cmaps[level];
      const projected = new Int32Array(fine.n);
      for (let u = 0; u < fine.n; u++) projected[u] = part[cmap[u]];
      part = projected;
    }
    refiner.balance(fine, part, maxW, level === 0, gen);
    refiner.refine(fine, part, maxW, minW, REFINE_PASSES, gen);
  }
  return part;
}
