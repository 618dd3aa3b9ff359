/** Rprop: sign-based steps whose per-coordinate sizes grow or shrink with sign agreement (torch.optim.Rprop). */
import * as T from '@tessera/tensor';
import { Optimizer, type ParamsArg } from '../optimizer.js';
import { boolean, buffer, checkGroups, opts, pairOf, positive } from './util.js';

export interface RpropOptions {
  lr?: number;
  /** (etaminus, etaplus): step-size factors on a sign change and on sign agreement. */
  etas?: [number, number];
  /** (min, max) step size. */
  stepSizes?: [number, number];
  maximize?: boolean;
}

export class Rprop extends Optimizer<Required<RpropOptions>> {
  constructor(params: ParamsArg, options: RpropOptions = {}) {
    super(params, { lr: 1e-2, etas: [0.5, 1.2], stepSizes: [1e-6, 50], maximize: false, ...options }, 'Rprop');
    checkGroups('Rprop', this.paramGroups, {
      etas: [(v) => pairOf(positive)(v) && (v as number[])[0] < 1 && (v as number[])[1] > 1, 'two numbers, 0 < etaminus < 1 < etaplus'],
      stepSizes: [(v) => pairOf(positive)(v) && (v as number[])[0] <= (v as number[])[1], 'two numbers, 0 < min <= max'],
      maximize: [boolean, 'a boolean'],
    });
  }

  step(): void {
    this.forEachParam((p, grad, group, state) => {
      const { lr, etas, stepSizes } = opts<Required<RpropOptions>>(group);
      const prev = buffer(state, 'prev', () => T.zerosLike(p));
      const size = buffer(state, 'stepSize', () => T.fullLike(p, lr));
      const agreement = T.mul(grad, prev);
      const grew = T.cast(T.gt(agreement, 0), p.dtype);
      const flipped = T.cast(T.lt(agreement, 0), p.dtype);
      // 1 where the sign is new or zero, etaplus where it held, etaminus where it flipped.
      const factor = T.add(T.add(T.mul(grew, etas[1] - 1), T.mul(flipped, etas[0] - 1)), 1);
      size.copy_(T.clamp(T.mul(size, factor), stepSizes[0], stepSizes[1]));
      // After a sign flip the coordinate does not move, and the next step treats its sign as new.
      const g = T.mul(grad, T.sub(1, flipped));
      p.copy_(T.sub(p, T.mul(T.sign(g), size)));
      prev.copy_(g);
    });
  }
}
