import { engine } from './engine.js';
import { Tensor } from './tensor.js';

export { memory, type MemoryInfo } from './engine.js';

type Kept = unknown;

function collect(result: Kept, into: Set<Tensor>) {
  if (result instanceof Tensor) into.add(result);
  else if (Array.isArray(result)) for (const r of result) collect(r, into);
  else if (result && typeof result === 'object' && Object.getPrototypeOf(result) === Object.prototype) {
    for (const v of Object.values(result)) collect(v, into);
  }
}

function closeScope(scope: Set<Tensor>, result: Kept) {
  const keep = new Set<Tensor>();
  collect(result, keep);
  const popped = engine.scopes.pop();
  if (popped !== scope) {
    throw new Error('tidy: scopes closed out of order (two async tidy calls were interleaved); await one before starting another');
  }
  const parent = engine.scopes[engine.scopes.length - 1];
  for (const t of scope) {
    if (keep.has(t)) parent?.add(t);
    else t.dispose();
  }
}

/**
 * Runs `fn` and disposes every tensor it created except those it returns (found in arrays and
 * plain objects) and those passed to `keep()`. `fn` may be async; do not interleave two async
 * tidies (await one before starting another).
 */
export function tidy<T>(fn: () => Promise<T>): Promise<T>;
export function tidy<T>(fn: () => T): T;
export function tidy<T>(fn: () => T | Promise<T>): T | Promise<T> {
  const scope = new Set<Tensor>();
  engine.scopes.push(scope);
  let result: T | Promise<T>;
  try {
    result = fn();
  } catch (e) {
    closeScope(scope, undefined);
    throw e;
  }
  if (result instanceof Promise) {
    return result.then(
      (r) => {
        closeScope(scope, r);
        return r;
      },
      (e) => {
        closeScope(scope, undefined);
        throw e;
      },
    );
  }
  closeScope(scope, result);
  return result;
}

/** Exempts a tensor from the enclosing tidy scopes; returns it. */
export function keep<T extends Tensor>(t: T): T {
  for (const scope of engine.scopes) scope.delete(t);
  return t;
}

/** Disposes every tensor found in a value (a tensor, or arrays/objects of them). */
export function dispose(value: unknown): void {
  const all = new Set<Tensor>();
  collect(value, all);
  for (const t of all) t.dispose();
}
