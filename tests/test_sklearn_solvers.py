"""The estimators' solvers against scikit-learn's: lbfgs, sgd with its three learning-rate schedules,
adam, and scikit-learn's rules for n_iter_, stopping, warm starts and divergence.

One random_state gives both libraries the same initial network and the same shuffles, so sgd and
lbfgs reach scikit-learn's weights to rounding error; adam places its ε as torch does (after the
bias correction), so it stays within a few 1e-6."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from sklearn.datasets import load_iris, make_regression
from sklearn.exceptions import ConvergenceWarning
from sklearn.neural_network import MLPClassifier as SkClassifier
from sklearn.neural_network import MLPRegressor as SkRegressor
from sklearn.preprocessing import StandardScaler

from deltaprop.optim.lbfgs import lbfgs_objective
from deltaprop.sklearn import MLPClassifier, MLPRegressor

IRIS_X, IRIS_Y = load_iris(return_X_y=True)
IRIS_X = StandardScaler().fit_transform(IRIS_X)
REG_X, REG_Y = make_regression(n_samples=120, n_features=6, noise=5.0, random_state=0)
REG_Y = (REG_Y - REG_Y.mean()) / REG_Y.std()


def fit_both(cls_dp, cls_sk, X, y, **params):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return cls_dp(**params).fit(X, y), cls_sk(**params).fit(X, y)


def max_coef_gap(a, b):
    return max(float(np.abs(p - q).max()) for p, q in zip([*a.coefs_, *a.intercepts_], [*b.coefs_, *b.intercepts_]))


@pytest.mark.parametrize("params", [
    dict(solver="sgd", learning_rate_init=0.05),
    dict(solver="sgd", learning_rate_init=0.05, nesterovs_momentum=False, alpha=0.01),
    dict(solver="sgd", learning_rate="invscaling", learning_rate_init=0.5, power_t=0.3),
    dict(solver="sgd", learning_rate="invscaling", learning_rate_init=0.5, momentum=0.0, alpha=0.0),
    dict(solver="sgd", learning_rate="adaptive", learning_rate_init=0.05, tol=0.05, n_iter_no_change=2),
    dict(solver="sgd", learning_rate_init=0.05, early_stopping=True, validation_fraction=0.2),
    dict(solver="lbfgs", alpha=1e-3),
], ids=["momentum", "plain-momentum-l2", "invscaling", "invscaling-no-momentum", "adaptive", "early-stopping",
        "lbfgs"])
def test_same_random_state_same_weights_as_scikit_learn(params):
    """Same initial draw, same shuffles, same objective: the fitted weights agree to rounding error."""
    common = dict(hidden_layer_sizes=(10,), max_iter=30, batch_size=16, random_state=0, **params)
    dp, sk = fit_both(MLPClassifier, SkClassifier, IRIS_X, IRIS_Y, **common)
    assert dp.n_iter_ == sk.n_iter_
    assert max_coef_gap(dp, sk) < 1e-7
    if params["solver"] == "sgd":
        np.testing.assert_allclose(dp.loss_curve_, sk.loss_curve_, rtol=1e-10)
    np.testing.assert_allclose(dp.loss_, sk.loss_, rtol=1e-9)
    if params.get("early_stopping"):
        np.testing.assert_allclose(dp.validation_scores_, sk.validation_scores_)


def test_adam_stays_within_its_epsilon_convention_of_scikit_learn():
    dp, sk = fit_both(MLPRegressor, SkRegressor, REG_X, REG_Y, hidden_layer_sizes=(8,), max_iter=20,
                      learning_rate_init=0.01, random_state=3)
    assert dp.n_iter_ == sk.n_iter_ == 20
    assert max_coef_gap(dp, sk) < 1e-4
    np.testing.assert_allclose(dp.loss_curve_, sk.loss_curve_, rtol=1e-4)


@pytest.mark.parametrize("activation", ["identity", "logistic", "tanh", "relu"])
def test_lbfgs_matches_scikit_learn_regression(activation):
    dp, sk = fit_both(MLPRegressor, SkRegressor, REG_X, REG_Y, solver="lbfgs", hidden_layer_sizes=(12,),
                      max_iter=100, tol=1e-4, random_state=1, activation=activation)
    assert dp.n_iter_ == sk.n_iter_
    np.testing.assert_allclose(dp.loss_, sk.loss_, rtol=1e-5)
    np.testing.assert_allclose(dp.predict(REG_X), sk.predict(REG_X), rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("n_classes", [2, 3])
@pytest.mark.parametrize("activation", ["identity", "logistic", "tanh", "relu"])
def test_lbfgs_gradient_matches_finite_differences(activation, n_classes):
    """The L-BFGS objective J = L + ½ λ ‖W‖² and its gradient (scikit-learn's test_gradient, through our API)."""
    rng = np.random.RandomState(42)
    X = rng.rand(5, 10)
    y = 1 + np.mod(np.arange(5) + 1, n_classes)
    est = MLPClassifier(activation=activation, hidden_layer_sizes=10, solver="lbfgs", alpha=1e-5, max_iter=1,
                        random_state=1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        est.fit(X, y)
    Y = est._label_binarizer.transform(y).astype(np.float64)
    objective = lbfgs_objective(est.model_, X, Y, est.model_.loss, l2=0.3 / len(X))  # a large λ: the term shows
    theta = est.model_.flat_parameters()[0].astype(np.float64)
    value, grad = objective(theta.copy())
    numeric = np.empty_like(theta)
    for i in range(len(theta)):
        step = np.zeros_like(theta)
        step[i] = 1e-5
        numeric[i] = (objective(theta + step)[0] - objective(theta - step)[0]) / 2e-5
    np.testing.assert_allclose(grad, numeric, rtol=1e-5, atol=1e-8)
    assert value > 0


def test_lbfgs_weights_count_like_repeated_rows():
    """Σ w L / Σ w with the penalty over Σ w: integer weights give the fit on repeated rows."""
    w = np.where(np.arange(len(REG_X)) % 3 == 0, 2.0, 1.0)
    params = dict(solver="lbfgs", hidden_layer_sizes=(6,), alpha=0.1, max_iter=50, random_state=0, tol=0.0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        weighted = MLPRegressor(**params).fit(REG_X, REG_Y, sample_weight=w)
        repeated = MLPRegressor(**params).fit(np.repeat(REG_X, w.astype(int), axis=0),
                                             np.repeat(REG_Y, w.astype(int)))
    np.testing.assert_allclose(weighted.loss_curve_[:10], repeated.loss_curve_[:10], rtol=1e-8)


def test_lbfgs_limits_and_warnings():
    est = MLPClassifier(solver="lbfgs", hidden_layer_sizes=(20,), max_iter=5, random_state=0)
    with pytest.warns(ConvergenceWarning, match=r"(?s)lbfgs failed to converge after 5 iteration\(s\).*max_iter=5"):
        est.fit(IRIS_X, IRIS_Y)
    assert est.n_iter_ == 5 and len(est.loss_curve_) == 5 and est.loss_ == est.loss_curve_[-1]
    with pytest.warns(ConvergenceWarning, match="lbfgs failed to converge"):
        est.set_params(max_iter=200, max_fun=7).fit(IRIS_X, IRIS_Y)
    assert est.n_iter_ <= 7
    assert not hasattr(est, "partial_fit")  # as scikit-learn: L-BFGS has no incremental form
    assert hasattr(est.set_params(solver="sgd"), "partial_fit")


def test_invscaling_warm_start():
    """lr = learning_rate_init / (t_ + 1)^power_t after each epoch, t_ counting samples over warm starts."""
    X, y = [[3, 2], [1, 6], [5, 6], [-2, -4]], [1, 1, 1, 0]
    est = MLPClassifier(solver="sgd", hidden_layer_sizes=4, learning_rate="invscaling", max_iter=1, power_t=0.25,
                        warm_start=True, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        est.fit(X, y)
        est.fit(X, y)
    assert est.t_ == 8 and est.model_.optimizer.lr == pytest.approx(est.learning_rate_init / 9 ** 0.25)
    const = MLPClassifier(solver="sgd", hidden_layer_sizes=4, max_iter=3, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        const.fit(X, y)
    assert const.model_.optimizer.lr == const.learning_rate_init


def test_adaptive_learning_rate_divides_by_5(capsys):
    est = MLPClassifier(tol=0.5, max_iter=3000, solver="sgd", learning_rate="adaptive", verbose=True,
                        random_state=0).fit([[3, 2], [1, 6]], [1, 0])
    out = capsys.readouterr().out
    assert est.n_iter_ < 3000 and est.model_.optimizer.lr < 1e-6
    assert "Setting learning rate to 0.000200" in out
    assert out.rstrip().endswith("Learning rate too small. Stopping.")


def test_n_iter_counts_the_last_call_and_t_counts_every_sample():
    est = MLPRegressor(hidden_layer_sizes=(4,), solver="sgd", max_iter=3, warm_start=True, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        est.fit(REG_X, REG_Y)
        est.fit(REG_X, REG_Y)
    assert est.n_iter_ == 3 and len(est.loss_curve_) == 6 and est.t_ == 6 * len(REG_X)
    est.partial_fit(REG_X, REG_Y)
    assert est.n_iter_ == 1 and len(est.loss_curve_) == 7


def test_n_iter_no_change_inf_trains_for_max_iter(tmp_path):
    est = MLPClassifier(hidden_layer_sizes=(4,), solver="sgd", tol=1e9, n_iter_no_change=np.inf, max_iter=40,
                        random_state=0)
    with pytest.warns(ConvergenceWarning, match=r"Maximum iterations \(40\) reached"):
        est.fit(IRIS_X, IRIS_Y)
    assert est.n_iter_ == 40 and est._no_improvement_count == 39
    est.save(tmp_path / "m.safetensors")
    assert MLPClassifier.load(tmp_path / "m.safetensors").n_iter_no_change == np.inf


def test_early_stopping_errors_are_scikit_learns():
    with pytest.raises(ValueError, match="partial_fit does not support early_stopping=True"):
        MLPRegressor(early_stopping=True, random_state=0).fit(REG_X, REG_Y).partial_fit(REG_X, REG_Y)
    with pytest.raises(ValueError, match=r"The validation set is too small\. Increase 'validation_fraction'"):
        MLPRegressor(early_stopping=True, random_state=0).fit(REG_X[:5], REG_Y[:5])


def test_divergence_is_a_value_error_and_keeps_finite_weights():
    X = np.finfo(np.float64).max * np.random.RandomState(0).uniform(size=(10, 2))
    est = MLPRegressor(random_state=0)
    with pytest.raises(ValueError, match=r"Solver produced non-finite parameter weights.*keeps the weights before"), \
            warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        est.fit(X, np.arange(10.0))
    assert all(np.isfinite(c).all() for c in est.coefs_)


def test_divergence_with_early_stopping_keeps_the_best_weights():
    est = MLPRegressor(hidden_layer_sizes=100, activation="identity", solver="sgd", learning_rate_init=1,
                       max_iter=20, early_stopping=True, random_state=0)
    with pytest.warns(ConvergenceWarning, match="Training diverged"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        est.fit(load_iris().data, load_iris().target)
    assert np.isnan(est.validation_scores_[-1]) and np.isnan(est.validation_loss_curve_[-1])
    assert np.isfinite(est.best_validation_score_) and all(np.isfinite(c).all() for c in est.coefs_)
    assert est.n_iter_ < 20  # it stops at the divergence instead of running on with NaN weights


def test_worked_example_one_sgd_step():
    """scikit-learn's test_fit: one SGD step of a 3-2-1 logistic network, worked out by hand."""
    X, y = np.array([[0.6, 0.8, 0.7]]), np.array([0])
    est = MLPClassifier(solver="sgd", learning_rate_init=0.1, alpha=0.1, activation="logistic", random_state=1,
                        max_iter=1, hidden_layer_sizes=2, momentum=0)
    est.partial_fit(X, y, classes=[0, 1])  # builds the network; the weights are then set by hand
    for c, value in zip(est.coefs_ + est.intercepts_, ([[0.1, 0.2], [0.3, 0.1], [0.5, 0]], [[0.1], [0.2]],
                                                       [0.1, 0.1], [1.0])):
        c[...] = value  # coefs_ and intercepts_ are views of the network's W and b
    est.partial_fit(X, y)
    np.testing.assert_almost_equal(est.coefs_[0], [[0.098, 0.195756], [0.2956664, 0.096008],
                                                   [0.4939998, -0.002244]], decimal=3)
    np.testing.assert_almost_equal(est.coefs_[1], [[0.04706], [0.154089]], decimal=3)
    np.testing.assert_almost_equal(est.intercepts_[0], [0.098333, 0.09626], decimal=3)
    np.testing.assert_almost_equal(est.intercepts_[1], [0.9235], decimal=3)
    np.testing.assert_almost_equal(est.predict_proba(X)[0, 1], 0.739, decimal=3)



@pytest.mark.parametrize("nesterov", [False, True])
def test_sgd_change_lr_carries_the_velocity(nesterov):
    """With carry_velocity, a changing rate steps exactly as v ← μv − ηg, w ← w + v (scikit-learn's form)."""
    from deltaprop.optim.optimizers import SGD

    rng = np.random.default_rng(0)
    grads, rates, mu = rng.normal(size=(6, 4)), [0.1, 0.1, 0.02, 0.02, 0.5, 0.05], 0.9
    w_ref, v = np.ones(4), np.zeros(4)
    for lr, g in zip(rates, grads):
        v = mu * v - lr * g
        w_ref += mu * v - lr * g if nesterov else v
    w, opt = np.ones(4), SGD(lr=rates[0], momentum=mu, nesterov=nesterov)
    for lr, g in zip(rates, grads):
        opt.change_lr(lr, carry_velocity=True)
        opt.step({"w": w}, {"w": g})
    np.testing.assert_allclose(w, w_ref, rtol=1e-12)


@pytest.mark.parametrize("solver", ["adam", "lbfgs"])
def test_progress_bar_is_ours_and_off_by_default(solver, capsys):
    pytest.importorskip("tqdm")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        MLPClassifier(hidden_layer_sizes=(4,), solver=solver, max_iter=5, random_state=0).fit(IRIS_X, IRIS_Y)
        assert capsys.readouterr().err == ""
        MLPClassifier(hidden_layer_sizes=(4,), solver=solver, max_iter=5, progress=True,
                      random_state=0).fit(IRIS_X, IRIS_Y)
    err = capsys.readouterr().err
    assert "5/5" in err and "loss=" in err
