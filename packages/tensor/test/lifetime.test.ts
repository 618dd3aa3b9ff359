/**
 * Regression: Dawn's GPU instance and adapter must stay referenced for as long as the device
 * lives. When only a local variable held them, V8 collected them and Dawn freed native state the
 * device still used: the process aborted (futex / mutex assertions) within a few reads.
 */
import { expect, it } from 'vitest';
import * as T from '../src/index.js';
import { forEachBackend } from './helpers.js';

const gc = (globalThis as { gc?: () => void }).gc;

it('runs with --expose-gc so collection can be forced', () => {
  expect(typeof gc).toBe('function');
});

forEachBackend('lifetime under forced garbage collection', (device) => {
  it('keeps working across forced collections between dispatches and reads', async () => {
    for (let i = 0; i < 30; i++) {
      gc!();
      const a = T.full([257], i, { device });
      const b = T.add(a, 1);
      const s = T.sum(b);
      expect(await s.item()).toBe(257 * (i + 1));
      T.dispose([a, b, s]);
    }
  });

  it('frees a forgotten tensor through the FinalizationRegistry', async () => {
    const before = T.memory().tensors;
    (() => {
      T.ones([1024], { device }); // never disposed, never referenced
    })();
    expect(T.memory().tensors).toBe(before + 1);
    for (let i = 0; i < 20 && T.memory().tensors > before; i++) {
      gc!();
      await new Promise((r) => setTimeout(r, 10));
    }
    expect(T.memory().tensors).toBe(before);
  });
});
