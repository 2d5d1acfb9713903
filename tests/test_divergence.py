"""Divergence: when the loss or a weight becomes NaN or infinite, ``fit`` stops with a FloatingPointError
that names the epoch and step and suggests the fix, and leaves the model with its last finite weights;
``on_divergence="warn"`` turns that into a DivergenceWarning and an early stop. See _divergence.py for
exactly which weights are kept."""

from __future__ import annotations

import re
import warnings

import numpy as np
import pytest

import deltaprop as dp
from deltaprop.train.divergence import LastFinite

# the overflows are the point of these tests
pytestmark = pytest.mark.filterwarnings("ignore:overflow encountered:RuntimeWarning",
                                        "ignore:invalid value encountered:RuntimeWarning")

RNG = np.random.default_rng(0)
X_BIG = RNG.normal(size=(32, 3)) * 50  # unscaled inputs
Y_BIG = X_BIG.sum(axis=1) ** 2


def regression_model() -> dp.Sequential:
    return dp.mlp([3, 8, 1], seed=0, dtype="float64")


def weights(model: dp.Sequential) -> dict[str, np.ndarray]:
    return {k: v.copy() for k, v in model.parameters().items()}


def all_finite(model: dp.Sequential) -> bool:
    return all(np.isfinite(v).all() for v in model.parameters().values())


class Recorder(dp.Callback):
    """Copies of the weights after every completed step: after[s] holds the weights after step s."""

    def on_train_begin(self, logs=None):
        self.after = [weights(self.model)]

    def on_batch_end(self, batch, logs=None):
        self.after.append(weights(self.model))


class Poison(dp.Callback):
    """Sets one weight to ``value`` at the end of step ``at`` (as an overflowing update would)."""

    def __init__(self, at: int, value: float, key: str = "0.W") -> None:
        self.at, self.value, self.key, self.step = at, value, key, 0

    def on_batch_end(self, batch, logs=None):
        self.step += 1
        if self.step == self.at:
            self.model.parameters()[self.key].flat[0] = self.value


def test_loss_divergence_names_epoch_and_step_and_keeps_the_last_completed_step():
    recorder = Recorder()
    model = regression_model()
    with pytest.raises(FloatingPointError) as info:
        model.fit(X_BIG, Y_BIG, optimizer=dp.SGD(lr=5.0), epochs=20, batch_size=4, seed=0, callbacks=[recorder])
    message = str(info.value)
    epoch, step = map(int, re.search(r"the loss became (?:nan|inf) at epoch (\d+), step (\d+)", message).groups())
    assert epoch == (step - 1) // 8 + 1 and epoch > 1  # 8 steps per epoch
    assert "(lr=5); training diverged" in message
    assert "Lower the learning rate (e.g. lr=0.5), standardise the inputs, or clip the gradients" in message
    assert f"The model keeps the weights after step {step - 1}, the last completed step" in message
    assert all_finite(model)
    assert len(recorder.after) == step  # steps 1 .. step-1 completed
    for key, w in model.parameters().items():
        np.testing.assert_array_equal(w, recorder.after[step - 1][key])


def test_a_nan_weight_stops_at_the_next_step_and_rolls_back_to_the_last_finite_copy():
    # 8 steps per epoch; copies are taken at epoch starts at least 64 steps apart: steps 0 and 64
    recorder = Recorder()
    model = regression_model()
    opt = dp.Adam(lr=1e-3)
    with pytest.raises(FloatingPointError, match=r"the loss became nan at epoch 9, step 71 .* The model keeps the "
                                                 r"weights after step 64 \(start of epoch 9\), the last ones known to "
                                                 r"be finite"):
        model.fit(X_BIG / 50, Y_BIG / 1e4, optimizer=opt, epochs=20, batch_size=4, seed=0,
                  callbacks=[recorder, Poison(at=70, value=np.nan)])
    assert all_finite(model)
    for key, w in model.parameters().items():
        np.testing.assert_array_equal(w, recorder.after[64][key])
    assert opt.t == 64  # the optimizer state went back with the weights
    assert all(np.isfinite(a).all() for slot in opt.state.values() for a in slot.values())


def saturating_model() -> dp.Sequential:
    return dp.Sequential([dp.Dense(2, 3, seed=0), dp.Sigmoid(), dp.Dense(3, 1, seed=1), dp.Sigmoid()],
                         dtype="float64")


def test_an_infinite_weight_the_loss_cannot_see_is_caught_when_fit_ends():
    """+inf into a sigmoid gives exactly 1 and a zero gradient: the loss stays finite, so only the scan
    of all weights at the end of fit finds it."""
    X = RNG.uniform(1, 2, size=(16, 2))
    y = (X[:, 0] > 1.5).astype(float)
    recorder = Recorder()
    model = saturating_model()
    with pytest.raises(FloatingPointError, match=r"a weight became NaN or infinite by step 40 .* keeps the weights "
                                                 r"after step 0 \(start of epoch 1\)"):
        model.fit(X, y, optimizer=dp.SGD(lr=0.1), epochs=10, batch_size=4, seed=0,
                  callbacks=[recorder, Poison(at=30, value=np.inf)])
    assert len(recorder.after) == 41  # training went on: the loss never showed the infinite weight
    for key, w in model.parameters().items():
        np.testing.assert_array_equal(w, recorder.after[0][key])


def test_a_checkpoint_is_never_written_with_non_finite_weights(tmp_path):
    X = RNG.uniform(1, 2, size=(16, 2))
    y = (X[:, 0] > 1.5).astype(float)
    path = tmp_path / "run.safetensors"
    model = saturating_model()
    with pytest.raises(FloatingPointError, match=r"a weight became NaN or infinite by step 12 \(epoch 4\)"):
        model.fit(X, y, optimizer=dp.SGD(lr=0.1), epochs=10, batch_size=4, seed=0, checkpoint=path,
                  callbacks=[Poison(at=10, value=np.inf)])
    saved = dp.load(path)  # the checkpoint of epoch 2 (step 8) is still there and loads
    assert all(np.isfinite(v).all() for v in saved.parameters().values())
    assert dp.io.read_metadata(path)["training"]["epochs"] == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run.safetensors"]


def test_warn_stops_early_with_a_divergence_warning():
    model = regression_model()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        history = model.fit(X_BIG, Y_BIG, optimizer=dp.SGD(lr=5.0), epochs=20, batch_size=4, seed=0,
                            on_divergence="warn", metrics=["mae"])
    found = [w for w in caught if issubclass(w.category, dp.DivergenceWarning)]
    assert len(found) == 1
    assert "training diverged" in str(found[0].message) and "Training stopped early (on_divergence='warn')" in str(
        found[0].message)
    assert found[0].filename == __file__  # attributed to the caller's line, not to deltaprop
    assert history.stopped_early and model.stop_training and 1 <= len(history) < 20
    assert all(np.isfinite(v) for values in history.history.values() for v in values)  # no half epoch logged
    assert all_finite(model)
    model.predict(X_BIG)  # the model stays usable


def test_non_finite_weights_before_training_are_reported():
    model = regression_model()
    model.layers[0].W[0, 0] = np.nan
    with pytest.raises(FloatingPointError, match="not finite before training started; re-initialise the model"):
        model.fit(X_BIG, Y_BIG, epochs=2)


def test_copies_are_taken_at_most_once_per_64_steps(monkeypatch):
    """The cost of keeping the last finite weights: full-batch training of 300 epochs copies them 5 times."""
    taken = []
    original = LastFinite.take

    def counting(self, epoch, step):
        taken.append(step)
        return original(self, epoch, step)

    monkeypatch.setattr(LastFinite, "take", counting)
    X = RNG.normal(size=(8, 2))
    dp.mlp([2, 3, 1], seed=0).fit(X, X[:, :1], epochs=300, optimizer=dp.SGD(lr=0.01))
    assert taken == [0, 64, 128, 192, 256]


def test_a_stable_run_is_unchanged_by_the_checks():
    """The checks only read: a run that does not diverge gives the same weights as the plain loop."""
    X = RNG.normal(size=(20, 3))
    y = X @ np.array([1.0, -2.0, 0.5])
    model = regression_model()
    model.fit(X, y, optimizer=dp.SGD(lr=0.05), epochs=3, batch_size=5, shuffle=False)
    manual = regression_model()
    opt = dp.SGD(lr=0.05)
    for _ in range(3):
        for start in range(0, 20, 5):
            manual.train_on_batch(X[start:start + 5], y[start:start + 5], loss="mse", optimizer=opt)
    for key, w in model.parameters().items():
        np.testing.assert_array_equal(w, manual.parameters()[key])
