"""``deltaprop info``: a model file's architecture, parameters and metadata, read without running it."""

from __future__ import annotations

import argparse
import json
from typing import Any

from .common import load_model
from .parser import add_command


def add_parser(sub: Any) -> None:
    p = add_command(sub, "info", run, "show a model file's architecture, parameters and metadata",
                    "The architecture, parameter count, dtype, loss, optimizer, training facts and metadata of a "
                    "model file, read without running it.",
                    "  deltaprop info moons.safetensors\n  deltaprop info moons.safetensors --json")
    p.add_argument("model", metavar="MODEL", help="a model file written by train --out or model.save")
    p.add_argument("--json", action="store_true", help="print the metadata as JSON")


def run(args: argparse.Namespace) -> int:
    from ..io.model_file import read_metadata

    model, _ = load_model(args.model)
    meta = read_metadata(args.model)
    if args.json:
        print(json.dumps({**meta, "n_params": model.n_params}, indent=2, default=str))
        return 0
    print(f"{args.model}: deltaprop {meta['kind']} (format version {meta['format_version']}), {meta['dtype']}")
    print(model.summary())
    for key in ("loss", "optimizer"):
        if meta.get(key):
            cfg = dict(meta[key])
            print(f"{key}: {cfg.pop('type')} " + ", ".join(f"{k}={v}" for k, v in cfg.items() if v is not None))
    if model.preprocessor is not None:
        print("preprocessing (applied by predict, evaluate, the ONNX export and the PyTorch bridge):\n"
              + "\n".join(f"  {line}" for line in model.preprocessor.describe().splitlines()))
    if model.classes is not None:
        print(f"classes: {', '.join(model.classes)}")
    training = meta.get("training") or {}
    if training:
        final = training.get("final") or {}
        facts = [f"{k}={v}" for k, v in training.items() if k != "final"]
        print("training: " + ", ".join(facts))
        if final:
            print("final logs: " + ", ".join(f"{k}={v:.4g}" for k, v in final.items()))
    user = meta.get("user")
    if user is not None and not isinstance(user, dict):  # model.save(path, metadata=[...]) stores any plain data
        print("metadata: " + json.dumps(user, ensure_ascii=False))
    elif user:
        shown = {k: v for k, v in user.items() if v is not None and k not in ("input_mean", "input_std")}
        print("metadata: " + json.dumps(shown, ensure_ascii=False))
        if user.get("input_mean") is not None:
            print("inputs are standardised with the training data's mean and standard deviation")
    return 0
