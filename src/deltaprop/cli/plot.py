"""``deltaprop plot``: a saved history and a model's results as figures."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from .common import load_model, model_data, network_inputs, write_plots
from .outputs import Output, check_outputs
from .parser import add_command


def add_parser(sub: Any) -> None:
    p = add_command(sub, "plot", run, "plot a saved history and a model's results (PNG or SVG)",
                    "Loss and metric curves from a history written by train --history; with --model and --data also "
                    "the decision boundary (2-D data), the confusion matrix (classes) and the first layer's weights "
                    "as images (image data). Needs matplotlib (pip install \"deltaprop[plots]\").",
                    "  deltaprop plot history.json --out plots/\n"
                    "  deltaprop plot history.json --model moons.safetensors --data moons --out plots/ --format svg")
    p.add_argument("history", nargs="?", metavar="HISTORY", help="a .json or .csv history file")
    p.add_argument("--model", metavar="FILE", help="a saved model")
    p.add_argument("--data", metavar="SOURCE", help="data to plot the model on")
    p.add_argument("--target", metavar="COLUMN", help="the CSV target column")
    p.add_argument("--part", choices=["test", "train"], default="test", help="for sources with a test part")
    p.add_argument("--out", metavar="DIR", default="plots", help="folder for the figures (plots)")
    p.add_argument("--format", choices=["png", "svg"], default="png")


def run(args: argparse.Namespace) -> int:
    if not args.history and not (args.model and args.data):
        raise ValueError("plot: pass a history file, or --model and --data (or both).")
    check_outputs("plot", [("HISTORY", args.history), ("--model", args.model), ("--data", args.data)],
                  [Output("--out", args.out, "folder")])
    model, meta, data = None, {}, None
    if args.model or args.data:
        if not (args.model and args.data):
            raise ValueError("plot: --model and --data go together.")
        model, meta = load_model(args.model)
        data = model_data(args.data, meta, target=args.target, need_target=True, part=args.part, model=model)
        if meta.get("image_shape"):
            data.image_shape = tuple(meta["image_shape"])
    history = None
    if args.history:
        from ..teach.plots import load_history

        history = load_history(args.history)
    write_plots(Path(args.out), model=model, history=history, monitor=None, data=data,
                 X=None if data is None else data.X, y=None if data is None else data.y,
                 transform=network_inputs(model, meta), fmt=args.format)
    return 0
