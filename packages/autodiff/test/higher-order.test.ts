/**
 * Gradients of gradients on small models, checked against finite differences in float64 on cpu:
 * a WGAN-GP penalty, Hutchinson trace estimates, exact Hessians and forward-mode products.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import * as T from '@tessera/tensor';
import type { Tensor } from '@tessera/tensor';
import { backward, grad, gradcheck, gradOf, hessian, jacobian, jvp, vjp } from '../src/index.js';
import { expectClose, numericJacobian, seeded, useDevices } from './helpers.js';

useDevices();
beforeAll(() => T.setDefaultDevice('cpu'));

const f64 = (data: ArrayLike<number>, shape: number[]) => T.tensor(Array.from(data), { dtype: 'float64', device: 'cpu', shape });
const rnd = (shape: number[], seed: number, scale = 1) => f64(Array.from(seeded(shape.reduce((a, b) => a * b, 1), seed), (v) => v * scale), shape);


describe('WGAN-GP: gradient of the gradient penalty with respect to the critic weights', () => {
  const B = 3;
  const d = 4;
  const H = 5;
  const W1 = rnd([H, d], 1, 0.8);
  const b1 = rnd([H], 2, 0.3);
  const w2 = rnd([H], 3);
  const X = rnd([B, d], 4);

  /** D(x) = w2 · tanh(W1 x + b1), one score per row of x. */
  const critic = (W1: Tensor, b1: Tensor, w2: Tensor, x: Tensor) => T.matmul(T.tanh(T.add(T.matmul(x, T.transpose(W1, 0, 1)), b1)), w2);
  /** mean over the batch of (||∇_x D(x̂)||_2 - 1)^2; the rows are independent, so ∇ of sum D gives every row's gradient. */
  const penalty = (W1: Tensor, b1: Tensor, w2: Tensor, x: Tensor) => {
    const g = grad((x: Tensor) => T.sum(critic(W1, b1, w2, x)))(x) as Tensor;
    const norms = T.sqrt(T.sum(T.square(g), { dim: 1 }));
    return T.mean(T.square(T.sub(norms, 1)));
  };

  it('functional face: d penalty / d W1 (and b1, w2) match finite differences', async () => {
    const [gW1, gb1, gw2] = grad(penalty, { argnums: [0, 1, 2] })(W1, b1, w2, X);
    await expectClose(gW1, numericJacobian((w) => penalty(w, b1, w2, X), W1), { atol: 1e-7, rtol: 1e-6 });
    await expectClose(gb1, numericJacobian((b) => penalty(W1, b, w2, X), b1), { atol: 1e-7, rtol: 1e-6 });
    await expectClose(gw2, numericJacobian((w) => penalty(W1, b1, w, X), w2), { atol: 1e-7, rtol: 1e-6 });
    T.dispose([gW1, gb1, gw2]);
  });

  it('PyTorch face: parameters with requiresGrad, gradOf with createGraph, then backward', async () => {
    const w = T.clone(W1).requiresGrad_();
    const x = T.clone(X).requiresGrad_();
    const loss = T.tidy(() => {
      const [g] = gradOf([T.sum(critic(w, b1, w2, x))], [x], { createGraph: true });
      const norms = T.sqrt(T.sum(T.square(g!), { dim: 1 }));
      return T.mean(T.square(T.sub(norms, 1)));
    });
    backward(loss);
    await expectClose(w.grad!, numericJacobian((v) => penalty(v, b1, w2, X), W1), { atol: 1e-7, rtol: 1e-6 });
    T.dispose([w, x, loss]);
  });

  it('passes gradcheck as a function of the weights (third-order rules inside)', () => {
    expect(gradcheck((W1, b1, w2) => penalty(W1, b1, w2, X), [W1, b1, w2])).toBe(true);
  });
});

describe('Hutchinson trace estimation of the Jacobian of tanh(W x)', () => {
  const n = 4;
  const W = rnd([n, n], 21, 0.6);
  const x = rnd([n], 22);
  const f = (W: Tensor) => (x: Tensor) => T.tanh(T.matmul(W, x));
  const exactTrace = (W: Tensor) => T.trace(jacobian(f(W))(x) as Tensor);
  /** v^T (∂f/∂x) v through one vector-Jacobian product. */
  const estimate = (W: Tensor, v: Tensor) => {
    const r = vjp(f(W), x);
    const [jtv] = r.vjp(v) as Tensor[];
    const s = T.sum(T.mul(jtv, v));
    r.dispose();
    T.dispose([r.out, jtv]);
    return s;
  };

  it('the mean of v^T J v over Rademacher v approaches the exact trace', () => {
    const J = jacobian(f(W))(x) as Tensor;
    const exact = T.trace(J).dataSync()[0];
    // Exact variance of one Rademacher sample: sum over i != j of (J_ij + J_ji)^2 / 2.
    const Jd = J.dataSync();
    let variance = 0;
    for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) if (i !== j) variance += (Jd[i * n + j] + Jd[j * n + i]) ** 2 / 4;
    const N = 400;
    const gen = new T.Generator(5);
    const r = vjp(f(W), x);
    let total = 0;
    for (let k = 0; k < N; k++) {
      total += T.tidy(() => {
        const v = T.sign(T.randn([n], { dtype: 'float64', device: 'cpu', generator: gen }));
        const [jtv] = r.vjp(v) as Tensor[];
        return T.sum(T.mul(jtv, v)).dataSync()[0];
      });
    }
    r.dispose();
    T.dispose([r.out, J]);
    expect(Math.abs(total / N - exact)).toBeLessThan(4 * Math.sqrt((2 * variance) / N) + 1e-12);
  });

  it('the exact trace (via jacobian) and the single-v estimate differentiate correctly with respect to W', async () => {
    const gExact = grad(exactTrace)(W) as Tensor;
    await expectClose(gExact, numericJacobian(exactTrace, W), { atol: 1e-7, rtol: 1e-6 });
    // Closed form: tr J = sum_i (1 - y_i^2) W_ii with y = tanh(W x).
    const closed = (W: Tensor) => T.sum(T.mul(T.sub(1, T.square(T.tanh(T.matmul(W, x)))), T.diagonal(W)));
    await expectClose(exactTrace(W), closed(W), { atol: 1e-12 });
    const v = f64([1, -1, -1, 1], [n]);
    const gEst = grad((W: Tensor) => estimate(W, v))(W) as Tensor;
    await expectClose(gEst, numericJacobian((w) => estimate(w, v), W), { atol: 1e-7, rtol: 1e-6 });
    T.dispose([gExact, v, gEst]);
  });
});

describe('exact Hessians of small functions against finite differences of the gradient', () => {
  const cases: [string, (x: Tensor) => Tensor, number[]][] = [
    ['logsumexp + quartic', (x) => T.add(T.logsumexp(x, { dim: 0 }), T.div(T.sum(T.pow(x, 4)), 4)), [5]],
    ['Rosenbrock', (x) => {
      const a = T.slice(x, 0, 0, 3);
      const b = T.slice(x, 0, 1, 4);
      return T.sum(T.add(T.mul(T.square(T.sub(b, T.square(a))), 100), T.square(T.sub(1, a))));
    }, [4]],
    ['softmax cross-entropy of a matrix', (x) => T.neg(T.sum(T.select(T.logSoftmax(x, 1), 1, 0))), [2, 3]],
    ['log det of a regularised Gram matrix', (x) => T.slogdet(T.add(T.matmul(x, T.transpose(x, 0, 1)), T.eye(2, 2, { dtype: 'float64', device: 'cpu' }))).logabsdet, [2, 3]],
  ];
  for (const [name, f, shape] of cases) {
    it(name, async () => {
      const x = rnd(shape, 31, 0.7);
      const H = hessian(f)(x) as Tensor;
      expect([...H.shape]).toEqual([...shape, ...shape]);
      await expectClose(H, numericJacobian((y) => grad(f)(y) as Tensor, x, 1e-5), { atol: 1e-6, rtol: 1e-5 });
      // Symmetric, as a Hessian must be.
      const flat = T.reshape(H, [x.size, x.size]);
      await expectClose(flat, T.transpose(flat, 0, 1), { atol: 1e-10 });
      T.dispose([x, H, flat]);
    });
  }
});

describe('jvp against finite differences', () => {
  it('softmax(W x) along random tangents of x and W together', async () => {
    const W = rnd([3, 4], 41);
    const x = rnd([4], 42);
    const tW = rnd([3, 4], 43);
    const tx = rnd([4], 44);
    const f = (W: Tensor, x: Tensor) => T.softmax(T.matmul(W, x), 0);
    const { out, jvpOut } = jvp(f, [W, x], [tW, tx]);
    await expectClose(out, f(W, x), { atol: 1e-12 });
    const eps = 1e-6;
    const num = T.div(T.sub(f(T.add(W, T.mul(tW, eps)), T.add(x, T.mul(tx, eps))), f(T.sub(W, T.mul(tW, eps)), T.sub(x, T.mul(tx, eps)))), 2 * eps);
    await expectClose(jvpOut, num, { atol: 1e-8, rtol: 1e-6 });
    T.dispose([W, x, tW, tx, out, jvpOut, num]);
  });

  it('forward over reverse: jvp of a gradient is a Hessian-vector product', async () => {
    const x = rnd([3], 45);
    const t = rnd([3], 46);
    const s = (x: Tensor) => T.sum(T.mul(T.sin(x), T.sum(T.exp(x))));
    const { jvpOut } = jvp((y: Tensor) => grad(s)(y) as Tensor, [x], [t]);
    const H = hessian(s)(x) as Tensor;
    await expectClose(jvpOut, T.matmul(H, t), { atol: 1e-10 });
    T.dispose([x, t, jvpOut, H]);
  });
});
