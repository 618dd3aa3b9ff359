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
      case '--dataset':
        o.dataset = datasetFlag(defaults.datasets, v, USAGE);
        break;
      case '--seeds': o.seeds = positiveFlag(flag, v, true, USAGE); break;
      case '--epochs': o.epochs = positiveFlag(flag, v, true, USAGE); break;
      default: return false;
    }
    return true;
  });
  return o;
}

/** The `--dataset` value matched (case-insensitively) against the known names; throws with the usage otherwise. */
export function datasetFlag(datasets: readonly string[], v: unknown, usage: string): string {
  const name = datasets.find((d) => d.toLowerCase() === String(v).toLowerCase());
  if (!name) throw new Error(`--dataset: expected one of ${datasets.join(', ')}, received ${String(v)}; ${usage}`);
  return name;
}
