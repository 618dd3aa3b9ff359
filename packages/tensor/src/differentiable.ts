/**
 * The differentiable public ops: each is the op of its family wrapped by `primitive`, so that
 * @tessera/autodiff can record it (see autograd.ts). The index re-exports these names explicitly,
 * which shadows the unwrapped functions of the family modules, and the Tensor methods of the same
 * names are pointed at the wrapped versions. Ops left out (comparisons, argmax, sort indices,
 * creation, random, async selection ops) produce values that carry no gradient.
 */
import { primitive } from './autograd.js';
import * as E from './ops/elementwise.js';
import * as I from './ops/indexing.js';
import * as L from './ops/linalg.js';
import * as Mm from './ops/matmul.js';
import * as Mv from './ops/movement.js';
import * as N from './ops/nn.js';
import * as R from './ops/reduction.js';
import * as S from './ops/sorting.js';
import * as Sp from './sparse.js';
import { Tensor } from './tensor.js';
import * as self from './differentiable.js';

const p = primitive;

// elementwise
export const neg = p('neg', E.neg);
export const abs = p('abs', E.abs);
export const sign = p('sign', E.sign);
export const exp = p('exp', E.exp);
export const expm1 = p('expm1', E.expm1);
export const log = p('log', E.log);
export const log1p = p('log1p', E.log1p);
export const sqrt = p('sqrt', E.sqrt);
export const rsqrt = p('rsqrt', E.rsqrt);
export const reciprocal = p('reciprocal', E.reciprocal);
export const sin = p('sin', E.sin);
export const cos = p('cos', E.cos);
export const tan = p('tan', E.tan);
export const tanh = p('tanh', E.tanh);
export const sigmoid = p('sigmoid', E.sigmoid);
export const relu = p('relu', E.relu);
export const silu = p('silu', E.silu);
export const erf = p('erf', E.erf);
export const floor = p('floor', E.floor);
export const ceil = p('ceil', E.ceil);
export const round = p('round', E.round);
export const trunc = p('trunc', E.trunc);
export const leakyRelu = p('leakyRelu', E.leakyRelu);
export const elu = p('elu', E.elu);
export const gelu = p('gelu', E.gelu);
export const softplus = p('softplus', E.softplus);
export const clamp = p('clamp', E.clamp);
export const cast = p('cast', E.cast);
export const add = p('add', E.add);
export const sub = p('sub', E.sub);
export const mul = p('mul', E.mul);
export const div = p('div', E.div);
export const pow = p('pow', E.pow);
export const atan2 = p('atan2', E.atan2);
export const remainder = p('remainder', E.remainder);
export const minimum = p('minimum', E.minimum);
export const maximum = p('maximum', E.maximum);
export const reluBackward = p('reluBackward', E.reluBackward);
export const square = p('square', E.square);
export const where = p('where', E.where);
export const maskedFill = p('maskedFill', E.maskedFill);

// movement
export const contiguous = p('contiguous', Mv.contiguous);
export const clone = p('clone', Mv.clone);
export const reshape = p('reshape', Mv.reshape);
export const view = p('view', Mv.view);
export const permute = p('permute', Mv.permute);
export const transpose = p('transpose', Mv.transpose);
export const expand = p('expand', Mv.expand);
export const broadcastTo = p('broadcastTo', Mv.broadcastTo);
export const broadcastTensors = p('broadcastTensors', Mv.broadcastTensors);
export const unsqueeze = p('unsqueeze', Mv.unsqueeze);
export const squeeze = p('squeeze', Mv.squeeze);
export const flatten = p('flatten', Mv.flatten);
export const unflatten = p('unflatten', Mv.unflatten);
export const slice = p('slice', Mv.slice);
export const narrow = p('narrow', Mv.narrow);
export const select = p('select', Mv.select);
export const flip = p('flip', Mv.flip);
export const cat = p('cat', Mv.cat);
export const stack = p('stack', Mv.stack);
export const split = p('split', Mv.split);
export const chunk = p('chunk', Mv.chunk);
export const unbind = p('unbind', Mv.unbind);
export const pad = p('pad', Mv.pad);
export const roll = p('roll', Mv.roll);
export const repeat = p('repeat', Mv.repeat);
export const tril = p('tril', Mv.tril);
export const triu = p('triu', Mv.triu);

// reductions
export const sum = p('sum', R.sum);
export const prod = p('prod', R.prod);
export const mean = p('mean', R.mean);
export const amax = p('amax', R.amax);
export const amin = p('amin', R.amin);
export const max = p('max', R.max);
export const min = p('min', R.min);
export const variance = p('variance', R.variance);
export const std = p('std', R.std);
export const logsumexp = p('logsumexp', R.logsumexp);
export const norm = p('norm', R.norm);
export const cumsum = p('cumsum', R.cumsum);
export const cumprod = p('cumprod', R.cumprod);
export const softmax = p('softmax', R.softmax);
export const logSoftmax = p('logSoftmax', R.logSoftmax);

// linear algebra
export const matmul = p('matmul', Mm.matmul);
export const mm = p('mm', Mm.mm);
export const bmm = p('bmm', Mm.bmm);
export const dot = p('dot', Mm.dot);
export const outer = p('outer', Mm.outer);
export const einsum = p('einsum', Mm.einsum);
export const inv = p('inv', L.inv);
export const det = p('det', L.det);
export const slogdet = p('slogdet', L.slogdet);
export const solve = p('solve', L.solve);
export const cholesky = p('cholesky', L.cholesky);
export const qr = p('qr', L.qr);
export const eigh = p('eigh', L.eigh);
export const svd = p('svd', L.svd);
export const diagonal = p('diagonal', L.diagonal);
export const trace = p('trace', L.trace);

// neural-net kernels
export const conv1d = p('conv1d', N.conv1d);
export const conv2d = p('conv2d', N.conv2d);
export const convTranspose1d = p('convTranspose1d', N.convTranspose1d);
export const convTranspose2d = p('convTranspose2d', N.convTranspose2d);
export const maxPool1d = p('maxPool1d', N.maxPool1d);
export const maxPool2d = p('maxPool2d', N.maxPool2d);
export const avgPool1d = p('avgPool1d', N.avgPool1d);
export const avgPool2d = p('avgPool2d', N.avgPool2d);
export const adaptiveAvgPool1d = p('adaptiveAvgPool1d', N.adaptiveAvgPool1d);
export const adaptiveAvgPool2d = p('adaptiveAvgPool2d', N.adaptiveAvgPool2d);
export const interpolate = p('interpolate', N.interpolate);

// indexing, segments, sparse, sorting
export const indexSelect = p('indexSelect', I.indexSelect);
export const gather = p('gather', I.gather);
export const scatter = p('scatter', I.scatter);
export const scatterAdd = p('scatterAdd', I.scatterAdd);
export const scatterReduce = p('scatterReduce', I.scatterReduce);
export const segmentSum = p('segmentSum', I.segmentSum);
export const segmentSumCsr = p('segmentSumCsr', I.segmentSumCsr);
export const segmentMean = p('segmentMean', I.segmentMean);
export const segmentMax = p('segmentMax', I.segmentMax);
export const segmentMin = p('segmentMin', I.segmentMin);
export const segmentSoftmax = p('segmentSoftmax', I.segmentSoftmax);
export const spmm = p('spmm', Sp.spmm);
export const sort = p('sort', S.sort);
export const topk = p('topk', S.topk);
export const cdist = p('cdist', S.cdist);

/** Tensor methods whose names differ from their function's. */
const methodAliases: Record<string, (...args: any[]) => unknown> = { var: variance, inverse: inv };

const wrapped: Record<string, (...args: any[]) => unknown> = { ...(self as unknown as Record<string, (...args: any[]) => unknown>), ...methodAliases };

// Point existing Tensor methods at the recorded versions (methods defined elsewhere call the raw ops).
const proto = Tensor.prototype as unknown as Record<string, unknown>;
for (const [name, fn] of Object.entries(wrapped)) {
  if (typeof proto[name] === 'function') {
    proto[name] = function (this: Tensor, ...args: unknown[]) {
      return fn(this, ...args);
    };
  }
}
