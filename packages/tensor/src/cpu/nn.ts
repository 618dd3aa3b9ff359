import { registerCpuKernel, type CpuView } from './backend.js';
import { unfoldTap, wasmConv2d, wasmConvTranspose2d, type Im2colInput } from './wasm/conv.js';

/**
 * Convolution, pooling and resampling over [N, C, H, W] views (the frontend lifts 1-D and
 * unbatched inputs). Inputs are read through their strides; outputs are contiguous. Sums
 * accumulate in float64.
 */

/** Elements of the im2col tile (512 KB of float64): small enough to stay in cache, and bounds scratch memory for large images. */
const COL_TILE_ELEMENTS = 1 << 16;

/** A 4-D view copied to a dense Float64Array (weights: small, and read many times). */
function dense4(v: CpuView): Float64Array {
  const [a, b, c, d] = v.shape;
  const [sa, sb, sc, sd] = v.strides;
  const out = new Float64Array(a * b * c * d);
  let k = 0;
  for (let i = 0; i < a; i++) {
    for (let j = 0; j < b; j++) {
      for (let y = 0; y < c; y++) {
        const row = v.offset + i * sa + j * sb + y * sc;
        for (let x = 0; x < d; x++) out[k++] = v.data[row + x * sd];
      }
    }
  }
  return out;
}

const biasAt = (bias: CpuView | undefined, o: number) => (bias ? bias.data[bias.offset + o * bias.strides[0]] : 0);

/**
 * conv2d as im2col + matmul per (image, group): the unfolded input for a band of output rows is a
 * [Cg * kh * kw, rows * OW] tile, multiplied by the group's [Og, Cg * kh * kw] weights.
 */
registerCpuKernel('conv2d', ([x, w, bias], [out], { stride: [sh, sw], padding: [ph, pw], dilation: [dh, dw], groups }) => {
  if (wasmConv2d(x, w, bias, out, { stride: [sh, sw], padding: [ph, pw], dilation: [dh, dw], groups })) return;
  const N = x.shape[0];
  const [O, Cg, KH, KW] = w.shape;
  const [, , OH, OW] = out.shape;
  const [xn, xc] = x.strides;
  const Og = O / groups;
  const K = Cg * KH * KW;
  const P = OH * OW;
  if (N * P === 0) return;
  const weights = dense4(w);
  const bandRows = Math.max(1, Math.min(OH, Math.floor(COL_TILE_ELEMENTS / (K * OW))));
  const tile = bandRows * OW;
  const col = new Float64Array(K * tile);
  const geom: Im2colInput = { x, OW, stride: [sh, sw], padding: [ph, pw], dilation: [dh, dw] };
  const acc = new Float64Array(4 * tile);
  for (let n = 0; n < N; n++) {
    for (let g = 0; g < groups; g++) {
      for (let y0 = 0; y0 < OH; y0 += bandRows) {
        const y1 = Math.min(OH, y0 + bandRows);
        const T = (y1 - y0) * OW;
        // Unfold: row (c, ky, kx) of the tile holds the input sample under that kernel tap for every output pixel.
        for (let c = 0; c < Cg; c++) {
          const plane = x.offset + n * xn + (g * Cg + c) * xc;
          for (let ky = 0; ky < KH; ky++) {
            for (let kx = 0; kx < KW; kx++) {
              unfoldTap(col, ((c * KH + ky) * KW + kx) * tile, geom, plane, ky, kx, y0, y1);
            }
          }
        }
        // Four output channels at a time: each tile row read from memory feeds four accumulator rows.
        const oEnd = (g + 1) * Og;
        for (let o = g * Og; o < oEnd; o += 4) {
          const rows = Math.min(4, oEnd - o);
          for (let r = 0; r < 4; r++) acc.fill(r < rows ? biasAt(bias, o + r) : 0, r * tile, r * tile + T);
          for (let p = 0; p < K; p++) {
            const w0 = weights[o * K + p];
            const w1 = rows > 1 ? weights[(o + 1) * K + p] : 0;
            const w2 = rows > 2 ? weights[(o + 2) * K + p] : 0;
            const w3 = rows > 3 ? weights[(o + 3) * K + p] : 0;
            const base = p * tile;
            for (let t = 0; t < T; t++) {
              const v = col[base + t];
              acc[t] += w0 * v;
              acc[tile + t] += w1 * v;
              acc[2 * tile + t] += w2 * v;
              acc[3 * tile + t] += w3 * v;
            }
          }
          for (let r = 0; r < rows; r++) out.data.set(acc.subarray(r * tile, r * tile + T), out.offset + (n * O + o + r) * P + y0 * OW);
        }
      }
    }
  }
});

/**
 * Transposed conv2d by scattering: each input pixel adds its value times the kernel into the
 * output window it maps to. Per (weight tap, input row) the inner loop is a strided axpy whose
 * column range is computed up front, so it needs no bounds tests. The output size comes from the
 * output view (it also serves as conv2d's input gradient, for any input size).
 */
registerCpuKernel('convTranspose2d', ([x, w, bias], [out], { stride: [sh, sw], padding: [ph, pw], dilation: [dh, dw], groups }) => {
  if (wasmConvTranspose2d(x, w, bias, out, { stride: [sh, sw], padding: [ph, pw], dilation: [dh, dw], groups })) return;
  const [N, C, H, W] = x.shape;
  const [, Og, KH, KW] = w.shape;
  const [, O, OH, OW] = out.shape;
  const [xn, xc, xh, xw] = x.strides;
  const Cg = C / groups;
  const planeOut = OH * OW;
  if (N * O * planeOut === 0) return;
  const weights = dense4(w);
  const acc = new Float64Array(O * planeOut);
  const plane = new Float64Array(H * W);
  for (let n = 0; n < N; n++) {
    for (let o = 0; o < O; o++) acc.fill(biasAt(bias, o), o * planeOut, (o + 1) * planeOut);
    for (let c = 0; c < C; c++) {
      const g = Math.floor(c / Cg);
      const src = x.offset + n * xn + c * xc;
      for (let iy = 0; iy < H; iy++) for (let ix = 0; ix < W; ix++) plane[iy * W + ix] = x.data[src + iy * xh + ix * xw];
      for (let ol = 0; ol < Og; ol++) {
        const outPlane = (g * Og + ol) * planeOut;
        for (let ky = 0; ky < KH; ky++) {
          for (let kx = 0; kx < KW; kx++) {
            const wv = weights[((c * Og + ol) * KH + ky) * KW + kx];
            if (wv === 0) continue;
            // ox = ix * sw - pw + kx * dw must lie in [0, OW)
            const shiftX = kx * dw - pw;
            const ixLo = Math.max(0, Math.ceil(-shiftX / sw));
            const ixHi = Math.min(W, Math.floor((OW - 1 - shiftX) / sw) + 1);
            for (let iy = 0; iy < H; iy++) {
              const oy = iy * sh - ph + ky * dh;
              if (oy < 0 || oy >= OH) continue;
              const dst = outPlane + oy * OW + shiftX;
              const srcRow = iy * W;
              for (let ix = ixLo; ix < ixHi; ix++) acc[dst + ix * sw] += wv * plane[srcRow + ix];
            }
          }
        }
      }
    }
    out.data.set(acc, out.offset + n * O * planeOut);
  }
});

/** Calls fn(planeOffset, outIndexBase) for each (n, c) plane of a [N, C, H, W] view and its contiguous output. */
function forEachPlane(x: CpuView, outPlaneSize: number, fn: (src: number, dst: number) => void): void {
  const [N, C] = x.shape;
  for (let n = 0; n < N; n++) {
    for (let c = 0; c < C; c++) fn(x.offset + n * x.strides[0] + c * x.strides[1], (n * C + c) * outPlaneSize);
  }
}

/**
 * Max pooling with PyTorch's rules: the window skips padding; a NaN replaces the running max
 * (so the last NaN wins); ties keep the first index; an all -inf window reports its first
 * in-bounds position.
 */
registerCpuKernel('maxPool2d', ([x], [values, indices], { kernel: [kh, kw], stride: [sh, sw], padding: [ph, pw], dilation: [dh, dw] }) => {
  const [, , H, W] = x.shape;
  const [, , OH, OW] = values.shape;
  const [, , xh, xw] = x.strides;
  const X = x.data;
  forEachPlane(x, OH * OW, (src, dst) => {
    let k = dst;
    for (let oy = 0; oy < OH; oy++) {
      let y0 = oy * sh - ph;
      const y1 = Math.min(y0 + (kh - 1) * dh + 1, H);
      while (y0 < 0) y0 += dh;
      for (let ox = 0; ox < OW; ox++, k++) {
        let x0 = ox * sw - pw;
        const x1 = Math.min(x0 + (kw - 1) * dw + 1, W);
        while (x0 < 0) x0 += dw;
        let best = -Infinity;
        let arg = y0 * W + x0;
        for (let iy = y0; iy < y1; iy += dh) {
          for (let ix = x0; ix < x1; ix += dw) {
            const v = X[src + iy * xh + ix * xw];
            if (v > best || v !== v) {
              best = v;
              arg = iy * W + ix;
            }
          }
        }
        values.data[values.offset + k] = best;
        indices.data[indices.offset + k] = arg;
      }
    }
  });
});

/** Sum of the window [y0, y1) x [x0, x1) of the plane at `src`. */
function windowSum(x: CpuView, src: number, y0: number, y1: number, x0: number, x1: number): number {
  const [, , xh, xw] = x.strides;
  let sum = 0;
  for (let iy = y0; iy < y1; iy++) for (let ix = x0; ix < x1; ix++) sum += x.data[src + iy * xh + ix * xw];
  return sum;
}

/**
 * Average pooling as PyTorch computes it: the window is clipped to the padded input for the
 * count-include-pad divisor and to the input for the sum and the other divisor.
 */
registerCpuKernel('avgPool2d', ([x], [out], { kernel: [kh, kw], stride: [sh, sw], padding: [ph, pw], countIncludePad, divisor }) => {
  const [, , H, W] = x.shape;
  const [, , OH, OW] = out.shape;
  forEachPlane(x, OH * OW, (src, dst) => {
    let k = out.offset + dst;
    for (let oy = 0; oy < OH; oy++) {
      const yStart = oy * sh - ph;
      const yPadEnd = Math.min(yStart + kh, H + ph);
      const y0 = Math.max(yStart, 0);
      const y1 = Math.min(yPadEnd, H);
      for (let ox = 0; ox < OW; ox++, k++) {
        const xStart = ox * sw - pw;
        const xPadEnd = Math.min(xStart + kw, W + pw);
        const x0 = Math.max(xStart, 0);
        const x1 = Math.min(xPadEnd, W);
        if (y0 >= y1 || x0 >= x1) {
          out.data[k] = 0;
          continue;
        }
        const count = divisor || (countIncludePad ? (yPadEnd - yStart) * (xPadEnd - xStart) : (y1 - y0) * (x1 - x0));
        out.data[k] = windowSum(x, src, y0, y1, x0, x1) / count;
      }
    }
  });
});

/** Adaptive average pooling: output cell i averages input [floor(i n / m), ceil((i + 1) n / m)). */
registerCpuKernel('adaptiveAvgPool2d', ([x], [out]) => {
  const [, , H, W] = x.shape;
  const [, , OH, OW] = out.shape;
  forEachPlane(x, OH * OW, (src, dst) => {
    let k = out.offset + dst;
    for (let oy = 0; oy < OH; oy++) {
      const y0 = Math.floor((oy * H) / OH);
      const y1 = Math.ceil(((oy + 1) * H) / OH);
      for (let ox = 0; ox < OW; ox++, k++) {
        const x0 = Math.floor((ox * W) / OW);
        const x1 = Math.ceil(((ox + 1) * W) / OW);
        out.data[k] = windowSum(x, src, y0, y1, x0, x1) / ((y1 - y0) * (x1 - x0));
      }
    }
  });
});

interface AxisTaps {
  i0: Int32Array;
  i1: Int32Array;
  l0: Float64Array;
  l1: Float64Array;
}

/**
 * Source indices and weights along one axis, as PyTorch computes them in the input's precision
 * (`round` is Math.fround for float32): index choices at exact boundaries depend on it.
 */
function axisTaps(inSize: number, outSize: number, ratio: number, bilinear: boolean, alignCorners: boolean, round: (v: number) => number): AxisTaps {
  const taps = { i0: new Int32Array(outSize), i1: new Int32Array(outSize), l0: new Float64Array(outSize).fill(1), l1: new Float64Array(outSize) };
  const r = round(ratio);
  for (let d = 0; d < outSize; d++) {
    if (outSize === inSize) {
      taps.i0[d] = taps.i1[d] = d;
    } else if (!bilinear) {
      taps.i0[d] = outSize === 2 * inSize ? d >> 1 : Math.min(Math.floor(round(d * r)), inSize - 1);
    } else {
      const src = alignCorners ? round(r * d) : Math.max(round(round(r * (d + 0.5)) - 0.5), 0);
      const i0 = Math.trunc(src);
      taps.i0[d] = i0;
      taps.i1[d] = i0 + (i0 < inSize - 1 ? 1 : 0);
      taps.l1[d] = Math.min(Math.max(round(src - i0), 0), 1);
      taps.l0[d] = round(1 - taps.l1[d]);
    }
  }
  return taps;
}

/** Nearest (one tap per axis) or bilinear (two) resampling of each plane. */
registerCpuKernel('interpolate2d', ([x], [out], { bilinear, alignCorners, ratio: [rh, rw] }) => {
  const [, , H, W] = x.shape;
  const [, , OH, OW] = out.shape;
  const [, , xh, xw] = x.strides;
  const round = x.dtype === 'float32' ? Math.fround : (v: number) => v;
  const ty = axisTaps(H, OH, rh, bilinear, alignCorners, round);
  const tx = axisTaps(W, OW, rw, bilinear, alignCorners, round);
  forEachPlane(x, OH * OW, (src, dst) => {
    let k = out.offset + dst;
    for (let oy = 0; oy < OH; oy++) {
      const r0 = src + ty.i0[oy] * xh;
      const r1 = src + ty.i1[oy] * xh;
      for (let ox = 0; ox < OW; ox++, k++) {
        const c0 = tx.i0[ox] * xw;
        if (!bilinear) {
          out.data[k] = x.data[r0 + c0];
          continue;
        }
        const c1 = tx.i1[ox] * xw;
        const top = tx.l0[ox] * x.data[r0 + c0] + tx.l1[ox] * x.data[r0 + c1];
        const bottom = tx.l0[ox] * x.data[r1 + c0] + tx.l1[ox] * x.data[r1 + c1];
        out.data[k] = ty.l0[oy] * top + ty.l1[oy] * bottom;
      }
    }
  });
});
