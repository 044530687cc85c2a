"""Checks behind the visible tests of the backprop notebook; each names the mistake it sees.

Every ``check_...`` function runs one of your functions on a small made-up problem (3 inputs,
5 hidden units, 3 labels, 7 examples) and on the exercise's data, and compares the results with
fingerprints stored below: three fixed weighted sums of each expected result and of the results
that common mistakes give. A fingerprint tells whether a result is right, not how to compute
it. When your function matches a known mistake, the check stops the test with one or two
sentences naming the mistake and where to look, shown once; a check that passes shows nothing
(see checks_core.py). The grader restores this file from the course's copy: editing it changes
nothing.
"""

from __future__ import annotations

import functools
from contextlib import contextmanager

import checks_core as core
import numpy as np
from checks_core import Mistake

try:  # records every TNC run from now on, so check_training can tell where fmin came from
    import ds4023_probe as _runs
except ImportError:  # the probe module is not beside the notebook: that check is left out
    _runs = None

#: The known mistakes: what each one is and where to look.
MESSAGES: dict[str, str] = {
    "gradient_as_tuple": (
        "backprop returns the gradient as the two matrices Delta1 / m and Delta2 / m: "
        "unroll them into one vector in the order of params, "
        "np.concatenate([D1.ravel(), D2.ravel()])."
    ),
    "no_bias_column": (
        "forward_propagate leaves out a bias column: a1 should be X with a column of ones in "
        "front, and a2 the sigmoid of z2 with a column of ones in front. Use the whole of "
        "theta1 and theta2, their first columns (the bias weights) included."
    ),
    "forward_transposed": (
        "forward_propagate returns one column per example instead of one row per example: "
        "z2 should have the shape (m, hidden_size), not (hidden_size, m). Keep the examples "
        "in rows, as the formulas of section 2.2 do."
    ),
    "bias_regularized": (
        "The bias weights are regularized: the penalty must leave out the first column of "
        "theta1 and of theta2 (the bias weights) and add up the squares from column 1 on."
    ),
    "penalty_scale": (
        "The penalty has the wrong factor: it is lambda / (2m) times the sum of the squared "
        "weights (bias weights left out)."
    ),
    "onehot_order": (
        "y_onehot puts the labels in the wrong columns: label k belongs in column k - 1, so "
        "label 10 (the digit 0) goes in the last column, not the first. Encode the labels "
        "1 to 10 as they are (section 1, one-hot encoding)."
    ),
    "cost_not_divided_by_m": (
        "The cost is m times too large: it adds up the terms of all examples but does not "
        "divide by m, the number of examples (the 1/m in front of the sums)."
    ),
    "cost_wrong_axis": (
        "The cost comes out as several numbers instead of one: the sum runs over one axis only "
        "(the examples or the labels). Add up over both the examples and the labels, then "
        "divide by m."
    ),
    "untransposed_images": (
        "X holds the images untransposed: with the given weights the cost is 0.2876 on them "
        "instead of 5.8303. Run the cell of section 1 that transposes every image, and the "
        "cells after it, before this one."
    ),
    "sigmoid_sign": (
        "sigmoid returns 1 - g(z): the sign in the exponent is flipped. g(z) = 1 / (1 + e^(-z)) "
        "is close to 1 for large z."
    ),
    "sigmoid_gradient_of_z": (
        "sigmoid_gradient computes z (1 - z): both factors of g(z) (1 - g(z)) need the sigmoid "
        "of z, not z itself."
    ),
    "sigmoid_gradient_of_activation": (
        "Step 3 takes the sigmoid gradient of the activations a2 instead of z2: the slope of a "
        "hidden unit is g'(z2) = sigmoid_gradient(z2), not sigmoid_gradient(a2)."
    ),
    "gradient_not_divided_by_m": (
        "The gradient is m times too large: after the loop (step 5) divide the accumulated "
        "Delta1 and Delta2 by m, the number of examples."
    ),
    "first_example_only": (
        "Only the first example reaches the gradient: the loop stops after t = 0. Let the loop "
        "run over all m examples, with steps 2 to 4 inside it and only step 5 after it."
    ),
    "last_example_only": (
        "Only the last example reaches the gradient: the accumulation (step 4) runs once, after "
        "the loop. Indent it so that it runs inside the loop, for every example."
    ),
    "gradient_transposed": (
        "The gradient has the right numbers in the wrong order: Delta1 and Delta2 are "
        "transposed. Each Delta must have the shape of its theta before you unroll it (the "
        "outer product is delta times a, in that order)."
    ),
    "bias_gradient_regularized": (
        "The regularization is added to the gradient of the bias weights too: column 0 of "
        "theta1 and of theta2 gets no lambda/m * theta term, only the other columns do."
    ),
    "plot_image_transposed": (
        "plot_image draws the picture transposed: X is already transposed (section 1), so lay "
        "the 400 pixels out as 20 x 20 row by row and draw them without transposing again."
    ),
    "prediction_off_by_one": (
        "y_pred is off by one: argmax gives column indices 0 to 9, while the labels are 1 to "
        "10 (column k - 1 belongs to label k)."
    ),
}

#: Relative tolerance of every check: float32 arithmetic passes, as it does in the grader.
RTOL = 5e-5
#: The small problem: layer sizes (inputs, hidden units, labels) and number of examples.
SIZES = (3, 5, 3)
M = 7
#: Costs of the exercise with the given weights: transposed images, untransposed, regularized.
GIVEN_COST, UNTRANSPOSED_COST, GIVEN_COST_REG = 5.8303, 0.2876, 5.9265

#: Fingerprints (see ``fingerprint``) of results on the small problem.
FINGERPRINTS: dict[str, tuple[float, float, float]] = {
    "sigmoid": (1.8608223428740445, -0.6824115235911979, 0.10844616198817843),
    "sigmoid_gradient": (-0.3002389689209517, -0.06089301632945111, 0.002816442516144258),
    "forward_a1": (8.588544448777101, -4.749626435993488, 9.024228456502987),
    "forward_z2": (-1.3733952873872903, 0.7303111876397907, -2.6227022292712148),
    "forward_a2": (-0.46032738282939933, -1.3901975590352815, -0.35635513189424617),
    "forward_z3": (-0.6208706365807093, -1.3161296943891567, 0.06564335071159857),
    "forward_h": (-0.40851175369238013, -0.6507925065628686, 0.03399294188007759),
    "cost": (1.687187822265116, -0.10693233609585599, -1.6923331121420122),
    "penalty": (0.3216949825065477, -0.02038871756646386, -0.3226760315131231),
    "grad": (0.37172772852049746, 0.039345394345792324, -0.45690502112625314),
    "grad_penalty": (-0.09175442077385, 0.012959034532225869, -0.40476451016350556),
    "grad_sigmoid_gradient_of_activation": (
        0.36410799561179924,
        0.025578505710219645,
        -0.44346137551798215,
    ),
    "penalty_with_bias": (0.36487044059392687, -0.023125136437182038, -0.3659831585495639),
    "grad_penalty_with_bias": (-0.07219480496790416, 0.016012493143474638, -0.41957813743854094),
}

#: Functions of the notebook, most basic first: a problem is blamed on the first one used.
_BUILDING_BLOCKS = ("sigmoid", "sigmoid_gradient", "forward_propagate", "cost", "backprop")


def _close(a, b) -> bool:
    return core.close(a, b, RTOL)


def _matches(values, key: str) -> bool:
    return core.matches(values, FINGERPRINTS[key], RTOL)


def small_problem():
    """The made-up problem of the checks: ``params, theta1, theta2, X, Y`` (Y one-hot)."""
    n_in, n_hid, n_lab = SIZES
    split = (n_in + 1) * n_hid
    params = 0.6 * np.cos(2.3 * np.arange(1, split + n_lab * (n_hid + 1) + 1))
    X = 1.5 * np.sin(1.1 * np.arange(1, M * n_in + 1)).reshape(M, n_in)
    Y = np.eye(n_lab)[(2 * np.arange(M)) % n_lab]
    theta1 = params[:split].reshape(n_hid, n_in + 1)
    theta2 = params[split:].reshape(n_lab, n_hid + 1)
    return params, theta1, theta2, X, Y


def _untransposed(grad) -> np.ndarray:
    """A gradient unrolled from transposed matrices, put back in the order of params."""
    n_in, n_hid, n_lab = SIZES
    split = (n_in + 1) * n_hid
    flat = np.asarray(grad, dtype=np.float64).ravel()
    first = flat[:split].reshape(n_in + 1, n_hid).T
    second = flat[split:].reshape(n_hid + 1, n_lab).T
    return np.concatenate([first.ravel(), second.ravel()])


@contextmanager
def _small_sizes(ns: dict):
    """Inside the block the notebook's network sizes are those of the small problem."""
    names = ("input_size", "hidden_size", "num_labels")
    saved = {k: ns[k] for k in names if k in ns}
    ns.update(zip(names, SIZES, strict=True))
    try:
        yield
    finally:
        for k in names:
            ns.pop(k, None)
        ns.update(saved)


@contextmanager
def _watching(ns: dict, user: str):
    """Watch which building blocks get called, with the small problem's sizes set."""
    with _small_sizes(ns), core.watching(ns, _BUILDING_BLOCKS, user) as called:
        yield called


def _suspects(ns: dict) -> list:
    """Each building block of the notebook with its diagnosis, as :func:`blame` takes them."""
    return [(n, _DIAGNOSE[n], ns[n], ns) for n in _BUILDING_BLOCKS if n in ns]


def _blame(ns: dict, called: list[str], user: str) -> str | None:
    """A problem in a building block that ``user`` called, as a message naming both."""
    return core.blame(user, called, _suspects(ns))


def _run(user: str, fn, ns: dict, *args, **kwargs):
    """Call ``fn`` on the small problem; if it fails, blame a faulty building block it used."""
    watch = _watching(ns, user)
    return core.run_blaming(user, lambda: fn(*args, **kwargs), watch, lambda: _suspects(ns))


def _small_sigmoid(fn, ns) -> None:
    z = np.linspace(-4.5, 4.5, 10)
    got = core.array(_run("sigmoid", fn, ns, z.copy())[0], "sigmoid(z)")
    if got.shape != z.shape:
        raise Mistake(f"sigmoid of 10 numbers should give 10 numbers, got the shape {got.shape}.")
    if _matches(got, "sigmoid"):
        return
    if _matches(1 - got, "sigmoid"):
        raise Mistake(MESSAGES["sigmoid_sign"])
    raise Mistake("sigmoid(z) is not 1 / (1 + e^(-z)) for every entry of z: look at the formula.")


def _small_sigmoid_gradient(fn, ns) -> None:
    z = np.linspace(-4.5, 4.5, 10)
    result, called = _run("sigmoid_gradient", fn, ns, z.copy())
    got = core.array(result, "sigmoid_gradient(z)")
    right, mistake = _matches(got, "sigmoid_gradient"), MESSAGES["sigmoid_gradient_of_z"]
    blame_it = functools.partial(_blame, ns, called, "sigmoid_gradient")
    core.sigmoid_slope("sigmoid_gradient", got, z, right, mistake, "g", blame_it)


def _small_forward(fn, ns) -> None:
    _, theta1, theta2, X, _ = small_problem()
    out, called = _run("forward_propagate", fn, ns, X.copy(), theta1.copy(), theta2.copy())
    if not isinstance(out, tuple | list) or len(out) != 5:
        raise Mistake("forward_propagate should return five arrays: a1, z2, a2, z3, h.")
    names = ("a1", "z2", "a2", "z3", "h")
    got = {k: core.array(v, k) for k, v in zip(names, out, strict=True)}
    n_in, n_hid, n_lab = SIZES
    want = {
        "a1": (M, n_in + 1),
        "z2": (M, n_hid),
        "a2": (M, n_hid + 1),
        "z3": (M, n_lab),
        "h": (M, n_lab),
    }
    if got["a1"].shape == (M, n_in) or got["a2"].shape == (M, n_hid):
        raise Mistake(MESSAGES["no_bias_column"])
    setting = f"For {M} examples and layers of {n_in}, {n_hid} and {n_lab} units"
    core.shapes(got, want, MESSAGES["forward_transposed"], setting)
    for k in ("a1", "a2"):
        if not np.all(got[k][:, 0] == 1):
            raise Mistake(
                "The first column of a1 and of a2 is the bias unit: it should hold only ones "
                "(put the column of ones in front)."
            )
    for k in names:
        if not _matches(got[k], f"forward_{k}"):
            raise Mistake(
                _blame(ns, called, "forward_propagate")
                or f"{k} is wrong while the arrays before it are right: look at how "
                f"forward_propagate computes {k}."
            )


def _judge_cost(value, key: str = "cost") -> str | None:
    """None when ``value`` is the cost of the small problem; else a mistake's key, or ''."""
    try:
        J = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        return ""
    if J.shape == ():
        if _matches(J, key):
            return None
        return "cost_not_divided_by_m" if _matches(J / M, key) else ""
    if J.size in (M, SIZES[2]) and max(J.shape) == J.size:
        if _matches(J.sum(), key) or _matches(J.sum() / M, key):
            return "cost_wrong_axis"
    return ""


def _small_cost(fn, ns) -> None:
    _, theta1, theta2, X, Y = small_problem()
    J, called = _run("cost", fn, ns, theta1.copy(), theta2.copy(), X.copy(), Y.copy())
    verdict = _judge_cost(J)
    if verdict is None:
        return
    if verdict:
        raise Mistake(MESSAGES[verdict])
    if np.shape(J) != ():
        raise Mistake(f"cost should return one number, not an array of shape {np.shape(J)}.")
    raise Mistake(
        _blame(ns, called, "cost")
        or "cost is wrong on a small problem (3 inputs, 5 hidden units, 3 labels, 7 examples): "
        "check the formula of section 2.3 term by term."
    )


def _onehot_verdict(y_onehot, y) -> str | None:
    """None when y_onehot encodes the labels y; else a mistake's key, or a message."""
    if not isinstance(y_onehot, np.ndarray):
        return (
            f"y_onehot should be a NumPy array, not {type(y_onehot).__name__} "
            "(did you pass sparse_output=False to OneHotEncoder?)."
        )
    labels = np.asarray(y).ravel()
    classes = int(labels.max())
    if y_onehot.shape != (labels.size, classes):
        return f"y_onehot should have the shape {(labels.size, classes)}, not {y_onehot.shape}."
    if not (np.all((y_onehot == 0) | (y_onehot == 1)) and np.all(y_onehot.sum(axis=1) == 1)):
        return "Every row of y_onehot should hold exactly one 1, all other entries 0."
    columns = y_onehot.argmax(axis=1)
    if np.array_equal(columns + 1, labels):
        return None
    if np.array_equal(columns, labels % classes):
        return "onehot_order"
    return "y_onehot[i] should have its 1 in column y[i] - 1, and it does not for every row."


def _data_problem(J, y_onehot, ns) -> str | None:
    """Why a cost that is right on the small problem is wrong on the exercise's data."""
    if abs(J - UNTRANSPOSED_COST) < 5e-4:
        return MESSAGES["untransposed_images"]
    if "y" in ns:
        try:
            verdict = _onehot_verdict(y_onehot, ns["y"])
        except Exception:
            verdict = None
        if verdict == "onehot_order":
            return MESSAGES["onehot_order"]
    return None


def _gradient(grad) -> np.ndarray:
    """``grad`` as an array, or the hidden check's message for the two matrices not unrolled."""
    if isinstance(grad, tuple | list) and len(grad) == 2 and all(np.ndim(g) == 2 for g in grad):
        raise Mistake(MESSAGES["gradient_as_tuple"])
    return core.array(grad, "grad")


def _judge_backprop(call, ns: dict, user: str) -> None:
    """Stop with the problem of ``call(params, X, Y) -> (J, grad)`` on the small problem."""
    params, _, _, X, Y = small_problem()
    result, called = _run(user, call, ns, params.copy(), X.copy(), Y.copy())
    if not isinstance(result, tuple | list) or len(result) != 2:
        raise Mistake(f"{user} should return two things: the cost J and the gradient grad.")
    J, grad = result
    grad = _gradient(grad)
    if grad.shape != params.shape:
        raise Mistake(
            f"grad should be one flat vector with the shape of params, {params.shape}, not "
            f"{grad.shape}: unroll both gradient matrices, theta1's first."
        )
    j_verdict = _judge_cost(J)
    if _matches(grad, "grad"):
        if j_verdict is None:
            return
        raise Mistake(
            MESSAGES[j_verdict] if j_verdict else f"{user} gets the gradient right but not J."
        )
    known = (
        ("gradient_not_divided_by_m", grad / M, "grad"),
        ("gradient_transposed", _untransposed(grad), "grad"),
        ("sigmoid_gradient_of_activation", grad, "grad_sigmoid_gradient_of_activation"),
    )
    for mistake, values, key in known:
        if _matches(values, key):
            raise Mistake(MESSAGES[mistake])
    for mistake, rows in (("first_example_only", [0]), ("last_example_only", [M - 1])):
        try:
            with _small_sizes(ns):
                alone = core.array(call(params.copy(), X[rows].copy(), Y[rows].copy())[1], "grad")
        except Exception:
            continue
        if np.any(alone != 0) and (_close(grad * M, alone) or _close(grad, alone)):
            raise Mistake(MESSAGES[mistake])
    raise Mistake(
        _blame(ns, called, user)
        or f"{user}'s gradient is wrong on a small network (3 inputs, 5 hidden units, 3 labels, "
        "7 examples): run gradient checking (section 3.2) to see which entries differ."
    )


def _judge_penalty(pJ, pgrad) -> None:
    """Stop with the problem of a regularization term (cost and gradient) at lambda = 1."""
    if pgrad is not None and not _matches(pgrad, "grad_penalty"):
        if _matches(pgrad, "grad_penalty_with_bias"):
            raise Mistake(MESSAGES["bias_gradient_regularized"])
        raise Mistake(
            "The regularization added to the gradient is wrong: lambda/m times each weight, "
            "bias weights left out (see section 3.3)."
        )
    if not _matches(pJ, "penalty"):
        if _matches(pJ, "penalty_with_bias"):
            raise Mistake(MESSAGES["bias_regularized"])
        for factor in (0.5, 2.0, 1.0 / M, float(M)):
            if _matches(np.asarray(pJ, dtype=np.float64) * factor, "penalty"):
                raise Mistake(MESSAGES["penalty_scale"])
        raise Mistake(
            "The penalty (the cost with reg_lambda=1 minus the cost with reg_lambda=0) is wrong "
            "on a small problem: look at the formula of section 2.4."
        )


def _in_proportion(p1, p3, default_gap) -> None:
    if not _close(p3, 3 * np.asarray(p1, dtype=np.float64)):
        raise Mistake(
            "The regularization should grow in proportion to reg_lambda: with reg_lambda=3 it "
            "should be three times what it is with reg_lambda=1."
        )
    if not default_gap:
        raise Mistake("Without a reg_lambda argument the function should use reg_lambda=1.")


def _small_cost_regularized(fn, ns) -> None:
    _, theta1, theta2, X, Y = small_problem()

    def at(*lam):
        args = (theta1.copy(), theta2.copy(), X.copy(), Y.copy(), *lam)
        return _run("cost_regularized", fn, ns, *args)

    J0, called = at(0)
    verdict = _judge_cost(J0)
    if verdict is not None:
        text = MESSAGES[verdict] if verdict else _blame(ns, called, "cost_regularized")
        raise Mistake(
            f"With reg_lambda=0, cost_regularized should give the plain cost; it has a problem: "
            f"{text}"
            if text
            else "With reg_lambda=0, cost_regularized should give the plain cost, and it does "
            "not: compare it with cost."
        )
    J1, J3, Jd = at(1)[0], at(3)[0], at()[0]
    p1 = core.array(J1, "cost_regularized") - core.array(J0, "cost_regularized")
    _judge_penalty(p1, None)
    _in_proportion(p1, core.array(J3, "cost_regularized") - J0, _close(Jd, J1))


def _small_backprop_reg(fn, ns) -> None:
    params, _, _, X, Y = small_problem()
    try:
        _judge_backprop(lambda p, x, y: fn(p, x, y, 0), ns, "backprop_reg")
    except Mistake as found:
        raise Mistake(
            f"With reg_lambda=0, backprop_reg should give what backprop gives; it has a "
            f"problem: {found}"
        ) from None
    got = {}
    for lam in (0, 1, 3, None):
        args = (params.copy(), X.copy(), Y.copy()) + (() if lam is None else (lam,))
        J, grad = _run("backprop_reg", fn, ns, *args)[0]
        got[lam] = (core.array(J, "J"), _gradient(grad))
    p1 = [a - b for a, b in zip(got[1], got[0], strict=True)]
    p3 = [a - b for a, b in zip(got[3], got[0], strict=True)]
    _judge_penalty(p1[0], p1[1])
    same = all(_close(a, b) for a, b in zip(got[None], got[1], strict=True))
    _in_proportion(np.append(*p1), np.append(*p3), same)


_DIAGNOSE = {
    "sigmoid": _small_sigmoid,
    "sigmoid_gradient": _small_sigmoid_gradient,
    "forward_propagate": _small_forward,
    "cost": _small_cost,
    "backprop": lambda fn, ns: _judge_backprop(fn, ns, "backprop"),
}


@core.check
def check_plot_image(plot_image, X) -> None:
    """Does plot_image draw one example's 400 pixels as a 20 x 20 picture?"""
    import matplotlib.pyplot as plt

    x = np.array(X[0], dtype=np.float64)
    plt.close("all")
    try:
        plot_image(x.copy())
        images = plt.gca().images
        drawn = np.asarray(images[-1].get_array()) if images else None
    finally:
        plt.close("all")
    if drawn is None:
        raise Mistake("plot_image drew no image on the current axes: draw it with plt.imshow.")
    if drawn.shape != (20, 20):
        raise Mistake(f"The picture should be 20 x 20 pixels, it is {drawn.shape}.")
    if np.array_equal(drawn.ravel(), x):
        return
    if np.array_equal(drawn.T.ravel(), x):
        raise Mistake(MESSAGES["plot_image_transposed"])
    raise Mistake("The picture is not the pixels of x, laid out 20 x 20 row by row.")


@core.check
def check_one_hot(y_onehot, y) -> None:
    """Is y_onehot the one-hot array of the labels y, label k in column k - 1?"""
    verdict = _onehot_verdict(y_onehot, y)
    if verdict is not None:
        raise Mistake(MESSAGES.get(verdict, verdict))


@core.check
def check_sigmoid(sigmoid) -> None:
    """Does sigmoid compute 1 / (1 + e^(-z)) for a number and for arrays of any shape?"""
    _small_sigmoid(sigmoid, sigmoid.__globals__)
    _elementwise(sigmoid, "sigmoid", 0.5, "sigmoid(0)", np.zeros((4, 3)))


def _elementwise(fn, name: str, at_zero: float, label: str, matrix: np.ndarray) -> None:
    """Is ``fn(0)`` the number ``at_zero``, and does ``fn`` keep the shape of ``matrix``?"""
    value = core.array(_run(name, fn, fn.__globals__, 0.0)[0], label)
    if value.shape != () or abs(value - at_zero) > 1e-12:
        raise Mistake(f"{name}(0) should be the number {at_zero}, got {value}.")
    shape = np.shape(fn(matrix))
    if shape != matrix.shape:
        raise Mistake(f"{name} of a {matrix.shape} matrix should keep its shape, got {shape}.")


@core.check
def check_forward_propagate(forward_propagate, X) -> None:
    """Does forward_propagate return a1, z2, a2, z3, h with the bias columns, as expected?"""
    _small_forward(forward_propagate, forward_propagate.__globals__)
    rows = np.array(X[:10], dtype=np.float64)
    n = rows.shape[1]
    theta1 = 0.01 * np.cos(np.arange(25 * (n + 1))).reshape(25, n + 1)
    theta2 = 0.1 * np.sin(np.arange(10 * 26)).reshape(10, 26)
    out = forward_propagate(rows, theta1, theta2)
    want = ((10, n + 1), (10, 25), (10, 26), (10, 10), (10, 10))
    for name, value, shape in zip(("a1", "z2", "a2", "z3", "h"), out, want, strict=True):
        if np.shape(value) != shape:
            raise Mistake(
                f"On 10 examples of the exercise, {name} should have the shape {shape}, "
                f"not {np.shape(value)}."
            )


@core.check
def check_cost(cost, theta1, theta2, X, y_onehot) -> None:
    """Is cost right on a small problem, and 5.8303 with the given weights on the data?"""
    ns = cost.__globals__
    _small_cost(cost, ns)
    J = core.array(cost(theta1.copy(), theta2.copy(), X, y_onehot), "cost")
    if J.shape != ():
        raise Mistake(f"cost should return one number, not an array of shape {J.shape}.")
    if abs(J - GIVEN_COST) <= 5e-4:
        return
    raise Mistake(
        _data_problem(J, y_onehot, ns)
        or f"cost is right on a small problem, but with the given weights it gives {J:.4f} "
        f"instead of {GIVEN_COST} on X and y_onehot: check the cells of section 1."
    )


@core.check
def check_cost_regularized(cost_regularized, theta1, theta2, X, y_onehot) -> None:
    """Is cost_regularized right on a small problem, and 5.9265 on the data for lambda = 1?"""
    ns = cost_regularized.__globals__
    _small_cost_regularized(cost_regularized, ns)
    J = core.array(cost_regularized(theta1.copy(), theta2.copy(), X, y_onehot, 1), "the cost")
    if J.shape == () and abs(J - GIVEN_COST_REG) <= 5e-4:
        return
    J0 = core.array(cost_regularized(theta1.copy(), theta2.copy(), X, y_onehot, 0), "the cost")
    raise Mistake(
        _data_problem(J0, y_onehot, ns)
        or f"cost_regularized is right on a small problem, but with the given weights and "
        f"reg_lambda=1 it gives {J} instead of {GIVEN_COST_REG}: check the cells of section 1."
    )


@core.check
def check_sigmoid_gradient(sigmoid_gradient) -> None:
    """Does sigmoid_gradient compute g(z) (1 - g(z)) element by element?"""
    _small_sigmoid_gradient(sigmoid_gradient, sigmoid_gradient.__globals__)
    _elementwise(sigmoid_gradient, "sigmoid_gradient", 0.25, "the result", np.ones((2, 5)))


@core.check
def check_backprop(backprop, params, X, y_onehot) -> None:
    """Does backprop return the right cost and gradient (small network, then the data)?"""
    _judge_backprop(backprop, backprop.__globals__, "backprop")
    J, grad = backprop(params.copy(), X, y_onehot)
    if np.shape(grad) != params.shape or not np.all(np.isfinite(grad)):
        raise Mistake(f"On the exercise grad should be {params.shape} finite numbers.")
    if not (np.ndim(J) == 0 and 4 < J < 10):
        raise Mistake(f"For small random weights J is about 6 to 8 on the exercise, got {J}.")


@core.check
def check_backprop_reg(backprop_reg, params, X, y_onehot) -> None:
    """Does backprop_reg add the right regularization to backprop's cost and gradient?"""
    _small_backprop_reg(backprop_reg, backprop_reg.__globals__)
    J, grad = backprop_reg(params.copy(), X, y_onehot, 1)
    if np.shape(grad) != params.shape or not (np.ndim(J) == 0 and np.isfinite(J)):
        raise Mistake(f"On the exercise J should be one number and grad {params.shape} numbers.")


@core.check
def check_gradient_checking(gradient_checking) -> None:
    """Does gradient_checking return the relative difference (checked with stand-ins)?"""
    ns = gradient_checking.__globals__
    saved = {k: ns[k] for k in ("backprop", "backprop_reg") if k in ns}

    def stand_in(scale):  # J = sum(params**2) / 2 has the gradient params
        return lambda params, X, y, reg_lambda=1: (0.5 * np.sum(params**2), scale * params)

    point = np.linspace(-1.0, 1.0, 7)
    # a wrong gradient: each entry off by its own factor, so no one entry tells the whole
    factors = 1.5 + 0.5 * np.cos(np.arange(7.0))
    want_off = np.linalg.norm(point - factors * point) / np.linalg.norm(point + factors * point)
    try:
        ns["backprop"], ns["backprop_reg"] = stand_in(1.0), stand_in(2.0)
        same = core.array(gradient_checking(point.copy(), None, None, 1e-4), "the result")
        ns["backprop"] = stand_in(factors)
        off = core.array(gradient_checking(point.copy(), None, None, 1e-4), "the result")
        ns["backprop"] = stand_in(1.0)
        reg = core.array(gradient_checking(point.copy(), None, None, 1e-4, True), "the result")
    finally:
        for k in ("backprop", "backprop_reg"):
            ns.pop(k, None)
        ns.update(saved)
    if same.shape != () or not 0 <= same < 1e-6:
        raise Mistake(f"For a correct gradient the difference should be below 1e-6, got {same}.")
    if off.shape != () or abs(off - want_off) > 1e-5 * want_off:
        raise Mistake(
            f"For a gradient whose every entry is off by its own factor the difference is "
            f"{want_off:.6f}, got {off}: take the central difference of every entry of params."
        )
    if abs(reg - 1 / 3) > 1e-5:
        raise Mistake(
            "With regularized=True, gradient_checking should use backprop_reg for the costs and "
            "for the gradient."
        )


@core.check
def check_training(y_pred, y, backprop) -> None:
    """Does the trained network classify at least 95 % of the training images correctly?"""
    predicted, labels = np.ravel(y_pred), np.ravel(y)
    if predicted.shape != labels.shape:
        raise Mistake(f"y_pred should hold one label per example, got {np.shape(y_pred)}.")
    accuracy = float(np.mean(predicted == labels))
    if accuracy >= 0.95:
        _trained_from_params(backprop.__globals__)
        return
    if np.mean(predicted + 1 == labels) >= 0.9:
        raise Mistake(MESSAGES["prediction_off_by_one"])
    if np.mean(predicted == labels % 10 + 1) >= 0.9:
        raise Mistake(MESSAGES["onehot_order"])
    text = core.problem(_DIAGNOSE["backprop"], backprop, backprop.__globals__)
    raise Mistake(
        f"The accuracy is {accuracy:.2%}, below 95 %. The training relies on backprop, and "
        f"backprop has a problem: {text}"
        if text
        else f"The accuracy is {accuracy:.2%}; it should be at least 95 %."
    )


def _trained_from_params(ns: dict) -> None:
    """Stop unless fmin came from a TNC run of this notebook that started at params."""
    if _runs is None or "fmin" not in ns:
        return
    try:
        x0, values, grads = _runs.tnc_run(_runs.optimum(ns["fmin"]))[:3]
    except ValueError as too_long:  # a run the grader cannot replay: it says how long
        text = str(too_long)
        raise Mistake(f"{text[:1].upper()}{text[1:]}.") from None
    except (LookupError, TypeError, IndexError):
        raise Mistake(
            "fmin.x comes from no TNC run of this notebook: the grader replays your training, "
            "so train with scipy.optimize's TNC (minimize(method='TNC') or fmin_tnc), from params."
        ) from None
    params = np.asarray(ns.get("params"), dtype=np.float64)
    if x0.shape != params.shape or np.max(np.abs(x0 - params)) > 1e-6:
        raise Mistake("The training did not start from params: start TNC from params (x0=params).")
    _first_evaluation_is_the_network(ns, x0, values, grads)


def _first_evaluation_is_the_network(ns: dict, x0, values, grads) -> None:
    """Stop unless the first cost and gradient TNC got are backprop's (or backprop_reg's) at
    params on X and y_onehot, up to a constant factor (the grader replays the whole run)."""
    data = [ns.get(k) for k in ("X", "y_onehot")]
    for name in ("backprop", "backprop_reg"):
        try:
            J, grad = ns[name](x0.copy(), *data)
            grad = np.asarray(grad, dtype=np.float64).ravel()
        except Exception:
            continue
        if grad.shape != grads[0].shape or not np.any(grad):
            continue
        scale = float(grads[0] @ grad / (grad @ grad))
        if scale > 0 and _close(grads[0], scale * grad) and abs(float(J)) > 0:
            return
    raise Mistake(
        "fmin comes from a TNC run whose first cost and gradient are not backprop's at params: "
        "train with minimize(backprop, params, args=(X, y_onehot), method='TNC', jac=True)."
    )
