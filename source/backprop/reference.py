"""Reference solution and judgement of the backprop hidden tests (graders only, never released).

nbgrader's release leaves this file out (``CourseDirectory.ignore`` in nbgrader_config.py) and
the grader never copies it where a student's kernel could read it. ``build`` makes the inputs
the hidden tests run the student's functions on; ``judge`` scores what came back, with the
course's partial-credit rule (half the points when a part is right apart from one known
mistake: its own, the notebook's data, or the function it builds on).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from scipy.io import loadmat

from ds4023.grading.judge import RIGHT, Results, Verdict, digest, load_module, settle, worst

SMALL = (3, 5, 3)
FULL = (400, 25, 10)
PATCH_SMALL = {"input_size": 3, "hidden_size": 5, "num_labels": 3}


def _messages() -> dict[str, str]:
    module = load_module(Path(__file__).with_name("backprop_checks.py"))
    return {
        **module.MESSAGES,
        # slips the grader names that the visible checks do not (they stop at the type)
        "gradient_as_tuple": (
            "backprop returns the gradient as the two matrices Delta1 / m and Delta2 / m: "
            "unroll them into one vector in the order of params, "
            "np.concatenate([D1.ravel(), D2.ravel()])."
        ),
    }


MESSAGES = _messages()


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


def network(params, X, Y, sizes, lam=0.0):
    """Cost and gradient of the network (regularized with ``lam``, bias weights left out)."""
    m = X.shape[0]
    t1, t2 = split(params, sizes)
    a1, z2, a2, z3, h = forward(X, t1, t2)
    J = (Y * np.logaddexp(0, -z3) + (1 - Y) * np.logaddexp(0, z3)).sum() / m
    J += lam / (2 * m) * ((t1[:, 1:] ** 2).sum() + (t2[:, 1:] ** 2).sum())
    d3 = h - Y
    d2 = (d3 @ t2[:, 1:]) * a2[:, 1:] * (1 - a2[:, 1:])
    g1, g2 = d2.T @ a1 / m, d3.T @ a2 / m
    g1[:, 1:] += lam / m * t1[:, 1:]
    g2[:, 1:] += lam / m * t2[:, 1:]
    return J, np.concatenate([g1.ravel(), g2.ravel()])


def plain_cost(z3, Y):
    """The cost from the output layer's z3."""
    return (Y * np.logaddexp(0, -z3) + (1 - Y) * np.logaddexp(0, z3)).sum() / Y.shape[0]


# ---------------------------------------------------------------- inputs of the hidden tests
def _arr(name, rows=None, dtype=None):
    spec = {"array": name}
    if rows is not None:
        spec["rows"] = list(rows)
    if dtype:
        spec["dtype"] = dtype
    return spec


def build(folder: Path) -> tuple[dict[str, np.ndarray], dict[str, list[dict]]]:
    """The arrays the hidden tests use and, per grade_id, the cases the probe runs."""
    raw = loadmat(Path(folder) / "ex4data1.mat")
    X = raw["X"].reshape(-1, 20, 20).transpose(0, 2, 1).reshape(-1, 400)
    labels = raw["y"].ravel().astype(np.int64)
    w = loadmat(Path(folder) / "ex4weights.mat")
    rng = np.random.default_rng
    p_small = np.sin(np.arange(1, 5 * 4 + 3 * 6 + 1)) / 10
    u = [rng(s).uniform(-0.5, 0.5, 25 * 401 + 10 * 26) for s in (20233, 20234, 20235)]
    arrays = {
        "X": X,
        "X_raw": raw["X"].astype(np.float64),
        "labels": labels.astype(np.float64),
        "Y": np.eye(10)[labels - 1],
        "t1": w["Theta1"],
        "t2": w["Theta2"],
        "ramp": np.linspace(0, 1, 400),
        "noise": rng(20231).random(400),
        "codes": np.array([[3], [10], [1], [7]]),
        "vector": np.array([-1.0, -0.5, 0.0, 0.5, 1.0]),
        "sig_matrix": rng(20232).uniform(-20, 20, size=(7, 4)),
        "grad_matrix": rng(20236).uniform(-8, 8, size=(6, 9)),
        "p_small": p_small,
        "X_small": np.cos(np.arange(1, 16)).reshape(5, 3),
        "Y_small": np.eye(3)[np.arange(1, 6) % 3],
        "p1": rng(20237).uniform(-0.25, 0.25, 10285),
        "p2": rng(20238).uniform(-0.6, 0.6, 10285),
        "p3": rng(20239).uniform(-0.25, 0.25, 10285),
    }
    for i, params in enumerate(u, 1):
        arrays[f"u{i}_1"], arrays[f"u{i}_2"] = (a.copy() for a in split(params, FULL))
    arrays["s1"], arrays["s2"] = (a.copy() for a in split(p_small, SMALL))
    return arrays, _tests()


def _cost_inputs(k):
    """The three (theta1, theta2, X, Y) of the cost tests, k = 2 or 3 (other weights)."""
    step = {2: [1, None, 4], 3: [2, None, 5]}[k]
    return (
        ("given", [_arr("t1"), _arr("t2"), _arr("X"), _arr("Y")]),
        ("other", [_arr(f"u{k}_1"), _arr(f"u{k}_2"), _arr("X", step), _arr("Y", step)]),
        ("small", [_arr("s1"), _arr("s2"), _arr("X_small"), _arr("Y_small")]),
    )


def _tests() -> dict[str, list[dict]]:
    small = [_arr("p_small"), _arr("X_small"), _arr("Y_small")]
    full = [_arr("p3"), _arr("X"), _arr("Y")]
    data = [{"id": n, "value": n, "capture": "digest"} for n in ("X", "y_onehot")]
    lams = {"given": None, "other": 3, "small": 2.5}
    return {
        "plot_image_draws_digit": [
            {"id": n, "call": "plot_image", "args": [a], "capture": "image"}
            for n, a in (
                ("ramp", _arr("ramp")),
                ("noise", _arr("noise")),
                ("digit", {"array": "X", "row": 4321}),
            )
        ],
        "onehot_encoding": [
            {"id": "y_onehot", "value": "y_onehot"},
            {"id": "codes", "call": "encoder.transform", "args": [_arr("codes", dtype="int64")]},
        ],
        "network_sizes": [
            {"id": n, "value": n} for n in ("input_size", "hidden_size", "num_labels")
        ],
        "sigmoid_values": [
            {"id": "vector", "call": "sigmoid", "args": [_arr("vector")]},
            {"id": "matrix", "call": "sigmoid", "args": [_arr("sig_matrix")]},
            {"id": "scalar", "call": "sigmoid", "args": [3.5]},
        ],
        "sigmoid_gradient_values": [
            {"id": "vector", "call": "sigmoid_gradient", "args": [_arr("vector")]},
            {"id": "matrix", "call": "sigmoid_gradient", "args": [_arr("grad_matrix")]},
        ],
        "forward_propagate_values": [
            {"id": n, "call": "forward_propagate", "args": [x, _arr(a), _arr(b)]}
            for n, x, a, b in (
                ("given", _arr("X", [0, None, 50]), "t1", "t2"),
                ("other", _arr("X", [3, None, 70]), "u1_1", "u1_2"),
                ("small", _arr("X_small"), "s1", "s2"),
            )
        ],
        "cost_reference_value": data
        + [{"id": n, "call": "cost", "args": a} for n, a in _cost_inputs(2)]
        + [
            {"id": f"z3_{n}", "call": "forward_propagate", "args": [a[2], a[0], a[1]], "pick": 3}
            for n, a in _cost_inputs(2)
        ],
        "cost_reg_reference_value": data
        + [
            {"id": n, "call": "cost_regularized", "args": a + ([lams[n]] if lams[n] else [])}
            for n, a in _cost_inputs(3)
        ]
        + [{"id": f"plain_{n}", "call": "cost", "args": a} for n, a in _cost_inputs(3)],
        "backprop_matches_reference": [
            {"id": "full", "call": "backprop", "args": [_arr("p1"), _arr("X"), _arr("Y")]},
            {
                "id": "ninth",
                "call": "backprop",
                "args": [_arr("p2"), _arr("X", [1, None, 9]), _arr("Y", [1, None, 9])],
            },
            {"id": "small", "call": "backprop", "args": small, "patch": PATCH_SMALL},
        ],
        "gradient_checking_small_network": [
            {
                "id": n,
                "call": "gradient_checking",
                "args": [*small, 1e-4],
                "kwargs": kw,
                "patch": PATCH_SMALL,
                "standins": s,
            }
            for n, kw, s in (
                ("right", {}, {"backprop": 1.0, "backprop_reg": 1.1}),
                ("off", {}, {"backprop": 1.1, "backprop_reg": 1.1}),
                ("regularized", {"regularized": True}, {"backprop": 1.3, "backprop_reg": 1.0}),
            )
        ],
        "backprop_reg_matches_reference": [
            {
                "id": f"full_{lam}",
                "call": "backprop_reg",
                "args": full,
                "kwargs": {"reg_lambda": lam},
            }
            for lam in (0, 1, 3)
        ]
        + [{"id": "full_default", "call": "backprop_reg", "args": full}]
        + [
            {
                "id": f"small_{lam}",
                "call": "backprop_reg",
                "args": [*small, lam],
                "patch": PATCH_SMALL,
            }
            for lam in (0, 1, 3)
        ]
        + [
            {"id": "their_full", "call": "backprop", "args": full},
            {"id": "their_small", "call": "backprop", "args": small, "patch": PATCH_SMALL},
        ],
        "training_accuracy": [
            {"id": "x", "value": "fmin.x"},
            {"id": "y_pred", "value": "y_pred"},
            {"id": "X", "value": "X", "capture": "digest"},
        ],
    }


# ---------------------------------------------------------------- judgement
def _named_image(r: Results, a: dict) -> Verdict:
    for case, x in (("ramp", a["ramp"]), ("noise", a["noise"]), ("digit", a["X"][4321])):
        img = r.array(case)
        if img is None:
            return Verdict(0.0, f"plot_image drew no picture: {r.error(case)}")
        if img.shape != (20, 20):
            return Verdict(0.0, f"expected a 20 x 20 image, got {img.shape}")
        if worst(img, x.reshape(20, 20).T) == 0.0 and worst(img, x.reshape(20, 20)) > 0.0:
            return Verdict(0.0, MESSAGES["plot_image_transposed"], "plot_image_transposed")
        if worst(img, x.reshape(20, 20)) != 0.0:
            return Verdict(0.0, "the image is not x.reshape(20, 20)")
    return RIGHT


def _onehot(r: Results, a: dict) -> Verdict:
    got, Y = r.array("y_onehot"), a["Y"]
    if got is None or got.shape != (5000, 10):
        shape = "no array" if got is None else got.shape
        return Verdict(0.0, f"y_onehot should be a (5000, 10) array, got {shape}")
    if worst(got, Y) != 0.0:
        labels = a["labels"].astype(np.int64)
        if worst(got, np.eye(10)[labels % 10]) == 0.0:
            return Verdict(0.0, MESSAGES["onehot_order"], "onehot_order")
        return Verdict(0.0, "y_onehot does not match the labels in ex4data1.mat")
    codes = r.array("codes")
    if codes is None or codes.shape != (4, 10) or worst(codes, np.eye(10)[[2, 9, 0, 6]]) != 0:
        return Verdict(0.0, "the encoder should put label k in column k - 1 of 10 columns")
    return RIGHT


def _sizes(r: Results, a: dict) -> Verdict:
    for name, want in zip(("input_size", "hidden_size", "num_labels"), FULL, strict=True):
        got = r.array(name)
        if got is None or got.shape != () or float(got) != want:
            return Verdict(0.0, f"{name} should be {want}, the number of units of its layer")
    return RIGHT


def _elementwise(what, fn, slip, cases):
    def judge(r: Results, a: dict) -> Verdict:
        for case, x in cases(a):
            got = r.array(case)
            want = fn(np.asarray(x, dtype=np.float64))
            if got is None or got.shape != want.shape:
                why = r.error(case) or f"shape {None if got is None else got.shape}"
                return Verdict(0.0, f"{what} should keep the shape {want.shape} ({why})")
            if worst(got, want) > 1e-12:
                if slip and worst(got, slip(np.asarray(x, dtype=np.float64))) <= 1e-12:
                    return Verdict(0.0, MESSAGES[slip.key], slip.key)
                return Verdict(0.0, f"{what} is wrong for the {case} input")
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


def _forward(r: Results, a: dict) -> Verdict:
    cases = (
        ("the given weights", "given", a["X"][::50], a["t1"], a["t2"]),
        ("other weights", "other", a["X"][3::70], a["u1_1"], a["u1_2"]),
        ("a small network", "small", a["X_small"], a["s1"], a["s2"]),
    )
    for label, case, X, t1, t2 in cases:
        parts = r.parts(case, 5)
        if parts is None:
            why = r.error(case) or "not five arrays"
            return Verdict(0.0, f"forward_propagate should return a1, z2, a2, z3, h ({why})")
        want = forward(X, t1, t2)
        layers = (("a1", parts[0], want[0]), ("a2", parts[2], want[2]))
        missing = [name for name, got, ref in layers if _no_bias(got, ref)]
        if missing:
            verb = "lacks its" if len(missing) == 1 else "lack their"
            where = f" Here {' and '.join(missing)} {verb} column of ones."
            return Verdict(0.0, MESSAGES["no_bias_column"] + where, "no_bias_column")
        if parts[1].shape == want[1].T.shape != want[1].shape:
            return Verdict(0.0, MESSAGES["forward_transposed"], "forward_transposed")
        for name, got, ref in zip(("a1", "z2", "a2", "z3", "h"), parts, want, strict=True):
            if got.shape != ref.shape:
                return Verdict(0.0, f"{name} has shape {got.shape}, expected {ref.shape} ({label})")
            if worst(got, ref) > 1e-9:
                return Verdict(0.0, f"{name} is wrong for {label}")
    return RIGHT


def _no_bias(got, ref) -> bool:
    """Whether an activation has one column fewer than it should (its bias column missing)."""
    return got.ndim == 2 and got.shape == (ref.shape[0], ref.shape[1] - 1)


def _data_ok(r: Results, a: dict) -> bool:
    return r.digest("X") == digest(a["X"]) and r.digest("y_onehot") == digest(a["Y"])


def _cost_cases(a, k):
    step = {2: slice(1, None, 4), 3: slice(2, None, 5)}[k]
    return (
        ("given", "the given weights", a["t1"], a["t2"], a["X"], a["Y"], 1.0),
        (
            "other",
            "other weights and examples",
            a[f"u{k}_1"],
            a[f"u{k}_2"],
            a["X"][step],
            a["Y"][step],
            3.0,
        ),
        ("small", "a small network (3 labels)", a["s1"], a["s2"], a["X_small"], a["Y_small"], 2.5),
    )


def _params(t1, t2):
    return np.concatenate([t1.ravel(), t2.ravel()]), (t1.shape[1] - 1, t1.shape[0], t2.shape[0])


def _cost(r: Results, a: dict) -> Verdict:
    kinds, names, errors = [], [], []
    for case, label, t1, t2, X, Y, _ in _cost_cases(a, 2):
        got, z3, m = r.array(case), r.array(f"z3_{case}"), X.shape[0]
        params, sizes = _params(t1, t2)
        want = network(params, X, Y, sizes)[0]
        kind = "wrong"
        if got is not None and got.shape == ():
            if worst(got, want) < 1e-9:
                kind = "right"
            elif worst(got / m, want) < 1e-9:
                kind = "cost_not_divided_by_m"
            elif z3 is not None and z3.shape == Y.shape and worst(got, plain_cost(z3, Y)) < 1e-9:
                kind = "wrong forward_propagate"
        elif got is not None and got.ndim == 1 and got.shape[0] in (m, Y.shape[1]):
            kind = "cost_wrong_axis" if worst(got.sum(), want) < 1e-9 else "wrong"
        kinds.append(kind), names.append(label), errors.append(r.error(case))
    note = "cost itself is right, but the check above failed on the notebook's X and y_onehot."
    return settle(kinds, names, "cost", MESSAGES, _data_ok(r, a), note, errors)


def _cost_reg(r: Results, a: dict) -> Verdict:
    kinds, names, errors = [], [], []
    for case, label, t1, t2, X, Y, lam in _cost_cases(a, 3):
        got, their, m = r.array(case), r.array(f"plain_{case}"), X.shape[0]
        params, sizes = _params(t1, t2)
        want, plain = network(params, X, Y, sizes, lam)[0], network(params, X, Y, sizes)[0]
        bias = lam / (2 * m) * ((t1[:, 0] ** 2).sum() + (t2[:, 0] ** 2).sum())
        kind = "wrong"
        if got is not None and got.shape == () and worst(got, want) < 1e-9:
            kind = "right"
        elif got is not None and got.shape == () and worst(got, want + bias) < 1e-9:
            kind = "bias_regularized"
        elif got is not None and got.shape == () and worst(got, 2 * want - plain) < 1e-9:
            kind = "penalty_scale"  # lambda / m instead of lambda / (2m)
        elif got is not None and their is not None and their.shape == got.shape:
            if worst(their, plain) > 1e-9 and worst(got - their, want - plain) < 1e-9:
                kind = "wrong cost"
        kinds.append(kind), names.append(label), errors.append(r.error(case))
    note = (
        "cost_regularized itself is right, but the check above failed on the notebook's X "
        "and y_onehot."
    )
    return settle(kinds, names, "cost_regularized", MESSAGES, _data_ok(r, a), note, errors)


def _untransposed(grad, n_in, n_hid, n_lab):
    cut = n_hid * (n_in + 1)
    first = grad[:cut].reshape(n_in + 1, n_hid).T
    return np.concatenate([first.ravel(), grad[cut:].reshape(n_hid + 1, n_lab).T.ravel()])


def _backprop_kind(got, want, m, sizes) -> str:
    if got is None:
        return "wrong"
    got_J, got_g = got
    if isinstance(got_g, list):  # the two gradient matrices, not unrolled
        flat = np.concatenate([np.ravel(g) for g in got_g]) if len(got_g) == 2 else None
        ok = flat is not None and flat.shape == want[1].shape and worst(flat, want[1]) < 1e-9
        J_ok = got_J.shape == () and worst(got_J, want[0]) < 1e-9
        return "gradient_as_tuple" if ok and J_ok else "wrong"
    J_ok = got_J.shape == () and worst(got_J, want[0]) < 1e-9
    shape_ok = got_g.shape == want[1].shape
    g_ok = shape_ok and worst(got_g, want[1]) < 1e-9
    if J_ok and g_ok:
        return "right"
    J_m = got_J.shape == () and worst(got_J / m, want[0]) < 1e-9
    g_m = shape_ok and worst(got_g / m, want[1]) < 1e-9
    if (J_ok or J_m) and (g_ok or g_m):
        return "gradient_not_divided_by_m" if g_m else "cost_not_divided_by_m"
    if J_ok and shape_ok and worst(_untransposed(got_g, *sizes), want[1]) < 1e-9:
        return "gradient_transposed"
    if g_ok and got_J.ndim == 1 and got_J.shape[0] in (m, sizes[2]):
        return "cost_wrong_axis" if worst(got_J.sum(), want[0]) < 1e-9 else "wrong"
    return "wrong"


def _backprop(r: Results, a: dict) -> Verdict:
    cases = (
        ("full", "all examples", a["p1"], a["X"], a["Y"], FULL),
        ("ninth", "other params, every 9th example", a["p2"], a["X"][1::9], a["Y"][1::9], FULL),
        ("small", "a small network (3, 5, 3)", a["p_small"], a["X_small"], a["Y_small"], SMALL),
    )
    kinds = [
        _backprop_kind(r.parts(c, 2), network(p, X, Y, s), X.shape[0], s)
        for c, _, p, X, Y, s in cases
    ]
    errors = [r.error(c[0]) for c in cases]
    return settle(kinds, [c[1] for c in cases], "backprop", MESSAGES, errors=errors)


def _backprop_reg_kind(got, params, X, Y, sizes, lam, their) -> str:
    if got is None or isinstance(got[1], list):
        return "wrong"
    (got_J, got_g), m = got, X.shape[0]
    want, plain = network(params, X, Y, sizes, lam), network(params, X, Y, sizes)
    if got_g.shape != want[1].shape or got_J.shape != ():
        return "wrong"
    J_ok, g_ok = worst(got_J, want[0]) < 1e-9, worst(got_g, want[1]) < 1e-9
    if J_ok and g_ok:
        return "right"
    t1, t2 = split(params, sizes)
    bias_J = lam / (2 * m) * ((t1[:, 0] ** 2).sum() + (t2[:, 0] ** 2).sum())
    b1, b2 = np.zeros_like(t1), np.zeros_like(t2)
    b1[:, 0], b2[:, 0] = lam / m * t1[:, 0], lam / m * t2[:, 0]
    bias_g = np.concatenate([b1.ravel(), b2.ravel()])
    J_b = J_ok or worst(got_J, want[0] + bias_J) < 1e-9
    g_b = g_ok or worst(got_g, want[1] + bias_g) < 1e-9
    if J_b and g_b:
        return "bias_regularized" if g_ok else "bias_gradient_regularized"
    if g_ok and worst(got_J, 2 * want[0] - plain[0]) < 1e-9:
        return "penalty_scale"  # lambda / m instead of lambda / (2m) in the cost
    if their is not None and not isinstance(their[1], list) and their[1].shape == got_g.shape:
        base_wrong = worst(their[0], plain[0]) > 1e-9 or worst(their[1], plain[1]) > 1e-9
        same_J = worst(got_J - their[0], want[0] - plain[0]) < 1e-9
        if base_wrong and same_J and worst(got_g - their[1], want[1] - plain[1]) < 1e-9:
            return "wrong backprop"
    return "wrong"


def _backprop_reg(r: Results, a: dict) -> Verdict:
    full = (a["p3"], a["X"], a["Y"], FULL)
    small = (a["p_small"], a["X_small"], a["Y_small"], SMALL)
    cases = [(f"full_{lam}", f"all examples, lambda = {lam}", full, lam) for lam in (0, 1, 3)]
    cases.append(("full_default", "the default reg_lambda (1)", full, 1))
    cases += [(f"small_{lam}", f"a small network, lambda = {lam}", small, lam) for lam in (0, 1, 3)]
    their = {id(full): r.parts("their_full", 2), id(small): r.parts("their_small", 2)}
    kinds = [
        _backprop_reg_kind(r.parts(c, 2), *inputs, lam, their[id(inputs)])
        for c, _, inputs, lam in cases
    ]
    errors = [r.error(c[0]) for c in cases]
    return settle(kinds, [c[1] for c in cases], "backprop_reg", MESSAGES, errors=errors)


def _gradient_checking(r: Results, a: dict) -> Verdict:
    values = {}
    for case in ("right", "off", "regularized"):
        got = r.array(case)
        if got is None or got.shape != ():
            why = r.error(case) or f"shape {None if got is None else got.shape}"
            return Verdict(0.0, f"gradient_checking should return one number ({why})")
        values[case] = float(got)
    if not abs(values["right"]) < 1e-9:
        return Verdict(0.0, "a correct gradient should give a difference below 1e-9")
    if not abs(values["off"] - 0.1 / 2.1) < 1e-6:
        return Verdict(0.0, "the difference for a wrong gradient is not computed right")
    if not abs(values["regularized"]) < 1e-9:
        return Verdict(0.0, "with regularized=True, use backprop_reg for both gradients")
    return RIGHT


def _training(r: Results, a: dict) -> Verdict:
    x, pred = r.array("x"), r.array("y_pred")
    if x is None or x.shape != (10285,):
        return Verdict(0.0, "fmin.x should hold the 10285 trained weights")
    seen = r.digest("X")
    images = next((a[k] for k in ("X", "X_raw") if seen == digest(a[k])), None)
    if images is None:
        return Verdict(0.0, "X no longer holds the training images of ex4data1.mat")
    want = forward(images, *split(x, FULL))[4].argmax(axis=1) + 1.0
    accuracy = float((want == a["labels"]).mean())
    if accuracy < 0.95:
        return Verdict(0.0, f"the trained weights classify {accuracy:.2%} of the images right")
    if pred is None or pred.size != 5000:
        return Verdict(0.0, "y_pred should hold 5000 labels")
    if worst(pred.ravel(), want) != 0.0:
        if worst(pred.ravel(), want - 1) == 0.0:
            return Verdict(0.0, MESSAGES["prediction_off_by_one"], "prediction_off_by_one")
        return Verdict(0.0, "y_pred is not the argmax + 1 of the trained network's output")
    return RIGHT


JUDGES = {
    "plot_image_draws_digit": _named_image,
    "onehot_encoding": _onehot,
    "network_sizes": _sizes,
    "sigmoid_values": _elementwise(
        "sigmoid",
        _sigmoid,
        _sigmoid_sign,
        lambda a: (("vector", a["vector"]), ("matrix", a["sig_matrix"]), ("scalar", 3.5)),
    ),
    "sigmoid_gradient_values": _elementwise(
        "sigmoid_gradient",
        lambda z: _sigmoid(z) * (1 - _sigmoid(z)),
        _gradient_of_z,
        lambda a: (("vector", a["vector"]), ("matrix", a["grad_matrix"])),
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
