"""The ``deltaprop`` command: the top-level parser and ``main``. Each command lives in a module of its own
(``add_parser`` adds its parser, ``run`` carries it out); the CLI parses arguments and calls the library.

Every command has ``--help`` with examples. A mistake in the input (a missing file, a malformed
CSV, an unknown option value, an unknown activation) ends with one line ``deltaprop: error: …``
and exit status 2, never a traceback; set DELTAPROP_DEBUG=1 to see the traceback instead."""

from __future__ import annotations

import argparse
import os
import sys
import warnings
from collections.abc import Sequence

from .. import __version__
from . import demo, diagram, evaluate, explain, gradcheck, info, playground, plot, predict, train
from .demo import DEMOS
from .parser import EPILOG_DEBUG, Formatter, Parser

COMMANDS = (demo, train, evaluate, predict, explain, diagram, gradcheck, plot, info, playground)
__all__ = ["DEMOS", "build_parser", "main"]


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(prog="deltaprop", formatter_class=Formatter,
                    description="Multilayer perceptrons trained with textbook backpropagation.",
                    epilog="examples:\n  deltaprop demo\n  deltaprop train --data moons --epochs 100 "
                           "--out moons.safetensors\n  deltaprop explain\n  deltaprop COMMAND --help\n\n"
                           + EPILOG_DEBUG)
    parser.add_argument("--version", action="version", version=f"deltaprop {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)
    for command in COMMANDS:
        command.add_parser(sub)
    return parser


def _one_line(err: BaseException) -> str:
    if isinstance(err, OSError) and err.filename is not None and err.strerror:
        return f"{err.strerror}: {err.filename}"
    return cli_words(" ".join(str(err).split())) or type(err).__name__


#: the library's words for a setting → the command line's (messages name Python arguments)
_PHRASES = (("features=[...]", "--features A,B"), ("(drop=[...] / --drop)", "(--drop)"), ("drop=[...]", "--drop X"),
            ("pass classification=True", "pass --task classification"), ("leave out strict", "leave out --strict"))


def cli_words(message: str) -> str:
    """``message`` with Python arguments (validation_split=0.9, features=[...]) written as flags."""
    import re

    from .config import SETTINGS

    for python, flag in _PHRASES:
        message = message.replace(python, flag)
    names = "|".join(sorted(SETTINGS, key=len, reverse=True))
    return re.sub(rf"(?<![\w.-])({names})=(?=\S)", lambda m: f"--{m.group(1).replace('_', '-')} ", message)


def _show_warning(message: Warning | str, category: type[Warning], *args: object, **kwargs: object) -> None:
    """A warning as one line ``deltaprop: warning: …`` on stderr (no file and line of the library)."""
    print(f"deltaprop: warning: {cli_words(' '.join(str(message).split()))}", file=sys.stderr)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("always", UserWarning)
            warnings.showwarning = _show_warning
            return int(args.func(args))
    except KeyboardInterrupt as err:
        from ..train.interrupt import TrainingInterrupted, signal_name

        if not isinstance(err, TrainingInterrupted):
            print("deltaprop: interrupted", file=sys.stderr)
            return 130
        then = (f"checkpoint {err.checkpoint} holds it; continue with the same command and --resume {err.checkpoint}"
                if err.checkpoint else "pass --checkpoint FILE to be able to resume an interrupted run")
        print(f"deltaprop: interrupted by {signal_name(err.signum)} after step {err.step} (epoch {err.epoch}); "
              f"{then}.", file=sys.stderr)
        return 128 + err.signum
    except BrokenPipeError:  # the reader went away (deltaprop … | head): stop quietly
        sys.stdout = open(os.devnull, "w")  # the recipe of the Python docs (signal: "Note on SIGPIPE")
        return 141
    except (ValueError, TypeError, OSError, ImportError, FloatingPointError) as err:
        if os.environ.get("DELTAPROP_DEBUG"):
            raise
        print(f"deltaprop: error: {_one_line(err)}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
