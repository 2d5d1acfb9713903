"""Small data sets for seeing backpropagation work: logic gates, 2-D shapes, scikit-learn's digits.

Every generator takes ``n`` (samples), ``noise`` (standard deviation of Gaussian noise added to
each coordinate) and ``seed`` and returns ``(X, y)``: X float64 (n, 2) and integer labels y (n,)
that ``fit`` one-hot encodes for a softmax output. The same seed gives the same points. The
shapes follow scikit-learn's ``make_moons`` / ``make_circles`` / ``make_blobs`` and the spirals of
Karpathy's CS231n notes, written here in a few lines so the core needs only NumPy.
"""

from __future__ import annotations

import math

import numpy as np

from ..core.backend import rng_from
from ..core.types import Array, Seed
from ..teach.seed import XOR_X, XOR_Y

GATE_X = XOR_X


def xor() -> tuple[Array, Array]:
    """The seed script's XOR data, exactly: inputs [[0,0],[0,1],[1,0],[1,1]], targets [[0],[1],[1],[0]]."""
    return XOR_X.copy(), XOR_Y.copy()


def and_gate() -> tuple[Array, Array]:
    """AND on the same four inputs as ``xor()``: targets [[0],[0],[0],[1]]."""
    return GATE_X.copy(), np.array([[0.0], [0.0], [0.0], [1.0]])


def or_gate() -> tuple[Array, Array]:
    """OR on the same four inputs as ``xor()``: targets [[0],[1],[1],[1]]."""
    return GATE_X.copy(), np.array([[0.0], [1.0], [1.0], [1.0]])


#: the most samples a toy data set draws (10 million 2-D points are 160 MB); checked before allocating
MAX_TOY_SAMPLES = 10_000_000


def _check(where: str, n: int, noise: float, *, minimum: int = 2) -> None:
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < minimum:
        raise ValueError(f"{where}: n must be an int >= {minimum}, got {n!r}.")
    if n > MAX_TOY_SAMPLES:
        raise ValueError(f"{where}: n = {n:,} samples is more than the {MAX_TOY_SAMPLES:,} a toy data set draws "
                         "(deltaprop.datasets.toy.MAX_TOY_SAMPLES); a few thousand points show the same picture.")
    if isinstance(noise, bool) or not isinstance(noise, (int, float, np.floating)) or not noise >= 0:
        raise ValueError(f"{where}: noise must be a number >= 0 (the standard deviation), got {noise!r}.")


def _finish(X: Array, y: Array, noise: float, rng: np.random.Generator) -> tuple[Array, Array]:
    """Shuffle the rows (the classes are generated in blocks) and add the noise."""
    order = rng.permutation(len(X))
    X, y = X[order], y[order]
    if noise:
        X = X + rng.normal(0.0, noise, X.shape)
    return X, y


def moons(n: int = 200, noise: float = 0.1, *, seed: Seed = None) -> tuple[Array, Array]:
    """Two interleaving half circles (scikit-learn's ``make_moons``): class 0 on top, class 1 below."""
    _check("moons", n, noise)
    rng = rng_from(seed)
    n_top = n // 2
    n_bottom = n - n_top
    t_top = np.linspace(0.0, math.pi, n_top)
    t_bottom = np.linspace(0.0, math.pi, n_bottom)
    X = np.concatenate([np.stack([np.cos(t_top), np.sin(t_top)], axis=1),
                        np.stack([1.0 - np.cos(t_bottom), 0.5 - np.sin(t_bottom)], axis=1)])
    y = np.concatenate([np.zeros(n_top, np.intp), np.ones(n_bottom, np.intp)])
    return _finish(X, y, noise, rng)


def circles(n: int = 200, noise: float = 0.05, *, factor: float = 0.5, seed: Seed = None) -> tuple[Array, Array]:
    """A small circle (class 1, radius ``factor``) inside a unit circle (class 0) (``make_circles``)."""
    _check("circles", n, noise)
    if not 0 < factor < 1:
        raise ValueError(f"circles: factor must be in (0, 1) (inner radius / outer radius), got {factor!r}.")
    rng = rng_from(seed)
    n_out = n // 2
    n_in = n - n_out
    t_out = np.linspace(0.0, 2 * math.pi, n_out, endpoint=False)
    t_in = np.linspace(0.0, 2 * math.pi, n_in, endpoint=False)
    X = np.concatenate([np.stack([np.cos(t_out), np.sin(t_out)], axis=1),
                        factor * np.stack([np.cos(t_in), np.sin(t_in)], axis=1)])
    y = np.concatenate([np.zeros(n_out, np.intp), np.ones(n_in, np.intp)])
    return _finish(X, y, noise, rng)


def spirals(n: int = 300, noise: float = 0.1, *, n_classes: int = 2, turns: float = 1.0,
            seed: Seed = None) -> tuple[Array, Array]:
    """``n_classes`` interleaved spiral arms from the origin, ``turns`` revolutions each (CS231n).

    Arm k is r(cos θ, sin θ) with r from 0 to 1 and θ = 2π(turns · r + k / n_classes)."""
    _check("spirals", n, noise)
    if isinstance(n_classes, bool) or not isinstance(n_classes, (int, np.integer)) or not 2 <= n_classes <= n:
        raise ValueError(f"spirals: n_classes must be an int in 2..n, got {n_classes!r}.")
    if not turns > 0:
        raise ValueError(f"spirals: turns must be > 0, got {turns!r}.")
    rng = rng_from(seed)
    sizes = [n // n_classes + (k < n % n_classes) for k in range(n_classes)]
    parts, labels = [], []
    for k, m in enumerate(sizes):
        r = np.linspace(0.0, 1.0, m)
        theta = 2 * math.pi * (turns * r + k / n_classes)
        parts.append(np.stack([r * np.cos(theta), r * np.sin(theta)], axis=1))
        labels.append(np.full(m, k, np.intp))
    return _finish(np.concatenate(parts), np.concatenate(labels), noise, rng)


def blobs(n: int = 300, noise: float = 1.0, *, centers: int | Array = 3, n_features: int = 2,
          box: tuple[float, float] = (-10.0, 10.0), seed: Seed = None) -> tuple[Array, Array]:
    """Gaussian blobs (``make_blobs``): ``noise`` is each blob's standard deviation.

    ``centers`` is a count (drawn uniformly in ``box``) or an array of centres (k, n_features)."""
    _check("blobs", n, noise, minimum=1)
    rng = rng_from(seed)
    if isinstance(centers, (int, np.integer)) and not isinstance(centers, bool):
        if centers < 1:
            raise ValueError(f"blobs: centers must be >= 1, got {centers!r}.")
        C = rng.uniform(box[0], box[1], (int(centers), n_features))
    else:
        C = np.asarray(centers, dtype=np.float64)
        if C.ndim != 2 or len(C) < 1:
            raise ValueError(f"blobs: centers must be an int or an array (k, n_features), got shape {C.shape}.")
    k = len(C)
    y = np.repeat(np.arange(k, dtype=np.intp), [n // k + (i < n % k) for i in range(k)])
    X = C[y]
    return _finish(X, y, noise, rng)


def digits(*, scale: bool = True) -> tuple[Array, Array]:
    """scikit-learn's bundled 8×8 digits (1,797 images, 10 classes) as X (1797, 64), y (1797,).

    ``scale`` divides the 0..16 grey levels by 16 so inputs lie in [0, 1]."""
    try:
        from sklearn.datasets import load_digits
    except ImportError:
        raise ImportError("digits() needs scikit-learn, which bundles the data: pip install 'deltaprop[sklearn]' "
                          "(or use load_mnist() / moons() instead).") from None
    data = load_digits()
    X = np.asarray(data.data, dtype=np.float64)
    return (X / 16.0 if scale else X), np.asarray(data.target, dtype=np.intp)
