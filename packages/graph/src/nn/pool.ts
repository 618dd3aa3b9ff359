/**
 * Graph-level readouts over a batch vector (batch[n] = graph of node n, int32 [N], any order):
 * global add / mean / max pooling. Without `batch` all nodes form one graph ([1, F] out). Graphs
 * without nodes read out 0.
 */
import * as T from '@tessera/tensor';
import type { Tensor } from '@tessera/tensor';
import { aggregate, type Aggregation } from './aggr.js';
import { describe, shapeStr } from './util.js';

/**
 * The number of graphs: `size` when given, else max(batch) + 1 read synchronously (cpu only; on
 * webgpu pass it, e.g. from the batch object's numGraphs).
 */
export function numGraphs(op: string, batch: Tensor, size?: number): number {
  if (size !== undefined) {
    if (!Number.isInteger(size) || size < 0) throw new RangeError(`${op}: size (the number of graphs) must be a non-negative integer, received ${size}`);
    return size;
  }
  if (batch.device !== 'cpu') throw new Error(`${op}: pass size (the number of graphs) for a batch vector on '${batch.device}'; inferring it needs a synchronous read, which only cpu tensors allow`);
  const data = T.tidy(() => T.contiguous(batch).dataSync());
  let max = -1;
  for (const v of data) if (v > max) max = v;
  return max + 1;
}

/** Checks x [N, ...] (float) and batch [N] (int32, values in [0, size) on cpu); returns the number of graphs. */
export function checkBatch(op: string, x: unknown, batch: unknown, size?: number): number {
  if (!(x instanceof T.Tensor) || x.rank < 1 || (x.dtype !== 'float32' && x.dtype !== 'float64')) throw new TypeError(`${op}: expected x to be a float tensor [N, ...], received ${describe(x)}`);
  if (batch === undefined || batch === null) return 1;
  if (!(batch instanceof T.Tensor) || batch.dtype !== 'int32' || batch.rank !== 1 || batch.shape[0] !== x.shape[0]) {
    throw new RangeError(`${op}: expected batch to be an int32 tensor of shape [${x.shape[0]}] (one graph id per node of x ${shapeStr(x.shape)}), received ${describe(batch)}`);
  }
  if (batch.device !== x.device) throw new Error(`${op}: x is on ${x.device} but batch is on ${batch.device}`);
  const n = numGraphs(op, batch, size);
  if (batch.device === 'cpu') {
    const data = T.tidy(() => T.contiguous(batch).dataSync());
    const bad = data.findIndex((v) => v < 0 || v >= n);
    if (bad >= 0) throw new RangeError(`${op}: batch[${bad}] = ${data[bad]} is out of range for ${n} graphs (expected 0 <= id < ${n})`);
  }
  return n;
}

function pool(op: string, aggr: Aggregation, x: Tensor, batch?: Tensor | null, size?: number): Tensor {
  const n = checkBatch(op, x, batch, size);
  return T.tidy(() => {
    const ids = batch ?? T.zeros([x.shape[0]], { dtype: 'int32', device: x.device });
    return aggregate(x, ids, n, aggr);
  });
}

/** Σ of each graph's node features: [numGraphs, ...F]. */
export const globalAddPool = (x: Tensor, batch?: Tensor | null, size?: number): Tensor => pool('globalAddPool', 'sum', x, batch, size);

/** Mean of each graph's node features: [numGraphs, ...F]. */
export const globalMeanPool = (x: Tensor, batch?: Tensor | null, size?: number): Tensor => pool('globalMeanPool', 'mean', x, batch, size);

/** Feature-wise max over each graph's nodes: [numGraphs, ...F]. */
export const globalMaxPool = (x: Tensor, batch?: Tensor | null, size?: number): Tensor => pool('globalMaxPool', 'max', x, batch, size);
