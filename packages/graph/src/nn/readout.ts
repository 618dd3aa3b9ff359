/** Learned graph readouts: Set2Set and attention pooling (GlobalAttention), and Jumping Knowledge. */
import * as T from '@tessera/tensor';
import type { Tensor } from '@tessera/tensor';
import { Linear, LSTM, Module, type FactoryOptions } from '@tessera/nn';
import { softmax } from '../utils/norm.js';
import { aggregate } from './aggr.js';
import { checkBatch } from './pool.js';
import { checkPositiveInt, describe, layerName, shapeStr } from './util.js';

const graphIds = (x: Tensor, batch: Tensor | null | undefined) => batch ?? T.zeros([x.shape[0]], { dtype: 'int32', device: x.device });

/**
 * Set2Set (Vinyals et al.; PyG's Set2Set): `processingSteps` rounds of an LSTM query q, attention
 * a_n = softmax over the graph of x_n·q, readout r = Σ a_n x_n, q* = [q, r]. forward(x [N, C],
 * batch?, size?) -> [numGraphs, 2C]. State: lstm.weight_ih_l0, ... (input 2C, hidden C).
 */
export class Set2Set extends Module {
  lstm: LSTM;

  constructor(readonly inChannels: number, readonly processingSteps: number, options: FactoryOptions & { numLayers?: number } = {}) {
    super();
    checkPositiveInt('Set2Set', 'inChannels', inChannels);
    checkPositiveInt('Set2Set', 'processingSteps', processingSteps);
    this.lstm = new LSTM({ inputSize: 2 * inChannels, hiddenSize: inChannels, numLayers: options.numLayers ?? 1, device: options.device, dtype: options.dtype });
  }

  forward(x: Tensor, batch?: Tensor | null, size?: number): Tensor {
    const op = layerName(this);
    const b = checkBatch(op, x, batch, size);
    if (x.rank !== 2 || x.shape[1] !== this.inChannels) throw new RangeError(`${op}: expected x of shape [N, ${this.inChannels}], received ${shapeStr(x.shape)}`);
    const C = this.inChannels;
    return T.tidy(() => {
      const ids = graphIds(x, batch);
      const opts = { dtype: x.dtype, device: x.device };
      const L = this.lstm.numLayers;
      let state = { h0: T.zeros([L, b, C], opts), c0: T.zeros([L, b, C], opts) };
      let qStar = T.zeros([b, 2 * C], opts);
      for (let step = 0; step < this.processingSteps; step++) {
        const r = this.lstm.forward(T.unsqueeze(qStar, 0), state);
        state = { h0: r.hN, c0: r.cN };
        const q = T.reshape(r.output, [b, C]);
        const e = T.sum(T.mul(x, T.indexSelect(q, 0, ids)), { dim: -1, keepdim: true });
        const a = softmax(e, ids, b);
        qStar = T.cat([q, aggregate(T.mul(a, x), ids, b, 'sum')], -1);
      }
      return qStar;
    });
  }

  protected override extraRepr(): string {
    return `${this.inChannels}, ${2 * this.inChannels}, processingSteps=${this.processingSteps}`;
  }
}

/**
 * Attention readout (Li et al.'s gated pooling; PyG's GlobalAttention / AttentionalAggregation):
 * r = Σ_n softmax_graph(gateNn(x))_n · nn(x)_n. gateNn maps x to one score per node (or one per
 * output feature); nn is optional. forward(x, batch?, size?). State: gate_nn.*, nn.*.
 */
export class GlobalAttention extends Module {
  gateNn: Module;
  nn: Module | null;

  constructor(gateNn: Module, nn: Module | null = null) {
    super();
    if (!(gateNn instanceof Module)) throw new TypeError(`GlobalAttention: expected gateNn to be a Module, received ${describe(gateNn)}`);
    if (nn !== null && !(nn instanceof Module)) throw new TypeError(`GlobalAttention: expected nn to be a Module or null, received ${describe(nn)}`);
    this.gateNn = gateNn;
    this.nn = nn;
  }

  forward(x: Tensor, batch?: Tensor | null, size?: number): Tensor {
    const op = layerName(this);
    const b = checkBatch(op, x, batch, size);
    return T.tidy(() => {
      const ids = graphIds(x, batch);
      const gate = this.gateNn.forward(x) as Tensor;
      const h = this.nn ? (this.nn.forward(x) as Tensor) : x;
      if (gate.rank !== 2 || gate.shape[0] !== x.shape[0] || (gate.shape[1] !== 1 && gate.shape[1] !== h.shape[h.rank - 1])) {
        throw new RangeError(`${op}: gateNn must map x to [${x.shape[0]}, 1] or [${x.shape[0]}, ${h.shape[h.rank - 1]}], produced ${shapeStr(gate.shape)}`);
      }
      return aggregate(T.mul(softmax(gate, ids, b), h), ids, b, 'sum');
    });
  }
}

export type JumpingKnowledgeMode = 'cat' | 'max' | 'lstm';

/**
 * Jumping Knowledge (Xu et al.; PyG's JumpingKnowledge): combines the layers' node representations
 * xs[l] [N, C] by concatenation ([N, L·C]), feature-wise max ([N, C]), or LSTM attention over the
 * layers ([N, C]; needs channels and numLayers). State (lstm): lstm.* (bidirectional, hidden
 * (numLayers·channels)/2), att.weight, att.bias.
 */
export class JumpingKnowledge extends Module {
  lstm: LSTM | null = null;
  att: Linear | null = null;

  constructor(readonly mode: JumpingKnowledgeMode, options: FactoryOptions & { channels?: number; numLayers?: number } = {}) {
    super();
    if (!['cat', 'max', 'lstm'].includes(mode)) throw new TypeError(`JumpingKnowledge: mode must be 'cat', 'max' or 'lstm', received '${String(mode)}'`);
    if (mode === 'lstm') {
      const { channels, numLayers } = options;
      checkPositiveInt('JumpingKnowledge', 'channels', channels);
      checkPositiveInt('JumpingKnowledge', 'numLayers', numLayers);
      const hidden = Math.floor((numLayers! * channels!) / 2);
      if (hidden < 1) throw new RangeError(`JumpingKnowledge: numLayers * channels must be at least 2 for mode 'lstm', received ${numLayers! * channels!}`);
      this.lstm = new LSTM({ inputSize: channels!, hiddenSize: hidden, bidirectional: true, batchFirst: true, device: options.device, dtype: options.dtype });
      this.att = new Linear(2 * hidden, 1, options);
    }
  }

  forward(xs: readonly Tensor[]): Tensor {
    const op = layerName(this);
    if (!Array.isArray(xs) || xs.length === 0 || !xs.every((x) => x instanceof T.Tensor)) throw new TypeError(`${op}: expected a non-empty array of node representations [N, C]`);
    const first = xs[0];
    if (this.mode !== 'cat' && xs.some((x) => x.rank !== 2 || x.shape[0] !== first.shape[0] || x.shape[1] !== first.shape[1])) {
      throw new RangeError(`${op}: mode '${this.mode}' needs representations of one shape [N, C], received ${xs.map((x) => shapeStr(x.shape)).join(', ')}`);
    }
    if (this.mode === 'cat' && xs.some((x) => x.rank !== 2 || x.shape[0] !== first.shape[0])) {
      throw new RangeError(`${op}: expected representations [N, C_l] with one N, received ${xs.map((x) => shapeStr(x.shape)).join(', ')}`);
    }
    return T.tidy(() => {
      if (this.mode === 'cat') return T.cat(xs, -1);
      if (this.mode === 'max') return T.amax(T.stack(xs, -1), { dim: -1 });
      if (first.shape[1] !== this.lstm!.inputSize) throw new RangeError(`${op}: expected representations with ${this.lstm!.inputSize} channels, received ${first.shape[1]}`);
      const stacked = T.stack(xs, 1);
      const scores = T.squeeze(this.att!.forward(this.lstm!.forward(stacked).output), -1);
      return T.sum(T.mul(stacked, T.unsqueeze(T.softmax(scores, -1), -1)), { dim: 1 });
    });
  }

  protected override extraRepr(): string {
    return `mode=${this.mode}`;
  }
}
