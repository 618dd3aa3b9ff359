/**
 * Epoch time of a two-layer GCN and GAT on Cora (full batch: one forward + backward + Adam step,
 * then one evaluation forward), on each backend in TESSERA_BACKENDS (default cpu,webgpu).
 *
 *   pnpm --filter @tessera/graph bench [-- --epochs N]
 */
import * as T from '@tessera/tensor';
import { backward, noGrad } from '@tessera/autodiff';
import { F, Module } from '@tessera/nn';
import { Adam } from '@tessera/optimize';
import { GATConv, GCNConv, NormalizeFeatures, Planetoid, maskToIndex } from '../src/index.js';

class GCN extends Module {
  conv1 = new GCNConv(1433, 16, { cached: true });
  conv2 = new GCNConv(16, 7, { cached: true });
  forward(x: T.Tensor, ei: T.Tensor): T.Tensor {
    return T.tidy(() => this.conv2.forward(F.dropout(T.relu(this.conv1.forward(F.dropout(x, 0.5, this.training), ei)), 0.5, this.training), ei));
  }
}

class GAT extends Module {
  conv1 = new GATConv(1433, 8, { heads: 8, dropout: 0.6 });
  conv2 = new GATConv(64, 7, { heads: 1, concat: false, dropout: 0.6 });
  forward(x: T.Tensor, ei: T.Tensor): T.Tensor {
    return T.tidy(() => this.conv2.forward(F.dropout(T.elu(this.conv1.forward(F.dropout(x, 0.6, this.training), ei)), 0.6, this.training), ei));
  }
}

const argv = process.argv.slice(2);
const epochsArg = argv.indexOf('--epochs');
const EPOCHS = epochsArg >= 0 ? Number(argv[epochsArg + 1]) : 5;
if (!Number.isInteger(EPOCHS) || EPOCHS <= 0) throw new Error(`bench: --epochs expects a positive integer, received ${argv[epochsArg + 1]}`);
const backends = (process.env.TESSERA_BACKENDS ?? 'cpu,webgpu').split(',').map((s) => s.trim()).filter(Boolean) as T.DeviceName[];

const rows: string[] = [];
for (const device of backends) {
  await T.init({ device });
  const ds = await Planetoid.load({ name: 'Cora', transform: new NormalizeFeatures(), device });
  const g = await ds.get(0);
  const idx = await maskToIndex(g.trainMask!);
  const y = T.indexSelect(g.y!, 0, idx);
  for (const [name, make] of [['GCN', () => new GCN()], ['GAT', () => new GAT()]] as const) {
    T.manualSeed(0);
    const model: Module = make();
    await model.to(device);
    const opt = new Adam(model.parameters(), { lr: 0.01, weightDecay: 5e-4 });
    const times: number[] = [];
    // One warm-up epoch (pipeline compilation on webgpu, caches), then EPOCHS timed ones.
    for (let e = 0; e <= EPOCHS; e++) {
      const t0 = performance.now();
      model.train();
      opt.zeroGrad();
      const loss = T.tidy(() => {
        const l = F.crossEntropy(T.indexSelect(model.forward(g.x!, g.edgeIndex!), 0, idx), y);
        backward(l);
        return l;
      });
      opt.step();
      await loss.item();
      loss.dispose();
      model.eval();
      const out = noGrad(() => model.forward(g.x!, g.edgeIndex!));
      const pred = T.argmax(out, { dim: 1 });
      await pred.data();
      T.dispose([pred, out]);
      if (e > 0) times.push((performance.now() - t0) / 1000);
    }
    opt.zeroGrad();
    for (const st of opt.state.values()) T.dispose(Object.values(st).filter(T.isTensor));
    model.dispose();
    times.sort((a, b) => a - b);
    const median = times[Math.floor(times.length / 2)];
    rows.push(`| ${name} | ${device} | ${EPOCHS} | ${median.toFixed(3)} | ${times[0].toFixed(3)} |`);
    process.stderr.write(`${name} ${device}: median ${median.toFixed(3)} s/epoch\n`);
  }
  T.dispose([idx, y]);
  g.dispose();
  ds.dispose();
}
console.log('| model | device | epochs timed | median s/epoch | min s/epoch |\n|---|---|---:|---:|---:|');
console.log(rows.join('\n'));
await T.shutdown();
