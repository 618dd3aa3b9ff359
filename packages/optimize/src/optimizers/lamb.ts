/**
 * LAMB (You et al. 2019, "Large Batch Optimization for Deep Learning", Algorithm 2): the
 * bias-corrected Adam direction plus decoupled weight decay, u = m_hat / (sqrt(v_hat) + eps) + weightDecay * w,
 * scaled per parameter tensor by the trust ratio ||w|| / ||u|| (1 when either norm is 0):
 *   w = w - lr * (||w|| / ||u||) * u.
 */
import * as T from '@tessera/tensor';
import { Optimizer, type ParamsArg } from '../optimizer.js';
import { ADAM_FAMILY_CHECKS, buffer, checkGroups, ema, nextStep, opts, trustRatio } from './util.js';

export interface LAMBOptions {
  lr?: number;
  betas?: [number, number];
  eps?: number;
  weightDecay?: number;
  maximize?: boolean;
}

export class LAMB extends Optimizer<Required<LAMBOptions>> {
  constructor(params: ParamsArg, options: LAMBOptions = {}) {
    super(params, { lr: 1e-3, betas: [0.9, 0.999], eps: 1e-6, weightDecay: 0, maximize: false, ...options }, 'LAMB');
    checkGroups('LAMB', this.paramGroups, ADAM_FAMILY_CHECKS);
  }

  step(): void {
    this.forEachParam((p, grad, group, state) => {
      const { lr, betas, eps, weightDecay } = opts<Required<LAMBOptions>>(group);
      const [beta1, beta2] = betas;
      const step = nextStep(state);
      const m = buffer(state, 'expAvg', () => T.zerosLike(p));
      const v = buffer(state, 'expAvgSq', () => T.zerosLike(p));
      m.copy_(ema(m, grad, beta1));
      v.copy_(ema(v, T.square(grad), beta2));
      const adam = T.div(T.div(m, 1 - beta1 ** step), T.add(T.sqrt(T.div(v, 1 - beta2 ** step)), eps));
      const u = weightDecay !== 0 ? T.add(adam, T.mul(p, weightDecay)) : adam;
      p.copy_(T.sub(p, T.mul(u, T.mul(trustRatio(T.norm(p), T.norm(u)), lr))));
    });
  }
}
