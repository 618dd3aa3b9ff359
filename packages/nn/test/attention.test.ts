import { describe, expect, it } from 'vitest';
import * as T from '@tessera/tensor';
import { backward } from '@tessera/autodiff';
import * as nn from '../src/index.js';
import { expectClose, forEachBackend } from '../../tensor/test/helpers.js';
import { checkAttentionCase, itHasFactories, loadCases, type AttentionCase } from './golden-helpers.js';

const cases = loadCases<AttentionCase>('attention.json');

type Run = (m: nn.Module, inputs: T.Tensor[], masks: Record<string, T.Tensor>) => { output: T.Tensor; weights: T.Tensor | null };
const mha = (opts: nn.AttentionForwardOptions = {}): Run => (m, [q, k, v], masks) =>
  (m as nn.MultiheadAttention).forward(q, k, v, { ...opts, attnMask: masks.attn_mask, keyPaddingMask: masks.key_padding_mask });
const single: Run = (m, [x], masks) => ({ output: m.forward(x, { srcKeyPaddingMask: masks.src_key_padding_mask }) as T.Tensor, weights: null });

/** The Tessera counterpart of each case of gen_attention.py, and how to call it. */
const factories: Record<string, [() => nn.Module, Run]> = {
  mha_basic: [() => new nn.MultiheadAttention(8, 2), mha()],
  mha_masks_batchFirst: [() => new nn.MultiheadAttention(8, 2, { batchFirst: true }), mha()],
  mha_floatmask_perhead: [() => new nn.MultiheadAttention(8, 4), mha({ averageAttnWeights: false })],
  mha_floatkpm: [() => new nn.MultiheadAttention(8, 2), mha()],
  mha_kvdim_noweights: [() => new nn.MultiheadAttention(8, 2, { kdim: 5, vdim: 6, batchFirst: true }), mha({ needWeights: false })],
  mha_nobias_unbatched: [() => new nn.MultiheadAttention(6, 3, { bias: false }), mha()],
  tel_normFirstFalse_relu: [() => new nn.TransformerEncoderLayer(8, 2, { dimFeedforward: 16, dropout: 0 }), single],
  tel_normFirstFalse_gelu: [() => new nn.TransformerEncoderLayer(8, 2, { dimFeedforward: 16, dropout: 0, activation: 'gelu' }), single],
  tel_normFirstTrue_relu: [() => new nn.TransformerEncoderLayer(8, 2, { dimFeedforward: 16, dropout: 0, batchFirst: true, normFirst: true }), single],
  tel_normFirstTrue_gelu: [() => new nn.TransformerEncoderLayer(8, 2, { dimFeedforward: 16, dropout: 0, activation: 'gelu', batchFirst: true, normFirst: true }), single],
  se: [() => new nn.SqueezeExcitation(8, 4), single],
  mixer: [() => new nn.MixerBlock(4, 6, { tokensHidden: 5, channelsHidden: 12 }), single],
};

const tol = { atol: 1e-4, rtol: 1e-4 };

forEachBackend('attention and blocks match PyTorch 1.13', (device) => {
  itHasFactories(cases, factories);

  for (const c of cases) {
    it(`${c.name}: forward, weights, input and parameter gradients`, async () => {
      const [make, run] = factories[c.name];
      const m = await make().to(device);
      await checkAttentionCase(m, c, (inputs, masks) => run(m, inputs, masks), device, tol);
      m.dispose();
    });
  }

  describe('PositionalEncoding', () => {
    it('adds the closed-form sinusoids and has a buffer but no parameters', async () => {
      const d = 6;
      const pe = await new nn.PositionalEncoding(d, { dropout: 0, maxLen: 50 }).to(device);
      expect(pe.parameters()).toEqual([]);
      expect(Object.keys(pe.stateDict())).toEqual(['pe']);
      const x = T.ones([7, 2, d], { device });
      const y = pe.forward(x);
      const want: number[] = [];
      for (let s = 0; s < 7; s++) {
        for (let b = 0; b < 2; b++) {
          for (let j = 0; j < d; j++) {
            const angle = s / Math.pow(10000, (2 * Math.floor(j / 2)) / d);
            want.push(1 + (j % 2 === 0 ? Math.sin(angle) : Math.cos(angle)));
          }
        }
      }
      await expectClose(y, want, { atol: 1e-5, rtol: 1e-5, shape: [7, 2, d] });
      const bf = await new nn.PositionalEncoding(d, { dropout: 0, maxLen: 50, batchFirst: true }).to(device);
      const xb = T.zeros([2, 7, d], { device });
      const yb = bf.forward(xb);
      const ySeq = T.transpose(y, 0, 1);
      const expected = T.sub(ySeq, 1);
      await expectClose(yb, expected, { atol: 1e-5, rtol: 1e-5 });
      expect(() => pe.forward(T.ones([51, 1, d], { device }))).toThrow(/S <= 50/);
      T.dispose([x, y, xb, yb, ySeq, expected]);
      pe.dispose();
      bf.dispose();
    });
  });

  describe('bad inputs', () => {
    it('MultiheadAttention rejects embedDim not divisible by numHeads, and bad mask and input shapes', () => {
      expect(() => new nn.MultiheadAttention(10, 3)).toThrow(/embedDim must be divisible by numHeads.*embedDim=10, numHeads=3/);
      const m = new nn.MultiheadAttention(8, 2);
      const q = T.zeros([3, 2, 8]);
      const k = T.zeros([4, 2, 8]);
      const badAttn = T.zeros([3, 3], { dtype: 'bool' });
      const badKpm = T.zeros([2, 3], { dtype: 'bool' });
      const badAttn3 = T.zeros([2, 3, 4]);
      expect(() => m.forward(q, k, k, { attnMask: badAttn })).toThrow(/attnMask of shape \[3, 4\] or \[4, 3, 4\], received \[3, 3\]/);
      expect(() => m.forward(q, k, k, { attnMask: badAttn3 })).toThrow(/attnMask of shape/);
      expect(() => m.forward(q, k, k, { keyPaddingMask: badKpm })).toThrow(/keyPaddingMask of shape \[2, 4\], received \[2, 3\]/);
      expect(() => m.forward(T.zeros([3, 2, 6]), k, k)).toThrow(/E=8/);
      expect(() => m.forward(q, T.zeros([4, 8]), k)).toThrow(/rank 3/);
      expect(() => new nn.TransformerEncoderLayer(8, 2, { activation: 'tanh' as 'relu' })).toThrow(/activation must be 'relu' or 'gelu'/);
      expect(() => new nn.SqueezeExcitation(8, 4).forward(T.zeros([1, 6, 2, 2]))).toThrow(/\[N, 8, H, W\], received \[1, 6, 2, 2\]/);
      expect(() => new nn.MixerBlock(4, 6).forward(T.zeros([1, 5, 6]))).toThrow(/\[N, 4, 6\], received \[1, 5, 6\]/);
      T.dispose([q, k, badAttn, badKpm, badAttn3]);
    });
  });

  it('memory stays flat over 20 forward+backward steps of a TransformerEncoderLayer with masks', async () => {
    const m = await new nn.TransformerEncoderLayer(8, 2, { dimFeedforward: 16, dropout: 0.1 }).to(device);
    const x = T.randn([4, 2, 8], { device });
    const mask = T.tensor([[false, false, true, false], [false, false, false, false]], { device });
    const step = () => {
      const y = m.forward(x, { srcKeyPaddingMask: mask });
      const loss = T.sum(y);
      backward(loss);
      T.dispose([y, loss]);
      m.zeroGrad();
    };
    step();
    const before = T.memory();
    for (let i = 0; i < 20; i++) step();
    await T.sync();
    const after = T.memory();
    expect(after.tensors).toBe(before.tensors);
    expect(after.bytes).toBe(before.bytes);
    T.dispose([x, mask]);
    m.dispose();
  });
});
