import type { Backend, Storage, TensorSpec } from '../backend.js';
import { itemSize, newArray, type DType, type TypedArray } from '../dtype.js';
import { wasmRuntime } from './wasm/runtime.js';

export interface CpuStorage extends Storage {
  readonly data: TypedArray;
  /** Byte address in the WebAssembly memory when `data` is a view of it (float32 storages). */
  readonly heapAt?: number;
}

/** A tensor view as cpu kernels see it: the spec plus its storage's array. */
export interface CpuView extends TensorSpec {
  readonly data: TypedArray;
}

export type CpuKernel = (inputs: CpuView[], outputs: CpuView[], params: Record<string, any>) => void;

const kernels = new Map<string, CpuKernel>();

/** Registers a cpu kernel under a name shared with the webgpu backend. */
export function registerCpuKernel(name: string, fn: CpuKernel): void {
  kernels.set(name, fn);
}

const view = (s: TensorSpec): CpuView => ({
  storage: s.storage, shape: s.shape, strides: s.strides, offset: s.offset, dtype: s.dtype,
  data: (s.storage as CpuStorage).data,
});

/** Arrays below this many bytes come from the JS heap each time (cheap); larger ones are pooled. */
const POOL_MIN_BYTES = 1 << 16;

/**
 * TESSERA_CPU_POISON=1 fills every new storage with NaN (integers with -1) instead of leaving
 * recycled memory as it was: a test mode that makes a kernel reading an output element it did not
 * write show up (as on webgpu, whose pooled buffers are never cleared).
 */
const POISON = (globalThis as any).process?.env?.TESSERA_CPU_POISON === '1';
const poison = (data: TypedArray): void => {
  if (POISON) data.fill(data instanceof Float32Array || data instanceof Float64Array ? NaN : data instanceof Uint8Array ? 7 : -1);
};

/**
 * Storages are TypedArrays; kernels are TypeScript loops or WebAssembly (cpu/wasm). float32 arrays
 * of 64 KiB and more live in the WebAssembly memory the kernels and their worker threads share
 * (a heap with best-fit reuse and merging of freed blocks), so kernels read and write them in
 * place. Other large arrays (and float32 ones when that memory is full or unavailable) are kept
 * in a pool keyed by dtype and length when freed and handed out again: a fresh multi-megabyte
 * array costs a page fault per 4 KiB on first touch, several times the cost of the elementwise op
 * that fills it. A new storage is uninitialised (recycled memory keeps its old contents, as on
 * webgpu and in PyTorch's `empty`): every kernel writes all of its outputs, and `zeros` fills.
 * Kernels never keep an array past their call, so a recycled array is never seen twice.
 */
export class CpuBackend implements Backend {
  readonly name = 'cpu' as const;
  /** Most bytes the JS-heap pool may hold; oldest entries are dropped beyond it. */
  poolLimitBytes = 256 * 1024 * 1024;
  private pool = new Map<string, TypedArray[]>();
  private pooled = 0;

  allocate(dtype: DType, size: number): CpuStorage {
    const bytes = size * itemSize(dtype);
    if (bytes >= POOL_MIN_BYTES && dtype === 'float32') {
      const rt = wasmRuntime();
      const at = rt?.heapAlloc(bytes) ?? null;
      if (rt && at !== null) {
        const data = rt.f32View(at, size);
        poison(data);
        return { backend: this, dtype, size, bytes, refs: 0, data, heapAt: at };
      }
    }
    let data: TypedArray | undefined;
    if (bytes >= POOL_MIN_BYTES) {
      const list = this.pool.get(`${dtype}:${size}`);
      data = list?.pop();
      if (data) this.pooled -= bytes;
    }
    data ??= newArray(dtype, size);
    poison(data);
    return { backend: this, dtype, size, bytes, refs: 0, data };
  }

  free(storage: Storage): void {
    const heapAt = (storage as CpuStorage).heapAt;
    if (heapAt !== undefined) {
      wasmRuntime()!.heapFree(heapAt, storage.bytes);
      return;
    }
    // small arrays are left to the garbage collector
    if (storage.bytes < POOL_MIN_BYTES || storage.bytes > this.poolLimitBytes) return;
    while (this.pooled + storage.bytes > this.poolLimitBytes) this.evictOne();
    const key = `${storage.dtype}:${storage.size}`;
    let list = this.pool.get(key);
    if (!list) this.pool.set(key, (list = []));
    list.push((storage as CpuStorage).data);
    this.pooled += storage.bytes;
  }

  /** Drops one array of the least recently added size class (Map order). */
  private evictOne(): void {
    for (const [key, list] of this.pool) {
      const a = list.shift();
      if (!list.length) this.pool.delete(key);
      if (a) {
        this.pooled -= a.byteLength;
        return;
      }
    }
  }

  /** Empties the free pool (its arrays go to the garbage collector). */
  emptyCache(): void {
    this.pool.clear();
    this.pooled = 0;
  }

  write(storage: Storage, data: TypedArray): void {
    (storage as CpuStorage).data.set(data);
  }

  async read(storage: Storage): Promise<TypedArray> {
    return (storage as CpuStorage).data.slice();
  }

  readSync(storage: Storage): TypedArray {
    return (storage as CpuStorage).data;
  }

  hasKernel(name: string): boolean {
    return kernels.has(name);
  }

  run(name: string, inputs: readonly TensorSpec[], outputs: readonly TensorSpec[], params: Record<string, unknown> = {}): void {
    const k = kernels.get(name);
    if (!k) throw new Error(`cpu backend: no kernel named '${name}'`);
    k(inputs.map(view), outputs.map(view), params);
  }

  pooledBytes(): number {
    return this.pooled + (wasmRuntime()?.heapFreeBytes ?? 0);
  }

  async sync(): Promise<void> {}

  async destroy(): Promise<void> {}
}
