import * as T from '@tessera/tensor';
import { Module } from '../module.js';
import { checkFloatInput } from './util.js';

/**
 * Zeroes each element with probability p in training and scales the rest by 1 / (1 - p); the
 * identity in eval mode. The mask comes from T.bernoulli with the global generator (or `generator`).
 */
export class Dropout extends Module {
  constructor(readonly p = 0.5, readonly options: { generator?: T.Generator } = {}) {
    super();
    if (!(p >= 0 && p <= 1)) throw new RangeError(`Dropout: p must be in [0, 1], received ${p}`);
  }

  forward(x: T.Tensor): T.Tensor {
    checkFloatInput(this, x);
    // A new handle even when nothing is dropped, so callers may dispose the output freely.
    if (!this.training || this.p === 0) return T.contiguous(x);
    if (this.p === 1) return T.mul(x, 0);
    return T.tidy(() => {
      const keep = T.bernoulli(1 - this.p, x.shape, { dtype: x.dtype, device: x.device, generator: this.options.generator });
      return T.mul(x, T.mul(keep, 1 / (1 - this.p)));
    });
  }

  protected override extraRepr(): string {
    return `p=${this.p}`;
  }
}
