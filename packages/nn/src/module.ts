import * as T from '@tessera/tensor';
import { noGrad } from '@tessera/autodiff';

/**
 * Tensors cannot be subclassed cheaply (every op returns a plain Tensor), so parameters and
 * buffers are ordinary tensors marked in these sets. Weak sets: marking never keeps a tensor alive.
 */
const PARAMETERS = new WeakSet<T.Tensor>();
const BUFFERS = new WeakSet<T.Tensor>();

/** Marks `t` as a learnable parameter (sets requiresGrad) and returns it: `this.weight = parameter(w)`. */
export function parameter(t: T.Tensor): T.Tensor {
  if (!(t instanceof T.Tensor)) throw new TypeError(`parameter: expected a Tensor, received ${describe(t)}`);
  t.requiresGrad = true;
  PARAMETERS.add(t);
  BUFFERS.delete(t);
  return t;
}

/** Marks `t` as a buffer (module state that is saved but not learned, e.g. BatchNorm's running mean). */
export function buffer(t: T.Tensor): T.Tensor {
  if (!(t instanceof T.Tensor)) throw new TypeError(`buffer: expected a Tensor, received ${describe(t)}`);
  BUFFERS.add(t);
  PARAMETERS.delete(t);
  return t;
}

export const isParameter = (t: unknown): t is T.Tensor => t instanceof T.Tensor && PARAMETERS.has(t);
export const isBuffer = (t: unknown): t is T.Tensor => t instanceof T.Tensor && BUFFERS.has(t);

function describe(v: unknown): string {
  if (v instanceof T.Tensor) return String(v);
  if (v === null) return 'null';
  return typeof v === 'object' ? (v.constructor?.name ?? 'object') : typeof v;
}

/** PyTorch spells state names in snake_case: runningMean -> running_mean, so state dicts move both ways. */
const stateName = (key: string) => key.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);

/** One slot of a module's own state: its state name, its value and how to replace it (for `to`). */
export interface Slot {
  name: string;
  value: unknown;
  set(value: unknown): void;
}

export type StateDict = Record<string, T.Tensor>;

/**
 * What `Module.copyWith` gets from `deepCopy`: `copy(v)` copies a value (tensors, modules, arrays and
 * plain objects deeply, each source once; anything else is shared) and `remember(src, dst)` records
 * a module's copy before its contents are copied, so that cycles and shared modules resolve to it.
 */
export interface ModuleCopier {
  copy<V>(value: V): V;
  remember(source: object, copy: object): void;
}

function makeCopier(): ModuleCopier {
  const memo = new Map<unknown, unknown>();
  const copier: ModuleCopier = {
    remember: (source, copy) => void memo.set(source, copy),
    copy<V>(v: V): V {
      if (v === null || typeof v !== 'object') return v;
      if (memo.has(v)) return memo.get(v) as V;
      if (v instanceof T.Tensor) {
        if (v.isDisposed) return v;
        const c = noGrad(() => T.clone(v));
        if (isParameter(v)) {
          parameter(c);
          c.requiresGrad = v.requiresGrad;
        } else if (isBuffer(v)) buffer(c);
        memo.set(v, c);
        return c as V;
      }
      if (v instanceof Module) return v['copyWith'](copier) as V;
      if (Array.isArray(v)) {
        const out: unknown[] = [];
        memo.set(v, out);
        for (const x of v) out.push(copier.copy(x));
        return out as V;
      }
      if (Object.getPrototypeOf(v) === Object.prototype) {
        const out: Record<string, unknown> = {};
        memo.set(v, out);
        for (const [k, x] of Object.entries(v)) out[k] = copier.copy(x);
        return out as V;
      }
      return v; // class instances other than tensors and modules (generators, maps, ...) are shared
    },
  };
  return copier;
}

export interface LoadStateDictOptions {
  /** Require the keys to match exactly (default true). Shape mismatches always throw. */
  strict?: boolean;
}

/**
 * Base class of layers and models, as torch.nn.Module. Parameters (tensors marked with
 * `parameter()`), buffers (`buffer()` / `registerBuffer`) and child modules are discovered from the
 * module's own enumerable properties in insertion order; names are PyTorch's dotted snake_case
 * names ('fc1.weight', 'layers.0.bias', 'bn.running_mean').
 */
export abstract class Module {
  /** Training mode (Dropout drops, BatchNorm uses batch statistics); set with train() / eval(). */
  training = true;

  abstract forward(...args: any[]): any;

  /** Alias of forward. */
  call(...args: Parameters<this['forward']>): ReturnType<this['forward']> {
    return this.forward(...args);
  }

  /** The module's own state slots. Containers override it to list their items. */
  protected slots(): Slot[] {
    return Object.keys(this).map((key) => ({
      name: stateName(key),
      value: (this as Record<string, unknown>)[key],
      set: (v: unknown) => {
        (this as Record<string, unknown>)[key] = v;
      },
    }));
  }

  /** Registers (or replaces) a buffer as a property of this module. */
  registerBuffer(name: string, t: T.Tensor): void {
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) throw new TypeError(`${this.constructor.name}.registerBuffer: invalid name '${name}'`);
    (this as Record<string, unknown>)[name] = buffer(t);
  }

  /** Registers (or replaces) a parameter as a property of this module. */
  registerParameter(name: string, t: T.Tensor): void {
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) throw new TypeError(`${this.constructor.name}.registerParameter: invalid name '${name}'`);
    (this as Record<string, unknown>)[name] = parameter(t);
  }

  namedChildren(): [string, Module][] {
    return this.slots().filter((s) => s.value instanceof Module).map((s) => [s.name, s.value as Module]);
  }

  children(): Module[] {
    return this.namedChildren().map(([, m]) => m);
  }

  /** This module and all below it, depth first, each once. */
  namedModules(prefix = '', seen = new Set<Module>()): [string, Module][] {
    if (seen.has(this)) return [];
    seen.add(this);
    const out: [string, Module][] = [[prefix, this]];
    for (const [name, child] of this.namedChildren()) out.push(...child.namedModules(prefix ? `${prefix}.${name}` : name, seen));
    return out;
  }

  modules(): Module[] {
    return this.namedModules().map(([, m]) => m);
  }

  /** Own parameters or buffers of each module, each tensor once (shared weights are listed under their first name). */
  private namedTensors(kind: (v: unknown) => v is T.Tensor): [string, T.Tensor][] {
    const seen = new Set<T.Tensor>();
    const out: [string, T.Tensor][] = [];
    for (const [prefix, m] of this.namedModules()) {
      for (const s of m.slots()) {
        if (!kind(s.value) || seen.has(s.value)) continue;
        seen.add(s.value);
        out.push([prefix ? `${prefix}.${s.name}` : s.name, s.value]);
      }
    }
    return out;
  }

  namedParameters(): [string, T.Tensor][] {
    return this.namedTensors(isParameter);
  }

  parameters(): T.Tensor[] {
    return this.namedParameters().map(([, p]) => p);
  }

  namedBuffers(): [string, T.Tensor][] {
    return this.namedTensors(isBuffer);
  }

  buffers(): T.Tensor[] {
    return this.namedBuffers().map(([, b]) => b);
  }

  /** Sets training mode on this module and every descendant; returns this. */
  train(mode = true): this {
    for (const m of this.modules()) m.training = mode;
    return this;
  }

  eval(): this {
    return this.train(false);
  }

  /** Calls fn on every descendant, then on this module (as PyTorch); returns this. */
  apply(fn: (m: Module) => void): this {
    for (const child of this.children()) child.apply(fn);
    fn(this);
    return this;
  }

  /** Frees the gradients of all parameters. */
  zeroGrad(): void {
    for (const p of this.parameters()) {
      p.grad?.dispose();
      p.grad = null;
    }
  }

  /** Moves parameters and buffers to `device`, replacing them (old tensors and their grads are freed); returns this. */
  async to(device: T.DeviceName): Promise<this> {
    const moved = new Map<T.Tensor, T.Tensor>();
    for (const m of this.modules()) {
      for (const s of m.slots()) {
        if (!isParameter(s.value) && !isBuffer(s.value)) continue;
        const old = s.value;
        if (old.device === device) continue;
        let next = moved.get(old);
        if (!next) {
          const copy = await T.to(old, device);
          next = isParameter(old) ? parameter(copy) : buffer(copy);
          moved.set(old, next);
        }
        s.set(next);
      }
    }
    for (const old of moved.keys()) old.dispose();
    return this;
  }

  /** Parameters then buffers of each module, in module order, under their dotted names (the tensors themselves, not copies). */
  stateDict(): StateDict {
    const out: StateDict = {};
    for (const [prefix, m] of this.namedModules()) {
      for (const s of m.slots()) {
        if (isParameter(s.value)) out[prefix ? `${prefix}.${s.name}` : s.name] = s.value;
      }
      for (const s of m.slots()) {
        if (isBuffer(s.value)) out[prefix ? `${prefix}.${s.name}` : s.name] = s.value;
      }
    }
    return out;
  }

  /**
   * Copies values from `dict` into this module's parameters and buffers in place (copy_), after
   * checking everything first: one error lists the missing keys, unexpected keys and shape
   * mismatches. Source tensors must be on the module's device.
   */
  loadStateDict(dict: StateDict | Map<string, T.Tensor>, options: LoadStateDictOptions = {}): { missingKeys: string[]; unexpectedKeys: string[] } {
    const strict = options.strict ?? true;
    const src = dict instanceof Map ? dict : new Map(Object.entries(dict));
    const own = this.stateDict();
    const missingKeys = Object.keys(own).filter((k) => !src.has(k));
    const unexpectedKeys = [...src.keys()].filter((k) => !(k in own));
    const problems: string[] = [];
    for (const [k, dst] of Object.entries(own)) {
      const s = src.get(k);
      if (s === undefined) continue;
      if (!(s instanceof T.Tensor)) problems.push(`${k}: expected a Tensor, received ${describe(s)}`);
      else if (s.shape.length !== dst.shape.length || s.shape.some((d, i) => d !== dst.shape[i])) {
        problems.push(`size mismatch for ${k}: copying a param with shape [${s.shape.join(', ')}], the shape in the current model is [${dst.shape.join(', ')}]`);
      } else if (s.device !== dst.device) problems.push(`${k}: source is on ${s.device} but the module is on ${dst.device}; move it with await t.to('${dst.device}')`);
    }
    const errors = [...problems];
    if (strict && missingKeys.length) errors.unshift(`Missing key(s): ${missingKeys.map((k) => `"${k}"`).join(', ')}`);
    if (strict && unexpectedKeys.length) errors.unshift(`Unexpected key(s): ${unexpectedKeys.map((k) => `"${k}"`).join(', ')}`);
    if (errors.length) throw new Error(`${this.constructor.name}.loadStateDict: error(s) in loading the state dict:\n  ${errors.join('\n  ')}`);
    noGrad(() => {
      for (const [k, dst] of Object.entries(own)) {
        const s = src.get(k);
        if (s && s !== dst) T.copy_(dst, s);
      }
    });
    return { missingKeys, unexpectedKeys };
  }

  /**
   * A deep copy (Python's copy.deepcopy of a module): an object of the same class whose parameters
   * and buffers are new tensors with the same values, device and requiresGrad flag (without their
   * gradients), and whose child modules, arrays and plain objects are copied in turn; other values
   * are shared. Weights shared within this module stay shared within the copy. Nothing is recorded
   * for autodiff. A module that keeps state in private (#) fields must override `copyWith`.
   */
  deepCopy(): this {
    return makeCopier().copy(this);
  }

  /** Builds this module's copy for deepCopy: an object with this prototype and copies of the own properties. */
  protected copyWith(copier: ModuleCopier): this {
    const out = Object.create(Object.getPrototypeOf(this) as object) as this;
    copier.remember(this, out);
    copyOwnProperties(this, out, copier);
    return out;
  }

  /** Frees every parameter and buffer (and their grads). The module is unusable afterwards. */
  dispose(): void {
    // Children first, through their own dispose(), so that modules holding more than parameters
    // and buffers (caches) free it too; a tensor shared by several modules is freed once (dispose
    // is idempotent).
    for (const child of this.children()) child.dispose();
    for (const t of [...this.parameters(), ...this.buffers()]) t.dispose();
  }

  toString(): string {
    const kids = this.namedChildren();
    if (!kids.length) return `${this.constructor.name}(${this.extraRepr()})`;
    const body = kids.map(([n, m]) => `  (${n}): ${String(m).replace(/\n/g, '\n  ')}`).join('\n');
    return `${this.constructor.name}(\n${body}\n)`;
  }

  /** Extra text for toString, e.g. 'inFeatures=3, outFeatures=2'. */
  protected extraRepr(): string {
    return '';
  }
}

function copyOwnProperties(source: object, target: object, copier: ModuleCopier): void {
  for (const key of Object.keys(source)) (target as Record<string, unknown>)[key] = copier.copy((source as Record<string, unknown>)[key]);
}

/** An ordered list of child modules named '0', '1', ...: what Sequential and ModuleList share. */
abstract class ModuleSequence extends Module {
  readonly #items: Module[] = [];

  // Built through this class's constructor (with the subclass's prototype) so that #items exists.
  protected override copyWith(copier: ModuleCopier): this {
    const out = Reflect.construct(ModuleSequence, [], this.constructor) as this;
    copier.remember(this, out);
    copyOwnProperties(this, out, copier);
    for (const m of this.#items) (out as ModuleSequence).#items.push(copier.copy(m));
    return out;
  }

  protected override slots(): Slot[] {
    return this.#items.map((m, i) => ({ name: String(i), value: m, set: (v: unknown) => (this.#items[i] = v as Module) }));
  }

  get length(): number {
    return this.#items.length;
  }

  at(i: number): Module {
    const m = this.#items.at(i);
    if (!m) throw new RangeError(`${this.constructor.name}.at: index ${i} out of range for ${this.#items.length} modules`);
    return m;
  }

  append(m: Module): this {
    if (!(m instanceof Module)) throw new TypeError(`${this.constructor.name}.append: expected a Module, received ${describe(m)}`);
    this.#items.push(m);
    return this;
  }

  [Symbol.iterator](): Iterator<Module> {
    return this.#items[Symbol.iterator]();
  }
}

/** Runs modules in order, feeding each one's output to the next (torch.nn.Sequential). */
export class Sequential extends ModuleSequence {
  constructor(...modules: Module[]) {
    super();
    modules.forEach((m, i) => {
      if (!(m instanceof Module)) throw new TypeError(`Sequential: argument ${i} must be a Module, received ${describe(m)}`);
      this.append(m);
    });
  }

  forward(x: any): any {
    // Intermediate outputs are freed as soon as the next module has consumed them; autodiff keeps what backward needs.
    let out = x;
    for (const m of this) {
      const next = m.forward(out);
      if (out !== x && out instanceof T.Tensor && next !== out && !PARAMETERS.has(out) && !BUFFERS.has(out)) out.dispose();
      out = next;
    }
    return out;
  }
}

/** A list of modules whose parameters are registered ('0.weight', '1.weight', ...); it has no forward. */
export class ModuleList extends ModuleSequence {
  constructor(modules: Iterable<Module> = []) {
    super();
    for (const m of modules) this.append(m);
  }

  forward(): never {
    throw new Error('ModuleList.forward: a ModuleList has no forward; iterate over it in your own module');
  }
}

/** Modules by name, in insertion order (torch.nn.ModuleDict); it has no forward. */
export class ModuleDict extends Module {
  readonly #items = new Map<string, Module>();

  protected override copyWith(copier: ModuleCopier): this {
    const out = Reflect.construct(ModuleDict, [], this.constructor) as this;
    copier.remember(this, out);
    copyOwnProperties(this, out, copier);
    for (const [k, m] of this.#items) (out as ModuleDict).#items.set(k, copier.copy(m));
    return out;
  }

  constructor(modules: Record<string, Module> | Iterable<[string, Module]> = {}) {
    super();
    const entries = Symbol.iterator in modules ? [...(modules as Iterable<[string, Module]>)] : Object.entries(modules);
    for (const [k, m] of entries) this.set(k, m);
  }

  protected override slots(): Slot[] {
    return [...this.#items].map(([k, m]) => ({ name: k, value: m, set: (v: unknown) => this.#items.set(k, v as Module) }));
  }

  get size(): number {
    return this.#items.size;
  }

  get(key: string): Module {
    const m = this.#items.get(key);
    if (!m) throw new RangeError(`ModuleDict.get: no module '${key}'; keys are ${JSON.stringify([...this.#items.keys()])}`);
    return m;
  }

  has(key: string): boolean {
    return this.#items.has(key);
  }

  set(key: string, m: Module): this {
    if (!(m instanceof Module)) throw new TypeError(`ModuleDict.set: expected a Module for '${key}', received ${describe(m)}`);
    if (key === '' || key.includes('.')) throw new TypeError(`ModuleDict.set: key must be non-empty and contain no '.', received '${key}'`);
    this.#items.set(key, m);
    return this;
  }

  keys(): string[] {
    return [...this.#items.keys()];
  }

  entries(): [string, Module][] {
    return [...this.#items];
  }

  forward(): never {
    throw new Error('ModuleDict.forward: a ModuleDict has no forward; call its modules in your own module');
  }
}
