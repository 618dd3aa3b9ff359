/** Input checks and small helpers shared by the graph layers. */
import * as T from '@tessera/tensor';
import type { Tensor } from '@tessera/tensor';
import { init, type FactoryOptions, type Module } from '@tessera/nn';
import { checkEdgeIndex } from '../utils/loop.js';

export const shapeStr = (s: readonly number[]) => `[${s.join(', ')}]`;

/** The name a layer uses in its errors, e.g. 'GCNConv(4, 3)' (its class and extraRepr, without children). */
export function layerName(m: Module): string {
  const extra = (m as unknown as { extraRepr?: () => string }).extraRepr?.() ?? '';
  return `${m.constructor.name}(${extra})`;
}

export function describe(v: unknown): string {
  if (v instanceof T.Tensor) return `a ${v.dtype} tensor of shape ${shapeStr(v.shape)} on ${v.device}`;
  return v === null ? 'null' : typeof v;
}

/** Throws unless x is a float [N, channels] tensor (channels checked when given). */
export function checkNodeFeatures(m: Module, x: unknown, channels?: number, name = 'x'): asserts x is Tensor {
  if (!(x instanceof T.Tensor) || (x.dtype !== 'float32' && x.dtype !== 'float64')) {
    throw new TypeError(`${layerName(m)}: expected ${name} to be a float32 or float64 tensor [N, ${channels ?? 'C'}], received ${describe(x)}`);
  }
  if (x.rank !== 2 || (channels !== undefined && x.shape[1] !== channels)) {
    throw new RangeError(`${layerName(m)}: expected ${name} of shape [N, ${channels ?? 'C'}], received ${shapeStr(x.shape)}`);
  }
}

/** Throws unless `t` (when given) is a float tensor with one row per edge, of rank `rank` when given. */
export function checkEdgeTensor(m: Module, t: unknown, e: number, name: string, rank?: number, device?: T.DeviceName): void {
  if (t === undefined || t === null) return;
  if (!(t instanceof T.Tensor) || (t.dtype !== 'float32' && t.dtype !== 'float64')) throw new TypeError(`${layerName(m)}: expected ${name} to be a float tensor, received ${describe(t)}`);
  if (t.rank < 1 || t.shape[0] !== e || (rank !== undefined && t.rank !== rank)) {
    const want = rank === 1 ? `[${e}]` : `[${e}, ...]`;
    throw new RangeError(`${layerName(m)}: expected ${name} of shape ${want} (one row per edge), received ${shapeStr(t.shape)}`);
  }
  if (device && t.device !== device) throw new Error(`${layerName(m)}: ${name} is on ${t.device} but the node features are on ${device}`);
}

export function checkSameDevice(m: Module, x: Tensor, edgeIndex: unknown): void {
  if (edgeIndex instanceof T.Tensor && edgeIndex.device !== x.device) {
    throw new Error(`${layerName(m)}: x is on ${x.device} but edgeIndex is on ${edgeIndex.device}; move both to one device`);
  }
}

export function checkPositiveInt(layer: string, name: string, v: unknown): void {
  if (!Number.isInteger(v) || (v as number) <= 0) throw new RangeError(`${layer}: ${name} must be a positive integer, received ${String(v)}`);
}

export function checkProbability(layer: string, name: string, p: number): void {
  if (!(typeof p === 'number' && p >= 0 && p <= 1)) throw new RangeError(`${layer}: ${name} must be in [0, 1], received ${p}`);
}

export const factory = (o: FactoryOptions) => ({ device: o.device, dtype: o.dtype ?? 'float32' });

/** Glorot-uniform init of a weight laid out as PyG's glorot: bound sqrt(6 / (size(-2) + size(-1))). */
export function glorot_(t: Tensor): Tensor {
  const fanSum = t.rank >= 2 ? t.shape[t.rank - 2] + t.shape[t.rank - 1] : 2 * t.shape[0];
  const bound = Math.sqrt(6 / fanSum);
  return init.uniform_(t, { a: -bound, b: bound });
}

/** x [N, C] scaled row-wise by w [N] (or x itself when w is absent). */
export function scaleRows(x: Tensor, w: Tensor | null | undefined): Tensor {
  if (!w) return x;
  return T.mul(x, T.reshape(w, [w.shape[0], ...x.shape.slice(1).map(() => 1)]));
}

/** Checks x [N, channels] and an edge index [2, E] over its N nodes (range checked on cpu), on one device. */
export function checkGraph(m: Module, x: unknown, edgeIndex: unknown, channels?: number): asserts x is Tensor {
  checkNodeFeatures(m, x, channels);
  checkEdgeIndex(layerName(m), edgeIndex, x.shape[0]);
  checkSameDevice(m, x, edgeIndex);
}

/** x's dtype as a float dtype (what weights made for x must use). */
export const floatOf = (x: Tensor): 'float32' | 'float64' => (x.dtype === 'float64' ? 'float64' : 'float32');
