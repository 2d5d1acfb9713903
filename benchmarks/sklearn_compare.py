"""deltaprop.sklearn versus sklearn.neural_network, matched settings, over seeds.

Suites (``--suites``, all by default):

- ``defaults``: scikit-learn's bundled data sets with its default parameters (one hidden layer of
  100 ReLU units, Adam with lr 0.001, alpha 1e-4, batch_size min(200, n), max_iter 200, tol 1e-4,
  n_iter_no_change 10). Both get the same pipeline (StandardScaler on X; for regression also on y,
  through TransformedTargetRegressor) and the same random_state.
- ``lbfgs``: iris, wine and breast_cancer with ``solver="lbfgs"`` (scikit-learn's choice for small
  data sets), otherwise the defaults.
- ``multilabel``: ``make_multilabel_classification`` (an indicator matrix y), adam and lbfgs;
  the metric is subset accuracy (``score``).
- ``sparse``: one-hot-encoded categorical data (``OneHotEncoder`` → a CSR matrix with one nonzero
  per categorical column), a hidden layer of 32 units, adam, 20 epochs. Besides accuracy and fit
  time it reports memory: the input's bytes and the fit's peak allocation (tracemalloc) for
  deltaprop on the sparse matrix and on the same matrix densified.

Each seed draws its own 75/25 split (stratified for single-label classification) and is the
random_state of both estimators. Reported: mean ± standard deviation over the seeds of the test
score, the paired difference deltaprop − scikit-learn, iterations run and fit time.

    .venv/bin/python benchmarks/sklearn_compare.py --seeds 10 > /tmp/sklearn_compare.md
"""

from __future__ import annotations

import argparse
import gc
import platform
import time
import tracemalloc
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import sklearn
from sklearn.compose import TransformedTargetRegressor
from sklearn.datasets import (
    load_breast_cancer,
    load_diabetes,
    load_digits,
    load_iris,
    load_wine,
    make_friedman1,
    make_multilabel_classification,
)
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPClassifier as SkClassifier
from sklearn.neural_network import MLPRegressor as SkRegressor
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

import deltaprop
from deltaprop.sklearn import MLPClassifier as DpClassifier
from deltaprop.sklearn import MLPRegressor as DpRegressor

LIBRARIES = ("deltaprop", "scikit-learn")
DATASETS = {
    "iris": ("classification", lambda: load_iris(return_X_y=True)),
    "wine": ("classification", lambda: load_wine(return_X_y=True)),
    "breast_cancer": ("classification", lambda: load_breast_cancer(return_X_y=True)),
    "digits": ("classification", lambda: load_digits(return_X_y=True)),
    "diabetes": ("regression", lambda: load_diabetes(return_X_y=True)),
    "friedman1": ("regression", lambda: make_friedman1(n_samples=2000, noise=1.0, random_state=0)),
}
#: levels of each categorical column of the sparse suite (10,000 rows; the levels drawn make 2,917 one-hot columns)
LEVELS = (5, 10, 20, 50, 100, 200, 300, 500, 800, 1315)


def classifier(library: str, seed: int, **params: Any) -> Any:
    cls = DpClassifier if library == "deltaprop" else SkClassifier
    return cls(random_state=seed, **params)


def make(kind: str, library: str, seed: int, **params: Any) -> Any:
    """The same pipeline and parameters for both libraries."""
    if kind == "classification":
        return make_pipeline(StandardScaler(), classifier(library, seed, **params))
    cls = DpRegressor if library == "deltaprop" else SkRegressor
    return TransformedTargetRegressor(make_pipeline(StandardScaler(), cls(random_state=seed, **params)),
                                      transformer=StandardScaler())


def n_iter(model: Any) -> int:
    est = model.regressor_ if isinstance(model, TransformedTargetRegressor) else model
    return est[-1].n_iter_ if hasattr(est, "steps") else est.n_iter_


def timed_fit(model: Any, X: Any, y: Any) -> float:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        t0 = time.perf_counter()
        model.fit(X, y)
        return time.perf_counter() - t0


def compare(name: str, kind: str, X: Any, y: Any, seeds: int, build: Callable[[str, int], Any],
            stratify: bool) -> dict[str, Any]:
    """Fit both libraries on each seed's split; scores, iterations and fit seconds per library."""
    row: dict[str, Any] = {"data": name, "kind": kind, "n": X.shape[0], "d": X.shape[1],
                           **{key: {lib: [] for lib in LIBRARIES} for key in ("scores", "iters", "seconds")}}
    for seed in range(seeds):
        Xtr, Xte, ytr, yte = train_test_split(X, y, test_size=0.25, random_state=seed,
                                              stratify=y if stratify else None)
        for library in LIBRARIES:
            model = build(library, seed)
            row["seconds"][library].append(timed_fit(model, Xtr, ytr))
            row["scores"][library].append(model.score(Xte, yte))
            row["iters"][library].append(n_iter(model))
    return row


def suite_defaults(seeds: int) -> list[dict[str, Any]]:
    return [compare(name, kind, *load(), seeds, lambda lib, s, kind=kind: make(kind, lib, s),  # type: ignore[misc]
                    stratify=kind == "classification") for name, (kind, load) in DATASETS.items()]


def suite_lbfgs(seeds: int) -> list[dict[str, Any]]:
    return [compare(f"{name} (lbfgs)", "classification", *DATASETS[name][1](), seeds,
                    lambda lib, s: make("classification", lib, s, solver="lbfgs"), stratify=True)
            for name in ("iris", "wine", "breast_cancer")]


def suite_multilabel(seeds: int) -> list[dict[str, Any]]:
    X, Y = make_multilabel_classification(n_samples=2000, n_features=20, n_classes=5, random_state=0)
    return [compare(f"multilabel ({solver})", "multilabel", X, Y, seeds,
                    lambda lib, s, solver=solver: make("classification", lib, s, solver=solver), stratify=False)
            for solver in ("adam", "lbfgs")]


def categorical_data(n: int = 10_000, seed: int = 0) -> tuple[Any, np.ndarray]:
    """Categorical columns with LEVELS levels each; y depends on per-level effects of every column."""
    rng = np.random.default_rng(seed)
    cats = np.column_stack([rng.zipf(1.3, n) % k for k in LEVELS])  # skewed level frequencies, as real data
    logit = sum(rng.normal(0, 1.0, k)[cats[:, j]] for j, k in enumerate(LEVELS))
    y = (logit + rng.logistic(size=n) > np.median(logit)).astype(int)
    return OneHotEncoder(handle_unknown="ignore").fit_transform(cats).tocsr(), y


def fit_peak_bytes(model: Any, X: Any, y: Any) -> int:
    """The peak of memory allocated during ``fit`` (tracemalloc: NumPy and SciPy arrays included)."""
    gc.collect()
    tracemalloc.start()
    timed_fit(model, X, y)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak


def suite_sparse(seeds: int) -> list[dict[str, Any]]:
    X, y = categorical_data()
    params = dict(hidden_layer_sizes=(32,), max_iter=20)
    row = compare("one-hot categorical (sparse)", "classification", X, y, seeds,
                  lambda lib, s: classifier(lib, s, **params), stratify=True)
    dense = X.toarray()
    input_bytes = {"sparse": X.data.nbytes + X.indices.nbytes + X.indptr.nbytes, "dense": dense.nbytes}
    peaks = {"sparse": fit_peak_bytes(classifier("deltaprop", 0, **params), X, y),
             "dense": fit_peak_bytes(classifier("deltaprop", 0, **params), dense, y)}
    half = X[: X.shape[0] // 2]
    peaks["sparse, half the rows"] = fit_peak_bytes(classifier("deltaprop", 0, **params), half, y[: half.shape[0]])
    row["memory"] = {"input": input_bytes, "fit peak": peaks, "nnz": X.nnz}
    return [row]


SUITES = {"defaults": suite_defaults, "lbfgs": suite_lbfgs, "multilabel": suite_multilabel, "sparse": suite_sparse}


def table(rows: list[dict[str, Any]]) -> str:
    lines = ["| data set | n × d | metric | deltaprop | scikit-learn | paired difference | iterations (dp / sk) | "
             "fit s (dp / sk) |", "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        dp_s, sk_s = np.array(r["scores"]["deltaprop"]), np.array(r["scores"]["scikit-learn"])
        diff = dp_s - sk_s
        metric = {"classification": "accuracy", "regression": "R²", "multilabel": "subset accuracy"}[r["kind"]]
        lines.append(
            f"| {r['data']} | {r['n']} × {r['d']} | {metric} | {dp_s.mean():.4f} ± {dp_s.std():.4f} | "
            f"{sk_s.mean():.4f} ± {sk_s.std():.4f} | {diff.mean():+.4f} ± {diff.std():.4f} | "
            f"{np.mean(r['iters']['deltaprop']):.0f} / {np.mean(r['iters']['scikit-learn']):.0f} | "
            f"{np.mean(r['seconds']['deltaprop']):.2f} / {np.mean(r['seconds']['scikit-learn']):.2f} |")
    for r in rows:
        if "memory" in r:
            mem, mb = r["memory"], 2.0**20
            lines += ["", f"Memory of deltaprop's fit on {r['data']} ({r['n']} × {r['d']}, {mem['nnz']:,} nonzeros):",
                      "", "| X as | input MB | fit peak MB (tracemalloc) |", "|---|---|---|"]
            for how, peak in mem["fit peak"].items():
                size = mem["input"].get(how, mem["input"]["sparse"] / 2)
                lines.append(f"| {how} | {size / mb:.1f} | {peak / mb:.1f} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, default=10, help="number of seeds (splits and initialisations)")
    parser.add_argument("--suites", default=",".join(SUITES), help=f"comma-separated, from {', '.join(SUITES)}")
    args = parser.parse_args()
    for name in args.suites.split(","):
        print(f"## {name}\n\n{table(SUITES[name](args.seeds))}\n")
    print(f"{args.seeds} seeds; deltaprop {deltaprop.__version__}, scikit-learn {sklearn.__version__}, "
          f"NumPy {np.__version__}, Python {platform.python_version()}, {platform.machine()}")


if __name__ == "__main__":
    main()
