/**
 * The webgpu convolutions (implicit GEMM with 8-lane subgroups, direct kernels otherwise) against
 * the cpu in float64: stride, padding ('same' included), dilation, groups, odd sizes, bias,
 * transposed convolutions with output padding, non-contiguous inputs, and the weight-gradient
 * form @tessera/autodiff builds (a conv with batch and channels exchanged: long reductions that
 * take the split-K path).
 */
import { afterAll, describe, expect, it } from 'vitest';
import * as T from '../src/index.js';
import { BACKENDS, expectFlatMemory, seeded64, useDevices } from './helpers.js';

const value = (shape: number[], seed: number, device: T.DeviceName, dtype: T.DType) =>
  T.tensor(seeded64(shape.reduce((a, b) => a * b, 1), seed), { dtype, device, shape });

/** Compares a webgpu result with the float64 cpu result of the same computation. */
async function expectSame(compute: (device: T.DeviceName, dtype: T.DType) => T.Tensor, reduction: number): Promise<void> {
  const y = compute('webgpu', 'float32');
  const ref = compute('cpu', 'float64');
  expect([...y.shape]).toEqual([...ref.shape]);
  const [got, want] = [await y.data(), await ref.data()];
  const tol = 1e-5 + 2e-7 * reduction;
  const bad: string[] = [];
  for (let i = 0; i < want.length; i++) if (!(Math.abs(got[i] - want[i]) <= tol) && bad.length < 5) bad.push(`[${i}] ${got[i]} vs ${want[i]}`);
  expect(bad, `mismatches (tolerance ${tol})`).toEqual([]);
  T.dispose([y, ref]);
}

interface ConvCase {
  x: number[];
  w: number[];
  bias?: boolean;
  opts: T.ConvOptions;
}

const CONV2D: ConvCase[] = [
  { x: [2, 3, 9, 11], w: [5, 3, 3, 3], bias: true, opts: {} },
  { x: [1, 4, 10, 7], w: [6, 4, 3, 2], opts: { stride: [2, 3], padding: [1, 2] } },
  { x: [2, 4, 12, 12], w: [8, 2, 3, 3], bias: true, opts: { groups: 2, dilation: 2, padding: 2 } },
  { x: [3, 6, 8, 9], w: [6, 1, 3, 3], opts: { groups: 6, padding: 'same' } },
  { x: [2, 5, 7, 6], w: [17, 5, 1, 1], bias: true, opts: {} },
  { x: [1, 2, 13, 13], w: [3, 2, 4, 4], opts: { padding: 'same', dilation: [1, 2] } },
  { x: [4, 1, 28, 28], w: [32, 1, 3, 3], bias: true, opts: {} },
  { x: [2, 16, 6, 6], w: [40, 16, 3, 3], opts: { padding: 1 } },
  { x: [0, 3, 5, 5], w: [2, 3, 3, 3], opts: {} },
];

const CONV_TRANSPOSE2D: { x: number[]; w: number[]; bias?: boolean; opts: T.ConvTransposeOptions }[] = [
  { x: [2, 3, 5, 6], w: [3, 4, 3, 3], bias: true, opts: {} },
  { x: [2, 4, 5, 5], w: [4, 3, 3, 3], opts: { stride: 2, padding: 1, outputPadding: 1 } },
  { x: [1, 4, 6, 4], w: [4, 2, 2, 3], bias: true, opts: { stride: [3, 2], groups: 2, dilation: [1, 2] } },
  { x: [3, 32, 6, 6], w: [32, 1, 3, 3], opts: {} },
];

const reductionOf = (w: number[], transposed: boolean, groups = 1) => (transposed ? (w[0] / groups) * w[2] * w[3] : w[1] * w[2] * w[3]);

/**
 * conv2d's weight gradient as @tessera/autodiff composes it: a conv of the input with the output
 * gradient, batch and channels exchanged, stride and dilation swapped.
 */
function weightGrad(x: T.Tensor, gy: T.Tensor, kernel: number[], stride: number[], padding: number[], dilation: number[], groups: number): T.Tensor {
  return T.tidy(() => {
    const [N, C, H, W] = x.shape;
    const [, O, OH, OW] = gy.shape;
    const a = T.reshape(T.permute(T.reshape(x, [N, groups, C / groups, H, W]), [2, 1, 0, 3, 4]), [C / groups, groups * N, H, W]);
    const b = T.reshape(T.permute(T.reshape(gy, [N, groups, O / groups, OH, OW]), [1, 2, 0, 3, 4]), [O, N, OH, OW]);
    const r = T.conv2d(a, b, null, { stride: dilation, dilation: stride, padding, groups });
    return T.contiguous(T.narrow(T.narrow(T.transpose(r, 0, 1), 2, 0, kernel[0]), 3, 0, kernel[1]));
  });
}

describe('the weight-gradient form on the cpu', () => {
  it('equals the definition dW[o, c, ky, kx] = sum over n, oy, ox of gy[n, o, oy, ox] x[n, c, oy s - p + ky d, ox s - p + kx d]', async () => {
    const [N, C, H, W, O] = [2, 2, 7, 6, 3];
    const [k, s, p, d] = [[3, 2], [2, 1], [1, 0], [1, 2]];
    const OH = Math.floor((H + 2 * p[0] - d[0] * (k[0] - 1) - 1) / s[0]) + 1;
    const OW = Math.floor((W + 2 * p[1] - d[1] * (k[1] - 1) - 1) / s[1]) + 1;
    const xv = seeded64(N * C * H * W, 21);
    const gv = seeded64(N * O * OH * OW, 22);
    const x = T.tensor(xv, { dtype: 'float64', device: 'cpu', shape: [N, C, H, W] });
    const gy = T.tensor(gv, { dtype: 'float64', device: 'cpu', shape: [N, O, OH, OW] });
    const dw = await weightGrad(x, gy, k, s, p, d, 1).data();
    const want: number[] = [];
    for (let o = 0; o < O; o++) for (let c = 0; c < C; c++) for (let ky = 0; ky < k[0]; ky++) for (let kx = 0; kx < k[1]; kx++) {
      let acc = 0;
      for (let n = 0; n < N; n++) for (let oy = 0; oy < OH; oy++) for (let ox = 0; ox < OW; ox++) {
        const iy = oy * s[0] - p[0] + ky * d[0];
        const ix = ox * s[1] - p[1] + kx * d[1];
        if (iy >= 0 && iy < H && ix >= 0 && ix < W) acc += gv[((n * O + o) * OH + oy) * OW + ox] * xv[((n * C + c) * H + iy) * W + ix];
      }
      want.push(acc);
    }
    expect(Array.from(dw).map((v, i) => Math.abs(v - want[i]) < 1e-12)).toEqual(want.map(() => true));
    T.dispose([x, gy]);
  });
});

if (BACKENDS.includes('webgpu')) {
  useDevices();
  const families = (): ('subgroups' | 'portable')[] => (T.webgpuBackend()!.subgroups8 ? ['subgroups', 'portable'] : ['portable']);
  let original: boolean | undefined;
  const use = (family: 'subgroups' | 'portable') => {
    const gpu = T.webgpuBackend()!;
    original ??= gpu.subgroups8;
    gpu.subgroups8 = family === 'subgroups';
  };

  describe('webgpu convolutions against float64 on the cpu', () => {
    afterAll(() => {
      if (original !== undefined) T.webgpuBackend()!.subgroups8 = original;
    });

    for (const c of CONV2D) {
      it(`conv2d x ${JSON.stringify(c.x)} w ${JSON.stringify(c.w)} ${JSON.stringify(c.opts)}${c.bias ? ' + bias' : ''}`, async () => {
        for (const family of families()) {
          use(family);
          await expectSame((device, dtype) => T.tidy(() => T.conv2d(value(c.x, 1, device, dtype), value(c.w, 2, device, dtype), c.bias ? value([c.w[0]], 3, device, dtype) : null, c.opts)), reductionOf(c.w, false));
        }
      });
    }

    it('conv1d with stride, padding, dilation and groups', async () => {
      for (const family of families()) {
        use(family);
        await expectSame((device, dtype) => T.tidy(() => T.conv1d(value([3, 4, 23], 4, device, dtype), value([6, 2, 5], 5, device, dtype), value([6], 6, device, dtype), { stride: 2, padding: 3, dilation: 2, groups: 2 })), 10);
      }
    });

    for (const c of CONV_TRANSPOSE2D) {
      it(`convTranspose2d x ${JSON.stringify(c.x)} w ${JSON.stringify(c.w)} ${JSON.stringify(c.opts)}${c.bias ? ' + bias' : ''}`, async () => {
        for (const family of families()) {
          use(family);
          const groups = c.opts.groups ?? 1;
          await expectSame((device, dtype) => T.tidy(() => T.convTranspose2d(value(c.x, 7, device, dtype), value(c.w, 8, device, dtype), c.bias ? value([c.w[1] * groups], 9, device, dtype) : null, c.opts)), reductionOf(c.w, true, groups));
        }
      });
    }

    it('convTranspose1d with stride and output padding', async () => {
      for (const family of families()) {
        use(family);
        await expectSame((device, dtype) => T.tidy(() => T.convTranspose1d(value([2, 3, 9], 10, device, dtype), value([3, 5, 4], 11, device, dtype), null, { stride: 3, padding: 1, outputPadding: 2 })), 12);
      }
    });

    it('reads non-contiguous inputs and weights (channels-last input, sliced weight)', async () => {
      for (const family of families()) {
        use(family);
        await expectSame((device, dtype) => T.tidy(() => {
          const x = T.permute(T.contiguous(T.permute(value([2, 5, 9, 8], 12, device, dtype), [0, 2, 3, 1])), [0, 3, 1, 2]);
          const w = T.narrow(value([7, 5, 3, 3], 13, device, dtype), 0, 1, 6);
          return T.conv2d(x, w, null, { padding: 1, stride: 2 });
        }), 45);
      }
    });

    const GRADS: { x: number[]; o: number; k: number[]; stride: number[]; padding: number[]; dilation: number[]; groups: number }[] = [
      { x: [64, 1, 28, 28], o: 32, k: [3, 3], stride: [1, 1], padding: [0, 0], dilation: [1, 1], groups: 1 },
      { x: [3, 4, 11, 10], o: 6, k: [3, 2], stride: [2, 1], padding: [1, 0], dilation: [1, 2], groups: 2 },
      { x: [8, 3, 16, 16], o: 5, k: [5, 5], stride: [1, 1], padding: [2, 2], dilation: [1, 1], groups: 1 },
    ];
    for (const g of GRADS) {
      it(`conv2d weight gradient form, x ${JSON.stringify(g.x)} -> ${g.o} channels, kernel ${JSON.stringify(g.k)}, groups ${g.groups}`, async () => {
        const [N, C, H, W] = g.x;
        const out = [0, 1].map((d) => Math.floor((g.x[2 + d] + 2 * g.padding[d] - g.dilation[d] * (g.k[d] - 1) - 1) / g.stride[d]) + 1);
        for (const family of families()) {
          use(family);
          await expectSame((device, dtype) => T.tidy(() => weightGrad(value([N, C, H, W], 14, device, dtype), value([N, g.o, out[0], out[1]], 15, device, dtype), g.k, g.stride, g.padding, g.dilation, g.groups)), N * out[0] * out[1]);
        }
      });
    }

    it('keeps memory flat over convolutions on the split-K path', () => {
      const x = T.rand([16, 1, 28, 28], { device: 'webgpu' });
      const gy = T.rand([16, 8, 26, 26], { device: 'webgpu' });
      const step = () => T.tidy(() => {
        weightGrad(x, gy, [3, 3], [1, 1], [0, 0], [1, 1], 1);
      });
      expectFlatMemory(step, 5);
      T.dispose([x, gy]);
    });
  });
}
