"""Hostile model files: a pickle that would run code, zip and gzip bombs, a 4 GB tensor declared in a 1 KB
file, header lengths beyond the file or over the cap, huge sparse files, devices and pipes. Each one, given to
every loader (``load``, ``read_metadata``, ``Checkpoint``, ``fit(resume=...)``) and to the command line
(``info``, ``evaluate``, ``predict``, ``train --resume``), is refused with ``ModelFileError`` (exit 2 and one
line on the command line), quickly and with bounded memory (tracemalloc peak), and nothing in it executes or
decompresses."""

from __future__ import annotations

import base64
import gzip
import io
import json
import os
import pickle
import re
import struct
import time
import tracemalloc
import zipfile
import zlib
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

import deltaprop as dp
from deltaprop.checkpoint import Checkpoint
from deltaprop.cli import main
from deltaprop.io import model_file as dpio

X = np.random.default_rng(0).normal(size=(16, 2))
Y = (X[:, 0] > 0).astype(int)
LAYERS = [2, 3, 2]
#: what refusing (or reading) any hostile file below may allocate, and how long it may take; a loader that
#: decompressed a bomb, allocated a declared tensor or read a huge sparse file would blow through both
MAX_PEAK_BYTES = 10 * 2**20
MAX_SECONDS = 5.0


def make_model() -> dp.Sequential:
    return dp.mlp(LAYERS, output_activation="softmax", seed=0, dtype="float64")


@pytest.fixture(scope="module")
def valid(tmp_path_factory) -> dict[str, bytes]:
    """The bytes of a small model file and of a checkpoint of the same network."""
    folder = tmp_path_factory.mktemp("valid")
    model = make_model()
    model.fit(X, Y, optimizer="adam", epochs=2, batch_size=8, seed=0, checkpoint=folder / "ck.safetensors")
    model.save(folder / "m.safetensors")
    return {"model": (folder / "m.safetensors").read_bytes(), "checkpoint": (folder / "ck.safetensors").read_bytes()}


def split(data: bytes) -> tuple[dict, bytes]:
    (n,) = struct.unpack("<Q", data[:8])
    return json.loads(data[8:8 + n]), data[8 + n:]


def pack(header: dict | bytes, body: bytes = b"") -> bytes:
    h = header if isinstance(header, bytes) else json.dumps(header).encode()
    return struct.pack("<Q", len(h)) + h + body


class MkdirOnUnpickle:
    """A pickle payload with a visible side effect: unpickling it creates the folder ``marker``."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return os.mkdir, (str(self.marker),)


def gzip_bomb() -> bytes:
    """About 1 MB of gzip that inflates to 1 GiB of zeros: 64 copies of one 16 MiB member (gzip concatenates)."""
    return gzip.compress(bytes(16 * 2**20), compresslevel=9) * 64


def zip_bomb() -> bytes:
    """A zip archive (the container of torch.save and numpy.savez) holding 64 MiB of zeros in ~64 KB."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as zf, \
            zf.open("archive/data.pkl", "w", force_zip64=True) as f:
        for _ in range(64):
            f.write(bytes(2**20))
    return buf.getvalue()


def with_tensor_body(payload: bytes) -> bytes:
    """A well-formed 2 → m → 2 model file whose first weight tensor holds ``payload``'s raw bytes."""
    m = -(-len(payload) // 16)  # float64 weight (m, 2): 16 bytes per row
    model = dp.mlp([2, m, 2], seed=0, dtype="float64")
    header, body = split(dpio.encode(dpio.model_tensors(model), dpio.model_metadata(model, kind="model")))
    lo, hi = header["0.weight"]["data_offsets"]
    return pack(header, body[:lo] + payload.ljust(hi - lo, b"\0") + body[hi:])


def huge_tensor_headers(valid_model: bytes) -> dict[str, bytes]:
    """Files of about 1 KB whose tables declare gigabytes or 2**62 elements."""
    header, body = split(valid_model)
    out = {}
    meta = {"__metadata__": header["__metadata__"]}
    h = {**meta, "0.weight": {"dtype": "F32", "shape": [1024, 1024 * 1024], "data_offsets": [0, 4 * 2**30]}}
    out["4 GiB tensor, offsets to match"] = pack(h, body)
    h = json.loads(json.dumps(header))
    h["0.weight"]["shape"] = [2**31, 2**31]
    out["2**62-element tensor"] = pack(h, body)
    h = {**meta, "0.weight": {"dtype": "F64", "shape": [2**31, 2**31], "data_offsets": [0, 8 * 2**62]}}
    out["2**62-element tensor, offsets to match"] = pack(h, body)
    h = {**meta, "0.weight": {"dtype": "F64", "shape": [2**31, 0, 2**31], "data_offsets": [0, 0]}}
    out["zero-size tensor with 2**31-long sides"] = pack(h)
    h = {**meta, "0.weight": {"dtype": "F64", "shape": [2**62, 0], "data_offsets": [0, 0]}}
    out["zero-size tensor with a 2**62-long side"] = pack(h)
    h = {**meta, "0.weight": {"dtype": "F64", "shape": [2**20, 0, 2**8], "data_offsets": [0, 0]}}
    out["zero-size tensor with 2**20-long sides"] = pack(h)
    h = json.loads(json.dumps(header))
    arch = json.loads(h["__metadata__"]["architecture"])
    arch[0]["n_in"] = arch[2]["n_out"] = 2**31  # a Dense layer of 2**31 x 3 weights in the architecture only
    h["__metadata__"]["architecture"] = json.dumps(arch)
    out["architecture declares 2**31 inputs"] = pack(h, body)
    return out


def hostile_files(valid: dict[str, bytes], marker: Path) -> dict[str, bytes]:
    model, ck = valid["model"], valid["checkpoint"]
    header, body = split(model)
    bomb = gzip_bomb()
    evil = pickle.dumps(MkdirOnUnpickle(marker), protocol=4)
    zipped_pickle = io.BytesIO()
    with zipfile.ZipFile(zipped_pickle, "w") as zf:
        zf.writestr("archive/data.pkl", evil)  # how torch.save lays out a pickle
    in_meta = json.loads(json.dumps(header))
    in_meta["__metadata__"]["training"] = json.dumps({"x": {"__gzip__": base64.b64encode(bomb[:60_000]).decode()}})
    deep = b'{"a":' * 100_000 + b"1" + b"}" * 100_000
    ck_header, ck_body = split(ck)
    ck_deep = json.loads(json.dumps(ck_header))
    ck_deep["__metadata__"]["checkpoint"] = "[" * 5_000 + "]" * 5_000
    ck_nested = json.loads(json.dumps(ck_header))
    state = json.loads(ck_nested["__metadata__"]["checkpoint"])
    state["history"]["history"]["loss"] = json.loads("[" * 900 + "]" * 900)  # deep, but within the JSON parser
    ck_nested["__metadata__"]["checkpoint"] = json.dumps(state)
    return {
        "pickle that runs os.mkdir": evil,
        "pickle inside a zip, as torch.save writes": zipped_pickle.getvalue(),
        "gzip bomb": bomb,
        "zip bomb": zip_bomb(),
        "gzip bomb as the header": pack(bomb[:50_000]),
        "gzip bomb in metadata JSON": pack(in_meta, body),
        "gzip bomb as a tensor body": with_tensor_body(bomb[:4096]),
        **huge_tensor_headers(model),
        "header length beyond the file": struct.pack("<Q", 10_000) + model[8:1000],
        "header length just over the cap": struct.pack("<Q", dpio.MAX_HEADER_BYTES + 1) + model[8:],
        "header length 2**64 - 1": struct.pack("<Q", 2**64 - 1) + model[8:],
        "header nested 100,000 deep": pack(deep),
        "integer of 100,000 digits": pack(b'{"0.weight": {"dtype": "F64", "shape": [' + b"9" * 100_000 + b"]}}"),
        "checkpoint state nested 5,000 deep": pack(ck_deep, ck_body),
        "checkpoint history nested 900 deep": pack(ck_nested, ck_body),
        "empty file": b"",
    }


def bounded(call: Callable[[], object]) -> object:
    """``call()`` under tracemalloc: returns what it returned or the exception it raised, after checking the
    peak allocation and the time."""
    tracemalloc.start()
    start = time.perf_counter()
    try:
        result: object = call()
    except Exception as err:  # the caller checks the kind
        result = err
    finally:
        seconds = time.perf_counter() - start
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    assert peak < MAX_PEAK_BYTES, f"peak allocation {peak:,} bytes"
    assert seconds < MAX_SECONDS, f"took {seconds:.1f} s"
    return result


def loaders(path: Path) -> dict[str, Callable[[], object]]:
    return {
        "load": lambda: dp.load(path),
        "read_metadata": lambda: dpio.read_metadata(path),
        "Checkpoint": lambda: Checkpoint(path),
        "fit(resume=...)": lambda: make_model().fit(X, Y, optimizer="adam", epochs=3, batch_size=8, seed=0,
                                                    resume=path),
    }


def test_the_pickle_payload_is_live(tmp_path):
    """Calibration: unpickling the payload really does create its marker, so its absence below means
    nothing was unpickled."""
    marker = tmp_path / "proof"
    pickle.loads(pickle.dumps(MkdirOnUnpickle(marker), protocol=4))
    assert marker.is_dir()


def test_tracemalloc_sees_what_the_loader_reads(tmp_path):
    """Calibration: loading a valid 16 MB model peaks above the bound, so the bound below can fail."""
    model = dp.mlp([1000, 2000, 2], seed=0, dtype="float64")
    model.save(tmp_path / "big.safetensors")
    tracemalloc.start()
    try:
        dp.load(tmp_path / "big.safetensors")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak > 16_000_000 > MAX_PEAK_BYTES


EXPECTED = {  # the words of the error each case gets (from load, or from Checkpoint for a checkpoint's state)
    "pickle that runs os.mkdir": "looks like a pickle; deltaprop never unpickles",
    "pickle inside a zip, as torch.save writes": "looks like a zip archive",
    "gzip bomb": "looks like a gzip file",
    "zip bomb": "looks like a zip archive",
    "gzip bomb as the header": "must be a JSON object starting with",
    "4 GiB tensor, offsets to match": "truncated: the tensors need 4294967296 bytes of data but 136 follow",
    "2**62-element tensor": "non-zero sides need 36893488147419103232 bytes, more than the 4294967296",
    "2**62-element tensor, offsets to match": "non-zero sides need 36893488147419103232 bytes",
    "zero-size tensor with 2**31-long sides": "non-zero sides need 36893488147419103232 bytes",
    "zero-size tensor with a 2**62-long side": "non-zero sides need 36893488147419103232 bytes",
    "zero-size tensor with 2**20-long sides": r"shape mismatch for '0\.weight': the architecture needs \(3, 2\)",
    "architecture declares 2**31 inputs": "shape mismatch for '0.weight': the architecture needs",
    "header length beyond the file": "the header claims 10000 bytes but only 992 follow",
    "header length just over the cap": "bad header length 100000001",
    "header length 2**64 - 1": "bad header length 18446744073709551615",
    "header nested 100,000 deep": "not valid JSON",
    "integer of 100,000 digits": "not valid JSON",
    "checkpoint state nested 5,000 deep": "metadata 'checkpoint' is not valid JSON",
    "checkpoint history nested 900 deep": "the training state is nested more than 32 levels deep",
    "empty file": "truncated: it has 0 bytes",
}


#: cases that are well-formed model files: only what reads a checkpoint's training state refuses them
VALID_MODELS = {"gzip bomb in metadata JSON", "gzip bomb as a tensor body", "checkpoint state nested 5,000 deep",
                "checkpoint history nested 900 deep"}
RESUME = {"Checkpoint", "fit(resume=...)", "train --resume"}
#: sound safetensors files whose tensors disagree with the architecture: read_metadata does not build the model
METADATA_OK = {"zero-size tensor with 2**20-long sides", "architecture declares 2**31 inputs"}


def test_every_hostile_file_is_refused_by_every_loader_quickly_with_bounded_memory(valid, tmp_path):
    marker = tmp_path / "executed"
    for name, data in hostile_files(valid, marker).items():
        path = tmp_path / "hostile.safetensors"
        path.write_bytes(data)
        for where, call in loaders(path).items():
            result = bounded(call)
            if name == "gzip bomb as a tensor body" and where == "load" and not isinstance(result, Exception):
                # its bytes all read as finite floats: then they are the weights, byte for byte, not inflated
                header, body = split(data)
                lo, hi = header["0.weight"]["data_offsets"]
                assert result.parameters()["0.W"].tobytes() == body[lo:hi]
                continue
            if (name in VALID_MODELS and where not in RESUME) or (name in METADATA_OK and where == "read_metadata"):
                assert not isinstance(result, Exception), (name, where, repr(result))
                continue
            assert isinstance(result, dp.ModelFileError), (name, where, repr(result))
            if where == ("Checkpoint" if name in VALID_MODELS else "load") and name in EXPECTED:
                assert re.search(EXPECTED[name], str(result)), (name, str(result))
    assert not marker.exists()  # no pickle was ever unpickled


def test_a_huge_sparse_file_is_refused_without_being_read(valid, tmp_path):
    """A file over MAX_FILE_BYTES is refused from its size alone; a huge file under it whose header is valid
    is refused from the header (trailing bytes), having read 8 bytes plus the header. Sparse: no disk used."""
    path = tmp_path / "huge.safetensors"
    with open(path, "wb") as f:
        f.write(valid["model"])
        f.truncate(dpio.MAX_FILE_BYTES + 1)
    err = bounded(lambda: dp.load(path))
    assert isinstance(err, dp.ModelFileError)
    assert f"the file has {dpio.MAX_FILE_BYTES + 1} bytes, more than the limit" in str(err)

    with open(path, "wb") as f:
        f.write(valid["model"])
        f.truncate(2**30)
    for where, call in loaders(path).items():
        err = bounded(call)
        assert isinstance(err, dp.ModelFileError) and "trailing bytes after the last tensor" in str(err), (where, err)


def test_the_file_size_limit_can_be_raised_for_a_trusted_file(valid, tmp_path, monkeypatch):
    path = tmp_path / "m.safetensors"
    path.write_bytes(valid["model"])
    monkeypatch.setattr(dpio, "MAX_FILE_BYTES", len(valid["model"]) - 1)
    with pytest.raises(dp.ModelFileError, match="raise the limit to load a file you trust"):
        dp.load(path)
    monkeypatch.setattr(dpio, "MAX_FILE_BYTES", len(valid["model"]))
    assert np.isfinite(dp.load(path).predict(X)).all()


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="named pipes are POSIX")
def test_devices_and_pipes_are_refused_without_reading_or_waiting(tmp_path):
    fifo = tmp_path / "pipe.safetensors"
    os.mkfifo(fifo)  # opening it for reading would wait for a writer forever
    for path in (fifo, Path("/dev/zero")):
        for where, call in loaders(path).items():
            err = bounded(call)
            assert isinstance(err, dp.ModelFileError) and "is not a regular file" in str(err), (path, where, err)


def test_a_file_that_grows_while_it_is_read_is_refused(valid, tmp_path, monkeypatch):
    path = tmp_path / "m.safetensors"
    path.write_bytes(valid["model"])
    real = dpio._parse_header

    def append_meanwhile(*args, **kwargs):
        result = real(*args, **kwargs)
        if kwargs.get("size") is not None:
            with open(path, "ab") as f:
                f.write(b"more")
        return result

    monkeypatch.setattr(dpio, "_parse_header", append_meanwhile)
    with pytest.raises(dp.ModelFileError, match="changed while it was being read"):
        dp.load(path)


CLI = {
    "info": lambda p: ["info", p],
    "evaluate": lambda p: ["evaluate", p, "xor"],
    "predict": lambda p: ["predict", p, "xor"],
    "train --resume": lambda p: ["train", "--data", "xor", "--layers", "2,3,2", "--epochs", "3", "--progress", "none",
                                 "--resume", p],
}


def test_the_command_line_refuses_every_hostile_file_with_one_line(valid, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("DELTAPROP_DEBUG", raising=False)
    marker = tmp_path / "executed"
    files = hostile_files(valid, marker)
    for name, data in files.items():
        Path("hostile.safetensors").write_bytes(data)
        for command, argv in CLI.items():
            rc = main(argv("hostile.safetensors"))
            out, err = capsys.readouterr()
            if name in VALID_MODELS and command not in RESUME:
                assert rc in ((0, 2) if name == "gzip bomb as a tensor body" else (0,)), (name, command, err)
                assert "Traceback" not in out + err
                continue
            assert rc == 2, (name, command, out, err)
            assert err.startswith("deltaprop: error: ") and err.count("\n") == 1, (name, command, err)
            assert "Traceback" not in out + err and "hostile.safetensors" in err, (name, command, err)
    assert not marker.exists()


def test_the_console_script_refuses_a_pickle_without_a_traceback(tmp_path):
    import subprocess
    import sys

    marker = tmp_path / "executed"
    (tmp_path / "m.safetensors").write_bytes(pickle.dumps(MkdirOnUnpickle(marker)))
    env = {k: v for k, v in os.environ.items() if k != "DELTAPROP_DEBUG"}
    proc = subprocess.run([sys.executable, "-m", "deltaprop", "info", "m.safetensors"], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2 and proc.stderr.startswith("deltaprop: error: ") and "pickle" in proc.stderr
    assert "Traceback" not in proc.stderr and proc.stderr.count("\n") == 1
    assert not marker.exists()


def test_the_compressed_payloads_really_are_bombs():
    """Calibration: the bombs above inflate to far more than the memory bound."""
    d = zlib.decompressobj(31)
    inflated = sum(len(d.decompress(chunk, 2**24)) for chunk in [gzip_bomb()[:200_000]])
    assert inflated >= 16 * 2**20 > MAX_PEAK_BYTES
    with zipfile.ZipFile(io.BytesIO(zip_bomb())) as zf:
        assert zf.getinfo("archive/data.pkl").file_size == 64 * 2**20
