import type { Backend, Storage, TensorSpec } from '../backend.js';
import { itemSize, newArray, type DType, type TypedArray } from '../dtype.js';

export interface CpuStorage extends Storage {
  readonly data: TypedArray;
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

/** TypedArrays in the JS heap; kernels are plain loops (WebAssembly kernels come with the speed work). */
export class CpuBackend implements Backend {
  readonly name = 'cpu' as const;

  allocate(dtype: DType, size: number): CpuStorage {
    return { backend: this, dtype, size, bytes: size * itemSize(dtype), refs: 0, data: newArray(dtype, size) };
  }

  free(_storage: Storage): void {
    // The array is collected by the JS garbage collector once nothing refers to it.
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
    return 0;
  }

  async sync(): Promise<void> {}

  async destroy(): Promise<void> {}
}
