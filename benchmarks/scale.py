"""Beyond one machine, measured (docs/scale.md): the price of streaming from a memory-mapped file, and
data-parallel training on 1 against 2 MPI ranks, with an α–β model of the all-reduce for clusters.

    python benchmarks/scale.py stream              # in-memory vs memory-mapped (float32, uint8) vs chunks
    python benchmarks/scale.py mpi                 # compute per step, all-reduce time, 1 vs 2 ranks
    python benchmarks/scale.py all --json benchmarks/scale.json   # both, and the scaling model

Each figure is the minimum of ``--repeats`` runs (the stable one) with the median beside it; the
machine is shared, so medians are noisy. Every process uses one BLAS thread, so 2 ranks use 2 cores
where 1 rank uses one: the comparison is data parallelism, not BLAS threading. The MNIST nets are
those of benchmarks/speed.py: 784-256-128-10 (batch 128) and
784-1024-1024-10 (batch 256), Adam, float32, on the first 8,000 images of mnist10k.npz.
"""

from __future__ import annotations

import os
import sys

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):  # before NumPy loads its BLAS
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import json  # noqa: E402
import shutil  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data" / "mnist10k.npz"
NETS = {"mlp256": {"sizes": [784, 256, 128, 10], "batch": 128},
        "mlp1024": {"sizes": [784, 1024, 1024, 10], "batch": 256}}
#: networks of the model: latency α (s) and bandwidth β (bytes/s) of one link
NETWORKS = {"10 GbE": {"alpha": 50e-6, "beta": 10e9 / 8}, "100 Gb InfiniBand": {"alpha": 2e-6, "beta": 100e9 / 8}}
NODES = [1, 2, 4, 8, 16, 32, 64]


def mnist(n: int = 8000) -> tuple[np.ndarray, np.ndarray]:
    with np.load(DATA) as f:
        return f["images"][:n].reshape(n, -1), f["labels"][:n].astype(np.int64)


def stats(times: list[float]) -> dict[str, float]:
    return {"min": min(times), "median": statistics.median(times)}


# ---------------------------------------------------------------------------------------------
# streaming: the price of out-of-core
# ---------------------------------------------------------------------------------------------
def stream(repeats: int, epochs: int = 1) -> dict[str, Any]:
    import deltaprop as dp

    images, labels = mnist()
    X = (images / np.float32(255)).astype(np.float32)
    folder = Path(tempfile.mkdtemp(prefix="deltaprop-scale-"))
    try:
        np.save(folder / "X.npy", X)
        np.save(folder / "images.npy", images)
        np.save(folder / "y.npy", labels)
        Xm = np.load(folder / "X.npy", mmap_mode="r")
        Um = np.load(folder / "images.npy", mmap_mode="r")
        ym = np.load(folder / "y.npy", mmap_mode="r")
        chunks = [(X[s:s + 1000], labels[s:s + 1000]) for s in range(0, len(X), 1000)]
        sources = {"in memory (float32)": (X, labels), "memory-mapped float32": (Xm, ym),
                   "memory-mapped uint8 (converted per batch)": (Um, ym), "chunks of 1,000 rows": (chunks, None)}
        out: dict[str, Any] = {}
        for name, cfg in NETS.items():
            times: dict[str, list[float]] = {k: [] for k in sources}
            for _ in range(repeats):  # interleaved: a noisy neighbour slows every source alike
                for key, (Xs, ys) in sources.items():
                    model = dp.mlp(cfg["sizes"], activation="relu", output_activation="softmax", seed=0)
                    start = time.perf_counter()
                    model.fit(Xs, ys, epochs=epochs, batch_size=cfg["batch"], seed=0)
                    times[key].append(time.perf_counter() - start)
            base = min(times["in memory (float32)"])
            out[name] = {k: {**stats(v), "samples_per_s": len(X) * epochs / min(v), "relative": min(v) / base}
                         for k, v in times.items()}
        return out
    finally:
        shutil.rmtree(folder, ignore_errors=True)


# ---------------------------------------------------------------------------------------------
# MPI: one rank against two
# ---------------------------------------------------------------------------------------------
def worker(net: str, epochs: int, out: str) -> None:
    """One rank of ``mpiexec -n N python benchmarks/scale.py worker …``: train, then time bare all-reduces."""
    import deltaprop as dp
    from deltaprop.train.distributed import MPIReducer, fit_distributed, world

    comm = world()
    cfg = NETS[net]
    images, labels = mnist()
    X = (images / np.float32(255)).astype(np.float32)
    model = dp.mlp(cfg["sizes"], activation="relu", output_activation="softmax", seed=0)
    model.fit(X[:cfg["batch"]], labels[:cfg["batch"]], epochs=1, batch_size=cfg["batch"])  # warm-up
    model = dp.mlp(cfg["sizes"], activation="relu", output_activation="softmax", seed=0)
    comm.Barrier()
    start = time.perf_counter()
    reducer_seconds = [0.0]
    import deltaprop.train.distributed as dist

    original = dist.MPIReducer.reduce_step

    def timed(self: MPIReducer, *args: Any) -> Any:
        t = time.perf_counter()
        result = original(self, *args)
        reducer_seconds[0] += time.perf_counter() - t
        return result

    dist.MPIReducer.reduce_step = timed  # type: ignore[method-assign]
    fit_distributed(model, X, labels, epochs=epochs, batch_size=cfg["batch"], seed=0)
    total = time.perf_counter() - start
    steps = epochs * -(-len(X) // cfg["batch"])
    # bare all-reduces of the gradient vector (plus 2 slots), after a barrier: the transfer alone
    n_params = model.flat_parameters()[0].size
    buf = np.zeros(n_params + 2, dtype=np.float32)
    from mpi4py import MPI

    bare = []
    for _ in range(5):
        comm.Barrier()
        t = time.perf_counter()
        for _ in range(20):
            comm.Allreduce(MPI.IN_PLACE, buf, op=MPI.SUM)
        bare.append((time.perf_counter() - t) / 20)
    if comm.Get_rank() == 0:
        Path(out).write_text(json.dumps({"seconds": total, "steps": steps, "samples_per_s": len(X) * epochs / total,
                                         "allreduce_in_step_s": reducer_seconds[0] / steps,
                                         "allreduce_bare_s": min(bare), "params": int(n_params)}))


def compute_per_step(net: str, batches: list[int], repeats: int, steps: int = 40) -> dict[int, float]:
    """Seconds per training step (forward, backward, Adam) at each per-rank batch size, one process."""
    import deltaprop as dp
    from deltaprop.train.loop import Trainer

    images, labels = mnist()
    X = (images / np.float32(255)).astype(np.float32)
    out = {}
    for b in batches:
        model = dp.mlp(NETS[net]["sizes"], activation="relu", output_activation="softmax", seed=0)
        trainer = Trainer(model, X, labels, epochs=1000, batch_size=b, seed=0)
        trainer.step()
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            for _ in range(steps):
                trainer.step()
                if trainer.epoch_finished:
                    trainer.end_epoch()
            times.append((time.perf_counter() - start) / steps)
        out[b] = min(times)
    return out


def mpi(repeats: int, epochs: int) -> dict[str, Any]:
    mpiexec = Path(sys.executable).parent / "mpiexec"
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src"))
    out: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as folder:
        for net in NETS:
            runs: dict[str, list[dict[str, float]]] = {"1 rank": [], "2 ranks": []}
            for _ in range(repeats):  # interleaved
                for label, n in (("1 rank", 1), ("2 ranks", 2)):
                    result = Path(folder) / "r.json"
                    subprocess.run([str(mpiexec), "-n", str(n), sys.executable, __file__, "worker", "--net", net,
                                    "--epochs", str(epochs), "--out", str(result)], check=True, env=env)
                    runs[label].append(json.loads(result.read_text()))
            best = {k: min(v, key=lambda r: r["seconds"]) for k, v in runs.items()}
            out[net] = {k: {**r, "median_seconds": statistics.median(x["seconds"] for x in runs[k])}
                        for k, r in best.items()}
            out[net]["speed-up 2 ranks"] = best["1 rank"]["seconds"] / best["2 ranks"]["seconds"]
    return out


# ---------------------------------------------------------------------------------------------
# the α–β model
# ---------------------------------------------------------------------------------------------
def ring_allreduce(p: int, nbytes: float, alpha: float, beta: float) -> float:
    """Ring all-reduce (reduce-scatter + all-gather): 2(p−1) messages of n/p bytes each."""
    return 0.0 if p == 1 else 2 * (p - 1) * alpha + 2 * (p - 1) / p * nbytes / beta


def scaling_model(compute: dict[str, dict[int, float]], params: dict[str, int]) -> dict[str, Any]:
    """t(b) = c0 + c1·b fitted to the measured steps; predictions for 1–64 nodes at the nets' batch sizes."""
    out: dict[str, Any] = {}
    for net, per_batch in compute.items():
        b = np.array(sorted(per_batch), dtype=float)
        t = np.array([per_batch[int(k)] for k in b])
        c1, c0 = np.polyfit(b, t, 1)
        nbytes = 4.0 * (params[net] + 2)
        B = NETS[net]["batch"]
        entry: dict[str, Any] = {"c0_s": c0, "c1_s_per_row": c1, "bytes": nbytes, "global_batch": B, "networks": {}}
        for name, link in NETWORKS.items():
            rows = []
            for p in NODES:
                ar = ring_allreduce(p, nbytes, link["alpha"], link["beta"])
                t1 = c0 + c1 * B
                tp = c0 + c1 * B / p + ar
                weak = (c0 + c1 * B) / (c0 + c1 * B + ar)  # per-rank batch B on every node
                rows.append({"nodes": p, "allreduce_ms": ar * 1e3, "step_ms": tp * 1e3, "speedup": t1 / tp,
                             "efficiency": t1 / tp / p, "weak_efficiency": weak})
            # strong scaling stops paying where one more doubling of the nodes saves less compute
            # (c1·b/2, b the per-rank batch) than it adds all-reduce time: the best p and its b
            best = max((2**k for k in range(0, 11)),
                       key=lambda p: -(c1 * B / p + ring_allreduce(p, nbytes, link["alpha"], link["beta"])))
            ar64 = ring_allreduce(64, nbytes, link["alpha"], link["beta"])
            # weak scaling: the per-rank batch at which a step on 64 nodes is half all-reduce
            b_half = max(0.0, (ar64 - c0) / c1)
            entry["networks"][name] = {"rows": rows, "best_nodes": best, "per_rank_batch_at_best": B / best,
                                       "per_rank_batch_at_50pct_64_nodes": b_half, "allreduce_64_ms": ar64 * 1e3}
        out[net] = entry
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("part", choices=["stream", "mpi", "all", "worker"])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--json", type=Path)
    ap.add_argument("--net", choices=list(NETS))
    ap.add_argument("--out")
    args = ap.parse_args()
    if args.part == "worker":
        worker(args.net, args.epochs, args.out)
        return
    result: dict[str, Any] = {"machine": {"cpus": os.cpu_count(), "python": sys.version.split()[0],
                                          "numpy": np.__version__}}
    if args.part in ("stream", "all"):
        result["stream"] = stream(args.repeats)
        for net, rows in result["stream"].items():
            print(f"\n{net}: one epoch of 8,000 images")
            for key, r in rows.items():
                print(f"  {key:<44} {r['min']:7.3f} s (median {r['median']:.3f})  {r['samples_per_s']:9,.0f} "
                      f"samples/s  ×{r['relative']:.2f}")
    if args.part in ("mpi", "all"):
        result["mpi"] = mpi(args.repeats, args.epochs)
        for net, rows in result["mpi"].items():
            print(f"\n{net}: {args.epochs} epochs, data-parallel")
            for key, r in rows.items():
                if isinstance(r, dict):
                    print(f"  {key:<24} {r['seconds']:7.2f} s (median {r['median_seconds']:.2f})  "
                          f"{r['samples_per_s']:8,.0f} samples/s  all-reduce in step "
                          f"{r['allreduce_in_step_s'] * 1e3:.2f} ms, bare {r['allreduce_bare_s'] * 1e3:.3f} ms")
            print(f"  speed-up with 2 ranks: {rows['speed-up 2 ranks']:.2f}")
        compute = {net: compute_per_step(net, [16, 32, 64, 128, 256], args.repeats) for net in NETS}
        params = {net: result["mpi"][net]["1 rank"]["params"] for net in NETS}
        result["compute_per_step_s"] = compute
        result["model"] = scaling_model(compute, params)
        for net, m in result["model"].items():
            print(f"\n{net}: t(b) = {m['c0_s'] * 1e3:.3f} ms + {m['c1_s_per_row'] * 1e6:.2f} µs·b, "
                  f"{m['bytes'] / 1e6:.2f} MB per all-reduce, global batch {m['global_batch']}")
            for name, n in m["networks"].items():
                print(f"  {name}: fastest on {n['best_nodes']} nodes (per-rank batch "
                      f"{n['per_rank_batch_at_best']:.0f}); per-rank batch at 50% weak efficiency on 64 nodes: "
                      f"{n['per_rank_batch_at_50pct_64_nodes']:.0f}")
                for r in n["rows"]:
                    print(f"    {r['nodes']:>3} nodes  all-reduce {r['allreduce_ms']:7.3f} ms  step "
                          f"{r['step_ms']:7.3f} ms  speed-up {r['speedup']:5.2f}  efficiency {r['efficiency']:5.1%}  "
                          f"weak {r['weak_efficiency']:5.1%}")
    if args.json:
        args.json.write_text(json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    main()
