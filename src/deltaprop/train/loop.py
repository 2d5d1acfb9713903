"""The training loop: epochs of shuffled mini-batches, each one step of the seeds' algorithm.

``fit`` validates everything once, converts the data once to the model's dtype, then repeats
forward → loss → backward → update over mini-batches, logging per-epoch loss and metrics in a
``History``, calling callbacks and advancing the learning-rate schedule. The seeds' "until the
loss converges" is ``tol`` / ``n_iter_no_change``.
"""

from __future__ import annotations

import math
import os
import sys
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from ..core.backend import rng_from, xp
from ..core.types import Array, Seed
from ..core.validation import check_loss_output, check_positive_int, check_targets, check_X
from ..nn import losses as losses_mod
from ..nn import metrics as metrics_mod
from ..nn.model import Sequential, default_loss
from ..optim import optimizers as optimizers_mod
from ..optim.schedules import Schedule
from .callbacks import Callback
from .divergence import LastFinite
from .divergence import warn as warn_divergence
from .interrupt import SignalGuard, TrainingInterrupted, signal_name


class History:
    """Per-epoch logs: ``history.history["loss"]``, ``["val_loss"]``, metrics and ``["lr"]``."""

    def __init__(self) -> None:
        self.history: dict[str, list[float]] = {}
        self.epoch: list[int] = []
        self.stopped_early = False

    def append(self, epoch: int, logs: dict[str, float]) -> None:
        self.epoch.append(epoch)
        for key, value in logs.items():
            self.history.setdefault(key, []).append(float(value))

    def __getitem__(self, key: str) -> list[float]:
        return self.history[key]

    def __contains__(self, key: object) -> bool:
        return key in self.history

    def __len__(self) -> int:
        return len(self.epoch)

    def __repr__(self) -> str:
        last = {k: round(v[-1], 6) for k, v in self.history.items() if v}
        return f"History(epochs={len(self.epoch)}, last={last})"


def fit(model: Sequential, X: Any, y: Any, *, loss: str | losses_mod.Loss | None = None,
        optimizer: str | optimizers_mod.Optimizer = "adam", epochs: int = 1, batch_size: int | None = None,
        shuffle: bool = True, validation_data: tuple[Any, Any] | None = None, validation_split: float = 0.0,
        metrics: Sequence[Any] = (), callbacks: Sequence[Callback] = (), verbose: int = 0,
        sample_weight: Any = None, class_weight: dict[Any, float] | str | None = None,
        lr_schedule: Schedule | None = None, tol: float | None = None, n_iter_no_change: int = 10,
        augment: Callable[[Array, np.random.Generator], Array] | None = None, seed: Seed = None,
        checkpoint: str | os.PathLike[str] | None = None, checkpoint_every: int = 1,
        resume: str | os.PathLike[str] | None = None, on_divergence: str = "raise") -> History:
    """Train ``model`` on (X, y) and return the History.

    - ``loss``: a Loss or name; by default it follows the output activation (softmax → cross-entropy,
      sigmoid → binary cross-entropy, else MSE). ``optimizer``: an Optimizer or name ("sgd", "adam").
    - ``batch_size=None`` is full-batch gradient descent, as in the seed script.
    - ``validation_data=(X_val, y_val)`` or ``validation_split`` (a seeded random fraction held out).
    - ``metrics``: names ("accuracy", "mse", "mae", "r2", "log_loss") or callables f(a, y).
    - ``verbose``: 0 silent, 1 a progress bar (tqdm if installed), 2 one line per epoch.
    - ``sample_weight`` (n,) and ``class_weight`` ({label: weight} or "balanced") weight each sample's loss.
    - ``tol``: stop when the monitored loss improves by less than ``tol`` for ``n_iter_no_change`` epochs.
    - ``augment(X_batch, rng) -> X_batch``: applied to each training batch (never to validation data),
      e.g. random shifts of images; it must return a new array, not modify its input.
    - ``seed``: shuffling, the validation split and augmentation; by default the model's own generator.
    - ``checkpoint=path``: after every ``checkpoint_every`` epochs and when training ends, atomically write
      the weights, optimizer and schedule state, generator states, history, ``tol`` counters and
      EarlyStopping state. ``resume=path`` continues such a run exactly (same arguments; ``epochs`` is
      the total, including the epochs already done).
    """
    epochs = check_positive_int("fit", "epochs", epochs)  # type: ignore[assignment]
    batch_size = check_positive_int("fit", "batch_size", batch_size, allow_none=True)
    if verbose not in (0, 1, 2, False, True):
        raise ValueError(f"fit: verbose must be 0 (silent), 1 (progress bar) or 2 (a line per epoch), got {verbose!r}.")
    if on_divergence not in ("raise", "warn"):
        raise ValueError(f"fit: on_divergence must be 'raise' or 'warn', got {on_divergence!r}.")
    if tol is not None and (isinstance(tol, bool) or not isinstance(tol, (int, float)) or not 0 <= tol < math.inf):
        raise ValueError(f"fit: tol must be None or a finite number >= 0 (e.g. 1e-4), got {tol!r}.")
    n_iter_no_change = check_positive_int("fit", "n_iter_no_change", n_iter_no_change)  # type: ignore[assignment]
    if augment is not None and not callable(augment):
        raise TypeError(f"fit: augment must be a function augment(X_batch, rng) -> X_batch, got "
                        f"{type(augment).__name__}.")
    if lr_schedule is not None and not isinstance(lr_schedule, Schedule):
        raise TypeError(f"fit: lr_schedule must be a deltaprop.schedules.Schedule such as StepLR(10), got "
                        f"{type(lr_schedule).__name__}.")
    # every check comes before any change: a rejected call leaves the model, its generator and the
    # callbacks untouched
    loss_obj = losses_mod.get(loss) if loss is not None else (
        model.loss if model.loss is not None else losses_mod.get(default_loss(model)))
    opt = optimizers_mod.get(optimizer)
    check_loss_output(model, loss_obj, where="fit")
    metric_fns = [metrics_mod.get(m) for m in metrics]
    callbacks = list(callbacks)
    for cb in callbacks:
        if not isinstance(cb, Callback):
            raise TypeError(f"fit: callbacks must be deltaprop.callbacks.Callback instances, got {type(cb).__name__}.")
    checkpoint_every = check_positive_int("fit", "checkpoint_every", checkpoint_every)  # type: ignore[assignment]
    X = check_X(X, dtype=model.dtype, n_features=model.n_inputs, where="fit")
    Y = prepare_targets(model, loss_obj, y, len(X), where="fit")
    weights = _sample_weights(sample_weight, class_weight, y, len(X))
    if validation_data is not None and validation_split:
        raise ValueError("fit: pass validation_data or validation_split, not both.")
    val: tuple[Array, Array] | None = None
    rows: Array | None = None  # the training rows of X when a validation split holds some out
    if validation_data is not None:
        if not (isinstance(validation_data, (tuple, list)) and len(validation_data) == 2):
            raise ValueError("fit: validation_data must be a pair (X_val, y_val).")
        Xv = check_X(validation_data[0], dtype=model.dtype, n_features=model.n_inputs, where="fit",
                     name="validation X")
        val = (Xv, prepare_targets(model, loss_obj, validation_data[1], len(Xv), where="fit (validation)"))
    elif validation_split:
        if not 0 < validation_split < 1:
            raise ValueError(f"fit: validation_split must be in (0, 1), got {validation_split!r}.")
        n_val = round(len(X) * validation_split)
        if n_val < 1 or n_val >= len(X):
            raise ValueError(f"fit: validation_split={validation_split} leaves {n_val} of {len(X)} samples for "
                             "validation; it must leave at least one sample on each side.")
    rng = rng_from(seed) if seed is not None else model.rng
    resumed = None
    if checkpoint is not None or resume is not None:
        from .checkpoint import Checkpoint, check_checkpoint_path

        if checkpoint is not None:
            check_checkpoint_path(checkpoint)
        if resume is not None:
            resumed = Checkpoint(resume)
            resumed.rewind(rng)  # so the validation split is drawn exactly as in the interrupted run
    if lr_schedule is not None:
        opt.set_schedule(lr_schedule)
    model.loss, model.optimizer = loss_obj, opt
    rng_start = rng.bit_generator.state
    if validation_split and validation_data is None:
        perm = rng.permutation(len(X))
        vi, rows = np.sort(perm[:n_val]), np.sort(perm[n_val:])
        val = (X[vi], Y[vi])  # the held-out rows are copied; the training rows are only indexed

    n = len(X) if rows is None else len(rows)
    bs = n if batch_size is None else min(batch_size, n)
    batches = _Batches(X, Y, weights, rows, bs)
    history = History()
    model.history = history
    model.stop_training = False
    for cb in callbacks:
        cb.set_model(model)
        cb.on_train_begin()
    progress = _Progress(epochs, verbose)
    monitor = "val_loss" if val is not None else "loss"
    best, stall = math.inf, 0
    step = 0
    last = LastFinite(model, opt)  # the last weights known to be finite (see _divergence.py)

    def diverged(what: str) -> bool:
        """Leave the model with finite weights, then raise FloatingPointError, or warn and return True."""
        lr = opt.lr
        kept = last.settle(step)
        message = (f"fit: {what} (lr={lr:g}); training diverged. The model keeps {kept}. Lower the learning rate "
                   f"(e.g. lr={lr / 10:g}), standardise the inputs, or clip the gradients (e.g. clip_norm=1.0).")
        if on_divergence == "raise":
            raise FloatingPointError(message)
        warn_divergence(message + " Training stopped early (on_divergence='warn').")
        model.stop_training = history.stopped_early = True
        return True

    def save(epochs_done: int, in_progress: dict[str, Any] | None = None) -> bool:
        """Write the checkpoint (never with non-finite weights); True if training diverged instead."""
        if not last.finite_now():
            return diverged(f"a weight became NaN or infinite by step {step} (epoch {epochs_done + 1})")
        from .checkpoint import save_checkpoint

        save_checkpoint(checkpoint, model=model, optimizer=opt, rng=rng, rng_start=rng_start,  # type: ignore[arg-type]
                        callbacks=callbacks, history=history, epoch=epochs_done, epochs=epochs, step=step,
                        best=best, stall=stall, n_samples=n, in_progress=in_progress)
        return False

    def interrupted(epochs_done: int, in_progress: dict[str, Any] | None, saved: bool) -> None:
        """After SIGINT/SIGTERM: write the final checkpoint, then raise TrainingInterrupted."""
        signum = guard.consume()
        written = str(checkpoint) if checkpoint is not None and (saved or not save(epochs_done, in_progress)) \
            else None
        where = (f"in epoch {epochs_done + 1} after {in_progress['batches']} batch(es)" if in_progress
                 else f"after epoch {epochs_done}")
        then = (f"; checkpoint {written!r} holds it: continue with fit(..., resume={written!r})" if written
                else "; pass checkpoint=path to be able to resume")
        raise TrainingInterrupted(f"fit: interrupted by {signal_name(signum)} {where}; the model holds the weights "
                                  f"after step {step}, the last completed step{then}.", signum=signum,
                                  epoch=epochs_done + (1 if in_progress else 0), step=step, checkpoint=written)

    guard = SignalGuard().install()  # SIGINT/SIGTERM wait for the end of the step (see _interrupt.py)
    try:
        first_epoch, partial, halted = 0, False, False
        if resumed is not None:
            first_epoch, step, best, stall = resumed.restore(model, opt, rng, callbacks, history, n_samples=n,
                                                             epochs=epochs)
            partial = resumed.in_progress is not None
        for epoch in range(first_epoch, epochs):
            if last.due(step) and not last.take(epoch, step):
                halted = diverged(f"a weight became NaN or infinite by step {step} (epoch {epoch + 1})")
                break
            for cb in callbacks:
                cb.on_epoch_begin(epoch)
            rng_epoch = rng.bit_generator.state if checkpoint is not None else None  # to redraw `order` on resume
            order = rng.permutation(n) if shuffle and bs < n else None
            total, metric_sums, first_batch = 0.0, [0.0] * len(metric_fns), 0
            if partial:  # resumed in the middle of this epoch: its order, and where it stopped
                rng_epoch, order, first_batch, total, metric_sums = resumed.continue_epoch(  # type: ignore[union-attr]
                    rng, n, shuffled=order is not None, n_metrics=len(metric_fns), batch_size=bs)
                partial = False
            for batch, start in enumerate(range(first_batch * bs, n, bs), first_batch):
                Xb, Yb, wb = batches.get(start, order)
                if augment is not None:
                    Xb = augment(Xb, rng)
                for cb in callbacks:
                    cb.on_batch_begin(batch)
                a = model.forward(Xb, training=True)
                value, delta, top = model.output_delta(loss_obj, a, Yb, wb, prepared=True)
                if not math.isfinite(value):
                    halted = diverged(f"the loss became {value} at epoch {epoch + 1}, step {step + 1}")
                    break
                model._backward_from(top, delta)
                opt.step(model)
                step += 1
                m = len(Xb)
                total += value * m if loss_obj.reduction == "mean" else value
                for k, (_, fn) in enumerate(metric_fns):
                    metric_sums[k] += fn(a, Yb) * m
                if callbacks:
                    for cb in callbacks:
                        cb.on_batch_end(batch, {"loss": value, "size": m})
                    if model.stop_training:
                        break
                if guard.signum:
                    interrupted(epoch, {"batches": batch + 1, "batch_size": bs, "rng_epoch": rng_epoch,
                                        "total": total, "metric_sums": metric_sums}, False)
            if halted:
                break
            logs = {"loss": total / n if loss_obj.reduction == "mean" else total}
            for k, (name, _) in enumerate(metric_fns):
                logs[name] = metric_sums[k] / n
            if val is not None:
                for key, value in model.evaluate(val[0], val[1], loss=loss_obj, metrics=metrics).items():
                    logs[f"val_{key}"] = value
            logs["lr"] = opt.lr
            history.append(epoch, logs)
            opt.epoch_end(logs.get("val_loss", logs["loss"]))
            for cb in callbacks:
                cb.on_epoch_end(epoch, logs)
            progress.update(epoch, logs)
            if tol is not None:
                if logs[monitor] > best - tol:
                    stall += 1
                else:
                    stall = 0
                best = min(best, logs[monitor])
                if stall >= n_iter_no_change:
                    model.stop_training = True
            saved = False
            if checkpoint is not None and ((epoch + 1) % checkpoint_every == 0 or model.stop_training
                                           or epoch + 1 == epochs or guard.signum):
                if save(epoch + 1):
                    break
                saved = True
            if guard.signum:
                interrupted(epoch + 1, None, saved)
            if model.stop_training:
                history.stopped_early = epoch + 1 < epochs
                break
        if not halted and not last.finite_now():
            diverged(f"a weight became NaN or infinite by step {step}")
    finally:
        try:
            progress.close()
            for cb in callbacks:
                cb.on_train_end()
        finally:
            guard.release()
    return history


class _Batches:
    """Mini-batches of rows, gathered into buffers that are reused from one batch to the next.

    ``rows`` (optional) selects the training rows of X without copying them (validation split);
    ``order`` is the epoch's shuffled permutation of those rows, or None to take them in order."""

    def __init__(self, X: Array, Y: Array, weights: Array | None, rows: Array | None, bs: int) -> None:
        self.X, self.Y, self.weights, self.rows, self.bs = X, Y, weights, rows, bs
        self.n = len(X) if rows is None else len(rows)
        self._buffers: tuple[Array, Array] | None = None

    def get(self, start: int, order: Array | None) -> tuple[Array, Array, Array | None]:
        stop = min(start + self.bs, self.n)
        if order is None and self.rows is None:  # contiguous rows: views, no copy
            w = None if self.weights is None else self.weights[start:stop]
            return self.X[start:stop], self.Y[start:stop], w
        idx = order[start:stop] if order is not None else np.arange(start, stop)
        if self.rows is not None:
            idx = self.rows[idx]
        if self._buffers is None:
            self._buffers = (xp.empty((self.bs, self.X.shape[1]), self.X.dtype),
                             xp.empty((self.bs, self.Y.shape[1]), self.Y.dtype))
        m = stop - start
        Xb, Yb = self._buffers[0][:m], self._buffers[1][:m]
        # mode="clip": the indices are valid by construction, and the default mode="raise" would first
        # gather into a hidden buffer and then copy it into `out`
        np.take(self.X, idx, axis=0, out=Xb, mode="clip")
        np.take(self.Y, idx, axis=0, out=Yb, mode="clip")
        return Xb, Yb, None if self.weights is None else self.weights[idx]


def prepare_targets(model: Sequential, loss: losses_mod.Loss, y: Any, n: int, *, where: str) -> Array:
    """Targets as a float array (n, n_outputs) in the model's dtype: integer labels become one-hot
    rows for a multi-output network, a 1-D y becomes a column for a single output (checks in
    ``_validation.check_targets``)."""
    return check_targets(model, loss, y, n, where=where)


def _sample_weights(sample_weight: Any, class_weight: Any, y: Any, n: int) -> Array | None:
    w = None
    if sample_weight is not None:
        w = np.asarray(sample_weight, dtype=np.float64)
        if w.shape != (n,):
            raise ValueError(f"fit: sample_weight must have shape ({n},), one weight per sample, got {w.shape}.")
        if not np.isfinite(w).all() or (w < 0).any():
            raise ValueError("fit: sample_weight must be finite and non-negative.")
    if class_weight is not None:
        y_arr = np.asarray(y)
        labels = y_arr.argmax(axis=1) if y_arr.ndim == 2 and y_arr.shape[1] > 1 else y_arr.reshape(-1)
        classes, counts = np.unique(labels, return_counts=True)
        if class_weight == "balanced":
            table = {c: n / (len(classes) * k) for c, k in zip(classes.tolist(), counts.tolist())}
        elif isinstance(class_weight, dict):
            table = {c: float(class_weight.get(c, 1.0)) for c in classes.tolist()}
        else:
            raise ValueError(f"fit: class_weight must be a dict {{label: weight}} or 'balanced', got {class_weight!r}.")
        cw = xp.asarray([table[c] for c in labels.tolist()], dtype=np.float64)
        w = cw if w is None else w * cw
    return w


class _Progress:
    """verbose=1: a tqdm bar over epochs when tqdm is installed; verbose=2 (or no tqdm): a line per epoch."""

    def __init__(self, epochs: int, verbose: int) -> None:
        self.epochs, self.verbose, self.bar = epochs, int(verbose), None
        if self.verbose == 1:
            try:
                from tqdm.auto import tqdm

                self.bar = tqdm(total=epochs, unit="epoch", leave=True)
            except ImportError:
                self.verbose = 2

    def update(self, epoch: int, logs: dict[str, float]) -> None:
        if not self.verbose:
            return
        shown = {k: f"{v:.4g}" for k, v in logs.items()}
        if self.bar is not None:
            self.bar.set_postfix(shown, refresh=False)
            self.bar.update(1)
        elif self.verbose == 2:
            text = "  ".join(f"{k}={v}" for k, v in shown.items())
            print(f"epoch {epoch + 1}/{self.epochs}  {text}", file=sys.stdout, flush=True)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
