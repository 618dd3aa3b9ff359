import * as T from '@tessera/tensor';
import { Graph } from '../data/graph.js';
import { InMemoryDataset, type GraphTransformLike } from '../data/dataset.js';
import { sortEdgesPerm } from '../utils/edges.js';
import { dataRoot, exists, readText, type DataSourceOptions } from './files.js';
import { unzip } from './zip.js';

/** TU Dortmund's archive of the benchmark zips (the URL PyG uses). */
export const TU_URL = 'https://www.chrsmrrs.com/graphkerneldatasets/';

export interface TUDatasetOptions extends DataSourceOptions {
  /** The dataset, e.g. 'MUTAG' or 'PROTEINS': files `<root>/tu/<name>/<name>_*.txt`. */
  name: string;
  /** Prepend the continuous node attributes (`_node_attributes.txt`) to x (default false, as PyG). */
  useNodeAttr?: boolean;
  /** Prepend the continuous edge attributes (`_edge_attributes.txt`) to edgeAttr (default false, as PyG). */
  useEdgeAttr?: boolean;
  transform?: GraphTransformLike;
  device?: T.DeviceName;
}

/**
 * A graph-classification benchmark in the TU text format (PyG's `TUDataset`): `_A` (1-based edge
 * list), `_graph_indicator`, `_graph_labels`, and when present `_node_labels`, `_node_attributes`,
 * `_edge_labels`, `_edge_attributes`, `_graph_attributes`. As in PyG: node (edge) labels become
 * one-hot columns after the continuous attributes (those only with `useNodeAttr` /
 * `useEdgeAttr`); graph labels are mapped to 0..C-1 in sorted order (y int32 [1] per graph), or
 * `_graph_attributes` give float targets; self-loops are removed and edges coalesced.
 */
export class TUDataset extends InMemoryDataset {
  readonly name: string;

  private constructor(name: string, graphs: Graph[], numClasses: number, transform?: GraphTransformLike) {
    super(graphs, { numClasses, transform });
    this.name = name;
  }

  static async load(options: TUDatasetOptions): Promise<TUDataset> {
    const op = 'TUDataset';
    if (typeof options !== 'object' || options === null || typeof options.name !== 'string' || !/^[\w-]+$/.test(options.name)) {
      throw new TypeError(`${op}: expected options with a dataset name such as 'MUTAG', received ${JSON.stringify(options?.name)}`);
    }
    const { name } = options;
    const dir = `${dataRoot(options.root)}/tu/${name}`;
    await ensureTu(op, dir, name, options);
    const file = (suffix: string) => `${dir}/${name}_${suffix}.txt`;
    const optional = async (suffix: string) => ((await exists(op, file(suffix))) ? parseTable(op, await readText(op, file(suffix)), `${name}_${suffix}.txt`) : undefined);
    const A = parseTable(op, await readText(op, file('A')), `${name}_A.txt`);
    const indicator = parseTable(op, await readText(op, file('graph_indicator')), `${name}_graph_indicator.txt`);
    const graphLabels = await optional('graph_labels');
    const graphAttrs = await optional('graph_attributes');
    const nodeLabels = await optional('node_labels');
    const nodeAttrs = await optional('node_attributes');
    const edgeLabels = await optional('edge_labels');
    const edgeAttrs = await optional('edge_attributes');
    const n = indicator.rows;
    const m = A.rows;
    if (A.cols !== 2) throw new Error(`${op}: ${name}_A.txt must hold two node ids per line, found ${A.cols}`);
    for (const [t, what, rows] of [[nodeLabels, 'node_labels', n], [nodeAttrs, 'node_attributes', n], [edgeLabels, 'edge_labels', m], [edgeAttrs, 'edge_attributes', m]] as const) {
      if (t && t.rows !== rows) throw new Error(`${op}: ${name}_${what}.txt has ${t.rows} lines, expected ${rows} (one per ${what.startsWith('node') ? 'node' : 'edge'})`);
    }
    // node -> graph (0-based), graphs as contiguous node ranges
    const batch = Int32Array.from(indicator.values, (v) => v - 1);
    const numGraphs = n ? batch[n - 1] + 1 : 0;
    for (let i = 0; i < n; i++) {
      if (batch[i] < 0 || (i > 0 && batch[i] < batch[i - 1])) throw new Error(`${op}: ${name}_graph_indicator.txt must list graph ids from 1 in non-decreasing order (line ${i + 1})`);
    }
    const nodeStart = new Int32Array(numGraphs + 1);
    for (const g of batch) nodeStart[g + 1]++;
    for (let g = 0; g < numGraphs; g++) nodeStart[g + 1] += nodeStart[g];
    // features
    const x = concatColumns(options.useNodeAttr ? nodeAttrs : undefined, nodeLabels && oneHot(nodeLabels), n);
    const edgeFeat = concatColumns(options.useEdgeAttr ? edgeAttrs : undefined, edgeLabels && oneHot(edgeLabels), m);
    // targets
    let y: { values: Float32Array | Int32Array; cols: number; dtype: 'float32' | 'int32' };
    let numClasses = 0;
    if (graphAttrs) {
      y = { values: Float32Array.from(graphAttrs.values), cols: graphAttrs.cols, dtype: 'float32' };
    } else if (graphLabels) {
      const classes = [...new Set(graphLabels.values)].sort((a, b) => a - b);
      numClasses = classes.length;
      y = { values: Int32Array.from(graphLabels.values, (v) => classes.indexOf(v)), cols: graphLabels.cols, dtype: 'int32' };
    } else {
      throw new Error(`${op}: ${name} has neither _graph_labels.txt nor _graph_attributes.txt`);
    }
    if (y.values.length !== numGraphs * y.cols) throw new Error(`${op}: ${name} has ${y.values.length / y.cols} graph targets for ${numGraphs} graphs`);
    // edges: 0-based, without self-loops, coalesced (duplicate features summed, as PyG's coalesce)
    const row = new Int32Array(m);
    const col = new Int32Array(m);
    for (let e = 0; e < m; e++) {
      row[e] = A.values[2 * e] - 1;
      col[e] = A.values[2 * e + 1] - 1;
      if (row[e] < 0 || row[e] >= n || col[e] < 0 || col[e] >= n) throw new Error(`${op}: ${name}_A.txt line ${e + 1} names node ${row[e] + 1} or ${col[e] + 1}, outside 1..${n}`);
      if (batch[row[e]] !== batch[col[e]]) throw new Error(`${op}: ${name}_A.txt line ${e + 1} joins graphs ${batch[row[e]] + 1} and ${batch[col[e]] + 1}`);
    }
    const perm = sortEdgesPerm(row, col, n);
    const keptRow: number[] = [];
    const keptCol: number[] = [];
    const keptFeat: number[][] = [];
    for (const e of perm) {
      if (row[e] === col[e]) continue;
      const last = keptRow.length - 1;
      const feat = edgeFeat ? Array.from(edgeFeat.values.subarray(e * edgeFeat.cols, (e + 1) * edgeFeat.cols)) : [];
      if (last >= 0 && keptRow[last] === row[e] && keptCol[last] === col[e]) {
        feat.forEach((v, k) => (keptFeat[last][k] += v));
        continue;
      }
      keptRow.push(row[e]);
      keptCol.push(col[e]);
      keptFeat.push(feat);
    }
    // split per graph: edges are sorted by source, so each graph's edges are contiguous
    const device = options.device;
    const graphs: Graph[] = [];
    try {
      let e0 = 0;
      for (let g = 0; g < numGraphs; g++) {
        let e1 = e0;
        while (e1 < keptRow.length && batch[keptRow[e1]] === g) e1++;
        const s = nodeStart[g];
        const ng = nodeStart[g + 1] - s;
        const E = e1 - e0;
        const ei = new Int32Array(2 * E);
        for (let k = 0; k < E; k++) {
          ei[k] = keptRow[e0 + k] - s;
          ei[E + k] = keptCol[e0 + k] - s;
        }
        graphs.push(new Graph({
          x: x ? T.tensor(x.values.subarray(s * x.cols, (s + ng) * x.cols), { shape: [ng, x.cols], device }) : undefined,
          edgeIndex: T.tensor(ei, { dtype: 'int32', shape: [2, E], device }),
          edgeAttr: edgeFeat ? T.tensor(Float32Array.from(keptFeat.slice(e0, e1).flat()), { shape: [E, edgeFeat.cols], device }) : undefined,
          y: T.tensor(y.values.subarray(g * y.cols, (g + 1) * y.cols), { dtype: y.dtype, shape: y.cols === 1 ? [1] : [1, y.cols], device }),
          numNodes: ng,
        }));
        e0 = e1;
      }
    } catch (e) {
      for (const g of graphs) g.dispose();
      throw e;
    }
    return new TUDataset(name, graphs, numClasses, options.transform);
  }
}

/** A numeric table: `rows` lines of `cols` comma-separated values, row-major. */
interface Table {
  rows: number;
  cols: number;
  values: Float64Array;
}

function parseTable(op: string, text: string, file: string): Table {
  const lines = text.split('\n').map((l) => l.trim()).filter((l) => l !== '');
  const cols = lines.length ? lines[0].split(',').length : 0;
  const values = new Float64Array(lines.length * cols);
  lines.forEach((l, i) => {
    const parts = l.split(',');
    if (parts.length !== cols) throw new Error(`${op}: ${file} line ${i + 1} has ${parts.length} values, line 1 has ${cols}`);
    for (let k = 0; k < cols; k++) {
      const v = Number(parts[k]);
      if (parts[k].trim() === '' || Number.isNaN(v)) throw new Error(`${op}: ${file} line ${i + 1} holds '${parts[k].trim()}', not a number`);
      values[i * cols + k] = v;
    }
  });
  return { rows: lines.length, cols, values };
}

/** Each label column shifted to start at 0 and one-hot encoded, the columns side by side. */
function oneHot(t: Table): Table {
  const widths: number[] = [];
  const mins: number[] = [];
  for (let k = 0; k < t.cols; k++) {
    let lo = Infinity;
    let hi = -Infinity;
    for (let i = 0; i < t.rows; i++) {
      lo = Math.min(lo, t.values[i * t.cols + k]);
      hi = Math.max(hi, t.values[i * t.cols + k]);
    }
    mins.push(lo);
    widths.push(t.rows ? hi - lo + 1 : 0);
  }
  const cols = widths.reduce((a, b) => a + b, 0);
  const values = new Float64Array(t.rows * cols);
  for (let i = 0; i < t.rows; i++) {
    let off = 0;
    for (let k = 0; k < t.cols; k++) {
      values[i * cols + off + t.values[i * t.cols + k] - mins[k]] = 1;
      off += widths[k];
    }
  }
  return { rows: t.rows, cols, values };
}

/** [a | b] column-wise as float32 (either may be absent); undefined when both are. */
function concatColumns(a: Table | undefined, b: Table | undefined, rows: number): { cols: number; values: Float32Array } | undefined {
  if (!a && !b) return undefined;
  const ca = a?.cols ?? 0;
  const cb = b?.cols ?? 0;
  const cols = ca + cb;
  const values = new Float32Array(rows * cols);
  for (let i = 0; i < rows; i++) {
    for (let k = 0; k < ca; k++) values[i * cols + k] = a!.values[i * ca + k];
    for (let k = 0; k < cb; k++) values[i * cols + ca + k] = b!.values[i * cb + k];
  }
  return { cols, values };
}

/** Makes sure the required files are there, downloading and unpacking `<name>.zip` if asked. */
async function ensureTu(op: string, dir: string, name: string, options: DataSourceOptions): Promise<void> {
  const required = ['A', 'graph_indicator'].map((s) => `${name}_${s}.txt`);
  const missing = [];
  for (const f of required) if (!(await exists(op, `${dir}/${f}`))) missing.push(f);
  if (missing.length === 0) return;
  const url = `${TU_URL}${name}.zip`;
  if (!options.download) throw new Error(`${op}: missing file ${dir}/${missing[0]}; download ${url} and unpack it into ${dir}/.., or pass download: true`);
  const fetchFn = options.fetch ?? (globalThis.fetch as unknown as DataSourceOptions['fetch']);
  if (typeof fetchFn !== 'function') throw new Error(`${op}: download needs a fetch function (none in this runtime); pass one as the fetch option`);
  const res = await fetchFn(url).catch((e: Error) => {
    throw new Error(`${op}: downloading ${url} failed: ${e.message}`);
  });
  if (!res.ok) throw new Error(`${op}: downloading ${url} failed with HTTP status ${res.status}`);
  const entries = await unzip(new Uint8Array(await res.arrayBuffer()), op);
  const fs = await import('node:fs/promises');
  await fs.mkdir(dir, { recursive: true });
  for (const { name: path, data } of entries) {
    const base = path.split('/').pop()!;
    if (!base.startsWith(`${name}_`) && base !== 'README.txt') continue;
    await fs.writeFile(`${dir}/${base}.part`, data);
    await fs.rename(`${dir}/${base}.part`, `${dir}/${base}`);
  }
  for (const f of required) if (!(await exists(op, `${dir}/${f}`))) throw new Error(`${op}: ${url} did not contain ${f}`);
}
