"""``explain`` in the terminal: it fits the width (COLUMNS), shows wide layers one row per neuron,
writes one neuron's sum out term by term with the engine's numbers, and defines the equation
labels it cites. ``deltaprop demo xor --plots`` writes the XOR plots."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

import deltaprop as dp
from deltaprop.cli import main
from deltaprop.teach.explain import EQUATIONS


def iris_step() -> object:
    model = dp.mlp([4, 16, 3], activation="relu", output_activation="softmax", seed=0)
    return dp.explain(model, np.array([[5.1, 3.5, 1.4, 0.2], [6.7, 3.0, 5.2, 2.3]]), np.array([0, 2]))


@pytest.mark.parametrize("columns", [40, 60, 80, 120])
def test_text_fits_the_terminal_width(columns: int, monkeypatch, capsys) -> None:
    monkeypatch.setenv("COLUMNS", str(columns))
    assert main(["explain", "--layers", "4,16,3", "--activation", "relu", "--output", "softmax",
                 "--x", "5.1,3.5,1.4,0.2", "--y", "1,0,0"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert max(len(line) for line in lines) <= columns
    assert max(len(line) for line in iris_step().to_text(width=columns).splitlines()) <= columns


def test_wide_layers_get_one_row_per_neuron() -> None:
    e = iris_step()
    text = e.to_text(width=100)
    forward = text.split("1. Forward pass")[1].split("Layer 2")[0]
    rows = [line.split() for line in forward.splitlines() if re.match(r"\s+\d+\s", line)]
    assert [int(r[0]) for r in rows] == list(range(1, 17))  # all 16 neurons, none elided
    hidden = e.layers[0]
    for r in rows:
        j = int(r[0]) - 1
        assert float(r[2]) == pytest.approx(float(hidden.z[0, j]), abs=1e-4)  # j, b_j, z_j (ex 1), a_j (ex 1), …
        assert float(r[3]) == pytest.approx(float(hidden.a[0, j]), abs=1e-4)
    # a narrow layer keeps the matrices
    assert "⎡" in text.split("Layer 2")[1].split("2. Loss")[0]


def test_one_neurons_sum_is_written_out_term_by_term() -> None:
    e = dp.explain()  # the seed's XOR network on its first example
    text = e.to_text()
    part = text.split("5. One neuron written out")[1]
    s = e.layers[0]
    terms = " + ".join(f"({dp_fmt(s.W[0, i])})({dp_fmt(s.a_prev[0, i])})" for i in range(2))
    assert f"= {terms} + {dp_fmt(s.b[0])}" in part
    assert f"= {dp_fmt(s.z[0, 0])}" in part and "δ₁⁽¹⁾ = ∂L/∂a₁⁽¹⁾ · σ'(z₁⁽¹⁾) = " in part
    d = e.neuron(1, 0)
    assert d["z"] == float(s.z[0, 0]) and d["delta"] == float(s.delta[0, 0])
    assert d["dW"] == [float(v) for v in s.dW[0]] and d["W_new"] == [float(v) for v in s.W_new[0]]
    assert d["back"] == [{"k": 0, "w": float(e.layers[1].W[0, 0]), "delta": float(e.layers[1].delta[0, 0])}]
    with pytest.raises(ValueError, match="layer l must be 0"):
        e.neuron(3, 0)
    with pytest.raises(ValueError, match="neuron j of layer 1 must be 0 to 1"):
        e.neuron(1, 2)


def dp_fmt(v: float) -> str:
    from deltaprop.teach.explain import _fmt

    return _fmt(float(v), 4)


def test_the_cli_writes_out_the_neuron_asked_for(capsys) -> None:
    assert main(["explain", "--neuron", "2:1"]) == 0
    out = capsys.readouterr().out
    assert "neuron 1 of layer 2" in out and "z₁⁽²⁾ = Σᵢ w₁ᵢ⁽²⁾ aᵢ⁽¹⁾ + b₁⁽²⁾" in out
    assert main(["explain", "--neuron", "3:1"]) == 2
    assert "layer l must be 0 (the inputs) to 2" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["explain", "--neuron", "1:0"])


def test_every_cited_equation_label_is_defined() -> None:
    for e in (dp.explain(), iris_step()):
        text = e.to_text(width=100)
        legend, body = text.split("\n\n", 2)[1], text
        cited = set(re.findall(r"\(E(\d+)[,)]|\bE(\d+)\)", body))
        labels = {f"E{a or b}" for a, b in cited}
        assert labels, "the text cites equations"
        for label in labels:
            assert re.search(rf"^\s+{label}\s+\S", text, flags=re.M), f"{label} is cited but not defined"
        md = e.to_markdown()
        assert all(f"{label}: {EQUATIONS[label]}" in md for label in labels)
        assert legend


def test_demo_xor_plots(tmp_path: Path, capsys) -> None:
    pytest.importorskip("matplotlib")
    assert main(["demo", "xor", "--epochs", "200", "--every", "100", "--plots", str(tmp_path / "plots")]) == 0
    out = capsys.readouterr().out
    for name in ("loss.png", "decision_boundary.png", "confusion_matrix.png"):
        assert (tmp_path / "plots" / name).stat().st_size > 1000
        assert f"wrote {tmp_path / 'plots' / name}" in out
