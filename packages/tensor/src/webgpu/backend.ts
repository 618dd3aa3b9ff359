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
const MAX_STAGING_BYTES = 64 * 1024 * 1024;

/** Bytes of the index-error report: op code, index, bound, padding. */
const ERROR_BYTES = 16;

/**
 * WGSL for kernels that read indices: `reportIndex(t, bound)` records the first out-of-range index
 * in the buffer bound as ERR (binding `binding`), under the op's code `code`.
 */
export function indexErrorWgsl(binding: number, code: number): string {
  return `@group(0) @binding(${binding}) var<storage, read_write> ERR: array<atomic<u32>>;
fn reportIndex(t: i32, bound: u32) {
  if (atomicCompareExchangeWeak(&ERR[0], 0u, ${code}u).exchanged) {
    atomicStore(&ERR[1], bitcast<u32>(t));
    atomicStore(&ERR[2], bound);
  }
}`;
}
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
  /** The profiler's name for this dispatch (default: the kernel being run). */
  label?: string;
}

/**
 * Deferred elementwise ops (implemented in elementwise.ts): `offer` takes an op into the pending
 * chain or returns false; `drain` dispatches the chain; `free` tells it a storage was freed.
 */
export interface ElementwiseFusion {
  readonly pending: boolean;
  offer(gpu: WebGPUBackend, kernel: string, inputs: readonly TensorSpec[], outputs: readonly TensorSpec[], params: Record<string, unknown>): boolean;
  drain(gpu: WebGPUBackend): void;
  free(storage: Storage): void;
}

let fusionFactory: (() => ElementwiseFusion) | null = null;

/** Installs the elementwise fusion (one chain per backend). */
export function registerWebGPUFusion(make: () => ElementwiseFusion): void {
  fusionFactory = make;
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
  /** Buffers bound by dispatches recorded since the last submit. */
  private recorded = new Set<GPUBuffer>();
  private pipelines = new Map<string, GPUComputePipeline>();
  private lostError: string | null = null;
  private gpuError: string | undefined;
  /**
   * Out-of-range indices found on the device (see indexErrorBuffer): words [op code, index, bound],
   * the first report kept. Codes index indexErrorOps (0: none).
   */
  private errors: GPUBuffer | null = null;
  private readonly indexErrorOps: string[] = [''];
  /** Dispatches recorded since creation or the last resetStats() (for measuring dispatches per step). */
  dispatchCount = 0;
  /** Command buffers submitted. */
  submitCount = 0;
  /** Buffers read back to the host (each one a round trip). */
  readbackCount = 0;
  /**
   * Whether kernels may use subgroup operations with 8 consecutive invocations per subgroup, the
   * layout of CPU drivers that run a workgroup as 8-wide SIMD (lavapipe on AVX2). Such kernels
   * share loaded values across the 8 lanes with a register shuffle, where every other load costs
   * one scalar load per lane. Checked by a probe kernel at start-up; tests may switch it off to
   * exercise the portable kernels.
   */
  subgroups8 = false;

  /**
   * Whether consecutive elementwise ops over one shape are fused into one dispatch (default on;
   * TESSERA_WEBGPU_FUSION=0 turns it off, for measuring what it saves).
   */
  fuseElementwise = typeof process === 'undefined' || process.env?.TESSERA_WEBGPU_FUSION !== '0';
  private fusion: ElementwiseFusion | null = null;

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
    if (!this.encoder && this.kernelDepth === 0 && !this.fusion?.pending) this.recyclePending();
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
    this.dropDerived(storage);
    this.fusion?.free(storage);
    this.releaseBuffer((storage as GpuStorage).buffer);
  }

  write(storage: Storage, data: TypedArray): void {
    this.check();
    this.dropDerived(storage);
    let src: ArrayBufferView = data;
    if (data instanceof Uint8Array) src = Uint32Array.from(data);
    if (data instanceof Float64Array) src = Float32Array.from(data);
    if (src.byteLength === 0) return;
    this.device.queue.writeBuffer((storage as GpuStorage).buffer, 0, src.buffer, src.byteOffset, src.byteLength);
  }

  async read(storage: Storage): Promise<TypedArray> {
    this.check();
    const s = storage as GpuStorage;
    this.fusion?.drain(this);
    const bytes = s.size * 4;
    const out = s.dtype === 'float32' ? new Float32Array(s.size) : s.dtype === 'int32' ? new Int32Array(s.size) : new Uint32Array(s.size);
    if (bytes > 0 || this.errors) {
      this.readbackCount++;
      // the index-error words ride along after the data (mapped ranges start at multiples of 8)
      const at = Math.ceil(bytes / 8) * 8;
      const extra = this.errors ? ERROR_BYTES : 0;
      const staging = this.takeStaging(at + extra);
      const enc = this.takeEncoder();
      if (bytes > 0) enc.copyBufferToBuffer(s.buffer, 0, staging, 0, bytes);
      if (this.errors) enc.copyBufferToBuffer(this.errors, 0, staging, at, ERROR_BYTES);
      this.flush();
      let report: Uint32Array | null = null;
      try {
        await staging.mapAsync(0x01 /* READ */, 0, at + extra);
        if (bytes > 0) new Uint8Array(out.buffer).set(new Uint8Array(staging.getMappedRange(0, bytes)));
        if (extra) report = new Uint32Array(staging.getMappedRange(at, extra).slice(0));
        staging.unmap();
        this.returnStaging(staging);
      } catch (e) {
        staging.destroy();
        throw e;
      }
      if (report && report[0] !== 0) this.throwIndexError(report);
    }
    return s.dtype === 'bool' ? Uint8Array.from(out) : out;
  }

  /**
   * The buffer that index-reading kernels report an out-of-range index into (bound as
   * `array<atomic<u32>>`; see indexErrorWgsl). The host cannot check indices that live on the
   * device without a round trip, so, as CUDA's device-side asserts, the error is thrown by the next
   * read of any tensor (after which the report is cleared).
   */
  indexErrorBuffer(): GPUBuffer {
    this.errors ??= this.device.createBuffer({ size: ERROR_BYTES, usage: 0x80 /* STORAGE */ | 0x04 /* COPY_SRC */ | 0x08 /* COPY_DST */ });
    return this.errors;
  }

  /** The code a kernel reports for `op` (a WGSL constant). */
  indexErrorCode(op: string): number {
    let code = this.indexErrorOps.indexOf(op);
    if (code < 0) code = this.indexErrorOps.push(op) - 1;
    return code;
  }

  /**
   * Device data computed from a storage's contents (an index grouped by key: its CSR offsets and
   * order), kept until the storage is written (as a kernel output or by `write`) or freed, so a
   * fixed edge index is grouped once rather than by every scatter. `make` allocates the storages
   * with `allocate` and records the dispatches that fill them.
   */
  derived(storage: Storage, key: string, make: () => GpuStorage[]): GpuStorage[] {
    let entries = this.derivedData.get(storage);
    const hit = entries?.get(key);
    if (hit) return hit;
    const made = make();
    if (!entries) this.derivedData.set(storage, (entries = new Map()));
    entries.set(key, made);
    return made;
  }

  private derivedData = new Map<Storage, Map<string, GpuStorage[]>>();

  private dropDerived(storage: Storage): void {
    const entries = this.derivedData.get(storage);
    if (!entries) return;
    this.derivedData.delete(storage);
    for (const list of entries.values()) for (const s of list) this.releaseBuffer(s.buffer);
  }

  /** Bytes held by `derived` data. */
  derivedBytes(): number {
    let bytes = 0;
    for (const entries of this.derivedData.values()) for (const list of entries.values()) for (const s of list) bytes += s.bytes;
    return bytes;
  }

  private throwIndexError(report: Uint32Array): never {
    // An index reported out of range may sit in a cached grouping: recompute (and re-check) them all.
    for (const storage of [...this.derivedData.keys()]) this.dropDerived(storage);
    this.device.queue.writeBuffer(this.errors!, 0, new Uint32Array(ERROR_BYTES / 4));
    const op = this.indexErrorOps[report[0]] ?? 'an indexing op';
    const index = report[1] | 0;
    const bound = report[2];
    throw new RangeError(`${op}: index ${index} is out of range for a dimension of size ${bound} (expected 0 <= index < ${bound}); found on the webgpu device and reported at this read (results computed since then are not valid)`);
  }

  /** Mappable buffers for readbacks, by bucket size: creating (and clearing) one per read costs more than the copy. */
  private staging = new Map<number, GPUBuffer[]>();
  private stagingBytes = 0;

  private takeStaging(bytes: number): GPUBuffer {
    const size = bucket(bytes);
    const list = this.staging.get(size);
    const b = list?.pop();
    if (b) {
      this.stagingBytes -= size;
      return b;
    }
    return this.device.createBuffer({ size, usage: 0x01 /* MAP_READ */ | 0x08 /* COPY_DST */ });
  }

  private returnStaging(b: GPUBuffer): void {
    if (this.stagingBytes + b.size > MAX_STAGING_BYTES) {
      b.destroy();
      return;
    }
    let list = this.staging.get(b.size);
    if (!list) this.staging.set(b.size, (list = []));
    list.push(b);
    this.stagingBytes += b.size;
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
    for (const t of outputs) this.dropDerived(t.storage);
    if (this.kernelDepth === 0) {
      this.fusion ??= fusionFactory?.() ?? null;
      if (this.fusion) {
        if (this.fuseElementwise && this.fusion.offer(this, name, inputs, outputs, params)) return;
        this.fusion.drain(this);
      }
    }
    this.kernelDepth++;
    const outer = this.kernelName;
    this.kernelName = this.profiler?.shapes ? `${name} ${[...inputs, ...outputs].map((t) => `[${t.shape.join(',')}]`).join(' ')}` : name;
    try {
      k(this, inputs, outputs, params);
    } finally {
      this.kernelDepth--;
      this.kernelName = outer;
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

  /**
   * Writes `data` at `byteOffset` of `buffer` through the queue, without a dispatch, when no
   * recorded-but-unsubmitted dispatch uses the buffer (a queue write lands before those run, so it
   * would overtake them); returns false, writing nothing, otherwise.
   */
  writeIfIdle(buffer: GPUBuffer, byteOffset: number, data: ArrayBufferView): boolean {
    if (this.recorded.has(buffer)) return false;
    this.device.queue.writeBuffer(buffer, byteOffset, data.buffer, data.byteOffset, data.byteLength);
    return true;
  }

  /** A temporary device buffer of `bytes`, with the same lifetime rule as `scratch`. */
  scratchEmpty(bytes: number): GPUBuffer {
    const buf = this.takeBuffer(Math.max(16, bytes));
    this.pendingFree.push(buf);
    return buf;
  }

  dispatch({ code, buffers, meta, threads, workgroups, label }: DispatchArgs): void {
    let wg: [number, number, number];
    if (workgroups) {
      wg = [workgroups[0], workgroups[1] ?? 1, workgroups[2] ?? 1];
    } else {
      const groups = Math.ceil((threads ?? 0) / WORKGROUP);
      wg = [Math.min(groups, MAX_DIM), Math.ceil(groups / MAX_DIM), 1];
    }
    if (wg[0] === 0 || wg[1] === 0 || wg[2] === 0) return;
    if (wg[1] > MAX_DIM || wg[2] > MAX_DIM) throw new RangeError(`webgpu: dispatch of ${wg.join('x')} workgroups exceeds the per-dimension limit`);
    if (this.profiler?.full) this.flush();
    const pipeline = this.pipeline(code);
    const all = meta ? [...buffers, this.scratch(meta)] : buffers;
    const bindGroup = this.device.createBindGroup({
      layout: pipeline.getBindGroupLayout(0),
      entries: all.map((buffer, binding) => ({ binding, resource: { buffer } })),
    });
    for (const b of buffers) this.recorded.add(b);
    const pass = this.takeEncoder().beginComputePass(this.profiler ? { timestampWrites: this.profiler.slot(label ?? this.kernelName) } : undefined);
    pass.setPipeline(pipeline);
    pass.setBindGroup(0, bindGroup);
    pass.dispatchWorkgroups(wg[0], wg[1], wg[2]);
    pass.end();
    this.dispatchCount++;
    if (++this.pending >= FLUSH_EVERY) this.flush();
  }

  /** Submits recorded work. */
  flush(): void {
    this.fusion?.drain(this);
    if (!this.encoder) return;
    this.profiler?.resolve(this.encoder);
    this.device.queue.submit([this.encoder.finish()]);
    this.submitCount++;
    this.encoder = null;
    this.recorded.clear();
    this.pending = 0;
    if (this.kernelDepth === 0) this.recyclePending();
  }

  /** Whether the profiler runs, and whether it keys kernels by operand shapes too. */
  get profiling(): 'names' | 'shapes' | null {
    return this.profiler ? (this.profiler.shapes ? 'shapes' : 'names') : null;
  }

  /** The kernel being recorded (for the profiler). */
  private kernelName = '';
  private profiler: Profiler | null = null;

  /**
   * Starts timing every dispatch on the device (needs the adapter's 'timestamp-query' feature):
   * for finding the kernels that dominate a workload. `stopProfile()` returns milliseconds and
   * dispatch counts per kernel name (with `shapes`, per kernel name and operand shapes).
   */
  startProfile(options: { shapes?: boolean } = {}): void {
    if (!this.device.features.has('timestamp-query')) throw new Error("webgpu profiler: this adapter lacks the 'timestamp-query' feature");
    this.flush();
    this.profiler = new Profiler(this.device, options.shapes ?? false);
  }

  async stopProfile(): Promise<Map<string, { ms: number; count: number }>> {
    const p = this.profiler;
    if (!p) throw new Error('webgpu profiler: startProfile() was not called');
    this.flush();
    this.profiler = null;
    return p.collect();
  }

  /** Sets the dispatch, submit and readback counters to zero. */
  resetStats(): void {
    this.dispatchCount = 0;
    this.submitCount = 0;
    this.readbackCount = 0;
  }

  /**
   * Runs a probe kernel that records each invocation's subgroup lane and size, and enables the
   * subgroup kernels when every subgroup is 8 consecutive invocations.
   */
  async probeSubgroups(): Promise<void> {
    if (!this.device.features.has('subgroups')) return;
    const out = this.allocate('uint32', 128);
    // A driver that rejects the probe only loses the subgroup kernels: keep its error out of gpuError.
    this.device.pushErrorScope('validation');
    this.device.pushErrorScope('internal');
    let ok = true;
    try {
      this.dispatch({
        code: `enable subgroups;
@group(0) @binding(0) var<storage, read_write> O: array<u32>;
@compute @workgroup_size(64)
fn main(@builtin(local_invocation_index) i: u32, @builtin(subgroup_invocation_id) lane: u32, @builtin(subgroup_size) size: u32) {
  O[2u * i] = lane;
  O[2u * i + 1u] = size;
}`,
        buffers: [out.buffer],
        workgroups: [1],
      });
      this.flush();
    } catch {
      ok = false;
    }
    const errors = [await this.device.popErrorScope(), await this.device.popErrorScope()];
    try {
      if (ok && errors.every((e) => !e)) {
        const v = await this.read(out);
        for (let i = 0; i < 64; i++) ok &&= v[2 * i] === i % 8 && v[2 * i + 1] === 8;
        this.subgroups8 = ok;
      }
    } finally {
      this.free(out);
      this.resetStats();
    }
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
    for (const list of this.staging.values()) for (const b of list) b.destroy();
    this.staging.clear();
    this.poolBytes = 0;
    this.device.destroy();
  }
}

/** Timestamp pairs around each dispatch, resolved into buffers at every submit. */
class Profiler {
  private readonly names: string[] = [];
  private set: GPUQuerySet | null = null;
  private used = 0;
  private readonly pending: { buffer: GPUBuffer; names: string[]; set: GPUQuerySet }[] = [];
  private static readonly PAIRS = 256;

  constructor(private readonly device: GPUDevice, readonly shapes: boolean) {}

  slot(name: string): GPUComputePassTimestampWrites {
    if (!this.set) this.set = this.device.createQuerySet({ type: 'timestamp', count: 2 * Profiler.PAIRS });
    const i = this.used++;
    this.names.push(name || '(direct dispatch)');
    return { querySet: this.set, beginningOfPassWriteIndex: 2 * i, endOfPassWriteIndex: 2 * i + 1 };
  }

  /** Copies this encoder's timestamps out; must run before the encoder is finished. */
  resolve(encoder: GPUCommandEncoder): void {
    if (!this.set || this.used === 0) return;
    const bytes = 16 * this.used;
    const resolved = this.device.createBuffer({ size: bytes, usage: 0x200 /* QUERY_RESOLVE */ | 0x04 });
    const staging = this.device.createBuffer({ size: bytes, usage: 0x01 /* MAP_READ */ | 0x08 });
    encoder.resolveQuerySet(this.set, 0, 2 * this.used, resolved, 0);
    encoder.copyBufferToBuffer(resolved, 0, staging, 0, bytes);
    this.pending.push({ buffer: staging, names: this.names.splice(0), set: this.set });
    this.set = null;
    this.used = 0;
  }

  /** Whether the next dispatch would overflow the query set (the caller then flushes). */
  get full(): boolean {
    return this.used >= Profiler.PAIRS;
  }

  async collect(): Promise<Map<string, { ms: number; count: number }>> {
    const out = new Map<string, { ms: number; count: number }>();
    for (const { buffer, names, set } of this.pending) {
      await buffer.mapAsync(0x01);
      const t = new BigInt64Array(buffer.getMappedRange());
      names.forEach((name, i) => {
        const e = out.get(name) ?? { ms: 0, count: 0 };
        e.ms += Number(t[2 * i + 1] - t[2 * i]) / 1e6;
        e.count++;
        out.set(name, e);
      });
      buffer.unmap();
      buffer.destroy();
      set.destroy();
    }
    return out;
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
  const features = (['subgroups', 'timestamp-query'] as GPUFeatureName[]).filter((f) => adapter.features.has(f));
  const device = await adapter.requestDevice({
    requiredFeatures: features,
    requiredLimits: {
      maxStorageBufferBindingSize: l.maxStorageBufferBindingSize,
      maxBufferSize: l.maxBufferSize,
      maxStorageBuffersPerShaderStage: l.maxStorageBuffersPerShaderStage,
      maxComputeWorkgroupStorageSize: l.maxComputeWorkgroupStorageSize,
      maxComputeInvocationsPerWorkgroup: l.maxComputeInvocationsPerWorkgroup,
    },
  });
  const backend = new WebGPUBackend(device, { vendor: info.vendor, architecture: info.architecture, description: info.description, isFallbackAdapter: fallback }, [gpu, adapter]);
  await backend.probeSubgroups();
  return backend;
}
