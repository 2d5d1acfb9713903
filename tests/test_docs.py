"""Documentation stays true: every `deltaprop.…` reference in docs/backprop.md resolves to real code."""

from __future__ import annotations

import importlib
import re
from pathlib import Path

import pytest

DOCS = Path(__file__).resolve().parents[1] / "docs"


def resolve(dotted: str) -> object:
    parts = dotted.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        for attr in parts[cut:]:
            obj = getattr(obj, attr)
        return obj
    raise ImportError(dotted)


REFS = sorted(set(re.findall(r"`(deltaprop(?:\.\w+)+)`", (DOCS / "backprop.md").read_text(encoding="utf-8"))))


def test_the_page_has_references():
    assert len(REFS) > 15


@pytest.mark.parametrize("ref", REFS)
def test_reference_resolves(ref):
    assert resolve(ref) is not None
