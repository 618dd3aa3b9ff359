export type Shape = readonly number[];

export const numel = (shape: Shape): number => shape.reduce((a, b) => a * b, 1);

export function contiguousStrides(shape: Shape): number[] {
  const s = new Array<number>(shape.length);
  let acc = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    s[i] = acc;
    acc *= shape[i];
  }
  return s;
}

export function isContiguous(shape: Shape, strides: readonly number[]): boolean {
  let acc = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    if (shape[i] !== 1 && strides[i] !== acc) return false;
    acc *= shape[i];
  }
  return true;
}

export const shapeStr = (s: Shape) => `[${s.join(', ')}]`;

export function sameShape(a: Shape, b: Shape): boolean {
  return a.length === b.length && a.every((v, i) => v === b[i]);
}

export function checkShape(op: string, shape: unknown): number[] {
  if (!Array.isArray(shape) || !shape.every((d) => Number.isInteger(d) && d >= 0)) {
    throw new TypeError(`${op}: shape must be an array of non-negative integers, received ${JSON.stringify(shape)}`);
  }
  return shape.slice();
}

/** Broadcast two shapes with NumPy rules, or throw naming the op. */
export function broadcastShapes(op: string, ...shapes: Shape[]): number[] {
  const rank = Math.max(...shapes.map((s) => s.length));
  const out = new Array<number>(rank).fill(1);
  for (const s of shapes) {
    for (let i = 0; i < s.length; i++) {
      const j = rank - s.length + i;
      const d = s[i];
      if (out[j] === 1) out[j] = d;
      else if (d !== 1 && d !== out[j]) {
        throw new RangeError(`${op}: shapes ${shapes.map(shapeStr).join(' and ')} cannot be broadcast together (dim ${j}: ${out[j]} vs ${d})`);
      }
    }
  }
  return out;
}

/** Normalise a possibly negative dim against a rank, or throw naming the op. */
export function normDim(op: string, dim: number, rank: number): number {
  const r = Math.max(rank, 1);
  if (!Number.isInteger(dim) || dim < -r || dim >= r) {
    throw new RangeError(`${op}: dim ${dim} is out of range for a tensor of rank ${rank} (expected -${r} <= dim < ${r})`);
  }
  return dim < 0 ? dim + r : dim;
}

/** Normalise dims (undefined = all), sorted and unique. */
export function normDims(op: string, dims: number | readonly number[] | undefined, rank: number): number[] {
  if (dims === undefined) return Array.from({ length: rank }, (_, i) => i);
  const list = typeof dims === 'number' ? [dims] : dims;
  const out = [...new Set(list.map((d) => normDim(op, d, rank)))].sort((a, b) => a - b);
  if (rank === 0) return [];
  return out;
}

/**
 * Merges the dims that every view steps through contiguously (stride[d] = stride[d+1]·shape[d+1]
 * in all of them) and drops size-1 dims, so elementwise loops run over as few, as long dims as
 * possible. Returns the merged shape and each view's strides over it.
 */
export function coalesceDims(views: readonly { readonly strides: readonly number[] }[], shape: Shape): { shape: number[]; strides: number[][] } {
  const outShape: number[] = [];
  const strides: number[][] = views.map(() => []);
  for (let d = 0; d < shape.length; d++) {
    if (shape[d] === 1) continue;
    const last = outShape.length - 1;
    if (last >= 0 && views.every((v, k) => strides[k][last] === v.strides[d] * shape[d])) {
      outShape[last] *= shape[d];
      views.forEach((v, k) => (strides[k][last] = v.strides[d]));
    } else {
      outShape.push(shape[d]);
      views.forEach((v, k) => strides[k].push(v.strides[d]));
    }
  }
  return { shape: outShape, strides };
}

/**
 * The stride that walks dims [from, to) of a view as one flat dim (row-major), or null when they
 * do not merge (sizes of 1 are skipped; no dims, or only sizes of 1, give 1).
 */
export function flatStride(shape: Shape, strides: readonly number[], from = 0, to = shape.length): number | null {
  let stride: number | null = null;
  let span = 1;
  for (let d = to - 1; d >= from; d--) {
    if (shape[d] === 1) continue;
    if (stride === null) stride = strides[d];
    else if (strides[d] !== stride * span) return null;
    span *= shape[d];
  }
  return stride ?? 1;
}
