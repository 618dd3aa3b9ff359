import { isFloat, type DType } from '../dtype.js';
import { BINARY_OPS, JS_PRELUDE, UNARY_OPS, type BinaryOpDef, type UnaryOpDef } from '../ops/optable.js';
import { coalesceDims, numel } from '../shape.js';
import { registerCpuKernel, type CpuView } from './backend.js';
import { wasmElementwise } from './wasm/elementwise.js';

/**
 * Elementwise kernels compiled from the op table: one JS function per (op, dtypes), iterating an
 * n-d strided index with the last dim as the inner loop. Inputs may be broadcast (stride 0),
 * permuted or reversed views; the output may be a strided view too (used by copy/cat/pad).
 */
type Loop = (...args: any[]) => void;
const cache = new Map<string, Loop>();

function compile(key: string, arity: number, expr: string, boolOut: boolean): Loop {
  let fn = cache.get(key);
  if (fn) return fn;
  const names = Array.from({ length: arity }, (_, i) => i);
  const value = boolOut ? `((${expr}) ? 1 : 0)` : `(${expr})`;
  const vars = ['a', 'b', 'c'];
  const src = `${JS_PRELUDE}
return function (ins, O, oo, so, shape, p0, p1) {
  const rank = shape.length;
  let n = 1; for (let d = 0; d < rank; d++) n *= shape[d];
  if (n === 0) return;
  const inner = rank ? shape[rank - 1] : 1;
  const outer = n / inner;
  ${names.map((i) => `const A${i} = ins[${i}].data, s${i} = ins[${i}].strides, i${i} = rank ? s${i}[rank - 1] : 0; let r${i} = ins[${i}].offset;`).join('\n  ')}
  const io = rank ? so[rank - 1] : 0; let ro = oo;
  const idx = new Int32Array(rank);
  for (let it = 0; it < outer; it++) {
    ${names.map((i) => `let q${i} = r${i};`).join(' ')} let qo = ro;
    for (let j = 0; j < inner; j++) {
      ${names.map((i) => `const ${vars[i]} = A${i}[q${i}]; q${i} += i${i};`).join(' ')}
      O[qo] = ${value}; qo += io;
    }
    for (let d = rank - 2; d >= 0; d--) {
      idx[d]++; ${names.map((i) => `r${i} += s${i}[d];`).join(' ')} ro += so[d];
      if (idx[d] < shape[d]) break;
      ${names.map((i) => `r${i} -= s${i}[d] * shape[d];`).join(' ')} ro -= so[d] * shape[d];
      idx[d] = 0;
    }
  }
};`;
  fn = new Function(src)() as Loop;
  cache.set(key, fn);
  return fn;
}

function run(fn: Loop, ins: CpuView[], out: CpuView, p0 = 0, p1 = 0) {
  if (numel(out.shape) === 0) return;
  // merged dims make the inner loop long (a contiguous [64, 32, 28, 28] runs as one dim, not 28-element rows)
  const { shape, strides } = coalesceDims([...ins, out], out.shape);
  const views = ins.map((v, i) => ({ data: v.data, offset: v.offset, strides: strides[i] }));
  fn(views, out.data, out.offset, strides[ins.length], shape, p0, p1);
}

function exprFor(def: UnaryOpDef | BinaryOpDef, dtype: DType): string {
  return !isFloat(dtype) && def.jsInt !== undefined ? def.jsInt : def.js;
}

registerCpuKernel('unary', ([a], [out], { op, p0, p1 }) => {
  if (a.dtype === 'float32' && wasmElementwise(op as string, [a], out, p0 as number, p1 as number)) return;
  const def: UnaryOpDef = UNARY_OPS[op as keyof typeof UNARY_OPS];
  const expr = exprFor(def, a.dtype);
  run(compile(`u:${op}:${a.dtype}:${out.dtype}`, 1, expr, out.dtype === 'bool'), [a], out, p0, p1);
});

registerCpuKernel('cast', ([a], [out]) => {
  if (a.dtype === 'float32' && wasmElementwise('copy', [a], out)) return;
  const expr = out.dtype === 'bool' ? 'a !== 0' : isFloat(out.dtype) || isFloat(a.dtype) === false ? 'a' : 'Math.trunc(a)';
  run(compile(`cast:${a.dtype}:${out.dtype}`, 1, expr, out.dtype === 'bool'), [a], out);
});

registerCpuKernel('binary', ([a, b], [out], { op }) => {
  if (a.dtype === 'float32' && b.dtype === 'float32' && wasmElementwise(op as string, [a, b], out)) return;
  const def: BinaryOpDef = BINARY_OPS[op as keyof typeof BINARY_OPS];
  const expr = exprFor(def, a.dtype);
  run(compile(`b:${op}:${a.dtype}:${out.dtype}`, 2, expr, out.dtype === 'bool'), [a, b], out);
});

registerCpuKernel('where', ([c, a, b], [out]) => {
  run(compile(`where:${out.dtype}`, 3, 'a ? b : c', out.dtype === 'bool'), [c, a, b], out);
});

registerCpuKernel('fill', (_inputs, [out], { value }) => {
  run(compile(`fill:${out.dtype}`, 0, 'p0', out.dtype === 'bool'), [], out, value as number);
});
