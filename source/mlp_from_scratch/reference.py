"""Reference solution and judgement of the mlp_from_scratch hidden tests (graders only).

nbgrader's release leaves this file out (``CourseDirectory.ignore`` in nbgrader_config.py) and
the grader never copies it where a student's kernel could read it. ``build`` makes the inputs
the hidden tests run the student's functions on (the same inputs, drawn from the same seeds, as
the hidden tests that ran inside the notebook before); ``judge`` scores what came back. A test
cell passes when its visible check would pass (the same checks of
``mlp_from_scratch_checks.py``, weighed here on the recorded results) and its hidden test
passes; there is no partial credit.
"""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np

from ds4023.grading.judge import RIGHT, NoResult, Results, Verdict, load_module, worst

CHECKS = load_module(Path(__file__).with_name("mlp_from_scratch_checks.py"))
MESSAGES = CHECKS.MESSAGES
XOR_X = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
XOR_T = np.array([[0.0], [1.0], [1.0], [0.0]])
XOR_XB = np.c_[XOR_X, np.ones(4)]


# ---------------------------------------------------------------- the reference networks
def sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def forward(X, W1, W2):
    """z2, a2, z3, y_hat of the part 1 network (no biases)."""
    z2 = X @ W1
    a2 = sigmoid(z2)
    z3 = a2 @ W2
    return z2, a2, z3, sigmoid(z3)


def cost(X, Y, W1, W2):
    """Half the sum of squared errors."""
    y_hat = 1.0 / (1.0 + np.exp(-((1.0 / (1.0 + np.exp(-(X @ W1)))) @ W2)))
    return 0.5 * ((Y - y_hat) ** 2).sum()


def gradients(X, Y, W1, W2):
    """dJ/dW1, dJ/dW2 by backpropagation."""
    _, a2, _, y_hat = forward(X, W1, W2)
    d3 = -(Y - y_hat) * y_hat * (1.0 - y_hat)
    d2 = (d3 @ W2.T) * a2 * (1.0 - a2)
    return X.T @ d2, a2.T @ d3


def numerical(X, Y, W1, W2, eps):
    """Central differences of ``cost`` for every weight, in get_params order."""
    n_in, n_hid = W1.shape
    p = np.concatenate([W1.ravel(), W2.ravel()])
    out = np.zeros(p.size)
    for k in range(p.size):
        costs = []
        for sign in (1.0, -1.0):
            q = p.copy()
            q[k] += sign * eps
            A = q[: n_in * n_hid].reshape(n_in, n_hid)
            B = q[n_in * n_hid :].reshape(n_hid, -1)
            costs.append(cost(X, Y, A, B))
        out[k] = (costs[0] - costs[1]) / (2.0 * eps)
    return out


def bfgs_best(X, Y, W1, W2, maxiter):
    """The cost SciPy's BFGS reaches from W1, W2 with the reference gradient."""
    from scipy import optimize

    n_in, n_hid = W1.shape

    def cost_and_gradient(p):
        A, B = p[: n_in * n_hid].reshape(n_in, n_hid), p[n_in * n_hid :].reshape(n_hid, -1)
        g1, g2 = gradients(X, Y, A, B)
        return float(cost(X, Y, A, B)), np.concatenate([g1.ravel(), g2.ravel()])

    start = np.concatenate([W1.ravel(), W2.ravel()])
    options = {"maxiter": maxiter}
    return float(optimize.minimize(cost_and_gradient, start, jac=True, options=options).fun)


def predict(weights, Xb):
    """Outputs of the general network; Xb already carries the bias column."""
    a = Xb
    for w in weights:
        a = 1.0 / (1.0 + np.exp(-(a @ w)))
    return a


def sgd_step(weights, x, t, alpha):
    """One SGD update on one example x (with bias) and target row t."""
    acts = [x.reshape(1, -1)]
    for w in weights:
        acts.append(1.0 / (1.0 + np.exp(-(acts[-1] @ w))))
    deltas = [(acts[-1] - t.reshape(1, -1)) * acts[-1] * (1.0 - acts[-1])]
    for k in range(len(weights) - 1, 0, -1):
        deltas.insert(0, (deltas[0] @ weights[k].T) * acts[k] * (1.0 - acts[k]))
    return [w - alpha * (acts[k].T @ deltas[k]) for k, w in enumerate(weights)]


def train(weights, Xb, T, alpha, epochs, record=()):
    """``epochs`` of in-order SGD; also the losses after the epochs (from 0) in ``record``."""
    weights, losses = [w.copy() for w in weights], []
    for epoch in range(epochs):
        for i in range(len(Xb)):
            weights = sgd_step(weights, Xb[i], T[i], alpha)
        if epoch in record:
            losses.append(0.5 * float(((predict(weights, Xb) - T) ** 2).sum()))
    return weights, losses


@functools.lru_cache(maxsize=64)
def _linear_trained(start: bytes, alpha: float) -> np.ndarray:
    w = np.frombuffer(start, dtype=np.float64).reshape(3, 1)
    return train([w], XOR_XB, XOR_T, alpha, 300)[0][0]


def shapes_of(layers):
    """The weight shapes of a network with the bias trick."""
    shapes = [(layers[i] + 1, layers[i + 1] + 1) for i in range(len(layers) - 2)]
    return [*shapes, (layers[-2] + 1, layers[-1])]


def digits_split():
    """The scaled digits, split 75/25 with random_state 42: X_train, X_test, y_train, y_test."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    digits = load_digits()
    data = digits.data.astype(float)
    data = (data - data.min()) / (data.max() - data.min())
    return train_test_split(data, digits.target, test_size=0.25, random_state=42)


# ---------------------------------------------------------------- inputs of the hidden tests
PART1 = {
    "forward_pass_values": (601, [(5, 4, 6, 2), (1, 3, 2, 1), (7, 2, 3, 1)]),
    "cost_function_values": (602, [(6, 2, 3, 1), (4, 3, 5, 2)]),
    "cost_function_prime_values": (604, [(5, 4, 6, 2), (3, 2, 3, 1), (8, 3, 2, 3)]),
    "numerical_gradient_values": (605, [(4, 3, 4, 2, 1e-4), (5, 2, 3, 1, 1e-3)]),
}
PREDICT_LAYERS = ([3, 4, 2], [2, 1], [5, 6, 4, 3])
LOSS_LAYERS = ([3, 4, 2], [4, 3, 5, 3])
STEP_LAYERS = (([3, 4, 2], 0.1), ([4, 5, 3, 2], 0.7), ([2, 1], 0.5))
INIT_LAYERS = ([64, 32, 16, 10], [5, 1], [3, 7, 2])
REPR_LAYERS = (([64, 32, 16, 10], 1), ([5, 1], 1), ([3, 7, 7, 2], 1), ([2, 2, 1], 0))
REPR_LAYERS += (([64, 32, 16, 10], 0),)
#: The notebook's part 1 data, which the visible checks use.
NOTEBOOK = ("X", "y", "W1_init", "W2_init")
LINEAR = [(seed, alpha) for seed in (0, 1, 5) for alpha in (0.1, 0.5, 2.0)]


def _arr(name, **extra):
    return {"array": name, **extra}


def _net(layers, weights=None, **kwargs):
    new = {"call": "NeuralNetwork", "args": [list(layers)], "kwargs": kwargs}
    if weights is not None:
        new["set"] = {"W": [_arr(w) for w in weights]}
    return new


def build(folder: Path) -> tuple[dict[str, np.ndarray], dict[str, list[dict]]]:
    """The arrays the hidden tests use and, per grade_id, the cases the probe runs."""
    a: dict[str, np.ndarray] = {}
    for grade_id, (seed, sizes) in PART1.items():
        rng = np.random.default_rng(seed)
        for i, (m, n_in, n_hid, n_out, *_) in enumerate(sizes):
            key = f"{grade_id[:2]}{i}"
            if grade_id == "forward_pass_values":
                a[f"{key}_X"] = rng.uniform(-1.0, 1.0, (m, n_in))
            else:
                a[f"{key}_X"] = rng.uniform(0.0, 1.0, (m, n_in))
                a[f"{key}_Y"] = rng.uniform(0.0, 1.0, (m, n_out))
            a[f"{key}_W1"] = rng.standard_normal((n_in, n_hid))
            a[f"{key}_W2"] = rng.standard_normal((n_hid, n_out))
    rng = np.random.default_rng(603)
    a["sp0_z"], a["sp1_z"] = np.linspace(-6.0, 6.0, 25), rng.normal(0.0, 3.0, (4, 7))
    rng = np.random.default_rng(606)
    for i in range(3):
        a[f"rd{i}_a"] = rng.normal(size=7)
        a[f"rd{i}_b"] = a[f"rd{i}_a"] + rng.normal(scale=0.3, size=7)
    a["gc_X"], a["gc_Y"] = rng.uniform(0.0, 1.0, (6, 3)), rng.uniform(0.0, 1.0, (6, 2))
    a["gc_W1"], a["gc_W2"] = rng.standard_normal((3, 4)), rng.standard_normal((4, 2))
    rng = np.random.default_rng(607)
    a["bf_X"], a["bf_Y"] = rng.uniform(0.0, 1.0, (6, 2)), rng.uniform(0.2, 0.8, (6, 1))
    a["bf_W1"], a["bf_W2"] = rng.standard_normal((2, 3)), rng.standard_normal((3, 1))
    a["bf_best"] = np.array(bfgs_best(a["bf_X"], a["bf_Y"], a["bf_W1"], a["bf_W2"], 60))
    rng = np.random.default_rng(621)
    for i, layers in enumerate(PREDICT_LAYERS):
        for k, s in enumerate(shapes_of(layers)):
            a[f"pr{i}_W{k}"] = rng.normal(0.0, 0.8, s)
        a[f"pr{i}_X"] = rng.uniform(-1.0, 1.0, (6, layers[0]))
        a[f"pr{i}_Xb"] = np.c_[a[f"pr{i}_X"], np.ones(6)]
    rng = np.random.default_rng(622)
    for i, layers in enumerate(LOSS_LAYERS):
        for k, s in enumerate(shapes_of(layers)):
            a[f"lo{i}_W{k}"] = rng.normal(0.0, 0.8, s)
        a[f"lo{i}_X"] = rng.uniform(0.0, 1.0, (7, layers[0]))
        a[f"lo{i}_T"] = (rng.uniform(size=(7, layers[-1])) > 0.5).astype(float)
    rng = np.random.default_rng(623)
    for i, (layers, _) in enumerate(STEP_LAYERS):
        for k, s in enumerate(shapes_of(layers)):
            a[f"st{i}_W{k}"] = rng.normal(0.0, 0.8, s)
        a[f"st{i}_x"] = np.r_[rng.uniform(0.0, 1.0, layers[0]), 1.0]
        a[f"st{i}_t"] = (rng.uniform(size=layers[-1]) > 0.5).astype(float)
    rng = np.random.default_rng(624)
    a["fi_W0"], a["fi_W1"] = rng.normal(0.0, 0.8, (4, 5)), rng.normal(0.0, 0.8, (5, 2))
    a["fi_X"] = rng.uniform(0.0, 1.0, (5, 3))
    a["fi_T"] = (rng.uniform(size=(5, 2)) > 0.5).astype(float)
    for seed in (33, 35):
        rng = np.random.default_rng(seed)
        a[f"xo{seed}_W0"] = rng.standard_normal((3, 3)) / 2**0.5
        a[f"xo{seed}_W1"] = rng.standard_normal((3, 1)) / 2**0.5
        trained, _ = train([a[f"xo{seed}_W0"], a[f"xo{seed}_W1"]], XOR_XB, XOR_T, 0.5, 2000)
        a[f"xo{seed}_ref0"], a[f"xo{seed}_ref1"] = trained
    a["xor_X"], a["xor_T"] = XOR_X.copy(), XOR_T.copy()
    X_train, X_test, y_train, y_test = digits_split()
    a.update(dg_Xtr=X_train, dg_Xte=X_test, dg_ytr=y_train.astype(float))
    a["dg_yte"] = y_test.astype(float)
    # the visible checks' small problems (mlp_from_scratch_checks.py)
    a["sp_X"], a["sp_y"], a["sp_W1"], a["sp_W2"] = CHECKS.small_problem()
    a["sp_z"] = np.linspace(-4.5, 4.5, 10)
    a["rd_u"] = np.cos(np.arange(1.0, 8.0))
    a["rd_v"] = a["rd_u"] + 0.3 * np.sin(np.arange(2.0, 9.0))
    a["sn_W0"], a["sn_W1"] = CHECKS.small_network_weights()
    a["sn_X"], a["sn_T"] = CHECKS.small_network_data()
    a["sn_Xb"] = np.c_[a["sn_X"], np.ones(len(a["sn_X"]))]
    a["sn_x0"] = np.r_[a["sn_X"][0], 1.0]
    return a, _tests()


def _call(case_id, fn, *names, **extra):
    return {"id": case_id, "call": fn, "args": [_arr(n) for n in names], **extra}


def _globals(*names):
    return [{"global": n, "copy": True} for n in names]


def _small_net(case_id, call, *args, **extra):
    """A case on the visible checks' [3, 4, 2] network (alpha 0.3, seed 5, given weights)."""
    new = _net(CHECKS.LAYERS, ("sn_W0", "sn_W1"), alpha=CHECKS.ALPHA, seed=CHECKS.SEED)
    return {"id": case_id, "new": new, "call": call, "args": list(args), **extra}


def _tests() -> dict[str, list[dict]]:
    small = ("sp_X", "sp_y", "sp_W1", "sp_W2")
    args = [_arr(n) for n in small]
    values = [{"id": n, "value": n} for n in NOTEBOOK]
    bfgs = ("bfgs", "train_bfgs", "bf_X", "bf_Y", "bf_W1", "bf_W2")
    t: dict[str, list[dict]] = {
        "forward_pass_values": [
            _call(f"fo{i}", "forward", f"fo{i}_X", f"fo{i}_W1", f"fo{i}_W2") for i in range(3)
        ]
        + [
            _call("small", "forward", "sp_X", "sp_W1", "sp_W2"),
            {"id": "notebook", "call": "forward", "args": _globals("X", "W1_init", "W2_init")},
            *values,
        ],
        "cost_function_values": [
            _call(f"co{i}", "cost_function", f"co{i}_X", f"co{i}_Y", f"co{i}_W1", f"co{i}_W2")
            for i in range(2)
        ]
        + [_call("small", "cost_function", *small)],
        "sigmoid_prime_values": [_call(f"sp{i}", "sigmoid_prime", f"sp{i}_z") for i in range(2)]
        + [
            _call("small", "sigmoid_prime", "sp_z"),
            {"id": "zero", "call": "sigmoid_prime", "args": [0.0]},
        ],
        "cost_function_prime_values": [
            _call(f"co{i}", "cost_function_prime", f"co{i}_X", f"co{i}_Y", f"co{i}_W1", f"co{i}_W2")
            for i in range(3)
        ]
        + [_call("small", "cost_function_prime", *small)],
        "numerical_gradient_values": [
            {
                "id": f"nu{i}",
                "call": "compute_numerical_gradient",
                "args": [_arr(f"nu{i}_{n}") for n in ("X", "Y", "W1", "W2")] + [eps],
            }
            for i, eps in enumerate((1e-4, 1e-3))
        ]
        + [
            {**_call("small", "compute_numerical_gradient", *small), "args": [*args, 1e-4]},
            {"id": "grad_numerical", "value": "grad_numerical"},
        ],
        "gradient_check_relative_difference": [
            _call(f"rd{i}", "relative_difference", f"rd{i}_a", f"rd{i}_b") for i in range(3)
        ]
        + [
            _call("num", "compute_numerical_gradient", "gc_X", "gc_Y", "gc_W1", "gc_W2"),
            _call("ana", "cost_function_prime", "gc_X", "gc_Y", "gc_W1", "gc_W2"),
            _call("uv", "relative_difference", "rd_u", "rd_v"),
            {"id": "grad_numerical", "value": "grad_numerical"},
            {"id": "grad_analytical", "value": "grad_analytical"},
        ],
        "bfgs_training_cost_falls": [
            _call(*bfgs, kwargs={"maxiter": 60}, after=[2, 3]),
            _call(*bfgs, kwargs={"maxiter": 60}, pick=2) | {"id": "costs"},
            *values,
            {
                "id": "notebook",
                "call": "train_bfgs",
                "args": _globals("X", "y", "W1_init", "W2_init"),
                "after": [0, 1, 2, 3],
            },
            {"id": "notebook_cost", "call": "cost_function", "args": _globals(*NOTEBOOK)},
        ],
        "network_init_shapes": [
            {
                "id": f"in{i}",
                "new": _net(layers, alpha=0.25, seed=3),
                "attrs": ["layers", "alpha", "W"],
            }
            for i, layers in enumerate(INIT_LAYERS)
        ]
        + [{"id": "default", "new": _net([2, 2, 1], seed=0), "attrs": ["layers", "alpha", "W"]}],
        "network_init_seeded_scaled": [
            {"id": n, "new": _net([300, 200, 100], seed=s), "attrs": ["W"], "capture": "none"}
            for n, s in (("a", 11), ("b", 11), ("c", 12))
        ]
        + [
            {
                "id": n,
                "new": _net(CHECKS.LAYERS, alpha=CHECKS.ALPHA, seed=CHECKS.SEED),
                "attrs": ["W"],
                "capture": "none",
            }
            for n in ("first", "again")
        ],
        "network_repr": [
            {"id": f"re{i}", "new": _net(layers, seed=seed), "capture": "repr"}
            for i, (layers, seed) in enumerate(REPR_LAYERS)
        ],
        "network_predict_values": _predict_cases(),
        "network_calculate_loss": [
            {
                **_call(f"lo{i}", "calculate_loss", f"lo{i}_X", f"lo{i}_T"),
                "new": _net(layers, [f"lo{i}_W{k}" for k in range(len(layers) - 1)], seed=0),
            }
            for i, layers in enumerate(LOSS_LAYERS)
        ]
        + [
            _small_net("small", "calculate_loss", _arr("sn_X"), _arr("sn_T")),
            # the classic code's calculate_loss takes X with the bias column (its fit adds it)
            _small_net("small_with_bias", "calculate_loss", _arr("sn_Xb"), _arr("sn_T")),
            _small_net("small_predict", "predict", _arr("sn_X")),
        ],
        "network_fit_partial_update": [
            {
                **_call(f"st{i}", "fit_partial", f"st{i}_x", f"st{i}_t"),
                "new": _net(
                    layers, [f"st{i}_W{k}" for k in range(len(layers) - 1)], alpha=alpha, seed=0
                ),
                "attrs": ["W"],
                "capture": "none",
            }
            for i, (layers, alpha) in enumerate(STEP_LAYERS)
        ]
        + [
            _small_net(
                "small",
                "fit_partial",
                _arr("sn_x0"),
                _arr("sn_T", row=0),
                attrs=["W"],
                capture="none",
            )
        ],
        "network_fit_epochs": [
            {
                **_call("fit", "fit", "fi_X", "fi_T", kwargs={"epochs": 7, "display_update": 3}),
                "new": _net([3, 4, 2], ["fi_W0", "fi_W1"], alpha=0.3, seed=0),
                "attrs": ["W"],
            },
            _small_net("small", "fit", _arr("sn_X"), _arr("sn_T"), 5, 2, attrs=["W"]),
        ],
        "xor_two_two_one_learns": [
            {"id": "repr", "value": "nn_xor", "capture": "repr"},
            {"id": "xor_steps", "value": "xor_steps"},
            {"id": "y_xor", "value": "y_xor"},
            {"id": "W", "value": "nn_xor.W"},
            {"id": "pred", "call": "nn_xor.predict", "args": _globals("X_xor")},
        ]
        + [
            {
                **_call(
                    f"s{seed}",
                    "fit",
                    "xor_X",
                    "xor_T",
                    kwargs={"epochs": 2000, "display_update": 1000},
                ),
                "new": _net([2, 2, 1], [f"xo{seed}_W0", f"xo{seed}_W1"], alpha=0.5, seed=0),
                "attrs": ["W"],
                "capture": "none",
            }
            for seed in (33, 35)
        ],
        "xor_without_hidden_layer_fails": [
            {"id": "repr", "value": "nn_linear", "capture": "repr"},
            {"id": "W", "value": "nn_linear.W"},
            {"id": "linear_steps", "value": "linear_steps"},
            {"id": "linear_errors", "value": "linear_errors"},
            {"id": "y_xor", "value": "y_xor"},
        ]
        + [
            case
            for seed, alpha in LINEAR
            for case in (
                {
                    "id": f"l{seed}_{alpha}",
                    "new": _net([2, 1], alpha=alpha, seed=seed),
                    "keep": f"l{seed}_{alpha}",
                    "attrs": ["W"],
                    "capture": "none",
                },
                {
                    **_call(
                        f"l{seed}_{alpha}_fit",
                        "fit",
                        "xor_X",
                        "xor_T",
                        kwargs={"epochs": 300, "display_update": 300},
                    ),
                    "on": f"l{seed}_{alpha}",
                    "attrs": ["W"],
                    "capture": "none",
                },
            )
        ],
        "digits_data_prepared": [
            {"id": n, "value": n}
            for n in ("X_train", "X_test", "y_train", "y_test", "Y_train", "Y_test")
        ],
        "digits_test_accuracy": [
            {"id": "repr", "value": "nn_digits", "capture": "repr"},
            {"id": "test_predictions", "value": "test_predictions"},
            {"id": "y_test", "value": "y_test"},
            {"id": "test_accuracy", "value": "test_accuracy"},
            {"id": "W", "value": "nn_digits.W"},
            _call("out", "nn_digits.predict", "dg_Xte"),
        ],
    }
    return t


def _predict_cases() -> list[dict]:
    cases = []
    for i, layers in enumerate(PREDICT_LAYERS):
        weights = [f"pr{i}_W{k}" for k in range(len(layers) - 1)]
        cases += [
            {
                **_call(f"pr{i}_X", "predict", f"pr{i}_X"),
                "new": _net(layers, weights, seed=0),
                "keep": f"pr{i}",
            },
            {
                **_call(f"pr{i}_Xb", "predict", f"pr{i}_Xb", kwargs={"add_bias": False}),
                "on": f"pr{i}",
            },
            {**_call(f"pr{i}_row", "predict", f"pr{i}_X"), "on": f"pr{i}"},
        ]
        cases[-1]["args"] = [_arr(f"pr{i}_X", row=2)]
    keep = _small_net("with_bias", "predict", _arr("sn_Xb"), kwargs={"add_bias": False})
    keep["keep"] = "small"
    cases += [
        keep,
        {"id": "plain", "on": "small", "call": "predict", "args": [_arr("sn_X")]},
        _small_net("one_row", "predict", _arr("sn_X", row=0)),
    ]
    return cases


# ---------------------------------------------------------------- judgement
class Fail(Exception):
    """The test fails; the text says why (student-facing), ``mistake`` the known one if seen."""

    def __init__(self, message: str, mistake: str | None = None) -> None:
        super().__init__(message)
        self.mistake = mistake


def _need(condition, message: str) -> None:
    if not condition:
        raise Fail(message)


def _value(r: Results, case: str):
    try:
        return r.value(case)
    except NoResult as why:
        raise Fail(f"{case}: {why}") from None


def _is_array(types: list[str]) -> bool:
    return types[:1] == ["numpy.ndarray"]


def _fresh_value(value, types, shape, what) -> np.ndarray:
    """A student array after the checks of its type, shape and values (as the old tests)."""
    _need(_is_array(types) and isinstance(value, np.ndarray), f"{what}: expected a numpy array")
    _need(value.shape == tuple(shape), f"{what}: shape {value.shape}, expected {tuple(shape)}")
    _need(bool(np.isfinite(value).all()), f"{what} contains NaN or inf")
    return value


def _fresh(r: Results, case: str, shape, what: str) -> np.ndarray:
    return _fresh_value(_value(r, case), r.types(case), shape, what)


def _items(r: Results, case: str, count: int, what: str) -> list[tuple]:
    """The (value, types) of each item of a tuple or list result of exactly ``count`` items."""
    value = _value(r, case)
    _need(isinstance(value, list) and r.length(case) == count, f"{what}: expected {count} items")
    types = r.item_types(case)
    return [(v, types[i] if i < len(types) else []) for i, v in enumerate(value)]


def _fresh_items(r: Results, case: str, shapes, what: str) -> list[np.ndarray]:
    items = _items(r, case, len(shapes), what)
    return [_fresh_value(v, t, s, what) for (v, t), s in zip(items, shapes, strict=True)]


def _number_value(value, types, what) -> float:
    floating = "builtins.float" in types or "numpy.floating" in types
    _need(floating and isinstance(value, np.ndarray) and value.shape == (), f"{what}: a float")
    _need(np.isfinite(value), f"{what} is not finite")
    return float(value)


def _number(r: Results, case: str, what: str) -> float:
    return _number_value(_value(r, case), r.types(case), what)


def _matches(value, key: str) -> bool:
    return CHECKS._matches(value, key)


def _floats(value):
    """A recorded value as one float array (as np.asarray would give), or None."""
    if isinstance(value, np.ndarray):
        return value
    if isinstance(value, list) and all(isinstance(v, np.ndarray) for v in value):
        try:
            return np.array(value, dtype=np.float64)
        except ValueError:
            return None
    return None


def _j_forward(r: Results, a: dict) -> None:
    # visible: the small problem, then the shapes on the notebook's data
    got = [np.asarray(v) for v, _ in _items(r, "small", 4, "forward on a small problem")]
    m, _, n_hid, n_out = CHECKS.SHAPE
    want = ((m, n_hid), (m, n_hid), (m, n_out), (m, n_out))
    _need([g.shape for g in got] == list(want), "forward gives wrong shapes on a small problem")
    keys = ("z2", "a2", "z3", "y_hat")
    _need(
        all(_matches(g, f"forward_{k}") for g, k in zip(got, keys, strict=True)),
        "forward is wrong on a small problem",
    )
    X, W1, W2 = (_value(r, n) for n in ("X", "W1_init", "W2_init"))
    out = _items(r, "notebook", 4, "forward on the notebook's data")
    shapes = [(X.shape[0], W1.shape[1])] * 2 + [(X.shape[0], W2.shape[1])] * 2
    _need(
        [np.shape(v) for v, _ in out] == shapes, "forward gives wrong shapes on the notebook's data"
    )
    # hidden: exact values on other data and sizes
    for i in range(3):
        X, W1, W2 = (a[f"fo{i}_{n}"] for n in ("X", "W1", "W2"))
        ref = forward(X, W1, W2)
        got = _fresh_items(r, f"fo{i}", [x.shape for x in ref], "forward output")
        for g, w in zip(got, ref, strict=True):
            _need(worst(g, w) < 1e-10, "forward gives wrong values on other data")


def _j_cost(r: Results, a: dict) -> None:
    J = _value(r, "small")
    floating = "builtins.float" in r.types("small") or "numpy.floating" in r.types("small")
    _need(floating and _matches(J, "cost"), "cost_function is wrong on a small problem")
    for i in range(2):
        got = _number(r, f"co{i}", "cost")
        want = cost(*(a[f"co{i}_{n}"] for n in ("X", "Y", "W1", "W2")))
        _need(abs(got - want) < 1e-12, "cost_function gives a wrong value on other data")


def _j_sigmoid_prime(r: Results, a: dict) -> None:
    got = _value(r, "small")
    ok = isinstance(got, np.ndarray) and got.shape == (10,) and _matches(got, "sigmoid_prime")
    _need(ok, "sigmoid_prime(z) is not f(z) (1 - f(z)) on a small problem")
    zero = _floats(_value(r, "zero"))
    _need(zero is not None and zero.size == 1, "sigmoid_prime(0) should be one number")
    _need(abs(float(zero.ravel()[0]) - 0.25) <= 1e-12, "sigmoid_prime(0) should be 0.25")
    for i in range(2):
        z = a[f"sp{i}_z"]
        got = _fresh(r, f"sp{i}", z.shape, "sigmoid_prime")
        _need(
            worst(got, np.exp(-z) / (1.0 + np.exp(-z)) ** 2) < 1e-12,
            "sigmoid_prime gives wrong values",
        )


def _j_cost_prime(r: Results, a: dict) -> None:
    X, y, W1, W2 = CHECKS.small_problem()
    got = [np.asarray(v) for v, _ in _items(r, "small", 2, "cost_function_prime")]
    ok = got[0].shape == W1.shape and got[1].shape == W2.shape
    _need(
        ok and _matches(got[0], "grad_W1") and _matches(got[1], "grad_W2"),
        "cost_function_prime is wrong on a small problem",
    )
    for i in range(3):
        X, Y, W1, W2 = (a[f"co{i}_{n}"] for n in ("X", "Y", "W1", "W2"))
        g1, g2 = _fresh_items(r, f"co{i}", [W1.shape, W2.shape], "dJdW1, dJdW2")
        w1, w2 = gradients(X, Y, W1, W2)
        _need(worst(g2, w2) < 1e-10, "dJdW2 is wrong on other data")
        _need(worst(g1, w1) < 1e-10, "dJdW1 is wrong on other data")


def _j_numerical(r: Results, a: dict) -> None:
    got = _floats(_value(r, "small"))
    _, _, W1, W2 = CHECKS.small_problem()
    ok = got is not None and got.shape == (W1.size + W2.size,) and _matches(got, "numerical")
    _need(ok, "the numerical gradient is wrong on a small problem")
    _need(np.shape(_value(r, "grad_numerical")) == (9,), "grad_numerical should hold the 9 weights")
    for i, eps in enumerate((1e-4, 1e-3)):
        X, Y, W1, W2 = (a[f"nu{i}_{n}"] for n in ("X", "Y", "W1", "W2"))
        got = _fresh(r, f"nu{i}", (W1.size + W2.size,), "numerical gradient")
        want = numerical(X, Y, W1, W2, eps)
        _need(worst(got, want) < 1e-8, "the numerical gradient is wrong on other data")


def _norm(u, v, sign):
    return sum((x + sign * y) ** 2 for x, y in zip(u.tolist(), v.tolist(), strict=True)) ** 0.5


def _j_relative(r: Results, a: dict) -> None:
    uv = _value(r, "uv")
    floating = "builtins.float" in r.types("uv") or "numpy.floating" in r.types("uv")
    _need(
        floating and _matches(uv, "relative_difference"),
        "relative_difference is wrong on two test vectors",
    )
    n, g = _floats(_value(r, "grad_numerical")), _floats(_value(r, "grad_analytical"))
    _need(n is not None and g is not None, "grad_numerical and grad_analytical should be numbers")
    try:
        with np.errstate(all="ignore"):
            rel = np.linalg.norm(n - g) / np.linalg.norm(n + g)
    except ValueError:
        raise Fail("grad_numerical and grad_analytical do not fit together") from None
    _need(rel < 1e-8, "the notebook's gradient check fails")
    for i in range(3):
        got = _number(r, f"rd{i}", "relative_difference")
        u, v = a[f"rd{i}_a"], a[f"rd{i}_b"]
        _need(
            -1e-12 < got - _norm(u, v, -1) / _norm(u, v, 1) < 1e-12,
            "relative_difference gives a wrong value",
        )
    num = _fresh(r, "num", (20,), "numerical")
    g1, g2 = _fresh_items(r, "ana", [(3, 4), (4, 2)], "dJdW1, dJdW2")
    ana = np.concatenate([g1.ravel(), g2.ravel()])
    _need(_norm(num, ana, -1) < 1e-8 * _norm(num, ana, 1), "the gradient check fails on other data")


def _j_bfgs(r: Results, a: dict) -> None:
    # visible: train_bfgs on the notebook's data
    X, y, W1, W2 = (_floats(_value(r, n)) for n in NOTEBOOK)
    out = _items(r, "notebook", 3, "train_bfgs should return (W1_trained, W2_trained, costs)")
    for i, before in enumerate((X, y, W1, W2)):
        after = _floats(_value(r, f"notebook.arg{i}"))
        _need(
            after is not None and np.array_equal(after, before),
            "train_bfgs changed the arrays passed in",
        )
    (A, _), (B, _), (costs, kind) = out
    _need("builtins.list" in kind, "costs should be a list")
    costs = _floats(costs)
    _need(costs is not None and len(costs) > 0, "costs should be a non-empty list")
    _need(
        np.shape(A) == W1.shape and np.shape(B) == W2.shape,
        "the trained weights should keep their shapes",
    )
    start = _floats(_value(r, "notebook_cost"))
    _need(bool(np.isclose(costs[0], start)), "costs[0] should be the cost at the starting weights")
    _need(
        len(costs) >= 2 and bool(costs[-1] < 1e-3 * costs[0]),
        "BFGS did not bring the cost close to 0",
    )
    # hidden: another problem, 60 iterations
    same = [worst(_value(r, f"bfgs.arg{i}"), a[f"bf_{n}"]) for i, n in ((2, "W1"), (3, "W2"))]
    _need(same == [0.0, 0.0], "train_bfgs changed its inputs")
    items = _items(r, "bfgs", 3, "train_bfgs returns (W1_trained, W2_trained, costs)")
    A = _fresh_value(*items[0], (2, 3), "W1_trained")
    B = _fresh_value(*items[1], (3, 1), "W2_trained")
    kinds = r.types("costs")
    size = r.length("costs")
    _need(
        kinds[:1] == ["builtins.list"] and size is not None and size >= 2,
        "costs is a list of floats",
    )
    values = _items(r, "costs", size, "costs")
    costs = [_number_value(v, t, "costs entry") for v, t in values]
    _need(len(costs) <= 61, "costs should hold at most one entry per iteration plus the start")
    X, Y = a["bf_X"], a["bf_Y"]
    _need(
        -1e-12 < costs[0] - float(cost(X, Y, a["bf_W1"], a["bf_W2"])) < 1e-12,
        "costs[0] must be the cost at the start",
    )
    for before, after in zip(costs[:-1], costs[1:], strict=True):
        _need(after <= before + 1e-15, "the recorded costs should never go up with BFGS")
    end = float(cost(X, Y, A, B))
    _need(-1e-12 < costs[-1] - end < 1e-12, "the last cost should belong to the returned weights")
    _need(end <= 1.05 * float(a["bf_best"]) + 1e-9, "BFGS ends far above where it should")


def _same_list(value, want) -> bool:
    """``list(value) == want`` for a recorded value."""
    if isinstance(value, list):
        return len(value) == len(want) and all(
            isinstance(v, np.ndarray) and v.shape == () and float(v) == w
            for v, w in zip(value, want, strict=True)
        )
    if isinstance(value, np.ndarray) and value.ndim == 1:
        return value.tolist() == list(want)
    return False


def _equals(value, want) -> bool:
    """The truth of ``value == want`` for a recorded value (a 1-item array counts as its item)."""
    return isinstance(value, np.ndarray) and value.size == 1 and float(value.ravel()[0]) == want


def _weights(r: Results, case: str, shapes, what: str, is_list: bool = True):
    if is_list:
        _need(r.types(case)[:1] == ["builtins.list"], f"{what}: W must be a list of matrices")
    return _fresh_items(r, case, shapes, what)


def _j_init(r: Results, a: dict) -> None:
    layers = _value(r, "default.layers")
    W = _value(r, "default.W")
    shapes = [np.shape(w) for w in W] if isinstance(W, list) else None
    _need(shapes == [(3, 3), (3, 1)], "a [2, 2, 1] network should have W of shapes (3, 3), (3, 1)")
    alpha = _value(r, "default.alpha")
    ok = _same_list(layers, [2, 2, 1]) and _equals(alpha, 0.1)
    _need(ok, "store layers (as a list) and alpha (default 0.1) on the network")
    for i, layers in enumerate(INIT_LAYERS):
        ok = _same_list(_value(r, f"in{i}.layers"), layers)
        _need(ok and _equals(_value(r, f"in{i}.alpha"), 0.25), "layers/alpha not stored")
        _weights(r, f"in{i}.W", shapes_of(layers), f"weights of {layers}")


def _j_seeded(r: Results, a: dict) -> None:
    first = [np.asarray(w) for w in _value(r, "first.W")]
    again = [np.asarray(w) for w in _value(r, "again.W")]
    _need(len(first) == len(again), "the same seed must give the same weights")
    equal = all(np.array_equal(u, v) for u, v in zip(first, again, strict=True))
    _need(equal, "the same seed must give the same weights")
    ok = len(first) >= 2 and _matches(first[0], "init_W0") and _matches(first[1], "init_W1")
    _need(ok, "the initial weights are not rng.standard_normal(shape) / sqrt(n), in layer order")
    shapes = [(301, 201), (201, 100)]
    wa, wb, wc = (_weights(r, f"{n}.W", shapes, "weights", False) for n in "abc")
    for k in range(2):
        _need(worst(wa[k], wb[k]) == 0.0, "the same seed must give the same weights")
        _need(worst(wa[k], wc[k]) > 0.01, "different seeds must give different weights")
    for w, n in zip(wa, (300, 200), strict=True):
        values = w.ravel().tolist()
        count = len(values)
        mean = sum(values) / count
        std = (sum((v - mean) ** 2 for v in values) / count) ** 0.5
        target = 1.0 / n**0.5
        _need(-0.05 * target < mean < 0.05 * target, "weights should have mean 0")
        _need(0.95 * target < std < 1.05 * target, "weights should have std 1/sqrt(n)")
        inside = sum(1 for v in values if -std <= v - mean <= std) / count
        _need(0.66 < inside < 0.705, "weights should be normally distributed")


def _j_repr(r: Results, a: dict) -> None:
    for i, (layers, _) in enumerate(REPR_LAYERS):
        want = "NeuralNetwork: " + "-".join(str(n) for n in layers)
        ok = r.types(f"re{i}")[:1] == ["builtins.str"] and r.text(f"re{i}") == want
        _need(ok, f"repr should be {want!r}")


def _j_predict(r: Results, a: dict) -> None:
    X, _ = CHECKS.small_network_data()
    with_bias, plain = r.array("with_bias"), r.array("plain")
    ok = with_bias is not None and _matches(with_bias, "predict")
    _need(ok, "predict gives wrong outputs for given weights")
    ok = plain is not None and plain.shape == with_bias.shape and _matches(plain, "predict")
    _need(ok, "predict(X) should equal predict(X with a column of ones, add_bias=False)")
    one = r.array("one_row")
    _need(one is not None and one.shape == (1, CHECKS.LAYERS[-1]), "one example: one row")
    for i, layers in enumerate(PREDICT_LAYERS):
        weights = [a[f"pr{i}_W{k}"] for k in range(len(layers) - 1)]
        want, k = predict(weights, a[f"pr{i}_Xb"]), layers[-1]
        p1 = _fresh(r, f"pr{i}_X", (6, k), "predict(X)")
        p2 = _fresh(r, f"pr{i}_Xb", (6, k), "predict(Xb, add_bias=False)")
        p3 = _fresh(r, f"pr{i}_row", (1, k), "predict(one row)")
        _need(worst(p1, want) < 1e-10, f"predict is wrong for a {layers} network")
        _need(worst(p2, want) < 1e-10, "predict(..., add_bias=False) is wrong")
        _need(worst(p3, want[2:3]) < 1e-10, "predict on a single example is wrong")


def _loss_wants_bias_column(r: Results) -> bool:
    """Does calculate_loss fail on X only because it expects the bias column in X (the classic
    code's predict(X, addBias=False)), while predict is right?"""
    predicted = r.array("small_predict")
    if predicted is None or not _matches(predicted, "predict"):
        return False
    if r.error("small").startswith("TypeError:") and "'addBias'" in r.error("small"):
        return True
    floating = {"builtins.float", "numpy.floating"} & set(r.types("small_with_bias"))
    return bool(floating) and _matches(r.array("small_with_bias"), "loss")


def _j_loss(r: Results, a: dict) -> None:
    if r.error("small") and _loss_wants_bias_column(r):
        key = "loss_predict_without_bias"
        raise Fail(MESSAGES[key], key)
    loss = _value(r, "small")
    floating = "builtins.float" in r.types("small") or "numpy.floating" in r.types("small")
    _need(floating and _matches(loss, "loss"), "calculate_loss is wrong for given weights")
    for i, layers in enumerate(LOSS_LAYERS):
        got = _number(r, f"lo{i}", "loss")
        weights = [a[f"lo{i}_W{k}"] for k in range(len(layers) - 1)]
        X, T = a[f"lo{i}_X"], a[f"lo{i}_T"]
        want = 0.5 * float(((predict(weights, np.c_[X, np.ones(7)]) - T) ** 2).sum())
        _need(-1e-10 < got - want < 1e-10, f"calculate_loss is wrong for a {layers} network")


def _j_step(r: Results, a: dict) -> None:
    W = _value(r, "small.W")
    shapes = [w.shape for w in CHECKS.small_network_weights()]
    ok = isinstance(W, list) and [np.shape(w) for w in W] == shapes
    _need(ok, f"fit_partial must keep the weight shapes {shapes}")
    _need(_matches(W[0], "step_W0") and _matches(W[1], "step_W1"), "fit_partial makes a wrong step")
    for i, (layers, alpha) in enumerate(STEP_LAYERS):
        weights = [a[f"st{i}_W{k}"] for k in range(len(layers) - 1)]
        got = _weights(r, f"st{i}.W", shapes_of(layers), "updated weights")
        want = sgd_step(weights, a[f"st{i}_x"], a[f"st{i}_t"], alpha)
        for g, w in zip(got, want, strict=True):
            _need(worst(g, w) < 1e-10, f"fit_partial gives a wrong update for a {layers} network")


def _j_fit(r: Results, a: dict) -> None:
    losses = _value(r, "small")
    _need("builtins.list" in r.types("small"), "fit should return the list of recorded losses")
    W = _value(r, "small.W")
    _need(isinstance(W, list) and W and _matches(W[0], "fit_W0"), "fit ends with wrong weights")
    ok = r.length("small") == 3 and _matches(_floats(losses), "fit_losses")
    _need(ok, MESSAGES["losses_at_wrong_epochs"])
    _need(
        r.types("fit")[:1] == ["builtins.list"] and r.length("fit") == 3,
        "7 epochs, display_update=3: losses after 1, 3, 6",
    )
    losses = [_number_value(v, t, "loss") for v, t in _items(r, "fit", 3, "losses")]
    got = _fresh_items(r, "fit.W", [(4, 5), (5, 2)], "weights after fit")
    Xb = np.c_[a["fi_X"], np.ones(5)]
    ref, ref_losses = train([a["fi_W0"], a["fi_W1"]], Xb, a["fi_T"], 0.3, 7, (0, 2, 5))
    for g, w in zip(got, ref, strict=True):
        _need(worst(g, w) < 1e-9, "the weights after fit differ from 7 epochs of in-order SGD")
    for g, w in zip(losses, ref_losses, strict=True):
        _need(-1e-9 < g - w < 1e-9, "the recorded losses are wrong")


def _j_xor(r: Results, a: dict) -> None:
    _need(r.text("repr") == "NeuralNetwork: 2-2-1", "nn_xor should be a [2, 2, 1] network")
    steps, y_xor = _value(r, "xor_steps"), _value(r, "y_xor")
    has_shape = "numpy.ndarray" in r.types("xor_steps") and isinstance(steps, np.ndarray)
    _need(has_shape and steps.shape == (4, 1), "xor_steps should be (4, 1)")
    _need(np.array_equal(steps, _floats(y_xor)), "the thresholded outputs are not XOR")
    pred = _floats(_value(r, "pred"))
    ok = pred is not None and np.array_equal((pred > 0.5).astype(int), _floats(y_xor))
    _need(ok, "nn_xor does not compute XOR")
    trained = _fresh_items(r, "W", [(3, 3), (3, 1)], "nn_xor.W")
    _need(
        ((predict(trained, XOR_XB) > 0.5) == (XOR_T > 0.5)).all(),
        "nn_xor's weights do not compute XOR",
    )
    for seed in (33, 35):
        got = _fresh_items(r, f"s{seed}.W", [(3, 3), (3, 1)], "weights")
        for k, g in enumerate(got):
            _need(
                worst(g, a[f"xo{seed}_ref{k}"]) < 1e-6,
                "training from another start does not follow in-order SGD",
            )
        _need(
            ((predict(got, XOR_XB) > 0.5) == (XOR_T > 0.5)).all(),
            "XOR not learned from another start",
        )


def _j_linear(r: Results, a: dict) -> None:
    _need(r.text("repr") == "NeuralNetwork: 2-1", "nn_linear should be a [2, 1] network")
    W = _value(r, "W")
    ok = isinstance(W, list) and r.length("W") == 1 and np.shape(W[0]) == (3, 1)
    _need(ok and "numpy.ndarray" in r.item_types("W")[0], "a 2-1 network has one (3, 1) matrix")
    steps = _value(r, "linear_steps")
    ok = "numpy.ndarray" in r.types("linear_steps") and np.shape(steps) == (4, 1)
    _need(ok, "linear_steps should be (4, 1)")
    errors, y_xor = _floats(_value(r, "linear_errors")), _floats(_value(r, "y_xor"))
    try:
        count = int((steps != y_xor).sum())
    except (TypeError, ValueError):
        count = None
    ok = errors is not None and _equals(errors, count) and float(errors.ravel()[0]) >= 1
    _need(ok, "linear_errors should count the misclassified points (at least one)")
    for seed, alpha in LINEAR:
        case = f"l{seed}_{alpha}"
        _need(
            r.types(f"{case}.W")[:1] == ["builtins.list"] and r.length(f"{case}.W") == 1,
            "a 2-1 network has one weight matrix",
        )
        (start,) = _fresh_items(r, f"{case}.W", [(3, 1)], "initial weights")
        (got,) = _fresh_items(r, f"{case}_fit.W", [(3, 1)], "trained weights")
        want = _linear_trained(np.ascontiguousarray(start).tobytes(), alpha)
        _need(worst(got, want) < 1e-8, "a network without hidden layer does not train correctly")
        steps = (predict([got], XOR_XB) > 0.5) == (XOR_T > 0.5)
        _need(not bool(steps.all()), "a network without hidden layer cannot classify XOR")


def _j_digits_data(r: Results, a: dict) -> None:
    names = ("X_train", "X_test", "y_train", "y_test", "Y_train", "Y_test")
    shapes = ((1347, 64), (450, 64), (1347,), (450,), (1347, 10), (450, 10))
    v = {}
    for name in names:
        v[name] = _value(r, name)
        _need(
            "numpy.ndarray" in r.types(name) and isinstance(v[name], np.ndarray),
            f"{name} should be an array",
        )
    _need(
        v["X_train"].shape == (1347, 64) and v["X_test"].shape == (450, 64),
        "use test_size=0.25 on all 1797 images",
    )
    top = (
        max(v["X_train"].max(), v["X_test"].max())
        if v["X_train"].size and v["X_test"].size
        else None
    )
    _need(v["X_train"].min() == 0.0 and top == 1.0, "scale the pixels into [0, 1]")
    _need(
        v["Y_train"].shape == (1347, 10) and v["Y_test"].shape == (450, 10), "one column per digit"
    )
    _need(
        np.array_equal(v["Y_train"].argmax(axis=1), v["y_train"]),
        "column k of Y_train should mean digit k",
    )
    got = {n: _fresh(r, n, s, n) for n, s in zip(names, shapes, strict=True)}
    ok = worst(got["X_train"], a["dg_Xtr"]) < 1e-12 and worst(got["X_test"], a["dg_Xte"]) < 1e-12
    _need(ok, "X split or scaling differs")
    ok = worst(got["y_train"], a["dg_ytr"]) == 0.0 and worst(got["y_test"], a["dg_yte"]) == 0.0
    _need(ok, "label split differs")
    for Y, labels in ((got["Y_train"], a["dg_ytr"]), (got["Y_test"], a["dg_yte"])):
        onehot = (labels.reshape(-1, 1) == np.arange(10)).astype(float)
        _need(worst(Y, onehot) == 0.0, "one-hot labels differ (column k should mean digit k)")


def _j_digits_accuracy(r: Results, a: dict) -> None:
    _need(
        r.text("repr") == "NeuralNetwork: 64-32-16-10",
        "nn_digits should be a [64, 32, 16, 10] network",
    )
    pred, y_test = _value(r, "test_predictions"), _floats(_value(r, "y_test"))
    ok = "numpy.ndarray" in r.types("test_predictions") and isinstance(pred, np.ndarray)
    _need(ok and pred.shape == (450,), "one predicted digit per test image")
    acc = _floats(_value(r, "test_accuracy"))
    try:
        same = bool(np.isclose(acc, np.mean(pred == y_test)))
    except (TypeError, ValueError):
        same = False
    _need(acc is not None and same, "test_accuracy should match test_predictions")
    _need(bool(acc >= 0.95), "test accuracy is below 0.95")
    out = _fresh(r, "out", (450, 10), "nn_digits.predict(X_test)")
    acc = _number(r, "test_accuracy", "test_accuracy")
    weights = _fresh_items(r, "W", [(65, 33), (33, 17), (17, 10)], "nn_digits.W")
    ref = predict(weights, np.c_[a["dg_Xte"], np.ones(450)])
    _need(worst(out, ref) < 1e-9, "nn_digits.predict does not match the network's weights")
    ref_acc = (
        sum(
            1
            for p, t in zip(ref.argmax(axis=1).tolist(), a["dg_yte"].tolist(), strict=True)
            if p == t
        )
        / 450
    )
    _need(ref_acc >= 0.95, f"recomputed test accuracy {ref_acc:.4f} is below 0.95")
    _need(-1e-12 < acc - ref_acc < 1e-12, "test_accuracy differs from the network's real accuracy")


JUDGES = {
    "forward_pass_values": _j_forward,
    "cost_function_values": _j_cost,
    "sigmoid_prime_values": _j_sigmoid_prime,
    "cost_function_prime_values": _j_cost_prime,
    "numerical_gradient_values": _j_numerical,
    "gradient_check_relative_difference": _j_relative,
    "bfgs_training_cost_falls": _j_bfgs,
    "network_init_shapes": _j_init,
    "network_init_seeded_scaled": _j_seeded,
    "network_repr": _j_repr,
    "network_predict_values": _j_predict,
    "network_calculate_loss": _j_loss,
    "network_fit_partial_update": _j_step,
    "network_fit_epochs": _j_fit,
    "xor_two_two_one_learns": _j_xor,
    "xor_without_hidden_layer_fails": _j_linear,
    "digits_data_prepared": _j_digits_data,
    "digits_test_accuracy": _j_digits_accuracy,
}


def judge(grade_id: str, results: Results, arrays: dict) -> Verdict:
    """The verdict of the hidden test ``grade_id`` on the student's ``results``: all or nothing."""
    try:
        JUDGES[grade_id](results, arrays)
    except Fail as why:
        return Verdict(0.0, str(why), why.mistake)
    except (TypeError, ValueError, IndexError, AttributeError) as err:
        return Verdict(0.0, f"the results do not have the expected form ({type(err).__name__})")
    return RIGHT
