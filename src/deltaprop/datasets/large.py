"""Files larger than memory, opened without reading them (docs/scale.md).

- ``open_npy(path)``: a ``.npy`` file memory-mapped (``np.load(path, mmap_mode="r")``).
- ``open_npz(path)``: the members of an ``.npz``, memory-mapped where they are stored uncompressed
  (``np.savez``); compressed members (``np.savez_compressed``) cannot be mapped and are read whole.
- ``ParquetRowGroups(path, target)``: a Parquet file as a sequence of (X, y) row groups, one read
  at a time (pyarrow); it plugs into ``fit`` as ``Chunks``.

Nothing here is unpickled: ``.npy``/``.npz`` members with object dtype are refused.
"""

from __future__ import annotations

import os
import zipfile
from pathlib import Path

import numpy as np

from ..core.types import Array

__all__ = ["ParquetRowGroups", "open_npy", "open_npz"]

#: a target with at most this many distinct integer values is a class label (as for CSV files)
MAX_AUTO_CLASSES = 20


def open_npy(path: str | os.PathLike[str]) -> np.memmap:
    """A ``.npy`` file memory-mapped read-only (pages are read when rows are used)."""
    try:
        return np.load(path, mmap_mode="r", allow_pickle=False)  # type: ignore[no-any-return]
    except ValueError as err:
        raise ValueError(f"data: {Path(path).name} is not a numeric .npy file ({err}).") from None


def open_npz(path: str | os.PathLike[str]) -> dict[str, Array]:
    """The arrays of an ``.npz`` by name: a read-only ``np.memmap`` for each member stored without
    compression (its bytes lie in the file as they are), a loaded array for compressed members."""
    out: dict[str, Array] = {}
    with zipfile.ZipFile(path) as archive:
        for info in archive.infolist():
            if not info.filename.endswith(".npy"):
                continue
            name = info.filename[:-4]
            if info.compress_type != zipfile.ZIP_STORED:
                with archive.open(info) as f:
                    out[name] = np.lib.format.read_array(f, allow_pickle=False)
                continue
            with archive.open(info) as f:  # the member's .npy header, read through the archive
                version = np.lib.format.read_magic(f)
                read = {(1, 0): np.lib.format.read_array_header_1_0, (2, 0): np.lib.format.read_array_header_2_0}
                if version not in read:
                    raise ValueError(f"data: {Path(path).name}: member {name!r} is a .npy of version {version}, "
                                     "which deltaprop does not map; save it with np.savez.")
                shape, fortran, dtype = read[version](f)
                header = f.tell()
            if dtype.hasobject:
                raise ValueError(f"data: {Path(path).name}: member {name!r} holds Python objects; deltaprop reads "
                                 "numeric arrays only (no pickle).")
            start = _member_data_offset(path, info) + header
            out[name] = np.memmap(path, dtype=dtype, mode="r", offset=start, shape=shape,
                                  order="F" if fortran else "C")
    return out


def _member_data_offset(path: str | os.PathLike[str], info: zipfile.ZipInfo) -> int:
    """Where a stored member's bytes begin: after its local header (30 bytes, name, extra field)."""
    with open(path, "rb") as f:
        f.seek(info.header_offset)
        local = f.read(30)
        if local[:4] != b"PK\x03\x04":
            raise ValueError(f"data: {Path(path).name} is not a valid .npz (bad local header of {info.filename!r}).")
        name_len = int.from_bytes(local[26:28], "little")
        extra_len = int.from_bytes(local[28:30], "little")
    return info.header_offset + 30 + name_len + extra_len


class ParquetRowGroups:
    """A Parquet file as a sequence of (X, y) pairs, one per row group, read when asked for.

    ``target`` names the column to predict (default: the last); the other numeric columns are the
    features (or ``features``). A target of strings, or of at most 20 distinct integers, is a class
    label: the classes are found from the target column alone (read once; one value per row), and
    each group's labels are their indices 0..k−1. ``task`` forces "classification" or "regression"."""

    def __init__(self, path: str | os.PathLike[str], target: str | None = None, *,
                 features: list[str] | None = None, task: str = "auto", need_target: bool = True) -> None:
        try:
            import pyarrow.parquet as pq
        except ImportError as err:  # pragma: no cover - the parquet extra is installed in CI
            raise ImportError(f"reading Parquet needs pyarrow: pip install 'deltaprop[parquet]' ({err}).") from None
        self.path = Path(path)
        self.file = pq.ParquetFile(self.path)
        schema = self.file.schema_arrow
        names = list(schema.names)
        if not names:
            raise ValueError(f"data: {self.path.name} has no columns.")
        self.target = target if target is not None else (names[-1] if need_target else None)
        if self.target is not None and self.target not in names:
            if need_target:
                raise ValueError(f"data: {self.path.name} has no column {self.target!r}; its columns are "
                                 f"{', '.join(names)}.")
            self.target = None
        if features is None:
            import pyarrow as pa

            features = [n for n in names if n != self.target and (pa.types.is_integer(schema.field(n).type)
                                                                   or pa.types.is_floating(schema.field(n).type)
                                                                   or pa.types.is_boolean(schema.field(n).type))]
        missing = [c for c in features if c not in names]
        if missing:
            raise ValueError(f"data: {self.path.name} lacks the column(s) {missing}.")
        self.feature_names = list(features)
        self.n_rows = int(self.file.metadata.num_rows)
        self.starts = np.concatenate([[0], np.cumsum([self.file.metadata.row_group(i).num_rows
                                                      for i in range(self.file.num_row_groups)])]).astype(np.int64)
        self.classes: list[str] | None = None
        self.labels: Array | None = None
        if self.target is not None:
            self._read_target(task)

    def _read_target(self, task: str) -> None:
        column = self.file.read(columns=[self.target]).column(0).to_numpy(zero_copy_only=False)
        if column.dtype.kind in "OUS":
            values, codes = np.unique(column.astype(str), return_inverse=True)
            self.classes, self.labels = [str(v) for v in values], codes.astype(np.intp)
            return
        column = column.astype(np.float64)
        values = np.unique(column)
        integral = bool(np.all(values == np.round(values)))
        if task == "classification" or (task == "auto" and integral and len(values) <= MAX_AUTO_CLASSES):
            self.classes = [f"{v:g}" for v in values]
            self.labels = np.searchsorted(values, column).astype(np.intp)
        else:
            self.labels = column

    def __len__(self) -> int:
        return self.file.num_row_groups

    def __getitem__(self, i: int) -> tuple[Array, Array]:
        if not 0 <= i < len(self):
            raise IndexError(i)
        table = self.file.read_row_group(i, columns=self.feature_names)
        X = np.column_stack([table.column(c).to_numpy(zero_copy_only=False).astype(np.float64)
                             for c in self.feature_names])
        if self.labels is None:
            return X, np.zeros(len(X), dtype=np.int8)
        return X, self.labels[self.starts[i]:self.starts[i + 1]]
