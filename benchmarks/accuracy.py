"""MNIST accuracy side by side: deltaprop, PyTorch and scikit-learn on the same recipes.

Data: ``mnist10k.npz`` (10,000 real MNIST digits; the first 8,000 train, the last 2,000 test),
pixels scaled to [0, 1] float32. For every recipe and seed, deltaprop builds the network from
the seed; PyTorch starts from a copy of exactly those weights (``nn.Linear`` has the same
(n_out, n_in) layout) and trains with the same loss, optimizer, schedule and batch size;
scikit-learn's ``MLPClassifier`` runs where it can express the recipe. Test accuracy and
training time (fit only, not evaluation) are averaged over the seeds.

  (a) Nielsen ch. 1: 784-30-10 sigmoid, quadratic cost C = 1/2n Σ‖y − a‖², N(0, 1) weights and
      biases, SGD η = 3.0, mini-batch 10, 30 epochs.
  (b) Nielsen ch. 3: 784-100-10 sigmoid, cross-entropy on the sigmoid outputs, N(0, 1/n_in)
      weights, N(0, 1) biases, η = 0.5, L2 λ = 5.0 as λ/n weight decay on weights only
      (n = 8,000), mini-batch 10, 30 epochs.
  (c) modern: 784-256-128-10 ReLU, softmax cross-entropy, Adam 1e-3, batch 128, early stopping
      on a 10% validation split: 5 epochs without a better validation accuracy, best weights
      restored (scikit-learn's rule).
PyTorch draws its mini-batches (and shifts) from the same NumPy generator in the same order as
deltaprop's ``fit``, so the two see identical batches; scikit-learn draws its own.
  (d) deltaprop's best: 784-1024-10 ReLU, dropout 0.3, AdamW, linear warm-up then cosine,
      random ±2-pixel shifts of each training batch (Simard et al. 2003), 40 epochs.

Usage: python benchmarks/accuracy.py [--data PATH] [--seeds 0 1 2] [--recipes a b c d] [--quick]
BLAS and torch use 2 threads each (override with OMP_NUM_THREADS / --threads).
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "2")  # before numpy loads its BLAS: the same thread budget for all three

import argparse  # noqa: E402
import datetime  # noqa: E402
import platform  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402
from collections.abc import Callable  # noqa: E402
from dataclasses import dataclass  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import numpy as np  # noqa: E402

import deltaprop as dp  # noqa: E402
from deltaprop.augment import RandomShift  # noqa: E402
from deltaprop.backend import spawn_seeds  # noqa: E402
from deltaprop.datasets import load_npz_mnist  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
DEFAULT_DATA = REPO / ".." / "shared" / "data" / "mnist10k.npz"
N_TRAIN = 8000


# ---------------------------------------------------------------------------------------------
# the recipes
# ---------------------------------------------------------------------------------------------
@dataclass
class Recipe:
    key: str
    title: str
    build: Callable[[int], dp.Sequential]          # seed → network with its initial weights
    loss: str                                      # "half_sse", "bce" (sigmoid outputs) or "ce" (softmax)
    optimizer: Callable[[], dp.Optimizer]
    batch_size: int
    epochs: int
    schedule: Callable[[], dp.schedules.Schedule] | None = None
    augment: Callable[[], Any] | None = None
    early_stopping: int | None = None              # patience on validation accuracy (10% of the training set)
    sklearn: Callable[[int, int, dp.Sequential], Any] | str = "n/a"  # → MLPClassifier, or the reason why not


def dense_net(sizes: list[int], *, hidden: str, output: str, init: str, bias_init: str, seed: int,
              dropout: float = 0.0) -> dp.Sequential:
    """Dense layers with the given initialisers, each drawn from its own stream of ``seed``."""
    rngs = spawn_seeds(seed, 2 * len(sizes))
    layers: list[dp.Layer] = []
    for k, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        last = k == len(sizes) - 2
        layers.append(dp.Dense(n_in, n_out, init=init, bias_init=bias_init, seed=rngs[k]))
        layers.append(dp.layers.activation(output if last else hidden))
        if dropout and not last:
            layers.append(dp.Dropout(dropout, seed=rngs[len(sizes) + k]))
    return dp.Sequential(layers, seed=rngs[-1])


def sklearn_mlp(**kw: Any) -> Callable[[int, int, dp.Sequential], Any]:
    """An MLPClassifier that starts from ``model``'s initial weights: its private ``_init_coef`` hook
    (called once per layer, in order, with W of shape (n_in, n_out)) is given deltaprop's arrays."""
    def make(seed: int, epochs: int, model: dp.Sequential) -> Any:
        from sklearn.neural_network import MLPClassifier

        clf = MLPClassifier(random_state=seed, max_iter=epochs, **kw)
        initial = [(layer.W.T.copy(), layer.b.copy()) for layer in model.layers if isinstance(layer, dp.Dense)]
        queue = iter(initial)

        def init_coef(fan_in: int, fan_out: int, dtype: Any) -> tuple[np.ndarray, np.ndarray]:
            W, b = next(queue)
            if W.shape != (fan_in, fan_out):
                raise RuntimeError(f"sklearn asked for a ({fan_in}, {fan_out}) layer, deltaprop has {W.shape}.")
            return W.astype(dtype), b.astype(dtype)

        clf._init_coef = init_coef
        clf.deltaprop_init_left = queue
        return clf
    return make


def recipes(quick: bool) -> dict[str, Recipe]:
    e = (lambda full, short: short if quick else full)  # noqa: E731
    d_epochs = e(40, 6)
    return {
        "a": Recipe(
            "a", "Nielsen ch.1: 784-30-10 sigmoid, quadratic cost, N(0,1) init, SGD η=3.0, batch 10, 30 epochs",
            lambda s: dense_net([784, 30, 10], hidden="sigmoid", output="sigmoid", init="normal",
                                bias_init="normal", seed=s),
            "half_sse", lambda: dp.SGD(lr=3.0), 10, e(30, 3),
            sklearn="n/a: MLPClassifier has no quadratic cost for classifiers (log-loss only), a softmax "
                    "output and Glorot init"),
        "b": Recipe(
            "b", "Nielsen ch.3: 784-100-10 sigmoid + cross-entropy, N(0,1/n_in) init, η=0.5, "
                 "L2 λ=5.0 (λ/n on weights), batch 10, 30 epochs",
            lambda s: dense_net([784, 100, 10], hidden="sigmoid", output="sigmoid", init="lecun_normal",
                                bias_init="normal", seed=s),
            "bce", lambda: dp.SGD(lr=0.5, weight_decay=5.0 / N_TRAIN, decay_bias=False), 10, e(30, 3),
            sklearn="n/a: MLPClassifier uses a softmax output (not per-class sigmoids + binary cross-entropy) "
                    "and Glorot init"),
        "c": Recipe(
            "c", "modern: 784-256-128-10 ReLU, softmax CE, Adam 1e-3, batch 128, early stopping (patience 5)",
            lambda s: dp.mlp([784, 256, 128, 10], activation="relu", output_activation="softmax", seed=s),
            "ce", lambda: dp.Adam(lr=1e-3), 128, e(50, 4), early_stopping=5,
            # sklearn stops after n_iter_no_change + 1 epochs without a better validation accuracy
            sklearn=sklearn_mlp(hidden_layer_sizes=(256, 128), activation="relu", solver="adam",
                                learning_rate_init=1e-3, batch_size=128, alpha=0.0, early_stopping=True,
                                validation_fraction=0.1, n_iter_no_change=4)),
        "d": Recipe(
            "d", f"best: 784-1024-10 ReLU, dropout 0.3, AdamW 2e-3 (wd 0.05), warm-up 3 + cosine, "
                 f"±2 px shifts, batch 128, {d_epochs} epochs",
            lambda s: dense_net([784, 1024, 10], hidden="relu", output="softmax", init="he_uniform",
                                bias_init="zeros", seed=s, dropout=0.3),
            "ce", lambda: dp.AdamW(lr=2e-3, weight_decay=0.05), 128, d_epochs,
            schedule=lambda: dp.LinearWarmup(3, start_factor=0.1, then=dp.CosineAnnealingLR(d_epochs - 3)),
            augment=lambda: RandomShift(2),
            sklearn="n/a: MLPClassifier has no dropout, decoupled weight decay, warm-up schedule or "
                    "augmentation hook"),
    }


DP_LOSS = {"half_sse": lambda: dp.HalfSSE(reduction="mean"),
           "bce": lambda: dp.BinaryCrossEntropy(reduction="mean"),
           "ce": lambda: dp.CategoricalCrossEntropy(reduction="mean")}


def validation_split(seed: int, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The same seeded, stratified 90/10 split of the training set for deltaprop and PyTorch.

    Stratified (each digit in the same proportion on both sides) as scikit-learn's own
    ``early_stopping`` split is, so that all three stop on validation sets drawn the same way."""
    rng = np.random.default_rng([seed, 10])
    val: list[np.ndarray] = []
    for label in np.unique(y):
        rows = rng.permutation(np.flatnonzero(y == label))
        val.append(rows[: round(len(rows) / 10)])
    vi = np.sort(np.concatenate(val))
    return np.setdiff1d(np.arange(len(y)), vi), vi


def lr_per_epoch(recipe: Recipe, base_lr: float) -> list[float]:
    """The learning rate of every epoch, from deltaprop's own schedule object (so torch uses the same)."""
    if recipe.schedule is None:
        return [base_lr] * recipe.epochs
    sched = recipe.schedule()
    return [sched.start(base_lr)] + [sched.step() for _ in range(recipe.epochs - 1)]


# ---------------------------------------------------------------------------------------------
# the three trainers
# ---------------------------------------------------------------------------------------------
def run_deltaprop(recipe: Recipe, model: dp.Sequential, data: Any, seed: int) -> tuple[float, float]:
    (Xtr, ytr), (Xte, yte) = data
    kw: dict[str, Any] = {}
    if recipe.early_stopping:
        ti, vi = validation_split(seed, ytr)
        Xtr, ytr, kw["validation_data"] = Xtr[ti], ytr[ti], (Xtr[vi], ytr[vi])
        kw["callbacks"] = [dp.EarlyStopping("val_accuracy", patience=recipe.early_stopping)]
        kw["metrics"] = ["accuracy"]
    if recipe.schedule is not None:
        kw["lr_schedule"] = recipe.schedule()
    if recipe.augment is not None:
        kw["augment"] = recipe.augment()
    t0 = time.perf_counter()
    model.fit(Xtr, ytr, loss=DP_LOSS[recipe.loss](), optimizer=recipe.optimizer(), epochs=recipe.epochs,
              batch_size=recipe.batch_size, seed=seed, **kw)
    seconds = time.perf_counter() - t0
    return float(np.mean(model.predict_classes(Xte) == yte)), seconds


def run_torch(recipe: Recipe, model: dp.Sequential, data: Any, seed: int) -> tuple[float, float]:
    import torch
    import torch.nn.functional as F  # noqa: N812
    from torch import nn

    torch.manual_seed(seed)
    (Xtr, ytr), (Xte, yte) = data
    modules: list[nn.Module] = []
    for i, layer in enumerate(model.layers):
        last = i == len(model.layers) - 1
        if isinstance(layer, dp.Dense):
            lin = nn.Linear(layer.n_in, layer.n_out)
            with torch.no_grad():
                lin.weight.copy_(torch.from_numpy(layer.W.copy()))
                lin.bias.copy_(torch.from_numpy(layer.b.copy()))
            modules.append(lin)
        elif isinstance(layer, dp.Dropout):
            modules.append(nn.Dropout(layer.p))
        elif last and recipe.loss in ("bce", "ce"):
            pass  # the loss takes the logits (sigmoid/softmax fused into it, as in deltaprop)
        else:
            modules.append({"sigmoid": nn.Sigmoid, "relu": nn.ReLU}[layer.name]())
    net = nn.Sequential(*modules)

    opt_dp = recipe.optimizer()
    weights = [p for name, p in net.named_parameters() if name.endswith("weight")]
    biases = [p for name, p in net.named_parameters() if name.endswith("bias")]
    bias_decay = opt_dp.weight_decay if opt_dp.decay_bias else 0.0
    groups = [{"params": weights, "weight_decay": opt_dp.weight_decay},
              {"params": biases, "weight_decay": bias_decay}]
    if isinstance(opt_dp, dp.AdamW):
        opt = torch.optim.AdamW(groups, lr=opt_dp.lr, betas=opt_dp.betas, eps=opt_dp.eps)
    elif isinstance(opt_dp, dp.Adam):
        opt = torch.optim.Adam(groups, lr=opt_dp.lr, betas=opt_dp.betas, eps=opt_dp.eps)
    else:
        opt = torch.optim.SGD(groups, lr=opt_dp.lr, momentum=opt_dp.momentum)

    def loss_fn(out: torch.Tensor, yb: torch.Tensor) -> torch.Tensor:
        m = len(yb)
        if recipe.loss == "ce":
            return F.cross_entropy(out, yb)
        Y = F.one_hot(yb, 10).to(out.dtype)
        if recipe.loss == "bce":
            return F.binary_cross_entropy_with_logits(out, Y, reduction="sum") / m
        return 0.5 * ((out - Y) ** 2).sum() / m

    Xtr_t, ytr_t = torch.from_numpy(Xtr), torch.from_numpy(ytr.astype(np.int64))
    val = None
    if recipe.early_stopping:
        ti, vi = validation_split(seed, ytr)
        val = (Xtr_t[vi], ytr_t[vi])
        Xtr_t, ytr_t = Xtr_t[ti], ytr_t[ti]
    augment = recipe.augment() if recipe.augment is not None else None
    # the batches deltaprop's fit draws: one generator from the seed, a permutation per epoch,
    # then the augmentation of each batch in turn, so both libraries see the same batches
    rng = np.random.default_rng(seed)
    lrs = lr_per_epoch(recipe, opt_dp.lr)
    n, bs = len(Xtr_t), recipe.batch_size
    best, best_state, wait = float("inf"), None, 0
    t0 = time.perf_counter()
    for epoch in range(recipe.epochs):
        for group in opt.param_groups:
            group["lr"] = lrs[epoch]
        net.train()
        order = torch.from_numpy(rng.permutation(n))
        for start in range(0, n, bs):
            idx = order[start:start + bs]
            xb = Xtr_t[idx]
            if augment is not None:
                xb = torch.from_numpy(augment(xb.numpy(), rng))
            opt.zero_grad(set_to_none=True)
            loss_fn(net(xb), ytr_t[idx]).backward()
            opt.step()
        if val is not None:
            net.eval()
            with torch.no_grad():
                v = -float((net(val[0]).argmax(dim=1) == val[1]).double().mean())  # −accuracy: lower is better
            if v < best:
                best, wait = v, 0
                best_state = {k: t.clone() for k, t in net.state_dict().items()}
            else:
                wait += 1
                if wait >= recipe.early_stopping:  # type: ignore[operator]
                    break
    if best_state is not None:
        net.load_state_dict(best_state)
    seconds = time.perf_counter() - t0
    net.eval()
    with torch.no_grad():
        pred = net(torch.from_numpy(Xte)).argmax(dim=1).numpy()
    return float(np.mean(pred == yte)), seconds


def run_sklearn(recipe: Recipe, model: dp.Sequential, data: Any, seed: int) -> tuple[float, float]:
    from sklearn.exceptions import ConvergenceWarning

    (Xtr, ytr), (Xte, yte) = data
    clf = recipe.sklearn(seed, recipe.epochs, model)  # type: ignore[operator]
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(Xtr, ytr)
    seconds = time.perf_counter() - t0
    if next(clf.deltaprop_init_left, None) is not None or len(clf.coefs_) != sum(
            isinstance(layer, dp.Dense) for layer in model.layers):
        raise RuntimeError("scikit-learn did not take deltaprop's initial weights (its _init_coef hook changed?).")
    return float(clf.score(Xte, yte)), seconds


# ---------------------------------------------------------------------------------------------
# the report
# ---------------------------------------------------------------------------------------------
def summary(results: list[tuple[float, float]]) -> str:
    acc = np.array([r[0] for r in results]) * 100
    sec = np.array([r[1] for r in results])
    spread = f" ± {acc.std(ddof=1):.2f}" if len(acc) > 1 else ""
    return f"{acc.mean():.2f}{spread} | {sec.mean():.1f} s"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="mnist10k.npz (images, labels)")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--recipes", nargs="+", default=["a", "b", "c", "d"], choices=["a", "b", "c", "d"])
    parser.add_argument("--frameworks", nargs="+", default=["deltaprop", "torch", "sklearn"],
                        choices=["deltaprop", "torch", "sklearn"])
    parser.add_argument("--quick", action="store_true", help="a few epochs per recipe: a smoke test, not results")
    parser.add_argument("--threads", type=int, default=2, help="torch.set_num_threads (BLAS: OMP_NUM_THREADS)")
    args = parser.parse_args(argv)

    import sklearn
    import torch

    torch.set_num_threads(args.threads)
    data = load_npz_mnist(args.data, n_train=N_TRAIN)
    (Xtr, _), (Xte, _) = data
    print(f"# deltaprop {dp.__version__}, torch {torch.__version__}, scikit-learn {sklearn.__version__}, "
          f"numpy {np.__version__}")
    print(f"# {platform.platform()}, {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs; "
          f"torch threads {torch.get_num_threads()}, OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS')}")
    print(f"# {datetime.datetime.now().isoformat(timespec='minutes')}; data {args.data.name}: "
          f"{len(Xtr)} train / {len(Xte)} test; seeds {args.seeds}{'; QUICK' if args.quick else ''}")
    book = recipes(args.quick)
    rows = []
    for key in args.recipes:
        recipe = book[key]
        runs: dict[str, list[tuple[float, float]]] = {"deltaprop": [], "torch": [], "sklearn": []}
        for seed in args.seeds:
            if "deltaprop" in args.frameworks:
                runs["deltaprop"].append(run_deltaprop(recipe, recipe.build(seed), data, seed))
            if "torch" in args.frameworks:
                runs["torch"].append(run_torch(recipe, recipe.build(seed), data, seed))
            if "sklearn" in args.frameworks and callable(recipe.sklearn):
                runs["sklearn"].append(run_sklearn(recipe, recipe.build(seed), data, seed))
            per_seed = {k: f"{v[-1][0] * 100:.2f}% {v[-1][1]:.1f}s" for k, v in runs.items() if v}
            print(f"#   ({key}) seed {seed}: {per_seed}", flush=True)
        cells = [summary(runs[k]) if runs[k] else "– | –" for k in ("deltaprop", "torch")]
        if callable(recipe.sklearn):
            cells.append(summary(runs["sklearn"]) if runs["sklearn"] else "– | –")
        else:
            cells.append(f"{recipe.sklearn} | –")
        rows.append(f"| ({key}) {recipe.title} | {' | '.join(cells)} |")
    print("\nTest accuracy (mean ± std over the seeds) and training time (mean per run):\n")
    print("| recipe | deltaprop acc % | time | PyTorch acc % | time | scikit-learn acc % | time |")
    print("|---|---|---|---|---|---|---|")
    print("\n".join(rows))


if __name__ == "__main__":
    main()
