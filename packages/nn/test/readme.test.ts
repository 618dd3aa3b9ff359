// The README's example, run as written (with checks in place of the console.log).
import { expect, it } from 'vitest';
import * as T from '@tessera/tensor';
import { backward } from '@tessera/autodiff';
import { SGD } from '@tessera/optimize';
import { Sequential, Linear, ReLU, F } from '../src/index.js';

it('the README example trains and names its parameters as PyTorch does', async () => {
  T.setDefaultDevice('cpu');
  T.manualSeed(0);
  const model = new Sequential(new Linear(4, 16), new ReLU(), new Linear(16, 3));
  const opt = new SGD(model.parameters(), { lr: 0.1, momentum: 0.9 });
  const x = T.randn([32, 4]);
  const y = T.argmax(x.slice(1, 0, 3), { dim: 1 });
  const lossAt = () => T.tidy(() => F.crossEntropy(model.forward(x), y).dataSync()[0]);
  const first = lossAt();
  for (let step = 0; step < 100; step++) {
    opt.zeroGrad();
    T.tidy(() => backward(F.crossEntropy(model.forward(x), y)));
    opt.step();
  }
  expect(lossAt()).toBeLessThan(first * 0.3);
  expect(Object.keys(model.stateDict())).toEqual(['0.weight', '0.bias', '2.weight', '2.bias']);
  opt.zeroGrad();
  model.dispose();
  T.dispose([x, y]);
});
