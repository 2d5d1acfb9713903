"""scikit-learn's own MLP test suite, run against deltaprop's estimators.

The installed scikit-learn ships ``sklearn/neural_network/tests/test_mlp.py``. This test copies it
at test time, changes only the import of ``MLPClassifier`` / ``MLPRegressor`` to deltaprop's, and
runs it with pytest in a fresh interpreter. Every test must pass except the few in ``PRIVATE``,
which read or write scikit-learn's private internals; each entry says which, and where deltaprop
covers the same behaviour through its own tests.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

sklearn = pytest.importorskip("sklearn")

IMPORT = "from sklearn.neural_network import MLPClassifier, MLPRegressor"

#: tests that depend on scikit-learn's private attributes, not on the estimators' behaviour
PRIVATE = {
    "test_fit": "builds the network by assigning coefs_, intercepts_, _coef_velocity and other private "
                "training state by hand before partial_fit; deltaprop keeps the weights in model_. The same "
                "worked example runs in test_sklearn_more.py::test_worked_example_one_sgd_step.",
    "test_gradient": "calls the private _loss_grad_lbfgs with scikit-learn's internal buffers; deltaprop's "
                     "L-BFGS objective is checked against finite differences in "
                     "test_sklearn_more.py::test_lbfgs_gradient_matches_finite_differences.",
    "test_learning_rate_warmstart": "reads _optimizer.learning_rate, scikit-learn's optimizer object; deltaprop's "
                                    "invscaling rate is checked in test_sklearn_more.py::test_invscaling_warm_start.",
    "test_adaptive_learning_rate": "reads _optimizer.learning_rate; the adaptive schedule is checked in "
                                   "test_sklearn_more.py::test_adaptive_learning_rate_divides_by_5.",
}


def upstream_source() -> str:
    path = Path(sklearn.__file__).parent / "neural_network" / "tests" / "test_mlp.py"
    if not path.is_file():
        pytest.fail(f"scikit-learn {sklearn.__version__} does not ship {path}; the test cannot run.")
    return path.read_text(encoding="utf-8")


CONFTEST = '''
import pytest

@pytest.fixture
def global_random_seed():
    """scikit-learn's conftest parametrizes this from SKLEARN_TESTS_GLOBAL_RANDOM_SEED; its default is 42."""
    return 42
'''


def test_scikit_learn_mlp_suite_passes(tmp_path: Path) -> None:
    source = upstream_source()
    assert source.count(IMPORT) == 1, "scikit-learn's test file changed its import; update IMPORT"
    swapped = source.replace(IMPORT, "from deltaprop.sklearn import MLPClassifier, MLPRegressor")
    defined = set(re.findall(r"^def (test_\w+)", source, flags=re.M))
    assert set(PRIVATE) <= defined, f"PRIVATE names tests that no longer exist: {set(PRIVATE) - defined}"
    (tmp_path / "test_mlp_deltaprop.py").write_text(swapped, encoding="utf-8")
    (tmp_path / "conftest.py").write_text(CONFTEST, encoding="utf-8")
    (tmp_path / "pytest.ini").write_text("[pytest]\n", encoding="utf-8")
    args = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:randomly", "-rfE",
            "--rootdir", str(tmp_path), "-c", str(tmp_path / "pytest.ini"), str(tmp_path / "test_mlp_deltaprop.py")]
    for name in PRIVATE:
        args += ["--deselect", f"test_mlp_deltaprop.py::{name}"]
    src = str(Path(__file__).resolve().parents[1] / "src")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([src, os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.run(args, capture_output=True, text=True, cwd=tmp_path, env=env, timeout=1200)
    tail = proc.stdout[-6000:] + proc.stderr[-2000:]
    assert proc.returncode == 0, tail
    counts = dict((k, int(v)) for v, k in re.findall(r"(\d+) (passed|failed|error|deselected)", proc.stdout))
    assert counts.get("deselected") == len(PRIVATE), tail
    assert counts.get("passed", 0) >= len(defined) - len(PRIVATE), tail
