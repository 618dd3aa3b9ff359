/**
 * The graph every system uses, written once to a folder of raw little-endian arrays so that the
 * TypeScript runners and the Python runner read the very same edges:
 *
 *   meta.json                          { source, nodes, edges, nnz, classes, train }
 *   edge_src.i32, edge_dst.i32          directed edges, both directions, no self loops (10,556)
 *   adj_rows.i32, adj_cols.i32, adj_vals.f32
 *                                      Â = D^-1/2 (A + I) D^-1/2, sorted by (row, col) (13,264 entries)
 *   labels.i32, train.i32              class per node; 20 train nodes per class (140)
 *
 * The graph is Cora's citation graph when `$TESSERA_DATA_DIR/cora_linqs` is there, otherwise a
 * seeded random graph with Cora's node and edge counts. Node features are not shared: each system
 * draws its own dense random [2708, 1433] matrix (values do not change the timings).
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GRAPH } from './spec.js';

export interface GraphInputs {
  source: string;
  nodes: number;
  classes: number;
  edgeSrc: Int32Array;
  edgeDst: Int32Array;
  adjRows: Int32Array;
  adjCols: Int32Array;
  adjVals: Float32Array;
  labels: Int32Array;
  train: Int32Array;
}

const VERSION = 1;
const CORA_EDGES = 10556;

export function dataDir(): string {
  return process.env.TESSERA_DATA_DIR ?? join(import.meta.dirname, '../../../../shared/data');
}

/** Cora from the LINQS files: undirected citations (duplicates and self-citations dropped), labels from the last column. */
function readCora(): { source: string; src: number[]; dst: number[]; labels: number[] } | null {
  const dir = join(dataDir(), 'cora_linqs');
  const contentPath = join(dir, 'cora.content');
  const citesPath = join(dir, 'cora.cites');
  if (!existsSync(contentPath) || !existsSync(citesPath)) return null;
  const ids = new Map<string, number>();
  const classNames: string[] = [];
  const labelNames: string[] = [];
  for (const line of readFileSync(contentPath, 'utf8').split('\n')) {
    if (!line.trim()) continue;
    const first = line.indexOf('\t');
    ids.set(line.slice(0, first), ids.size);
    labelNames.push(line.slice(line.lastIndexOf('\t') + 1).trim());
  }
  for (const name of [...new Set(labelNames)].sort()) classNames.push(name);
  const labels = labelNames.map((n) => classNames.indexOf(n));
  const seen = new Set<number>();
  const src: number[] = [];
  const dst: number[] = [];
  for (const line of readFileSync(citesPath, 'utf8').split('\n')) {
    const [a, b] = line.trim().split(/\s+/);
    const u = ids.get(a ?? '');
    const v = ids.get(b ?? '');
    if (u === undefined || v === undefined || u === v) continue;
    for (const [x, y] of [
      [u, v],
      [v, u],
    ]) {
      const key = x * ids.size + y;
      if (seen.has(key)) continue;
      seen.add(key);
      src.push(x);
      dst.push(y);
    }
  }
  if (ids.size !== GRAPH.nodes || src.length !== CORA_EDGES) return null;
  return { source: `Cora citation graph (${join(dir, 'cora.cites')})`, src, dst, labels };
}

/** mulberry32: a tiny seeded generator, enough for a reproducible random graph. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function randomGraph(): { source: string; src: number[]; dst: number[]; labels: number[] } {
  const n = GRAPH.nodes;
  const next = rng(1);
  const seen = new Set<number>();
  const src: number[] = [];
  const dst: number[] = [];
  while (src.length < CORA_EDGES) {
    const u = Math.floor(next() * n);
    const v = Math.floor(next() * n);
    if (u === v || seen.has(u * n + v)) continue;
    seen.add(u * n + v);
    seen.add(v * n + u);
    src.push(u, v);
    dst.push(v, u);
  }
  const labels = Array.from({ length: n }, () => Math.floor(next() * GRAPH.classes));
  return { source: 'random graph with Cora’s counts (seed 1; Cora files not found)', src, dst, labels };
}

function build(): GraphInputs {
  const g = readCora() ?? randomGraph();
  const n = GRAPH.nodes;
  const deg = new Float64Array(n).fill(1); // the self loop
  for (const d of g.dst) deg[d] += 1;
  const entries: [number, number][] = g.dst.map((d, i) => [d, g.src[i]]);
  for (let i = 0; i < n; i++) entries.push([i, i]);
  entries.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  const adjVals = Float32Array.from(entries, ([r, c]) => 1 / Math.sqrt(deg[r] * deg[c]));
  const train: number[] = [];
  const perClass = new Array<number>(GRAPH.classes).fill(0);
  g.labels.forEach((c, i) => {
    if (perClass[c] < GRAPH.trainPerClass) {
      perClass[c]++;
      train.push(i);
    }
  });
  return {
    source: g.source,
    nodes: n,
    classes: GRAPH.classes,
    edgeSrc: Int32Array.from(g.src),
    edgeDst: Int32Array.from(g.dst),
    adjRows: Int32Array.from(entries, (e) => e[0]),
    adjCols: Int32Array.from(entries, (e) => e[1]),
    adjVals,
    labels: Int32Array.from(g.labels),
    train: Int32Array.from(train),
  };
}

const FILES = {
  edgeSrc: 'edge_src.i32',
  edgeDst: 'edge_dst.i32',
  adjRows: 'adj_rows.i32',
  adjCols: 'adj_cols.i32',
  adjVals: 'adj_vals.f32',
  labels: 'labels.i32',
  train: 'train.i32',
} as const;

/** Writes the inputs to `dir` (default: a cache folder under the OS temp dir) unless already there; returns the folder. */
export function ensureInputs(dir = join(tmpdir(), `tessera-bench-inputs-v${VERSION}`)): string {
  if (existsSync(join(dir, 'meta.json'))) return dir;
  mkdirSync(dir, { recursive: true });
  const g = build();
  for (const [key, file] of Object.entries(FILES)) {
    const a = g[key as keyof typeof FILES];
    writeFileSync(join(dir, file), new Uint8Array(a.buffer, a.byteOffset, a.byteLength));
  }
  const meta = { version: VERSION, source: g.source, nodes: g.nodes, classes: g.classes, edges: g.edgeSrc.length, nnz: g.adjVals.length, train: g.train.length };
  writeFileSync(join(dir, 'meta.json'), JSON.stringify(meta, null, 2));
  return dir;
}

export function readInputs(dir: string): GraphInputs {
  const meta = JSON.parse(readFileSync(join(dir, 'meta.json'), 'utf8')) as { source: string; nodes: number; classes: number };
  const i32 = (f: string) => {
    const b = readFileSync(join(dir, f));
    return new Int32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
  };
  const b = readFileSync(join(dir, FILES.adjVals));
  return {
    source: meta.source,
    nodes: meta.nodes,
    classes: meta.classes,
    edgeSrc: i32(FILES.edgeSrc),
    edgeDst: i32(FILES.edgeDst),
    adjRows: i32(FILES.adjRows),
    adjCols: i32(FILES.adjCols),
    adjVals: new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength)),
    labels: i32(FILES.labels),
    train: i32(FILES.train),
  };
}
