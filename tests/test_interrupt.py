"""Ctrl-C (SIGINT) and SIGTERM during ``fit`` or ``deltaprop train``: the model keeps the weights of the
last completed step (never half-updated), a final checkpoint is written when checkpointing is on, and
``resume`` continues from it, bit for bit as if nothing had happened."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

import deltaprop as dp
from deltaprop.checkpoint import Checkpoint
from deltaprop.cli import main

pytestmark = pytest.mark.skipif(os.name != "posix", reason="sends POSIX signals")

X = np.random.default_rng(0).normal(size=(40, 4))
Y = (X[:, 0] + X[:, 1] > 0).astype(int) + (X[:, 2] > 0.7)


def make_model() -> dp.Sequential:
    return dp.mlp([4, 8, 3], activation="relu", output_activation="softmax", dropout=0.2, seed=0, dtype="float64")


def run_args(**extra):
    """A run that uses every piece of state a resume must restore: Adam, a schedule, dropout, shuffling,
    a validation split, metrics, EarlyStopping."""
    return dict(optimizer=dp.Adam(lr=0.01), lr_schedule=dp.StepLR(2, gamma=0.5), epochs=5, batch_size=8,
                validation_split=0.2, metrics=["accuracy"], seed=1, **extra)


def weights(model: dp.Sequential) -> dict[str, np.ndarray]:
    return {k: v.copy() for k, v in model.parameters().items()}


def assert_same_weights(a: dict[str, np.ndarray], b: dict[str, np.ndarray]) -> None:
    assert a.keys() == b.keys()
    for key in a:
        assert a[key].tobytes() == b[key].tobytes(), key


class Recorder(dp.Callback):
    """Weights after every completed step: after[s] holds them after step s."""

    def on_train_begin(self, logs=None):
        self.after = [weights(self.model)]

    def on_batch_end(self, batch, logs=None):
        self.after.append(weights(self.model))


class SendSignal(dp.Callback):
    """Sends ``sig`` to this process at the start of batch ``batch`` of epoch ``epoch`` (or at the end of
    that epoch with ``batch=None``), so that it lands in the middle of a step."""

    def __init__(self, sig: int, epoch: int, batch: int | None, times: int = 1) -> None:
        self.sig, self.epoch, self.batch, self.times, self.current = sig, epoch, batch, times, -1

    def send(self) -> None:
        assert signal.getsignal(self.sig) not in (signal.SIG_DFL, signal.default_int_handler), "guard not installed"
        for _ in range(self.times):
            os.kill(os.getpid(), self.sig)

    def on_epoch_begin(self, epoch, logs=None):
        self.current = epoch

    def on_batch_begin(self, batch, logs=None):
        if (self.current, batch) == (self.epoch, self.batch):
            self.send()

    def on_epoch_end(self, epoch, logs=None):
        if self.batch is None and epoch == self.epoch:
            self.send()


def stopper() -> dp.EarlyStopping:
    """EarlyStopping has state to checkpoint; restore_best_weights=True would put the best epoch's weights
    back when fit ends, however it ends (an interruption too), so it is off here."""
    return dp.EarlyStopping(patience=50, restore_best_weights=False)


def reference_run() -> tuple[dp.Sequential, dp.History, Recorder]:
    recorder = Recorder()
    model = make_model()
    history = model.fit(X, Y, **run_args(callbacks=[recorder, stopper()]))
    return model, history, recorder


def default_handlers() -> bool:
    return (signal.getsignal(signal.SIGINT) is signal.default_int_handler
            and signal.getsignal(signal.SIGTERM) == signal.SIG_DFL)


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_signal_mid_epoch_keeps_the_last_step_writes_a_checkpoint_and_resume_is_exact(sig, tmp_path):
    full, full_history, recorder = reference_run()
    path = tmp_path / "run.safetensors"
    model = make_model()
    with pytest.raises(dp.TrainingInterrupted) as info:
        model.fit(X, Y, **run_args(checkpoint=path, callbacks=[stopper(),
                                                               SendSignal(sig, epoch=2, batch=1)]))
    err = info.value
    assert isinstance(err, KeyboardInterrupt) and err.signum == sig
    assert (err.epoch, err.step, err.checkpoint) == (3, 10, str(path))  # 4 batches per epoch: 2 epochs + 2 steps
    assert f"interrupted by {signal.Signals(sig).name} in epoch 3 after 2 batch(es)" in str(err)
    assert "continue with fit(..., resume=" in str(err)
    assert default_handlers()  # fit put the handlers back
    assert_same_weights(weights(model), recorder.after[10])  # the step in progress was completed, no more
    saved = Checkpoint(path)
    assert (saved.epoch, saved.step, saved.in_progress["batches"]) == (2, 10, 2)
    assert_same_weights(weights(dp.load(path)), recorder.after[10])

    resumed = make_model()
    history = resumed.fit(X, Y, **run_args(resume=path, checkpoint=path,
                                           callbacks=[stopper()]))
    assert_same_weights(weights(resumed), weights(full))
    assert history.history == full_history.history
    assert Checkpoint(path).in_progress is None and Checkpoint(path).epoch == 5


def test_signal_at_the_end_of_an_epoch_writes_that_epochs_checkpoint(tmp_path):
    full, full_history, _ = reference_run()
    path = tmp_path / "run.safetensors"
    model = make_model()
    with pytest.raises(dp.TrainingInterrupted, match="after epoch 2; the model holds the weights after step 8"):
        model.fit(X, Y, **run_args(checkpoint=path, checkpoint_every=10,
                                   callbacks=[stopper(), SendSignal(signal.SIGINT, 1, None)]))
    saved = Checkpoint(path)  # not due (every 10 epochs), written because of the interruption
    assert (saved.epoch, saved.step, saved.in_progress) == (2, 8, None)
    resumed = make_model()
    history = resumed.fit(X, Y, **run_args(resume=path, callbacks=[stopper()]))
    assert_same_weights(weights(resumed), weights(full))
    assert history.history == full_history.history


def test_a_signal_during_the_last_step_of_an_epoch_resumes_exactly(tmp_path):
    """Regression: stopped after the epoch's last step but before its end, the checkpoint records every batch
    as done; resume must finish that epoch (logs, schedule, callbacks), not refuse the checkpoint."""
    full, full_history, _ = reference_run()
    path = tmp_path / "run.safetensors"
    with pytest.raises(dp.TrainingInterrupted, match="in epoch 2 after 4 batch"):  # 32 training samples: 4 batches
        make_model().fit(X, Y, **run_args(checkpoint=path, callbacks=[stopper(), SendSignal(signal.SIGINT, 1, 3)]))
    saved = Checkpoint(path)
    assert (saved.epoch, saved.step, saved.in_progress["batches"]) == (1, 8, 4)
    resumed = make_model()
    history = resumed.fit(X, Y, **run_args(resume=path, callbacks=[stopper()]))
    assert_same_weights(weights(resumed), weights(full))
    assert history.history == full_history.history


class InterruptingSGD(dp.SGD):
    """Sends SIGINT to this process in the middle of step ``at_step``: after the step was counted and before
    any weight changed. Without the guard, KeyboardInterrupt lands right there."""

    def __init__(self, *args, at_step: int, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.at_step, self.sent = at_step, False

    def _update(self, key, w, g):
        if self.t == self.at_step and not self.sent:
            self.sent = True
            # raise_signal runs the Python handler before it returns, so it runs here, inside the update, on a
            # loaded machine too (os.kill + sleep left that to the timing of the signal's delivery)
            signal.raise_signal(signal.SIGINT)
        super()._update(key, w, g)


def test_a_signal_inside_the_optimizer_update_never_leaves_a_half_updated_model():
    recorder = Recorder()
    reference = make_model()
    reference.fit(X, Y, optimizer=dp.SGD(lr=0.1, momentum=0.9), epochs=2, batch_size=8, seed=1, callbacks=[recorder])

    # the injection point is real: outside fit, KeyboardInterrupt tears the step in two
    model = make_model()
    opt = InterruptingSGD(lr=0.1, momentum=0.9, at_step=1)
    before = weights(model)
    with pytest.raises(KeyboardInterrupt):
        model.train_on_batch(X[:8], Y[:8], loss="categorical_crossentropy", optimizer=opt)
    assert opt.t == 1  # the optimizer counted the step ...
    assert_same_weights(weights(model), before)  # ... but no weight moved

    model = make_model()
    opt = InterruptingSGD(lr=0.1, momentum=0.9, at_step=3)
    with pytest.raises(dp.TrainingInterrupted, match="after step 3, the last completed step"):
        model.fit(X, Y, optimizer=opt, epochs=2, batch_size=8, seed=1)
    assert opt.sent and opt.t == 3
    assert_same_weights(weights(model), recorder.after[3])  # step 3 was completed, whole


def test_a_second_signal_stops_at_once():
    model = make_model()
    with pytest.raises(KeyboardInterrupt) as info:
        model.fit(X, Y, epochs=3, batch_size=8, callbacks=[SendSignal(signal.SIGINT, 0, 1, times=2)])
    assert not isinstance(info.value, dp.TrainingInterrupted)  # the default handler's KeyboardInterrupt
    assert default_handlers()


def test_handlers_installed_by_the_application_are_left_alone():
    seen = []

    def mine(signum, frame):
        seen.append(signum)

    old = signal.signal(signal.SIGINT, mine)
    try:
        probe = dp.LambdaCallback(on_epoch_begin=lambda epoch, logs=None: seen.append(signal.getsignal(signal.SIGINT)))
        make_model().fit(X, Y, epochs=1, callbacks=[probe])
        assert seen == [mine]
        assert signal.getsignal(signal.SIGINT) is mine
    finally:
        signal.signal(signal.SIGINT, old)


def test_fit_in_another_thread_changes_no_handler():
    seen = []
    probe = dp.LambdaCallback(on_epoch_begin=lambda epoch, logs=None: seen.append(signal.getsignal(signal.SIGTERM)))
    thread = threading.Thread(target=lambda: make_model().fit(X, Y, epochs=1, callbacks=[probe]))
    thread.start()
    thread.join()
    assert seen == [signal.SIG_DFL]


# -- a real `deltaprop train` process ----------------------------------------------------------------
TRAIN = ["train", "--data", "xor", "--layers", "2,4,2", "--batch-size", "1", "--dtype", "float64", "--seed", "3",
         "--lr", "0.05", "--progress", "none"]


def start_and_interrupt(tmp_path: Path, sig: int) -> tuple[int, str]:
    """Start `deltaprop train` for a very long run, wait until its first checkpoint exists, send ``sig``."""
    cmd = [sys.executable, "-m", "deltaprop", *TRAIN, "--epochs", "1000000", "--checkpoint", "ck.safetensors"]
    env = {k: v for k, v in os.environ.items() if k != "DELTAPROP_DEBUG"}
    proc = subprocess.Popen(cmd, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        deadline = time.monotonic() + 60
        while not (tmp_path / "ck.safetensors").exists():
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "no checkpoint after 60 s"
            time.sleep(0.02)
        time.sleep(0.05)  # a few more epochs, so the signal lands anywhere in the loop
        proc.send_signal(sig)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    return proc.returncode, err


@pytest.mark.parametrize("sig, status", [(signal.SIGINT, 130), (signal.SIGTERM, 143)], ids=["SIGINT", "SIGTERM"])
def test_deltaprop_train_process_stops_cleanly_and_resumes(sig, status, tmp_path, capsys, monkeypatch):
    rc, err = start_and_interrupt(tmp_path, sig)
    assert rc == status, err
    name = signal.Signals(sig).name
    assert err.startswith(f"deltaprop: interrupted by {name} after step ") and err.count("\n") == 1, err
    assert "checkpoint ck.safetensors holds it; continue with the same command and --resume ck.safetensors" in err
    assert [p.name for p in tmp_path.iterdir()] == ["ck.safetensors"]  # no temporary file left behind
    saved = Checkpoint(tmp_path / "ck.safetensors")
    step = int(err.split("after step ")[1].split(" ")[0])
    assert saved.step == step > 0
    dp.load(tmp_path / "ck.safetensors")  # a checkpoint is also a loadable model

    # resume in this process: two more epochs than the interrupted run finished, then compare with a run
    # that was never interrupted
    monkeypatch.chdir(tmp_path)
    total = str(saved.epoch + 2)
    assert main([*TRAIN, "--epochs", total, "--resume", "ck.safetensors", "--checkpoint", "ck.safetensors",
                 "--out", "resumed.safetensors"]) == 0
    assert main([*TRAIN, "--epochs", total, "--out", "straight.safetensors"]) == 0
    capsys.readouterr()
    after = Checkpoint(tmp_path / "ck.safetensors")
    assert after.epoch == saved.epoch + 2 and after.step == 4 * (saved.epoch + 2) and after.in_progress is None
    assert_same_weights(weights(dp.load("resumed.safetensors")), weights(dp.load("straight.safetensors")))
