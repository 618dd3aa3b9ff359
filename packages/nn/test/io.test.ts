import { readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import * as T from '@tessera/tensor';
import { forEachBackend, expectClose } from '../../tensor/test/helpers.js';
import { loadFile, loadMnist, loadSafetensors, readIdx, readNpy, readNpz, readSafetensorsMetadata, saveFile, saveSafetensors, writeNpy, writeNpz } from '../src/index.js';

const FIX = new URL('./fixtures/io/', import.meta.url).pathname;
const fix = (name: string) => new Uint8Array(readFileSync(FIX + name));
const expected = JSON.parse(readFileSync(FIX + 'expected.json', 'utf8')) as Record<string, { shape: number[]; data: number[] }>;
const DATA = process.env.TESSERA_DATA_DIR ?? new URL('../../../../shared/data', import.meta.url).pathname;

describe('readIdx / loadMnist (real Fashion-MNIST test set)', () => {
  it('reads images and labels with the right shape, histogram and mean pixel', async () => {
    const raw = gunzipSync(readFileSync(`${DATA}/fashion-mnist/t10k-images-idx3-ubyte.gz`));
    let sum = 0;
    for (let i = 16; i < raw.length; i++) sum += raw[i];
    const mean = sum / (raw.length - 16) / 255;
    const idx = await readIdx(`${DATA}/fashion-mnist/t10k-images-idx3-ubyte.gz`);
    expect(idx.shape).toEqual([10000, 28, 28]);
    expect(idx.dtype).toBe('uint8');
    const { images, labels } = await loadMnist({ kind: 'fashion-mnist', split: 'test', root: `${DATA}/fashion-mnist`, device: 'cpu' });
    expect(images.shape).toEqual([10000, 1, 28, 28]);
    expect(labels.dtype).toBe('int32');
    const lab = Array.from(labels.dataSync());
    expect(lab.slice(0, 10)).toEqual([9, 2, 1, 1, 6, 1, 4, 6, 5, 7]);
    expect(Array.from({ length: 10 }, (_, c) => lab.filter((l) => l === c).length)).toEqual(Array(10).fill(1000));
    const [m, mx] = [T.mean(images), T.amax(images)];
    expect(await m.item()).toBeCloseTo(mean, 5);
    expect(await mx.item()).toBeLessThanOrEqual(1);
    T.dispose([images, labels, m, mx]);
  });
  it('standardises with normalize { mean, std }', async () => {
    const { images, labels } = await loadMnist({ kind: 'mnist', split: 'test', normalize: { mean: 0.1307, std: 0.3081 }, device: 'cpu' });
    expect(images.shape).toEqual([10000, 1, 28, 28]);
    expect(Array.from(labels.dataSync()).slice(0, 5)).toEqual([7, 2, 1, 0, 4]);
    expect(images.dataSync()[0]).toBeCloseTo(-0.1307 / 0.3081, 5);
    T.dispose([images, labels]);
  });
  it('names a missing file and where to download it', async () => {
    await expect(loadMnist({ kind: 'mnist', split: 'train' })).rejects.toThrow(/loadMnist: missing file .*train-images-idx3-ubyte\.gz.*download/);
  });
  it('rejects bad IDX bytes', async () => {
    await expect(readIdx(new Uint8Array([0, 0, 0x42, 1, 0, 0, 0, 1, 5]))).rejects.toThrow(/unknown IDX type/);
    await expect(readIdx(new Uint8Array([0, 0, 8, 1, 0, 0, 0, 3, 5]))).rejects.toThrow(/needs 11 bytes, received 9/);
    await expect(readIdx(new Uint8Array([1, 2, 3]))).rejects.toThrow(/not an IDX file/);
  });
});

forEachBackend('NPY / NPZ', (device) => {
  const names = ['f4', 'f8', 'i4', 'u4', 'b1', 'u1', 'i8', 'scalar'].filter((n) => device === 'cpu' || n !== 'f8');
  it('reads files written by numpy / torch', async () => {
    for (const n of names) {
      const t = readNpy(fix(`${n}.npy`), { device });
      const dtype = { f4: 'float32', f8: 'float64', i4: 'int32', u4: 'uint32', b1: 'bool', u1: 'int32', i8: 'int32', scalar: 'float32' }[n];
      await expectClose(t, expected[n].data, { shape: expected[n].shape, dtype: dtype as T.DType, atol: 0, rtol: 0 });
      t.dispose();
    }
    const u = readNpy(fix('u1.npy'), { device, uint8As: 'float32' });
    await expectClose(u, [0, 128, 255], { dtype: 'float32' });
    u.dispose();
  });
  it('round-trips every dtype through writeNpy / readNpy and writeNpz / readNpz', async () => {
    const dtypes: T.DType[] = device === 'cpu' ? ['float32', 'float64', 'int32', 'uint32', 'bool'] : ['float32', 'int32', 'uint32', 'bool'];
    for (const dtype of dtypes) {
      const t = T.tensor([[1, 0, 3], [4, 5, 0]], { dtype, device });
      const back = readNpy(await writeNpy(t), { device });
      await expectClose(back, t, { dtype, atol: 0, rtol: 0 });
      for (const compress of [false, true]) {
        const z = await readNpz(await writeNpz({ x: t, s: T.scalar(7, { device }) }, { compress }), { device });
        await expectClose(z.x, t, { dtype, atol: 0, rtol: 0 });
        await expectClose(z.s, 7, { shape: [] });
        T.dispose(z);
      }
      T.dispose([t, back]);
    }
    expect(new TextDecoder().decode((await writeNpy(T.zeros([2]))).subarray(10, 80))).toMatch(/^\{'descr': '<f4', 'fortran_order': False, 'shape': \(2,\), \}/);
  });
  it('reads numpy savez (stored) and savez_compressed (deflated)', async () => {
    const s = await readNpz(fix('stored.npz'), { device });
    await expectClose(s.a, expected.f4.data, { shape: [2, 3] });
    await expectClose(s.b, expected.i4.data, { dtype: 'int32', atol: 0 });
    const d = await readNpz(fix('deflated.npz'), { device });
    await expectClose(d.b, expected.b1.data, { dtype: 'bool', shape: [2, 2] });
    T.dispose([s, d]);
  });
  it('rejects Fortran order, big-endian, truncated and corrupt inputs', async () => {
    expect(() => readNpy(fix('fortran.npy'))).toThrow(/readNpy: Fortran-order/);
    expect(() => readNpy(fix('big_endian.npy'))).toThrow(/big-endian dtype '>f4'/);
    expect(() => readNpy(fix('f4.npy').subarray(0, 130))).toThrow(/truncated data/);
    expect(() => readNpy(new Uint8Array(20))).toThrow(/not a \.npy file/);
    await expect(readNpz(new Uint8Array(40))).rejects.toThrow(/readNpz: not a zip archive/);
    const bad = fix('stored.npz');
    bad[100] ^= 0xff;
    await expect(readNpz(bad)).rejects.toThrow(/corrupt|CRC/);
  });
});

forEachBackend('safetensors', (device) => {
  it('round-trips tensors and metadata with an 8-byte aligned header', async () => {
    const src = { a: T.tensor([[1.5, -2], [3, 4]], { device }), b: T.tensor([1, -2, 3], { dtype: 'int32', device }), c: T.tensor([true, false], { device }), d: T.tensor([7], { dtype: 'uint32', device }) };
    const bytes = await saveSafetensors(src, { note: 'hi' });
    const n = Number(new DataView(bytes.buffer).getBigUint64(0, true));
    expect((8 + n) % 8).toBe(0);
    const header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + n)));
    expect(header.a).toEqual({ dtype: 'F32', shape: [2, 2], data_offsets: [0, 16] });
    expect(header.c.dtype).toBe('BOOL');
    expect(header.__metadata__).toEqual({ note: 'hi' });
    expect(readSafetensorsMetadata(bytes)).toEqual({ note: 'hi' });
    const back = loadSafetensors(bytes, { device });
    for (const k of Object.keys(src) as (keyof typeof src)[]) await expectClose(back[k], src[k], { dtype: src[k].dtype, atol: 0 });
    const path = join(mkdtempSync(join(tmpdir(), 'tessera-st-')), 'x.safetensors');
    await saveFile(src, path);
    const f = await loadFile(path, { device });
    await expectClose(f.a, src.a);
    T.dispose([src, back, f]);
  });
  it('reads a file laid out by hand in Python (F32, I64, BOOL, U8)', async () => {
    const st = loadSafetensors(fix('hand.safetensors'), { device });
    await expectClose(st.w, expected.f4.data, { shape: [2, 3], dtype: 'float32' });
    await expectClose(st.n, [1, -2], { dtype: 'int32' });
    await expectClose(st.m, expected.b1.data, { dtype: 'bool' });
    await expectClose(st.p, [0, 128, 255], { dtype: 'int32' });
    expect(readSafetensorsMetadata(fix('hand.safetensors'))).toEqual({ format: 'pt' });
    T.dispose(st);
  });
  it('rejects truncated files, bad headers, unknown dtypes and int64 overflow', async () => {
    const good = fix('hand.safetensors');
    expect(() => loadSafetensors(good.subarray(0, 5))).toThrow(/loadSafetensors: truncated file/);
    expect(() => loadSafetensors(good.subarray(0, 40))).toThrow(/truncated file: header length/);
    expect(() => loadSafetensors(good.subarray(0, good.length - 1))).toThrow(/truncated file: tensor/);
    const mk = (h: string, data = new Uint8Array(0)) => {
      const head = new TextEncoder().encode(h);
      const out = new Uint8Array(8 + head.length + data.length);
      new DataView(out.buffer).setBigUint64(0, BigInt(head.length), true);
      out.set(head, 8);
      out.set(data, 8 + head.length);
      return out;
    };
    expect(() => loadSafetensors(mk('{not json'))).toThrow(/bad header: not valid UTF-8 JSON/);
    expect(() => loadSafetensors(mk('[1]'))).toThrow(/bad header: expected a JSON object/);
    expect(() => loadSafetensors(mk('{"x":{"dtype":"F16","shape":[1],"data_offsets":[0,2]}}', new Uint8Array(2)))).toThrow(/unsupported dtype "F16"/);
    expect(() => loadSafetensors(mk('{"x":{"dtype":"F32","shape":[2],"data_offsets":[0,4]}}', new Uint8Array(4)))).toThrow(/needs 8 bytes, data_offsets give 4/);
    const big = new Uint8Array(new BigInt64Array([1n << 40n]).buffer);
    expect(() => loadSafetensors(mk('{"x":{"dtype":"I64","shape":[1],"data_offsets":[0,8]}}', big))).toThrow(/does not fit in int32/);
    await expect(saveSafetensors({ __metadata__: T.zeros([1]) })).rejects.toThrow(/reserved/);
  });
});
