import type { DeviceName } from './backend.js';
import { CpuBackend } from './cpu/backend.js';
import { engine } from './engine.js';
import { createWebGPUBackend, type WebGPUBackend } from './webgpu/backend.js';

export interface InitOptions {
  /**
   * 'auto' (default) uses a hardware GPU when one is found and the cpu otherwise; 'webgpu' requires
   * a WebGPU adapter and accepts software ones (lavapipe); 'cpu' uses only the cpu.
   */
  device?: 'auto' | DeviceName;
}

export interface DeviceInfo {
  /** The default device new tensors go to. */
  device: DeviceName;
  /** Devices initialised. */
  available: DeviceName[];
  /** The WebGPU adapter, when one is in use. */
  adapter?: { vendor?: string; architecture?: string; description?: string; isFallbackAdapter?: boolean };
}

engine.backends.set('cpu', new CpuBackend());

/**
 * Initialises devices and sets the default one. The cpu device is always available; call with
 * `{ device: 'webgpu' }` to require WebGPU (it throws when no adapter is found).
 */
export async function init(options: InitOptions = {}): Promise<DeviceInfo> {
  const want = options.device ?? 'auto';
  if (!['auto', 'cpu', 'webgpu'].includes(want)) throw new TypeError(`init: device must be 'auto', 'cpu' or 'webgpu', received '${String(want)}'`);
  if (want !== 'cpu' && !engine.backends.has('webgpu')) {
    const gpu = await createWebGPUBackend(want === 'webgpu');
    if (gpu) engine.backends.set('webgpu', gpu);
    else if (want === 'webgpu') {
      throw new Error("init: no WebGPU adapter was found. In Node the `webgpu` package needs a Vulkan driver: on Debian/Ubuntu without a GPU run `bash scripts/install-webgpu-driver.sh` (Mesa's lavapipe); or use { device: 'cpu' }");
    }
  }
  engine.defaultDevice = want === 'cpu' ? 'cpu' : engine.backends.has('webgpu') ? 'webgpu' : 'cpu';
  return deviceInfo();
}

export function deviceInfo(): DeviceInfo {
  const gpu = engine.backends.get('webgpu') as WebGPUBackend | undefined;
  return { device: engine.defaultDevice, available: [...engine.backends.keys()], adapter: gpu?.adapterInfo };
}

/** Sets the device new tensors are created on. */
export function setDefaultDevice(device: DeviceName): void {
  engine.backend(device, 'setDefaultDevice');
  engine.defaultDevice = device;
}

export function getDefaultDevice(): DeviceName {
  return engine.defaultDevice;
}

/** Whether a device is initialised. */
export function isAvailable(device: DeviceName): boolean {
  return engine.backends.has(device);
}

/** The WebGPU backend, for measuring (dispatch counts) and advanced use; undefined when not initialised. */
export function webgpuBackend(): WebGPUBackend | undefined {
  return engine.backends.get('webgpu') as WebGPUBackend | undefined;
}

export interface WebGPUStats {
  /** Compute dispatches recorded. */
  dispatches: number;
  /** Command buffers submitted to the queue. */
  submits: number;
  /** Buffers read back to the host (each one a round trip to the device). */
  readbacks: number;
}

/**
 * Work sent to the webgpu device since it started or since `resetWebgpuStats()`; all zero when
 * webgpu is not initialised. For measuring dispatches per training step.
 */
export function webgpuStats(): WebGPUStats {
  const gpu = engine.backends.get('webgpu') as WebGPUBackend | undefined;
  return { dispatches: gpu?.dispatchCount ?? 0, submits: gpu?.submitCount ?? 0, readbacks: gpu?.readbackCount ?? 0 };
}

/** Sets the counters of `webgpuStats()` to zero. */
export function resetWebgpuStats(): void {
  (engine.backends.get('webgpu') as WebGPUBackend | undefined)?.resetStats();
}

/** Waits for all queued device work to finish. */
export async function sync(): Promise<void> {
  for (const b of engine.backends.values()) await b.sync();
}

/** Releases the GPU device so a Node process can exit. Tensors on webgpu are unusable afterwards. */
export async function shutdown(): Promise<void> {
  const gpu = engine.backends.get('webgpu');
  if (gpu) {
    engine.backends.delete('webgpu');
    await gpu.destroy();
  }
  engine.defaultDevice = 'cpu';
}
