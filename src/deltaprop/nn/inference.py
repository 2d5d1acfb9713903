"""The lean inference path behind ``Sequential.predict``: a(L) for the rows of X by the forward pass's
own operations (E1 z = W a + b, E2 a = σ(z)), bitwise those of ``forward(X, training=False)``.

What makes it lean (docs/performance.md, "Prediction"):

- the layers run as a **plan** of steps: a Dense layer with the ReLU after it is one step, whose
  bias and ReLU are applied in place on the product; nothing is kept for a backward pass;
- products go into **buffers kept per batch size** (per thread); only the returned array is new;
- up to ``COLUMN_MAX_ROWS`` rows, the leading Dense steps run in the textbook's **column layout**,
  z = W a + b with one column per row of X (``W @ Xᵀ``, a matrix of shape (n_out, n)), and the
  activations are turned back into rows once, after the last of them. For 8–128 rows OpenBLAS
  computes W Xᵀ up to twice as fast as the row layout's X Wᵀ (it packs the operands differently),
  and with the same kernel and summation order, so the same bits. That equality is a property of
  the BLAS kernels, not of the mathematics (a small product may go to a kernel of its own), so it
  is checked, not assumed: the first call with a given number of rows computes both layouts, and
  the column layout is kept only for the leading layers where they agree bit for bit.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from ..core.backend import xp
from ..core.types import Array
from ..optim import fused as _fused
from .layers import Dense, Layer, ReLU, Softmax

#: up to this many rows the leading Dense layers may run in the column layout (measured on
#: 784-256-128-10: W Xᵀ takes 0.4–0.8 of X Wᵀ's time for 8–128 rows, about the same from 256 rows on,
#: where the final transposition would cost more than it saves)
COLUMN_MAX_ROWS = 128

#: from this many rows on, unchecked inputs are scanned through their first product X Wᵀ when it is smaller
#: than X (784 → 256: a third of the memory to read; at 10,000 rows 31 MB of X are not read a second time);
#: below, X itself is scanned, which costs less than silencing the scan's floating-point warnings
SCAN_PRODUCT_MIN_ROWS = 64

#: a step of the plan: ("dense", layer, relu, keep), ("softmax", keep) or ("layer", layer, keep);
#: ``keep`` says the step's output may go into a reused buffer, as the next step makes a new array
Step = tuple[Any, ...]
#: what to do when the first product of unchecked rows is not finite (see ``Inference.__call__``)
Refuse = Callable[[Array], Any] | None


def plan(layers: Sequence[Layer]) -> list[Step]:
    """The forward pass at inference as steps: a Dense layer (with the ReLU right after it, fused with
    its bias add), a last Softmax, or any other layer by its own ``forward(a, training=False)``.

    Only the plain classes are fused: a subclass that overrides ``forward`` runs as its own step."""
    plain = {Dense: Dense.forward, ReLU: ReLU.forward, Softmax: Softmax.forward}
    known = [plain.get(type(layer)) is type(layer).forward for layer in layers]
    steps: list[tuple[Any, ...]] = []
    i = 0
    while i < len(layers):
        layer = layers[i]
        if known[i] and isinstance(layer, Dense):
            relu = i + 1 < len(layers) and known[i + 1] and isinstance(layers[i + 1], ReLU)
            steps.append(("dense", layer, relu))
            i += 2 if relu else 1
            continue
        last = i == len(layers) - 1
        steps.append(("softmax",) if known[i] and isinstance(layer, Softmax) and last else ("layer", layer))
        i += 1
    return [(*step, k + 1 < len(steps) and steps[k + 1][0] in ("dense", "softmax")) for k, step in enumerate(steps)]


class Inference:
    """The inference path of one network: its plan, the column-layout decision per batch size (shared,
    made under the model's lock) and, per thread, the buffers of the last two batch sizes."""

    def __init__(self, layers: Sequence[Layer], cache_bytes: int) -> None:
        self.steps = plan(layers)
        self.cache_bytes = cache_bytes
        self.columns: dict[int, int] = {}  # rows → how many leading Dense steps run in the column layout
        self._local = threading.local()
        leading = 0
        while leading < len(self.steps) and self.steps[leading][0] == "dense":
            leading += 1
        self.leading = leading  # Dense steps at the start: the candidates for the column layout

    def scans_first_product(self, n: int) -> bool:
        """Whether ``refuse`` is applied to the first product X Wᵀ of n rows instead of X: when it is
        smaller than X (the first step is a Dense layer with fewer outputs than inputs) and n is at least
        ``SCAN_PRODUCT_MIN_ROWS``."""
        first = self.steps[0]
        return n >= SCAN_PRODUCT_MIN_ROWS and first[0] == "dense" and first[1].n_out < first[1].n_in

    def __call__(self, X: Array, refuse: Callable[[Array], Any] | None = None) -> Array:
        """a(L) for the rows of X (a C-ordered array of the network's dtype).

        ``refuse`` (with ``scans_first_product``) is what to do when X's values were not checked and the
        first product is not finite: ``refuse(X)`` raises for a non-finite X and returns for an overflow.
        A NaN or ±inf in a row of X makes that whole row of X Wᵀ NaN or ±inf, before any ReLU can hide it."""
        n = len(X)
        columns = self.columns.get(n)
        if columns is None:
            first = self._decide(X, refuse)
            if first is not None:
                return first
            columns = self.columns[n]
        buffers = self._buffers(n)
        a = X
        if columns:
            a = self._columns(X, columns, buffers, refuse)
        for k in range(columns, len(self.steps)):
            a = self._row_step(self.steps[k], a, buffers, refuse if k == 0 else None)
        return a

    # -- the two layouts -----------------------------------------------------------------------
    def _columns(self, X: Array, columns: int, buffers: dict[Any, Array], refuse: Refuse) -> Array:
        """The first ``columns`` Dense steps as zᵀ = W aᵀ + b (one column per row), then back to rows."""
        n = len(X)
        zeros = buffers.get("zeros")
        if zeros is None:
            zeros = buffers["zeros"] = xp.zeros(n, dtype=X.dtype)
        aT = X.reshape(-1) if n == 1 else X.T
        for k in range(columns):
            _, layer, relu, _ = self.steps[k]
            out = buffers.get(k)
            if out is None:
                out = buffers[k] = xp.empty((layer.n_out, n) if n > 1 else layer.n_out, dtype=X.dtype)
            aT = _column_product(layer, aT, out)
            if k == 0 and refuse is not None:
                _scan(aT, X, refuse)
            _column_bias_relu(layer, relu, aT, zeros)
        if n == 1:  # a vector: the row is a view of it
            return aT.reshape(1, -1) if self.steps[columns - 1][-1] else aT.reshape(1, -1).copy()
        if columns < len(self.steps) and self.steps[columns - 1][-1]:  # the next step makes a new array
            rows = buffers.get("rows")
            if rows is None:
                rows = buffers["rows"] = xp.empty((n, aT.shape[0]), dtype=X.dtype)
            np.copyto(rows, aT.T)
            return rows
        return xp.ascontiguousarray(aT.T)

    def _row_step(self, step: Step, a: Array, buffers: dict[Any, Array], refuse: Refuse = None) -> Array:
        """One step in the row layout: z = a Wᵀ + b (and ReLU) into a kept buffer, softmax, or a layer;
        ``refuse``: scan the product first (the first step; see ``__call__``)."""
        kind = step[0]
        if kind == "dense":
            _, layer, relu, keep = step
            W = layer.W
            out = buffers.get(id(layer)) if keep else None
            if keep and out is None and len(a) * W.shape[0] * W.itemsize <= self.cache_bytes // 4:
                out = buffers[id(layer)] = xp.empty((len(a), W.shape[0]), dtype=W.dtype)
            z = np.matmul(a, W.T, out=out) if out is not None else a @ W.T
            if refuse is not None:
                _scan(z, a, refuse)
            if relu:  # z + b, then ReLU's max(z, 0) against a row of zeros (see activations.relu)
                zeros = buffers.get(("zeros", W.shape[0]))
                if zeros is None:
                    zeros = buffers[("zeros", W.shape[0])] = xp.zeros(W.shape[0], dtype=W.dtype)
                _fused.bias_relu(z, layer.b, zeros)
            else:
                z += layer.b
            return z
        if kind == "softmax":  # a_j = e^{z_j − max z} / Σ_k e^{z_k − max z}, as activations.softmax
            if len(a) == 1:  # one row: the same reductions over a vector, into 1-element arrays (no scalars)
                v = np.subtract(a[0], np.maximum.reduce(a[0], keepdims=True))
                np.exp(v, out=v)
                np.divide(v, np.add.reduce(v, keepdims=True), out=v)
                return v.reshape(1, -1)
            a = np.subtract(a, np.maximum.reduce(a, axis=-1, keepdims=True))
            np.exp(a, out=a)
            a /= np.add.reduce(a, axis=-1, keepdims=True)
            return a
        return step[1].forward(a, training=False)  # type: ignore[no-any-return]

    # -- the decision and the buffers ------------------------------------------------------------
    def _decide(self, X: Array, refuse: Refuse) -> Array | None:
        """For a new number of rows: how many leading Dense steps give, in the column layout, bit for bit
        the row layout's z on these rows (stored in ``columns``). Returns this call's result when the
        comparison already computed it (the row layout's), else None."""
        n = len(X)
        if len(self.columns) >= 256:  # a memo, not a leak: a server that sees every batch size starts again
            self.columns.clear()
        if n > COLUMN_MAX_ROWS or not self.leading:
            self.columns[n] = 0
            return None
        agreed, a, aT = 0, X, X.T
        zeros = xp.zeros(n, dtype=X.dtype)
        bits = np.dtype(f"u{X.dtype.itemsize}")
        if n == 1:
            aT = X.reshape(-1)
        for k in range(self.leading):
            _, layer, relu, _ = self.steps[k]
            z = a @ layer.W.T  # Dense.forward's product
            if k == 0 and refuse is not None:
                _scan(z, X, refuse)
            zT = _column_product(layer, aT, xp.empty((layer.n_out, n) if n > 1 else layer.n_out, X.dtype))
            if not np.array_equal(z.view(bits), zT.reshape(layer.n_out, n).T.view(bits)):
                break
            agreed = k + 1
            z += layer.b  # the rest of the step in the row layout (element-wise: the same in either)
            if relu:
                np.maximum(z, zeros[:1], out=z)  # the same maximum as activations.relu's, element by element
            a, aT = z, _column_bias_relu(layer, relu, zT, zeros)
        self.columns[n] = agreed
        for k in range(agreed, len(self.steps)):  # nothing kept: every output is new
            a = self._row_step((*self.steps[k][:-1], False), a, {}, refuse if k == 0 else None)
        return a

    def _buffers(self, n: int) -> dict[Any, Array]:
        """This thread's buffers for n rows (the last two batch sizes are kept)."""
        cache: dict[int, dict[Any, Array]] | None = getattr(self._local, "by_rows", None)
        if cache is None:
            cache = self._local.by_rows = {}
        buffers = cache.get(n)
        if buffers is None:
            if len(cache) >= 2:
                cache.pop(next(iter(cache)))
            buffers = cache[n] = {}
        return buffers


def _column_product(layer: Dense, aT: Array, out: Array) -> Array:
    """zᵀ = W aᵀ into ``out`` (E1's product on columns: aT is (n_in, n), or a vector for one row)."""
    return np.dot(layer.W, aT, out=out)


def _column_bias_relu(layer: Dense, relu: bool, zT: Array, zeros: Array) -> Array:
    """zᵀ + b, then ReLU's max against a row of zeros (as activations.relu does), in place on zT."""
    zT += layer.b if zT.ndim == 1 else layer.b[:, None]
    if relu:
        np.maximum(zT, zeros, out=zT)
    return zT


def _scan(z: Array, X: Array, refuse: Callable[[Array], Any]) -> None:
    """``refuse(X)`` unless every value of z is finite (one BLAS dot product z·z; see ``validation.all_finite``)."""
    v = z.reshape(-1)
    with np.errstate(over="ignore", invalid="ignore"):  # an overflow is found below, not reported
        total = np.dot(v, v)
    if not math.isfinite(total):
        refuse(X)
