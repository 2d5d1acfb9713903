"""IDX files, the format MNIST and Fashion-MNIST are distributed in (LeCun et al., "THE MNIST DATABASE").

Layout, all integers big-endian: two zero bytes, a type code (0x08 ubyte, 0x09 byte, 0x0B int16,
0x0C int32, 0x0D float32, 0x0E float64), the number of dimensions, then one uint32 per dimension,
then the data in C order. ``read_idx`` checks every one of these against the file before it
allocates anything, so a corrupt or hostile file gives a ValueError that says what is wrong,
never a silent misread or a huge allocation. Gzipped files are recognised by their magic bytes.
"""

from __future__ import annotations

import gzip
import io
import os
import struct
import zlib
from pathlib import Path
from typing import BinaryIO

import numpy as np

from ..core.types import Array

# type code → big-endian dtype, as in the format description
IDX_DTYPES: dict[int, np.dtype] = {
    0x08: np.dtype(">u1"),
    0x09: np.dtype(">i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
_GZIP_MAGIC = b"\x1f\x8b"
MAX_DIMS = 8


def is_gzip(path: str | os.PathLike[str]) -> bool:
    """True when the file starts with the gzip magic bytes (whatever its name says)."""
    with open(path, "rb") as f:
        return f.read(2) == _GZIP_MAGIC


def read_idx(path: str | os.PathLike[str]) -> Array:
    """Read an IDX file (raw or gzipped) into a native-endian array of the shape in its header.

    Raises ValueError naming the file when the magic number, the type code, the number of
    dimensions or the data size is wrong (truncated or trailing bytes), and when a gzip stream
    is corrupt."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"read_idx: no such file {str(path)!r}; pass the path of an IDX file "
                                "such as train-images-idx3-ubyte.gz.")
    gz = is_gzip(path)
    try:
        with (gzip.open(path, "rb") if gz else open(path, "rb")) as f:
            return _read(f, str(path))
    except (OSError, EOFError, zlib.error) as err:
        if not gz:
            raise
        raise ValueError(f"read_idx: {str(path)!r} is not a valid gzip stream ({err}); the download is "
                         "probably incomplete or corrupt: delete it and download it again.") from None


def _read(f: BinaryIO, name: str) -> Array:
    header = f.read(4)
    if len(header) < 4:
        raise ValueError(f"read_idx: {name!r} is too short ({len(header)} bytes) to hold an IDX header; "
                         "expected 4 magic bytes, then the dimensions.")
    if header[:2] != b"\x00\x00":
        raise ValueError(f"read_idx: {name!r} has a bad magic number 0x{header.hex()}: an IDX file starts with "
                         "two zero bytes, a type code and the number of dimensions (e.g. 0x00000803 for "
                         "images); is this really an IDX file?")
    code, ndim = header[2], header[3]
    if code not in IDX_DTYPES:
        known = ", ".join(f"0x{c:02X}" for c in IDX_DTYPES)
        raise ValueError(f"read_idx: {name!r} has an unknown data type code 0x{code:02X} in its magic number "
                         f"0x{header.hex()}; expected one of {known}.")
    if not 1 <= ndim <= MAX_DIMS:
        raise ValueError(f"read_idx: {name!r} declares {ndim} dimensions in its magic number 0x{header.hex()}; "
                         f"expected 1 to {MAX_DIMS} (labels have 1, images 3).")
    raw_dims = f.read(4 * ndim)
    if len(raw_dims) < 4 * ndim:
        raise ValueError(f"read_idx: {name!r} is truncated inside its header: {ndim} dimension sizes need "
                         f"{4 * ndim} bytes, only {len(raw_dims)} are there.")
    shape = struct.unpack(f">{ndim}I", raw_dims)
    dtype = IDX_DTYPES[code]
    n_bytes = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize  # int64: no overflow on hostile sizes
    data = f.read(n_bytes + 1)  # one byte more than expected reveals trailing data
    if len(data) < n_bytes:
        raise ValueError(f"read_idx: {name!r} is truncated: its header declares shape {shape} of {dtype.name} "
                         f"({n_bytes:,} bytes of data) but only {len(data):,} bytes follow.")
    if len(data) > n_bytes:
        raise ValueError(f"read_idx: {name!r} has more data than its header declares (shape {shape}, "
                         f"{n_bytes:,} bytes); the sizes in the header are wrong or two files were joined.")
    return np.frombuffer(data, dtype=dtype).reshape(shape).astype(dtype.newbyteorder("="))


def write_idx(path: str | os.PathLike[str], array: Array, *, compress: bool | None = None) -> Path:
    """Write ``array`` as an IDX file (gzipped when ``compress`` or when the name ends in ``.gz``).

    The dtype must be one the format knows: uint8, int8, int16, int32, float32 or float64."""
    arr = np.asarray(array)
    codes = {dt.newbyteorder("="): code for code, dt in IDX_DTYPES.items()}
    native = arr.dtype.newbyteorder("=")
    if native not in codes:
        raise TypeError(f"write_idx: IDX cannot store dtype {arr.dtype}; convert to one of uint8, int8, int16, "
                        "int32, float32, float64.")
    if not 1 <= arr.ndim <= MAX_DIMS:
        raise ValueError(f"write_idx: array must have 1 to {MAX_DIMS} dimensions, got shape {arr.shape}.")
    code = codes[native]
    buf = io.BytesIO()
    buf.write(bytes([0, 0, code, arr.ndim]))
    buf.write(struct.pack(f">{arr.ndim}I", *arr.shape))
    buf.write(np.ascontiguousarray(arr, dtype=IDX_DTYPES[code]).tobytes())
    path = Path(path)
    if compress is None:
        compress = path.suffix == ".gz"
    payload = gzip.compress(buf.getvalue(), mtime=0) if compress else buf.getvalue()
    path.write_bytes(payload)
    return path
