"""Data sets: toy generators, the IDX reader (and its errors), MNIST download/caching without network,
the CSV loader, splits, scaling and the by-name registry."""

from __future__ import annotations

import functools
import gzip
import hashlib
import http.server
import sys
import threading
from pathlib import Path

import numpy as np
import pytest

import deltaprop as dp
from deltaprop import datasets as ds
from deltaprop.datasets import mnist as mnist_mod
from deltaprop.seed import XOR_X, XOR_Y


# ---------------------------------------------------------------------------------------------
# logic gates and toy sets
# ---------------------------------------------------------------------------------------------
def test_xor_is_the_seed_data():
    X, y = ds.xor()
    np.testing.assert_array_equal(X, [[0, 0], [0, 1], [1, 0], [1, 1]])
    np.testing.assert_array_equal(y, [[0], [1], [1], [0]])
    np.testing.assert_array_equal(X, XOR_X)
    np.testing.assert_array_equal(y, XOR_Y)
    X[0, 0] = 5  # a copy: the seed's constants are untouched
    assert XOR_X[0, 0] == 0


@pytest.mark.parametrize(("gate", "op"), [(ds.and_gate, np.logical_and), (ds.or_gate, np.logical_or),
                                          (ds.xor, np.logical_xor)])
def test_gates_truth_tables(gate, op):
    X, y = gate()
    np.testing.assert_array_equal(y[:, 0], op(X[:, 0], X[:, 1]).astype(float))


@pytest.mark.parametrize("make", [ds.moons, ds.circles, ds.spirals, ds.blobs])
def test_toy_sets_are_seeded_and_shaped(make):
    X1, y1 = make(101, 0.1, seed=3)
    X2, y2 = make(101, 0.1, seed=3)
    X3, _ = make(101, 0.1, seed=4)
    assert X1.shape == (101, 2) and y1.shape == (101,)
    assert np.issubdtype(y1.dtype, np.integer)
    np.testing.assert_array_equal(X1, X2)
    np.testing.assert_array_equal(y1, y2)
    assert not np.array_equal(X1, X3)
    counts = np.bincount(y1)
    assert counts.max() - counts.min() <= 1  # balanced classes


def test_moons_and_circles_geometry_without_noise():
    X, y = ds.moons(50, 0.0, seed=0)
    top, bottom = X[y == 0], X[y == 1]
    np.testing.assert_allclose(np.hypot(*top.T), 1.0)
    np.testing.assert_allclose(np.hypot(bottom[:, 0] - 1, bottom[:, 1] - 0.5), 1.0)
    X, y = ds.circles(40, 0.0, factor=0.3, seed=0)
    np.testing.assert_allclose(np.hypot(*X[y == 0].T), 1.0)
    np.testing.assert_allclose(np.hypot(*X[y == 1].T), 0.3)


def test_spirals_classes_and_blobs_centres():
    X, y = ds.spirals(90, 0.0, n_classes=3, seed=1)
    assert set(y.tolist()) == {0, 1, 2}
    assert np.all(np.hypot(*X.T) <= 1.0 + 1e-12)
    centres = np.array([[-5.0, 0.0], [5.0, 0.0]])
    X, y = ds.blobs(400, 0.5, centers=centres, seed=2)
    for k in range(2):
        np.testing.assert_allclose(X[y == k].mean(axis=0), centres[k], atol=0.15)
        np.testing.assert_allclose(X[y == k].std(axis=0), 0.5, atol=0.1)


@pytest.mark.parametrize(("call", "match"), [
    (lambda: ds.moons(1), "n must be an int >= 2"),
    (lambda: ds.moons(10, -0.1), "noise must be a number >= 0"),
    (lambda: ds.circles(10, factor=1.5), "factor must be in"),
    (lambda: ds.spirals(10, n_classes=1), "n_classes must be an int"),
    (lambda: ds.blobs(10, centers=0), "centers must be >= 1"),
])
def test_toy_argument_errors(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_digits_from_sklearn():
    X, y = ds.digits()
    assert X.shape == (1797, 64) and y.shape == (1797,)
    assert X.min() == 0.0 and X.max() == 1.0
    assert set(y.tolist()) == set(range(10))


def test_digits_without_sklearn_says_what_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "sklearn.datasets", None)  # import fails as if not installed
    with pytest.raises(ImportError, match=r"needs scikit-learn.*deltaprop\[sklearn\]"):
        ds.digits()
    monkeypatch.setitem(sys.modules, "sklearn", None)
    assert isinstance(ds.standard_scaler(), ds.split._StandardScaler)  # the NumPy fallback
    Xtr, Xte, _, _ = ds.train_test_split(np.arange(10).reshape(5, 2), np.arange(5), test_size=1, seed=0)
    assert len(Xtr) == 4 and len(Xte) == 1


def test_moons_are_learnable():
    X, y = ds.moons(200, 0.1, seed=0)
    model = dp.mlp([2, 16, 2], activation="tanh", output_activation="softmax", seed=0)
    model.fit(X, y, optimizer=dp.Adam(lr=0.05), epochs=150, batch_size=50, seed=0)
    assert dp.metrics.accuracy(model.predict(X), y) >= 0.95


# ---------------------------------------------------------------------------------------------
# IDX files
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", ["uint8", "int8", "int16", "int32", "float32", "float64"])
@pytest.mark.parametrize("suffix", ["", ".gz"])
def test_idx_round_trip(tmp_path, dtype, suffix):
    arr = (np.arange(2 * 3 * 4) - 5).reshape(2, 3, 4).astype(dtype)
    path = ds.write_idx(tmp_path / f"a-idx3{suffix}", arr)
    assert ds.idx.is_gzip(path) == (suffix == ".gz")
    back = ds.read_idx(path)
    assert back.dtype == np.dtype(dtype) and back.dtype.isnative
    np.testing.assert_array_equal(back, arr)


def test_idx_header_is_the_documented_layout(tmp_path):
    path = ds.write_idx(tmp_path / "labels-idx1-ubyte", np.array([7, 2, 1], dtype=np.uint8))
    assert path.read_bytes() == bytes([0, 0, 8, 1, 0, 0, 0, 3, 7, 2, 1])


def _header(code: int, dims: tuple[int, ...]) -> bytes:
    return bytes([0, 0, code, len(dims)]) + b"".join(d.to_bytes(4, "big") for d in dims)


@pytest.mark.parametrize(("payload", "match"), [
    (b"\x00\x00", "too short"),
    (b"PK\x03\x04" + b"\x00" * 20, "bad magic number 0x504b0304"),
    (_header(0x0A, (2,)) + b"\x00\x00", "unknown data type code 0x0A"),
    (bytes([0, 0, 8, 0]), "declares 0 dimensions"),
    (bytes([0, 0, 8, 3, 0, 0, 0, 2]), "truncated inside its header"),
    (_header(0x08, (2, 3, 3)) + bytes(17), r"truncated: its header declares shape \(2, 3, 3\)"),
    (_header(0x08, (3,)) + bytes(4), "more data than its header declares"),
    (_header(0x0C, (2,)) + bytes(7), "truncated"),
    (_header(0x08, (60000, 28, 28)) + bytes(10), "47,040,000 bytes of data"),  # no huge allocation
])
@pytest.mark.parametrize("gz", [False, True])
def test_idx_rejects_corrupt_files(tmp_path, payload, match, gz):
    path = tmp_path / ("bad.gz" if gz else "bad")
    path.write_bytes(gzip.compress(payload) if gz else payload)
    with pytest.raises(ValueError, match=match) as info:
        ds.read_idx(path)
    assert str(path) in str(info.value)  # the message names the file


def test_idx_rejects_a_broken_gzip_stream(tmp_path):
    good = gzip.compress(_header(0x08, (1000,)) + np.random.default_rng(0).bytes(1000))
    path = tmp_path / "cut.gz"
    path.write_bytes(good[: len(good) // 2])
    with pytest.raises(ValueError, match=r"not a valid gzip stream.*download it again"):
        ds.read_idx(path)


def test_idx_missing_file_and_write_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="no such file"):
        ds.read_idx(tmp_path / "nope")
    with pytest.raises(TypeError, match="IDX cannot store dtype int64"):
        ds.write_idx(tmp_path / "x", np.zeros(3, dtype=np.int64))


# ---------------------------------------------------------------------------------------------
# MNIST-format folders, downloads (from file:// and a local HTTP server) and the cache
# ---------------------------------------------------------------------------------------------
def _fake_mnist(folder: Path, *, seed: int = 0, n_train: int = 6, n_test: int = 4) -> dict[str, np.ndarray]:
    """Tiny MNIST-format files (gzipped, the distributed names) and the arrays they hold."""
    rng = np.random.default_rng(seed)
    arrays = {"train_images": rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8),
              "train_labels": rng.integers(0, 10, n_train, dtype=np.uint8),
              "test_images": rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8),
              "test_labels": rng.integers(0, 10, n_test, dtype=np.uint8)}
    folder.mkdir(parents=True, exist_ok=True)
    for role, arr in arrays.items():
        ds.write_idx(folder / ds.MNIST.files[role][0], arr)
    return arrays


def _source_for(folder: Path, *, mirrors: tuple[str, ...] = (), wrong: str | None = None) -> ds.Source:
    files = {}
    for role, (name, _) in ds.MNIST.files.items():
        sha = hashlib.sha256((folder / name).read_bytes()).hexdigest()
        files[role] = (name, "0" * 64 if role == wrong else sha)
    return ds.Source("mnist", mirrors, files)


def _check_split(split, arrays, *, flatten=True, scale=True):
    (Xtr, ytr), (Xte, yte) = split
    for X, y, part in ((Xtr, ytr, "train"), (Xte, yte, "test")):
        images = arrays[f"{part}_images"]
        expected = images.astype(np.float32) / 255 if scale else images
        expected = expected.reshape(len(images), -1) if flatten else expected
        assert X.dtype == expected.dtype
        np.testing.assert_array_equal(X, expected)
        np.testing.assert_array_equal(y, arrays[f"{part}_labels"])


def test_load_mnist_from_a_folder(tmp_path):
    arrays = _fake_mnist(tmp_path)
    split = ds.load_mnist(tmp_path)
    _check_split(split, arrays)
    assert split[0][0].shape == (6, 784) and split[0][0].max() <= 1.0
    _check_split(ds.load_mnist(tmp_path, flatten=False, scale=False), arrays, flatten=False, scale=False)


def test_load_mnist_reads_unpacked_files(tmp_path):
    arrays = _fake_mnist(tmp_path)
    for name, _ in ds.MNIST.files.values():
        gz = tmp_path / name
        (tmp_path / name[:-3]).write_bytes(gzip.decompress(gz.read_bytes()))
        gz.unlink()
    _check_split(ds.load_mnist(tmp_path), arrays)


def test_load_mnist_folder_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"train-images-idx3-ubyte\.gz"):
        ds.load_mnist(tmp_path)
    _fake_mnist(tmp_path)
    ds.write_idx(tmp_path / "train-labels-idx1-ubyte.gz", np.zeros(5, np.uint8))  # 6 images, 5 labels
    with pytest.raises(ValueError, match="same n"):
        ds.load_mnist(tmp_path)


def test_cache_dir_honours_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("DELTAPROP_DATA", str(tmp_path / "data"))
    assert ds.cache_dir() == tmp_path / "data"
    monkeypatch.delenv("DELTAPROP_DATA")
    monkeypatch.setattr(mnist_mod.sys, "platform", "linux")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert ds.cache_dir() == tmp_path / "xdg" / "deltaprop"


def test_download_into_the_cache_from_a_file_url(monkeypatch, tmp_path):
    mirror = tmp_path / "mirror"
    arrays = _fake_mnist(mirror)
    monkeypatch.setattr(mnist_mod, "MNIST", _source_for(mirror, mirrors=(mirror.as_uri() + "/",)))
    monkeypatch.setenv("DELTAPROP_DATA", str(tmp_path / "cache"))
    _check_split(ds.load_mnist(progress=False), arrays)
    cached = tmp_path / "cache" / "mnist"
    assert sorted(p.name for p in cached.iterdir()) == sorted(name for name, _ in ds.MNIST.files.values())
    # a second call uses the cache: it works with the mirror gone
    for p in mirror.iterdir():
        p.unlink()
    _check_split(ds.load_mnist(progress=False), arrays)
    _check_split(ds.load("mnist", download=False), arrays)


def test_sha256_mismatch_is_rejected_and_leaves_nothing(monkeypatch, tmp_path):
    mirror = tmp_path / "mirror"
    _fake_mnist(mirror)
    monkeypatch.setattr(mnist_mod, "MNIST", _source_for(mirror, mirrors=(mirror.as_uri(),), wrong="test_images"))
    monkeypatch.setenv("DELTAPROP_DATA", str(tmp_path / "cache"))
    with pytest.raises(OSError, match=r"t10k-images-idx3-ubyte\.gz") as info:
        ds.load_mnist(progress=False)
    assert "SHA-256 mismatch" in str(info.value) and "0" * 64 in str(info.value)
    names = {p.name for p in (tmp_path / "cache" / "mnist").iterdir()}
    assert "t10k-images-idx3-ubyte.gz" not in names
    assert not any(name.endswith(".part") for name in names)


def test_download_function_checks_the_sum(tmp_path):
    src = tmp_path / "f.bin"
    src.write_bytes(b"hello")
    good = hashlib.sha256(b"hello").hexdigest()
    out = ds.download(src.as_uri(), tmp_path / "out" / "f.bin", sha256=good, progress=True)
    assert out.read_bytes() == b"hello"
    with pytest.raises(ValueError, match=f"expected {'1' * 64}, got {good}"):
        ds.download(src.as_uri(), tmp_path / "out" / "g.bin", sha256="1" * 64, progress=False)
    assert not (tmp_path / "out" / "g.bin").exists()


def test_corrupt_cached_file_is_downloaded_again(monkeypatch, tmp_path):
    mirror = tmp_path / "mirror"
    arrays = _fake_mnist(mirror)
    source = _source_for(mirror, mirrors=(mirror.as_uri(),))
    cache = tmp_path / "cache"
    ds.fetch(source, cache, progress=False)
    (cache / "train-labels-idx1-ubyte.gz").write_bytes(b"garbage")
    ds.fetch(source, cache, progress=False)
    _check_split(ds.load_idx_folder(cache), arrays)


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):  # keep the test output clean
        pass


def test_download_over_http_falls_back_to_the_next_mirror(tmp_path):
    """A local server on 127.0.0.1 (no network): the first mirror answers 404, the second serves the files."""
    root = tmp_path / "www"
    arrays = _fake_mnist(root / "good")
    (root / "empty").mkdir()
    handler = functools.partial(_QuietHandler, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        base = f"http://127.0.0.1:{server.server_address[1]}"
        source = _source_for(root / "good")
        folder = ds.fetch(source, tmp_path / "cache", mirrors=[f"{base}/empty/", f"{base}/good/"], progress=False)
        _check_split(ds.load_idx_folder(folder), arrays)
        with pytest.raises(OSError, match=r"from any mirror:\n.*404"):
            ds.fetch(source, tmp_path / "cache2", mirrors=[f"{base}/empty/"], progress=False)
    finally:
        server.shutdown()
        server.server_close()


def test_load_npz_mnist(tmp_path):
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (10, 28, 28), dtype=np.uint8)
    labels = rng.integers(0, 10, 10, dtype=np.uint8)
    np.savez(tmp_path / "m.npz", images=images, labels=labels)
    (Xtr, ytr), (Xte, yte) = ds.load_npz_mnist(tmp_path / "m.npz")
    assert Xtr.shape == (8, 784) and Xte.shape == (2, 784) and Xtr.dtype == np.float32
    np.testing.assert_array_equal(Xte, images[8:].reshape(2, -1) / np.float32(255))
    np.testing.assert_array_equal(ytr, labels[:8])
    (Xtr, _), _ = ds.load_npz_mnist(tmp_path / "m.npz", n_train=3, flatten=False, scale=False)
    np.testing.assert_array_equal(Xtr, images[:3])
    np.savez(tmp_path / "k.npz", x_train=images[:7], y_train=labels[:7], x_test=images[7:], y_test=labels[7:])
    (Xtr, ytr), (Xte, yte) = ds.load_npz_mnist(tmp_path / "k.npz")
    assert len(Xtr) == 7 and len(yte) == 3
    np.savez(tmp_path / "bad.npz", pixels=images)
    with pytest.raises(ValueError, match="expected 'images' and 'labels'"):
        ds.load_npz_mnist(tmp_path / "bad.npz")
    with pytest.raises(ValueError, match=r"n_train must be an int in 1\.\.9"):
        ds.load_npz_mnist(tmp_path / "m.npz", n_train=10)


# ---------------------------------------------------------------------------------------------
# CSV
# ---------------------------------------------------------------------------------------------
IRIS_LIKE = """sepal_length,sepal_width,species
5.1,3.5,setosa
7.0,3.2,versicolor
6.3,3.3,virginica
4.9,3.0,setosa
6.4,3.2,versicolor
"""


def test_csv_round_trips_class_labels(tmp_path):
    path = tmp_path / "iris.csv"
    path.write_text(IRIS_LIKE)
    table = ds.load_csv(path, target="species")
    original = ["setosa", "versicolor", "virginica", "setosa", "versicolor"]
    assert table.feature_names == ["sepal_length", "sepal_width"]
    assert table.classes.tolist() == ["setosa", "versicolor", "virginica"]
    np.testing.assert_array_equal(table.y, [0, 1, 2, 0, 1])
    assert table.decode(table.y).tolist() == original
    np.testing.assert_array_equal(table.encode(original), table.y)
    np.testing.assert_array_equal(table.X, [[5.1, 3.5], [7.0, 3.2], [6.3, 3.3], [4.9, 3.0], [6.4, 3.2]])
    X, y = table  # unpacks like the other loaders
    assert X is table.X and y is table.y
    with pytest.raises(ValueError, match="unknown class"):
        table.encode(["setosa", "virginicas"])
    with pytest.raises(ValueError, match=r"integers in 0..2"):
        table.decode([3])


def test_csv_trains_and_decodes_predictions(tmp_path):
    rng = np.random.default_rng(0)
    names = np.array(["low", "high"])
    x = rng.normal(size=60)
    lines = ["x,label"] + [f"{v:.6f},{names[int(v > 0)]}" for v in x]
    (tmp_path / "d.csv").write_text("\n".join(lines) + "\n")
    table = ds.load_csv(tmp_path / "d.csv", target="label")
    model = dp.mlp([1, 2], output_activation="softmax", seed=0)
    model.fit(table.X, table.y, optimizer=dp.Adam(lr=0.1), epochs=100, seed=0)
    predicted = table.decode(model.predict_classes(table.X))
    assert np.mean(predicted == np.where(x > 0, "high", "low")) >= 0.95


def test_csv_numeric_target_and_column_choice(tmp_path):
    path = tmp_path / "r.csv"
    path.write_text("a;b;price;note\n1;2;10.5;x\n3;4;20;y\n")
    table = ds.load_csv(path, target="price", features=["b", "a"], delimiter=";")
    assert table.classes is None and table.feature_names == ["b", "a"]
    np.testing.assert_array_equal(table.X, [[2, 1], [4, 3]])
    np.testing.assert_array_equal(table.y, [10.5, 20.0])
    with pytest.raises(ValueError, match="target 'price' is numeric"):
        table.decode([0])
    labels = ds.load_csv(path, target="price", features=["a"], delimiter=";", classification=True)
    np.testing.assert_array_equal(labels.classes, [10.5, 20.0])  # numeric classes sort as numbers


def test_csv_numeric_classes_sort_as_numbers(tmp_path):
    path = tmp_path / "n.csv"
    path.write_text("x,y\n0,10\n1,2\n2,10\n3,9\n")
    table = ds.load_csv(path, classification=True)
    np.testing.assert_array_equal(table.classes, [2, 9, 10])
    np.testing.assert_array_equal(table.decode(table.y), [10, 2, 10, 9])


@pytest.mark.parametrize(("text", "kwargs", "match"), [
    ("a,b,y\n1,red,0\n", {"target": "y"}, r"line 2: feature column 'b' is not numeric \(value 'red'\)"),
    ("a,b,y\n1,,0\n", {"target": "y"}, "feature column 'b' has a missing value"),
    ("a,b,y\n1,2,0\n", {"target": "z"}, r"target column 'z' is not in .*\['a', 'b', 'y'\]"),
    ("a,b,y\n1,2,0\n", {"features": ["c"]}, "feature column 'c' is not in"),
    ("a,b,y\n1,2\n", {}, "line 2 has 2 fields but the header has 3"),
    ("a,a,y\n1,2,0\n", {}, "duplicate column names"),
    ("a,b,y\n", {}, "no data rows"),
    ("", {}, "is empty"),
    ("a,y\n1,cat\n", {"classification": False}, "not numeric; pass classification=True"),
    ("a,y\n1,\n", {}, "the target 'y' is missing"),
])
def test_csv_errors_name_the_problem(tmp_path, text, kwargs, match):
    path = tmp_path / "bad.csv"
    path.write_text(text)
    with pytest.raises(ValueError, match=match):
        ds.load_csv(path, **kwargs)


# ---------------------------------------------------------------------------------------------
# splits, scaling, registry
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("use_sklearn", [True, False])
def test_train_test_split_is_seeded_and_partitions(use_sklearn):
    X = np.arange(100).reshape(50, 2)
    y = np.arange(50) % 3
    a = ds.train_test_split(X, y, test_size=0.2, seed=1, use_sklearn=use_sklearn)
    b = ds.train_test_split(X, y, test_size=0.2, seed=1, use_sklearn=use_sklearn)
    c = ds.train_test_split(X, y, test_size=0.2, seed=2, use_sklearn=use_sklearn)
    for u, v in zip(a, b):
        np.testing.assert_array_equal(u, v)
    assert not np.array_equal(a[1], c[1])
    Xtr, Xte, ytr, _ = a
    assert len(Xte) == 10 and len(Xtr) == 40
    assert sorted(np.concatenate([Xtr[:, 0], Xte[:, 0]]).tolist()) == list(range(0, 100, 2))
    np.testing.assert_array_equal(ytr, (Xtr[:, 0] // 2) % 3)  # rows stay paired


def test_train_test_split_delegates_to_sklearn_and_stratifies():
    from sklearn.model_selection import train_test_split as sk

    X = np.arange(40).reshape(40, 1)
    y = np.r_[np.zeros(30, int), np.ones(10, int)]
    ours = ds.train_test_split(X, y, test_size=0.25, seed=7, stratify=True)
    ref = sk(X, y, test_size=10, random_state=7, stratify=y)
    for u, v in zip(ours, ref):
        np.testing.assert_array_equal(u, v)
    _, _, _, yte = ds.train_test_split(X, y, test_size=0.25, seed=7, stratify=True, use_sklearn=False)
    assert np.bincount(yte).tolist() == [7, 3] or np.bincount(yte).tolist() == [8, 2]
    with pytest.raises(ValueError, match="leaves 0 of 40"):
        ds.train_test_split(X, y, test_size=0)


def test_standard_scaler_matches_sklearn():
    X = np.random.default_rng(0).normal(3, 2, (20, 3))
    X[:, 2] = 1.0  # constant column: scale 1, no division by zero
    ours = ds.standard_scaler(use_sklearn=False).fit(X)
    ref = ds.standard_scaler(use_sklearn=True).fit(X)
    np.testing.assert_allclose(ours.transform(X), ref.transform(X), atol=1e-12)
    np.testing.assert_allclose(ours.inverse_transform(ours.transform(X)), X)
    Xtr, Xte = ds.standardize(X[:10], X[10:])
    np.testing.assert_allclose(Xtr.mean(axis=0)[:2], 0, atol=1e-12)
    assert Xte.shape == (10, 3)


def test_load_by_name():
    X, _ = ds.load("moons", n=30, noise=0.0, seed=1)
    np.testing.assert_array_equal(X, ds.moons(30, 0.0, seed=1)[0])
    np.testing.assert_array_equal(ds.load("XOR")[1], XOR_Y)
    with pytest.raises(ValueError, match=r"unknown data set 'mnsit'.*Did you mean 'mnist'"):
        ds.load("mnsit")
