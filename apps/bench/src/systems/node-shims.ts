/**
 * What the browser libraries expect from a page and Node lacks, added just enough for them to run
 * here with their own kernels and threads:
 * - `navigator` (jax-js reads `userAgent` and `hardwareConcurrency`; WebGPU code reads `gpu`);
 * - `navigator.gpu` from the `webgpu` package (Dawn), the same adapter Tessera uses;
 * - a Web Worker over `worker_threads` for blob: URLs (jax-js's wasm worker pool);
 * - TF.js's threaded wasm build in Node (TF.js disables it there; see `enableTfjsWasmThreads`).
 */
import { resolveObjectURL } from 'node:buffer';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { Worker as NodeWorker } from 'node:worker_threads';

const require = createRequire(import.meta.url);

export function installNavigator(hardwareConcurrency: number): Record<string, unknown> {
  const g = globalThis as any;
  g.navigator ??= {};
  g.navigator.userAgent ??= `Node.js/${process.version}`;
  g.navigator.hardwareConcurrency = hardwareConcurrency;
  return g.navigator;
}

/** Sets `navigator.gpu` to a Dawn instance and returns its first adapter's description. */
export async function installWebGPU(): Promise<{ description?: string; vendor?: string; architecture?: string }> {
  const mod: any = await import('webgpu');
  const api = mod.default ?? mod;
  Object.assign(globalThis, api.globals);
  const nav = installNavigator((globalThis as any).navigator?.hardwareConcurrency ?? 1);
  nav.gpu = api.create([]);
  const adapter = await (nav.gpu as GPU).requestAdapter();
  if (!adapter) throw new Error('webgpu: no adapter (on Debian/Ubuntu without a GPU run scripts/install-webgpu-driver.sh for lavapipe)');
  const info: any = (adapter as any).info ?? {};
  return { description: info.description, vendor: info.vendor, architecture: info.architecture };
}

/** The worker side: browser-style `self.onmessage` / `postMessage` over `parentPort`; the script arrives as the first message. */
const WORKER_BOOT = `
const { parentPort } = require('node:worker_threads');
globalThis.self = globalThis;
globalThis.postMessage = (m) => parentPort.postMessage(m);
let pending = [];
parentPort.on('message', (m) => {
  if (pending === null) return self.onmessage({ data: m });
  if (m && typeof m === 'object' && '__webWorkerSource' in m) {
    (0, eval)(m.__webWorkerSource);
    const queued = pending;
    pending = null;
    for (const d of queued) self.onmessage({ data: d });
  } else pending.push(m);
});`;

/** A Web Worker for blob: URLs on top of `worker_threads` (messages, shared memory and wasm modules pass through). */
class BlobWebWorker {
  onmessage: ((e: { data: unknown }) => void) | null = null;
  onerror: ((e: { message: string }) => void) | null = null;
  readonly #worker: NodeWorker;

  constructor(url: string | URL) {
    const blob = resolveObjectURL(String(url));
    if (!blob) throw new Error(`Worker shim: only blob: URLs are supported, received ${String(url)}`);
    this.#worker = new NodeWorker(WORKER_BOOT, { eval: true });
    this.#worker.unref();
    this.#worker.on('message', (data) => this.onmessage?.({ data }));
    this.#worker.on('error', (e) => this.onerror?.({ message: e.message }));
    void blob.text().then((source) => this.#worker.postMessage({ __webWorkerSource: source }));
  }

  postMessage(message: unknown): void {
    this.#worker.postMessage(message);
  }

  terminate(): void {
    void this.#worker.terminate();
  }
}

export function installWebWorker(): void {
  (globalThis as any).Worker ??= BlobWebWorker;
}

/**
 * TF.js turns its threaded wasm build off in Node (tfjs issue 3830: the pthread workers are blob
 * URLs) and sizes XNNPACK's pool as logical cores / 2 (assuming SMT). This writes the worker script
 * to a file, points the pthread workers at it, and reports 2 × `threads` logical cores while the
 * backend starts, so that XNNPACK gets `threads` threads (at most 8, TF.js's cap). Call before
 * `tf.setBackend('wasm')`; call the returned function after it.
 */
export function enableTfjsWasmThreads(tf: typeof import('@tensorflow/tfjs-core'), threads: number): () => void {
  const dir = dirname(require.resolve('@tensorflow/tfjs-backend-wasm/package.json'));
  const factoryPath = join(dir, 'wasm-out/tfjs-backend-wasm-threaded-simd.js');
  const { wasmWorkerContents } = require(join(dir, 'wasm-out/tfjs-backend-wasm-threaded-simd.worker.js')) as { wasmWorkerContents: string };
  // The worker loads the main script from a Blob in browsers; here it reads the file.
  const blobBranch = 'else{var objectUrl=URL.createObjectURL(e.data.urlOrBlob);importScripts(objectUrl);URL.revokeObjectURL(objectUrl)}';
  if (!wasmWorkerContents.includes(blobBranch)) throw new Error('enableTfjsWasmThreads: unexpected tfjs-backend-wasm worker script (version changed?)');
  // TF.js escapes the newlines inside string literals the same way before making its Blob.
  const source = wasmWorkerContents.replace(/\n/g, '\\n').replace(blobBranch, `else{importScripts(${JSON.stringify(factoryPath)})}`);
  const workerDir = mkdtempSync(join(tmpdir(), 'tfjs-wasm-worker-'));
  const workerPath = join(workerDir, 'worker.cjs');
  writeFileSync(workerPath, source);
  process.on('exit', () => rmSync(workerDir, { recursive: true, force: true }));

  const createObjectURL = URL.createObjectURL;
  URL.createObjectURL = (obj: Blob) => (obj.type === 'application/javascript' ? workerPath : createObjectURL(obj));
  const os = require('node:os') as typeof import('node:os');
  const cpus = os.cpus;
  os.cpus = () => {
    const real = cpus();
    return Array.from({ length: 2 * threads }, (_, i) => real[i % real.length]);
  };
  tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', true);
  // The URL hook stays (pthread workers may be added later); the core count is only read at start-up.
  return () => {
    os.cpus = cpus;
  };
}
