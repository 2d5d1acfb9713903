"""ONNX export: the checker accepts the graph, and onnxruntime computes what deltaprop predicts."""

from __future__ import annotations

import os

import numpy as np
import onnx
import onnxruntime as ort
import pytest

import deltaprop as dp
from _nets import ACTIVATIONS, activation_net
from deltaprop.onnx import export


def net(hidden: str, dtype: str = "float32") -> dp.Sequential:
    return activation_net(hidden, (5, 8, 4), 0.3, dtype)


def run(path_or_proto, X: np.ndarray) -> np.ndarray:
    data = path_or_proto.SerializeToString() if hasattr(path_or_proto, "SerializeToString") else str(path_or_proto)
    session = ort.InferenceSession(data, providers=["CPUExecutionProvider"])
    return session.run(["output"], {"input": X})[0]


@pytest.mark.parametrize("hidden", sorted(ACTIVATIONS))
def test_onnxruntime_matches_predict_for_every_activation(tmp_path, hidden):
    model = net(hidden)
    path = tmp_path / "m.onnx"
    export(model, path)
    onnx.checker.check_model(str(path), full_check=True)
    for n in (1, 37):  # one file, any batch size: the batch dimension is symbolic
        X = (np.random.default_rng(n).normal(size=(n, 5)) * 3).astype(np.float32)
        out = run(path, X)
        assert out.shape == (n, 4) and out.dtype == np.float32
        np.testing.assert_allclose(out, model.predict(X), rtol=0, atol=1e-5)


@pytest.mark.parametrize("approximate", ["tanh", "none"])
def test_gelu_operator_from_opset_20(approximate):
    model = dp.Sequential([dp.Dense(5, 8, seed=1), dp.GELU(approximate), dp.Dense(8, 2, seed=2)])
    proto17, proto20 = export(model, None), export(model, None, opset=20)
    assert "Gelu" not in {n.op_type for n in proto17.graph.node}
    assert "Gelu" in {n.op_type for n in proto20.graph.node}
    X = (np.random.default_rng(0).normal(size=(37, 5)) * 3).astype(np.float32)
    for proto in (proto17, proto20):
        np.testing.assert_allclose(run(proto, X), model.predict(X), rtol=0, atol=1e-5)


def test_graph_layout():
    proto = export(net("relu"), None)
    graph = proto.graph
    dims = graph.input[0].type.tensor_type.shape.dim
    assert dims[0].dim_param == "batch" and dims[1].dim_value == 5
    assert graph.output[0].type.tensor_type.shape.dim[1].dim_value == 4
    assert [n.op_type for n in graph.node] == ["Gemm", "Relu", "Identity", "Gemm", "Relu"]
    assert sorted(i.name for i in graph.initializer) == ["0.bias", "0.weight", "3.bias", "3.weight"]
    assert proto.opset_import[0].version == 17
    assert {p.key for p in proto.metadata_props} == {"architecture", "dtype"}


def test_float64_model_exports_a_double_graph():
    model = dp.mlp([5, 8, 8, 3], activation="tanh", output_activation="softmax", seed=0, dtype="float64")
    X = np.random.default_rng(0).normal(size=(37, 5))
    out = run(export(model, None), X)
    assert out.dtype == np.float64
    np.testing.assert_allclose(out, model.predict(X), rtol=0, atol=1e-12)


def test_export_writes_atomically_and_validates_arguments(tmp_path):
    export(net("tanh"), tmp_path / "a.onnx")
    assert os.listdir(tmp_path) == ["a.onnx"]
    with pytest.raises(ValueError, match="opset must be an int from 17"):
        export(net("tanh"), None, opset=13)
    with pytest.raises(TypeError, match="deltaprop Sequential"):
        export("model", None)
