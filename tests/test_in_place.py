"""Inside a model, ReLU writes its results over the temporaries a Dense layer hands it (z forward,
δ W backward); nothing a caller passed in, and nothing another layer still needs, is ever written over.

The overwriting is an optimisation only: results are bitwise those of the same net without it."""

from __future__ import annotations

import numpy as np
import pytest

import deltaprop as dp
from deltaprop import layers


def net(*middle: layers.Layer, seed: int = 0) -> dp.Sequential:
    return dp.Sequential([dp.Dense(6, 8, seed=seed), *middle, dp.Dense(8, 3, seed=seed + 1), dp.Softmax()])


def data(n: int = 20) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    return rng.normal(size=(n, 6)).astype(np.float32), rng.integers(0, 3, size=n)


def train(model: dp.Sequential) -> tuple[dict[str, np.ndarray], list[float]]:
    X, y = data()
    history = model.fit(X, y, loss="cross_entropy", optimizer=dp.Adam(1e-2), epochs=3, batch_size=8, seed=1)
    return model.get_weights(), history.history["loss"]


@pytest.mark.parametrize("middle", [lambda: [dp.ReLU()], lambda: [dp.ReLU(), dp.ReLU()],
                                    lambda: [dp.ReLU(), dp.Dropout(0.3, seed=2)], lambda: [dp.Identity(), dp.ReLU()]])
@pytest.mark.parametrize("fused", ["1", "0"])
def test_training_is_bitwise_the_same_without_overwriting(monkeypatch, middle, fused):
    monkeypatch.setenv("DELTAPROP_FUSED", fused)
    w1, loss1 = train(net(*middle()))
    monkeypatch.setattr(layers.ReLU, "overwrites", False)
    w0, loss0 = train(net(*middle()))
    assert loss1 == loss0
    for key in w0:
        np.testing.assert_array_equal(w1[key], w0[key], err_msg=key)


def test_relu_after_dense_reuses_z_and_delta(monkeypatch):
    made: dict[str, list[np.ndarray]] = {"z": [], "delta in": [], "delta out": []}
    forward, backward = layers.Dense.forward, layers.Dense.backward

    def spy_forward(self, a_prev, training=True):  # type: ignore[no-untyped-def]
        made["z"].append(forward(self, a_prev, training))
        return made["z"][-1]

    def spy_backward(self, delta, *, input_grad=True):  # type: ignore[no-untyped-def]
        made["delta in"].append(delta)
        made["delta out"].append(backward(self, delta, input_grad=input_grad))
        return made["delta out"][-1]

    monkeypatch.setattr(layers.Dense, "forward", spy_forward)
    monkeypatch.setattr(layers.Dense, "backward", spy_backward)
    model = net(dp.ReLU())  # built after the spies are in place: a wrapped forward is not fused with the ReLU
    X, y = data(4)
    a = model.forward(X)
    relu = model.layers[1]
    assert relu.a is made["z"][0]  # ReLU wrote a over the first Dense layer's z
    _, delta, top = model.output_delta(dp.losses.get("cross_entropy"), a, y)
    model._backward_from(top, delta)
    # the second Dense layer's δ W came back to the first as ReLU's δ, written over in place
    assert made["delta in"][1] is made["delta out"][0]
    assert np.all(made["delta in"][1][relu.a <= 0] == 0)


def test_nothing_the_caller_passed_is_written_over():
    rng = np.random.default_rng(3)
    z = rng.normal(size=(5, 8)).astype(np.float32)
    da = rng.normal(size=(5, 8)).astype(np.float32)
    z0, da0 = z.copy(), da.copy()
    relu = dp.ReLU()
    relu.forward(z)
    relu.backward(da)
    np.testing.assert_array_equal(z, z0)
    np.testing.assert_array_equal(da, da0)

    # a model whose first layer is a ReLU gets the caller's X; one whose last is a ReLU gets the caller's delta
    model = dp.Sequential([dp.ReLU(), dp.Dense(8, 4, seed=0), dp.ReLU()])
    a = model.forward(z)
    np.testing.assert_array_equal(z, z0)
    delta = rng.normal(size=a.shape).astype(np.float32)
    delta0 = delta.copy()
    grad_X = model.backward(delta, input_grad=True)
    np.testing.assert_array_equal(delta, delta0)
    assert grad_X is not None and np.all(grad_X[z0 <= 0] == 0)


@pytest.mark.parametrize("fused", ["1", "0"])
def test_the_bias_added_inside_relu_is_bitwise_dense_then_relu(monkeypatch, fused):
    """A Dense layer below a ReLU leaves + b to the ReLU, which adds it and takes the max in one pass (the
    numba kernel where numba is installed: 64 × 128 is big enough for it). Training is bitwise the run
    where each layer does its own part."""
    monkeypatch.setenv("DELTAPROP_FUSED", fused)
    rng = np.random.default_rng(5)
    X = rng.normal(size=(256, 20)).astype(np.float32)
    y = rng.integers(0, 4, size=256)

    def run() -> tuple[dict[str, np.ndarray], list[float]]:
        model = dp.mlp([20, 128, 128, 4], activation="relu", output_activation="softmax", seed=3)
        history = model.fit(X, y, loss="cross_entropy", optimizer=dp.Adam(1e-2), epochs=2, batch_size=64, seed=1)
        return model.get_weights(), history.history["loss"]

    w1, loss1 = run()
    model = dp.mlp([20, 128, 128, 4], activation="relu", output_activation="softmax", seed=3)
    assert model._defer_bias[:3] == [True, False, True]
    monkeypatch.setattr(layers.ReLU, "overwrites", False)  # no fusion, no overwriting
    assert not any(dp.mlp([20, 128, 4], activation="relu", seed=3)._defer_bias)
    w0, loss0 = run()
    assert loss1 == loss0
    for key in w0:
        np.testing.assert_array_equal(w1[key], w0[key], err_msg=key)
