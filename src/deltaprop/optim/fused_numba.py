"""The numba kernels behind ``_fused`` (imported only when numba is installed).

``error_model="numpy"`` lets division follow IEEE rules instead of Python's ZeroDivisionError
check, which is what allows LLVM to vectorise the loop (vdivps, vsqrtps). No ``fastmath``: every
operation is rounded exactly as NumPy rounds it, so results match the NumPy path bit for bit."""

from __future__ import annotations

import numba
import numpy as np


@numba.njit(nogil=True, error_model="numpy", cache=True)
def adam(w, g, m, v, beta1, beta2, eps, step, decay, decoupled):  # type: ignore[no-untyped-def]
    """m ← β1 m + g;  v ← β2 v + g²;  w ← w·decay − step · m / (√v + eps)  (see optimizers.adam_step)."""
    for i in range(w.shape[0]):
        gi = g[i]
        mi = m[i] * beta1 + gi
        vi = v[i] * beta2 + gi * gi
        m[i] = mi
        v[i] = vi
        wi = w[i] * decay if decoupled else w[i]
        w[i] = wi - (mi / (np.sqrt(vi) + eps)) * step


@numba.njit(nogil=True, error_model="numpy", cache=True)
def relu_backward(da, a, out, one, zero):  # type: ignore[no-untyped-def]
    """δ = da ⊙ ReLU'(z): da · 1 where a > 0 (as z > 0), da · 0 elsewhere (a product, so NaN stays NaN as
    in NumPy). ``out`` may be ``da``: each element is read before it is written.

    ``one`` and ``zero`` come in the arrays' dtype so that float32 work stays float32-wide."""
    for i in range(da.shape[0]):
        out[i] = da[i] * (one if a[i] > 0 else zero)


@numba.njit(nogil=True, error_model="numpy", cache=True)
def relu_backward_in_place(da, a, one, zero):  # type: ignore[no-untyped-def]
    """``relu_backward`` with the result written over da. A kernel of its own: given out = da, the
    loop above may overlap its input, and LLVM then runs it unvectorised (twice as slow)."""
    for i in range(da.shape[0]):
        da[i] = da[i] * (one if a[i] > 0 else zero)


@numba.njit(nogil=True, error_model="numpy", cache=True)
def relu_backward_db(da, a, db, one, zero):  # type: ignore[no-untyped-def]
    """``relu_backward_in_place`` on rows (2-D), and in the same pass db = Σ_rows δ, the bias gradient of the
    Dense layer below (E5): db starts at +0 and adds the rows in order, as NumPy's ``add.reduce(δ, axis=0)``
    does (so a column of −0 sums to +0; ``tests/test_fused.py`` checks the bits)."""
    n, m = da.shape
    for j in range(m):
        d = da[0, j] * (one if a[0, j] > 0 else zero)
        da[0, j] = d
        db[j] = zero + d
    for i in range(1, n):
        for j in range(m):
            d = da[i, j] * (one if a[i, j] > 0 else zero)
            da[i, j] = d
            db[j] += d


@numba.njit(nogil=True, error_model="numpy", cache=True)
def bias_relu(z, b, zero):  # type: ignore[no-untyped-def]
    """z ← max(z + b, 0) row by row, in place (E1's bias, then E2 with ReLU), in one pass over z.

    As NumPy's ``z += b`` then ``np.maximum(z, zeros, out=z)``: the sum is rounded to z's dtype first;
    a NaN sum is kept as it is, and a sum of −0 gives +0, as NumPy's ``maximum`` does (``tests/test_fused.py``)."""
    for i in range(z.shape[0]):
        for j in range(z.shape[1]):
            s = z[i, j] + b[j]
            z[i, j] = s if s > zero or s != s else zero
