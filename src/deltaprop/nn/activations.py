"""Activation functions σ and their derivatives σ', as pure pairs (E2, E3 of docs/backprop.md).

Each forward ``f(z) -> a`` is paired with the derivative the backward pass needs. Where the
derivative is cheapest from the output, the helper says so in its name (``sigmoid_prime_from_a``
takes ``a = σ(z)``, not ``z``). The layers in ``layers.py`` cache exactly what their helper takes.
All functions are element-wise except softmax, which works on rows (one sample per row).
"""

from __future__ import annotations

import math

import numpy as np

from ..core.backend import xp
from ..core.types import Array

_SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)
_GELU_C = 0.044715


def identity(z: Array) -> Array:
    """a = z."""
    return z


def sigmoid(z: Array) -> Array:
    """σ(z) = 1 / (1 + e^{-z}), computed as ½(1 + tanh(z/2)).

    The two are the same function; the tanh form never overflows (no exp of a large number),
    stays in [0, 1] for any z and costs three element-wise operations."""
    a = np.multiply(z, 0.5)
    np.tanh(a, out=a)
    a += 1.0
    a *= 0.5
    return a


def sigmoid_prime_from_a(a: Array) -> Array:
    """σ'(z) = σ(z)(1 − σ(z)) = a(1 − a)."""
    return a * (1.0 - a)


def tanh(z: Array) -> Array:
    """a = tanh(z)."""
    return np.tanh(z)


def tanh_prime_from_a(a: Array) -> Array:
    """tanh'(z) = 1 − tanh(z)² = 1 − a²."""
    return 1.0 - a * a


def relu(z: Array, out: Array | None = None) -> Array:
    """a = max(z, 0), into ``out`` if given (``out=z`` overwrites z).

    The 0 is given as a row of zeros, not a scalar: NumPy's maximum runs its vectorised loop for
    two contiguous rows but not against a broadcast scalar (2–3× slower on a 256 × 1024 batch)."""
    return np.maximum(z, xp.zeros(z.shape[-1:], dtype=z.dtype), out=out)


def relu_prime(z: Array) -> Array:
    """ReLU'(z) = 1 where z > 0 else 0 (0 at z = 0, so nothing leaks through at the kink)."""
    return (z > 0).astype(z.dtype)


def leaky_relu(z: Array, alpha: float = 0.01) -> Array:
    """a = z where z > 0 else αz."""
    return np.where(z > 0, z, alpha * z)


def leaky_relu_prime(z: Array, alpha: float = 0.01) -> Array:
    """1 where z > 0 else α."""
    return np.where(z > 0, 1.0, alpha).astype(z.dtype)


def elu(z: Array, alpha: float = 1.0) -> Array:
    """a = z where z > 0 else α(e^z − 1); expm1 of min(z, 0) keeps it exact near 0 and overflow-free."""
    return np.where(z > 0, z, alpha * np.expm1(np.minimum(z, 0)))


def elu_prime(z: Array, a: Array, alpha: float = 1.0) -> Array:
    """1 where z > 0 else αe^z = a + α (the cached output saves an exp)."""
    return np.where(z > 0, 1.0, a + alpha).astype(z.dtype)


def gelu(z: Array, approximate: str = "tanh") -> Array:
    """GELU(z) = z Φ(z); ``approximate="tanh"`` uses ½z(1 + tanh(√(2/π)(z + 0.044715 z³))).

    The tanh form is the one PyTorch computes with ``approximate="tanh"``; ``"none"`` is the
    exact erf form (it uses scipy.special.erf when SciPy is installed, math.erf otherwise)."""
    if approximate == "tanh":
        t = np.tanh(_SQRT_2_OVER_PI * (z + _GELU_C * z**3))
        return 0.5 * z * (1.0 + t)
    return z * _normal_cdf(z)


def gelu_prime(z: Array, approximate: str = "tanh") -> Array:
    """dGELU/dz: Φ(z) + z φ(z), or the derivative of the tanh form."""
    if approximate == "tanh":
        u = _SQRT_2_OVER_PI * (z + _GELU_C * z**3)
        t = np.tanh(u)
        du = _SQRT_2_OVER_PI * (1.0 + 3.0 * _GELU_C * z * z)
        return 0.5 * (1.0 + t) + 0.5 * z * (1.0 - t * t) * du
    pdf = np.exp(-0.5 * z * z) / math.sqrt(2.0 * math.pi)
    return _normal_cdf(z) + z * pdf


def _normal_cdf(z: Array) -> Array:
    """Φ(z) = ½(1 + erf(z/√2))."""
    try:
        from scipy.special import erf
    except ImportError:  # pragma: no cover - exercised only without SciPy
        erf = np.vectorize(math.erf, otypes=[z.dtype])
    u = z / math.sqrt(2.0)
    if u.dtype not in (np.float32, np.float64):  # erf has float32/float64 loops only
        u = u.astype(np.float64)
    return (0.5 * (1.0 + erf(u))).astype(z.dtype, copy=False)


def softplus(z: Array) -> Array:
    """a = log(1 + e^z), as logaddexp(0, z) so large z cannot overflow."""
    return np.logaddexp(0, z).astype(z.dtype, copy=False)


def softplus_prime(z: Array) -> Array:
    """softplus'(z) = σ(z)."""
    return sigmoid(z)


def exp(z: Array) -> Array:
    """a = e^z: the inverse of the log link (a Poisson regression's mean is always positive)."""
    return np.exp(z)


def exp_prime_from_a(a: Array) -> Array:
    """exp'(z) = e^z = a."""
    return a


def softmax(z: Array) -> Array:
    """a_j = e^{z_j} / Σ_k e^{z_k}, row by row."""
    return softmax_parts(z)[0]


def softmax_parts(z: Array) -> tuple[Array, Array, Array]:
    """(a, z − max z, Σ_k e^{z_k − max z}) row by row: softmax and the parts its logarithm is made of.

    Subtracting the row max keeps exp from overflowing and leaves softmax unchanged."""
    shifted = z - z.max(axis=-1, keepdims=True)
    a = np.exp(shifted)
    sums = a.sum(axis=-1, keepdims=True)
    a /= sums
    return a, shifted, sums


def softmax_backward(a: Array, da: Array) -> Array:
    """δ = a ⊙ (da − Σ_j a_j da_j) (E7): the Jacobian-vector product of softmax, row by row."""
    return a * (da - (a * da).sum(axis=-1, keepdims=True))


def log_softmax(z: Array) -> Array:
    """log a_j = z_j − logsumexp(z), computed stably."""
    shifted = z - z.max(axis=-1, keepdims=True)
    return log_softmax_from(shifted, np.exp(shifted).sum(axis=-1, keepdims=True))


def log_softmax_from(shifted: Array, sums: Array) -> Array:
    """log a_j = (z_j − max z) − log Σ_k e^{z_k − max z}, from ``softmax_parts``: bitwise ``log_softmax(z)``."""
    return shifted - np.log(sums)
