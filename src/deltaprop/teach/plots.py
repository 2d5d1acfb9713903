"""Figures of a training run: loss and metric curves, decision boundaries, first-layer weights,
confusion matrices and per-layer gradient norms. PNG or SVG, chosen by the file's extension.

matplotlib is optional (``pip install "deltaprop[plots]"``) and imported inside the functions;
figures are built with the object-oriented API (``matplotlib.figure.Figure``, rendered by Agg),
so nothing here touches pyplot's global state or the interactive backend. Every function returns
the Figure and, given ``path``, also writes it there.

A history is a ``History``, a dict of per-epoch lists, or a file written by ``save_history``
(JSON ``{"epoch": [...], "loss": [...], ...}`` or CSV with a header row).
"""

from __future__ import annotations

import csv
import json
import math
import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..core.types import Array

FORMATS = (".png", ".svg")
_CLASS_COLORS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
                 "#bcbd22", "#17becf"]


# ---------------------------------------------------------------------------------------------
# History files (no matplotlib needed)
# ---------------------------------------------------------------------------------------------
def history_dict(history: Any) -> dict[str, list[float]]:
    """Per-epoch lists {"epoch": [1, 2, …], "loss": […], "val_loss": […], …} from a History, a dict or a file."""
    if isinstance(history, (str, os.PathLike)):
        return load_history(history)
    if hasattr(history, "history") and hasattr(history, "epoch"):  # a History: epochs counted from 0
        logs, epochs = history.history, [int(e) + 1 for e in history.epoch]
    elif isinstance(history, Mapping):
        logs, epochs = history, history.get("epoch")
    else:
        logs, epochs = None, None
    if not isinstance(logs, Mapping) or not logs:
        raise TypeError(f"history must be a deltaprop History, a dict of per-epoch lists or a file path, "
                        f"got {type(history).__name__}.")
    out = {str(k): [float(v) for v in values] for k, values in logs.items() if k != "epoch"}
    n = max(len(v) for v in out.values())
    return {"epoch": [int(e) for e in epochs] if epochs else list(range(1, n + 1)), **out}


def save_history(history: Any, path: str | os.PathLike[str]) -> Path:
    """Write a history as JSON (``.json``) or CSV (``.csv``); epochs are numbered from 1."""
    import io

    from ..io.model_file import write_text_atomic

    path = Path(path)
    data = history_dict(history)
    if path.suffix.lower() == ".json":
        text = json.dumps(data, indent=1) + "\n"
    elif path.suffix.lower() == ".csv":
        keys = list(data)
        buf = io.StringIO(newline="")
        writer = csv.writer(buf)
        writer.writerow(keys)
        for row in zip(*(data[k] for k in keys)):
            writer.writerow([repr(v) if isinstance(v, float) else v for v in row])
        text = buf.getvalue()
    else:
        raise ValueError(f"save_history: {path.name!r} must end in .json or .csv.")
    write_text_atomic(path, text, where="save_history")  # the old file survives a failed write
    return path


def load_history(path: str | os.PathLike[str]) -> dict[str, list[float]]:
    """Read a history written by ``save_history`` (JSON or CSV), checking that it holds numbers."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"load_history: no such file {str(path)!r}.")
    suffix = path.suffix.lower()
    if suffix == ".json":
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError) as err:
            raise ValueError(f"load_history: {path.name} is not valid JSON ({err}).") from None
    elif suffix == ".csv":
        with open(path, newline="", encoding="utf-8") as f:
            rows = list(csv.reader(f))
        if len(rows) < 2:
            raise ValueError(f"load_history: {path.name} needs a header row and at least one epoch.")
        data = {k: [row[j] for row in rows[1:]] for j, k in enumerate(rows[0])}
    else:
        raise ValueError(f"load_history: {path.name!r} must end in .json or .csv.")
    if not isinstance(data, dict) or "loss" not in data:
        raise ValueError(f"load_history: {path.name} must hold per-epoch lists with at least a 'loss' key.")
    try:
        out = {str(k): [float(v) for v in values] for k, values in data.items()}
    except (TypeError, ValueError):
        raise ValueError(f"load_history: {path.name} holds values that are not numbers.") from None
    if len({len(v) for v in out.values()}) != 1:
        raise ValueError(f"load_history: the lists in {path.name} have different lengths.")
    out.setdefault("epoch", list(range(1, len(out["loss"]) + 1)))
    return out


# ---------------------------------------------------------------------------------------------
# Figures
# ---------------------------------------------------------------------------------------------
def _figure(figsize: tuple[float, float]) -> Any:
    try:
        from matplotlib.figure import Figure
    except ImportError:
        raise ImportError('deltaprop.plots needs matplotlib: pip install "deltaprop[plots]"') from None
    return Figure(figsize=figsize, layout="constrained")


def save(fig: Any, path: str | os.PathLike[str], *, dpi: int = 120) -> Path:
    """Write ``fig`` as PNG or SVG (by the extension of ``path``), atomically: the old file survives a failed write."""
    import io

    from ..io.model_file import atomic_write

    path = Path(path)
    if path.suffix.lower() not in FORMATS:
        raise ValueError(f"plots: {path.name!r} must end in .png or .svg.")
    buf = io.BytesIO()
    fig.savefig(buf, format=path.suffix.lower()[1:], dpi=dpi, facecolor="white")
    atomic_write(path, buf.getvalue(), where="plots")
    return path


def _finish(fig: Any, path: str | os.PathLike[str] | None) -> Any:
    if path is not None:
        save(fig, path)
    return fig


def plot_history(history: Any, *, path: str | os.PathLike[str] | None = None, title: str | None = None) -> Any:
    """Loss (and each metric) per epoch, training and validation side by side in one panel each."""
    data = history_dict(history)
    epochs = data["epoch"]
    names = [k for k in data if k not in ("epoch", "lr") and not k.startswith("val_")]
    fig = _figure((5.2 * len(names), 3.8))
    axes = fig.subplots(1, len(names), squeeze=False)[0]
    for ax, name in zip(axes, names):
        ax.plot(epochs, data[name], color="#1f77b4", lw=1.8, label=f"training {name}")
        if f"val_{name}" in data:
            ax.plot(epochs, data[f"val_{name}"], color="#ff7f0e", lw=1.8, ls="--", label=f"validation {name}")
        values = [v for k in (name, f"val_{name}") if k in data for v in data[k] if math.isfinite(v)]
        if name == "loss" and values and min(values) > 0 and max(values) / min(values) > 100:
            ax.set_yscale("log")
        ax.set_xlabel("epoch")
        ax.set_ylabel(name.replace("_", " "))
        ax.set_title(name.replace("_", " "))
        ax.grid(alpha=0.3)
        ax.legend()
    if title:
        fig.suptitle(title)
    return _finish(fig, path)


def plot_decision_boundary(model: Any, X: Any, y: Any, *, path: str | os.PathLike[str] | None = None,
                           class_names: Sequence[str] | None = None, feature_names: Sequence[str] | None = None,
                           transform: Callable[[Array], Array] | None = None, resolution: int = 250,
                           title: str | None = None, data_label: str | None = None) -> Any:
    """The classes the model predicts over the plane, with the data points on top (2-D inputs only).

    ``transform`` maps raw points to what the model takes (e.g. the standardisation used in
    training); the axes stay in the raw units. ``data_label`` (e.g. "test data") goes in the title."""
    X = np.asarray(X, dtype=np.float64)
    if X.ndim != 2 or X.shape[1] != 2:
        raise ValueError(f"plot_decision_boundary: X must have 2 features (shape (n, 2)), got {X.shape}.")
    labels = _labels(y)
    pad = 0.08 * (X.max(axis=0) - X.min(axis=0)) + 1e-9
    lo, hi = X.min(axis=0) - pad, X.max(axis=0) + pad
    gx, gy = np.meshgrid(np.linspace(lo[0], hi[0], resolution), np.linspace(lo[1], hi[1], resolution))
    grid = np.column_stack([gx.ravel(), gy.ravel()])
    a = model.predict(transform(grid), preprocess=False) if transform else model.predict(grid)
    from matplotlib.colors import ListedColormap

    k = max(int(labels.max()) + 1, a.shape[1] if a.shape[1] > 1 else 2)
    colors = [_CLASS_COLORS[c % len(_CLASS_COLORS)] for c in range(k)]
    fig = _figure((6.0, 5.0))
    ax = fig.subplots()
    if a.shape[1] == 1:  # one sigmoid unit: shade the probability of class 1, draw the 0.5 contour
        p = a[:, 0].reshape(gx.shape)
        from matplotlib.colors import LinearSegmentedColormap

        cmap = LinearSegmentedColormap.from_list("two", [colors[0], "#ffffff", colors[1]])
        filled = ax.contourf(gx, gy, p, levels=np.linspace(0, 1, 11), cmap=cmap, alpha=0.45)
        ax.contour(gx, gy, p, levels=[0.5], colors="k", linewidths=1.2)
        fig.colorbar(filled, ax=ax, label="predicted P(class 1)")
    else:
        pred = a.argmax(axis=1).reshape(gx.shape)
        ax.contourf(gx, gy, pred, levels=np.arange(k + 1) - 0.5, cmap=ListedColormap(colors), alpha=0.3)
        ax.contour(gx, gy, pred, levels=np.arange(k) + 0.5, colors="k", linewidths=0.8)
    names = [f"class {c}" if str(c).isdigit() else str(c) for c in (class_names or range(k))]
    for c in np.unique(labels):
        pts = X[labels == c]
        ax.scatter(pts[:, 0], pts[:, 1], s=16, color=colors[int(c)], edgecolors="k", linewidths=0.4,
                   label=names[int(c)] if int(c) < len(names) else f"class {c}")
    fx, fy = feature_names if feature_names is not None else ("x₁", "x₂")
    ax.set_xlabel(fx)
    ax.set_ylabel(fy)
    acc = float(np.mean(_predicted(model.predict(transform(X), preprocess=False) if transform else model.predict(X))
                        == labels))
    where = f", {data_label}" if data_label else ""
    ax.set_title(title or f"decision boundary{where} (accuracy {acc:.1%}, n = {len(X)})")
    ax.legend(loc="best", framealpha=0.85)
    return _finish(fig, path)


def plot_first_layer(model: Any, *, image_shape: tuple[int, int] | None = None, n: int = 32,
                     path: str | os.PathLike[str] | None = None, title: str | None = None) -> Any:
    """The first Dense layer's weights, one image per hidden unit: W[j] reshaped to ``image_shape``
    (default: square, e.g. 28×28 for 784 inputs). Red is positive, blue negative, each tile on its own scale."""
    from ..nn.layers import Dense

    dense = next((layer for layer in model.layers if isinstance(layer, Dense)), None)
    if dense is None:  # pragma: no cover - Sequential always has one
        raise ValueError("plot_first_layer: the model has no Dense layer.")
    W = np.asarray(dense.W, dtype=np.float64)
    if image_shape is None:
        side = math.isqrt(W.shape[1])
        if side * side != W.shape[1]:
            raise ValueError(f"plot_first_layer: {W.shape[1]} inputs are not a square image; pass image_shape=(rows, "
                             "cols).")
        image_shape = (side, side)
    if image_shape[0] * image_shape[1] != W.shape[1]:
        raise ValueError(f"plot_first_layer: image_shape {image_shape} has {image_shape[0] * image_shape[1]} pixels "
                         f"but the first layer takes {W.shape[1]} inputs.")
    count = min(n, W.shape[0])
    cols = min(8, count)
    rows = math.ceil(count / cols)
    fig = _figure((1.4 * cols + 0.6, 1.5 * rows + 0.7))
    axes = fig.subplots(rows, cols, squeeze=False)
    for k, ax in enumerate(axes.ravel()):
        ax.set_xticks([])
        ax.set_yticks([])
        if k >= count:
            ax.set_axis_off()
            continue
        v = np.abs(W[k]).max() or 1.0
        ax.imshow(W[k].reshape(image_shape), cmap="RdBu_r", vmin=-v, vmax=v, interpolation="nearest")
        ax.set_title(f"unit {k + 1}", fontsize=8)
    fig.suptitle(title or f"first-layer weights W⁽¹⁾[j] as {image_shape[0]}×{image_shape[1]} images "
                 f"({count} of {W.shape[0]} units; red > 0 > blue)", fontsize=10)
    return _finish(fig, path)


def plot_confusion_matrix(y_true: Any, y_pred: Any, *, class_names: Sequence[str] | None = None,
                          path: str | os.PathLike[str] | None = None, title: str | None = None,
                          data_label: str | None = None) -> Any:
    """Counts of (true class, predicted class); the diagonal is what the model got right."""
    t, p = _labels(y_true), _labels(y_pred)
    if len(t) != len(p):
        raise ValueError(f"plot_confusion_matrix: {len(t)} true labels but {len(p)} predictions.")
    k = int(max(t.max(), p.max())) + 1
    if class_names is not None:
        k = max(k, len(class_names))
    m = np.zeros((k, k), dtype=np.int64)
    np.add.at(m, (t, p), 1)
    names = list(class_names) if class_names is not None else [str(c) for c in range(k)]
    size = max(4.5, 0.5 * k + 2.5)
    fig = _figure((size + 1.0, size))
    ax = fig.subplots()
    im = ax.imshow(m, cmap="Blues")
    fig.colorbar(im, ax=ax, label="samples")
    ax.set_xticks(range(k), names, rotation=45 if max(len(s) for s in names) > 3 else 0, ha="right")
    ax.set_yticks(range(k), names)
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
    if k <= 20:
        for i in range(k):
            for j in range(k):
                ax.text(j, i, str(m[i, j]), ha="center", va="center", fontsize=12 if k <= 5 else 8,
                        color="white" if m[i, j] > m.max() / 2 else "black")
    where = f", {data_label}" if data_label else ""
    ax.set_title(title or f"confusion matrix{where} (accuracy {np.trace(m) / max(m.sum(), 1):.1%}, n = {m.sum()})")
    return _finish(fig, path)


def plot_gradient_norms(monitor: Any, *, path: str | os.PathLike[str] | None = None,
                        title: str | None = None) -> Any:
    """Mean ‖∂L/∂W‖ of each Dense layer per epoch (log scale), from a ``diagnosis.TrainingMonitor``."""
    layers = getattr(monitor, "layers", None)
    if not layers or not layers[0].grad_norm:
        raise ValueError("plot_gradient_norms: the monitor has no records; train with it first.")
    fig = _figure((6.4, 4.0))
    ax = fig.subplots()
    for r in layers:
        ax.plot(range(1, len(r.grad_norm) + 1), r.grad_norm, lw=1.6, label=f"layer {r.name} ({r.activation})")
    ax.set_yscale("log")
    ax.set_xlabel("epoch")
    ax.set_ylabel("mean ‖∂L/∂W‖ per batch")
    ax.set_title(title or "gradient norm per layer")
    ax.grid(alpha=0.3, which="both")
    ax.legend()
    return _finish(fig, path)


def _labels(y: Any) -> Array:
    y = np.asarray(y)
    if y.ndim == 2 and y.shape[1] > 1:
        return y.argmax(axis=1)
    y = y.reshape(-1)
    if not np.issubdtype(y.dtype, np.integer):
        if not np.all(np.isfinite(y)) or not np.all(y == np.round(y)):
            raise ValueError("plots: class labels must be integers 0..k-1 (or one-hot rows).")
    return y.astype(np.intp)


def _predicted(a: Array) -> Array:
    return a.argmax(axis=1) if a.shape[1] > 1 else (a[:, 0] >= 0.5).astype(np.intp)
