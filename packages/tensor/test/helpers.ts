/**
 * Shared test harness: every suite runs on each backend in TESSERA_BACKENDS (default
 * "cpu,webgpu"). A requested backend that cannot start fails the suite; it is never skipped.
 */
import { afterAll, beforeAll, describe, expect } from 'vitest';
import { init, memory, shutdown, tensor, type DeviceName, type DType, type NestedArray, type Tensor, type TypedArray } from '../src/index.js';

export const BACKENDS = (process.env.TESSERA_BACKENDS ?? 'cpu,webgpu').split(',').map((s) => s.trim()).filter(Boolean) as DeviceName[];

let started = false;
/** Starts the requested devices once per test file and shuts them down after it. */
export function useDevices(): void {
  beforeAll(async () => {
    if (started) return;
    started = true;
    if (BACKENDS.includes('webgpu')) {
      try {
        await init({ device: 'webgpu' });
      } catch (e) {
        throw new Error(`webgpu was requested (TESSERA_BACKENDS=${BACKENDS.join(',')}) but could not start: ${(e as Error).message}. Run \`bash scripts/install-webgpu-driver.sh\` or set TESSERA_BACKENDS=cpu.`);
      }
    }
  });
  afterAll(async () => {
    await shutdown();
  });
}

/** describe() once per backend, with the devices started. */
export function forEachBackend(name: string, body: (device: DeviceName) => void): void {
  useDevices();
  for (const device of BACKENDS) describe(`${name} [${device}]`, () => body(device));
}

function flat(x: NestedArray | TypedArray | number[] | number): number[] {
  if (ArrayBuffer.isView(x)) return Array.from(x as TypedArray);
  if (Array.isArray(x)) return (x as NestedArray[]).flatMap((v) => flat(v as NestedArray));
  return [Number(x)];
}

export interface CloseOptions {
  atol?: number;
  rtol?: number;
  /** Expected shape; checked when given. */
  shape?: readonly number[];
  dtype?: DType;
}

/**
 * Reads `t` (asynchronously: webgpu tensors cannot be read synchronously) and compares it
 * elementwise with `expected` (a tensor on any device, nested array, typed array or number):
 * |a - e| <= atol + rtol |e|, NaN matching NaN, infinities exactly. Always `await` it.
 */
export async function expectClose(t: Tensor, expected: Tensor | NestedArray | TypedArray | number[] | number, opts: CloseOptions = {}): Promise<void> {
  const { atol = 1e-5, rtol = 1e-5 } = opts;
  if (opts.shape) expect([...t.shape]).toEqual([...opts.shape]);
  if (opts.dtype) expect(t.dtype).toBe(opts.dtype);
  const isTensor = typeof expected === 'object' && expected !== null && 'shape' in expected && 'data' in expected;
  if (isTensor) expect([...t.shape], 'shape').toEqual([...(expected as Tensor).shape]);
  const got = flat(Array.from(await t.data()));
  const want = isTensor ? flat(Array.from(await (expected as Tensor).data())) : flat(expected as NestedArray | TypedArray | number[]);
  expect(got.length, `element count of ${t}`).toBe(want.length);
  const bad: string[] = [];
  for (let i = 0; i < want.length; i++) {
    const a = got[i];
    const e = want[i];
    const ok = Number.isNaN(e) ? Number.isNaN(a) : !Number.isFinite(e) ? a === e : Math.abs(a - e) <= atol + rtol * Math.abs(e);
    if (!ok && bad.length < 5) bad.push(`[${i}] got ${a}, expected ${e}`);
  }
  expect(bad, `mismatches in ${t}`).toEqual([]);
}

/** A deterministic pseudo-random array in [-1, 1) (xorshift), for inputs that need no golden file. */
export function seeded(n: number, seed = 1): Float32Array {
  return Float32Array.from(seeded64(n, seed));
}

/** The values of seeded() before rounding to float32. */
export function seeded64(n: number, seed = 1): Float64Array {
  let s = seed >>> 0 || 1;
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    out[i] = (s / 4294967296) * 2 - 1;
  }
  return out;
}

export { tensor };

export interface FixtureTensor {
  shape: number[];
  dtype: DType;
  data: (number | string)[];
}
export interface FixtureCase {
  name: string;
  op: string;
  inputs: FixtureTensor[];
  params?: Record<string, unknown>;
  expected: FixtureTensor[];
}

const decode = (v: number | string) => (v === 'nan' ? NaN : v === 'inf' ? Infinity : v === '-inf' ? -Infinity : Number(v));

/** Golden cases written by test/fixtures/gen_<family>.py (PyTorch). */
export async function loadFixture(family: string): Promise<FixtureCase[]> {
  const { readFile } = await import('node:fs/promises');
  const url = new URL(`./fixtures/${family}.json`, import.meta.url);
  return JSON.parse(await readFile(url, 'utf8')).cases as FixtureCase[];
}

/** A fixture tensor on a device (float64 fixtures become float32 on webgpu). */
export function fromFixture(f: FixtureTensor, device: DeviceName): Tensor {
  const dtype = f.dtype === 'float64' && device === 'webgpu' ? 'float32' : f.dtype;
  const data = f.data.map(decode);
  return tensor(dtype === 'bool' ? data.map((v) => v !== 0) : data, { dtype, device, shape: f.shape });
}

export const fixtureValues = (f: FixtureTensor) => f.data.map(decode);

/** Runs `step` once to warm up, then `steps` more times, and expects as many live tensors and bytes as after the first. */
export function expectFlatMemory(step: () => void, steps: number): void {
  step();
  const before = memory();
  for (let i = 0; i < steps; i++) step();
  const after = memory();
  expect([after.tensors, after.bytes]).toEqual([before.tensors, before.bytes]);
}
