/**
 * Adam (torch.optim.Adam: L2 weight decay folded into the gradient) and AdamW (torch.optim.AdamW:
 * weight decay applied to the parameter, decoupled from the adaptive step), with AMSGrad.
 */
import * as T from '@tessera/tensor';
import { Optimizer, type ParamGroup, type ParamState, type ParamsArg } from '../optimizer.js';
import type { Tensor } from '@tessera/tensor';
import { ADAM_FAMILY_CHECKS, boolean, buffer, checkGroups, nextStep, opts } from './util.js';

export interface AdamOptions {
  lr?: number;
  betas?: [number, number];
  eps?: number;
  weightDecay?: number;
  amsgrad?: boolean;
  maximize?: boolean;
}

const SPEC = { ...ADAM_FAMILY_CHECKS, amsgrad: [boolean, 'a boolean'] } as const;

/**
 * One Adam step for `p`; `decoupled` selects AdamW's decay. The tensor core's fused `adamStep_`
 * does the whole update in one kernel per parameter on webgpu (on cpu, the same elementwise ops).
 */
function adamUpdate(p: Tensor, grad: Tensor, group: ParamGroup, state: ParamState, decoupled: boolean): void {
  const { lr, betas, eps, weightDecay, amsgrad } = opts<Required<AdamOptions>>(group);
  const [beta1, beta2] = betas;
  const step = nextStep(state);
  const m = buffer(state, 'expAvg', () => T.zerosLike(p));
  const v = buffer(state, 'expAvgSq', () => T.zerosLike(p));
  const vmax = amsgrad ? buffer(state, 'maxExpAvgSq', () => T.zerosLike(p)) : null;
  T.adamStep_(p, grad, m, v, { lr, beta1, beta2, eps, step, weightDecay, decoupled, maxExpAvgSq: vmax });
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
