"""The ``deltaprop`` command. It parses arguments and calls the library; it has no logic of its own.

Every command has ``--help`` with examples. A mistake in the input (a missing file, a malformed
CSV, an unknown option value, an unknown activation) ends with one line ``deltaprop: error: …``
and exit status 2, never a traceback; set DELTAPROP_DEBUG=1 to see the traceback instead.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .. import __version__

EPILOG_DEBUG = ("Errors in the input end with 'deltaprop: error: …' and exit status 2 "
                "(DELTAPROP_DEBUG=1 shows tracebacks).")


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"deltaprop: error: {message}\n")


class _Formatter(argparse.RawDescriptionHelpFormatter):
    """Keeps the examples in the epilogs as written."""


def _parse(text: str, kind: type, ok: Callable[[Any], bool], expected: str) -> Any:
    """``kind(text)`` if that works and passes ``ok``; otherwise argparse's one-line error."""
    try:
        value = kind(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected {expected}, got {text!r}") from None
    if not ok(value):
        raise argparse.ArgumentTypeError(f"expected {expected}, got {text!r}")
    return value


def _positive_int(text: str) -> int:
    return _parse(text, int, lambda v: v >= 1, "a positive integer")


def _non_negative_int(text: str) -> int:
    return _parse(text, int, lambda v: v >= 0, "an integer >= 0")


def _positive_float(text: str) -> float:
    return _parse(text, float, lambda v: math.isfinite(v) and v > 0, "a positive number")


def _fraction(text: str) -> float:
    return _parse(text, float, lambda v: 0 <= v < 1, "a number in [0, 1)")


def _non_negative_float(text: str) -> float:
    return _parse(text, float, lambda v: math.isfinite(v) and v >= 0, "a number >= 0")


def _rows(text: str) -> np.ndarray:
    """"0,1" → [[0, 1]]; "0,0;0,1" → two rows."""
    try:
        rows = [[float(v) for v in row.split(",")] for row in text.replace(" ", "").split(";") if row]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected numbers like 0,1 (rows separated by ';'), got {text!r}") from None
    if not rows or len({len(r) for r in rows}) != 1:
        raise argparse.ArgumentTypeError(f"expected rows of equal length like 0,1;1,0, got {text!r}")
    return np.array(rows)


# ---------------------------------------------------------------------------------------------
# demo
# ---------------------------------------------------------------------------------------------
DEMOS: dict[str, tuple[str, dict[str, Any]]] = {
    "xor": ("the seed's XOR network (2-2-1 sigmoid), trained exactly as the seed script trains it", {}),
    "moons": ("two interleaving half-moons, a 2-16-16-2 ReLU network with Adam",
              {"data": "moons", "n_samples": 400, "noise": 0.2, "layers": [2, 16, 16, 2], "activation": "relu",
               "output": "softmax", "optimizer": "adam", "lr": 0.01, "epochs": 150, "batch_size": 32,
               "validation_split": 0.2, "test_split": 0.2, "early_stopping": 20, "seed": 0}),
    "spirals": ("two interleaved spirals, a 2-64-64-2 tanh network with Adam",
                {"data": "spirals", "n_samples": 400, "noise": 0.05, "layers": [2, 64, 64, 2], "activation": "tanh",
                 "output": "softmax", "optimizer": "adam", "lr": 0.01, "epochs": 300, "batch_size": 32,
                 "test_split": 0.2, "seed": 0}),
    "digits": ("scikit-learn's 8×8 handwritten digits, a 64-64-10 ReLU network with Adam (needs scikit-learn)",
               {"data": "digits", "layers": [64, 64, 10], "activation": "relu", "output": "softmax",
                "optimizer": "adam", "lr": 0.005, "epochs": 40, "batch_size": 32, "validation_split": 0.1,
                "test_split": 0.2, "seed": 0}),
}


def _demo(args: argparse.Namespace) -> int:
    if args.list:
        for name, (text, _) in DEMOS.items():
            print(f"{name:<8} {text}")
        return 0
    if args.name != "xor":
        from .config import merge

        preset = dict(DEMOS[args.name][1])
        if args.epochs is not None:
            preset["epochs"] = args.epochs
        if args.lr is not None:
            preset["lr"] = args.lr
        preset["plots"] = args.plots
        settings = merge(preset, {})
        print(f"deltaprop demo {args.name}: {DEMOS[args.name][0]}")
        print("the same as: deltaprop train " + " ".join(_as_flags(preset)) + "\n")
        _run_training(settings, progress="lines", every=args.every)
        return 0
    from ..nn.losses import HalfSSE
    from ..optim.optimizers import SGD
    from ..teach.seed import XOR_X, XOR_Y, seed_network
    from ..train.callbacks import LambdaCallback

    epochs = 10_000 if args.epochs is None else args.epochs
    lr = 0.1 if args.lr is None else args.lr
    every = 1000 if args.every is None else args.every
    model = seed_network(dtype=np.float64)
    print("deltaprop demo: the seed's XOR network (2-2-1 sigmoid), ½·SSE loss, gradient descent η = "
          f"{lr}, {epochs:,} full-batch epochs\n")
    print(model.summary(), "\n")

    def report(epoch: int, logs: dict[str, float]) -> None:
        if epoch == 0 or (epoch + 1) % every == 0:
            print(f"epoch {epoch + 1:>6}   loss {logs['loss']:.6f}")

    model.fit(XOR_X, XOR_Y, loss=HalfSSE(reduction="sum"), optimizer=SGD(lr=lr), epochs=epochs,
              shuffle=False, callbacks=[LambdaCallback(on_epoch_end=report)])
    pred = model.predict(XOR_X)
    print("\n x1  x2 | target | prediction")
    for x, t, p in zip(XOR_X, XOR_Y[:, 0], pred[:, 0]):
        print(f" {x[0]:.0f}   {x[1]:.0f}  |   {t:.0f}    | {p:.6f}")
    if args.plots:
        print("\n(--plots is for the named demos: moons, spirals, digits)")
    return 0


def _as_flags(settings: dict[str, Any]) -> list[str]:
    out = []
    for key, value in settings.items():
        if value is None or value is False:
            continue
        flag = "--" + key.replace("_", "-")
        if value is True:
            out.append(flag)
        else:
            out += [flag, ",".join(map(str, value)) if isinstance(value, list) else str(value)]
    return out


# ---------------------------------------------------------------------------------------------
# train
# ---------------------------------------------------------------------------------------------
def _train(args: argparse.Namespace) -> int:
    from .config import load_config, merge

    config = load_config(args.config) if args.config else {}
    settings = merge(config, vars(args))
    if settings["data"] is None:
        raise ValueError("train: no data; pass --data with a data set name or a file (or set data in --config).")
    _run_training(settings, progress=args.progress)
    return 0


def _run_training(s: dict[str, Any], *, progress: str = "bar", every: int | None = None) -> Any:
    from ..nn.model import mlp
    from ..optim import optimizers
    from ..teach.diagnosis import TrainingMonitor, diagnose
    from ..train.callbacks import EarlyStopping, LambdaCallback
    from .config import load_data, parse_layers

    data = load_data(s["data"], target=s["target"], n_samples=s["n_samples"], noise=s["noise"], seed=s["seed"],
                     task=s["task"])
    if data.y is None:
        raise ValueError(f"train: {data.source} has no targets; pass a file with a target column (--target).")
    X, y = data.X, data.y
    X_test, y_test = data.X_test, data.y_test
    if s["test_split"] and X_test is None:
        from ..datasets import train_test_split

        X, X_test, y, y_test = train_test_split(X, y, test_size=s["test_split"], seed=s["seed"],
                                                stratify=data.classes is not None)
    mean, std = None, None
    if s["standardize"]:
        mean, std = X.mean(axis=0), X.std(axis=0)
        std = np.where(std > 0, std, 1.0)
    transform = _transform(mean, std)
    sizes = parse_layers(s["layers"]) if s["layers"] is not None else [X.shape[1], 32, data.n_outputs]
    _check_sizes(sizes, X, data)
    classify = data.classes is not None
    output = s["output"] or (("sigmoid" if sizes[-1] == 1 else "softmax") if classify else "identity")
    model = mlp(sizes, activation=s["activation"], output_activation=output, init=s["init"], dropout=s["dropout"],
                seed=s["seed"], dtype=s["dtype"])
    opt_kwargs: dict[str, Any] = {}
    if s["lr"] is not None:
        opt_kwargs["lr"] = s["lr"]
    if s["momentum"]:
        if s["optimizer"].lower() not in ("sgd", "rmsprop"):
            raise ValueError(f"train: --momentum applies to sgd and rmsprop, not {s['optimizer']!r}.")
        opt_kwargs["momentum"] = s["momentum"]
    if s["weight_decay"]:
        opt_kwargs["weight_decay"] = s["weight_decay"]
    optimizer = optimizers.get(s["optimizer"], **opt_kwargs)
    monitor = TrainingMonitor()
    callbacks: list[Any] = [monitor]
    validate = bool(s["validation_split"])
    if s["early_stopping"] is not None:
        callbacks.append(EarlyStopping("val_loss" if validate else "loss", patience=s["early_stopping"]))
    metrics = ["accuracy"] if classify else ["mae"]
    verbose = {"bar": 1, "lines": 0, "none": 0}[progress]
    if progress == "lines":
        step = every or max(1, s["epochs"] // 10)

        def report(epoch: int, logs: dict[str, float]) -> None:
            if epoch == 0 or (epoch + 1) % step == 0:
                print(f"epoch {epoch + 1:>5}  " + "  ".join(f"{k} {v:.4f}" for k, v in logs.items() if k != "lr"),
                      flush=True)

        callbacks.append(LambdaCallback(on_epoch_end=report))

    print(f"data: {data.source}: {len(X):,} training samples, {X.shape[1]} features"
          + (f", {len(data.classes)} classes" if classify else ", regression")
          + (f"; {len(X_test):,} test samples" if X_test is not None else ""))
    print(model.summary() + "\n")
    start = time.perf_counter()
    history = model.fit(transform(X), y, loss=s["loss"], optimizer=optimizer, epochs=s["epochs"],
                        batch_size=s["batch_size"] or None, validation_split=s["validation_split"], metrics=metrics,
                        callbacks=callbacks, verbose=verbose, seed=s["seed"], checkpoint=s["checkpoint"],
                        checkpoint_every=s["checkpoint_every"], resume=s["resume"])
    seconds = time.perf_counter() - start

    print(f"\ntrained {len(history)} epoch(s) in {seconds:.1f} s"
          + (" (stopped early)" if history.stopped_early else ""))
    stopper = next((cb for cb in callbacks if isinstance(cb, EarlyStopping)), None)
    if stopper is not None and stopper.best_epoch >= 0 and stopper.best_epoch + 1 < len(history):
        print(f"kept the weights of epoch {stopper.best_epoch + 1}, where {stopper.monitor} was lowest "
              f"({stopper.best:.4f}); the last epoch's logs:")
    for key, values in history.history.items():
        if key != "lr":
            print(f"  {key:<14} {values[-1]:.4f}")
    if X_test is not None and y_test is not None:
        for key, value in model.evaluate(transform(X_test), y_test, metrics=metrics).items():
            print(f"  test_{key:<9} {value:.4f}")
    kept = stopper.best_epoch if stopper is not None and stopper.restore_best_weights else None
    diagnosis = diagnose(monitor, history, kept_epoch=kept if kept is not None and kept >= 0 else None)
    print("\ntraining diagnosis:\n" + diagnosis.summary())

    for key in ("out", "history"):
        if s[key]:
            Path(s[key]).parent.mkdir(parents=True, exist_ok=True)
    if s["out"]:
        meta = {"data": data.source, "classes": data.classes, "feature_names": data.feature_names,
                "target": s["target"], "image_shape": list(data.image_shape) if data.image_shape else None,
                "input_mean": None if mean is None else mean.tolist(),
                "input_std": None if std is None else std.tolist()}
        model.save(s["out"], metadata=meta)
        print(f"\nsaved the model to {s['out']}")
    if s["history"]:
        from ..teach.plots import save_history

        save_history(history, s["history"])
        print(f"saved the history to {s['history']}")
    if s["plots"]:
        _write_plots(Path(s["plots"]), model=model, history=history, monitor=monitor, data=data,
                     X=X_test if X_test is not None else X, y=y_test if y_test is not None else y,
                     transform=transform, fmt="png", label="test data" if X_test is not None else "training data")
    return model, history, diagnosis


def _check_sizes(sizes: list[int], X: np.ndarray, data: Any) -> None:
    if X.shape[1] == 0:
        raise ValueError(f"train: {data.source} has no feature columns besides the target; add input columns.")
    if data.classes is not None and len(data.classes) < 2:
        raise ValueError(f"train: the target of {data.source} has only one class ({data.classes[0]!r}); a classifier "
                         "needs examples of at least two classes (or pass --task regression for numeric targets).")
    if sizes[0] != X.shape[1]:
        raise ValueError(f"train: --layers starts with {sizes[0]} inputs but {data.source} has {X.shape[1]} features; "
                         f"start the list with {X.shape[1]}.")
    if data.classes is not None:
        k = len(data.classes)
        ok = (1, 2) if k == 2 else (k,)
        if sizes[-1] not in ok:
            raise ValueError(f"train: --layers ends with {sizes[-1]} outputs but the data has {k} classes; end it "
                             f"with {' or '.join(map(str, ok))}.")
    elif sizes[-1] != data.n_outputs:
        raise ValueError(f"train: --layers ends with {sizes[-1]} outputs but the data has {data.n_outputs} target "
                         f"column(s).")


def _transform(mean: Any, std: Any) -> Callable[[np.ndarray], np.ndarray]:
    if mean is None:
        return lambda X: X
    mean_a, std_a = np.asarray(mean, dtype=np.float64), np.asarray(std, dtype=np.float64)
    return lambda X: (np.asarray(X, dtype=np.float64) - mean_a) / std_a


def _write_plots(folder: Path, *, model: Any, history: Any, monitor: Any, data: Any, X: Any, y: Any,
                 transform: Callable[[np.ndarray], np.ndarray], fmt: str, label: str | None = None) -> list[Path]:
    from ..teach import plots

    folder.mkdir(parents=True, exist_ok=True)
    written = []
    if history is not None:
        written.append(plots.save(plots.plot_history(history), folder / f"loss.{fmt}"))
    if monitor is not None:
        written.append(plots.save(plots.plot_gradient_norms(monitor), folder / f"gradients.{fmt}"))
    if model is not None and X is not None and y is not None and data.classes is not None:
        if X.shape[1] == 2:
            written.append(plots.save(plots.plot_decision_boundary(
                model, X, y, class_names=data.classes, feature_names=data.feature_names, transform=transform,
                data_label=label),
                folder / f"decision_boundary.{fmt}"))
        pred = model.predict_classes(transform(X))
        written.append(plots.save(plots.plot_confusion_matrix(y, pred, class_names=data.classes, data_label=label),
                                  folder / f"confusion_matrix.{fmt}"))
    if model is not None and data is not None and data.image_shape is not None:
        written.append(plots.save(plots.plot_first_layer(model, image_shape=data.image_shape),
                                  folder / f"first_layer.{fmt}"))
    for path in written:
        print(f"wrote {path}")
    return written


# ---------------------------------------------------------------------------------------------
# evaluate, predict, info: a saved model
# ---------------------------------------------------------------------------------------------
def _load_model(path: str) -> tuple[Any, dict[str, Any]]:
    from ..io.model_file import load, read_metadata

    if not Path(path).is_file():
        raise FileNotFoundError(f"no such model file {path!r}.")
    model = load(path)
    user = read_metadata(path).get("user")
    return model, user if isinstance(user, dict) else {}


def _model_data(spec: str, meta: dict[str, Any], *, target: str | None, need_target: bool, part: str) -> Any:
    from .config import load_data

    task = ("classification" if meta.get("classes") else "regression") if meta else "auto"
    data = load_data(spec, target=target or meta.get("target"), features=meta.get("feature_names"),
                     need_target=need_target, task=task)
    if part == "test" and data.X_test is not None:
        data.X, data.y = data.X_test, data.y_test
    classes = meta.get("classes")
    if data.y is not None and classes and data.classes and data.classes != classes:
        # the file's own classes, renumbered as the model learned them
        lookup = {name: k for k, name in enumerate(classes)}
        unknown = sorted(set(data.classes) - set(lookup))
        if unknown:
            raise ValueError(f"{spec}: classes {unknown} were not in the training data ({', '.join(classes)}).")
        data.y = np.array([lookup[data.classes[i]] for i in data.y], dtype=np.intp)
        data.classes = list(classes)
    return data


def _evaluate(args: argparse.Namespace) -> int:
    model, meta = _load_model(args.model)
    data = _model_data(args.data, meta, target=args.target, need_target=True, part=args.part)
    transform = _transform(meta.get("input_mean"), meta.get("input_std"))
    classify = bool(meta.get("classes") or data.classes)
    metrics = ["accuracy"] if classify else ["mse", "mae", "r2"]
    results = model.evaluate(transform(data.X), data.y, metrics=metrics)
    if args.json:
        print(json.dumps({"model": args.model, "data": args.data, "n": len(data.X), **results}))
    else:
        print(f"{args.model} on {args.data} ({len(data.X):,} samples):")
        for key, value in results.items():
            print(f"  {key:<10} {value:.4f}")
    if args.plots and classify:
        _write_plots(Path(args.plots), model=model, history=None, monitor=None, data=data, X=data.X, y=data.y,
                     transform=transform, fmt=args.plot_format)
    return 0


def _predict(args: argparse.Namespace) -> int:
    import csv

    model, meta = _load_model(args.model)
    data = _model_data(args.data, meta, target=args.target, need_target=False, part=args.part)
    transform = _transform(meta.get("input_mean"), meta.get("input_std"))
    a = model.predict(transform(data.X))
    classes = meta.get("classes") or data.classes
    if classes:
        idx = a.argmax(axis=1) if a.shape[1] > 1 else (a[:, 0] >= 0.5).astype(np.intp)
        header = ["prediction"]
        rows: list[list[Any]] = [[classes[i]] for i in idx]
        if args.proba:
            probs = a if a.shape[1] > 1 else np.column_stack([1 - a[:, 0], a[:, 0]])
            header += [f"p_{c}" for c in classes]
            rows = [r + [f"{p:.4f}" for p in ps] for r, ps in zip(rows, probs)]
    else:
        header = ["prediction"] if a.shape[1] == 1 else [f"prediction_{j}" for j in range(a.shape[1])]
        rows = [[f"{v:.6g}" for v in r] for r in a]
    out = open(args.out, "w", newline="", encoding="utf-8") if args.out else sys.stdout
    try:
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)
    finally:
        if args.out:
            out.close()
    if args.out:
        print(f"wrote {len(rows):,} predictions to {args.out}", file=sys.stderr)
    return 0


def _info(args: argparse.Namespace) -> int:
    from ..io.model_file import read_metadata

    model, _ = _load_model(args.model)
    meta = read_metadata(args.model)
    if args.json:
        print(json.dumps({**meta, "n_params": model.n_params}, indent=2, default=str))
        return 0
    print(f"{args.model}: deltaprop {meta['kind']} (format version {meta['format_version']}), {meta['dtype']}")
    print(model.summary())
    for key in ("loss", "optimizer"):
        if meta.get(key):
            cfg = dict(meta[key])
            print(f"{key}: {cfg.pop('type')} " + ", ".join(f"{k}={v}" for k, v in cfg.items() if v is not None))
    training = meta.get("training") or {}
    if training:
        final = training.get("final") or {}
        facts = [f"{k}={v}" for k, v in training.items() if k != "final"]
        print("training: " + ", ".join(facts))
        if final:
            print("final logs: " + ", ".join(f"{k}={v:.4g}" for k, v in final.items()))
    user = meta.get("user")
    if user:
        shown = {k: v for k, v in user.items() if v is not None and k not in ("input_mean", "input_std")}
        print("metadata: " + json.dumps(shown, ensure_ascii=False))
        if user.get("input_mean") is not None:
            print("inputs are standardised with the training data's mean and standard deviation")
    return 0


# ---------------------------------------------------------------------------------------------
# explain, diagram, gradcheck, plot: the teaching and checking tools
# ---------------------------------------------------------------------------------------------
def _model_from_args(args: argparse.Namespace) -> tuple[Any, dict[str, Any]]:
    """The model named by --model, built from --layers, or the seed's XOR network."""
    if getattr(args, "model", None):
        return _load_model(args.model)
    if getattr(args, "layers", None):
        from ..nn.model import mlp
        from .config import parse_layers

        return mlp(parse_layers(args.layers), activation=args.activation, output_activation=args.output,
                   seed=args.seed, dtype="float64"), {}
    from ..teach.seed import seed_network

    return seed_network(), {}


def _explain(args: argparse.Namespace) -> int:
    from ..nn.losses import HalfSSE
    from ..teach.explain import explain

    model, meta = _model_from_args(args)
    seed_net = not args.model and not args.layers
    x, y = args.x, args.y
    if args.data:
        data = _model_data(args.data, meta, target=args.target, need_target=True, part="train")
        idx = list(range(min(4, len(data.X)))) if args.batch else [args.example]
        if max(idx) >= len(data.X):
            raise ValueError(f"explain: --example {args.example} is out of range; {args.data} has {len(data.X)} rows.")
        x = _transform(meta.get("input_mean"), meta.get("input_std"))(data.X[idx])
        y = data.y[idx]
    elif x is None and y is None and (model.n_inputs, model.n_outputs) == (2, 1):
        from ..teach.seed import XOR_X, XOR_Y

        idx = list(range(4)) if args.batch else [args.example]
        if max(idx) >= 4:
            raise ValueError(f"explain: --example must be 0..3 for the four XOR examples, got {args.example}.")
        x, y = XOR_X[idx], XOR_Y[idx]
    elif x is None or y is None:
        raise ValueError(f"explain: pass --x and --y (the model takes {model.n_inputs} inputs and gives "
                         f"{model.n_outputs} outputs), or --data FILE with --example K.")
    loss = args.loss or (HalfSSE(reduction="sum") if seed_net else None)
    text = explain(model, x, y, loss=loss, lr=args.lr, precision=args.precision, fmt=args.format)
    _emit(str(text), args.out)
    return 0


def _emit(text: str, out: str | None) -> None:
    if out:
        Path(out).write_text(text if text.endswith("\n") else text + "\n", encoding="utf-8")
        print(f"wrote {out}", file=sys.stderr)
    else:
        sys.stdout.write(text if text.endswith("\n") else text + "\n")


def _diagram(args: argparse.Namespace) -> int:
    from ..teach import diagrams

    if args.kind == "network":
        model, meta = _model_from_args(args)
        maker = diagrams.mermaid if args.format == "mermaid" else diagrams.dot
        text = maker(model, weights=args.weights, max_neurons=args.max_neurons, precision=args.precision,
                     input_names=meta.get("feature_names"),
                     output_names=meta.get("classes") if len(meta.get("classes") or ()) == model.n_outputs else None)
    elif args.kind == "neuron":
        text = diagrams.neuron(args.inputs, fmt=args.format)
    else:
        text = diagrams.workflow(fmt=args.format)
    if args.fenced:
        text = f"```{args.format}\n{text}```\n"
    _emit(text, args.out)
    return 0


def _gradcheck(args: argparse.Namespace) -> int:
    from ..nn.model import default_loss
    from ..teach.gradcheck import gradcheck

    model, meta = _model_from_args(args)
    if args.data:
        data = _model_data(args.data, meta, target=args.target, need_target=True, part="train")
        X = _transform(meta.get("input_mean"), meta.get("input_std"))(data.X[:args.samples])
        y = data.y[:args.samples]
    elif (model.n_inputs, model.n_outputs) == (2, 1):
        from ..teach.seed import XOR_X, XOR_Y

        X, y = XOR_X, XOR_Y
    else:
        rng = np.random.default_rng(args.seed)
        X = rng.standard_normal((args.samples, model.n_inputs))
        y = rng.integers(0, model.n_outputs, args.samples) if model.n_outputs > 1 else rng.random(args.samples)
    seed_net = not args.model and not args.layers
    loss = args.loss or ("half_sse" if seed_net else default_loss(model))
    result = gradcheck(model, loss, X, y)
    print(f"gradient check: {len(X)} sample(s), loss {loss}, central differences (ε = 1e-6) in float64\n")
    print(result.table())
    ok = result.passed(args.tol)
    print(f"\nmax relative error {result.max_error:.2e}: {'PASS' if ok else 'FAIL'} (tolerance {args.tol:g})")
    return 0 if ok else 1


def _plot(args: argparse.Namespace) -> int:
    if not args.history and not (args.model and args.data):
        raise ValueError("plot: pass a history file, or --model and --data (or both).")
    model, meta, data = None, {}, None
    if args.model or args.data:
        if not (args.model and args.data):
            raise ValueError("plot: --model and --data go together.")
        model, meta = _load_model(args.model)
        data = _model_data(args.data, meta, target=args.target, need_target=True, part=args.part)
        if meta.get("image_shape"):
            data.image_shape = tuple(meta["image_shape"])
    history = None
    if args.history:
        from ..teach.plots import load_history

        history = load_history(args.history)
    _write_plots(Path(args.out), model=model, history=history, monitor=None, data=data,
                 X=None if data is None else data.X, y=None if data is None else data.y,
                 transform=_transform(meta.get("input_mean"), meta.get("input_std")), fmt=args.format)
    return 0


# ---------------------------------------------------------------------------------------------
# The parser
# ---------------------------------------------------------------------------------------------
def _add(sub: Any, name: str, func: Callable[[argparse.Namespace], int], help_: str, description: str,
         examples: str) -> argparse.ArgumentParser:
    p = sub.add_parser(name, help=help_, description=description, formatter_class=_Formatter,
                       epilog="examples:\n" + examples + "\n\n" + EPILOG_DEBUG)
    p.set_defaults(func=func)
    return p


def _model_options(p: argparse.ArgumentParser, *, what: str) -> None:
    g = p.add_argument_group("the network (default: the seed's XOR network)")
    g.add_argument("--model", metavar="FILE", help=f"a saved model to {what}")
    g.add_argument("--layers", metavar="SIZES", help="or build one: sizes like 2,3,1")
    g.add_argument("--activation", default="tanh", metavar="NAME", help="hidden activation with --layers (tanh)")
    g.add_argument("--output", default="sigmoid", metavar="NAME", help="output activation with --layers (sigmoid)")
    g.add_argument("--seed", type=_non_negative_int, default=0, help="weights seed with --layers (0)")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="deltaprop", formatter_class=_Formatter,
                     description="Multilayer perceptrons trained with textbook backpropagation.",
                     epilog="examples:\n  deltaprop demo\n  deltaprop train --data moons --epochs 100 "
                            "--out moons.safetensors\n  deltaprop explain\n  deltaprop COMMAND --help\n\n"
                            + EPILOG_DEBUG)
    parser.add_argument("--version", action="version", version=f"deltaprop {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    demo = _add(sub, "demo", _demo, "train the seed's XOR network (or another demo) and show the loss falling",
                "Train the seed document's XOR network exactly as its script does, or one of the named demos.",
                "  deltaprop demo\n  deltaprop demo --epochs 5000 --every 500\n  deltaprop demo --list\n"
                "  deltaprop demo moons --plots plots/")
    demo.add_argument("name", nargs="?", default="xor", choices=list(DEMOS), help="which demo (default xor)")
    demo.add_argument("--list", action="store_true", help="list the demos and exit")
    demo.add_argument("--epochs", type=_positive_int, help="epochs (xor: 10000 full-batch epochs)")
    demo.add_argument("--lr", type=_positive_float, help="learning rate η (xor: 0.1)")
    demo.add_argument("--every", type=_positive_int, help="print the loss every N epochs (xor: 1000)")
    demo.add_argument("--plots", metavar="DIR", help="write plots of the run to DIR (named demos)")

    train = _add(sub, "train", _train, "train a network on a data set, a CSV, an NPZ or MNIST files",
                 "Train a multilayer perceptron. Data: a built-in data set (xor, moons, circles, spirals, blobs, "
                 "digits, mnist), a CSV file (--target names the target column), an .npz (X and y, or images and "
                 "labels) or a folder of MNIST IDX files. Settings can come from a TOML file (--config); flags "
                 "override it.",
                 "  deltaprop train --data moons --layers 2,16,16,2 --epochs 200 --out moons.safetensors\n"
                 "  deltaprop train --data iris.csv --target species --standardize --layers 4,16,3 "
                 "--history history.json --plots plots/\n"
                 "  deltaprop train --data mnist10k.npz --layers 784,128,10 --epochs 10 --batch-size 64\n"
                 "  deltaprop train --config run.toml --epochs 50")
    g = train.add_argument_group("data")
    g.add_argument("--data", metavar="SOURCE", help="data set name, .csv, .npz or IDX folder")
    g.add_argument("--target", metavar="COLUMN", help="the CSV column to predict (default: the last)")
    g.add_argument("--task", choices=["auto", "classification", "regression"],
                   help="auto (default): class names and integer labels (up to 20 values) are classes")
    g.add_argument("--n-samples", type=_positive_int, metavar="N", help="samples drawn for 2-D toy sets")
    g.add_argument("--noise", type=_non_negative_float, help="noise of 2-D toy sets")
    g.add_argument("--standardize", action="store_true", default=None,
                   help="scale each feature to mean 0, std 1 (stored in the model file)")
    g.add_argument("--test-split", type=_fraction, metavar="FRACTION",
                   help="hold out this fraction for a final test (sources without their own test part)")
    g = train.add_argument_group("network")
    g.add_argument("--layers", metavar="SIZES",
                   help="layer sizes, inputs first: 784,128,10 (default: inputs,32,outputs)")
    g.add_argument("--activation", metavar="NAME", help="hidden activation: relu (default), tanh, sigmoid, …")
    g.add_argument("--output", metavar="NAME", help="output activation (default: softmax/sigmoid for classes, "
                                                    "identity for regression)")
    g.add_argument("--init", metavar="NAME", help="weight initialiser (default: He for ReLU, Glorot otherwise)")
    g.add_argument("--dropout", type=_fraction, help="dropout after each hidden layer (0)")
    g.add_argument("--dtype", choices=["float32", "float64"], help="float32 (default) or float64")
    g = train.add_argument_group("training")
    g.add_argument("--loss", metavar="NAME", help="loss (default: cross-entropy for classes, MSE for regression)")
    g.add_argument("--optimizer", metavar="NAME", help="sgd, rmsprop, adam (default), adamw")
    g.add_argument("--lr", type=_positive_float, help="learning rate (default: the optimizer's)")
    g.add_argument("--momentum", type=_non_negative_float, help="momentum for sgd/rmsprop")
    g.add_argument("--weight-decay", type=_non_negative_float, help="L2 weight decay")
    g.add_argument("--epochs", type=_positive_int, help="epochs (100)")
    g.add_argument("--batch-size", type=_non_negative_int, help="mini-batch size (32; 0 = full batch)")
    g.add_argument("--validation-split", type=_fraction, metavar="FRACTION", help="fraction held out for validation")
    g.add_argument("--early-stopping", type=_non_negative_int, metavar="PATIENCE",
                   help="stop after PATIENCE epochs without improvement; keep the best weights")
    g.add_argument("--seed", type=_non_negative_int, help="seed for weights, shuffling and splits (0)")
    g.add_argument("--checkpoint", metavar="FILE", help="save the training state to FILE every --checkpoint-every "
                                                        "epochs, at the end, and on Ctrl-C or SIGTERM")
    g.add_argument("--checkpoint-every", type=_positive_int, metavar="N", help="epochs between checkpoints (1)")
    g.add_argument("--resume", metavar="FILE", help="continue the run saved in FILE (same settings; --epochs is the "
                                                    "total)")
    g.add_argument("--config", metavar="FILE.toml", help="read settings from a TOML file (flags override it)")
    g.add_argument("--progress", choices=["bar", "lines", "none"], default="bar",
                   help="a progress bar (default; needs tqdm), a line per epoch, or nothing")
    g = train.add_argument_group("output")
    g.add_argument("--out", metavar="FILE", help="save the trained model (e.g. model.safetensors)")
    g.add_argument("--history", metavar="FILE", help="save the per-epoch history (.json or .csv)")
    g.add_argument("--plots", metavar="DIR", help="write loss, gradient, decision boundary … plots (PNG) to DIR")

    evaluate = _add(sub, "evaluate", _evaluate, "evaluate a saved model on a data file",
                    "Loss and accuracy (classification) or MSE, MAE and R² (regression) of a saved model. Sources "
                    "with their own test part (MNIST files) are evaluated on it unless --part train.",
                    "  deltaprop evaluate moons.safetensors moons\n"
                    "  deltaprop evaluate iris.safetensors iris.csv --json\n"
                    "  deltaprop evaluate mnist.safetensors mnist10k.npz --plots plots/")
    evaluate.add_argument("model", metavar="MODEL", help="a model file written by train --out")
    evaluate.add_argument("data", metavar="DATA", help="data set name, .csv, .npz or IDX folder")
    evaluate.add_argument("--target", metavar="COLUMN", help="the CSV target column (default: as in training)")
    evaluate.add_argument("--part", choices=["test", "train"], default="test", help="for sources with a test part")
    evaluate.add_argument("--json", action="store_true", help="print one JSON object")
    evaluate.add_argument("--plots", metavar="DIR", help="write the confusion matrix (and more) to DIR")
    evaluate.add_argument("--plot-format", choices=["png", "svg"], default="png")

    predict = _add(sub, "predict", _predict, "predict with a saved model; CSV to stdout or a file",
                   "Predictions of a saved model, one CSV row per sample: the predicted class (by name when the "
                   "training data had names) or value, and with --proba the class probabilities.",
                   "  deltaprop predict iris.safetensors new_flowers.csv\n"
                   "  deltaprop predict iris.safetensors iris.csv --proba --out predictions.csv")
    predict.add_argument("model", metavar="MODEL", help="a model file written by train --out")
    predict.add_argument("data", metavar="DATA", help="data set name, .csv (the target column may be absent), .npz")
    predict.add_argument("--target", metavar="COLUMN", help="the CSV target column, ignored if present")
    predict.add_argument("--part", choices=["test", "train"], default="test", help="for sources with a test part")
    predict.add_argument("--proba", action="store_true", help="add a probability column per class")
    predict.add_argument("--out", metavar="FILE.csv", help="write here instead of stdout")

    explain = _add(sub, "explain", _explain, "show one training step with the real numbers",
                   "One complete training step (forward, loss, backward, update) of a network on one example or "
                   "a small batch, in the seeds' notation with the real numbers: z and a for every layer, the "
                   "loss, δ(L) = ∂L/∂a ⊙ σ'(z), δ(l) = (W(l+1)ᵀ δ(l+1)) ⊙ σ'(z(l)), ∂L/∂W = δ aᵀ, ∂L/∂b = δ and "
                   "the updated weights. Default: the seed's XOR network on its first example.",
                   "  deltaprop explain\n  deltaprop explain --example 1\n"
                   "  deltaprop explain --batch --format markdown --out step.md\n"
                   "  deltaprop explain --model iris.safetensors --data iris.csv --example 0\n"
                   "  deltaprop explain --layers 3,4,2 --output softmax --x 0.5,-1,2 --y 0,1 --format json")
    _model_options(explain, what="explain")
    g = explain.add_argument_group("the example")
    g.add_argument("--x", type=_rows, metavar="VALUES", help="input(s): 0,1 or 0,0;0,1 for two rows")
    g.add_argument("--y", type=_rows, metavar="VALUES", help="target(s), the same way")
    g.add_argument("--data", metavar="SOURCE", help="take the example from a data set or file")
    g.add_argument("--target", metavar="COLUMN", help="the CSV target column")
    g.add_argument("--example", type=_non_negative_int, default=0, metavar="K", help="row K of the data (0)")
    g.add_argument("--batch", action="store_true", help="the first four examples at once")
    g = explain.add_argument_group("the step and its display")
    g.add_argument("--loss", metavar="NAME", help="loss (seed network: ½·SSE summed; else the training default)")
    g.add_argument("--lr", type=_positive_float, default=0.1, help="learning rate η (0.1)")
    g.add_argument("--format", choices=["text", "markdown", "json"], default="text", help="output format (text)")
    g.add_argument("--precision", type=_positive_int, default=4, help="decimals shown (4)")
    g.add_argument("--out", metavar="FILE", help="write to FILE instead of stdout")

    diagram = _add(sub, "diagram", _diagram, "Mermaid or Graphviz diagrams: your network, a neuron, the training loop",
                   "Diagrams in the seeds' style. 'network' draws your network's neurons and connections (wide "
                   "layers collapsed with '…', --weights writes w_ji on the edges); 'neuron' the single neuron; "
                   "'workflow' the forward → loss → backward → update loop.",
                   "  deltaprop diagram\n  deltaprop diagram network --weights --fenced >> README.md\n"
                   "  deltaprop diagram --model mnist.safetensors --format dot --out net.dot\n"
                   "  deltaprop diagram neuron\n  deltaprop diagram workflow")
    diagram.add_argument("kind", nargs="?", default="network", choices=["network", "neuron", "workflow"])
    _model_options(diagram, what="draw")
    diagram.add_argument("--format", choices=["mermaid", "dot"], default="mermaid", help="mermaid (default) or dot")
    diagram.add_argument("--weights", action="store_true", help="write each weight on its edge and each bias")
    diagram.add_argument("--max-neurons", type=_positive_int, default=6, metavar="N",
                         help="collapse wider layers with '…' (6)")
    diagram.add_argument("--precision", type=_positive_int, default=3, help="significant digits of weights (3)")
    diagram.add_argument("--inputs", type=_positive_int, default=3, help="inputs of the neuron diagram (3)")
    diagram.add_argument("--fenced", action="store_true", help="wrap in a ``` fence for Markdown")
    diagram.add_argument("--out", metavar="FILE", help="write to FILE instead of stdout")

    gradcheck = _add(sub, "gradcheck", _gradcheck, "check backprop's gradients against finite differences",
                     "Compare every parameter's gradient from backpropagation with central finite differences (in "
                     "float64) and print a table per layer. Exit status 1 if the check fails.",
                     "  deltaprop gradcheck\n"
                     "  deltaprop gradcheck --layers 4,8,8,3 --activation relu --output softmax\n"
                     "  deltaprop gradcheck --model iris.safetensors --data iris.csv --samples 16")
    _model_options(gradcheck, what="check")
    gradcheck.add_argument("--data", metavar="SOURCE", help="data to check on (default: XOR or random inputs)")
    gradcheck.add_argument("--target", metavar="COLUMN", help="the CSV target column")
    gradcheck.add_argument("--samples", type=_positive_int, default=8, help="samples used (8)")
    gradcheck.add_argument("--loss", metavar="NAME", help="loss (default: the training default for the output)")
    gradcheck.add_argument("--tol", type=_positive_float, default=1e-6, help="largest relative error allowed (1e-6)")

    plot = _add(sub, "plot", _plot, "plot a saved history and a model's results (PNG or SVG)",
                "Loss and metric curves from a history written by train --history; with --model and --data also "
                "the decision boundary (2-D data), the confusion matrix (classes) and the first layer's weights "
                "as images (image data). Needs matplotlib (pip install \"deltaprop[plots]\").",
                "  deltaprop plot history.json --out plots/\n"
                "  deltaprop plot history.json --model moons.safetensors --data moons --out plots/ --format svg")
    plot.add_argument("history", nargs="?", metavar="HISTORY", help="a .json or .csv history file")
    plot.add_argument("--model", metavar="FILE", help="a saved model")
    plot.add_argument("--data", metavar="SOURCE", help="data to plot the model on")
    plot.add_argument("--target", metavar="COLUMN", help="the CSV target column")
    plot.add_argument("--part", choices=["test", "train"], default="test", help="for sources with a test part")
    plot.add_argument("--out", metavar="DIR", default="plots", help="folder for the figures (plots)")
    plot.add_argument("--format", choices=["png", "svg"], default="png")

    info = _add(sub, "info", _info, "show a model file's architecture, parameters and metadata",
                "The architecture, parameter count, dtype, loss, optimizer, training facts and metadata of a "
                "model file, read without running it.",
                "  deltaprop info moons.safetensors\n  deltaprop info moons.safetensors --json")
    info.add_argument("model", metavar="MODEL", help="a model file written by train --out or model.save")
    info.add_argument("--json", action="store_true", help="print the metadata as JSON")
    return parser


def _one_line(err: BaseException) -> str:
    if isinstance(err, OSError) and err.filename is not None and err.strerror:
        return f"{err.strerror}: {err.filename}"
    return " ".join(str(err).split()) or type(err).__name__


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    try:
        return int(args.func(args))
    except KeyboardInterrupt as err:
        from ..train.interrupt import TrainingInterrupted, signal_name

        if not isinstance(err, TrainingInterrupted):
            print("deltaprop: interrupted", file=sys.stderr)
            return 130
        then = (f"checkpoint {err.checkpoint} holds it; continue with the same command and --resume {err.checkpoint}"
                if err.checkpoint else "pass --checkpoint FILE to be able to resume an interrupted run")
        print(f"deltaprop: interrupted by {signal_name(err.signum)} after step {err.step} (epoch {err.epoch}); "
              f"{then}.", file=sys.stderr)
        return 128 + err.signum
    except BrokenPipeError:  # the reader went away (deltaprop … | head): stop quietly
        sys.stdout = open(os.devnull, "w")  # the recipe of the Python docs (signal: "Note on SIGPIPE")
        return 141
    except (ValueError, TypeError, OSError, ImportError, FloatingPointError) as err:
        if os.environ.get("DELTAPROP_DEBUG"):
            raise
        print(f"deltaprop: error: {_one_line(err)}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
