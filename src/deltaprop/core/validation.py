"""Checks at the edges (constructors, fit, predict, load): clear errors before any work is done."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np

from .types import Array

if TYPE_CHECKING:
    from ..nn.losses import Loss
    from ..nn.model import Sequential


def as_numeric_array(X: Any, *, where: str, name: str) -> Array:
    """``np.asarray(X)`` for real numbers, or a TypeError/ValueError that names the problem: None, a sparse
    matrix, ragged rows, strings, objects, complex or date values. Never copies a numeric array."""
    if X is None:
        raise TypeError(f"{where}: {name} is None; pass an array with one row per sample.")
    if hasattr(X, "toarray") and hasattr(X, "nnz"):
        raise TypeError(f"{where}: {name} is a sparse matrix; deltaprop works on dense arrays, pass {name}.toarray().")
    try:
        arr = np.asarray(X)
    except ValueError as err:  # NumPy >= 1.24 refuses ragged nested lists
        if "inhomogeneous" not in str(err) and "sequence" not in str(err):
            raise
        raise ValueError(f"{where}: {name} is ragged: its rows have different lengths; pass a rectangular array "
                         "(every row the same number of values).") from None
    if arr.dtype == object:
        try:
            arr = np.asarray(X, dtype=np.float64)
        except (TypeError, ValueError):
            raise TypeError(f"{where}: {name} must be numeric, got an object array (ragged rows, None or mixed "
                            "types?); pass a rectangular array of numbers.") from None
    if np.iscomplexobj(arr):
        raise TypeError(f"{where}: {name} must be real-valued, got complex dtype {arr.dtype}; take .real or abs().")
    if not (np.issubdtype(arr.dtype, np.number) or arr.dtype == bool):
        what = "strings" if arr.dtype.kind in "US" else f"{arr.dtype} values"
        raise TypeError(f"{where}: {name} must be numeric, got dtype {arr.dtype}; encode {what} as numbers first "
                        "(e.g. one-hot columns or integer class labels).")
    return arr


def all_finite(a: Array) -> bool:
    """Whether every value of ``a`` is finite, without a boolean copy of ``a`` in the common case.

    A NaN or ±inf makes the sum of squares (a BLAS dot product, for contiguous arrays) or the sum
    NaN or +inf, so a finite result proves every value finite in one fast pass; only a non-finite
    result, which may also be an overflow, needs the element-wise test."""
    if a.dtype.kind in "iub":
        return True
    with np.errstate(over="ignore", invalid="ignore"):
        if a.flags.c_contiguous and a.dtype.kind == "f" and a.size:
            v = a.reshape(-1)
            total = float(np.dot(v, v))
        else:
            total = float(np.add.reduce(a, axis=None))
    if math.isfinite(total):
        return True
    return bool(np.isfinite(a).all())


def check_X(X: Any, *, dtype: np.dtype, n_features: int | None, where: str, name: str = "X") -> Array:
    """A finite 2-D float array of ``dtype`` (C-ordered), or a ValueError/TypeError that says what to do.

    The caller's array is never modified; it is copied only when the dtype or order must change."""
    if X is None:
        raise TypeError(f"{where}: {name} is None; pass an array of shape (n_samples, n_features).")
    arr = as_numeric_array(X, where=where, name=name)
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
    if not all_finite(out):
        bad = int(np.size(out) - np.count_nonzero(np.isfinite(out)))
        raise ValueError(f"{where}: {name} contains {bad} NaN or infinite value(s); impute or drop them first.")
    return out


def check_sample_weight(sample_weight: Any, n: int, *, where: str, name: str = "sample_weight") -> Array | None:
    """Per-sample weights as a float64 array (n,): finite, non-negative and not all zero; None stays None."""
    if sample_weight is None:
        return None
    w = as_numeric_array(sample_weight, where=where, name=name).astype(np.float64)
    if w.shape != (n,):
        raise ValueError(f"{where}: {name} must have shape ({n},), one weight per sample, got {w.shape}.")
    if not np.isfinite(w).all() or (w < 0).any():
        raise ValueError(f"{where}: {name} must be finite and non-negative; got NaN, infinite or negative values.")
    if not w.any():
        raise ValueError(f"{where}: every {name} is 0, so the loss and every gradient are 0; give the samples that "
                         "count a positive weight.")
    return w


def is_int(value: Any) -> bool:
    """True for Python and NumPy integers (np.int64(5) is an int), False for bools."""
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))


def is_number(value: Any) -> bool:
    """True for Python and NumPy real numbers, False for bools and strings ("0.5" is not a number)."""
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, (bool, np.bool_))


def check_number(where: str, name: str, value: Any, *, low: float | None = None, high: float | None = None,
                 low_open: bool = False, high_open: bool = False, integer: bool = False) -> Any:
    """``value`` as a Python int or float if it is a finite number within the bounds, else a TypeError (not a
    number, e.g. the string "0.5") or ValueError naming ``where`` and ``name``. NumPy scalars are numbers."""
    kind = "an int" if integer else "a number"
    if not (is_int(value) if integer else is_number(value)):
        raise TypeError(f"{where}: {name} must be {kind}, got {type(value).__name__} {value!r}"
                        + ("; pass a number, not a string." if isinstance(value, str) else "."))
    v = int(value) if integer else float(value)
    bad = not math.isfinite(v) or (low is not None and (v <= low if low_open else v < low)) \
        or (high is not None and (v >= high if high_open else v > high))
    if bad:
        parts = []
        if low is not None:
            parts.append(f"{'>' if low_open else '>='} {low:g}")
        if high is not None:
            parts.append(f"{'<' if high_open else '<='} {high:g}")
        what = "an int" if integer else "a finite number"
        if low == 0 and low_open and high is None:
            what, parts = ("a positive int" if integer else "a positive number"), []
        raise ValueError(f"{where}: {name} must be {what}{' ' if parts else ''}{' and '.join(parts)}, got {value!r}.")
    return v


def check_positive_int(where: str, name: str, value: Any, *, allow_none: bool = False) -> int | None:
    if value is None and allow_none:
        return None
    if not is_int(value) or value < 1:
        raise ValueError(f"{where}: {name} must be a positive int, got {value!r}.")
    return int(value)


def check_targets(model: Sequential, loss: Loss, y: Any, n: int, *, where: str) -> Array:
    """Targets as a finite C-ordered array (n, n_outputs) in the model's dtype, or a clear error.

    Integer labels (n,) become one-hot rows for a network with several outputs; a 1-D y becomes a
    column for a single output. Cross-entropy targets must lie in [0, 1]. ``y`` is never modified."""
    from ..nn import losses as losses_mod

    arr = as_numeric_array(y, where=where, name="y")
    if arr.ndim == 0:
        raise ValueError(f"{where}: y is a single value ({arr!r:.40}); pass one target per sample, an array of "
                         f"length {n}.")
    if len(arr) != n:
        raise ValueError(f"{where}: X has {n} samples but y has {len(arr)}; they must have one row each.")
    k = model.n_outputs
    if arr.ndim == 1 and k > 1:
        if not np.all(np.isfinite(arr)) or not np.all(arr == np.round(arr)):
            raise ValueError(f"{where}: the network has {k} outputs, so a 1-D y must hold integer class labels "
                             f"0..{k - 1}; got non-integer values. For regression use one output per target "
                             f"column; for classes, encode them as 0..{k - 1}.")
        low, high = arr.min(), arr.max()
        if low < 0 or high >= k:
            raise ValueError(f"{where}: class labels must lie in 0..{k - 1} for a network with {k} outputs, got "
                             f"labels from {low:g} to {high:g}; renumber the classes (e.g. np.unique(y, "
                             "return_inverse=True)) or give the last layer as many units as there are classes.")
        arr = losses_mod.one_hot(arr, k, dtype=model.dtype)
    elif arr.ndim == 1:
        arr = arr.reshape(-1, 1)
    if arr.ndim != 2 or arr.shape[1] != k:
        shape = np.shape(y) if isinstance(y, np.ndarray) else arr.shape
        raise ValueError(f"{where}: y has shape {shape} but the network has {k} output(s); pass y of shape "
                         f"(n, {k}){' or integer labels (n,)' if k > 1 else ' or (n,)'}.")
    out = np.ascontiguousarray(arr, dtype=model.dtype)
    if not np.isfinite(out).all():
        bad = int(np.size(out) - np.count_nonzero(np.isfinite(out)))
        raise ValueError(f"{where}: y contains {bad} NaN or infinite value(s); drop or impute those samples.")
    if isinstance(loss, (losses_mod.BinaryCrossEntropy, losses_mod.CategoricalCrossEntropy)):
        low, high = float(out.min()), float(out.max())
        if low < 0 or high > 1:
            raise ValueError(f"{where}: {loss.name} needs targets in [0, 1] (class labels 0/1, one-hot rows or "
                             f"probabilities), got values from {low:g} to {high:g}; map the labels to 0..1 (e.g. "
                             "-1/1 → 0/1), or use a regression loss such as 'mse'.")
    return out


def check_loss_output(model: Sequential, loss: Loss, *, where: str) -> None:
    """Refuse pairs of output layer and loss that cannot learn: a cross-entropy after an output that is
    not a probability, or a softmax over a single unit (always 1, so every gradient is 0)."""
    from ..nn.layers import Activation, Dense, Softmax
    from ..nn.losses import BinaryCrossEntropy, CategoricalCrossEntropy

    last = model.layers[-1]
    if isinstance(last, Softmax) and model.n_outputs == 1:
        raise ValueError(f"{where}: the output is a softmax over 1 unit, which is always 1, so nothing can be "
                         "learned; for two classes use 1 unit with a sigmoid output (binary_crossentropy) or 2 "
                         "units with a softmax (integer labels 0/1).")
    if isinstance(loss, (BinaryCrossEntropy, CategoricalCrossEntropy)):
        name = last.name if isinstance(last, Activation) else ("identity" if isinstance(last, Dense)
                                                               else type(last).__name__)
        if name not in ("sigmoid", "softmax"):
            out, what = (("sigmoid", "1 unit per label") if isinstance(loss, BinaryCrossEntropy)
                         else ("softmax", "one unit per class"))
            raise ValueError(f"{where}: loss {loss.name} needs probabilities, but the network's output is "
                             f"{name} (values outside [0, 1]); end the network with a {out} output ({what}), "
                             f"e.g. mlp(..., output_activation={out!r}), or use a regression loss such as 'mse'.")
