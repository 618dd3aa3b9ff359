import type { TensorSpec } from '../backend.js';
import { buf, registerWebGPUKernel, type WebGPUBackend } from './backend.js';
import { MAIN, WGSL_PRELUDE } from './prelude.js';

/**
 * Small dense linear algebra in WGSL: one invocation per matrix of the batch, working in place on
 * global-memory buffers (outputs or scratch), with the same algorithms as cpu/linalg.ts: LU with
 * partial pivoting, Cholesky–Banachiewicz, Householder QR, cyclic Jacobi (eigh) and one-sided
 * Jacobi (svd). Kernels cannot raise: a zero pivot in inv/solve or a non-positive pivot in
 * cholesky fills that matrix's result with NaN.
 *
 * Every input is a [B, rows, cols] strided view; shapes and strides live in the meta buffer so
 * one pipeline serves all sizes: M[0] = B, M[1..5) = offset and the three strides of input A,
 * then kernel-specific entries.
 */

/** Jacobi methods converge quadratically (about 6-10 sweeps); the cap only bounds pathological input. */
const MAX_SWEEPS = 60;
const EPS32 = 1.1920929e-7;

function metaOf(values: number[]): Uint32Array {
  return new Uint32Array(Int32Array.from(values).buffer);
}

const viewMeta = (s: TensorSpec) => [s.offset, s.strides[0], s.strides[1], s.strides[2]];

const storage = (binding: number, name: string, write: boolean) =>
  `@group(0) @binding(${binding}) var<storage, ${write ? 'read_write' : 'read'}> ${name}: array<f32>;`;

/** Reads element (r, c) of matrix b of the strided input A described at M[1..5). */
const INPUT_A = /* wgsl */ `
var<private> aOff: i32;
var<private> aSb: i32;
var<private> aSr: i32;
var<private> aSc: i32;
fn loadInputView() {
  aOff = bitcast<i32>(M[1]);
  aSb = bitcast<i32>(M[2]);
  aSr = bitcast<i32>(M[3]);
  aSc = bitcast<i32>(M[4]);
}
fn ain(b: u32, r: u32, c: u32) -> f32 {
  return A[aOff + i32(b) * aSb + i32(r) * aSr + i32(c) * aSc];
}`;

/**
 * Gaussian elimination with partial pivoting on the n x n matrix at W[w0..]; with a right-hand
 * side, swaps and eliminations also apply to the n x k matrix at X[x0..]. Returns false at the
 * first exactly-zero pivot; `parity` is the sign of the row permutation.
 */
const luSource = (rhs: boolean) => /* wgsl */ `
var<private> parity: f32;
fn luInPlace(w0: u32, n: u32${rhs ? ', x0: u32, k: u32' : ''}) -> bool {
  parity = 1.0;
  for (var c = 0u; c < n; c++) {
    var p = c;
    var best = abs(W[w0 + c * n + c]);
    for (var r = c + 1u; r < n; r++) {
      let v = abs(W[w0 + r * n + c]);
      if (v > best) { best = v; p = r; }
    }
    if (best == 0.0) { return false; }
    if (p != c) {
      parity = -parity;
      for (var j = 0u; j < n; j++) {
        let t = W[w0 + c * n + j];
        W[w0 + c * n + j] = W[w0 + p * n + j];
        W[w0 + p * n + j] = t;
      }${rhs ? `
      for (var j = 0u; j < k; j++) {
        let t = X[x0 + c * k + j];
        X[x0 + c * k + j] = X[x0 + p * k + j];
        X[x0 + p * k + j] = t;
      }` : ''}
    }
    let piv = W[w0 + c * n + c];
    for (var r = c + 1u; r < n; r++) {
      let f = W[w0 + r * n + c] / piv;
      W[w0 + r * n + c] = f;
      if (f != 0.0) {
        for (var j = c + 1u; j < n; j++) { W[w0 + r * n + j] -= f * W[w0 + c * n + j]; }${rhs ? `
        for (var j = 0u; j < k; j++) { X[x0 + r * k + j] -= f * X[x0 + c * k + j]; }` : ''}
      }
    }
  }
  return true;
}`;

/** Copies input matrix b (n x n) into W[w0..] row-major. */
const COPY_A_TO_W = /* wgsl */ `
fn copyInput(b: u32, w0: u32, rows: u32, cols: u32) {
  for (var r = 0u; r < rows; r++) {
    for (var c = 0u; c < cols; c++) { W[w0 + r * cols + c] = ain(b, r, c); }
  }
}`;

/** tan of the rotation angle that zeroes the off-diagonal of [[app, apq], [apq, aqq]]. */
const JACOBI_TANGENT = /* wgsl */ `
fn jacobiTangent(app: f32, aqq: f32, apq: f32) -> f32 {
  let theta = (aqq - app) / (2.0 * apq);
  if (abs(theta) > 1e10) { return 0.5 / theta; }
  let t = 1.0 / (abs(theta) + sqrt(theta * theta + 1.0));
  return select(t, -t, theta < 0.0);
}`;

function detSource(mode: 'det' | 'slogdet'): string {
  const nOut = mode === 'det' ? 1 : 2;
  return `${storage(0, 'A', false)}
${storage(1, 'W', true)}
${storage(2, 'O0', true)}
${mode === 'slogdet' ? storage(3, 'O1', true) : ''}
@group(0) @binding(${2 + nOut}) var<storage, read> M: array<u32>;
${WGSL_PRELUDE}
${INPUT_A}
${COPY_A_TO_W}
${luSource(false)}
${MAIN}
  if (i >= M[0]) { return; }
  loadInputView();
  let n = M[5];
  let w0 = i * n * n;
  copyInput(i, w0, n, n);
  if (!luInPlace(w0, n)) {
    O0[i] = 0.0;${mode === 'slogdet' ? `
    O1[i] = -inf_();` : ''}
    return;
  }
  var prod = parity;
  var sgn = parity;
  var logabs = 0.0;
  for (var c = 0u; c < n; c++) {
    let d = W[w0 + c * n + c];
    prod *= d;
    logabs += log(abs(d));
    if (d < 0.0) { sgn = -sgn; }
  }
  ${mode === 'det' ? 'O0[i] = prod;' : 'O0[i] = sgn;\n  O1[i] = logabs;'}
}`;
}

registerWebGPUKernel('linalgLuDet', (gpu: WebGPUBackend, [a], outs, { mode }) => {
  const [B, n] = a.shape;
  gpu.dispatch({
    code: detSource(mode),
    buffers: [buf(a), gpu.scratchEmpty(B * n * n * 4), ...outs.map(buf)],
    meta: metaOf([B, ...viewMeta(a), n]),
    threads: B,
  });
});

function solveSource(identity: boolean): string {
  const bindings = identity ? ['A', 'W', 'X'] : ['A', 'Bm', 'W', 'X'];
  return `${bindings.map((name, k) => storage(k, name, name === 'W' || name === 'X')).join('\n')}
@group(0) @binding(${bindings.length}) var<storage, read> M: array<u32>;
${WGSL_PRELUDE}
${INPUT_A}
${COPY_A_TO_W}
${luSource(true)}
${MAIN}
  if (i >= M[0]) { return; }
  loadInputView();
  let n = M[5];
  let k = M[6];
  let w0 = i * n * n;
  let x0 = i * n * k;
  copyInput(i, w0, n, n);
  ${identity ? `for (var r = 0u; r < n; r++) {
    for (var c = 0u; c < k; c++) { X[x0 + r * k + c] = select(0.0, 1.0, r == c); }
  }` : `let bOff = bitcast<i32>(M[7]) + i32(i) * bitcast<i32>(M[8]);
  for (var r = 0u; r < n; r++) {
    for (var c = 0u; c < k; c++) { X[x0 + r * k + c] = Bm[bOff + i32(r) * bitcast<i32>(M[9]) + i32(c) * bitcast<i32>(M[10])]; }
  }`}
  if (!luInPlace(w0, n, x0, k)) {
    for (var e = 0u; e < n * k; e++) { X[x0 + e] = nan_(); }
    return;
  }
  for (var c = 0u; c < k; c++) {
    for (var ri = i32(n) - 1; ri >= 0; ri--) {
      let r = u32(ri);
      var s = X[x0 + r * k + c];
      for (var j = r + 1u; j < n; j++) { s -= W[w0 + r * n + j] * X[x0 + j * k + c]; }
      X[x0 + r * k + c] = s / W[w0 + r * n + r];
    }
  }
}`;
}

registerWebGPUKernel('linalgLuSolve', (gpu: WebGPUBackend, inputs, [x], { identity }) => {
  const [a, rhs] = inputs;
  const [B, n, k] = x.shape;
  gpu.dispatch({
    code: solveSource(identity),
    buffers: [...inputs.map(buf), gpu.scratchEmpty(B * n * n * 4), buf(x)],
    meta: metaOf([B, ...viewMeta(a), n, k, ...(identity ? [] : viewMeta(rhs))]),
    threads: B,
  });
});

const CHOLESKY_SOURCE = `${storage(0, 'A', false)}
${storage(1, 'L', true)}
@group(0) @binding(2) var<storage, read> M: array<u32>;
${WGSL_PRELUDE}
${INPUT_A}
var<private> l0: u32;
var<private> n: u32;
var<private> upper: bool;
// Element (r, c) of the lower factor; stored transposed when the upper factor is wanted.
fn li(r: u32, c: u32) -> u32 { return l0 + select(r * n + c, c * n + r, upper); }
${MAIN}
  if (i >= M[0]) { return; }
  loadInputView();
  n = M[5];
  upper = M[6] == 1u;
  l0 = i * n * n;
  for (var j = 0u; j < n; j++) {
    var s = ain(i, j, j);
    for (var q = 0u; q < j; q++) { s -= L[li(j, q)] * L[li(j, q)]; }
    if (!(s > 0.0)) {
      for (var e = 0u; e < n * n; e++) { L[l0 + e] = nan_(); }
      return;
    }
    let d = sqrt(s);
    L[li(j, j)] = d;
    for (var r = j + 1u; r < n; r++) {
      var t = ain(i, r, j);
      for (var q = 0u; q < j; q++) { t -= L[li(r, q)] * L[li(j, q)]; }
      L[li(r, j)] = t / d;
    }
    for (var r = 0u; r < j; r++) { L[li(r, j)] = 0.0; }
  }
}`;

registerWebGPUKernel('linalgCholesky', (gpu: WebGPUBackend, [a], [out], { upper }) => {
  const [B, n] = a.shape;
  gpu.dispatch({ code: CHOLESKY_SOURCE, buffers: [buf(a), buf(out)], meta: metaOf([B, ...viewMeta(a), n, upper ? 1 : 0]), threads: B });
});

/** Householder QR; see the cpu kernel for the layout of the work buffers. M[5..8] = m, n, qc, rr. */
const QR_SOURCE = `${storage(0, 'A', false)}
${storage(1, 'Q', true)}
${storage(2, 'R', true)}
${storage(3, 'W', true)}
${storage(4, 'D', true)}
@group(0) @binding(5) var<storage, read> M: array<u32>;
${WGSL_PRELUDE}
${INPUT_A}
${COPY_A_TO_W}
${MAIN}
  if (i >= M[0]) { return; }
  loadInputView();
  let m = M[5];
  let n = M[6];
  let qc = M[7];
  let rr = M[8];
  let kk = min(m, n);
  let w0 = i * m * n;
  let d0 = i * kk;
  let q0 = i * m * qc;
  let r0 = i * rr * n;
  copyInput(i, w0, m, n);
  for (var j = 0u; j < kk; j++) {
    var nrm2 = 0.0;
    for (var r = j; r < m; r++) { nrm2 += W[w0 + r * n + j] * W[w0 + r * n + j]; }
    let nrm = sqrt(nrm2);
    let x0 = W[w0 + j * n + j];
    // alpha = -sign(x0) ||x|| avoids cancellation in v0 = x0 - alpha
    let alpha = select(nrm, -nrm, x0 >= 0.0);
    D[d0 + j] = alpha;
    if (nrm == 0.0) { continue; }
    W[w0 + j * n + j] = x0 - alpha;
    let vnorm = sqrt(2.0 * nrm * (nrm + abs(x0)));
    for (var r = j; r < m; r++) { W[w0 + r * n + j] /= vnorm; }
    for (var c = j + 1u; c < n; c++) {
      var s = 0.0;
      for (var r = j; r < m; r++) { s += W[w0 + r * n + j] * W[w0 + r * n + c]; }
      s *= 2.0;
      for (var r = j; r < m; r++) { W[w0 + r * n + c] -= s * W[w0 + r * n + j]; }
    }
  }
  for (var r = 0u; r < rr; r++) {
    for (var c = 0u; c < n; c++) {
      var v = 0.0;
      if (r < kk && c > r) { v = W[w0 + r * n + c]; }
      if (r < kk && c == r) { v = D[d0 + r]; }
      R[r0 + r * n + c] = v;
    }
  }
  for (var r = 0u; r < m; r++) {
    for (var c = 0u; c < qc; c++) { Q[q0 + r * qc + c] = select(0.0, 1.0, r == c); }
  }
  for (var ji = i32(kk) - 1; ji >= 0; ji--) {
    let j = u32(ji);
    // columns before j are still unit vectors with zeros in rows >= j, which H_j leaves alone
    for (var c = j; c < qc; c++) {
      var s = 0.0;
      for (var r = j; r < m; r++) { s += W[w0 + r * n + j] * Q[q0 + r * qc + c]; }
      s *= 2.0;
      for (var r = j; r < m; r++) { Q[q0 + r * qc + c] -= s * W[w0 + r * n + j]; }
    }
  }
}`;

registerWebGPUKernel('linalgQr', (gpu: WebGPUBackend, [a], [q, r]) => {
  const [B, m, n] = a.shape;
  const qc = q.shape[2];
  const rr = r.shape[1];
  gpu.dispatch({
    code: QR_SOURCE,
    buffers: [buf(a), buf(q), buf(r), gpu.scratchEmpty(B * m * n * 4), gpu.scratchEmpty(B * Math.min(m, n) * 4)],
    meta: metaOf([B, ...viewMeta(a), m, n, qc, rr]),
    threads: B,
  });
});

/** Cyclic Jacobi on the lower triangle of A; eigenvalues E [n] ascending, eigenvectors V [n, n]. */
const EIGH_SOURCE = `${storage(0, 'A', false)}
${storage(1, 'W', true)}
${storage(2, 'E', true)}
${storage(3, 'V', true)}
@group(0) @binding(4) var<storage, read> M: array<u32>;
${WGSL_PRELUDE}
${INPUT_A}
${JACOBI_TANGENT}
${MAIN}
  if (i >= M[0]) { return; }
  loadInputView();
  let n = M[5];
  let w0 = i * n * n;
  var total = 0.0;
  for (var r = 0u; r < n; r++) {
    for (var c = 0u; c < n; c++) {
      let v = select(ain(i, c, r), ain(i, r, c), r >= c);
      W[w0 + r * n + c] = v;
      total += v * v;
      V[w0 + r * n + c] = select(0.0, 1.0, r == c);
    }
  }
  for (var sweep = 0u; sweep < ${MAX_SWEEPS}u; sweep++) {
    var off = 0.0;
    for (var p = 0u; p < n; p++) {
      for (var q = p + 1u; q < n; q++) { off += W[w0 + p * n + q] * W[w0 + p * n + q]; }
    }
    if (off <= ${EPS32 * EPS32} * total) { break; }
    for (var p = 0u; p + 1u < n; p++) {
      for (var q = p + 1u; q < n; q++) {
        let apq = W[w0 + p * n + q];
        if (apq == 0.0) { continue; }
        let t = jacobiTangent(W[w0 + p * n + p], W[w0 + q * n + q], apq);
        let c = 1.0 / sqrt(t * t + 1.0);
        let s = t * c;
        // A <- J^T A J: columns, then rows; V <- V J
        for (var k = 0u; k < n; k++) {
          let x = W[w0 + k * n + p];
          let y = W[w0 + k * n + q];
          W[w0 + k * n + p] = c * x - s * y;
          W[w0 + k * n + q] = s * x + c * y;
        }
        for (var k = 0u; k < n; k++) {
          let x = W[w0 + p * n + k];
          let y = W[w0 + q * n + k];
          W[w0 + p * n + k] = c * x - s * y;
          W[w0 + q * n + k] = s * x + c * y;
        }
        W[w0 + p * n + q] = 0.0;
        W[w0 + q * n + p] = 0.0;
        for (var k = 0u; k < n; k++) {
          let x = V[w0 + k * n + p];
          let y = V[w0 + k * n + q];
          V[w0 + k * n + p] = c * x - s * y;
          V[w0 + k * n + q] = s * x + c * y;
        }
      }
    }
  }
  for (var a = 0u; a < n; a++) {
    var best = a;
    for (var b = a + 1u; b < n; b++) {
      if (W[w0 + b * n + b] < W[w0 + best * n + best]) { best = b; }
    }
    if (best != a) {
      let t = W[w0 + a * n + a];
      W[w0 + a * n + a] = W[w0 + best * n + best];
      W[w0 + best * n + best] = t;
      for (var k = 0u; k < n; k++) {
        let x = V[w0 + k * n + a];
        V[w0 + k * n + a] = V[w0 + k * n + best];
        V[w0 + k * n + best] = x;
      }
    }
    E[i * n + a] = W[w0 + a * n + a];
  }
}`;

registerWebGPUKernel('linalgEigh', (gpu: WebGPUBackend, [a], [e, v]) => {
  const [B, n] = a.shape;
  gpu.dispatch({
    code: EIGH_SOURCE,
    buffers: [buf(a), gpu.scratchEmpty(B * n * n * 4), buf(e), buf(v)],
    meta: metaOf([B, ...viewMeta(a), n]),
    threads: B,
  });
});

/**
 * One-sided Jacobi SVD of G = [p, q], p >= q; see the cpu kernel. UG (p x uc, the left vectors of
 * G) and VG (q x q) are addressed through strides in M so that each can be U, or Vh transposed:
 * M[5..] = p, q, uc, then batch stride, row stride, column stride of UG and of VG.
 */
const SVD_SOURCE = `${storage(0, 'A', false)}
${storage(1, 'UG', true)}
${storage(2, 'S', true)}
${storage(3, 'VG', true)}
@group(0) @binding(4) var<storage, read> M: array<u32>;
${WGSL_PRELUDE}
${INPUT_A}
${JACOBI_TANGENT}
var<private> u0: u32;
var<private> uRs: u32;
var<private> uCs: u32;
var<private> v0: u32;
var<private> vRs: u32;
var<private> vCs: u32;
fn ui(r: u32, c: u32) -> u32 { return u0 + r * uRs + c * uCs; }
fn vi(r: u32, c: u32) -> u32 { return v0 + r * vRs + c * vCs; }
// Column col of UG <- a unit vector orthogonal to its columns 0..col-1: the first basis vector
// keeping a squared norm above 1/(2p) once projected out of their span, orthogonalised twice.
fn completeColumn(p: u32, col: u32) {
  for (var e = 0u; e < p; e++) {
    for (var r = 0u; r < p; r++) { UG[ui(r, col)] = select(0.0, 1.0, r == e); }
    for (var rep = 0u; rep < 2u; rep++) {
      for (var a = 0u; a < col; a++) {
        var d = 0.0;
        for (var r = 0u; r < p; r++) { d += UG[ui(r, a)] * UG[ui(r, col)]; }
        for (var r = 0u; r < p; r++) { UG[ui(r, col)] -= d * UG[ui(r, a)]; }
      }
    }
    var nrm2 = 0.0;
    for (var r = 0u; r < p; r++) { nrm2 += UG[ui(r, col)] * UG[ui(r, col)]; }
    if (nrm2 > 0.5 / f32(p)) {
      let inv = 1.0 / sqrt(nrm2);
      for (var r = 0u; r < p; r++) { UG[ui(r, col)] *= inv; }
      return;
    }
  }
}
${MAIN}
  if (i >= M[0]) { return; }
  loadInputView();
  let p = M[5];
  let q = M[6];
  let uc = M[7];
  u0 = i * M[8];
  uRs = M[9];
  uCs = M[10];
  v0 = i * M[11];
  vRs = M[12];
  vCs = M[13];
  let s0 = i * q;
  for (var r = 0u; r < p; r++) {
    for (var c = 0u; c < q; c++) { UG[ui(r, c)] = ain(i, r, c); }
  }
  for (var r = 0u; r < q; r++) {
    for (var c = 0u; c < q; c++) { VG[vi(r, c)] = select(0.0, 1.0, r == c); }
  }
  for (var sweep = 0u; sweep < ${MAX_SWEEPS}u; sweep++) {
    var rotated = false;
    for (var a = 0u; a + 1u < q; a++) {
      for (var b = a + 1u; b < q; b++) {
        var alpha = 0.0;
        var beta = 0.0;
        var gamma = 0.0;
        for (var r = 0u; r < p; r++) {
          let x = UG[ui(r, a)];
          let y = UG[ui(r, b)];
          alpha += x * x;
          beta += y * y;
          gamma += x * y;
        }
        if (!(abs(gamma) > ${8 * EPS32} * sqrt(alpha) * sqrt(beta))) { continue; }
        rotated = true;
        let t = jacobiTangent(alpha, beta, gamma);
        let c = 1.0 / sqrt(t * t + 1.0);
        let s = t * c;
        for (var r = 0u; r < p; r++) {
          let x = UG[ui(r, a)];
          let y = UG[ui(r, b)];
          UG[ui(r, a)] = c * x - s * y;
          UG[ui(r, b)] = s * x + c * y;
        }
        for (var r = 0u; r < q; r++) {
          let x = VG[vi(r, a)];
          let y = VG[vi(r, b)];
          VG[vi(r, a)] = c * x - s * y;
          VG[vi(r, b)] = s * x + c * y;
        }
      }
    }
    if (!rotated) { break; }
  }
  for (var a = 0u; a < q; a++) {
    var s2 = 0.0;
    for (var r = 0u; r < p; r++) { s2 += UG[ui(r, a)] * UG[ui(r, a)]; }
    S[s0 + a] = sqrt(s2);
  }
  for (var a = 0u; a < q; a++) {
    var best = a;
    for (var b = a + 1u; b < q; b++) {
      if (S[s0 + b] > S[s0 + best]) { best = b; }
    }
    if (best != a) {
      let t = S[s0 + a];
      S[s0 + a] = S[s0 + best];
      S[s0 + best] = t;
      for (var r = 0u; r < p; r++) {
        let x = UG[ui(r, a)];
        UG[ui(r, a)] = UG[ui(r, best)];
        UG[ui(r, best)] = x;
      }
      for (var r = 0u; r < q; r++) {
        let x = VG[vi(r, a)];
        VG[vi(r, a)] = VG[vi(r, best)];
        VG[vi(r, best)] = x;
      }
    }
  }
  for (var a = 0u; a < uc; a++) {
    if (a < q && S[s0 + a] > 0.0) {
      let inv = 1.0 / S[s0 + a];
      for (var r = 0u; r < p; r++) { UG[ui(r, a)] *= inv; }
    } else {
      completeColumn(p, a);
    }
  }
}`;

registerWebGPUKernel('linalgSvd', (gpu: WebGPUBackend, [g], [u, s, vh], { transposed }) => {
  const [B, p, q] = g.shape;
  const [uRows, uCols] = [u.shape[1], u.shape[2]];
  const [vhRows, vhCols] = [vh.shape[1], vh.shape[2]];
  // !transposed: UG = U (row-major), VG = Vh^T.  transposed: UG = Vh^T, VG = U.
  const uc = transposed ? vhRows : uCols;
  const asRows = [uRows * uCols, uCols, 1];
  const asCols = [vhRows * vhCols, 1, vhCols];
  const [ug, vg, ugLayout, vgLayout] = transposed ? [vh, u, asCols, asRows] : [u, vh, asRows, asCols];
  gpu.dispatch({
    code: SVD_SOURCE,
    buffers: [buf(g), buf(ug), buf(s), buf(vg)],
    meta: metaOf([B, ...viewMeta(g), p, q, uc, ...ugLayout, ...vgLayout]),
    threads: B,
  });
});
