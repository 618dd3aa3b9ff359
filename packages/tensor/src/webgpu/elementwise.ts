import type { Storage, TensorSpec } from '../backend.js';
import { isFloat, type DType } from '../dtype.js';
import { BINARY_OPS, UNARY_OPS, type BinaryOpDef, type UnaryOpDef } from '../ops/optable.js';
import { coalesceDims as coalesce, numel } from '../shape.js';
import { divMagic, UDIV, WGSL_PRELUDE } from './prelude.js';
import { buf, registerWebGPUFusion, registerWebGPUKernel, wgslType, WORKGROUP, type ElementwiseFusion, type WebGPUBackend } from './backend.js';
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
 * integer division does not exist on CPUs and would run one lane at a time. A kernel evaluates
 * one op, or a chain of ops over one output shape (see ElementwiseChain).
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

function meta(p: Plan, n: number): Uint32Array {
  const r = p.shape.length;
  const m = new Uint32Array(4 + 4 * r + p.offsets.length * (1 + r));
  const i32 = new Int32Array(m.buffer);
  m[0] = n;
  m[1] = r;
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

/** Where an op's operand comes from: an input view read from memory, or an earlier op of the chain. */
type Ref = { ext: number } | { node: number };

/** One op of a generated kernel: the op table's expression, evaluated in compute type `ct`. */
interface NodeCode {
  ins: Ref[];
  ct: string;
  expr: string;
  result: 'value' | 'bool';
  out: DType;
}

/** The shape of a generated kernel: what it loads, computes and stores, and on which layout. */
interface Program {
  layout: Layout;
  rank: number;
  /** Input views; `unit`: an r4 view walking the inner dim with stride 1 (read as vec4). */
  exts: { dtype: DType; unit: boolean }[];
  nodes: NodeCode[];
  /** The ops whose values are written, one output view each. */
  stores: number[];
  partialTail: boolean;
  per: number;
}

const LANES = ['x', 'y', 'z', 'w'];

/**
 * Kernel source for a chain of elementwise ops over one output shape: each invocation loads its
 * elements of every input view, evaluates the ops in order (earlier results stay in registers)
 * and writes the stored results. One op is the chain of length one.
 *
 * Meta: M[0] n (elements, or vec4 groups), M[1] rank, then per dim (outermost first) 4 words:
 * size, magic, shift1, shift2; then per view (inputs, then outputs) an offset and one stride per
 * dim; then two parameter words per op (p0 and p1 as f32 bits; a fill's raw bits in the first).
 */
function source(p: Program): string {
  const { layout, rank, exts, nodes, stores, partialTail, per } = p;
  const vec = layout === 'c4' || layout === 'r4';
  const contiguous = layout === 'c4' || layout === 'c1';
  const views = exts.length + stores.length;
  const block = (k: number) => 4 + 4 * rank + k * (1 + rank);
  const paramBase = block(views);
  const vname = (r: Ref) => ('ext' in r ? `e${r.ext}` : `v${r.node}`);
  const argNames = ['a', 'b', 'c'];
  const fns = nodes.map((n, j) => {
    const outT = wgslType(n.out);
    const sub = (x: string) => x.replace(/\bT\b/g, n.ct);
    const value = n.result === 'bool' ? `select(0u, 1u, ${n.expr})` : n.out === 'bool' ? `select(0u, 1u, (${n.expr}) != T(0))` : `${outT}(${n.expr})`;
    const args = [...n.ins.map((_, k) => `${argNames[k]}: ${n.ct}`), 'q0: u32', 'q1: u32'].join(', ');
    return `fn op${j}(${args}) -> ${outT} { let p0 = bitcast<f32>(q0); let p1 = bitcast<f32>(q1); return ${sub(value)}; }`;
  });
  const decls = [
    ...exts.map((e, k) => `@group(0) @binding(${k}) var<storage, read> A${k}: array<${vec && !(layout === 'r4' && !e.unit) ? `vec4<${wgslType(e.dtype)}>` : wgslType(e.dtype)}>;`),
    ...stores.map((j, s) => `@group(0) @binding(${exts.length + s}) var<storage, read_write> O${s}: array<${vec ? `vec4<${wgslType(nodes[j].out)}>` : wgslType(nodes[j].out)}>;`),
    `@group(0) @binding(${views}) var<storage, read> M: array<u32>;`,
  ];
  const count = layout === 'c4' ? '(M[0] + 3u) / 4u' : 'M[0]';
  const idx = Array.from({ length: views }, (_, k) => k);
  let offsets: string;
  if (contiguous) {
    offsets = idx.map((k) => `let o${k} = base${k} + i32(i);`).join(' ');
  } else {
    // Walk the dims innermost first, dividing with the per-dim magic numbers.
    offsets = `${idx.map((k) => `var o${k} = bitcast<i32>(M[${block(k)}u]);`).join(' ')}
  var rem = i;
  for (var d = ${rank - 1}; d >= 0; d--) {
    let q = udiv(rem, M[4u + 4u * u32(d) + 1u], M[4u + 4u * u32(d) + 2u], M[4u + 4u * u32(d) + 3u]);
    let c = i32(rem - q * M[4u + 4u * u32(d)]);
    rem = q;
    ${idx.map((k) => `o${k} += c * bitcast<i32>(M[${block(k)}u + 1u + u32(d)]);`).join(' ')}
  }`;
  }
  // r4: o is the element offset of the first of 4; a stride-1 view is read as vec4 at o / 4, a
  // broadcast one (stride 0) as its scalar.
  const loads = exts.map((e, k) => (layout === 'r4' ? (e.unit ? `let e${k} = A${k}[o${k} / 4];` : `let e${k} = vec4<${wgslType(e.dtype)}>(A${k}[o${k}]);`) : `let e${k} = A${k}[o${k}];`));
  const evals = nodes.map((n, j) => {
    const q = `q${j}a, q${j}b`;
    if (!vec) return `let v${j} = op${j}(${[...n.ins.map((r) => `${n.ct}(${vname(r)})`), q].join(', ')});`;
    const lane = (l: string) => `op${j}(${[...n.ins.map((r) => `${n.ct}(${vname(r)}.${l})`), q].join(', ')})`;
    return `let v${j} = ${n.ins.length ? `vec4<${wgslType(n.out)}>(${LANES.map(lane).join(', ')})` : `vec4<${wgslType(n.out)}>(${lane('x')})`};`;
  });
  const writes = stores.map((j, s) => {
    const k = exts.length + s;
    if (!vec) return `O${s}[o${k}] = v${j};`;
    const at = layout === 'r4' ? `o${k} / 4` : `o${k}`;
    // The last group of a contiguous run may be partial: write only its elements (unless the
    // run ends its storage, whose buffer is padded to 16 bytes).
    if (!partialTail) return `O${s}[${at}] = v${j};`;
    return `if (left >= 4u) { O${s}[${at}] = v${j}; } else { ${LANES.slice(0, 3).map((l, m) => `if (left > ${m}u) { O${s}[${at}].${l} = v${j}.${l}; }`).join(' ')} }`;
  });
  const params = nodes.map((_, j) => `let q${j}a = M[${paramBase + 2 * j}u]; let q${j}b = M[${paramBase + 2 * j + 1}u];`).join(' ');
  const bases = contiguous ? idx.map((k) => `let base${k} = bitcast<i32>(M[${block(k)}u])${vec ? ' / 4' : ''};`).join(' ') : '';
  // `per` groups i0, i0 + T, ... per invocation (T the invocation count: neighbouring invocations
  // stay on neighbouring addresses).
  const loopOpen = per > 1 ? `let stride = nwg.x * nwg.y * ${WORKGROUP}u;\n  for (var rep = 0u; rep < ${per}u; rep++) {\n  let i = i0 + rep * stride;\n  if (i >= ${count}) { return; }` : 'let i = i0;';
  return `${decls.join('\n')}
${WGSL_PRELUDE}
${UDIV}
${fns.join('\n')}
@compute @workgroup_size(${WORKGROUP})
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i0 = gid.x + gid.y * nwg.x * ${WORKGROUP}u;
  if (i0 >= ${count}) { return; }
  ${params}
  ${bases}
  ${loopOpen}
  ${offsets}
  ${partialTail ? 'let left = M[0] - i * 4u;' : ''}
  ${loads.join('\n  ')}
  ${evals.join('\n  ')}
  ${writes.join('\n  ')}
  ${per > 1 ? '}' : ''}
}`;
}

/**
 * Large jobs do this many groups (vec4 or single elements) per invocation: a software driver pays
 * per invocation, and on lavapipe 4 groups each runs 1M-element adds in about two thirds of the
 * time. Jobs of fewer groups keep one per invocation, so a GPU still gets enough invocations.
 */
const GROUPS_PER_INVOCATION = 4;
const GROUPS_PER_INVOCATION_MIN = 1 << 16;

/** Fills up to this many elements are written through the queue instead of dispatched. */
const QUEUE_FILL_MAX = 1 << 14;

const exprFor = (def: UnaryOpDef | BinaryOpDef, dtype: DType) => (!isFloat(dtype) && def.wgslInt !== undefined ? def.wgslInt : def.wgsl);

const f32Bits = (x: number) => new Uint32Array(Float32Array.of(x).buffer)[0];

/** One elementwise op as the kernels receive it, with its expression from the op table. */
interface EwOp {
  /** Kernel name (for the profiler) and op name (for fused kernels' labels). */
  kernel: string;
  label: string;
  ins: readonly TensorSpec[];
  out: TensorSpec;
  ct: string;
  expr: string;
  result: 'value' | 'bool';
  /** The two parameter words. */
  params: [number, number];
}

function describe(kernel: string, ins: readonly TensorSpec[], out: TensorSpec, params: Record<string, unknown>): EwOp | null {
  const base = { kernel, ins, out, params: [0, 0] as [number, number] };
  switch (kernel) {
    case 'unary': {
      const def: UnaryOpDef = UNARY_OPS[params.op as keyof typeof UNARY_OPS];
      const ct = def.kind === 'float' ? 'f32' : wgslType(ins[0].dtype);
      return { ...base, label: String(params.op), ct, expr: exprFor(def, def.kind === 'float' ? 'float32' : ins[0].dtype), result: def.kind === 'pred' ? 'bool' : 'value', params: [f32Bits(Number(params.p0 ?? 0)), f32Bits(Number(params.p1 ?? 0))] };
    }
    case 'cast': {
      const ct = out.dtype === 'bool' ? wgslType(ins[0].dtype) : wgslType(out.dtype);
      const truth = ins[0].dtype === 'float32' ? 'truthy(a)' : 'a != T(0)';
      return { ...base, label: 'cast', ct, expr: out.dtype === 'bool' ? truth : 'a', result: out.dtype === 'bool' ? 'bool' : 'value' };
    }
    case 'binary': {
      const def: BinaryOpDef = BINARY_OPS[params.op as keyof typeof BINARY_OPS];
      const boolResult = def.kind === 'cmp' || def.kind === 'logical';
      return { ...base, label: String(params.op), ct: wgslType(ins[0].dtype), expr: exprFor(def, ins[0].dtype), result: boolResult ? 'bool' : 'value' };
    }
    case 'where':
      return { ...base, label: 'where', ct: wgslType(out.dtype), expr: 'select(c, b, a != T(0))', result: 'value' };
    case 'fill': {
      const value = Number(params.value);
      const bits = new DataView(new ArrayBuffer(4));
      if (out.dtype === 'float32') bits.setFloat32(0, value, true);
      else if (out.dtype === 'int32') bits.setInt32(0, value, true);
      else bits.setUint32(0, out.dtype === 'bool' ? (value ? 1 : 0) : value, true);
      const t = wgslType(out.dtype);
      return { ...base, label: 'fill', ct: t, expr: `bitcast<${t}>(q0)`, result: 'value', params: [bits.getUint32(0, true), 0] };
    }
    default:
      return null;
  }
}

const snapshot = (t: TensorSpec): TensorSpec => ({ storage: t.storage, shape: [...t.shape], strides: [...t.strides], offset: t.offset, dtype: t.dtype });
const sameView = (a: TensorSpec, b: TensorSpec) => a.storage === b.storage && a.offset === b.offset && a.shape.length === b.shape.length && a.shape.every((d, i) => d === b.shape[i] && a.strides[i] === b.strides[i]);
const sameShape = (a: readonly number[], b: readonly number[]) => a.length === b.length && a.every((d, i) => d === b[i]);

const programs = new Map<string, string>();

/**
 * Plans, generates (cached) and dispatches one kernel for `ops` (all of one output shape; an op
 * reads earlier ops' results when its operand is exactly that op's output view). Only the ops in
 * `stored` are written.
 */
function emit(gpu: WebGPUBackend, ops: readonly EwOp[], stored: readonly boolean[]): void {
  const shape = ops[0].out.shape;
  const n = numel(shape);
  const exts: TensorSpec[] = [];
  const refs = ops.map((op, j) =>
    op.ins.map((t): Ref => {
      for (let q = j - 1; q >= 0; q--) if (sameView(ops[q].out, t)) return { node: q };
      let k = exts.findIndex((e) => sameView(e, t));
      if (k < 0) k = exts.push(t) - 1;
      return { ext: k };
    }),
  );
  const stores = ops.flatMap((_, j) => (stored[j] ? [j] : []));
  const outs = stores.map((j) => ops[j].out);
  const p = plan([...exts, ...outs], shape);
  const r = p.shape.length;
  const groups = p.layout === 'c4' ? Math.ceil(n / 4) : p.layout === 'r4' ? n / 4 : n;
  const per = groups >= GROUPS_PER_INVOCATION_MIN ? GROUPS_PER_INVOCATION : 1;
  const prog: Program = {
    layout: p.layout,
    rank: r,
    exts: exts.map((t, k) => ({ dtype: t.dtype, unit: p.layout === 'r4' && p.strides[k][r - 1] === 1 })),
    nodes: ops.map((op, j) => ({ ins: refs[j], ct: op.ct, expr: op.expr, result: op.result, out: op.out.dtype })),
    stores,
    partialTail: p.layout === 'c4' && n % 4 !== 0 && outs.some((o) => o.offset + n !== o.storage.size),
    per,
  };
  const key = `${prog.layout}|${r}|${prog.partialTail}|${per}|${prog.exts.map((e) => `${e.dtype}${e.unit ? '+' : ''}`).join(',')}|${stores.join(',')}|${prog.nodes.map((q) => `${q.ins.map((x) => ('ext' in x ? `e${x.ext}` : `v${x.node}`)).join(',')};${q.ct};${q.result};${q.out};${q.expr}`).join('|')}`;
  let code = programs.get(key);
  if (!code) programs.set(key, (code = source(prog)));
  const m = meta(p, p.layout === 'r4' ? n / 4 : n);
  const full = new Uint32Array(m.length + 2 * ops.length);
  full.set(m);
  ops.forEach((op, j) => full.set(op.params, m.length + 2 * j));
  const label = ops.length === 1 ? ops[0].kernel : `fused ${ops.map((o) => o.label).join('+')}`;
  gpu.dispatch({ code, buffers: [...exts.map(buf), ...outs.map(buf)], meta: full, threads: Math.ceil(groups / per), label: gpu.profiling === 'shapes' ? `${label} ${[...exts, ...outs].map((t) => `[${t.shape.join(',')}]`).join(' ')}` : label });
}

/** Most ops one fused kernel evaluates. */
const MAX_CHAIN = 16;

/**
 * Elementwise ops recorded but not yet dispatched. Consecutive unary, binary, cast, where and fill
 * ops over the same output shape become one kernel, so a chain such as add-bias → relu, or the
 * several ops of a composite's backward, costs one dispatch and keeps intermediates in registers.
 * Outputs freed before the chain is dispatched are not written at all. The chain is dispatched
 * before any other kernel, readback or submit (see WebGPUBackend.run and flush), and an op joins
 * only when that keeps the order of reads and writes: its output storage is not touched by the
 * chain, and an operand written by the chain is exactly that op's output view.
 */
class ElementwiseChain implements ElementwiseFusion {
  private ops: EwOp[] = [];
  /** Storages the chain reads or writes, and those it writes. */
  private touched = new Set<Storage>();
  private written = new Set<Storage>();
  private freed = new Set<Storage>();
  private bindings = 0;

  get pending(): boolean {
    return this.ops.length > 0;
  }

  offer(gpu: WebGPUBackend, kernel: string, ins: readonly TensorSpec[], outs: readonly TensorSpec[], params: Record<string, unknown>): boolean {
    if (outs.length !== 1) return false;
    // The views are kept until the chain is dispatched: copy them (callers may pass tensors that
    // are disposed before then).
    const op = describe(kernel, ins.map(snapshot), snapshot(outs[0]), params);
    if (!op) return false;
    const out = op.out;
    if (numel(out.shape) === 0 || out.shape.length > MAX_RANK || ins.some((t) => t.shape.length > MAX_RANK)) return false;
    if (kernel === 'fill' && queueFill(gpu, out, op.params[0], this.touched.has(out.storage))) return true;
    let added = this.fit(gpu, op);
    if (added < 0) {
      this.drain(gpu);
      added = this.fit(gpu, op);
      if (added < 0) return false;
    }
    for (const t of ins) this.touched.add(t.storage);
    this.bindings += added;
    this.touched.add(out.storage);
    this.written.add(out.storage);
    this.ops.push(op);
    return true;
  }

  /**
   * The bindings `op` would add to the chain (its output, and each input view the chain neither
   * writes nor reads already), or -1 when it cannot join: another shape, a full chain, an output
   * storage the chain touches, an operand written by the chain through another view, or too many
   * bindings.
   */
  private fit(gpu: WebGPUBackend, op: EwOp): number {
    const chained = this.ops.length > 0;
    if (chained && (this.ops.length >= MAX_CHAIN || !sameShape(op.out.shape, this.ops[0].out.shape) || this.touched.has(op.out.storage))) return -1;
    let added = 1;
    for (const t of op.ins) {
      if (this.written.has(t.storage)) {
        if (!this.ops.some((o) => sameView(o.out, t))) return -1;
      } else if (!this.ops.some((o) => o.ins.some((u) => sameView(u, t)))) added++;
    }
    // every view and the meta buffer are bindings
    return !chained || this.bindings + added + 1 <= Math.min(gpu.device.limits.maxStorageBuffersPerShaderStage, MAX_CHAIN_BINDINGS) ? added : -1;
  }

  /** A storage was freed: a chain output nobody can read any more need not be written. */
  free(storage: Storage): void {
    if (this.written.has(storage)) this.freed.add(storage);
  }

  drain(gpu: WebGPUBackend): void {
    if (this.ops.length === 0) return;
    const ops = this.ops;
    const freed = this.freed;
    this.ops = [];
    this.touched = new Set();
    this.written = new Set();
    this.freed = new Set();
    this.bindings = 0;
    // Keep the ops whose results are stored or feed a kept op.
    const stored = ops.map((o) => !freed.has(o.out.storage));
    const keep = stored.slice();
    for (let j = ops.length - 1; j >= 0; j--) {
      if (!keep[j]) continue;
      for (const t of ops[j].ins) for (let q = j - 1; q >= 0; q--) if (sameView(ops[q].out, t)) { keep[q] = true; break; }
    }
    const kept = ops.filter((_, j) => keep[j]);
    if (kept.length) emit(gpu, kept, stored.filter((_, j) => keep[j]));
  }
}

/** Most bindings (views and meta) of a fused kernel. */
const MAX_CHAIN_BINDINGS = 10;

/** Small contiguous fills go through the queue (no dispatch) when nothing recorded uses the buffer. */
function queueFill(gpu: WebGPUBackend, out: TensorSpec, bits: number, inChain: boolean): boolean {
  const n = numel(out.shape);
  if (inChain || n > QUEUE_FILL_MAX || !['c4', 'c1'].includes(plan([out], out.shape).layout)) return false;
  return gpu.writeIfIdle(buf(out), 4 * out.offset, new Uint32Array(n).fill(bits));
}

registerWebGPUFusion(() => new ElementwiseChain());

for (const kernel of ['unary', 'cast', 'binary', 'where', 'fill']) {
  registerWebGPUKernel(kernel, (gpu, ins, [out], params) => {
    const op = describe(kernel, ins, out, params)!;
    if (numel(out.shape) === 0) return;
    if (kernel === 'fill' && queueFill(gpu, out, op.params[0], false)) return;
    emit(gpu, [op], [true]);
  });
}
