/** RMSprop, optionally centered and with momentum (torch.optim.RMSprop). */
import * as T from '@tessera/tensor';
import { Optimizer, type ParamsArg } from '../optimizer.js';
import { boolean, buffer, checkGroups, ema, nextStep, nonNegative, opts, unitInterval, withL2 } from './util.js';

export interface RMSpropOptions {
  lr?: number;
  alpha?: number;
  eps?: number;
  weightDecay?: number;
  momentum?: number;
  centered?: boolean;
  maximize?: boolean;
}

export class RMSprop extends Optimizer<Required<RMSpropOptions>> {
  constructor(params: ParamsArg, options: RMSpropOptions = {}) {
    super(params, { lr: 1e-2, alpha: 0.99, eps: 1e-8, weightDecay: 0, momentum: 0, centered: false, maximize: false, ...options }, 'RMSprop');
    checkGroups('RMSprop', this.paramGroups, {
      alpha: [unitInterval, 'a number in [0, 1)'],
      eps: [nonNegative, 'a number >= 0'],
      weightDecay: [nonNegative, 'a number >= 0'],
      momentum: [nonNegative, 'a number >= 0'],
      centered: [boolean, 'a boolean'],
      maximize: [boolean, 'a boolean'],
    });
  }

  step(): void {
    this.forEachParam((p, grad, group, state) => {
      const { lr, alpha, eps, weightDecay, momentum, centered } = opts<Required<RMSpropOptions>>(group);
      nextStep(state);
      const g = withL2(grad, p, weightDecay);
      const sq = buffer(state, 'squareAvg', () => T.zerosLike(p));
      sq.copy_(ema(sq, T.square(g), alpha));
      let variance = sq;
      if (centered) {
        // Centered: divide by the estimated standard deviation, E[g^2] - E[g]^2, not the RMS.
        const mean = buffer(state, 'gradAvg', () => T.zerosLike(p));
        mean.copy_(ema(mean, g, alpha));
        variance = T.sub(sq, T.square(mean));
      }
      const scaled = T.div(g, T.add(T.sqrt(variance), eps));
      if (momentum > 0) {
        const buf = buffer(state, 'momentumBuffer', () => T.zerosLike(p));
        buf.copy_(T.add(T.mul(buf, momentum), scaled));
        p.copy_(T.sub(p, T.mul(buf, lr)));
      } else {
        p.copy_(T.sub(p, T.mul(scaled, lr)));
      }
    });
  }
}
