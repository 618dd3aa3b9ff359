import { expect, it } from 'vitest';
import {
  adaptiveAvgPool1d, adaptiveAvgPool2d, avgPool1d, avgPool2d, cat, contiguous, conv1d, conv2d, convTranspose1d, convTranspose2d,
  interpolate, maxPool1d, maxPool2d, memory, permute, slice, tensor, tidy, zeros, type DeviceName, type Tensor,
} from '../src/index.js';
import { expectClose, fixtureValues, forEachBackend, fromFixture, loadFixture, seeded, type FixtureCase } from './helpers.js';

const cases = await loadFixture('nn');

/** Runs a fixture case's op; returns its outputs in the fixture's order. */
function apply(c: FixtureCase, [x, w, b]: Tensor[]): Tensor[] {
  const p = c.params as any;
  const pair = (r: Tensor | { values: Tensor; indices: Tensor }) => ('values' in r ? [r.values, r.indices] : [r]);
  switch (c.op) {
    case 'conv2d': return [conv2d(x, w, b, p)];
    case 'conv1d': return [conv1d(x, w, b, p)];
    case 'convTranspose2d': return [convTranspose2d(x, w, b, p)];
    case 'convTranspose1d': return [convTranspose1d(x, w, b, p)];
    case 'conv2dInputGrad': {
      // The input gradient of conv2d: a transposed conv whose outputPadding restores the input size.
      const [, , kh, kw] = w.shape;
      const k = [kh, kw];
      const s = p.stride ?? 1;
      const d = p.dilation ?? 1;
      const pad = p.padding ?? 0;
      const outputPadding = [0, 1].map((i) => p.inputShape[2 + i] - ((x.shape[2 + i] - 1) * s - 2 * pad + d * (k[i] - 1) + 1));
      return [convTranspose2d(x, w, null, { ...p, outputPadding })];
    }
    case 'maxPool2d': return pair(maxPool2d(x, p.kernelSize, p));
    case 'maxPool1d': return pair(maxPool1d(x, p.kernelSize, p));
    case 'avgPool2d': return [avgPool2d(x, p.kernelSize, p)];
    case 'avgPool1d': return [avgPool1d(x, p.kernelSize, p)];
    case 'adaptiveAvgPool2d': return [adaptiveAvgPool2d(x, p.outputSize)];
    case 'adaptiveAvgPool1d': return [adaptiveAvgPool1d(x, p.outputSize)];
    case 'interpolate': return [interpolate(x, p)];
    default: throw new Error(`unknown fixture op ${c.op}`);
  }
}

/** The same values in a non-contiguous layout with a non-zero offset (dims reversed in memory, one element of padding in front). */
function scrambled(x: Tensor): Tensor {
  if (x.size === 0) return contiguous(x);
  return tidy(() => {
    const rev = x.shape.map((_, i) => x.rank - 1 - i);
    const moved = contiguous(permute(x, rev));
    const padded = cat([zeros([...moved.shape.slice(0, -1), 1], { device: x.device, dtype: x.dtype }), moved], -1);
    return permute(slice(padded, -1, 1), rev);
  });
}

async function check(c: FixtureCase, device: DeviceName, layout: (t: Tensor) => Tensor) {
  const inputs = c.inputs.map((f) => {
    const t = fromFixture(f, device);
    const v = layout(t);
    t.dispose();
    return v;
  });
  const outs = apply(c, inputs);
  expect(outs.length).toBe(c.expected.length);
  for (let k = 0; k < outs.length; k++) {
    const e = c.expected[k];
    const isIndex = e.dtype === 'int32';
    const dtype = isIndex ? 'int32' : device === 'webgpu' ? 'float32' : e.dtype;
    await expectClose(outs[k], fixtureValues(e), { shape: e.shape, dtype, atol: isIndex ? 0 : 2e-5, rtol: isIndex ? 0 : 1e-4 });
  }
  for (const t of [...inputs, ...outs]) t.dispose();
}

forEachBackend('nn golden values', (device) => {
  for (const c of cases) {
    it(`${c.op}: ${c.name}`, () => check(c, device, (t) => contiguous(t)));
  }
  for (const c of cases) {
    it(`${c.op}: ${c.name} (non-contiguous inputs with an offset)`, () => check(c, device, scrambled));
  }
});

forEachBackend('nn layouts and sizes', (device) => {
  it('conv2d reads an NHWC tensor viewed as NCHW', async () => {
    const [N, C, H, W] = [2, 3, 5, 4];
    const nhwc = tensor(seeded(N * H * W * C, 3), { shape: [N, H, W, C], device });
    const nchw = permute(nhwc, [0, 3, 1, 2]);
    const copy = contiguous(nchw, true);
    const weight = tensor(seeded(2 * C * 9, 4), { shape: [2, C, 3, 3], device });
    const a = conv2d(nchw, weight, null, { padding: 1, stride: [1, 2] });
    const b = conv2d(copy, weight, null, { padding: 1, stride: [1, 2] });
    await expectClose(a, await b.data(), { shape: [N, 2, 5, 2], atol: 1e-6, rtol: 1e-6 });
    for (const t of [nhwc, nchw, copy, weight, a, b]) t.dispose();
  });

  it('conv2d over more outputs than one dispatch covers (4.5M > 65,535 x 64)', async () => {
    const [N, H, W] = [2, 1500, 1500];
    const xs = seeded(N * H * W, 7);
    const x = tensor(xs, { shape: [N, 1, H, W], device });
    const weight = tensor([1, -1], { shape: [1, 1, 1, 2], device });
    const bias = tensor([0.5], { device });
    const y = conv2d(x, weight, bias);
    expect(y.shape).toEqual([N, 1, H, W - 1]);
    const got = await y.data();
    let bad = 0;
    let k = 0;
    for (let r = 0; r < N * H; r++) {
      for (let c = 0; c < W - 1; c++, k++) {
        const want = xs[r * W + c] - xs[r * W + c + 1] + 0.5;
        if (Math.abs(got[k] - want) > 1e-6) bad++;
      }
    }
    expect(bad).toBe(0);
    for (const t of [x, weight, bias, y]) t.dispose();
  });

  it('maxPool without returnIndices gives only the values', async () => {
    const x = tensor([[[1, 5, 2, 0, 3, 4]]], { device });
    const v = maxPool1d(x, 2);
    await expectClose(v, [[[5, 2, 4]]], { dtype: 'float32' });
    const { values, indices } = maxPool1d(x, 2, { returnIndices: true });
    await expectClose(indices, [[[1, 2, 5]]], { dtype: 'int32', atol: 0 });
    for (const t of [x, v, values, indices]) t.dispose();
  });

  it('pools and resamples an empty batch', async () => {
    const x = zeros([0, 2, 5, 5], { device });
    const { values, indices } = maxPool2d(x, 2, { returnIndices: true });
    expect(values.shape).toEqual([0, 2, 2, 2]);
    expect(indices.shape).toEqual([0, 2, 2, 2]);
    const outs = [avgPool2d(x, 3, { stride: 1, padding: 1 }), adaptiveAvgPool2d(x, 3), interpolate(x, { size: 7, mode: 'bilinear' }), convTranspose2d(x, zeros([2, 1, 2, 2], { device }))];
    expect(outs.map((t) => t.shape)).toEqual([[0, 2, 5, 5], [0, 2, 3, 3], [0, 2, 7, 7], [0, 1, 6, 6]]);
    expect((await values.data()).length).toBe(0);
    for (const t of [x, values, indices, ...outs]) t.dispose();
  });

  it('does not modify its inputs', async () => {
    const x = tensor(seeded(2 * 2 * 4 * 4, 9), { shape: [2, 2, 4, 4], device });
    const w = tensor(seeded(2 * 2 * 4, 10), { shape: [2, 2, 2, 2], device });
    const before = Array.from(await x.data());
    const outs = [conv2d(x, w, null, { padding: 1 }), convTranspose2d(x, w, null, { stride: 2 }), maxPool2d(x, 2), avgPool2d(x, 3, { padding: 1 }), interpolate(x, { scaleFactor: 2, mode: 'bilinear' })];
    expect(Array.from(await x.data())).toEqual(before);
    for (const t of [x, w, ...outs]) t.dispose();
  });

  it('keeps memory flat over 60 iterations of every op', async () => {
    const x = tensor(seeded(2 * 4 * 6 * 6, 11), { shape: [2, 4, 6, 6], device });
    const w = tensor(seeded(4 * 2 * 9, 12), { shape: [4, 2, 3, 3], device });
    const b = tensor([0.1, 0.2, 0.3, 0.4], { device });
    const x1 = tensor(seeded(2 * 4 * 9, 13), { shape: [2, 4, 9], device });
    const step = () => {
      const outs = [
        conv2d(x, w, b, { padding: 'same', groups: 2 }),
        conv1d(x1, tensor(seeded(12, 1), { shape: [3, 4, 1], device })),
        convTranspose2d(x, w, null, { stride: 2, outputPadding: 1, groups: 2 }),
        convTranspose1d(x1, tensor(seeded(8, 2), { shape: [4, 1, 2], device })),
        maxPool2d(x, 3, { stride: 2, padding: 1, ceilMode: true }),
        maxPool1d(x1, 2, { returnIndices: true }).indices,
        avgPool2d(x, 2, { countIncludePad: false, padding: 1 }),
        avgPool1d(x1, 3),
        adaptiveAvgPool2d(x, [4, null]),
        adaptiveAvgPool1d(x1, 2),
        interpolate(x, { size: [9, 4], mode: 'bilinear' }),
        interpolate(x1, { scaleFactor: 2 }),
      ];
      return outs.length;
    };
    tidy(step);
    const before = memory();
    for (let i = 0; i < 60; i++) tidy(step);
    const after = memory();
    expect(after.tensors).toBe(before.tensors);
    expect(after.bytes).toBe(before.bytes);
    for (const t of [x, w, b, x1]) t.dispose();
  });
});

forEachBackend('nn bad input', (device) => {
  const t = (shape: number[], dtype: 'float32' | 'int32' = 'float32') => zeros(shape, { device, dtype });

  it('conv2d rejects wrong ranks, channels, groups, dtypes and oversized kernels', () => {
    const x = t([1, 4, 5, 5]);
    expect(() => conv2d(t([4, 5]), t([2, 4, 3, 3]))).toThrow(/conv2d: expected input of rank 3 or 4, received shape \[4, 5\]/);
    expect(() => conv2d(x, t([2, 4, 3]))).toThrow(/conv2d: expected weight of rank 4/);
    expect(() => conv2d(x, t([2, 3, 3, 3]))).toThrow(/conv2d: .*expects input with 3 channels, received input of shape \[1, 4, 5, 5\]/);
    expect(() => conv2d(x, t([3, 2, 3, 3]), null, { groups: 2 })).toThrow(/conv2d: groups=2 must divide the 3 output channels/);
    expect(() => conv2d(x, t([3, 1, 3, 3]), null, { groups: 3 })).toThrow(/conv2d: with groups=3, weight of shape \[3, 1, 3, 3\] expects input with 3 channels/);
    expect(() => conv2d(x, t([2, 4, 3, 3]), null, { groups: 0 })).toThrow(/conv2d: groups must be a positive integer/);
    expect(() => conv2d(x, t([2, 4, 6, 3]))).toThrow(/conv2d: the padded input size \[5, 5\] is smaller than the dilated kernel \[6, 3\]/);
    expect(() => conv2d(x, t([2, 4, 3, 3]), null, { dilation: 3 })).toThrow(/conv2d: the padded input size/);
    expect(() => conv2d(x, t([2, 4, 3, 3]), t([3]))).toThrow(/conv2d: expected bias of shape \[2\], received \[3\]/);
    expect(() => conv2d(t([1, 4, 5, 5], 'int32'), t([2, 4, 3, 3], 'int32'))).toThrow(/conv2d: expected input dtype in \{float32, float64\}, received int32/);
    expect(() => conv2d(x, t([2, 4, 3, 3], 'int32'))).toThrow(/conv2d: expected weight dtype float32/);
    expect(() => conv2d(x, t([2, 4, 3, 3]), null, { stride: 2, padding: 'same' })).toThrow(/conv2d: padding='same' needs stride 1/);
    expect(() => conv2d(x, t([2, 4, 3, 3]), null, { stride: 0 })).toThrow(/conv2d: stride must be an integer >= 1/);
    expect(() => conv2d(x, t([2, 4, 3, 3]), null, { padding: [1, 2, 3] })).toThrow(/conv2d: padding must be/);
    expect(() => conv2d(t([1, 0, 5, 5]), t([2, 0, 3, 3]))).toThrow(/conv2d: expected non-empty channel and spatial dims/);
    expect(() => conv1d(t([1, 4, 2]), t([2, 4, 3]))).toThrow(/conv1d: the padded input size \[2\] is smaller than the dilated kernel \[3\]/);
    expect(() => conv1d(x, t([2, 4, 3]))).toThrow(/conv1d: expected input of rank 2 or 3/);
  });

  it('convTranspose2d rejects bad channels, outputPadding and non-positive output sizes', () => {
    const x = t([1, 4, 3, 3]);
    expect(() => convTranspose2d(x, t([3, 2, 3, 3]))).toThrow(/convTranspose2d: weight of shape \[3, 2, 3, 3\] expects input with 3 channels, received input of shape \[1, 4, 3, 3\]/);
    expect(() => convTranspose2d(x, t([4, 2, 3, 3]), null, { groups: 3 })).toThrow(/convTranspose2d: groups=3 must divide the 4 input channels/);
    expect(() => convTranspose2d(x, t([4, 2, 3, 3]), null, { stride: 2, outputPadding: 2 })).toThrow(/convTranspose2d: outputPadding must be smaller than stride or dilation/);
    expect(() => convTranspose2d(x, t([4, 2, 1, 1]), null, { padding: 2 })).toThrow(/convTranspose2d: the output size \[-1, -1\] is not positive/);
    expect(() => convTranspose2d(x, t([4, 2, 3, 3]), t([2]), { groups: 2 })).toThrow(/convTranspose2d: expected bias of shape \[4\], received \[2\]/);
    expect(() => convTranspose1d(t([1, 4, 3]), t([4, 2, 3, 3]))).toThrow(/convTranspose1d: expected weight of rank 3/);
  });

  it('pools reject wrong ranks, oversized windows and bad padding', () => {
    const x = t([1, 2, 4, 4]);
    expect(() => maxPool2d(t([4, 4]), 2)).toThrow(/maxPool2d: expected input of rank 3 or 4/);
    expect(() => maxPool2d(x, 5)).toThrow(/maxPool2d: the output size \[0, 0\] is too small/);
    expect(() => maxPool2d(x, 2, { padding: 2 })).toThrow(/maxPool2d: padding \[2, 2\] must be at most half the kernel size/);
    expect(() => maxPool2d(x, 2, { dilation: 0 })).toThrow(/maxPool2d: dilation must be an integer >= 1/);
    expect(() => maxPool2d(t([1, 2, 4, 4], 'int32'), 2)).toThrow(/maxPool2d: expected input dtype/);
    expect(() => maxPool1d(t([1, 2, 3]), 4)).toThrow(/maxPool1d: the output size \[0\] is too small/);
    expect(() => avgPool2d(x, [2, 2, 2])).toThrow(/avgPool2d: kernelSize must be/);
    expect(() => avgPool2d(x, 2, { divisorOverride: 0 })).toThrow(/avgPool2d: divisorOverride must be a non-zero integer/);
    expect(() => avgPool1d(t([2, 3, 2]), 3)).toThrow(/avgPool1d: the output size \[0\] is too small/);
    expect(() => adaptiveAvgPool2d(x, [2, -1])).toThrow(/adaptiveAvgPool2d: outputSize must be/);
    expect(() => adaptiveAvgPool2d(t([2, 4]), 2)).toThrow(/adaptiveAvgPool2d: expected input of rank 3 or 4/);
    expect(() => adaptiveAvgPool1d(t([1, 0, 4]), 2)).toThrow(/adaptiveAvgPool1d: expected non-empty channel and spatial dims/);
  });

  it('interpolate rejects bad sizes, modes and option combinations', () => {
    const x = t([1, 2, 4, 4]);
    expect(() => interpolate(t([2, 4]), { size: 3 })).toThrow(/interpolate: expected input of rank 3 or 4/);
    expect(() => interpolate(x, { size: 3, scaleFactor: 2 })).toThrow(/interpolate: give exactly one of size and scaleFactor/);
    expect(() => interpolate(x, {})).toThrow(/interpolate: give exactly one of size and scaleFactor/);
    expect(() => interpolate(x, { size: [0, 3] })).toThrow(/interpolate: size must be an integer >= 1/);
    expect(() => interpolate(x, { scaleFactor: 0.1 })).toThrow(/interpolate: scaleFactor 0.1 gives an empty output \[0, 0\]/);
    expect(() => interpolate(x, { scaleFactor: -2 })).toThrow(/interpolate: scaleFactor must be a positive number/);
    expect(() => interpolate(t([1, 2, 4]), { size: 8, mode: 'bilinear' })).toThrow(/interpolate: mode 'bilinear' needs a 4-D input/);
    expect(() => interpolate(x, { size: 8, alignCorners: true })).toThrow(/interpolate: alignCorners can only be set with mode 'bilinear'/);
    expect(() => interpolate(x, { size: 8, mode: 'bicubic' as any })).toThrow(/interpolate: mode must be 'nearest' or 'bilinear'/);
  });
});
