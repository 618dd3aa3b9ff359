/** Adadelta: steps scaled by the ratio of running RMS of updates and of gradients (torch.optim.Adadelta). */
import * as T from '@tessera/tensor';
import { Optimizer, type ParamsArg } from '../optimizer.js';
import { boolean, buffer, checkGroups, ema, nonNegative, opts, withL2 } from './util.js';

export interface AdadeltaOptions {
  lr?: number;
  rho?: number;
  eps?: number;
  weightDecay?: number;
  maximize?: boolean;
}

export class Adadelta extends Optimizer<Required<AdadeltaOptions>> {
  constructor(params: ParamsArg, options: AdadeltaOptions = {}) {
    super(params, { lr: 1, rho: 0.9, eps: 1e-6, weightDecay: 0, maximize: false, ...options }, 'Adadelta');
    checkGroups('Adadelta', this.paramGroups, {
      rho: [(v) => typeof v === 'number' && v >= 0 && v <= 1, 'a number in [0, 1]'],
      eps: [nonNegative, 'a number >= 0'],
      weightDecay: [nonNegative, 'a number >= 0'],
      maximize: [boolean, 'a boolean'],
    });
  }

  step(): void {
    this.forEachParam((p, grad, group, state) => {
      const { lr, rho, eps, weightDecay } = opts<Required<AdadeltaOptions>>(group);
      const g = withL2(grad, p, weightDecay);
      const sq = buffer(state, 'squareAvg', () => T.zerosLike(p));
      const acc = buffer(state, 'accDelta', () => T.zerosLike(p));
      sq.copy_(ema(sq, T.square(g), rho));
      const delta = T.mul(T.div(T.sqrt(T.add(acc, eps)), T.sqrt(T.add(sq, eps))), g);
      acc.copy_(ema(acc, T.square(delta), rho));
      p.copy_(T.sub(p, T.mul(delta, lr)));
    });
  }
}
