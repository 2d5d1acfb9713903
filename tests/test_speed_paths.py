"""The fast paths change no result: prediction is bitwise ``forward(training=False)``, makes no copy of a
suitable input and never hands out a buffer it reuses; ``import deltaprop`` and a small fit load neither
numba nor the modules they do not use (checked in fresh processes)."""

from __future__ import annotations

import json
import subprocess
import sys
import threading

import numpy as np
import pytest

import deltaprop as dp

NETS = {
    "relu-softmax": lambda: dp.mlp([30, 64, 32, 10], activation="relu", output_activation="softmax", seed=0),
    "tanh-identity": lambda: dp.mlp([30, 7, 3], activation="tanh", seed=1),
    "relu-sigmoid, dropout": lambda: dp.mlp([30, 9, 9, 1], activation="relu", output_activation="sigmoid",
                                            dropout=0.2, seed=2),
    "relu twice, identity last": lambda: dp.Sequential([dp.Dense(30, 8, seed=3), dp.ReLU(), dp.ReLU(),
                                                        dp.Dense(8, 3, seed=4), dp.Identity()]),
    "softmax then identity": lambda: dp.Sequential([dp.Dense(30, 8, seed=3), dp.ReLU(), dp.Dense(8, 3, seed=4),
                                                    dp.Softmax(), dp.Identity()]),
    "float64": lambda: dp.mlp([30, 16, 4], activation="relu", output_activation="softmax", seed=5, dtype="float64"),
}


@pytest.mark.parametrize("fused", ["1", "0"])  # with the bias + ReLU kernel (where numba is installed), without
@pytest.mark.parametrize("name", sorted(NETS))
def test_predict_is_bitwise_the_forward_pass(monkeypatch, name, fused):
    monkeypatch.setenv("DELTAPROP_FUSED", fused)
    model = NETS[name]()
    rng = np.random.default_rng(0)
    for n in (1, 2, 17, 64, 300):
        X = rng.normal(size=(n, 30)).astype(model.dtype)
        expected = model.forward(X.copy(), training=False).copy()
        first, second = model.predict(X), model.predict(X)  # the second call reuses the buffers
        for out in (first, second):
            assert out.dtype == model.dtype and out.shape == expected.shape
            np.testing.assert_array_equal(out.view(np.uint8), expected.view(np.uint8))
        assert not np.shares_memory(first, second)  # what was handed out is never written again
        np.testing.assert_array_equal(model.predict(X, batch_size=7), np.concatenate(
            [model.forward(X[s:s + 7], training=False) for s in range(0, n, 7)]))


def test_predict_uses_a_suitable_input_as_is_and_converts_the_others():
    model = NETS["relu-softmax"]()
    X = np.random.default_rng(1).normal(size=(40, 30)).astype(np.float32)
    seen = []
    real = model._inference()

    class Spy:  # the inference path, recording what it is given
        scans_first_product = real.scans_first_product

        def __call__(self, A, refuse=None):  # type: ignore[no-untyped-def]
            seen.append(A)
            return real(A, refuse)

    model._inference = Spy  # type: ignore[method-assign]
    expected = model.predict(X)
    assert seen[-1] is X  # contiguous, float32: no copy
    for other in (X.astype(np.float64), np.asfortranarray(X), X.tolist()):
        np.testing.assert_array_equal(model.predict(other), expected)
        assert seen[-1] is not X and seen[-1].dtype == np.float32 and seen[-1].flags.c_contiguous
    X_copy = X.copy()
    model.predict(X)
    np.testing.assert_array_equal(X, X_copy)  # the input is never written


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_predict_still_refuses_non_finite_inputs(bad):
    model = NETS["relu-softmax"]()
    X = np.zeros((3, 30), np.float32)
    X[1, 4] = bad
    with pytest.raises(ValueError, match="1 NaN or infinite"):
        model.predict(X)
    with pytest.raises(ValueError, match=r"shape \(n, 30\)"):
        model.predict(np.zeros((3, 29), np.float32))


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
@pytest.mark.parametrize("n", [1, 3, 64, 200])
def test_a_narrowing_first_layer_scans_its_product_and_still_refuses_every_non_finite_input(bad, n):
    """30 → 8: the product X Wᵀ is scanned instead of X. A −inf that ReLU would turn into 0 is still caught
    (it makes its row of the product −inf or NaN before the ReLU), on the first call and on later ones."""
    model = dp.Sequential([dp.Dense(30, 8, seed=0), dp.ReLU(), dp.Dense(8, 3, seed=1), dp.Softmax()])
    from deltaprop.nn.inference import SCAN_PRODUCT_MIN_ROWS

    assert model._inference().scans_first_product(n) == (n >= SCAN_PRODUCT_MIN_ROWS)
    rng = np.random.default_rng(n)
    for _ in range(3):
        X = rng.normal(size=(n, 30)).astype(np.float32)
        X[rng.integers(n), rng.integers(30)] = bad
        with pytest.raises(ValueError, match="1 NaN or infinite"):
            model.predict(X)
        with pytest.raises(ValueError, match="1 NaN or infinite"):
            model.predict(X, batch_size=2)
        np.testing.assert_array_equal(model.predict(np.nan_to_num(X)), model.forward(np.nan_to_num(X), training=False))


def test_finite_inputs_whose_product_overflows_are_predicted_as_forward_does():
    model = dp.Sequential([dp.Dense(30, 8, seed=0), dp.Dense(8, 3, seed=1)])
    X = np.full((100, 30), 3e38, np.float32)  # finite, but X Wᵀ overflows
    with np.errstate(all="ignore"):
        expected = model.forward(X, training=False)
        for _ in range(2):
            np.testing.assert_array_equal(model.predict(X), expected)
    assert not np.isfinite(expected).all()


def test_predict_from_several_threads_at_once_gives_each_its_own_result():
    model = NETS["relu-softmax"]()
    rng = np.random.default_rng(2)
    inputs = [rng.normal(size=(64, 30)).astype(np.float32) for _ in range(4)]
    expected = [model.forward(X, training=False).copy() for X in inputs]
    errors: list[str] = []

    def work(k: int) -> None:
        for _ in range(200):
            if not np.array_equal(model.predict(inputs[k]), expected[k]):
                errors.append(f"thread {k}")
                return

    threads = [threading.Thread(target=work, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors


def test_copies_and_changed_layers_predict_correctly():
    model = NETS["relu-softmax"]()
    X = np.random.default_rng(3).normal(size=(5, 30)).astype(np.float32)
    model.predict(X)
    clone = model.copy()
    clone.layers[0].W = clone.layers[0].W * 2
    np.testing.assert_array_equal(clone.predict(X), clone.forward(X, training=False))
    model.layers[-1] = dp.Identity()  # the plan follows the layers
    np.testing.assert_array_equal(model.predict(X), model.forward(X, training=False))


def test_the_column_layout_is_used_where_it_gives_the_same_bits_and_only_there():
    """784-256-128-10 as served: up to COLUMN_MAX_ROWS rows the leading Dense layers run as W Xᵀ, and every
    prediction is still bitwise forward's; a product that gave other bits keeps the row layout."""
    from deltaprop.nn import inference

    model = dp.mlp([784, 256, 128, 10], activation="relu", output_activation="softmax", seed=0)
    rng = np.random.default_rng(4)
    for n in (1, 2, 8, 64, inference.COLUMN_MAX_ROWS, inference.COLUMN_MAX_ROWS + 1):
        X = rng.random((n, 784), dtype=np.float32)
        expected = model.forward(X, training=False).copy()
        for _ in range(2):  # the first call decides the layout, the second uses it
            np.testing.assert_array_equal(model.predict(X).view(np.uint32), expected.view(np.uint32))
    columns = model._plan.columns
    assert columns[inference.COLUMN_MAX_ROWS + 1] == 0  # beyond the limit: rows only
    assert columns[64] >= 1  # the 784 → 256 product agrees bit for bit with OpenBLAS (the case it pays for)


def test_a_column_product_with_other_bits_is_not_used(monkeypatch):
    from deltaprop.nn import inference

    real = inference._column_product

    def off_by_one_ulp(layer, aT, out):  # type: ignore[no-untyped-def]
        out = real(layer, aT, out)
        if layer.n_out == 7:  # the second layer's product differs in its last bit
            out.view(np.uint32)[...] ^= 1
        return out

    monkeypatch.setattr(inference, "_column_product", off_by_one_ulp)
    model = dp.Sequential([dp.Dense(30, 9, seed=0), dp.ReLU(), dp.Dense(9, 7, seed=1), dp.ReLU(),
                           dp.Dense(7, 3, seed=2), dp.Softmax()])
    X = np.random.default_rng(5).normal(size=(16, 30)).astype(np.float32)
    expected = model.forward(X, training=False).copy()
    for _ in range(2):
        np.testing.assert_array_equal(model.predict(X), expected)
    assert model._plan.columns[16] <= 1  # the first layer at most: the second's bits differ


def _fresh(code: str) -> dict:
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def test_import_deltaprop_loads_nothing_it_does_not_use():
    mods = _fresh("import sys, json, deltaprop; print(json.dumps(sorted(sys.modules)))")
    for heavy in ("numpy", "numba", "http.client", "deltaprop.datasets", "deltaprop.teach.explain",
                  "deltaprop.io.model_file", "deltaprop.nn.model"):
        assert heavy not in mods, heavy


def test_the_cli_parser_loads_no_numpy():
    """``deltaprop --help`` builds every command's parser; NumPy loads only when a command runs."""
    mods = _fresh("import sys, json, contextlib, io\nfrom deltaprop.cli import main\n"
                  "with contextlib.redirect_stdout(io.StringIO()):\n    main([])\n"
                  "print(json.dumps(sorted(sys.modules)))")
    assert "deltaprop.cli.train" in mods and "numpy" not in mods


def test_a_small_fit_and_predict_do_not_load_numba():
    result = _fresh(
        "import sys, json, numpy as np, deltaprop as dp\n"
        "rng = np.random.default_rng(0); X = rng.normal(size=(1000, 20)).astype(np.float32)\n"
        "y = (X @ rng.normal(size=(20, 3))).argmax(axis=1)\n"
        "m = dp.mlp([20, 64, 3], activation='relu', output_activation='softmax', seed=0)\n"
        "m.fit(X, y, optimizer='adam', epochs=50, batch_size=200)\n"
        "m.predict(X)\n"
        "from deltaprop.optim import fused\n"
        "print(json.dumps({'numba': 'numba' in sys.modules, 'loaded': fused.loaded(), 'saved': fused.would_save_s(),"
        " 'acc': float((m.predict_classes(X) == y).mean())}))")
    assert not result["numba"] and not result["loaded"]
    assert 0 < result["saved"] < dp.optim.fused.LOAD_COST_S  # the cost model counted, and said no
    assert result["acc"] > 0.8  # and the fit did learn


@pytest.mark.parametrize("flag, calls_before_loading", [("auto", 3), ("1", 1), ("0", None)])
def test_the_kernels_load_when_what_they_would_save_reaches_their_load_cost(flag, calls_before_loading):
    pytest.importorskip("numba")
    result = _fresh(
        f"import os, sys, json, numpy as np\nos.environ['DELTAPROP_FUSED'] = {flag!r}\n"
        "from deltaprop.optim import fused\n"
        "n = 1 << 20; fused.LOAD_COST_S = 2.5 * fused.GAIN_NS_PER_ELEMENT['adam'] * n * 1e-9\n"
        "w, g, m, v = (np.ones(n, np.float32) for _ in range(4))\n"
        "used = [fused.adam(w, g, m, v, beta1=0.9, beta2=0.999, eps=1e-8, step=1e-3) for _ in range(5)]\n"
        "print(json.dumps({'used': used, 'numba': 'numba' in sys.modules}))")
    if calls_before_loading is None:
        assert result == {"used": [False] * 5, "numba": False}
    else:
        assert result["used"] == [k + 1 >= calls_before_loading for k in range(5)] and result["numba"]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_the_bias_relu_kernel_is_bitwise_numpys_two_passes(monkeypatch, dtype):
    from deltaprop.optim import fused

    if not fused.available():
        pytest.skip("numba is not installed (pip install deltaprop[fast])")
    rng = np.random.default_rng(5)
    z = rng.normal(size=(64, 80)).astype(dtype)
    b = rng.normal(size=80).astype(dtype)
    z[0, :6] = [-0.0, 0.0, -0.0, np.nan, np.inf, -np.inf]
    b[:6] = [-0.0, -0.0, 0.0, 1.0, -np.inf, 2.0]
    zeros = np.zeros(80, dtype)
    expected = z.copy()
    with np.errstate(invalid="ignore"):
        expected += b
        np.maximum(expected, zeros, out=expected)
        for flag in ("1", "0"):
            monkeypatch.setenv("DELTAPROP_FUSED", flag)
            got = z.copy()
            fused.bias_relu(got, b, zeros)
            np.testing.assert_array_equal(got.view(f"i{got.itemsize}"), expected.view(f"i{got.itemsize}"))
