"""What a hostile user still found (issue #13), class by class: each test asserts on behaviour — the file
bytes and mode unchanged, the weights unchanged, the gradient checked, the memory bound, the error type
and its words."""

from __future__ import annotations

import csv
import os
import stat
from pathlib import Path

import numpy as np
import pytest

import deltaprop as dp
from deltaprop.cli import main


def _cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    rc = main(list(argv))
    out, err = capsys.readouterr()
    return rc, out, err


def _csv(path: Path, rows: int = 40, *, target: str = "kind") -> Path:
    rng = np.random.default_rng(0)
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["f1", "f2", target])
        for i in range(rows):
            w.writerow([f"{rng.normal(i % 2, 0.2):.4f}", f"{rng.normal():.4f}", "ab"[i % 2]])
    return path


def _snapshot(*paths: Path) -> dict[Path, tuple[bytes, int]]:
    return {p: (p.read_bytes(), stat.S_IMODE(p.stat().st_mode)) for p in paths}


# ---------------------------------------------------------------------------------------------
# 1. A file is never destroyed
# ---------------------------------------------------------------------------------------------
@pytest.fixture
def trained(tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    _csv(tmp_path / "d.csv")
    rc, _, err = _cli(capsys, "train", "--data", "d.csv", "--layers", "2,4,1", "--epochs", "2", "--out",
                        "m.safetensors", "--progress", "none")
    assert rc == 0, err
    return tmp_path


@pytest.mark.parametrize("argv", [
    ["train", "--data", "d.csv", "--layers", "2,4,1", "--epochs", "1", "--out", "d.csv"],
    ["train", "--data", "d.csv", "--layers", "2,4,1", "--epochs", "1", "--history", "d.csv"],
    ["train", "--data", "d.csv", "--layers", "2,4,1", "--epochs", "1", "--checkpoint", "d.csv"],
    ["train", "--data", "d.csv", "--layers", "2,4,1", "--epochs", "1", "--checkpoint", "m.safetensors"],
    ["train", "--data", "d.csv", "--layers", "2,4,1", "--epochs", "1", "--out", "x.safetensors", "--history",
     "x.safetensors"],
    ["train", "--data", "d.csv", "--layers", "2,4,1", "--epochs", "1", "--out", "link.csv"],
    ["train", "--data", "d.csv", "--layers", "2,4,1", "--epochs", "1", "--out", "hard.safetensors"],
    ["train", "--data", "d.csv", "--layers", "2,4,1", "--epochs", "1", "--plots", "d.csv"],
    ["train", "--data", "d.csv", "--layers", "2,4,1", "--epochs", "1", "--out", "."],
    ["predict", "m.safetensors", "d.csv", "--out", "d.csv"],
    ["predict", "m.safetensors", "d.csv", "--out", "m.safetensors"],
    ["predict", "m.safetensors", "d.csv", "--out", "./sub/../m.safetensors"],
    ["explain", "--model", "m.safetensors", "--x", "0,0", "--y", "1", "--out", "m.safetensors"],
    ["diagram", "--model", "m.safetensors", "--out", "m.safetensors"],
    ["evaluate", "m.safetensors", "d.csv", "--plots", "d.csv"],
])
def test_no_output_ever_replaces_an_input_or_contradicts_its_name(
        trained: Path, capsys: pytest.CaptureFixture[str], argv: list[str]) -> None:
    (trained / "sub").mkdir()
    os.symlink("d.csv", trained / "link.csv")
    os.link(trained / "d.csv", trained / "hard.safetensors")
    before = _snapshot(trained / "d.csv", trained / "m.safetensors")
    rc, out, err = _cli(capsys, *argv, *(["--progress", "none"] if argv[0] == "train" else []))
    assert rc == 2 and err.startswith("deltaprop: error: ") and err.count("\n") == 1, err
    assert "epoch" not in out and "trained" not in out  # refused before any training
    assert _snapshot(*before) == before
    assert sorted(p.name for p in trained.iterdir()) == ["d.csv", "hard.safetensors", "link.csv", "m.safetensors",
                                                         "sub"]


def test_the_guard_names_the_input_it_protects(trained: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _, _, err = _cli(capsys, "predict", "m.safetensors", "d.csv", "--out", "d.csv")
    assert "--out 'd.csv' is the same file as DATA 'd.csv'" in err
    _, _, err = _cli(capsys, "predict", "m.safetensors", "d.csv", "--out", "p.safetensors")
    assert "would hold CSV text, but its extension .safetensors says otherwise" in err


def test_fit_refuses_a_checkpoint_path_that_holds_a_model(tmp_path: Path) -> None:
    model = dp.mlp([2, 3, 1], seed=0)
    path = tmp_path / "m.safetensors"
    model.save(path)
    before = path.read_bytes()
    weights = model.get_weights()
    with pytest.raises(ValueError, match="exists and is a model file; checkpoints would overwrite it"):
        model.fit(np.zeros((4, 2)), np.zeros(4), epochs=1, checkpoint=path)
    assert path.read_bytes() == before
    assert all(np.array_equal(v, model.get_weights()[k]) for k, v in weights.items())


def test_resuming_into_the_same_checkpoint_is_allowed(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    _csv(tmp_path / "d.csv")
    base = ["train", "--data", "d.csv", "--layers", "2,4,1", "--checkpoint", "c.safetensors", "--progress", "none"]
    assert _cli(capsys, *base, "--epochs", "1")[0] == 0
    assert _cli(capsys, *base, "--epochs", "2", "--resume", "c.safetensors")[0] == 0


@pytest.mark.parametrize("spoil", ["nan", "inf", "set_weights", "train_on_batch", "keys", "deep"])
def test_save_refuses_what_load_refuses_before_touching_the_file(tmp_path: Path, spoil: str) -> None:
    path = tmp_path / "m.safetensors"
    model = dp.mlp([2, 3, 1], seed=0)
    model.save(path)
    os.chmod(path, 0o600)
    before = _snapshot(path)
    metadata = None
    if spoil == "nan":
        model.layers[0].W[0, 0] = np.nan
    elif spoil == "inf":
        model.layers[0].b = [np.inf, 0, 0]
    elif spoil == "set_weights":
        model.set_weights({k: np.full_like(v, np.nan) for k, v in model.parameters().items()})
    elif spoil == "train_on_batch":
        with np.errstate(all="ignore"):
            for _ in range(3):
                model.train_on_batch(np.ones((2, 2)), np.ones(2), loss="mse", optimizer=dp.SGD(lr=1e300))
        assert not all(np.isfinite(p).all() for p in model.parameters().values())
    elif spoil == "keys":
        metadata = {1: "a", "1": "b"}
    else:
        metadata = {"a": [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[0]]]]]]]]]]]]]]]]]]]]]]]]
                    ]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]}
    with pytest.raises(ValueError, match=r"(NaN or infinite|not valid JSON|nested more than).*Nothing was written|"
                                         r"NaN or infinite value.*nothing was written"):
        model.save(path, metadata=metadata)
    assert _snapshot(path) == before
    assert [p.name for p in tmp_path.iterdir()] == ["m.safetensors"]  # no temporary left


def test_overwriting_keeps_the_mode_and_writes_through_a_symlink(tmp_path: Path) -> None:
    target = tmp_path / "real.safetensors"
    link = tmp_path / "link.safetensors"
    dp.mlp([2, 3, 1], seed=0).save(target)
    os.chmod(target, 0o600)
    os.symlink(target.name, link)
    dp.mlp([2, 3, 1], seed=1).save(link)
    assert link.is_symlink() and os.readlink(link) == target.name
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    np.testing.assert_array_equal(dp.load(target).layers[0].W, dp.mlp([2, 3, 1], seed=1).layers[0].W)


def test_a_failed_prediction_write_keeps_the_previous_file(trained: Path, capsys: pytest.CaptureFixture[str],
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    assert _cli(capsys, "predict", "m.safetensors", "d.csv", "--out", "p.csv")[0] == 0
    os.chmod(trained / "p.csv", 0o640)
    before = _snapshot(trained / "p.csv")
    real_fsync = os.fsync

    def full_disk(fd: int) -> None:
        if os.fstat(fd).st_size > 0:
            raise OSError(28, "No space left on device")
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", full_disk)
    rc, _, err = _cli(capsys, "predict", "m.safetensors", "d.csv", "--out", "p.csv", "--proba")
    assert rc == 2 and "No space left on device" in err
    assert _snapshot(trained / "p.csv") == before
    assert not [p for p in trained.iterdir() if p.name.endswith(".tmp")]


@pytest.mark.parametrize("option", ["--history", "--out"])
def test_every_cli_text_output_is_atomic_and_keeps_its_mode(trained: Path, capsys: pytest.CaptureFixture[str],
                                                            option: str) -> None:
    name = "h.json" if option == "--history" else "m2.safetensors"
    argv = ["train", "--data", "d.csv", "--layers", "2,4,1", "--epochs", "1", "--progress", "none", option, name]
    assert _cli(capsys, *argv)[0] == 0
    os.chmod(trained / name, 0o600)
    assert _cli(capsys, *argv)[0] == 0
    assert stat.S_IMODE((trained / name).stat().st_mode) == 0o600


# ---------------------------------------------------------------------------------------------
# 2. No silent wrong numbers
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("rows", ["multi-hot", "all-zero", "unnormalised", "soft", "one-hot"])
def test_softmax_cross_entropy_gradient_is_exact_for_every_accepted_target(rows: str) -> None:
    from deltaprop.teach.gradcheck import gradcheck

    rng = np.random.default_rng(0)
    Y = {"multi-hot": [[1, 1, 0], [0, 1, 1], [1, 0, 1], [1, 1, 1]],
         "all-zero": [[0, 0, 0], [1, 0, 0], [0, 0, 0], [0, 1, 0]],
         "unnormalised": [[0.5, 0.2, 0.1], [0.9, 0.9, 0.0], [0.1, 0.1, 0.1], [0.0, 0.3, 0.3]],
         "soft": [[0.7, 0.2, 0.1], [0.1, 0.8, 0.1], [1 / 3, 1 / 3, 1 / 3], [0.0, 0.5, 0.5]],
         "one-hot": [[1, 0, 0], [0, 1, 0], [0, 0, 1], [1, 0, 0]]}[rows]
    model = dp.mlp([2, 5, 3], output_activation="softmax", seed=0, dtype="float64")
    X = rng.standard_normal((4, 2))
    result = gradcheck(model, "categorical_crossentropy", X, np.array(Y, dtype=float))
    assert result.passed(1e-7), result.table()
    model.fit(X, np.array(Y, dtype=float), epochs=2, optimizer=dp.SGD(lr=0.1))  # accepted, and finite
    assert all(np.isfinite(p).all() for p in model.parameters().values())


def test_a_layer_belongs_to_one_network() -> None:
    dense = dp.Dense(2, 3, seed=0)
    first = dp.Sequential([dense, dp.Tanh(), dp.Dense(3, 1, seed=1)])
    W = dense.W.copy()
    with pytest.raises(ValueError, match=r"layers\[0\] \(Dense\(2, 3\)\) already belongs to another Sequential"):
        dp.Sequential([dense, dp.Sigmoid()])
    with pytest.raises(ValueError, match=r"layers\[2\] \(Dense\(3, 3\)\) appears twice"):
        twice = dp.Dense(3, 3)
        dp.Sequential([dp.Dense(2, 3), twice, twice])
    copied = dp.Sequential(first.copy().layers)  # an independent copy may be reused
    np.testing.assert_array_equal(first.layers[0].W, W)
    assert copied.layers[0] is not dense
    relu = dp.ReLU()  # one activation instance given to mlp becomes one per layer
    deep = dp.mlp([2, 4, 4, 1], activation=relu)
    assert len({id(layer) for layer in deep.layers}) == len(deep.layers)


def test_an_optimizer_is_bound_to_one_model() -> None:
    X, y = np.random.default_rng(0).standard_normal((16, 2)), np.arange(16) % 2
    a = dp.mlp([2, 4, 1], output_activation="sigmoid", seed=0)
    b = dp.mlp([2, 4, 1], output_activation="sigmoid", seed=1)
    opt = dp.Adam(lr=0.01)
    a.fit(X, y, optimizer=opt, epochs=2)
    before = b.get_weights()
    with pytest.raises(ValueError, match=r"this Adam already trains another model.*call \.reset"):
        b.fit(X, y, optimizer=opt, epochs=1)
    with pytest.raises(ValueError, match="already trains another model"):
        b.train_on_batch(X, y, optimizer=opt)
    assert all(np.array_equal(v, b.get_weights()[k]) for k, v in before.items())
    opt.reset()
    b.fit(X, y, optimizer=opt, epochs=1)
    fresh = dp.mlp([2, 4, 1], output_activation="sigmoid", seed=1)
    fresh.fit(X, y, optimizer=dp.Adam(lr=0.01), epochs=1)  # the reset optimizer carried nothing over
    assert all(np.array_equal(v, fresh.get_weights()[k]) for k, v in b.get_weights().items())


@pytest.mark.parametrize(("class_weight", "words"), [
    ({0: -1.0}, r"class_weight\[0\] must be a positive number"),
    ({0: 0.0}, r"class_weight\[0\] must be a positive number"),
    ({0: float("nan")}, r"class_weight\[0\] must be a positive number"),
    ({1: float("inf")}, r"class_weight\[1\] must be a positive number"),
    ({7: 2.0}, r"has the key 7, but the network's classes are the labels 0..1"),
    ({"a": 2.0}, r"has the key 'a'"),
    ({0: "2"}, r"must be a number, got str"),
    ("even", "must be a dict"),
])
def test_class_weight_is_validated_like_sample_weight(class_weight: object, words: str) -> None:
    X, y = np.random.default_rng(0).standard_normal((8, 2)), np.arange(8) % 2
    model = dp.mlp([2, 3, 1], output_activation="sigmoid", seed=0)
    before = model.get_weights()
    with pytest.raises((ValueError, TypeError), match=words):
        model.fit(X, y, class_weight=class_weight, epochs=1)
    assert all(np.array_equal(v, model.get_weights()[k]) for k, v in before.items())


def test_balanced_class_weight_means_nothing_for_a_regression() -> None:
    model = dp.mlp([2, 3, 1], seed=0)
    with pytest.raises(ValueError, match="class_weight applies to classification"):
        model.fit(np.zeros((4, 2)), np.array([0.5, 1.5, 2.5, 3.5]), class_weight="balanced")
    with pytest.raises(ValueError, match="sample_weight must be finite and non-negative"):
        model.fit(np.zeros((4, 2)), np.zeros(4), sample_weight=[1, -1, 1, 1])
    with pytest.raises(ValueError, match="every sample_weight is 0"):
        model.fit(np.zeros((4, 2)), np.zeros(4), sample_weight=[0, 0, 0, 0])


class _Falling(dp.schedules.Schedule):
    """A schedule gone wrong: the rate falls below zero at epoch 3."""

    def lr_at(self, epoch: int) -> float:
        return self.base_lr * (1 - epoch / 2)


def test_learning_rates_are_checked_before_fit_and_where_they_are_applied() -> None:
    X, y = np.zeros((4, 2)), np.zeros(4)
    model = dp.mlp([2, 3, 1], seed=0)
    before = model.get_weights()
    with pytest.raises(ValueError, match=r"schedule _Falling\(\) gives the learning rate -0.05 at epoch 4"):
        model.fit(X, y, optimizer=dp.SGD(lr=0.1), lr_schedule=_Falling(), epochs=5)
    assert all(np.array_equal(v, model.get_weights()[k]) for k, v in before.items())
    with pytest.raises(ValueError, match="CosineAnnealingLR: eta_min must be a finite number >= 0, got -1"):
        dp.CosineAnnealingLR(10, eta_min=-1)
    opt = dp.SGD(lr=0.1)
    opt.lr = float("nan")
    with pytest.raises(ValueError, match="SGD: the learning rate must be a finite number >= 0, got nan"):
        model.train_on_batch(X, y, optimizer=opt)
    assert all(np.array_equal(v, model.get_weights()[k]) for k, v in before.items())
    opt = dp.SGD(lr=0.1, schedule=_Falling())
    for _ in range(2):
        opt.epoch_end()
    with pytest.raises(ValueError, match=r"the schedule _Falling\(\) gave it at epoch 3"):
        opt.epoch_end()


@pytest.mark.parametrize(("X", "words"), [
    ([[np.nan, 0.0]], "train_on_batch: X contains 1 NaN"),
    ([[0.0, 0.0, 0.0]], r"train_on_batch: expected X of shape \(n, 2\), got \(1, 3\)"),
    ([[np.inf, 1.0]], "train_on_batch: X contains 1 NaN or infinite"),
])
def test_train_on_batch_validates_like_fit(X: list[list[float]], words: str) -> None:
    model = dp.mlp([2, 3, 1], seed=0)
    before = model.get_weights()
    with pytest.raises(ValueError, match=words):
        model.train_on_batch(np.array(X), [0.0], loss="mse", optimizer=dp.SGD(lr=0.1))
    with pytest.raises(ValueError, match="train_on_batch: y contains 1 NaN"):
        model.train_on_batch(np.zeros((1, 2)), [np.nan], loss="mse", optimizer=dp.SGD(lr=0.1))
    with pytest.raises(ValueError, match=r"predict: expected X of shape \(n, 2\)"):
        model.predict(np.zeros((1, 3)))
    with pytest.raises(ValueError, match=r"evaluate: expected X of shape \(n, 2\)"):
        model.evaluate(np.zeros((1, 3)), [0.0])
    assert all(np.array_equal(v, model.get_weights()[k]) for k, v in before.items())


def test_predict_in_another_thread_never_changes_the_training() -> None:
    import threading

    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((256, 4)), rng.integers(0, 3, 256)

    def train(disturb: bool) -> dict[str, np.ndarray]:
        model = dp.mlp([4, 32, 3], output_activation="softmax", seed=0, dropout=0.2)
        stop = threading.Event()
        seen: list[np.ndarray] = []

        def hammer() -> None:
            while not stop.is_set():
                seen.append(model.predict(X[:100]))

        thread = threading.Thread(target=hammer)
        if disturb:
            thread.start()
        try:
            model.fit(X, y, optimizer=dp.SGD(lr=0.1, momentum=0.9), epochs=15, batch_size=8, seed=1)
        finally:
            stop.set()
            if disturb:
                thread.join()
                assert seen and all(p.shape == (100, 3) and np.isfinite(p).all() for p in seen)
        return model.get_weights()

    alone, disturbed = train(False), train(True)
    for key, value in alone.items():
        np.testing.assert_array_equal(disturbed[key], value)


# ---------------------------------------------------------------------------------------------
# 3. Bounded resources
# ---------------------------------------------------------------------------------------------
def test_npz_labels_make_as_many_classes_as_distinct_values(tmp_path: Path) -> None:
    from deltaprop.cli.config import load_data

    X = np.random.default_rng(0).standard_normal((60, 3))
    np.savez(tmp_path / "big_labels.npz", X=X, y=np.arange(60) % 3 * 10**6)
    data = load_data(str(tmp_path / "big_labels.npz"))
    assert data.classes == ["0", "1000000", "2000000"] and data.n_outputs == 3
    np.testing.assert_array_equal(data.y, np.arange(60) % 3)


@pytest.mark.parametrize(("source", "words"), [
    ("npz-ids", "every one of the 60 rows has a target value of its own; that is an ID column"),
    ("csv-ids", "every one of the 60 rows has a target value of its own; that is an ID column"),
    ("csv-names", "the target has 30 distinct values; at most 20 become classes automatically. Pass --task "
                  "classification"),
])
def test_one_classification_rule_for_every_source(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                  source: str, words: str) -> None:
    rng = np.random.default_rng(0)
    X = rng.standard_normal((60, 2))
    if source == "npz-ids":
        path = tmp_path / "d.npz"
        np.savez(path, X=X, y=rng.permutation(60) + 1000)
    else:
        path = tmp_path / "d.csv"
        with open(path, "w", newline="") as f:
            w = csv.writer(f)
            w.writerow(["a", "b", "id"])
            for i, (a, b) in enumerate(X):
                w.writerow([a, b, f"row-{i}" if source == "csv-ids" else f"c{i % 30}"])
    rc, out, err = _cli(capsys, "train", "--data", str(path), "--epochs", "1", "--progress", "none")
    assert rc == 2 and words in err and not out
    if source == "csv-names":
        rc, out, _ = _cli(capsys, "train", "--data", str(path), "--epochs", "1", "--progress", "none", "--task",
                          "classification")
        assert rc == 0 and "30 classes" in out


def _refused_peak(call: object, words: str) -> int:
    """The peak memory traced while ``call()`` runs; it must raise a ValueError matching ``words``."""
    import tracemalloc

    tracemalloc.start()
    try:
        with pytest.raises(ValueError, match=words):
            call()  # type: ignore[operator]
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_a_table_over_the_limit_is_refused_before_it_is_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import gzip

    from deltaprop.datasets import tabular

    path = tmp_path / "big.csv"
    rows = 50_000
    text = "a,b,y\n" + "".join(f"{i * 0.001:.3f},{i % 7 * 0.5:.1f},{i % 3}\n" for i in range(rows))
    path.write_text(text)
    size = path.stat().st_size
    monkeypatch.setattr(tabular, "MAX_TABLE_BYTES", size // 2)
    for read in (dp.datasets.load_csv, dp.datasets.load_table):
        peak = _refused_peak(lambda read=read: read(path),
                             f"big.csv has {size:,} bytes, more than the limit of {size // 2:,} bytes")
        assert peak < 100_000  # refused from its size, without reading it
    bomb = tmp_path / "bomb.csv.gz"  # small on disk, big unpacked: stopped once the limit is passed
    with gzip.open(bomb, "wt") as f:
        f.write("a,b,y\n" + "0.5,1.0,1\n" * (8 * rows))
    assert bomb.stat().st_size < size // 2
    peak = _refused_peak(lambda: dp.datasets.load_csv(bomb), "bomb.csv.gz unpacks to more than the limit")
    unpacked = len("a,b,y\n" + "0.5,1.0,1\n" * (8 * rows))
    assert peak < 2 * size < unpacked // 3  # about the limit's worth of text was held, not the whole


@pytest.mark.parametrize(("content", "words"), [
    (b"a,b,y\n1,2,\xff\xfe\n", "d.csv is not utf-8 text"),
    (b"a,b,y\n1,2," + b"x" * 200_000 + b"\n", "d.csv line 2 cannot be read as CSV (field larger than field limit"),
])
def test_bad_csv_text_is_one_error_naming_the_file(tmp_path: Path, content: bytes, words: str) -> None:
    (tmp_path / "d.csv").write_bytes(content)
    with pytest.raises(ValueError, match=words.replace("(", r"\(")):
        dp.datasets.load_csv(tmp_path / "d.csv")


@pytest.mark.parametrize(("argv", "words"), [
    (["train", "--data", "moons", "--n-samples", "100000000000"], "more than the 10,000,000 a toy data set draws"),
    (["train", "--data", "moons", "--layers", "2,10000000000,2"], "would need 160.0 GB, more than the limit"),
    (["train", "--data", "moons", "--layers", "2,40000,40000,40000,2"], "would need 12.8 GB"),
    (["explain", "--layers", "784,4096,4096,10", "--x", ",".join(["0"] * 784), "--y", ",".join(["0"] * 10)],
     "the network has 20,037,642 parameters"),
])
def test_work_is_estimated_before_it_is_allocated(capsys: pytest.CaptureFixture[str], argv: list[str],
                                                  words: str) -> None:
    import tracemalloc

    tracemalloc.start()
    try:
        rc, _, err = _cli(capsys, *argv, *(["--epochs", "1", "--progress", "none"] if argv[0] == "train" else []))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert rc == 2 and words in err, err
    assert peak < 50_000_000 or argv[0] == "explain"  # explain builds the network it refuses (160 MB)


def test_a_dense_layer_refuses_a_size_before_allocating_it() -> None:
    with pytest.raises(ValueError, match=r"Dense\(100000, 100000\): its weights would need 40.0 GB \(float32\)"):
        dp.Dense(100_000, 100_000)


def test_gradcheck_estimates_its_cost_checks_a_subset_and_reports_progress(capsys: pytest.CaptureFixture[str]) -> None:
    from deltaprop.teach.gradcheck import cost, gradcheck

    model = dp.mlp([784, 128, 10], output_activation="softmax", seed=0)
    assert cost(model, 8) == 2 * 101_770
    assert cost(model, 8, params=["2.b"]) == 20 and cost(model, 8, max_entries=5) == 40
    calls: list[tuple[int, int]] = []
    X, y = np.random.default_rng(0).standard_normal((4, 784)), np.arange(4)
    result = gradcheck(model, "categorical_crossentropy", X, y, params=["0.W", "2.b"], max_entries=6,
                       progress=lambda done, total: calls.append((done, total)))
    assert set(result) == {"0.W", "2.b"} and result.passed(1e-6)
    assert calls == [(i, 12) for i in range(1, 13)]
    rc, _, err = _cli(capsys, "gradcheck", "--layers", "784,128,10", "--output", "softmax", "--max-entries", "3")
    assert rc == 0 and "gradcheck: 12 parameter entries, 24 forward passes of 8 sample(s), about" in err
    rc, _, err = _cli(capsys, "gradcheck", "--layers", "4,3", "--params", "9.W")
    assert rc == 2 and "params must name some of the model's parameters (0.W, 0.b)" in err


# ---------------------------------------------------------------------------------------------
# 4. No foreign exceptions
# ---------------------------------------------------------------------------------------------
def _spoiled_metadata_model(tmp_path: Path, **user: object) -> Path:
    model = dp.mlp([2, 3, 3], output_activation="softmax", seed=0)
    meta = {"classes": ["a", "b", "c"], "feature_names": ["x", "y"], "input_mean": [0.0, 0.0],
            "input_std": [1.0, 1.0], **user}
    path = tmp_path / "m.safetensors"
    model.save(path, metadata=meta)
    return path


@pytest.mark.parametrize(("user", "words"), [
    ({"classes": ["a", "b"]}, "metadata's 'classes' must be a list of 3 names"),
    ({"feature_names": ["x"]}, "metadata's 'feature_names' must be a list of 2 names"),
    ({"input_mean": [0.0, 0.0, 0.0]}, "metadata's 'input_mean' must be null or 2 finite numbers"),
    ({"input_std": [1.0, 0.0]}, "metadata's 'input_std' must be positive"),
    ({"image_shape": [3, 3]}, "metadata's 'image_shape' must be"),
])
def test_hostile_metadata_is_a_model_file_error_at_load(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                        user: dict[str, object], words: str) -> None:
    from deltaprop.cli.common import load_model

    path = _spoiled_metadata_model(tmp_path, **user)
    with pytest.raises(dp.ModelFileError, match=words):
        load_model(str(path))
    np.savetxt(tmp_path / "d.csv", np.zeros((3, 2)), delimiter=",", header="x,y", comments="")
    rc, out, err = _cli(capsys, "predict", str(path), str(tmp_path / "d.csv"))
    assert rc == 2 and words in err and not out


def test_info_shows_metadata_that_is_not_an_object(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "m.safetensors"
    dp.mlp([2, 3, 1], seed=0).save(path, metadata=["a", 1, None])
    rc, out, _ = _cli(capsys, "info", str(path))
    assert rc == 0 and 'metadata: ["a", 1, null]' in out


def test_a_compressed_npz_that_unpacks_beyond_the_limit_is_refused_before_unpacking(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    from deltaprop.datasets import npz

    np.savez_compressed(tmp_path / "bomb.npz", X=np.zeros((20_000, 100)), y=np.zeros(20_000))  # 16 MB in ~50 KB
    assert (tmp_path / "bomb.npz").stat().st_size < 200_000
    monkeypatch.setattr(npz, "MAX_NPZ_BYTES", 1_000_000)
    peak = _refused_peak(lambda: npz.check_archive(tmp_path / "bomb.npz", "data"),
                         "the compressed arrays in bomb.npz would unpack to 16,160,")
    assert peak < 1_000_000
    rc, _, err = _cli(capsys, "train", "--data", str(tmp_path / "bomb.npz"), "--progress", "none")
    assert rc == 2 and "MAX_NPZ_BYTES" in err


def test_a_truncated_npz_is_one_line_naming_the_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    np.savez(tmp_path / "full.npz", X=np.zeros((50, 2)), y=np.arange(50) % 2)
    data = (tmp_path / "full.npz").read_bytes()
    (tmp_path / "cut.npz").write_bytes(data[: len(data) // 2])
    rc, _, err = _cli(capsys, "train", "--data", str(tmp_path / "cut.npz"), "--progress", "none")
    assert rc == 2 and "cut.npz is not a readable .npz archive" in err and err.count("\n") == 1
    with pytest.raises(ValueError, match=r"cut\.npz is not a readable \.npz archive"):
        dp.datasets.load_npz_mnist(tmp_path / "cut.npz")


@pytest.mark.parametrize(("make", "error", "words"), [
    (lambda: dp.LinearWarmup(1, then="step"), TypeError, "LinearWarmup: then must be a schedule"),
    (lambda: dp.StepLR("5"), TypeError, "StepLR: step_size must be an int, got str '5'; pass a number, not a string"),
    (lambda: dp.ReduceLROnPlateau(factor="0.5"), TypeError, "factor must be a number, got str '0.5'"),
    (lambda: dp.EarlyStopping(min_delta="0.1"), TypeError, "min_delta must be a number, got str"),
    (lambda: dp.mlp([2, 1]).fit(np.zeros((2, 2)), np.zeros(2), validation_split="0.2"), TypeError,
     "validation_split must be a number, got str"),
    (lambda: dp.Huber(delta="1"), TypeError, "Huber: delta must be a number, got str"),
    (lambda: dp.gradcheck(dp.mlp([2, 1]), "mse", np.zeros((2, 2)), np.zeros(2), eps=0), ValueError,
     "gradcheck: eps must be a positive number, got 0"),
    (lambda: dp.gradcheck(dp.mlp([2, 1]), "mse", np.zeros((0, 2)), np.zeros(0)), ValueError,
     "gradcheck: X has 0 samples"),
    (lambda: dp.mlp([2, 1]).save("/nonexistent-folder/m.safetensors", metadata={"a": {1: 1, "1": 2}}), ValueError,
     "duplicate key '1'"),
])
def test_every_failure_is_deltaprops_own_error_naming_the_argument(make: object, error: type, words: str) -> None:
    with pytest.raises(error, match=words.replace("(", r"\(").replace(")", r"\)")):
        make()  # type: ignore[operator]


def test_numpy_integers_are_ints() -> None:
    assert dp.StepLR(np.int64(5)).step_size == 5
    assert dp.CosineAnnealingLR(np.int32(10)).T_max == 10
    assert dp.LinearWarmup(np.int64(2)).warmup_epochs == 2
    assert dp.ReduceLROnPlateau(patience=np.int64(3), cooldown=np.int8(1)).patience == 3
    assert dp.EarlyStopping(patience=np.int64(3)).patience == 3
    assert dp.Huber(np.float32(2.0)).delta == 2.0
    model = dp.mlp([np.int64(2), np.int64(3), 1], seed=0)
    model.fit(np.zeros((4, 2)), np.zeros(4), epochs=np.int64(1), batch_size=np.int32(2), tol=np.float32(1e-3))


# ---------------------------------------------------------------------------------------------
# 5. Check before changing
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("monitor", "validation", "words"), [
    ("val_loss", False, "monitor 'val_loss' is not logged by this fit call (checked before training)"),
    ("val_los", True, "monitor 'val_los' is not logged"),
    ("accuracy", True, "monitor 'accuracy' is not logged"),
])
def test_early_stopping_is_checked_when_fit_starts(monitor: str, validation: bool, words: str) -> None:
    X, y = np.random.default_rng(0).standard_normal((20, 2)), np.arange(20) % 2
    model = dp.mlp([2, 3, 1], output_activation="sigmoid", seed=0)
    before, state = model.get_weights(), model.rng.bit_generator.state
    epochs: list[int] = []
    with pytest.raises(ValueError, match=words.replace("(", r"\(").replace(")", r"\)")):
        model.fit(X, y, epochs=3, validation_split=0.2 if validation else 0.0,
                  callbacks=[dp.LambdaCallback(on_epoch_begin=lambda e, logs=None: epochs.append(e)),
                             dp.EarlyStopping(monitor)])
    assert epochs == [] and model.rng.bit_generator.state == state
    assert all(np.array_equal(v, model.get_weights()[k]) for k, v in before.items())


def test_resume_refuses_fewer_epochs_and_other_data_of_the_same_size(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((32, 2)), np.arange(32) % 2
    ckpt = tmp_path / "run.safetensors"

    def run(X: np.ndarray, y: np.ndarray, epochs: int, resume: bool) -> dp.Sequential:
        model = dp.mlp([2, 4, 1], output_activation="sigmoid", seed=0)
        model.fit(X, y, optimizer=dp.SGD(lr=0.1), epochs=epochs, batch_size=8, seed=1, checkpoint=ckpt,
                  resume=ckpt if resume else None)
        return model

    run(X, y, 4, resume=False)
    saved = ckpt.read_bytes()
    for args, words in [((X, y, 3), "already done 4 epoch(s), but this fit call asks for 3 in total"),
                        ((X[::-1].copy(), y, 6), "trained on other data (same number of samples"),
                        ((X, 1 - y, 6), "trained on other data")]:
        with pytest.raises(ValueError, match=words.replace("(", r"\(").replace(")", r"\)")):
            run(*args, resume=True)
        assert ckpt.read_bytes() == saved
    resumed = run(X, y, 6, resume=True)
    straight = dp.mlp([2, 4, 1], output_activation="sigmoid", seed=0)
    straight.fit(X, y, optimizer=dp.SGD(lr=0.1), epochs=6, batch_size=8, seed=1)
    for key, value in straight.get_weights().items():
        np.testing.assert_array_equal(resumed.get_weights()[key], value)
