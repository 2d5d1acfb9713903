"""Finite-difference gradient check: central differences against backpropagation, per parameter.

For each parameter entry w, ∂L/∂w ≈ (L(w + ε) − L(w − ε)) / 2ε. Backprop runs on a float64
copy of the model (the caller's model is untouched) with dropout off; the finite differences are
taken on a copy in extended precision (``np.longdouble``, where the platform has a wider type than
float64), so their rounding noise does not drown small but real gradients. The result gives, for
every parameter array, the relative error ‖g_num − g_bp‖ / (‖g_num‖ + ‖g_bp‖).

A relative error means nothing for a gradient that is zero: rounding in the loss alone gives
central differences an absolute noise of about ε_machine·|L|/ε. When both gradients are below
100× that noise level, they count as agreeing (error 0); anything larger is judged relatively.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from ..core.types import Array
from ..nn import losses as losses_mod
from ..nn.layers import Dense
from ..nn.model import Sequential


class GradcheckResult(dict[str, float]):
    """{parameter key: relative error}, plus the gradients compared and a printable table."""

    def __init__(self, errors: dict[str, float], analytic: dict[str, Array], numeric: dict[str, Array]) -> None:
        super().__init__(errors)
        self.analytic, self.numeric = analytic, numeric

    @property
    def max_error(self) -> float:
        """The worst relative error over all parameters."""
        return max(self.values(), default=0.0)

    def passed(self, tol: float = 1e-6) -> bool:
        return self.max_error < tol

    def table(self) -> str:
        """One row per parameter: shape, ‖∂L/∂w‖ from backprop, relative error."""
        rows = [f"{'parameter':<12} {'shape':<12} {'|grad|':>12} {'rel. error':>12}"]
        for key, err in self.items():
            g = self.analytic[key]
            rows.append(f"{key:<12} {g.shape!s:<12} {np.linalg.norm(g):>12.4e} {err:>12.2e}")
        return "\n".join(rows)


def relative_error(numeric: Array, analytic: Array, *, noise: float = 0.0) -> float:
    """‖a − b‖ / (‖a‖ + ‖b‖); 0 when both norms are at most ``noise`` (zero up to rounding)."""
    n_num, n_ana = float(np.linalg.norm(numeric)), float(np.linalg.norm(analytic))
    if max(n_num, n_ana) <= noise:
        return 0.0
    return float(np.linalg.norm(numeric - analytic)) / (n_num + n_ana)


def cost(model: Sequential, n_samples: int, *, params: Sequence[str] | None = None,
         max_entries: int | None = None) -> int:
    """The number of forward passes a gradcheck will make: two per parameter entry checked (central
    differences), each over ``n_samples`` rows. Multiply by the time of one forward pass for an estimate."""
    sizes = _checked_entries(model, params, max_entries, where="gradcheck")
    return 2 * sum(sizes.values())


def gradcheck(model: Sequential, loss: str | losses_mod.Loss, X: Any, y: Any, *, eps: float = 1e-6,
              sample_weight: Any = None, fused: bool = True, params: Sequence[str] | None = None,
              max_entries: int | None = None, seed: int = 0,
              progress: Callable[[int, int], None] | None = None) -> GradcheckResult:
    """Compare backprop's ∂L/∂w with central finite differences for every parameter of ``model``.

    ``fused=True`` uses the same output delta as training (fused for softmax/sigmoid +
    cross-entropy); ``fused=False`` always goes through ``loss.grad`` and every layer's backward.

    The check costs two forward passes per parameter entry (``cost``): on a big network, ``params``
    (keys such as ``["0.W", "2.b"]``) checks only some parameters, and ``max_entries`` at most that many
    entries of each (drawn with ``seed``; the others are compared as equal). ``progress(done, total)``
    is called after each entry."""
    from ..core.validation import check_number, check_sample_weight, check_X
    from ..train.loop import prepare_targets

    eps = check_number("gradcheck", "eps", eps, low=0, low_open=True)
    loss_obj = losses_mod.get(loss)
    sizes = _checked_entries(model, params, max_entries, where="gradcheck")
    net = model.astype(np.float64)
    Xd = check_X(X, dtype=np.dtype(np.float64), n_features=net.n_inputs, where="gradcheck")
    Y = prepare_targets(net, loss_obj, y, len(Xd), where="gradcheck")
    w = check_sample_weight(sample_weight, len(Xd), where="gradcheck")

    ext = _extended_precision_copy(net)
    Xe, Ye = Xd.astype(ext.dtype), Y.astype(ext.dtype)

    def loss_value() -> float:
        a = ext.forward(Xe, training=False)
        return ext.output_delta(loss_obj, a, Ye, w)[0] if fused else loss_obj.value(a, Ye, w)

    loss_at_w = loss_value()
    a = net.forward(Xd, training=False)
    if fused:
        _, delta, top = net.output_delta(loss_obj, a, Y, w)
        net._backward_from(top, delta)
    else:
        net.backward(loss_obj.grad(a, Y, w))
    analytic = {k: g.copy() for k, g in net.gradients().items()}

    numeric: dict[str, Array] = {}
    rng = np.random.default_rng(seed)
    total, done = sum(sizes.values()), 0
    for key, p in ext.parameters().items():
        if key not in sizes:
            continue
        g = analytic[key].astype(ext.dtype)  # entries not drawn count as equal
        flat = p.reshape(-1)
        chosen = range(p.size) if sizes[key] == p.size else np.sort(rng.choice(p.size, sizes[key], replace=False))
        for i in chosen:
            old = flat[i]
            flat[i] = old + eps
            up = loss_value()
            flat[i] = old - eps
            down = loss_value()
            flat[i] = old
            g.reshape(-1)[i] = (up - down) / (2 * eps)
            done += 1
            if progress is not None:
                progress(done, total)
        numeric[key] = g.astype(np.float64)
    analytic = {k: v for k, v in analytic.items() if k in sizes}
    noise = 100 * float(np.finfo(ext.dtype).eps) * max(1.0, abs(float(loss_at_w))) / eps
    errors = {k: relative_error(numeric[k], analytic[k], noise=noise * np.sqrt(analytic[k].size)) for k in analytic}
    return GradcheckResult(errors, analytic, numeric)


def _checked_entries(model: Sequential, params: Sequence[str] | None, max_entries: int | None, *,
                     where: str) -> dict[str, int]:
    """{parameter key: entries to check}, after checking ``params`` and ``max_entries``."""
    from ..core.validation import check_number

    sizes = {k: p.size for k, p in model.parameters().items()}
    if params is not None:
        if isinstance(params, str):
            params = [params]
        unknown = [k for k in params if k not in sizes]
        if unknown or not params:
            raise ValueError(f"{where}: params must name some of the model's parameters ({', '.join(sizes)}), got "
                             f"{list(params)!r}.")
        sizes = {k: v for k, v in sizes.items() if k in params}
    if max_entries is not None:
        limit = check_number(where, "max_entries", max_entries, low=0, low_open=True, integer=True)
        sizes = {k: min(v, limit) for k, v in sizes.items()}
    return sizes


def _extended_precision_copy(net: Sequential) -> Sequential:
    """A copy of a float64 network in ``np.longdouble`` (80-bit on x86-64; float64 elsewhere).

    Only for evaluating the loss: the public dtype checks allow float32/float64, so the arrays
    are converted here directly."""
    wide = np.dtype(np.longdouble)
    ext = net.copy()
    ext.dtype = wide
    for layer in ext.layers:
        if isinstance(layer, Dense):
            layer.dtype = wide
            layer._W = layer._W.astype(wide)
            layer._b = layer._b.astype(wide)
    return ext
