"""Raw tables: ``deltaprop train`` with no preprocessing flags against scikit-learn's pipeline, same split.

Each data set is a file as it comes (text columns, missing values, class names as labels). deltaprop
reads it with ``deltaprop train --data FILE --target T --test-split 0.25 --seed S`` and nothing else
(its defaults: the table's preprocessing fitted on the training rows, one hidden layer of 32 ReLU
units, Adam lr 0.001, batch 32, 100 epochs). scikit-learn gets
``Pipeline(ColumnTransformer(SimpleImputer(median) + StandardScaler | SimpleImputer(constant) +
OneHotEncoder(handle_unknown="ignore")), MLPClassifier(random_state=S))`` with its defaults (100
ReLU units, Adam lr 0.001, batch 200, up to 200 epochs) on exactly the rows deltaprop trains and
tests on (the same stratified split: deltaprop's ``--test-split`` is scikit-learn's
``train_test_split`` with ``random_state=S``). Reported: test accuracy, mean ± standard deviation
over the seeds, and the paired difference.

    .venv/bin/python benchmarks/tabular_compare.py --seeds 5 > /tmp/tabular_compare.md
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import io
import platform
import tempfile
import warnings
from pathlib import Path

import numpy as np
import sklearn
from sklearn.compose import ColumnTransformer
from sklearn.datasets import load_breast_cancer, load_iris, load_wine
from sklearn.exceptions import ConvergenceWarning
from sklearn.impute import SimpleImputer
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

import deltaprop as dp
from deltaprop.cli import main
from deltaprop.datasets import train_test_split
from deltaprop.datasets.tabular import load_table

RAW_DROP = ["studyName", "Sample Number", "Individual ID", "Date Egg", "Comments", "Stage", "Region"]


def penguins_file(folder: Path, raw: bool = False) -> Path:
    import palmerpenguins

    name = "penguins-raw.csv" if raw else "penguins.csv"
    path = folder / name
    path.write_bytes((Path(palmerpenguins.__file__).parent / "data" / name).read_bytes())
    return path


def sklearn_file(folder: Path, name: str) -> Path:
    loader = {"iris": load_iris, "wine": load_wine, "breast_cancer": load_breast_cancer}[name]
    bunch = loader()
    path = folder / f"{name}.csv"
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow([*(n.replace(" ", "_") for n in bunch.feature_names), "label"])
        for x, t in zip(bunch.data, bunch.target):
            w.writerow([*x, bunch.target_names[t]])
    return path


def data_sets(folder: Path) -> dict[str, tuple[Path, str, list[str]]]:
    """name → (file, target, --drop columns)."""
    return {
        "penguins (species)": (penguins_file(folder), "species", []),
        "penguins (sex)": (penguins_file(folder), "sex", []),
        "penguins-raw (species)": (penguins_file(folder, raw=True), "Species", RAW_DROP),
        "iris": (sklearn_file(folder, "iris"), "label", []),
        "wine": (sklearn_file(folder, "wine"), "label", []),
        "breast_cancer": (sklearn_file(folder, "breast_cancer"), "label", []),
    }


def sklearn_pipeline(columns, seed: int) -> Pipeline:
    numeric = [c for c in columns.names if columns.numeric(c)]
    text = [c for c in columns.names if not columns.numeric(c)]
    pre = ColumnTransformer([
        ("numbers", make_pipeline(SimpleImputer(strategy="median"), StandardScaler()), numeric),
        ("text", make_pipeline(SimpleImputer(strategy="constant", fill_value="<missing>"),
                               OneHotEncoder(handle_unknown="ignore")), text),
    ])
    return Pipeline([("pre", pre), ("mlp", MLPClassifier(random_state=seed))])


def frame(columns):
    import pandas as pd

    return pd.DataFrame({k: columns[k] for k in columns.names})


def compare(path: Path, target: str, drop: list[str], seed: int, folder: Path) -> tuple[float, float, int, int]:
    """(deltaprop accuracy, scikit-learn accuracy, rows, inputs) on the test rows of one split."""
    out = folder / "model.safetensors"
    argv = ["train", "--data", str(path), "--target", target, "--test-split", "0.25", "--seed", str(seed),
            "--progress", "none", "--out", str(out)] + (["--drop", ",".join(drop)] if drop else [])
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()), \
            warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert main(argv) == 0, argv
        table = load_table(path, target=target, drop=drop)
    model = dp.load(out)
    train_rows, test_rows, y_train, y_test = train_test_split(np.arange(len(table.y)), table.y, test_size=0.25,
                                                              seed=seed, stratify=True)
    X = table.columns
    ours = float(np.mean(model.predict_classes(X.take(test_rows)) == y_test))
    pipe = sklearn_pipeline(X, seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        pipe.fit(frame(X.take(train_rows)), y_train)
    theirs = float(np.mean(pipe.predict(frame(X.take(test_rows))) == y_test))
    return ours, theirs, len(table.y), model.n_inputs


def main_(seeds: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        rows = []
        for name, (path, target, drop) in data_sets(folder).items():
            results = [compare(path, target, drop, seed, folder) for seed in range(seeds)]
            ours, theirs = np.array([r[0] for r in results]), np.array([r[1] for r in results])
            n, width = results[0][2], results[0][3]
            rows.append(f"| {name} | {n} | {width} | {ours.mean():.4f} ± {ours.std():.4f} | "
                        f"{theirs.mean():.4f} ± {theirs.std():.4f} | {(ours - theirs).mean():+.4f} ± "
                        f"{(ours - theirs).std():.4f} |")
    print("| data set | rows | inputs (encoded) | deltaprop train | scikit-learn pipeline | paired difference |")
    print("|---|---|---|---|---|---|")
    print("\n".join(rows))
    print(f"\n{seeds} seeds; deltaprop {dp.__version__}, scikit-learn {sklearn.__version__}, NumPy {np.__version__}, "
          f"Python {platform.python_version()}.")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, default=5)
    main_(parser.parse_args().seeds)
