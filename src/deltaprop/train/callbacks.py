"""Callbacks hook into ``fit``: at the start and end of training, of each epoch and of each batch.

A callback can stop training by setting ``model.stop_training = True``. ``EarlyStopping`` is the
one most people need: it watches a logged quantity and restores the best weights when training
ends, however it ends.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from ..core.validation import check_number, is_int

if TYPE_CHECKING:
    from ..nn.model import Sequential


class Callback:
    """Base class; override any of the ``on_*`` hooks. ``self.model`` is set when training starts."""

    model: Sequential

    def set_model(self, model: Sequential) -> None:
        self.model = model

    def check_fit(self, logged: Sequence[str], *, open_ended: bool = False) -> None:
        """Called when ``fit`` starts, before anything changes, with the keys every epoch's logs will hold
        (``open_ended``: a callback before this one may add keys of its own); raise here, not at the end
        of the first epoch, if the callback cannot work with them."""

    def on_train_begin(self, logs: dict[str, Any] | None = None) -> None: ...

    def on_train_end(self, logs: dict[str, Any] | None = None) -> None: ...

    def on_epoch_begin(self, epoch: int, logs: dict[str, Any] | None = None) -> None: ...

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None: ...

    def on_batch_begin(self, batch: int, logs: dict[str, Any] | None = None) -> None: ...

    def on_batch_end(self, batch: int, logs: dict[str, Any] | None = None) -> None: ...


class LambdaCallback(Callback):
    """A callback from plain functions: ``LambdaCallback(on_epoch_end=lambda epoch, logs: ...)``."""

    def __init__(self, **hooks: Any) -> None:
        for name, fn in hooks.items():
            if not name.startswith("on_") or not hasattr(Callback, name):
                raise ValueError(f"LambdaCallback: unknown hook {name!r}; use on_epoch_end, on_batch_end, ….")
            setattr(self, name, fn)


class EarlyStopping(Callback):
    """Stop when ``monitor`` has not improved by more than ``min_delta`` for ``patience`` epochs.

    With ``restore_best_weights`` (the default) the model ends with the weights of its best
    epoch, whether training stopped early or ran all its epochs."""

    def __init__(self, monitor: str = "val_loss", *, patience: int = 10, min_delta: float = 0.0,
                 mode: str = "auto", restore_best_weights: bool = True) -> None:
        if not is_int(patience) or patience < 0:
            raise ValueError(f"EarlyStopping: patience must be an int >= 0, got {patience!r}.")
        if mode not in ("auto", "min", "max"):
            raise ValueError(f"EarlyStopping: mode must be 'auto', 'min' or 'max', got {mode!r}.")
        if not isinstance(monitor, str):
            raise TypeError(f"EarlyStopping: monitor must be the name of a logged quantity such as 'val_loss', "
                            f"got {type(monitor).__name__}.")
        min_delta = check_number("EarlyStopping", "min_delta", min_delta)
        self.monitor, self.patience, self.min_delta = monitor, int(patience), abs(min_delta)
        self.mode = mode if mode != "auto" else ("max" if any(k in monitor for k in ("acc", "r2")) else "min")
        self.restore_best_weights = restore_best_weights
        self.best_weights: dict[str, Any] | None = None
        self.best_epoch = -1
        self.stopped_epoch = -1

    def check_fit(self, logged: Sequence[str], *, open_ended: bool = False) -> None:
        if self.monitor not in logged and not open_ended:
            raise ValueError(f"EarlyStopping: monitor {self.monitor!r} is not logged by this fit call (checked before "
                             f"training); available: {', '.join(logged)}. Pass validation data for 'val_*' "
                             "quantities, or name a metric given to fit(metrics=...).")

    def on_train_begin(self, logs: dict[str, Any] | None = None) -> None:
        self.best = math.inf if self.mode == "min" else -math.inf
        self.wait = 0
        self.best_weights, self.best_epoch, self.stopped_epoch = None, -1, -1

    def _improved(self, value: float) -> bool:
        if self.mode == "min":
            return value < self.best - self.min_delta
        return value > self.best + self.min_delta

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        logs = logs or {}
        if self.monitor not in logs:
            raise ValueError(f"EarlyStopping: monitor {self.monitor!r} is not logged; available: "
                             f"{', '.join(sorted(logs))}. Pass validation data for 'val_*' quantities.")
        value = float(logs[self.monitor])
        if self._improved(value):
            self.best, self.best_epoch, self.wait = value, epoch, 0
            if self.restore_best_weights:
                self.best_weights = self.model.get_weights()
        else:
            self.wait += 1
            if self.wait >= self.patience:
                self.stopped_epoch = epoch
                self.model.stop_training = True

    def on_train_end(self, logs: dict[str, Any] | None = None) -> None:
        if self.restore_best_weights and self.best_weights is not None:
            self.model.set_weights(self.best_weights)

    def state_dict(self) -> dict[str, Any]:
        """The progress so far (best value and epoch, epochs waited, best weights), for checkpoints."""
        best_weights = None if self.best_weights is None else {k: v.copy() for k, v in self.best_weights.items()}
        return {"best": self.best, "wait": self.wait, "best_epoch": self.best_epoch,
                "stopped_epoch": self.stopped_epoch, "best_weights": best_weights}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Continue from ``state_dict()`` output (call after ``on_train_begin``, as ``fit(resume=...)`` does)."""
        self.best, self.wait = float(state["best"]), int(state["wait"])
        self.best_epoch, self.stopped_epoch = int(state["best_epoch"]), int(state["stopped_epoch"])
        weights = state["best_weights"]
        self.best_weights = None if weights is None else {str(k): np.array(v) for k, v in weights.items()}
