"""``fit``'s checks of its settings, made before anything changes: options, the optimizer and every rate its
schedule will give, the callbacks and the log keys they monitor."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from ..core.validation import (
    is_number,
)
from ..nn import losses as losses_mod
from ..nn.model import Sequential
from ..optim import optimizers as optimizers_mod
from ..optim.schedules import Schedule
from .callbacks import Callback


def check_options(verbose: Any, on_divergence: Any, tol: Any, augment: Any, lr_schedule: Any) -> None:
    if verbose not in (0, 1, 2, False, True):
        raise ValueError(f"fit: verbose must be 0 (silent), 1 (progress bar) or 2 (a line per epoch), got {verbose!r}.")
    if on_divergence not in ("raise", "warn"):
        raise ValueError(f"fit: on_divergence must be 'raise' or 'warn', got {on_divergence!r}.")
    if tol is not None and (not is_number(tol) or not 0 <= tol < math.inf):
        raise ValueError(f"fit: tol must be None or a finite number >= 0 (e.g. 1e-4), got {tol!r}.")
    if augment is not None and not callable(augment):
        raise TypeError(f"fit: augment must be a function augment(X_batch, rng) -> X_batch, got "
                        f"{type(augment).__name__}.")
    if lr_schedule is not None and not isinstance(lr_schedule, Schedule):
        raise TypeError(f"fit: lr_schedule must be a deltaprop.schedules.Schedule such as StepLR(10), got "
                        f"{type(lr_schedule).__name__}.")


def check_optimizer(opt: optimizers_mod.Optimizer, model: Sequential, lr_schedule: Schedule | None,
                     epochs: int) -> None:
    """The optimizer trains no other model, and every rate a schedule will give over the run (all but
    ReduceLROnPlateau, which depends on the losses) is checked now, on a copy, before the first step."""
    import copy

    from ..optim.schedules import ReduceLROnPlateau

    opt.check_model(model, where="fit")
    schedule = lr_schedule if lr_schedule is not None else opt.schedule
    if schedule is None or isinstance(schedule, ReduceLROnPlateau):
        return
    trial = copy.deepcopy(schedule)
    trial.start(opt.base_lr)
    for epoch in range(min(epochs, 100_000)):
        lr = trial.lr_at(epoch)
        if not (isinstance(lr, (int, float)) and 0.0 <= lr < math.inf):
            raise ValueError(f"fit: the schedule {schedule!r} gives the learning rate {lr!r} at epoch {epoch + 1} "
                             f"(base lr {opt.base_lr:g}); a rate must be a finite number >= 0. Fix the schedule's "
                             "settings (e.g. eta_min >= 0, gamma > 0).")


def _logged_keys(loss: losses_mod.Loss, metric_fns: Sequence[tuple[str, Any]], validation: bool) -> list[str]:
    """The keys each epoch's logs will hold: loss, the metrics, their val_ versions and lr."""
    keys = ["loss", *(name for name, _ in metric_fns)]
    return [*keys, *(f"val_{k}" for k in keys if validation), "lr"]


def check_monitors(callbacks: Sequence[Callback], loss: losses_mod.Loss, metric_fns: Sequence[tuple[str, Any]],
                    validation_data: Any, validation_split: Any) -> None:
    """Each callback checks the keys the logs will hold (EarlyStopping's monitor), before anything changes."""
    logged = _logged_keys(loss, metric_fns, validation_data is not None or bool(validation_split))
    for j, cb in enumerate(callbacks):
        cb.check_fit(logged, open_ended=any(_may_add_logs(c) for c in callbacks[:j]))


def _may_add_logs(cb: Callback) -> bool:
    """Whether a callback may write keys of its own into the logs: one with an ``on_epoch_end`` of the user's
    (a LambdaCallback given one, or a class of the user's that overrides it); deltaprop's own add none."""
    from .callbacks import LambdaCallback

    if isinstance(cb, LambdaCallback):
        return "on_epoch_end" in vars(cb)
    return type(cb).on_epoch_end is not Callback.on_epoch_end and not type(cb).__module__.startswith("deltaprop.")


def check_callbacks(callbacks: Sequence[Callback]) -> list[Callback]:
    callbacks = list(callbacks)
    for cb in callbacks:
        if not isinstance(cb, Callback):
            raise TypeError(f"fit: callbacks must be deltaprop.callbacks.Callback instances, got {type(cb).__name__}.")
    return callbacks
