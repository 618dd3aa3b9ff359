import * as T from '@tessera/tensor';
import { ELEMENT_SIZE, decodeElements, type Uint8As } from './npy.js';
import { readBytes, writeBytes } from './node.js';

/**
 * safetensors (https://github.com/huggingface/safetensors): an 8-byte little-endian header
 * length N, N bytes of JSON { name: { dtype, shape, data_offsets: [begin, end] }, __metadata__ },
 * padded with spaces to a multiple of 8, then the raw little-endian C-order data.
 * Loaded dtypes: F32 F64 I32 U32 BOOL, U8 (as int32 or float32, see uint8As), I64 (as int32,
 * range-checked). Saved dtypes: F32 F64 I32 U32 BOOL.
 */
const CODES = { F32: 'f4', F64: 'f8', I32: 'i4', U32: 'u4', BOOL: 'b1', U8: 'u1', I64: 'i8' } as const;
const SAVE: Record<T.DType, keyof typeof CODES> = { float32: 'F32', float64: 'F64', int32: 'I32', uint32: 'U32', bool: 'BOOL' };
const MAX_HEADER = 100 * 1024 * 1024;

/** Serialises tensors (read back from their devices, hence async) and string metadata. */
export async function saveSafetensors(tensors: Record<string, T.Tensor>, metadata?: Record<string, string>): Promise<Uint8Array> {
  const op = 'saveSafetensors';
  if (typeof tensors !== 'object' || tensors === null) throw new TypeError(`${op}: expected a record of tensors`);
  const header: Record<string, unknown> = {};
  if (metadata !== undefined) {
    for (const [k, v] of Object.entries(metadata)) if (typeof v !== 'string') throw new TypeError(`${op}: metadata values must be strings, received ${typeof v} for '${k}'`);
    header.__metadata__ = metadata;
  }
  const blobs: Uint8Array[] = [];
  let offset = 0;
  for (const [name, t] of Object.entries(tensors)) {
    if (name === '__metadata__') throw new RangeError(`${op}: '__metadata__' is reserved and cannot name a tensor`);
    if (!T.isTensor(t)) throw new TypeError(`${op}: '${name}' is not a tensor`);
    const d = await t.data();
    const bytes = new Uint8Array(d.buffer, d.byteOffset, d.byteLength);
    header[name] = { dtype: SAVE[t.dtype], shape: [...t.shape], data_offsets: [offset, offset + bytes.length] };
    blobs.push(bytes);
    offset += bytes.length;
  }
  // Pad the JSON with spaces so the data starts 8-byte aligned (8 + header length).
  const raw = new TextEncoder().encode(JSON.stringify(header));
  const head = new Uint8Array(Math.ceil(raw.length / 8) * 8).fill(0x20);
  head.set(raw);
  const out = new Uint8Array(8 + head.length + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(head.length), true);
  out.set(head, 8);
  let at = 8 + head.length;
  for (const b of blobs) {
    out.set(b, at);
    at += b.length;
  }
  return out;
}

export interface LoadSafetensorsOptions {
  device?: T.DeviceName;
  uint8As?: Uint8As;
}

/** Parses a safetensors buffer into { name: tensor }; `__metadata__` is left out (see readSafetensorsMetadata). */
export function loadSafetensors(bytes: Uint8Array, options: LoadSafetensorsOptions = {}): Record<string, T.Tensor> {
  const op = 'loadSafetensors';
  const { header, dataStart } = parseHeader(op, bytes);
  const out: Record<string, T.Tensor> = {};
  try {
    for (const [name, info] of Object.entries(header)) {
      if (name === '__metadata__') continue;
      const { code, shape, begin, end } = checkEntry(op, name, info, bytes.length - dataStart);
      out[name] = decodeElements(op, code, bytes, dataStart + begin, dataStart + end, shape, options);
    }
  } catch (e) {
    T.dispose(out);
    throw e;
  }
  return out;
}

/** The `__metadata__` string map of a safetensors buffer ({} when absent). */
export function readSafetensorsMetadata(bytes: Uint8Array): Record<string, string> {
  const meta = parseHeader('readSafetensorsMetadata', bytes).header.__metadata__;
  return (meta ?? {}) as Record<string, string>;
}

function parseHeader(op: string, bytes: Uint8Array): { header: Record<string, unknown>; dataStart: number } {
  if (!(bytes instanceof Uint8Array)) throw new TypeError(`${op}: expected a Uint8Array`);
  if (bytes.length < 8) throw new Error(`${op}: truncated file: ${bytes.length} bytes, the header length alone needs 8`);
  const n = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getBigUint64(0, true);
  if (n > BigInt(MAX_HEADER)) throw new Error(`${op}: header length ${n} exceeds the ${MAX_HEADER}-byte limit (corrupt file?)`);
  if (8 + Number(n) > bytes.length) throw new Error(`${op}: truncated file: header length ${n} needs ${8 + Number(n)} bytes, received ${bytes.length}`);
  let header: unknown;
  try {
    header = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(8, 8 + Number(n))));
  } catch (e) {
    throw new Error(`${op}: bad header: not valid UTF-8 JSON (${(e as Error).message})`);
  }
  if (typeof header !== 'object' || header === null || Array.isArray(header)) throw new Error(`${op}: bad header: expected a JSON object`);
  const meta = (header as Record<string, unknown>).__metadata__;
  if (meta !== undefined && (typeof meta !== 'object' || meta === null || Object.values(meta).some((v) => typeof v !== 'string'))) {
    throw new Error(`${op}: bad header: __metadata__ must map strings to strings`);
  }
  return { header: header as Record<string, unknown>, dataStart: 8 + Number(n) };
}

function checkEntry(op: string, name: string, info: unknown, dataLength: number) {
  const e = info as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
  if (typeof e !== 'object' || e === null) throw new Error(`${op}: bad header: entry '${name}' is not an object`);
  if (typeof e.dtype !== 'string' || !(e.dtype in CODES)) {
    throw new Error(`${op}: tensor '${name}' has unsupported dtype ${JSON.stringify(e.dtype)}; expected one of ${Object.keys(CODES).join(', ')}`);
  }
  const shape = e.shape;
  if (!Array.isArray(shape) || shape.some((d) => !Number.isInteger(d) || d < 0)) throw new Error(`${op}: bad header: tensor '${name}' shape ${JSON.stringify(shape)} is not a list of non-negative integers`);
  const offs = e.data_offsets;
  if (!Array.isArray(offs) || offs.length !== 2 || !offs.every((o) => Number.isInteger(o) && o >= 0) || offs[0] > offs[1]) {
    throw new Error(`${op}: bad header: tensor '${name}' data_offsets ${JSON.stringify(offs)} must be [begin, end] with 0 <= begin <= end`);
  }
  const code = CODES[e.dtype as keyof typeof CODES];
  const [begin, end] = offs as number[];
  const need = (shape as number[]).reduce((a, b) => a * b, 1) * ELEMENT_SIZE[code];
  if (end - begin !== need) throw new Error(`${op}: tensor '${name}' of ${e.dtype} [${shape.join(', ')}] needs ${need} bytes, data_offsets give ${end - begin}`);
  if (end > dataLength) throw new Error(`${op}: truncated file: tensor '${name}' ends at data byte ${end}, the data section has ${dataLength}`);
  return { code, shape: shape as number[], begin, end };
}

/** Writes tensors to a .safetensors file (Node). */
export async function saveFile(tensors: Record<string, T.Tensor>, path: string, metadata?: Record<string, string>): Promise<void> {
  await writeBytes('saveFile', path, await saveSafetensors(tensors, metadata));
}

/** Reads a .safetensors file (Node). */
export async function loadFile(path: string, options: LoadSafetensorsOptions = {}): Promise<Record<string, T.Tensor>> {
  return loadSafetensors(await readBytes('loadFile', path), options);
}
