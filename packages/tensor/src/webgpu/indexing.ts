import type { TensorSpec } from '../backend.js';
import { contiguousStrides, numel } from '../shape.js';
import { buf, indexErrorWgsl, registerWebGPUKernel, wgslType, type GpuStorage, type WebGPUBackend } from './backend.js';
import { divMagic, MAIN, UDIV, WGSL_PRELUDE } from './prelude.js';

/**
 * Indexing, scatter, segment and sparse kernels. Shapes, strides and offsets travel in the meta
 * buffer so one pipeline serves every shape.
 *
 * Out-of-range indices cannot be reported from here (readbacks are asynchronous), so every
 * kernel ignores them: gather/indexSelect write 0, scatter drops the contribution, segment ops
 * leave the row out of every segment. The cpu backend throws instead.
 *
 * Scatter is deterministic without float atomics: contributions are grouped by target element
 * like a CSR build — a u32 atomic histogram (counts are order-independent), an exclusive scan, a
 * stable placement pass in one invocation that walks the contributions in order — and then one
 * invocation per output element reduces its contributions in their original order.
 */
const MAX_RANK = 8;
const INVALID = 0xffffffff;
/** Elements scanned serially by one invocation in the first scan pass. */
const SCAN_BLOCK = 256;

function checkRank(rank: number) {
  if (rank > MAX_RANK) throw new RangeError(`webgpu: indexing tensors of rank ${rank} exceed the supported ${MAX_RANK} dimensions`);
}

/** Writes `values` at `at` in a u32 meta array, reinterpreting negative strides as i32 bits. */
function put(meta: Uint32Array, at: number, values: readonly number[]) {
  const i32 = new Int32Array(meta.buffer);
  values.forEach((v, k) => (i32[at + k] = v));
}

/** Start of the per-dim division magic numbers (3 words per dim) in walkMeta. */
const MAGIC = 38;

/**
 * Meta shared by GATHER and SCATTER_KEYS, which walk `shape` row-major and follow two strided views
 * a and b: n, rank, dim, dimSize, aOff, bOff, shape[8], aStrides[8], bStrides[8], (8 more words
 * for the caller), then divMagic of each dim at MAGIC.
 */
function walkMeta(shape: readonly number[], dim: number, dimSize: number, a: TensorSpec, b: TensorSpec): Uint32Array {
  const meta = new Uint32Array(MAGIC + 3 * MAX_RANK);
  put(meta, 0, [numel(shape), shape.length, dim, dimSize, a.offset, b.offset]);
  put(meta, 6, shape);
  put(meta, 14, a.strides);
  put(meta, 22, b.strides);
  shape.forEach((size, d) => put(meta, MAGIC + 3 * d, divMagic(Math.max(size, 1))));
  return meta;
}

/** WGSL: one step of the row-major walk, splitting dim d's coordinate c off rem (divides by multiply-shift). */
const WALK_STEP = `
    let sz = M[6u + u32(d)];
    let q = udiv(rem, M[${MAGIC}u + 3u * u32(d)], M[${MAGIC + 1}u + 3u * u32(d)], M[${MAGIC + 2}u + 3u * u32(d)]);
    let c = rem - q * sz;
    rem = q;`;

const GATHER = (t: string, code: number) => `
@group(0) @binding(0) var<storage, read> X: array<${t}>;
@group(0) @binding(1) var<storage, read> I: array<i32>;
@group(0) @binding(2) var<storage, read_write> O: array<${t}>;
${indexErrorWgsl(3, code)}
@group(0) @binding(4) var<storage, read> M: array<u32>;
// M: n, rank, dim, dimSize, xOff, iOff, shape[8], xStrides[8], iStrides[8]
${UDIV}
${MAIN}
  if (i >= M[0]) { return; }
  let dim = M[2];
  var xo = bitcast<i32>(M[4]);
  var io = bitcast<i32>(M[5]);
  var rem = i;
  for (var d = i32(M[1]) - 1; d >= 0; d--) {${WALK_STEP}
    if (u32(d) != dim) { xo += i32(c) * bitcast<i32>(M[14u + u32(d)]); }
    io += i32(c) * bitcast<i32>(M[22u + u32(d)]);
  }
  let t = I[io];
  if (t < 0 || u32(t) >= M[3]) { reportIndex(t, M[3]); O[i] = ${t}(0); return; }
  O[i] = X[xo + t * bitcast<i32>(M[14u + dim])];
}`;

registerWebGPUKernel('gather', (gpu, [x, index], [out], { dim, op }) => {
  checkRank(out.shape.length);
  const meta = walkMeta(out.shape, dim, x.shape[dim], x, index);
  const code = gpu.indexErrorCode(String(op ?? 'gather'));
  gpu.dispatch({ code: GATHER(wgslType(x.dtype), code), buffers: [buf(x), buf(index), buf(out), gpu.indexErrorBuffer()], meta, threads: numel(out.shape) });
});

const ZERO = `
@group(0) @binding(0) var<storage, read_write> B: array<u32>;
@group(0) @binding(1) var<storage, read> M: array<u32>;
${MAIN}
  if (i < M[0]) { B[i] = 0u; }
}`;

/** Bindings of the key kernels that feed `group`: indices I in; keys K, payloads P and the histogram C out. */
const KEY_BINDINGS = (code: number) => `
@group(0) @binding(0) var<storage, read> I: array<i32>;
@group(0) @binding(1) var<storage, read_write> K: array<u32>;
@group(0) @binding(2) var<storage, read_write> P: array<u32>;
@group(0) @binding(3) var<storage, read_write> C: array<atomic<u32>>;
${indexErrorWgsl(4, code)}
@group(0) @binding(5) var<storage, read> M: array<u32>;`;

/** One key per scatter contribution (its target element in the contiguous output), its src element, and the histogram. */
const SCATTER_KEYS = (code: number) => `${KEY_BINDINGS(code)}
// M: n, rank, dim, dimSize, iOff, sOff, shape[8], iStrides[8], sStrides[8], outStrides[8]
${UDIV}
${MAIN}
  if (i >= M[0]) { return; }
  let dim = M[2];
  var io = bitcast<i32>(M[4]);
  var so = bitcast<i32>(M[5]);
  var key = 0u;
  var rem = i;
  for (var d = i32(M[1]) - 1; d >= 0; d--) {${WALK_STEP}
    io += i32(c) * bitcast<i32>(M[14u + u32(d)]);
    so += i32(c) * bitcast<i32>(M[22u + u32(d)]);
    if (u32(d) != dim) { key += c * M[30u + u32(d)]; }
  }
  let t = I[io];
  if (t < 0 || u32(t) >= M[3]) { reportIndex(t, M[3]); K[i] = ${INVALID}u; return; }
  key += u32(t) * M[30u + dim];
  K[i] = key;
  P[i] = u32(so);
  atomicAdd(&C[key], 1u);
}`;

/** Keys given directly as an int32 vector (groupByKey); the payload is the element's position. */
const DIRECT_KEYS = (code: number) => `${KEY_BINDINGS(code)}
// M: n, numKeys, off, stride
${MAIN}
  if (i >= M[0]) { return; }
  let t = I[bitcast<i32>(M[2]) + i32(i) * bitcast<i32>(M[3])];
  P[i] = i;
  if (t < 0 || u32(t) >= M[1]) { reportIndex(t, M[1]); K[i] = ${INVALID}u; return; }
  K[i] = u32(t);
  atomicAdd(&C[u32(t)], 1u);
}`;

/** Exclusive scan, pass 1: each invocation scans one block serially and records the block total. */
const SCAN_BLOCKS = `
@group(0) @binding(0) var<storage, read> C: array<u32>;
@group(0) @binding(1) var<storage, read_write> O: array<u32>;
@group(0) @binding(2) var<storage, read_write> S: array<u32>;
@group(0) @binding(3) var<storage, read> M: array<u32>;
${MAIN}
  let n = M[0];
  let start = i * ${SCAN_BLOCK}u;
  if (start >= n) { return; }
  var acc = 0u;
  for (var j = start; j < min(start + ${SCAN_BLOCK}u, n); j++) {
    O[j] = acc;
    acc += C[j];
  }
  S[i] = acc;
}`;

/** Pass 2: one invocation turns the block totals into block offsets; S[nb] gets the grand total. */
const SCAN_TOTALS = `
@group(0) @binding(0) var<storage, read_write> S: array<u32>;
@group(0) @binding(1) var<storage, read> M: array<u32>;
${MAIN}
  if (i != 0u) { return; }
  var acc = 0u;
  for (var b = 0u; b < M[0]; b++) {
    let v = S[b];
    S[b] = acc;
    acc += v;
  }
  S[M[0]] = acc;
}`;

/** Pass 3: add block offsets; the offsets also become the placement cursors (written over the counts). */
const SCAN_ADD = `
@group(0) @binding(0) var<storage, read> S: array<u32>;
@group(0) @binding(1) var<storage, read_write> O: array<u32>;
@group(0) @binding(2) var<storage, read_write> C: array<u32>;
@group(0) @binding(3) var<storage, read> M: array<u32>;
${MAIN}
  let n = M[0];
  if (i > n) { return; }
  if (i == n) { O[n] = S[M[1]]; return; }
  let v = O[i] + S[i / ${SCAN_BLOCK}u];
  O[i] = v;
  C[i] = v;
}`;

/**
 * Placement, in parallel: each contribution takes a slot of its key's range with an atomic
 * increment of the key's cursor (C holds the exclusive offsets), writing its element index there.
 * The order inside a range is then arbitrary; SORT_SEGMENTS puts it back.
 */
const PLACE = `
@group(0) @binding(0) var<storage, read> K: array<u32>;
@group(0) @binding(1) var<storage, read_write> C: array<atomic<u32>>;
@group(0) @binding(2) var<storage, read_write> T: array<u32>;
@group(0) @binding(3) var<storage, read> M: array<u32>;
${MAIN}
  if (i >= M[0]) { return; }
  let k = K[i];
  if (k == ${INVALID}u) { return; }
  T[atomicAdd(&C[k], 1u)] = i;
}`;

/**
 * Stable order, in parallel: invocation k < numKeys sorts its key's element indices (insertion
 * sort up to 16, heap sort, O(d log d), beyond), so equal keys keep their original order — the
 * same grouping on every run and device — and writes their payloads; invocations numKeys + j mark
 * the unplaced tail (invalid keys) with ${INVALID}.
 */
const SORT_SEGMENTS = `
@group(0) @binding(0) var<storage, read> O: array<u32>;
@group(0) @binding(1) var<storage, read_write> T: array<u32>;
@group(0) @binding(2) var<storage, read> P: array<u32>;
@group(0) @binding(3) var<storage, read_write> R: array<u32>;
@group(0) @binding(4) var<storage, read> M: array<u32>;
fn sift(b: u32, start: u32, end: u32) {
  var root = start;
  loop {
    let child = 2u * root + 1u;
    if (child >= end) { break; }
    var top = root;
    if (T[b + top] < T[b + child]) { top = child; }
    if (child + 1u < end && T[b + top] < T[b + child + 1u]) { top = child + 1u; }
    if (top == root) { break; }
    let t = T[b + root];
    T[b + root] = T[b + top];
    T[b + top] = t;
    root = top;
  }
}
${MAIN}
  let numKeys = M[0];
  let n = M[1];
  if (i >= numKeys) {
    let j = i - numKeys;
    if (j < n && j >= O[numKeys]) { R[j] = ${INVALID}u; }
    return;
  }
  let b = O[i];
  let len = O[i + 1u] - b;
  if (len <= 16u) {
    // short ranges (most keys of a graph): insertion sort
    for (var a = b + 1u; a < b + len; a++) {
      let v = T[a];
      var c = a;
      while (c > b && T[c - 1u] > v) { T[c] = T[c - 1u]; c--; }
      T[c] = v;
    }
  } else {
    for (var s = len / 2u; s > 0u; s--) { sift(b, s - 1u, len); }
    for (var e = len - 1u; e > 0u; e--) {
      let t = T[b];
      T[b] = T[b + e];
      T[b + e] = t;
      sift(b, 0u, e);
    }
  }
  for (var q = b; q < b + len; q++) { R[q] = P[T[q]]; }
}`;

interface Grouping {
  /** numKeys + 1 exclusive offsets (u32). */
  offsets: GPUBuffer;
  /** Payloads in grouped, stable order. */
  perm: GPUBuffer;
}

/**
 * Device buffers that live across several dispatches of one op. `gpu.scratchEmpty` would not do:
 * it returns to the pool at the next flush, and a flush may happen between two of our dispatches.
 * Freed after the last dispatch is recorded, they are recycled only once that work is submitted.
 */
class Temps {
  private storages: GpuStorage[] = [];
  constructor(private gpu: WebGPUBackend) {}
  take(words: number): GPUBuffer {
    const s = this.gpu.allocate('uint32', Math.max(words, 1));
    this.storages.push(s);
    return s.buffer;
  }
  free() {
    for (const s of this.storages) this.gpu.free(s);
  }
}

/**
 * Groups n contributions by key (CSR build). `writeKeys` records the dispatch that fills keys,
 * payloads and the (zeroed) counts. `offsets`/`perm` are given (outputs) or taken from `temps`.
 */
function group(gpu: WebGPUBackend, temps: Temps, n: number, numKeys: number, writeKeys: (keys: GPUBuffer, payload: GPUBuffer, counts: GPUBuffer) => void, into?: Grouping): Grouping {
  const counts = temps.take(numKeys);
  const keys = temps.take(n);
  const payload = temps.take(n);
  const offsets = into?.offsets ?? temps.take(numKeys + 1);
  const perm = into?.perm ?? temps.take(n);
  const blocks = Math.ceil(numKeys / SCAN_BLOCK);
  const sums = temps.take(blocks + 1);
  gpu.dispatch({ code: ZERO, buffers: [counts], meta: new Uint32Array([numKeys]), threads: numKeys });
  writeKeys(keys, payload, counts);
  gpu.dispatch({ code: SCAN_BLOCKS, buffers: [counts, offsets, sums], meta: new Uint32Array([numKeys]), threads: blocks });
  gpu.dispatch({ code: SCAN_TOTALS, buffers: [sums], meta: new Uint32Array([blocks]), threads: 1 });
  gpu.dispatch({ code: SCAN_ADD, buffers: [sums, offsets, counts], meta: new Uint32Array([numKeys, blocks]), threads: numKeys + 1 });
  const order = temps.take(n);
  gpu.dispatch({ code: PLACE, buffers: [keys, counts, order], meta: new Uint32Array([n]), threads: n });
  gpu.dispatch({ code: SORT_SEGMENTS, buffers: [offsets, order, payload, perm], meta: new Uint32Array([numKeys, n]), threads: numKeys + n });
  return { offsets, perm };
}

registerWebGPUKernel('groupByKey', (gpu, [keys], [offsets, perm], { numKeys, op }) => {
  const n = keys.shape[0];
  const meta = new Uint32Array(4);
  put(meta, 0, [n, numKeys, keys.offset, keys.strides[0]]);
  const temps = new Temps(gpu);
  const code = DIRECT_KEYS(gpu.indexErrorCode(String(op ?? 'groupByKey')));
  group(gpu, temps, n, numKeys, (k, p, c) => gpu.dispatch({ code, buffers: [buf(keys), k, p, c, gpu.indexErrorBuffer()], meta, threads: n }), { offsets: buf(offsets), perm: buf(perm) });
  temps.free();
});

const IDENTITY: Record<string, (t: string) => string> = {
  sum: (t) => `${t}(0)`,
  mean: (t) => `${t}(0)`,
  prod: (t) => `${t}(1)`,
  amax: (t) => (t === 'f32' ? '-inf_()' : t === 'i32' ? 'i32(-2147483647 - 1)' : '0u'),
  amin: (t) => (t === 'f32' ? 'inf_()' : t === 'i32' ? 'i32(2147483647)' : '0xffffffffu'),
  replace: (t) => `${t}(0)`,
};

function combineCode(reduce: string, t: string): string {
  const nan = t === 'f32' ? 'isnan(v) || ' : '';
  switch (reduce) {
    case 'sum':
    case 'mean': return 'acc = acc + v;';
    case 'prod': return 'acc = acc * v;';
    case 'amax': return `if (${nan}v > acc) { acc = v; }`;
    case 'amin': return `if (${nan}v < acc) { acc = v; }`;
    default: return 'acc = v;';
  }
}

/** Mean divides by the count; integer means round toward -inf as PyTorch's floor division does. */
function finishCode(reduce: string, t: string): string {
  if (reduce !== 'mean') return 'acc';
  if (t === 'f32') return 'acc / f32(cnt)';
  if (t === 'u32') return 'acc / cnt';
  return 'select(acc / i32(cnt), acc / i32(cnt) - 1, (acc % i32(cnt)) != 0 && acc < 0)';
}

/** Bindings of the grouped scatter kernels: source S, source order R grouped by target, group offsets OFF, output O, meta M. */
const SCATTER_BINDINGS = (t: string) => `@group(0) @binding(0) var<storage, read> S: array<${t}>;
@group(0) @binding(1) var<storage, read> R: array<u32>;
@group(0) @binding(2) var<storage, read> OFF: array<u32>;
@group(0) @binding(3) var<storage, read_write> O: array<${t}>;
@group(0) @binding(4) var<storage, read> M: array<u32>;`;

/** One invocation per output element reduces its grouped contributions in their original order. */
const SCATTER_REDUCE = (t: string, reduce: string, includeSelf: boolean) => `
${SCATTER_BINDINGS(t)}
${WGSL_PRELUDE}
${MAIN}
  if (i >= M[0]) { return; }
  let b = OFF[i];
  let e = OFF[i + 1u];
  if (b == e) { return; }
  var acc = ${includeSelf ? 'O[i]' : IDENTITY[reduce](t)};
  var cnt = ${includeSelf ? '1u' : '0u'};
  for (var j = b; j < e; j++) {
    let v = S[R[j]];
    ${combineCode(reduce, t)}
    cnt++;
  }
  O[i] = ${finishCode(reduce, t)};
}`;

/**
 * SCATTER_ROWS for the common message-passing case: a float32 sum or mean into a contiguous
 * [rows, F] output along dim 0, F a multiple of 4, from a src with contiguous rows: one
 * invocation per 4 adjacent features, reading vec4s (4x fewer invocations and loads; each lane
 * adds its contributions in the same order as the scalar kernel, so the same bits).
 * M: numRows, F / 4, srcOffset / 4, srcRowStride / 4.
 */
const SCATTER_ROWS_VEC4 = (reduce: string, includeSelf: boolean) => `
${SCATTER_BINDINGS('vec4<f32>')}
${MAIN}
  let F4 = M[1];
  if (i >= M[0] * F4) { return; }
  let row = i / F4;
  let b = OFF[row];
  let e = OFF[row + 1u];
  if (b == e) { return; }
  let base = M[2] + (i - row * F4);
  var acc = ${includeSelf ? 'O[i]' : 'vec4<f32>(0.0)'};
  var cnt = ${includeSelf ? '1u' : '0u'};
  for (var j = b; j < e; j++) {
    acc = acc + S[base + R[j] * M[3]];
    cnt++;
  }
  O[i] = ${reduce === 'mean' ? 'acc / f32(cnt)' : 'acc'};
}`;

/**
 * Scatter whose index varies only along `dim` (expanded from a 1-d index, as message passing
 * does: index[e, f] = idx[e]): the grouping runs over idx alone, and one invocation per output
 * element (t, rest) reduces src[e, rest] over the e with idx[e] = t, in order. Output elements
 * outside the index's box get nothing.
 * M: n, rank, dim, srcOff, outShape[8] at 4, indexShape[8] at 12, srcStrides[8] at 20, divMagic of
 * each output dim at 28.
 */
const SCATTER_ROWS = (t: string, reduce: string, includeSelf: boolean) => `
${SCATTER_BINDINGS(t)}
${WGSL_PRELUDE}
${UDIV}
${MAIN}
  if (i >= M[0]) { return; }
  let dim = M[2];
  var so = bitcast<i32>(M[3]);
  var row = 0u;
  var inside = true;
  var rem = i;
  for (var d = i32(M[1]) - 1; d >= 0; d--) {
    let k = u32(d);
    let q = udiv(rem, M[28u + 3u * k], M[29u + 3u * k], M[30u + 3u * k]);
    let c = rem - q * M[4u + k];
    rem = q;
    if (k == dim) { row = c; } else {
      inside = inside && c < M[12u + k];
      so += i32(c) * bitcast<i32>(M[20u + k]);
    }
  }
  if (!inside) { return; }
  let b = OFF[row];
  let e = OFF[row + 1u];
  if (b == e) { return; }
  let step = bitcast<i32>(M[20u + dim]);
  var acc = ${includeSelf ? 'O[i]' : IDENTITY[reduce](t)};
  var cnt = ${includeSelf ? '1u' : '0u'};
  for (var j = b; j < e; j++) {
    let v = S[so + i32(R[j]) * step];
    ${combineCode(reduce, t)}
    cnt++;
  }
  O[i] = ${finishCode(reduce, t)};
}`;

/**
 * Scatter with a reduction into `out`, which already holds a contiguous copy of the input. `index`
 * and `src` are strided views of equal rank; contributions follow `index`'s row-major order.
 */
registerWebGPUKernel('scatterReduce', (gpu, [index, src], [out], { dim, reduce, includeSelf, op }) => {
  checkRank(index.shape.length);
  const code = gpu.indexErrorCode(String(op ?? 'scatterReduce'));
  const n = numel(index.shape);
  const numKeys = numel(out.shape);
  if (n === 0 || numKeys === 0) return;
  const temps = new Temps(gpu);
  const t = wgslType(out.dtype);
  if (index.shape.every((size, d) => d === dim || size === 1 || index.strides[d] === 0)) {
    // The grouping depends only on the index's keys along dim: kept with the index (message
    // passing scatters over the same edge index many times per step).
    const [E, K] = [index.shape[dim], out.shape[dim]];
    const [offsets, perm] = gpu.derived(index.storage, `group ${index.offset} ${index.strides[dim]} ${E} ${K}`, () => {
      const made = [gpu.allocate('uint32', K + 1), gpu.allocate('uint32', Math.max(E, 1))];
      const keyMeta = new Uint32Array(4);
      put(keyMeta, 0, [E, K, index.offset, index.strides[dim]]);
      group(gpu, temps, E, K, (k, p, c) => gpu.dispatch({ code: DIRECT_KEYS(code), buffers: [buf(index), k, p, c, gpu.indexErrorBuffer()], meta: keyMeta, threads: E }), { offsets: made[0].buffer, perm: made[1].buffer });
      return made;
    });
    const g = { offsets: offsets.buffer, perm: perm.buffer };
    const F = out.shape[1];
    const buffers = [buf(src), g.perm, g.offsets, buf(out)];
    if (t === 'f32' && (reduce === 'sum' || reduce === 'mean') && out.shape.length === 2 && dim === 0 && out.offset === 0 && F % 4 === 0 && index.shape[1] === F &&
        src.strides[1] === 1 && src.strides[0] >= 0 && src.strides[0] % 4 === 0 && src.offset % 4 === 0) {
      const meta = new Uint32Array([out.shape[0], F / 4, src.offset / 4, src.strides[0] / 4]);
      gpu.dispatch({ code: SCATTER_ROWS_VEC4(reduce, includeSelf), buffers, meta, threads: numKeys / 4 });
    } else {
      const meta = new Uint32Array(28 + 3 * MAX_RANK);
      put(meta, 0, [numKeys, out.shape.length, dim, src.offset]);
      put(meta, 4, out.shape);
      put(meta, 12, index.shape);
      put(meta, 20, src.strides);
      out.shape.forEach((size, d) => put(meta, 28 + 3 * d, divMagic(size)));
      gpu.dispatch({ code: SCATTER_ROWS(t, reduce, includeSelf), buffers, meta, threads: numKeys });
    }
  } else {
    const meta = walkMeta(index.shape, dim, out.shape[dim], index, src);
    put(meta, 30, contiguousStrides(out.shape));
    const g = group(gpu, temps, n, numKeys, (k, p, c) => gpu.dispatch({ code: SCATTER_KEYS(code), buffers: [buf(index), k, p, c, gpu.indexErrorBuffer()], meta, threads: n }));
    gpu.dispatch({ code: SCATTER_REDUCE(t, reduce, includeSelf), buffers: [buf(src), g.perm, g.offsets, buf(out)], meta: new Uint32Array([numKeys]), threads: numKeys });
  }
  temps.free();
});

const SEGMENT_PTR = `
@group(0) @binding(0) var<storage, read> I: array<i32>;
@group(0) @binding(1) var<storage, read_write> P: array<i32>;
@group(0) @binding(2) var<storage, read> M: array<u32>;
// M: numSegments, E, off, stride. Lower bound of segment id i in the sorted index.
${MAIN}
  if (i > M[0]) { return; }
  var lo = 0u;
  var hi = M[1];
  while (lo < hi) {
    let mid = (lo + hi) / 2u;
    if (I[bitcast<i32>(M[2]) + i32(mid) * bitcast<i32>(M[3])] < i32(i)) { lo = mid + 1u; } else { hi = mid; }
  }
  P[i] = i32(lo);
}`;

registerWebGPUKernel('segmentPtr', (gpu, [index], [ptr], { numSegments }) => {
  const meta = new Uint32Array(4);
  put(meta, 0, [numSegments, index.shape[0], index.offset, index.strides[0]]);
  gpu.dispatch({ code: SEGMENT_PTR, buffers: [buf(index), buf(ptr)], meta, threads: numSegments + 1 });
});

/**
 * One invocation per (segment s, feature f). Rows [ptr[s], ptr[s+1]) clamped to [0, E], so a
 * malformed ptr can neither hang nor read out of bounds.
 */
const SEGMENT_BOUNDS = `
  if (i >= M[0] * M[1]) { return; }
  let F = M[1];
  let s = i / F;
  let f = i % F;
  let E = M[3];
  let b = min(u32(max(P[M[4] + s], 0)), E);
  let e = min(u32(max(P[M[4] + s + 1u], 0)), E);
  let so = M[2] + f;`;

/** Meta of the segment kernels: numSegments, F, srcOff, E, ptrOff. */
const segmentMeta = (src: TensorSpec, ptr: TensorSpec, numSegments: number, features: number) =>
  new Uint32Array([numSegments, features, src.offset, src.shape[0], ptr.offset]);

const SEGMENT_REDUCE = (t: string, op: string) => {
  const isArg = op === 'max' || op === 'min';
  const cmp = op === 'max' ? '>' : '<';
  const better = t === 'f32' ? `(isnan(v) && !isnan(acc)) || (!isnan(acc) && v ${cmp} acc)` : `v ${cmp} acc`;
  return `
@group(0) @binding(0) var<storage, read> S: array<${t}>;
@group(0) @binding(1) var<storage, read> P: array<i32>;
@group(0) @binding(2) var<storage, read_write> V: array<${t}>;
${isArg ? '@group(0) @binding(3) var<storage, read_write> A: array<u32>;' : ''}
@group(0) @binding(${isArg ? 4 : 3}) var<storage, read> M: array<u32>;
// M: numSegments, F, srcOff, E, ptrOff
${WGSL_PRELUDE}
${MAIN}
  ${SEGMENT_BOUNDS}
  var acc = ${t}(0);
  ${isArg ? `var arg = E;
  for (var j = b; j < e; j++) {
    let v = S[so + j * F];
    if (arg == E || ${better}) { acc = v; arg = j; }
  }
  A[i] = arg;` : `for (var j = b; j < e; j++) { acc = acc + S[so + j * F]; }`}
  V[i] = ${op === 'mean' ? `select(acc / ${t}(e - b), acc, e <= b)` : 'acc'};
}`;
};

registerWebGPUKernel('segmentReduce', (gpu, [src, ptr], [values, args], { op, numSegments, features }) => {
  const meta = segmentMeta(src, ptr, numSegments, features);
  const buffers = [buf(src), buf(ptr), buf(values), ...(args ? [buf(args)] : [])];
  gpu.dispatch({ code: SEGMENT_REDUCE(wgslType(src.dtype), op), buffers, meta, threads: numSegments * features });
});

const SEGMENT_SOFTMAX = `
@group(0) @binding(0) var<storage, read> S: array<f32>;
@group(0) @binding(1) var<storage, read> P: array<i32>;
@group(0) @binding(2) var<storage, read_write> O: array<f32>;
@group(0) @binding(3) var<storage, read> M: array<u32>;
${WGSL_PRELUDE}
${MAIN}
  ${SEGMENT_BOUNDS}
  var m = -inf_();
  for (var j = b; j < e; j++) { m = max(m, S[so + j * F]); }
  var z = 0.0;
  for (var j = b; j < e; j++) { z += exp(S[so + j * F] - m); }
  for (var j = b; j < e; j++) { O[j * F + f] = exp(S[so + j * F] - m) / z; }
}`;

registerWebGPUKernel('segmentSoftmax', (gpu, [src, ptr], [out], { numSegments, features }) => {
  const meta = segmentMeta(src, ptr, numSegments, features);
  gpu.dispatch({ code: SEGMENT_SOFTMAX, buffers: [buf(src), buf(ptr), buf(out)], meta, threads: numSegments * features });
});

const CSR_SPMM = (t: string) => `
@group(0) @binding(0) var<storage, read> RP: array<i32>;
@group(0) @binding(1) var<storage, read> CI: array<i32>;
@group(0) @binding(2) var<storage, read> VA: array<${t}>;
@group(0) @binding(3) var<storage, read> D: array<${t}>;
@group(0) @binding(4) var<storage, read_write> O: array<${t}>;
@group(0) @binding(5) var<storage, read> M: array<u32>;
// M: rows, k, m, dOff, dStride0, dStride1, nnz. One invocation per (row, column of dense).
${MAIN}
  let k = M[1];
  if (i >= M[0] * k) { return; }
  let r = i / k;
  let c = i % k;
  let b = u32(clamp(RP[r], 0, i32(M[6])));
  let e = u32(clamp(RP[r + 1u], 0, i32(M[6])));
  let dc = bitcast<i32>(M[3]) + i32(c) * bitcast<i32>(M[5]);
  var acc = ${t}(0);
  for (var j = b; j < e; j++) {
    let col = CI[j];
    if (col >= 0 && u32(col) < M[2]) { acc = acc + VA[j] * D[dc + col * bitcast<i32>(M[4])]; }
  }
  O[i] = acc;
}`;

/** rowPtr, colIdx and vals are fresh contiguous tensors; dense may be any 2-D view. */
registerWebGPUKernel('csrSpmm', (gpu, [rowPtr, colIdx, vals, dense]: readonly TensorSpec[], [out], { rows, cols }) => {
  const meta = new Uint32Array(7);
  put(meta, 0, [rows, cols, dense.shape[0], dense.offset, dense.strides[0], dense.strides[1], colIdx.shape[0]]);
  gpu.dispatch({ code: CSR_SPMM(wgslType(out.dtype)), buffers: [buf(rowPtr), buf(colIdx), buf(vals), buf(dense), buf(out)], meta, threads: rows * cols });
});
