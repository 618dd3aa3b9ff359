/**
 * jax-js runner: `tsx src/systems/jax.ts --device wasm|webgpu [runner flags]`.
 * wasm uses jax-js's own worker pool (`--threads` workers, through the Web Worker shim in
 * node-shims.ts); webgpu runs on the Dawn adapter of the `webgpu` package. Training steps and the
 * GCN are `jit`-compiled, as jax-js recommends; single ops run eagerly.
 *
 * jax-js arrays are reference-counted and every function takes ownership of its arguments: inputs
 * kept across runs are passed as `x.ref`, and `await y.data()` consumes `y`.
 */
import { emit, parseRunnerArgs, runWorkloads, type Case, type Variant, type Workloads } from '../harness.js';
import { readInputs, type GraphInputs } from '../inputs.js';
import { GRAPH, SHAPES } from '../spec.js';
import { installNavigator, installWebGPU, installWebWorker } from './node-shims.js';

const { options, values } = parseRunnerArgs({ device: { type: 'string', default: 'wasm' } });
const device = values.device as 'wasm' | 'webgpu';
if (device !== 'wasm' && device !== 'webgpu') throw new Error(`jax runner: --device must be wasm or webgpu, received ${device}`);
const threads = options.threads > 0 ? options.threads : 1;
const info: Record<string, unknown> = { device };

installNavigator(threads);
if (device === 'wasm' && threads > 1) installWebWorker();
if (device === 'webgpu') info.adapter = await installWebGPU();
const jax = await import('@jax-js/jax');
const { numpy: np, nn, lax, jit, vjp, valueAndGrad } = jax;
type Arr = InstanceType<typeof jax.Array>;

const available = await jax.init(device);
if (!available.includes(device)) throw new Error(`jax runner: device '${device}' is not available (found ${available.join(', ')})`);
jax.defaultDevice(device);
info.library = '@jax-js/jax 0.1.25';
info.threads = device === 'wasm' ? (threads > 1 ? `${threads} workers (Web Worker shim over worker_threads)` : '1 (main thread)') : undefined;
info.formulations = 'GCN: fastest of take + its transpose (sparse) and a dense Â, jit; scatterAdd: transpose of take (vjp); train steps jit; Adam written out (no optax here)';

let seed = 0;
const uniform = (shape: number[]) => jax.random.uniform(jax.random.key(seed++), shape);
const normal = (shape: number[], std: number) => jax.random.normal(jax.random.key(seed++), shape).mul(std);

/** Rows of `x` summed into `n` rows at `index`: the transpose of `take`, which is jax-js's scatter-add. */
function segmentSum(x: Arr, index: Arr, n: number): Arr {
  const [, back] = vjp((z: Arr) => np.take(z, index, 0), [np.zeros([n, x.shape[1]])]);
  const [out] = back(x) as unknown as Arr[];
  back.dispose();
  return out;
}

/** A case whose run returns a fresh array: read it back (which consumes it). */
function outputCase(make: () => Arr, inputs: Arr[], dispose: () => void = () => undefined): Case {
  return {
    async run() {
      await make().data();
    },
    dispose() {
      for (const a of inputs) a.dispose();
      dispose();
    },
  };
}

const matmul = (n: number) => () => {
  const a = uniform([n, n]);
  const b = uniform([n, n]);
  return outputCase(() => np.matmul(a.ref, b.ref), [a, b]);
};

type Adjacency = { rows: Arr; cols: Arr; vals: Arr } | { dense: Arr };

function adjacency(g: GraphInputs, dense: boolean): Adjacency {
  if (!dense) {
    return {
      rows: np.array(g.adjRows, { dtype: np.int32 }),
      cols: np.array(g.adjCols, { dtype: np.int32 }),
      vals: np.array(g.adjVals).reshape([g.adjVals.length, 1]),
    };
  }
  const a = new Float32Array(g.nodes * g.nodes);
  g.adjVals.forEach((v, i) => (a[g.adjRows[i] * g.nodes + g.adjCols[i]] += v));
  return { dense: np.array(a).reshape([g.nodes, g.nodes]) };
}

/** Â h; consumes `adj` and `h`. */
function propagate(adj: Adjacency, h: Arr, n: number): Arr {
  if ('dense' in adj) return np.matmul(adj.dense, h);
  return segmentSum(np.take(h, adj.cols, 0).mul(adj.vals), adj.rows, n);
}

function gcnVariant(label: string, dense: boolean): Variant {
  return {
    label,
    setup() {
      const g = readInputs(options.inputs);
      const n = g.nodes;
      const adj = adjacency(g, dense);
      const x = uniform([n, GRAPH.features]);
      const params = {
        w1: normal([GRAPH.features, GRAPH.hidden], Math.sqrt(2 / (GRAPH.features + GRAPH.hidden))),
        b1: np.zeros([GRAPH.hidden]),
        w2: normal([GRAPH.hidden, GRAPH.classes], Math.sqrt(2 / (GRAPH.hidden + GRAPH.classes))),
        b2: np.zeros([GRAPH.classes]),
      };
      const train = np.array(g.train, { dtype: np.int32 });
      const target = nn.oneHot(np.array(Int32Array.from(g.train, (i) => g.labels[i]), { dtype: np.int32 }), GRAPH.classes);
      const loss = (p: typeof params, x: Arr, adj: Adjacency, train: Arr, target: Arr) => {
        const again = jax.tree.ref(adj); // Â is used twice
        const h = nn.relu(propagate(again, np.matmul(x, p.w1), n).add(p.b1));
        const z = propagate(adj, np.matmul(h, p.w2), n).add(p.b2);
        const logp = np.take(nn.logSoftmax(z, -1), train, 0);
        return logp.mul(target).sum().mul(-1 / g.train.length);
      };
      const step = jit(valueAndGrad(loss));
      return {
        async run() {
          const [value, grads] = step(jax.tree.ref(params), x.ref, jax.tree.ref(adj), train.ref, target.ref) as unknown as [Arr, Record<string, Arr>];
          await value.data();
          for (const d of Object.values(grads)) await d.data();
        },
        dispose() {
          step.dispose();
          jax.tree.dispose([params, adj, x, train, target] as any);
        },
      };
    },
  };
}

const workloads: Workloads = {
  'matmul-256': matmul(256),
  'matmul-1024': matmul(1024),
  'matmul-2048': matmul(2048),
  'add-1m': () => {
    const a = uniform([SHAPES.add]);
    const b = uniform([SHAPES.add]);
    return outputCase(() => np.add(a.ref, b.ref), [a, b]);
  },
  'sum-16m': () => {
    const a = uniform([SHAPES.sum]);
    return outputCase(() => np.sum(a.ref), [a]);
  },
  'scatter-add': [
    {
      label: 'transpose of take, eager',
      setup() {
        const g = readInputs(options.inputs);
        const src = uniform([g.edgeDst.length, SHAPES.scatterWidth]);
        const index = np.array(g.edgeDst, { dtype: np.int32 });
        return outputCase(() => segmentSum(src.ref, index.ref, g.nodes), [src, index]);
      },
    },
    {
      label: 'transpose of take, jit',
      setup() {
        const g = readInputs(options.inputs);
        const src = uniform([g.edgeDst.length, SHAPES.scatterWidth]);
        const index = np.array(g.edgeDst, { dtype: np.int32 });
        const f = jit((s: Arr, i: Arr) => segmentSum(s, i, g.nodes));
        return outputCase(() => f(src.ref, index.ref), [src, index], () => f.dispose());
      },
    },
  ],
  gcn: [gcnVariant('take + transpose of take (sparse), jit', false), gcnVariant('dense Â matmul, jit', true)],
  conv: () => {
    const c = SHAPES.conv;
    const x = uniform([c.batch, c.inChannels, c.size, c.size]);
    const w = normal([c.outChannels, c.inChannels, c.kernel, c.kernel], 1 / 3);
    const b = np.zeros([c.outChannels]);
    const upstream = normal([c.batch, c.outChannels, c.size, c.size], 1);
    const pad: [number, number] = [c.padding, c.padding];
    const f = (x: Arr, w: Arr, b: Arr, up: Arr) =>
      lax
        .convGeneralDilated(x, w, [1, 1], [pad, pad])
        .add(b.reshape([1, c.outChannels, 1, 1]))
        .mul(up)
        .sum();
    const step = jit(valueAndGrad(f, { argnums: [0, 1, 2] }));
    return {
      async run() {
        const [value, grads] = step(x.ref, w.ref, b.ref, upstream.ref) as unknown as [Arr, Arr[]];
        await value.data();
        for (const d of grads) await d.data();
      },
      dispose() {
        step.dispose();
        for (const a of [x, w, b, upstream]) a.dispose();
      },
    };
  },
  mlp: () => {
    const sizes = SHAPES.mlp.sizes;
    const [beta1, beta2, eps, lr] = [0.9, 0.999, 1e-8, SHAPES.mlp.lr];
    let params: Arr[] = [];
    for (let i = 0; i + 1 < sizes.length; i++) {
      const bound = 1 / Math.sqrt(sizes[i]);
      params.push(jax.random.uniform(jax.random.key(seed++), [sizes[i], sizes[i + 1]], { minval: -bound, maxval: bound }));
      params.push(jax.random.uniform(jax.random.key(seed++), [sizes[i + 1]], { minval: -bound, maxval: bound }));
    }
    let m = params.map((p) => np.zerosLike(p.ref));
    let v = params.map((p) => np.zerosLike(p.ref));
    const batch = SHAPES.mlp.batch;
    const x = normal([batch, sizes[0]], 1);
    const y = nn.oneHot(jax.random.randint(jax.random.key(seed++), { minval: 0, maxval: sizes[sizes.length - 1], shape: [batch] }), sizes[sizes.length - 1]);
    const loss = (ps: Arr[], x: Arr, y: Arr) => {
      let h = x;
      for (let i = 0; i < ps.length; i += 2) {
        h = np.matmul(h, ps[i]).add(ps[i + 1]);
        if (i + 2 < ps.length) h = nn.relu(h);
      }
      return nn.logSoftmax(h, -1).mul(y).sum().mul(-1 / batch);
    };
    // Adam as torch.optim.Adam: p -= lr · (m / (1 - β1^t)) / (sqrt(v / (1 - β2^t)) + eps).
    const step = jit((ps: Arr[], ms: Arr[], vs: Arr[], x: Arr, y: Arr, c1: Arr, c2: Arr) => {
      const [l, g] = valueAndGrad(loss)(jax.tree.ref(ps), x, y) as unknown as [Arr, Arr[]];
      const m2 = ms.map((mi, i) => mi.mul(beta1).add(g[i].ref.mul(1 - beta1)));
      const v2 = vs.map((vi, i) => vi.mul(beta2).add(g[i].ref.mul(g[i]).mul(1 - beta2)));
      const p2 = ps.map((p, i) => p.sub(m2[i].ref.mul(c1.ref).mul(lr).div(np.sqrt(v2[i].ref.mul(c2.ref)).add(eps))));
      c1.dispose();
      c2.dispose();
      return [l, p2, m2, v2];
    });
    let t = 0;
    return {
      async run() {
        t++;
        const c1 = np.array(1 / (1 - beta1 ** t));
        const c2 = np.array(1 / (1 - beta2 ** t));
        const [l, p2, m2, v2] = step(params, m, v, x.ref, y.ref, c1, c2) as unknown as [Arr, Arr[], Arr[], Arr[]];
        params = p2;
        m = m2;
        v = v2;
        await l.data();
        await jax.blockUntilReady([params, m, v]); // jax-js is lazy: make sure the update ran
      },
      dispose() {
        step.dispose();
        jax.tree.dispose([params, m, v, x, y] as any);
      },
    };
  },
  knn: () => {
    const k = SHAPES.knn;
    const p = uniform([k.clouds, k.points, k.dim]);
    const f = jit((p: Arr) => {
      const sq = np.sum(np.square(p.ref), -1, { keepdims: true });
      const d = sq.ref.add(np.transpose(sq, [0, 2, 1])).sub(np.matmul(p.ref, np.transpose(p, [0, 2, 1])).mul(2));
      const [vals, idx] = lax.topK(d.mul(-1), k.k, -1);
      vals.dispose();
      return idx;
    });
    return outputCase(() => f(p.ref), [p], () => f.dispose());
  },
};

emit({ type: 'info', info });
await runWorkloads(workloads, options);
process.exit(0);
