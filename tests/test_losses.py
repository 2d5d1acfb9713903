"""Losses: values restated from their formulas, reductions, fused deltas, stability at p ∈ {0, 1}."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import deltaprop as dp

A = np.array([[0.2, 0.7], [0.9, 0.4], [0.5, 0.5]])
Y = np.array([[0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])


def test_mse_is_the_first_seeds_E():
    # E = 1/n Σ_samples Σ_outputs (a − y)²: (0.04 + 0.09) + (0.01 + 0.16) + (0.25 + 0.25) = 0.8; /3
    assert dp.MSE().value(A, Y) == pytest.approx(0.8 / 3)
    np.testing.assert_allclose(dp.MSE().grad(A, Y), 2 * (A - Y) / 3)


def test_half_sse_sum_is_the_second_seeds_L():
    assert dp.HalfSSE(reduction="sum").value(A, Y) == pytest.approx(0.4)
    np.testing.assert_allclose(dp.HalfSSE(reduction="sum").grad(A, Y), A - Y)
    assert dp.HalfSSE().value(A, Y) == pytest.approx(0.4 / 3)


def test_mae_and_huber():
    assert dp.MAE().value(A, Y) == pytest.approx((0.2 + 0.3 + 0.1 + 0.4 + 0.5 + 0.5) / 3)
    r = A - Y
    h = np.where(np.abs(r) <= 0.3, 0.5 * r**2, 0.3 * (np.abs(r) - 0.15))
    assert dp.Huber(0.3).value(A, Y) == pytest.approx(h.sum() / 3)
    np.testing.assert_allclose(dp.Huber(0.3).grad(A, Y), np.clip(r, -0.3, 0.3) / 3)


def test_binary_cross_entropy():
    expected = -(Y * np.log(A) + (1 - Y) * np.log(1 - A)).sum() / 3
    assert dp.BinaryCrossEntropy().value(A, Y) == pytest.approx(expected)


def test_fused_deltas_are_a_minus_y_over_n():
    z = np.array([[1.0, -2.0, 0.5], [0.0, 3.0, -1.0]])
    y = np.array([2, 1])
    a = dp.activations.softmax(z)
    ce = dp.CategoricalCrossEntropy()
    np.testing.assert_allclose(ce.fused_delta(a, y), (a - np.eye(3)[y]) / 2)
    assert ce.value_from_logits(z, y) == pytest.approx(ce.value(a, y), rel=1e-12)
    bce = dp.BinaryCrossEntropy(reduction="sum")
    s = dp.activations.sigmoid(z)
    yb = (z > 0).astype(float)
    np.testing.assert_allclose(bce.fused_delta(s, yb), s - yb)
    assert bce.value_from_logits(z, yb) == pytest.approx(bce.value(s, yb), rel=1e-12)


@given(st.sampled_from([0.0, 1.0]), st.sampled_from([0.0, 1.0]))
def test_cross_entropies_stay_finite_at_probabilities_0_and_1(p, y):
    a = np.array([[p]])
    t = np.array([[y]])
    with np.errstate(all="raise"):
        assert np.isfinite(dp.BinaryCrossEntropy().value(a, t))
        assert np.all(np.isfinite(dp.BinaryCrossEntropy().grad(a, t)))
        a2 = np.array([[p, 1 - p]])
        assert np.isfinite(dp.CategoricalCrossEntropy().value(a2, np.array([int(y)])))
        assert np.all(np.isfinite(dp.CategoricalCrossEntropy().grad(a2, np.array([int(y)]))))


def test_logit_values_are_stable_for_huge_logits():
    z = np.array([[1000.0, -1000.0]])
    with np.errstate(all="raise", under="ignore"):
        assert dp.CategoricalCrossEntropy().value_from_logits(z, np.array([1])) == pytest.approx(2000.0)
        assert dp.BinaryCrossEntropy().value_from_logits(np.array([[-800.0]]), np.array([[1.0]])) == \
            pytest.approx(800.0)


def test_sample_weights_scale_each_sample():
    w = np.array([1.0, 0.0, 2.0])
    per = ((A - Y) ** 2).sum(axis=1)
    assert dp.MSE().value(A, Y, w) == pytest.approx((per * w).sum() / 3)
    np.testing.assert_allclose(dp.MSE().grad(A, Y, w), 2 * (A - Y) * w[:, None] / 3)


def test_a_1d_target_matches_a_single_output_column():
    a = np.array([[0.2], [0.6]])
    assert dp.MSE().value(a, np.array([0.0, 1.0])) == dp.MSE().value(a, np.array([[0.0], [1.0]]))


def test_errors_name_the_problem():
    with pytest.raises(ValueError, match="reduction must be 'mean' or 'sum'"):
        dp.MSE(reduction="avg")
    with pytest.raises(ValueError, match=r"targets y have shape \(3, 3\) but the network output has shape \(3, 2\)"):
        dp.MSE().value(A, np.zeros((3, 3)))
    with pytest.raises(ValueError, match=r"unknown loss 'msee'.*Did you mean 'mse'"):
        dp.losses.get("msee")
    with pytest.raises(ValueError, match=r"labels must lie in 0\.\.1"):
        dp.CategoricalCrossEntropy().value(A, np.array([0, 1, 5]))


@pytest.mark.parametrize("loss", [dp.BinaryCrossEntropy(), dp.CategoricalCrossEntropy()])
def test_cross_entropy_clips_float32_with_float32_epsilon_and_stays_float32(loss: dp.Loss) -> None:
    a = np.array([[1.0, 0.0], [0.0, 1.0]], dtype=np.float32)  # saturated probabilities
    y = np.array([[0.0, 1.0], [1.0, 0.0]], dtype=np.float32)  # the worst possible targets
    g = loss.grad(a, y)
    assert g.dtype == np.float32 and np.isfinite(g).all()
    value = loss.value(a, y)
    assert np.isfinite(value)
    eps32 = float(np.finfo(np.float32).eps)
    # the clipped log is log(eps32) (≈ −15.9), not log(eps64) (≈ −36) nor −inf
    per_output = -np.log(eps32)
    expected = 2 * per_output if isinstance(loss, dp.BinaryCrossEntropy) else per_output
    assert value == pytest.approx(expected, rel=1e-3)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_the_softmax_layer_gives_the_cross_entropy_its_log_a_bit_for_bit(dtype) -> None:
    """Training takes the cross-entropy's value from the parts the Softmax layer already computed
    (z − max z and the row sums): the value is bitwise the one from the logits, and so is log a."""
    rng = np.random.default_rng(0)
    z = (rng.standard_normal((37, 10)) * 30).astype(dtype)
    z[0] = 0.0  # a row of ties
    z[1, 3] = 700 if dtype == np.float64 else 80  # a row where exp of everything else underflows
    layer = dp.Softmax()
    a = layer.forward(z.copy())
    np.testing.assert_array_equal(a.view(np.uint8), dp.activations.softmax(z).view(np.uint8))
    np.testing.assert_array_equal(layer.log_a().view(np.uint8), dp.activations.log_softmax(z).view(np.uint8))
    loss = dp.CategoricalCrossEntropy()
    y = loss.prepare_targets(a, rng.integers(0, 10, 37))
    w = rng.random(37).astype(dtype)
    for weights in (None, w):
        assert loss._value_from_output(layer, y, weights) == loss._value_from_logits(z, y, weights)
