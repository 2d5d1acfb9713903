"""Bad settings are refused with a message that names the setting, what was expected, what arrived and
(for names) the valid choices and the closest one, and ``fit`` refuses them when it starts, before any
work: weights, the model's generator, its loss and optimizer are unchanged and no callback has run."""

from __future__ import annotations

import math

import numpy as np
import pytest

import deltaprop as dp

X = np.random.default_rng(0).normal(size=(16, 3))
LABELS = np.arange(16) % 2


class Recorder(dp.Callback):
    def __init__(self) -> None:
        self.calls: list[str] = []

    def on_train_begin(self, logs=None):
        self.calls.append("train_begin")

    def on_epoch_begin(self, epoch, logs=None):
        self.calls.append("epoch_begin")

    def on_batch_begin(self, batch, logs=None):
        self.calls.append("batch_begin")

    def on_train_end(self, logs=None):
        self.calls.append("train_end")


def snapshot(model: dp.Sequential) -> tuple:
    return ({k: v.tobytes() for k, v in model.parameters().items()}, model.rng.bit_generator.state, model.loss,
            model.optimizer, model.history)


def refused_at_fit_start(model: dp.Sequential, exc: type[Exception], match: str, tmp_path=None, **kwargs) -> None:
    recorder = Recorder()
    before = snapshot(model)
    extra = {} if tmp_path is None else {"checkpoint": tmp_path / "run.safetensors"}
    with pytest.raises(exc, match=match):
        model.fit(kwargs.pop("X", X), kwargs.pop("y", LABELS), callbacks=[recorder], **{**extra, **kwargs})
    assert recorder.calls == []
    assert snapshot(model) == before
    if tmp_path is not None:
        assert list(tmp_path.iterdir()) == []  # no checkpoint, no temporary file


def binary_model(output: str = "sigmoid", n_out: int = 1) -> dp.Sequential:
    return dp.mlp([3, 4, n_out], output_activation=output, seed=0)


FIT_SETTINGS = [
    ("epochs", {"epochs": 0}, ValueError, "fit: epochs must be a positive int, got 0"),
    ("epochs", {"epochs": -3}, ValueError, "epochs must be a positive int, got -3"),
    ("epochs", {"epochs": 2.5}, ValueError, "epochs must be a positive int, got 2.5"),
    ("epochs", {"epochs": True}, ValueError, "epochs must be a positive int, got True"),
    ("batch_size", {"batch_size": 0}, ValueError, "fit: batch_size must be a positive int, got 0"),
    ("batch_size", {"batch_size": -8}, ValueError, "batch_size must be a positive int, got -8"),
    ("batch_size", {"batch_size": "32"}, ValueError, "batch_size must be a positive int, got '32'"),
    ("checkpoint_every", {"checkpoint_every": 0}, ValueError, "checkpoint_every must be a positive int"),
    ("n_iter_no_change", {"tol": 1e-3, "n_iter_no_change": 0}, ValueError, "n_iter_no_change must be a positive int"),
    ("tol", {"tol": -1.0}, ValueError, r"tol must be None or a finite number >= 0 \(e.g. 1e-4\), got -1.0"),
    ("tol", {"tol": math.nan}, ValueError, "tol must be None or a finite number >= 0"),
    ("verbose", {"verbose": 3}, ValueError, "verbose must be 0 .*, 1 .* or 2 .*, got 3"),
    ("validation_split", {"validation_split": 1.5}, ValueError, r"validation_split must be in \(0, 1\), got 1.5"),
    ("validation_split", {"validation_split": 0.01}, ValueError, "leaves 0 of 16 samples for validation"),
    ("on_divergence", {"on_divergence": "ignore"}, ValueError, "on_divergence must be 'raise' or 'warn'"),
    ("augment", {"augment": 3}, TypeError, "augment must be a function augment"),
    ("lr_schedule", {"lr_schedule": "step"}, TypeError, "lr_schedule must be a deltaprop.schedules.Schedule"),
    ("class_weight", {"class_weight": "bal"}, ValueError, "class_weight must be a dict .* or 'balanced'"),
    ("seed", {"seed": "a"}, TypeError, "seed must be an int, a numpy Generator or None"),
    ("loss", {"loss": "msee"}, ValueError, r"unknown loss 'msee'; choose one of: .*mse.*\. Did you mean 'mse'\?"),
    ("loss", {"loss": "binary_crosentropy"}, ValueError, "Did you mean 'binary_crossentropy'"),
    ("loss", {"loss": 3}, TypeError, "loss must be given by name"),
    ("optimizer", {"optimizer": "adamm"}, ValueError,
     r"unknown optimizer 'adamm'; choose one of: adam, adamw, rmsprop, sgd\. Did you mean 'adam'\?"),
    ("optimizer", {"optimizer": "nesterov"}, ValueError, "choose one of: adam, adamw, rmsprop, sgd"),
    ("metrics", {"metrics": ["acuracy"]}, ValueError, "unknown metric 'acuracy'; .* Did you mean 'accuracy'"),
    ("callbacks", {"callbacks": [print]}, TypeError, "callbacks must be deltaprop.callbacks.Callback instances"),
]


@pytest.mark.parametrize("name, kwargs, exc, match", FIT_SETTINGS, ids=[f"{c[0]}={list(c[1].values())[-1]!r}"
                                                                       for c in FIT_SETTINGS])
def test_fit_refuses_bad_settings_before_any_work(name, kwargs, exc, match, tmp_path):
    model = binary_model()
    if name == "callbacks":  # the recorder is added by refused_at_fit_start; check the bad one alone here
        before = snapshot(model)
        with pytest.raises(exc, match=match):
            model.fit(X, LABELS, **kwargs)
        assert snapshot(model) == before
        return
    refused_at_fit_start(model, exc, match, tmp_path, **kwargs)


@pytest.mark.parametrize("make, match", [
    (lambda: dp.SGD(lr=0), "SGD: lr must be a finite number > 0, got 0"),
    (lambda: dp.SGD(lr=-0.1), "SGD: lr must be a finite number > 0, got -0.1"),
    (lambda: dp.Adam(lr=math.inf), "Adam: lr must be a finite number > 0, got inf"),
    (lambda: dp.RMSprop(lr=math.nan), "RMSprop: lr must be a finite number > 0, got nan"),
    (lambda: dp.optimizers.get("sgd", lr=0.0), "lr must be a finite number > 0"),
    (lambda: dp.SGD(lr=0.1, momentum=-1), "SGD: momentum must be a finite number >= 0, got -1"),
    (lambda: dp.Adam(lr=0.1, betas=(1.5, 0.9)), r"Adam: beta1 must be in \[0, 1\), got 1.5"),
    (lambda: dp.StepLR(0), "StepLR: step_size must be a positive int, got 0"),
    (lambda: dp.Dropout(1.0), r"Dropout: p must be in \[0, 1\), got 1.0"),
])
def test_optimizer_and_layer_settings_are_refused_when_built(make, match):
    with pytest.raises(ValueError, match=match):
        make()


@pytest.mark.parametrize("make, match", [
    (lambda: dp.Sequential([dp.Dense(3, 4), dp.ReLU(), dp.Dense(5, 1)]),
     r"layers\[2\]: Dense\(5, 1\) receives 4 inputs from the layer below; layer sizes must chain \(set n_in=4\)"),
    (lambda: dp.Dense(0, 3), "Dense: n_in must be a positive int, got 0"),
    (lambda: dp.mlp([3, 0, 1]), r"mlp: sizes must list at least two positive ints .*, got \[3, 0, 1\]"),
    (lambda: dp.mlp([3]), "at least two positive ints"),
    (lambda: dp.Sequential([]), "layers is empty"),
    (lambda: dp.Sequential([dp.ReLU()]), "needs at least one Dense layer"),
])
def test_layer_sizes_that_do_not_chain(make, match):
    with pytest.raises(ValueError, match=match):
        make()


@pytest.mark.parametrize("make, match", [
    (lambda: dp.mlp([3, 4, 1], activation="rleu"),
     r"unknown activation 'rleu'; choose one of: elu, .*relu, sigmoid, softmax.*\. Did you mean 'relu'\?"),
    (lambda: dp.mlp([3, 4, 1], output_activation="softmx"), "Did you mean 'softmax'"),
    (lambda: dp.mlp([3, 4, 1], init="glorot_unifrom"), "unknown initialiser .* Did you mean 'glorot_uniform'"),
    (lambda: dp.losses.get("hubr"), "unknown loss 'hubr'; .* Did you mean 'huber'"),
    (lambda: dp.optimizers.get("rmsrop"), "unknown optimizer 'rmsrop'; .* Did you mean 'rmsprop'"),
    (lambda: dp.mlp([3, 4, 1], activation="zzzz"), r"choose one of: [a-z_, ]+\.$"),  # no close match, no guess
])
def test_unknown_names_list_the_choices_and_the_closest(make, match):
    with pytest.raises(ValueError, match=match):
        make()


# -- pairs that cannot work together -------------------------------------------------------------------
def test_softmax_output_with_binary_targets_of_the_wrong_shape(tmp_path):
    model = binary_model("softmax", n_out=2)
    refused_at_fit_start(model, ValueError, r"y has shape \(16, 1\) but the network has 2 output\(s\); pass y of "
                         r"shape \(n, 2\) or integer labels \(n,\)", tmp_path, y=LABELS.reshape(-1, 1))
    refused_at_fit_start(model, ValueError, r"y has shape \(16, 3\) but the network has 2", tmp_path,
                         y=np.eye(3)[LABELS])
    model.fit(X, LABELS, epochs=1)  # integer labels 0/1 are right for a 2-unit softmax


def test_softmax_over_a_single_unit_is_refused(tmp_path):
    refused_at_fit_start(binary_model("softmax"), ValueError,
                         "softmax over 1 unit, which is always 1, so nothing can be learned; .* sigmoid output",
                         tmp_path)


@pytest.mark.parametrize("output, loss, suggestion", [
    ("identity", "binary_crossentropy", "sigmoid"),
    ("relu", "binary_crossentropy", "sigmoid"),
    ("tanh", "bce", "sigmoid"),
    ("identity", "categorical_crossentropy", "softmax"),
])
def test_cross_entropy_needs_a_probability_output(output, loss, suggestion, tmp_path):
    model = binary_model(output, n_out=1 if "binary" in loss or loss == "bce" else 2)
    refused_at_fit_start(model, ValueError, rf"needs probabilities, but the network's output is {output} .* end the "
                         rf"network with a {suggestion} output .*output_activation='{suggestion}'", tmp_path,
                         loss=loss)


def test_a_model_without_output_activation_is_checked_too(tmp_path):
    model = dp.Sequential([dp.Dense(3, 4), dp.Tanh(), dp.Dense(4, 1)])
    refused_at_fit_start(model, ValueError, "output is identity", tmp_path, loss="bce")
    model.fit(X, LABELS, loss="mse", epochs=1)  # a regression loss is fine


def test_rejected_call_keeps_loss_and_optimizer_of_the_last_run():
    model = binary_model()
    opt = dp.SGD(lr=0.1)
    model.fit(X, LABELS, optimizer=opt, loss="mse", epochs=1)
    before = snapshot(model)
    with pytest.raises(ValueError):
        model.fit(X, LABELS, optimizer="adam", loss="bce", epochs=0)
    with pytest.raises(ValueError):
        model.fit(X[:, :2], LABELS, optimizer="adam", loss="bce")
    assert snapshot(model) == before and model.optimizer is opt
