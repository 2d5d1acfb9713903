"""Checkpoints: everything ``fit`` needs to continue a run exactly where it stopped.

A checkpoint is a model file (io.py) of kind "checkpoint": the model's tensors under their usual
names, plus the arrays of the training state (optimizer moments, EarlyStopping's best weights)
as further tensors, and everything else as JSON in the metadata key ``"checkpoint"``: the
completed epoch and step counts, the optimizer's step count, lr and schedule state, the bit
generator state of ``fit``'s generator (at the start of the run, for the validation split, and
now) and of every Dropout layer, the History, the ``tol`` counters and each stateful callback's
state. In the JSON an array appears as ``{"__tensor__": name}``. No pickle is involved.

Resuming restores all of it, so a seeded run interrupted after epoch k and resumed ends with
the same weights, bit for bit, as the run that was never interrupted.
"""

from __future__ import annotations

import copy
import json
import math
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ..io.model_file import (
    ModelFileError,
    PathLike,
    atomic_write,
    build_model,
    decode_metadata,
    encode,
    from_json,
    model_metadata,
    model_tensors,
    read_file,
    to_json,
)
from ..nn.layers import Dropout

if TYPE_CHECKING:
    from ..nn.model import Sequential
    from ..optim.optimizers import Optimizer
    from .callbacks import Callback
    from .history import History

_REF = "__tensor__"


def save_checkpoint(path: PathLike, *, model: Sequential, optimizer: Optimizer, rng: np.random.Generator,
                    rng_start: Mapping[str, Any], callbacks: Sequence[Callback], history: History, epoch: int,
                    epochs: int, step: int, best: float, stall: int, n_samples: int,
                    in_progress: Mapping[str, Any] | None = None, fingerprint: str | None = None) -> None:
    """Write the state of a ``fit`` call after ``epoch`` completed epochs to ``path``, atomically.

    ``in_progress`` describes an epoch stopped part-way (Ctrl-C, SIGTERM): the batches done, the batch
    size, the generator's state at the epoch's start (to redraw its order) and the partial sums of its logs."""
    tensors = dict(model_tensors(model))
    state = {
        "epoch": epoch, "epochs": epochs, "step": step, "n_samples": n_samples, "data": fingerprint,
        "in_progress": None if in_progress is None else dict(in_progress),
        "stopped": bool(model.stop_training),
        "rng": {"start": dict(rng_start), "now": rng.bit_generator.state},
        "dropout_rngs": {str(i): layer.rng.bit_generator.state for i, layer in enumerate(model.layers)
                         if isinstance(layer, Dropout)},
        "optimizer": _split(optimizer.state_dict(), "optimizer", tensors),
        "history": {"epoch": list(history.epoch), "history": history.history, "stopped_early": history.stopped_early},
        "tol": {"best": None if math.isinf(best) else best, "stall": stall},
        "callbacks": [{"index": j, "type": type(cb).__name__,
                       "state": _split(cb.state_dict(), f"callbacks.{j}", tensors)}  # type: ignore[attr-defined]
                      for j, cb in enumerate(callbacks) if hasattr(cb, "state_dict")],
    }
    metadata = model_metadata(model, kind="checkpoint")
    metadata["checkpoint"] = to_json(state)
    where = f"checkpoint {str(path)!r}"
    _check_writable(tensors, metadata, where)  # a checkpoint resume would refuse never replaces a good one
    atomic_write(path, encode(tensors, metadata), where=where)


def _check_writable(tensors: Mapping[str, np.ndarray], metadata: Mapping[str, str], where: str) -> None:
    """What could make resume refuse a checkpoint this module writes: a non-finite array, or metadata JSON
    that does not read back (the rest, header and architecture, is written by the code that reads it).
    Cheap (one BLAS pass per array), as checkpoints are written every epoch."""
    from ..core.validation import all_finite

    for name, arr in tensors.items():
        if not all_finite(arr):
            raise ValueError(f"{where}: {name!r} holds NaN or infinite values, and resume refuses such a file; "
                             "nothing was written.")
    for key in ("architecture", "loss", "optimizer", "training", "checkpoint"):
        try:
            from_json(metadata[key], key, where)
        except ModelFileError as err:
            raise ValueError(f"{err} Nothing was written: resume would refuse this file.") from None


def check_checkpoint_path(path: PathLike) -> None:
    """Fail before training, not after the first epoch, when the checkpoint cannot be written there."""
    from ..io.model_file import file_kind

    p = Path(path)
    if p.is_dir():
        raise ValueError(f"fit: checkpoint {str(p)!r} is a folder; pass a file path such as 'run.ckpt.safetensors'.")
    if not p.parent.is_dir():
        raise FileNotFoundError(f"fit: the folder of checkpoint {str(p)!r} does not exist; create it first.")
    if p.exists():
        kind = file_kind(p)
        if kind != "checkpoint":
            what = "a model file" if kind == "model" else "not a deltaprop checkpoint"
            raise ValueError(f"fit: checkpoint {str(p)!r} exists and is {what}; checkpoints would overwrite it. "
                             "Pass a new path (such as 'run.ckpt.safetensors'), or the checkpoint of an earlier run.")


class Checkpoint:
    """A validated checkpoint file; ``rewind`` and ``restore`` put its state into a ``fit`` call."""

    def __init__(self, path: PathLike) -> None:
        self.where = f"resume {str(path)!r}"
        f = read_file(path, where=self.where)
        self.info = decode_metadata(f.metadata, self.where)
        if self.info["kind"] != "checkpoint":
            raise ModelFileError(f"{self.where}: this is a model file, not a checkpoint; load it with "
                                 "deltaprop.load and call fit without resume to train it further.")
        if "checkpoint" not in f.metadata:
            raise ModelFileError(f"{self.where}: metadata 'checkpoint' is missing; the file is damaged.")
        self.tensors = f.tensors
        used: set[str] = set()
        state = from_json(f.metadata["checkpoint"], "checkpoint", self.where)
        if not isinstance(state, dict):
            raise ModelFileError(f"{self.where}: metadata 'checkpoint' must be a JSON object.")
        self.state = _join(state, f.tensors, used, self.where)
        # the tensors the state does not refer to must be exactly the model's, with the declared shapes
        self.model = build_model(self.info, {k: v for k, v in f.tensors.items() if k not in used}, where=self.where)
        try:
            self.epoch, self.step = _count(self.state["epoch"]), _count(self.state["step"])
            self.n_samples = _count(self.state["n_samples"])
        except (KeyError, TypeError) as err:
            raise ModelFileError(f"{self.where}: the checkpoint's counters are missing or invalid ({err}).") from None
        self.in_progress = _in_progress(self.state.get("in_progress"), self.where)
        _check_state(self.state, self.model, (self.info["optimizer"] or {}).get("type"), self.where)

    def rewind(self, rng: np.random.Generator) -> None:
        """Set ``fit``'s generator to its state at the start of the run, so the validation split is redrawn
        exactly as it was."""
        self._set_rng(rng, self.state.get("rng", {}).get("start"), "fit's generator (start)")

    def restore(self, model: Sequential, optimizer: Optimizer, rng: np.random.Generator,
                callbacks: Sequence[Callback], history: History, *, n_samples: int,
                epochs: int, fingerprint: str | None = None) -> tuple[int, int, float, int]:
        """Put weights, optimizer and schedule state, generators, history and callback state back.

        Returns (first epoch to run, step, tol best, tol stall); a run that had already stopped
        (early stopping, ``tol``) returns ``epochs``, so nothing more is trained."""
        self._check_same_run(model, optimizer, n_samples)
        self._check_same_data(fingerprint, epochs)
        self._check_callbacks(callbacks)  # before anything changes: a refused checkpoint leaves the model alone
        model.set_weights(self.model.get_weights())
        s = self.state
        try:
            self._check_optimizer_state(s["optimizer"], model)
            optimizer.load_state_dict(s["optimizer"])
            history.epoch = [int(e) for e in s["history"]["epoch"]]
            history.history = {str(k): [float(v) for v in vals] for k, vals in s["history"]["history"].items()}
            history.stopped_early = bool(s["history"]["stopped_early"])
            best = math.inf if s["tol"]["best"] is None else float(s["tol"]["best"])
            stall = int(s["tol"]["stall"])
            dropout_rngs = s["dropout_rngs"]
            saved_callbacks = s["callbacks"]
        except (KeyError, TypeError, ValueError, AttributeError) as err:
            raise ModelFileError(f"{self.where}: the training state is incomplete or invalid ({err!r}).") from None
        self._set_rng(rng, s["rng"].get("now"), "fit's generator")
        for i, layer in enumerate(model.layers):
            if isinstance(layer, Dropout):
                self._set_rng(layer.rng, dropout_rngs.get(str(i)), f"the Dropout generator of layer {i}")
        for (_, cb), saved in zip(self._stateful(callbacks), saved_callbacks):
            cb.load_state_dict(saved["state"])  # type: ignore[attr-defined]
        if s.get("stopped"):  # the run had ended (early stopping, tol): nothing is left to train
            history.stopped_early = self.epoch < epochs
            return epochs, self.step, best, stall
        return self.epoch, self.step, best, stall

    def continue_epoch(self, rng: np.random.Generator, n: int, *,
                       draw_order: Callable[[np.random.Generator], np.ndarray | None], n_metrics: int,
                       batch_size: int) -> tuple[Any, np.ndarray | None, int, float, list[float]]:
        """For a checkpoint written part-way through an epoch: (the generator state at the epoch's start,
        the epoch's order of samples, redrawn with ``draw_order``, batches already done, partial loss sum,
        partial metric sums).
        ``rng`` is left where the interrupted run had it after its last batch."""
        p = self.in_progress
        assert p is not None
        # batches == ceil(n / batch_size): stopped after the epoch's last step, before its end (logs, checkpoint)
        if p["batch_size"] != batch_size or (p["batches"] - 1) * batch_size >= n:
            raise ValueError(f"{self.where}: the checkpoint stopped after {p['batches']} batch(es) of "
                             f"{p['batch_size']} samples; this fit call has batch size {batch_size} for {n} samples. "
                             "Pass the same batch_size and data to continue the run.")
        if len(p["metric_sums"]) != n_metrics:
            raise ValueError(f"{self.where}: the checkpoint was trained with {len(p['metric_sums'])} metric(s), this "
                             f"fit call has {n_metrics}; pass the same metrics.")
        self._set_rng(rng, p["rng_epoch"], "fit's generator (epoch start)")
        order = draw_order(rng)
        self._set_rng(rng, self.state["rng"]["now"], "fit's generator")
        return p["rng_epoch"], order, p["batches"], p["total"], list(p["metric_sums"])

    @staticmethod
    def _stateful(callbacks: Sequence[Callback]) -> list[tuple[int, Callback]]:
        return [(j, cb) for j, cb in enumerate(callbacks) if hasattr(cb, "load_state_dict")]

    def _check_callbacks(self, callbacks: Sequence[Callback]) -> None:
        """The saved callback states belong to these callbacks, and each loads (tried on a copy)."""
        saved_callbacks = self.state["callbacks"]
        stateful = self._stateful(callbacks)
        kinds = [(j, type(cb).__name__) for j, cb in stateful]
        if kinds != [(c["index"], c["type"]) for c in saved_callbacks]:
            raise ValueError(f"{self.where}: the checkpoint holds the state of callbacks "
                             f"{[(c['index'], c['type']) for c in saved_callbacks]} (index, type), but this "
                             f"fit call has {kinds}; pass the same callbacks to continue the run.")
        for (j, cb), saved in zip(stateful, saved_callbacks):
            try:
                copy.copy(cb).load_state_dict(saved["state"])  # type: ignore[attr-defined]
            except (KeyError, TypeError, ValueError, AttributeError, OverflowError) as err:
                raise ModelFileError(f"{self.where}: the saved state of callback {j} ({type(cb).__name__}) is "
                                     f"invalid ({err!r}); the file is damaged.") from None

    def _check_optimizer_state(self, state: Any, model: Sequential) -> None:
        params = model.parameters()
        for key, slot in state["state"].items():
            for name, arr in slot.items():
                if key not in params or not isinstance(arr, np.ndarray) or arr.shape != params[key].shape:
                    raise ModelFileError(f"{self.where}: optimizer state {key}.{name} does not fit the model's "
                                         "parameters; the file is damaged.")

    def _check_same_run(self, model: Sequential, optimizer: Optimizer, n_samples: int) -> None:
        arch = [layer.get_config() for layer in model.layers]
        if arch != self.info["architecture"] or model.dtype.name != self.info["dtype"]:
            raise ValueError(f"{self.where}: the checkpoint's network ({self.info['dtype']}, "
                             f"{self.info['architecture']}) differs from the model's ({model.dtype.name}, {arch}); "
                             "resume needs the same architecture and dtype.")
        saved_opt = self.info["optimizer"]
        now_opt = json.loads(to_json(optimizer.get_config()))
        if saved_opt != now_opt:
            raise ValueError(f"{self.where}: the checkpoint was trained with optimizer {saved_opt}, this fit call "
                             f"passes {now_opt}; pass the same optimizer (and lr_schedule) to continue exactly, or "
                             "deltaprop.load the checkpoint and fit without resume to start a new run.")
        saved_loss = self.info["loss"]
        now_loss = None if model.loss is None else json.loads(to_json(model.loss.get_config()))
        if saved_loss != now_loss:
            raise ValueError(f"{self.where}: the checkpoint was trained with loss {saved_loss}, this fit call "
                             f"uses {now_loss}; pass the same loss.")
        if n_samples != self.n_samples:
            raise ValueError(f"{self.where}: the checkpoint was trained on {self.n_samples} training samples, this "
                             f"fit call has {n_samples}; pass the same data (and validation_split).")

    def _check_same_data(self, fingerprint: str | None, epochs: int) -> None:
        """Refuse other data of the same size (checkpoints store a digest of the data; files from before
        it was stored skip this) and fewer total epochs than the checkpoint has already done."""
        saved = self.state.get("data")
        if saved is not None and not isinstance(saved, str):
            raise ModelFileError(f"{self.where}: the checkpoint's data digest must be a string; the file is damaged.")
        if saved is not None and fingerprint is not None and saved != fingerprint:
            raise ValueError(f"{self.where}: the checkpoint was trained on other data (same number of samples, "
                             "different values, order or weights); pass the same X, y and sample weights to "
                             "continue the run, or fit without resume to start a new one.")
        if epochs < self.epoch:
            raise ValueError(f"{self.where}: the checkpoint has already done {self.epoch} epoch(s), but this fit call "
                             f"asks for {epochs} in total; epochs counts the whole run, so pass epochs >= "
                             f"{self.epoch}.")

    def _set_rng(self, rng: np.random.Generator, state: Any, what: str) -> None:
        expected = type(rng.bit_generator).__name__
        if not isinstance(state, dict) or state.get("bit_generator") != expected:
            found = state.get("bit_generator") if isinstance(state, dict) else state
            raise ModelFileError(f"{self.where}: the saved state of {what} is for {found!r}, expected a "
                                 f"{expected} state.")
        try:
            rng.bit_generator.state = state
        except (TypeError, ValueError, KeyError, OverflowError) as err:
            raise ModelFileError(f"{self.where}: the saved state of {what} is invalid ({err}).") from None


#: optimizer buffers that hold running means of squares, so can never be negative (a negative one gives NaN)
_SQUARES = {"adam": ("v", "v_max"), "adamw": ("v", "v_max"), "rmsprop": ("s",)}


def _check_state(state: dict[str, Any], model: Sequential, optimizer: str | None, where: str) -> None:
    """Check the types and ranges of the whole training state before anything is restored from it, so that
    ``restore`` cannot fail half-way and training cannot start from nonsense (a negative step count, lr=0)."""
    params = {k: v.shape for k, v in model.parameters().items()}

    def fail(what: str) -> None:
        raise ModelFileError(f"{where}: the training state is invalid: {what}; the file is damaged.")

    def number(v: Any) -> bool:
        return isinstance(v, (int, float)) and not isinstance(v, bool)

    def count(v: Any) -> bool:
        return isinstance(v, int) and not isinstance(v, bool) and v >= 0

    def rate(v: Any) -> bool:
        return number(v) and math.isfinite(v) and v > 0

    def arrays(v: Any, what: str) -> None:  # {param key: array of that parameter's shape}, for every key given
        if not isinstance(v, dict) or not all(k in params and isinstance(a, np.ndarray) and a.shape == params[k]
                                              for k, a in v.items()):
            fail(f"{what} must map parameter names to arrays of their shapes")

    rng = state.get("rng")
    if not (isinstance(rng, dict) and isinstance(rng.get("start"), dict) and isinstance(rng.get("now"), dict)):
        fail("'rng' must hold the generator states 'start' and 'now'")
    if not isinstance(state.get("dropout_rngs"), dict):
        fail("'dropout_rngs' must be an object")
    opt = state.get("optimizer")
    if not (isinstance(opt, dict) and count(opt.get("t")) and rate(opt.get("lr"))
            and isinstance(opt.get("state"), dict)):
        fail("'optimizer' must hold a step count 't', a positive finite 'lr' and 'state'")
    for key, slot in opt["state"].items():
        if not (key in params and isinstance(slot, dict)
                and all(isinstance(a, np.ndarray) and a.shape == params[key] for a in slot.values())):
            fail(f"optimizer state {key!r} must map buffer names to arrays of that parameter's shape")
        if any((slot[name] < 0).any() for name in _SQUARES.get(optimizer or "", ()) if name in slot):
            fail(f"optimizer state {key!r} has a negative running mean of squared gradients")
    schedule = opt.get("schedule")
    if schedule is not None and not (isinstance(schedule, dict) and all(number(v) for v in schedule.values())
                                     and all(rate(v) for k, v in schedule.items() if k.endswith("lr"))
                                     and all(count(v) for k, v in schedule.items()
                                             if k in ("epoch", "bad_epochs", "cooldown_left"))):
        fail("the schedule state must hold numbers (positive finite rates, non-negative counts)")
    history = state.get("history")
    if not (isinstance(history, dict) and isinstance(history.get("epoch"), list)
            and all(count(e) for e in history["epoch"]) and isinstance(history.get("history"), dict)
            and all(isinstance(v, list) and all(number(x) for x in v) for v in history["history"].values())):
        fail("'history' must hold a list of epochs and lists of numbers")
    tol = state.get("tol")
    if not (isinstance(tol, dict) and (tol.get("best") is None or number(tol["best"])) and count(tol.get("stall"))):
        fail("'tol' must hold 'best' (a number or null) and a count 'stall'")
    callbacks = state.get("callbacks")
    if not (isinstance(callbacks, list) and all(isinstance(c, dict) and count(c.get("index"))
                                                and isinstance(c.get("type"), str) and isinstance(c.get("state"), dict)
                                                for c in callbacks)):
        fail("'callbacks' must be a list of objects with 'index', 'type' and 'state'")
    for c in callbacks:
        if c["state"].get("best_weights") is not None:
            arrays(c["state"]["best_weights"], f"the best weights of callback {c['index']}")


def _in_progress(value: Any, where: str) -> dict[str, Any] | None:
    """The validated ``in_progress`` record of a checkpoint written part-way through an epoch."""
    if value is None:
        return None
    keys = {"batches", "batch_size", "rng_epoch", "total", "metric_sums"}
    if not isinstance(value, dict) or set(value) != keys:
        raise ModelFileError(f"{where}: 'in_progress' must be an object with the keys {', '.join(sorted(keys))}.")
    sums = value["metric_sums"]
    numbers = [value["total"], *sums] if isinstance(sums, list) else []
    try:
        ok = (_count(value["batches"]) > 0 and _count(value["batch_size"]) > 0 and isinstance(sums, list)
              and all(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) for v in numbers)
              and isinstance(value["rng_epoch"], dict))
    except TypeError:
        ok = False
    if not ok:
        raise ModelFileError(f"{where}: the checkpoint's 'in_progress' record is invalid; the file is damaged.")
    return {**value, "total": float(value["total"]), "metric_sums": [float(v) for v in sums]}


def _count(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise TypeError(f"expected a non-negative int, got {value!r}")
    return value


def _split(obj: Any, name: str, tensors: dict[str, np.ndarray]) -> Any:
    """Plain data with every array replaced by ``{"__tensor__": name}`` and moved into ``tensors``."""
    if isinstance(obj, np.ndarray):
        if name in tensors:
            raise ValueError(f"checkpoint: two arrays would share the tensor name {name!r}.")
        tensors[name] = obj
        return {_REF: name}
    if isinstance(obj, Mapping):
        if _REF in obj:
            raise ValueError(f"checkpoint: the key {_REF!r} is reserved.")
        return {str(k): _split(v, f"{name}.{k}", tensors) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_split(v, f"{name}.{i}", tensors) for i, v in enumerate(obj)]
    return obj


#: the training state is a few levels deep (callbacks → state → best_weights → reference); far deeper is damage
_MAX_DEPTH = 32


def _join(obj: Any, tensors: Mapping[str, np.ndarray], used: set[str], where: str, depth: int = 0) -> Any:
    """Inverse of ``_split``: each reference must name a tensor of the file, and only once."""
    if depth > _MAX_DEPTH and isinstance(obj, (dict, list)):
        raise ModelFileError(f"{where}: the training state is nested more than {_MAX_DEPTH} levels deep; the file "
                             "is damaged or was not written by deltaprop.")
    if isinstance(obj, dict):
        if _REF in obj:
            name = obj[_REF]
            if len(obj) != 1 or not isinstance(name, str) or name not in tensors or name in used:
                raise ModelFileError(f"{where}: the training state refers to tensor {name!r:.100}, which the file "
                                     "does not hold (or which is referred to twice).")
            used.add(name)
            return np.array(tensors[name])
        return {k: _join(v, tensors, used, where, depth + 1) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_join(v, tensors, used, where, depth + 1) for v in obj]
    return obj
