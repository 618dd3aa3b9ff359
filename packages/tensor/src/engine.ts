import type { Backend, DeviceName, Storage } from './backend.js';
import type { Tensor } from './tensor.js';

/**
 * Global state: the backends that exist, the default device, live-tensor accounting and the
 * tidy scopes. Kept in one small object so the rules for memory are visible in one place.
 */
class Engine {
  backends = new Map<DeviceName, Backend>();
  defaultDevice: DeviceName = 'cpu';
  liveTensors = 0;
  liveStorages = new Set<Storage>();
  scopes: Set<Tensor>[] = [];
  /** Set by autodiff: told when a tensor that belongs to a recorded graph is disposed. */
  onGradDispose: ((t: Tensor) => void) | null = null;

  backend(device: DeviceName, op = 'tensor'): Backend {
    const b = this.backends.get(device);
    if (!b) {
      throw new Error(`${op}: device '${device}' is not initialised; call \`await init({ device: '${device}' })\` first`);
    }
    return b;
  }

  retain(storage: Storage) {
    storage.refs++;
    this.liveStorages.add(storage);
  }

  release(storage: Storage) {
    storage.refs--;
    if (storage.refs === 0) {
      this.liveStorages.delete(storage);
      storage.backend.free(storage);
    }
  }

  track(t: Tensor) {
    this.liveTensors++;
    const scope = this.scopes[this.scopes.length - 1];
    if (scope) scope.add(t);
  }
}

export const engine = new Engine();

/** Frees storages of tensors that were garbage-collected without `dispose()`. */
export const finalizer = new FinalizationRegistry<Storage>((storage) => {
  engine.liveTensors--;
  engine.release(storage);
});

export interface MemoryInfo {
  /** Tensors alive (not disposed and not collected). */
  tensors: number;
  /** Distinct storages alive. */
  storages: number;
  /** Bytes held by live storages on all devices. */
  bytes: number;
  /** Bytes held in the backends' free pools. */
  pooledBytes: number;
}

export function memory(): MemoryInfo {
  let bytes = 0;
  for (const s of engine.liveStorages) bytes += s.bytes;
  let pooledBytes = 0;
  for (const b of engine.backends.values()) pooledBytes += b.pooledBytes();
  return { tensors: engine.liveTensors, storages: engine.liveStorages.size, bytes, pooledBytes };
}
