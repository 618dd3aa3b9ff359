import { buf, registerWebGPUKernel, wgslType } from './backend.js';
import { WGSL_PRELUDE } from './prelude.js';

/**
 * Row reductions over a contiguous [M, K] input. Long rows (K > SHORT_ROW) get one 64-thread
 * workgroup per row: strided partial results, then a tree in workgroup memory (rows wrap into the
 * y dimension past 65,535). Short rows get one invocation per row with a serial loop, which on
 * many small rows is far cheaper than a workgroup and six barriers each.
 * Index ties keep the smaller index, so argmax/argmin return the first extreme like PyTorch.
 */
const SHORT_ROW = 64;

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
  let base = M[2] + row * K;
  var acc = ${init};
  var ai = 0xffffffffu;
  for (var k = 0u; k < K; k++) {
    let v = X[base + k];
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
  let base = M[2] + row * K;
  var acc = ${init};
  var ai = 0xffffffffu;
  if (row < rows) {
    for (var k = lid; k < K; k += 64u) {
      let v = X[base + k];
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

registerWebGPUKernel('reduce', (gpu, [x], [out], { op, rows, cols }) => {
  const isArg = op === 'argmax' || op === 'argmin';
  const perThread = (cols as number) <= SHORT_ROW;
  const code = reduceSource(op, wgslType(x.dtype), isArg ? 'u32' : wgslType(out.dtype), perThread);
  const meta = new Uint32Array([rows, cols, x.offset, out.offset]);
  const groups = rows as number;
  if (perThread) gpu.dispatch({ code, buffers: [buf(x), buf(out)], meta, threads: groups });
  else gpu.dispatch({ code, buffers: [buf(x), buf(out)], meta, workgroups: [Math.min(groups, 65535), Math.ceil(groups / 65535)] });
});

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

/** Tiled batched matmul: 16x16 output tiles per workgroup, K in steps of 16 through workgroup memory. */
registerWebGPUKernel('matmul', (gpu, [a, b], [out], { batch, m, n, k }) => {
  const t = wgslType(out.dtype);
  const code = `
@group(0) @binding(0) var<storage, read> A: array<${t}>;
@group(0) @binding(1) var<storage, read> B: array<${t}>;
@group(0) @binding(2) var<storage, read_write> C: array<${t}>;
@group(0) @binding(3) var<storage, read> M: array<i32>;
var<workgroup> ta: array<array<${t}, 16>, 16>;
var<workgroup> tb: array<array<${t}, 16>, 16>;
@compute @workgroup_size(16, 16)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let Mr = M[0]; let N = M[1]; let K = M[2];
  let z = i32(wid.z);
  let row = i32(wid.y) * 16 + i32(lid.y);
  let col = i32(wid.x) * 16 + i32(lid.x);
  let aBase = M[3] + z * M[4];
  let bBase = M[7] + z * M[8];
  var acc = ${t}(0);
  for (var k0 = 0; k0 < K; k0 += 16) {
    let ka = k0 + i32(lid.x);
    ta[lid.y][lid.x] = select(${t}(0), A[aBase + row * M[5] + ka * M[6]], row < Mr && ka < K);
    let kb = k0 + i32(lid.y);
    tb[lid.y][lid.x] = select(${t}(0), B[bBase + kb * M[9] + col * M[10]], kb < K && col < N);
    workgroupBarrier();
    for (var q = 0; q < 16; q++) { acc = acc + ta[lid.y][q] * tb[q][lid.x]; }
    workgroupBarrier();
  }
  if (row < Mr && col < N) { C[M[11] + (z * Mr + row) * N + col] = acc; }
}`;
  const meta = new Int32Array([m, n, k, a.offset, a.strides[0], a.strides[1], a.strides[2], b.offset, b.strides[0], b.strides[1], b.strides[2], out.offset]);
  if (batch > 65535) throw new RangeError(`matmul: a batch of ${batch} exceeds the webgpu limit of 65,535`);
  gpu.dispatch({ code, buffers: [buf(a), buf(b), buf(out)], meta: new Uint32Array(meta.buffer), workgroups: [Math.ceil(n / 16), Math.ceil(m / 16), batch] });
});
