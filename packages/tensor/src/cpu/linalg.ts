import { registerCpuKernel, type CpuView } from './backend.js';

/**
 * Small dense linear algebra, one matrix of the batch at a time, computed in float64 whatever the
 * storage dtype. Inputs are [B, rows, cols] views with any strides; outputs are contiguous. The
 * algorithms are the same as the WGSL ones in webgpu/linalg.ts so both backends agree: LU with
 * partial pivoting, Cholesky–Banachiewicz, Householder QR, cyclic Jacobi (eigh) and one-sided
 * Jacobi (svd). Where PyTorch raises (singular inv/solve, non-positive-definite cholesky) these
 * kernels throw; the webgpu kernels, which cannot throw, fill the result with NaN instead.
 */

const EPS = 2.220446049250313e-16;
/** Jacobi methods converge quadratically (about 6-10 sweeps); the cap only bounds pathological input. */
const MAX_SWEEPS = 60;

/** Copies matrix `b` of a [B, r, c] strided view into a row-major work array. */
function load(v: CpuView, b: number, into: Float64Array): void {
  const [, r, c] = v.shape;
  const [sb, sr, sc] = v.strides;
  const base = v.offset + b * sb;
  for (let i = 0; i < r; i++) for (let j = 0; j < c; j++) into[i * c + j] = v.data[base + i * sr + j * sc];
}

/**
 * Gaussian elimination with partial pivoting, in place on the n x n row-major `a`; the row swaps
 * and elimination steps also apply to the k columns of `x` (the right-hand sides). Stops at the
 * first exactly-zero pivot and returns its index (-1 when there is none) with the swap parity.
 */
function luInPlace(a: Float64Array, n: number, x: Float64Array | null, k: number): { parity: number; zeroPivot: number } {
  let parity = 1;
  for (let c = 0; c < n; c++) {
    let p = c;
    let best = Math.abs(a[c * n + c]);
    for (let r = c + 1; r < n; r++) {
      const v = Math.abs(a[r * n + c]);
      if (v > best) {
        best = v;
        p = r;
      }
    }
    if (best === 0) return { parity, zeroPivot: c };
    if (p !== c) {
      parity = -parity;
      for (let j = 0; j < n; j++) [a[c * n + j], a[p * n + j]] = [a[p * n + j], a[c * n + j]];
      if (x) for (let j = 0; j < k; j++) [x[c * k + j], x[p * k + j]] = [x[p * k + j], x[c * k + j]];
    }
    const piv = a[c * n + c];
    for (let r = c + 1; r < n; r++) {
      const f = a[r * n + c] / piv;
      a[r * n + c] = f;
      if (f === 0) continue;
      for (let j = c + 1; j < n; j++) a[r * n + j] -= f * a[c * n + j];
      if (x) for (let j = 0; j < k; j++) x[r * k + j] -= f * x[c * k + j];
    }
  }
  return { parity, zeroPivot: -1 };
}

/** det (mode 'det': outputs [det]) or slogdet (outputs [sign, logabsdet]) of each [n, n] matrix. */
registerCpuKernel('linalgLuDet', ([a], outs, { mode }) => {
  const [B, n] = a.shape;
  const w = new Float64Array(n * n);
  for (let b = 0; b < B; b++) {
    load(a, b, w);
    const { parity, zeroPivot } = luInPlace(w, n, null, 0);
    let prod = parity;
    let sign = parity;
    let logabs = 0;
    for (let c = 0; c < n && zeroPivot < 0; c++) {
      const d = w[c * n + c];
      prod *= d;
      logabs += Math.log(Math.abs(d));
      if (d < 0) sign = -sign;
    }
    if (mode === 'det') {
      outs[0].data[outs[0].offset + b] = zeroPivot < 0 ? prod : 0;
    } else {
      outs[0].data[outs[0].offset + b] = zeroPivot < 0 ? sign : 0;
      outs[1].data[outs[1].offset + b] = zeroPivot < 0 ? logabs : -Infinity;
    }
  }
});

/** X = A^-1 B for [n, n] A and [n, k] B (or B = I when `identity`), by LU and back substitution. */
registerCpuKernel('linalgLuSolve', (inputs, [x], { op, identity }) => {
  const [a, rhs] = inputs;
  const [B, n, k] = x.shape;
  const w = new Float64Array(n * n);
  const xw = new Float64Array(n * k);
  for (let b = 0; b < B; b++) {
    load(a, b, w);
    if (identity) {
      xw.fill(0);
      for (let i = 0; i < n; i++) xw[i * k + i] = 1;
    } else {
      load(rhs, b, xw);
    }
    const { zeroPivot } = luInPlace(w, n, xw, k);
    if (zeroPivot >= 0) {
      const where = B > 1 ? ` (batch element ${b})` : '';
      throw new RangeError(`${op}: the input matrix is singular${where}: U[${zeroPivot}, ${zeroPivot}] is exactly zero after LU with partial pivoting, so the system has no unique solution`);
    }
    for (let j = 0; j < k; j++) {
      for (let r = n - 1; r >= 0; r--) {
        let s = xw[r * k + j];
        for (let c = r + 1; c < n; c++) s -= w[r * n + c] * xw[c * k + j];
        xw[r * k + j] = s / w[r * n + r];
      }
    }
    x.data.set(xw, x.offset + b * n * k);
  }
});

/** Lower Cholesky factor from the lower triangle of A; with `upper`, writes its transpose. */
registerCpuKernel('linalgCholesky', ([a], [out], { upper }) => {
  const [B, n] = a.shape;
  const w = new Float64Array(n * n);
  const l = new Float64Array(n * n);
  for (let b = 0; b < B; b++) {
    load(a, b, w);
    l.fill(0);
    for (let j = 0; j < n; j++) {
      let s = w[j * n + j];
      for (let q = 0; q < j; q++) s -= l[j * n + q] * l[j * n + q];
      if (!(s > 0)) {
        const where = B > 1 ? ` (batch element ${b})` : '';
        throw new RangeError(`cholesky: the input is not positive-definite${where}: the leading minor of order ${j + 1} is not positive-definite`);
      }
      const d = Math.sqrt(s);
      l[j * n + j] = d;
      for (let r = j + 1; r < n; r++) {
        let t = w[r * n + j];
        for (let q = 0; q < j; q++) t -= l[r * n + q] * l[j * n + q];
        l[r * n + j] = t / d;
      }
    }
    const o = out.offset + b * n * n;
    for (let r = 0; r < n; r++) for (let c = 0; c < n; c++) out.data[o + r * n + c] = upper ? l[c * n + r] : l[r * n + c];
  }
});

/**
 * Householder QR of [m, n] A: outputs Q [m, qc] (qc = min(m, n) or m) and R [rr, n]. The unit
 * Householder vectors are kept in the lower part of the work matrix and R's diagonal in `diag`;
 * Q is formed by applying the reflectors backwards to the first qc columns of the identity.
 */
registerCpuKernel('linalgQr', ([a], [qOut, rOut]) => {
  const [B, m, n] = a.shape;
  const qc = qOut.shape[2];
  const rr = rOut.shape[1];
  const k = Math.min(m, n);
  const w = new Float64Array(m * n);
  const diag = new Float64Array(k);
  const q = new Float64Array(m * qc);
  for (let b = 0; b < B; b++) {
    load(a, b, w);
    for (let j = 0; j < k; j++) {
      let nrm2 = 0;
      for (let r = j; r < m; r++) nrm2 += w[r * n + j] * w[r * n + j];
      const nrm = Math.sqrt(nrm2);
      const x0 = w[j * n + j];
      // alpha = -sign(x0) ||x|| avoids cancellation in v0 = x0 - alpha
      const alpha = x0 >= 0 ? -nrm : nrm;
      diag[j] = alpha;
      if (nrm === 0) continue;
      w[j * n + j] = x0 - alpha;
      const vnorm = Math.sqrt(2 * nrm * (nrm + Math.abs(x0)));
      for (let r = j; r < m; r++) w[r * n + j] /= vnorm;
      for (let c = j + 1; c < n; c++) {
        let s = 0;
        for (let r = j; r < m; r++) s += w[r * n + j] * w[r * n + c];
        s *= 2;
        for (let r = j; r < m; r++) w[r * n + c] -= s * w[r * n + j];
      }
    }
    const ro = rOut.offset + b * rr * n;
    for (let r = 0; r < rr; r++) {
      for (let c = 0; c < n; c++) rOut.data[ro + r * n + c] = r >= k || c < r ? 0 : c === r ? diag[r] : w[r * n + c];
    }
    q.fill(0);
    for (let i = 0; i < Math.min(m, qc); i++) q[i * qc + i] = 1;
    for (let j = k - 1; j >= 0; j--) {
      // columns before j are still unit vectors with zeros in rows >= j, which H_j leaves alone
      for (let c = j; c < qc; c++) {
        let s = 0;
        for (let r = j; r < m; r++) s += w[r * n + j] * q[r * qc + c];
        if (s === 0) continue;
        s *= 2;
        for (let r = j; r < m; r++) q[r * qc + c] -= s * w[r * n + j];
      }
    }
    qOut.data.set(q, qOut.offset + b * m * qc);
  }
});

/** tan of the Jacobi rotation angle that zeroes the off-diagonal of [[app, apq], [apq, aqq]]. */
function jacobiTangent(app: number, aqq: number, apq: number): number {
  const theta = (aqq - app) / (2 * apq);
  if (Math.abs(theta) > 1e10) return 0.5 / theta;
  const t = 1 / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
  return theta < 0 ? -t : t;
}

/** Rotates columns p and q of the r x cols row-major `m`: (p, q) <- (c p - s q, s p + c q). */
function rotateColumns(m: Float64Array, rows: number, cols: number, p: number, q: number, c: number, s: number): void {
  for (let k = 0; k < rows; k++) {
    const x = m[k * cols + p];
    const y = m[k * cols + q];
    m[k * cols + p] = c * x - s * y;
    m[k * cols + q] = s * x + c * y;
  }
}

/**
 * Symmetric eigendecomposition by cyclic Jacobi on the lower triangle of A (the frontend passes
 * the transpose for UPLO='U'): outputs eigenvalues [n] ascending and eigenvectors [n, n] (columns).
 */
registerCpuKernel('linalgEigh', ([a], [wOut, vOut]) => {
  const [B, n] = a.shape;
  const w = new Float64Array(n * n);
  const v = new Float64Array(n * n);
  for (let b = 0; b < B; b++) {
    load(a, b, w);
    let total = 0;
    for (let r = 0; r < n; r++) for (let c = 0; c < r; c++) w[c * n + r] = w[r * n + c];
    for (let e = 0; e < n * n; e++) total += w[e] * w[e];
    v.fill(0);
    for (let i = 0; i < n; i++) v[i * n + i] = 1;
    for (let sweep = 0; sweep < MAX_SWEEPS; sweep++) {
      let off = 0;
      for (let p = 0; p < n; p++) for (let q = p + 1; q < n; q++) off += w[p * n + q] * w[p * n + q];
      if (off <= EPS * EPS * total) break;
      for (let p = 0; p < n - 1; p++) {
        for (let q = p + 1; q < n; q++) {
          const apq = w[p * n + q];
          if (apq === 0) continue;
          const t = jacobiTangent(w[p * n + p], w[q * n + q], apq);
          const c = 1 / Math.sqrt(t * t + 1);
          const s = t * c;
          // A <- J^T A J: columns, then rows
          rotateColumns(w, n, n, p, q, c, s);
          for (let k = 0; k < n; k++) {
            const x = w[p * n + k];
            const y = w[q * n + k];
            w[p * n + k] = c * x - s * y;
            w[q * n + k] = s * x + c * y;
          }
          w[p * n + q] = 0;
          w[q * n + p] = 0;
          rotateColumns(v, n, n, p, q, c, s);
        }
      }
    }
    for (let i = 0; i < n; i++) {
      let best = i;
      for (let j = i + 1; j < n; j++) if (w[j * n + j] < w[best * n + best]) best = j;
      if (best !== i) {
        [w[i * n + i], w[best * n + best]] = [w[best * n + best], w[i * n + i]];
        for (let k = 0; k < n; k++) [v[k * n + i], v[k * n + best]] = [v[k * n + best], v[k * n + i]];
      }
      wOut.data[wOut.offset + b * n + i] = w[i * n + i];
    }
    vOut.data.set(v, vOut.offset + b * n * n);
  }
});

/**
 * Replaces column `col` of the p x cols row-major `u` by a unit vector orthogonal to its columns
 * 0..col-1 (assumed orthonormal): the first basis vector whose projection out of their span keeps
 * a squared norm above 1/(2p) (one always has at least 1/p), orthogonalised twice for accuracy.
 */
function completeColumn(u: Float64Array, p: number, cols: number, col: number): void {
  for (let e = 0; e < p; e++) {
    for (let r = 0; r < p; r++) u[r * cols + col] = r === e ? 1 : 0;
    for (let pass = 0; pass < 2; pass++) {
      for (let a = 0; a < col; a++) {
        let d = 0;
        for (let r = 0; r < p; r++) d += u[r * cols + a] * u[r * cols + col];
        for (let r = 0; r < p; r++) u[r * cols + col] -= d * u[r * cols + a];
      }
    }
    let nrm2 = 0;
    for (let r = 0; r < p; r++) nrm2 += u[r * cols + col] * u[r * cols + col];
    if (nrm2 > 0.5 / p) {
      const inv = 1 / Math.sqrt(nrm2);
      for (let r = 0; r < p; r++) u[r * cols + col] *= inv;
      return;
    }
  }
}

/**
 * SVD by one-sided Jacobi on G = [p, q] with p >= q (A, or A^T when `transposed`): column pairs
 * of G are rotated until orthogonal, accumulating the rotations in V; then S = column norms,
 * sorted descending, Ug = G S^-1 (zero columns and the extra columns of full matrices completed
 * to an orthonormal basis). A = Ug S V^T, or A = V S Ug^T when transposed.
 */
registerCpuKernel('linalgSvd', ([g], [uOut, sOut, vhOut], { transposed }) => {
  const [B, p, q] = g.shape;
  const ugCols = transposed ? vhOut.shape[1] : uOut.shape[2];
  const gw = new Float64Array(p * q);
  const ug = new Float64Array(p * ugCols);
  const v = new Float64Array(q * q);
  const sv = new Float64Array(q);
  const tol = 8 * EPS;
  for (let b = 0; b < B; b++) {
    load(g, b, gw);
    ug.fill(0);
    for (let r = 0; r < p; r++) for (let c = 0; c < q; c++) ug[r * ugCols + c] = gw[r * q + c];
    v.fill(0);
    for (let i = 0; i < q; i++) v[i * q + i] = 1;
    for (let sweep = 0; sweep < MAX_SWEEPS; sweep++) {
      let rotated = false;
      for (let i = 0; i < q - 1; i++) {
        for (let j = i + 1; j < q; j++) {
          let alpha = 0;
          let beta = 0;
          let gamma = 0;
          for (let r = 0; r < p; r++) {
            const x = ug[r * ugCols + i];
            const y = ug[r * ugCols + j];
            alpha += x * x;
            beta += y * y;
            gamma += x * y;
          }
          if (!(Math.abs(gamma) > tol * Math.sqrt(alpha) * Math.sqrt(beta))) continue;
          rotated = true;
          const t = jacobiTangent(alpha, beta, gamma);
          const c = 1 / Math.sqrt(t * t + 1);
          const s = t * c;
          rotateColumns(ug, p, ugCols, i, j, c, s);
          rotateColumns(v, q, q, i, j, c, s);
        }
      }
      if (!rotated) break;
    }
    for (let i = 0; i < q; i++) {
      let s2 = 0;
      for (let r = 0; r < p; r++) s2 += ug[r * ugCols + i] * ug[r * ugCols + i];
      sv[i] = Math.sqrt(s2);
    }
    for (let i = 0; i < q; i++) {
      let best = i;
      for (let j = i + 1; j < q; j++) if (sv[j] > sv[best]) best = j;
      if (best !== i) {
        [sv[i], sv[best]] = [sv[best], sv[i]];
        for (let r = 0; r < p; r++) [ug[r * ugCols + i], ug[r * ugCols + best]] = [ug[r * ugCols + best], ug[r * ugCols + i]];
        for (let r = 0; r < q; r++) [v[r * q + i], v[r * q + best]] = [v[r * q + best], v[r * q + i]];
      }
    }
    for (let i = 0; i < ugCols; i++) {
      if (i < q && sv[i] > 0) {
        for (let r = 0; r < p; r++) ug[r * ugCols + i] /= sv[i];
      } else {
        completeColumn(ug, p, ugCols, i);
      }
    }
    sOut.data.set(sv, sOut.offset + b * q);
    // !transposed: U = Ug, Vh = V^T.  transposed: U = V, Vh = Ug^T.
    const [uRows, uCols] = [uOut.shape[1], uOut.shape[2]];
    const [vhRows, vhCols] = [vhOut.shape[1], vhOut.shape[2]];
    const uo = uOut.offset + b * uRows * uCols;
    const vo = vhOut.offset + b * vhRows * vhCols;
    for (let r = 0; r < uRows; r++) {
      for (let c = 0; c < uCols; c++) uOut.data[uo + r * uCols + c] = transposed ? v[r * q + c] : ug[r * ugCols + c];
    }
    for (let r = 0; r < vhRows; r++) {
      for (let c = 0; c < vhCols; c++) vhOut.data[vo + r * vhCols + c] = transposed ? ug[c * ugCols + r] : v[c * q + r];
    }
  }
});
