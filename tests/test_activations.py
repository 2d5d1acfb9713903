"""Activation functions: values, derivatives and numerical properties (hypothesis)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from deltaprop import activations as act

finite = st.floats(-1e4, 1e4, allow_nan=False)
rows = arrays(np.float64, st.tuples(st.integers(1, 5), st.integers(1, 6)), elements=finite)


@given(rows)
def test_sigmoid_stays_in_unit_interval_without_warnings(z):
    with np.errstate(all="raise", under="ignore"):  # halving a subnormal z underflows, harmlessly
        a = act.sigmoid(z)
    assert np.all((a >= 0) & (a <= 1))


@given(arrays(np.float64, st.integers(1, 20), elements=st.floats(-30, 30)))
def test_sigmoid_equals_the_textbook_formula(z):
    np.testing.assert_allclose(act.sigmoid(z), 1 / (1 + np.exp(-z)), rtol=1e-12, atol=1e-15)


@given(rows)
def test_softmax_rows_sum_to_one_and_ignore_a_constant_shift(z):
    with np.errstate(all="raise", under="ignore"):  # exp underflowing to 0 is the right answer
        a = act.softmax(z)
        shifted = act.softmax(z + 123.0)
    np.testing.assert_allclose(a.sum(axis=1), 1.0, rtol=1e-12)
    np.testing.assert_allclose(a, shifted, atol=1e-12)


@given(rows)
def test_log_softmax_is_log_of_softmax_where_finite(z):
    with np.errstate(all="raise", under="ignore"):
        ls = act.log_softmax(z)
    assert np.all(np.isfinite(ls))
    np.testing.assert_allclose(np.exp(ls), act.softmax(z), atol=1e-12)


@given(rows)
def test_softplus_and_elu_never_overflow(z):
    with np.errstate(over="raise", invalid="raise"):
        assert np.all(np.isfinite(act.softplus(z)))
        assert np.all(np.isfinite(act.elu(z)))


def test_relu_derivative_is_zero_at_the_kink():
    np.testing.assert_array_equal(act.relu_prime(np.array([-1.0, 0.0, 2.0])), [0.0, 0.0, 1.0])


@pytest.mark.parametrize(
    ("f", "fprime"),
    [
        (act.sigmoid, lambda z: act.sigmoid_prime_from_a(act.sigmoid(z))),
        (act.tanh, lambda z: act.tanh_prime_from_a(np.tanh(z))),
        (lambda z: act.leaky_relu(z, 0.2), lambda z: act.leaky_relu_prime(z, 0.2)),
        (lambda z: act.elu(z, 0.5), lambda z: act.elu_prime(z, act.elu(z, 0.5), 0.5)),
        (act.gelu, act.gelu_prime),
        (lambda z: act.gelu(z, "none"), lambda z: act.gelu_prime(z, "none")),
        (act.softplus, act.softplus_prime),
    ],
)
def test_derivatives_match_central_differences(f, fprime):
    z = np.linspace(-4, 4, 81) + 0.013  # avoid the kink at exactly 0
    h = 1e-6
    np.testing.assert_allclose(fprime(z), (f(z + h) - f(z - h)) / (2 * h), atol=1e-8)


def test_gelu_erf_and_tanh_forms_are_close():
    z = np.linspace(-5, 5, 101)
    np.testing.assert_allclose(act.gelu(z, "tanh"), act.gelu(z, "none"), atol=1e-3)


def test_float32_in_float32_out():
    z = np.linspace(-3, 3, 7, dtype=np.float32)
    for f in (act.sigmoid, act.tanh, act.relu, act.softplus, act.gelu, act.elu):
        assert f(z).dtype == np.float32
    assert act.softmax(z.reshape(1, -1)).dtype == np.float32


def test_elu_prime_default_alpha_is_one() -> None:
    z = np.array([-2.0, -0.5, 0.5])
    a = act.elu(z)
    np.testing.assert_array_equal(act.elu_prime(z, a), act.elu_prime(z, a, 1.0))
    np.testing.assert_allclose(act.elu_prime(z, a), [np.exp(-2.0), np.exp(-0.5), 1.0])
    np.testing.assert_allclose(act.elu(z), [np.expm1(-2.0), np.expm1(-0.5), 0.5])


def test_elu_prime_keeps_the_dtype_and_takes_alpha_at_zero() -> None:
    """Found by the mutation run (docs/reliability.md): float32 stays float32, and at z = 0 the
    derivative is the left one, α (torch's convention), not 1."""
    z = np.array([-1.0, 0.0, 2.0], dtype=np.float32)
    d = act.elu_prime(z, act.elu(z, 0.5), 0.5)
    assert d.dtype == np.float32
    np.testing.assert_allclose(d, [0.5 * np.exp(-1.0), 0.5, 1.0], rtol=1e-6)
