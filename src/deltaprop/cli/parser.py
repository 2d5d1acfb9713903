"""Shared argument parsing: the one-line error parser, value types with the expected wording, and the
helpers every command's parser uses."""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np


EPILOG_DEBUG = ("Errors in the input end with 'deltaprop: error: …' and exit status 2 "
                "(DELTAPROP_DEBUG=1 shows tracebacks).")


class Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"deltaprop: error: {message}\n")


class Formatter(argparse.RawDescriptionHelpFormatter):
    """Keeps the examples in the epilogs as written."""


def _parse(text: str, kind: type, ok: Callable[[Any], bool], expected: str) -> Any:
    """``kind(text)`` if that works and passes ``ok``; otherwise argparse's one-line error."""
    try:
        value = kind(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected {expected}, got {text!r}") from None
    if not ok(value):
        raise argparse.ArgumentTypeError(f"expected {expected}, got {text!r}")
    return value


def positive_int(text: str) -> int:
    return _parse(text, int, lambda v: v >= 1, "a positive integer")


def non_negative_int(text: str) -> int:
    return _parse(text, int, lambda v: v >= 0, "an integer >= 0")


def positive_float(text: str) -> float:
    return _parse(text, float, lambda v: math.isfinite(v) and v > 0, "a positive number")


def fraction(text: str) -> float:
    return _parse(text, float, lambda v: 0 <= v < 1, "a number in [0, 1)")


def non_negative_float(text: str) -> float:
    return _parse(text, float, lambda v: math.isfinite(v) and v >= 0, "a number >= 0")


def neuron_spec(text: str) -> tuple[int, int]:
    """"2:1" → (2, 0): layer 2 (0 = the inputs), neuron 1 counted from 1, as explain prints it."""
    parts = text.split(":")
    if len(parts) != 2 or not all(p.isdigit() for p in parts) or int(parts[1]) < 1:
        raise argparse.ArgumentTypeError(f"expected LAYER:NEURON like 1:2 (neurons count from 1), got {text!r}")
    return int(parts[0]), int(parts[1]) - 1


def parse_rows(text: str) -> np.ndarray:
    """"0,1" → [[0, 1]]; "0,0;0,1" → two rows."""
    import numpy as np

    try:
        rows = [[float(v) for v in row.split(",")] for row in text.replace(" ", "").split(";") if row]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected numbers like 0,1 (rows separated by ';'), got {text!r}") from None
    if not rows or len({len(r) for r in rows}) != 1:
        raise argparse.ArgumentTypeError(f"expected rows of equal length like 0,1;1,0, got {text!r}")
    return np.array(rows)


def add_command(sub: Any, name: str, func: Callable[[argparse.Namespace], int], help_: str, description: str,
         examples: str) -> argparse.ArgumentParser:
    p = sub.add_parser(name, help=help_, description=description, formatter_class=Formatter,
                       epilog="examples:\n" + examples + "\n\n" + EPILOG_DEBUG)
    p.set_defaults(func=func)
    return p


def model_options(p: argparse.ArgumentParser, *, what: str) -> None:
    g = p.add_argument_group("the network (default: the seed's XOR network)")
    g.add_argument("--model", metavar="FILE", help=f"a saved model to {what}")
    g.add_argument("--layers", metavar="SIZES", help="or build one: sizes like 2,3,1")
    g.add_argument("--activation", default="tanh", metavar="NAME", help="hidden activation with --layers (tanh)")
    g.add_argument("--output", default="sigmoid", metavar="NAME", help="output activation with --layers (sigmoid)")
    g.add_argument("--seed", type=non_negative_int, default=0, help="weights seed with --layers (0)")


def model_and_data(p: argparse.ArgumentParser, *, data_help: str, target_help: str) -> None:
    """MODEL and DATA, the positionals of the commands that run a saved model on data, with the data's
    --delimiter, --target and --part."""
    p.add_argument("model", metavar="MODEL", help="a model file written by train --out")
    p.add_argument("data", metavar="DATA", help=data_help)
    p.add_argument("--delimiter", metavar="CHAR", help="the table's delimiter: , ; tab or | (default: sniffed)")
    p.add_argument("--target", metavar="COLUMN", help=target_help)
    p.add_argument("--part", choices=["test", "train"], default="test", help="for sources with a test part")
