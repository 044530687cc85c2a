"""Checks behind the visible tests of the mlp_from_scratch notebook; each names the mistake.

Every ``check_...`` function runs one of your functions (or methods of your NeuralNetwork)
on small made-up inputs and compares the results with fingerprints stored below: three
fixed weighted sums of each expected result and of the results that common mistakes give.
A fingerprint tells whether a result is right, not how to compute it. When your code
matches a known mistake, the check stops the test with one or two sentences naming the
mistake and where to look, shown once; a check that passes shows nothing (see checks_core.py).
Results are compared as the grader compares them (``RTOL``, ``NUM_RTOL`` below): relative to
their size, loosely enough for float32 arithmetic except where the notebook asks for float64.
The grader restores this file from the course's copy: editing it changes nothing.
"""

from __future__ import annotations

import checks_core as core
import numpy as np
from checks_core import Mistake

#: The known mistakes: what each one is and where to look.
MESSAGES: dict[str, str] = {
    "z3_from_z2": (
        "forward multiplies z2 by W2: the output layer takes the activations a2 = f(z2) of "
        "the hidden layer, not their net inputs z2."
    ),
    "output_not_squashed": (
        "y_hat is z3 itself: the output unit applies the sigmoid as well, y_hat = f(z3)."
    ),
    "forward_transposed": (
        "forward returns one column per example instead of one row per example: z2 should "
        "have the shape (examples, hidden units). Keep the examples in rows, as in X."
    ),
    "cost_missing_half": (
        "The cost is twice too large: J is half of the sum of the squared errors (the half "
        "cancels the 2 of the derivative)."
    ),
    "cost_mean": (
        "The cost is divided by the number of examples: this J is half the sum of the squared "
        "errors, not their mean."
    ),
    "cost_not_a_float": (
        "cost_function returns an array instead of one float: add up the squared errors over "
        "all examples and outputs."
    ),
    "sigmoid_prime_of_activation": (
        "sigmoid_prime computes z (1 - z), the formula for an activation a = f(z). It receives "
        "the net input z, so both factors of f(z) (1 - f(z)) need the sigmoid of z."
    ),
    "delta3_sign": (
        "The gradient has the wrong sign: delta3 is -(y - y_hat) f'(z3), with the minus sign, "
        "since the cost grows when y_hat moves away from y."
    ),
    "prime_of_activation_in_backprop": (
        "cost_function_prime applies sigmoid_prime to the activations (y_hat, a2) instead of "
        "the net inputs: the slopes are f'(z3) and f'(z2)."
    ),
    "gradient_shapes_transposed": (
        "dJdW1 and dJdW2 come out transposed: each must have the shape of its weight matrix. "
        "Check the order of the factors in the formulas of section 1.4."
    ),
    "one_sided_difference": (
        "compute_numerical_gradient uses a one-sided difference: nudge each weight up and "
        "down by epsilon and divide the difference of the two costs by 2 epsilon."
    ),
    "numerical_not_halved": (
        "The numerical gradient is twice too large: divide the difference of the two costs by "
        "2 epsilon, not by epsilon."
    ),
    "relative_difference_unnormalised": (
        "relative_difference returns only the norm of the difference: divide it by the norm "
        "of the sum of the two gradients."
    ),
    "no_bias_trick": (
        "The weight matrices have no bias row: with the bias trick every layer but the output "
        "gets an extra unit, so W[0] of a [2, 2, 1] network is (3, 3)."
    ),
    "bias_in_output_layer": (
        "The last weight matrix has one column too many: the output layer gets no extra unit, "
        "so W[-1] has layers[-1] columns."
    ),
    "unscaled_init": (
        "The initial weights are not scaled: divide each standard normal matrix by sqrt(n), "
        "where n = layers[i] is the number of units feeding it."
    ),
    "predict_without_bias": (
        "predict does not add the bias column: with add_bias=True (the default) it must append "
        "a column of ones to X before the first layer, as fit does."
    ),
    "loss_missing_half": (
        "calculate_loss is twice too large: the loss is half of the sum of the squared errors."
    ),
    "loss_predict_without_bias": (
        "calculate_loss gets X without the bias column (as fit passes it), so predict must "
        "append it: call predict with its default add_bias=True, not with add_bias=False "
        "(addBias=False in the classic code, whose fit appends the column first)."
    ),
    "sgd_sign": (
        "fit_partial moves the weights uphill: the step subtracts alpha times the gradient "
        "from each weight matrix."
    ),
    "losses_at_wrong_epochs": (
        "fit records the loss at the wrong epochs: after the first epoch and after every epoch "
        "whose number (counting from 1) is a multiple of display_update."
    ),
}

#: Relative tolerance of a value, here and in the grader: float32 arithmetic (about 1e-7 of
#: the size) passes, and every known mistake below is more than 20 times further off.
RTOL = 5e-5
#: Relative tolerance of a numerical gradient (section 1.5 asks for float64): a one-sided
#: difference is off by about 1e-6 of the size on the small problem, float32 costs by 1e-3.
NUM_RTOL = 1e-7
#: Relative tolerance of the costs BFGS records (section 1.6 asks for float64): float64
#: rounding passes, float32's (about 1e-8 of the cost and more) does not.
BFGS_RTOL = 1e-9

#: How far off (relative) a result may be and still be called close to the right one.
_NEAR_MISS = 1e-2
#: Why a result of section 1.5 that is only close is not accepted.
_FLOAT64 = "section 1.5 needs float64 throughout, also in the cost_function and "
_FLOAT64 += "cost_function_prime it calls"

#: The small problem of part 1: examples, inputs, hidden units, outputs.
SHAPE = (5, 3, 4, 2)
#: The network of part 2's checks: layer sizes, learning rate and seed.
LAYERS, ALPHA, SEED = (3, 4, 2), 0.3, 5

#: Fingerprints (see ``fingerprint``) of results on the small problems.
FINGERPRINTS: dict[str, tuple[float, float, float]] = {
    "forward_z2": (-0.09392529751853754, 4.570686108012827, -2.773698583846781),
    "forward_a2": (0.19944243625714292, 1.1817880809125114, -1.1073221251518628),
    "forward_z3": (0.1707182660226456, -0.9313933780283349, -0.1705021096414234),
    "forward_y_hat": (0.48143560448770256, -0.8066286113421686, -0.23462493160783088),
    "cost": (0.3403252949072152, -0.021569488788795457, -0.34136315937709205),
    "sigmoid_prime": (-0.3002389689209517, -0.06089301632945111, 0.002816442516144258),
    "grad_W1": (0.004088367566005231, 0.010330919262289266, -0.008699747745967277),
    "grad_W2": (0.028088239242678257, -0.0018287357625496594, 0.001322663436618885),
    "numerical": (-0.020687569538841474, 0.0031539467371241646, -0.01734944125170482),
    "relative_difference": (0.10344239159850513, -0.006556078961096471, -0.10375785208447472),
    "init_W0": (-1.5686829808541665, -2.3127572715910154, -1.2438789837497186),
    "init_W1": (-1.1944685752894864, -1.1054780588779505, 1.2224135144269712),
    "predict": (-0.07876499541107373, 0.147475992635666, -0.538097131351489),
    "loss": (1.1411926184357797, -0.07232768694409739, -1.144672827781615),
    "step_W0": (0.7597846767312053, -1.3927981442203392, -0.1042267497340335),
    "step_W1": (0.43068116027577164, -3.037991948308638, 0.08408688867045991),
    "fit_losses": (0.4369036058689272, -1.3340101147037007, -0.12245751314593459),
    "fit_W0": (0.7261484355427615, -1.3935259515422058, 0.031540869107885054),
    "grad_W1_of_activation": (0.0035353106447603526, 0.0130460908006745, -0.009691111450576294),
    "grad_W2_of_activation": (0.028014966826344693, -0.0023531466346825972, 0.0029672191682948938),
    "numerical_one_sided": (-0.02068508406626298, 0.0031517246513468474, -0.017350641602112107),
}

#: Functions and methods, most basic first: a problem is blamed on the first one used.
_BUILDING_BLOCKS = ("sigmoid_prime", "forward", "cost_function", "cost_function_prime")
_METHODS = ("predict", "calculate_loss", "fit_partial")


#: Fingerprints compared more tightly than ``RTOL``: the numerical gradient's.
_TIGHT = {"numerical": NUM_RTOL, "numerical_one_sided": NUM_RTOL}


def tolerance(key: str) -> float:
    """The relative tolerance the result fingerprinted as ``key`` is matched with."""
    return _TIGHT.get(key, RTOL)


def _matches(values, key: str) -> bool:
    return core.matches(values, FINGERPRINTS[key], tolerance(key))


def _close(a, b) -> bool:
    return core.close(a, b, RTOL)


def small_problem():
    """The made-up problem of part 1's checks: ``X, y, W1, W2``."""
    m, n_in, n_hid, n_out = SHAPE
    X = 0.5 + 0.4 * np.sin(1.3 * np.arange(m * n_in)).reshape(m, n_in)
    y = 0.5 + 0.4 * np.cos(0.7 * np.arange(m * n_out)).reshape(m, n_out)
    W1 = 0.8 * np.cos(1.9 * np.arange(n_in * n_hid)).reshape(n_in, n_hid)
    W2 = 0.8 * np.sin(2.1 * np.arange(n_hid * n_out)).reshape(n_hid, n_out)
    return X, y, W1, W2


def small_network_weights() -> list[np.ndarray]:
    """Fixed weights of the part 2 network (layers LAYERS, bias trick included)."""
    n_in, n_hid, n_out = LAYERS
    first = 0.7 * np.cos(1.1 * np.arange((n_in + 1) * (n_hid + 1))).reshape(n_in + 1, n_hid + 1)
    last = 0.7 * np.sin(1.7 * np.arange((n_hid + 1) * n_out)).reshape(n_hid + 1, n_out)
    return [first, last]


def small_network_data():
    """Inputs (without bias column) and 0/1 targets for the part 2 checks."""
    X = 0.5 + 0.5 * np.sin(0.9 * np.arange(6 * LAYERS[0])).reshape(6, LAYERS[0])
    T = (np.cos(1.3 * np.arange(6 * LAYERS[-1])).reshape(6, LAYERS[-1]) > 0).astype(float)
    return X, T


def _suspects(ns: dict, cls=None) -> list:
    """The building blocks with their diagnoses, as :func:`blame` takes them."""
    found = [(n, _DIAGNOSE[n], ns[n]) for n in _BUILDING_BLOCKS if n in ns]
    return found + [(n, _DIAGNOSE[n], cls) for n in _METHODS if cls is not None]


def _blame(ns: dict, called: list[str], user: str, cls=None) -> str | None:
    """A problem in a building block that ``user`` called, as a message naming both."""
    return core.blame(user, called, _suspects(ns, cls))


def _run(user: str, fn, ns: dict, *args, cls=None, **kwargs):
    """Call ``fn``; if it fails, blame a faulty building block it used."""
    watch = core.watching(ns, _BUILDING_BLOCKS, user, cls, _METHODS)
    return core.run_blaming(user, lambda: fn(*args, **kwargs), watch, lambda: _suspects(ns, cls))


def _small_sigmoid_prime(fn) -> None:
    z = np.linspace(-4.5, 4.5, 10)
    got = core.array(_run("sigmoid_prime", fn, fn.__globals__, z.copy())[0], "sigmoid_prime(z)")
    right, mistake = _matches(got, "sigmoid_prime"), MESSAGES["sigmoid_prime_of_activation"]
    core.sigmoid_slope("sigmoid_prime", got, z, right, mistake, "f")


def _small_forward(fn) -> None:
    X, _, W1, W2 = small_problem()
    m, _, n_hid, n_out = SHAPE
    ns = fn.__globals__
    out, called = _run("forward", fn, ns, X.copy(), W1.copy(), W2.copy())
    if not isinstance(out, tuple | list) or len(out) != 4:
        raise Mistake("forward should return four arrays: z2, a2, z3, y_hat.")
    names = ("z2", "a2", "z3", "y_hat")
    got = {k: core.array(v, k) for k, v in zip(names, out, strict=True)}
    want = {"z2": (m, n_hid), "a2": (m, n_hid), "z3": (m, n_out), "y_hat": (m, n_out)}
    setting = f"For {m} examples, {n_hid} hidden units and {n_out} outputs"
    core.shapes(got, want, MESSAGES["forward_transposed"], setting)
    if all(_matches(got[k], f"forward_{k}") for k in names):
        return
    if _matches(got["z2"], "forward_z2") and _matches(got["a2"], "forward_a2"):
        if _close(got["z3"], got["z2"] @ W2):
            raise Mistake(MESSAGES["z3_from_z2"])
        if _matches(got["z3"], "forward_z3") and _close(got["y_hat"], got["z3"]):
            raise Mistake(MESSAGES["output_not_squashed"])
    first = next(k for k in names if not _matches(got[k], f"forward_{k}"))
    raise Mistake(f"{first} is wrong while the arrays before it are right: see the equations.")


def _small_cost(fn) -> None:
    """Is cost_function a float, half the sum of squared errors, on a small problem?"""
    X, y, W1, W2 = small_problem()
    ns = fn.__globals__
    J, called = _run("cost_function", fn, ns, X.copy(), y.copy(), W1.copy(), W2.copy())
    if not isinstance(J, float | np.floating):
        if np.ndim(J) > 0 and _matches(np.sum(J), "cost"):
            raise Mistake(MESSAGES["cost_not_a_float"])
        raise Mistake(f"cost_function should return a float, got {type(J).__name__}.")
    if _matches(J, "cost"):
        return
    for key, factor in (("cost_missing_half", 0.5), ("cost_mean", float(SHAPE[0]))):
        if _matches(J * factor, "cost"):
            raise Mistake(MESSAGES[key])
    raise Mistake(
        _blame(ns, called, "cost_function")
        or "cost_function is wrong on a small problem: J = 1/2 times the sum of (y - y_hat)^2."
    )


def _small_cost_prime(fn) -> None:
    """Does cost_function_prime give dJ/dW1 and dJ/dW2 right on a small problem?"""
    X, y, W1, W2 = small_problem()
    ns = fn.__globals__
    out, called = _run("cost_function_prime", fn, ns, X.copy(), y.copy(), W1.copy(), W2.copy())
    if not isinstance(out, tuple | list) or len(out) != 2:
        raise Mistake("cost_function_prime should return two arrays: (dJdW1, dJdW2).")
    g1, g2 = core.array(out[0], "dJdW1"), core.array(out[1], "dJdW2")
    if (g1.shape, g2.shape) == (W1.T.shape, W2.T.shape) and W1.shape != W1.T.shape:
        raise Mistake(MESSAGES["gradient_shapes_transposed"])
    if g1.shape != W1.shape or g2.shape != W2.shape:
        raise Mistake(
            f"dJdW1 and dJdW2 should have the shapes of W1 {W1.shape} and W2 {W2.shape}, got "
            f"{g1.shape} and {g2.shape}."
        )
    if _matches(g1, "grad_W1") and _matches(g2, "grad_W2"):
        return
    if _matches(-g1, "grad_W1") and _matches(-g2, "grad_W2"):
        raise Mistake(MESSAGES["delta3_sign"])
    if _matches(g1, "grad_W1_of_activation") and _matches(g2, "grad_W2_of_activation"):
        raise Mistake(MESSAGES["prime_of_activation_in_backprop"])
    raise Mistake(
        _blame(ns, called, "cost_function_prime")
        or "cost_function_prime is wrong on a small problem: compare it with the numerical "
        "gradient of section 1.5 to see which weights differ."
    )


_DIAGNOSE = {
    "sigmoid_prime": _small_sigmoid_prime,
    "forward": _small_forward,
    "cost_function": _small_cost,
    "cost_function_prime": _small_cost_prime,
}


@core.check
def check_forward(forward, X, W1, W2) -> None:
    """Are the four arrays of forward right on a small problem, and shaped right on the data?"""
    _small_forward(forward)
    out = forward(X, W1, W2)
    m, n_hid, n_out = X.shape[0], W1.shape[1], W2.shape[1]
    want = ((m, n_hid), (m, n_hid), (m, n_out), (m, n_out))
    for name, value, shape in zip(("z2", "a2", "z3", "y_hat"), out, want, strict=True):
        if np.shape(value) != shape:
            raise Mistake(
                f"On the notebook's data {name} should be {shape}, not {np.shape(value)}."
            )


check_cost_function = core.check(_small_cost)


@core.check
def check_sigmoid_prime(sigmoid_prime) -> None:
    """Does sigmoid_prime compute f(z) (1 - f(z)) from the net input z?"""
    _small_sigmoid_prime(sigmoid_prime)
    quarter = core.array(sigmoid_prime(0.0), "sigmoid_prime(0)")
    if abs(float(quarter) - 0.25) > 1e-12:
        raise Mistake(f"sigmoid_prime(0) should be 0.25, got {quarter}.")


check_cost_function_prime = core.check(_small_cost_prime)


@core.check
def check_numerical_gradient(compute_numerical_gradient, grad_numerical) -> None:
    """Is the numerical gradient the central difference, flat, in get_params order?"""
    X, y, W1, W2 = small_problem()
    fn, ns = compute_numerical_gradient, compute_numerical_gradient.__globals__
    result, called = _run(
        "compute_numerical_gradient", fn, ns, X.copy(), y.copy(), W1.copy(), W2.copy(), 1e-4
    )
    got = core.array(result, "the numerical gradient")
    if got.shape != (W1.size + W2.size,):
        raise Mistake(
            f"The numerical gradient should be one flat vector of {W1.size + W2.size} entries "
            f"(get_params order), got the shape {got.shape}."
        )
    if not _matches(got, "numerical"):
        text = _blame(ns, called, "compute_numerical_gradient")
        if text:  # a wrong cost_function makes every difference of costs wrong
            raise Mistake(text)
        if _matches(got, "numerical_one_sided"):
            raise Mistake(MESSAGES["one_sided_difference"])
        if _matches(got / 2, "numerical"):
            raise Mistake(MESSAGES["numerical_not_halved"])
        if core.matches(got, FINGERPRINTS["numerical"], _NEAR_MISS):
            raise Mistake(
                f"The numerical gradient is close to the right one but not within {NUM_RTOL:.0e} "
                f"of its size: {_FLOAT64} (in float32 the two costs of each difference share "
                "most of their digits)."
            )
        raise Mistake(
            "The numerical gradient is wrong on a small problem: for each weight in "
            "get_params order, (J(w + eps) - J(w - eps)) / (2 eps)."
        )
    if np.shape(grad_numerical) != (9,):
        raise Mistake(f"grad_numerical should hold the 9 weights, got {np.shape(grad_numerical)}.")


@core.check
def check_relative_difference(relative_difference, grad_numerical, grad_analytical) -> None:
    """Is relative_difference right, and does the notebook's gradient check pass?"""
    u = np.cos(np.arange(1.0, 8.0))
    v = u + 0.3 * np.sin(np.arange(2.0, 9.0))
    got = relative_difference(u.copy(), v.copy())
    if not isinstance(got, float | np.floating):
        raise Mistake(f"relative_difference should return a float, got {type(got).__name__}.")
    if not _matches(got, "relative_difference"):
        if _close(got, np.linalg.norm(u - v)):
            raise Mistake(MESSAGES["relative_difference_unnormalised"])
        raise Mistake("relative_difference is not ||n - a|| / ||n + a|| on two test vectors.")
    numerical = core.array(grad_numerical, "numerical")
    analytical = core.array(grad_analytical, "a")
    gap = np.inf
    if numerical.shape == analytical.shape and numerical.size:
        # computed here in float64, as the grader does: a relative_difference written in
        # float32 is right, but cannot tell differences below about 1e-7 apart
        gap = np.linalg.norm(numerical - analytical) / np.linalg.norm(numerical + analytical)
    if gap < 1e-8:
        return
    if numerical.shape == analytical.shape and np.allclose(analytical, -numerical, rtol=1e-5):
        raise Mistake(MESSAGES["delta3_sign"])
    prime = relative_difference.__globals__.get("cost_function_prime")
    text = core.problem(_small_cost_prime, prime) if callable(prime) else None
    if text:
        raise Mistake(f"The gradient check fails, and cost_function_prime has a problem: {text}")
    if gap < _NEAR_MISS:
        raise Mistake(
            f"The gradient check gives {gap:.1e}, close but not below 1e-8, as float32 "
            f"arithmetic would: {_FLOAT64}."
        )
    raise Mistake(
        "The gradient check fails: the analytical gradient differs from the numerical one."
    )


@core.check
def check_train_bfgs(train_bfgs, X, y, W1, W2) -> None:
    """Does train_bfgs return the costs from the start on, falling close to 0?"""
    ns = train_bfgs.__globals__
    inputs = [a.copy() for a in (X, W1, W2)]
    result, called = _run("train_bfgs", train_bfgs, ns, X, y, W1, W2)
    if any(not np.array_equal(a, b) for a, b in zip(inputs, (X, W1, W2), strict=True)):
        raise Mistake("train_bfgs changed the arrays passed in: work on copies.")
    if not isinstance(result, tuple | list) or len(result) != 3:
        raise Mistake("train_bfgs should return (W1_trained, W2_trained, costs).")
    A, B, costs = result
    if not isinstance(costs, list) or not costs:
        raise Mistake("costs should be a list: the starting cost, then one per iteration.")
    if np.shape(A) != W1.shape or np.shape(B) != W2.shape:
        raise Mistake("The trained weights should keep the shapes of W1 and W2.")
    cost = ns.get("cost_function")
    if callable(cost) and not np.isclose(costs[0], cost(X, y, W1, W2)):
        raise Mistake("costs[0] should be the cost at the starting weights.")
    rough = _only_float32(ns, called)
    if rough:
        raise Mistake(
            f"{rough} is right only to float32's precision, and section 1.6 needs float64: "
            "rounded costs and gradients lead BFGS elsewhere on other data. Compute in float64 "
            "(NumPy's default)."
        )
    if len(costs) >= 2 and costs[-1] < 1e-3 * costs[0]:
        return
    raise Mistake(
        _blame(ns, called, "train_bfgs")
        or f"BFGS did not bring the cost close to 0: {costs[0]:.4g} -> {costs[-1]:.4g}."
    )


def _only_float32(ns: dict, called: list[str]) -> str | None:
    """The first of cost_function and cost_function_prime, among those ``called``, that is
    right on the small problem to ``RTOL`` but not to ``BFGS_RTOL`` (float32's precision, not
    float64's), or None."""
    X, y, W1, W2 = small_problem()
    for name, keys in (
        ("cost_function", ("cost",)),
        ("cost_function_prime", ("grad_W1", "grad_W2")),
    ):
        fn = ns.get(name)
        if name not in called:
            continue
        try:
            out = fn(X.copy(), y.copy(), W1.copy(), W2.copy())
            values = [out] if len(keys) == 1 else list(out)
        except Exception:  # noqa: BLE001  (its own check says what is wrong with it)
            continue
        if len(values) != len(keys) or not all(map(_matches, values, keys)):
            continue
        if not all(
            core.matches(v, FINGERPRINTS[k], BFGS_RTOL) for v, k in zip(values, keys, strict=True)
        ):
            return name
    return None


def _network(cls, weights=True):
    net = cls(list(LAYERS), alpha=ALPHA, seed=SEED)
    if weights:
        net.W = [w.copy() for w in small_network_weights()]
    return net


def _diagnose_init(cls) -> None:
    """Does __init__ store layers and alpha and make the weight matrices of the bias trick?"""
    net = cls([2, 2, 1], seed=0)
    shapes = [np.shape(w) for w in getattr(net, "W", [])]
    if len(shapes) == 2 and shapes[0] == (2, 2):
        raise Mistake(MESSAGES["no_bias_trick"])
    if len(shapes) == 2 and shapes[0] == (3, 3) and shapes[1] == (3, 2):
        raise Mistake(MESSAGES["bias_in_output_layer"])
    if shapes != [(3, 3), (3, 1)]:
        raise Mistake(
            f"A [2, 2, 1] network should have W of shapes (3, 3) and (3, 1), got {shapes}."
        )
    if list(net.layers) != [2, 2, 1] or net.alpha != 0.1:
        raise Mistake("Store layers (as a list) and alpha (default 0.1) on the network.")


def _diagnose_predict(cls) -> None:
    X, _ = small_network_data()
    net = _network(cls)
    try:
        with_bias = core.array(net.predict(np.c_[X, np.ones(len(X))], add_bias=False), "predict")
    except Exception:
        with_bias = None
    try:
        out = core.array(net.predict(X.copy()), "predict")
    except Exception:
        out = None
    if with_bias is not None and _matches(with_bias, "predict"):
        if out is None or out.shape != with_bias.shape:
            raise Mistake(MESSAGES["predict_without_bias"])
        if not _matches(out, "predict"):
            raise Mistake(
                "predict(X) should equal predict(X with a column of ones, add_bias=False)."
            )
        return
    if out is None:
        raise Mistake("predict fails on 6 examples of a [3, 4, 2] network.")
    raise Mistake("predict gives wrong outputs for given weights: feed forward through every W.")


def _wants_bias_column(cls, err: Exception) -> bool:
    """Does calculate_loss fail (``err``) only because it expects X with the bias column,
    as in the classic code, while predict itself is right?"""
    if core.problem(_diagnose_predict, cls) is not None:
        return False
    if isinstance(err, TypeError) and "'addBias'" in str(err):
        return True  # the classic code's keyword, for predict(X, addBias=False)
    X, T = small_network_data()
    try:
        loss = _network(cls).calculate_loss(np.c_[X, np.ones(len(X))], T.copy())
    except Exception:
        return False
    return _matches(loss, "loss")


def _diagnose_loss(cls) -> None:
    """Is calculate_loss half the sum of squared errors of predict?"""
    X, T = small_network_data()
    net = _network(cls)
    try:
        loss, _ = _run("calculate_loss", net.calculate_loss, {}, X.copy(), T.copy(), cls=cls)
    except Mistake:
        raise
    except Exception as err:
        if _wants_bias_column(cls, err):
            raise Mistake(MESSAGES["loss_predict_without_bias"]) from None
        raise
    if not isinstance(loss, float | np.floating):
        raise Mistake(f"calculate_loss should return a float, got {type(loss).__name__}.")
    if _matches(loss, "loss"):
        return
    if _matches(loss / 2, "loss"):
        raise Mistake(MESSAGES["loss_missing_half"])
    raise Mistake("calculate_loss is wrong for given weights: half the sum of squared errors.")


def _diagnose_fit_partial(cls) -> None:
    """Does fit_partial make one exact SGD step on one example?"""
    X, T = small_network_data()
    net = _network(cls)
    net.fit_partial(np.r_[X[0], 1.0], T[0].copy())
    shapes = [np.shape(w) for w in small_network_weights()]
    if [np.shape(w) for w in net.W] != shapes:
        raise Mistake(f"fit_partial must keep the weight shapes {shapes}.")
    if _matches(net.W[0], "step_W0") and _matches(net.W[1], "step_W1"):
        return
    before = small_network_weights()
    flipped = [2 * b - w for b, w in zip(before, net.W, strict=True)]
    if _matches(flipped[0], "step_W0") and _matches(flipped[1], "step_W1"):
        raise Mistake(MESSAGES["sgd_sign"])
    raise Mistake("fit_partial makes a wrong step for given weights and one example.")


_DIAGNOSE.update(
    {
        "predict": _diagnose_predict,
        "calculate_loss": _diagnose_loss,
        "fit_partial": _diagnose_fit_partial,
    }
)


check_network_init = core.check(_diagnose_init)


@core.check
def check_network_seeded(NeuralNetwork) -> None:
    """Are the initial weights seeded and standard normal divided by sqrt(n)?"""
    first, again = _network(NeuralNetwork, False), _network(NeuralNetwork, False)
    if not all(np.array_equal(u, v) for u, v in zip(first.W, again.W, strict=True)):
        raise Mistake("The same seed must give the same weights: use np.random.default_rng(seed).")
    if _matches(first.W[0], "init_W0") and _matches(first.W[1], "init_W1"):
        return
    scaled = [w / np.sqrt(n) for w, n in zip(first.W, LAYERS, strict=False)]
    if _matches(scaled[0], "init_W0") and _matches(scaled[1], "init_W1"):
        raise Mistake(MESSAGES["unscaled_init"])
    raise Mistake(
        "The initial weights are not rng.standard_normal(shape) / sqrt(n), in layer order."
    )


@core.check
def check_network_repr(NeuralNetwork) -> None:
    """Does repr give 'NeuralNetwork: 2-2-1' style names?"""
    for layers in ([2, 2, 1], [64, 32, 16, 10]):
        want = "NeuralNetwork: " + "-".join(map(str, layers))
        got = repr(NeuralNetwork(layers, seed=0))
        if got != want:
            raise Mistake(f"repr should be {want!r}, got {got!r}.")


@core.check
def check_predict(NeuralNetwork) -> None:
    """Does predict feed examples through the network, bias column added when asked?"""
    _diagnose_predict(NeuralNetwork)
    net = _network(NeuralNetwork)
    if np.shape(net.predict(small_network_data()[0][0])) != (1, LAYERS[-1]):
        raise Mistake("A single example (a 1-D array) should give one row of outputs.")


check_calculate_loss = core.check(_diagnose_loss)


check_fit_partial = core.check(_diagnose_fit_partial)


@core.check
def check_fit(NeuralNetwork) -> None:
    """Does fit train example by example and record the loss at the right epochs?"""
    X, T = small_network_data()
    net = _network(NeuralNetwork)
    losses, called = _run("fit", net.fit, {}, X.copy(), T.copy(), 5, 2, cls=NeuralNetwork)
    if not isinstance(losses, list):
        raise Mistake(
            f"fit should return the list of recorded losses, not {type(losses).__name__}."
        )
    if not _matches(net.W[0], "fit_W0"):
        raise Mistake(
            _blame({}, called, "fit", NeuralNetwork)
            or "fit ends with other weights than fit_partial on every example, in order, "
            "epoch after epoch."
        )
    if len(losses) == 3 and _matches(losses, "fit_losses"):
        return
    raise Mistake(_blame({}, called, "fit", NeuralNetwork) or MESSAGES["losses_at_wrong_epochs"])
