/**
 * Methods mirroring the functions (`t.add(u)`, `t.sum({ dim: 1 })`, ...), attached to Tensor's
 * prototype so that the class file stays small and free of import cycles.
 */
import type { DeviceName } from './backend.js';
import type { DType } from './dtype.js';
import * as E from './ops/elementwise.js';
import * as Mv from './ops/movement.js';
import * as R from './ops/reduction.js';
import * as Mm from './ops/matmul.js';
import { to } from './ops/transfer.js';
import { Tensor } from './tensor.js';
import * as D from './differentiable.js';
import { cast, transpose } from './differentiable.js';
import type { TensorOrScalar } from './ops/util.js';

declare module './tensor.js' {
  interface Tensor {
    add(other: TensorOrScalar): Tensor;
    sub(other: TensorOrScalar): Tensor;
    mul(other: TensorOrScalar): Tensor;
    div(other: TensorOrScalar): Tensor;
    pow(other: TensorOrScalar): Tensor;
    remainder(other: TensorOrScalar): Tensor;
    minimum(other: TensorOrScalar): Tensor;
    maximum(other: TensorOrScalar): Tensor;
    eq(other: TensorOrScalar): Tensor;
    ne(other: TensorOrScalar): Tensor;
    lt(other: TensorOrScalar): Tensor;
    le(other: TensorOrScalar): Tensor;
    gt(other: TensorOrScalar): Tensor;
    ge(other: TensorOrScalar): Tensor;
    logicalAnd(other: TensorOrScalar): Tensor;
    logicalOr(other: TensorOrScalar): Tensor;
    logicalXor(other: TensorOrScalar): Tensor;
    logicalNot(): Tensor;
    neg(): Tensor;
    abs(): Tensor;
    sign(): Tensor;
    exp(): Tensor;
    expm1(): Tensor;
    log(): Tensor;
    log1p(): Tensor;
    sqrt(): Tensor;
    rsqrt(): Tensor;
    reciprocal(): Tensor;
    square(): Tensor;
    sin(): Tensor;
    cos(): Tensor;
    tan(): Tensor;
    tanh(): Tensor;
    sigmoid(): Tensor;
    relu(): Tensor;
    silu(): Tensor;
    erf(): Tensor;
    floor(): Tensor;
    ceil(): Tensor;
    round(): Tensor;
    trunc(): Tensor;
    isNaN(): Tensor;
    isFinite(): Tensor;
    clamp(min?: TensorOrScalar | null, max?: TensorOrScalar | null): Tensor;
    maskedFill(mask: Tensor, value: TensorOrScalar): Tensor;
    cast(dtype: DType): Tensor;
    float(): Tensor;
    int(): Tensor;
    bool(): Tensor;
    to(device: DeviceName): Promise<Tensor>;
    reshape(shape: readonly number[]): Tensor;
    view(shape: readonly number[]): Tensor;
    permute(dims: readonly number[]): Tensor;
    transpose(dim0?: number, dim1?: number): Tensor;
    /** Transpose of the last two dims. */
    readonly mT: Tensor;
    expand(shape: readonly number[]): Tensor;
    unsqueeze(dim: number): Tensor;
    squeeze(dim?: number | readonly number[]): Tensor;
    flatten(startDim?: number, endDim?: number): Tensor;
    slice(dim: number, start?: number, end?: number, step?: number): Tensor;
    narrow(dim: number, start: number, length: number): Tensor;
    select(dim: number, index: number): Tensor;
    flip(dims: number | readonly number[]): Tensor;
    contiguous(): Tensor;
    clone(): Tensor;
    split(sizeOrSections: number | readonly number[], dim?: number): Tensor[];
    chunk(chunks: number, dim?: number): Tensor[];
    repeat(repeats: readonly number[]): Tensor;
    sum(options?: R.ReduceOptions): Tensor;
    mean(options?: R.ReduceOptions): Tensor;
    prod(options?: R.ReduceOptions): Tensor;
    amax(options?: R.ReduceOptions): Tensor;
    amin(options?: R.ReduceOptions): Tensor;
    max(): Tensor;
    max(options: { dim: number; keepdim?: boolean }): R.ValuesIndices;
    min(): Tensor;
    min(options: { dim: number; keepdim?: boolean }): R.ValuesIndices;
    argmax(options?: { dim?: number; keepdim?: boolean }): Tensor;
    argmin(options?: { dim?: number; keepdim?: boolean }): Tensor;
    var(options?: R.VarOptions): Tensor;
    std(options?: R.VarOptions): Tensor;
    logsumexp(options?: R.ReduceOptions): Tensor;
    norm(options?: R.NormOptions): Tensor;
    all(options?: R.ReduceOptions): Tensor;
    any(options?: R.ReduceOptions): Tensor;
    cumsum(dim: number): Tensor;
    cumprod(dim: number): Tensor;
    softmax(dim?: number): Tensor;
    logSoftmax(dim?: number): Tensor;
    matmul(other: Tensor): Tensor;
    /** Overwrites this tensor's elements with `src` (broadcast, converted) and returns this tensor. */
    copy_(src: Tensor): Tensor;
  }
}

type Fn = (...args: any[]) => any;
const P = Tensor.prototype as unknown as Record<string, Fn>;
const recorded = D as unknown as Record<string, Fn | undefined>;
/** Attaches `fn` as a method, using its recorded (differentiable) version when there is one. */
const method = (name: string, fn: Fn) => {
  const f = recorded[name] ?? fn;
  P[name] = function (this: Tensor, ...args: unknown[]) {
    return f(this, ...args);
  };
};

for (const name of ['add', 'sub', 'mul', 'div', 'pow', 'remainder', 'minimum', 'maximum', 'eq', 'ne', 'lt', 'le', 'gt', 'ge', 'logicalAnd', 'logicalOr', 'logicalXor',
  'logicalNot', 'neg', 'abs', 'sign', 'exp', 'expm1', 'log', 'log1p', 'sqrt', 'rsqrt', 'reciprocal', 'square', 'sin', 'cos', 'tan', 'tanh', 'sigmoid', 'relu', 'silu',
  'erf', 'floor', 'ceil', 'round', 'trunc', 'isNaN', 'isFinite', 'clamp', 'maskedFill', 'cast'] as const) {
  method(name, E[name] as Fn);
}
// Recorded versions, so that `x.float()` and `x.mT` are differentiable like `cast` and `transpose`.
method('float', (t: Tensor) => cast(t, 'float32'));
method('int', (t: Tensor) => cast(t, 'int32'));
method('bool', (t: Tensor) => cast(t, 'bool'));
method('to', to);
for (const name of ['reshape', 'view', 'permute', 'transpose', 'expand', 'unsqueeze', 'squeeze', 'flatten', 'slice', 'narrow', 'select', 'flip', 'contiguous', 'clone',
  'split', 'chunk', 'repeat'] as const) {
  method(name, Mv[name] as Fn);
}
Object.defineProperty(Tensor.prototype, 'mT', {
  get(this: Tensor) {
    return transpose(this, -2, -1);
  },
});
for (const name of ['sum', 'mean', 'prod', 'amax', 'amin', 'max', 'min', 'argmax', 'argmin', 'std', 'logsumexp', 'norm', 'all', 'any', 'cumsum', 'cumprod', 'softmax', 'logSoftmax'] as const) {
  method(name, R[name] as Fn);
}
method('var', D.variance);
method('matmul', Mm.matmul);
method('copy_', Mv.copy_);
