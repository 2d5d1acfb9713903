"""Data-parallel training on MPI: ``mpiexec -n 2`` equals the single-process run (float64, 1e-12),
every rank ends bitwise equal, a failing rank ends the job, resume works, the CLI trains with
--distributed. Runs mpiexec from the venv (the mpi extra's MPICH wheel)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).parent))
import _mpi_job

MPIEXEC = Path(sys.executable).parent / "mpiexec"
SRC = str(Path(__file__).parents[1] / "src")
JOB = str(Path(__file__).parent / "_mpi_job.py")


def mpiexec(n: int, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    assert MPIEXEC.exists(), f"{MPIEXEC} is missing: pip install 'deltaprop[mpi]' brings mpiexec (MPICH)"
    env = dict(os.environ, PYTHONPATH=SRC + os.pathsep + os.environ.get("PYTHONPATH", ""),
               OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1")
    return subprocess.run([str(MPIEXEC), "-n", str(n), *args], capture_output=True, text=True, timeout=timeout,
                          env=env)


def ranks(out: Path, n: int = 2) -> list[dict[str, np.ndarray]]:
    return [dict(np.load(f"{out}.{r}.npz")) for r in range(n)]


def single(batch_size: int, epochs: int = 3) -> tuple[dict[str, np.ndarray], dict[str, list[float]]]:
    model = _mpi_job.net()
    X, y = _mpi_job.data()
    history = model.fit(X, y, **dict(_mpi_job.FIT, batch_size=batch_size, epochs=epochs))
    return model.get_weights(), history.history


@pytest.mark.parametrize("batch_size", [24, 25], ids=["even-split", "uneven-split"])
def test_two_ranks_equal_one_process(tmp_path: Path, batch_size: int) -> None:
    # 203 rows, 20% held out: 162 training rows; 24 splits 12 + 12 (the last batch 18: 9 + 9),
    # 25 splits 12 + 13 (the last batch 12: 6 + 6)
    out = tmp_path / "w"
    done = mpiexec(2, sys.executable, JOB, "shared", str(out), str(batch_size))
    assert done.returncode == 0, done.stderr
    r0, r1 = ranks(out)
    weights, history = single(batch_size)
    start = _mpi_job.net().get_weights()
    for key, w in weights.items():
        np.testing.assert_array_equal(r0[key], r1[key])  # every rank bitwise the same
        np.testing.assert_allclose(r0[key], w, rtol=0, atol=1e-12)
        assert np.abs(w - start[key]).max() > 1e-3  # the weights did move: the comparison means something
    for key in ("loss", "accuracy", "val_loss", "val_accuracy"):
        np.testing.assert_allclose(r0[f"h_{key}"], history[key], rtol=1e-12, atol=0)
    assert history["loss"][-1] < history["loss"][0]


def test_shards_train_one_model(tmp_path: Path) -> None:
    out = tmp_path / "w"
    done = mpiexec(2, sys.executable, JOB, "shard", str(out), "24")
    assert done.returncode == 0, done.stderr
    r0, r1 = ranks(out)
    for key in _mpi_job.net().get_weights():
        np.testing.assert_array_equal(r0[key], r1[key])
    for key in ("h_loss", "h_accuracy", "h_r2", "h_val_loss", "h_val_accuracy", "h_val_r2"):
        np.testing.assert_array_equal(r0[key], r1[key])  # every rank logs the same numbers
    assert np.isfinite(r0["h_val_r2"]).all()
    assert r0["h_loss"][-1] < r0["h_loss"][0]
    # different rows per step than one process, the same amount of training: close, not equal
    weights, history = single(24)
    assert not np.array_equal(r0["0.W"], weights["0.W"])
    assert abs(r0["h_loss"][-1] - history["loss"][-1]) < 0.1


def test_a_failing_rank_ends_the_job(tmp_path: Path) -> None:
    done = mpiexec(2, sys.executable, JOB, "fail", str(tmp_path / "w"), timeout=60)
    assert done.returncode != 0
    assert "rank 1 of 2 failed: RuntimeError: a deliberate failure on rank 1" in done.stderr
    assert "aborting all 2 ranks" in done.stderr
    assert not list(tmp_path.glob("w.*.npz"))


def test_resume_continues_the_distributed_run_exactly(tmp_path: Path) -> None:
    first = mpiexec(2, sys.executable, JOB, "checkpoint", str(tmp_path / "a"))
    assert first.returncode == 0, first.stderr
    assert (tmp_path / "a.ckpt").exists()
    assert not (tmp_path / "b.ckpt").exists()
    (tmp_path / "b.ckpt").write_bytes((tmp_path / "a.ckpt").read_bytes())
    resumed = mpiexec(2, sys.executable, JOB, "resume", str(tmp_path / "b"))
    assert resumed.returncode == 0, resumed.stderr
    whole = mpiexec(2, sys.executable, JOB, "shared", str(tmp_path / "c"))
    assert whole.returncode == 0, whole.stderr
    # the 4-epoch single-process run is the reference: resumed distributed equals it
    weights, history = single(24, epochs=4)
    b0, b1 = ranks(tmp_path / "b")
    for key, w in weights.items():
        np.testing.assert_array_equal(b0[key], b1[key])
        np.testing.assert_allclose(b0[key], w, rtol=0, atol=1e-12)
    np.testing.assert_allclose(b0["h_loss"], history["loss"], rtol=1e-12)


def test_chunks_are_refused_with_a_reason(tmp_path: Path) -> None:
    script = tmp_path / "chunks.py"
    script.write_text("import numpy as np, deltaprop as dp\n"
                      "from deltaprop.train.distributed import fit_distributed\n"
                      "X = np.zeros((40, 5)); y = np.zeros(40, dtype=int)\n"
                      "fit_distributed(dp.mlp([5, 4, 3]), [(X[:20], y[:20]), (X[20:], y[20:])], None, epochs=1)\n")
    done = mpiexec(2, sys.executable, str(script), timeout=60)
    assert done.returncode != 0
    assert "chunks, Parquet row groups and Dask arrays are not split across ranks" in done.stderr


def test_a_signal_on_one_rank_stops_all_and_the_run_resumes_exactly(tmp_path: Path) -> None:
    out = tmp_path / "run"
    stopped = mpiexec(2, sys.executable, JOB, "interrupt", str(out), timeout=60)
    assert stopped.returncode != 0
    # the signal arrives during rank 1's third step; both ranks stop after the fourth, the next all-reduce
    assert stopped.stderr.count("interrupted by SIGTERM in epoch 2 after 4 batch(es)") == 2
    assert "failed" not in stopped.stderr  # a clean stop on both ranks, not an abort
    assert not list(tmp_path.glob("run.*.npz"))
    resumed = mpiexec(2, sys.executable, JOB, "continue", str(out), timeout=60)
    assert resumed.returncode == 0, resumed.stderr
    r0, r1 = ranks(out)
    weights, history = single(24)
    for key, w in weights.items():
        np.testing.assert_array_equal(r0[key], r1[key])
        np.testing.assert_allclose(r0[key], w, rtol=0, atol=1e-12)
    for key in ("loss", "accuracy", "val_loss"):
        np.testing.assert_allclose(r0[f"h_{key}"], history[key], rtol=1e-12)
