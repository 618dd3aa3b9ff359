import type * as T from '@tessera/tensor';
import type { CsrGraph } from './csr.js';
import { randomPermutation } from './random.js';

/** Stop coarsening when a level keeps more than this fraction of the nodes of the one before. */
const MIN_SHRINK = 0.95;
/** Two-hop matching (below) is tried when more than this fraction of the nodes found no partner. */
const TWO_HOP_THRESHOLD = 0.1;
/** Neighbours, and their neighbours, that two-hop matching looks at per node (bounds its cost on hubs). */
const TWO_HOP_SCAN = 32;

/** The graphs from fine to coarse, and for each but the last the map of its nodes onto the next. */
export interface Hierarchy {
  graphs: CsrGraph[];
  cmaps: Int32Array[];
}

/**
 * Coarsening phase of the multilevel scheme: repeatedly contracts a heavy-edge matching until the
 * graph has at most `coarsenTo` nodes or stops shrinking. Coarse nodes may weigh at most
 * 1.5 × total / coarsenTo, so that the coarsest graph can still be split evenly.
 */
export function coarsen(g: CsrGraph, coarsenTo: number, gen: T.Generator): Hierarchy {
  const graphs = [g];
  const cmaps: Int32Array[] = [];
  let total = 0;
  for (let u = 0; u < g.n; u++) total += g.vwgt[u];
  const maxVwgt = (1.5 * total) / coarsenTo;
  let cur = g;
  while (cur.n > coarsenTo) {
    const { match, cmap, cn } = heavyEdgeMatching(cur, maxVwgt, gen);
    if (cn > MIN_SHRINK * cur.n) break;
    cur = contract(cur, match, cmap, cn);
    graphs.push(cur);
    cmaps.push(cmap);
  }
  return { graphs, cmaps };
}

/** Nodes in random order, then stably by degree (low first: they have the fewest partners to choose from). */
function visitOrder(g: CsrGraph, gen: T.Generator): Int32Array {
  const perm = randomPermutation(g.n, gen);
  let maxDeg = 0;
  for (let u = 0; u < g.n; u++) maxDeg = Math.max(maxDeg, g.xadj[u + 1] - g.xadj[u]);
  const start = new Int32Array(maxDeg + 2);
  for (let u = 0; u < g.n; u++) start[g.xadj[u + 1] - g.xadj[u] + 1]++;
  for (let d = 0; d <= maxDeg; d++) start[d + 1] += start[d];
  const order = new Int32Array(g.n);
  for (let i = 0; i < g.n; i++) {
    const u = perm[i];
    order[start[g.xadj[u + 1] - g.xadj[u]]++] = u;
  }
  return order;
}

/**
 * Heavy-edge matching: each unmatched node, in random low-degree-first order, is paired with the
 * unmatched neighbour joined by the heaviest edge. Nodes left over are paired with a node two
 * hops away (sharing a neighbour) when many are left, and isolated nodes are paired with each
 * other, so that star-like parts and isolated nodes still shrink. `match[u]` is u's partner (u
 * itself when alone); `cmap` numbers the pairs in order of their smaller node.
 */
function heavyEdgeMatching(g: CsrGraph, maxVwgt: number, gen: T.Generator): { match: Int32Array; cmap: Int32Array; cn: number } {
  const { n, xadj, adjncy, adjwgt, vwgt } = g;
  const order = visitOrder(g, gen);
  // each node scans its neighbours from a random offset, so that ties (all edges weigh the same on
  // an unweighted graph) go to a random neighbour rather than the one with the smallest id
  const offset = gen.bits(n);
  const match = new Int32Array(n).fill(-1);
  let unmatched = 0;
  for (let i = 0; i < n; i++) {
    const u = order[i];
    if (match[u] >= 0) continue;
    let best = -1;
    let bestW = -Infinity;
    const room = maxVwgt - vwgt[u];
    const s = xadj[u];
    const deg = xadj[u + 1] - s;
    const first = deg > 0 ? offset[u] % deg : 0;
    for (let t = 0; t < deg; t++) {
      let j = s + first + t;
      if (j >= s + deg) j -= deg;
      const v = adjncy[j];
      if (match[v] < 0 && adjwgt[j] > bestW && vwgt[v] <= room) {
        best = v;
        bestW = adjwgt[j];
      }
    }
    if (best >= 0) {
      match[u] = best;
      match[best] = u;
    } else {
      unmatched++;
    }
  }
  if (unmatched > TWO_HOP_THRESHOLD * n) {
    for (let i = 0; i < n; i++) {
      const u = order[i];
      if (match[u] >= 0 || xadj[u] === xadj[u + 1]) continue;
      const room = maxVwgt - vwgt[u];
      let found = -1;
      let scanned = 0;
      for (let j = xadj[u]; j < xadj[u + 1] && found < 0 && scanned < TWO_HOP_SCAN; j++, scanned++) {
        const v = adjncy[j];
        const end = Math.min(xadj[v + 1], xadj[v] + TWO_HOP_SCAN);
        for (let jj = xadj[v]; jj < end; jj++) {
          const w = adjncy[jj];
          if (w !== u && match[w] < 0 && vwgt[w] <= room) {
            found = w;
            break;
          }
        }
      }
      if (found >= 0) {
        match[u] = found;
        match[found] = u;
      }
    }
  }
  // isolated nodes: pair them up among themselves
  let waiting = -1;
  for (let i = 0; i < n; i++) {
    const u = order[i];
    if (match[u] >= 0 || xadj[u] !== xadj[u + 1]) continue;
    if (waiting >= 0 && vwgt[u] + vwgt[waiting] <= maxVwgt) {
      match[u] = waiting;
      match[waiting] = u;
      waiting = -1;
    } else {
      waiting = u;
    }
  }
  const cmap = new Int32Array(n);
  let cn = 0;
  for (let u = 0; u < n; u++) {
    if (match[u] < 0) match[u] = u;
    const v = match[u];
    if (v < u) continue; // the pair was numbered at v
    cmap[u] = cn;
    cmap[v] = cn;
    cn++;
  }
  return { match, cmap, cn };
}

/**
 * The coarse graph of a matching: each pair becomes one node weighing the sum of the two; edges
 * between pairs are merged, summing their weights; the edge inside a pair disappears.
 */
function contract(g: CsrGraph, match: Int32Array, cmap: Int32Array, cn: number): CsrGraph {
  const { n, xadj, adjncy, adjwgt, vwgt } = g;
  const cxadj = new Int32Array(cn + 1);
  const cvwgt = new Float64Array(cn);
  const cadj = new Int32Array(adjncy.length);
  const cw = new Float64Array(adjncy.length);
  // slot[c] = output position of coarse neighbour c in the current row (stale when < the row start)
  const slot = new Int32Array(cn).fill(-1);
  let k = 0;
  for (let u = 0; u < n; u++) {
    const v = match[u];
    if (v < u) continue;
    const c = cmap[u];
    const rowStart = k;
    cvwgt[c] = v === u ? vwgt[u] : vwgt[u] + vwgt[v];
    for (let m = 0; m < (v === u ? 1 : 2); m++) {
      const x = m === 0 ? u : v;
      for (let j = xadj[x]; j < xadj[x + 1]; j++) {
        const cx = cmap[adjncy[j]];
        if (cx === c) continue;
        const s = slot[cx];
        if (s >= rowStart) {
          cw[s] += adjwgt[j];
        } else {
          slot[cx] = k;
          cadj[k] = cx;
          cw[k++] = adjwgt[j];
        }
      }
    }
    cxadj[c + 1] = k;
  }
  return { n: cn, xadj: cxadj, adjncy: cadj.slice(0, k), adjwgt: cw.slice(0, k), vwgt: cvwgt };
}
