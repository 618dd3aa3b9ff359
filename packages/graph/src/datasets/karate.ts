import * as T from '@tessera/tensor';
import { Graph } from '../data/graph.js';
import { InMemoryDataset, type GraphTransformLike } from '../data/dataset.js';
import { sortEdgesPerm } from '../utils/edges.js';
import { dataRoot, ensureFiles, readText, type DataSourceOptions } from './files.js';

/** The public copies of the two files in `<root>/karate/` (see the data MANIFEST). */
export const KARATE_URLS = {
  edges: 'https://raw.githubusercontent.com/k8nstantin/go-leiden/1ab454874a89fd0762735c67fcc6a9a79897f9ff/testdata/',
  partition: 'https://raw.githubusercontent.com/k8nstantin/go-leiden/5dd09c2f03f9f4b9ae5a981a49fb32f8bb068f76/testdata/',
};

export interface KarateClubOptions extends DataSourceOptions {
  transform?: GraphTransformLike;
  device?: T.DeviceName;
}

/**
 * Zachary's karate club (34 members, 78 friendships = 156 directed edges), read from
 * `<root>/karate/karate.edges` and `karate_ground_truth.partition`. Unlike PyG's KarateClub (4
 * classes from a modularity clustering), the labels are the 2 factions the club split into
 * (0 = Mr. Hi's, 1 = the Officer's), as in the bundled ground truth. `x` is the identity [34, 34];
 * `trainMask` holds the first member of each faction (PyG's rule: one labelled node per class).
 */
export class KarateClub extends InMemoryDataset {
  private constructor(graph: Graph, numClasses: number, transform?: GraphTransformLike) {
    super([graph], { numClasses, transform });
  }

  static async load(options: KarateClubOptions = {}): Promise<KarateClub> {
    const op = 'KarateClub';
    const dir = `${dataRoot(options.root)}/karate`;
    await ensureFiles(op, dir, ['karate.edges'], KARATE_URLS.edges, options);
    await ensureFiles(op, dir, ['karate_ground_truth.partition'], KARATE_URLS.partition, options);
    const pairs = parseLines(await readText(op, `${dir}/karate.edges`)).map((l, i) => {
      const p = l.split(/\s+/).map(Number);
      if (p.length !== 2 || !p.every((v) => Number.isInteger(v) && v >= 0)) throw new Error(`${op}: karate.edges line '${l}' (${i + 1}) is not two node ids`);
      return p as [number, number];
    });
    const labels = parseLines(await readText(op, `${dir}/karate_ground_truth.partition`)).map((l) => {
      const v = Number(l);
      if (!Number.isInteger(v) || v < 0) throw new Error(`${op}: karate_ground_truth.partition line '${l}' is not a class id`);
      return v;
    });
    const N = labels.length;
    const rows: number[] = [];
    const cols: number[] = [];
    for (const [a, b] of pairs) {
      if (a >= N || b >= N) throw new Error(`${op}: edge (${a}, ${b}) names a node outside the ${N} labelled members`);
      if (a === b) continue;
      rows.push(a, b);
      cols.push(b, a);
    }
    const row = Int32Array.from(rows);
    const col = Int32Array.from(cols);
    const perm = sortEdgesPerm(row, col, N);
    const kept = Array.from(perm).filter((e, i) => i === 0 || row[e] !== row[perm[i - 1]] || col[e] !== col[perm[i - 1]]);
    const ei = new Int32Array(2 * kept.length);
    kept.forEach((e, i) => {
      ei[i] = row[e];
      ei[kept.length + i] = col[e];
    });
    const numClasses = Math.max(...labels) + 1;
    const train = new Uint8Array(N);
    for (let c = 0; c < numClasses; c++) {
      const first = labels.indexOf(c);
      if (first >= 0) train[first] = 1;
    }
    const device = options.device;
    const graph = new Graph({
      x: T.eye(N, N, { device }),
      edgeIndex: T.tensor(ei, { dtype: 'int32', shape: [2, kept.length], device }),
      y: T.tensor(Int32Array.from(labels), { dtype: 'int32', device }),
      trainMask: T.tensor(train, { dtype: 'bool', device }),
    });
    return new KarateClub(graph, numClasses, options.transform);
  }
}

/** Non-empty lines without `#` comments. */
function parseLines(text: string): string[] {
  return text.split('\n').map((l) => l.replace(/#.*/, '').trim()).filter((l) => l !== '');
}
