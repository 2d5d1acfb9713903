"""A process killed (SIGKILL) while it saves checkpoints never leaves a damaged one: the file always loads
and holds either the previous or the new complete state; temporary files of killed writers are removed
by the next save, and a clean run leaves none.

A fresh interpreter (the "zygote") imports deltaprop once and forks one saver per round, which writes
checkpoints with an increasing counter in a loop and reports each save it completed; the test kills the
saver at a random moment, then checks the file. Forking keeps 40 kills within a couple of seconds."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import deltaprop as dp
from deltaprop.checkpoint import Checkpoint

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork and SIGKILL (POSIX)")

ZYGOTE = r'''
import os, sys
import numpy as np
import deltaprop as dp
from deltaprop.checkpoint import save_checkpoint
from deltaprop.training import History

path, progress = sys.argv[1], sys.argv[2]
model = dp.mlp([128, 512, 128], seed=0, dtype="float64")  # 131,712 parameters: 1 MB, and 1 MB of momentum
opt = dp.SGD(lr=0.1, momentum=0.9)
opt.load_state_dict({"t": 0, "lr": 0.1, "schedule": None,
                     "state": {k: {"v": np.zeros_like(p)} for k, p in model.parameters().items()}})
model.loss, model.optimizer = dp.losses.get("mse"), opt
rng = np.random.default_rng(0)


def save(c):
    """The state number c: every weight is c, every momentum entry -c, epoch and step are c."""
    for p in model.parameters().values():
        p[...] = c
    for slot in opt.state.values():
        slot["v"][...] = -c
    save_checkpoint(path, model=model, optimizer=opt, rng=rng, rng_start=rng.bit_generator.state, callbacks=[],
                    history=History(), epoch=c, epochs=10**9, step=c, best=float("inf"), stall=0, n_samples=1)


for line in sys.stdin:
    command, start, count = line.split()
    pid = os.fork()
    if pid == 0:  # the saver: save start, start+1, ... and report each completed save
        fd = os.open(progress, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        c = int(start)
        while command == "loop" or c < int(start) + int(count):
            save(c)
            os.write(fd, f"{c}\n".encode())
            c += 1
        os._exit(0)
    print(pid, flush=True)
    _, status = os.waitpid(pid, 0)
    print(status, flush=True)
'''


class Zygote:
    def __init__(self, folder: Path) -> None:
        self.path, self.progress = folder / "run.safetensors", folder / "progress.txt"
        env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
        self.proc = subprocess.Popen([sys.executable, "-c", ZYGOTE, str(self.path), str(self.progress)],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env)

    def fork(self, command: str, start: int, count: int = 0) -> int:
        self.proc.stdin.write(f"{command} {start} {count}\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        assert line, "the zygote died"
        return int(line)

    def status(self) -> int:
        return int(self.proc.stdout.readline())

    def reported(self) -> list[int]:
        """The saves the savers completed, in order (a line cut by a kill is not counted)."""
        if not self.progress.exists():
            return []
        return [int(line) for line in self.progress.read_text().splitlines(keepends=True) if line.endswith("\n")]

    def close(self) -> None:
        self.proc.stdin.close()
        self.proc.wait(timeout=30)


def check_complete(path: Path) -> int:
    """Load the checkpoint with full validation; every array must belong to one and the same state."""
    ck = Checkpoint(path)
    c = ck.epoch
    assert ck.step == c
    for name, arr in ck.tensors.items():
        expected = -c if name.startswith("optimizer.") else c
        assert np.all(arr == expected), (name, c)
    assert len(ck.tensors) == 8  # 4 parameters and their 4 momentum buffers
    model = dp.load(path)
    assert all(np.all(p == c) for p in model.parameters().values())
    return c


def temporaries(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".tmp"))


def test_sigkill_during_saves_never_damages_the_checkpoint(tmp_path):
    zygote = Zygote(tmp_path)
    chooser = random.Random(7)
    rounds, landed_in_a_write, loaded, next_state = 0, 0, None, 0
    deadline = time.monotonic() + 20
    try:
        while rounds < 40 and time.monotonic() < deadline:
            saves_before = len(zygote.reported())
            pid = zygote.fork("loop", next_state)
            # the kill comes at a random moment once the saver is under way (its first save reported), so a
            # saver starved of CPU by parallel tests is not killed before it ever wrote
            started = time.monotonic()
            while len(zygote.reported()) == saves_before and time.monotonic() - started < 10:
                time.sleep(0.001)
            time.sleep(chooser.uniform(0.0, 0.03))
            os.kill(pid, signal.SIGKILL)
            status = zygote.status()
            assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL
            rounds += 1
            landed_in_a_write += bool(temporaries(tmp_path))
            done = zygote.reported()
            if not zygote.path.exists():  # killed before the very first save completed
                assert done == []
                continue
            c = check_complete(zygote.path)
            # the newest state known to be complete: reported by a saver, or loaded after an earlier kill
            floor = max(-1 if loaded is None else loaded, done[-1] if done else -1)
            # the file holds that state or the one being saved when the kill came: never older, never a mix
            assert c in (floor, floor + 1), (c, floor, done[-3:])
            loaded, next_state = c, c + 1

        assert rounds >= 20, f"only {rounds} kills in 20 s"
        # every saver completed at least one save before its kill
        assert loaded is not None and loaded >= rounds - 1

        # a saver that finishes cleanly: its first save removes the killed savers' leftovers, it leaves none
        pid = zygote.fork("count", next_state, 3)
        assert zygote.status() == 0
        assert check_complete(zygote.path) == next_state + 2
        assert temporaries(tmp_path) == []
        assert sorted(p.name for p in tmp_path.iterdir()) == ["progress.txt", "run.safetensors"]
    finally:
        zygote.close()
    print(f"{rounds} kills, {landed_in_a_write} of them left a temporary file (a kill inside a write); "
          f"last state {loaded}")


def test_a_live_writers_temporary_file_is_never_removed(tmp_path):
    """Only temporaries of processes that are gone are cleaned: one of a running process stays."""
    path = tmp_path / "m.safetensors"
    live = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        ours = tmp_path / f".m.safetensors.{live.pid}-0123456789ab.tmp"
        gone = tmp_path / ".m.safetensors.999999999-0123456789ab.tmp"  # no such process
        other = tmp_path / ".m.safetensors.backup.tmp"  # not our naming pattern: never touched
        for p in (ours, gone, other):
            p.write_bytes(b"partial")
        dp.mlp([2, 1], seed=0).save(path)
        assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["m.safetensors", ours.name, other.name])
        dp.load(path)  # the loader reads the file itself and ignores every temporary
    finally:
        live.kill()
        live.wait()
