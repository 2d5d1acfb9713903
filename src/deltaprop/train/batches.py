"""Where batches come from: the ``BatchSource`` seam of the training loop.

A source knows how many rows one epoch covers (``n``) and its batch size, draws an epoch's order
from the run's generator, and yields the epoch's mini-batches from a given batch on (so a resumed
run continues mid-epoch). ``ArrayBatches`` serves in-memory arrays and memory-mapped files,
``SparseRowBatches`` the rows of a scipy.sparse CSR matrix; other sources (chunked arrays, one
shard per process) plug in behind the same protocol.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, NamedTuple, Protocol, runtime_checkable

import numpy as np

from ..core.backend import xp
from ..core.types import Array


class Batch(NamedTuple):
    """One mini-batch: inputs X (m, n_in), targets Y (m, n_out) and per-sample loss weights w (m,) or None."""

    X: Array
    Y: Array
    w: Array | None


@runtime_checkable
class BatchSource(Protocol):
    """The contract between the training loop and its data."""

    n: int  #: rows in one epoch
    batch_size: int  #: rows per batch (the last batch of an epoch may be smaller)

    def draw_order(self, rng: np.random.Generator, shuffle: bool) -> Array | None:
        """The epoch's order of rows (drawn from ``rng``), or None to take them as stored."""
        ...

    def batches(self, order: Array | None, first: int = 0) -> Iterator[Batch]:
        """The epoch's batches in ``order``, starting at batch number ``first``."""
        ...


class ArrayBatches:
    """Mini-batches of rows of in-memory (or memory-mapped) arrays, gathered into reused buffers.

    ``rows`` (optional) selects the training rows of X without copying them (validation split);
    ``order`` is an epoch's shuffled permutation of those rows, or None to take them in order."""

    def __init__(self, X: Array, Y: Array, weights: Array | None, rows: Array | None, batch_size: int) -> None:
        self.X, self.Y, self.weights, self.rows, self.batch_size = X, Y, weights, rows, batch_size
        self.n = X.shape[0] if rows is None else len(rows)
        self._buffers: tuple[Array, Array] | None = None

    def draw_order(self, rng: np.random.Generator, shuffle: bool) -> Array | None:
        return rng.permutation(self.n) if shuffle and self.batch_size < self.n else None

    def batches(self, order: Array | None, first: int = 0) -> Iterator[Batch]:
        for start in range(first * self.batch_size, self.n, self.batch_size):
            yield self.get(start, order)

    def get(self, start: int, order: Array | None) -> Batch:
        stop = min(start + self.batch_size, self.n)
        if order is None and self.rows is None:  # contiguous rows: views, no copy
            w = None if self.weights is None else self.weights[start:stop]
            return Batch(self.X[start:stop], self.Y[start:stop], w)
        idx = order[start:stop] if order is not None else np.arange(start, stop)
        if self.rows is not None:
            idx = self.rows[idx]
        if self._buffers is None:
            self._buffers = (xp.empty((self.batch_size, self.X.shape[1]), self.X.dtype),
                             xp.empty((self.batch_size, self.Y.shape[1]), self.Y.dtype))
        m = stop - start
        Xb, Yb = self._buffers[0][:m], self._buffers[1][:m]
        # mode="clip": the indices are valid by construction, and the default mode="raise" would first
        # gather into a hidden buffer and then copy it into `out`
        np.take(self.X, idx, axis=0, out=Xb, mode="clip")
        np.take(self.Y, idx, axis=0, out=Yb, mode="clip")
        return Batch(Xb, Yb, None if self.weights is None else self.weights[idx])


class SparseRowBatches(ArrayBatches):
    """Mini-batches of rows of a scipy.sparse CSR matrix X (dense Y). Each batch is a CSR row slice,
    which copies only that batch's nonzeros: memory follows the nonzeros, never n × n_in, and the
    first Dense layer multiplies the sparse rows directly (``Dense.forward``)."""

    def __init__(self, X: Any, Y: Array, weights: Array | None, batch_size: int) -> None:
        super().__init__(X, Y, weights, None, batch_size)

    def get(self, start: int, order: Array | None) -> Batch:
        stop = min(start + self.batch_size, self.n)
        idx: Any = slice(start, stop) if order is None else order[start:stop]
        return Batch(self.X[idx], self.Y[idx], None if self.weights is None else self.weights[idx])
