"""Divergence during ``fit``: stop at the step where it shows, and keep the last finite weights.

Checking every weight after every step would cost as much as a small step, so ``fit`` looks at
cheap things often and at everything rarely:

- the loss of every step (one ``math.isfinite``): a NaN or infinite weight almost always makes the
  next forward pass non-finite, so divergence is caught at the step it shows;
- every weight (one scan) when a snapshot is taken, before each checkpoint is written, and when
  ``fit`` ends, which catches the rest (an infinite weight behind a saturated sigmoid).

``LastFinite`` keeps copies of the weights and the optimizer state, taken at the start of an epoch
once at least ``every`` steps have passed since the previous copy (so at most one copy per 64
steps, whatever the batch size). When training diverges the model keeps the weights of the last
completed step if they are all finite (with the optimizer state, if that is finite too); otherwise
both go back to the last copy, the last state known to be finite.
"""

from __future__ import annotations

import os
import sys
import warnings
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import numpy as np

from ..core.validation import all_finite

if TYPE_CHECKING:
    from ..nn.model import Sequential
    from ..optim.optimizers import Optimizer


class DivergenceWarning(RuntimeWarning):
    """``fit(..., on_divergence="warn")`` stopped early because the loss or a weight became NaN or infinite."""


def warn(message: str) -> None:
    """A DivergenceWarning attributed to the user's line that called fit (the first frame outside deltaprop)."""
    package = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))  # src/deltaprop
    frame, level = sys._getframe(1), 2
    while frame.f_back is not None and os.path.abspath(frame.f_code.co_filename).startswith(package):
        frame, level = frame.f_back, level + 1
    warnings.warn(message, DivergenceWarning, stacklevel=level)


def each_finite(arrays: Iterable[np.ndarray]) -> bool:
    return all(all_finite(a) for a in arrays)


def _optimizer_arrays(opt: Optimizer) -> list[np.ndarray]:
    return [a for slot in opt.state.values() for a in slot.values()]


class LastFinite:
    """Copies of the weights and optimizer state from the last time they were checked finite."""

    def __init__(self, model: Sequential, opt: Optimizer, *, every: int = 64) -> None:
        self.model, self.opt, self.every = model, opt, every
        self.step: int | None = None
        self.epoch = 0
        self._weights: dict[str, np.ndarray] = {}
        self._opt_state: dict[str, Any] = {}

    def due(self, step: int) -> bool:
        return self.step is None or step - self.step >= self.every

    def take(self, epoch: int, step: int) -> bool:
        """Copy the current state if it is all finite; False (and nothing copied) if it is not."""
        if not self.finite_now():
            return False
        self._weights = self.model.get_weights()
        self._opt_state = self.opt.state_dict()
        self.step, self.epoch = step, epoch
        return True

    def finite_now(self) -> bool:
        return each_finite(self.model.parameters().values()) and each_finite(_optimizer_arrays(self.opt))

    def settle(self, completed: int) -> str:
        """Leave the model with finite weights; returns which ones, for the error message."""
        if self.finite_now():
            return f"the weights after step {completed}, the last completed step"
        if self.step is None:
            return "non-finite weights: they were not finite before training started; re-initialise the model"
        self.model.set_weights(self._weights)
        self.opt.load_state_dict(self._opt_state)
        return (f"the weights after step {self.step} (start of epoch {self.epoch + 1}), the last ones known "
                "to be finite")


class Divergence:
    """The run's policy when training diverges: keep finite weights (``LastFinite``), then raise
    FloatingPointError (``on_divergence="raise"``) or warn and stop early (``"warn"``)."""

    def __init__(self, model: Sequential, opt: Optimizer, history: Any, policy: str) -> None:
        self.model, self.opt, self.history, self.policy = model, opt, history, policy
        self.last = LastFinite(model, opt)

    def check_weights(self, epoch: int, step: int) -> bool:
        """At an epoch's start (when ``last.due``): snapshot the weights; False if they are not finite (handled)."""
        if not self.last.take(epoch, step):
            self.fail(f"a weight became NaN or infinite by step {step} (epoch {epoch + 1})", step)
            return False
        return True

    def fail(self, what: str, step: int) -> None:
        """Leave the model with finite weights, then raise FloatingPointError, or warn and stop training."""
        lr = self.opt.lr
        kept = self.last.settle(step)
        message = (f"fit: {what} (lr={lr:g}); training diverged. The model keeps {kept}. Lower the learning rate "
                   f"(e.g. lr={lr / 10:g}), standardise the inputs, or clip the gradients (e.g. clip_norm=1.0).")
        if self.policy == "raise":
            raise FloatingPointError(message)
        warn(message + " Training stopped early (on_divergence='warn').")
        self.model.stop_training = self.history.stopped_early = True
