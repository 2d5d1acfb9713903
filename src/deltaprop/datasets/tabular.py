"""CSV files: a header row, numeric feature columns and one target column chosen by name.

A target of class names ("setosa", "virginica", …) is encoded as integers 0..k−1 in sorted order;
``Table.classes`` keeps the names and ``Table.decode`` turns predictions back into them. Read
with the standard library's ``csv`` module, so loading a CSV needs neither pandas nor any other
extra; a value that is not a number in a feature column is an error that names the column,
the line and the value.
"""

from __future__ import annotations

import csv
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..core.types import Array

MISSING = {"", "na", "nan", "null", "none", "?"}


@dataclass
class Table:
    """A loaded CSV: ``X`` (n, n_features) float, ``y`` (n,), the column names, and for a class
    target the names of the classes, ``y`` holding their indices."""

    X: Array
    y: Array
    feature_names: list[str]
    target_name: str
    classes: Array | None = None

    def decode(self, y_int: Any) -> Array:
        """Class names for integer labels (e.g. ``model.predict_classes(X)``); the inverse of ``encode``."""
        if self.classes is None:
            raise ValueError(f"decode: the target {self.target_name!r} is numeric, so there are no class names to "
                             "decode to.")
        idx = np.asarray(y_int)
        if idx.size and (not np.issubdtype(idx.dtype, np.integer) or idx.min() < 0 or idx.max() >= len(self.classes)):
            raise ValueError(f"decode: labels must be integers in 0..{len(self.classes) - 1}, got {idx!r}.")
        return self.classes[idx]

    def encode(self, labels: Any) -> Array:
        """Integer labels for class names, as in ``y``."""
        if self.classes is None:
            raise ValueError(f"encode: the target {self.target_name!r} is numeric; it has no classes.")
        names = np.asarray(labels, dtype=str if self.classes.dtype.kind == "U" else self.classes.dtype)
        idx = np.searchsorted(self.classes, names)
        idx = np.clip(idx, 0, len(self.classes) - 1)
        bad = self.classes[idx] != names
        if np.any(bad):
            raise ValueError(f"encode: unknown class(es) {sorted(set(names[bad].tolist()))}; the classes are "
                             f"{self.classes.tolist()}.")
        return idx.astype(np.intp)

    def __iter__(self) -> Any:
        """``X, y = load_csv(...)`` unpacks like the other loaders."""
        return iter((self.X, self.y))


def load_csv(path: str | os.PathLike[str], target: str | None = None, *, features: Sequence[str] | None = None,
             delimiter: str = ",", classification: bool | None = None, dtype: Any = np.float64,
             encoding: str = "utf-8") -> Table:
    """Read a CSV with a header row into a ``Table``.

    - ``target``: the name of the target column (default: the last column).
    - ``features``: the names of the feature columns (default: every other column).
    - ``classification``: encode the target as class indices; by default, when it is not numeric.
    Empty cells and non-numeric feature values are errors that name the column and the line."""
    path = Path(path)
    with open(path, newline="", encoding=encoding) as f:
        rows = list(csv.reader(f, delimiter=delimiter))
    if not rows or not any(cell.strip() for cell in rows[0]):
        raise ValueError(f"load_csv: {path.name} is empty; expected a header row of column names.")
    header = [h.strip() for h in rows[0]]
    body = [(line, row) for line, row in enumerate(rows[1:], start=2) if any(cell.strip() for cell in row)]
    if not body:
        raise ValueError(f"load_csv: {path.name} has a header but no data rows.")
    if len(set(header)) != len(header):
        dupes = sorted({h for h in header if header.count(h) > 1})
        raise ValueError(f"load_csv: {path.name} has duplicate column names {dupes}; rename them.")
    target = header[-1] if target is None else target
    if target not in header:
        raise ValueError(f"load_csv: target column {target!r} is not in {path.name}; the columns are {header}.")
    names = [h for h in header if h != target] if features is None else list(features)
    for name in names:
        if name not in header:
            raise ValueError(f"load_csv: feature column {name!r} is not in {path.name}; the columns are {header}.")
        if name == target:
            raise ValueError(f"load_csv: column {target!r} is both the target and a feature.")
    for line, row in body:
        if len(row) != len(header):
            raise ValueError(f"load_csv: {path.name} line {line} has {len(row)} fields but the header has "
                             f"{len(header)}; check the delimiter (delimiter={delimiter!r}) and quoting.")

    X = np.empty((len(body), len(names)), dtype=dtype)
    for j, name in enumerate(names):
        col = header.index(name)
        for i, (line, row) in enumerate(body):
            X[i, j] = _number(row[col], name, line, path.name)
    raw = [row[header.index(target)].strip() for _, row in body]
    y, classes = _target(raw, target, classification, path.name, body)
    return Table(X=X, y=y, feature_names=names, target_name=target, classes=classes)


def _number(cell: str, column: str, line: int, file: str) -> float:
    text = cell.strip()
    if text.lower() in MISSING:
        raise ValueError(f"load_csv: {file} line {line}: feature column {column!r} has a missing value ({cell!r}); "
                         "impute or drop the row first.")
    try:
        return float(text)
    except ValueError:
        raise ValueError(f"load_csv: {file} line {line}: feature column {column!r} is not numeric (value {cell!r}); "
                         "encode it as numbers (e.g. one-hot) or leave it out with features=[...].") from None


def _target(raw: list[str], name: str, classification: bool | None, file: str,
            body: list[tuple[int, list[str]]]) -> tuple[Array, Array | None]:
    for (line, _), value in zip(body, raw):
        if value.lower() in MISSING:
            raise ValueError(f"load_csv: {file} line {line}: the target {name!r} is missing; drop the row first.")
    try:
        numeric = np.array([float(v) for v in raw])
    except ValueError:
        numeric = None
    if classification is None:
        classification = numeric is None
    if not classification:
        if numeric is None:
            raise ValueError(f"load_csv: target column {name!r} is not numeric; pass classification=True to encode "
                             "its values as classes.")
        return numeric, None
    # numeric class labels sort as numbers (2 before 10), names alphabetically
    values = numeric if numeric is not None else np.array(raw, dtype=str)
    classes, y = np.unique(values, return_inverse=True)
    return y.astype(np.intp).reshape(-1), classes
