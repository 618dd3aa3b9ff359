/** The command-line entry shared by the node-classification reproductions. */
import { fileURLToPath } from 'node:url';
import type { PlanetoidName } from '@tessera/graph';
import { parseGraphCli } from '../lib/graph-cli.js';
import { reproTable } from '../lib/stats.js';
import { runNodeClassification, type NodeSpec } from '../lib/node-classification.js';

export async function nodeCli(spec: NodeSpec, argv: string[]): Promise<void> {
  const datasets = Object.keys(spec.paper);
  const o = parseGraphCli(argv, { dataset: datasets[0], seeds: 10, datasets });
  const out = o.out ?? fileURLToPath(new URL(`../../out/${spec.name}-${o.dataset.toLowerCase()}`, import.meta.url));
  const r = await runNodeClassification(spec, { dataset: o.dataset as PlanetoidName, seeds: o.seeds, epochs: o.epochs, device: o.device, out });
  console.log(reproTable([r.row]));
  console.log(`report in ${out}/report.md`);
}
