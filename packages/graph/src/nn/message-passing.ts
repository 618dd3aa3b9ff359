/**
 * The message-passing base class (PyG's MessagePassing, without its code generation):
 *
 *   x'_i = update( aggregate_{j in N(i)} message(x_i, x_j, e_ji), x_i )
 *
 * `propagate(edgeIndex, args)` hands `message` an object with every argument, plus, for each
 * node-level argument `k` (a tensor with one row per node, or a [source, target] pair), `k_j`
 * (rows of the edges' sources) and `k_i` (rows of their targets), computed on first access.
 * Other arguments (edge-level tensors, numbers) pass through as given. With the default flow
 * 'source_to_target', edgeIndex[0] holds the sources j and edgeIndex[1] the targets i.
 *
 * Fused path: a layer whose message is a (weighted) copy of x_j may define
 * `messageAndAggregate(adj, args)`, typically `spmm(adj, args.x)`, where adj is the sparse
 * [N_target, N_source] adjacency whose values are `args.edgeWeight` (ones when absent). It is used
 * when the aggregation is a sum and no gradient is needed for edgeWeight (spmm does not
 * differentiate the sparse values); otherwise message/aggregate run.
 */
import * as T from '@tessera/tensor';
import type { Tensor } from '@tessera/tensor';
import { isGradEnabled } from '@tessera/autodiff';
import { Module } from '@tessera/nn';
import { checkEdgeIndex } from '../utils/loop.js';
import { aggregate, checkAggregation, type Aggregation } from './aggr.js';

export type Flow = 'source_to_target' | 'target_to_source';

/** Node features: one tensor for all nodes, or [source features, target features] (bipartite; the target side may be null). */
export type NodeFeatures = Tensor | readonly [Tensor, Tensor | null];

export interface MessagePassingOptions {
  /** Aggregation, or a list of them whose results are concatenated (default 'sum'). */
  aggr?: Aggregation | readonly Aggregation[];
  /** Default 'source_to_target'. */
  flow?: Flow;
  /** Allow the fused messageAndAggregate path (default true). */
  fuse?: boolean;
}

export interface PropagateArgs {
  /** Node features (sets the node counts unless `size` is given). */
  x?: NodeFeatures;
  /** [numSource, numTarget] nodes, when no node features give them. */
  size?: readonly [number, number];
  [key: string]: unknown;
}

/** What message/aggregate/update receive: the propagate arguments, lifted `k_i`/`k_j`, and the edge structure. */
export interface MessageArgs {
  /** Target node of each edge, int32 [E] (the index aggregation reduces over). */
  readonly index: Tensor;
  /** Source node of each edge, int32 [E]. */
  readonly indexJ: Tensor;
  /** Number of target nodes (rows of the result). */
  readonly sizeI: number;
  /** Number of source nodes. */
  readonly sizeJ: number;
  readonly [key: string]: any;
}

const describe = (v: unknown) => (v instanceof T.Tensor ? `a ${v.dtype} tensor of shape [${v.shape.join(', ')}]` : v === null ? 'null' : typeof v);

function isPair(v: unknown): v is readonly [Tensor, Tensor | null] {
  return Array.isArray(v) && v.length === 2 && v[0] instanceof T.Tensor && (v[1] === null || v[1] instanceof T.Tensor);
}

export abstract class MessagePassing extends Module {
  readonly aggr: Aggregation | readonly Aggregation[];
  readonly flow: Flow;
  readonly fuse: boolean;

  /** Optional fused message + aggregation over the sparse adjacency adj [N_target, N_source]. */
  messageAndAggregate?(adj: T.SparseTensor, args: PropagateArgs): Tensor;

  constructor(options: MessagePassingOptions = {}) {
    super();
    const name = new.target.name;
    this.aggr = options.aggr ?? 'sum';
    checkAggregation(name, this.aggr);
    this.flow = options.flow ?? 'source_to_target';
    if (this.flow !== 'source_to_target' && this.flow !== 'target_to_source') {
      throw new TypeError(`${name}: flow must be 'source_to_target' or 'target_to_source', received '${String(this.flow)}'`);
    }
    this.fuse = options.fuse ?? true;
  }

  /** The message of each edge, [E, ...]. Default: x_j. */
  message(args: MessageArgs): Tensor {
    const xj = args.x_j as Tensor | undefined;
    if (!(xj instanceof T.Tensor)) throw new Error(`${this.constructor.name}.message: the default message is x_j; pass x to propagate or override message`);
    return xj;
  }

  /** Reduces the messages into [sizeI, ...] by target. Default: this.aggr. */
  aggregate(messages: Tensor, args: MessageArgs): Tensor {
    return aggregate(messages, args.index, args.sizeI, this.aggr);
  }

  /** Maps the aggregated messages to the new node features. Default: identity. */
  update(aggregated: Tensor, _args: MessageArgs): Tensor {
    return aggregated;
  }

  /** Node counts [numSource, numTarget] from `size` or the node-level arguments. */
  private sizes(args: PropagateArgs): [number, number] {
    const op = `${this.constructor.name}.propagate`;
    if (args.size !== undefined) {
      const s = args.size;
      if (!Array.isArray(s) || s.length !== 2 || !s.every((d) => Number.isInteger(d) && d >= 0)) throw new RangeError(`${op}: size must be [numSource, numTarget] non-negative integers, received ${JSON.stringify(s)}`);
      return [s[0], s[1]];
    }
    const x = args.x;
    if (x instanceof T.Tensor) {
      if (x.rank < 1) throw new RangeError(`${op}: expected x with one row per node, received a 0-d tensor`);
      return [x.shape[0], x.shape[0]];
    }
    if (isPair(x)) {
      if (!x[1]) throw new RangeError(`${op}: x is [source, null]: pass size [numSource, numTarget] to give the number of target nodes`);
      return [x[0].shape[0], x[1].shape[0]];
    }
    if (x !== undefined) throw new TypeError(`${op}: x must be a tensor or a [source, target] pair, received ${describe(x)}`);
    throw new RangeError(`${op}: pass node features x or size [numSource, numTarget]`);
  }

  /** Runs message passing over `edgeIndex` ([2, E] int32, or a sparse [N_target, N_source] adjacency for the fused path). */
  propagate(edgeIndex: Tensor | T.SparseTensor, args: PropagateArgs = {}): Tensor {
    const op = `${this.constructor.name}.propagate`;
    const [sizeJ, sizeI] = this.sizes(args);
    if (edgeIndex instanceof T.SparseTensor) {
      if (!this.messageAndAggregate) throw new Error(`${op}: a sparse adjacency needs messageAndAggregate, which ${this.constructor.name} does not implement; pass an edge index [2, E] instead`);
      if (edgeIndex.shape[0] !== sizeI || edgeIndex.shape[1] !== sizeJ) {
        throw new RangeError(`${op}: expected a sparse adjacency of shape [${sizeI}, ${sizeJ}] (targets x sources), received [${edgeIndex.shape.join(', ')}]`);
      }
      return T.tidy(() => this.update(this.messageAndAggregate!(edgeIndex, args), this.liftedArgs(args, null, sizeI, sizeJ)));
    }
    checkEdgeIndex(op, edgeIndex, sizeJ, sizeI);
    for (const [key, v] of Object.entries(args)) {
      const ts = v instanceof T.Tensor ? [v] : isPair(v) ? v.filter((t): t is Tensor => t !== null) : [];
      const off = ts.find((t) => t.device !== edgeIndex.device);
      if (off) throw new Error(`${op}: the arguments must be on the edge index's device '${edgeIndex.device}', received '${key}' on '${off.device}'`);
    }
    const flipped = this.flow === 'target_to_source';
    return T.tidy(() => {
      const j = T.select(edgeIndex, 0, flipped ? 1 : 0);
      const i = T.select(edgeIndex, 0, flipped ? 0 : 1);
      const margs = this.liftedArgs(args, { i, j }, sizeI, sizeJ);
      let out: Tensor;
      if (this.canFuse(args)) {
        const e = edgeIndex.shape[1];
        const w = (args.edgeWeight as Tensor | undefined) ?? T.ones([e], { dtype: this.floatDType(args), device: edgeIndex.device });
        const adj = T.sparseCooTensor(T.stack([i, j], 0), w, [sizeI, sizeJ]);
        try {
          out = this.messageAndAggregate!(adj, args);
        } finally {
          adj.dispose();
        }
      } else {
        out = this.aggregate(this.message(margs), margs);
      }
      return this.update(out, margs);
    });
  }

  private floatDType(args: PropagateArgs): T.DType {
    const x = args.x;
    const t = x instanceof T.Tensor ? x : isPair(x) ? x[0] : null;
    return t && t.dtype === 'float64' ? 'float64' : 'float32';
  }

  private canFuse(args: PropagateArgs): boolean {
    if (!this.fuse || !this.messageAndAggregate || (this.aggr !== 'sum' && this.aggr !== 'add')) return false;
    const w = args.edgeWeight;
    if (w === undefined || w === null) return true;
    if (!(w instanceof T.Tensor) || w.rank !== 1) return false;
    return !(w.requiresGrad && isGradEnabled());
  }

  /**
   * The arguments with lazily lifted `k_i` / `k_j` getters for each tensor or pair argument `k`.
   * `ends` is null on the fused path (no per-edge view exists there).
   */
  private liftedArgs(args: PropagateArgs, ends: { i: Tensor; j: Tensor } | null, sizeI: number, sizeJ: number): MessageArgs {
    const op = `${this.constructor.name}.propagate`;
    const out: Record<string, unknown> = { ...args, sizeI, sizeJ };
    if (ends) {
      out.index = ends.i;
      out.indexJ = ends.j;
    }
    const cache = new Map<string, Tensor>();
    const lift = (key: string, side: 'i' | 'j'): Tensor => {
      const name = `${key}_${side}`;
      const hit = cache.get(name);
      if (hit) return hit;
      if (!ends) throw new Error(`${op}: '${name}' is not available on the fused (sparse) path`);
      const v = args[key];
      const src = isPair(v) ? (side === 'j' ? v[0] : v[1]) : (v as Tensor);
      const want = side === 'j' ? sizeJ : sizeI;
      if (!src) throw new Error(`${op}: cannot lift '${name}': the target side of '${key}' is null`);
      if (src.rank < 1 || src.shape[0] !== want) {
        throw new RangeError(`${op}: cannot lift '${key}' to '${name}': expected ${want} rows (one per ${side === 'j' ? 'source' : 'target'} node), received shape [${src.shape.join(', ')}]`);
      }
      const lifted = T.indexSelect(src, 0, side === 'j' ? ends.j : ends.i);
      cache.set(name, lifted);
      return lifted;
    };
    for (const [key, v] of Object.entries(args)) {
      if (!(v instanceof T.Tensor) && !isPair(v)) continue;
      for (const side of ['i', 'j'] as const) {
        Object.defineProperty(out, `${key}_${side}`, { get: () => lift(key, side), enumerable: false, configurable: true });
      }
    }
    return out as MessageArgs;
  }
}
