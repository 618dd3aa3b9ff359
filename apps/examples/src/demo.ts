/**
 * The Tessera tour: which devices this machine has, a few tensor ops on each, and a matmul timing
 * per device. Uses a real GPU when there is one, and also shows WebGPU on a software adapter
 * (lavapipe) when that is all there is — correct, but not fast.
 *
 *   pnpm demo                 # everything available
 *   pnpm demo -- --cpu-only   # skip WebGPU
 */
import * as T from '@tessera/tensor';

const cpuOnly = process.argv.includes('--cpu-only');
const line = (s = '') => console.log(s);

async function tour(device: T.DeviceName) {
  line(`\n── ${device} ──────────────────────────────────────────`);
  await T.tidy(async () => {
    const x = T.tensor([[1, 2, 3], [4, 5, 6]], { device });
    const w = T.arange(0, 6, 1, { device }).reshape([3, 2]).float();
    line(`x            = ${JSON.stringify(await x.array())}`);
    line(`x @ w        = ${JSON.stringify(await T.matmul(x, w).array())}`);
    line(`softmax(x)   = ${JSON.stringify(((await T.softmax(x, 1).array()) as number[][]).map((r) => r.map((v) => +v.toFixed(4))))}`);
    line(`x.sum(dim 1) = ${JSON.stringify(await x.sum({ dim: 1 }).array())}   x.max() = ${await T.max(x).item()}`);
    T.manualSeed(42);
    const r = await T.randn([4], { device }).data();
    line(`randn(4), seed 42 = [${Array.from(r, (v) => v.toFixed(4)).join(', ')}]  (the same bits on every device)`);
  });
  for (const n of [256, 512]) {
    const { gflops, ms } = await timeMatmul(device, n);
    line(`matmul ${n}x${n}: ${ms.toFixed(2)} ms  (${gflops.toFixed(2)} GFLOP/s, median of 5)`);
  }
}

async function timeMatmul(device: T.DeviceName, n: number) {
  const a = T.rand([n, n], { device });
  const b = T.rand([n, n], { device });
  const times: number[] = [];
  for (let i = 0; i < 6; i++) {
    const t0 = performance.now();
    const c = T.matmul(a, b);
    await c.data(); // includes the readback: WebGPU work is asynchronous
    times.push(performance.now() - t0);
    c.dispose();
  }
  a.dispose();
  b.dispose();
  const ms = times.slice(1).sort((p, q) => p - q)[2];
  return { ms, gflops: (2 * n ** 3) / (ms * 1e6) };
}

const info = await T.init({ device: 'auto' });
if (!cpuOnly && !T.isAvailable('webgpu')) {
  // No hardware GPU: try a software adapter too, only for the tour.
  try {
    await T.init({ device: 'webgpu' });
    T.setDefaultDevice(info.device);
  } catch {
    // none at all
  }
}
const gpu = T.deviceInfo().adapter;
line('Tessera — tensor core tour');
line(`devices: ${T.deviceInfo().available.join(', ')}   default: ${info.device}`);
line(gpu ? `webgpu adapter: ${gpu.description ?? gpu.vendor} ${gpu.isFallbackAdapter ? '(software: correct, slow)' : ''}` : 'webgpu: no adapter found (install a driver: bash scripts/install-webgpu-driver.sh)');
for (const d of T.deviceInfo().available) {
  if (cpuOnly && d !== 'cpu') continue;
  await tour(d);
}
line(`\nmemory after the tour: ${JSON.stringify(T.memory())}`);
await T.shutdown();
