import * as T from '@tessera/tensor';
import { detach, noGrad } from '@tessera/autodiff';
import { Module, parameter } from '../module.js';
import { kaimingUniform_, normal_, uniform_, calculateFanInAndFanOut } from '../init.js';
import { checkFloatInput, checkPositiveInt, factory, layerName, shapeStr, type FactoryOptions } from './util.js';

/** PyTorch's default for Linear/Conv: kaiming_uniform(a=√5) weights, bias ~ U(±1/√fanIn). */
export function resetLinearLike(op: string, weight: T.Tensor, bias: T.Tensor | null): void {
  kaimingUniform_(weight, { a: Math.sqrt(5) });
  if (!bias) return;
  const { fanIn } = calculateFanInAndFanOut(op, weight);
  const bound = fanIn > 0 ? 1 / Math.sqrt(fanIn) : 0;
  uniform_(bias, { a: -bound, b: bound });
}

export interface LinearOptions extends FactoryOptions {
  /** Learn an additive bias (default true). */
  bias?: boolean;
}

/** y = x Wᵀ + b over the last dim: x [..., inFeatures] -> [..., outFeatures]. */
export class Linear extends Module {
  weight: T.Tensor;
  bias: T.Tensor | null;

  constructor(readonly inFeatures: number, readonly outFeatures: number, options: LinearOptions = {}) {
    super();
    checkPositiveInt('Linear', 'inFeatures', inFeatures);
    checkPositiveInt('Linear', 'outFeatures', outFeatures);
    this.weight = parameter(T.zeros([outFeatures, inFeatures], factory(options)));
    this.bias = options.bias === false ? null : parameter(T.zeros([outFeatures], factory(options)));
    resetLinearLike('Linear', this.weight, this.bias);
  }

  forward(x: T.Tensor): T.Tensor {
    checkFloatInput(this, x);
    if (x.rank < 1 || x.shape[x.rank - 1] !== this.inFeatures) {
      throw new RangeError(`${layerName(this)}: expected input of shape [..., ${this.inFeatures}], received ${shapeStr(x.shape)}`);
    }
    return T.tidy(() => {
      const y = T.matmul(x, T.transpose(this.weight, 0, 1));
      return this.bias ? T.add(y, this.bias) : y;
    });
  }

  protected override extraRepr(): string {
    return `inFeatures=${this.inFeatures}, outFeatures=${this.outFeatures}, bias=${this.bias !== null}`;
  }
}

/** y = x1ᵀ A x2 + b: x1 [..., in1], x2 [..., in2] -> [..., out], weight [out, in1, in2]. */
export class Bilinear extends Module {
  weight: T.Tensor;
  bias: T.Tensor | null;

  constructor(readonly in1Features: number, readonly in2Features: number, readonly outFeatures: number, options: LinearOptions = {}) {
    super();
    checkPositiveInt('Bilinear', 'in1Features', in1Features);
    checkPositiveInt('Bilinear', 'in2Features', in2Features);
    checkPositiveInt('Bilinear', 'outFeatures', outFeatures);
    this.weight = parameter(T.zeros([outFeatures, in1Features, in2Features], factory(options)));
    this.bias = options.bias === false ? null : parameter(T.zeros([outFeatures], factory(options)));
    // PyTorch bounds both by 1/√in1Features.
    const bound = 1 / Math.sqrt(in1Features);
    uniform_(this.weight, { a: -bound, b: bound });
    if (this.bias) uniform_(this.bias, { a: -bound, b: bound });
  }

  forward(x1: T.Tensor, x2: T.Tensor): T.Tensor {
    checkFloatInput(this, x1);
    checkFloatInput(this, x2);
    const batch = x1.shape.slice(0, -1);
    if (x1.rank < 1 || x2.rank !== x1.rank || x1.shape[x1.rank - 1] !== this.in1Features || x2.shape[x2.rank - 1] !== this.in2Features
      || x2.shape.slice(0, -1).some((d, i) => d !== batch[i])) {
      throw new RangeError(`${layerName(this)}: expected inputs of shapes [..., ${this.in1Features}] and [..., ${this.in2Features}] with the same batch dims, received ${shapeStr(x1.shape)} and ${shapeStr(x2.shape)}`);
    }
    const [o, i1, i2] = [this.outFeatures, this.in1Features, this.in2Features];
    return T.tidy(() => {
      const a = T.reshape(x1, [-1, i1]);
      const b = T.reshape(x2, [-1, 1, i2]);
      // (x1 A) over in1 first: [n, out * in2], then the product with x2 summed over in2.
      const w = T.reshape(T.permute(this.weight, [1, 0, 2]), [i1, o * i2]);
      const xa = T.reshape(T.matmul(a, w), [-1, o, i2]);
      let y = T.sum(T.mul(xa, b), { dim: -1 });
      if (this.bias) y = T.add(y, this.bias);
      return T.reshape(y, [...batch, o]);
    });
  }

  protected override extraRepr(): string {
    return `in1Features=${this.in1Features}, in2Features=${this.in2Features}, outFeatures=${this.outFeatures}, bias=${this.bias !== null}`;
  }
}

/** Returns its input (as a new handle sharing the storage, so disposing the output leaves the input alive). */
export class Identity extends Module {
  forward(x: T.Tensor): T.Tensor {
    if (!(x instanceof T.Tensor)) throw new TypeError(`${layerName(this)}: expected a Tensor input`);
    return T.contiguous(x);
  }
}

/** Flattens dims startDim..endDim (default 1..-1: keeps the batch dim). */
export class Flatten extends Module {
  constructor(readonly startDim = 1, readonly endDim = -1) {
    super();
  }

  forward(x: T.Tensor): T.Tensor {
    if (!(x instanceof T.Tensor)) throw new TypeError(`${layerName(this)}: expected a Tensor input`);
    return T.flatten(x, this.startDim, this.endDim);
  }

  protected override extraRepr(): string {
    return `startDim=${this.startDim}, endDim=${this.endDim}`;
  }
}

export interface EmbeddingOptions extends FactoryOptions {
  /** Row whose output gets no gradient (and starts at zero), e.g. a padding token. */
  paddingIdx?: number | null;
  /**
   * Before each lookup, every looked-up row whose normType-norm exceeds maxNorm is rescaled in the
   * weight itself to norm maxNorm (scale maxNorm / (norm + 1e-7), unrecorded), as PyTorch.
   */
  maxNorm?: number | null;
  /** The p of the norm for maxNorm (default 2). */
  normType?: number;
}

/** A lookup table: int32 indices [...] -> [..., embeddingDim]; weight ~ N(0, 1). */
export class Embedding extends Module {
  weight: T.Tensor;
  readonly paddingIdx: number | null;
  readonly maxNorm: number | null;
  readonly normType: number;

  constructor(readonly numEmbeddings: number, readonly embeddingDim: number, options: EmbeddingOptions = {}) {
    super();
    checkPositiveInt('Embedding', 'numEmbeddings', numEmbeddings);
    checkPositiveInt('Embedding', 'embeddingDim', embeddingDim);
    this.maxNorm = options.maxNorm ?? null;
    if (this.maxNorm !== null && !(typeof this.maxNorm === 'number' && this.maxNorm > 0)) throw new RangeError(`Embedding: maxNorm must be a positive number or null, received ${String(options.maxNorm)}`);
    this.normType = options.normType ?? 2;
    if (typeof this.normType !== 'number' || Number.isNaN(this.normType)) throw new TypeError(`Embedding: normType must be a number, received ${String(options.normType)}`);
    const p = options.paddingIdx ?? null;
    if (p !== null && (!Number.isInteger(p) || p >= numEmbeddings || p < -numEmbeddings)) {
      throw new RangeError(`Embedding: paddingIdx must be an integer in [-${numEmbeddings}, ${numEmbeddings}), received ${p}`);
    }
    this.paddingIdx = p === null ? null : p < 0 ? p + numEmbeddings : p;
    this.weight = parameter(T.zeros([numEmbeddings, embeddingDim], factory(options)));
    normal_(this.weight);
    if (this.paddingIdx !== null) {
      const pad = this.paddingIdx;
      noGrad(() => T.tidy(() => void T.copy_(T.narrow(this.weight, 0, pad, 1), T.zeros([1, embeddingDim], factory(options)))));
    }
  }

  forward(indices: T.Tensor): T.Tensor {
    if (!(indices instanceof T.Tensor) || (indices.dtype !== 'int32' && indices.dtype !== 'uint32')) {
      throw new TypeError(`${layerName(this)}: expected int32 indices, received ${indices instanceof T.Tensor ? indices.dtype : typeof indices}`);
    }
    if (this.maxNorm !== null) this.renorm(indices, this.maxNorm);
    return T.tidy(() => {
      const rows = T.indexSelect(this.weight, 0, T.reshape(indices, [-1]));
      let out = rows;
      if (this.paddingIdx !== null && this.weight.requiresGrad) {
        // The padding row's output is weight[paddingIdx] but it must not receive gradient.
        const pad = T.unsqueeze(T.eq(T.reshape(indices, [-1]), this.paddingIdx), -1);
        out = T.where(pad, detach(rows), rows);
      }
      return T.reshape(out, [...indices.shape, this.embeddingDim]);
    });
  }

  /**
   * PyTorch's embedding_renorm_: rescales the looked-up rows whose norm exceeds maxNorm, in place
   * and unrecorded. Without a readback of the indices, every looked-up row is rescaled and written
   * back with a scatter (a row looked up twice gets the same value twice).
   */
  private renorm(indices: T.Tensor, maxNorm: number): void {
    noGrad(() => T.tidy(() => {
      const flat = indices.dtype === 'int32' ? T.reshape(indices, [-1]) : T.cast(T.reshape(indices, [-1]), 'int32');
      if (flat.size === 0) return;
      const rows = T.indexSelect(this.weight, 0, flat);
      const norms = T.norm(rows, { p: this.normType, dim: 1, keepdim: true });
      const scale = T.where(T.gt(norms, maxNorm), T.div(maxNorm, T.add(norms, 1e-7)), 1);
      const at = T.contiguous(T.expand(T.unsqueeze(flat, 1), rows.shape));
      T.copy_(this.weight, T.scatter(this.weight, 0, at, T.mul(rows, scale)));
    }));
  }

  protected override extraRepr(): string {
    const extra = `${this.paddingIdx !== null ? `, paddingIdx=${this.paddingIdx}` : ''}${this.maxNorm !== null ? `, maxNorm=${this.maxNorm}` : ''}`;
    return `${this.numEmbeddings}, ${this.embeddingDim}${extra}`;
  }
}
