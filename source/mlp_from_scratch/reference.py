"""Reference solution and judgement of the mlp_from_scratch hidden tests (graders only).

nbgrader's release leaves this file out (``CourseDirectory.ignore`` in nbgrader_config.py) and
the grader never copies it where a student's kernel could read it. ``build(folder, seed)``
draws the inputs the hidden tests run the student's functions on (weights, data, layer sizes,
learning rates, epochs, epsilons and the seeds handed to the student's seeded initialisation)
fresh for every submission from a seed only the grader knows, and keeps the references here;
``judge`` scores what came back. A test cell passes when its visible check would pass (the
same checks of ``mlp_from_scratch_checks.py``, weighed here on the recorded results) and its
hidden test passes; there is no partial credit. Values are judged relative to their size, at
the visible checks' tolerances (float32 passes wherever the notebook does not ask for float64),
and a value only a little outside is told how far off it is. What each part judges, and why no
shortcut produces it, is in docs/grading.md ("What each part judges (mlp_from_scratch)").
"""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np

from ds4023.grading.judge import (
    CLOSE,
    RIGHT,
    NoResult,
    Results,
    Verdict,
    how_far,
    load_module,
    near,
    worst,
)

CHECKS = load_module(Path(__file__).with_name("mlp_from_scratch_checks.py"))
MESSAGES = CHECKS.MESSAGES
XOR_X = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
XOR_T = np.array([[0.0], [1.0], [1.0], [0.0]])
XOR_XB = np.c_[XOR_X, np.ones(4)]
#: The names of forward's four results.
FORWARD = ("z2", "a2", "z3", "y_hat")
#: Relative tolerance of a value, the visible checks' own (5e-5): float32 arithmetic passes
#: (measured: off by at most 5e-7 of the size, 2e-6 after 300 epochs of SGD), and every known
#: mistake is off by more than 20 times the tolerance.
RTOL = CHECKS.RTOL
#: Relative tolerance of a numerical gradient, the visible checks' own (1e-7, float64, as
#: section 1.5 says): central differences with the given epsilon pass; the exact derivative
#: (or another epsilon) misses by 1e-6 of the size or more, float32 costs by about 1e-3.
NUM_RTOL = CHECKS.NUM_RTOL
#: How far off a numerical gradient may be and still be called close: one computed from
#: float32 costs is about 1e-2 off (the costs it subtracts share most of their digits).
NUM_CLOSE = 0.1
#: Relative tolerance (of the starting cost) of the costs BFGS records, the visible checks'
#: own (1e-9): float64 rounding only, as section 1.6 asks for float64 (float32 costs and
#: gradients lead BFGS to other points, up to 8 % higher after the same iterations).
BFGS_RTOL = CHECKS.BFGS_RTOL
#: Relative tolerance of weights after 2000 epochs of XOR (float64, as Part 3 asks): float64
#: in another order of operations ends within 3e-14; float32's rounding grows to 1e-5 and up
#: to 2e-4 over the 8000 steps, as much as one more epoch changes (6e-5 and more), so float32
#: cannot be told from a wrong number of steps.
LONG_RTOL = 1e-6
#: What a value judged at a float64 tolerance is told when it is close (float32 is typical).
F64 = ", which takes float64 arithmetic"
#: A gradient check passes below this relative difference (the notebook's promise, float64).
GRADIENT_CHECK = 1e-8


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
    return train([w], XOR_XB, XOR_T, alpha, LINEAR_EPOCHS)[0][0]


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
#: The notebook's part 1 data, which the visible checks use.
NOTEBOOK = ("X", "y", "W1_init", "W2_init")
#: Epochs of the hidden XOR runs from other starts, and of the networks without hidden layer.
XOR_EPOCHS, LINEAR_EPOCHS = 2000, 300


class _Draw:
    """The inputs of one submission, drawn from one generator: arrays by descriptive name
    (renamed to neutral ones for the kernel by :func:`_neutral`) and the grader's notes
    (``plan``: the drawn sizes, rates, seeds and reference values the judge needs)."""

    def __init__(self, rng: np.random.Generator) -> None:
        self.rng, self.arrays, self.plan = rng, {}, {}

    def put(self, name: str, value) -> dict:
        self.arrays[name] = np.asarray(value, dtype=np.float64)
        return _arr(name)

    def int(self, low: int, high: int) -> int:
        """A whole number from ``low`` to ``high``, both included."""
        return int(self.rng.integers(low, high + 1))

    def rate(self, low: float, high: float) -> float:
        """A learning rate (three decimals, so that it reads as typed)."""
        return round(float(self.rng.uniform(low, high)), 3)

    def seed(self) -> int:
        return self.int(0, 2**31 - 1)

    def layers(self, depth: tuple[int, int], size: tuple[int, int]) -> list[int]:
        return [self.int(*size) for _ in range(self.int(*depth))]

    def network(self, name: str, layers) -> list[dict]:
        """Weights of a network with the bias trick, stored as ``name_W0``, ``name_W1``, ..."""
        return [
            self.put(f"{name}_W{k}", self.rng.normal(0.0, 0.8, s))
            for k, s in enumerate(shapes_of(layers))
        ]

    def part1(self, name: str, signed: bool = False) -> list[dict]:
        """A part 1 problem of random sizes: X, Y, W1, W2 (X in [-1, 1] when ``signed``)."""
        m, n_in, n_hid, n_out = self.int(2, 8), self.int(1, 4), self.int(2, 6), self.int(1, 3)
        low = -1.0 if signed else 0.0
        return [
            self.put(f"{name}_X", self.rng.uniform(low, 1.0, (m, n_in))),
            self.put(f"{name}_Y", self.rng.uniform(0.0, 1.0, (m, n_out))),
            self.put(f"{name}_W1", self.rng.standard_normal((n_in, n_hid))),
            self.put(f"{name}_W2", self.rng.standard_normal((n_hid, n_out))),
        ]


def init_weights(layers, seed) -> list[np.ndarray]:
    """The initial weights the notebook prescribes: ``default_rng(seed).standard_normal``
    for each matrix in layer order, divided by the square root of the units feeding it."""
    rng = np.random.default_rng(seed)
    return [
        rng.standard_normal(s) / np.sqrt(n)
        for s, n in zip(shapes_of(layers), layers[:-1], strict=True)
    ]


def _arr(name, **extra):
    return {"array": name, **extra}


def _net(layers, weights=None, **kwargs):
    new = {"call": "NeuralNetwork", "args": [list(layers)], "kwargs": kwargs}
    if weights is not None:
        new["set"] = {"W": list(weights)}
    return new


def _call(case_id, fn, args, **extra):
    return {"id": case_id, "call": fn, "args": list(args), **extra}


def _globals(*names):
    return [{"global": n, "copy": True} for n in names]


def _values(*names):
    return [{"id": n, "value": n} for n in names]


def _small_net(case_id, call, *args, **extra):
    """A case on the visible checks' [3, 4, 2] network (alpha 0.3, seed 5, given weights)."""
    weights = [_arr("sn_W0"), _arr("sn_W1")]
    new = _net(CHECKS.LAYERS, weights, alpha=CHECKS.ALPHA, seed=CHECKS.SEED)
    return {"id": case_id, "new": new, "call": call, "args": list(args), **extra}


def _visible(d: _Draw) -> None:
    """The visible checks' own small problems (mlp_from_scratch_checks.py): public, fixed."""
    for name, value in zip(("sp_X", "sp_y", "sp_W1", "sp_W2"), CHECKS.small_problem(), strict=True):
        d.put(name, value)
    d.put("sp_z", np.linspace(-4.5, 4.5, 10))
    d.put("rd_u", np.cos(np.arange(1.0, 8.0)))
    d.put("rd_v", d.arrays["rd_u"] + 0.3 * np.sin(np.arange(2.0, 9.0)))
    d.put("sn_W0", CHECKS.small_network_weights()[0])
    d.put("sn_W1", CHECKS.small_network_weights()[1])
    X, T = CHECKS.small_network_data()
    d.put("sn_X", X)
    d.put("sn_T", T)
    d.put("sn_Xb", np.c_[X, np.ones(len(X))])
    d.put("sn_x0", np.r_[X[0], 1.0])


SMALL = [_arr(n) for n in ("sp_X", "sp_y", "sp_W1", "sp_W2")]


def _forward_cases(d: _Draw) -> list[dict]:
    cases = []
    for i in range(3):
        X, _, W1, W2 = d.part1(f"fo{i}", signed=True)
        cases.append(_call(f"fo{i}", "forward", [X, W1, W2]))
    return [
        *cases,
        _call("small", "forward", [SMALL[0], SMALL[2], SMALL[3]]),
        _call("notebook", "forward", _globals("X", "W1_init", "W2_init")),
        *_values(*NOTEBOOK),
    ]


def _cost_cases(d: _Draw) -> list[dict]:
    cases = [_call(f"co{i}", "cost_function", d.part1(f"co{i}")) for i in range(2)]
    return [*cases, _call("small", "cost_function", SMALL)]


def _sigmoid_prime_cases(d: _Draw) -> list[dict]:
    low, high = float(d.rng.uniform(-8.0, -3.0)), float(d.rng.uniform(3.0, 8.0))
    grid = d.put("sp0_z", np.linspace(low, high, d.int(15, 30)))
    matrix = d.put("sp1_z", d.rng.normal(0.0, 3.0, (d.int(2, 5), d.int(3, 8))))
    return [
        _call("sp0", "sigmoid_prime", [grid]),
        _call("sp1", "sigmoid_prime", [matrix]),
        _call("small", "sigmoid_prime", [_arr("sp_z")]),
        _call("zero", "sigmoid_prime", [0.0]),  # the notebook's own promise: 0.25 at 0
    ]


def _cost_prime_cases(d: _Draw) -> list[dict]:
    cases = [_call(f"cp{i}", "cost_function_prime", d.part1(f"cp{i}")) for i in range(3)]
    return [*cases, _call("small", "cost_function_prime", SMALL)]


def _numerical_cases(d: _Draw) -> list[dict]:
    """Two problems, one with a small epsilon and one with a large one: the differences
    themselves are judged, which the exact derivative misses by far more than the tolerance."""
    eps = [float(f"{d.rng.uniform(1e-4, 1e-3):.2g}"), float(f"{d.rng.uniform(5e-3, 2e-2):.2g}")]
    d.plan["numerical_eps"] = eps
    cases = [
        _call(f"nu{i}", "compute_numerical_gradient", [*d.part1(f"nu{i}"), e])
        for i, e in enumerate(eps)
    ]
    small = _call("small", "compute_numerical_gradient", [*SMALL, 1e-4])
    return [*cases, small, *_values("grad_numerical")]


def _relative_cases(d: _Draw) -> list[dict]:
    cases = []
    for i in range(3):
        u = d.rng.normal(size=d.int(4, 10))
        v = u + d.rng.normal(scale=d.rng.uniform(0.05, 0.6), size=u.size)
        args = [d.put(f"rd{i}_a", u), d.put(f"rd{i}_b", v)]
        cases.append(_call(f"rd{i}", "relative_difference", args))
    problem = d.part1("gc")
    return [
        *cases,
        _call("num", "compute_numerical_gradient", problem),
        _call("ana", "cost_function_prime", problem),
        _call("uv", "relative_difference", [_arr("rd_u"), _arr("rd_v")]),
        *_values("grad_numerical", "grad_analytical"),
    ]


def _bfgs_cases(d: _Draw) -> list[dict]:
    m, n_in, n_hid = d.int(4, 7), d.int(2, 3), d.int(2, 4)
    X = d.put("bf_X", d.rng.uniform(0.0, 1.0, (m, n_in)))
    Y = d.put("bf_Y", d.rng.uniform(0.2, 0.8, (m, 1)))
    W1 = d.put("bf_W1", d.rng.standard_normal((n_in, n_hid)))
    W2 = d.put("bf_W2", d.rng.standard_normal((n_hid, 1)))
    maxiter = d.int(40, 80)
    problem = [d.arrays[f"bf_{n}"] for n in ("X", "Y", "W1", "W2")]
    d.plan["bfgs"] = (maxiter, bfgs_best(*problem, maxiter))
    args, kwargs = [X, Y, W1, W2], {"maxiter": maxiter}
    return [
        _call("bfgs", "train_bfgs", args, kwargs=kwargs, after=[2, 3]),
        _call("costs", "train_bfgs", args, kwargs=kwargs, pick=2),
        *_values(*NOTEBOOK),
        _call("notebook", "train_bfgs", _globals(*NOTEBOOK), after=[0, 1, 2, 3]),
        _call("notebook_cost", "cost_function", _globals(*NOTEBOOK)),
    ]


def _init_cases(d: _Draw) -> list[dict]:
    plan = [(d.layers((2, 5), (1, 12)), d.rate(0.01, 0.9), d.seed()) for _ in range(3)]
    d.plan["init"] = [(layers, alpha) for layers, alpha, _ in plan]
    attrs = ["layers", "alpha", "W"]
    cases = [
        {"id": f"in{i}", "new": _net(layers, alpha=alpha, seed=seed), "attrs": attrs}
        for i, (layers, alpha, seed) in enumerate(plan)
    ]
    return [*cases, {"id": "default", "new": _net([2, 2, 1], seed=0), "attrs": attrs}]


def _seeded_cases(d: _Draw) -> list[dict]:
    layers = [d.int(20, 60), d.int(10, 40), d.int(2, 12)]
    same, other = d.seed(), d.seed()
    d.plan["seeded"] = (layers, same, other)
    quiet = {"attrs": ["W"], "capture": "none"}
    visible = _net(CHECKS.LAYERS, alpha=CHECKS.ALPHA, seed=CHECKS.SEED)
    return [
        {"id": n, "new": _net(layers, seed=s), **quiet}
        for n, s in (("a", same), ("b", same), ("c", other))
    ] + [{"id": n, "new": visible, **quiet} for n in ("first", "again")]


def _repr_cases(d: _Draw) -> list[dict]:
    plan = [d.layers((2, 5), (1, 99)) for _ in range(4)]
    d.plan["repr"] = plan
    return [
        {"id": f"re{i}", "new": _net(layers, seed=d.seed()), "capture": "repr"}
        for i, layers in enumerate(plan)
    ]


def _predict_cases(d: _Draw) -> list[dict]:
    cases, plan = [], []
    for i in range(3):
        layers = d.layers((2, 4), (1, 6))
        weights = d.network(f"pr{i}", layers)
        X = d.rng.uniform(-1.0, 1.0, (d.int(3, 8), layers[0]))
        row = d.int(0, len(X) - 1)
        plan.append((layers, row))
        plain, with_bias = d.put(f"pr{i}_X", X), d.put(f"pr{i}_Xb", np.c_[X, np.ones(len(X))])
        new = _net(layers, weights, seed=d.seed())
        cases += [
            _call(f"pr{i}_X", "predict", [plain], new=new, keep=f"pr{i}"),
            _call(f"pr{i}_Xb", "predict", [with_bias], kwargs={"add_bias": False}, on=f"pr{i}"),
            _call(f"pr{i}_row", "predict", [_arr(plain["array"], row=row)], on=f"pr{i}"),
        ]
    d.plan["predict"] = plan
    keep = _small_net("with_bias", "predict", _arr("sn_Xb"), kwargs={"add_bias": False})
    keep["keep"] = "small"
    return [
        *cases,
        keep,
        {"id": "plain", "on": "small", "call": "predict", "args": [_arr("sn_X")]},
        _small_net("one_row", "predict", _arr("sn_X", row=0)),
    ]


def _loss_cases(d: _Draw) -> list[dict]:
    cases, plan = [], []
    for i in range(2):
        layers = d.layers((2, 4), (1, 6))
        plan.append(layers)
        weights = d.network(f"lo{i}", layers)
        m = d.int(3, 9)
        X = d.put(f"lo{i}_X", d.rng.uniform(0.0, 1.0, (m, layers[0])))
        T = d.put(f"lo{i}_T", (d.rng.uniform(size=(m, layers[-1])) > 0.5).astype(float))
        cases.append(
            _call(f"lo{i}", "calculate_loss", [X, T], new=_net(layers, weights, seed=d.seed()))
        )
    d.plan["loss"] = plan
    return [
        *cases,
        _small_net("small", "calculate_loss", _arr("sn_X"), _arr("sn_T")),
        # the classic code's calculate_loss takes X with the bias column (its fit adds it)
        _small_net("small_with_bias", "calculate_loss", _arr("sn_Xb"), _arr("sn_T")),
        _small_net("small_predict", "predict", _arr("sn_X")),
    ]


def _step_cases(d: _Draw) -> list[dict]:
    cases, plan = [], []
    for i in range(3):
        layers, alpha = d.layers((2, 4), (1, 6)), d.rate(0.05, 1.5)
        plan.append((layers, alpha))
        weights = d.network(f"st{i}", layers)
        x = d.put(f"st{i}_x", np.r_[d.rng.uniform(0.0, 1.0, layers[0]), 1.0])
        t = d.put(f"st{i}_t", (d.rng.uniform(size=layers[-1]) > 0.5).astype(float))
        new = _net(layers, weights, alpha=alpha, seed=d.seed())
        cases.append(_call(f"st{i}", "fit_partial", [x, t], new=new, attrs=["W"], capture="none"))
    d.plan["step"] = plan
    small = _small_net(
        "small", "fit_partial", _arr("sn_x0"), _arr("sn_T", row=0), attrs=["W"], capture="none"
    )
    return [*cases, small]


def _recorded(epochs: int, every: int) -> list[int]:
    """The epochs (from 0) after which fit records the loss: the first and every ``every``-th."""
    return [e for e in range(epochs) if e == 0 or (e + 1) % every == 0]


def _fit_cases(d: _Draw) -> list[dict]:
    layers = [d.int(2, 5), d.int(2, 6), d.int(1, 3)]
    alpha, epochs, every = d.rate(0.1, 0.9), d.int(5, 9), d.int(2, 4)
    m = d.int(3, 7)
    weights = d.network("fi", layers)
    X = d.put("fi_X", d.rng.uniform(0.0, 1.0, (m, layers[0])))
    T = d.put("fi_T", (d.rng.uniform(size=(m, layers[-1])) > 0.5).astype(float))
    Xb = np.c_[d.arrays["fi_X"], np.ones(m)]
    start = [d.arrays[w["array"]] for w in weights]
    reference = train(start, Xb, d.arrays["fi_T"], alpha, epochs, _recorded(epochs, every))
    d.plan["fit"] = (layers, epochs, every, reference)
    kwargs = {"epochs": epochs, "display_update": every}
    new = _net(layers, weights, alpha=alpha, seed=d.seed())
    return [
        _call("fit", "fit", [X, T], kwargs=kwargs, new=new, attrs=["W"]),
        _small_net("small", "fit", _arr("sn_X"), _arr("sn_T"), 5, 2, attrs=["W"]),
    ]


def _learns_xor(weights) -> bool:
    return bool(((predict(weights, XOR_XB) > 0.5) == (XOR_T > 0.5)).all())


def _xor_cases(d: _Draw) -> list[dict]:
    """Two random starts and learning rates from which in-order SGD learns XOR in
    ``XOR_EPOCHS`` epochs (drawn again while a start stays on the plateau)."""
    xor = [d.put("xor_X", XOR_X), d.put("xor_T", XOR_T)]
    cases, plan = [], []
    for i in range(2):
        while True:
            start = [d.rng.standard_normal(s) / 2**0.5 for s in ((3, 3), (3, 1))]
            alpha = d.rate(0.4, 0.9)
            trained, _ = train(start, XOR_XB, XOR_T, alpha, XOR_EPOCHS)
            if _learns_xor(trained):
                break
        plan.append(trained)
        weights = [d.put(f"xo{i}_W{k}", w) for k, w in enumerate(start)]
        cases.append(
            _call(
                f"s{i}",
                "fit",
                xor,
                kwargs={"epochs": XOR_EPOCHS, "display_update": XOR_EPOCHS // 2},
                new=_net([2, 2, 1], weights, alpha=alpha, seed=d.seed()),
                attrs=["W"],
                capture="none",
            )
        )
    d.plan["xor"] = plan
    return [
        {"id": "repr", "value": "nn_xor", "capture": "repr"},
        *_values("xor_steps", "y_xor"),
        {"id": "W", "value": "nn_xor.W"},
        _call("pred", "nn_xor.predict", _globals("X_xor")),
        *cases,
    ]


def _linear_cases(d: _Draw) -> list[dict]:
    xor = [d.put("xor_X", XOR_X), d.put("xor_T", XOR_T)]
    plan = [(d.seed(), d.rate(0.05, 2.5)) for _ in range(3)]
    d.plan["linear"] = plan
    kwargs = {"epochs": LINEAR_EPOCHS, "display_update": LINEAR_EPOCHS}
    cases = []
    for i, (seed, alpha) in enumerate(plan):
        cases += [
            {
                "id": f"lin{i}",
                "new": _net([2, 1], alpha=alpha, seed=seed),
                "keep": f"lin{i}",
                "attrs": ["W"],
                "capture": "none",
            },
            _call(
                f"lin{i}_fit", "fit", xor, kwargs=kwargs, on=f"lin{i}", attrs=["W"], capture="none"
            ),
        ]
    return [
        {"id": "repr", "value": "nn_linear", "capture": "repr"},
        {"id": "W", "value": "nn_linear.W"},
        *_values("linear_steps", "linear_errors", "y_xor"),
        *cases,
    ]


def _digits_cases(d: _Draw) -> list[dict]:
    return _values("X_train", "X_test", "y_train", "y_test", "Y_train", "Y_test")


def _digits_accuracy_cases(d: _Draw) -> list[dict]:
    """The notebook's values, and the network's outputs for made-up images (the judge
    recomputes the test accuracy from the weights itself)."""
    images = d.put("dg_probe", d.rng.uniform(0.0, 1.0, (d.int(10, 30), 64)))
    return [
        {"id": "repr", "value": "nn_digits", "capture": "repr"},
        *_values("test_predictions", "y_test", "test_accuracy"),
        {"id": "W", "value": "nn_digits.W"},
        _call("out", "nn_digits.predict", [images]),
    ]


_MAKERS = {
    "forward_pass_values": _forward_cases,
    "cost_function_values": _cost_cases,
    "sigmoid_prime_values": _sigmoid_prime_cases,
    "cost_function_prime_values": _cost_prime_cases,
    "numerical_gradient_values": _numerical_cases,
    "gradient_check_relative_difference": _relative_cases,
    "bfgs_training_cost_falls": _bfgs_cases,
    "network_init_shapes": _init_cases,
    "network_init_seeded_scaled": _seeded_cases,
    "network_repr": _repr_cases,
    "network_predict_values": _predict_cases,
    "network_calculate_loss": _loss_cases,
    "network_fit_partial_update": _step_cases,
    "network_fit_epochs": _fit_cases,
    "xor_two_two_one_learns": _xor_cases,
    "xor_without_hidden_layer_fails": _linear_cases,
    "digits_data_prepared": _digits_cases,
    "digits_test_accuracy": _digits_accuracy_cases,
}


def build(
    folder: Path, seed: int | None = None
) -> tuple[dict[str, np.ndarray], dict[str, list[dict]]]:
    """The arrays of one submission's hidden tests and, per grade_id, the cases the probe runs.

    Args:
        folder: the assignment's folder (the digits come with scikit-learn: nothing is read).
        seed: the submission's secret seed (None: a fresh one).

    Returns:
        ``(arrays, tests)``. The kernel's file gets only the arrays a case names, under
        neutral names (``v0``, ``v1``, ...), and cases with neutral ids (``c0``, ``c1``, ...);
        the grader's own entries start with ``_``: every array under its descriptive name,
        ``_plan`` (drawn sizes, rates and reference values) and ``_roles`` (grade_id ->
        descriptive case name -> neutral id).
    """
    d = _Draw(np.random.default_rng(seed))
    _visible(d)
    named = {gid: make(d) for gid, make in _MAKERS.items()}
    X_train, X_test, y_train, y_test = digits_split()
    data = {"dg_Xtr": X_train, "dg_Xte": X_test, "dg_ytr": y_train, "dg_yte": y_test}
    tests, roles, names = _neutral(named)
    arrays = {names[k]: v for k, v in d.arrays.items() if k in names}
    arrays.update(
        {f"_{k}": np.asarray(v, dtype=np.float64) for k, v in {**d.arrays, **data}.items()}
    )
    arrays.update(_plan=d.plan, _roles=roles, _tests=tests)
    return arrays, tests


def _neutral(named: dict[str, list[dict]]) -> tuple[dict, dict, dict]:
    """The cases with neutral ids, kept-object names and array names: ``(tests, roles,
    names)``, roles mapping each grade_id's descriptive case names to the neutral ids and
    names each descriptive array name to its neutral one."""
    names: dict[str, str] = {}

    def rename(value):
        if isinstance(value, dict):
            if "array" in value:
                names.setdefault(value["array"], f"v{len(names)}")
                return {**value, "array": names[value["array"]]}
            return {k: rename(v) for k, v in value.items()}
        if isinstance(value, list):
            return [rename(v) for v in value]
        return value

    tests, roles = {}, {}
    for grade_id, cases in named.items():
        ids = {c["id"]: f"c{i}" for i, c in enumerate(cases)}
        kept = {c["keep"]: f"k{i}" for i, c in enumerate(cases) if "keep" in c}
        tests[grade_id] = []
        for case in cases:
            new = rename({k: v for k, v in case.items() if k not in ("keep", "on")})
            new["id"] = ids[case["id"]]
            for key in ("keep", "on"):
                if key in case:
                    new[key] = kept[case[key]]
            tests[grade_id].append(new)
        roles[grade_id] = ids
    return tests, roles, names


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


def _near(got, want, rtol: float, message: str, note: str = "", upto: float = CLOSE) -> None:
    """Stop with ``message`` unless ``got`` is within ``rtol`` of ``want`` (relative to its
    size); when it is close (within ``upto``), the message says how far it is off."""
    if not near(got, want, rtol):
        raise Fail(message + how_far(got, want, rtol, note, upto))


def _fits(value, key: str, message: str) -> None:
    """Stop with ``message`` unless ``value`` has the visible checks' fingerprint ``key``; when
    it is close to the right result, the message says how far it is off."""
    if not _matches(value, key):
        rtol = CHECKS.tolerance(key)
        note, upto = (F64, NUM_CLOSE) if rtol < RTOL else ("", CLOSE)
        raise Fail(message + how_far(value, small_answers()[key], rtol, note, upto))


@functools.cache
def small_answers() -> dict[str, np.ndarray]:
    """The right results on the visible checks' small problems, by fingerprint key."""
    X, y, W1, W2 = CHECKS.small_problem()
    u = np.cos(np.arange(1.0, 8.0))
    v = u + 0.3 * np.sin(np.arange(2.0, 9.0))
    z = np.linspace(-4.5, 4.5, 10)
    weights = CHECKS.small_network_weights()
    Xn, T = CHECKS.small_network_data()
    Xb = np.c_[Xn, np.ones(len(Xn))]
    outputs = predict(weights, Xb)
    step = sgd_step(weights, Xb[0], T[0], CHECKS.ALPHA)
    fitted, losses = train(weights, Xb, T, CHECKS.ALPHA, 5, _recorded(5, 2))
    grads = gradients(X, y, W1, W2)
    init = init_weights(CHECKS.LAYERS, CHECKS.SEED)
    answers = {f"forward_{k}": w for k, w in zip(FORWARD, forward(X, W1, W2), strict=True)}
    answers.update(
        cost=np.float64(cost(X, y, W1, W2)),
        sigmoid_prime=np.exp(-z) / (1.0 + np.exp(-z)) ** 2,
        grad_W1=grads[0],
        grad_W2=grads[1],
        numerical=numerical(X, y, W1, W2, 1e-4),
        relative_difference=np.float64(_norm(u, v, -1) / _norm(u, v, 1)),
        init_W0=init[0],
        init_W1=init[1],
        predict=outputs,
        loss=np.float64(0.5 * ((outputs - T) ** 2).sum()),
        step_W0=step[0],
        step_W1=step[1],
        fit_losses=np.array(losses),
        fit_W0=fitted[0],
    )
    return answers


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
    for g, k in zip(got, FORWARD, strict=True):
        _fits(g, f"forward_{k}", "forward is wrong on a small problem")
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
            _near(g, w, RTOL, "forward gives wrong values on other data")


def _j_cost(r: Results, a: dict) -> None:
    J = _value(r, "small")
    floating = "builtins.float" in r.types("small") or "numpy.floating" in r.types("small")
    _need(floating, "cost_function is wrong on a small problem")
    _fits(J, "cost", "cost_function is wrong on a small problem")
    for i in range(2):
        got = _number(r, f"co{i}", "cost")
        want = cost(*(a[f"co{i}_{n}"] for n in ("X", "Y", "W1", "W2")))
        _near(got, want, RTOL, "cost_function gives a wrong value on other data")


def _j_sigmoid_prime(r: Results, a: dict) -> None:
    got = _value(r, "small")
    wrong = "sigmoid_prime(z) is not f(z) (1 - f(z)) on a small problem"
    _need(isinstance(got, np.ndarray) and got.shape == (10,), wrong)
    _fits(got, "sigmoid_prime", wrong)
    zero = _floats(_value(r, "zero"))
    _need(zero is not None and zero.size == 1, "sigmoid_prime(0) should be one number")
    _need(abs(float(zero.ravel()[0]) - 0.25) <= 1e-12, "sigmoid_prime(0) should be 0.25")
    for i in range(2):
        z = a[f"sp{i}_z"]
        got = _fresh(r, f"sp{i}", z.shape, "sigmoid_prime")
        want = np.exp(-z) / (1.0 + np.exp(-z)) ** 2
        _near(got, want, RTOL, "sigmoid_prime gives wrong values")


def _j_cost_prime(r: Results, a: dict) -> None:
    X, y, W1, W2 = CHECKS.small_problem()
    got = [np.asarray(v) for v, _ in _items(r, "small", 2, "cost_function_prime")]
    wrong = "cost_function_prime is wrong on a small problem"
    _need(got[0].shape == W1.shape and got[1].shape == W2.shape, wrong)
    _fits(got[0], "grad_W1", wrong)
    _fits(got[1], "grad_W2", wrong)
    for i in range(3):
        X, Y, W1, W2 = (a[f"cp{i}_{n}"] for n in ("X", "Y", "W1", "W2"))
        g1, g2 = _fresh_items(r, f"cp{i}", [W1.shape, W2.shape], "dJdW1, dJdW2")
        w1, w2 = gradients(X, Y, W1, W2)
        _near(g2, w2, RTOL, "dJdW2 is wrong on other data")
        _near(g1, w1, RTOL, "dJdW1 is wrong on other data")


def _j_numerical(r: Results, a: dict) -> None:
    got = _floats(_value(r, "small"))
    _, _, W1, W2 = CHECKS.small_problem()
    wrong = "the numerical gradient is wrong on a small problem"
    _need(got is not None and got.shape == (W1.size + W2.size,), wrong)
    _fits(got, "numerical", wrong)
    _need(np.shape(_value(r, "grad_numerical")) == (9,), "grad_numerical should hold the 9 weights")
    for i, eps in enumerate(a["plan"]["numerical_eps"]):
        X, Y, W1, W2 = (a[f"nu{i}_{n}"] for n in ("X", "Y", "W1", "W2"))
        got = _fresh(r, f"nu{i}", (W1.size + W2.size,), "numerical gradient")
        want = numerical(X, Y, W1, W2, eps)
        _near(
            got,
            want,
            NUM_RTOL,
            "the numerical gradient is wrong on other data: central differences with the "
            "epsilon passed in",
            F64,
            NUM_CLOSE,
        )


def _norm(u, v, sign):
    return sum((x + sign * y) ** 2 for x, y in zip(u.tolist(), v.tolist(), strict=True)) ** 0.5


def _passes(gap: float, message: str) -> None:
    """Stop with ``message`` unless ``gap``, the relative difference of a gradient check, is
    below ``GRADIENT_CHECK``; when it is close, the message gives it."""
    if not gap < GRADIENT_CHECK:
        close = gap < CLOSE  # NaN is not close
        note = f" (close: {gap:.1e}; below {GRADIENT_CHECK:.0e} is accepted{F64})"
        raise Fail(message + (note if close else ""))


def _j_relative(r: Results, a: dict) -> None:
    uv = _value(r, "uv")
    floating = "builtins.float" in r.types("uv") or "numpy.floating" in r.types("uv")
    _need(floating, "relative_difference is wrong on two test vectors")
    _fits(uv, "relative_difference", "relative_difference is wrong on two test vectors")
    n, g = _floats(_value(r, "grad_numerical")), _floats(_value(r, "grad_analytical"))
    _need(n is not None and g is not None, "grad_numerical and grad_analytical should be numbers")
    try:
        with np.errstate(all="ignore"):
            rel = np.linalg.norm(n - g) / np.linalg.norm(n + g)
    except ValueError:
        raise Fail("grad_numerical and grad_analytical do not fit together") from None
    _passes(rel, "the notebook's gradient check fails")
    for i in range(3):
        got = _number(r, f"rd{i}", "relative_difference")
        u, v = a[f"rd{i}_a"], a[f"rd{i}_b"]
        want = _norm(u, v, -1) / _norm(u, v, 1)
        _near(got, want, RTOL, "relative_difference gives a wrong value")
    W1, W2 = a["gc_W1"], a["gc_W2"]
    num = _fresh(r, "num", (W1.size + W2.size,), "numerical")
    g1, g2 = _fresh_items(r, "ana", [W1.shape, W2.shape], "dJdW1, dJdW2")
    ana = np.concatenate([g1.ravel(), g2.ravel()])
    with np.errstate(all="ignore"):  # both zero: NaN, which fails
        gap = np.float64(_norm(num, ana, -1)) / np.float64(_norm(num, ana, 1))
    _passes(gap, "the gradient check fails on other data")


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
    # hidden: another problem, 40 to 80 iterations, in float64 (section 1.6)
    same = [worst(_value(r, f"bfgs.arg{i}"), a[f"bf_{n}"]) for i, n in ((2, "W1"), (3, "W2"))]
    _need(same == [0.0, 0.0], "train_bfgs changed its inputs")
    items = _items(r, "bfgs", 3, "train_bfgs returns (W1_trained, W2_trained, costs)")
    A = _fresh_value(*items[0], a["bf_W1"].shape, "W1_trained")
    B = _fresh_value(*items[1], a["bf_W2"].shape, "W2_trained")
    maxiter, best = a["plan"]["bfgs"]
    kinds = r.types("costs")
    size = r.length("costs")
    _need(
        kinds[:1] == ["builtins.list"] and size is not None and size >= 2,
        "costs is a list of floats",
    )
    values = _items(r, "costs", size, "costs")
    costs = [_number_value(v, t, "costs entry") for v, t in values]
    _need(
        len(costs) <= maxiter + 1,
        "costs should hold at most one entry per iteration plus the start",
    )
    X, Y = a["bf_X"], a["bf_Y"]
    start = float(cost(X, Y, a["bf_W1"], a["bf_W2"]))
    _near(costs[0], start, BFGS_RTOL, "costs[0] must be the cost at the start", F64)
    for before, after in zip(costs[:-1], costs[1:], strict=True):
        rise = "the recorded costs should never go up with BFGS"
        _need(after <= before + BFGS_RTOL * start, rise)
    end = float(cost(X, Y, A, B))
    last = "the last cost should belong to the returned weights"
    _need(abs(costs[-1] - end) <= BFGS_RTOL * start, last)
    _need(
        end <= 1.05 * best + 1e-9,
        "BFGS ends far above where it should (with a right gradient in float64 it gets within 5 %)",
    )


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
    for i, (layers, rate) in enumerate(a["plan"]["init"]):
        ok = _same_list(_value(r, f"in{i}.layers"), layers)
        _need(ok and _equals(_value(r, f"in{i}.alpha"), rate), "layers/alpha not stored")
        _weights(r, f"in{i}.W", shapes_of(layers), f"weights of {layers}")


def _j_seeded(r: Results, a: dict) -> None:
    first = [np.asarray(w) for w in _value(r, "first.W")]
    again = [np.asarray(w) for w in _value(r, "again.W")]
    _need(len(first) == len(again), "the same seed must give the same weights")
    equal = all(np.array_equal(u, v) for u, v in zip(first, again, strict=True))
    _need(equal, "the same seed must give the same weights")
    recipe = "the initial weights are not rng.standard_normal(shape) / sqrt(n), in layer order"
    _need(len(first) >= 2, recipe)
    _fits(first[0], "init_W0", recipe)
    _fits(first[1], "init_W1", recipe)
    layers, same, other = a["plan"]["seeded"]
    shapes = shapes_of(layers)
    wa, wb, wc = (_weights(r, f"{n}.W", shapes, "weights", False) for n in "abc")
    for k in range(len(shapes)):
        _need(worst(wa[k], wb[k]) == 0.0, "the same seed must give the same weights")
        _need(worst(wa[k], wc[k]) > 0.01, "different seeds must give different weights")
    for got, seed in ((wa, same), (wc, other)):
        for g, w in zip(got, init_weights(layers, seed), strict=True):
            _near(
                g,
                w,
                RTOL,
                f"the initial weights of a {layers} network with seed={seed} are not "
                "rng.standard_normal(shape) / sqrt(n), in layer order",
            )


def _j_repr(r: Results, a: dict) -> None:
    for i, layers in enumerate(a["plan"]["repr"]):
        want = "NeuralNetwork: " + "-".join(str(n) for n in layers)
        ok = r.types(f"re{i}")[:1] == ["builtins.str"] and r.text(f"re{i}") == want
        _need(ok, f"repr should be {want!r}")


def _j_predict(r: Results, a: dict) -> None:
    X, _ = CHECKS.small_network_data()
    with_bias, plain = r.array("with_bias"), r.array("plain")
    _need(with_bias is not None, "predict gives wrong outputs for given weights")
    _fits(with_bias, "predict", "predict gives wrong outputs for given weights")
    same = "predict(X) should equal predict(X with a column of ones, add_bias=False)"
    _need(plain is not None and plain.shape == with_bias.shape, same)
    _fits(plain, "predict", same)
    one = r.array("one_row")
    _need(one is not None and one.shape == (1, CHECKS.LAYERS[-1]), "one example: one row")
    for i, (layers, row) in enumerate(a["plan"]["predict"]):
        weights = [a[f"pr{i}_W{k}"] for k in range(len(layers) - 1)]
        want, k = predict(weights, a[f"pr{i}_Xb"]), layers[-1]
        m = len(want)
        p1 = _fresh(r, f"pr{i}_X", (m, k), "predict(X)")
        p2 = _fresh(r, f"pr{i}_Xb", (m, k), "predict(Xb, add_bias=False)")
        p3 = _fresh(r, f"pr{i}_row", (1, k), "predict(one row)")
        _near(p1, want, RTOL, f"predict is wrong for a {layers} network")
        _near(p2, want, RTOL, "predict(..., add_bias=False) is wrong")
        _near(p3, want[row : row + 1], RTOL, "predict on a single example is wrong")


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
    _need(floating, "calculate_loss is wrong for given weights")
    _fits(loss, "loss", "calculate_loss is wrong for given weights")
    for i, layers in enumerate(a["plan"]["loss"]):
        got = _number(r, f"lo{i}", "loss")
        weights = [a[f"lo{i}_W{k}"] for k in range(len(layers) - 1)]
        X, T = a[f"lo{i}_X"], a[f"lo{i}_T"]
        want = 0.5 * float(((predict(weights, np.c_[X, np.ones(len(X))]) - T) ** 2).sum())
        _near(got, want, RTOL, f"calculate_loss is wrong for a {layers} network")


def _j_step(r: Results, a: dict) -> None:
    W = _value(r, "small.W")
    shapes = [w.shape for w in CHECKS.small_network_weights()]
    ok = isinstance(W, list) and [np.shape(w) for w in W] == shapes
    _need(ok, f"fit_partial must keep the weight shapes {shapes}")
    _fits(W[0], "step_W0", "fit_partial makes a wrong step")
    _fits(W[1], "step_W1", "fit_partial makes a wrong step")
    for i, (layers, alpha) in enumerate(a["plan"]["step"]):
        weights = [a[f"st{i}_W{k}"] for k in range(len(layers) - 1)]
        got = _weights(r, f"st{i}.W", shapes_of(layers), "updated weights")
        want = sgd_step(weights, a[f"st{i}_x"], a[f"st{i}_t"], alpha)
        for g, w in zip(got, want, strict=True):
            _near(g, w, RTOL, f"fit_partial gives a wrong update for a {layers} network")


def _j_fit(r: Results, a: dict) -> None:
    losses = _value(r, "small")
    _need("builtins.list" in r.types("small"), "fit should return the list of recorded losses")
    W = _value(r, "small.W")
    _need(isinstance(W, list) and W, "fit ends with wrong weights")
    _fits(W[0], "fit_W0", "fit ends with wrong weights")
    _need(r.length("small") == 3, MESSAGES["losses_at_wrong_epochs"])
    if not _matches(_floats(losses), "fit_losses"):
        close = how_far(_floats(losses), small_answers()["fit_losses"], RTOL)
        # close to the right losses: the epochs are right, the values are not
        raise Fail(
            f"the recorded losses are wrong{close}" if close else MESSAGES["losses_at_wrong_epochs"]
        )
    layers, epochs, every, (ref, ref_losses) = a["plan"]["fit"]
    count = len(ref_losses)
    after = ", ".join(str(e + 1) for e in _recorded(epochs, every))
    _need(
        r.types("fit")[:1] == ["builtins.list"] and r.length("fit") == count,
        f"{epochs} epochs, display_update={every}: losses after epochs {after}",
    )
    losses = [_number_value(v, t, "loss") for v, t in _items(r, "fit", count, "losses")]
    got = _fresh_items(r, "fit.W", shapes_of(layers), "weights after fit")
    for g, w in zip(got, ref, strict=True):
        _near(g, w, RTOL, f"the weights after fit differ from {epochs} epochs of in-order SGD")
    for g, w in zip(losses, ref_losses, strict=True):
        _near(g, w, RTOL, "the recorded losses are wrong")


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
    for i, trained in enumerate(a["plan"]["xor"]):
        got = _fresh_items(r, f"s{i}.W", [(3, 3), (3, 1)], "weights")
        for g, w in zip(got, trained, strict=True):
            _near(g, w, LONG_RTOL, "training from another start does not follow in-order SGD", F64)
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
    for i, (_, alpha) in enumerate(a["plan"]["linear"]):
        case = f"lin{i}"
        _need(
            r.types(f"{case}.W")[:1] == ["builtins.list"] and r.length(f"{case}.W") == 1,
            "a 2-1 network has one weight matrix",
        )
        (start,) = _fresh_items(r, f"{case}.W", [(3, 1)], "initial weights")
        (got,) = _fresh_items(r, f"{case}_fit.W", [(3, 1)], "trained weights")
        want = _linear_trained(np.ascontiguousarray(start).tobytes(), alpha)
        _near(got, want, RTOL, "a network without hidden layer does not train correctly")
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
    images = a["dg_probe"]
    out = _fresh(r, "out", (len(images), 10), "nn_digits.predict(images)")
    acc = _number(r, "test_accuracy", "test_accuracy")
    weights = _fresh_items(r, "W", [(65, 33), (33, 17), (17, 10)], "nn_digits.W")
    ref = predict(weights, np.c_[images, np.ones(len(images))])
    _near(out, ref, RTOL, "nn_digits.predict does not match the network's weights")
    tested = predict(weights, np.c_[a["dg_Xte"], np.ones(len(a["dg_Xte"]))])
    ref_acc = (
        sum(
            1
            for p, t in zip(tested.argmax(axis=1).tolist(), a["dg_yte"].tolist(), strict=True)
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


class _Roles:
    """The student's results read by descriptive case names (``"small"``, ``"fo0.W"``): each
    is looked up under the neutral id its case had in the kernel's inputs."""

    def __init__(self, results: Results, ids: dict[str, str]) -> None:
        self._results, self._ids = results, ids

    def _id(self, case: str) -> str:
        head, dot, rest = case.partition(".")
        return self._ids.get(head, head) + dot + rest

    def __getattr__(self, name: str):
        method = getattr(self._results, name)
        return lambda case, *args: method(self._id(case), *args)


def judge(grade_id: str, results: Results, arrays: dict) -> Verdict:
    """The verdict of the hidden test ``grade_id`` on the student's ``results``: all or nothing."""
    grader = {k[1:]: v for k, v in arrays.items() if k.startswith("_")}
    try:
        JUDGES[grade_id](_Roles(results, grader["roles"][grade_id]), grader)
    except Fail as why:
        return Verdict(0.0, str(why), why.mistake)
    except (TypeError, ValueError, IndexError, AttributeError) as err:
        return Verdict(0.0, f"the results do not have the expected form ({type(err).__name__})")
    return RIGHT
