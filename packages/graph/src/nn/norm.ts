/** Normalisation layers for node features: BatchNorm over all nodes, GraphNorm per graph. */
import * as T from '@tessera/tensor';
import type { Tensor } from '@tessera/tensor';
import { BatchNorm1d, Module, parameter, type BatchNormOptions, type FactoryOptions } from '@tessera/nn';
import { checkBatch } from './pool.js';
import { checkPositiveInt, factory, layerName, shapeStr } from './util.js';

/**
 * Batch normalisation of node features x [N, C] over all nodes (PyG's BatchNorm, which wraps
 * torch's BatchNorm1d). State: module.weight, module.bias, module.running_mean, module.running_var,
 * module.num_batches_tracked.
 */
export class BatchNorm extends Module {
  module: BatchNorm1d;

  constructor(readonly inChannels: number, options: BatchNormOptions = {}) {
    super();
    checkPositiveInt('BatchNorm', 'inChannels', inChannels);
    this.module = new BatchNorm1d(inChannels, options);
  }

  forward(x: Tensor): Tensor {
    return this.module.forward(x);
  }

  protected override extraRepr(): string {
    return `${this.inChannels}`;
  }
}

/**
 * GraphNorm (Cai et al.; PyG's GraphNorm): per graph, x̂ = x - α ⊙ mean(x), out = γ ⊙ x̂ / sqrt(mean(x̂²) + eps) + β.
 * forward(x [N, C], batch?, size?). State: weight (γ), bias (β), mean_scale (α).
 */
export class GraphNorm extends Module {
  weight: Tensor;
  bias: Tensor;
  meanScale: Tensor;
  readonly eps: number;

  constructor(readonly inChannels: number, options: FactoryOptions & { eps?: number } = {}) {
    super();
    checkPositiveInt('GraphNorm', 'inChannels', inChannels);
    this.eps = options.eps ?? 1e-5;
    if (!(this.eps > 0)) throw new RangeError(`GraphNorm: eps must be positive, received ${this.eps}`);
    const f = factory(options);
    this.weight = parameter(T.ones([inChannels], f));
    this.bias = parameter(T.zeros([inChannels], f));
    this.meanScale = parameter(T.ones([inChannels], f));
  }

  forward(x: Tensor, batch?: Tensor | null, size?: number): Tensor {
    const op = layerName(this);
    const b = checkBatch(op, x, batch, size);
    if (x.rank !== 2 || x.shape[1] !== this.inChannels) throw new RangeError(`${op}: expected x of shape [N, ${this.inChannels}], received ${shapeStr(x.shape)}`);
    return T.tidy(() => {
      const ids = batch ?? T.zeros([x.shape[0]], { dtype: 'int32', device: x.device });
      const perGraphMean = (t: Tensor) => {
        const rows = T.expand(T.unsqueeze(ids, 1), t.shape);
        const zeros = T.zeros([b, this.inChannels], { dtype: t.dtype, device: t.device });
        return T.indexSelect(T.scatterReduce(zeros, 0, rows, t, 'mean', { includeSelf: false }), 0, ids);
      };
      const centred = T.sub(x, T.mul(perGraphMean(x), this.meanScale));
      const std = T.sqrt(T.add(perGraphMean(T.square(centred)), this.eps));
      return T.add(T.mul(T.div(centred, std), this.weight), this.bias);
    });
  }

  protected override extraRepr(): string {
    return `${this.inChannels}`;
  }
}
