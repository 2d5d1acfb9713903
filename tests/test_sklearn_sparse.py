"""Sparse X: the first layer multiplies the scipy.sparse rows directly (X Wᵀ forward, δᵀ X for dW), so a
fit never holds more than a batch of nonzeros, and it reaches the weights of the same fit on dense X."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.exceptions import ConvergenceWarning

import deltaprop as dp
from deltaprop.sklearn import MLPClassifier, MLPRegressor

RNG = np.random.default_rng(0)
X_SPARSE = sp.random(150, 40, density=0.1, format="csr", random_state=0)
X_DENSE = X_SPARSE.toarray()
Y_CLASS = (X_DENSE[:, :5].sum(axis=1) > X_DENSE[:, :5].sum(axis=1).mean()).astype(int)
Y_REG = X_DENSE @ RNG.normal(size=40)


def fit(est, X, y):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return est.fit(X, y)


@pytest.mark.parametrize("params", [dict(solver="sgd", learning_rate_init=0.1), dict(solver="adam", batch_size=32),
                                    dict(solver="lbfgs")], ids=["sgd", "adam", "lbfgs"])
@pytest.mark.parametrize("fmt", ["csr", "csc", "coo"])
def test_sparse_fit_equals_dense_fit(params, fmt):
    common = dict(hidden_layer_sizes=(8,), max_iter=20, random_state=0, **params)
    dense = fit(MLPClassifier(**common), X_DENSE, Y_CLASS)
    sparse = fit(MLPClassifier(**common), X_SPARSE.asformat(fmt), Y_CLASS)
    for a, b in zip(dense.coefs_ + dense.intercepts_, sparse.coefs_ + sparse.intercepts_):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-9)
    np.testing.assert_array_equal(sparse.predict(X_SPARSE), dense.predict(X_DENSE))
    np.testing.assert_allclose(sparse.predict_proba(X_SPARSE.asformat(fmt)), dense.predict_proba(X_DENSE),
                               rtol=1e-6, atol=1e-9)


def test_the_first_layer_sees_sparse_batches_only():
    seen = []
    forward = dp.Dense.forward

    def spy(self, a_prev, training=True):
        if self.n_in == 40:
            seen.append(sp.issparse(a_prev))
        return forward(self, a_prev, training)

    est = MLPRegressor(hidden_layer_sizes=(6,), max_iter=3, batch_size=50, early_stopping=True, random_state=0)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(dp.Dense, "forward", spy)
        fit(est, X_SPARSE.astype(np.float32), Y_REG)
        est.predict(X_SPARSE)
    assert seen and all(seen)  # training batches, validation and predict: never densified
    assert est.model_.dtype == np.float32


def test_dense_layer_sparse_products_match_dense_ones():
    layer = dp.Dense(40, 5, seed=0, dtype="float64")
    delta = RNG.normal(size=(150, 5))
    z_sparse = layer.forward(X_SPARSE)
    layer.backward(delta, input_grad=False)
    dW_sparse = layer.dW.copy()
    np.testing.assert_allclose(z_sparse, layer.forward(X_DENSE), rtol=1e-12)
    layer.backward(delta, input_grad=False)
    np.testing.assert_allclose(dW_sparse, layer.dW, rtol=1e-12)
    layer.forward(X_SPARSE[:1])
    layer.backward(delta[:1], input_grad=False)  # one sample: the outer-product path has a sparse form too
    np.testing.assert_allclose(layer.dW, np.outer(delta[0], X_DENSE[0]), rtol=1e-12)


def test_sparse_row_batches_is_a_batch_source():
    from deltaprop.train.batches import BatchSource, SparseRowBatches

    w = RNG.uniform(size=150)
    source = SparseRowBatches(X_SPARSE, Y_REG.reshape(-1, 1), w, 64)
    assert isinstance(source, BatchSource) and source.n == 150
    order = source.draw_order(np.random.default_rng(0), shuffle=True)
    batches = list(source.batches(order))
    assert [b.X.shape[0] for b in batches] == [64, 64, 22] and all(sp.issparse(b.X) for b in batches)
    np.testing.assert_array_equal(sp.vstack([b.X for b in batches]).toarray(), X_DENSE[order])
    np.testing.assert_array_equal(np.concatenate([b.w for b in batches]), w[order])
    assert [b.X.shape[0] for b in source.batches(None, first=2)] == [22]
