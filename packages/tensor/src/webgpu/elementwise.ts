import type { TensorSpec } from '../backend.js';
import { isFloat, type DType } from '../dtype.js';
import { BINARY_OPS, UNARY_OPS, type BinaryOpDef, type UnaryOpDef } from '../ops/optable.js';
import { isContiguous, numel } from '../shape.js';
import { MAIN, WGSL_PRELUDE } from './prelude.js';
import { buf, registerWebGPUKernel, wgslType, type WebGPUBackend } from './backend.js';

/**
 * Elementwise kernels generated from the op table. Every operand and the output are strided views
 * described in a metadata buffer, so broadcasting, permuted and reversed inputs and strided
 * outputs (copy into a slice) need no extra copies:
 *   M[0] n, M[1] rank, M[2] p0 bits, M[3] p1 bits, M[4] all-contiguous flag, M[5..13) shape,
 *   then per operand (inputs, then output) a block of 9: offset, strides[8].
 */
export const MAX_RANK = 8;
const BLOCK = 13;

function meta(ins: readonly TensorSpec[], out: TensorSpec, p0 = 0, p1 = 0, intParams = false): Uint32Array {
  const views = [...ins, out];
  const m = new Uint32Array(BLOCK + 9 * views.length);
  const i32 = new Int32Array(m.buffer);
  const f32 = new Float32Array(m.buffer);
  const rank = out.shape.length;
  if (rank > MAX_RANK) throw new RangeError(`webgpu: tensors of rank ${rank} exceed the supported ${MAX_RANK} dimensions`);
  m[0] = numel(out.shape);
  m[1] = rank;
  if (intParams) {
    i32[2] = p0;
    i32[3] = p1;
  } else {
    f32[2] = p0;
    f32[3] = p1;
  }
  const contiguous = views.every((v) => v.shape.length === rank && v.shape.every((d, k) => d === out.shape[k]) && isContiguous(v.shape, v.strides));
  m[4] = contiguous ? 1 : 0;
  for (let d = 0; d < rank; d++) m[5 + d] = out.shape[d];
  views.forEach((v, k) => {
    i32[BLOCK + 9 * k] = v.offset;
    for (let d = 0; d < rank; d++) i32[BLOCK + 9 * k + 1 + d] = v.strides[d];
  });
  return m;
}

function source(ins: DType[], out: DType, ct: string, expr: string, result: 'value' | 'bool'): string {
  const decls = ins.map((d, k) => `@group(0) @binding(${k}) var<storage, read> A${k}: array<${wgslType(d)}>;`);
  const nOut = ins.length;
  const names = ['a', 'b', 'c'];
  const offs = [...ins.map((_, k) => `o${k}`), 'oo'];
  const outT = wgslType(out);
  const store = result === 'bool' ? `select(0u, 1u, ${expr})` : out === 'bool' ? `select(0u, 1u, (${expr}) != T(0))` : `${outT}(${expr})`;
  return `${decls.join('\n')}
@group(0) @binding(${nOut}) var<storage, read_write> O: array<${outT}>;
@group(0) @binding(${nOut + 1}) var<storage, read> M: array<u32>;
alias T = ${ct};
${WGSL_PRELUDE}
${MAIN}
  if (i >= M[0]) { return; }
  let p0 = bitcast<f32>(M[2]);
  let p1 = bitcast<f32>(M[3]);
  ${offs.map((o, k) => `var ${o} = bitcast<i32>(M[${BLOCK + 9 * k}]);`).join(' ')}
  if (M[4] == 1u) {
    ${offs.map((o) => `${o} += i32(i);`).join(' ')}
  } else {
    var rem = i;
    for (var d = i32(M[1]) - 1; d >= 0; d--) {
      let sz = M[5 + d];
      let c = i32(rem % sz);
      rem = rem / sz;
      ${offs.map((o, k) => `${o} += c * bitcast<i32>(M[${BLOCK + 9 * k + 1} + u32(d)]);`).join(' ')}
    }
  }
  ${ins.map((_, k) => `let ${names[k]} = T(A${k}[o${k}]);`).join(' ')}
  O[oo] = ${store};
}`;
}

const exprFor = (def: UnaryOpDef | BinaryOpDef, dtype: DType) => (!isFloat(dtype) && def.wgslInt !== undefined ? def.wgslInt : def.wgsl);

registerWebGPUKernel('unary', (gpu: WebGPUBackend, [a], [out], { op, p0, p1 }) => {
  const def: UnaryOpDef = UNARY_OPS[op as keyof typeof UNARY_OPS];
  const ct = def.kind === 'float' ? 'f32' : wgslType(a.dtype);
  const expr = exprFor(def, def.kind === 'float' ? 'float32' : a.dtype);
  const code = source([a.dtype], out.dtype, ct, expr, def.kind === 'pred' ? 'bool' : 'value');
  gpu.dispatch({ code, buffers: [buf(a), buf(out)], meta: meta([a], out, p0, p1), threads: numel(out.shape) });
});

registerWebGPUKernel('cast', (gpu, [a], [out]) => {
  const ct = out.dtype === 'bool' ? wgslType(a.dtype) : wgslType(out.dtype);
  const truth = a.dtype === 'float32' ? 'truthy(a)' : 'a != T(0)';
  const code = source([a.dtype], out.dtype, ct, out.dtype === 'bool' ? truth : 'a', out.dtype === 'bool' ? 'bool' : 'value');
  gpu.dispatch({ code, buffers: [buf(a), buf(out)], meta: meta([a], out), threads: numel(out.shape) });
});

registerWebGPUKernel('binary', (gpu, [a, b], [out], { op }) => {
  const def: BinaryOpDef = BINARY_OPS[op as keyof typeof BINARY_OPS];
  const boolResult = def.kind === 'cmp' || def.kind === 'logical';
  const code = source([a.dtype, b.dtype], out.dtype, wgslType(a.dtype), exprFor(def, a.dtype), boolResult ? 'bool' : 'value');
  gpu.dispatch({ code, buffers: [buf(a), buf(b), buf(out)], meta: meta([a, b], out), threads: numel(out.shape) });
});

registerWebGPUKernel('where', (gpu, [c, a, b], [out]) => {
  const code = source(['bool', a.dtype, b.dtype], out.dtype, wgslType(out.dtype), 'select(c, b, a != T(0))', 'value');
  gpu.dispatch({ code, buffers: [buf(c), buf(a), buf(b), buf(out)], meta: meta([c, a, b], out), threads: numel(out.shape) });
});

registerWebGPUKernel('fill', (gpu, _inputs, [out], { value }) => {
  const m = meta([], out);
  const bits = new DataView(m.buffer);
  if (out.dtype === 'float32') bits.setFloat32(8, value, true);
  else if (out.dtype === 'int32') bits.setInt32(8, value, true);
  else bits.setUint32(8, out.dtype === 'bool' ? (value ? 1 : 0) : value, true);
  const code = source([], out.dtype, wgslType(out.dtype), `bitcast<${wgslType(out.dtype)}>(M[2])`, 'value');
  gpu.dispatch({ code, buffers: [buf(out)], meta: m, threads: numel(out.shape) });
});
