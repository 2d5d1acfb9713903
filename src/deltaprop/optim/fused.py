"""Fused element-wise kernels (the Adam update, ReLU's backward pass), compiled with numba when it
is installed (``deltaprop[fast]``).

The NumPy code is the reference: ``optimizers.adam_step`` makes ten whole-array passes, ReLU's
backward two. A kernel here does the *same* floating-point operations, in the same order and the
same precision, in one pass, so its results are bit-for-bit those of the NumPy path
(``tests/test_fused.py`` checks that) while reading and writing memory once.

Nothing here is required: without numba, or with ``DELTAPROP_FUSED=0`` in the environment,
``adam`` returns False (the caller runs the NumPy passes) and ``relu_backward`` computes with
NumPy. Compiled code is cached on disk (numba's ``cache=True``), so the one-off compilation (about
a second) happens once per machine.
"""

from __future__ import annotations

import os
from functools import cache
from typing import Any

import numpy as np

from ..core.backend import xp
from ..core.types import Array

#: below this many elements NumPy's passes are as fast as a call into a kernel
MIN_SIZE = 1 << 12


def enabled() -> bool:
    """True unless ``DELTAPROP_FUSED=0`` (read at each call, so tests can switch paths)."""
    return os.environ.get("DELTAPROP_FUSED", "1") != "0"


@cache
def _kernels() -> Any | None:
    """The compiled kernels module, or None when numba is not installed or cannot compile."""
    try:
        from . import fused_numba as _fused_numba
    except Exception:  # ImportError, or a numba that does not work with this NumPy
        return None
    return _fused_numba


def available() -> bool:
    """Whether the numba kernels can be used on this machine."""
    return _kernels() is not None


def _usable(*arrays: Array) -> bool:
    first = arrays[0]
    return (first.size >= MIN_SIZE and first.dtype in (np.float32, np.float64) and enabled()
            and all(a.dtype == first.dtype and a.shape == first.shape and a.flags.c_contiguous for a in arrays)
            and available())


def adam(w: Array, g: Array, m: Array, v: Array, *, beta1: float, beta2: float, eps: float, step: float,
         decay: float = 1.0) -> bool:
    """One pass of ``optimizers.adam_step`` (without AMSGrad); False if the kernel cannot be used.

    For each element: w ← w·decay; m ← β1 m + g; v ← β2 v + g·g; w ← w − step · m / (√v + eps),
    with the scalars rounded to the arrays' dtype as NumPy does for ``array op python_float``."""
    if not _usable(w, g, m, v):
        return False
    cast = w.dtype.type
    _kernels().adam(w.reshape(-1), g.reshape(-1), m.reshape(-1), v.reshape(-1),  # type: ignore[union-attr]
                    cast(beta1), cast(beta2), cast(eps), cast(step), cast(decay), decay != 1.0)
    return True


def relu_backward(da: Array, a: Array, out: Array | None = None) -> Array:
    """δ = da ⊙ ReLU'(z) (E3), from ReLU's output a (a > 0 exactly where z > 0), in one pass; NumPy's
    ``da * (a > 0)`` (two passes) when the kernel is unavailable. ``out`` may be ``da`` itself."""
    if not _usable(da, a) or (out is not None and not out.flags.c_contiguous):
        return np.multiply(da, a > 0, out=out)
    cast = da.dtype.type
    if out is da:
        _kernels().relu_backward_in_place(da.reshape(-1), a.reshape(-1), cast(1), cast(0))  # type: ignore[union-attr]
        return da
    out = xp.empty_like(da) if out is None else out
    _kernels().relu_backward(da.reshape(-1), a.reshape(-1), out.reshape(-1), cast(1), cast(0))  # type: ignore[union-attr]
    return out
