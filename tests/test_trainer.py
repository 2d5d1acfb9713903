"""The training loop's seams: a Trainer driven step by step, the gradient-reduce hook, the batch source,
and ``model.fit`` showing its real signature."""

from __future__ import annotations

import ast
import inspect
from pathlib import Path

import numpy as np
import pytest

import deltaprop as dp
from deltaprop.train.batches import ArrayBatches, BatchSource
from deltaprop.train.loop import Trainer, fit

TRAIN = Path(__file__).resolve().parents[1] / "src" / "deltaprop" / "train"


def data(n=50, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, 3))
    return X, (X[:, 0] + X[:, 1] * X[:, 2] > 0).astype(int)


def net(seed=1):
    return dp.mlp([3, 8, 2], activation="relu", output_activation="softmax", dropout=0.1, seed=seed)


@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_single_steps_then_the_epoch_end_equal_fit_for_one_epoch(optimizer):
    X, y = data()
    fitted = net()
    history = fitted.fit(X, y, optimizer=optimizer, epochs=1, batch_size=8, validation_split=0.2, seed=3,
                         metrics=["accuracy"])
    stepped = net()
    trainer = Trainer(stepped, X, y, optimizer=optimizer, epochs=1, batch_size=8, validation_split=0.2, seed=3,
                      metrics=["accuracy"])
    losses = []
    while not trainer.epoch_finished:
        losses.append(trainer.step())
        assert trainer.batches_done == len(losses)
    logs = trainer.end_epoch()
    trainer.finish()
    assert trainer.batches_done == 0 and len(losses) == 5  # 40 training rows in batches of 8
    assert trainer.done and trainer.steps == 5
    for key, w in fitted.get_weights().items():
        assert np.array_equal(stepped.get_weights()[key], w), key
    assert logs == {k: v[-1] for k, v in history.history.items()}


def test_steps_across_epochs_match_fit_with_several_epochs():
    X, y = data()
    fitted = net()
    fitted.fit(X, y, epochs=3, batch_size=16, seed=0)
    stepped = net()
    trainer = Trainer(stepped, X, y, epochs=3, batch_size=16, seed=0)
    epochs = 0
    while not trainer.done:
        trainer.step()
        if trainer.epoch_finished:
            trainer.end_epoch()
            epochs += 1
    assert epochs == 3
    assert all(np.array_equal(stepped.get_weights()[k], w) for k, w in fitted.get_weights().items())


def test_the_gradient_reducer_runs_between_backward_and_update():
    """Doubling every gradient with plain SGD is exactly SGD with twice the learning rate."""
    X, y = data()

    class Double:
        def __init__(self):
            self.calls = []

        def reduce(self, model, rows):
            self.calls.append(rows)
            model.flat_parameters()[1][...] *= 2

    reducer = Double()
    reduced, reference = net(), net()
    Trainer(reduced, X, y, optimizer=dp.SGD(lr=0.05), epochs=2, batch_size=20, seed=0, reducer=reducer).run()
    fit(reference, X, y, optimizer=dp.SGD(lr=0.1), epochs=2, batch_size=20, seed=0)
    assert reducer.calls == [20, 20, 10] * 2
    assert all(np.array_equal(reduced.get_weights()[k], w) for k, w in reference.get_weights().items())


def test_array_batches_is_a_batch_source_and_covers_every_row_once():
    X = np.arange(20.0).reshape(10, 2)
    source = ArrayBatches(X, X[:, :1].copy(), None, None, 4)
    assert isinstance(source, BatchSource)
    order = source.draw_order(np.random.default_rng(0), shuffle=True)
    seen = np.concatenate([b.X[:, 0].copy() for b in source.batches(order)])
    assert sorted(seen) == list(X[:, 0]) and not np.array_equal(seen, X[:, 0])
    assert [len(b.X) for b in source.batches(None, first=1)] == [4, 2]


def test_model_fit_shows_the_real_signature():
    params = list(inspect.signature(dp.Sequential.fit).parameters)
    assert params[:3] == ["self", "X", "y"] and "kwargs" not in params
    assert params[3:] == list(inspect.signature(fit).parameters)[3:]
    trainer = list(inspect.signature(Trainer.__init__).parameters)
    assert trainer[4:] == [*params[3:], "reducer"]
    assert all(inspect.signature(dp.Sequential.fit).parameters[p].default == inspect.signature(fit).parameters[p]
               .default for p in params[3:])


def test_no_function_of_the_training_loop_is_longer_than_60_lines():
    long = []
    for path in TRAIN.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                lines = node.end_lineno - node.lineno + 1
                if lines > 60:
                    long.append(f"{path.name}:{node.name} ({lines} lines)")
    assert not long, long


def test_end_epoch_without_an_epoch_in_progress_is_refused():
    X, y = data()
    trainer = Trainer(net(), X, y, epochs=1)
    with pytest.raises(RuntimeError, match="no epoch is in progress"):
        trainer.end_epoch()
