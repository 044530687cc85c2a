"""backprop's judge on fresh inputs: honest forms earn full marks, shortcuts earn nothing.

The source notebook's solution runs in this process (no kernel), the probe records it on one
submission's inputs and ``source/backprop/reference.py`` judges the record, as in grading.
"""

from __future__ import annotations

import json
import types

import nbformat
import numpy as np
import pytest
from scipy.io import loadmat
from scipy.optimize import fmin_tnc, minimize

from ds4023 import COURSE_ROOT, probe
from ds4023.grading.judge import RIGHT, Results, load_reference
from ds4023.sample_class.students import cell_key, load_table, release_notebook, student_notebook

SOURCE = COURSE_ROOT / "source" / "backprop"
REFERENCE = load_reference(SOURCE / "reference.py")
#: Cells the fixture leaves out: figures, and the training (it trains faster itself).
SKIPPED = (
    "plot_100_image(X)",
    "fmin = minimize(",
    "plt.show()",
    "y_pred = np.argmax",
    "accuracy = ",
)


def _vectorized(params, X, y):
    """An honest backprop without the loop (what any reasonable form computes)."""
    return REFERENCE.network(np.asarray(params, dtype=np.float64), X, y, REFERENCE.FULL)


def train(ns: dict, backprop, maxfun: int = 250):
    """The notebook's training cell with ``backprop``: TNC from params on X, y_onehot."""
    args = (ns["X"], ns["y_onehot"])
    return minimize(
        backprop, ns["params"], args=args, method="TNC", jac=True, options={"maxfun": maxfun}
    )


def _predict(ns: dict) -> None:
    x = probe.optimum(ns["fmin"])
    h = REFERENCE.forward(ns["X"], *REFERENCE.split(np.asarray(x), REFERENCE.FULL))[4]
    ns["y_pred"] = np.argmax(h, axis=1) + 1


@pytest.fixture(scope="module")
def solved():
    """The notebook's namespace with every part solved (trained with a vectorized backprop)."""
    import matplotlib

    matplotlib.use("Agg")
    nb = nbformat.read(SOURCE / "backprop.ipynb", as_version=4)
    ns = {"__name__": "__main__"}
    cwd = __import__("os").getcwd()
    __import__("os").chdir(SOURCE)
    try:
        for cell in nb.cells:
            meta = cell.metadata.get("nbgrader", {})
            if cell.cell_type != "code" or (meta.get("grade") and not meta.get("solution")):
                continue
            if any(text in cell.source for text in SKIPPED):
                continue
            source = cell.source.replace("import backprop_checks as checks", "")
            exec(compile(source, "<cell>", "exec"), ns)
        probe.watch_tnc()  # as the checking module does in a kernel: TNC runs are recorded
        ns["fmin"] = train(ns, _vectorized)
    finally:
        __import__("os").chdir(cwd)
    _predict(ns)
    return ns


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    """One submission's arrays and cases (a fixed seed), and the kernel's folder with them."""
    folder = tmp_path_factory.mktemp("inputs")
    arrays, tests = REFERENCE.build(SOURCE, seed=20261204)
    (folder / probe.INPUTS).write_bytes(probe.save_inputs(arrays, tests))
    return arrays, folder


def rebound(solved: dict) -> dict:
    """A copy of the namespace whose functions look their globals up in the copy."""
    ns = dict(solved)
    for name, value in solved.items():
        if isinstance(value, types.FunctionType) and value.__globals__ is solved:
            ns[name] = types.FunctionType(value.__code__, ns, name, value.__defaults__)
    return ns


def verdict(inputs, ns: dict, grade_id: str):
    """The judge's verdict on the probe's record of ``grade_id`` run in ``ns``."""
    arrays, folder = inputs
    record = probe.run(grade_id, ns, folder)
    payload = json.loads(json.dumps(record._repr_mimebundle_()[probe.MIME]))
    return REFERENCE.judge(grade_id, Results(payload), arrays)


def test_the_inputs_file_holds_no_answer_and_no_grader_note(inputs):
    """Does the kernel's file lack the notebook's one-hot labels, the judge's notes and the
    case names (only neutral ids), and differ from another submission's?"""
    arrays, folder = inputs
    shown, tests = probe.load_inputs(folder)
    assert not any(k.startswith("_") for k in shown)
    assert "_judge" not in json.dumps(tests) and '"right"' not in json.dumps(tests)
    assert all(not np.array_equal(v, arrays["_Y"]) for v in shown.values() if v.shape == (5000, 10))
    other, _ = REFERENCE.build(SOURCE, seed=1)
    assert not np.array_equal(other["backprop0_p"], arrays["backprop0_p"])


@pytest.mark.parametrize("grade_id", sorted(REFERENCE.JUDGES))
def test_the_solution_earns_every_part(solved, inputs, grade_id):
    assert verdict(inputs, solved, grade_id) == RIGHT


def _float32(fn):
    def in_float32(*args, **kwargs):
        args = [np.asarray(a, dtype=np.float32) if isinstance(a, np.ndarray) else a for a in args]
        out = fn(*args, **kwargs)
        if isinstance(out, tuple):
            return tuple(np.asarray(o, dtype=np.float32) for o in out)
        return np.asarray(out, dtype=np.float32)

    return in_float32


FLOAT32_PARTS = (
    "sigmoid",
    "sigmoid_gradient",
    "forward_propagate",
    "cost",
    "cost_regularized",
    "backprop",
    "backprop_reg",
)


@pytest.mark.parametrize(
    "grade_id",
    [
        "sigmoid_values",
        "sigmoid_gradient_values",
        "forward_propagate_values",
        "cost_reference_value",
        "cost_reg_reference_value",
        "backprop_matches_reference",
        "backprop_reg_matches_reference",
    ],
)
def test_float32_arithmetic_earns_full_marks(solved, inputs, grade_id):
    """Does a notebook computing in float32 (inputs cast, results float32) earn every part?"""
    ns = rebound(solved)
    for name in FLOAT32_PARTS:
        ns[name] = _float32(ns[name])
    ns["X"], ns["y_onehot"] = ns["X"].astype(np.float32), ns["y_onehot"].astype(np.float32)
    got = verdict(inputs, ns, grade_id)
    # X itself is float32 now, so the notebook's data are no longer the file's exact numbers
    assert got == RIGHT or got.mistake == "notebook_data", got


def test_a_float32_training_run_is_evidence_of_training(solved, inputs):
    """A backprop computing in float32 gives a run the judge accepts as the student's own
    training; what it then says is the accuracy (TNC needs float64, as the notebook says)."""
    ns = rebound(solved)
    ns["fmin"] = train(ns, _float32(_vectorized))
    _predict(ns)
    got = verdict(inputs, ns, "training_accuracy")
    assert got == RIGHT or got.message.startswith("the trained weights classify"), got


def test_honest_forms_of_one_hot_prediction_and_training_earn_full_marks(solved, inputs):
    """np.eye one-hot with the encoder unused, y_pred as a list, fmin_tnc's tuple."""
    ns = dict(solved)
    ns["encoder"] = __import__("sklearn.preprocessing").preprocessing.OneHotEncoder()
    ns["y_onehot"] = np.eye(10)[ns["y"].ravel() - 1]
    assert verdict(inputs, ns, "onehot_encoding") == RIGHT
    ns["fmin"] = fmin_tnc(
        _vectorized, ns["params"], args=(ns["X"], ns["y_onehot"]), maxfun=250, disp=0
    )
    _predict(ns)
    ns["y_pred"] = [int(v) for v in ns["y_pred"]]
    assert verdict(inputs, ns, "training_accuracy") == RIGHT


def _supplied_weights(ns):
    w = loadmat(SOURCE / "ex4weights.mat")
    t1 = w["Theta1"]
    upright = t1[:, 1:].reshape(25, 20, 20).transpose(0, 2, 1).reshape(25, 400)
    return np.concatenate([np.column_stack([t1[:, 0], upright]).ravel(), w["Theta2"].ravel()])


def test_weights_from_elsewhere_earn_no_training_points(solved, inputs):
    """The supplied weights (permuted to fit), a TNC run pulled toward them, and an honest run
    from another start: each 0 with its reason, though the first two classify > 95 %."""
    ns = dict(solved)
    target = _supplied_weights(ns)
    ns["fmin"] = types.SimpleNamespace(x=target)
    _predict(ns)
    got = verdict(inputs, ns, "training_accuracy")
    assert got.fraction == 0 and "no TNC run" in got.message
    pull = lambda p, X, y: (0.5 * np.sum((p - target) ** 2), p - target)  # noqa: E731
    ns["fmin"] = minimize(pull, ns["params"], args=(None, None), method="TNC", jac=True)
    _predict(ns)
    got = verdict(inputs, ns, "training_accuracy")
    assert got.fraction == 0 and "evaluation 1 of the training run" in got.message
    ns["fmin"] = minimize(
        _vectorized,
        np.zeros(10285),
        args=(ns["X"], ns["y_onehot"]),
        method="TNC",
        jac=True,
        options={"maxfun": 30},
    )
    got = verdict(inputs, ns, "training_accuracy")
    assert got.fraction == 0 and "did not start from the notebook's params" in got.message


def test_a_run_with_some_made_up_evaluations_is_caught(solved, inputs):
    """Thirty of 250 evaluations made up (a gradient 1.5 times too large): the judge checks
    evaluations the kernel cannot predict, and one of them is made up."""
    ns = dict(solved)
    calls = []

    def mostly_honest(params, X, y):
        J, grad = _vectorized(params, X, y)
        calls.append(1)
        return (J, 1.5 * grad) if 100 <= len(calls) < 130 else (J, grad)

    ns["fmin"] = train(ns, mostly_honest)
    _predict(ns)
    got = verdict(inputs, ns, "training_accuracy")
    assert got.fraction == 0 and "of the training run is not the network's" in got.message, got


@pytest.mark.parametrize("interface", ["fmin_tnc", "minimize"])
def test_a_run_boxed_in_at_the_supplied_weights_earns_nothing(solved, inputs, interface):
    """TNC told to stay within bounds around the supplied weights evaluates backprop there,
    honestly, and returns them: no training, 0 ("had bounds")."""
    from scipy.optimize import Bounds

    ns = dict(solved)
    w = _supplied_weights(ns)
    if interface == "fmin_tnc":
        ns["fmin"] = fmin_tnc(
            _vectorized,
            ns["params"],
            args=(ns["X"], ns["y_onehot"]),
            bounds=list(zip(w, w, strict=True)),
            disp=0,
        )
    else:
        ns["fmin"] = minimize(
            _vectorized,
            ns["params"],
            args=(ns["X"], ns["y_onehot"]),
            method="TNC",
            jac=True,
            bounds=Bounds(w, w + 1e-12),
        )
    _predict(ns)
    got = verdict(inputs, ns, "training_accuracy")
    assert got.fraction == 0 and "had bounds" in got.message, got


def test_gradient_checking_with_float32_parameters_earns_full_marks(solved, inputs):
    """The source's gradient_checking run on float32 copies of params: still right."""
    ns = rebound(solved)
    honest = ns["gradient_checking"]
    ns["gradient_checking"] = lambda params, *rest, **kw: honest(
        np.asarray(params, dtype=np.float32), *rest, **kw
    )
    assert verdict(inputs, ns, "gradient_checking_small_network") == RIGHT


def _exact_shortcut(params, X, y, epsilon, regularized=False):
    """Reads the stand-in's table and returns what its exact derivative implies."""
    net = globals()["backprop_reg" if regularized else "backprop"]  # the notebook's globals
    w, k, phi, c, err = net.table
    exact = c * params - w * k * np.sin(k * params + phi)
    grad = net(params)[1]
    return np.linalg.norm(exact - grad) / np.linalg.norm(exact + grad)


def _one_coordinate(params, X, y, epsilon, regularized=False):
    """Differences coordinate 0 only and scales its relative error up."""
    net = globals()["backprop_reg" if regularized else "backprop"]
    step = np.zeros_like(params)
    step[0] = epsilon
    numeric = (net(params + step)[0] - net(params - step)[0]) / (2 * epsilon)
    grad = net(params)[1][0]
    return abs(numeric - grad) / abs(numeric + grad)


GLOBALS: dict = {}


@pytest.mark.parametrize(
    ("shortcut", "message"),
    [(_exact_shortcut, "central differences"), (_one_coordinate, "not computed right")],
)
def test_gradient_checking_shortcuts_earn_nothing(solved, inputs, shortcut, message):
    """Reading a stand-in's exact derivative, or differencing one coordinate: 0, said why."""
    GLOBALS.clear()
    GLOBALS.update(rebound(solved))
    GLOBALS["gradient_checking"] = types.FunctionType(
        shortcut.__code__, GLOBALS, None, shortcut.__defaults__
    )
    got = verdict(inputs, GLOBALS, "gradient_checking_small_network")
    assert got.fraction == 0 and message in got.message, got


def test_a_cost_of_zero_gets_no_credit_from_a_forward_pass_that_reads_the_labels(solved, inputs):
    """cost returns 0 while forward_propagate, reading y from its caller, returns a z3 whose
    plain cost is 0: no 'right on top of a wrong forward pass' half credit."""
    import sys

    ns = dict(solved)
    honest = solved["forward_propagate"]

    def forward_propagate(X, theta1, theta2):
        a1, z2, a2, z3, h = honest(X, theta1, theta2)
        caller = sys._getframe(1).f_locals
        if "y" in caller and np.shape(caller["y"]) == z3.shape:
            z3 = 800.0 * (2 * caller["y"] - 1)
        return a1, z2, a2, z3, h

    def cost(theta1, theta2, X, y):
        forward_propagate(X, theta1, theta2)
        return 0.0

    ns.update(forward_propagate=forward_propagate, cost=cost)
    assert verdict(inputs, ns, "cost_reference_value").fraction == 0


#: The cells that define what the hidden tests judge: the source's solution cells but the
#: training's, and the cell that turns the images upright.
PART_CELLS = (
    *(
        cell_key(c)
        for c in nbformat.read(SOURCE / "backprop.ipynb", as_version=4).cells
        if c.cell_type == "code"
        and c.metadata.get("nbgrader", {}).get("solution")
        and cell_key(c) != "prediction_code"
    ),
    "transpose-images",
)
TABLE = load_table("backprop")
#: What those cells define: a student's unsolved cell leaves it undefined, as in a kernel.
SOLVED_NAMES = (
    "plot_image",
    "y_onehot",
    "input_size",
    "hidden_size",
    "num_labels",
    "sigmoid",
    "forward_propagate",
    "cost",
    "cost_regularized",
    "sigmoid_gradient",
    "backprop",
    "gradient_checking",
    "backprop_reg",
)


@pytest.mark.parametrize("student", [s.name for s in TABLE.STUDENTS])
def test_each_sample_student_scores_as_expected_on_fresh_inputs(solved, inputs, student):
    """The sample class's expected score of every part but training, on one submission's
    fresh inputs (the sandboxed run in tests/test_pipeline_sample_class.py checks all)."""
    source = nbformat.read(SOURCE / "backprop.ipynb", as_version=4)
    spec = {s.name: s for s in TABLE.STUDENTS}[student]
    nb = student_notebook(source, release_notebook(source), spec)
    ns = {k: v for k, v in rebound(solved).items() if k not in SOLVED_NAMES}
    ns["X"] = loadmat(SOURCE / "ex4data1.mat")["X"]
    for cell in nb.cells:
        if cell_key(cell) in PART_CELLS:
            try:
                exec(compile(cell.source, "<cell>", "exec"), ns)
            except (NotImplementedError, NameError):  # unsolved: fails as in the notebook
                continue
    for grade_id, (want, why) in TABLE.EXPECTED_SCORES[student].items():
        if grade_id in REFERENCE.JUDGES and grade_id != "training_accuracy":
            got = verdict(inputs, ns, grade_id)
            assert got.fraction * TABLE.POINTS[grade_id] == want, (grade_id, why, got)


def _seed_with_square_case() -> int:
    """A seed whose backprop cases include a small network whose two gradient matrices have
    one shape (n_in = n_hidden = n_labels): the probe records such a pair as one 3-D array."""
    for seed in range(2000):
        arrays, _ = REFERENCE.build(SOURCE, seed=seed)
        cases = REFERENCE._cases(arrays, "backprop_matches_reference")
        if any(len(set(REFERENCE._problem(arrays, c)[3])) == 1 for c in cases):
            return seed
    raise AssertionError("no seed below 2000 draws a square network")


def test_gradient_as_tuple_gets_its_half_whatever_the_shapes_drawn(solved, tmp_path):
    """Is the tuple slip given its half credit also when both matrices have one shape (the
    sample class's gradient_as_tuple scored 70 or 82.5 depending on the sizes drawn)?"""
    arrays, tests = REFERENCE.build(SOURCE, seed=_seed_with_square_case())
    (tmp_path / probe.INPUTS).write_bytes(probe.save_inputs(arrays, tests))
    source = nbformat.read(SOURCE / "backprop.ipynb", as_version=4)
    spec = {s.name: s for s in TABLE.STUDENTS}["gradient_as_tuple"]
    nb = student_notebook(source, release_notebook(source), spec)
    ns = rebound(solved)
    exec(
        compile(next(c for c in nb.cells if cell_key(c) == "backprop_code").source, "<c>", "exec"),
        ns,
    )
    got = verdict((arrays, tmp_path), ns, "backprop_matches_reference")
    assert got.fraction == 0.5, got
