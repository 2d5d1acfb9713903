"""``deltaprop predict``: a saved model's predictions as CSV."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from .common import delimiter_arg, load_model, model_data, network_inputs
from .outputs import Output, check_outputs
from .parser import add_command, model_and_data, positive_int


def add_parser(sub: Any) -> None:
    p = add_command(sub, "predict", run, "predict with a saved model; CSV to stdout or a file",
                    "Predictions of a saved model, one CSV row per sample: the predicted class (by name when the "
                    "training data had names) or value, and with --proba the class probabilities.",
                    "  deltaprop predict iris.safetensors new_flowers.csv\n"
                    "  deltaprop predict iris.safetensors iris.csv --proba --out predictions.csv")
    model_and_data(p, data_help="data set name, table file (.csv .tsv .csv.gz .parquet; the target column may be "
                                "absent), .npz", target_help="the CSV target column, ignored if present")
    p.add_argument("--proba", action="store_true", help="add a probability column per class")
    p.add_argument("--precision", type=positive_int, metavar="N",
                   help="decimals of probabilities (4) or significant digits of values (6)")
    p.add_argument("--out", metavar="FILE.csv", help="write here instead of stdout")


def run(args: argparse.Namespace) -> int:
    import csv
    import io

    import numpy as np

    check_outputs("predict", [("MODEL", args.model), ("DATA", args.data)], [Output("--out", args.out, "csv")])
    model, meta = load_model(args.model)
    data = model_data(args.data, meta, target=args.target, need_target=False, part=args.part, model=model,
                      delimiter=delimiter_arg(args))
    a = model.predict(network_inputs(model, meta)(data.X), preprocess=False)
    classes = model.classes or meta.get("classes") or data.classes
    if classes:
        idx = a.argmax(axis=1) if a.shape[1] > 1 else (a[:, 0] >= 0.5).astype(np.intp)
        header = ["prediction"]
        rows: list[list[Any]] = [[classes[i]] for i in idx]
        if args.proba:
            probs = a if a.shape[1] > 1 else np.column_stack([1 - a[:, 0], a[:, 0]])
            header += [f"p_{c}" for c in classes]
            digits = args.precision or 4
            rows = [r + [f"{p:.{digits}f}" for p in ps] for r, ps in zip(rows, probs)]
    else:
        header = ["prediction"] if a.shape[1] == 1 else [f"prediction_{j}" for j in range(a.shape[1])]
        digits = args.precision or 6
        rows = [[f"{v:.{digits}g}" for v in r] for r in a]
    out = io.StringIO(newline="") if args.out else sys.stdout
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    if args.out:
        from ..io.model_file import write_text_atomic

        write_text_atomic(args.out, out.getvalue(), where=f"predict --out {args.out!r}")  # type: ignore[attr-defined]
        print(f"wrote {len(rows):,} predictions to {args.out}", file=sys.stderr)
    return 0
