"""The array namespace seam: every array the library creates goes through ``xp``.

Today ``xp`` is NumPy. Keeping array creation behind this one module means a GPU backend
(CuPy, which mirrors NumPy's API) can later be swapped in without touching the layers.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np

from ._types import Seed

xp = np

DEFAULT_DTYPE = np.float32


def as_dtype(dtype: object) -> np.dtype:
    """Validate a floating dtype argument: float32 (default) or float64."""
    dt = np.dtype(DEFAULT_DTYPE if dtype is None else dtype)  # type: ignore[arg-type]
    if dt not in (np.dtype(np.float32), np.dtype(np.float64)):
        raise ValueError(f"dtype must be float32 or float64, got {dt}; pass dtype='float32' or 'float64'.")
    return dt


def rng_from(seed: Seed) -> np.random.Generator:
    """A ``numpy.random.Generator`` from an int seed, a SeedSequence, a Generator (used as is) or None."""
    if isinstance(seed, np.random.Generator):
        return seed
    if seed is not None and not isinstance(seed, (int, np.integer, np.random.SeedSequence)):
        raise TypeError(f"seed must be an int, a numpy Generator or None, got {type(seed).__name__}.")
    if isinstance(seed, (int, np.integer)) and seed < 0:
        raise ValueError(f"seed must be a non-negative int, got {seed}.")
    return np.random.default_rng(seed)


def spawn_seeds(seed: Seed, n: int) -> list[np.random.Generator]:
    """``n`` independent generators derived from one seed (a Generator is split with ``spawn``)."""
    if isinstance(seed, np.random.Generator):
        return list(seed.spawn(n))
    if isinstance(seed, np.random.SeedSequence):
        return [np.random.default_rng(s) for s in seed.spawn(n)]
    rng_from(seed)  # validate
    return [np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(n)]


#: element-wise work on arrays at least this large is split across threads
PARALLEL_MIN_SIZE = 1 << 17
_pool: ThreadPoolExecutor | None = None
_pool_size = 0


def num_threads() -> int:
    """Threads for large element-wise updates: ``DELTAPROP_NUM_THREADS``, else min(cores, 4)."""
    value = os.environ.get("DELTAPROP_NUM_THREADS")
    return max(1, int(value)) if value else min(os.cpu_count() or 1, 4)


def in_chunks(fn: Callable[..., Any], *arrays: Any) -> None:
    """Call ``fn(*arrays)``, or, for large contiguous arrays, ``fn`` on equal slices of them in threads.

    NumPy's element-wise loops are single-threaded but release the GIL, so an update made of
    several passes over a large parameter runs about ``num_threads()`` times faster in slices.
    All arrays (None entries are passed through) must have the same shape; the result is the same
    as one call because every operation is element-wise."""
    global _pool, _pool_size
    first = arrays[0]
    k = num_threads()
    if k == 1 or first.size < PARALLEL_MIN_SIZE or not all(a is None or a.flags.c_contiguous for a in arrays):
        fn(*arrays)
        return
    if _pool is None or _pool_size != k:  # (re)made when the setting changes
        _pool, _pool_size = ThreadPoolExecutor(max_workers=k, thread_name_prefix="deltaprop"), k
    flat = [None if a is None else a.reshape(-1) for a in arrays]
    bounds = np.linspace(0, first.size, k + 1).astype(int)
    jobs = [_pool.submit(fn, *(None if a is None else a[lo:hi] for a in flat))
            for lo, hi in zip(bounds[:-1], bounds[1:])]
    for job in jobs:
        job.result()
