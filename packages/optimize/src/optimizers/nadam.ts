/**
 * NAdam: Adam with Nesterov momentum and Dozat's momentum schedule (torch.optim.NAdam, as in torch
 * >= 2.0: torch 1.13 multiplied mu into the next step's momentum product twice).
 */
import * as T from '@tessera/tensor';
import { Optimizer, type ParamsArg } from '../optimizer.js';
import { ADAM_FAMILY_CHECKS, buffer, checkGroups, ema, nextStep, nonNegative, opts, withL2 } from './util.js';

export interface NAdamOptions {
  lr?: number;
  betas?: [number, number];
  eps?: number;
  weightDecay?: number;
  momentumDecay?: number;
  maximize?: boolean;
}

export class NAdam extends Optimizer<Required<NAdamOptions>> {
  constructor(params: ParamsArg, options: NAdamOptions = {}) {
    super(params, { lr: 2e-3, betas: [0.9, 0.999], eps: 1e-8, weightDecay: 0, momentumDecay: 4e-3, maximize: false, ...options }, 'NAdam');
    checkGroups('NAdam', this.paramGroups, {
      ...ADAM_FAMILY_CHECKS,
      momentumDecay: [nonNegative, 'a number >= 0'],
    });
  }

  step(): void {
    this.forEachParam((p, grad, group, state) => {
      const { lr, betas, eps, weightDecay, momentumDecay } = opts<Required<NAdamOptions>>(group);
      const [beta1, beta2] = betas;
      const step = nextStep(state);
      const g = withL2(grad, p, weightDecay);
      // The momentum coefficient warms up over steps: mu_t = beta1 (1 - 0.5 * 0.96^(t psi)).
      const mu = beta1 * (1 - 0.5 * 0.96 ** (step * momentumDecay));
      const muNext = beta1 * (1 - 0.5 * 0.96 ** ((step + 1) * momentumDecay));
      const muProduct = ((state.muProduct as number | undefined) ?? 1) * mu;
      state.muProduct = muProduct;
      const m = buffer(state, 'expAvg', () => T.zerosLike(p));
      const v = buffer(state, 'expAvgSq', () => T.zerosLike(p));
      m.copy_(ema(m, g, beta1));
      v.copy_(ema(v, T.square(g), beta2));
      const denom = T.add(T.sqrt(T.div(v, 1 - beta2 ** step)), eps);
      const fromGrad = T.mul(T.div(g, denom), (lr * (1 - mu)) / (1 - muProduct));
      const fromAvg = T.mul(T.div(m, denom), (lr * muNext) / (1 - muProduct * muNext));
      p.copy_(T.sub(T.sub(p, fromGrad), fromAvg));
    });
  }
}
