import { describe, expect, it } from 'vitest';
import * as T from '@tessera/tensor';
import * as nn from '../src/index.js';
import { expectClose, forEachBackend } from '../../tensor/test/helpers.js';
import { checkRecurrentCase, expectFlatLstmMemory, itHasFactories, loadCases, type RecurrentCase } from './golden-helpers.js';

const cases = loadCases<RecurrentCase>('recurrent.json');

/** The Tessera counterpart of each case in gen_recurrent.py, and how its outputs are listed. */
type Run = (m: nn.Module, xs: T.Tensor[], lengths: number[] | undefined) => T.Tensor[];
const cell: Run = (m, xs) => [m.forward(...xs) as T.Tensor];
const lstmCell: Run = (m, xs) => {
  const r = (m as nn.LSTMCell).forward(xs[0], xs.length > 1 ? { h: xs[1], c: xs[2] } : undefined);
  return [r.h, r.c];
};
const seq: Run = (m, xs, lengths) => {
  const r = (m as nn.RNN).forward(xs[0], xs[1], lengths);
  return [r.output, r.hN];
};
const lstm: Run = (m, xs, lengths) => {
  const r = (m as nn.LSTM).forward(xs[0], xs.length > 1 ? { h0: xs[1], c0: xs[2] } : undefined, lengths);
  return [r.output, r.hN, r.cN];
};
const factories: Record<string, [() => nn.Module, Run]> = {
  RNNCell_tanh: [() => new nn.RNNCell(3, 4), cell],
  RNNCell_relu_nobias: [() => new nn.RNNCell(3, 4, { bias: false, nonlinearity: 'relu' }), cell],
  LSTMCell: [() => new nn.LSTMCell(3, 4), lstmCell],
  GRUCell: [() => new nn.GRUCell(3, 4), cell],
  RNN: [() => new nn.RNN({ inputSize: 3, hiddenSize: 4 }), seq],
  RNN_relu_2layer: [() => new nn.RNN({ inputSize: 3, hiddenSize: 4, numLayers: 2, nonlinearity: 'relu' }), seq],
  LSTM: [() => new nn.LSTM({ inputSize: 3, hiddenSize: 4 }), lstm],
  LSTM_2layer_bidir: [() => new nn.LSTM({ inputSize: 3, hiddenSize: 4, numLayers: 2, bidirectional: true }), lstm],
  LSTM_batchFirst_packed: [() => new nn.LSTM({ inputSize: 3, hiddenSize: 4, batchFirst: true, bidirectional: true }), lstm],
  GRU: [() => new nn.GRU({ inputSize: 3, hiddenSize: 4 }), seq],
  GRU_2layer_bidir_batchFirst: [() => new nn.GRU({ inputSize: 3, hiddenSize: 4, numLayers: 2, bidirectional: true, batchFirst: true }), seq],
  GRU_packed: [() => new nn.GRU({ inputSize: 3, hiddenSize: 4, numLayers: 2 }), seq],
  RNN_packed_bidir: [() => new nn.RNN({ inputSize: 3, hiddenSize: 4, bidirectional: true }), seq],
};

const tol = { atol: 5e-5, rtol: 2e-4 };

forEachBackend('recurrent layers match PyTorch 1.13', (device) => {
  itHasFactories(cases, factories);

  for (const c of cases) {
    it(`${c.name}: outputs, input and parameter gradients`, async () => {
      const [make, run] = factories[c.name];
      const m = await make().to(device);
      await checkRecurrentCase(m, c, (xs, lengths) => run(m, xs, lengths), device, tol);
      m.dispose();
    });
  }

  describe('without golden files', () => {
    it('initialises from U(±1/√hiddenSize) with PyTorch names and shapes', () => {
      const m = new nn.GRU({ inputSize: 3, hiddenSize: 16, numLayers: 2, bidirectional: true, bias: false, device });
      const names = m.namedParameters().map(([k, p]) => `${k}:${p.shape.join('x')}`);
      expect(names).toEqual([
        'weight_ih_l0:48x3', 'weight_hh_l0:48x16', 'weight_ih_l0_reverse:48x3', 'weight_hh_l0_reverse:48x16',
        'weight_ih_l1:48x32', 'weight_hh_l1:48x16', 'weight_ih_l1_reverse:48x32', 'weight_hh_l1_reverse:48x16',
      ]);
      m.dispose();
    });

    it('init bounds', async () => {
      const m = new nn.LSTM({ inputSize: 5, hiddenSize: 25, device });
      for (const p of m.parameters()) {
        const v = await p.data();
        expect(Math.max(...Array.from(v, Math.abs))).toBeLessThanOrEqual(0.2);
        expect(Math.max(...Array.from(v, Math.abs))).toBeGreaterThan(0.15);
      }
      m.dispose();
    });

    it('unbatched input gives unbatched outputs', () => {
      const m = new nn.LSTM({ inputSize: 3, hiddenSize: 4, numLayers: 2, device });
      const x = T.randn([5, 3], { device });
      const r = m.forward(x);
      expect(r.output.shape).toEqual([5, 4]);
      expect(r.hN.shape).toEqual([2, 4]);
      expect(r.cN.shape).toEqual([2, 4]);
      T.dispose([x, r.output, r.hN, r.cN]);
      m.dispose();
    });

    it('rejects bad inputs with clear errors', () => {
      const m = new nn.GRU({ inputSize: 3, hiddenSize: 4, numLayers: 2, device });
      const x = T.zeros([5, 2, 3], { device });
      const bad = T.zeros([5, 2, 2], { device });
      const h0 = T.zeros([1, 2, 4], { device });
      expect(() => m.forward(bad)).toThrow(/GRU.*expected input of shape \[seq, batch, 3\].*received \[5, 2, 2\]/);
      expect(() => m.forward(x, h0)).toThrow(/expected h0 of shape \[2, 2, 4\], received \[1, 2, 4\]/);
      expect(() => m.forward(x, undefined, [5, 6])).toThrow(/lengths must hold 2 integers in \[1, 5\]/);
      expect(() => m.forward(x, undefined, [5])).toThrow(/lengths/);
      expect(() => new nn.LSTMCell(3, 4).forward(bad)).toThrow(/expected input of shape \[batch, 3\]/);
      expect(() => new nn.RNNCell(3, 4, { device }).forward(T.zeros([2, 3], { device }), h0)).toThrow(/expected h of shape \[2, 4\], received \[1, 2, 4\]/);
      expect(() => new nn.RNN({ inputSize: 3, hiddenSize: 4, nonlinearity: 'sigmoid' as 'tanh' })).toThrow(/nonlinearity/);
      expect(() => new nn.LSTM({ inputSize: 0, hiddenSize: 4 })).toThrow(/inputSize must be a positive integer/);
      expect(() => new nn.GRU({ inputSize: 3, hiddenSize: 4, dropout: 2 })).toThrow(/dropout must be in \[0, 1\]/);
      T.dispose([x, bad, h0]);
      m.dispose();
    });

    it('dropout acts between layers in training only', async () => {
      const m = new nn.LSTM({ inputSize: 3, hiddenSize: 4, numLayers: 2, dropout: 0.5, device }).eval();
      const x = T.randn([4, 2, 3], { device });
      const a = m.forward(x);
      const b = m.forward(x);
      await expectClose(a.output, b.output);
      m.train();
      const d = m.forward(x);
      const diff = await T.sum(T.abs(T.sub(d.output, a.output))).data();
      expect(diff[0]).toBeGreaterThan(0);
      T.dispose([x, a, b, d]);
      m.dispose();
    });

    it('memory stays flat over 20 forward+backward steps', () => {
      const m = new nn.LSTM({ inputSize: 3, hiddenSize: 4, numLayers: 2, bidirectional: true, dropout: 0.2, device });
      expectFlatLstmMemory(m, device, 20);
      m.dispose();
    });
  });
});
