"""Optimizers and schedules: each update restated from its formula on a hand-sized example."""

from __future__ import annotations

import math

import numpy as np
import pytest

import deltaprop as dp


def one_param(w0, g):
    w = np.array(w0, dtype=np.float64)
    return {"w": w}, {"w": np.array(g, dtype=np.float64)}


def test_plain_sgd_is_w_minus_eta_grad():
    params, grads = one_param([1.0, -2.0], [0.5, 0.25])
    dp.SGD(lr=0.1).step(params, grads)
    np.testing.assert_allclose(params["w"], [1.0 - 0.05, -2.0 - 0.025])


def test_momentum_accumulates_velocity():
    params, grads = one_param([0.0], [1.0])
    opt = dp.SGD(lr=0.1, momentum=0.9)
    opt.step(params, grads)  # v = 1, w = −0.1
    opt.step(params, grads)  # v = 0.9 + 1 = 1.9, w = −0.1 − 0.19
    np.testing.assert_allclose(params["w"], [-0.29])


def test_adam_first_step_moves_by_lr_times_sign():
    params, grads = one_param([0.0, 0.0], [3.0, -0.001])
    dp.Adam(lr=0.01).step(params, grads)
    # m̂ = g, v̂ = g², so the step is lr · g / (|g| + eps) ≈ lr · sign(g)
    np.testing.assert_allclose(params["w"], [-0.01, 0.01], rtol=1e-4)


def test_adamw_decays_before_the_adam_step():
    params, grads = one_param([2.0], [0.0])
    dp.AdamW(lr=0.1, weight_decay=0.5).step(params, grads)
    np.testing.assert_allclose(params["w"], [2.0 * (1 - 0.05)])


def test_clip_norm_rescales_the_global_gradient():
    params = {"a": np.zeros(1), "b": np.zeros(1)}
    grads = {"a": np.array([3.0]), "b": np.array([4.0])}  # ‖g‖ = 5
    dp.SGD(lr=1.0, clip_norm=1.0).step(params, grads)
    np.testing.assert_allclose([params["a"][0], params["b"][0]], [-0.6, -0.8], rtol=1e-6)


@pytest.mark.parametrize(
    ("schedule", "expected"),
    [
        (dp.StepLR(2, 0.5), [1.0, 1.0, 0.5, 0.5, 0.25]),
        (dp.ExponentialLR(0.5), [1.0, 0.5, 0.25, 0.125, 0.0625]),
        (dp.CosineAnnealingLR(4), [1.0, 0.5 * (1 + math.cos(math.pi / 4)), 0.5, 0.5 * (1 + math.cos(3 * math.pi / 4)),
                                   0.0]),
        (dp.LinearWarmup(2, start_factor=0.5), [0.5, 0.75, 1.0, 1.0, 1.0]),
    ],
)
def test_schedules_follow_their_formula(schedule, expected):
    opt = dp.SGD(lr=1.0, schedule=schedule)
    seen = [opt.lr]
    for _ in range(4):
        opt.epoch_end()
        seen.append(opt.lr)
    np.testing.assert_allclose(seen, expected, atol=1e-15)


def test_reduce_on_plateau_waits_patience_epochs():
    opt = dp.SGD(lr=1.0, schedule=dp.ReduceLROnPlateau(factor=0.5, patience=2))
    for metric in [1.0, 0.5, 0.5, 0.5]:
        opt.epoch_end(metric)
    assert opt.lr == 1.0
    opt.epoch_end(0.5)  # third epoch without improvement
    assert opt.lr == 0.5


def test_state_dict_round_trip_continues_identically():
    rng = np.random.default_rng(0)
    grads = [{"w": rng.normal(size=3)} for _ in range(6)]
    a = dp.Adam(lr=0.1, schedule=dp.StepLR(1, 0.9))
    pa = {"w": np.ones(3)}
    for g in grads[:3]:
        a.step(pa, g)
        a.epoch_end()
    b = dp.Adam(lr=0.1, schedule=dp.StepLR(1, 0.9))
    b.load_state_dict(a.state_dict())
    pb = {"w": pa["w"].copy()}
    for g in grads[3:]:
        a.step(pa, g)
        a.epoch_end()
        b.step(pb, g)
        b.epoch_end()
    np.testing.assert_array_equal(pa["w"], pb["w"])


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: dp.SGD(lr=0), "SGD: lr must be a finite number > 0, got 0"),
        (lambda: dp.SGD(lr=-1), "lr must be a finite number > 0"),
        (lambda: dp.SGD(lr=0.1, nesterov=True), "nesterov=True needs momentum > 0"),
        (lambda: dp.Adam(betas=(0.9, 1.0)), r"beta2 must be in \[0, 1\)"),
        (lambda: dp.RMSprop(alpha=1.5), r"alpha must be in \[0, 1\)"),
        (lambda: dp.optimizers.get("adma"), "unknown optimizer 'adma'.*Did you mean 'adam'"),
        (lambda: dp.StepLR(0), "step_size must be a positive int"),
    ],
)
def test_bad_settings_are_rejected_with_a_clear_message(make, message):
    with pytest.raises(ValueError, match=message):
        make()


# -- behaviours around the equations (issue #13, section 6): each fails if its rule is changed -------
def _model_with_biases(seed: int = 0) -> dp.Sequential:
    model = dp.mlp([3, 4, 2], seed=seed, dtype="float64")
    for layer in model.layers:
        if isinstance(layer, dp.Dense):
            layer.b = np.linspace(0.5, 1.5, layer.n_out)  # non-zero: a decayed bias would move
    return model


@pytest.mark.parametrize("cls", [dp.SGD, dp.Adam, dp.AdamW, dp.RMSprop])
def test_decay_bias_false_leaves_biases_undecayed_over_several_steps(cls: type) -> None:
    model = _model_with_biases()
    opt = cls(lr=0.1, weight_decay=0.5, decay_bias=False)
    biases = {k: v.copy() for k, v in model.parameters().items() if k.endswith(".b")}
    weights = {k: v.copy() for k, v in model.parameters().items() if k.endswith(".W")}
    for _ in range(3):  # zero gradients: only the decay could move a parameter
        for g in model.gradients().values():
            g[...] = 0.0
        opt.step(model)
    for k, b in biases.items():
        np.testing.assert_array_equal(model.parameters()[k], b)
    assert all(not np.array_equal(model.parameters()[k], w) for k, w in weights.items())


def test_decay_bias_true_decays_biases() -> None:
    model = _model_with_biases()
    b0 = model.parameters()["0.b"].copy()
    for g in model.gradients().values():
        g[...] = 0.0
    dp.SGD(lr=0.1, weight_decay=0.5).step(model)
    np.testing.assert_allclose(model.parameters()["0.b"], b0 * (1 - 0.1 * 0.5))


@pytest.mark.parametrize("flat", [True, False])
def test_clip_norm_never_scales_small_gradients_up(flat: bool) -> None:
    w = {"w": np.array([1.0, 2.0, 3.0])}
    g = {"w": np.array([0.03, -0.04, 0.0])}  # norm 0.05, far below the threshold
    opt = dp.SGD(lr=1.0, clip_norm=10.0)
    if flat:
        model = dp.Sequential([dp.Dense(1, 3, dtype="float64")])
        model.layers[0].W = w["w"].reshape(3, 1)
        model.layers[0].b = np.zeros(3)
        model.layers[0].dW[...] = g["w"].reshape(3, 1)
        model.layers[0].db[...] = 0.0
        opt.step(model)
        np.testing.assert_allclose(model.layers[0].W[:, 0], w["w"] - g["w"])
    else:
        opt.step(w, g)
        np.testing.assert_allclose(w["w"], np.array([1.0, 2.0, 3.0]) - g["w"])


def test_clip_norm_scales_large_gradients_down_to_the_threshold() -> None:
    w, g = {"w": np.zeros(2)}, {"w": np.array([3.0, 4.0])}  # norm 5
    dp.SGD(lr=1.0, clip_norm=1.0).step(w, g)
    assert np.linalg.norm(w["w"]) == pytest.approx(1.0, rel=1e-5)


@pytest.mark.parametrize("change", ["shape", "dtype"])
def test_state_buffer_is_rebuilt_when_a_parameter_changes_shape_or_dtype(change: str) -> None:
    opt = dp.SGD(lr=0.1, momentum=0.9)
    opt.step({"w": np.ones(3)}, {"w": np.ones(3)})
    w = np.ones(4) if change == "shape" else np.ones(3, dtype=np.float32)
    opt.step({"w": w}, {"w": np.ones_like(w)})
    v = opt.state["w"]["v"]
    assert v.shape == w.shape and v.dtype == w.dtype
    np.testing.assert_array_equal(v, np.ones_like(w))  # a fresh buffer: μ·0 + g, not the old momentum
