// The README's example, run as written (with a check in place of the console.log).
import { expect, it } from 'vitest';
import * as T from '@tessera/tensor';
import { backward } from '@tessera/autodiff';
import { AdamW, CosineAnnealingLR, clipGradNorm } from '../src/index.js';

it('the README example fits the linear model', async () => {
  T.manualSeed(0);
  const w = T.randn([3, 1]).requiresGrad_();
  const x = T.randn([64, 3]);
  const y = T.matmul(x, T.tensor([[1], [-2], [0.5]]));
  const opt = new AdamW([w], { lr: 0.1, weightDecay: 0.01 });
  const sched = new CosineAnnealingLR(opt, { TMax: 100 });
  for (let step = 0; step < 100; step++) {
    opt.zeroGrad();
    T.tidy(() => backward(T.mean(T.square(T.sub(T.matmul(x, w), y)))));
    clipGradNorm([w], 1.0).dispose();
    opt.step();
    sched.step();
  }
  const got = (await w.array()) as number[][];
  [1, -2, 0.5].forEach((v, i) => expect(Math.abs(got[i][0] - v)).toBeLessThan(0.05));
  T.dispose([w, x, y]);
});
