import type { DType } from '../dtype.js';
import { buf, registerWebGPUKernel, wgslType, type WebGPUBackend } from './backend.js';
import { MAIN, WGSL_PRELUDE } from './prelude.js';
import { gemm } from './matmul.js';

/**
 * Sorting, searching and compaction kernels.
 *
 * Sort: every row is padded to a power of two P and sorted by a bitonic network over (key, index)
 * pairs. Keys are u32 whose unsigned order is the wanted order for every dtype (floats by their
 * bit pattern with NaN made largest and -0 made +0, i32 with the sign bit flipped, bitwise-not for
 * descending), so one set of pipelines serves all dtypes. All pairs are distinct (the index breaks
 * ties; padding gets the largest key and indices >= n), so the result is stable and deterministic.
 * Steps whose partner distance is below LOCAL_BLOCK run in workgroup memory, many per dispatch;
 * the longer steps of big rows run one per dispatch.
 */

const LOCAL_BLOCK = 512;
const LOCAL_THREADS = LOCAL_BLOCK / 2;
const MAX_GROUPS = 65535;

/** How the 32-bit input words become sort keys: see `sortKey`. */
function keyMode(dtype: DType): number {
  return dtype === 'float32' ? 2 : dtype === 'int32' ? 1 : 0;
}

/** Workgroup counts for `groups` workgroups, wrapped into y past the per-dimension limit. */
const grid = (groups: number): [number, number] => [Math.min(groups, MAX_GROUPS), Math.ceil(groups / MAX_GROUPS)];

/** u32 keys whose unsigned order is the value order (see the header). */
const SORT_KEY = /* wgsl */ `fn sortKey(bits: u32, mode: u32) -> u32 {
  if (mode == 1u) { return bits ^ 0x80000000u; }
  if (mode == 2u) {
    if ((bits & 0x7fffffffu) > 0x7f800000u) { return 0xffffffffu; }
    if (bits == 0x80000000u) { return 0x80000000u; }
    return select(bits | 0x80000000u, ~bits, (bits & 0x80000000u) != 0u);
  }
  return bits;
}`;

const SORT_INIT = /* wgsl */ `
@group(0) @binding(0) var<storage, read> X: array<u32>;
@group(0) @binding(1) var<storage, read_write> K: array<u32>;
@group(0) @binding(2) var<storage, read_write> I: array<u32>;
// M: total (rows * P), n, P, x offset, key mode (0 u32, 1 i32, 2 f32), descending
@group(0) @binding(3) var<storage, read> M: array<u32>;
${SORT_KEY}
${MAIN}
  if (i >= M[0]) { return; }
  let P = M[2];
  let row = i / P;
  let k = i % P;
  if (k < M[1]) {
    let key = sortKey(X[M[3] + row * M[1] + k], M[4]);
    K[i] = select(key, ~key, M[5] == 1u);
  } else {
    K[i] = 0xffffffffu;
  }
  I[i] = k;
}`;

/** (key, index) order shared by the network kernels. */
const PAIR_LESS = /* wgsl */ `
fn pairLess(ka: u32, ia: u32, kb: u32, ib: u32) -> bool { return ka < kb || (ka == kb && ia < ib); }`;

const SORT_GLOBAL = /* wgsl */ `
@group(0) @binding(0) var<storage, read_write> K: array<u32>;
@group(0) @binding(1) var<storage, read_write> I: array<u32>;
// M: pairs (total / 2), P, stage size k, partner distance j
@group(0) @binding(2) var<storage, read> M: array<u32>;
${PAIR_LESS}
${MAIN}
  if (i >= M[0]) { return; }
  let j = M[3];
  let lo = (i / j) * 2u * j + i % j;
  let hi = lo + j;
  let ascending = ((lo & (M[1] - 1u)) & M[2]) == 0u;
  let ka = K[lo]; let ia = I[lo]; let kb = K[hi]; let ib = I[hi];
  if (pairLess(kb, ib, ka, ia) == ascending) {
    K[lo] = kb; I[lo] = ib; K[hi] = ka; I[hi] = ia;
  }
}`;

const SORT_LOCAL = /* wgsl */ `
@group(0) @binding(0) var<storage, read_write> K: array<u32>;
@group(0) @binding(1) var<storage, read_write> I: array<u32>;
// M: total, P, first stage, last stage, first partner distance of the first stage (0: k / 2)
@group(0) @binding(2) var<storage, read> M: array<u32>;
${PAIR_LESS}
var<workgroup> sk: array<u32, ${LOCAL_BLOCK}>;
var<workgroup> si: array<u32, ${LOCAL_BLOCK}>;
@compute @workgroup_size(${LOCAL_THREADS})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32, @builtin(num_workgroups) nwg: vec3<u32>) {
  let base = (wid.x + wid.y * nwg.x) * ${LOCAL_BLOCK}u;
  let total = M[0];
  for (var q = 0u; q < 2u; q++) {
    let e = lid + q * ${LOCAL_THREADS}u;
    let g = base + e;
    // past the end: whole missing rows (P divides the block), never compared with real ones
    sk[e] = select(0xffffffffu, K[min(g, total - 1u)], g < total);
    si[e] = select(0xffffffffu, I[min(g, total - 1u)], g < total);
  }
  workgroupBarrier();
  for (var k = M[2]; k <= M[3]; k = k * 2u) {
    var j = select(k / 2u, M[4], k == M[2] && M[4] != 0u);
    for (; j > 0u; j = j / 2u) {
      let lo = (lid / j) * 2u * j + lid % j;
      let hi = lo + j;
      let ascending = (((base + lo) & (M[1] - 1u)) & k) == 0u;
      let ka = sk[lo]; let ia = si[lo]; let kb = sk[hi]; let ib = si[hi];
      if (pairLess(kb, ib, ka, ia) == ascending) {
        sk[lo] = kb; si[lo] = ib; sk[hi] = ka; si[hi] = ia;
      }
      workgroupBarrier();
    }
  }
  for (var q = 0u; q < 2u; q++) {
    let e = lid + q * ${LOCAL_THREADS}u;
    if (base + e < total) { K[base + e] = sk[e]; I[base + e] = si[e]; }
  }
}`;

const SORT_OUTPUT = /* wgsl */ `
@group(0) @binding(0) var<storage, read> X: array<u32>;
@group(0) @binding(1) var<storage, read> I: array<u32>;
@group(0) @binding(2) var<storage, read_write> V: array<u32>;
@group(0) @binding(3) var<storage, read_write> J: array<u32>;
// M: rows * n, n, P, x offset, values offset, indices offset
@group(0) @binding(4) var<storage, read> M: array<u32>;
${MAIN}
  if (i >= M[0]) { return; }
  let n = M[1];
  let row = i / n;
  let src = I[row * M[2] + i % n];
  V[M[4] + i] = X[M[3] + row * n + src];
  J[M[5] + i] = src;
}`;

registerWebGPUKernel('sortRows', (gpu, [x], [values, indices], { rows, cols, descending }) => {
  wgslType(x.dtype);
  const n = cols as number;
  const P = 2 ** Math.ceil(Math.log2(n));
  const total = rows * P;
  // Real allocations, not scratch: a long sort spans several submitted batches.
  const keys = gpu.allocate('uint32', total);
  const order = gpu.allocate('uint32', total);
  const K = keys.buffer;
  const I = order.buffer;
  gpu.dispatch({ code: SORT_INIT, buffers: [buf(x), K, I], meta: new Uint32Array([total, n, P, x.offset, keyMode(x.dtype), descending ? 1 : 0]), threads: total });
  const local = (first: number, last: number, firstStep: number) => gpu.dispatch({
    code: SORT_LOCAL, buffers: [K, I], meta: new Uint32Array([total, P, first, last, firstStep]),
    workgroups: grid(Math.ceil(total / LOCAL_BLOCK)),
  });
  if (P >= 2) local(2, Math.min(P, LOCAL_BLOCK), 0);
  for (let k = 2 * LOCAL_BLOCK; k <= P; k *= 2) {
    for (let j = k / 2; j >= LOCAL_BLOCK; j /= 2) {
      gpu.dispatch({ code: SORT_GLOBAL, buffers: [K, I], meta: new Uint32Array([total / 2, P, k, j]), threads: total / 2 });
    }
    local(k, k, LOCAL_BLOCK / 2);
  }
  gpu.dispatch({
    code: SORT_OUTPUT, buffers: [buf(x), I, buf(values), buf(indices)],
    meta: new Uint32Array([rows * n, n, P, x.offset, values.offset, indices.offset]), threads: rows * n,
  });
  gpu.free(keys);
  gpu.free(order);
});

/**
 * The k smallest (key, index) pairs of each row, in order, by one invocation per row keeping its
 * KMAX (k rounded up to a multiple of 4) best pairs sorted: an element that beats the last one is
 * carried down the list by compare-exchanges at fixed positions (registers, not indexed memory),
 * so a row of n costs n comparisons plus KMAX steps per insertion, where a full sort costs
 * n log² n compare-exchanges and a dispatch per long stage. Pairs order by key, then index, so
 * equal keys keep the lower index first. The input is bound twice: as vec4 for the scan when rows
 * allow, as scalars to fetch the winners.
 */
const TOPK_ROWS = (kmax: number, vec: boolean) => {
  const insert = Array.from({ length: kmax }, (_, q) => `
    lt = ck < K[${q}] || (ck == K[${q}] && ci < I[${q}]);
    tk = K[${q}]; ti = I[${q}];
    K[${q}] = select(tk, ck, lt); I[${q}] = select(ti, ci, lt);
    ck = select(ck, tk, lt); ci = select(ci, ti, lt);`).join('');
  return /* wgsl */ `
@group(0) @binding(0) var<storage, read> X: array<${vec ? 'vec4<u32>' : 'u32'}>;
@group(0) @binding(1) var<storage, read_write> V: array<u32>;
@group(0) @binding(2) var<storage, read_write> J: array<u32>;
@group(0) @binding(3) var<storage, read> Xs: array<u32>;
// M: rows, n, k, x offset, values offset, indices offset, key mode, descending
@group(0) @binding(4) var<storage, read> M: array<u32>;
var<private> K: array<u32, ${kmax}>;
var<private> I: array<u32, ${kmax}>;
${SORT_KEY}
fn offer(bits: u32, j: u32, flip: u32) {
  var ck = sortKey(bits, M[6]) ^ flip;
  var ci = j;
  if (!(ck < K[${kmax - 1}] || (ck == K[${kmax - 1}] && ci < I[${kmax - 1}]))) { return; }
  var lt: bool; var tk: u32; var ti: u32;${insert}
}
${MAIN}
  if (i >= M[0]) { return; }
  let n = M[1];
  let k = M[2];
  let base = M[3] + i * n;
  let flip = select(0u, 0xffffffffu, M[7] == 1u);
  // sentinels: every real pair is smaller (indices < n < 0xffffffff)
  for (var q = 0; q < ${kmax}; q++) { K[q] = 0xffffffffu; I[q] = 0xffffffffu; }
  ${vec
    ? `for (var j = 0u; j < n; j += 4u) {
    let w = X[(base + j) / 4u];
    offer(w.x, j, flip); offer(w.y, j + 1u, flip); offer(w.z, j + 2u, flip); offer(w.w, j + 3u, flip);
  }`
    : `for (var j = 0u; j < n; j++) { offer(X[base + j], j, flip); }`}
  for (var q = 0u; q < k; q++) {
    V[M[4] + i * k + q] = Xs[base + I[q]];
    J[M[5] + i * k + q] = I[q];
  }
}`;
};

/** Largest k served by topkRows; larger k take the full sort. */
export const TOPK_MAX = 64;

registerWebGPUKernel('topkRows', (gpu, [x], [values, indices], { rows, cols, k, largest }) => {
  wgslType(x.dtype);
  const kmax = 4 * Math.ceil(k / 4);
  if (kmax > TOPK_MAX) throw new RangeError(`topkRows: k = ${k} exceeds the kernel's limit of ${TOPK_MAX}`);
  // Rows of a multiple of 4 at an aligned offset are read 4 elements per load.
  const vec = cols % 4 === 0 && x.offset % 4 === 0;
  gpu.dispatch({
    code: TOPK_ROWS(kmax, vec), buffers: [buf(x), buf(values), buf(indices), buf(x)],
    meta: new Uint32Array([rows, cols, k, x.offset, values.offset, indices.offset, keyMode(x.dtype), largest ? 1 : 0]), threads: rows,
  });
});

registerWebGPUKernel('searchsorted', (gpu, [seq, vals], [out], { n, seqLen, perRow, right }) => {
  const t = wgslType(seq.dtype);
  const code = /* wgsl */ `
@group(0) @binding(0) var<storage, read> S: array<${t}>;
@group(0) @binding(1) var<storage, read> Vv: array<${t}>;
@group(0) @binding(2) var<storage, read_write> O: array<i32>;
// M: n, sequence length, values per sequence row, sequence offset, values offset, out offset, right
@group(0) @binding(3) var<storage, read> M: array<u32>;
${MAIN}
  if (i >= M[0]) { return; }
  let base = M[3] + (i / M[2]) * M[1];
  let v = Vv[M[4] + i];
  let right = M[6] == 1u;
  var lo = 0u;
  var hi = M[1];
  while (lo < hi) {
    let mid = (lo + hi) / 2u;
    let s = S[base + mid];
    if ((right && s <= v) || (!right && s < v)) { lo = mid + 1u; } else { hi = mid; }
  }
  O[M[5] + i] = i32(lo);
}`;
  gpu.dispatch({
    code, buffers: [buf(seq), buf(vals), buf(out)],
    meta: new Uint32Array([n, seqLen, perRow, seq.offset, vals.offset, out.offset, right ? 1 : 0]), threads: n,
  });
});

const CDIST = /* wgsl */ `
@group(0) @binding(0) var<storage, read> A: array<f32>;
@group(0) @binding(1) var<storage, read> B: array<f32>;
@group(0) @binding(2) var<storage, read_write> O: array<f32>;
// M: outputs, rowsA, rowsB, cols, a offset, b offset, out offset, mode (0: p=0, 1, 2, 3: inf, 4: other), p bits
@group(0) @binding(3) var<storage, read> M: array<u32>;
${WGSL_PRELUDE}
${MAIN}
  if (i >= M[0]) { return; }
  let P = M[1]; let R = M[2]; let C = M[3];
  let z = i / (P * R);
  let r = i % (P * R);
  let a0 = M[4] + (z * P + r / R) * C;
  let b0 = M[5] + (z * R + r % R) * C;
  let mode = M[7];
  let p = bitcast<f32>(M[8]);
  var acc = 0.0;
  for (var k = 0u; k < C; k++) {
    let d = abs(A[a0 + k] - B[b0 + k]);
    if (mode == 0u) { acc += select(0.0, 1.0, d != 0.0); }
    else if (mode == 1u) { acc += d; }
    else if (mode == 2u) { acc += d * d; }
    else if (mode == 3u) { if (isnan(d) || d > acc) { acc = d; } }
    else { acc += pow_(d, p); }
  }
  if (mode == 2u) { acc = sqrt_(acc); }
  if (mode == 4u) { acc = pow_(acc, 1.0 / p); }
  O[M[6] + i] = acc;
}`;

/**
 * With 8-lane subgroups cdist runs as the direct GEMM with a distance in place of the product
 * (rows of x1 against rows of x2 share loads like a matrix product's rows and columns).
 */
registerWebGPUKernel('cdist', (gpu, [a, b], [out], { batch, rowsA, rowsB, cols, p }) => {
  wgslType(out.dtype);
  const mode = p === 0 ? 0 : p === 1 ? 1 : p === 2 ? 2 : p === Infinity ? 3 : 4;
  if (gpu.subgroups8) {
    const combine = (['p0', 'p1', 'p2', 'pinf', 'pp'] as const)[mode];
    gemm(gpu, buf(a), buf(b), buf(out), {
      batch, m: rowsA, n: rowsB, k: cols,
      a: { off: a.offset, sb: rowsA * cols, si: cols, sj: 1 },
      b: { off: b.offset, sb: rowsB * cols, si: 1, sj: cols },
      c: { off: out.offset, sb: rowsA * rowsB, si: rowsB, sj: 1 },
    }, combine, p);
    return;
  }
  const meta = new Uint32Array(9);
  meta.set([batch * rowsA * rowsB, rowsA, rowsB, cols, a.offset, b.offset, out.offset, mode]);
  new Float32Array(meta.buffer)[8] = mode === 4 ? p : 0;
  gpu.dispatch({ code: CDIST, buffers: [buf(a), buf(b), buf(out)], meta, threads: batch * rowsA * rowsB });
});

/*
 * Compaction (nonzero, maskedSelect). The input is read as 32-bit words; a word counts when it is
 * nonzero (for floats, when it is not +-0, so NaN counts). Block b of COMPACT_BLOCK elements is one
 * 256-thread workgroup, each thread owning 4 consecutive elements, so blocks and threads are in
 * row-major order and a scan over them gives each element its output position.
 */
const COMPACT_THREADS = 256;
const PER_THREAD = 4;

const TRUTH = /* wgsl */ `
fn truth(bits: u32, isFloat: bool) -> u32 {
  return select(0u, 1u, select(bits, bits & 0x7fffffffu, isFloat) != 0u);
}`;

/** Workgroup-wide inclusive scan of one u32 per thread; every thread must call it. */
const WORKGROUP_SCAN = /* wgsl */ `
var<workgroup> scan: array<u32, ${COMPACT_THREADS}>;
fn inclusiveScan(lid: u32, v: u32) -> u32 {
  scan[lid] = v;
  workgroupBarrier();
  for (var s = 1u; s < ${COMPACT_THREADS}u; s = s * 2u) {
    var add = 0u;
    if (lid >= s) { add = scan[lid - s]; }
    workgroupBarrier();
    scan[lid] = scan[lid] + add;
    workgroupBarrier();
  }
  return scan[lid];
}`;

/**
 * Shared opening of the counting and scatter kernels (bindings X and M come first): each thread
 * counts its truthy elements into `c`, and `inclusive` is the workgroup scan of those counts.
 */
const COMPACT_BLOCK_COUNT = /* wgsl */ `
${TRUTH}
${WORKGROUP_SCAN}
@compute @workgroup_size(${COMPACT_THREADS})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32, @builtin(num_workgroups) nwg: vec3<u32>) {
  let block = wid.x + wid.y * nwg.x;
  let first = block * ${COMPACT_THREADS * PER_THREAD}u + lid * ${PER_THREAD}u;
  var c = 0u;
  for (var q = 0u; q < ${PER_THREAD}u; q++) {
    if (first + q < M[0]) { c += truth(X[M[1] + first + q], M[2] == 1u); }
  }
  let inclusive = inclusiveScan(lid, c);`;

const COMPACT_COUNT = /* wgsl */ `
@group(0) @binding(0) var<storage, read> X: array<u32>;
@group(0) @binding(1) var<storage, read_write> O: array<u32>;
// M: n, x offset, float flag, blocks
@group(0) @binding(2) var<storage, read> M: array<u32>;
${COMPACT_BLOCK_COUNT}
  if (lid == ${COMPACT_THREADS - 1}u && block < M[3]) { O[block] = inclusive; }
}`;

/** One workgroup turns the block counts into exclusive offsets, in chunks, and writes the total last. */
const COMPACT_SCAN = /* wgsl */ `
@group(0) @binding(0) var<storage, read_write> O: array<u32>;
// M: blocks
@group(0) @binding(1) var<storage, read> M: array<u32>;
${WORKGROUP_SCAN}
@compute @workgroup_size(${COMPACT_THREADS})
fn main(@builtin(local_invocation_index) lid: u32) {
  let blocks = M[0];
  var carry = 0u;
  for (var start = 0u; start < blocks; start += ${COMPACT_THREADS}u) {
    let at = start + lid;
    let v = select(0u, O[min(at, blocks - 1u)], at < blocks);
    let inclusive = inclusiveScan(lid, v);
    if (at < blocks) { O[at] = carry + inclusive - v; }
    carry += scan[${COMPACT_THREADS - 1}u];
    workgroupBarrier();
  }
  if (lid == 0u) { O[blocks] = carry; }
}`;

/** Shared body of the scatter kernels: `emit(pos, flat)` for each counted element, in order. */
function compactScatter(bindings: string, emit: string): string {
  return /* wgsl */ `
${bindings}
${COMPACT_BLOCK_COUNT}
  if (block * ${COMPACT_THREADS * PER_THREAD}u >= M[0]) { return; }
  var pos = Off[block] + inclusive - c;
  for (var q = 0u; q < ${PER_THREAD}u; q++) {
    let flat = first + q;
    if (flat < M[0] && truth(X[M[1] + flat], M[2] == 1u) == 1u) {
      ${emit}
      pos += 1u;
    }
  }
}`;
}

// M: n, mask offset, float flag, out offset, rank, shape[rank]
const COMPACT_INDICES = compactScatter(/* wgsl */ `
@group(0) @binding(0) var<storage, read> X: array<u32>;
@group(0) @binding(1) var<storage, read> Off: array<u32>;
@group(0) @binding(2) var<storage, read_write> O: array<i32>;
@group(0) @binding(3) var<storage, read> M: array<u32>;`, /* wgsl */ `
      let rank = M[4];
      var rem = flat;
      for (var d = i32(rank) - 1; d >= 0; d--) {
        let size = M[5u + u32(d)];
        O[M[3] + pos * rank + u32(d)] = i32(rem % size);
        rem = rem / size;
      }`);

// M: n, mask offset, float flag (0: bool mask), out offset, values offset
const COMPACT_VALUES = compactScatter(/* wgsl */ `
@group(0) @binding(0) var<storage, read> X: array<u32>;
@group(0) @binding(1) var<storage, read> Off: array<u32>;
@group(0) @binding(2) var<storage, read> Src: array<u32>;
@group(0) @binding(3) var<storage, read_write> O: array<u32>;
@group(0) @binding(4) var<storage, read> M: array<u32>;`, /* wgsl */ `
      O[M[3] + pos] = Src[M[4] + flat];`);

const blocksOf = (n: number) => Math.ceil(n / (COMPACT_THREADS * PER_THREAD));

function checkBlock(block: number) {
  if (block !== COMPACT_THREADS * PER_THREAD) throw new Error(`compact: webgpu kernels use blocks of ${COMPACT_THREADS * PER_THREAD}, received ${block}`);
}

registerWebGPUKernel('compactCount', (gpu: WebGPUBackend, [mask], [offsets], { n, block }) => {
  checkBlock(block);
  const blocks = blocksOf(n);
  const isFloat = mask.dtype === 'float32' ? 1 : 0;
  wgslType(mask.dtype);
  if (offsets.offset !== 0) throw new Error('compactCount: expected offsets at the start of their storage');
  gpu.dispatch({ code: COMPACT_COUNT, buffers: [buf(mask), buf(offsets)], meta: new Uint32Array([n, mask.offset, isFloat, blocks]), workgroups: grid(blocks) });
  gpu.dispatch({ code: COMPACT_SCAN, buffers: [buf(offsets)], meta: new Uint32Array([blocks]), workgroups: [1] });
});

registerWebGPUKernel('compactIndices', (gpu, [mask, offsets], [out], { n, block, shape }) => {
  checkBlock(block);
  const dims = shape as number[];
  const meta = new Uint32Array([n, mask.offset, mask.dtype === 'float32' ? 1 : 0, out.offset, dims.length, ...dims]);
  gpu.dispatch({ code: COMPACT_INDICES, buffers: [buf(mask), buf(offsets), buf(out)], meta, workgroups: grid(blocksOf(n)) });
});

registerWebGPUKernel('compactValues', (gpu, [mask, offsets, x], [out], { n, block }) => {
  checkBlock(block);
  wgslType(x.dtype);
  const meta = new Uint32Array([n, mask.offset, 0, out.offset, x.offset]);
  gpu.dispatch({ code: COMPACT_VALUES, buffers: [buf(mask), buf(offsets), buf(x), buf(out)], meta, workgroups: grid(blocksOf(n)) });
});
