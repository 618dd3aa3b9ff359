/** RAdam: Adam with the variance of the adaptive rate rectified (torch.optim.RAdam). */
import * as T from '@tessera/tensor';
import { Optimizer, type ParamsArg } from '../optimizer.js';
import { ADAM_FAMILY_CHECKS, buffer, checkGroups, ema, nextStep, opts, withL2 } from './util.js';

export interface RAdamOptions {
  lr?: number;
  betas?: [number, number];
  eps?: number;
  weightDecay?: number;
  maximize?: boolean;
}

export class RAdam extends Optimizer<Required<RAdamOptions>> {
  constructor(params: ParamsArg, options: RAdamOptions = {}) {
    super(params, { lr: 1e-3, betas: [0.9, 0.999], eps: 1e-8, weightDecay: 0, maximize: false, ...options }, 'RAdam');
    checkGroups('RAdam', this.paramGroups, ADAM_FAMILY_CHECKS);
  }

  step(): void {
    this.forEachParam((p, grad, group, state) => {
      const { lr, betas, eps, weightDecay } = opts<Required<RAdamOptions>>(group);
      const [beta1, beta2] = betas;
      const step = nextStep(state);
      const g = withL2(grad, p, weightDecay);
      const m = buffer(state, 'expAvg', () => T.zerosLike(p));
      const v = buffer(state, 'expAvgSq', () => T.zerosLike(p));
      m.copy_(ema(m, g, beta1));
      v.copy_(ema(v, T.square(g), beta2));
      const bc1 = 1 - beta1 ** step;
      const bc2 = 1 - beta2 ** step;
      const rhoInf = 2 / (1 - beta2) - 1;
      const rho = rhoInf - (2 * step * beta2 ** step) / bc2;
      // Early on (rho <= 5) the variance estimate is too noisy: take an un-adapted momentum step.
      if (rho > 5) {
        const rect = Math.sqrt(((rho - 4) * (rho - 2) * rhoInf) / ((rhoInf - 4) * (rhoInf - 2) * rho));
        const adaptive = T.div(Math.sqrt(bc2), T.add(T.sqrt(v), eps));
        p.copy_(T.sub(p, T.mul(T.mul(m, adaptive), (lr * rect) / bc1)));
      } else {
        p.copy_(T.sub(p, T.mul(m, lr / bc1)));
      }
    });
  }
}
