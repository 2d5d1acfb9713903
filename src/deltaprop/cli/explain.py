"""``deltaprop explain``: one training step with the real numbers, in the seeds' notation."""

from __future__ import annotations

import argparse
from typing import Any

from .common import emit, model_data, model_from_args, network_inputs, take_rows
from .outputs import Output, check_outputs
from .parser import add_command, model_options, neuron_spec, non_negative_int, parse_rows, positive_float, positive_int


def add_parser(sub: Any) -> None:
    p = add_command(sub, "explain", run, "show one training step with the real numbers",
                    "One complete training step (forward, loss, backward, update) of a network on one example or "
                    "a small batch, in the seeds' notation with the real numbers: z and a for every layer, the "
                    "loss, δ(L) = ∂L/∂a ⊙ σ'(z), δ(l) = (W(l+1)ᵀ δ(l+1)) ⊙ σ'(z(l)), ∂L/∂W = δ aᵀ, ∂L/∂b = δ and "
                    "the updated weights. Default: the seed's XOR network on its first example.",
                    "  deltaprop explain\n  deltaprop explain --example 1\n"
                    "  deltaprop explain --batch --format markdown --out step.md\n"
                    "  deltaprop explain --model iris.safetensors --data iris.csv --example 0\n"
                    "  deltaprop explain --layers 3,4,2 --output softmax --x 0.5,-1,2 --y 0,1 --format json\n"
                    "  deltaprop explain --neuron 2:1          # the output neuron's sum written out term by term\n"
                    "  COLUMNS=72 deltaprop explain --layers 4,16,3 --x 1,2,3,4 --y 0,0,1")
    model_options(p, what="explain")
    g = p.add_argument_group("the example")
    g.add_argument("--x", type=parse_rows, metavar="VALUES", help="input(s): 0,1 or 0,0;0,1 for two rows")
    g.add_argument("--y", type=parse_rows, metavar="VALUES", help="target(s), the same way")
    g.add_argument("--data", metavar="SOURCE", help="take the example from a data set or file")
    g.add_argument("--target", metavar="COLUMN", help="the CSV target column")
    g.add_argument("--example", type=non_negative_int, default=0, metavar="K", help="row K of the data (0)")
    g.add_argument("--batch", action="store_true", help="the first four examples at once")
    g = p.add_argument_group("the step and its display")
    g.add_argument("--loss", metavar="NAME", help="loss (seed network: ½·SSE summed; else the training default)")
    g.add_argument("--lr", type=positive_float, default=0.1, help="learning rate η (0.1)")
    g.add_argument("--format", choices=["text", "markdown", "json"], default="text", help="output format (text)")
    g.add_argument("--precision", type=positive_int, default=4, help="decimals shown (4)")
    g.add_argument("--neuron", type=neuron_spec, metavar="L:J",
                   help="the neuron written out term by term: layer L (1 = first hidden), neuron J from 1 (1:1)")
    g.add_argument("--width", type=positive_int, metavar="COLUMNS",
                   help="text width (default: the terminal's, or $COLUMNS); wider layers get one row per neuron")
    g.add_argument("--out", metavar="FILE", help="write to FILE instead of stdout")


def run(args: argparse.Namespace) -> int:
    from ..nn.losses import HalfSSE
    from ..teach.explain import explain

    check_outputs("explain", [("--model", args.model), ("--data", args.data)], [Output("--out", args.out, "text")])
    model, meta = model_from_args(args)
    seed_net = not args.model and not args.layers
    x, y = args.x, args.y
    if args.data:
        data = model_data(args.data, meta, target=args.target, need_target=True, part="train", model=model)
        idx = list(range(min(4, len(data.y)))) if args.batch else [args.example]
        if max(idx) >= len(data.y):
            raise ValueError(f"explain: --example {args.example} is out of range; {args.data} has {len(data.y)} rows.")
        x = network_inputs(model, meta)(take_rows(data.X, idx))
        y = data.y[idx]
    elif x is None and y is None and (model.n_inputs, model.n_outputs) == (2, 1):
        from ..teach.seed import XOR_X, XOR_Y

        idx = list(range(4)) if args.batch else [args.example]
        if max(idx) >= 4:
            raise ValueError(f"explain: --example must be 0..3 for the four XOR examples, got {args.example}.")
        x, y = XOR_X[idx], XOR_Y[idx]
    elif x is None or y is None:
        raise ValueError(f"explain: pass --x and --y (the model takes {model.n_inputs} inputs and gives "
                         f"{model.n_outputs} outputs), or --data FILE with --example K.")
    loss = args.loss or (HalfSSE(reduction="sum") if seed_net else None)
    e = explain(model, x, y, loss=loss, lr=args.lr, precision=args.precision)
    if args.neuron is not None:
        l, j = args.neuron
        e.neuron(l, j)  # type: ignore[union-attr]  (out of range: the error names the valid range)
        e.neuron_shown = (l, j)  # type: ignore[union-attr]
    text = e.to_text(args.width) if args.format == "text" else e.format(args.format)  # type: ignore[union-attr]
    emit(text, args.out)
    return 0
