"""Weight initialisers. Each draws an array of ``shape`` from ``rng`` given the layer's fan-in
and fan-out; a Dense layer's W has shape (n_out, n_in).

Values are drawn in float64 and cast afterwards, so a seed gives the same weights (up to
rounding) whatever dtype the layer uses.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from ..core.registry import lookup
from ..core.types import Array

Initializer = Callable[[np.random.Generator, tuple[int, ...], int, int], Array]


def zeros(rng: np.random.Generator, shape: tuple[int, ...], n_in: int, n_out: int) -> Array:
    """All zeros (the usual bias initialiser)."""
    return np.zeros(shape)


def uniform(rng: np.random.Generator, shape: tuple[int, ...], n_in: int, n_out: int) -> Array:
    """U[0, 1): what the seed script's ``np.random.rand`` draws."""
    return rng.random(shape)


def normal(rng: np.random.Generator, shape: tuple[int, ...], n_in: int, n_out: int) -> Array:
    """N(0, 1): Nielsen's chapter-1 initialisation."""
    return rng.standard_normal(shape)


def glorot_uniform(rng: np.random.Generator, shape: tuple[int, ...], n_in: int, n_out: int) -> Array:
    """U(−r, r), r = √(6 / (n_in + n_out)) (Glorot & Bengio 2010)."""
    r = math.sqrt(6.0 / (n_in + n_out))
    return rng.uniform(-r, r, shape)


def glorot_normal(rng: np.random.Generator, shape: tuple[int, ...], n_in: int, n_out: int) -> Array:
    """N(0, 2 / (n_in + n_out))."""
    return rng.normal(0.0, math.sqrt(2.0 / (n_in + n_out)), shape)


def he_uniform(rng: np.random.Generator, shape: tuple[int, ...], n_in: int, n_out: int) -> Array:
    """U(−r, r), r = √(6 / n_in) (He et al. 2015), for ReLU layers."""
    r = math.sqrt(6.0 / n_in)
    return rng.uniform(-r, r, shape)


def he_normal(rng: np.random.Generator, shape: tuple[int, ...], n_in: int, n_out: int) -> Array:
    """N(0, 2 / n_in) (He et al. 2015), for ReLU layers."""
    return rng.normal(0.0, math.sqrt(2.0 / n_in), shape)


def lecun_normal(rng: np.random.Generator, shape: tuple[int, ...], n_in: int, n_out: int) -> Array:
    """N(0, 1 / n_in) (LeCun et al. 1998); Nielsen's chapter-3 initialisation."""
    return rng.normal(0.0, math.sqrt(1.0 / n_in), shape)


def lecun_uniform(rng: np.random.Generator, shape: tuple[int, ...], n_in: int, n_out: int) -> Array:
    """U(−r, r), r = √(3 / n_in): variance 1 / n_in."""
    r = math.sqrt(3.0 / n_in)
    return rng.uniform(-r, r, shape)


def pytorch_uniform(rng: np.random.Generator, shape: tuple[int, ...], n_in: int, n_out: int) -> Array:
    """U(−1/√n_in, 1/√n_in): the distribution of ``torch.nn.Linear``'s default weights and biases."""
    r = 1.0 / math.sqrt(n_in)
    return rng.uniform(-r, r, shape)


INITIALIZERS: dict[str, Initializer] = {
    "zeros": zeros,
    "uniform": uniform,
    "normal": normal,
    "glorot_uniform": glorot_uniform,
    "glorot_normal": glorot_normal,
    "he_uniform": he_uniform,
    "he_normal": he_normal,
    "lecun_normal": lecun_normal,
    "lecun_uniform": lecun_uniform,
    "pytorch_uniform": pytorch_uniform,
}
# the names other libraries use for the same thing
INITIALIZERS.update({"xavier_uniform": glorot_uniform, "xavier_normal": glorot_normal,
                     "kaiming_uniform": he_uniform, "kaiming_normal": he_normal})


def get(init: str | Initializer) -> Initializer:
    """An initialiser by name (see ``INITIALIZERS``) or a callable ``(rng, shape, n_in, n_out)``."""
    if callable(init):
        return init
    return lookup("initialiser", init, INITIALIZERS)
