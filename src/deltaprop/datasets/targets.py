"""One rule for what a target is, whatever the source (a CSV, an NPZ, a built-in data set, MNIST files).

- ``task="regression"``: numbers are regressed; a text target is refused.
- ``task="classification"``: every distinct value is a class (sorted: numbers by value, text
  alphabetically; ``y`` holds their indices 0..k−1).
- ``task="auto"`` (the default): text and integers with at most ``MAX_AUTO_CLASSES`` (20) distinct
  values are classes; other numbers are a regression; text with more distinct values is refused
  (pass ``task="classification"`` to mean it).
- In every task but regression, a target whose values are all different (more than 20 rows, text or
  integers) is refused: it is an ID, not something to predict, and would build one output per row.

So the number of classes, and with it the size of the network's last layer, is bounded by the data's
own repetitions unless the user asks for a classification explicitly.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..core.types import Array

TASKS = ("auto", "classification", "regression")
#: the most distinct values that ``task="auto"`` makes classes
MAX_AUTO_CLASSES = 20


def class_names(values: Array) -> list[str]:
    """Names for sorted class values: text as it is, integral numbers without a decimal point."""
    if values.dtype.kind in "US":
        return [str(v) for v in values]
    return [str(int(v)) if float(v).is_integer() else f"{v:g}" for v in values]


def classify_target(y: Any, *, task: str = "auto", source: str, names: list[str] | None = None
                    ) -> tuple[Array, list[str] | None]:
    """(y, classes) under the module's rule: class indices and the class names, or float targets and None.

    ``y`` is a 1-D array of numbers, or of indices into ``names`` when the source already turned a text
    column into classes (a CSV of names)."""
    if task not in TASKS:
        raise ValueError(f"data: task must be one of {', '.join(TASKS)}, got {task!r}.")
    y = np.asarray(y)
    n = len(y)
    if names is not None:  # text labels, already encoded as indices
        if task == "regression":
            raise ValueError(f"data: {source}: the target holds text ({', '.join(names[:3])}, …), which cannot be "
                             "regressed; pass --task classification, or a numeric target column.")
        check_class_count(len(names), n, task, source, text=True)
        return y.astype(np.intp), list(names)
    if y.ndim != 1 or task == "regression" or not n:
        return y.astype(np.float64) if y.dtype.kind == "b" else y, None
    values = np.unique(y)
    integral = bool(np.all(np.isfinite(values)) and np.all(values == np.round(values)))
    if task == "auto" and not (integral and len(values) <= MAX_AUTO_CLASSES):
        if integral and len(values) == n and n > MAX_AUTO_CLASSES:
            check_class_count(len(values), n, task, source, text=False)
        return y.astype(np.float64), None
    check_class_count(len(values), n, task, source, text=False)
    return np.searchsorted(values, y).astype(np.intp), class_names(values)


def encode_like(y: Any, classes: list[str], *, source: str) -> Array:
    """Indices into ``classes`` (names from ``class_names``) for more targets of the same source (a test part)."""
    names = class_names(np.unique(np.asarray(y)))
    lookup = {name: i for i, name in enumerate(classes)}
    unknown = [name for name in names if name not in lookup]
    if unknown:
        raise ValueError(f"data: {source}: the test part has classes {unknown[:5]} that the training part lacks.")
    values = np.unique(np.asarray(y))
    table = np.array([lookup[name] for name in names], dtype=np.intp)
    return table[np.searchsorted(values, y)]


def check_class_count(k: int, n: int, task: str, source: str, *, text: bool) -> None:
    """Refuse an ID-like target (all n > 20 values distinct) and, with ``task="auto"``, text with more than
    ``MAX_AUTO_CLASSES`` distinct values."""
    if k == n and n > MAX_AUTO_CLASSES:
        raise ValueError(f"data: {source}: every one of the {n:,} rows has a target value of its own; that is an ID "
                         "column, not something to predict (a classifier would get one class per row). Choose the "
                         "target column with --target" + (", or pass --task regression for a numeric target."
                                                          if not text else "."))
    if task == "auto" and text and k > MAX_AUTO_CLASSES:
        raise ValueError(f"data: {source}: the target has {k:,} distinct values; at most {MAX_AUTO_CLASSES} become "
                         f"classes automatically. Pass --task classification to train a {k:,}-class classifier, or "
                         "choose another target with --target.")
