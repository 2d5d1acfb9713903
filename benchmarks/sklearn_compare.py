"""deltaprop.sklearn versus sklearn.neural_network on scikit-learn's bundled data sets, matched settings.

Both estimators get the same pipeline (StandardScaler on X; for regression also on y, through
TransformedTargetRegressor) and the same parameters: scikit-learn's defaults (one hidden layer of
100 ReLU units, Adam with lr 0.001, alpha 1e-4, batch_size min(200, n), max_iter 200, tol 1e-4,
n_iter_no_change 10) and the same random_state. Each seed draws its own stratified 75/25 split.
Reported: mean ± standard deviation over the seeds of the test accuracy (classification) or R²
(regression), the paired difference deltaprop − scikit-learn, epochs run and fit time.

    .venv/bin/python benchmarks/sklearn_compare.py --seeds 5 > /tmp/sklearn_compare.md
"""

from __future__ import annotations

import argparse
import platform
import time
import warnings

import numpy as np
import sklearn
from sklearn.compose import TransformedTargetRegressor
from sklearn.datasets import load_breast_cancer, load_diabetes, load_digits, load_iris, load_wine, make_friedman1
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPClassifier as SkClassifier
from sklearn.neural_network import MLPRegressor as SkRegressor
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import deltaprop
from deltaprop.sklearn import MLPClassifier as DpClassifier
from deltaprop.sklearn import MLPRegressor as DpRegressor

DATASETS = {
    "iris": ("classification", lambda: load_iris(return_X_y=True)),
    "wine": ("classification", lambda: load_wine(return_X_y=True)),
    "breast_cancer": ("classification", lambda: load_breast_cancer(return_X_y=True)),
    "digits": ("classification", lambda: load_digits(return_X_y=True)),
    "diabetes": ("regression", lambda: load_diabetes(return_X_y=True)),
    "friedman1": ("regression", lambda: make_friedman1(n_samples=2000, noise=1.0, random_state=0)),
}


def make(kind: str, library: str, seed: int):
    """The same pipeline and parameters for both libraries (scikit-learn's defaults)."""
    if kind == "classification":
        cls = DpClassifier if library == "deltaprop" else SkClassifier
        return make_pipeline(StandardScaler(), cls(random_state=seed))
    cls = DpRegressor if library == "deltaprop" else SkRegressor
    return TransformedTargetRegressor(make_pipeline(StandardScaler(), cls(random_state=seed)),
                                      transformer=StandardScaler())


def n_iter(model) -> int:
    est = model.regressor_ if isinstance(model, TransformedTargetRegressor) else model
    return est[-1].n_iter_


def run(seeds: int) -> list[dict]:
    rows = []
    for name, (kind, load) in DATASETS.items():
        X, y = load()
        scores: dict[str, list[float]] = {"deltaprop": [], "scikit-learn": []}
        iters: dict[str, list[int]] = {"deltaprop": [], "scikit-learn": []}
        seconds: dict[str, list[float]] = {"deltaprop": [], "scikit-learn": []}
        for seed in range(seeds):
            stratify = y if kind == "classification" else None
            Xtr, Xte, ytr, yte = train_test_split(X, y, test_size=0.25, random_state=seed, stratify=stratify)
            for library in scores:
                model = make(kind, library, seed)
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", ConvergenceWarning)
                    t0 = time.perf_counter()
                    model.fit(Xtr, ytr)
                    seconds[library].append(time.perf_counter() - t0)
                scores[library].append(model.score(Xte, yte))
                iters[library].append(n_iter(model))
        rows.append({"data": name, "kind": kind, "n": len(X), "d": X.shape[1], "scores": scores, "iters": iters,
                     "seconds": seconds})
    return rows


def table(rows: list[dict], seeds: int) -> str:
    lines = ["| data set | n × d | metric | deltaprop | scikit-learn | paired difference | epochs (dp / sk) | "
             "fit s (dp / sk) |", "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        dp_s, sk_s = np.array(r["scores"]["deltaprop"]), np.array(r["scores"]["scikit-learn"])
        diff = dp_s - sk_s
        metric = "accuracy" if r["kind"] == "classification" else "R²"
        lines.append(
            f"| {r['data']} | {r['n']} × {r['d']} | {metric} | {dp_s.mean():.4f} ± {dp_s.std():.4f} | "
            f"{sk_s.mean():.4f} ± {sk_s.std():.4f} | {diff.mean():+.4f} ± {diff.std():.4f} | "
            f"{np.mean(r['iters']['deltaprop']):.0f} / {np.mean(r['iters']['scikit-learn']):.0f} | "
            f"{np.mean(r['seconds']['deltaprop']):.2f} / {np.mean(r['seconds']['scikit-learn']):.2f} |")
    env = (f"{seeds} seeds; deltaprop {deltaprop.__version__}, scikit-learn {sklearn.__version__}, "
           f"NumPy {np.__version__}, Python {platform.python_version()}, {platform.machine()}")
    return "\n".join(lines) + f"\n\n{env}\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, default=5, help="number of seeds (splits and initialisations)")
    args = parser.parse_args()
    print(table(run(args.seeds), args.seeds))


if __name__ == "__main__":
    main()
