"""MNIST and Fashion-MNIST: read the four IDX files from a folder, or download them once into a cache.

``load_mnist()`` looks in the cache folder (``$DELTAPROP_DATA``, else the platform's cache dir),
downloads what is missing from the usual public mirrors, checks every file's SHA-256 against the
published sums (a mismatch deletes the file and tries the next mirror), and returns
``((X_train, y_train), (X_test, y_test))``. By default images are flattened to rows of 784 floats
in [0, 1] (float32), the form ``Sequential.fit`` takes; ``flatten=False, scale=False`` gives the
raw uint8 (n, 28, 28) arrays. ``load_npz_mnist`` reads a NumPy ``.npz`` holding the same arrays.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import sys
import tempfile
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..core.types import Array
from .idx import read_idx

Split = tuple[tuple[Array, Array], tuple[Array, Array]]
ROLES = ("train_images", "train_labels", "test_images", "test_labels")


@dataclass(frozen=True)
class Source:
    """Where a four-file IDX data set lives: its cache sub-folder, mirrors (tried in order) and
    {role: (file name, SHA-256 of the file as served)}."""

    name: str
    mirrors: tuple[str, ...]
    files: dict[str, tuple[str, str]] = field(default_factory=dict)


MNIST = Source(
    "mnist",
    ("https://ossci-datasets.s3.amazonaws.com/mnist/", "https://storage.googleapis.com/cvdf-datasets/mnist/",
     "http://yann.lecun.com/exdb/mnist/"),
    {"train_images": ("train-images-idx3-ubyte.gz", "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609"),
     "train_labels": ("train-labels-idx1-ubyte.gz", "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c"),
     "test_images": ("t10k-images-idx3-ubyte.gz", "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6"),
     "test_labels": ("t10k-labels-idx1-ubyte.gz", "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6")},
)
FASHION_MNIST = Source(
    "fashion-mnist",
    ("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
     "https://fashion-mnist.s3.eu-central-1.amazonaws.com/"),
    {"train_images": ("train-images-idx3-ubyte.gz", "3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84"),
     "train_labels": ("train-labels-idx1-ubyte.gz", "a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845"),
     "test_images": ("t10k-images-idx3-ubyte.gz", "346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073"),
     "test_labels": ("t10k-labels-idx1-ubyte.gz", "67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5")},
)
FASHION_CLASSES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag",
                   "Ankle boot")


def cache_dir() -> Path:
    """The folder data sets are downloaded to: ``$DELTAPROP_DATA`` if set, else the platform's cache
    dir (``%LOCALAPPDATA%``, ``~/Library/Caches``, ``$XDG_CACHE_HOME`` or ``~/.cache``) / deltaprop."""
    env = os.environ.get("DELTAPROP_DATA")
    if env:
        return Path(env).expanduser()
    if sys.platform.startswith("win"):
        base = Path(os.environ.get("LOCALAPPDATA") or Path.home() / "AppData" / "Local")
    elif sys.platform == "darwin":
        base = Path.home() / "Library" / "Caches"
    else:
        base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "deltaprop"


def sha256_of(path: str | os.PathLike[str]) -> str:
    """Hex SHA-256 of a file, read in 1 MiB blocks."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def download(url: str, dest: str | os.PathLike[str], *, sha256: str | None = None, progress: bool = True,
             timeout: float = 60.0) -> Path:
    """Download ``url`` to ``dest`` through a temporary file, checking its SHA-256 while it streams.

    On a checksum mismatch nothing is left at ``dest`` and a ValueError gives both sums. A tqdm bar
    shows the progress when tqdm is installed and ``progress`` is true."""
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    h = hashlib.sha256()
    fd, tmp_name = tempfile.mkstemp(prefix=dest.name + ".", suffix=".part", dir=dest.parent)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(url, timeout=timeout) as response:
            total = int(response.headers.get("Content-Length") or 0) or None
            bar = _bar(total, dest.name) if progress else None
            try:
                for block in iter(lambda: response.read(1 << 16), b""):
                    out.write(block)
                    h.update(block)
                    if bar is not None:
                        bar.update(len(block))
            finally:
                if bar is not None:
                    bar.close()
        got = h.hexdigest()
        if sha256 is not None and got != sha256.lower():
            raise ValueError(f"download: SHA-256 mismatch for {dest.name} from {url}: expected {sha256}, got {got}; "
                             "the mirror served a different or damaged file.")
        os.replace(tmp, dest)
    finally:
        tmp.unlink(missing_ok=True)
    return dest


def _bar(total: int | None, name: str) -> Any:
    try:
        from tqdm.auto import tqdm
    except ImportError:
        print(f"downloading {name} …", file=sys.stderr, flush=True)
        return None
    return tqdm(total=total, unit="B", unit_scale=True, unit_divisor=1024, desc=name, leave=False)


def fetch(source: Source, folder: str | os.PathLike[str] | None = None, *, mirrors: Sequence[str] | None = None,
          progress: bool = True) -> Path:
    """Make sure the four files of ``source`` are in ``folder`` (default: the cache) with the right
    SHA-256, downloading the missing ones; returns the folder. A cached file with a wrong sum is
    downloaded again."""
    folder = Path(folder) if folder is not None else cache_dir() / source.name
    mirrors = tuple(mirrors) if mirrors is not None else source.mirrors
    for role in ROLES:
        filename, sha = source.files[role]
        dest = folder / filename
        if dest.is_file() and sha256_of(dest) == sha:
            continue
        errors = []
        for base in mirrors:
            url = base if base.endswith(filename) else base.rstrip("/") + "/" + filename
            try:
                download(url, dest, sha256=sha, progress=progress)
                break
            except (OSError, ValueError, http.client.HTTPException) as err:  # try the next mirror
                errors.append(f"  {url}: {err}")
        else:
            tried = "\n".join(errors) or "  (no mirrors given)"
            raise OSError(f"fetch: could not download {filename} for {source.name} from any mirror:\n{tried}\n"
                          f"Download the four files by hand into {folder} (or pass path= to the folder that "
                          "holds them).")
    return folder


def _find(folder: Path, filename: str) -> Path | None:
    """The file as distributed (``.gz``), unpacked, or with the dot some re-packagings use."""
    stem = filename[:-3] if filename.endswith(".gz") else filename
    for name in (filename, stem, stem.replace("-idx", ".idx"), stem.replace("-idx", ".idx") + ".gz"):
        if (folder / name).is_file():
            return folder / name
    return None


def load_idx_folder(folder: str | os.PathLike[str], source: Source = MNIST, *, flatten: bool = True,
                    scale: bool = True) -> Split:
    """((X_train, y_train), (X_test, y_test)) from the four IDX files in ``folder`` (raw or .gz)."""
    folder = Path(folder)
    paths = {}
    for role in ROLES:
        filename = source.files[role][0]
        found = _find(folder, filename)
        if found is None:
            raise FileNotFoundError(f"load_mnist: {filename} (or its unpacked form) is not in {str(folder)!r}; "
                                    "put the four IDX files there, or call without path= to download them.")
        paths[role] = found
    arrays = {role: read_idx(p) for role, p in paths.items()}
    for part in ("train", "test"):
        images, labels = arrays[f"{part}_images"], arrays[f"{part}_labels"]
        if images.ndim != 3 or labels.ndim != 1 or len(images) != len(labels):
            raise ValueError(f"load_mnist: {paths[part + '_images'].name} has shape {images.shape} and "
                             f"{paths[part + '_labels'].name} has shape {labels.shape}; expected (n, rows, cols) "
                             "images and (n,) labels with the same n.")
    return (_images(arrays["train_images"], flatten, scale), arrays["train_labels"].astype(np.intp)), \
        (_images(arrays["test_images"], flatten, scale), arrays["test_labels"].astype(np.intp))


def _images(images: Array, flatten: bool, scale: bool) -> Array:
    """uint8 grey levels → float32 in [0, 1] when ``scale``; (n, rows·cols) rows when ``flatten``."""
    out = images.astype(np.float32) / np.float32(255.0) if scale else images
    return out.reshape(len(out), -1) if flatten else out


def load_mnist(path: str | os.PathLike[str] | None = None, *, flatten: bool = True, scale: bool = True,
               download: bool = True, mirrors: Sequence[str] | None = None, progress: bool = True) -> Split:
    """MNIST's 60,000 training and 10,000 test digits: ((X_train, y_train), (X_test, y_test)).

    ``path``: a folder holding the four IDX files; by default the cache folder, filled by
    downloading (SHA-256 checked) unless ``download=False``."""
    return _load(MNIST, path, flatten=flatten, scale=scale, download=download, mirrors=mirrors, progress=progress)


def load_fashion_mnist(path: str | os.PathLike[str] | None = None, *, flatten: bool = True, scale: bool = True,
                       download: bool = True, mirrors: Sequence[str] | None = None, progress: bool = True) -> Split:
    """Fashion-MNIST (Xiao et al. 2017): the same format as MNIST, ten kinds of clothing
    (names in ``FASHION_CLASSES``). Arguments as ``load_mnist``."""
    return _load(FASHION_MNIST, path, flatten=flatten, scale=scale, download=download, mirrors=mirrors,
                 progress=progress)


def _load(source: Source, path: Any, *, flatten: bool, scale: bool, download: bool, mirrors: Any,
          progress: bool) -> Split:
    if path is not None:
        return load_idx_folder(path, source, flatten=flatten, scale=scale)
    folder = cache_dir() / source.name
    if download:
        fetch(source, folder, mirrors=mirrors, progress=progress)
    return load_idx_folder(folder, source, flatten=flatten, scale=scale)


def load_npz_mnist(path: str | os.PathLike[str], *, n_train: int | None = None, flatten: bool = True,
                   scale: bool = True) -> Split:
    """MNIST-style arrays from a ``.npz``: either ``x_train, y_train, x_test, y_test`` (Keras'
    mnist.npz) or ``images, labels`` split in order, the first ``n_train`` for training (default
    80%: 8,000 of the 10,000 digits in mnist10k.npz). Read with ``allow_pickle=False``."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"load_npz_mnist: no such file {str(path)!r}.")
    from .npz import open_npz

    with open_npz(path, "load_npz_mnist") as data:
        keys = set(data.files)
        if {"x_train", "y_train", "x_test", "y_test"} <= keys:
            parts = [data[k] for k in ("x_train", "y_train", "x_test", "y_test")]
        elif {"images", "labels"} <= keys:
            images, labels = data["images"], data["labels"]
            if len(images) != len(labels):
                raise ValueError(f"load_npz_mnist: {path.name}: 'images' has {len(images)} rows but 'labels' has "
                                 f"{len(labels)}.")
            n = len(images)
            k = round(0.8 * n) if n_train is None else n_train
            if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or not 0 < k < n:
                raise ValueError(f"load_npz_mnist: n_train must be an int in 1..{n - 1}, got {n_train!r}.")
            parts = [images[:k], labels[:k], images[k:], labels[k:]]
        else:
            raise ValueError(f"load_npz_mnist: {path.name} holds arrays {sorted(keys)}; expected 'images' and "
                             "'labels', or 'x_train', 'y_train', 'x_test', 'y_test'.")
    Xtr, ytr, Xte, yte = parts
    for name, X, y in (("train", Xtr, ytr), ("test", Xte, yte)):
        if X.ndim < 2 or y.ndim != 1 or len(X) != len(y):
            raise ValueError(f"load_npz_mnist: {path.name}: {name} images have shape {X.shape} and labels {y.shape}; "
                             "expected (n, rows, cols) or (n, pixels) images and (n,) labels.")
    if scale and Xtr.dtype != np.uint8:
        raise ValueError(f"load_npz_mnist: scale=True expects uint8 grey levels 0..255, got {Xtr.dtype}; "
                         "pass scale=False for images that are already scaled.")
    return (_images(Xtr, flatten, scale), ytr.astype(np.intp)), (_images(Xte, flatten, scale), yte.astype(np.intp))
