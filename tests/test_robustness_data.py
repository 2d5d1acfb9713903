"""Bad data gets a clear error from the validation at the edge, never a NumPy error from inside a layer,
and a rejected call leaves the model as it was; unusual but valid inputs work and are never modified.

Covered: ``fit``, ``predict``, ``evaluate``, the scikit-learn estimators and the ``deltaprop`` command."""

from __future__ import annotations

import re
import warnings
from pathlib import Path

import numpy as np
import pytest

import deltaprop as dp
from deltaprop.cli import main

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

RNG = np.random.default_rng(0)
X = RNG.normal(size=(12, 3))
LABELS = np.arange(12) % 3


def classifier() -> dp.Sequential:
    return dp.mlp([3, 5, 3], output_activation="softmax", seed=0, dtype="float64")


def state(model: dp.Sequential) -> tuple[dict[str, bytes], dict]:
    return {k: v.tobytes() for k, v in model.parameters().items()}, model.rng.bit_generator.state


def with_value(value: float, at: tuple[int, int] = (4, 1)) -> np.ndarray:
    bad = X.copy()
    bad[at] = value
    return bad


def ragged() -> list:
    return [[1.0, 2.0, 3.0], [4.0, 5.0]] + [[0.0, 0.0, 0.0]] * 10


# (id, X, error class, message) for every entry point that takes X
BAD_X = [
    ("nan", with_value(np.nan), ValueError, "X contains 1 NaN or infinite value"),
    ("+inf", with_value(np.inf), ValueError, "NaN or infinite"),
    ("-inf", with_value(-np.inf), ValueError, "NaN or infinite"),
    ("1-D", X[:, 0], ValueError, r"shape \(n_samples, n_features\), got shape \(12,\); use X.reshape"),
    ("3-D", X.reshape(12, 3, 1), ValueError, r"got shape \(12, 3, 1\); flatten each sample"),
    ("ragged", ragged(), ValueError, "X is ragged: its rows have different lengths"),
    ("0 samples", X[:0], ValueError, "X has 0 samples"),
    ("0 features", X[:, :0], ValueError, "X has 0 features"),
    ("wrong width", X[:, :2], ValueError, r"expected X of shape \(n, 3\), got \(12, 2\); the model's first layer"),
    ("complex", X + 1j, TypeError, "X must be real-valued, got complex"),
    ("strings", X.astype(str), TypeError, "X must be numeric, got dtype <U.*encode strings as numbers"),
    ("objects", np.array([[{"a": 1}, 2.0, 3.0]] * 12, dtype=object), TypeError, "X must be numeric, got an object"),
    ("None inside", np.array([[None, 2.0, 3.0]] * 12, dtype=object), ValueError, "NaN or infinite"),
    ("dates", np.zeros((12, 3), dtype="datetime64[s]"), TypeError, "encode datetime64"),
    ("None", None, TypeError, "X is None"),
]


def rejected(where: str, call, exc: type[Exception], match: str, model: dp.Sequential) -> None:
    """``call()`` raises ``exc`` from the validation of ``where`` and leaves weights and generator alone."""
    before = state(model)
    with pytest.raises(exc, match=match) as info:
        call()
    assert str(info.value).startswith(where), str(info.value)  # not an error from deep inside a layer
    assert state(model) == before


@pytest.mark.parametrize("case", BAD_X, ids=[c[0] for c in BAD_X])
def test_fit_predict_evaluate_refuse_bad_X(case):
    _, bad, exc, match = case
    model = classifier()
    y = LABELS if bad is None or len(bad) == 12 else LABELS[:0]
    rejected("fit", lambda: model.fit(bad, y, epochs=2, batch_size=4), exc, match, model)
    rejected("predict", lambda: model.predict(bad), exc, match, model)
    rejected("evaluate", lambda: model.evaluate(bad, y), exc, match, model)


BAD_Y = [
    ("nan", np.where(np.arange(12) == 3, np.nan, np.eye(3)[LABELS].T).T, ValueError, "y contains 3 NaN or infinite"),
    ("inf", np.where(np.arange(12) == 3, np.inf, np.eye(3)[LABELS].T).T, ValueError, "y contains .* infinite"),
    ("shorter", LABELS[:11], ValueError, "X has 12 samples but y has 11; they must have one row each"),
    ("scalar", 1, ValueError, "y is a single value"),
    ("ragged", [[0, 1, 0]] * 11 + [[1, 0]], ValueError, "y is ragged"),
    ("complex", LABELS + 0j, TypeError, "y must be real-valued"),
    ("non-integer labels", LABELS + 0.5, ValueError, "a 1-D y must hold integer class labels 0..2; got non-integer"),
    ("continuous", RNG.normal(size=12), ValueError, "must hold integer class labels"),
    ("unseen label", np.r_[LABELS[:11], 7], ValueError, r"class labels must lie in 0..2 .* got labels from 0 to 7"),
    ("negative label", np.r_[LABELS[:11], -1], ValueError, "class labels must lie in 0..2"),
    ("wrong columns", np.eye(4)[LABELS], ValueError, r"y has shape \(12, 4\) but the network has 3 output"),
    ("3-D", np.eye(3)[LABELS][:, :, None], ValueError, r"y has shape \(12, 3, 1\)"),
    ("soft labels > 1", np.eye(3)[LABELS] * 2, ValueError, r"categorical_crossentropy needs targets in \[0, 1\]"),
    ("None", None, TypeError, "y is None"),
]


@pytest.mark.parametrize("case", BAD_Y, ids=[c[0] for c in BAD_Y])
def test_fit_and_evaluate_refuse_bad_y(case):
    _, bad, exc, match = case
    model = classifier()
    rejected("fit", lambda: model.fit(X, bad, epochs=2), exc, match, model)
    rejected("evaluate", lambda: model.evaluate(X, bad), exc, match, model)


def test_text_labels_train_and_others_are_refused_by_name():
    """fit takes class names (issue #15); a model trained on numbers refuses them in evaluate."""
    model = classifier()
    rejected("evaluate", lambda: model.evaluate(X, np.array(["a", "b", "c"] * 4)), TypeError,
             "y must be numeric, got dtype <U1", model)
    model.fit(X, np.array(["a", "b", "c"] * 4), epochs=2)
    assert model.classes == ["a", "b", "c"]
    rejected("evaluate", lambda: model.evaluate(X, np.array(["a", "b", "d"] * 4)), ValueError,
             r"label\(s\) \['d'\] are not among the model's classes", model)


def test_binary_targets_must_be_probabilities():
    model = dp.mlp([3, 4, 1], output_activation="sigmoid", seed=0)
    for y, low, high in [((LABELS > 0) * 2, 0, 2), (np.where(LABELS > 0, 1, -1), -1, 1)]:
        rejected("fit", lambda y=y: model.fit(X, y), ValueError,
                 rf"binary_crossentropy needs targets in \[0, 1\] .* from {low} to {high}; map the labels", model)
    model.fit(X, (LABELS > 0) * 0.8, epochs=2)  # probabilities (soft labels) are fine


def test_validation_data_is_checked_like_the_training_data():
    model = classifier()
    rejected("fit", lambda: model.fit(X, LABELS, validation_data=(with_value(np.nan), LABELS)), ValueError,
             "validation X contains 1 NaN", model)
    rejected("fit", lambda: model.fit(X, LABELS, validation_data=(X, LABELS[:5])), ValueError,
             "X has 12 samples but y has 5", model)
    rejected("fit", lambda: model.fit(X, LABELS, sample_weight=np.ones(5)), ValueError,
             r"sample_weight must have shape \(12,\)", model)


def test_no_callback_runs_for_rejected_data():
    calls = []
    cb = dp.LambdaCallback(on_train_begin=lambda logs=None: calls.append("begin"))
    with pytest.raises(ValueError):
        classifier().fit(with_value(np.nan), LABELS, callbacks=[cb])
    assert calls == []


# -- unusual inputs that are valid ---------------------------------------------------------------
def variants(a: np.ndarray) -> dict[str, np.ndarray]:
    """The same numbers as read-only, Fortran-ordered, float32 and integer arrays, and a list."""
    ro = a.copy()
    ro.flags.writeable = False
    fortran = np.asfortranarray(a)
    fortran_ro = np.asfortranarray(a)
    fortran_ro.flags.writeable = False
    return {"read-only": ro, "fortran": fortran, "fortran read-only": fortran_ro, "float32": a.astype(np.float32),
            "int": np.rint(a).astype(np.int64), "int8": np.rint(a).astype(np.int8), "list": a.tolist()}


@pytest.mark.parametrize("kind", list(variants(X)))
def test_read_only_fortran_int_and_float32_inputs_work_and_are_not_modified(kind):
    Xk, yk = variants(X * 3)[kind], variants(LABELS.astype(float))[kind]
    X_copy, y_copy = np.array(Xk, copy=True), np.array(yk, copy=True)
    model = classifier()
    model.fit(Xk, yk, epochs=3, batch_size=5, seed=0, validation_data=(Xk, yk))
    reference = classifier()
    reference.fit(np.asarray(Xk, dtype=np.float64), np.asarray(yk, dtype=np.float64), epochs=3, batch_size=5, seed=0,
                  validation_data=(np.asarray(Xk, dtype=np.float64), np.asarray(yk, dtype=np.float64)))
    np.testing.assert_array_equal(model.predict(Xk), reference.predict(np.asarray(Xk, dtype=np.float64)))
    assert model.evaluate(Xk, yk, metrics=["accuracy"]) == reference.evaluate(
        np.asarray(Xk, float), np.asarray(yk, float), metrics=["accuracy"])
    np.testing.assert_array_equal(np.asarray(Xk), X_copy)  # never modified
    np.testing.assert_array_equal(np.asarray(yk), y_copy)
    if isinstance(Xk, np.ndarray) and "read-only" in kind:
        assert not Xk.flags.writeable


def test_float32_model_takes_float64_data_and_the_reverse():
    for dtype, data in (("float32", X), ("float64", X.astype(np.float32))):
        model = dp.mlp([3, 4, 3], output_activation="softmax", seed=0, dtype=dtype)
        model.fit(data, LABELS, epochs=2)
        assert model.predict(data).dtype == np.dtype(dtype)
        assert data.dtype != np.dtype(dtype)  # the caller's array was converted, not replaced


# -- scikit-learn estimators -------------------------------------------------------------------------
def estimators():
    from deltaprop.sklearn import MLPClassifier, MLPRegressor

    return [MLPClassifier(hidden_layer_sizes=(4,), max_iter=3, random_state=0),
            MLPRegressor(hidden_layer_sizes=(4,), max_iter=3, random_state=0)]


EST_BAD_X = [
    ("nan", with_value(np.nan), ValueError, "Input X contains NaN"),
    ("inf", with_value(np.inf), ValueError, "Input X contains infinity"),
    ("1-D", X[:, 0], ValueError, "Expected 2D array, got 1D array"),
    ("3-D", X.reshape(12, 3, 1), ValueError, "Found array with dim 3"),
    ("ragged", ragged(), ValueError, "X or y is ragged: its rows have different lengths"),
    ("0 samples", X[:0], ValueError, "0 sample"),
    ("0 features", X[:, :0], ValueError, "0 feature"),
    ("complex", X + 1j, ValueError, "Complex data not supported"),
    ("strings", np.array([["a", "b", "c"]] * 12), ValueError, "X holds text .* encode text columns as numbers"),
]


@pytest.mark.parametrize("case", EST_BAD_X, ids=[c[0] for c in EST_BAD_X])
def test_estimators_refuse_bad_X_and_keep_their_weights(case):
    _, bad, exc, match = case
    for est in estimators():
        y = LABELS if bad is None or len(bad) == 12 else LABELS[:len(bad)]
        with pytest.raises(exc, match=match):
            est.fit(bad, y)
        est.fit(X, LABELS)
        coefs = [c.copy() for c in est.coefs_]
        with pytest.raises(exc, match=match):
            est.predict(bad)
        with pytest.raises(exc, match=match):
            est.fit(bad, y)  # a refit that fails at validation keeps the fitted network
        assert all(np.array_equal(a, b) for a, b in zip(coefs, est.coefs_))


def test_estimators_refuse_bad_targets():
    from deltaprop.sklearn import MLPClassifier, MLPRegressor

    clf = MLPClassifier(hidden_layer_sizes=(4,), max_iter=3, random_state=0)
    with pytest.raises(ValueError, match="Unknown label type: continuous"):
        clf.fit(X, RNG.normal(size=12))
    clf.fit(X, np.full(12, 7))  # one class, as scikit-learn: it is always the prediction
    assert (clf.predict(X) == 7).all() and (clf.predict_proba(X) == 1).all()
    with pytest.raises(ValueError, match="inconsistent numbers of samples"):
        clf.fit(X, LABELS[:7])
    with pytest.raises(ValueError, match="Input y contains NaN"):
        MLPRegressor(max_iter=2).fit(X, np.where(LABELS > 1, np.nan, 0.0))
    with pytest.raises(ValueError, match=r"binary_crossentropy needs probabilities, but the network's output is "
                                         "identity"):
        MLPRegressor(loss="binary_crossentropy", max_iter=2).fit(X, LABELS > 0)


def test_estimators_before_fit_and_with_the_wrong_width():
    from sklearn.exceptions import NotFittedError

    for est in estimators():
        for method in ("predict", "score", "save"):
            args = (X, LABELS) if method == "score" else ("x.safetensors",) if method == "save" else (X,)
            with pytest.raises(NotFittedError, match="is not fitted yet"):
                getattr(est, method)(*args)
        est.fit(X, LABELS)
        with pytest.raises(ValueError, match=r"X has 2 features, but .* is expecting 3 features"):
            est.predict(X[:, :2])


def test_classifier_labels_unseen_in_fit():
    """predict can only return classes seen in fit; score counts unseen labels as errors and says so;
    partial_fit refuses them (its classes are fixed by the first call)."""
    from deltaprop.sklearn import MLPClassifier

    names = np.array(["cat", "dog", "fox"])[LABELS]
    clf = MLPClassifier(hidden_layer_sizes=(8,), max_iter=200, learning_rate_init=0.05, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        clf.fit(X, names)
    assert set(clf.predict(X)) <= {"cat", "dog", "fox"}
    seen = clf.score(X, names)
    unseen = names.copy()
    unseen[:4] = "owl"
    with pytest.warns(UserWarning, match=r"label\(s\) \['owl'\] that were not in the training data"):
        score = clf.score(X, unseen)
    assert score == pytest.approx(seen - np.mean(clf.predict(X)[:4] == names[:4]) * 4 / 12)
    with pytest.raises(ValueError, match=r"`y` has classes not in `self.classes_`.*Unseen: \['owl'\]"):
        clf.partial_fit(X, unseen)


# -- the command line --------------------------------------------------------------------------------
CSV_CASES = {
    # missing values and text train by default (imputed, one-hot; issue #15); without preprocessing they are errors
    "nan": ("a,b,y\n1,2,0\n3,,1\n5,6,0\n7,8,1\n", "X contains 1 NaN or infinite value"),
    "inf": ("a,b,y\n1,2,0\n3,inf,1\n5,6,0\n7,8,1\n", "column 'b' holds infinite values"),
    "text": ("a,b,y\n1,2,0\n3,x,1\n5,6,0\n7,8,1\n", r"column\(s\) \['b'\] hold text"),
    "empty": ("", "is empty; expected a header row"),
    "header only": ("a,b,y\n", "has a header but no data rows"),
    "ragged": ("a,b,y\n1,2,0\n3,4\n5,6,0\n", "line 3 has 2 fields but the header has 3"),
    "one class": ("a,b,y\n1,2,0\n3,4,0\n5,6,0\n", r"has only one class \('0'\); a classifier needs"),
    "no features": ("y\n1\n0\n1\n", "has no feature columns besides the target"),
}


@pytest.mark.parametrize("name", list(CSV_CASES))
def test_cli_train_refuses_bad_data_with_one_line(name, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    text, match = CSV_CASES[name]
    Path("d.csv").write_text(text)
    raw = ["--no-preprocess"] if name in ("nan", "text") else []
    rc = main(["train", "--data", "d.csv", "--epochs", "1", "--progress", "none", "--out", "m.safetensors", *raw])
    err = capsys.readouterr().err
    assert rc == 2
    assert err.startswith("deltaprop: error: ") and err.count("\n") == 1 and "Traceback" not in err
    assert re.search(match, err), err
    assert not Path("m.safetensors").exists()


def test_cli_predict_and_evaluate_refuse_data_that_does_not_fit_the_model(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    Path("train.csv").write_text("a,b,y\n" + "".join(f"{i % 5},{i % 3},{'yes' if i % 2 else 'no'}\n"
                                                      for i in range(20)))
    assert main(["train", "--data", "train.csv", "--epochs", "2", "--progress", "none", "--out", "m.safetensors"]) == 0
    capsys.readouterr()
    Path("narrow.csv").write_text("a,y\n1,yes\n2,no\n")
    Path("unseen.csv").write_text("a,b,y\n1,2,maybe\n2,1,no\n")
    Path("text.csv").write_text("a,b,y\n1,two,yes\n2,1,no\n")
    for argv, match in [(["predict", "m.safetensors", "narrow.csv"], r"lacks the column\(s\) \['b'\]"),
                        (["evaluate", "m.safetensors", "unseen.csv"], r"classes \['maybe'\] were not in the training"),
                        (["predict", "m.safetensors", "text.csv"], "column 'b' was numeric in training but holds "
                                                                   "text")]:
        rc = main(argv)
        err = capsys.readouterr().err
        assert rc == 2, argv
        assert err.startswith("deltaprop: error: ") and err.count("\n") == 1 and re.search(match, err), (argv, err)


@pytest.mark.parametrize("kind", list(variants(X)))
def test_estimators_take_read_only_fortran_int_and_float32_inputs_without_modifying_them(kind):
    Xk = variants(X * 3)[kind]
    X_copy = np.array(Xk, copy=True)
    for i, est in enumerate(estimators()):
        y = variants(LABELS.astype(float))[kind]
        y_copy = np.array(y, copy=True)
        est.fit(Xk, y)
        reference = estimators()[i]
        dtype = np.float32 if kind == "float32" else np.float64  # float32 data trains in float32, as in sklearn
        reference.fit(np.asarray(Xk, dtype=dtype), np.asarray(y, dtype=dtype))
        np.testing.assert_array_equal(est.predict(Xk), reference.predict(np.asarray(Xk, dtype=dtype)))
        est.score(Xk, y)
        np.testing.assert_array_equal(np.asarray(Xk), X_copy)  # never modified
        np.testing.assert_array_equal(np.asarray(y), y_copy)


def test_all_finite_is_exact_including_sums_that_overflow():
    from deltaprop.core.validation import all_finite

    big = np.full((4, 3), 1e308)  # every value finite, the float64 sum overflows to inf
    assert all_finite(big)
    assert all_finite(np.full((2, 2), np.finfo(np.float32).max, dtype=np.float32))
    for bad in (np.nan, np.inf, -np.inf):
        for dtype in (np.float32, np.float64):
            a = np.ones((5, 4), dtype=dtype)
            a[3, 2] = bad
            assert not all_finite(a)
    a = np.ones((3, 3))
    a[0, 0], a[1, 1] = np.inf, -np.inf  # inf − inf: the sum is NaN, still refused
    assert not all_finite(a)
    assert all_finite(np.arange(6).reshape(2, 3))
    strided = np.ones((6, 8), dtype=np.float32)
    strided[4, 2] = np.nan
    assert not all_finite(strided[::2, ::2]) and all_finite(strided[::2, ::2][:2])  # the summed path
    assert not all_finite(strided.T) and all_finite(strided[:4])
