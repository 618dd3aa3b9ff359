import * as T from '@tessera/tensor';
import { checkEdgeRange, maxNodeId, splitRows } from '../utils/edges.js';

/** The attributes a Graph knows by name (PyG's `Data` fields, camelCased). */
export const GRAPH_KEYS = ['x', 'edgeIndex', 'edgeAttr', 'edgeWeight', 'y', 'pos', 'trainMask', 'valMask', 'testMask', 'edgeLabel', 'edgeLabelIndex'] as const;
export type GraphKey = (typeof GRAPH_KEYS)[number];

export interface GraphInit {
  /** Node features [N, F] (or [N]). */
  x?: T.Tensor;
  /** int32 [2, E]: row 0 the sources, row 1 the targets. */
  edgeIndex?: T.Tensor;
  /** Edge features [E, ...]. */
  edgeAttr?: T.Tensor;
  /** Float edge weights [E]. */
  edgeWeight?: T.Tensor;
  /** Targets: node-level [N, ...] or graph-level [1, ...] (any shape is accepted). */
  y?: T.Tensor;
  /** Node positions [N, D]. */
  pos?: T.Tensor;
  /** bool [N] (or [N, S] for S splits). */
  trainMask?: T.Tensor;
  valMask?: T.Tensor;
  testMask?: T.Tensor;
  /** Link-prediction targets [L] for the node pairs in `edgeLabelIndex`. */
  edgeLabel?: T.Tensor;
  /** int32 [2, L]: node pairs to predict links for. */
  edgeLabelIndex?: T.Tensor;
  /** Any other tensors (batched along dim 0; along the last dim, offset by node counts, when the name contains "index"). */
  extra?: Record<string, T.Tensor>;
  /**
   * Number of nodes. Default: rows of `x`, else of `pos`, else of a mask, else the largest id in
   * `edgeIndex` + 1 (cpu only: on webgpu that would need an asynchronous read, so pass it).
   */
  numNodes?: number;
}

export type GraphChanges = { [K in GraphKey]?: T.Tensor | null } & { extra?: Record<string, T.Tensor | null>; numNodes?: number };

const shapeStr = (s: readonly number[]) => `[${s.join(', ')}]`;
const NODE_KEYS = ['x', 'pos', 'trainMask', 'valMask', 'testMask'] as const;
const MASK_KEYS = ['trainMask', 'valMask', 'testMask'] as const;

/** A new tensor object over the same storage (cheap), keeping autodiff history. */
export function shareTensor(t: T.Tensor): T.Tensor {
  return T.reshape(t, [...t.shape]);
}

/**
 * One graph, as PyG's `Data`: node features `x`, an int32 edge index [2, E], edge features,
 * targets, positions and split masks, plus any `extra` tensors.
 *
 * Shapes, dtypes and devices are checked at construction; on cpu the edge ids are checked against
 * `numNodes` too (on webgpu call `await graph.validate()`, which reads them back).
 *
 * Ownership: a Graph owns its tensors (they are taken out of `tidy` scopes, like a SparseTensor's)
 * and frees them with `dispose()`. It is immutable: `with()`, `to()` and the transforms return new
 * Graphs whose unchanged tensors are new views of the same storage, so each Graph is disposed on
 * its own without affecting the others.
 */
export class Graph {
  readonly numNodes: number;
  readonly #attrs = new Map<string, T.Tensor>();

  constructor(init: GraphInit = {}) {
    const op = 'Graph';
    if (typeof init !== 'object' || init === null) throw new TypeError(`${op}: expected an object of attributes, received ${String(init)}`);
    const entries: [string, unknown][] = [];
    for (const [key, value] of Object.entries(init)) {
      if (key === 'numNodes' || key === 'extra' || value === undefined) continue;
      if (!(GRAPH_KEYS as readonly string[]).includes(key)) {
        throw new TypeError(`${op}: unknown attribute '${key}'; known attributes are ${GRAPH_KEYS.join(', ')} (put others in \`extra\`)`);
      }
      entries.push([key, value]);
    }
    if (init.extra !== undefined) {
      if (typeof init.extra !== 'object' || init.extra === null) throw new TypeError(`${op}: extra must be an object of tensors`);
      for (const [key, value] of Object.entries(init.extra)) {
        if ((GRAPH_KEYS as readonly string[]).includes(key) || key === 'numNodes') throw new TypeError(`${op}: extra attribute '${key}' shadows a named attribute; pass it directly`);
        if (value !== undefined) entries.push([key, value]);
      }
    }
    let device: T.DeviceName | undefined;
    for (const [key, value] of entries) {
      if (!T.isTensor(value)) throw new TypeError(`${op}: expected ${key} to be a Tensor, received ${value === null ? 'null' : typeof value}`);
      if (value.isDisposed) throw new Error(`${op}: ${key} has been disposed`);
      device ??= value.device;
      if (value.device !== device) throw new Error(`${op}: expected all attributes on one device, received ${entries[0][0]} on '${device}' and ${key} on '${value.device}'`);
      this.#attrs.set(key, value);
    }
    this.numNodes = this.#resolveNumNodes(op, init.numNodes);
    this.#check(op);
    for (const t of this.#attrs.values()) T.keep(t);
  }

  #resolveNumNodes(op: string, given: unknown): number {
    if (given !== undefined && (typeof given !== 'number' || !Number.isInteger(given) || given < 0)) {
      throw new RangeError(`${op}: numNodes must be a non-negative integer, received ${String(given)}`);
    }
    if (given !== undefined) return given as number;
    for (const key of NODE_KEYS) {
      const t = this.#attrs.get(key);
      if (t && t.rank >= 1) return t.shape[0];
    }
    const ei = this.#attrs.get('edgeIndex');
    if (!ei || ei.rank !== 2 || ei.shape[0] !== 2 || ei.shape[1] === 0) return 0;
    if (ei.device !== 'cpu') {
      throw new Error(`${op}: cannot infer numNodes from an edge index on '${ei.device}' (that needs an asynchronous read); pass numNodes, x or pos`);
    }
    if (ei.dtype !== 'int32') return 0; // reported by #check
    const [row, col] = splitRows(ei.dataSync() as Int32Array, ei.shape[1]);
    return maxNodeId(row, col);
  }

  /** Shape, dtype and (on cpu) index-range checks. */
  #check(op: string): void {
    const n = this.numNodes;
    const ei = this.#attrs.get('edgeIndex');
    for (const key of ['edgeIndex', 'edgeLabelIndex'] as const) {
      const t = this.#attrs.get(key);
      if (!t) continue;
      if (t.rank !== 2 || t.shape[0] !== 2) throw new RangeError(`${op}: expected ${key} of shape [2, E], received ${shapeStr(t.shape)}`);
      if (t.dtype !== 'int32') throw new TypeError(`${op}: expected ${key} of dtype int32, received ${t.dtype} (cast it with .cast('int32'))`);
      if (t.device === 'cpu') {
        const [row, col] = splitRows(t.dataSync() as Int32Array, t.shape[1]);
        checkEdgeRange(op, row, col, n, key);
      }
    }
    for (const key of NODE_KEYS) {
      const t = this.#attrs.get(key);
      if (t && (t.rank < 1 || t.shape[0] !== n)) throw new RangeError(`${op}: expected ${key} with one row per node (shape [${n}, ...]), received ${shapeStr(t.shape)}`);
    }
    for (const key of MASK_KEYS) {
      const t = this.#attrs.get(key);
      if (t && (t.dtype !== 'bool' || t.rank > 2)) throw new TypeError(`${op}: expected ${key} to be a bool tensor [${n}] or [${n}, S], received ${t.dtype} ${shapeStr(t.shape)}`);
    }
    const numEdges = ei?.shape[1] ?? 0;
    const edgeAttr = this.#attrs.get('edgeAttr');
    if (edgeAttr && (edgeAttr.rank < 1 || edgeAttr.shape[0] !== numEdges)) {
      throw new RangeError(`${op}: expected edgeAttr with one row per edge (shape [${numEdges}, ...]), received ${shapeStr(edgeAttr.shape)}`);
    }
    const w = this.#attrs.get('edgeWeight');
    if (w && (w.rank !== 1 || w.shape[0] !== numEdges)) throw new RangeError(`${op}: expected edgeWeight of shape [${numEdges}] (one per edge), received ${shapeStr(w.shape)}`);
    if (w && w.dtype !== 'float32' && w.dtype !== 'float64') throw new TypeError(`${op}: expected a float edgeWeight, received ${w.dtype}`);
    const label = this.#attrs.get('edgeLabel');
    const labelIndex = this.#attrs.get('edgeLabelIndex');
    if (label && labelIndex && (label.rank < 1 || label.shape[0] !== labelIndex.shape[1])) {
      throw new RangeError(`${op}: expected edgeLabel with one entry per pair of edgeLabelIndex (shape [${labelIndex.shape[1]}, ...]), received ${shapeStr(label.shape)}`);
    }
  }

  get x(): T.Tensor | undefined { return this.#attrs.get('x'); }
  get edgeIndex(): T.Tensor | undefined { return this.#attrs.get('edgeIndex'); }
  get edgeAttr(): T.Tensor | undefined { return this.#attrs.get('edgeAttr'); }
  get edgeWeight(): T.Tensor | undefined { return this.#attrs.get('edgeWeight'); }
  get y(): T.Tensor | undefined { return this.#attrs.get('y'); }
  get pos(): T.Tensor | undefined { return this.#attrs.get('pos'); }
  get trainMask(): T.Tensor | undefined { return this.#attrs.get('trainMask'); }
  get valMask(): T.Tensor | undefined { return this.#attrs.get('valMask'); }
  get testMask(): T.Tensor | undefined { return this.#attrs.get('testMask'); }
  get edgeLabel(): T.Tensor | undefined { return this.#attrs.get('edgeLabel'); }
  get edgeLabelIndex(): T.Tensor | undefined { return this.#attrs.get('edgeLabelIndex'); }

  /** Any attribute by name (named or extra). */
  get(key: string): T.Tensor | undefined {
    return this.#attrs.get(key);
  }

  has(key: string): boolean {
    return this.#attrs.has(key);
  }

  /** Names of the attributes present, named ones first in GRAPH_KEYS order, then extras. */
  keys(): string[] {
    const named = GRAPH_KEYS.filter((k) => this.#attrs.has(k));
    return [...named, ...[...this.#attrs.keys()].filter((k) => !(GRAPH_KEYS as readonly string[]).includes(k))];
  }

  /** The extra (not named) attributes. */
  get extra(): Record<string, T.Tensor> {
    return Object.fromEntries([...this.#attrs].filter(([k]) => !(GRAPH_KEYS as readonly string[]).includes(k)));
  }

  get numEdges(): number {
    return this.edgeIndex?.shape[1] ?? 0;
  }

  /** Features per node (PyG's num_node_features): x's last dim, 1 for a 1-D x, 0 without x. */
  get numNodeFeatures(): number {
    const x = this.x;
    return !x ? 0 : x.rank === 1 ? 1 : x.shape[x.rank - 1];
  }

  get numFeatures(): number {
    return this.numNodeFeatures;
  }

  get numEdgeFeatures(): number {
    const a = this.edgeAttr;
    return !a ? 0 : a.rank === 1 ? 1 : a.shape[a.rank - 1];
  }

  /** The device of the attributes (undefined for a graph without tensors). */
  get device(): T.DeviceName | undefined {
    for (const t of this.#attrs.values()) return t.device;
    return undefined;
  }

  get isDisposed(): boolean {
    for (const t of this.#attrs.values()) if (t.isDisposed) return true;
    return false;
  }

  /**
   * A new Graph with some attributes replaced (a tensor, owned by the new graph from now on) or
   * removed (null); the others are shared as new views. This graph is unchanged.
   */
  with(changes: GraphChanges): Graph {
    const init: GraphInit = { numNodes: changes.numNodes ?? this.numNodes };
    const extra: Record<string, T.Tensor> = {};
    const changedExtra = changes.extra ?? {};
    const made: T.Tensor[] = [];
    try {
      for (const key of this.keys()) {
        const isNamed = (GRAPH_KEYS as readonly string[]).includes(key);
        const change = isNamed ? (changes as Record<string, T.Tensor | null | undefined>)[key] : changedExtra[key];
        if (change !== undefined) continue;
        const view = shareTensor(this.#attrs.get(key)!);
        made.push(view);
        if (isNamed) (init as Record<string, unknown>)[key] = view;
        else extra[key] = view;
      }
      for (const key of GRAPH_KEYS) {
        const change = (changes as Record<string, T.Tensor | null | undefined>)[key];
        if (change) (init as Record<string, unknown>)[key] = change;
      }
      for (const [key, change] of Object.entries(changedExtra)) if (change) extra[key] = change;
      init.extra = extra;
      return new Graph(init);
    } catch (e) {
      for (const t of made) t.dispose();
      throw e;
    }
  }

  /** A copy on `device` (new views when already there). Async: leaving webgpu reads back. */
  async to(device: T.DeviceName): Promise<Graph> {
    const moved = new Map<string, T.Tensor>();
    try {
      for (const [k, t] of this.#attrs) moved.set(k, await T.to(t, device));
      return Graph.#fromMap(moved, this.numNodes);
    } catch (e) {
      for (const t of moved.values()) t.dispose();
      throw e;
    }
  }

  /** A deep copy (new storage for every tensor). */
  clone(): Graph {
    const copies = new Map<string, T.Tensor>();
    for (const [k, t] of this.#attrs) copies.set(k, T.clone(t));
    return Graph.#fromMap(copies, this.numNodes);
  }

  static #fromMap(attrs: Map<string, T.Tensor>, numNodes: number): Graph {
    const init: GraphInit = { numNodes, extra: {} };
    for (const [k, t] of attrs) {
      if ((GRAPH_KEYS as readonly string[]).includes(k)) (init as Record<string, unknown>)[k] = t;
      else init.extra![k] = t;
    }
    return new Graph(init);
  }

  /** Checks the edge ids against numNodes on any device (reads the indices back). */
  async validate(): Promise<this> {
    for (const key of ['edgeIndex', 'edgeLabelIndex'] as const) {
      const t = this.#attrs.get(key);
      if (!t) continue;
      const [row, col] = splitRows((await t.data()) as Int32Array, t.shape[1]);
      checkEdgeRange('Graph.validate', row, col, this.numNodes, key);
    }
    return this;
  }

  /** Whether some edge is a self-loop (i, i). Async: reads the edge index back. */
  async hasSelfLoops(): Promise<boolean> {
    const { row, col } = await this.#edges();
    for (let e = 0; e < row.length; e++) if (row[e] === col[e]) return true;
    return false;
  }

  /** Whether some node has no edge at all (self-loops do not count, as in PyG). Async. */
  async hasIsolatedNodes(): Promise<boolean> {
    const { row, col } = await this.#edges();
    const touched = new Uint8Array(this.numNodes);
    for (let e = 0; e < row.length; e++) {
      if (row[e] === col[e]) continue;
      touched[row[e]] = 1;
      touched[col[e]] = 1;
    }
    return touched.includes(0);
  }

  /** Whether every edge has its reverse. Async. */
  async isUndirected(): Promise<boolean> {
    const { row, col } = await this.#edges();
    const keys = new Set<number>();
    for (let e = 0; e < row.length; e++) keys.add(row[e] * this.numNodes + col[e]);
    for (let e = 0; e < row.length; e++) if (!keys.has(col[e] * this.numNodes + row[e])) return false;
    return true;
  }

  async #edges(): Promise<{ row: Int32Array; col: Int32Array }> {
    const ei = this.edgeIndex;
    if (!ei) return { row: new Int32Array(0), col: new Int32Array(0) };
    const [row, col] = splitRows((await ei.data()) as Int32Array, ei.shape[1]);
    return { row, col };
  }

  dispose(): void {
    for (const t of this.#attrs.values()) t.dispose();
  }

  [Symbol.dispose](): void {
    this.dispose();
  }

  toString(): string {
    const parts = this.keys().map((k) => `${k}=${shapeStr(this.#attrs.get(k)!.shape)}`);
    return `${this.constructor.name}(${[...parts, `numNodes=${this.numNodes}`].join(', ')})`;
  }
}
