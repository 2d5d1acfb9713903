"""The ``deltaprop`` command. It parses arguments and calls the library; it has no logic of its own."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

import numpy as np

from . import __version__


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"deltaprop: error: {message}\n")


def _demo(args: argparse.Namespace) -> int:
    from .callbacks import LambdaCallback
    from .losses import HalfSSE
    from .optimizers import SGD
    from .seed import XOR_X, XOR_Y, seed_network

    model = seed_network(dtype=np.float64)
    print("deltaprop demo: the seed's XOR network (2-2-1 sigmoid), ½·SSE loss, gradient descent η = "
          f"{args.lr}, {args.epochs:,} full-batch epochs\n")
    print(model.summary(), "\n")

    def report(epoch: int, logs: dict[str, float]) -> None:
        if epoch == 0 or (epoch + 1) % args.every == 0:
            print(f"epoch {epoch + 1:>6}   loss {logs['loss']:.6f}")

    model.fit(XOR_X, XOR_Y, loss=HalfSSE(reduction="sum"), optimizer=SGD(lr=args.lr), epochs=args.epochs,
              shuffle=False, callbacks=[LambdaCallback(on_epoch_end=report)])
    pred = model.predict(XOR_X)
    print("\n x1  x2 | target | prediction")
    for x, t, p in zip(XOR_X, XOR_Y[:, 0], pred[:, 0]):
        print(f" {x[0]:.0f}   {x[1]:.0f}  |   {t:.0f}    | {p:.6f}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="deltaprop", description="Multilayer perceptrons trained with textbook backpropagation.")
    parser.add_argument("--version", action="version", version=f"deltaprop {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    demo = sub.add_parser("demo", help="train the seed's XOR network and show the loss falling",
                          description="Train the seed document's XOR network exactly as its script does.",
                          epilog="example: deltaprop demo --epochs 5000 --every 500")
    demo.add_argument("--epochs", type=int, default=10_000, help="full-batch epochs (default 10000)")
    demo.add_argument("--lr", type=float, default=0.1, help="learning rate η (default 0.1)")
    demo.add_argument("--every", type=int, default=1000, help="print the loss every N epochs (default 1000)")
    demo.set_defaults(func=_demo)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    for name in ("epochs", "every"):
        if getattr(args, name, 1) < 1:
            parser.error(f"--{name} must be a positive integer")
    if getattr(args, "lr", 1.0) <= 0:
        parser.error("--lr must be positive")
    return int(args.func(args))


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
