import type { DType, TypedArray } from './dtype.js';
import type { Shape } from './shape.js';

export type DeviceName = 'cpu' | 'webgpu';

/** A backend-owned block of elements. Views share one storage; it is freed when no tensor uses it. */
export interface Storage {
  readonly backend: Backend;
  readonly dtype: DType;
  /** Number of elements. */
  readonly size: number;
  /** Bytes held on the device. */
  readonly bytes: number;
  /** Tensors referring to this storage. */
  refs: number;
}

/** What a kernel sees of a tensor: its storage and the strided view into it. */
export interface TensorSpec {
  readonly storage: Storage;
  readonly shape: Shape;
  readonly strides: readonly number[];
  readonly offset: number;
  readonly dtype: DType;
}

/**
 * The whole backend interface. Ops never touch a backend's internals: they allocate outputs,
 * then ask the backend to run a named kernel over input and output views.
 */
export interface Backend {
  readonly name: DeviceName;
  allocate(dtype: DType, size: number): Storage;
  free(storage: Storage): void;
  /** Overwrite the first data.length elements of a storage. */
  write(storage: Storage, data: TypedArray): void;
  /** Read the whole storage back to a TypedArray of its dtype. */
  read(storage: Storage): Promise<TypedArray>;
  /** Synchronous read, only where the backend can do it (cpu); otherwise throws. */
  readSync(storage: Storage): TypedArray;
  run(kernel: string, inputs: readonly TensorSpec[], outputs: readonly TensorSpec[], params?: Record<string, unknown>): void;
  hasKernel(kernel: string): boolean;
  /** Bytes held in the backend's free pool (allocated on the device but not in use). */
  pooledBytes(): number;
  /** Wait until all submitted work has finished. */
  sync(): Promise<void>;
  destroy(): Promise<void>;
}
