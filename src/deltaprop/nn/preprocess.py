"""Preprocessing that travels with the model: raw table columns → the network's input matrix.

``Preprocessor().fit(X_train)`` learns, from the training rows only:

- for each numeric column its median m (imputes missing values) and, after imputation, its mean μ
  and standard deviation σ (population σ, 1 where a column is constant); the column becomes
  (x − μ)/σ, as scikit-learn's ``SimpleImputer(strategy="median")`` + ``StandardScaler``;
- optionally a 0/1 *missing indicator* for each numeric column that had missing values;
- for each text column its sorted categories; a value becomes a one-hot row over them. A category
  never seen in training encodes as all zeros; a missing value is a category of its own
  ("(missing)") when training had missing values (else all zeros too), as
  ``SimpleImputer(strategy="constant")`` + ``OneHotEncoder(handle_unknown="ignore")``.

The encoded columns are the numeric ones (in table order), then the indicators, then each text
column's one-hot block (``feature_names`` names them). A fitted preprocessor is plain data: a
JSON config (names, kinds, categories) and three float64 vectors (medians, means, deviations), so
the model file stays pickle-free (docs/model-files.md), and the ONNX export and the PyTorch bridge
rebuild the same arithmetic from them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..core.types import Array
from ..datasets.columns import Columns, as_columns, is_missing, is_table

MISSING_CATEGORY = "(missing)"
#: a text column with more distinct values than this is refused as an identifier or free text
MAX_CATEGORIES = 50


@dataclass
class ColumnSpec:
    """One raw column: ``kind`` "number" (median, mean, std, indicator) or "category" (categories, missing)."""

    name: str
    kind: str
    median: float = 0.0
    mean: float = 0.0
    std: float = 1.0
    indicator: bool = False
    categories: list[str] = field(default_factory=list)
    missing: bool = False


class Preprocessor:
    """Numeric columns imputed (median) and standardised, text columns one-hot encoded (see the module).

    ``standardize=False`` only imputes numbers; ``missing_indicator=True`` adds a 0/1 column per
    numeric column that had missing values; ``max_categories`` refuses text columns with more
    distinct values (identifiers, free text)."""

    def __init__(self, *, standardize: bool = True, missing_indicator: bool = False,
                 max_categories: int = MAX_CATEGORIES) -> None:
        if not isinstance(standardize, bool) or not isinstance(missing_indicator, bool):
            raise TypeError("Preprocessor: standardize and missing_indicator must be True or False.")
        if isinstance(max_categories, bool) or not isinstance(max_categories, int) or max_categories < 1:
            raise ValueError(f"Preprocessor: max_categories must be a positive int, got {max_categories!r}.")
        self.standardize, self.missing_indicator, self.max_categories = standardize, missing_indicator, max_categories
        self.columns: list[ColumnSpec] | None = None

    # -- learning the statistics -------------------------------------------------------------------
    def fit(self, X: Any) -> Preprocessor:
        """Learn medians, means, deviations and categories from the training rows ``X`` (a table, or a
        numeric matrix whose columns are named x0, x1, …)."""
        cols = _columns(X, None, where="Preprocessor.fit")
        if cols.n_rows == 0:
            raise ValueError("Preprocessor.fit: the table has no rows.")
        if not len(cols):
            raise ValueError("Preprocessor.fit: the table has no columns; pass at least one feature column.")
        specs = []
        for name in cols:
            values = cols[name]
            if cols.numeric(name):
                specs.append(self._numeric(name, values))
            else:
                specs.append(self._category(name, values))
        self.columns = specs
        return self

    def _numeric(self, name: str, x: Array) -> ColumnSpec:
        present = x[~np.isnan(x)]
        if not np.isfinite(present).all():
            raise ValueError(f"Preprocessor.fit: column {name!r} holds infinite values; replace them first.")
        median = float(np.median(present)) if present.size else 0.0
        filled = np.where(np.isnan(x), median, x)
        mean, std = (float(filled.mean()), float(filled.std())) if self.standardize else (0.0, 1.0)
        return ColumnSpec(name, "number", median=median, mean=mean, std=std if std > 0 else 1.0,
                          indicator=self.missing_indicator and present.size < x.size)

    def _category(self, name: str, x: Array) -> ColumnSpec:
        present = [v for v in x if v is not None]
        categories = sorted(set(present))
        if len(categories) > self.max_categories:
            raise ValueError(f"Preprocessor.fit: text column {name!r} has {len(categories)} distinct values in "
                             f"{len(x)} rows, more than max_categories={self.max_categories}; it looks like an "
                             "identifier or free text. Leave it out, or raise max_categories.")
        return ColumnSpec(name, "category", categories=categories, missing=len(present) < len(x))

    # -- applying them -----------------------------------------------------------------------------
    @property
    def fitted(self) -> bool:
        return self.columns is not None

    def _specs(self, where: str) -> list[ColumnSpec]:
        if self.columns is None:
            raise RuntimeError(f"{where}: the preprocessor is not fitted; call fit(X_train) first.")
        return self.columns

    @property
    def numeric(self) -> list[ColumnSpec]:
        return [c for c in self._specs("Preprocessor") if c.kind == "number"]

    @property
    def categorical(self) -> list[ColumnSpec]:
        return [c for c in self._specs("Preprocessor") if c.kind == "category"]

    @property
    def input_names(self) -> list[str]:
        """The raw columns the preprocessor reads, in table order."""
        return [c.name for c in self._specs("Preprocessor")]

    @property
    def feature_names(self) -> list[str]:
        """The names of the encoded columns (the network's inputs)."""
        names = [c.name for c in self.numeric]
        names += [f"{c.name} (missing)" for c in self.numeric if c.indicator]
        for c in self.categorical:
            names += [f"{c.name}={v}" for v in c.categories] + ([f"{c.name}={MISSING_CATEGORY}"] if c.missing else [])
        return names

    @property
    def n_features(self) -> int:
        """The width of the encoded matrix: what the network's first layer must take."""
        return len(self.feature_names)

    def transform(self, X: Any) -> Array:
        """The encoded float64 matrix (n, n_features) for raw rows ``X``: a table with (at least) the
        training columns, or, when every column is numeric, a matrix with them in training order."""
        specs = self._specs("Preprocessor.transform")
        cols = _columns(X, specs, where="predict")
        n = cols.n_rows
        parts: list[Array] = []
        numeric = [c for c in specs if c.kind == "number"]
        raw = {c.name: _as_numbers(cols[c.name], c.name) for c in numeric}
        for c in numeric:
            x = raw[c.name]
            parts.append(((np.where(np.isnan(x), c.median, x) - c.mean) / c.std)[:, None])
        for c in numeric:
            if c.indicator:
                parts.append(np.isnan(raw[c.name]).astype(np.float64)[:, None])
        for c in specs:
            if c.kind != "category":
                continue
            values = _as_text(cols[c.name])
            width = len(c.categories) + c.missing
            block = np.zeros((n, width))
            index = {v: j for j, v in enumerate(c.categories)}
            for i, v in enumerate(values):
                j = index.get(v) if v is not None else (len(c.categories) if c.missing else None)
                if j is not None:
                    block[i, j] = 1.0
            parts.append(block)
        return np.concatenate(parts, axis=1) if parts else np.empty((n, 0))

    def fit_transform(self, X: Any) -> Array:
        return self.fit(X).transform(X)

    # -- data only: the model file's view ----------------------------------------------------------
    def get_config(self) -> dict[str, Any]:
        """JSON-ready settings and column specs (the numbers travel as tensors, see ``tensors``)."""
        cols = []
        for c in self._specs("Preprocessor.get_config"):
            if c.kind == "number":
                cols.append({"name": c.name, "kind": "number", "indicator": c.indicator})
            else:
                cols.append({"name": c.name, "kind": "category", "categories": list(c.categories),
                             "missing": c.missing})
        return {"standardize": self.standardize, "missing_indicator": self.missing_indicator,
                "max_categories": self.max_categories, "columns": cols}

    def tensors(self) -> dict[str, Array]:
        """``{"median", "mean", "std"}``: one float64 value per numeric column, in table order."""
        num = self.numeric
        return {"median": np.array([c.median for c in num], dtype=np.float64),
                "mean": np.array([c.mean for c in num], dtype=np.float64),
                "std": np.array([c.std for c in num], dtype=np.float64)}

    @classmethod
    def from_config(cls, config: Any, tensors: dict[str, Array]) -> Preprocessor:
        """Rebuild from ``get_config()`` and ``tensors()``; any inconsistency is a ValueError naming it."""
        if not isinstance(config, dict) or set(config) != {"standardize", "missing_indicator", "max_categories",
                                                           "columns"}:
            raise ValueError("preprocessing must be an object with exactly standardize, missing_indicator, "
                             "max_categories and columns.")
        pre = cls(standardize=config["standardize"], missing_indicator=config["missing_indicator"],
                  max_categories=config["max_categories"])
        raw = config["columns"]
        if not isinstance(raw, list) or not raw:
            raise ValueError("preprocessing: columns must be a non-empty list.")
        specs: list[ColumnSpec] = []
        for i, c in enumerate(raw):
            specs.append(_spec_from_config(i, c))
        names = [s.name for s in specs]
        if len(set(names)) != len(names):
            raise ValueError("preprocessing: column names must be unique.")
        k = sum(s.kind == "number" for s in specs)
        if set(tensors) != {"median", "mean", "std"}:
            raise ValueError(f"preprocessing: expected the tensors median, mean and std, got {sorted(tensors)}.")
        for key, arr in tensors.items():
            if arr.shape != (k,) or arr.dtype != np.float64:
                raise ValueError(f"preprocessing: tensor {key!r} must be float64 of shape ({k},) (one value per "
                                 f"numeric column), got {arr.dtype} {arr.shape}.")
        if np.any(tensors["std"] <= 0):
            raise ValueError("preprocessing: every standard deviation must be positive.")
        num = [s for s in specs if s.kind == "number"]
        for j, s in enumerate(num):
            s.median, s.mean, s.std = (float(tensors[key][j]) for key in ("median", "mean", "std"))
        pre.columns = specs
        return pre

    def describe(self) -> str:
        """One line per kind of column, for ``info`` and ``summary``."""
        num, cat = self.numeric, self.categorical
        lines = []
        if num:
            how = "imputed (median) and standardised" if self.standardize else "imputed (median)"
            flags = [c.name for c in num if c.indicator]
            lines.append(f"{len(num)} numeric column(s) {how}: {', '.join(c.name for c in num)}"
                         + (f"; missing indicators for {', '.join(flags)}" if flags else ""))
        for c in cat:
            lines.append(f"{c.name}: one-hot over {len(c.categories)} categories: {', '.join(c.categories[:6])}"
                         + (", …" if len(c.categories) > 6 else "") + (f" + {MISSING_CATEGORY}" if c.missing else ""))
        return "\n".join(lines)

    def __repr__(self) -> str:
        if self.columns is None:
            return "Preprocessor(not fitted)"
        return f"Preprocessor({len(self.columns)} columns → {self.n_features} features)"


def _spec_from_config(i: int, c: Any) -> ColumnSpec:
    if not isinstance(c, dict) or not isinstance(c.get("name"), str):
        raise ValueError(f"preprocessing: column {i} must be an object with a string name.")
    if c.get("kind") == "number":
        if set(c) != {"name", "kind", "indicator"} or not isinstance(c["indicator"], bool):
            raise ValueError(f"preprocessing: numeric column {i} must have exactly name, kind and a bool indicator.")
        return ColumnSpec(c["name"], "number", indicator=c["indicator"])
    if c.get("kind") == "category":
        cats = c.get("categories")
        if set(c) != {"name", "kind", "categories", "missing"} or not isinstance(c["missing"], bool) or \
                not isinstance(cats, list) or not all(isinstance(v, str) for v in cats) or len(set(cats)) != len(cats):
            raise ValueError(f"preprocessing: text column {i} must have exactly name, kind, a list of distinct "
                             "string categories and a bool missing.")
        return ColumnSpec(c["name"], "category", categories=list(cats), missing=c["missing"])
    raise ValueError(f"preprocessing: column {i} kind must be 'number' or 'category', got {c.get('kind')!r}.")


def _columns(X: Any, specs: list[ColumnSpec] | None, *, where: str) -> Columns:
    """A table as ``Columns``; a plain numeric matrix as columns x0, x1, … (or the fitted numeric names)."""
    if is_table(X):
        cols = as_columns(X, where=where)
        if specs is not None:
            missing = [s.name for s in specs if s.name not in cols]
            if missing:
                raise ValueError(f"{where}: the table lacks the column(s) {missing} the model was trained on; it has "
                                 f"{cols.names}.")
            cols = cols.select([s.name for s in specs])
        return cols
    arr = np.asarray(X)
    if arr.ndim == 1 and specs is not None and len(specs) == 1:
        arr = arr.reshape(-1, 1)
    if arr.ndim != 2:
        raise ValueError(f"{where}: expected a table or a 2-D array of raw feature columns, got shape {arr.shape}.")
    if specs is None:
        names = [f"x{j}" for j in range(arr.shape[1])]
    else:
        if any(s.kind != "number" for s in specs):
            text = [s.name for s in specs if s.kind != "number"]
            raise TypeError(f"{where}: the model one-hot encodes the text column(s) {text}; pass a table (a pandas "
                            "DataFrame or a dict of columns) with the column names, not a plain array.")
        if arr.shape[1] != len(specs):
            raise ValueError(f"{where}: expected {len(specs)} raw feature columns ({', '.join(s.name for s in specs)})"
                             f", got an array of shape {arr.shape}.")
        names = [s.name for s in specs]
    if arr.dtype.kind not in "fiub":
        return as_columns({n: arr[:, j] for j, n in enumerate(names)}, where=where)
    return Columns({n: arr[:, j].astype(np.float64) for j, n in enumerate(names)})


def _as_numbers(x: Array, name: str) -> Array:
    if x.dtype.kind == "f":
        return x
    bad = [v for v in x if v is not None]
    raise ValueError(f"predict: column {name!r} was numeric in training but holds text (e.g. {bad[0]!r}); pass "
                     "numbers (a missing value may be empty or NaN).")


def _as_text(x: Array) -> list[str | None]:
    if x.dtype.kind != "f":
        return list(x)
    return [None if np.isnan(v) else (str(int(v)) if float(v).is_integer() else repr(float(v))) for v in x]


# -- class labels ---------------------------------------------------------------------------------------
def is_label_array(y: Any) -> bool:
    """True for targets that are class names (text), which ``encode_labels`` turns into indices."""
    if y is None or is_table(y):
        return False
    if hasattr(y, "dtype") and str(getattr(y, "dtype", "")) in ("category", "string", "str"):
        return True
    try:
        arr = np.asarray(y)
    except ValueError:  # ragged: the numeric checks name it
        return False
    if arr.dtype.kind in "US":
        return True
    if arr.dtype == object and arr.ndim == 1:
        return any(isinstance(v, str) for v in arr.tolist())
    return False


def encode_labels(y: Any, classes: list[str] | None = None, *, where: str = "fit") -> tuple[Array, list[str]]:
    """(indices, classes): class names as 0..k−1 in sorted order (or in the order of ``classes``)."""
    values = np.asarray(y.astype(object) if hasattr(y, "astype") and hasattr(y, "iloc") else y, dtype=object)
    values = values.reshape(-1)
    missing = [i for i, v in enumerate(values.tolist()) if is_missing(v)]
    if missing:
        raise ValueError(f"{where}: y has {len(missing)} missing label(s) (first at row {missing[0]}); drop those "
                         "rows first.")
    names = [str(v) for v in values.tolist()]
    if classes is None:
        classes = sorted(set(names))
    lookup = {c: k for k, c in enumerate(classes)}
    unknown = sorted(set(names) - set(lookup))
    if unknown:
        raise ValueError(f"{where}: label(s) {unknown[:5]} are not among the model's classes {classes}.")
    return np.array([lookup[v] for v in names], dtype=np.intp), list(classes)
