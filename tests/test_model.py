"""Sequential and the layers: shapes, keys, dtypes, seeding, dropout, the hand-worked 2-2-1 step."""

from __future__ import annotations

import numpy as np
import pytest

import deltaprop as dp


def test_hand_worked_2_2_1_sgd_step():
    """One SGD step on one sample, arithmetic written out (identity activations keep it by hand)."""
    model = dp.Sequential([
        dp.Dense(2, 2, init=[[1.0, 2.0], [0.0, -1.0]], bias_init=[0.5, 0.0], dtype="float64"), dp.Identity(),
        dp.Dense(2, 1, init=[[1.0, 3.0]], bias_init=[-1.0], dtype="float64"), dp.Identity(),
    ])
    x, y = np.array([[1.0, 1.0]]), np.array([[2.0]])
    # z1 = W1 x + b1 = [1+2+0.5, 0−1+0] = [3.5, −1];  z2 = 1·3.5 + 3·(−1) − 1 = −0.5
    a = model.forward(x)
    assert a[0, 0] == -0.5
    # L = ½(a − y)² = ½·6.25;  δ2 = a − y = −2.5
    loss = dp.HalfSSE(reduction="sum")
    assert loss.value(a, y) == 3.125
    model.backward(loss.grad(a, y))
    g = model.gradients()
    np.testing.assert_array_equal(g["2.W"], [[-2.5 * 3.5, -2.5 * -1.0]])  # δ2 a1ᵀ
    np.testing.assert_array_equal(g["2.b"], [-2.5])
    # δ1 = W2ᵀ δ2 = [−2.5, −7.5];  dW1 = δ1 xᵀ
    np.testing.assert_array_equal(g["0.W"], [[-2.5, -2.5], [-7.5, -7.5]])
    np.testing.assert_array_equal(g["0.b"], [-2.5, -7.5])
    dp.SGD(lr=0.1).step(model)
    np.testing.assert_allclose(model.parameters()["0.W"], [[1.25, 2.25], [0.75, -0.25]])
    np.testing.assert_allclose(model.parameters()["2.b"], [-0.75])


def test_parameter_keys_shapes_and_summary():
    model = dp.mlp([3, 5, 2], activation="relu", output_activation="softmax", seed=0)
    assert list(model.parameters()) == ["0.W", "0.b", "2.W", "2.b"]
    assert model.parameters()["0.W"].shape == (5, 3)  # (n_out, n_in)
    assert model.n_params == 3 * 5 + 5 + 5 * 2 + 2 == 32
    text = model.summary()
    assert "Dense(3, 5)" in text and "ReLU()" in text and "parameters: 32" in text


def test_dense_w_is_writable_and_validated():
    layer = dp.Dense(2, 3, seed=0)
    layer.W = np.ones((3, 2))
    assert layer.W.dtype == np.float32 and np.all(layer.W == 1)
    with pytest.raises(ValueError, match=r"init must have shape \(3, 2\)"):
        dp.Dense(2, 3, init=np.ones((2, 3)))
    with pytest.raises(ValueError, match=r"W must have shape \(3, 2\).*got \(2, 3\)"):
        layer.W = np.ones((2, 3))


def test_float32_by_default_and_float64_on_request():
    m32 = dp.mlp([2, 3, 1], seed=1)
    m64 = dp.mlp([2, 3, 1], seed=1, dtype="float64")
    assert all(p.dtype == np.float32 for p in m32.parameters().values())
    assert all(p.dtype == np.float64 for p in m64.parameters().values())
    assert m32.predict(np.ones((4, 2))).dtype == np.float32
    # the same seed draws the same weights whatever the dtype
    np.testing.assert_allclose(m32.parameters()["0.W"], m64.parameters()["0.W"], rtol=1e-6)
    with pytest.raises(ValueError, match="dtype must be float32 or float64"):
        dp.Dense(2, 2, dtype="int32")


def test_same_seed_gives_bitwise_the_same_run():
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(64, 4)), rng.integers(0, 3, 64)

    def run(seed):
        model = dp.mlp([4, 8, 3], activation="relu", output_activation="softmax", dropout=0.2, seed=seed)
        model.fit(X, y, optimizer=dp.Adam(lr=0.01), epochs=5, batch_size=16)
        return model.get_weights()

    a, b, c = run(3), run(3), run(4)
    for key in a:
        np.testing.assert_array_equal(a[key], b[key])
    assert any(not np.array_equal(a[k], c[k]) for k in a)


def test_dropout_is_inverted_seeded_and_off_at_inference():
    x = np.ones((1000, 50), dtype=np.float32)
    d = dp.Dropout(0.3, seed=0)
    out = d.forward(x, training=True)
    assert set(np.unique(out)) <= {0.0, np.float32(1 / 0.7)}
    assert abs((out == 0).mean() - 0.3) < 0.01
    assert abs(out.mean() - 1.0) < 0.02  # inverted: the expectation is unchanged
    np.testing.assert_array_equal(d.backward(np.ones_like(x)), d.mask)
    np.testing.assert_array_equal(d.forward(x, training=False), x)
    np.testing.assert_array_equal(dp.Dropout(0.3, seed=0).forward(x), out)
    with pytest.raises(ValueError, match=r"p must be in \[0, 1\)"):
        dp.Dropout(1.0)


@pytest.mark.parametrize("init", sorted(dp.init.INITIALIZERS))
def test_initialisers_have_their_documented_spread(init):
    layer = dp.Dense(400, 300, init=init, seed=0, dtype="float64")
    W = layer.W
    expected_std = {
        "zeros": 0.0, "uniform": np.sqrt(1 / 12), "normal": 1.0,
        "glorot_uniform": np.sqrt(2 / 700), "glorot_normal": np.sqrt(2 / 700), "xavier_uniform": np.sqrt(2 / 700),
        "xavier_normal": np.sqrt(2 / 700), "he_uniform": np.sqrt(2 / 400), "he_normal": np.sqrt(2 / 400),
        "kaiming_uniform": np.sqrt(2 / 400), "kaiming_normal": np.sqrt(2 / 400), "lecun_normal": np.sqrt(1 / 400),
        "lecun_uniform": np.sqrt(1 / 400), "pytorch_uniform": np.sqrt(1 / 1200),
    }[init]
    assert W.std() == pytest.approx(expected_std, rel=0.02, abs=1e-12)
    if init == "uniform":
        assert 0 <= W.min() and W.max() < 1


def test_backward_before_forward_is_a_clear_error():
    with pytest.raises(RuntimeError, match="before forward"):
        dp.Dense(2, 2).backward(np.ones((1, 2)))


@pytest.mark.parametrize(
    ("build", "error", "message"),
    [
        (lambda: dp.Sequential([dp.Dense(2, 3), dp.ReLU(), dp.Dense(4, 1)]), ValueError,
         r"layers\[2\]: Dense\(4, 1\) receives 3 inputs"),
        (lambda: dp.Sequential([]), ValueError, "layers is empty"),
        (lambda: dp.Sequential([dp.Dense(2, 1), "relu"]), TypeError, r"layers\[1\] is a str"),
        (lambda: dp.mlp([2, 3, 1], activation="rleu"), ValueError, "unknown activation 'rleu'.*Did you mean 'relu'"),
        (lambda: dp.mlp([2]), ValueError, "sizes must list at least two positive ints"),
        (lambda: dp.Dense(0, 2), ValueError, "n_in must be a positive int, got 0"),
    ],
)
def test_bad_architectures_are_rejected(build, error, message):
    with pytest.raises(error, match=message):
        build()


@pytest.mark.parametrize(
    ("X", "message"),
    [
        (np.ones(3), r"expected X of shape \(n_samples, n_features\), got shape \(3,\).*reshape"),
        (np.ones((2, 3)), r"expected X of shape \(n, 2\), got \(2, 3\)"),
        (np.array([[1.0, np.nan]]), "NaN or infinite"),
        (np.ones((0, 2)), "0 samples"),
    ],
)
def test_predict_rejects_bad_inputs(X, message):
    with pytest.raises(ValueError, match=message):
        dp.mlp([2, 3, 1], seed=0).predict(X)


def test_fit_validates_before_any_work():
    model = dp.mlp([2, 3, 1], seed=0)
    before = model.get_weights()
    with pytest.raises(ValueError, match="X has 4 samples but y has 3"):
        model.fit(np.ones((4, 2)), np.ones(3), epochs=1)
    with pytest.raises(ValueError, match="epochs must be a positive int"):
        model.fit(np.ones((4, 2)), np.ones(4), epochs=0)
    for k, v in model.parameters().items():
        np.testing.assert_array_equal(v, before[k])


def test_divergence_stops_with_a_message_naming_epoch_and_step():
    X = np.array([[1.0, -1.0], [2.0, 0.5]])
    model = dp.mlp([2, 4, 1], activation="identity", seed=0, dtype="float64")
    with pytest.raises(FloatingPointError, match=r"at epoch \d+, step \d+ \(lr=50\).*Lower the learning rate"), \
            np.errstate(all="ignore"):
        model.fit(X, np.array([1.0, -1.0]), optimizer=dp.SGD(lr=50.0), epochs=1000)


def test_evaluate_and_train_on_batch():
    model = dp.mlp([2, 4, 2], output_activation="softmax", seed=0)
    X, y = np.array([[0.0, 1.0], [1.0, 0.0]]), np.array([1, 0])
    first = model.train_on_batch(X, y, loss="cross_entropy", optimizer=dp.SGD(lr=0.5))
    for _ in range(50):
        last = model.train_on_batch(X, y)
    assert last < first
    result = model.evaluate(X, y, metrics=["accuracy"])
    assert result["accuracy"] == 1.0 and result["loss"] == pytest.approx(last, rel=0.2)


def test_repr_shows_the_network():
    text = repr(dp.Sequential([dp.Dense(2, 3), dp.LeakyReLU(0.2), dp.Dense(3, 1)]))
    assert "Dense(2, 3)" in text and "LeakyReLU(alpha=0.2)" in text


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_one_sample_gradient_is_the_outer_product_bitwise(dtype):
    """Batch 1 takes dW = δᵀ a as a broadcast multiply (faster than a k = 1 GEMM): the same numbers."""
    rng = np.random.default_rng(0)
    layer = dp.Dense(37, 23, seed=0, dtype=dtype)
    a = rng.normal(size=(1, 37)).astype(dtype)
    delta = rng.normal(size=(1, 23)).astype(dtype)
    layer.forward(a)
    da = layer.backward(delta)
    np.testing.assert_array_equal(layer.dW, np.matmul(delta.T, a))
    np.testing.assert_array_equal(layer.db, delta[0])
    np.testing.assert_array_equal(da, delta @ layer.W)
    two = dp.Dense(37, 23, seed=0, dtype=dtype)  # the GEMM path gives the sum of per-sample outer products
    two.forward(np.vstack([a, a]))
    two.backward(np.vstack([delta, delta]))
    np.testing.assert_allclose(two.dW, 2 * layer.dW, rtol=1e-6)


# -- behaviours around the equations (issue #13, section 6) -----------------------------------------
def test_train_on_batch_runs_dropout_in_training_mode():
    model = dp.Sequential([dp.Dense(4, 64, seed=0), dp.ReLU(), dp.Dropout(0.5, seed=1), dp.Dense(64, 1, seed=2)],
                          dtype="float64")
    X, y = np.ones((8, 4)), np.zeros(8)
    model.train_on_batch(X, y, loss="mse", optimizer=dp.SGD(lr=0.01))
    mask = model.layers[2].mask
    assert mask is not None and (mask == 0).any() and (mask == 2.0).any()


def test_forward_casts_float64_input_to_a_float32_models_dtype():
    model = dp.mlp([3, 4, 2], seed=0)  # float32
    a = model.forward(np.ones((2, 3), dtype=np.float64), training=False)
    assert a.dtype == np.float32
    assert model.layers[0].a_prev.dtype == np.float32


def test_backward_returns_none_unless_the_input_gradient_is_asked_for():
    model = dp.mlp([3, 4, 2], seed=0, dtype="float64")
    X = np.ones((5, 3))
    a = model.forward(X)
    assert model.backward(np.ones_like(a)) is None
    model.forward(X)
    dX = model.backward(np.ones_like(a), input_grad=True)
    assert dX is not None and dX.shape == X.shape


def test_softmax_cross_entropy_takes_the_fused_output_delta():
    model = dp.mlp([3, 4, 3], output_activation="softmax", seed=0, dtype="float64")
    X, y = np.random.default_rng(0).standard_normal((5, 3)), np.array([0, 1, 2, 1, 0])
    a = model.forward(X)
    Y = np.eye(3)[y]
    _, delta, top = model.output_delta(dp.CategoricalCrossEntropy(), a, Y)
    assert top == len(model.layers) - 1  # the softmax's own backward is skipped (E8)
    np.testing.assert_array_equal(delta, (a - Y) * (1.0 / 5))


def test_parameters_live_in_one_flat_vector():
    model = dp.mlp([3, 4, 2], seed=0)
    flat = model.flat_parameters()
    assert flat is not None
    w, g, slices = flat
    assert w.size == model.n_params and g.size == model.n_params
    for key, p in model.parameters().items():
        lo, hi, shape = slices[key]
        assert np.shares_memory(p, w) and p.shape == shape
        np.testing.assert_array_equal(w[lo:hi].reshape(shape), p)
    for grad in model.gradients().values():
        assert np.shares_memory(grad, g)
