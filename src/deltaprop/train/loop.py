"""The training loop: epochs of shuffled mini-batches, each one step of the seeds' algorithm.

A ``Trainer`` is one training run with named parts (docs/architecture.md, "The loop's seams"):

    BatchSource ──► step(batch): forward → loss → backward → reduce(gradients) → update ──► end_epoch()

- the **batch source** (``batches.BatchSource``) says where rows come from and in which order;
- ``step`` is one turn of the seeds' loop; between backward and update an optional
  **gradient reducer** (``GradientReducer``) combines the gradients of several processes;
- ``end_epoch`` writes the epoch's logs (validation, history, metrics), advances the schedule,
  calls the callbacks, applies ``tol`` and writes checkpoints;
- divergence (``divergence.Divergence``), checkpoints (``checkpoint.save_checkpoint``) and
  Ctrl-C/SIGTERM (``interrupt.SignalGuard``) are collaborators the trainer calls.

``fit(...)`` is the one-call API: ``Trainer(model, X, y, ...).run()``. The same trainer can be
driven one step at a time (``step()``, ``epoch_finished``, ``end_epoch()``), as the playground does.
The seeds' "until the loss converges" is ``tol`` / ``n_iter_no_change``.
"""

from __future__ import annotations

import math
import os
import signal
from collections.abc import Callable, Iterator, Sequence
from typing import Any, Protocol, runtime_checkable

import numpy as np

from ..core.backend import rng_from
from ..core.types import Array, Seed
from ..core.validation import (
    check_loss_output,
    check_positive_int,
)
from ..nn import losses as losses_mod
from ..nn import metrics as metrics_mod
from ..nn.model import Sequential, default_loss
from ..optim import optimizers as optimizers_mod
from ..optim.schedules import Schedule
from .batches import ArrayBatches, Batch, BatchSource
from .callbacks import Callback
from .checks import check_callbacks, check_monitors, check_optimizer, check_options
from .data import data_fingerprint, prepare_targets, split_validation, training_data
from .divergence import Divergence
from .history import History
from .interrupt import SignalGuard, interrupted
from .progress import Progress

__all__ = ["CollectiveReducer", "GradientReducer", "History", "Trainer", "fit", "prepare_targets"]


class GradientReducer(Protocol):
    """What happens between backward and update: combine this step's gradients across processes.

    ``reduce`` is called after backward with the model (its gradients live in one flat vector,
    ``model.flat_parameters()[1]``) and the number of rows this process computed; it changes the
    gradients in place. The default is no reducer: a single process updates with its own gradients."""

    def reduce(self, model: Sequential, rows: int) -> None: ...


@runtime_checkable
class CollectiveReducer(GradientReducer, Protocol):
    """A reducer across processes that also combines each step's loss and metric sums, so that every
    process sees the global values and takes the same decisions (divergence, ``tol``, early
    stopping), and a process may hold no rows of a batch. ``distributed.MPIReducer`` is one.

    ``reduce_step(model, rows, parts)`` replaces ``reduce``: ``parts`` are this process's shares of the
    batch's loss (value × rows for a mean, the value for a sum) and metric sums (value × rows); it
    returns their global sums and the global rows. ``reduce_sums(sums)`` returns the element-wise
    sums over the processes, the same on each (validation)."""

    def reduce_step(self, model: Sequential, rows: int, parts: Sequence[float]) -> tuple[list[float], int]: ...

    def reduce_sums(self, sums: list[float]) -> list[float]: ...


class _Epoch:
    """The state of the epoch in progress: its order, batches done and the running sums of its logs."""

    __slots__ = ("batches", "index", "metric_sums", "order", "pending", "rng_state", "total")

    def __init__(self, index: int, order: Array | None, rng_state: Any, n_metrics: int) -> None:
        self.index, self.order = index, order
        self.rng_state = rng_state  # the generator at the epoch's start, to redraw `order` on resume
        self.batches, self.total, self.metric_sums = 0, 0.0, [0.0] * n_metrics
        self.pending: Iterator[Batch] | None = None

    def in_progress(self, batch_size: int) -> dict[str, Any]:
        return {"batches": self.batches, "batch_size": batch_size, "rng_epoch": self.rng_state,
                "total": self.total, "metric_sums": self.metric_sums}


class Trainer:
    """One training run of ``model`` on (X, y); ``fit`` documents the arguments.

    Every argument is checked when the trainer is built, before anything changes. ``run()`` trains
    all epochs and returns the History. To drive it by hand::

        trainer = Trainer(model, X, y, epochs=10, batch_size=32)
        while not trainer.done:
            loss = trainer.step()             # the next batch of the epoch in progress
            if trainer.epoch_finished:
                logs = trainer.end_epoch()    # validation, history, callbacks, schedule, checkpoint
        trainer.finish()
    """

    def __init__(self, model: Sequential, X: Any, y: Any, *, loss: str | losses_mod.Loss | None = None,
                 optimizer: str | optimizers_mod.Optimizer = "adam", epochs: int = 1,
                 batch_size: int | None = None, shuffle: bool = True, validation_data: tuple[Any, Any] | None = None,
                 validation_split: float = 0.0, metrics: Sequence[Any] = (), callbacks: Sequence[Callback] = (),
                 verbose: int = 0, sample_weight: Any = None, class_weight: dict[Any, float] | str | None = None,
                 lr_schedule: Schedule | None = None, tol: float | None = None, n_iter_no_change: int = 10,
                 augment: Callable[[Array, np.random.Generator], Array] | None = None, seed: Seed = None,
                 checkpoint: str | os.PathLike[str] | None = None, checkpoint_every: int = 1,
                 resume: str | os.PathLike[str] | None = None, on_divergence: str = "raise",
                 preprocess: Any = None, reducer: GradientReducer | None = None) -> None:
        self.epochs = check_positive_int("fit", "epochs", epochs)  # type: ignore[assignment]
        batch_size = check_positive_int("fit", "batch_size", batch_size, allow_none=True)
        check_options(verbose, on_divergence, tol, augment, lr_schedule)
        self.n_iter_no_change = check_positive_int("fit", "n_iter_no_change", n_iter_no_change)  # type: ignore
        # every check comes before any change: a rejected call leaves the model, its generator and the
        # callbacks untouched
        self.model, self.metrics = model, metrics
        self.loss = losses_mod.get(loss) if loss is not None else (
            model.loss if model.loss is not None else losses_mod.get(default_loss(model)))
        self.opt = optimizers_mod.get(optimizer)
        check_optimizer(self.opt, model, lr_schedule, self.epochs)
        check_loss_output(model, self.loss, where="fit")
        self.metric_fns = [metrics_mod.get(m) for m in metrics]
        self.callbacks = check_callbacks(callbacks)
        self.checkpoint_every = check_positive_int("fit", "checkpoint_every", checkpoint_every)  # type: ignore
        streamed, tables, X, Y, weights, val = training_data(model, self.loss, X, y, sample_weight, class_weight,
                                                              validation_data, validation_split, preprocess, seed)
        check_monitors(self.callbacks, self.loss, self.metric_fns, validation_data, validation_split)
        self.shuffle, self.verbose, self.tol, self.augment = shuffle, verbose, tol, augment
        self.checkpoint, self.on_divergence, self.reducer = checkpoint, on_divergence, reducer
        self._collective, self._rows, self._stop = isinstance(reducer, CollectiveReducer), 0, False
        self.rng = rng_from(seed) if seed is not None else model.rng
        self.resumed = _open_checkpoints(checkpoint, resume, self.rng)
        self.fingerprint = data_fingerprint(X, Y, weights) if X is not None and (checkpoint or resume) else None
        # from here on the run changes things: the optimizer's schedule, the model's loss, the generator
        if lr_schedule is not None:
            self.opt.set_schedule(lr_schedule)
        model.loss, model.optimizer = self.loss, self.opt
        if tables is not None:
            model.preprocessor, model.classes = tables.preprocessor, tables.classes
        self.rng_start = self.rng.bit_generator.state
        rows = None  # the training rows of X when a validation split holds some out
        self.source: BatchSource
        if streamed is not None:
            self.source, self.val = streamed.sources(batch_size, validation_split, self.rng)
        else:
            if validation_split and validation_data is None:
                val, rows = split_validation(X, Y, validation_split, self.rng)
            self.val = val
            n = len(X) if rows is None else len(rows)
            self.source = ArrayBatches(X, Y, weights, rows, n if batch_size is None else min(batch_size, n))
        self.history = History()
        self.monitor = "val_loss" if self.val is not None else "loss"
        self.best, self.stall, self.steps, self.epoch = math.inf, 0, 0, 0
        self.divergence = Divergence(model, self.opt, self.history, on_divergence)
        self.guard: SignalGuard | None = None
        self.started = self.halted = False
        self._current: _Epoch | None = None

    # -- the whole run ---------------------------------------------------------------------------
    def run(self) -> History:
        """Train every epoch (the one-call ``fit``): Ctrl-C and SIGTERM stop at a step boundary."""
        self.guard = SignalGuard().install()  # SIGINT/SIGTERM wait for the end of the step (see interrupt.py)
        try:
            self.start()
            model = self.model
            while self.epoch < self.epochs and not model.stop_training:
                for batch in self.begin_epoch():
                    self.step(batch)
                    if self.halted or model.stop_training:
                        break
                if self.halted:
                    break
                self.end_epoch()
            if not self.halted and not self.divergence.last.finite_now():
                self.divergence.fail(f"a weight became NaN or infinite by step {self.steps}", self.steps)
        finally:
            self.finish()
        return self.history

    @property
    def done(self) -> bool:
        """True once every epoch ran, or training stopped (early stopping, ``tol``, divergence)."""
        return self.halted or self.epoch >= self.epochs or (self.started and self.model.stop_training
                                                             and self._current is None)

    def start(self) -> None:
        """Begin the run (once): the callbacks' ``on_train_begin``, progress output, a resumed state."""
        if self.started:
            return
        self.started = True
        model = self.model
        model.history, model.stop_training = self.history, False
        for cb in self.callbacks:
            cb.set_model(model)
            cb.on_train_begin()
        self.progress = Progress(self.epochs, self.verbose)
        if self.resumed is not None:
            self.epoch, self.steps, self.best, self.stall = self.resumed.restore(
                model, self.opt, self.rng, self.callbacks, self.history, n_samples=self.source.n, epochs=self.epochs,
                fingerprint=self.fingerprint)

    def finish(self) -> None:
        """End the run: close the progress output, the callbacks' ``on_train_end``, release the signals."""
        try:
            if self.started:
                self.progress.close()
                for cb in self.callbacks:
                    cb.on_train_end()
        finally:
            if self.guard is not None:
                self.guard.release()

    # -- one epoch -------------------------------------------------------------------------------
    def begin_epoch(self) -> Iterator[Batch]:
        """Open the next epoch: a divergence check, ``on_epoch_begin``, the epoch's order; its batches."""
        if not self.started:
            self.start()
        if self.divergence.last.due(self.steps) and not self.divergence.check_weights(self.epoch, self.steps):
            self.halted = True
            return iter(())
        for cb in self.callbacks:
            cb.on_epoch_begin(self.epoch)
        rng_state = self.rng.bit_generator.state if self.checkpoint is not None else None
        order = self.source.draw_order(self.rng, self.shuffle)
        epoch = self._current = _Epoch(self.epoch, order, rng_state, len(self.metric_fns))
        if self.resumed is not None:  # the first epoch after a resume: it may continue part-way
            if self.resumed.in_progress is not None:
                epoch.rng_state, epoch.order, epoch.batches, epoch.total, epoch.metric_sums = \
                    self.resumed.continue_epoch(self.rng, self.source.n, draw_order=self._draw_order,
                                                n_metrics=len(self.metric_fns), batch_size=self.source.batch_size)
            self.resumed = None
        batches = self.source.batches(epoch.order, epoch.batches)
        epoch.pending = batches if self.augment is None else self._augmented(batches)
        return epoch.pending

    def _draw_order(self, rng: np.random.Generator) -> Array | None:
        return self.source.draw_order(rng, self.shuffle)

    def _augmented(self, batches: Iterator[Batch]) -> Iterator[Batch]:
        for batch in batches:
            yield batch if self.augment is None else batch._replace(X=self.augment(batch.X, self.rng))

    @property
    def batches_done(self) -> int:
        """Steps taken in the epoch in progress (0 between epochs)."""
        return 0 if self._current is None else self._current.batches

    @property
    def epoch_finished(self) -> bool:
        """True when the epoch in progress has no batch left (call ``end_epoch``)."""
        epoch = self._current
        return epoch is not None and epoch.batches * self.source.batch_size >= self.source.n

    def step(self, batch: Batch | None = None) -> float:
        """One step of the seeds' loop on ``batch`` (default: the next batch of the epoch in progress):
        forward → loss → output delta → backward → reduce → update. Returns the batch's loss."""
        epoch = self._current
        if epoch is None or epoch.pending is None:
            self.begin_epoch()
            epoch = self._current
            if epoch is None:  # halted by the divergence check
                return math.nan
        if batch is None:
            batch = next(epoch.pending)  # type: ignore[arg-type]
        for cb in self.callbacks:
            cb.on_batch_begin(epoch.batches)
        model, loss = self.model, self.loss
        a = None  # the outputs, for the metrics (a collective step adds the metrics' global sums itself)
        with model._lock:  # a predict in another thread waits for the step to finish (the layers cache per call)
            if self._collective:
                value, m = self._collective_step(batch), self._rows
                if self.halted:
                    return value
            else:
                a = model.forward(batch.X, training=True)
                value, delta, top = model.output_delta(loss, a, batch.Y, batch.w, prepared=True)
                if not math.isfinite(value):
                    self.divergence.fail(f"the loss became {value} at epoch {self.epoch + 1}, step {self.steps + 1}",
                                         self.steps)
                    self.halted = True
                    return value
                model._backward_from(top, delta)
                m = len(batch.X)
                if self.reducer is not None:
                    self.reducer.reduce(model, m)
                epoch.total += value * m if loss.reduction == "mean" else value
            self.opt.step(model)
        self.steps += 1
        epoch.batches += 1
        if a is not None and self.metric_fns:
            for k, (_, fn) in enumerate(self.metric_fns):
                epoch.metric_sums[k] += fn(a, batch.Y) * len(batch.X)
        if self.callbacks:
            for cb in self.callbacks:
                cb.on_batch_end(epoch.batches - 1, {"loss": value, "size": m})
        if self.guard is not None and self.guard.signum and (self._stop or not self._collective):
            self._interrupt(self.epoch, epoch.in_progress(self.source.batch_size), saved=False)
        return value

    def _collective_step(self, batch: Batch) -> float:
        """forward → loss → backward → reduce, with the loss, the metric sums and a flag for a pending
        Ctrl-C/SIGTERM combined across processes in the same all-reduce: every process reaches it (one
        with no rows, or a non-finite loss, adds zero gradients), and all of them see the global
        values, so a divergence or a signal stops each of them at the same step. Returns the global
        batch loss."""
        model, loss, epoch = self.model, self.loss, self._current
        assert epoch is not None
        m = len(batch.X)
        parts = [0.0] * (1 + len(self.metric_fns))
        if m:
            a = model.forward(batch.X, training=True)
            value, delta, top = model.output_delta(loss, a, batch.Y, batch.w, prepared=True)
            parts[0] = value * m if loss.reduction == "mean" else value
            for k, (_, fn) in enumerate(self.metric_fns):
                parts[1 + k] = fn(a, batch.Y) * m
            if math.isfinite(value):
                model._backward_from(top, delta)
        if not m or not math.isfinite(parts[0]):
            for _, _, g in model.param_grad_pairs():
                g.fill(0.0)
        guard = self.guard
        parts.append(1.0 if guard is not None and guard.signum else 0.0)  # Ctrl-C/SIGTERM on any process
        parts, rows = self.reducer.reduce_step(model, m, parts)  # type: ignore[union-attr]
        self._stop = parts.pop() > 0  # all processes stop after this same step
        if self._stop and guard is not None and not guard.signum:
            guard.signum = int(signal.SIGTERM)
        value = parts[0] / rows if loss.reduction == "mean" else parts[0]
        if not math.isfinite(value):
            self.divergence.fail(f"the loss became {value} at epoch {self.epoch + 1}, step {self.steps + 1}",
                                 self.steps)
            self.halted = True
            return math.nan
        epoch.total += parts[0]
        for k in range(len(self.metric_fns)):
            epoch.metric_sums[k] += parts[1 + k]
        self._rows = rows
        return value

    def end_epoch(self) -> dict[str, float]:
        """Close the epoch: logs and validation, history, schedule, callbacks, progress, ``tol``, checkpoint."""
        epoch, model, n = self._current, self.model, self.source.n
        if epoch is None:
            raise RuntimeError("Trainer.end_epoch: no epoch is in progress; call step() first.")
        self._current = None
        logs = {"loss": epoch.total / n if self.loss.reduction == "mean" else epoch.total}
        if self.metric_fns:
            for k, (name, _) in enumerate(self.metric_fns):
                logs[name] = epoch.metric_sums[k] / n
        if self.val is not None:
            for key, value in self._validate().items():
                logs[f"val_{key}"] = value
        logs["lr"] = self.opt.lr
        self.history.append(epoch.index, logs)
        self.opt.epoch_end(logs.get("val_loss", logs["loss"]))
        if self.callbacks:
            for cb in self.callbacks:
                cb.on_epoch_end(epoch.index, logs)
        if self.progress.verbose:
            self.progress.update(epoch.index, logs)
        if self.tol is not None:
            self._converged(logs[self.monitor])
        self.epoch = epoch.index + 1
        if self.checkpoint is not None or (self.guard is not None and self.guard.signum):
            self._save_due()
        if model.stop_training and not self.halted:
            self.history.stopped_early = self.epoch < self.epochs
        return logs

    def _validate(self) -> dict[str, float]:
        """The validation logs: in-memory arrays as ``evaluate``; streamed data batch by batch."""
        if isinstance(self.val, tuple):
            return self.model.evaluate(self.val[0], self.val[1], loss=self.loss, metrics=self.metrics, preprocess=False)
        from .stream import evaluate_batches

        return evaluate_batches(self.model, self.val.in_order(), self.loss, self.metrics,
                                getattr(self.reducer, "reduce_sums", None))

    # -- collaborators: tol, checkpoints, signals ------------------------------------------------
    def _converged(self, value: float) -> None:
        """``tol``: stop when the monitored loss improved by less than tol for n_iter_no_change epochs."""
        self.stall = self.stall + 1 if value > self.best - self.tol else 0  # type: ignore[operator]
        self.best = min(self.best, value)
        if self.stall >= self.n_iter_no_change:
            self.model.stop_training = True

    def _save_due(self) -> None:
        """Write the checkpoint when one is due, then act on a pending Ctrl-C/SIGTERM."""
        # several processes act on a signal only together, after a step (see _collective_step)
        signum = self.guard.signum if self.guard is not None and not self._collective else 0
        saved = False
        if self.checkpoint is not None and (self.epoch % self.checkpoint_every == 0 or self.model.stop_training
                                            or self.epoch == self.epochs or signum):
            if not self._save(self.epoch):
                return
            saved = True
        if signum:
            self._interrupt(self.epoch, None, saved)

    def _save(self, epochs_done: int, in_progress: dict[str, Any] | None = None) -> bool:
        """Write the checkpoint (never with non-finite weights); False if training diverged instead."""
        if not self.divergence.last.finite_now():
            self.divergence.fail(f"a weight became NaN or infinite by step {self.steps} (epoch {epochs_done + 1})",
                                 self.steps)
            self.halted = True
            return False
        from .checkpoint import save_checkpoint

        save_checkpoint(self.checkpoint, model=self.model, optimizer=self.opt, rng=self.rng,  # type: ignore[arg-type]
                        rng_start=self.rng_start, callbacks=self.callbacks, history=self.history, epoch=epochs_done,
                        epochs=self.epochs, step=self.steps, best=self.best, stall=self.stall, n_samples=self.source.n,
                        in_progress=in_progress, fingerprint=self.fingerprint)
        return True

    def _interrupt(self, epochs_done: int, in_progress: dict[str, Any] | None, saved: bool) -> None:
        """After SIGINT/SIGTERM: write the final checkpoint, then raise TrainingInterrupted."""
        signum = self.guard.consume()  # type: ignore[union-attr]
        written = str(self.checkpoint) if self.checkpoint is not None and (saved or self._save(epochs_done,
                                                                                                in_progress)) else None
        raise interrupted(signum, epochs_done=epochs_done, in_progress=in_progress, step=self.steps,
                          checkpoint=written)


def fit(model: Sequential, X: Any, y: Any, *, loss: str | losses_mod.Loss | None = None,
        optimizer: str | optimizers_mod.Optimizer = "adam", epochs: int = 1, batch_size: int | None = None,
        shuffle: bool = True, validation_data: tuple[Any, Any] | None = None, validation_split: float = 0.0,
        metrics: Sequence[Any] = (), callbacks: Sequence[Callback] = (), verbose: int = 0,
        sample_weight: Any = None, class_weight: dict[Any, float] | str | None = None,
        lr_schedule: Schedule | None = None, tol: float | None = None, n_iter_no_change: int = 10,
        augment: Callable[[Array, np.random.Generator], Array] | None = None, seed: Seed = None,
        checkpoint: str | os.PathLike[str] | None = None, checkpoint_every: int = 1,
        resume: str | os.PathLike[str] | None = None, on_divergence: str = "raise", preprocess: Any = None) -> History:
    """Train ``model`` on (X, y) and return the History.

    - ``X`` larger than memory streams batch by batch: a memory-mapped array (``np.load(path,
      mmap_mode="r")``, any numeric dtype), a Dask array, or chunks of (X, y) pairs with ``y=None``
      (``batches.Chunks``); see docs/scale.md. Data-parallel training on MPI: ``distributed.fit_distributed``.

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
    - ``on_divergence``: "raise" (FloatingPointError) or "warn" (DivergenceWarning, stop early); either
      way the model keeps the last finite weights.
    - ``X`` may be a table (a pandas DataFrame, a dict of columns, a NumPy structured array) and ``y``
      class names. ``preprocess`` (None: on for tables) fits a ``Preprocessor`` on the training rows
      (never the validation rows) and keeps it as ``model.preprocessor``: numbers imputed and
      standardised, text one-hot encoded; ``predict`` then takes raw columns. ``False`` turns it off,
      ``True`` turns it on for arrays, a ``Preprocessor`` chooses its settings. Class names become
      ``model.classes`` (sorted; ``predict_labels`` gives them back).

    The same run can be driven step by step with ``deltaprop.train.loop.Trainer``.
    """
    return Trainer(model, X, y, loss=loss, optimizer=optimizer, epochs=epochs, batch_size=batch_size,
                   shuffle=shuffle, validation_data=validation_data, validation_split=validation_split,
                   metrics=metrics, callbacks=callbacks, verbose=verbose, sample_weight=sample_weight,
                   class_weight=class_weight, lr_schedule=lr_schedule, tol=tol, n_iter_no_change=n_iter_no_change,
                   augment=augment, seed=seed, checkpoint=checkpoint, checkpoint_every=checkpoint_every,
                   resume=resume, on_divergence=on_divergence, preprocess=preprocess).run()


def _open_checkpoints(checkpoint: Any, resume: Any, rng: np.random.Generator) -> Any:
    """Check the checkpoint path; read the checkpoint to resume and rewind ``rng`` to its run's start."""
    if checkpoint is None and resume is None:
        return None
    from .checkpoint import Checkpoint, check_checkpoint_path

    if checkpoint is not None:
        check_checkpoint_path(checkpoint)
    if resume is None:
        return None
    resumed = Checkpoint(resume)
    resumed.rewind(rng)  # so the validation split is drawn exactly as in the interrupted run
    return resumed


