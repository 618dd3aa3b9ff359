import { expect, it, describe } from 'vitest';
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { deflateRawSync } from 'node:zlib';
import * as T from '@tessera/tensor';
import { forEachBackend, expectClose } from '../../tensor/test/helpers.js';
import { Planetoid } from '../src/datasets/planetoid.js';
import { TUDataset } from '../src/datasets/tu.js';
import { KarateClub } from '../src/datasets/karate.js';
import { readPickle, type CsrArrays, type NdArray, type PyValue } from '../src/datasets/pickle.js';
import { unzip } from '../src/datasets/zip.js';
import { Batch } from '../src/data/batch.js';
import { GraphDataLoader } from '../src/data/loader.js';

const DATA = process.env.TESSERA_DATA_DIR ?? new URL('../../../../shared/data', import.meta.url).pathname;

interface PlanetoidRef {
  name: string; numNodes: number; numFeatures: number; numClasses: number; numEdges: number;
  xNnz: number; xSum: number; xChecksum: number; xRows: Record<string, number[]>; zeroRows: number;
  y: number[]; degree: number[]; edgeChecksum: number; edgeOrderChecksum: number;
  trainCount: number; valRange: [number, number]; testIds: number[]; trainClassCounts: number[]; testClassCounts: number[];
}
interface TuRef {
  name: string; numGraphs: number; numNodes: number; numEdges: number; numClasses: number; numNodeFeatures: number; numEdgeFeatures: number;
  graphNodes: number[]; graphEdges: number[]; y: number[]; xColumnSums: number[]; edgeAttrColumnSums: number[];
  localEdgeChecksum: number; localEdgeOrderChecksum: number; nodeAttrSum?: number;
  graph0: { edgeIndex: number[][]; x: number[][] | null; edgeAttr: number[][] | null };
}
const ref = JSON.parse(await readFile(new URL('./fixtures/datasets.json', import.meta.url), 'utf8')) as {
  planetoid: PlanetoidRef[]; tu: TuRef[]; karate: { numNodes: number; edgeIndex: number[][]; y: number[] };
  pickles: { good: { hex: string; expect: unknown }; unicode: string; protocol4: string; py3NumpyArray: string; float: string };
  pubmedParts: Record<'x' | 'tx', { shape: number[]; nnz: number; dataSum: number; indicesChecksum: number }> & { ty: { shape: number[]; argmax: number[] } };
};

/** The checksums of gen_datasets.py over an edge list [2, E] given row-major. */
function edgeChecksums(data: ArrayLike<number>, E: number): [number, number] {
  let sum = 0;
  let order = 0;
  for (let k = 0; k < E; k++) {
    const r = data[k];
    const c = data[E + k];
    sum += (r * 7919 + c * 104729) % 1000003;
    order += (k * r) % 65521;
  }
  return [sum, order];
}

const count = (mask: ArrayLike<number>) => Array.from(mask).reduce((a, b) => a + (b ? 1 : 0), 0);

forEachBackend('Planetoid', (device) => {
  for (const r of ref.planetoid) {
    it(`${r.name}: features, labels, edges and the public split match PyG's construction`, async () => {
      const ds = await Planetoid.load({ name: r.name as 'Cora', root: DATA, device });
      expect(ds.length).toBe(1);
      expect(ds.numClasses).toBe(r.numClasses);
      expect(ds.numFeatures).toBe(r.numFeatures);
      const g = await ds.get(0);
      expect(g.numNodes).toBe(r.numNodes);
      expect(g.numEdges).toBe(r.numEdges);
      expect(g.x!.shape).toEqual([r.numNodes, r.numFeatures]);
      expect(g.device).toBe(device);
      const x = await g.x!.data();
      const F = r.numFeatures;
      let nnz = 0;
      let sum = 0;
      let check = 0;
      let zeroRows = 0;
      for (let i = 0; i < r.numNodes; i++) {
        let rowSum = 0;
        for (let j = 0; j < F; j++) {
          const v = x[i * F + j];
          if (v === 0) continue;
          nnz++;
          sum += v;
          rowSum += Math.abs(v);
          check += v * ((31 * i + 17 * j) % 1009);
        }
        if (rowSum === 0) zeroRows++;
      }
      expect([nnz, sum, check, zeroRows]).toEqual([r.xNnz, r.xSum, r.xChecksum, r.zeroRows]);
      for (const [row, cols] of Object.entries(r.xRows)) {
        const got = [];
        for (let j = 0; j < F; j++) if (x[Number(row) * F + j] !== 0) got.push(j);
        expect(got, `x row ${row}`).toEqual(cols);
      }
      await expectClose(g.y!, r.y, { dtype: 'int32' });
      const ei = await g.edgeIndex!.data();
      expect(edgeChecksums(ei, r.numEdges)).toEqual([r.edgeChecksum, r.edgeOrderChecksum]);
      const degree = new Array<number>(r.numNodes).fill(0);
      for (let e = 0; e < r.numEdges; e++) degree[ei[e]]++;
      expect(degree).toEqual(r.degree);
      expect(await g.isUndirected()).toBe(true);
      expect(await g.hasSelfLoops()).toBe(false);
      const [train, val, test] = await Promise.all([g.trainMask!.data(), g.valMask!.data(), g.testMask!.data()]);
      const y = await g.y!.data();
      expect(count(train)).toBe(r.trainCount);
      expect(Array.from({ length: r.trainCount }, (_, i) => train[i])).toEqual(new Array(r.trainCount).fill(1));
      expect(count(val)).toBe(r.valRange[1] - r.valRange[0]);
      expect(val[r.valRange[0]] && val[r.valRange[1] - 1]).toBeTruthy();
      expect(Array.from(test).flatMap((v, i) => (v ? [i] : []))).toEqual(r.testIds);
      const perClass = (mask: ArrayLike<number>) => {
        const c = new Array<number>(r.numClasses).fill(0);
        for (let i = 0; i < mask.length; i++) if (mask[i]) c[y[i]]++;
        return c;
      };
      expect(perClass(train)).toEqual(r.trainClassCounts);
      expect(perClass(test)).toEqual(r.testClassCounts);
      g.dispose();
      ds.dispose();
    });
  }
});

describe('Planetoid options and errors', () => {
  it("builds the 'full' and seeded 'random' splits", async () => {
    const full = await Planetoid.load({ name: 'Cora', root: DATA, split: 'full', device: 'cpu' });
    const g = full.at(0);
    const [train, val, test] = [g.trainMask!, g.valMask!, g.testMask!].map((m) => m.dataSync());
    expect(count(train)).toBe(2708 - 1500);
    expect(Array.from(train).every((v, i) => !(v && (val[i] || test[i])))).toBe(true);
    full.dispose();
    const draw = async (seed: number) => {
      const ds = await Planetoid.load({ name: 'citeseer' as 'CiteSeer', root: DATA, split: 'random', generator: new T.Generator(seed), device: 'cpu' });
      const h = ds.at(0);
      const masks = [h.trainMask!, h.valMask!, h.testMask!].map((m) => Array.from(m.dataSync()));
      const y = h.y!.dataSync();
      const perClass = new Array<number>(6).fill(0);
      masks[0].forEach((v, i) => v && perClass[y[i]]++);
      ds.dispose();
      return { masks, perClass };
    };
    const a = await draw(1);
    expect(a.perClass).toEqual([20, 20, 20, 20, 20, 20]);
    expect(a.masks.map(count)).toEqual([120, 500, 1000]);
    expect(a.masks[0].every((v, i) => !(v && (a.masks[1][i] || a.masks[2][i])) && !(a.masks[1][i] && a.masks[2][i]))).toBe(true);
    expect((await draw(1)).masks).toEqual(a.masks);
    expect((await draw(2)).masks).not.toEqual(a.masks);
  });

  it('names the missing PubMed allx file and where to get it; rejects bad names', async () => {
    await expect(Planetoid.load({ name: 'PubMed', root: DATA })).rejects.toThrow(
      /Planetoid: missing file .*planetoid\/ind\.pubmed\.allx; download https:\/\/github\.com\/kimiyoung\/planetoid\/raw\/master\/data\/ind\.pubmed\.allx into .*planetoid, or pass download: true/,
    );
    await expect(Planetoid.load({ name: 'Pubmeds' as 'PubMed', root: DATA })).rejects.toThrow(/Planetoid: name must be one of Cora, CiteSeer, PubMed, received 'Pubmeds'/);
    await expect(Planetoid.load({ name: 'Cora', root: DATA, split: 'geom-gcn' as 'full' })).rejects.toThrow(/split must be 'public', 'full' or 'random'/);
  });

  it('downloads missing files once into root (with an injected fetch) and reads them from there after', async () => {
    const root = await mkdtemp(`${tmpdir()}/tessera-planetoid-`);
    try {
      const urls: string[] = [];
      const fetch = async (url: string) => {
        urls.push(url);
        const file = url.split('/').pop()!;
        const bytes = await readFile(`${DATA}/planetoid/${file}`);
        return { ok: true, status: 200, arrayBuffer: async () => bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer };
      };
      const ds = await Planetoid.load({ name: 'Cora', root, download: true, fetch, device: 'cpu' });
      expect(urls.length).toBe(8);
      expect(urls.every((u) => u.startsWith('https://github.com/kimiyoung/planetoid/raw/master/data/ind.cora.'))).toBe(true);
      expect((await readdir(`${root}/planetoid`)).sort()).toEqual(['allx', 'ally', 'graph', 'test.index', 'tx', 'ty', 'x', 'y'].map((e) => `ind.cora.${e}`));
      expect(ds.at(0).numEdges).toBe(10556);
      ds.dispose();
      const failing = async () => { throw new Error('offline'); };
      const again = await Planetoid.load({ name: 'Cora', root, download: true, fetch: failing, device: 'cpu' });
      expect(again.at(0).numNodes).toBe(2708);
      again.dispose();
      const notFound = async () => ({ ok: false, status: 404, arrayBuffer: async () => new ArrayBuffer(0) });
      await expect(Planetoid.load({ name: 'CiteSeer', root, download: true, fetch: notFound })).rejects.toThrow(/downloading https:\/\/github\.com\/kimiyoung\/planetoid\/raw\/master\/data\/ind\.citeseer\.x failed with HTTP status 404/);
      await expect(Planetoid.load({ name: 'CiteSeer', root, download: true, fetch: failing })).rejects.toThrow(/downloading .*ind\.citeseer\.x failed: offline/);
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });
});

forEachBackend('TUDataset', (device) => {
  for (const r of ref.tu) {
    it(`${r.name}: graphs, one-hot features, labels and edges match PyG's read_tu_data`, async () => {
      const ds = await TUDataset.load({ name: r.name, root: DATA, device });
      expect([ds.length, ds.numClasses, ds.numNodeFeatures, ds.numEdgeFeatures]).toEqual([r.numGraphs, r.numClasses, r.numNodeFeatures, r.numEdgeFeatures]);
      const graphs = Array.from({ length: ds.length }, (_, i) => ds.at(i));
      expect(graphs.map((g) => g.numNodes)).toEqual(r.graphNodes);
      expect(graphs.map((g) => g.numEdges)).toEqual(r.graphEdges);
      // one Batch of everything: concatenated values against the reference sums and checksums
      const b = Batch.fromGraphs(graphs);
      expect([b.numNodes, b.numEdges]).toEqual([r.numNodes, r.numEdges]);
      await expectClose(b.y!, r.y, { dtype: 'int32' });
      await expectClose(T.sum(b.x!, { dim: 0 }), r.xColumnSums, { atol: 0 });
      if (r.numEdgeFeatures) await expectClose(T.sum(b.edgeAttr!, { dim: 0 }), r.edgeAttrColumnSums, { atol: 0 });
      const local = new Int32Array(2 * r.numEdges);
      let at = 0;
      for (const g of graphs) {
        const d = await g.edgeIndex!.data();
        local.set(d.subarray(0, g.numEdges), at);
        local.set(d.subarray(g.numEdges), r.numEdges + at);
        at += g.numEdges;
      }
      expect(edgeChecksums(local, r.numEdges)).toEqual([r.localEdgeChecksum, r.localEdgeOrderChecksum]);
      await expectClose(graphs[0].edgeIndex!, r.graph0.edgeIndex);
      await expectClose(graphs[0].x!, r.graph0.x!);
      if (r.graph0.edgeAttr) await expectClose(graphs[0].edgeAttr!, r.graph0.edgeAttr);
      b.dispose();
      ds.dispose();
    });
  }

  it('PROTEINS with useNodeAttr puts the continuous attribute before the one-hot labels', async () => {
    const proteins = ref.tu.find((t) => t.name === 'PROTEINS')!;
    const ds = await TUDataset.load({ name: 'PROTEINS', root: DATA, useNodeAttr: true, device });
    expect(ds.numNodeFeatures).toBe(4);
    const loader = new GraphDataLoader(ds, { batchSize: 256 });
    let attrSum = 0;
    let labelSums = [0, 0, 0];
    for await (const batch of loader) {
      const s = Array.from(await T.sum(batch.x!, { dim: 0 }).data());
      attrSum += s[0];
      labelSums = labelSums.map((v, k) => v + s[k + 1]);
      batch.dispose();
    }
    expect(Math.abs(attrSum - proteins.nodeAttrSum!)).toBeLessThan(1e-6 * proteins.nodeAttrSum!);
    expect(labelSums).toEqual(proteins.xColumnSums);
    ds.dispose();
  });

  it('explains missing files and bad names', async () => {
    await expect(TUDataset.load({ name: 'IMDB-BINARY', root: DATA })).rejects.toThrow(
      /TUDataset: missing file .*tu\/IMDB-BINARY\/IMDB-BINARY_A\.txt; download https:\/\/www\.chrsmrrs\.com\/graphkerneldatasets\/IMDB-BINARY\.zip/,
    );
    await expect(TUDataset.load({ name: '../x', root: DATA })).rejects.toThrow(/TUDataset: expected options with a dataset name/);
  });
});

/** A zip archive of `files` (deflated), as TU Dortmund serves them. */
function makeZip(files: { name: string; data: Uint8Array }[]): Uint8Array {
  const parts: Uint8Array[] = [];
  const central: Uint8Array[] = [];
  let offset = 0;
  for (const f of files) {
    const name = new TextEncoder().encode(f.name);
    const packed = deflateRawSync(f.data);
    const local = new DataView(new ArrayBuffer(30));
    local.setUint32(0, 0x04034b50, true);
    local.setUint16(8, 8, true);
    local.setUint32(18, packed.length, true);
    local.setUint32(22, f.data.length, true);
    local.setUint16(26, name.length, true);
    const dir = new DataView(new ArrayBuffer(46));
    dir.setUint32(0, 0x02014b50, true);
    dir.setUint16(10, 8, true);
    dir.setUint32(20, packed.length, true);
    dir.setUint32(24, f.data.length, true);
    dir.setUint16(28, name.length, true);
    dir.setUint32(42, offset, true);
    parts.push(new Uint8Array(local.buffer), name, packed);
    central.push(new Uint8Array(dir.buffer), name);
    offset += 30 + name.length + packed.length;
  }
  const size = central.reduce((a, c) => a + c.length, 0);
  const end = new DataView(new ArrayBuffer(22));
  end.setUint32(0, 0x06054b50, true);
  end.setUint16(8, files.length, true);
  end.setUint16(10, files.length, true);
  end.setUint32(12, size, true);
  end.setUint32(16, offset, true);
  const all = [...parts, ...central, new Uint8Array(end.buffer)];
  const out = new Uint8Array(all.reduce((a, c) => a + c.length, 0));
  let at = 0;
  for (const c of all) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}

describe('TUDataset download', () => {
  it('fetches the zip, unpacks it into root/tu/<name> and loads it', async () => {
    const names = (await readdir(`${DATA}/tu/MUTAG`)).sort();
    const files = await Promise.all(names.map(async (n) => ({ name: `MUTAG/${n}`, data: new Uint8Array(await readFile(`${DATA}/tu/MUTAG/${n}`)) })));
    const zip = makeZip([{ name: 'MUTAG/', data: new Uint8Array(0) }, ...files]);
    const entries = await unzip(zip);
    expect(entries.map((e) => e.name)).toEqual(names.map((n) => `MUTAG/${n}`));
    expect(entries[0].data).toEqual(files[0].data);
    const root = await mkdtemp(`${tmpdir()}/tessera-tu-`);
    try {
      const urls: string[] = [];
      const fetch = async (url: string) => {
        urls.push(url);
        return { ok: true, status: 200, arrayBuffer: async () => zip.slice().buffer as ArrayBuffer };
      };
      const ds = await TUDataset.load({ name: 'MUTAG', root, download: true, fetch, device: 'cpu' });
      expect(urls).toEqual(['https://www.chrsmrrs.com/graphkerneldatasets/MUTAG.zip']);
      expect(ds.length).toBe(188);
      expect((await readdir(`${root}/tu/MUTAG`)).sort()).toEqual(names);
      ds.dispose();
    } finally {
      await rm(root, { recursive: true, force: true });
    }
    await expect(unzip(new Uint8Array(100))).rejects.toThrow(/unzip: not a zip archive/);
  });
});

forEachBackend('KarateClub', (device) => {
  it('reads the 78 friendships (156 directed edges) and the two factions', async () => {
    const ds = await KarateClub.load({ root: DATA, device });
    const g = await ds.get(0);
    expect([g.numNodes, g.numEdges, ds.numClasses, ds.numFeatures]).toEqual([34, 156, 2, 34]);
    await expectClose(g.edgeIndex!, ref.karate.edgeIndex, { dtype: 'int32' });
    await expectClose(g.y!, ref.karate.y);
    await expectClose(g.x!, T.eye(34, 34, { device }));
    const train = Array.from(await g.trainMask!.data()).flatMap((v, i) => (v ? [i] : []));
    expect(train).toEqual([ref.karate.y.indexOf(0), ref.karate.y.indexOf(1)]);
    expect(await g.isUndirected()).toBe(true);
    g.dispose();
    ds.dispose();
  });
});

describe('readPickle', () => {
  const hex = (h: string) => Uint8Array.from(h.match(/../g)!, (b) => parseInt(b, 16));
  const plain = (v: PyValue): unknown => (v instanceof Map ? Object.fromEntries([...v].map(([k, x]) => [String(k), plain(x)])) : Array.isArray(v) ? v.map(plain) : v);

  it('parses the protocol-2 opcodes of the Planetoid files', () => {
    expect(plain(readPickle(hex(ref.pickles.good.hex)))).toEqual(ref.pickles.good.expect);
  });

  it("reads PubMed's TF-IDF CSR matrices and label arrays (its allx is the file missing from the bundle)", async () => {
    for (const k of ['x', 'tx'] as const) {
      const m = readPickle(new Uint8Array(await readFile(`${DATA}/planetoid/ind.pubmed.${k}`)), `ind.pubmed.${k}`) as CsrArrays;
      const want = ref.pubmedParts[k];
      expect(m.kind).toBe('csr');
      expect(m.shape).toEqual(want.shape);
      expect([m.indptr.dtype, m.indices.dtype, m.data.dtype]).toEqual(['int32', 'int32', 'float32']);
      expect(m.indptr.data.length).toBe(want.shape[0] + 1);
      expect(m.indices.data.length).toBe(want.nnz);
      let sum = 0;
      let check = 0;
      m.data.data.forEach((v) => (sum += v));
      m.indices.data.forEach((c, i) => (check = (check + c * i) % 1000003));
      expect(Math.abs(sum - want.dataSum)).toBeLessThan(1e-9 * want.dataSum);
      expect(check).toBe(want.indicesChecksum);
    }
    const ty = readPickle(new Uint8Array(await readFile(`${DATA}/planetoid/ind.pubmed.ty`))) as NdArray;
    expect([ty.kind, ty.dtype, ty.shape]).toEqual(['ndarray', 'int32', ref.pubmedParts.ty.shape]);
    const argmax = Array.from({ length: 50 }, (_, i) => [0, 1, 2].reduce((b, c) => (ty.data[i * 3 + c] > ty.data[i * 3 + b] ? c : b), 0));
    expect(argmax).toEqual(ref.pubmedParts.ty.argmax);
  });

  it('refuses what it does not implement, naming the opcode, protocol or global', () => {
    expect(() => readPickle(hex(ref.pickles.unicode), 'u.pkl')).toThrow(/readPickle\(u\.pkl\): unsupported pickle opcode 0x58 \(BINUNICODE\) at offset \d+/);
    expect(() => readPickle(hex(ref.pickles.float))).toThrow(/unsupported pickle opcode 0x47 \(BINFLOAT\)/);
    expect(() => readPickle(hex(ref.pickles.protocol4))).toThrow(/pickle protocol 4 is not supported/);
    expect(() => readPickle(hex(ref.pickles.py3NumpyArray))).toThrow(/unsupported global _codecs\.encode/);
    expect(() => readPickle(hex(ref.pickles.good.hex).subarray(0, 60))).toThrow(/truncated pickle/);
  });
});

describe('datasets in a training-style loop', () => {
  it('MUTAG batches cover every graph once per epoch with flat memory', async () => {
    const ds = await TUDataset.load({ name: 'MUTAG', root: DATA, device: 'cpu' });
    const loader = new GraphDataLoader(ds, { batchSize: 32, shuffle: true, generator: new T.Generator(0) });
    const epoch = async () => {
      let nodes = 0;
      const seen: number[] = [];
      for await (const b of loader) {
        nodes += b.numNodes;
        seen.push(b.numGraphs);
        b.dispose();
      }
      return { nodes, graphs: seen.reduce((a, c) => a + c, 0), batches: seen.length };
    };
    expect(await epoch()).toEqual({ nodes: 3371, graphs: 188, batches: 6 });
    const before = T.memory();
    await epoch();
    expect(T.memory().tensors).toBe(before.tensors);
    ds.dispose();
  });
});
