import type { CpuView } from '../backend.js';
import { coalesceDims } from '../../shape.js';
import { gemm, gemmRuntime, gemmWritesInto, type GemmResult, type Operand } from './gemm.js';
import { EW_OPS } from './kernels.generated.js';
import { CHUNK_COL2IM, CHUNK_EW_ROWS, CHUNK_IM2COL, type WasmRuntime } from './runtime.js';

/** The elementwise kernel's code for a + (one value b). */
const EW_ADD_SCALAR = 3 * EW_OPS.indexOf('add') + 1;

/**
 * float32 conv2d and convTranspose2d as GEMMs on the WebAssembly kernels.
 *
 * conv2d, per group: out[n, o, p] = sum_q W[o, q] col[q, (n, p)] with q = (c, ky, kx) — one GEMM
 * whose columns run over every image's output pixels (im2col of a band of images at a time).
 * convTranspose2d, per group: cols[(o, ky, kx), (n, iy, ix)] = sum_c W[c, (o, ky, kx)] x[c, (n, iy, ix)],
 * then each column entry is added into the output pixel it lands on (col2im).
 */

/** Largest im2col / col2im matrix built at once (floats): bounds scratch memory on big batches. */
const MAX_COL_FLOATS = 1 << 24;

/**
 * A float32 work array in the WebAssembly heap, which gemm then reads in place (no copy into its
 * arena, no fresh pages to fault in); on the JS heap when the memory cannot grow.
 */
function workArray(rt: WasmRuntime, floats: number): { data: Float32Array; release(): void } {
  const at = rt.heapAlloc(floats * 4);
  if (at === null) return { data: new Float32Array(floats), release() {} };
  return { data: rt.f32View(at, floats), release: () => rt.heapFree(at, floats * 4) };
}

interface ConvParams {
  stride: [number, number];
  padding: [number, number];
  dilation: [number, number];
  groups: number;
}

/**
 * Rows [r0, r0 + rows) of a 4-D view with dims 1..3 flattened into columns, as a gemm operand
 * [rows, cols]: the view itself when each row is contiguous (gemm packs it from where it is, or
 * copies it in whole), else a dense copy.
 */
function rowsOperand(rt: WasmRuntime, v: CpuView, r0: number, rows: number): { op: Operand; release(): void } {
  const [, b, c, d] = v.shape;
  const [s0, s1, s2, s3] = v.strides;
  if ((s3 === 1 || d === 1) && (s2 === d || c === 1) && (s1 === c * d || b === 1) && s0 >= 0) {
    return { op: { data: v.data, offset: v.offset + r0 * s0, strides: [0, rows > 1 ? s0 : b * c * d, 1] }, release() {} };
  }
  // a dense copy in the heap (a weight gradient's transposed output gradient is 1.6M floats)
  const work = workArray(rt, rows * b * c * d);
  denseRows(v, r0, rows, work.data);
  return { op: { data: work.data, offset: 0, strides: [0, b * c * d, 1] }, release: work.release };
}

/** Rows [r0, r0 + rows) x cols of a 4-D view whose dims 1..3 are flattened into columns, as a dense Float32Array. */
function denseRows(v: CpuView, r0: number, rows: number, out: Float32Array = new Float32Array(rows * v.shape[1] * v.shape[2] * v.shape[3])): Float32Array {
  const [, b, c, d] = v.shape;
  // dims 1..3 merged where contiguous: the innermost run is copied whole when its stride is 1
  const m = coalesceDims([{ strides: v.strides.slice(1) }], [b, c, d]);
  const shape = [1, 1, 1, ...m.shape].slice(-3);
  const [s0, s1, s2] = [0, 0, 0, ...m.strides[0]].slice(-3);
  const [n0, n1, n2] = shape;
  const src = v.data as Float32Array;
  let k = 0;
  for (let i = r0; i < r0 + rows; i++) {
    for (let p = 0; p < n0; p++) {
      for (let q = 0; q < n1; q++) {
        const row = v.offset + i * v.strides[0] + p * s0 + q * s1;
        if (s2 === 1) {
          out.set(src.subarray(row, row + n2), k);
          k += n2;
        } else {
          for (let x = 0; x < n2; x++) out[k++] = src[row + x * s2];
        }
      }
    }
  }
  return out;
}

/** What im2col reads: the input [N, C, H, W], the output width, and the conv's stride, padding and dilation. */
export interface Im2colInput {
  x: CpuView;
  OW: number;
  stride: readonly [number, number];
  padding: readonly [number, number];
  dilation: readonly [number, number];
}

/**
 * im2col for one kernel tap (ky, kx) of the input plane starting at `plane`: the input samples under
 * that tap for output rows [y0, y1) (OW per row, 0 outside the input) go to `col` from index `t`.
 * Returns the index after the last one written.
 */
export function unfoldTap(col: Float32Array | Float64Array, t: number, g: Im2colInput, plane: number, ky: number, kx: number, y0: number, y1: number): number {
  const [, , H, W] = g.x.shape;
  const [, , xh, xw] = g.x.strides;
  const X = g.x.data;
  const OW = g.OW;
  const [sh, sw] = g.stride;
  const shiftY = ky * g.dilation[0] - g.padding[0];
  const shiftX = kx * g.dilation[1] - g.padding[1];
  for (let oy = y0; oy < y1; oy++) {
    const iy = oy * sh + shiftY;
    if (iy < 0 || iy >= H) {
      col.fill(0, t, t + OW);
      t += OW;
      continue;
    }
    const row = plane + iy * xh;
    for (let ox = 0; ox < OW; ox++, t++) {
      const ix = ox * sw + shiftX;
      col[t] = ix >= 0 && ix < W ? X[row + ix * xw] : 0;
    }
  }
  return t;
}

export function wasmConv2d(x: CpuView, w: CpuView, bias: CpuView | undefined, out: CpuView, p: ConvParams): boolean {
  if (out.dtype !== 'float32' || x.dtype !== 'float32' || w.dtype !== 'float32') return false;
  const N = x.shape[0];
  const [O, Cg, KH, KW] = w.shape;
  const [, , OH, OW] = out.shape;
  const { groups } = p;
  const Og = O / groups;
  const K = Cg * KH * KW;
  const P = OH * OW;
  const rt = gemmRuntime(Og, N * P, K);
  if (!rt || N * P === 0 || K === 0) return false;
  const [xn, xc, xh, xw] = x.strides;
  const X = x.data as Float32Array;
  const Out = out.data as Float32Array;
  const band = Math.max(1, Math.min(N, Math.floor(MAX_COL_FLOATS / (K * P))));
  const work = workArray(rt, K * band * P);
  const col = work.data;
  const geom: Im2colInput = { x, OW, stride: p.stride, padding: p.padding, dilation: p.dilation };
  // Kernels larger than the output (conv's weight gradient runs as such a conv, with the batch as
  // channels): one product per input channel, W[:, c] (Og x KH*KW, read in place) times that
  // channel's im2col rows, and the per-channel results summed; else one product per image with
  // K = Cg*KH*KW.
  const windows = KH * KW > P;
  // Per-image products write straight into the output when it lives in the heap with whole
  // column panels (no padded result to copy out); the bias is added afterwards in one pass.
  const direct = !windows && gemmWritesInto(rt, Out, P);
  // im2col on the WebAssembly kernel (chunks of images and channels) when the input is in the heap
  const wasmIm2col = rt.owns(X) && xn >= 0 && xc >= 0 && xh >= 0 && xw >= 0 && rt.owns(col);
  const [sh, sw] = p.stride;
  const [ph, pw] = p.padding;
  const [dh, dw] = p.dilation;
  const KK = KH * KW;
  const partial = windows ? new Float32Array(Og * P) : null;
  for (let g = 0; g < groups; g++) {
    // the group's weights: batched over input channels (windows) or rows [Og, K]
    const weights = (windows ? channelsOperand : rowsOperand)(rt, w, g * Og, Og);
    for (let n0 = 0; n0 < N; n0 += band) {
      const nb = Math.min(band, N - n0);
      // im2col: image n's matrix [K, P] (row (c, ky, kx), column (oy, ox)) at n * K * P.
      if (wasmIm2col) {
        const xAt = X.byteOffset + (x.offset + n0 * xn + g * Cg * xc) * 4;
        const cpc = Math.max(1, Math.min(Cg, Math.ceil(16384 / (KK * P)), Math.ceil((nb * Cg) / (4 * rt.numThreads))));
        rt.run(CHUNK_IM2COL, [xAt, xn * 4, xc * 4, xh * 4, xw * 4, x.shape[2], x.shape[3], Cg, KH, KW, sh, sw, ph, pw, dh, dw, OH, OW, col.byteOffset, K * P * 4, cpc], nb * Math.ceil(Cg / cpc));
      } else {
        for (let n = 0; n < nb; n++) {
          const plane = x.offset + (n0 + n) * xn + g * Cg * xc;
          let t = n * K * P;
          for (let c = 0; c < Cg; c++) for (let ky = 0; ky < KH; ky++) for (let kx = 0; kx < KW; kx++) t = unfoldTap(col, t, geom, plane + c * xc, ky, kx, 0, OH);
        }
      }
      if (windows) {
        for (let n = 0; n < nb; n++) {
          // Cg products W[:, c] [Og, KK] x col_c [KK, P], then summed over c in order
          const r = gemm(rt, weights.op, { data: col, offset: n * K * P, strides: [KK * P, P, 1] }, Cg, Og, P, KK);
          partial!.fill(0);
          for (let c = 0; c < Cg; c++) {
            for (let o = 0; o < Og; o++) {
              const src = r.base + c * r.batchStride + o * r.ld;
              for (let i = 0; i < P; i++) partial![o * P + i] += r.f32[src + i];
            }
          }
          storeRows(partial!, out, bias, n0 + n, g * Og, Og);
        }
        continue;
      }
      const B: Operand = { data: col, offset: 0, strides: [K * P, P, 1] };
      if (direct) {
        gemm(rt, weights.op, B, nb, Og, P, K, Out.byteOffset + (out.offset + (n0 * O + g * Og) * P) * 4, O * P);
      } else {
        const r = gemm(rt, weights.op, B, nb, Og, P, K);
        copyOut(rt, r, out, bias, n0, nb, g * Og, Og);
      }
    }
    weights.release();
  }
  work.release();
  if (direct && bias) addBias(rt, out, bias);
  return true;
}

/**
 * Weights [O, Cg, KH, KW] of output channels [o0, o0 + count) as a gemm operand batched over the
 * input channel: entry c is W[o0.., c] (count x KH*KW). Read in place when each (o, c) kernel is
 * contiguous (a transposed output gradient is), else copied dense.
 */
function channelsOperand(rt: WasmRuntime, w: CpuView, o0: number, count: number): { op: Operand; release(): void } {
  const [, Cg, KH, KW] = w.shape;
  const [s0, s1, s2, s3] = w.strides;
  if ((s3 === 1 || KW === 1) && (s2 === KW || KH === 1) && s0 >= 0 && s1 >= 0) {
    return { op: { data: w.data, offset: w.offset + o0 * s0, strides: [s1, s0, 1] }, release() {} };
  }
  const work = workArray(rt, count * Cg * KH * KW);
  denseRows(w, o0, count, work.data);
  return { op: { data: work.data, offset: 0, strides: [KH * KW, Cg * KH * KW, 1] }, release: work.release };
}

/** out[n, oc0 + o, :] = rows[o, :] + bias[oc0 + o] for o < Og (rows: Og x pixels). */
function storeRows(rowsData: Float32Array, out: CpuView, bias: CpuView | undefined, n: number, oc0: number, Og: number): void {
  const O = out.shape[1];
  const P = out.shape[2] * out.shape[3];
  const Out = out.data;
  for (let o = 0; o < Og; o++) {
    const b = bias ? bias.data[bias.offset + (oc0 + o) * bias.strides[0]] : 0;
    const dst = out.offset + (n * O + oc0 + o) * P;
    for (let i = 0; i < P; i++) Out[dst + i] = rowsData[o * P + i] + b;
  }
}

/**
 * Copies a padded gemm result batched over images into out[n0 + n, oc0 + o, :] for n < nb,
 * o < Og, adding the bias: image n's row o starts at r.base + n * r.batchStride + o * r.ld.
 */
function copyOut(rt: WasmRuntime, r: GemmResult, out: CpuView, bias: CpuView | undefined, n0: number, nb: number, oc0: number, Og: number): void {
  const Out = out.data;
  const O = out.shape[1];
  // the bias is added by the elementwise kernel (called directly: one row at a time) when the
  // output lives in the WebAssembly memory
  const inHeap = rt.owns(Out);
  const biasAt = inHeap && bias ? rt.alloc(1) : 0;
  const planes = out.shape[2] * out.shape[3];
  for (let o = 0; o < Og; o++) {
    const oc = oc0 + o;
    const b = bias ? bias.data[bias.offset + oc * bias.strides[0]] : 0;
    if (biasAt) r.f32[biasAt >> 2] = b;
    for (let n = 0; n < nb; n++) {
      const dst = out.offset + ((n0 + n) * O + oc) * planes;
      const s = r.base + n * r.batchStride + o * r.ld;
      if (b === 0) Out.set(r.f32.subarray(s, s + planes), dst);
      else if (inHeap) rt.kernels.ew(EW_ADD_SCALAR, s * 4, biasAt, Out.byteOffset + dst * 4, planes);
      else for (let i = 0; i < planes; i++) Out[dst + i] = r.f32[s + i] + b;
    }
  }
}

/** out[n, o, :] += bias[o] over a contiguous output in the heap, rows across the pool (skipped when the bias is all zeros). */
function addBias(rt: WasmRuntime, out: CpuView, bias: CpuView): void {
  const [N, O] = out.shape;
  const P = out.shape[2] * out.shape[3];
  const values = Array.from({ length: O }, (_, o) => bias.data[bias.offset + o * bias.strides[0]]);
  if (values.every((v) => v === 0)) return;
  rt.resetArena();
  const at = rt.alloc(N * O);
  const f = rt.f32;
  for (let n = 0; n < N; n++) for (let o = 0; o < O; o++) f[(at >> 2) + n * O + o] = values[o];
  const R = N * O;
  const outAt = out.data.byteOffset + out.offset * 4;
  const per = Math.max(1, Math.ceil(16384 / P));
  rt.run(CHUNK_EW_ROWS, [EW_ADD_SCALAR, outAt, P * 4, at, 4, outAt, P, per, R], Math.ceil(R / per));
}

export function wasmConvTranspose2d(x: CpuView, w: CpuView, bias: CpuView | undefined, out: CpuView, p: ConvParams): boolean {
  if (out.dtype !== 'float32' || x.dtype !== 'float32' || w.dtype !== 'float32') return false;
  const [N, C, H, W] = x.shape;
  const [, Og, KH, KW] = w.shape;
  const [, O, OH, OW] = out.shape;
  const { groups } = p;
  const Cg = C / groups;
  const R = Og * KH * KW;
  const HW = H * W;
  const rt = gemmRuntime(R, N * HW, Cg);
  if (!rt || N * HW === 0 || R === 0) return false;
  const [xn, xc, xh, xw] = x.strides;
  const X = x.data;
  const Out = out.data;
  const planeOut = OH * OW;
  // Start from the bias (or zeros), then add every column entry into its output pixel.
  for (let n = 0; n < N; n++) {
    for (let o = 0; o < O; o++) {
      const at = out.offset + (n * O + o) * planeOut;
      Out.fill(bias ? bias.data[bias.offset + o * bias.strides[0]] : 0, at, at + planeOut);
    }
  }
  // Input planes contiguous in the heap: one gemm per image (batched), reading them in place.
  const inPlace = rt.owns(X) && xw === 1 && xh === W;
  const band = Math.max(1, Math.min(N, Math.floor(MAX_COL_FLOATS / (Math.max(Cg, R) * HW))));
  const work = inPlace ? null : workArray(rt, Cg * band * HW);
  for (let g = 0; g < groups; g++) {
    // W[c, (o, ky, kx)] for c in the group, read transposed: row (o, ky, kx), column c.
    const wg = denseRows(w, g * Cg, Cg);
    const A: Operand = { data: wg, offset: 0, strides: [0, 1, R] };
    for (let n0 = 0; n0 < N; n0 += band) {
      const nb = Math.min(band, N - n0);
      let r: GemmResult;
      /** Floats between the results of consecutive images. */
      let fImage: number;
      if (inPlace) {
        r = gemm(rt, A, { data: X, offset: x.offset + n0 * xn + g * Cg * xc, strides: [xn, xc, 1] }, nb, R, HW, Cg);
        fImage = r.batchStride;
      } else {
        const xg = work!.data;
        let t = 0;
        for (let c = 0; c < Cg; c++) {
          for (let n = n0; n < n0 + nb; n++) {
            const plane = x.offset + n * xn + (g * Cg + c) * xc;
            for (let iy = 0; iy < H; iy++) {
              const row = plane + iy * xh;
              if (xw === 1) {
                xg.set((X as Float32Array).subarray(row, row + W), t);
                t += W;
              } else for (let ix = 0; ix < W; ix++) xg[t++] = X[row + ix * xw];
            }
          }
        }
        r = gemm(rt, A, { data: xg, offset: 0, strides: [0, nb * HW, 1] }, 1, R, nb * HW, Cg);
        fImage = HW;
      }
      col2im(rt, r, fImage, out, n0, nb, g * Og, { Og, KH, KW, H, W, OH, OW }, p);
    }
  }
  work?.release();
  return true;
}

/**
 * col2im: row (o, ky, kx) of image n's gemm result adds into out[n, ch0 + o, iy*sh - ph + ky*dh,
 * ix*sw - pw + kx*dw]. On the WebAssembly kernel, one chunk per image (images write disjoint
 * planes), when the output lives in the heap; else the loops.
 */
function col2im(rt: WasmRuntime, r: GemmResult, fImage: number, out: CpuView, n0: number, nb: number, ch0: number, d: { Og: number; KH: number; KW: number; H: number; W: number; OH: number; OW: number }, p: ConvParams): void {
  const { Og, KH, KW, H, W, OH, OW } = d;
  const [sh, sw] = p.stride;
  const [ph, pw] = p.padding;
  const [dh, dw] = p.dilation;
  const O = out.shape[1];
  const Out = out.data;
  const planeOut = OH * OW;
  if (rt.owns(Out)) {
    const outAt = Out.byteOffset + (out.offset + n0 * O * planeOut) * 4;
    rt.run(CHUNK_COL2IM, [r.base * 4, r.ld, Og, KH, KW, dh, dw, sh, sw, ph, pw, H, W, OH, OW, outAt, O * planeOut, ch0, fImage], nb);
    return;
  }
  const F = r.f32;
  for (let o = 0; o < Og; o++) {
    for (let ky = 0; ky < KH; ky++) {
      for (let kx = 0; kx < KW; kx++) {
        const rowBase = r.base + ((o * KH + ky) * KW + kx) * r.ld;
        const shiftX = kx * dw - pw;
        const ixLo = Math.max(0, Math.ceil(-shiftX / sw));
        const ixHi = Math.min(W, Math.floor((OW - 1 - shiftX) / sw) + 1);
        for (let n = 0; n < nb; n++) {
          const outPlane = out.offset + ((n0 + n) * O + ch0 + o) * planeOut;
          for (let iy = 0; iy < H; iy++) {
            const oy = iy * sh - ph + ky * dh;
            if (oy < 0 || oy >= OH) continue;
            const dst = outPlane + oy * OW + shiftX;
            const src = rowBase + n * fImage + iy * W;
            for (let ix = ixLo; ix < ixHi; ix++) Out[dst + ix * sw] += F[src + ix];
          }
        }
      }
    }
  }
}
