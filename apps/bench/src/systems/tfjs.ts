/**
 * TF.js runner: `tsx src/systems/tfjs.ts --backend cpu|wasm|webgpu [runner flags]`.
 * wasm runs TF.js's threaded SIMD build with `--threads` threads (see node-shims.ts); webgpu runs
 * on the Dawn adapter of the `webgpu` package, the one Tessera uses.
 *
 * TF.js has no sparse matmul with gradients, so the GCN (and scatterAdd) are measured in each
 * formulation TF.js offers and the fastest is reported: gather + unsortedSegmentSum (autodiff),
 * gather + scatterND with its transpose as a custom gradient, and a dense Â.
 */
import * as tf from '@tensorflow/tfjs-core';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { emit, parseRunnerArgs, runWorkloads, Unsupported, type Case, type Variant, type Workloads } from '../harness.js';
import { readInputs, type GraphInputs } from '../inputs.js';
import { GRAPH, SHAPES } from '../spec.js';
import { enableTfjsWasmThreads, installNavigator, installWebGPU } from './node-shims.js';

const { options, values } = parseRunnerArgs({ backend: { type: 'string', default: 'cpu' } });
const backend = values.backend!;
const threads = options.threads > 0 ? options.threads : 1;
const info: Record<string, unknown> = { library: `@tensorflow/tfjs-core ${tf.version_core}`, backend };
const require = createRequire(import.meta.url);

// tfjs-core's Node bundle leaves out the gradient definitions (the @tensorflow/tfjs union package,
// not installed here, registers them): register tfjs-core's own. Its registries are global, so the
// second copy of tfjs-core code this loads shares them with the backends.
require('@tensorflow/tfjs-core/dist/register_all_gradients');

// Formulations that are known to take minutes per call on a backend are skipped, with the reason.
const SLOW_SEGMENT_SUM = backend === 'cpu' ? "TF.js cpu's UnsortedSegmentSum runs one masked sum over all rows per segment (2,708 passes per call; minutes)" : undefined;

if (backend === 'cpu') {
  await import('@tensorflow/tfjs-backend-cpu');
  info.threads = 1;
} else if (backend === 'wasm') {
  const wasm = await import('@tensorflow/tfjs-backend-wasm');
  wasm.setWasmPaths(join(dirname(require.resolve('@tensorflow/tfjs-backend-wasm/package.json')), 'dist') + '/');
  const restore = threads > 1 ? enableTfjsWasmThreads(tf, threads) : () => undefined;
  wasm.setThreadsCount(threads);
  await tf.setBackend('wasm');
  restore();
  info.threads = `${wasm.getThreadsCount()} (${threads > 1 ? 'threaded SIMD build, enabled in Node by node-shims.ts' : 'SIMD build'})`;
} else if (backend === 'webgpu') {
  installNavigator(threads);
  info.adapter = await installWebGPU();
  await import('@tensorflow/tfjs-backend-webgpu');
} else {
  throw new Error(`tfjs runner: --backend must be cpu, wasm or webgpu, received ${backend}`);
}
if (!(await tf.setBackend(backend))) throw new Error(`tfjs runner: backend '${backend}' failed to initialise`);
await tf.ready();
info.formulations = 'GCN and scatterAdd: fastest of the formulations listed per workload; conv: NHWC (TF.js layout); kNN: batched matMul distances + topk of the negation';
info.gradients = 'tfjs-core dist/register_all_gradients (what the @tensorflow/tfjs package registers)';

/** A case whose run returns a fresh result: read it back, then free it. */
function outputCase(make: () => tf.Tensor, inputs: tf.Tensor[]): Case {
  return {
    async run() {
      const out = tf.tidy(make);
      await out.data();
      out.dispose();
    },
    dispose: () => tf.dispose(inputs),
  };
}

const matmul = (n: number) => () => {
  const a = tf.randomUniform([n, n]);
  const b = tf.randomUniform([n, n]);
  return outputCase(() => tf.matMul(a, b), [a, b]);
};

/** h ↦ Â h, in one of TF.js's formulations. */
type Propagate = (h: tf.Tensor2D) => tf.Tensor2D;
interface Adjacency {
  label: string;
  skip?: string;
  make(g: GraphInputs): { propagate: Propagate; tensors: tf.Tensor[] };
}

const adjacencies: Adjacency[] = [
  {
    label: 'gather + scatterND, transpose as custom gradient',
    make(g) {
      const nnz = g.adjVals.length;
      const rows = tf.tensor1d(g.adjRows, 'int32');
      const cols = tf.tensor1d(g.adjCols, 'int32');
      const rows2 = tf.tensor2d(g.adjRows, [nnz, 1], 'int32');
      const cols2 = tf.tensor2d(g.adjCols, [nnz, 1], 'int32');
      const vals = tf.tensor2d(g.adjVals, [nnz, 1]);
      // y = Â h (entries summed into rows); dh = Âᵀ dy (entries summed into columns).
      const propagate = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
        const h = args[0] as tf.Tensor;
        const k = h.shape[1]!;
        return {
          value: tf.scatterND(rows2, tf.mul(tf.gather(h, cols), vals), [g.nodes, k]),
          gradFunc: (dy: tf.Tensor) => tf.scatterND(cols2, tf.mul(tf.gather(dy, rows), vals), [g.nodes, k]),
        };
      }) as unknown as Propagate;
      return { propagate, tensors: [rows, cols, rows2, cols2, vals] };
    },
  },
  {
    label: 'gather + unsortedSegmentSum',
    skip: SLOW_SEGMENT_SUM,
    make(g) {
      const rows = tf.tensor1d(g.adjRows, 'int32');
      const cols = tf.tensor1d(g.adjCols, 'int32');
      const vals = tf.tensor2d(g.adjVals, [g.adjVals.length, 1]);
      return { propagate: (h) => tf.unsortedSegmentSum(tf.mul(tf.gather(h, cols), vals), rows, g.nodes) as tf.Tensor2D, tensors: [rows, cols, vals] };
    },
  },
  {
    label: 'dense Â matMul',
    make(g) {
      const dense = new Float32Array(g.nodes * g.nodes);
      g.adjVals.forEach((v, i) => (dense[g.adjRows[i] * g.nodes + g.adjCols[i]] += v));
      const a = tf.tensor2d(dense, [g.nodes, g.nodes]);
      return { propagate: (h) => tf.matMul(a, h), tensors: [a] };
    },
  },
];

function gcnVariant(adj: Adjacency): Variant {
  return {
    label: adj.label,
    skip: adj.skip,
    setup() {
      const g = readInputs(options.inputs);
      const { propagate, tensors } = adj.make(g);
      const x = tf.randomUniform([g.nodes, GRAPH.features]) as tf.Tensor2D;
      const w1 = tf.randomNormal([GRAPH.features, GRAPH.hidden], 0, Math.sqrt(2 / (GRAPH.features + GRAPH.hidden))) as tf.Tensor2D;
      const b1 = tf.zeros([GRAPH.hidden]) as tf.Tensor1D;
      const w2 = tf.randomNormal([GRAPH.hidden, GRAPH.classes], 0, Math.sqrt(2 / (GRAPH.hidden + GRAPH.classes))) as tf.Tensor2D;
      const b2 = tf.zeros([GRAPH.classes]) as tf.Tensor1D;
      // NLL over the train nodes as a masked sum: one-hot targets on train rows, zeros elsewhere
      // (gather's gradient needs UnsortedSegmentSum, which wasm lacks).
      const targets = new Float32Array(g.nodes * GRAPH.classes);
      for (const i of g.train) targets[i * GRAPH.classes + g.labels[i]] = 1;
      const target = tf.tensor2d(targets, [g.nodes, GRAPH.classes]);
      const loss = (w1: tf.Tensor2D, b1: tf.Tensor1D, w2: tf.Tensor2D, b2: tf.Tensor1D) => {
        const h = tf.relu(tf.add(propagate(tf.matMul(x, w1)), b1)) as tf.Tensor2D;
        const z = tf.add(propagate(tf.matMul(h, w2)), b2);
        return tf.div(tf.neg(tf.sum(tf.mul(tf.logSoftmax(z), target))), g.train.length) as tf.Scalar;
      };
      const valueAndGrads = tf.valueAndGrads(loss as (...args: tf.Tensor[]) => tf.Scalar);
      return {
        async run() {
          const { value, grads } = tf.tidy(() => valueAndGrads([w1, b1, w2, b2]));
          await value.data();
          for (const d of grads) await d.data();
          tf.dispose([value, ...grads]);
        },
        dispose: () => tf.dispose([...tensors, x, w1, b1, w2, b2, target]),
      };
    },
  };
}

const workloads: Workloads = {
  'matmul-256': matmul(256),
  'matmul-1024': matmul(1024),
  'matmul-2048': matmul(2048),
  'add-1m': () => {
    const a = tf.randomUniform([SHAPES.add]);
    const b = tf.randomUniform([SHAPES.add]);
    return outputCase(() => tf.add(a, b), [a, b]);
  },
  'sum-16m': () => {
    const a = tf.randomUniform([SHAPES.sum]);
    return outputCase(() => tf.sum(a), [a]);
  },
  'scatter-add': [
    {
      label: 'unsortedSegmentSum',
      skip: SLOW_SEGMENT_SUM,
      setup() {
        const g = readInputs(options.inputs);
        const src = tf.randomUniform([g.edgeDst.length, SHAPES.scatterWidth]);
        const index = tf.tensor1d(g.edgeDst, 'int32');
        return outputCase(() => tf.unsortedSegmentSum(src, index, g.nodes), [src, index]);
      },
    },
    {
      label: 'scatterND',
      setup() {
        const g = readInputs(options.inputs);
        const src = tf.randomUniform([g.edgeDst.length, SHAPES.scatterWidth]);
        const index = tf.tensor2d(g.edgeDst, [g.edgeDst.length, 1], 'int32');
        return outputCase(() => tf.scatterND(index, src, [g.nodes, SHAPES.scatterWidth]), [src, index]);
      },
    },
  ],
  gcn: adjacencies.map(gcnVariant),
  conv: () => {
    const c = SHAPES.conv;
    if (c.padding !== (c.kernel - 1) / 2) throw new Unsupported('the TF.js runner maps padding to "same"');
    const x = tf.randomUniform([c.batch, c.size, c.size, c.inChannels]) as tf.Tensor4D;
    const w = tf.randomNormal([c.kernel, c.kernel, c.inChannels, c.outChannels], 0, 1 / 3) as tf.Tensor4D;
    const b = tf.zeros([c.outChannels]) as tf.Tensor1D;
    const upstream = tf.randomNormal([c.batch, c.size, c.size, c.outChannels]);
    const f = (x: tf.Tensor4D, w: tf.Tensor4D, b: tf.Tensor1D) => tf.sum(tf.mul(tf.add(tf.conv2d(x, w, 1, 'same'), b), upstream)) as tf.Scalar;
    const valueAndGrads = tf.valueAndGrads(f as (...args: tf.Tensor[]) => tf.Scalar);
    return {
      async run() {
        const { value, grads } = tf.tidy(() => valueAndGrads([x, w, b]));
        await value.data();
        for (const d of grads) await d.data();
        tf.dispose([value, ...grads]);
      },
      dispose: () => tf.dispose([x, w, b, upstream]),
    };
  },
  mlp: () => {
    const sizes = SHAPES.mlp.sizes;
    const vars: tf.Variable[] = [];
    for (let i = 0; i + 1 < sizes.length; i++) {
      const bound = 1 / Math.sqrt(sizes[i]);
      vars.push(...tf.tidy(() => [tf.variable(tf.randomUniform([sizes[i], sizes[i + 1]], -bound, bound)), tf.variable(tf.randomUniform([sizes[i + 1]], -bound, bound))]));
    }
    const x = tf.randomNormal([SHAPES.mlp.batch, sizes[0]]);
    const y = tf.tidy(() => tf.oneHot(tf.randomUniform([SHAPES.mlp.batch], 0, sizes[sizes.length - 1], 'int32') as tf.Tensor1D, sizes[sizes.length - 1]));
    const opt = tf.train.adam(SHAPES.mlp.lr);
    const forward = () => {
      let h: tf.Tensor = x;
      for (let i = 0; i < vars.length; i += 2) {
        h = tf.add(tf.matMul(h as tf.Tensor2D, vars[i] as tf.Tensor2D), vars[i + 1]);
        if (i + 2 < vars.length) h = tf.relu(h);
      }
      return tf.losses.softmaxCrossEntropy(y, h) as tf.Scalar;
    };
    return {
      async run() {
        const loss = opt.minimize(forward, true, vars)!;
        await loss.data(); // queued after the update: on webgpu the queue runs in order
        loss.dispose();
      },
      dispose() {
        opt.dispose();
        tf.dispose([...vars, x, y]);
      },
    };
  },
  knn: () => {
    const k = SHAPES.knn;
    const p = tf.randomUniform([k.clouds, k.points, k.dim]) as tf.Tensor3D;
    return outputCase(() => {
      const sq = tf.sum(tf.square(p), -1, true);
      const d = tf.sub(tf.add(sq, tf.transpose(sq, [0, 2, 1])), tf.mul(tf.matMul(p, p, false, true), 2));
      return tf.topk(tf.neg(d), k.k).indices;
    }, [p]);
  },
};

emit({ type: 'info', info });
let baseline = tf.memory().numTensors;
await runWorkloads(workloads, options, () => {
  const now = tf.memory().numTensors;
  const leaked = now - baseline;
  baseline = now;
  return leaked > 0 ? `${leaked} tensors still alive after the workload` : undefined;
});
process.exit(0);
