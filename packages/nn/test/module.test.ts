import { beforeAll, describe, expect, it } from 'vitest';
import * as T from '@tessera/tensor';
import { backward } from '@tessera/autodiff';
import * as nn from '../src/index.js';
import { init } from '../src/index.js';
import { expectClose, forEachBackend, BACKENDS } from '../../tensor/test/helpers.js';

/** A small model touching every discovery rule: own parameter, children, containers, buffers. */
class Net extends nn.Module {
  fc1 = new nn.Linear(3, 4);
  act = new nn.ReLU();
  layers = new nn.ModuleList([new nn.Linear(4, 4), new nn.BatchNorm1d(4)]);
  head = new nn.Sequential(new nn.Linear(4, 2));
  scale = nn.parameter(T.ones([1]));
  notState = T.zeros([2]); // an unmarked tensor is neither a parameter nor a buffer

  forward(x: T.Tensor): T.Tensor {
    return T.tidy(() => {
      let h = this.act.forward(this.fc1.forward(x));
      for (const l of this.layers) h = l.forward(h);
      return T.mul(this.head.forward(h), this.scale);
    });
  }

  override dispose(): void {
    super.dispose();
    this.notState.dispose();
  }
}

/** Modules built without a device option go to the default device, which starting webgpu changes: pin it to cpu. */
const onCpu = () => beforeAll(() => T.setDefaultDevice('cpu'));

const paramNames = ['scale', 'fc1.weight', 'fc1.bias', 'layers.0.weight', 'layers.0.bias', 'layers.1.weight', 'layers.1.bias', 'head.0.weight', 'head.0.bias'];
const bufferNames = ['layers.1.running_mean', 'layers.1.running_var', 'layers.1.num_batches_tracked'];

describe('Module discovery and names (PyTorch-compatible)', () => {
  onCpu();
  it('names parameters, buffers, children and the state dict like PyTorch', () => {
    const net = new Net();
    expect(net.namedParameters().map(([n]) => n)).toEqual(paramNames);
    expect(net.parameters().every((p) => p.requiresGrad && nn.isParameter(p))).toBe(true);
    expect(net.namedBuffers().map(([n]) => n)).toEqual(bufferNames);
    expect(net.namedChildren().map(([n]) => n)).toEqual(['fc1', 'act', 'layers', 'head']);
    expect(net.namedModules().map(([n]) => n)).toEqual(['', 'fc1', 'act', 'layers', 'layers.0', 'layers.1', 'head', 'head.0']);
    expect(net.modules().length).toBe(8);
    // PyTorch's state_dict: per module, its parameters, then its buffers.
    expect(Object.keys(net.stateDict())).toEqual([
      'scale', 'fc1.weight', 'fc1.bias', 'layers.0.weight', 'layers.0.bias', 'layers.1.weight', 'layers.1.bias', ...bufferNames, 'head.0.weight', 'head.0.bias',
    ]);
    net.dispose();
  });

  it('dispose() reaches every submodule through its own dispose() (state beyond parameters is freed), shared ones included', () => {
    const before = T.memory().tensors;
    const inner = new Net(); // its dispose() also frees notState
    const outer = new nn.Sequential(inner, new nn.ReLU(), inner);
    outer.dispose();
    expect(inner.notState.isDisposed).toBe(true);
    expect(T.memory().tensors).toBe(before);
  });

  it('counts a shared module or tensor once, under its first name', () => {
    const lin = new nn.Linear(2, 2);
    const seq = new nn.Sequential(lin, new nn.ReLU(), lin);
    expect(seq.namedParameters().map(([n]) => n)).toEqual(['0.weight', '0.bias']);
    seq.dispose();
  });

  it('registerBuffer / registerParameter and ModuleDict', () => {
    class WithState extends nn.Module {
      constructor() {
        super();
        this.registerBuffer('stepCount', T.zeros([], { dtype: 'int32' }));
        this.registerParameter('gain', T.ones([3]));
      }
      forward(x: T.Tensor) {
        return x;
      }
    }
    const d = new nn.ModuleDict({ enc: new WithState(), dec: new nn.Linear(1, 1, { bias: false }) });
    expect(Object.keys(d.stateDict())).toEqual(['enc.gain', 'enc.step_count', 'dec.weight']);
    expect(d.keys()).toEqual(['enc', 'dec']);
    expect(d.get('dec')).toBeInstanceOf(nn.Linear);
    expect(() => d.get('nope')).toThrow(/no module 'nope'/);
    expect(() => d.forward()).toThrow(/ModuleDict.forward/);
    expect(() => new nn.ModuleList().forward()).toThrow(/ModuleList.forward/);
    expect(() => d.set('a.b', new nn.ReLU())).toThrow(/no '\.'/);
    expect(() => new nn.Sequential(42 as unknown as nn.Module)).toThrow(/Sequential: argument 0 must be a Module, received number/);
    d.dispose();
  });

  it('train() and eval() reach every descendant; apply visits children first', () => {
    const net = new Net();
    expect(net.modules().every((m) => m.training)).toBe(true);
    net.eval();
    expect(net.modules().every((m) => !m.training)).toBe(true);
    net.train();
    expect(net.modules().every((m) => m.training)).toBe(true);
    const order: string[] = [];
    net.head.apply((m) => order.push(m.constructor.name));
    expect(order).toEqual(['Linear', 'Sequential']);
    expect(String(net.head)).toBe('Sequential(\n  (0): Linear(inFeatures=4, outFeatures=2, bias=true)\n)');
    net.dispose();
  });

  it('zeroGrad frees gradients; call is forward; dispose frees everything', () => {
    const before = T.memory().tensors;
    const net = new Net();
    const x = T.randn([5, 3]);
    const y = net.call(x);
    const loss = T.sum(y);
    backward(loss);
    expect(net.parameters().every((p) => p.grad !== null)).toBe(true);
    net.zeroGrad();
    expect(net.parameters().every((p) => p.grad === null)).toBe(true);
    T.dispose([x, y, loss]);
    net.dispose();
    expect(T.memory().tensors).toBe(before);
  });
});

describe('stateDict / loadStateDict', () => {
  onCpu();
  it('round-trips: a fresh model loaded from a state dict computes the same outputs', async () => {
    T.manualSeed(1);
    const a = new Net();
    const b = new Net();
    const x = T.randn([6, 3]);
    const ya = a.forward(x); // a training step also moves a's running stats
    b.loadStateDict(a.stateDict());
    for (const [k, t] of Object.entries(b.stateDict())) await expectClose(t, await a.stateDict()[k].data(), { atol: 0 });
    a.eval();
    b.eval();
    const [y1, y2] = [a.forward(x), b.forward(x)];
    await expectClose(y1, await y2.data(), { atol: 0 });
    expect(b.parameters().every((p) => p.requiresGrad)).toBe(true);
    T.dispose([x, ya, y1, y2]);
    a.dispose();
    b.dispose();
  });

  it('throws one error listing missing keys, unexpected keys and shape mismatches, and changes nothing', async () => {
    const net = new Net();
    const before = Array.from(await net.fc1.bias!.data());
    const dict: Record<string, T.Tensor> = { ...net.stateDict() };
    delete dict['head.0.bias'];
    delete dict['scale'];
    dict['fc1.bias'] = T.zeros([4]);
    dict['extra.weight'] = T.zeros([1]);
    dict['fc1.weight'] = T.zeros([4, 5]);
    let msg = '';
    try {
      net.loadStateDict(dict);
    } catch (e) {
      msg = (e as Error).message;
    }
    expect(msg).toMatch(/^Net\.loadStateDict/);
    expect(msg).toContain('Unexpected key(s): "extra.weight"');
    expect(msg).toContain('Missing key(s): "scale", "head.0.bias"');
    expect(msg).toContain('size mismatch for fc1.weight: copying a param with shape [4, 5], the shape in the current model is [4, 3]');
    expect(Array.from(await net.fc1.bias!.data())).toEqual(before);
    // strict: false tolerates missing and unexpected keys but never a shape mismatch.
    expect(() => net.loadStateDict(dict, { strict: false })).toThrow(/size mismatch for fc1.weight/);
    dict['fc1.weight'] = T.ones([4, 3]);
    const res = net.loadStateDict(dict, { strict: false });
    expect(res).toEqual({ missingKeys: ['scale', 'head.0.bias'], unexpectedKeys: ['extra.weight'] });
    await expectClose(net.fc1.weight, new Array(12).fill(1));
    await expectClose(net.fc1.bias!, [0, 0, 0, 0]);
    T.dispose([dict['fc1.bias'], dict['extra.weight'], dict['fc1.weight']]);
    net.dispose();
  });
});

forEachBackend('Module on a device', (device) => {
  onCpu();
  it('to(device) moves parameters and buffers; forward matches cpu', async () => {
    T.manualSeed(5);
    const net = new Net().eval();
    const x = T.randn([4, 3]);
    const want = net.forward(x);
    const params = net.parameters();
    await net.to(device);
    expect(net.parameters().every((p) => p.device === device && nn.isParameter(p) && p.requiresGrad)).toBe(true);
    expect(net.buffers().every((b) => b.device === device && nn.isBuffer(b))).toBe(true);
    if (device !== 'cpu') expect(params.every((p) => p.isDisposed)).toBe(true);
    const xd = await T.to(x, device);
    const got = net.forward(xd);
    await expectClose(got, want, { atol: 1e-5 });
    await net.to('cpu');
    expect(net.parameters().every((p) => p.device === 'cpu')).toBe(true);
    T.dispose([x, xd, want, got]);
    net.dispose();
  });

  it('Sequential gives the same outputs and gradients as calling its modules in turn', async () => {
    T.manualSeed(8);
    const [l1, act, l2] = [new nn.Linear(3, 5, { device }), new nn.Tanh(), new nn.Linear(5, 2, { device })];
    const seq = new nn.Sequential(l1, act, l2);
    const x = T.randn([4, 3], { device });
    const manual = T.tidy(() => T.sum(T.square(l2.forward(act.forward(l1.forward(x))))));
    backward(manual);
    const want = await Promise.all(seq.parameters().map((p) => p.grad!.data()));
    seq.zeroGrad();
    const viaSeq = T.tidy(() => T.sum(T.square(seq.forward(x))));
    await expectClose(viaSeq, await manual.data());
    backward(viaSeq);
    for (const [i, p] of seq.parameters().entries()) await expectClose(p.grad!, want[i], { atol: 1e-6 });
    T.dispose([x, manual, viaSeq]);
    seq.dispose();
  });

  it('memory stays flat over 50 forward + backward steps of a small Sequential', () => {
    T.manualSeed(2);
    const model = new nn.Sequential(new nn.Linear(8, 16, { device }), new nn.BatchNorm1d(16, { device }), new nn.GELU(), new nn.Dropout(0.2), new nn.Linear(16, 1, { device }));
    const x = T.randn([10, 8], { device });
    const step = () => {
      model.zeroGrad();
      const loss = T.tidy(() => T.mean(T.square(model.forward(x))));
      backward(loss);
      loss.dispose();
    };
    for (let i = 0; i < 3; i++) step();
    const start = T.memory();
    for (let i = 0; i < 50; i++) step();
    const end = T.memory();
    expect(end.tensors).toBe(start.tensors);
    expect(end.bytes).toBe(start.bytes);
    model.zeroGrad();
    x.dispose();
    model.dispose();
  });

  it('init functions fill in place on the device', async () => {
    const w = T.zeros([64, 128], { device }).requiresGrad_();
    const same = init.kaimingUniform_(w);
    expect(same).toBe(w);
    const v = Array.from(await w.data());
    const bound = Math.sqrt(3) * Math.sqrt(2) / Math.sqrt(128); // leakyRelu gain with a = 0
    expect(Math.max(...v.map(Math.abs))).toBeLessThanOrEqual(bound);
    expect(Math.max(...v.map(Math.abs))).toBeGreaterThan(0.95 * bound);
    const q = T.zeros([6, 10], { device });
    init.orthogonal_(q);
    const qqt = T.matmul(q, T.transpose(q, 0, 1));
    const eye = T.eye(6, 6, { device });
    await expectClose(qqt, eye, { atol: 1e-5 });
    T.dispose([w, q, qqt, eye]);
  });
});

/** Mean and (population) std of a tensor's values. */
async function stats(t: T.Tensor): Promise<{ mean: number; std: number }> {
  const v = Array.from(await t.data());
  const mean = v.reduce((a, b) => a + b, 0) / v.length;
  return { mean, std: Math.sqrt(v.reduce((a, b) => a + (b - mean) ** 2, 0) / v.length) };
}

describe('init: statistics of a large tensor match the theory (cpu)', () => {
  onCpu();
  const shape = [256, 512]; // fanIn 512, fanOut 256; 131072 samples: std error of the std ~0.2%
  const cases: [string, (t: T.Tensor) => T.Tensor, number, number][] = [
    ['uniform_(-1, 3)', (t) => init.uniform_(t, { a: -1, b: 3 }), 1, 4 / Math.sqrt(12)],
    ['normal_(2, 0.5)', (t) => init.normal_(t, { mean: 2, std: 0.5 }), 2, 0.5],
    ['xavierUniform_', (t) => init.xavierUniform_(t), 0, Math.sqrt(2 / (512 + 256))],
    ['xavierNormal_ gain 2', (t) => init.xavierNormal_(t, { gain: 2 }), 0, 2 * Math.sqrt(2 / (512 + 256))],
    ['kaimingUniform_ relu fanIn', (t) => init.kaimingUniform_(t, { nonlinearity: 'relu' }), 0, Math.sqrt(2 / 512)],
    ['kaimingNormal_ leakyRelu a=0.2 fanOut', (t) => init.kaimingNormal_(t, { a: 0.2, mode: 'fanOut' }), 0, Math.sqrt(2 / 1.04) / Math.sqrt(256)],
    ['orthogonal_ gain 3', (t) => init.orthogonal_(t, { gain: 3 }), 0, 3 / Math.sqrt(512)],
  ];
  for (const [name, fn, mean, std] of cases) {
    it(name, async () => {
      T.manualSeed(11);
      const t = T.zeros(shape);
      fn(t);
      const s = await stats(t);
      expect(Math.abs(s.mean - mean)).toBeLessThan(0.01 * Math.max(std, 1) + 4 * std / Math.sqrt(t.size));
      expect(Math.abs(s.std / std - 1)).toBeLessThan(0.01);
      t.dispose();
    });
  }

  it('constant_, zeros_, ones_', async () => {
    const t = T.empty([2, 3]);
    await expectClose(init.constant_(t, 0.5), new Array(6).fill(0.5));
    await expectClose(init.zeros_(t), new Array(6).fill(0));
    await expectClose(init.ones_(t), new Array(6).fill(1));
    t.dispose();
  });

  it('orthogonal_ gives QᵀQ = I for tall and for conv-shaped weights', async () => {
    T.manualSeed(4);
    const w = T.zeros([40, 3, 2, 2]); // viewed as [40, 12]
    init.orthogonal_(w);
    const m = T.reshape(w, [40, 12]);
    const qtq = T.matmul(T.transpose(m, 0, 1), m);
    const eye = T.eye(12);
    await expectClose(qtq, eye, { atol: 2e-5 });
    T.dispose([w, m, qtq, eye]);
  });

  it('an explicit generator makes init reproducible and leaves the global stream alone', async () => {
    const a = T.zeros([5, 5]);
    const b = T.zeros([5, 5]);
    init.kaimingNormal_(a, { generator: new T.Generator(9) });
    init.kaimingNormal_(b, { generator: new T.Generator(9) });
    await expectClose(a, await b.data(), { atol: 0 });
    T.dispose([a, b]);
  });

  it('calculateGain', () => {
    expect(init.calculateGain('linear')).toBe(1);
    expect(init.calculateGain('conv2d')).toBe(1);
    expect(init.calculateGain('sigmoid')).toBe(1);
    expect(init.calculateGain('tanh')).toBeCloseTo(5 / 3, 12);
    expect(init.calculateGain('relu')).toBeCloseTo(Math.SQRT2, 12);
    expect(init.calculateGain('leakyRelu')).toBeCloseTo(Math.sqrt(2 / (1 + 0.01 ** 2)), 12);
    expect(init.calculateGain('leakyRelu', 0.2)).toBeCloseTo(Math.sqrt(2 / 1.04), 12);
    expect(init.calculateGain('selu')).toBe(0.75);
    expect(() => init.calculateGain('swishy' as init.Nonlinearity)).toThrow(/calculateGain: unsupported nonlinearity 'swishy'/);
  });

  it('bad inputs', () => {
    const v = T.zeros([5]);
    const i = T.zeros([3, 3], { dtype: 'int32' });
    expect(() => init.xavierUniform_(v)).toThrow(/xavierUniform_: fan in and fan out need a tensor of rank >= 2, received shape \[5\]/);
    expect(() => init.orthogonal_(v)).toThrow(/orthogonal_: expected a tensor of rank >= 2/);
    expect(() => init.normal_(i)).toThrow(/normal_: expected a float tensor, received int32/);
    expect(() => init.uniform_(v, { a: 2, b: 1 })).toThrow(/uniform_: expected finite a <= b/);
    expect(() => init.normal_(v, { std: -1 })).toThrow(/normal_: .*std >= 0/);
    expect(() => init.kaimingUniform_(T.zeros([0, 3]), { mode: 'fanOut' })).toThrow(/zero elements/);
    expect(() => init.kaimingUniform_(i)).toThrow(/int32/);
    T.dispose([v, i]);
  });
});

it('runs on the requested backends', () => {
  expect(BACKENDS.length).toBeGreaterThan(0);
});
