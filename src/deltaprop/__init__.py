"""deltaprop: multilayer perceptrons trained with textbook backpropagation, in NumPy.

The public names are re-exported here; each lives in a module of its own (see docs/backprop.md
for where each equation of the seeds is implemented).
"""

from . import activations, augment, callbacks, datasets, init, losses, metrics, optimizers, schedules
from ._divergence import DivergenceWarning
from ._interrupt import TrainingInterrupted
from .callbacks import Callback, EarlyStopping, LambdaCallback
from .explain import Explanation, explain
from .gradcheck import GradcheckResult, gradcheck
from .io import ModelFileError, load
from .layers import (
    ELU,
    GELU,
    Activation,
    Dense,
    Dropout,
    Identity,
    Layer,
    LeakyReLU,
    ReLU,
    Sigmoid,
    Softmax,
    Softplus,
    Tanh,
)
from .losses import MAE, MSE, BinaryCrossEntropy, CategoricalCrossEntropy, HalfSSE, Huber, Loss
from .model import Sequential, mlp
from .optimizers import SGD, Adam, AdamW, Optimizer, RMSprop
from .schedules import CosineAnnealingLR, ExponentialLR, LinearWarmup, ReduceLROnPlateau, StepLR
from .training import History, fit

__version__ = "0.1.0"

__all__ = [
    "ELU", "GELU", "MAE", "MSE", "SGD", "Activation", "Adam", "AdamW", "BinaryCrossEntropy", "Callback",
    "CategoricalCrossEntropy", "CosineAnnealingLR", "Dense", "DivergenceWarning", "Dropout", "EarlyStopping",
    "Explanation",
    "ExponentialLR", "GradcheckResult", "HalfSSE", "History", "Huber", "Identity", "LambdaCallback", "Layer",
    "LeakyReLU",
    "LinearWarmup", "Loss", "ModelFileError", "Optimizer", "RMSprop", "ReLU", "ReduceLROnPlateau", "Sequential",
    "Sigmoid", "Softmax", "Softplus", "StepLR", "Tanh", "TrainingInterrupted",
    "activations", "augment", "callbacks", "datasets", "explain",
    "fit", "gradcheck", "init", "load", "losses", "metrics", "mlp", "optimizers", "schedules",
]
