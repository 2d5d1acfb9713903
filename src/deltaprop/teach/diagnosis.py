"""Training diagnosis: how the gradients and the hidden units behaved, and what to change.

``TrainingMonitor`` is a callback for ``fit``. After sampled batches it reads what backprop
left in the layers (no extra forward or backward pass): each Dense layer's ‖∂L/∂W‖ (E4), and
from the activation layers' caches the share of *saturated* sigmoid/tanh units (σ'(z) below 5 %
of its maximum, so δ = da ⊙ σ'(z) (E3) nearly vanishes there) and of *dead* ReLUs (z ≤ 0 for
every sample seen in the epoch, so their δ is exactly 0). Once per epoch it also measures how
far each layer's weights moved, ‖ΔW‖/‖W‖, whatever the optimizer.

``diagnose(monitor, history)`` turns the records into plain-language hints:

- vanishing gradients: the first layer's RMS gradient is below 1 % of the last layer's;
- exploding gradients: the gradient norm grew more than 1000-fold, or the loss became NaN/inf;
- saturation: more than half of a hidden sigmoid/tanh layer is saturated at the end;
- dead ReLUs: more than half of a hidden ReLU layer never fires;
- learning rate too high: the loss jumped up (by more than a tenth of all it fell during training)
  in more than a quarter of the epochs, or ended above where it started;
- learning rate too low: the loss fell by less than 1 % while the weights moved less than 0.01 %
  per epoch;
- overfitting: the validation loss ended 20 % above its minimum while the training loss kept falling;
- inputs on very different scales: the largest input column's RMS is more than 50 times the median
  column's, or above 100 (the first batch the monitor sees);
- huge first-layer gradients: layer 1's RMS gradient is more than 10 times the output layer's, or its
  ‖∂L/∂W‖ exceeded 100 in an epoch (large inputs a make ∂L/∂W = δ aᵀ (E4) large);
- saturated outputs: the network gives nearly the same output for every sample (the spread of a(L)
  across the samples of a batch below 10⁻³ in the last epoch).

The thresholds are rules of thumb (Glorot & Bengio 2010 on saturation; the cs231n notes on
update/weight ratios); the numbers behind every hint are in ``Diagnosis.table()``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..core.validation import is_int
from ..nn import activations as act
from ..nn.layers import Activation, Dense
from ..train.callbacks import Callback

SATURATION = 0.05  # σ'(z) below this share of its maximum counts as saturated
SCALE_RATIO, SCALE_MAX = 50.0, 100.0  # input column RMS: largest / median, and largest
GRADIENT_RATIO, GRADIENT_MAX = 10.0, 100.0  # first layer's RMS gradient / output layer's; its largest |∂L/∂W|
OUTPUT_SPREAD = 1e-3  # mean over outputs of the std of a(L) across a batch
STANDARDISE = ("Standardise the inputs: deltaprop train does it for tables unless --no-preprocess (--standardize "
               "for arrays); in Python fit(X, y, preprocess=True), or pass a DataFrame.")
_SATURATING = {"sigmoid": (act.sigmoid_prime_from_a, 0.25), "tanh": (act.tanh_prime_from_a, 1.0)}
_SAMPLES_PER_EPOCH = 16


@dataclass
class LayerRecord:
    """Per-epoch records for one Dense layer (and the activation after it)."""

    name: str
    index: int
    activation: str
    size: int
    grad_norm: list[float] = field(default_factory=list)
    weight_change: list[float] = field(default_factory=list)
    saturated: list[float] = field(default_factory=list)
    dead: list[float] = field(default_factory=list)

    @property
    def grad_rms(self) -> float:
        """‖∂L/∂W‖ / √(number of weights), averaged over the last epochs (comparable across layer sizes)."""
        tail = self.grad_norm[-max(1, len(self.grad_norm) // 10):]
        return float(np.mean(tail)) / math.sqrt(self.size) if tail else float("nan")


class TrainingMonitor(Callback):
    """Records per-layer gradient norms, weight movement, saturated and dead units during ``fit``.

    About ``samples`` batches per epoch are inspected (all of them in the first epoch), so the
    cost stays small for large data sets. ``monitor.layers`` holds the records."""

    def __init__(self, *, samples: int = _SAMPLES_PER_EPOCH) -> None:
        if not is_int(samples) or samples < 1:
            raise ValueError(f"TrainingMonitor: samples must be a positive int, got {samples!r}.")
        self.samples = samples
        self.layers: list[LayerRecord] = []
        #: RMS of each input column over the first batch seen (None before training)
        self.input_rms: np.ndarray | None = None
        #: per epoch: the spread of the outputs across samples (mean over outputs of their std)
        self.output_spread: list[float] = []

    def on_train_begin(self, logs: dict[str, Any] | None = None) -> None:
        layers = self.model.layers
        dense = [i for i, layer in enumerate(layers) if isinstance(layer, Dense)]
        self.layers, self._act = [], []
        for k, i in enumerate(dense):
            stop = dense[k + 1] if k + 1 < len(dense) else len(layers)
            acts = [j for j in range(i + 1, stop) if isinstance(layers[j], Activation)]
            name = layers[acts[-1]].name if acts else "identity"  # type: ignore[attr-defined]
            W = layers[i].W  # type: ignore[attr-defined]
            self.layers.append(LayerRecord(f"{k + 1}", i, name, int(W.size)))
            self._act.append(acts[-1] if acts and k + 1 < len(dense) else None)  # hidden layers only
        self._stride, self._batches = 1, 0
        self.input_rms, self.output_spread = None, []

    def on_epoch_begin(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        n = len(self.layers)
        self._g, self._count = [0.0] * n, 0
        self._sat = [0.0] * n
        self._active: list[np.ndarray | None] = [None] * n
        self._w0 = [self.model.layers[r.index].W.copy() for r in self.layers]  # type: ignore[attr-defined]
        self._batch_in_epoch = 0
        self._spread, self._spread_count = 0.0, 0

    def on_batch_end(self, batch: int, logs: dict[str, Any] | None = None) -> None:
        self._batch_in_epoch += 1
        if batch % self._stride:
            return
        layers = self.model.layers
        self._count += 1
        first = layers[self.layers[0].index]
        x = getattr(first, "a_prev", None)
        if self.input_rms is None and x is not None:
            self.input_rms = np.sqrt(np.mean(np.square(np.asarray(x, dtype=np.float64)), axis=0))
        out = getattr(layers[-1], "a", None) if isinstance(layers[-1], Activation) else None
        if out is not None and len(out) > 1:
            self._spread += float(np.mean(np.std(out, axis=0)))
            self._spread_count += 1
        for k, rec in enumerate(self.layers):
            dW = layers[rec.index].dW  # type: ignore[attr-defined]
            self._g[k] += math.sqrt(float(np.vdot(dW, dW)))
            j = self._act[k]
            if j is None:
                continue
            layer = layers[j]
            if layer.name in _SATURATING:  # type: ignore[attr-defined]
                prime, peak = _SATURATING[layer.name]  # type: ignore[attr-defined]
                self._sat[k] += float(np.mean(prime(layer.a) < SATURATION * peak))  # type: ignore[attr-defined]
            elif layer.name == "relu":  # type: ignore[attr-defined]
                fired = np.any(layer.a > 0, axis=0)  # type: ignore[attr-defined]  # a > 0 exactly where z > 0
                self._active[k] = fired if self._active[k] is None else self._active[k] | fired

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        if epoch == 0:
            self._stride = max(1, self._batch_in_epoch // self.samples)
        count = max(self._count, 1)
        if self._spread_count:
            self.output_spread.append(self._spread / self._spread_count)
        for k, rec in enumerate(self.layers):
            W = self.model.layers[rec.index].W  # type: ignore[attr-defined]
            w0 = self._w0[k]
            rec.grad_norm.append(self._g[k] / count)
            rec.weight_change.append(float(np.linalg.norm(W - w0) / (np.linalg.norm(w0) + 1e-12)))
            if self._act[k] is not None:
                name = self.model.layers[self._act[k]].name  # type: ignore[attr-defined,index]
                if name in _SATURATING:
                    rec.saturated.append(self._sat[k] / count)
                elif name == "relu" and self._active[k] is not None:
                    rec.dead.append(1.0 - float(np.mean(self._active[k])))


@dataclass
class Diagnosis:
    """The outcome of ``diagnose``: per-layer numbers and plain-language hints."""

    layers: list[LayerRecord]
    hints: list[str]
    healthy: bool

    def table(self) -> str:
        """One row per Dense layer: activation, mean ‖∂L/∂W‖ in the first and last epoch, RMS gradient,
        ‖ΔW‖/‖W‖ per epoch at the end, saturated / dead share at the end."""
        head = f"{'layer':<6} {'activation':<10} {'|dW| first':>11} {'|dW| last':>11} {'rms grad':>10} " \
               f"{'|ΔW|/|W|':>9} {'saturated':>9} {'dead':>6}"
        rows = [head, "-" * len(head)]
        for r in self.layers:
            sat = f"{r.saturated[-1]:.0%}" if r.saturated else "-"
            dead = f"{r.dead[-1]:.0%}" if r.dead else "-"
            first = f"{r.grad_norm[0]:.3g}" if r.grad_norm else "-"
            last = f"{r.grad_norm[-1]:.3g}" if r.grad_norm else "-"
            change = f"{r.weight_change[-1]:.2g}" if r.weight_change else "-"
            rows.append(f"{r.name:<6} {r.activation:<10} {first:>11} {last:>11} {r.grad_rms:>10.3g} "
                        f"{change:>9} {sat:>9} {dead:>6}")
        return "\n".join(rows)

    def summary(self) -> str:
        """The table followed by the hints."""
        return self.table() + "\n\n" + "\n".join(f"- {h}" for h in self.hints)

    def __str__(self) -> str:
        return self.summary()

    def _repr_markdown_(self) -> str:
        return "```\n" + self.table() + "\n```\n\n" + "\n".join(f"- {h}" for h in self.hints) + "\n"


def diagnose(monitor: TrainingMonitor, history: Any = None, *, kept_epoch: int | None = None) -> Diagnosis:
    """Hints from a ``TrainingMonitor`` that watched ``fit`` and, optionally, its ``History``.

    ``kept_epoch`` (0-based) says early stopping restored that epoch's weights."""
    if not isinstance(monitor, TrainingMonitor):
        raise TypeError(f"diagnose: monitor must be a TrainingMonitor, got {type(monitor).__name__}.")
    layers = monitor.layers
    if not layers or not layers[0].grad_norm:
        raise ValueError("diagnose: the monitor has no records; pass it to fit(callbacks=[monitor]) first.")
    hints: list[str] = []
    losses = list(history.history.get("loss", [])) if history is not None else []

    if losses and not all(math.isfinite(v) for v in losses):
        hints.append("Exploding: the loss became NaN or infinite. Lower the learning rate (e.g. by 10×), "
                     "standardise the inputs, or clip gradients (clip_norm=1.0).")
    norms = [n for r in layers for n in r.grad_norm if math.isfinite(n)]
    start = np.median([r.grad_norm[0] for r in layers])
    if norms and start > 0 and max(r.grad_norm[-1] for r in layers) > 1e3 * start:
        hints.append("Exploding gradients: the gradient norm grew more than 1000-fold during training. Lower the "
                     "learning rate or clip gradients (optimizer clip_norm=1.0).")
    if len(layers) >= 2:
        first, last = layers[0].grad_rms, layers[-1].grad_rms
        if last > 0 and first / last < 1e-2:
            hints.append(f"Vanishing gradients: layer 1's RMS gradient is {first / last:.1e} of the output layer's, "
                         "so the first layers barely learn. Use ReLU-family activations with He initialisation, "
                         "fewer layers, or standardised inputs.")
    for r in layers[:-1]:
        if r.saturated and r.saturated[-1] > 0.5:
            hints.append(f"Saturation: {r.saturated[-1]:.0%} of layer {r.name}'s {r.activation} units are saturated "
                         "(σ'(z) ≈ 0, so their δ vanishes). Standardise the inputs, lower the learning rate, or use "
                         "Glorot initialisation / ReLU.")
        if r.dead and r.dead[-1] > 0.5:
            hints.append(f"Dead ReLUs: {r.dead[-1]:.0%} of layer {r.name}'s units never fire (z ≤ 0 for every "
                         "sample), so they get no gradient. Lower the learning rate, use He initialisation, or "
                         "LeakyReLU.")
    finite = [v for v in losses if math.isfinite(v)]
    if len(finite) >= 3:
        # count the rises bigger than a tenth of everything the loss fell: mini-batch noise around a
        # plateau is small next to that, the jumps of a too-large step are not
        drop = finite[0] - min(finite)
        pairs = list(zip(finite[:-1], finite[1:]))
        rises = sum(b - a > 0.1 * drop for a, b in pairs)
        if (rises >= 2 and rises > len(pairs) / 4) or finite[-1] > finite[0]:
            hints.append(f"Learning rate too high: the loss jumped back up in {rises} of {len(pairs)} epochs"
                         f"{' and ended above where it started' if finite[-1] > finite[0] else ''}. "
                         "Lower the learning rate (e.g. by 3–10×).")
        change = max(r.weight_change[-1] for r in layers)
        if finite[0] > 0 and (finite[0] - finite[-1]) / finite[0] < 0.01 and change < 1e-4:
            hints.append(f"Learning rate too low: the loss fell by {(finite[0] - finite[-1]) / finite[0]:.2%} and the "
                         f"weights moved only {change:.1e} of their norm in the last epoch. Raise the learning "
                         "rate (e.g. by 10×) or train longer.")
    val = [v for v in (history.history.get("val_loss", []) if history is not None else []) if math.isfinite(v)]
    if len(val) >= 5 and len(val) == len(finite):
        best = int(np.argmin(val))
        if val[-1] > 1.2 * val[best] and finite[-1] < finite[best]:
            cure = (f"Early stopping kept the weights of epoch {kept_epoch + 1}." if kept_epoch is not None else
                    "Use early stopping, fewer epochs, dropout or weight decay.")
            hints.append(f"Overfitting: the validation loss was lowest at epoch {best + 1} ({val[best]:.4g}) and rose "
                         f"to {val[-1]:.4g} while the training loss kept falling. {cure}")
    hints += _scale_hints(monitor, layers)
    healthy = not hints
    if healthy:
        ratio = layers[0].grad_rms / layers[-1].grad_rms if len(layers) > 1 and layers[-1].grad_rms else 1.0
        hints.append(f"No problems found: gradients reach every layer (first/last RMS ratio {ratio:.2g}), "
                     "no layer is mostly saturated or dead, and the loss fell steadily.")
    return Diagnosis(layers=layers, hints=hints, healthy=healthy)


def _scale_hints(monitor: TrainingMonitor, layers: list[LayerRecord]) -> list[str]:
    """Inputs on very different scales, huge first-layer gradients, outputs that no longer depend on the input."""
    hints = []
    rms = monitor.input_rms
    if rms is not None and np.any(rms > 0):
        present = rms[rms > 0]
        big, median = float(present.max()), float(np.median(present))
        if big > SCALE_RATIO * median or big > SCALE_MAX:
            j = int(np.argmax(rms))
            hints.append(f"Inputs on very different scales: input column {j}'s RMS is {big:.3g}, {big / median:.0f}× "
                         f"the median column's ({median:.3g}). ∂L/∂W = δ aᵀ (E4) is as large as the inputs, so one "
                         f"learning rate cannot suit every weight. {STANDARDISE}")
    peak = max((n for n in layers[0].grad_norm if math.isfinite(n)), default=0.0)
    ratio = layers[0].grad_rms / layers[-1].grad_rms if len(layers) >= 2 and layers[-1].grad_rms > 0 else 0.0
    if ratio > GRADIENT_RATIO or peak > GRADIENT_MAX:
        than = f", {ratio:.0f}× the output layer's RMS" if ratio > GRADIENT_RATIO else ""
        hints.append(f"Huge first-layer gradients: |∂L/∂W| of layer 1 reached {peak:.3g}{than}; large inputs a make "
                     f"∂L/∂W = δ aᵀ (E4) large. {STANDARDISE}")
    spread = monitor.output_spread
    if spread and spread[-1] < OUTPUT_SPREAD:
        hints.append(f"Saturated outputs: the network gives nearly the same output for every sample (spread "
                     f"{spread[-1]:.1e} across a batch): its hidden units are saturated or dead, so the output no "
                     f"longer depends on the input. {STANDARDISE} Lowering the learning rate can help too.")
    return hints
