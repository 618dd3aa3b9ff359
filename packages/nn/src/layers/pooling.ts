import * as T from '@tessera/tensor';
import { Module } from '../module.js';
import { checkFloatInput, layerName, shapeStr } from './util.js';

type Spatial = number | readonly number[];

function checkRank(m: Module, x: unknown, ranks: number[], expected: string): asserts x is T.Tensor {
  checkFloatInput(m, x);
  if (!ranks.includes(x.rank)) throw new RangeError(`${layerName(m)}: expected input of shape ${expected}, received ${shapeStr(x.shape)}`);
}

export interface MaxPoolLayerOptions {
  /** Default: kernelSize. */
  stride?: Spatial | null;
  padding?: Spatial;
  dilation?: Spatial;
  ceilMode?: boolean;
}

/** Max over sliding windows of x [N, C, L] or [C, L]. */
export class MaxPool1d extends Module {
  constructor(readonly kernelSize: Spatial, readonly options: MaxPoolLayerOptions = {}) {
    super();
  }

  forward(x: T.Tensor): T.Tensor {
    checkRank(this, x, [2, 3], '[N, C, L] or [C, L]');
    return T.maxPool1d(x, this.kernelSize, { ...this.options, returnIndices: false });
  }

  protected override extraRepr(): string {
    return `kernelSize=${JSON.stringify(this.kernelSize)}`;
  }
}

/** Max over sliding windows of x [N, C, H, W] or [C, H, W]. */
export class MaxPool2d extends Module {
  constructor(readonly kernelSize: Spatial, readonly options: MaxPoolLayerOptions = {}) {
    super();
  }

  forward(x: T.Tensor): T.Tensor {
    checkRank(this, x, [3, 4], '[N, C, H, W] or [C, H, W]');
    return T.maxPool2d(x, this.kernelSize, { ...this.options, returnIndices: false });
  }

  protected override extraRepr(): string {
    return `kernelSize=${JSON.stringify(this.kernelSize)}`;
  }
}

export interface AvgPoolLayerOptions {
  stride?: Spatial | null;
  padding?: Spatial;
  ceilMode?: boolean;
  /** Count the zero padding in the divisor (default true). */
  countIncludePad?: boolean;
  divisorOverride?: number;
}

/** Mean over sliding windows of x [N, C, L] or [C, L]. */
export class AvgPool1d extends Module {
  constructor(readonly kernelSize: Spatial, readonly options: AvgPoolLayerOptions = {}) {
    super();
  }

  forward(x: T.Tensor): T.Tensor {
    checkRank(this, x, [2, 3], '[N, C, L] or [C, L]');
    return T.avgPool1d(x, this.kernelSize, this.options);
  }

  protected override extraRepr(): string {
    return `kernelSize=${JSON.stringify(this.kernelSize)}`;
  }
}

/** Mean over sliding windows of x [N, C, H, W] or [C, H, W]. */
export class AvgPool2d extends Module {
  constructor(readonly kernelSize: Spatial, readonly options: AvgPoolLayerOptions = {}) {
    super();
  }

  forward(x: T.Tensor): T.Tensor {
    checkRank(this, x, [3, 4], '[N, C, H, W] or [C, H, W]');
    return T.avgPool2d(x, this.kernelSize, this.options);
  }

  protected override extraRepr(): string {
    return `kernelSize=${JSON.stringify(this.kernelSize)}`;
  }
}

/** Averages x [N, C, H, W] or [C, H, W] to a fixed spatial size (null keeps that dim). */
export class AdaptiveAvgPool2d extends Module {
  constructor(readonly outputSize: number | null | readonly (number | null)[]) {
    super();
  }

  forward(x: T.Tensor): T.Tensor {
    checkRank(this, x, [3, 4], '[N, C, H, W] or [C, H, W]');
    return T.adaptiveAvgPool2d(x, this.outputSize);
  }

  protected override extraRepr(): string {
    return `outputSize=${JSON.stringify(this.outputSize)}`;
  }
}

export interface UpsampleOptions {
  size?: Spatial;
  scaleFactor?: number | readonly number[];
  /** 'nearest' (default) or 'bilinear'. */
  mode?: 'nearest' | 'bilinear';
  alignCorners?: boolean;
}

/** Resizes x [N, C, L] or [N, C, H, W] (F.interpolate). */
export class Upsample extends Module {
  constructor(readonly options: UpsampleOptions) {
    super();
    if ((options.size === undefined) === (options.scaleFactor === undefined)) throw new TypeError('Upsample: give exactly one of size and scaleFactor');
  }

  forward(x: T.Tensor): T.Tensor {
    checkRank(this, x, [3, 4], '[N, C, L] or [N, C, H, W]');
    return T.interpolate(x, this.options);
  }

  protected override extraRepr(): string {
    return `mode=${this.options.mode ?? 'nearest'}`;
  }
}
