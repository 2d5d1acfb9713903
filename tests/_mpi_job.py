"""Run under ``mpiexec -n N python tests/_mpi_job.py MODE OUT [batch_size]`` by tests/test_distributed.py.

Every rank trains the same small float64 network with ``fit_distributed`` and writes its weights and
history to OUT.<rank>.npz."""

from __future__ import annotations

import os
import signal
import sys

import numpy as np

import deltaprop as dp
from deltaprop.train.callbacks import LambdaCallback
from deltaprop.train.distributed import fit_distributed, world


def data(n: int = 203, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 5))
    y = (X[:, 0] * X[:, 1] > 0).astype(int) + (X[:, 2] > 0.5)
    return X, y


def net() -> dp.Sequential:
    return dp.mlp([5, 16, 3], seed=0, dtype="float64")


#: the run's arguments, the same for the single-process reference in the test
FIT = {"epochs": 3, "seed": 1, "metrics": ["accuracy"], "validation_split": 0.2, "optimizer": "adam"}


def main() -> None:
    mode, out = sys.argv[1], sys.argv[2]
    rank, size = world().Get_rank(), world().Get_size()
    model = net()
    X, y = data()
    kwargs = dict(FIT, batch_size=int(sys.argv[3]) if len(sys.argv) > 3 else 24)
    if mode == "shared":
        history = fit_distributed(model, X, y, **kwargs)
    elif mode == "shard":  # rank r holds rows r, r + size, …: no rank sees the others' rows
        kwargs["metrics"] = ["accuracy", "r2"]  # R²: not a mean over samples, combined across ranks all the same
        history = fit_distributed(model, X[rank::size], y[rank::size], layout="shard", **kwargs)
    elif mode in ("checkpoint", "resume"):
        kwargs.update(epochs=2 if mode == "checkpoint" else 4, checkpoint=f"{out}.ckpt")
        if mode == "resume":
            kwargs["resume"] = f"{out}.ckpt"
        history = fit_distributed(model, X, y, **kwargs)
    elif mode == "interrupt":  # SIGTERM reaches rank 1 alone, part-way through epoch 2
        def stop(batch: int, logs: dict) -> None:
            if rank == 1 and batch == 2 and len(model.history.history.get("loss", [])) == 1:
                os.kill(os.getpid(), signal.SIGTERM)

        kwargs["checkpoint"] = f"{out}.ckpt"
        history = fit_distributed(model, X, y, callbacks=[LambdaCallback(on_batch_end=stop)], **kwargs)
    elif mode == "continue":
        history = fit_distributed(model, X, y, resume=f"{out}.ckpt", checkpoint=f"{out}.ckpt", **kwargs)
    elif mode == "fail":  # rank 1 fails at its third step; rank 0 would wait in the all-reduce
        def boom(batch: int, logs: dict) -> None:
            if rank == 1 and batch == 2:
                raise RuntimeError("a deliberate failure on rank 1")

        history = fit_distributed(model, X, y, callbacks=[LambdaCallback(on_batch_end=boom)], **kwargs)
    else:
        raise SystemExit(f"unknown mode {mode}")
    np.savez(f"{out}.{rank}.npz", **model.get_weights(),
             **{f"h_{k}": np.asarray(v) for k, v in history.history.items()})


if __name__ == "__main__":
    main()
