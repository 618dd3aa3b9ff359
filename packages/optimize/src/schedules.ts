/**
 * Learning-rate schedules, as torch.optim.lr_scheduler (PyTorch 1.13): each one rewrites
 * `optimizer.paramGroups[i].lr`. Construction performs the first step (epoch 0), then call `step()`
 * once per epoch (or per batch) after `optimizer.step()`.
 *
 * The schedules that PyTorch computes recursively from the current lr (StepLR, ExponentialLR,
 * CosineAnnealingLR, LinearLR, ...) are computed the same way here, so that they compose like
 * PyTorch's when another schedule or the user changes the lr in between, and their values agree
 * with PyTorch's to rounding. `step(epoch)` jumps to an epoch with the closed form, as PyTorch's
 * deprecated `step(epoch)`; SequentialLR uses it to restart a schedule at its milestone.
 */
import { Optimizer, type ParamGroup } from './optimizer.js';

export type SchedulerState = Record<string, unknown>;

function checkOptimizer(name: string, optimizer: unknown): Optimizer {
  if (!(optimizer instanceof Optimizer)) throw new TypeError(`${name}: expected an Optimizer, received ${describe(optimizer)}`);
  return optimizer;
}

function describe(v: unknown): string {
  if (v === null || typeof v !== 'object') return String(v);
  return (v as object).constructor?.name ?? 'object';
}

function checkNumber(name: string, what: string, v: unknown, ok: (x: number) => boolean, expected: string): number {
  if (typeof v !== 'number' || !ok(v)) throw new RangeError(`${name}: ${what} must be ${expected}, received ${String(v)}`);
  return v;
}

const positiveInt = (x: number) => Number.isInteger(x) && x > 0;
const finite = (x: number) => Number.isFinite(x);

/** One value per parameter group: a single number is repeated, an array must match the group count. */
function perGroup(name: string, what: string, v: number | number[], groups: number): number[] {
  const list = Array.isArray(v) ? v : new Array<number>(groups).fill(v);
  if (list.length !== groups) throw new RangeError(`${name}: expected ${groups} values of ${what} (one per parameter group), received ${list.length}`);
  list.forEach((x) => checkNumber(name, what, x, finite, 'a finite number'));
  return [...list];
}

/** The base of the epoch-driven schedules (PyTorch's _LRScheduler). */
export abstract class LRScheduler {
  readonly optimizer: Optimizer;
  /** The lr of each group when the schedule started (its `initialLr`). */
  baseLrs: number[];
  /** The index of the current epoch: 0 right after construction. */
  lastEpoch: number;
  protected stepCount = 0;
  protected lastLr: number[] = [];

  constructor(optimizer: Optimizer, readonly name: string, lastEpoch = -1) {
    this.optimizer = checkOptimizer(name, optimizer);
    checkNumber(name, 'lastEpoch', lastEpoch, (x) => Number.isInteger(x) && x >= -1, 'an integer >= -1');
    const groups = this.optimizer.paramGroups;
    if (lastEpoch === -1) {
      for (const g of groups) if (g.initialLr === undefined) g.initialLr = g.lr;
    } else {
      groups.forEach((g, i) => {
        if (typeof g.initialLr !== 'number') throw new Error(`${name}: resuming at lastEpoch ${lastEpoch} needs paramGroups[${i}].initialLr, which is not set`);
      });
    }
    this.baseLrs = groups.map((g) => g.initialLr as number);
    this.lastEpoch = lastEpoch;
  }

  /** Subclasses call this at the end of their constructor: the step to epoch 0 (lastEpoch + 1). */
  protected initialStep(): void {
    this.stepCount = 0;
    this.step();
  }

  /** The lrs for `lastEpoch`, usually from the groups' current lrs (PyTorch's chainable get_lr). */
  protected abstract computeLr(): number[];

  /** The lrs for `lastEpoch` from the base lrs alone, where the schedule has a closed form. */
  protected closedFormLr(): number[] | null {
    return null;
  }

  /** Advances one epoch; with `epoch`, jumps to that epoch (closed form where there is one). */
  step(epoch?: number): void {
    this.stepCount++;
    let lrs: number[];
    if (epoch === undefined) {
      this.lastEpoch++;
      lrs = this.computeLr();
    } else {
      checkNumber(`${this.name}.step`, 'epoch', epoch, (x) => Number.isInteger(x) && x >= 0, 'a non-negative integer');
      this.lastEpoch = epoch;
      lrs = this.closedFormLr() ?? this.computeLr();
    }
    this.setLrs(lrs);
  }

  protected setLrs(lrs: number[]): void {
    this.optimizer.paramGroups.forEach((g, i) => (g.lr = lrs[i]));
    this.lastLr = this.optimizer.paramGroups.map((g) => g.lr);
  }

  /** The lrs set by the last step, one per group. */
  getLastLr(): number[] {
    return [...this.lastLr];
  }

  protected get groups(): ParamGroup[] {
    return this.optimizer.paramGroups;
  }

  /** Fields that do not go into the state dict (functions, nested schedulers). */
  protected unsaved(): string[] {
    return ['optimizer'];
  }

  /** The schedule's state (everything but the optimizer), as a deep copy. */
  stateDict(): SchedulerState {
    const skip = new Set(this.unsaved());
    const out: SchedulerState = {};
    for (const [k, v] of Object.entries(this)) if (!skip.has(k) && typeof v !== 'function') out[k] = structuredClone(v);
    return out;
  }

  loadStateDict(state: SchedulerState): void {
    if (state === null || typeof state !== 'object') throw new TypeError(`${this.name}.loadStateDict: expected an object from stateDict(), received ${describe(state)}`);
    const skip = new Set(this.unsaved());
    for (const [k, v] of Object.entries(state)) {
      if (skip.has(k)) continue;
      if (!(k in this)) throw new Error(`${this.name}.loadStateDict: unknown key '${k}' (is this state from another schedule?)`);
      (this as Record<string, unknown>)[k] = structuredClone(v);
    }
  }
}

/** lr = baseLr * gamma^floor(epoch / stepSize). */
export class StepLR extends LRScheduler {
  stepSize: number;
  gamma: number;
  constructor(optimizer: Optimizer, options: { stepSize: number; gamma?: number; lastEpoch?: number }) {
    super(optimizer, 'StepLR', options?.lastEpoch);
    this.stepSize = checkNumber('StepLR', 'stepSize', options?.stepSize, positiveInt, 'a positive integer');
    this.gamma = checkNumber('StepLR', 'gamma', options.gamma ?? 0.1, finite, 'a finite number');
    this.initialStep();
  }
  protected computeLr(): number[] {
    if (this.lastEpoch === 0 || this.lastEpoch % this.stepSize !== 0) return this.groups.map((g) => g.lr);
    return this.groups.map((g) => g.lr * this.gamma);
  }
  protected override closedFormLr(): number[] {
    return this.baseLrs.map((b) => b * this.gamma ** Math.floor(this.lastEpoch / this.stepSize));
  }
}

/** Multiplies the lr by gamma at each milestone (a milestone listed k times multiplies by gamma^k). */
export class MultiStepLR extends LRScheduler {
  /** Milestone epoch -> how many times it was listed. */
  milestones: Record<number, number>;
  gamma: number;
  constructor(optimizer: Optimizer, options: { milestones: number[]; gamma?: number; lastEpoch?: number }) {
    super(optimizer, 'MultiStepLR', options?.lastEpoch);
    if (!Array.isArray(options.milestones)) throw new TypeError(`MultiStepLR: milestones must be an array of epochs, received ${String(options.milestones)}`);
    this.milestones = {};
    for (const m of options.milestones) {
      checkNumber('MultiStepLR', 'each milestone', m, (x) => Number.isInteger(x) && x >= 0, 'a non-negative integer');
      this.milestones[m] = (this.milestones[m] ?? 0) + 1;
    }
    this.gamma = checkNumber('MultiStepLR', 'gamma', options.gamma ?? 0.1, finite, 'a finite number');
    this.initialStep();
  }
  protected computeLr(): number[] {
    const k = this.milestones[this.lastEpoch];
    if (k === undefined) return this.groups.map((g) => g.lr);
    return this.groups.map((g) => g.lr * this.gamma ** k);
  }
  protected override closedFormLr(): number[] {
    let passed = 0;
    for (const [m, k] of Object.entries(this.milestones)) if (Number(m) <= this.lastEpoch) passed += k;
    return this.baseLrs.map((b) => b * this.gamma ** passed);
  }
}

/** lr = baseLr * gamma^epoch. */
export class ExponentialLR extends LRScheduler {
  gamma: number;
  constructor(optimizer: Optimizer, options: { gamma: number; lastEpoch?: number }) {
    super(optimizer, 'ExponentialLR', options?.lastEpoch);
    this.gamma = checkNumber('ExponentialLR', 'gamma', options.gamma, finite, 'a finite number');
    this.initialStep();
  }
  protected computeLr(): number[] {
    if (this.lastEpoch === 0) return this.groups.map((g) => g.lr);
    return this.groups.map((g) => g.lr * this.gamma);
  }
  protected override closedFormLr(): number[] {
    return this.baseLrs.map((b) => b * this.gamma ** this.lastEpoch);
  }
}

/**
 * lr = etaMin + (baseLr - etaMin) (1 + cos(pi epoch / TMax)) / 2, computed recursively as PyTorch
 * does; past TMax it rises again (a cosine of period 2 TMax), also as in PyTorch.
 */
export class CosineAnnealingLR extends LRScheduler {
  TMax: number;
  etaMin: number;
  constructor(optimizer: Optimizer, options: { TMax: number; etaMin?: number; lastEpoch?: number }) {
    super(optimizer, 'CosineAnnealingLR', options?.lastEpoch);
    this.TMax = checkNumber('CosineAnnealingLR', 'TMax', options.TMax, positiveInt, 'a positive integer');
    this.etaMin = checkNumber('CosineAnnealingLR', 'etaMin', options.etaMin ?? 0, finite, 'a finite number');
    this.initialStep();
  }
  protected computeLr(): number[] {
    const { lastEpoch: e, TMax: T, etaMin } = this;
    if (e === 0) return this.groups.map((g) => g.lr);
    if (this.stepCount === 1 && e > 0) return this.closedFormLr();
    if ((e - 1 - T) % (2 * T) === 0) return this.groups.map((g, i) => g.lr + ((this.baseLrs[i] - etaMin) * (1 - Math.cos(Math.PI / T))) / 2);
    const ratio = (1 + Math.cos((Math.PI * e) / T)) / (1 + Math.cos((Math.PI * (e - 1)) / T));
    return this.groups.map((g) => ratio * (g.lr - etaMin) + etaMin);
  }
  protected override closedFormLr(): number[] {
    return this.baseLrs.map((b) => this.etaMin + ((b - this.etaMin) * (1 + Math.cos((Math.PI * this.lastEpoch) / this.TMax))) / 2);
  }
}

/** SGDR: cosine annealing restarted every TI epochs, TI = T0, T0 TMult, T0 TMult^2, ... */
export class CosineAnnealingWarmRestarts extends LRScheduler {
  T0: number;
  TMult: number;
  etaMin: number;
  /** The current cycle's length and the (possibly fractional) epochs since its start. */
  TI: number;
  TCur: number;
  constructor(optimizer: Optimizer, options: { T0: number; TMult?: number; etaMin?: number; lastEpoch?: number }) {
    super(optimizer, 'CosineAnnealingWarmRestarts', options?.lastEpoch);
    this.T0 = checkNumber(this.name, 'T0', options.T0, positiveInt, 'a positive integer');
    this.TMult = checkNumber(this.name, 'TMult', options.TMult ?? 1, positiveInt, 'an integer >= 1');
    this.etaMin = checkNumber(this.name, 'etaMin', options.etaMin ?? 0, finite, 'a finite number');
    this.TI = this.T0;
    this.TCur = this.lastEpoch;
    this.initialStep();
  }
  protected computeLr(): number[] {
    return this.baseLrs.map((b) => this.etaMin + ((b - this.etaMin) * (1 + Math.cos((Math.PI * this.TCur) / this.TI))) / 2);
  }
  /** Advances one epoch, or jumps to `epoch`, which may be fractional (epoch + batch / batches). */
  override step(epoch?: number): void {
    this.stepCount++;
    if (epoch === undefined && this.lastEpoch < 0) epoch = 0;
    if (epoch === undefined) {
      epoch = this.lastEpoch + 1;
      this.TCur += 1;
      if (this.TCur >= this.TI) {
        this.TCur -= this.TI;
        this.TI *= this.TMult;
      }
    } else {
      checkNumber(`${this.name}.step`, 'epoch', epoch, (x) => Number.isFinite(x) && x >= 0, 'a non-negative number');
      if (epoch >= this.T0) {
        if (this.TMult === 1) {
          this.TCur = epoch % this.T0;
        } else {
          // The cycle n that contains epoch: T0 (TMult^n - 1) / (TMult - 1) <= epoch.
          const n = Math.floor(Math.log((epoch / this.T0) * (this.TMult - 1) + 1) / Math.log(this.TMult));
          this.TCur = epoch - (this.T0 * (this.TMult ** n - 1)) / (this.TMult - 1);
          this.TI = this.T0 * this.TMult ** n;
        }
      } else {
        this.TI = this.T0;
        this.TCur = epoch;
      }
    }
    this.lastEpoch = Math.floor(epoch);
    this.setLrs(this.computeLr());
  }
}

/** Multiplies the base lr by a factor going linearly from startFactor to endFactor over totalIters epochs. */
export class LinearLR extends LRScheduler {
  startFactor: number;
  endFactor: number;
  totalIters: number;
  constructor(optimizer: Optimizer, options: { startFactor?: number; endFactor?: number; totalIters?: number; lastEpoch?: number } = {}) {
    super(optimizer, 'LinearLR', options.lastEpoch);
    this.startFactor = checkNumber('LinearLR', 'startFactor', options.startFactor ?? 1 / 3, (x) => x > 0 && x <= 1, 'in (0, 1]');
    this.endFactor = checkNumber('LinearLR', 'endFactor', options.endFactor ?? 1, (x) => x >= 0 && x <= 1, 'in [0, 1]');
    this.totalIters = checkNumber('LinearLR', 'totalIters', options.totalIters ?? 5, positiveInt, 'a positive integer');
    this.initialStep();
  }
  protected computeLr(): number[] {
    const { lastEpoch: e, startFactor: s, endFactor: f, totalIters: n } = this;
    if (e === 0) return this.groups.map((g) => g.lr * s);
    if (e > n) return this.groups.map((g) => g.lr);
    // The ratio of consecutive factors, so that it composes with other changes to the lr.
    const ratio = 1 + (f - s) / (n * s + (e - 1) * (f - s));
    return this.groups.map((g) => g.lr * ratio);
  }
  protected override closedFormLr(): number[] {
    const { lastEpoch: e, startFactor: s, endFactor: f, totalIters: n } = this;
    return this.baseLrs.map((b) => b * (s + ((f - s) * Math.min(n, e)) / n));
  }
}

export type LrLambda = (epoch: number) => number;

/** lr = baseLr * lrLambda(epoch), one function for all groups or one per group (not saved in the state dict). */
export class LambdaLR extends LRScheduler {
  lrLambdas: LrLambda[];
  constructor(optimizer: Optimizer, options: { lrLambda: LrLambda | LrLambda[]; lastEpoch?: number }) {
    super(optimizer, 'LambdaLR', options?.lastEpoch);
    const n = this.groups.length;
    const fns = Array.isArray(options.lrLambda) ? options.lrLambda : new Array<LrLambda>(n).fill(options.lrLambda);
    if (fns.length !== n) throw new RangeError(`LambdaLR: expected ${n} lrLambda functions (one per parameter group), received ${fns.length}`);
    fns.forEach((f, i) => {
      if (typeof f !== 'function') throw new TypeError(`LambdaLR: lrLambda ${i} must be a function, received ${describe(f)}`);
    });
    this.lrLambdas = fns;
    this.initialStep();
  }
  protected computeLr(): number[] {
    return this.baseLrs.map((b, i) => {
      const factor = this.lrLambdas[i](this.lastEpoch);
      if (typeof factor !== 'number' || Number.isNaN(factor)) throw new TypeError(`LambdaLR: lrLambda ${i} returned ${String(factor)} at epoch ${this.lastEpoch}; expected a number`);
      return b * factor;
    });
  }
  protected override unsaved(): string[] {
    return ['optimizer', 'lrLambdas'];
  }
}

export interface OneCycleOptions {
  maxLr: number | number[];
  /** The number of steps in the cycle; or give epochs and stepsPerEpoch. */
  totalSteps?: number;
  epochs?: number;
  stepsPerEpoch?: number;
  /** The fraction of the cycle spent increasing the lr (default 0.3). */
  pctStart?: number;
  annealStrategy?: 'cos' | 'linear';
  /** Cycle the optimizer's `momentum` (or betas[0]) inversely to the lr (default true, as PyTorch). */
  cycleMomentum?: boolean;
  baseMomentum?: number | number[];
  maxMomentum?: number | number[];
  /** initialLr = maxLr / divFactor (default 25). */
  divFactor?: number;
  /** minLr = initialLr / finalDivFactor (default 1e4). */
  finalDivFactor?: number;
  /** Up to maxLr, back down to initialLr, then down to minLr (default false: up, then down to minLr). */
  threePhase?: boolean;
  lastEpoch?: number;
}

interface Phase {
  endStep: number;
  startLr: 'initialLr' | 'maxLr';
  endLr: 'initialLr' | 'maxLr' | 'minLr';
  startMomentum: 'maxMomentum' | 'baseMomentum';
  endMomentum: 'maxMomentum' | 'baseMomentum';
}

/** The 1cycle policy (Smith and Topin): one warm-up to maxLr and one annealing, stepped once per batch. */
export class OneCycleLR extends LRScheduler {
  totalSteps: number;
  phases: Phase[];
  annealStrategy: 'cos' | 'linear';
  cycleMomentum: boolean;
  useBeta1: boolean;

  constructor(optimizer: Optimizer, options: OneCycleOptions) {
    const name = 'OneCycleLR';
    const groups = checkOptimizer(name, optimizer).paramGroups;
    const o = options ?? ({} as OneCycleOptions);
    const lastEpoch = o.lastEpoch ?? -1;
    let totalSteps: number;
    if (o.totalSteps !== undefined) totalSteps = checkNumber(name, 'totalSteps', o.totalSteps, positiveInt, 'a positive integer');
    else if (o.epochs !== undefined || o.stepsPerEpoch !== undefined) {
      totalSteps = checkNumber(name, 'epochs', o.epochs, positiveInt, 'a positive integer') * checkNumber(name, 'stepsPerEpoch', o.stepsPerEpoch, positiveInt, 'a positive integer');
    } else throw new TypeError(`${name}: give either totalSteps or both epochs and stepsPerEpoch`);
    const pct = checkNumber(name, 'pctStart', o.pctStart ?? 0.3, (x) => x >= 0 && x <= 1, 'in [0, 1]');
    const strategy = o.annealStrategy ?? 'cos';
    if (strategy !== 'cos' && strategy !== 'linear') throw new TypeError(`${name}: annealStrategy must be 'cos' or 'linear', received ${String(strategy)}`);
    const divFactor = checkNumber(name, 'divFactor', o.divFactor ?? 25, (x) => x > 0 && Number.isFinite(x), 'a positive number');
    const finalDiv = checkNumber(name, 'finalDivFactor', o.finalDivFactor ?? 1e4, (x) => x > 0 && Number.isFinite(x), 'a positive number');
    const maxLrs = perGroup(name, 'maxLr', o.maxLr, groups.length);
    if (lastEpoch === -1) {
      groups.forEach((g, i) => {
        g.initialLr = maxLrs[i] / divFactor;
        g.maxLr = maxLrs[i];
        g.minLr = (g.initialLr as number) / finalDiv;
      });
    }
    const cycleMomentum = o.cycleMomentum ?? true;
    const defaults = optimizer.defaults as Record<string, unknown>;
    const useBeta1 = 'betas' in defaults;
    if (cycleMomentum) {
      if (!('momentum' in defaults) && !useBeta1) throw new Error(`${name}: cycleMomentum needs an optimizer with a momentum or betas option; pass cycleMomentum: false`);
      const maxM = perGroup(name, 'maxMomentum', o.maxMomentum ?? 0.95, groups.length);
      const baseM = perGroup(name, 'baseMomentum', o.baseMomentum ?? 0.85, groups.length);
      if (lastEpoch === -1) {
        groups.forEach((g, i) => {
          setMomentum(g, useBeta1, maxM[i]);
          g.maxMomentum = maxM[i];
          g.baseMomentum = baseM[i];
        });
      }
    }
    super(optimizer, name, lastEpoch);
    this.totalSteps = totalSteps;
    this.annealStrategy = strategy;
    this.cycleMomentum = cycleMomentum;
    this.useBeta1 = useBeta1;
    const up = pct * totalSteps - 1;
    this.phases = o.threePhase
      ? [
          { endStep: up, startLr: 'initialLr', endLr: 'maxLr', startMomentum: 'maxMomentum', endMomentum: 'baseMomentum' },
          { endStep: 2 * pct * totalSteps - 2, startLr: 'maxLr', endLr: 'initialLr', startMomentum: 'baseMomentum', endMomentum: 'maxMomentum' },
          { endStep: totalSteps - 1, startLr: 'initialLr', endLr: 'minLr', startMomentum: 'maxMomentum', endMomentum: 'maxMomentum' },
        ]
      : [
          { endStep: up, startLr: 'initialLr', endLr: 'maxLr', startMomentum: 'maxMomentum', endMomentum: 'baseMomentum' },
          { endStep: totalSteps - 1, startLr: 'maxLr', endLr: 'minLr', startMomentum: 'baseMomentum', endMomentum: 'maxMomentum' },
        ];
    this.initialStep();
  }

  private anneal(start: number, end: number, pct: number): number {
    if (this.annealStrategy === 'linear') return (end - start) * pct + start;
    return end + ((start - end) / 2) * (Math.cos(Math.PI * pct) + 1);
  }

  protected computeLr(): number[] {
    const stepNum = this.lastEpoch;
    if (stepNum > this.totalSteps) throw new RangeError(`OneCycleLR.step: stepped ${stepNum + 1} times, but totalSteps is ${this.totalSteps}`);
    return this.groups.map((g) => {
      let start = 0;
      for (let i = 0; i < this.phases.length; i++) {
        const p = this.phases[i];
        if (stepNum <= p.endStep || i === this.phases.length - 1) {
          const pct = (stepNum - start) / (p.endStep - start);
          if (this.cycleMomentum) setMomentum(g, this.useBeta1, this.anneal(g[p.startMomentum] as number, g[p.endMomentum] as number, pct));
          return this.anneal(g[p.startLr] as number, g[p.endLr] as number, pct);
        }
        start = p.endStep;
      }
      throw new Error('OneCycleLR: unreachable, the last phase always matches');
    });
  }
}

function setMomentum(g: ParamGroup, useBeta1: boolean, m: number): void {
  if (useBeta1) {
    const betas = g.betas as number[];
    g.betas = [m, ...betas.slice(1)];
  } else g.momentum = m;
}

/** Runs `schedulers` one after another, switching at each milestone (where the next one restarts at epoch 0). */
export class SequentialLR extends LRScheduler {
  readonly schedulers: LRScheduler[];
  milestones: number[];
  constructor(optimizer: Optimizer, options: { schedulers: LRScheduler[]; milestones: number[]; lastEpoch?: number }) {
    const { schedulers, milestones } = options ?? ({} as { schedulers: LRScheduler[]; milestones: number[] });
    if (!Array.isArray(schedulers) || schedulers.length === 0) throw new TypeError('SequentialLR: schedulers must be a non-empty array of schedules');
    schedulers.forEach((s, i) => {
      if (!(s instanceof LRScheduler)) throw new TypeError(`SequentialLR: schedulers[${i}] is ${describe(s)}, not a schedule (ReduceLROnPlateau cannot be chained)`);
      if (s.optimizer !== optimizer) throw new Error(`SequentialLR: schedulers[${i}] drives another optimizer`);
    });
    if (!Array.isArray(milestones) || milestones.length !== schedulers.length - 1) {
      throw new RangeError(`SequentialLR: expected ${schedulers.length - 1} milestones for ${schedulers.length} schedulers, received ${Array.isArray(milestones) ? milestones.length : String(milestones)}`);
    }
    milestones.forEach((m, i) => checkNumber('SequentialLR', 'each milestone', m, (x) => Number.isInteger(x) && x > 0 && (i === 0 || x > milestones[i - 1]), 'a positive integer, increasing'));
    // The schedules were built (so every group has its initialLr): resume from there.
    super(optimizer, 'SequentialLR', 0);
    this.schedulers = schedulers;
    this.milestones = [...milestones];
    this.lastEpoch = (options.lastEpoch ?? -1) + 1;
    // Each schedule stepped once when it was built; undo that and start only the first one.
    for (const g of this.groups) g.lr = g.initialLr as number;
    for (const s of schedulers) s.lastEpoch -= 1;
    schedulers[0].step();
    this.lastLr = schedulers[0].getLastLr();
  }
  protected computeLr(): number[] {
    return this.groups.map((g) => g.lr);
  }
  override step(): void {
    this.lastEpoch++;
    let idx = 0;
    while (idx < this.milestones.length && this.milestones[idx] <= this.lastEpoch) idx++;
    const s = this.schedulers[idx];
    if (idx > 0 && this.milestones[idx - 1] === this.lastEpoch) s.step(0);
    else s.step();
    this.lastLr = s.getLastLr();
  }
  protected override unsaved(): string[] {
    return ['optimizer', 'schedulers'];
  }
  override stateDict(): SchedulerState {
    return { ...super.stateDict(), schedulers: this.schedulers.map((s) => s.stateDict()) };
  }
  override loadStateDict(state: SchedulerState): void {
    super.loadStateDict(state);
    const inner = state.schedulers;
    if (!Array.isArray(inner) || inner.length !== this.schedulers.length) throw new Error(`SequentialLR.loadStateDict: expected ${this.schedulers.length} scheduler states`);
    this.schedulers.forEach((s, i) => s.loadStateDict(inner[i] as SchedulerState));
  }
}

/** SWA's schedule: anneals each group's lr to swaLr over annealEpochs ('cos' or 'linear'), then holds it. */
export class SWALR extends LRScheduler {
  annealEpochs: number;
  annealStrategy: 'cos' | 'linear';
  constructor(optimizer: Optimizer, options: { swaLr: number | number[]; annealEpochs?: number; annealStrategy?: 'cos' | 'linear'; lastEpoch?: number }) {
    super(optimizer, 'SWALR', options?.lastEpoch);
    const swaLrs = perGroup('SWALR', 'swaLr', options.swaLr, this.groups.length);
    this.groups.forEach((g, i) => (g.swaLr = swaLrs[i]));
    const s = options.annealStrategy ?? 'cos';
    if (s !== 'cos' && s !== 'linear') throw new TypeError(`SWALR: annealStrategy must be 'cos' or 'linear', received ${String(s)}`);
    this.annealStrategy = s;
    this.annealEpochs = checkNumber('SWALR', 'annealEpochs', options.annealEpochs ?? 10, (x) => Number.isInteger(x) && x >= 0, 'a non-negative integer');
    this.initialStep();
  }
  private alpha(t: number): number {
    return this.annealStrategy === 'linear' ? t : (1 - Math.cos(Math.PI * t)) / 2;
  }
  protected computeLr(): number[] {
    // Recover the lr before annealing from the current one, then anneal it one step further.
    const step = this.annealEpochs === 0 ? Math.max(1, this.stepCount - 1) : this.stepCount - 1;
    const span = Math.max(1, this.annealEpochs);
    const prevAlpha = this.alpha(Math.max(0, Math.min(1, (step - 1) / span)));
    const alpha = this.alpha(Math.max(0, Math.min(1, step / span)));
    return this.groups.map((g) => {
      const swa = g.swaLr as number;
      const prev = prevAlpha === 1 ? swa : (g.lr - prevAlpha * swa) / (1 - prevAlpha);
      return swa * alpha + prev * (1 - alpha);
    });
  }
}

export interface ReduceLROnPlateauOptions {
  /** 'min': the metric should decrease (a loss); 'max': increase (an accuracy). */
  mode?: 'min' | 'max';
  /** lr <- lr * factor on a plateau (default 0.1, must be < 1). */
  factor?: number;
  /** Epochs without improvement tolerated before reducing (default 10). */
  patience?: number;
  /** What counts as an improvement (default 1e-4), relative ('rel') or absolute ('abs'). */
  threshold?: number;
  thresholdMode?: 'rel' | 'abs';
  /** Epochs to wait after a reduction before counting bad epochs again (default 0). */
  cooldown?: number;
  minLr?: number | number[];
  /** Reductions smaller than eps are skipped (default 1e-8). */
  eps?: number;
}

/** Reduces the lr when a metric stops improving; `step(metric)` once per epoch. */
export class ReduceLROnPlateau {
  readonly optimizer: Optimizer;
  mode: 'min' | 'max';
  factor: number;
  patience: number;
  threshold: number;
  thresholdMode: 'rel' | 'abs';
  cooldown: number;
  minLrs: number[];
  eps: number;
  best: number;
  numBadEpochs = 0;
  cooldownCounter = 0;
  lastEpoch = 0;
  protected lastLr: number[];

  constructor(optimizer: Optimizer, options: ReduceLROnPlateauOptions = {}) {
    const name = 'ReduceLROnPlateau';
    this.optimizer = checkOptimizer(name, optimizer);
    const o = options ?? {};
    this.mode = o.mode ?? 'min';
    if (this.mode !== 'min' && this.mode !== 'max') throw new TypeError(`${name}: mode must be 'min' or 'max', received ${String(o.mode)}`);
    this.thresholdMode = o.thresholdMode ?? 'rel';
    if (this.thresholdMode !== 'rel' && this.thresholdMode !== 'abs') throw new TypeError(`${name}: thresholdMode must be 'rel' or 'abs', received ${String(o.thresholdMode)}`);
    this.factor = checkNumber(name, 'factor', o.factor ?? 0.1, (x) => x >= 0 && x < 1, 'in [0, 1)');
    this.patience = checkNumber(name, 'patience', o.patience ?? 10, (x) => Number.isInteger(x) && x >= 0, 'a non-negative integer');
    this.threshold = checkNumber(name, 'threshold', o.threshold ?? 1e-4, (x) => x >= 0 && Number.isFinite(x), 'a non-negative number');
    this.cooldown = checkNumber(name, 'cooldown', o.cooldown ?? 0, (x) => Number.isInteger(x) && x >= 0, 'a non-negative integer');
    this.eps = checkNumber(name, 'eps', o.eps ?? 1e-8, (x) => x >= 0 && Number.isFinite(x), 'a non-negative number');
    this.minLrs = perGroup(name, 'minLr', o.minLr ?? 0, optimizer.paramGroups.length);
    this.best = this.worst();
    this.lastLr = optimizer.paramGroups.map((g) => g.lr);
  }

  private worst(): number {
    return this.mode === 'min' ? Infinity : -Infinity;
  }

  private isBetter(a: number, best: number): boolean {
    const t = this.threshold;
    if (this.mode === 'min') return this.thresholdMode === 'rel' ? a < best * (1 - t) : a < best - t;
    return this.thresholdMode === 'rel' ? a > best * (1 + t) : a > best + t;
  }

  /** Records this epoch's metric (a number: read a tensor with `await t.item()` first). */
  step(metric: number): void {
    if (typeof metric !== 'number' || Number.isNaN(metric)) throw new TypeError(`ReduceLROnPlateau.step: metric must be a number (not NaN), received ${describe(metric)}`);
    this.lastEpoch++;
    if (this.isBetter(metric, this.best)) {
      this.best = metric;
      this.numBadEpochs = 0;
    } else this.numBadEpochs++;
    if (this.cooldownCounter > 0) {
      this.cooldownCounter--;
      this.numBadEpochs = 0; // bad epochs during the cooldown do not count
    }
    if (this.numBadEpochs > this.patience) {
      this.optimizer.paramGroups.forEach((g, i) => {
        const next = Math.max(g.lr * this.factor, this.minLrs[i]);
        if (g.lr - next > this.eps) g.lr = next;
      });
      this.cooldownCounter = this.cooldown;
      this.numBadEpochs = 0;
    }
    this.lastLr = this.optimizer.paramGroups.map((g) => g.lr);
  }

  getLastLr(): number[] {
    return [...this.lastLr];
  }

  /** The state (best is ±Infinity before the first step: JSON writes that as null, which loadStateDict accepts). */
  stateDict(): SchedulerState {
    const out: SchedulerState = {};
    for (const [k, v] of Object.entries(this)) if (k !== 'optimizer') out[k] = structuredClone(v);
    return out;
  }

  loadStateDict(state: SchedulerState): void {
    if (state === null || typeof state !== 'object') throw new TypeError(`ReduceLROnPlateau.loadStateDict: expected an object from stateDict(), received ${describe(state)}`);
    for (const [k, v] of Object.entries(state)) {
      if (k === 'optimizer') continue;
      if (!(k in this)) throw new Error(`ReduceLROnPlateau.loadStateDict: unknown key '${k}'`);
      (this as Record<string, unknown>)[k] = structuredClone(v);
    }
    if (this.best === null) this.best = this.worst();
  }
}
