/** Element types. `bool` is stored as one byte on cpu and as a u32 on webgpu. */
export type DType = 'float32' | 'float64' | 'int32' | 'uint32' | 'bool';

export const DTYPES: readonly DType[] = ['float32', 'float64', 'int32', 'uint32', 'bool'];

export type TypedArray = Float32Array | Float64Array | Int32Array | Uint32Array | Uint8Array;

export function arrayType(dtype: DType) {
  switch (dtype) {
    case 'float32': return Float32Array;
    case 'float64': return Float64Array;
    case 'int32': return Int32Array;
    case 'uint32': return Uint32Array;
    case 'bool': return Uint8Array;
  }
}

export function newArray(dtype: DType, n: number): TypedArray {
  return new (arrayType(dtype))(n);
}

/** Bytes per element in the cpu representation. */
export function itemSize(dtype: DType): number {
  return dtype === 'float64' ? 8 : dtype === 'bool' ? 1 : 4;
}

export const isFloat = (d: DType) => d === 'float32' || d === 'float64';
export const isInt = (d: DType) => d === 'int32' || d === 'uint32';

export function checkDType(op: string, d: unknown): DType {
  if (typeof d !== 'string' || !(DTYPES as readonly string[]).includes(d)) {
    throw new TypeError(`${op}: unknown dtype ${String(d)}; expected one of ${DTYPES.join(', ')}`);
  }
  return d as DType;
}

const RANK: Record<DType, number> = { bool: 0, uint32: 1, int32: 2, float32: 3, float64: 4 };

/** Result dtype of a binary op between two tensors (bool < uint32 < int32 < float32 < float64). */
export function promoteTypes(a: DType, b: DType): DType {
  return RANK[a] >= RANK[b] ? a : b;
}

/** Result dtype of a tensor combined with a JS number: a non-integer number lifts ints to float32. */
export function promoteScalar(t: DType, v: number | boolean): DType {
  if (typeof v === 'boolean') return t;
  if (t === 'bool') return Number.isInteger(v) ? 'int32' : 'float32';
  if (isInt(t) && !Number.isInteger(v)) return 'float32';
  return t;
}

/** The float dtype an int/bool input is lifted to by float-only math (exp, log, mean, ...). */
export function toFloat(d: DType): DType {
  return isFloat(d) ? d : 'float32';
}
