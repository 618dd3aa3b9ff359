import * as T from '@tessera/tensor';
import { Graph } from '../data/graph.js';
import { InMemoryDataset, type GraphTransformLike } from '../data/dataset.js';
import { sortEdgesPerm } from '../utils/edges.js';
import { dataRoot, ensureFiles, readBytes, readText, type DataSourceOptions } from './files.js';
import { readPickle, type CsrArrays, type NdArray, type PyValue } from './pickle.js';

export type PlanetoidName = 'Cora' | 'CiteSeer' | 'PubMed';
const NAMES: readonly PlanetoidName[] = ['Cora', 'CiteSeer', 'PubMed'];

/** Where PyG (and the Planetoid authors) publish the `ind.*` files. */
export const PLANETOID_URL = 'https://github.com/kimiyoung/planetoid/raw/master/data/';

export interface PlanetoidOptions extends DataSourceOptions {
  name: PlanetoidName;
  /**
   * 'public' (default): the Planetoid/GCN split — train = the first 20 nodes per class (the rows
   * of `y`), val = the next 500, test = the ids in `test.index`. 'full': train = every node
   * outside val and test. 'random': `numTrainPerClass` random nodes per class, then `numVal` and
   * `numTest` random nodes of the rest (seeded by `generator`).
   */
  split?: 'public' | 'full' | 'random';
  numTrainPerClass?: number;
  numVal?: number;
  numTest?: number;
  generator?: T.Generator;
  /** Applied to the graph on each `get`. */
  transform?: GraphTransformLike;
  device?: T.DeviceName;
}

/**
 * The citation graphs Cora, CiteSeer and PubMed (PyG's `Planetoid`), read from the original
 * `ind.<name>.*` files in `<root>/planetoid/` (Python 2 pickles; see pickle.ts). One graph:
 * binary (Cora, CiteSeer) or TF-IDF (PubMed) features `x` [N, F], labels `y` int32 [N], an
 * edge index without self-loops or duplicates (both directions of each link) and the split masks.
 * CiteSeer's 15 test ids without features get zero features and label 0, as in PyG.
 *
 * `await Planetoid.load({ name: 'Cora' })`; then `await dataset.get(0)` for the graph.
 */
export class Planetoid extends InMemoryDataset {
  readonly name: PlanetoidName;

  private constructor(name: PlanetoidName, graph: Graph, numClasses: number, transform?: GraphTransformLike) {
    super([graph], { numClasses, transform });
    this.name = name;
  }

  static async load(options: PlanetoidOptions): Promise<Planetoid> {
    const op = 'Planetoid';
    if (typeof options !== 'object' || options === null) throw new TypeError(`${op}: expected an options object with a name`);
    const name = NAMES.find((n) => n.toLowerCase() === String(options.name).toLowerCase());
    if (!name) throw new RangeError(`${op}: name must be one of ${NAMES.join(', ')}, received '${String(options.name)}'`);
    const split = options.split ?? 'public';
    if (!['public', 'full', 'random'].includes(split)) throw new RangeError(`${op}: split must be 'public', 'full' or 'random', received '${String(split)}'`);
    const dir = `${dataRoot(options.root)}/planetoid`;
    const prefix = `ind.${name.toLowerCase()}.`;
    const exts = ['x', 'tx', 'allx', 'y', 'ty', 'ally', 'graph', 'test.index'];
    await ensureFiles(op, dir, exts.map((e) => prefix + e), PLANETOID_URL, options);
    const load = async (e: string) => readPickle(await readBytes(op, `${dir}/${prefix}${e}`), prefix + e);
    const raw = assemble(op, {
      y: asArray(op, await load('y'), `${prefix}y`),
      tx: asCsr(op, await load('tx'), `${prefix}tx`),
      allx: asCsr(op, await load('allx'), `${prefix}allx`),
      ty: asArray(op, await load('ty'), `${prefix}ty`),
      ally: asArray(op, await load('ally'), `${prefix}ally`),
      graph: await load('graph'),
      testIndex: parseIndex(op, await readText(op, `${dir}/${prefix}test.index`)),
    });
    const masks = splitMasks(op, split, raw, options);
    const device = options.device;
    const N = raw.numNodes;
    const made: T.Tensor[] = [];
    const mk = (t: T.Tensor) => (made.push(t), t);
    try {
      const graph = new Graph({
        x: mk(T.tensor(raw.x, { shape: [N, raw.numFeatures], device })),
        edgeIndex: mk(T.tensor(raw.edgeIndex, { dtype: 'int32', shape: [2, raw.edgeIndex.length / 2], device })),
        y: mk(T.tensor(raw.y, { dtype: 'int32', device })),
        trainMask: mk(T.tensor(masks.train, { dtype: 'bool', device })),
        valMask: mk(T.tensor(masks.val, { dtype: 'bool', device })),
        testMask: mk(T.tensor(masks.test, { dtype: 'bool', device })),
        numNodes: N,
      });
      return new Planetoid(name, graph, raw.numClasses, options.transform);
    } catch (e) {
      for (const t of made) t.dispose();
      throw e;
    }
  }
}

/** The assembled arrays of one Planetoid dataset (host side). */
interface PlanetoidArrays {
  numNodes: number;
  numFeatures: number;
  numClasses: number;
  /** Row-major [N, F]. */
  x: Float32Array;
  y: Int32Array;
  /** [2, E] row-major, sorted by (row, col), no self-loops or duplicates. */
  edgeIndex: Int32Array;
  /** Rows of `y` (= the public training nodes). */
  numTrain: number;
  testIndex: Int32Array;
}

interface PlanetoidParts {
  y: NdArray;
  tx: CsrArrays;
  allx: CsrArrays;
  ty: NdArray;
  ally: NdArray;
  graph: PyValue;
  testIndex: Int32Array;
}

function asCsr(op: string, v: PyValue, file: string): CsrArrays {
  if ((v as CsrArrays)?.kind !== 'csr') throw new Error(`${op}: ${file} does not hold a scipy CSR matrix`);
  return v as CsrArrays;
}

function asArray(op: string, v: PyValue, file: string): NdArray {
  const a = v as NdArray;
  if (a?.kind !== 'ndarray' || a.shape.length !== 2) throw new Error(`${op}: ${file} does not hold a 2-D numpy array`);
  return a;
}

function parseIndex(op: string, text: string): Int32Array {
  const ids = text.split('\n').map((l) => l.trim()).filter((l) => l !== '');
  return Int32Array.from(ids, (l, i) => {
    const v = Number(l);
    if (!Number.isInteger(v) || v < 0) throw new Error(`${op}: test.index line ${i + 1} is not a node id: '${l}'`);
    return v;
  });
}

/**
 * GCN's `load_data` as PyG does it: features = vstack(allx, tx), labels = vstack(ally, ty), then
 * the test rows are moved to their ids (`x[test_index] = x[sorted(test_index)]`). When the test
 * ids leave gaps (CiteSeer), tx/ty are first padded with zero rows over the whole id range.
 */
function assemble(op: string, parts: PlanetoidParts): PlanetoidArrays {
  const { y, tx, allx, ty, ally, graph, testIndex } = parts;
  const F = allx.shape[1];
  const C = ally.shape[1];
  if (tx.shape[1] !== F) throw new Error(`${op}: tx has ${tx.shape[1]} feature columns but allx has ${F}`);
  if (ty.shape[1] !== C || y.shape[1] !== C) throw new Error(`${op}: label arrays disagree on the class count (ally ${C}, ty ${ty.shape[1]}, y ${y.shape[1]})`);
  if (allx.shape[0] !== ally.shape[0] || tx.shape[0] !== ty.shape[0]) throw new Error(`${op}: feature and label row counts disagree (allx ${allx.shape[0]} / ally ${ally.shape[0]}, tx ${tx.shape[0]} / ty ${ty.shape[0]})`);
  if (testIndex.length !== tx.shape[0]) throw new Error(`${op}: test.index lists ${testIndex.length} ids but tx has ${tx.shape[0]} rows`);
  const sorted = Int32Array.from(testIndex).sort();
  const A = allx.shape[0];
  const lo = sorted.length ? sorted[0] : A;
  const span = sorted.length ? sorted[sorted.length - 1] - lo + 1 : 0;
  const N = A + span;
  // stacked row s -> its source: allx row s, or tx row k where sorted[k] - lo = s - A (else a zero row)
  const txRowAt = new Int32Array(span).fill(-1);
  sorted.forEach((id, k) => (txRowAt[id - lo] = k));
  // final row d takes stacked row src[d]
  const src = new Int32Array(N);
  for (let d = 0; d < N; d++) src[d] = d;
  testIndex.forEach((id, k) => {
    if (id >= N) throw new Error(`${op}: test id ${id} is outside the ${N} nodes`);
    src[id] = sorted[k];
  });
  const x = new Float32Array(N * F);
  const labels = new Int32Array(N);
  for (let d = 0; d < N; d++) {
    const s = src[d];
    const fromTest = s >= A;
    const row = fromTest ? txRowAt[s - A] : s;
    if (row < 0) continue; // a padded id: zero features, label 0
    const m = fromTest ? tx : allx;
    const ip = m.indptr.data;
    for (let p = ip[row]; p < ip[row + 1]; p++) x[d * F + m.indices.data[p]] = m.data.data[p];
    labels[d] = argmaxRow(fromTest ? ty : ally, row, C);
  }
  return {
    numNodes: N,
    numFeatures: F,
    numClasses: C,
    x,
    y: labels,
    edgeIndex: graphEdges(op, graph, N),
    numTrain: y.shape[0],
    testIndex,
  };
}

/** Index of the first largest entry of a row (0 for an all-zero row, as torch.max does). */
function argmaxRow(a: NdArray, row: number, C: number): number {
  let best = 0;
  for (let c = 1; c < C; c++) if (a.data[row * C + c] > a.data[row * C + best]) best = c;
  return best;
}

/** The adjacency dict as a coalesced edge index without self-loops (PyG's edge_index_from_dict). */
function graphEdges(op: string, graph: PyValue, N: number): Int32Array {
  if (!(graph instanceof Map)) throw new Error(`${op}: the graph file does not hold a dict of adjacency lists`);
  const rows: number[] = [];
  const cols: number[] = [];
  for (const [key, list] of graph) {
    if (typeof key !== 'number' || !Array.isArray(list)) throw new Error(`${op}: the graph dict must map node ids to lists of ids`);
    for (const v of list) {
      if (typeof v !== 'number' || key < 0 || key >= N || v < 0 || v >= N) throw new Error(`${op}: the graph dict holds edge (${key}, ${String(v)}) outside the ${N} nodes`);
      if (key === v) continue;
      rows.push(key);
      cols.push(v);
    }
  }
  const row = Int32Array.from(rows);
  const col = Int32Array.from(cols);
  const perm = sortEdgesPerm(row, col, N);
  const outRow: number[] = [];
  const outCol: number[] = [];
  for (const e of perm) {
    const k = outRow.length - 1;
    if (k >= 0 && outRow[k] === row[e] && outCol[k] === col[e]) continue;
    outRow.push(row[e]);
    outCol.push(col[e]);
  }
  const out = new Int32Array(2 * outRow.length);
  out.set(outRow, 0);
  out.set(outCol, outRow.length);
  return out;
}

/** Train/val/test masks for the chosen split. */
function splitMasks(op: string, split: string, raw: PlanetoidArrays, options: PlanetoidOptions): { train: Uint8Array; val: Uint8Array; test: Uint8Array } {
  const N = raw.numNodes;
  const train = new Uint8Array(N);
  const val = new Uint8Array(N);
  const test = new Uint8Array(N);
  if (split !== 'random') {
    const nVal = Math.min(500, N - raw.numTrain);
    for (let i = 0; i < nVal; i++) val[raw.numTrain + i] = 1;
    for (const id of raw.testIndex) test[id] = 1;
    if (split === 'public') for (let i = 0; i < raw.numTrain; i++) train[i] = 1;
    else for (let i = 0; i < N; i++) train[i] = val[i] || test[i] ? 0 : 1;
    return { train, val, test };
  }
  const perClass = options.numTrainPerClass ?? 20;
  const numVal = options.numVal ?? 500;
  const numTest = options.numTest ?? 1000;
  for (const [k, v] of [['numTrainPerClass', perClass], ['numVal', numVal], ['numTest', numTest]] as const) {
    if (!Number.isInteger(v) || v < 0) throw new RangeError(`${op}: ${k} must be a non-negative integer, received ${v}`);
  }
  const perm = T.randperm(N, { generator: options.generator, device: 'cpu' });
  const order = Array.from(perm.dataSync());
  perm.dispose();
  const taken = new Array<number>(raw.numClasses).fill(0);
  const rest: number[] = [];
  for (const v of order) {
    if (taken[raw.y[v]] < perClass) {
      taken[raw.y[v]]++;
      train[v] = 1;
    } else {
      rest.push(v);
    }
  }
  if (numVal + numTest > rest.length) throw new RangeError(`${op}: numVal + numTest = ${numVal + numTest} exceeds the ${rest.length} nodes left after the training nodes`);
  rest.slice(0, numVal).forEach((v) => (val[v] = 1));
  rest.slice(numVal, numVal + numTest).forEach((v) => (test[v] = 1));
  return { train, val, test };
}
