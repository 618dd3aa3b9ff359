import * as T from '@tessera/tensor';
import { edgeTensor, sortEdgesPerm } from '../utils/edges.js';
import { resolveGenerator } from './random.js';

export interface StochasticBlockModelOptions {
  /** Default the global generator (`T.manualSeed`). */
  generator?: T.Generator;
  /** Sample each ordered pair (i, j) on its own (default false: unordered pairs, returned both ways). */
  directed?: boolean;
  /** Device of the returned edge index (default the default device). */
  device?: T.DeviceName;
}

/** Block pairs with more node pairs than this and p > 1/2 would need the whole pair list; refused. */
const DENSE_ENUMERATION_LIMIT = 1 << 25;

/**
 * A random graph from the stochastic block model (PyG's `stochastic_blockmodel_graph`): nodes come
 * in blocks of the given sizes, numbered block after block (block b holds the ids from
 * blockSizes[0] + ... + blockSizes[b-1] on), and each pair of distinct nodes from blocks a and b
 * is joined with probability edgeProbs[a][b] ({ pIn, pOut }: pIn inside a block, pOut across).
 * No self-loops. Undirected (the default): each edge appears in both directions and edgeProbs
 * must be symmetric. Returns the int32 edge index [2, E], sorted by (source, target).
 *
 * Scales to millions of nodes and edges: for each block pair the edge count is drawn first
 * (binomial; by its normal approximation when the mean and its complement exceed 30), then that
 * many distinct node pairs uniformly, so the cost is about linear in the number of edges, never
 * in the number of node pairs.
 */
export function stochasticBlockModel(blockSizes: readonly number[], edgeProbs: readonly (readonly number[])[] | { pIn: number; pOut: number }, options: StochasticBlockModelOptions = {}): T.Tensor {
  const op = 'stochasticBlockModel';
  if (!Array.isArray(blockSizes) || blockSizes.length === 0) throw new TypeError(`${op}: blockSizes must be a non-empty array of block sizes`);
  for (const s of blockSizes) if (!Number.isInteger(s) || s < 0) throw new RangeError(`${op}: block sizes must be non-negative integers, received ${String(s)}`);
  const B = blockSizes.length;
  const directed = options.directed ?? false;
  const gen = resolveGenerator(op, options.generator);
  const p = probabilityMatrix(op, edgeProbs, B, directed);
  const offsets = [0];
  for (const s of blockSizes) offsets.push(offsets[offsets.length - 1] + s);
  const n = offsets[B];
  if (n > 2 ** 31 - 1) throw new RangeError(`${op}: ${n} nodes do not fit int32 node ids`);

  const rows: Int32Array[] = [];
  const cols: Int32Array[] = [];
  let total = 0;
  for (let a = 0; a < B; a++) {
    for (let b = directed ? 0 : a; b < B; b++) {
      const na = blockSizes[a];
      const nb = blockSizes[b];
      const same = a === b;
      // node pairs of this block pair: ordered when directed, unordered within a block otherwise
      const pairs = same ? (directed ? na * (na - 1) : (na * (na - 1)) / 2) : na * nb;
      const m = binomial(pairs, p[a][b], gen);
      if (m === 0) continue;
      const keys = distinctKeys(op, pairs, m, gen, () => samplePairKeys(m, na, nb, same, directed, gen), () => allPairKeys(na, nb, same, directed));
      const r = new Int32Array(m);
      const c = new Int32Array(m);
      const width = same ? na : nb;
      for (let i = 0; i < m; i++) {
        const key = keys[i];
        const u = Math.floor(key / width);
        r[i] = offsets[a] + u;
        c[i] = offsets[b] + (key - u * width);
      }
      rows.push(r);
      cols.push(c);
      total += directed ? m : 2 * m;
    }
  }
  if (total > 2 ** 31 - 1) throw new RangeError(`${op}: ${total} edges do not fit one tensor`);
  const row = new Int32Array(total);
  const col = new Int32Array(total);
  let k = 0;
  for (let i = 0; i < rows.length; i++) {
    row.set(rows[i], k);
    col.set(cols[i], k);
    k += rows[i].length;
    if (!directed) {
      row.set(cols[i], k);
      col.set(rows[i], k);
      k += rows[i].length;
    }
  }
  const perm = sortEdgesPerm(row, col, n);
  const sortedRow = new Int32Array(total);
  const sortedCol = new Int32Array(total);
  for (let e = 0; e < total; e++) {
    sortedRow[e] = row[perm[e]];
    sortedCol[e] = col[perm[e]];
  }
  return edgeTensor(sortedRow, sortedCol, options.device ?? T.getDefaultDevice());
}

function probabilityMatrix(op: string, edgeProbs: unknown, B: number, directed: boolean): number[][] {
  const check = (v: unknown, what: string): number => {
    if (typeof v !== 'number' || !(v >= 0 && v <= 1)) throw new RangeError(`${op}: ${what} must be a probability in [0, 1], received ${String(v)}`);
    return v;
  };
  if (Array.isArray(edgeProbs)) {
    if (edgeProbs.length !== B || edgeProbs.some((r) => !Array.isArray(r) || r.length !== B)) {
      throw new RangeError(`${op}: expected edgeProbs of shape [${B}, ${B}] (one row and column per block)`);
    }
    const p = edgeProbs.map((r: unknown[], a) => r.map((v, b) => check(v, `edgeProbs[${a}][${b}]`)));
    if (!directed) {
      for (let a = 0; a < B; a++) {
        for (let b = 0; b < a; b++) {
          if (p[a][b] !== p[b][a]) throw new RangeError(`${op}: an undirected model needs symmetric edgeProbs, received edgeProbs[${a}][${b}] = ${p[a][b]} and edgeProbs[${b}][${a}] = ${p[b][a]} (pass directed: true otherwise)`);
        }
      }
    }
    return p;
  }
  if (typeof edgeProbs === 'object' && edgeProbs !== null && 'pIn' in edgeProbs && 'pOut' in edgeProbs) {
    const { pIn, pOut } = edgeProbs as { pIn: unknown; pOut: unknown };
    const pi = check(pIn, 'pIn');
    const po = check(pOut, 'pOut');
    return Array.from({ length: B }, (_, a) => Array.from({ length: B }, (__, b) => (a === b ? pi : po)));
  }
  throw new TypeError(`${op}: edgeProbs must be a [blocks, blocks] array of probabilities or { pIn, pOut }`);
}

/**
 * A Binomial(n, p) draw: exact by geometric skips when the mean is small, by the normal
 * approximation (rounded, clamped) otherwise.
 */
export function binomial(n: number, p: number, gen: T.Generator): number {
  if (n === 0 || p === 0) return 0;
  if (p === 1) return n;
  if (p > 0.5) return n - binomial(n, 1 - p, gen);
  const mean = n * p;
  if (mean < 30) {
    // positions of successes as gaps between them: each gap is geometric
    const logq = Math.log1p(-p);
    let count = 0;
    let pos = -1;
    for (;;) {
      const u = gen.uniform(1, true)[0];
      pos += Math.floor(Math.log1p(-u) / logq) + 1;
      if (pos >= n) return count;
      count++;
    }
  }
  const z = gen.normal(1)[0];
  return Math.min(n, Math.max(0, Math.round(mean + z * Math.sqrt(mean * (1 - p)))));
}

/** m uniform node-pair keys (u × width + v, local ids) of one block pair, possibly repeated. */
function samplePairKeys(m: number, na: number, nb: number, same: boolean, directed: boolean, gen: T.Generator): Float64Array {
  const u = gen.uniform(2 * m, true);
  const keys = new Float64Array(m);
  for (let i = 0; i < m; i++) {
    if (!same) {
      keys[i] = Math.floor(u[2 * i] * na) * nb + Math.floor(u[2 * i + 1] * nb);
      continue;
    }
    // two distinct nodes of the block: v uniform over the others
    const x = Math.floor(u[2 * i] * na);
    let y = Math.floor(u[2 * i + 1] * (na - 1));
    if (y >= x) y++;
    keys[i] = directed || x < y ? x * na + y : y * na + x;
  }
  return keys;
}

/**
 * m distinct keys drawn uniformly from the `pairs` keys that `draw` samples: draw m, sort, drop
 * repeats, draw again for the shortfall, until m remain. (Every step treats all keys alike, so the
 * final set is a uniform m-subset.) Dense block pairs (m > pairs / 2) list every key and pick m.
 */
function distinctKeys(op: string, pairs: number, m: number, gen: T.Generator, draw: () => Float64Array, list: () => Float64Array): Float64Array {
  if (2 * m > pairs) {
    if (pairs > DENSE_ENUMERATION_LIMIT) throw new RangeError(`${op}: a block pair with ${pairs} node pairs and edge probability above 1/2 is too dense to sample; use smaller blocks or probabilities`);
    return pickKeys(list(), m, gen);
  }
  let keys = uniqueSorted(draw());
  while (keys.length < m) {
    const more = draw().subarray(0, m - keys.length);
    const merged = new Float64Array(keys.length + more.length);
    merged.set(keys);
    merged.set(more, keys.length);
    keys = uniqueSorted(merged);
  }
  return keys.length === m ? keys : keys.subarray(0, m);
}

function uniqueSorted(a: Float64Array): Float64Array {
  a.sort();
  let k = 0;
  for (let i = 0; i < a.length; i++) if (i === 0 || a[i] !== a[i - 1]) a[k++] = a[i];
  return a.subarray(0, k);
}

/** Every node-pair key of one block pair (u × width + v, local ids), in increasing order. */
function allPairKeys(na: number, nb: number, same: boolean, directed: boolean): Float64Array {
  if (!same) {
    const keys = new Float64Array(na * nb);
    for (let i = 0; i < keys.length; i++) keys[i] = i;
    return keys;
  }
  const keys = new Float64Array(directed ? na * (na - 1) : (na * (na - 1)) / 2);
  let k = 0;
  for (let x = 0; x < na; x++) for (let y = directed ? 0 : x + 1; y < na; y++) if (y !== x) keys[k++] = x * na + y;
  return keys;
}

/** m of the listed keys without replacement (a partial Fisher–Yates shuffle). */
function pickKeys(keys: Float64Array, m: number, gen: T.Generator): Float64Array {
  const u = gen.uniform(m, true);
  for (let i = 0; i < m; i++) {
    const j = i + Math.floor(u[i] * (keys.length - i));
    const t = keys[i];
    keys[i] = keys[j];
    keys[j] = t;
  }
  return keys.subarray(0, m);
}
