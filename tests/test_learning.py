"""It learns: XOR for ten seeds with mlp's defaults, and a 2-D two-class set to ≥ 99% accuracy."""

from __future__ import annotations

import numpy as np
import pytest

import deltaprop as dp
from deltaprop.seed import XOR_X, XOR_Y


@pytest.mark.parametrize("seed", range(10))
def test_mlp_defaults_separate_xor(seed):
    model = dp.mlp([2, 4, 1], seed=seed)  # tanh hidden layer, identity output, MSE
    history = model.fit(XOR_X, XOR_Y, optimizer=dp.Adam(lr=0.05), epochs=500)
    np.testing.assert_array_equal(model.predict_classes(XOR_X), XOR_Y[:, 0])
    assert history["loss"][-1] < 0.05 < history["loss"][0]


def two_moons(n: int, noise: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    t = rng.uniform(0, np.pi, n)
    upper = rng.random(n) < 0.5
    X = np.where(upper[:, None], np.c_[np.cos(t), np.sin(t)], np.c_[1 - np.cos(t), 0.5 - np.sin(t)])
    return X + rng.normal(0, noise, X.shape), (~upper).astype(int)


def test_two_class_toy_set_reaches_99_percent():
    X, y = two_moons(400, 0.1, seed=0)
    model = dp.mlp([2, 16, 16, 1], activation="relu", output_activation="sigmoid", seed=0)
    model.fit(X, y, optimizer=dp.Adam(lr=0.01), epochs=200, batch_size=32, metrics=["accuracy"])
    assert np.mean(model.predict_classes(X) == y) >= 0.99


def test_softmax_classifier_with_validation_and_early_stopping():
    X, y = two_moons(600, 0.15, seed=1)
    model = dp.mlp([2, 32, 2], activation="tanh", output_activation="softmax", seed=1)
    stop = dp.EarlyStopping(patience=20)
    history = model.fit(X, y, optimizer="adam", epochs=300, batch_size=32, validation_split=0.25,
                        metrics=["accuracy"], callbacks=[stop])
    assert "val_loss" in history and "val_accuracy" in history
    assert history["val_accuracy"][-1] > 0.9
    assert history["loss"][-1] < history["loss"][0]


def test_regression_with_huber_and_a_schedule():
    rng = np.random.default_rng(0)
    X = rng.uniform(-2, 2, (256, 1))
    y = np.sin(2 * X[:, 0])
    model = dp.mlp([1, 32, 1], activation="tanh", seed=0)
    history = model.fit(X, y, loss=dp.Huber(0.5), optimizer=dp.Adam(lr=0.01), epochs=300, batch_size=32,
                        lr_schedule=dp.CosineAnnealingLR(T_max=300), metrics=["r2"])
    assert history["r2"][-1] > 0.95
    assert history["lr"][-1] < 1e-3
