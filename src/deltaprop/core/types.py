"""Shared type aliases and the contracts every layer, loss and optimizer follows.

Samples are rows: an input batch ``X`` has shape (n, n_features). A layer maps ``a_prev`` of
shape (n, n_in) to ``a`` of shape (n, n_out) and, going backwards, turns the gradient with
respect to its output into the gradient with respect to its input.
"""

from __future__ import annotations

from typing import Any, Protocol, Union, runtime_checkable

import numpy as np
from numpy.typing import DTypeLike, NDArray

Array = NDArray[Any]
DType = DTypeLike
Seed = Union[int, np.random.Generator, np.random.SeedSequence, None]


@runtime_checkable
class Layer(Protocol):
    """One stage of the forward pass; ``backward`` inverts the flow of gradients through it."""

    def forward(self, a_prev: Array, training: bool = True) -> Array: ...

    def backward(self, delta: Array) -> Array: ...

    def params(self) -> dict[str, Array]: ...

    def grads(self) -> dict[str, Array]: ...


@runtime_checkable
class LossLike(Protocol):
    """A loss: ``value(a, y)`` is the scalar L, ``grad(a, y)`` is ∂L/∂a with the reduction applied."""

    def value(self, a: Array, y: Array, sample_weight: Array | None = None) -> float: ...

    def grad(self, a: Array, y: Array, sample_weight: Array | None = None) -> Array: ...
