"""ONNX export: ``export(model, path)`` writes the inference graph for onnxruntime and friends.

Each Dense layer becomes ``Gemm(a_prev, W, b, transB=1)`` — that is z = a_prev Wᵀ + b (E1) with
W stored as it is, (n_out, n_in) — and each activation its ONNX operator. The batch dimension is
symbolic ("batch"), so any number of rows can be fed. Dropout is the identity at inference and
becomes an ``Identity`` node. GELU has an ONNX operator only from opset 20; at lower opsets it is
composed from primitives (the erf form from ``Erf``, the tanh form from ``Tanh``, ``Mul``, ``Add``),
which computes the same formula as ``deltaprop.activations.gelu``. Initialisers are named as in
the model file ("0.weight", "0.bias", …).

A model with a preprocessor (``model.preprocessor``) is exported with it, so the graph takes the
same raw columns as ``model.predict``: one input per column, shape (batch, 1), named as the column
— ``tensor(double)`` for a numeric column (NaN = missing), ``tensor(string)`` for a text column
(missing = "" or one of "NA", "nan", "null", "None", "?", …). Numbers are imputed and standardised
in double precision (``IsNaN``, ``Where``, ``Sub``, ``Div``), as ``Preprocessor.transform`` does,
then cast to the model's dtype; each text column goes through ``ai.onnx.ml.LabelEncoder``
(category → its index, unseen → −1) and ``Equal`` against 0..k−1, a one-hot row (all zeros for an
unseen category). ``feeds(model, X)`` builds the input dictionary from a table.

The ``onnx`` package is an optional extra (``pip install deltaprop[onnx]``) imported inside the
function; this module's name shadows it only for relative imports, and none are used for it.
"""

from __future__ import annotations

import json
import math
from typing import TYPE_CHECKING, Any

import numpy as np

from ..core.validation import is_int
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
           output_name: str = "output", preprocess: bool = True) -> onnx.ModelProto:
    """Write ``model`` as an ONNX file at ``path`` (atomically; ``None`` skips writing) and return the ModelProto.

    The graph takes ``input_name`` of shape (batch, n_inputs) in the model's dtype (float32 →
    FLOAT, float64 → DOUBLE) and returns ``output_name`` of shape (batch, n_outputs): exactly what
    ``model.predict`` computes. ``opset`` must be at least 17; from 20 on, GELU uses the ``Gelu``
    operator instead of its composition. With a preprocessor (and ``preprocess=True``) the inputs are
    the raw columns instead (see the module docstring); ``preprocess=False`` exports the network alone."""
    try:
        import onnx
        from onnx import TensorProto, helper, numpy_helper
    except ImportError:  # pragma: no cover - CI installs the extra
        raise ImportError("deltaprop.onnx.export needs the onnx package: pip install 'deltaprop[onnx]'.") from None

    if not isinstance(model, Sequential):
        raise TypeError(f"export: model must be a deltaprop Sequential, got {type(model).__name__}.")
    newest = onnx.defs.onnx_opset_version()
    if not is_int(opset) or not MIN_OPSET <= opset <= newest:
        raise ValueError(f"export: opset must be an int from {MIN_OPSET} to {newest} (the installed onnx package's "
                         f"newest), got {opset!r}.")
    elem = TensorProto.DOUBLE if model.dtype == np.float64 else TensorProto.FLOAT
    graph = _Graph(model.dtype, numpy_helper)
    a = input_name
    pre = model.preprocessor if preprocess else None
    if pre is not None:
        inputs = graph.preprocess(pre, input_name, helper, TensorProto)
    for i, layer in enumerate(model.layers):
        out = output_name if i == len(model.layers) - 1 else f"{i}.out"
        graph.layer(i, layer, a, out, opset, helper)
        a = out

    from .. import __version__

    if pre is None:
        inputs = [helper.make_tensor_value_info(input_name, elem, ["batch", model.n_inputs])]
    outputs = [helper.make_tensor_value_info(output_name, elem, ["batch", model.n_outputs])]
    if pre is not None:
        internal = {o for n in graph.nodes for o in n.output} | {t.name for t in graph.initializers}
        clash = sorted(set(pre.input_names) & internal)
        if clash:
            raise ValueError(f"export: column name(s) {clash} are also names inside the graph; rename those columns "
                             "before training, or export the network alone with preprocess=False.")
    g = helper.make_graph(graph.nodes, "deltaprop_mlp", inputs, outputs, initializer=graph.initializers)
    opsets = [helper.make_opsetid("", opset)] + ([helper.make_opsetid(ML_DOMAIN, ML_OPSET)]
                                                 if pre is not None and pre.categorical else [])
    proto = helper.make_model(g, opset_imports=opsets, producer_name="deltaprop", producer_version=__version__,
                              ir_version=helper.find_min_ir_version_for(opsets),
                              doc_string="Multilayer perceptron exported by deltaprop (inference graph).")
    props = {"architecture": json.dumps([layer.get_config() for layer in model.layers]), "dtype": model.dtype.name}
    if pre is not None:
        props["preprocessing"] = json.dumps(pre.get_config())
    if model.classes is not None:
        props["classes"] = json.dumps(model.classes)
    helper.set_model_props(proto, props)
    onnx.checker.check_model(proto, full_check=True)
    if path is not None:
        atomic_write(path, proto.SerializeToString())
    return proto


ML_DOMAIN = "ai.onnx.ml"
#: LabelEncoder with string keys and int64 values (ai.onnx.ml opset 2 and later)
ML_OPSET = 3
#: spellings of a missing text value the graph recognises (Python compares lower-cased and stripped)
ONNX_MISSING = ("", "NA", "na", "Na", "N/A", "n/a", "NaN", "nan", "NAN", "null", "NULL", "Null", "None", "none",
                "NONE", "?", "<NA>", "NaT", "nat", "NAT")


def feeds(model: Sequential, X: Any) -> dict[str, np.ndarray]:
    """The input dictionary of the exported graph for raw rows ``X`` (a table, or for an all-numeric
    preprocessor a matrix of its columns): ``session.run(None, feeds(model, X))``."""
    from ..datasets.columns import Columns, as_columns, is_table
    from ..nn.preprocess import _as_text

    pre = model.preprocessor
    if pre is None:
        return {"input": np.asarray(X, dtype=model.dtype)}
    if is_table(X):
        cols = as_columns(X, where="feeds")
    else:
        arr = np.asarray(X, dtype=np.float64)
        cols = Columns({name: arr[:, j] for j, name in enumerate(pre.input_names)})
    out = {}
    for c in pre.columns or ():
        if c.name not in cols:
            raise ValueError(f"feeds: the table lacks the column {c.name!r} the model was trained on.")
        values = cols[c.name]
        if c.kind == "number":
            out[c.name] = np.asarray(values, dtype=np.float64).reshape(-1, 1)
        else:
            out[c.name] = np.array(["" if v is None else v for v in _as_text(values)], dtype=object).reshape(-1, 1)
    return out


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

    def preprocess(self, pre: Any, out: str, helper: Any, TensorProto: Any) -> list[Any]:
        """Nodes from the raw column inputs to ``out`` (the network's input); returns the graph inputs."""
        node, np_helper = helper.make_node, self.numpy_helper
        inputs, parts = [], []
        numeric = pre.numeric
        for c in pre.columns:
            elem = TensorProto.DOUBLE if c.kind == "number" else TensorProto.STRING
            inputs.append(helper.make_tensor_value_info(c.name, elem, ["batch", 1]))
        if numeric:
            t = pre.tensors()
            for key in ("median", "mean", "std"):
                self.initializers.append(np_helper.from_array(t[key].reshape(1, -1), f"preprocess.{key}"))
            raw = "preprocess.numbers"
            self.nodes += [
                node("Concat", [c.name for c in numeric], [raw], name="preprocess.Concat", axis=1),
                node("IsNaN", [raw], ["preprocess.isnan"], name="preprocess.IsNaN"),
                node("Where", ["preprocess.isnan", "preprocess.median", raw], ["preprocess.imputed"],
                     name="preprocess.Impute"),
                node("Sub", ["preprocess.imputed", "preprocess.mean"], ["preprocess.centred"], name="preprocess.Sub"),
                node("Div", ["preprocess.centred", "preprocess.std"], ["preprocess.scaled"], name="preprocess.Div"),
                node("Cast", ["preprocess.scaled"], ["preprocess.standardised"], name="preprocess.Cast",
                     to=self.elem(TensorProto)),
            ]
            parts.append("preprocess.standardised")
            flags = [j for j, c in enumerate(numeric) if c.indicator]
            if flags:
                self.initializers.append(np_helper.from_array(np.array(flags, dtype=np.int64),
                                                              "preprocess.indicator_columns"))
                self.nodes += [
                    node("Cast", ["preprocess.isnan"], ["preprocess.missing"], to=self.elem(TensorProto)),
                    node("Gather", ["preprocess.missing", "preprocess.indicator_columns"], ["preprocess.indicators"],
                         name="preprocess.Indicators", axis=1),
                ]
                parts.append("preprocess.indicators")
        for k, c in enumerate(pre.categorical):
            p = f"preprocess.{k}"
            keys = list(c.categories) + [m for m in ONNX_MISSING if m not in c.categories]
            values = list(range(len(c.categories))) + [len(c.categories) if c.missing else -1] * (
                len(keys) - len(c.categories))
            width = len(c.categories) + c.missing
            self.initializers.append(np_helper.from_array(np.arange(width, dtype=np.int64).reshape(1, -1),
                                                          f"{p}.range"))
            self.nodes += [
                node("LabelEncoder", [c.name], [f"{p}.code"], name=f"{p}.LabelEncoder", domain=ML_DOMAIN,
                     keys_strings=keys, values_int64s=values, default_int64=-1),
                node("Equal", [f"{p}.code", f"{p}.range"], [f"{p}.hot"], name=f"{p}.Equal"),
                node("Cast", [f"{p}.hot"], [f"{p}.onehot"], name=f"{p}.Cast", to=self.elem(TensorProto)),
            ]
            parts.append(f"{p}.onehot")
        self.nodes.append(node("Concat", parts, [out], name="preprocess.Features", axis=1))
        return inputs

    def elem(self, TensorProto: Any) -> int:
        return TensorProto.DOUBLE if self.dtype == np.float64 else TensorProto.FLOAT

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
