"""Full-batch L-BFGS over a model's flat parameter vector, with SciPy's L-BFGS-B.

The objective is the one mini-batch training minimises, on all the data at once:
J(θ) = L(θ) + ½ λ ‖W‖² (weights only, not biases), where L is the loss of the whole batch
(weighted mean with ``sample_weight``). J and ∂J/∂θ come from one forward pass (E1, E2), the
output delta (E3 or the fused E8) and one backward pass (E3–E6), exactly as in a training step;
the gradients land in ``Sequential.flat_parameters()``'s gradient vector, which SciPy reads.
SciPy is imported inside the function, so ``import deltaprop`` never needs it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from ..core.types import Array


def lbfgs_objective(model: Any, X: Any, Y: Array, loss: Any, *, sample_weight: Array | None = None,
                    l2: float = 0.0) -> Callable[[Array], tuple[float, Array]]:
    """θ ↦ (J(θ), ∂J/∂θ) in float64, for J(θ) = L(θ) + ½ l2 ‖W‖² over the model's flat parameters.

    Each call writes θ into the model, runs forward (E1, E2), the output delta (E3 or fused E8) and
    backward (E3–E6) on all of (X, Y), and adds l2·W to the weights' gradient (not the biases')."""
    flat = model.flat_parameters()
    if flat is None:
        raise ValueError("lbfgs: the model's parameters are not one flat vector (a layer keeps its own storage); "
                         "L-BFGS needs Dense layers of one dtype.")
    w, g, slices = flat
    weights = [slice(lo, hi) for key, (lo, hi, _) in slices.items() if key.endswith(".W")]

    def objective(theta: Array) -> tuple[float, Array]:
        w[...] = theta
        a = model.forward(X, training=True)
        value, delta, top = model.output_delta(loss, a, Y, sample_weight, prepared=True)
        model._backward_from(top, delta)
        grad = g.astype(np.float64)  # a copy: SciPy keeps it while the next evaluation overwrites g
        value = float(value)
        if l2:
            for s in weights:
                value += 0.5 * l2 * float(np.dot(theta[s], theta[s]))
                grad[s] += l2 * theta[s]
        return value, grad

    return objective


def minimize_lbfgs(model: Any, X: Any, Y: Array, loss: Any, *, sample_weight: Array | None = None,
                   l2: float = 0.0, max_iter: int = 200, max_fun: int = 15000, tol: float = 1e-5,
                   callback: Callable[[int, float], None] | None = None) -> Any:
    """Minimise J(θ) = L(θ) + ½ l2 ‖W‖² with ``scipy.optimize.minimize(method="L-BFGS-B")``.

    ``X`` (dense, or scipy.sparse CSR) and ``Y`` (prepared targets, shaped like the output) are the
    whole training set; ``sample_weight`` (n,) is passed to the loss as is. ``max_iter``,
    ``max_fun`` and ``tol`` are L-BFGS-B's ``maxiter``, ``maxfun`` and ``gtol``. ``callback(k, J)``
    runs after iteration k. The model ends holding the solution; the SciPy ``OptimizeResult`` is
    returned (``nit``, ``nfev``, ``fun``, ``status``, ``message``)."""
    from scipy.optimize import minimize

    objective = lbfgs_objective(model, X, Y, loss, sample_weight=sample_weight, l2=l2)
    w = model.flat_parameters()[0]
    iteration = 0

    def after_iteration(intermediate_result: Any) -> None:
        nonlocal iteration
        iteration += 1
        if callback is not None:
            callback(iteration, float(intermediate_result.fun))

    with np.errstate(over="ignore", invalid="ignore"):  # a diverging trial step is the line search's to reject
        result = minimize(objective, w.astype(np.float64), method="L-BFGS-B", jac=True, callback=after_iteration,
                          options={"maxiter": int(max_iter), "maxfun": int(max_fun), "gtol": float(tol)})
    w[...] = result.x
    return result
