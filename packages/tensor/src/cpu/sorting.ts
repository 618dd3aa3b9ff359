import type { TypedArray } from '../dtype.js';
import { registerCpuKernel } from './backend.js';
import { wasmCdist, wasmTopk } from './wasm/indexing.js';

/**
 * Ascending order with NaN largest and -0 equal to +0 (as PyTorch sorts); 0 for equal keys so the
 * caller breaks ties by index.
 */
function compareKeys(a: number, b: number): number {
  if (a !== a) return b !== b ? 0 : 1;
  if (b !== b) return -1;
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Stable sort of each row of a contiguous [rows, cols] input; equal keys keep index order in both directions. */
registerCpuKernel('sortRows', ([x], [values, indices], { rows, cols, descending }) => {
  const X = x.data;
  const V = values.data;
  const I = indices.data;
  const sign = descending ? -1 : 1;
  const order = new Int32Array(cols);
  for (let r = 0; r < rows; r++) {
    const base = x.offset + r * cols;
    for (let k = 0; k < cols; k++) order[k] = k;
    order.sort((a, b) => sign * compareKeys(X[base + a], X[base + b]) || a - b);
    const out = r * cols;
    for (let k = 0; k < cols; k++) {
      V[values.offset + out + k] = X[base + order[k]];
      I[indices.offset + out + k] = order[k];
    }
  }
});

/**
 * The k largest (or smallest) of each row of a contiguous [rows, cols] input, in order, as the
 * stable sort would give them: the best k seen so far are kept sorted while the row is scanned;
 * an element enters only if strictly better than the current k-th, so equal keys keep index order.
 */
registerCpuKernel('topkRows', ([x], [values, indices], { rows, cols, k, largest }) => {
  if (wasmTopk(x, values, indices, rows as number, cols as number, k as number, !!largest)) return;
  const X = x.data;
  const V = values.data;
  const I = indices.data;
  const sign = largest ? -1 : 1;
  const keys = new Float64Array(k);
  const idx = new Int32Array(k);
  for (let r = 0; r < rows; r++) {
    const base = x.offset + r * cols;
    let filled = 0;
    for (let c = 0; c < cols; c++) {
      const v = X[base + c];
      // Position p: the first kept entry that v beats (sign * compare < 0 means v comes first).
      if (filled === k && sign * compareKeys(v, keys[k - 1]) >= 0) continue;
      let p = filled < k ? filled : k - 1;
      while (p > 0 && sign * compareKeys(v, keys[p - 1]) < 0) {
        if (p < k) {
          keys[p] = keys[p - 1];
          idx[p] = idx[p - 1];
        }
        p--;
      }
      keys[p] = v;
      idx[p] = c;
      if (filled < k) filled++;
    }
    const out = r * k;
    for (let j = 0; j < k; j++) {
      V[values.offset + out + j] = keys[j];
      I[indices.offset + out + j] = idx[j];
    }
  }
});

/** Binary search per value; the sequence row of value i is floor(i / perRow). */
registerCpuKernel('searchsorted', ([seq, vals], [out], { n, seqLen, perRow, right }) => {
  const S = seq.data;
  const Vv = vals.data;
  const O = out.data;
  for (let i = 0; i < n; i++) {
    const base = seq.offset + Math.floor(i / perRow) * seqLen;
    const v = Vv[vals.offset + i];
    let lo = 0;
    let hi = seqLen;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const s = S[base + mid];
      if (right ? s <= v : s < v) lo = mid + 1;
      else hi = mid;
    }
    O[out.offset + i] = lo;
  }
});

/** Pairwise distances over contiguous [batch, rowsA, cols] and [batch, rowsB, cols], accumulated in float64. */
registerCpuKernel('cdist', ([a, b], [out], { batch, rowsA, rowsB, cols, p }) => {
  if (wasmCdist(a, b, out, batch as number, rowsA as number, rowsB as number, cols as number, p as number)) return;
  const A = a.data;
  const B = b.data;
  const O = out.data;
  let o = out.offset;
  for (let z = 0; z < batch; z++) {
    for (let i = 0; i < rowsA; i++) {
      const ai = a.offset + (z * rowsA + i) * cols;
      for (let j = 0; j < rowsB; j++) {
        const bj = b.offset + (z * rowsB + j) * cols;
        let acc = 0;
        for (let k = 0; k < cols; k++) {
          const d = Math.abs(A[ai + k] - B[bj + k]);
          if (p === 2) acc += d * d;
          else if (p === 1) acc += d;
          else if (p === Infinity) acc = d > acc || d !== d ? d : acc;
          else if (p === 0) acc += d !== 0 ? 1 : 0;
          else acc += d ** p;
        }
        O[o++] = p === 2 ? Math.sqrt(acc) : p === 1 || p === 0 || p === Infinity ? acc : acc ** (1 / p);
      }
    }
  }
});

const truthy = (data: TypedArray, i: number) => data[i] !== 0; // NaN !== 0: NaN counts as nonzero

/** Per-block exclusive offsets of the nonzero elements of a contiguous input; the total goes last. */
registerCpuKernel('compactCount', ([mask], [offsets], { n, block }) => {
  const Mk = mask.data;
  const O = offsets.data;
  const blocks = Math.ceil(n / block);
  let total = 0;
  for (let b = 0; b < blocks; b++) {
    O[offsets.offset + b] = total;
    const end = Math.min(n, (b + 1) * block);
    for (let i = b * block; i < end; i++) if (truthy(Mk, mask.offset + i)) total++;
  }
  O[offsets.offset + blocks] = total;
});

/** Row-major coordinates of the nonzero elements into a contiguous [count, rank] output. */
registerCpuKernel('compactIndices', ([mask], [out], { n, shape }) => {
  const Mk = mask.data;
  const O = out.data;
  const rank = (shape as number[]).length;
  let at = out.offset;
  for (let i = 0; i < n; i++) {
    if (!truthy(Mk, mask.offset + i)) continue;
    let rem = i;
    for (let d = rank - 1; d >= 0; d--) {
      O[at + d] = rem % shape[d];
      rem = Math.floor(rem / shape[d]);
    }
    at += rank;
  }
});

/** The elements of a contiguous input where a same-shaped contiguous mask is true. */
registerCpuKernel('compactValues', ([mask, , x], [out], { n }) => {
  const Mk = mask.data;
  const X = x.data;
  const O = out.data;
  let at = out.offset;
  for (let i = 0; i < n; i++) if (Mk[mask.offset + i]) O[at++] = X[x.offset + i];
});
