import { expect, it } from 'vitest';
import * as T from '../src/index.js';
import { expectClose, forEachBackend } from './helpers.js';

forEachBackend('copy_', (device) => {
  it('overwrites in place, broadcasting and converting, and keeps the tensor object', async () => {
    const dst = T.zeros([2, 3], { device });
    const src = T.tensor([1, 2, 3], { dtype: 'int32', device });
    const r = dst.copy_(src);
    expect(r).toBe(dst);
    await expectClose(dst, [[1, 2, 3], [1, 2, 3]], { dtype: 'float32' });
    T.dispose([dst, src]);
  });

  it('writes through a strided view into its base', async () => {
    const base = T.zeros([3, 4], { device });
    const col = T.select(base, 1, 2);
    col.copy_(T.full([3], 7, { device }));
    await expectClose(base, [[0, 0, 7, 0], [0, 0, 7, 0], [0, 0, 7, 0]]);
    T.dispose([base, col]);
  });

  it('copies from a tensor sharing the destination storage (itself, or an overlapping view)', async () => {
    const x = T.tensor([1, 2, 3, 4], { device });
    x.copy_(x);
    await expectClose(x, [1, 2, 3, 4]);
    const rev = T.flip(x, 0);
    x.copy_(rev);
    await expectClose(x, [4, 3, 2, 1]);
    T.dispose([x, rev]);
  });

  it('rejects shapes that do not broadcast and mixed devices', () => {
    const dst = T.zeros([2, 3], { device });
    const bad = T.zeros([4], { device });
    expect(() => dst.copy_(bad)).toThrow(/copy_/);
    T.dispose([bad]);
    const otherDevice = device === 'cpu' ? 'webgpu' : 'cpu';
    if (T.isAvailable(otherDevice)) {
      const other = T.zeros([3], { device: otherDevice });
      expect(() => dst.copy_(other)).toThrow(/copy_: expected all tensors on one device/);
      other.dispose();
    }
    dst.dispose();
  });
});
