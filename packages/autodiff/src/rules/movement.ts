/**
 * Gradient rules of the movement ops. Views and copies pass the cotangent back through the inverse
 * movement; ops that pick elements (slice, select, cat, split, pad) write the cotangent into zeros
 * with constant padding, whose own adjoint is padding by the negated amounts (crop <-> zero-fill),
 * so that every rule here stays differentiable with rules of this file.
 */
import * as T from '@tessera/tensor';
import type { Tensor } from '@tessera/tensor';
import { defineGrad, sumToShape } from '../engine.js';

const normDim = (d: number, rank: number) => (d < 0 ? d + rank : d);

/** F.pad amounts that pad (or crop, when negative) only dim `d` of a rank-`rank` tensor. */
function padOf(rank: number, d: number, before: number, after: number): number[] {
  const p = new Array<number>(2 * (rank - d)).fill(0);
  p[p.length - 2] = before;
  p[p.length - 1] = after;
  return p;
}

/** Places `g` (the cotangent of elements start, start+step, ... along `d`) into zeros of `shape`. */
function unslice(g: Tensor, shape: readonly number[], d: number, start: number, step: number): Tensor {
  const len = g.shape[d];
  let spread = g;
  if (step > 1) {
    // Interleave step-1 zeros after each element, so that element i lands at i * step.
    const u = T.unsqueeze(g, d + 1);
    const p = T.pad(u, padOf(u.rank, d + 1, 0, step - 1));
    const s = [...g.shape];
    s[d] = len * step;
    spread = T.reshape(p, s);
  }
  // The interleaved tail may run past the end: negative padding crops it.
  return T.pad(spread, padOf(g.rank, d, start, shape[d] - start - spread.shape[d]));
}

const passThrough = (op: string) => defineGrad(op, ([g]) => [g]);
passThrough('contiguous');
passThrough('clone');

// Ops that only change the shape over the same elements in the same order.
for (const op of ['view', 'unsqueeze', 'squeeze', 'flatten', 'unflatten']) {
  defineGrad(op, ([g], { inputs }) => [T.reshape(g!, inputs[0].shape)]);
}

defineGrad('permute', ([g], { args, inputs }) =>
  T.tidy(() => {
    const dims = (args[1] as number[]).map((d) => normDim(d, inputs[0].rank));
    const inverse = new Array<number>(dims.length);
    dims.forEach((d, i) => (inverse[d] = i));
    return [T.permute(g!, inverse)];
  }),
);

// A swap of two dims is its own inverse (the cotangent has the input's rank, so defaults agree).
defineGrad('transpose', ([g], { args }) => [T.transpose(g!, ...(args.slice(1) as [number?, number?]))]);

for (const op of ['expand', 'broadcastTo']) {
  defineGrad(op, ([g], { inputs }) => T.tidy(() => [sumToShape(g!, inputs[0].shape)]));
}

defineGrad('broadcastTensors', (grads, { inputs, needs }) =>
  T.tidy(() => inputs.map((x, i) => (needs[i] && grads[i] ? sumToShape(grads[i]!, x.shape) : null))),
);

defineGrad('slice', ([g], { args, inputs }) =>
  T.tidy(() => {
    const x = inputs[0];
    const [, dim, start = 0, , step = 1] = args as [Tensor, number, number?, number?, number?];
    const d = normDim(dim, x.rank);
    const n = x.shape[d];
    const s = Math.min(Math.max(start < 0 ? start + n : start, 0), n);
    return [unslice(g!, x.shape, d, s, step)];
  }),
);

defineGrad('narrow', ([g], { args, inputs }) =>
  T.tidy(() => {
    const x = inputs[0];
    const [, dim, start] = args as [Tensor, number, number];
    const d = normDim(dim, x.rank);
    return [unslice(g!, x.shape, d, start < 0 ? start + x.shape[d] : start, 1)];
  }),
);

defineGrad('select', ([g], { args, inputs }) =>
  T.tidy(() => {
    const x = inputs[0];
    const [, dim, index] = args as [Tensor, number, number];
    const d = normDim(dim, x.rank);
    return [unslice(T.unsqueeze(g!, d), x.shape, d, index < 0 ? index + x.shape[d] : index, 1)];
  }),
);

defineGrad('flip', ([g], { args }) => [T.flip(g!, args[1] as number | number[])]);

defineGrad('cat', ([g], { args, inputs, needs }) =>
  T.tidy(() => {
    // cat skips 1-d empty tensors (as PyTorch does); they get empty gradients.
    const skipped = (t: Tensor) => t.rank === 1 && t.shape[0] === 0;
    const parts = inputs.filter((t) => !skipped(t));
    if (parts.length === 0) return inputs.map((t, i) => (!needs[i] ? null : i === 0 ? g : T.zerosLike(t)));
    const d = normDim((args[1] as number | undefined) ?? 0, parts[0].rank);
    let at = 0;
    return inputs.map((t, i) => {
      if (skipped(t)) return needs[i] ? T.zerosLike(t) : null;
      const from = at;
      at += t.shape[d];
      return needs[i] ? T.slice(g!, d, from, at) : null;
    });
  }),
);

defineGrad('stack', ([g], { args, inputs, needs }) =>
  T.tidy(() => {
    const d = normDim((args[1] as number | undefined) ?? 0, inputs[0].rank + 1);
    return inputs.map((_, i) => (needs[i] ? T.select(g!, d, i) : null));
  }),
);

/** Output cotangents of a split-like op, with zeros for outputs that received none. */
const filled = (grads: readonly (Tensor | null)[], outputs: readonly Tensor[]) => grads.map((g, i) => g ?? T.zerosLike(outputs[i]));

for (const op of ['split', 'chunk']) {
  defineGrad(op, (grads, { args, inputs, outputs }) =>
    T.tidy(() => {
      const d = normDim((args[2] as number | undefined) ?? 0, inputs[0].rank);
      return [T.cat(filled(grads, outputs), d)];
    }),
  );
}

defineGrad('unbind', (grads, { args, inputs, outputs }) =>
  T.tidy(() => [T.stack(filled(grads, outputs), normDim((args[1] as number | undefined) ?? 0, inputs[0].rank))]),
);

/**
 * Reflect / replicate / circular padding along one dim `d` of size `n`: the cotangent of the
 * padded tensor folded back onto the source, each padded element adding to the element it copied.
 */
function unpadDim(g: Tensor, d: number, n: number, before: number, after: number, mode: string): Tensor {
  const rank = g.rank;
  const place = (part: Tensor, at: number) => T.pad(part, padOf(rank, d, at, n - at - part.shape[d]));
  let out = T.slice(g, d, before, before + n);
  const lo = T.slice(g, d, 0, before);
  const hi = T.slice(g, d, before + n, before + n + after);
  const add = (part: Tensor, at: number) => {
    out = T.add(out, place(part, at));
  };
  if (mode === 'reflect') {
    // Padded element j < before copied x[before - j]; element j after the end copied x[n - 2 - j].
    if (before > 0) add(T.flip(lo, d), 1);
    if (after > 0) add(T.flip(hi, d), n - 1 - after);
  } else if (mode === 'replicate') {
    if (before > 0) add(T.sum(lo, { dim: d, keepdim: true }), 0);
    if (after > 0) add(T.sum(hi, { dim: d, keepdim: true }), n - 1);
  } else {
    if (before > 0) add(lo, n - before);
    if (after > 0) add(hi, 0);
  }
  return out;
}

defineGrad('pad', ([g], { args, inputs }) =>
  T.tidy(() => {
    const x = inputs[0];
    const padding = args[1] as number[];
    const mode = (args[2] as { mode?: string } | undefined)?.mode ?? 'constant';
    if (mode === 'constant') return [T.pad(g!, padding.map((p) => -p))];
    let cur = g!;
    for (let k = 0; k < padding.length / 2; k++) {
      const d = x.rank - 1 - k;
      cur = unpadDim(cur, d, x.shape[d], padding[2 * k], padding[2 * k + 1], mode);
    }
    return [cur];
  }),
);

defineGrad('roll', ([g], { args }) => {
  const shifts = args[1] as number | number[];
  const back = typeof shifts === 'number' ? -shifts : shifts.map((s) => -s);
  return [T.roll(g!, back, args[2] as number | number[] | undefined)];
});

defineGrad('repeat', ([g], { args, inputs }) =>
  T.tidy(() => {
    const x = inputs[0];
    const repeats = args[1] as number[];
    const lead = repeats.length - x.rank;
    const shape = [...new Array<number>(lead).fill(1), ...x.shape];
    // Tile index and within-tile index become separate dims; the tiles are summed.
    const split = T.reshape(g!, shape.flatMap((s, i) => [repeats[i], s]));
    const summed = T.sum(split, { dim: shape.map((_, i) => 2 * i) });
    return [T.reshape(summed, x.shape)];
  }),
);

defineGrad('tril', ([g], { args }) => [T.tril(g!, (args[1] as number | undefined) ?? 0)]);
defineGrad('triu', ([g], { args }) => [T.triu(g!, (args[1] as number | undefined) ?? 0)]);
