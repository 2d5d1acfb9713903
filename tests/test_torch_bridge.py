"""The PyTorch bridge: to_torch / from_torch keep the weights, the layer indices and the predictions."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import deltaprop as dp
from _nets import ACTIVATIONS, activation_net
from deltaprop.torch_bridge import from_torch, to_torch

nn = torch.nn

def net(hidden: str, dtype: str = "float32") -> dp.Sequential:
    return activation_net(hidden, (5, 7, 3), 0.25, dtype)


def torch_predict(module, X: np.ndarray) -> np.ndarray:
    with torch.no_grad():
        return module(torch.from_numpy(X)).numpy()


@pytest.mark.parametrize("hidden", sorted(ACTIVATIONS))
def test_round_trip_keeps_predictions(hidden):
    model = net(hidden)
    X = np.random.default_rng(4).normal(size=(37, 5)).astype(np.float32) * 2
    module = to_torch(model)
    assert not module.training
    assert [k for k in module.state_dict()] == ["0.weight", "0.bias", "3.weight", "3.bias"]
    np.testing.assert_allclose(torch_predict(module, X), model.predict(X), rtol=0, atol=1e-6)
    back = from_torch(module)
    assert [layer.get_config() for layer in back.layers] == [layer.get_config() for layer in model.layers]
    assert back.dtype == np.float32
    np.testing.assert_allclose(back.predict(X), model.predict(X), rtol=0, atol=1e-6)
    for key, w in model.parameters().items():
        np.testing.assert_array_equal(back.parameters()[key], w)


def test_float64_model_becomes_a_double_module():
    model = net("gelu_erf", dtype="float64")
    module = to_torch(model)
    assert module[0].weight.dtype == torch.float64
    X = np.random.default_rng(5).normal(size=(9, 5))
    np.testing.assert_allclose(torch_predict(module, X), model.predict(X), rtol=0, atol=1e-12)
    assert from_torch(module).dtype == np.float64


def test_from_torch_reads_a_torch_trained_network():
    torch.manual_seed(0)
    module = nn.Sequential(nn.Linear(4, 8), nn.ReLU(inplace=True), nn.Linear(8, 8, bias=False),
                           nn.Softplus(), nn.Linear(8, 2), nn.Softmax(dim=1)).eval()
    model = from_torch(module)
    assert isinstance(model.layers[2], dp.Dense)
    np.testing.assert_array_equal(model.layers[2].b, np.zeros(8, np.float32))
    X = np.random.default_rng(6).normal(size=(10, 4)).astype(np.float32)
    np.testing.assert_allclose(model.predict(X), torch_predict(module, X), rtol=0, atol=1e-6)
    np.testing.assert_allclose(from_torch(module[0]).predict(X), torch_predict(module[0], X), atol=1e-6)


def test_model_file_loads_into_to_torch_module(tmp_path):
    from safetensors.torch import load_file

    model = net("elu")
    model.save(tmp_path / "m.safetensors")
    fresh = to_torch(net("tanh").astype("float32"))  # same shapes, other weights and activations
    fresh[1], fresh[4] = nn.ELU(0.5), nn.ELU(0.5)
    fresh.load_state_dict(load_file(tmp_path / "m.safetensors"))
    X = np.random.default_rng(7).normal(size=(6, 5)).astype(np.float32)
    np.testing.assert_allclose(torch_predict(fresh, X), model.predict(X), rtol=0, atol=1e-6)


@pytest.mark.parametrize("module, error, message", [
    (nn.Sequential(nn.Linear(2, 2), nn.Softplus(beta=2)), ValueError, "only beta=1"),
    (nn.Sequential(nn.Linear(2, 2), nn.Softplus(threshold=5)), ValueError, "threshold=5"),
    (nn.Sequential(nn.Linear(2, 2), nn.Softmax(dim=0)), ValueError, "dim=0"),
    (nn.Sequential(nn.Linear(2, 2), nn.Hardtanh()), TypeError, r"module 1 \(Hardtanh.*no deltaprop equivalent"),
    (nn.Sequential(nn.Linear(2, 2), nn.ReLU6()), TypeError, "no deltaprop equivalent"),
    (nn.Sequential(nn.Sequential(nn.Linear(2, 2))), TypeError, "Flatten nested Sequentials"),
    (nn.Conv1d(1, 1, 1), TypeError, "expected a torch.nn.Sequential"),
    (nn.Sequential(nn.ReLU()), ValueError, "at least one Dense"),
    (nn.Sequential(), ValueError, "empty"),
    (nn.Sequential(nn.Linear(2, 2).half()), TypeError, "float16.*module.float"),
])
def test_from_torch_refuses_what_it_cannot_represent(module, error, message):
    with pytest.raises(error, match=message):
        from_torch(module)


def test_to_torch_needs_a_sequential():
    with pytest.raises(TypeError, match="deltaprop Sequential"):
        to_torch(nn.Linear(2, 2))
