"""Tables that travel (issue #15): raw columns in, the same predictions from Python, the CLI, ONNX and torch.

Real tables: palmerpenguins (text columns, missing values, class names as labels) and scikit-learn's
bundled numeric sets written as CSV files."""

from __future__ import annotations

import csv
import gzip
import json
import warnings
from pathlib import Path

import numpy as np
import palmerpenguins
import pandas as pd
import pytest
from sklearn.compose import ColumnTransformer
from sklearn.datasets import load_wine
from sklearn.exceptions import ConvergenceWarning
from sklearn.impute import SimpleImputer
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

import deltaprop as dp
from deltaprop.cli import main
from deltaprop.datasets import train_test_split
from deltaprop.datasets.columns import as_columns
from deltaprop.datasets.tabular import load_table
from deltaprop.io.model_file import ModelFileError

PENGUINS = Path(palmerpenguins.__file__).parent / "data" / "penguins.csv"


def penguins() -> pd.DataFrame:
    return palmerpenguins.load_penguins()


def run(capsys, *argv: str) -> tuple[int, str, str]:
    rc = main(list(argv))
    out, err = capsys.readouterr()
    return rc, out, err


def wine_csv(path: Path) -> Path:
    bunch = load_wine()
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow([*bunch.feature_names, "label"])
        for x, t in zip(bunch.data, bunch.target):
            w.writerow([*x, bunch.target_names[t]])
    return path


# -- the Preprocessor -------------------------------------------------------------------------------------
def sklearn_columns(df: pd.DataFrame) -> ColumnTransformer:
    numeric = [c for c in df.columns if df[c].dtype.kind in "fi"]
    text = [c for c in df.columns if c not in numeric]
    return ColumnTransformer([
        ("numbers", make_pipeline(SimpleImputer(strategy="median"), StandardScaler()), numeric),
        ("text", make_pipeline(SimpleImputer(strategy="constant", fill_value="(missing)"),
                               OneHotEncoder(handle_unknown="ignore")), text),
    ], sparse_threshold=0)


def test_preprocessor_computes_what_the_sklearn_column_transformer_computes():
    df = penguins().drop(columns=["species"])
    train, test = df.iloc[::2], df.iloc[1::2].copy()
    test.loc[test.index[0], "island"] = "Atlantis"  # a category never seen in training: all zeros
    ours = dp.Preprocessor().fit(train)
    theirs = sklearn_columns(train).fit(train)
    # the same columns, matched by name (scikit-learn sorts "(missing)" among the categories)
    names = [n.split("__", 1)[1] for n in theirs.get_feature_names_out()]
    order = [names.index(n.replace("=", "_")) for n in ours.feature_names]
    np.testing.assert_allclose(ours.transform(test), theirs.transform(test)[:, order], rtol=1e-12, atol=1e-12)
    assert ours.transform(test)[0, 5:8].tolist() == [0.0, 0.0, 0.0]
    assert ours.feature_names[-3:] == ["sex=female", "sex=male", "sex=(missing)"]


def test_preprocessor_reads_dicts_and_structured_arrays_without_pandas():
    rows = {"size": [1.0, None, 3.0, 10.0], "colour": ["red", "blue", None, "red"]}
    pre = dp.Preprocessor(missing_indicator=True).fit(rows)
    assert pre.feature_names == ["size", "size (missing)", "colour=blue", "colour=red", "colour=(missing)"]
    out = pre.transform(rows)
    median = 3.0
    filled = np.array([1.0, median, 3.0, 10.0])
    np.testing.assert_allclose(out[:, 0], (filled - filled.mean()) / filled.std())
    np.testing.assert_array_equal(out[:, 1:], [[0, 0, 1, 0], [1, 1, 0, 0], [0, 0, 0, 1], [0, 0, 1, 0]])
    structured = np.array([(1.0, "red"), (np.nan, "blue"), (3.0, ""), (10.0, "red")],
                          dtype=[("size", "f8"), ("colour", "U8")])
    np.testing.assert_array_equal(pre.transform(structured), out)
    with pytest.raises(ValueError, match=r"lacks the column\(s\) \['colour'\]"):
        pre.transform({"size": [1.0]})
    with pytest.raises(TypeError, match="pass a table"):
        pre.transform(np.ones((2, 2)))


def test_identifier_columns_are_refused_and_index_columns_warned_about(tmp_path):
    with pytest.raises(ValueError, match=r"'id' has 60 distinct values .* identifier or free text"):
        dp.Preprocessor().fit({"id": [f"x{i}" for i in range(60)], "a": list(range(60))})
    X = {"Unnamed: 0": np.arange(40.0), "a": np.random.default_rng(0).normal(size=40)}
    model = dp.mlp([2, 2], output_activation="softmax", seed=0)
    with pytest.warns(UserWarning, match="'Unnamed: 0' looks like a row index"):
        model.fit(X, np.arange(40) % 2, epochs=1)


# -- fit on tables ----------------------------------------------------------------------------------------
def test_fit_on_a_dataframe_with_text_labels_and_statistics_from_training_rows_only():
    df = penguins()
    X, y = df.drop(columns=["species"]), df["species"]
    model = dp.mlp([11, 16, 3], activation="relu", output_activation="softmax", seed=0)
    history = model.fit(X, y, epochs=60, batch_size=32, validation_split=0.25, metrics=["accuracy"], seed=3)
    assert model.classes == ["Adelie", "Chinstrap", "Gentoo"]
    assert history.history["val_accuracy"][-1] > 0.95
    assert set(model.predict_labels(X.iloc[:5])) == {"Adelie"}
    # the statistics are those of the rows the loop trained on (the same draw as its validation split)
    n_val = round(len(X) * 0.25)
    train_rows = np.sort(np.random.default_rng(3).permutation(len(X))[n_val:])
    body_mass = X["body_mass_g"].to_numpy()[train_rows]
    median = np.nanmedian(body_mass)
    spec = next(c for c in model.preprocessor.numeric if c.name == "body_mass_g")
    assert spec.median == median and spec.mean == pytest.approx(np.where(np.isnan(body_mass), median,
                                                                          body_mass).mean(), rel=1e-12)
    assert spec.mean != pytest.approx(np.nanmean(X["body_mass_g"]), rel=1e-9)  # not the mean of every row
    # evaluate takes raw columns and class names too
    assert model.evaluate(X, y, metrics=["accuracy"])["accuracy"] > 0.95


def test_preprocessing_can_be_switched_off_and_the_width_is_named():
    df = penguins()
    numbers = df[["bill_length_mm", "bill_depth_mm"]].dropna()
    y = (numbers["bill_length_mm"] > 44).astype(int)
    model = dp.mlp([2, 2], output_activation="softmax", seed=0)
    model.fit(numbers, y, preprocess=False, epochs=1)
    assert model.preprocessor is None
    with pytest.raises(TypeError, match=r"column\(s\) \['island'\] hold text"):
        dp.mlp([3, 2], seed=0).fit(df[["bill_length_mm", "bill_depth_mm", "island"]], y, preprocess=False)
    with pytest.raises(ValueError, match=r"encodes to 11 input columns .* build it with mlp\(\[11, …\]\)"):
        dp.mlp([7, 3], output_activation="softmax").fit(df.drop(columns=["species"]), df["species"])


# -- model files ------------------------------------------------------------------------------------------
def test_model_file_round_trip_and_validation(tmp_path):
    df = penguins()
    X, y = df.drop(columns=["species"]), df["species"]
    model = dp.mlp([11, 8, 3], output_activation="softmax", seed=0)
    model.fit(X, y, epochs=3)
    model.save(tmp_path / "p.safetensors")
    loaded = dp.load(tmp_path / "p.safetensors")
    np.testing.assert_array_equal(loaded.predict(X), model.predict(X))
    assert loaded.classes == model.classes and loaded.preprocessor.get_config() == model.preprocessor.get_config()
    # a damaged preprocessing config is refused by name, never half-read
    f = dp.io.read_file(tmp_path / "p.safetensors")
    for key, value, match in [
        ("preprocessing", json.dumps({"columns": []}), "preprocessing is invalid"),
        ("classes", json.dumps(["a", "a", "b"]), "'classes' must be a list of at least two distinct"),
        ("classes", json.dumps(["a", "b"]), "names 2 classes but the network has 3"),
    ]:
        meta = dict(f.metadata)
        meta[key] = value
        (tmp_path / "bad.safetensors").write_bytes(dp.io.encode(f.tensors, meta))
        with pytest.raises(ModelFileError, match=match):
            dp.load(tmp_path / "bad.safetensors")
    tensors = dict(f.tensors)
    tensors["preprocess.std"] = np.zeros_like(tensors["preprocess.std"])
    (tmp_path / "bad.safetensors").write_bytes(dp.io.encode(tensors, f.metadata))
    with pytest.raises(ModelFileError, match="standard deviation must be positive"):
        dp.load(tmp_path / "bad.safetensors")


# -- readers ----------------------------------------------------------------------------------------------
def write_variants(folder: Path) -> dict[str, Path]:
    """The penguins file with a byte-order mark, with ';', as .tsv and as .csv.gz."""
    header, *rows = list(csv.reader(PENGUINS.read_text(encoding="utf-8").splitlines()))
    text = {d: "\n".join(d.join(r) for r in [header, *rows]) + "\n" for d in (",", ";", "\t")}
    paths = {"plain": folder / "plain.csv", "bom": folder / "bom.csv", "semicolon": folder / "semicolon.csv",
             "tsv": folder / "tab.tsv", "gz": folder / "zipped.csv.gz"}
    paths["plain"].write_text(text[","], encoding="utf-8")
    paths["bom"].write_text(text[","], encoding="utf-8-sig")
    paths["semicolon"].write_text(text[";"], encoding="utf-8")
    paths["tsv"].write_text(text["\t"], encoding="utf-8")
    with gzip.open(paths["gz"], "wt", encoding="utf-8") as f:
        f.write(text[","])
    return paths


def test_files_with_a_bom_semicolons_tabs_or_gzip_train_to_the_same_model(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    paths = write_variants(tmp_path)
    weights = {}
    for name, path in paths.items():
        rc, _, err = run(capsys, "train", "--data", str(path), "--target", "species", "--epochs", "5",
                           "--validation-split", "0.2", "--progress", "none", "--out", f"{name}.safetensors")
        assert rc == 0, err
        f = dp.io.read_file(tmp_path / f"{name}.safetensors")
        weights[name] = f.tensors
    for name in paths:
        assert weights[name].keys() == weights["plain"].keys()
        for key, arr in weights[name].items():
            np.testing.assert_array_equal(arr, weights["plain"][key], err_msg=f"{name}: {key}")


def test_reader_options_and_notes(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    df = penguins()
    df.to_csv("indexed.csv")  # pandas writes its index as a first, unnamed column
    with pytest.warns(UserWarning) as caught:
        table = load_table("indexed.csv", target="sex")
    notes = [str(w.message) for w in caught]
    assert any("dropped 11 row(s)" in n for n in notes) and any("empty name" in n for n in notes)
    assert len(table.y) == 333 and table.dropped == 11
    with pytest.raises(ValueError, match=r"missing in 11 row\(s\) \(first at line 5\)"):
        load_table("indexed.csv", target="sex", strict=True)
    chosen = load_table("indexed.csv", target="species", features=["island", "body_mass_g"])
    assert chosen.columns.names == ["island", "body_mass_g"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        dropped = load_table("indexed.csv", target="species", drop=["", "year"])
    assert "year" not in dropped.columns.names and "" not in dropped.columns.names
    df.to_parquet("penguins.parquet")
    parquet = load_table("penguins.parquet", target="species")
    np.testing.assert_array_equal(parquet.y, load_table(PENGUINS, target="species").y)
    assert parquet.columns.names == load_table(PENGUINS, target="species").columns.names
    # the CLI prints the notes as warnings, and --strict refuses
    rc, _, err = run(capsys, "train", "--data", "indexed.csv", "--target", "sex", "--epochs", "1", "--progress",
                     "none", "--drop", "")
    assert rc == 2 and "columns must be listed" in err
    rc, _, err = run(capsys, "train", "--data", "indexed.csv", "--target", "sex", "--epochs", "1", "--progress", "none")
    assert rc == 0 and "deltaprop: warning: dropped 11 row(s)" in err and "looks like a saved row index" in err
    rc, _, err = run(capsys, "train", "--data", "indexed.csv", "--target", "sex", "--strict", "--epochs", "1")
    assert rc == 2 and "missing in 11 row(s)" in err
    Path("semi.txt").write_text("a;b;y\n1,5;2;x\n2,5;3;y\n")
    assert load_table("semi.txt").columns.names == ["a", "b"]
    # errors and hints in the command line's words
    rc, _, err = run(capsys, "train", "--data", "semi.txt", "--delimiter", ",", "--epochs", "1")
    assert rc == 2 and "single column 'a;b;y' that holds another delimiter; pass the delimiter (e.g. --delimiter ';')" \
        in err
    rc, _, err = run(capsys, "train", "--data", "indexed.csv", "--validation-split", "0.999", "--epochs", "1")
    assert rc == 2 and "--validation-split 0.999 leaves" in err and "validation_split" not in err
    rc, _, err = run(capsys, "train", "--data", "indexed.csv", "--target", "species", "--epochs", "1",
                     "--progress", "none")
    assert rc == 0 and "Leave it out (--drop)" in err


# -- the same predictions everywhere ----------------------------------------------------------------------
@pytest.mark.parametrize("kind", ["penguins", "wine"])
def test_python_cli_and_onnx_predict_the_same(kind, tmp_path, capsys, monkeypatch):
    ort = pytest.importorskip("onnxruntime")
    from deltaprop.io.onnx import export, feeds

    monkeypatch.chdir(tmp_path)
    path = PENGUINS if kind == "penguins" else wine_csv(tmp_path / "wine.csv")
    target = "species" if kind == "penguins" else "label"
    rc, _, err = run(capsys, "train", "--data", str(path), "--target", target, "--epochs", "20", "--progress", "none",
                     "--out", "m.safetensors")
    assert rc == 0, err
    model = dp.load("m.safetensors")
    table = load_table(path, target=target)
    ours = model.predict(table.columns)
    rc, out, _ = run(capsys, "predict", "m.safetensors", str(path), "--proba", "--precision", "9")
    rows = list(csv.reader(out.splitlines()))[1:]
    assert [r[0] for r in rows] == list(model.predict_labels(table.columns))
    np.testing.assert_allclose(np.array([[float(v) for v in r[1:]] for r in rows]), ours, atol=1e-8)
    export(model, "m.onnx")
    session = ort.InferenceSession("m.onnx")
    onnx_out = session.run(None, feeds(model, table.columns))[0]
    np.testing.assert_allclose(onnx_out, ours, atol=1e-5)
    if kind == "wine":  # numbers only: the torch bridge takes the raw columns too
        torch = pytest.importorskip("torch")
        from deltaprop.io.torch_bridge import to_torch

        raw = torch.from_numpy(table.columns.to_matrix())
        np.testing.assert_allclose(to_torch(model)(raw).detach().numpy(), ours, atol=1e-5)
    else:
        from deltaprop.io.torch_bridge import to_torch

        with pytest.raises(TypeError, match=r"one-hot encodes the text column\(s\) island, sex"):
            to_torch(model)
        encoded = model.preprocessor.transform(table.columns)
        net = to_torch(model, preprocess=False)
        import torch

        np.testing.assert_allclose(net(torch.from_numpy(encoded.astype(np.float32))).detach().numpy(), ours,
                                   atol=1e-5)


def test_onnx_handles_missing_and_unseen_values_as_python_does(tmp_path):
    ort = pytest.importorskip("onnxruntime")
    from deltaprop.io.onnx import export, feeds

    df = penguins()
    X, y = df.drop(columns=["species"]), df["species"]
    model = dp.mlp([15, 8, 3], output_activation="softmax", seed=0, dtype="float64")
    model.fit(X, y, epochs=2, preprocess=dp.Preprocessor(missing_indicator=True))
    new = X.iloc[:6].copy()
    new.loc[new.index[0], "island"] = "Atlantis"
    new.loc[new.index[1], "sex"] = None
    new.loc[new.index[2], "bill_length_mm"] = np.nan
    export(model, tmp_path / "m.onnx")
    session = ort.InferenceSession(str(tmp_path / "m.onnx"))
    np.testing.assert_allclose(session.run(None, feeds(model, new))[0], model.predict(new), rtol=1e-12)


# -- accuracy against scikit-learn's pipeline, no preprocessing flags -------------------------------------
@pytest.mark.parametrize("target", ["species", "sex"])
def test_accuracy_within_two_points_of_the_sklearn_pipeline(target, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    ours, theirs = [], []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # the rows without a sex are dropped, with a warning
        table = load_table(PENGUINS, target=target)
    X = table.columns
    frame = pd.DataFrame({k: X[k] for k in X.names})
    for seed in range(3):
        rc, _, err = run(capsys, "train", "--data", str(PENGUINS), "--target", target, "--test-split", "0.25",
                         "--seed", str(seed), "--progress", "none", "--out", "m.safetensors")
        assert rc == 0, err
        train_rows, test_rows, y_train, y_test = train_test_split(np.arange(len(table.y)), table.y, test_size=0.25,
                                                                  seed=seed, stratify=True)
        ours.append(np.mean(dp.load("m.safetensors").predict_classes(X.take(test_rows)) == y_test))
        pipe = Pipeline([("pre", sklearn_columns(frame)), ("mlp", MLPClassifier(random_state=seed))])
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            pipe.fit(frame.iloc[train_rows], y_train)
        theirs.append(np.mean(pipe.predict(frame.iloc[test_rows]) == y_test))
    assert np.mean(ours) >= np.mean(theirs) - 0.02, (ours, theirs)


def test_as_columns_types():
    cols = as_columns({"n": [1, 2, None], "t": ["a", 1, None], "b": [True, False, True]})
    assert cols.numeric("n") and not cols.numeric("t") and cols.numeric("b")
    assert list(cols["t"]) == ["a", "1", None] and np.isnan(cols["n"][2])


def test_cli_standardize_on_arrays_uses_the_training_rows_only(tmp_path, capsys, monkeypatch):
    """--standardize (arrays): the statistics leave out the validation rows, and travel with the model."""
    monkeypatch.chdir(tmp_path)
    rng = np.random.default_rng(0)
    X = rng.normal(size=(80, 3)) * [1.0, 50.0, 0.01] + [0.0, 500.0, 1.0]
    y = (X[:, 0] > 0).astype(np.int64)
    np.savez("arrays.npz", X=X, y=y)
    rc, _, err = run(capsys, "train", "--data", "arrays.npz", "--standardize", "--validation-split", "0.25",
                     "--seed", "2", "--epochs", "2", "--progress", "none", "--out", "m.safetensors")
    assert rc == 0, err
    from deltaprop.core.backend import rng_from
    from deltaprop.train.tables import validation_rows

    _, train_rows = validation_rows(80, 0.25, rng_from(2))
    pre = dp.load("m.safetensors").preprocessor
    np.testing.assert_allclose([c.mean for c in pre.numeric], X[train_rows].mean(axis=0), rtol=1e-12)
    np.testing.assert_allclose([c.std for c in pre.numeric], X[train_rows].std(axis=0), rtol=1e-12)
    model = dp.load("m.safetensors")
    encoded = (X - X[train_rows].mean(axis=0)) / X[train_rows].std(axis=0)
    np.testing.assert_allclose(model.predict(X), model.predict(encoded, preprocess=False), rtol=1e-6)


def test_a_run_on_a_table_resumes_bitwise_from_its_checkpoint(tmp_path):
    df = penguins()
    X, y = df.drop(columns=["species"]), df["species"]
    kwargs = {"batch_size": 32, "validation_split": 0.2, "seed": 1}
    whole = dp.mlp([11, 8, 3], output_activation="softmax", seed=0)
    whole.fit(X, y, epochs=4, **kwargs)
    dp.mlp([11, 8, 3], output_activation="softmax", seed=0).fit(X, y, epochs=2, checkpoint=tmp_path / "ck.st",
                                                                **kwargs)
    resumed = dp.mlp([11, 8, 3], output_activation="softmax", seed=0)
    resumed.fit(X, y, epochs=4, resume=tmp_path / "ck.st", **kwargs)
    np.testing.assert_array_equal(resumed.predict(X), whole.predict(X))
    assert dp.load(tmp_path / "ck.st").preprocessor.get_config() == whole.preprocessor.get_config()
