"""Tests for source/backprop/backprop_checks.py: each known mistake is named, and only that one.

The sample class's notebooks run in-process (``notebook_cells``), cell by cell up to the
training section, so the visible test cells print exactly what a student would see. Further
mistakes and correct solutions written differently are built the same way, as text edits of the
source notebook's solution, so no solution code lives in these tests.
"""

from __future__ import annotations

import re
import shutil

import nbformat
import numpy as np
import pytest
from nbclient import NotebookClient

from ds4023.checks_core import fingerprint
from ds4023.sample_class.backprop import DIAGNOSES, STUDENTS
from ds4023.sample_class.students import Edit
from tests.helpers import COURSE_ROOT
from tests.helpers.notebook_cells import (
    fingerprint_problems,
    named_mistakes,
    run_student,
)
from tests.notebooks.shared_checks_tests import (  # noqa: F401  (collected here too)
    test_correct_student_passes_every_check,
    test_each_sample_mistake_is_named_once_in_a_one_line_error,
    test_further_mistakes_are_named_mistakes,
    test_module_and_messages_hold_no_solution_or_hidden_test_code,
    test_other_correct_solutions_pass_without_a_message,
)

ASSIGNMENT = "backprop"
TEST_CELLS = (
    "plot_image_draws_digit",
    "onehot_encoding",
    "sigmoid_values",
    "forward_propagate_values",
    "cost_reference_value",
    "cost_reg_reference_value",
    "sigmoid_gradient_values",
    "backprop_matches_reference",
    "gradient_checking_small_network",
    "backprop_reg_matches_reference",
)


def _fingerprints(run) -> dict[str, np.ndarray]:
    """Fingerprints of a student's functions on the checks' small problem."""
    ns, checks = run.namespace, run.checks
    params, theta1, theta2, X, Y = checks.small_problem()
    z = np.linspace(-4.5, 4.5, 10)
    found = {
        "sigmoid": fingerprint(ns["sigmoid"](z.copy())),
        "sigmoid_gradient": fingerprint(ns["sigmoid_gradient"](z.copy())),
        "cost": fingerprint(ns["cost"](theta1, theta2, X, Y)),
    }
    out = ns["forward_propagate"](X.copy(), theta1.copy(), theta2.copy())
    for name, value in zip(("a1", "z2", "a2", "z3", "h"), out, strict=True):
        found[f"forward_{name}"] = fingerprint(value)
    reg = ns["cost_regularized"]
    found["penalty"] = fingerprint(reg(theta1, theta2, X, Y, 1) - reg(theta1, theta2, X, Y, 0))
    with checks._small_sizes(ns):
        found["grad"] = fingerprint(ns["backprop"](params.copy(), X, Y)[1])
        with_reg = ns["backprop_reg"](params.copy(), X, Y, 1)[1]
        without = ns["backprop_reg"](params.copy(), X, Y, 0)[1]
    found["grad_penalty"] = fingerprint(with_reg - without)
    return found


def test_stored_fingerprints_are_those_of_the_solution_and_the_mistakes(class_runs, checks):
    """Are the module's fingerprints what the source's solution and the known mistakes give?"""
    found = _fingerprints(class_runs["correct"])
    found["grad_sigmoid_gradient_of_activation"] = _fingerprints(
        class_runs["sigmoid_gradient_of_activation"]
    )["grad"]
    found["penalty_with_bias"] = _fingerprints(class_runs["bias_regularized"])["penalty"]
    found["grad_penalty_with_bias"] = _fingerprints(class_runs["bias_gradient_regularized"])[
        "grad_penalty"
    ]
    assert fingerprint_problems(found, checks.FINGERPRINTS) == []


def test_passing_gradient_checking_test_hides_the_students_print(class_runs, checks, capsys):
    """Does the student's own print inside gradient_checking stay hidden while the check calls
    it with stand-ins, though it shows when the student calls the function?"""
    run = class_runs["correct"]
    assert "relative difference" in run.cells["gradient-check-small"].stdout  # their own call
    assert run.cells["gradient_checking_small_network"].stdout == ""
    checks.check_gradient_checking(run.namespace["gradient_checking"])
    assert capsys.readouterr() == ("", "")


def test_every_required_mistake_has_a_sample_student(checks):
    """Is each diagnosis the issue asks for carried by a sample student of its own?"""
    required = {
        "no_bias_column",
        "bias_regularized",
        "onehot_order",
        "cost_not_divided_by_m",
        "cost_wrong_axis",
        "untransposed_images",
        "sigmoid_gradient_of_activation",
        "gradient_not_divided_by_m",
        "bias_gradient_regularized",
        "first_example_only",
        "gradient_transposed",
        "penalty_scale",  # issue 17: half credit for lambda / m, as the notebook promises
        "gradient_as_tuple",  # issue 26: the visible check says what the hidden one says
    }
    carried = [DIAGNOSES[s.name] for s in STUDENTS if DIAGNOSES[s.name]]
    assert sorted(carried) == sorted(required)
    assert set(DIAGNOSES) == {s.name for s in STUDENTS}
    assert required <= set(checks.MESSAGES)


#: Further mistakes (not in the sample class): cell, edit, the visible test that names it.
MORE_MISTAKES = {
    "forward_transposed": (
        "forward_propagate_values",
        Edit(
            "forward_propagate_code",
            "    z3 = a2 @ theta2.T\n    h = sigmoid(z3)",
            "    z3 = (a2 @ theta2.T).T\n    h = sigmoid(z3)",
        ),
    ),
    "last_example_only": (
        "backprop_matches_reference",
        Edit(
            "backprop_code",
            "        delta1 += np.outer(d2, a1[t])  # step 4: accumulate this example's share\n"
            "        delta2 += np.outer(d3, a2[t])",
            "    delta1 += np.outer(d2, a1[t])  # after the loop: the last example only\n"
            "    delta2 += np.outer(d3, a2[t])",
        ),
    ),
    "plot_image_transposed": (
        "plot_image_draws_digit",
        Edit("plot_image_code", "x.reshape(size, size)", "x.reshape(size, size).T"),
    ),
    "sigmoid_sign": ("sigmoid_values", Edit("sigmoid_code", "np.exp(-z)", "np.exp(z)")),
    "sigmoid_gradient_of_z": (
        "sigmoid_gradient_values",
        Edit("sigmoid_gradient_code", "g = sigmoid(z)", "g = z"),
    ),
    "penalty_scale": (
        "cost_reg_reference_value",
        Edit("cost_regularized_code", "reg_lambda / (2 * m)", "reg_lambda / m"),
    ),
}


#: Correct solutions written differently from the source's (none may get a message).
OTHER_CORRECT = {
    "cost with log(h)": Edit(
        "cost_code",
        "np.sum(y * np.logaddexp(0, -z3) + (1 - y) * np.logaddexp(0, z3))",
        "-np.sum(y * np.log(h) + (1 - y) * np.log(1 - h))",
    ),
    "forward with np.c_ and 1 / (1 + exp)": Edit(
        "forward_propagate_code",
        "a2 = np.hstack([np.ones((m, 1)), sigmoid(z2)])",
        "a2 = np.c_[np.ones(m), 1 / (1 + np.exp(-z2))]",
    ),
    "backprop with broadcasting instead of np.outer": Edit(
        "backprop_code",
        "        delta1 += np.outer(d2, a1[t])  # step 4: accumulate this example's share\n"
        "        delta2 += np.outer(d3, a2[t])",
        "        delta1 = delta1 + d2[:, None] * a1[t]\n"
        "        delta2 = delta2 + d3[:, None] * a2[t]",
    ),
    "sigmoid in float32": Edit(
        "sigmoid_code",
        "return 1 / (1 + np.exp(-z))",
        "return 1 / (1 + np.exp(-np.asarray(z, dtype=np.float32)))",
    ),
    "backprop on float32 copies of its inputs": Edit(
        "backprop_code",
        "    m = X.shape[0]\n    split = hidden_size",
        "    X, y, params = (np.asarray(a, dtype=np.float32) for a in (X, y, params))\n"
        "    m = X.shape[0]\n    split = hidden_size",
    ),
    "penalty with a loop over both matrices": Edit(
        "cost_regularized_code",
        "J += reg_lambda / (2 * m) * (np.sum(theta1[:, 1:] ** 2) + np.sum(theta2[:, 1:] ** 2))",
        "for theta in (theta1, theta2):\n"
        "        J = J + reg_lambda * (theta[:, 1:] ** 2).sum() / m / 2",
    ),
}


def test_training_check_names_label_mistakes(checks, class_runs):
    """Does the training check name a one-hot order and an off-by-one prediction?"""
    ns = class_runs["correct"].namespace
    labels = ns["y"].ravel()
    cases = {
        "onehot_order": labels % 10 + 1,  # the network learnt the digit order
        "prediction_off_by_one": labels - 1,  # argmax without + 1
    }
    for key, y_pred in cases.items():
        with pytest.raises(AssertionError) as failure:
            checks.check_training(y_pred, ns["y"], ns["backprop"])
        assert str(failure.value) == checks.MESSAGES[key]
    checks.check_training(labels.copy(), ns["y"], ns["backprop"])  # all right: silent


def test_training_check_blames_a_faulty_backprop(checks, class_runs):
    """Does a low accuracy with a faulty backprop name backprop's mistake?"""
    ns = class_runs["first_example_only"].namespace
    wrong = np.full(ns["y"].size, 3)
    with pytest.raises(AssertionError, match="accuracy is") as failure:
        checks.check_training(wrong, ns["y"], ns["backprop"])
    assert named_mistakes(checks, str(failure.value)) == {"first_example_only"}


def test_failing_check_raises_its_message_alone_and_prints_nothing(checks, capsys):
    """Does a failing check raise an AssertionError that IPython shows as its one message, and
    print nothing, not even the student's own prints?"""

    def flipped(z):
        print("my sigmoid ran")
        return 1 / (1 + np.exp(z))

    with pytest.raises(AssertionError) as failure:
        checks.check_sigmoid(flipped)
    assert str(failure.value) == checks.MESSAGES["sigmoid_sign"]
    assert failure.value._render_traceback_() == [checks.MESSAGES["sigmoid_sign"]]
    assert failure.value.__cause__ is None and failure.value.__suppress_context__
    assert capsys.readouterr() == ("", "")


#: What the sigmoid test cell of the release shows while sigmoid is still the release's stub.
UNWRITTEN_SIGMOID = (
    "sigmoid is not written yet: replace `raise NotImplementedError()` with your code."
)


def test_release_stubs_are_named_unwritten_in_one_line(folder):
    """Run as it is released, does each test cell of a stub say in one line that the function
    is not written yet, printing nothing?"""
    nb = nbformat.read(COURSE_ROOT / "release" / ASSIGNMENT / "backprop.ipynb", as_version=4)
    run = run_student(ASSIGNMENT, nb, folder)
    assert run.cells["sigmoid_values"].error == UNWRITTEN_SIGMOID
    stubs = {
        "plot_image_draws_digit": "plot_image",
        "sigmoid_values": "sigmoid",
        "forward_propagate_values": "forward_propagate",
        "sigmoid_gradient_values": "sigmoid_gradient",
        "gradient_checking_small_network": "gradient_checking",
    }
    for cell, name in stubs.items():
        assert run.cells[cell].error == UNWRITTEN_SIGMOID.replace("sigmoid", name, 1), cell
    assert {c: run.cells[c].stdout for c in TEST_CELLS if run.cells[c].stdout} == {}


def test_release_sigmoid_test_shows_one_line_in_a_kernel(tmp_path):
    """In a real kernel (as in JupyterLab), is all the sigmoid test cell of the release shows,
    with the stub unchanged, the one line saying sigmoid is not written yet? (Before the
    checks rendered their own errors it showed 47 lines: a traceback through five frames of
    backprop_checks.py ending in a bare ``NotImplementedError:``.)"""
    for path in (COURSE_ROOT / "release" / ASSIGNMENT).iterdir():
        if path.is_file():
            shutil.copy2(path, tmp_path)
    for name in ("ex4data1.mat", "ex4weights.mat"):
        shutil.copy2(COURSE_ROOT / "data" / name, tmp_path)
    nb = nbformat.read(tmp_path / "backprop.ipynb", as_version=4)
    last = next(i for i, c in enumerate(nb.cells) if c.get("id") == "sigmoid-values")
    nb.cells = nb.cells[: last + 1]
    client = NotebookClient(
        nb, timeout=120, kernel_name="python3", allow_errors=True, resources={"metadata": {}}
    )
    client.resources["metadata"]["path"] = str(tmp_path)
    client.execute()
    outputs = nb.cells[-1].outputs
    assert [o.output_type for o in outputs] == ["error"]
    lines = "\n".join(outputs[0].traceback).splitlines()
    assert lines == [UNWRITTEN_SIGMOID]
    assert outputs[0].ename == "CheckFailed" and outputs[0].evalue == UNWRITTEN_SIGMOID


#: What a test cell shows when the variable it checks has not been defined yet.
NOT_DEFINED = (
    "NameError: {} is not defined yet: run the cell above that defines it (Run > Run All "
    "Above Selected Cell runs them all), or write it there first."
)


def _release_run_up_to(tmp_path, cell_id: str) -> nbformat.NotebookNode:
    """The release notebook, as released (stubs unchanged), run in a kernel up to a cell."""
    for path in (COURSE_ROOT / "release" / ASSIGNMENT).iterdir():
        if path.is_file():
            shutil.copy2(path, tmp_path)
    for name in ("ex4data1.mat", "ex4weights.mat"):
        shutil.copy2(COURSE_ROOT / "data" / name, tmp_path)
    nb = nbformat.read(tmp_path / "backprop.ipynb", as_version=4)
    last = next(i for i, c in enumerate(nb.cells) if c.get("id") == cell_id)
    nb.cells = nb.cells[: last + 1]
    client = NotebookClient(
        nb, timeout=120, kernel_name="python3", allow_errors=True, resources={"metadata": {}}
    )
    client.resources["metadata"]["path"] = str(tmp_path)
    client.execute()
    return nb


def test_a_name_not_defined_yet_is_one_line_and_still_an_error(tmp_path):
    """With y_onehot and input_size not written yet, do their test cells show one line each
    (no NameError traceback), still as an error output nbgrader scores as failed, while a
    NameError inside a function keeps its traceback?"""
    nb = _release_run_up_to(tmp_path, "network-sizes")
    cells = {c.get("id"): c for c in nb.cells}
    for cell_id, name in (("onehot-encoding", "y_onehot"), ("network-sizes", "input_size")):
        outputs = cells[cell_id].outputs
        assert [o.output_type for o in outputs] == ["error"], cell_id
        assert outputs[0].ename == "NameError"
        assert outputs[0].traceback == [NOT_DEFINED.format(name)], cell_id
    inside = nbformat.v4.new_code_cell("def f():\n    return nowhere\nf()")
    nb.cells = [nb.cells[0], inside]  # the checks module imported, then a typo in a function
    client = NotebookClient(nb, timeout=60, kernel_name="python3", allow_errors=True)
    client.resources = {"metadata": {"path": str(tmp_path)}}
    client.execute()
    shown = re.sub(r"\x1b\[[0-9;]*m", "", "\n".join(nb.cells[1].outputs[0].traceback))
    assert nb.cells[1].outputs[0].ename == "NameError"
    assert "return nowhere" in shown and "not defined yet" not in shown


def test_a_gradient_as_two_matrices_gets_the_hidden_checks_words(checks, class_runs):
    """Does backprop returning (Delta1 / m, Delta2 / m) unrolled not get the hidden check's
    message (how to unroll them), rather than 'grad should be numbers'?"""
    ns = class_runs["correct"].namespace
    exec(  # a function of the student's notebook, so the check watches it as it does backprop
        "def backprop_as_tuple(params, X, y):\n"
        "    J, grad = backprop(params, X, y)\n"
        "    split = hidden_size * (input_size + 1)\n"
        "    return J, (grad[:split].reshape(hidden_size, input_size + 1),\n"
        "               grad[split:].reshape(num_labels, hidden_size + 1))\n",
        ns,
    )
    try:
        with pytest.raises(AssertionError) as failure:
            checks.check_backprop(ns["backprop_as_tuple"], ns["params"], ns["X"], ns["y_onehot"])
    finally:
        del ns["backprop_as_tuple"]
    assert str(failure.value) == checks.MESSAGES["gradient_as_tuple"]
    hidden = (COURSE_ROOT / "source" / ASSIGNMENT / "reference.py").read_text(encoding="utf-8")
    assert '"gradient_as_tuple"' in hidden  # the hidden check names the same message


def test_warnings_of_student_code_stay_off_stderr(checks, capsys):
    """Does a student function that overflows and warns leave stderr empty during a check?"""

    def noisy(z):
        np.exp(np.float64(1e6))  # overflow: a RuntimeWarning without the check's filters
        return z

    with pytest.raises(AssertionError):
        checks.check_sigmoid(noisy)
    assert capsys.readouterr().err == ""
