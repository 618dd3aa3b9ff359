import { expect, it } from 'vitest';
import { add, tensor, exp, sum, webgpuBackend } from '../src/index.js';
import { forEachBackend } from './helpers.js';

forEachBackend('smoke', (device) => {
  it('adds', async () => {
    const t0 = Date.now();
    const a = tensor([1, 2, 3, Infinity, NaN, -0], { device });
    const b = exp(a);
    const s = sum(a);
    console.log(device, Array.from(await add(a, b).data()), await s.item(), Date.now() - t0, webgpuBackend()?.adapterInfo);
    expect(1).toBe(1);
  });
});
