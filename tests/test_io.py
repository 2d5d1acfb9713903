"""Model files: save → load is bitwise exact, the layout is torch-compatible, writes are atomic, and
every kind of damaged or foreign file is refused with a ModelFileError that says what is wrong."""

from __future__ import annotations

import json
import os
import pickle
import struct

import numpy as np
import pytest

import deltaprop as dp
from _nets import ACTIVATIONS
from deltaprop import io as dpio


def net(hidden: str, *, dtype: str = "float32", seed: int = 0) -> dp.Sequential:
    """4 → 6 → (hidden act) → Dropout → 3 → softmax, with non-trivial biases."""
    rng = np.random.default_rng(seed)
    return dp.Sequential([
        dp.Dense(4, 6, bias_init=rng.normal(size=6), seed=seed), ACTIVATIONS[hidden](), dp.Dropout(0.3, seed=seed),
        dp.Dense(6, 3, bias_init=rng.normal(size=3), seed=seed + 1), dp.Softmax(),
    ], dtype=dtype)


def header_of(data: bytes) -> tuple[dict, bytes]:
    (n,) = struct.unpack("<Q", data[:8])
    return json.loads(data[8:8 + n]), data[8 + n:]


def pack(header: dict, body: bytes) -> bytes:
    h = json.dumps(header).encode()
    return struct.pack("<Q", len(h)) + h + body


@pytest.fixture
def saved(tmp_path):
    """A small trained float64 model written to disk, and its bytes."""
    model = net("tanh", dtype="float64")
    X = np.random.default_rng(1).normal(size=(20, 4))
    model.fit(X, np.arange(20) % 3, epochs=3, batch_size=8, seed=0)
    path = tmp_path / "model.safetensors"
    model.save(path)
    return model, path, path.read_bytes()


# -- round trips --------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("hidden", sorted(ACTIVATIONS))
def test_save_load_predictions_are_bitwise_identical(tmp_path, hidden, dtype):
    model = net(hidden, dtype=dtype)
    path = tmp_path / "m.safetensors"
    model.save(path)
    loaded = dp.load(path)
    X = np.random.default_rng(2).normal(size=(11, 4)) * 3
    assert loaded.dtype == np.dtype(dtype)
    assert [layer.get_config() for layer in loaded.layers] == [layer.get_config() for layer in model.layers]
    np.testing.assert_array_equal(loaded.predict(X), model.predict(X))
    for key, w in model.parameters().items():
        assert loaded.parameters()[key].tobytes() == w.tobytes()


def test_loss_optimizer_schedule_and_training_facts_are_kept(tmp_path):
    model = dp.mlp([3, 4, 1], output_activation="sigmoid", seed=0, dtype="float64")
    X = np.random.default_rng(0).normal(size=(10, 3))
    opt = dp.SGD(lr=0.05, momentum=0.9, nesterov=True, schedule=dp.StepLR(2, gamma=0.5))
    model.fit(X, (X[:, 0] > 0).astype(float), optimizer=opt, loss=dp.Huber(0.3), epochs=4)
    path = tmp_path / "m.safetensors"
    model.save(path, metadata={"note": "huber on a sigmoid", "classes": [0, 1]})
    loaded = dp.load(path)
    assert loaded.loss.get_config() == {"type": "huber", "reduction": "mean", "delta": 0.3}
    assert loaded.optimizer.get_config() == opt.get_config()
    meta = dpio.read_metadata(path)
    assert meta["format_version"] == dpio.FORMAT_VERSION and meta["kind"] == "model"
    assert meta["training"]["epochs"] == 4
    assert meta["training"]["final"]["loss"] == model.history["loss"][-1]
    assert meta["training"]["deltaprop_version"] == dp.__version__
    assert meta["user"] == {"note": "huber on a sigmoid", "classes": [0, 1]}


def test_torch_reads_the_weights_under_nn_linear_names(saved):
    import torch
    from safetensors.torch import load_file

    model, path, _ = saved
    state = load_file(path)
    assert sorted(state) == ["0.bias", "0.weight", "3.bias", "3.weight"]
    tm = torch.nn.Sequential(torch.nn.Linear(4, 6), torch.nn.Tanh(), torch.nn.Dropout(0.3), torch.nn.Linear(6, 3),
                             torch.nn.Softmax(dim=-1)).double().eval()
    tm.load_state_dict(state)  # strict: the names and shapes are exactly nn.Linear's
    X = np.random.default_rng(3).normal(size=(5, 4))
    with torch.no_grad():
        out = tm(torch.from_numpy(X)).numpy()
    np.testing.assert_allclose(out, model.predict(X), rtol=0, atol=1e-12)


def test_file_is_plain_safetensors_with_string_metadata(saved):
    _, _, data = saved
    header, _ = header_of(data)
    meta = header["__metadata__"]
    assert meta["format"] == "deltaprop" and meta["format_version"] == "1"
    assert json.loads(meta["architecture"])[0] == {"type": "Dense", "n_in": 4, "n_out": 6}
    assert b"pickle" not in data and b"\x80\x04\x95" not in data


# -- atomic writes ------------------------------------------------------------------------------
def test_save_leaves_no_temporary_files(tmp_path):
    net("relu").save(tmp_path / "a.safetensors")
    net("relu", seed=1).save(tmp_path / "a.safetensors")  # overwrite
    assert sorted(os.listdir(tmp_path)) == ["a.safetensors"]


def test_failed_write_keeps_the_old_file_and_removes_the_temporary(tmp_path, monkeypatch):
    path = tmp_path / "a.safetensors"
    net("relu").save(path)
    before = path.read_bytes()

    def broken_replace(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(OSError, match="disk full"):
        net("relu", seed=5).save(path)
    assert path.read_bytes() == before
    assert sorted(os.listdir(tmp_path)) == ["a.safetensors"]


def test_save_into_missing_folder_says_so(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist; create it first"):
        net("relu").save(tmp_path / "nope" / "a.safetensors")


def test_save_rejects_non_plain_user_metadata(tmp_path):
    with pytest.raises(TypeError, match="only plain data"):
        net("relu").save(tmp_path / "a.safetensors", metadata={"f": object()})
    assert os.listdir(tmp_path) == []


# -- damaged and foreign files --------------------------------------------------------------------
def load_bytes(tmp_path, data: bytes, name: str = "bad.safetensors"):
    p = tmp_path / name
    p.write_bytes(data)
    return dp.load(p)


def test_truncated_file(saved, tmp_path):
    _, _, data = saved
    with pytest.raises(dp.ModelFileError, match="truncated"):
        load_bytes(tmp_path, data[:-5])
    with pytest.raises(dp.ModelFileError, match="truncated: it has 3 bytes"):
        load_bytes(tmp_path, data[:3])
    with pytest.raises(dp.ModelFileError, match="truncated or has a bad header length"):
        load_bytes(tmp_path, data[:40])


def test_bad_header_length(saved, tmp_path):
    _, _, data = saved
    with pytest.raises(dp.ModelFileError, match="bad header length"):
        load_bytes(tmp_path, struct.pack("<Q", 2**40) + data[8:])


def test_invalid_json_and_utf8(saved, tmp_path):
    _, _, data = saved
    (n,) = struct.unpack("<Q", data[:8])
    broken = data[:8] + data[8:8 + n].replace(b'"dtype"', b'"dtype" ', 1)[:n - 1] + b"," + data[8 + n:]
    with pytest.raises(dp.ModelFileError, match="not valid JSON"):
        load_bytes(tmp_path, broken)
    with pytest.raises(dp.ModelFileError, match="not valid UTF-8"):
        load_bytes(tmp_path, data[:8] + b"{\xff" + data[10:])
    with pytest.raises(dp.ModelFileError, match="JSON object starting"):
        load_bytes(tmp_path, data[:8] + b"[" + data[9:])


def test_duplicate_json_keys_are_refused(saved, tmp_path):
    _, _, data = saved
    header, body = header_of(data)
    text = json.dumps(header)
    dup = text.replace('{"__metadata__": {', '{"__metadata__": {"kind": "model", ', 1)
    h = dup.encode()
    with pytest.raises(dp.ModelFileError, match="duplicate key 'kind'"):
        load_bytes(tmp_path, struct.pack("<Q", len(h)) + h + body)


def shift(header: dict, name: str, by: int) -> None:
    header[name]["data_offsets"] = [o + by for o in header[name]["data_offsets"]]


@pytest.mark.parametrize("change, message", [
    (lambda h: shift(h, "0.bias", 8), "gap of 8 bytes before tensor '0.bias'"),
    (lambda h: shift(h, "3.weight", -8), "tensor '3.weight' .* overlaps the tensor before it"),
    (lambda h: h["0.bias"].__setitem__("data_offsets", [0, 56]), "needs 48 bytes, but its data_offsets span 56"),
    (lambda h: h["0.bias"].__setitem__("data_offsets", [5, 3]), "invalid data_offsets"),
    (lambda h: h["0.bias"].__setitem__("shape", [3, 2]), "shape mismatch for '0.bias'"),
    (lambda h: h["0.weight"].__setitem__("shape", [4, 6]), "shape mismatch for '0.weight'"),
    (lambda h: h["0.bias"].__setitem__("shape", [-6]), "invalid shape"),
    (lambda h: h["0.bias"].__setitem__("shape", [1] * 8 + [6]), "invalid shape .* at most 8"),
    (lambda h: h["0.bias"].__setitem__("dtype", "I64"), "unknown dtype 'I64'"),
    (lambda h: h["0.bias"].__setitem__("dtype", "F32"), "needs 24 bytes"),
    (lambda h: h["0.bias"].__setitem__("extra", 1), "exactly 'dtype', 'shape' and 'data_offsets'"),
    (lambda h: h.__setitem__("__metadata__", {"format": 1}), "map strings to strings"),
])
def test_inconsistent_tensor_table(saved, tmp_path, change, message):
    _, _, data = saved
    header, body = header_of(data)
    change(header)
    with pytest.raises(dp.ModelFileError, match=message):
        load_bytes(tmp_path, pack(header, body))


def test_gap_between_tensors(saved, tmp_path):
    _, _, data = saved
    header, body = header_of(data)
    first = min((k for k in header if k != "__metadata__"), key=lambda k: header[k]["data_offsets"][0])
    for k, spec in header.items():  # shift every tensor but the first 8 bytes further on
        if k not in ("__metadata__", first):
            spec["data_offsets"] = [o + 8 for o in spec["data_offsets"]]
    end = header[first]["data_offsets"][1]
    with pytest.raises(dp.ModelFileError, match="gap of 8 bytes"):
        load_bytes(tmp_path, pack(header, body[:end] + bytes(8) + body[end:]))


def test_trailing_bytes(saved, tmp_path):
    _, _, data = saved
    with pytest.raises(dp.ModelFileError, match="3 trailing bytes"):
        load_bytes(tmp_path, data + b"abc")


def test_nan_weights(saved, tmp_path):
    _, _, data = saved
    header, body = header_of(data)
    lo, _ = header["3.weight"]["data_offsets"]
    body = body[:lo] + struct.pack("<d", float("nan")) + body[lo + 8:]
    with pytest.raises(dp.ModelFileError, match=r"'3\.weight' holds 1 NaN or infinite"):
        load_bytes(tmp_path, pack(header, body))


@pytest.mark.parametrize("version, message", [
    ("2", "format version 2, newer than this deltaprop reads .*upgrade deltaprop"),
    ("0", "format version 0, which this deltaprop cannot read .*never a released format"),
    ("1.5", "format_version must be a positive integer, got '1.5'"),
])
def test_unreadable_format_versions_name_the_version(saved, tmp_path, version, message):
    _, _, data = saved
    header, body = header_of(data)
    header["__metadata__"]["format_version"] = version
    with pytest.raises(dp.ModelFileError, match=message):
        load_bytes(tmp_path, pack(header, body))


def test_every_readable_version_loads(saved, tmp_path):
    model, _, data = saved
    header, body = header_of(data)
    X = np.random.default_rng(0).normal(size=(3, 4))
    for version in dpio.READABLE_VERSIONS:
        header["__metadata__"]["format_version"] = str(version)
        np.testing.assert_array_equal(load_bytes(tmp_path, pack(header, body)).predict(X), model.predict(X))


def test_pickle_renamed_to_the_model_extension(saved, tmp_path):
    model, _, _ = saved
    payload = pickle.dumps(model, protocol=4)
    with pytest.raises(dp.ModelFileError, match="looks like a pickle; deltaprop never unpickles"):
        load_bytes(tmp_path, payload)


def test_plain_safetensors_without_deltaprop_metadata(tmp_path):
    from safetensors.numpy import save_file

    save_file({"0.weight": np.zeros((2, 2), np.float32)}, str(tmp_path / "w.safetensors"))
    with pytest.raises(dp.ModelFileError, match="not a deltaprop file"):
        dp.load(tmp_path / "w.safetensors")


@pytest.mark.parametrize("position, config, message", [
    (0, {"type": "os.system", "command": "rm"}, "unknown layer type 'os.system'"),
    (0, {"type": "Dense", "n_in": 4, "n_out": 6, "init": "ones"}, "must have exactly the keys n_in, n_out, type"),
    (0, {"type": "dense", "n_in": 4, "n_out": 6}, "must be spelled exactly"),
    (0, {"type": "Dense", "n_in": 4.0, "n_out": 6}, "positive int n_in and n_out"),
    (1, {"type": "LeakyReLU", "alpha": "x"}, "layer 1 config .* is invalid: LeakyReLU: alpha must be a number"),
    (1, {"type": "GELU", "approximate": "sigmoid"}, "layer 1 config .* is invalid"),
    (2, {"type": "Dropout", "p": 1.5}, "layer 2 config .* is invalid"),
    (1, {"alpha": 1.0}, "must have a 'type' name"),
    (1, [], "non-empty list of layer configs"),
])
def test_architecture_can_only_name_known_layers(saved, tmp_path, position, config, message):
    _, _, data = saved
    header, body = header_of(data)
    arch = json.loads(header["__metadata__"]["architecture"])
    arch[position] = config
    header["__metadata__"]["architecture"] = json.dumps(arch)
    with pytest.raises(dp.ModelFileError, match=message):
        load_bytes(tmp_path, pack(header, body))


def test_architecture_must_be_a_list(saved, tmp_path):
    _, _, data = saved
    header, body = header_of(data)
    header["__metadata__"]["architecture"] = '"Dense"'
    with pytest.raises(dp.ModelFileError, match="non-empty list of layer configs"):
        load_bytes(tmp_path, pack(header, body))


def test_missing_and_unexpected_tensors(saved, tmp_path):
    _, _, data = saved
    header, body = header_of(data)
    header["9.weight"] = header.pop("3.weight")
    with pytest.raises(dp.ModelFileError, match=r"tensor '3\.weight' is missing"):
        load_bytes(tmp_path, pack(header, body))
    header, body = header_of(data)
    arch = json.loads(header["__metadata__"]["architecture"])
    header["__metadata__"]["architecture"] = json.dumps([*arch[:3], {"type": "Identity"}, {"type": "Softmax"}])
    with pytest.raises(dp.ModelFileError, match="unexpected tensor"):
        load_bytes(tmp_path, pack(header, body))


def test_architecture_that_does_not_chain(saved, tmp_path):
    _, _, data = saved
    header, body = header_of(data)
    arch = json.loads(header["__metadata__"]["architecture"])
    header["__metadata__"]["architecture"] = json.dumps([arch[3], arch[1], arch[2], arch[0], arch[4]])
    header["0.weight"], header["3.weight"] = header["3.weight"], header["0.weight"]
    header["0.bias"], header["3.bias"] = header["3.bias"], header["0.bias"]
    with pytest.raises(dp.ModelFileError, match="not a valid network"):
        load_bytes(tmp_path, pack(header, body))


@pytest.mark.parametrize("key, value, message", [
    ("dtype", "float16", "'dtype' must be float32 or float64"),
    ("kind", "weights", "'kind' must be one of"),
    ("loss", '{"type": "eval"}', "loss or optimizer config is invalid"),
    ("optimizer", '{"type": "adam", "lr": -1}', "loss or optimizer config is invalid"),
    ("optimizer", "[1, 2]", "'optimizer' must be null or an object"),
    ("training", "{", "metadata 'training' is not valid JSON"),
])
def test_bad_metadata_fields(saved, tmp_path, key, value, message):
    _, _, data = saved
    header, body = header_of(data)
    header["__metadata__"][key] = value
    with pytest.raises(dp.ModelFileError, match=message):
        load_bytes(tmp_path, pack(header, body))


def test_float32_file_with_float64_tensors_is_refused(saved, tmp_path):
    _, _, data = saved
    header, body = header_of(data)
    header["__metadata__"]["dtype"] = "float32"
    with pytest.raises(dp.ModelFileError, match="is float64 but the model's dtype is float32"):
        load_bytes(tmp_path, pack(header, body))


def test_model_file_error_is_a_value_error_and_folder_is_refused(tmp_path):
    assert issubclass(dp.ModelFileError, ValueError)
    with pytest.raises(dp.ModelFileError, match="is a folder"):
        dp.load(tmp_path)
