"""The `deltaprop` command: every subcommand end to end, and one-line errors (exit 2) for user mistakes."""

from __future__ import annotations

import argparse
import csv
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import deltaprop as dp
from deltaprop.cli import DEMOS, build_parser, main
from deltaprop.config import load_config, merge, parse_layers

COMMANDS = ["demo", "train", "evaluate", "predict", "explain", "diagram", "gradcheck", "plot", "info"]


def _write_csv(path: Path, rows: int = 90, *, target: bool = True, seed: int = 0) -> Path:
    """Three well-separated classes with string names, four numeric features."""
    rng = np.random.default_rng(seed)
    names = ["alpha", "beta", "gamma"]
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["f1", "f2", "f3", "f4", *(["kind"] if target else [])])
        for i in range(rows):
            c = i % 3
            x = rng.normal(0, 0.3, 4) + np.array([c, -c, 2 * c, 0.5])
            w.writerow([f"{v:.4f}" for v in x] + ([names[c]] if target else []))
    return path


def run(capsys, *argv: str) -> tuple[int, str, str]:
    rc = main(list(argv))
    out, err = capsys.readouterr()
    return rc, out, err


@pytest.fixture
def iris_like(tmp_path: Path, capsys, monkeypatch) -> Path:
    """A model trained on a 3-class CSV with `train`, in tmp_path (the working directory)."""
    monkeypatch.chdir(tmp_path)
    _write_csv(tmp_path / "flowers.csv")
    rc, out, _ = run(capsys, "train", "--data", "flowers.csv", "--target", "kind", "--standardize", "--layers",
                     "4,8,3", "--lr", "0.05", "--epochs", "40", "--batch-size", "16", "--validation-split", "0.2",
                     "--seed", "1", "--out", "flowers.safetensors", "--history", "history.json", "--plots", "plots",
                     "--progress", "none")
    assert rc == 0, out
    return tmp_path


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_has_help_with_examples(command: str, capsys) -> None:
    with pytest.raises(SystemExit) as exit_:
        main([command, "--help"])
    assert exit_.value.code == 0
    out = capsys.readouterr().out
    assert "examples:" in out and f"deltaprop {command}" in out


def test_top_level_help_lists_every_command(capsys) -> None:
    assert main([]) == 0
    out = capsys.readouterr().out
    for command in COMMANDS:
        assert command in out


def test_train_on_csv_then_evaluate_predict_info(iris_like: Path, capsys) -> None:
    d = iris_like
    assert (d / "flowers.safetensors").is_file()
    history = json.loads((d / "history.json").read_text())
    assert history["epoch"] == list(range(1, 41)) and len(history["val_loss"]) == 40
    assert history["loss"][-1] < history["loss"][0] / 2
    for name in ("loss.png", "gradients.png", "confusion_matrix.png"):
        assert (d / "plots" / name).read_bytes().startswith(b"\x89PNG")

    rc, out, _ = run(capsys, "evaluate", "flowers.safetensors", "flowers.csv", "--json")
    result = json.loads(out)
    assert rc == 0 and result["n"] == 90 and result["accuracy"] > 0.9

    # predict on a file without the target column: class names come back
    _write_csv(d / "new.csv", rows=6, target=False, seed=5)
    rc, out, _ = run(capsys, "predict", "flowers.safetensors", "new.csv", "--proba")
    rows = list(csv.reader(out.splitlines()))
    assert rc == 0 and rows[0] == ["prediction", "p_alpha", "p_beta", "p_gamma"] and len(rows) == 7
    assert [r[0] for r in rows[1:]] == ["alpha", "beta", "gamma"] * 2
    assert all(abs(sum(map(float, r[1:])) - 1) < 1e-3 for r in rows[1:])  # 4 decimals each
    rc, _, err = run(capsys, "predict", "flowers.safetensors", "new.csv", "--out", "pred.csv")
    assert rc == 0 and "wrote 6 predictions" in err and len((d / "pred.csv").read_text().splitlines()) == 7

    rc, out, _ = run(capsys, "info", "flowers.safetensors")
    assert rc == 0 and "Dense(4, 8)" in out and "parameters: 67" in out and '"alpha"' in out
    rc, out, _ = run(capsys, "info", "flowers.safetensors", "--json")
    assert json.loads(out)["n_params"] == 67


def test_saved_model_matches_the_training_run(iris_like: Path, capsys) -> None:
    """The standardisation travels in the model: dp.load(path).predict(raw X) is what evaluate measures."""
    d = iris_like
    model = dp.load(d / "flowers.safetensors")
    table = dp.datasets.load_csv(d / "flowers.csv", target="kind")
    assert model.preprocessor is not None and model.classes == ["alpha", "beta", "gamma"]
    expected = float(np.mean(model.predict_classes(table.X) == table.y))  # raw columns, as in the file
    assert expected > 0.9
    pre = model.preprocessor
    manual = (table.X - [c.mean for c in pre.numeric]) / [c.std for c in pre.numeric]
    np.testing.assert_allclose(model.predict(manual, preprocess=False), model.predict(table.X), rtol=1e-6)
    _, out, _ = run(capsys, "evaluate", "flowers.safetensors", "flowers.csv", "--json")
    assert json.loads(out)["accuracy"] == pytest.approx(expected)


def test_teaching_tools_on_a_saved_model(iris_like: Path, capsys) -> None:
    rc, out, _ = run(capsys, "explain", "--model", "flowers.safetensors", "--data", "flowers.csv", "--example", "2")
    assert rc == 0 and "One training step of a 4-8-3 network (relu, softmax)" in out and "δ⁽¹⁾" in out
    rc, out, _ = run(capsys, "diagram", "--model", "flowers.safetensors", "--weights")
    assert rc == 0 and '(("gamma' in out and '["f1"]' in out
    rc, out, _ = run(capsys, "gradcheck", "--model", "flowers.safetensors", "--data", "flowers.csv")
    assert rc == 0 and "PASS" in out and "2.W" in out
    rc, out, _ = run(capsys, "plot", "history.json", "--model", "flowers.safetensors", "--data", "flowers.csv",
                     "--out", "svg", "--format", "svg")
    assert rc == 0 and (iris_like / "svg" / "loss.svg").read_text().lstrip().startswith("<?xml")
    assert (iris_like / "svg" / "confusion_matrix.svg").is_file()


def test_explain_defaults_to_the_seed_xor_step(capsys) -> None:
    rc, out, _ = run(capsys, "explain")
    assert rc == 0 and "2-2-1 network (sigmoid, sigmoid)" in out and "L = ½ Σ (a⁽²⁾ − y)² = 0.236733" in out
    rc, out, _ = run(capsys, "explain", "--batch", "--format", "json")
    data = json.loads(out)
    assert len(data["x"]) == 4 and data["loss"]["name"] == "half_sse"
    reference = dp.explain(batch=True)
    np.testing.assert_array_equal(np.array(data["layers"][0]["dW"]), reference.layers[0].dW)
    rc, out, _ = run(capsys, "explain", "--layers", "3,4,2", "--output", "softmax", "--x", "0.5,-1,2", "--y", "0,1",
                     "--format", "markdown")
    assert rc == 0 and "$$" in out and r"\operatorname{softmax}" in out


def test_diagram_and_gradcheck_without_files(capsys, tmp_path: Path) -> None:
    rc, out, _ = run(capsys, "diagram", "workflow", "--fenced")
    assert rc == 0 and out.startswith("```mermaid\ngraph TD") and out.endswith("```\n")
    rc, _, _ = run(capsys, "diagram", "neuron", "--format", "dot", "--out", str(tmp_path / "n.dot"))
    assert rc == 0 and (tmp_path / "n.dot").read_text().startswith("digraph")
    rc, out, _ = run(capsys, "gradcheck", "--layers", "3,5,4,3", "--activation", "relu", "--output", "softmax")
    assert rc == 0 and "PASS" in out and "4.b" in out
    rc, out, _ = run(capsys, "gradcheck", "--tol", "1e-30")  # nothing passes an impossible tolerance
    assert rc == 1 and "FAIL" in out


def test_config_file_with_flag_override(tmp_path: Path, capsys, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "run.toml").write_text(
        '[data]\ndata = "moons"\nn_samples = 120\n[model]\nlayers = [2, 8, 2]\n[training]\nepochs = 50\nlr = 0.02\n'
        'batch_size = 0\n[output]\nhistory = "h.csv"\n', encoding="utf-8")
    rc, out, _ = run(capsys, "train", "--config", "run.toml", "--epochs", "7", "--progress", "none")
    assert rc == 0 and "moons: 120 training samples" in out  # n_samples from the file
    rows = list(csv.reader((tmp_path / "h.csv").open()))
    assert rows[0][:2] == ["epoch", "loss"] and len(rows) == 1 + 7  # the flag beat the file's 50 epochs
    assert "Dense(2, 8)" in out


def test_early_stopping_and_progress_lines(tmp_path: Path, capsys) -> None:
    rc, out, _ = run(capsys, "train", "--data", "moons", "--noise", "0.3", "--layers", "2,32,2", "--lr", "0.05",
                     "--epochs", "1000", "--validation-split", "0.3", "--early-stopping", "3", "--progress", "lines")
    assert rc == 0 and "(stopped early)" in out and "epoch     1" in out
    epochs = int(out.split("trained ")[1].split(" epoch")[0])
    assert epochs < 1000


def test_npz_and_idx_sources(tmp_path: Path, capsys, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (60, 4, 4), dtype=np.uint8)
    labels = (images[:, 0, 0] > 127).astype(np.uint8)
    np.savez(tmp_path / "imgs.npz", images=images, labels=labels)
    rc, out, _ = run(capsys, "train", "--data", "imgs.npz", "--layers", "16,6,2", "--epochs", "3", "--plots", "p",
                     "--progress", "none", "--out", "img.safetensors")
    assert rc == 0 and "48 training samples" in out and "12 test samples" in out and "test_accuracy" in out
    assert (tmp_path / "p" / "first_layer.png").is_file()
    rc, out, _ = run(capsys, "evaluate", "img.safetensors", "imgs.npz", "--json")
    assert rc == 0 and json.loads(out)["n"] == 12  # the file's test part

    X = rng.normal(size=(30, 3))
    np.savez(tmp_path / "reg.npz", X=X, y=X @ np.array([1.0, -2.0, 0.5]))
    rc, out, _ = run(capsys, "train", "--data", "reg.npz", "--epochs", "2", "--progress", "none")
    assert rc == 0 and "regression" in out and "mae" in out

    idx = tmp_path / "idx"
    idx.mkdir()
    for name, arr in (("train-images-idx3-ubyte", images[:40]), ("train-labels-idx1-ubyte", labels[:40]),
                      ("t10k-images-idx3-ubyte", images[40:]), ("t10k-labels-idx1-ubyte", labels[40:])):
        dp.datasets.write_idx(idx / name, arr)
    rc, out, _ = run(capsys, "train", "--data", "idx", "--layers", "16,4,2", "--epochs", "2", "--progress", "none")
    assert rc == 0 and "40 training samples" in out and "20 test samples" in out


def test_demo_list_and_a_named_demo(capsys, tmp_path: Path) -> None:
    rc, out, _ = run(capsys, "demo", "--list")
    assert rc == 0 and all(name in out for name in DEMOS)
    rc, out, _ = run(capsys, "demo", "moons", "--epochs", "20", "--every", "10", "--plots", str(tmp_path))
    assert rc == 0 and "the same as: deltaprop train --data moons" in out and "test_accuracy" in out
    assert "training diagnosis" in out and (tmp_path / "decision_boundary.png").is_file()


BAD_TOML = {"unknown.toml": "epochz = 3\n", "type.toml": 'epochs = "3"\n', "syntax.toml": "epochs = \n"}


@pytest.mark.parametrize(("argv", "message"), [
    (["train", "--data", "missing.csv"], "no such file or folder 'missing.csv'"),
    (["train", "--data", "bad.csv", "--target", "label", "--no-preprocess"], "column(s) ['b'] hold text"),
    (["train", "--data", "bad.csv", "--target", "labl"], "Did you mean 'label'?"),
    (["train", "--data", "bad.csv", "--drop", "c"], "feature column 'c' is not in bad.csv"),
    (["train", "--data", "bad.csv", "--delimiter", ":"], "delimiter must be one of , ; | tab"),
    (["train", "--data", "bad.csv", "--layers", "2,4,2"], "bad.csv's 2 columns encode to 3 inputs"),
    (["train", "--data", "ragged.csv"], "line 2 has 3 fields but the header has 2"),
    (["train", "--data", "moonz"], "Did you mean 'moons'?"),
    (["train", "--data", "moons", "--activation", "rleu"], "unknown activation 'rleu'"),
    (["train", "--data", "moons", "--optimizer", "adamm"], "unknown optimizer 'adamm'"),
    (["train", "--data", "moons", "--loss", "hinge"], "unknown loss 'hinge'"),
    (["train", "--data", "moons", "--epochs", "0"], "argument --epochs: expected a positive integer"),
    (["train", "--data", "moons", "--progress", "fancy"], "invalid choice: 'fancy'"),
    (["train", "--data", "moons", "--layers", "3,4,2"], "starts with 3 inputs but moons has 2 features"),
    (["train", "--data", "moons", "--layers", "2,4,5"], "ends with 5 outputs but the data has 2 classes"),
    (["train", "--data", "moons", "--layers", "2,x"], "layers must be comma-separated positive ints"),
    (["train", "--data", "moons", "--momentum", "0.9"], "--momentum applies to sgd and rmsprop"),
    (["train"], "no data; pass --data"),
    (["train", "--config", "unknown.toml"], "unknown setting 'epochz'"),
    (["train", "--config", "type.toml"], "'epochs' in type.toml must be an integer"),
    (["train", "--config", "syntax.toml"], "is not valid TOML"),
    (["train", "--config", "nope.toml"], "no such file 'nope.toml'"),
    (["evaluate", "nofile.safetensors", "moons"], "no such model file"),
    (["evaluate", "fake.safetensors", "moons"], "not a safetensors file"),
    (["info", "fake.safetensors"], "not a safetensors file"),
    (["explain", "--format", "latex"], "invalid choice: 'latex'"),
    (["explain", "--x", "1,2,3", "--y", "1"], "x must have 2 value(s) per example"),
    (["explain", "--x", "1,a", "--y", "1"], "argument --x: expected numbers"),
    (["explain", "--example", "7"], "--example must be 0..3"),
    (["diagram", "spiral"], "invalid choice: 'spiral'"),
    (["plot", "nohistory.json"], "no such file 'nohistory.json'"),
    (["plot", "bad.csv"], "must hold per-epoch lists"),
    (["demo", "nosuch"], "invalid choice: 'nosuch'"),
    (["nosuch"], "invalid choice: 'nosuch'"),
])
def test_user_mistakes_give_one_line_and_exit_2(argv: list[str], message: str, tmp_path: Path, capsys,
                                                 monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "bad.csv").write_text("a,b,label\n1,2,x\n3,oops,y\n")
    (tmp_path / "ragged.csv").write_text("a,b\n1,2,3\n")
    (tmp_path / "fake.safetensors").write_text("not a model at all")
    for name, text in BAD_TOML.items():
        (tmp_path / name).write_text(text)
    try:
        code = main(argv)
    except SystemExit as exit_:  # mistakes argparse itself reports
        code = exit_.code
    out, err = capsys.readouterr()
    assert code == 2
    assert err.startswith("deltaprop: error: ") and err.count("\n") == 1, err
    assert message in err and "Traceback" not in err + out


def test_console_script_error_has_no_traceback(tmp_path: Path) -> None:
    proc = subprocess.run([sys.executable, "-m", "deltaprop", "train", "--data", str(tmp_path / "none.csv")],
                          capture_output=True, text=True)
    assert proc.returncode == 2 and proc.stderr.startswith("deltaprop: error:") and "Traceback" not in proc.stderr


def test_config_module() -> None:
    assert parse_layers("784, 128,10") == [784, 128, 10] and parse_layers([2, 3]) == [2, 3]
    with pytest.raises(ValueError, match="at least two positive sizes"):
        parse_layers("5")
    settings = merge({"epochs": 50, "lr": 0.1}, {"epochs": 7, "lr": None, "progress": "bar"})
    assert settings["epochs"] == 7 and settings["lr"] == 0.1 and settings["optimizer"] == "adam"
    assert "progress" not in settings


def test_load_config_flattens_tables(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text('optimizer = "sgd"\n[model]\nlayers = "2,3,1"\n[training]\nvalidation-split = 0.25\n')
    assert load_config(path) == {"optimizer": "sgd", "layers": "2,3,1", "validation_split": 0.25}
    path.write_text('epochs = 3\n[training]\nepochs = 4\n')
    with pytest.raises(ValueError, match="set twice"):
        load_config(path)


def test_parser_builds() -> None:
    parser = build_parser()
    args = parser.parse_args(["train", "--data", "moons", "--layers", "2,3,2"])
    assert args.data == "moons" and args.epochs is None  # unset flags stay None so a config file can fill them


def test_cli_reference_documents_every_command_and_option() -> None:
    """docs/cli.md stays in step with the parser: each command has a section and each option appears."""
    text = (Path(__file__).resolve().parents[1] / "docs" / "cli.md").read_text(encoding="utf-8")
    sub = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    missing = []
    for name, parser in sub.choices.items():
        if f"## {name}" not in text:
            missing.append(f"section {name}")
        for action in parser._actions:
            missing += [f"{name} {opt}" for opt in action.option_strings if opt.startswith("--") and opt != "--help"
                        and opt not in text]
    assert not missing, missing


def test_integer_labels_are_classes_unless_told(tmp_path: Path, capsys, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    rng = np.random.default_rng(0)
    rows = [f"{x[0]:.3f},{x[1]:.3f},{i % 3 + 1}" for i, x in enumerate(rng.normal(0, 0.3, (60, 2)) +
                                                                      np.repeat(np.arange(3), 20)[:, None])]
    (tmp_path / "num.csv").write_text("a,b,label\n" + "\n".join(rows) + "\n")
    rc, out, _ = run(capsys, "train", "--data", "num.csv", "--epochs", "3", "--progress", "none", "--out", "m.st")
    assert rc == 0 and "2 features, 3 classes" in out
    rc, out, _ = run(capsys, "predict", "m.st", "num.csv", "--proba")
    assert out.splitlines()[0] == "prediction,p_1,p_2,p_3" and {r.split(",")[0] for r in out.splitlines()[1:]} <= {
        "1", "2", "3"}
    rc, out, _ = run(capsys, "train", "--data", "num.csv", "--task", "regression", "--epochs", "2", "--progress",
                     "none")
    assert rc == 0 and "2 features, regression" in out


def test_a_closed_pipe_ends_quietly() -> None:
    big = "diagram --layers 300,300,2 --max-neurons 400"  # ~2 MB of Mermaid: far more than a pipe holds
    proc = subprocess.run(f"{sys.executable} -m deltaprop {big} | head -1", shell=True, capture_output=True,
                          text=True)
    assert proc.stdout == "graph LR\n"
    assert proc.stderr == ""
