"""``Sequential``: a stack of layers with the forward pass, the backward pass and the training step.

One training step is the seeds' loop (DESIGN.md): forward (E1, E2 per layer) → loss → output
delta δ(L) (E3, or fused E8) → backward through the layers (E3–E6) → optimizer update (E9, E10).
Parameters and gradients are exposed under the keys "<layer index>.W" and "<layer index>.b".
"""

from __future__ import annotations

import copy
import math
import threading
import weakref
from collections.abc import Iterable, Mapping, Sequence
from functools import partial
from typing import TYPE_CHECKING, Any

import numpy as np

from ..core.backend import as_dtype, rng_from, spawn_seeds, xp, zeros_aligned
from ..core.types import Array, DType, Seed
from ..core.validation import check_loss_output, check_sample_weight, check_targets, check_X
from ..optim import optimizers as optimizers_mod
from . import losses as losses_mod
from . import metrics as metrics_mod
from .inference import Inference
from .layers import Activation, Dense, Dropout, Layer, ReLU
from .layers import activation as make_activation

#: prediction keeps its intermediate buffers (per thread, for the last two batch sizes) up to this many bytes
PREDICT_CACHE_BYTES = 64 << 20

if TYPE_CHECKING:
    import os
    from collections.abc import Callable

    from ..optim.schedules import Schedule
    from ..train.callbacks import Callback
    from ..train.history import History
    from .preprocess import Preprocessor


class Sequential:
    """Layers applied in order: ``Sequential([Dense(2, 2), Sigmoid(), Dense(2, 1), Sigmoid()])``.

    ``dtype`` (float32 by default) converts every Dense layer; ``seed`` seeds the generator used
    to shuffle mini-batches in ``fit``.

    A layer belongs to one Sequential, at one position: layers cache what their backward needs, so a
    layer shared between networks (or used twice) would compute wrong gradients; it is refused.
    ``predict``, ``evaluate``, ``train_on_batch`` and each step of ``fit`` hold the model's lock, so
    predicting in one thread while another trains is safe (the prediction uses the weights of a
    completed step); ``forward`` and ``backward`` are the unlocked low-level passes."""

    def __init__(self, layers: Iterable[Layer], *, dtype: DType = None, seed: Seed = None) -> None:
        self.layers: list[Layer] = list(layers)
        if not self.layers:
            raise ValueError("Sequential: layers is empty; pass at least one layer, e.g. [Dense(2, 1)].")
        for i, layer in enumerate(self.layers):
            if not isinstance(layer, Layer):
                raise TypeError(f"Sequential: layers[{i}] is a {type(layer).__name__}, not a deltaprop layer.")
        _claim(self, self.layers)
        dense = [layer for layer in self.layers if isinstance(layer, Dense)]
        if not dense:
            raise ValueError("Sequential: the network needs at least one Dense layer.")
        self.dtype = as_dtype(dtype if dtype is not None else dense[0].dtype)
        for layer in dense:
            if layer.dtype != self.dtype:
                layer.astype(self.dtype)
        self.n_inputs = dense[0].n_in
        self.n_outputs = self._check_chain()
        self.rng = rng_from(seed)
        self._pairs: list[tuple[str, Array, Array]] = []
        self._pairs_for: tuple[Layer, ...] | None = None
        self._first_dense_at = 0
        self._overwrite_input: list[bool] = []
        self._overwrite_delta: list[bool] = []
        self._defer_bias: list[bool] = []
        self._flat: tuple[Array, Array, dict[str, tuple[int, int, tuple[int, ...]]]] | None = None
        self._plan: Inference | None = None
        self.param_grad_pairs()  # builds the flat parameter storage now, so references stay valid
        self.stop_training = False
        self.loss: losses_mod.Loss | None = None
        self.optimizer: optimizers_mod.Optimizer | None = None
        self.history: History | None = None
        #: raw table columns → inputs (``nn.preprocess.Preprocessor``), applied by predict and evaluate
        self.preprocessor: Preprocessor | None = None
        #: the class names when the model was trained on text labels (index k ↔ output k)
        self.classes: list[str] | None = None
        self._lock = threading.RLock()
        for layer in self.layers:
            layer._owner = weakref.ref(self)

    def _check_chain(self) -> int:
        width = self.n_inputs
        for i, layer in enumerate(self.layers):
            try:
                width = layer.output_size(width)
            except ValueError as err:
                raise ValueError(f"Sequential: layers[{i}]: {err}") from None
        return width

    # -- the forward and backward passes ---------------------------------------------------
    def forward(self, X: Array, training: bool = True) -> Array:
        """a(L) from the input rows X, layer by layer (E1, E2); each layer caches what backward needs.

        ``training=True`` (the default, as in a training step) turns dropout on."""
        a = X if getattr(X, "dtype", None) == self.dtype else xp.asarray(X, dtype=self.dtype)
        self.param_grad_pairs()  # refreshes the cached structure if the layers changed
        bias = None  # a plain Dense layer below a plain ReLU leaves + b to the ReLU: max(z + b, 0) in one pass
        for layer, overwrite, defer in zip(self.layers, self._overwrite_input, self._defer_bias):
            if defer:
                a, bias = layer.forward(a, training, bias=False), layer.b
            elif bias is not None:
                a, bias = layer.forward(a, training, overwrite=True, bias=bias), None
            else:
                a = layer.forward(a, training, overwrite=True) if overwrite else layer.forward(a, training)
        return a

    def backward(self, delta: Array, *, input_grad: bool = False) -> Array | None:
        """Propagate ∂L/∂a(L) down through every layer, filling each layer's gradients (E3–E6).

        ``delta`` is what a loss's ``grad`` returns. Returns ∂L/∂X if ``input_grad`` is true."""
        return self._backward_from(len(self.layers), delta, input_grad=input_grad)

    def _backward_from(self, top: int, delta: Array, *, input_grad: bool = False) -> Array | None:
        """Backward through ``layers[:top]`` (``top`` < len when a fused loss already gave ∂L/∂z)."""
        # backward follows a forward pass, which refreshed the structure if the layers changed
        bottom = 0 if input_grad else self._first_dense_at
        defer, summed = self._defer_bias, False  # summed: the ReLU above summed δ into this layer's db already
        for i in range(top - 1, bottom - 1, -1):
            layer = self.layers[i]
            if i == bottom and not input_grad and isinstance(layer, Dense):  # the input needs no gradient
                if summed:
                    layer.backward(delta, input_grad=False, bias_grad=False)
                else:
                    layer.backward(delta, input_grad=False)
                return None
            if summed:
                delta, summed = layer.backward(delta, bias_grad=False), False
                continue
            # the delta from a Dense layer above is a temporary: a layer that can may write over it
            overwrite = i + 1 < top and self._overwrite_delta[i]
            if overwrite and i and defer[i - 1]:  # a ReLU above a plain Dense: δ and that layer's db in one pass
                delta, summed = layer.backward(delta, overwrite=True, db=self.layers[i - 1].db), True
            else:
                delta = layer.backward(delta, overwrite=True) if overwrite else layer.backward(delta)
        return delta if input_grad else None

    def output_delta(self, loss: losses_mod.Loss, a: Array, y: Array, sample_weight: Array | None = None, *,
                     prepared: bool = False) -> tuple[float, Array, int]:
        """(L, δ, top): the loss value and the delta to propagate from below layer ``top``.

        When the last layer is the activation the loss fuses with (softmax + categorical CE,
        sigmoid + binary CE), δ is ∂L/∂z = (a − y)/n (E8) and the value comes from the logits;
        otherwise δ is ∂L/∂a and backward starts at the top (E3). ``prepared=True`` says y is
        already a float array shaped like ``a`` (as ``fit`` makes it), which skips the target checks."""
        if not prepared:
            y = loss.prepare_targets(a, y)
        last = self.layers[-1]
        if loss.fuses_with is not None and isinstance(last, Activation) and last.name == loss.fuses_with:
            value = loss._value_from_output(last, y, sample_weight)
            return value, loss._fused_delta(a, y, sample_weight), len(self.layers) - 1  # type: ignore[attr-defined]
        return (*loss._value_and_grad(a, y, sample_weight), len(self.layers))

    def train_on_batch(self, X: Array, y: Array, *, loss: str | losses_mod.Loss | None = None,
                       optimizer: str | optimizers_mod.Optimizer | None = None,
                       sample_weight: Array | None = None) -> float:
        """One step of the seeds' loop on one batch: forward, loss, backward, update. Returns L
        (computed before the update). ``loss``/``optimizer`` default to the last ones used."""
        loss_obj = losses_mod.get(loss) if loss is not None else self.loss or losses_mod.get(default_loss(self))
        where = "train_on_batch"
        X = check_X(X, dtype=self.dtype, n_features=self.n_inputs, where=where)  # checked as fit checks them
        Y = check_targets(self, loss_obj, y, len(X), where=where)
        w = check_sample_weight(sample_weight, len(X), where=where)
        check_loss_output(self, loss_obj, where=where)
        if optimizer is not None and isinstance(optimizer, optimizers_mod.Optimizer):
            optimizer.check_model(self, where=where)
        self.loss = loss_obj
        opt = self._resolve_optimizer(optimizer)
        with self._lock:
            a = self.forward(X, training=True)
            value, delta, top = self.output_delta(loss_obj, a, Y, w, prepared=True)
            self._backward_from(top, delta)
            opt.step(self)
        return value

    # -- parameters --------------------------------------------------------------------------
    def param_grad_pairs(self) -> list[tuple[str, Array, Array]]:
        """[(key, parameter, gradient), …]: the arrays an optimizer updates, built once and reused.

        Layers keep the same arrays between steps (updates and gradients are written in place),
        so the list is rebuilt only when the layers change."""
        layers = tuple(self.layers)
        if self._pairs_for is not layers and self._pairs_for != layers:
            self._flat = self._flatten()
            grads = self.gradients()
            self._pairs = [(k, p, grads[k]) for k, p in self.parameters().items()]
            self._first_dense_at = next(i for i, layer in enumerate(layers) if isinstance(layer, Dense))
            # which layers may write over their input (forward) or their delta (backward): those that
            # can, where the neighbour the array comes from made it new for them (Layer.overwrites)
            self._overwrite_input = [layer.overwrites and i > 0 and layers[i - 1].fresh_output
                                     for i, layer in enumerate(layers)]
            self._overwrite_delta = [layer.overwrites and i + 1 < len(layers) and layers[i + 1].fresh_output
                                     for i, layer in enumerate(layers)]
            # a plain Dense right below a plain ReLU leaves its bias to the ReLU (E1's + b fused with E2), and
            # the ReLU sums its δ into the Dense layer's db on the way back (E3 fused with E5)
            self._defer_bias = [_plain(layer, Dense) and i + 1 < len(layers) and _plain(layers[i + 1], ReLU)
                                and self._overwrite_input[i + 1] for i, layer in enumerate(layers)]
            self._plan = None  # the inference path follows the layers
            self._pairs_for = layers
        return self._pairs

    def _flatten(self) -> tuple[Array, Array, dict[str, tuple[int, int, tuple[int, ...]]]] | None:
        """Put every parameter, and every gradient, into one contiguous vector (layers keep views).

        An optimizer can then update all parameters with a handful of whole-vector operations
        instead of a handful per parameter: the arithmetic per element is unchanged."""
        params = self.parameters()
        if any(p.dtype != self.dtype for p in params.values()):
            return None
        total = sum(p.size for p in params.values())
        flat_w, flat_g = zeros_aligned(total, self.dtype), zeros_aligned(total, self.dtype)
        slices: dict[str, tuple[int, int, tuple[int, ...]]] = {}
        offset = 0
        for i, layer in enumerate(self.layers):
            views_w, views_g = {}, {}
            for name, p in layer.params().items():
                lo, hi = offset, offset + p.size
                views_w[name], views_g[name] = flat_w[lo:hi].reshape(p.shape), flat_g[lo:hi].reshape(p.shape)
                slices[f"{i}.{name}"] = (lo, hi, p.shape)
                offset = hi
            if views_w and not layer.bind_storage(views_w, views_g):
                return None
        return flat_w, flat_g, slices

    def flat_parameters(self) -> tuple[Array, Array, dict[str, tuple[int, int, tuple[int, ...]]]] | None:
        """(all parameters as one vector, all gradients as one vector, {key: (start, stop, shape)}),
        or None when some layer keeps its own storage. The layers' arrays are views into these."""
        self.param_grad_pairs()
        return self._flat

    def __getstate__(self) -> dict[str, Any]:
        # copies and pickles rebuild the flat storage: views do not survive being copied
        state = self.__dict__.copy()
        for cached in ("_pairs", "_pairs_for", "_flat", "_lock", "_plan"):
            state.pop(cached, None)
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._pairs, self._pairs_for, self._flat, self._plan = [], None, None, None
        self._lock = threading.RLock()
        for layer in self.layers:  # the copy's layers (and optimizer) belong to the copy
            layer._owner = weakref.ref(self)
        if getattr(self, "optimizer", None) is not None:
            self.optimizer._model = weakref.ref(self)
        self.param_grad_pairs()

    def parameters(self) -> dict[str, Array]:
        """Every trainable array by key "<layer index>.<name>" ("0.W", "0.b", "2.W", …)."""
        return {f"{i}.{name}": p for i, layer in enumerate(self.layers) for name, p in layer.params().items()}

    def gradients(self) -> dict[str, Array]:
        """∂L/∂(each parameter) from the last backward, with the keys of ``parameters()``."""
        return {f"{i}.{name}": g for i, layer in enumerate(self.layers) for name, g in layer.grads().items()}

    def get_weights(self) -> dict[str, Array]:
        """A copy of every parameter (``set_weights`` puts it back)."""
        return {k: v.copy() for k, v in self.parameters().items()}

    def set_weights(self, weights: Mapping[str, Array]) -> None:
        """Copy arrays into the parameters in place; keys and shapes must match ``parameters()``."""
        params = self.parameters()
        missing = set(params) - set(weights)
        extra = set(weights) - set(params)
        if missing or extra:
            raise ValueError(f"set_weights: keys differ from the model's; missing {sorted(missing)}, "
                             f"unexpected {sorted(extra)}.")
        for key, p in params.items():
            w = np.asarray(weights[key])
            if w.shape != p.shape:
                raise ValueError(f"set_weights: shape mismatch for {key!r}: the model has {p.shape}, got {w.shape}.")
            p[...] = w

    @property
    def n_params(self) -> int:
        """Total number of trainable scalars."""
        return int(sum(p.size for p in self.parameters().values()))

    def copy(self) -> Sequential:
        """A deep copy (weights, optimizer-free)."""
        return copy.deepcopy(self)

    def astype(self, dtype: DType) -> Sequential:
        """A copy of the network in another dtype (e.g. float64 for gradient checks)."""
        clone = self.copy()
        clone.dtype = as_dtype(dtype)
        for layer in clone.layers:
            layer.astype(clone.dtype)
        clone._pairs_for = None
        clone.param_grad_pairs()
        return clone

    # -- inference and evaluation ------------------------------------------------------------
    def predict(self, X: Any, *, batch_size: int | None = None, preprocess: bool = True) -> Array:
        """Network outputs a(L) for the rows of X (dropout off). Large inputs can go in batches; a
        memory-mapped or Dask array streams batch by batch (docs/scale.md).

        A model with a ``preprocessor`` takes raw columns (a DataFrame, a dict of columns, a
        structured array, or a numeric matrix of its raw columns) and encodes them first;
        ``preprocess=False`` feeds already encoded rows to the network.

        The lean inference path: a C-ordered array of the model's dtype is checked in O(1) plus one
        finiteness scan and used as is (no copy); Dense layers write into buffers kept per batch size,
        the bias and a following ReLU are applied in place, and nothing is cached for a backward pass.
        The results are bitwise those of ``forward(X, training=False)``."""
        if preprocess and self.preprocessor is not None:
            X = self.preprocessor.transform(X)
        if type(X) is not np.ndarray and _streamed(X):  # a plain ndarray is never streamed (a memmap is a subclass)
            from ..train.stream import predict_batches, stream

            with self._lock:
                return predict_batches(self, stream(self, None, X, None, where="predict", batch_size=batch_size))
        X, scanned = self._input(X, "predict")
        with self._lock:  # another thread's fit step finishes first: it may be changing the weights
            infer = self._inference()
            refuse = None  # what to do with unchecked rows whose first product is not finite (nn.inference)
            if not scanned:
                refuse = partial(check_X, dtype=self.dtype, n_features=self.n_inputs, where="predict")
                if not infer.scans_first_product(len(X)):  # scan X itself: finite x·x ⇒ every value finite
                    v = X.reshape(-1)
                    X, refuse = (X if math.isfinite(np.dot(v, v)) else refuse(X)), None
            if batch_size is None or batch_size >= len(X):
                return infer(X, refuse)
            return np.concatenate([infer(X[s:s + batch_size], refuse) for s in range(0, len(X), batch_size)])

    def _input(self, X: Any, where: str) -> tuple[Array, bool]:
        """(X, whether its values were checked finite): X itself, not yet scanned, when it is a C-ordered
        (n, n_inputs) array of the model's dtype (O(1) checks); otherwise ``check_X``'s conversion (values
        checked) or error. ``predict`` then scans X, or the first layer's product when that is smaller."""
        if (type(X) is np.ndarray and X.dtype == self.dtype and X.ndim == 2 and X.shape[1] == self.n_inputs
                and X.shape[0] and X.flags.c_contiguous):
            return X, False
        return check_X(X, dtype=self.dtype, n_features=self.n_inputs, where=where), True

    def _inference(self) -> Inference:
        """The lean inference path (``nn.inference``), rebuilt when the layers change."""
        self.param_grad_pairs()  # drops the inference path when the layers changed
        if self._plan is None:
            self._plan = Inference(self.layers, PREDICT_CACHE_BYTES)
        return self._plan

    def _infer(self, X: Array) -> Array:
        """a(L) for the rows of X (checked) by the lean inference path, bitwise ``forward``'s."""
        return self._inference()(X)

    def predict_classes(self, X: Any, *, preprocess: bool = True) -> Array:
        """Class indices: argmax of the outputs, or output ≥ 0.5 for a single output unit."""
        a = self.predict(X, preprocess=preprocess)
        return a.argmax(axis=1) if a.shape[1] > 1 else (a[:, 0] >= 0.5).astype(np.intp)

    def predict_labels(self, X: Any) -> Array:
        """The predicted class names (``classes``, from text labels given to ``fit``), or the indices."""
        idx = self.predict_classes(X)
        return idx if self.classes is None else np.asarray(self.classes, dtype=object)[idx]

    def evaluate(self, X: Any, y: Any, *, loss: str | losses_mod.Loss | None = None,
                 metrics: Sequence[Any] = (), preprocess: bool = True) -> dict[str, float]:
        """{"loss": L, <metric>: value, …} on (X, y) with dropout off (raw X and class names as in ``predict``).
        A memory-mapped or Dask array, or chunks of (X, y) pairs with y=None, streams batch by batch."""
        loss_obj = self._resolve_loss(loss)
        if preprocess and self.preprocessor is not None:
            X = self.preprocessor.transform(X)
        if self.classes is not None:
            from .preprocess import encode_labels, is_label_array

            if is_label_array(y):
                y = encode_labels(y, self.classes, where="evaluate")[0]
        if _streamed(X, y):
            from ..train.stream import evaluate_batches, stream

            with self._lock:
                return evaluate_batches(self, stream(self, loss_obj, X, y, where="evaluate").in_order(), loss_obj,
                                        metrics)
        X = check_X(X, dtype=self.dtype, n_features=self.n_inputs, where="evaluate")
        check_targets(self, loss_obj, y, len(X), where="evaluate")  # a clear error, not one from inside a loss
        with self._lock:
            a = self.forward(X, training=False)
            value = self.output_delta(loss_obj, a, y)[0] if loss_obj.fuses_with else loss_obj.value(a, y)
        out = {"loss": float(value)}
        for spec in metrics:
            name, fn = metrics_mod.get(spec)
            out[name] = fn(a, y)
        return out

    def fit(self, X: Any, y: Any, *, loss: str | losses_mod.Loss | None = None,
            optimizer: str | optimizers_mod.Optimizer = "adam", epochs: int = 1, batch_size: int | None = None,
            shuffle: bool = True, validation_data: tuple[Any, Any] | None = None, validation_split: float = 0.0,
            metrics: Sequence[Any] = (), callbacks: Sequence[Callback] = (), verbose: int = 0,
            sample_weight: Any = None, class_weight: dict[Any, float] | str | None = None,
            lr_schedule: Schedule | None = None, tol: float | None = None, n_iter_no_change: int = 10,
            augment: Callable[[Array, np.random.Generator], Array] | None = None, seed: Seed = None,
            checkpoint: str | os.PathLike[str] | None = None, checkpoint_every: int = 1,
            resume: str | os.PathLike[str] | None = None, on_divergence: str = "raise",
            preprocess: Any = None) -> History:
        """Train with mini-batch gradient descent and return the History: ``deltaprop.fit(self, X, y, ...)``,
        whose documentation describes each argument (docs/api.md, "Training")."""
        from ..train.loop import fit

        return fit(self, X, y, loss=loss, optimizer=optimizer, epochs=epochs, batch_size=batch_size, shuffle=shuffle,
                   validation_data=validation_data, validation_split=validation_split, metrics=metrics,
                   callbacks=callbacks, verbose=verbose, sample_weight=sample_weight, class_weight=class_weight,
                   lr_schedule=lr_schedule, tol=tol, n_iter_no_change=n_iter_no_change, augment=augment, seed=seed,
                   checkpoint=checkpoint, checkpoint_every=checkpoint_every, resume=resume,
                   on_divergence=on_divergence, preprocess=preprocess)

    def save(self, path: Any, *, metadata: Any = None) -> None:
        """Write the model to a safetensors file (no pickle); ``deltaprop.load(path)`` reads it back."""
        from ..io.model_file import save

        save(self, path, metadata=metadata)

    def _resolve_loss(self, loss: str | losses_mod.Loss | None) -> losses_mod.Loss:
        if loss is None:
            if self.loss is None:
                self.loss = losses_mod.get(default_loss(self))
            return self.loss
        self.loss = losses_mod.get(loss)
        return self.loss

    def _resolve_optimizer(self, optimizer: str | optimizers_mod.Optimizer | None) -> optimizers_mod.Optimizer:
        if optimizer is None:
            if self.optimizer is None:
                raise ValueError("train_on_batch: no optimizer yet; pass optimizer=deltaprop.SGD(lr=0.1) or 'adam'.")
            return self.optimizer
        self.optimizer = optimizers_mod.get(optimizer)
        return self.optimizer

    # -- display -----------------------------------------------------------------------------
    def summary(self) -> str:
        """A table of layers, output shapes and parameter counts."""
        rows = [("#", "layer", "output shape", "params")]
        width = self.n_inputs
        for i, layer in enumerate(self.layers):
            width = layer.output_size(width)
            n = sum(p.size for p in layer.params().values())
            rows.append((str(i), repr(layer), f"(n, {width})", f"{n:,}"))
        w = [max(len(r[c]) for r in rows) for c in range(4)]
        line = "-" * (sum(w) + 6)
        body = [f"{r[0]:>{w[0]}}  {r[1]:<{w[1]}}  {r[2]:<{w[2]}}  {r[3]:>{w[3]}}" for r in rows]
        return "\n".join([body[0], line, *body[1:], line,
                          f"input: (n, {self.n_inputs})   parameters: {self.n_params:,}   dtype: {self.dtype}"])

    def __repr__(self) -> str:
        inner = ",\n".join(f"    {layer!r}" for layer in self.layers)
        return f"Sequential([\n{inner},\n], dtype={self.dtype.name})"

    def _summary_rows(self) -> list[tuple[str, str, str, str]]:
        rows, width = [], self.n_inputs
        for i, layer in enumerate(self.layers):
            width = layer.output_size(width)
            rows.append((str(i), repr(layer), f"(n, {width})", f"{sum(p.size for p in layer.params().values()):,}"))
        return rows

    def _repr_markdown_(self) -> str:
        """Jupyter display: the summary as a Markdown table."""
        body = "\n".join(f"| {i} | `{name}` | {shape} | {n} |" for i, name, shape, n in self._summary_rows())
        return (f"| # | layer | output shape | params |\n|---|---|---|---:|\n{body}\n\n"
                f"input: (n, {self.n_inputs}) · parameters: {self.n_params:,} · dtype: {self.dtype}\n")

    def _repr_html_(self) -> str:
        """Jupyter display: the summary as an HTML table."""
        import html

        cells = "".join(f"<tr><td>{i}</td><td><code>{html.escape(name)}</code></td><td>{shape}</td>"
                        f"<td style='text-align:right'>{n}</td></tr>" for i, name, shape, n in self._summary_rows())
        return (f"<table><thead><tr><th>#</th><th>layer</th><th>output shape</th><th>params</th></tr></thead>"
                f"<tbody>{cells}</tbody></table><p>input: (n, {self.n_inputs}) · parameters: {self.n_params:,}"
                f" · dtype: {self.dtype}</p>")


def _streamed(X: Any, y: Any = 0) -> bool:
    from ..train.batches import is_streamed

    return is_streamed(X, y)


#: the passes of the layers whose bias and ReLU the model may fuse (a subclass, or a wrapper put in their
#: place, may compute something else, and keeps its own)
_FUSABLE = {Dense: (Dense.forward, Dense.backward), ReLU: (ReLU.forward, ReLU.backward)}


def _plain(layer: Layer, cls: type[Layer]) -> bool:
    """Whether ``layer`` is a ``cls`` whose forward and backward are deltaprop's own."""
    return isinstance(layer, cls) and (type(layer).forward, type(layer).backward) == _FUSABLE[cls]


def _claim(model: Sequential, layers: Sequence[Layer]) -> None:
    """Refuse a layer used twice in ``layers`` or already part of another live Sequential."""
    seen: set[int] = set()
    for i, layer in enumerate(layers):
        if id(layer) in seen:
            raise ValueError(f"Sequential: layers[{i}] ({layer!r}) appears twice in the network; a layer caches its "
                             "input for backward, so each position needs its own layer object (call Dense(...) "
                             "again).")
        seen.add(id(layer))
        ref = getattr(layer, "_owner", None)
        owner = ref() if ref is not None else None
        if owner is not None and owner is not model:
            raise ValueError(f"Sequential: layers[{i}] ({layer!r}) already belongs to another Sequential; a layer "
                             "keeps the caches and weights of one network, so sharing it would train a stale copy. "
                             "Build a new layer, or take other_model.copy().layers for an independent copy.")


def default_loss(model: Sequential) -> str:
    """The loss that goes with the output activation: softmax → cross-entropy, sigmoid → binary
    cross-entropy, anything else → MSE."""
    last = model.layers[-1]
    name = last.name if isinstance(last, Activation) else "identity"
    return {"softmax": "categorical_crossentropy", "sigmoid": "binary_crossentropy"}.get(name, "mse")


def mlp(sizes: Sequence[int], *, activation: str = "tanh",
        output_activation: str | None = "identity", init: str | None = None, dropout: float = 0.0,
        seed: Seed = None, dtype: DType = None) -> Sequential:
    """A multilayer perceptron: ``mlp([2, 4, 1])`` is Dense(2, 4) → tanh → Dense(4, 1) → identity.

    ``activation`` is used after every hidden layer and ``output_activation`` after the last.
    ``init`` defaults to He uniform for ReLU-family hidden layers and Glorot uniform otherwise.
    ``dropout`` > 0 inserts Dropout after each hidden activation. ``seed`` fixes every random draw."""
    sizes = list(sizes)
    if len(sizes) < 2 or any(isinstance(s, bool) or not isinstance(s, (int, np.integer)) or s < 1 for s in sizes):
        raise ValueError(f"mlp: sizes must list at least two positive ints (inputs, ..., outputs), got {sizes!r}.")
    n_dense = len(sizes) - 1
    from .layers import MAX_LAYER_BYTES

    need = sum(int(a) * int(b) for a, b in zip(sizes[:-1], sizes[1:])) * as_dtype(dtype).itemsize
    if need > MAX_LAYER_BYTES:  # estimated before any layer is allocated
        raise ValueError(f"mlp: the weights of {sizes} would need {need / 1e9:,.1f} GB, more than the limit of "
                         f"{MAX_LAYER_BYTES / 1e9:.1f} GB (deltaprop.nn.layers.MAX_LAYER_BYTES); use fewer units.")
    rngs = spawn_seeds(seed, 2 * n_dense + 1)
    hidden_act = activation
    if init is None:
        init = "he_uniform" if str(hidden_act).lower().replace("_", "") in ("relu", "leakyrelu", "elu", "gelu") \
            else "glorot_uniform"
    layers: list[Layer] = []
    for k, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        last = k == n_dense - 1
        layers.append(Dense(n_in, n_out, init="glorot_uniform" if last else init, seed=rngs[k], dtype=dtype))
        spec = output_activation if last else hidden_act
        layers.append(make_activation(copy.deepcopy(spec) if isinstance(spec, Activation) else spec))
        if dropout and not last:
            layers.append(Dropout(dropout, seed=rngs[n_dense + k]))
    return Sequential(layers, dtype=dtype, seed=rngs[-1])
