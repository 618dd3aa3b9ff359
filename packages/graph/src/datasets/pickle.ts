/**
 * A small reader for the Python 2 pickles of the Planetoid data (`ind.<name>.{x,tx,allx,y,ty,ally,graph}`):
 * protocol 2, numpy arrays, scipy CSR matrices and a `collections.defaultdict` of int lists.
 * It implements only the opcodes and globals those files use; anything else is a clear error
 * (it never runs arbitrary code, unlike Python's unpickler).
 */

/** A numpy array, C order, little-endian. */
export interface NdArray {
  kind: 'ndarray';
  dtype: 'int32' | 'float32' | 'float64' | 'int64' | 'uint8' | 'bool';
  shape: number[];
  /** int64 values come as float64 (exact below 2^53). */
  data: Int32Array | Float32Array | Float64Array | Uint8Array;
}

/** A scipy.sparse CSR matrix. */
export interface CsrArrays {
  kind: 'csr';
  shape: [number, number];
  indptr: NdArray;
  indices: NdArray;
  data: NdArray;
}

/** A Python 2 `str`: raw bytes. */
export class PyBytes {
  constructor(readonly bytes: Uint8Array) {}
  /** Latin-1 text (what Python 3 reads with encoding='latin1'). */
  text(): string {
    let s = '';
    for (const b of this.bytes) s += String.fromCharCode(b);
    return s;
  }
}

export type PyValue = null | boolean | number | PyBytes | PyValue[] | Map<PyKey, PyValue> | NdArray | CsrArrays | PyObject;
export type PyKey = number | string | boolean | null;

/** Intermediate objects: globals, numpy dtypes, half-built arrays and matrices. */
interface PyObject {
  kind: 'global' | 'dtype' | 'ndarray-pending' | 'csr-pending' | 'tuple';
  [key: string]: unknown;
}

const OPCODES: Record<number, string> = {
  0x80: 'PROTO', 0x63: 'GLOBAL', 0x71: 'BINPUT', 0x72: 'LONG_BINPUT', 0x68: 'BINGET', 0x6a: 'LONG_BINGET',
  0x28: 'MARK', 0x2e: 'STOP', 0x29: 'EMPTY_TUPLE', 0x74: 'TUPLE', 0x85: 'TUPLE1', 0x86: 'TUPLE2', 0x87: 'TUPLE3',
  0x5d: 'EMPTY_LIST', 0x61: 'APPEND', 0x65: 'APPENDS', 0x7d: 'EMPTY_DICT', 0x75: 'SETITEMS', 0x73: 'SETITEM',
  0x4e: 'NONE', 0x88: 'NEWTRUE', 0x89: 'NEWFALSE', 0x4a: 'BININT', 0x4b: 'BININT1', 0x4d: 'BININT2',
  0x55: 'SHORT_BINSTRING', 0x54: 'BINSTRING', 0x52: 'REDUCE', 0x81: 'NEWOBJ', 0x62: 'BUILD',
};

// Names of common opcodes this reader does not handle, for the error message.
const UNSUPPORTED: Record<number, string> = {
  0x58: 'BINUNICODE', 0x8c: 'SHORT_BINUNICODE', 0x8d: 'BINUNICODE8', 0x43: 'SHORT_BINBYTES', 0x42: 'BINBYTES', 0x47: 'BINFLOAT',
  0x8a: 'LONG1', 0x8b: 'LONG4', 0x95: 'FRAME', 0x93: 'STACK_GLOBAL', 0x94: 'MEMOIZE', 0x49: 'INT', 0x4c: 'LONG', 0x53: 'STRING',
  0x56: 'UNICODE', 0x46: 'FLOAT', 0x70: 'PUT', 0x67: 'GET', 0x6f: 'OBJ', 0x69: 'INST', 0x92: 'NEWOBJ_EX', 0x8f: 'EMPTY_SET',
};

const GLOBALS = new Set([
  'numpy.core.multiarray._reconstruct', 'numpy.ndarray', 'numpy.dtype', 'scipy.sparse.csr.csr_matrix',
  'scipy.sparse._csr.csr_matrix', 'collections.defaultdict', '__builtin__.list', 'builtins.list',
]);

const NUMPY_DTYPES: Record<string, [NdArray['dtype'], number]> = {
  i4: ['int32', 4], f4: ['float32', 4], f8: ['float64', 8], i8: ['int64', 8], u1: ['uint8', 1], b1: ['bool', 1],
};

const MARK = Symbol('mark');

/** Parses one pickle (protocol ≤ 2, the Planetoid subset). `name` appears in errors. */
export function readPickle(bytes: Uint8Array, name = 'pickle'): PyValue {
  const op = `readPickle(${name})`;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const stack: unknown[] = [];
  const memo = new Map<number, unknown>();
  let pos = 0;
  const need = (n: number) => {
    if (pos + n > bytes.length) throw new Error(`${op}: truncated pickle: needs ${n} more bytes at offset ${pos}, file has ${bytes.length}`);
  };
  const u8 = () => (need(1), bytes[pos++]);
  const u16 = () => (need(2), (pos += 2), view.getUint16(pos - 2, true));
  const i32 = () => (need(4), (pos += 4), view.getInt32(pos - 4, true));
  const u32 = () => (need(4), (pos += 4), view.getUint32(pos - 4, true));
  const raw = (n: number) => (need(n), (pos += n), bytes.subarray(pos - n, pos));
  const line = () => {
    const end = bytes.indexOf(0x0a, pos);
    if (end < 0) throw new Error(`${op}: truncated pickle: unterminated GLOBAL name at offset ${pos}`);
    const s = new PyBytes(bytes.subarray(pos, end)).text();
    pos = end + 1;
    return s;
  };
  const pop = () => {
    if (stack.length === 0) throw new Error(`${op}: malformed pickle: stack underflow at offset ${pos}`);
    return stack.pop();
  };
  const popMark = (): unknown[] => {
    const at = stack.lastIndexOf(MARK);
    if (at < 0) throw new Error(`${op}: malformed pickle: no MARK on the stack at offset ${pos}`);
    const items = stack.splice(at + 1);
    stack.pop();
    return items;
  };
  const top = () => {
    if (stack.length === 0) throw new Error(`${op}: malformed pickle: empty stack at offset ${pos}`);
    return stack[stack.length - 1];
  };
  const tuple = (items: unknown[]): PyObject => ({ kind: 'tuple', items });

  while (true) {
    const at = pos;
    const code = u8();
    switch (code) {
      case 0x80: { // PROTO
        const proto = u8();
        if (proto > 2) throw new Error(`${op}: pickle protocol ${proto} is not supported (this reader handles protocol 2, as written by Python 2's cPickle)`);
        break;
      }
      case 0x63: { // GLOBAL
        const qual = `${line()}.${line()}`;
        if (!GLOBALS.has(qual)) throw new Error(`${op}: unsupported global ${qual} at offset ${at}; this reader knows numpy arrays, scipy CSR matrices and defaultdict`);
        stack.push({ kind: 'global', name: qual } satisfies PyObject);
        break;
      }
      case 0x71: memo.set(u8(), top()); break; // BINPUT
      case 0x72: memo.set(u32(), top()); break; // LONG_BINPUT
      case 0x68: // BINGET
      case 0x6a: { // LONG_BINGET
        const key = code === 0x68 ? u8() : u32();
        if (!memo.has(key)) throw new Error(`${op}: malformed pickle: memo key ${key} read before it was stored (offset ${at})`);
        stack.push(memo.get(key));
        break;
      }
      case 0x28: stack.push(MARK); break;
      case 0x2e: { // STOP
        const result = pop();
        return finish(op, result);
      }
      case 0x29: stack.push(tuple([])); break;
      case 0x74: stack.push(tuple(popMark())); break;
      case 0x85: stack.push(tuple([pop()])); break;
      case 0x86: { const b = pop(); const a = pop(); stack.push(tuple([a, b])); break; }
      case 0x87: { const c = pop(); const b = pop(); const a = pop(); stack.push(tuple([a, b, c])); break; }
      case 0x5d: stack.push([]); break;
      case 0x61: { const v = pop(); listOf(op, top(), at).push(v); break; }
      case 0x65: { const items = popMark(); listOf(op, top(), at).push(...items); break; }
      case 0x7d: stack.push(new Map()); break;
      case 0x73: { const v = pop(); const k = pop(); dictOf(op, top(), at).set(keyOf(op, k, at), v); break; }
      case 0x75: {
        const items = popMark();
        const d = dictOf(op, top(), at);
        for (let i = 0; i + 1 < items.length; i += 2) d.set(keyOf(op, items[i], at), items[i + 1]);
        break;
      }
      case 0x4e: stack.push(null); break;
      case 0x88: stack.push(true); break;
      case 0x89: stack.push(false); break;
      case 0x4a: stack.push(i32()); break;
      case 0x4b: stack.push(u8()); break;
      case 0x4d: stack.push(u16()); break;
      case 0x55: stack.push(new PyBytes(raw(u8()))); break;
      case 0x54: stack.push(new PyBytes(raw(u32()))); break;
      case 0x52: { // REDUCE
        const args = pop();
        const fn = pop();
        stack.push(reduce(op, fn, args, at));
        break;
      }
      case 0x81: { // NEWOBJ
        pop(); // args: csr_matrix is created empty and filled by BUILD
        const cls = pop() as PyObject;
        if (cls?.kind !== 'global' || !String(cls.name).endsWith('csr_matrix')) throw new Error(`${op}: NEWOBJ of ${describe(cls)} is not supported (offset ${at})`);
        stack.push({ kind: 'csr-pending' } satisfies PyObject);
        break;
      }
      case 0x62: { // BUILD
        const state = pop();
        build(op, top(), state, at);
        break;
      }
      default: {
        const known = UNSUPPORTED[code] ?? OPCODES[code];
        throw new Error(`${op}: unsupported pickle opcode 0x${code.toString(16).padStart(2, '0')}${known ? ` (${known})` : ''} at offset ${at}; this reader handles the protocol-2 subset of the Planetoid files`);
      }
    }
  }
}

function describe(v: unknown): string {
  if (v === null) return 'None';
  if (typeof v === 'object' && v !== null && 'kind' in v) return `${(v as PyObject).kind}${(v as PyObject).name ? ` ${(v as PyObject).name}` : ''}`;
  return typeof v;
}

function listOf(op: string, v: unknown, at: number): unknown[] {
  if (!Array.isArray(v)) throw new Error(`${op}: malformed pickle: APPEND to a ${describe(v)} (offset ${at})`);
  return v;
}

function dictOf(op: string, v: unknown, at: number): Map<PyKey, unknown> {
  if (!(v instanceof Map)) throw new Error(`${op}: malformed pickle: SETITEM on a ${describe(v)} (offset ${at})`);
  return v;
}

function keyOf(op: string, k: unknown, at: number): PyKey {
  if (k instanceof PyBytes) return k.text();
  if (typeof k === 'number' || typeof k === 'string' || typeof k === 'boolean' || k === null) return k;
  throw new Error(`${op}: dict keys of type ${describe(k)} are not supported (offset ${at})`);
}

function items(v: unknown): unknown[] {
  return (v as PyObject)?.kind === 'tuple' ? ((v as PyObject).items as unknown[]) : [];
}

function text(op: string, v: unknown, what: string): string {
  if (v instanceof PyBytes) return v.text();
  if (typeof v === 'string') return v;
  throw new Error(`${op}: expected ${what} to be a string, received ${describe(v)}`);
}

function reduce(op: string, fn: unknown, args: unknown, at: number): unknown {
  const name = (fn as PyObject)?.kind === 'global' ? String((fn as PyObject).name) : '';
  const a = items(args);
  if (name === 'numpy.core.multiarray._reconstruct') return { kind: 'ndarray-pending' } satisfies PyObject;
  if (name === 'numpy.dtype') {
    const descr = text(op, a[0], 'a numpy dtype');
    const dt = NUMPY_DTYPES[descr];
    if (!dt) throw new Error(`${op}: numpy dtype '${descr}' is not supported (supported: ${Object.keys(NUMPY_DTYPES).join(', ')})`);
    return { kind: 'dtype', dtype: dt[0], size: dt[1], order: '<' } satisfies PyObject;
  }
  if (name === 'collections.defaultdict') return new Map();
  throw new Error(`${op}: calling ${name || describe(fn)} is not supported (offset ${at})`);
}

function build(op: string, target: unknown, state: unknown, at: number): void {
  const t = target as PyObject;
  if (t?.kind === 'dtype') {
    // (version, byteorder, subarray, names, fields, elsize, alignment, flags)
    const order = text(op, items(state)[1], 'the dtype byte order');
    if (order === '>') throw new Error(`${op}: big-endian numpy arrays are not supported`);
    return;
  }
  if (t?.kind === 'ndarray-pending') {
    // (version, shape, dtype, fortranOrder, rawData)
    const [, shapeT, dtype, fortran, rawData] = items(state);
    const shape = items(shapeT).map(Number);
    const dt = dtype as PyObject;
    if (dt?.kind !== 'dtype') throw new Error(`${op}: numpy array state without a dtype (offset ${at})`);
    if (fortran === true) throw new Error(`${op}: Fortran-ordered numpy arrays are not supported`);
    if (!(rawData instanceof PyBytes)) throw new Error(`${op}: numpy array data of type ${describe(rawData)} is not supported (offset ${at})`);
    const n = shape.reduce((p, d) => p * d, 1);
    const size = dt.size as number;
    if (rawData.bytes.length !== n * size) throw new Error(`${op}: numpy array of shape [${shape.join(', ')}] and dtype ${String(dt.dtype)} needs ${n * size} bytes, received ${rawData.bytes.length}`);
    Object.assign(t, { kind: 'ndarray', dtype: dt.dtype, shape, data: decode(rawData.bytes, dt.dtype as NdArray['dtype'], n) });
    return;
  }
  if (t?.kind === 'csr-pending') {
    if (!(state instanceof Map)) throw new Error(`${op}: csr_matrix state must be a dict (offset ${at})`);
    const shape = items(state.get('_shape')).map(Number);
    const arrays = ['indptr', 'indices', 'data'].map((k) => state.get(k) as NdArray);
    if (shape.length !== 2 || arrays.some((a) => a?.kind !== 'ndarray')) throw new Error(`${op}: csr_matrix state lacks _shape, indptr, indices or data (offset ${at})`);
    const fmt = state.get('format');
    if (fmt !== undefined && text(op, fmt, 'the sparse format') !== 'csr') throw new Error(`${op}: sparse format '${text(op, fmt, 'format')}' is not supported`);
    Object.assign(t, { kind: 'csr', shape: [shape[0], shape[1]], indptr: arrays[0], indices: arrays[1], data: arrays[2] });
    return;
  }
  if (target instanceof Map && state instanceof Map) {
    for (const [k, v] of state) target.set(k, v);
    return;
  }
  throw new Error(`${op}: BUILD on a ${describe(target)} is not supported (offset ${at})`);
}

function decode(b: Uint8Array, dtype: NdArray['dtype'], n: number): NdArray['data'] {
  const copy = b.slice(); // aligned, owned
  switch (dtype) {
    case 'int32': return new Int32Array(copy.buffer, 0, n);
    case 'float32': return new Float32Array(copy.buffer, 0, n);
    case 'float64': return new Float64Array(copy.buffer, 0, n);
    case 'uint8':
    case 'bool': return copy;
    case 'int64': {
      const v = new DataView(copy.buffer);
      const out = new Float64Array(n);
      for (let i = 0; i < n; i++) out[i] = Number(v.getBigInt64(8 * i, true));
      return out;
    }
  }
}

/** Turns tuples into arrays and rejects half-built objects in the final value. */
function finish(op: string, v: unknown): PyValue {
  const obj = v as PyObject;
  if (obj?.kind === 'tuple') return (obj.items as unknown[]).map((x) => finish(op, x));
  if (obj?.kind === 'ndarray-pending' || obj?.kind === 'csr-pending') throw new Error(`${op}: malformed pickle: an array was never filled in by BUILD`);
  if (Array.isArray(v)) return v.map((x) => finish(op, x));
  if (v instanceof Map) {
    const out = new Map<PyKey, PyValue>();
    for (const [k, x] of v) out.set(k as PyKey, finish(op, x));
    return out;
  }
  return v as PyValue;
}
