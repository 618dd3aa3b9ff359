/**
 * LARS (You, Gitman and Ginsburg 2017, "Large Batch Training of Convolutional Networks"): SGD with
 * momentum where each parameter tensor's step is scaled by a layer-wise trust ratio
 *   local_lr = trustCoefficient * ||w|| / (||g|| + weightDecay * ||w|| + eps),
 *   v = momentum * v + lr * local_lr * (g + weightDecay * w),   w = w - v.
 * The ratio is taken as 1 when ||w|| or ||g|| is 0 (a fresh zero-initialized bias, say). No
 * parameter is excluded by default; to exclude biases and norms, give them to a separate plain SGD.
 */
import * as T from '@tessera/tensor';
import { Optimizer, type ParamsArg } from '../optimizer.js';
import { boolean, buffer, checkGroups, nonNegative, opts, positive, withL2 } from './util.js';

export interface LARSOptions {
  /** Required (the global rate gamma). */
  lr: number;
  momentum?: number;
  weightDecay?: number;
  /** eta in the paper. */
  trustCoefficient?: number;
  eps?: number;
  maximize?: boolean;
}

export class LARS extends Optimizer<Required<LARSOptions>> {
  constructor(params: ParamsArg, options: LARSOptions) {
    if (options?.lr === undefined) throw new TypeError('LARS: lr is required');
    super(params, { momentum: 0.9, weightDecay: 0, trustCoefficient: 1e-3, eps: 0, maximize: false, ...options }, 'LARS');
    checkGroups('LARS', this.paramGroups, {
      momentum: [nonNegative, 'a number >= 0'],
      weightDecay: [nonNegative, 'a number >= 0'],
      trustCoefficient: [positive, 'a number > 0'],
      eps: [nonNegative, 'a number >= 0'],
      maximize: [boolean, 'a boolean'],
    });
  }

  step(): void {
    this.forEachParam((p, grad, group, state) => {
      const { lr, momentum, weightDecay, trustCoefficient, eps } = opts<Required<LARSOptions>>(group);
      const wNorm = T.norm(p);
      const gNorm = T.norm(grad);
      const ok = T.logicalAnd(T.gt(wNorm, 0), T.gt(gNorm, 0));
      const local = T.where(ok, T.div(T.mul(wNorm, trustCoefficient), T.add(T.add(gNorm, T.mul(wNorm, weightDecay)), eps)), 1);
      const update = T.mul(withL2(grad, p, weightDecay), T.mul(local, lr));
      if (momentum === 0) {
        p.copy_(T.sub(p, update));
        return;
      }
      const v = buffer(state, 'momentumBuffer', () => T.zerosLike(p));
      v.copy_(T.add(T.mul(v, momentum), update));
      p.copy_(T.sub(p, v));
    });
  }
}
