import { beforeAll, describe, expect, it } from 'vitest';
import * as T from '@tessera/tensor';
import type { DeviceName, Tensor } from '@tessera/tensor';
import {
  backward,
  checkpoint,
  customVjp,
  grad,
  gradcheck,
  gradgradcheck,
  gradOf,
  hessian,
  hvp,
  jacobian,
  noGrad,
  jvp,
  stopGradient,
  valueAndGrad,
  vjp,
} from '../src/index.js';
import { BACKENDS, expectClose, floatFor, forEachBackend, numericJacobian, seeded, useDevices } from './helpers.js';

useDevices();
// init() makes webgpu the default device; tensors below name their device explicitly.
beforeAll(() => T.setDefaultDevice('cpu'));

const f64 = (data: ArrayLike<number>, shape: number[]) => T.tensor(Array.from(data), { dtype: 'float64', device: 'cpu', shape });
const rnd = (shape: number[], seed: number) => f64(seeded(shape.reduce((a, b) => a * b, 1), seed), shape);


function flatMemory() {
  const m = T.memory();
  return [m.tensors, m.bytes];
}

forEachBackend('grad and valueAndGrad', (device: DeviceName) => {
  const dtype = floatFor(device);
  const tol = dtype === 'float64' ? { atol: 1e-10, rtol: 1e-10 } : { atol: 1e-4, rtol: 1e-4 };
  const mk = (data: number[], shape?: number[]) => T.tensor(data, { dtype, device, shape });

  it('d/dx sum(x^3) = 3x^2 and d/dx sum(sin x) = cos x', async () => {
    const x = mk([0.5, -1, 2]);
    const g = grad((x: Tensor) => T.sum(T.pow(x, 3)))(x);
    await expectClose(g, [0.75, 3, 12], tol);
    const s = grad((x: Tensor) => T.sum(T.sin(x)))(x);
    await expectClose(s, [Math.cos(0.5), Math.cos(-1), Math.cos(2)], tol);
    // The caller's tensor is untouched.
    expect(x.requiresGrad).toBe(false);
    expect(x.grad).toBeNull();
    expect(g.requiresGrad).toBe(false);
    T.dispose([x, g, s]);
  });

  it('argnums: the gradients of a·b are (b, a)', async () => {
    const a = mk([1, 2, 3]);
    const b = mk([4, -5, 6]);
    const [ga, gb] = grad((a: Tensor, b: Tensor) => T.sum(T.mul(a, b)), { argnums: [0, 1] })(a, b);
    await expectClose(ga, b, tol);
    await expectClose(gb, a, tol);
    const only = grad((a: Tensor, b: Tensor) => T.sum(T.mul(a, b)), { argnums: 1 })(a, b);
    await expectClose(only, a, tol);
    T.dispose([a, b, ga, gb, only]);
  });

  it('quadratic form x^T A x: gradient (A + A^T) x, Hessian A + A^T', async () => {
    const A = mk([1, 2, 0, -1, 3, 1, 0.5, 0, 2], [3, 3]);
    const x = mk([1, -2, 0.5]);
    const q = (x: Tensor) => T.sum(T.mul(x, T.matmul(A, x)));
    const sym = T.add(A, T.transpose(A, 0, 1));
    const want = T.matmul(sym, x);
    const { value, grad: g } = valueAndGrad(q)(x);
    await expectClose(g, want, tol);
    await expectClose(value, T.div(T.sum(T.mul(x, want)), 2), tol);
    const H = hessian(q)(x);
    await expectClose(H, sym, tol);
    T.dispose([A, x, sym, want, value, g, H]);
  });

  it('pytrees: objects and arrays of tensors, other values carried along', async () => {
    const params = { w: mk([1, 2]), rest: [mk([3]), 'label'], scale: 2 };
    const loss = (p: typeof params) => T.mul(T.add(T.sum(T.square(p.w)), T.sum(T.mul(p.rest[0] as Tensor, p.w))), p.scale);
    const g = grad(loss)(params);
    expect(Object.keys(g)).toEqual(['w', 'rest', 'scale']);
    expect(g.scale).toBe(2);
    expect(g.rest[1]).toBe('label');
    await expectClose(g.w, [2 * (2 * 1 + 3), 2 * (2 * 2 + 3)], tol);
    await expectClose(g.rest[0], [2 * (1 + 2)], tol);
    T.dispose([params, g]);
  });

  it('hasAux: aux is returned, not differentiated', async () => {
    const x = mk([1, 2]);
    const f = (x: Tensor) => {
      const y = T.mul(x, x);
      return [T.sum(y), { y, n: 2 }];
    };
    const [g, aux] = grad(f, { hasAux: true })(x);
    await expectClose(g, [2, 4], tol);
    await expectClose(aux.y, [1, 4], tol);
    expect(aux.n).toBe(2);
    expect(aux.y.requiresGrad).toBe(false);
    const r = valueAndGrad(f, { hasAux: true })(x);
    await expectClose(r.value, [5], tol);
    await expectClose(r.grad, [2, 4], tol);
    T.dispose([x, g, aux, r]);
  });

  it('works inside noGrad, and its results never require gradients there', async () => {
    const x = mk([1, 2]);
    const w = mk([3, 4]).requiresGrad_();
    const g = noGrad(() => grad((x: Tensor) => T.sum(T.mul(T.pow(x, 3), w)))(x));
    await expectClose(g, [9, 48], tol);
    expect(g.requiresGrad).toBe(false);
    T.dispose([x, w, g]);
  });

  it('stays differentiable for backward when the function closes over tensors that require gradients', async () => {
    const x = mk([0.5, -1]);
    const w = mk([0.3, 0.7]).requiresGrad_();
    // d/dx sum(sin(w x)) = w cos(w x); the loss sum((w cos(w x))^2) has d/dw = 2 w cos^2(wx) - 2 w^2 x cos(wx) sin(wx).
    const loss = T.tidy(() => T.sum(T.square(grad((x: Tensor) => T.sum(T.sin(T.mul(w, x))))(x))));
    backward(loss);
    const want = [0.5, -1].map((xi, i) => {
      const wi = [0.3, 0.7][i];
      const c = Math.cos(wi * xi);
      return 2 * wi * c * c - 2 * wi * wi * xi * c * Math.sin(wi * xi);
    });
    await expectClose(w.grad!, want, tol);
    T.dispose([x, w, loss]);
  });

  it('rejects non-scalar outputs and integer inputs', () => {
    const x = mk([1, 2]);
    expect(() => grad((x: Tensor) => T.mul(x, 2))(x)).toThrow(/scalar/);
    const i = T.tensor([1, 2], { dtype: 'int32', device });
    expect(() => grad((i: Tensor) => T.sum(T.cast(i, dtype)))(i)).toThrow(/float/);
    T.dispose([x, i]);
  });

  it('gives zeros for an argument the output does not depend on', async () => {
    const a = mk([1, 2]);
    const b = mk([3]);
    const [ga, gb] = grad((a: Tensor, _b: Tensor) => T.sum(a), { argnums: [0, 1] })(a, b);
    await expectClose(ga, [1, 1], tol);
    await expectClose(gb, [0], tol);
    T.dispose([a, b, ga, gb]);
  });

  it('keeps memory flat over repeated transforms', () => {
    const x = mk([0.1, 0.2, 0.3]);
    const step = () => T.dispose(T.tidy(() => [grad((x: Tensor) => T.sum(T.tanh(T.mul(x, x))))(x), hessian((x: Tensor) => T.sum(T.pow(x, 3)))(x)]));
    step();
    const before = flatMemory();
    for (let i = 0; i < 10; i++) step();
    expect(flatMemory()).toEqual(before);
    x.dispose();
  });
});

forEachBackend('vjp and jvp', (device: DeviceName) => {
  const dtype = floatFor(device);
  const tol = dtype === 'float64' ? { atol: 1e-10, rtol: 1e-10 } : { atol: 1e-4, rtol: 1e-4 };
  const mk = (data: number[], shape?: number[]) => T.tensor(data, { dtype, device, shape });

  it('vjp: J^T v of an elementwise map, reusable, pytree outputs', async () => {
    const x = mk([0.5, 1, -1]);
    const r = vjp((x: Tensor) => ({ s: T.sin(x), sq: T.mul(x, x) }), x);
    await expectClose(r.out.s, [Math.sin(0.5), Math.sin(1), Math.sin(-1)], tol);
    const v = mk([1, 2, 3]);
    const [g1] = r.vjp({ s: v, sq: null });
    await expectClose(g1, [Math.cos(0.5), 2 * Math.cos(1), 3 * Math.cos(-1)], tol);
    const [g2] = r.vjp({ s: null, sq: v });
    await expectClose(g2, [1, 4, -6], tol);
    r.dispose();
    expect(() => r.vjp({ s: v, sq: v })).toThrow(/dispose/);
    T.dispose([x, v, r.out, g1, g2]);
  });

  it('jvp: J t of x -> sin(x) * sum(x^2) matches the analytic directional derivative', async () => {
    const x = mk([0.3, -0.7, 1.1]);
    const t = mk([1, 0.5, -2]);
    const { out, jvpOut } = jvp((x: Tensor) => T.mul(T.sin(x), T.sum(T.square(x))), [x], [t]);
    const xs = [0.3, -0.7, 1.1];
    const ts = [1, 0.5, -2];
    const s2 = xs.reduce((a, v) => a + v * v, 0);
    const dot = xs.reduce((a, v, i) => a + 2 * v * ts[i], 0);
    await expectClose(out, xs.map((v) => Math.sin(v) * s2), tol);
    await expectClose(jvpOut, xs.map((v, i) => Math.cos(v) * ts[i] * s2 + Math.sin(v) * dot), tol);
    T.dispose([x, t, out, jvpOut]);
  });

  it('jvp over two arguments with a null tangent', async () => {
    const a = mk([1, 2]);
    const b = mk([3, 4]);
    const ta = mk([1, 1]);
    const { jvpOut } = jvp((a: Tensor, b: Tensor) => T.mul(a, b), [a, b], [ta, null]);
    await expectClose(jvpOut, [3, 4], tol);
    T.dispose([a, b, ta, jvpOut]);
  });

  it('vjp of a function returning the same tensor twice', async () => {
    const x = mk([1, 2]);
    const r = vjp((x: Tensor) => {
      const y = T.mul(x, 3);
      return [y, y];
    }, x);
    const [g] = r.vjp([mk([1, 1]), mk([1, 0])]);
    await expectClose(g, [6, 3], tol);
    r.dispose();
    T.dispose([x, r.out, g]);
  });

  it('stopGradient blocks the gradient', async () => {
    const x = mk([2, 3]);
    const g = grad((x: Tensor) => T.sum(T.mul(x, stopGradient(x))))(x);
    await expectClose(g, [2, 3], tol);
    T.dispose([x, g]);
  });
});

describe('jacobian, hessian, hvp against finite differences (float64 cpu)', () => {
  const f = (x: Tensor) => T.mul(T.tanh(x), T.sum(T.exp(T.mul(x, 0.5))));
  const x = rnd([4], 3);

  it('jacobian in both modes', async () => {
    const num = numericJacobian(f, x);
    for (const mode of ['rev', 'fwd'] as const) {
      const J = jacobian(f, { mode })(x);
      expect([...J.shape]).toEqual([4, 4]);
      await expectClose(J, num, { atol: 1e-7, rtol: 1e-6 });
      J.dispose();
    }
    num.dispose();
  });

  it('jacobian of a matrix function of a matrix, and of pytrees, in both modes', async () => {
    const W = rnd([2, 3], 5);
    const g = (w: Tensor) => T.matmul(T.transpose(w, 0, 1), T.sin(w));
    const num = numericJacobian(g, W);
    for (const mode of ['rev', 'fwd'] as const) {
      const J = jacobian(g, { mode })(W);
      expect([...J.shape]).toEqual([3, 3, 2, 3]);
      await expectClose(J, num, { atol: 1e-7, rtol: 1e-6 });
      const P = jacobian((p: { a: Tensor; b: Tensor }) => [T.mul(p.a, p.b), T.sum(p.a)], { mode })({ a: x, b: T.exp(x) });
      await expectClose(P[0].b, T.mul(T.eye(4, 4, { dtype: 'float64', device: 'cpu' }), x), { atol: 1e-12 });
      await expectClose(P[1].a, [1, 1, 1, 1], { atol: 1e-12 });
      expect([...P[1].b.shape]).toEqual([4]);
      T.dispose([J, P]);
    }
    T.dispose([W, num]);
  });

  it('hessian and hvp', async () => {
    const s = (x: Tensor) => T.sum(T.mul(T.sin(x), T.sum(T.square(x))));
    const numH = numericJacobian((y) => grad(s)(y), x, 1e-5);
    const H = hessian(s)(x);
    await expectClose(H, numH, { atol: 1e-6, rtol: 1e-6 });
    const v = rnd([4], 9);
    const [hv] = hvp(s, [x], [v]);
    await expectClose(hv, T.matmul(H, v), { atol: 1e-10, rtol: 1e-10 });
    T.dispose([numH, H, v, hv]);
  });

  it('hessian with respect to a pytree', async () => {
    const p = { a: f64([0.5, -0.2], [2]), b: f64([1.5], [1]) };
    const s = (p: { a: Tensor; b: Tensor }) => T.sum(T.mul(T.square(p.a), T.exp(p.b)));
    const H = hessian(s)(p);
    const e = Math.exp(1.5);
    await expectClose(H.a.a, [2 * e, 0, 0, 2 * e], { atol: 1e-10 });
    await expectClose(H.a.b, [[2 * 0.5 * e], [2 * -0.2 * e]], { atol: 1e-10 });
    await expectClose(H.b.b, [[(0.25 + 0.04) * e]], { atol: 1e-10 });
    T.dispose([p, H]);
  });
});

describe('customVjp and checkpoint (float64 cpu)', () => {
  it('uses the custom backward (a scaled gradient), which is itself differentiable', async () => {
    const scaledSin = customVjp(
      (x: Tensor) => T.sin(x),
      (g: Tensor, { inputs }) => T.mul(T.mul(g, T.cos(inputs[0])), 2),
    );
    const x = f64([0.2, 1.3], [2]);
    await expectClose(scaledSin(x), [Math.sin(0.2), Math.sin(1.3)]);
    const g = grad((x: Tensor) => T.sum(scaledSin(x)))(x);
    await expectClose(g, [2 * Math.cos(0.2), 2 * Math.cos(1.3)], { atol: 1e-12 });
    const H = hessian((x: Tensor) => T.sum(scaledSin(x)))(x);
    await expectClose(H, [[-2 * Math.sin(0.2), 0], [0, -2 * Math.sin(1.3)]], { atol: 1e-12 });
    // PyTorch face too.
    const y = T.clone(x).requiresGrad_();
    backward(T.sum(scaledSin(y)));
    await expectClose(y.grad!, g);
    T.dispose([x, g, H, y]);
  });

  it('passes residuals, several outputs and inputs (residuals are constants to higher order)', async () => {
    const f = customVjp(
      (a: Tensor, b: Tensor) => {
        const e = T.exp(a);
        return { out: [T.mul(e, b), T.add(a, b)], saved: [e] };
      },
      ([g0, g1]: Tensor[], { inputs, saved }) => [T.add(T.mul(T.mul(g0, saved[0]), inputs[1]), g1), T.add(T.mul(g0, saved[0]), g1)],
    );
    const a = f64([0.1, 0.4], [2]);
    const b = f64([2, -1], [2]);
    expect(gradcheck((a, b) => f(a, b), [a, b])).toBe(true);
    const [ga, gb] = grad((a: Tensor, b: Tensor) => T.sum(f(a, b)[0]), { argnums: [0, 1] })(a, b);
    await expectClose(ga, [2 * Math.exp(0.1), -Math.exp(0.4)], { atol: 1e-12 });
    await expectClose(gb, [Math.exp(0.1), Math.exp(0.4)], { atol: 1e-12 });
    T.dispose([a, b, ga, gb]);
  });

  it('checkpoint: same gradients (first and second order) as without, recomputing once per backward', async () => {
    let calls = 0;
    const block = (x: Tensor, w: Tensor) => {
      calls++;
      return T.tanh(T.matmul(x, w));
    };
    const ck = checkpoint(block);
    const x = rnd([2, 3], 11);
    const w = rnd([3, 3], 12);
    const loss = (b: typeof block) => (x: Tensor, w: Tensor) => T.sum(T.square(b(x, w)));
    const [gx, gw] = grad(loss(block), { argnums: [0, 1] })(x, w);
    calls = 0;
    const [cx, cw] = grad(loss(ck), { argnums: [0, 1] })(x, w);
    expect(calls).toBe(2);
    await expectClose(cx, gx, { atol: 1e-12 });
    await expectClose(cw, gw, { atol: 1e-12 });
    const H = hessian(loss(block), { argnums: 1 })(x, w);
    const Hc = hessian(loss(ck), { argnums: 1 })(x, w);
    await expectClose(Hc, H, { atol: 1e-10 });
    expect(gradgradcheck((x, w) => ck(x, w), [x, w])).toBe(true);
    T.dispose([x, w, gx, gw, cx, cw, H, Hc]);
  });

  it('checkpoint keeps memory flat and holds only the inputs between forward and backward', () => {
    const ck = checkpoint((x: Tensor) => T.exp(T.tanh(T.sin(T.mul(x, 3)))));
    const w = rnd([16], 13).requiresGrad_();
    const step = () => {
      const loss = T.tidy(() => T.sum(ck(w)));
      backward(loss);
      loss.dispose();
    };
    step();
    const before = flatMemory();
    for (let i = 0; i < 20; i++) step();
    expect(flatMemory()).toEqual(before);
    // Between forward and backward, the checkpointed graph holds only the input view and the output.
    const base = T.memory().tensors;
    const loss = T.tidy(() => T.sum(ck(w)));
    const held = T.memory().tensors - base;
    loss.dispose();
    const plain = T.tidy(() => T.sum(T.exp(T.tanh(T.sin(T.mul(w, 3))))));
    const heldPlain = T.memory().tensors - base;
    plain.dispose();
    expect(held).toBeLessThan(heldPlain);
    w.dispose();
  });
});

describe('PyTorch-face errors and conventions', () => {
  it('backward of a non-scalar needs a gradient', async () => {
    const x = f64([1, 2], [2]).requiresGrad_();
    const y = T.mul(x, 3);
    expect(() => backward(y)).toThrow(/gradient must be given/);
    const v = f64([1, -1], [2]);
    backward(y, { gradient: v });
    await expectClose(x.grad!, [3, -3]);
    T.dispose([x, y, v]);
  });

  it('a second backward needs retainGraph on the first; .grad accumulates', async () => {
    const x = f64([1, 2], [2]).requiresGrad_();
    const y = T.sum(T.exp(x));
    backward(y);
    expect(() => backward(y)).toThrow(/already freed|retainGraph/);
    x.grad!.dispose();
    x.grad = null;
    const z = T.sum(T.exp(x));
    backward(z, { retainGraph: true });
    backward(z);
    await expectClose(x.grad!, [2 * Math.E, 2 * Math.exp(2)], { atol: 1e-12 });
    T.dispose([x, y, z]);
  });

  it('requiresGrad only on float tensors', () => {
    const i = T.tensor([1, 2], { dtype: 'int32', device: 'cpu' });
    const b = T.tensor([true, false], { dtype: 'bool', device: 'cpu' });
    expect(() => i.requiresGrad_()).toThrow(/float/);
    expect(() => b.requiresGrad_()).toThrow(/float/);
    T.dispose([i, b]);
  });

  it('grad of an output that does not depend on an input: an error, or null / zeros on request', async () => {
    const x = f64([1, 2], [2]).requiresGrad_();
    const u = f64([3], [1]).requiresGrad_();
    const y = T.sum(T.square(x));
    expect(() => gradOf([y], [x, u], { retainGraph: true })).toThrow(/not used/);
    const [gx, gu] = gradOf([y], [x, u], { retainGraph: true, allowUnused: true });
    expect(gu).toBeNull();
    await expectClose(gx!, [2, 4]);
    const [, zu] = gradOf([y], [x, u], { materialize: true });
    await expectClose(zu!, [0]);
    T.dispose([x, u, y, gx, zu]);
  });

  it('.grad of a leaf is not touched by gradOf or the functional transforms', () => {
    const x = f64([1, 2], [2]).requiresGrad_();
    const [g] = gradOf([T.tidy(() => T.sum(T.square(x)))], [x]);
    const h = grad((x: Tensor) => T.sum(x))(x);
    expect(x.grad).toBeNull();
    T.dispose([x, g, h]);
  });

  it.runIf(BACKENDS.includes('webgpu'))('mixing devices is an error', () => {
    const a = f64([1, 2], [2]).requiresGrad_();
    const b = T.tensor([1, 2], { dtype: 'float32', device: 'webgpu' }).requiresGrad_();
    expect(() => T.add(a, b)).toThrow(/device/);
    T.dispose([a, b]);
  });
});
