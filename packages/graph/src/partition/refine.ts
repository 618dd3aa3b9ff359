import type * as T from '@tessera/tensor';
import { edgeCut, partWeights, type CsrGraph } from './csr.js';
import { randomPermutation, shuffleInPlace } from './random.js';

/**
 * k-way refinement and balancing, run at every level while projecting the partition back from
 * the coarsest graph. Both work on the boundary (nodes with a neighbour in another part) and use
 * one scratch array of per-part connectivity, so a pass costs O(edges).
 */
/** A refinement pass that lowers the cut by at most this fraction ends the refinement. */
const MIN_GAIN = 1e-3;

export class KwayRefiner {
  readonly #conn: Float64Array;
  readonly #touched: Int32Array;
  #nt = 0;

  constructor(readonly k: number) {
    this.#conn = new Float64Array(k);
    this.#touched = new Int32Array(k);
  }

  /** Fills the connectivity of u to each neighbouring part; false for an interior node. */
  #gather(g: CsrGraph, part: Int32Array, u: number): boolean {
    const a = part[u];
    const { xadj, adjncy, adjwgt } = g;
    let boundary = false;
    for (let j = xadj[u]; j < xadj[u + 1]; j++) {
      if (part[adjncy[j]] !== a) {
        boundary = true;
        break;
      }
    }
    if (!boundary) return false;
    const conn = this.#conn;
    this.#nt = 0;
    conn[a] = 0;
    this.#touched[this.#nt++] = a;
    for (let j = xadj[u]; j < xadj[u + 1]; j++) {
      const p = part[adjncy[j]];
      if (conn[p] === 0 && p !== a) this.#touched[this.#nt++] = p;
      conn[p] += adjwgt[j];
    }
    return true;
  }

  #clear(): void {
    for (let t = 0; t < this.#nt; t++) this.#conn[this.#touched[t]] = 0;
    this.#nt = 0;
  }

  /**
   * Greedy boundary refinement (as METIS' k-way refinement): visits boundary nodes in random
   * order and moves each to the neighbouring part it is most connected to when that lowers the
   * cut (or keeps it and evens out the part weights), never pushing a part above `maxW`, below
   * `minW` or emptying it. Stops after `passes` passes or when a pass lowers the cut by less than
   * 0.1 %.
   */
  refine(g: CsrGraph, part: Int32Array, maxW: number, minW: number, passes: number, gen: T.Generator): void {
    const k = this.k;
    const { xadj, adjncy } = g;
    const pw = partWeights(g, part, k);
    const count = partCounts(part, k);
    const conn = this.#conn;
    // candidates: a superset of the boundary (a node's flag is cleared when found interior and set
    // again when a neighbour moves), so that a pass does not rescan the interior
    const candidate = new Uint8Array(g.n).fill(1);
    const list = new Int32Array(g.n);
    let cut = edgeCut(g, part);
    for (let pass = 0; pass < passes; pass++) {
      let size = 0;
      for (let u = 0; u < g.n; u++) if (candidate[u]) list[size++] = u;
      const order = list.subarray(0, size);
      shuffleInPlace(order, gen);
      let gainSum = 0;
      for (let i = 0; i < size; i++) {
        const u = order[i];
        if (!this.#gather(g, part, u)) {
          candidate[u] = 0;
          continue;
        }
        const a = part[u];
        const vw = g.vwgt[u];
        let best = -1;
        let bestConn = -Infinity;
        for (let t = 1; t < this.#nt; t++) {
          const p = this.#touched[t];
          if (pw[p] + vw > maxW) continue;
          if (conn[p] > bestConn || (conn[p] === bestConn && pw[p] < pw[best])) {
            best = p;
            bestConn = conn[p];
          }
        }
        const internal = conn[a];
        this.#clear();
        if (best < 0 || count[a] === 1 || pw[a] - vw < minW) continue;
        const gain = bestConn - internal;
        if (gain > 0 || (gain === 0 && pw[a] - vw > pw[best])) {
          part[u] = best;
          pw[a] -= vw;
          pw[best] += vw;
          count[a]--;
          count[best]++;
          gainSum += gain;
          for (let j = xadj[u]; j < xadj[u + 1]; j++) candidate[adjncy[j]] = 1;
        }
      }
      // later passes gain ever less; stop once a pass hardly lowers the cut
      if (gainSum <= MIN_GAIN * cut) break;
      cut -= gainSum;
    }
  }

  /**
   * Moves nodes out of parts heavier than `maxW`: first boundary nodes to the neighbouring part
   * that loses the least cut and has room; where that is not enough (no room next door, or a part
   * with no boundary) and `anywhere` is set, any node to the lightest part. With `anywhere` it
   * also gives every empty part a node. Returns true when every part is within `maxW`.
   */
  balance(g: CsrGraph, part: Int32Array, maxW: number, anywhere: boolean, gen: T.Generator): boolean {
    const k = this.k;
    const pw = partWeights(g, part, k);
    const count = partCounts(part, k);
    const conn = this.#conn;
    const over = () => pw.some((w) => w > maxW);
    for (let round = 0; round < 8 && over(); round++) {
      const order = randomPermutation(g.n, gen);
      let moved = 0;
      for (let i = 0; i < g.n; i++) {
        const u = order[i];
        const a = part[u];
        if (pw[a] <= maxW || count[a] === 1) continue;
        if (!this.#gather(g, part, u)) continue;
        const vw = g.vwgt[u];
        let best = -1;
        let bestConn = -Infinity;
        for (let t = 1; t < this.#nt; t++) {
          const p = this.#touched[t];
          if (pw[p] + vw > maxW) continue;
          if (conn[p] > bestConn || (conn[p] === bestConn && pw[p] < pw[best])) {
            best = p;
            bestConn = conn[p];
          }
        }
        this.#clear();
        if (best < 0) continue;
        part[u] = best;
        pw[a] -= vw;
        pw[best] += vw;
        count[a]--;
        count[best]++;
        moved++;
      }
      if (moved === 0) break;
    }
    if (!anywhere) return !over();
    const order = randomPermutation(g.n, gen);
    if (over()) {
      let light = argmin(pw);
      for (let i = 0; i < g.n; i++) {
        const u = order[i];
        const a = part[u];
        if (pw[a] <= maxW || count[a] === 1 || light === a || pw[light] + g.vwgt[u] > maxW) continue;
        part[u] = light;
        pw[a] -= g.vwgt[u];
        pw[light] += g.vwgt[u];
        count[a]--;
        count[light]++;
        light = argmin(pw);
      }
    }
    for (let p = 0; p < k; p++) {
      if (count[p] > 0) continue;
      // take a node from the part with the most nodes (k <= n, so one has at least two)
      const from = argmax(count);
      for (let i = 0; i < g.n; i++) {
        const u = order[i];
        if (part[u] !== from) continue;
        part[u] = p;
        pw[from] -= g.vwgt[u];
        pw[p] += g.vwgt[u];
        count[from]--;
        count[p]++;
        break;
      }
    }
    return !over();
  }
}

function partCounts(part: Int32Array, k: number): Int32Array {
  const c = new Int32Array(k);
  for (let u = 0; u < part.length; u++) c[part[u]]++;
  return c;
}

function argmin(a: ArrayLike<number>): number {
  let m = 0;
  for (let i = 1; i < a.length; i++) if (a[i] < a[m]) m = i;
  return m;
}

function argmax(a: ArrayLike<number>): number {
  let m = 0;
  for (let i = 1; i < a.length; i++) if (a[i] > a[m]) m = i;
  return m;
}
