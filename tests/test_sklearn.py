"""The scikit-learn estimators: every check_estimator check passes, and they behave like scikit-learn's
MLPs in Pipeline, GridSearchCV, cross_val_score, pickling, warm starts, partial_fit and early stopping."""

from __future__ import annotations

import json
import os
import pickle
import subprocess
import sys
import warnings

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.datasets import load_diabetes, load_iris, make_classification
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import deltaprop as dp
from deltaprop.sklearn import MLPClassifier, MLPRegressor

IRIS_X, IRIS_Y = load_iris(return_X_y=True)
DIAB_X, DIAB_Y = load_diabetes(return_X_y=True)
DIAB_Y = (DIAB_Y - DIAB_Y.mean()) / DIAB_Y.std()

CHECK_ESTIMATOR = """
import json, warnings
from sklearn.utils.estimator_checks import check_estimator
from deltaprop.sklearn import MLPClassifier, MLPRegressor
warnings.simplefilter("ignore")
out = {}
for est in (MLPClassifier(), MLPRegressor()):
    results = check_estimator(est, on_fail=None, on_skip=None)
    out[type(est).__name__] = [(r["check_name"], r["status"], repr(r["exception"])[:500]) for r in results]
print(json.dumps(out))
"""


#: checks that skip themselves because they test a method that scikit-learn's MLPClassifier lacks too
NOT_APPLICABLE = {
    "check_classifiers_multilabel_output_format_decision_function": "does not have a decision_function method",
}


def test_check_estimator_passes_every_check():
    """Run in a fresh interpreter with SCIPY_ARRAY_API=1 (it must be set before SciPy is imported), so
    that the array-API check runs instead of being skipped; pandas makes the DataFrame checks run."""
    env = {**os.environ, "SCIPY_ARRAY_API": "1"}
    proc = subprocess.run([sys.executable, "-c", CHECK_ESTIMATOR], capture_output=True, text=True, env=env,
                          timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    results = json.loads(proc.stdout.strip().splitlines()[-1])
    for name, checks in results.items():
        assert len(checks) > 50, name  # the full legacy + API suite ran
        not_passed = [c for c in checks if c[1] != "passed" and c[0] not in NOT_APPLICABLE]
        assert not not_passed, f"{name}: {not_passed}"
        assert all(c[1] == "skipped" and NOT_APPLICABLE[c[0]] in c[2] for c in checks if c[0] in NOT_APPLICABLE)


# -- composition with scikit-learn's tools ---------------------------------------------------------
@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_pipeline_and_cross_val_score():
    pipe = make_pipeline(StandardScaler(), MLPClassifier(hidden_layer_sizes=(16,), learning_rate_init=0.01,
                                                         max_iter=300, random_state=0))
    scores = cross_val_score(pipe, IRIS_X, IRIS_Y, cv=3)
    assert scores.shape == (3,) and scores.mean() > 0.85
    reg = make_pipeline(StandardScaler(), MLPRegressor(hidden_layer_sizes=(16,), learning_rate_init=0.01,
                                                       max_iter=200, random_state=0))
    assert cross_val_score(reg, DIAB_X, DIAB_Y, cv=3, scoring="r2").mean() > 0.3


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_grid_search_cv():
    X = StandardScaler().fit_transform(IRIS_X)
    grid = GridSearchCV(MLPClassifier(max_iter=200, learning_rate_init=0.01, random_state=0),
                        {"hidden_layer_sizes": [(4,), (16,)], "activation": ["tanh", "relu"]}, cv=3)
    grid.fit(X, IRIS_Y)
    assert set(grid.best_params_) == {"hidden_layer_sizes", "activation"}
    assert grid.best_score_ > 0.85
    assert isinstance(grid.best_estimator_.model_, dp.Sequential)


# -- persistence ---------------------------------------------------------------------------------
def fitted_classifier(**kwargs):
    X = StandardScaler().fit_transform(IRIS_X)
    labels = np.array(["setosa", "versicolor", "virginica"])[IRIS_Y]
    est = MLPClassifier(hidden_layer_sizes=(8, 8), max_iter=50, random_state=0, **kwargs)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return est.fit(X, labels), X


def test_pickle_round_trip_keeps_predictions_and_drops_layer_caches():
    est, X = fitted_classifier(dropout=0.1)
    big = np.repeat(X, 50, axis=0)
    est.predict(big)  # the layers now cache activations of 7,500 rows
    data = pickle.dumps(est)
    assert len(data) < 30_000
    back = pickle.loads(data)
    np.testing.assert_array_equal(back.predict_proba(X), est.predict_proba(X))
    assert list(back.classes_) == ["setosa", "versicolor", "virginica"]


def test_save_to_the_safe_format_and_load(tmp_path):
    est, X = fitted_classifier(class_weight={"setosa": 2.0, "virginica": 0.5})
    est.save(tmp_path / "clf.safetensors")
    back = MLPClassifier.load(tmp_path / "clf.safetensors")
    np.testing.assert_array_equal(back.predict_proba(X), est.predict_proba(X))
    np.testing.assert_array_equal(back.predict(X), est.predict(X))
    assert back.get_params() == est.get_params()
    assert back.loss_curve_ == est.loss_curve_ and back.n_iter_ == est.n_iter_
    plain = dp.load(tmp_path / "clf.safetensors")  # also a plain deltaprop model file
    np.testing.assert_array_equal(plain.predict(X), est.model_.predict(X))
    with pytest.raises(dp.ModelFileError, match="does not hold a MLPRegressor"):
        MLPRegressor.load(tmp_path / "clf.safetensors")


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_regressor_save_load_multioutput(tmp_path):
    Y = np.column_stack([DIAB_Y, -DIAB_Y])
    est = MLPRegressor(hidden_layer_sizes=(8,), max_iter=20, random_state=1).fit(DIAB_X, Y)
    assert est.predict(DIAB_X).shape == (len(DIAB_X), 2)
    est.save(tmp_path / "reg.safetensors")
    np.testing.assert_array_equal(MLPRegressor.load(tmp_path / "reg.safetensors").predict(DIAB_X),
                                  est.predict(DIAB_X))


# -- training behaviour ----------------------------------------------------------------------------
def test_convergence_warning_only_when_max_iter_is_hit():
    with pytest.warns(ConvergenceWarning, match=r"Maximum iterations \(5\) reached"):
        MLPRegressor(hidden_layer_sizes=(4,), max_iter=5, random_state=0).fit(DIAB_X, DIAB_Y)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        est = MLPRegressor(hidden_layer_sizes=(4,), max_iter=500, tol=0.5, n_iter_no_change=2,
                           random_state=0).fit(DIAB_X, DIAB_Y)
    # as scikit-learn: epoch 1 sets the best loss, then more than n_iter_no_change epochs fail to beat it by tol
    assert est.n_iter_ == 4


def test_early_stopping_curves_and_best_weights():
    X, y = make_classification(n_samples=300, n_features=10, random_state=0)
    est = MLPClassifier(hidden_layer_sizes=(32,), early_stopping=True, validation_fraction=0.2,
                        n_iter_no_change=3, max_iter=300, learning_rate_init=0.01, random_state=0).fit(X, y)
    assert len(est.validation_scores_) == len(est.validation_loss_curve_) == len(est.loss_curve_) == est.n_iter_
    assert est.n_iter_ < 300 and est.best_loss_ is None
    assert est.best_validation_score_ == max(est.validation_scores_)
    assert all(np.isfinite(est.validation_loss_curve_))
    no_es = MLPClassifier(hidden_layer_sizes=(32,), max_iter=5, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        no_es.fit(X, y)
    assert no_es.validation_scores_ is None and no_es.best_loss_ == min(no_es.loss_curve_)


def test_partial_fit_keeps_optimizer_state_and_needs_classes():
    X = StandardScaler().fit_transform(IRIS_X)
    est = MLPClassifier(hidden_layer_sizes=(8,), random_state=0)
    with pytest.raises(ValueError, match="classes must be passed on the first call"):
        est.partial_fit(X, IRIS_Y)
    est.partial_fit(X[:100], IRIS_Y[:100], classes=[0, 1, 2])
    t1 = est._optimizer.t
    est.partial_fit(X[100:], IRIS_Y[100:])
    # n_iter_ counts the epochs of the last call, as in scikit-learn; loss_curve_ keeps them all
    assert est._optimizer.t > t1 and len(est.loss_curve_) == 2 and est.n_iter_ == 1
    with pytest.raises(ValueError, match=r"`y` has classes not in `self.classes_`.*Unseen: \[7\]"):
        est.partial_fit(X[:3], [0, 7, 1])


def test_warm_start_continues_training():
    est = MLPRegressor(hidden_layer_sizes=(8,), max_iter=10, warm_start=True, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        est.fit(DIAB_X, DIAB_Y)
        W = est.model_.layers[0].W.copy()
        est.fit(DIAB_X, DIAB_Y)
    assert est.n_iter_ == 10 and len(est.loss_curve_) == 20 and est.t_ == 20 * len(DIAB_X)
    assert est.loss_curve_[10] < est.loss_curve_[0]  # no restart from fresh weights
    assert not np.array_equal(W, est.model_.layers[0].W)
    est.set_params(hidden_layer_sizes=(3,))  # another architecture: a warm start cannot continue, so it rebuilds
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        est.fit(DIAB_X, DIAB_Y)
    assert est.n_iter_ == 10 and est.model_.layers[0].W.shape == (3, 10)


def test_fixed_random_state_is_bitwise_reproducible():
    a, _ = fitted_classifier(dropout=0.2)
    b, X = fitted_classifier(dropout=0.2)
    np.testing.assert_array_equal(a.predict_proba(X), b.predict_proba(X))


def test_class_weight_balanced_helps_the_minority_class():
    X, y = make_classification(n_samples=400, weights=[0.95], flip_y=0, class_sep=0.6, random_state=3)
    recall = {}
    for cw in (None, "balanced"):
        est = MLPClassifier(hidden_layer_sizes=(16,), max_iter=100, class_weight=cw, random_state=0)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            est.fit(X, y)
        recall[cw] = (est.predict(X)[y == 1] == 1).mean()
    assert recall["balanced"] > recall[None]


def test_deltaprop_options_shape_the_network():
    est = MLPRegressor(hidden_layer_sizes=(5, 3), activation="gelu", dropout=0.25, loss="huber",
                       output_activation="identity", dtype="float32", max_iter=3, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        est.fit(DIAB_X, DIAB_Y)
    kinds = [type(layer).__name__ for layer in est.model_.layers]
    assert kinds == ["Dense", "GELU", "Dropout", "Dense", "GELU", "Dropout", "Dense", "Identity"]
    assert est.model_.dtype == np.float32 and isinstance(est.model_.loss, dp.Huber)
    assert [c.shape for c in est.coefs_] == [(10, 5), (5, 3), (3, 1)]
    assert [b.shape for b in est.intercepts_] == [(5,), (3,), (1,)]
    clf = MLPClassifier(hidden_layer_sizes=(4,), activation="logistic", solver="sgd", output_activation="softmax",
                        max_iter=3, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(DIAB_X, DIAB_Y > 0)
    assert clf.model_.n_outputs == 2 and isinstance(clf.model_.optimizer, dp.SGD)
    assert clf.predict_proba(DIAB_X).shape == (len(DIAB_X), 2)
    np.testing.assert_allclose(clf.predict_proba(DIAB_X).sum(axis=1), 1.0, rtol=1e-12)


@pytest.mark.parametrize("params, message", [
    (dict(solver="newton"), "solver must be 'lbfgs', 'sgd' or 'adam'"),
    (dict(learning_rate="optimal"), "learning_rate must be 'constant', 'invscaling' or 'adaptive'"),
    (dict(power_t=-1.0), "power_t must be a finite number >= 0"),
    (dict(max_fun=0), "max_fun must be a positive int"),
    (dict(n_iter_no_change=0), r"n_iter_no_change must be a positive int or np.inf"),
    (dict(solver="lbfgs", dropout=0.5), "dropout=0.5 needs a stochastic solver"),
    (dict(activation="rleu"), "unknown activation 'rleu'.*Did you mean 'relu'"),
    (dict(hidden_layer_sizes=(10, 0)), "hidden_layer_sizes must be positive ints"),
    (dict(batch_size=0), "batch_size must be 'auto' or a positive int"),
    (dict(alpha=-1.0), "alpha must be a finite number >= 0"),
    (dict(learning_rate_init=0.0), "learning_rate_init must be a finite number > 0"),
    (dict(dropout=1.0), r"dropout must be in \[0, 1\)"),
    (dict(validation_fraction=1.0), r"validation_fraction must be in \(0, 1\)"),
    (dict(loss="hinge"), "unknown loss 'hinge'"),
    (dict(dtype="float16"), "dtype must be None"),
    (dict(output_activation="relu"), "unknown output_activation 'relu'; choose one of: logistic, sigmoid, softmax"),
])
def test_bad_parameters_are_reported_at_fit(params, message):
    est = MLPClassifier(**params)  # constructing never validates (scikit-learn's convention)
    with pytest.raises(ValueError, match=message):
        clone(est).fit(IRIS_X, IRIS_Y)


def test_verbose_prints_sklearn_style_lines(capsys):
    MLPRegressor(hidden_layer_sizes=(4,), max_iter=500, tol=0.5, n_iter_no_change=1, verbose=True,
                 random_state=0).fit(DIAB_X, DIAB_Y)
    out = capsys.readouterr().out
    assert out.startswith("Iteration 1, loss = ")
    assert "Training loss did not improve more than tol=0.500000 for 1 consecutive epochs. Stopping." in out
