import type { CpuView } from '../backend.js';
import { coalesceDims } from '../../shape.js';
import { EW_OPS, EW_PARAM_OPS, EW_PARAMS } from './kernels.generated.js';
import { CHUNK_EW, CHUNK_EW_ROWS, wasmRuntime, type WasmRuntime } from './runtime.js';

/**
 * float32 elementwise ops on the WebAssembly SIMD kernel, in place in the shared memory and across
 * the thread pool. Taken when the output and every input that runs with it are heap-backed storages
 * (cpu/backend.ts puts float32 arrays of 64 KiB and more there), the op is in the kernel's table,
 * and after merging dims either each input runs contiguously with the output or is one value (a
 * scalar or a full broadcast, copied into scratch when it lives elsewhere), or the job is 2-D with
 * rows of the output contiguous (see `rows`), or a stack of such 2-D jobs (see `slabs`).
 * Everything else stays on the TypeScript loops.
 */

/** Below this many elements the loops win (no handoff to the pool). */
const MIN_ELEMENTS = 1 << 14;
/** Elements per chunk: enough to amortise a claim, small enough to balance threads. */
const CHUNK = 1 << 15;

const OP_INDEX = new Map<string, number>(EW_OPS.map((name, i) => [name, i]));
const PARAM_OPS = new Set<string>(EW_PARAM_OPS);

/**
 * Runs `op` (a name from EW_OPS) on `ins` (one or two) into `out`, with the op's scalar parameters
 * p0 and p1 (leakyRelu's slope, elu's alpha, clamp's bounds); false when it does not apply.
 */
export function wasmElementwise(op: string, ins: readonly CpuView[], out: CpuView, p0 = 0, p1 = 0): boolean {
  const index = OP_INDEX.get(op);
  if (index === undefined || out.dtype !== 'float32') return false;
  const n = out.shape.reduce((a, b) => a * b, 1);
  if (n < MIN_ELEMENTS) return false;
  const rt = wasmRuntime();
  if (!rt || !rt.owns(out.data) || ins.some((v) => v.dtype !== 'float32')) return false;
  const { shape, strides } = coalesceDims([...ins, out], out.shape);
  if (PARAM_OPS.has(op)) {
    // read by the kernel (the job runs after this, on this thread or once published)
    const params = new Float64Array(rt.memory.buffer, EW_PARAMS, 2);
    params[0] = p0;
    params[1] = p1;
  }
  if (shape.length === 2) return rows(rt, index, ins, out, shape[0], shape[1], strides);
  if (shape.length > 2) return slabs(rt, index, ins, out, shape, strides);
  if (shape.length !== 1 || strides[ins.length][0] !== 1) return false;
  // each input: 1 = runs with the output (must be in the memory), 0 = one value (copied in if not)
  const runs = ins.map((_, i) => strides[i][0]);
  if (runs.some((s, i) => (s !== 0 && s !== 1) || (s === 1 && !rt.owns(ins[i].data)))) return false;
  rt.resetArena();
  const addrs = ins.map((v) => {
    if (rt.owns(v.data)) return v.data.byteOffset + v.offset * 4;
    const at = rt.alloc(1);
    rt.f32[at >> 2] = v.data[v.offset];
    return at;
  });
  const aRuns = runs[0];
  const bRuns = runs[1] ?? runs[0];
  const a = addrs[0];
  const b = addrs[1] ?? addrs[0];
  if (!aRuns && !bRuns) return false;
  const layout = aRuns && bRuns ? 0 : aRuns ? 1 : 2;
  const per = Math.max(CHUNK, Math.ceil(n / (64 * rt.numThreads)));
  rt.run(CHUNK_EW, [3 * index + layout, a, aRuns, b, bRuns, out.data.byteOffset + out.offset * 4, n, per], Math.ceil(n / per));
  return true;
}

/** Rows shorter than this stay on the TypeScript loops (the kernel's per-row setup would dominate). */
const MIN_ROW = 4;

/**
 * An [R, C] job whose output rows are contiguous: each input's rows either run with the output's
 * (C adjacent elements, any row step: 0 for a row broadcast such as a bias) or hold one value per
 * row (a column broadcast, such as x - max(x, -1, keepdim)). Inputs outside the memory that are
 * broadcast (C or R values) are copied into scratch; others must be in the memory.
 */
function rows(rt: WasmRuntime, index: number, ins: readonly CpuView[], out: CpuView, R: number, C: number, strides: number[][]): boolean {
  const so = strides[ins.length];
  if (so[1] !== 1 || so[0] !== C || C < MIN_ROW || !rt.owns(out.data)) return false;
  const runs = ins.map((_, i) => strides[i][1]);
  if (runs.some((r) => r !== 0 && r !== 1) || runs.every((r) => r === 0)) return false;
  // an input outside the memory is taken only when it is small: a broadcast row or column
  if (ins.some((v, i) => !rt.owns(v.data) && strides[i][0] !== 0 && runs[i] !== 0)) return false;
  rt.resetArena();
  const place = (v: CpuView, i: number): [number, number] => {
    const [sr, sc] = strides[i];
    if (rt.owns(v.data)) return [v.data.byteOffset + v.offset * 4, sr * 4];
    const count = sc === 1 ? C : R; // a broadcast row (sr = 0) or one value per row (sc = 0)
    const step = sc === 1 ? 1 : sr;
    const at = rt.alloc(count);
    const f = rt.f32;
    for (let j = 0; j < count; j++) f[(at >> 2) + j] = v.data[v.offset + j * step];
    return [at, sc === 1 ? 0 : 4];
  };
  const [a, aStep] = place(ins[0], 0);
  const [b, bStep] = ins[1] ? place(ins[1], 1) : [a, aStep];
  const aRuns = runs[0];
  const bRuns = runs[1] ?? runs[0];
  const layout = aRuns && bRuns ? 0 : aRuns ? 1 : 2;
  const per = Math.max(1, Math.ceil(CHUNK / C), Math.ceil(R / (64 * rt.numThreads)));
  rt.run(CHUNK_EW_ROWS, [3 * index + layout, a, aStep, b, bStep, out.data.byteOffset + out.offset * 4, C, per, R], Math.ceil(R / per));
  return true;
}

/**
 * A job of rank 3 or more (after merging dims), such as [B, N, 1] + [B, 1, M]: one 2-D row job
 * (see `rows`) per coordinate of the outer dims, each over the pool. Only when each 2-D slab is
 * big enough to amortise a handoff; the first slab decides whether the layout applies (every slab
 * has the same strides).
 */
function slabs(rt: WasmRuntime, index: number, ins: readonly CpuView[], out: CpuView, shape: readonly number[], strides: number[][]): boolean {
  const rank = shape.length;
  const R = shape[rank - 2];
  const C = shape[rank - 1];
  if (R * C < CHUNK) return false;
  const views = [...ins, out];
  const inner = strides.map((s) => s.slice(rank - 2));
  const outer = shape.slice(0, rank - 2);
  const count = outer.reduce((a, b) => a * b, 1);
  const coord = new Array<number>(outer.length).fill(0);
  const offs = views.map((v) => v.offset);
  for (let c = 0; c < count; c++) {
    const shifted = views.map((v, i) => ({ ...v, offset: offs[i] }));
    if (!rows(rt, index, shifted.slice(0, ins.length), shifted[ins.length], R, C, inner)) {
      if (c === 0) return false;
      throw new Error('cpu backend: an elementwise slab changed layout mid-job (internal error)');
    }
    for (let d = outer.length - 1; d >= 0; d--) {
      coord[d]++;
      for (let i = 0; i < views.length; i++) offs[i] += strides[i][d];
      if (coord[d] < outer[d]) break;
      for (let i = 0; i < views.length; i++) offs[i] -= strides[i][d] * outer[d];
      coord[d] = 0;
    }
  }
  return true;
}
