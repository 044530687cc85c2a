"""Reference solution and judgement of the backprop hidden tests (graders only, never released).

nbgrader's release leaves this file out (``CourseDirectory.ignore`` in nbgrader_config.py) and
the grader never copies it where a student's kernel could read it. ``build(folder, seed)``
draws the inputs the hidden tests run the student's functions on, fresh for every submission
from a seed only the grader knows; ``judge`` scores what came back, with the course's
partial-credit rule (half the points when a part is right apart from one known mistake: its
own, the notebook's data, or the function it builds on, seen on every call). What each part
judges, and why no shortcut produces it, is in docs/grading.md ("What each part judges").
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from scipy.io import loadmat

from ds4023.grading.judge import RIGHT, Results, Verdict, digest, load_module, settle, unwritten
from ds4023.grading.judge import how_far as _how_far
from ds4023.grading.judge import near as _near

FULL = (400, 25, 10)
#: The seed of the notebook's starting weights (cell ``initial_params``).
NOTEBOOK_SEED = 4023
#: Relative tolerance of a value: float32 arithmetic passes, every known mistake is far off.
RTOL = 5e-5
#: Relative tolerance of a gradient check's difference: float32 parameters pass; the stand-ins
#: curve so strongly that a difference taken any other way is off by more than 1e-2.
GC_RTOL = 1e-3
#: How many training evaluations, besides the first and the last, the judge checks.
AUDITED = 48


def _messages() -> dict[str, str]:
    module = load_module(Path(__file__).with_name("backprop_checks.py"))
    return dict(module.MESSAGES)


MESSAGES = _messages()


def near(got, want, rtol: float = RTOL) -> bool:
    """Same shape, and within ``rtol`` of the reference's size (see ``judge.near``)."""
    return _near(got, want, rtol)


# ---------------------------------------------------------------- the reference network
def split(params, sizes):
    """theta1, theta2 of the unrolled ``params`` for layer sizes ``(n_in, n_hid, n_lab)``."""
    n_in, n_hid, n_lab = sizes
    cut = n_hid * (n_in + 1)
    return params[:cut].reshape(n_hid, n_in + 1), params[cut:].reshape(n_lab, n_hid + 1)


def forward(X, t1, t2):
    """a1, z2, a2, z3, h of the three-layer network, one row per example."""
    m = X.shape[0]
    a1 = np.column_stack([np.ones(m), X])
    z2 = a1 @ t1.T
    a2 = np.column_stack([np.ones(m), 1 / (1 + np.exp(-z2))])
    z3 = a2 @ t2.T
    return a1, z2, a2, z3, 1 / (1 + np.exp(-z3))


def penalty(params, sizes, m):
    """The regularization of the cost per unit of lambda, and of the gradient."""
    t1, t2 = split(params, sizes)
    p1, p2 = np.array(t1), np.array(t2)
    p1[:, 0] = p2[:, 0] = 0
    return ((p1**2).sum() + (p2**2).sum()) / (2 * m), np.concatenate([p1.ravel(), p2.ravel()]) / m


def network(params, X, Y, sizes, lam=0.0):
    """Cost and gradient of the network (regularized with ``lam``, bias weights left out)."""
    m = X.shape[0]
    t1, t2 = split(params, sizes)
    a1, z2, a2, z3, h = forward(X, t1, t2)
    J = plain_cost(z3, Y)
    d3 = h - Y
    d2 = (d3 @ t2[:, 1:]) * a2[:, 1:] * (1 - a2[:, 1:])
    grad = np.concatenate([(d2.T @ a1 / m).ravel(), (d3.T @ a2 / m).ravel()])
    pen_J, pen_g = penalty(params, sizes, m)
    return J + lam * pen_J, grad + lam * pen_g


def plain_cost(z3, Y):
    """The cost from the output layer's z3."""
    return (Y * np.logaddexp(0, -z3) + (1 - Y) * np.logaddexp(0, z3)).sum() / Y.shape[0]


def notebook_params(n: int = 25 * 401 + 10 * 26) -> np.ndarray:
    """The notebook's starting weights (``default_rng(4023).uniform(-0.25, 0.25)``)."""
    return np.random.default_rng(NOTEBOOK_SEED).uniform(-0.25, 0.25, n)


def images(folder: Path) -> dict[str, np.ndarray]:
    """The notebook's data: X as the notebook turns it (and as read), labels, one-hot Y."""
    raw = loadmat(Path(folder) / "ex4data1.mat")
    labels = raw["y"].ravel().astype(np.int64)
    X = raw["X"].reshape(-1, 20, 20).transpose(0, 2, 1).reshape(-1, 400)
    return {
        "X": X,
        "X_raw": raw["X"].astype(np.float64),
        "labels": labels,
        "Y": np.eye(10)[labels - 1],
    }


# ---------------------------------------------------------------- inputs of the hidden tests
def _arr(name, dtype=None):
    return {"array": name, "dtype": dtype} if dtype else {"array": name}


class _Draw:
    """The inputs of one submission: arrays by name (what the kernel gets) and the grader's
    view of every case (its reference values' ingredients), drawn from one generator."""

    def __init__(self, rng: np.random.Generator, data: dict) -> None:
        self.rng, self.data, self.arrays = rng, data, {}

    def put(self, name: str, value) -> dict:
        self.arrays[name] = np.asarray(value, dtype=np.float64)
        return _arr(name)

    def weights(self, sizes) -> np.ndarray:
        """Random unrolled weights; the bias weights larger, so that their slips show."""
        t1 = self.rng.uniform(-0.5, 0.5, (sizes[1], sizes[0] + 1))
        t2 = self.rng.uniform(-0.5, 0.5, (sizes[2], sizes[1] + 1))
        t1[:, 0] = self.rng.uniform(-2, 2, sizes[1])
        t2[:, 0] = self.rng.uniform(-2, 2, sizes[2])
        return np.concatenate([t1.ravel(), t2.ravel()])

    def small_sizes(self) -> tuple[int, int, int]:
        return (
            int(self.rng.integers(2, 7)),
            int(self.rng.integers(3, 8)),
            int(self.rng.integers(2, 6)),
        )

    def problem(self, sizes, rows: tuple[int, int]):
        """Examples and one-hot labels: rows of the notebook's X (full size) or made up."""
        m = int(self.rng.integers(*rows))
        if sizes == FULL:
            X = self.data["X"][np.sort(self.rng.choice(5000, m, replace=False))]
        else:
            X = self.rng.normal(0, 1, (m, sizes[0]))
        return X, np.eye(sizes[2])[self.rng.integers(0, sizes[2], m)]


def build(
    folder: Path, seed: int | None = None
) -> tuple[dict[str, np.ndarray], dict[str, list[dict]]]:
    """The arrays of one submission's hidden tests and, per grade_id, the cases the probe runs.

    Args:
        folder: where the data files are.
        seed: the submission's secret seed (None: a fresh one).

    Returns:
        ``(arrays, tests)``; ``arrays`` also holds grader-only entries (``_``-prefixed, never
        named by a case, so never written to the kernel's inputs file).
    """
    draw = _Draw(np.random.default_rng(seed), images(folder))
    tests = {gid: make(draw) for gid, make in _MAKERS.items()}
    arrays = {**draw.arrays, **{f"_{k}": v for k, v in draw.data.items()}, "_tests": tests}
    arrays["_audit"] = int(draw.rng.integers(2**62))  # which training evaluations are checked
    return arrays, tests


def _case(i: int, call: str, args: list, **extra) -> dict:
    return {"id": f"c{i}", "call": call, "args": args, **extra}


def _plot_cases(d: _Draw) -> list[dict]:
    row = d.data["X"][int(d.rng.integers(5000))]
    xs = (d.rng.uniform(0, 1, 400), d.rng.normal(0, 1, 400), row)
    return [
        _case(i, "plot_image", [d.put(f"img{i}", x)], capture="image") for i, x in enumerate(xs)
    ]


def _onehot_cases(d: _Draw) -> list[dict]:
    codes = d.rng.integers(1, 11, int(d.rng.integers(6, 15)))
    return [
        {"id": "y_onehot", "value": "y_onehot"},
        _case(
            0, "encoder.transform", [_arr(d.put("codes", codes.reshape(-1, 1))["array"], "int64")]
        ),
    ]


def _elementwise_cases(d: _Draw, fn: str) -> list[dict]:
    vector = d.rng.uniform(-10, 10, int(d.rng.integers(5, 13)))
    matrix = d.rng.uniform(-20, 20, (int(d.rng.integers(2, 8)), int(d.rng.integers(2, 7))))
    return [
        _case(0, fn, [d.put(f"{fn}_v", vector)]),
        _case(1, fn, [d.put(f"{fn}_m", matrix)]),
        _case(2, fn, [float(d.rng.uniform(-6, 6))]),
    ]


def _net(d: _Draw, name: str, sizes, rows) -> dict:
    """One network problem: weights, examples, labels, stored under ``name``."""
    params = d.weights(sizes)
    X, Y = d.problem(sizes, rows)
    t1, t2 = split(params, sizes)
    return {
        "p": d.put(f"{name}_p", params),
        "t1": d.put(f"{name}_t1", t1),
        "t2": d.put(f"{name}_t2", t2),
        "X": d.put(f"{name}_X", X),
        "Y": d.put(f"{name}_Y", Y),
        "sizes": list(sizes),
    }


def _nets(d: _Draw, prefix: str) -> list[dict]:
    return [
        _net(d, f"{prefix}0", FULL, (300, 700)),
        _net(d, f"{prefix}1", FULL, (100, 300)),
        _net(d, f"{prefix}2", d.small_sizes(), (4, 9)),
    ]


def _patch(net: dict) -> dict:
    n_in, n_hid, n_lab = net["sizes"]
    return {"input_size": n_in, "hidden_size": n_hid, "num_labels": n_lab}


def _forward_cases(d: _Draw) -> list[dict]:
    return [
        _case(i, "forward_propagate", [n["X"], n["t1"], n["t2"]], _judge=n)
        for i, n in enumerate(_nets(d, "fw"))
    ]


def _cost_cases(d: _Draw) -> list[dict]:
    """Each problem twice, with two label sets: the forward pass cannot depend on them."""
    cases = []
    for i, n in enumerate(_nets(d, "cost")):
        other = {**n, "Y": d.put(f"cost{i}_Y2", np.roll(d.arrays[n["Y"]["array"]], 1, axis=1))}
        for j, net in enumerate((n, other)):
            args = [net["t1"], net["t2"], net["X"], net["Y"]]
            cases.append(
                _case(2 * i + j, "cost", args, _judge=net, observe={"forward_propagate": 3})
            )
    return [{"id": n, "value": n, "capture": "digest"} for n in ("X", "y_onehot")] + cases


def _cost_reg_cases(d: _Draw) -> list[dict]:
    cases = []
    for i, n in enumerate(_nets(d, "reg")):
        lam = None if i == 0 else round(float(d.rng.uniform(0.5, 4)), 3)
        args = [n["t1"], n["t2"], n["X"], n["Y"]] + ([lam] if lam is not None else [])
        net = {**n, "lam": 1.0 if lam is None else lam}
        cases.append(_case(i, "cost_regularized", args, _judge=net, observe={"cost": None}))
    return [{"id": n, "value": n, "capture": "digest"} for n in ("X", "y_onehot")] + cases


def _backprop_cases(d: _Draw, fn: str) -> list[dict]:
    nets = [_net(d, f"{fn}0", FULL, (200, 500)), _net(d, f"{fn}1", d.small_sizes(), (4, 9))]
    if fn == "backprop":
        nets.insert(1, _net(d, f"{fn}2", FULL, (50, 150)))
        return [
            _case(i, fn, [n["p"], n["X"], n["Y"]], _judge=n, patch=_patch(n))
            for i, n in enumerate(nets)
        ]
    cases = []
    lams = [0.0, round(float(d.rng.uniform(0.5, 4)), 3), None]
    for n in nets:
        for lam in lams:
            kwargs = {} if lam is None else {"reg_lambda": lam}
            net = {**n, "lam": 1.0 if lam is None else lam}
            cases.append(
                _case(
                    len(cases),
                    fn,
                    [n["p"], n["X"], n["Y"]],
                    kwargs=kwargs,
                    _judge=net,
                    patch=_patch(n),
                    observe={"backprop": None},
                )
            )
    return cases


def _standin(d: _Draw, n: int, wrong: bool) -> np.ndarray:
    """A stand-in's table (see ``ds4023.probe.StandIn``): strong curvature, and a different
    error on every coordinate of its gradient when ``wrong``."""
    err = d.rng.normal(0, 0.3, n) if wrong else np.zeros(n)
    return np.stack(
        [
            d.rng.uniform(0.5, 2, n),
            d.rng.uniform(40, 80, n),
            d.rng.uniform(0, 2 * np.pi, n),
            d.rng.uniform(0.5, 2, n),
            err,
        ]
    )


def _gradient_checking_cases(d: _Draw) -> list[dict]:
    cases = []
    kinds = [(False, False), (True, False), (False, True)]  # (backprop wrong, regularized)
    for i in d.rng.permutation(3):
        wrong, regularized = kinds[i]
        sizes = d.small_sizes()
        n = sizes[1] * (sizes[0] + 1) + sizes[2] * (sizes[1] + 1)
        name = f"gc{len(cases)}"
        plain = d.put(f"{name}_bp", _standin(d, n, wrong or regularized))
        reg = d.put(f"{name}_reg", _standin(d, n, not regularized))
        X, Y = d.problem(sizes, (3, 7))
        eps = round(float(d.rng.uniform(8e-3, 1.5e-2)), 5)
        args = [
            d.put(f"{name}_p", d.rng.uniform(-1, 1, n)),
            d.put(f"{name}_X", X),
            d.put(f"{name}_Y", Y),
            eps,
        ]
        cases.append(
            _case(
                len(cases),
                "gradient_checking",
                args,
                kwargs={"regularized": True} if regularized else {},
                patch={"input_size": sizes[0], "hidden_size": sizes[1], "num_labels": sizes[2]},
                standins={"backprop": plain, "backprop_reg": reg},
                _judge={"used": reg if regularized else plain},
            )
        )
    return cases


_MAKERS = {
    "plot_image_draws_digit": _plot_cases,
    "onehot_encoding": _onehot_cases,
    "network_sizes": lambda d: [
        {"id": n, "value": n} for n in ("input_size", "hidden_size", "num_labels")
    ],
    "sigmoid_values": lambda d: _elementwise_cases(d, "sigmoid"),
    "sigmoid_gradient_values": lambda d: _elementwise_cases(d, "sigmoid_gradient"),
    "forward_propagate_values": _forward_cases,
    "cost_reference_value": _cost_cases,
    "cost_reg_reference_value": _cost_reg_cases,
    "backprop_matches_reference": lambda d: _backprop_cases(d, "backprop"),
    "backprop_reg_matches_reference": lambda d: _backprop_cases(d, "backprop_reg"),
    "gradient_checking_small_network": _gradient_checking_cases,
    "training_accuracy": lambda d: [
        {"id": "x", "value": "fmin", "capture": "optimum"},
        {"id": "run", "value": "fmin", "capture": "tnc_run"},
        {"id": "y_pred", "value": "y_pred"},
        {"id": "X", "value": "X", "capture": "digest"},
    ],
}


# ---------------------------------------------------------------- judgement
def _cases(a: dict, grade_id: str) -> list[dict]:
    return [c for c in a["_tests"][grade_id] if c["id"].startswith("c")]


def _problem(a: dict, case: dict):
    """params, X, Y, sizes, lambda of a case, as the grader drew them."""
    n = case["_judge"]
    sizes = tuple(n["sizes"])
    return a[n["p"]["array"]], a[n["X"]["array"]], a[n["Y"]["array"]], sizes, n.get("lam", 0.0)


def _label(a: dict, case: dict) -> str:
    _, X, Y, sizes, lam = _problem(a, case)
    net = "the full network" if sizes == FULL else f"a small {sizes} network"
    reg = f", lambda = {lam:g}" if "lam" in case["_judge"] else ""
    return f"{net} on {X.shape[0]} examples{reg}"


def how_far(got, want, rtol: float = RTOL) -> str:
    """'' or a note that ``got`` is close to ``want`` but outside ``rtol`` (judge.how_far)."""
    return _how_far(got, want, rtol)


def _named_image(r: Results, a: dict) -> Verdict:
    for case in _cases(a, "plot_image_draws_digit"):
        x, img = a[case["args"][0]["array"]], r.array(case["id"])
        if img is None:
            return Verdict(0.0, f"plot_image drew no picture: {r.error(case['id'])}")
        if img.shape != (20, 20):
            return Verdict(0.0, f"expected a 20 x 20 image, got {img.shape}")
        want = x.reshape(20, 20)
        if near(img, want.T) and not near(img, want):
            return Verdict(0.0, MESSAGES["plot_image_transposed"], "plot_image_transposed")
        if not near(img, want):
            return Verdict(0.0, "the image is not x.reshape(20, 20)" + how_far(img, want))
    return RIGHT


def _onehot(r: Results, a: dict) -> Verdict:
    got, Y = r.array("y_onehot"), a["_Y"]
    if got is None or got.shape != (5000, 10):
        shape = "no array" if got is None else got.shape
        return Verdict(0.0, f"y_onehot should be a (5000, 10) array, got {shape}")
    if not np.array_equal(got, Y):
        if np.array_equal(got, np.eye(10)[a["_labels"] % 10]):
            return Verdict(0.0, MESSAGES["onehot_order"], "onehot_order")
        return Verdict(0.0, "y_onehot does not match the labels in ex4data1.mat")
    codes = r.array("c0")
    if codes is None:  # no working encoder: y_onehot was built another way, which is fine
        return RIGHT
    labels = a["codes"].ravel().astype(np.int64)
    if codes.shape != (labels.size, 10) or not np.array_equal(codes, np.eye(10)[labels - 1]):
        return Verdict(0.0, "the encoder should put label k in column k - 1 of 10 columns")
    return RIGHT


def _sizes(r: Results, a: dict) -> Verdict:
    for name, want in zip(("input_size", "hidden_size", "num_labels"), FULL, strict=True):
        got = r.array(name)
        if got is None or got.shape != () or float(got) != want:
            return Verdict(0.0, f"{name} should be {want}, the number of units of its layer")
    return RIGHT


def _elementwise(what, grade_id, fn, slip):
    labels = ("a vector", "a matrix", "a number")

    def judge(r: Results, a: dict) -> Verdict:
        for case, label in zip(_cases(a, grade_id), labels, strict=True):
            arg = case["args"][0]
            x = np.asarray(a[arg["array"]] if isinstance(arg, dict) else arg, dtype=np.float64)
            got, want = r.array(case["id"]), fn(x)
            if got is None or got.shape != want.shape:
                why = r.error(case["id"]) or f"shape {None if got is None else got.shape}"
                return Verdict(
                    0.0,
                    unwritten(what, why) or f"{what} should keep the shape {want.shape} ({why})",
                )
            if not near(got, want):
                if near(got, slip(x)):
                    return Verdict(0.0, MESSAGES[slip.key], slip.key)
                return Verdict(0.0, f"{what} is wrong for {label}" + how_far(got, want))
        return RIGHT

    return judge


def _sigmoid(z):
    return 1 / (1 + np.exp(-z))


def _sigmoid_sign(z):
    return 1 - _sigmoid(z)


def _gradient_of_z(z):
    return z * (1 - z)


_sigmoid_sign.key = "sigmoid_sign"
_gradient_of_z.key = "sigmoid_gradient_of_z"


def _no_bias(got, ref) -> bool:
    """Whether an activation has one column fewer than it should (its bias column missing)."""
    return got.ndim == 2 and got.shape == (ref.shape[0], ref.shape[1] - 1)


def _forward(r: Results, a: dict) -> Verdict:
    for case in _cases(a, "forward_propagate_values"):
        params, X, _, sizes, _ = _problem(a, case)
        label = _label(a, case)
        parts = r.parts(case["id"], 5)
        if parts is None:
            why = r.error(case["id"]) or "not five arrays"
            return Verdict(
                0.0,
                unwritten("forward_propagate", why)
                or f"forward_propagate should return a1, z2, a2, z3, h ({why})",
            )
        want = forward(X, *split(params, sizes))
        missing = [
            n
            for n, got, ref in (("a1", parts[0], want[0]), ("a2", parts[2], want[2]))
            if _no_bias(got, ref)
        ]
        if missing:
            verb = "lacks its" if len(missing) == 1 else "lack their"
            where = f" Here {' and '.join(missing)} {verb} column of ones."
            return Verdict(0.0, MESSAGES["no_bias_column"] + where, "no_bias_column")
        if parts[1].shape == want[1].T.shape != want[1].shape:
            return Verdict(0.0, MESSAGES["forward_transposed"], "forward_transposed")
        for name, got, ref in zip(("a1", "z2", "a2", "z3", "h"), parts, want, strict=True):
            if got.shape != ref.shape:
                return Verdict(0.0, f"{name} has shape {got.shape}, expected {ref.shape} ({label})")
            if not near(got, ref):
                return Verdict(0.0, f"{name} is wrong for {label}" + how_far(got, ref))
    return RIGHT


def _data_ok(r: Results, a: dict) -> bool:
    return r.digest("X") == digest(a["_X"]) and r.digest("y_onehot") == digest(a["_Y"])


def _scalar(got) -> bool:
    return got is not None and got.shape == ()


def _cost_kind(r: Results, a: dict, case: dict) -> str:
    params, X, Y, sizes, _ = _problem(a, case)
    got, m = r.array(case["id"]), X.shape[0]
    z3 = r.array(f"{case['id']}.seen_forward_propagate")
    want = network(params, X, Y, sizes)[0]
    if _scalar(got):
        if near(got, want):
            return "right"
        if near(got / m, want):
            return "cost_not_divided_by_m"
        if z3 is not None and z3.shape == Y.shape and near(got, plain_cost(z3, Y)):
            return "wrong forward_propagate"
    elif got is not None and got.ndim == 1 and got.shape[0] in (m, Y.shape[1]):
        return "cost_wrong_axis" if near(got.sum(), want) else "wrong"
    return "wrong"


def _cost(r: Results, a: dict) -> Verdict:
    cases = _cases(a, "cost_reference_value")
    kinds = [_cost_kind(r, a, c) for c in cases]
    for i in range(0, len(cases), 2):  # one problem, two label sets: the same forward pass
        if "wrong forward_propagate" in kinds[i : i + 2]:
            seen = [r.array(f"{c['id']}.seen_forward_propagate") for c in cases[i : i + 2]]
            same = kinds[i] == kinds[i + 1] and np.array_equal(seen[0], seen[1])
            kinds[i : i + 2] = kinds[i : i + 2] if same else ["wrong", "wrong"]
    note = "cost itself is right, but the check above failed on the notebook's X and y_onehot."
    names = [_label(a, c) for c in cases]
    errors = [r.error(c["id"]) or _cost_far(r, a, c) for c in cases]
    return settle(kinds, names, "cost", MESSAGES, _data_ok(r, a), note, errors)


def _cost_far(r: Results, a: dict, case: dict) -> str:
    params, X, Y, sizes, lam = _problem(a, case)
    return how_far(r.array(case["id"]), network(params, X, Y, sizes, lam)[0]).strip(" ()")


def _cost_reg_kind(r: Results, a: dict, case: dict) -> str:
    params, X, Y, sizes, lam = _problem(a, case)
    got, seen, m = r.array(case["id"]), r.array(f"{case['id']}.seen_cost"), X.shape[0]
    want, plain = network(params, X, Y, sizes, lam)[0], network(params, X, Y, sizes)[0]
    t1, t2 = split(params, sizes)
    bias = lam / (2 * m) * ((t1[:, 0] ** 2).sum() + (t2[:, 0] ** 2).sum())
    if got is not None and seen is not None and seen.shape == got.shape and got.ndim <= 1:
        base_right = seen.shape == () and near(seen, plain)
        if not base_right and near(got - seen, np.full(got.shape, want - plain)):
            return "wrong cost"  # the penalty is right on top of the student's own cost
    if not _scalar(got):
        return "wrong"
    if near(got, want):
        return "right"
    if near(got, want + bias):
        return "bias_regularized"
    if near(got, 2 * want - plain):
        return "penalty_scale"  # lambda / m instead of lambda / (2m)
    return "wrong"


def _cost_reg(r: Results, a: dict) -> Verdict:
    cases = _cases(a, "cost_reg_reference_value")
    note = (
        "cost_regularized itself is right, but the check above failed on the notebook's X "
        "and y_onehot."
    )
    return settle(
        [_cost_reg_kind(r, a, c) for c in cases],
        [_label(a, c) for c in cases],
        "cost_regularized",
        MESSAGES,
        _data_ok(r, a),
        note,
        [r.error(c["id"]) or _cost_far(r, a, c) for c in cases],
    )


def _untransposed(grad, n_in, n_hid, n_lab):
    cut = n_hid * (n_in + 1)
    first = grad[:cut].reshape(n_in + 1, n_hid).T
    return np.concatenate([first.ravel(), grad[cut:].reshape(n_hid + 1, n_lab).T.ravel()])


def _backprop_kind(got, want, m, sizes) -> str:
    if got is None:
        return "wrong"
    got_J, got_g = got
    J_ok = got_J.shape == () and near(got_J, want[0])
    if isinstance(got_g, np.ndarray) and got_g.ndim == 3 and len(got_g) == 2:  # stacked
        got_g = list(got_g)  # two matrices of one shape: ds4023.probe.encode makes them one array
    if isinstance(got_g, list):  # the two gradient matrices, not unrolled
        flat = np.concatenate([np.ravel(g) for g in got_g]) if len(got_g) == 2 else None
        return "gradient_as_tuple" if J_ok and flat is not None and near(flat, want[1]) else "wrong"
    g_ok = near(got_g, want[1])
    if J_ok and g_ok:
        return "right"
    J_m = got_J.shape == () and near(got_J / m, want[0])
    g_m = near(got_g / m, want[1])
    if (J_ok or J_m) and (g_ok or g_m):
        return "gradient_not_divided_by_m" if g_m else "cost_not_divided_by_m"
    if J_ok and got_g.shape == want[1].shape and near(_untransposed(got_g, *sizes), want[1]):
        return "gradient_transposed"
    if g_ok and got_J.ndim == 1 and got_J.shape[0] in (m, sizes[2]):
        return "cost_wrong_axis" if near(got_J.sum(), want[0]) else "wrong"
    return "wrong"


def _backprop(r: Results, a: dict) -> Verdict:
    cases = _cases(a, "backprop_matches_reference")
    kinds, errors = [], []
    for c in cases:
        params, X, Y, sizes, _ = _problem(a, c)
        want, got = network(params, X, Y, sizes), r.parts(c["id"], 2)
        kinds.append(_backprop_kind(got, want, X.shape[0], sizes))
        far = how_far(got[1], want[1]) if got is not None and not isinstance(got[1], list) else ""
        errors.append(r.error(c["id"]) or far.strip(" ()"))
    return settle(kinds, [_label(a, c) for c in cases], "backprop", MESSAGES, errors=errors)


def _backprop_reg_kind(r: Results, a: dict, case: dict) -> str:
    params, X, Y, sizes, lam = _problem(a, case)
    got, their = r.parts(case["id"], 2), r.parts(f"{case['id']}.seen_backprop", 2)
    if got is None or isinstance(got[1], list):
        return "wrong"
    (got_J, got_g), m = got, X.shape[0]
    want, plain = network(params, X, Y, sizes, lam), network(params, X, Y, sizes)
    if got_g.shape != want[1].shape or got_J.shape != ():
        return "wrong"
    J_ok, g_ok = near(got_J, want[0]), near(got_g, want[1])
    if J_ok and g_ok:
        return "right"
    t1, t2 = split(params, sizes)
    bias_J = lam / (2 * m) * ((t1[:, 0] ** 2).sum() + (t2[:, 0] ** 2).sum())
    b1, b2 = np.zeros_like(t1), np.zeros_like(t2)
    b1[:, 0], b2[:, 0] = lam / m * t1[:, 0], lam / m * t2[:, 0]
    bias_g = np.concatenate([b1.ravel(), b2.ravel()])
    J_b = J_ok or near(got_J, want[0] + bias_J)
    g_b = g_ok or near(got_g, want[1] + bias_g)
    if J_b and g_b and lam > 0:
        return "bias_regularized" if g_ok else "bias_gradient_regularized"
    if g_ok and lam > 0 and near(got_J, 2 * want[0] - plain[0]):
        return "penalty_scale"  # lambda / m instead of lambda / (2m) in the cost
    if their is not None and not isinstance(their[1], list) and their[1].shape == got_g.shape:
        base_wrong = not near(their[0], plain[0]) or not near(their[1], plain[1])
        same_J = near(got_J - their[0], want[0] - plain[0])
        if base_wrong and same_J and near(got_g - their[1], want[1] - plain[1]):
            return "wrong backprop"
    return "wrong"


def _backprop_reg(r: Results, a: dict) -> Verdict:
    cases = _cases(a, "backprop_reg_matches_reference")
    kinds = [_backprop_reg_kind(r, a, c) for c in cases]
    errors = [r.error(c["id"]) for c in cases]
    return settle(kinds, [_label(a, c) for c in cases], "backprop_reg", MESSAGES, errors=errors)


def gradient_difference(table, params, eps: float, exact: bool = False) -> float:
    """What gradient checking of the stand-in ``table`` at ``params`` should return: central
    differences with ``eps`` against the stand-in's gradient (``exact``: the true derivative
    instead of the differences, i.e. a shortcut's answer)."""
    from ds4023.probe import StandIn

    net = StandIn(table)
    n = params.size
    if exact:
        numeric = StandIn(np.vstack([table[:4], np.zeros(n)]))(params)[1]
    else:
        steps = np.eye(n) * eps
        numeric = np.array([(net(params + s)[0] - net(params - s)[0]) / (2 * eps) for s in steps])
    grad = net(params)[1]
    return float(np.linalg.norm(numeric - grad) / np.linalg.norm(numeric + grad))


def _gradient_checking(r: Results, a: dict) -> Verdict:
    for case in _cases(a, "gradient_checking_small_network"):
        got = r.array(case["id"])
        if not _scalar(got):
            why = r.error(case["id"]) or f"shape {None if got is None else got.shape}"
            return Verdict(
                0.0,
                unwritten("gradient_checking", why)
                or f"gradient_checking should return one number ({why})",
            )
        params, eps = a[case["args"][0]["array"]], case["args"][3]
        used = a[case["_judge"]["used"]["array"]]
        want = gradient_difference(used, params, eps)
        if near(got, want, GC_RTOL):
            continue
        standins = case["standins"]
        other = a[standins["backprop" if case["kwargs"] else "backprop_reg"]["array"]]
        if near(got, gradient_difference(other, params, eps), GC_RTOL):
            return Verdict(
                0.0,
                "with regularized=True, use backprop_reg for both gradients; otherwise backprop",
            )
        if near(got, gradient_difference(used, params, eps, exact=True), GC_RTOL):
            return Verdict(
                0.0,
                "the numerical gradient must come from central differences with the given "
                "epsilon, (J(theta + eps e_i) - J(theta - eps e_i)) / (2 eps) for every i",
            )
        return Verdict(
            0.0, "the relative difference is not computed right" + how_far(got, want, GC_RTOL)
        )
    return RIGHT


# ---------------------------------------------------------------- training, replayed
class Unearned(Exception):
    """The training run is no evidence of the student's own training (the text says why)."""


def _fit(recorded, parts) -> np.ndarray:
    """Least-squares coefficients of ``recorded`` on ``parts`` (one column each)."""
    return np.linalg.lstsq(np.column_stack(parts), recorded, rcond=None)[0]


class _Evaluations:
    """Checks each (f, g) a recorded TNC run was given against the network at that point.

    The run may use backprop or backprop_reg (any lambda), and the student's backprop may
    carry a known scaling slip (cost or gradient not divided by m): the first evaluation fixes
    lambda and the scales, and the later ones must agree with them. Besides the first and the
    last, ``AUDITED`` evaluations chosen from the submission's secret seed are checked (the
    kernel cannot know which): a run with a few dozen made-up evaluations is caught almost
    surely, and each check costs one pass of the network over the 5000 examples.
    """

    def __init__(self, f, g, X, Y, audit: int) -> None:
        self.f, self.g, self.X, self.Y, self.k, self.coef = f, g, X, Y, 0, None
        inner = np.arange(1, len(f) - 1)
        chosen = np.random.default_rng(audit).permutation(inner)[:AUDITED]
        self.checked = {0, len(f) - 1, *chosen.tolist()}

    def __call__(self, x):
        k = self.k
        if k >= len(self.f):
            raise Unearned("TNC asks for more evaluations than the recorded run made")
        self.k += 1
        if k not in self.checked:
            return self.f[k], self.g[k]
        J, G = network(x, self.X, self.Y, FULL)
        pen_J, pen_g = penalty(x, FULL, self.X.shape[0])
        f, g = self.f[k], self.g[k]
        if self.coef is None:
            scale_g, reg_g = _fit(g, [G, pen_g])
            lam = reg_g / scale_g if scale_g > 0 else 0.0
            lam = lam if lam > 1e-6 else 0.0  # rounding (float32, say) fits a tiny lambda
            self.coef = (f / (J + lam * pen_J), scale_g, lam)
        scale_f, scale_g, lam = self.coef
        want_g = scale_g * (G + lam * pen_g)
        ok_g = scale_g > 0 and np.max(np.abs(g - want_g)) <= 1e-4 * np.max(np.abs(want_g))
        ok_f = scale_f > 0 and abs(f - scale_f * (J + lam * pen_J)) <= 1e-5 * abs(f)
        if not (ok_g and ok_f):
            raise Unearned(
                f"evaluation {k + 1} of the training run is not the network's cost and gradient "
                "at that point: train with your backprop on X and y_onehot"
            )
        return f, g


def replay(run: list, X, Y, audit: int = 0) -> np.ndarray:
    """Run TNC again on the values the student's run was given, checking each against the
    network; the weights TNC then returns (they must be the student's fmin.x).

    Raises:
        Unearned: the run did not start at the notebook's params, or an evaluation is not
            the network's cost and gradient at the point TNC asked for.
    """
    from scipy.optimize import _moduleTNC

    x0, f, g, low, up, scale, offset, options = run
    n = notebook_params().size
    if x0.shape != (n,) or g.ndim != 2 or g.shape[1:] != (n,) or f.shape != g.shape[:1]:
        raise Unearned("the training run is not one of the 10285 weights of this network")
    if np.max(np.abs(x0 - notebook_params())) > 1e-6:
        raise Unearned(
            "the training did not start from the notebook's params: start TNC from params"
        )
    if options.shape != (10,) or scale.size or offset.size:
        raise Unearned("the training run's settings are not the notebook's: no scale or offset")
    if low.shape != (n,) or up.shape != (n,) or np.isfinite(low).any() or np.isfinite(up).any():
        raise Unearned("the training run had bounds: train without bounds, as the notebook does")
    maxcg, maxfun, eta, stepmx, accuracy, fmin, ftol, xtol, pgtol, rescale = options
    evaluations = _Evaluations(f, g, X, Y, audit)
    out = _moduleTNC.tnc_minimize(
        evaluations,
        x0,
        low,
        up,
        scale,
        offset,
        0,
        int(maxcg),
        int(maxfun),
        eta,
        stepmx,
        accuracy,
        fmin,
        ftol,
        xtol,
        pgtol,
        rescale,
        None,
    )
    return np.asarray(out[3], dtype=np.float64)


def _training(r: Results, a: dict) -> Verdict:
    x, pred = r.array("x"), r.array("y_pred")
    if x is None or x.shape != (10285,):
        why = r.error("x") or "not 10285 numbers"
        return Verdict(0.0, f"fmin should hold the 10285 trained weights in fmin.x ({why})")
    seen = r.digest("X")
    key = next((k for k in ("_X", "_X_raw") if seen == digest(a[k])), None)
    if key is None:
        return Verdict(0.0, "X no longer holds the training images of ex4data1.mat")
    if "too long" in r.error("run"):
        return Verdict(0.0, f"fmin.x cannot be replayed: {r.error('run')}")
    try:
        run = r.value("run")
        if not isinstance(run, list) or len(run) != 8:
            raise Unearned("the training run was not recorded")
        if not np.array_equal(
            replay([np.asarray(v) for v in run], a[key], a["_Y"], a["_audit"]), x
        ):
            raise Unearned("TNC does not end at fmin.x with the values the run was given")
    except Unearned as why:
        return Verdict(0.0, f"fmin.x is not earned by training: {why}")
    except Exception as err:  # noqa: BLE001  (no record, or not a TNC run at all)
        return Verdict(
            0.0,
            "fmin.x comes from no TNC run of this notebook: train with scipy.optimize's TNC "
            f"(minimize(method='TNC') or fmin_tnc) from params ({str(err)[:120]})",
        )
    want = forward(a[key], *split(x, FULL))[4].argmax(axis=1) + 1.0
    accuracy = float((want == a["_labels"]).mean())
    if accuracy < 0.95:
        return Verdict(0.0, f"the trained weights classify {accuracy:.2%} of the images right")
    if pred is None or pred.size != 5000:
        return Verdict(0.0, "y_pred should hold 5000 labels")
    if not np.array_equal(pred.ravel(), want):
        if np.array_equal(pred.ravel(), want - 1):
            return Verdict(0.0, MESSAGES["prediction_off_by_one"], "prediction_off_by_one")
        return Verdict(0.0, "y_pred is not the argmax + 1 of the trained network's output")
    return RIGHT


JUDGES = {
    "plot_image_draws_digit": _named_image,
    "onehot_encoding": _onehot,
    "network_sizes": _sizes,
    "sigmoid_values": _elementwise("sigmoid", "sigmoid_values", _sigmoid, _sigmoid_sign),
    "sigmoid_gradient_values": _elementwise(
        "sigmoid_gradient",
        "sigmoid_gradient_values",
        lambda z: _sigmoid(z) * (1 - _sigmoid(z)),
        _gradient_of_z,
    ),
    "forward_propagate_values": _forward,
    "cost_reference_value": _cost,
    "cost_reg_reference_value": _cost_reg,
    "backprop_matches_reference": _backprop,
    "gradient_checking_small_network": _gradient_checking,
    "backprop_reg_matches_reference": _backprop_reg,
    "training_accuracy": _training,
}


def judge(grade_id: str, results: Results, arrays: dict) -> Verdict:
    """The verdict of the hidden test ``grade_id`` on the student's ``results``."""
    return JUDGES[grade_id](results, arrays)
