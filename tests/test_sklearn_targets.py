"""What the estimators accept as y, with scikit-learn's semantics: multilabel indicator matrices, Poisson
counts, a single class, and the class checks of warm starts and partial fits."""

from __future__ import annotations

import re
import warnings

import numpy as np
import pytest
from sklearn.datasets import make_multilabel_classification
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import PoissonRegressor
from sklearn.neural_network import MLPClassifier as SkClassifier
from sklearn.neural_network import MLPRegressor as SkRegressor

import deltaprop as dp
from deltaprop.nn import layers as layers_mod
from deltaprop.nn import losses as losses_mod
from deltaprop.sklearn import MLPClassifier, MLPRegressor

ML_X, ML_Y = make_multilabel_classification(n_samples=80, n_classes=4, random_state=0, return_indicator=True)


def quiet_fit(est, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return est.fit(*args, **kwargs)


# -- multilabel ----------------------------------------------------------------------------------------
def test_multilabel_sigmoid_outputs_and_indicator_predictions(tmp_path):
    est = quiet_fit(MLPClassifier(solver="lbfgs", hidden_layer_sizes=(30,), random_state=0), ML_X, ML_Y)
    assert isinstance(est.model_.layers[-1], layers_mod.Sigmoid)
    assert isinstance(est.model_.loss, losses_mod.BinaryCrossEntropy)
    proba = est.predict_proba(ML_X)
    assert proba.shape == ML_Y.shape and not np.allclose(proba.sum(axis=1), 1.0)
    np.testing.assert_array_equal(est.predict(ML_X), (proba > 0.5).astype(int))
    assert est.score(ML_X, ML_Y) > 0.95  # subset accuracy
    np.testing.assert_array_equal(est.classes_, np.arange(4))
    est.save(tmp_path / "ml.safetensors")
    back = MLPClassifier.load(tmp_path / "ml.safetensors")
    np.testing.assert_array_equal(back.predict(ML_X), est.predict(ML_X))


def test_multilabel_matches_scikit_learn_with_lbfgs():
    params = dict(solver="lbfgs", hidden_layer_sizes=(20,), activation="logistic", max_iter=60, random_state=0)
    ours, theirs = quiet_fit(MLPClassifier(**params), ML_X, ML_Y), quiet_fit(SkClassifier(**params), ML_X, ML_Y)
    np.testing.assert_allclose(ours.loss_, theirs.loss_, rtol=1e-6)
    np.testing.assert_allclose(ours.predict_proba(ML_X), theirs.predict_proba(ML_X), atol=1e-6)


def test_multilabel_partial_fit_and_softmax_refused():
    est = MLPClassifier(solver="sgd", hidden_layer_sizes=(16,), learning_rate_init=0.2, random_state=0)
    for _ in range(5):
        est.partial_fit(ML_X, ML_Y, classes=[0, 1, 2, 3])
    assert est.predict(ML_X).shape == ML_Y.shape and est.n_iter_ == 1
    with pytest.raises(ValueError, match="multilabel y lets a sample have several labels"):
        MLPClassifier(output_activation="softmax").fit(ML_X, ML_Y)


# -- poisson -------------------------------------------------------------------------------------------
def test_poisson_deviance_gradients_fused_and_through_the_exp_layer():
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(7, 3)), rng.poisson(2.0, size=(7, 2)).astype(float)
    net = dp.Sequential([dp.Dense(3, 4, seed=0), layers_mod.Tanh(), dp.Dense(4, 2, seed=1), layers_mod.Exp()],
                        dtype="float64")
    for fused in (True, False):
        result = dp.gradcheck(net, "poisson", X, y, fused=fused, sample_weight=rng.uniform(0.5, 2, 7))
        assert result.passed(1e-6), result.table()


def test_poisson_value_is_half_the_deviance_and_zero_at_the_target():
    loss = losses_mod.PoissonDeviance()
    y = np.array([[0.0], [1.0], [3.0]])
    a = np.array([[0.5], [2.0], [3.0]])
    expected = np.mean([0.5, np.log(0.5) - 1 + 2, 0.0])
    assert loss.value(a, y) == pytest.approx(expected)
    assert loss.value_from_logits(np.log(a), y) == pytest.approx(expected)
    np.testing.assert_allclose(loss.fused_delta(a, y), (a - y) / 3)
    assert loss.value(y + 1e-300, y) == pytest.approx(0.0, abs=1e-12)


def test_poisson_regressor_equals_the_glm_and_scikit_learn():
    rng = np.random.default_rng(1)
    X = np.linspace(0, 1, 100).reshape(-1, 1)
    y = rng.poisson(np.exp(X[:, 0] + 1))
    glm = PoissonRegressor(alpha=0, tol=1e-7).fit(X, y)
    params = dict(loss="poisson", hidden_layer_sizes=(1,), activation="identity", alpha=0, solver="lbfgs", tol=1e-7,
                  random_state=2)
    ours, theirs = MLPRegressor(**params).fit(X, y), SkRegressor(**params).fit(X, y)
    assert ours.out_activation_ == "exp" and isinstance(ours.model_.loss, losses_mod.PoissonDeviance)
    np.testing.assert_allclose(ours.predict(X), glm.predict(X), rtol=1e-4)
    np.testing.assert_allclose(ours.loss_, theirs.loss_, rtol=1e-6)


def test_poisson_refuses_negative_targets_and_outputs_that_can_be_negative():
    with pytest.raises(ValueError, match="loss='poisson' needs targets y >= 0"):
        MLPRegressor(loss="poisson").fit([[0.0], [1.0]], [1.0, -1.0])
    with pytest.raises(ValueError, match="loss='poisson' needs a positive mean"):
        MLPRegressor(loss="poisson", output_activation="identity").fit([[0.0], [1.0]], [1.0, 2.0])


def test_exp_output_exports_to_onnx(tmp_path):
    ort = pytest.importorskip("onnxruntime")
    rng = np.random.default_rng(0)
    X = rng.normal(size=(30, 3))
    est = quiet_fit(MLPRegressor(loss="poisson", hidden_layer_sizes=(5,), max_iter=5, random_state=0), X,
                    rng.poisson(2.0, size=30))
    from deltaprop.io.onnx import export

    export(est.model_, tmp_path / "m.onnx")
    session = ort.InferenceSession(str(tmp_path / "m.onnx"))
    out = session.run(None, {session.get_inputs()[0].name: X.astype(est.model_.dtype)})[0]
    np.testing.assert_allclose(out.ravel(), est.predict(X), rtol=1e-6)


def test_squared_error_is_scikit_learns_default_name():
    est = MLPRegressor()
    assert est.loss == "squared_error" and MLPRegressor("poisson").loss == "poisson"  # loss is the first argument
    quiet_fit(est.set_params(hidden_layer_sizes=(3,), max_iter=2), [[0.0], [1.0], [2.0]], [0.0, 1.0, 2.0])
    assert isinstance(est.model_.loss, losses_mod.HalfSSE)


# -- classes -------------------------------------------------------------------------------------------
def test_single_class_is_accepted_and_always_predicted():
    X = np.random.default_rng(0).normal(size=(10, 2))
    est = MLPClassifier(hidden_layer_sizes=(3,), max_iter=5, random_state=0)
    quiet_fit(est, X, ["only"] * 10)
    assert list(est.classes_) == ["only"] and (est.predict(X) == "only").all()
    np.testing.assert_array_equal(est.predict_proba(X), np.ones((10, 1)))


def test_warm_start_needs_the_same_classes():
    X = np.random.default_rng(0).normal(size=(12, 2))
    y = np.arange(12) % 3
    est = quiet_fit(MLPClassifier(hidden_layer_sizes=(3,), max_iter=3, warm_start=True, random_state=0), X, y)
    quiet_fit(est, X, y)
    for other in (y % 2, np.where(y == 2, 5, y)):
        message = ("warm_start can only be used where `y` has the same classes as in the previous call to fit. "
                   f"Previously got [0 1 2], `y` has {np.unique(other)}")
        with pytest.raises(ValueError, match=re.escape(message)):
            est.fit(X, other)


def test_partial_fit_classes_must_not_change():
    est = MLPClassifier(solver="sgd", random_state=0)
    with pytest.raises(ValueError, match="classes must be passed on the first call to partial_fit"):
        est.partial_fit([[3, 2]], [0])
    est.partial_fit([[3, 2]], [0], classes=[0, 1])
    with pytest.raises(ValueError, match=r"`classes=\[1, 2\]` is not the same as on last call to partial_fit"):
        est.partial_fit([[3, 2]], [0], classes=[1, 2])
    with pytest.raises(ValueError, match=r"`y` has classes not in `self.classes_`.*Unseen: \[2\]"):
        est.partial_fit([[3, 2]], [2])
    with pytest.raises(ValueError, match=r"Unseen: \[0, 1\]"):
        MLPClassifier(solver="sgd").partial_fit([[3, 2], [1, 6]], [1, 0], classes=[2])


def test_early_stopping_stratifies_binary_targets_as_scikit_learn():
    with pytest.raises(ValueError, match=r"least populated classes in y have only 1 member.*\['True'\]"):
        MLPClassifier(early_stopping=True).fit([[1, 2], [2, 3], [3, 4], [4, 5]], [0, 0, 0, 1])
