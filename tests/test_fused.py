"""The fused (numba) optimizer kernels give bit-for-bit the NumPy path's results, and the switch works.

CI installs numba (the ``test`` extra), so the kernel path is exercised; ``DELTAPROP_FUSED=0``
selects the NumPy passes, which every other test also covers for small models."""

from __future__ import annotations

import numpy as np
import pytest

import deltaprop as dp
from deltaprop.optim import fused as _fused
from deltaprop.optimizers import adam_step

pytestmark = pytest.mark.skipif(not _fused.available(), reason="numba is not installed (pip install deltaprop[fast])")


def arrays(n: int, dtype: str, seed: int = 0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    w, g = rng.normal(size=n), rng.normal(size=n) * 10.0 ** rng.integers(-6, 2, size=n)
    m, v = rng.normal(size=n), rng.random(n) * 10.0 ** rng.integers(-12, 1, size=n)
    g[:5] = 0.0  # zero gradients, moments that will be tiny: the eps branch of the denominator
    v[:5] = 0.0
    return [a.astype(dtype) for a in (w, g, m, v)]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("decay", [1.0, 1 - 1e-3 * 0.05])
@pytest.mark.parametrize("t", [1, 7, 1000])
def test_adam_kernel_is_bitwise_the_numpy_passes(monkeypatch, dtype, decay, t):
    n = _fused.MIN_SIZE + 37
    fused, plain = arrays(n, dtype), arrays(n, dtype)
    kwargs = dict(t=t, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8, decay=decay)
    adam_step(*fused, **kwargs)
    monkeypatch.setenv("DELTAPROP_FUSED", "0")
    adam_step(*plain, **kwargs)
    for name, a, b in zip("wgmv", fused, plain):
        np.testing.assert_array_equal(a, b, err_msg=name)
    assert not np.array_equal(fused[0], arrays(n, dtype)[0])  # the step did change w


def test_kernel_is_used_only_where_it_can_be(monkeypatch):
    n = _fused.MIN_SIZE
    w, g, m, v = arrays(n, "float32")
    kw = dict(beta1=0.9, beta2=0.999, eps=1e-8, step=1e-3)
    assert _fused.adam(w, g, m, v, **kw)
    assert not _fused.adam(w[:100], g[:100], m[:100], v[:100], **kw)  # small: NumPy's passes
    assert not _fused.adam(w, g.astype(np.float64), m, v, **kw)  # mixed dtypes
    W = np.zeros((128, 64), np.float32)
    assert not _fused.adam(W.T, W.T.copy(), W.T.copy(), W.T.copy(), **kw)  # not C-contiguous
    monkeypatch.setenv("DELTAPROP_FUSED", "0")
    assert not _fused.adam(w, g, m, v, **kw)


@pytest.mark.parametrize("optimizer", [lambda: dp.Adam(1e-3), lambda: dp.AdamW(2e-3, weight_decay=0.05),
                                       lambda: dp.Adam(1e-3, weight_decay=1e-4, decay_bias=False)])
def test_fit_with_and_without_the_kernel_is_bitwise_identical(monkeypatch, optimizer):
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(96, 40)).astype(np.float32), rng.integers(0, 5, size=96)
    results = []
    for flag in ("1", "0"):
        monkeypatch.setenv("DELTAPROP_FUSED", flag)
        model = dp.mlp([40, 128, 64, 5], activation="relu", output_activation="softmax", seed=3)
        assert sum(p.size for p in model.parameters().values()) >= _fused.MIN_SIZE
        history = model.fit(X, y, loss="cross_entropy", optimizer=optimizer(), epochs=3, batch_size=32, seed=1)
        results.append((model.get_weights(), history.history["loss"]))
    (w1, loss1), (w0, loss0) = results
    assert loss1 == loss0
    for key in w0:
        np.testing.assert_array_equal(w1[key], w0[key], err_msg=key)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_relu_backward_kernel_is_bitwise_the_numpy_product(monkeypatch, dtype):
    rng = np.random.default_rng(1)
    z = rng.normal(size=(64, 80)).astype(dtype)
    da = rng.normal(size=(64, 80)).astype(dtype)
    z[0, :4] = [0.0, -0.0, np.nan, np.inf]
    da[1, :3] = [np.nan, -np.inf, -0.0]
    z[1, :3] = [-1.0, -1.0, 1.0]
    fused = _fused.relu_backward(da, z)
    assert fused.base is None and fused is not da  # a new array; da is left as it was
    with np.errstate(invalid="ignore"):  # inf · 0 is NaN, in both paths
        expected = np.multiply(da, z > 0)
    np.testing.assert_array_equal(fused.view(f"i{fused.itemsize}"), expected.view(f"i{fused.itemsize}"))
    layer = dp.ReLU()
    layer.forward(z)
    np.testing.assert_array_equal(layer.backward(da), expected)
    monkeypatch.setenv("DELTAPROP_FUSED", "0")
    with np.errstate(invalid="ignore"):
        np.testing.assert_array_equal(layer.backward(da), expected)


@pytest.mark.parametrize("fused", ["1", "0"])
def test_relu_backward_can_write_over_da(monkeypatch, fused):
    monkeypatch.setenv("DELTAPROP_FUSED", fused)
    rng = np.random.default_rng(2)
    a = np.maximum(rng.normal(size=(64, 80)), 0).astype(np.float32)
    da = rng.normal(size=(64, 80)).astype(np.float32)
    expected = da * (a > 0)
    out = _fused.relu_backward(da, a, out=da)
    assert out is da
    np.testing.assert_array_equal(da, expected)


def test_relu_backward_in_place_kernel_is_bitwise_the_numpy_product(monkeypatch):
    rng = np.random.default_rng(4)
    a = np.maximum(rng.normal(size=(64, 80)), 0).astype(np.float32)
    a[0, :2] = [np.nan, np.inf]
    da = rng.normal(size=(64, 80)).astype(np.float32)
    da[1, :3] = [np.nan, -np.inf, -0.0]
    with np.errstate(invalid="ignore"):
        expected = np.multiply(da, a > 0)
    out = _fused.relu_backward(da, a, out=da)
    assert out is da
    np.testing.assert_array_equal(da.view("i4"), expected.view("i4"))


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("shape", [(64, 80), (256, 1024), (2, 4096), (4096, 2)])
def test_relu_backward_with_the_bias_gradient_is_bitwise_the_numpy_passes(monkeypatch, dtype, shape):
    """δ = da ⊙ (a > 0) over da and db = Σ_rows δ in one pass: the bits of NumPy's multiply and
    add.reduce(axis=0), signed zeros, NaN and ±inf included (the kernel is used at these sizes)."""
    monkeypatch.setenv("DELTAPROP_FUSED", "1")
    rng = np.random.default_rng(6)
    a = np.maximum(rng.normal(size=shape), 0).astype(dtype)
    da = (rng.normal(size=shape) * rng.choice([1e-4, 1.0, 1e4], size=shape)).astype(dtype)
    a[0, :2], da[0, :2] = [np.nan, 1.0], [1.0, -0.0]
    da[1, :2] = [np.nan, -np.inf]
    da[:, -1], a[:, -1] = -0.0, 1.0  # a column of −0: NumPy's sum is +0
    with np.errstate(invalid="ignore"):
        expected = np.multiply(da, a > 0)
        expected_db = np.add.reduce(expected, axis=0)
    db = np.empty(shape[1], dtype)
    with np.errstate(invalid="ignore"):
        out = _fused.relu_backward_db(da, a, db)
    assert out is da and _fused.loaded()
    bits = f"i{da.itemsize}"
    np.testing.assert_array_equal(da.view(bits), expected.view(bits))
    np.testing.assert_array_equal(db.view(bits), expected_db.view(bits))
