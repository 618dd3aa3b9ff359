import { describe, expect, it } from 'vitest';
import * as T from '../src/index.js';
import { add, arange, bmm, cast, cat, einsum, expand, full, matmul, mm, pad, permute, reshape, softmax, sum, tensor, to, where, zeros, type Tensor } from '../src/index.js';
import { BACKENDS, forEachBackend, useDevices } from './helpers.js';

useDevices();

forEachBackend('errors name the op, the shapes and the dtypes', (device) => {
  const x23 = () => zeros([2, 3], { device });
  const using = (fn: (...ts: Tensor[]) => void, ...ts: Tensor[]) => {
    try {
      fn(...ts);
    } finally {
      T.dispose(ts);
    }
  };

  it('elementwise: shapes that do not broadcast, refused dtypes, non-tensors', () => {
    using((a, b) => {
      expect(() => add(a, b)).toThrow(/add: shapes \[2, 3\] and \[4\] cannot be broadcast together \(dim 1: 3 vs 4\)/);
      expect(() => T.maximum(b, a)).toThrow(/maximum: shapes \[4\] and \[2, 3\] cannot be broadcast/);
      expect(() => where(T.gt(a, 0), a, b)).toThrow(/where: shapes \[2, 3\] and \[2, 3\] and \[4\] cannot be broadcast/);
    }, x23(), zeros([4], { device }));
    using((b) => {
      expect(() => T.neg(b)).toThrow(/neg: dtype bool is not supported/);
      expect(() => T.sub(b, b)).toThrow(/sub: dtype bool is not supported/);
      expect(() => T.floor(b)).toThrow(/floor: dtype bool/);
      expect(() => where(zeros([2], { device }), b, b)).toThrow(/where: expected a bool condition, received float32/);
      expect(() => T.maskedFill(zeros([2], { device }), zeros([2], { device }), 1)).toThrow(/maskedFill: expected a bool mask, received float32/);
    }, zeros([2], { device, dtype: 'bool' }));
    using((a) => expect(() => add(a, 'x' as unknown as number)).toThrow(/add: expected a Tensor or a number, received string/), x23());
    expect(() => add('a' as unknown as Tensor, 2)).toThrow(/add: expected at least one Tensor operand, received string and number/);
    expect(() => T.exp([1, 2] as unknown as Tensor)).toThrow(/exp: expected input to be a Tensor/);
    using((a) => {
      expect(() => T.clamp(a)).toThrow(/clamp: at least one of min and max/);
      expect(() => T.softplus(a, { beta: 0 })).toThrow(/softplus: beta must be positive, received 0/);
      expect(() => T.gelu(a, { approximate: 'fast' as 'tanh' })).toThrow(/gelu: approximate must be 'none' or 'tanh', received 'fast'/);
      expect(() => cast(a, 'float16' as 'float32')).toThrow(/cast: unknown dtype float16/);
    }, x23());
    using((i) => expect(() => T.clamp(i, 0.5, 2)).toThrow(/clamp: fractional bounds on an int32 tensor/), zeros([2], { device, dtype: 'int32' }));
  });

  it('matmul family: inner dims, ranks, dtypes', () => {
    using((a, b, i) => {
      expect(() => matmul(a, b)).toThrow(/matmul: inner dims differ: \[2, 3\] @ \[4, 5\] \(3 vs 4\)/);
      expect(() => matmul(a, full([], 1, { device }))).toThrow(/matmul: both operands need at least one dim, received \[2, 3\] and \[\]/);
      expect(() => matmul(i, i)).toThrow(/matmul: expected float tensors, received int32 and int32/);
      expect(() => matmul(zeros([2, 2, 3], { device }), zeros([3, 3, 1], { device }))).toThrow(/matmul: shapes \[2\] and \[3\] cannot be broadcast/);
      expect(() => mm(zeros([3], { device }), b)).toThrow(/mm: expected 2-d operands, received \[3\] and \[4, 5\]/);
      expect(() => bmm(zeros([2, 2, 3], { device }), zeros([3, 3, 1], { device }))).toThrow(/bmm: expected 3-d operands with equal batch, received \[2, 2, 3\] and \[3, 3, 1\]/);
      expect(() => T.dot(a, a)).toThrow(/dot: expected two 1-d tensors of equal length, received \[2, 3\] and \[2, 3\]/);
      expect(() => T.outer(a, b)).toThrow(/outer: expected 1-d tensors, received \[2, 3\] and \[4, 5\]/);
      expect(() => einsum('ij,jk->ik', a, b)).toThrow(/einsum: index 'j' has sizes 3 and 4/);
      expect(() => einsum('ij->ik', a)).toThrow(/einsum: output index 'k' is not in any input/);
      expect(() => einsum('ijk->', a)).toThrow(/einsum: 'ijk' has 3 indices but operand 0 has shape \[2, 3\]/);
      expect(() => einsum('i j -> 1', a)).toThrow(/einsum: cannot parse/);
    }, x23(), zeros([4, 5], { device }), zeros([2, 2], { device, dtype: 'int32' }));
  });

  it('movement: invalid reshapes, dims out of range, cat and stack shapes', () => {
    using((a) => {
      expect(() => reshape(a, [4])).toThrow(/reshape: cannot reshape a tensor of shape \[2, 3\] \(6 elements\) into \[4\]/);
      expect(() => reshape(a, [-1, 4])).toThrow(/reshape: cannot reshape a tensor of shape \[2, 3\].*\[-1, 4\]/);
      expect(() => T.view(T.transpose(a), [6])).toThrow(/view: a tensor of shape \[3, 2\] and strides \[1, 3\] cannot be viewed as \[6\]/);
      expect(() => permute(a, [0])).toThrow(/permute: expected 2 dims for a tensor of shape \[2, 3\], received \[0\]/);
      expect(() => permute(a, [1, 1])).toThrow(/permute: repeated dim in \[1, 1\]/);
      expect(() => T.transpose(a, 0, 2)).toThrow(/transpose: dim 2 is out of range for a tensor of rank 2/);
      expect(() => T.select(a, 1, 3)).toThrow(/select: index 3 is out of range for dim 1 of size 3/);
      expect(() => T.narrow(a, 1, 2, 2)).toThrow(/narrow: range \[2, 2\+2\) is out of bounds for dim 1 of size 3/);
      expect(() => T.slice(a, 0, 0, 2, 0)).toThrow(/slice: step must be a positive integer, received 0/);
      expect(() => expand(a, [2, 4])).toThrow(/expand: cannot expand shape \[2, 3\] to \[2, 4\]/);
      expect(() => cat([a, zeros([2, 4], { device })], 0)).toThrow(/cat: shapes \[2, 3\], \[2, 4\] differ outside dim 0/);
      expect(() => cat([], 0)).toThrow(/cat: expected a non-empty array/);
      expect(() => T.stack([a, zeros([3, 2], { device })])).toThrow(/stack: expected tensors of equal shape, received \[2, 3\], \[3, 2\]/);
      expect(() => T.split(a, [1, 1], 1)).toThrow(/split: sections \[1, 1\] do not sum to 3/);
      expect(() => T.chunk(a, 0)).toThrow(/chunk: chunks must be a positive integer, received 0/);
      expect(() => pad(a, [1])).toThrow(/pad: expected an even number of integer paddings/);
      expect(() => pad(a, [3, 0], { mode: 'reflect' })).toThrow(/pad: reflect padding \(3, 0\) must be smaller than dim 1 of size 3/);
      expect(() => pad(a, [-1, 0], { mode: 'replicate' })).toThrow(/pad: mode 'replicate' needs non-negative padding/);
      expect(() => pad(a, [1, 1], { mode: 'wrap' as 'reflect' })).toThrow(/pad: unknown mode 'wrap'/);
      expect(() => T.repeat(a, [2])).toThrow(/repeat: expected at least 2 non-negative integer repeats, received \[2\]/);
      expect(() => T.roll(a, [1, 2], [0])).toThrow(/roll: 2 shifts for 1 dims/);
      expect(() => T.tril(zeros([3], { device }))).toThrow(/tril: expected a tensor of rank >= 2, received shape \[3\]/);
    }, x23());
  });

  it('reductions: dims out of range, empty reductions, bad options', () => {
    using((a) => {
      expect(() => sum(a, { dim: 2 })).toThrow(/sum: dim 2 is out of range for a tensor of rank 2 \(expected -2 <= dim < 2\)/);
      expect(() => T.mean(a, { dim: [0, -3] })).toThrow(/mean: dim -3 is out of range for a tensor of rank 2/);
      expect(() => T.max(a, { dim: 5 })).toThrow(/max: dim 5 is out of range/);
      expect(() => T.argmax(a, { dim: -3 })).toThrow(/argmax: dim -3 is out of range/);
      expect(() => softmax(a, 2)).toThrow(/softmax: dim 2 is out of range/);
      expect(() => T.cumsum(a, 3)).toThrow(/cumsum: dim 3 is out of range/);
      expect(() => T.norm(a, { p: 'nuc' as 'fro' })).toThrow(/norm: p must be a number or 'fro', received nuc/);
      expect(() => sum(a, 1 as unknown as T.ReduceOptions)).toThrow(/sum: expected an options object like \{ dim, keepdim \}, received number/);
    }, x23());
    using((e) => {
      expect(() => T.amax(e, { dim: 0 })).toThrow(/amax: cannot reduce over an empty dim of a tensor of shape \[0, 3\]/);
      expect(() => T.argmin(e)).toThrow(/argmin: cannot reduce over an empty dim/);
      expect(() => T.max(e, { dim: 0 })).toThrow(/max: cannot reduce over an empty dim/);
    }, zeros([0, 3], { device }));
  });

  it('non-tensor inputs are refused by name in every family', () => {
    const bad = null as unknown as Tensor;
    const calls: [string, () => unknown][] = [
      ['narrow', () => T.narrow(bad, 0, 0, 1)], ['unflatten', () => T.unflatten(bad, 0, [1])], ['unbind', () => T.unbind(bad)],
      ['mm', () => mm(bad, bad)], ['bmm', () => bmm(bad, bad)], ['reshape', () => reshape(bad, [1])], ['sum', () => sum(bad)],
      ['softmax', () => softmax(bad)], ['matmul', () => matmul(bad, bad)], ['cat', () => cat([bad])], ['where', () => where(bad, 1, 2)],
      ['cast', () => cast(bad, 'int32')], ['max', () => T.max(bad)], ['cumsum', () => T.cumsum(bad, 0)], ['pad', () => pad(bad, [1, 1])],
    ];
    for (const [op, fn] of calls) expect(fn, op).toThrow(new RegExp(`${op}: expected .*Tensor, received null`));
  });

  it('a failing op leaves memory and its inputs as they were', async () => {
    const a = tensor([[1, 2, 3], [4, 5, 6]], { device });
    const b = tensor([1, 2], { device });
    const before = T.memory();
    expect(() => add(a, b)).toThrow(/add/);
    expect(() => matmul(a, a)).toThrow(/matmul/);
    expect(() => T.logsumexp(a, { dim: 4 })).toThrow(/logsumexp/);
    expect(() => T.variance(a, { dim: [0, 9] })).toThrow(/var/);
    expect(() => einsum('ij,jk->ik', a, a)).toThrow(/einsum/);
    expect(() => T.multinomial(a, 7)).toThrow(/multinomial/);
    const after = T.memory();
    expect(after.tensors).toBe(before.tensors);
    expect(after.bytes).toBe(before.bytes);
    expect(Array.from(await a.data())).toEqual([1, 2, 3, 4, 5, 6]);
    T.dispose([a, b]);
  });

  it('creation and random: bad shapes, dtypes and arguments', () => {
    expect(() => tensor([[1, 2], [3]], { device })).toThrow(/tensor: ragged nested array \(dim 1 has lengths 2 and 1\)/);
    expect(() => tensor([1, 2, 3], { device, shape: [2, 2] })).toThrow(/tensor: shape \[2, 2\] needs 4 elements, received 3/);
    expect(() => tensor(['a'] as unknown as number[], { device })).toThrow(/tensor: expected numbers, booleans, nested arrays or a TypedArray, received string/);
    expect(() => tensor([1], { device, dtype: 'int64' as 'int32' })).toThrow(/tensor: unknown dtype int64/);
    expect(() => zeros([2, -1], { device })).toThrow(/full: shape must be an array of non-negative integers, received \[2,-1\]/);
    expect(() => arange(0, 5, 0, { device })).toThrow(/arange: expected finite start, end and a non-zero step, received \(0, 5, 0\)/);
    expect(() => T.linspace(0, 1, -2, { device })).toThrow(/linspace: steps must be a non-negative integer, received -2/);
    expect(() => T.eye(-1, 2, { device })).toThrow(/eye: shape must be/);
    expect(() => tensor([1], { device: 'tpu' as 'cpu' })).toThrow(/tensor: unknown device 'tpu'/);
    expect(() => T.rand([2], { device, dtype: 'int32' })).toThrow(/rand: expected a float dtype, received int32/);
    expect(() => T.randint(3, 3, [2], { device })).toThrow(/randint: expected integers low < high, received 3 and 3/);
    expect(() => T.randperm(-1, { device })).toThrow(/randperm: n must be a non-negative integer, received -1/);
    expect(() => T.normal(0, -1, [2], { device })).toThrow(/normal: std must be non-negative, received -1/);
    expect(() => T.bernoulli(1.5, [2], { device })).toThrow(/bernoulli: p must be in \[0, 1\], received 1.5/);
    expect(() => T.manualSeed(-1)).toThrow(/manualSeed: seed must be a non-negative safe integer, received -1/);
    const p = tensor([0.5, 0.5], { device });
    expect(() => T.multinomial(p, 3)).toThrow(/multinomial: cannot draw 3 samples without replacement from 2 categories/);
    expect(() => T.multinomial(zeros([2, 2, 2], { device }), 1)).toThrow(/multinomial: expected probs of rank 1 or 2, received shape \[2, 2, 2\]/);
    p.dispose();
  });
});

describe('errors: devices', () => {
  const others = BACKENDS.filter((d) => d !== 'cpu');
  it('an unknown or uninitialised device is refused', async () => {
    expect(() => zeros([1], { device: 'tpu' as 'cpu' })).toThrow(/full: unknown device 'tpu'; expected 'cpu' or 'webgpu'/);
    const c = zeros([1], { device: 'cpu' });
    await expect(to(c, 'gpu' as 'cpu')).rejects.toThrow(/to: unknown device 'gpu'/);
    c.dispose();
  });
  for (const device of others) {
    it(`mixing cpu and ${device} tensors names the op and both devices`, () => {
      const a = zeros([2, 2], { device: 'cpu' });
      const b = zeros([2, 2], { device });
      expect(() => add(a, b)).toThrow(new RegExp(`add: expected all tensors on one device, received cpu and ${device}`));
      expect(() => matmul(b, a)).toThrow(new RegExp(`matmul: expected all tensors on one device, received ${device} and cpu`));
      expect(() => cat([a, b])).toThrow(/cat: expected all tensors on one device/);
      expect(() => where(T.gt(b, 0), a, 1)).toThrow(/where: expected all tensors on one device/);
      T.dispose([a, b]);
    });
    it(`float64 on ${device} is refused with a clear error`, async () => {
      const c = tensor(new Float64Array([1, 2]), { device: 'cpu' });
      const g = zeros([2], { device });
      expect(() => zeros([2], { device, dtype: 'float64' })).toThrow(/full: float64 is not supported on the webgpu device/);
      expect(() => cast(g, 'float64')).toThrow(/cast: float64 is not supported on the webgpu device/);
      expect(() => T.rand([2], { device, dtype: 'float64' })).toThrow(/float64 is not supported on the webgpu device/);
      await expect(to(c, device)).rejects.toThrow(/to: float64 is not supported on the webgpu device/);
      expect(() => g.dataSync()).toThrow(/dataSync: tensors on 'webgpu' can only be read asynchronously/);
      T.dispose([c, g]);
    });
  }
});
