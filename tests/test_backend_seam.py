"""Every array the training path creates goes through ``deltaprop.backend.xp`` (the GPU seam)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "deltaprop"
CREATORS = {"zeros", "zeros_like", "empty", "empty_like", "ones", "ones_like", "full", "full_like", "array",
            "eye"}
# host-side edges (input validation, metrics, files) may use NumPy directly; these modules may not
CORE = ["nn/layers.py", "nn/activations.py", "nn/losses.py", "optim/optimizers.py", "nn/model.py", "train/loop.py"]


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


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("size", [0, 1, 17, 1000])
def test_zeros_aligned_starts_on_a_cache_line(dtype, size):
    import numpy as np

    from deltaprop.backend import ALIGNMENT, zeros_aligned

    for _ in range(5):  # several allocations: malloc's own offset varies
        a = zeros_aligned(size, dtype)
        assert a.shape == (size,) and a.dtype == np.dtype(dtype) and a.flags.c_contiguous and a.flags.writeable
        assert (size == 0 or a.ctypes.data % ALIGNMENT == 0) and not a.any()  # an empty view has no start to align


def test_flat_parameters_and_adam_state_are_aligned():
    import deltaprop as dp
    from deltaprop.backend import ALIGNMENT

    model = dp.mlp([30, 20, 5], activation="relu", seed=0)
    opt = dp.Adam()
    opt.step(model)
    w, g, _ = model.flat_parameters()
    for name, a in [("w", w), ("g", g), ("m", opt._flat_state["m"]), ("v", opt._flat_state["v"])]:
        assert a.ctypes.data % ALIGNMENT == 0, name
