/** Gradient rules of the elementwise ops. Each rule returns one gradient per tensor input. */
import * as T from '@tessera/tensor';
import type { Tensor } from '@tessera/tensor';
import { defineGrad, sumToShape } from '../engine.js';

const tensorArg = (a: unknown): a is Tensor => a instanceof T.Tensor;

/** A rule for binary ops whose operands may be tensors or numbers (only tensors get gradients). */
function binary(op: string, partials: (g: Tensor, a: Tensor | number, b: Tensor | number) => [Tensor | null, Tensor | null]) {
  defineGrad(op, ([g], { args, needs }) =>
    T.tidy(() => {
      const [a, b] = args as [Tensor | number, Tensor | number];
      const [ga, gb] = partials(g!, a, b);
      const out: (Tensor | null)[] = [];
      if (tensorArg(a)) out.push(needs[out.length] && ga ? sumToShape(ga, a.shape) : null);
      if (tensorArg(b)) out.push(needs[out.length] && gb ? sumToShape(gb, b.shape) : null);
      return out;
    }),
  );
}

binary('add', (g) => [g, g]);
binary('sub', (g) => [g, T.neg(g)]);
binary('mul', (g, a, b) => [T.mul(g, b), T.mul(g, a)]);

defineGrad('exp', ([g], { outputs }) => [T.mul(g!, outputs[0])]);
defineGrad('sum', ([g], { args, inputs }) =>
  T.tidy(() => {
    const x = inputs[0];
    const opts = (args[1] ?? {}) as { dim?: number | number[]; keepdim?: boolean };
    const dims = opts.dim === undefined ? x.shape.map((_, i) => i) : (typeof opts.dim === 'number' ? [opts.dim] : opts.dim).map((d) => (d < 0 ? d + x.rank : d));
    const kept = opts.keepdim ? g! : T.reshape(g!, x.shape.map((s, i) => (dims.includes(i) ? 1 : s)));
    return [T.contiguous(T.expand(kept, x.shape))];
  }),
);

defineGrad('reshape', ([g], { inputs }) => [T.reshape(g!, inputs[0].shape)]);
