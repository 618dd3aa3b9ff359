/**
 * The weighted undirected graph the partitioner works on, in compressed sparse row form: the
 * neighbours of node u are adjncy[xadj[u] .. xadj[u + 1]) with weights adjwgt[...]; every edge is
 * stored in both directions, there are no self-loops and no repeated neighbours. Typed arrays
 * only, so a million-node graph costs a few arrays rather than a million objects.
 */
export interface CsrGraph {
  n: number;
  xadj: Int32Array;
  adjncy: Int32Array;
  adjwgt: Float64Array;
  vwgt: Float64Array;
}

/**
 * The undirected simple graph of a directed edge list: self-loops and zero-weight edges are dropped, each edge is
 * stored both ways, and parallel or reverse edges between the same two nodes are merged into
 * one edge carrying the largest of their weights (1 without weights). The inputs are not modified.
 */
export function undirectedCsr(row: Int32Array, col: Int32Array, n: number, edgeWeight: Float64Array | undefined, vwgt: Float64Array): CsrGraph {
  const E = row.length;
  const deg = new Int32Array(n + 1);
  for (let e = 0; e < E; e++) {
    const r = row[e];
    const c = col[e];
    if (r === c || (edgeWeight && edgeWeight[e] === 0)) continue;
    deg[r + 1]++;
    deg[c + 1]++;
  }
  for (let u = 0; u < n; u++) deg[u + 1] += deg[u];
  const start = deg; // start[u] = first slot of u (before filling)
  const total = start[n];
  const adj = new Int32Array(total);
  const w = edgeWeight ? new Float64Array(total) : undefined;
  const fill = start.slice(0, n);
  for (let e = 0; e < E; e++) {
    const r = row[e];
    const c = col[e];
    if (r === c || (edgeWeight && edgeWeight[e] === 0)) continue;
    const a = fill[r]++;
    const b = fill[c]++;
    adj[a] = c;
    adj[b] = r;
    if (w) {
      w[a] = edgeWeight![e];
      w[b] = edgeWeight![e];
    }
  }
  // Merge repeated neighbours in place, row by row: `seen[v]` holds the output slot of v in the
  // current row, and a slot before the row's first output slot means "not seen in this row".
  const seen = new Int32Array(n).fill(-1);
  const xadj = new Int32Array(n + 1);
  let k = 0;
  for (let u = 0; u < n; u++) {
    const rowStart = k;
    const end = start[u + 1];
    for (let j = start[u]; j < end; j++) {
      const v = adj[j];
      const s = seen[v];
      if (s >= rowStart) {
        if (w && w[j] > w[s]) w[s] = w[j];
      } else {
        seen[v] = k;
        adj[k] = v;
        if (w) w[k] = w[j];
        k++;
      }
    }
    xadj[u + 1] = k;
  }
  const adjncy = adj.slice(0, k);
  const adjwgt = w ? w.slice(0, k) : new Float64Array(k).fill(1);
  return { n, xadj, adjncy, adjwgt, vwgt };
}

/** The subgraph induced by `nodes` (ids of g), renumbered 0..nodes.length-1 in that order. */
export function inducedCsr(g: CsrGraph, nodes: Int32Array, local: Int32Array): CsrGraph {
  // `local` is scratch of length g.n filled with -1; it is restored before returning.
  const m = nodes.length;
  for (let i = 0; i < m; i++) local[nodes[i]] = i;
  let count = 0;
  for (let i = 0; i < m; i++) {
    const u = nodes[i];
    for (let j = g.xadj[u]; j < g.xadj[u + 1]; j++) if (local[g.adjncy[j]] >= 0) count++;
  }
  const xadj = new Int32Array(m + 1);
  const adjncy = new Int32Array(count);
  const adjwgt = new Float64Array(count);
  const vwgt = new Float64Array(m);
  let k = 0;
  for (let i = 0; i < m; i++) {
    const u = nodes[i];
    vwgt[i] = g.vwgt[u];
    for (let j = g.xadj[u]; j < g.xadj[u + 1]; j++) {
      const v = local[g.adjncy[j]];
      if (v < 0) continue;
      adjncy[k] = v;
      adjwgt[k++] = g.adjwgt[j];
    }
    xadj[i + 1] = k;
  }
  for (let i = 0; i < m; i++) local[nodes[i]] = -1;
  return { n: m, xadj, adjncy, adjwgt, vwgt };
}

/** Total weight of the edges whose ends lie in different parts (each undirected edge once). */
export function edgeCut(g: CsrGraph, part: Int32Array): number {
  let cut = 0;
  for (let u = 0; u < g.n; u++) {
    const pu = part[u];
    for (let j = g.xadj[u]; j < g.xadj[u + 1]; j++) if (part[g.adjncy[j]] !== pu) cut += g.adjwgt[j];
  }
  return cut / 2;
}

/** Sum of the node weights per part. */
export function partWeights(g: CsrGraph, part: Int32Array, k: number): Float64Array {
  const pw = new Float64Array(k);
  for (let u = 0; u < g.n; u++) pw[part[u]] += g.vwgt[u];
  return pw;
}
