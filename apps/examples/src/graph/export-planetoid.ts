/**
 * Writes a Planetoid graph as JSON (raw features, labels, edge index and the public split) for the
 * independent reference scripts in `apps/examples/reference/`, which read no pickles.
 *
 *   npx tsx src/graph/export-planetoid.ts --dataset Cora --out /tmp/cora.json
 */
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import type { PlanetoidName } from '@tessera/graph';
import { datasetFlag } from '../lib/graph-cli.js';
import { loadPlanetoid } from '../lib/node-classification.js';

const USAGE = 'usage: export-planetoid --dataset Cora|CiteSeer|PubMed --out FILE';

const { values } = parseArgs({ options: { dataset: { type: 'string', default: 'Cora' }, out: { type: 'string' } } });
const name = datasetFlag(['Cora', 'CiteSeer', 'PubMed'], values.dataset, USAGE) as PlanetoidName;
if (!values.out) throw new Error(`--out: a file is required; ${USAGE}`);
const d = await loadPlanetoid(name, 'cpu', false);
const g = d.graph;
const json = {
  dataset: name,
  numNodes: g.numNodes,
  numFeatures: g.x!.shape[1],
  x: Array.from(await g.x!.data()),
  y: Array.from(await g.y!.data()),
  edgeIndex: Array.from(await g.edgeIndex!.data()),
  train: Array.from(await d.idx.train.data()),
  val: Array.from(await d.idx.val.data()),
  test: Array.from(await d.idx.test.data()),
};
d.dispose();
writeFileSync(values.out, JSON.stringify(json));
console.log(`${name}: ${json.numNodes} nodes, ${json.numFeatures} features, ${json.edgeIndex.length / 2} edge-index columns, split ${json.train.length}/${json.val.length}/${json.test.length} → ${values.out}`);
