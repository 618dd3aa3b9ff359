/**
 * A minimal zip reader for the TU dataset archives: reads the central directory and extracts
 * stored (method 0) and deflated (method 8) members with Node's zlib. No zip64, no encryption.
 */
export interface ZipEntry {
  name: string;
  data: Uint8Array;
}

export async function unzip(bytes: Uint8Array, op = 'unzip'): Promise<ZipEntry[]> {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  // the end-of-central-directory record sits in the last 22 + 65535 bytes
  let eocd = -1;
  for (let i = bytes.length - 22; i >= Math.max(0, bytes.length - 22 - 0xffff); i--) {
    if (view.getUint32(i, true) === 0x06054b50) {
      eocd = i;
      break;
    }
  }
  if (eocd < 0) throw new Error(`${op}: not a zip archive (no end-of-central-directory record)`);
  const count = view.getUint16(eocd + 10, true);
  let at = view.getUint32(eocd + 16, true);
  let zlib: typeof import('node:zlib') | undefined;
  const out: ZipEntry[] = [];
  for (let k = 0; k < count; k++) {
    if (view.getUint32(at, true) !== 0x02014b50) throw new Error(`${op}: corrupt central directory at offset ${at}`);
    const method = view.getUint16(at + 10, true);
    const compressed = view.getUint32(at + 20, true);
    const size = view.getUint32(at + 24, true);
    const nameLen = view.getUint16(at + 28, true);
    const extraLen = view.getUint16(at + 30, true);
    const commentLen = view.getUint16(at + 32, true);
    const local = view.getUint32(at + 42, true);
    const name = new TextDecoder().decode(bytes.subarray(at + 46, at + 46 + nameLen));
    at += 46 + nameLen + extraLen + commentLen;
    if (name.endsWith('/')) continue;
    if (view.getUint32(local, true) !== 0x04034b50) throw new Error(`${op}: corrupt local header for ${name}`);
    const start = local + 30 + view.getUint16(local + 26, true) + view.getUint16(local + 28, true);
    const raw = bytes.subarray(start, start + compressed);
    let data: Uint8Array;
    if (method === 0) data = raw.slice();
    else if (method === 8) {
      zlib ??= await import('node:zlib');
      data = new Uint8Array(zlib.inflateRawSync(raw));
    } else throw new Error(`${op}: ${name} uses compression method ${method}; only stored (0) and deflate (8) are supported`);
    if (data.length !== size) throw new Error(`${op}: ${name} unpacked to ${data.length} bytes, the directory says ${size}`);
    out.push({ name, data });
  }
  return out;
}
