"""What several commands share: loading a model and its data, turning raw data into the network's
inputs (the model's preprocessor, or the mean/std older files stored), writing plots and text outputs."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np



def load_model(path: str) -> tuple[Any, dict[str, Any]]:
    from ..io.model_file import load, read_metadata

    if not Path(path).is_file():
        raise FileNotFoundError(f"no such model file {path!r}.")
    model = load(path)
    user = read_metadata(path).get("user")
    user = user if isinstance(user, dict) else {}
    check_user_metadata(model, user, where=f"load {path!r}")
    return model, user


def check_user_metadata(model: Any, user: dict[str, Any], *, where: str) -> None:
    """The metadata ``train --out`` stores, checked against the network it describes: class and feature
    names, the input standardisation and the image shape must fit, or the file is refused (ModelFileError)
    here rather than failing with an IndexError at predict or broadcasting silently."""
    import numpy as np

    from ..io.model_file import ModelFileError

    def fail(what: str) -> None:
        raise ModelFileError(f"{where}: the metadata's {what}; the file is damaged or was edited.")

    def strings(key: str, n: tuple[int, ...]) -> None:
        v = user.get(key)
        if v is not None and not (isinstance(v, list) and all(isinstance(s, str) for s in v) and len(v) in n):
            fail(f"{key!r} must be a list of {' or '.join(map(str, n))} names for this network, got {v!r:.100}")

    k = model.n_outputs
    strings("classes", (2,) if k == 1 else (k,))
    pre = getattr(model, "preprocessor", None)  # raw table columns in, encoded features out
    strings("feature_names", (len(pre.input_names) if pre is not None else model.n_inputs,))
    if user.get("classes") is not None and len(set(user["classes"])) != len(user["classes"]):
        fail("'classes' holds a name twice")
    for key in ("input_mean", "input_std"):
        v = user.get(key)
        ok = v is None or (isinstance(v, list) and len(v) == model.n_inputs
                           and all(isinstance(x, (int, float)) and not isinstance(x, bool) and np.isfinite(x)
                                   for x in v))
        if not ok:
            fail(f"{key!r} must be null or {model.n_inputs} finite numbers (one per input), got {v!r:.100}")
    if (user.get("input_mean") is None) != (user.get("input_std") is None):
        fail("'input_mean' and 'input_std' must be given together")
    if user.get("input_std") is not None and min(user["input_std"]) <= 0:
        fail("'input_std' must be positive")
    shape = user.get("image_shape")
    if shape is not None and not (isinstance(shape, list) and len(shape) == 2
                                  and all(isinstance(s, int) and not isinstance(s, bool) and s > 0 for s in shape)
                                  and shape[0] * shape[1] == model.n_inputs):
        fail(f"'image_shape' must be [rows, cols] with rows·cols = {model.n_inputs} inputs, got {shape!r:.100}")
    for key in ("target", "data"):
        if user.get(key) is not None and not isinstance(user[key], str):
            fail(f"{key!r} must be a string or null, got {user[key]!r:.100}")


def model_data(spec: str, meta: dict[str, Any], *, target: str | None, need_target: bool, part: str,
               model: Any = None, delimiter: str | None = None) -> Any:
    import numpy as np

    from .config import load_data

    task = ("classification" if meta.get("classes") else "regression") if meta else "auto"
    features = model.preprocessor.input_names if model is not None and model.preprocessor is not None \
        else meta.get("feature_names")
    data = load_data(spec, target=target or meta.get("target"), features=features, need_target=need_target,
                     task=task, delimiter=delimiter)
    if part == "test" and data.X_test is not None:
        data.X, data.y = data.X_test, data.y_test
    classes = (model.classes if model is not None and model.classes else None) or meta.get("classes")
    if data.y is not None and classes and data.classes and data.classes != classes:
        # the file's own classes, renumbered as the model learned them
        lookup = {name: k for k, name in enumerate(classes)}
        unknown = sorted(set(data.classes) - set(lookup))
        if unknown:
            raise ValueError(f"{spec}: classes {unknown} were not in the training data ({', '.join(classes)}).")
        data.y = np.array([lookup[data.classes[i]] for i in data.y], dtype=np.intp)
        data.classes = list(classes)
    return data


def network_inputs(model: Any, meta: dict[str, Any]) -> Callable[[Any], np.ndarray]:
    """Raw data → the network's input rows: the model's preprocessor; for files written before
    preprocessing travelled with the model, the mean and std in their metadata; else the numbers as they are."""
    import numpy as np

    if model is not None and model.preprocessor is not None:
        return model.preprocessor.transform
    mean, std = meta.get("input_mean"), meta.get("input_std")
    if mean is None:
        return _matrix
    mean_a, std_a = np.asarray(mean, dtype=np.float64), np.asarray(std, dtype=np.float64)
    return lambda X: (_matrix(X) - mean_a) / std_a


def _matrix(X: Any) -> np.ndarray:
    from ..datasets.columns import Columns

    return X.to_matrix(where="data") if isinstance(X, Columns) else X


def delimiter_arg(args: argparse.Namespace) -> str | None:
    """--delimiter as the character itself (None: sniff)."""
    if getattr(args, "delimiter", None) is None:
        return None
    from ..datasets.tabular import delimiter_of

    return delimiter_of(args.delimiter)


def take_rows(X: Any, rows: Any) -> Any:
    """Rows of a matrix or of a table's columns."""
    from ..datasets.columns import Columns

    return X.take(rows) if isinstance(X, Columns) else X[rows]


def write_plots(folder: Path, *, model: Any, history: Any, monitor: Any, data: Any, X: Any, y: Any,
                 transform: Callable[[np.ndarray], np.ndarray], fmt: str, label: str | None = None) -> list[Path]:
    import numpy as np

    from ..teach import plots

    folder.mkdir(parents=True, exist_ok=True)
    written = []
    if history is not None:
        written.append(plots.save(plots.plot_history(history), folder / f"loss.{fmt}"))
    if monitor is not None:
        written.append(plots.save(plots.plot_gradient_norms(monitor), folder / f"gradients.{fmt}"))
    if model is not None and X is not None and y is not None and data.classes is not None:
        from ..datasets.columns import Columns

        if isinstance(X, Columns) and X.shape[1] == 2 and all(X.numeric(k) for k in X):
            X = X.to_matrix()
        if isinstance(X, np.ndarray) and X.shape[1] == 2:
            written.append(plots.save(plots.plot_decision_boundary(
                model, X, y, class_names=data.classes, feature_names=data.feature_names, transform=transform,
                data_label=label),
                folder / f"decision_boundary.{fmt}"))
        pred = model.predict_classes(transform(X), preprocess=False)
        written.append(plots.save(plots.plot_confusion_matrix(y, pred, class_names=data.classes, data_label=label),
                                  folder / f"confusion_matrix.{fmt}"))
    if model is not None and data is not None and data.image_shape is not None:
        written.append(plots.save(plots.plot_first_layer(model, image_shape=data.image_shape),
                                  folder / f"first_layer.{fmt}"))
    for path in written:
        print(f"wrote {path}")
    return written


def model_from_args(args: argparse.Namespace) -> tuple[Any, dict[str, Any]]:
    """The model named by --model, built from --layers, or the seed's XOR network."""
    if getattr(args, "model", None):
        return load_model(args.model)
    if getattr(args, "layers", None):
        from ..nn.model import mlp
        from .config import parse_layers

        return mlp(parse_layers(args.layers), activation=args.activation, output_activation=args.output,
                   seed=args.seed, dtype="float64"), {}
    from ..teach.seed import seed_network

    return seed_network(), {}


def emit(text: str, out: str | None) -> None:
    """``text`` to stdout, or atomically to the file ``out`` (the old file survives a failed write)."""
    from ..io.model_file import write_text_atomic

    if out:
        write_text_atomic(out, text if text.endswith("\n") else text + "\n", where=f"write {out!r}")
        print(f"wrote {out}", file=sys.stderr)
    else:
        sys.stdout.write(text if text.endswith("\n") else text + "\n")
