/** Activation and regularisation functions in F.* form: thin wrappers of the tensor ops. */
import * as T from '@tessera/tensor';
import { checkFloat, checkNumber } from './reduction.js';

export { relu, gelu, softmax, logSoftmax, sigmoid, tanh, silu, leakyRelu, elu, softplus } from '@tessera/tensor';

/**
 * Zeroes each element with probability p and scales the rest by 1 / (1 - p) when `training`
 * (default true); otherwise returns a view of x. The mask comes from T.bernoulli, so it follows
 * T.manualSeed / `generator`.
 */
export function dropout(x: T.Tensor, p = 0.5, training = true, options: { generator?: T.Generator } = {}): T.Tensor {
  const fn = 'dropout';
  checkFloat(fn, x, 'input');
  checkNumber(fn, p, 'p', (v) => v >= 0 && v <= 1, 'a probability in [0, 1]');
  if (!training || p === 0) return T.cast(x, x.dtype);
  if (p === 1) return T.tidy(() => T.mul(x, 0));
  return T.tidy(() => {
    const keep = T.bernoulli(1 - p, x.shape, { dtype: x.dtype, device: x.device, generator: options.generator });
    return T.mul(x, T.div(keep, 1 - p));
  });
}
