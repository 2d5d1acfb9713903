"""`deltaprop demo` trains the seed's network and prints the loss falling and the predictions."""

from __future__ import annotations

import re
import subprocess
import sys

from deltaprop.cli import main


def test_demo_prints_falling_loss_and_predictions(capsys):
    assert main(["demo"]) == 0
    out = capsys.readouterr().out
    losses = [float(v) for v in re.findall(r"loss (\d+\.\d+)", out)]
    assert len(losses) == 11 and losses[-1] < losses[0] / 10
    rows = re.findall(r"(\d)\s+(\d)\s+\|\s+(\d)\s+\|\s+(\d\.\d+)", out)
    assert len(rows) == 4
    for _x1, _x2, target, pred in rows:
        assert abs(float(pred) - int(target)) < 0.1


def test_demo_console_script_runs():
    result = subprocess.run([sys.executable, "-m", "deltaprop", "demo", "--epochs", "100", "--every", "50"],
                            capture_output=True, text=True, check=True)
    assert "epoch    100" in result.stdout
