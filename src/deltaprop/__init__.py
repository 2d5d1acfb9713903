"""deltaprop: multilayer perceptrons trained with textbook backpropagation, in NumPy.

The public names are re-exported here; each lives in a module of its own (see docs/backprop.md
for where each equation of the seeds is implemented). They are imported when first used
(PEP 562), so ``import deltaprop`` costs a few milliseconds and loads neither NumPy's optional
parts nor the data-set downloaders, the teaching tools or the model-file code until a program
asks for them.
"""

from __future__ import annotations

import importlib
import sys
from types import ModuleType
from typing import TYPE_CHECKING, Any

from .core import moved

__version__ = "0.1.0"

#: public name → the module that defines it (imported at first use)
_LAZY: dict[str, str] = {
    **dict.fromkeys(("ELU", "GELU", "Activation", "Dense", "Dropout", "Exp", "Identity", "Layer", "LeakyReLU",
                     "ReLU", "Sigmoid", "Softmax", "Softplus", "Tanh"), "nn.layers"),
    **dict.fromkeys(("MAE", "MSE", "BinaryCrossEntropy", "CategoricalCrossEntropy", "HalfSSE", "Huber", "Loss",
                     "PoissonDeviance"), "nn.losses"),
    **dict.fromkeys(("Sequential", "mlp"), "nn.model"),
    "Preprocessor": "nn.preprocess",
    **dict.fromkeys(("SGD", "Adam", "AdamW", "Optimizer", "RMSprop"), "optim.optimizers"),
    **dict.fromkeys(("CosineAnnealingLR", "ExponentialLR", "LinearWarmup", "ReduceLROnPlateau", "StepLR"),
                    "optim.schedules"),
    **dict.fromkeys(("Explanation", "explain"), "teach.explain"),
    **dict.fromkeys(("GradcheckResult", "gradcheck"), "teach.gradcheck"),
    **dict.fromkeys(("Callback", "EarlyStopping", "LambdaCallback"), "train.callbacks"),
    "DivergenceWarning": "train.divergence",
    "TrainingInterrupted": "train.interrupt",
    **dict.fromkeys(("History", "fit"), "train.loop"),
    **dict.fromkeys(("ModelFileError", "load"), "io.model_file"),
}
#: modules and subpackages reachable as attributes (``deltaprop.losses``, ``deltaprop.datasets``)
_SUBMODULES = {"datasets": "datasets", "io": "io", "nn": "nn", "optim": "optim", "train": "train",
               "teach": "teach", "core": "core", **moved.MOVED}


def __getattr__(name: str) -> Any:
    """Import a public name's module when the name is first used (PEP 562)."""
    if name in _LAZY:
        value = getattr(importlib.import_module(f"{__name__}.{_LAZY[name]}"), name)
    elif name in _SUBMODULES:
        value = importlib.import_module(f"{__name__}.{_SUBMODULES[name]}")
    else:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    globals()[name] = value  # later lookups find it without coming back here
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})


class _Package(ModuleType):
    """The package's module type: ``import deltaprop.explain`` (the old path of the module
    ``deltaprop.teach.explain``) must not replace the function ``deltaprop.explain``, which the
    import system would do by setting the module as an attribute of its package."""

    def __setattr__(self, name: str, value: Any) -> None:
        if isinstance(value, ModuleType) and callable(_LAZY.get(name) and __getattr__(name)):
            return  # the public function of that name stays
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package


if TYPE_CHECKING:  # what static checkers and IDEs see; at run time the names above are lazy
    from . import datasets
    from .io.model_file import ModelFileError, load
    from .nn import activations, init, losses, metrics
    from .nn.layers import (
        ELU,
        GELU,
        Activation,
        Dense,
        Dropout,
        Exp,
        Identity,
        Layer,
        LeakyReLU,
        ReLU,
        Sigmoid,
        Softmax,
        Softplus,
        Tanh,
    )
    from .nn.losses import (
        MAE,
        MSE,
        BinaryCrossEntropy,
        CategoricalCrossEntropy,
        HalfSSE,
        Huber,
        Loss,
        PoissonDeviance,
    )
    from .nn.model import Sequential, mlp
    from .nn.preprocess import Preprocessor
    from .optim import optimizers, schedules
    from .optim.optimizers import SGD, Adam, AdamW, Optimizer, RMSprop
    from .optim.schedules import CosineAnnealingLR, ExponentialLR, LinearWarmup, ReduceLROnPlateau, StepLR
    from .teach.explain import Explanation, explain
    from .teach.gradcheck import GradcheckResult, gradcheck
    from .train import augment, callbacks
    from .train.callbacks import Callback, EarlyStopping, LambdaCallback
    from .train.divergence import DivergenceWarning
    from .train.interrupt import TrainingInterrupted
    from .train.loop import History, fit

moved.install(__name__)  # old module paths (deltaprop.layers, deltaprop.seed, …) still import

__all__ = [
    "ELU", "GELU", "MAE", "MSE", "SGD", "Activation", "Adam", "AdamW", "BinaryCrossEntropy", "Callback",
    "CategoricalCrossEntropy", "CosineAnnealingLR", "Dense", "DivergenceWarning", "Dropout", "EarlyStopping",
    "Exp", "Explanation",
    "ExponentialLR", "GradcheckResult", "HalfSSE", "History", "Huber", "Identity", "LambdaCallback", "Layer",
    "LeakyReLU",
    "LinearWarmup", "Loss", "ModelFileError", "Optimizer", "PoissonDeviance", "Preprocessor", "RMSprop", "ReLU",
    "ReduceLROnPlateau", "Sequential",
    "Sigmoid", "Softmax", "Softplus", "StepLR", "Tanh", "TrainingInterrupted",
    "activations", "augment", "callbacks", "datasets", "explain",
    "fit", "gradcheck", "init", "load", "losses", "metrics", "mlp", "optimizers", "schedules",
]
