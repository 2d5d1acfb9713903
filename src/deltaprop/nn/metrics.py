"""Metrics computed from network outputs ``a`` and targets ``y``: accuracy, MSE, MAE, R², log-loss.

Classification targets may be integer labels (n,) or one-hot rows (n, k); with one output
column, ``a`` is a probability (or score) thresholded at 0.5.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ..core.registry import lookup
from ..core.types import Array

Metric = Callable[[Array, Array], float]


def _labels(y: Array, n_out: int) -> Array:
    y = np.asarray(y)
    if y.ndim == 2 and y.shape[1] > 1:
        return y.argmax(axis=1)
    return y.reshape(-1)


def accuracy(a: Array, y: Array) -> float:
    """Share of samples whose predicted class (argmax, or a ≥ 0.5 for one output) equals the target."""
    a = np.asarray(a)
    if a.ndim == 2 and a.shape[1] > 1:
        pred = a.argmax(axis=1)
    else:
        pred = (a.reshape(-1) >= 0.5).astype(np.intp)
    return float(np.mean(pred == _labels(y, a.shape[-1]).astype(np.intp)))


def _as_columns(a: Array, y: Array) -> tuple[Array, Array]:
    a = np.asarray(a, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    if y.ndim == 1 and a.ndim == 2 and a.shape[1] == 1:
        y = y.reshape(-1, 1)
    if y.ndim == 1 and a.ndim == 2 and a.shape[1] > 1:  # integer labels against k outputs
        y = np.eye(a.shape[1])[y.astype(np.intp)]
    return a, y


def mse(a: Array, y: Array) -> float:
    """Mean over samples and outputs of (a − y)² (scikit-learn's mean_squared_error)."""
    a, y = _as_columns(a, y)
    return float(np.mean((a - y) ** 2))


def mae(a: Array, y: Array) -> float:
    """Mean over samples and outputs of |a − y|."""
    a, y = _as_columns(a, y)
    return float(np.mean(np.abs(a - y)))


def r2(a: Array, y: Array) -> float:
    """Coefficient of determination 1 − SS_res/SS_tot, averaged uniformly over outputs."""
    a, y = _as_columns(a, y)
    ss_res = ((y - a) ** 2).sum(axis=0)
    ss_tot = ((y - y.mean(axis=0)) ** 2).sum(axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        score = np.where(ss_tot > 0, 1 - ss_res / np.where(ss_tot > 0, ss_tot, 1), np.where(ss_res > 0, 0.0, 1.0))
    return float(np.mean(score))


def log_loss(a: Array, y: Array) -> float:
    """Mean cross-entropy of predicted probabilities (binary for one column, categorical otherwise)."""
    a, y = _as_columns(a, y)
    eps = np.finfo(np.float64).eps
    p = np.clip(a, eps, 1 - eps)
    if a.shape[1] == 1:
        return float(-np.mean(y * np.log(p) + (1 - y) * np.log1p(-p)))
    return float(-np.mean((y * np.log(p)).sum(axis=1)))


METRICS: dict[str, Metric] = {"accuracy": accuracy, "acc": accuracy, "mse": mse, "mae": mae, "r2": r2,
                              "log_loss": log_loss}


def get(spec: str | Metric) -> tuple[str, Metric]:
    """(name, function) for a metric name or a callable ``f(a, y) -> float``."""
    if callable(spec):
        return getattr(spec, "__name__", "metric"), spec
    fn = lookup("metric", spec, METRICS)
    return ("accuracy" if fn is accuracy else fn.__name__), fn
