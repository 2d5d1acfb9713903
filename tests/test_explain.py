"""explain: one training step in the seeds' notation, with the engine's own numbers."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

import deltaprop as dp
from _render import katex_render
from deltaprop.explain import Explanation, explain
from deltaprop.seed import XOR_X, XOR_Y, seed_initial_weights, seed_network


def _sigmoid(z: float) -> float:
    return 1.0 / (1.0 + math.exp(-z))


def test_seed_xor_step_matches_a_hand_computation() -> None:
    """The seed's 2-2-1 net on x = (0, 1), y = 1, L = ½(a − y)², η = 0.1, worked out scalar by scalar."""
    w = seed_initial_weights()
    W1, b1, W2, b2 = w["0.W"], w["0.b"], w["2.W"][0], w["2.b"][0]
    x, y, eta = (0.0, 1.0), 1.0, 0.1
    # forward: z_j = Σ_i w_ji x_i + b_j; a_j = σ(z_j)
    z1 = [W1[j, 0] * x[0] + W1[j, 1] * x[1] + b1[j] for j in range(2)]
    a1 = [_sigmoid(z) for z in z1]
    z2 = W2[0] * a1[0] + W2[1] * a1[1] + b2
    a2 = _sigmoid(z2)
    loss = 0.5 * (a2 - y) ** 2
    # backward: δ(L) = (a − y) σ'(z) with σ' = a(1 − a); δ_j(1) = w_j(2) δ(2) σ'(z_j(1))
    d2 = (a2 - y) * a2 * (1 - a2)
    d1 = [W2[j] * d2 * a1[j] * (1 - a1[j]) for j in range(2)]
    dW2 = [d2 * a1[0], d2 * a1[1]]
    dW1 = [[d1[j] * x[i] for i in range(2)] for j in range(2)]
    # update: w ← w − η ∂L/∂w
    W2_new = [W2[i] - eta * dW2[i] for i in range(2)]
    b1_new = [b1[j] - eta * d1[j] for j in range(2)]

    e = explain(seed_network(), [[0, 1]], [[1]], loss=dp.HalfSSE(reduction="sum"), lr=eta)
    first, second = e.layers
    close = {"rtol": 1e-12, "atol": 1e-15}
    np.testing.assert_allclose(first.z[0], z1, **close)
    np.testing.assert_allclose(first.a[0], a1, **close)
    np.testing.assert_allclose(second.z[0, 0], z2, **close)
    np.testing.assert_allclose(second.a[0, 0], a2, **close)
    assert e.loss_value == pytest.approx(loss, rel=1e-12)
    np.testing.assert_allclose(second.delta[0, 0], d2, **close)
    np.testing.assert_allclose(first.delta[0], d1, **close)
    np.testing.assert_allclose(second.dW[0], dW2, **close)
    np.testing.assert_allclose(first.dW, dW1, **close)
    np.testing.assert_allclose(first.db, d1, **close)
    np.testing.assert_allclose(second.W_new[0], W2_new, **close)
    np.testing.assert_allclose(first.b_new, b1_new, **close)
    # the seed script's first forward pass, to four places: a(2) for x = (0, 1) is 0.6974
    assert round(a2, 4) == 0.6974


def test_default_is_the_seed_xor_first_example() -> None:
    e = explain()
    np.testing.assert_array_equal(e.x, XOR_X[:1])
    np.testing.assert_array_equal(e.y, XOR_Y[:1])
    assert e.loss.name == "half_sse" and e.loss.reduction == "sum" and e.optimizer.lr == 0.1
    assert round(float(e.output[0, 0]), 8) == 0.68808925  # σ(W2 σ(b1) + b2) of the seed's weights
    assert len(explain(batch=True).x) == 4


def _engine_step(model: dp.Sequential, loss: dp.Loss, X: np.ndarray, Y: np.ndarray, lr: float):
    """The engine's own step, run independently: forward values per layer, gradients, updated weights."""
    net = model.copy()
    Y = np.asarray(Y, dtype=net.dtype)  # fit converts targets to the model's dtype, as explain does
    outs, a = [], np.asarray(X, dtype=net.dtype)
    for layer in net.layers:  # Sequential.forward, layer by layer
        a = layer.forward(a, False)
        outs.append(a.copy())
    a_out = net.copy().forward(np.asarray(X, dtype=net.dtype), training=False)
    value, delta, top = net.output_delta(loss, a, Y)
    net._backward_from(top, delta)
    grads = {k: g.copy() for k, g in net.gradients().items()}
    dp.SGD(lr=lr).step(net)
    return outs, a_out, value, grads, net.get_weights()


CASES = [
    ("sigmoid+half_sse", lambda: seed_network(), dp.HalfSSE(reduction="sum"), XOR_X, XOR_Y),
    ("relu+softmax+ce (fused)", lambda: dp.mlp([3, 5, 4, 3], activation="relu", output_activation="softmax",
                                               seed=1, dtype="float64"),
     dp.CategoricalCrossEntropy(), np.array([[0.5, -1.0, 2.0], [1.0, 0.2, -0.3]]), np.eye(3)[[2, 0]]),
    ("tanh+identity+mse float32", lambda: dp.mlp([4, 6, 2], activation="tanh", seed=2),
     dp.MSE(), np.linspace(-1, 1, 12).reshape(3, 4), np.linspace(0, 1, 6).reshape(3, 2)),
    ("softmax+mse (not fused)", lambda: dp.mlp([2, 3, 3], activation="sigmoid", output_activation="softmax",
                                               seed=3, dtype="float64"),
     dp.MSE(), np.array([[0.1, 0.9]]), np.array([[0.0, 1.0, 0.0]])),
    ("sigmoid+bce (fused), dropout", lambda: dp.mlp([2, 4, 1], activation="elu", output_activation="sigmoid",
                                                    dropout=0.3, seed=4, dtype="float64"),
     dp.BinaryCrossEntropy(), XOR_X, XOR_Y),
]


@pytest.mark.parametrize(("name", "make", "loss", "X", "Y"), CASES, ids=[c[0] for c in CASES])
def test_numbers_are_exactly_the_engines(name, make, loss, X, Y) -> None:
    model, lr = make(), 0.05
    before = model.get_weights()
    outs, a_out, value, grads, after = _engine_step(model, loss, X, Y, lr)
    e = explain(model, X, Y, loss=loss, lr=lr)
    # the model itself is untouched (explain works on a copy) and keeps no instance-level hooks
    for k, v in model.get_weights().items():
        np.testing.assert_array_equal(v, before[k])
    assert all("forward" not in vars(layer) and "backward" not in vars(layer) for layer in model.layers)
    assert e.loss_value == value
    np.testing.assert_array_equal(e.output, a_out)
    for s in e.layers:
        i = s.index
        np.testing.assert_array_equal(s.z, outs[i])
        np.testing.assert_array_equal(s.a_prev, outs[i - 1] if i else np.asarray(X, dtype=model.dtype))
        np.testing.assert_array_equal(s.dW, grads[f"{i}.W"])
        np.testing.assert_array_equal(s.db, grads[f"{i}.b"])
        np.testing.assert_array_equal(s.W_new, after[f"{i}.W"])
        np.testing.assert_array_equal(s.b_new, after[f"{i}.b"])
        # ∂L/∂W = δ aᵀ and ∂L/∂b = Σ δ (E4, E5), from the recorded δ
        np.testing.assert_allclose(s.dW, s.delta.T @ s.a_prev, rtol=1e-6, atol=1e-7)
        np.testing.assert_allclose(s.db, s.delta.sum(axis=0), rtol=1e-6, atol=1e-7)
    for below, above in zip(e.layers[:-1], e.layers[1:]):
        # hidden δ(l) = (W(l+1)ᵀ δ(l+1)) ⊙ σ'(z(l)) (E6 then E3), with σ' read from the activation layer
        np.testing.assert_array_equal(below.da, above.delta @ above.W)
        np.testing.assert_array_equal(below.delta, below.da * below.sigma_prime)
    top = e.layers[-1]
    if e.fused:
        np.testing.assert_allclose(top.delta, loss.fused_delta(top.a, Y))
    else:
        np.testing.assert_array_equal(top.da, loss.grad(top.a.copy(), np.asarray(Y, dtype=model.dtype)))


def test_inplace_updates_the_model() -> None:
    model = seed_network()
    e = explain(model, XOR_X, XOR_Y, loss="half_sse", inplace=True)
    np.testing.assert_array_equal(model.layers[0].W, e.layers[0].W_new)
    assert not np.array_equal(e.layers[0].W, e.layers[0].W_new)


def test_formats() -> None:
    e = explain(batch=True)
    text = e.to_text()
    for needle in ("z⁽¹⁾ = W⁽¹⁾ a⁽⁰⁾ + b⁽¹⁾", "δ⁽²⁾ = ∂L/∂a⁽²⁾ ⊙ σ'(z⁽²⁾)", "∂L/∂a⁽¹⁾ = W⁽²⁾ᵀ δ⁽²⁾",
                   "∂L/∂W⁽¹⁾ = δ⁽¹⁾ a⁽⁰⁾ᵀ", "W⁽²⁾ ← W⁽²⁾ − η ∂L/∂W⁽²⁾", "0.6881", "0.575950"):
        assert needle in text
    md = e.to_markdown()
    assert md.count("$$") % 2 == 0 and md.count("$$") >= 20
    for needle in (r"\delta^{(1)}", r"W^{(2)\top}", r"\odot", r"\begin{bmatrix}",
                   r"\frac{\partial L}{\partial W^{(1)}}"):
        assert needle in md
    assert e._repr_markdown_() == md
    html_out = e._repr_html_()
    assert html_out.startswith("<div") and "&amp;" in html_out and "<h4>" in html_out
    data = json.loads(e.to_json())
    assert data["loss"]["value"] == e.loss_value
    for s, d in zip(e.layers, data["layers"]):
        for key in ("z", "a", "delta", "dW", "db", "W_new"):
            np.testing.assert_array_equal(np.array(d[key]), getattr(s, key))  # JSON floats round-trip exactly
    assert explain(fmt="json") == explain().to_json()
    assert str(e) == text and e.format("markdown") == md


def test_wide_matrices_are_elided() -> None:
    model = dp.mlp([20, 12, 3], seed=0)
    text = explain(model, np.ones((1, 20)), np.zeros((1, 3))).to_text()
    assert "⋯" in text and "⋮" in text
    assert r"\cdots" in explain(model, np.ones((1, 20)), np.zeros((1, 3)), fmt="markdown")


def test_errors_name_the_argument() -> None:
    with pytest.raises(ValueError, match="unknown format 'latex'"):
        explain(fmt="latex")
    with pytest.raises(ValueError, match="x was given without y"):
        explain(seed_network(), [[0, 1]])
    with pytest.raises(ValueError, match=r"shape \(n, 2\)"):
        explain(seed_network(), [[0, 1, 2]], [[1]])
    with pytest.raises(ValueError, match="pass x and y"):
        explain(dp.mlp([3, 2]))
    with pytest.raises(TypeError, match="Sequential"):
        explain("model.dpz", [[0, 1]], [[1]])  # type: ignore[arg-type]


def test_latex_renders_with_katex() -> None:
    """Every $$ block of the Markdown compiles with KaTeX (the same TeX subset GitHub and Jupyter render)."""
    models = [(None, None, None), (dp.mlp([3, 5, 3], activation="relu", output_activation="softmax", seed=1),
                                   np.array([[0.5, -1.0, 2.0]]), np.array([2])),
              (dp.mlp([2, 3, 3], output_activation="softmax", seed=3), np.array([[0.1, 0.9]]), np.eye(3)[[1]])]
    blocks = []
    for model, x, y in models:
        md = explain(model, x, y, loss=None if model is None or y.ndim == 1 else "mse", fmt="markdown")
        parts = md.split("$$")
        blocks += [parts[k].strip() for k in range(1, len(parts), 2)]
    errors = katex_render(blocks)
    assert errors == [None] * len(blocks), [b for b, err in zip(blocks, errors) if err][:1]


def test_sequential_rich_display() -> None:
    model = seed_network()
    md = model._repr_markdown_()
    assert "| 0 | `Dense(2, 2)` | (n, 2) | 6 |" in md and "parameters: 9" in md
    assert "<table>" in model._repr_html_() and "Dense(2, 2)" in model._repr_html_()


def test_explanation_is_exported() -> None:
    assert dp.explain is explain
    assert isinstance(dp.explain(), Explanation)
