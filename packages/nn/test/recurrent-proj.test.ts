/**
 * LSTM projSize against PyTorch 1.13's proj_size (fixtures/gen_recurrent_proj.py): outputs, input
 * and parameter gradients (weight_hr_l{k}{_reverse} included), plus names, shapes and errors.
 */
import { describe, expect, it } from 'vitest';
import * as T from '@tessera/tensor';
import * as nn from '../src/index.js';
import { forEachBackend } from '../../tensor/test/helpers.js';
import { checkRecurrentCase, expectFlatLstmMemory, itHasFactories, loadCases, type RecurrentCase } from './golden-helpers.js';

const cases = loadCases<RecurrentCase>('recurrent_proj.json');

/** The Tessera counterpart of each case of gen_recurrent_proj.py. */
const factories: Record<string, () => nn.LSTM> = {
  LSTM_proj: () => new nn.LSTM({ inputSize: 3, hiddenSize: 5, projSize: 2 }),
  LSTM_proj_2layer_bidir: () => new nn.LSTM({ inputSize: 3, hiddenSize: 5, numLayers: 2, bidirectional: true, projSize: 3 }),
  LSTM_proj_2layer_bidir_batchFirst_packed: () => new nn.LSTM({ inputSize: 3, hiddenSize: 4, numLayers: 2, bidirectional: true, batchFirst: true, projSize: 2 }),
  LSTM_proj_nobias_unbatched: () => new nn.LSTM({ inputSize: 3, hiddenSize: 4, projSize: 1, bias: false }),
};

const tol = { atol: 5e-5, rtol: 2e-4 };

forEachBackend('LSTM projSize matches PyTorch 1.13', (device) => {
  itHasFactories(cases, factories);

  for (const c of cases) {
    it(`${c.name}: outputs, input and parameter gradients`, async () => {
      const m = await factories[c.name]().to(device);
      await checkRecurrentCase(m, c, (xs, lengths) => {
        const r = m.forward(xs[0], xs.length > 1 ? { h0: xs[1], c0: xs[2] } : undefined, lengths);
        return [r.output, r.hN, r.cN];
      }, device, tol);
      m.dispose();
    });
  }

  describe('without golden files', () => {
    it('names, shapes and init bounds as PyTorch', async () => {
      const m = new nn.LSTM({ inputSize: 3, hiddenSize: 16, numLayers: 2, bidirectional: true, projSize: 4, device });
      expect(m.namedParameters().map(([k, p]) => `${k}:${p.shape.join('x')}`)).toEqual([
        'weight_ih_l0:64x3', 'weight_hh_l0:64x4', 'bias_ih_l0:64', 'bias_hh_l0:64', 'weight_hr_l0:4x16',
        'weight_ih_l0_reverse:64x3', 'weight_hh_l0_reverse:64x4', 'bias_ih_l0_reverse:64', 'bias_hh_l0_reverse:64', 'weight_hr_l0_reverse:4x16',
        'weight_ih_l1:64x8', 'weight_hh_l1:64x4', 'bias_ih_l1:64', 'bias_hh_l1:64', 'weight_hr_l1:4x16',
        'weight_ih_l1_reverse:64x8', 'weight_hh_l1_reverse:64x4', 'bias_ih_l1_reverse:64', 'bias_hh_l1_reverse:64', 'weight_hr_l1_reverse:4x16',
      ]);
      for (const p of m.parameters()) expect(Math.max(...Array.from(await p.data(), Math.abs))).toBeLessThanOrEqual(0.25);
      const x = T.randn([5, 2, 3], { device });
      const r = m.forward(x);
      expect([r.output.shape, r.hN.shape, r.cN.shape]).toEqual([[5, 2, 8], [4, 2, 4], [4, 2, 16]]);
      T.dispose([x, r]);
      m.dispose();
    });

    it('rejects bad projSize and state shapes', () => {
      expect(() => new nn.LSTM({ inputSize: 3, hiddenSize: 4, projSize: 4 })).toThrow(/LSTM: projSize must be smaller than hiddenSize \(4\), received 4/);
      expect(() => new nn.LSTM({ inputSize: 3, hiddenSize: 4, projSize: -1 })).toThrow(/LSTM: projSize must be a non-negative integer, received -1/);
      expect(() => new nn.GRU({ inputSize: 3, hiddenSize: 4, projSize: 2 })).toThrow(/GRU: projSize is only supported for LSTM, not RNN or GRU/);
      expect(() => new nn.RNN({ inputSize: 3, hiddenSize: 4, projSize: 2 })).toThrow(/RNN: projSize is only supported for LSTM/);
      const m = new nn.LSTM({ inputSize: 3, hiddenSize: 4, projSize: 2, device });
      const x = T.zeros([5, 2, 3], { device });
      const [h2, h4, c4] = [T.zeros([1, 2, 2], { device }), T.zeros([1, 2, 4], { device }), T.zeros([1, 2, 4], { device })];
      expect(() => m.forward(x, { h0: h4, c0: c4 })).toThrow(/LSTM\(3, 4.*projSize=2.*expected h0 of shape \[1, 2, 2\], received \[1, 2, 4\]/);
      expect(() => m.forward(x, { h0: h2, c0: h2 })).toThrow(/expected c0 of shape \[1, 2, 4\], received \[1, 2, 2\]/);
      T.dispose([x, h2, h4, c4]);
      m.dispose();
    });

    it('memory stays flat over 10 forward+backward steps', () => {
      const m = new nn.LSTM({ inputSize: 3, hiddenSize: 4, numLayers: 2, bidirectional: true, projSize: 2, device });
      expectFlatLstmMemory(m, device, 10);
      m.dispose();
    });
  });
});
