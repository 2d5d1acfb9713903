"""Safe model files: safetensors (raw arrays + a JSON header), no pickle, everything validated on load.

A file is ``[8-byte little-endian header length N][N bytes of UTF-8 JSON][raw little-endian array bytes]``
(https://huggingface.co/docs/safetensors). Dense layer ``i`` of ``model.layers`` is stored as the
tensors ``"<i>.weight"`` (n_out, n_in) and ``"<i>.bias"`` (n_out,), the names ``torch.nn.Linear``
has inside a ``torch.nn.Sequential``, so ``safetensors.torch.load_file(path)`` feeds
``load_state_dict`` directly. Everything else (format name and version, the architecture as
layer configs, dtype, loss and optimizer configs, training facts) is JSON in the header's
``__metadata__``. Layers, losses and optimizers are rebuilt only from fixed name tables, so a file
can never name an importable object. See docs/model-files.md for the full layout and policy.

The loader checks the raw bytes itself before the ``safetensors`` package sees them (header
length and size, JSON, dtypes, offsets, trailing bytes, shapes against the architecture, finite
values, version) and reports every problem as ``ModelFileError``. Writes are atomic.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import secrets
import stat
import struct
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from ..nn.model import Sequential

PathLike = str | os.PathLike

FORMAT_NAME = "deltaprop"
#: the version this deltaprop writes; see READABLE_VERSIONS and docs/model-files.md
FORMAT_VERSION = 1
#: every version this deltaprop can read (version 1 is the first released format)
READABLE_VERSIONS = (1,)
#: the safetensors package's own limit on the JSON header
MAX_HEADER_BYTES = 100_000_000
MAX_RANK = 8
#: user metadata deeper than this is refused by ``save`` (JSON parsers, Python's included, have recursion limits)
MAX_METADATA_DEPTH = 64
#: the largest file ``load`` reads (4 GiB: a float32 network of a billion parameters); checked before reading,
#: so a huge file given as a model is refused at once. Raise it (``deltaprop.io.MAX_FILE_BYTES = ...``) to load
#: a bigger file you trust.
MAX_FILE_BYTES = 2**32
_DTYPES = {"F32": np.dtype("<f4"), "F64": np.dtype("<f8")}
_DTYPE_NAMES = {"float32": "F32", "float64": "F64"}
_KINDS = ("model", "checkpoint")


class ModelFileError(ValueError):
    """A model or checkpoint file is damaged, not a deltaprop file, or from an unsupported format version."""


# ---------------------------------------------------------------------------------------------
# The container: bytes <-> (tensors, str metadata), validated
# ---------------------------------------------------------------------------------------------
@dataclass
class SafeFile:
    """The validated content of a safetensors file: arrays by name and the str→str metadata."""

    tensors: dict[str, np.ndarray]
    metadata: dict[str, str]


def encode(tensors: Mapping[str, np.ndarray], metadata: Mapping[str, str]) -> bytes:
    """The bytes of a safetensors file holding ``tensors`` (float32/float64, C order) and ``metadata``."""
    import safetensors.numpy

    arrays = {}
    for name, arr in tensors.items():
        a = np.ascontiguousarray(arr)
        if a.dtype not in (np.float32, np.float64):
            raise TypeError(f"save: tensor {name!r} has dtype {a.dtype}; deltaprop files hold float32 or float64.")
        arrays[name] = a
    try:
        return safetensors.numpy.save(arrays, metadata=dict(metadata))
    except Exception as err:  # safetensors' own error type (e.g. a header over its limit): keep ours
        raise ValueError(f"save: safetensors cannot encode the file ({err}); keep the metadata small "
                         f"(the header limit is {MAX_HEADER_BYTES} bytes).") from None


def decode(data: bytes, *, where: str = "load") -> SafeFile:
    """Validate the raw bytes of a safetensors file, then read its arrays (all finite) and metadata."""
    entries, metadata, _ = _parse_header(data, where)
    import safetensors.numpy

    try:
        arrays = safetensors.numpy.load(data)
    except Exception as err:  # the header was checked above, so this is unexpected; keep the one error class
        raise ModelFileError(f"{where}: safetensors could not read the file: {err}") from None
    tensors: dict[str, np.ndarray] = {}
    for name, (dtype, shape, _) in entries.items():
        arr = arrays.get(name)
        if arr is None or arr.shape != shape or arr.dtype != dtype:
            raise ModelFileError(f"{where}: tensor {name!r} was not read back as declared ({shape}, {dtype}).")
        if not np.isfinite(arr).all():
            bad = int(arr.size - np.count_nonzero(np.isfinite(arr)))
            raise ModelFileError(f"{where}: tensor {name!r} holds {bad} NaN or infinite value(s); the file is "
                                 "damaged or was saved from a diverged model.")
        tensors[name] = arr
    return SafeFile(tensors, metadata)


def _parse_header(data: bytes, where: str, *, size: int | None = None
                  ) -> tuple[dict[str, tuple[np.dtype, tuple[int, ...], tuple[int, int]]], dict[str, str], int]:
    """Check the 8-byte length, the JSON header and every tensor's dtype, shape and byte range.

    ``data`` may be just the first 8 + N bytes of a file of ``size`` bytes: then the tensor table is
    checked against the file's size without its tensor bytes having been read."""
    size = len(data) if size is None else size
    if size < 8:
        raise ModelFileError(f"{where}: the file is truncated: it has {size} bytes, but a safetensors file starts "
                             "with an 8-byte header length.")
    (n,) = struct.unpack("<Q", data[:8])
    if n > MAX_HEADER_BYTES or n + 8 > size:
        hint = _foreign_format_hint(data)
        if n > MAX_HEADER_BYTES:
            raise ModelFileError(f"{where}: bad header length {n} (the limit is {MAX_HEADER_BYTES} bytes); "
                                 f"this is not a safetensors file{hint}.")
        raise ModelFileError(f"{where}: the file is truncated or has a bad header length: the header claims {n} "
                             f"bytes but only {size - 8} follow{hint}.")
    raw = data[8:8 + n]
    if not raw.startswith(b"{"):
        raise ModelFileError(f"{where}: the header must be a JSON object starting with '{{'; this is not a "
                             f"safetensors file{_foreign_format_hint(data)}.")
    try:
        header = json.loads(raw.decode("utf-8"), object_pairs_hook=_no_duplicates)
    except UnicodeDecodeError:
        raise ModelFileError(f"{where}: the header is not valid UTF-8.") from None
    except (ValueError, RecursionError) as err:
        raise ModelFileError(f"{where}: the header is not valid JSON ({err}).") from None
    if not isinstance(header, dict):
        raise ModelFileError(f"{where}: the header must be a JSON object, got {type(header).__name__}.")
    metadata = header.pop("__metadata__", {})
    if not isinstance(metadata, dict) or not all(isinstance(v, str) for v in metadata.values()):
        raise ModelFileError(f"{where}: __metadata__ must map strings to strings.")
    entries = {name: _entry(name, spec, where) for name, spec in header.items()}
    body = size - 8 - n
    end = 0
    for name, (_, _, (begin, stop)) in sorted(entries.items(), key=lambda kv: kv[1][2]):
        if begin > end:
            raise ModelFileError(f"{where}: gap of {begin - end} bytes before tensor {name!r} (data_offsets "
                                 f"[{begin}, {stop}]); tensors must be packed one after another.")
        if begin < end:
            raise ModelFileError(f"{where}: tensor {name!r} (data_offsets [{begin}, {stop}]) overlaps the tensor "
                                 f"before it, which ends at {end}.")
        end = stop
    if end > body:
        raise ModelFileError(f"{where}: the file is truncated: the tensors need {end} bytes of data but {body} "
                             "follow the header.")
    if end < body:
        raise ModelFileError(f"{where}: {body - end} trailing bytes after the last tensor; the file is damaged "
                             "or something was appended to it.")
    return entries, metadata, 8 + n


def _entry(name: str, spec: Any, where: str) -> tuple[np.dtype, tuple[int, ...], tuple[int, int]]:
    if not name:
        raise ModelFileError(f"{where}: a tensor has an empty name.")
    if not isinstance(spec, dict) or set(spec) != {"dtype", "shape", "data_offsets"}:
        raise ModelFileError(f"{where}: tensor {name!r} must be described by exactly 'dtype', 'shape' and "
                             f"'data_offsets', got {spec!r:.200}.")
    dtype = _DTYPES.get(spec["dtype"]) if isinstance(spec["dtype"], str) else None
    if dtype is None:
        raise ModelFileError(f"{where}: tensor {name!r} has unknown dtype {spec['dtype']!r}; deltaprop files hold "
                             f"{' or '.join(_DTYPES)}.")
    shape, offsets = spec["shape"], spec["data_offsets"]
    if not isinstance(shape, list) or len(shape) > MAX_RANK or not all(_is_count(d) for d in shape):
        raise ModelFileError(f"{where}: tensor {name!r} has an invalid shape {shape!r:.200}; expected a list of at "
                             f"most {MAX_RANK} non-negative ints.")
    # the non-zero sides count even in a tensor with a zero side: NumPy refuses shapes whose product overflows
    if math.prod(d for d in shape if d) * dtype.itemsize > MAX_FILE_BYTES:
        raise ModelFileError(f"{where}: tensor {name!r} of shape {tuple(shape)} is too large: its non-zero sides "
                             f"need {math.prod(d for d in shape if d) * dtype.itemsize} bytes, more than the "
                             f"{MAX_FILE_BYTES} a file may have (deltaprop.io.MAX_FILE_BYTES).")
    if not (isinstance(offsets, list) and len(offsets) == 2 and all(_is_count(o) for o in offsets)
            and offsets[0] <= offsets[1]):
        raise ModelFileError(f"{where}: tensor {name!r} has invalid data_offsets {offsets!r:.200}; expected "
                             "[begin, end] with 0 <= begin <= end.")
    nbytes = math.prod(shape) * dtype.itemsize
    if nbytes != offsets[1] - offsets[0]:
        raise ModelFileError(f"{where}: tensor {name!r} of shape {tuple(shape)} and dtype {spec['dtype']} needs "
                             f"{nbytes} bytes, but its data_offsets span {offsets[1] - offsets[0]}.")
    return dtype, tuple(shape), (offsets[0], offsets[1])


def _is_count(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool) and v >= 0


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise ValueError(f"duplicate key {key!r}")
        out[key] = value
    return out


def _foreign_format_hint(data: bytes) -> str:
    if data[:1] == b"\x80" and data[1:2] in (b"\x02", b"\x03", b"\x04", b"\x05"):
        return " (it looks like a pickle; deltaprop never unpickles, so re-save the model with model.save)"
    if data[:4] == b"PK\x03\x04":
        return " (it looks like a zip archive, e.g. from torch.save or numpy.savez; deltaprop never unpickles)"
    if data[:2] == b"\x1f\x8b":
        return " (it looks like a gzip file; deltaprop files are never compressed, and nothing is decompressed)"
    return ""


def atomic_write(path: PathLike, data: bytes, *, where: str = "save") -> Path:
    """Write ``data`` to ``path`` atomically: a temporary file in the same folder, flush, fsync,
    ``os.replace``, then fsync the folder where the OS allows. Readers see the old file or the new
    one, never a mixture; the temporary file is removed whatever happens, short of the process being
    killed (SIGKILL, power loss). Such a leftover ``.<name>.<pid>-<random>.tmp`` is never read, and the
    next write to the same path removes it once its process is gone (see ``_remove_stale_temporaries``).

    A symlink is written through (its target is replaced, the link stays), and an existing file keeps
    its permission bits (a 0600 model stays 0600). Only a regular file is ever replaced: a folder, a
    device or a pipe is refused. Returns the path written (the symlink's target)."""
    path = Path(path)
    if path.is_symlink():
        path = Path(os.path.realpath(path))
    folder = path.parent
    if not folder.is_dir():
        raise FileNotFoundError(f"{where}: folder {str(folder)!r} does not exist; create it first.")
    mode = None
    try:
        info = os.stat(path)
    except FileNotFoundError:
        pass
    else:
        if not stat.S_ISREG(info.st_mode):
            kind = "a folder" if stat.S_ISDIR(info.st_mode) else "not a regular file (a device, pipe or socket)"
            raise ValueError(f"{where}: {str(path)!r} is {kind}; pass the path of a file to write.")
        mode = stat.S_IMODE(info.st_mode)
    _remove_stale_temporaries(path)
    while True:
        tmp = folder / f".{path.name}.{os.getpid()}-{secrets.token_hex(6)}.tmp"
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0),
                         0o600 if mode is not None else 0o666)
            break
        except FileExistsError:  # pragma: no cover - a 48-bit random name collided
            continue
    try:
        with os.fdopen(fd, "wb") as f:
            if mode is not None and hasattr(os, "fchmod"):
                os.fchmod(f.fileno(), mode)
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    _fsync_folder(folder)
    return path


def write_text_atomic(path: PathLike, text: str, *, where: str = "write") -> Path:
    """``atomic_write`` for UTF-8 text (predictions, histories, explanations, diagrams)."""
    return atomic_write(path, text.encode("utf-8"), where=where)


_STALE_AFTER_S = 24 * 3600


def _remove_stale_temporaries(path: Path) -> None:
    """Delete the temporary files a killed writer of ``path`` left behind: names ``.<name>.<pid>-<hex>.tmp``
    whose process no longer runs (POSIX), or that are more than a day old (elsewhere, where a process
    cannot be probed without side effects). A live writer's file is never touched."""
    prefix, own = f".{path.name}.", os.getpid()
    try:
        entries = list(os.scandir(path.parent))
    except OSError:  # pragma: no cover - e.g. no permission to list the folder
        return
    for entry in entries:
        name = entry.name
        if not (name.startswith(prefix) and name.endswith(".tmp")):
            continue
        pid_text, _, token = name[len(prefix):-len(".tmp")].partition("-")
        if not (pid_text.isdigit() and len(token) == 12 and all(c in "0123456789abcdef" for c in token)):
            continue  # not one of ours
        pid = int(pid_text)
        if pid == own:
            continue  # another thread of this process may be writing it
        with contextlib.suppress(OSError):
            if _process_gone(pid, entry):
                os.unlink(entry.path)


def _process_gone(pid: int, entry: os.DirEntry[str]) -> bool:
    if os.name == "posix":
        try:
            os.kill(pid, 0)  # signal 0: only asks whether the process exists
        except ProcessLookupError:
            return True
        except (PermissionError, OverflowError):
            return False  # it exists (owned by someone else), or the name holds no real pid
        return False
    import time

    return time.time() - entry.stat().st_mtime > _STALE_AFTER_S


def _fsync_folder(folder: Path) -> None:
    """Make the rename durable (POSIX); Windows cannot open a folder, so skip there."""
    if not hasattr(os, "O_DIRECTORY"):
        return
    try:
        fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    except OSError:  # pragma: no cover - e.g. no read permission on the folder
        return
    try:
        os.fsync(fd)
    except OSError:  # pragma: no cover - some file systems refuse fsync on folders
        pass
    finally:
        os.close(fd)


def read_file(path: PathLike, *, where: str = "load") -> SafeFile:
    """Read and validate a whole safetensors file.

    The file's size (against ``MAX_FILE_BYTES``) and its header (against that size) are checked
    before the tensor bytes are read, so a huge, sparse or inconsistent file costs at most 8 bytes
    plus its header to refuse. Devices, pipes and sockets are refused without reading from them."""
    p = Path(path)
    if p.is_dir():
        raise ModelFileError(f"{where}: {str(p)!r} is a folder; pass the path of a model file.")
    # O_NONBLOCK: opening a named pipe must not wait for a writer; it is refused just below
    fd = os.open(p, os.O_RDONLY | getattr(os, "O_BINARY", 0) | getattr(os, "O_NONBLOCK", 0))
    with os.fdopen(fd, "rb") as f:
        info = os.fstat(f.fileno())
        if not stat.S_ISREG(info.st_mode):
            raise ModelFileError(f"{where}: {str(p)!r} is not a regular file (a device, pipe or socket); pass the "
                                 "path of a model file.")
        size = info.st_size
        if size > MAX_FILE_BYTES:
            raise ModelFileError(f"{where}: the file has {size} bytes, more than the limit of {MAX_FILE_BYTES} "
                                 "(deltaprop.io.MAX_FILE_BYTES); it is not a deltaprop model, or raise the limit to "
                                 "load a file you trust.")
        prefix = f.read(8)
        if len(prefix) == 8:
            (n,) = struct.unpack("<Q", prefix)
            if n <= MAX_HEADER_BYTES and n + 8 <= size:
                prefix += f.read(n)
        _parse_header(prefix, where, size=size)  # refuses before the tensor bytes are read
        f.seek(0)
        data = f.read(size + 1)  # one byte more shows a file that grew meanwhile
    if len(data) != size:
        raise ModelFileError(f"{where}: the file changed while it was being read ({size} bytes, then "
                             f"{len(data)}); read it again once it is no longer being written.")
    return decode(data, where=where)


# ---------------------------------------------------------------------------------------------
# The metadata: JSON values under fixed keys
# ---------------------------------------------------------------------------------------------
def to_json(value: Any) -> str:
    """JSON text of plain data (numpy scalars become Python numbers)."""
    def default(o: Any) -> Any:
        if isinstance(o, np.generic):
            return o.item()
        if isinstance(o, tuple):
            return list(o)
        raise TypeError(f"save: cannot store a {type(o).__name__} in the file's metadata; only plain data "
                        "(str, int, float, bool, None, lists, dicts) can be stored.")
    try:
        return json.dumps(value, default=default)
    except (RecursionError, ValueError) as err:  # nesting too deep, or a circular reference
        raise ValueError(f"save: the metadata cannot be stored as JSON ({err}); keep it plain and shallow "
                         f"(at most {MAX_METADATA_DEPTH} levels).") from None


def from_json(text: str, key: str, where: str) -> Any:
    try:
        return json.loads(text, object_pairs_hook=_no_duplicates)
    except (ValueError, RecursionError) as err:
        raise ModelFileError(f"{where}: metadata {key!r} is not valid JSON ({err}).") from None


def check_format(metadata: Mapping[str, str], where: str) -> tuple[int, str]:
    """(version, kind) after checking the format name and that this deltaprop reads the version."""
    if metadata.get("format") != FORMAT_NAME:
        found = metadata.get("format")
        raise ModelFileError(f"{where}: not a deltaprop file: its metadata 'format' is {found!r}, expected "
                             f"{FORMAT_NAME!r}. Plain safetensors weights can be put into a model with "
                             "model.set_weights().")
    text = metadata.get("format_version", "")
    if not (text.isdigit() and text.isascii() and len(text) < 10):
        raise ModelFileError(f"{where}: format_version must be a positive integer, got {text!r}.")
    version = int(text)
    if version not in READABLE_VERSIONS:
        readable = ", ".join(map(str, READABLE_VERSIONS))
        if version > FORMAT_VERSION:
            raise ModelFileError(f"{where}: the file has format version {version}, newer than this deltaprop "
                                 f"reads (versions {readable}); upgrade deltaprop (pip install -U deltaprop).")
        raise ModelFileError(f"{where}: the file has format version {version}, which this deltaprop cannot read "
                             f"(it reads versions {readable}); version {version} was never a released format.")
    kind = metadata.get("kind")
    if kind not in _KINDS:
        raise ModelFileError(f"{where}: metadata 'kind' must be one of {', '.join(_KINDS)}, got {kind!r}.")
    return version, kind


def model_metadata(model: Sequential, *, kind: str, user: Any = None) -> dict[str, str]:
    """The str→str metadata describing ``model`` (architecture, dtype, loss, optimizer, training facts)."""
    from .. import __version__

    history = model.history
    training: dict[str, Any] = {"deltaprop_version": __version__,
                                "saved_at": datetime.now(timezone.utc).isoformat(timespec="seconds")}
    if history is not None and len(history):
        training["epochs"] = len(history)
        training["final"] = {k: v[-1] for k, v in history.history.items() if v}
    meta = {
        "format": FORMAT_NAME,
        "format_version": str(FORMAT_VERSION),
        "kind": kind,
        "architecture": to_json([layer.get_config() for layer in model.layers]),
        "dtype": model.dtype.name,
        "loss": to_json(None if model.loss is None else model.loss.get_config()),
        "optimizer": to_json(None if model.optimizer is None else model.optimizer.get_config()),
        "training": to_json(training),
    }
    if getattr(model, "preprocessor", None) is not None:
        meta["preprocessing"] = to_json(model.preprocessor.get_config())  # type: ignore[union-attr]
    if getattr(model, "classes", None) is not None:
        meta["classes"] = to_json(list(model.classes))  # type: ignore[arg-type]
    if user is not None:
        meta["user"] = to_json(user)
    return meta


def model_tensors(model: Sequential) -> dict[str, np.ndarray]:
    """``{"<i>.weight": W, "<i>.bias": b}`` for every Dense layer i (torch nn.Linear names)."""
    out = {}
    for key, arr in model.parameters().items():
        index, name = key.split(".")
        out[f"{index}.{_TORCH_NAMES[name]}"] = arr
    if getattr(model, "preprocessor", None) is not None:
        for name, arr in model.preprocessor.tensors().items():  # type: ignore[union-attr]
            out[f"{PREPROCESS_PREFIX}{name}"] = arr
    return out


#: tensors of the preprocessor: "preprocess.median", "preprocess.mean", "preprocess.std" (float64)
PREPROCESS_PREFIX = "preprocess."


_TORCH_NAMES = {"W": "weight", "b": "bias"}


def decode_metadata(metadata: Mapping[str, str], where: str) -> dict[str, Any]:
    """The metadata as Python values, after checking format, version and the types of every field."""
    version, kind = check_format(metadata, where)
    out: dict[str, Any] = {"format": FORMAT_NAME, "format_version": version, "kind": kind}
    for key in ("architecture", "dtype", "loss", "optimizer", "training"):
        if key not in metadata:
            raise ModelFileError(f"{where}: metadata {key!r} is missing; the file is damaged.")
    if metadata["dtype"] not in _DTYPE_NAMES:
        raise ModelFileError(f"{where}: metadata 'dtype' must be float32 or float64, got {metadata['dtype']!r}.")
    out["dtype"] = metadata["dtype"]
    arch = from_json(metadata["architecture"], "architecture", where)
    if not isinstance(arch, list) or not arch or not all(isinstance(c, dict) for c in arch):
        raise ModelFileError(f"{where}: metadata 'architecture' must be a non-empty list of layer configs.")
    out["architecture"] = arch
    for key in ("loss", "optimizer"):
        value = from_json(metadata[key], key, where)
        if value is not None and not (isinstance(value, dict) and isinstance(value.get("type"), str)):
            raise ModelFileError(f"{where}: metadata {key!r} must be null or an object with a 'type' name.")
        out[key] = value
    training = from_json(metadata["training"], "training", where)
    if not isinstance(training, dict):
        raise ModelFileError(f"{where}: metadata 'training' must be a JSON object.")
    out["training"] = training
    out["user"] = from_json(metadata["user"], "user", where) if "user" in metadata else None
    out["preprocessing"] = from_json(metadata["preprocessing"], "preprocessing", where) \
        if "preprocessing" in metadata else None
    classes = from_json(metadata["classes"], "classes", where) if "classes" in metadata else None
    if classes is not None and not (isinstance(classes, list) and len(classes) >= 2
                                    and all(isinstance(c, str) for c in classes) and len(set(classes)) == len(classes)):
        raise ModelFileError(f"{where}: metadata 'classes' must be a list of at least two distinct strings.")
    out["classes"] = classes
    return out


# ---------------------------------------------------------------------------------------------
# Models: save, load, read_metadata
# ---------------------------------------------------------------------------------------------
def save(model: Sequential, path: PathLike, *, metadata: Any = None) -> Path:
    """Write ``model`` to ``path`` (a ``.safetensors`` file) atomically and return the path.

    ``metadata`` is optional plain data (JSON-serialisable) stored under the ``"user"`` key and
    returned by ``read_metadata(path)["user"]``."""
    from ..nn.model import Sequential

    if not isinstance(model, Sequential):
        raise TypeError(f"save: model must be a deltaprop Sequential, got {type(model).__name__}.")
    where = f"save {str(path)!r}"
    _check_finite(model, where)
    _check_depth(metadata, where)
    data = encode(model_tensors(model), model_metadata(model, kind="model", user=metadata))
    check_loadable(data, where=where)
    atomic_write(path, data, where=where)
    return Path(path)


def check_loadable(data: bytes, *, where: str) -> SafeFile:
    """Run on the bytes about to be written exactly the checks ``load`` runs on a file, so that a save
    never replaces a good file with one that ``load`` refuses (non-finite weights, metadata that does
    not round-trip); raises ``ValueError`` naming the problem before the target is touched."""
    try:
        f = decode(data, where=where)
        info = decode_metadata(f.metadata, where)
        build_model(info, f.tensors, where=where, extra_tensors=info["kind"] == "checkpoint")
    except ModelFileError as err:
        raise ValueError(f"{err} Nothing was written: load would refuse this file.") from None
    return f


def _check_finite(model: Sequential, where: str) -> None:
    from ..core.validation import all_finite

    for key, p in model.parameters().items():
        if not all_finite(p):
            bad = int(p.size - np.count_nonzero(np.isfinite(p)))
            raise ValueError(f"{where}: parameter {key!r} holds {bad} NaN or infinite value(s), and load refuses "
                             "such a file; nothing was written. Set finite weights (or train with a lower lr).")


def _check_depth(value: Any, where: str, depth: int = 0) -> None:
    if depth > MAX_METADATA_DEPTH:
        raise ValueError(f"{where}: the metadata is nested more than {MAX_METADATA_DEPTH} levels deep; keep it "
                         "plain and shallow. Nothing was written.")
    if isinstance(value, Mapping):
        for v in value.values():
            _check_depth(v, where, depth + 1)
    elif isinstance(value, (list, tuple)):
        for v in value:
            _check_depth(v, where, depth + 1)


def file_kind(path: PathLike) -> str | None:
    """"model" or "checkpoint" for a deltaprop file (judged from its header alone), None for anything else.

    Reads at most 8 bytes plus the header, so asking about a large foreign file costs little."""
    try:
        with open(path, "rb") as f:
            info = os.fstat(f.fileno())
            if not stat.S_ISREG(info.st_mode):
                return None
            prefix = f.read(8)
            if len(prefix) == 8:
                (n,) = struct.unpack("<Q", prefix)
                if n <= MAX_HEADER_BYTES and n + 8 <= info.st_size:
                    prefix += f.read(n)
        _, metadata, _ = _parse_header(prefix, "file_kind", size=info.st_size)
        return check_format(metadata, "file_kind")[1]
    except (OSError, ModelFileError):
        return None


def load(path: PathLike) -> Sequential:
    """Read a model (or the model inside a checkpoint) written by ``save``; raises ``ModelFileError``
    naming what is wrong if the file is damaged, foreign or of an unreadable format version.

    The loss and optimizer are rebuilt from their configs (the optimizer without its state;
    resume training exactly with ``fit(..., resume=checkpoint)``)."""
    where = f"load {str(path)!r}"
    f = read_file(path, where=where)
    info = decode_metadata(f.metadata, where)
    return build_model(info, f.tensors, where=where, extra_tensors=info["kind"] == "checkpoint")


def read_metadata(path: PathLike) -> dict[str, Any]:
    """The decoded metadata of a model or checkpoint file: format, format_version, kind, architecture,
    dtype, loss, optimizer, training (epochs, final logs, deltaprop version, date) and user."""
    where = f"read_metadata {str(path)!r}"
    return decode_metadata(read_file(path, where=where).metadata, where)


def build_model(info: Mapping[str, Any], tensors: Mapping[str, np.ndarray], *, where: str,
                extra_tensors: bool = False) -> Sequential:
    """A Sequential from decoded metadata and tensors; every shape is checked against the architecture
    before a layer is built, so a file cannot make the loader allocate more than the file holds."""
    from ..core.registry import lookup
    from ..nn import layers as layers_mod
    from ..nn import losses as losses_mod
    from ..nn.model import Sequential
    from ..optim import optimizers as optimizers_mod

    dtype = np.dtype(info["dtype"])
    expected: dict[str, tuple[int, ...]] = {}
    pre = _preprocessor(info.get("preprocessing"), tensors, where)
    if pre is not None:
        expected.update({f"{PREPROCESS_PREFIX}{k}": v.shape for k, v in pre.tensors().items()})
    for i, cfg in enumerate(info["architecture"]):
        if not isinstance(cfg.get("type"), str):
            raise ModelFileError(f"{where}: layer {i} config must have a 'type' name, got {cfg!r:.200}.")
        cls = layers_mod.LAYERS.get(cfg["type"])
        if cls is None:
            try:
                lookup("layer type", cfg["type"], layers_mod.LAYERS)
            except ValueError as err:
                raise ModelFileError(f"{where}: layer {i}: {err}") from None
            raise ModelFileError(f"{where}: layer {i}: layer type {cfg['type']!r} must be spelled exactly as one of "
                                 f"{', '.join(sorted(layers_mod.LAYERS))}.")
        keys = set((cls(1, 1) if cls is layers_mod.Dense else cls()).get_config())
        if set(cfg) != keys:
            raise ModelFileError(f"{where}: layer {i} config {cfg!r:.200} must have exactly the keys "
                                 f"{', '.join(sorted(keys))}.")
        if cfg["type"] == "Dense":
            n_in, n_out = cfg.get("n_in"), cfg.get("n_out")
            if not (_is_count(n_in) and _is_count(n_out) and n_in > 0 and n_out > 0):
                raise ModelFileError(f"{where}: layer {i} (Dense) needs positive int n_in and n_out, got "
                                     f"{n_in!r} and {n_out!r}.")
            expected[f"{i}.weight"], expected[f"{i}.bias"] = (n_out, n_in), (n_out,)
    for name, shape in expected.items():
        if name not in tensors:
            raise ModelFileError(f"{where}: tensor {name!r} is missing; the architecture declares a Dense layer "
                                 f"there with shape {shape}.")
        arr = tensors[name]
        if arr.shape != shape:
            raise ModelFileError(f"{where}: shape mismatch for {name!r}: the architecture needs {shape}, the file "
                                 f"has {arr.shape}.")
        if arr.dtype != dtype and not name.startswith(PREPROCESS_PREFIX):
            raise ModelFileError(f"{where}: tensor {name!r} is {arr.dtype} but the model's dtype is {dtype}.")
    if not extra_tensors:
        unexpected = sorted(set(tensors) - set(expected))
        if unexpected:
            raise ModelFileError(f"{where}: unexpected tensor(s) {', '.join(map(repr, unexpected[:5]))}; the "
                                 "architecture has no layer that uses them.")
    layers = []
    for i, cfg in enumerate(info["architecture"]):
        try:
            layer = layers_mod.from_config(cfg, dtype=dtype)
        except (TypeError, ValueError, KeyError) as err:
            raise ModelFileError(f"{where}: layer {i} config {cfg!r:.200} is invalid: {err}") from None
        if layer.get_config() != cfg:
            raise ModelFileError(f"{where}: layer {i} config {cfg!r:.200} does not describe a deltaprop layer "
                                 f"exactly; it rebuilds as {layer.get_config()!r}.")
        if cfg["type"] == "Dense":
            layer.W, layer.b = tensors[f"{i}.weight"], tensors[f"{i}.bias"]
        layers.append(layer)
    try:
        model = Sequential(layers, dtype=dtype)
    except (TypeError, ValueError) as err:
        raise ModelFileError(f"{where}: the architecture is not a valid network: {err}") from None
    try:
        if info["loss"] is not None:
            cfg = dict(info["loss"])
            model.loss = lookup("loss", cfg.pop("type"), losses_mod.LOSSES)(**cfg)
        if info["optimizer"] is not None:
            model.optimizer = optimizers_mod.from_config(info["optimizer"])
    except (TypeError, ValueError, KeyError) as err:
        raise ModelFileError(f"{where}: the loss or optimizer config is invalid: {err}") from None
    if pre is not None and pre.n_features != model.n_inputs:
        raise ModelFileError(f"{where}: the preprocessing encodes {pre.n_features} input columns but the network "
                             f"takes {model.n_inputs}.")
    classes = info.get("classes")
    if classes is not None and len(classes) != (2 if model.n_outputs == 1 else model.n_outputs):
        raise ModelFileError(f"{where}: metadata 'classes' names {len(classes)} classes but the network has "
                             f"{model.n_outputs} output(s).")
    model.preprocessor, model.classes = pre, classes
    return model


def _preprocessor(config: Any, tensors: Mapping[str, np.ndarray], where: str) -> Any:
    """The model's Preprocessor from its JSON config and float64 tensors, or None (validated)."""
    if config is None:
        return None
    from ..nn.preprocess import Preprocessor

    mine = {k[len(PREPROCESS_PREFIX):]: v for k, v in tensors.items() if k.startswith(PREPROCESS_PREFIX)}
    try:
        return Preprocessor.from_config(config, mine)
    except (TypeError, ValueError) as err:
        raise ModelFileError(f"{where}: the preprocessing is invalid: {err}") from None
