import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import * as T from '@tessera/tensor';
import {
  CosineAnnealingLR,
  CosineAnnealingWarmRestarts,
  ExponentialLR,
  LambdaLR,
  LinearLR,
  LRScheduler,
  MultiStepLR,
  OneCycleLR,
  Optimizer,
  ReduceLROnPlateau,
  SequentialLR,
  StepLR,
  SWALR,
} from '../src/index.js';

/** An optimizer whose step does nothing: the schedules only touch paramGroups[i].lr. */
class NoopOptimizer extends Optimizer<{ lr: number; momentum?: number }> {
  step(): void {}
}

interface Case {
  name: string;
  op: string;
  params: {
    lrs: number[];
    options: Record<string, unknown>;
    momentum: number;
    sequential?: { schedulers: [string, Record<string, unknown>][]; milestones: number[] };
    metrics?: number[];
    expectedMomentum?: number[][];
  };
  expected: number[][];
}

const cases = (JSON.parse(readFileSync(new URL('./fixtures/schedules.json', import.meta.url), 'utf8')) as { cases: Case[] }).cases;

const LAMBDAS: Record<string, (e: number) => number> = { pow095: (e) => 0.95 ** e, inverse: (e) => 1 / (1 + e) };

function optimizer(lrs: number[], momentum = 0): NoopOptimizer {
  const groups = lrs.map((lr) => ({ params: [T.zeros([1]).requiresGrad_()], lr }));
  return new NoopOptimizer(groups, momentum ? { lr: lrs[0], momentum } : { lr: lrs[0] });
}

function build(opt: Optimizer, kind: string, o: any): LRScheduler {
  switch (kind) {
    case 'StepLR': return new StepLR(opt, o);
    case 'MultiStepLR': return new MultiStepLR(opt, o);
    case 'ExponentialLR': return new ExponentialLR(opt, o);
    case 'CosineAnnealingLR': return new CosineAnnealingLR(opt, o);
    case 'CosineAnnealingWarmRestarts': return new CosineAnnealingWarmRestarts(opt, o);
    case 'LinearLR': return new LinearLR(opt, o);
    case 'LambdaLR': return new LambdaLR(opt, { lrLambda: (o.lambdas as string[]).map((n) => LAMBDAS[n]) });
    case 'OneCycleLR': return new OneCycleLR(opt, o);
    case 'SWALR': return new SWALR(opt, o);
    default: throw new Error(`unknown schedule ${kind}`);
  }
}

function schedule(c: Case, opt: NoopOptimizer): LRScheduler | ReduceLROnPlateau {
  if (c.op === 'SequentialLR') {
    const seq = c.params.sequential!;
    return new SequentialLR(opt, { schedulers: seq.schedulers.map(([k, o]) => build(opt, k, o)), milestones: seq.milestones });
  }
  if (c.op === 'ReduceLROnPlateau') return new ReduceLROnPlateau(opt, c.params.options);
  return build(opt, c.op, c.params.options);
}

function advance(s: LRScheduler | ReduceLROnPlateau, c: Case, i: number): void {
  if (s instanceof ReduceLROnPlateau) s.step(c.params.metrics![i]);
  else s.step();
}

function expectLrs(got: number[], want: number[], where: string): void {
  expect(got.length, where).toBe(want.length);
  got.forEach((g, j) => expect(Math.abs(g - want[j]), `${where} group ${j}: got ${g}, want ${want[j]}`).toBeLessThanOrEqual(1e-12 + 1e-9 * Math.abs(want[j])));
}

describe('schedules: golden learning rates from PyTorch 1.13 (100 steps)', () => {
  for (const c of cases) {
    it(`${c.op} ${c.name}`, () => {
      const opt = optimizer(c.params.lrs, c.params.momentum);
      const s = schedule(c, opt);
      expectLrs(opt.paramGroups.map((g) => g.lr), c.expected[0], 'after construction');
      expectLrs(s.getLastLr(), c.expected[0], 'getLastLr after construction');
      for (let i = 0; i < c.expected.length - 1; i++) {
        opt.step();
        advance(s, c, i);
        expectLrs(opt.paramGroups.map((g) => g.lr), c.expected[i + 1], `step ${i + 1}`);
        expectLrs(s.getLastLr(), c.expected[i + 1], `getLastLr at step ${i + 1}`);
        if (c.params.expectedMomentum) expectLrs(opt.paramGroups.map((g) => g.momentum as number), c.params.expectedMomentum[i + 1], `momentum at step ${i + 1}`);
      }
    });
  }
});

describe('schedules: state dicts', () => {
  for (const c of cases) {
    it(`${c.op} ${c.name}: stop at step 37, save, resume in a fresh schedule (through JSON)`, () => {
      const opt = optimizer(c.params.lrs, c.params.momentum);
      const s = schedule(c, opt);
      for (let i = 0; i < 37; i++) advance(s, c, i);
      const saved = JSON.parse(JSON.stringify(s.stateDict())) as Record<string, unknown>;
      // A fresh optimizer and schedule, with the saved group lrs (as an optimizer state dict would restore them).
      const opt2 = optimizer(c.params.lrs, c.params.momentum);
      const s2 = schedule(c, opt2);
      opt2.paramGroups.forEach((g, i) => Object.assign(g, { ...opt.paramGroups[i], params: g.params }));
      s2.loadStateDict(saved);
      expect(s2.getLastLr()).toEqual(s.getLastLr());
      for (let i = 37; i < c.expected.length - 1; i++) {
        advance(s2, c, i);
        expectLrs(opt2.paramGroups.map((g) => g.lr), c.expected[i + 1], `resumed step ${i + 1}`);
      }
    });
  }

  it('LambdaLR leaves its functions out of the state dict', () => {
    const s = new LambdaLR(optimizer([0.1]), { lrLambda: (e) => 1 / (1 + e) });
    expect(Object.keys(s.stateDict())).not.toContain('lrLambdas');
  });

  it('ReduceLROnPlateau: best = Infinity survives JSON (as null)', () => {
    const s = new ReduceLROnPlateau(optimizer([0.1]));
    const s2 = new ReduceLROnPlateau(optimizer([0.1]));
    s2.loadStateDict(JSON.parse(JSON.stringify(s.stateDict())) as Record<string, unknown>);
    expect(s2.best).toBe(Infinity);
  });
});

describe('schedules: behaviour', () => {
  it('CosineAnnealingWarmRestarts.step(epoch) accepts fractional epochs (closed form)', () => {
    const opt = optimizer([1]);
    const s = new CosineAnnealingWarmRestarts(opt, { T0: 4, TMult: 2, etaMin: 0 });
    s.step(5.5); // cycle 1 (length 8) started at epoch 4
    expect(opt.paramGroups[0].lr).toBeCloseTo((1 + Math.cos((Math.PI * 1.5) / 8)) / 2, 12);
    expect(s.lastEpoch).toBe(5);
  });

  it('step(epoch) uses the closed form', () => {
    const opt = optimizer([1]);
    const s = new StepLR(opt, { stepSize: 3, gamma: 0.5 });
    s.step(7);
    expect(opt.paramGroups[0].lr).toBe(0.25);
  });

  it('LinearLR chains with a change of the lr made by hand, as PyTorch', () => {
    const opt = optimizer([1]);
    const s = new LinearLR(opt, { startFactor: 0.5, totalIters: 2 });
    opt.paramGroups[0].lr = 2; // e.g. another schedule or the user
    s.step();
    expect(opt.paramGroups[0].lr).toBeCloseTo(2 * (0.75 / 0.5), 12);
  });

  it('OneCycleLR with Adam-style betas cycles betas[0]', () => {
    class BetaOpt extends Optimizer<{ lr: number; betas: [number, number] }> {
      step(): void {}
    }
    const opt = new BetaOpt([T.zeros([1]).requiresGrad_()], { lr: 0.1, betas: [0.9, 0.999] });
    const s = new OneCycleLR(opt, { maxLr: 1, totalSteps: 10 });
    expect(opt.paramGroups[0].betas).toEqual([0.95, 0.999]);
    s.step();
    s.step(); // the peak, at step pctStart * totalSteps - 1 = 2
    expect(opt.paramGroups[0].lr).toBeCloseTo(1, 12);
    expect(opt.paramGroups[0].betas).toEqual([0.85, 0.999]);
  });

  it('OneCycleLR throws past totalSteps', () => {
    const s = new OneCycleLR(optimizer([0.1]), { maxLr: 1, totalSteps: 3, cycleMomentum: false });
    for (let i = 0; i < 3; i++) s.step();
    expect(() => s.step()).toThrow(/OneCycleLR.step: stepped 5 times, but totalSteps is 3/);
  });
});

describe('schedules: bad inputs', () => {
  const opt = () => optimizer([0.1]);
  it.each([
    ['StepLR without an optimizer', () => new StepLR({} as Optimizer, { stepSize: 1 }), /StepLR: expected an Optimizer, received Object/],
    ['StepLR stepSize 0', () => new StepLR(opt(), { stepSize: 0 }), /StepLR: stepSize must be a positive integer, received 0/],
    ['MultiStepLR negative milestone', () => new MultiStepLR(opt(), { milestones: [-1] }), /MultiStepLR: each milestone must be a non-negative integer, received -1/],
    ['ExponentialLR gamma NaN', () => new ExponentialLR(opt(), { gamma: NaN }), /ExponentialLR: gamma must be a finite number, received NaN/],
    ['CosineAnnealingLR TMax 1.5', () => new CosineAnnealingLR(opt(), { TMax: 1.5 }), /CosineAnnealingLR: TMax must be a positive integer, received 1.5/],
    ['CosineAnnealingWarmRestarts TMult 0', () => new CosineAnnealingWarmRestarts(opt(), { T0: 2, TMult: 0 }), /TMult must be an integer >= 1, received 0/],
    ['LinearLR startFactor 0', () => new LinearLR(opt(), { startFactor: 0 }), /LinearLR: startFactor must be in \(0, 1\], received 0/],
    ['LambdaLR wrong count', () => new LambdaLR(opt(), { lrLambda: [(e) => e, (e) => e] }), /LambdaLR: expected 1 lrLambda functions \(one per parameter group\), received 2/],
    ['LambdaLR returning NaN', () => new LambdaLR(opt(), { lrLambda: () => NaN }), /LambdaLR: lrLambda 0 returned NaN at epoch 0/],
    ['OneCycleLR no length', () => new OneCycleLR(opt(), { maxLr: 1 }), /OneCycleLR: give either totalSteps or both epochs and stepsPerEpoch/],
    ['OneCycleLR bad strategy', () => new OneCycleLR(opt(), { maxLr: 1, totalSteps: 5, annealStrategy: 'exp' as 'cos' }), /annealStrategy must be 'cos' or 'linear', received exp/],
    ['OneCycleLR cycleMomentum without momentum', () => new OneCycleLR(opt(), { maxLr: 1, totalSteps: 5 }), /OneCycleLR: cycleMomentum needs an optimizer with a momentum or betas option/],
    ['OneCycleLR maxLr per group count', () => new OneCycleLR(opt(), { maxLr: [1, 2], totalSteps: 5, cycleMomentum: false }), /OneCycleLR: expected 1 values of maxLr \(one per parameter group\), received 2/],
    ['SequentialLR milestones count', () => { const o = opt(); return new SequentialLR(o, { schedulers: [new StepLR(o, { stepSize: 1 })], milestones: [3] }); }, /SequentialLR: expected 0 milestones for 1 schedulers, received 1/],
    ['SequentialLR other optimizer', () => new SequentialLR(opt(), { schedulers: [new StepLR(opt(), { stepSize: 1 })], milestones: [] }), /SequentialLR: schedulers\[0\] drives another optimizer/],
    ['ReduceLROnPlateau mode', () => new ReduceLROnPlateau(opt(), { mode: 'up' as 'min' }), /ReduceLROnPlateau: mode must be 'min' or 'max', received up/],
    ['ReduceLROnPlateau factor 1', () => new ReduceLROnPlateau(opt(), { factor: 1 }), /ReduceLROnPlateau: factor must be in \[0, 1\), received 1/],
    ['ReduceLROnPlateau NaN metric', () => new ReduceLROnPlateau(opt()).step(NaN), /ReduceLROnPlateau.step: metric must be a number \(not NaN\), received NaN/],
    ['SWALR negative annealEpochs', () => new SWALR(opt(), { swaLr: 0.1, annealEpochs: -1 }), /SWALR: annealEpochs must be a non-negative integer, received -1/],
    ['resuming without initialLr', () => new StepLR(opt(), { stepSize: 1, lastEpoch: 4 }), /StepLR: resuming at lastEpoch 4 needs paramGroups\[0\].initialLr/],
    ['loadStateDict with a foreign key', () => new StepLR(opt(), { stepSize: 1 }).loadStateDict({ TMax: 3 }), /StepLR.loadStateDict: unknown key 'TMax'/],
  ])('%s', (_name, fn, message) => {
    expect(fn).toThrow(message);
  });
});
