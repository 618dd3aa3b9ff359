/** Stochastic gradient descent with momentum, dampening, Nesterov and L2 weight decay (torch.optim.SGD). */
import * as T from '@tessera/tensor';
import { Optimizer, type ParamsArg } from '../optimizer.js';
import { boolean, buffer, checkGroups, nonNegative, opts, withL2 } from './util.js';

export interface SGDOptions {
  /** Required, as in PyTorch. */
  lr: number;
  momentum?: number;
  dampening?: number;
  weightDecay?: number;
  nesterov?: boolean;
  maximize?: boolean;
}

export class SGD extends Optimizer<Required<SGDOptions>> {
  constructor(params: ParamsArg, options: SGDOptions) {
    if (options?.lr === undefined) throw new TypeError('SGD: lr is required');
    super(params, { momentum: 0, dampening: 0, weightDecay: 0, nesterov: false, maximize: false, ...options }, 'SGD');
    checkGroups('SGD', this.paramGroups, {
      momentum: [nonNegative, 'a number >= 0'],
      dampening: [(v) => typeof v === 'number' && Number.isFinite(v), 'a finite number'],
      weightDecay: [nonNegative, 'a number >= 0'],
      nesterov: [boolean, 'a boolean'],
      maximize: [boolean, 'a boolean'],
    });
    this.paramGroups.forEach((g, gi) => {
      if (g.nesterov && ((g.momentum as number) <= 0 || g.dampening !== 0)) throw new RangeError(`SGD: nesterov needs momentum > 0 and dampening 0, received momentum ${String(g.momentum)}, dampening ${String(g.dampening)} (group ${gi})`);
    });
  }

  step(): void {
    this.forEachParam((p, grad, group, state) => {
      const { lr, momentum, dampening, weightDecay, nesterov } = opts<Required<SGDOptions>>(group);
      let d = withL2(grad, p, weightDecay);
      if (momentum !== 0) {
        // The first step starts the buffer at the gradient itself (no dampening), as PyTorch does.
        const fresh = !(state.momentumBuffer instanceof T.Tensor);
        const buf = buffer(state, 'momentumBuffer', () => d.clone());
        if (!fresh) buf.copy_(T.add(T.mul(buf, momentum), T.mul(d, 1 - dampening)));
        d = nesterov ? T.add(d, T.mul(buf, momentum)) : buf;
      }
      p.copy_(T.sub(p, T.mul(d, lr)));
    });
  }
}
