"""``explain``: one complete training step, printed in the seeds' notation with the engine's own numbers.

The step is the seeds' loop (docs/backprop.md): forward z⁽ˡ⁾ = W⁽ˡ⁾ a⁽ˡ⁻¹⁾ + b⁽ˡ⁾, a⁽ˡ⁾ = σ(z⁽ˡ⁾)
(E1, E2); the loss; δ⁽ᴸ⁾ = ∂L/∂a⁽ᴸ⁾ ⊙ σ'(z⁽ᴸ⁾) (E3, or the fused a − y of E8); δ⁽ˡ⁾ =
(W⁽ˡ⁺¹⁾ᵀ δ⁽ˡ⁺¹⁾) ⊙ σ'(z⁽ˡ⁾) (E6, E3); ∂L/∂W⁽ˡ⁾ = δ⁽ˡ⁾ a⁽ˡ⁻¹⁾ᵀ and ∂L/∂b⁽ˡ⁾ = δ⁽ˡ⁾ (E4, E5); then
W ← W − η ∂L/∂W (E9).

Nothing here recomputes those equations. ``explain`` runs the real ``Sequential.forward``,
``Sequential.output_delta``, ``Sequential._backward_from`` and ``Optimizer.step`` and records what
each layer's ``forward`` and ``backward`` received and returned, by shadowing those two methods on
the layer *instances* for the duration of the step (the classes and the hot path are untouched).
σ'(z) is read from the activation layer itself: its ``backward`` applied to ones.

Vectors are shown as columns, as in the seeds; with a batch, each column is one sample. The
engine stores samples as rows, so what is shown is the transpose of its arrays (JSON keeps the
engine's layout).
"""

from __future__ import annotations

import html
import json
import textwrap
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..core.types import Array
from ..nn import losses as losses_mod
from ..nn.layers import Activation, Dense, Dropout, Layer
from ..nn.model import Sequential, default_loss
from ..optim import optimizers as optimizers_mod

FORMATS = ("text", "markdown", "json")


# ---------------------------------------------------------------------------------------------
# What one step produced
# ---------------------------------------------------------------------------------------------
@dataclass
class LayerStep:
    """Everything one Dense layer l (and the activation after it) saw during the step.

    Arrays are copies in the engine's layout (samples are rows; ``W`` is (n_out, n_in)).
    ``da`` is ∂L/∂a⁽ˡ⁾ (None at the top when the loss is fused with the output activation);
    ``sigma_prime`` is σ'(z⁽ˡ⁾) (None for softmax, whose derivative is a Jacobian, E7)."""

    l: int
    index: int
    activation: str
    a_prev: Array
    W: Array
    b: Array
    z: Array
    a: Array
    da: Array | None = None
    sigma_prime: Array | None = None
    delta: Array | None = None
    dW: Array | None = None  # noqa: N815 - the equations' name
    db: Array | None = None
    W_new: Array | None = None
    b_new: Array | None = None


@dataclass
class Explanation:
    """One recorded training step; render it with ``to_text()``, ``to_markdown()``, ``to_json()``.

    In Jupyter it displays itself (Markdown with LaTeX)."""

    x: Array
    y: Array
    loss: losses_mod.Loss
    loss_value: float
    optimizer: optimizers_mod.Optimizer
    fused: bool
    layers: list[LayerStep] = field(default_factory=list)
    precision: int = 4
    neuron_shown: tuple[int, int] | None = None  # (l, j) written out term by term; None: the first hidden neuron

    @property
    def _neuron(self) -> tuple[int, int]:
        return self.neuron_shown if self.neuron_shown is not None else (1, 0)

    @property
    def n(self) -> int:
        """Number of samples in the step."""
        return len(self.x)

    @property
    def output(self) -> Array:
        """The network output a⁽ᴸ⁾ before the update."""
        return self.layers[-1].a

    def to_dict(self) -> dict[str, Any]:
        """Plain data (lists of floats) in the engine's layout: samples are rows, W is (n_out, n_in)."""
        def arr(v: Array | None) -> Any:
            return None if v is None else np.asarray(v).tolist()

        return {
            "layout": "samples are rows; W is (n_out, n_in); W[j][i] is the weight from neuron i below to neuron j",
            "x": arr(self.x), "y": arr(self.y),
            "loss": {"name": self.loss.name, "reduction": self.loss.reduction, "value": float(self.loss_value)},
            "fused_output_delta": self.fused,
            "optimizer": self.optimizer.get_config(),
            "lr": float(self.optimizer.lr),
            "output": arr(self.output),
            "layers": [{
                "l": s.l, "index": s.index, "activation": s.activation,
                "a_prev": arr(s.a_prev), "W": arr(s.W), "b": arr(s.b), "z": arr(s.z), "a": arr(s.a),
                "dL_da": arr(s.da), "sigma_prime": arr(s.sigma_prime), "delta": arr(s.delta),
                "dW": arr(s.dW), "db": arr(s.db), "W_new": arr(s.W_new), "b_new": arr(s.b_new),
            } for s in self.layers],
        }

    def neuron(self, l: int, j: int, sample: int = 0) -> dict[str, Any]:
        """The step as seen by one neuron: neuron ``j`` (0-based) of layer ``l`` (0 = the inputs, 1..L the
        Dense layers), for example ``sample`` of the batch. Every number is the engine's own, read from
        this explanation's arrays:

        - ``terms``: the sum z_j = Σ_i w_ji a_i + b_j term by term (E1), then ``z``, ``a`` = σ(z) (E2);
        - ``dL_da``: ∂L/∂a_j, from the loss at the output or Σ_k w_kj δ_k from the layer above
          (``back`` lists those terms, E6); ``sigma_prime``: σ'(z_j); ``delta``: δ_j (E3, or a − y fused, E8);
        - ``dW``/``db``: ∂L/∂w_ji = δ_j a_i and ∂L/∂b_j = δ_j summed over the batch (E4, E5);
        - ``W_new``/``b_new``: after the update (E9 for plain gradient descent)."""
        L = len(self.layers)
        if isinstance(l, bool) or not isinstance(l, (int, np.integer)) or not 0 <= l <= L:
            raise ValueError(f"explain: layer l must be 0 (the inputs) to {L}, got {l!r}.")
        width = self.x.shape[1] if l == 0 else self.layers[l - 1].W.shape[0]
        if isinstance(j, bool) or not isinstance(j, (int, np.integer)) or not 0 <= j < width:
            raise ValueError(f"explain: neuron j of layer {l} must be 0 to {width - 1}, got {j!r}.")
        if isinstance(sample, bool) or not isinstance(sample, (int, np.integer)) or not 0 <= sample < self.n:
            raise ValueError(f"explain: sample must be 0 to {self.n - 1}, got {sample!r}.")
        l, j, k = int(l), int(j), int(sample)
        out: dict[str, Any] = {"l": l, "j": j, "sample": k, "n": self.n, "L": L}
        if l == 0:
            out.update(kind="input", a=float(self.x[k, j]))
            return out
        s = self.layers[l - 1]

        def val(v: Array | None, *index: int) -> float | None:
            return None if v is None else float(np.asarray(v)[index])

        plain, update = _describe_update(self.optimizer)
        out.update(
            kind="output" if l == L else "hidden", activation=s.activation,
            terms=[{"i": i, "w": float(s.W[j, i]), "a": float(s.a_prev[k, i])} for i in range(s.W.shape[1])],
            b=float(s.b[j]), z=float(s.z[k, j]), a=float(s.a[k, j]),
            dL_da=val(s.da, k, j), sigma_prime=val(s.sigma_prime, k, j), delta=float(s.delta[k, j]),  # type: ignore
            fused=bool(l == L and self.fused), y=float(self.y[k, j]) if l == L else None,
            dW=[float(v) for v in s.dW[j]], db=float(s.db[j]),  # type: ignore[index]
            W_new=[float(v) for v in s.W_new[j]], b_new=float(s.b_new[j]),  # type: ignore[index]
            lr=float(self.optimizer.lr), plain_sgd=plain, update=update,
            loss={"name": self.loss.name, "reduction": self.loss.reduction})
        if l < L:
            above = self.layers[l]
            out["back"] = [{"k": q, "w": float(above.W[q, j]), "delta": float(above.delta[k, q])}  # type: ignore
                           for q in range(above.W.shape[0])]
        return out

    def neuron_text(self, l: int, j: int, sample: int = 0, *, width: int | None = None) -> str:
        """``neuron(l, j, sample)`` written out for the terminal: the sum term by term, σ, δ, ∂L/∂w, the update."""
        return _neuron_text(self.neuron(l, j, sample), self.precision, terminal_width(width))

    def to_json(self, indent: int | None = 2) -> str:
        """``to_dict()`` as JSON (floats written with full precision, so values round-trip exactly)."""
        return json.dumps(self.to_dict(), indent=indent)

    def to_text(self, width: int | None = None) -> str:
        """A terminal view: Unicode symbols, matrices drawn with brackets, no line wider than ``width``
        (default: the terminal's, ``COLUMNS``); layers of more than 8 neurons as one row per neuron."""
        return _render(self, _TextRenderer(self.precision, width), self._neuron)

    def to_markdown(self) -> str:
        """Markdown with LaTeX ($$ … $$ blocks, bmatrix): renders on GitHub and in Jupyter."""
        return _render(self, _MarkdownRenderer(self.precision), self._neuron)

    def to_html(self) -> str:
        """HTML with the same LaTeX blocks (Jupyter typesets them with MathJax)."""
        return _render(self, _HtmlRenderer(self.precision), self._neuron)

    def format(self, fmt: str) -> str:
        """The explanation as "text", "markdown" or "json"."""
        fmt = _check_format(fmt)
        return {"text": self.to_text, "markdown": self.to_markdown, "json": self.to_json}[fmt]()

    def __str__(self) -> str:
        return self.to_text()

    def _repr_markdown_(self) -> str:
        return self.to_markdown()

    def _repr_html_(self) -> str:
        return self.to_html()


# ---------------------------------------------------------------------------------------------
# Running the engine's step and watching it
# ---------------------------------------------------------------------------------------------
#: the largest network ``explain`` works through (its step keeps about 8 copies of the weights)
MAX_EXPLAIN_PARAMS = 10_000_000


def explain(model: Sequential | None = None, x: Any = None, y: Any = None, *,
            loss: str | losses_mod.Loss | None = None, lr: float = 0.1,
            optimizer: str | optimizers_mod.Optimizer | None = None, batch: bool = False,
            inplace: bool = False, precision: int = 4, fmt: str | None = None) -> Explanation | str:
    """One training step (forward, loss, backward, update) of ``model`` on ``x``, recorded.

    - ``model=None`` is the seed's XOR network (``deltaprop.seed.seed_network()``) with the seed's
      loss ½Σ(a − y)² (``HalfSSE(reduction="sum")``); ``x=None`` is the first XOR example, or all
      four with ``batch=True``.
    - ``loss`` defaults to the seed's for the seed network and to the loss ``fit`` would pick
      otherwise (cross-entropy after softmax/sigmoid, MSE after a linear output).
    - ``optimizer`` defaults to plain gradient descent ``SGD(lr)``, the seeds' update.
    - The step runs on a copy unless ``inplace=True``. Dropout is off (as in ``gradcheck``).
    - ``fmt=None`` returns the ``Explanation``; "text", "markdown" or "json" returns that string.
    """
    from ..train.loop import prepare_targets
    from .seed import XOR_X, XOR_Y, seed_network

    if fmt is not None:
        fmt = _check_format(fmt)
    if isinstance(precision, bool) or not isinstance(precision, int) or not 1 <= precision <= 16:
        raise ValueError(f"explain: precision must be an int from 1 to 16 (decimals shown), got {precision!r}.")
    if model is None:
        model, inplace = seed_network(), True
        if loss is None:
            loss = losses_mod.HalfSSE(reduction="sum")
    elif not isinstance(model, Sequential):
        raise TypeError(f"explain: model must be a deltaprop.Sequential, got {type(model).__name__}.")
    elif model.n_params > MAX_EXPLAIN_PARAMS:  # estimated before the step copies every weight several times
        need = 8 * model.dtype.itemsize * model.n_params / 1e9
        raise ValueError(f"explain: the network has {model.n_params:,} parameters; explaining one step keeps several "
                         f"copies of every weight and gradient (about {need:.1f} GB here), so explain takes at most "
                         f"{MAX_EXPLAIN_PARAMS:,}. Explain a smaller network with the same layers (e.g. --layers "
                         "4,8,3); the equations are the same at every size.")
    if x is None:
        if y is not None:
            raise ValueError("explain: y was given without x; pass both, or neither for the XOR example.")
        if (model.n_inputs, model.n_outputs) != (2, 1):
            raise ValueError(f"explain: the default example is XOR (2 inputs, 1 output) but the model has "
                             f"{model.n_inputs} inputs and {model.n_outputs} outputs; pass x and y.")
        x, y = (XOR_X, XOR_Y) if batch else (XOR_X[:1], XOR_Y[:1])
    elif y is None:
        raise ValueError("explain: x was given without y; pass the target(s) too.")
    net = model if inplace else model.copy()
    loss_obj = losses_mod.get(loss if loss is not None else default_loss(net))
    opt = optimizers_mod.get(optimizer) if optimizer is not None else optimizers_mod.SGD(lr=lr)

    X = np.asarray(x, dtype=net.dtype)
    if X.ndim == 1:
        X = X.reshape(1, -1)
    if X.ndim != 2 or X.shape[1] != net.n_inputs:
        raise ValueError(f"explain: x must have {net.n_inputs} value(s) per example (shape (n, {net.n_inputs})), "
                         f"got shape {np.shape(x)}.")
    y_arr = np.asarray(y)
    if y_arr.ndim == 0 or (y_arr.ndim == 1 and len(X) == 1 and net.n_outputs > 1 and y_arr.size == net.n_outputs):
        y_arr = y_arr.reshape(1, -1) if y_arr.ndim else y_arr.reshape(1)
    Y = prepare_targets(net, loss_obj, y_arr, len(X), where="explain")

    steps = [_new_step(l, i, net.layers) for l, i in enumerate(_dense_indices(net), start=1)]
    with _observe(net) as seen:
        a_out = net.forward(X, training=False)
        value, delta_top, top = net.output_delta(loss_obj, a_out, Y)
        net._backward_from(top, delta_top)
    fused = top < len(net.layers)
    for s in steps:
        _fill_from_calls(s, net.layers, seen, top)
    opt.step(net)
    for s in steps:
        dense = net.layers[s.index]
        assert isinstance(dense, Dense)
        s.W_new, s.b_new = dense.W.copy(), dense.b.copy()
    result = Explanation(x=X.copy(), y=Y.copy(), loss=loss_obj, loss_value=float(value), optimizer=opt,
                         fused=fused, layers=steps, precision=precision)
    return result if fmt is None else result.format(fmt)


def _check_format(fmt: str) -> str:
    if fmt not in FORMATS:
        raise ValueError(f"explain: unknown format {fmt!r}; choose one of: {', '.join(FORMATS)}.")
    return fmt


def _dense_indices(model: Sequential) -> list[int]:
    return [i for i, layer in enumerate(model.layers) if isinstance(layer, Dense)]


def _post_layers(layers: Sequence[Layer], index: int) -> list[int]:
    """Indices of the layers after Dense ``index`` up to the next Dense (its activation, dropout)."""
    out = []
    for j in range(index + 1, len(layers)):
        if isinstance(layers[j], Dense):
            break
        out.append(j)
    return out


def _new_step(l: int, index: int, layers: Sequence[Layer]) -> LayerStep:
    names = [layers[j].name for j in _post_layers(layers, index) if isinstance(layers[j], Activation)]
    dense = layers[index]
    assert isinstance(dense, Dense)
    empty = np.empty((0,))
    return LayerStep(l=l, index=index, activation="∘".join(reversed(names)) or "identity",
                     a_prev=empty, W=dense.W.copy(), b=dense.b.copy(), z=empty, a=empty)


@dataclass
class _Calls:
    forward: dict[int, tuple[Array, Array]] = field(default_factory=dict)
    backward: dict[int, tuple[Array, Array | None]] = field(default_factory=dict)
    originals: dict[int, tuple[Callable[..., Any], Callable[..., Any]]] = field(default_factory=dict)


@contextmanager
def _observe(model: Sequential) -> Iterator[_Calls]:
    """Record (input, output) of every layer's ``forward`` and ``backward`` while the engine runs."""
    seen = _Calls()

    def watch(i: int, layer: Layer) -> None:
        fwd, bwd = layer.forward, layer.backward
        seen.originals[i] = (fwd, bwd)

        def forward(a_prev: Array, *args: Any, **kwargs: Any) -> Array:
            before = np.array(a_prev, copy=True)  # copied first: a layer may write its output over its input
            out = fwd(a_prev, *args, **kwargs)
            seen.forward[i] = (before, np.array(out, copy=True))
            return out

        def backward(delta: Array, *args: Any, **kwargs: Any) -> Array | None:
            before = np.array(delta, copy=True)
            out = bwd(delta, *args, **kwargs)
            seen.backward[i] = (before, None if out is None else np.array(out, copy=True))
            return out

        layer.forward = forward  # type: ignore[method-assign]
        layer.backward = backward  # type: ignore[method-assign]

    for i, layer in enumerate(model.layers):
        watch(i, layer)
    try:
        yield seen
    finally:
        for layer in model.layers:
            vars(layer).pop("forward", None)
            vars(layer).pop("backward", None)


def _fill_from_calls(s: LayerStep, layers: Sequence[Layer], seen: _Calls, top: int) -> None:
    dense = layers[s.index]
    assert isinstance(dense, Dense)
    s.a_prev, s.z = seen.forward[s.index]
    post = _post_layers(layers, s.index)
    s.a = seen.forward[post[-1]][1] if post else s.z
    s.delta = seen.backward[s.index][0]
    s.dW, s.db = dense.dW.copy(), dense.db.copy()
    above = [j for j in post if j < top]  # post layers the backward pass went through
    if above:
        s.da = seen.backward[above[-1]][0]
    elif not post:
        s.da = s.delta  # no activation: σ = identity, δ = ∂L/∂a
    if len(above) == len(post):
        s.sigma_prime = _sigma_prime(layers, seen, post, s.z)


def _sigma_prime(layers: Sequence[Layer], seen: _Calls, post: list[int], z: Array) -> Array | None:
    """σ'(z) from the activation layers' own backward applied to ones (None for softmax's Jacobian)."""
    g = np.ones_like(z)
    for j in reversed(post):
        layer = layers[j]
        if isinstance(layer, Dropout):
            continue  # off during explain
        if getattr(layer, "name", "") == "softmax":
            return None
        g = seen.originals[j][1](g)
    return g


# ---------------------------------------------------------------------------------------------
# Rendering: the same document as terminal text, Markdown + LaTeX, or HTML + LaTeX
# ---------------------------------------------------------------------------------------------
# An equation is a list of terms: a symbol (latex, text) or an array shown as a matrix.
Term = tuple[str, str] | Array

_SUP = str.maketrans("0123456789()+-L", "⁰¹²³⁴⁵⁶⁷⁸⁹⁽⁾⁺⁻ᴸ")
_ACT_SYMBOL = {  # activation name → (LaTeX, text) for σ
    "sigmoid": (r"\sigma", "σ"), "tanh": (r"\tanh", "tanh"), "relu": (r"\operatorname{ReLU}", "ReLU"),
    "leaky_relu": (r"\operatorname{LeakyReLU}", "LeakyReLU"), "elu": (r"\operatorname{ELU}", "ELU"),
    "gelu": (r"\operatorname{GELU}", "GELU"), "softplus": (r"\operatorname{softplus}", "softplus"),
    "softmax": (r"\operatorname{softmax}", "softmax"), "identity": (r"\operatorname{id}", "id"),
    "exp": (r"\exp", "exp"),
}
_ACT_DERIVATIVE = {
    "sigmoid": "σ'(z) = σ(z)(1 − σ(z)) = a(1 − a)", "tanh": "tanh'(z) = 1 − tanh²(z) = 1 − a²",
    "relu": "ReLU'(z) = 1 where z > 0, else 0", "leaky_relu": "LeakyReLU'(z) = 1 where z > 0, else α",
    "identity": "id'(z) = 1", "softplus": "softplus'(z) = sigmoid(z)", "elu": "ELU'(z) = 1 where z > 0, else a + α",
    "gelu": "GELU'(z) = Φ(z) + z φ(z)", "exp": "exp'(z) = e^z = a",
}
_LOSS_FORMULA = {  # loss name → (LaTeX, text) of the per-sample loss, summed over outputs
    "half_sse": (r"\tfrac12 \sum (a^{(L)} - y)^2", "½ Σ (a⁽ᴸ⁾ − y)²"),
    "mse": (r"\sum (a^{(L)} - y)^2", "Σ (a⁽ᴸ⁾ − y)²"),
    "mae": (r"\sum |a^{(L)} - y|", "Σ |a⁽ᴸ⁾ − y|"),
    "huber": (r"\sum \operatorname{huber}(a^{(L)} - y)", "Σ huber(a⁽ᴸ⁾ − y)"),
    "binary_crossentropy": (r"-\sum \left[y \log a^{(L)} + (1 - y) \log(1 - a^{(L)})\right]",
                            "−Σ [y log a⁽ᴸ⁾ + (1 − y) log(1 − a⁽ᴸ⁾)]"),
    "categorical_crossentropy": (r"-\sum y \log a^{(L)}", "−Σ y log a⁽ᴸ⁾"),
    "poisson": (r"\sum \left[y \log(y / a^{(L)}) - y + a^{(L)}\right]", "Σ [y log(y / a⁽ᴸ⁾) − y + a⁽ᴸ⁾]"),
}
_LOSS_GRAD = {  # ∂(per-sample loss)/∂a, before the reduction
    "half_sse": (r"a^{(L)} - y", "a⁽ᴸ⁾ − y"), "mse": (r"2\,(a^{(L)} - y)", "2 (a⁽ᴸ⁾ − y)"),
    "mae": (r"\operatorname{sign}(a^{(L)} - y)", "sign(a⁽ᴸ⁾ − y)"),
    "huber": (r"\operatorname{clip}(a^{(L)} - y, -\delta, \delta)", "clip(a⁽ᴸ⁾ − y, −δ, δ)"),
    "binary_crossentropy": (r"\frac{a^{(L)} - y}{a^{(L)}(1 - a^{(L)})}", "(a⁽ᴸ⁾ − y) / (a⁽ᴸ⁾(1 − a⁽ᴸ⁾))"),
    "categorical_crossentropy": (r"-\,y / a^{(L)}", "−y / a⁽ᴸ⁾"),
}


def _sup(l: int | str) -> str:
    return f"({l})".translate(_SUP)


def _sym(latex_base: str, text_base: str, l: int | str, *, transpose: bool = False) -> tuple[str, str]:
    """A layer-indexed symbol: z^{(l)} / z⁽ˡ⁾, optionally transposed."""
    t_l, t_t = (r"\top", "ᵀ") if transpose else ("", "")
    return f"{latex_base}^{{({l}){t_l}}}", f"{text_base}{_sup(l)}{t_t}"


def _grad_sym(latex_base: str, text_base: str, l: int) -> tuple[str, str]:
    num, txt = _sym(latex_base, text_base, l)
    return rf"\frac{{\partial L}}{{\partial {num}}}", f"∂L/∂{txt}"


def _fmt(v: float, precision: int) -> str:
    if v == 0:
        return "0"
    if np.isfinite(v) and 10.0 ** -precision <= abs(v) < 1e6:
        s = f"{v:.{precision}f}"
        return s.rstrip("0").rstrip(".") if float(s) == v else s
    return f"{v:.{max(precision - 1, 1)}e}"


def _elide(m: Array, precision: int, max_rows: int = 8, max_cols: int = 8) -> list[list[str | None]]:
    """Cells as strings; None marks an elided row/column (drawn as ⋮ / ⋯ / ⋱)."""
    def pick(n: int, limit: int) -> list[int | None]:
        if n <= limit:
            return list(range(n))
        head = limit - 2
        return [*range(head), None, n - 1]

    rows, cols = pick(m.shape[0], max_rows), pick(m.shape[1], max_cols)
    return [[None if r is None or c is None else _fmt(float(m[r, c]), precision) for c in cols] for r in rows]


def _as_matrix(v: Array, *, column: bool) -> Array:
    """The displayed matrix: engine rows become columns for vectors (one column per sample)."""
    v = np.asarray(v)
    if v.ndim == 1:
        return v.reshape(-1, 1) if column else v.reshape(1, -1)
    return v.T if column else v


class _Renderer:
    wide_layer = False  # True: layers wider than max_rows are shown as one row per neuron (text only)
    max_rows = 8

    def __init__(self, precision: int) -> None:
        self.precision = precision
        self.out: list[str] = []

    def legend(self, items: dict[str, str]) -> None:
        """The equation labels the text cites, defined where the reader meets them."""
        self.para("The equation labels, as docs/backprop.md numbers them: "
                  + "; ".join(f"{k}: {v}" for k, v in items.items()) + ".")

    def pre(self, text: str) -> None:
        self.out += ["```text", text.rstrip("\n"), "```", ""]

    def table(self, header: list[str], rows: list[list[str]]) -> None:
        raise NotImplementedError

    def heading(self, text: str) -> None:
        raise NotImplementedError

    def para(self, text: str) -> None:
        raise NotImplementedError

    def eq(self, *lines: list[Term]) -> None:
        raise NotImplementedError

    def result(self) -> str:
        return "\n".join(self.out).rstrip() + "\n"


def terminal_width(width: int | None = None) -> int:
    """``width``, or the terminal's (``COLUMNS`` first, as ``shutil.get_terminal_size`` reads it; 100
    when there is no terminal), never below 40."""
    if width is None:
        import shutil

        width = shutil.get_terminal_size((100, 24)).columns
    if isinstance(width, bool) or not isinstance(width, int) or width < 1:
        raise ValueError(f"explain: width must be a positive int (columns), got {width!r}.")
    return max(40, width)


class _TextRenderer(_Renderer):
    """Text that fits ``width`` columns: an equation too wide for one line is broken between its terms
    (each continuation under the first "="), and a matrix too wide shows fewer columns."""

    wide_layer = True  # layers wider than max_rows are shown as one row per neuron

    def __init__(self, precision: int, width: int | None = None) -> None:
        super().__init__(precision)
        self.width = terminal_width(width)
        self.max_rows = 8

    def heading(self, text: str) -> None:
        lines = textwrap.wrap(text, width=self.width)
        self.out += ["", *lines, "─" * max(len(s) for s in lines)]

    def para(self, text: str) -> None:
        self.out += textwrap.wrap(text, width=self.width)

    def legend(self, items: dict[str, str]) -> None:
        self.out += textwrap.wrap("Equations cited (as docs/backprop.md numbers them):", width=self.width)
        for k, v in items.items():
            self.out += textwrap.wrap(v, width=self.width, initial_indent=f"  {k:<4}", subsequent_indent=" " * 6)
        self.out.append("")

    def pre(self, text: str) -> None:
        self.out += [text.rstrip("\n"), ""]

    def table(self, header: list[str], rows: list[list[str]]) -> None:
        """Columns of numbers with a header, right-aligned; wider than the terminal: fewer columns."""
        while True:
            widths = [max(len(r[c]) for r in [header, *rows]) for c in range(len(header))]
            if sum(w + 2 for w in widths) + 2 <= self.width or len(header) <= 2:
                break
            header, rows = header[:-1], [r[:-1] for r in rows]
        for r in [header, *rows]:
            self.out.append("  " + "  ".join(c.rjust(w) for c, w in zip(r, widths)).rstrip())
        self.out.append("")

    def eq(self, *lines: list[Term]) -> None:
        indent = 2
        for k, terms in enumerate(lines):
            if k == 0:  # continuation lines start under the first "="
                first_eq = next((n for n, t in enumerate(terms) if isinstance(t, tuple) and t[1] in ("=", "←")), 0)
                indent = 2 + sum(_w(self._block(t, self.width)) + 1 for t in terms[:first_eq])
                if indent > self.width // 2:
                    indent = 6
            blocks = [self._block(t, self.width - indent - 4) for t in terms]  # room for "= " or "+ " before it
            lead = 2 if k == 0 else indent
            for group in self._fit(blocks, lead, indent):
                self.out += self._join(group, lead)
                lead = indent
        self.out.append("")

    def _fit(self, blocks: list[list[str]], lead: int, indent: int) -> list[list[list[str]]]:
        """Blocks packed into lines of at most ``width`` columns; a line breaks before an operator
        when it can (so each continuation starts with "=", "+", "⊙" …)."""
        groups: list[list[list[str]]] = [[]]
        used = lead
        for b in blocks:
            w = _w(b) + 1
            if groups[-1] and used + w > self.width:
                last = groups[-1]
                carry = [last.pop()] if len(last) > 1 and len(last[-1]) == 1 and len(last[-1][0]) <= 2 else []
                groups.append(carry)
                used = indent + sum(_w(c) + 1 for c in carry)
            groups[-1].append(b)
            used += w
        return [g for g in groups if g]

    def _join(self, blocks: list[list[str]], lead: int) -> list[str]:
        height = max(len(b) for b in blocks)
        rows = [""] * height
        for b in blocks:
            width = _w(b)
            top = (height - len(b)) // 2
            for r in range(height):
                cell = b[r - top] if top <= r < top + len(b) else ""
                rows[r] += cell.ljust(width) + " "
        return [" " * lead + r.rstrip() for r in rows]

    def _block(self, t: Term, room: int) -> list[str]:
        if isinstance(t, tuple):
            return [t[1]]
        for max_cols in (8, 6, 4, 3):  # fewer columns until the matrix fits the room it has
            block = self._matrix(t, max_cols)
            if _w(block) <= room:
                break
        return block

    def _matrix(self, t: Array, max_cols: int) -> list[str]:
        cells = _elide(t, self.precision, max_rows=self.max_rows, max_cols=max_cols)
        cols = list(zip(*cells))
        widths = [max(len(c or "⋯") for c in col) for col in cols]
        lines = []
        for row in cells:
            if all(c is None for c in row):
                body = "  ".join("⋮".rjust(w) for w in widths)
            else:
                body = "  ".join((c if c is not None else "⋯").rjust(w) for c, w in zip(row, widths))
            lines.append(body)
        if len(lines) == 1:
            return [f"[ {lines[0]} ]"]
        left = ["⎡", *["⎢"] * (len(lines) - 2), "⎣"]
        right = ["⎤", *["⎥"] * (len(lines) - 2), "⎦"]
        return [f"{a} {s} {b}" for a, s, b in zip(left, lines, right)]


def _w(block: list[str]) -> int:
    return max(len(s) for s in block)


class _MarkdownRenderer(_Renderer):
    def heading(self, text: str) -> None:
        self.out += [f"### {text}", ""]

    def para(self, text: str) -> None:
        self.out += [text, ""]

    def eq(self, *lines: list[Term]) -> None:
        self.out += ["$$", self._latex(lines), "$$", ""]

    def _latex(self, lines: Sequence[list[Term]]) -> str:
        body = [" ".join(self._term(t) for t in terms) for terms in lines]
        if len(body) == 1:
            return body[0]
        first = body[0].replace(" = ", " &= ", 1).replace(r" \\leftarrow ", r" &\\leftarrow ", 1)
        rows = [first, *("&" + b for b in body[1:])]
        return "\\begin{aligned}\n" + " \\\\\n".join(rows) + "\n\\end{aligned}"

    def _term(self, t: Term) -> str:
        if isinstance(t, tuple):
            return t[0]
        cells = _elide(t, self.precision)
        rows = []
        for row in cells:
            if all(c is None for c in row):
                rows.append(" & ".join(r"\vdots" if k < len(row) else "" for k in range(len(row))))
            else:
                rows.append(" & ".join(c if c is not None else r"\cdots" for c in row))
        return r"\begin{bmatrix} " + r" \\ ".join(rows) + r" \end{bmatrix}"


class _HtmlRenderer(_MarkdownRenderer):
    def heading(self, text: str) -> None:
        self.out.append(f"<h4>{html.escape(text)}</h4>")

    def para(self, text: str) -> None:
        self.out.append(f"<p>{html.escape(text)}</p>")

    def eq(self, *lines: list[Term]) -> None:
        self.out.append(f"<div>$$\n{html.escape(self._latex(lines))}\n$$</div>")

    def pre(self, text: str) -> None:
        self.out.append(f"<pre>{html.escape(text)}</pre>")

    def result(self) -> str:
        return '<div class="deltaprop-explanation">\n' + "\n".join(self.out) + "\n</div>\n"


def _describe_update(opt: optimizers_mod.Optimizer) -> tuple[bool, str]:
    """(is plain gradient descent, a short description)."""
    plain = (isinstance(opt, optimizers_mod.SGD) and not opt.momentum and not opt.weight_decay
             and opt.clip_norm is None)
    if plain:
        return True, f"gradient descent w ← w − η ∂L/∂w with η = {_fmt(opt.lr, 6)}"
    return False, repr(opt)


def _render(e: Explanation, r: _Renderer, neuron: tuple[int, int] | None = (1, 0)) -> str:
    eq_, minus, plus, odot, arrow = ("=", "="), ("-", "−"), ("+", "+"), (r"\odot", "⊙"), (r"\leftarrow", "←")
    L = len(e.layers)

    def col(v: Array | None) -> Array:
        return _as_matrix(v if v is not None else np.empty((0,)), column=True)

    def at_top(sym: tuple[str, str]) -> tuple[str, str]:  # a^{(L)} → a^{(2)} in the loss formulas
        return sym[0].replace("(L)", f"({L})"), sym[1].replace("⁽ᴸ⁾", _sup(L))

    def sigma(s: LayerStep, prime: str = "") -> tuple[str, str]:
        base = _ACT_SYMBOL.get(s.activation, (rf"\operatorname{{{s.activation}}}", s.activation))
        z = _sym("z", "z", s.l)
        return rf"{base[0]}{prime}\left({z[0]}\right)", f"{base[1]}{prime}({z[1]})"

    sizes = "-".join(str(n) for n in [e.layers[0].W.shape[1], *(s.W.shape[0] for s in e.layers)])
    plain_sgd, update = _describe_update(e.optimizer)
    samples = "one example" if e.n == 1 else f"a batch of {e.n} examples, one column per sample"
    r.heading(f"One training step of a {sizes} network ({', '.join(s.activation for s in e.layers)})")
    r.para(f"Data: {samples}. Loss: {e.loss!r}. Update: {update}. Vectors are columns, as in the seeds; "
           "W⁽ˡ⁾[j, i] is the weight from neuron i of layer l−1 to neuron j of layer l.")
    cited = ["E1", "E2", "E3", "E4", "E5", *(["E6"] if L > 1 else []),
             *(["E7"] if any(s.sigma_prime is None for s in e.layers) else []), *(["E8"] if e.fused else []),
             *(["E9"] if plain_sgd else [])]
    r.legend({k: EQUATIONS[k] for k in sorted(cited, key=lambda k: int(k[1:]))})
    r.eq([_sym("a", "a", 0), eq_, ("x", "x"), eq_, col(e.x), (r",\quad y =", ",  y ="), col(e.y)])

    def wide(s: LayerStep) -> bool:
        return r.wide_layer and s.W.shape[0] > r.max_rows

    def per_neuron(s: LayerStep, columns: list[tuple[str, Array | None]]) -> None:
        """One row per neuron j: the named per-neuron columns for each example (elided past 64 neurons)."""
        n_out = s.W.shape[0]
        js = list(range(n_out)) if n_out <= 64 else [*range(62), -1, n_out - 1]
        once = [(name, v) for name, v in columns if np.ndim(v) == 1]  # b_j: one value per neuron
        each = [(name, v) for name, v in columns if np.ndim(v) == 2]  # z_j, a_j, δ_j: one per example
        examples = range(min(e.n, 4))
        header = ["j", *(name for name, _ in once),
                  *(f"{name}{'' if e.n == 1 else f' (ex {k + 1})'}" for k in examples for name, _ in each)]
        f = lambda v: _fmt(float(v), r.precision)  # noqa: E731
        rows = [["⋮"] * len(header) if j < 0 else [str(j + 1), *(f(np.asarray(v)[j]) for _, v in once),
                                                   *(f(np.asarray(v)[k, j]) for k in examples for _, v in each)]
                for j in js]
        r.table(header, rows)

    r.heading("1. Forward pass: z⁽ˡ⁾ = W⁽ˡ⁾ a⁽ˡ⁻¹⁾ + b⁽ˡ⁾ (E1), a⁽ˡ⁾ = σ(z⁽ˡ⁾) (E2)")
    for s in e.layers:
        r.para(f"Layer {s.l}: Dense {s.W.shape[1]} → {s.W.shape[0]}, activation {s.activation}."
               + (" A wide layer: one row per neuron j, z_j = Σᵢ w_ji aᵢ + b_j and a_j = σ(z_j)." if wide(s) else ""))
        if wide(s):
            r.eq([_sym("z", "z", s.l), eq_, _sym("W", "W", s.l), _sym("a", "a", s.l - 1), plus, _sym("b", "b", s.l)])
            per_neuron(s, [("b_j", s.b), ("z_j", s.z), ("a_j", s.a)])
            continue
        r.eq([_sym("z", "z", s.l), eq_, _sym("W", "W", s.l), _sym("a", "a", s.l - 1), plus, _sym("b", "b", s.l)],
             [eq_, s.W, col(s.a_prev), plus, col(s.b), eq_, col(s.z)])
        r.eq([_sym("a", "a", s.l), eq_, sigma(s), eq_, col(s.a)])

    r.heading("2. Loss")
    formula = at_top(_LOSS_FORMULA.get(e.loss.name, (e.loss.name, e.loss.name)))
    mean = e.loss.reduction == "mean"
    scale = (r"\frac{1}{n}", "1/n ") if mean else ("", "")
    r.para(f"L sums over the outputs, then {'averages' if mean else 'sums'} over the n = {e.n} "
           f"sample{'s' if e.n > 1 else ''} (reduction={e.loss.reduction!r}).")
    value = (_fmt(e.loss_value, max(e.precision, 6)),) * 2
    r.eq([("L", "L"), eq_, (scale[0] + formula[0], scale[1] + formula[1]), eq_, value])  # type: ignore[list-item]

    r.heading("3. Backward pass: δ⁽ᴸ⁾ = ∂L/∂a⁽ᴸ⁾ ⊙ σ'(z⁽ᴸ⁾) (E3), δ⁽ˡ⁾ = (W⁽ˡ⁺¹⁾ᵀ δ⁽ˡ⁺¹⁾) ⊙ σ'(z⁽ˡ⁾) (E6, E3)")
    for s in reversed(e.layers):
        delta, da = _sym(r"\delta", "δ", s.l), _grad_sym("a", "a", s.l)
        if s.l == L and e.fused:
            r.para(f"Output layer (l = L = {L}): {s.activation} followed by {e.loss.name} is fused (E8): σ' cancels "
                   f"against the loss's derivative, so δ⁽ᴸ⁾ = ∂L/∂z⁽ᴸ⁾ = a⁽ᴸ⁾ − y{', divided by n' if mean else ''}.")
            r.eq([delta, eq_, at_top((scale[0] + r"\left(a^{(L)} - y\right)", scale[1] + "(a⁽ᴸ⁾ − y)")), eq_,
                  col(s.delta)])
        else:
            if s.l == L:
                grad = at_top(_LOSS_GRAD.get(e.loss.name, (r"\partial L / \partial a^{(L)}", "∂L/∂a⁽ᴸ⁾")))
                r.para(f"Output layer (l = L = {L}): first ∂L/∂a⁽ᴸ⁾ from the loss, "
                       "then δ⁽ᴸ⁾ = ∂L/∂a⁽ᴸ⁾ ⊙ σ'(z⁽ᴸ⁾) (E3).")
                r.eq([da, eq_, (scale[0] + grad[0], scale[1] + grad[1]), eq_, col(s.da)])
            else:
                above = e.layers[s.l]
                r.para(f"Hidden layer {s.l}: the error flows back through W{_sup(s.l + 1)} (E6), "
                       "then through σ' (E3).")
                if wide(s):
                    r.eq([da, eq_, _sym("W", "W", s.l + 1, transpose=True), _sym(r"\delta", "δ", s.l + 1)])
                else:
                    r.eq([da, eq_, _sym("W", "W", s.l + 1, transpose=True), _sym(r"\delta", "δ", s.l + 1), eq_,
                          above.W.T, col(above.delta), eq_, col(s.da)])
            if s.activation in _ACT_DERIVATIVE:
                r.para(_ACT_DERIVATIVE[s.activation] + ".")
            if s.sigma_prime is not None and wide(s):
                r.para("One row per neuron j: δ_j = ∂L/∂a_j · σ'(z_j) (E3).")
                per_neuron(s, [("∂L/∂a_j", s.da), ("σ'(z_j)", s.sigma_prime), ("δ_j", s.delta)])
            elif s.sigma_prime is not None:
                r.eq([delta, eq_, da, odot, sigma(s, "'")],
                     [eq_, col(s.da), odot, col(s.sigma_prime), eq_, col(s.delta)])
            else:
                r.para("softmax's derivative is a Jacobian: δ = a ⊙ (∂L/∂a − Σⱼ aⱼ ∂L/∂aⱼ) (E7).")
                r.eq([delta, eq_, col(s.delta)])
        r.eq([_grad_sym("W", "W", s.l), eq_, delta, _sym("a", "a", s.l - 1, transpose=True), eq_,
              s.dW, (r"\quad\text{(E4)}", "(E4)")])  # type: ignore[list-item]
        summed = (r"\sum_{\text{samples}} " + delta[0], "Σ_samples " + delta[1]) if e.n > 1 else delta
        r.eq([_grad_sym("b", "b", s.l), eq_, summed, eq_, col(s.db), (r"\quad\text{(E5)}", "(E5)")])

    if plain_sgd:
        lr = (_fmt(e.optimizer.lr, 6),) * 2
        r.heading(f"4. Update: w ← w − η ∂L/∂w (E9), η = {lr[1]}")
        for s in e.layers:
            for name, old, g, new, show in (("W", s.W, s.dW, s.W_new, np.asarray), ("b", s.b, s.db, s.b_new, col)):
                r.eq([_sym(name, name, s.l), arrow, _sym(name, name, s.l), minus, (r"\eta", "η"),
                      _grad_sym(name, name, s.l)],
                     [eq_, show(old), minus, lr, show(g), eq_, show(new)])  # type: ignore[list-item]
    else:
        r.heading(f"4. Update: {update}")
        for s in e.layers:
            r.eq([_sym("W", "W", s.l), arrow, s.W_new])  # type: ignore[list-item]
            r.eq([_sym("b", "b", s.l), arrow, col(s.b_new)])
    if neuron is not None:
        l, j = neuron
        r.heading(f"5. One neuron written out: neuron {j + 1} of layer {l}")
        r.pre(_neuron_text(e.neuron(l, j), e.precision, getattr(r, "width", None)))
    return r.result()


# ---------------------------------------------------------------------------------------------
# One neuron written out (the terminal's --neuron and the playground's explain panel)
# ---------------------------------------------------------------------------------------------
#: the equations the explanation cites, as docs/backprop.md numbers them
EQUATIONS: dict[str, str] = {
    "E1": "z_j⁽ˡ⁾ = Σ_i w_ji⁽ˡ⁾ a_i⁽ˡ⁻¹⁾ + b_j⁽ˡ⁾ (weighted sum)",
    "E2": "a_j⁽ˡ⁾ = σ(z_j⁽ˡ⁾) (activation)",
    "E3": "δ_j⁽ˡ⁾ = ∂L/∂a_j⁽ˡ⁾ · σ'(z_j⁽ˡ⁾) (delta through the activation)",
    "E4": "∂L/∂w_ji⁽ˡ⁾ = δ_j⁽ˡ⁾ a_i⁽ˡ⁻¹⁾ (weight gradient, summed over the batch)",
    "E5": "∂L/∂b_j⁽ˡ⁾ = δ_j⁽ˡ⁾ (bias gradient, summed over the batch)",
    "E6": "∂L/∂a_j⁽ˡ⁾ = Σ_k w_kj⁽ˡ⁺¹⁾ δ_k⁽ˡ⁺¹⁾ (the error flowing back from layer l+1)",
    "E7": "softmax: ∂a_i/∂z_j = a_i(δ_ij − a_j) (a Jacobian, not an element-wise σ')",
    "E8": "softmax + cross-entropy, sigmoid + binary cross-entropy: δ⁽ᴸ⁾ = a⁽ᴸ⁾ − y (σ' cancels)",
    "E9": "w ← w − η ∂L/∂w (gradient descent)",
}
_SUBSCRIPT = str.maketrans("0123456789,", "₀₁₂₃₄₅₆₇₈₉,")
_MAX_TERMS = 12  # terms of a sum written out before "…"


def _idx(*ks: int) -> str:
    """1-based subscripts as the seeds write them: w₁₂, or w₁₂,₃ once an index has two digits."""
    shown = [str(k + 1) for k in ks]
    return (("," if any(len(s) > 1 for s in shown) else "").join(shown)).translate(_SUBSCRIPT)


def _sum_text(pairs: list[tuple[float, float]], precision: int) -> str:
    shown = [f"({_fmt(a, precision)})({_fmt(b, precision)})" for a, b in pairs[:_MAX_TERMS]]
    rest = len(pairs) - _MAX_TERMS
    return " + ".join(shown) + (f" + … ({rest} more terms)" if rest > 0 else "")


def _neuron_text(d: dict[str, Any], precision: int, width: int | None = None) -> str:
    """One neuron's part of the step, term by term, in the seeds' notation (``Explanation.neuron``)."""
    l, j, k, n = d["l"], d["j"], d["sample"], d["n"]
    f = lambda v: _fmt(v, precision)  # noqa: E731
    where = f"example {k + 1} of {n}" if n > 1 else "the example"
    if d["kind"] == "input":
        return f"Input {j + 1} (layer 0), {where}: a{_idx(j)}⁽⁰⁾ = x{_idx(j)} = {f(d['a'])}\n"
    up, lo, sj = _sup(l), _sup(l - 1), _idx(j)
    sig = _ACT_SYMBOL.get(d["activation"], (d["activation"], d["activation"]))[1]
    lines = [f"Neuron {j + 1} of layer {l} ({d['activation']}), {where}:",
             f"  z{sj}{up} = Σᵢ w{sj}ᵢ{up} aᵢ{lo} + b{sj}{up}   (E1)",
             f"      = {_sum_text([(t['w'], t['a']) for t in d['terms']], precision)} + {f(d['b'])}",
             f"      = {f(d['z'])}",
             f"  a{sj}{up} = σ(z{sj}{up}){'' if sig == 'σ' else f' = {sig}(z{sj}{up})'} = {f(d['a'])}   (E2)"]
    mean = d["loss"]["reduction"] == "mean" and n > 1
    if d["fused"]:
        lines.append(f"  δ{sj}{up} = (a{sj}{up} − y{sj}){' / n' if mean else ''} = ({f(d['a'])} − {f(d['y'])})"
                     f"{f' / {n}' if mean else ''} = {f(d['delta'])}   (E8: σ' cancels against the loss)")
    else:
        if d["kind"] == "output":
            lines.append(f"  ∂L/∂a{sj}{up} = {f(d['dL_da'])}   (from the loss {d['loss']['name']})")
        else:
            above = _sup(l + 1)
            lines += [f"  ∂L/∂a{sj}{up} = Σₖ wₖ{sj}{above} δₖ{above}   (E6)",
                      f"      = {_sum_text([(t['w'], t['delta']) for t in d['back']], precision)}",
                      f"      = {f(d['dL_da'])}"]
        if d["sigma_prime"] is None:
            lines.append(f"  δ{sj}{up} = {f(d['delta'])}   (softmax: through its Jacobian, E7)")
        else:
            lines.append(f"  δ{sj}{up} = ∂L/∂a{sj}{up} · σ'(z{sj}{up}) = {f(d['dL_da'])} · {f(d['sigma_prime'])}"
                         f" = {f(d['delta'])}   (E3)")
    batch = " summed over the batch" if n > 1 else ""
    grads = [(f"w{_idx(j, i)}{up}", g, w) for i, (g, w) in enumerate(zip(d["dW"], d["W_new"]))][:_MAX_TERMS]
    lines.append(f"  ∂L/∂w{sj}ᵢ{up} = δ{sj}{up} aᵢ{lo}{batch}   (E4):  "
                 + ",  ".join(f"∂L/∂{name} = {f(g)}" for name, g, _ in grads)
                 + (" …" if len(d["dW"]) > _MAX_TERMS else ""))
    lines.append(f"  ∂L/∂b{sj}{up} = δ{sj}{up}{batch} = {f(d['db'])}   (E5)")
    if d["plain_sgd"]:
        lines.append(f"  w ← w − η ∂L/∂w with η = {f(d['lr'])}   (E9):  "
                     + ",  ".join(f"{name} ← {f(w)}" for name, _, w in grads)
                     + (" …" if len(d["dW"]) > _MAX_TERMS else "") + f",  b{sj}{up} ← {f(d['b_new'])}")
    else:
        lines.append(f"  update ({d['update']}):  " + ",  ".join(f"{name} ← {f(w)}" for name, _, w in grads)
                     + f",  b{sj}{up} ← {f(d['b_new'])}")
    if width:
        lines = [w for line in lines for w in (textwrap.wrap(line, width, subsequent_indent="        ")
                                               if len(line) > width else [line])]
    return "\n".join(lines) + "\n"
