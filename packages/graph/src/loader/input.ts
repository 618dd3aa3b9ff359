import * as T from '@tessera/tensor';
import { readNodeSet, type NodeSet } from '../utils/subgraph.js';

/** Options shared by the node loaders: which seed nodes, how many per batch, in what order. */
export interface SeedBatchOptions {
  /** Seed (output) nodes per batch (default 1, as PyG). */
  batchSize?: number;
  /** The seed nodes: ids (number[] or an int32 tensor) or a bool mask; default all nodes. */
  inputNodes?: NodeSet;
  /** A new random order of the input nodes each epoch (default false). */
  shuffle?: boolean;
  /** Drop the last batch when it has fewer than batchSize seeds (default false). */
  dropLast?: boolean;
  /** Default: the global generator (`T.manualSeed`). */
  generator?: T.Generator;
}

export function checkBatchSize(op: string, batchSize: unknown): number {
  const b = batchSize ?? 1;
  if (typeof b !== 'number' || !Number.isInteger(b) || b <= 0) throw new RangeError(`${op}: batchSize must be a positive integer, received ${String(b)}`);
  return b;
}

/**
 * The input node ids (in the order given; ascending for a mask), checked against numNodes: an
 * array at once, a tensor when `resolve()` is awaited (it is read back).
 */
export class InputNodes {
  #ids: Int32Array | null = null;
  readonly #tensor: T.Tensor | null = null;

  constructor(readonly op: string, inputNodes: NodeSet | undefined, readonly numNodes: number) {
    if (inputNodes === undefined) this.#ids = Int32Array.from({ length: numNodes }, (_, i) => i);
    else if (T.isTensor(inputNodes)) this.#tensor = inputNodes;
    else this.#ids = checkIds(op, inputNodes, numNodes);
  }

  /** The ids, when known without reading a device back. */
  get known(): Int32Array | null {
    return this.#ids;
  }

  async resolve(): Promise<Int32Array> {
    this.#ids ??= await readNodeSet(this.op, this.#tensor!, this.numNodes, 'inputNodes');
    return this.#ids;
  }
}

function checkIds(op: string, ids: unknown, numNodes: number): Int32Array {
  if (!Array.isArray(ids)) throw new TypeError(`${op}: expected inputNodes to be an array of node ids, an int32 tensor or a bool mask, received ${ids === null ? 'null' : typeof ids}`);
  const seen = new Uint8Array(numNodes);
  for (const v of ids) {
    if (!Number.isInteger(v)) throw new TypeError(`${op}: expected integer node ids in inputNodes, received ${String(v)}`);
    if (v < 0 || v >= numNodes) throw new RangeError(`${op}: inputNodes holds node ${v}, outside [0, ${numNodes}) for a graph of ${numNodes} nodes`);
    if (seen[v]) throw new RangeError(`${op}: inputNodes holds node ${v} more than once`);
    seen[v] = 1;
  }
  return Int32Array.from(ids as number[]);
}

/** Positions into the input nodes for each batch of one epoch (shuffled with `gen` when asked). */
export function epochBatches(count: number, batchSize: number, shuffle: boolean, dropLast: boolean, gen: T.Generator): Int32Array[] {
  const order = Int32Array.from({ length: count }, (_, i) => i);
  if (shuffle && count > 1) {
    const u = gen.uniform(count, true);
    for (let i = count - 1; i > 0; i--) {
      const j = Math.floor(u[i] * (i + 1));
      const t = order[i];
      order[i] = order[j];
      order[j] = t;
    }
  }
  const out: Int32Array[] = [];
  for (let b = 0; b < count; b += batchSize) {
    if (dropLast && b + batchSize > count) break;
    out.push(order.subarray(b, Math.min(count, b + batchSize)));
  }
  return out;
}

export function numBatches(count: number, batchSize: number, dropLast: boolean): number {
  return dropLast ? Math.floor(count / batchSize) : Math.ceil(count / batchSize);
}
