/**
 * Tessera runner: `tsx src/systems/tessera.ts --device cpu|webgpu [runner flags]`.
 * Uses only the public API (`init`, tensor ops, @tessera/autodiff, @tessera/nn, @tessera/optimize),
 * so speed work inside the backends shows up here without changes.
 */
import * as T from '@tessera/tensor';
import { backward } from '@tessera/autodiff';
import { F, Linear, ReLU, Sequential } from '@tessera/nn';
import { Adam } from '@tessera/optimize';
import { GATConv } from '@tessera/graph';
import { emit, parseRunnerArgs, runWorkloads, type Case, type Workloads } from '../harness.js';
import { readInputs, type GraphInputs } from '../inputs.js';
import { GAT, GRAPH, SHAPES } from '../spec.js';

const { options, values } = parseRunnerArgs({ device: { type: 'string', default: 'cpu' } });
const device = values.device as 'cpu' | 'webgpu';
if (device !== 'cpu' && device !== 'webgpu') throw new Error(`tessera runner: --device must be cpu or webgpu, received ${device}`);

await T.init({ device });
T.setDefaultDevice(device);
T.manualSeed(0);

// Thread control is optional API: use it when the cpu backend offers it.
const api = T as unknown as Record<string, unknown>;
if (options.threads > 0 && typeof api.setNumThreads === 'function') (api.setNumThreads as (n: number) => void)(options.threads);
const threads = typeof api.getNumThreads === 'function' ? (api.getNumThreads as () => number)() : undefined;
const kernels = device === 'cpu' && typeof api.cpuKernelInfo === 'function' ? (api.cpuKernelInfo as () => unknown)() : undefined;

const readback = async (...ts: (T.Tensor | null)[]) => {
  for (const t of ts) if (t) await t.data();
};

/** A case whose run returns a fresh result tensor: read it back, then free it. */
function outputCase(make: () => T.Tensor, inputs: T.Tensor[]): Case {
  return {
    async run() {
      const out = make();
      await out.data();
      out.dispose();
    },
    dispose: () => T.dispose(inputs),
  };
}

const leaf = (t: T.Tensor) => t.requiresGrad_();
const clearGrads = (ps: T.Tensor[]) => {
  for (const p of ps) {
    p.grad?.dispose();
    p.grad = null;
  }
};

/**
 * A node-classification training step: NLL of log_softmax(logits) on the 140 train nodes, then the
 * gradients of `params`; loss and gradients read back. `free` releases the workload's own tensors.
 */
function nodeStep(g: GraphInputs, logits: () => T.Tensor, params: T.Tensor[], free: () => void): Case {
  const train = T.tensor(g.train, { dtype: 'int32' });
  const target = T.tensor(Int32Array.from(g.train, (i) => g.labels[i]), { dtype: 'int32' });
  return {
    async run() {
      const loss = T.tidy(() => F.nllLoss(T.indexSelect(T.logSoftmax(logits(), -1), 0, train), target));
      backward(loss);
      await readback(loss, ...params.map((p) => p.grad));
      loss.dispose();
      clearGrads(params);
    },
    dispose() {
      free();
      T.dispose([train, target]);
    },
  };
}

const matmul = (n: number) => () => {
  const a = T.rand([n, n]);
  const b = T.rand([n, n]);
  return outputCase(() => T.matmul(a, b), [a, b]);
};

const workloads: Workloads = {
  'matmul-256': matmul(256),
  'matmul-1024': matmul(1024),
  'matmul-2048': matmul(2048),
  'add-1m': () => {
    const a = T.rand([SHAPES.add]);
    const b = T.rand([SHAPES.add]);
    return outputCase(() => T.add(a, b), [a, b]);
  },
  'sum-16m': () => {
    const a = T.rand([SHAPES.sum]);
    return outputCase(() => T.sum(a), [a]);
  },
  // Two layouts of the same index: PyTorch's (an [E, 16] index tensor) and a view expanded from the
  // [E, 1] edge targets (what message passing passes; TF.js and jax-js take the 1-d index).
  'scatter-add': (['materialized [E, 16] index', 'index expanded from [E, 1] (a view)'] as const).map((label) => ({
    label,
    setup() {
      const g = readInputs(options.inputs);
      const E = g.edgeDst.length;
      const w = SHAPES.scatterWidth;
      const src = T.rand([E, w]);
      const index = T.tidy(() => {
        const wide = T.expand(T.reshape(T.tensor(g.edgeDst, { dtype: 'int32' }), [E, 1]), [E, w]);
        return label.startsWith('materialized') ? T.contiguous(wide) : wide;
      });
      const base = T.zeros([g.nodes, w]);
      return outputCase(() => T.scatterAdd(base, 0, index, src), [src, index, base]);
    },
  })),
  gcn: () => {
    const g = readInputs(options.inputs);
    const nnz = g.adjVals.length;
    const coords = new Int32Array(2 * nnz);
    coords.set(g.adjRows, 0);
    coords.set(g.adjCols, nnz);
    const adj = T.tidy(() => T.sparseCooTensor(T.tensor(coords, { dtype: 'int32', shape: [2, nnz] }), T.tensor(g.adjVals), [g.nodes, g.nodes]));
    const x = T.rand([g.nodes, GRAPH.features]);
    const w1 = leaf(T.tidy(() => T.mul(T.randn([GRAPH.features, GRAPH.hidden]), Math.sqrt(2 / (GRAPH.features + GRAPH.hidden)))));
    const b1 = leaf(T.zeros([GRAPH.hidden]));
    const w2 = leaf(T.tidy(() => T.mul(T.randn([GRAPH.hidden, GRAPH.classes]), Math.sqrt(2 / (GRAPH.hidden + GRAPH.classes)))));
    const b2 = leaf(T.zeros([GRAPH.classes]));
    const params = [w1, b1, w2, b2];
    const logits = () => {
      const h = T.relu(T.add(T.spmm(adj, T.matmul(x, w1)), b1));
      return T.add(T.spmm(adj, T.matmul(h, w2)), b2);
    };
    return nodeStep(g, logits, params, () => {
      adj.dispose();
      T.dispose([x, ...params]);
    });
  },
  gat: () => {
    const g = readInputs(options.inputs);
    const E = g.edgeSrc.length;
    const ei = new Int32Array(2 * E);
    ei.set(g.edgeSrc, 0);
    ei.set(g.edgeDst, E);
    const edgeIndex = T.tensor(ei, { dtype: 'int32', shape: [2, E] });
    const x = T.rand([g.nodes, GRAPH.features]);
    const conv1 = new GATConv(GRAPH.features, GAT.hidden, { heads: GAT.heads, negativeSlope: GAT.negativeSlope });
    const conv2 = new GATConv(GAT.heads * GAT.hidden, GRAPH.classes, { heads: 1, negativeSlope: GAT.negativeSlope });
    const params = [...conv1.parameters(), ...conv2.parameters()];
    const logits = () => conv2.forward(F.elu(conv1.forward(x, edgeIndex)), edgeIndex);
    return nodeStep(g, logits, params, () => {
      conv1.dispose();
      conv2.dispose();
      T.dispose([edgeIndex, x]);
    });
  },
  conv: () => {
    const c = SHAPES.conv;
    const x = leaf(T.rand([c.batch, c.inChannels, c.size, c.size]));
    const w = leaf(T.tidy(() => T.mul(T.randn([c.outChannels, c.inChannels, c.kernel, c.kernel]), 1 / 3)));
    const b = leaf(T.zeros([c.outChannels]));
    const upstream = T.randn([c.batch, c.outChannels, c.size, c.size]);
    const params = [x, w, b];
    return {
      async run() {
        const loss = T.tidy(() => T.sum(T.mul(T.conv2d(x, w, b, { padding: c.padding }), upstream)));
        backward(loss);
        await readback(loss, ...params.map((p) => p.grad));
        loss.dispose();
        clearGrads(params);
      },
      dispose: () => T.dispose([...params, upstream]),
    };
  },
  mlp: () => {
    const [d0, d1, d2, d3] = SHAPES.mlp.sizes;
    const model = new Sequential(new Linear(d0, d1), new ReLU(), new Linear(d1, d2), new ReLU(), new Linear(d2, d3));
    const opt = new Adam(model.parameters(), { lr: SHAPES.mlp.lr });
    const x = T.randn([SHAPES.mlp.batch, d0]);
    const y = T.randint(0, d3, [SHAPES.mlp.batch], { dtype: 'int32' });
    return {
      async run() {
        opt.zeroGrad();
        const loss = T.tidy(() => F.crossEntropy(model.forward(x), y));
        backward(loss);
        opt.step();
        await loss.data(); // queued after the update: on webgpu the queue runs in order
        loss.dispose();
      },
      dispose() {
        opt.zeroGrad();
        for (const state of opt.state.values()) T.dispose(Object.values(state).filter(T.isTensor)); // no Optimizer.dispose() yet
        model.dispose();
        T.dispose([x, y]);
      },
    };
  },
  knn: () => {
    const k = SHAPES.knn;
    const p = T.rand([k.clouds, k.points, k.dim]);
    return outputCase(
      () =>
        T.tidy(() => {
          const sq = T.sum(T.square(p), { dim: -1, keepdim: true });
          const d = T.sub(T.add(sq, T.transpose(sq, 1, 2)), T.mul(T.bmm(p, T.transpose(p, 1, 2)), 2));
          return T.topk(d, k.k, { dim: -1, largest: false }).indices;
        }),
      [p],
    );
  },
};

const info = T.deviceInfo();
emit({
  type: 'info',
  info: {
    library: '@tessera/tensor (workspace sources)',
    device,
    threads: device === 'cpu' ? (threads ?? 'not configurable (no setNumThreads in @tessera/tensor)') : undefined,
    cpuKernels: kernels,
    adapter: device === 'webgpu' ? info.adapter : undefined,
    formulations: 'GCN: sparseCooTensor + spmm (autodiff); scatterAdd: fastest of a materialized [E, 16] index and the [E, 1] index expanded (a view); GAT: @tessera/graph GATConv (self loops added by the layer); kNN: bmm distances + topk(largest: false)',
  },
});

// On webgpu, count the dispatches of each workload's last run (reported in its note).
let dispatches: number | undefined;
const counted = (setup: () => Case | Promise<Case>) => async (): Promise<Case> => {
  const c = await setup();
  if (device !== 'webgpu') return c;
  return {
    async run() {
      T.resetWebgpuStats();
      await c.run();
      dispatches = T.webgpuStats().dispatches;
    },
    dispose: () => c.dispose?.(),
  };
};
const countedWorkloads: Workloads = Object.fromEntries(
  Object.entries(workloads).map(([id, w]) => [id, typeof w === 'function' ? counted(w) : w.map((v) => ({ ...v, setup: counted(v.setup) }))]),
);

let baseline = T.memory().tensors;
await runWorkloads(countedWorkloads, options, () => {
  const now = T.memory().tensors;
  const leaked = now - baseline;
  baseline = now;
  const notes = [dispatches !== undefined ? `${dispatches} dispatches per run` : '', leaked > 0 ? `${leaked} tensors still alive after the workload` : ''].filter(Boolean);
  dispatches = undefined;
  return notes.length ? notes.join('; ') : undefined;
});
await T.shutdown();
process.exit(0);
