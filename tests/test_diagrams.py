"""diagrams: the network, neuron and workflow diagrams as Mermaid and Graphviz DOT text."""

from __future__ import annotations

import re
import shutil
import subprocess

import pytest

import deltaprop as dp
from _render import require
from deltaprop import diagrams
from deltaprop.seed import seed_network


def _edges(src: str) -> list[tuple[str, str]]:
    return re.findall(r"^\s*(\w+) -[-.]+>(?:\|[^|]*\|)? (\w+)$", src, re.M)


def test_seed_network_has_every_neuron_and_connection() -> None:
    src = diagrams.mermaid(seed_network())
    assert src.startswith("graph LR\n")
    for node in ("Input 1", "Input 2", "Neuron 1.1", "Neuron 1.2", "Output"):
        assert f'"{node}"' in src
    edges = _edges(src)
    assert len(edges) == 2 * 2 + 2 * 1  # fully connected 2-2-1
    assert ("L0_1", "L1_2") in edges and ("L1_2", "L2_1") in edges
    assert "sigmoid" in src


def test_weights_on_edges_are_w_ji() -> None:
    model = seed_network()
    src = diagrams.mermaid(model, weights=True, precision=4)
    W = model.layers[0].W
    # the edge from input i to hidden neuron j carries W[j, i]
    assert f'L0_2 -->|"{W[0, 1]:.4g}"| L1_1' in src
    assert f'L0_1 -->|"{W[1, 0]:.4g}"| L1_2' in src
    assert f"b = {model.layers[2].b[0]:.4g}" in src
    assert f'label="{W[0, 1]:.4g}"' in diagrams.dot(model, weights=True, precision=4)


def test_wide_layers_are_collapsed() -> None:
    model = dp.mlp([784, 128, 10], activation="relu", output_activation="softmax", seed=0)
    src = diagrams.mermaid(model, max_neurons=5)
    assert '"… 780 more"' in src and '"… 124 more"' in src and '"… 6 more"' in src
    assert '"Input 784"' in src and '"Neuron 1.128"' in src and '"Output 10"' in src
    assert "Neuron 1.3" in src and "Neuron 1.4" not in src
    assert len(_edges(src)) == 5 * 5 + 5 * 5
    assert src.count("-.->") == 2 * (5 + 5 - 1)  # every edge touching a "…" node is dotted


def test_neuron_and_workflow_follow_the_seeds() -> None:
    neuron = diagrams.neuron()
    for text in ("x₁", "w₂", "Weighted sum z = Σ wᵢxᵢ + b", "Bias b", "Activation function σ", "Output a = σ(z)"):
        assert text in neuron
    assert "xₙ" in diagrams.neuron(8) and "x₄" not in diagrams.neuron(8)
    flow = diagrams.workflow()
    assert flow.startswith("graph TD")
    order = [flow.index(s) for s in ("Forward pass", "Compute loss", "Backward pass", "Compute gradients",
                                     "Update weights")]
    assert order == sorted(order)
    assert "update --> forward" in flow and "optimizer.step(model)" in flow
    assert "optimizer.step" not in diagrams.workflow(code=False)


def test_diagram_entry_point_and_errors() -> None:
    assert diagrams.diagram("network") == diagrams.mermaid(seed_network())
    assert diagrams.diagram("workflow", fmt="dot").startswith("digraph")
    with pytest.raises(ValueError, match="unknown kind 'nerve'"):
        diagrams.diagram("nerve")
    with pytest.raises(ValueError, match="unknown format 'svg'"):
        diagrams.neuron(fmt="svg")
    with pytest.raises(ValueError, match="max_neurons must be an int >= 3"):
        diagrams.mermaid(seed_network(), max_neurons=2)
    with pytest.raises(TypeError, match="Sequential"):
        diagrams.mermaid([2, 2, 1])


@pytest.mark.parametrize("source", [
    lambda: diagrams.dot(seed_network(), weights=True),
    lambda: diagrams.dot(dp.mlp([784, 32, 10], seed=0)),
    lambda: diagrams.neuron(fmt="dot"),
    lambda: diagrams.workflow(fmt="dot"),
], ids=["xor-weights", "wide", "neuron", "workflow"])
def test_dot_renders_with_graphviz(source) -> None:
    exe = shutil.which("dot")
    require("graphviz (apt-get install graphviz)", exe)
    proc = subprocess.run([exe, "-Tsvg"], input=source(), capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert "<svg" in proc.stdout and not proc.stderr.strip()
