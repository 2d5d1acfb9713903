"""The estimators on a Dask cluster: a hyper-parameter search under joblib's Dask backend and
dask_ml's Incremental wrapper, on a LocalCluster of 2 worker processes (docs/scale.md)."""

from __future__ import annotations

import numpy as np
import pytest

from deltaprop.sklearn import MLPClassifier

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


@pytest.fixture(scope="module")
def client():
    from distributed import Client, LocalCluster

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
                      host="127.0.0.1") as cluster, Client(cluster) as c:
        yield c


def _data(n=240, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 4))
    y = (X[:, 0] + 0.5 * X[:, 1] ** 2 > 0.3).astype(int) + (X[:, 2] > 1.0)
    return X, y


def test_grid_search_under_the_dask_backend_equals_n_jobs_1(client):
    import joblib
    from sklearn.model_selection import GridSearchCV

    X, y = _data()
    grid = {"hidden_layer_sizes": [(8,), (16,)], "alpha": [1e-4, 1e-2]}
    base = MLPClassifier(max_iter=15, batch_size=32, random_state=0)
    serial = GridSearchCV(base, grid, cv=3, n_jobs=1).fit(X, y)
    with joblib.parallel_backend("dask"):
        parallel = GridSearchCV(base, grid, cv=3, n_jobs=-1).fit(X, y)
    assert len(client.scheduler_info()["workers"]) == 2
    for key in ("mean_test_score", "std_test_score", "rank_test_score", "params"):
        assert list(serial.cv_results_[key]) == list(parallel.cv_results_[key]), key
    for k in range(3):
        np.testing.assert_array_equal(serial.cv_results_[f"split{k}_test_score"],
                                      parallel.cv_results_[f"split{k}_test_score"])
    np.testing.assert_array_equal(serial.best_estimator_.predict_proba(X), parallel.best_estimator_.predict_proba(X))


def test_incremental_equals_a_manual_partial_fit_loop(client):
    import dask.array as da
    from dask_ml.wrappers import Incremental

    X, y = _data(300, seed=1)
    Xd, yd = da.from_array(X, chunks=60), da.from_array(y, chunks=60)
    classes = np.unique(y)
    inc = Incremental(MLPClassifier(hidden_layer_sizes=(8,), batch_size=20, random_state=0), shuffle_blocks=False)
    inc.fit(Xd, yd, classes=classes)
    manual = MLPClassifier(hidden_layer_sizes=(8,), batch_size=20, random_state=0)
    for s in range(0, len(X), 60):
        manual.partial_fit(X[s:s + 60], y[s:s + 60], classes=classes)
    for a, b in zip(inc.estimator_.coefs_ + inc.estimator_.intercepts_, manual.coefs_ + manual.intercepts_):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(inc.predict(Xd).compute(), manual.predict(X))
    assert inc.estimator_.n_iter_ == manual.n_iter_
    assert inc.estimator_.t_ == manual.t_ == len(X)  # every row seen once
