"""What a hostile user still found (issue #13), class by class: each test asserts on behaviour — the file
bytes and mode unchanged, the weights unchanged, the gradient checked, the memory bound, the error type
and its words."""

from __future__ import annotations

import csv
import os
import stat
from pathlib import Path

import numpy as np
import pytest

import deltaprop as dp
from deltaprop.cli import main


def _cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    rc = main(list(argv))
    out, err = capsys.readouterr()
    return rc, out, err


def _csv(path: Path, rows: int = 40, *, target: str = "kind") -> Path:
    rng = np.random.default_rng(0)
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["f1", "f2", target])
        for i in range(rows):
            w.writerow([f"{rng.normal(i % 2, 0.2):.4f}", f"{rng.normal():.4f}", "ab"[i % 2]])
    return path


def _snapshot(*paths: Path) -> dict[Path, tuple[bytes, int]]:
    return {p: (p.read_bytes(), stat.S_IMODE(p.stat().st_mode)) for p in paths}


# ---------------------------------------------------------------------------------------------
# 1. A file is never destroyed
# ---------------------------------------------------------------------------------------------
@pytest.fixture
def trained(tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    _csv(tmp_path / "d.csv")
    rc, _, err = _cli(capsys, "train", "--data", "d.csv", "--layers", "2,4,1", "--epochs", "2", "--out",
                        "m.safetensors", "--progress", "none")
    assert rc == 0, err
    return tmp_path


@pytest.mark.parametrize("argv", [
    ["train", "--data", "d.csv", "--layers", "2,4,1", "--epochs", "1", "--out", "d.csv"],
    ["train", "--data", "d.csv", "--layers", "2,4,1", "--epochs", "1", "--history", "d.csv"],
    ["train", "--data", "d.csv", "--layers", "2,4,1", "--epochs", "1", "--checkpoint", "d.csv"],
    ["train", "--data", "d.csv", "--layers", "2,4,1", "--epochs", "1", "--checkpoint", "m.safetensors"],
    ["train", "--data", "d.csv", "--layers", "2,4,1", "--epochs", "1", "--out", "x.safetensors", "--history",
     "x.safetensors"],
    ["train", "--data", "d.csv", "--layers", "2,4,1", "--epochs", "1", "--out", "link.csv"],
    ["train", "--data", "d.csv", "--layers", "2,4,1", "--epochs", "1", "--out", "hard.safetensors"],
    ["train", "--data", "d.csv", "--layers", "2,4,1", "--epochs", "1", "--plots", "d.csv"],
    ["train", "--data", "d.csv", "--layers", "2,4,1", "--epochs", "1", "--out", "."],
    ["predict", "m.safetensors", "d.csv", "--out", "d.csv"],
    ["predict", "m.safetensors", "d.csv", "--out", "m.safetensors"],
    ["predict", "m.safetensors", "d.csv", "--out", "./sub/../m.safetensors"],
    ["explain", "--model", "m.safetensors", "--x", "0,0", "--y", "1", "--out", "m.safetensors"],
    ["diagram", "--model", "m.safetensors", "--out", "m.safetensors"],
    ["evaluate", "m.safetensors", "d.csv", "--plots", "d.csv"],
])
def test_no_output_ever_replaces_an_input_or_contradicts_its_name(
        trained: Path, capsys: pytest.CaptureFixture[str], argv: list[str]) -> None:
    (trained / "sub").mkdir()
    os.symlink("d.csv", trained / "link.csv")
    os.link(trained / "d.csv", trained / "hard.safetensors")
    before = _snapshot(trained / "d.csv", trained / "m.safetensors")
    rc, out, err = _cli(capsys, *argv, *(["--progress", "none"] if argv[0] == "train" else []))
    assert rc == 2 and err.startswith("deltaprop: error: ") and err.count("\n") == 1, err
    assert "epoch" not in out and "trained" not in out  # refused before any training
    assert _snapshot(*before) == before
    assert sorted(p.name for p in trained.iterdir()) == ["d.csv", "hard.safetensors", "link.csv", "m.safetensors",
                                                         "sub"]


def test_the_guard_names_the_input_it_protects(trained: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _, _, err = _cli(capsys, "predict", "m.safetensors", "d.csv", "--out", "d.csv")
    assert "--out 'd.csv' is the same file as DATA 'd.csv'" in err
    _, _, err = _cli(capsys, "predict", "m.safetensors", "d.csv", "--out", "p.safetensors")
    assert "would hold CSV text, but its extension .safetensors says otherwise" in err


def test_fit_refuses_a_checkpoint_path_that_holds_a_model(tmp_path: Path) -> None:
    model = dp.mlp([2, 3, 1], seed=0)
    path = tmp_path / "m.safetensors"
    model.save(path)
    before = path.read_bytes()
    weights = model.get_weights()
    with pytest.raises(ValueError, match="exists and is a model file; checkpoints would overwrite it"):
        model.fit(np.zeros((4, 2)), np.zeros(4), epochs=1, checkpoint=path)
    assert path.read_bytes() == before
    assert all(np.array_equal(v, model.get_weights()[k]) for k, v in weights.items())


def test_resuming_into_the_same_checkpoint_is_allowed(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    _csv(tmp_path / "d.csv")
    base = ["train", "--data", "d.csv", "--layers", "2,4,1", "--checkpoint", "c.safetensors", "--progress", "none"]
    assert _cli(capsys, *base, "--epochs", "1")[0] == 0
    assert _cli(capsys, *base, "--epochs", "2", "--resume", "c.safetensors")[0] == 0


@pytest.mark.parametrize("spoil", ["nan", "inf", "set_weights", "train_on_batch", "keys", "deep"])
def test_save_refuses_what_load_refuses_before_touching_the_file(tmp_path: Path, spoil: str) -> None:
    path = tmp_path / "m.safetensors"
    model = dp.mlp([2, 3, 1], seed=0)
    model.save(path)
    os.chmod(path, 0o600)
    before = _snapshot(path)
    metadata = None
    if spoil == "nan":
        model.layers[0].W[0, 0] = np.nan
    elif spoil == "inf":
        model.layers[0].b = [np.inf, 0, 0]
    elif spoil == "set_weights":
        model.set_weights({k: np.full_like(v, np.nan) for k, v in model.parameters().items()})
    elif spoil == "train_on_batch":
        with np.errstate(all="ignore"):
            for _ in range(3):
                model.train_on_batch(np.ones((2, 2)), np.ones(2), loss="mse", optimizer=dp.SGD(lr=1e300))
        assert not all(np.isfinite(p).all() for p in model.parameters().values())
    elif spoil == "keys":
        metadata = {1: "a", "1": "b"}
    else:
        metadata = {"a": [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[0]]]]]]]]]]]]]]]]]]]]]]]]
                    ]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]}
    with pytest.raises(ValueError, match=r"(NaN or infinite|not valid JSON|nested more than).*Nothing was written|"
                                         r"NaN or infinite value.*nothing was written"):
        model.save(path, metadata=metadata)
    assert _snapshot(path) == before
    assert [p.name for p in tmp_path.iterdir()] == ["m.safetensors"]  # no temporary left


def test_overwriting_keeps_the_mode_and_writes_through_a_symlink(tmp_path: Path) -> None:
    target = tmp_path / "real.safetensors"
    link = tmp_path / "link.safetensors"
    dp.mlp([2, 3, 1], seed=0).save(target)
    os.chmod(target, 0o600)
    os.symlink(target.name, link)
    dp.mlp([2, 3, 1], seed=1).save(link)
    assert link.is_symlink() and os.readlink(link) == target.name
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    np.testing.assert_array_equal(dp.load(target).layers[0].W, dp.mlp([2, 3, 1], seed=1).layers[0].W)


def test_a_failed_prediction_write_keeps_the_previous_file(trained: Path, capsys: pytest.CaptureFixture[str],
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    assert _cli(capsys, "predict", "m.safetensors", "d.csv", "--out", "p.csv")[0] == 0
    os.chmod(trained / "p.csv", 0o640)
    before = _snapshot(trained / "p.csv")
    real_fsync = os.fsync

    def full_disk(fd: int) -> None:
        if os.fstat(fd).st_size > 0:
            raise OSError(28, "No space left on device")
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", full_disk)
    rc, _, err = _cli(capsys, "predict", "m.safetensors", "d.csv", "--out", "p.csv", "--proba")
    assert rc == 2 and "No space left on device" in err
    assert _snapshot(trained / "p.csv") == before
    assert not [p for p in trained.iterdir() if p.name.endswith(".tmp")]


@pytest.mark.parametrize("option", ["--history", "--out"])
def test_every_cli_text_output_is_atomic_and_keeps_its_mode(trained: Path, capsys: pytest.CaptureFixture[str],
                                                            option: str) -> None:
    name = "h.json" if option == "--history" else "m2.safetensors"
    argv = ["train", "--data", "d.csv", "--layers", "2,4,1", "--epochs", "1", "--progress", "none", option, name]
    assert _cli(capsys, *argv)[0] == 0
    os.chmod(trained / name, 0o600)
    assert _cli(capsys, *argv)[0] == 0
    assert stat.S_IMODE((trained / name).stat().st_mode) == 0o600
