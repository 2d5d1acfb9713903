"""Fuzzing the model-file and checkpoint loaders: valid files mutated at the byte level (flips, insertions,
deletions, truncation, the header length) and at the JSON level (numbers in data_offsets and shapes, dtype
strings, metadata values, the architecture, the training state; keys removed) either load — and the model
then predicts an output of the right shape — or are refused with ``ModelFileError``; ``fit(resume=...)``
refuses with an error that names the checkpoint. Never another exception type, never a hang (a timer and
hypothesis' deadline), never a large allocation (tracemalloc).

CI runs ``FUZZ_EXAMPLES`` examples (default 1000); set DELTAPROP_FUZZ_EXAMPLES for a longer local run."""

from __future__ import annotations

import json
import math
import os
import signal
import struct
import tempfile
import tracemalloc
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

import deltaprop as dp
from deltaprop.checkpoint import Checkpoint

pytestmark = pytest.mark.skipif(not hasattr(signal, "SIGALRM"), reason="the hang timer uses SIGALRM")

FUZZ_EXAMPLES = int(os.environ.get("DELTAPROP_FUZZ_EXAMPLES", "1000"))
MAX_PEAK_BYTES = 20 * 2**20
HANG_SECONDS = 20

X = np.random.default_rng(0).normal(size=(16, 3))
Y = np.arange(16) % 3


def make_model() -> dp.Sequential:
    return dp.Sequential([dp.Dense(3, 5, seed=0), dp.ELU(0.5), dp.Dropout(0.2, seed=1), dp.Dense(5, 3, seed=2),
                          dp.Softmax()])


def run_args(**extra: Any) -> dict[str, Any]:
    return dict(optimizer=dp.Adam(lr=0.01), lr_schedule=dp.StepLR(2, gamma=0.5), epochs=3, batch_size=6, seed=0,
                metrics=["accuracy"], callbacks=[dp.EarlyStopping("loss", patience=5)], **extra)


class _StopAt(dp.Callback):
    """Raises SIGINT in this thread at the start of batch 1 of epoch 1: a checkpoint written mid-epoch."""

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch

    def on_batch_begin(self, batch, logs=None):
        if (self.epoch, batch) == (1, 1):
            signal.raise_signal(signal.SIGINT)


@cache
def seeds() -> dict[str, bytes]:
    """A float32 model file, a checkpoint at an epoch's end and one written in the middle of an epoch."""
    folder = Path(tempfile.mkdtemp(prefix="deltaprop-fuzz-"))
    model = make_model()
    model.fit(X, Y, **run_args(checkpoint=folder / "epoch.safetensors"))
    model.save(folder / "model.safetensors", metadata={"classes": ["a", "b", "c"]})
    args = run_args(checkpoint=folder / "mid.safetensors")
    args["callbacks"].append(_StopAt())
    with pytest.raises(dp.TrainingInterrupted):
        make_model().fit(X, Y, **args)
    return {name: (folder / f"{name}.safetensors").read_bytes() for name in ("model", "epoch", "mid")}


# -- mutations --------------------------------------------------------------------------------------------
JSON = object()  # a path step into a metadata string that holds JSON
DELETE = object()


def split(data: bytes) -> tuple[dict, bytes]:
    (n,) = struct.unpack("<Q", data[:8])
    return json.loads(data[8:8 + n]), data[8 + n:]


def pack(header: Any, body: bytes) -> bytes:
    h = json.dumps(header).encode()
    return struct.pack("<Q", len(h)) + h + body


def paths(obj: Any, path: tuple = ()) -> Iterator[tuple]:
    """Every place in the header, including inside the JSON held by metadata strings."""
    if path:
        yield path
    if isinstance(obj, dict):
        for k, v in obj.items():
            yield from paths(v, (*path, k))
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            yield from paths(v, (*path, i))
    elif isinstance(obj, str) and obj[:1] in ("[", "{"):
        try:
            inner = json.loads(obj)
        except ValueError:  # broken by an earlier mutation
            return
        yield from paths(inner, (*path, JSON))


def get(obj: Any, path: tuple) -> Any:
    for step in path:
        obj = json.loads(obj) if step is JSON else obj[step]
    return obj


def replace(obj: Any, path: tuple, new: Any) -> Any:
    if not path:
        return new
    head, rest = path[0], path[1:]
    if head is JSON:
        return json.dumps(replace(json.loads(obj), rest, new))
    obj = dict(obj) if isinstance(obj, dict) else list(obj)
    if not rest and new is DELETE:
        del obj[head]
    elif rest and rest[0] is JSON and new is DELETE and len(rest) == 1:
        obj[head] = "{}"
    else:
        obj[head] = replace(obj[head], rest, new)
    return obj


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-2**70, 2**70) | st.floats() | st.text(max_size=8)
    | st.sampled_from(["F32", "F64", "F16", "BF16", "I64", "U8", "Dense", "ReLU", "adam", "float32", "float64",
                       "model", "checkpoint", "deltaprop", "PCG64", "__tensor__"]),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=6)


def nudged(value: Any) -> st.SearchStrategy:
    """Values near ``value``: the edits most likely to slip past a check."""
    if isinstance(value, bool):
        return st.just(not value)
    if isinstance(value, int):
        return st.sampled_from([value + 1, value - 1, value * 2, value // 2, 0, -1, -value, 2**31, 2**63, 2**64,
                                10**30]) | st.integers(-8, 8).map(lambda d: value + d)
    if isinstance(value, float):
        return st.sampled_from([0.0, -value, value * 1e300, float("nan"), float("inf"), 1e-320,
                                int(value) if math.isfinite(value) else 0])
    if isinstance(value, str):
        return st.sampled_from(["", value[:-1], value + "x", value.upper(), "F16", "I64", "float16"])
    if isinstance(value, list):
        return st.sampled_from([[], value[:-1], value + value[-1:], value[::-1], [value]])
    return st.just({})


@st.composite
def json_edit(draw: st.DrawFn, data: bytes) -> bytes:
    header, body = split(data)
    places = list(paths(header))
    if draw(st.integers(0, 4)) < 4:  # mostly a number, string or null deep inside, now and then a whole object
        places = [p for p in places if not isinstance(get(header, p), (dict, list))] or places
    if not places:
        return draw(byte_edit(data))
    path = draw(st.sampled_from(places))
    new = draw(st.just(DELETE) | nudged(get(header, path)) | json_values)
    return pack(replace(header, path, new), body)


@st.composite
def byte_edit(draw: st.DrawFn, data: bytes, in_body: bool = False) -> bytes:
    n = len(data)
    (header_len,) = struct.unpack("<Q", data[:8]) if n >= 8 else (0,)
    body = min(n, 8 + header_len)
    where = (st.integers(body, max(body, n - 1)) if in_body and body < n
             else st.integers(8, max(8, body - 1)) | st.integers(0, max(0, n - 1)))
    pos = min(draw(where), max(0, n - 1))
    op = draw(st.sampled_from(["flip", "insert", "delete", "truncate", "length"]))
    if op == "flip" and n:
        return data[:pos] + bytes([data[pos] ^ draw(st.integers(1, 255))]) + data[pos + 1:]
    if op == "insert":
        return data[:pos] + draw(st.binary(min_size=1, max_size=16) | st.sampled_from([b"{", b"}", b",", b'"', b"0"])) \
            + data[pos:]
    if op == "delete":
        return data[:pos] + data[pos + draw(st.integers(1, 16)):]
    if op == "truncate":
        return data[:pos]
    length = draw(st.sampled_from([header_len + 1, header_len - 1, 0, n, n - 8, 2**63, 2**64 - 1, 100_000_001])
                  | st.integers(0, 2**64 - 1))
    return struct.pack("<Q", length % 2**64) + data[8:]


@st.composite
def mutated(draw: st.DrawFn) -> tuple[str, bytes]:
    name = draw(st.sampled_from(["model", "epoch", "mid"]))
    data = seeds()[name]
    for _ in range(draw(st.integers(1, 3))):
        try:
            split(data)
            sound = True
        except (ValueError, struct.error, UnicodeDecodeError):
            sound = False
        how = draw(st.sampled_from(["json", "json", "json", "body", "bytes"]))
        data = draw(json_edit(data) if sound and how == "json" else byte_edit(data, in_body=how == "body"))
    return name, data


# -- what must hold ----------------------------------------------------------------------------------------
class HangError(Exception):
    pass


def _alarm(signum, frame):
    raise HangError(f"a loader ran for more than {HANG_SECONDS} s")


def check(data: bytes, folder: Path) -> None:
    path = folder / "fuzzed.safetensors"
    path.write_bytes(data)
    try:
        model = dp.load(path)
    except dp.ModelFileError:
        event("load: refused")
    else:
        event("load: loaded")
        with np.errstate(all="ignore"):  # fuzzed weights may be finite but huge: the output may overflow
            out = model.predict(X[:4, :model.layers[0].n_in] if model.layers[0].n_in <= 3 else
                                np.zeros((4, model.layers[0].n_in), model.dtype))
        n_out = [layer for layer in model.layers if isinstance(layer, dp.Dense)][-1].n_out
        assert out.shape == (4, n_out) and out.dtype == model.dtype
        settings_ = [v for layer in model.layers for v in layer.get_config().values() if isinstance(v, float)]
        if all(np.abs(w).max() < 1e3 for w in model.parameters().values()) and all(abs(v) < 1e3 for v in settings_):
            assert np.isfinite(out).all()  # moderate weights and layer settings (e.g. ELU alpha) give finite output
    try:
        Checkpoint(path)
    except dp.ModelFileError:
        return
    try:
        make_model().fit(X, Y, **run_args(resume=path))
        event("resume: trained")
    except dp.ModelFileError:
        event("resume: refused")
    except ValueError as err:  # the same-run checks: a changed optimizer, loss, data size ... named as such
        assert str(err).startswith(f"resume {str(path)!r}: "), repr(err)
        event("resume: not the same run")
    except FloatingPointError as err:  # a valid checkpoint whose training state diverges (e.g. a huge lr)
        assert str(err).startswith("fit: ") and "training diverged" in str(err), repr(err)
        event("resume: diverged")


@pytest.mark.filterwarnings("ignore:overflow encountered:RuntimeWarning", "ignore:invalid value:RuntimeWarning")
@settings(max_examples=FUZZ_EXAMPLES, deadline=5000, suppress_health_check=[HealthCheck.too_slow,
                                                                             HealthCheck.data_too_large])
@given(case=mutated())
def test_mutated_files_load_or_raise_model_file_error(case):
    _, data = case
    with tempfile.TemporaryDirectory() as folder:
        old = signal.signal(signal.SIGALRM, _alarm)
        signal.setitimer(signal.ITIMER_REAL, HANG_SECONDS)
        tracemalloc.start()
        try:
            check(data, Path(folder))
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, old)
    assert peak < MAX_PEAK_BYTES, f"peak allocation {peak:,} bytes"


def test_the_seeds_are_valid_and_resume():
    """The starting points load and resume, so a mutation that changes nothing passes for the right reason."""
    with tempfile.TemporaryDirectory() as folder:
        for name, data in seeds().items():
            path = Path(folder) / f"{name}.safetensors"
            path.write_bytes(data)
            assert dp.load(path).predict(X).shape == (16, 3)
            if name != "model":
                assert (Checkpoint(path).in_progress is not None) == (name == "mid")
                make_model().fit(X, Y, **run_args(resume=path))


# -- regressions the fuzzer found ------------------------------------------------------------------------
def edited_checkpoint(folder: Path, edit) -> Path:
    """The epoch-end seed checkpoint with ``edit(state, tensors)`` applied to its training state (JSON) and raw
    tensor bytes (a dict name -> bytearray)."""
    header, body = split(seeds()["epoch"])
    state = json.loads(header["__metadata__"]["checkpoint"])
    tensors = {k: bytearray(body[v["data_offsets"][0]:v["data_offsets"][1]]) for k, v in header.items()
               if k != "__metadata__"}
    edit(state, tensors)
    header["__metadata__"]["checkpoint"] = json.dumps(state)
    for k, raw in tensors.items():
        lo, hi = header[k]["data_offsets"]
        body = body[:lo] + bytes(raw) + body[hi:]
    path = folder / "edited.safetensors"
    path.write_bytes(pack(header, body))
    return path


def negative_second_moment(state, tensors):
    tensors["optimizer.state.0.W.v"][:4] = struct.pack("<f", -1.0)


def swapped_best_weights(state, tensors):
    best = state["callbacks"][0]["state"]["best_weights"]
    best["0.W"], best["0.b"] = best["0.b"], best["0.W"]  # each tensor still referred to once, shapes swapped


@pytest.mark.parametrize("edit, message", [
    (lambda s, t: s.__setitem__("dropout_rngs", None), "'dropout_rngs' must be an object"),  # was AttributeError
    (lambda s, t: s["callbacks"][0]["state"].pop("best_epoch"),  # was KeyError from EarlyStopping
     r"the saved state of callback 0 \(EarlyStopping\) is invalid \(KeyError\('best_epoch'\)\)"),
    (negative_second_moment, "optimizer state '0.W' has a negative running mean of squared gradients"),  # was NaN
    (lambda s, t: s["optimizer"].__setitem__("lr", 0), "a positive finite 'lr'"),
    (lambda s, t: s["optimizer"].__setitem__("t", -1), "a step count 't'"),
    (lambda s, t: s["optimizer"]["schedule"].__setitem__("epoch", -2), "the schedule state must hold numbers"),
    (swapped_best_weights, "the best weights of callback 0 must map parameter names to arrays of their shapes"),
    (lambda s, t: s.__setitem__("rng", []), "'rng' must hold the generator states"),
    (lambda s, t: s["history"]["history"].__setitem__("loss", ["x"]), "'history' must hold a list of epochs"),
])
def test_damaged_training_state_is_refused_before_anything_changes(edit, message, tmp_path):
    path = edited_checkpoint(tmp_path, edit)
    model = make_model()
    opt = dp.Adam(lr=0.01)
    before = {k: v.copy() for k, v in model.parameters().items()}
    with pytest.raises(dp.ModelFileError, match=message):
        model.fit(X, Y, **{**run_args(resume=path), "optimizer": opt})
    assert all(np.array_equal(before[k], v) for k, v in model.parameters().items())  # weights unchanged
    assert opt.t == 0 and not opt.state  # the optimizer too
    dp.load(path)  # the model part of the file is still sound
