import type { TensorSpec } from '../backend.js';
import { promoteTypes } from '../dtype.js';
import { broadcastShapes, contiguousStrides, normDim, numel, shapeStr, type Shape } from '../shape.js';
import { Tensor } from '../tensor.js';
import { arange, full } from './creation.js';
import { cast, le, ge, sub, where } from './elementwise.js';
import { broadcastSpec, checkTensor, empty, run, sameDevice } from './util.js';

/** Copies a view into a (possibly strided) destination view, converting dtype if they differ. */
export function copyInto(src: TensorSpec, dst: TensorSpec): void {
  run('cast', [src], [dst]);
}

/**
 * Writes `src` (broadcast to this shape, converted to this dtype) into `dst`'s elements, in place,
 * and returns `dst` (PyTorch's copy_). Tensors produced by recorded ops cannot be overwritten;
 * overwriting a leaf that a live graph saved changes what that graph's backward sees, so update
 * parameters after backward (as optimizers do).
 */
export function copy_(dst: Tensor, src: Tensor): Tensor {
  checkTensor('copy_', dst, 'destination');
  checkTensor('copy_', src, 'source');
  sameDevice('copy_', dst, src);
  if (dst.gradFn !== null) throw new Error('copy_: cannot overwrite a tensor computed by a recorded op; detach it first');
  broadcastShapes('copy_', dst.shape, src.shape);
  if (src.rank > dst.rank || src.shape.some((d, i) => d !== 1 && d !== dst.shape[dst.rank - src.rank + i])) {
    throw new RangeError(`copy_: source of shape ${shapeStr(src.shape)} cannot be broadcast to the destination's shape ${shapeStr(dst.shape)}`);
  }
  if (dst.size === 0) return dst;
  if (src.storage === dst.storage) {
    // Reading and writing one buffer in a single dispatch is invalid on webgpu (and a view that
    // overlaps its destination would read values it already overwrote): go through a copy.
    const tmp = contiguous(src, true);
    copyInto(broadcastSpec(tmp, dst.shape), dst);
    tmp.dispose();
  } else {
    copyInto(broadcastSpec(src, dst.shape), dst);
  }
  return dst;
}

/** A contiguous tensor with the same elements: a new view if already contiguous (unless `force`), else a copy. */
export function contiguous(x: Tensor, force = false): Tensor {
  checkTensor('contiguous', x);
  if (!force && x.isContiguous()) return x._view(x.shape, x.strides, x.offset);
  const out = empty(x.shape, x.dtype, x.device, 'contiguous');
  copyInto(x, out);
  return out;
}

/** A copy of `x`. */
export const clone = (x: Tensor) => contiguous(x, true);

function inferShape(op: string, x: Tensor, shape: readonly number[]): number[] {
  const s = shape.slice();
  const neg = s.filter((d) => d === -1).length;
  if (neg > 1 || s.some((d) => !Number.isInteger(d) || d < -1)) throw new RangeError(`${op}: invalid shape ${shapeStr(shape)}`);
  const known = s.filter((d) => d !== -1).reduce((a, b) => a * b, 1);
  if (neg) {
    if (known === 0 || x.size % known !== 0) throw new RangeError(`${op}: cannot reshape a tensor of shape ${shapeStr(x.shape)} (${x.size} elements) into ${shapeStr(shape)}`);
    s[s.indexOf(-1)] = x.size / known;
  }
  if (numel(s) !== x.size) throw new RangeError(`${op}: cannot reshape a tensor of shape ${shapeStr(x.shape)} (${x.size} elements) into ${shapeStr(shape)}`);
  return s;
}

/** Strides that let a view of (shape, strides) be seen with `newShape`, or null (then a copy is needed). */
function viewStrides(shape: Shape, strides: readonly number[], newShape: Shape): number[] | null {
  // Walk groups of old dims that map onto groups of new dims with equal element counts.
  const oldS = shape.filter((d) => d !== 1);
  const oldT = strides.filter((_, i) => shape[i] !== 1);
  const out = new Array<number>(newShape.length).fill(0);
  let i = 0;
  let j = 0;
  while (j < newShape.length || i < oldS.length) {
    if (j < newShape.length && newShape[j] === 1) {
      out[j] = 1;
      j++;
      continue;
    }
    if (i >= oldS.length || j >= newShape.length) return numel(newShape) === 0 ? contiguousStrides(newShape) : null;
    // one group: old dims i..i2, new dims j..j2
    let po = oldS[i];
    let pn = newShape[j];
    const i0 = i;
    const j0 = j;
    while (po !== pn) {
      if (po < pn) po *= oldS[++i];
      else pn *= newShape[++j];
    }
    for (let k = i0; k < i; k++) if (oldT[k] !== oldT[k + 1] * oldS[k + 1]) return null;
    let st = oldT[i];
    for (let k = j; k >= j0; k--) {
      if (newShape[k] === 1) {
        out[k] = st;
        continue;
      }
      out[k] = st;
      st *= newShape[k];
    }
    i++;
    j++;
  }
  return out;
}

/** Same elements, new shape (one dim may be -1). A view when the layout allows, else a copy. */
export function reshape(x: Tensor, shape: readonly number[]): Tensor {
  checkTensor('reshape', x);
  const s = inferShape('reshape', x, shape);
  const st = x.isContiguous() ? contiguousStrides(s) : viewStrides(x.shape, x.strides, s);
  if (st) return x._view(s, st, x.offset);
  const c = contiguous(x, true);
  const v = c._view(s, contiguousStrides(s), 0);
  c.dispose();
  return v;
}

/** Like reshape, but throws instead of copying (PyTorch's view). */
export function view(x: Tensor, shape: readonly number[]): Tensor {
  checkTensor('view', x);
  const s = inferShape('view', x, shape);
  const st = x.isContiguous() ? contiguousStrides(s) : viewStrides(x.shape, x.strides, s);
  if (!st) throw new RangeError(`view: a tensor of shape ${shapeStr(x.shape)} and strides ${shapeStr(x.strides)} cannot be viewed as ${shapeStr(s)}; use reshape (which copies)`);
  return x._view(s, st, x.offset);
}

export function permute(x: Tensor, dims: readonly number[]): Tensor {
  checkTensor('permute', x);
  if (dims.length !== x.rank) throw new RangeError(`permute: expected ${x.rank} dims for a tensor of shape ${shapeStr(x.shape)}, received ${shapeStr(dims)}`);
  const d = dims.map((v) => normDim('permute', v, x.rank));
  if (new Set(d).size !== d.length) throw new RangeError(`permute: repeated dim in ${shapeStr(dims)}`);
  return x._view(d.map((i) => x.shape[i]), d.map((i) => x.strides[i]), x.offset);
}

export function transpose(x: Tensor, dim0 = -2, dim1 = -1): Tensor {
  checkTensor('transpose', x);
  if (x.rank < 2 && arguments.length < 2) return x._view(x.shape, x.strides, x.offset);
  const a = normDim('transpose', dim0, x.rank);
  const b = normDim('transpose', dim1, x.rank);
  const p = Array.from({ length: x.rank }, (_, i) => i);
  [p[a], p[b]] = [p[b], p[a]];
  return permute(x, p);
}

/** Broadcasts size-1 dims to `shape` without copying (-1 keeps a dim). */
export function expand(x: Tensor, shape: readonly number[]): Tensor {
  checkTensor('expand', x);
  if (shape.length < x.rank) throw new RangeError(`expand: target shape ${shapeStr(shape)} has fewer dims than ${shapeStr(x.shape)}`);
  const lead = shape.length - x.rank;
  const s = shape.map((d, i) => (d === -1 ? (i < lead ? NaN : x.shape[i - lead]) : d));
  const strides = s.map((d, i) => {
    if (i < lead) return 0;
    const xs = x.shape[i - lead];
    if (xs === d) return x.strides[i - lead];
    if (xs === 1) return 0;
    throw new RangeError(`expand: cannot expand shape ${shapeStr(x.shape)} to ${shapeStr(shape)} (dim ${i}: ${xs} vs ${d})`);
  });
  if (s.some((d) => !Number.isInteger(d) || d < 0)) throw new RangeError(`expand: invalid target shape ${shapeStr(shape)}`);
  return x._view(s, strides, x.offset);
}

export function broadcastTo(x: Tensor, shape: readonly number[]): Tensor {
  return expand(x, shape);
}

/** Views of the tensors broadcast against each other. */
export function broadcastTensors(...ts: Tensor[]): Tensor[] {
  const shape = broadcastShapes('broadcastTensors', ...ts.map((t) => t.shape));
  return ts.map((t) => expand(t, shape));
}

export function unsqueeze(x: Tensor, dim: number): Tensor {
  checkTensor('unsqueeze', x);
  const d = normDim('unsqueeze', dim, x.rank + 1);
  const shape = [...x.shape];
  const strides = [...x.strides];
  shape.splice(d, 0, 1);
  strides.splice(d, 0, d < x.rank ? x.strides[d] * x.shape[d] : 1);
  return x._view(shape, strides, x.offset);
}

/** Removes size-1 dims (all of them, or those in `dim`). */
export function squeeze(x: Tensor, dim?: number | readonly number[]): Tensor {
  checkTensor('squeeze', x);
  const dims = dim === undefined ? x.shape.map((_, i) => i) : (typeof dim === 'number' ? [dim] : dim).map((d) => normDim('squeeze', d, x.rank));
  const keep = x.shape.map((s, i) => !(s === 1 && dims.includes(i)));
  return x._view(x.shape.filter((_, i) => keep[i]), x.strides.filter((_, i) => keep[i]), x.offset);
}

export function flatten(x: Tensor, startDim = 0, endDim = -1): Tensor {
  checkTensor('flatten', x);
  if (x.rank === 0) return reshape(x, [1]);
  const a = normDim('flatten', startDim, x.rank);
  const b = normDim('flatten', endDim, x.rank);
  if (a > b) throw new RangeError(`flatten: startDim ${startDim} comes after endDim ${endDim}`);
  return reshape(x, [...x.shape.slice(0, a), numel(x.shape.slice(a, b + 1)), ...x.shape.slice(b + 1)]);
}

export function unflatten(x: Tensor, dim: number, sizes: readonly number[]): Tensor {
  checkTensor('unflatten', x);
  const d = normDim('unflatten', dim, x.rank);
  return reshape(x, [...x.shape.slice(0, d), ...sizes, ...x.shape.slice(d + 1)]);
}

/** Elements start..end-1 (step > 0) along `dim`, as a view. Negative indices count from the end. */
export function slice(x: Tensor, dim: number, start = 0, end?: number, step = 1): Tensor {
  checkTensor('slice', x);
  const d = normDim('slice', dim, x.rank);
  const n = x.shape[d];
  if (!Number.isInteger(step) || step <= 0) throw new RangeError(`slice: step must be a positive integer, received ${step}`);
  const norm = (v: number) => Math.min(Math.max(v < 0 ? v + n : v, 0), n);
  const s = norm(start);
  const e = Math.max(norm(end ?? n), s);
  const shape = [...x.shape];
  shape[d] = Math.ceil((e - s) / step);
  const strides = [...x.strides];
  strides[d] *= step;
  return x._view(shape, strides, x.offset + s * x.strides[d]);
}

export function narrow(x: Tensor, dim: number, start: number, length: number): Tensor {
  checkTensor('narrow', x);
  const d = normDim('narrow', dim, x.rank);
  const n = x.shape[d];
  const s = start < 0 ? start + n : start;
  if (s < 0 || length < 0 || s + length > n) throw new RangeError(`narrow: range [${start}, ${start}+${length}) is out of bounds for dim ${dim} of size ${n}`);
  return slice(x, d, s, s + length);
}

/** The sub-tensor at `index` along `dim` (that dim removed), as a view. */
export function select(x: Tensor, dim: number, index: number): Tensor {
  checkTensor('select', x);
  const d = normDim('select', dim, x.rank);
  const n = x.shape[d];
  if (!Number.isInteger(index) || index < -n || index >= n) throw new RangeError(`select: index ${index} is out of range for dim ${dim} of size ${n}`);
  const i = index < 0 ? index + n : index;
  return x._view(x.shape.filter((_, k) => k !== d), x.strides.filter((_, k) => k !== d), x.offset + i * x.strides[d]);
}

/** Reverses the order along `dims`, as a view (negative strides). */
export function flip(x: Tensor, dims: number | readonly number[]): Tensor {
  checkTensor('flip', x);
  const ds = (typeof dims === 'number' ? [dims] : dims).map((d) => normDim('flip', d, x.rank));
  const strides = [...x.strides];
  let offset = x.offset;
  for (const d of new Set(ds)) {
    if (x.shape[d] > 0) offset += (x.shape[d] - 1) * strides[d];
    strides[d] = -strides[d];
  }
  return x._view(x.shape, strides, offset);
}

/** Concatenates along `dim`; dtypes are promoted. */
export function cat(tensors: readonly Tensor[], dim = 0): Tensor {
  if (!Array.isArray(tensors as unknown) || tensors.length === 0) throw new TypeError('cat: expected a non-empty array of tensors');
  tensors.forEach((t, i) => checkTensor('cat', t, `tensors[${i}]`));
  sameDevice('cat', ...tensors);
  // PyTorch skips 1-d empty tensors in cat
  const parts = tensors.filter((t) => !(t.rank === 1 && t.shape[0] === 0));
  if (parts.length === 0) return contiguous(tensors[0], true);
  const ref = parts[0];
  const d = normDim('cat', dim, ref.rank);
  for (const t of parts) {
    if (t.rank !== ref.rank || t.shape.some((s, i) => i !== d && s !== ref.shape[i])) {
      throw new RangeError(`cat: shapes ${parts.map((p) => shapeStr(p.shape)).join(', ')} differ outside dim ${d}`);
    }
  }
  const dtype = parts.map((t) => t.dtype).reduce(promoteTypes);
  const shape = [...ref.shape];
  shape[d] = parts.reduce((a, t) => a + t.shape[d], 0);
  const out = empty(shape, dtype, ref.device, 'cat');
  let at = 0;
  for (const t of parts) {
    if (t.size > 0) copyInto(t, { storage: out.storage, shape: t.shape, strides: out.strides, offset: at * out.strides[d], dtype });
    at += t.shape[d];
  }
  return out;
}

/** Stacks equal-shaped tensors along a new dim. */
export function stack(tensors: readonly Tensor[], dim = 0): Tensor {
  if (!Array.isArray(tensors as unknown) || tensors.length === 0) throw new TypeError('stack: expected a non-empty array of tensors');
  tensors.forEach((t, i) => checkTensor('stack', t, `tensors[${i}]`));
  const ref = tensors[0];
  for (const t of tensors) if (t.rank !== ref.rank || t.shape.some((s, i) => s !== ref.shape[i])) {
    throw new RangeError(`stack: expected tensors of equal shape, received ${tensors.map((p) => shapeStr(p.shape)).join(', ')}`);
  }
  const d = normDim('stack', dim, ref.rank + 1);
  const views = tensors.map((t) => unsqueeze(t, d));
  try {
    return cat(views, d);
  } finally {
    for (const v of views) v.dispose();
  }
}

/** Splits into views of `size` along dim (the last may be smaller), or into the given sizes. */
export function split(x: Tensor, sizeOrSections: number | readonly number[], dim = 0): Tensor[] {
  checkTensor('split', x);
  const d = normDim('split', dim, x.rank);
  const n = x.shape[d];
  let sizes: number[];
  if (typeof sizeOrSections === 'number') {
    if (!Number.isInteger(sizeOrSections) || sizeOrSections <= 0) throw new RangeError(`split: size must be a positive integer, received ${sizeOrSections}`);
    sizes = [];
    for (let s = 0; s < n; s += sizeOrSections) sizes.push(Math.min(sizeOrSections, n - s));
    if (n === 0) sizes.push(0);
  } else {
    sizes = [...sizeOrSections];
    if (sizes.reduce((a, b) => a + b, 0) !== n) throw new RangeError(`split: sections ${shapeStr(sizes)} do not sum to ${n}, the size of dim ${d}`);
  }
  let at = 0;
  return sizes.map((s) => {
    const v = slice(x, d, at, at + s);
    at += s;
    return v;
  });
}

/** Splits into `chunks` views of (nearly) equal size, as PyTorch's chunk. */
export function chunk(x: Tensor, chunks: number, dim = 0): Tensor[] {
  checkTensor('chunk', x);
  if (!Number.isInteger(chunks) || chunks <= 0) throw new RangeError(`chunk: chunks must be a positive integer, received ${chunks}`);
  const d = normDim('chunk', dim, x.rank);
  return split(x, Math.max(1, Math.ceil(x.shape[d] / chunks)), d);
}

export function unbind(x: Tensor, dim = 0): Tensor[] {
  checkTensor('unbind', x);
  const d = normDim('unbind', dim, x.rank);
  return Array.from({ length: x.shape[d] }, (_, i) => select(x, d, i));
}

export type PadMode = 'constant' | 'reflect' | 'replicate' | 'circular';

/**
 * Pads with PyTorch's F.pad convention: `pad` lists (before, after) pairs starting from the last
 * dim. Negative padding crops.
 */
export function pad(x: Tensor, padding: readonly number[], options: { mode?: PadMode; value?: number } = {}): Tensor {
  checkTensor('pad', x);
  const mode = options.mode ?? 'constant';
  if (padding.length % 2 !== 0 || padding.length / 2 > x.rank || !padding.every(Number.isInteger)) {
    throw new RangeError(`pad: expected an even number of integer paddings for at most ${x.rank} dims, received ${shapeStr(padding)}`);
  }
  const pairs: [number, number, number][] = [];
  for (let k = 0; k < padding.length / 2; k++) pairs.push([x.rank - 1 - k, padding[2 * k], padding[2 * k + 1]]);
  if (mode === 'constant') {
    const shape = [...x.shape];
    let src: TensorSpec = x;
    let srcShape = [...x.shape];
    let srcOff = x.offset;
    for (const [d, before, after] of pairs) {
      shape[d] = x.shape[d] + before + after;
      if (shape[d] < 0) throw new RangeError(`pad: padding ${before}, ${after} makes dim ${d} negative`);
      // negative padding crops the source
      const cropLo = Math.max(0, -before);
      const cropHi = Math.max(0, -after);
      srcOff += cropLo * x.strides[d];
      srcShape[d] = Math.max(0, srcShape[d] - cropLo - cropHi);
    }
    src = { storage: x.storage, shape: srcShape, strides: x.strides, offset: srcOff, dtype: x.dtype };
    const out = full(shape, options.value ?? 0, { dtype: x.dtype, device: x.device });
    let dstOff = 0;
    for (const [d, before] of pairs) dstOff += Math.max(0, before) * out.strides[d];
    if (numel(srcShape) > 0) copyInto(src, { storage: out.storage, shape: srcShape, strides: out.strides, offset: dstOff, dtype: x.dtype });
    srcShape = [];
    return out;
  }
  let cur = contiguous(x);
  for (const [d, before, after] of pairs) {
    const n = cur.shape[d];
    if (before < 0 || after < 0) throw new RangeError(`pad: mode '${mode}' needs non-negative padding`);
    if (mode === 'reflect' && (before >= n || after >= n)) throw new RangeError(`pad: reflect padding (${before}, ${after}) must be smaller than dim ${d} of size ${n}`);
    if ((mode === 'circular') && (before > n || after > n)) throw new RangeError(`pad: circular padding (${before}, ${after}) must not exceed dim ${d} of size ${n}`);
    if (mode === 'replicate' && n === 0) throw new RangeError(`pad: cannot replicate-pad an empty dim ${d}`);
    const pieces: Tensor[] = [];
    const edge = (i: number, count: number) => {
      const s = slice(cur, d, i, i + 1);
      const shape = [...cur.shape];
      shape[d] = count;
      const e = expand(s, shape);
      s.dispose();
      return e;
    };
    if (mode === 'reflect') {
      const lo = slice(cur, d, 1, before + 1);
      pieces.push(flip(lo, d));
      lo.dispose();
    } else if (mode === 'replicate') pieces.push(edge(0, before));
    else pieces.push(slice(cur, d, n - before, n));
    pieces.push(cur._view(cur.shape, cur.strides, cur.offset));
    if (mode === 'reflect') {
      const hi = slice(cur, d, n - 1 - after, n - 1);
      pieces.push(flip(hi, d));
      hi.dispose();
    } else if (mode === 'replicate') pieces.push(edge(n - 1, after));
    else pieces.push(slice(cur, d, 0, after));
    const next = cat(pieces, d);
    for (const p of pieces) p.dispose();
    cur.dispose();
    cur = next;
  }
  if (!['reflect', 'replicate', 'circular'].includes(mode)) {
    cur.dispose();
    throw new TypeError(`pad: unknown mode '${mode}'; expected constant, reflect, replicate or circular`);
  }
  return cur;
}

/** Rolls elements along dims (all elements, flattened, when dims is omitted). */
export function roll(x: Tensor, shifts: number | readonly number[], dims?: number | readonly number[]): Tensor {
  checkTensor('roll', x);
  if (dims === undefined) {
    const flat = reshape(x, [-1]);
    const r = roll(flat, typeof shifts === 'number' ? shifts : shifts[0], 0);
    flat.dispose();
    const out = reshape(r, x.shape);
    r.dispose();
    return out;
  }
  const sh = typeof shifts === 'number' ? [shifts] : [...shifts];
  const ds = typeof dims === 'number' ? [dims] : [...dims];
  if (sh.length !== ds.length) throw new RangeError(`roll: ${sh.length} shifts for ${ds.length} dims`);
  let cur = contiguous(x);
  for (let k = 0; k < ds.length; k++) {
    const d = normDim('roll', ds[k], x.rank);
    const n = cur.shape[d];
    if (n === 0) continue;
    const s = ((sh[k] % n) + n) % n;
    if (s === 0) continue;
    const a = slice(cur, d, n - s, n);
    const b = slice(cur, d, 0, n - s);
    const next = cat([a, b], d);
    a.dispose();
    b.dispose();
    cur.dispose();
    cur = next;
  }
  return cur;
}

/** Tiles the tensor `repeats` times along each dim (PyTorch's repeat). */
export function repeat(x: Tensor, repeats: readonly number[]): Tensor {
  checkTensor('repeat', x);
  if (repeats.length < x.rank || !repeats.every((r) => Number.isInteger(r) && r >= 0)) {
    throw new RangeError(`repeat: expected at least ${x.rank} non-negative integer repeats, received ${shapeStr(repeats)}`);
  }
  const lead = repeats.length - x.rank;
  const shape = [...new Array<number>(lead).fill(1), ...x.shape];
  const inter: number[] = [];
  const expanded: number[] = [];
  shape.forEach((s, i) => {
    inter.push(1, s);
    expanded.push(repeats[i], s);
  });
  const v = reshape(x, inter);
  const e = expand(v, expanded);
  const c = contiguous(e, true);
  v.dispose();
  e.dispose();
  const out = reshape(c, shape.map((s, i) => s * repeats[i]));
  c.dispose();
  return out;
}

function triangle(op: string, x: Tensor, diagonal: number, lower: boolean): Tensor {
  checkTensor(op, x);
  if (x.rank < 2) throw new RangeError(`${op}: expected a tensor of rank >= 2, received shape ${shapeStr(x.shape)}`);
  const n = x.shape[x.rank - 2];
  const m = x.shape[x.rank - 1];
  const rows = arange(0, n, 1, { device: x.device });
  const cols = arange(0, m, 1, { device: x.device });
  const r = reshape(rows, [n, 1]);
  const diff = sub(cols, r);
  const mask = lower ? le(diff, diagonal) : ge(diff, diagonal);
  const out = where(mask, x, 0);
  for (const t of [rows, cols, r, diff, mask]) t.dispose();
  if (out.dtype !== x.dtype) {
    const c = cast(out, x.dtype);
    out.dispose();
    return c;
  }
  return out;
}

/** Lower triangle (elements with col - row <= diagonal), the rest zero. */
export const tril = (x: Tensor, diagonal = 0) => triangle('tril', x, diagonal, true);
/** Upper triangle (elements with col - row >= diagonal), the rest zero. */
export const triu = (x: Tensor, diagonal = 0) => triangle('triu', x, diagonal, false);
