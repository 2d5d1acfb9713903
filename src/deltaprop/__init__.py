"""deltaprop: multilayer perceptrons trained with textbook backpropagation, in NumPy.

The public names are re-exported here; each lives in a module of its own (see docs/backprop.md
for where each equation of the seeds is implemented).
"""

from . import datasets
from .core import moved
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
from .nn.losses import MAE, MSE, BinaryCrossEntropy, CategoricalCrossEntropy, HalfSSE, Huber, Loss, PoissonDeviance
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

__version__ = "0.1.0"

moved.install(__name__)  # old module paths (deltaprop.layers, deltaprop.seed, …) still import

__all__ = [
    "ELU", "GELU", "MAE", "MSE", "SGD", "Activation", "Adam", "AdamW", "BinaryCrossEntropy", "Callback",
    "CategoricalCrossEntropy", "CosineAnnealingLR", "Dense", "DivergenceWarning", "Dropout", "EarlyStopping",
    "Exp", "Explanation",
    "ExponentialLR", "GradcheckResult", "HalfSSE", "History", "Huber", "Identity", "LambdaCallback", "Layer",
    "LeakyReLU",
    "LinearWarmup", "Loss", "ModelFileError", "Optimizer", "PoissonDeviance", "Preprocessor", "RMSprop", "ReLU",
    "ReduceLROnPlateau",
    "Sequential",
    "Sigmoid", "Softmax", "Softplus", "StepLR", "Tanh", "TrainingInterrupted",
    "activations", "augment", "callbacks", "datasets", "explain",
    "fit", "gradcheck", "init", "load", "losses", "metrics", "mlp", "optimizers", "schedules",
]
