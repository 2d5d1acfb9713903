"""Regenerate the figures in docs/img from real training runs, with the same commands the tutorial uses.

    .venv/bin/python docs/img/make_images.py [path/to/mnist10k.npz]

Every figure comes from ``deltaprop`` itself: the CLI's ``train``/``plot`` for the training
figures, and Chromium rendering the Mermaid of ``deltaprop diagram --weights`` for the network
(needs ``chromium`` and ``.tools/node_modules/mermaid``, as installed by ``.ci/run``).
"""

from __future__ import annotations

import csv
import shutil
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]


def main(mnist: Path) -> None:
    sys.path.insert(0, str(ROOT / "tests"))
    from sklearn.datasets import load_iris

    from _render import mermaid_screenshot
    from deltaprop import diagrams
    from deltaprop.cli import main as deltaprop
    from deltaprop.seed import seed_network

    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        iris = load_iris()
        with open(work / "iris.csv", "w", newline="") as f:
            w = csv.writer(f)
            w.writerow(["sepal_length", "sepal_width", "petal_length", "petal_width", "species"])
            for x, t in zip(iris.data, iris.target):
                w.writerow([*x, iris.target_names[t]])
        runs = {  # the tutorial's commands (docs/tutorial.md), plus MNIST
            "iris": ["--data", str(work / "iris.csv"), "--target", "species", "--standardize", "--layers", "4,16,3",
                     "--lr", "0.01", "--epochs", "200", "--validation-split", "0.2", "--test-split", "0.2",
                     "--early-stopping", "20", "--seed", "0"],
            "moons": ["--data", "moons", "--n-samples", "400", "--noise", "0.2", "--layers", "2,16,16,2", "--lr",
                      "0.01", "--epochs", "150", "--validation-split", "0.2", "--test-split", "0.2",
                      "--early-stopping", "20", "--seed", "0"],
            "digits": ["--data", "digits", "--layers", "64,64,10", "--lr", "0.005", "--epochs", "40", "--batch-size",
                       "32", "--validation-split", "0.1", "--test-split", "0.2", "--seed", "0"],
            "mnist": ["--data", str(mnist), "--layers", "784,64,10", "--lr", "0.002", "--epochs", "15",
                      "--batch-size", "64", "--validation-split", "0.1", "--seed", "0"],
        }
        for name, argv in runs.items():
            out = work / name
            code = deltaprop(["train", *argv, "--progress", "none", "--out", str(out / "model.safetensors"),
                              "--history", str(out / "history.json"), "--plots", str(out / "plots")])
            if code:
                raise SystemExit(f"train {name} failed")
            for figure in (out / "plots").iterdir():
                shutil.copy(figure, HERE / f"{name}-{figure.stem.replace('_', '-')}.png")
    mermaid_screenshot(diagrams.mermaid(seed_network(), weights=True), HERE / "xor-network.png", width=680, height=350)
    print("\n".join(sorted(p.name for p in HERE.glob("*.png"))))


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT.parent / "shared" / "data" / "mnist10k.npz")
