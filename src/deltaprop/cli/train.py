"""``deltaprop train``: a network trained on a data set, a CSV, an NPZ or MNIST files; the run's report and outputs."""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .common import take_rows, write_plots
from .outputs import Output, check_outputs
from .parser import add_command, fraction, non_negative_float, non_negative_int, positive_float, positive_int

if TYPE_CHECKING:
    pass


def add_parser(sub: Any) -> None:
    p = add_command(sub, "train", run, "train a network on a data set, a CSV, an NPZ or MNIST files",
                    "Train a multilayer perceptron. Data: a built-in data set (xor, moons, circles, spirals, blobs, "
                    "digits, mnist), a CSV file (--target names the target column), an .npz (X and y, or images and "
                    "labels) or a folder of MNIST IDX files. Settings can come from a TOML file (--config); flags "
                    "override it.",
                    "  deltaprop train --data moons --layers 2,16,16,2 --epochs 200 --out moons.safetensors\n"
                    "  deltaprop train --data iris.csv --target species --standardize --layers 4,16,3 "
                    "--history history.json --plots plots/\n"
                    "  deltaprop train --data mnist10k.npz --layers 784,128,10 --epochs 10 --batch-size 64\n"
                    "  deltaprop train --config run.toml --epochs 50\n"
                    "  deltaprop train --data X.npy --target y.npy --layers 784,128,10 --epochs 5\n"
                    "  mpiexec -n 4 deltaprop train --data X.npy --target y.npy --layers 784,128,10 --distributed")
    g = p.add_argument_group("data")
    g.add_argument("--data", metavar="SOURCE",
                   help="data set name, table file (.csv .tsv .txt .csv.gz .parquet), .npz, .npy or IDX folder; "
                        "with --distributed, {rank} in the name gives each rank its own shard")
    g.add_argument("--target", metavar="COLUMN", help="the table's column to predict (default: the last), or the "
                                                      ".npy of targets for .npy features")
    g.add_argument("--features", metavar="A,B,C", help="use only these columns as features")
    g.add_argument("--drop", metavar="X,Y", help="leave these columns out (e.g. an ID or a row index)")
    g.add_argument("--delimiter", metavar="CHAR", help="the table's delimiter: , ; tab or | (default: sniffed)")
    g.add_argument("--strict", action="store_true", default=None,
                   help="refuse rows whose target is missing instead of dropping them")
    g.add_argument("--no-preprocess", dest="preprocess", action="store_false", default=None,
                   help="tables: no imputation, scaling or one-hot encoding (every column must be numbers)")
    g.add_argument("--missing-indicator", action="store_true", default=None,
                   help="tables: add a 0/1 column per numeric column that has missing values")
    g.add_argument("--task", choices=["auto", "classification", "regression"],
                   help="auto (default): class names and integer labels (up to 20 values) are classes")
    g.add_argument("--n-samples", type=positive_int, metavar="N", help="samples drawn for 2-D toy sets")
    g.add_argument("--noise", type=non_negative_float, help="noise of 2-D toy sets")
    g.add_argument("--standardize", action="store_true", default=None,
                   help="arrays (.npz, data sets): scale each feature to mean 0, std 1 on the training rows (kept in "
                        "the model; tables are standardised unless --no-preprocess)")
    g.add_argument("--test-split", type=fraction, metavar="FRACTION",
                   help="hold out this fraction for a final test (sources without their own test part)")
    g = p.add_argument_group("network")
    g.add_argument("--layers", metavar="SIZES",
                   help="layer sizes, inputs first: 784,128,10 (default: inputs,32,outputs)")
    g.add_argument("--activation", metavar="NAME", help="hidden activation: relu (default), tanh, sigmoid, …")
    g.add_argument("--output", metavar="NAME", help="output activation (default: softmax/sigmoid for classes, "
                                                    "identity for regression)")
    g.add_argument("--init", metavar="NAME", help="weight initialiser (default: He for ReLU, Glorot otherwise)")
    g.add_argument("--dropout", type=fraction, help="dropout after each hidden layer (0)")
    g.add_argument("--dtype", choices=["float32", "float64"], help="float32 (default) or float64")
    g = p.add_argument_group("training")
    g.add_argument("--loss", metavar="NAME", help="loss (default: cross-entropy for classes, MSE for regression)")
    g.add_argument("--optimizer", metavar="NAME", help="sgd, rmsprop, adam (default), adamw")
    g.add_argument("--lr", type=positive_float, help="learning rate (default: the optimizer's)")
    g.add_argument("--momentum", type=non_negative_float, help="momentum for sgd/rmsprop")
    g.add_argument("--weight-decay", type=non_negative_float, help="L2 weight decay")
    g.add_argument("--epochs", type=positive_int, help="epochs (200, as scikit-learn's max_iter)")
    g.add_argument("--batch-size", type=non_negative_int, help="mini-batch size (32; 0 = full batch)")
    g.add_argument("--validation-split", type=fraction, metavar="FRACTION", help="fraction held out for validation")
    g.add_argument("--early-stopping", type=non_negative_int, metavar="PATIENCE",
                   help="stop after PATIENCE epochs without improvement; keep the best weights")
    g.add_argument("--seed", type=non_negative_int, help="seed for weights, shuffling and splits (0)")
    g.add_argument("--checkpoint", metavar="FILE", help="save the training state to FILE every --checkpoint-every "
                                                        "epochs, at the end, and on Ctrl-C or SIGTERM")
    g.add_argument("--checkpoint-every", type=positive_int, metavar="N", help="epochs between checkpoints (1)")
    g.add_argument("--resume", metavar="FILE", help="continue the run saved in FILE (same settings; --epochs is the "
                                                    "total)")
    g.add_argument("--config", metavar="FILE.toml", help="read settings from a TOML file (flags override it)")
    g.add_argument("--distributed", action="store_true", default=None,
                   help="data-parallel training over the ranks of mpiexec (needs deltaprop[mpi]): "
                        "mpiexec -n 4 deltaprop train … --distributed")
    g.add_argument("--progress", choices=["bar", "lines", "none"], default="bar",
                   help="a progress bar on a terminal (default; needs tqdm; a captured log gets a line per epoch), "
                        "lines (about ten), or nothing")
    g = p.add_argument_group("output")
    g.add_argument("--out", metavar="FILE", help="save the trained model (e.g. model.safetensors)")
    g.add_argument("--history", metavar="FILE", help="save the per-epoch history (.json or .csv)")
    g.add_argument("--plots", metavar="DIR", help="write loss, gradient, decision boundary … plots (PNG) to DIR")


def run(args: argparse.Namespace) -> int:
    from .config import load_config, merge

    config = load_config(args.config) if args.config else {}
    settings = merge(config, vars(args))
    settings["config"] = args.config
    if settings["data"] is None:
        raise ValueError("train: no data; pass --data with a data set name or a file (or set data in --config).")
    if settings["distributed"]:
        check_train_outputs(settings)
        return _run_distributed(settings, args.progress)
    run_training(settings, progress=args.progress)
    return 0


def _run_distributed(settings: dict[str, Any], progress: str) -> int:
    """One rank of ``mpiexec -n N deltaprop train … --distributed``: every rank trains; rank 0 alone
    prints and writes the outputs; an error on any rank aborts them all (docs/scale.md)."""
    import contextlib

    from ..train.distributed import abort_on_error, abort_on_failure, world

    comm = world()
    abort_on_error(comm)
    rank = comm.Get_rank()
    layout = "shared"
    if "{rank}" in settings["data"]:
        settings["data"], layout = settings["data"].replace("{rank}", str(rank)), "shard"
    if rank != 0:
        settings.update(out=None, history=None, plots=None)
    # an error on one rank (its shard missing, say) ends every rank instead of leaving them waiting
    with abort_on_failure(comm, code=2), open(os.devnull, "w") as quiet, \
            contextlib.redirect_stdout(quiet) if rank != 0 else contextlib.nullcontext():
        run_training(settings, progress=progress if rank == 0 else "none", distributed=layout)
    return 0


def run_training(s: dict[str, Any], *, progress: str = "bar", every: int | None = None,
                 distributed: str | None = None) -> Any:
    import numpy as np

    from ..nn.model import mlp
    from ..optim import optimizers
    from ..teach.diagnosis import TrainingMonitor, diagnose
    from ..train.batches import Chunks
    from ..train.callbacks import EarlyStopping, LambdaCallback
    from .config import column_list, load_data, memory_budget, parse_layers

    check_train_outputs(s)
    delimiter = None
    if s["delimiter"] is not None:
        from ..datasets.tabular import delimiter_of

        delimiter = delimiter_of(s["delimiter"])
    data = load_data(s["data"], target=s["target"], n_samples=s["n_samples"], noise=s["noise"], seed=s["seed"],
                     task=s["task"], features=column_list(s["features"]), drop=column_list(s["drop"]),
                     delimiter=delimiter, strict=s["strict"])
    if data.y is None:
        raise ValueError(f"train: {data.source} has no targets; pass a file with a target column (--target).")
    X, y = data.X, data.y
    X_test, y_test = data.X_test, data.y_test
    streamed = _streamed(X)
    if streamed and (s["standardize"] or s["test_split"]):
        if not isinstance(X, np.memmap) or X.nbytes > memory_budget():
            raise ValueError(f"train: {data.source} is read batch by batch (larger than memory), so --standardize "
                             "and --test-split do not apply; scale the features and hold out a test file beforehand.")
        X, y, streamed = np.asarray(X), np.asarray(y), False  # small enough: in memory, as these options need
    if s["standardize"] and distributed == "shard":
        raise ValueError("train: --standardize with one shard per rank ({rank} in --data) would scale each shard by "
                         "its own statistics; standardise the shards beforehand, or train on one shared file.")
    n_features = len(data.feature_names or ()) if isinstance(X, Chunks) else X.shape[1]
    if n_features == 0:
        raise ValueError(f"train: {data.source} has no feature columns besides the target; add input columns.")
    if s["test_split"] and X_test is None:
        from ..datasets import train_test_split

        train_rows, test_rows, y, y_test = train_test_split(np.arange(len(y)), y, test_size=s["test_split"],
                                                            seed=s["seed"], stratify=data.classes is not None)
        X, X_test = take_rows(X, train_rows), take_rows(X, test_rows)
    pre = None if streamed else _preprocessor(s, X)
    width = pre.n_features if pre is not None else n_features
    sizes = parse_layers(s["layers"]) if s["layers"] is not None else [width, 32, data.n_outputs]
    _check_sizes(sizes, width, data, pre)
    classify = data.classes is not None
    output = s["output"] or (("sigmoid" if sizes[-1] == 1 else "softmax") if classify else "identity")
    model = mlp(sizes, activation=s["activation"], output_activation=output, init=s["init"], dropout=s["dropout"],
                seed=s["seed"], dtype=s["dtype"])
    model.preprocessor = pre
    if classify and not _default_names(data.classes):
        model.classes = list(data.classes)  # type: ignore[arg-type]
    if pre is None and not isinstance(X, (np.ndarray, Chunks)):  # --no-preprocess: the table's numbers as they are
        X = X.to_matrix(where="train (--no-preprocess)")
        X_test = None if X_test is None else X_test.to_matrix(where="train (--no-preprocess)")
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
    if progress == "bar" and not _terminal():
        progress, every = "lines", 1  # a bar's carriage returns make a captured log unreadable: a line per epoch
    verbose = {"bar": 1, "lines": 0, "none": 0}[progress]
    if progress == "lines":
        step = every or max(1, s["epochs"] // 10)

        def report(epoch: int, logs: dict[str, float]) -> None:
            if epoch == 0 or (epoch + 1) % step == 0:
                print(f"epoch {epoch + 1:>5}  " + "  ".join(f"{k} {v:.4f}" for k, v in logs.items() if k != "lr"),
                      flush=True)

        callbacks.append(LambdaCallback(on_epoch_end=report))

    inputs = f"{n_features} features" if pre is None or pre.n_features == n_features else \
        f"{n_features} columns → {pre.n_features} inputs"
    print(f"data: {data.source}: {len(y):,} training samples, {inputs}"
          + (f", {len(data.classes)} classes" if classify else ", regression")
          + (f"; {len(y_test):,} test samples" if X_test is not None else ""))
    if pre is not None:
        print("preprocessing (fitted on the training rows, kept in the model):\n"
              + "\n".join(f"  {line}" for line in pre.describe().splitlines()))
    print(model.summary() + "\n")
    start = time.perf_counter()
    fit: Any = model.fit
    if distributed is not None:
        from functools import partial

        from ..train.distributed import fit_distributed

        fit = partial(fit_distributed, model, layout=distributed)
    history = fit(X, None if isinstance(X, Chunks) else y, loss=s["loss"], optimizer=optimizer,
                  epochs=s["epochs"], batch_size=s["batch_size"] or None, validation_split=s["validation_split"],
                  metrics=metrics, callbacks=callbacks, verbose=verbose, seed=s["seed"], checkpoint=s["checkpoint"],
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
        for key, value in model.evaluate(X_test, y_test, metrics=metrics).items():
            print(f"  test_{key:<9} {value:.4f}")
    kept = stopper.best_epoch if stopper is not None and stopper.restore_best_weights else None
    diagnosis = diagnose(monitor, history, kept_epoch=kept if kept is not None and kept >= 0 else None)
    print("\ntraining diagnosis:\n" + diagnosis.summary())

    for key in ("out", "history"):
        if s[key]:
            Path(s[key]).parent.mkdir(parents=True, exist_ok=True)
    if s["out"]:
        meta = {"data": data.source, "classes": data.classes, "feature_names": data.feature_names,
                "target": data.target or s["target"],
                "image_shape": list(data.image_shape) if data.image_shape else None}
        model.save(s["out"], metadata=meta)
        print(f"\nsaved the model to {s['out']}")
    if s["history"]:
        from ..teach.plots import save_history

        save_history(history, s["history"])
        print(f"saved the history to {s['history']}")
    if s["plots"]:
        if streamed and X_test is None:  # no figures that need every row in memory
            X, y = None, None
        write_plots(Path(s["plots"]), model=model, history=history, monitor=monitor, data=data,
                     X=X_test if X_test is not None else X, y=y_test if y_test is not None else y,
                     transform=model.preprocessor.transform if model.preprocessor is not None else lambda a: a,
                     fmt="png", label="test data" if X_test is not None else "training data")
    return model, history, diagnosis


def _streamed(X: Any) -> bool:
    from ..train.batches import is_streamed

    return is_streamed(X)


def check_train_outputs(s: dict[str, Any]) -> None:
    """Every output of a training run checked before the data is read: none may be an input, each must be
    named for what it holds, and ``--plots`` needs matplotlib."""
    check_outputs("train", [("--data", s["data"]), ("--config", s.get("config")), ("--resume", s["resume"])],
                  [Output("--out", s["out"], "model") if s["out"] else None,
                   Output("--checkpoint", s["checkpoint"], "checkpoint", replaces="--resume") if s["checkpoint"]
                   else None,
                   Output("--history", s["history"], "history") if s["history"] else None,
                   Output("--plots", s["plots"], "folder") if s["plots"] else None])
    if s["history"] and Path(s["history"]).suffix.lower() not in (".json", ".csv"):
        raise ValueError(f"train: --history {s['history']!r} must end in .json or .csv.")
    if s["plots"]:
        import importlib.util

        if importlib.util.find_spec("matplotlib") is None:
            raise ImportError('train: --plots needs matplotlib: pip install "deltaprop[plots]" (checked before '
                              "training, so no run is lost).")


def _terminal() -> bool:
    import sys

    return bool(getattr(sys.stderr, "isatty", lambda: False)())


def _preprocessor(s: dict[str, Any], X: Any) -> Any:
    """The Preprocessor fitted on the training rows (the validation rows fit will hold out excluded), or None.

    On for table files unless --no-preprocess; for arrays with --standardize."""
    import numpy as np

    from ..core.backend import rng_from
    from ..nn.preprocess import Preprocessor
    from ..train.tables import validation_rows

    table = not isinstance(X, np.ndarray)
    if not ((table and s["preprocess"]) or s["standardize"]):
        return None
    if table and not s["preprocess"]:
        X.to_matrix(where="train (--no-preprocess)")  # refuses text columns
    pre = Preprocessor(missing_indicator=bool(s["missing_indicator"]))
    split = validation_rows(X.shape[0], s["validation_split"], rng_from(s["seed"])) if s["validation_split"] else None
    rows = take_rows(X, split[1]) if split is not None else X
    try:
        return pre.fit(rows)
    except ValueError as err:  # in the command line's words
        raise ValueError(str(err).replace("Preprocessor.fit: ", "train: ").replace(
            "Leave it out, or raise max_categories.", "Leave it out with --drop, or choose columns with --features.")
        ) from None


def _default_names(classes: list[str]) -> bool:
    """Classes named 0..k−1 (integer labels) need no names in the model."""
    return list(classes) == [str(k) for k in range(len(classes))]


def _check_sizes(sizes: list[int], width: int, data: Any, pre: Any) -> None:
    if data.classes is not None and len(data.classes) < 2:
        raise ValueError(f"train: the target of {data.source} has only one class ({data.classes[0]!r}); a classifier "
                         "needs examples of at least two classes (or pass --task regression for numeric targets).")
    if sizes[0] != width:
        what = f"{data.source} has {width} features" if pre is None or pre.n_features == len(pre.input_names) else \
            f"{data.source}'s {len(pre.input_names)} columns encode to {width} inputs (one-hot text columns)"
        raise ValueError(f"train: --layers starts with {sizes[0]} inputs but {what}; start the list with {width} "
                         "(or leave out --layers).")
    if data.classes is not None:
        k = len(data.classes)
        ok = (1, 2) if k == 2 else (k,)
        if sizes[-1] not in ok:
            raise ValueError(f"train: --layers ends with {sizes[-1]} outputs but the data has {k} classes; end it "
                             f"with {' or '.join(map(str, ok))}.")
    elif sizes[-1] != data.n_outputs:
        raise ValueError(f"train: --layers ends with {sizes[-1]} outputs but the data has {data.n_outputs} target "
                         f"column(s).")
