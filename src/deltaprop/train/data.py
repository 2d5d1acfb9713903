"""``fit``'s data, prepared before anything changes: X and targets in the model's dtype, per-sample weights,
validation data and the seeded validation split, tables (``tables.py``) and streamed data (``stream.py``),
and the fingerprint a checkpoint keeps of the data."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..core.backend import rng_from, xp
from ..core.types import Array, Seed
from ..core.validation import (
    check_number,
    check_sample_weight,
    check_targets,
    check_X,
    is_int,
)
from ..nn import losses as losses_mod
from ..nn.model import Sequential


def data_fingerprint(X: Array, Y: Array, weights: Array | None) -> str:
    """A BLAKE2b digest of the training data (shapes, dtypes and bytes): a checkpoint stores it and resume
    refuses other data of the same size. One pass over the data, only when checkpointing."""
    import hashlib

    h = hashlib.blake2b(digest_size=16)
    for arr in (X, Y, weights):
        if arr is None:
            h.update(b"none")
            continue
        h.update(f"{arr.shape}{arr.dtype.str}".encode())
        a = np.ascontiguousarray(arr)
        step = max(1, (1 << 24) // max(1, a.itemsize * (a.size // max(1, len(a)))))  # about 16 MB at a time
        for start in range(0, len(a), step):
            h.update(memoryview(a[start:start + step]).cast("B"))
    return h.hexdigest()


def prepare_data(model: Sequential, loss: losses_mod.Loss, X: Any, y: Any, sample_weight: Any, class_weight: Any,
                  validation_data: Any, validation_split: float
                  ) -> tuple[Array, Array, Array | None, Any]:
    """X and targets in the model's dtype, the per-sample weights, and the checked validation data."""
    validation_split = check_number("fit", "validation_split", validation_split)  # a number; the range below
    X = check_X(X, dtype=model.dtype, n_features=model.n_inputs, where="fit")
    Y = prepare_targets(model, loss, y, len(X), where="fit")
    weights = sample_weights(model, loss, sample_weight, class_weight, Y)
    if validation_data is not None and validation_split:
        raise ValueError("fit: pass validation_data or validation_split, not both.")
    val: tuple[Array, Array] | None = None
    if validation_data is not None:
        if not (isinstance(validation_data, (tuple, list)) and len(validation_data) == 2):
            raise ValueError("fit: validation_data must be a pair (X_val, y_val).")
        val = _validation(model, loss, *validation_data)
    elif validation_split:
        if not 0 < validation_split < 1:
            raise ValueError(f"fit: validation_split must be in (0, 1), got {validation_split!r}.")
        n_val = round(len(X) * validation_split)
        if n_val < 1 or n_val >= len(X):
            raise ValueError(f"fit: validation_split={validation_split} leaves {n_val} of {len(X)} samples for "
                             "validation; it must leave at least one sample on each side.")
    return X, Y, weights, val


def training_data(model: Sequential, loss: losses_mod.Loss, X: Any, y: Any, sample_weight: Any, class_weight: Any,
                   validation_data: Any, validation_split: float, preprocess: Any, seed: Seed) -> tuple[Any, ...]:
    """(streamed, tables, X, Y, weights, validation): streamed data (memory-mapped, Dask, chunks) checked
    without reading it, or a table encoded (train/tables.py) and arrays checked in memory."""
    streamed = _streamed_data(model, loss, X, y, sample_weight, class_weight, validation_data, validation_split,
                              preprocess)
    if streamed is not None:
        return streamed, None, None, None, None, None
    from .tables import prepare

    tables = prepare(model, X, y, preprocess=preprocess, validation_data=validation_data,
                     validation_split=validation_split, class_weight=class_weight,
                     rng=rng_from(seed) if seed is not None else model.rng)
    if tables is not None:  # a table or text labels: encoded here
        X, y, validation_data, class_weight = tables.X, tables.y, tables.validation_data, tables.class_weight
    return (None, tables, *prepare_data(model, loss, X, y, sample_weight, class_weight, validation_data,
                                         validation_split))


class _Streamed:
    """Training data that is streamed (memory-mapped, Dask, chunks): checked, then turned into sources."""

    def __init__(self, model: Sequential, loss: losses_mod.Loss, X: Any, y: Any, weights: Array | None,
                 validation_data: Any, validation_split: float) -> None:
        from .stream import StreamedData

        self.data = StreamedData(model, loss, X, y, where="fit")
        self.weights, self.validation_split = weights, validation_split
        self.val: Any = None
        if validation_data is not None:
            self.val = _validation(model, loss, *validation_data)
        if validation_split and self.data.chunks is not None:
            raise ValueError("fit: validation_split needs rows that can be drawn at random; for chunks or a Dask "
                             "array pass validation_data=(X_val, y_val) instead.")

    def sources(self, batch_size: int | None, validation_split: float, rng: np.random.Generator) -> tuple[Any, Any]:
        """The training source and the validation source (the held-out rows of a memory-mapped array
        are read where they are, batch by batch)."""
        if not validation_split or self.val is not None:
            return self.data.source(batch_size, self.weights), self.val
        n_val = round(self.data.n * validation_split)
        perm = rng.permutation(self.data.n)
        from .stream import EVAL_BATCH

        val = self.data.source(EVAL_BATCH, None, np.sort(perm[:n_val]))
        return self.data.source(batch_size, self.weights, np.sort(perm[n_val:])), val


def _streamed_data(model: Sequential, loss: losses_mod.Loss, X: Any, y: Any, sample_weight: Any, class_weight: Any,
                   validation_data: Any, validation_split: float, preprocess: Any) -> _Streamed | None:
    """``_Streamed`` for a memory-mapped array, a Dask array or chunks; None for data held in memory."""
    from .batches import is_streamed

    if not is_streamed(X, y):
        return None
    if preprocess not in (None, False) or (preprocess is None and model.preprocessor is not None):
        raise ValueError("fit: streamed data (memory-mapped, Dask, chunks) goes to the network as it is: a "
                         "preprocessor would need every row in memory. Encode the data beforehand (e.g. "
                         "Preprocessor().fit(sample).transform per chunk) and pass preprocess=False.")
    validation_split = check_number("fit", "validation_split", validation_split)
    if validation_data is not None and validation_split:
        raise ValueError("fit: pass validation_data or validation_split, not both.")
    if validation_split and not 0 < validation_split < 1:
        raise ValueError(f"fit: validation_split must be in (0, 1), got {validation_split!r}.")
    if validation_data is not None and not (isinstance(validation_data, (tuple, list)) and len(validation_data) == 2):
        raise ValueError("fit: validation_data must be a pair (X_val, y_val).")
    weights = None
    if sample_weight is not None or class_weight is not None:
        if not isinstance(X, np.memmap):
            raise ValueError("fit: sample_weight and class_weight need X and y as arrays (in memory or memory-mapped); "
                             "chunks and Dask arrays take none.")
        weights = sample_weights(model, loss, sample_weight, class_weight,
                                  prepare_targets(model, loss, np.asarray(y), len(X), where="fit"))
    return _Streamed(model, loss, X, y, weights, validation_data, validation_split)


def _validation(model: Sequential, loss: losses_mod.Loss, X: Any, y: Any) -> Any:
    """Validation data: checked arrays (X, Y) in memory, or a source streamed batch by batch."""
    from .batches import is_streamed

    if is_streamed(X, y):
        from .stream import stream

        return stream(model, loss, X, y, where="fit (validation)")
    Xv = check_X(X, dtype=model.dtype, n_features=model.n_inputs, where="fit", name="validation X")
    return Xv, prepare_targets(model, loss, y, len(Xv), where="fit (validation)")


def split_validation(X: Array, Y: Array, fraction: float,
                     rng: np.random.Generator) -> tuple[tuple[Array, Array], Array]:
    """A seeded validation split: the held-out rows are copied; the training rows are only indexed."""
    n_val = round(len(X) * fraction)
    perm = rng.permutation(len(X))
    vi, rows = np.sort(perm[:n_val]), np.sort(perm[n_val:])
    return (X[vi], Y[vi]), rows


def prepare_targets(model: Sequential, loss: losses_mod.Loss, y: Any, n: int, *, where: str) -> Array:
    """Targets as a float array (n, n_outputs) in the model's dtype: integer labels become one-hot
    rows for a multi-output network, a 1-D y becomes a column for a single output (checks in
    ``core.validation.check_targets``)."""
    return check_targets(model, loss, y, n, where=where)


def sample_weights(model: Sequential, loss: losses_mod.Loss, sample_weight: Any, class_weight: Any,
                    Y: Array) -> Array | None:
    """Per-sample weights: ``sample_weight`` times the weight of each sample's class, both checked strictly
    (finite; sample weights >= 0, class weights > 0; class keys must be classes of the network)."""
    n = len(Y)
    w = check_sample_weight(sample_weight, n, where="fit")
    if class_weight is None:
        return w
    from ..nn.losses import BinaryCrossEntropy, CategoricalCrossEntropy

    if not isinstance(loss, (BinaryCrossEntropy, CategoricalCrossEntropy)) or (
            isinstance(loss, BinaryCrossEntropy) and Y.shape[1] != 1):
        raise ValueError(f"fit: class_weight applies to classification with one class per sample (a softmax or a "
                         f"single sigmoid output with a cross-entropy loss), not to loss {loss.name} with "
                         f"{Y.shape[1]} output(s); weight samples with sample_weight instead.")
    hard = np.isin(Y, (0, 1)).all() and (Y.shape[1] == 1 or (Y.sum(axis=1) == 1).all())
    if not hard:
        raise ValueError("fit: class_weight needs hard class labels (integer labels, one-hot rows or 0/1), but y "
                         "holds soft or multi-hot targets; weight samples with sample_weight instead.")
    k = max(2, Y.shape[1])
    labels = Y[:, 0].astype(np.intp) if Y.shape[1] == 1 else Y.argmax(axis=1)
    if isinstance(class_weight, str) and class_weight == "balanced":
        counts = np.bincount(labels, minlength=k)
        present = np.count_nonzero(counts)
        table = np.where(counts > 0, n / (present * np.maximum(counts, 1)), 1.0)
    elif isinstance(class_weight, dict):
        table = xp.ones(k)
        for key, value in class_weight.items():
            if not is_int(key) or not 0 <= key < k:
                raise ValueError(f"fit: class_weight has the key {key!r}, but the network's classes are the labels "
                                 f"0..{k - 1}; use those as keys.")
            table[int(key)] = check_number("fit", f"class_weight[{key!r}]", value, low=0, low_open=True)
    else:
        raise ValueError(f"fit: class_weight must be a dict {{label: weight}} or 'balanced', got {class_weight!r}.")
    cw = table[labels]
    return cw if w is None else w * cw
