"""Optimizers: pure update functions that hold the equations, and small classes that keep state.

Every class follows ``torch.optim``'s conventions (same defaults, same order of operations) so
PyTorch can serve as the oracle. ``step(model)`` walks ``model.parameters()`` and
``model.gradients()`` (the same keys, "0.W", "0.b", …) and updates the arrays in place. State
(momentum buffers, moments) is kept per key. Optional ``clip_norm`` rescales all gradients so
their global L2 norm is at most ``clip_norm`` before the update (``torch.nn.utils.clip_grad_norm_``).
"""

from __future__ import annotations

import math
import weakref
from collections.abc import Callable, Mapping
from typing import Any, ClassVar

import numpy as np

from ..core.backend import xp, zeros_aligned
from ..core.registry import lookup
from ..core.types import Array
from . import fused as _fused
from .schedules import Schedule
from .schedules import from_config as schedule_from_config


# ---------------------------------------------------------------------------------------------
# The equations, as pure in-place functions
# ---------------------------------------------------------------------------------------------
def sgd_step(w: Array, g: Array, v: Array | None, *, lr: float, momentum: float = 0.0,
             nesterov: bool = False, scratch: Callable[[], Array] | None = None) -> None:
    """w ← w − η g (the seed's update); with momentum μ: v ← μ v + g, w ← w − η v (E9).

    Nesterov uses g + μ v in place of v, as ``torch.optim.SGD`` does. ``scratch`` (a function that
    returns a buffer shaped like w) holds η g, so that a step allocates nothing."""
    if momentum:
        assert v is not None
        v *= momentum
        v += g
        g = g + momentum * v if nesterov else v
    if scratch is None:
        w -= lr * g
    else:
        w -= np.multiply(g, lr, out=scratch())


def rmsprop_step(w: Array, g: Array, s: Array, *, lr: float, alpha: float, eps: float,
                 buf: Array | None = None, momentum: float = 0.0, g_avg: Array | None = None) -> None:
    """s ← α s + (1 − α) g²; w ← w − η g / (√s + ε) (Hinton's RMSprop; torch's eps placement).

    ``g_avg`` makes it centred (s − ḡ² in the root); ``momentum`` accumulates g / (√s + ε) in ``buf``."""
    s *= alpha
    s += (1 - alpha) * g * g
    if g_avg is not None:
        g_avg += (1 - alpha) * (g - g_avg)
        denom = np.sqrt(s - g_avg * g_avg)
    else:
        denom = np.sqrt(s)
    denom += eps
    if momentum:
        assert buf is not None
        buf *= momentum
        buf += g / denom
        w -= lr * buf
    else:
        w -= lr * (g / denom)


def adam_step(w: Array, g: Array, m: Array, v: Array, *, t: int, lr: float, beta1: float, beta2: float,
              eps: float, v_max: Array | None = None, scratch: Array | Callable[[], Array] | None = None,
              decay: float = 1.0) -> None:
    """Adam with bias-corrected moments (Kingma & Ba 2015, Alg. 1; E10).

    m ← β1 m + (1 − β1) g;  v ← β2 v + (1 − β2) g²;  m̂ = m / (1 − β1ᵗ), v̂ = v / (1 − β2ᵗ);
    w ← w − η m̂ / (√v̂ + ε), with ε added after the square root as torch.optim.Adam does.

    The arrays hold the moments divided by (1 − β): ``m`` is m / (1 − β1) and ``v`` is v / (1 − β2),
    so each moment update is two passes (m ← β1 m + g) and the constant factors move into the
    scalars of the last line. The result is Adam's, up to rounding; a step makes ten passes over
    the parameters and allocates nothing when ``scratch`` (same shape as w, or a function that
    returns it, called only when needed) is given. With ``v_max`` (AMSGrad) the running maximum of
    v is used in the denominator. ``decay`` < 1 first scales w (AdamW's decoupled weight decay,
    w ← w(1 − ηλ)).

    When numba is installed the same operations run fused in one pass (``_fused.adam``), with
    bit-for-bit the same result."""
    # √v̂ = c √v with c = √((1 − β2) / (1 − β2ᵗ)); m̂ = (1 − β1) m / (1 − β1ᵗ)
    c = math.sqrt((1 - beta2) / (1 - beta2**t))
    step_size = lr * (1 - beta1) / (1 - beta1**t) / c
    if v_max is None and _fused.adam(w, g, m, v, beta1=beta1, beta2=beta2, eps=eps / c, step=step_size,
                                     decay=decay):
        return
    if decay != 1.0:
        w *= decay
    s = xp.empty_like(w) if scratch is None else scratch() if callable(scratch) else scratch
    m *= beta1
    m += g
    v *= beta2
    np.multiply(g, g, out=s)
    v += s
    if v_max is not None:
        np.maximum(v_max, v, out=v_max)
    np.sqrt(v if v_max is None else v_max, out=s)
    s += eps / c
    np.divide(m, s, out=s)
    s *= step_size
    w -= s


# ---------------------------------------------------------------------------------------------
# The classes: validation once, state per parameter key, schedules, clipping
# ---------------------------------------------------------------------------------------------
_FLAT = "*"  # the key under which all parameters are updated at once as one vector
class Optimizer:
    """Base class. Subclasses implement ``_update(key, w, g)``; ``step`` does the rest.

    An optimizer belongs to the first model it steps: its step count and moments are that model's,
    so stepping another model is refused (``reset()`` frees it). The learning rate is checked where
    it is applied: a schedule that yields a negative, zero or NaN rate is an error naming it."""

    name: ClassVar[str] = ""

    def __init__(self, lr: float, *, weight_decay: float = 0.0, decay_bias: bool = True, clip_norm: float | None = None,
                 schedule: Schedule | None = None) -> None:
        self.lr = _number(type(self).__name__, "lr", lr, positive=True)
        self.weight_decay = _number(type(self).__name__, "weight_decay", weight_decay)
        # decay_bias=False decays weights only ("<i>.W"), as Nielsen's L2 and sklearn's alpha do
        self.decay_bias = bool(decay_bias)
        self.clip_norm = None if clip_norm is None else _number(type(self).__name__, "clip_norm", clip_norm,
                                                               positive=True)
        self.base_lr = self.lr
        self.t = 0
        self.state: dict[str, dict[str, Array]] = {}
        self._scratch_buffers: dict[tuple[Any, str], Array] = {}
        self._flat_for: Array | None = None  # the parameter vector the flat state below belongs to
        self._flat_slices: dict[str, tuple[int, int, tuple[int, ...]]] = {}
        self._flat_state: dict[str, Array] = {}
        self.schedule: Schedule | None = None
        self._model: weakref.ref[Any] | None = None
        if schedule is not None:
            self.set_schedule(schedule)

    def check_model(self, model: Any, *, where: str = "step") -> None:
        """Refuse a model other than the one this optimizer already trains (while that one lives)."""
        owner = self._model() if self._model is not None else None
        if owner is not None and owner is not model:
            raise ValueError(f"{where}: this {type(self).__name__} already trains another model (its step count "
                             f"{self.t} and moments belong to that model); pass a new optimizer, e.g. "
                             f"{type(self).__name__}(lr={self.base_lr:g}), or call .reset() on this one first.")

    def reset(self) -> None:
        """Forget the step count, the moments and the model: the optimizer is as new (schedule restarted)."""
        self.t, self.state, self._model = 0, {}, None
        self._scratch_buffers, self._flat_for, self._flat_slices, self._flat_state = {}, None, {}, {}
        self.lr = self.base_lr if self.schedule is None else self._checked_rate(self.schedule.start(self.base_lr))

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_model"] = None  # a weak reference cannot be copied; the copy is bound again on use
        return state

    def _checked_rate(self, lr: Any) -> float:
        """``lr`` if it is a finite number >= 0 (a schedule may end at 0, as cosine annealing does); otherwise
        an error naming the schedule that gave it."""
        if not (isinstance(lr, (int, float)) and 0.0 <= lr < math.inf):
            source = (f"the schedule {self.schedule!r} gave it at epoch {self.schedule.epoch}" if self.schedule
                      is not None else "it was set directly")
            raise ValueError(f"{type(self).__name__}: the learning rate must be a finite number >= 0, got "
                             f"{lr!r} ({source}); fix the schedule's settings (e.g. eta_min >= 0, gamma > 0).")
        return float(lr)

    def set_schedule(self, schedule: Schedule | None) -> None:
        """Attach a learning-rate schedule; its base rate is this optimizer's initial lr."""
        if schedule is not None and not isinstance(schedule, Schedule):
            raise TypeError(f"schedule must be a deltaprop.schedules.Schedule, got {type(schedule).__name__}.")
        if schedule is not None:
            self.schedule = schedule
            self.lr = self._checked_rate(schedule.start(self.base_lr))
        self.schedule = schedule

    def epoch_end(self, metric: float | None = None) -> None:
        """Advance the schedule by one epoch (``metric`` feeds ReduceLROnPlateau)."""
        if self.schedule is not None:
            self.lr = self._checked_rate(self.schedule.step(metric))

    def step(self, model: Any, grads: Mapping[str, Array] | None = None) -> None:
        """Update every parameter in place from its gradient.

        ``model`` is anything with ``parameters()`` and ``gradients()`` (a Sequential), or a dict of
        parameters with ``grads`` the dict of their gradients under the same keys."""
        if not 0.0 <= self.lr < math.inf:  # checked where it is applied (also catches NaN)
            self._checked_rate(self.lr)
        if grads is None:
            if self._model is None or self._model() is not model:
                self.check_model(model)
                self._model = weakref.ref(model)
            flat = model.flat_parameters() if hasattr(model, "flat_parameters") else None
            if flat is not None and (self.decay_bias or not self.weight_decay):
                self._step_flat(*flat)
                return
            pairs = model.param_grad_pairs()
        else:
            pairs = [(key, w, grads[key]) for key, w in model.items()]
        self.t += 1
        scale = self._clip_scale([g for _, _, g in pairs]) if self.clip_norm is not None else None
        for key, w, g in pairs:
            if scale is not None:
                g = g * scale
            if self.weight_decay and self._coupled_decay and (self.decay_bias or not key.endswith(".b")):
                g = g + self.weight_decay * w  # L2 penalty ½λ‖w‖² folded into the gradient
            self._update(key, w, g)

    _coupled_decay: ClassVar[bool] = True

    def _step_flat(self, w: Array, g: Array, slices: dict[str, tuple[int, int, tuple[int, ...]]]) -> None:
        """The same update applied once to all parameters as one vector (``Sequential.flat_parameters``).

        The state keeps its per-parameter keys: ``state["0.W"]["m"]`` is a view into the flat moment."""
        if self._flat_for is not w:
            self._flat_for, self._flat_slices, self._flat_state = w, slices, {}
        self.t += 1
        if self.clip_norm is not None and (scale := self._clip_scale([g])) is not None:
            g = g * scale
        if self.weight_decay and self._coupled_decay:
            g = g + self.weight_decay * w  # L2 penalty ½λ‖w‖² folded into the gradient
        self._update(_FLAT, w, g)

    def _clip_scale(self, grads: list[Array]) -> float | None:
        total = math.sqrt(sum(float(np.vdot(g, g)) for g in grads))
        coef = self.clip_norm / (total + 1e-6)  # type: ignore[operator]
        return coef if coef < 1.0 else None

    def _buffer(self, key: str, name: str, like: Array) -> Array:
        if key == _FLAT:
            return self._flat_buffer(name, like)
        slot = self.state.setdefault(key, {})
        buf = slot.get(name)
        if buf is None or buf.shape != like.shape or buf.dtype != like.dtype:
            buf = slot[name] = xp.zeros_like(like)
        return buf

    def _flat_buffer(self, name: str, like: Array) -> Array:
        """One state vector for all parameters, taking over any per-parameter state already there."""
        buf = self._flat_state.get(name)
        if buf is None:
            buf = self._flat_state[name] = zeros_aligned(like.size, like.dtype)
            for key, (lo, hi, shape) in self._flat_slices.items():
                slot = self.state.setdefault(key, {})
                old = slot.get(name)
                if old is not None and old.shape == shape:
                    buf[lo:hi] = old.reshape(-1)
                slot[name] = buf[lo:hi].reshape(shape)
        return buf

    def _scratch(self, like: Array) -> Array:
        """A temporary buffer for element-wise work, shared by all parameters of the same shape."""
        key = (like.shape, like.dtype.str)
        buf = self._scratch_buffers.get(key)
        if buf is None:
            buf = self._scratch_buffers[key] = xp.empty_like(like)
        return buf

    def _update(self, key: str, w: Array, g: Array) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    # -- persistence -------------------------------------------------------------------------
    def get_config(self) -> dict[str, Any]:
        cfg = {k: v for k, v in vars(self).items()
               if k not in ("lr", "t", "state", "schedule", "base_lr") and not k.startswith("_")}
        return {"type": self.name, "lr": self.base_lr, **cfg,
                "schedule": None if self.schedule is None else self.schedule.get_config()}

    def state_dict(self) -> dict[str, Any]:
        """Everything needed to continue exactly: step count, current lr, buffers, schedule state."""
        return {"t": self.t, "lr": self.lr,
                "state": {k: {n: a.copy() for n, a in slot.items()} for k, slot in self.state.items()},
                "schedule": None if self.schedule is None else self.schedule.state_dict()}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        self.t, self.lr = int(state["t"]), float(state["lr"])
        self.state = {k: {n: xp.array(a) for n, a in slot.items()} for k, slot in state["state"].items()}
        self._flat_for = None  # the flat state is rebuilt from these at the next step
        if self.schedule is not None and state.get("schedule") is not None:
            self.schedule.load_state_dict(state["schedule"])

    def __repr__(self) -> str:
        cfg = self.get_config()
        cfg.pop("type")
        if cfg.get("schedule") is None:
            cfg.pop("schedule", None)
        return f"{type(self).__name__}({', '.join(f'{k}={v!r}' for k, v in cfg.items())})"


class SGD(Optimizer):
    """Stochastic gradient descent: w ← w − η ∂L/∂w, optionally with (Nesterov) momentum (E9).

    ``weight_decay`` λ adds λw to the gradient (L2 regularisation), as torch.optim.SGD does; with a
    mean loss over a batch, ``weight_decay=λ/n`` and ``decay_bias=False`` is Nielsen's L2 rule
    w ← (1 − ηλ/n) w − η ∂C₀/∂w (n: training-set size), biases undecayed."""

    name = "sgd"

    def __init__(self, lr: float = 0.01, momentum: float = 0.0, nesterov: bool = False, weight_decay: float = 0.0,
                 *, decay_bias: bool = True, clip_norm: float | None = None, schedule: Schedule | None = None) -> None:
        super().__init__(lr, weight_decay=weight_decay, decay_bias=decay_bias, clip_norm=clip_norm, schedule=schedule)
        self.momentum = _number("SGD", "momentum", momentum)
        if nesterov and self.momentum == 0:
            raise ValueError("SGD: nesterov=True needs momentum > 0, e.g. SGD(lr, momentum=0.9, nesterov=True).")
        self.nesterov = bool(nesterov)

    def change_lr(self, lr: float, *, carry_velocity: bool = False) -> None:
        """Set the learning rate. ``carry_velocity=True`` also scales the momentum buffers by η_old/η_new,
        so the steps continue as in the form v ← μv − ηg, w ← w + v (scikit-learn's SGD), whose velocity
        keeps the rate it was accumulated with; at a constant rate the two forms are the same (E9)."""
        lr = _number("SGD", "lr", lr, positive=True)
        if carry_velocity and self.momentum and lr != self.lr:
            flat = self._flat_state.get("v")  # when present, the per-parameter buffers are views into it
            for v in [flat] if flat is not None else [slot["v"] for slot in self.state.values() if "v" in slot]:
                v *= v.dtype.type(self.lr / lr)
        self.lr = lr

    def _update(self, key: str, w: Array, g: Array) -> None:
        v = self._buffer(key, "v", w) if self.momentum else None
        sgd_step(w, g, v, lr=self.lr, momentum=self.momentum, nesterov=self.nesterov,
                 scratch=lambda: self._scratch(w))


class RMSprop(Optimizer):
    """RMSprop with torch's defaults (α = 0.99, ε = 1e-8, lr = 0.01), optional momentum and centring."""

    name = "rmsprop"

    def __init__(self, lr: float = 0.01, alpha: float = 0.99, eps: float = 1e-8, momentum: float = 0.0,
                 centered: bool = False, weight_decay: float = 0.0, *, decay_bias: bool = True,
                 clip_norm: float | None = None, schedule: Schedule | None = None) -> None:
        super().__init__(lr, weight_decay=weight_decay, decay_bias=decay_bias, clip_norm=clip_norm, schedule=schedule)
        self.alpha = _fraction("RMSprop", "alpha", alpha)
        self.eps = _number("RMSprop", "eps", eps, positive=True)
        self.momentum = _number("RMSprop", "momentum", momentum)
        self.centered = bool(centered)

    def _update(self, key: str, w: Array, g: Array) -> None:
        rmsprop_step(w, g, self._buffer(key, "s", w), lr=self.lr, alpha=self.alpha, eps=self.eps,
                     buf=self._buffer(key, "buf", w) if self.momentum else None, momentum=self.momentum,
                     g_avg=self._buffer(key, "g_avg", w) if self.centered else None)


class Adam(Optimizer):
    """Adam (Kingma & Ba 2015; E10) with torch's defaults: lr 1e-3, betas (0.9, 0.999), eps 1e-8.

    ``weight_decay`` is the coupled L2 form (added to the gradient); use ``AdamW`` for decoupled decay."""

    name = "adam"

    def __init__(self, lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0.0, amsgrad: bool = False, *, decay_bias: bool = True,
                 clip_norm: float | None = None, schedule: Schedule | None = None) -> None:
        super().__init__(lr, weight_decay=weight_decay, decay_bias=decay_bias, clip_norm=clip_norm, schedule=schedule)
        if not (isinstance(betas, (tuple, list)) and len(betas) == 2):
            raise ValueError(f"{type(self).__name__}: betas must be a pair (beta1, beta2), got {betas!r}.")
        self.betas = (_fraction(type(self).__name__, "beta1", betas[0]),
                      _fraction(type(self).__name__, "beta2", betas[1]))
        self.eps = _number(type(self).__name__, "eps", eps, positive=True)
        self.amsgrad = bool(amsgrad)

    def _decay(self, key: str) -> float:
        return 1.0  # Adam's weight decay is coupled (folded into g by step); AdamW overrides this

    def _update(self, key: str, w: Array, g: Array) -> None:
        adam_step(w, g, self._buffer(key, "m", w), self._buffer(key, "v", w), t=self.t, lr=self.lr,
                  beta1=self.betas[0], beta2=self.betas[1], eps=self.eps,
                  v_max=self._buffer(key, "v_max", w) if self.amsgrad else None, scratch=lambda: self._scratch(w),
                  decay=self._decay(key))


class AdamW(Adam):
    """Adam with decoupled weight decay (Loshchilov & Hutter 2019): w ← w(1 − ηλ) before the Adam step.

    Default λ = 0.01, as torch.optim.AdamW."""

    name = "adamw"
    _coupled_decay = False

    def __init__(self, lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0.01, amsgrad: bool = False, *, decay_bias: bool = True,
                 clip_norm: float | None = None, schedule: Schedule | None = None) -> None:
        super().__init__(lr, betas, eps, weight_decay, amsgrad, decay_bias=decay_bias, clip_norm=clip_norm,
                         schedule=schedule)

    def _decay(self, key: str) -> float:
        if self.weight_decay and (self.decay_bias or not key.endswith(".b")):
            return 1 - self.lr * self.weight_decay
        return 1.0


OPTIMIZERS: dict[str, type[Optimizer]] = {"sgd": SGD, "rmsprop": RMSprop, "adam": Adam, "adamw": AdamW}


def get(spec: str | Optimizer, **kwargs: Any) -> Optimizer:
    """An optimizer from a name ("sgd", "adam", …) with keyword arguments, or an instance."""
    if isinstance(spec, Optimizer):
        return spec
    return lookup("optimizer", spec, OPTIMIZERS)(**kwargs)


def from_config(config: Mapping[str, Any]) -> Optimizer:
    """Rebuild an optimizer from ``get_config()`` output (only the classes of this module)."""
    cfg = dict(config)
    cls = lookup("optimizer", cfg.pop("type"), OPTIMIZERS)
    schedule = cfg.pop("schedule", None)
    if "betas" in cfg:
        cfg["betas"] = tuple(cfg["betas"])
    return cls(**cfg, schedule=None if schedule is None else schedule_from_config(schedule))


def _number(owner: str, arg: str, value: object, *, positive: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"{owner}: {arg} must be a number, got {type(value).__name__}.")
    v = float(value)
    if not math.isfinite(v) or v < 0 or (positive and v == 0):
        need = "> 0" if positive else ">= 0"
        hint = " (try lr=0.01)" if arg == "lr" else ""
        raise ValueError(f"{owner}: {arg} must be a finite number {need}, got {value!r}{hint}.")
    return v


def _fraction(owner: str, arg: str, value: object) -> float:
    v = _number(owner, arg, value)
    if not v < 1:
        raise ValueError(f"{owner}: {arg} must be in [0, 1), got {value!r}.")
    return v
