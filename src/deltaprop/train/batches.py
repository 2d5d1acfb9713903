"""Where batches come from: the ``BatchSource`` seam of the training loop.

A source knows how many rows one epoch covers (``n``) and its batch size, draws an epoch's order
from the run's generator, and yields the epoch's mini-batches from a given batch on (so a resumed
run continues mid-epoch). ``ArrayBatches`` serves in-memory arrays; ``SparseRowBatches`` the rows
of a scipy.sparse CSR matrix; ``MappedBatches`` memory-mapped files of any dtype, converted batch by
batch; ``ChunkBatches`` chunks of rows (a sequence or iterable of (X, y) pairs, a Dask array) with
a shuffle buffer; ``distributed.RankBatches`` one process's part of each global batch (docs/scale.md).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass
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
        bs, n = self.batch_size, self.n
        for start in range(first * bs, n, bs):
            yield self.part(order, start, min(start + bs, n))

    def get(self, start: int, order: Array | None) -> Batch:
        return self.part(order, start, min(start + self.batch_size, self.n))

    def part(self, order: Array | None, start: int, stop: int) -> Batch:
        """The rows at positions start..stop of the epoch's ``order`` (at most ``batch_size`` of them)."""
        if order is None and self.rows is None:  # contiguous rows: views, no copy
            w = None if self.weights is None else self.weights[start:stop]
            return Batch(self.X[start:stop], self.Y[start:stop], w)
        idx = order[start:stop] if order is not None else np.arange(start, stop)
        if self.rows is not None:
            idx = self.rows[idx]
        m = stop - start
        if self._buffers is None or len(self._buffers[0]) < m:
            rows = max(m, self.batch_size)
            self._buffers = (xp.empty((rows, self.X.shape[1]), self.X.dtype),
                             xp.empty((rows, self.Y.shape[1]), self.Y.dtype))
        Xb, Yb = self._buffers[0][:m], self._buffers[1][:m]
        # mode="clip": the indices are valid by construction, and the default mode="raise" would first
        # gather into a hidden buffer and then copy it into `out`
        np.take(self.X, idx, axis=0, out=Xb, mode="clip")
        np.take(self.Y, idx, axis=0, out=Yb, mode="clip")
        return Batch(Xb, Yb, None if self.weights is None else self.weights[idx])

    def in_order(self, batch_size: int | None = None) -> Iterator[Batch]:
        """Every row once, in stored order (evaluation, prediction)."""
        step = batch_size or self.batch_size
        for start in range(0, self.n, step):
            yield self.part(None, start, min(start + step, self.n))


class SparseRowBatches(ArrayBatches):
    """Mini-batches of rows of a scipy.sparse CSR matrix X (dense Y). Each batch is a CSR row slice,
    which copies only that batch's nonzeros: memory follows the nonzeros, never n × n_in, and the
    first Dense layer multiplies the sparse rows directly (``Dense.forward``)."""

    def __init__(self, X: Any, Y: Array, weights: Array | None, batch_size: int) -> None:
        super().__init__(X, Y, weights, None, batch_size)

    def part(self, order: Array | None, start: int, stop: int) -> Batch:
        idx: Any = slice(start, stop) if order is None else order[start:stop]
        return Batch(self.X[idx], self.Y[idx], None if self.weights is None else self.weights[idx])


# -- data larger than memory ------------------------------------------------------------------------
Prepare = Callable[[Array, Any], tuple[Array, Array]]  # (raw X rows, raw y rows) -> (X, Y) in the model's dtype


class MappedBatches(ArrayBatches):
    """Mini-batches gathered from arrays that stay where they are: a ``np.memmap`` or
    ``np.load(..., mmap_mode="r")`` of any numeric dtype (uint8 images, float64 tables), and raw
    targets (labels or columns). Each batch's rows are gathered, converted to the model's dtype and
    checked (finite values, valid labels) on their own, so the anonymous memory a run holds is a few
    batches plus the model, whatever the size of the file. The batches equal those of the converted
    arrays in memory: conversion is element by element, so a run is bitwise the in-memory run's."""

    def __init__(self, X: Array, y: Any, weights: Array | None, rows: Array | None, batch_size: int,
                 prepare: Prepare, dtype: Any) -> None:
        super().__init__(X, y, weights, rows, batch_size)
        self.prepare, self.dtype = prepare, np.dtype(dtype)

    def part(self, order: Array | None, start: int, stop: int) -> Batch:
        if order is None and self.rows is None:
            return self.take(slice(start, stop))
        idx = order[start:stop] if order is not None else np.arange(start, stop)
        return self.take(idx if self.rows is None else self.rows[idx])

    def take(self, idx: Array | slice) -> Batch:
        """The rows ``idx`` (an index array or a slice), converted and checked."""
        m = idx.stop - idx.start if isinstance(idx, slice) else len(idx)
        if self._buffers is None or len(self._buffers[0]) < m:
            rows = max(m, self.batch_size)  # the raw rows and their conversion, reused batch after batch
            self._buffers = (xp.empty((rows, self.X.shape[1]), self.X.dtype),
                             xp.empty((rows if self.X.dtype != self.dtype else 0, self.X.shape[1]), self.dtype))
        if isinstance(idx, slice):
            raw, y = self.X[idx], self.Y[idx]
        else:
            raw = self._buffers[0][:m]
            np.take(self.X, idx, axis=0, out=raw, mode="clip")
            y = np.take(self.Y, idx, axis=0)
        if raw.dtype != self.dtype:
            converted = self._buffers[1][:m]
            np.copyto(converted, raw, casting="unsafe")
            raw = converted
        X, Y = self.prepare(raw, y)
        w = None if self.weights is None else self.weights[idx]
        return Batch(X, Y, w)


@dataclass
class ChunkOrder:
    """An epoch's order for a chunked source: the chunks' permutation and the seed of the shuffle buffer."""

    chunks: Array | None
    seed: int | None


class Chunks:
    """Training data as chunks of rows: a sequence or iterable of ``(X, y)`` pairs, or a Dask array.

    Wrap data in ``Chunks`` to set the shuffle buffer; ``fit(model, chunks, None)`` with a bare
    sequence or iterable of pairs uses the defaults. Shuffling is the usual compromise of
    streaming (docs/scale.md): the chunks' order is drawn at random each epoch (for a sequence or
    a Dask array, which can be read in any order), and the rows are shuffled within a buffer of
    ``shuffle_buffer`` rows (default: 16 batches, at least one chunk). A batch mixes rows of the
    chunks in the buffer only, so rows that are stored together (sorted by class, by date) should be
    spread over chunks, or the buffer made larger; with one chunk as large as the data it is a full
    shuffle. Memory: the buffer plus one chunk plus a batch.

    - a sequence (``len`` and ``[i]``): chunk ``i`` is read when it is needed;
    - another iterable whose ``__iter__`` starts over, or a function returning a new iterator of
      pairs: read once per epoch in its own order (a bare generator can be read only once: wrap it);
    - a Dask array ``X`` with ``y`` (Dask or NumPy): one block of rows is computed at a time.
    """

    def __init__(self, data: Any, y: Any = None, *, shuffle_buffer: int | None = None) -> None:
        if shuffle_buffer is not None and (isinstance(shuffle_buffer, bool) or not isinstance(shuffle_buffer, int)
                                           or shuffle_buffer < 1):
            raise ValueError(f"Chunks: shuffle_buffer must be a positive number of rows, got {shuffle_buffer!r}.")
        self.shuffle_buffer = shuffle_buffer
        if is_dask(data):
            X = data.rechunk({1: -1}) if data.ndim == 2 else data
            if y is None:
                raise ValueError("Chunks: a Dask array X needs its targets y (a Dask or NumPy array of the same rows).")
            if any(math.isnan(c) for c in X.chunks[0]):
                X = X.compute_chunk_sizes()
            starts = np.concatenate([[0], np.cumsum(X.chunks[0])]).astype(np.int64)
            self._read = _DaskBlocks(X, y, starts)
            self.lengths: list[int] | None = [int(c) for c in X.chunks[0]]
            self.random_access = True
            return
        if y is not None:
            raise ValueError("Chunks: pass the chunks as (X, y) pairs and y=None, or a Dask array X with y.")
        sequence = hasattr(data, "__len__") and hasattr(data, "__getitem__")
        one_pass = iter(data) is data if hasattr(data, "__iter__") else not callable(data)  # a generator, say
        if not sequence and one_pass:
            raise TypeError("Chunks: the chunks must be readable once per epoch: a list or sequence of (X, y) pairs, "
                            "an iterable whose __iter__ starts over, or a function that returns a new iterator of "
                            f"pairs; got {type(data).__name__}, which can be read only once (wrap the generator in a "
                            "function: Chunks(lambda: make_chunks())).")
        self.random_access = sequence
        self._read = data
        self.lengths = None  # counted by a first pass (stream.StreamedData)

    def read(self, i: int) -> tuple[Any, Any]:
        """Chunk ``i`` (random-access sources)."""
        return self._read[i]

    def iterate(self) -> Iterator[tuple[Any, Any]]:
        """The chunks in stored order."""
        if self.random_access:
            for i in range(len(self._read)):
                yield self._read[i]
        else:
            yield from (self._read() if callable(self._read) and not hasattr(self._read, "__iter__") else self._read)


class _DaskBlocks:
    """Block ``i`` of rows of a Dask array (and the matching rows of y), computed on demand."""

    def __init__(self, X: Any, y: Any, starts: Array) -> None:
        self.X, self.y, self.starts = X, y, starts

    def __len__(self) -> int:
        return len(self.starts) - 1

    def __getitem__(self, i: int) -> tuple[Array, Array]:
        a, b = int(self.starts[i]), int(self.starts[i + 1])
        y = self.y[a:b]
        if is_dask(y):  # one computation: a y derived from X does not compute the block twice
            import dask

            X, y = dask.compute(self.X.blocks[i], y)
        else:
            X = self.X.blocks[i].compute()
        return np.asarray(X), np.asarray(y)


class ChunkBatches:
    """Mini-batches from ``Chunks``: shuffled chunk order, rows shuffled within a buffer (see ``Chunks``).

    Batches do not restart at chunk or buffer boundaries: the rows left over from one buffer open
    the next, so an epoch has ceil(n / batch_size) batches as for arrays, and only its last batch
    may be smaller."""

    def __init__(self, chunks: Chunks, n: int, batch_size: int, prepare: Prepare, dtype: Any) -> None:
        self.chunks, self.n, self.batch_size, self.prepare, self.dtype = chunks, n, batch_size, prepare, np.dtype(dtype)
        self.buffer_rows = chunks.shuffle_buffer or 16 * batch_size

    def draw_order(self, rng: np.random.Generator, shuffle: bool) -> ChunkOrder | None:
        if not shuffle:
            return None
        perm = rng.permutation(len(self.chunks._read)) if self.chunks.random_access else None
        return ChunkOrder(perm, int(rng.integers(2**63)))

    def _chunks_in(self, order: ChunkOrder | None) -> Iterator[tuple[Any, Any]]:
        if order is not None and order.chunks is not None:
            for i in order.chunks:
                yield self.chunks.read(int(i))
        else:
            yield from self.chunks.iterate()

    def batches(self, order: ChunkOrder | None, first: int = 0) -> Iterator[Batch]:
        g = np.random.default_rng(order.seed) if order is not None else None
        B, done, seen = self.batch_size, 0, 0
        pending_X: list[Array] = []
        pending_y: list[Array] = []
        rows = 0
        for Xc, yc in self._chunks_in(order):
            Xc, yc = _pair(Xc, yc)
            pending_X.append(Xc)
            pending_y.append(yc)
            rows += len(Xc)
            seen += len(Xc)
            if rows < self.buffer_rows:
                continue
            Xg, yg = _shuffled(pending_X, pending_y, g)
            full = (len(Xg) // B) * B
            for s in range(0, full, B):
                if done >= first:
                    yield self._batch(Xg[s:s + B], yg[s:s + B])
                done += 1
            pending_X, pending_y, rows = [Xg[full:]], [yg[full:]], len(Xg) - full
        if rows:
            Xg, yg = _shuffled(pending_X, pending_y, g)
            for s in range(0, len(Xg), B):
                if done >= first:
                    yield self._batch(Xg[s:s + B], yg[s:s + B])
                done += 1
        if seen != self.n:
            raise ValueError(f"fit: the chunks held {seen} rows this epoch, not the {self.n} of the first pass; a "
                             "source must give the same rows every epoch.")

    def _batch(self, X: Array, y: Array) -> Batch:
        if X.dtype != self.dtype:
            X = X.astype(self.dtype)
        X, Y = self.prepare(X, y)
        return Batch(X, Y, None)

    def in_order(self, batch_size: int | None = None) -> Iterator[Batch]:
        """Every row once, in stored order (evaluation, prediction)."""
        step = batch_size or self.batch_size
        for Xc, yc in self.chunks.iterate():
            Xc, yc = _pair(Xc, yc)
            for s in range(0, len(Xc), step):
                yield self._batch(Xc[s:s + step], yc[s:s + step])


def _pair(X: Any, y: Any) -> tuple[Array, Array]:
    X, y = np.asarray(X), np.asarray(y)
    if len(X) != len(y):
        raise ValueError(f"fit: a chunk has {len(X)} rows of X but {len(y)} of y; each chunk is one (X, y) pair of "
                         "the same rows.")
    return X, y


def _shuffled(Xs: list[Array], ys: list[Array], g: np.random.Generator | None) -> tuple[Array, Array]:
    X = Xs[0] if len(Xs) == 1 else np.concatenate(Xs)
    y = ys[0] if len(ys) == 1 else np.concatenate(ys)
    if g is None:
        return X, y
    p = g.permutation(len(X))
    return X[p], y[p]


def is_dask(a: Any) -> bool:
    """Whether ``a`` is a Dask array (without importing Dask)."""
    return type(a).__module__.split(".")[0] == "dask" and hasattr(a, "chunks") and hasattr(a, "compute")


def is_streamed(X: Any, y: Any = None) -> bool:
    """Whether ``fit``/``predict``/``evaluate`` stream ``X`` batch by batch instead of converting it whole:
    a memory-mapped array, a Dask array, or chunks (``Chunks``, or an iterable of (X, y) pairs with y=None)."""
    if isinstance(X, (np.memmap, Chunks)) or is_dask(X):
        return True
    return y is None and not isinstance(X, np.ndarray) and _looks_like_chunks(X)


def _looks_like_chunks(X: Any) -> bool:
    if isinstance(X, (str, bytes)) or hasattr(X, "__array__") or hasattr(X, "shape"):
        return False
    if hasattr(X, "__getitem__") and hasattr(X, "__len__"):
        try:
            first = X[0]
        except (IndexError, KeyError, TypeError):
            return False
        return isinstance(first, tuple) and len(first) == 2 and np.ndim(first[0]) == 2
    return hasattr(X, "__iter__") or callable(X)  # an iterable, iterator or function giving (X, y) pairs
