import * as T from '@tessera/tensor';
import { typedCopy } from './node.js';

/** How uint8 data (numpy '|u1', safetensors 'U8') is loaded: Tessera has no uint8 dtype. */
export type Uint8As = 'int32' | 'float32';

export interface ReadNpyOptions {
  device?: T.DeviceName;
  /** uint8 arrays load as int32 (default) or float32, with the same values. */
  uint8As?: Uint8As;
}

const MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]; // "\x93NUMPY"

const WRITE_DESCR: Record<T.DType, string> = { float32: '<f4', float64: '<f8', int32: '<i4', uint32: '<u4', bool: '|b1' };

/**
 * Decodes raw little-endian element bytes of a numpy / safetensors type code to a tensor.
 * int64 loads as int32 and throws if a value does not fit. `op` names the caller in errors.
 */
export function decodeElements(op: string, code: 'f4' | 'f8' | 'i4' | 'u4' | 'b1' | 'u1' | 'i8', bytes: Uint8Array, begin: number, end: number, shape: number[], options: ReadNpyOptions): T.Tensor {
  const { device, uint8As = 'int32' } = options;
  if (uint8As !== 'int32' && uint8As !== 'float32') throw new RangeError(`${op}: uint8As must be 'int32' or 'float32', received ${String(uint8As)}`);
  switch (code) {
    case 'f4': return T.tensor(typedCopy(Float32Array, bytes, begin, end), { dtype: 'float32', shape, device });
    case 'f8': return T.tensor(typedCopy(Float64Array, bytes, begin, end), { dtype: 'float64', shape, device });
    case 'i4': return T.tensor(typedCopy(Int32Array, bytes, begin, end), { dtype: 'int32', shape, device });
    case 'u4': return T.tensor(typedCopy(Uint32Array, bytes, begin, end), { dtype: 'uint32', shape, device });
    case 'b1': return T.tensor(Uint8Array.from(bytes.subarray(begin, end), (v) => (v ? 1 : 0)), { dtype: 'bool', shape, device });
    case 'u1': {
      const Arr = uint8As === 'int32' ? Int32Array : Float32Array;
      return T.tensor(Arr.from(bytes.subarray(begin, end)), { dtype: uint8As, shape, device });
    }
    case 'i8': {
      const big = typedCopy(BigInt64Array, bytes, begin, end);
      const out = new Int32Array(big.length);
      for (let i = 0; i < big.length; i++) {
        const v = big[i];
        if (v > 2147483647n || v < -2147483648n) throw new RangeError(`${op}: int64 value ${v} at element ${i} does not fit in int32 (int64 data loads as int32)`);
        out[i] = Number(v);
      }
      return T.tensor(out, { dtype: 'int32', shape, device });
    }
  }
}

export const ELEMENT_SIZE = { f4: 4, f8: 8, i4: 4, u4: 4, b1: 1, u1: 1, i8: 8 } as const;

/**
 * Reads a .npy file (format versions 1-3) into a tensor. Supported: little-endian float32,
 * float64, int32, uint32, bool, uint8 (as int32 or float32, see uint8As) and int64 (as int32,
 * range-checked); C order only.
 */
export function readNpy(bytes: Uint8Array, options: ReadNpyOptions = {}): T.Tensor {
  const op = 'readNpy';
  if (!(bytes instanceof Uint8Array)) throw new TypeError(`${op}: expected a Uint8Array`);
  if (bytes.length < 10 || MAGIC.some((b, i) => bytes[i] !== b)) throw new Error(`${op}: not a .npy file (missing the \\x93NUMPY magic)`);
  const major = bytes[6];
  if (major < 1 || major > 3) throw new Error(`${op}: unsupported .npy format version ${major}.${bytes[7]}`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const [hlen, hstart] = major === 1 ? [view.getUint16(8, true), 10] : [view.getUint32(8, true), 12];
  if (bytes.length < hstart + hlen) throw new Error(`${op}: truncated header: needs ${hstart + hlen} bytes, received ${bytes.length}`);
  const header = new TextDecoder(major === 3 ? 'utf-8' : 'latin1').decode(bytes.subarray(hstart, hstart + hlen));
  const descr = /'descr'\s*:\s*'([^']*)'/.exec(header)?.[1];
  const fortran = /'fortran_order'\s*:\s*(True|False)/.exec(header)?.[1];
  const shapeText = /'shape'\s*:\s*\(([^)]*)\)/.exec(header)?.[1];
  if (descr === undefined || fortran === undefined || shapeText === undefined) throw new Error(`${op}: malformed header ${JSON.stringify(header.trim())}`);
  if (fortran === 'True') throw new Error(`${op}: Fortran-order arrays are not supported; save a C-order array (np.ascontiguousarray)`);
  const shape = shapeText.split(',').map((s) => s.trim()).filter(Boolean).map(Number);
  if (shape.some((d) => !Number.isInteger(d) || d < 0)) throw new Error(`${op}: malformed shape (${shapeText})`);
  const code = npyCode(op, descr);
  const begin = hstart + hlen;
  const end = begin + shape.reduce((a, b) => a * b, 1) * ELEMENT_SIZE[code];
  if (bytes.length < end) throw new Error(`${op}: truncated data: shape [${shape.join(', ')}] of '${descr}' needs ${end - begin} bytes, received ${bytes.length - begin}`);
  return decodeElements(op, code, bytes, begin, end, shape, options);
}

function npyCode(op: string, descr: string): keyof typeof ELEMENT_SIZE {
  const m = /^([<>|=])([fiub][1248])$/.exec(descr);
  if (m && m[2] in ELEMENT_SIZE) {
    if (m[1] === '>' && !m[2].endsWith('1')) throw new Error(`${op}: big-endian dtype '${descr}' is not supported; save little-endian data`);
    return m[2] as keyof typeof ELEMENT_SIZE;
  }
  throw new Error(`${op}: unsupported dtype '${descr}'; expected one of <f4 <f8 <i4 <u4 <i8 |b1 |u1`);
}

/** Encodes a tensor as a .npy file (format 1.0, C order, little-endian). Reads the tensor back, hence async. */
export async function writeNpy(tensor: T.Tensor): Promise<Uint8Array> {
  const op = 'writeNpy';
  if (!T.isTensor(tensor)) throw new TypeError(`${op}: expected a tensor, received ${String(tensor)}`);
  const shape = tensor.shape.length === 1 ? `(${tensor.shape[0]},)` : `(${tensor.shape.join(', ')})`;
  let header = `{'descr': '${WRITE_DESCR[tensor.dtype]}', 'fortran_order': False, 'shape': ${shape}, }`;
  // numpy pads with spaces and a final newline so the data starts on a 64-byte boundary.
  const total = Math.ceil((10 + header.length + 1) / 64) * 64;
  header = header.padEnd(total - 10 - 1, ' ') + '\n';
  const data = await tensor.data();
  const out = new Uint8Array(total + data.byteLength);
  out.set(MAGIC, 0);
  out[6] = 1;
  out[7] = 0;
  new DataView(out.buffer).setUint16(8, header.length, true);
  out.set(new TextEncoder().encode(header), 10);
  out.set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength), total);
  return out;
}
