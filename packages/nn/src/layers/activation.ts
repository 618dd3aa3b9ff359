import * as T from '@tessera/tensor';
import { Module, parameter } from '../module.js';
import { checkFloatInput, checkPositiveInt, factory, layerName, shapeStr, type FactoryOptions } from './util.js';

/** A parameter-free elementwise activation; subclasses give the op. */
abstract class Activation extends Module {
  protected abstract apply1(x: T.Tensor): T.Tensor;

  forward(x: T.Tensor): T.Tensor {
    checkFloatInput(this, x);
    return this.apply1(x);
  }
}

export class ReLU extends Activation {
  protected apply1(x: T.Tensor) {
    return T.relu(x);
  }
}

/** min(max(x, 0), 6). */
export class ReLU6 extends Activation {
  protected apply1(x: T.Tensor) {
    return T.clamp(x, 0, 6);
  }
}

export class LeakyReLU extends Activation {
  constructor(readonly negativeSlope = 0.01) {
    super();
  }

  protected apply1(x: T.Tensor) {
    return T.leakyRelu(x, this.negativeSlope);
  }

  protected override extraRepr(): string {
    return `negativeSlope=${this.negativeSlope}`;
  }
}

export class ELU extends Activation {
  constructor(readonly alpha = 1) {
    super();
  }

  protected apply1(x: T.Tensor) {
    return T.elu(x, this.alpha);
  }

  protected override extraRepr(): string {
    return `alpha=${this.alpha}`;
  }
}

export class GELU extends Activation {
  constructor(readonly approximate: 'none' | 'tanh' = 'none') {
    super();
  }

  protected apply1(x: T.Tensor) {
    return T.gelu(x, { approximate: this.approximate });
  }

  protected override extraRepr(): string {
    return `approximate='${this.approximate}'`;
  }
}

/** x sigmoid(x). */
export class SiLU extends Activation {
  protected apply1(x: T.Tensor) {
    return T.silu(x);
  }
}

/** Another name of SiLU. */
export const Swish = SiLU;

/** x tanh(softplus(x)). */
export class Mish extends Activation {
  protected apply1(x: T.Tensor) {
    return T.tidy(() => T.mul(x, T.tanh(T.softplus(x))));
  }
}

export class Softplus extends Activation {
  constructor(readonly beta = 1, readonly threshold = 20) {
    super();
  }

  protected apply1(x: T.Tensor) {
    return T.softplus(x, { beta: this.beta, threshold: this.threshold });
  }

  protected override extraRepr(): string {
    return `beta=${this.beta}, threshold=${this.threshold}`;
  }
}

export class Tanh extends Activation {
  protected apply1(x: T.Tensor) {
    return T.tanh(x);
  }
}

export class Sigmoid extends Activation {
  protected apply1(x: T.Tensor) {
    return T.sigmoid(x);
  }
}

export class Softmax extends Activation {
  constructor(readonly dim = -1) {
    super();
  }

  protected apply1(x: T.Tensor) {
    return T.softmax(x, this.dim);
  }

  protected override extraRepr(): string {
    return `dim=${this.dim}`;
  }
}

export class LogSoftmax extends Activation {
  constructor(readonly dim = -1) {
    super();
  }

  protected apply1(x: T.Tensor) {
    return T.logSoftmax(x, this.dim);
  }

  protected override extraRepr(): string {
    return `dim=${this.dim}`;
  }
}

export interface PReLUOptions extends FactoryOptions {
  /** 1 (one slope shared by all channels, default) or the number of channels (dim 1 of the input). */
  numParameters?: number;
  /** Initial slope (default 0.25). */
  init?: number;
}

/** max(0, x) + a min(0, x) with a learnable slope a, shared or per channel. */
export class PReLU extends Module {
  weight: T.Tensor;
  readonly numParameters: number;

  constructor(options: PReLUOptions = {}) {
    super();
    this.numParameters = options.numParameters ?? 1;
    checkPositiveInt('PReLU', 'numParameters', this.numParameters);
    this.weight = parameter(T.full([this.numParameters], options.init ?? 0.25, factory(options)));
  }

  forward(x: T.Tensor): T.Tensor {
    checkFloatInput(this, x);
    const n = this.numParameters;
    if (n > 1 && (x.rank < 2 || x.shape[1] !== n)) {
      throw new RangeError(`${layerName(this)}: expected input of shape [N, ${n}, *] (one slope per channel), received ${shapeStr(x.shape)}`);
    }
    return T.tidy(() => {
      const a = n > 1 ? T.reshape(this.weight, [1, n, ...new Array<number>(x.rank - 2).fill(1)]) : this.weight;
      return T.add(T.relu(x), T.mul(a, T.minimum(x, 0)));
    });
  }

  protected override extraRepr(): string {
    return `numParameters=${this.numParameters}`;
  }
}
