/**
 * What is measured, on what, and what we hope to see: the workloads (one shape set shared by every
 * system), the systems (one child process each) and the targets of issue 5 (evaluated, never
 * asserted). The runners import the workload shapes from here; the Python runner receives them as
 * JSON (`--spec`), so this file is the single source of truth.
 */

export type WorkloadId =
  | 'matmul-256'
  | 'matmul-1024'
  | 'matmul-2048'
  | 'add-1m'
  | 'sum-16m'
  | 'scatter-add'
  | 'gcn'
  | 'gat'
  | 'conv'
  | 'mlp'
  | 'knn';

export interface WorkloadSpec {
  id: WorkloadId;
  /** Row label in the tables. */
  title: string;
  /** What one timed run does, for the README and the report. */
  description: string;
  /** Work per run, to turn a time into a rate: floating-point operations or bytes moved. */
  work?: { amount: number; unit: 'GFLOP/s' | 'GB/s' };
}

export const GRAPH = { nodes: 2708, features: 1433, hidden: 16, classes: 7, trainPerClass: 20 } as const;
/** GAT on Cora as in Veličković et al.: 8 heads of 8 hidden units, then one head over the classes. */
export const GAT = { heads: 8, hidden: 8, negativeSlope: 0.2 } as const;
export const SHAPES = {
  add: 1 << 20,
  sum: 1 << 24,
  scatterWidth: 16,
  conv: { batch: 64, inChannels: 1, size: 28, outChannels: 32, kernel: 3, padding: 1 },
  mlp: { batch: 128, sizes: [784, 256, 256, 10], lr: 1e-3 },
  knn: { clouds: 16, points: 1024, dim: 3, k: 20 },
} as const;

export const WORKLOADS: readonly WorkloadSpec[] = [
  ...[256, 1024, 2048].map(
    (n): WorkloadSpec => ({
      id: `matmul-${n}` as WorkloadId,
      title: `matmul ${n}`,
      description: `C = A B with A, B of shape [${n}, ${n}]; C read back`,
      work: { amount: 2 * n ** 3, unit: 'GFLOP/s' },
    }),
  ),
  { id: 'add-1m', title: 'add 1M', description: 'a + b over 2^20 elements; result read back', work: { amount: 3 * 4 * SHAPES.add, unit: 'GB/s' } },
  { id: 'sum-16m', title: 'sum 16M', description: 'sum of 2^24 elements to a scalar; scalar read back', work: { amount: 4 * SHAPES.sum, unit: 'GB/s' } },
  {
    id: 'scatter-add',
    title: 'scatterAdd 10,556×16',
    description: "rows of src [10556, 16] added into zeros [2708, 16] at Cora's edge targets; result read back",
  },
  {
    id: 'gcn',
    title: 'GCN fwd+bwd (Cora size)',
    description:
      'two GCN layers on Â = D^-1/2 (A + I) D^-1/2 (2,708 nodes, 10,556 edges + self loops, dense random features [2708, 1433]): relu(Â X W1 + b1) → Â H W2 + b2 → log_softmax → NLL on 140 train nodes, then gradients of W1, b1, W2, b2; loss and gradients read back',
  },
  {
    id: 'gat',
    title: 'GAT fwd+bwd (Cora size)',
    description:
      "two GAT layers over Cora's edges plus self loops (dense random features [2708, 1433]): GATConv(1433 → 8 heads × 8, concat) → ELU → GATConv(64 → 7, 1 head) → log_softmax → NLL on 140 train nodes (no dropout), then gradients of every parameter; loss and gradients read back",
  },
  {
    id: 'conv',
    title: 'conv2d fwd+bwd',
    description: 'y = conv2d(x [64, 1, 28, 28], w [32, 1, 3, 3], b [32], padding 1); loss = sum(y ⊙ g) for a fixed g; gradients of x, w, b read back',
  },
  {
    id: 'mlp',
    title: 'MLP train step',
    description: 'MLP 784-256-256-10 (ReLU) on a batch of 128: forward, cross-entropy, backward, Adam(lr 1e-3) update; loss read back after the update',
  },
  {
    id: 'knn',
    title: 'kNN k=20',
    description:
      'for 16 clouds of 1,024 3-D points: squared distances |p|² + |q|² - 2 p·q (batched matmul), then the 20 smallest per row; indices [16, 1024, 20] read back',
  },
];

export const WORKLOAD_IDS = WORKLOADS.map((w) => w.id);

export interface SystemSpec {
  id: string;
  label: string;
  /** A TypeScript runner (run with the same tsx loader as the orchestrator) or a Python one. */
  runtime: 'node' | 'python';
  script: string;
  args: string[];
}

export const SYSTEMS: readonly SystemSpec[] = [
  { id: 'tessera-cpu', label: 'Tessera cpu', runtime: 'node', script: 'src/systems/tessera.ts', args: ['--device', 'cpu'] },
  { id: 'tessera-webgpu', label: 'Tessera webgpu', runtime: 'node', script: 'src/systems/tessera.ts', args: ['--device', 'webgpu'] },
  { id: 'tfjs-cpu', label: 'TF.js cpu', runtime: 'node', script: 'src/systems/tfjs.ts', args: ['--backend', 'cpu'] },
  { id: 'tfjs-wasm', label: 'TF.js wasm', runtime: 'node', script: 'src/systems/tfjs.ts', args: ['--backend', 'wasm'] },
  { id: 'tfjs-webgpu', label: 'TF.js webgpu', runtime: 'node', script: 'src/systems/tfjs.ts', args: ['--backend', 'webgpu'] },
  { id: 'jax-wasm', label: 'jax-js wasm', runtime: 'node', script: 'src/systems/jax.ts', args: ['--device', 'wasm'] },
  { id: 'jax-webgpu', label: 'jax-js webgpu', runtime: 'node', script: 'src/systems/jax.ts', args: ['--device', 'webgpu'] },
  { id: 'torch-cpu', label: 'PyTorch cpu', runtime: 'python', script: 'src/systems/torch_bench.py', args: [] },
];

export const SYSTEM_IDS = SYSTEMS.map((s) => s.id);

/**
 * A target compares medians measured in the same run.
 * - `rate`: the system's rate on the workload (GFLOP/s or GB/s) is at least `min`.
 * - `ratio`: the system's median divided by the best median among `others` is at most `max`
 *   (`max: 1` with `strict` means "faster than all of them"; `max: 0.2` means "at least 5x faster").
 */
export type Target =
  | { kind: 'rate'; text: string; system: string; workload: WorkloadId; min: number }
  | { kind: 'ratio'; text: string; system: string; workload: WorkloadId; others: string[]; max: number; strict?: boolean };

const TFJS_JAX = ['tfjs-cpu', 'tfjs-wasm', 'tfjs-webgpu', 'jax-wasm', 'jax-webgpu'];

export const TARGETS: readonly Target[] = [
  { kind: 'rate', text: 'Tessera cpu matmul 1024 ≥ 50 GFLOP/s', system: 'tessera-cpu', workload: 'matmul-1024', min: 50 },
  {
    kind: 'ratio',
    text: 'Tessera cpu matmul 1024 faster than TF.js wasm and jax-js wasm',
    system: 'tessera-cpu',
    workload: 'matmul-1024',
    others: ['tfjs-wasm', 'jax-wasm'],
    max: 1,
    strict: true,
  },
  { kind: 'ratio', text: 'Tessera cpu GCN step ≤ 2.5× PyTorch', system: 'tessera-cpu', workload: 'gcn', others: ['torch-cpu'], max: 2.5 },
  {
    kind: 'ratio',
    text: 'Tessera cpu GCN step ≥ 5× faster than the best of TF.js and jax-js (any backend)',
    system: 'tessera-cpu',
    workload: 'gcn',
    others: TFJS_JAX,
    max: 0.2,
  },
  { kind: 'ratio', text: 'Tessera cpu MLP step ≤ 3× PyTorch', system: 'tessera-cpu', workload: 'mlp', others: ['torch-cpu'], max: 3 },
  { kind: 'ratio', text: 'Tessera cpu conv fwd+bwd ≤ 3× PyTorch', system: 'tessera-cpu', workload: 'conv', others: ['torch-cpu'], max: 3 },
  ...WORKLOADS.map(
    (w): Target => ({
      kind: 'ratio',
      text: `Tessera webgpu faster than TF.js webgpu and jax-js webgpu: ${w.title}`,
      system: 'tessera-webgpu',
      workload: w.id,
      others: ['tfjs-webgpu', 'jax-webgpu'],
      max: 1,
      strict: true,
    }),
  ),
];

