/**
 * Optimizers against PyTorch 1.13: 20-step parameter trajectories on a fixed quadratic-plus-quartic
 * problem (fixtures/gen_optimizers.py; LARS and LAMB written there from the papers), parameter
 * groups, state-dict round trips, bad input and memory flatness.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import * as T from '@tessera/tensor';
import { backward } from '@tessera/autodiff';
import * as O from '../src/index.js';
import { forEachBackend } from '../../tensor/test/helpers.js';

interface Case {
  name: string;
  optimizer: string;
  options: Record<string, unknown>;
  groups?: ({ params: number[] } & Record<string, unknown>)[];
  trajectory: number[][];
}
const fixture = JSON.parse(readFileSync(new URL('./fixtures/optimizers.json', import.meta.url), 'utf8')) as { cases: unknown[] };
const problemJson = (fixture.cases[0] as { problem: Record<string, { shape: number[]; data: number[] }> }).problem;
const cases = fixture.cases.slice(1) as Case[];

type Ctor = new (params: O.ParamsArg, options: Record<string, unknown>) => O.Optimizer;
const OPTIMIZERS = O as unknown as Record<string, Ctor>;

/** The fixed problem's constants and fresh parameters on a device. */
function makeProblem(device: T.DeviceName, dtype: 'float32' | 'float64', start?: number[]) {
  const c = (k: string) => T.tensor(problemJson[k].data, { shape: problemJson[k].shape, dtype, device });
  const w0 = start ? start.slice(0, 12) : problemJson.w.data;
  const b0 = start ? start.slice(12) : problemJson.b.data;
  return {
    A: c('A'), C: c('C'), X: c('X'), Y: c('Y'),
    w: T.tensor(w0, { shape: [3, 4], dtype, device }).requiresGrad_(),
    b: T.tensor(b0, { shape: [4], dtype, device }).requiresGrad_(),
  };
}
type Problem = ReturnType<typeof makeProblem>;

/** Fills w.grad and b.grad with the gradient of the fixture's loss. */
function computeGrads(pr: Problem): void {
  const loss = T.tidy(() => {
    const quad = T.sum(T.mul(pr.A, T.square(T.sub(pr.w, pr.C))));
    const quartic = T.add(T.mul(T.sum(T.pow(pr.w, 4)), 0.25), T.mul(T.sum(T.pow(pr.b, 4)), 0.25));
    const fit = T.mul(T.mean(T.square(T.sub(T.add(T.matmul(pr.X, pr.w), pr.b), pr.Y))), 0.5);
    return T.add(T.add(quad, quartic), fit);
  });
  backward(loss);
  loss.dispose();
}

function build(c: Pick<Case, 'optimizer' | 'options' | 'groups'>, pr: Problem): O.Optimizer {
  const params = [pr.w, pr.b];
  const arg = c.groups ? c.groups.map((g) => ({ ...g, params: g.params.map((i) => params[i]) })) : params;
  return new OPTIMIZERS[c.optimizer](arg, c.options);
}

async function values(pr: Problem): Promise<number[]> {
  return [...Array.from(await pr.w.data()), ...Array.from(await pr.b.data())].map(Number);
}

async function run(opt: O.Optimizer, pr: Problem, steps: number): Promise<number[][]> {
  const rows: number[][] = [];
  for (let s = 0; s < steps; s++) {
    opt.zeroGrad();
    computeGrads(pr);
    opt.step();
    rows.push(await values(pr));
  }
  return rows;
}

function expectRows(got: number[][], want: number[][], tol: number, label: string): void {
  const bad: string[] = [];
  want.forEach((row, s) => row.forEach((e, i) => {
    const a = got[s][i];
    if (!(Math.abs(a - e) <= tol + tol * Math.abs(e)) && bad.length < 5) bad.push(`step ${s + 1} [${i}]: got ${a}, expected ${e}`);
  }));
  expect(bad, label).toEqual([]);
}

function disposeProblem(pr: Problem, opt?: O.Optimizer): void {
  opt?.zeroGrad();
  for (const s of opt?.state.values() ?? []) T.dispose(Object.values(s));
  T.dispose(Object.values(pr));
}

// Every case runs on both backends: float64 on cpu (tolerance 1e-7), float32 on webgpu against the
// same float64 goldens (tolerance 1e-4, far above float32 rounding over 20 steps of this problem).
forEachBackend('optimizer trajectories', (device) => {
  const dtype = device === 'cpu' ? 'float64' : 'float32';
  const tol = device === 'cpu' ? 1e-7 : 1e-4;
  it('covers all twelve optimizers', () => {
    expect(new Set(cases.map((c) => c.optimizer)).size).toBe(12);
  });
  for (const c of cases) {
    it(c.name, async () => {
      const pr = makeProblem(device, dtype);
      const opt = build(c, pr);
      expectRows(await run(opt, pr, c.trajectory.length), c.trajectory, tol, c.name);
      disposeProblem(pr, opt);
    });
  }
});

forEachBackend('optimizer memory', (device) => {
  const dtype = device === 'cpu' ? 'float64' : 'float32';
  const variants: [string, Record<string, unknown>][] = [
    ['SGD', { lr: 0.01, momentum: 0.9, nesterov: true }], ['Adam', { lr: 0.01, amsgrad: true }], ['AdamW', { lr: 0.01 }],
    ['Adamax', {}], ['NAdam', {}], ['RAdam', {}], ['RMSprop', { centered: true, momentum: 0.5 }], ['Adagrad', {}],
    ['Adadelta', {}], ['Rprop', {}], ['LARS', { lr: 0.1 }], ['LAMB', { weightDecay: 0.01 }],
  ];
  for (const [name, options] of device === 'cpu' ? variants : variants.filter(([n]) => ['SGD', 'AdamW', 'Rprop', 'LAMB'].includes(n))) {
    it(`${name}: tensors and bytes flat over 100 steps`, async () => {
      const pr = makeProblem(device, dtype);
      const opt = build({ optimizer: name, options }, pr);
      await run(opt, pr, 2);
      const before = T.memory();
      for (let s = 0; s < 100; s++) {
        opt.zeroGrad();
        computeGrads(pr);
        opt.step();
      }
      await pr.w.data();
      const after = T.memory();
      expect([after.tensors, after.bytes]).toEqual([before.tensors, before.bytes]);
      expect((await values(pr)).every(Number.isFinite)).toBe(true);
      disposeProblem(pr, opt);
    });
  }
});

describe('optimizer state dicts [cpu]', () => {
  const roundTrip = ['SGD', 'Adam', 'NAdam', 'RMSprop', 'Rprop', 'LAMB'];
  for (const name of roundTrip) {
    const c = cases.find((x) => x.optimizer === name && x.options.momentum !== undefined) ?? cases.find((x) => x.optimizer === name)!;
    it(`${c.name}: training continues identically after loadStateDict`, async () => {
      const first = makeProblem('cpu', 'float64');
      const opt = build(c, first);
      const head = await run(opt, first, 10);
      const sd = opt.stateDict();
      // The snapshot is a copy: stepping the original afterwards leaves it unchanged.
      const snapshot = JSON.stringify(Object.values(sd.state).map((s) => Object.values(s).map((v) => (typeof v === 'number' ? v : Array.from(v.dataSync())))));
      await run(opt, first, 1);
      expect(JSON.stringify(Object.values(sd.state).map((s) => Object.values(s).map((v) => (typeof v === 'number' ? v : Array.from(v.dataSync())))))).toBe(snapshot);

      const second = makeProblem('cpu', 'float64', head[9]);
      const resumed = build({ ...c, options: { ...c.options, lr: 123 } }, second);
      resumed.loadStateDict(sd);
      expect(resumed.paramGroups.map((g) => g.lr)).toEqual(opt.paramGroups.map((g) => g.lr));
      expectRows(await run(resumed, second, 10), c.trajectory.slice(10), 1e-9, c.name);
      T.dispose(Object.values(sd.state).flatMap((s) => Object.values(s)));
      disposeProblem(first, opt);
      disposeProblem(second, resumed);
    });
  }

  it('paramGroups hold options and parameter indices', () => {
    const pr = makeProblem('cpu', 'float64');
    const opt = new O.SGD([{ params: [pr.w] }, { params: [pr.b], lr: 0.5 }], { lr: 0.1, momentum: 0.9 });
    const sd = opt.stateDict();
    expect(sd.paramGroups.map((g) => [g.params, g.lr, g.momentum])).toEqual([[[0], 0.1, 0.9], [[1], 0.5, 0.9]]);
    expect(sd.state).toEqual({});
    disposeProblem(pr, opt);
  });

  it('loadStateDict rejects a different group or parameter layout', () => {
    const pr = makeProblem('cpu', 'float64');
    const two = new O.Adam([{ params: [pr.w] }, { params: [pr.b] }]);
    const one = new O.Adam([pr.w, pr.b]);
    expect(() => one.loadStateDict(two.stateDict())).toThrow(/Adam.loadStateDict: the state dict has 2 parameter groups, this optimizer has 1/);
    const onlyW = new O.Adam([pr.w]);
    expect(() => onlyW.loadStateDict(one.stateDict())).toThrow(/group 0 has 2 parameters in the state dict, 1 in this optimizer/);
    expect(() => one.loadStateDict({ state: { 5: { step: 1 } }, paramGroups: one.stateDict().paramGroups })).toThrow(/parameter index 5/);
    expect(() => one.loadStateDict({} as never)).toThrow(/expected \{ state, paramGroups \}/);
    disposeProblem(pr);
  });
});

describe('optimizer steps [cpu]', () => {
  it('skips parameters without a gradient and keeps no state for them', async () => {
    const pr = makeProblem('cpu', 'float64');
    const opt = new O.Adam([pr.w, pr.b], { lr: 0.1 });
    computeGrads(pr);
    pr.b.grad!.dispose();
    pr.b.grad = null;
    opt.step();
    expect(Array.from(pr.b.dataSync())).toEqual(problemJson.b.data);
    expect(Array.from(pr.w.dataSync())).not.toEqual(problemJson.w.data);
    expect(opt.state.has(pr.b)).toBe(false);
    disposeProblem(pr, opt);
  });

  it('does not record the update in the autodiff graph', () => {
    const pr = makeProblem('cpu', 'float64');
    const opt = new O.SGD([pr.w, pr.b], { lr: 0.1, momentum: 0.9 });
    computeGrads(pr);
    opt.step();
    expect([pr.w.isLeaf, pr.w.gradFn, pr.b.gradFn]).toEqual([true, null, null]);
    disposeProblem(pr, opt);
  });

  it('rejects a gradient of the wrong shape', () => {
    const pr = makeProblem('cpu', 'float64');
    const opt = new O.SGD([pr.w], { lr: 0.1 });
    pr.w.grad = T.zeros([4], { dtype: 'float64', device: 'cpu' });
    expect(() => opt.step()).toThrow(/SGD.step: gradient of shape \[4\] float64 on cpu does not match its parameter's \[3, 4\]/);
    disposeProblem(pr, opt);
  });
});

describe('optimizer bad input', () => {
  const pr = makeProblem('cpu', 'float64');
  const cases: [string, () => unknown, RegExp][] = [
    ['negative lr', () => new O.Adam([pr.w], { lr: -1 }), /Adam: lr must be a non-negative number, received -1/],
    ['negative lr in a group', () => new O.SGD([{ params: [pr.w] }, { params: [pr.b], lr: -0.1 }], { lr: 0.1 }), /SGD: lr must be a non-negative number, received -0.1 \(group 1\)/],
    ['missing lr', () => new O.SGD([pr.w], {} as never), /SGD: lr is required/],
    ['missing LARS lr', () => new O.LARS([pr.w], {} as never), /LARS: lr is required/],
    ['non-parameter', () => new O.SGD([T.zeros([2])], { lr: 0.1 }), /SGD: parameters must be leaf tensors with requiresGrad set/],
    ['not a tensor', () => new O.Adam([{ params: [pr.w, 3 as never] }]), /Adam: parameter group 0 holds something that is not a Tensor/],
    ['duplicate param', () => new O.Adam([pr.w, pr.w]), /Adam: a parameter appears more than once/],
    ['duplicate across groups', () => new O.AdamW([{ params: [pr.w] }, { params: [pr.b, pr.w] }]), /AdamW: a parameter appears more than once \(group 1\)/],
    ['empty params', () => new O.RMSprop([]), /RMSprop: expected a non-empty array/],
    ['betas out of range', () => new O.Adam([pr.w], { betas: [0.9, 1] }), /Adam: betas must be two numbers in \[0, 1\), received \[0.9,1\]/],
    ['negative weightDecay', () => new O.AdamW([pr.w], { weightDecay: -0.1 }), /AdamW: weightDecay must be a number >= 0, received -0.1/],
    ['nesterov without momentum', () => new O.SGD([pr.w], { lr: 0.1, nesterov: true }), /SGD: nesterov needs momentum > 0 and dampening 0/],
    ['bad etas', () => new O.Rprop([pr.w], { etas: [1.5, 0.5] }), /Rprop: etas must be two numbers, 0 < etaminus < 1 < etaplus/],
    ['bad alpha', () => new O.RMSprop([pr.w], { alpha: 2 }), /RMSprop: alpha must be a number in \[0, 1\), received 2/],
    ['bad rho', () => new O.Adadelta([pr.w], { rho: -1 }), /Adadelta: rho must be a number in \[0, 1\]/],
    ['negative lrDecay', () => new O.Adagrad([pr.w], { lrDecay: -1 }), /Adagrad: lrDecay must be a number >= 0/],
    ['zero trustCoefficient', () => new O.LARS([pr.w], { lr: 1, trustCoefficient: 0 }), /LARS: trustCoefficient must be a number > 0/],
    ['integer parameter', () => new O.SGD([T.zeros([2], { dtype: 'int32' }).requiresGrad_()], { lr: 1 }), /SGD: parameters must be float32 or float64, received int32|requiresGrad/],
  ];
  for (const [label, fn, msg] of cases) it(label, () => expect(fn).toThrow(msg));
});
