"""Run by tests/test_out_of_core.py in a fresh process: one epoch of ``fit`` over a ≥ 1 GiB memory-mapped
.npy (``memmap FOLDER``) or a lazily generated Dask array of the same size (``dask``), with the
process's anonymous memory (RssAnon) sampled every 2 ms by a thread. Prints one JSON line."""

from __future__ import annotations

import json
import sys
import threading
import time

import numpy as np

N, D = 1 << 20, 256  # 2^20 rows × 256 float32 features = 1 GiB
peak = [0]


def rss_anon() -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("RssAnon:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("no RssAnon in /proc/self/status")


def sample() -> None:
    while True:
        peak[0] = max(peak[0], rss_anon())
        time.sleep(0.002)


def write(folder: str) -> None:
    """X uniform in [0, 1), y the index of the largest of the first 4 features (a rule a net can learn)."""
    X = np.lib.format.open_memmap(f"{folder}/X.npy", mode="w+", dtype=np.float32, shape=(N, D))
    y = np.lib.format.open_memmap(f"{folder}/y.npy", mode="w+", dtype=np.int8, shape=(N,))
    rng = np.random.default_rng(0)
    for s in range(0, N, 32768):
        block = X[s:s + 32768]
        rng.random(out=block, dtype=np.float32)
        y[s:s + 32768] = block[:, :4].argmax(axis=1)
    X.flush()
    y.flush()


def main() -> None:
    mode = sys.argv[1]
    if mode == "write":
        write(sys.argv[2])
        return
    threading.Thread(target=sample, daemon=True).start()
    import deltaprop as dp

    rng = np.random.default_rng(2)
    X_test = rng.random((20000, D), dtype=np.float32)
    y_test = X_test[:, :4].argmax(axis=1)
    if mode == "memmap":
        X = np.load(f"{sys.argv[2]}/X.npy", mmap_mode="r")
        y = np.load(f"{sys.argv[2]}/y.npy", mmap_mode="r")
    else:
        import dask.array as da

        X = da.random.default_rng(0).random((N, D), chunks=(16384, D), dtype=np.float32)
        y = X[:, :4].argmax(axis=1)
    base = rss_anon()
    model = dp.mlp([D, 32, 4], output_activation="softmax", seed=0)
    start = time.perf_counter()
    history = model.fit(X, y, epochs=1, batch_size=1024, seed=0, metrics=["accuracy"])
    seconds = time.perf_counter() - start
    time.sleep(0.01)
    print(json.dumps({"peak": peak[0], "base": base, "rows": int(X.shape[0]), "bytes": int(X.nbytes),
                      "test_accuracy": model.evaluate(X_test, y_test, metrics=["accuracy"])["accuracy"],
                      "train_accuracy": history.history["accuracy"][0], "seconds": seconds}))


if __name__ == "__main__":
    main()
