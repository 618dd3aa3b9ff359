/**
 * MultiheadAttention addBiasKv / addZeroAttn against PyTorch 1.13 (fixtures/gen_attention_extra.py):
 * outputs, attention weights (with the extra key columns), input and parameter gradients; then
 * initialisation, state names and memory.
 */
import { readFileSync } from 'node:fs';
import { expect, it } from 'vitest';
import * as T from '@tessera/tensor';
import { backward } from '@tessera/autodiff';
import * as nn from '../src/index.js';
import { expectClose, forEachBackend, fromFixture, fixtureValues, type FixtureTensor } from '../../tensor/test/helpers.js';

interface Case {
  name: string;
  state: [string, FixtureTensor][];
  inputs: FixtureTensor[];
  masks: Record<string, FixtureTensor>;
  output: FixtureTensor;
  outWeight: FixtureTensor;
  weights: FixtureTensor;
  weightsWeight: FixtureTensor;
  inputGrads: FixtureTensor[];
  paramGrads: [string, FixtureTensor][];
}

const cases = JSON.parse(readFileSync(new URL('./fixtures/attention_extra.json', import.meta.url), 'utf8')).cases as Case[];

/** The Tessera counterpart of each case of gen_attention_extra.py, and its forward options. */
const factories: Record<string, [() => nn.MultiheadAttention, nn.AttentionForwardOptions]> = {
  mha_biasKv: [() => new nn.MultiheadAttention(8, 2, { addBiasKv: true }), {}],
  mha_zeroAttn_masks_batchFirst: [() => new nn.MultiheadAttention(8, 2, { addZeroAttn: true, batchFirst: true }), {}],
  mha_biasKv_zeroAttn_perhead: [() => new nn.MultiheadAttention(8, 4, { addBiasKv: true, addZeroAttn: true }), { averageAttnWeights: false }],
  mha_biasKv_kvdim_unbatched_nobias: [() => new nn.MultiheadAttention(6, 3, { addBiasKv: true, kdim: 5, vdim: 4, bias: false }), {}],
};

const tol = { atol: 1e-4, rtol: 1e-4 };

forEachBackend('MultiheadAttention addBiasKv / addZeroAttn match PyTorch 1.13', (device) => {
  it('has a factory for every fixture case', () => {
    expect(cases.map((c) => c.name).filter((n) => !factories[n])).toEqual([]);
  });

  for (const c of cases) {
    it(`${c.name}: forward, weights, input and parameter gradients`, async () => {
      const [make, opts] = factories[c.name];
      const m = await make().to(device);
      const dict = Object.fromEntries(c.state.map(([k, t]) => [k, fromFixture(t, device)]));
      m.loadStateDict(dict);
      T.dispose(Object.values(dict));
      const [q, k, v] = c.inputs.map((f) => fromFixture(f, device).requiresGrad_());
      const masks = Object.fromEntries(Object.entries(c.masks).map(([n, f]) => [n, fromFixture(f, device)]));
      const { output, weights } = m.forward(q, k, v, { ...opts, attnMask: masks.attn_mask, keyPaddingMask: masks.key_padding_mask });
      await expectClose(output, fixtureValues(c.output), { ...tol, shape: c.output.shape });
      await expectClose(weights!, fixtureValues(c.weights), { ...tol, shape: c.weights.shape });
      const [w, ww] = [fromFixture(c.outWeight, device), fromFixture(c.weightsWeight, device)];
      const loss = T.tidy(() => T.add(T.sum(T.mul(output, w)), T.sum(T.mul(weights!, ww))));
      backward(loss);
      for (const [i, x] of [q, k, v].entries()) await expectClose(x.grad!, fixtureValues(c.inputGrads[i]), { ...tol, shape: c.inputGrads[i].shape });
      const params = new Map(m.namedParameters());
      expect([...params.keys()]).toEqual(c.paramGrads.map(([n]) => n));
      for (const [n, g] of c.paramGrads) {
        expect(params.get(n)!.grad, `grad of ${n}`).not.toBeNull();
        await expectClose(params.get(n)!.grad!, fixtureValues(g), { ...tol, shape: g.shape });
      }
      T.dispose([q, k, v, ...Object.values(masks), output, weights!, w, ww, loss]);
      m.dispose();
    });
  }

  it('bias_k / bias_v: PyTorch names and shapes, Xavier-normal init, flat memory', async () => {
    T.manualSeed(21);
    const m = await new nn.MultiheadAttention(64, 4, { addBiasKv: true, addZeroAttn: true }).to(device);
    expect(Object.keys(m.stateDict())).toEqual(['in_proj_weight', 'in_proj_bias', 'bias_k', 'bias_v', 'out_proj.weight', 'out_proj.bias']);
    expect(m.biasK!.shape).toEqual([1, 1, 64]);
    // xavier_normal_ of [1, 1, E]: fanIn = fanOut = E, std = sqrt(2 / (2E)).
    const vals = Array.from(await m.biasK!.data());
    const std = Math.sqrt(vals.reduce((a, b) => a + b * b, 0) / vals.length);
    expect(std).toBeGreaterThan(0.6 / 8);
    expect(std).toBeLessThan(1.4 / 8);
    const x = T.randn([5, 2, 64], { device });
    const step = () => {
      const { output, weights } = m.forward(x, x, x);
      expect(weights!.shape).toEqual([2, 5, 7]);
      const loss = T.sum(output);
      backward(loss);
      T.dispose([output, weights!, loss]);
      m.zeroGrad();
    };
    step();
    const before = T.memory();
    for (let i = 0; i < 5; i++) step();
    const after = T.memory();
    expect([after.tensors, after.bytes]).toEqual([before.tensors, before.bytes]);
    x.dispose();
    m.dispose();
  });
});
