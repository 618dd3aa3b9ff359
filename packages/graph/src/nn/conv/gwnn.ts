/**
 * Graph wavelet neural network (Xu et al., GWNN) with heat-kernel wavelets (Hammond et al.'s SGWT).
 *
 * The wavelet basis at scale s is ψ_s = U diag(e^{-sλ}) Uᵀ = e^{-sL} for the normalised Laplacian
 * L = I - D^-1/2 A D^-1/2, and its inverse is ψ_s^{-1} = e^{+sL} (note the signs: the heat kernel
 * decays, e^{-sλ}; the notes' e^{sλ} is an erratum). Both are approximated without an
 * eigendecomposition by a Chebyshev expansion of order K on the shifted, scaled Laplacian
 * (L - aI)/a with a = λmax/2:
 *
 *   g(L) ≈ c_0/2 I + Σ_{k=1}^{K} c_k T̄_k(L),  T̄_0 = I, T̄_1 = (L - aI)/a, T̄_k = (2/a)(L - aI) T̄_{k-1} - T̄_{k-2},
 *   c_k = (2/π) ∫_0^π cos(kθ) g(a(cos θ + 1)) dθ   (Chebyshev–Gauss quadrature),
 *
 * applied to identity column blocks (each block costs K sparse products), then sparsified by
 * dropping entries with |ψ| < threshold.
 */
import * as T from '@tessera/tensor';
import type { Tensor } from '@tessera/tensor';
import { Linear, Module, init, parameter, type FactoryOptions } from '@tessera/nn';
import { checkEdgeIndex } from '../../utils/loop.js';
import { laplacian } from '../../utils/norm.js';
import { checkNodeFeatures, checkPositiveInt, factory, glorot_, layerName } from '../util.js';

/**
 * Chebyshev coefficients c_0..c_K of g on [0, λmax] (the expansion uses c_0/2), by Chebyshev–Gauss
 * quadrature with `points` nodes (default max(4(K+1), 64)).
 */
export function chebyshevCoefficients(g: (lambda: number) => number, K: number, lambdaMax: number, points = Math.max(4 * (K + 1), 64)): number[] {
  if (!Number.isInteger(K) || K < 0) throw new RangeError(`chebyshevCoefficients: K must be a non-negative integer, received ${K}`);
  if (!(lambdaMax > 0)) throw new RangeError(`chebyshevCoefficients: lambdaMax must be positive, received ${lambdaMax}`);
  const a = lambdaMax / 2;
  const c = new Array<number>(K + 1).fill(0);
  for (let m = 0; m < points; m++) {
    const theta = (Math.PI * (m + 0.5)) / points;
    const gv = g(a * (Math.cos(theta) + 1));
    for (let k = 0; k <= K; k++) c[k] += gv * Math.cos(k * theta);
  }
  return c.map((v) => (2 * v) / points);
}

export interface HeatWaveletOptions {
  /** Heat-kernel scale s (> 0). */
  scale: number;
  /** Chebyshev order K (default 30). */
  order?: number;
  /** Entries with |value| below it are dropped (default 1e-4). */
  threshold?: number;
  /** Largest Laplacian eigenvalue bound for the expansion (default 2, exact bound for the normalised Laplacian). */
  lambdaMax?: number;
  /** Edge weights [E] of the (symmetric) graph. */
  edgeWeight?: Tensor | null;
  /** Identity columns per block (default 256): bounds the dense working memory to ~3 N x block. */
  blockSize?: number;
  /** dtype of the sparse bases (default float32; the expansion runs in float64 on the cpu). */
  dtype?: 'float32' | 'float64';
  /**
   * The second basis: 'exact' (default) is ψ_s^{-1} = e^{sL}. 'reference-code' is what the GWNN
   * authors' released code computes in its place, U diag(exp(s e^{-sλ})) Uᵀ: its
   * weight_wavelet_inverse receives the eigenvalues already overwritten by weight_wavelet's
   * e^{-sλ}. Not an inverse; the published numbers were made with it.
   */
  inverse?: 'exact' | 'reference-code';
}

/** The sparse wavelet basis ψ_s [N, N] and its inverse ψ_s^{-1}, made once per graph. */
export class GraphWavelets {
  constructor(readonly psi: T.SparseTensor, readonly psiInv: T.SparseTensor, readonly scale: number) {}

  get numNodes(): number {
    return this.psi.shape[0];
  }

  dispose(): void {
    this.psi.dispose();
    this.psiInv.dispose();
  }
}

/**
 * Heat-kernel wavelets ψ_s = e^{-sL} and ψ_s^{-1} = e^{sL} of an undirected graph (edgeIndex with
 * both directions), by a Chebyshev expansion, sparsified. Asynchronous: the kept entries depend on
 * the values, which are read back (once per graph).
 */
export async function heatWavelets(edgeIndex: Tensor, numNodes: number, options: HeatWaveletOptions): Promise<GraphWavelets> {
  const op = 'heatWavelets';
  checkEdgeIndex(op, edgeIndex, numNodes);
  const { scale } = options;
  const K = options.order ?? 30;
  const threshold = options.threshold ?? 1e-4;
  const lambdaMax = options.lambdaMax ?? 2;
  const block = options.blockSize ?? 256;
  if (!(scale > 0) || !Number.isFinite(scale)) throw new RangeError(`${op}: scale must be a positive number, received ${scale}`);
  checkPositiveInt(op, 'order', K);
  checkPositiveInt(op, 'blockSize', block);
  if (!(threshold >= 0)) throw new RangeError(`${op}: threshold must be >= 0, received ${threshold}`);
  if (!(lambdaMax > 0)) throw new RangeError(`${op}: lambdaMax must be positive, received ${lambdaMax}`);
  const device = edgeIndex.device;
  const outDType = options.dtype ?? 'float32';
  if (outDType !== 'float32' && outDType !== 'float64') throw new TypeError(`${op}: dtype must be 'float32' or 'float64', received '${String(outDType)}'`);
  const dtype = device === 'cpu' ? 'float64' : 'float32';
  const cPsi = chebyshevCoefficients((l) => Math.exp(-scale * l), K, lambdaMax);
  const inverse = options.inverse ?? 'exact';
  if (inverse !== 'exact' && inverse !== 'reference-code') throw new TypeError(`${op}: inverse must be 'exact' or 'reference-code', received '${String(inverse)}'`);
  const cInv = chebyshevCoefficients(inverse === 'exact' ? (l) => Math.exp(scale * l) : (l) => Math.exp(scale * Math.exp(-scale * l)), K, lambdaMax);
  const a = lambdaMax / 2;
  // (L - aI)/a as a sparse matrix: the Laplacian's entries over a, then -1 on its diagonal block.
  const shifted = T.tidy(() => {
    const weight = options.edgeWeight ? T.cast(options.edgeWeight, dtype) : null;
    const lap = laplacian(edgeIndex, weight, numNodes, { normalization: 'sym' });
    const e = edgeIndex.shape[1];
    const v = T.div(T.cast(lap.edgeWeight, dtype), a);
    const values = T.cat([T.narrow(v, 0, 0, e), T.sub(T.narrow(v, 0, e, numNodes), 1)], 0);
    return T.sparseCooTensor(lap.edgeIndex, values, [numNodes, numNodes]);
  });
  const entries = { psi: { r: [] as number[], c: [] as number[], v: [] as number[] }, inv: { r: [] as number[], c: [] as number[], v: [] as number[] } };
  try {
    for (let start = 0; start < numNodes; start += block) {
      const width = Math.min(block, numNodes - start);
      const [psiBlock, invBlock] = T.tidy(() => {
        // Columns start..start+width-1 of the identity.
        const eye = T.cat([T.zeros([start, width], { dtype, device }), T.eye(width, width, { dtype, device }), T.zeros([numNodes - start - width, width], { dtype, device })], 0);
        let prev = eye;
        let cur = T.spmm(shifted, eye);
        let psi = T.add(T.mul(prev, cPsi[0] / 2), T.mul(cur, cPsi[1]));
        let inv = T.add(T.mul(prev, cInv[0] / 2), T.mul(cur, cInv[1]));
        for (let k = 2; k <= K; k++) {
          const next = T.sub(T.mul(T.spmm(shifted, cur), 2), prev);
          psi = T.add(psi, T.mul(next, cPsi[k]));
          inv = T.add(inv, T.mul(next, cInv[k]));
          [prev, cur] = [cur, next];
        }
        return [psi, inv];
      });
      try {
        const [p, q] = await Promise.all([psiBlock.data(), invBlock.data()]);
        collect(p, width, start, threshold, entries.psi);
        collect(q, width, start, threshold, entries.inv);
      } finally {
        T.dispose([psiBlock, invBlock]);
      }
    }
  } finally {
    shifted.dispose();
  }
  const sparse = (s: { r: number[]; c: number[]; v: number[] }) =>
    T.tidy(() => T.sparseCooTensor(T.tensor([...s.r, ...s.c], { dtype: 'int32', device, shape: [2, s.r.length] }), T.tensor(s.v, { dtype: outDType, device }), [numNodes, numNodes]));
  return new GraphWavelets(sparse(entries.psi), sparse(entries.inv), scale);
}

/** Appends the entries of a dense [N, width] column block (row-major) with |v| >= threshold. */
function collect(data: ArrayLike<number>, width: number, start: number, threshold: number, out: { r: number[]; c: number[]; v: number[] }): void {
  for (let idx = 0; idx < data.length; idx++) {
    const v = data[idx];
    if (Math.abs(v) < threshold || v === 0) continue;
    out.r.push(Math.floor(idx / width));
    out.c.push(start + (idx % width));
    out.v.push(v);
  }
}

export interface GWNNConvOptions extends FactoryOptions {
  bias?: boolean;
  /**
   * How the diagonal filter starts: 'uniform' draws U(0.9, 1.1) (the default, as the widely used
   * PyTorch implementation), 'ones' sets it to 1 (the GWNN authors' TensorFlow code).
   */
  filterInit?: 'uniform' | 'ones';
}

/**
 * Graph wavelet convolution (GWNN, eq. 158 of the notes): X' = ψ_s diag(f) ψ_s^{-1} X Θ [+ b], with a
 * learnable diagonal filter f over the graph's N nodes (transductive). forward(x [N, in], wavelets).
 * State: lin.weight, filter [N], [bias].
 */
export class GWNNConv extends Module {
  lin: Linear;
  filter: Tensor;
  bias: Tensor | null;

  constructor(readonly inChannels: number, readonly outChannels: number, readonly numNodes: number, options: GWNNConvOptions = {}) {
    super();
    checkPositiveInt('GWNNConv', 'inChannels', inChannels);
    checkPositiveInt('GWNNConv', 'outChannels', outChannels);
    checkPositiveInt('GWNNConv', 'numNodes', numNodes);
    this.lin = new Linear(inChannels, outChannels, { ...options, bias: false });
    glorot_(this.lin.weight);
    const filterInit = options.filterInit ?? 'uniform';
    if (filterInit !== 'uniform' && filterInit !== 'ones') throw new TypeError(`GWNNConv: filterInit must be 'uniform' or 'ones', received ${String(filterInit)}`);
    // Either way the filter starts at (or near) the identity.
    const f = factory(options);
    this.filter = parameter(filterInit === 'ones' ? T.ones([numNodes], f) : init.uniform_(T.zeros([numNodes], f), { a: 0.9, b: 1.1 }));
    this.bias = options.bias ? parameter(T.zeros([outChannels], factory(options))) : null;
  }

  forward(x: Tensor, wavelets: GraphWavelets): Tensor {
    checkNodeFeatures(this, x, this.inChannels);
    if (!(wavelets instanceof GraphWavelets)) throw new TypeError(`${layerName(this)}: expected wavelets from heatWavelets(edgeIndex, numNodes, options)`);
    if (x.shape[0] !== this.numNodes || wavelets.numNodes !== this.numNodes) {
      throw new RangeError(`${layerName(this)}: the layer is built for ${this.numNodes} nodes, received x with ${x.shape[0]} rows and wavelets over ${wavelets.numNodes} nodes`);
    }
    if (wavelets.psi.device !== x.device) throw new Error(`${layerName(this)}: the wavelets are on ${wavelets.psi.device} but x is on ${x.device}`);
    if (wavelets.psi.dtype !== x.dtype) throw new TypeError(`${layerName(this)}: the wavelets are ${wavelets.psi.dtype} but x is ${x.dtype}; pass dtype to heatWavelets`);
    return T.tidy(() => {
      const spectral = T.mul(T.spmm(wavelets.psiInv, this.lin.forward(x)), T.unsqueeze(this.filter, -1));
      const out = T.spmm(wavelets.psi, spectral);
      return this.bias ? T.add(out, this.bias) : out;
    });
  }

  protected override extraRepr(): string {
    return `${this.inChannels}, ${this.outChannels}, numNodes=${this.numNodes}`;
  }
}
