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
 * out is contiguous [B, M, N]. Rows accumulate in float64, i-k-j order.
 */
registerCpuKernel('matmul', ([a, b], [out], { batch, m, n, k }) => {
  const A = a.data;
  const Bd = b.data;
  const O = out.data;
  const [sab, sam, sak] = a.strides;
  const [sbb, sbk, sbn] = b.strides;
  const acc = new Float64Array(n);
  for (let z = 0; z < batch; z++) {
    for (let i = 0; i < m; i++) {
      acc.fill(0);
      const arow = a.offset + z * sab + i * sam;
      for (let p = 0; p < k; p++) {
        const av = A[arow + p * sak];
        if (av === 0) continue;
        const brow = b.offset + z * sbb + p * sbk;
        if (sbn === 1) for (let j = 0; j < n; j++) acc[j] += av * Bd[brow + j];
        else for (let j = 0; j < n; j++) acc[j] += av * Bd[brow + j * sbn];
      }
      O.set(acc, out.offset + (z * m + i) * n);
    }
  }
});
