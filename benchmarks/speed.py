"""Speed and memory of deltaprop against PyTorch (eager, CPU), scikit-learn, a hand-written NumPy loop
and the matrix-multiply limit, measured side by side in one run.

    python benchmarks/speed.py                      # all workloads, 7 interleaved repeats
    python benchmarks/speed.py --repeats 3 --json speed.json --only xor,mlp256
    python benchmarks/speed.py --memory             # add peak tracemalloc / RSS per implementation
    python benchmarks/speed.py --only cold,latency  # fresh-process import + fit; predict at 1/64/10,000 rows
    python benchmarks/speed.py --fused-cost         # measure the cost model that decides when numba loads
    python benchmarks/speed.py --only mlp256 --breakdown   # each stage of a training step, timed inside the fit

Every implementation does the same work (same architecture, batch size, number of steps, float32,
the same thread count). "GEMMs alone" is NumPy float32 doing only the matrix products one training
step needs — forward Z = A Wᵀ, dW = δᵀ A, and δ W for every layer but the first — summed over the
run, each written into a preallocated output (``out=``) as the tightest loop would: no MLP library
built on NumPy's BLAS can be faster than that ("gemm (columns)" is the same products in the
textbook's column layout, for comparison; in the latency tables "gemm" is predict's products alone).
Repeats are interleaved (implementation A, B, C, then again) so that a noisy neighbour slows all of
them alike. Every table gives the minimum of the
repeats (the stable estimate on a shared machine: neighbours only add time; targets are judged on
it) and the median.

"deltaprop" runs with the numba kernels loaded (``DELTAPROP_FUSED=1``, as in a process that has
trained long enough for them to pay); "deltaprop (no numba)" runs NumPy's passes only
(``DELTAPROP_FUSED=0``, the default install without the ``fast`` extra).
"""

from __future__ import annotations

import argparse
import os
import sys

# thread settings must be fixed before NumPy (and its BLAS) is imported
_threads = "2"
for _i, _arg in enumerate(sys.argv):
    if _arg == "--threads" and _i + 1 < len(sys.argv):
        _threads = sys.argv[_i + 1]
    elif _arg.startswith("--threads="):
        _threads = _arg.split("=", 1)[1]
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = _threads

import json  # noqa: E402
import platform  # noqa: E402
import resource  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import time  # noqa: E402
import tracemalloc  # noqa: E402
import warnings  # noqa: E402
from collections.abc import Callable  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import numpy as np  # noqa: E402

import deltaprop as dp  # noqa: E402
from deltaprop.seed import XOR_X, XOR_Y, seed_initial_weights  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = ROOT.parent / "shared" / "data" / "mnist10k.npz"
F32 = np.float32


# ----------------------------------------------------------------------------------------------
# data and workloads
# ----------------------------------------------------------------------------------------------
def load_mnist(path: Path) -> tuple[np.ndarray, np.ndarray]:
    with np.load(path) as f:
        X = f["images"][:8000].reshape(8000, -1).astype(F32) / 255.0
        y = f["labels"][:8000].astype(np.int64)
    return X, y


WORKLOADS: dict[str, dict[str, Any]] = {
    "xor": {"title": "seed XOR, 2-2-1 sigmoid, SGD 0.1, 10,000 full-batch epochs", "sizes": [2, 2, 1]},
    "mlp256": {"title": "784-256-128-10 ReLU, Adam, batch 128, 5 epochs × 8,000", "sizes": [784, 256, 128, 10],
               "batch": 128, "epochs": 5, "optimizer": "adam"},
    "mlp1024": {"title": "784-1024-1024-10 ReLU, Adam, batch 256, 2 epochs × 8,000",
                "sizes": [784, 1024, 1024, 10], "batch": 256, "epochs": 2, "optimizer": "adam"},
    "batch1": {"title": "784-256-128-10 ReLU, SGD 0.01, batch 1, 2,000 steps", "sizes": [784, 256, 128, 10],
               "batch": 1, "epochs": 1, "n": 2000, "optimizer": "sgd"},
    "predict": {"title": "784-256-128-10 prediction, 10,000 samples", "sizes": [784, 256, 128, 10]},
    "cold": {"title": "cold start: a fresh process imports the library and fits (20-64-3 on 1,000 rows; seed XOR)"},
    "latency": {"title": "prediction latency, 784-256-128-10, float32, per call", "sizes": [784, 256, 128, 10],
                "rows": [1, 64, 10_000]},
}


def initial_weights(sizes: list[int], seed: int = 0) -> list[tuple[np.ndarray, np.ndarray]]:
    """He-uniform weights and zero biases, shared by every implementation of a workload."""
    rng = np.random.default_rng(seed)
    out = []
    for n_in, n_out in zip(sizes[:-1], sizes[1:]):
        r = np.sqrt(6.0 / n_in)
        out.append((rng.uniform(-r, r, (n_out, n_in)).astype(F32), np.zeros(n_out, F32)))
    return out


# ----------------------------------------------------------------------------------------------
# deltaprop
# ----------------------------------------------------------------------------------------------
def dp_model(sizes: list[int], weights: list[tuple[np.ndarray, np.ndarray]], hidden: str, output: str):
    layers: list[dp.Layer] = []
    for k, (W, b) in enumerate(weights):
        layers += [dp.Dense(sizes[k], sizes[k + 1], init=W, bias_init=b),
                   dp.layers.activation(output if k == len(weights) - 1 else hidden)]
    return dp.Sequential(layers, seed=0)


def dp_xor() -> Callable[[], Any]:
    w = seed_initial_weights()
    X, Y = XOR_X.astype(F32), XOR_Y.astype(F32)

    def run() -> Any:
        model = dp_model([2, 2, 1], [(w["0.W"], w["0.b"]), (w["2.W"], w["2.b"])], "sigmoid", "sigmoid")
        model.fit(X, Y, loss=dp.HalfSSE(reduction="sum"), optimizer=dp.SGD(lr=0.1), epochs=10_000, shuffle=False)
        return model

    return run


class NoUpdate(dp.SGD):
    """An optimizer that counts steps and changes nothing: what the training loop costs without one."""

    def step(self, model: Any, grads: Any = None) -> None:
        self.t += 1


def fused_mode(flag: str, run: Callable[[], Any]) -> Callable[[], Any]:
    """``run`` with ``DELTAPROP_FUSED`` set to ``flag`` while it runs ("1": numba kernels, "0": NumPy only)."""

    def wrapped() -> Any:
        old = os.environ.get("DELTAPROP_FUSED")
        os.environ["DELTAPROP_FUSED"] = flag
        try:
            return run()
        finally:
            if old is None:
                del os.environ["DELTAPROP_FUSED"]
            else:
                os.environ["DELTAPROP_FUSED"] = old

    return wrapped


def dp_train(cfg: dict[str, Any], X: np.ndarray, y: np.ndarray, fused: str = "1") -> Callable[[], Any]:
    weights = initial_weights(cfg["sizes"])
    make_opt = {"adam": lambda: dp.Adam(lr=1e-3), "sgd": lambda: dp.SGD(lr=0.01), "none": lambda: NoUpdate(lr=0.01)}

    def run() -> Any:
        model = dp_model(cfg["sizes"], weights, "relu", "softmax")
        opt = make_opt[cfg["optimizer"]]()
        model.fit(X, y, loss="cross_entropy", optimizer=opt, epochs=cfg["epochs"], batch_size=cfg["batch"])
        return model

    return fused_mode(fused, run)


def dp_predict(X: np.ndarray) -> Callable[[], Any]:
    model = dp_model([784, 256, 128, 10], initial_weights([784, 256, 128, 10]), "relu", "softmax")
    return lambda: model.predict(X)


# ----------------------------------------------------------------------------------------------
# hand-written NumPy (what a careful person writes in an afternoon)
# ----------------------------------------------------------------------------------------------
def numpy_xor() -> Callable[[], Any]:
    w = seed_initial_weights()
    inputs, outputs = XOR_X.astype(F32), XOR_Y.astype(F32)

    def sigmoid(x):
        return 1 / (1 + np.exp(-x))

    def run() -> Any:
        w_ih, w_ho = w["0.W"].T.astype(F32), w["2.W"].T.astype(F32)
        b_h, b_o = w["0.b"][None, :].astype(F32), w["2.b"][None, :].astype(F32)
        lr = F32(0.1)
        for _ in range(10_000):
            h = sigmoid(inputs @ w_ih + b_h)
            o = sigmoid(h @ w_ho + b_o)
            d_o = (outputs - o) * o * (1 - o)
            d_h = (d_o @ w_ho.T) * h * (1 - h)
            w_ho += h.T @ d_o * lr
            w_ih += inputs.T @ d_h * lr
            b_o += d_o.sum(axis=0, keepdims=True) * lr
            b_h += d_h.sum(axis=0, keepdims=True) * lr
        return w_ih

    return run


def numpy_train(cfg: dict[str, Any], X: np.ndarray, y: np.ndarray) -> Callable[[], Any]:
    weights = initial_weights(cfg["sizes"])
    Y = np.eye(10, dtype=F32)[y]

    def run() -> Any:
        Ws = [W.copy() for W, _ in weights]
        bs = [b.copy() for _, b in weights]
        params = [p for pair in zip(Ws, bs) for p in pair]
        m = [np.zeros_like(p) for p in params]
        v = [np.zeros_like(p) for p in params]
        rng = np.random.default_rng(0)
        t = 0
        n, batch = len(X), cfg["batch"]
        for _ in range(cfg["epochs"]):
            order = rng.permutation(n)
            for s in range(0, n, batch):
                idx = order[s:s + batch]
                A = [X[idx]]
                for k in range(len(Ws)):
                    Z = A[-1] @ Ws[k].T + bs[k]
                    A.append(np.maximum(Z, 0) if k < len(Ws) - 1 else Z)
                Z = A[-1]
                P = np.exp(Z - Z.max(axis=1, keepdims=True))
                P /= P.sum(axis=1, keepdims=True)
                D = (P - Y[idx]) / len(idx)
                grads = []
                for k in range(len(Ws) - 1, -1, -1):
                    grads = [D.T @ A[k], D.sum(axis=0), *grads]
                    if k > 0:
                        D = (D @ Ws[k]) * (A[k] > 0)
                t += 1
                for p, g, mi, vi in zip(params, grads, m, v):
                    if cfg["optimizer"] == "sgd":
                        p -= 0.01 * g
                        continue
                    mi *= 0.9
                    mi += 0.1 * g
                    vi *= 0.999
                    vi += 0.001 * g * g
                    p -= (1e-3 / (1 - 0.9**t)) * mi / (np.sqrt(vi / (1 - 0.999**t)) + 1e-8)
        return Ws

    return run


def numpy_predict(X: np.ndarray) -> Callable[[], Any]:
    weights = initial_weights([784, 256, 128, 10])

    def run() -> Any:
        A = X
        for k, (W, b) in enumerate(weights):
            A = A @ W.T + b
            if k < len(weights) - 1:
                np.maximum(A, 0, out=A)
        P = np.exp(A - A.max(axis=1, keepdims=True))
        return P / P.sum(axis=1, keepdims=True)

    return run


# ----------------------------------------------------------------------------------------------
# the matrix-multiply limit
# ----------------------------------------------------------------------------------------------
def gemm_train(cfg: dict[str, Any], n: int, *, columns: bool = False) -> Callable[[], Any]:
    """Only the GEMMs of training: per step Z = A Wᵀ, dW = δᵀ A for every layer, δ W for all but the first.

    ``columns=True`` does the same products in the textbook's column layout (one column per sample):
    zᵀ = W aᵀ, dW = δᵀ (aᵀ)ᵀ, Wᵀ δᵀ. deltaprop keeps rows (as torch.nn.Linear does); that row shows what
    the other layout's GEMMs cost with this BLAS, for comparison only (no target is judged against it)."""
    sizes, batch = cfg["sizes"], cfg["batch"]
    rng = np.random.default_rng(0)
    Ws = [rng.standard_normal((o, i), dtype=F32) for i, o in zip(sizes[:-1], sizes[1:])]
    batch_sizes = [min(batch, n - s) for s in range(0, n, batch)] * cfg["epochs"]

    def shape(m: int, width: int) -> tuple[int, int]:
        return (width, m) if columns else (m, width)

    acts = {m: [rng.standard_normal(shape(m, s), dtype=F32) for s in sizes] for m in set(batch_sizes)}
    # every product writes into an output allocated once, as the tightest possible loop would
    outs = {m: {"z": [np.empty(shape(m, o), F32) for o in sizes[1:]],
                "da": [np.empty(shape(m, i), F32) for i in sizes[:-1]]} for m in set(batch_sizes)}
    dWs = [np.empty_like(W) for W in Ws]

    def run() -> Any:
        for m in batch_sizes:
            A, out = acts[m], outs[m]
            for k, W in enumerate(Ws):
                np.matmul(W, A[k], out=out["z"][k]) if columns else np.matmul(A[k], W.T, out=out["z"][k])
            for k in range(len(Ws) - 1, -1, -1):
                np.matmul(A[k + 1], A[k].T, out=dWs[k]) if columns else np.matmul(A[k + 1].T, A[k], out=dWs[k])
                if k > 0:
                    if columns:
                        np.matmul(Ws[k].T, A[k + 1], out=out["da"][k])
                    else:
                        np.matmul(A[k + 1], Ws[k], out=out["da"][k])
        return None

    return run


def gemm_predict(X: np.ndarray) -> Callable[[], Any]:
    weights = initial_weights([784, 256, 128, 10])

    outs = [np.empty((len(X), W.shape[0]), F32) for W, _ in weights]

    def run() -> Any:
        A = X
        for (W, _), out in zip(weights, outs):
            A = np.matmul(A, W.T, out=out)
        return A

    return run


# ----------------------------------------------------------------------------------------------
# PyTorch eager (CPU)
# ----------------------------------------------------------------------------------------------
def torch_net(sizes, weights, hidden, output):
    import torch

    mods: list[Any] = []
    for k, (W, b) in enumerate(weights):
        lin = torch.nn.Linear(sizes[k], sizes[k + 1])
        with torch.no_grad():
            lin.weight.copy_(torch.from_numpy(W))
            lin.bias.copy_(torch.from_numpy(b))
        mods.append(lin)
        act = output if k == len(weights) - 1 else hidden
        if act == "relu":
            mods.append(torch.nn.ReLU())
        elif act == "sigmoid":
            mods.append(torch.nn.Sigmoid())
    return torch.nn.Sequential(*mods)


def torch_xor() -> Callable[[], Any]:
    import torch

    w = seed_initial_weights()
    X, Y = torch.from_numpy(XOR_X.astype(F32)), torch.from_numpy(XOR_Y.astype(F32))

    def run() -> Any:
        net = torch_net([2, 2, 1], [(w["0.W"].astype(F32), w["0.b"].astype(F32)),
                                    (w["2.W"].astype(F32), w["2.b"].astype(F32))], "sigmoid", "sigmoid")
        opt = torch.optim.SGD(net.parameters(), lr=0.1)
        for _ in range(10_000):
            opt.zero_grad()
            loss = 0.5 * ((net(X) - Y) ** 2).sum()
            loss.backward()
            opt.step()
        return net

    return run


def torch_train(cfg: dict[str, Any], X: np.ndarray, y: np.ndarray) -> Callable[[], Any]:
    import torch

    weights = initial_weights(cfg["sizes"])
    Xt, yt = torch.from_numpy(X), torch.from_numpy(y)

    def run() -> Any:
        net = torch_net(cfg["sizes"], weights, "relu", "identity")
        opt = (torch.optim.Adam(net.parameters(), lr=1e-3) if cfg["optimizer"] == "adam"
               else torch.optim.SGD(net.parameters(), lr=0.01))
        gen = torch.Generator().manual_seed(0)
        n, batch = len(Xt), cfg["batch"]
        for _ in range(cfg["epochs"]):
            order = torch.randperm(n, generator=gen)
            for s in range(0, n, batch):
                idx = order[s:s + batch]
                opt.zero_grad()
                loss = torch.nn.functional.cross_entropy(net(Xt[idx]), yt[idx])
                loss.backward()
                opt.step()
        return net

    return run


def torch_predict(X: np.ndarray) -> Callable[[], Any]:
    import torch

    net = torch_net([784, 256, 128, 10], initial_weights([784, 256, 128, 10]), "relu", "identity")
    Xt = torch.from_numpy(X)

    def run() -> Any:
        with torch.no_grad():
            return torch.softmax(net(Xt), dim=1).numpy()

    return run


# ----------------------------------------------------------------------------------------------
# scikit-learn
# ----------------------------------------------------------------------------------------------
def sklearn_xor() -> Callable[[], Any]:
    from sklearn.neural_network import MLPRegressor

    def run() -> Any:
        est = MLPRegressor(hidden_layer_sizes=(2,), activation="logistic", solver="sgd", learning_rate_init=0.1,
                           momentum=0.0, alpha=0.0, batch_size=4, max_iter=10_000, tol=0.0,
                           n_iter_no_change=10**9, shuffle=False, random_state=0)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            est.fit(XOR_X.astype(F32), XOR_Y[:, 0].astype(F32))
        return est

    return run


def sklearn_train(cfg: dict[str, Any], X: np.ndarray, y: np.ndarray) -> Callable[[], Any]:
    from sklearn.neural_network import MLPClassifier

    def run() -> Any:
        est = MLPClassifier(hidden_layer_sizes=tuple(cfg["sizes"][1:-1]), activation="relu",
                            solver=cfg["optimizer"], learning_rate_init=1e-3 if cfg["optimizer"] == "adam" else 0.01,
                            momentum=0.0, alpha=0.0, batch_size=cfg["batch"], max_iter=cfg["epochs"], tol=0.0,
                            n_iter_no_change=10**9, shuffle=True, random_state=0)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            est.fit(X, y)
        return est

    return run


def sklearn_predict(X: np.ndarray, y: np.ndarray) -> Callable[[], Any]:
    from sklearn.neural_network import MLPClassifier

    est = MLPClassifier(hidden_layer_sizes=(256, 128), max_iter=1, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        est.fit(X[:500], y[:500])
    return lambda: est.predict_proba(X)


# ----------------------------------------------------------------------------------------------
# cold start: a fresh process imports the library and fits
# ----------------------------------------------------------------------------------------------
_TABULAR = ("import numpy as np\nrng = np.random.default_rng(0)\n"
            "X = rng.normal(size=(1000, 20)).astype(np.float32)\ny = (X @ rng.normal(size=(20, 3))).argmax(axis=1)\n")
_XOR = ("import numpy as np\nX = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], np.float32)\n"
        "Y = np.array([[0], [1], [1], [0]], np.float32)\n")
#: (task, implementation) → the program a fresh process runs: the same data, net, optimizer, batch size
#: and number of epochs for everyone (Adam 1e-3, batch 200, 50 epochs; XOR: SGD 0.1, 10,000 full-batch epochs)
COLD: dict[tuple[str, str], str] = {
    ("20-64-3", "deltaprop"): _TABULAR + (
        "import deltaprop as dp\nm = dp.mlp([20, 64, 3], activation='relu', output_activation='softmax', seed=0)\n"
        "m.fit(X, y, optimizer=dp.Adam(1e-3), epochs=50, batch_size=200, seed=0)\n"),
    ("20-64-3", "sklearn"): _TABULAR + (
        "import warnings\nfrom sklearn.neural_network import MLPClassifier\nwarnings.simplefilter('ignore')\n"
        "MLPClassifier(hidden_layer_sizes=(64,), activation='relu', solver='adam', learning_rate_init=1e-3,"
        " batch_size=200, max_iter=50,"
        " tol=0.0, n_iter_no_change=10**9, random_state=0).fit(X, y)\n"),
    ("20-64-3", "torch"): _TABULAR + (
        "import torch\ntorch.manual_seed(0)\n"
        "net = torch.nn.Sequential(torch.nn.Linear(20, 64), torch.nn.ReLU(), torch.nn.Linear(64, 3))\n"
        "opt = torch.optim.Adam(net.parameters(), lr=1e-3)\nXt, yt = torch.from_numpy(X), torch.from_numpy(y)\n"
        "for _ in range(50):\n    for idx in torch.randperm(1000).split(200):\n"
        "        opt.zero_grad()\n        torch.nn.functional.cross_entropy(net(Xt[idx]), yt[idx]).backward()\n"
        "        opt.step()\n"),
    ("seed XOR", "deltaprop"): _XOR + (
        "import deltaprop as dp\nm = dp.mlp([2, 2, 1], activation='sigmoid', output_activation='sigmoid', seed=0)\n"
        "m.fit(X, Y, loss=dp.HalfSSE(reduction='sum'), optimizer=dp.SGD(lr=0.1), epochs=10_000, shuffle=False)\n"),
    ("seed XOR", "sklearn"): _XOR + (
        "import warnings\nfrom sklearn.neural_network import MLPRegressor\nwarnings.simplefilter('ignore')\n"
        "MLPRegressor(hidden_layer_sizes=(2,), activation='logistic', solver='sgd', learning_rate_init=0.1,"
        " momentum=0.0, alpha=0.0,"
        " batch_size=4, max_iter=10_000, tol=0.0, n_iter_no_change=10**9, shuffle=False, random_state=0)"
        ".fit(X, Y[:, 0])\n"),
    ("seed XOR", "torch"): _XOR + (
        "import torch\ntorch.manual_seed(0)\n"
        "net = torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.Sigmoid(), torch.nn.Linear(2, 1),\n"
        "                          torch.nn.Sigmoid())\n"
        "opt = torch.optim.SGD(net.parameters(), lr=0.1)\nXt, Yt = torch.from_numpy(X), torch.from_numpy(Y)\n"
        "for _ in range(10_000):\n    opt.zero_grad()\n    (0.5 * ((net(Xt) - Yt) ** 2).sum()).backward()\n"
        "    opt.step()\n"),
    ("python alone", "python"): "pass\n",
}


def cold_start(impls: list[str], repeats: int) -> dict[str, list[float]]:
    """Wall-clock seconds of each fresh process in ``COLD`` (interleaved), with this run's threads;
    deltaprop's processes run with the environment's ``DELTAPROP_FUSED`` (by default the cost model)."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in (str(ROOT / "src"), os.environ.get("PYTHONPATH"))
                                                       if p)}
    torch_threads = f"import torch\ntorch.set_num_threads({int(os.environ['OMP_NUM_THREADS'])})\n"
    runs = {f"{task}: {impl}": (torch_threads + code if impl == "torch" else code)
            for (task, impl), code in COLD.items() if impl in impls or impl == "python"}
    times: dict[str, list[float]] = {name: [] for name in runs}
    for _ in range(repeats):
        for name, code in runs.items():
            t0 = time.perf_counter()
            subprocess.run([sys.executable, "-c", code], env=env, check=True)
            times[name].append(time.perf_counter() - t0)
    return times


# ----------------------------------------------------------------------------------------------
# prediction latency: one call on 1, 64 or 10,000 rows
# ----------------------------------------------------------------------------------------------
def latency_runs(rows: int, impls: list[str]) -> dict[str, Callable[[], Any]]:
    """One prediction call per implementation on the same rows (softmax outputs everywhere):
    deltaprop's ``predict``, onnxruntime on deltaprop's ONNX export, PyTorch under ``no_grad``."""
    sizes = WORKLOADS["latency"]["sizes"]
    model = dp_model(sizes, initial_weights(sizes), "relu", "softmax")
    X = np.random.default_rng(rows).random((rows, sizes[0]), dtype=F32)
    runs: dict[str, Callable[[], Any]] = {"deltaprop": lambda: model.predict(X)}
    if "onnxruntime" in impls:
        import onnxruntime as ort

        from deltaprop.io.onnx import export

        opts = ort.SessionOptions()
        opts.intra_op_num_threads, opts.inter_op_num_threads = int(os.environ["OMP_NUM_THREADS"]), 1
        session = ort.InferenceSession(export(model, None).SerializeToString(), opts,
                                       providers=["CPUExecutionProvider"])
        runs["onnxruntime"] = lambda: session.run(None, {"input": X})[0]
    if "torch" in impls:
        import torch

        net = torch.nn.Sequential(torch_net(sizes, initial_weights(sizes), "relu", "identity"), torch.nn.Softmax(1))
        net.eval()
        Xt = torch.from_numpy(X)

        def torch_run() -> Any:
            with torch.no_grad():
                return net(Xt).numpy()

        runs["torch"] = torch_run
    if "gemm" in impls:
        runs["gemm"] = products_alone(model, X)
    return runs


def products_alone(model: Any, X: np.ndarray) -> Callable[[], Any]:
    """The floor of a prediction with NumPy's BLAS: only the matrix products, into outputs allocated once,
    in the layout deltaprop's predict chose for this many rows (W Xᵀ where the column layout gives the
    same bits, X Wᵀ after that), with nothing else: no checks, biases, activations or Python layers."""
    model.predict(X)  # decides the layout for this many rows
    weights = [layer.W for layer in model.layers if isinstance(layer, dp.Dense)]
    columns = model._plan.columns[len(X)]
    n = len(X)
    outs = [np.empty((W.shape[0], n) if k < columns else (n, W.shape[0]), F32) for k, W in enumerate(weights)]
    if n == 1:
        outs = [o.reshape(-1) if k < columns else o for k, o in enumerate(outs)]

    def run() -> Any:
        a = X.reshape(-1) if n == 1 else X.T
        for k, (W, out) in enumerate(zip(weights, outs)):
            if k < columns:
                a = np.dot(W, a, out=out)
            else:
                if k == columns and k:
                    a = np.ascontiguousarray(a.T) if n > 1 else a.reshape(1, -1)
                a = np.matmul(a if k else X, W.T, out=out)
        return a

    return run


def latency(rows: int, impls: list[str], repeats: int, burst_s: float = 0.4) -> dict[str, list[float]]:
    """Seconds of each call, over ``repeats`` interleaved rounds of a burst of calls per implementation.

    Bursts of ``burst_s`` seconds, not single calls, are interleaved: each library's threads keep
    spinning for up to a few hundred milliseconds after a call (OpenMP in PyTorch, onnxruntime's pool,
    OpenBLAS), and slow down whatever runs next on the same cores; the minimum per call comes from
    the part of a burst after the previous library's threads have gone to sleep."""
    runs = latency_runs(rows, impls)
    for fn in runs.values():
        for _ in range(5):  # warm-up: first-call setup, caches, buffers
            fn()
    times: dict[str, list[float]] = {name: [] for name in runs}
    for _ in range(repeats):
        for name, fn in runs.items():
            start = time.perf_counter()
            while True:
                t0 = time.perf_counter()
                fn()
                t1 = time.perf_counter()
                times[name].append(t1 - t0)
                if t1 - start > burst_s:
                    break
    return times


# ----------------------------------------------------------------------------------------------
# the cost model behind deltaprop.optim.fused: when loading numba pays
# ----------------------------------------------------------------------------------------------
def fused_cost(repeats: int) -> dict[str, Any]:
    """What loading the numba kernels costs in a fresh process, and what each kernel saves per element
    over NumPy's passes (the constants ``LOAD_COST_S`` and ``GAIN_NS_PER_ELEMENT`` of optim/fused.py)."""
    from deltaprop.optim import fused
    from deltaprop.optim.optimizers import adam_step

    code = ("import time, numpy as np\nt0 = time.perf_counter()\nfrom deltaprop.optim import fused\n"
            "w = np.ones(fused.MIN_SIZE, np.float32)\n"
            "fused.adam(w, w.copy(), w.copy(), w.copy(), beta1=0.9, beta2=0.999, eps=1e-8, step=1e-3)\n"
            "fused.relu_backward(w, w)\nfused.relu_backward(w, w, out=w)\nprint(time.perf_counter() - t0)\n")
    env = {**os.environ, "DELTAPROP_FUSED": "1", "PYTHONPATH": str(ROOT / "src")}
    loads = [float(subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                                  check=True).stdout) for _ in range(max(3, repeats // 2))]
    fused.available()
    rng = np.random.default_rng(0)
    out: dict[str, Any] = {"load_s": loads, "adam": {}, "relu_backward": {}}

    def best(fn: Callable[[], Any], flag: str, n: int) -> float:
        with_flag = fused_mode(flag, fn)
        calls = max(20, min(2000, 50_000_000 // max(n, 1) // 100))
        return min(timeit(with_flag, calls))

    for n in (4096, 65_536, 235_146, 1_863_690):
        w, g, m, v = (rng.random(n, dtype=F32) for _ in range(4))
        s = np.empty_like(w)

        def adam(w=w, g=g, m=m, v=v, s=s) -> None:  # type: ignore[no-untyped-def]
            adam_step(w, g, m, v, t=5, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8, scratch=s)

        t_numpy, t_kernel = best(adam, "0", n), best(adam, "1", n)
        out["adam"][n] = {"numpy_us": t_numpy * 1e6, "kernel_us": t_kernel * 1e6,
                          "gain_ns_per_element": (t_numpy - t_kernel) / n * 1e9}
    for shape in ((200, 64), (128, 256), (256, 1024)):
        a = np.maximum(rng.normal(size=shape), 0).astype(F32)
        da = rng.normal(size=shape).astype(F32)
        n = a.size

        def relu(da=da, a=a) -> None:  # type: ignore[no-untyped-def]
            fused.relu_backward(da, a, out=da)

        t_numpy, t_kernel = best(relu, "0", n), best(relu, "1", n)
        out["relu_backward"][f"{shape[0]}x{shape[1]}"] = {"numpy_us": t_numpy * 1e6, "kernel_us": t_kernel * 1e6,
                                                          "gain_ns_per_element": (t_numpy - t_kernel) / n * 1e9}
    return out


def timeit(fn: Callable[[], Any], calls: int) -> list[float]:
    fn()
    times = []
    for _ in range(calls):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return times


# ----------------------------------------------------------------------------------------------
# the harness
# ----------------------------------------------------------------------------------------------
IMPLS = ["deltaprop", "deltaprop (no numba)", "numpy", "torch", "sklearn", "onnxruntime", "gemm", "gemm (columns)"]


def build(workload: str, impl: str, data: tuple[np.ndarray, np.ndarray]) -> Callable[[], Any] | None:
    X, y = data
    cfg = WORKLOADS[workload]
    if workload == "xor":
        return {"deltaprop": dp_xor, "numpy": numpy_xor, "torch": torch_xor, "sklearn": sklearn_xor}.get(
            impl, lambda: None)()
    if workload == "predict":
        Xp = np.concatenate([X, X[:2000]])  # 10,000 samples
        return {"deltaprop": lambda: dp_predict(Xp), "numpy": lambda: numpy_predict(Xp),
                "torch": lambda: torch_predict(Xp), "sklearn": lambda: sklearn_predict(Xp, np.r_[y, y[:2000]]),
                "gemm": lambda: gemm_predict(Xp)}.get(impl, lambda: None)()
    n = cfg.get("n", len(X))
    Xw, yw = X[:n], y[:n]
    return {"deltaprop": lambda: dp_train(cfg, Xw, yw), "deltaprop (no numba)": lambda: dp_train(cfg, Xw, yw, "0"),
            "numpy": lambda: numpy_train(cfg, Xw, yw),
            "torch": lambda: torch_train(cfg, Xw, yw), "sklearn": lambda: sklearn_train(cfg, Xw, yw),
            "gemm": lambda: gemm_train(cfg, n), "gemm (columns)": lambda: gemm_train(cfg, n, columns=True)}.get(
        impl, lambda: None)()


def available(impl: str) -> bool:
    try:
        if impl == "torch":
            import torch

            torch.set_num_threads(int(os.environ["OMP_NUM_THREADS"]))
        elif impl == "sklearn":
            import sklearn  # noqa: F401
        elif impl == "onnxruntime":
            import onnx  # noqa: F401
            import onnxruntime  # noqa: F401
    except ImportError:
        return False
    return True


def time_workload(workload: str, impls: list[str], data, repeats: int) -> dict[str, list[float]]:
    runs = {impl: fn for impl in impls if (fn := build(workload, impl, data)) is not None}
    return time_interleaved(runs, repeats)


def time_interleaved(runs: dict[str, Callable[[], Any]], repeats: int) -> dict[str, list[float]]:
    """Seconds of each run, after one warm-up each, with the repeats interleaved (A, B, C, A, B, C, …)."""
    for fn in runs.values():  # warm-up: imports, JIT compilation, caches
        fn()
    times: dict[str, list[float]] = {name: [] for name in runs}
    for _ in range(repeats):
        for name, fn in runs.items():
            t0 = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - t0)
    return times


def blas_info() -> str:
    try:
        from threadpoolctl import threadpool_info

        libs = [f"{i.get('internal_api')} {i.get('version')} ({i.get('num_threads')} threads)"
                for i in threadpool_info() if i.get("user_api") == "blas"]
        if libs:
            return "; ".join(libs)
    except ImportError:
        pass
    cfg = np.show_config(mode="dicts") if hasattr(np, "show_config") else {}
    blas = cfg.get("Build Dependencies", {}).get("blas", {}) if isinstance(cfg, dict) else {}
    return f"{blas.get('name', '?')} {blas.get('version', '')}"


def memory_of(workload: str, impl: str, data_path: Path) -> dict[str, float]:
    """Peak tracemalloc (NumPy and Python allocations) of one run after a warm-up run, and the peak
    RSS of the whole process (both runs, imports included), in a fresh process."""
    code = (f"import sys; sys.argv=['speed.py', '--threads', '{os.environ['OMP_NUM_THREADS']}'];"
            f"sys.path.insert(0, {str(Path(__file__).parent)!r});"
            f"import speed; print(speed._memory_child({workload!r}, {impl!r}, {str(data_path)!r}))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def peak_rss_mb() -> float:
    """This process's peak resident set size (VmHWM). Not ``ru_maxrss``: on Linux that survives
    fork + exec, so a child would report its parent's peak."""
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux, bytes on macOS


def _memory_child(workload: str, impl: str, data_path: str) -> str:
    data = load_mnist(Path(data_path))
    fn = build(workload, impl, data)
    assert fn is not None
    fn()  # warm-up: imports, compiled kernels and caches are loaded once per process, not per fit
    tracemalloc.start()
    fn()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return json.dumps({"tracemalloc_peak_mb": peak / 2**20, "peak_rss_mb": peak_rss_mb()})


def fit_memory_budget(data_path: Path) -> dict[str, float]:
    """The issue's bound for fit on mnist10k (784-256-128-10, batch 128): tracemalloc peak ≤ one
    float32 copy of the data + 3× parameter bytes + 4× one batch's activations + 10 MB."""
    with np.load(data_path) as f:
        raw = f["images"][:8000].reshape(8000, -1)  # uint8: fit converts it once
        y = f["labels"][:8000].astype(np.int64)
    sizes = [784, 256, 128, 10]
    model = dp.mlp(sizes, activation="relu", output_activation="softmax", seed=0)
    param_bytes = sum(p.nbytes for p in model.parameters().values())
    batch_act = 128 * sum(sizes) * 4 * 2  # z and a per layer
    copy_bytes = raw.size * 4
    dp.mlp(sizes, seed=0).fit(raw[:256], y[:256], optimizer="adam", epochs=1)  # load compiled kernels first
    tracemalloc.start()
    model.fit(raw, y, optimizer="adam", epochs=1, batch_size=128)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    bound = copy_bytes + 3 * param_bytes + 4 * batch_act + 10 * 2**20
    return {"peak_mb": peak / 2**20, "bound_mb": bound / 2**20, "data_copy_mb": copy_bytes / 2**20,
            "within": bool(peak <= bound)}


# the targets: (workload, description, ratio function of the minima, bound, "le" | "ge")
TARGETS = [
    ("cold", "20-64-3 process: deltaprop / scikit-learn ≤ 0.5",
     lambda m: m["20-64-3: deltaprop"] / m["20-64-3: sklearn"], 0.5, "le"),
    ("latency 1", "deltaprop / onnxruntime ≤ 1.25", lambda m: m["deltaprop"] / m["onnxruntime"], 1.25, "le"),
    ("latency 1", "deltaprop / PyTorch < 1", lambda m: m["deltaprop"] / m["torch"], 1.0, "lt"),
    ("latency 64", "deltaprop / onnxruntime ≤ 1.25", lambda m: m["deltaprop"] / m["onnxruntime"], 1.25, "le"),
    ("latency 64", "deltaprop / PyTorch < 1", lambda m: m["deltaprop"] / m["torch"], 1.0, "lt"),
    ("latency 10000", "deltaprop / PyTorch < 1", lambda m: m["deltaprop"] / m["torch"], 1.0, "lt"),
    ("mlp256", "deltaprop (numba) / GEMMs alone ≤ 1.25", lambda m: m["deltaprop"] / m["gemm"], 1.25, "le"),
    ("mlp256", "deltaprop (no numba) / GEMMs alone ≤ 1.45", lambda m: m["deltaprop (no numba)"] / m["gemm"], 1.45,
     "le"),
    ("mlp256", "PyTorch / deltaprop ≥ 1.5 (throughput)", lambda m: m["torch"] / m["deltaprop"], 1.5, "ge"),
    ("mlp256", "scikit-learn / deltaprop ≥ 1.5 (throughput)", lambda m: m["sklearn"] / m["deltaprop"], 1.5, "ge"),
    ("mlp1024", "deltaprop (numba) / GEMMs alone ≤ 1.12", lambda m: m["deltaprop"] / m["gemm"], 1.12, "le"),
    ("xor", "deltaprop / hand-written NumPy ≤ 1.5", lambda m: m["deltaprop"] / m["numpy"], 1.5, "le"),
    ("xor", "PyTorch / deltaprop ≥ 4", lambda m: m["torch"] / m["deltaprop"], 4.0, "ge"),
    ("predict", "PyTorch / deltaprop ≥ 1 (throughput)", lambda m: m["torch"] / m["deltaprop"], 1.0, "ge"),
]


def check_targets(minima: dict[str, dict[str, float]]) -> list[dict[str, Any]]:
    """Each target whose workload and implementations were measured in this run, met or not."""
    rows = []
    for workload, what, ratio, bound, sense in TARGETS:
        try:
            value = ratio(minima[workload])
        except KeyError:
            continue
        met = value <= bound if sense == "le" else value < bound if sense == "lt" else value >= bound
        rows.append({"workload": workload, "target": what, "value": value, "met": met})
    return rows


def optimizer_cost(workload: str, data: tuple[np.ndarray, np.ndarray], repeats: int) -> dict[str, float]:
    """deltaprop's fit with no update, with SGD and with Adam, interleaved with the GEMMs alone:
    median seconds of each, and each as a multiple of the GEMMs (what the optimizer adds)."""
    cfg = WORKLOADS[workload]
    runs = {f"deltaprop, {name}": dp_train({**cfg, "optimizer": name}, *data) for name in ("none", "sgd", "adam")}
    runs["gemm"] = gemm_train(cfg, len(data[0]))
    med = {name: statistics.median(t) for name, t in time_interleaved(runs, repeats).items()}
    return {**{f"{k} s": v for k, v in med.items()}, **{f"{k} × GEMMs": v / med["gemm"] for k, v in med.items()}}


def breakdown(workload: str, data: tuple[np.ndarray, np.ndarray], repeats: int) -> dict[str, Any]:
    """Where each training step's time goes, from timers inside deltaprop's fit (no profiler): the GEMMs
    themselves, each element-wise stage, the optimizer, the batch gathering and the rest, in µs per step,
    from the fastest of ``repeats`` fits, interleaved with the GEMMs alone.

    The timers replace Dense's passes and wrap the other stages, so this measures the unfused path: the
    model fuses + b with the ReLU above and the ReLU's δ with the bias gradient only for deltaprop's own
    passes (their separate gains are in docs/performance.md)."""
    from deltaprop.nn import layers, model
    from deltaprop.optim import optimizers
    from deltaprop.train import batches

    times: dict[str, float] = {}
    clock = time.perf_counter

    def add(key: str, seconds: float) -> None:
        times[key] = times.get(key, 0.0) + seconds

    def forward(self, a_prev, training=True):  # type: ignore[no-untyped-def]
        self.a_prev = a_prev
        t0 = clock()
        z = a_prev @ self._W.T
        t1 = clock()
        z += self._b
        add("GEMMs", t1 - t0)
        add("bias adds", clock() - t1)
        return z

    def backward(self, delta, *, input_grad=True):  # type: ignore[no-untyped-def]
        t0 = clock()
        np.matmul(delta.T, self.a_prev, out=self.dW)
        t1 = clock()
        np.add.reduce(delta, axis=0, out=self.db)
        t2 = clock()
        out = delta @ self._W if input_grad else None
        add("GEMMs", t1 - t0 + clock() - t2)
        add("bias gradients (column sums)", t2 - t1)
        return out

    def timed(cls: Any, name: str, key: str) -> tuple[Any, str, Any]:
        original = getattr(cls, name)

        def wrapper(*args, **kwargs):  # type: ignore[no-untyped-def]
            t0 = clock()
            result = original(*args, **kwargs)
            add(key, clock() - t0)
            return result

        setattr(cls, name, wrapper)
        return cls, name, original

    patched = [(layers.Dense, "forward", layers.Dense.forward), (layers.Dense, "backward", layers.Dense.backward)]
    layers.Dense.forward, layers.Dense.backward = forward, backward  # type: ignore[method-assign]
    patched += [timed(layers.ReLU, "forward", "ReLU forward"), timed(layers.ReLU, "backward", "ReLU backward"),
                timed(layers.Softmax, "forward", "softmax"),
                timed(model.Sequential, "output_delta", "loss value and output delta"),
                timed(optimizers.Optimizer, "step", "optimizer (Adam)"),
                timed(batches.ArrayBatches, "part", "gathering the batch")]
    try:
        runs = {"deltaprop": build(workload, "deltaprop", data), "gemm": build(workload, "gemm", data)}
        for fn in runs.values():
            fn()  # type: ignore[misc]
        best: tuple[float, float, dict[str, float]] | None = None
        for _ in range(repeats):
            times.clear()
            t0 = clock()
            runs["deltaprop"]()  # type: ignore[misc]
            total = clock() - t0
            t0 = clock()
            runs["gemm"]()  # type: ignore[misc]
            gemm = clock() - t0
            if best is None or total < best[0]:
                best = (total, gemm, dict(times))
    finally:
        for cls, name, original in patched:
            setattr(cls, name, original)
    assert best is not None
    total, gemm, stages = best
    cfg = WORKLOADS[workload]
    steps = -(-len(data[0][:cfg.get("n", len(data[0]))]) // cfg["batch"]) * cfg["epochs"]
    per_step = {k: v / steps * 1e6 for k, v in sorted(stages.items(), key=lambda kv: -kv[1])}
    per_step["the rest (the loop, building the model, checks)"] = (total - sum(stages.values())) / steps * 1e6
    return {"fit_s": total, "gemm_alone_s": gemm, "steps": steps, "us_per_step": per_step}


def profile_fit(workload: str, data: tuple[np.ndarray, np.ndarray]) -> list[tuple[str, float]]:
    """Where deltaprop's fit spends its time: cProfile's own time per function, grouped into stages."""
    import cProfile
    import pstats

    run = build(workload, "deltaprop", data)
    assert run is not None
    run()  # warm-up
    profiler = cProfile.Profile()
    profiler.runcall(run)
    # ufunc calls (np.matmul(out=), np.maximum, …) are not profiled separately: their time counts
    # for the function that calls them. Method calls (np.add.reduce, ndarray.take) are listed apart.
    code = {(c.co_filename, c.co_firstlineno, c.co_name): label for c, label in [
        (dp.layers.Dense.forward.__code__, "Dense.forward: z = a Wᵀ (GEMM) + b"),
        (dp.layers.Dense.backward.__code__, "Dense.backward: dW = δᵀ a, δ W (GEMMs), db = Σ δ")]}
    totals: dict[str, float] = {}
    for (file, line, fn), (_, _, tottime, _, _) in pstats.Stats(profiler).stats.items():  # type: ignore[attr-defined]
        name = Path(file).name
        if (file, line, fn) in code:
            label = code[(file, line, fn)]
        elif name == "optimizers.py" or (name == "fused_numba.py" and fn == "adam"):
            label = "optimizer update (Adam)"
        elif name in ("layers.py", "activations.py", "fused.py", "fused_numba.py"):
            label = "activations (ReLU, softmax) and their derivatives"
        elif "take" in fn:
            label = "gathering shuffled batches (np.take)"
        elif "reduce" in fn:
            label = "reductions (db = Σ δ, softmax's max and sum)"
        elif name == "losses.py":
            label = "loss value and output delta"
        else:
            label = "everything else (Python loop, reductions, bookkeeping)"
        totals[label] = totals.get(label, 0.0) + tottime
    return sorted(totals.items(), key=lambda kv: -kv[1])


def report(name: str, workload: str, times: dict[str, list[float]]) -> dict[str, Any]:
    """Print one workload's table (minimum first) and return its numbers."""
    low = {impl: min(t) for impl, t in times.items()}
    title = WORKLOADS[workload]["title"] + (f", {name.split()[-1]} rows" if workload == "latency" else "")
    entry: dict[str, Any] = {"title": title, "impls": {}}
    unit, scale = ("µs", 1e6) if workload == "latency" else ("s", 1.0)
    print(f"### {title}\n")
    print(f"| implementation | min {unit} | median {unit} | max {unit} | × GEMMs alone (min) "
          "| deltaprop speed-up (min) |")
    print("|---|---:|---:|---:|---:|---:|")
    for impl, t in times.items():
        med = statistics.median(t)
        entry["impls"][impl] = {"min_s": low[impl], "median_s": med, "max_s": max(t), "repeats": len(t)}
        limit = f"{low[impl] / low['gemm']:.2f}" if "gemm" in low else "–"
        speedup = f"{low[impl] / low['deltaprop']:.2f}×" if "deltaprop" in low else "–"
        print(f"| {impl} | {low[impl] * scale:.4g} | {med * scale:.4g} | {max(t) * scale:.4g} | {limit} | {speedup} |")
    print()
    return entry


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", default="2", help="BLAS/OpenMP/torch threads for everyone (default 2)")
    parser.add_argument("--repeats", type=int, default=7, help="interleaved timed repeats (default 7)")
    parser.add_argument("--only", default=",".join(WORKLOADS),
                        help="comma-separated workloads: " + ", ".join(WORKLOADS))
    parser.add_argument("--impls", default=",".join(IMPLS), help="comma-separated implementations")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="mnist10k.npz")
    parser.add_argument("--memory", action="store_true", help="also measure peak memory per implementation")
    parser.add_argument("--json", type=Path, help="write all numbers to this JSON file")
    parser.add_argument("--optimizer-cost", action="store_true",
                        help="also time deltaprop's fit with no update, SGD and Adam against the GEMMs alone")
    parser.add_argument("--fused-cost", action="store_true",
                        help="also measure the cost model that decides when the numba kernels load")
    parser.add_argument("--breakdown", action="store_true",
                        help="also time each stage of deltaprop's training step from inside the fit (µs per step)")
    parser.add_argument("--profile", action="store_true",
                        help="also show where deltaprop's fit spends its time on the MNIST workloads (cProfile)")
    args = parser.parse_args()

    impls = [i for i in args.impls.split(",") if available(i)]
    data = load_mnist(args.data)
    try:
        import torch

        torch_version = torch.__version__
    except ImportError:
        torch_version = "not installed"
    env = {"python": platform.python_version(), "numpy": np.__version__, "deltaprop": dp.__version__,
           "torch": torch_version, "threads": args.threads, "blas": blas_info(), "cpu": platform.processor() or
           platform.machine(), "repeats": args.repeats,
           "date": time.strftime("%Y-%m-%d %H:%M")}
    print("## deltaprop speed benchmark\n")
    print(" · ".join(f"{k}: {v}" for k, v in env.items()), "\n")
    results: dict[str, Any] = {"env": env, "workloads": {}}
    for workload in args.only.split(","):
        if workload == "cold":
            measured = {"cold": cold_start(impls, args.repeats)}
        elif workload == "latency":
            measured = {f"latency {rows}": latency(rows, impls, args.repeats) for rows in WORKLOADS[workload]["rows"]}
        else:
            measured = {workload: time_workload(workload, impls, data, args.repeats)}
        for name, times in measured.items():
            results["workloads"][name] = report(name, workload, times)
    minima = {w: {i: v["min_s"] for i, v in e["impls"].items()} for w, e in results["workloads"].items()}
    medians = {w: {i: v["median_s"] for i, v in e["impls"].items()} for w, e in results["workloads"].items()}
    results["targets"] = check_targets(minima)
    results["targets_by_median"] = check_targets(medians)
    if results["targets"]:
        print("### Targets (judged on the minima of this run; the medians' figure for comparison)\n")
        print("| workload | target | min | met | median | met |")
        print("|---|---|---:|---|---:|---|")
        for row, by_median in zip(results["targets"], results["targets_by_median"]):
            print(f"| {row['workload']} | {row['target']} | {row['value']:.2f} | {'yes' if row['met'] else 'NO'} "
                  f"| {by_median['value']:.2f} | {'yes' if by_median['met'] else 'NO'} |")
        print()
    if args.breakdown:
        results["breakdown"] = {}
        for workload in [w for w in args.only.split(",") if w in ("mlp256", "mlp1024")]:
            parts = results["breakdown"][workload] = breakdown(workload, data, args.repeats)
            print(f"### Each step of deltaprop's fit, timed from inside: {WORKLOADS[workload]['title']} "
                  f"(fastest of {args.repeats} fits, unfused path)\n")
            print(f"fit {parts['fit_s']:.4f} s, GEMMs alone {parts['gemm_alone_s']:.4f} s "
                  f"({parts['fit_s'] / parts['gemm_alone_s']:.2f}×), {parts['steps']} steps\n")
            print("| stage | µs per step | × the GEMMs alone |")
            print("|---|---:|---:|")
            gemm_step = parts["gemm_alone_s"] / parts["steps"] * 1e6
            for label, us in parts["us_per_step"].items():
                print(f"| {label} | {us:.1f} | {us / gemm_step:.3f} |")
            print()
    if args.profile:
        results["profile"] = {}
        for workload in [w for w in args.only.split(",") if w in ("mlp256", "mlp1024")]:
            rows = profile_fit(workload, data)
            total = sum(t for _, t in rows)
            gemm = medians.get(workload, {}).get("gemm")
            results["profile"][workload] = dict(rows)
            print(f"### Where deltaprop's time goes: {WORKLOADS[workload]['title']} (cProfile, one run)\n")
            print("| stage | s | share |")
            print("|---|---:|---:|")
            for label, t in rows:
                print(f"| {label} | {t:.4f} | {t / total:.0%} |")
            note = f"; GEMMs alone, measured above: {gemm:.4f} s" if gemm else ""
            print(f"\ntotal {total:.4f} s under the profiler{note}\n")
    if args.optimizer_cost:
        results["optimizer_cost"] = {}
        for workload in [w for w in args.only.split(",") if w in ("mlp256", "mlp1024")]:
            cost = optimizer_cost(workload, data, args.repeats)
            results["optimizer_cost"][workload] = cost
            print(f"### What the optimizer adds: {WORKLOADS[workload]['title']} (medians of {args.repeats})\n")
            print("| run | median s | × GEMMs alone |")
            print("|---|---:|---:|")
            for name in ("deltaprop, none", "deltaprop, sgd", "deltaprop, adam", "gemm"):
                print(f"| {name} | {cost[name + ' s']:.4f} | {cost[name + ' × GEMMs']:.2f} |")
            print()
    if args.fused_cost:
        cost = results["fused_cost"] = fused_cost(args.repeats)
        print("### When the numba kernels pay (the cost model of deltaprop.optim.fused)\n")
        print(f"loading numba and the cached kernels in a fresh process: min {min(cost['load_s']):.3f} s, "
              f"median {statistics.median(cost['load_s']):.3f} s\n")
        print("| kernel | elements | NumPy µs | kernel µs | saved ns per element |")
        print("|---|---:|---:|---:|---:|")
        for kernel in ("adam", "relu_backward"):
            for size, row in cost[kernel].items():
                print(f"| {kernel} | {size} | {row['numpy_us']:.1f} | {row['kernel_us']:.1f} | "
                      f"{row['gain_ns_per_element']:.2f} |")
        print()
    if args.memory:
        print("### Peak memory per implementation (fresh process each)\n")
        print("| workload | implementation | tracemalloc peak MB (second run) | peak RSS MB (process) |")
        print("|---|---|---:|---:|")
        results["memory"] = {}
        for workload in [w for w in args.only.split(",") if w not in ("cold", "latency")]:
            for impl in impls:
                if impl in ("gemm", "gemm (columns)", "onnxruntime", "deltaprop (no numba)"):
                    continue
                mem = memory_of(workload, impl, args.data)
                results["memory"][f"{workload}/{impl}"] = mem
                print(f"| {workload} | {impl} | {mem['tracemalloc_peak_mb']:.1f} | {mem['peak_rss_mb']:.0f} |")
        budget = fit_memory_budget(args.data)
        results["fit_memory_budget"] = budget
        print(f"\nfit on mnist10k (uint8 input, 784-256-128-10, batch 128): tracemalloc peak "
              f"{budget['peak_mb']:.1f} MB, bound {budget['bound_mb']:.1f} MB (one float32 copy of the data = "
              f"{budget['data_copy_mb']:.1f} MB) → {'within' if budget['within'] else 'OVER'} the bound\n")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
