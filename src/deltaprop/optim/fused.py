"""Fused element-wise kernels (the Adam update, ReLU's backward pass, bias + ReLU at inference),
compiled with numba when it is installed (``deltaprop[fast]``), and loaded only when they pay for
their loading.

The NumPy code is the reference: ``optimizers.adam_step`` makes ten whole-array passes, ReLU's
backward two. A kernel here does the *same* floating-point operations, in the same order and the
same precision, in one pass, so its results are bit-for-bit those of the NumPy path
(``tests/test_fused.py`` checks that) while reading and writing memory once.

**When the kernels load (the cost model).** Importing numba and the cached kernels costs about
``LOAD_COST_S`` seconds, once per process; a call on n elements then saves about
``GAIN_NS_PER_ELEMENT[kernel] × n`` nanoseconds over NumPy's passes (both measured with
``python benchmarks/speed.py --fused-cost``; docs/performance.md). Until the kernels are loaded,
each call that could use them (n ≥ ``MIN_SIZE``) runs NumPy's passes and adds what the kernel
would have saved to a running total; once the total reaches the load cost, the kernels load, and
every later call uses them. This is the break-even rule of rent-or-buy problems: a process never
spends more than twice what it would have with hindsight, and a small fit (a 20-64-3 net, the
seed XOR, iris) never loads numba at all. For 784-256-128-10 with Adam (235,146 parameters,
batch 128) the kernels load after about 3,500 steps; for 784-1024-1024-10 (1.86 M parameters,
batch 256) after about 440. Once loaded, they are used for every call they apply to.

``DELTAPROP_FUSED`` in the environment (read at each call, so tests can switch paths): ``0`` never
uses the kernels; ``1`` loads them at the first call they apply to (the choice for a long run or a
benchmark of the kernels); unset, or ``auto``, follows the cost model. Without numba, every call
runs NumPy's passes. Compiled code is cached on disk (numba's ``cache=True``), so the one-off
compilation (a few seconds) happens once per machine.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from ..core.backend import xp
from ..core.types import Array

#: below this many elements NumPy's passes are as fast as a call into a kernel
MIN_SIZE = 1 << 12

#: seconds to import numba and load the cached kernels in a fresh process (measured: 0.6–0.9 s)
LOAD_COST_S = 0.6

#: nanoseconds a kernel saves per element over NumPy's passes (measured: Adam 0.69–1.2 ns from
#: 4,096 to 1.9 M float32 parameters; ReLU's backward 0.13–0.15 ns from 200 × 64 to 256 × 1024; the bias
#: gradient summed in the same pass, 0.08 ns more on 256 × 1024, counted on top of ReLU's backward, which
#: relu_backward_db runs when the kernels are not loaded)
GAIN_NS_PER_ELEMENT = {"adam": 0.7, "relu_backward": 0.13, "bias_relu": 0.1, "relu_backward_db": 0.08}

_state: dict[str, Any] = {"kernels": None, "tried": False, "saved_ns": 0.0}


def enabled() -> bool:
    """True unless ``DELTAPROP_FUSED=0`` (read at each call, so tests can switch paths)."""
    return os.environ.get("DELTAPROP_FUSED", "auto") != "0"


def _kernels() -> Any | None:
    """The compiled kernels module (imported now if it was not yet), or None when numba is not
    installed or cannot compile."""
    if not _state["tried"]:
        _state["tried"] = True
        try:
            from . import fused_numba as _fused_numba
        except Exception:  # ImportError, or a numba that does not work with this NumPy
            _fused_numba = None
        _state["kernels"] = _fused_numba
    return _state["kernels"]


def available() -> bool:
    """Whether the numba kernels can be used on this machine (this loads them)."""
    return _kernels() is not None


def loaded() -> bool:
    """Whether this process has loaded the kernels (never loads them)."""
    return _state["kernels"] is not None


def would_save_s() -> float:
    """Seconds the kernels would have saved so far in this process, by the cost model, while not loaded."""
    return float(_state["saved_ns"]) * 1e-9


def _worth_it(kernel: str, n: int) -> bool:
    """Whether to use the kernels for this call: yes once loaded; otherwise by ``DELTAPROP_FUSED`` and
    the running total of what they would have saved (the cost model above)."""
    if _state["kernels"] is not None:
        return True
    if _state["tried"]:
        return False  # numba is missing or broken: asked once, not again
    if os.environ.get("DELTAPROP_FUSED", "auto") != "1":
        _state["saved_ns"] += GAIN_NS_PER_ELEMENT[kernel] * n
        if _state["saved_ns"] < LOAD_COST_S * 1e9:
            return False
    return _kernels() is not None


def _usable(kernel: str, *arrays: Array) -> bool:
    first = arrays[0]
    return (first.size >= MIN_SIZE and first.dtype in (np.float32, np.float64) and enabled()
            and all(a.dtype == first.dtype and a.shape == first.shape and a.flags.c_contiguous for a in arrays)
            and _worth_it(kernel, first.size))


def adam(w: Array, g: Array, m: Array, v: Array, *, beta1: float, beta2: float, eps: float, step: float,
         decay: float = 1.0) -> bool:
    """One pass of ``optimizers.adam_step`` (without AMSGrad); False if the kernel is not used.

    For each element: w ← w·decay; m ← β1 m + g; v ← β2 v + g·g; w ← w − step · m / (√v + eps),
    with the scalars rounded to the arrays' dtype as NumPy does for ``array op python_float``."""
    if not _usable("adam", w, g, m, v):
        return False
    cast = w.dtype.type
    _state["kernels"].adam(w.reshape(-1), g.reshape(-1), m.reshape(-1), v.reshape(-1),
                           cast(beta1), cast(beta2), cast(eps), cast(step), cast(decay), decay != 1.0)
    return True


def relu_backward(da: Array, a: Array, out: Array | None = None) -> Array:
    """δ = da ⊙ ReLU'(z) (E3), from ReLU's output a (a > 0 exactly where z > 0), in one pass; NumPy's
    ``da * (a > 0)`` (two passes) when the kernel is not used. ``out`` may be ``da`` itself."""
    if (out is not None and not out.flags.c_contiguous) or not _usable("relu_backward", da, a):
        return np.multiply(da, a > 0, out=out)
    cast = da.dtype.type
    if out is da:
        _state["kernels"].relu_backward_in_place(da.reshape(-1), a.reshape(-1), cast(1), cast(0))
        return da
    out = xp.empty_like(da) if out is None else out
    _state["kernels"].relu_backward(da.reshape(-1), a.reshape(-1), out.reshape(-1), cast(1), cast(0))
    return out


def relu_backward_db(da: Array, a: Array, db: Array) -> Array:
    """δ = da ⊙ ReLU'(z) written over da (E3), and db = Σ_rows δ (E5, the Dense layer below) into ``db``:
    ``relu_backward(da, a, out=da)`` and NumPy's ``np.add.reduce(δ, axis=0, out=db)``, or the kernel's one
    pass, bit for bit the same."""
    if (da.ndim == 2 and len(da) > 1 and db.dtype == da.dtype and db.flags.c_contiguous
            and _usable("relu_backward_db", da, a)):
        cast = da.dtype.type
        _state["kernels"].relu_backward_db(da, a, db, cast(1), cast(0))
        return da
    relu_backward(da, a, out=da)
    np.add.reduce(da, axis=0, out=db)
    return da


def bias_relu(z: Array, b: Array, zeros: Array) -> None:
    """z ← max(z + b, 0) in place (E1's bias, then ReLU): NumPy's ``z += b`` and ``np.maximum(z, zeros,
    out=z)`` (two passes; ``zeros`` is a row of zeros), or the kernel's one pass, bit for bit the same."""
    if z.ndim == 2 and b.dtype == z.dtype and _usable("bias_relu", z) and b.flags.c_contiguous:
        _state["kernels"].bias_relu(z, b, z.dtype.type(0))
        return
    z += b
    np.maximum(z, zeros, out=z)
