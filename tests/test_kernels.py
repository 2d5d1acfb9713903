"""The fused numba kernels compute what the NumPy reference formulas compute."""

from __future__ import annotations

import os

import numpy as np
import pytest

from deltaprop import kernels, optimizers

if os.environ.get("CI") and not kernels.AVAILABLE:
    pytest.fail("CI installs numba (the 'fast' extra): the fused kernels must be tested there")
pytestmark = pytest.mark.skipif(not kernels.AVAILABLE, reason="numba is not installed")


@pytest.mark.parametrize("size", [7, 300_001])  # the serial and the parallel kernel
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_fused_adam_equals_the_numpy_formula(size, dtype, monkeypatch):
    rng = np.random.default_rng(0)
    w0 = rng.normal(size=size).astype(dtype)
    states = {}
    for enabled in (True, False):
        monkeypatch.setattr(kernels, "enabled", enabled)
        w, m, v = w0.copy(), np.zeros_like(w0), np.zeros_like(w0)
        for t in range(1, 6):
            g = np.random.default_rng(t).normal(size=size).astype(dtype)
            optimizers.adam_step(w, g, m, v, t=t, lr=1e-2, beta1=0.9, beta2=0.999, eps=1e-8)
        states[enabled] = (w, m, v)
    tol = 1e-6 if dtype == np.float32 else 1e-14
    for fused, reference in zip(states[True], states[False]):
        np.testing.assert_allclose(fused, reference, rtol=tol, atol=tol)
