"""scikit-learn estimators: ``MLPClassifier`` and ``MLPRegressor``, drop-in replacements for
``sklearn.neural_network``'s, trained by deltaprop's backpropagation.

They take the same parameters with the same meaning and pass scikit-learn's own MLP test suite
(``tests/test_sklearn_upstream.py``) and ``check_estimator``: solvers "adam", "sgd" (with the
"constant", "invscaling" and "adaptive" learning rates) and "lbfgs" (SciPy's L-BFGS-B on the
flat parameter vector, ``deltaprop.optim.lbfgs``); binary, multiclass and multilabel targets;
``loss="squared_error"`` or ``"poisson"`` for regression; dense or scipy.sparse X (the first
layer's products are sparse, so memory grows with the nonzeros). Beyond scikit-learn they take
``class_weight``, ``dropout``, any deltaprop activation, loss and output activation, a ``dtype``,
keep a validation *loss* curve, and save to safe model files (``save``/``load``; no pickle).

Conventions, as scikit-learn's: weights and biases start from its Glorot-uniform draw; ``alpha``
is the L2 penalty ½·alpha·‖W‖² per batch divided by the batch's total sample weight (weights
only, not biases); ``batch_size="auto"`` is min(200, n); stochastic training stops when the loss
(or, with ``early_stopping``, the validation score) has not improved by ``tol`` for more than
``n_iter_no_change`` epochs; ``n_iter_`` counts the epochs (or L-BFGS iterations) of the last
call. See docs/sklearn.md for the full parameter table. scikit-learn is imported here, so
``import deltaprop`` never needs it; this module is loaded only by ``import deltaprop.sklearn``.
"""

from __future__ import annotations

import math
import numbers
import sys
import warnings
from typing import Any, ClassVar

import numpy as np
from scipy import sparse
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin, is_classifier
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import accuracy_score, r2_score
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import LabelBinarizer
from sklearn.utils import check_random_state, compute_sample_weight
from sklearn.utils.metaestimators import available_if
from sklearn.utils.multiclass import check_classification_targets, type_of_target, unique_labels
from sklearn.utils.validation import check_is_fitted, column_or_1d, validate_data

from .core.backend import spawn_seeds
from .core.registry import lookup
from .core.validation import all_finite, check_loss_output
from .io import model_file as dpio
from .nn import layers as layers_mod
from .nn import losses as losses_mod
from .nn.model import Sequential
from .optim import optimizers as optimizers_mod
from .optim.lbfgs import minimize_lbfgs
from .train.batches import ArrayBatches, SparseRowBatches
from .train.progress import Progress

_ACTIVATION_ALIASES = {"logistic": "sigmoid"}
_SOLVERS = ("lbfgs", "sgd", "adam")
_LEARNING_RATES = ("constant", "invscaling", "adaptive")
#: scikit-learn's regression loss names → deltaprop's losses (the same functions)
_SKLEARN_LOSSES = {"squared_error": "half_sse", "poisson": "poisson"}
_NONFINITE = ("Solver produced non-finite parameter weights. The input data may contain large values and need to "
              "be preprocessed.")


class _BaseMLP(BaseEstimator):
    """What the classifier and the regressor share: parameters, the two solvers, persistence."""

    #: output activations that make sense for the task (None: any)
    _output_activations: ClassVar[dict[str, Any] | None] = None

    def __init__(self, hidden_layer_sizes: Any = (100,), activation: str = "relu", *, solver: str = "adam",
                 alpha: float = 0.0001, batch_size: int | str = "auto", learning_rate: str = "constant",
                 learning_rate_init: float = 0.001, power_t: float = 0.5, max_iter: int = 200, shuffle: bool = True,
                 random_state: Any = None, tol: float = 1e-4, verbose: bool = False, warm_start: bool = False,
                 momentum: float = 0.9, nesterovs_momentum: bool = True, early_stopping: bool = False,
                 validation_fraction: float = 0.1, beta_1: float = 0.9, beta_2: float = 0.999,
                 epsilon: float = 1e-8, n_iter_no_change: int | float = 10, max_fun: int = 15000,
                 loss: str | None = None, output_activation: str | None = None, dropout: float = 0.0,
                 dtype: str | None = None, progress: bool = False) -> None:
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.solver = solver
        self.alpha = alpha
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.learning_rate_init = learning_rate_init
        self.power_t = power_t
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
        self.max_fun = max_fun
        self.loss = loss
        self.output_activation = output_activation
        self.dropout = dropout
        self.dtype = dtype
        self.progress = progress

    # -- scikit-learn protocol -------------------------------------------------------------------
    def fit(self, X: Any, y: Any, sample_weight: Any = None) -> _BaseMLP:
        """Train for up to ``max_iter`` epochs (L-BFGS: iterations); fresh weights unless ``warm_start``."""
        return self._fit(X, y, sample_weight, incremental=False)

    def _stochastic(self) -> bool:
        """``partial_fit`` exists only for the stochastic solvers, as in scikit-learn."""
        if self.solver not in ("sgd", "adam"):
            raise AttributeError(f"partial_fit is only available for stochastic optimizers. {self.solver} is not "
                                 "stochastic.")
        return True

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        return tags

    # -- the training ----------------------------------------------------------------------------
    def _fit(self, X: Any, y: Any, sample_weight: Any, *, incremental: bool, classes: Any = None) -> _BaseMLP:
        self._check_params()
        if incremental and self.early_stopping:
            raise ValueError("partial_fit does not support early_stopping=True")
        refit = not hasattr(self, "model_") or not (incremental or self.warm_start) \
            or (not incremental and self._architecture() != self._built_for)
        X, y = _validate(self, X, y, reset=refit, accept_sparse=["csr", "csc"], dtype=[np.float64, np.float32],
                         multi_output=True, y_numeric=not is_classifier(self))
        y = column_or_1d(y, warn=True) if y.ndim == 2 and y.shape[1] == 1 else y
        targets = self._encode_targets(y, refit=refit, incremental=incremental, classes=classes)
        sw = self._sample_weight(sample_weight, y, X.shape[0])
        if refit:
            self._rng = check_random_state(self.random_state)
            self._build(X.shape[1], X.dtype)
        X = _as_dtype(X, self.model_.dtype)
        targets = np.ascontiguousarray(targets, dtype=self.model_.dtype)
        bar = Progress(1 if incremental else self.max_iter, 1 if self.progress else 0)  # ours: progress=True
        try:
            if self.solver == "lbfgs":
                self._fit_lbfgs(X, targets, sw, bar)
            else:
                self._fit_stochastic(X, targets, sw, bar, incremental=incremental)
        finally:
            bar.close()
        if not all(all_finite(p) for p in self.model_.parameters().values()):
            raise ValueError(_NONFINITE)
        return self

    def _check_params(self) -> None:
        sizes = self.hidden_layer_sizes
        sizes = [sizes] if isinstance(sizes, numbers.Integral) else list(sizes)
        if any(isinstance(s, bool) or not isinstance(s, numbers.Integral) or s < 1 for s in sizes):
            raise ValueError(f"hidden_layer_sizes must be positive ints, got {self.hidden_layer_sizes!r}.")
        if self.solver not in _SOLVERS:
            raise ValueError(f"solver must be 'lbfgs', 'sgd' or 'adam', got {self.solver!r}.")
        if self.learning_rate not in _LEARNING_RATES:
            raise ValueError(f"learning_rate must be 'constant', 'invscaling' or 'adaptive', got "
                             f"{self.learning_rate!r}.")
        checks = [("alpha", self.alpha, 0.0, False), ("learning_rate_init", self.learning_rate_init, 0.0, True),
                  ("power_t", self.power_t, 0.0, False), ("tol", self.tol, 0.0, False),
                  ("momentum", self.momentum, 0.0, False), ("dropout", self.dropout, 0.0, False)]
        for name, value, low, strict in checks:
            if isinstance(value, bool) or not isinstance(value, numbers.Real) or not np.isfinite(value) \
                    or value < low or (strict and value == low):
                raise ValueError(f"{name} must be a finite number {'>' if strict else '>='} {low}, got {value!r}.")
        if self.momentum > 1:
            raise ValueError(f"momentum must be in [0, 1], got {self.momentum!r}.")
        for name, value in (("dropout", self.dropout), ("beta_1", self.beta_1), ("beta_2", self.beta_2)):
            if not 0 <= value < 1:
                raise ValueError(f"{name} must be in [0, 1), got {value!r}.")
        if self.dropout and self.solver == "lbfgs":
            raise ValueError(f"dropout={self.dropout!r} needs a stochastic solver: L-BFGS minimises one fixed "
                             "objective and dropout makes it random. Use solver='adam' or 'sgd', or dropout=0.")
        if not 0 < self.validation_fraction < 1:
            raise ValueError(f"validation_fraction must be in (0, 1), got {self.validation_fraction!r}.")
        for name, value in (("max_iter", self.max_iter), ("max_fun", self.max_fun),
                            ("n_iter_no_change", self.n_iter_no_change)):
            if name == "n_iter_no_change" and value == np.inf:
                continue  # scikit-learn's "never stop on a plateau"
            if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
                extra = " or np.inf" if name == "n_iter_no_change" else ""
                raise ValueError(f"{name} must be a positive int{extra}, got {value!r}.")
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
            lookup("loss", _SKLEARN_LOSSES.get(self.loss, self.loss), {**losses_mod.LOSSES, **_SKLEARN_LOSSES})

    def _architecture(self) -> tuple[Any, ...]:
        """What the network is built from: a warm start with other values starts afresh."""
        sizes = self.hidden_layer_sizes
        sizes = (sizes,) if isinstance(sizes, numbers.Integral) else tuple(sizes)
        return sizes, self.activation, self.output_activation, self.dropout, self.dtype, self.loss

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

    def _build(self, n_features: int, x_dtype: Any) -> None:
        sizes = self.hidden_layer_sizes
        sizes = [sizes] if isinstance(sizes, numbers.Integral) else list(sizes)
        dtype = self.dtype if self.dtype is not None else (np.float32 if x_dtype == np.float32 else np.float64)
        out = self.output_activation if self.output_activation is not None else self._default_output()
        out = _ACTIVATION_ALIASES.get(out, out)
        self.out_activation_ = out
        self.model_ = self._network([n_features, *[int(s) for s in sizes], self.n_outputs_], out, dtype)
        self.model_.loss = losses_mod.get(self._loss_name())
        check_loss_output(self.model_, self.model_.loss, where=type(self).__name__)
        self.n_layers_ = len(sizes) + 2
        self._built_for = self._architecture()
        self.n_iter_, self.t_ = 0, 0
        self.loss_: float | None = None
        self.loss_curve_: list[float] = []
        self.best_loss_: float | None = np.inf
        self.validation_scores_: list[float] | None = None
        self.validation_loss_curve_: list[float] | None = None
        self.best_validation_score_: float | None = None
        self._optimizer: optimizers_mod.Optimizer | None = None
        self._no_improvement_count = 0

    def _network(self, widths: list[int], out: str, dtype: Any) -> Sequential:
        """Dense layers initialised exactly as scikit-learn's: for each layer in turn, weights (n_in, n_out)
        then biases from U(−r, r) with r = √(6 / (n_in + n_out)) (Glorot & Bengio 2010; √(2 / …) for
        logistic units), drawn from the same RandomState, so one random_state gives both libraries the
        same initial network. Dropout masks get seeds drawn after that."""
        hidden = _ACTIVATION_ALIASES.get(self.activation, self.activation)
        factor = 2.0 if hidden == "sigmoid" else 6.0
        params = []
        for n_in, n_out in zip(widths[:-1], widths[1:]):
            r = np.sqrt(factor / (n_in + n_out))
            W = self._rng.uniform(-r, r, (n_in, n_out)).T  # scikit-learn's coefs_ layout, transposed to (n_out, n_in)
            params.append((W, self._rng.uniform(-r, r, n_out)))
        *dropout_rngs, model_rng = spawn_seeds(int(self._rng.randint(np.iinfo(np.int32).max)) if self.dropout else 0,
                                               len(params))
        layers: list[layers_mod.Layer] = []
        for k, (W, b) in enumerate(params):
            last = k == len(params) - 1
            layers.append(layers_mod.Dense(W.shape[1], W.shape[0], init=W, bias_init=b, dtype=dtype))
            layers.append(layers_mod.activation(out if last else hidden))
            if self.dropout and not last:
                layers.append(layers_mod.Dropout(float(self.dropout), seed=dropout_rngs[k]))
        return Sequential(layers, dtype=dtype, seed=model_rng)

    def _make_optimizer(self) -> optimizers_mod.Optimizer:
        """Adam or SGD as scikit-learn configures them; the L2 term is set per batch (``weight_decay``)."""
        if self.solver == "adam":
            return optimizers_mod.Adam(lr=self.learning_rate_init, betas=(self.beta_1, self.beta_2), eps=self.epsilon,
                                       decay_bias=False)
        nesterov = bool(self.nesterovs_momentum) and self.momentum > 0
        return optimizers_mod.SGD(lr=self.learning_rate_init, momentum=self.momentum, nesterov=nesterov,
                                  decay_bias=False)

    def _penalty(self) -> float:
        """½‖W‖² over every weight matrix (not the biases)."""
        return 0.5 * sum(float(np.vdot(layer.W, layer.W)) for layer in self.model_.layers
                         if isinstance(layer, layers_mod.Dense))

    def _fit_lbfgs(self, X: Any, Y: np.ndarray, sw: np.ndarray | None, bar: Progress) -> None:
        """Full-batch L-BFGS-B: J = Σ w L / Σ w + ½ alpha ‖W‖² / Σ w, with scikit-learn's max_iter (maxiter),
        max_fun (maxfun) and tol (gtol)."""
        n = X.shape[0]
        total = float(n if sw is None else sw.sum())
        weights = None if sw is None else sw * (n / total)  # mean 1: the loss is Σ w L / Σ w

        def report(k: int, value: float) -> None:
            self.loss_curve_.append(value)
            bar.update(k - 1, {"loss": value})
            if self.verbose:
                print(f"Iteration {k}, loss = {value:.8f}", file=sys.stdout)

        result = minimize_lbfgs(self.model_, X, Y, self.model_.loss, sample_weight=weights, l2=self.alpha / total,
                                max_iter=self.max_iter, max_fun=self.max_fun, tol=self.tol, callback=report)
        self.n_iter_ = min(int(result.nit), self.max_iter)
        self.loss_ = self.best_loss_ = float(result.fun)
        if result.status != 0:
            message = (f"lbfgs failed to converge after {self.n_iter_} iteration(s) (status={result.status}):\n"
                       f"{result.message}\n")
            if self.n_iter_ == self.max_iter:
                message += f"\nIncrease the number of iterations to improve the convergence (max_iter={self.max_iter})."
            message += ("\nYou might also want to scale the data as shown in:\n"
                        "    https://scikit-learn.org/stable/modules/preprocessing.html")
            warnings.warn(message, ConvergenceWarning, stacklevel=4)

    def _fit_stochastic(self, X: Any, Y: np.ndarray, sw: np.ndarray | None, bar: Progress, *,
                        incremental: bool) -> None:
        """Epochs of shuffled mini-batches, each a step of the seeds' loop (forward, output delta,
        backward, update), with scikit-learn's learning-rate schedules and stopping rules."""
        model = self.model_
        if self._optimizer is None or not incremental:
            self._optimizer = self._make_optimizer()
        opt = model.optimizer = self._optimizer
        early_stopping = self.early_stopping and not incremental
        X, Y, sw, val = self._hold_out(X, Y, sw) if early_stopping else (X, Y, sw, None)
        if not early_stopping and self.best_loss_ is None:
            self.best_loss_ = np.inf
        n, bs = X.shape[0], self._batch_size(X.shape[0])
        source = SparseRowBatches(X, Y, sw, bs) if sparse.issparse(X) else ArrayBatches(X, Y, sw, None, bs)
        best_weights = model.get_weights() if early_stopping else None
        if not incremental:
            self._no_improvement_count = 0
        self.n_iter_ = 0
        diverged: str | None = None
        order = np.arange(n) if self.shuffle else None
        for _ in range(self.max_iter):
            if order is not None:  # scikit-learn's sklearn.utils.shuffle of the previous order: the same draws
                order = order[self._rng.permutation(n)]
            self.loss_, diverged = self._epoch(source, order, opt)
            self.n_iter_ += 1
            self.t_ += n
            self.loss_curve_.append(self.loss_)
            if self.verbose:
                print(f"Iteration {self.n_iter_}, loss = {self.loss_:.8f}", file=sys.stdout)
            if self._update_no_improvement_count(val) and early_stopping:
                best_weights = model.get_weights()
            bar.update(self.n_iter_ - 1, {"loss": self.loss_} if val is None else
                             {"loss": self.loss_, "val_score": self.validation_scores_[-1]})  # type: ignore[index]
            if diverged is not None:
                break
            if self.solver == "sgd" and self.learning_rate == "invscaling":
                opt.change_lr(self.learning_rate_init / (self.t_ + 1) ** self.power_t,  # type: ignore[attr-defined]
                              carry_velocity=True)
            if self._no_improvement_count > self.n_iter_no_change and self._stop(opt, early_stopping):
                break
            if incremental:
                break
            if self.n_iter_ == self.max_iter:
                warnings.warn(f"Stochastic Optimizer: Maximum iterations ({self.max_iter}) reached and the "
                              "optimization hasn't converged yet.", ConvergenceWarning, stacklevel=4)
        if early_stopping:
            model.set_weights(best_weights)  # type: ignore[arg-type]
        if diverged is not None:
            if not early_stopping:
                raise ValueError(f"{_NONFINITE} ({diverged}; the estimator keeps the weights before that step. "
                                 f"Scale X, e.g. with StandardScaler, or lower learning_rate_init={opt.lr:g}.)")
            warnings.warn(f"Training diverged: {diverged} (learning rate {opt.lr:g}); the estimator keeps the "
                          "weights of the best validation score. Scale X or lower learning_rate_init.",
                          ConvergenceWarning, stacklevel=4)

    def _epoch(self, source: Any, order: np.ndarray | None, opt: optimizers_mod.Optimizer) -> tuple[float, str | None]:
        """One pass over the batches: (mean loss plus penalty, None), or (nan, what diverged) at the
        first non-finite batch loss, before that batch's update."""
        model, loss = self.model_, self.model_.loss
        total = 0.0
        for start in range(0, source.n, source.batch_size):
            Xb, Yb, wb = source.get(start, order)
            m = Xb.shape[0]
            sw_sum = float(m if wb is None else wb.sum())
            if sw_sum <= 0:
                continue  # samples of weight 0 carry no gradient
            if wb is not None:
                wb = wb * (m / sw_sum)  # mean 1: the batch loss is Σ w L / Σ w, as scikit-learn's
            a = model.forward(Xb, training=True)
            value, delta, top = model.output_delta(loss, a, Yb, wb, prepared=True)
            value = float(value) + (self.alpha * self._penalty() / sw_sum if self.alpha else 0.0)
            if not math.isfinite(value):
                return math.nan, f"the training loss became {value} at iteration {self.n_iter_ + 1}"
            model._backward_from(top, delta)
            opt.weight_decay = self.alpha / sw_sum  # the gradient of ½ alpha ‖W‖² / Σ w
            opt.step(model)
            total += value * m
        return total / source.n, None

    def _hold_out(self, X: Any, Y: np.ndarray, sw: np.ndarray | None) -> tuple[Any, np.ndarray, Any, tuple[Any, ...]]:
        """scikit-learn's early-stopping split: validation_fraction of the rows, drawn from random_state and
        stratified on the binarized target when it has one column; (X, Y, sw) of the rest and the held-out
        (X, Y, sw)."""
        stratify = Y.astype(bool) if is_classifier(self) and Y.shape[1] == 1 else None
        parts = train_test_split(*([X, Y] if sw is None else [X, Y, sw]), random_state=self._rng,
                                 test_size=self.validation_fraction, stratify=stratify)
        X, Xv, Y, Yv = parts[:4]
        sw, swv = (None, None) if sw is None else (parts[4], parts[5] * (len(parts[5]) / parts[5].sum()))
        if Xv.shape[0] < 2:
            raise ValueError("The validation set is too small. Increase 'validation_fraction' or the size of your "
                             "dataset.")
        if self.validation_scores_ is None:
            self.validation_scores_, self.validation_loss_curve_ = [], []
            self.best_validation_score_ = -np.inf
        self.best_loss_ = None
        return X, Y, sw, (Xv, Yv, swv)

    def _batch_size(self, n: int) -> int:
        """min(200, n) for "auto"; a larger batch_size than n is clipped to n, with scikit-learn's warning."""
        if self.batch_size == "auto":
            return min(200, n)
        if self.batch_size > n:
            warnings.warn("Got `batch_size` less than 1 or larger than sample size. It is going to be clipped",
                          stacklevel=5)
        return min(int(self.batch_size), n)

    def _update_no_improvement_count(self, val: tuple[Any, Any, Any] | None) -> bool:
        """scikit-learn's plateau counter after an epoch; True when the validation score is a new best."""
        if val is None:
            if self.loss_curve_[-1] > self.best_loss_ - self.tol:  # type: ignore[operator]
                self._no_improvement_count += 1
            else:
                self._no_improvement_count = 0
            if self.loss_curve_[-1] < self.best_loss_:  # type: ignore[operator]
                self.best_loss_ = self.loss_curve_[-1]
            return False
        Xv, Yv, swv = val
        a = self.model_.forward(Xv, training=False)
        finite = bool(np.isfinite(a).all())
        score = self._validation_score(a, Yv, swv) if finite else math.nan
        val_loss = float(self.model_.output_delta(self.model_.loss, a, Yv, swv, prepared=True)[0]) if finite \
            else math.nan
        self.validation_scores_.append(score)  # type: ignore[union-attr]
        self.validation_loss_curve_.append(val_loss)  # type: ignore[union-attr]
        if self.verbose:
            print(f"Validation score: {score:f}", file=sys.stdout)
        if score < self.best_validation_score_ + self.tol:  # type: ignore[operator]
            self._no_improvement_count += 1
        else:
            self._no_improvement_count = 0
        if score > self.best_validation_score_:  # type: ignore[operator]
            self.best_validation_score_ = score
            return True
        return False

    def _stop(self, opt: optimizers_mod.Optimizer, early_stopping: bool) -> bool:
        """On a plateau: stop, or with sgd and learning_rate="adaptive" divide the rate by 5 (stop
        once it is at most 1e-6). The messages are scikit-learn's."""
        what = "Validation score" if early_stopping else "Training loss"
        msg = f"{what} did not improve more than tol={self.tol:f} for {self.n_iter_no_change:d} consecutive epochs."
        if self.solver == "sgd" and self.learning_rate == "adaptive":
            if opt.lr > 1e-6:
                opt.change_lr(opt.lr / 5.0, carry_velocity=True)  # type: ignore[attr-defined]
                self._no_improvement_count = 0
                if self.verbose:
                    print(f"{msg} Setting learning rate to {opt.lr:f}", file=sys.stdout)
                return False
            msg += " Learning rate too small."
        if self.verbose:
            print(f"{msg} Stopping.", file=sys.stdout)
        return True

    def _loss_name(self) -> str:
        if self.loss is not None:
            return _SKLEARN_LOSSES.get(self.loss, self.loss)
        return "categorical_crossentropy" if self.out_activation_ == "softmax" else "binary_crossentropy"

    def _predict_raw(self, X: Any) -> np.ndarray:
        check_is_fitted(self, "model_")
        X = _validate(self, X, reset=False, accept_sparse=["csr", "csc"], dtype=[np.float64, np.float32])
        return self.model_.forward(_as_dtype(X, self.model_.dtype), training=False)

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
    _FITTED_OPTIONAL = ("loss_",)  # absent from files written before the attribute existed: read as None

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
        if params["n_iter_no_change"] == np.inf:
            params["n_iter_no_change"] = "inf"  # JSON has no infinity
        fitted = {k: _plain(getattr(self, k)) for k in self._FITTED + self._FITTED_OPTIONAL}
        lb = getattr(self, "_label_binarizer", None)
        extra = {"estimator": type(self).__name__, "params": params, "fitted": fitted,
                 "classes": None if not hasattr(self, "classes_") else [_plain(c) for c in self.classes_],
                 "label_type": None if lb is None else lb.y_type_,
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
            if params.get("n_iter_no_change") == "inf":
                params["n_iter_no_change"] = np.inf
            est = cls(**params)
            for key in cls._FITTED:
                setattr(est, key, info["fitted"][key])
            for key in cls._FITTED_OPTIONAL:
                setattr(est, key, info["fitted"].get(key))
            if info["classes"] is not None:
                est.classes_ = np.array(info["classes"])
                est._label_binarizer = _label_binarizer(est.classes_, info.get("label_type"))
            if info["feature_names_in"] is not None:
                est.feature_names_in_ = np.array(info["feature_names_in"], dtype=object)
        except (KeyError, TypeError, ValueError) as err:
            raise dpio.ModelFileError(f"load: the estimator metadata in {str(path)!r} is invalid ({err}).") from None
        est.model_ = model
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


class MLPClassifier(ClassifierMixin, _BaseMLP):
    """Multilayer perceptron classifier trained with deltaprop's backpropagation.

    Binary problems (and multilabel ones, an indicator matrix y) get sigmoid outputs and binary
    cross-entropy; more classes get a softmax output and categorical cross-entropy (both fused, E8).
    Labels may be any sortable values. ``class_weight`` ({label: weight} or "balanced") multiplies
    each sample's weight."""

    _output_activations: ClassVar[dict[str, Any] | None] = {"sigmoid": 1, "logistic": 1, "softmax": 1}

    def __init__(self, hidden_layer_sizes: Any = (100,), activation: str = "relu", *, solver: str = "adam",
                 alpha: float = 0.0001, batch_size: int | str = "auto", learning_rate: str = "constant",
                 learning_rate_init: float = 0.001, power_t: float = 0.5, max_iter: int = 200, shuffle: bool = True,
                 random_state: Any = None, tol: float = 1e-4, verbose: bool = False, warm_start: bool = False,
                 momentum: float = 0.9, nesterovs_momentum: bool = True, early_stopping: bool = False,
                 validation_fraction: float = 0.1, beta_1: float = 0.9, beta_2: float = 0.999,
                 epsilon: float = 1e-8, n_iter_no_change: int | float = 10, max_fun: int = 15000,
                 loss: str | None = None, output_activation: str | None = None, dropout: float = 0.0,
                 class_weight: dict[Any, float] | str | None = None, dtype: str | None = None,
                 progress: bool = False) -> None:
        super().__init__(hidden_layer_sizes, activation, solver=solver, alpha=alpha, batch_size=batch_size,
                         learning_rate=learning_rate, learning_rate_init=learning_rate_init, power_t=power_t,
                         max_iter=max_iter, shuffle=shuffle, random_state=random_state, tol=tol, verbose=verbose,
                         warm_start=warm_start, momentum=momentum, nesterovs_momentum=nesterovs_momentum,
                         early_stopping=early_stopping, validation_fraction=validation_fraction, beta_1=beta_1,
                         beta_2=beta_2, epsilon=epsilon, n_iter_no_change=n_iter_no_change, max_fun=max_fun,
                         loss=loss, output_activation=output_activation, dropout=dropout, dtype=dtype,
                         progress=progress)
        self.class_weight = class_weight

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_label = True
        return tags

    def _default_output(self) -> str:
        return "softmax" if self._label_binarizer.y_type_ == "multiclass" else "sigmoid"

    def _encode_targets(self, y: Any, *, refit: bool, incremental: bool, classes: Any = None) -> np.ndarray:
        """y as the network's targets: scikit-learn's LabelBinarizer columns (one for binary, one per class
        or label otherwise), with its checks of the classes on warm starts and partial fits."""
        check_classification_targets(y)
        if refit:
            lb = LabelBinarizer()
            lb.fit(classes if classes is not None and not type_of_target(y).startswith("multilabel") else y)
            self._label_binarizer = lb
            if classes is None:
                self.classes_ = lb.classes_
        if not refit or classes is not None:
            seen = unique_labels(y)
            if self.warm_start and not incremental:
                if set(seen) != set(self.classes_):
                    raise ValueError("warm_start can only be used where `y` has the same classes as in the previous "
                                     f"call to fit. Previously got {self.classes_}, `y` has {seen}")
            elif len(np.setdiff1d(seen, self.classes_, assume_unique=True)):
                unseen = np.setdiff1d(seen, self.classes_).tolist()
                raise ValueError(f"`y` has classes not in `self.classes_`. `self.classes_` has {self.classes_}. "
                                 f"'y' has {seen}. Unseen: {unseen}; the classes are fixed by the first fit or "
                                 "partial_fit (give the first partial_fit every label in classes=).")
        Y = self._label_binarizer.transform(y)
        kind = self._label_binarizer.y_type_
        out = self.output_activation if refit else self.out_activation_
        if kind == "multilabel-indicator" and out == "softmax":
            raise ValueError("output_activation='softmax' makes the outputs compete, but multilabel y lets a sample "
                             "have several labels; leave output_activation=None (one sigmoid per label).")
        if kind == "binary" and out == "softmax":  # deltaprop's option: two softmax units instead of one sigmoid
            Y = np.hstack([1 - Y, Y])
        if refit:
            self.n_outputs_ = Y.shape[1]
        return Y

    def _sample_weight(self, sample_weight: Any, y: Any, n: int) -> np.ndarray | None:
        sw = super()._sample_weight(sample_weight, y, n)
        if sw is not None and np.ndim(y) == 1 and len(np.unique(y)) > 1:
            kept = np.unique(np.asarray(y)[sw > 0])
            if len(kept) < 2:
                raise ValueError(f"sample_weight leaves samples of only 1 class ({kept[0]!r}) with a positive "
                                 "weight; a classifier needs at least 2 classes.")
        return sw

    def _labels(self, a: np.ndarray) -> np.ndarray:
        """Network outputs → labels, as scikit-learn: threshold 0.5 for binary and multilabel, else argmax."""
        if a.shape[1] == 2 and self._label_binarizer.y_type_ == "binary":
            a = a[:, 1:]  # two softmax units: the second is the positive class
        return self._label_binarizer.inverse_transform(a)

    def _validation_score(self, a: np.ndarray, Y: np.ndarray, sw: Any) -> float:
        return float(accuracy_score(self._labels(Y), self._labels(a), sample_weight=sw))

    @available_if(_BaseMLP._stochastic)
    def partial_fit(self, X: Any, y: Any, sample_weight: Any = None, classes: Any = None) -> MLPClassifier:
        """One epoch over (X, y), keeping the optimizer's state between calls. The first call needs
        ``classes``, every label that will ever appear (e.g. ``np.unique(y_all)``)."""
        if getattr(self, "classes_", None) is None or not hasattr(self, "model_"):
            if classes is None:
                raise ValueError("classes must be passed on the first call to partial_fit (every label that will "
                                 "ever appear, e.g. np.unique(y_all)).")
            self.classes_ = unique_labels(classes)
            return self._fit(X, y, sample_weight, incremental=True, classes=classes)  # type: ignore[return-value]
        if classes is not None and not np.array_equal(self.classes_, unique_labels(classes)):
            raise ValueError(f"`classes={classes!r}` is not the same as on last call to partial_fit, was: "
                             f"{self.classes_!r}")
        return self._fit(X, y, sample_weight, incremental=True)  # type: ignore[return-value]

    def predict_proba(self, X: Any) -> np.ndarray:
        """Class probabilities, one column per entry of ``classes_`` (multilabel: one per label, each
        its own probability)."""
        a = self._predict_raw(X)
        if self._label_binarizer.y_type_ == "multilabel-indicator":
            return a
        if a.shape[1] == 1:
            if len(self.classes_) == 1:  # trained on a single class: it is certain
                return np.ones_like(a)
            return np.hstack([1.0 - a, a])
        if self.out_activation_ != "softmax":  # e.g. one sigmoid per class: normalise to a distribution
            a = a / np.maximum(a.sum(axis=1, keepdims=True), np.finfo(a.dtype).tiny)
        return a

    def predict_log_proba(self, X: Any) -> np.ndarray:
        """log of ``predict_proba``."""
        with np.errstate(divide="ignore"):
            return np.log(self.predict_proba(X))

    def predict(self, X: Any) -> np.ndarray:
        """The most probable class label of each row (multilabel: the indicator matrix)."""
        return self._labels(self._predict_raw(X))

    def score(self, X: Any, y: Any, sample_weight: Any = None) -> float:
        """Mean accuracy on (X, y) (multilabel: subset accuracy). A label of y that was not among
        ``classes_`` in fit can never be predicted: it counts as an error, as in scikit-learn, and a
        UserWarning names it."""
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

    ``loss="squared_error"`` (the default) is ½·mean (y − ŷ)² with an identity output;
    ``loss="poisson"`` is half the Poisson deviance with an exp output (the log link), for counts.
    Any deltaprop regression loss ("mse", "mae", "huber") and output activation can be chosen.
    A 2-D y trains one output per column."""

    def __init__(self, loss: str = "squared_error", hidden_layer_sizes: Any = (100,), activation: str = "relu", *,
                 solver: str = "adam", alpha: float = 0.0001, batch_size: int | str = "auto",
                 learning_rate: str = "constant", learning_rate_init: float = 0.001, power_t: float = 0.5,
                 max_iter: int = 200, shuffle: bool = True, random_state: Any = None, tol: float = 1e-4,
                 verbose: bool = False, warm_start: bool = False, momentum: float = 0.9,
                 nesterovs_momentum: bool = True, early_stopping: bool = False, validation_fraction: float = 0.1,
                 beta_1: float = 0.9, beta_2: float = 0.999, epsilon: float = 1e-8,
                 n_iter_no_change: int | float = 10, max_fun: int = 15000, output_activation: str | None = None,
                 dropout: float = 0.0, dtype: str | None = None, progress: bool = False) -> None:
        super().__init__(hidden_layer_sizes, activation, solver=solver, alpha=alpha, batch_size=batch_size,
                         learning_rate=learning_rate, learning_rate_init=learning_rate_init, power_t=power_t,
                         max_iter=max_iter, shuffle=shuffle, random_state=random_state, tol=tol, verbose=verbose,
                         warm_start=warm_start, momentum=momentum, nesterovs_momentum=nesterovs_momentum,
                         early_stopping=early_stopping, validation_fraction=validation_fraction, beta_1=beta_1,
                         beta_2=beta_2, epsilon=epsilon, n_iter_no_change=n_iter_no_change, max_fun=max_fun,
                         loss=loss, output_activation=output_activation, dropout=dropout, dtype=dtype,
                         progress=progress)

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True  # a 2-D y trains one output per column
        return tags

    def _default_output(self) -> str:
        return "exp" if self._loss_name() == "poisson" else "identity"

    def _loss_name(self) -> str:
        return _SKLEARN_LOSSES.get(self.loss, self.loss) if self.loss is not None else "half_sse"

    def _check_params(self) -> None:
        super()._check_params()
        if self._loss_name() == "poisson" and self.output_activation not in (None, "exp", "softplus"):
            raise ValueError(f"loss='poisson' needs a positive mean: output_activation must be None (exp, the log "
                             f"link), 'exp' or 'softplus', got {self.output_activation!r}.")

    def _encode_targets(self, y: Any, *, refit: bool, incremental: bool, classes: Any = None) -> np.ndarray:
        y = np.asarray(y, dtype=np.float64)
        Y = y.reshape(-1, 1) if y.ndim == 1 else y
        if self._loss_name() == "poisson" and (Y < 0).any():
            raise ValueError(f"loss='poisson' needs targets y >= 0 (counts or rates), got a minimum of {Y.min():g}; "
                             "use loss='squared_error' for targets of any sign.")
        if refit:
            self.n_outputs_ = Y.shape[1]
        elif Y.shape[1] != self.n_outputs_:
            raise ValueError(f"y has {Y.shape[1]} column(s) but the network was fitted with {self.n_outputs_}.")
        return Y

    def _validation_score(self, a: np.ndarray, Y: np.ndarray, sw: Any) -> float:
        return float(r2_score(Y, a, sample_weight=sw))

    @available_if(_BaseMLP._stochastic)
    def partial_fit(self, X: Any, y: Any, sample_weight: Any = None) -> MLPRegressor:
        """One epoch over (X, y), keeping the optimizer's state between calls."""
        return self._fit(X, y, sample_weight, incremental=True)  # type: ignore[return-value]

    def predict(self, X: Any) -> np.ndarray:
        """Predicted targets: (n,) for a single output, else (n, n_outputs)."""
        a = self._predict_raw(X)
        return a.ravel() if self.n_outputs_ == 1 else a


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


def _as_dtype(X: Any, dtype: Any) -> Any:
    """X in the network's dtype: dense as a C-ordered array, sparse as CSR (rows slice cheaply). Copies
    only when the dtype or layout must change; a sparse copy costs the nonzeros, never n × d."""
    if sparse.issparse(X):
        return X.tocsr().astype(dtype, copy=False)
    return np.ascontiguousarray(X, dtype=dtype)


def _label_binarizer(classes: np.ndarray, label_type: str | None) -> LabelBinarizer:
    """A fitted LabelBinarizer rebuilt from its classes and target type (files store no pickles)."""
    lb = LabelBinarizer()
    lb.classes_ = classes
    lb.y_type_ = label_type or ("multiclass" if len(classes) > 2 else "binary")
    lb.sparse_input_ = False
    return lb


def _plain(value: Any) -> Any:
    """JSON-ready plain data from numpy scalars and arrays."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, float) and not np.isfinite(value):
        return None
    return value


__all__ = ["MLPClassifier", "MLPRegressor"]
