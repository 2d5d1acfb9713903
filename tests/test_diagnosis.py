"""diagnosis: the monitor records what backprop computed, and each hint fires on the run it describes."""

from __future__ import annotations

import numpy as np
import pytest

import deltaprop as dp
from deltaprop.diagnosis import Diagnosis, TrainingMonitor, diagnose


@pytest.fixture(scope="module")
def moons():
    return dp.datasets.moons(200, noise=0.2, seed=0)


def _train(model, X, y, opt, epochs, **kw) -> tuple[TrainingMonitor, Diagnosis]:
    monitor = TrainingMonitor()
    history = model.fit(X, y, optimizer=opt, epochs=epochs, callbacks=[monitor], seed=0, **kw)
    return monitor, diagnose(monitor, history)


def test_monitor_records_the_engines_gradients() -> None:
    """Full-batch training: the recorded ‖∂L/∂W‖ per epoch is the norm of the gradient of that step."""
    X, y = dp.datasets.xor()
    model = dp.mlp([2, 3, 1], activation="tanh", output_activation="sigmoid", seed=0, dtype="float64")
    twin = model.copy()
    monitor = TrainingMonitor()
    model.fit(X, y, optimizer=dp.SGD(lr=0.5), epochs=3, shuffle=False, callbacks=[monitor])
    opt, loss = dp.SGD(lr=0.5), dp.BinaryCrossEntropy()
    for epoch in range(3):
        a = twin.forward(X)
        _, delta, top = twin.output_delta(loss, a, y.astype(np.float64))
        twin._backward_from(top, delta)
        for rec in monitor.layers:
            assert rec.grad_norm[epoch] == pytest.approx(np.linalg.norm(twin.layers[rec.index].dW), rel=1e-12)
        w_before = twin.layers[0].W.copy()
        opt.step(twin)
        change = np.linalg.norm(twin.layers[0].W - w_before) / np.linalg.norm(w_before)
        assert monitor.layers[0].weight_change[epoch] == pytest.approx(change, rel=1e-9)
    # tanh saturation: the share of hidden activations with 1 − a² < 5 % on the last batch seen
    sat = float(np.mean(1 - twin.layers[1].a ** 2 < 0.05))
    assert monitor.layers[0].saturated[-1] == pytest.approx(sat)


def test_healthy_run(moons) -> None:
    X, y = moons
    _, d = _train(dp.mlp([2, 16, 2], activation="relu", output_activation="softmax", seed=0), X, y,
                  dp.Adam(lr=0.01), 30, batch_size=32)
    assert d.healthy and d.hints[0].startswith("No problems found")
    assert "layer" in d.table() and d.summary().endswith(d.hints[0])


def test_vanishing_gradients_in_a_deep_sigmoid_net(moons) -> None:
    X, y = moons
    model = dp.mlp([2, *[16] * 8, 2], activation="sigmoid", output_activation="softmax", seed=0)
    monitor, d = _train(model, X, y, dp.SGD(lr=0.05), 5, batch_size=50)
    assert any(h.startswith("Vanishing gradients") for h in d.hints), d.hints
    norms = [r.grad_rms for r in monitor.layers]
    assert norms[0] < norms[-1] * 1e-2  # what the hint is about


def test_saturated_tanh_units_and_dead_relus(moons) -> None:
    X, y = moons
    _, d = _train(dp.mlp([2, 16, 2], activation="tanh", output_activation="softmax", seed=0), X * 50, y,
                  dp.SGD(lr=0.01), 3, batch_size=50)
    assert any(h.startswith("Saturation") for h in d.hints), d.hints
    model = dp.mlp([2, 16, 2], activation="relu", output_activation="softmax", seed=0)
    model.layers[0].b = np.full(16, -100.0)  # every z < 0: no unit can fire
    monitor, d = _train(model, X, y, dp.SGD(lr=0.01), 2, batch_size=50)
    assert monitor.layers[0].dead[-1] == 1.0
    assert any(h.startswith("Dead ReLUs: 100%") for h in d.hints), d.hints


def test_learning_rate_hints(moons) -> None:
    X, y = moons
    _, d = _train(dp.mlp([2, 16, 2], activation="tanh", output_activation="softmax", seed=0), X, y,
                  dp.SGD(lr=30.0), 15, batch_size=32)
    assert any(h.startswith("Learning rate too high") for h in d.hints), d.hints
    # ReLUs at that rate die instead, and the hint says so (with the same advice: lower the rate)
    _, d = _train(dp.mlp([2, 16, 2], activation="relu", output_activation="softmax", seed=0), X, y,
                  dp.SGD(lr=30.0), 15, batch_size=32)
    assert any(h.startswith("Dead ReLUs") and "Lower the learning rate" in h for h in d.hints), d.hints
    _, d = _train(dp.mlp([2, 16, 2], activation="tanh", output_activation="softmax", seed=0), X, y,
                  dp.SGD(lr=1e-7), 5, batch_size=32)
    assert any(h.startswith("Learning rate too low") for h in d.hints), d.hints


def test_overfitting_hint() -> None:
    X, y = dp.datasets.moons(60, noise=0.4, seed=1)
    _, d = _train(dp.mlp([2, 128, 128, 2], activation="relu", output_activation="softmax", seed=0), X, y,
                  dp.Adam(lr=0.01), 150, batch_size=16, validation_split=0.4)
    assert any(h.startswith("Overfitting") for h in d.hints), d.hints


def test_errors() -> None:
    with pytest.raises(TypeError, match="TrainingMonitor"):
        diagnose(object())  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="no records"):
        diagnose(TrainingMonitor())
    with pytest.raises(ValueError, match="positive int"):
        TrainingMonitor(samples=0)


def test_scale_problems_are_named_with_the_fix(moons) -> None:
    """Issue #15: unscaled inputs, the gradients they cause and outputs that stopped depending on the input."""
    X, y = moons
    wide = X * np.array([1.0, 1000.0])
    monitor, d = _train(dp.mlp([2, 16, 2], activation="relu", output_activation="softmax", seed=0), wide, y,
                        dp.Adam(lr=0.01), 5, batch_size=50)
    assert monitor.input_rms is not None and monitor.input_rms[1] > 100 * monitor.input_rms[0]
    scale = [h for h in d.hints if h.startswith("Inputs on very different scales: input column 1's RMS")]
    assert scale and "Standardise the inputs" in scale[0] and "--no-preprocess" in scale[0]
    assert any(h.startswith("Huge first-layer gradients") for h in d.hints), d.hints
    model = dp.mlp([2, 16, 1], activation="relu", output_activation="sigmoid", seed=0)
    model.layers[0].b = np.full(16, -100.0)  # every hidden unit dead: the output is sigmoid(b) for every sample
    monitor, d = _train(model, X, y, dp.SGD(lr=0.01), 2, batch_size=50)
    assert monitor.output_spread[-1] < 1e-6
    assert any(h.startswith("Saturated outputs: the network gives nearly the same output") for h in d.hints)
    _, d = _train(dp.mlp([2, 16, 2], activation="relu", output_activation="softmax", seed=0), X, y,
                  dp.Adam(lr=0.01), 5, batch_size=50)
    assert not any(h.startswith(("Inputs on", "Huge first", "Saturated outputs")) for h in d.hints), d.hints
