import { nodeZlib } from './node.js';

/**
 * A small zip reader/writer for .npz files: stored (0) and deflated (8) entries, zip64 sizes in
 * the central directory, CRC-32 checked. Deflate needs Node's node:zlib.
 */
export interface ZipEntry {
  name: string;
  data: Uint8Array;
}

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

export function crc32(bytes: Uint8Array): number {
  let c = 0xffffffff;
  for (let i = 0; i < bytes.length; i++) c = CRC_TABLE[(c ^ bytes[i]) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

export async function readZip(op: string, bytes: Uint8Array): Promise<ZipEntry[]> {
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  // The end-of-central-directory record is in the last 22 + 65535 (comment) bytes.
  let eocd = -1;
  for (let i = bytes.length - 22; i >= Math.max(0, bytes.length - 22 - 65535); i--) {
    if (v.getUint32(i, true) === 0x06054b50) {
      eocd = i;
      break;
    }
  }
  if (eocd < 0) throw new Error(`${op}: not a zip archive (no end-of-central-directory record)`);
  const count = v.getUint16(eocd + 10, true);
  let p = v.getUint32(eocd + 16, true);
  if (count === 0xffff || p === 0xffffffff) throw new Error(`${op}: zip64 archives with more than 65535 entries or 4 GiB are not supported`);
  const zlib = { lib: undefined as undefined | typeof import('node:zlib') };
  const out: ZipEntry[] = [];
  for (let e = 0; e < count; e++) {
    if (p + 46 > bytes.length || v.getUint32(p, true) !== 0x02014b50) throw new Error(`${op}: corrupt zip central directory (entry ${e})`);
    const flags = v.getUint16(p + 8, true);
    const method = v.getUint16(p + 10, true);
    const crc = v.getUint32(p + 16, true);
    let csize = v.getUint32(p + 20, true);
    let usize = v.getUint32(p + 24, true);
    const nameLen = v.getUint16(p + 28, true);
    const extraLen = v.getUint16(p + 30, true);
    const commentLen = v.getUint16(p + 32, true);
    let local = v.getUint32(p + 42, true);
    const name = new TextDecoder().decode(bytes.subarray(p + 46, p + 46 + nameLen));
    // zip64 extra field (id 1): 8-byte values for each 32-bit field that is 0xffffffff, in order.
    for (let x = p + 46 + nameLen; x + 4 <= p + 46 + nameLen + extraLen;) {
      const id = v.getUint16(x, true);
      const size = v.getUint16(x + 2, true);
      if (id === 1) {
        let q = x + 4;
        const big = () => { const n = Number(v.getBigUint64(q, true)); q += 8; return n; };
        if (usize === 0xffffffff) usize = big();
        if (csize === 0xffffffff) csize = big();
        if (local === 0xffffffff) local = big();
      }
      x += 4 + size;
    }
    if (flags & 1) throw new Error(`${op}: entry ${name} is encrypted`);
    if (local + 30 > bytes.length || v.getUint32(local, true) !== 0x04034b50) throw new Error(`${op}: corrupt zip local header for ${name}`);
    const start = local + 30 + v.getUint16(local + 26, true) + v.getUint16(local + 28, true);
    if (start + csize > bytes.length) throw new Error(`${op}: truncated zip entry ${name}`);
    const raw = bytes.subarray(start, start + csize);
    let data: Uint8Array;
    if (method === 0) data = raw.slice();
    else if (method === 8) {
      zlib.lib ??= await nodeZlib(op);
      data = new Uint8Array(zlib.lib.inflateRawSync(raw));
    } else throw new Error(`${op}: entry ${name} uses compression method ${method}; only stored (0) and deflate (8) are supported`);
    if (data.length !== usize || crc32(data) !== crc) throw new Error(`${op}: entry ${name} is corrupt (size or CRC-32 mismatch)`);
    out.push({ name, data });
    p += 46 + nameLen + extraLen + commentLen;
  }
  return out;
}

export async function writeZip(op: string, entries: ZipEntry[], compress: boolean): Promise<Uint8Array> {
  const zlib = compress ? await nodeZlib(op) : undefined;
  const enc = new TextEncoder();
  const locals: Uint8Array[] = [];
  const centrals: Uint8Array[] = [];
  let offset = 0;
  for (const { name, data } of entries) {
    const nameBytes = enc.encode(name);
    const body = zlib ? new Uint8Array(zlib.deflateRawSync(data)) : data;
    if (offset + body.length > 0xfffffff0) throw new Error(`${op}: archives over 4 GiB (zip64) are not supported`);
    const crc = crc32(data);
    // Fields shared by the local header (from offset 4) and the central header (from offset 6).
    const common = (h: DataView, at: number) => {
      h.setUint16(at, 20, true); // version needed: 2.0
      h.setUint16(at + 2, 1 << 11, true); // flags: UTF-8 names
      h.setUint16(at + 4, zlib ? 8 : 0, true);
      h.setUint16(at + 6, 0, true); // time
      h.setUint16(at + 8, 0x21, true); // date 1980-01-01
      h.setUint32(at + 10, crc, true);
      h.setUint32(at + 14, body.length, true);
      h.setUint32(at + 18, data.length, true);
      h.setUint16(at + 22, nameBytes.length, true);
    };
    const local = new Uint8Array(30 + nameBytes.length + body.length);
    const lv = new DataView(local.buffer);
    lv.setUint32(0, 0x04034b50, true);
    common(lv, 4);
    local.set(nameBytes, 30);
    local.set(body, 30 + nameBytes.length);
    const central = new Uint8Array(46 + nameBytes.length);
    const cv = new DataView(central.buffer);
    cv.setUint32(0, 0x02014b50, true);
    cv.setUint16(4, 20, true); // version made by
    common(cv, 6);
    cv.setUint32(42, offset, true);
    central.set(nameBytes, 46);
    locals.push(local);
    centrals.push(central);
    offset += local.length;
  }
  const cdSize = centrals.reduce((a, c) => a + c.length, 0);
  const end = new Uint8Array(22);
  const ev = new DataView(end.buffer);
  ev.setUint32(0, 0x06054b50, true);
  ev.setUint16(8, entries.length, true);
  ev.setUint16(10, entries.length, true);
  ev.setUint32(12, cdSize, true);
  ev.setUint32(16, offset, true);
  const out = new Uint8Array(offset + cdSize + 22);
  let at = 0;
  for (const part of [...locals, ...centrals, end]) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}
