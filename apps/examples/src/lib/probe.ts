/**
 * A linear probe for frozen features (node embeddings, self-supervised representations):
 * multinomial logistic regression trained full-batch with Adam, an L2 penalty on the weights
 * (not the bias). The default penalty is scikit-learn's LogisticRegression(C = 1) — the loss
 * Σ CE + ½‖W‖², i.e. weight decay 1 / n_train on the mean loss — on the raw features, which is
 * what PyG's node2vec example fits. Optionally the feature columns are standardised first (zero
 * mean, unit variance, statistics over all rows: they involve no labels).
 */
import * as T from '@tessera/tensor';
import { backward, noGrad } from '@tessera/autodiff';
import { F, parameter } from '@tessera/nn';
import { Adam } from '@tessera/optimize';

export interface ProbeOptions {
  /** Full-batch Adam steps (default 300). */
  epochs?: number;
  /** Adam learning rate (default 0.05). */
  lr?: number;
  /** L2 weight decay on the mean loss (default 1 / n_train, scikit-learn's C = 1). */
  weightDecay?: number;
  /** Standardise the feature columns first (default false, as scikit-learn). */
  standardize?: boolean;
}

export interface ProbeResult {
  trainAccuracy: number;
  testAccuracy: number;
  /** Training loss (mean cross-entropy, without the penalty) per step. */
  losses: number[];
  weightDecay: number;
}

const shapeStr = (t: T.Tensor) => `[${t.shape.join(', ')}]`;

/**
 * Fits the probe on rows `trainIdx` of `features` [N, F] with int32 `labels` [N] and reports the
 * accuracy on `trainIdx` and `testIdx` (int32 index tensors). The weights start at zero, so the
 * result does not depend on a seed.
 */
export async function linearProbe(features: T.Tensor, labels: T.Tensor, trainIdx: T.Tensor, testIdx: T.Tensor, options: ProbeOptions = {}): Promise<ProbeResult> {
  const op = 'linearProbe';
  if (features.rank !== 2) throw new RangeError(`${op}: expected features [N, F], received ${shapeStr(features)}`);
  const [N, Fdim] = features.shape;
  if (labels.dtype !== 'int32' || labels.rank !== 1 || labels.shape[0] !== N) throw new RangeError(`${op}: expected int32 labels [${N}], received ${labels.dtype} ${shapeStr(labels)}`);
  for (const [name, idx] of [['trainIdx', trainIdx], ['testIdx', testIdx]] as const) {
    if (idx.dtype !== 'int32' || idx.rank !== 1 || idx.shape[0] === 0) throw new RangeError(`${op}: expected a non-empty int32 ${name}, received ${idx.dtype} ${shapeStr(idx)}`);
  }
  const epochs = options.epochs ?? 300;
  const lr = options.lr ?? 0.05;
  const weightDecay = options.weightDecay ?? 1 / trainIdx.shape[0];
  const top = T.amax(labels);
  const numClasses = (await top.item()) + 1;
  top.dispose();
  const device = features.device;
  const x = noGrad(() =>
    T.tidy(() => {
      const f = features.cast('float32');
      if (options.standardize !== true) return T.clone(f);
      const mu = T.mean(f, { dim: 0, keepdim: true });
      const sd = T.add(T.std(f, { dim: 0, keepdim: true, correction: 0 }), 1e-8);
      return T.div(T.sub(f, mu), sd);
    }),
  );
  const xTrain = T.indexSelect(x, 0, trainIdx);
  const yTrain = T.indexSelect(labels, 0, trainIdx);
  const W = parameter(T.zeros([Fdim, numClasses], { device }));
  const b = parameter(T.zeros([numClasses], { device }));
  const opt = new Adam([{ params: [W], weightDecay }, { params: [b], weightDecay: 0 }], { lr });
  const losses: number[] = [];
  try {
    for (let epoch = 0; epoch < epochs; epoch++) {
      opt.zeroGrad();
      const loss = T.tidy(() => {
        const l = F.crossEntropy(T.add(T.matmul(xTrain, W), b), yTrain);
        backward(l);
        return l;
      });
      opt.step();
      opt.zeroGrad();
      losses.push(await loss.item());
      loss.dispose();
    }
    const acc = noGrad(() =>
      T.tidy(() => {
        const pred = T.argmax(T.add(T.matmul(x, W), b), { dim: 1 });
        const correct = T.eq(pred, labels).float();
        return T.stack([T.mean(T.indexSelect(correct, 0, trainIdx)), T.mean(T.indexSelect(correct, 0, testIdx))]);
      }),
    );
    const [trainAccuracy, testAccuracy] = Array.from(await acc.data());
    acc.dispose();
    return { trainAccuracy, testAccuracy, losses, weightDecay };
  } finally {
    for (const st of opt.state.values()) T.dispose(Object.values(st).filter(T.isTensor));
    T.dispose([x, xTrain, yTrain, W, b]);
  }
}

/** A random split of 0..n−1: the first ⌊fraction·n⌋ of a seeded permutation train, the rest test. */
export function randomSplit(n: number, trainFraction: number, seed: number): { train: Int32Array; test: Int32Array } {
  if (!(trainFraction > 0 && trainFraction < 1)) throw new RangeError(`randomSplit: trainFraction must be in (0, 1), received ${trainFraction}`);
  const perm = Int32Array.from({ length: n }, (_, i) => i);
  const u = new T.Generator(seed).uniform(n, true);
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(u[i] * (i + 1));
    [perm[i], perm[j]] = [perm[j], perm[i]];
  }
  const k = Math.floor(trainFraction * n);
  return { train: perm.slice(0, k).sort(), test: perm.slice(k).sort() };
}
