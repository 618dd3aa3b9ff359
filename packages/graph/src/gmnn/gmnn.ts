/**
 * GMNN — graph Markov neural networks (Qu, Bengio & Tang, ICML 2019): a conditional random field
 * over the node labels, trained by pseudo-likelihood variational EM with two node models,
 *   qθ(y_n | x)               the inference network (node features → labels), and
 *   pφ(y_n | y_NB(n), x)      the label network (labels of the neighbours → label).
 * Algorithm 1: pre-train q on the gold labels, then repeat
 *   M-step: draw ŷ ~ q (gold labels on labelled nodes), maximise Σ_n log pφ(ŷ_n | ŷ_NB(n));
 *   E-step: maximise Σ_{n ∈ L} log qθ(y_n) + Σ_{n ∈ U} E_{pφ(y_n | ŷ_NB(n))} log qθ(y_n),
 * the second term being −KL(pφ ‖ qθ) up to a constant (the direction the paper's eq. 205 uses),
 * and classify with q.
 */
import * as T from '@tessera/tensor';
import { backward, noGrad } from '@tessera/autodiff';
import { checkEdgeIndex } from '../utils/loop.js';
import { describe, shapeStr } from '../nn/util.js';
import { GMNNGCN, type GMNNNodeModel } from './model.js';

/** How the M-step turns q's probabilities into p's input and targets (the reference code's `draw`). */
export type GMNNDraw = 'sample' | 'smp' | 'max' | 'exp';

/** A snapshot of an optimizer (torch's `state_dict()`), as @tessera/optimize's Optimizer makes them. */
export interface GMNNOptimizerState {
  state: Record<number, Record<string, T.Tensor | number>>;
  paramGroups: unknown[];
}

/**
 * What GMNN needs of an optimizer: @tessera/optimize's optimizers fit. With `stateDict` and
 * `loadStateDict`, the optimizer state is restored with q's weights after pre-training.
 */
export interface GMNNOptimizer {
  zeroGrad(): void;
  step(): void;
  stateDict?(): GMNNOptimizerState;
  loadStateDict?(state: GMNNOptimizerState): void;
  /** Per-parameter state, freed by `GMNN.dispose()` when present (as @tessera/optimize keeps it). */
  state?: Map<T.Tensor, Record<string, T.Tensor | number>>;
}

/** The tensors GMNN reads; a Planetoid `Graph` fits. */
export interface GMNNData {
  /** Node features, float [N, F]. */
  x?: T.Tensor;
  /** int32 [2, E]. */
  edgeIndex?: T.Tensor;
  /** int32 [N]: class indices; only the labelled (trainMask) nodes' values are used for training. */
  y?: T.Tensor;
  /** bool [N]: the labelled nodes. */
  trainMask?: T.Tensor;
  /** bool [N]: used for checkpoint selection (best validation accuracy) when present. */
  valMask?: T.Tensor;
  /** bool [N]: reported, never used for training decisions. */
  testMask?: T.Tensor;
}

export interface GMNNOptions {
  /** Number of classes C. */
  numClasses: number;
  /**
   * Makes the optimizer of each model, e.g. the paper's
   * `(params) => new RMSprop(params, { lr: 0.05, weightDecay: 5e-4 })` from @tessera/optimize.
   */
  optimizer: (params: T.Tensor[], model: 'q' | 'p') => GMNNOptimizer;
  /** qθ: features [N, F] → logits [N, C]. Default: GMNNGCN(F, hiddenChannels, C). */
  q?: GMNNNodeModel;
  /** pφ: labels [N, C] (or [x, labels], [N, F + C], with pWithFeatures) → logits [N, C]. Default: GMNNGCN. */
  p?: GMNNNodeModel;
  /** Hidden width of the default models (default 16). */
  hiddenChannels?: number;
  /** Input dropout of the default models (default 0.5). */
  inputDropout?: number;
  /** Hidden-layer dropout of the default models (default 0, the reference code's Cora setting). */
  dropout?: number;
  /** p also reads the node features: input [x, labels] ("With Attr. in pφ" in the paper's Table 2; default false). */
  pWithFeatures?: boolean;
  /** Pre-training epochs of q on the gold labels (default 100). */
  preEpochs?: number;
  /** Epochs of each M-step and each E-step (default 100). */
  epochs?: number;
  /** EM iterations (default 1). */
  iterations?: number;
  /**
   * M-step labels from q: 'sample' (alias 'smp': one categorical draw per node, the default),
   * 'max' (q's argmax) or 'exp' (q's probabilities themselves).
   */
  draw?: GMNNDraw;
  /** Temperature of q's softmax when drawing the M-step labels: softmax(logits / tau) (default 0.1). */
  tau?: number;
  /**
   * Labelled nodes keep their gold label in p's input and in both EM targets (default true);
   * otherwise they get q's draws and p's predictions like every other node.
   */
  useGold?: boolean;
  /**
   * Weight of a labelled node's term relative to an unlabelled one in the M- and E-step objectives
   * (with useGold; default 1: every node counts once, the paper's O = O_L + O_U).
   */
  goldWeight?: number;
  /** After pre-training, restore q (and its optimizer) at its best validation accuracy (default true; needs valMask). */
  restoreBest?: boolean;
  /** Generator for the label draws and the default models' dropout (default: the global one, `T.manualSeed`). */
  generator?: T.Generator;
  /** Called after every epoch. */
  onEpoch?: (log: GMNNEpochLog) => void;
}

export type GMNNPhase = 'pretrain' | 'mStep' | 'eStep';

/** One epoch: the loss of the model trained in that phase (q, p, q) and its accuracies (NaN without the mask). */
export interface GMNNEpochLog {
  phase: GMNNPhase;
  /** 0 for pre-training, 1, 2, ... for the EM iterations. */
  iteration: number;
  /** 1-based, within the phase. */
  epoch: number;
  loss: number;
  train: number;
  val: number;
  test: number;
  /** `T.memory()` after the epoch. */
  tensors: number;
  bytes: number;
}

/** The epoch a checkpoint rule picked: best validation accuracy (first one on ties), or the last without valMask. */
export interface GMNNCheckpoint {
  iteration: number;
  epoch: number;
  val: number;
  test: number;
}

export interface GMNNResult {
  history: GMNNEpochLog[];
  /** q alone after pre-training (a GCN on the gold labels when q is the default model). */
  pretrain: GMNNCheckpoint | null;
  /** q over all E-step epochs: GMNN's result, as the reference code reports it. */
  q: GMNNCheckpoint | null;
  /** p over all M-step epochs (p reads the gold labels of the labelled nodes). */
  p: GMNNCheckpoint | null;
}

const DRAWS: readonly GMNNDraw[] = ['sample', 'smp', 'max', 'exp'];

type Resolved = Required<Omit<GMNNOptions, 'q' | 'p' | 'generator' | 'onEpoch'>> & Pick<GMNNOptions, 'generator' | 'onEpoch'>;

function nonNegativeInt(name: string, v: unknown): number {
  if (!Number.isInteger(v) || (v as number) < 0) throw new RangeError(`GMNN: ${name} must be a non-negative integer, received ${String(v)}`);
  return v as number;
}

function checkOptions(o: GMNNOptions): Resolved {
  if (!o || typeof o !== 'object') throw new TypeError('GMNN: expected an options object { numClasses, optimizer, ... }');
  if (!Number.isInteger(o.numClasses) || o.numClasses < 2) throw new RangeError(`GMNN: numClasses must be an integer >= 2, received ${String(o.numClasses)}`);
  if (typeof o.optimizer !== 'function') throw new TypeError(`GMNN: optimizer must be a function (params, model) => optimizer, e.g. (params) => new RMSprop(params, { lr: 0.05, weightDecay: 5e-4 }); received ${describe(o.optimizer)}`);
  const r: Resolved = {
    numClasses: o.numClasses,
    optimizer: o.optimizer,
    hiddenChannels: o.hiddenChannels ?? 16,
    inputDropout: o.inputDropout ?? 0.5,
    dropout: o.dropout ?? 0,
    pWithFeatures: o.pWithFeatures ?? false,
    preEpochs: nonNegativeInt('preEpochs', o.preEpochs ?? 100),
    epochs: nonNegativeInt('epochs', o.epochs ?? 100),
    iterations: nonNegativeInt('iterations', o.iterations ?? 1),
    draw: o.draw ?? 'sample',
    tau: o.tau ?? 0.1,
    useGold: o.useGold ?? true,
    goldWeight: o.goldWeight ?? 1,
    restoreBest: o.restoreBest ?? true,
    generator: o.generator,
    onEpoch: o.onEpoch,
  };
  if (!DRAWS.includes(r.draw)) throw new RangeError(`GMNN: draw must be one of ${DRAWS.map((d) => `'${d}'`).join(', ')}, received ${String(r.draw)}`);
  if (!(typeof r.tau === 'number' && r.tau > 0 && Number.isFinite(r.tau))) throw new RangeError(`GMNN: tau must be a finite number > 0, received ${String(r.tau)}`);
  if (!(typeof r.goldWeight === 'number' && r.goldWeight >= 0 && Number.isFinite(r.goldWeight))) throw new RangeError(`GMNN: goldWeight must be a finite number >= 0, received ${String(r.goldWeight)}`);
  for (const k of ['pWithFeatures', 'useGold', 'restoreBest'] as const) if (typeof r[k] !== 'boolean') throw new TypeError(`GMNN: ${k} must be a boolean, received ${String(r[k])}`);
  if (r.generator !== undefined && !(r.generator instanceof T.Generator)) throw new TypeError('GMNN: generator must be a T.Generator');
  if (r.onEpoch !== undefined && typeof r.onEpoch !== 'function') throw new TypeError('GMNN: onEpoch must be a function');
  return r;
}

function checkNodeTensor(name: string, t: unknown, n: number, dtype: 'bool' | 'int32', device: T.DeviceName, required: boolean): T.Tensor | undefined {
  if (t === undefined || t === null) {
    if (required) throw new TypeError(`GMNN: the graph needs ${name} (${dtype} [${n}])`);
    return undefined;
  }
  if (!(t instanceof T.Tensor) || t.dtype !== dtype || t.rank !== 1 || t.shape[0] !== n) throw new TypeError(`GMNN: expected ${name} to be a ${dtype} tensor of shape [${n}] (one entry per node), received ${describe(t)}`);
  if (t.device !== device) throw new Error(`GMNN: ${name} is on ${t.device} but x is on ${device}; move the graph to one device`);
  return t;
}

/** Draws one label per row of `probs` [N, C] (or passes the probabilities through for 'exp'): float [N, C]. */
export function drawLabels(probs: T.Tensor, draw: GMNNDraw = 'sample', options: { generator?: T.Generator } = {}): T.Tensor {
  if (!(probs instanceof T.Tensor) || (probs.dtype !== 'float32' && probs.dtype !== 'float64') || probs.rank !== 2) {
    throw new TypeError(`drawLabels: expected probs to be a float tensor [N, C], received ${describe(probs)}`);
  }
  if (!DRAWS.includes(draw)) throw new RangeError(`drawLabels: draw must be one of ${DRAWS.map((d) => `'${d}'`).join(', ')}, received ${String(draw)}`);
  if (draw === 'exp') return T.cast(probs, probs.dtype);
  return T.tidy(() => {
    const C = probs.shape[1];
    const idx = draw === 'max' ? T.argmax(probs, { dim: 1, keepdim: true }) : T.multinomial(probs, 1, { replacement: true, generator: options.generator });
    return T.cast(T.eq(idx, T.arange(C, undefined, 1, { dtype: 'int32', device: probs.device })), probs.dtype);
  });
}

/**
 * Trains a GMNN on one graph (transductive semi-supervised node classification).
 *
 * ```ts
 * const g = await (await Planetoid.load({ name: 'Cora', transform: new NormalizeFeatures() })).get(0);
 * const gmnn = new GMNN(g, { numClasses: 7, optimizer: (params) => new RMSprop(params, { lr: 0.05, weightDecay: 5e-4 }) });
 * const r = await gmnn.fit();     // pre-training, then `iterations` × (M-step, E-step)
 * r.q?.test;                      // q's test accuracy at its best validation epoch
 * const probs = gmnn.predict();   // q's class probabilities [N, C]
 * gmnn.dispose();
 * ```
 * The steps are also public (`pretrain`, `mStep`, `eStep`) for other schedules. Deterministic under
 * `T.manualSeed` (or `generator`); `T.memory()` stays flat across epochs and EM iterations.
 * `dispose()` frees q, p (also user-supplied ones), the optimizers' state and GMNN's tensors.
 *
 * p is, as in the reference code, a GCN over the label matrix with self-loops, so node n's own
 * label enters p's input (at weight 1 / (d_n + 1), and through 2-hop paths): the paper's
 * pφ(y_n | y_NB(n)) conditions on the neighbours only. Pass a `p` that excludes it to follow eq. 209
 * to the letter.
 */
export class GMNN {
  readonly q: GMNNNodeModel;
  readonly p: GMNNNodeModel;
  readonly options: Readonly<Resolved>;
  readonly numNodes: number;
  readonly #x: T.Tensor;
  readonly #edgeIndex: T.Tensor;
  readonly #y: T.Tensor;
  readonly #trainMask: T.Tensor;
  readonly #optQ: GMNNOptimizer;
  readonly #optP: GMNNOptimizer;
  // Kept tensors built once: gold one-hot [N, C], the masks as floats [N] and as a column [N, 1], EM node weights [N].
  readonly #gold: T.Tensor;
  readonly #trainCol: T.Tensor;
  readonly #masks: { train: T.Tensor; val: T.Tensor | null; test: T.Tensor | null };
  readonly #emWeight: T.Tensor;
  #pLabels: T.Tensor | null = null;
  #pInput: T.Tensor | null = null;
  #labelsChecked = false;
  #disposed = false;

  constructor(graph: GMNNData, options: GMNNOptions) {
    const o = checkOptions(options);
    this.options = o;
    if (!graph || typeof graph !== 'object') throw new TypeError('GMNN: expected a graph { x, edgeIndex, y, trainMask, valMask?, testMask? }');
    const x = graph.x;
    if (!(x instanceof T.Tensor) || (x.dtype !== 'float32' && x.dtype !== 'float64') || x.rank !== 2) throw new TypeError(`GMNN: expected x to be a float tensor [N, F], received ${describe(x)}`);
    const N = x.shape[0];
    const device = x.device;
    checkEdgeIndex('GMNN', graph.edgeIndex, N);
    if (graph.edgeIndex.device !== device) throw new Error(`GMNN: edgeIndex is on ${graph.edgeIndex.device} but x is on ${device}; move the graph to one device`);
    this.numNodes = N;
    this.#x = x;
    this.#edgeIndex = graph.edgeIndex;
    this.#y = checkNodeTensor('y', graph.y, N, 'int32', device, true)!;
    this.#trainMask = checkNodeTensor('trainMask', graph.trainMask, N, 'bool', device, true)!;
    const valMask = checkNodeTensor('valMask', graph.valMask, N, 'bool', device, false);
    const testMask = checkNodeTensor('testMask', graph.testMask, N, 'bool', device, false);

    const C = o.numClasses;
    const F = x.shape[1];
    const dtype = x.dtype;
    const pIn = o.pWithFeatures ? F + C : C;
    const make = (inChannels: number) => new GMNNGCN(inChannels, o.hiddenChannels, C, { inputDropout: o.inputDropout, dropout: o.dropout, generator: o.generator, device, dtype });
    this.q = this.#checkModel('q', options.q) ?? make(F);
    this.p = this.#checkModel('p', options.p) ?? make(pIn);
    this.#optQ = this.#makeOptimizer('q');
    this.#optP = this.#makeOptimizer('p');

    const float = (m: T.Tensor) => T.cast(m, dtype);
    this.#gold = T.keep(T.tidy(() => T.cast(T.eq(T.unsqueeze(this.#y, 1), T.arange(C, undefined, 1, { dtype: 'int32', device })), dtype)));
    this.#trainCol = T.keep(T.unsqueeze(this.#trainMask, 1));
    this.#masks = {
      train: T.keep(float(this.#trainMask)),
      val: valMask ? T.keep(float(valMask)) : null,
      test: testMask ? T.keep(float(testMask)) : null,
    };
    this.#emWeight = T.keep(
      T.tidy(() => (o.useGold ? T.add(T.mul(this.#masks.train, o.goldWeight - 1), 1) : T.ones([N], { dtype, device }))),
    );
  }

  #checkModel(name: 'q' | 'p', m: GMNNNodeModel | undefined): GMNNNodeModel | undefined {
    if (m === undefined) return undefined;
    if (!m || typeof m.forward !== 'function' || typeof m.parameters !== 'function') throw new TypeError(`GMNN: ${name} must be a Module with forward(x, edgeIndex), received ${describe(m)}`);
    return m;
  }

  #makeOptimizer(name: 'q' | 'p'): GMNNOptimizer {
    const model = name === 'q' ? this.q : this.p;
    const opt = this.options.optimizer(model.parameters(), name);
    if (!opt || typeof opt.step !== 'function' || typeof opt.zeroGrad !== 'function') throw new TypeError(`GMNN: optimizer(params, '${name}') must return an optimizer with step() and zeroGrad(), received ${describe(opt)}`);
    return opt;
  }

  #live(op: string): void {
    if (this.#disposed) throw new Error(`GMNN.${op}: this GMNN has been disposed`);
  }

  /** The labelled nodes' classes must lie in [0, numClasses): checked once, by reading y back. */
  async #checkLabels(op: string): Promise<void> {
    if (this.#labelsChecked) return;
    const [y, m] = await Promise.all([this.#y.data(), this.#trainMask.data()]);
    let count = 0;
    for (let i = 0; i < y.length; i++) {
      if (!m[i]) continue;
      count++;
      if (!(y[i] >= 0 && y[i] < this.options.numClasses)) throw new RangeError(`GMNN.${op}: y[${i}] = ${y[i]} on a labelled node is out of range for numClasses = ${this.options.numClasses} (expected 0 <= y < ${this.options.numClasses})`);
    }
    if (count === 0) throw new RangeError(`GMNN.${op}: trainMask selects no node; GMNN needs labelled nodes`);
    this.#labelsChecked = true;
  }

  /** Logits [N, C] of q (on the features) or p (on its current input), shape-checked. */
  #forward(model: 'q' | 'p', input: T.Tensor): T.Tensor {
    const out = (model === 'q' ? this.q : this.p).forward(input, this.#edgeIndex);
    const want = [this.numNodes, this.options.numClasses];
    if (!(out instanceof T.Tensor) || out.rank !== 2 || out.shape[0] !== want[0] || out.shape[1] !== want[1]) {
      const got = out instanceof T.Tensor ? shapeStr(out.shape) : describe(out);
      if (out instanceof T.Tensor) out.dispose();
      throw new RangeError(`GMNN: ${model} returned logits of shape ${got}, expected ${shapeStr(want)} (nodes × numClasses)`);
    }
    return out;
  }

  #input(model: 'q' | 'p', op: string): T.Tensor {
    if (model === 'q') return this.#x;
    if (!this.#pInput) throw new Error(`GMNN.${op}: p has no input yet; run mStep() first (it draws the labels p reads)`);
    return this.#pInput;
  }

  /**
   * Class probabilities [N, C] of q (default; on the features) or p (on the labels the last M-step
   * drew), in eval mode, without gradients: softmax(logits / tau), tau default 1.
   */
  predict(model: 'q' | 'p' = 'q', options: { tau?: number } = {}): T.Tensor {
    this.#live('predict');
    if (model !== 'q' && model !== 'p') throw new RangeError(`GMNN.predict: model must be 'q' or 'p', received ${String(model)}`);
    const tau = options.tau ?? 1;
    if (!(typeof tau === 'number' && tau > 0 && Number.isFinite(tau))) throw new RangeError(`GMNN.predict: tau must be a finite number > 0, received ${String(tau)}`);
    const m = model === 'q' ? this.q : this.p;
    const input = this.#input(model, 'predict');
    const wasTraining = m.training;
    m.eval();
    try {
      return noGrad(() => T.tidy(() => T.softmax(T.div(this.#forward(model, input), tau), 1)));
    } finally {
      m.train(wasTraining);
    }
  }

  /** The input p reads after the last M-step: one-hot labels [N, C] (or [x, labels] with pWithFeatures); null before. */
  get pInput(): T.Tensor | null {
    return this.#pInput;
  }

  /** [train, val, test] accuracy of `model` in eval mode (NaN where the mask is absent), as a tensor [3]. */
  #accuracies(model: 'q' | 'p', input: T.Tensor): T.Tensor {
    const m = model === 'q' ? this.q : this.p;
    m.eval();
    try {
      return noGrad(() =>
        T.tidy(() => {
          const correct = T.cast(T.eq(T.argmax(this.#forward(model, input), { dim: 1 }), this.#y), this.#x.dtype);
          const acc = (mask: T.Tensor | null) => (mask ? T.div(T.sum(T.mul(correct, mask)), T.clamp(T.sum(mask), 1)) : T.full([], NaN, { dtype: this.#x.dtype, device: this.#x.device }));
          return T.stack([acc(this.#masks.train), acc(this.#masks.val), acc(this.#masks.test)]);
        }),
      );
    } finally {
      m.train();
    }
  }

  /** Train and val/test accuracies of q (default) or p, in eval mode. */
  async evaluate(model: 'q' | 'p' = 'q'): Promise<{ train: number; val: number; test: number }> {
    this.#live('evaluate');
    if (model !== 'q' && model !== 'p') throw new RangeError(`GMNN.evaluate: model must be 'q' or 'p', received ${String(model)}`);
    const t = this.#accuracies(model, this.#input(model, 'evaluate'));
    const [train, val, test] = Array.from(await t.data());
    t.dispose();
    return { train, val, test };
  }

  /**
   * One optimisation step of `model` on the weighted soft cross-entropy
   * −Σ_n w_n Σ_c target_nc log softmax(logits)_nc / Σ_n w_n, then its accuracies (one read-back).
   */
  async #epoch(phase: GMNNPhase, iteration: number, epoch: number, model: 'q' | 'p', target: T.Tensor, weight: T.Tensor): Promise<GMNNEpochLog> {
    const opt = model === 'q' ? this.#optQ : this.#optP;
    const input = this.#input(model, phase);
    (model === 'q' ? this.q : this.p).train();
    opt.zeroGrad();
    const loss = T.tidy(() => {
      const logp = T.logSoftmax(this.#forward(model, input), 1);
      const perNode = T.neg(T.sum(T.mul(logp, target), { dim: 1 }));
      const l = T.div(T.sum(T.mul(perNode, weight)), T.sum(weight));
      backward(l);
      return l;
    });
    opt.step();
    opt.zeroGrad();
    const stats = T.tidy(() => T.cat([T.reshape(loss, [1]), this.#accuracies(model, input)]));
    loss.dispose();
    const [l, train, val, test] = Array.from(await stats.data());
    stats.dispose();
    if (!Number.isFinite(l)) throw new Error(`GMNN.${phase}: the loss of ${model} is ${l} at epoch ${epoch} (iteration ${iteration})`);
    return { phase, iteration, epoch, loss: l, train, val, test, tensors: 0, bytes: 0 };
  }

  /** Completes an epoch's log with `T.memory()` once the epoch's bookkeeping is done, and reports it. */
  #emit(log: GMNNEpochLog, logs: GMNNEpochLog[]): void {
    const mem = T.memory();
    log.tensors = mem.tensors;
    log.bytes = mem.bytes;
    logs.push(log);
    this.options.onEpoch?.(log);
  }

  /**
   * Pre-trains q on the gold labels of the labelled nodes for `epochs` (default preEpochs); with
   * restoreBest and a valMask, q and its optimizer go back to the epoch of best validation accuracy.
   */
  async pretrain(epochs: number = this.options.preEpochs): Promise<GMNNEpochLog[]> {
    this.#live('pretrain');
    nonNegativeInt('pretrain epochs', epochs);
    await this.#checkLabels('pretrain');
    const restore = this.options.restoreBest && this.#masks.val !== null;
    const logs: GMNNEpochLog[] = [];
    let bestVal = -Infinity;
    let snapshot: { model: Record<string, T.Tensor>; opt: GMNNOptimizerState | null } | null = null;
    const free = (s: typeof snapshot) => {
      if (!s) return;
      T.dispose(Object.values(s.model));
      if (s.opt) T.dispose(Object.values(s.opt.state).flatMap((st) => Object.values(st).filter(T.isTensor)));
    };
    try {
      for (let e = 1; e <= epochs; e++) {
        const log = await this.#epoch('pretrain', 0, e, 'q', this.#gold, this.#masks.train);
        if (restore && log.val > bestVal) {
          bestVal = log.val;
          free(snapshot);
          snapshot = {
            model: Object.fromEntries(Object.entries(this.q.stateDict()).map(([k, v]) => [k, T.keep(noGrad(() => T.clone(v)))])),
            opt: this.#optQ.stateDict && this.#optQ.loadStateDict ? this.#optQ.stateDict() : null,
          };
        }
        this.#emit(log, logs);
      }
      if (snapshot) {
        this.q.loadStateDict(snapshot.model);
        if (snapshot.opt) this.#optQ.loadStateDict!(snapshot.opt);
      }
    } finally {
      free(snapshot);
    }
    return logs;
  }

  /**
   * M-step: draws labels from q (softmax(logits / tau), by `draw`), puts the gold labels on the
   * labelled nodes (useGold), and trains p for `epochs` to predict those labels from its input.
   */
  async mStep(epochs: number = this.options.epochs, iteration = 1): Promise<GMNNEpochLog[]> {
    this.#live('mStep');
    nonNegativeInt('mStep epochs', epochs);
    await this.#checkLabels('mStep');
    const o = this.options;
    const labels = T.keep(
      T.tidy(() => {
        const drawn = drawLabels(this.predict('q', { tau: o.tau }), o.draw, { generator: o.generator });
        return o.useGold ? T.where(this.#trainCol, this.#gold, drawn) : drawn;
      }),
    );
    const input = o.pWithFeatures ? T.keep(T.cat([this.#x, labels], 1)) : labels;
    this.#dropPInput();
    this.#pLabels = labels;
    this.#pInput = input;
    const logs: GMNNEpochLog[] = [];
    for (let e = 1; e <= epochs; e++) this.#emit(await this.#epoch('mStep', iteration, e, 'p', labels, this.#emWeight), logs);
    return logs;
  }

  /**
   * E-step: p's predictions on the labels the last M-step drew become q's soft targets (the gold
   * labels on the labelled nodes with useGold), and q is trained on them for `epochs`.
   */
  async eStep(epochs: number = this.options.epochs, iteration = 1): Promise<GMNNEpochLog[]> {
    this.#live('eStep');
    nonNegativeInt('eStep epochs', epochs);
    await this.#checkLabels('eStep');
    this.#input('p', 'eStep');
    const target = T.keep(T.tidy(() => (this.options.useGold ? T.where(this.#trainCol, this.#gold, this.predict('p')) : this.predict('p'))));
    try {
      const logs: GMNNEpochLog[] = [];
      for (let e = 1; e <= epochs; e++) this.#emit(await this.#epoch('eStep', iteration, e, 'q', target, this.#emWeight), logs);
      return logs;
    } finally {
      target.dispose();
    }
  }

  /** Pre-training, then `iterations` × (M-step, E-step); checkpoints picked by validation accuracy. */
  async fit(): Promise<GMNNResult> {
    this.#live('fit');
    const history: GMNNEpochLog[] = [];
    history.push(...(await this.pretrain()));
    for (let it = 1; it <= this.options.iterations; it++) {
      history.push(...(await this.mStep(this.options.epochs, it)));
      history.push(...(await this.eStep(this.options.epochs, it)));
    }
    const pick = (phase: GMNNPhase): GMNNCheckpoint | null => {
      const logs = history.filter((l) => l.phase === phase);
      if (!logs.length) return null;
      let best = logs[logs.length - 1];
      if (this.#masks.val) {
        best = logs[0];
        for (const l of logs) if (l.val > best.val) best = l;
      }
      return { iteration: best.iteration, epoch: best.epoch, val: best.val, test: best.test };
    };
    return { history, pretrain: pick('pretrain'), q: pick('eStep'), p: pick('mStep') };
  }

  #dropPInput(): void {
    if (this.#pInput && this.#pInput !== this.#pLabels) this.#pInput.dispose();
    this.#pLabels?.dispose();
    this.#pLabels = null;
    this.#pInput = null;
  }

  /** Frees q, p, the optimizers' state (when they expose `state`) and GMNN's own tensors; the graph stays the caller's. */
  dispose(): void {
    if (this.#disposed) return;
    this.#disposed = true;
    this.#dropPInput();
    for (const opt of [this.#optQ, this.#optP]) {
      if (opt.state) for (const st of opt.state.values()) T.dispose(Object.values(st).filter(T.isTensor));
    }
    this.q.dispose();
    this.p.dispose();
    T.dispose([this.#gold, this.#trainCol, this.#masks.train, this.#emWeight]);
    if (this.#masks.val) this.#masks.val.dispose();
    if (this.#masks.test) this.#masks.test.dispose();
  }
}
