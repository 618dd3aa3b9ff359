import type { DeviceName, Storage, TensorSpec } from './backend.js';
import { isFloat, type DType, type TypedArray } from './dtype.js';
import { engine, finalizer } from './engine.js';
import { contiguousStrides, isContiguous, numel, type Shape } from './shape.js';

export type NestedArray = number | boolean | NestedArray[];

/**
 * An n-dimensional array on a device. A tensor is a strided view (shape, strides, offset) into a
 * reference-counted storage; reshape/permute/expand/slice make new views without copying.
 *
 * Free device memory with `dispose()`, `using t = ...`, or `tidy(fn)`; `memory()` reports what is
 * alive. Forgotten tensors are freed when garbage-collected, but do not rely on that in loops.
 */
export class Tensor implements TensorSpec {
  readonly shape: readonly number[];
  readonly strides: readonly number[];
  readonly offset: number;
  readonly dtype: DType;
  #storage: Storage | null;
  #requiresGrad = false;
  /** The gradient accumulated by `backward()` (owned by this tensor; freed with it). */
  grad: Tensor | null = null;
  /** @internal The autodiff node that produced this tensor; null for leaves and constants. */
  gradFn: object | null = null;
  /** @internal Which output of `gradFn` this tensor is. */
  outputIndex = 0;

  /** @internal Use the creation functions (`tensor`, `zeros`, ...) instead. */
  constructor(storage: Storage, shape: Shape, strides?: readonly number[], offset = 0) {
    this.#storage = storage;
    this.shape = Object.freeze(shape.slice());
    this.strides = Object.freeze((strides ?? contiguousStrides(shape)).slice());
    this.offset = offset;
    this.dtype = storage.dtype;
    engine.retain(storage);
    engine.track(this);
    finalizer.register(this, storage, this);
  }

  /** @internal */
  get storage(): Storage {
    if (!this.#storage) throw new Error('Tensor has been disposed; it can no longer be used');
    return this.#storage;
  }

  get device(): DeviceName {
    return this.storage.backend.name;
  }

  get rank(): number {
    return this.shape.length;
  }

  /** Alias of `rank`, as in PyTorch. */
  get ndim(): number {
    return this.shape.length;
  }

  get size(): number {
    return numel(this.shape);
  }

  numel(): number {
    return numel(this.shape);
  }

  /** Whether gradients flow to or through this tensor (set it on leaves; results of ops on such tensors inherit it). */
  get requiresGrad(): boolean {
    return this.#requiresGrad || this.gradFn !== null;
  }

  set requiresGrad(value: boolean) {
    if (value && !isFloat(this.dtype)) {
      throw new TypeError(`requiresGrad: only float tensors can require gradients, received ${this.dtype}`);
    }
    if (!value && this.gradFn !== null) {
      throw new Error('requiresGrad: cannot turn it off on a tensor computed from others; use detach()');
    }
    this.#requiresGrad = value;
  }

  /** Sets `requiresGrad` and returns this tensor (PyTorch's requires_grad_()). */
  requiresGrad_(value = true): this {
    this.requiresGrad = value;
    return this;
  }

  /** True for tensors not produced by a recorded op (parameters, inputs, constants). */
  get isLeaf(): boolean {
    return this.gradFn === null;
  }

  get isDisposed(): boolean {
    return this.#storage === null;
  }

  /** True when the elements are laid out row-major with no gaps (the offset may be non-zero). */
  isContiguous(): boolean {
    return isContiguous(this.shape, this.strides);
  }

  dispose(): void {
    const s = this.#storage;
    if (!s) return;
    this.#storage = null;
    finalizer.unregister(this);
    engine.liveTensors--;
    for (const scope of engine.scopes) scope.delete(this);
    if (this.gradFn !== null) engine.onGradDispose?.(this);
    this.grad?.dispose();
    this.grad = null;
    engine.release(s);
  }

  [Symbol.dispose](): void {
    this.dispose();
  }

  /** A new tensor object sharing this tensor's storage with another view of it. @internal */
  _view(shape: Shape, strides: readonly number[], offset: number): Tensor {
    return new Tensor(this.storage, shape, strides, offset);
  }

  /** The elements in row-major order, read from the device. */
  async data(): Promise<TypedArray> {
    const s = this.storage;
    if (this.offset === 0 && this.isContiguous() && s.size === this.size) return s.backend.read(s);
    const { contiguous } = await import('./ops/movement.js');
    const c = contiguous(this, true);
    try {
      const all = await c.storage.backend.read(c.storage);
      return all.length === this.size ? all : all.slice(0, this.size);
    } finally {
      c.dispose();
    }
  }

  /** Synchronous read; only on the cpu device (WebGPU reads are asynchronous: use `data()`). */
  dataSync(): TypedArray {
    const s = this.storage;
    if (s.backend.name !== 'cpu') {
      throw new Error(`dataSync: tensors on '${s.backend.name}' can only be read asynchronously; use \`await t.data()\``);
    }
    const all = s.backend.readSync(s);
    const n = this.size;
    if (this.offset === 0 && this.isContiguous()) return all.slice(0, n);
    const out = new (all.constructor as { new (n: number): TypedArray })(n);
    const rank = this.rank;
    const idx = new Array<number>(rank).fill(0);
    let off = this.offset;
    for (let i = 0; i < n; i++) {
      out[i] = all[off];
      for (let d = rank - 1; d >= 0; d--) {
        idx[d]++;
        off += this.strides[d];
        if (idx[d] < this.shape[d]) break;
        off -= this.strides[d] * this.shape[d];
        idx[d] = 0;
      }
    }
    return out;
  }

  /** The elements as nested JS arrays (booleans for bool tensors). */
  async array(): Promise<NestedArray> {
    return nest(await this.data(), this.shape, this.dtype === 'bool');
  }

  arraySync(): NestedArray {
    return nest(this.dataSync(), this.shape, this.dtype === 'bool');
  }

  /** The single element of a one-element tensor. */
  async item(): Promise<number> {
    if (this.size !== 1) throw new RangeError(`item: expected a tensor with one element, received shape [${this.shape.join(', ')}]`);
    return Number((await this.data())[0]);
  }

  toString(): string {
    return `Tensor(shape=[${this.shape.join(', ')}], dtype=${this.dtype}, device=${this.isDisposed ? 'disposed' : this.device})`;
  }
}

function nest(data: TypedArray, shape: Shape, bool: boolean): NestedArray {
  const conv = (v: number) => (bool ? v !== 0 : v);
  if (shape.length === 0) return conv(data[0]);
  const rec = (dim: number, off: number): NestedArray[] => {
    const n = shape[dim];
    const step = numel(shape.slice(dim + 1));
    const out: NestedArray[] = [];
    for (let i = 0; i < n; i++) {
      out.push(dim === shape.length - 1 ? conv(data[off + i]) : rec(dim + 1, off + i * step));
    }
    return out;
  };
  return rec(0, 0);
}

export function isTensor(x: unknown): x is Tensor {
  return x instanceof Tensor;
}
