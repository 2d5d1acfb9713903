"""Every array the training path creates goes through ``deltaprop.backend.xp`` (the GPU seam)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "deltaprop"
CREATORS = {"zeros", "zeros_like", "empty", "empty_like", "ones", "ones_like", "full", "full_like", "array",
            "eye"}
# host-side edges (input validation, metrics, files) may use NumPy directly; these modules may not
CORE = ["layers.py", "activations.py", "losses.py", "optimizers.py", "model.py", "training.py"]


@pytest.mark.parametrize("module", CORE)
def test_no_direct_numpy_array_creation(module):
    tree = ast.parse((SRC / module).read_text(encoding="utf-8"))
    offenders = [
        f"{module}:{node.lineno} np.{node.func.attr}"
        for node in ast.walk(tree)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
        and isinstance(node.func.value, ast.Name) and node.func.value.id == "np" and node.func.attr in CREATORS
    ]
    assert not offenders, "create arrays with backend.xp, not np: " + ", ".join(offenders)
