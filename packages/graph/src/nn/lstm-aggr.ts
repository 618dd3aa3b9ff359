/**
 * LSTM aggregation (GraphSAGE): each node's incoming messages, in edge order, are read as a
 * sequence by an LSTM and its last hidden state is the aggregate. The sequences' lengths are
 * degrees, so the layout depends on the edge index's values: `neighborhoodLayout` reads them back
 * once per graph (asynchronously on any device; LSTMAggregation builds it synchronously itself
 * when the index is on the cpu).
 *
 * Unlike PyG's LSTMAggregation, which runs the LSTM over the zero padding of shorter
 * neighbourhoods, sequences end at their last real message (packed sequences), and nodes
 * without neighbours aggregate to 0.
 */
import * as T from '@tessera/tensor';
import type { Tensor } from '@tessera/tensor';
import { LSTM, Module, type FactoryOptions } from '@tessera/nn';
import { checkPositiveInt, layerName, shapeStr } from './util.js';

/** Where each node's messages sit, grouped by target in edge order. */
export class NeighborhoodLayout {
  constructor(
    readonly numNodes: number,
    readonly numEdges: number,
    /** Degree of each node with at least one incoming message, in node order. */
    readonly lengths: readonly number[],
    /** int32 [M * maxDegree]: message row for (node m, step t), or numEdges (a zero pad row). */
    readonly gather: Tensor,
    /** int32 [numNodes]: each node's row among the M non-empty ones, or M for an empty node. */
    readonly slot: Tensor,
  ) {}

  get maxDegree(): number {
    return this.lengths.reduce((a, b) => Math.max(a, b), 0);
  }

  dispose(): void {
    this.gather.dispose();
    this.slot.dispose();
  }
}

function buildLayout(ids: ArrayLike<number>, numNodes: number, device: T.DeviceName): NeighborhoodLayout {
  const e = ids.length;
  const buckets: number[][] = Array.from({ length: numNodes }, () => []);
  for (let k = 0; k < e; k++) {
    const v = ids[k];
    if (v < 0 || v >= numNodes) throw new RangeError(`neighborhoodLayout: index[${k}] = ${v} is out of range for ${numNodes} nodes`);
    buckets[v].push(k);
  }
  const filled = buckets.map((b, n) => [n, b] as const).filter(([, b]) => b.length > 0);
  const lengths = filled.map(([, b]) => b.length);
  const maxDeg = lengths.reduce((a, b) => Math.max(a, b), 0);
  const gather = new Int32Array(filled.length * maxDeg).fill(e);
  filled.forEach(([, b], m) => b.forEach((row, t) => (gather[m * maxDeg + t] = row)));
  const slot = new Int32Array(numNodes).fill(filled.length);
  filled.forEach(([n], m) => (slot[n] = m));
  // The layout owns its tensors: kept out of any enclosing tidy scope.
  const own = (a: Int32Array) => T.keep(T.tensor(a, { dtype: 'int32', device }));
  return new NeighborhoodLayout(numNodes, e, lengths, own(gather), own(slot));
}

function checkIndex(op: string, index: unknown, numNodes: number): asserts index is Tensor {
  if (!(index instanceof T.Tensor) || index.dtype !== 'int32' || index.rank !== 1) throw new TypeError(`${op}: expected a 1-D int32 index, received ${index instanceof T.Tensor ? `${index.dtype} ${shapeStr(index.shape)}` : typeof index}`);
  if (!Number.isInteger(numNodes) || numNodes < 0) throw new RangeError(`${op}: numNodes must be a non-negative integer, received ${numNodes}`);
}

/** The layout of the messages grouped by target `index` [E] (e.g. edgeIndex[1]); reads the index back. */
export async function neighborhoodLayout(index: Tensor, numNodes: number): Promise<NeighborhoodLayout> {
  checkIndex('neighborhoodLayout', index, numNodes);
  return buildLayout(await index.data(), numNodes, index.device);
}

/** The layout built synchronously from a cpu index. */
export function neighborhoodLayoutSync(index: Tensor, numNodes: number): NeighborhoodLayout {
  const op = 'neighborhoodLayoutSync';
  checkIndex(op, index, numNodes);
  if (index.device !== 'cpu') throw new Error(`${op}: the index is on '${index.device}', which cannot be read synchronously; use \`await neighborhoodLayout(index, numNodes)\` once per graph and pass the layout`);
  return buildLayout(T.tidy(() => T.contiguous(index).dataSync()), numNodes, 'cpu');
}

/** LSTM over each node's messages [E, inChannels] -> [N, outChannels]. State: lstm.weight_ih_l0, ... */
export class LSTMAggregation extends Module {
  lstm: LSTM;

  constructor(readonly inChannels: number, readonly outChannels: number, options: FactoryOptions = {}) {
    super();
    checkPositiveInt('LSTMAggregation', 'inChannels', inChannels);
    checkPositiveInt('LSTMAggregation', 'outChannels', outChannels);
    this.lstm = new LSTM({ inputSize: inChannels, hiddenSize: outChannels, batchFirst: true, ...options });
  }

  forward(messages: Tensor, index: Tensor, numNodes: number, layout?: NeighborhoodLayout): Tensor {
    const name = layerName(this);
    if (!(messages instanceof T.Tensor) || messages.rank !== 2 || messages.shape[1] !== this.inChannels) {
      throw new RangeError(`${name}: expected messages of shape [E, ${this.inChannels}], received ${messages instanceof T.Tensor ? shapeStr(messages.shape) : typeof messages}`);
    }
    if (layout && (layout.numNodes !== numNodes || layout.numEdges !== messages.shape[0])) {
      throw new RangeError(`${name}: the layout is for ${layout.numNodes} nodes and ${layout.numEdges} edges, received ${numNodes} nodes and ${messages.shape[0]} messages`);
    }
    if (layout && layout.gather.device !== messages.device) throw new Error(`${name}: the layout is on ${layout.gather.device} but the messages on ${messages.device}`);
    const own = layout ? null : index.device === 'cpu' ? neighborhoodLayoutSync(index, numNodes) : null;
    const lay = layout ?? own;
    if (!lay) throw new Error(`${name}: on '${index.device}' the neighbourhood layout cannot be read synchronously; pass \`layout: await neighborhoodLayout(edgeIndex[1], numNodes)\` (once per graph)`);
    try {
      return T.tidy(() => {
        const opts = { dtype: messages.dtype, device: messages.device };
        const m = lay.lengths.length;
        if (m === 0) return T.zeros([numNodes, this.outChannels], opts);
        const padded = T.cat([messages, T.zeros([1, this.inChannels], opts)], 0);
        const seqs = T.reshape(T.indexSelect(padded, 0, lay.gather), [m, lay.maxDegree, this.inChannels]);
        const h = T.select(this.lstm.forward(seqs, undefined, lay.lengths).hN, 0, 0);
        return T.indexSelect(T.cat([h, T.zeros([1, this.outChannels], opts)], 0), 0, lay.slot);
      });
    } finally {
      own?.dispose();
    }
  }

  protected override extraRepr(): string {
    return `${this.inChannels}, ${this.outChannels}`;
  }
}
