"""Streaming sources: memory-mapped arrays of any dtype give the in-memory run bitwise; chunks
(sequences, iterables, functions, Dask arrays) cover every row once per epoch with a shuffled chunk
order and a shuffle buffer; validation, predict and evaluate stream the same way."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import deltaprop as dp
from deltaprop.train.batches import ChunkBatches, Chunks, MappedBatches, is_streamed
from deltaprop.train.stream import StreamedData


def data(n: int = 600, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 6)).astype(np.float32)
    return X, (X[:, 0] + X[:, 1] ** 2 > 0.7).astype(np.int64) + (X[:, 2] > 1)


def net(dtype: str = "float32") -> dp.Sequential:
    return dp.mlp([6, 12, 3], output_activation="softmax", seed=0, dtype=dtype)


def mapped(tmp_path: Path, name: str, a: np.ndarray) -> np.memmap:
    np.save(tmp_path / f"{name}.npy", a)
    return np.load(tmp_path / f"{name}.npy", mmap_mode="r")


def train(X, y, dtype: str = "float32", **kwargs):
    model = net(dtype)
    history = model.fit(X, y, **{"epochs": 3, "batch_size": 32, "seed": 1, "metrics": ["accuracy"], **kwargs})
    return model, history.history


def same(a: dp.Sequential, b: dp.Sequential) -> bool:
    return all(np.array_equal(a.get_weights()[k], b.get_weights()[k]) for k in a.get_weights())


@pytest.mark.parametrize("stored", ["float32", "float64", "uint8"])
def test_memory_mapped_arrays_train_bitwise_as_in_memory(tmp_path: Path, stored: str) -> None:
    X, y = data()
    if stored == "uint8":
        X = np.clip(X * 40 + 128, 0, 255)
    X = X.astype(stored)
    Xm, ym = mapped(tmp_path, "X", X), mapped(tmp_path, "y", y.astype(np.int16))
    for kwargs in ({}, {"validation_split": 0.25}, {"shuffle": False}):
        ref, h_ref = train(X.astype(np.float32), y, **kwargs)
        got, h_got = train(Xm, ym, **kwargs)
        assert same(ref, got), (stored, kwargs)
        assert h_ref == h_got


def test_a_memory_mapped_batch_is_converted_in_reused_buffers(tmp_path: Path) -> None:
    X, y = data(100)
    Xm = mapped(tmp_path, "X", X.astype(np.float64))
    model = net()
    streamed = StreamedData(model, dp.losses.get("categorical_crossentropy"), Xm, y, where="fit")
    source = streamed.source(16)
    assert isinstance(source, MappedBatches)
    order = np.random.default_rng(0).permutation(100)
    first = source.get(0, order)
    second = source.get(16, order)
    assert first.X.dtype == np.float32 and first.X.base is second.X.base  # one buffer for every batch
    np.testing.assert_array_equal(second.X, X[order[16:32]])


def test_bad_values_in_a_memory_mapped_file_are_named(tmp_path: Path) -> None:
    X, y = data(100)
    X[70, 2] = np.nan
    with pytest.raises(ValueError, match="NaN or infinite"):
        net().fit(mapped(tmp_path, "X", X), y, epochs=1, batch_size=10)
    X, y = data(100)
    y[5] = 7
    with pytest.raises(ValueError, match=r"0\.\.2"):
        net().fit(mapped(tmp_path, "X2", X), mapped(tmp_path, "y2", y), epochs=1, batch_size=10)


def test_chunks_in_order_equal_arrays_in_order() -> None:
    X, y = data()
    chunks = [(X[s:s + 70], y[s:s + 70]) for s in range(0, 600, 70)]
    ref, h_ref = train(X, y, shuffle=False)
    for source in (chunks, Chunks(chunks), Chunks(lambda: iter(chunks)), Chunks(tuple(chunks))):
        got, h_got = train(source, None, shuffle=False)
        assert same(ref, got)
        assert h_ref == h_got


def test_a_shuffled_epoch_covers_every_row_once_and_mixes_chunks() -> None:
    X, _ = data()
    ids = np.arange(600)
    chunks = Chunks([(X[s:s + 100], ids[s:s + 100]) for s in range(0, 600, 100)], shuffle_buffer=200)
    source = ChunkBatches(chunks, 600, 32, lambda Xb, yb: (Xb, yb), np.float32)
    rng = np.random.default_rng(0)
    seen = [np.asarray(b.Y) for b in source.batches(source.draw_order(rng, True))]
    assert [len(s) for s in seen] == [32] * 18 + [24]  # ceil(600/32) batches, like an array
    rows = np.concatenate(seen)
    np.testing.assert_array_equal(np.sort(rows), ids)
    assert not np.array_equal(rows, ids)
    assert len(np.unique(seen[0] // 100)) == 2  # a batch mixes the two chunks of its buffer
    again = [np.asarray(b.Y) for b in source.batches(source.draw_order(rng, True))]
    assert not np.array_equal(np.concatenate(again), rows)  # another order each epoch


def test_resume_part_way_through_a_chunked_epoch(tmp_path: Path) -> None:
    X, y = data()
    chunks = [(X[s:s + 100], y[s:s + 100]) for s in range(0, 600, 100)]
    whole, h_whole = train(chunks, None, epochs=2)
    from deltaprop.train.loop import Trainer

    model = net()
    trainer = Trainer(model, chunks, None, epochs=2, batch_size=32, seed=1, metrics=["accuracy"],
                      checkpoint=tmp_path / "c.ckpt")
    trainer.start()
    for _ in range(25):  # epoch 1 and 6 batches of epoch 2
        trainer.step()
        if trainer.epoch_finished:
            trainer.end_epoch()
    trainer._save(trainer.epoch, trainer._current.in_progress(32))
    resumed, h_resumed = train(chunks, None, epochs=2, resume=tmp_path / "c.ckpt")
    assert same(whole, resumed)
    np.testing.assert_allclose(h_whole["loss"], h_resumed["loss"], rtol=1e-6)


def test_dask_arrays_train_like_the_same_chunks() -> None:
    da = pytest.importorskip("dask.array")
    X, y = data()
    ref, h_ref = train([(X[s:s + 150], y[s:s + 150]) for s in range(0, 600, 150)], None)
    got, h_got = train(da.from_array(X, chunks=(150, 3)), da.from_array(y, chunks=150))
    assert same(ref, got)
    assert h_ref == h_got
    assert is_streamed(da.from_array(X))


def test_validation_predict_and_evaluate_stream(tmp_path: Path) -> None:
    X, y = data()
    Xm, ym = mapped(tmp_path, "X", X), mapped(tmp_path, "y", y)
    chunks = [(X[:200], y[:200]), (X[200:400], y[200:400])]
    ref, h_ref = train(chunks, None, validation_data=(X[400:], y[400:]))  # in memory: evaluate()
    got, h_got = train(chunks, None, validation_data=(Xm[400:], ym[400:]))  # streamed
    assert same(ref, got)
    for key in ("val_loss", "val_accuracy"):
        np.testing.assert_allclose(h_got[key], h_ref[key], rtol=1e-6)
    np.testing.assert_allclose(got.predict(Xm), got.predict(X), rtol=1e-6, atol=1e-7)
    for metrics in (["accuracy", "mse"], ["r2"]):
        np.testing.assert_allclose(list(got.evaluate(Xm, ym, metrics=metrics).values()),
                                   list(got.evaluate(X, y, metrics=metrics).values()), rtol=1e-6)
    chunked = got.evaluate([(X[:250], y[:250]), (X[250:], y[250:])], None, metrics=["accuracy"])
    assert chunked["accuracy"] == got.evaluate(X, y, metrics=["accuracy"])["accuracy"]


def test_clear_errors_for_chunks() -> None:
    X, y = data()
    with pytest.raises(TypeError, match="read only once"):
        net().fit(((X[s:s + 100], y[s:s + 100]) for s in range(0, 600, 100)), None)
    with pytest.raises(ValueError, match="100 samples but y has 90"):
        net().fit([(X[:100], y[:90])], None)
    with pytest.raises(ValueError, match="validation_data"):
        net().fit([(X, y)], None, validation_split=0.2)
    with pytest.raises(ValueError, match="sample_weight"):
        net().fit([(X, y)], None, sample_weight=np.ones(600))


def test_arrays_in_memory_with_memory_mapped_validation(tmp_path: Path) -> None:
    X, y = data()
    ref, h_ref = train(X[:400], y[:400], validation_data=(X[400:], y[400:]))
    got, h_got = train(X[:400], y[:400], validation_data=(mapped(tmp_path, "Xv", X[400:]), y[400:]))
    assert same(ref, got)
    np.testing.assert_allclose(h_got["val_loss"], h_ref["val_loss"], rtol=1e-6)
    assert h_got["val_accuracy"] == h_ref["val_accuracy"]
