"""PyTorch CPU runner for apps/bench, run by the orchestrator with Debian's /usr/bin/python3.

    /usr/bin/python3 src/systems/torch_bench.py --spec '{"GRAPH": ..., "SHAPES": ...}' --inputs DIR [runner flags]

Speaks the same protocol as the TypeScript runners (src/protocol.ts): one JSON object per stdout
line prefixed with "@@bench ". Shapes come from --spec (written by src/spec.ts), the graph from the
shared inputs folder (src/inputs.ts), so every system runs the same workloads.
"""

import argparse
import ctypes
import json
import math
import os
import re
import statistics
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

PREFIX = "@@bench "
UNSUPPORTED = re.compile(r"not implemented|not supported|unsupported|could not run", re.I)


def backward_and_read(loss, params):
    """Backward, then read the loss and every gradient to the host (the timed region ends with the data), and clear them."""
    loss.backward()
    loss.item()
    for p in params:
        p.grad.numpy()
        p.grad = None

def emit(msg):
    sys.stdout.write(PREFIX + json.dumps(msg) + "\n")
    sys.stdout.flush()


class Unsupported(Exception):
    pass


def openblas_libraries():
    """OpenBLAS shared objects mapped into this process (Debian's torch links the generic BLAS)."""
    try:
        with open("/proc/self/maps") as f:
            maps = f.read()
    except OSError:
        return []
    return sorted(set(re.findall(r"(/\S*openblas\S*\.so\S*)", maps)))


def openblas_threads(set_to=None):
    out = []
    for path in openblas_libraries():
        try:
            lib = ctypes.CDLL(path)
            if set_to is not None and hasattr(lib, "openblas_set_num_threads"):
                lib.openblas_set_num_threads(ctypes.c_int(set_to))
            get = lib.openblas_get_num_threads
            get.restype = ctypes.c_int
            config = lib.openblas_get_config
            config.restype = ctypes.c_char_p
            out.append({"library": path, "threads": get(), "config": config().decode()})
        except (OSError, AttributeError):
            continue
    return out


def read_inputs(folder):
    meta = json.load(open(os.path.join(folder, "meta.json")))
    arr = lambda name, dt: np.fromfile(os.path.join(folder, name), dtype=dt)
    return {
        "meta": meta,
        "nodes": meta["nodes"],
        "edge_src": arr("edge_src.i32", "<i4"),
        "edge_dst": arr("edge_dst.i32", "<i4"),
        "adj_rows": arr("adj_rows.i32", "<i4"),
        "adj_cols": arr("adj_cols.i32", "<i4"),
        "adj_vals": arr("adj_vals.f32", "<f4"),
        "labels": arr("labels.i32", "<i4"),
        "train": arr("train.i32", "<i4"),
    }


# ---------------------------------------------------------------- workloads
# Each setup returns (run, dispose); run() does the timed work, results read back to numpy/.item().


def matmul(n):
    def setup(_):
        a, b = torch.rand(n, n), torch.rand(n, n)

        def run():
            with torch.no_grad():
                torch.matmul(a, b).numpy()

        return run

    return setup


def add(spec):
    n = spec["SHAPES"]["add"]
    a, b = torch.rand(n), torch.rand(n)

    def run():
        with torch.no_grad():
            torch.add(a, b).numpy()

    return run


def total(spec):
    a = torch.rand(spec["SHAPES"]["sum"])

    def run():
        with torch.no_grad():
            torch.sum(a).item()

    return run


def scatter_add(spec, g):
    w = spec["SHAPES"]["scatterWidth"]
    dst = torch.from_numpy(g["edge_dst"].astype(np.int64))
    src = torch.rand(len(dst), w)
    index = dst.view(-1, 1).expand(-1, w).contiguous()
    base = torch.zeros(g["nodes"], w)

    def run():
        with torch.no_grad():
            base.scatter_add(0, index, src).numpy()

    return run


def gcn(layout):
    def setup(spec, g):
        G = spec["GRAPH"]
        n = g["nodes"]
        idx = torch.from_numpy(np.stack([g["adj_rows"], g["adj_cols"]]).astype(np.int64))
        adj = torch.sparse_coo_tensor(idx, torch.from_numpy(g["adj_vals"]), (n, n)).coalesce()
        if layout == "csr":
            adj = adj.to_sparse_csr()
        x = torch.rand(n, G["features"])
        w1 = (torch.randn(G["features"], G["hidden"]) * math.sqrt(2 / (G["features"] + G["hidden"]))).requires_grad_()
        b1 = torch.zeros(G["hidden"], requires_grad=True)
        w2 = (torch.randn(G["hidden"], G["classes"]) * math.sqrt(2 / (G["hidden"] + G["classes"]))).requires_grad_()
        b2 = torch.zeros(G["classes"], requires_grad=True)
        params = [w1, b1, w2, b2]
        train = torch.from_numpy(g["train"].astype(np.int64))
        target = torch.from_numpy(g["labels"].astype(np.int64))[train]

        def run():
            h = torch.relu(torch.sparse.mm(adj, x @ w1) + b1)
            z = torch.sparse.mm(adj, h @ w2) + b2
            backward_and_read(F.nll_loss(F.log_softmax(z, -1)[train], target), params)

        return run

    return setup


def gat_layer(x, src, dst, n, w, att_src, att_dst, bias, heads, out, slope):
    """One GAT layer in plain torch (as PyG's GATConv): x W per head, edge logits, softmax over each
    node's incoming edges (max-shifted), weighted sum of the sources' features."""
    h = (x @ w).view(n, heads, out)
    a_src = (h * att_src).sum(-1)
    a_dst = (h * att_dst).sum(-1)
    e = F.leaky_relu(a_src[src] + a_dst[dst], slope)
    idx = dst.unsqueeze(1).expand(-1, heads)
    e_max = torch.full((n, heads), -math.inf).scatter_reduce(0, idx, e, reduce="amax", include_self=True)
    p = torch.exp(e - e_max[dst])
    denom = torch.zeros(n, heads).index_add(0, dst, p)
    alpha = p / denom[dst]
    y = torch.zeros(n, heads, out).index_add(0, dst, h[src] * alpha.unsqueeze(-1))
    return y.reshape(n, heads * out) + bias


def gat(spec, g):
    G, A = spec["GRAPH"], spec["GAT"]
    n = g["nodes"]
    loops = torch.arange(n)
    src = torch.cat([torch.from_numpy(g["edge_src"].astype(np.int64)), loops])
    dst = torch.cat([torch.from_numpy(g["edge_dst"].astype(np.int64)), loops])
    x = torch.rand(n, G["features"])
    H, C, K = A["heads"], A["hidden"], G["classes"]

    def glorot(*shape):
        fan = shape[-2] + shape[-1] if len(shape) >= 2 else shape[0]
        return (torch.rand(*shape) * 2 - 1).mul_(math.sqrt(6 / fan)).requires_grad_()

    p1 = [glorot(G["features"], H * C), glorot(1, H, C), glorot(1, H, C), torch.zeros(H * C, requires_grad=True)]
    p2 = [glorot(H * C, K), glorot(1, 1, K), glorot(1, 1, K), torch.zeros(K, requires_grad=True)]
    train = torch.from_numpy(g["train"].astype(np.int64))
    target = torch.from_numpy(g["labels"].astype(np.int64))[train]

    def run():
        h = F.elu(gat_layer(x, src, dst, n, *p1, H, C, A["negativeSlope"]))
        z = gat_layer(h, src, dst, n, *p2, 1, K, A["negativeSlope"])
        backward_and_read(F.nll_loss(F.log_softmax(z, -1)[train], target), p1 + p2)

    return run


def conv(spec):
    c = spec["SHAPES"]["conv"]
    x = torch.rand(c["batch"], c["inChannels"], c["size"], c["size"], requires_grad=True)
    w = (torch.randn(c["outChannels"], c["inChannels"], c["kernel"], c["kernel"]) / 3).requires_grad_()
    b = torch.zeros(c["outChannels"], requires_grad=True)
    upstream = torch.randn(c["batch"], c["outChannels"], c["size"], c["size"])
    params = [x, w, b]

    def run():
        backward_and_read((F.conv2d(x, w, b, padding=c["padding"]) * upstream).sum(), params)

    return run


def mlp(spec):
    m = spec["SHAPES"]["mlp"]
    s = m["sizes"]
    model = torch.nn.Sequential(
        torch.nn.Linear(s[0], s[1]), torch.nn.ReLU(), torch.nn.Linear(s[1], s[2]), torch.nn.ReLU(), torch.nn.Linear(s[2], s[3])
    )
    opt = torch.optim.Adam(model.parameters(), lr=m["lr"])
    x = torch.randn(m["batch"], s[0])
    y = torch.randint(0, s[3], (m["batch"],))

    def run():
        opt.zero_grad(set_to_none=True)
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        loss.item()

    return run


def knn(spec):
    k = spec["SHAPES"]["knn"]
    p = torch.rand(k["clouds"], k["points"], k["dim"])

    def run():
        with torch.no_grad():
            sq = (p * p).sum(-1, keepdim=True)
            d = sq + sq.transpose(1, 2) - 2 * torch.bmm(p, p.transpose(1, 2))
            d.topk(k["k"], dim=-1, largest=False).indices.numpy()

    return run


def workloads(spec, g):
    """Workload id -> list of (variant label, setup returning run)."""
    one = lambda f: [("", f)]
    return {
        "matmul-256": one(lambda: matmul(256)(spec)),
        "matmul-1024": one(lambda: matmul(1024)(spec)),
        "matmul-2048": one(lambda: matmul(2048)(spec)),
        "add-1m": one(lambda: add(spec)),
        "sum-16m": one(lambda: total(spec)),
        "scatter-add": one(lambda: scatter_add(spec, g)),
        "gcn": [
            ("torch.sparse.mm, COO", lambda: gcn("coo")(spec, g)),
            ("torch.sparse.mm, CSR", lambda: gcn("csr")(spec, g)),
        ],
        "gat": [("plain torch (index_add, scatter_reduce amax)", lambda: gat(spec, g))],
        "conv": one(lambda: conv(spec)),
        "mlp": one(lambda: mlp(spec)),
        "knn": one(lambda: knn(spec)),
    }


# ---------------------------------------------------------------- harness (as src/harness.ts)


def time_once(run):
    t0 = time.perf_counter()
    run()
    return (time.perf_counter() - t0) * 1000


def measure(run, o):
    first = time_once(run)
    if first < 1000:
        # at least o.warmup runs, more until o.warmup_s seconds have passed (at most 50), as harness.ts
        spent, i = first, 1
        while i < 50 and (i < o.warmup or spent < o.warmup_s * 1000):
            spent += time_once(run)
            i += 1
    times, spent = [], 0.0
    while len(times) < o.repeats and (not times or spent < o.budget * 1000):
        t = time_once(run)
        times.append(t)
        spent += t
    return first, times


def describe(err):
    message = str(err).strip().split("\n")[0][:300] or type(err).__name__
    unsupported = isinstance(err, Unsupported) or bool(UNSUPPORTED.search(message))
    return ("unsupported" if unsupported else "error"), message


def run_workload(wid, variants, o):
    outcomes = []
    for i, (label, setup) in enumerate(variants):
        if i > 0:
            emit({"type": "start", "workload": wid, "variant": label})  # each formulation gets its own --timeout
        try:
            torch.manual_seed(0)
            first, times = measure(setup(), o)
            outcomes.append({"label": label, "status": "ok", "first": first, "times": times})
        except Exception as err:  # report, go on with the next variant or workload
            status, reason = describe(err)
            outcomes.append({"label": label, "status": status, "reason": reason})
    summaries = [
        {"label": r["label"], "status": "ok", "medianMs": statistics.median(r["times"])}
        if r["status"] == "ok"
        else {"label": r["label"], "status": r["status"], "reason": r["reason"]}
        for r in outcomes
    ]
    extra = {"variants": summaries} if len(variants) > 1 else {}
    ok = [r for r in outcomes if r["status"] == "ok"]
    if ok:
        best = min(ok, key=lambda r: statistics.median(r["times"]))
        msg = {"type": "result", "workload": wid, "status": "ok", "times": best["times"], "firstMs": best["first"]}
        if best["label"]:
            msg["variant"] = best["label"]
        emit({**msg, **extra})
    else:
        status = "error" if any(r["status"] == "error" for r in outcomes) else "unsupported"
        reason = "; ".join((r["label"] + ": " if r["label"] else "") + r["reason"] for r in outcomes)
        emit({"type": "result", "workload": wid, "status": status, "reason": reason, **extra})


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--spec", required=True, help="JSON with GRAPH and SHAPES from src/spec.ts")
    ap.add_argument("--inputs", required=True, help="folder written by src/inputs.ts")
    ap.add_argument("--workloads", default="")
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--warmup-s", type=float, default=1.0)
    ap.add_argument("--budget", type=float, default=10)
    ap.add_argument("--threads", type=int, default=0)
    o = ap.parse_args()
    spec = json.loads(o.spec)
    g = read_inputs(o.inputs)

    default_threads = torch.get_num_threads()
    blas_before = openblas_threads()
    if o.threads > 0:
        torch.set_num_threads(o.threads)
    blas_after = openblas_threads(set_to=o.threads if o.threads > 0 else None)
    config = torch.__config__.show()
    build = {k: v for k, v in re.findall(r"(BLAS_INFO|LAPACK_INFO|USE_MKLDNN|USE_OPENMP)=([^,\s]+)", config)}
    capability = re.search(r"CPU capability usage: (\S+)", config)
    parallel = torch.__config__.parallel_info()
    backend = re.search(r"ATen parallel backend: (.+)", parallel)
    emit(
        {
            "type": "info",
            "info": {
                "library": f"torch {torch.__version__} (python {sys.version.split()[0]}, {sys.executable})",
                "threads": f"torch.get_num_threads() {default_threads} by default, set to {torch.get_num_threads()}"
                + (f"; interop {torch.get_num_interop_threads()}" if hasattr(torch, "get_num_interop_threads") else ""),
                "openblas": "; ".join(f"{b['config']}: {b['threads']} threads" for b in blas_after[:1])
                + (f" (was {blas_before[0]['threads']} before set)" if blas_before else "")
                if blas_after
                else "no OpenBLAS library mapped",
                "parallel": (backend.group(1).strip() if backend else "?") + ", " + ", ".join(f"{k}={v}" for k, v in build.items()),
                "parallelInfo": "; ".join(
                    " ".join(line.split()) for line in parallel.splitlines() if "threads" in line or "concurrency" in line
                ),
                "cpuCapability": capability.group(1) if capability else None,
                "formulations": "GCN: torch.sparse.mm on a coalesced COO or CSR Â (fastest reported); kNN: bmm distances + topk(largest=False)",
            },
        }
    )

    table = workloads(spec, g)
    wanted = [w for w in o.workloads.split(",") if w] or list(table)
    for wid in wanted:
        emit({"type": "start", "workload": wid})
        if wid not in table:
            emit({"type": "result", "workload": wid, "status": "unsupported", "reason": "not available in this system"})
            continue
        run_workload(wid, table[wid], o)
    emit({"type": "done"})


if __name__ == "__main__":
    main()
