"""Progress output of ``fit``: a tqdm bar over epochs (``verbose=1``) or a line per epoch (``verbose=2``)."""

from __future__ import annotations

import sys


class Progress:
    """verbose=1: a tqdm bar over epochs when tqdm is installed; verbose=2 (or no tqdm): a line per epoch."""

    def __init__(self, epochs: int, verbose: int) -> None:
        self.epochs, self.verbose, self.bar = epochs, int(verbose), None
        if self.verbose == 1:
            try:
                from tqdm.auto import tqdm

                self.bar = tqdm(total=epochs, unit="epoch", leave=True)
            except ImportError:
                self.verbose = 2

    def update(self, epoch: int, logs: dict[str, float]) -> None:
        if not self.verbose:
            return
        shown = {k: f"{v:.4g}" for k, v in logs.items()}
        if self.bar is not None:
            self.bar.set_postfix(shown, refresh=False)
            self.bar.update(1)
        elif self.verbose == 2:
            text = "  ".join(f"{k}={v}" for k, v in shown.items())
            print(f"epoch {epoch + 1}/{self.epochs}  {text}", file=sys.stdout, flush=True)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
