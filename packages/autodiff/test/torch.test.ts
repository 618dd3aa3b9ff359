/**
 * Golden gradients from PyTorch (fixtures/gen_torch.py) for composite functions: the same
 * computation written with tessera ops must give the same loss and the same gradient of every
 * float input, on cpu in float64 and on webgpu in float32.
 */
import { readFileSync } from 'node:fs';
import { expect, it } from 'vitest';
import * as T from '@tessera/tensor';
import type { DeviceName, DType, Tensor } from '@tessera/tensor';
import { backward, grad } from '../src/index.js';
import { expectClose, floatFor, forEachBackend } from './helpers.js';

interface FixtureTensor {
  shape: number[];
  dtype: DType;
  data: number[];
}
interface TorchCase {
  name: string;
  inputs: Record<string, FixtureTensor>;
  loss: number;
  grads: Record<string, FixtureTensor>;
}

const cases: TorchCase[] = JSON.parse(readFileSync(new URL('./fixtures/torch.json', import.meta.url), 'utf8')).cases;

type Inputs = Record<string, Tensor>;

const softmaxCrossEntropy = ({ logits, targets }: Inputs) =>
  T.neg(T.mean(T.gather(T.logSoftmax(logits, 1), 1, T.unsqueeze(targets, 1))));

const layerNorm = ({ x, gamma, beta, r }: Inputs) => {
  const mu = T.mean(x, { dim: 1, keepdim: true });
  const variance = T.variance(x, { dim: 1, keepdim: true, correction: 0 });
  const y = T.add(T.mul(T.mul(T.sub(x, mu), T.rsqrt(T.add(variance, 1e-5))), gamma), beta);
  return T.sum(T.mul(y, r));
};

const attention = ({ q, k, v, r }: Inputs) => {
  const w = T.softmax(T.div(T.matmul(q, T.transpose(k, 1, 2)), Math.sqrt(q.shape[2])), -1);
  return T.sum(T.mul(T.matmul(w, v), r));
};

const gcn = ({ x, w, src, dst, r }: Inputs) => {
  const msgs = T.indexSelect(x, 0, src);
  const agg = T.segmentSum(msgs, dst, x.shape[0]);
  return T.sum(T.mul(T.relu(T.matmul(agg, w)), r));
};

const coupling = ({ x, a, wa, ws, bs, wt, bt, r }: Inputs) => {
  const [x1, x2] = T.split(x, 2, 1);
  const h = T.tanh(T.add(T.matmul(x1, a), wa));
  const s = T.tanh(T.add(T.matmul(h, ws), bs));
  const t = T.add(T.matmul(h, wt), bt);
  const y2 = T.add(T.mul(T.exp(s), x2), t);
  const logdet = T.sum(s, { dim: 1 });
  return T.add(T.sum(T.mul(T.cat([x1, y2], 1), r)), T.sum(logdet));
};

const losses: Record<string, (inputs: Inputs) => Tensor> = {
  'softmax cross-entropy': softmaxCrossEntropy,
  'layer norm': layerNorm,
  'scaled dot-product attention': attention,
  'GCN layer': gcn,
  'affine coupling flow': coupling,
};

function load(c: TorchCase, device: DeviceName): Inputs {
  const float = floatFor(device);
  return Object.fromEntries(
    Object.entries(c.inputs).map(([k, f]) => [k, T.tensor(f.data, { dtype: f.dtype === 'float64' ? float : f.dtype, device, shape: f.shape })]),
  );
}

forEachBackend('gradients match PyTorch', (device: DeviceName) => {
  const tol = device === 'cpu' ? { atol: 1e-10, rtol: 1e-9 } : { atol: 1e-4, rtol: 1e-4 };

  it('has a loss for every fixture case', () => {
    expect(cases.map((c) => c.name).sort()).toEqual(Object.keys(losses).sort());
  });

  for (const c of cases) {
    it(`${c.name} (backward)`, async () => {
      const inputs = load(c, device);
      for (const k of Object.keys(c.grads)) inputs[k].requiresGrad_();
      const loss = T.tidy(() => losses[c.name](inputs));
      await expectClose(loss, [c.loss], tol);
      backward(loss);
      for (const [k, g] of Object.entries(c.grads)) {
        expect(inputs[k].grad, `gradient of ${k}`).not.toBeNull();
        await expectClose(inputs[k].grad!, g.data, { ...tol, shape: g.shape });
      }
      T.dispose([loss, inputs]);
    });

    it(`${c.name} (functional grad, inputs untouched)`, async () => {
      const inputs = load(c, device);
      const names = Object.keys(c.grads);
      const gs = grad((params: Inputs) => losses[c.name]({ ...inputs, ...params }))(Object.fromEntries(names.map((k) => [k, inputs[k]])));
      for (const k of names) {
        await expectClose(gs[k], c.grads[k].data, { ...tol, shape: c.grads[k].shape });
        expect(inputs[k].grad).toBeNull();
      }
      T.dispose([gs, inputs]);
    });
  }
});
