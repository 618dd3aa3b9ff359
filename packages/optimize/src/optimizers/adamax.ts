/** Adamax: Adam with the infinity norm in place of the second moment (torch.optim.Adamax). */
import * as T from '@tessera/tensor';
import { Optimizer, type ParamsArg } from '../optimizer.js';
import { ADAM_FAMILY_CHECKS, buffer, checkGroups, ema, nextStep, opts, withL2 } from './util.js';

export interface AdamaxOptions {
  lr?: number;
  betas?: [number, number];
  eps?: number;
  weightDecay?: number;
  maximize?: boolean;
}

export class Adamax extends Optimizer<Required<AdamaxOptions>> {
  constructor(params: ParamsArg, options: AdamaxOptions = {}) {
    super(params, { lr: 2e-3, betas: [0.9, 0.999], eps: 1e-8, weightDecay: 0, maximize: false, ...options }, 'Adamax');
    checkGroups('Adamax', this.paramGroups, ADAM_FAMILY_CHECKS);
  }

  step(): void {
    this.forEachParam((p, grad, group, state) => {
      const { lr, betas, eps, weightDecay } = opts<Required<AdamaxOptions>>(group);
      const step = nextStep(state);
      const g = withL2(grad, p, weightDecay);
      const m = buffer(state, 'expAvg', () => T.zerosLike(p));
      const u = buffer(state, 'expInf', () => T.zerosLike(p));
      m.copy_(ema(m, g, betas[0]));
      // eps joins |g| before the max (as PyTorch), so u never reaches 0 and the division is safe.
      u.copy_(T.maximum(T.mul(u, betas[1]), T.add(T.abs(g), eps)));
      p.copy_(T.sub(p, T.mul(T.div(m, u), lr / (1 - betas[0] ** step))));
    });
  }
}
