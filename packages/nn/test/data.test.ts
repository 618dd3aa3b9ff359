import { expect, it } from 'vitest';
import * as T from '@tessera/tensor';
import { forEachBackend, expectClose } from '../../tensor/test/helpers.js';
import { DataLoader, TensorDataset, defaultCollate, type Dataset } from '../src/index.js';

async function firstColumn(loader: AsyncIterable<unknown>): Promise<number[][]> {
  const out: number[][] = [];
  for await (const b of loader) {
    out.push(Array.from(await (b as T.Tensor[])[0].data()).filter((_, i) => i % 2 === 0));
    T.dispose(b);
  }
  return out;
}

forEachBackend('DataLoader', (device) => {
  const make = (n: number) => [T.arange(0, 2 * n, 1, { device }).reshape([n, 2]), T.arange(0, n, 1, { dtype: 'int32', device })];

  it('batches in order, with length and dropLast', async () => {
    const [x, y] = make(5);
    const ds = new TensorDataset(x, y);
    const l = new DataLoader(ds, { batchSize: 2 });
    expect(l.length).toBe(3);
    expect(await firstColumn(l)).toEqual([[0, 2], [4, 6], [8]]);
    const d = new DataLoader(ds, { batchSize: 2, dropLast: true });
    expect(d.length).toBe(2);
    expect(await firstColumn(d)).toEqual([[0, 2], [4, 6]]);
    for await (const [bx, by] of new DataLoader(ds, { batchSize: 3 }) as AsyncIterable<T.Tensor[]>) {
      expect(bx.shape[1]).toBe(2);
      await expectClose(by, bx.select(1, 0).div(2).cast('int32'), { dtype: 'int32' });
      T.dispose([bx, by]);
      break;
    }
    T.dispose([x, y]);
  });

  it('shuffles deterministically with a seeded generator, each sample exactly once', async () => {
    const [x, y] = make(10);
    const ds = new TensorDataset(x, y);
    const run = () => firstColumn(new DataLoader(ds, { batchSize: 3, shuffle: true, generator: new T.Generator(42) }));
    const a = await run();
    expect(await run()).toEqual(a);
    expect(a.flat().sort((p, q) => p - q)).toEqual(Array.from({ length: 10 }, (_, i) => 2 * i));
    expect(a.flat()).not.toEqual(Array.from({ length: 10 }, (_, i) => 2 * i));
    T.dispose([x, y]);
  });

  it('keeps memory flat when the consumer disposes batches (also when leaving early)', async () => {
    const [x, y] = make(16);
    const loader = new DataLoader(new TensorDataset(x, y), { batchSize: 4, shuffle: true });
    await firstColumn(loader);
    const before = T.memory();
    for (let epoch = 0; epoch < 3; epoch++) await firstColumn(loader);
    for await (const b of loader) {
      T.dispose(b);
      break;
    }
    await new Promise((r) => setTimeout(r, 10));
    expect(T.memory().tensors).toBe(before.tensors);
    expect(T.memory().bytes).toBe(before.bytes);
    T.dispose([x, y]);
  });
});

forEachBackend('DataLoader with a generic dataset', () => {
  it('collates objects, prefetches ahead in order and delivers every batch once', async () => {
    const started: number[] = [];
    const ds: Dataset<{ x: T.Tensor; label: number; name: string }> = {
      length: 7,
      async get(i) {
        started.push(i);
        await new Promise((r) => setTimeout(r, (7 - i) * 2)); // later samples finish first
        return { x: T.full([2], i, { device: 'cpu' }), label: i, name: `s${i}` };
      },
    };
    const loader = new DataLoader(ds, { batchSize: 2, prefetch: 2 });
    const seen: number[] = [];
    const before = T.memory().tensors;
    let first = true;
    for await (const b of loader as AsyncIterable<{ x: T.Tensor; label: T.Tensor; name: string[] }>) {
      if (first) {
        // batches 1 and 2 were already requested while batch 0 is being consumed
        expect(started).toEqual(expect.arrayContaining([0, 1, 2, 3, 4, 5]));
        first = false;
      }
      expect(b.x.shape).toEqual([b.name.length, 2]);
      expect(b.label.dtype).toBe('int32');
      seen.push(...Array.from(await b.label.data()));
      T.dispose(b);
    }
    expect(seen).toEqual([0, 1, 2, 3, 4, 5, 6]);
    expect(T.memory().tensors).toBe(before);
  });

  it('defaultCollate handles nested arrays, numbers and booleans, and rejects mixed samples', async () => {
    const b = defaultCollate([[1, 0.5, true], [2, 1.5, false]]) as T.Tensor[];
    expect(b.map((t) => t.dtype)).toEqual(['int32', 'float32', 'bool']);
    T.dispose(b);
    expect(() => defaultCollate([1, 'a'])).toThrow(/defaultCollate: sample 1 is a string but sample 0 is a number/);
    expect(() => defaultCollate([{ a: 1 }, { b: 1 }])).toThrow(/keys/);
  });

  it('validates options and TensorDataset inputs', () => {
    expect(() => new DataLoader({ length: 3, get: () => 1 }, { batchSize: 0 })).toThrow(/DataLoader: batchSize must be a positive integer, received 0/);
    expect(() => new TensorDataset(T.zeros([3]), T.zeros([4]))).toThrow(/TensorDataset: expected every tensor to have size 3 in dim 0/);
    expect(() => new DataLoader({} as Dataset<number>)).toThrow(/DataLoader: expected a dataset/);
  });
});
