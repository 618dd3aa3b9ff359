/**
 * Test harness for @tessera/autodiff. The backend set-up (every suite runs on each backend in
 * TESSERA_BACKENDS, default "cpu,webgpu"; a requested backend that cannot start fails the suite,
 * it is never skipped) and expectClose are shared with packages/tensor/test/helpers.ts; only the
 * autodiff-specific helpers live here.
 */
import { expect } from 'vitest';
import * as T from '@tessera/tensor';
import type { DeviceName, Tensor } from '@tessera/tensor';
import { backward, gradcheck, gradgradcheck } from '../src/index.js';
import { expectClose, seeded64 } from '../../tensor/test/helpers.js';

export { BACKENDS, expectClose, forEachBackend, useDevices, type CloseOptions } from '../../tensor/test/helpers.js';

/** A deterministic pseudo-random array in [-1, 1) (xorshift), unrounded (float64). */
export const seeded: (n: number, seed?: number) => Float64Array = seeded64;

/** The float dtype to test in on a device: float64 where supported (cpu), float32 on webgpu. */
export const floatFor = (device: DeviceName) => (device === 'webgpu' ? 'float32' : 'float64') as 'float32' | 'float64';

export interface DeviceGradOptions {
  atol?: number;
  rtol?: number;
  /**
   * The weights w_k of the loss sum_k sum(y_k * w_k) for output k of shape `shape` (the same
   * numbers on both devices). Default: seeded(size, 99 + k).
   */
  weights?: (shape: readonly number[], k: number) => ArrayLike<number>;
}

/** Weights for expectGradsMatchAcrossDevices: standard normal float32 draws of Generator(seed + k). */
export const randnWeights = (seed: number) => (shape: readonly number[], k: number) =>
  T.tidy(() => Array.from(T.randn([...shape], { generator: new T.Generator(seed + k), device: 'cpu' }).dataSync(), Number));

/**
 * Checks that webgpu computes the same gradients as cpu, in float32. Builds float32 copies of
 * `inputs` (tensors on cpu, of any float dtype) on cpu and on webgpu, requiring grad; runs `f` on
 * each set and backward of sum_k sum(y_k * w_k) over its outputs y_k; then compares each webgpu
 * input's .grad (which must exist and live on webgpu) with cpu's: |a - e| <= atol + rtol |e|
 * (default 1e-4 each). `f` gets the inputs on one device: tensors it makes itself (indices,
 * masks) go on `xs[0].device`. Disposes the copies, their gradients and `inputs`. Always `await` it.
 */
export async function expectGradsMatchAcrossDevices(
  f: (...xs: Tensor[]) => Tensor | Tensor[],
  inputs: readonly Tensor[],
  { atol = 1e-4, rtol = 1e-4, weights = (shape, k) => seeded(shape.reduce((a, b) => a * b, 1), 99 + k) }: DeviceGradOptions = {},
): Promise<void> {
  const copies = (device: DeviceName) =>
    inputs.map((x) => T.tensor(Array.from(x.dataSync(), Number), { dtype: 'float32', device, shape: x.shape }).requiresGrad_());
  const run = (device: DeviceName) => {
    const xs = copies(device);
    T.tidy(() => {
      const out = f(...xs);
      const ys = Array.isArray(out) ? out : [out];
      const terms = ys.map((y, k) => T.sum(T.mul(y, T.tensor(Array.from(weights(y.shape, k), Number), { dtype: 'float32', device, shape: y.shape }))));
      backward(terms.reduce((a, b) => T.add(a, b)));
    });
    return xs;
  };
  const cpu = run('cpu');
  const gpu: Tensor[] = [];
  try {
    gpu.push(...run('webgpu'));
    for (let i = 0; i < inputs.length; i++) {
      const want = cpu[i].grad;
      const got = gpu[i].grad;
      expect(want, `cpu gradient of input ${i}`).toBeTruthy();
      expect(got, `webgpu gradient of input ${i}`).toBeTruthy();
      expect(got!.device).toBe('webgpu');
      await expectClose(got!, want!, { atol, rtol });
    }
  } finally {
    // Disposing a leaf disposes its .grad.
    T.dispose([...cpu, ...gpu, ...inputs]);
  }
}

/**
 * gradcheck of f, and gradgradcheck of f squared, at the given float64 inputs (which it disposes):
 * squaring makes the cotangent depend on the inputs, so that the second-order check also covers
 * the gradients of the rule's own ops with respect to the cotangent (for ops linear in an input,
 * gradgradcheck of f alone would only see zeros).
 */
export function checkFirstAndSecondOrder(f: (...xs: Tensor[]) => Tensor, xs: Tensor[]): void {
  try {
    expect(gradcheck(f, xs)).toBe(true);
    expect(gradgradcheck((...ys) => {
      const y = f(...ys);
      return T.mul(y, y);
    }, xs)).toBe(true);
  } finally {
    T.dispose(xs);
  }
}

/** Central differences of `f` (tensor -> tensor) at x along every basis direction: [...out, ...x] like jacobian. */
export function numericJacobian(f: (x: Tensor) => Tensor, x: Tensor, eps = 1e-6): Tensor {
  return T.tidy(() => {
    const cols: Tensor[] = [];
    const eye = T.eye(x.size, x.size, { dtype: 'float64', device: 'cpu' });
    let outShape: readonly number[] = [];
    for (let e = 0; e < x.size; e++) {
      const d = T.mul(T.reshape(T.select(eye, 0, e), x.shape), eps);
      const up = f(T.add(x, d));
      const down = f(T.sub(x, d));
      outShape = up.shape;
      cols.push(T.div(T.sub(up, down), 2 * eps));
    }
    return T.reshape(T.stack(cols, outShape.length), [...outShape, ...x.shape]);
  });
}

