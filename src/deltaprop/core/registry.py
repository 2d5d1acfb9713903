"""Name look-ups with messages that list the valid names and suggest the closest one."""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from typing import TypeVar

T = TypeVar("T")


def normalise(name: str) -> str:
    """Case-, dash- and underscore-insensitive key: "Leaky_ReLU" and "leaky-relu" are the same."""
    return name.lower().replace("-", "").replace("_", "").replace(" ", "")


def lookup(kind: str, name: object, table: Mapping[str, T]) -> T:
    """Return ``table[name]`` or raise ValueError naming the valid choices and the closest match."""
    if not isinstance(name, str):
        raise TypeError(f"{kind} must be given by name (a str) or as an object, got {type(name).__name__}.")
    by_key = {normalise(k): v for k, v in table.items()}
    key = normalise(name)
    if key in by_key:
        return by_key[key]
    choices = sorted(table)
    close = difflib.get_close_matches(name.lower(), choices, n=1, cutoff=0.5)
    hint = f" Did you mean {close[0]!r}?" if close else ""
    raise ValueError(f"unknown {kind} {name!r}; choose one of: {', '.join(choices)}.{hint}")
