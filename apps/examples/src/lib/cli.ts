/** Flag parsing shared by the Fashion-MNIST examples. */
export interface CliOptions {
  epochs: number;
  batchSize: number;
  lr: number;
  limit: number | undefined;
  device: 'cpu' | 'webgpu';
  seed: number;
  out: string | undefined;
}

const USAGE = 'flags: --epochs N --batch-size N --lr X --limit N --device cpu|webgpu --seed N --out DIR';

/** `v` as a positive number (an integer when `int`), or an Error naming the flag and the usage. */
export function positiveFlag(flag: string, v: string | undefined, int: boolean, usage: string): number {
  const x = Number(v);
  if (v === undefined || !Number.isFinite(x) || x <= 0 || (int && !Number.isInteger(x))) throw new Error(`${flag}: expected a positive ${int ? 'integer' : 'number'}, received ${v}; ${usage}`);
  return x;
}

/**
 * Walks `--flag value` pairs (a bare `--` is skipped). `--out` and `--device` are set on `o` here;
 * every other flag goes to `handle`, which returns false for a flag it does not know.
 */
export function parseFlags(
  argv: string[],
  usage: string,
  o: { device: 'cpu' | 'webgpu'; out: string | undefined },
  handle: (flag: string, v: string | undefined) => boolean,
): void {
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i];
    const v = argv[i + 1];
    if (flag === '--') continue;
    if (flag === '--out') {
      if (!v) throw new Error(`--out: expected a folder; ${usage}`);
      o.out = v;
    } else if (flag === '--device') {
      if (v !== 'cpu' && v !== 'webgpu') throw new Error(`--device: expected cpu or webgpu, received ${v}; ${usage}`);
      o.device = v;
    } else if (!handle(flag, v)) {
      throw new Error(`unknown flag ${flag}; ${usage}`);
    }
    i++;
  }
}

export function parseCli(argv: string[], defaults: { epochs: number; batchSize: number; lr: number }): CliOptions {
  const o: CliOptions = { ...defaults, limit: undefined, device: 'cpu', seed: 0, out: undefined };
  const num = (flag: string, v: string | undefined, int: boolean) => positiveFlag(flag, v, int, USAGE);
  parseFlags(argv, USAGE, o, (flag, v) => {
    switch (flag) {
      case '--epochs': o.epochs = num(flag, v, true); break;
      case '--batch-size': o.batchSize = num(flag, v, true); break;
      case '--lr': o.lr = num(flag, v, false); break;
      case '--limit': o.limit = num(flag, v, true); break;
      case '--seed': o.seed = Number.isInteger(Number(v)) ? Number(v) : num(flag, v, true); break;
      default: return false;
    }
    return true;
  });
  return o;
}
