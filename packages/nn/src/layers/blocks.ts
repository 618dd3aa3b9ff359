import * as T from '@tessera/tensor';
import { Module, buffer } from '../module.js';
import { Linear } from './linear.js';
import { Dropout } from './dropout.js';
import { LayerNorm } from './norm.js';
import { checkFloatInput, checkPositiveInt, factory, layerName, shapeStr, type FactoryOptions } from './util.js';

export interface PositionalEncodingOptions extends FactoryOptions {
  /** Dropout applied after adding the encoding (default 0.1). */
  dropout?: number;
  /** Longest sequence supported (default 5000). */
  maxLen?: number;
  /** Inputs are [batch, seq, dModel] instead of [seq, batch, dModel] (default false). */
  batchFirst?: boolean;
}

/**
 * Adds the fixed sinusoidal encoding of Vaswani et al. 2017 to x, then applies dropout:
 * pe[pos, 2i] = sin(pos / 10000^(2i/dModel)), pe[pos, 2i+1] = cos(pos / 10000^(2i/dModel)).
 * The table is a buffer `pe` [maxLen, dModel]; there are no parameters.
 */
export class PositionalEncoding extends Module {
  pe: T.Tensor;
  dropout: Dropout;
  readonly batchFirst: boolean;
  readonly maxLen: number;

  constructor(readonly dModel: number, options: PositionalEncodingOptions = {}) {
    super();
    checkPositiveInt('PositionalEncoding', 'dModel', dModel);
    this.maxLen = options.maxLen ?? 5000;
    checkPositiveInt('PositionalEncoding', 'maxLen', this.maxLen);
    this.batchFirst = options.batchFirst ?? false;
    // Computed in float64 on the host: the table is built once, and the phases reach maxLen radians.
    const table = new Float64Array(this.maxLen * dModel);
    for (let pos = 0; pos < this.maxLen; pos++) {
      for (let i = 0; i < dModel; i += 2) {
        const angle = pos / Math.pow(10000, i / dModel);
        table[pos * dModel + i] = Math.sin(angle);
        if (i + 1 < dModel) table[pos * dModel + i + 1] = Math.cos(angle);
      }
    }
    const f = factory(options);
    this.pe = buffer(T.tensor(Float32Array.from(table), { ...f, shape: [this.maxLen, dModel] }));
    this.dropout = new Dropout(options.dropout ?? 0.1);
  }

  forward(x: T.Tensor): T.Tensor {
    checkFloatInput(this, x);
    const seqDim = this.batchFirst ? 1 : 0;
    if (x.rank !== 3 || x.shape[2] !== this.dModel || x.shape[seqDim] > this.maxLen) {
      throw new RangeError(`${layerName(this)}: expected input of shape ${this.batchFirst ? '[N, S, dModel]' : '[S, N, dModel]'} with dModel=${this.dModel} and S <= ${this.maxLen}, received ${shapeStr(x.shape)}`);
    }
    return T.tidy(() => {
      const pe = T.narrow(this.pe, 0, 0, x.shape[seqDim]);
      // [S, 1, d] broadcasts over the batch in the seq-first layout.
      return this.dropout.forward(T.add(x, this.batchFirst ? pe : T.unsqueeze(pe, 1)));
    });
  }

  protected override extraRepr(): string {
    return `dModel=${this.dModel}, maxLen=${this.maxLen}, batchFirst=${this.batchFirst}`;
  }
}

/**
 * Squeeze-and-Excitation (Hu et al. 2018) on x [N, C, H, W]: global average pool -> fc1 ->
 * ReLU -> fc2 -> sigmoid, and x scaled per channel by the result. fc1/fc2 are Linear layers
 * (C -> max(1, floor(C / reduction)) -> C), equivalent to torchvision's 1x1 convs up to the
 * weight shape ([out, in] here, [out, in, 1, 1] there).
 */
export class SqueezeExcitation extends Module {
  fc1: Linear;
  fc2: Linear;
  readonly squeezeChannels: number;

  constructor(readonly channels: number, readonly reduction = 16, options: FactoryOptions = {}) {
    super();
    checkPositiveInt('SqueezeExcitation', 'channels', channels);
    checkPositiveInt('SqueezeExcitation', 'reduction', reduction);
    this.squeezeChannels = Math.max(1, Math.floor(channels / reduction));
    this.fc1 = new Linear(channels, this.squeezeChannels, factory(options));
    this.fc2 = new Linear(this.squeezeChannels, channels, factory(options));
  }

  forward(x: T.Tensor): T.Tensor {
    checkFloatInput(this, x);
    if (x.rank !== 4 || x.shape[1] !== this.channels) throw new RangeError(`${layerName(this)}: expected input of shape [N, ${this.channels}, H, W], received ${shapeStr(x.shape)}`);
    return T.tidy(() => {
      const s = T.mean(x, { dim: [2, 3] });
      const e = T.sigmoid(this.fc2.forward(T.relu(this.fc1.forward(s))));
      return T.mul(x, T.reshape(e, [x.shape[0], this.channels, 1, 1]));
    });
  }

  protected override extraRepr(): string {
    return `channels=${this.channels}, reduction=${this.reduction}`;
  }
}

/** Linear -> GELU -> Linear over the last dim (the MLP of a Mixer block): names fc1, fc2. */
export class MixerMlp extends Module {
  fc1: Linear;
  fc2: Linear;

  constructor(features: number, hidden: number, options: FactoryOptions = {}) {
    super();
    this.fc1 = new Linear(features, hidden, factory(options));
    this.fc2 = new Linear(hidden, features, factory(options));
  }

  forward(x: T.Tensor): T.Tensor {
    return T.tidy(() => this.fc2.forward(T.gelu(this.fc1.forward(x))));
  }
}

export interface MixerBlockOptions extends FactoryOptions {
  /** Hidden width of the token-mixing MLP (default 2 * numPatches). */
  tokensHidden?: number;
  /** Hidden width of the channel-mixing MLP (default 4 * channels). */
  channelsHidden?: number;
  layerNormEps?: number;
}

/**
 * One MLP-Mixer block (Tolstikhin et al. 2021) on x [N, numPatches, channels]:
 * x + token_mlp(norm1(x)ᵀ)ᵀ mixes across patches, then x + channel_mlp(norm2(x)) across channels.
 * Names: norm1, token_mlp.fc1/fc2, norm2, channel_mlp.fc1/fc2.
 */
export class MixerBlock extends Module {
  norm1: LayerNorm;
  tokenMlp: MixerMlp;
  norm2: LayerNorm;
  channelMlp: MixerMlp;

  constructor(readonly numPatches: number, readonly channels: number, options: MixerBlockOptions = {}) {
    super();
    checkPositiveInt('MixerBlock', 'numPatches', numPatches);
    checkPositiveInt('MixerBlock', 'channels', channels);
    const th = options.tokensHidden ?? 2 * numPatches;
    const ch = options.channelsHidden ?? 4 * channels;
    checkPositiveInt('MixerBlock', 'tokensHidden', th);
    checkPositiveInt('MixerBlock', 'channelsHidden', ch);
    const f = factory(options);
    const eps = options.layerNormEps ?? 1e-5;
    this.norm1 = new LayerNorm(channels, { ...f, eps });
    this.tokenMlp = new MixerMlp(numPatches, th, f);
    this.norm2 = new LayerNorm(channels, { ...f, eps });
    this.channelMlp = new MixerMlp(channels, ch, f);
  }

  forward(x: T.Tensor): T.Tensor {
    checkFloatInput(this, x);
    if (x.rank !== 3 || x.shape[1] !== this.numPatches || x.shape[2] !== this.channels) {
      throw new RangeError(`${layerName(this)}: expected input of shape [N, ${this.numPatches}, ${this.channels}], received ${shapeStr(x.shape)}`);
    }
    return T.tidy(() => {
      const tokens = T.transpose(this.tokenMlp.forward(T.transpose(this.norm1.forward(x), 1, 2)), 1, 2);
      const y = T.add(x, tokens);
      return T.add(y, this.channelMlp.forward(this.norm2.forward(y)));
    });
  }

  protected override extraRepr(): string {
    return `numPatches=${this.numPatches}, channels=${this.channels}`;
  }
}
