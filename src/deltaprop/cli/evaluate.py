"""``deltaprop evaluate``: the loss and metrics of a saved model on a data file."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from .common import delimiter_arg, load_model, model_data, network_inputs, write_plots
from .outputs import Output, check_outputs
from .parser import add_command, model_and_data


def add_parser(sub: Any) -> None:
    p = add_command(sub, "evaluate", run, "evaluate a saved model on a data file",
                    "Loss and accuracy (classification) or MSE, MAE and R² (regression) of a saved model. Sources "
                    "with their own test part (MNIST files) are evaluated on it unless --part train.",
                    "  deltaprop evaluate moons.safetensors moons\n"
                    "  deltaprop evaluate iris.safetensors iris.csv --json\n"
                    "  deltaprop evaluate mnist.safetensors mnist10k.npz --plots plots/")
    model_and_data(p, data_help="data set name, table file (.csv .tsv .csv.gz .parquet), .npz, .npy or IDX folder",
                   target_help="the CSV target column (default: as in training)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--plots", metavar="DIR", help="write the confusion matrix (and more) to DIR")
    p.add_argument("--plot-format", choices=["png", "svg"], default="png")


def run(args: argparse.Namespace) -> int:
    check_outputs("evaluate", [("MODEL", args.model), ("DATA", args.data)],
                  [Output("--plots", args.plots, "folder") if args.plots else None])
    model, meta = load_model(args.model)
    data = model_data(args.data, meta, target=args.target, need_target=True, part=args.part, model=model,
                      delimiter=delimiter_arg(args))
    transform = network_inputs(model, meta)
    classify = bool(meta.get("classes") or data.classes)
    metrics = ["accuracy"] if classify else ["mse", "mae", "r2"]
    results = model.evaluate(transform(data.X), data.y, metrics=metrics, preprocess=False)
    if args.json:
        print(json.dumps({"model": args.model, "data": args.data, "n": len(data.y), **results}))
    else:
        print(f"{args.model} on {args.data} ({len(data.y):,} samples):")
        for key, value in results.items():
            print(f"  {key:<10} {value:.4f}")
    if args.plots and classify:
        write_plots(Path(args.plots), model=model, history=None, monitor=None, data=data, X=data.X, y=data.y,
                     transform=transform, fmt=args.plot_format)
    return 0
