"""Tests for benchmarks.models: the three backprop implementations the benchmark compares."""

from __future__ import annotations

import sys

import numpy as np
import pytest

from benchmarks import models as bench_models
from tests.helpers import COURSE_ROOT

SIZES = (4, 5, 3)  # input, hidden and output units of a network small enough to check fully
N_PARAMS = SIZES[1] * (SIZES[0] + 1) + SIZES[2] * (SIZES[1] + 1)


def _problem(seed: int, m: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    params = rng.uniform(-0.5, 0.5, N_PARAMS)
    X = rng.normal(size=(m, SIZES[0]))
    Y = np.eye(SIZES[2])[rng.integers(0, SIZES[2], m)]
    return params, X, Y


@pytest.fixture(scope="module")
def notebook_backprop():
    """The reference loop of the source notebook, sized for the small network."""
    namespace = bench_models.notebook_functions(
        COURSE_ROOT / "source" / "backprop" / "backprop.ipynb"
    )
    namespace.update(input_size=SIZES[0], hidden_size=SIZES[1], num_labels=SIZES[2])
    return namespace["backprop"]


@pytest.mark.parametrize(("seed", "m"), [(0, 7), (1, 12)])
def test_three_implementations_agree(notebook_backprop, seed, m):
    """Do the notebook's loop, the naive loop and the vectorised code give the same J and grad?"""
    params, X, Y = _problem(seed, m)
    cost, grad = notebook_backprop(params, X, Y)
    for other in (bench_models.naive_loop(SIZES), bench_models.vectorised(SIZES)):
        other_cost, other_grad = other(params, X, Y)
        assert abs(other_cost - cost) < 1e-10
        assert np.max(np.abs(other_grad - grad)) < 1e-10
    assert grad.shape == (N_PARAMS,)
    assert cost > 0


def test_vectorised_gradient_matches_numeric():
    """Does the vectorised reference pass a gradient check on every coordinate?"""
    params, X, Y = _problem(2, 9)
    diff = bench_models.relative_difference(
        bench_models.vectorised(SIZES), params, X, Y, range(N_PARAMS)
    )
    assert diff < 1e-8


def test_gradient_check_catches_a_wrong_gradient():
    """Does the relative difference flag a backprop whose gradient is three times too large?"""
    params, X, Y = _problem(3, 9)
    right = bench_models.vectorised(SIZES)

    def tripled(p, x, y):
        cost, grad = right(p, x, y)
        return cost, 3 * grad

    assert bench_models.relative_difference(tripled, params, X, Y, range(N_PARAMS)) > 0.4


def test_notebook_support_module_is_not_left_imported():
    """Does loading the notebook's functions leave sys.modules as it found it?"""
    before = "backprop_checks" in sys.modules
    bench_models.notebook_functions(COURSE_ROOT / "source" / "backprop" / "backprop.ipynb")
    assert ("backprop_checks" in sys.modules) == before
