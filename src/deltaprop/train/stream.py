"""Training, evaluation and prediction on data larger than memory (docs/scale.md).

``fit``, ``predict`` and ``evaluate`` stream a memory-mapped array (``np.memmap``,
``np.load(path, mmap_mode="r")``), a Dask array or chunks of rows (``batches.Chunks``, or an
iterable of (X, y) pairs with y=None) batch by batch: each batch is converted to the model's dtype
and checked on its own, so the anonymous memory is a few batches plus the model, never
proportional to the data. In-memory arrays keep the exact in-memory path.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np

from ..core.types import Array
from ..core.validation import check_targets, check_X
from ..nn import losses as losses_mod
from ..nn import metrics as metrics_mod
from .batches import Batch, ChunkBatches, Chunks, MappedBatches, is_dask

__all__ = ["StreamedData", "evaluate_batches", "predict_batches", "stream"]

#: metrics that are means over samples: a batch-weighted mean of them is the whole data's value
DECOMPOSABLE = (metrics_mod.accuracy, metrics_mod.mse, metrics_mod.mae, metrics_mod.log_loss)
#: rows per batch for evaluation and prediction when none is given
EVAL_BATCH = 4096


class StreamedData:
    """Streamed X and y checked for what can be checked without reading them (shape, dtype, row
    counts); the values are checked batch by batch. ``source`` makes the training batches."""

    def __init__(self, model: Any, loss: losses_mod.Loss, X: Any, y: Any, *, where: str, name: str = "X") -> None:
        self.model, self.loss, self.where = model, loss, where
        if isinstance(X, Chunks) or (not isinstance(X, np.memmap) and not is_dask(X)):
            self.chunks: Chunks | None = X if isinstance(X, Chunks) else Chunks(X, y)
            self.X = self.y = None
            if self.chunks.lengths is None:
                self.chunks.lengths = self._first_pass()
            self.n = int(sum(self.chunks.lengths))
        elif is_dask(X):
            self.chunks = Chunks(X, y)
            self.X = self.y = None
            self.n = int(sum(self.chunks.lengths or ()))
            self._check_shape(X.shape, name)
        else:
            self.chunks = None
            self._check_shape(X.shape, name)
            if np.dtype(X.dtype).kind not in "biuf":
                raise TypeError(f"{where}: {name} must be numeric, got a memory-mapped array of dtype {X.dtype}.")
            if y is None:
                raise TypeError(f"{where}: y is None; pass the targets of the memory-mapped {name} (an array or "
                                "another memory-mapped file of the same rows).")
            self.X, self.y, self.n = X, y if isinstance(y, np.memmap) else np.asarray(y), len(X)
            if len(self.y) != self.n:
                raise ValueError(f"{where}: X has {self.n} samples but y has {len(self.y)}; they must have one row "
                                 "each.")
        if self.n == 0:
            raise ValueError(f"{where}: {name} has 0 samples; pass at least one row.")

    def _check_shape(self, shape: tuple[int, ...], name: str) -> None:
        if len(shape) != 2:
            raise ValueError(f"{self.where}: expected {name} of shape (n_samples, n_features), got shape {shape}; "
                             "flatten each sample first.")
        if shape[1] != self.model.n_inputs:
            raise ValueError(f"{self.where}: expected {name} of shape (n, {self.model.n_inputs}), got {shape}; the "
                             f"model's first layer takes {self.model.n_inputs} features.")

    def _first_pass(self) -> list[int]:
        """Read the chunks once: their lengths, and each one's values checked."""
        assert self.chunks is not None
        lengths = []
        for X, y in self.chunks.iterate():
            self.prepare(np.asarray(X), y)
            lengths.append(len(X))
        return lengths

    def prepare(self, X: Array, y: Any) -> tuple[Array, Array]:
        """One batch's X and targets in the model's dtype, checked (finite, labels in range)."""
        model = self.model
        Xb = check_X(X, dtype=model.dtype, n_features=model.n_inputs, where=self.where)
        return Xb, check_targets(model, self.loss, y, len(Xb), where=self.where)

    def source(self, batch_size: int | None, weights: Array | None = None,
               rows: Array | None = None) -> MappedBatches | ChunkBatches:
        """The training batches (all rows, or ``rows`` of a memory-mapped array)."""
        n = self.n if rows is None else len(rows)
        size = n if batch_size is None else min(batch_size, n)
        if self.chunks is not None:
            return ChunkBatches(self.chunks, n, size, self.prepare, self.model.dtype)
        return MappedBatches(self.X, self.y, weights, rows, size, self.prepare, self.model.dtype)  # type: ignore


def stream(model: Any, loss: losses_mod.Loss | None, X: Any, y: Any, *, where: str,
           batch_size: int | None = None) -> MappedBatches | ChunkBatches:
    """Batches in stored order for evaluation or prediction (``y=None``: no targets, for ``predict``)."""
    if y is None and not isinstance(X, Chunks) and (isinstance(X, np.memmap) or is_dask(X)):
        y = np.broadcast_to(np.zeros(1, dtype=np.int8), (X.shape[0],))  # a stand-in that takes no memory
    data = StreamedData(model, loss or losses_mod.get("mse"), X, y, where=where)
    return data.source(batch_size or EVAL_BATCH)


def predict_batches(model: Any, source: MappedBatches | ChunkBatches) -> Array:
    """Outputs a(L) for every row of ``source``, one batch at a time (n × outputs in memory)."""
    out = np.empty((source.n, model.n_outputs), dtype=model.dtype)
    start = 0
    for batch in source.in_order():
        m = len(batch.X)
        out[start:start + m] = model.forward(batch.X, training=False)
        start += m
    return out


def evaluate_batches(model: Any, batches: Iterator[Batch], loss: losses_mod.Loss, metrics: Sequence[Any] = (),
                     reduce: Any = None) -> dict[str, float]:
    """{"loss": L, <metric>: value, …} over ``batches``, dropout off.

    The loss and the metrics that are means over samples (accuracy, MSE, MAE, log-loss) are
    batch-weighted sums divided by the number of rows; other metrics (R², your own functions) see
    all outputs and targets at once (n × outputs in memory). ``reduce(sums) -> sums`` adds the sums
    of several processes (distributed training); there the other metrics are the processes' values
    weighted by their rows."""
    fns = [metrics_mod.get(m) for m in metrics]
    sums = [0.0] * (2 + len(fns))
    kept: list[tuple[Array, Array]] = []
    for batch in batches:
        m = len(batch.X)
        if m == 0:
            continue
        a = model.forward(batch.X, training=False)
        value = model.output_delta(loss, a, batch.Y, prepared=True)[0] if loss.fuses_with else \
            loss.value(a, batch.Y)
        sums[0] += value * m if loss.reduction == "mean" else value
        sums[1] += m
        for k, (_, fn) in enumerate(fns):
            if fn in DECOMPOSABLE:
                sums[2 + k] += fn(a, batch.Y) * m
        if any(fn not in DECOMPOSABLE for _, fn in fns):
            kept.append((a.copy(), batch.Y.copy()))
    whole = {k: float(fn(np.concatenate([a for a, _ in kept]), np.concatenate([t for _, t in kept])))
             for k, (_, fn) in enumerate(fns) if fn not in DECOMPOSABLE and kept}
    if reduce is not None:  # several processes: their values of the other metrics weighted by their rows
        for k, value in whole.items():
            sums[2 + k] = value * sums[1]
        sums = reduce(sums)
        whole = {k: sums[2 + k] / sums[1] for k in whole}
    n = sums[1]
    out = {"loss": float(sums[0] / n if loss.reduction == "mean" else sums[0])}
    for k, (name, fn) in enumerate(fns):
        out[name] = float(sums[2 + k] / n) if fn in DECOMPOSABLE else whole.get(k, math.nan)
    return out
