"""Learning-rate schedules, stepped once per epoch, with the conventions of ``torch.optim.lr_scheduler``.

A schedule is attached to an optimizer (``SGD(lr=0.1, schedule=StepLR(10))``, or
``fit(..., lr_schedule=...)``). The optimizer's initial ``lr`` is the base rate; after every
epoch ``optimizer.epoch_end(metric)`` advances the schedule and sets ``optimizer.lr``.
Epoch-based closed forms are used, which equal torch's recursive updates up to rounding.
"""

from __future__ import annotations

import math
from typing import Any

from ..core.registry import lookup
from ..core.validation import check_number


class Schedule:
    """Base class: ``lr_at(epoch)`` gives the rate after ``epoch`` completed epochs."""

    def __init__(self) -> None:
        self.base_lr = 0.0
        self.epoch = 0

    def start(self, base_lr: float) -> float:
        """Bind to a base rate and return the rate for the first epoch."""
        self.base_lr = float(base_lr)
        self.epoch = 0
        return self.lr_at(0)

    def step(self, metric: float | None = None) -> float:
        """Advance by one epoch and return the new rate."""
        self.epoch += 1
        return self.lr_at(self.epoch)

    def lr_at(self, epoch: int) -> float:  # pragma: no cover - abstract
        raise NotImplementedError

    def state_dict(self) -> dict[str, Any]:
        return {"base_lr": self.base_lr, "epoch": self.epoch}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.base_lr = float(state["base_lr"])
        self.epoch = int(state["epoch"])

    def get_config(self) -> dict[str, Any]:
        return {"type": type(self).__name__, **{k: v for k, v in vars(self).items()
                                                 if k not in ("base_lr", "epoch") and not k.startswith("_")}}

    def __repr__(self) -> str:
        cfg = self.get_config()
        cfg.pop("type")
        return f"{type(self).__name__}({', '.join(f'{k}={v!r}' for k, v in cfg.items())})"


def _positive(owner: str, arg: str, value: Any, *, integer: bool = False) -> Any:
    """``value`` as an int or float if it is a positive one (NumPy scalars included), else a clear error."""
    return check_number(owner, arg, value, low=0, low_open=True, integer=integer)


class StepLR(Schedule):
    """lr = base · γ^⌊epoch / step_size⌋ (torch ``StepLR``)."""

    def __init__(self, step_size: int, gamma: float = 0.1) -> None:
        super().__init__()
        self.step_size = _positive("StepLR", "step_size", step_size, integer=True)
        self.gamma = _positive("StepLR", "gamma", gamma)

    def lr_at(self, epoch: int) -> float:
        return self.base_lr * self.gamma ** (epoch // self.step_size)


class ExponentialLR(Schedule):
    """lr = base · γ^epoch (torch ``ExponentialLR``)."""

    def __init__(self, gamma: float) -> None:
        super().__init__()
        self.gamma = _positive("ExponentialLR", "gamma", gamma)

    def lr_at(self, epoch: int) -> float:
        return self.base_lr * self.gamma**epoch


class CosineAnnealingLR(Schedule):
    """lr = η_min + ½(base − η_min)(1 + cos(π · epoch / T_max)) (torch ``CosineAnnealingLR``)."""

    def __init__(self, T_max: int, eta_min: float = 0.0) -> None:
        super().__init__()
        self.T_max = _positive("CosineAnnealingLR", "T_max", T_max, integer=True)
        self.eta_min = check_number("CosineAnnealingLR", "eta_min", eta_min, low=0)

    def lr_at(self, epoch: int) -> float:
        return self.eta_min + 0.5 * (self.base_lr - self.eta_min) * (1 + math.cos(math.pi * epoch / self.T_max))


class LinearWarmup(Schedule):
    """Linear warm-up from ``start_factor``·base to base over ``warmup_epochs`` (torch ``LinearLR``),
    then, if given, the schedule ``then`` takes over from the base rate."""

    def __init__(self, warmup_epochs: int, start_factor: float = 1.0 / 3, then: Schedule | None = None) -> None:
        super().__init__()
        self.warmup_epochs = _positive("LinearWarmup", "warmup_epochs", warmup_epochs, integer=True)
        self.start_factor = check_number("LinearWarmup", "start_factor", start_factor, low=0, low_open=True, high=1)
        if then is not None and not isinstance(then, Schedule):
            raise TypeError(f"LinearWarmup: then must be a schedule such as StepLR(10) (or None), got "
                            f"{type(then).__name__} {then!r}.")
        self.then = then

    def start(self, base_lr: float) -> float:
        if self.then is not None:
            self.then.start(base_lr)
        return super().start(base_lr)

    def lr_at(self, epoch: int) -> float:
        if epoch >= self.warmup_epochs and self.then is not None:
            return self.then.lr_at(epoch - self.warmup_epochs)
        frac = min(epoch, self.warmup_epochs) / self.warmup_epochs
        return self.base_lr * (self.start_factor + (1.0 - self.start_factor) * frac)

    def get_config(self) -> dict[str, Any]:
        return {"type": "LinearWarmup", "warmup_epochs": self.warmup_epochs, "start_factor": self.start_factor,
                "then": None if self.then is None else self.then.get_config()}


class ReduceLROnPlateau(Schedule):
    """Multiply lr by ``factor`` when the metric (validation loss by default) stops improving for
    ``patience`` epochs (torch ``ReduceLROnPlateau``, threshold_mode "rel" or "abs")."""

    def __init__(self, factor: float = 0.1, patience: int = 10, *, mode: str = "min", threshold: float = 1e-4,
                 threshold_mode: str = "rel", cooldown: int = 0, min_lr: float = 0.0) -> None:
        super().__init__()
        owner = "ReduceLROnPlateau"
        self.factor = check_number(owner, "factor", factor, low=0, low_open=True, high=1, high_open=True)
        if mode not in ("min", "max") or threshold_mode not in ("rel", "abs"):
            raise ValueError("ReduceLROnPlateau: mode must be 'min' or 'max' and threshold_mode 'rel' or 'abs'.")
        self.patience, self.mode = check_number(owner, "patience", patience, low=0, integer=True), mode
        self.threshold, self.threshold_mode = check_number(owner, "threshold", threshold, low=0), threshold_mode
        self.cooldown = check_number(owner, "cooldown", cooldown, low=0, integer=True)
        self.min_lr = check_number(owner, "min_lr", min_lr, low=0)
        self._reset()

    def _reset(self) -> None:
        self._best = math.inf if self.mode == "min" else -math.inf
        self._bad_epochs = 0
        self._cooldown_left = 0
        self._lr = self.base_lr

    def start(self, base_lr: float) -> float:
        super().start(base_lr)
        self._reset()
        return self._lr

    def _better(self, current: float) -> bool:
        if self.mode == "min":
            bound = self._best * (1 - self.threshold) if self.threshold_mode == "rel" else self._best - self.threshold
            return current < bound
        bound = self._best * (1 + self.threshold) if self.threshold_mode == "rel" else self._best + self.threshold
        return current > bound

    def step(self, metric: float | None = None) -> float:
        self.epoch += 1
        if metric is None:
            return self._lr
        if self._better(metric):
            self._best, self._bad_epochs = float(metric), 0
        else:
            self._bad_epochs += 1
        if self._cooldown_left > 0:
            self._cooldown_left -= 1
            self._bad_epochs = 0
        if self._bad_epochs > self.patience:
            new_lr = max(self._lr * self.factor, self.min_lr)
            if self._lr - new_lr > 1e-8:
                self._lr = new_lr
            self._cooldown_left, self._bad_epochs = self.cooldown, 0
        return self._lr

    def lr_at(self, epoch: int) -> float:
        return self._lr

    def state_dict(self) -> dict[str, Any]:
        return {**super().state_dict(), "best": self._best, "bad_epochs": self._bad_epochs,
                "cooldown_left": self._cooldown_left, "lr": self._lr}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        super().load_state_dict(state)
        self._best, self._bad_epochs = float(state["best"]), int(state["bad_epochs"])
        self._cooldown_left, self._lr = int(state["cooldown_left"]), float(state["lr"])


SCHEDULES: dict[str, type[Schedule]] = {
    "step": StepLR, "exponential": ExponentialLR, "cosine": CosineAnnealingLR,
    "warmup": LinearWarmup, "plateau": ReduceLROnPlateau,
}


def from_config(config: dict[str, Any]) -> Schedule:
    """Rebuild a schedule from ``get_config()`` output (only the classes of this module)."""
    cfg = dict(config)
    kind = cfg.pop("type")
    table = {cls.__name__: cls for cls in (StepLR, ExponentialLR, CosineAnnealingLR, LinearWarmup, ReduceLROnPlateau)}
    cls = lookup("schedule", kind, table)
    if cls is LinearWarmup and cfg.get("then") is not None:
        cfg["then"] = from_config(cfg["then"])
    return cls(**cfg)
