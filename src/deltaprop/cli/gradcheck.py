"""``deltaprop gradcheck``: backprop's gradients against central finite differences."""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any

from .common import model_data, model_from_args, network_inputs, take_rows
from .parser import add_command, model_options, positive_float, positive_int


def add_parser(sub: Any) -> None:
    p = add_command(sub, "gradcheck", run, "check backprop's gradients against finite differences",
                    "Compare every parameter's gradient from backpropagation with central finite differences (in "
                    "float64) and print a table per layer. Exit status 1 if the check fails.",
                    "  deltaprop gradcheck\n"
                    "  deltaprop gradcheck --layers 4,8,8,3 --activation relu --output softmax\n"
                    "  deltaprop gradcheck --model iris.safetensors --data iris.csv --samples 16\n"
                    "  deltaprop gradcheck --layers 784,128,10 --output softmax --max-entries 200")
    model_options(p, what="check")
    p.add_argument("--data", metavar="SOURCE", help="data to check on (default: XOR or random inputs)")
    p.add_argument("--target", metavar="COLUMN", help="the CSV target column")
    p.add_argument("--samples", type=positive_int, default=8, help="samples used (8)")
    p.add_argument("--loss", metavar="NAME", help="loss (default: the training default for the output)")
    p.add_argument("--tol", type=positive_float, default=1e-6, help="largest relative error allowed (1e-6)")
    p.add_argument("--params", metavar="KEYS", help="check only these parameters, e.g. 0.W,2.b (default: all)")
    p.add_argument("--max-entries", type=positive_int, metavar="N",
                   help="check at most N random entries of each parameter (default: all); for big networks")


def run(args: argparse.Namespace) -> int:
    import numpy as np

    from ..nn.model import default_loss
    from ..teach.gradcheck import cost, gradcheck

    model, meta = model_from_args(args)
    if args.data:
        data = model_data(args.data, meta, target=args.target, need_target=True, part="train", model=model)
        X = network_inputs(model, meta)(take_rows(data.X, slice(0, args.samples)))
        y = data.y[:args.samples]
    elif (model.n_inputs, model.n_outputs) == (2, 1):
        from ..teach.seed import XOR_X, XOR_Y

        X, y = XOR_X, XOR_Y
    else:
        rng = np.random.default_rng(args.seed)
        X = rng.standard_normal((args.samples, model.n_inputs))
        y = rng.integers(0, model.n_outputs, args.samples) if model.n_outputs > 1 else rng.random(args.samples)
    seed_net = not args.model and not args.layers
    loss = args.loss or ("half_sse" if seed_net else default_loss(model))
    params = None if args.params is None else [k for k in args.params.replace(" ", "").split(",") if k]
    passes = cost(model, len(X), params=params, max_entries=args.max_entries)
    seconds = passes * _seconds_per_pass(model, X)
    print(f"gradcheck: {passes // 2:,} parameter entries, {passes:,} forward passes of {len(X)} sample(s), about "
          f"{_duration(seconds)}" + ("; --params or --max-entries check fewer" if seconds > 60 else ""),
          file=sys.stderr, flush=True)
    result = gradcheck(model, loss, X, y, params=params, max_entries=args.max_entries, seed=args.seed,
                       progress=_Progress() if seconds > 5 else None)
    print(f"gradient check: {len(X)} sample(s), loss {loss}, central differences (ε = 1e-6) in float64\n")
    print(result.table())
    ok = result.passed(args.tol)
    print(f"\nmax relative error {result.max_error:.2e}: {'PASS' if ok else 'FAIL'} (tolerance {args.tol:g})")
    return 0 if ok else 1


def _seconds_per_pass(model: Any, X: Any) -> float:
    """The time of one forward pass as gradcheck makes it (extended precision), measured on three."""
    import numpy as np

    from ..teach.gradcheck import _extended_precision_copy

    ext = _extended_precision_copy(model.astype(np.float64))
    Xe = np.asarray(X, dtype=ext.dtype)
    start = time.perf_counter()
    for _ in range(3):
        ext.forward(Xe, training=False)
    return (time.perf_counter() - start) / 3


def _duration(seconds: float) -> str:
    return f"{seconds:.1f} s" if seconds < 120 else f"{seconds / 60:.1f} min"


class _Progress:
    """A line on stderr every few seconds: entries done, of how many, and the time left."""

    def __init__(self, every: float = 2.0) -> None:
        self.start = self.last = time.perf_counter()
        self.every = every

    def __call__(self, done: int, total: int) -> None:
        now = time.perf_counter()
        if now - self.last >= self.every or done == total:
            self.last = now
            left = (now - self.start) / done * (total - done)
            print(f"  {done:,}/{total:,} entries checked, about {_duration(left)} left", file=sys.stderr, flush=True)
