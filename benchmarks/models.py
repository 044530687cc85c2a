"""The backprop implementations the benchmark compares: notebook loop, naive loop, vectorised."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np

from ds4023.grading.judge import load_module

#: The solution cells of source/backprop/backprop.ipynb that define the network's functions.
NOTEBOOK_CELLS = (
    "imports",
    "network_sizes_code",
    "sigmoid_code",
    "forward_propagate_code",
    "sigmoid_gradient_code",
    "backprop_code",
    "backprop_reg_code",
)

Backprop = Callable[[np.ndarray, np.ndarray, np.ndarray], tuple[float, np.ndarray]]


def notebook_functions(notebook: Path) -> dict:
    """Run the solution cells of the backprop source notebook and return what they define.

    The benchmark measures the reference solution as it stands in the notebook rather
    than a copy of it, so the figures follow the notebook when it changes.

    Args:
        notebook: path of ``source/backprop/backprop.ipynb``.

    Returns:
        The namespace after running the cells (``backprop``, ``backprop_reg``, ...).

    Raises:
        KeyError: a cell the benchmark needs is no longer in the notebook.
    """
    cells = {
        cell["metadata"].get("nbgrader", {}).get("grade_id"): "".join(cell["source"])
        for cell in json.loads(Path(notebook).read_text())["cells"]
    }
    # the imports cell imports the notebook's checking module from the notebook's folder
    saved = sys.modules.get("backprop_checks")
    sys.modules["backprop_checks"] = load_module(Path(notebook).with_name("backprop_checks.py"))
    namespace: dict = {}
    try:
        for grade_id in NOTEBOOK_CELLS:
            exec(compile(cells[grade_id], f"<{grade_id}>", "exec"), namespace)
    finally:
        if saved is None:
            sys.modules.pop("backprop_checks", None)
        else:
            sys.modules["backprop_checks"] = saved
    return namespace


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-z))


def _unroll(params: np.ndarray, sizes: tuple[int, int, int]) -> tuple[np.ndarray, np.ndarray]:
    n_in, n_hidden, n_out = sizes
    split = n_hidden * (n_in + 1)
    theta1 = params[:split].reshape(n_hidden, n_in + 1)
    theta2 = params[split:].reshape(n_out, n_hidden + 1)
    return theta1, theta2


def _forward(theta1, theta2, X):
    ones = np.ones((X.shape[0], 1))
    a1 = np.hstack([ones, X])
    z2 = a1 @ theta1.T
    a2 = np.hstack([ones, _sigmoid(z2)])
    z3 = a2 @ theta2.T
    return a1, z2, a2, z3, _sigmoid(z3)


def _cost(y: np.ndarray, z3: np.ndarray) -> float:
    return float(np.sum(y * np.logaddexp(0, -z3) + (1 - y) * np.logaddexp(0, z3)) / y.shape[0])


def _network(gradients, sizes: tuple[int, int, int]) -> Backprop:
    """``backprop(params, X, y) -> (J, grad)`` around one way of summing the gradient.

    Args:
        gradients: ``(theta2, y, a1, z2, a2, h) -> (Delta1, Delta2)``, the summed gradients
            of the two weight matrices for the forward pass given.
        sizes: input, hidden and output units.

    Returns:
        The backprop function (the cost, and the gradient averaged and unrolled).
    """

    def backprop(params, X, y):
        theta1, theta2 = _unroll(params, sizes)
        a1, z2, a2, z3, h = _forward(theta1, theta2, X)
        delta1, delta2 = gradients(theta2, y, a1, z2, a2, h)
        m = X.shape[0]
        return _cost(y, z3), np.concatenate([(delta1 / m).ravel(), (delta2 / m).ravel()])

    return backprop


def _loop_gradients(theta2, y, a1, z2, a2, h):
    delta1 = np.zeros((z2.shape[1], a1.shape[1]))
    delta2 = np.zeros((h.shape[1], a2.shape[1]))
    for t in range(a1.shape[0]):
        a1t, a2t = a1[t : t + 1], a2[t : t + 1]
        z2t = np.insert(z2[t : t + 1], 0, 1.0, axis=1)
        d3t = h[t : t + 1] - y[t : t + 1]
        sig = _sigmoid(z2t)
        d2t = (d3t @ theta2) * sig * (1 - sig)
        delta1 = delta1 + np.outer(d2t[:, 1:], a1t)
        delta2 = delta2 + np.outer(d3t, a2t)
    return delta1, delta2


def _matrix_gradients(theta2, y, a1, z2, a2, h):
    d3 = h - y
    sig = _sigmoid(z2)
    d2 = (d3 @ theta2[:, 1:]) * sig * (1 - sig)
    return d2.T @ a1, d3.T @ a2


def naive_loop(sizes: tuple[int, int, int] = (400, 25, 10)) -> Backprop:
    """The baseline: a per-example loop written the way the exercise first showed it.

    Every example re-inserts the bias with ``np.insert``, builds fresh outer products and
    adds them into the accumulators: correct, and as slow as a plain reading of the
    algorithm gets. ``sizes``: input, hidden and output units.
    """
    return _network(_loop_gradients, sizes)


def vectorised(sizes: tuple[int, int, int] = (400, 25, 10)) -> Backprop:
    """The instructor's fast reference: all examples at once, as three matrix products.

    ``sizes``: input, hidden and output units.
    """
    return _network(_matrix_gradients, sizes)


def relative_difference(backprop: Backprop, params, X, y, indices, epsilon=1e-4) -> float:
    """Gradient check on some coordinates: relative difference of numeric and analytic.

    Args:
        backprop: the function checked.
        params, X, y: where to check it.
        indices: which coordinates of the gradient to check numerically.
        epsilon: the central-difference step.

    Returns:
        ``norm(num - ana) / norm(num + ana)`` over the chosen coordinates.
    """
    _, analytic = backprop(params, X, y)
    numeric = np.empty(len(indices))
    for k, i in enumerate(indices):
        step = np.zeros_like(params)
        step[i] = epsilon
        numeric[k] = (backprop(params + step, X, y)[0] - backprop(params - step, X, y)[0]) / (
            2 * epsilon
        )
    ana = analytic[np.asarray(indices)]
    return float(np.linalg.norm(numeric - ana) / np.linalg.norm(numeric + ana))
