import * as T from '@tessera/tensor';
import { Module, parameter } from '../module.js';
import { xavierNormal_, xavierUniform_, zeros_ } from '../init.js';
import { Linear } from './linear.js';
import { Dropout } from './dropout.js';
import { LayerNorm } from './norm.js';
import { dropout } from '../functional/activations.js';
import { checkFloatInput, checkPositiveInt, factory, layerName, shapeStr, type FactoryOptions } from './util.js';

export interface MultiheadAttentionOptions extends FactoryOptions {
  /** Dropout probability on the attention weights (training only; default 0). */
  dropout?: number;
  /** Learn biases for the input and output projections (default true). */
  bias?: boolean;
  /** Inputs are [batch, seq, feature] instead of [seq, batch, feature] (default false). */
  batchFirst?: boolean;
  /** Feature size of `key` (default embedDim). */
  kdim?: number;
  /** Feature size of `value` (default embedDim). */
  vdim?: number;
  /** Learn a key and a value (bias_k, bias_v [1, 1, E]) appended to the projected keys and values (default false). */
  addBiasKv?: boolean;
  /** Append a zero key and value after the projection, per head (default false). */
  addZeroAttn?: boolean;
}

export interface AttentionForwardOptions {
  /** [batch, S] (or [S] unbatched): true (bool) marks keys to ignore; a float mask is added to the scores. */
  keyPaddingMask?: T.Tensor | null;
  /** [L, S] or [batch * numHeads, L, S]: true (bool) forbids attending; a float mask is added to the scores. */
  attnMask?: T.Tensor | null;
  /** Return the attention weights (default true). */
  needWeights?: boolean;
  /** Average the returned weights over heads: [batch, L, S] instead of [batch, numHeads, L, S] (default true). */
  averageAttnWeights?: boolean;
}

/**
 * Multi-head scaled dot-product attention (torch.nn.MultiheadAttention, Vaswani et al. 2017).
 * Parameter names are PyTorch's: in_proj_weight [3E, E] (or q/k/v_proj_weight when kdim/vdim
 * differ from embedDim), in_proj_bias [3E], bias_k, bias_v [1, 1, E] (addBiasKv), out_proj.weight,
 * out_proj.bias. With addBiasKv and addZeroAttn every query also sees one learned and one zero key
 * (S + 1 or S + 2 keys in all); the returned weights include those columns, as in PyTorch.
 */
export class MultiheadAttention extends Module {
  // Declared in PyTorch's registration order so that state dicts list keys in the same order.
  inProjWeight: T.Tensor | null;
  qProjWeight: T.Tensor | null;
  kProjWeight: T.Tensor | null;
  vProjWeight: T.Tensor | null;
  inProjBias: T.Tensor | null;
  biasK: T.Tensor | null;
  biasV: T.Tensor | null;
  outProj: Linear;
  readonly addZeroAttn: boolean;
  readonly dropout: number;
  readonly batchFirst: boolean;
  readonly kdim: number;
  readonly vdim: number;
  readonly headDim: number;

  constructor(readonly embedDim: number, readonly numHeads: number, options: MultiheadAttentionOptions = {}) {
    super();
    checkPositiveInt('MultiheadAttention', 'embedDim', embedDim);
    checkPositiveInt('MultiheadAttention', 'numHeads', numHeads);
    if (embedDim % numHeads !== 0) throw new RangeError(`MultiheadAttention: embedDim must be divisible by numHeads, received embedDim=${embedDim}, numHeads=${numHeads}`);
    this.dropout = options.dropout ?? 0;
    if (!(this.dropout >= 0 && this.dropout <= 1)) throw new RangeError(`MultiheadAttention: dropout must be in [0, 1], received ${options.dropout}`);
    this.batchFirst = options.batchFirst ?? false;
    this.kdim = options.kdim ?? embedDim;
    this.vdim = options.vdim ?? embedDim;
    checkPositiveInt('MultiheadAttention', 'kdim', this.kdim);
    checkPositiveInt('MultiheadAttention', 'vdim', this.vdim);
    this.headDim = embedDim / numHeads;
    const f = factory(options);
    const packed = this.kdim === embedDim && this.vdim === embedDim;
    this.inProjWeight = packed ? parameter(T.zeros([3 * embedDim, embedDim], f)) : null;
    this.qProjWeight = packed ? null : parameter(T.zeros([embedDim, embedDim], f));
    this.kProjWeight = packed ? null : parameter(T.zeros([embedDim, this.kdim], f));
    this.vProjWeight = packed ? null : parameter(T.zeros([embedDim, this.vdim], f));
    this.inProjBias = options.bias === false ? null : parameter(T.zeros([3 * embedDim], f));
    this.biasK = options.addBiasKv ? parameter(T.zeros([1, 1, embedDim], f)) : null;
    this.biasV = options.addBiasKv ? parameter(T.zeros([1, 1, embedDim], f)) : null;
    this.addZeroAttn = options.addZeroAttn ?? false;
    this.outProj = new Linear(embedDim, embedDim, { ...f, bias: options.bias !== false });
    // PyTorch's _reset_parameters: Xavier projections, zero biases.
    for (const w of [this.inProjWeight, this.qProjWeight, this.kProjWeight, this.vProjWeight]) if (w) xavierUniform_(w);
    if (this.inProjBias) zeros_(this.inProjBias);
    if (this.outProj.bias) zeros_(this.outProj.bias);
    for (const b of [this.biasK, this.biasV]) if (b) xavierNormal_(b);
  }

  /** Projects x [..., in] with rows [i*E, (i+1)*E) of the packed weight (or the separate one) and bias. */
  private project(x: T.Tensor, i: 0 | 1 | 2): T.Tensor {
    const E = this.embedDim;
    const w = this.inProjWeight ? T.narrow(this.inProjWeight, 0, i * E, E) : [this.qProjWeight, this.kProjWeight, this.vProjWeight][i]!;
    const y = T.matmul(x, T.transpose(w, 0, 1));
    return this.inProjBias ? T.add(y, T.narrow(this.inProjBias, 0, i * E, E)) : y;
  }

  forward(query: T.Tensor, key: T.Tensor, value: T.Tensor, options: AttentionForwardOptions = {}): { output: T.Tensor; weights: T.Tensor | null } {
    const name = layerName(this);
    for (const x of [query, key, value]) checkFloatInput(this, x);
    const batched = query.rank === 3;
    const r = query.rank;
    if ((r !== 2 && r !== 3) || key.rank !== r || value.rank !== r) {
      throw new RangeError(`${name}: expected query, key and value of rank 3 (batched) or 2 (unbatched), received ${shapeStr(query.shape)}, ${shapeStr(key.shape)}, ${shapeStr(value.shape)}`);
    }
    const E = this.embedDim;
    const H = this.numHeads;
    const hd = this.headDim;
    // Work batch-first internally: [N, L, E].
    const seqDim = batched && !this.batchFirst ? 0 : batched ? 1 : 0;
    const N = batched ? query.shape[this.batchFirst ? 0 : 1] : 1;
    const L = query.shape[seqDim];
    const S = key.shape[seqDim];
    const featOk = query.shape[r - 1] === E && key.shape[r - 1] === this.kdim && value.shape[r - 1] === this.vdim;
    const sameBatch = !batched || [key, value].every((t) => t.shape[this.batchFirst ? 0 : 1] === N);
    if (!featOk || !sameBatch || value.shape[seqDim] !== S) {
      const layout = this.batchFirst ? '[N, L, E], [N, S, kdim], [N, S, vdim]' : '[L, N, E], [S, N, kdim], [S, N, vdim]';
      throw new RangeError(`${name}: expected query, key, value of shapes ${batched ? layout : '[L, E], [S, kdim], [S, vdim]'} with E=${E}, kdim=${this.kdim}, vdim=${this.vdim}, received ${shapeStr(query.shape)}, ${shapeStr(key.shape)}, ${shapeStr(value.shape)}`);
    }
    const kpm = options.keyPaddingMask ?? null;
    const am = options.attnMask ?? null;
    if (kpm) {
      const want = batched ? [N, S] : [S];
      if (!(kpm instanceof T.Tensor) || kpm.rank !== want.length || kpm.shape.some((d, i) => d !== want[i])) {
        throw new RangeError(`${name}: expected keyPaddingMask of shape ${shapeStr(want)}, received ${kpm instanceof T.Tensor ? shapeStr(kpm.shape) : typeof kpm}`);
      }
    }
    if (am) {
      const ok = am instanceof T.Tensor && ((am.rank === 2 && am.shape[0] === L && am.shape[1] === S) || (am.rank === 3 && am.shape[0] === N * H && am.shape[1] === L && am.shape[2] === S));
      if (!ok) throw new RangeError(`${name}: expected attnMask of shape ${shapeStr([L, S])} or ${shapeStr([N * H, L, S])}, received ${am instanceof T.Tensor ? shapeStr(am.shape) : typeof am}`);
    }
    for (const [n, m] of [['keyPaddingMask', kpm], ['attnMask', am]] as const) {
      if (m && m.dtype !== 'bool' && m.dtype !== query.dtype) throw new TypeError(`${name}: ${n} must be bool or ${query.dtype}, received ${m.dtype}`);
    }
    const needWeights = options.needWeights ?? true;
    const average = options.averageAttnWeights ?? true;

    return T.tidy(() => {
      const toBatchFirst = (x: T.Tensor) => (!batched ? T.unsqueeze(x, 0) : this.batchFirst ? x : T.transpose(x, 0, 1));
      // [N, len, E] -> [N, H, len, hd]
      const heads = (x: T.Tensor, len: number) => T.permute(T.reshape(x, [N, len, H, hd]), [0, 2, 1, 3]);
      const q = heads(T.mul(this.project(toBatchFirst(query), 0), 1 / Math.sqrt(hd)), L);
      let kp = this.project(toBatchFirst(key), 1);
      let vp = this.project(toBatchFirst(value), 2);
      // Extra keys are appended after the S real ones; the masks let every query see them.
      let amx = am;
      let kpmx = kpm;
      const padMasks = () => {
        if (amx) amx = T.pad(amx, [0, 1]);
        if (kpmx) kpmx = T.pad(kpmx, [0, 1]);
      };
      let St = S;
      if (this.biasK && this.biasV) {
        kp = T.cat([kp, T.expand(this.biasK, [N, 1, E])], 1);
        vp = T.cat([vp, T.expand(this.biasV, [N, 1, E])], 1);
        padMasks();
        St++;
      }
      let k = heads(kp, St);
      let v = heads(vp, St);
      if (this.addZeroAttn) {
        const zero = T.zeros([N, H, 1, hd], { dtype: k.dtype, device: k.device });
        k = T.cat([k, zero], 2);
        v = T.cat([v, zero], 2);
        padMasks();
        St++;
      }
      let scores = T.matmul(q, T.transpose(k, 2, 3)); // [N, H, L, St]
      const apply = (s: T.Tensor, m: T.Tensor) => (m.dtype === 'bool' ? T.maskedFill(s, m, -Infinity) : T.add(s, m));
      if (amx) scores = apply(scores, amx.rank === 3 ? T.reshape(amx, [N, H, L, St]) : amx);
      if (kpmx) scores = apply(scores, T.reshape(kpmx, [N, 1, 1, St]));
      let attn = T.softmax(scores, -1);
      if (this.training && this.dropout > 0) attn = dropout(attn, this.dropout);
      const ctx = T.reshape(T.permute(T.matmul(attn, v), [0, 2, 1, 3]), [N, L, E]);
      let out = this.outProj.forward(ctx);
      out = !batched ? T.squeeze(out, 0) : this.batchFirst ? out : T.transpose(out, 0, 1);
      if (!needWeights) return { output: T.contiguous(out), weights: null };
      const w = average ? T.mean(attn, { dim: 1 }) : attn;
      return { output: T.contiguous(out), weights: T.contiguous(batched ? w : T.squeeze(w, 0)) };
    });
  }

  protected override extraRepr(): string {
    const extra = `${this.biasK ? ', addBiasKv=true' : ''}${this.addZeroAttn ? ', addZeroAttn=true' : ''}`;
    return `embedDim=${this.embedDim}, numHeads=${this.numHeads}, dropout=${this.dropout}, batchFirst=${this.batchFirst}${extra}`;
  }
}

export interface TransformerEncoderLayerOptions extends FactoryOptions {
  dimFeedforward?: number;
  dropout?: number;
  activation?: 'relu' | 'gelu';
  layerNormEps?: number;
  batchFirst?: boolean;
  /** Pre-norm (LayerNorm before attention and feed-forward) instead of post-norm (default false). */
  normFirst?: boolean;
}

/** One self-attention + feed-forward block (torch.nn.TransformerEncoderLayer); PyTorch names self_attn, linear1, linear2, norm1, norm2. */
export class TransformerEncoderLayer extends Module {
  selfAttn: MultiheadAttention;
  linear1: Linear;
  dropout: Dropout;
  linear2: Linear;
  norm1: LayerNorm;
  norm2: LayerNorm;
  dropout1: Dropout;
  dropout2: Dropout;
  readonly normFirst: boolean;
  readonly activation: 'relu' | 'gelu';

  constructor(readonly dModel: number, readonly nhead: number, options: TransformerEncoderLayerOptions = {}) {
    super();
    const f = factory(options);
    const p = options.dropout ?? 0.1;
    this.activation = options.activation ?? 'relu';
    if (this.activation !== 'relu' && this.activation !== 'gelu') throw new TypeError(`TransformerEncoderLayer: activation must be 'relu' or 'gelu', received '${String(options.activation)}'`);
    const ff = options.dimFeedforward ?? 2048;
    checkPositiveInt('TransformerEncoderLayer', 'dimFeedforward', ff);
    this.selfAttn = new MultiheadAttention(dModel, nhead, { ...f, dropout: p, batchFirst: options.batchFirst });
    this.linear1 = new Linear(dModel, ff, f);
    this.dropout = new Dropout(p);
    this.linear2 = new Linear(ff, dModel, f);
    this.normFirst = options.normFirst ?? false;
    const eps = options.layerNormEps ?? 1e-5;
    this.norm1 = new LayerNorm(dModel, { ...f, eps });
    this.norm2 = new LayerNorm(dModel, { ...f, eps });
    this.dropout1 = new Dropout(p);
    this.dropout2 = new Dropout(p);
  }

  forward(src: T.Tensor, options: { srcMask?: T.Tensor | null; srcKeyPaddingMask?: T.Tensor | null } = {}): T.Tensor {
    checkFloatInput(this, src);
    const sa = (x: T.Tensor) => {
      const { output } = this.selfAttn.forward(x, x, x, { attnMask: options.srcMask, keyPaddingMask: options.srcKeyPaddingMask, needWeights: false });
      return this.dropout1.forward(output);
    };
    const ffn = (x: T.Tensor) => {
      const h = this.linear1.forward(x);
      const a = this.activation === 'relu' ? T.relu(h) : T.gelu(h);
      return this.dropout2.forward(this.linear2.forward(this.dropout.forward(a)));
    };
    return T.tidy(() => {
      if (this.normFirst) {
        const x = T.add(src, sa(this.norm1.forward(src)));
        return T.add(x, ffn(this.norm2.forward(x)));
      }
      const x = this.norm1.forward(T.add(src, sa(src)));
      return this.norm2.forward(T.add(x, ffn(x)));
    });
  }

  protected override extraRepr(): string {
    return `dModel=${this.dModel}, nhead=${this.nhead}, normFirst=${this.normFirst}, activation=${this.activation}`;
  }
}
