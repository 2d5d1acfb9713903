"""The Mermaid deltaprop writes renders: mermaid.js in headless Chromium parses and draws every diagram.

The oracle is the real renderer (Debian ``chromium`` + ``mermaid`` from npm, both installed by
``.ci/run``), so a syntax mermaid rejects cannot slip through. In CI a missing tool fails the test.
"""

from __future__ import annotations

import re
from pathlib import Path

import deltaprop as dp
from _render import mermaid_render
from deltaprop import diagrams
from deltaprop.seed import seed_network


def _labels(svg: str) -> str:
    return " ".join(re.sub(r"<[^>]+>", " ", svg).split())  # words of a label sit in separate <tspan>s


def test_every_diagram_renders_without_a_parse_error() -> None:
    wide = dp.mlp([784, 128, 64, 10], activation="relu", output_activation="softmax", seed=0)
    sources = {
        "xor": diagrams.mermaid(seed_network()),
        "xor-weights": diagrams.mermaid(seed_network(), weights=True),
        "negative-weights": diagrams.mermaid(dp.mlp([3, 4, 2], seed=5), weights=True),
        "wide": diagrams.mermaid(wide, max_neurons=4),
        "top-down": diagrams.mermaid(seed_network(), direction="TD"),
        "neuron": diagrams.neuron(),
        "neuron-n": diagrams.neuron(10, activation="ReLU"),
        "workflow": diagrams.workflow(),
        "workflow-plain": diagrams.workflow(code=False),
    }
    results = dict(zip(sources, mermaid_render(list(sources.values()))))
    failed = {name: r["error"] for name, r in results.items() if not r["ok"]}
    assert not failed, failed
    for r in results.values():
        assert "<svg" in r["svg"] and "Syntax error" not in r["svg"]
    xor = _labels(results["xor-weights"]["svg"])
    for text in ("Input 1", "Neuron 1.2", "Output", "Hidden layer 1", "0.375", "0.951"):
        assert text in xor
    assert "781 more" in _labels(results["wide"]["svg"])
    assert "Backward pass" in _labels(results["workflow"]["svg"])


def test_the_oracle_reports_parse_errors() -> None:
    """The harness itself can fail: a broken diagram comes back with mermaid's parse error."""
    bad = diagrams.mermaid(seed_network()) + "  L0_1 -->\n"
    (result,) = mermaid_render([bad])
    assert not result["ok"] and "Parse error" in result["error"]


def test_mermaid_blocks_in_the_docs_render() -> None:
    """Every ```mermaid block of docs/*.md (MkDocs draws them in the browser) parses and renders."""
    docs = Path(__file__).resolve().parents[1] / "docs"
    sources = {f"{page.name}#{k}": block for page in sorted(docs.glob("*.md"))
               for k, block in enumerate(re.findall(r"^```mermaid\n(.*?)^```", page.read_text(encoding="utf-8"),
                                                    re.M | re.S))}
    assert "index.md#0" in sources
    failed = {name: r["error"] for name, r in zip(sources, mermaid_render(list(sources.values()))) if not r["ok"]}
    assert not failed, failed
