/**
 * File access for the dataset loaders: the data folder, reading, and the optional download into
 * that folder. Node's fs is imported lazily so the rest of the package still loads in a browser.
 */

export interface DataSourceOptions {
  /**
   * Data folder; each dataset reads its own sub-folder (`planetoid/`, `tu/<NAME>/`, `karate/`).
   * Default: the TESSERA_DATA_DIR environment variable, else the repository's ../shared/data.
   */
  root?: string;
  /**
   * Fetch missing raw files from the dataset's public URL into the folder, then read them from
   * there on later loads (default false: a missing file is an error naming it and its URL).
   */
  download?: boolean;
  /** The fetch used by `download` (default globalThis.fetch). */
  fetch?: (url: string) => Promise<{ ok: boolean; status: number; arrayBuffer(): Promise<ArrayBuffer> }>;
}

/** The data folder: `root`, else TESSERA_DATA_DIR, else ../shared/data from the repository. */
export function dataRoot(root?: string): string {
  if (root !== undefined) {
    if (typeof root !== 'string' || root === '') throw new TypeError(`dataset root must be a non-empty path, received ${String(root)}`);
    return root;
  }
  const env = typeof process !== 'undefined' ? process.env.TESSERA_DATA_DIR : undefined;
  return env ?? new URL('../../../../../shared/data', import.meta.url).pathname;
}

async function nodeFs(op: string): Promise<typeof import('node:fs/promises')> {
  try {
    return await import('node:fs/promises');
  } catch {
    throw new Error(`${op}: reading dataset files needs Node's node:fs`);
  }
}

export async function exists(op: string, path: string): Promise<boolean> {
  const fs = await nodeFs(op);
  return fs.access(path).then(() => true, () => false);
}

export async function readBytes(op: string, path: string): Promise<Uint8Array> {
  const fs = await nodeFs(op);
  try {
    return new Uint8Array(await fs.readFile(path));
  } catch (e) {
    throw new Error(`${op}: cannot read ${path}: ${(e as Error).message}`);
  }
}

export async function readText(op: string, path: string): Promise<string> {
  return new TextDecoder().decode(await readBytes(op, path));
}

/**
 * Makes sure each of `files` is in `dir`: present files are left alone; missing ones are fetched
 * from `baseUrl + file` when `download` is set (written atomically), else an error names the
 * first missing file and where to get it.
 */
export async function ensureFiles(op: string, dir: string, files: readonly string[], baseUrl: string, options: DataSourceOptions): Promise<void> {
  const missing: string[] = [];
  for (const f of files) if (!(await exists(op, `${dir}/${f}`))) missing.push(f);
  if (missing.length === 0) return;
  if (!options.download) {
    throw new Error(`${op}: missing file ${dir}/${missing[0]}${missing.length > 1 ? ` (and ${missing.length - 1} more: ${missing.slice(1).join(', ')})` : ''}; download ${baseUrl}${missing[0]} into ${dir}, or pass download: true`);
  }
  const fetchFn = options.fetch ?? (globalThis.fetch as unknown as DataSourceOptions['fetch']);
  if (typeof fetchFn !== 'function') throw new Error(`${op}: download needs a fetch function (none in this runtime); pass one as the fetch option`);
  const fs = await nodeFs(op);
  await fs.mkdir(dir, { recursive: true });
  for (const f of missing) {
    const url = `${baseUrl}${f}`;
    let res: Awaited<ReturnType<NonNullable<DataSourceOptions['fetch']>>>;
    try {
      res = await fetchFn(url);
    } catch (e) {
      throw new Error(`${op}: downloading ${url} failed: ${(e as Error).message}`);
    }
    if (!res.ok) throw new Error(`${op}: downloading ${url} failed with HTTP status ${res.status}`);
    const bytes = new Uint8Array(await res.arrayBuffer());
    const tmp = `${dir}/${f}.part`;
    await fs.writeFile(tmp, bytes);
    await fs.rename(tmp, `${dir}/${f}`);
  }
}
