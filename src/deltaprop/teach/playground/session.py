"""One playground session: a data set, a network and the ``Trainer`` that trains it, step by step.

The page never computes a number of its own. Every step is ``deltaprop.train.loop.Trainer.step``;
the explain panel is ``deltaprop.explain`` run on the batch the next step will use, with the
model's current weights; the pictures are the network's own forward pass over a grid of the input
plane. The run is built exactly as ``deltaprop train`` builds it (``load_data``, the same split,
``mlp`` with the same seed, the same optimizer and ``Trainer`` arguments as ``fit``), so the
command ``command()`` prints reproduces the weights of every completed epoch bit for bit.
"""

from __future__ import annotations

import math
import re
import shlex
import tempfile
import threading
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ...core.types import Array

TOY_SETS = ("moons", "circles", "spirals", "blobs", "xor")
ACTIVATIONS = ("tanh", "relu", "sigmoid", "leaky_relu", "elu", "gelu", "softplus", "identity")
OPTIMIZERS = ("sgd", "adam", "rmsprop", "adamw")
GRID = 48  # the boundary image: GRID × GRID forward passes
THUMB = 24  # a neuron's thumbnail
MAX_POINTS = 600  # points drawn per part (train, test)
MAX_DRAWN = 24  # neurons drawn per layer (inputs included)
MAX_HIDDEN = 64  # the largest hidden layer the page builds
MAX_CURVE = 2000  # loss-curve points kept


class PlaygroundError(ValueError):
    """A setting the page sent that the playground cannot use (shown to the user as the message)."""


@dataclass
class Settings:
    """What the controls set. ``data`` is a toy set name or a file path (an upload or ``--data``)."""

    data: str = "moons"
    noise: float = 0.2
    n_samples: int = 200
    test_split: float = 0.3
    hidden: list[int] = field(default_factory=lambda: [4, 4])
    activation: str = "tanh"
    optimizer: str = "adam"
    lr: float = 0.03
    batch_size: int = 10
    l2: float = 0.0
    dropout: float = 0.0
    seed: int = 0
    target: str | None = None
    standardize: bool = False

    @property
    def toy(self) -> bool:
        return self.data in TOY_SETS

    def update(self, changes: dict[str, Any]) -> Settings:
        """A checked copy with ``changes`` applied (unknown keys and out-of-range values are errors)."""
        new = Settings(**{**asdict(self)})
        for key, value in changes.items():
            if key not in _CHECKS:
                raise PlaygroundError(f"unknown setting {key!r}; the settings are {', '.join(_CHECKS)}.")
            setattr(new, key, _CHECKS[key](value))
        return new


def _number(name: str, lo: float, hi: float, kind: type = float) -> Any:
    def check(v: Any) -> Any:
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or not lo <= v <= hi \
                or (kind is int and v != int(v)):
            raise PlaygroundError(f"{name} must be {'an integer' if kind is int else 'a number'} from {lo} to {hi}, "
                                  f"got {v!r}.")
        return kind(v)
    return check


def _choice(name: str, options: tuple[str, ...]) -> Any:
    def check(v: Any) -> str:
        if v not in options:
            raise PlaygroundError(f"{name} must be one of {', '.join(options)}, got {v!r}.")
        return str(v)
    return check


def _hidden(v: Any) -> list[int]:
    items = re.split(r"[,\s]+", v.strip()) if isinstance(v, str) else v
    try:
        sizes = [int(s) for s in items if s != ""] if isinstance(items, (list, tuple)) else None
    except (TypeError, ValueError):
        sizes = None
    if sizes is None or len(sizes) > 6 or any(not 1 <= s <= MAX_HIDDEN for s in sizes):
        raise PlaygroundError(f"hidden layer sizes must be up to 6 comma-separated integers from 1 to {MAX_HIDDEN} "
                              f"(like 4,4; empty for none), got {v!r}.")
    return sizes


_CHECKS: dict[str, Any] = {
    "noise": _number("noise", 0.0, 2.0), "n_samples": _number("n_samples", 10, 2000, int),
    "test_split": _number("test_split", 0.0, 0.9), "hidden": _hidden,
    "activation": _choice("activation", ACTIVATIONS), "optimizer": _choice("optimizer", OPTIMIZERS),
    "lr": _number("lr", 1e-6, 10.0), "batch_size": _number("batch_size", 1, 10_000, int),
    "l2": _number("l2", 0.0, 1.0), "dropout": _number("dropout", 0.0, 0.9), "seed": _number("seed", 0, 2**31 - 1, int),
}


class Session:
    """A browser's own run: its settings, data, model and trainer, behind one lock.

    Every public method takes the lock, so two requests of the same browser never interleave, and
    sessions share nothing (each has its own model, optimizer and generator)."""

    def __init__(self, settings: Settings | None = None, *, workdir: str | None = None) -> None:
        self.lock = threading.Lock()
        self.settings = settings or Settings()
        self.workdir = Path(workdir or tempfile.mkdtemp(prefix="deltaprop-playground-"))
        self.error: str | None = None
        self._build()

    # -- building the run ------------------------------------------------------------------------
    def _build(self) -> None:
        """Data, split, network and trainer from the settings, as ``deltaprop train`` builds them."""
        from ...cli.config import load_data
        from ...datasets import train_test_split
        from ...nn.model import mlp
        from ...optim import optimizers
        from ...train.loop import Trainer

        s = self.settings
        toy = s.toy and s.data != "xor"
        data = load_data(s.data, target=s.target, n_samples=s.n_samples if toy else None,
                         noise=s.noise if toy else None, seed=s.seed)
        if data.y is None:
            raise PlaygroundError(f"{Path(data.source).name} has no target column.")
        if data.classes is not None and len(data.classes) < 2:
            raise PlaygroundError(f"the target of {Path(data.source).name} has only one class.")
        X, y, X_test, y_test = data.X, data.y, data.X_test, data.y_test
        if not isinstance(X, np.ndarray):  # a table file's raw columns: the playground takes numbers only
            X = X.to_matrix(where=Path(data.source).name)
            if np.isnan(X).any():
                raise PlaygroundError(f"{Path(data.source).name} has missing values; the playground takes complete "
                                      "numeric tables (deltaprop train imputes them).")
        if s.test_split and X_test is None and len(X) >= 10:
            X, X_test, y, y_test = train_test_split(X, y, test_size=s.test_split, seed=s.seed,
                                                    stratify=data.classes is not None)
        mean = X.mean(axis=0) if s.standardize else None
        std = np.where(X.std(axis=0) > 0, X.std(axis=0), 1.0) if s.standardize else None
        self.data, self.mean, self.std = data, mean, std
        self.X, self.y, self.X_test, self.y_test = X, y, X_test, y_test
        classify = data.classes is not None
        self.sizes = [X.shape[1], *s.hidden, data.n_outputs]
        output = ("sigmoid" if self.sizes[-1] == 1 else "softmax") if classify else "identity"
        self.model = mlp(self.sizes, activation=s.activation, output_activation=output, dropout=s.dropout,
                         seed=s.seed, dtype="float32")
        opt_kwargs: dict[str, Any] = {"lr": s.lr}
        if s.l2:
            opt_kwargs["weight_decay"] = s.l2
        self.metrics = ["accuracy"] if classify else ["mae"]
        self.trainer = Trainer(self.model, self._t(X), y, optimizer=optimizers.get(s.optimizer, **opt_kwargs),
                               epochs=10**9, batch_size=s.batch_size, metrics=self.metrics, seed=s.seed)
        self._batches: Any = None  # the epoch in progress (the trainer's iterator)
        self._next: Any = None  # a batch drawn for explain and not yet trained on
        self.curve: list[tuple[float, float | None, float | None]] = []
        self.features = [0, min(1, X.shape[1] - 1)]
        self.error = None
        self._record()

    def _t(self, X: Array) -> Array:
        """The stored input standardisation (none for the toy sets)."""
        return X if self.mean is None else (np.asarray(X, dtype=np.float64) - self.mean) / self.std

    def configure(self, changes: dict[str, Any]) -> None:
        """New settings; the run starts again from fresh weights (so the exported command stays exact)."""
        with self.lock:
            self._rebuild(self.settings.update(changes), "")

    def use_data(self, data: str, *, standardize: bool, target: str | None = None) -> None:
        """Switch to a toy set or a file (``target`` names the CSV column to predict; default the last)."""
        with self.lock:
            new = Settings(**{**asdict(self.settings), "data": data, "standardize": standardize, "target": target})
            self._rebuild(new, f"{Path(data).name}: ")

    def _rebuild(self, new: Settings, where: str) -> None:
        """The run rebuilt with ``new``; if that fails the session keeps its old settings and says why."""
        old, self.settings = self.settings, new
        try:
            self._build()
        except (ValueError, TypeError, OSError) as err:
            self.settings = old
            self._build()
            raise PlaygroundError(f"{where}{err}") from None

    def reset(self) -> None:
        """Fresh weights, epoch 0, with the same settings."""
        with self.lock:
            self._build()

    def set_features(self, fx: int, fy: int) -> None:
        """The two features the pictures show (the others are held at their mean)."""
        n = self.X.shape[1]
        for f in (fx, fy):
            if isinstance(f, bool) or not isinstance(f, int) or not 0 <= f < n:
                raise PlaygroundError(f"a plotted feature must be 0 to {n - 1}, got {f!r}.")
        with self.lock:
            self.features = [fx, fy]

    # -- training --------------------------------------------------------------------------------
    def _step(self) -> float:
        t = self.trainer
        if self._batches is None:
            self._batches = t.begin_epoch()
        batch = self._next if self._next is not None else next(self._batches)
        self._next = None
        loss = t.step(batch)
        if t.epoch_finished:
            t.end_epoch()
            self._batches = None
        return loss

    def train(self, *, steps: int = 0, epochs: int = 0) -> None:
        """``steps`` single steps, then ``epochs`` times: to the end of the epoch in progress."""
        with self.lock:
            if self.error:
                return
            try:
                for _ in range(steps):
                    self._step()
                for _ in range(epochs):
                    self._step()
                    while self._batches is not None:
                        self._step()
            except FloatingPointError as err:
                self.error = f"{err} Then press Reset."
            self._record()

    @property
    def epoch_float(self) -> float:
        t = self.trainer
        done = t.batches_done
        per_epoch = math.ceil(t.source.n / t.source.batch_size)
        return t.epoch + done / per_epoch

    def _record(self) -> None:
        loss = self.model.evaluate(self._t(self.X), self.y, loss=self.trainer.loss)["loss"]
        test = (self.model.evaluate(self._t(self.X_test), self.y_test, loss=self.trainer.loss)["loss"]
                if self.X_test is not None else None)
        self.curve.append((self.epoch_float, _finite(loss), None if test is None else _finite(test)))
        if len(self.curve) > MAX_CURVE:
            self.curve = self.curve[::2]

    # -- explain ---------------------------------------------------------------------------------
    def next_batch(self) -> Any:
        """The batch the next step will train on (drawn now; the next step uses exactly it)."""
        if self._next is None:
            if self._batches is None:
                self._batches = self.trainer.begin_epoch()
            self._next = next(self._batches)
        return self._next

    def explain(self, l: int, j: int, sample: int = 0) -> dict[str, Any]:
        """``deltaprop.explain`` of the next step (its batch, the current weights), seen by neuron j of layer l."""
        from ..explain import EQUATIONS, explain

        with self.lock:
            batch = self.next_batch()
            e = explain(self.model, batch.X, batch.Y, loss=self.trainer.loss, lr=self.trainer.opt.lr)
            try:
                out = e.neuron(l, j, min(sample, e.n - 1))  # type: ignore[union-attr]
            except ValueError as err:
                raise PlaygroundError(str(err)) from None
            out["x"] = np.asarray(batch.X).tolist()
            out["y"] = np.asarray(batch.Y).tolist()
            out["optimizer"] = self.settings.optimizer
            out["dropout"] = self.settings.dropout
            out["epoch"], out["step"] = self.trainer.epoch, self.trainer.steps
            out["equations"] = EQUATIONS
            return out

    # -- what the page draws ---------------------------------------------------------------------
    def state(self) -> dict[str, Any]:
        """Everything the page shows: settings, the network's weights, the pictures, the curves."""
        with self.lock:
            return self._state()

    def _state(self) -> dict[str, Any]:
        d, s, m = self.data, self.settings, self.model
        dense = [layer for layer in m.layers if hasattr(layer, "W")]
        network = [{"size": self.sizes[0], "names": self._feature_names()}]
        for layer, size in zip(dense, self.sizes[1:]):
            shown_out, shown_in = min(size, MAX_DRAWN), min(layer.W.shape[1], MAX_DRAWN)
            network.append({"size": size, "W": _round(layer.W[:shown_out, :shown_in]),
                            "b": _round(layer.b[:shown_out])})
        last = self.curve[-1]
        return {
            "settings": {**asdict(s), "data": Path(s.data).name if not s.toy else s.data, "toy": s.toy},
            "sizes": self.sizes, "max_drawn": MAX_DRAWN, "network": network,
            "task": "classification" if d.classes is not None else "regression", "classes": d.classes,
            "features": self.features, "feature_names": self._feature_names(),
            "epoch": self.trainer.epoch, "epoch_float": round(self.epoch_float, 4), "steps": self.trainer.steps,
            "loss": last[1], "test_loss": last[2],
            "curve": [[round(e, 4), a, b] for e, a, b in self.curve],
            "n_train": len(self.X), "n_test": 0 if self.X_test is None else len(self.X_test),
            "error": self.error, "command": self.command(),
            **self._pictures(),
        }

    def _feature_names(self) -> list[str]:
        names = self.data.feature_names
        return list(names) if names else [f"x{i + 1}" for i in range(self.X.shape[1])]

    def _pictures(self) -> dict[str, Any]:
        """The output over the plane of the two chosen features (the others at their mean) on a grid,
        each drawn hidden neuron's activation on a smaller grid, and the points."""
        fx, fy = self.features
        X_all = self.X if self.X_test is None else np.vstack([self.X, self.X_test])
        lo, hi = X_all[:, [fx, fy]].min(axis=0), X_all[:, [fx, fy]].max(axis=0)
        pad = np.where(hi > lo, (hi - lo) * 0.08, 1.0)
        lo, hi = lo - pad, hi + pad
        center = X_all.mean(axis=0)

        def plane(n: int) -> Array:
            gx, gy = np.linspace(lo[0], hi[0], n), np.linspace(hi[1], lo[1], n)  # image rows run top-down
            P = np.tile(center, (n * n, 1)).astype(np.float64)
            P[:, fx] = np.tile(gx, n)
            P[:, fy] = np.repeat(gy, n)
            return P

        out = self.model.predict(self._t(plane(GRID)))
        acts = self._hidden_activations(self._t(plane(THUMB)))
        points = []
        for part, (X, y) in (("train", (self.X, self.y)), ("test", (self.X_test, self.y_test))):
            if X is None:
                continue
            pick = np.linspace(0, len(X) - 1, min(len(X), MAX_POINTS)).astype(int)
            for r in pick:
                points.append([round(float(X[r, fx]), 4), round(float(X[r, fy]), 4),
                               float(y[r]) if np.ndim(y) == 1 else float(np.asarray(y[r]).ravel()[0]), part])
        y_all = np.asarray(self.y, dtype=np.float64)
        return {"grid": GRID, "thumb": THUMB, "range": [lo.tolist(), hi.tolist()], "points": points,
                "output": _round(out, 3), "hidden": [_round(a.T, 3) for a in acts],
                "target_range": [float(y_all.min()), float(y_all.max())]}

    def _hidden_activations(self, P: Array) -> list[Array]:
        """Each hidden layer's a⁽ˡ⁾ on the points P, from the layers' own forward passes (dropout off)."""
        acts: list[Array] = []
        a = np.asarray(P, dtype=self.model.dtype)
        layers = self.model.layers
        dense_at = [i for i, layer in enumerate(layers) if hasattr(layer, "W")]
        for n, i in enumerate(dense_at[:-1]):
            for layer in layers[i:dense_at[n + 1]]:
                a = np.array(layer.forward(a, training=False), copy=True)
            acts.append(a[:, :MAX_DRAWN])
        return acts

    # -- export ----------------------------------------------------------------------------------
    def metadata(self) -> dict[str, Any]:
        """What ``deltaprop train --out`` stores with the model, so ``predict`` and ``evaluate`` read it alike."""
        d = self.data
        return {"data": d.source, "classes": d.classes, "feature_names": d.feature_names,
                "target": self.settings.target, "image_shape": list(d.image_shape) if d.image_shape else None,
                "input_mean": None if self.mean is None else self.mean.tolist(),
                "input_std": None if self.std is None else self.std.tolist()}

    def model_bytes(self) -> bytes:
        """The model file (safetensors) of the current weights."""
        with self.lock:
            path = self.workdir / "playground.safetensors"
            self.model.save(path, metadata=self.metadata())
            return path.read_bytes()

    def onnx_bytes(self) -> bytes:
        """The network as an ONNX file (needs the onnx extra)."""
        from ...io.onnx import export

        with self.lock:
            path = self.workdir / "playground.onnx"
            export(self.model, path)
            return path.read_bytes()

    def command(self) -> str:
        """The ``deltaprop train`` command that reproduces this run's last completed epoch."""
        s, t = self.settings, self.trainer
        flags: list[str] = ["--data", s.data if s.toy else Path(s.data).name]
        if s.toy and s.data != "xor":
            flags += ["--n-samples", str(s.n_samples), "--noise", f"{s.noise:g}"]
        if s.target:
            flags += ["--target", s.target]
        if s.standardize:
            flags.append("--standardize")
        if s.test_split and self.data.X_test is None and self.X_test is not None:
            flags += ["--test-split", f"{s.test_split:g}"]
        flags += ["--layers", ",".join(map(str, self.sizes)), "--activation", s.activation]
        if s.dropout:
            flags += ["--dropout", f"{s.dropout:g}"]
        flags += ["--optimizer", s.optimizer, "--lr", f"{s.lr:g}", "--batch-size", str(s.batch_size)]
        if s.l2:
            flags += ["--weight-decay", f"{s.l2:g}"]
        flags += ["--seed", str(s.seed), "--epochs", str(max(t.epoch, 1)), "--out", "playground.safetensors"]
        cmd = "deltaprop train " + " ".join(shlex.quote(f) for f in flags)
        done = t.batches_done
        if t.epoch == 0:
            cmd += "   # trains 1 epoch; the playground has not completed one yet"
        elif done:
            cmd += f"   # the playground is {done} step(s) into epoch {t.epoch + 1}; this reproduces epoch {t.epoch}"
        return cmd


def _finite(v: float) -> float | None:
    """A loss for the page: None when it is not finite (JSON has no inf or NaN)."""
    return float(v) if math.isfinite(v) else None


def _round(a: Any, digits: int = 6) -> Any:
    """Plain lists for JSON; values beyond ±1e30 (or NaN) are clipped for drawing."""
    a = np.nan_to_num(np.asarray(a, dtype=np.float64), nan=0.0, posinf=1e30, neginf=-1e30)
    return np.round(np.clip(a, -1e30, 1e30), digits).tolist()
