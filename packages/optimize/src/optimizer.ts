/**
 * The optimizer base: parameter groups with their own options, `zeroGrad`, `step`, and state
 * dicts, as in torch.optim. Parameters are updated in place (`copy_`), so modules and optimizers
 * share the same tensors.
 */
import * as T from '@tessera/tensor';
import type { Tensor } from '@tessera/tensor';

/** A group of parameters and the options that apply to them (lr, weightDecay, ...). */
export interface ParamGroup {
  params: Tensor[];
  lr: number;
  [option: string]: unknown;
}

export type ParamsArg = Tensor[] | ({ params: Tensor[] } & Record<string, unknown>)[];

/** Per-parameter state: buffers (tensors) and counters (numbers). */
export type ParamState = Record<string, Tensor | number>;

/**
 * A snapshot of an optimizer, as torch's `state_dict()`: state keyed by the parameter's index
 * (counting through the groups in order), tensors cloned; groups hold options and param indices.
 */
export interface OptimizerStateDict {
  state: Record<number, ParamState>;
  paramGroups: (Record<string, unknown> & { params: number[] })[];
}

export abstract class Optimizer<Options extends { lr: number } = { lr: number }> {
  readonly paramGroups: ParamGroup[];
  /** Per-parameter state (momentum buffers, step counts, ...), keyed by the parameter tensor. */
  readonly state = new Map<Tensor, ParamState>();

  constructor(params: ParamsArg, readonly defaults: Options, readonly name = 'optimizer') {
    if (!Array.isArray(params) || params.length === 0) throw new TypeError(`${name}: expected a non-empty array of parameters or parameter groups`);
    const groups = params[0] instanceof T.Tensor ? [{ params: params as Tensor[] }] : (params as ({ params: Tensor[] } & Record<string, unknown>)[]);
    const seen = new Set<Tensor>();
    this.paramGroups = groups.map((g, gi) => {
      if (!g || !Array.isArray(g.params)) throw new TypeError(`${name}: parameter group ${gi} has no params array`);
      for (const p of g.params) {
        if (!(p instanceof T.Tensor)) throw new TypeError(`${name}: parameter group ${gi} holds something that is not a Tensor`);
        if (!p.requiresGrad || !p.isLeaf) throw new TypeError(`${name}: parameters must be leaf tensors with requiresGrad set (group ${gi})`);
        if (p.dtype !== 'float32' && p.dtype !== 'float64') throw new TypeError(`${name}: parameters must be float32 or float64, received ${p.dtype} (group ${gi})`);
        if (seen.has(p)) throw new Error(`${name}: a parameter appears more than once (group ${gi})`);
        seen.add(p);
      }
      const merged = { ...defaults, ...g, params: [...g.params] } as ParamGroup;
      if (!(typeof merged.lr === 'number' && merged.lr >= 0)) throw new RangeError(`${name}: lr must be a non-negative number, received ${String(merged.lr)} (group ${gi})`);
      return merged;
    });
  }

  /** Sets every parameter's gradient to null (frees it), as PyTorch's zero_grad(set_to_none=True). */
  zeroGrad(): void {
    for (const g of this.paramGroups) {
      for (const p of g.params) {
        p.grad?.dispose();
        p.grad = null;
      }
    }
  }

  /** Applies one update to every parameter that has a gradient. */
  abstract step(): void;

  /**
   * Runs `update` for each parameter with a gradient, unrecorded and inside its own tidy scope
   * (so its temporaries are freed), with the gradient negated when the group maximizes. State
   * buffers that `update` creates must be `T.keep`-ed; existing buffers are overwritten in place.
   */
  protected forEachParam(update: (p: Tensor, grad: Tensor, group: ParamGroup, state: ParamState) => void): void {
    T.withoutRecording(() => {
      for (const group of this.paramGroups) {
        for (const p of group.params) {
          const g = p.grad;
          if (!g) continue;
          if (g.shape.length !== p.shape.length || g.shape.some((s, i) => s !== p.shape[i]) || g.dtype !== p.dtype || g.device !== p.device) {
            throw new Error(`${this.name}.step: gradient of shape [${g.shape.join(', ')}] ${g.dtype} on ${g.device} does not match its parameter's [${p.shape.join(', ')}] ${p.dtype} on ${p.device}`);
          }
          let state = this.state.get(p);
          if (!state) this.state.set(p, (state = {}));
          const st = state;
          T.tidy(() => update(p, group.maximize === true ? T.neg(g) : g, group, st));
        }
      }
    });
  }

  /** All parameters, in the order state dicts index them. */
  private allParams(): Tensor[] {
    return this.paramGroups.flatMap((g) => g.params);
  }

  /** A snapshot of the state (tensors cloned: later steps do not change it) and group options. */
  stateDict(): OptimizerStateDict {
    const params = this.allParams();
    const state: Record<number, ParamState> = {};
    params.forEach((p, i) => {
      const s = this.state.get(p);
      if (!s) return;
      state[i] = Object.fromEntries(Object.entries(s).map(([k, v]) => [k, typeof v === 'number' ? v : T.withoutRecording(() => v.clone())]));
    });
    let next = 0;
    const paramGroups = this.paramGroups.map((g) => ({ ...g, params: g.params.map(() => next++) }));
    return { state, paramGroups };
  }

  /**
   * Restores a snapshot from `stateDict()` of an optimizer over parameters of the same shapes in
   * the same group layout. Tensors are cloned (the snapshot stays the caller's); the current
   * state is disposed.
   */
  loadStateDict(sd: OptimizerStateDict): void {
    const where = `${this.name}.loadStateDict`;
    if (!sd || typeof sd !== 'object' || !Array.isArray(sd.paramGroups) || typeof sd.state !== 'object') throw new TypeError(`${where}: expected { state, paramGroups }`);
    if (sd.paramGroups.length !== this.paramGroups.length) throw new Error(`${where}: the state dict has ${sd.paramGroups.length} parameter groups, this optimizer has ${this.paramGroups.length}`);
    sd.paramGroups.forEach((g, gi) => {
      const have = this.paramGroups[gi].params.length;
      if (!Array.isArray(g.params) || g.params.length !== have) throw new Error(`${where}: group ${gi} has ${Array.isArray(g.params) ? g.params.length : 'no'} parameters in the state dict, ${have} in this optimizer`);
    });
    const params = this.allParams();
    for (const [key, s] of Object.entries(sd.state)) {
      const p = params[Number(key)];
      if (!p) throw new Error(`${where}: state for parameter index ${key}, but there are only ${params.length} parameters`);
      for (const [k, v] of Object.entries(s)) {
        if (typeof v === 'number') continue;
        if (!(v instanceof T.Tensor)) throw new TypeError(`${where}: state ${key}.${k} is neither a number nor a Tensor`);
        if (v.device !== p.device) throw new Error(`${where}: state ${key}.${k} is on ${v.device}, its parameter on ${p.device}; move it with await t.to('${p.device}')`);
      }
    }
    for (const s of this.state.values()) T.dispose(Object.values(s));
    this.state.clear();
    for (const [key, s] of Object.entries(sd.state)) {
      this.state.set(params[Number(key)], Object.fromEntries(Object.entries(s).map(([k, v]) => [k, typeof v === 'number' ? v : T.withoutRecording(() => v.clone())])));
    }
    sd.paramGroups.forEach((g, gi) => {
      for (const [k, v] of Object.entries(g)) if (k !== 'params') this.paramGroups[gi][k] = v;
    });
  }
}
