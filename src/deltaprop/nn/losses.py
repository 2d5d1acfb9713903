"""Losses L(a, y): ``value`` gives the scalar, ``grad`` gives ∂L/∂a with the reduction applied.

Every loss sums over a sample's outputs and then reduces over the n samples (rows): ``"mean"``
divides by n, ``"sum"`` does not. So ``MSE`` is the first seed's E = 1/n Σ (a − y)² and
``HalfSSE(reduction="sum")`` is the second seed's L = ½ Σ (y − ŷ)², whose gradient a − y gives
exactly the seed script's update. Optional ``sample_weight`` (n,) scales each sample's term.

Cross-entropy losses know the activation they fuse with (softmax, sigmoid): for that pair the
output delta δ(L) = ∂L/∂z is simply (a − y) scaled by the reduction (E8), which is both cheaper
and stable, and the value is computed from the logits z.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from ..core.backend import xp
from ..core.registry import lookup
from ..core.types import Array
from . import activations as act

_REDUCTIONS = ("mean", "sum")


class Loss:
    """Base class. Subclasses define ``_per_element`` (the loss of each output) and ``_grad_element``."""

    name: ClassVar[str] = ""
    #: name of the output activation whose delta this loss fuses (E8), or None
    fuses_with: ClassVar[str | None] = None

    def __init__(self, *, reduction: str = "mean") -> None:
        if reduction not in _REDUCTIONS:
            raise ValueError(f"{type(self).__name__}: reduction must be 'mean' or 'sum', got {reduction!r}.")
        self.reduction = reduction

    # -- public API -------------------------------------------------------------------------
    def value(self, a: Array, y: Array, sample_weight: Array | None = None) -> float:
        """L: per-sample losses (summed over outputs), weighted, then reduced over samples."""
        return self._value(a, self.prepare_targets(a, y), sample_weight)

    def grad(self, a: Array, y: Array, sample_weight: Array | None = None) -> Array:
        """∂L/∂a, same shape as ``a``, already divided by n for ``reduction="mean"``."""
        return self._grad(a, self.prepare_targets(a, y), sample_weight)

    # the same on targets already shaped like ``a`` (the training loop prepares them once)
    def _value(self, a: Array, y: Array, sample_weight: Array | None = None) -> float:
        return self._reduce(self._per_element(a, y).sum(axis=1), sample_weight)

    def _grad(self, a: Array, y: Array, sample_weight: Array | None = None) -> Array:
        return self._scaled(self._grad_element(a, y), sample_weight)

    def _value_and_grad(self, a: Array, y: Array, sample_weight: Array | None = None) -> tuple[float, Array]:
        """(L, ∂L/∂a) in one go; squared-error losses share the residual a − y between the two."""
        return self._value(a, y, sample_weight), self._grad(a, y, sample_weight)

    def prepare_targets(self, a: Array, y: Array) -> Array:
        """Targets in the shape of ``a``: a 1-D y is a column when the network has one output."""
        y = np.asarray(y)
        if y.ndim == 1 and a.ndim == 2 and a.shape[1] == 1:
            y = y.reshape(-1, 1)
        if y.shape != a.shape:
            raise ValueError(f"{type(self).__name__}: targets y have shape {y.shape} but the network output has "
                             f"shape {a.shape}; give one target column per output unit.")
        return y

    # -- helpers shared by the subclasses ----------------------------------------------------
    def _reduce(self, per_sample: Array, sample_weight: Array | None) -> float:
        """Σ_i w_i L_i, divided by n for "mean"; summed in float64 (or wider, if the input is)."""
        if sample_weight is not None:
            per_sample = per_sample * np.asarray(sample_weight, dtype=per_sample.dtype)
        total = per_sample.sum(dtype=np.promote_types(per_sample.dtype, np.float64))
        return total / len(per_sample) if self.reduction == "mean" else total  # type: ignore[no-any-return]

    def _scaled(self, g: Array, sample_weight: Array | None) -> Array:
        """Apply the reduction (1/n for "mean") and any per-sample weights to an element-wise gradient."""
        if sample_weight is not None:
            g *= np.asarray(sample_weight, dtype=g.dtype).reshape(-1, *([1] * (g.ndim - 1)))
        if self.reduction == "mean":
            g *= g.dtype.type(1.0 / len(g))
        return g

    def _value_from_output(self, layer: Any, y: Array, sample_weight: Array | None = None) -> float:
        """L from the output activation layer this loss fuses with (its logits ``layer.z``; E8)."""
        return self._value_from_logits(layer.z, y, sample_weight)  # type: ignore[attr-defined,no-any-return]

    def _per_element(self, a: Array, y: Array) -> Array:  # pragma: no cover - abstract
        raise NotImplementedError

    def _grad_element(self, a: Array, y: Array) -> Array:  # pragma: no cover - abstract
        raise NotImplementedError

    def get_config(self) -> dict[str, Any]:
        return {"type": self.name, "reduction": self.reduction}

    def __repr__(self) -> str:
        return f"{type(self).__name__}(reduction={self.reduction!r})"


class MSE(Loss):
    """E = 1/n Σ_samples Σ_outputs (a − y)² (the first seed); ∂E/∂a = 2(a − y)/n."""

    name = "mse"

    def _per_element(self, a: Array, y: Array) -> Array:
        r = a - y
        return r * r

    def _grad_element(self, a: Array, y: Array) -> Array:
        g = a - y
        g *= 2
        return g

    def _value_and_grad(self, a: Array, y: Array, sample_weight: Array | None = None) -> tuple[float, Array]:
        if sample_weight is not None:
            return super()._value_and_grad(a, y, sample_weight)
        r = a - y
        scale = 1.0 / len(a) if self.reduction == "mean" else 1.0
        value = np.vdot(r, r) * scale  # Σ (a − y)², accumulated in a's dtype
        r *= r.dtype.type(2 * scale)
        return value, r


class HalfSSE(Loss):
    """L = ½ Σ (y − a)² (the second seed); ∂L/∂a = a − y. ``reduction="sum"`` is the seed's update."""

    name = "half_sse"

    def _per_element(self, a: Array, y: Array) -> Array:
        r = a - y
        return 0.5 * r * r

    def _grad_element(self, a: Array, y: Array) -> Array:
        return a - y

    def _value_and_grad(self, a: Array, y: Array, sample_weight: Array | None = None) -> tuple[float, Array]:
        if sample_weight is not None:
            return super()._value_and_grad(a, y, sample_weight)
        r = a - y
        scale = 1.0 / len(a) if self.reduction == "mean" else 1.0
        value = 0.5 * np.vdot(r, r) * scale  # ½ Σ (a − y)², accumulated in a's dtype
        if scale != 1.0:
            r *= r.dtype.type(scale)
        return value, r


class MAE(Loss):
    """L = 1/n Σ |a − y|; ∂L/∂a = sign(a − y)/n (0 at the kink)."""

    name = "mae"

    def _per_element(self, a: Array, y: Array) -> Array:
        return np.abs(a - y)

    def _grad_element(self, a: Array, y: Array) -> Array:
        return np.sign(a - y)


class Huber(Loss):
    """Per output: ½r² where |r| ≤ δ, δ(|r| − ½δ) beyond (r = a − y); gradient r clipped to [−δ, δ].

    Matches ``torch.nn.HuberLoss(delta)`` element-wise."""

    name = "huber"

    def __init__(self, delta: float = 1.0, *, reduction: str = "mean") -> None:
        super().__init__(reduction=reduction)
        from ..core.validation import check_number

        self.delta = check_number("Huber", "delta", delta, low=0, low_open=True)

    def _per_element(self, a: Array, y: Array) -> Array:
        r = np.abs(a - y)
        return np.where(r <= self.delta, 0.5 * r * r, self.delta * (r - 0.5 * self.delta))

    def _grad_element(self, a: Array, y: Array) -> Array:
        return np.clip(a - y, -self.delta, self.delta)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "delta": self.delta}

    def __repr__(self) -> str:
        return f"Huber(delta={self.delta!r}, reduction={self.reduction!r})"


class BinaryCrossEntropy(Loss):
    """L = −Σ [y log a + (1 − y) log(1 − a)] over outputs, reduced over samples.

    On probabilities, a is clipped to [eps, 1 − eps] (eps = machine epsilon of a's dtype). After a
    sigmoid output it is fused: δ = (a − y) scaled by the reduction and the value comes from the
    logits as Σ log(1 + e^z) − y z."""

    name = "binary_crossentropy"
    fuses_with = "sigmoid"

    def _per_element(self, a: Array, y: Array) -> Array:
        p = _clip_probabilities(a)
        return -(y * np.log(p) + (1.0 - y) * np.log1p(-p))

    def _grad_element(self, a: Array, y: Array) -> Array:
        p = _clip_probabilities(a)
        return (p - y) / (p * (1.0 - p))

    def value_from_logits(self, z: Array, y: Array, sample_weight: Array | None = None) -> float:
        """L from the sigmoid's input z: log(1 + e^z) − yz, stable for any z."""
        return self._value_from_logits(z, self.prepare_targets(z, y), sample_weight)

    def fused_delta(self, a: Array, y: Array, sample_weight: Array | None = None) -> Array:
        """δ(L) = ∂L/∂z = (a − y), scaled by the reduction (E8)."""
        return self._fused_delta(a, self.prepare_targets(a, y), sample_weight)

    def _value_from_logits(self, z: Array, y: Array, sample_weight: Array | None = None) -> float:
        return self._reduce((np.logaddexp(0.0, z) - y * z).sum(axis=1), sample_weight)

    def _fused_delta(self, a: Array, y: Array, sample_weight: Array | None = None) -> Array:
        return self._scaled(a - y, sample_weight)


class CategoricalCrossEntropy(Loss):
    """L = −Σ_j y_j log a_j per sample, reduced over samples; y is one-hot (n, k) or integer labels (n,).

    After a softmax output it is fused: δ = (a − y) scaled by the reduction (E8), and the value
    comes from the logits through log-sum-exp. Rows of y that do not sum to 1 (soft, multi-hot or
    all-zero targets) get the exact delta a·Σ_k y_k − y instead, so gradcheck passes for any y."""

    name = "categorical_crossentropy"
    fuses_with = "softmax"

    def prepare_targets(self, a: Array, y: Array) -> Array:
        y = np.asarray(y)
        if y.ndim == 1 and a.ndim == 2 and a.shape[1] > 1:
            y = one_hot(y, a.shape[1], dtype=a.dtype)
        return super().prepare_targets(a, y)

    def _per_element(self, a: Array, y: Array) -> Array:
        return -(y * np.log(_clip_probabilities(a)))

    def _grad_element(self, a: Array, y: Array) -> Array:
        return -y / _clip_probabilities(a)

    def value_from_logits(self, z: Array, y: Array, sample_weight: Array | None = None) -> float:
        """L = −Σ_j y_j log softmax(z)_j, through log-sum-exp."""
        return self._value_from_logits(z, self.prepare_targets(z, y), sample_weight)

    def fused_delta(self, a: Array, y: Array, sample_weight: Array | None = None) -> Array:
        """δ(L) = ∂L/∂z = (a − y), scaled by the reduction (E8)."""
        return self._fused_delta(a, self.prepare_targets(a, y), sample_weight)

    def _value_from_logits(self, z: Array, y: Array, sample_weight: Array | None = None) -> float:
        return self._value_from_log_a(act.log_softmax(z), y, sample_weight)

    def _value_from_output(self, layer: Any, y: Array, sample_weight: Array | None = None) -> float:
        log_a = getattr(layer, "log_a", None)  # a Softmax layer keeps the parts of log a from its forward pass
        return self._value_from_log_a(log_a(), y, sample_weight) if log_a is not None else \
            super()._value_from_output(layer, y, sample_weight)

    def _value_from_log_a(self, log_a: Array, y: Array, sample_weight: Array | None = None) -> float:
        return self._reduce(-(y * log_a).sum(axis=1), sample_weight)

    def _fused_delta(self, a: Array, y: Array, sample_weight: Array | None = None) -> Array:
        # ∂/∂z_j of −Σ_k y_k log softmax(z)_k is a_j Σ_k y_k − y_j: the textbook a − y (E8) when every row of
        # y sums to 1 (one-hot or a distribution), the exact gradient otherwise (multi-hot, all-zero or
        # unnormalised rows), so the delta is always the gradient of the value reported
        s = y.sum(axis=1, keepdims=True)
        if (s == 1).all():
            return self._scaled(a - y, sample_weight)
        return self._scaled(a * s - y, sample_weight)


class PoissonDeviance(Loss):
    """Half the Poisson deviance, L = Σ [y log(y/a) − y + a] over outputs (0 log 0 = 0), for counts y ≥ 0
    and a positive mean a (scikit-learn's ``loss="poisson"``); ∂L/∂a = 1 − y/a.

    After an exp output (the log link) it is fused: with a = e^z, ∂L/∂z = a − y, scaled by the
    reduction (as E8), and the value comes from z as y log y − yz − y + e^z."""

    name = "poisson"
    fuses_with = "exp"

    def _per_element(self, a: Array, y: Array) -> Array:
        return _xlogy(y, y / _positive(a)) - y + a

    def _grad_element(self, a: Array, y: Array) -> Array:
        return 1.0 - y / _positive(a)

    def value_from_logits(self, z: Array, y: Array, sample_weight: Array | None = None) -> float:
        """L from the exp's input z (the log of the mean): y log y − yz − y + e^z."""
        return self._value_from_logits(z, self.prepare_targets(z, y), sample_weight)

    def fused_delta(self, a: Array, y: Array, sample_weight: Array | None = None) -> Array:
        """δ(L) = ∂L/∂z = a − y, scaled by the reduction."""
        return self._fused_delta(a, self.prepare_targets(a, y), sample_weight)

    def _value_from_logits(self, z: Array, y: Array, sample_weight: Array | None = None) -> float:
        with np.errstate(over="ignore"):  # e^z = inf is a diverged fit: the value says so
            return self._reduce((_xlogy(y, y) - y * z - y + np.exp(z)).sum(axis=1), sample_weight)

    def _fused_delta(self, a: Array, y: Array, sample_weight: Array | None = None) -> Array:
        return self._scaled(a - y, sample_weight)


def _xlogy(x: Array, y: Array) -> Array:
    """x log y, with 0 where x = 0 (so 0 log 0 = 0, as in the deviance)."""
    out = xp.zeros(np.broadcast(x, y).shape, dtype=np.result_type(x, y))
    np.multiply(x, np.log(y, out=xp.ones_like(out), where=x != 0), out=out, where=x != 0)
    return out


def _positive(a: Array) -> Array:
    """a clipped below at the smallest normal number of its dtype, so y/a and log stay finite."""
    return np.maximum(a, np.finfo(a.dtype).tiny if np.issubdtype(a.dtype, np.floating) else np.finfo(float).tiny)


def one_hot(labels: Array, n_classes: int, *, dtype: Any = np.float64) -> Array:
    """Integer labels (n,) → one-hot rows (n, n_classes)."""
    labels = np.asarray(labels)
    if labels.size and (not np.issubdtype(labels.dtype, np.integer) and not np.all(labels == np.round(labels))):
        raise ValueError("one_hot: labels must be integers 0..n_classes-1; got non-integer values.")
    idx = labels.astype(np.intp)
    if idx.size and (idx.min() < 0 or idx.max() >= n_classes):
        raise ValueError(f"one_hot: labels must lie in 0..{n_classes - 1} for {n_classes} outputs, "
                         f"got values from {idx.min()} to {idx.max()}.")
    out = xp.zeros((len(idx), n_classes), dtype=dtype)
    out[np.arange(len(idx)), idx] = 1
    return out


def _clip_probabilities(a: Array) -> Array:
    """Clip to [eps, 1 − eps] so log and division stay finite at a ∈ {0, 1}."""
    eps = np.finfo(a.dtype).eps if np.issubdtype(a.dtype, np.floating) else np.finfo(np.float64).eps
    return np.clip(a, eps, 1.0 - eps)


LOSSES: dict[str, type[Loss]] = {
    "mse": MSE, "mean_squared_error": MSE,
    "half_sse": HalfSSE, "halfsse": HalfSSE, "sse": HalfSSE,
    "mae": MAE, "mean_absolute_error": MAE,
    "huber": Huber,
    "binary_crossentropy": BinaryCrossEntropy, "bce": BinaryCrossEntropy,
    "categorical_crossentropy": CategoricalCrossEntropy, "cross_entropy": CategoricalCrossEntropy,
    "poisson": PoissonDeviance, "poisson_deviance": PoissonDeviance,
    "crossentropy": CategoricalCrossEntropy, "ce": CategoricalCrossEntropy,
}


def get(spec: str | Loss) -> Loss:
    """A loss from a name ("mse", "half_sse", "bce", "cross_entropy", …) or an instance."""
    if isinstance(spec, Loss):
        return spec
    if isinstance(spec, type) and issubclass(spec, Loss):
        return spec()
    return lookup("loss", spec, LOSSES)()
