"""Checks at the edges (constructors, fit, predict, load): clear errors before any work is done."""

from __future__ import annotations

from typing import Any

import numpy as np

from ._types import Array


def check_X(X: Any, *, dtype: np.dtype, n_features: int | None, where: str, name: str = "X") -> Array:
    """A finite 2-D float array of ``dtype`` (C-ordered), or a ValueError/TypeError that says what to do.

    The caller's array is never modified; it is copied only when the dtype or order must change."""
    if X is None:
        raise TypeError(f"{where}: {name} is None; pass an array of shape (n_samples, n_features).")
    arr = np.asarray(X)
    if arr.dtype == object:
        try:
            arr = np.asarray(X, dtype=np.float64)
        except (TypeError, ValueError):
            raise TypeError(f"{where}: {name} must be numeric, got an object array (ragged rows or mixed "
                            f"types?); pass a rectangular array of numbers.") from None
    if np.iscomplexobj(arr):
        raise TypeError(f"{where}: {name} must be real-valued, got complex dtype {arr.dtype}; take .real or abs().")
    if not (np.issubdtype(arr.dtype, np.number) or arr.dtype == bool):
        raise TypeError(f"{where}: {name} must be numeric, got dtype {arr.dtype}; encode strings as numbers first.")
    if arr.ndim != 2:
        hint = ("use X.reshape(-1, 1) for a single feature or X.reshape(1, -1) for a single sample"
                if arr.ndim == 1 else "flatten each sample first, e.g. X.reshape(len(X), -1)")
        raise ValueError(f"{where}: expected {name} of shape (n_samples, n_features), got shape {arr.shape}; {hint}.")
    if arr.shape[0] == 0:
        raise ValueError(f"{where}: {name} has 0 samples; pass at least one row.")
    if arr.shape[1] == 0:
        raise ValueError(f"{where}: {name} has 0 features; each row needs at least one value.")
    if n_features is not None and arr.shape[1] != n_features:
        raise ValueError(f"{where}: expected {name} of shape (n, {n_features}), got {arr.shape}; the model's "
                         f"first layer takes {n_features} features.")
    out = np.ascontiguousarray(arr, dtype=dtype)
    if not np.isfinite(out).all():
        bad = int(np.size(out) - np.count_nonzero(np.isfinite(out)))
        raise ValueError(f"{where}: {name} contains {bad} NaN or infinite value(s); impute or drop them first.")
    return out


def check_positive_int(where: str, name: str, value: Any, *, allow_none: bool = False) -> int | None:
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{where}: {name} must be a positive int, got {value!r}.")
    return int(value)
