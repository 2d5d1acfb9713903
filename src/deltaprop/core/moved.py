"""Old module paths that moved into the role packages (``deltaprop.layers`` → ``deltaprop.nn.layers``).

``import deltaprop.layers`` and ``from deltaprop.seed import XOR_X`` keep working: a finder on
``sys.meta_path`` answers each old name with the module at its new place (the very same module object,
so monkeypatching either name patches both). Nothing is imported until an old name is asked for.
"""

from __future__ import annotations

import importlib
import importlib.machinery
import sys
from types import ModuleType

MOVED = {
    "activations": "nn.activations", "layers": "nn.layers", "losses": "nn.losses", "init": "nn.init",
    "model": "nn.model", "metrics": "nn.metrics", "optimizers": "optim.optimizers",
    "schedules": "optim.schedules", "training": "train.loop", "callbacks": "train.callbacks",
    "checkpoint": "train.checkpoint", "augment": "train.augment", "onnx": "io.onnx",
    "torch_bridge": "io.torch_bridge", "explain": "teach.explain", "diagrams": "teach.diagrams",
    "diagnosis": "teach.diagnosis", "plots": "teach.plots", "gradcheck": "teach.gradcheck",
    "seed": "teach.seed", "config": "cli.config", "backend": "core.backend",
}


class MovedModules:
    """Finds ``deltaprop.<old>`` and loads it by importing ``deltaprop.<new>`` in its place (a meta path
    finder and loader by protocol; not derived from ``importlib.abc``, whose import costs 9 ms)."""

    def __init__(self, package: str) -> None:
        self.package = package

    def find_spec(self, fullname: str, path: object = None,
                  target: object = None) -> importlib.machinery.ModuleSpec | None:
        head, _, name = fullname.rpartition(".")
        if head != self.package or name not in MOVED:
            return None
        return importlib.machinery.ModuleSpec(fullname, self)

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType | None:
        return None

    def exec_module(self, module: ModuleType) -> None:
        # the import system reads sys.modules back after exec_module: the new module takes the old name
        old = module.__name__.rpartition(".")[2]
        sys.modules[module.__name__] = new = importlib.import_module(f"{self.package}.{MOVED[old]}")
        setattr(sys.modules[self.package], old, new)  # deltaprop.seed after `import deltaprop.seed`


def install(package: str) -> None:
    """Alias the old names of modules already imported, and put the finder on ``sys.meta_path`` once.

    The aliases come first: importing a module for the first time sets it as an attribute of its
    package, which would replace ``deltaprop.explain`` (the function) with the module of that name."""
    parent = sys.modules[package]
    for old, new in MOVED.items():
        module = sys.modules.get(f"{package}.{new}")
        if module is not None:
            sys.modules.setdefault(f"{package}.{old}", module)
            if old not in vars(parent):  # not hasattr: that would import a lazily exported name
                setattr(parent, old, module)
    if not any(isinstance(f, MovedModules) and f.package == package for f in sys.meta_path):
        sys.meta_path.append(MovedModules(package))
