/**
 * Node-only helpers, imported lazily so that the rest of the package (and the byte-level
 * readers/writers) still load in a browser.
 */
export async function nodeZlib(op: string): Promise<typeof import('node:zlib')> {
  try {
    return await import('node:zlib');
  } catch {
    throw new Error(`${op}: needs Node's node:zlib (gzip / deflate), which is not available here`);
  }
}

export async function readBytes(op: string, path: string): Promise<Uint8Array> {
  const fs = await nodeFs(op);
  try {
    return new Uint8Array(await fs.readFile(path));
  } catch (e) {
    throw new Error(`${op}: cannot read ${path}: ${(e as Error).message}`);
  }
}

export async function writeBytes(op: string, path: string, bytes: Uint8Array): Promise<void> {
  const fs = await nodeFs(op);
  await fs.writeFile(path, bytes);
}

export async function fileExists(op: string, path: string): Promise<boolean> {
  const fs = await nodeFs(op);
  return fs.access(path).then(() => true, () => false);
}

async function nodeFs(op: string): Promise<typeof import('node:fs/promises')> {
  try {
    return await import('node:fs/promises');
  } catch {
    throw new Error(`${op}: reading or writing paths needs Node's node:fs; pass bytes instead`);
  }
}

/** Copies `bytes[begin, end)` into a fresh, aligned buffer viewed as `Arr`. */
export function typedCopy<A>(Arr: new (buf: ArrayBuffer) => A, bytes: Uint8Array, begin: number, end: number): A {
  return new Arr(bytes.slice(begin, end).buffer);
}
