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

export function parseCli(argv: string[], defaults: { epochs: number; batchSize: number; lr: number }): CliOptions {
  const o: CliOptions = { ...defaults, limit: undefined, device: 'cpu', seed: 0, out: undefined };
  const num = (flag: string, v: string | undefined, int: boolean) => {
    const x = Number(v);
    if (v === undefined || !Number.isFinite(x) || x <= 0 || (int && !Number.isInteger(x))) throw new Error(`${flag}: expected a positive ${int ? 'integer' : 'number'}, received ${v}; ${USAGE}`);
    return x;
  };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i];
    const v = argv[i + 1];
    switch (flag) {
      case '--': continue;
      case '--epochs': o.epochs = num(flag, v, true); break;
      case '--batch-size': o.batchSize = num(flag, v, true); break;
      case '--lr': o.lr = num(flag, v, false); break;
      case '--limit': o.limit = num(flag, v, true); break;
      case '--seed': o.seed = Number.isInteger(Number(v)) ? Number(v) : num(flag, v, true); break;
      case '--out': if (!v) throw new Error(`--out: expected a folder; ${USAGE}`); o.out = v; break;
      case '--device':
        if (v !== 'cpu' && v !== 'webgpu') throw new Error(`--device: expected cpu or webgpu, received ${v}; ${USAGE}`);
        o.device = v;
        break;
      default: throw new Error(`unknown flag ${flag}; ${USAGE}`);
    }
    i++;
  }
  return o;
}
