import { gemm, gemmRuntime, gemmWritesInto, type Operand } from './wasm/gemm.js';
import { registerCpuKernel } from './backend.js';
import { coalesceDims } from '../shape.js';
import { wasmColumnSums, wasmRowSums } from './wasm/reduce.js';

/**
 * Row reductions into M outputs. Sums accumulate in float64. max/min propagate NaN as PyTorch
 * does; argmax/argmin return the first index of the extreme. `x` is a view whose first `split`
 * dims index the output rows and whose other dims are reduced (in their order, so the result equals reducing a contiguous copy); the view may
 * be strided (a permutation of the input: no copy is made). Reduced dims are merged where
 * contiguous, so the inner loop is usually one long run.
 */
registerCpuKernel('reduce', ([x], [out], { op, rows, cols, split }) => {
  const X = x.data;
  const O = out.data;
  const M = rows as number;
  const K = cols as number;
  const at = (split as number | undefined) ?? x.shape.length - 1;
  const rest = coalesceDims([{ strides: x.strides.slice(0, at) }], x.shape.slice(0, at));
  const red = coalesceDims([{ strides: x.strides.slice(at) }], x.shape.slice(at));
  const rShape = rest.shape;
  const rStrides = rest.strides[0];
  const kShape = red.shape;
  const kStrides = red.strides[0];
  const kr = kShape.length;
  // the innermost reduced run; the outer reduced dims are walked by an odometer
  const inner = kr ? kShape[kr - 1] : 1;
  const step = kr ? kStrides[kr - 1] : 0;
  const outerRuns = K / inner;
  // float32 sums of contiguous rows with one row stride: the WebAssembly kernel
  if (op === 'sum' && step === 1 && rShape.length <= 1) {
    const rowStride = rShape.length ? rStrides[0] : 0;
    if (kr === 1 && wasmRowSums(x, out, M, rowStride, K)) return;
    // two reduced dims, the inner one contiguous (a bias gradient over [N, ·, H, W])
    if (kr === 2 && wasmRowSums(x, out, M, rowStride, inner, kShape[0], kStrides[0])) return;
  }
  // sums down columns (reducing a strided dim whose outputs are adjacent: a bias gradient, batch
  // norm's statistics): whole rows added in order, the same float64 sums as walking each column
  if (op === 'sum' && kr === 1 && step !== 1 && rShape.length === 1 && rStrides[0] === 1 && M > 1) {
    if (step >= M && wasmColumnSums(x, out, M, step, K)) return;
    const acc = new Float64Array(M);
    for (let k = 0, q = x.offset; k < K; k++, q += step) for (let r = 0; r < M; r++) acc[r] += X[q + r];
    for (let r = 0; r < M; r++) O[out.offset + r] = acc[r];
    return;
  }
  const kIdx = new Int32Array(Math.max(0, kr - 1));
  const rIdx = new Int32Array(rShape.length);
  let base = x.offset;
  for (let r = 0; r < M; r++) {
    let acc = op === 'sum' ? 0 : op === 'prod' ? 1 : op === 'max' ? -Infinity : op === 'min' ? Infinity : 0;
    let best = NaN;
    let k0 = 0;
    let run0 = base;
    kIdx.fill(0);
    for (let o = 0; o < outerRuns; o++) {
      switch (op) {
        case 'sum':
          for (let k = 0, q = run0; k < inner; k++, q += step) acc += X[q];
          break;
        case 'prod':
          for (let k = 0, q = run0; k < inner; k++, q += step) acc *= X[q];
          break;
        case 'max':
        case 'min': {
          const isMax = op === 'max';
          if (acc !== acc) break;
          for (let k = 0, q = run0; k < inner; k++, q += step) {
            const v = X[q];
            if (v !== v) { acc = NaN; break; }
            if (isMax ? v > acc : v < acc) acc = v;
          }
          break;
        }
        case 'argmax':
        case 'argmin': {
          // first index of the extremum; a NaN wins (and stops the search)
          const isMax = op === 'argmax';
          if (k0 > 0 && best !== best) break;
          for (let k = 0, q = run0; k < inner; k++, q += step) {
            const v = X[q];
            if (k0 + k === 0 || v !== v || (isMax ? v > best : v < best)) {
              best = v;
              acc = k0 + k;
              if (v !== v) break;
            }
          }
          break;
        }
        default:
          throw new Error(`reduce: unknown op ${op}`);
      }
      k0 += inner;
      for (let d = kr - 2; d >= 0; d--) {
        kIdx[d]++;
        run0 += kStrides[d];
        if (kIdx[d] < kShape[d]) break;
        run0 -= kStrides[d] * kShape[d];
        kIdx[d] = 0;
      }
    }
    O[out.offset + r] = acc;
    for (let d = rShape.length - 1; d >= 0; d--) {
      rIdx[d]++;
      base += rStrides[d];
      if (rIdx[d] < rShape[d]) break;
      base -= rStrides[d] * rShape[d];
      rIdx[d] = 0;
    }
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
 * Rows of A up to which a product with a much wider B runs transposed: the kernel reads its A
 * operand unpacked while the other has at most 8 column panels (see gemm.ts). Measured here on the
 * GAT weight gradient ([64, 2708] x [2708, 1433]): 12.7 → 10.9 ms on one thread, 6.7 → 5.3 on two.
 */
const TRANSPOSE_MAX_M = 64;

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
      const O = out.data;
      if (m <= TRANSPOSE_MAX_M && n >= 4 * m && b.strides[2] === 1 && b.strides[1] !== 1) {
        // Few rows of A and a wide row-major B (a weight gradient Gᵀ X): computed as Cᵀ = Bᵀ Aᵀ,
        // which reads B in place (its rows become the kernel's adjacent A rows) instead of packing
        // all of it for a handful of A rows. The same products summed in the same k order.
        const t = (v: typeof a): Operand => ({ data: v.data, offset: v.offset, strides: [v.strides[0], v.strides[2], v.strides[1]] });
        const r = gemm(rt, t(b), t(a), batch, n, m, k);
        for (let z = 0; z < batch; z++) {
          const src = r.base + z * r.batchStride;
          const dst = out.offset + z * m * n;
          for (let j = 0; j < n; j++) {
            const row = src + j * r.ld;
            for (let i = 0; i < m; i++) O[dst + i * n + j] = r.f32[row + i];
          }
        }
        return;
      }
      if (O instanceof Float32Array && gemmWritesInto(rt, O, n)) {
        gemm(rt, op(a), op(b), batch, m, n, k, O.byteOffset + out.offset * 4);
        return;
      }
      const r = gemm(rt, op(a), op(b), batch, m, n, k);
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
