import type { TensorSpec } from '../backend.js';
import { isFloat, type DType } from '../dtype.js';
import { BINARY_OPS, UNARY_OPS, type BinaryOpDef, type UnaryOpDef } from '../ops/optable.js';
import { coalesceDims as coalesce, numel } from '../shape.js';
import { divMagic, UDIV, WGSL_PRELUDE } from './prelude.js';
import { buf, registerWebGPUKernel, wgslType, WORKGROUP, type WebGPUBackend } from './backend.js';
import './optim.js';

/**
 * Elementwise kernels generated from the op table. Every operand and the output are strided views,
 * so broadcasting, permuted and reversed inputs and strided outputs (copy into a slice) need no
 * extra copies. Dims that every view walks contiguously are merged first, then one of four
 * layouts is picked:
 *   - contiguous, vec4: every view one aligned run; each invocation does 4 elements with vec4
 *     loads and stores (a software driver pays per load, not per byte: 4 elements per load is
 *     about 3x faster on lavapipe);
 *   - rows, vec4: the innermost dim is a multiple of 4 and every view walks it with stride 1
 *     (aligned) or 0 (broadcast): 4 elements per invocation, one index decomposition for them;
 *   - contiguous and strided scalar forms for the rest.
 * Index decomposition divides by each dim's size with a multiply-shift (see prelude UDIV): vector
 * integer division does not exist on CPUs and would run one lane at a time.
 *
 * Meta: M[0] n (elements, or vec4 groups), M[1] rank, M[2] p0 bits, M[3] p1 bits, then per dim
 * (outermost first) 4 words: size, magic, shift1, shift2; then per operand (inputs, then output)
 * an offset and one stride per dim.
 */
export const MAX_RANK = 8;

type Layout = 'c4' | 'r4' | 'c1' | 's1';

interface Plan {
  layout: Layout;
  shape: number[];
  strides: number[][];
  offsets: number[];
}

function plan(views: readonly TensorSpec[], outShape: readonly number[]): Plan {
  if (outShape.length > MAX_RANK) throw new RangeError(`webgpu: tensors of rank ${outShape.length} exceed the supported ${MAX_RANK} dimensions`);
  const { shape, strides } = coalesce(views, outShape);
  const offsets = views.map((v) => v.offset);
  const r = shape.length;
  const contiguous = r <= 1 && strides.every((s) => r === 0 || s[0] === 1);
  if (contiguous) return { layout: offsets.every((o) => o % 4 === 0) ? 'c4' : 'c1', shape, strides, offsets };
  const inner = r > 0 ? shape[r - 1] : 1;
  const rowsVec = inner % 4 === 0 && views.every((_, k) => {
    const s = strides[k];
    if (s[r - 1] === 0) return true;
    return s[r - 1] === 1 && offsets[k] % 4 === 0 && s.every((x, d) => d === r - 1 || x % 4 === 0);
  });
  return { layout: rowsVec ? 'r4' : 's1', shape, strides, offsets };
}

function meta(p: Plan, n: number, p0 = 0, p1 = 0): Uint32Array {
  const r = p.shape.length;
  const m = new Uint32Array(4 + 4 * r + p.offsets.length * (1 + r));
  const i32 = new Int32Array(m.buffer);
  const f32 = new Float32Array(m.buffer);
  m[0] = n;
  m[1] = r;
  f32[2] = p0;
  f32[3] = p1;
  p.shape.forEach((size, d) => {
    // r4 walks the innermost dim in groups of 4
    const s = p.layout === 'r4' && d === r - 1 ? size / 4 : size;
    m.set([s, ...divMagic(s)], 4 + 4 * d);
  });
  p.offsets.forEach((off, k) => {
    const base = 4 + 4 * r + k * (1 + r);
    i32[base] = off;
    // r4 steps the innermost dim 4 elements at a time
    p.strides[k].forEach((s, d) => (i32[base + 1 + d] = p.layout === 'r4' && d === r - 1 ? 4 * s : s));
  });
  return m;
}

/** Kernel source for one op on one layout; `expr` reads operands a, b, c (of type T) and p0, p1. */
function source(ins: DType[], out: DType, ct: string, expr: string, result: 'value' | 'bool', layout: Layout, rank: number, unitInner: boolean[], partialTail: boolean, per: number): string {
  const vec = layout === 'c4' || layout === 'r4';
  const elem = (d: DType) => (vec ? `vec4<${wgslType(d)}>` : wgslType(d));
  const names = ['a', 'b', 'c'];
  const outT = wgslType(out);
  const value = result === 'bool' ? `select(0u, 1u, ${expr})` : out === 'bool' ? `select(0u, 1u, (${expr}) != T(0))` : `${outT}(${expr})`;
  const params = ins.map((_, k) => `${names[k]}: T`).join(', ');
  const call = (q: string) => `f(${ins.map((_, k) => `T(${names[k]}4${q})`).join(', ')})`;
  const nOut = ins.length;
  const block = (k: number) => 4 + 4 * rank + k * (1 + rank);
  let body: string;
  if (layout === 'c4' || layout === 'c1') {
    const offs = ins.map((_, k) => `let o${k} = base${k} + i32(i);`);
    body = [...offs, `let oo = base${nOut} + i32(i);`].join('\n  ');
  } else {
    // Walk the dims innermost first, dividing with the per-dim magic numbers.
    const acc = [...ins.map((_, k) => `o${k}`), 'oo'];
    body = `${acc.map((o, k) => `var ${o} = bitcast<i32>(M[${block(k)}u]);`).join(' ')}
  var rem = i;
  for (var d = ${rank - 1}; d >= 0; d--) {
    let q = udiv(rem, M[4u + 4u * u32(d) + 1u], M[4u + 4u * u32(d) + 2u], M[4u + 4u * u32(d) + 3u]);
    let c = i32(rem - q * M[4u + 4u * u32(d)]);
    rem = q;
    ${acc.map((o, k) => `${o} += c * bitcast<i32>(M[${block(k)}u + 1u + u32(d)]);`).join(' ')}
  }`;
  }
  const load = (k: number) => {
    const cvt = (x: string) => `T(${x})`;
    if (layout === 'c4') return `let ${names[k]}4 = A${k}[o${k}];`;
    // r4: o is the element offset of the first of 4; a stride-1 view is read as vec4 at o / 4, a
    // broadcast one (stride 0) as its scalar.
    if (layout === 'r4') return unitInner[k] ? `let ${names[k]}4 = A${k}[o${k} / 4];` : `let ${names[k]}4 = vec4<${wgslType(ins[k])}>(A${k}[o${k}]);`;
    return `let ${names[k]} = ${cvt(`A${k}[o${k}]`)};`;
  };
  const decls = ins.map((d, k) => {
    const t = layout === 'r4' && !unitInner[k] ? wgslType(d) : elem(d);
    return `@group(0) @binding(${k}) var<storage, read> A${k}: array<${t}>;`;
  });
  const outDecl = `@group(0) @binding(${nOut}) var<storage, read_write> O: array<${vec ? `vec4<${outT}>` : outT}>;`;
  let store: string;
  if (vec) {
    const comps = ['x', 'y', 'z', 'w'];
    const values = comps.map((q) => (ins.length ? call(`.${q}`) : 'f()'));
    const oIndex = layout === 'r4' ? 'oo / 4' : 'oo';
    // The last group of a contiguous run may be partial: write only its elements (unless the
    // run ends its storage, whose buffer is padded to 16 bytes).
    store = layout === 'c4' && partialTail
      ? `let left = M[0] - i * 4u;
  if (left >= 4u) { O[${oIndex}] = vec4<${outT}>(${values.join(', ')}); }
  else { ${comps.slice(0, 3).map((q, j) => `if (left > ${j}u) { O[${oIndex}].${q} = ${values[j]}; }`).join(' ')} }`
      : `O[${oIndex}] = vec4<${outT}>(${values.join(', ')});`;
  } else {
    store = `O[oo] = ${ins.length ? `f(${names.slice(0, ins.length).join(', ')})` : 'f()'};`;
  }
  const count = layout === 'c4' ? '(M[0] + 3u) / 4u' : 'M[0]';
  const contiguous = layout === 'c4' || layout === 'c1';
  // Contiguous layouts read each operand's offset once, then do `per` groups i0, i0 + T, ... (T the
  // invocation count: neighbouring invocations stay on neighbouring addresses).
  const bases = contiguous ? [...ins.map((_, k) => k), nOut].map((k) => `let base${k} = bitcast<i32>(M[${block(k)}u])${vec ? ' / 4' : ''};`).join(' ') : '';
  const loopOpen = per > 1 ? `let stride = nwg.x * nwg.y * ${WORKGROUP}u;\n  for (var rep = 0u; rep < ${per}u; rep++) {\n  let i = i0 + rep * stride;` : 'let i = i0;';
  return `${decls.join('\n')}
${outDecl}
@group(0) @binding(${nOut + 1}) var<storage, read> M: array<u32>;
alias T = ${ct};
${WGSL_PRELUDE}
${UDIV}
var<private> p0: f32;
var<private> p1: f32;
fn f(${params}) -> ${outT} { return ${value}; }
@compute @workgroup_size(${WORKGROUP})
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i0 = gid.x + gid.y * nwg.x * ${WORKGROUP}u;
  if (i0 >= ${count}) { return; }
  p0 = bitcast<f32>(M[2]);
  p1 = bitcast<f32>(M[3]);
  ${bases}
  ${loopOpen}
  ${per > 1 ? `if (i >= ${count}) { return; }` : ''}
  ${body}
  ${ins.map((_, k) => load(k)).join('\n  ')}
  ${store}
  ${per > 1 ? '}' : ''}
}`;
}

/**
 * Large jobs do this many groups (vec4 or single elements) per invocation: a software driver pays per
 * invocation, and on lavapipe 4 groups each runs 1M-element adds in about two thirds of the time.
 * Jobs of fewer groups keep one per invocation, so a GPU still gets enough invocations.
 */
const GROUPS_PER_INVOCATION = 4;
const GROUPS_PER_INVOCATION_MIN = 1 << 16;

/** Fills up to this many elements are written through the queue instead of dispatched. */
const QUEUE_FILL_MAX = 1 << 14;

const exprFor = (def: UnaryOpDef | BinaryOpDef, dtype: DType) => (!isFloat(dtype) && def.wgslInt !== undefined ? def.wgslInt : def.wgsl);

const sources = new Map<string, string>();

/** Plans, generates (cached) and dispatches one elementwise kernel. */
function elementwise(gpu: WebGPUBackend, ins: readonly TensorSpec[], out: TensorSpec, ct: string, expr: string, result: 'value' | 'bool', p0 = 0, p1 = 0, fillBits?: number): void {
  const n = numel(out.shape);
  if (n === 0) return;
  const p = plan([...ins, out], out.shape);
  const r = p.shape.length;
  const unitInner = ins.map((_, k) => p.layout === 'r4' && p.strides[k][r - 1] === 1);
  const partialTail = p.layout === 'c4' && n % 4 !== 0 && out.offset + n !== out.storage.size;
  const groups = p.layout === 'c4' ? Math.ceil(n / 4) : p.layout === 'r4' ? n / 4 : n;
  const per = groups >= GROUPS_PER_INVOCATION_MIN ? GROUPS_PER_INVOCATION : 1;
  const key = `${p.layout}|${r}|${unitInner.join(',')}|${partialTail}|${per}|${ins.map((t) => t.dtype).join(',')}|${out.dtype}|${ct}|${result}|${expr}`;
  let code = sources.get(key);
  if (!code) sources.set(key, (code = source(ins.map((t) => t.dtype), out.dtype, ct, expr, result, p.layout, r, unitInner, partialTail, per)));
  const m = meta(p, p.layout === 'r4' ? n / 4 : n, p0, p1);
  if (fillBits !== undefined) m[2] = fillBits;
  gpu.dispatch({ code, buffers: [...ins.map(buf), buf(out)], meta: m, threads: Math.ceil(groups / per) });
}

registerWebGPUKernel('unary', (gpu, [a], [out], { op, p0, p1 }) => {
  const def: UnaryOpDef = UNARY_OPS[op as keyof typeof UNARY_OPS];
  const ct = def.kind === 'float' ? 'f32' : wgslType(a.dtype);
  const expr = exprFor(def, def.kind === 'float' ? 'float32' : a.dtype);
  elementwise(gpu, [a], out, ct, expr, def.kind === 'pred' ? 'bool' : 'value', p0, p1);
});

registerWebGPUKernel('cast', (gpu, [a], [out]) => {
  const ct = out.dtype === 'bool' ? wgslType(a.dtype) : wgslType(out.dtype);
  const truth = a.dtype === 'float32' ? 'truthy(a)' : 'a != T(0)';
  elementwise(gpu, [a], out, ct, out.dtype === 'bool' ? truth : 'a', out.dtype === 'bool' ? 'bool' : 'value');
});

registerWebGPUKernel('binary', (gpu, [a, b], [out], { op }) => {
  const def: BinaryOpDef = BINARY_OPS[op as keyof typeof BINARY_OPS];
  const boolResult = def.kind === 'cmp' || def.kind === 'logical';
  elementwise(gpu, [a, b], out, wgslType(a.dtype), exprFor(def, a.dtype), boolResult ? 'bool' : 'value');
});

registerWebGPUKernel('where', (gpu, [c, a, b], [out]) => {
  elementwise(gpu, [c, a, b], out, wgslType(out.dtype), 'select(c, b, a != T(0))', 'value');
});

registerWebGPUKernel('fill', (gpu, _inputs, [out], { value }) => {
  const bits = new DataView(new ArrayBuffer(4));
  if (out.dtype === 'float32') bits.setFloat32(0, value, true);
  else if (out.dtype === 'int32') bits.setInt32(0, value, true);
  else bits.setUint32(0, out.dtype === 'bool' ? (value ? 1 : 0) : value, true);
  const n = numel(out.shape);
  // Small contiguous fills (scalar constants, zeroed state) go through the queue: no dispatch.
  if (n > 0 && n <= QUEUE_FILL_MAX && ['c4', 'c1'].includes(plan([out], out.shape).layout)) {
    const data = new Uint32Array(n).fill(bits.getUint32(0, true));
    if (gpu.writeIfIdle(buf(out), 4 * out.offset, data)) return;
  }
  const t = wgslType(out.dtype);
  elementwise(gpu, [], out, t, `bitcast<${t}>(M[2])`, 'value', 0, 0, bits.getUint32(0, true));
});
