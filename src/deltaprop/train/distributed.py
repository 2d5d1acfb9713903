"""Data-parallel training on MPI (mpi4py): several processes compute one update together.

Run the same program on every rank (``mpiexec -n 4 deltaprop train … --distributed``, or
``mpiexec -n 4 python script.py`` calling ``fit_distributed``). Each step, every rank computes the
gradient of its part of the global mini-batch; one all-reduce sums them, so every rank applies the
same update to the same weights (docs/scale.md):

    g = (1/B) Σ_r Σ_{i ∈ part r} ∇ℓ_i = Σ_r (m_r / B) g_r,    B = Σ_r m_r,

where g_r is rank r's gradient of the mean loss over its m_r rows. Each rank sends m_r·g_r, and the
summed vector is divided by B: the divisor is the global batch size, so unequal parts are exact
(up to the order of floating-point additions). The same all-reduce carries the batch's loss, metric
sums and row count, so every rank sees the global values (and stops together if training diverges).

Two layouts of the data:

- ``layout="shared"``: every rank reads the same data (a memory-mapped file costs nothing to open
  on every rank). The shared seed gives every rank the same permutation and each takes its part of
  each global batch, so the union of the parts is the single-process batch: the run equals the
  single-process run with the same arguments (to rounding, float64 to 1e-12).
- ``layout="shard"``: each rank passes its own rows (a shard no other rank holds). Each epoch has
  ceil(N / batch_size) steps for the N rows of all shards; at each step every rank contributes an
  equal share of its own shuffled shard, so a global batch holds about ``batch_size`` rows, drawn
  in proportion to the shards' sizes.

Initial weights, the optimizer state and the generator come from rank 0. Rank 0 alone writes the
checkpoint (pass the other outputs only there: ``is_root``). A rank that raises prints the error with
its rank and aborts the whole job (``MPI_Abort``): no rank waits forever in an all-reduce. Ctrl-C or
SIGTERM on any rank stops every rank after the same step (the signal travels in the all-reduce);
rank 0 writes the checkpoint, and the run resumes from it.
"""

from __future__ import annotations

import sys
import time
import traceback
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, nullcontext
from typing import Any

import numpy as np

from ..core.types import Array
from .batches import Batch, BatchSource

#: seconds a failing rank waits between writing its reason to stderr and MPI_Abort (see ``_report``)
ABORT_GRACE_S = 0.5

__all__ = ["MPIReducer", "RankBatches", "ShardBatches", "abort_on_error", "abort_on_failure", "fit_distributed",
           "is_root", "world"]


def world() -> Any:
    """``MPI.COMM_WORLD``, or an ImportError that says how to install MPI."""
    try:
        from mpi4py import MPI
    except ImportError as err:  # pragma: no cover - the mpi extra is installed in CI
        raise ImportError("distributed training needs mpi4py and an MPI runtime: pip install 'deltaprop[mpi]' "
                          f"(mpi4py and MPICH, with mpiexec) ({err}).") from None
    return MPI.COMM_WORLD


def is_root(comm: Any = None) -> bool:
    """True on rank 0, the rank that writes the model, the history, checkpoints and plots."""
    return int((comm or world()).Get_rank()) == 0


class MPIReducer:
    """One all-reduce per step over the flat gradient vector and a few more slots: ``[m_r·g_r, loss
    part, metric parts…, m_r]`` summed over ranks, then the gradients divided by B = Σ m_r (for a loss
    with ``reduction="sum"`` they are summed as they are). The slots travel in the gradients' dtype."""

    def __init__(self, comm: Any = None, *, mean: bool = True) -> None:
        self.comm = comm or world()
        self.mean = mean
        self._buffer: Array | None = None
        self.seconds = 0.0  # time spent in the all-reduce (benchmarks, docs/scale.md)

    def _buf(self, grads: Array, extra: int) -> Array:
        if self._buffer is None or len(self._buffer) != grads.size + extra or self._buffer.dtype != grads.dtype:
            self._buffer = np.empty(grads.size + extra, dtype=grads.dtype)
        return self._buffer

    def reduce_step(self, model: Any, rows: int, parts: Sequence[float]) -> tuple[list[float], int]:
        """All-reduce ``[m_r·g_r, parts…, m_r]``; the gradients become the global batch's, and the
        global sums of ``parts`` (the loss, the metrics) and of the rows are returned."""
        flat = model.flat_parameters()
        if flat is not None:
            return self._reduce(flat[1], rows, parts)
        # a layer keeps its own storage: the gradients go through one vector all the same
        grads = [g for _, _, g in model.param_grad_pairs()]
        vector = np.concatenate([g.reshape(-1) for g in grads])
        result = self._reduce(vector, rows, parts)
        offset = 0
        for g in grads:
            g[...] = vector[offset:offset + g.size].reshape(g.shape)
            offset += g.size
        return result

    def _reduce(self, grads: Array, rows: int, parts: Sequence[float]) -> tuple[list[float], int]:
        from mpi4py import MPI

        P, k = grads.size, len(parts)
        buf = self._buf(grads, k + 1)
        if self.mean:
            np.multiply(grads, rows, out=buf[:P])
        else:
            buf[:P] = grads
        buf[P:P + k] = parts
        buf[P + k] = rows
        start = time.perf_counter()
        self.comm.Allreduce(MPI.IN_PLACE, buf, op=MPI.SUM)
        self.seconds += time.perf_counter() - start
        total_rows = round(float(buf[P + k]))
        if self.mean:
            np.multiply(buf[:P], 1.0 / total_rows if total_rows else 0.0, out=grads)
        else:
            grads[...] = buf[:P]
        return buf[P:P + k].tolist(), total_rows

    def reduce(self, model: Any, rows: int) -> None:
        """The plain ``GradientReducer`` call (no loss): the gradients of the global batch."""
        self.reduce_step(model, rows, ())

    def reduce_sums(self, sums: list[float]) -> list[float]:
        """Sums over the ranks, broadcast from rank 0 so that every rank holds the very same numbers."""
        from mpi4py import MPI

        values = np.asarray(sums, dtype=np.float64).copy()
        self.comm.Allreduce(MPI.IN_PLACE, values, op=MPI.SUM)
        self.comm.Bcast(values, root=0)
        return values.tolist()

    def broadcast_model(self, model: Any, optimizer: Any) -> None:
        """Rank 0's weights and optimizer state on every rank."""
        flat = model.flat_parameters()
        for w in [flat[0]] if flat is not None else [w for _, w, _ in model.param_grad_pairs()]:
            buf = w if w.flags.c_contiguous else np.ascontiguousarray(w)
            self.comm.Bcast(buf, root=0)
            if buf is not w:
                w[...] = buf
        state = self.comm.bcast(optimizer.state_dict() if is_root(self.comm) else None, root=0)
        if not is_root(self.comm):
            optimizer.load_state_dict(state)


def _split_point(k: int, size: int, m: int) -> int:
    """Where part k of ``size`` nearly equal parts of m rows starts: floor(k·m / size)."""
    return (k * m) // size


class RankBatches:
    """This rank's part of each global batch of ``inner`` (layout "shared"): the same epoch order on
    every rank, the batch [s, e) split into ``size`` nearly equal parts, part ``rank`` here."""

    def __init__(self, inner: Any, rank: int, size: int) -> None:
        self.inner, self.rank, self.size = inner, rank, size
        self.n, self.batch_size = inner.n, inner.batch_size

    def draw_order(self, rng: np.random.Generator, shuffle: bool) -> Array | None:
        return self.inner.draw_order(rng, shuffle)

    def batches(self, order: Array | None, first: int = 0) -> Iterator[Batch]:
        B = self.batch_size
        for start in range(first * B, self.n, B):
            m = min(B, self.n - start)
            yield self.inner.part(order, start + _split_point(self.rank, self.size, m),
                                  start + _split_point(self.rank + 1, self.size, m))

    def in_order(self, batch_size: int | None = None) -> Iterator[Batch]:
        """This rank's share of the rows, in stored order (validation: the ranks' sums are added)."""
        a, b = _split_point(self.rank, self.size, self.n), _split_point(self.rank + 1, self.size, self.n)
        step = batch_size or self.batch_size
        for s in range(a, b, step):
            yield self.inner.part(None, s, min(s + step, b))


class ShardBatches:
    """This rank's own rows (layout "shard"): N = Σ n_r rows an epoch, S = ceil(N / batch_size) steps;
    at step k this rank gives positions floor(k·n_r/S) … floor((k+1)·n_r/S) of its own permutation,
    drawn from a generator seeded by the shared one and the rank (so the shared one stays in step)."""

    def __init__(self, inner: Any, rank: int, n_total: int, batch_size: int) -> None:
        self.inner, self.rank = inner, rank
        self.n, self.batch_size = n_total, batch_size
        self.steps = -(-n_total // batch_size)

    def draw_order(self, rng: np.random.Generator, shuffle: bool) -> Array | None:
        if not shuffle:
            return None
        seed = int(rng.integers(2**63))
        return np.random.default_rng([seed, self.rank]).permutation(self.inner.n)

    def batches(self, order: Array | None, first: int = 0) -> Iterator[Batch]:
        n_r, S = self.inner.n, self.steps
        for k in range(first, S):
            yield self.inner.part(order, _split_point(k, S, n_r), _split_point(k + 1, S, n_r))

    def in_order(self, batch_size: int | None = None) -> Iterator[Batch]:
        return self.inner.in_order(batch_size)


class _Part:
    """In-memory validation arrays as a source for ``RankBatches``."""

    def __init__(self, X: Array, Y: Array, batch_size: int = 4096) -> None:
        from .batches import ArrayBatches

        self.source = ArrayBatches(X, Y, None, None, min(batch_size, len(X)))

    def __getattr__(self, name: str) -> Any:
        return getattr(self.source, name)


@contextmanager
def abort_on_failure(comm: Any = None, *, code: int = 1) -> Iterator[None]:
    """Run a block on every rank; an exception in it on any rank prints the error with the rank and
    aborts the whole job (``MPI_Abort``), where a plain exit of one rank would leave the others
    waiting. A ``TrainingInterrupted`` (every rank stopped together) passes through."""
    from .interrupt import TrainingInterrupted

    comm = comm or world()
    try:
        yield
    except TrainingInterrupted:
        raise
    except BaseException as error:
        if comm.Get_size() == 1:
            raise
        _report(comm, error, error.__traceback__)
        comm.Abort(code)
        raise  # pragma: no cover - Abort does not return


def abort_on_error(comm: Any = None) -> None:
    """Make an uncaught exception on any rank print its traceback (with the rank) and abort the whole
    job with ``MPI_Abort``, as ``python -m mpi4py`` does: the other ranks never wait forever."""
    comm = comm or world()
    previous = sys.excepthook

    def hook(kind: type[BaseException], error: BaseException, tb: Any) -> None:
        _report(comm, error, tb)
        comm.Abort(1)
        previous(kind, error, tb)  # pragma: no cover - Abort does not return

    sys.excepthook = hook


def _report(comm: Any, error: BaseException, tb: Any) -> None:
    rank, size = comm.Get_rank(), comm.Get_size()
    detail = "".join(traceback.format_exception(type(error), error, tb))
    sys.stderr.write(f"{detail}deltaprop: rank {rank} of {size} failed: {type(error).__name__}: {error}\n"
                     f"deltaprop: aborting all {size} ranks (MPI_Abort).\n")
    sys.stderr.flush()
    # the launcher forwards each rank's stderr from a pipe; MPI_Abort kills the job at once, and on a
    # busy machine that can come before the launcher has read the message (an empty stderr was seen in
    # CI). A moment's wait on this already-failed path lets the reason reach the user.
    time.sleep(ABORT_GRACE_S)


def _barrier(comm: Any, *, seconds: float) -> bool:
    """A barrier that gives up after ``seconds`` (False): no rank waits forever."""
    request, deadline = comm.Ibarrier(), time.monotonic() + seconds
    while not request.Test():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.005)
    return True


def _trainer(model: Any, X: Any, y: Any, comm: Any, layout: str, kwargs: dict[str, Any]) -> Any:
    """This rank's ``Trainer``: the shared seed, rank 0's outputs, the MPI reducer, this rank's batches."""
    from .loop import Trainer

    rank, size = int(comm.Get_rank()), int(comm.Get_size())
    if kwargs.get("seed") is None:  # one seed for all: the same shuffles on every rank
        kwargs["seed"] = comm.bcast(int(np.random.SeedSequence().generate_state(1)[0]) if rank == 0 else None)
    if rank != 0:
        kwargs["checkpoint"] = None
        kwargs["verbose"] = 0
    reducer = MPIReducer(comm)
    trainer = Trainer(model, X, y, reducer=reducer, **kwargs)
    reducer.mean = trainer.loss.reduction == "mean"
    local: BatchSource = trainer.source
    if not hasattr(local, "part"):
        raise TypeError("fit_distributed: the ranks split arrays (in memory or memory-mapped, e.g. "
                        "np.load(path, mmap_mode='r')); chunks, Parquet row groups and Dask arrays are not split "
                        "across ranks. Save the data as .npy, or give each rank its own shard as an array "
                        "(layout='shard').")
    if layout == "shared":
        trainer.source = RankBatches(local, rank, size)
        if trainer.val is not None:
            val = trainer.val if not isinstance(trainer.val, tuple) else _Part(*trainer.val)
            trainer.val = RankBatches(val, rank, size)
    else:
        n_total = int(comm.allreduce(local.n))
        batch = kwargs.get("batch_size") or n_total
        trainer.source = ShardBatches(local, rank, n_total, min(batch, n_total))
        if trainer.val is not None and isinstance(trainer.val, tuple):
            trainer.val = _Part(*trainer.val)
    return trainer


def fit_distributed(model: Any, X: Any, y: Any, *, comm: Any = None, layout: str = "shared",
                    abort: bool = True, **kwargs: Any) -> Any:
    """``fit`` on every rank of ``comm`` (default ``MPI.COMM_WORLD``), data-parallel; returns the History
    (the same on every rank). ``kwargs`` are ``fit``'s arguments, the same on every rank; rank 0 alone
    writes ``checkpoint`` (``resume`` must be readable on every rank: a shared file system, or a copy).

    ``layout="shared"``: (X, y) are the same rows on every rank, e.g. one memory-mapped file.
    ``layout="shard"``: (X, y) are this rank's own rows.

    With ``abort=True`` (the default) an exception on any rank aborts every rank (``MPI_Abort``) after
    printing the error: a failing rank never leaves the others waiting in an all-reduce."""
    from .interrupt import TrainingInterrupted

    comm = comm or world()
    with abort_on_failure(comm) if abort else nullcontext():
        if layout not in ("shared", "shard"):
            raise ValueError(f"fit_distributed: layout must be 'shared' (every rank reads the same rows) or 'shard' "
                             f"(each rank its own rows), got {layout!r}.")
        trainer = _trainer(model, X, y, comm, layout, kwargs)
        trainer.start()  # a resumed run is restored here, on every rank from the same checkpoint
        trainer.reducer.broadcast_model(model, trainer.opt)  # type: ignore[union-attr]
        try:
            return trainer.run()
        except TrainingInterrupted as error:
            # every rank stopped after the same step (the signal travels in the all-reduce): wait until
            # rank 0 has written its checkpoint, then leave together; a rank that never comes ends the job
            if comm.Get_size() > 1 and not _barrier(comm, seconds=120):
                _report(comm, error, error.__traceback__)
                comm.Abort(1)
            raise
