"""The README's Python examples run as written and do what they say."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

README = Path(__file__).resolve().parents[1] / "README.md"


def test_readme_python_blocks_run():
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), flags=re.S)
    assert len(blocks) >= 2
    namespace: dict = {}
    for block in blocks:
        exec(compile(block, str(README), "exec"), namespace)  # our own documentation
    model, X, y = namespace["model"], namespace["X"], namespace["y"]
    np.testing.assert_array_equal(model.predict_classes(X), y)  # the hand loop learned XOR too


def test_readme_starts_with_the_two_commands():
    text = README.read_text(encoding="utf-8")
    commands = re.findall(r"```bash\n(.*?)```", text, flags=re.S)[:2]
    assert "deltaprop demo" in commands[0]
    assert "pytest" in commands[1]
    ci = (README.parent / ".ci" / "run").read_text(encoding="utf-8")
    test_command = next(line for line in commands[1].splitlines() if not line.startswith("#"))
    assert test_command.split("&& ", 1)[1] in ci  # CI runs the README's test command


def test_readme_speed_figures_are_the_minima_of_docs_speed_json():
    """The speed sentence is written from the run in docs/speed.json (minimum of the repeats), not by hand."""
    import json

    run = json.loads((README.parent / "docs" / "speed.json").read_text(encoding="utf-8"))["workloads"]

    def low(workload: str, impl: str) -> float:
        return run[workload]["impls"][impl]["min_s"]

    mlp = "mlp256"
    expected = [
        f"{low(mlp, 'deltaprop') / low(mlp, 'gemm'):.2f}× the time of its matrix products alone",
        f"({low(mlp, 'deltaprop (no numba)') / low(mlp, 'gemm'):.2f}× without it)",
        f"takes {low('cold', '20-64-3: deltaprop'):.2f} s, against {low('cold', '20-64-3: sklearn'):.2f} s",
        f"predicting one row takes {low('latency 1', 'deltaprop') * 1e6:.0f} µs (onnxruntime "
        f"{low('latency 1', 'onnxruntime') * 1e6:.0f} µs, PyTorch {low('latency 1', 'torch') * 1e6:.0f} µs)",
        f"and 64 rows {low('latency 64', 'deltaprop') * 1e6:.0f} µs (onnxruntime "
        f"{low('latency 64', 'onnxruntime') * 1e6:.0f} µs, PyTorch {low('latency 64', 'torch') * 1e6:.0f} µs)",
        f"PyTorch took {low(mlp, 'torch') / low(mlp, 'deltaprop'):.2f}× deltaprop's time",
    ]
    text = " ".join(README.read_text(encoding="utf-8").split())
    for phrase in expected:
        assert phrase in text, phrase
