/** Adagrad: per-coordinate rates from the running sum of squared gradients (torch.optim.Adagrad). */
import * as T from '@tessera/tensor';
import { Optimizer, type ParamsArg } from '../optimizer.js';
import { boolean, buffer, checkGroups, nextStep, nonNegative, opts, withL2 } from './util.js';

export interface AdagradOptions {
  lr?: number;
  lrDecay?: number;
  weightDecay?: number;
  initialAccumulatorValue?: number;
  eps?: number;
  maximize?: boolean;
}

export class Adagrad extends Optimizer<Required<AdagradOptions>> {
  constructor(params: ParamsArg, options: AdagradOptions = {}) {
    super(params, { lr: 1e-2, lrDecay: 0, weightDecay: 0, initialAccumulatorValue: 0, eps: 1e-10, maximize: false, ...options }, 'Adagrad');
    checkGroups('Adagrad', this.paramGroups, {
      lrDecay: [nonNegative, 'a number >= 0'],
      weightDecay: [nonNegative, 'a number >= 0'],
      initialAccumulatorValue: [nonNegative, 'a number >= 0'],
      eps: [nonNegative, 'a number >= 0'],
      maximize: [boolean, 'a boolean'],
    });
  }

  step(): void {
    this.forEachParam((p, grad, group, state) => {
      const { lr, lrDecay, weightDecay, initialAccumulatorValue, eps } = opts<Required<AdagradOptions>>(group);
      const step = nextStep(state);
      const g = withL2(grad, p, weightDecay);
      const sum = buffer(state, 'sum', () => T.fullLike(p, initialAccumulatorValue));
      sum.copy_(T.add(sum, T.square(g)));
      const clr = lr / (1 + (step - 1) * lrDecay);
      p.copy_(T.sub(p, T.mul(T.div(g, T.add(T.sqrt(sum), eps)), clr)));
    });
  }
}
