/** Flag parsing shared by the graph reproductions (`--dataset`, `--seeds`, `--epochs`, `--device`, `--out`). */
export interface GraphCliOptions {
  dataset: string;
  seeds: number;
  epochs: number | undefined;
  device: 'cpu' | 'webgpu';
  out: string | undefined;
}

const USAGE = 'flags: --dataset NAME --seeds N --epochs N --device cpu|webgpu --out DIR';

export function parseGraphCli(argv: string[], defaults: { dataset: string; seeds: number; datasets: readonly string[] }): GraphCliOptions {
  const o: GraphCliOptions = { dataset: defaults.dataset, seeds: defaults.seeds, epochs: undefined, device: 'cpu', out: undefined };
  const int = (flag: string, v: string | undefined) => {
    const x = Number(v);
    if (v === undefined || !Number.isInteger(x) || x <= 0) throw new Error(`${flag}: expected a positive integer, received ${v}; ${USAGE}`);
    return x;
  };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i];
    const v = argv[i + 1];
    switch (flag) {
      case '--': continue;
      case '--dataset': {
        const name = defaults.datasets.find((d) => d.toLowerCase() === String(v).toLowerCase());
        if (!name) throw new Error(`--dataset: expected one of ${defaults.datasets.join(', ')}, received ${v}; ${USAGE}`);
        o.dataset = name;
        break;
      }
      case '--seeds': o.seeds = int(flag, v); break;
      case '--epochs': o.epochs = int(flag, v); break;
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
