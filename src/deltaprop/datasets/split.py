"""Train/test splits and feature scaling: scikit-learn's when it is installed, a few NumPy lines otherwise.

scikit-learn's ``train_test_split`` and ``StandardScaler`` are the reference implementations, so
they are used whenever scikit-learn is importable (an int ``seed`` becomes ``random_state``). The
fallbacks keep the core usable with NumPy alone. The two draw different permutations, so a split
is reproducible for a given seed *and* a given choice of backend (``use_sklearn`` pins it).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..core.backend import rng_from
from ..core.types import Array, Seed


def _sklearn_available() -> bool:
    try:
        import sklearn  # noqa: F401
    except ImportError:
        return False
    return True


def train_test_split(X: Any, y: Any, *, test_size: float | int = 0.2, seed: Seed = None, stratify: bool = False,
                     use_sklearn: bool | None = None) -> tuple[Array, Array, Array, Array]:
    """(X_train, X_test, y_train, y_test), a seeded random split; ``stratify`` keeps class proportions.

    ``test_size`` is a fraction in (0, 1) or a number of samples. ``use_sklearn=None`` uses
    ``sklearn.model_selection.train_test_split`` when available (and ``seed`` is an int or None)."""
    X, y = np.asarray(X), np.asarray(y)
    n = len(X)
    if len(y) != n:
        raise ValueError(f"train_test_split: X has {n} samples but y has {len(y)}.")
    n_test = _n_test(test_size, n)
    if use_sklearn is None:
        use_sklearn = _sklearn_available() and (seed is None or isinstance(seed, (int, np.integer)))
    if use_sklearn:
        from sklearn.model_selection import train_test_split as sk_split

        return tuple(sk_split(X, y, test_size=n_test, random_state=None if seed is None else int(seed),  # type: ignore[return-value]
                              stratify=y if stratify else None))
    rng = rng_from(seed)
    if stratify:
        test_idx = _stratified_test_indices(y, n_test, rng)
    else:
        test_idx = rng.permutation(n)[:n_test]
    mask = np.zeros(n, dtype=bool)
    mask[test_idx] = True
    train_idx = rng.permutation(np.flatnonzero(~mask))
    test_idx = rng.permutation(np.flatnonzero(mask))
    return X[train_idx], X[test_idx], y[train_idx], y[test_idx]


def _n_test(test_size: float | int, n: int) -> int:
    if isinstance(test_size, bool):
        raise TypeError("train_test_split: test_size must be a fraction or a count, got a bool.")
    if isinstance(test_size, (int, np.integer)):
        k = int(test_size)
    elif isinstance(test_size, (float, np.floating)) and 0 < test_size < 1:
        k = int(np.ceil(test_size * n))
    else:
        raise ValueError(f"train_test_split: test_size must be a fraction in (0, 1) or a count, got {test_size!r}.")
    if not 0 < k < n:
        raise ValueError(f"train_test_split: test_size={test_size!r} leaves {k} of {n} samples for testing; both "
                         "sides need at least one.")
    return k


def _stratified_test_indices(y: Array, n_test: int, rng: np.random.Generator) -> Array:
    """Per class, round(n_test · share) test samples (largest remainders fill up to n_test)."""
    labels = y.argmax(axis=1) if y.ndim == 2 and y.shape[1] > 1 else y.reshape(len(y), -1)[:, 0]
    classes, inverse, counts = np.unique(labels, return_inverse=True, return_counts=True)
    exact = counts * n_test / len(y)
    take = np.floor(exact).astype(int)
    for k in np.argsort(-(exact - take), kind="stable")[: n_test - take.sum()]:
        take[k] += 1
    return np.concatenate([rng.permutation(np.flatnonzero(inverse == k))[: take[k]] for k in range(len(classes))])


class _StandardScaler:
    """x' = (x − mean) / std per feature (std 0 → 1), the part of sklearn's StandardScaler used here."""

    def fit(self, X: Any, y: Any = None) -> _StandardScaler:
        X = np.asarray(X, dtype=np.float64)
        self.mean_ = X.mean(axis=0)
        std = X.std(axis=0)
        self.scale_ = np.where(std == 0, 1.0, std)
        return self

    def transform(self, X: Any) -> Array:
        if not hasattr(self, "mean_"):
            raise RuntimeError("StandardScaler.transform() called before fit().")
        X = np.asarray(X)
        out_dtype = X.dtype if np.issubdtype(X.dtype, np.floating) else np.float64
        return ((X - self.mean_) / self.scale_).astype(out_dtype)

    def fit_transform(self, X: Any, y: Any = None) -> Array:
        return self.fit(X).transform(X)

    def inverse_transform(self, X: Any) -> Array:
        return np.asarray(X) * self.scale_ + self.mean_


def standard_scaler(*, use_sklearn: bool | None = None) -> Any:
    """An unfitted standardiser with ``fit`` / ``transform`` / ``fit_transform`` / ``inverse_transform``:
    ``sklearn.preprocessing.StandardScaler`` when installed, else a NumPy equivalent."""
    if use_sklearn is None:
        use_sklearn = _sklearn_available()
    if use_sklearn:
        from sklearn.preprocessing import StandardScaler

        return StandardScaler()
    return _StandardScaler()


def standardize(X_train: Any, *others: Any) -> tuple[Array, ...]:
    """Standardise with the training set's mean and std; returns (X_train', *others') transformed alike."""
    scaler = standard_scaler().fit(X_train)
    return (scaler.transform(X_train), *(scaler.transform(X) for X in others))
