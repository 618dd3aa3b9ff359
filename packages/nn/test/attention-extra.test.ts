/**
 * MultiheadAttention addBiasKv / addZeroAttn against PyTorch 1.13 (fixtures/gen_attention_extra.py):
 * outputs, attention weights (with the extra key columns), input and parameter gradients; then
 * initialisation, state names and memory.
 */
import { expect, it } from 'vitest';
import * as T from '@tessera/tensor';
import { backward } from '@tessera/autodiff';
import * as nn from '../src/index.js';
import { expectFlatMemory, forEachBackend } from '../../tensor/test/helpers.js';
import { checkAttentionCase, itHasFactories, loadCases, type AttentionCase } from './golden-helpers.js';

const cases = loadCases<AttentionCase>('attention_extra.json');

/** The Tessera counterpart of each case of gen_attention_extra.py, and its forward options. */
const factories: Record<string, [() => nn.MultiheadAttention, nn.AttentionForwardOptions]> = {
  mha_biasKv: [() => new nn.MultiheadAttention(8, 2, { addBiasKv: true }), {}],
  mha_zeroAttn_masks_batchFirst: [() => new nn.MultiheadAttention(8, 2, { addZeroAttn: true, batchFirst: true }), {}],
  mha_biasKv_zeroAttn_perhead: [() => new nn.MultiheadAttention(8, 4, { addBiasKv: true, addZeroAttn: true }), { averageAttnWeights: false }],
  mha_biasKv_kvdim_unbatched_nobias: [() => new nn.MultiheadAttention(6, 3, { addBiasKv: true, kdim: 5, vdim: 4, bias: false }), {}],
};

const tol = { atol: 1e-4, rtol: 1e-4 };

forEachBackend('MultiheadAttention addBiasKv / addZeroAttn match PyTorch 1.13', (device) => {
  itHasFactories(cases, factories);

  for (const c of cases) {
    it(`${c.name}: forward, weights, input and parameter gradients`, async () => {
      const [make, opts] = factories[c.name];
      const m = await make().to(device);
      await checkAttentionCase(m, c, ([q, k, v], masks) => m.forward(q, k, v, { ...opts, attnMask: masks.attn_mask, keyPaddingMask: masks.key_padding_mask }), device, tol);
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
    expectFlatMemory(step, 5);
    x.dispose();
    m.dispose();
  });
});
