"""ONNX export: ``export(model, path)`` writes the inference graph for onnxruntime and friends.

Each Dense layer becomes ``Gemm(a_prev, W, b, transB=1)`` — that is z = a_prev Wᵀ + b (E1) with
W stored as it is, (n_out, n_in) — and each activation its ONNX operator. The batch dimension is
symbolic ("batch"), so any number of rows can be fed. Dropout is the identity at inference and
becomes an ``Identity`` node. GELU has an ONNX operator only from opset 20; at lower opsets it is
composed from primitives (the erf form from ``Erf``, the tanh form from ``Tanh``, ``Mul``, ``Add``),
which computes the same formula as ``deltaprop.activations.gelu``. Initialisers are named as in
the model file ("0.weight", "0.bias", …).

The ``onnx`` package is an optional extra (``pip install deltaprop[onnx]``) imported inside the
function; this module's name shadows it only for relative imports, and none are used for it.
"""

from __future__ import annotations

import json
import math
from typing import TYPE_CHECKING, Any

import numpy as np

from ..nn.layers import (
    ELU,
    GELU,
    Dense,
    Dropout,
    Exp,
    Identity,
    Layer,
    LeakyReLU,
    ReLU,
    Sigmoid,
    Softmax,
    Softplus,
    Tanh,
)
from ..nn.model import Sequential
from .model_file import PathLike, atomic_write

if TYPE_CHECKING:
    import onnx

MIN_OPSET = 17
#: the first opset with a Gelu operator
GELU_OPSET = 20


def export(model: Sequential, path: PathLike | None, *, opset: int = MIN_OPSET, input_name: str = "input",
           output_name: str = "output") -> onnx.ModelProto:
    """Write ``model`` as an ONNX file at ``path`` (atomically; ``None`` skips writing) and return the ModelProto.

    The graph takes ``input_name`` of shape (batch, n_inputs) in the model's dtype (float32 →
    FLOAT, float64 → DOUBLE) and returns ``output_name`` of shape (batch, n_outputs): exactly what
    ``model.predict`` computes. ``opset`` must be at least 17; from 20 on, GELU uses the ``Gelu``
    operator instead of its composition."""
    try:
        import onnx
        from onnx import TensorProto, helper, numpy_helper
    except ImportError:  # pragma: no cover - CI installs the extra
        raise ImportError("deltaprop.onnx.export needs the onnx package: pip install 'deltaprop[onnx]'.") from None

    if not isinstance(model, Sequential):
        raise TypeError(f"export: model must be a deltaprop Sequential, got {type(model).__name__}.")
    newest = onnx.defs.onnx_opset_version()
    if isinstance(opset, bool) or not isinstance(opset, int) or not MIN_OPSET <= opset <= newest:
        raise ValueError(f"export: opset must be an int from {MIN_OPSET} to {newest} (the installed onnx package's "
                         f"newest), got {opset!r}.")
    elem = TensorProto.DOUBLE if model.dtype == np.float64 else TensorProto.FLOAT
    graph = _Graph(model.dtype, numpy_helper)
    a = input_name
    for i, layer in enumerate(model.layers):
        out = output_name if i == len(model.layers) - 1 else f"{i}.out"
        graph.layer(i, layer, a, out, opset, helper)
        a = out

    from .. import __version__

    inputs = [helper.make_tensor_value_info(input_name, elem, ["batch", model.n_inputs])]
    outputs = [helper.make_tensor_value_info(output_name, elem, ["batch", model.n_outputs])]
    g = helper.make_graph(graph.nodes, "deltaprop_mlp", inputs, outputs, initializer=graph.initializers)
    opsets = [helper.make_opsetid("", opset)]
    proto = helper.make_model(g, opset_imports=opsets, producer_name="deltaprop", producer_version=__version__,
                              ir_version=helper.find_min_ir_version_for(opsets),
                              doc_string="Multilayer perceptron exported by deltaprop (inference graph).")
    helper.set_model_props(proto, {"architecture": json.dumps([layer.get_config() for layer in model.layers]),
                                   "dtype": model.dtype.name})
    onnx.checker.check_model(proto, full_check=True)
    if path is not None:
        atomic_write(path, proto.SerializeToString())
    return proto


class _Graph:
    """Collects nodes and initialisers; constants are stored in the model's dtype."""

    def __init__(self, dtype: np.dtype, numpy_helper: Any) -> None:
        self.dtype, self.numpy_helper = dtype, numpy_helper
        self.nodes: list[Any] = []
        self.initializers: list[Any] = []

    def constant(self, name: str, value: Any) -> str:
        self.initializers.append(self.numpy_helper.from_array(np.asarray(value, dtype=self.dtype), name))
        return name

    def layer(self, i: int, layer: Layer, a: str, out: str, opset: int, helper: Any) -> None:
        node = helper.make_node
        if isinstance(layer, Dense):
            W = self.constant(f"{i}.weight", layer.W)
            b = self.constant(f"{i}.bias", layer.b)
            self.nodes.append(node("Gemm", [a, W, b], [out], name=f"{i}.Gemm", transB=1))
        elif isinstance(layer, GELU):
            if opset >= GELU_OPSET:
                self.nodes.append(node("Gelu", [a], [out], name=f"{i}.Gelu", approximate=layer.approximate))
            else:
                self.gelu(i, layer.approximate, a, out, helper)
        elif isinstance(layer, (LeakyReLU, ELU)):
            op = "LeakyRelu" if isinstance(layer, LeakyReLU) else "Elu"
            self.nodes.append(node(op, [a], [out], name=f"{i}.{op}", alpha=layer.alpha))
        elif isinstance(layer, Softmax):
            self.nodes.append(node("Softmax", [a], [out], name=f"{i}.Softmax", axis=-1))
        else:
            ops = {Sigmoid: "Sigmoid", Tanh: "Tanh", ReLU: "Relu", Softplus: "Softplus", Identity: "Identity",
                   Exp: "Exp", Dropout: "Identity"}
            op = ops.get(type(layer))
            if op is None:
                raise TypeError(f"export: layer {i} ({layer!r}) has no ONNX equivalent.")
            self.nodes.append(node(op, [a], [out], name=f"{i}.{op}"))

    def gelu(self, i: int, approximate: str, z: str, out: str, helper: Any) -> None:
        """GELU from primitives: ½ z (1 + erf(z/√2)), or ½ z (1 + tanh(√(2/π)(z + 0.044715 z³)))."""
        node, p = helper.make_node, f"{i}.gelu"
        half, one = self.constant(f"{p}.half", 0.5), self.constant(f"{p}.one", 1.0)
        if approximate == "none":
            self.nodes += [
                node("Mul", [z, self.constant(f"{p}.inv_sqrt2", 1.0 / math.sqrt(2.0))], [f"{p}.u"]),
                node("Erf", [f"{p}.u"], [f"{p}.t"]),
            ]
        else:
            self.nodes += [
                node("Mul", [z, z], [f"{p}.z2"]),
                node("Mul", [f"{p}.z2", z], [f"{p}.z3"]),
                node("Mul", [f"{p}.z3", self.constant(f"{p}.c", 0.044715)], [f"{p}.cz3"]),
                node("Add", [z, f"{p}.cz3"], [f"{p}.inner"]),
                node("Mul", [f"{p}.inner", self.constant(f"{p}.k", math.sqrt(2.0 / math.pi))], [f"{p}.u"]),
                node("Tanh", [f"{p}.u"], [f"{p}.t"]),
            ]
        self.nodes += [
            node("Add", [f"{p}.t", one], [f"{p}.1pt"]),
            node("Mul", [z, half], [f"{p}.hz"]),
            node("Mul", [f"{p}.hz", f"{p}.1pt"], [out]),
        ]
