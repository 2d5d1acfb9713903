"""Fused element-wise kernels for the optimizer updates, compiled with numba when it is installed.

An Adam step written with NumPy ufuncs makes a dozen passes over every parameter array; the
fused kernel makes one. The NumPy formulas in ``optimizers.py`` stay the reference: these kernels
compute the same expressions element by element and the test suite compares the two paths.
numba is an optional extra (``pip install deltaprop[fast]``); set ``DELTAPROP_NUMBA=0`` to turn
the kernels off.
"""

from __future__ import annotations

import math
import os
from typing import Any

import numpy as np

from ._types import Array

#: below this many elements a parallel loop costs more than it saves
_PARALLEL_MIN = 1 << 16

try:  # pragma: no cover - depends on the environment
    if os.environ.get("DELTAPROP_NUMBA", "1") == "0":
        raise ImportError("disabled by DELTAPROP_NUMBA=0")
    import numba

    @numba.njit(cache=True, fastmath=False, nogil=True)
    def _adam_serial(w, g, m, v, beta1, beta2, step_size, sqrt_bc2, eps):  # type: ignore[no-untyped-def]
        for i in range(w.size):
            gi = g[i]
            mi = m[i] + (1.0 - beta1) * (gi - m[i])
            vi = beta2 * v[i] + (1.0 - beta2) * gi * gi
            m[i] = mi
            v[i] = vi
            w[i] -= step_size * (mi / (math.sqrt(vi) / sqrt_bc2 + eps))

    @numba.njit(cache=True, fastmath=False, nogil=True, parallel=True)
    def _adam_parallel(w, g, m, v, beta1, beta2, step_size, sqrt_bc2, eps):  # type: ignore[no-untyped-def]
        for i in numba.prange(w.size):
            gi = g[i]
            mi = m[i] + (1.0 - beta1) * (gi - m[i])
            vi = beta2 * v[i] + (1.0 - beta2) * gi * gi
            m[i] = mi
            v[i] = vi
            w[i] -= step_size * (mi / (math.sqrt(vi) / sqrt_bc2 + eps))

    AVAILABLE = True
except ImportError:  # pragma: no cover - depends on the environment
    AVAILABLE = False

#: switched off by tests to exercise the pure-NumPy path
enabled = AVAILABLE


def adam_fused(w: Array, g: Array, m: Array, v: Array, *, beta1: float, beta2: float, step_size: float,
               sqrt_bc2: float, eps: float) -> bool:
    """One-pass Adam update (E10) if the kernels are on and the arrays allow it; False otherwise."""
    if not enabled or not (w.flags.c_contiguous and g.flags.c_contiguous and w.dtype == g.dtype):
        return False
    kernel = _adam_parallel if w.size >= _PARALLEL_MIN else _adam_serial
    dt = w.dtype.type
    kernel(w.reshape(-1), g.reshape(-1), m.reshape(-1), v.reshape(-1), dt(beta1), dt(beta2), dt(step_size),
           dt(sqrt_bc2), dt(eps))
    return True


def warm_up() -> None:
    """Compile the kernels now (a second or two, then cached on disk) rather than at the first step."""
    if enabled:
        for dtype in (np.float32, np.float64):
            for size in (1, _PARALLEL_MIN):
                a = np.zeros(size, dtype)
                adam_fused(a, a.copy(), a.copy(), a.copy(), beta1=0.9, beta2=0.999, step_size=0.0, sqrt_bc2=1.0,
                           eps=1e-8)
