"""PyTorch bridge: ``to_torch(model)`` builds the same network as a ``torch.nn.Sequential``, and
``from_torch(module)`` reads one back.

The layouts already agree: ``Dense.W`` is (n_out, n_in) like ``nn.Linear.weight``, and a module's
index in the ``nn.Sequential`` is the layer's index in ``model.layers``, so the state-dict keys
are the model file's tensor names ("0.weight", "0.bias", …). torch is imported inside the
functions; deltaprop never needs it otherwise.

A model with a numeric preprocessor is bridged with it: the first module, named "preprocess",
takes the raw numeric columns (batch, k) with NaN for missing values and imputes, standardises and
adds the missing indicators in float64, as ``Preprocessor.transform``; the layers keep their names
"0", "1", … (so the state-dict keys stay the model file's). A tensor cannot hold text, so a model
that one-hot encodes text columns is refused with a TypeError; ``preprocess=False`` bridges the
network alone (feed it ``model.preprocessor.transform(X)``), or export to ONNX, which encodes text.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import TYPE_CHECKING, Any

import numpy as np

from ..core.backend import as_dtype
from ..core.types import DType
from ..nn.layers import ELU, GELU, Dense, Dropout, Identity, Layer, LeakyReLU, ReLU, Sigmoid, Softmax, Softplus, Tanh
from ..nn.model import Sequential

if TYPE_CHECKING:
    import torch

_SUPPORTED = ("Linear, Sigmoid, Tanh, ReLU, LeakyReLU, ELU, GELU, Softplus (beta=1), Softmax (dim=-1 or 1), "
              "Identity, Dropout")


def to_torch(model: Sequential, *, preprocess: bool = True) -> torch.nn.Sequential:
    """A ``torch.nn.Sequential`` computing what ``model.predict`` computes, in the model's dtype.

    Module ``i`` corresponds to ``model.layers[i]``. The module is returned in eval mode (dropout
    off, as in ``predict``); call ``.train()`` to train it in torch. A numeric preprocessor comes
    first as the module "preprocess" (see the module docstring)."""
    import torch
    from torch import nn

    if not isinstance(model, Sequential):
        raise TypeError(f"to_torch: model must be a deltaprop Sequential, got {type(model).__name__}.")
    dtype = torch.float64 if model.dtype == np.float64 else torch.float32
    modules: list[nn.Module] = []
    for layer in model.layers:
        if isinstance(layer, Dense):
            linear = nn.Linear(layer.n_in, layer.n_out, dtype=dtype)
            with torch.no_grad():
                linear.weight.copy_(torch.from_numpy(np.array(layer.W)))
                linear.bias.copy_(torch.from_numpy(np.array(layer.b)))
            modules.append(linear)
        else:
            modules.append(_torch_activation(layer, nn))
    pre = model.preprocessor if preprocess else None
    if pre is None:
        return nn.Sequential(*modules).eval()
    if pre.categorical:
        names = ", ".join(c.name for c in pre.categorical)
        raise TypeError(f"to_torch: the model one-hot encodes the text column(s) {names}, and a torch tensor cannot "
                        "hold text. Bridge the network alone with to_torch(model, preprocess=False) and feed it "
                        "model.preprocessor.transform(X), or export to ONNX (deltaprop.io.onnx.export), which encodes "
                        "text in the graph.")
    named = [("preprocess", _preprocess_module(pre, dtype, torch, nn))]
    named += [(str(i), m) for i, m in enumerate(modules)]
    return nn.Sequential(OrderedDict(named)).eval()


def _preprocess_module(pre: Any, dtype: Any, torch: Any, nn: Any) -> Any:
    """x (batch, k) raw numbers, NaN = missing → [(x̃ − μ)/σ, indicators] with x̃ = x or the median."""

    class Preprocess(nn.Module):  # type: ignore[misc,name-defined]
        def __init__(self) -> None:
            super().__init__()
            t = pre.tensors()
            for key in ("median", "mean", "std"):
                self.register_buffer(key, torch.from_numpy(t[key].copy()))
            flags = [j for j, c in enumerate(pre.numeric) if c.indicator]
            self.register_buffer("indicator_columns", torch.tensor(flags, dtype=torch.long))

        def forward(self, x: Any) -> Any:
            x = x.to(torch.float64)
            missing = torch.isnan(x)
            z = (torch.where(missing, self.median, x) - self.mean) / self.std
            if len(self.indicator_columns):
                z = torch.cat([z, missing[:, self.indicator_columns].to(torch.float64)], dim=1)
            return z.to(dtype)

        def extra_repr(self) -> str:
            return f"columns={[c.name for c in pre.numeric]}"

    return Preprocess()


def _torch_activation(layer: Layer, nn: Any) -> Any:
    if isinstance(layer, LeakyReLU):
        return nn.LeakyReLU(negative_slope=layer.alpha)
    if isinstance(layer, ELU):
        return nn.ELU(alpha=layer.alpha)
    if isinstance(layer, GELU):
        return nn.GELU(approximate=layer.approximate)
    if isinstance(layer, Softmax):
        return nn.Softmax(dim=-1)
    if isinstance(layer, Dropout):
        return nn.Dropout(p=layer.p)
    simple = {Sigmoid: nn.Sigmoid, Tanh: nn.Tanh, ReLU: nn.ReLU, Softplus: nn.Softplus, Identity: nn.Identity}
    cls = simple.get(type(layer))
    if cls is None:
        raise TypeError(f"to_torch: no torch module for layer {layer!r}; supported: Dense, Dropout and the "
                        "activation layers of deltaprop.layers.")
    return cls()


def from_torch(module: torch.nn.Module, *, dtype: DType = None) -> Sequential:
    """A deltaprop ``Sequential`` from a ``torch.nn.Sequential`` of Linear layers and supported activations.

    Layer ``i`` corresponds to module ``i``. ``dtype`` defaults to the dtype of the first Linear's
    weight (float32 or float64); anything else raises a TypeError naming the unsupported module."""
    from torch import nn

    if isinstance(module, nn.Linear):
        module = nn.Sequential(module)
    if not isinstance(module, nn.Sequential):
        raise TypeError(f"from_torch: expected a torch.nn.Sequential of Linear layers and activations, got "
                        f"{type(module).__name__}; wrap the layers in nn.Sequential(...).")
    children = list(module)
    if not children:
        raise ValueError("from_torch: the nn.Sequential is empty.")
    linears = [m for m in children if isinstance(m, nn.Linear)]
    if dtype is None and linears:
        name = str(linears[0].weight.dtype).removeprefix("torch.")
        if name not in ("float32", "float64"):
            raise TypeError(f"from_torch: the weights are {name}; deltaprop computes in float32 or float64. Call "
                            "module.float() first, or pass dtype='float32'.")
        dtype = name
    dt = as_dtype(dtype)
    layers = [_deltaprop_layer(i, m, nn, dt) for i, m in enumerate(children)]
    return Sequential(layers, dtype=dt)


def _deltaprop_layer(i: int, m: Any, nn: Any, dtype: np.dtype) -> Layer:
    where = f"from_torch: module {i} ({m!r})"
    if isinstance(m, nn.Linear):
        W = m.weight.detach().cpu().double().numpy()
        b = np.zeros(m.out_features) if m.bias is None else m.bias.detach().cpu().double().numpy()
        return Dense(m.in_features, m.out_features, init=W, bias_init=b, dtype=dtype)
    if isinstance(m, nn.LeakyReLU):
        return LeakyReLU(m.negative_slope)
    if isinstance(m, nn.ELU):
        return ELU(m.alpha)
    if isinstance(m, nn.GELU):
        return GELU(m.approximate)
    if isinstance(m, nn.Softplus):
        if m.beta != 1:
            raise ValueError(f"{where}: only beta=1 is supported (deltaprop's Softplus is log(1 + e^z)), "
                             f"got beta={m.beta}.")
        if m.threshold < 20:
            raise ValueError(f"{where}: torch switches to the identity above threshold={m.threshold}, which "
                             "changes the function; use the default threshold=20 (a difference below 3e-9).")
        return Softplus()
    if isinstance(m, nn.Softmax):
        if m.dim not in (-1, 1):
            raise ValueError(f"{where}: only softmax over the features is supported (dim=-1 or dim=1), got "
                             f"dim={m.dim}.")
        return Softmax()
    if isinstance(m, nn.Dropout) and type(m) is nn.Dropout:
        return Dropout(m.p)
    simple = {nn.Sigmoid: Sigmoid, nn.Tanh: Tanh, nn.ReLU: ReLU, nn.Identity: Identity}
    cls = simple.get(type(m))
    if cls is None:
        hint = " Flatten nested Sequentials first." if isinstance(m, nn.Sequential) else ""
        raise TypeError(f"{where} has no deltaprop equivalent; supported: {_SUPPORTED}.{hint}")
    return cls()
