"""The package shows its design: packages by role, no import cycles, old module paths still import."""

from __future__ import annotations

import ast
import importlib
import subprocess
import sys
from pathlib import Path

import pytest

import deltaprop as dp
from deltaprop.core.moved import MOVED

SRC = Path(__file__).resolve().parents[1] / "src" / "deltaprop"


def _module_name(path: Path) -> str:
    parts = ["deltaprop", *path.relative_to(SRC).with_suffix("").parts]
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _resolve(module: str, is_package: bool, level: int, target: str | None) -> str:
    if level == 0:
        return target or ""
    base = module.split(".") if is_package else module.split(".")[:-1]
    base = base[: len(base) - (level - 1)]
    return ".".join(base + ([target] if target else []))


def module_level_imports() -> dict[str, set[str]]:
    """Each module of the package -> the package modules it imports at module level (not inside a
    function, not under ``if TYPE_CHECKING``)."""
    modules = {_module_name(p): p for p in SRC.rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        is_package = path.name == "__init__.py"
        edges: set[str] = set()
        for node in ast.parse(path.read_text(encoding="utf-8")).body:  # the module body only
            if isinstance(node, ast.ImportFrom):
                base = _resolve(name, is_package, node.level, node.module)
                for alias in node.names:
                    sub = f"{base}.{alias.name}"
                    edges.add(sub if sub in modules else base)
            elif isinstance(node, ast.Import):
                edges.update(a.name for a in node.names)
        edges = {e for e in edges if e in modules and e != name}
        # importing deltaprop.nn.model runs deltaprop.nn first (unless the importer is inside it already)
        edges |= {p for e in edges for p in _packages_above(e) if p != name and not name.startswith(p + ".")}
        graph[name] = edges
    return graph


def _packages_above(module: str) -> list[str]:
    parts = module.split(".")
    return [".".join(parts[:k]) for k in range(2, len(parts))]


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return [*stack[stack.index(nxt):], nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (found := visit(node)):
            return found
    return None


def test_the_module_level_import_graph_has_no_cycle():
    graph = module_level_imports()
    assert len(graph) > 30 and graph["deltaprop.nn.model"] >= {"deltaprop.nn.layers", "deltaprop.nn.losses"}
    assert find_cycle(graph) is None, "import cycle: " + " -> ".join(find_cycle(graph) or [])


def test_the_cycle_finder_sees_a_cycle():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_the_top_level_holds_at_most_14_entries():
    entries = sorted(p.name for p in SRC.iterdir() if p.name != "__pycache__")
    assert len(entries) <= 14, entries
    assert {"nn", "optim", "train", "io", "teach", "datasets", "cli", "core", "sklearn.py"} <= set(entries)


@pytest.mark.parametrize("old", sorted(MOVED))
def test_an_old_module_path_imports_the_moved_module(old):
    moved = importlib.import_module(f"deltaprop.{old}")
    assert moved is importlib.import_module(f"deltaprop.{MOVED[old]}")


def test_old_paths_keep_the_public_functions_that_share_their_names():
    import deltaprop.explain
    import deltaprop.gradcheck  # noqa: F401

    assert callable(dp.explain) and callable(dp.gradcheck)
    for name in ("losses", "optimizers", "schedules", "callbacks", "datasets", "metrics", "init", "activations",
                 "augment"):
        assert getattr(dp, name).__name__.startswith("deltaprop.")


def test_user_import_paths_in_a_fresh_process():
    code = ("from deltaprop.io import load, save, read_metadata; from deltaprop.onnx import export; "
            "from deltaprop.torch_bridge import to_torch; from deltaprop.sklearn import MLPClassifier; "
            "from deltaprop.seed import XOR_X; import deltaprop.layers as L; import deltaprop as dp; "
            "assert L.Dense is dp.Dense and dp.seed.XOR_X is XOR_X")
    subprocess.run([sys.executable, "-c", code], check=True)
