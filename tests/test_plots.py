"""plots: each figure has labelled axes and a legend where it compares things; PNG and SVG files; history files."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import deltaprop as dp
from deltaprop import plots
from deltaprop.diagnosis import TrainingMonitor


@pytest.fixture(scope="module")
def run():
    X, y = dp.datasets.moons(120, noise=0.2, seed=0)
    model = dp.mlp([2, 8, 2], activation="relu", output_activation="softmax", seed=0)
    monitor = TrainingMonitor()
    history = model.fit(X, y, optimizer=dp.Adam(lr=0.02), epochs=15, batch_size=32, validation_split=0.25,
                        metrics=["accuracy"], callbacks=[monitor], seed=0)
    return model, history, monitor, X, y


def _texts(ax) -> tuple[str, str, list[str]]:
    legend = ax.get_legend()
    return ax.get_xlabel(), ax.get_ylabel(), [t.get_text() for t in legend.get_texts()] if legend else []


def test_history_curves(run, tmp_path: Path) -> None:
    _, history, *_ = run
    fig = plots.plot_history(history, path=tmp_path / "h.png")
    loss_ax, acc_ax = fig.axes
    assert _texts(loss_ax) == ("epoch", "loss", ["training loss", "validation loss"])
    assert _texts(acc_ax) == ("epoch", "accuracy", ["training accuracy", "validation accuracy"])
    x, y = loss_ax.lines[0].get_data()
    assert list(x) == list(range(1, 16)) and list(y) == history["loss"]
    assert (tmp_path / "h.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_decision_boundary(run, tmp_path: Path) -> None:
    model, _, _, X, y = run
    fig = plots.plot_decision_boundary(model, X, y, class_names=["upper", "lower"], path=tmp_path / "b.svg")
    ax = fig.axes[0]
    assert _texts(ax) == ("x₁", "x₂", ["upper", "lower"])
    acc = float(np.mean(model.predict_classes(X) == y))
    assert f"{acc:.1%}" in ax.get_title()
    text = (tmp_path / "b.svg").read_text()
    assert text.lstrip().startswith("<?xml") and "<svg" in text
    # a single sigmoid output is drawn as a probability map with a colour bar
    binary = dp.mlp([2, 4, 1], output_activation="sigmoid", seed=1)
    fig = plots.plot_decision_boundary(binary, X, y)
    assert any(a.get_ylabel() == "predicted P(class 1)" for a in fig.axes)


def test_first_layer_and_confusion(run, tmp_path: Path) -> None:
    model = dp.mlp([64, 10, 3], seed=0)
    fig = plots.plot_first_layer(model, path=tmp_path / "w.png")
    images = [ax for ax in fig.axes if ax.images]
    assert len(images) == 10 and images[0].images[0].get_array().shape == (8, 8)
    np.testing.assert_allclose(images[3].images[0].get_array(), model.layers[0].W[3].reshape(8, 8))
    assert "8×8" in fig.get_suptitle()
    with pytest.raises(ValueError, match="not a square image"):
        plots.plot_first_layer(dp.mlp([10, 3]))

    fig = plots.plot_confusion_matrix([0, 0, 1, 2, 2, 2], [0, 1, 1, 2, 2, 0], class_names=["a", "b", "c"],
                                      path=tmp_path / "c.png")
    ax = fig.axes[0]
    assert ax.get_xlabel() == "predicted class" and ax.get_ylabel() == "true class"
    counts = ax.images[0].get_array()
    np.testing.assert_array_equal(counts, [[1, 1, 0], [0, 1, 0], [1, 0, 2]])
    assert "66.7%" in ax.get_title()


def test_gradient_norms(run) -> None:
    monitor = run[2]
    fig = plots.plot_gradient_norms(monitor)
    ax = fig.axes[0]
    assert ax.get_yscale() == "log" and ax.get_xlabel() == "epoch"
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["layer 1 (relu)", "layer 2 (softmax)"]


def test_history_files_round_trip(run, tmp_path: Path) -> None:
    _, history, *_ = run
    for suffix in (".json", ".csv"):
        path = plots.save_history(history, tmp_path / f"h{suffix}")
        back = plots.load_history(path)
        assert back["epoch"] == list(range(1, 16))
        assert back["loss"] == history["loss"] and back["val_accuracy"] == history["val_accuracy"]
    assert json.loads((tmp_path / "h.json").read_text())["loss"] == history["loss"]


def test_errors(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"must end in \.png or \.svg"):
        plots.save(plots.plot_confusion_matrix([0, 1], [0, 1]), tmp_path / "x.jpg")
    (tmp_path / "h.txt").write_text("loss\n1\n")
    with pytest.raises(ValueError, match=r"must end in \.json or \.csv"):
        plots.load_history(tmp_path / "h.txt")
    with pytest.raises(FileNotFoundError, match="no such file"):
        plots.load_history(tmp_path / "missing.json")
    (tmp_path / "bad.json").write_text('{"loss": [1, "a"]}')
    with pytest.raises(ValueError, match="not numbers"):
        plots.load_history(tmp_path / "bad.json")
    (tmp_path / "uneven.json").write_text('{"loss": [1, 2], "val_loss": [1]}')
    with pytest.raises(ValueError, match="different lengths"):
        plots.load_history(tmp_path / "uneven.json")
    with pytest.raises(ValueError, match="2 features"):
        plots.plot_decision_boundary(dp.mlp([3, 2]), np.zeros((4, 3)), [0, 1, 0, 1])
    with pytest.raises(TypeError, match="History"):
        plots.plot_history(42)
