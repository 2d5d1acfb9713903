"""The ``deltaprop`` command: one module per command, shared parsing in ``parser``."""

from .main import DEMOS, build_parser, main

__all__ = ["DEMOS", "build_parser", "main"]
