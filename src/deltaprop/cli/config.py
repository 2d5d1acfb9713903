"""A training run's settings and the data they name: a TOML file, command-line flags, a data source.

``load_config(path)`` reads a TOML file (stdlib ``tomllib``; ``tomli`` on Python 3.10) whose keys
are the ``deltaprop train`` options with underscores, either at the top level or grouped in
``[data]``, ``[model]``, ``[training]`` and ``[output]`` tables::

    [data]
    data = "moons"            # a built-in data set, a .csv (with target), a .npz, or an IDX folder
    [model]
    layers = [2, 16, 16, 2]
    activation = "relu"
    output = "softmax"
    [training]
    optimizer = "adam"
    lr = 0.01
    epochs = 200
    batch_size = 32
    validation_split = 0.2
    early_stopping = 20
    seed = 0
    [output]
    out = "moons.safetensors"
    history = "history.json"

``merge(defaults, config, flags)`` gives flags precedence over the file and the file over the
defaults. ``load_data(spec, ...)`` turns a data source into arrays (``Data``).
"""

from __future__ import annotations

import difflib
import os
import sys
import zipfile
import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..core.types import Array
from ..datasets.targets import MAX_AUTO_CLASSES, TASKS

__all__ = ["MAX_AUTO_CLASSES", "SETTINGS", "TABLES", "TASKS", "Data", "load_config", "load_data", "merge",
           "parse_layers"]

#: every setting of ``deltaprop train``: name → (accepted types, default)
SETTINGS: dict[str, tuple[tuple[type, ...], Any]] = {
    "data": ((str,), None),
    "target": ((str,), None),
    "task": ((str,), "auto"),
    "n_samples": ((int,), None),
    "noise": ((int, float), None),
    "features": ((list, str), None),
    "drop": ((list, str), None),
    "delimiter": ((str,), None),
    "strict": ((bool,), False),
    "preprocess": ((bool,), True),
    "missing_indicator": ((bool,), False),
    "standardize": ((bool,), False),
    "test_split": ((int, float), 0.0),
    "layers": ((list, str), None),
    "activation": ((str,), "relu"),
    "output": ((str,), None),
    "init": ((str,), None),
    "dropout": ((int, float), 0.0),
    "dtype": ((str,), "float32"),
    "loss": ((str,), None),
    "optimizer": ((str,), "adam"),
    "lr": ((int, float), None),
    "momentum": ((int, float), 0.0),
    "weight_decay": ((int, float), 0.0),
    "epochs": ((int,), 200),  # scikit-learn's max_iter, and deltaprop.sklearn's
    "batch_size": ((int,), 32),
    "validation_split": ((int, float), 0.0),
    "early_stopping": ((int,), None),
    "seed": ((int,), 0),
    "checkpoint": ((str,), None),
    "checkpoint_every": ((int,), 1),
    "resume": ((str,), None),
    "out": ((str,), None),
    "history": ((str,), None),
    "plots": ((str,), None),
    "distributed": ((bool,), False),
}
TABLES = ("data", "model", "training", "output")


def _toml() -> Any:
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - exercised on Python 3.10 only
        import tomli as tomllib
    return tomllib


def load_config(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The settings in a TOML file, flattened and type-checked; unknown keys are errors with a suggestion."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"config: no such file {str(path)!r}.")
    tomllib = _toml()
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as err:
        raise ValueError(f"config: {path.name} is not valid TOML: {err}.") from None
    flat: dict[str, Any] = {}
    for key, value in raw.items():
        if key in TABLES and isinstance(value, dict):
            for inner, v in value.items():
                _put(flat, inner, v, path.name)
        else:
            _put(flat, key, value, path.name)
    return flat


def _put(flat: dict[str, Any], key: str, value: Any, file: str) -> None:
    key = key.replace("-", "_")
    if key not in SETTINGS:
        close = difflib.get_close_matches(key, list(SETTINGS), n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise ValueError(f"config: unknown setting {key!r} in {file}; the settings are {', '.join(SETTINGS)}.{hint}")
    if key in flat:
        raise ValueError(f"config: {key!r} is set twice in {file}.")
    types = SETTINGS[key][0]
    if (isinstance(value, bool) and bool not in types) or not isinstance(value, types):
        names = " or ".join({"int": "an integer", "float": "a number", "str": "a string", "bool": "true or false",
                             "list": "a list"}[t.__name__] for t in types)
        raise ValueError(f"config: {key!r} in {file} must be {names}, got {value!r}.")
    flat[key] = value


def merge(config: Mapping[str, Any], flags: Mapping[str, Any]) -> dict[str, Any]:
    """Defaults, overridden by the config file, overridden by flags that were given (not None)."""
    out = {k: default for k, (_, default) in SETTINGS.items()}
    out.update(config)
    out.update({k: v for k, v in flags.items() if k in SETTINGS and v is not None})
    return out


def parse_layers(spec: Any) -> list[int]:
    """Layer sizes from "784,128,10" or [784, 128, 10]."""
    items = spec.replace(" ", "").split(",") if isinstance(spec, str) else list(spec)
    try:
        sizes = [int(s) for s in items]
    except (TypeError, ValueError):
        raise ValueError(f"layers must be comma-separated positive ints like 784,128,10, got {spec!r}.") from None
    if len(sizes) < 2 or any(s < 1 for s in sizes) or any(isinstance(s, float) and s != int(s) for s in items):
        raise ValueError(f"layers must list at least two positive sizes (inputs, ..., outputs), got {spec!r}.")
    return sizes


# ---------------------------------------------------------------------------------------------
# Data sources
# ---------------------------------------------------------------------------------------------
@dataclass
class Data:
    """Arrays from a data source. ``classes`` names the classes of a classification target
    (labels are 0..k−1); it is None for regression. ``X_test``/``y_test`` are a held-out part the
    source came with (MNIST files)."""

    X: Any  # a float matrix, or for table files the raw columns (datasets.columns.Columns)
    y: Array | None
    source: str
    classes: list[str] | None = None
    feature_names: list[str] | None = None
    image_shape: tuple[int, int] | None = None
    X_test: Any = None
    y_test: Array | None = None
    target: str | None = None

    @property
    def n_outputs(self) -> int:
        """1 for binary classification or one regression target, k for k > 2 classes."""
        if self.classes is not None:
            return 1 if len(self.classes) == 2 else len(self.classes)
        return 1 if self.y is None or self.y.ndim == 1 else self.y.shape[1]




def load_data(spec: str, *, target: str | None = None, n_samples: int | None = None, noise: float | None = None,
              seed: int | None = 0, features: list[str] | None = None, need_target: bool = True,
              task: str = "auto", drop: list[str] | None = None, delimiter: str | None = None,
              strict: bool = False) -> Data:
    """A built-in data set by name ("moons", "xor", "digits", …), a table file (``.csv``, ``.tsv``,
    ``.txt``, ``.csv.gz``, ``.parquet``; ``target`` names the target column, default the last), a
    ``.npz`` (arrays X and y, or images and labels; members stored uncompressed are memory-mapped), an
    ``.npy`` of features (memory-mapped; ``target`` names the targets' .npy), or a folder of MNIST IDX
    files. A Parquet file larger than a quarter of the free memory is read one row group at a time
    (numeric columns, no preprocessing; docs/scale.md). A table file's
    ``X`` is its raw columns (``Columns``). ``features``/``drop`` choose the columns; with
    ``need_target=False`` the file may lack the target column (for predict). Rows whose target is
    missing are dropped with a warning, or refused with ``strict``.

    The target follows one rule for every source (``datasets.targets.classify_target``): with
    ``task="auto"``, class names and integer labels with at most 20 distinct values are classes and
    other numbers a regression; "classification" or "regression" decides; an ID-like target (every
    value different) is refused."""
    import numpy as np

    from ..datasets.targets import classify_target, encode_like

    if task not in TASKS:
        raise ValueError(f"data: task must be one of {', '.join(TASKS)}, got {task!r}.")
    table_options = {"drop": list(drop or ()), "delimiter": delimiter, "strict": strict}
    data = _load(spec, target, n_samples, noise, seed, features, need_target, table_options)
    if data.y is not None:
        data.y, data.classes = classify_target(data.y, task=task, source=data.source, names=data.classes)
        if data.y_test is not None:
            data.y_test = (encode_like(data.y_test, data.classes, source=data.source) if data.classes is not None
                           else data.y_test.astype(np.float64))
    if hasattr(data.X, "_read") and hasattr(data.X._read, "labels"):  # Parquet row groups: the labels as decided
        data.X._read.labels = data.y
    return data


def _load(spec: str, target: str | None, n_samples: int | None, noise: float | None, seed: int | None,
          features: list[str] | None, need_target: bool, table_options: dict[str, Any]) -> Data:
    import numpy as np

    from .. import datasets
    from ..datasets.tabular import table_suffix

    path = Path(spec)
    if path.is_dir():
        (Xtr, ytr), (Xte, yte) = datasets.load_idx_folder(path)
        return _images(str(spec), Xtr, ytr, Xte, yte, side=28)
    if path.is_file():
        if path.suffix.lower() in (".parquet", ".pq") and _larger_than_memory(path):
            return _parquet(path, target, features, need_target)
        if table_suffix(path):
            return _table(path, target, features, need_target, **table_options)
        if path.suffix.lower() == ".npz":
            return _npz(path)
        if path.suffix.lower() == ".npy":
            return _npy(path, target, need_target)
        raise ValueError(f"data: {path.name!r} is not a data file deltaprop reads; use a .csv (.tsv, .txt, .csv.gz), "
                         ".parquet, .npz or .npy file, a folder of MNIST IDX files, or a built-in data set name.")
    if os.sep in spec or "." in spec:
        raise FileNotFoundError(f"data: no such file or folder {spec!r}.")
    names = sorted(k for k in datasets.DATASETS if k not in ("csv", "mnist_npz"))
    name = spec.lower().replace("-", "_")
    if name not in names:
        close = difflib.get_close_matches(name, names, n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise ValueError(f"data: {spec!r} is neither a file nor a built-in data set; the data sets are "
                         f"{', '.join(names)}.{hint}")
    kwargs: dict[str, Any] = {}
    if name in ("moons", "circles", "spirals", "blobs"):
        kwargs = {"seed": seed, **({"n": n_samples} if n_samples else {}), **({"noise": noise} if noise is not None
                                                                             else {})}
    loaded = datasets.load(name, **kwargs)
    if name in ("mnist", "fashion_mnist"):
        (Xtr, ytr), (Xte, yte) = loaded
        return _images(name, Xtr, ytr, Xte, yte, side=28)
    X, y = loaded
    data = _arrays(name, np.asarray(X), np.asarray(y))
    if name == "digits":
        data.image_shape = (8, 8)
    return data


def _arrays(source: str, X: Array, y: Array | None) -> Data:
    image_shape = None
    if X.ndim == 3:
        image_shape = (X.shape[1], X.shape[2])
        X = X.reshape(len(X), -1)
    if X.ndim != 2:
        raise ValueError(f"data: {source}: X must be (n, features) or (n, rows, cols) images, got shape {X.shape}.")
    if y is None:
        return Data(X=X, y=None, source=source, image_shape=image_shape)
    if y.dtype.kind not in "biuf":
        raise ValueError(f"data: {source}: y must hold numbers, got dtype {y.dtype}; encode the labels as integers.")
    if len(y) != len(X):
        raise ValueError(f"data: {source}: X has {len(X)} rows but y has {len(y)}; they must have one row each.")
    if y.ndim == 2 and y.shape[1] == 1:  # a column: one target (classes or values, decided by load_data)
        y = y[:, 0]
    return Data(X=X, y=y, source=source, image_shape=image_shape)


def _images(source: str, Xtr: Array, ytr: Array, Xte: Array, yte: Array, *, side: int) -> Data:
    data = _arrays(source, Xtr, ytr)
    data.X_test, data.y_test = Xte.reshape(len(Xte), -1), yte
    pixels = data.X.shape[1]
    data.image_shape = data.image_shape or ((side, side) if pixels == side * side else None)
    return data


def _table(path: Path, target: str | None, features: list[str] | None, need_target: bool, *, drop: list[str],
           delimiter: str | None, strict: bool) -> Data:
    from ..datasets.tabular import load_table

    table = load_table(path, target=target, features=features, drop=drop, delimiter=delimiter, strict=strict,
                       need_target=need_target)
    classes = None if table.classes is None else [str(c) for c in table.classes]
    return Data(X=table.columns, y=table.y, source=str(path), classes=classes, feature_names=table.columns.names,
                target=table.target_name)


def _npz(path: Path) -> Data:
    import numpy as np

    from ..datasets import load_npz_mnist
    from ..datasets.large import open_npz
    from ..datasets.npz import check_archive

    check_archive(path, "data")  # damaged, truncated, or compressed members that unpack beyond the limit
    try:
        arrays = open_npz(path)  # members stored without compression are memory-mapped, not read
    except (ValueError, OSError, EOFError, zlib.error, zipfile.BadZipFile) as err:
        raise ValueError(f"data: {path.name} is not a readable .npz file ({err}).") from None
    keys = set(arrays)
    if {"X", "y"} <= keys:
        return _arrays(str(path), arrays["X"], arrays["y"])
    if "X" in keys and len(keys) == 1:
        return _arrays(str(path), arrays["X"], None)
    if {"images", "labels"} <= keys or {"x_train", "y_train", "x_test", "y_test"} <= keys:
        (Xtr, ytr), (Xte, yte) = load_npz_mnist(path, scale=_is_uint8(path))
        side = int(np.sqrt(Xtr.shape[1]))
        return _images(str(path), Xtr, ytr, Xte, yte, side=side)
    raise ValueError(f"data: {path.name} holds arrays {sorted(keys)}; expected 'X' and 'y', 'images' and 'labels', "
                     "or 'x_train', 'y_train', 'x_test', 'y_test'.")


def _npy(path: Path, target: str | None, need_target: bool) -> Data:
    """An .npy of features, memory-mapped; the targets in the .npy that ``target`` names, or in the
    file beside it whose name has y for X (train_X.npy → train_y.npy)."""
    from ..datasets.large import open_npy

    X = open_npy(path)
    if target is None and path.stem.endswith("X"):
        sibling = path.with_name(path.stem[:-1] + "y.npy")
        target = str(sibling) if sibling.is_file() else None
    if target is None:
        if need_target:
            raise ValueError(f"data: {path.name} holds the features only; name the targets' file with --target "
                             "y.npy (or put them beside it as …y.npy for …X.npy).")
        return _arrays(str(path), X, None)
    if not Path(target).is_file():
        raise FileNotFoundError(f"data: no such targets file {target!r} (--target names an .npy for .npy data).")
    return _arrays(str(path), X, open_npy(target))


def memory_budget() -> int:
    """A quarter of the memory available now: what is read whole; larger Parquet files stream."""
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE") // 4
    except (ValueError, OSError, AttributeError):  # pragma: no cover - not on Linux
        return 1 << 30


def _larger_than_memory(path: Path) -> bool:
    """Whether a Parquet file's uncompressed size (from its metadata) exceeds ``memory_budget()``."""
    try:
        import pyarrow.parquet as pq
    except ImportError:  # the table reader says what to install
        return False
    meta = pq.ParquetFile(path).metadata
    return sum(meta.row_group(i).total_byte_size for i in range(meta.num_row_groups)) > memory_budget()


def _parquet(path: Path, target: str | None, features: list[str] | None, need_target: bool) -> Data:
    """A Parquet file read one row group at a time: X is ``Chunks`` of (X, y) row groups."""
    from ..datasets.large import ParquetRowGroups
    from ..train.batches import Chunks

    groups = ParquetRowGroups(path, target, features=features, need_target=need_target)
    return Data(X=Chunks(groups), y=groups.labels, source=str(path), classes=groups.classes,  # type: ignore[arg-type]
                feature_names=groups.feature_names)


def _is_uint8(path: Path) -> bool:
    import numpy as np

    from ..datasets.npz import open_npz

    with open_npz(path, "data") as f:
        key = "images" if "images" in f.files else "x_train"
        return bool(f[key].dtype == np.uint8)


def column_list(spec: Any) -> list[str] | None:
    """Column names from "a,b,c" or a list (``--features``, ``--drop``)."""
    if spec is None:
        return None
    names = [n.strip() for n in spec.split(",")] if isinstance(spec, str) else [str(n) for n in spec]
    if not names or any(not n for n in names):
        raise ValueError(f"columns must be listed as name,name,…, got {spec!r}.")
    return names
