import type { Backend, Storage, TensorSpec } from '../backend.js';
import type { DType, TypedArray } from '../dtype.js';

export interface GpuStorage extends Storage {
  readonly buffer: GPUBuffer;
}

export type WebGPUKernel = (gpu: WebGPUBackend, inputs: readonly TensorSpec[], outputs: readonly TensorSpec[], params: Record<string, any>) => void;

const kernels = new Map<string, WebGPUKernel>();

/** Registers a webgpu kernel under a name shared with the cpu backend. */
export function registerWebGPUKernel(name: string, fn: WebGPUKernel): void {
  kernels.set(name, fn);
}

/** The WGSL scalar type that stores a dtype (bool is stored as u32 0/1). */
export function wgslType(dtype: DType): 'f32' | 'i32' | 'u32' {
  switch (dtype) {
    case 'float32': return 'f32';
    case 'int32': return 'i32';
    case 'uint32':
    case 'bool': return 'u32';
    case 'float64': throw new TypeError('float64 is not supported on the webgpu device (WGSL has no f64); use the cpu device for float64');
  }
}

export const WORKGROUP = 64;
const MAX_DIM = 65535;
const FLUSH_EVERY = 64;
const MAX_POOL_BYTES = 512 * 1024 * 1024;
const USAGE = 0x80 /* STORAGE */ | 0x04 /* COPY_SRC */ | 0x08; /* COPY_DST */

/** Rounds a byte size up to a pool bucket: powers of two split in quarters (at most 25 % waste). */
function bucket(bytes: number): number {
  const b = Math.max(16, Math.ceil(bytes / 4) * 4);
  if (b <= 1024) return 1 << Math.ceil(Math.log2(b));
  const p = 1 << (Math.floor(Math.log2(b)) - 2);
  return Math.ceil(b / p) * p;
}

/** WGSL to compute the flat invocation index of a 2-D dispatch grid; declare `@builtin(global_invocation_id) gid` and `@builtin(num_workgroups) nwg`. */
export const FLAT_INDEX = `gid.x + gid.y * nwg.x * ${WORKGROUP}u`;

export interface DispatchArgs {
  /** Complete WGSL module with entry point `main` and `@workgroup_size(64)`. */
  code: string;
  /** Storage buffers bound at 0..n-1 (the last may be read_write outputs). */
  buffers: GPUBuffer[];
  /** Optional u32 metadata bound after the buffers, as `array<u32>` (use bitcast for i32/f32). */
  meta?: Uint32Array;
  /** Number of invocations (x = threads / 64 workgroups, wrapped into y past 65,535). */
  threads?: number;
  /** Explicit workgroup counts, instead of `threads`. */
  workgroups?: [number, number?, number?];
}

/**
 * Dawn (Node, through the `webgpu` package) or `navigator.gpu` (browsers). Work is recorded into a
 * command encoder and submitted every FLUSH_EVERY dispatches or when something is read back.
 * Freed buffers wait until the commands that may use them are submitted, then join a
 * size-bucketed pool.
 */
export class WebGPUBackend implements Backend {
  readonly name = 'webgpu' as const;
  readonly device: GPUDevice;
  readonly adapterInfo: { vendor?: string; architecture?: string; description?: string; isFallbackAdapter?: boolean };
  private encoder: GPUCommandEncoder | null = null;
  private pending = 0;
  /** Kernels currently recording: while > 0 a flush submits but keeps pending buffers out of the pool. */
  private kernelDepth = 0;
  private pool = new Map<number, GPUBuffer[]>();
  private poolBytes = 0;
  private pendingFree: GPUBuffer[] = [];
  private pipelines = new Map<string, GPUComputePipeline>();
  private lostError: string | null = null;
  private gpuError: string | undefined;
  /** Dispatches recorded since creation (for measuring dispatches per step). */
  dispatchCount = 0;

  /**
   * Strong references to Dawn's instance and adapter: if V8 collects them while the device lives,
   * Dawn frees native state the device still uses and the process crashes.
   */
  private readonly owners: readonly unknown[];

  constructor(device: GPUDevice, adapterInfo: WebGPUBackend['adapterInfo'], owners: readonly unknown[] = []) {
    this.device = device;
    this.owners = owners;
    this.adapterInfo = adapterInfo;
    device.lost.then((info) => {
      this.lostError = `WebGPU device lost: ${info.message}`;
    });
    // A GPU error here is a bug in a kernel, never the user's input (inputs are checked before
    // dispatch): keep the first one and throw it from the next call.
    device.addEventListener?.('uncapturederror', (ev: any) => {
      this.gpuError ??= `tessera webgpu: internal GPU error (please report): ${ev.error?.message ?? ev}`;
    });
  }

  private check() {
    if (this.lostError) throw new Error(this.lostError);
    if (this.gpuError) {
      const e = this.gpuError;
      this.gpuError = undefined;
      throw new Error(e);
    }
  }

  private takeBuffer(bytes: number): GPUBuffer {
    const size = bucket(bytes);
    const list = this.pool.get(size);
    const buf = list?.pop();
    if (buf) {
      this.poolBytes -= size;
      return buf;
    }
    const max = this.device.limits.maxStorageBufferBindingSize;
    if (size > max) {
      throw new RangeError(`webgpu: a tensor of ${bytes} bytes exceeds this adapter's largest storage binding (${max} bytes); split the work or use the cpu device`);
    }
    return this.device.createBuffer({ size, usage: USAGE });
  }

  private releaseBuffer(buf: GPUBuffer) {
    this.pendingFree.push(buf);
    if (!this.encoder && this.kernelDepth === 0) this.recyclePending();
  }

  private recyclePending() {
    for (const buf of this.pendingFree) {
      if (this.poolBytes + buf.size > MAX_POOL_BYTES) {
        buf.destroy();
        continue;
      }
      let list = this.pool.get(buf.size);
      if (!list) this.pool.set(buf.size, (list = []));
      list.push(buf);
      this.poolBytes += buf.size;
    }
    this.pendingFree = [];
  }

  allocate(dtype: DType, size: number): GpuStorage {
    this.check();
    wgslType(dtype);
    const bytes = size * 4;
    return { backend: this, dtype, size, bytes, refs: 0, buffer: this.takeBuffer(bytes) };
  }

  free(storage: Storage): void {
    this.releaseBuffer((storage as GpuStorage).buffer);
  }

  write(storage: Storage, data: TypedArray): void {
    this.check();
    let src: ArrayBufferView = data;
    if (data instanceof Uint8Array) src = Uint32Array.from(data);
    if (data instanceof Float64Array) src = Float32Array.from(data);
    if (src.byteLength === 0) return;
    this.device.queue.writeBuffer((storage as GpuStorage).buffer, 0, src.buffer, src.byteOffset, src.byteLength);
  }

  async read(storage: Storage): Promise<TypedArray> {
    this.check();
    const s = storage as GpuStorage;
    const bytes = s.size * 4;
    const out = s.dtype === 'float32' ? new Float32Array(s.size) : s.dtype === 'int32' ? new Int32Array(s.size) : new Uint32Array(s.size);
    if (bytes > 0) {
      const staging = this.device.createBuffer({ size: Math.ceil(bytes / 4) * 4, usage: 0x01 /* MAP_READ */ | 0x08 });
      const enc = this.takeEncoder();
      enc.copyBufferToBuffer(s.buffer, 0, staging, 0, bytes);
      this.flush();
      await staging.mapAsync(0x01 /* READ */);
      new Uint8Array(out.buffer).set(new Uint8Array(staging.getMappedRange(0, bytes)));
      staging.unmap();
      staging.destroy();
    }
    return s.dtype === 'bool' ? Uint8Array.from(out) : out;
  }

  readSync(): TypedArray {
    throw new Error('dataSync: tensors on webgpu can only be read asynchronously; use `await t.data()`');
  }

  hasKernel(name: string): boolean {
    return kernels.has(name);
  }

  run(name: string, inputs: readonly TensorSpec[], outputs: readonly TensorSpec[], params: Record<string, unknown> = {}): void {
    this.check();
    const k = kernels.get(name);
    if (!k) throw new Error(`webgpu backend: no kernel named '${name}'`);
    for (const t of [...inputs, ...outputs]) {
      if (t.storage.backend !== this) {
        throw new Error(`${name}: expected every tensor on webgpu, received one on ${t.storage.backend.name}`);
      }
    }
    this.kernelDepth++;
    try {
      k(this, inputs, outputs, params);
    } finally {
      this.kernelDepth--;
    }
  }

  private takeEncoder(): GPUCommandEncoder {
    if (!this.encoder) this.encoder = this.device.createCommandEncoder();
    return this.encoder;
  }

  pipeline(code: string): GPUComputePipeline {
    let p = this.pipelines.get(code);
    if (!p) {
      const module = this.device.createShaderModule({ code });
      p = this.device.createComputePipeline({ layout: 'auto', compute: { module, entryPoint: 'main' } });
      this.pipelines.set(code, p);
    }
    return p;
  }

  /**
   * A temporary buffer holding `data`, returned to the pool at the first submission after the
   * kernel that asked for it has finished recording (so a kernel may use it across many
   * dispatches, even when a flush happens in between).
   */
  scratch(data: ArrayBufferView): GPUBuffer {
    const buf = this.takeBuffer(Math.max(16, data.byteLength));
    this.device.queue.writeBuffer(buf, 0, data.buffer, data.byteOffset, data.byteLength);
    this.pendingFree.push(buf);
    return buf;
  }

  /** A temporary device buffer of `bytes`, with the same lifetime rule as `scratch`. */
  scratchEmpty(bytes: number): GPUBuffer {
    const buf = this.takeBuffer(Math.max(16, bytes));
    this.pendingFree.push(buf);
    return buf;
  }

  dispatch({ code, buffers, meta, threads, workgroups }: DispatchArgs): void {
    let wg: [number, number, number];
    if (workgroups) {
      wg = [workgroups[0], workgroups[1] ?? 1, workgroups[2] ?? 1];
    } else {
      const groups = Math.ceil((threads ?? 0) / WORKGROUP);
      wg = [Math.min(groups, MAX_DIM), Math.ceil(groups / MAX_DIM), 1];
    }
    if (wg[0] === 0 || wg[1] === 0 || wg[2] === 0) return;
    if (wg[1] > MAX_DIM || wg[2] > MAX_DIM) throw new RangeError(`webgpu: dispatch of ${wg.join('x')} workgroups exceeds the per-dimension limit`);
    const pipeline = this.pipeline(code);
    const all = meta ? [...buffers, this.scratch(meta)] : buffers;
    const bindGroup = this.device.createBindGroup({
      layout: pipeline.getBindGroupLayout(0),
      entries: all.map((buffer, binding) => ({ binding, resource: { buffer } })),
    });
    const pass = this.takeEncoder().beginComputePass();
    pass.setPipeline(pipeline);
    pass.setBindGroup(0, bindGroup);
    pass.dispatchWorkgroups(wg[0], wg[1], wg[2]);
    pass.end();
    this.dispatchCount++;
    if (++this.pending >= FLUSH_EVERY) this.flush();
  }

  /** Submits recorded work. */
  flush(): void {
    if (!this.encoder) return;
    this.device.queue.submit([this.encoder.finish()]);
    this.encoder = null;
    this.pending = 0;
    if (this.kernelDepth === 0) this.recyclePending();
  }

  pooledBytes(): number {
    return this.poolBytes;
  }

  async sync(): Promise<void> {
    this.flush();
    await this.device.queue.onSubmittedWorkDone();
  }

  async destroy(): Promise<void> {
    this.flush();
    for (const list of this.pool.values()) for (const b of list) b.destroy();
    this.pool.clear();
    this.poolBytes = 0;
    this.device.destroy();
  }
}

/** The GPU buffer behind a tensor view. */
export const buf = (t: TensorSpec): GPUBuffer => (t.storage as GpuStorage).buffer;

/**
 * Finds a WebGPU adapter: `navigator.gpu` in browsers, the `webgpu` package (Dawn) in Node.
 * Returns null when there is none. `allowFallback` admits software adapters (lavapipe).
 */
export async function createWebGPUBackend(allowFallback: boolean): Promise<WebGPUBackend | null> {
  let gpu: GPU | undefined = (globalThis as any).navigator?.gpu;
  if (!gpu && typeof process !== 'undefined' && process.versions?.node) {
    try {
      const mod: any = await import('webgpu');
      const api = mod.default ?? mod;
      Object.assign(globalThis, api.globals);
      gpu = api.create([]);
    } catch {
      return null;
    }
  }
  if (!gpu) return null;
  const adapter = await gpu.requestAdapter({ powerPreference: 'high-performance' });
  if (!adapter) return null;
  const info: any = (adapter as any).info ?? {};
  const fallback = Boolean(info.isFallbackAdapter) || /llvmpipe|lavapipe|swiftshader/i.test(`${info.description ?? ''} ${info.architecture ?? ''}`);
  if (fallback && !allowFallback) return null;
  const l = adapter.limits;
  const device = await adapter.requestDevice({
    requiredLimits: {
      maxStorageBufferBindingSize: l.maxStorageBufferBindingSize,
      maxBufferSize: l.maxBufferSize,
      maxStorageBuffersPerShaderStage: l.maxStorageBuffersPerShaderStage,
      maxComputeWorkgroupStorageSize: l.maxComputeWorkgroupStorageSize,
      maxComputeInvocationsPerWorkgroup: l.maxComputeInvocationsPerWorkgroup,
    },
  });
  return new WebGPUBackend(device, { vendor: info.vendor, architecture: info.architecture, description: info.description, isFallbackAdapter: fallback }, [gpu, adapter]);
}
