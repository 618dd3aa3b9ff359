/**
 * The functional face (JAX / torch.func style): transforms that take a function and return its
 * gradient, vector-Jacobian or Jacobian-vector product, Jacobian or Hessian, over pytrees (a
 * tensor, or arrays and plain objects of them, nested).
 *
 * Every transform differentiates fresh handles of the caller's tensors, so the caller's tensors,
 * their `.grad` and their `requiresGrad` are never touched, and disposes what it made internally.
 *
 * Composition: while grad mode is on, the backward passes are recorded (`createGraph`), so a
 * transform's result can be differentiated again — by another transform (hessian = jacobian of
 * grad) or by `backward` when the function closes over tensors that require gradients (a WGAN-GP
 * penalty). A result that depends on nothing outside the transform is handed back detached, which
 * frees the recorded graph at once.
 */
import * as T from '@tessera/tensor';
import type { Tensor } from '@tessera/tensor';
import { defineGrad, detach, enableGrad, gradOf, isGradEnabled, type Node } from './engine.js';

/** A tensor, or arrays and plain objects of pytrees. Other values (numbers, null, ...) are carried along untouched. */
export type Pytree = Tensor | readonly Pytree[] | { readonly [key: string]: Pytree } | number | string | boolean | null | undefined;

const isPlainObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof T.Tensor) && [Object.prototype, null].includes(Object.getPrototypeOf(v));

/** The tensors of a pytree, depth first, arrays in order and objects in property order. */
export function treeLeaves(tree: unknown): Tensor[] {
  const out: Tensor[] = [];
  const walk = (v: unknown) => {
    if (v instanceof T.Tensor) out.push(v);
    else if (Array.isArray(v)) v.forEach(walk);
    else if (isPlainObject(v)) Object.values(v).forEach(walk);
  };
  walk(tree);
  return out;
}

/** The same structure with every tensor replaced by `fn(tensor, index)` (index in `treeLeaves` order). */
export function treeMap<R>(tree: unknown, fn: (t: Tensor, index: number) => R): unknown {
  let k = 0;
  const walk = (v: unknown): unknown => {
    if (v instanceof T.Tensor) return fn(v, k++);
    if (Array.isArray(v)) return v.map(walk);
    if (isPlainObject(v)) return Object.fromEntries(Object.entries(v).map(([key, x]) => [key, walk(x)]));
    return v;
  };
  return walk(tree);
}

/** `like`'s structure with its tensors replaced, in order, by `leaves`. */
export function treeUnflatten(like: unknown, leaves: readonly unknown[]): unknown {
  return treeMap(like, (_, i) => leaves[i]);
}

const isFloat = (t: Tensor) => t.dtype === 'float32' || t.dtype === 'float64';

/**
 * The handle a transform differentiates in place of the caller's `x`: a fresh leaf when `x` takes
 * no part in an enclosing differentiation (`outer`: grad mode was on around the transform),
 * otherwise a recorded identity of `x`, so that an enclosing transform (or `backward`) sees
 * through this one.
 */
function innerInput(op: string, x: Tensor, outer: boolean): Tensor {
  if (!isFloat(x)) throw new TypeError(`${op}: differentiated inputs must be float tensors, received ${x.dtype}`);
  if (outer && x.requiresGrad) return T.reshape(x, x.shape);
  return x._view(x.shape, x.strides, x.offset).requiresGrad_();
}

/** Whether any of `ts` is differentiable through a tensor that is not one of `inner` (an enclosing differentiation needs its graph). */
function dependsOnOuter(ts: readonly Tensor[], inner: ReadonlySet<Tensor>): boolean {
  const stack: Node[] = [];
  const seen = new Set<Node>();
  for (const t of ts) {
    if (t.gradFn) stack.push(t.gradFn as Node);
    else if (t.requiresGrad && !inner.has(t)) return true;
  }
  while (stack.length) {
    const n = stack.pop()!;
    if (seen.has(n)) continue;
    seen.add(n);
    for (const e of n.edges) {
      if (!e) continue;
      if ('leaf' in e) {
        if (!inner.has(e.leaf)) return true;
      } else stack.push(e.node);
    }
  }
  return false;
}

/**
 * Whether a transform must record its backward passes: grad mode was on around it and what it
 * computed depends on a differentiable tensor other than its own inputs (a primal that requires
 * gradients, or one the function closes over). Otherwise nothing outside could differentiate the
 * results, and the backward passes run without recording.
 */
function keepsGraph(outer: boolean, computed: readonly Tensor[], inner: ReadonlySet<Tensor>): boolean {
  return outer && dependsOnOuter(computed.filter((t) => t.requiresGrad), inner);
}

/** Hands results back detached (freeing what they recorded) unless an enclosing differentiation needs them. */
function release(tree: unknown, keep: boolean): unknown {
  if (keep) return tree;
  // A tensor may appear at several places of the tree: it is detached once.
  const done = new Map<Tensor, Tensor>();
  return treeMap(tree, (t) => {
    if (!t.requiresGrad) return t;
    let d = done.get(t);
    if (!d) {
      d = detach(t);
      done.set(t, d);
      t.dispose();
    }
    return d;
  });
}

/**
 * gradOf hands back the gradients of non-leaf inputs outside every tidy scope; a fresh (recorded)
 * handle puts each result back in the current scope, so callers' tidy calls clean up as usual.
 */
function adopt(gs: readonly Tensor[]): Tensor[] {
  return gs.map((g) => {
    const h = T.reshape(g, g.shape);
    g.dispose();
    return h;
  });
}

type Argnums = number | readonly number[];

function checkArgnums(op: string, argnums: Argnums, n: number): number[] {
  const list = typeof argnums === 'number' ? [argnums] : [...argnums];
  for (const a of list) {
    if (!Number.isInteger(a) || a < 0 || a >= n) throw new RangeError(`${op}: argnums ${a} is out of range for ${n} argument(s)`);
  }
  return list;
}

/** The arguments with those in `argnums` swapped for inner handles; `xs` lists the handles per differentiated argument. */
function prepare(op: string, args: readonly unknown[], argnums: readonly number[], outer: boolean) {
  const xs: Tensor[][] = [];
  const inner = [...args];
  for (const a of argnums) {
    const list: Tensor[] = [];
    inner[a] = treeMap(args[a], (t) => {
      const x = innerInput(op, t, outer);
      list.push(x);
      return x;
    });
    xs.push(list);
  }
  return { args: inner, xs };
}

function scalarOutput(op: string, out: unknown): Tensor {
  if (!(out instanceof T.Tensor) || out.size !== 1 || !isFloat(out)) {
    const what = out instanceof T.Tensor ? `a ${out.dtype} tensor of shape [${out.shape.join(', ')}]` : typeof out;
    throw new TypeError(`${op}: the function must return a float scalar tensor (one element), received ${what}`);
  }
  return out;
}

export interface GradOptions {
  /** Which positional argument(s) to differentiate (default 0); an array gives an array of gradients. */
  argnums?: Argnums;
  /** The function returns `[value, aux]`; aux is handed back without being differentiated. */
  hasAux?: boolean;
}

export interface ValueAndGrad<G = any> {
  value: Tensor;
  grad: G;
  aux?: unknown;
}

function valueAndGradImpl(op: string, f: (...args: any[]) => unknown, options: GradOptions, args: readonly unknown[]): ValueAndGrad {
  const { argnums = 0, hasAux = false } = options;
  const nums = checkArgnums(op, argnums, args.length);
  return T.tidy(() => {
    const outer = isGradEnabled();
    const { args: inner, xs } = prepare(op, args, nums, outer);
    // The function is always recorded (a transform works inside noGrad too).
    const r = enableGrad(() => f(...inner));
    let out: unknown = r;
    let aux: unknown;
    if (hasAux) {
      if (!Array.isArray(r) || r.length !== 2) throw new TypeError(`${op}: with hasAux the function must return [value, aux]`);
      [out, aux] = r;
    }
    const value = scalarOutput(op, out);
    const flat = xs.flat();
    const innerSet = new Set(flat);
    const keep = keepsGraph(outer, [value], innerSet);
    const gs = adopt(gradOf([value], flat, { createGraph: keep, materialize: true }) as Tensor[]);
    let k = 0;
    const perArg = nums.map((a, i) => treeUnflatten(args[a], gs.slice(k, (k += xs[i].length))));
    const grad = typeof argnums === 'number' ? perArg[0] : perArg;
    const result: ValueAndGrad = { value: release(value, keep) as Tensor, grad: release(grad, keep) };
    if (hasAux) result.aux = release(aux, keepsGraph(outer, treeLeaves(aux), innerSet));
    return result;
  });
}

/**
 * The gradient of a scalar-valued `f` with respect to its argument `argnums` (a pytree of the
 * same structure), or to several arguments (an array of pytrees).
 *
 * ```ts
 * const df = grad((x: Tensor) => T.sum(T.pow(x, 3)));
 * df(x); // 3 x^2
 * ```
 */
export function grad<F extends (...args: any[]) => unknown>(f: F, options: GradOptions = {}): (...args: Parameters<F>) => any {
  return (...args) => {
    const { value, grad: g, aux } = valueAndGradImpl('grad', f, options, args);
    value.dispose();
    return options.hasAux ? [g, aux] : g;
  };
}

/** Like `grad`, returning the value (and aux) too: `{ value, grad, aux? }`. */
export function valueAndGrad<F extends (...args: any[]) => unknown>(f: F, options: GradOptions = {}): (...args: Parameters<F>) => ValueAndGrad {
  return (...args) => valueAndGradImpl('valueAndGrad', f, options, args);
}

export interface VjpResult<O = any> {
  /** f(...primals). */
  out: O;
  /** Cotangents of the outputs (same structure as `out`; null entries mean zero) to cotangents of each primal (an array, one pytree per primal). Can be called many times. */
  vjp: (cotangents: unknown) => any[];
  /** Frees the graph kept for `vjp` (it is also freed by an enclosing `tidy`). */
  dispose: () => void;
}

/** Cotangent leaves for `outs` from a user pytree shaped like the outputs (null: zeros). */
function cotangentLeaves(op: string, outTree: unknown, outs: readonly Tensor[], cot: unknown): Tensor[] {
  const given = outTree instanceof T.Tensor ? [cot] : flattenLike(op, outTree, cot);
  return outs.map((o, i) => {
    const c = given[i];
    if (c === null || c === undefined) return T.zerosLike(o);
    if (!(c instanceof T.Tensor)) throw new TypeError(`${op}: cotangents must be tensors matching the outputs`);
    return c;
  });
}

/** The values of `tree` at the tensor positions of `like` (which must have the same structure). */
function flattenLike(op: string, like: unknown, tree: unknown): unknown[] {
  const out: unknown[] = [];
  const walk = (l: unknown, v: unknown) => {
    if (l instanceof T.Tensor) out.push(v);
    else if (Array.isArray(l)) {
      if (!Array.isArray(v) || v.length !== l.length) throw new TypeError(`${op}: the cotangents/tangents do not have the structure of the value they pair with`);
      l.forEach((x, i) => walk(x, v[i]));
    } else if (isPlainObject(l)) {
      if (!isPlainObject(v)) throw new TypeError(`${op}: the cotangents/tangents do not have the structure of the value they pair with`);
      for (const [k, x] of Object.entries(l)) walk(x, v[k]);
    }
  };
  walk(like, tree);
  return out;
}

/**
 * Evaluates `f(...primals)` and returns its output with a function that pulls cotangents of the
 * output back to cotangents of every primal (reverse mode). The graph is kept for repeated
 * `vjp` calls until `dispose()` (or the enclosing `tidy`).
 */
export function vjp<F extends (...args: any[]) => unknown>(f: F, ...primals: Parameters<F>): VjpResult {
  const nums = primals.map((_, i) => i);
  const outer = isGradEnabled();
  const state = T.tidy(() => {
    const { args, xs } = prepare('vjp', primals, nums, outer);
    const out = enableGrad(() => f(...args));
    return { out: out as Tensor, xs };
  });
  const outTree: unknown = state.out;
  const outs = treeLeaves(outTree);
  const flat = state.xs.flat();
  const innerSet = new Set(flat);
  const keep = keepsGraph(outer, outs, innerSet);
  // A separate handle for the caller, so that disposing it does not free the graph `vjp` needs.
  const userOut = keep ? outTree : treeMap(outTree, (o) => detach(o));
  let disposed = false;
  return {
    out: userOut,
    vjp: (cotangents) => {
      if (disposed) throw new Error('vjp: called after dispose()');
      const record = keep && isGradEnabled();
      return T.tidy(() => {
        const cots = cotangentLeaves('vjp', outTree, outs, cotangents);
        const live = outs.map((o, i) => i).filter((i) => isFloat(outs[i]));
        const gs = adopt(
          gradOf(
            live.map((i) => outs[i]),
            flat,
            { gradients: live.map((i) => cots[i]), retainGraph: true, createGraph: record, materialize: true },
          ) as Tensor[],
        );
        let k = 0;
        const perArg = primals.map((p, i) => treeUnflatten(p, gs.slice(k, (k += state.xs[i].length))));
        return release(perArg, record) as unknown[];
      });
    },
    dispose: () => {
      if (disposed) return;
      disposed = true;
      if (!keep) T.dispose(outs);
      T.dispose(flat);
    },
  };
}

/**
 * The linearisation used by forward mode: `f`'s outputs at the inner primals and the function
 * u -> J^T u recorded as a graph in u, so that J t = d/du <J^T u, t> is one more reverse pass
 * (the double-vjp trick: forward mode from reverse-mode rules alone).
 */
function linearize(op: string, f: (...args: any[]) => unknown, args: readonly unknown[], nums: readonly number[], outer: boolean) {
  const { args: inner, xs } = prepare(op, args, nums, outer);
  const outTree = enableGrad(() => f(...inner));
  const outs = treeLeaves(outTree);
  for (const o of outs) if (!isFloat(o)) throw new TypeError(`${op}: outputs must be float tensors, received ${o.dtype}`);
  const us = outs.map((o) => T.zerosLike(o).requiresGrad_());
  const live = outs.map((o, i) => i).filter((i) => outs[i].requiresGrad);
  const flat = xs.flat();
  const keep = keepsGraph(outer, outs, new Set(flat));
  const vjps = enableGrad(() =>
    gradOf(
      live.map((i) => outs[i]),
      flat,
      { gradients: live.map((i) => us[i]), createGraph: true, materialize: true },
    ),
  ) as Tensor[];
  /** J t for tangents `ts` (one per inner primal; null: zero), one tensor per output. */
  const jvpOf = (ts: readonly (Tensor | null)[]) => {
    const pairs = vjps.map((g, j) => [g, ts[j]] as const).filter(([g, t]) => t !== null && g.requiresGrad);
    return gradOf(
      pairs.map(([g]) => g),
      us,
      { gradients: pairs.map(([, t]) => t), retainGraph: true, createGraph: keep, materialize: true },
    ) as Tensor[];
  };
  // gradOf hands back some results outside every tidy scope (see the README), so internal
  // tensors are disposed explicitly rather than left to the enclosing tidy.
  return { xs, flat, outTree, outs, jvpOf, keep, scratch: [...us, ...vjps] };
}

function checkTangent(op: string, t: unknown, x: Tensor): Tensor | null {
  if (t === null || t === undefined) return null;
  if (!(t instanceof T.Tensor)) throw new TypeError(`${op}: tangents must be tensors`);
  if (t.shape.length !== x.shape.length || t.shape.some((d, k) => d !== x.shape[k])) {
    throw new RangeError(`${op}: a tangent of shape [${t.shape.join(', ')}] does not match its primal of shape [${x.shape.join(', ')}]`);
  }
  return t;
}

/**
 * Forward mode: `f(...primals)` and its directional derivative J·tangents (`tangents` has the
 * structure of `primals`; null leaves mean zero). Returns `{ out, jvpOut }`, both shaped like f's output.
 */
export function jvp<F extends (...args: any[]) => unknown>(f: F, primals: Parameters<F>, tangents: readonly unknown[]): { out: any; jvpOut: any } {
  if (!Array.isArray(primals) || !Array.isArray(tangents)) throw new TypeError('jvp: primals and tangents must be arrays of arguments');
  return T.tidy(() => {
    const lin = linearize('jvp', f, primals, primals.map((_, i) => i), isGradEnabled());
    const ts = flattenLike('jvp', primals, tangents).map((t, j) => checkTangent('jvp', t, lin.flat[j]));
    const jv = lin.jvpOf(ts);
    const result = {
      out: release(lin.outTree, lin.keep),
      jvpOut: release(treeUnflatten(lin.outTree, jv), lin.keep),
    };
    T.dispose(lin.scratch);
    return result;
  });
}

export interface JacobianOptions {
  /** 'rev': one vjp per output element (default); 'fwd': one jvp per input element. */
  mode?: 'rev' | 'fwd';
  argnums?: Argnums;
}

/** The standard basis of the tensors shaped like `like`, one at a time. */
function basis(like: Tensor): (e: number) => Tensor {
  const eye = T.eye(like.size, like.size, { dtype: like.dtype, device: like.device });
  return (e) => T.tidy(() => T.reshape(T.select(eye, 0, e), like.shape));
}

/**
 * The Jacobian of `f`: for an output leaf of shape O and an input leaf of shape X, a tensor of
 * shape [...O, ...X]. With one output tensor and `argnums` a number, the result has the structure
 * of that argument; otherwise outputs nest outside inputs (f's output structure, each leaf
 * replaced by the argument structure, or an array of them for an `argnums` array).
 */
export function jacobian<F extends (...args: any[]) => unknown>(f: F, options: JacobianOptions = {}): (...args: Parameters<F>) => any {
  const { mode = 'rev', argnums = 0 } = options;
  return (...args) =>
    T.tidy(() => {
      const nums = checkArgnums('jacobian', argnums, args.length);
      const blocks: Tensor[][] = []; // blocks[i][j]: output leaf i, input leaf j
      let outTree: unknown;
      let xs: Tensor[][];
      let keep: boolean;
      const outer = isGradEnabled();
      if (mode === 'rev') {
        const p = prepare('jacobian', args, nums, outer);
        xs = p.xs;
        const flat = xs.flat();
        outTree = enableGrad(() => f(...p.args));
        keep = keepsGraph(outer, treeLeaves(outTree), new Set(flat));
        for (const o of treeLeaves(outTree)) {
          if (!isFloat(o)) throw new TypeError(`jacobian: outputs must be float tensors, received ${o.dtype}`);
          const rows: Tensor[][] = flat.map(() => []);
          const cot = basis(o);
          for (let e = 0; e < o.size; e++) {
            const gs = o.requiresGrad
              ? (gradOf([o], flat, { gradients: [cot(e)], retainGraph: true, createGraph: keep, materialize: true }) as Tensor[])
              : flat.map((x) => T.zerosLike(x));
            gs.forEach((g, j) => rows[j].push(g));
          }
          blocks.push(rows.map((r, j) => T.reshape(T.stack(r, 0), [...o.shape, ...flat[j].shape])));
          T.dispose(rows);
        }
        T.dispose(treeLeaves(outTree));
      } else if (mode === 'fwd') {
        const lin = linearize('jacobian', f, args, nums, outer);
        xs = lin.xs;
        keep = lin.keep;
        outTree = lin.outTree;
        const cols: Tensor[][][] = lin.outs.map(() => lin.flat.map(() => []));
        lin.flat.forEach((x, j) => {
          const tangent = basis(x);
          for (let e = 0; e < x.size; e++) {
            const t = tangent(e);
            const jv = lin.jvpOf(lin.flat.map((_, k) => (k === j ? t : null)));
            jv.forEach((c, i) => cols[i][j].push(c));
          }
        });
        lin.outs.forEach((o, i) => blocks.push(lin.flat.map((x, j) => T.reshape(T.stack(cols[i][j], o.rank), [...o.shape, ...x.shape]))));
        T.dispose([cols, lin.scratch, lin.outs]);
      } else {
        throw new RangeError(`jacobian: mode must be 'rev' or 'fwd', received ${String(mode)}`);
      }
      const perOut = blocks.map((row) => {
        let k = 0;
        const perArg = nums.map((a, i) => treeUnflatten(args[a], row.slice(k, (k += xs[i].length))));
        return typeof argnums === 'number' ? perArg[0] : perArg;
      });
      return release(treeUnflatten(outTree, perOut), keep);
    });
}

/** The Hessian of a scalar-valued `f` (the reverse-mode Jacobian of its gradient): [...X, ...X] blocks. */
export function hessian<F extends (...args: any[]) => unknown>(f: F, options: { argnums?: Argnums } = {}): (...args: Parameters<F>) => any {
  return jacobian(grad(f, options) as F, { mode: 'rev', argnums: options.argnums ?? 0 });
}

/**
 * The Hessian-vector product H·v of a scalar-valued `f` at `primals` (an array of arguments; `v`
 * has their structure), without forming H: the gradient of <∇f, v>. Returns one pytree per primal.
 */
export function hvp<F extends (...args: any[]) => unknown>(f: F, primals: Parameters<F>, v: readonly unknown[]): any[] {
  if (!Array.isArray(primals) || !Array.isArray(v)) throw new TypeError('hvp: primals and v must be arrays of arguments');
  return T.tidy(() => {
    const nums = primals.map((_, i) => i);
    const outer = isGradEnabled();
    const { args, xs } = prepare('hvp', primals, nums, outer);
    const flat = xs.flat();
    const vs = flattenLike('hvp', primals, v).map((t, j) => checkTangent('hvp', t, flat[j]));
    const out = scalarOutput('hvp', enableGrad(() => f(...args)));
    const keep = keepsGraph(outer, [out], new Set(flat));
    const gs = enableGrad(() => gradOf([out], flat, { createGraph: true, materialize: true })) as Tensor[];
    const dot = enableGrad(() => {
      const terms = gs.map((g, j) => (vs[j] && g.requiresGrad ? T.sum(T.mul(g, vs[j]!)) : null)).filter((t): t is Tensor => t !== null);
      return terms.length ? terms.reduce((a, b) => T.add(a, b)) : null;
    });
    const hv = dot && dot.requiresGrad ? adopt(gradOf([dot], flat, { createGraph: keep, materialize: true }) as Tensor[]) : flat.map((x) => T.zerosLike(x));
    T.dispose([gs, dot]);
    let k = 0;
    const perArg = primals.map((p, i) => treeUnflatten(p, hv.slice(k, (k += xs[i].length))));
    return release(perArg, keep) as unknown[];
  });
}

/** A pytree of views of `x` that take no part in differentiation (JAX's stop_gradient, PyTorch's detach). */
export function stopGradient<P>(x: P): P {
  return treeMap(x, (t) => detach(t)) as P;
}

export interface CustomVjpContext {
  /** The function's tensor arguments (saved views), in order of appearance (arrays flattened). */
  readonly inputs: readonly Tensor[];
  /** The function's outputs (saved views). */
  readonly outputs: readonly Tensor[];
  /** The residuals `fwd` returned as `saved`. */
  readonly saved: readonly Tensor[];
  /** All arguments, tensors replaced by the saved views. */
  readonly args: readonly unknown[];
  /** Which inputs need a gradient (return null for the others). */
  readonly needs: readonly boolean[];
}

export type CustomFwdResult = Tensor | Tensor[] | { out: Tensor | Tensor[]; saved?: Tensor[] };

let customCount = 0;

/**
 * A function with a user-given backward. `fwd(...args)` returns the output (a tensor or an array
 * of tensors), or `{ out, saved }` with residuals for the backward; it runs unrecorded. `bwd(g,
 * ctx)` gets the output cotangent(s) (zeros where none flows; a tensor or an array matching
 * `out`) and returns one gradient per tensor input (a tensor when there is exactly one input;
 * null for no gradient). Written with tensor ops, `bwd` is itself differentiable (higher order).
 * Tensor arguments are top-level tensors or arrays of tensors. Create the function once and reuse
 * it: each `customVjp` registers a gradient rule.
 */
export function customVjp<A extends unknown[]>(
  fwd: (...args: A) => CustomFwdResult,
  bwd: (g: any, ctx: CustomVjpContext) => Tensor | null | readonly (Tensor | null)[],
): (...args: A) => any {
  const name = `customVjp:${fwd.name || 'anonymous'}#${customCount++}`;
  interface Meta {
    nOut: number;
    single: boolean;
  }
  const raw = (meta: Meta, ...args: A): Tensor[] => {
    const r = fwd(...args);
    const hasSaved = isPlainObject(r) && 'out' in r;
    const out = hasSaved ? (r as { out: Tensor | Tensor[] }).out : (r as Tensor | Tensor[]);
    const saved = hasSaved ? ((r as { saved?: Tensor[] }).saved ?? []) : [];
    meta.single = !Array.isArray(out);
    const outs = meta.single ? [out as Tensor] : (out as Tensor[]);
    for (const o of [...outs, ...saved]) if (!(o instanceof T.Tensor)) throw new TypeError(`customVjp: fwd must return tensors`);
    meta.nOut = outs.length;
    // Each result must be a new tensor object: an input or a repeated tensor gets its own view.
    const inputs = new Set(T.tensorsIn(args));
    const seen = new Set<Tensor>();
    return [...outs, ...saved].map((t) => {
      const fresh = inputs.has(t) || seen.has(t) ? t._view(t.shape, t.strides, t.offset) : t;
      seen.add(t);
      return fresh;
    });
  };
  const prim = T.primitive(name, raw);
  defineGrad(name, (grads, ctx) =>
    T.tidy(() => {
      const meta = ctx.args[0] as Meta;
      const outputs = ctx.outputs.slice(0, meta.nOut);
      const gs = outputs.map((o, i) => grads[i] ?? T.zerosLike(o));
      const r = bwd(meta.single ? gs[0] : gs, { inputs: ctx.inputs, outputs, saved: ctx.outputs.slice(meta.nOut), args: ctx.args.slice(1), needs: ctx.needs });
      const list = r instanceof T.Tensor || r === null ? [r] : [...r];
      if (list.length !== ctx.inputs.length) {
        throw new Error(`customVjp: bwd returned ${list.length} gradient(s) for ${ctx.inputs.length} tensor input(s)`);
      }
      return list;
    }),
  );
  return (...args: A) => {
    const meta: Meta = { nOut: 0, single: true };
    const res = prim(meta, ...args);
    // Residuals live on in the recorded node only.
    for (const t of res.slice(meta.nOut)) t.dispose();
    const outs = res.slice(0, meta.nOut);
    return meta.single ? outs[0] : outs;
  };
}

/**
 * Gradient checkpointing: `fn` runs without recording, keeping only its inputs; the backward pass
 * runs it again with recording and backpropagates through the recomputation. Same gradients (of
 * any order), less memory held between forward and backward, one extra forward. Tensor arguments
 * are top-level tensors or arrays of tensors; `fn` returns a tensor or an array of tensors.
 */
export function checkpoint<A extends unknown[]>(fn: (...args: A) => Tensor | Tensor[]): (...args: A) => any {
  return customVjp<A>(
    (...args) => fn(...args),
    (g, ctx) => {
      // In a backward that builds a graph (createGraph), the recomputation must stay connected to
      // the real inputs so that the gradient can be differentiated again.
      const outer = isGradEnabled();
      const gs: Tensor[] = Array.isArray(g) ? g : [g];
      const xs = ctx.inputs.map((x, i) => (!ctx.needs[i] || !isFloat(x) ? x : outer ? T.reshape(x, x.shape) : x._view(x.shape, x.strides, x.offset).requiresGrad_()));
      let k = 0;
      const swap = (a: unknown): unknown => (a instanceof T.Tensor ? xs[k++] : Array.isArray(a) ? a.map((b) => (b instanceof T.Tensor ? xs[k++] : b)) : a);
      const args = ctx.args.map(swap) as A;
      const out = enableGrad(() => fn(...args));
      const outs = Array.isArray(out) ? out : [out];
      const want = xs.map((x, i) => i).filter((i) => ctx.needs[i] && isFloat(xs[i]));
      const live = outs.map((o, i) => i).filter((i) => outs[i].requiresGrad);
      const res = gradOf(
        live.map((i) => outs[i]),
        want.map((i) => xs[i]),
        { gradients: live.map((i) => gs[i]), createGraph: outer, allowUnused: true },
      );
      const grads: (Tensor | null)[] = ctx.inputs.map(() => null);
      want.forEach((i, n) => (grads[i] = res[n]));
      return grads;
    },
  );
}
