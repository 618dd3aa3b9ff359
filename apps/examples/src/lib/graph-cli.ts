import { parseFlags, positiveFlag } from './cli.js';

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
  parseFlags(argv, USAGE, o, (flag, v) => {
    switch (flag) {
      case '--dataset': {
        const name = defaults.datasets.find((d) => d.toLowerCase() === String(v).toLowerCase());
        if (!name) throw new Error(`--dataset: expected one of ${defaults.datasets.join(', ')}, received ${v}; ${USAGE}`);
        o.dataset = name;
        break;
      }
      case '--seeds': o.seeds = positiveFlag(flag, v, true, USAGE); break;
      case '--epochs': o.epochs = positiveFlag(flag, v, true, USAGE); break;
      default: return false;
    }
    return true;
  });
  return o;
}
