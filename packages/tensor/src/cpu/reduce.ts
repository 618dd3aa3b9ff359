import { gemm, gemmRuntime, type Operand } from './wasm/gemm.js';
import { registerCpuKernel } from './backend.js';

/**
 * Row reductions over a contiguous [M, K] input into M outputs. Sums accumulate in float64.
 * max/min propagate NaN as PyTorch does; argmax/argmin return the first index of the extreme.
 */
registerCpuKernel('reduce', ([x], [out], { op, rows, cols }) => {
  const X = x.data;
  const O = out.data;
  const M = rows as number;
  const K = cols as number;
  for (let r = 0; r < M; r++) {
    const base = x.offset + r * K;
    let acc: number;
    switch (op) {
      case 'sum': {
        acc = 0;
        for (let k = 0; k < K; k++) acc += X[base + k];
        break;
      }
      case 'prod': {
        acc = 1;
        for (let k = 0; k < K; k++) acc *= X[base + k];
        break;
      }
      case 'max':
      case 'min': {
        const isMax = op === 'max';
        acc = isMax ? -Infinity : Infinity;
        for (let k = 0; k < K; k++) {
          const v = X[base + k];
          if (v !== v) { acc = NaN; break; }
          if (isMax ? v > acc : v < acc) acc = v;
        }
        break;
      }
      case 'argmax':
      case 'argmin': {
        const isMax = op === 'argmax';
        let best = X[base];
        acc = 0;
        for (let k = 1; k < K && best === best; k++) {
          const v = X[base + k];
          if (v !== v || (isMax ? v > best : v < best)) { best = v; acc = k; }
        }
        break;
      }
      default:
        throw new Error(`reduce: unknown op ${op}`);
    }
    O[out.offset + r] = acc;
  }
});

/** Inclusive scans along rows of a contiguous [M, K] input. */
registerCpuKernel('scan', ([x], [out], { op, rows, cols }) => {
  const X = x.data;
  const O = out.data;
  const K = cols as number;
  for (let r = 0; r < (rows as number); r++) {
    let acc = op === 'sum' ? 0 : 1;
    for (let k = 0; k < K; k++) {
      acc = op === 'sum' ? acc + X[x.offset + r * K + k] : acc * X[x.offset + r * K + k];
      O[out.offset + r * K + k] = acc;
    }
  }
});

/**
 * Batched matmul: A is [B, M, K], Bm is [B, K, N] as strided views (batch stride may be 0),
 * out is contiguous [B, M, N]. Four rows of A share each pass over a row of B (i-k-j order,
 * float64 accumulators), which about halves the loads against one row at a time.
 */
registerCpuKernel('matmul', ([a, b], [out], { batch, m, n, k }) => {
  if (out.dtype === 'float32' && batch * m * n > 0) {
    const rt = gemmRuntime(m, n, k);
    if (rt) {
      const op = (v: typeof a): Operand => ({ data: v.data, offset: v.offset, strides: [v.strides[0], v.strides[1], v.strides[2]] });
      const r = gemm(rt, op(a), op(b), batch, m, n, k);
      const O = out.data;
      for (let z = 0; z < batch; z++) {
        for (let i = 0; i < m; i++) {
          const src = r.base + z * r.batchStride + i * r.ld;
          O.set(r.f32.subarray(src, src + n), out.offset + (z * m + i) * n);
        }
      }
      return;
    }
  }
  const A = a.data;
  const Bd = b.data;
  const O = out.data;
  const [sab, sam, sak] = a.strides;
  const [sbb, sbk, sbn] = b.strides;
  const acc = [new Float64Array(n), new Float64Array(n), new Float64Array(n), new Float64Array(n)];
  for (let z = 0; z < batch; z++) {
    const aBase = a.offset + z * sab;
    const bBase = b.offset + z * sbb;
    for (let i = 0; i < m; i += 4) {
      const rows = Math.min(4, m - i);
      const [c0, c1, c2, c3] = acc;
      for (let r = 0; r < rows; r++) acc[r].fill(0);
      for (let p = 0; p < k; p++) {
        const ap = aBase + i * sam + p * sak;
        const v0 = A[ap];
        const v1 = rows > 1 ? A[ap + sam] : 0;
        const v2 = rows > 2 ? A[ap + 2 * sam] : 0;
        const v3 = rows > 3 ? A[ap + 3 * sam] : 0;
        const br = bBase + p * sbk;
        if (sbn === 1) {
          for (let j = 0; j < n; j++) {
            const bv = Bd[br + j];
            c0[j] += v0 * bv;
            c1[j] += v1 * bv;
            c2[j] += v2 * bv;
            c3[j] += v3 * bv;
          }
        } else {
          for (let j = 0; j < n; j++) {
            const bv = Bd[br + j * sbn];
            c0[j] += v0 * bv;
            c1[j] += v1 * bv;
            c2[j] += v2 * bv;
            c3[j] += v3 * bv;
          }
        }
      }
      for (let r = 0; r < rows; r++) O.set(acc[r], out.offset + (z * m + i + r) * n);
    }
  }
});
