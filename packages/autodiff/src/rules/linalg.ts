/**
 * Gradient rules of the matrix products (matmul family, einsum) and of the linear-algebra ops.
 * Matrix calculus throughout uses real (float) matrices; decompositions assume the generic case
 * their gradients need (distinct eigenvalues / singular values, full rank), as PyTorch does.
 */
import * as T from '@tessera/tensor';
import type { Tensor } from '@tessera/tensor';
import { defineGrad, sumToShape } from '../engine.js';

const mT = (x: Tensor) => T.transpose(x, -2, -1);
const sameShape = (a: readonly number[], b: readonly number[]) => a.length === b.length && a.every((d, i) => d === b[i]);
/** Scalars per matrix [...batch] as [...batch, 1, 1], to scale whole matrices. */
const perMatrix = (s: Tensor) => T.unsqueeze(T.unsqueeze(s, -1), -1);
/** Symmetric part (X + X^T) / 2. */
const sym = (x: Tensor) => T.mul(T.add(x, mT(x)), 0.5);
/** Identity matrices shaped like the last two dims of `x`, for masks. */
const eyeOf = (x: Tensor) => T.eye(x.shape[x.rank - 2], x.shape[x.rank - 1], { dtype: x.dtype, device: x.device });
/** Vectors [..., k] as diagonal matrices [..., k, k]. */
const diagEmbed = (v: Tensor) => {
  const k = v.shape[v.rank - 1];
  return T.mul(T.unsqueeze(v, -2), T.eye(k, k, { dtype: v.dtype, device: v.device }));
};

/**
 * matmul with PyTorch's 1-d and broadcasting rules (mm, bmm and dot are special cases): the
 * product is taken on matrices [..., m, k] @ [..., k, n], and each operand's gradient is summed
 * back over the batch dims it was broadcast along.
 */
function matmulRule(grads: readonly (Tensor | null)[], { inputs, needs }: { inputs: readonly Tensor[]; needs: readonly boolean[] }): (Tensor | null)[] {
  return T.tidy(() => {
    const [a, b] = inputs;
    const A = a.rank === 1 ? T.unsqueeze(a, 0) : a;
    const B = b.rank === 1 ? T.unsqueeze(b, 1) : b;
    const g = grads[0]!;
    const trailing = (a.rank > 1 ? 1 : 0) + (b.rank > 1 ? 1 : 0);
    const G = T.reshape(g, [...g.shape.slice(0, g.rank - trailing), A.shape[A.rank - 2], B.shape[B.rank - 1]]);
    const back = (d: Tensor, M: Tensor, x: Tensor) => T.reshape(sumToShape(d, M.shape), x.shape);
    // B a transposed view of a matrix (Linear's x @ Wᵀ): its gradient is computed as (Gᵀ A)ᵀ, so
    // that the matrix it came from gets a contiguous gradient (optimizers update it in place).
    const gradB = () => (a.rank === 2 && b.rank === 2 && isTransposed(b) ? mT(T.matmul(mT(G), A)) : back(T.matmul(mT(A), G), B, b));
    return [needs[0] ? back(T.matmul(G, mT(B)), A, a) : null, needs[1] ? gradB() : null];
  });
}

/** A 2-d view with unit stride down its rows (the transpose of a row-major matrix). */
const isTransposed = (x: Tensor): boolean => x.strides[0] === 1 && x.strides[1] !== 1 && x.shape[0] > 1 && x.shape[1] > 1;
for (const op of ['matmul', 'mm', 'bmm', 'dot']) defineGrad(op, matmulRule);

defineGrad('outer', ([g], { inputs, needs }) =>
  T.tidy(() => [needs[0] ? T.matmul(g!, inputs[1]) : null, needs[1] ? T.matmul(mT(g!), inputs[0]) : null]),
);

/** The output subscripts einsum uses when the equation has no '->': indices seen once, sorted. */
function implicitOutput(subs: readonly string[]): string {
  const counts = new Map<string, number>();
  for (const s of subs) for (const c of s) counts.set(c, (counts.get(c) ?? 0) + 1);
  return [...counts.keys()].filter((c) => counts.get(c) === 1).sort().join('');
}

/**
 * einsum: the gradient of an operand is the einsum of the output cotangent with the other operand
 * onto that operand's subscripts. Indices of the operand found nowhere else were summed out of it
 * alone, so the cotangent is constant along them (expanded); indices it has with size 1 while
 * others broadcast them are summed back.
 */
defineGrad('einsum', ([g], { args, inputs, needs }) =>
  T.tidy(() => {
    const eq = (args[0] as string).replace(/\s+/g, '');
    const [lhs, rhs] = eq.split('->');
    const subs = lhs.split(',');
    const out = rhs ?? implicitOutput(subs);
    const sizes = new Map<string, number>();
    subs.forEach((s, i) => [...s].forEach((c, k) => sizes.set(c, Math.max(sizes.get(c) ?? 1, inputs[i].shape[k]))));
    return inputs.map((x, i) => {
      if (!needs[i]) return null;
      const s = subs[i];
      const others = subs.filter((_, j) => j !== i);
      const seen = out + others.join('');
      const present = [...s].filter((c) => seen.includes(c)).join('');
      const r = T.einsum([out, ...others].join(',') + '->' + present, g!, ...inputs.filter((_, j) => j !== i));
      const withOnes = T.reshape(r, [...s].map((c) => (present.includes(c) ? sizes.get(c)! : 1)));
      const full = T.expand(withOnes, [...s].map((c, k) => (present.includes(c) ? sizes.get(c)! : x.shape[k])));
      return sumToShape(full, x.shape);
    });
  }),
);

defineGrad('inv', ([g], { outputs }) =>
  T.tidy(() => {
    const Ai = mT(outputs[0]);
    return [T.mul(T.matmul(T.matmul(Ai, g!), Ai), -1)];
  }),
);

defineGrad('det', ([g], { inputs, outputs }) =>
  T.tidy(() => [T.mul(perMatrix(T.mul(g!, outputs[0])), mT(T.inv(inputs[0])))]),
);

// d log|det A| = A^-T; the sign is piecewise constant.
defineGrad('slogdet', ([, g], { inputs }) => T.tidy(() => [g ? T.mul(perMatrix(g), mT(T.inv(inputs[0]))) : null]));

defineGrad('solve', ([g], { inputs, outputs, needs }) =>
  T.tidy(() => {
    const [A, B] = inputs;
    // The same vector test as the op: B is [..., n] when 1-d or shaped like A without its last dim.
    const vector = B.rank === 1 || (B.rank === A.rank - 1 && sameShape(B.shape, A.shape.slice(0, -1)));
    const G = vector ? T.unsqueeze(g!, -1) : g!;
    const X = vector ? T.unsqueeze(outputs[0], -1) : outputs[0];
    const dB = T.solve(mT(A), G);
    return [
      needs[0] ? sumToShape(T.mul(T.matmul(dB, mT(X)), -1), A.shape) : null,
      needs[1] ? sumToShape(vector ? T.squeeze(dB, -1) : dB, B.shape) : null,
    ];
  }),
);

/**
 * cholesky (A = L L^T): with P = Φ(L^T Ḡ), Φ keeping the lower triangle with the diagonal halved,
 * dA = sym(L^-T P L^-1). The op reads one triangle of A; like PyTorch, the gradient is the
 * symmetric one (the gradient for symmetric perturbations of A).
 */
defineGrad('cholesky', ([g], { args, outputs }) =>
  T.tidy(() => {
    const upper = (args[1] as { upper?: boolean } | undefined)?.upper ?? false;
    const L = upper ? mT(outputs[0]) : outputs[0];
    const gL = upper ? mT(g!) : g!;
    const M = T.matmul(mT(L), gL);
    const P = T.mul(T.add(T.tril(M), T.tril(M, -1)), 0.5);
    const Li = T.inv(L);
    return [sym(T.matmul(T.matmul(mT(Li), P), Li))];
  }),
);

/**
 * QR of a square or tall matrix (k = n <= m, R invertible), with M = Q^T Ḡq + R Ḡr^T:
 * dA = Q (Ḡr + tril(M - M^T) R^-T) + (Ḡq - Q Q^T Ḡq) R^-T.
 */
function qrTall(Q: Tensor, R: Tensor, gQ: Tensor, gR: Tensor): Tensor {
  const QtgQ = T.matmul(mT(Q), gQ);
  const RgRt = T.matmul(R, mT(gR));
  const skew = T.tril(T.add(T.sub(QtgQ, mT(QtgQ)), T.sub(RgRt, mT(RgRt))));
  const RiT = mT(T.inv(R));
  const inner = T.add(gR, T.matmul(skew, RiT));
  const rest = T.matmul(T.sub(gQ, T.matmul(Q, QtgQ)), RiT);
  return T.add(T.matmul(Q, inner), rest);
}

/**
 * qr: reduced mode (and complete mode when m <= n, where both coincide). For wide matrices
 * A = [X | Y] with X square, R = [U | V]: Y = Q V gives Ḡx through the square rule with
 * Ḡq + Y Ḡv^T, and Ḡy = Q Ḡv. Complete mode with m > n has no unique Q and is not supported.
 */
defineGrad('qr', ([gQ0, gR0], { args, inputs, outputs }) =>
  T.tidy(() => {
    const A = inputs[0];
    const [Q, R] = outputs;
    const m = A.shape[A.rank - 2];
    const n = A.shape[A.rank - 1];
    const mode = (args[1] as { mode?: string } | undefined)?.mode ?? 'reduced';
    if (mode === 'complete' && m > n) throw new Error('autodiff: the gradient of qr in complete mode is defined only for m <= n (use mode "reduced")');
    const gQ = gQ0 ?? T.zerosLike(Q);
    const gR = gR0 ?? T.zerosLike(R);
    if (m >= n) return [qrTall(Q, R, gQ, gR)];
    const Rx = T.slice(R, -1, 0, m);
    const gRx = T.slice(gR, -1, 0, m);
    const gRy = T.slice(gR, -1, m, n);
    const Y = T.slice(A, -1, m, n);
    const gX = qrTall(Q, Rx, T.add(gQ, T.matmul(Y, mT(gRy))), gRx);
    return [T.cat([gX, T.matmul(Q, gRy)], -1)];
  }),
);

/** 1 / (s_j - s_i) off the diagonal of [..., k, k], 0 on it (the eigen-gap matrix of the rules). */
function inverseGaps(s: Tensor): Tensor {
  const k = s.shape[s.rank - 1];
  const I = T.eye(k, k, { dtype: s.dtype, device: s.device });
  const gaps = T.sub(T.unsqueeze(s, -2), T.unsqueeze(s, -1));
  return T.mul(T.div(1, T.add(gaps, I)), T.sub(1, I));
}

/**
 * eigh (A = V diag(w) V^T, distinct eigenvalues): dA = V (diag(Ḡw) + F ∘ (V^T Ḡv)) V^T with
 * F_ij = 1 / (w_j - w_i), symmetrized as the op reads one triangle (see cholesky).
 */
defineGrad('eigh', ([gw, gV], { outputs }) =>
  T.tidy(() => {
    const [w, V] = outputs;
    let inner: Tensor | null = gw ? diagEmbed(gw) : null;
    if (gV) {
      const rot = T.mul(inverseGaps(w), T.matmul(mT(V), gV));
      inner = inner ? T.add(inner, rot) : rot;
    }
    return [inner ? sym(T.matmul(T.matmul(V, inner), mT(V))) : null];
  }),
);

/**
 * svd (A = U diag(S) Vh, distinct nonzero singular values). With J = U^T Ḡu - Ḡu^T U,
 * K = V^T Ḡv - Ḡv^T V and E_ij = S_j^2 - S_i^2:
 * dA = U [(J S + S K) / E + diag(Ḡs)] Vh, plus (I - U U^T) Ḡu S^-1 Vh when m > k and
 * U S^-1 Ḡv^T (I - V V^T) when n > k. With fullMatrices, as in PyTorch, the cotangents of the
 * columns of U and rows of Vh past k are ignored: those vectors are any basis of their subspace.
 */
defineGrad('svd', ([gU0, gS, gVh0], { args, inputs, outputs }) =>
  T.tidy(() => {
    const A = inputs[0];
    const m = A.shape[A.rank - 2];
    const n = A.shape[A.rank - 1];
    const k = Math.min(m, n);
    const full = (args[1] as { fullMatrices?: boolean } | undefined)?.fullMatrices ?? false;
    // The first k columns of U (rows of Vh) are the ones paired with S.
    const narrowU = (u: Tensor) => (full && m > k ? T.slice(u, -1, 0, k) : u);
    const narrowVh = (vh: Tensor) => (full && n > k ? T.slice(vh, -2, 0, k) : vh);
    const U = narrowU(outputs[0]);
    const S = outputs[1];
    const Vh = narrowVh(outputs[2]);
    if (!gU0 && !gVh0) return [T.matmul(T.matmul(U, diagEmbed(gS!)), Vh)];
    const Sm = diagEmbed(S);
    const V = mT(Vh);
    const gU = gU0 ? narrowU(gU0) : T.zerosLike(U);
    const gV = gVh0 ? mT(narrowVh(gVh0)) : T.zerosLike(V);
    const UtgU = T.matmul(mT(U), gU);
    const VtgV = T.matmul(mT(V), gV);
    const J = T.sub(UtgU, mT(UtgU));
    const K = T.sub(VtgV, mT(VtgV));
    const S2 = T.mul(S, S);
    const F = inverseGaps(S2);
    let inner = T.mul(T.add(T.matmul(J, Sm), T.matmul(Sm, K)), F);
    if (gS) inner = T.add(inner, diagEmbed(gS));
    let gA = T.matmul(T.matmul(U, inner), Vh);
    const Sinv = T.div(1, T.unsqueeze(S, -2));
    if (m > k) {
      const gUS = T.mul(T.sub(gU, T.matmul(U, UtgU)), Sinv);
      gA = T.add(gA, T.matmul(gUS, Vh));
    }
    if (n > k) {
      const gVS = T.mul(T.sub(gV, T.matmul(V, VtgV)), Sinv);
      gA = T.add(gA, T.matmul(U, mT(gVS)));
    }
    return [gA];
  }),
);

/**
 * diagonal: the cotangent written onto the chosen diagonal of zeros — spread onto a square
 * diagonal, padded to the plane with the offset, and the plane dims moved back to (dim1, dim2).
 */
defineGrad('diagonal', ([g], { args, inputs }) =>
  T.tidy(() => {
    const x = inputs[0];
    const opts = (args[1] ?? {}) as { offset?: number; dim1?: number; dim2?: number };
    const offset = opts.offset ?? 0;
    const d1 = (opts.dim1 ?? 0) < 0 ? (opts.dim1 ?? 0) + x.rank : opts.dim1 ?? 0;
    const d2 = (opts.dim2 ?? 1) < 0 ? (opts.dim2 ?? 1) + x.rank : opts.dim2 ?? 1;
    const len = g!.shape[g!.rank - 1];
    const n1 = x.shape[d1];
    const n2 = x.shape[d2];
    const square = diagEmbed(g!);
    const r0 = Math.max(0, -offset);
    const c0 = Math.max(0, offset);
    const plane = T.pad(square, [c0, n2 - c0 - len, r0, n1 - r0 - len]);
    const keep = x.shape.map((_, i) => i).filter((i) => i !== d1 && i !== d2);
    const order = [...keep, d1, d2];
    const inverse = new Array<number>(order.length);
    order.forEach((d, i) => (inverse[d] = i));
    return [T.permute(plane, inverse)];
  }),
);

defineGrad('trace', ([g], { inputs }) =>
  T.tidy(() => {
    const A = inputs[0];
    return [T.mul(perMatrix(g!), eyeOf(A))];
  }),
);
