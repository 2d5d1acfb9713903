"""Table files: CSV (also ``.tsv``, ``.txt``, gzip-compressed ``.csv.gz``) and Parquet, a header row, one
target column chosen by name.

``read_table(path)`` gives the header and the rows as text, as files come: a UTF-8 byte-order mark
(Excel's "CSV UTF-8") is dropped, the delimiter is sniffed among ``,`` ``;`` tab and ``|`` (or
given), and ``.gz`` files are decompressed. ``load_table(path, target)`` turns that into raw
columns (``datasets.columns.Columns``: numbers with NaN where missing, text with None) for the
``Preprocessor``; rows whose target is missing are dropped with a warning (``strict=True`` refuses
them). ``load_csv`` is the numbers-only reader: it gives ``Table.X`` as a float matrix and refuses
text and missing values.

A target of class names ("setosa", "virginica", …) is encoded as integers 0..k−1 in sorted order;
``Table.classes`` keeps the names and ``Table.decode`` turns predictions back into them. CSV is
read with the standard library's ``csv`` module, so neither pandas nor any other extra is needed;
Parquet needs pyarrow (``pip install -e ".[tables]"``).
"""

from __future__ import annotations

import csv
import gzip
import io
import os
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..core.types import Array
from .columns import Columns, column, index_like

MISSING = {"", "na", "n/a", "nan", "null", "none", "?"}
#: suffixes read as delimited text; the delimiter of ``.tsv`` is a tab unless given
TEXT_SUFFIXES = (".csv", ".tsv", ".txt", ".csv.gz", ".tsv.gz", ".txt.gz")
PARQUET_SUFFIXES = (".parquet", ".pq")
DELIMITERS = {",": ",", ";": ";", "tab": "\t", "\\t": "\t", "\t": "\t", "|": "|"}
_SNIFF_BYTES = 64 * 1024
#: the largest table text ``read_table`` takes (256 MiB, after decompression for .gz files); larger files are
#: refused from their size before they are read. Raise it (``deltaprop.datasets.tabular.MAX_TABLE_BYTES = ...``)
#: for a bigger file: a table's cells are kept as text for the Preprocessor, about 25 bytes of memory per byte.
MAX_TABLE_BYTES = 2**28
@dataclass
class Table:
    """A loaded CSV: ``X`` (n, n_features) float, ``y`` (n,), the column names, and for a class
    target the names of the classes, ``y`` holding their indices."""

    X: Array
    y: Array
    feature_names: list[str]
    target_name: str
    classes: Array | None = None

    def decode(self, y_int: Any) -> Array:
        """Class names for integer labels (e.g. ``model.predict_classes(X)``); the inverse of ``encode``."""
        if self.classes is None:
            raise ValueError(f"decode: the target {self.target_name!r} is numeric, so there are no class names to "
                             "decode to.")
        idx = np.asarray(y_int)
        if idx.size and (not np.issubdtype(idx.dtype, np.integer) or idx.min() < 0 or idx.max() >= len(self.classes)):
            raise ValueError(f"decode: labels must be integers in 0..{len(self.classes) - 1}, got {idx!r}.")
        return self.classes[idx]

    def encode(self, labels: Any) -> Array:
        """Integer labels for class names, as in ``y``."""
        if self.classes is None:
            raise ValueError(f"encode: the target {self.target_name!r} is numeric; it has no classes.")
        names = np.asarray(labels, dtype=str if self.classes.dtype.kind == "U" else self.classes.dtype)
        idx = np.searchsorted(self.classes, names)
        idx = np.clip(idx, 0, len(self.classes) - 1)
        bad = self.classes[idx] != names
        if np.any(bad):
            raise ValueError(f"encode: unknown class(es) {sorted(set(names[bad].tolist()))}; the classes are "
                             f"{self.classes.tolist()}.")
        return idx.astype(np.intp)

    def __iter__(self) -> Any:
        """``X, y = load_csv(...)`` unpacks like the other loaders."""
        return iter((self.X, self.y))


def table_suffix(path: str | os.PathLike[str]) -> str | None:
    """The suffix deltaprop reads ``path`` by (".csv", ".tsv.gz", ".parquet", …), or None."""
    name = Path(path).name.lower()
    return next((s for s in TEXT_SUFFIXES + PARQUET_SUFFIXES if name.endswith(s)), None)


def delimiter_of(text: str) -> str:
    """A delimiter given as ",", ";", "|", "tab" or "\\t"."""
    if text not in DELIMITERS:
        raise ValueError(f"delimiter must be one of , ; | tab, got {text!r}.")
    return DELIMITERS[text]


def read_table(path: str | os.PathLike[str], *, delimiter: str | None = None,
               encoding: str = "utf-8") -> tuple[list[str], list[tuple[int, list[str]]], str]:
    """(header, [(line number, cells), …], delimiter) of a delimited text file; blank lines skipped.

    A byte-order mark is dropped; the delimiter is sniffed when not given (tab for ``.tsv``)."""
    path = Path(path)
    suffix = table_suffix(path) or path.suffix.lower()
    opener: Any = gzip.open if suffix.endswith(".gz") else open
    enc = "utf-8-sig" if encoding.lower().replace("_", "-") in ("utf-8", "utf8") else encoding
    _check_table_size(path.stat().st_size, path.name)
    try:
        with opener(path, "rt", newline="", encoding=enc) as f:
            chunks, total = [], 0
            while chunk := f.read(1 << 16):  # a .gz file's size is only known as it is read: stop at the limit
                total += len(chunk)
                _check_table_size(total, path.name, unpacked=True)
                chunks.append(chunk)
        text = "".join(chunks)
    except (OSError, EOFError) as err:
        if suffix.endswith(".gz"):
            raise ValueError(f"read_table: {path.name} is not a readable gzip file ({err}).") from None
        raise
    except UnicodeDecodeError as err:
        raise ValueError(f"read_table: {path.name} is not {encoding} text ({err.reason} at byte {err.start}); "
                         "save it as UTF-8 or pass its encoding.") from None
    if delimiter is None:
        delimiter = "\t" if suffix.startswith(".tsv") else sniff_delimiter(text)
    reader = csv.reader(io.StringIO(text), delimiter=delimiter)
    try:
        rows = list(reader)
    except csv.Error as err:  # a field over the csv module's 128 KB limit, a NUL byte: one error naming the line
        raise ValueError(f"load_csv: {path.name} line {reader.line_num} cannot be read as CSV ({err}); a field over "
                         f"{csv.field_size_limit():,} characters is not a table cell (a wrong delimiter or an "
                         "unclosed quote is the usual cause).") from None
    if not rows or not any(cell.strip() for cell in rows[0]):
        raise ValueError(f"load_csv: {path.name} is empty; expected a header row of column names.")
    header = [h.strip() for h in rows[0]]
    body = [(line, row) for line, row in enumerate(rows[1:], start=2) if any(cell.strip() for cell in row)]
    if not body:
        raise ValueError(f"load_csv: {path.name} has a header but no data rows.")
    if len(set(header)) != len(header):
        dupes = sorted({h for h in header if header.count(h) > 1})
        raise ValueError(f"load_csv: {path.name} has duplicate column names {dupes}; rename them.")
    other = [d for d in ",;\t|" if d != delimiter and d in header[0]]
    if len(header) == 1 and other:
        shown = "tab" if other[0] == "\t" else other[0]
        raise ValueError(f"load_csv: {path.name} has a single column {header[0]!r:.60} that holds another "
                         f"delimiter; pass the delimiter (e.g. delimiter={shown!r}).")
    for line, row in body:
        if len(row) != len(header):
            raise ValueError(f"load_csv: {path.name} line {line} has {len(row)} fields but the header has "
                             f"{len(header)}; check the delimiter (delimiter={delimiter!r}) and quoting.")
    return header, body, delimiter


def _check_table_size(size: int, name: str, *, unpacked: bool = False) -> None:
    if size > MAX_TABLE_BYTES:
        what = "unpacks to more than" if unpacked else f"has {size:,} bytes, more than"
        raise ValueError(f"load_csv: {name} {what} the limit of {MAX_TABLE_BYTES:,} bytes "
                         "(deltaprop.datasets.tabular.MAX_TABLE_BYTES); save the numbers as .npz (arrays X and y), "
                         "or raise the limit if the machine has about 25 times the file's size in memory.")


def sniff_delimiter(text: str) -> str:
    """``,`` ``;`` tab or ``|``: what ``csv.Sniffer`` finds in the first lines, else the most frequent
    of them in the header line, else ``,``."""
    sample = text[:_SNIFF_BYTES]
    try:
        return csv.Sniffer().sniff(sample, delimiters=",;\t|").delimiter
    except csv.Error:
        first = sample.split("\n", 1)[0]
        counts = {d: first.count(d) for d in ",;\t|"}
        best = max(counts, key=lambda d: counts[d])
        return best if counts[best] else ","


@dataclass
class RawTable:
    """A table file as raw columns (``columns``), the target ``y`` (class indices when ``classes``),
    and what the reader noticed: ``dropped`` rows whose target was missing, ``notes`` (warnings)."""

    columns: Columns
    y: Array | None
    target_name: str | None
    classes: Array | None = None
    dropped: int = 0
    notes: list[str] = field(default_factory=list)
    delimiter: str | None = None


def load_table(path: str | os.PathLike[str], target: str | None = None, *, features: Sequence[str] | None = None,
               drop: Sequence[str] = (), delimiter: str | None = None, classification: bool | None = None,
               strict: bool = False, need_target: bool = True, encoding: str = "utf-8") -> RawTable:
    """A CSV/TSV/Parquet file as raw columns for the ``Preprocessor``, and its target.

    - ``target``: the target column (default: the last); with ``need_target=False`` it may be absent.
    - ``features`` / ``drop``: the columns to use / to leave out (default: all but the target).
    - rows whose target is missing are dropped, with a warning that counts them; ``strict=True``
      refuses the file instead.
    - an unnamed or index-like column (0, 1, 2, … in order) is warned about: on sorted data it gives
      the label away."""
    path = Path(path)
    header, cells, used = _read_any(path, delimiter, encoding)
    name = path.name
    if need_target or target is not None:
        target = header[-1] if target is None else target
    if target is not None and target not in header:
        if need_target:
            hint = f" Did you mean {_close(target, header)!r}?" if _close(target, header) else ""
            raise ValueError(f"load_csv: target column {target!r} is not in {name}; the columns are {header}.{hint}")
        target = None
    absent = [c for c in features or () if c not in header]
    if absent and not need_target:
        raise ValueError(f"data: {name} lacks the column(s) {absent} the model was trained on; it has {header}.")
    for col in [*(features or ()), *drop]:
        if col not in header:
            raise ValueError(f"load_csv: feature column {col!r} is not in {name}; the columns are {header}.")
    if features is not None and target in features:
        raise ValueError(f"load_csv: column {target!r} is both the target and a feature.")
    names = list(features) if features is not None else [h for h in header if h != target and h not in drop]
    if not features and drop and not names:
        raise ValueError(f"load_csv: dropping {list(drop)} leaves no feature column in {name}.")
    notes: list[str] = []
    y, classes, dropped, keep = None, None, 0, None
    if target is not None:
        raw = cells[target]
        missing = np.array([v is None or str(v).strip().lower() in MISSING for v in raw], dtype=bool)
        lines = [line for line, m in zip(cells["__line__"], missing) if m]
        if lines and strict:
            raise ValueError(f"load_csv: {name}: the target {target!r} is missing in {len(lines)} row(s) (first at "
                             f"line {lines[0]}); drop those rows, or leave out strict to skip them.")
        if len(lines) == len(raw):
            raise ValueError(f"load_csv: {name}: the target {target!r} is missing in every row.")
        if lines:
            dropped, keep = len(lines), ~missing
            notes.append(f"dropped {dropped} row(s) of {name} whose target {target!r} is missing (first at line "
                         f"{lines[0]})")
        body = [(line, None) for line, m in zip(cells["__line__"], missing) if not m]
        values = [str(v).strip() for v, m in zip(raw, missing) if not m]
        y, classes = _target(values, target, classification, name, body)
    cols = Columns({c: column(_kept(cells[c], keep), name=c, where=f"load_table: {name}") for c in names})
    for col in index_like(cols):
        label = "an empty name" if not col.strip() else f"{col!r}"
        notes.append(f"column {label} of {name} looks like a saved row index; it is no feature, and on sorted data "
                     "it gives the label away. Leave it out (drop=[...] / --drop).")
    for note in notes:
        warnings.warn(note, UserWarning, stacklevel=2)
    return RawTable(cols, y, target, classes, dropped, notes, used)


def _kept(values: list[Any], keep: Array | None) -> list[Any]:
    return values if keep is None else [v for v, k in zip(values, keep) if k]


def _close(name: str, names: list[str]) -> str | None:
    import difflib

    close = difflib.get_close_matches(name, names, n=1) or [n for n in names if n.lower() == name.lower()]
    return close[0] if close else None


def _read_any(path: Path, delimiter: str | None, encoding: str) -> tuple[list[str], dict[str, Any], str | None]:
    """(header, {column: values, "__line__": line numbers}, delimiter) of a text or Parquet file."""
    suffix = table_suffix(path)
    if suffix in PARQUET_SUFFIXES:
        return (*_read_parquet(path), None)
    header, body, used = read_table(path, delimiter=delimiter, encoding=encoding)
    cells: dict[str, Any] = {h: [row[j].strip() for _, row in body] for j, h in enumerate(header)}
    cells["__line__"] = [line for line, _ in body]
    return header, cells, used


def _read_parquet(path: Path) -> tuple[list[str], dict[str, Any]]:
    try:
        import pyarrow.parquet as pq
    except ImportError:
        raise ImportError(f"load_table: reading {path.name} needs pyarrow: pip install -e \".[tables]\" (or pip "
                          "install pyarrow).") from None
    try:
        table = pq.read_table(path)
    except Exception as err:  # pyarrow raises its own error classes; keep one
        raise ValueError(f"load_table: {path.name} is not a readable Parquet file ({err}).") from None
    header = [str(n) for n in table.column_names]
    cells: dict[str, Any] = {}
    for name in table.column_names:
        values = table.column(name).to_pylist()
        cells[str(name)] = values
    cells["__line__"] = list(range(1, table.num_rows + 1))
    if table.num_rows == 0:
        raise ValueError(f"load_csv: {path.name} has a header but no data rows.")
    return header, cells


def load_csv(path: str | os.PathLike[str], target: str | None = None, *, features: Sequence[str] | None = None,
             delimiter: str | None = None, classification: bool | None = None, dtype: Any = np.float64,
             encoding: str = "utf-8") -> Table:
    """Read a CSV with a header row into a ``Table`` of numbers.

    - ``target``: the name of the target column (default: the last column).
    - ``features``: the names of the feature columns (default: every other column).
    - ``delimiter``: sniffed among , ; tab | when not given; a byte-order mark is dropped.
    - ``classification``: encode the target as class indices; by default, when it is not numeric.
    Empty cells and non-numeric feature values are errors that name the column and the line; for
    tables with text columns or missing values use ``load_table`` and a ``Preprocessor``."""
    path = Path(path)
    header, body, _ = read_table(path, delimiter=delimiter, encoding=encoding)
    target = header[-1] if target is None else target
    if target not in header:
        raise ValueError(f"load_csv: target column {target!r} is not in {path.name}; the columns are {header}.")
    names = [h for h in header if h != target] if features is None else list(features)
    for name in names:
        if name not in header:
            raise ValueError(f"load_csv: feature column {name!r} is not in {path.name}; the columns are {header}.")
        if name == target:
            raise ValueError(f"load_csv: column {target!r} is both the target and a feature.")
    X = np.empty((len(body), len(names)), dtype=dtype)
    for j, name in enumerate(names):
        col = header.index(name)
        for i, (line, row) in enumerate(body):
            X[i, j] = _number(row[col], name, line, path.name)
    raw = [row[header.index(target)].strip() for _, row in body]
    for (line, _), value in zip(body, raw):
        if value.lower() in MISSING:
            raise ValueError(f"load_csv: {path.name} line {line}: the target {target!r} is missing; drop the row "
                             "first (load_table drops such rows).")
    y, classes = _target(raw, target, classification, path.name, body)
    return Table(X=X, y=y, feature_names=names, target_name=target, classes=classes)


def _number(cell: str, column: str, line: int, file: str) -> float:
    text = cell.strip()
    if text.lower() in MISSING:
        raise ValueError(f"load_csv: {file} line {line}: feature column {column!r} has a missing value ({cell!r}); "
                         "impute or drop the row first, or read it with load_table and a Preprocessor (which imputes).")
    try:
        return float(text)
    except ValueError:
        raise ValueError(f"load_csv: {file} line {line}: feature column {column!r} is not numeric (value {cell!r}); "
                         "read it with load_table and a Preprocessor (which one-hot encodes text) or leave it out "
                         "with features=[...].") from None


def _target(raw: list[str], name: str, classification: bool | None, file: str,
            body: list[tuple[int, Any]]) -> tuple[Array, Array | None]:
    try:
        numeric = np.array([float(v) for v in raw])
    except ValueError:
        numeric = None
    if classification is None:
        classification = numeric is None
    if not classification:
        if numeric is None:
            raise ValueError(f"load_csv: target column {name!r} is not numeric; pass classification=True to encode "
                             "its values as classes.")
        return numeric, None
    # numeric class labels sort as numbers (2 before 10), names alphabetically
    values = numeric if numeric is not None else np.array(raw, dtype=str)
    classes, y = np.unique(values, return_inverse=True)
    from .targets import check_class_count

    check_class_count(len(classes), len(y), "classification", file, text=numeric is None)  # an ID is no target
    return y.astype(np.intp).reshape(-1), classes
