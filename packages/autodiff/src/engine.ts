/**
 * Reverse-mode automatic differentiation, micrograd-style, over @tessera/tensor's recorded ops.
 *
 * Recording: @tessera/tensor calls `record` after every differentiable op whose inputs require
 * gradients. The op's node keeps views of its inputs and outputs (so disposing the user's handles
 * frees nothing the backward pass needs) and one edge per input: to the node that produced it,
 * to a leaf that wants `.grad`, or nothing.
 *
 * Backward: nodes in reverse topological order turn the cotangents of their outputs into
 * cotangents of their inputs with their rule. Rules are written with tensor ops, so when
 * `createGraph` is on they are themselves recorded and gradients of gradients work.
 *
 * Lifetime: a node lives while some tensor produced by it (or a view a later node saved of it)
 * is alive; when the last is disposed, or when backward finishes without `retainGraph`, the node
 * disposes what it saved, which releases its parents in turn. Memory stays flat across steps.
 */
import * as T from '@tessera/tensor';
import type { Tensor } from '@tessera/tensor';

export interface RuleContext {
  /** The op's arguments, with every tensor replaced by the saved view of it. */
  readonly args: readonly unknown[];
  /** The tensor inputs (saved views), in the order they appear in `args`. */
  readonly inputs: readonly Tensor[];
  /** The tensor outputs (saved views), in the order they appear in the result. */
  readonly outputs: readonly Tensor[];
  /** Which inputs need a gradient; a rule may return null for the others. */
  readonly needs: readonly boolean[];
}

/**
 * Turns output cotangents into input cotangents. `grads[i]` is the cotangent of `outputs[i]` or
 * null when nothing flows there. Returns one entry per input (null for no gradient).
 */
export type GradRule = (grads: readonly (Tensor | null)[], ctx: RuleContext) => readonly (Tensor | null)[];

const rules = new Map<string, GradRule>();

/** Registers the gradient rule of a recorded op (by the name given to `primitive`). */
export function defineGrad(op: string, rule: GradRule): void {
  rules.set(op, rule);
}

export function hasGrad(op: string): boolean {
  return rules.has(op);
}

type Edge = { node: Node; index: number } | { leaf: Tensor } | null;

export class Node {
  readonly id: number;
  refs = 0;
  freed = false;
  constructor(
    readonly op: string,
    readonly rule: GradRule | undefined,
    readonly ctx: RuleContext,
    readonly edges: readonly Edge[],
    readonly outputMeta: readonly { shape: readonly number[]; dtype: T.DType; device: T.DeviceName }[],
    /** Other saved values (sparse matrices among the arguments) to dispose with the node. */
    readonly extras: readonly { dispose(): void }[] = [],
  ) {
    this.id = nextId++;
  }

  /** Disposes what the node saved; parents are released as their saved views go. */
  free(): void {
    if (this.freed) return;
    this.freed = true;
    // Saved outputs point at this node without counting as references: release() ignores them.
    for (const t of [...this.ctx.inputs, ...this.ctx.outputs]) t.dispose();
    for (const e of this.extras) e.dispose();
  }
}

let nextId = 0;
/** Output views a node saved of its own results: they hold no reference to the node. */
const savedOutputs = new WeakSet<Tensor>();
/** Saved views of leaves, mapped to the leaf: gradients reaching a view belong to the leaf. */
const leafOf = new WeakMap<Tensor, Tensor>();

let enabled = true;

function saveView(t: Tensor): Tensor {
  const v = T.keep(t._view(t.shape, t.strides, t.offset));
  return v;
}

const recorder: T.GradRecorder = {
  wants(inputs) {
    return enabled && inputs.some((t) => t.requiresGrad);
  },

  record(op, inputs, args, outputs) {
    const diffOutputs = outputs.filter((o) => o.dtype === 'float32' || o.dtype === 'float64');
    if (diffOutputs.length === 0) return;
    const saved = new Map<Tensor, Tensor>();
    const savedInputs = inputs.map((t) => {
      let v = saved.get(t);
      if (!v) {
        v = saveView(t);
        v.gradFn = t.gradFn;
        v.outputIndex = t.outputIndex;
        if (t.gradFn) (t.gradFn as Node).refs++;
        else if (t.requiresGrad) {
          v.requiresGrad = true;
          leafOf.set(v, leafOf.get(t) ?? t);
        }
        saved.set(t, v);
      }
      return v;
    });
    // Sparse matrices are not tensor inputs (no gradient reaches them) but rules read them: keep a
    // copy sharing their data, so that disposing the user's matrix before backward is safe.
    const extras: T.SparseTensor[] = [];
    const swap = (a: unknown): unknown => {
      if (a instanceof T.Tensor) return saved.get(a);
      if (Array.isArray(a)) return a.map((b) => (b instanceof T.Tensor ? saved.get(b) : b));
      if (a instanceof T.SparseTensor) {
        const copy = new T.SparseTensor(saveView(a.indices), saveView(a.values), a.shape, a.isCoalesced());
        extras.push(copy);
        return copy;
      }
      return a;
    };
    const savedOut = outputs.map((o) => {
      const v = saveView(o);
      savedOutputs.add(v);
      return v;
    });
    const isDiff = (o: Tensor) => diffOutputs.includes(o);
    const edges: Edge[] = inputs.map((t) => (t.gradFn ? { node: t.gradFn as Node, index: t.outputIndex } : t.requiresGrad ? { leaf: leafOf.get(t) ?? t } : null));
    const ctx: RuleContext = { args: args.map(swap), inputs: savedInputs, outputs: savedOut, needs: edges.map((e) => e !== null) };
    const node = new Node(op, rules.get(op), ctx, edges, outputs.map((o) => ({ shape: o.shape, dtype: o.dtype, device: o.device })), extras);
    outputs.forEach((o, i) => {
      if (!isDiff(o)) return;
      if (inputs.includes(o)) throw new Error(`autodiff: op '${op}' returned one of its inputs; it must return a new tensor`);
      o.gradFn = node;
      o.outputIndex = i;
      node.refs++;
      // The saved view carries the node too, so that rules using an output stay differentiable.
      savedOut[i].gradFn = node;
      savedOut[i].outputIndex = i;
    });
  },

  release(t) {
    if (savedOutputs.has(t)) return;
    const node = t.gradFn as Node | null;
    t.gradFn = null;
    if (!node) return;
    if (--node.refs === 0) node.free();
  },
};

T.setGradRecorder(recorder);

/** Runs `fn` without recording (PyTorch's no_grad): results do not require gradients. Async functions are awaited. */
export function noGrad<R>(fn: () => R): R {
  const prev = enabled;
  enabled = false;
  let restoreNow = true;
  try {
    const r = fn();
    if (r instanceof Promise) {
      restoreNow = false;
      return r.finally(() => {
        enabled = prev;
      }) as R;
    }
    return r;
  } finally {
    if (restoreNow) enabled = prev;
  }
}

/** Runs `fn` with recording on, even inside `noGrad`. */
export function enableGrad<R>(fn: () => R): R {
  const prev = enabled;
  enabled = true;
  try {
    return fn();
  } finally {
    enabled = prev;
  }
}

export function isGradEnabled(): boolean {
  return enabled;
}

/** A view of `t` that shares its data but takes no part in differentiation. */
export function detach(t: Tensor): Tensor {
  return t._view(t.shape, t.strides, t.offset);
}

export interface BackwardOptions {
  /** The cotangent of `output` (required when it is not a scalar). */
  gradient?: Tensor;
  /** Keep the graph for another backward pass. */
  retainGraph?: boolean;
  /** Record the backward pass itself, for gradients of gradients (implies retainGraph). */
  createGraph?: boolean;
}

/**
 * Accumulates d(output)/d(leaf) into `leaf.grad` for every leaf the output depends on
 * (PyTorch's `loss.backward()`).
 */
export function backward(output: Tensor, options: BackwardOptions = {}): void {
  run([output], [options.gradient ?? null], options, (leaf, g) => {
    // A broadcast (stride-0) cotangent becomes a dense `.grad`: optimizers update grads in place.
    if (g.strides.some((s, i) => s === 0 && g.shape[i] > 1)) {
      const dense = T.contiguous(g);
      g.dispose();
      g = dense;
    }
    const prev = leaf.grad;
    if (prev) {
      leaf.grad = T.keep(T.add(prev, g));
      prev.dispose();
      g.dispose();
    } else {
      leaf.grad = T.keep(g);
    }
  });
}

/**
 * Cotangents of `inputs` (any tensors the outputs depend on, leaves or not) without touching
 * `.grad`. Entries are null for inputs the outputs do not depend on, unless `allowUnused` is
 * false (the default), which throws instead.
 */
export function gradOf(outputs: readonly Tensor[], inputs: readonly Tensor[], options: BackwardOptions & { gradients?: readonly (Tensor | null)[]; allowUnused?: boolean; materialize?: boolean } = {}): (Tensor | null)[] {
  const wanted = new Map<Tensor, Tensor | null>(inputs.map((t) => [t, null]));
  // Non-leaf inputs: capture the cotangent reaching their (node, index) slot.
  const slots = new Map<string, Tensor>();
  for (const t of inputs) {
    if (!t.requiresGrad) throw new Error('grad: an input does not require gradients; set requiresGrad on it before computing the outputs');
    if (t.gradFn) slots.set(`${(t.gradFn as Node).id}:${t.outputIndex}`, t);
  }
  // Outputs that do not depend on anything differentiable contribute nothing.
  const live = outputs.map((o, i) => i).filter((i) => outputs[i].requiresGrad);
  const seeds = options.gradients ?? outputs.map(() => null);
  run(live.map((i) => outputs[i]), live.map((i) => seeds[i]), options, (leaf, g) => {
    if (!wanted.has(leaf)) {
      g.dispose();
      return;
    }
    const prev = wanted.get(leaf);
    wanted.set(leaf, prev ? T.add(prev, g) : g);
    if (prev) {
      prev.dispose();
      g.dispose();
    }
  }, slots, wanted, new Set(inputs.filter((t) => !t.gradFn)));
  return inputs.map((t) => {
    const g = wanted.get(t) ?? null;
    if (g === null && !options.allowUnused) {
      if (options.materialize) return T.zerosLike(t);
      throw new Error('grad: one of the inputs is not used to compute the outputs; pass { allowUnused: true } to get null for it, or { materialize: true } for zeros');
    }
    return g;
  });
}

function run(
  outputs: readonly Tensor[],
  seeds: readonly (Tensor | null)[],
  options: BackwardOptions,
  onLeaf: (leaf: Tensor, g: Tensor) => void,
  slots?: Map<string, Tensor>,
  captured?: Map<Tensor, Tensor | null>,
  wantedLeaves?: ReadonlySet<Tensor>,
): void {
  const createGraph = options.createGraph ?? false;
  const retain = options.retainGraph ?? createGraph;
  const body = () => {
    const grads = new Map<Node, (Tensor | null)[]>();
    const addGrad = (node: Node, index: number, g: Tensor) => {
      let list = grads.get(node);
      if (!list) grads.set(node, (list = node.outputMeta.map(() => null)));
      const prev = list[index];
      list[index] = prev ? T.add(prev, g) : g;
      if (prev) {
        prev.dispose();
        g.dispose();
      }
    };
    const roots: Node[] = [];
    outputs.forEach((out, i) => {
      if (!out.requiresGrad) throw new Error('backward: the output does not require gradients (no input it depends on has requiresGrad set)');
      let seed = seeds[i];
      if (!seed) {
        if (out.size !== 1) throw new Error(`backward: a gradient must be given for a non-scalar output of shape [${out.shape.join(', ')}]`);
        seed = T.onesLike(out);
      } else {
        if (seed.shape.length !== out.shape.length || seed.shape.some((d, k) => d !== out.shape[k])) {
          throw new RangeError(`backward: gradient of shape [${seed.shape.join(', ')}] does not match the output shape [${out.shape.join(', ')}]`);
        }
        seed = T.cast(seed, out.dtype);
      }
      if (!out.gradFn) {
        onLeaf(out, seed);
        return;
      }
      const node = out.gradFn as Node;
      addGrad(node, out.outputIndex, seed);
      roots.push(node);
    });
    // Topological order (parents after children when reversed).
    const order: Node[] = [];
    const seen = new Set<Node>();
    const visit = (n: Node) => {
      if (seen.has(n)) return;
      seen.add(n);
      for (const e of n.edges) if (e && 'node' in e) visit(e.node);
      order.push(n);
    };
    for (const r of roots) visit(r);
    // Only nodes through which a cotangent reaches something wanted are run: a wanted leaf, or a
    // wanted intermediate slot (captured before its node runs, so that node itself is not needed
    // for it). `order` has parents first, so one pass settles every node.
    const needed = new Set<Node>();
    const slotWanted = (n: Node, i: number) => slots?.has(`${n.id}:${i}`) ?? false;
    for (const n of order) {
      const leads = n.edges.some((e) => e !== null && ('leaf' in e ? !wantedLeaves || wantedLeaves.has(e.leaf) : slotWanted(e.node, e.index) || needed.has(e.node)));
      if (leads) needed.add(n);
    }
    const processed: Node[] = [];
    try {
    for (let k = order.length - 1; k >= 0; k--) {
      const node = order[k];
      const gs = grads.get(node);
      grads.delete(node);
      if (gs && slots) capture(node, gs);
      if (!gs || gs.every((g) => g === null) || !needed.has(node)) {
        for (const g of gs ?? []) g?.dispose();
        continue;
      }
      processed.push(node);
      if (node.freed) {
        for (const g of gs) g?.dispose();
        throw new Error(`backward: the graph through '${node.op}' was already freed by an earlier backward; pass { retainGraph: true } to the first one`);
      }
      if (!node.rule) {
        for (const g of gs) g?.dispose();
        throw new Error(`backward: no gradient rule for op '${node.op}'`);
      }
      const inGrads = ownedGrads(node, gs, node.rule(gs, node.ctx));
      for (const g of gs) g?.dispose();
      node.edges.forEach((e, i) => {
        const g = inGrads[i];
        if (!g) return;
        if (!e) {
          g.dispose();
          return;
        }
        const fitted = fitGrad(node.op, g, node.ctx.inputs[i]);
        if ('leaf' in e) onLeaf(e.leaf, fitted);
        else addGrad(e.node, e.index, fitted);
      });
    }
    } finally {
      // Free only after the whole pass: freeing a node releases its saved inputs, which can free
      // a parent that has not been processed yet.
      for (const gs of grads.values()) for (const g of gs) g?.dispose();
      if (!retain) for (const node of processed) node.free();
    }
  };
  const capture = (node: Node, gs: readonly (Tensor | null)[]) => {
    gs.forEach((g, idx) => {
      const t = slots?.get(`${node.id}:${idx}`);
      if (t && g && captured) {
        const prev = captured.get(t);
        captured.set(t, prev ? T.add(prev, g) : T.clone(g));
        prev?.dispose();
      }
    });
  };
  if (createGraph) enableGrad(body);
  else noGrad(body);
}

/**
 * Makes every tensor a rule returned owned by the engine: a cotangent passed straight through, a
 * saved tensor, or one tensor returned for two inputs gets a fresh handle (a recorded view when
 * the graph is being built), so that each can be disposed once.
 */
function ownedGrads(node: Node, gs: readonly (Tensor | null)[], out: readonly (Tensor | null)[]): (Tensor | null)[] {
  if (out.length !== node.edges.length) {
    throw new Error(`autodiff: the gradient rule of '${node.op}' returned ${out.length} gradients for ${node.edges.length} tensor inputs`);
  }
  const taken = new Set<Tensor>([...gs.filter((g): g is Tensor => g !== null), ...node.ctx.inputs, ...node.ctx.outputs]);
  return out.map((g) => {
    if (!g) return null;
    if (taken.has(g)) return T.reshape(g, g.shape);
    taken.add(g);
    return g;
  });
}

/** Checks a rule's result against the input it is for, casting dtype if needed (the result is owned). */
function fitGrad(op: string, g: Tensor, input: Tensor): Tensor {
  if (g.shape.length !== input.shape.length || g.shape.some((d, k) => d !== input.shape[k])) {
    g.dispose();
    throw new Error(`autodiff: the gradient rule of '${op}' returned shape [${g.shape.join(', ')}] for an input of shape [${input.shape.join(', ')}]`);
  }
  if (g.dtype === input.dtype) return g;
  const c = T.cast(g, input.dtype);
  g.dispose();
  return c;
}

/**
 * Sums a broadcast gradient back down to `shape` (the shape of the input that was broadcast).
 * Returns `g` itself when nothing was broadcast (the engine gives returned tensors fresh handles).
 */
export function sumToShape(g: Tensor, shape: readonly number[]): Tensor {
  if (g.shape.length === shape.length && g.shape.every((d, k) => d === shape[k])) return g;
  const lead = g.shape.length - shape.length;
  const dims: number[] = [];
  g.shape.forEach((d, k) => {
    if (k < lead || (shape[k - lead] === 1 && d !== 1)) dims.push(k);
  });
  const s = dims.length ? T.sum(g, { dim: dims, keepdim: true }) : g;
  const r = T.reshape(s, shape);
  if (s !== g) s.dispose();
  return r;
}
