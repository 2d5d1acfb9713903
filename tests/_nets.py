"""Helpers that build small random networks and data for the property and oracle tests."""

from __future__ import annotations

import numpy as np

import deltaprop as dp

HIDDEN = ["identity", "sigmoid", "tanh", "relu", "leaky_relu", "elu", "gelu", "gelu_erf", "softplus", "softmax"]
OUTPUT = HIDDEN
LOSSES = ["mse", "half_sse", "mae", "huber", "binary_crossentropy", "categorical_crossentropy"]
PROBABILITY_LOSSES = {"binary_crossentropy", "categorical_crossentropy"}

#: one instance of every activation layer, by name (the model-file, ONNX and PyTorch-bridge round trips)
ACTIVATIONS = {
    "sigmoid": dp.Sigmoid, "tanh": dp.Tanh, "relu": dp.ReLU, "leaky_relu": lambda: dp.LeakyReLU(0.2),
    "elu": lambda: dp.ELU(0.5), "gelu_tanh": lambda: dp.GELU("tanh"), "gelu_erf": lambda: dp.GELU("none"),
    "softplus": dp.Softplus, "softmax": dp.Softmax, "identity": dp.Identity,
}


def activation_net(hidden: str, sizes: tuple[int, int, int], p: float, dtype: str = "float32") -> dp.Sequential:
    """Dense → ``hidden`` → Dropout(p) → Dense → ``hidden``, with non-trivial biases (export round trips)."""
    n_in, n_hidden, n_out = sizes
    rng = np.random.default_rng(0)
    return dp.Sequential([
        dp.Dense(n_in, n_hidden, bias_init=rng.normal(size=n_hidden), seed=1), ACTIVATIONS[hidden](),
        dp.Dropout(p, seed=2), dp.Dense(n_hidden, n_out, bias_init=rng.normal(size=n_out), seed=3),
        ACTIVATIONS[hidden](),
    ], dtype=dtype)


def make_activation(name: str) -> dp.Activation:
    if name == "leaky_relu":
        return dp.LeakyReLU(0.1)
    if name == "elu":
        return dp.ELU(0.7)
    if name == "gelu_erf":
        return dp.GELU(approximate="none")
    if name == "huber":
        raise AssertionError
    return dp.layers.activation(name)


def make_loss(name: str, reduction: str = "mean") -> dp.Loss:
    if name == "huber":
        return dp.Huber(0.5, reduction=reduction)
    return dp.losses.LOSSES[name](reduction=reduction)


def valid_pair(output: str, loss: str) -> bool:
    """Probability losses need outputs in (0, 1): a sigmoid or softmax output layer."""
    return loss not in PROBABILITY_LOSSES or output in ("sigmoid", "softmax")


def random_net(widths: list[int], hidden: str, output: str, seed: int, dtype=np.float64) -> dp.Sequential:
    """Dense layers with N(0, 1/n_in) weights and N(0, 0.5²) biases (no unit sits exactly at a kink)."""
    rng = np.random.default_rng(seed)
    layers: list[dp.Layer] = []
    for k, (n_in, n_out) in enumerate(zip(widths[:-1], widths[1:])):
        W = rng.normal(0, 1 / np.sqrt(n_in), (n_out, n_in))
        b = rng.normal(0, 0.5, n_out)
        layers.append(dp.Dense(n_in, n_out, init=W, bias_init=b, dtype=dtype))
        layers.append(make_activation(output if k == len(widths) - 2 else hidden))
    return dp.Sequential(layers, dtype=dtype)


def random_data(n: int, n_in: int, n_out: int, loss: str, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed + 1)
    X = rng.normal(size=(n, n_in))
    if loss == "categorical_crossentropy":
        y = np.eye(n_out)[rng.integers(0, n_out, n)]
    elif loss == "binary_crossentropy":
        y = rng.uniform(0, 1, (n, n_out))
    else:
        y = rng.normal(size=(n, n_out))
    return X, y
