import { readFileSync } from 'node:fs';
import { expect, it } from 'vitest';
import * as T from '@tessera/tensor';
import { forEachBackend, expectClose } from '../../tensor/test/helpers.js';
import { BatchNorm2d, Conv2d, Flatten, Linear, MaxPool2d, ReLU, Sequential, loadSafetensors, saveSafetensors } from '../src/index.js';

/**
 * A state dict written by PyTorch (fixtures/gen_torch_state.py: trained BatchNorm statistics,
 * int64 num_batches_tracked) loads strictly into the same architecture and gives PyTorch's eval
 * outputs; Tessera's own state dict survives a safetensors round trip bit for bit.
 */
const FIX = new URL('./fixtures/torch_state/', import.meta.url).pathname;
const bytes = new Uint8Array(readFileSync(FIX + 'model.safetensors'));
const golden = JSON.parse(readFileSync(FIX + 'expected.json', 'utf8')) as {
  input: { shape: number[]; data: number[] };
  expected: { shape: number[]; data: number[] };
  numBatchesTracked: number;
};

const build = (device: T.DeviceName) =>
  new Sequential(new Conv2d(2, 4, 3, { padding: 1, device }), new BatchNorm2d(4, { device }), new ReLU(), new MaxPool2d(2), new Flatten(), new Linear(64, 5, { device }));

forEachBackend('PyTorch state dict via safetensors', (device) => {
  it('loads strictly and reproduces the eval output', async () => {
    const model = build(device);
    const dict = loadSafetensors(bytes, { device });
    expect(Object.keys(dict).sort()).toEqual(Object.keys(model.stateDict()).sort());
    model.loadStateDict(dict, { strict: true });
    T.dispose(dict);
    model.eval();
    expect(await (model.stateDict()['1.num_batches_tracked'] as T.Tensor).item()).toBe(golden.numBatchesTracked);
    const before = T.memory().tensors;
    const x = T.tensor(golden.input.data, { shape: golden.input.shape, device });
    const y = model.forward(x);
    await expectClose(y, golden.expected.data, { shape: golden.expected.shape, atol: 1e-4, rtol: 1e-4 });
    T.dispose([x, y]);
    expect(T.memory().tensors).toBe(before);
    model.dispose();
  });

  it("saves Tessera's state dict and reloads identical tensors", async () => {
    const model = build(device);
    const dict = loadSafetensors(bytes, { device });
    model.loadStateDict(dict, { strict: true });
    T.dispose(dict);
    const own = model.stateDict();
    const saved = await saveSafetensors(own);
    const back = loadSafetensors(saved, { device });
    expect(Object.keys(back)).toEqual(Object.keys(own));
    for (const [k, t] of Object.entries(own)) {
      expect(back[k].dtype, k).toBe(t.dtype);
      expect([...back[k].shape], k).toEqual([...t.shape]);
      expect(Array.from(await back[k].data()), k).toEqual(Array.from(await t.data()));
    }
    T.dispose(back);
    model.dispose();
  });
});
