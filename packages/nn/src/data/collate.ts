import * as T from '@tessera/tensor';

/**
 * Merges a list of samples into a batch, like torch's default_collate: tensors are stacked
 * along a new dim 0, numbers become a tensor (int32 when all are integers, else float32),
 * booleans a bool tensor, strings stay a string array, and arrays / plain objects are collated
 * position by position / key by key. The result holds new tensors; the samples are untouched.
 */
export function defaultCollate(samples: readonly unknown[]): unknown {
  if (!Array.isArray(samples) || samples.length === 0) throw new TypeError('defaultCollate: expected a non-empty array of samples');
  const first = samples[0];
  const kind = kindOf(first);
  samples.forEach((s, i) => {
    if (kindOf(s) !== kind) throw new TypeError(`defaultCollate: sample ${i} is a ${kindOf(s)} but sample 0 is a ${kind}`);
  });
  switch (kind) {
    case 'tensor': return T.stack(samples as T.Tensor[]);
    case 'number': {
      const xs = samples as number[];
      return T.tensor(xs, { dtype: xs.every(Number.isInteger) ? 'int32' : 'float32' });
    }
    case 'boolean': return T.tensor(samples as boolean[], { dtype: 'bool' });
    case 'string': return samples.slice();
    case 'array': {
      const n = (first as unknown[]).length;
      samples.forEach((s, i) => {
        if ((s as unknown[]).length !== n) throw new RangeError(`defaultCollate: sample ${i} has ${(s as unknown[]).length} fields, sample 0 has ${n}`);
      });
      return collateParts(Array.from({ length: n }, (_, j) => () => defaultCollate(samples.map((s) => (s as unknown[])[j]))));
    }
    case 'object': {
      const keys = Object.keys(first as object);
      samples.forEach((s, i) => {
        const k = Object.keys(s as object);
        if (k.length !== keys.length || !keys.every((key) => key in (s as object))) {
          throw new RangeError(`defaultCollate: sample ${i} has keys [${k.join(', ')}], sample 0 has [${keys.join(', ')}]`);
        }
      });
      const parts = collateParts(keys.map((key) => () => defaultCollate(samples.map((s) => (s as Record<string, unknown>)[key]))));
      return Object.fromEntries(keys.map((key, j) => [key, parts[j]]));
    }
    default:
      throw new TypeError(`defaultCollate: cannot collate samples of type ${kind}; pass a collate function`);
  }
}

/** Runs each part; if one throws, the parts already made are disposed before rethrowing. */
function collateParts(parts: (() => unknown)[]): unknown[] {
  const done: unknown[] = [];
  try {
    for (const p of parts) done.push(p());
    return done;
  } catch (e) {
    T.dispose(done);
    throw e;
  }
}

function kindOf(x: unknown): string {
  if (T.isTensor(x)) return 'tensor';
  if (Array.isArray(x)) return 'array';
  if (x === null) return 'null';
  if (typeof x === 'object') return Object.getPrototypeOf(x) === Object.prototype ? 'object' : (x.constructor?.name ?? 'object');
  return typeof x;
}
