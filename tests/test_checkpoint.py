"""Checkpoints: a seeded float64 run interrupted after epoch k and resumed ends bitwise equal to the
uninterrupted run; checkpoints are plain validated safetensors files written atomically."""

from __future__ import annotations

import json
import os
import struct

import numpy as np
import pytest

import deltaprop as dp
from deltaprop import io as dpio

X = np.random.default_rng(0).normal(size=(60, 4))
Y = (X[:, 0] + X[:, 1] ** 2 > 0.5).astype(int) + (X[:, 2] > 0.8)


class Interrupt(dp.Callback):
    """Simulates a crash (Ctrl-C) at the start of epoch ``at``."""

    def __init__(self, at: int) -> None:
        self.at = at

    def on_epoch_begin(self, epoch, logs=None):
        if epoch == self.at:
            raise KeyboardInterrupt


def make_model(seed: int = 0) -> dp.Sequential:
    return dp.mlp([4, 16, 16, 3], activation="relu", output_activation="softmax", dropout=0.2, seed=seed,
                  dtype="float64")


OPTIMIZERS = {
    "adam+step": lambda: dict(optimizer=dp.Adam(lr=0.01), lr_schedule=dp.StepLR(2, gamma=0.5)),
    "sgd+plateau": lambda: dict(optimizer=dp.SGD(lr=0.05, momentum=0.9, nesterov=True),
                                lr_schedule=dp.ReduceLROnPlateau(factor=0.5, patience=0)),
}


def train(model, opt_name, extra_callbacks=(), **kwargs):
    return model.fit(X, Y, **OPTIMIZERS[opt_name](), epochs=7, batch_size=8, validation_split=0.2, tol=1e-12,
                     n_iter_no_change=50, callbacks=[dp.EarlyStopping(patience=50), *extra_callbacks], **kwargs)


def assert_same_weights(a: dp.Sequential, b: dp.Sequential) -> None:
    for key, w in a.parameters().items():
        assert b.parameters()[key].tobytes() == w.tobytes(), key


@pytest.mark.parametrize("opt_name", sorted(OPTIMIZERS))
@pytest.mark.parametrize("fit_seed", [1, None])
def test_interrupted_and_resumed_run_is_bitwise_equal(tmp_path, opt_name, fit_seed):
    full = make_model()
    h_full = train(full, opt_name, seed=fit_seed)

    path = tmp_path / "run.safetensors"
    crashed = make_model()
    with pytest.raises(KeyboardInterrupt):
        train(crashed, opt_name, [Interrupt(at=4)], seed=fit_seed, checkpoint=path)
    assert dpio.read_metadata(path)["training"]["epochs"] == 4

    resumed = make_model(seed=123)  # other initial weights, dropout masks, generator: all come from the file
    h_res = train(resumed, opt_name, seed=fit_seed, resume=path)
    assert_same_weights(full, resumed)
    assert h_res.history == h_full.history and h_res.epoch == h_full.epoch
    for key, slot in full.optimizer.state.items():
        for name, buf in slot.items():
            assert resumed.optimizer.state[key][name].tobytes() == buf.tobytes()
    assert resumed.optimizer.t == full.optimizer.t and resumed.optimizer.lr == full.optimizer.lr


def test_continuing_from_the_weights_alone_is_not_the_same_run(tmp_path):
    """The control for the test above: weights without optimizer, generator and dropout state diverge."""
    full = make_model()
    train(full, "adam+step", seed=1)
    path = tmp_path / "run.safetensors"
    with pytest.raises(KeyboardInterrupt):
        train(make_model(), "adam+step", [Interrupt(at=4)], seed=1, checkpoint=path)
    restarted = dp.load(path)
    restarted.fit(X, Y, **OPTIMIZERS["adam+step"](), epochs=3, batch_size=8, validation_split=0.2, seed=1)
    assert not np.array_equal(restarted.layers[0].W, full.layers[0].W)


def test_checkpoint_every_k_epochs_and_at_the_end(tmp_path):
    path = tmp_path / "run.safetensors"
    seen = []
    spy = dp.LambdaCallback(on_epoch_end=lambda epoch, logs: seen.append(
        json.loads(dpio.read_file(path).metadata["checkpoint"])["epoch"] if path.exists() else None))
    train(make_model(), "adam+step", [spy], seed=1, checkpoint=path, checkpoint_every=3)
    # the checkpoint is written after the callbacks of its epoch ran: epochs 3 and 6, then 7 (the end)
    assert seen == [None, None, None, 3, 3, 3, 6]
    assert json.loads(dpio.read_file(path).metadata["checkpoint"])["epoch"] == 7
    assert os.listdir(tmp_path) == ["run.safetensors"]  # no temporary files left


def test_resume_from_an_earlier_checkpoint_with_checkpoint_every(tmp_path):
    full = make_model()
    train(full, "adam+step", seed=1)
    path = tmp_path / "run.safetensors"
    with pytest.raises(KeyboardInterrupt):
        train(make_model(), "adam+step", [Interrupt(at=5)], seed=1, checkpoint=path, checkpoint_every=2)
    assert json.loads(dpio.read_file(path).metadata["checkpoint"])["epoch"] == 4
    resumed = make_model(7)
    train(resumed, "adam+step", seed=1, resume=path, checkpoint=path)
    assert_same_weights(full, resumed)


def test_a_checkpoint_loads_as_a_model(tmp_path):
    model = make_model()
    path = tmp_path / "run.safetensors"
    model.fit(X, Y, epochs=2, batch_size=16, checkpoint=path, seed=0)
    loaded = dp.load(path)
    np.testing.assert_array_equal(loaded.predict(X), model.predict(X))
    assert dpio.read_metadata(path)["kind"] == "checkpoint"


def test_early_stopped_run_resumes_to_the_same_end(tmp_path):
    def run(model, **kw):
        return model.fit(X, Y, optimizer=dp.Adam(lr=0.05), epochs=40, batch_size=16, validation_split=0.25,
                         callbacks=[dp.EarlyStopping(patience=2)], seed=3, **kw)

    path = tmp_path / "run.safetensors"
    model = make_model()
    history = run(model, checkpoint=path)
    assert history.stopped_early
    resumed = make_model(5)
    again = run(resumed, resume=path)
    assert again.stopped_early and again.history == history.history
    assert_same_weights(model, resumed)  # EarlyStopping put the same best weights back


@pytest.mark.parametrize("change, message", [
    (dict(optimizer=dp.Adam(lr=0.02)), "trained with optimizer"),
    (dict(lr_schedule=None), "trained with optimizer"),
    (dict(lr_schedule=dp.StepLR(3)), "trained with optimizer"),
    (dict(loss="mse"), "trained with loss"),
    (dict(callbacks=[]), "state of callbacks"),
])
def test_resume_refuses_a_different_run(tmp_path, change, message):
    def args():
        return dict(optimizer=dp.Adam(lr=0.01), lr_schedule=dp.StepLR(2), epochs=2, batch_size=16, seed=0,
                    callbacks=[dp.EarlyStopping("loss")])

    path = tmp_path / "run.safetensors"
    make_model().fit(X, Y, **args(), checkpoint=path)
    make_model().fit(X, Y, **{**args(), "epochs": 4}, resume=path)  # the same run continues
    changed = {**args(), "epochs": 4, **change}
    with pytest.raises(ValueError, match=message):
        make_model().fit(X, Y, **changed, resume=path)


def test_resume_refuses_other_data_and_other_architecture(tmp_path):
    path = tmp_path / "run.safetensors"
    make_model().fit(X, Y, epochs=1, checkpoint=path, seed=0)
    with pytest.raises(ValueError, match="trained on 60 training samples, this fit call has 59"):
        make_model().fit(X[:59], Y[:59], epochs=2, resume=path, seed=0)
    other = dp.mlp([4, 8, 3], output_activation="softmax", dtype="float64")
    with pytest.raises(ValueError, match="differs from the model's"):
        other.fit(X, Y, epochs=2, resume=path, seed=0)


def test_resume_from_a_model_file_or_a_damaged_checkpoint(tmp_path):
    model = make_model()
    model.save(tmp_path / "m.safetensors")
    with pytest.raises(dp.ModelFileError, match="is a model file, not a checkpoint"):
        model.fit(X, Y, epochs=2, resume=tmp_path / "m.safetensors")

    path = tmp_path / "run.safetensors"
    model.fit(X, Y, optimizer="adam", epochs=1, checkpoint=path, seed=0)
    data = path.read_bytes()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + n])

    def write(h):
        text = json.dumps(h).encode()
        bad = tmp_path / "bad.safetensors"
        bad.write_bytes(struct.pack("<Q", len(text)) + text + data[8 + n:])
        return bad

    state = json.loads(header["__metadata__"]["checkpoint"])
    state["optimizer"]["state"]["0.W"]["m"] = {"__tensor__": "0.weight"}  # a tensor the model already owns
    header["__metadata__"]["checkpoint"] = json.dumps(state)
    with pytest.raises(dp.ModelFileError, match=r"tensor '0\.weight' is missing|refers to tensor"):
        make_model().fit(X, Y, optimizer="adam", epochs=2, resume=write(header), seed=0)

    state = json.loads(json.loads(json.dumps(header))["__metadata__"]["checkpoint"])
    state["optimizer"]["state"]["0.W"]["m"] = {"__tensor__": "optimizer.state.0.W.m"}
    state["rng"]["now"]["bit_generator"] = "MT19937"
    header["__metadata__"]["checkpoint"] = json.dumps(state)
    with pytest.raises(dp.ModelFileError, match="is for 'MT19937', expected a PCG64 state"):
        make_model().fit(X, Y, optimizer="adam", epochs=2, resume=write(header), seed=0)


def test_checkpoint_argument_checks(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        make_model().fit(X, Y, epochs=1, checkpoint=tmp_path / "no" / "c.safetensors")
    with pytest.raises(ValueError, match="is a folder"):
        make_model().fit(X, Y, epochs=1, checkpoint=tmp_path)
    with pytest.raises(ValueError, match="checkpoint_every must be a positive int"):
        make_model().fit(X, Y, epochs=1, checkpoint=tmp_path / "c.safetensors", checkpoint_every=0)
