"""Ctrl-C and SIGTERM during ``fit``: finish the current step, then stop cleanly.

The optimizer updates several arrays in place, so a KeyboardInterrupt raised in the middle of
``opt.step`` would leave some parameters updated and others not. While ``fit`` runs in the main
thread with Python's default handlers in place, ``SignalGuard`` replaces them: the first SIGINT
or SIGTERM is only recorded, and ``fit`` looks at the record after each step and at the end of
each epoch. So the model always holds the weights of a completed step, ``fit`` can write a final
checkpoint, and then raises ``TrainingInterrupted`` (a KeyboardInterrupt). A second signal before
that is delivered as if the guard were not there (KeyboardInterrupt at once, or termination).
In other threads, or where the application installed its own handlers, nothing is changed.
"""

from __future__ import annotations

import signal
import threading
from types import FrameType


class TrainingInterrupted(KeyboardInterrupt):
    """``fit`` stopped at a step boundary after SIGINT (Ctrl-C) or SIGTERM.

    ``signum`` is the signal, ``epoch`` the epoch in progress (1-based), ``step`` the number of
    completed steps, ``checkpoint`` the checkpoint written (or None)."""

    def __init__(self, message: str, *, signum: int, epoch: int, step: int, checkpoint: str | None) -> None:
        super().__init__(message)
        self.signum, self.epoch, self.step, self.checkpoint = signum, epoch, step, checkpoint


def signal_name(signum: int) -> str:
    try:
        return signal.Signals(signum).name
    except ValueError:  # pragma: no cover - only the two signals below are ever recorded
        return f"signal {signum}"


class SignalGuard:
    """Between ``install()`` and ``release()``, record SIGINT/SIGTERM in ``signum`` instead of acting on them."""

    def __init__(self) -> None:
        self.signum = 0
        self._old: dict[int, object] = {}

    def install(self) -> SignalGuard:
        if threading.current_thread() is threading.main_thread():
            for sig, default in ((signal.SIGINT, signal.default_int_handler), (signal.SIGTERM, signal.SIG_DFL)):
                try:
                    if signal.getsignal(sig) is default:
                        self._old[sig] = signal.signal(sig, self._record)
                except (ValueError, OSError):  # pragma: no cover - e.g. an embedded interpreter
                    pass
        return self

    def _record(self, signum: int, frame: FrameType | None) -> None:
        if self.signum:  # a second signal: the user insists, act on it as the default handler would
            self._restore()
            signal.raise_signal(signum)
            return
        self.signum = signum

    def consume(self) -> int:
        """The recorded signal (0 if none); it is then considered handled."""
        signum, self.signum = self.signum, 0
        return signum

    def _restore(self) -> None:
        for sig, old in self._old.items():
            signal.signal(sig, old)  # type: ignore[arg-type]
        self._old.clear()

    def release(self) -> None:
        """Put the previous handlers back; a signal recorded but not consumed is delivered now."""
        self._restore()
        if self.signum:  # arrived after fit's last look (e.g. while it was finishing)
            signal.raise_signal(self.consume())


def interrupted(signum: int, *, epochs_done: int, in_progress: dict[str, object] | None, step: int,
                checkpoint: str | None) -> TrainingInterrupted:
    """The error ``fit`` raises after SIGINT/SIGTERM, saying where it stopped and how to continue."""
    where = (f"in epoch {epochs_done + 1} after {in_progress['batches']} batch(es)" if in_progress
             else f"after epoch {epochs_done}")
    then = (f"; checkpoint {checkpoint!r} holds it: continue with fit(..., resume={checkpoint!r})" if checkpoint
            else "; pass checkpoint=path to be able to resume")
    return TrainingInterrupted(f"fit: interrupted by {signal_name(signum)} {where}; the model holds the weights "
                               f"after step {step}, the last completed step{then}.", signum=signum,
                               epoch=epochs_done + (1 if in_progress else 0), step=step, checkpoint=checkpoint)
