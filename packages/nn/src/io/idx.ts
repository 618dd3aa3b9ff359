import * as T from '@tessera/tensor';
import { fileExists, nodeZlib, readBytes } from './node.js';

export type IdxDType = 'uint8' | 'int8' | 'int16' | 'int32' | 'float32' | 'float64';
export interface IdxArray {
  shape: number[];
  dtype: IdxDType;
  data: Uint8Array | Int8Array | Int16Array | Int32Array | Float32Array | Float64Array;
}

// IDX type byte -> dtype and element size. Multi-byte values are big-endian.
const IDX_TYPES: Record<number, [IdxDType, number]> = {
  0x08: ['uint8', 1], 0x09: ['int8', 1], 0x0b: ['int16', 2], 0x0c: ['int32', 4], 0x0d: ['float32', 4], 0x0e: ['float64', 8],
};

/**
 * Reads an IDX file (the MNIST format): bytes or a path (Node), gzip-compressed or plain.
 * Header: two zero bytes, a type byte, the number of dims, one big-endian uint32 per dim.
 */
export async function readIdx(source: Uint8Array | string): Promise<IdxArray> {
  const op = 'readIdx';
  let bytes = typeof source === 'string' ? await readBytes(op, source) : source;
  if (!(bytes instanceof Uint8Array)) throw new TypeError(`${op}: expected a Uint8Array or a path, received ${String(source)}`);
  if (bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b) {
    const zlib = await nodeZlib(op);
    try {
      bytes = new Uint8Array(zlib.gunzipSync(bytes));
    } catch (e) {
      throw new Error(`${op}: corrupt gzip data: ${(e as Error).message}`);
    }
  }
  return parseIdx(bytes);
}

function parseIdx(bytes: Uint8Array): IdxArray {
  const op = 'readIdx';
  if (bytes.length < 4 || bytes[0] !== 0 || bytes[1] !== 0) throw new Error(`${op}: not an IDX file (expected magic 00 00 <type> <rank>)`);
  const type = IDX_TYPES[bytes[2]];
  if (!type) throw new Error(`${op}: unknown IDX type byte 0x${bytes[2].toString(16)}; expected one of 08 09 0b 0c 0d 0e`);
  const rank = bytes[3];
  const start = 4 + 4 * rank;
  if (bytes.length < start) throw new Error(`${op}: truncated header: ${rank} dims need ${start} bytes, received ${bytes.length}`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const shape = Array.from({ length: rank }, (_, i) => view.getUint32(4 + 4 * i, false));
  const [dtype, size] = type;
  const n = shape.reduce((a, b) => a * b, 1);
  if (bytes.length !== start + n * size) {
    throw new Error(`${op}: shape [${shape.join(', ')}] of ${dtype} needs ${start + n * size} bytes, received ${bytes.length}`);
  }
  let data: IdxArray['data'];
  switch (dtype) {
    case 'uint8': data = bytes.slice(start); break;
    case 'int8': data = new Int8Array(bytes.slice(start).buffer); break;
    default: {
      const Arr = { int16: Int16Array, int32: Int32Array, float32: Float32Array, float64: Float64Array }[dtype];
      data = new Arr(n);
      const get = { int16: 'getInt16', int32: 'getInt32', float32: 'getFloat32', float64: 'getFloat64' }[dtype] as 'getInt32';
      for (let i = 0; i < n; i++) data[i] = view[get](start + i * size, false);
    }
  }
  return { shape, dtype, data };
}

export interface LoadMnistOptions {
  /** Folder holding the IDX files; default `$TESSERA_DATA_DIR/<kind>` (TESSERA_DATA_DIR defaults to ../shared/data). */
  root?: string;
  split?: 'train' | 'test';
  kind?: 'mnist' | 'fashion-mnist';
  /** true (default): pixels scaled to [0, 1]; { mean, std }: then also standardised; false: raw 0..255 as float32. */
  normalize?: boolean | { mean: number; std: number };
  device?: T.DeviceName;
}

const SOURCES = {
  mnist: 'https://ossci-datasets.s3.amazonaws.com/mnist/',
  'fashion-mnist': 'http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/',
};

/**
 * Loads MNIST or Fashion-MNIST from IDX files (`train-*` / `t10k-*`, `.gz` or plain):
 * images float32 [N, 1, 28, 28], labels int32 [N]. Nothing is downloaded: a missing file is an
 * error naming it and where it can be downloaded from.
 */
export async function loadMnist(options: LoadMnistOptions = {}): Promise<{ images: T.Tensor; labels: T.Tensor }> {
  const op = 'loadMnist';
  const { split = 'train', kind = 'mnist', normalize = true, device } = options;
  if (split !== 'train' && split !== 'test') throw new RangeError(`${op}: split must be 'train' or 'test', received ${String(split)}`);
  if (kind !== 'mnist' && kind !== 'fashion-mnist') throw new RangeError(`${op}: kind must be 'mnist' or 'fashion-mnist', received ${String(kind)}`);
  if (typeof normalize === 'object' && !(normalize.std > 0)) throw new RangeError(`${op}: normalize.std must be positive, received ${normalize.std}`);
  const root = options.root ?? `${defaultDataDir()}/${kind}`;
  const prefix = split === 'train' ? 'train' : 't10k';
  const images = await readIdx(await findFile(op, root, `${prefix}-images-idx3-ubyte`, SOURCES[kind]));
  const labels = await readIdx(await findFile(op, root, `${prefix}-labels-idx1-ubyte`, SOURCES[kind]));
  if (images.dtype !== 'uint8' || images.shape.length !== 3 || images.shape[1] !== 28 || images.shape[2] !== 28) {
    throw new Error(`${op}: expected uint8 images of shape [N, 28, 28], received ${images.dtype} [${images.shape.join(', ')}]`);
  }
  if (labels.dtype !== 'uint8' || labels.shape.length !== 1 || labels.shape[0] !== images.shape[0]) {
    throw new Error(`${op}: expected ${images.shape[0]} uint8 labels, received ${labels.dtype} [${labels.shape.join(', ')}]`);
  }
  const scale = normalize === false ? 1 : 1 / 255;
  const [mean, std] = typeof normalize === 'object' ? [normalize.mean, normalize.std] : [0, 1];
  const px = new Float32Array(images.data.length);
  for (let i = 0; i < px.length; i++) px[i] = (images.data[i] * scale - mean) / std;
  const n = images.shape[0];
  return {
    images: T.tensor(px, { shape: [n, 1, 28, 28], device }),
    labels: T.tensor(Int32Array.from(labels.data), { dtype: 'int32', device }),
  };
}

/** TESSERA_DATA_DIR, else ../shared/data relative to the working directory's repository root. */
function defaultDataDir(): string {
  const env = typeof process !== 'undefined' ? process.env.TESSERA_DATA_DIR : undefined;
  return env ?? new URL('../../../../../shared/data', import.meta.url).pathname;
}

async function findFile(op: string, root: string, name: string, source: string): Promise<string> {
  for (const path of [`${root}/${name}.gz`, `${root}/${name}`]) if (await fileExists(op, path)) return path;
  throw new Error(`${op}: missing file ${root}/${name}.gz (or ${name}); download ${source}${name}.gz into ${root}`);
}
