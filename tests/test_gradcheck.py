"""Finite differences: backprop's gradients equal central differences for every activation × loss pair."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import deltaprop as dp
from _nets import HIDDEN, LOSSES, OUTPUT, make_loss, random_data, random_net, valid_pair

PAIRS = [(out, loss) for out in OUTPUT for loss in LOSSES if valid_pair(out, loss)]


@pytest.mark.parametrize(("output", "loss"), PAIRS)
@pytest.mark.parametrize("fused", [True, False])
def test_every_output_activation_and_loss_pair(output, loss, fused):
    model = random_net([3, 4, 3], "tanh", output, seed=7)
    X, y = random_data(5, 3, 3, loss, seed=7)
    result = dp.gradcheck(model, make_loss(loss), X, y, fused=fused)
    assert set(result) == {"0.W", "0.b", "2.W", "2.b"}
    assert result.max_error < 1e-6, result.table()


@pytest.mark.parametrize("hidden", HIDDEN)
def test_every_hidden_activation(hidden):
    model = random_net([3, 5, 4, 2], hidden, "identity", seed=3)
    X, y = random_data(4, 3, 2, "mse", seed=3)
    result = dp.gradcheck(model, "mse", X, y)
    assert result.max_error < 1e-6, result.table()


@settings(max_examples=int(__import__("os").environ.get("GRADCHECK_EXAMPLES", "60")))
@given(
    depth=st.integers(1, 4),
    widths=st.lists(st.integers(1, 8), min_size=5, max_size=5),
    n=st.integers(1, 6),
    hidden=st.sampled_from(HIDDEN),
    pair=st.sampled_from(PAIRS),
    reduction=st.sampled_from(["mean", "sum"]),
    seed=st.integers(0, 2**16),
)
def test_random_architectures(depth, widths, n, hidden, pair, reduction, seed):
    output, loss = pair
    sizes = widths[: depth + 1]
    if output == "softmax" and loss == "categorical_crossentropy" and sizes[-1] == 1:
        sizes[-1] = 2  # a one-way softmax is constant; nothing to check
    model = random_net(sizes, hidden, output, seed)
    X, y = random_data(n, sizes[0], sizes[-1], loss, seed)
    result = dp.gradcheck(model, make_loss(loss, reduction), X, y)
    assert result.max_error < 1e-6, f"{sizes} {hidden}->{output} {loss}/{reduction}\n{result.table()}"


def test_sample_weight_gradient():
    model = random_net([2, 3, 1], "tanh", "sigmoid", seed=1)
    X, y = random_data(6, 2, 1, "binary_crossentropy", seed=1)
    w = np.linspace(0.1, 2.0, 6)
    result = dp.gradcheck(model, "bce", X, y, sample_weight=w)
    assert result.max_error < 1e-6


def test_gradcheck_detects_a_wrong_gradient():
    """The check can fail: corrupt a layer's derivative and it reports a large error."""

    class WrongTanh(dp.Tanh):
        def backward(self, da):
            return da * (1.0 - self.a)  # not 1 − a²

    model = dp.Sequential([dp.Dense(2, 3, seed=0, dtype="float64"), WrongTanh(), dp.Dense(3, 1, seed=1)])
    X, y = random_data(4, 2, 1, "mse", seed=0)
    result = dp.gradcheck(model, "mse", X, y)
    assert result["0.W"] > 1e-3
    assert result["2.W"] < 1e-6


def test_gradcheck_leaves_the_model_untouched():
    model = dp.mlp([2, 3, 1], seed=0)
    before = model.get_weights()
    dp.gradcheck(model, "mse", np.ones((2, 2)), np.zeros(2))
    for key, value in model.parameters().items():
        np.testing.assert_array_equal(value, before[key])
        assert value.dtype == np.float32
