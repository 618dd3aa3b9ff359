/**
 * Adam (torch.optim.Adam: L2 weight decay folded into the gradient) and AdamW (torch.optim.AdamW:
 * weight decay applied to the parameter, decoupled from the adaptive step), with AMSGrad.
 */
import * as T from '@tessera/tensor';
import { Optimizer, type ParamGroup, type ParamState, type ParamsArg } from '../optimizer.js';
import type { Tensor } from '@tessera/tensor';
import { ADAM_FAMILY_CHECKS, boolean, buffer, checkGroups, ema, nextStep, opts, withL2 } from './util.js';

export interface AdamOptions {
  lr?: number;
  betas?: [number, number];
  eps?: number;
  weightDecay?: number;
  amsgrad?: boolean;
  maximize?: boolean;
}

const SPEC = { ...ADAM_FAMILY_CHECKS, amsgrad: [boolean, 'a boolean'] } as const;

/** One Adam step for `p`; `decoupled` selects AdamW's decay. */
function adamUpdate(p: Tensor, grad: Tensor, group: ParamGroup, state: ParamState, decoupled: boolean): void {
  const { lr, betas, eps, weightDecay, amsgrad } = opts<Required<AdamOptions>>(group);
  const [beta1, beta2] = betas;
  const step = nextStep(state);
  const g = decoupled ? grad : withL2(grad, p, weightDecay);
  const base = decoupled && weightDecay !== 0 ? T.mul(p, 1 - lr * weightDecay) : p;
  const m = buffer(state, 'expAvg', () => T.zerosLike(p));
  const v = buffer(state, 'expAvgSq', () => T.zerosLike(p));
  m.copy_(ema(m, g, beta1));
  v.copy_(ema(v, T.square(g), beta2));
  let second = v;
  if (amsgrad) {
    const vmax = buffer(state, 'maxExpAvgSq', () => T.zerosLike(p));
    vmax.copy_(T.maximum(vmax, v));
    second = vmax;
  }
  const bc1 = 1 - beta1 ** step;
  const bc2 = 1 - beta2 ** step;
  const denom = T.add(T.div(T.sqrt(second), Math.sqrt(bc2)), eps);
  p.copy_(T.sub(base, T.mul(T.div(m, denom), lr / bc1)));
}

export class Adam extends Optimizer<Required<AdamOptions>> {
  constructor(params: ParamsArg, options: AdamOptions = {}) {
    super(params, { lr: 1e-3, betas: [0.9, 0.999], eps: 1e-8, weightDecay: 0, amsgrad: false, maximize: false, ...options }, 'Adam');
    checkGroups('Adam', this.paramGroups, SPEC);
  }

  step(): void {
    this.forEachParam((p, grad, group, state) => adamUpdate(p, grad, group, state, false));
  }
}

export class AdamW extends Optimizer<Required<AdamOptions>> {
  constructor(params: ParamsArg, options: AdamOptions = {}) {
    super(params, { lr: 1e-3, betas: [0.9, 0.999], eps: 1e-8, weightDecay: 1e-2, amsgrad: false, maximize: false, ...options }, 'AdamW');
    checkGroups('AdamW', this.paramGroups, SPEC);
  }

  step(): void {
    this.forEachParam((p, grad, group, state) => adamUpdate(p, grad, group, state, true));
  }
}
