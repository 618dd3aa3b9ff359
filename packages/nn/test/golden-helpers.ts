/**
 * Shared steps of the tests that replay PyTorch 1.13 golden cases (fixtures/gen_*.py): load a case
 * file, load a case's state into the module, check the parameter gradients, and replay the
 * recurrent and attention cases.
 */
import { readFileSync } from 'node:fs';
import { expect, it } from 'vitest';
import * as T from '@tessera/tensor';
import { backward } from '@tessera/autodiff';
import type * as nn from '../src/index.js';
import { expectClose, expectFlatMemory, fromFixture, fixtureValues, type FixtureTensor } from '../../tensor/test/helpers.js';

export interface Tolerance {
  atol: number;
  rtol: number;
}

/** The `cases` of fixtures/<file>. */
export function loadCases<C>(file: string): C[] {
  return (JSON.parse(readFileSync(new URL(`./fixtures/${file}`, import.meta.url), 'utf8')) as { cases: C[] }).cases;
}

/** A test that every fixture case has a Tessera counterpart in `factories`. */
export function itHasFactories(cases: { name: string }[], factories: Record<string, unknown>): void {
  it('has a factory for every fixture case', () => {
    expect(cases.map((c) => c.name).filter((n) => !factories[n])).toEqual([]);
  });
}

/** Loads a case's state dict into `m` (on `device`). */
export function loadFixtureState(m: nn.Module, state: [string, FixtureTensor][], device: T.DeviceName): void {
  const dict = Object.fromEntries(state.map(([k, t]) => [k, fromFixture(t, device)]));
  m.loadStateDict(dict);
  T.dispose(Object.values(dict));
}

/** The module's parameters are named as PyTorch's, in order, and have PyTorch's gradients. */
export async function expectParamGrads(m: nn.Module, paramGrads: [string, FixtureTensor][], tol: Tolerance): Promise<void> {
  const params = new Map(m.namedParameters());
  expect([...params.keys()]).toEqual(paramGrads.map(([k]) => k));
  for (const [k, g] of paramGrads) {
    expect(params.get(k)!.grad, `grad of ${k}`).not.toBeNull();
    await expectClose(params.get(k)!.grad!, fixtureValues(g), { ...tol, shape: g.shape });
  }
}

/** A recurrent-layer case of gen_recurrent.py / gen_recurrent_proj.py. */
export interface RecurrentCase {
  name: string;
  state: [string, FixtureTensor][];
  inputs: FixtureTensor[];
  lengths: number[] | null;
  outputs: FixtureTensor[];
  outWeights: FixtureTensor[];
  inputGrads: FixtureTensor[];
  paramGrads: [string, FixtureTensor][];
}

/**
 * Replays a recurrent case: `run` calls the module on the inputs and lists its outputs; they, the
 * input gradients and the parameter gradients of Σ outputs[i]·outWeights[i] must match PyTorch.
 */
export async function checkRecurrentCase(
  m: nn.Module,
  c: RecurrentCase,
  run: (xs: T.Tensor[], lengths: number[] | undefined) => T.Tensor[],
  device: T.DeviceName,
  tol: Tolerance,
): Promise<void> {
  loadFixtureState(m, c.state, device);
  const xs = c.inputs.map((f) => fromFixture(f, device).requiresGrad_());
  const outs = run(xs, c.lengths ?? undefined);
  expect(outs.length).toBe(c.outputs.length);
  for (const [i, f] of c.outputs.entries()) await expectClose(outs[i], fixtureValues(f), { ...tol, shape: f.shape });
  const ws = c.outWeights.map((f) => fromFixture(f, device));
  const loss = T.tidy(() => outs.map((o, i) => T.sum(T.mul(o, ws[i]))).reduce((a, b) => T.add(a, b)));
  backward(loss);
  for (const [i, g] of c.inputGrads.entries()) await expectClose(xs[i].grad!, fixtureValues(g), { ...tol, shape: g.shape });
  await expectParamGrads(m, c.paramGrads, tol);
  T.dispose([...xs, ...outs, ...ws, loss]);
}

/** A memory-flatness check of an LSTM trained on packed sequences of lengths [6, 2, 4]. */
export function expectFlatLstmMemory(m: nn.LSTM, device: T.DeviceName, steps: number): void {
  const x = T.randn([6, 3, 3], { device });
  expectFlatMemory(() => {
    const r = m.forward(x, undefined, [6, 2, 4]);
    const loss = T.tidy(() => T.add(T.sum(r.output), T.add(T.sum(r.hN), T.sum(r.cN))));
    backward(loss);
    T.dispose([r, loss]);
    m.zeroGrad();
  }, steps);
  x.dispose();
}

/** An attention-module case of gen_attention.py / gen_attention_extra.py (weights null when the module returns none). */
export interface AttentionCase {
  name: string;
  state: [string, FixtureTensor][];
  inputs: FixtureTensor[];
  masks: Record<string, FixtureTensor>;
  output: FixtureTensor;
  outWeight: FixtureTensor;
  weights: FixtureTensor | null;
  weightsWeight: FixtureTensor | null;
  inputGrads: FixtureTensor[];
  paramGrads: [string, FixtureTensor][];
}

/**
 * Replays an attention case: `run` calls the module on the inputs and masks (named as in PyTorch);
 * the output, the attention weights, and the input and parameter gradients of
 * sum(output * outWeight) (+ sum(weights * weightsWeight)) must match PyTorch.
 */
export async function checkAttentionCase(
  m: nn.Module,
  c: AttentionCase,
  run: (inputs: T.Tensor[], masks: Record<string, T.Tensor>) => { output: T.Tensor; weights: T.Tensor | null },
  device: T.DeviceName,
  tol: Tolerance,
): Promise<void> {
  loadFixtureState(m, c.state, device);
  const inputs = c.inputs.map((f) => fromFixture(f, device).requiresGrad_());
  const masks = Object.fromEntries(Object.entries(c.masks).map(([k, f]) => [k, fromFixture(f, device)]));
  const { output, weights } = run(inputs, masks);
  await expectClose(output, fixtureValues(c.output), { ...tol, shape: c.output.shape });
  expect(weights === null).toBe(c.weights === null);
  if (weights && c.weights) await expectClose(weights, fixtureValues(c.weights), { ...tol, shape: c.weights.shape });
  const w = fromFixture(c.outWeight, device);
  const ww = c.weightsWeight ? fromFixture(c.weightsWeight, device) : null;
  const loss = T.tidy(() => {
    const l = T.sum(T.mul(output, w));
    return weights && ww ? T.add(l, T.sum(T.mul(weights, ww))) : l;
  });
  backward(loss);
  for (const [i, g] of c.inputGrads.entries()) await expectClose(inputs[i].grad!, fixtureValues(g), { ...tol, shape: g.shape });
  await expectParamGrads(m, c.paramGrads, tol);
  T.dispose([...inputs, ...Object.values(masks), output, w, loss]);
  if (weights) weights.dispose();
  if (ww) ww.dispose();
}
