"""``deltaprop demo``: the seed's XOR network trained exactly as the seed script trains it, or a named demo."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from .parser import add_command, positive_float, positive_int
from .train import run_training

if TYPE_CHECKING:
    pass

DEMOS: dict[str, tuple[str, dict[str, Any]]] = {
    "xor": ("the seed's XOR network (2-2-1 sigmoid), trained exactly as the seed script trains it", {}),
    "moons": ("two interleaving half-moons, a 2-16-16-2 ReLU network with Adam",
              {"data": "moons", "n_samples": 400, "noise": 0.2, "layers": [2, 16, 16, 2], "activation": "relu",
               "output": "softmax", "optimizer": "adam", "lr": 0.01, "epochs": 150, "batch_size": 32,
               "validation_split": 0.2, "test_split": 0.2, "early_stopping": 20, "seed": 0}),
    "spirals": ("two interleaved spirals, a 2-64-64-2 tanh network with Adam",
                {"data": "spirals", "n_samples": 400, "noise": 0.05, "layers": [2, 64, 64, 2], "activation": "tanh",
                 "output": "softmax", "optimizer": "adam", "lr": 0.01, "epochs": 300, "batch_size": 32,
                 "test_split": 0.2, "seed": 0}),
    "digits": ("scikit-learn's 8×8 handwritten digits, a 64-64-10 ReLU network with Adam (needs scikit-learn)",
               {"data": "digits", "layers": [64, 64, 10], "activation": "relu", "output": "softmax",
                "optimizer": "adam", "lr": 0.005, "epochs": 40, "batch_size": 32, "validation_split": 0.1,
                "test_split": 0.2, "seed": 0}),
}


def add_parser(sub: Any) -> None:
    p = add_command(sub, "demo", run, "train the seed's XOR network (or another demo) and show the loss falling",
                    "Train the seed document's XOR network exactly as its script does, or one of the named demos.",
                    "  deltaprop demo\n  deltaprop demo --epochs 5000 --every 500\n  deltaprop demo --list\n"
                    "  deltaprop demo xor --plots plots/\n  deltaprop demo moons --plots plots/")
    p.add_argument("name", nargs="?", default="xor", choices=list(DEMOS), help="which demo (default xor)")
    p.add_argument("--list", action="store_true", help="list the demos and exit")
    p.add_argument("--epochs", type=positive_int, help="epochs (xor: 10000 full-batch epochs)")
    p.add_argument("--lr", type=positive_float, help="learning rate η (xor: 0.1)")
    p.add_argument("--every", type=positive_int, help="print the loss every N epochs (xor: 1000)")
    p.add_argument("--plots", metavar="DIR", help="write plots of the run to DIR (loss, decision boundary, …)")


def run(args: argparse.Namespace) -> int:
    import numpy as np

    if args.list:
        for name, (text, _) in DEMOS.items():
            print(f"{name:<8} {text}")
        return 0
    if args.name != "xor":
        from .config import merge

        preset = dict(DEMOS[args.name][1])
        if args.epochs is not None:
            preset["epochs"] = args.epochs
        if args.lr is not None:
            preset["lr"] = args.lr
        preset["plots"] = args.plots
        settings = merge(preset, {})
        print(f"deltaprop demo {args.name}: {DEMOS[args.name][0]}")
        print("the same as: deltaprop train " + " ".join(as_flags(preset)) + "\n")
        run_training(settings, progress="lines", every=args.every)
        return 0
    from ..nn.losses import HalfSSE
    from ..optim.optimizers import SGD
    from ..teach.seed import XOR_X, XOR_Y, seed_network
    from ..train.callbacks import LambdaCallback

    epochs = 10_000 if args.epochs is None else args.epochs
    lr = 0.1 if args.lr is None else args.lr
    every = 1000 if args.every is None else args.every
    model = seed_network(dtype=np.float64)
    print("deltaprop demo: the seed's XOR network (2-2-1 sigmoid), ½·SSE loss, gradient descent η = "
          f"{lr}, {epochs:,} full-batch epochs\n")
    print(model.summary(), "\n")

    def report(epoch: int, logs: dict[str, float]) -> None:
        if epoch == 0 or (epoch + 1) % every == 0:
            print(f"epoch {epoch + 1:>6}   loss {logs['loss']:.6f}")

    history = model.fit(XOR_X, XOR_Y, loss=HalfSSE(reduction="sum"), optimizer=SGD(lr=lr), epochs=epochs,
              shuffle=False, callbacks=[LambdaCallback(on_epoch_end=report)])
    pred = model.predict(XOR_X)
    print("\n x1  x2 | target | prediction")
    for x, t, p in zip(XOR_X, XOR_Y[:, 0], pred[:, 0]):
        print(f" {x[0]:.0f}   {x[1]:.0f}  |   {t:.0f}    | {p:.6f}")
    if args.plots:
        from pathlib import Path

        from .common import write_plots
        from .config import Data

        labels = XOR_Y[:, 0].astype(np.intp)
        data = Data(X=XOR_X, y=labels, source="xor", classes=["0", "1"], feature_names=["x1", "x2"])
        print()
        write_plots(Path(args.plots), model=model, history=history, monitor=None, data=data, X=XOR_X, y=labels,
                    transform=lambda X: X, fmt="png", label="the four XOR examples")
    return 0


def as_flags(settings: dict[str, Any]) -> list[str]:
    out = []
    for key, value in settings.items():
        if value is None or value is False:
            continue
        flag = "--" + key.replace("_", "-")
        if value is True:
            out.append(flag)
        else:
            out += [flag, ",".join(map(str, value)) if isinstance(value, list) else str(value)]
    return out
