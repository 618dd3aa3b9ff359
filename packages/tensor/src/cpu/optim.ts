import { registerCpuKernel, type CpuView } from './backend.js';
import { CHUNK_ADAM, wasmRuntime } from './wasm/runtime.js';

/**
 * Fused Adam / AdamW step (see ops/optim.ts) in one pass over the parameter: the elementwise form
 * allocates and walks about a dozen full-size temporaries per parameter. Every intermediate is
 * rounded to the dtype as the separate ops round it (float32: Math.fround after each +, −, ×, ÷
 * and sqrt, the scalar constants rounded too), so the result has the same bits as the elementwise
 * form: the optimizers' trajectories do not change. float64 (cpu only) takes the elementwise form.
 * Parameters whose arrays all live in the WebAssembly heap run on the SIMD kernel across the pool
 * (plain f32 mul/add/div/sqrt in the same order: the same bits); others on a TypeScript loop.
 */
registerCpuKernel('adamStep', ([grad], state, p) => {
  const [param, expAvg, expAvgSq, vmax] = state as (CpuView | undefined)[] as CpuView[];
  if (param.dtype !== 'float32') throw new TypeError(`adamStep: the cpu kernel takes float32, received ${param.dtype}`);
  const r = Math.fround;
  const { lr, beta1, beta2, eps, weightDecay, decoupled, bc1, bc2 } = p as Record<string, number> & { decoupled: boolean };
  const b1 = r(beta1);
  const c1 = r(1 - beta1);
  const b2 = r(beta2);
  const c2 = r(1 - beta2);
  const wd = r(weightDecay);
  const keep = r(1 - lr * weightDecay);
  const sbc2 = r(Math.sqrt(bc2));
  const e = r(eps);
  const step = r(lr / bc1);
  const l2 = !decoupled && weightDecay !== 0;
  const shrink = decoupled && weightDecay !== 0;
  const n = param.shape.reduce((a, b) => a * b, 1);
  const k = [b1, c1, b2, c2, wd, keep, sbc2, e, step];
  const views = [grad, param, expAvg, expAvgSq, vmax];
  if (n >= WASM_MIN && wasmAdam(n, views, k, l2, shrink)) return;
  loop32(n, views, k, l2, shrink);
});

type Views = (CpuView | undefined)[];

// A monomorphic loop over Float32Arrays: Math.fround inlines as a float32 rounding.
function loop32(n: number, [grad, param, expAvg, expAvgSq, vmax]: Views, [b1, c1, b2, c2, wd, keep, sbc2, e, step]: number[], l2: boolean, shrink: boolean): void {
  const fr = Math.fround;
  const G = grad!.data as Float32Array, P = param!.data as Float32Array, M = expAvg!.data as Float32Array, V = expAvgSq!.data as Float32Array;
  const X = vmax?.data as Float32Array | undefined;
  const og = grad!.offset, op = param!.offset, om = expAvg!.offset, ov = expAvgSq!.offset, ox = vmax?.offset ?? 0;
  for (let i = 0; i < n; i++) {
    const pv = P[op + i];
    const g = l2 ? fr(G[og + i] + fr(pv * wd)) : G[og + i];
    const base = shrink ? fr(pv * keep) : pv;
    const m = fr(fr(M[om + i] * b1) + fr(g * c1));
    const v = fr(fr(V[ov + i] * b2) + fr(fr(g * g) * c2));
    M[om + i] = m;
    V[ov + i] = v;
    let second = v;
    if (X) {
      const x = X[ox + i];
      second = x !== x || v !== v ? NaN : Math.max(x, v);
      X[ox + i] = second;
    }
    const denom = fr(fr(fr(Math.sqrt(second)) / sbc2) + e);
    P[op + i] = fr(base - fr(fr(m / denom) * step));
  }
}

/** Below this many elements the TypeScript loop wins (no handoff to the pool). */
const WASM_MIN = 1 << 12;
/** Elements per chunk of the SIMD kernel. */
const CHUNK = 1 << 15;

function wasmAdam(n: number, views: Views, k: number[], l2: boolean, shrink: boolean): boolean {
  const rt = wasmRuntime();
  const used = views.filter((v): v is CpuView => v !== undefined);
  if (!rt || !used.every((v) => rt.owns(v.data))) return false;
  rt.resetArena();
  const consts = rt.alloc(k.length);
  rt.f32.set(k, consts >> 2);
  const addr = (v: CpuView | undefined) => (v ? v.data.byteOffset + v.offset * 4 : 0);
  const flags = (l2 ? 1 : 0) | (shrink ? 2 : 0) | (views[4] ? 4 : 0);
  const per = Math.max(CHUNK, Math.ceil(n / (16 * rt.numThreads)));
  rt.run(CHUNK_ADAM, [...views.map(addr), n, per, consts, flags], Math.ceil(n / per));
  return true;
}
