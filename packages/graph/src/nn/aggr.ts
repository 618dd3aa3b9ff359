/**
 * Neighbourhood aggregations: reduce per-edge messages [E, ...F] into per-node results
 * [N, ...F] by target index (unsorted; deterministic scatter kernels on both backends). Nodes that
 * receive nothing get 0 under every aggregator, as in PyG.
 */
import * as T from '@tessera/tensor';
import type { Tensor } from '@tessera/tensor';
import { spreadRows } from '../utils/loop.js';
import { softmax } from '../utils/norm.js';

export type Aggregation = 'sum' | 'add' | 'mean' | 'max' | 'min' | 'softmax' | 'std' | 'var';
export const AGGREGATIONS: readonly Aggregation[] = ['sum', 'add', 'mean', 'max', 'min', 'softmax', 'std', 'var'];

/** StdAggregation's floor on the variance (PyG's eps): below it the std is 0 (and so is its gradient). */
const STD_EPS = 1e-5;

function scatterTo(src: Tensor, index: Tensor, n: number, reduce: T.ScatterReduceOp): Tensor {
  const zeros = T.zeros([n, ...src.shape.slice(1)], { dtype: src.dtype, device: src.device });
  if (reduce === 'sum') return T.scatterAdd(zeros, 0, spreadRows(index, src.shape), src);
  return T.scatterReduce(zeros, 0, spreadRows(index, src.shape), src, reduce, { includeSelf: false });
}

function aggregateOne(src: Tensor, index: Tensor, n: number, aggr: Aggregation): Tensor {
  switch (aggr) {
    case 'sum':
    case 'add':
      return scatterTo(src, index, n, 'sum');
    case 'mean':
      return scatterTo(src, index, n, 'mean');
    case 'max':
      return scatterTo(src, index, n, 'amax');
    case 'min':
      return scatterTo(src, index, n, 'amin');
    case 'softmax':
      // PyG's SoftmaxAggregation with t = 1: a per-feature attention over each node's messages.
      return scatterTo(T.mul(src, softmax(src, index, n)), index, n, 'sum');
    case 'var':
      return T.sub(scatterTo(T.square(src), index, n, 'mean'), T.square(scatterTo(src, index, n, 'mean')));
    case 'std': {
      const std = T.sqrt(T.clamp(aggregateOne(src, index, n, 'var'), STD_EPS));
      return T.where(T.le(std, Math.sqrt(STD_EPS)), 0, std);
    }
    default:
      throw new TypeError(`aggregate: unknown aggregation '${String(aggr)}'; expected one of ${AGGREGATIONS.join(', ')}`);
  }
}

/** Checks an aggregation name or a non-empty list of them; returns the list. */
export function checkAggregation(op: string, aggr: unknown): readonly Aggregation[] {
  const list = Array.isArray(aggr) ? aggr : [aggr];
  if (list.length === 0 || list.some((a) => !AGGREGATIONS.includes(a as Aggregation))) {
    throw new TypeError(`${op}: aggr must be one of ${AGGREGATIONS.map((a) => `'${a}'`).join(', ')} or a non-empty list of them, received ${JSON.stringify(aggr)}`);
  }
  return list as Aggregation[];
}

/**
 * Reduces messages `src` [E, ...F] into [numNodes, ...F] by `index` [E] (int32, any order). A list
 * of aggregations concatenates their results along the last dim (PyG's MultiAggregation 'cat').
 */
export function aggregate(src: Tensor, index: Tensor, numNodes: number, aggr: Aggregation | readonly Aggregation[] = 'sum'): Tensor {
  const op = 'aggregate';
  const list = checkAggregation(op, aggr);
  if (!(src instanceof T.Tensor) || src.rank < 1 || (src.dtype !== 'float32' && src.dtype !== 'float64')) {
    throw new TypeError(`${op}: expected messages as a float tensor [E, ...], received ${src instanceof T.Tensor ? `${src.dtype} [${src.shape.join(', ')}]` : typeof src}`);
  }
  if (!(index instanceof T.Tensor) || index.dtype !== 'int32' || index.rank !== 1 || index.shape[0] !== src.shape[0]) {
    throw new RangeError(`${op}: expected an int32 index of shape [${src.shape[0]}] (one per message), received ${index instanceof T.Tensor ? `${index.dtype} [${index.shape.join(', ')}]` : typeof index}`);
  }
  return T.tidy(() => {
    const outs = list.map((a) => aggregateOne(src, index, numNodes, a));
    return outs.length === 1 ? outs[0] : T.cat(outs, -1);
  });
}
