"""GWNN on a Planetoid graph in plain PyTorch, following the training procedure of the authors'
TensorFlow code (Eilene/GWNN) step by step, as an independent check of the seed distribution that
`src/graph/gwnn.ts` reports. It shares no code with Tessera: the bases come from a dense float64
eigendecomposition, the layers are dense matmuls.

What it reproduces from the authors' code (read for understanding; nothing is copied):
  - features row-normalised; L = I - D^-1/2 A D^-1/2 of the symmetric 0/1 adjacency;
  - psi = U diag(e^{-s lambda}) U^T and the second basis either e^{+sL} ('exact') or, as their code
    computes it after overwriting lambda in place, U diag(exp(s e^{-s lambda})) U^T ('code');
    every entry below the threshold (so every negative one) set to 0;
  - two layers X' = B2 diag(f) B1 X W with B2 the second basis, B1 = psi (their support order),
    Glorot-uniform W, filters f starting at ones, no bias, ReLU between, dropout 0.5 on both
    layers' inputs;
  - loss = cross entropy on the 140 training nodes + 5e-4 * (|W1|^2 + |f1|^2) / 2 (first layer only),
    Adam lr 0.01;
  - the validation loss includes the same penalty; stop when it exceeds the mean of the previous
    100 (after epoch 100); report the test accuracy of the last epoch with the best validation
    accuracy (ties go to the later epoch), at most 1,000 epochs.

Usage (Debian's PyTorch: /usr/bin/python3 after `apt-get install python3-torch libopenblas0-pthread`):
  npx tsx src/graph/export-planetoid.ts --dataset Cora --out /tmp/cora.json
  /usr/bin/python3 reference/gwnn_torch.py /tmp/cora.json --inverse code --seeds 20
"""
import argparse
import json
import math
import time

import numpy as np
import torch

ap = argparse.ArgumentParser()
ap.add_argument('graph', help='JSON written by src/graph/export-planetoid.ts')
ap.add_argument('--inverse', choices=['code', 'exact'], default='code')
ap.add_argument('--filter-init', choices=['ones', 'uniform'], default='ones')
ap.add_argument('--seeds', type=int, default=10)
ap.add_argument('--scale', type=float, default=1.0)
ap.add_argument('--threshold', type=float, default=1e-4)
ap.add_argument('--threads', type=int, default=2)
args = ap.parse_args()
torch.set_num_threads(args.threads)

g = json.load(open(args.graph))
n, nf = g['numNodes'], g['numFeatures']
x = np.array(g['x'], dtype=np.float64).reshape(n, nf)
rowsum = x.sum(1)
x = x * np.where(rowsum > 0, 1.0 / np.where(rowsum > 0, rowsum, 1.0), 0.0)[:, None]
labels = torch.tensor(g['y'], dtype=torch.long)
edges = np.array(g['edgeIndex']).reshape(2, -1)
adj = np.zeros((n, n))
adj[edges[0], edges[1]] = 1.0
adj = np.maximum(adj, adj.T)
deg = adj.sum(0)
inv_sqrt = np.where(deg > 0, 1.0 / np.sqrt(np.where(deg > 0, deg, 1.0)), 0.0)
lap = np.eye(n) - inv_sqrt[:, None] * adj * inv_sqrt[None, :]
t0 = time.time()
lam, U = np.linalg.eigh(lap)
s = args.scale
psi = (U * np.exp(-s * lam)) @ U.T
second = (U * np.exp(s * np.exp(-s * lam))) @ U.T if args.inverse == 'code' else (U * np.exp(s * lam)) @ U.T
psi[psi < args.threshold] = 0.0
second[second < args.threshold] = 0.0
print(f'{g["dataset"]}: bases in {time.time() - t0:.1f} s; psi {int((psi != 0).sum())} non-zeros, second basis ({args.inverse}) {int((second != 0).sum())}')
B1 = torch.tensor(psi, dtype=torch.float32)
B2 = torch.tensor(second, dtype=torch.float32)
X = torch.tensor(x, dtype=torch.float32)
train, val, test = (torch.tensor(g[k], dtype=torch.long) for k in ('train', 'val', 'test'))
classes = int(labels.max()) + 1
ce = torch.nn.functional.cross_entropy


def glorot(fan_in, fan_out, gen):
    r = math.sqrt(6.0 / (fan_in + fan_out))
    return ((torch.rand(fan_in, fan_out, generator=gen) * 2 - 1) * r).requires_grad_()


def filt(gen):
    f = torch.ones(n) if args.filter_init == 'ones' else 0.9 + 0.2 * torch.rand(n, generator=gen)
    return f.requires_grad_()


def run(seed, epochs=1000, patience=100, wd=5e-4, lr=0.01, p=0.5, hidden=16):
    gen = torch.Generator().manual_seed(seed)
    W1, f1, W2, f2 = glorot(nf, hidden, gen), filt(gen), glorot(hidden, classes, gen), filt(gen)
    opt = torch.optim.Adam([W1, f1, W2, f2], lr=lr)

    def drop(h, training):
        return h * (torch.rand(h.shape, generator=gen) < 1 - p).float() / (1 - p) if training else h

    def forward(training):
        h = torch.relu(B2 @ (f1[:, None] * (B1 @ (drop(X, training) @ W1))))
        return B2 @ (f2[:, None] * (B1 @ (drop(h, training) @ W2)))

    def penalty():
        return wd * (W1.pow(2).sum() + f1.pow(2).sum()) / 2

    val_costs, best_val, chosen_test, chosen_epoch, best_any = [], 0.0, 0.0, 0, 0.0
    for epoch in range(1, epochs + 1):
        opt.zero_grad()
        loss = penalty() + ce(forward(True)[train], labels[train])
        loss.backward()
        opt.step()
        with torch.no_grad():
            out = forward(False)
            val_costs.append((penalty() + ce(out[val], labels[val])).item())
            pred = out.argmax(1)
            val_acc = (pred[val] == labels[val]).float().mean().item()
            test_acc = (pred[test] == labels[test]).float().mean().item()
        if val_acc >= best_val:
            best_val, chosen_test, chosen_epoch = val_acc, test_acc, epoch
        best_any = max(best_any, test_acc)
        if epoch > patience + 1 and val_costs[-1] > np.mean(val_costs[-(patience + 1):-1]):
            break
    return chosen_test, best_val, chosen_epoch, epoch, best_any


rows = []
for seed in range(args.seeds):
    t0 = time.time()
    r = run(seed)
    rows.append(r)
    print(f'seed {seed}: test {100 * r[0]:.1f} % (val {100 * r[1]:.1f} % at epoch {r[2]}, stopped at {r[3]}); '
          f'best test of any epoch {100 * r[4]:.1f} % [{time.time() - t0:.1f} s]', flush=True)
chosen = 100 * np.array([r[0] for r in rows])
best = 100 * np.array([r[4] for r in rows])
print(f'GWNN ({args.inverse} second basis, filters {args.filter_init}), {args.seeds} seeds: '
      f'{chosen.mean():.2f} +- {chosen.std():.2f} % (min {chosen.min():.1f}, max {chosen.max():.1f}); '
      f'best test epoch of each run (not a valid protocol, for comparison with the paper\'s log) {best.mean():.2f} +- {best.std():.2f} %')
