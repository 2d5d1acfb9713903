"""scikit-learn estimators: ``MLPClassifier`` and ``MLPRegressor`` with the parameters of
``sklearn.neural_network``'s, trained by deltaprop's backpropagation.

They are ordinary scikit-learn estimators (``get_params``/``set_params``, ``clone``, pickling,
``Pipeline``, ``GridSearchCV``, ``cross_val_score``) and pass ``check_estimator``. The network is
``model_``, a ``deltaprop.Sequential``; ``save(path)`` writes it, with what the estimator needs,
to a safe model file, and ``MLPClassifier.load(path)`` reads it back.

Matching scikit-learn: weights and biases start from scikit-learn's Glorot-uniform draw;
``alpha`` is the L2 penalty ½·alpha·‖W‖² per batch, divided by the batch's total sample weight
(weights only, not biases); ``batch_size="auto"`` is min(200, n); training stops when the loss
(or, with ``early_stopping``, the validation score) has not improved by ``tol`` for more than
``n_iter_no_change`` epochs; ``loss_curve_`` holds the objective (mean loss plus the penalty).
Not supported: ``solver="lbfgs"``, ``learning_rate`` schedules other than constant, ``power_t``,
``max_fun``. scikit-learn is imported here, so ``import deltaprop`` never
needs it; this module is loaded only by ``import deltaprop.sklearn``.
"""

from __future__ import annotations

import numbers
import sys
import warnings
from typing import Any, ClassVar

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import accuracy_score, r2_score
from sklearn.model_selection import train_test_split
from sklearn.utils import check_random_state, compute_sample_weight
from sklearn.utils.multiclass import check_classification_targets, unique_labels
from sklearn.utils.validation import check_is_fitted, column_or_1d, validate_data

from .core.backend import spawn_seeds
from .core.registry import lookup
from .io import model_file as dpio
from .nn import layers as layers_mod
from .nn import losses as losses_mod
from .nn.model import Sequential
from .optim import optimizers as optimizers_mod
from .train.callbacks import Callback
from .train.loop import fit as dp_fit

_ACTIVATION_ALIASES = {"logistic": "sigmoid"}


class _BaseMLP(BaseEstimator):
    """What the classifier and the regressor share: parameters, the training loop, persistence."""

    _default_loss: str
    _default_output: str
    #: output activations that make sense for the task (None: any)
    _output_activations: ClassVar[dict[str, Any] | None] = None

    def __init__(self, hidden_layer_sizes: Any = (100,), activation: str = "relu", *, solver: str = "adam",
                 alpha: float = 0.0001, batch_size: int | str = "auto", learning_rate_init: float = 0.001,
                 max_iter: int = 200, shuffle: bool = True, random_state: Any = None, tol: float = 1e-4,
                 verbose: bool = False, warm_start: bool = False, momentum: float = 0.9,
                 nesterovs_momentum: bool = True, early_stopping: bool = False, validation_fraction: float = 0.1,
                 beta_1: float = 0.9, beta_2: float = 0.999, epsilon: float = 1e-8, n_iter_no_change: int = 10,
                 loss: str | None = None, output_activation: str | None = None, dropout: float = 0.0,
                 dtype: str | None = None) -> None:
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.solver = solver
        self.alpha = alpha
        self.batch_size = batch_size
        self.learning_rate_init = learning_rate_init
        self.max_iter = max_iter
        self.shuffle = shuffle
        self.random_state = random_state
        self.tol = tol
        self.verbose = verbose
        self.warm_start = warm_start
        self.momentum = momentum
        self.nesterovs_momentum = nesterovs_momentum
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon
        self.n_iter_no_change = n_iter_no_change
        self.loss = loss
        self.output_activation = output_activation
        self.dropout = dropout
        self.dtype = dtype

    # -- scikit-learn protocol -------------------------------------------------------------------
    def fit(self, X: Any, y: Any, sample_weight: Any = None) -> _BaseMLP:
        """Train for up to ``max_iter`` epochs (fresh weights unless ``warm_start``)."""
        return self._fit(X, y, sample_weight, incremental=False)

    def _partial_fit(self, X: Any, y: Any, sample_weight: Any = None) -> _BaseMLP:
        return self._fit(X, y, sample_weight, incremental=True)

    # -- the training ----------------------------------------------------------------------------
    def _fit(self, X: Any, y: Any, sample_weight: Any, *, incremental: bool) -> _BaseMLP:
        self._check_params()
        first = not (incremental or self.warm_start) or not hasattr(self, "model_") \
            or (not incremental and self._architecture() != self._built_for)
        X, y = _validate(self, X, y, reset=first, dtype=[np.float64, np.float32], accept_sparse=False,
                             multi_output=self._multi_output(), y_numeric=isinstance(self, RegressorMixin))
        y = self._clean_y(y)
        targets = self._encode_targets(y, first=first, incremental=incremental)
        sw = self._sample_weight(sample_weight, y, len(X))
        if first:
            self._rng = check_random_state(self.random_state)
            self._build(X)
        self._fit_epochs(X, targets, sw, incremental=incremental)
        return self

    def _check_params(self) -> None:
        sizes = self.hidden_layer_sizes
        sizes = [sizes] if isinstance(sizes, numbers.Integral) else list(sizes)
        if any(isinstance(s, bool) or not isinstance(s, numbers.Integral) or s < 1 for s in sizes):
            raise ValueError(f"hidden_layer_sizes must be positive ints, got {self.hidden_layer_sizes!r}.")
        if self.solver == "lbfgs":
            raise ValueError("solver='lbfgs' is not supported: deltaprop trains with backpropagation and first-order "
                             "mini-batch updates; L-BFGS needs full-batch line searches that it does not implement. "
                             "Use solver='adam' or 'sgd' (or sklearn.neural_network's estimator for L-BFGS).")
        if self.solver not in ("adam", "sgd"):
            raise ValueError(f"solver must be 'adam' or 'sgd', got {self.solver!r}.")
        checks = [("alpha", self.alpha, 0.0, False), ("learning_rate_init", self.learning_rate_init, 0.0, True),
                  ("tol", self.tol, 0.0, False), ("momentum", self.momentum, 0.0, False),
                  ("dropout", self.dropout, 0.0, False)]
        for name, value, low, strict in checks:
            if isinstance(value, bool) or not isinstance(value, numbers.Real) or not np.isfinite(value) \
                    or value < low or (strict and value == low):
                raise ValueError(f"{name} must be a finite number {'>' if strict else '>='} {low}, got {value!r}.")
        for name, value in (("momentum", self.momentum), ("dropout", self.dropout), ("beta_1", self.beta_1),
                            ("beta_2", self.beta_2)):
            if not 0 <= value < 1:
                raise ValueError(f"{name} must be in [0, 1), got {value!r}.")
        if not 0 < self.validation_fraction < 1:
            raise ValueError(f"validation_fraction must be in (0, 1), got {self.validation_fraction!r}.")
        for name, value in (("max_iter", self.max_iter), ("n_iter_no_change", self.n_iter_no_change)):
            if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
                raise ValueError(f"{name} must be a positive int, got {value!r}.")
        bs = self.batch_size
        if bs != "auto" and (isinstance(bs, bool) or not isinstance(bs, numbers.Integral) or bs < 1):
            raise ValueError(f"batch_size must be 'auto' or a positive int, got {bs!r}.")
        if not (isinstance(self.epsilon, numbers.Real) and self.epsilon > 0):
            raise ValueError(f"epsilon must be a positive number, got {self.epsilon!r}.")
        if self.dtype not in (None, "float32", "float64", np.float32, np.float64):
            raise ValueError(f"dtype must be None (follow X), 'float32' or 'float64', got {self.dtype!r}.")
        lookup("activation", _ACTIVATION_ALIASES.get(self.activation, self.activation), layers_mod.ACTIVATIONS)
        if self.output_activation is not None:
            choices = self._output_activations or layers_mod.ACTIVATIONS
            lookup("output_activation", self.output_activation, choices)
        if self.loss is not None:
            lookup("loss", self.loss, losses_mod.LOSSES)

    def _architecture(self) -> tuple[Any, ...]:
        """What the network is built from: a warm start with other values starts afresh."""
        sizes = self.hidden_layer_sizes
        sizes = (sizes,) if isinstance(sizes, numbers.Integral) else tuple(sizes)
        return sizes, self.activation, self.output_activation, self.dropout, self.dtype

    def _clean_y(self, y: Any) -> Any:
        return y

    def _sample_weight(self, sample_weight: Any, y: Any, n: int) -> np.ndarray | None:
        """Sample weights (times class weights), or None; all-zero or negative weights are errors."""
        sw = None
        if sample_weight is not None:
            sw = np.asarray(sample_weight, dtype=np.float64)
            if sw.ndim == 0:
                sw = np.full(n, float(sw))
            if sw.shape != (n,):
                raise ValueError(f"sample_weight.shape == {sw.shape}, expected ({n},): one weight per sample.")
            if not np.isfinite(sw).all() or (sw < 0).any():
                raise ValueError("sample_weight must be finite and non-negative.")
        class_weight = getattr(self, "class_weight", None)
        if class_weight is not None:
            cw = compute_sample_weight(class_weight, y)
            sw = cw if sw is None else sw * cw
        if sw is not None and not sw.any():
            raise ValueError("sample_weight: all weights are zero; at least one sample needs a positive weight.")
        return sw

    def _build(self, X: np.ndarray) -> None:
        sizes = self.hidden_layer_sizes
        sizes = [sizes] if isinstance(sizes, numbers.Integral) else list(sizes)
        dtype = self.dtype if self.dtype is not None else (np.float32 if X.dtype == np.float32 else np.float64)
        out = self.output_activation if self.output_activation is not None else self._default_output
        out = _ACTIVATION_ALIASES.get(out, out)
        self.out_activation_ = out
        self.model_ = self._network([X.shape[1], *[int(s) for s in sizes], self.n_outputs_], out, dtype)
        self.n_layers_ = len(sizes) + 2
        self._built_for = self._architecture()
        self.n_iter_, self.t_ = 0, 0
        self.loss_curve_: list[float] = []
        self.best_loss_: float | None = np.inf
        self.validation_scores_: list[float] | None = None
        self.validation_loss_curve_: list[float] | None = None
        self.best_validation_score_: float | None = None
        self._optimizer: optimizers_mod.Optimizer | None = None
        self._no_improvement_count = 0

    def _network(self, widths: list[int], out: str, dtype: Any) -> Sequential:
        """Dense layers initialised as scikit-learn does: weights and biases from U(−r, r) with
        r = √(6 / (n_in + n_out)) (Glorot & Bengio 2010), √(2 / (n_in + n_out)) for logistic units."""
        hidden = _ACTIVATION_ALIASES.get(self.activation, self.activation)
        factor = 2.0 if hidden == "sigmoid" else 6.0
        seed = int(self._rng.randint(np.iinfo(np.int32).max))
        init_rng, *dropout_rngs = spawn_seeds(seed, len(widths))
        layers: list[layers_mod.Layer] = []
        for k, (n_in, n_out) in enumerate(zip(widths[:-1], widths[1:])):
            r = np.sqrt(factor / (n_in + n_out))
            W = init_rng.uniform(-r, r, (n_out, n_in))
            b = init_rng.uniform(-r, r, n_out)
            layers.append(layers_mod.Dense(n_in, n_out, init=W, bias_init=b, dtype=dtype))
            last = k == len(widths) - 2
            layers.append(layers_mod.activation(out if last else hidden))
            if self.dropout and not last:
                layers.append(layers_mod.Dropout(float(self.dropout), seed=dropout_rngs[k]))
        return Sequential(layers, dtype=dtype, seed=dropout_rngs[-1])

    def _make_optimizer(self, decay: float) -> optimizers_mod.Optimizer:
        if self.solver == "adam":
            return optimizers_mod.Adam(lr=self.learning_rate_init, betas=(self.beta_1, self.beta_2), eps=self.epsilon,
                                       weight_decay=decay, decay_bias=False)
        nesterov = bool(self.nesterovs_momentum) and self.momentum > 0
        return optimizers_mod.SGD(lr=self.learning_rate_init, momentum=self.momentum, nesterov=nesterov,
                                  weight_decay=decay, decay_bias=False)

    def _fit_epochs(self, X: np.ndarray, targets: np.ndarray, sw: np.ndarray | None, *, incremental: bool) -> None:
        early_stopping = self.early_stopping and not incremental
        val = None
        if early_stopping:
            stratify = targets if isinstance(self, ClassifierMixin) and targets.ndim == 1 else None
            parts = train_test_split(X, targets, np.arange(len(X)), random_state=self._rng,
                                     test_size=self.validation_fraction, stratify=stratify)
            X, Xv, targets, tv, ti, vi = parts
            val = (Xv, tv, None if sw is None else sw[vi])
            sw = None if sw is None else sw[ti]
            if self.validation_scores_ is None:
                self.validation_scores_, self.validation_loss_curve_ = [], []
                self.best_validation_score_ = -np.inf
            self.best_loss_ = None
        n = len(X)
        bs = min(200, n) if self.batch_size == "auto" else self.batch_size
        if bs > n:
            if self.batch_size != "auto":
                warnings.warn(f"Got batch_size={bs} larger than the {n} samples; it is clipped to {n}.",
                              stacklevel=3)
            bs = n
        weights = None
        decay = self.alpha / bs
        if sw is not None:
            total = float(sw.sum())
            if total <= 0:
                raise ValueError("sample_weight: the training samples' weights are all zero.")
            weights = sw * (n / total)  # mean 1: the loss is Σ w L / Σ w, as with repeated samples
            decay = self.alpha / (bs * total / n)  # penalty over the batch's total weight, as scikit-learn
        if self._optimizer is None or not incremental:
            self._optimizer = self._make_optimizer(decay)
        else:
            self._optimizer.weight_decay = decay
        epochs = 1 if incremental else self.max_iter
        monitor = _Monitor(self, val, decay, incremental)
        history = dp_fit(self.model_, X, targets, loss=self._loss_name(), optimizer=self._optimizer, epochs=epochs,
                         batch_size=bs, shuffle=bool(self.shuffle), callbacks=[monitor], sample_weight=weights,
                         validation_data=None if val is None else val[:2],
                         seed=int(self._rng.randint(np.iinfo(np.int32).max)))
        ran = len(history)
        self.n_iter_ += ran
        self.t_ += ran * n
        if early_stopping and monitor.best_weights is not None:
            self.model_.set_weights(monitor.best_weights)
        if not incremental and not monitor.converged and ran == self.max_iter:
            warnings.warn(f"Stochastic Optimizer: Maximum iterations ({self.max_iter}) reached and the optimization "
                          "hasn't converged yet.", ConvergenceWarning, stacklevel=3)

    def _loss_name(self) -> str:
        if self.loss is not None:
            return self.loss
        if isinstance(self, ClassifierMixin):
            return "categorical_crossentropy" if self.out_activation_ == "softmax" else "binary_crossentropy"
        return self._default_loss

    def _predict_raw(self, X: Any) -> np.ndarray:
        check_is_fitted(self, "model_")
        X = _validate(self, X, reset=False, dtype=[np.float64, np.float32], accept_sparse=False)
        return self.model_.predict(X)

    # -- coefficients in scikit-learn's layout -----------------------------------------------------
    @property
    def coefs_(self) -> list[np.ndarray]:
        """Weight matrices as scikit-learn lays them out, (n_in, n_out): the transposes of the Dense W."""
        check_is_fitted(self, "model_")
        return [layer.W.T for layer in self.model_.layers if isinstance(layer, layers_mod.Dense)]

    @property
    def intercepts_(self) -> list[np.ndarray]:
        """Bias vectors, one per Dense layer."""
        check_is_fitted(self, "model_")
        return [layer.b for layer in self.model_.layers if isinstance(layer, layers_mod.Dense)]

    # -- persistence -------------------------------------------------------------------------------
    _FITTED = ("n_features_in_", "n_outputs_", "n_layers_", "n_iter_", "t_", "loss_curve_", "best_loss_",
               "validation_scores_", "validation_loss_curve_", "best_validation_score_", "out_activation_")

    def save(self, path: Any) -> None:
        """Write the fitted estimator to a safe model file (safetensors; no pickle): the network, the
        parameters and the fitted attributes. ``type(self).load(path)`` reads it back."""
        check_is_fitted(self, "model_")
        params = self.get_params()
        if isinstance(params.get("class_weight"), dict):
            params["class_weight"] = {"pairs": [[_plain(k), float(v)] for k, v in params["class_weight"].items()]}
        if not isinstance(params["random_state"], (int, type(None))):
            params["random_state"] = None
        if params["dtype"] is not None:
            params["dtype"] = np.dtype(params["dtype"]).name
        fitted = {k: _plain(getattr(self, k)) for k in self._FITTED}
        extra = {"estimator": type(self).__name__, "params": params, "fitted": fitted,
                 "classes": None if not hasattr(self, "classes_") else [_plain(c) for c in self.classes_],
                 "y_1d": getattr(self, "_y_1d", True),
                 "feature_names_in": None if not hasattr(self, "feature_names_in_")
                 else [str(c) for c in self.feature_names_in_]}
        self.model_.save(path, metadata={"sklearn": extra})

    @classmethod
    def load(cls, path: Any) -> _BaseMLP:
        """An estimator written by ``save``; ``deltaprop.ModelFileError`` if the file is not one."""
        model = dpio.load(path)
        user = dpio.read_metadata(path)["user"]
        info = user.get("sklearn") if isinstance(user, dict) else None
        if not isinstance(info, dict) or info.get("estimator") != cls.__name__:
            found = info.get("estimator") if isinstance(info, dict) else None
            raise dpio.ModelFileError(f"load: {str(path)!r} does not hold a {cls.__name__} (found {found!r}); "
                                      "use deltaprop.load for plain model files.")
        try:
            params = dict(info["params"])
            if isinstance(params.get("class_weight"), dict):
                params["class_weight"] = {k: v for k, v in params["class_weight"]["pairs"]}
            if isinstance(params.get("hidden_layer_sizes"), list):
                params["hidden_layer_sizes"] = tuple(params["hidden_layer_sizes"])
            est = cls(**params)
            for key in cls._FITTED:
                setattr(est, key, info["fitted"][key])
            if info["classes"] is not None:
                est.classes_ = np.array(info["classes"])
            if info["feature_names_in"] is not None:
                est.feature_names_in_ = np.array(info["feature_names_in"], dtype=object)
        except (KeyError, TypeError, ValueError) as err:
            raise dpio.ModelFileError(f"load: the estimator metadata in {str(path)!r} is invalid ({err}).") from None
        est.model_ = model
        est._y_1d = bool(info.get("y_1d", True))
        est._built_for = est._architecture()
        est._rng = check_random_state(est.random_state)
        est._optimizer, est._no_improvement_count = None, 0
        return est

    def __getstate__(self) -> dict[str, Any]:
        """Pickle the network as safetensors bytes, not as Python objects: compact, and free of the
        activations the layers cache from the last forward pass."""
        state = self.__dict__.copy()
        model = state.pop("model_", None)
        if model is not None:
            state["_model_bytes"] = dpio.encode(dpio.model_tensors(model), dpio.model_metadata(model, kind="model"))
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        data = state.pop("_model_bytes", None)
        self.__dict__.update(state)
        if data is not None:
            f = dpio.decode(data, where="unpickle")
            self.model_ = dpio.build_model(dpio.decode_metadata(f.metadata, "unpickle"), f.tensors, where="unpickle")


class _Monitor(Callback):
    """scikit-learn's stopping rule and curves, evaluated at the end of every epoch of ``fit``."""

    def __init__(self, est: _BaseMLP, val: tuple[Any, Any, Any] | None, decay: float, incremental: bool) -> None:
        self.est, self.val, self.decay, self.incremental = est, val, decay, incremental
        self.best_weights: dict[str, np.ndarray] | None = None
        self.converged = False

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        est, logs = self.est, logs or {}
        penalty = 0.5 * self.decay * sum(float(np.vdot(layer.W, layer.W)) for layer in self.model.layers
                                         if isinstance(layer, layers_mod.Dense))
        loss = float(logs["loss"]) + penalty
        est.loss_curve_.append(loss)
        if est.verbose:
            print(f"Iteration {est.n_iter_ + epoch + 1}, loss = {loss:.8f}", file=sys.stdout)
        if self.incremental:
            if est.best_loss_ is not None and loss < est.best_loss_:
                est.best_loss_ = loss
            return
        if self.val is not None:
            Xv, tv, swv = self.val
            score = est._validation_score(self.model.predict(Xv), tv, swv)
            est.validation_scores_.append(score)  # type: ignore[union-attr]
            est.validation_loss_curve_.append(float(logs["val_loss"]))  # type: ignore[union-attr]
            if score < est.best_validation_score_ + est.tol:  # type: ignore[operator]
                est._no_improvement_count += 1
            else:
                est._no_improvement_count = 0
            if score > est.best_validation_score_:  # type: ignore[operator]
                est.best_validation_score_ = score
                self.best_weights = self.model.get_weights()
        else:
            if loss > est.best_loss_ - est.tol:  # type: ignore[operator]
                est._no_improvement_count += 1
            else:
                est._no_improvement_count = 0
            if loss < est.best_loss_:  # type: ignore[operator]
                est.best_loss_ = loss
        if est._no_improvement_count > est.n_iter_no_change:
            what = "Validation score" if self.val is not None else "Training loss"
            if est.verbose:
                print(f"{what} did not improve more than tol={est.tol} for {est.n_iter_no_change} consecutive "
                      "epochs. Stopping.", file=sys.stdout)
            est._no_improvement_count = 0
            self.converged = True
            self.model.stop_training = True


class MLPClassifier(ClassifierMixin, _BaseMLP):
    """Multilayer perceptron classifier trained with deltaprop's backpropagation.

    Binary problems get one sigmoid output and binary cross-entropy; more classes get a softmax
    output and categorical cross-entropy (both fused, E8). Labels may be any sortable values.
    ``class_weight`` ({label: weight} or "balanced") multiplies each sample's weight."""

    _default_output = "softmax"
    _output_activations: ClassVar[dict[str, Any] | None] = {"sigmoid": 1, "logistic": 1, "softmax": 1}

    def __init__(self, hidden_layer_sizes: Any = (100,), activation: str = "relu", *, solver: str = "adam",
                 alpha: float = 0.0001, batch_size: int | str = "auto", learning_rate_init: float = 0.001,
                 max_iter: int = 200, shuffle: bool = True, random_state: Any = None, tol: float = 1e-4,
                 verbose: bool = False, warm_start: bool = False, momentum: float = 0.9,
                 nesterovs_momentum: bool = True, early_stopping: bool = False, validation_fraction: float = 0.1,
                 beta_1: float = 0.9, beta_2: float = 0.999, epsilon: float = 1e-8, n_iter_no_change: int = 10,
                 loss: str | None = None, output_activation: str | None = None, dropout: float = 0.0,
                 class_weight: dict[Any, float] | str | None = None, dtype: str | None = None) -> None:
        super().__init__(hidden_layer_sizes, activation, solver=solver, alpha=alpha, batch_size=batch_size,
                         learning_rate_init=learning_rate_init, max_iter=max_iter, shuffle=shuffle,
                         random_state=random_state, tol=tol, verbose=verbose, warm_start=warm_start,
                         momentum=momentum, nesterovs_momentum=nesterovs_momentum, early_stopping=early_stopping,
                         validation_fraction=validation_fraction, beta_1=beta_1, beta_2=beta_2, epsilon=epsilon,
                         n_iter_no_change=n_iter_no_change, loss=loss, output_activation=output_activation,
                         dropout=dropout, dtype=dtype)
        self.class_weight = class_weight

    def _multi_output(self) -> bool:
        return False

    def _clean_y(self, y: Any) -> Any:
        return column_or_1d(y, warn=True)

    def _encode_targets(self, y: Any, *, first: bool, incremental: bool, classes: Any = None) -> np.ndarray:
        check_classification_targets(y)
        if first:
            self.classes_ = unique_labels(y if classes is None else classes)
            if len(self.classes_) < 2:
                raise ValueError(f"{type(self).__name__} needs samples of at least 2 classes, got 1 class "
                                 f"({_plain(self.classes_[0])!r}); include samples of every class.")
            binary = len(self.classes_) == 2 and self.output_activation != "softmax"
            self._default_output = "sigmoid" if binary else "softmax"
            self.n_outputs_ = 1 if binary else len(self.classes_)
        else:
            unseen = np.setdiff1d(unique_labels(y), self.classes_)
            if len(unseen):
                what = "partial_fit" if incremental else "warm_start"
                raise ValueError(f"{what}: y has classes {unseen.tolist()} that are not in classes_ "
                                 f"{self.classes_.tolist()}; the classes are fixed by the first fit.")
        idx = np.searchsorted(self.classes_, y)
        return idx.astype(np.float64) if self.n_outputs_ == 1 else idx

    def _sample_weight(self, sample_weight: Any, y: Any, n: int) -> np.ndarray | None:
        sw = super()._sample_weight(sample_weight, y, n)
        if sw is not None:
            kept = np.unique(np.asarray(y)[sw > 0])
            if len(kept) < 2:
                raise ValueError(f"sample_weight leaves samples of only 1 class ({kept[0]!r}) with a positive "
                                 "weight; a classifier needs at least 2 classes.")
        return sw

    def _validation_score(self, a: np.ndarray, t: np.ndarray, sw: Any) -> float:
        pred = (a[:, 0] >= 0.5).astype(np.intp) if a.shape[1] == 1 else a.argmax(axis=1)
        return float(accuracy_score(t.astype(np.intp), pred, sample_weight=sw))

    def partial_fit(self, X: Any, y: Any, classes: Any = None, sample_weight: Any = None) -> MLPClassifier:
        """One epoch over (X, y), keeping the optimizer's state between calls. The first call needs
        ``classes``, every label that will ever appear."""
        first = not hasattr(self, "model_")
        if first and classes is None:
            raise ValueError("partial_fit: the first call needs classes=, the list of all labels (e.g. "
                             "np.unique(y_all)).")
        self._check_params()
        X, y = _validate(self, X, y, reset=first, dtype=[np.float64, np.float32], accept_sparse=False)
        y = self._clean_y(y)
        targets = self._encode_targets(y, first=first, incremental=True, classes=classes)
        sw = self._sample_weight(sample_weight, y, len(X))
        if first:
            self._rng = check_random_state(self.random_state)
            self._build(X)
        self._fit_epochs(X, targets, sw, incremental=True)
        return self

    def predict_proba(self, X: Any) -> np.ndarray:
        """Class probabilities, one column per entry of ``classes_``."""
        a = self._predict_raw(X)
        if a.shape[1] == 1:
            return np.hstack([1.0 - a, a])
        if self.out_activation_ != "softmax":  # e.g. one sigmoid per class: normalise to a distribution
            a = a / np.maximum(a.sum(axis=1, keepdims=True), np.finfo(a.dtype).tiny)
        return a

    def predict_log_proba(self, X: Any) -> np.ndarray:
        """log of ``predict_proba``."""
        with np.errstate(divide="ignore"):
            return np.log(self.predict_proba(X))

    def predict(self, X: Any) -> np.ndarray:
        """The most probable class label of each row."""
        proba = self.predict_proba(X)
        return self.classes_[proba.argmax(axis=1)]

    def score(self, X: Any, y: Any, sample_weight: Any = None) -> float:
        """Mean accuracy on (X, y). A label of y that was not among ``classes_`` in fit can never be
        predicted: it counts as an error, as in scikit-learn, and a UserWarning names it."""
        check_is_fitted(self, "model_")
        try:
            unseen = np.setdiff1d(unique_labels(y), self.classes_)
        except (TypeError, ValueError):  # labels of another type: accuracy_score gives the clear error
            unseen = np.array([])
        if len(unseen):
            warnings.warn(f"score: y has label(s) {unseen.tolist()[:10]} that were not in the training data "
                          f"(classes_ = {self.classes_.tolist()[:10]}); the classifier cannot predict them, so "
                          "those samples count as errors. Fit on data that has every class.", UserWarning,
                          stacklevel=2)
        return float(super().score(X, y, sample_weight=sample_weight))



class MLPRegressor(RegressorMixin, _BaseMLP):
    """Multilayer perceptron regressor trained with deltaprop's backpropagation.

    The default loss is scikit-learn's squared error, ½·mean (y − ŷ)² ("half_sse"); any deltaprop
    regression loss ("mse", "mae", "huber") and output activation (identity by default) can be
    chosen. A 2-D y trains one output per column."""

    _default_output = "identity"
    _default_loss = "half_sse"

    def _multi_output(self) -> bool:
        return True

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True  # a 2-D y trains one output per column
        return tags

    def _encode_targets(self, y: Any, *, first: bool, incremental: bool) -> np.ndarray:
        y = np.asarray(y, dtype=np.float64)
        targets = y.reshape(-1, 1) if y.ndim == 1 else y
        if first:
            self._y_1d = y.ndim == 1
            self.n_outputs_ = targets.shape[1]
        elif targets.shape[1] != self.n_outputs_:
            raise ValueError(f"y has {targets.shape[1]} column(s) but the network was fitted with {self.n_outputs_}.")
        return targets

    def _validation_score(self, a: np.ndarray, t: np.ndarray, sw: Any) -> float:
        return float(r2_score(t, a, sample_weight=sw))

    def partial_fit(self, X: Any, y: Any, sample_weight: Any = None) -> MLPRegressor:
        """One epoch over (X, y), keeping the optimizer's state between calls."""
        return self._partial_fit(X, y, sample_weight)

    def predict(self, X: Any) -> np.ndarray:
        """Predicted targets: (n,) if fitted on a 1-D y, else (n, n_outputs)."""
        a = self._predict_raw(X)
        return a.ravel() if self.n_outputs_ == 1 and getattr(self, "_y_1d", True) else a


def _validate(est: _BaseMLP, *args: Any, **kwargs: Any) -> Any:
    """scikit-learn's ``validate_data``, with an actionable message where NumPy's would be cryptic."""
    try:
        return validate_data(est, *args, **kwargs)
    except ValueError as err:
        text = str(err)
        if "inhomogeneous" in text:
            raise ValueError(f"{type(est).__name__}: X or y is ragged: its rows have different lengths; pass a "
                             "rectangular array (every row the same number of values).") from None
        if "could not convert string to float" in text:
            raise ValueError(f"{type(est).__name__}: X holds text ({text.split(': ', 1)[-1]}); encode text "
                             "columns as numbers first, e.g. with sklearn.preprocessing.OneHotEncoder in a "
                             "Pipeline.") from None
        raise


def _plain(value: Any) -> Any:
    """JSON-ready plain data from numpy scalars and arrays."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, float) and not np.isfinite(value):
        return None
    return value


__all__ = ["MLPClassifier", "MLPRegressor"]
