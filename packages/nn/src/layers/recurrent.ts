import * as T from '@tessera/tensor';
import { Module, parameter } from '../module.js';
import { uniform_ } from '../init.js';
import { checkFloatInput, checkPositiveInt, factory, layerName, shapeStr, type FactoryOptions } from './util.js';

/**
 * Recurrent layers as torch.nn.RNN/LSTM/GRU and their cells, built from differentiable tensor ops
 * (the time loop is plain JS), with PyTorch's parameter names, gate order and initialisation.
 */

type Kind = 'RNN_TANH' | 'RNN_RELU' | 'LSTM' | 'GRU';
const GATES: Record<Kind, number> = { RNN_TANH: 1, RNN_RELU: 1, LSTM: 4, GRU: 3 };

interface Weights {
  wIh: T.Tensor;
  wHh: T.Tensor;
  bIh: T.Tensor | null;
  bHh: T.Tensor | null;
  /** LSTM with projSize only: h = (o ⊙ tanh c) W_hrᵀ. */
  wHr?: T.Tensor | null;
}

/** x Wᵀ + b. */
function affine(x: T.Tensor, w: T.Tensor, b: T.Tensor | null): T.Tensor {
  const y = T.matmul(x, T.transpose(w, 0, 1));
  return b ? T.add(y, b) : y;
}

/**
 * One step given the input projection `gi` (x W_ih + b_ih, precomputed for all steps at once):
 * returns the new hidden state (and cell state for LSTM). Gate orders are PyTorch's: LSTM i,f,g,o; GRU r,z,n.
 */
function step(kind: Kind, gi: T.Tensor, h: T.Tensor, c: T.Tensor | null, w: Weights): { h: T.Tensor; c: T.Tensor | null } {
  const gh = affine(h, w.wHh, w.bHh);
  if (kind === 'RNN_TANH') return { h: T.tanh(T.add(gi, gh)), c: null };
  if (kind === 'RNN_RELU') return { h: T.relu(T.add(gi, gh)), c: null };
  if (kind === 'LSTM') {
    const [i, f, g, o] = T.chunk(T.add(gi, gh), 4, -1);
    const c2 = T.add(T.mul(T.sigmoid(f), c!), T.mul(T.sigmoid(i), T.tanh(g)));
    const h2 = T.mul(T.sigmoid(o), T.tanh(c2));
    return { h: w.wHr ? T.matmul(h2, T.transpose(w.wHr, 0, 1)) : h2, c: c2 };
  }
  // GRU: the reset gate multiplies only the hidden part of the candidate (PyTorch's variant).
  const [ir, iz, inn] = T.chunk(gi, 3, -1);
  const [hr, hz, hn] = T.chunk(gh, 3, -1);
  const r = T.sigmoid(T.add(ir, hr));
  const z = T.sigmoid(T.add(iz, hz));
  const n = T.tanh(T.add(inn, T.mul(r, hn)));
  return { h: T.add(n, T.mul(z, T.sub(h, n))), c: null };
}

/** The weights of one layer and direction; `projSize` > 0 (LSTM) projects h to that size with W_hr. */
function makeWeights(kind: Kind, inputSize: number, hiddenSize: number, bias: boolean, options: FactoryOptions, projSize = 0): Weights {
  const g = GATES[kind] * hiddenSize;
  const f = factory(options);
  const w: Weights = {
    wIh: parameter(T.zeros([g, inputSize], f)),
    wHh: parameter(T.zeros([g, projSize > 0 ? projSize : hiddenSize], f)),
    bIh: bias ? parameter(T.zeros([g], f)) : null,
    bHh: bias ? parameter(T.zeros([g], f)) : null,
    wHr: projSize > 0 ? parameter(T.zeros([projSize, hiddenSize], f)) : null,
  };
  // PyTorch initialises every recurrent weight and bias from U(±1/√hiddenSize).
  const bound = 1 / Math.sqrt(hiddenSize);
  for (const t of [w.wIh, w.wHh, w.bIh, w.bHh, w.wHr]) if (t) uniform_(t, { a: -bound, b: bound });
  return w;
}

export interface RNNCellOptions extends FactoryOptions {
  bias?: boolean;
  nonlinearity?: 'tanh' | 'relu';
}

/** Shared checks of the cells: x [batch, inputSize] or [inputSize]; states [batch, hiddenSize] or [hiddenSize]. */
abstract class CellBase extends Module {
  weightIh!: T.Tensor;
  weightHh!: T.Tensor;
  biasIh!: T.Tensor | null;
  biasHh!: T.Tensor | null;

  constructor(readonly inputSize: number, readonly hiddenSize: number) {
    super();
    checkPositiveInt(new.target.name, 'inputSize', inputSize);
    checkPositiveInt(new.target.name, 'hiddenSize', hiddenSize);
  }

  protected init(kind: Kind, bias: boolean, options: FactoryOptions): void {
    const w = makeWeights(kind, this.inputSize, this.hiddenSize, bias, options);
    this.weightIh = w.wIh;
    this.weightHh = w.wHh;
    this.biasIh = w.bIh;
    this.biasHh = w.bHh;
  }

  protected weights(): Weights {
    return { wIh: this.weightIh, wHh: this.weightHh, bIh: this.biasIh, bHh: this.biasHh };
  }

  /** Validates x and a state, returning x as [batch, inputSize] and the state (zeros when absent) as [batch, hiddenSize]. */
  protected prepare(x: T.Tensor, state: T.Tensor | undefined, what: string): { x2: T.Tensor; s: T.Tensor; batched: boolean } {
    checkFloatInput(this, x);
    if ((x.rank !== 1 && x.rank !== 2) || x.shape[x.rank - 1] !== this.inputSize) {
      throw new RangeError(`${layerName(this)}: expected input of shape [batch, ${this.inputSize}] or [${this.inputSize}], received ${shapeStr(x.shape)}`);
    }
    const batched = x.rank === 2;
    const x2 = batched ? x : T.unsqueeze(x, 0);
    const want = batched ? [x.shape[0], this.hiddenSize] : [this.hiddenSize];
    if (state === undefined) return { x2, s: T.zeros([x2.shape[0], this.hiddenSize], { dtype: x.dtype, device: x.device }), batched };
    if (!(state instanceof T.Tensor) || state.rank !== want.length || state.shape.some((d, i) => d !== want[i])) {
      throw new RangeError(`${layerName(this)}: expected ${what} of shape ${shapeStr(want)}, received ${state instanceof T.Tensor ? shapeStr(state.shape) : typeof state}`);
    }
    return { x2, s: batched ? state : T.unsqueeze(state, 0), batched };
  }

  protected override extraRepr(): string {
    return `${this.inputSize}, ${this.hiddenSize}, bias=${this.biasIh !== null}`;
  }
}

/** h' = tanh(x W_ihᵀ + b_ih + h W_hhᵀ + b_hh) (or relu). */
export class RNNCell extends CellBase {
  readonly nonlinearity: 'tanh' | 'relu';

  constructor(inputSize: number, hiddenSize: number, options: RNNCellOptions = {}) {
    super(inputSize, hiddenSize);
    this.nonlinearity = options.nonlinearity ?? 'tanh';
    if (this.nonlinearity !== 'tanh' && this.nonlinearity !== 'relu') throw new TypeError(`RNNCell: nonlinearity must be 'tanh' or 'relu', received '${String(this.nonlinearity)}'`);
    this.init(this.nonlinearity === 'tanh' ? 'RNN_TANH' : 'RNN_RELU', options.bias !== false, options);
  }

  forward(x: T.Tensor, h?: T.Tensor): T.Tensor {
    return T.tidy(() => {
      const { x2, s, batched } = this.prepare(x, h, 'h');
      const w = this.weights();
      const out = step(this.nonlinearity === 'tanh' ? 'RNN_TANH' : 'RNN_RELU', affine(x2, w.wIh, w.bIh), s, null, w).h;
      return batched ? out : T.squeeze(out, 0);
    });
  }
}

/** LSTM cell: returns { h, c }. */
export class LSTMCell extends CellBase {
  constructor(inputSize: number, hiddenSize: number, options: { bias?: boolean } & FactoryOptions = {}) {
    super(inputSize, hiddenSize);
    this.init('LSTM', options.bias !== false, options);
  }

  forward(x: T.Tensor, state?: { h: T.Tensor; c: T.Tensor }): { h: T.Tensor; c: T.Tensor } {
    return T.tidy(() => {
      const a = this.prepare(x, state?.h, 'h');
      const b = this.prepare(x, state?.c, 'c');
      const w = this.weights();
      const r = step('LSTM', affine(a.x2, w.wIh, w.bIh), a.s, b.s, w);
      return a.batched ? { h: r.h, c: r.c! } : { h: T.squeeze(r.h, 0), c: T.squeeze(r.c!, 0) };
    });
  }
}

/** GRU cell (PyTorch's formulation, reset gate applied after the hidden matmul). */
export class GRUCell extends CellBase {
  constructor(inputSize: number, hiddenSize: number, options: { bias?: boolean } & FactoryOptions = {}) {
    super(inputSize, hiddenSize);
    this.init('GRU', options.bias !== false, options);
  }

  forward(x: T.Tensor, h?: T.Tensor): T.Tensor {
    return T.tidy(() => {
      const { x2, s, batched } = this.prepare(x, h, 'h');
      const w = this.weights();
      const out = step('GRU', affine(x2, w.wIh, w.bIh), s, null, w).h;
      return batched ? out : T.squeeze(out, 0);
    });
  }
}

export interface RNNOptions extends FactoryOptions {
  inputSize: number;
  hiddenSize: number;
  numLayers?: number;
  bias?: boolean;
  /** Input and output as [batch, seq, feature] instead of [seq, batch, feature]. */
  batchFirst?: boolean;
  /** Dropout probability on the outputs of every layer but the last, in training only. */
  dropout?: number;
  bidirectional?: boolean;
  /** RNN only. */
  nonlinearity?: 'tanh' | 'relu';
  /**
   * LSTM only: project each hidden state to this size, h_t = W_hr (o_t ⊙ tanh c_t) (weight_hr_l{k},
   * [projSize, hiddenSize]); h0, hN and the output then have projSize features, c0 and cN keep
   * hiddenSize. 0 (default) for none; must be smaller than hiddenSize.
   */
  projSize?: number;
}

export interface RecurrentOutput {
  /** [seq, batch, D * hiddenSize] (D * projSize for a projected LSTM; or batch first); zero past each sequence's length. */
  output: T.Tensor;
  /** [numLayers * D, batch, hiddenSize] (projSize for a projected LSTM): the state at each sequence's last valid step. */
  hN: T.Tensor;
}

/** Lengths per batch element: a number[] / Int32Array, or an int32 tensor on the cpu. */
export type Lengths = readonly number[] | Int32Array | T.Tensor;

abstract class RNNBase extends Module {
  readonly inputSize: number;
  readonly hiddenSize: number;
  readonly numLayers: number;
  readonly batchFirst: boolean;
  readonly dropout: number;
  readonly bidirectional: boolean;
  readonly bias: boolean;
  /** LSTM's projection size (0: none). */
  readonly projSize: number;
  protected readonly kind: Kind;

  constructor(kind: Kind, name: string, options: RNNOptions) {
    super();
    if (typeof options !== 'object' || options === null) throw new TypeError(`${name}: expected an options object { inputSize, hiddenSize, ... }`);
    checkPositiveInt(name, 'inputSize', options.inputSize);
    checkPositiveInt(name, 'hiddenSize', options.hiddenSize);
    const numLayers = options.numLayers ?? 1;
    checkPositiveInt(name, 'numLayers', numLayers);
    const dropout = options.dropout ?? 0;
    if (!(dropout >= 0 && dropout <= 1)) throw new RangeError(`${name}: dropout must be in [0, 1], received ${dropout}`);
    const projSize = options.projSize ?? 0;
    if (projSize !== 0 && kind !== 'LSTM') throw new TypeError(`${name}: projSize is only supported for LSTM, not RNN or GRU`);
    if (!Number.isInteger(projSize) || projSize < 0) throw new RangeError(`${name}: projSize must be a non-negative integer, received ${projSize}`);
    if (projSize >= options.hiddenSize) throw new RangeError(`${name}: projSize must be smaller than hiddenSize (${options.hiddenSize}), received ${projSize}`);
    this.projSize = projSize;
    this.kind = kind;
    this.inputSize = options.inputSize;
    this.hiddenSize = options.hiddenSize;
    this.numLayers = numLayers;
    this.batchFirst = options.batchFirst ?? false;
    this.dropout = dropout;
    this.bidirectional = options.bidirectional ?? false;
    this.bias = options.bias !== false;
    const self = this as unknown as Record<string, unknown>;
    // Properties named weightIhL0, biasHhL1Reverse, weightHrL0, ... so the state names (and their
    // order) are PyTorch's weight_ih_l0, bias_hh_l1_reverse, weight_hr_l0.
    for (let l = 0; l < numLayers; l++) {
      for (let d = 0; d < this.numDirections; d++) {
        const inSize = l === 0 ? this.inputSize : this.outputSize * this.numDirections;
        const w = makeWeights(kind, inSize, this.hiddenSize, this.bias, options, projSize);
        const sfx = `L${l}${d === 1 ? 'Reverse' : ''}`;
        self[`weightIh${sfx}`] = w.wIh;
        self[`weightHh${sfx}`] = w.wHh;
        if (this.bias) {
          self[`biasIh${sfx}`] = w.bIh;
          self[`biasHh${sfx}`] = w.bHh;
        }
        if (w.wHr) self[`weightHr${sfx}`] = w.wHr;
      }
    }
  }

  get numDirections(): number {
    return this.bidirectional ? 2 : 1;
  }

  /** Features of h per direction: projSize when projecting, else hiddenSize. */
  get outputSize(): number {
    return this.projSize > 0 ? this.projSize : this.hiddenSize;
  }

  private weightsOf(l: number, d: number): Weights {
    const self = this as unknown as Record<string, T.Tensor | undefined>;
    const sfx = `L${l}${d === 1 ? 'Reverse' : ''}`;
    return {
      wIh: self[`weightIh${sfx}`]!, wHh: self[`weightHh${sfx}`]!, bIh: self[`biasIh${sfx}`] ?? null, bHh: self[`biasHh${sfx}`] ?? null,
      wHr: self[`weightHr${sfx}`] ?? null,
    };
  }

  private checkState(s: T.Tensor | undefined, what: string, want: number[]): void {
    if (s === undefined) return;
    if (!(s instanceof T.Tensor) || s.rank !== want.length || s.shape.some((d, i) => d !== want[i])) {
      throw new RangeError(`${layerName(this)}: expected ${what} of shape ${shapeStr(want)}, received ${s instanceof T.Tensor ? shapeStr(s.shape) : typeof s}`);
    }
  }

  private readLengths(lengths: Lengths, batch: number, seq: number): number[] {
    let v: number[];
    if (lengths instanceof T.Tensor) {
      if (lengths.dtype !== 'int32' || lengths.rank !== 1) throw new TypeError(`${layerName(this)}: lengths must be a 1-D int32 tensor, received ${lengths.dtype} ${shapeStr(lengths.shape)}`);
      v = Array.from(lengths.dataSync());
    } else v = Array.from(lengths as ArrayLike<number>);
    if (v.length !== batch || v.some((n) => !Number.isInteger(n) || n < 1 || n > seq)) {
      throw new RangeError(`${layerName(this)}: lengths must hold ${batch} integers in [1, ${seq}], received [${v.join(', ')}]`);
    }
    return v;
  }

  /** Runs every layer and direction; `c0` is used (and cN returned) for LSTM only. */
  protected run(x: T.Tensor, h0: T.Tensor | undefined, c0: T.Tensor | undefined, lengths: Lengths | undefined): { output: T.Tensor; hN: T.Tensor; cN: T.Tensor | null } {
    checkFloatInput(this, x);
    if ((x.rank !== 2 && x.rank !== 3) || x.shape[x.rank - 1] !== this.inputSize) {
      const form = this.batchFirst ? '[batch, seq' : '[seq, batch';
      throw new RangeError(`${layerName(this)}: expected input of shape ${form}, ${this.inputSize}] or [seq, ${this.inputSize}], received ${shapeStr(x.shape)}`);
    }
    const batched = x.rank === 3;
    const ld = this.numLayers * this.numDirections;
    const seq = batched && this.batchFirst ? x.shape[1] : x.shape[0];
    const batch = batched ? (this.batchFirst ? x.shape[0] : x.shape[1]) : 1;
    const want = (size: number) => (batched ? [ld, batch, size] : [ld, size]);
    this.checkState(h0, 'h0', want(this.outputSize));
    this.checkState(c0, 'c0', want(this.hiddenSize));
    const lens = lengths === undefined ? null : this.readLengths(lengths, batch, seq);
    return T.tidy(() => {
      const opts = { dtype: x.dtype, device: x.device };
      let layerIn = !batched ? T.unsqueeze(x, 1) : this.batchFirst ? T.transpose(x, 0, 1) : x;
      const stateAt = (s: T.Tensor | undefined, i: number, size: number) =>
        (s === undefined ? T.zeros([batch, size], opts) : batched ? T.select(s, 0, i) : T.unsqueeze(T.select(s, 0, i), 0));
      // [batch, 1] float masks per step: 1 while the step is inside the sequence.
      const masks = lens ? Array.from({ length: seq }, (_, t) => T.tensor(lens.map((n) => (t < n ? 1 : 0)), { ...opts, shape: [batch, 1] })) : null;
      const hs: T.Tensor[] = [];
      const cs: T.Tensor[] = [];
      for (let l = 0; l < this.numLayers; l++) {
        const dirOuts: T.Tensor[] = [];
        for (let d = 0; d < this.numDirections; d++) {
          const w = this.weightsOf(l, d);
          const gi = affine(layerIn, w.wIh, w.bIh);
          let h = stateAt(h0, l * this.numDirections + d, this.outputSize);
          let c = this.kind === 'LSTM' ? stateAt(c0, l * this.numDirections + d, this.hiddenSize) : null;
          const outs: T.Tensor[] = new Array(seq);
          for (let k = 0; k < seq; k++) {
            const t = d === 0 ? k : seq - 1 - k;
            const r = step(this.kind, T.select(gi, 0, t), h, c, w);
            if (masks) {
              // Past a sequence's end the state is carried unchanged and the output is zero (packed-sequence semantics).
              const m = masks[t];
              const keep = T.sub(1, m);
              h = T.add(T.mul(r.h, m), T.mul(h, keep));
              if (c) c = T.add(T.mul(r.c!, m), T.mul(c, keep));
              outs[t] = T.mul(r.h, m);
            } else {
              h = r.h;
              c = r.c;
              outs[t] = r.h;
            }
          }
          dirOuts.push(T.stack(outs, 0));
          hs.push(h);
          if (c) cs.push(c);
        }
        layerIn = dirOuts.length === 1 ? dirOuts[0] : T.cat(dirOuts, -1);
        if (l < this.numLayers - 1 && this.training && this.dropout > 0) {
          const keepMask = T.bernoulli(1 - this.dropout, layerIn.shape, opts);
          layerIn = T.mul(layerIn, T.mul(keepMask, 1 / (1 - this.dropout)));
        }
      }
      const finish = (s: T.Tensor[]) => (batched ? T.stack(s, 0) : T.squeeze(T.stack(s, 0), 1));
      const output = !batched ? T.squeeze(layerIn, 1) : this.batchFirst ? T.contiguous(T.transpose(layerIn, 0, 1)) : layerIn;
      return { output, hN: finish(hs), cN: cs.length ? finish(cs) : null };
    });
  }

  protected override extraRepr(): string {
    const proj = this.projSize > 0 ? `, projSize=${this.projSize}` : '';
    return `${this.inputSize}, ${this.hiddenSize}, numLayers=${this.numLayers}, bias=${this.bias}, batchFirst=${this.batchFirst}, dropout=${this.dropout}, bidirectional=${this.bidirectional}${proj}`;
  }
}

/** Elman RNN: x [seq, batch, inputSize] (or [batch, seq, ...] with batchFirst, or unbatched [seq, inputSize]). */
export class RNN extends RNNBase {
  readonly nonlinearity: 'tanh' | 'relu';

  constructor(options: RNNOptions) {
    const nl = options?.nonlinearity ?? 'tanh';
    if (nl !== 'tanh' && nl !== 'relu') throw new TypeError(`RNN: nonlinearity must be 'tanh' or 'relu', received '${String(nl)}'`);
    super(nl === 'tanh' ? 'RNN_TANH' : 'RNN_RELU', 'RNN', options);
    this.nonlinearity = nl;
  }

  forward(x: T.Tensor, h0?: T.Tensor, lengths?: Lengths): RecurrentOutput {
    const { output, hN } = this.run(x, h0, undefined, lengths);
    return { output, hN };
  }
}

/** LSTM: forward(x, state?: { h0, c0 }, lengths?) -> { output, hN, cN }. */
export class LSTM extends RNNBase {
  constructor(options: RNNOptions) {
    if (options?.nonlinearity !== undefined) throw new TypeError('LSTM: nonlinearity is an RNN option; LSTM has fixed gates');
    super('LSTM', 'LSTM', options);
  }

  forward(x: T.Tensor, state?: { h0: T.Tensor; c0: T.Tensor }, lengths?: Lengths): RecurrentOutput & { cN: T.Tensor } {
    if (state !== undefined && (!(state.h0 instanceof T.Tensor) || !(state.c0 instanceof T.Tensor))) {
      throw new TypeError(`${layerName(this)}: state must be { h0, c0 } with both tensors`);
    }
    const { output, hN, cN } = this.run(x, state?.h0, state?.c0, lengths);
    return { output, hN, cN: cN! };
  }
}

/** GRU with PyTorch's gate formulation. */
export class GRU extends RNNBase {
  constructor(options: RNNOptions) {
    if (options?.nonlinearity !== undefined) throw new TypeError('GRU: nonlinearity is an RNN option; GRU has fixed gates');
    super('GRU', 'GRU', options);
  }

  forward(x: T.Tensor, h0?: T.Tensor, lengths?: Lengths): RecurrentOutput {
    const { output, hN } = this.run(x, h0, undefined, lengths);
    return { output, hN };
  }
}
