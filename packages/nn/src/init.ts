import * as T from '@tessera/tensor';
import { noGrad } from '@tessera/autodiff';

/**
 * Weight initialisation as torch.nn.init: each function overwrites `t` in place (copy_, so a
 * parameter keeps its identity) and returns it. Random ones draw from the global generator, or
 * `generator` when given, on the tensor's own device.
 */
export interface InitOptions {
  generator?: T.Generator;
}

export type Nonlinearity = 'linear' | 'conv1d' | 'conv2d' | 'conv3d' | 'convTranspose1d' | 'convTranspose2d' | 'convTranspose3d' | 'sigmoid' | 'tanh' | 'relu' | 'leakyRelu' | 'selu';

function checkTarget(op: string, t: T.Tensor): void {
  if (!(t instanceof T.Tensor)) throw new TypeError(`${op}: expected a Tensor, received ${typeof t}`);
  if (t.dtype !== 'float32' && t.dtype !== 'float64') throw new TypeError(`${op}: expected a float tensor, received ${t.dtype}`);
}

/** Writes the (freshly made, then freed) `src` into `t`. */
function fill(t: T.Tensor, make: () => T.Tensor): T.Tensor {
  noGrad(() => T.tidy(() => void T.copy_(t, make())));
  return t;
}

const rnd = (t: T.Tensor, o: InitOptions) => ({ dtype: t.dtype, device: t.device, generator: o.generator });

/** The recommended gain for a nonlinearity (PyTorch's calculate_gain); `param` is leakyRelu's negative slope (default 0.01). */
export function calculateGain(nonlinearity: Nonlinearity, param?: number): number {
  switch (nonlinearity) {
    case 'linear': case 'conv1d': case 'conv2d': case 'conv3d':
    case 'convTranspose1d': case 'convTranspose2d': case 'convTranspose3d': case 'sigmoid':
      return 1;
    case 'tanh':
      return 5 / 3;
    case 'relu':
      return Math.sqrt(2);
    case 'leakyRelu': {
      const slope = param ?? 0.01;
      if (!Number.isFinite(slope)) throw new TypeError(`calculateGain: negative slope must be a finite number, received ${param}`);
      return Math.sqrt(2 / (1 + slope * slope));
    }
    case 'selu':
      return 3 / 4;
    default:
      throw new TypeError(`calculateGain: unsupported nonlinearity '${String(nonlinearity)}'`);
  }
}

/** fanIn = shape[1] * receptive field, fanOut = shape[0] * receptive field (PyTorch's convention). */
export function calculateFanInAndFanOut(op: string, t: T.Tensor): { fanIn: number; fanOut: number } {
  if (t.rank < 2) throw new RangeError(`${op}: fan in and fan out need a tensor of rank >= 2, received shape [${t.shape.join(', ')}]`);
  const receptive = t.shape.slice(2).reduce((a, b) => a * b, 1);
  return { fanIn: t.shape[1] * receptive, fanOut: t.shape[0] * receptive };
}

export function uniform_(t: T.Tensor, options: InitOptions & { a?: number; b?: number } = {}): T.Tensor {
  checkTarget('uniform_', t);
  const a = options.a ?? 0;
  const b = options.b ?? 1;
  if (!(Number.isFinite(a) && Number.isFinite(b) && a <= b)) throw new RangeError(`uniform_: expected finite a <= b, received a=${a}, b=${b}`);
  return fill(t, () => T.add(T.mul(T.rand(t.shape, rnd(t, options)), b - a), a));
}

export function normal_(t: T.Tensor, options: InitOptions & { mean?: number; std?: number } = {}): T.Tensor {
  checkTarget('normal_', t);
  const mean = options.mean ?? 0;
  const std = options.std ?? 1;
  if (!(Number.isFinite(mean) && std >= 0 && Number.isFinite(std))) throw new RangeError(`normal_: expected a finite mean and std >= 0, received mean=${mean}, std=${std}`);
  return fill(t, () => T.add(T.mul(T.randn(t.shape, rnd(t, options)), std), mean));
}

export function constant_(t: T.Tensor, value: number): T.Tensor {
  checkTarget('constant_', t);
  if (typeof value !== 'number') throw new TypeError(`constant_: expected a number, received ${typeof value}`);
  return fill(t, () => T.full([], value, { dtype: t.dtype, device: t.device }));
}

export const zeros_ = (t: T.Tensor): T.Tensor => constant_(t, 0);
export const ones_ = (t: T.Tensor): T.Tensor => constant_(t, 1);

/** U(-a, a) with a = gain sqrt(6 / (fanIn + fanOut)) (Glorot & Bengio 2010). */
export function xavierUniform_(t: T.Tensor, options: InitOptions & { gain?: number } = {}): T.Tensor {
  checkTarget('xavierUniform_', t);
  const { fanIn, fanOut } = calculateFanInAndFanOut('xavierUniform_', t);
  const bound = (options.gain ?? 1) * Math.sqrt(6 / (fanIn + fanOut));
  return uniform_(t, { a: -bound, b: bound, generator: options.generator });
}

/** N(0, std²) with std = gain sqrt(2 / (fanIn + fanOut)). */
export function xavierNormal_(t: T.Tensor, options: InitOptions & { gain?: number } = {}): T.Tensor {
  checkTarget('xavierNormal_', t);
  const { fanIn, fanOut } = calculateFanInAndFanOut('xavierNormal_', t);
  return normal_(t, { std: (options.gain ?? 1) * Math.sqrt(2 / (fanIn + fanOut)), generator: options.generator });
}

export interface KaimingOptions extends InitOptions {
  /** Negative slope of the leaky ReLU that follows (default 0). */
  a?: number;
  /** Preserve the variance of the forward ('fanIn', default) or backward ('fanOut') pass. */
  mode?: 'fanIn' | 'fanOut';
  nonlinearity?: Nonlinearity;
}

function kaimingStd(op: string, t: T.Tensor, o: KaimingOptions): number {
  const mode = o.mode ?? 'fanIn';
  if (mode !== 'fanIn' && mode !== 'fanOut') throw new TypeError(`${op}: mode must be 'fanIn' or 'fanOut', received '${String(mode)}'`);
  const fans = calculateFanInAndFanOut(op, t);
  const fan = mode === 'fanIn' ? fans.fanIn : fans.fanOut;
  if (fan === 0) throw new RangeError(`${op}: cannot initialise a tensor with zero elements (shape [${t.shape.join(', ')}])`);
  return calculateGain(o.nonlinearity ?? 'leakyRelu', o.a ?? 0) / Math.sqrt(fan);
}

/** U(-b, b) with b = gain sqrt(3 / fan) (He et al. 2015). */
export function kaimingUniform_(t: T.Tensor, options: KaimingOptions = {}): T.Tensor {
  checkTarget('kaimingUniform_', t);
  const bound = Math.sqrt(3) * kaimingStd('kaimingUniform_', t, options);
  return uniform_(t, { a: -bound, b: bound, generator: options.generator });
}

/** N(0, std²) with std = gain / sqrt(fan). */
export function kaimingNormal_(t: T.Tensor, options: KaimingOptions = {}): T.Tensor {
  checkTarget('kaimingNormal_', t);
  return normal_(t, { std: kaimingStd('kaimingNormal_', t, options), generator: options.generator });
}

/**
 * A (semi-)orthogonal matrix (Saxe et al. 2013) for t viewed as [shape[0], rest]: the Q of the QR
 * of a Gaussian matrix, with column signs fixed by diag(R) so that Q is uniformly distributed.
 */
export function orthogonal_(t: T.Tensor, options: InitOptions & { gain?: number } = {}): T.Tensor {
  checkTarget('orthogonal_', t);
  if (t.rank < 2) throw new RangeError(`orthogonal_: expected a tensor of rank >= 2, received shape [${t.shape.join(', ')}]`);
  const rows = t.shape[0];
  const cols = t.size / rows;
  return fill(t, () => {
    const g = T.randn([rows, cols], rnd(t, options));
    const tall = rows < cols ? T.transpose(g, 0, 1) : g;
    const { Q, R } = T.qr(tall);
    const q = T.mul(Q, T.sign(T.diagonal(R)));
    const oriented = rows < cols ? T.transpose(q, 0, 1) : q;
    return T.reshape(T.mul(oriented, options.gain ?? 1), t.shape);
  });
}
