"""Reading ``.npz`` archives safely: no pickle, a damaged or truncated archive is one ValueError naming
the file, and an archive whose arrays would unpack to more than ``MAX_NPZ_BYTES`` is refused from its
directory, before anything is decompressed (a zip bomb costs nothing)."""

from __future__ import annotations

import contextlib
import os
import zipfile
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

#: the most bytes the arrays of one .npz may unpack to (4 GiB); raise it for a bigger archive you trust
MAX_NPZ_BYTES = 2**32


def check_archive(path: str | os.PathLike[str], where: str) -> None:
    """Refuse a damaged or truncated archive, and one whose compressed arrays would unpack to more than
    ``MAX_NPZ_BYTES`` (members stored without compression are memory-mapped, so they do not count)."""
    path = Path(path)
    try:
        with zipfile.ZipFile(path) as z:
            total = sum(i.file_size for i in z.infolist() if i.compress_type != zipfile.ZIP_STORED)
    except (zipfile.BadZipFile, EOFError) as err:
        raise ValueError(f"{where}: {path.name} is not a readable .npz archive ({err}); it is damaged or "
                         "truncated, or not an .npz file.") from None
    if total > MAX_NPZ_BYTES:
        raise ValueError(f"{where}: the compressed arrays in {path.name} would unpack to {total:,} bytes, more than "
                         f"the limit of {MAX_NPZ_BYTES:,} (deltaprop.datasets.npz.MAX_NPZ_BYTES); save them without "
                         "compression (np.savez, which deltaprop memory-maps) or raise the limit.")


@contextlib.contextmanager
def open_npz(path: str | os.PathLike[str], where: str) -> Iterator[Any]:
    """``np.load(path, allow_pickle=False)`` after ``check_archive``; errors from a damaged archive (while
    opening or while reading an array) become ValueErrors naming the file."""
    path = Path(path)
    check_archive(path, where)
    try:
        with np.load(path, allow_pickle=False) as f:
            yield f
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError) as err:
        raise ValueError(f"{where}: {path.name} is damaged: an array cannot be read ({err}).") from None
    except ValueError as err:
        if "pickle" in str(err).lower() or "allow_pickle" in str(err):
            raise ValueError(f"{where}: {path.name} holds object (pickled) arrays; deltaprop never unpickles, so "
                             "save plain numeric arrays (np.savez(path, X=X, y=y)).") from None
        raise
