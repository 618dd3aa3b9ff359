/**
 * Finite-difference checks of gradient rules, in float64 on the cpu device.
 *
 * gradcheck compares, for random cotangents v, the analytic vector-Jacobian product J^T v with
 * central differences of <v, f(x)>. gradgradcheck applies the same test to x -> J^T v built with
 * `createGraph`, which checks the rules' own gradients (second order).
 */
import * as T from '@tessera/tensor';
import type { Tensor } from '@tessera/tensor';
import { gradOf } from './engine.js';

export interface GradcheckOptions {
  eps?: number;
  atol?: number;
  rtol?: number;
  /** Random cotangents to try (default 2). */
  projections?: number;
  seed?: number;
}

export type DiffFn = (...inputs: Tensor[]) => Tensor | Tensor[];

const asList = (r: Tensor | Tensor[]) => (Array.isArray(r) ? r : [r]);

function checkInputs(op: string, inputs: readonly Tensor[]) {
  for (const x of inputs) {
    if (!(x instanceof T.Tensor)) throw new TypeError(`${op}: inputs must be tensors`);
    if (x.device !== 'cpu' || x.dtype !== 'float64') {
      throw new TypeError(`${op}: inputs must be float64 tensors on cpu (finite differences need double precision), received ${x.dtype} on ${x.device}`);
    }
  }
}

/** <v, f(x)> summed over all outputs, in plain numbers. */
function project(f: DiffFn, xs: Tensor[], vs: Float64Array[]): number {
  return T.tidy(() => {
    const outs = asList(f(...xs));
    let s = 0;
    outs.forEach((o, k) => {
      const d = o.dataSync();
      for (let i = 0; i < d.length; i++) s += d[i] * vs[k][i];
    });
    return s;
  });
}

export interface GradcheckFailure {
  input: number;
  index: number;
  analytic: number;
  numeric: number;
}

/**
 * Throws (listing the worst elements) unless analytic and numeric J^T v agree within
 * |a - n| <= atol + rtol |n| for every input element; returns true otherwise.
 */
export function gradcheck(f: DiffFn, inputs: readonly Tensor[], options: GradcheckOptions = {}): true {
  checkInputs('gradcheck', inputs);
  const { eps = 1e-6, atol = 1e-5, rtol = 1e-3, projections = 2, seed = 0 } = options;
  const gen = new T.Generator(seed);
  for (let p = 0; p < projections; p++) {
    const failures: GradcheckFailure[] = [];
    T.tidy(() => {
      const xs = inputs.map((x) => T.clone(x).requiresGrad_());
      const outs = asList(f(...xs));
      const vs = outs.map((o) => T.randn(o.shape, { dtype: 'float64', device: 'cpu', generator: gen }));
      const grads = gradOf(outs, xs, { gradients: vs, allowUnused: true });
      const vArr = vs.map((v) => v.dataSync() as Float64Array);
      // Inputs require gradients so that f may itself differentiate (gradgradcheck).
      const plain = inputs.map((x) => T.clone(x).requiresGrad_());
      plain.forEach((x, k) => {
        const data = x.dataSync();
        const analytic = grads[k]?.dataSync();
        for (let i = 0; i < data.length; i++) {
          const buf = (x as unknown as { storage: { data: Float64Array } }).storage.data;
          const orig = buf[i];
          buf[i] = orig + eps;
          const up = project(f, plain, vArr);
          buf[i] = orig - eps;
          const down = project(f, plain, vArr);
          buf[i] = orig;
          const numeric = (up - down) / (2 * eps);
          const a = analytic ? analytic[i] : 0;
          if (!(Math.abs(a - numeric) <= atol + rtol * Math.abs(numeric))) failures.push({ input: k, index: i, analytic: a, numeric });
        }
      });
      for (const g of grads) g?.dispose();
    });
    if (failures.length) {
      const worst = failures.slice(0, 5).map((f) => `input ${f.input}[${f.index}]: analytic ${f.analytic}, numeric ${f.numeric}`).join('; ');
      throw new Error(`gradcheck: ${failures.length} element(s) disagree — ${worst}`);
    }
  }
  return true;
}

/** gradcheck of the first-order gradient itself (second order), through `createGraph`. */
export function gradgradcheck(f: DiffFn, inputs: readonly Tensor[], options: GradcheckOptions = {}): true {
  checkInputs('gradgradcheck', inputs);
  const gen = new T.Generator((options.seed ?? 0) + 1000);
  const vs = T.tidy(() => {
    const outs = asList(f(...inputs.map((x) => T.clone(x))));
    return outs.map((o) => T.keep(T.randn(o.shape, { dtype: 'float64', device: 'cpu', generator: gen })));
  });
  try {
    const firstOrder: DiffFn = (...xs) => {
      const outs = asList(f(...xs));
      const gs = gradOf(outs, xs, { gradients: vs, createGraph: true, materialize: true });
      return gs as Tensor[];
    };
    return gradcheck(firstOrder, inputs, options);
  } finally {
    for (const v of vs) v.dispose();
  }
}
