"""``deltaprop gradcheck``: backprop's gradients against central finite differences."""

from __future__ import annotations

import argparse
from typing import Any

import numpy as np

from .common import model_data, model_from_args, network_inputs, take_rows
from .parser import add_command, model_options, positive_float, positive_int


def add_parser(sub: Any) -> None:
    p = add_command(sub, "gradcheck", run, "check backprop's gradients against finite differences",
                    "Compare every parameter's gradient from backpropagation with central finite differences (in "
                    "float64) and print a table per layer. Exit status 1 if the check fails.",
                    "  deltaprop gradcheck\n"
                    "  deltaprop gradcheck --layers 4,8,8,3 --activation relu --output softmax\n"
                    "  deltaprop gradcheck --model iris.safetensors --data iris.csv --samples 16")
    model_options(p, what="check")
    p.add_argument("--data", metavar="SOURCE", help="data to check on (default: XOR or random inputs)")
    p.add_argument("--target", metavar="COLUMN", help="the CSV target column")
    p.add_argument("--samples", type=positive_int, default=8, help="samples used (8)")
    p.add_argument("--loss", metavar="NAME", help="loss (default: the training default for the output)")
    p.add_argument("--tol", type=positive_float, default=1e-6, help="largest relative error allowed (1e-6)")


def run(args: argparse.Namespace) -> int:
    from ..nn.model import default_loss
    from ..teach.gradcheck import gradcheck

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
    result = gradcheck(model, loss, X, y)
    print(f"gradient check: {len(X)} sample(s), loss {loss}, central differences (ε = 1e-6) in float64\n")
    print(result.table())
    ok = result.passed(args.tol)
    print(f"\nmax relative error {result.max_error:.2e}: {'PASS' if ok else 'FAIL'} (tolerance {args.tol:g})")
    return 0 if ok else 1
