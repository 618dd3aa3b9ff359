import type { TensorSpec } from '../backend.js';
import { buf, registerWebGPUKernel, wgslType, type WebGPUBackend } from './backend.js';
import { WGSL_PRELUDE } from './prelude.js';
import { flatStride } from '../shape.js';

/**
 * Row reductions over an [M, K] view whose rows and elements each have one stride (M[4], M[5]):
 * contiguous rows, or the columns of a row-major matrix (a reduction over dim 0, read in place).
 * Many rows (PER_THREAD_ROWS) get one invocation each. Fewer long rows (K > SHORT_ROW) get one 64-thread
 * workgroup per row: strided partial results, then a tree in workgroup memory (rows wrap into the
 * y dimension past 65,535). Short rows get one invocation per row with a serial loop, which on
 * many small rows is far cheaper than a workgroup and six barriers each.
 * Index ties keep the smaller index, so argmax/argmin return the first extreme like PyTorch.
 */
const SHORT_ROW = 64;
/**
 * From this many rows every row gets one invocation whatever its length: on lavapipe a workgroup
 * per row (six barriers each) was slower at every size measured, 2-25x with many rows (sums over
 * dim 1, ms, per-invocation against per-workgroup: 2048 x 784 1.4 / 5.6, 8192 x 256 1.7 / 18.7,
 * 16384 x 100 1.3 / 33.7, 128 x 1024 0.18 / 0.40).
 */
const PER_THREAD_ROWS = 128;

function reduceSource(op: string, inT: string, outT: string, perThread: boolean): string {
  const isArg = op === 'argmax' || op === 'argmin';
  const cmpOp = op === 'max' || op === 'argmax' ? '>' : '<';
  const init = { sum: 'T(0)', prod: 'T(1)', max: 'lowest()', min: 'highest()', argmax: 'lowest()', argmin: 'highest()' }[op];
  const isF = inT === 'f32';
  const nanCheck = isF ? 'isnan(v)' : 'false';
  const combine = op === 'sum' ? 'acc = acc + v;' : op === 'prod' ? 'acc = acc * v;' : `if (${nanCheck} || v ${cmpOp} acc) { acc = v; }`;
  const better = isF ? `(isnan(v) && !isnan(acc)) || (!isnan(acc) && (v ${cmpOp} acc || (v == acc && vi < ai)))` : `v ${cmpOp} acc || (v == acc && vi < ai)`;
  const step = isArg ? `let vi = k; if (ai == 0xffffffffu || (${better})) { acc = v; ai = k; }` : combine;
  const header = `
@group(0) @binding(0) var<storage, read> X: array<${inT}>;
@group(0) @binding(1) var<storage, read_write> O: array<${outT}>;
@group(0) @binding(2) var<storage, read> M: array<u32>;
alias T = ${inT};
${WGSL_PRELUDE}
fn lowest() -> T { ${isF ? 'return -inf_();' : inT === 'i32' ? 'return T(-2147483647 - 1);' : 'return 0u;'} }
fn highest() -> T { ${isF ? 'return inf_();' : inT === 'i32' ? 'return T(2147483647);' : 'return 0xffffffffu;'} }`;
  if (perThread) {
    return `${header}
@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let row = gid.x + gid.y * nwg.x * 64u;
  if (row >= M[0]) { return; }
  let K = M[1];
  let sk = M[5];
  let base = M[2] + row * M[4];
  var acc = ${init};
  var ai = 0xffffffffu;
  for (var k = 0u; k < K; k++) {
    let v = X[base + k * sk];
    ${step}
  }
  ${isArg ? 'O[M[3] + row] = select(ai, 0u, ai == 0xffffffffu);' : `O[M[3] + row] = ${outT}(acc);`}
}`;
  }
  return `${header}
var<workgroup> sv: array<T, 64>;
var<workgroup> si: array<u32, 64>;
@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32, @builtin(num_workgroups) nwg: vec3<u32>) {
  let row = wid.x + wid.y * nwg.x;
  let rows = M[0];
  let K = M[1];
  let sk = M[5];
  let base = M[2] + row * M[4];
  var acc = ${init};
  var ai = 0xffffffffu;
  if (row < rows) {
    for (var k = lid; k < K; k += 64u) {
      let v = X[base + k * sk];
      ${step}
    }
  }
  sv[lid] = acc;
  si[lid] = ai;
  workgroupBarrier();
  for (var s = 32u; s > 0u; s = s >> 1u) {
    if (lid < s) {
      let v = sv[lid + s];
      ${isArg ? `let vi = si[lid + s]; let acc = sv[lid]; let ai = si[lid]; if (vi != 0xffffffffu && (ai == 0xffffffffu || (${better}))) { sv[lid] = v; si[lid] = vi; }` : `var acc = sv[lid]; ${combine} sv[lid] = acc;`}
    }
    workgroupBarrier();
  }
  if (lid == 0u && row < rows) {
    ${isArg ? 'O[M[3] + row] = select(si[0], 0u, si[0] == 0xffffffffu);' : `O[M[3] + row] = ${outT}(sv[0]);`}
  }
}`;
}

/**
 * First pass of a long-row reduction (sum, prod, max, min over few rows): each row is cut into
 * chunks of CHUNK elements, one 64-thread workgroup per chunk reading vec4s, so both the CPU
 * threads of a software driver (and the cores of a GPU) share one row. The partial results [rows,
 * chunks] then go through the row kernel.
 * M: rows, cols, x offset (a multiple of 4), chunks per row.
 */
const CHUNK = 16384;

function partialSource(op: string, t: string): string {
  const init = { sum: `${t}(0)`, prod: `${t}(1)`, max: 'lowest()', min: 'highest()' }[op]!;
  const isF = t === 'f32';
  const combine = (a: string, b: string) => (op === 'sum' ? `${a} + ${b}` : op === 'prod' ? `${a} * ${b}` : `pick(${a}, ${b})`);
  const cmp = op === 'max' ? '>' : '<';
  return /* wgsl */ `
@group(0) @binding(0) var<storage, read> X: array<vec4<${t}>>;
@group(0) @binding(1) var<storage, read_write> O: array<${t}>;
@group(0) @binding(2) var<storage, read> M: array<u32>;
alias T = ${t};
${WGSL_PRELUDE}
fn lowest() -> T { ${isF ? 'return -inf_();' : t === 'i32' ? 'return T(-2147483647 - 1);' : 'return 0u;'} }
fn highest() -> T { ${isF ? 'return inf_();' : t === 'i32' ? 'return T(2147483647);' : 'return 0xffffffffu;'} }
// NaN wins, as in the row kernel
fn pick(a: T, b: T) -> T { ${isF ? `if (isnan(a)) { return a; } if (isnan(b)) { return b; }` : ''} return select(a, b, b ${cmp} a); }
var<workgroup> sv: array<T, 64>;
@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let chunks = M[3];
  let row = wid.y;
  let chunk = wid.x;
  let cols4 = M[1] / 4u;
  let start = chunk * ${CHUNK / 4}u;
  let end = min(start + ${CHUNK / 4}u, cols4);
  let base = M[2] / 4u + row * cols4;
  var acc = ${init};
  for (var k = start + lid; k < end; k += 64u) {
    let v = X[base + k];
    acc = ${combine(combine(combine(combine('acc', 'v.x'), 'v.y'), 'v.z'), 'v.w')};
  }
  sv[lid] = acc;
  workgroupBarrier();
  for (var s = 32u; s > 0u; s = s >> 1u) {
    if (lid < s) { sv[lid] = ${combine('sv[lid]', 'sv[lid + s]')}; }
    workgroupBarrier();
  }
  if (lid == 0u) { O[row * chunks + chunk] = sv[0]; }
}`;
}

registerWebGPUKernel('reduce', (gpu, [x], [out], { op, rows, cols, split }) => {
  const isArg = op === 'argmax' || op === 'argmin';
  const inT = wgslType(x.dtype);
  const rowStride = flatStride(x.shape, x.strides, 0, split as number);
  const colStride = flatStride(x.shape, x.strides, split as number);
  if (rowStride === null || colStride === null) throw new Error(`webgpu reduce: expected rows and columns with one stride each, received strides [${x.strides.join(', ')}] for shape [${x.shape.join(', ')}]`);
  const chunks = Math.ceil((cols as number) / CHUNK);
  if (!isArg && chunks >= 4 && (rows as number) <= 65535 && x.offset % 4 === 0 && (cols as number) % 4 === 0 && colStride === 1 && (rows === 1 || rowStride === cols)) {
    // Two passes: vec4 chunks in parallel, then the row kernel over [rows, chunks] partials.
    const partial = gpu.allocate(x.dtype, rows * chunks);
    const pView = { storage: partial, shape: [rows, chunks], strides: [chunks, 1], offset: 0, dtype: x.dtype };
    gpu.dispatch({ code: partialSource(op, inT), buffers: [buf(x), partial.buffer], meta: new Uint32Array([rows, cols, x.offset, chunks]), workgroups: [chunks, rows] });
    rowReduce(gpu, op, pView, out, rows, chunks, chunks, 1);
    gpu.free(partial);
    return;
  }
  rowReduce(gpu, op, x, out, rows, cols, rowStride, colStride);
});

function rowReduce(gpu: WebGPUBackend, op: string, x: TensorSpec, out: TensorSpec, rows: number, cols: number, rowStride: number, colStride: number): void {
  const isArg = op === 'argmax' || op === 'argmin';
  // (Columns of a matrix read this way are contiguous across invocations at each step.)
  const perThread = cols <= SHORT_ROW || rows >= PER_THREAD_ROWS;
  const code = reduceSource(op, wgslType(x.dtype), isArg ? 'u32' : wgslType(out.dtype), perThread);
  const meta = new Uint32Array([rows, cols, x.offset, out.offset, rowStride, colStride]);
  if (perThread) gpu.dispatch({ code, buffers: [buf(x), buf(out)], meta, threads: rows });
  else gpu.dispatch({ code, buffers: [buf(x), buf(out)], meta, workgroups: [Math.min(rows, 65535), Math.ceil(rows / 65535)] });
}

registerWebGPUKernel('scan', (gpu, [x], [out], { op, rows, cols }) => {
  const t = wgslType(x.dtype);
  const code = `
@group(0) @binding(0) var<storage, read> X: array<${t}>;
@group(0) @binding(1) var<storage, read_write> O: array<${t}>;
@group(0) @binding(2) var<storage, read> M: array<u32>;
@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let r = gid.x + gid.y * nwg.x * 64u;
  if (r >= M[0]) { return; }
  let K = M[1];
  var acc = ${t}(${op === 'sum' ? 0 : 1});
  for (var k = 0u; k < K; k++) {
    acc = acc ${op === 'sum' ? '+' : '*'} X[M[2] + r * K + k];
    O[M[3] + r * K + k] = acc;
  }
}`;
  gpu.dispatch({ code, buffers: [buf(x), buf(out)], meta: new Uint32Array([rows, cols, x.offset, out.offset]), threads: rows as number });
});
