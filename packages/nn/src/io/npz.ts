import * as T from '@tessera/tensor';
import { readNpy, writeNpy, type ReadNpyOptions } from './npy.js';
import { readZip, writeZip } from './zip.js';

/**
 * Reads a .npz archive (numpy.savez / savez_compressed) into { name: tensor }, names without the
 * '.npy' suffix. Needs Node (node:zlib) for compressed archives. See readNpy for the dtypes.
 */
export async function readNpz(bytes: Uint8Array, options: ReadNpyOptions = {}): Promise<Record<string, T.Tensor>> {
  const op = 'readNpz';
  if (!(bytes instanceof Uint8Array)) throw new TypeError(`${op}: expected a Uint8Array`);
  const out: Record<string, T.Tensor> = {};
  try {
    for (const { name, data } of await readZip(op, bytes)) {
      if (!name.endsWith('.npy')) continue;
      out[name.slice(0, -4)] = readNpy(data, options);
    }
  } catch (e) {
    T.dispose(out);
    throw e;
  }
  return out;
}

/** Writes { name: tensor } as a .npz archive; `compress` deflates the entries (needs Node's node:zlib). */
export async function writeNpz(tensors: Record<string, T.Tensor>, options: { compress?: boolean } = {}): Promise<Uint8Array> {
  const op = 'writeNpz';
  if (typeof tensors !== 'object' || tensors === null) throw new TypeError(`${op}: expected a record of tensors`);
  const entries = [];
  for (const [name, t] of Object.entries(tensors)) {
    if (!T.isTensor(t)) throw new TypeError(`${op}: '${name}' is not a tensor`);
    entries.push({ name: `${name}.npy`, data: await writeNpy(t) });
  }
  return writeZip(op, entries, options.compress ?? false);
}
