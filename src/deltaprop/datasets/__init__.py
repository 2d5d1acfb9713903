"""Data sets: logic gates and 2-D toy sets (``toy``), IDX/MNIST files (``idx``, ``mnist``), CSV
(``tabular``), and seeded splits and scaling (``split``). ``load(name, **kwargs)`` finds a loader
by name: ``load("moons", n=500, noise=0.2, seed=0)``, ``load("mnist")``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..core.registry import lookup
from .columns import Columns, as_columns
from .idx import read_idx, write_idx
from .mnist import (
    FASHION_CLASSES,
    FASHION_MNIST,
    MNIST,
    Source,
    cache_dir,
    download,
    fetch,
    load_fashion_mnist,
    load_idx_folder,
    load_mnist,
    load_npz_mnist,
)
from .split import standard_scaler, standardize, train_test_split
from .tabular import RawTable, Table, load_csv, load_table, read_table
from .toy import and_gate, blobs, circles, digits, moons, or_gate, spirals, xor

DATASETS: dict[str, Callable[..., Any]] = {
    "xor": xor,
    "and": and_gate,
    "or": or_gate,
    "moons": moons,
    "circles": circles,
    "spirals": spirals,
    "blobs": blobs,
    "digits": digits,
    "mnist": load_mnist,
    "fashion_mnist": load_fashion_mnist,
    "mnist_npz": load_npz_mnist,
    "csv": load_csv,
}


def load(name: str, **kwargs: Any) -> Any:
    """Call the loader registered under ``name`` (see ``DATASETS``) with ``kwargs``; an unknown
    name raises ValueError listing the choices and the closest one."""
    return lookup("data set", name, DATASETS)(**kwargs)


__all__ = [
    "DATASETS", "FASHION_CLASSES", "FASHION_MNIST", "MNIST", "Columns", "RawTable", "Source", "Table", "and_gate",
    "as_columns", "blobs", "cache_dir", "circles", "digits", "download", "fetch", "load", "load_csv",
    "load_fashion_mnist", "load_idx_folder", "load_mnist", "load_npz_mnist", "load_table", "moons", "or_gate",
    "read_idx", "read_table", "spirals", "standard_scaler", "standardize", "train_test_split", "write_idx", "xor",
]
