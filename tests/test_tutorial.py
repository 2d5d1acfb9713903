"""docs/tutorial.md and docs/tabular.md run as written: each ```bash and ```python block, in order, in an empty folder.

The console script and python come from this test's virtual environment. The install step
(``pip install -e ".[extras]"``, run in a checkout) cannot run in the test's empty folder and must
not re-point the environment's install, so it is checked instead: deltaprop is installed and the
extras it names import. A ```text block right after a ```bash block is that command's expected output: each of
its lines must appear, in order, as a line of the real output (``...`` skips lines, and a line
ending in ``...`` only has to start that way). Numbers may differ by 5 % (or 0.01): float32
training sums in a different order on another CPU's BLAS, and the last digits shown move.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

TUTORIAL = Path(__file__).resolve().parents[1] / "docs" / "tutorial.md"
TABULAR = TUTORIAL.with_name("tabular.md")
FENCE = re.compile(r"^```(\w*)\n(.*?)^```\s*$", re.M | re.S)
NUMBER = re.compile(r"-?\d+(?:\.\d+)?(?:e[-+]?\d+)?")


def blocks(doc: Path = TUTORIAL) -> list[tuple[str, str, str | None]]:
    """(language, code, expected output or None) for each runnable block, in document order."""
    text = doc.read_text(encoding="utf-8")
    found = [(m.group(1), m.group(2), m.start(), m.end()) for m in FENCE.finditer(text)]
    out = []
    for k, (lang, code, _, end) in enumerate(found):
        if lang not in ("bash", "python"):
            continue
        expected = None
        if k + 1 < len(found) and found[k + 1][0] == "text" and not text[end:found[k + 1][2]].strip():
            expected = found[k + 1][1]
        out.append((lang, code, expected))
    return out


def same(line: str, want: str) -> bool:
    """Equal, or equal up to numbers that agree within 5 % (or 0.01)."""
    if line == want:
        return True
    if NUMBER.sub("#", line) != NUMBER.sub("#", want):
        return False
    pairs = zip(map(float, NUMBER.findall(line)), map(float, NUMBER.findall(want)))
    return all(abs(a - b) <= max(0.05 * abs(b), 0.01) for a, b in pairs)


def check_output(expected: str, actual: str) -> None:
    lines = [line.rstrip() for line in actual.splitlines()]
    pos = 0
    for want in (w.rstrip() for w in expected.splitlines()):
        if want == "...":
            continue
        prefix = want.endswith("...")
        stem = want[:-3].rstrip() if prefix else want
        for k in range(pos, len(lines)):
            if (same(lines[k][:len(stem)], stem) if prefix else same(lines[k], stem)):
                pos = k + 1
                break
        else:
            raise AssertionError(f"expected line not found (in order): {want!r}\n--- output ---\n{actual}")


def test_blocks_were_found() -> None:
    langs = [lang for lang, _, _ in blocks()]
    assert langs.count("bash") >= 10 and "python" in langs
    assert INSTALL.search(blocks()[0][1]) and "pip show" in install_check(blocks()[0][1])


EXTRA_MODULES = {"plots": "matplotlib", "progress": "tqdm", "sklearn": "sklearn", "onnx": "onnx, onnxruntime",
                 "tables": "pandas, pyarrow", "torch": "torch", "fast": "numba"}
INSTALL = re.compile(r'^python -m pip install -e "\.\[([\w,]+)\]"$', re.M)


def install_check(code: str) -> str:
    """The install line replaced by: deltaprop is installed, and each extra it names imports."""
    def check(m: re.Match[str]) -> str:
        modules = ", ".join(EXTRA_MODULES[e] for e in m.group(1).split(","))
        return f'python -m pip show -q deltaprop >/dev/null && python -c "import {modules}"'
    return INSTALL.sub(check, code)


def test_tutorial_runs_as_written(tmp_path: Path) -> None:
    run_blocks(TUTORIAL, tmp_path)
    for made in ("iris.safetensors", "history.json", "plots/loss.png", "step.md", "step.json", "xor.mmd",
                 "moons-plots/decision_boundary.png", "digits-plots/first_layer.png", "history.png", "boundary.svg"):
        assert (tmp_path / made).is_file(), made


def test_tabular_tutorial_runs_as_written(tmp_path: Path) -> None:
    assert len(blocks(TABULAR)) >= 7
    run_blocks(TABULAR, tmp_path)
    for made in ("penguins.safetensors", "penguins.onnx"):
        assert (tmp_path / made).is_file(), made


def run_blocks(doc: Path, tmp_path: Path) -> None:
    bin_dir = Path(sys.executable).parent
    if not (bin_dir / "deltaprop").exists():
        pytest.fail(f"the deltaprop console script is not in {bin_dir}; install the package (pip install -e .)")
    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}", "PIP_NO_INDEX": "1",
           "PIP_DISABLE_PIP_VERSION_CHECK": "1", "MPLBACKEND": "Agg", "PYTHONIOENCODING": "utf-8",
           "COLUMNS": "120"}
    env.pop("DELTAPROP_DEBUG", None)
    for n, (lang, code, expected) in enumerate(blocks(doc)):
        if lang == "bash":
            cmd = ["bash", "-euo", "pipefail", "-c", install_check(code)]
        else:
            script = tmp_path / f"block{n}.py"
            script.write_text(code, encoding="utf-8")
            cmd = [sys.executable, str(script)]
        proc = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
        assert proc.returncode == 0, f"block {n} failed:\n{code}\n--- stdout ---\n{proc.stdout}\n--- stderr ---\n" \
                                     f"{proc.stderr}"
        assert "Traceback" not in proc.stderr, proc.stderr
        if expected is not None:
            check_output(expected, proc.stdout)


def test_check_output_is_strict() -> None:
    check_output("a\n...\nc...", "a\nb\ncde\n")
    with pytest.raises(AssertionError):
        check_output("c\na", "a\nc\n")  # order matters
    with pytest.raises(AssertionError):
        check_output("ab", "abc\n")  # whole lines unless the line ends in ...
    check_output("loss 0.0385", "loss 0.0386\n")
    with pytest.raises(AssertionError):
        check_output("accuracy 0.9867", "accuracy 0.8000\n")  # a real change fails
