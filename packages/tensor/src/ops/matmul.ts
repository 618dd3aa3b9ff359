import type { TensorSpec } from '../backend.js';
import { isFloat, promoteTypes } from '../dtype.js';
import { broadcastShapes, numel, shapeStr } from '../shape.js';
import { Tensor } from '../tensor.js';
import { tidy } from '../memory.js';
import { cast, mul } from './elementwise.js';
import { contiguous, expand, permute, reshape, squeeze, unsqueeze } from './movement.js';
import { sum } from './reduction.js';
import { checkTensor, empty, run, sameDevice } from './util.js';

/** A [B, R, C] view of an expanded [...batch, R, C] tensor, copying only if the batch dims cannot merge. */
function batched(t: Tensor, batch: number[], r: number, c: number): { spec: TensorSpec; temp?: Tensor } {
  const e = expand(t, [...batch, r, c]);
  const nb = batch.length;
  let stride = 0;
  let ok = true;
  // batch dims merge into one stride when each outer stride equals the inner stride times size
  const dims = batch.map((s, i) => ({ s, st: e.strides[i] })).filter((d) => d.s !== 1);
  for (let i = dims.length - 1; i >= 0; i--) {
    if (i === dims.length - 1) stride = dims[i].st;
    else if (dims[i].st !== dims[i + 1].st * dims[i + 1].s) ok = false;
  }
  if (ok) {
    const spec = { storage: e.storage, shape: [numel(batch), r, c], strides: [stride, e.strides[nb], e.strides[nb + 1]], offset: e.offset, dtype: e.dtype };
    e.dispose();
    return { spec };
  }
  const copy = contiguous(e, true);
  e.dispose();
  return { spec: { storage: copy.storage, shape: [numel(batch), r, c], strides: [r * c, c, 1], offset: 0, dtype: copy.dtype }, temp: copy };
}

/** Matrix product with PyTorch's rules: 1-d operands, batching and batch broadcasting. */
export function matmul(a: Tensor, b: Tensor): Tensor {
  checkTensor('matmul', a, 'first operand');
  checkTensor('matmul', b, 'second operand');
  sameDevice('matmul', a, b);
  if (a.rank === 0 || b.rank === 0) throw new RangeError(`matmul: both operands need at least one dim, received ${shapeStr(a.shape)} and ${shapeStr(b.shape)}`);
  if (!isFloat(a.dtype) || !isFloat(b.dtype)) throw new TypeError(`matmul: expected float tensors, received ${a.dtype} and ${b.dtype}`);
  const dtype = promoteTypes(a.dtype, b.dtype);
  return tidy(() => {
    const A = a.dtype === dtype ? a : cast(a, dtype);
    const B = b.dtype === dtype ? b : cast(b, dtype);
    const A2 = A.rank === 1 ? unsqueeze(A, 0) : A;
    const B2 = B.rank === 1 ? unsqueeze(B, 1) : B;
    const [m, k] = A2.shape.slice(-2);
    const [k2, n] = B2.shape.slice(-2);
    if (k !== k2) throw new RangeError(`matmul: inner dims differ: ${shapeStr(a.shape)} @ ${shapeStr(b.shape)} (${k} vs ${k2})`);
    const batch = broadcastShapes('matmul', A2.shape.slice(0, -2), B2.shape.slice(0, -2));
    const out = empty([...batch, m, n], dtype, a.device, 'matmul');
    if (out.size > 0) {
      const sa = batched(A2, batch, m, k);
      const sb = batched(B2, batch, k, n);
      if (k === 0) run('fill', [], [out], { value: 0 });
      else run('matmul', [sa.spec, sb.spec], [out], { batch: numel(batch), m, n, k });
      sa.temp?.dispose();
      sb.temp?.dispose();
    }
    let r = out;
    if (a.rank === 1) r = squeeze(r, -2);
    if (b.rank === 1) r = squeeze(r, -1);
    return r;
  });
}

export const mm = (a: Tensor, b: Tensor) => {
  checkTensor('mm', a, 'first operand');
  checkTensor('mm', b, 'second operand');
  if (a.rank !== 2 || b.rank !== 2) throw new RangeError(`mm: expected 2-d operands, received ${shapeStr(a.shape)} and ${shapeStr(b.shape)}`);
  return matmul(a, b);
};

export const bmm = (a: Tensor, b: Tensor) => {
  checkTensor('bmm', a, 'first operand');
  checkTensor('bmm', b, 'second operand');
  if (a.rank !== 3 || b.rank !== 3 || a.shape[0] !== b.shape[0]) throw new RangeError(`bmm: expected 3-d operands with equal batch, received ${shapeStr(a.shape)} and ${shapeStr(b.shape)}`);
  return matmul(a, b);
};

export function dot(a: Tensor, b: Tensor): Tensor {
  checkTensor('dot', a);
  checkTensor('dot', b);
  if (a.rank !== 1 || b.rank !== 1 || a.shape[0] !== b.shape[0]) throw new RangeError(`dot: expected two 1-d tensors of equal length, received ${shapeStr(a.shape)} and ${shapeStr(b.shape)}`);
  return matmul(a, b);
}

export function outer(a: Tensor, b: Tensor): Tensor {
  checkTensor('outer', a);
  checkTensor('outer', b);
  if (a.rank !== 1 || b.rank !== 1) throw new RangeError(`outer: expected 1-d tensors, received ${shapeStr(a.shape)} and ${shapeStr(b.shape)}`);
  return tidy(() => mul(unsqueeze(a, 1), unsqueeze(b, 0)));
}

/**
 * Einstein summation over one or two operands, e.g. 'ij,jk->ik', 'bij,bjk->bik', 'ii->i' is not
 * supported (no repeated index within one operand); 'ij->ji', 'ij->', 'i,i->', 'i,j->ij'.
 * Two-operand contractions become one batched matmul.
 */
export function einsum(equation: string, ...operands: Tensor[]): Tensor {
  const eq = equation.replace(/\s+/g, '');
  const m = /^([a-zA-Z,]*)(->([a-zA-Z]*))?$/.exec(eq);
  if (!m) throw new SyntaxError(`einsum: cannot parse '${equation}'`);
  const inputs = m[1].split(',');
  if (inputs.length !== operands.length) throw new RangeError(`einsum: '${equation}' names ${inputs.length} operands, received ${operands.length}`);
  if (operands.length < 1 || operands.length > 2) throw new RangeError('einsum: one or two operands are supported');
  operands.forEach((t, i) => checkTensor('einsum', t, `operand ${i}`));
  const sizes = new Map<string, number>();
  inputs.forEach((s, i) => {
    if (s.length !== operands[i].rank) throw new RangeError(`einsum: '${s}' has ${s.length} indices but operand ${i} has shape ${shapeStr(operands[i].shape)}`);
    if (new Set(s).size !== s.length) throw new RangeError(`einsum: repeated index within '${s}' (diagonals) is not supported`);
    [...s].forEach((c, k) => {
      const d = operands[i].shape[k];
      const prev = sizes.get(c);
      if (prev !== undefined && prev !== d && prev !== 1 && d !== 1) throw new RangeError(`einsum: index '${c}' has sizes ${prev} and ${d}`);
      sizes.set(c, Math.max(prev ?? 1, d));
    });
  });
  const counts = new Map<string, number>();
  for (const s of inputs) for (const c of s) counts.set(c, (counts.get(c) ?? 0) + 1);
  const output = m[3] ?? [...counts.keys()].filter((c) => counts.get(c) === 1).sort().join('');
  for (const c of output) if (!sizes.has(c)) throw new RangeError(`einsum: output index '${c}' is not in any input`);
  return tidy(() => {
    if (operands.length === 1) {
      const [s] = inputs;
      const x = operands[0];
      const summed = [...s].map((c, i) => (output.includes(c) ? -1 : i)).filter((i) => i >= 0);
      const r = summed.length ? sum(x, { dim: summed }) : x;
      const kept = [...s].filter((c) => output.includes(c));
      return contiguous(permute(r, [...output].map((c) => kept.indexOf(c))));
    }
    const [sa, sb] = inputs;
    const [a, b] = operands;
    const all = [...new Set([...sa, ...sb])];
    // batch: in a, b and output; free-a: in a and output only; free-b; contracted: not in output
    const batchI = all.filter((c) => sa.includes(c) && sb.includes(c) && output.includes(c));
    const freeA = all.filter((c) => sa.includes(c) && !sb.includes(c) && output.includes(c));
    const freeB = all.filter((c) => sb.includes(c) && !sa.includes(c) && output.includes(c));
    const contr = all.filter((c) => !output.includes(c));
    const prep = (t: Tensor, s: string, order: string[]) => {
      // sum out indices that appear only here and not in the output
      const only = [...s].map((c, i) => (!order.includes(c) ? i : -1)).filter((i) => i >= 0);
      const r = only.length ? sum(t, { dim: only }) : t;
      const left = [...s].filter((c) => order.includes(c));
      const withAll = order.map((c) => left.indexOf(c));
      // insert size-1 dims for indices the operand lacks
      let v = permute(r, withAll.filter((i) => i >= 0));
      order.forEach((c, i) => {
        if (!left.includes(c)) v = unsqueeze(v, i);
      });
      return v;
    };
    const A = prep(a, sa, [...batchI, ...freeA, ...contr]);
    const B = prep(b, sb, [...batchI, ...contr, ...freeB]);
    const size = (cs: string[]) => numel(cs.map((c) => sizes.get(c)!));
    const bs = batchI.map((c) => sizes.get(c)!);
    const A3 = reshape(contiguous(expand(A, [...bs, ...freeA.map((c) => sizes.get(c)!), ...contr.map((c) => sizes.get(c)!)])), [size(batchI), size(freeA), size(contr)]);
    const B3 = reshape(contiguous(expand(B, [...bs, ...contr.map((c) => sizes.get(c)!), ...freeB.map((c) => sizes.get(c)!)])), [size(batchI), size(contr), size(freeB)]);
    const prod = reshape(matmul(A3, B3), [...bs, ...freeA.map((c) => sizes.get(c)!), ...freeB.map((c) => sizes.get(c)!)]);
    const have = [...batchI, ...freeA, ...freeB];
    return contiguous(permute(prod, [...output].map((c) => have.indexOf(c))));
  });
}
