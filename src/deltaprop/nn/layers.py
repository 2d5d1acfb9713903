"""Layers: ``Dense`` (the affine map, E1 and E4–E6), activation layers (E2, E3) and ``Dropout``.

Every layer has ``forward(a_prev, training)`` which caches what its backward needs, and
``backward(delta)`` which takes ∂L/∂(its output) and returns ∂L/∂(its input). Parametric layers
also fill their gradients (``dW``, ``db``) and expose ``params()`` / ``grads()`` with the same keys.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from ..core.backend import as_dtype, rng_from, xp
from ..core.registry import lookup
from ..core.types import Array, DType, Seed
from ..optim import fused as _fused
from . import activations as act
from . import init as initializers

#: the most bytes one Dense layer's weights may take (4 GiB, the largest model file deltaprop reads);
#: checked before anything is allocated. Raise it (``deltaprop.nn.layers.MAX_LAYER_BYTES = ...``) on a
#: machine with the memory for a bigger layer.
MAX_LAYER_BYTES = 2**32


class Layer:
    """Base class: a stage of the network with no parameters unless it says otherwise."""

    #: ``forward`` and ``backward`` return new arrays that the layer keeps no reference to, so the
    #: model may let the neighbouring layer write over them (see ``overwrites``)
    fresh_output: ClassVar[bool] = False
    #: ``forward(x, training, overwrite=True)`` and ``backward(d, overwrite=True)`` may write their
    #: result over x or d; the model asks for that only when x or d came from a ``fresh_output`` layer
    overwrites: ClassVar[bool] = False
    #: the Sequential this layer belongs to (a weak reference, set by Sequential); a layer has one owner
    _owner: Any = None

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state.pop("_owner", None)  # a copy belongs to no network until a Sequential takes it
        return state

    def forward(self, a_prev: Array, training: bool = True) -> Array:  # pragma: no cover - abstract
        raise NotImplementedError

    def backward(self, delta: Array) -> Array:  # pragma: no cover - abstract
        raise NotImplementedError

    def params(self) -> dict[str, Array]:
        """The trainable arrays, by name ({} for layers without parameters)."""
        return {}

    def grads(self) -> dict[str, Array]:
        """∂L/∂(each parameter) from the last ``backward``, with the keys of ``params()``."""
        return {}

    def get_config(self) -> dict[str, Any]:
        """Plain-data description (type name and hyperparameters) from which the layer can be rebuilt."""
        return {"type": type(self).__name__}

    def output_size(self, n_in: int) -> int:
        """Width of this layer's output given the width of its input."""
        return n_in

    def astype(self, dtype: DType) -> None:
        """Convert parameters and gradient buffers to ``dtype`` in place (no-op without parameters)."""

    def bind_storage(self, params: dict[str, Array], grads: dict[str, Array]) -> bool:
        """Move parameters and gradients into the given arrays (views into the model's flat vectors),
        copying the current values; return False if this layer cannot (then nothing changes)."""
        return not self.params()

    def __repr__(self) -> str:
        cfg = {k: v for k, v in self.get_config().items() if k != "type"}
        return f"{type(self).__name__}({', '.join(f'{k}={v!r}' for k, v in cfg.items())})"


class Dense(Layer):
    """Affine map z = a_prev Wᵀ + b (E1); backward fills dW, db and returns da_prev (E4–E6).

    ``W`` has shape (n_out, n_in): ``W[j, i]`` is the seed's w_ji, the weight from neuron i of the
    layer below to neuron j of this one, the same layout as ``torch.nn.Linear.weight``.
    ``init`` and ``bias_init`` are initialiser names (see ``deltaprop.init``), callables, or arrays.
    """

    fresh_output = True  # z and δ W are new arrays; the layer keeps only a_prev

    def __init__(
        self,
        n_in: int,
        n_out: int,
        *,
        init: str | Any = "glorot_uniform",
        bias_init: str | Any = "zeros",
        seed: Seed = None,
        dtype: DType = None,
    ) -> None:
        for name, value in (("n_in", n_in), ("n_out", n_out)):
            if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < 1:
                raise ValueError(f"Dense: {name} must be a positive int, got {value!r}.")
        self.n_in, self.n_out = int(n_in), int(n_out)
        self.dtype = as_dtype(dtype)
        need = self.n_in * self.n_out * self.dtype.itemsize
        if need > MAX_LAYER_BYTES:  # estimated before allocating W, dW and an optimizer's moments
            raise ValueError(f"Dense({self.n_in}, {self.n_out}): its weights would need {need / 1e9:,.1f} GB "
                             f"({self.dtype}), more than the limit of {MAX_LAYER_BYTES / 1e9:.1f} GB "
                             "(deltaprop.nn.layers.MAX_LAYER_BYTES); use fewer units, or raise the limit on a machine "
                             "with several times that memory (gradients and optimizer moments are as big again).")
        rng = rng_from(seed)
        self._W = self._initial("init", init, (self.n_out, self.n_in), rng)
        self._b = self._initial("bias_init", bias_init, (self.n_out,), rng)
        self.dW = xp.zeros(self._W.shape, dtype=self.dtype)  # zeros, not zeros_like: fresh pages, no memset
        self.db = xp.zeros(self._b.shape, dtype=self.dtype)
        self.a_prev: Array | None = None

    def _initial(self, arg: str, spec: Any, shape: tuple[int, ...], rng: np.random.Generator) -> Array:
        if isinstance(spec, str) or callable(spec):
            values = initializers.get(spec)(rng, shape, self.n_in, self.n_out)
        else:
            values = spec
        return self._checked(arg, values, shape)

    def _checked(self, arg: str, values: Any, shape: tuple[int, ...]) -> Array:
        arr = xp.array(values, dtype=self.dtype, order="C", copy=True)
        if arr.shape != shape:
            raise ValueError(f"Dense: {arg} must have shape {shape} (n_out, n_in) = ({self.n_out}, {self.n_in}), "
                             f"got {arr.shape}; transpose a (n_in, n_out) matrix with .T.")
        return arr

    @property
    def W(self) -> Array:
        """Weights, shape (n_out, n_in). Assigning copies the values in the layer's dtype."""
        return self._W

    @W.setter
    def W(self, values: Any) -> None:
        # copy into the existing array: optimizers and models may hold references to it
        self._W[...] = self._checked("W", values, (self.n_out, self.n_in))

    @property
    def b(self) -> Array:
        """Biases, shape (n_out,)."""
        return self._b

    @b.setter
    def b(self, values: Any) -> None:
        self._b[...] = self._checked("b", values, (self.n_out,))

    def forward(self, a_prev: Array, training: bool = True, *, bias: bool = True) -> Array:
        """z = a_prev Wᵀ + b (E1), with a_prev of shape (n, n_in) and z of shape (n, n_out).

        a_prev may be a scipy.sparse matrix (CSR rows): then a_prev Wᵀ and, in backward, δᵀ a_prev
        are sparse products that cost O(nnz) and never densify a_prev. ``bias=False`` returns a_prev Wᵀ
        and leaves + b to the caller (a model fuses it with the ReLU above: ``ReLU.forward(bias=b)``)."""
        self.a_prev = a_prev  # kept for dW (E4)
        z = a_prev @ self._W.T
        if bias:
            z += self._b
        return z

    def backward(self, delta: Array, *, input_grad: bool = True, bias_grad: bool = True) -> Array | None:
        """dW = δᵀ a_prev (E4), db = Σ_rows δ (E5); returns da_prev = δ W (E6).

        ``input_grad=False`` skips E6: the first layer's input needs no gradient. ``bias_grad=False`` skips
        E5: the ReLU above already summed δ into db (``ReLU.backward(db=...)``)."""
        if self.a_prev is None:
            raise RuntimeError("Dense.backward() called before forward(); there is no cached a_prev.")
        if not isinstance(self.a_prev, np.ndarray):  # a scipy.sparse batch: (a_prevᵀ δ)ᵀ, a sparse product
            self.dW[...] = (self.a_prev.T @ delta).T
        elif len(delta) == 1:  # one sample: δᵀ a is an outer product; a broadcast multiply beats a k = 1 GEMM 4×
            np.multiply(delta.T, self.a_prev, out=self.dW)
        else:
            np.matmul(delta.T, self.a_prev, out=self.dW)
        if bias_grad:
            np.add.reduce(delta, axis=0, out=self.db)
        return delta @ self._W if input_grad else None

    def params(self) -> dict[str, Array]:
        return {"W": self._W, "b": self._b}

    def grads(self) -> dict[str, Array]:
        return {"W": self.dW, "b": self.db}

    def get_config(self) -> dict[str, Any]:
        return {"type": "Dense", "n_in": self.n_in, "n_out": self.n_out}

    def output_size(self, n_in: int) -> int:
        if n_in != self.n_in:
            raise ValueError(f"Dense({self.n_in}, {self.n_out}) receives {n_in} inputs from the layer below; "
                             f"layer sizes must chain (set n_in={n_in}).")
        return self.n_out

    def bind_storage(self, params: dict[str, Array], grads: dict[str, Array]) -> bool:
        params["W"][...] = self._W
        params["b"][...] = self._b
        self._W, self._b, self.dW, self.db = params["W"], params["b"], grads["W"], grads["b"]
        return True

    def astype(self, dtype: DType) -> None:
        self.dtype = as_dtype(dtype)
        self._W = self._W.astype(self.dtype)
        self._b = self._b.astype(self.dtype)
        self.dW = xp.zeros(self._W.shape, dtype=self.dtype)  # zeros, not zeros_like: fresh pages, no memset
        self.db = xp.zeros(self._b.shape, dtype=self.dtype)

    def __repr__(self) -> str:
        return f"Dense({self.n_in}, {self.n_out})"


class Activation(Layer):
    """An element-wise (or row-wise) non-linearity a = σ(z) with no parameters (E2).

    Subclasses implement ``forward`` (caching z or a) and ``backward(da) -> δ = da ⊙ σ'(z)`` (E3)."""

    name: ClassVar[str] = ""


class Identity(Activation):
    """a = z; σ' = 1 (linear output for regression)."""

    name = "identity"

    def forward(self, z: Array, training: bool = True) -> Array:
        return z

    def backward(self, da: Array) -> Array:
        return da


class Sigmoid(Activation):
    """a = σ(z) = 1/(1 + e^{-z}); backward uses σ'(z) = a(1 − a) from the cached output."""

    name = "sigmoid"

    def forward(self, z: Array, training: bool = True) -> Array:
        self.z = z  # kept so a fused binary cross-entropy can work from the logits
        self.a = act.sigmoid(z)
        return self.a

    def backward(self, da: Array) -> Array:
        return da * act.sigmoid_prime_from_a(self.a)


class Tanh(Activation):
    """a = tanh(z); backward uses 1 − a² from the cached output."""

    name = "tanh"

    def forward(self, z: Array, training: bool = True) -> Array:
        self.a = act.tanh(z)
        return self.a

    def backward(self, da: Array) -> Array:
        return da * act.tanh_prime_from_a(self.a)


class ReLU(Activation):
    """a = max(z, 0); backward passes da where a > 0, which is exactly where z > 0.

    In a model, z comes straight from a Dense layer and da from the Dense layer above: temporaries
    that nothing else holds. The model then passes ``overwrite=True`` and the results are written
    over them, which saves a new array and half the memory traffic of each pass."""

    name = "relu"
    overwrites = True

    def forward(self, z: Array, training: bool = True, *, overwrite: bool = False, bias: Array | None = None) -> Array:
        """a = max(z, 0) (E2); with ``bias``, a = max(z + b, 0): the Dense layer's + b (E1) and ReLU in one
        pass (``fused.bias_relu``), bitwise the two passes. ``overwrite`` writes a over z."""
        if bias is not None:  # the zeros row: see activations.relu
            self.a = z if overwrite else z.copy()
            _fused.bias_relu(self.a, bias, xp.zeros(z.shape[-1:], dtype=z.dtype))
            return self.a
        self.a = act.relu(z, out=z if overwrite else None)  # kept for backward: ReLU'(z) = 1 where a > 0
        return self.a

    def backward(self, da: Array, *, overwrite: bool = False, db: Array | None = None) -> Array:
        """δ = da ⊙ ReLU'(z) (E3), in one pass; with ``db`` also db = Σ_rows δ, the bias gradient of the
        Dense layer below (E5), in the same pass (``fused.relu_backward_db``). ``overwrite`` writes δ over da."""
        if db is not None:
            return _fused.relu_backward_db(da if overwrite else da.copy(), self.a, db)
        return _fused.relu_backward(da, self.a, out=da if overwrite else None)


class LeakyReLU(Activation):
    """a = z where z > 0 else αz."""

    name = "leaky_relu"

    def __init__(self, alpha: float = 0.01) -> None:
        self.alpha = _check_float("LeakyReLU", "alpha", alpha, minimum=0.0)

    def forward(self, z: Array, training: bool = True) -> Array:
        self.z = z
        return act.leaky_relu(z, self.alpha)

    def backward(self, da: Array) -> Array:
        return da * act.leaky_relu_prime(self.z, self.alpha)

    def get_config(self) -> dict[str, Any]:
        return {"type": "LeakyReLU", "alpha": self.alpha}


class ELU(Activation):
    """a = z where z > 0 else α(e^z − 1); σ' = a + α below zero, from the cached output."""

    name = "elu"

    def __init__(self, alpha: float = 1.0) -> None:
        self.alpha = _check_float("ELU", "alpha", alpha, minimum=0.0)

    def forward(self, z: Array, training: bool = True) -> Array:
        self.z = z
        self.a = act.elu(z, self.alpha)
        return self.a

    def backward(self, da: Array) -> Array:
        return da * act.elu_prime(self.z, self.a, self.alpha)

    def get_config(self) -> dict[str, Any]:
        return {"type": "ELU", "alpha": self.alpha}


class GELU(Activation):
    """a = z Φ(z) (Hendrycks & Gimpel 2016); ``approximate="tanh"`` (default) or ``"none"`` (erf)."""

    name = "gelu"

    def __init__(self, approximate: str = "tanh") -> None:
        if approximate not in ("tanh", "none"):
            raise ValueError(f"GELU: approximate must be 'tanh' or 'none', got {approximate!r}.")
        self.approximate = approximate

    def forward(self, z: Array, training: bool = True) -> Array:
        self.z = z
        return act.gelu(z, self.approximate)

    def backward(self, da: Array) -> Array:
        return da * act.gelu_prime(self.z, self.approximate)

    def get_config(self) -> dict[str, Any]:
        return {"type": "GELU", "approximate": self.approximate}


class Softplus(Activation):
    """a = log(1 + e^z); σ'(z) = sigmoid(z)."""

    name = "softplus"

    def forward(self, z: Array, training: bool = True) -> Array:
        self.z = z
        return act.softplus(z)

    def backward(self, da: Array) -> Array:
        return da * act.softplus_prime(self.z)


class Exp(Activation):
    """a = e^z (the log link's inverse); σ'(z) = a, from the cached output.

    Followed by the Poisson deviance, training skips this backward and uses the fused output
    delta (a − y)/n instead, as for softmax with cross-entropy (E8)."""

    name = "exp"

    def forward(self, z: Array, training: bool = True) -> Array:
        self.z = z  # kept so a fused Poisson deviance can work from the log-mean
        self.a = act.exp(z)
        return self.a

    def backward(self, da: Array) -> Array:
        return da * act.exp_prime_from_a(self.a)


class Softmax(Activation):
    """a_j = e^{z_j}/Σ_k e^{z_k} per row; backward is the Jacobian product of E7.

    Followed by categorical cross-entropy, training skips this backward and uses the fused
    output delta (a − y)/n instead (E8)."""

    name = "softmax"

    def forward(self, z: Array, training: bool = True) -> Array:
        self.z = z  # kept so a fused cross-entropy can work from the logits
        self.a, self._shifted, self._sums = act.softmax_parts(z)
        return self.a

    def log_a(self) -> Array:
        """log a of the last forward pass, from the parts softmax computed: bitwise ``log_softmax(z)``,
        without its max, subtraction, exp and sum again (the cross-entropy's value, E8)."""
        return act.log_softmax_from(self._shifted, self._sums)

    def backward(self, da: Array) -> Array:
        return act.softmax_backward(self.a, da)


class Dropout(Layer):
    """Inverted dropout: in training, zero each unit with probability p and scale the rest by 1/(1 − p).

    At inference (``training=False``) it is the identity, so predictions need no rescaling.
    The mask is drawn from the layer's own seeded generator."""

    def __init__(self, p: float = 0.5, *, seed: Seed = None) -> None:
        self.p = _check_float("Dropout", "p", p, minimum=0.0)
        if self.p >= 1.0:
            raise ValueError(f"Dropout: p must be in [0, 1), got {p!r}; p is the probability of dropping a unit.")
        self.rng = rng_from(seed)
        self.mask: Array | None = None

    def forward(self, a_prev: Array, training: bool = True) -> Array:
        if not training or self.p == 0.0:
            self.mask = None
            return a_prev
        keep = self.rng.random(a_prev.shape, dtype=np.float32) >= self.p
        self.mask = keep.astype(a_prev.dtype)
        self.mask *= a_prev.dtype.type(1.0 / (1.0 - self.p))
        return a_prev * self.mask

    def backward(self, delta: Array) -> Array:
        return delta if self.mask is None else delta * self.mask

    def get_config(self) -> dict[str, Any]:
        return {"type": "Dropout", "p": self.p}


def _check_float(owner: str, arg: str, value: object, *, minimum: float) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.floating, np.integer)):
        raise TypeError(f"{owner}: {arg} must be a number, got {type(value).__name__}.")
    v = float(value)
    if not np.isfinite(v) or v < minimum:
        raise ValueError(f"{owner}: {arg} must be a finite number >= {minimum}, got {value!r}.")
    return v


ACTIVATIONS: dict[str, type[Activation]] = {
    cls.name: cls for cls in (Identity, Sigmoid, Tanh, ReLU, LeakyReLU, ELU, GELU, Softplus, Exp, Softmax)
}
ACTIVATIONS["linear"] = Identity

LAYERS: dict[str, type[Layer]] = {
    "Dense": Dense, "Dropout": Dropout,
    **{cls.__name__: cls for cls in (Identity, Sigmoid, Tanh, ReLU, LeakyReLU, ELU, GELU, Softplus, Exp, Softmax)},
}


def activation(spec: str | Activation | None) -> Activation:
    """An activation layer from a name ("relu", "leaky_relu", …), an instance, or None (identity)."""
    if spec is None:
        return Identity()
    if isinstance(spec, Activation):
        return spec
    if isinstance(spec, type) and issubclass(spec, Activation):
        return spec()
    return lookup("activation", spec, ACTIVATIONS)()


def from_config(config: dict[str, Any], *, dtype: DType = None) -> Layer:
    """Rebuild a layer from ``get_config()`` output. Only the fixed table ``LAYERS`` can be named."""
    if not isinstance(config, dict) or not isinstance(config.get("type"), str):
        raise ValueError(f"layer config must be a dict with a 'type' string, got {config!r}.")
    kwargs = {k: v for k, v in config.items() if k != "type"}
    cls = lookup("layer type", config["type"], LAYERS)
    if cls is Dense:
        return Dense(kwargs.pop("n_in"), kwargs.pop("n_out"), init="zeros", dtype=dtype, **kwargs)
    return cls(**kwargs)
