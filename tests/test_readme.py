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
