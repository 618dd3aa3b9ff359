import { numel } from '../shape.js';
import { registerCpuKernel, type CpuView } from './backend.js';
import { wasmGatherRows, wasmScatterAddRows, wasmSegmentReduce } from './wasm/indexing.js';
import { wasmSpmm } from './wasm/sparse.js';

/**
 * Indexing, scatter, segment and sparse kernels as plain loops. Index ranges are checked by the
 * frontend before these run, so the kernels may trust every index they read.
 */

/**
 * Visits every coordinate of `shape` in row-major order, keeping one running element offset per
 * strided view, and calls `visit(flat, coord, offsets)`.
 */
function walk(shape: readonly number[], views: { offset: number; strides: readonly number[] }[], visit: (flat: number, coord: Int32Array, offs: Int32Array) => void) {
  const rank = shape.length;
  const n = numel(shape);
  const coord = new Int32Array(rank);
  const offs = Int32Array.from(views, (v) => v.offset);
  for (let flat = 0; flat < n; flat++) {
    visit(flat, coord, offs);
    for (let d = rank - 1; d >= 0; d--) {
      coord[d]++;
      for (let k = 0; k < views.length; k++) offs[k] += views[k].strides[d];
      if (coord[d] < shape[d]) break;
      for (let k = 0; k < views.length; k++) offs[k] -= views[k].strides[d] * shape[d];
      coord[d] = 0;
    }
  }
}

/**
 * Like {@link walk} but one call per row of the last dim: `visit(flat, coord, offsets)` gets the
 * row's first element; the caller runs the inner loop with the views' last strides. Used by the
 * hot kernels, where a call per element costs more than the work.
 */
function walkRows(shape: readonly number[], views: { offset: number; strides: readonly number[] }[], visit: (flat: number, coord: Int32Array, offs: Int32Array) => void) {
  const rank = shape.length;
  if (rank === 0) {
    visit(0, new Int32Array(0), Int32Array.from(views, (v) => v.offset));
    return;
  }
  const inner = shape[rank - 1];
  if (inner === 0) return;
  walk(shape.slice(0, -1), views.map((v) => ({ offset: v.offset, strides: v.strides.slice(0, -1) })), (flat, coord, offs) => visit(flat * inner, coord, offs));
}

/** Whether `strides` are the row-major strides of `shape` (size-1 dims ignored). */
const rowMajor = (shape: readonly number[], strides: readonly number[]): boolean => {
  for (let d = shape.length - 1, acc = 1; d >= 0; d--) {
    if (shape[d] !== 1 && strides[d] !== acc) return false;
    acc *= shape[d];
  }
  return true;
};

/** Whether the index is constant across every dim after the first (stride 0, or size 1). */
const constantRows = (index: CpuView): boolean => {
  for (let d = 1; d < index.shape.length; d++) if (index.strides[d] !== 0 && index.shape[d] !== 1) return false;
  return true;
};

/**
 * gather along dim 0 with an index constant across each row (indexSelect on dim 0, message
 * passing's x_j): whole rows of x copied. x's trailing dims must be row-major and out contiguous.
 * False when the layout does not apply.
 */
function gatherRows(x: CpuView, index: CpuView, out: CpuView): boolean {
  const rank = out.shape.length;
  if (rank < 2 || !constantRows(index)) return false;
  const inner = out.shape.slice(1);
  if (!rowMajor(inner, x.strides.slice(1)) || !rowMajor(out.shape, out.strides)) return false;
  const F = numel(inner);
  const X = x.data;
  const I = index.data;
  const O = out.data;
  const E = out.shape[0];
  const is = index.strides[0];
  const xs = x.strides[0];
  if (wasmGatherRows(x, index, out, E, F, xs, is)) return true;
  for (let e = 0, r = index.offset, o = out.offset; e < E; e++, r += is, o += F) {
    const q = x.offset + I[r] * xs;
    for (let j = 0; j < F; j++) O[o + j] = X[q + j];
  }
  return true;
}

/** out[p] = x[p with coordinate `dim` replaced by index[p]]; x's strides on `dim` are skipped in the walk. */
registerCpuKernel('gather', ([x, index], [out], { dim }) => {
  const xs = x.strides.map((s, d) => (d === dim ? 0 : s));
  const step = x.strides[dim];
  const X = x.data;
  const I = index.data;
  const O = out.data;
  const rank = out.shape.length;
  const inner = rank ? out.shape[rank - 1] : 1;
  const xi = rank ? xs[rank - 1] : 0;
  const ii = rank ? index.strides[rank - 1] : 0;
  const oo = out.offset;
  if (dim === 0 && gatherRows(x, index, out)) return;
  if (rank && dim !== rank - 1 && ii === 0) {
    // The index is constant along the row (indexSelect on a leading dim): one lookup per row.
    walkRows(out.shape, [{ offset: x.offset, strides: xs }, index], (flat, _c, offs) => {
      let q = offs[0] + I[offs[1]] * step;
      const end = oo + flat + inner;
      for (let o = oo + flat; o < end; o++, q += xi) O[o] = X[q];
    });
    return;
  }
  walkRows(out.shape, [{ offset: x.offset, strides: xs }, index], (flat, _c, offs) => {
    let q = offs[0];
    let r = offs[1];
    const end = oo + flat + inner;
    for (let o = oo + flat; o < end; o++, q += xi, r += ii) O[o] = X[q + I[r] * step];
  });
});


/**
 * scatterAdd along dim 0 with an index constant across each row (a [E, 1, ...] index expanded:
 * message passing's aggregation and the gradient of indexSelect): whole rows of src added into
 * rows of out, in the same order and with the same roundings as the general loop. False when the
 * layout does not apply.
 */
function scatterAddRows(index: CpuView, src: CpuView, out: CpuView): boolean {
  const rank = index.shape.length;
  if (rank < 2) return false;
  if (!constantRows(index)) return false;
  for (let d = 1; d < rank; d++) if (index.shape[d] !== out.shape[d]) return false;
  const inner = index.shape.slice(1);
  if (!rowMajor(inner, src.strides.slice(1))) return false;
  const F = numel(inner);
  const O = out.data;
  const I = index.data;
  const S = src.data;
  const E = index.shape[0];
  if (wasmScatterAddRows(index, src, out, E, F, src.strides[0], index.strides[0])) return true;
  for (let e = 0; e < E; e++) {
    const o = out.offset + I[index.offset + e * index.strides[0]] * F;
    const q = src.offset + e * src.strides[0];
    for (let j = 0; j < F; j++) O[o + j] += S[q + j];
  }
  return true;
}

type Combine = (acc: number, v: number) => number;
const COMBINE: Record<string, Combine> = {
  sum: (a, v) => a + v,
  mean: (a, v) => a + v,
  prod: (a, v) => a * v,
  amax: (a, v) => (v !== v || v > a ? v : a),
  amin: (a, v) => (v !== v || v < a ? v : a),
  replace: (_a, v) => v,
};

/**
 * Scatter with a reduction into `out`, which already holds a contiguous copy of the input.
 * Contributions are applied in row-major order of `index` (the order the webgpu kernel uses too),
 * so `replace` keeps the last writer and float sums round the same way on both backends.
 */
registerCpuKernel('scatterReduce', ([index, src], [out], { dim, reduce, includeSelf, intResult }) => {
  const O = out.data;
  const I = index.data;
  const S = src.data;
  if (reduce === 'sum' && includeSelf && dim === 0 && scatterAddRows(index, src, out)) return;
  const combine = COMBINE[reduce as string];
  const outStrides = new Int32Array(out.shape.length);
  for (let d = out.shape.length - 1, acc = 1; d >= 0; d--) {
    outStrides[d] = acc;
    acc *= out.shape[d];
  }
  const count = new Int32Array(O.length);
  const rank = index.shape.length;
  const inner = rank ? index.shape[rank - 1] : 1;
  const ii = rank ? index.strides[rank - 1] : 0;
  const si = rank ? src.strides[rank - 1] : 0;
  const last = rank - 1;
  const dimStride = rank ? outStrides[dim as number] : 0;
  const lastStride = rank && dim !== last ? 1 : 0;
  const sum = reduce === 'sum' || reduce === 'mean';
  walkRows(index.shape, [index, src], (_flat, coord, offs) => {
    // The row's key without the scattered coordinate; along the row the last coordinate advances the key by 1.
    let base = 0;
    for (let d = 0; d < last; d++) if (d !== dim) base += coord[d] * outStrides[d];
    let r = offs[0];
    let q = offs[1];
    for (let j = 0; j < inner; j++, r += ii, q += si) {
      const key = base + j * lastStride + I[r] * dimStride;
      const v = S[q];
      if (count[key] === 0 && !includeSelf) O[key] = v;
      else O[key] = sum ? O[key] + v : combine(O[key], v);
      count[key]++;
    }
  });
  if (reduce === 'mean') {
    for (let k = 0; k < O.length; k++) {
      if (count[k] === 0) continue;
      const c = count[k] + (includeSelf ? 1 : 0);
      O[k] = intResult ? Math.floor(O[k] / c) : O[k] / c;
    }
  }
});

/** ptr[s] = first position of a sorted index vector whose value is >= s, for s in [0, numSegments]. */
registerCpuKernel('segmentPtr', ([index], [ptr], { numSegments }) => {
  const I = index.data;
  const P = ptr.data;
  const E = index.shape[0];
  const st = index.strides[0];
  let e = 0;
  for (let s = 0; s <= (numSegments as number); s++) {
    while (e < E && I[index.offset + e * st] < s) e++;
    P[s] = e;
  }
});

/** Reduces rows ptr[s]..ptr[s+1] of a contiguous [E, F] src; empty segments give 0 and arg E. */
registerCpuKernel('segmentReduce', ([src, ptr], [values, args], { op, numSegments, features }) => {
  const S = src.data;
  const P = ptr.data;
  const V = values.data;
  const A = args?.data;
  const F = features as number;
  const E = src.shape[0];
  const isMax = op === 'max';
  if (wasmSegmentReduce(src, ptr, values, args, op as string, numSegments as number, F)) return;
  for (let s = 0; s < (numSegments as number); s++) {
    const b = Math.min(Math.max(P[ptr.offset + s], 0), E);
    const e = Math.min(Math.max(P[ptr.offset + s + 1], 0), E);
    for (let f = 0; f < F; f++) {
      let acc = 0;
      let arg = E;
      for (let j = b; j < e; j++) {
        const v = S[src.offset + j * F + f];
        if (op === 'sum' || op === 'mean') acc += v;
        else if (arg === E || (v !== v && acc === acc) || (acc === acc && (isMax ? v > acc : v < acc))) {
          acc = v;
          arg = j;
        }
      }
      if (op === 'mean' && e > b) acc /= e - b;
      V[s * F + f] = acc;
      if (A) A[s * F + f] = arg;
    }
  }
});

/** Softmax over the rows of each segment, per feature; rows outside every segment stay 0. */
registerCpuKernel('segmentSoftmax', ([src, ptr], [out], { numSegments, features }) => {
  const S = src.data;
  const P = ptr.data;
  const O = out.data;
  const F = features as number;
  for (let s = 0; s < (numSegments as number); s++) {
    const b = P[ptr.offset + s];
    const e = P[ptr.offset + s + 1];
    for (let f = 0; f < F; f++) {
      let m = -Infinity;
      for (let j = b; j < e; j++) m = Math.max(m, S[src.offset + j * F + f]);
      let z = 0;
      for (let j = b; j < e; j++) z += Math.exp(S[src.offset + j * F + f] - m);
      for (let j = b; j < e; j++) O[j * F + f] = Math.exp(S[src.offset + j * F + f] - m) / z;
    }
  }
});

/** Stable counting sort of element positions by key: offsets [numKeys + 1] and the positions in grouped order. */
registerCpuKernel('groupByKey', ([keys], [offsets, perm], { numKeys }) => {
  const K = keys.data;
  const n = keys.shape[0];
  const st = keys.strides[0];
  const O = offsets.data;
  const Pm = perm.data;
  O.fill(0);
  for (let p = 0; p < n; p++) O[K[keys.offset + p * st] + 1]++;
  for (let k = 0; k < (numKeys as number); k++) O[k + 1] += O[k];
  const cursor = Int32Array.from(O.subarray(0, numKeys as number));
  for (let p = 0; p < n; p++) Pm[cursor[K[keys.offset + p * st]]++] = p;
});

/** out[r, c] = sum over the nonzeros j of row r of values[j] * dense[col[j], c], in CSR order. */
registerCpuKernel('csrSpmm', ([rowPtr, colIdx, vals, dense], [out], { rows, cols }) => {
  if (wasmSpmm(rowPtr, colIdx, vals, dense, out, rows as number, cols as number)) return;
  const RP = rowPtr.data;
  const CI = colIdx.data;
  const VA = vals.data;
  const D = dense.data;
  const O = out.data;
  const [ds0, ds1] = dense.strides;
  const k = cols as number;
  const acc = new Float64Array(k);
  for (let r = 0; r < (rows as number); r++) {
    acc.fill(0);
    for (let j = RP[rowPtr.offset + r]; j < RP[rowPtr.offset + r + 1]; j++) {
      const v = VA[vals.offset + j];
      const base = dense.offset + CI[colIdx.offset + j] * ds0;
      for (let c = 0; c < k; c++) acc[c] += v * D[base + c * ds1];
    }
    O.set(acc, r * k);
  }
});
