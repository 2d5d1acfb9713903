"""``fit`` on tables: raw columns and text labels become the arrays the loop trains on.

When ``fit`` is given a table (a DataFrame, a dict of columns, a structured array), text labels,
or ``preprocess=True``/a ``Preprocessor``, this module

- fits the model's ``Preprocessor`` on the *training* rows only: with ``validation_split`` the
  held-out rows are the very ones the loop will hold out (the same generator state and draw), so
  no statistic sees a validation row;
- encodes X (and ``validation_data``'s X) with it, and class names as 0..k−1 (sorted);
- hands back what the model keeps (``preprocessor``, ``classes``), assigned by the trainer only
  once every check has passed.

A model that already has a fitted preprocessor (trained before, or loaded from a file) keeps it:
refitting would change the inputs under trained weights.
"""

from __future__ import annotations

import copy
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..datasets.columns import as_columns, index_like, is_table
from ..nn.model import Sequential
from ..nn.preprocess import Preprocessor, encode_labels, is_label_array


@dataclass
class Prepared:
    X: Any
    y: Any
    validation_data: Any
    class_weight: Any
    preprocessor: Preprocessor | None
    classes: list[str] | None


def validation_rows(n: int, fraction: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray] | None:
    """(held-out rows, training rows) exactly as the loop draws them (``data.split_validation``), or None for a
    fraction the loop will refuse."""
    if not (isinstance(fraction, (int, float)) and 0 < fraction < 1):
        return None
    n_val = round(n * fraction)
    if n_val < 1 or n_val >= n:
        return None
    perm = rng.permutation(n)
    return np.sort(perm[:n_val]), np.sort(perm[n_val:])


def prepare(model: Sequential, X: Any, y: Any, *, preprocess: Any, validation_data: Any, validation_split: float,
            class_weight: Any, rng: np.random.Generator) -> Prepared | None:
    """The encoded inputs and labels, or None when nothing is to be done (arrays, numeric labels, no
    preprocessor): then ``fit`` runs exactly as before."""
    if preprocess is not None and not isinstance(preprocess, (bool, Preprocessor)):
        raise TypeError(f"fit: preprocess must be None (on for tables), True, False or a Preprocessor, got "
                        f"{type(preprocess).__name__}.")
    table, labels = is_table(X), is_label_array(y)
    pre = _choose(model, preprocess, table)
    if pre is None and not table and not labels:
        return None
    if pre is None:  # preprocessing off: a table must be all numbers, taken as it is
        X = as_columns(X, where="fit").to_matrix(where="fit") if table else X
        if validation_data is not None and is_table(validation_data[0]):
            validation_data = (as_columns(validation_data[0], where="fit").to_matrix(where="fit"), validation_data[1])
    else:
        if not pre.fitted:
            _fit(pre, X, validation_split if validation_data is None else 0.0, rng)
        if pre.n_features != model.n_inputs:
            names = pre.feature_names
            shown = ", ".join(names[:8]) + (", …" if len(names) > 8 else "")
            raise ValueError(f"fit: the table encodes to {pre.n_features} input columns ({shown}) but the network "
                             f"takes {model.n_inputs}; build it with mlp([{pre.n_features}, …]) "
                             "(Preprocessor().fit(X).n_features is the width).")
        X = pre.transform(X)
        if validation_data is not None:
            validation_data = (pre.transform(validation_data[0]), validation_data[1])
    classes = model.classes
    if labels:
        y, classes = encode_labels(y, model.classes, where="fit")
        if validation_data is not None and is_label_array(validation_data[1]):
            validation_data = (validation_data[0], encode_labels(validation_data[1], classes,
                                                                 where="fit (validation)")[0])
        if isinstance(class_weight, dict):
            lookup = {c: k for k, c in enumerate(classes)}
            class_weight = {lookup.get(str(k), k): v for k, v in class_weight.items()}
    return Prepared(X, y, validation_data, class_weight, pre, classes)


def _choose(model: Sequential, preprocess: Any, table: bool) -> Preprocessor | None:
    if preprocess is False:
        return None
    if isinstance(preprocess, Preprocessor):
        return preprocess
    if model.preprocessor is not None:
        return model.preprocessor
    if preprocess is True or table:
        return Preprocessor()
    return None


def _fit(pre: Preprocessor, X: Any, validation_split: float, rng: np.random.Generator) -> None:
    """Fit on the rows the loop will train on (a copy of its generator draws the same split)."""
    n = len(np.asarray(X)) if not is_table(X) else 0
    if is_table(X):
        cols = as_columns(X, where="fit")
        n = cols.n_rows
        for name in index_like(cols):
            warnings.warn(f"fit: column {name!r} looks like a row index (its name or its values 0, 1, 2, …); it is "
                          "no feature, and on sorted data it gives the label away. Leave it out.", UserWarning,
                          stacklevel=6)
    split = validation_rows(n, validation_split, copy.deepcopy(rng)) if validation_split else None
    if split is None:
        pre.fit(X)
    elif is_table(X):
        pre.fit(as_columns(X, where="fit").take(split[1]))
    else:
        pre.fit(np.asarray(X)[split[1]])
