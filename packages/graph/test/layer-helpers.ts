/** Shared by the layer tests: the golden fixture (gen_layers.py), loading it on a device, and checks. */
import { expect } from 'vitest';
import { readFileSync } from 'node:fs';
import * as T from '@tessera/tensor';
import { backward } from '@tessera/autodiff';
import type { Module } from '@tessera/nn';
import { expectClose, fromFixture, fixtureValues, type FixtureTensor } from '../../tensor/test/helpers.js';

export { expectClose, forEachBackend, fromFixture, fixtureValues, type FixtureTensor } from '../../tensor/test/helpers.js';

/**
 * Tensors that earlier tests dropped without disposing are freed by the FinalizationRegistry
 * backstop whenever the GC runs, which can be between a test's awaits: collect them before
 * measuring memory().
 */
export async function settleGarbage(): Promise<void> {
  (globalThis as { gc?: () => void }).gc?.();
  await new Promise((r) => setTimeout(r, 10));
}

export type FixtureValue = FixtureTensor | number | string | null | (string | number)[];

export interface LayerCase {
  name: string;
  state: [string, FixtureTensor][];
  inputs: Record<string, FixtureValue>;
  output: FixtureTensor;
  outWeight: FixtureTensor;
  inputGrads: Record<string, FixtureTensor>;
  paramGrads: [string, FixtureTensor][];
  [extra: string]: unknown;
}

export interface PoolCase {
  name: string;
  inputs: { x: FixtureTensor; batch: FixtureTensor };
  size: number;
  output: FixtureTensor;
  outWeight: FixtureTensor;
  inputGrads: { x: FixtureTensor };
}

export const fixture = JSON.parse(readFileSync(new URL('./fixtures/layers.json', import.meta.url), 'utf8')) as {
  convs: LayerCase[];
  readouts: LayerCase[];
  pools: PoolCase[];
};

export const isFixtureTensor = (v: unknown): v is FixtureTensor => typeof v === 'object' && v !== null && !Array.isArray(v) && 'shape' in v && 'data' in v;

/** The case's inputs on `device`: tensors (float ones named in inputGrads require grad), numbers and nulls as given. */
export type Inputs = Record<string, any>;
export function loadInputs(c: LayerCase, device: T.DeviceName): Inputs {
  const out: Inputs = {};
  for (const [k, v] of Object.entries(c.inputs)) {
    if (!isFixtureTensor(v)) {
      out[k] = v;
      continue;
    }
    const t = fromFixture(v, device);
    if (k in c.inputGrads) t.requiresGrad_();
    out[k] = t;
  }
  return out;
}

export const tol = { atol: 3e-5, rtol: 3e-4 };

/** Loads the case's state dict into `m` on `device` (names are checked: loadStateDict is strict). */
export async function withState<M extends Module>(m: M, state: [string, FixtureTensor][], device: T.DeviceName): Promise<M> {
  await m.to(device);
  const own = new Set(Object.keys(m.stateDict()));
  // A tensor shared by two names (GATv2's shareWeights) is listed once here, under its first name:
  // a name we lack must be a copy of one we have; any other difference fails the strict load.
  const kept = state.filter(([k, t]) => own.has(k) || !state.some(([k2, t2]) => own.has(k2) && JSON.stringify(t2) === JSON.stringify(t)));
  const dict = Object.fromEntries(kept.map(([k, t]) => [k, fromFixture(t, device)]));
  m.loadStateDict(dict);
  T.dispose(Object.values(dict));
  return m;
}

/** Runs backward of sum(out * outWeight) and compares the output and every gradient with the case. */
export async function checkCase(c: LayerCase, m: Module, inputs: Inputs, out: T.Tensor): Promise<void> {
  const device = out.device;
  await expectClose(out, fixtureValues(c.output), { ...tol, shape: c.output.shape });
  const w = fromFixture(c.outWeight, device);
  const loss = T.sum(T.mul(out, w));
  backward(loss);
  for (const [k, g] of Object.entries(c.inputGrads)) {
    const t = inputs[k] as T.Tensor;
    expect(t.grad, `grad of input ${k}`).not.toBeNull();
    await expectClose(t.grad!, fixtureValues(g), { ...tol, shape: g.shape });
  }
  const params = new Map(m.namedParameters());
  for (const [k, g] of c.paramGrads) {
    if (!params.has(k)) continue; // the second name of a shared tensor
    expect(params.get(k)!.grad, `grad of ${k}`).not.toBeNull();
    await expectClose(params.get(k)!.grad!, fixtureValues(g), { ...tol, shape: g.shape });
  }
  expect([...params.keys()].every((k) => c.paramGrads.some(([k2]) => k2 === k)), 'every parameter has a golden gradient').toBe(true);
  T.dispose([w, loss]);
}

/** True when a tensor holds a NaN or an infinity. */
export async function hasNonFinite(t: T.Tensor): Promise<boolean> {
  return Array.from(await t.data()).some((v) => !Number.isFinite(v));
}

/**
 * Relabels nodes: node perm[p] of the original graph becomes node p. Returns the permuted edge index
 * (edge order unchanged) for an int32 [2, E] cpu array.
 */
export function relabel(edges: Int32Array | number[], perm: readonly number[], device: T.DeviceName): T.Tensor {
  const inv = new Array<number>(perm.length);
  perm.forEach((old, p) => (inv[old] = p));
  return T.tensor(Array.from(edges, (v) => inv[v]), { dtype: 'int32', device, shape: [2, edges.length / 2] });
}
