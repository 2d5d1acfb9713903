"""Tables as named columns: a pandas DataFrame, a dict of columns or a NumPy structured array, read
the same way without needing pandas.

``as_columns(X)`` gives a ``Columns``: an ordered map from column name to a 1-D array, each either
numeric (float64, NaN where a value is missing) or text (an object array of ``str``, ``None``
where a value is missing). A column counts as numeric when every value that is not missing is a
number (bools count as 0/1); anything else is text. Missing means None, NaN, pandas' NA/NaT, or a
string such as "", "NA", "nan", "null", "?" (``MISSING``, compared without case or surrounding
spaces).
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from typing import Any

import numpy as np

from ..core.types import Array

#: strings that mean "no value" (compared lower-cased, stripped)
MISSING = frozenset({"", "na", "n/a", "nan", "null", "none", "?", "<na>", "nat"})
#: names a saved index gets when a DataFrame is written with its index (pandas, R, Excel exports)
INDEX_NAMES = frozenset({"", "index", "unnamed: 0", "unnamed:0", "rownames"})


class Columns(Mapping[str, Array]):
    """An ordered table of 1-D columns of one length: ``columns["island"]``, ``len(columns)`` rows,
    ``columns.shape`` (rows, columns), ``columns.take(rows)`` a subset of rows."""

    def __init__(self, data: Mapping[str, Array]) -> None:
        self._data = dict(data)
        lengths = {len(v) for v in self._data.values()}
        if len(lengths) > 1:
            sizes = {k: len(v) for k, v in self._data.items()}
            raise ValueError(f"table: the columns have different lengths {sizes}; every column needs one value per "
                             "row.")
        self.n_rows = lengths.pop() if lengths else 0

    def __getitem__(self, key: str) -> Array:
        return self._data[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:  # Mapping's len is the number of columns
        return len(self._data)

    @property
    def names(self) -> list[str]:
        return list(self._data)

    @property
    def shape(self) -> tuple[int, int]:
        return self.n_rows, len(self._data)

    def take(self, rows: Any) -> Columns:
        """The rows ``rows`` (indices or a boolean mask) of every column."""
        return Columns({k: v[rows] for k, v in self._data.items()})

    def select(self, names: list[str]) -> Columns:
        return Columns({k: self._data[k] for k in names})

    def numeric(self, name: str) -> bool:
        return self._data[name].dtype.kind == "f"

    def to_matrix(self, *, where: str = "table") -> Array:
        """The columns side by side as a float64 matrix; text columns are an error naming them."""
        text = [k for k in self._data if not self.numeric(k)]
        if text:
            hint = "leave out --no-preprocess" if "--no-preprocess" in where else "keep preprocessing on"
            raise TypeError(f"{where}: column(s) {text} hold text; a plain matrix needs numbers. {hint.capitalize()} "
                            "(it one-hot encodes text columns) or leave them out.")
        if not self._data:
            return np.empty((self.n_rows, 0))
        return np.column_stack([self._data[k] for k in self._data]).astype(np.float64, copy=False)

    def __repr__(self) -> str:
        kinds = ", ".join(f"{k}: {'number' if self.numeric(k) else 'text'}" for k in self._data)
        return f"Columns({self.n_rows} rows; {kinds})"


def is_table(X: Any) -> bool:
    """A DataFrame, a dict of columns, a structured array or ``Columns`` (not a plain matrix)."""
    if isinstance(X, (Columns, Mapping)):
        return True
    if isinstance(X, np.ndarray):
        return X.dtype.names is not None
    return _is_dataframe(X)


def _is_dataframe(X: Any) -> bool:
    return type(X).__module__.startswith("pandas") and hasattr(X, "columns") and hasattr(X, "iloc")


def as_columns(X: Any, *, where: str = "table") -> Columns:
    """``Columns`` from a DataFrame, a dict of columns, a structured array, or ``Columns``."""
    if isinstance(X, Columns):
        return X
    if _is_dataframe(X):
        names = [str(c) for c in X.columns]
        raw = {name: X.iloc[:, j] for j, name in enumerate(names)}
    elif isinstance(X, Mapping):
        names = [str(k) for k in X]
        raw = {str(k): v for k, v in X.items()}
    elif isinstance(X, np.ndarray) and X.dtype.names is not None:
        names = list(X.dtype.names)
        raw = {name: X[name] for name in names}
    else:
        raise TypeError(f"{where}: expected a table (a pandas DataFrame, a dict of columns or a structured array), "
                        f"got {type(X).__name__}.")
    if len(set(names)) != len(names):
        dupes = sorted({n for n in names if names.count(n) > 1})
        raise ValueError(f"{where}: duplicate column names {dupes}; rename them.")
    return Columns({name: column(raw[name], name=name, where=where) for name in names})


def column(values: Any, *, name: str, where: str = "table") -> Array:
    """One column as float64 (NaN = missing) when every present value is a number, else as text."""
    if hasattr(values, "to_numpy") and hasattr(values, "dtype"):  # a pandas Series
        dtype = str(values.dtype)
        if dtype.startswith(("datetime", "timedelta", "period")):
            raise TypeError(f"{where}: column {name!r} holds dates or times ({dtype}); convert it to numbers first "
                            "(e.g. a year, or days since a start date) or leave it out.")
        if dtype == "category" or dtype.startswith(("string", "object")):
            values = values.astype(object).to_numpy()
        else:
            values = values.to_numpy(dtype=np.float64, na_value=np.nan) if _pandas_numeric(dtype) else \
                values.astype(object).to_numpy()
    arr = np.asarray(values)
    if arr.ndim != 1:
        arr = arr.reshape(-1) if arr.ndim == 2 and 1 in arr.shape else arr
    if arr.ndim != 1:
        raise ValueError(f"{where}: column {name!r} must be 1-D, got shape {arr.shape}.")
    if arr.dtype.kind in "fiub":
        return arr.astype(np.float64)
    if arr.dtype.kind in "mM":
        raise TypeError(f"{where}: column {name!r} holds dates or times ({arr.dtype}); convert it to numbers first "
                        "or leave it out.")
    if arr.dtype.kind == "c":
        raise TypeError(f"{where}: column {name!r} holds complex numbers; deltaprop takes real numbers or text.")
    items = arr.tolist()
    numbers = _all_numbers(items)
    if numbers is not None:
        return numbers
    return np.array([None if is_missing(v) else str(v) for v in items], dtype=object)


def _pandas_numeric(dtype: str) -> bool:
    return dtype.lower().startswith(("int", "uint", "float", "bool"))


def _all_numbers(items: list[Any]) -> Array | None:
    out = np.empty(len(items))
    for i, v in enumerate(items):
        if is_missing(v):
            out[i] = np.nan
        elif isinstance(v, (bool, int, float, np.number, np.bool_)):
            out[i] = float(v)
        elif isinstance(v, str):
            try:
                out[i] = float(v)
            except ValueError:
                return None
        else:
            return None
    return out


def is_missing(v: Any) -> bool:
    """None, NaN, pandas NA/NaT, or a string in ``MISSING``."""
    if v is None:
        return True
    if isinstance(v, str):
        return v.strip().lower() in MISSING
    if isinstance(v, float):
        return math.isnan(v)
    if isinstance(v, np.floating):
        return bool(np.isnan(v))
    return type(v).__name__ in ("NAType", "NaTType")


def index_like(columns: Columns) -> list[str]:
    """Names of columns that look like a saved row index: an empty or index-like name, or the row
    numbers themselves (0, 1, 2, … or 1, 2, 3, … in order). Such a column is no feature; on
    sorted data it gives the label away."""
    found = []
    for name in columns:
        values = columns[name]
        if name.strip().lower() in INDEX_NAMES:
            found.append(name)
        elif columns.numeric(name) and len(values) >= 10 and not np.isnan(values).any():
            steps = np.diff(values)
            if np.all(steps == 1) and values[0] in (0.0, 1.0):
                found.append(name)
    return found
