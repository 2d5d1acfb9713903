"""The command line on data larger than memory and on MPI: .npy pairs and .npz members memory-mapped,
Parquet read by row groups, ``mpiexec -n 2 deltaprop train … --distributed`` (rank 0 writes)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import deltaprop as dp
from deltaprop.cli import main
from deltaprop.datasets.large import ParquetRowGroups, open_npz
from deltaprop.io import load

MPIEXEC = Path(sys.executable).parent / "mpiexec"
SRC = str(Path(__file__).parents[1] / "src")


def data(n: int = 600) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    X = rng.normal(size=(n, 5))
    return X, (X[:, 0] + X[:, 1] > 0).astype(np.int64) + (X[:, 2] > 0.8)


ARGS = ["--layers", "5,8,3", "--epochs", "3", "--batch-size", "32", "--progress", "none", "--dtype", "float64"]


def train(capsys, *argv: str) -> str:
    assert main(["train", *argv, *ARGS]) == 0
    return capsys.readouterr().out


def reference() -> dp.Sequential:
    """What ``deltaprop train`` does with these flags, written out."""
    X, y = data()
    model = dp.mlp([5, 8, 3], activation="relu", output_activation="softmax", seed=0, dtype="float64")
    model.fit(X, y, optimizer="adam", epochs=3, batch_size=32, metrics=["accuracy"], seed=0)
    return model


def weights_equal(path: Path, model: dp.Sequential, atol: float = 0.0) -> None:
    saved = load(path).get_weights()
    for key, w in model.get_weights().items():
        np.testing.assert_allclose(saved[key], w, rtol=0, atol=atol)


def test_npy_pairs_and_mapped_npz_members_train_as_arrays(tmp_path: Path, capsys) -> None:
    X, y = data()
    np.save(tmp_path / "train_X.npy", X)
    np.save(tmp_path / "train_y.npy", y)
    np.save(tmp_path / "labels.npy", y)
    np.savez(tmp_path / "stored.npz", X=X, y=y)
    np.savez_compressed(tmp_path / "packed.npz", X=X, y=y)
    members = open_npz(tmp_path / "stored.npz")
    assert isinstance(members["X"], np.memmap) and isinstance(members["y"], np.memmap)
    np.testing.assert_array_equal(members["X"], X)
    assert not isinstance(open_npz(tmp_path / "packed.npz")["X"], np.memmap)
    model = reference()
    for spec in ([str(tmp_path / "train_X.npy")], [str(tmp_path / "train_X.npy"), "--target",
                                                    str(tmp_path / "labels.npy")],
                 [str(tmp_path / "stored.npz")], [str(tmp_path / "packed.npz")]):
        out = tmp_path / "m.safetensors"
        text = train(capsys, "--data", *spec, "--out", str(out))
        assert "600 training samples, 5 features, 3 classes" in text
        weights_equal(out, model)
    assert main(["train", "--data", str(tmp_path / "labels.npy"), *ARGS]) != 0
    assert "--target y.npy" in capsys.readouterr().err


def test_parquet_is_read_by_row_groups(tmp_path: Path, capsys, monkeypatch) -> None:
    import pandas as pd

    from deltaprop.cli import config

    monkeypatch.setattr(config, "memory_budget", lambda: 0)  # as if the file were larger than memory
    X, y = data()
    frame = pd.DataFrame(X, columns=[f"f{j}" for j in range(5)])
    frame["note"] = "x"  # not numeric: not a feature
    frame["kind"] = np.array(["ant", "bee", "cat"])[y]
    frame.to_parquet(tmp_path / "d.parquet", row_group_size=128)
    groups = ParquetRowGroups(tmp_path / "d.parquet", "kind")
    assert len(groups) == 5 and groups.classes == ["ant", "bee", "cat"] and groups.feature_names[-1] == "f4"
    np.testing.assert_array_equal(groups[1][0], X[128:256])
    np.testing.assert_array_equal(groups[4][1], y[512:])
    out = tmp_path / "m.safetensors"
    text = train(capsys, "--data", str(tmp_path / "d.parquet"), "--target", "kind", "--out", str(out))
    assert "600 training samples, 5 features, 3 classes" in text
    model = load(out)
    assert main(["evaluate", str(out), str(tmp_path / "d.parquet"), "--json"]) == 0
    import json

    got = json.loads(capsys.readouterr().out)
    expected = model.evaluate(X, y, metrics=["accuracy"])
    assert got["n"] == 600
    assert got["accuracy"] == expected["accuracy"]
    assert got["loss"] == pytest.approx(expected["loss"], rel=1e-12)
    assert main(["predict", str(out), str(tmp_path / "d.parquet")]) == 0
    lines = capsys.readouterr().out.split()
    assert lines[0] == "prediction" and len(lines) == 601
    assert lines[1:] == [["ant", "bee", "cat"][k] for k in model.predict_classes(X)]


def mpiexec(*argv: str, cwd: Path) -> subprocess.CompletedProcess:
    assert MPIEXEC.exists(), f"{MPIEXEC} is missing: pip install 'deltaprop[mpi]' brings mpiexec (MPICH)"
    env = dict(os.environ, PYTHONPATH=SRC, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1")
    return subprocess.run([str(MPIEXEC), "-n", "2", sys.executable, "-m", "deltaprop", *argv], cwd=cwd,
                          capture_output=True, text=True, timeout=120, env=env)


def test_mpiexec_train_distributed(tmp_path: Path) -> None:
    X, y = data()
    np.save(tmp_path / "X.npy", X)
    np.save(tmp_path / "y.npy", y)
    done = mpiexec("train", "--data", "X.npy", "--target", "y.npy", "--distributed", "--out", "m.safetensors",
                   "--history", "h.json", "--checkpoint", "c.ckpt", *ARGS, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.count("training samples") == 1  # rank 0 alone prints
    assert done.stdout.count("saved the model") == 1
    weights_equal(tmp_path / "m.safetensors", reference(), atol=1e-12)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["X.npy", "c.ckpt", "h.json", "m.safetensors", "y.npy"]
    # each rank its own shard: {rank} in the file name
    np.savez(tmp_path / "part0.npz", X=X[:300], y=y[:300])
    np.savez(tmp_path / "part1.npz", X=X[300:], y=y[300:])
    done = mpiexec("train", "--data", "part{rank}.npz", "--distributed", "--out", "s.safetensors",
                   *ARGS, "--epochs", "30", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    model = load(tmp_path / "s.safetensors")
    assert model.evaluate(X, y, metrics=["accuracy"])["accuracy"] > 0.75
    # scaling each shard by its own statistics would give the ranks different inputs: refused, on every rank
    done = mpiexec("train", "--data", "part{rank}.npz", "--distributed", "--standardize", *ARGS, cwd=tmp_path)
    assert done.returncode == 2 and "standardise the shards beforehand" in done.stderr


def test_a_rank_without_its_shard_ends_the_job(tmp_path: Path) -> None:
    X, y = data()
    np.savez(tmp_path / "part0.npz", X=X, y=y)  # part1.npz is missing: rank 1 fails before training
    done = mpiexec("train", "--data", "part{rank}.npz", "--distributed", *ARGS, cwd=tmp_path)
    assert done.returncode == 2
    assert "rank 1 of 2 failed: FileNotFoundError: data: no such file or folder 'part1.npz'" in done.stderr
