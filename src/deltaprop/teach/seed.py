"""The second seed document's worked example: XOR with a 2-2-1 sigmoid network.

The seed script draws its weights with ``np.random.seed(42)`` and ``np.random.rand`` in the order
input→hidden weights (2, 2), hidden→output weights (2, 1), hidden biases (1, 2), output bias
(1, 1), trains on ½Σ(y − ŷ)² with plain gradient descent (η = 0.1, all four samples at once,
10,000 epochs). The script's matrices are (n_in, n_out); deltaprop's W is (n_out, n_in), so
they are transposed here.
"""

from __future__ import annotations

import numpy as np

from ..core.types import Array, DType
from ..nn.layers import Dense, Sigmoid
from ..nn.model import Sequential

XOR_X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=np.float64)
XOR_Y = np.array([[0], [1], [1], [0]], dtype=np.float64)
LEARNING_RATE = 0.1
EPOCHS = 10_000


def seed_initial_weights() -> dict[str, Array]:
    """The script's initial arrays, drawn exactly as it draws them (a private RandomState(42),
    the same stream as ``np.random.seed(42)``, without touching NumPy's global state)."""
    rs = np.random.RandomState(42)
    w_ih = rs.rand(2, 2)
    w_ho = rs.rand(2, 1)
    b_h = rs.rand(1, 2)
    b_o = rs.rand(1, 1)
    return {"0.W": w_ih.T, "0.b": b_h[0], "2.W": w_ho.T, "2.b": b_o[0]}


def seed_network(dtype: DType = np.float64) -> Sequential:
    """The seed's 2-2-1 sigmoid network with the seed's initial weights (float64 by default)."""
    w = seed_initial_weights()
    return Sequential([
        Dense(2, 2, init=w["0.W"], bias_init=w["0.b"], dtype=dtype), Sigmoid(),
        Dense(2, 1, init=w["2.W"], bias_init=w["2.b"], dtype=dtype), Sigmoid(),
    ], dtype=dtype)
