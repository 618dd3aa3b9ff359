import type { TensorSpec } from '../backend.js';
import { buf, registerWebGPUKernel, type WebGPUBackend } from './backend.js';
import { WGSL_PRELUDE } from './prelude.js';

/**
 * Batched matrix products C[b] = A[b] B[b] over strided views, and the tiling helpers that the
 * implicit-GEMM convolutions (conv.ts) share.
 *
 * With 8-lane subgroups (CPU drivers such as lavapipe, which run 8 invocations as one AVX2
 * register), a load whose address is not a constant costs one scalar load per invocation, with a
 * bounds check, while arithmetic is 8-wide; so the kernels share loaded values across the 8 lanes
 * with `subgroupBroadcast` (a register shuffle) instead of loading them in every lane:
 * - direct: a subgroup owns TM (8 or 16) rows x 32 columns; per step of k lane l loads the A value
 *   of row row0 + l + 8u and the 4 B values of its columns: TM / 8 + 4 loads for 4 TM
 *   multiply-adds, where loading every A value in every lane would take TM + 4. Strided views of
 *   any layout; B read as vec4 when its rows are contiguous and aligned.
 * - packed, for products large in every dim: A is first copied k-major ([k, m], rows in vec4
 *   quads) and B, when needed, row-major aligned, so that one vec4 load per lane brings 4 rows of
 *   A (32 per subgroup) and one brings 4 columns of B: 2 loads for 128 multiply-adds. The copies
 *   cost O(mk + kn) next to the product's O(mnk).
 * Elsewhere (GPUs) the portable kernel gives 64 invocations a 32 x 32 tile, 4 x 4 outputs each,
 * staging A and B through workgroup memory 8 steps of k at a time.
 *
 * Sizes, strides and offsets travel in the meta buffer (a few code variants per family, so the
 * pipeline cache stays small). Per shape: the tiling (square-ish workgroup tiles unless a side is
 * short), the orientation of the direct kernel (computing Cᵀ = Bᵀ Aᵀ when that fills the
 * subgroup's columns better), and split-K (workgroups summing disjoint ranges of k into scratch,
 * then a summing pass) when the output alone gives too few workgroups.
 */

/** A strided 3-d operand: element (b, i, j) at off + b * sb + i * si + j * sj. */
export interface View3 {
  off: number;
  sb: number;
  si: number;
  sj: number;
}

/** A GEMM over strided views in the kernel's orientation: C[b, m, n] = sum_k A[b, m, k] B[b, k, n]. */
export interface GemmProblem {
  batch: number;
  m: number;
  n: number;
  k: number;
  a: View3;
  b: View3;
  c: View3;
}

export const MAX_DIM = 65535;

/** Tile configuration of the subgroup kernels. */
export interface SgTiling {
  /** Rows per subgroup: 8 or 16 (direct kernel), 32 (packed kernel). */
  tm: number;
  /** Subgroups along columns in the 64-invocation workgroup (1, 2, 4 or 8); rows get 8 / sgx. */
  sgx: number;
  /** Workgroup tiles along columns and rows. */
  tilesX: number;
  tilesY: number;
  /** Ranges of k summed by separate workgroups (1: no split). */
  splits: number;
  kChunk: number;
}

const pow2ceil = (x: number) => 2 ** Math.ceil(Math.log2(Math.max(1, x)));

/**
 * Tiling of an m x n output with reduction length k for subgroups of `tm` rows x 32 columns:
 * square-ish workgroup tiles (they share loads through the cache best) unless one side is short,
 * and k split across workgroups when the output alone gives the CPU threads too few workgroups.
 */
export function sgTiling(batch: number, m: number, n: number, k: number, tm: number): SgTiling {
  const units = Math.ceil(n / 4);
  const wantX = Math.min(8, pow2ceil(Math.ceil(units / 8)));
  const wantY = Math.min(8, pow2ceil(Math.ceil(m / tm)));
  let sgx = Math.min(2, wantX);
  if (wantY < 8 / sgx) sgx = Math.min(8, 8 / wantY);
  const tilesX = Math.ceil(units / (8 * sgx));
  const tilesY = Math.ceil(m / (tm * (8 / sgx)));
  return { tm, sgx, tilesX, tilesY, ...splitK(tilesX * tilesY * batch, batch, k, 16, 256) };
}

/** Splits k when fewer than `few` workgroups would run, keeping at least `minChunk` steps each. */
export function splitK(groups: number, batch: number, k: number, few: number, minChunk: number): { splits: number; kChunk: number } {
  let splits = 1;
  if (groups < few && k >= 2 * minChunk) splits = Math.max(1, Math.min(Math.ceil((2 * few) / groups), Math.floor(k / minChunk), Math.floor(MAX_DIM / batch)));
  const kChunk = Math.ceil(k / splits);
  return { splits: Math.ceil(k / kChunk), kChunk };
}

/** Loads per subgroup step of the direct kernel over the whole output, for choosing an orientation. */
function orientationCost(m: number, n: number, bVec: boolean): number {
  const t = sgTiling(1, m, n, 1, directRows(m));
  const rows = t.tilesY * t.tm * (8 / t.sgx);
  const cols = t.tilesX * 32 * t.sgx;
  return (rows / t.tm) * (cols / 32) * (t.tm / 8 + (bVec ? 2 : 4));
}

const directRows = (m: number) => (m <= 8 ? 8 : 16);

/** Whether a view is read as vec4 along j: unit stride and every other offset a multiple of 4. */
export const vec4Along = (v: View3, len: number) => v.sj === 1 && len % 4 === 0 && v.off % 4 === 0 && v.si % 4 === 0 && v.sb % 4 === 0;

/** The same product computed as Cᵀ = Bᵀ Aᵀ: A and B (and their buffers) trade places. */
function transposed(p: GemmProblem): GemmProblem {
  return {
    batch: p.batch, m: p.n, n: p.m, k: p.k,
    a: { off: p.b.off, sb: p.b.sb, si: p.b.sj, sj: p.b.si },
    b: { off: p.a.off, sb: p.a.sb, si: p.a.sj, sj: p.a.si },
    c: { off: p.c.off, sb: p.c.sb, si: p.c.sj, sj: p.c.si },
  };
}

/** Meta layout shared by the GEMM kernels (i32). */
function gemmMeta(p: GemmProblem, t: { sgx: number; tilesX: number; splits: number; kChunk: number }, splitStride: number, power = 0): Uint32Array {
  const m = Int32Array.from([
    p.m, p.n, p.k, t.sgx, t.tilesX, t.splits, t.kChunk, p.batch,
    p.a.off, p.a.sb, p.a.si, p.a.sj,
    p.b.off, p.b.sb, p.b.si, p.b.sj,
    p.c.off, p.c.sb, p.c.si, p.c.sj, splitStride, 0,
  ]);
  new Float32Array(m.buffer)[21] = power;
  return new Uint32Array(m.buffer);
}

/**
 * Subgroup kernels skip their loop for subgroups wholly outside the output: a condition the same
 * for all 8 lanes of a subgroup but not for the workgroup, which WGSL's workgroup-level
 * uniformity analysis cannot see.
 */
export const SUBGROUP_DIAGNOSTIC = 'diagnostic(off, subgroup_uniformity);';

/**
 * WGSL statements (inside main, after the P[] reads of M, sgx, tilesX, splits) that place a
 * subgroup of the subgroup-tiled kernels: its tile, subgroup `sg`, the batch (or group) index named
 * `batch` and K split `split` from wid.z, and its first row `row0` (tm rows per lane) and first
 * column unit `unit0`.
 */
export const subgroupTilePlacement = (tm: number, batch: string) => `let tile = i32(wid.x + wid.y * nwg.x);
  let sg = i32(lid / 8u);
  let z = i32(wid.z);
  let ${batch} = z / splits;
  let split = z - ${batch} * splits;
  let row0 = ((tile / tilesX) * (8 / sgx) + sg / sgx) * ${tm};
  let unit0 = ((tile % tilesX) * sgx + sg % sgx) * 8;`;

/** WGSL shared by the subgroup kernels: bindings, the tile position of this subgroup and lane, C stores. */
function sgPrologue(aType: string, bVec: boolean, cVec: boolean, tm: number, finish = 'v'): string {
  const store = cVec
    ? `fn store(row: i32, v: vec4<f32>) {
  if (row < gM && unit < gN / 4) { C[(cBase + row * P[18]) / 4 + unit] = ${finish}; }
}`
    : `fn store(row: i32, v: vec4<f32>) {
  if (row >= gM) { return; }
  let base = cBase + row * P[18];
  let w = ${finish};
  for (var j = 0; j < 4; j++) {
    let col = unit * 4 + j;
    if (col < gN) { C[base + col * P[19]] = w[j]; }
  }
}`;
  return /* wgsl */ `enable subgroups;
${SUBGROUP_DIAGNOSTIC}
@group(0) @binding(0) var<storage, read> A: array<${aType}>;
@group(0) @binding(1) var<storage, read> B: array<${bVec ? 'vec4<f32>' : 'f32'}>;
@group(0) @binding(2) var<storage, read_write> C: array<${cVec ? 'vec4<f32>' : 'f32'}>;
@group(0) @binding(3) var<storage, read> P: array<i32>;
var<private> gM: i32;
var<private> gN: i32;
var<private> unit: i32;
var<private> cBase: i32;
var<private> gP: f32;
${WGSL_PRELUDE}
${store}
@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32, @builtin(subgroup_invocation_id) lane: u32) {
  let M = P[0]; let N = P[1]; let K = P[2]; let sgx = P[3]; let tilesX = P[4]; let splits = P[5]; let kChunk = P[6];
  ${subgroupTilePlacement(tm, 'b')}
  unit = unit0 + i32(lane);
  gM = M;
  gN = N;
  let k0 = split * kChunk;
  // A subgroup wholly past the edge skips the loop (the same for its 8 lanes).
  let k1 = select(k0, min(K, k0 + kChunk), row0 < M && unit0 * 4 < N);
  cBase = P[16] + b * P[17] + split * P[20];
  ${bVec
    ? `var pb = (P[12] + b * P[13] + k0 * P[14]) / 4 + min(unit, (N + 3) / 4 - 1);
  let bStep = P[14] / 4;`
    : `var pb = P[12] + b * P[13] + k0 * P[14];
  let bStep = P[14];
  let o0 = min(unit * 4, N - 1) * P[15];
  let o1 = min(unit * 4 + 1, N - 1) * P[15];
  let o2 = min(unit * 4 + 2, N - 1) * P[15];
  let o3 = min(unit * 4 + 3, N - 1) * P[15];`}`;
}

const B_READ = { vec: 'let bv = B[pb];', scalar: 'let bv = vec4<f32>(B[pb + o0], B[pb + o1], B[pb + o2], B[pb + o3]);' };

/**
 * What the direct kernel accumulates over k for row value a (broadcast to 4 lanes' columns) and
 * column values b, and how it finishes: products (GEMM), or the p-norm distances of cdist, where
 * a product-like structure (every row against every column) shares loads the same way.
 */
export type Combine = 'dot' | 'p0' | 'p1' | 'p2' | 'pinf' | 'pp';

const COMBINE: Record<Combine, { step: (c: string) => string; finish?: string }> = {
  dot: { step: (c) => `${c} = fma(a4, bv, ${c});` },
  p0: { step: (c) => `${c} = ${c} + select(vec4<f32>(0.0), vec4<f32>(1.0), a4 != bv);` },
  p1: { step: (c) => `${c} = ${c} + abs(a4 - bv);` },
  p2: { step: (c) => `{ let d = a4 - bv; ${c} = fma(d, d, ${c}); }`, finish: 'vec4<f32>(sqrt_(v.x), sqrt_(v.y), sqrt_(v.z), sqrt_(v.w))' },
  // NaN wins and stays, as in the cpu kernel
  pinf: { step: (c) => `{ let d = abs(a4 - bv); ${c} = select(${c}, d, (d > ${c}) | (d != d)); }` },
  pp: {
    step: (c) => `{ let d = abs(a4 - bv); ${c} = ${c} + vec4<f32>(pow_(d.x, gP), pow_(d.y, gP), pow_(d.z, gP), pow_(d.w, gP)); }`,
    finish: 'vec4<f32>(pow_(v.x, 1.0 / gP), pow_(v.y, 1.0 / gP), pow_(v.z, 1.0 / gP), pow_(v.w, 1.0 / gP))',
  },
};

/**
 * The direct subgroup GEMM over strided views: lane l loads A at rows row0 + l + 8u (clamped at the
 * edge: every lane must take part in the broadcasts) and B at its 4 columns, one step of k at a time.
 */
function directSource(tm: number, bVec: boolean, cVec: boolean, combine: Combine = 'dot'): string {
  const U = tm / 8;
  const { step, finish } = COMBINE[combine];
  const loads = Array.from({ length: U }, (_, u) => `let a${u} = A[pa${u}]; pa${u} += aStep;`).join(' ');
  const steps = Array.from({ length: tm }, (_, r) => `{ let a4 = vec4<f32>(subgroupBroadcast(a${r >> 3}, ${r & 7}u)); ${step(`c${r}`)} }`);
  const prologue = sgPrologue('f32', bVec, cVec, tm, finish);
  return /* wgsl */ `${prologue}
  ${combine === 'pp' ? 'gP = bitcast<f32>(P[21]);' : ''}
  let aStep = P[11];
  let aRow = P[8] + b * P[9] + k0 * aStep;
  ${Array.from({ length: U }, (_, u) => `var pa${u} = aRow + min(row0 + i32(lane) + ${8 * u}, M - 1) * P[10];`).join('\n  ')}
  ${Array.from({ length: tm }, (_, r) => `var c${r} = vec4<f32>(0.0);`).join(' ')}
  for (var k = k0; k < k1; k++) {
    ${loads}
    ${bVec ? B_READ.vec : B_READ.scalar} pb += bStep;
    ${steps.join('\n    ')}
  }
  ${Array.from({ length: tm }, (_, r) => `store(row0 + ${r}, c${r});`).join(' ')}
}`;
}

/**
 * The packed subgroup GEMM: A stored k-major with rows in vec4 quads (A[b, k, m] contiguous in m),
 * so lane l loads rows row0 + 4l .. 4l + 3 with one vec4 and the subgroup covers 32 rows; B is vec4.
 */
function packedSource(cVec: boolean): string {
  const fmas: string[] = [];
  for (let q = 0; q < 8; q++) {
    fmas.push(`let a${q} = subgroupBroadcast(av, ${q}u);`);
    for (let j = 0; j < 4; j++) fmas.push(`c${4 * q + j} = fma(vec4<f32>(a${q}.${'xyzw'[j]}), bv, c${4 * q + j});`);
  }
  return /* wgsl */ `${sgPrologue('vec4<f32>', true, cVec, 32)}
  let aStep = P[11] / 4;
  var pa = (P[8] + b * P[9] + k0 * P[11]) / 4 + min(row0 / 4 + i32(lane), (M + 3) / 4 - 1);
  ${Array.from({ length: 32 }, (_, r) => `var c${r} = vec4<f32>(0.0);`).join(' ')}
  for (var k = k0; k < k1; k++) {
    let av = A[pa]; pa += aStep;
    ${B_READ.vec} pb += bStep;
    ${fmas.join('\n    ')}
  }
  ${Array.from({ length: 32 }, (_, r) => `store(row0 + ${r}, c${r});`).join(' ')}
}`;
}

/**
 * Copies a strided [batch, k, len] view (element (b, q, j) at off + b sb + q sq + j sj, given as
 * M = [len, padded len, k, off, sb, sq, sj, total]) into a contiguous [batch, k, padded len] buffer,
 * zero past len: the packed layout of the vec4 kernels.
 */
const PACK = /* wgsl */ `
@group(0) @binding(0) var<storage, read> X: array<f32>;
@group(0) @binding(1) var<storage, read_write> Y: array<f32>;
@group(0) @binding(2) var<storage, read> M: array<i32>;
@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = i32(gid.x + gid.y * nwg.x * 64u);
  if (i >= M[7]) { return; }
  let j = i % M[1];
  let row = i / M[1];
  let q = row % M[2];
  let b = row / M[2];
  Y[i] = select(0.0, X[M[3] + b * M[4] + q * M[5] + min(j, M[0] - 1) * M[6]], j < M[0]);
}`;

/** Packs `len` x k of a view into [batch, k, ceil4(len)] scratch; returns the packed view (j contiguous, q stride ceil4(len)). */
function pack(gpu: WebGPUBackend, src: GPUBuffer, batch: number, len: number, k: number, v: { off: number; sb: number; sq: number; sj: number }): { buf: GPUBuffer; sb: number; sq: number } {
  const lp = Math.ceil(len / 4) * 4;
  const copies = v.sb === 0 ? 1 : batch;
  const total = copies * k * lp;
  const out = gpu.scratchEmpty(4 * total);
  gpu.dispatch({ code: PACK, buffers: [src, out], meta: new Uint32Array(Int32Array.from([len, lp, k, v.off, v.sb, v.sq, v.sj, total]).buffer), threads: total });
  return { buf: out, sb: copies === 1 ? 0 : k * lp, sq: lp };
}

/**
 * The portable GEMM: 64 invocations, a 32 x 32 tile, 4 x 4 outputs each; A and B pass through
 * workgroup memory 8 steps of k at a time, zero-padded at the edges.
 */
const PORTABLE = /* wgsl */ `
@group(0) @binding(0) var<storage, read> A: array<f32>;
@group(0) @binding(1) var<storage, read> B: array<f32>;
@group(0) @binding(2) var<storage, read_write> C: array<f32>;
@group(0) @binding(3) var<storage, read> P: array<i32>;
var<workgroup> ta: array<f32, 256>;
var<workgroup> tb: array<f32, 256>;
@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let M = P[0]; let N = P[1]; let K = P[2]; let tilesX = P[4]; let splits = P[5]; let kChunk = P[6];
  let tile = i32(wid.x + wid.y * nwg.x);
  let z = i32(wid.z);
  let b = z / splits;
  let split = z - b * splits;
  let row0 = (tile / tilesX) * 32;
  let col0 = (tile % tilesX) * 32;
  let tr = i32(lid) / 8;
  let tc = i32(lid) % 8;
  let aBase = P[8] + b * P[9];
  let bBase = P[12] + b * P[13];
  let k0 = split * kChunk;
  let k1 = min(K, k0 + kChunk);
  var acc: array<vec4<f32>, 4>;
  for (var kt = k0; kt < k1; kt += 8) {
    for (var e = i32(lid); e < 256; e += 64) {
      let r = e / 8; let q = e % 8;
      let row = row0 + r; let k = kt + q;
      ta[q * 32 + r] = select(0.0, A[aBase + min(row, M - 1) * P[10] + min(k, K - 1) * P[11]], row < M && k < k1);
      let kb = kt + e / 32; let col = col0 + e % 32;
      tb[e] = select(0.0, B[bBase + min(kb, K - 1) * P[14] + min(col, N - 1) * P[15]], kb < k1 && col < N);
    }
    workgroupBarrier();
    for (var q = 0; q < 8; q++) {
      let av = vec4<f32>(ta[q * 32 + tr * 4], ta[q * 32 + tr * 4 + 1], ta[q * 32 + tr * 4 + 2], ta[q * 32 + tr * 4 + 3]);
      let bv = vec4<f32>(tb[q * 32 + tc * 4], tb[q * 32 + tc * 4 + 1], tb[q * 32 + tc * 4 + 2], tb[q * 32 + tc * 4 + 3]);
      for (var i = 0; i < 4; i++) { acc[i] = fma(vec4<f32>(av[i]), bv, acc[i]); }
    }
    workgroupBarrier();
  }
  let cBase = P[16] + b * P[17] + split * P[20];
  for (var i = 0; i < 4; i++) {
    let row = row0 + tr * 4 + i;
    for (var j = 0; j < 4; j++) {
      let col = col0 + tc * 4 + j;
      if (row < M && col < N) { C[cBase + row * P[18] + col * P[19]] = acc[i][j]; }
    }
  }
}`;

/** Sums split-K partial products [splits, batch, m, n] (contiguous) into C through its strides. */
const SPLIT_SUM = /* wgsl */ `
@group(0) @binding(0) var<storage, read> S: array<f32>;
@group(0) @binding(1) var<storage, read_write> C: array<f32>;
@group(0) @binding(2) var<storage, read> P: array<i32>;
@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = i32(gid.x + gid.y * nwg.x * 64u);
  let M = P[0]; let N = P[1]; let splits = P[5]; let batch = P[7];
  let total = batch * M * N;
  if (i >= total) { return; }
  let col = i % N; let row = (i / N) % M; let b = i / (M * N);
  var s = 0.0;
  for (var q = 0; q < splits; q++) { s += S[q * total + i]; }
  C[P[16] + b * P[17] + row * P[18] + col * P[19]] = s;
}`;

const sources = new Map<string, string>();
export function cached(key: string, make: () => string): string {
  let code = sources.get(key);
  if (!code) sources.set(key, (code = make()));
  return code;
}

/** A dispatch grid of `tiles` workgroups along x, wrapped into y past the per-dimension limit. */
export function grid(tiles: number, z: number): [number, number, number] {
  if (z > MAX_DIM) throw new RangeError(`matmul: a batch of ${z} exceeds the webgpu limit of ${MAX_DIM}`);
  return [Math.min(tiles, MAX_DIM), Math.ceil(tiles / MAX_DIM), z];
}

/**
 * The packed kernel runs products of at least PACK_MIN_MN rows and columns (and PACK_MIN steps of
 * k). Measured on lavapipe, the direct kernel is as fast or faster below that, up to 2.7x on tall
 * or wide products (2708 x 1433 @ 1433 x 64: 20 ms against 45; 64 x 2708 @ 2708 x 1433, which needs
 * no packing, 20 against 47; 768^3 30 against 41), while the packed one wins on large squares
 * (1024^3: 57 against 78 ms in one run, a tie in another; 2048^3: 495 against 533).
 */
const PACK_MIN = 64;
const PACK_MIN_MN = 1024;

/** How a GEMM runs: the kernel, its orientation and tiling, which operands are packed first. */
export interface GemmPlan {
  kind: 'packed' | 'direct' | 'portable';
  /** The problem as the kernel sees it: transposed (A and B exchanged) when `swapped`. */
  problem: GemmProblem;
  swapped: boolean;
  packA: boolean;
  packB: boolean;
  tiling: SgTiling;
  /** B read (after any packing) and C written as vec4. */
  bVec: boolean;
  cVec: boolean;
}

/** Chooses the kernel, orientation, packing and tiling of a GEMM (pure: tests check it). */
export function planGemm(subgroups8: boolean, problem: GemmProblem, combine: Combine = 'dot'): GemmPlan {
  let p = problem;
  const outVec = (q: GemmProblem, t: SgTiling) => subgroups8 && (t.splits > 1 ? q.n % 4 === 0 : vec4Along(q.c, q.n));
  if (!subgroups8) {
    const tilesX = Math.ceil(p.n / 32);
    const tilesY = Math.ceil(p.m / 32);
    const tiling = { tm: 32, sgx: 1, tilesX, tilesY, ...splitK(tilesX * tilesY * p.batch, p.batch, p.k, 8, 512) };
    return { kind: 'portable', problem: p, swapped: false, packA: false, packB: false, tiling, bVec: false, cVec: false };
  }
  if (combine === 'dot' && p.m >= PACK_MIN_MN && p.n >= PACK_MIN_MN && p.k >= PACK_MIN) {
    const packA = !(p.a.si === 1 && p.m % 4 === 0 && p.a.off % 4 === 0 && p.a.sj % 4 === 0 && p.a.sb % 4 === 0);
    const packB = !vec4Along(p.b, p.n);
    const tiling = sgTiling(p.batch, p.m, Math.ceil(p.n / 4) * 4, p.k, 32);
    return { kind: 'packed', problem: p, swapped: false, packA, packB, tiling, bVec: true, cVec: outVec(p, tiling) };
  }
  const tp = transposed(p);
  const swapped = orientationCost(tp.m, tp.n, vec4Along(tp.b, tp.n)) < 0.8 * orientationCost(p.m, p.n, vec4Along(p.b, p.n));
  if (swapped) p = tp;
  const tiling = sgTiling(p.batch, p.m, p.n, p.k, directRows(p.m));
  // Only sums split: a max or a root does not distribute over partial results.
  if (combine !== 'dot') Object.assign(tiling, { splits: 1, kChunk: p.k });
  return { kind: 'direct', problem: p, swapped, packA: false, packB: false, tiling, bVec: vec4Along(p.b, p.n), cVec: outVec(p, tiling) };
}

/**
 * Records one GEMM over GPU buffers (A, B read; C written through problem.c) as planGemm says;
 * split-K goes through a scratch buffer and a summing pass.
 */
export function gemm(gpu: WebGPUBackend, bufA: GPUBuffer, bufB: GPUBuffer, bufC: GPUBuffer, problem: GemmProblem, combine: Combine = 'dot', power = 0): void {
  if (combine !== 'dot' && !gpu.subgroups8) throw new Error(`gemm: the '${combine}' combine needs 8-lane subgroups`);
  const plan = planGemm(gpu.subgroups8, problem, combine);
  const t = plan.tiling;
  let p = plan.problem;
  let [first, second] = plan.swapped ? [bufB, bufA] : [bufA, bufB];
  if (plan.packA) {
    const pa = pack(gpu, first, p.batch, p.m, p.k, { off: p.a.off, sb: p.a.sb, sq: p.a.sj, sj: p.a.si });
    first = pa.buf;
    p = { ...p, a: { off: 0, sb: pa.sb, si: 1, sj: pa.sq } };
  }
  if (plan.packB) {
    // the padded columns hold zeros and are never stored
    const pb = pack(gpu, second, p.batch, p.n, p.k, { off: p.b.off, sb: p.b.sb, sq: p.b.si, sj: p.b.sj });
    second = pb.buf;
    p = { ...p, b: { off: 0, sb: pb.sb, si: pb.sq, sj: 1 } };
  }
  const code = plan.kind === 'portable' ? PORTABLE
    : plan.kind === 'packed' ? cached(`packed${plan.cVec}`, () => packedSource(plan.cVec))
    : cached(`direct${t.tm}${plan.bVec}${plan.cVec}${combine}`, () => directSource(t.tm, plan.bVec, plan.cVec, combine));
  const split = t.splits > 1;
  const total = p.batch * p.m * p.n;
  const out = split ? gpu.scratchEmpty(4 * total * t.splits) : bufC;
  // Partial products are laid out contiguously, [splits, batch, m, n].
  const target = split ? { ...p, c: { off: 0, sb: p.m * p.n, si: p.n, sj: 1 } } : p;
  const meta = gemmMeta(target, t, split ? total : 0, power);
  gpu.dispatch({ code, buffers: [first, second, out], meta, workgroups: grid(t.tilesX * t.tilesY, p.batch * t.splits) });
  if (split) gpu.dispatch({ code: SPLIT_SUM, buffers: [out, bufC], meta: gemmMeta(p, t, 0), threads: total });
}

/** A [B, M, K] and B [B, K, N] strided views (batch stride may be 0), out contiguous [B, M, N]. */
registerWebGPUKernel('matmul', (gpu, [a, b], [out], { batch, m, n, k }) => {
  const view = (s: TensorSpec): View3 => ({ off: s.offset, sb: s.strides[0], si: s.strides[1], sj: s.strides[2] });
  gemm(gpu, buf(a), buf(b), buf(out), { batch, m, n, k, a: view(a), b: view(b), c: { off: out.offset, sb: m * n, si: n, sj: 1 } });
});
