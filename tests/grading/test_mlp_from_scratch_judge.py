"""mlp_from_scratch's judge on fresh inputs: the solution earns every part on any seed, the
same seed gives the same inputs, and answers made for one submission's inputs earn nothing.

The source notebook's solution runs in this process (no kernel), the probe records it on one
submission's inputs and ``source/mlp_from_scratch/reference.py`` judges the record, as in
grading. The digits network is trained only by the test marked slow (it takes the time of
the notebook's own training).
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import re

import nbformat
import numpy as np
import pytest

from ds4023 import COURSE_ROOT, probe
from ds4023.grading.judge import RIGHT, Results, load_reference
from ds4023.sample_class.students import (
    Edit,
    Student,
    cell_key,
    load_table,
    release_notebook,
    student_notebook,
)
from tests.helpers.notebook_cells import run_variant, workdir

SOURCE = COURSE_ROOT / "source" / "mlp_from_scratch"
REFERENCE = load_reference(SOURCE / "reference.py")
SEEDS = (7, 4023, 20261205)
#: Cells the fast namespace leaves out: the digits training and its figure.
TRAINING = ("digits_train", "digits_loss_plot")
#: The parts that need the trained digits network.
DIGITS = ("digits_test_accuracy",)
#: The part whose inputs the notebook fixes completely (the seeded split of the digits).
FIXED = ("digits_data_prepared",)


def _solution(skip: tuple[str, ...], edits: tuple[Edit, ...] = ()) -> dict:
    """The notebook's namespace after its solution cells (not the test cells, not ``skip``),
    the solution changed by ``edits`` (as a student's notebook) when there are any."""
    import matplotlib

    matplotlib.use("Agg")
    nb = nbformat.read(SOURCE / "mlp_from_scratch.ipynb", as_version=4)
    if edits:
        nb = student_notebook(nb, release_notebook(nb), Student("edited", "edited", edits=edits))
    ns = {"__name__": "__main__"}
    cwd = os.getcwd()
    os.chdir(SOURCE)
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            for cell in nb.cells:
                meta = cell.metadata.get("nbgrader", {})
                if cell.cell_type != "code" or (meta.get("grade") and not meta.get("solution")):
                    continue
                if cell.metadata.get("nbgrader", {}).get("grade_id") in skip:
                    continue
                source = cell.source.replace("%matplotlib inline", "")
                source = source.replace("import mlp_from_scratch_checks as checks", "")
                exec(compile(source, "<cell>", "exec"), ns)
                import matplotlib.pyplot as plt

                plt.close("all")
    finally:
        os.chdir(cwd)
    return ns


@pytest.fixture(scope="module")
def solved():
    """The solved notebook's namespace, the digits network untrained."""
    return _solution(TRAINING)


def _cell_ids() -> set[str]:
    nb = nbformat.read(SOURCE / "mlp_from_scratch.ipynb", as_version=4)
    return {c.metadata.get("nbgrader", {}).get("grade_id") for c in nb.cells}


def test_the_skipped_cells_exist():
    """Do the cells the fast namespace leaves out still exist under these ids?"""
    assert set(TRAINING) <= _cell_ids()


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    """Per seed: the submission's arrays and the kernel's folder with its inputs file."""
    made = {}
    for seed in SEEDS:
        folder = tmp_path_factory.mktemp(f"inputs{seed}")
        arrays, tests = REFERENCE.build(SOURCE, seed=seed)
        (folder / probe.INPUTS).write_bytes(probe.save_inputs(arrays, tests))
        made[seed] = (arrays, folder)
    return made


def record(folder, ns: dict, grade_id: str) -> dict:
    """The probe's record of ``grade_id`` run in ``ns`` on the inputs in ``folder``, as JSON."""
    payload = probe.run(grade_id, ns, folder)._repr_mimebundle_()[probe.MIME]
    return json.loads(json.dumps(payload))


def verdict(inputs, seed: int, ns: dict, grade_id: str):
    arrays, folder = inputs[seed]
    return REFERENCE.judge(grade_id, Results(record(folder, ns, grade_id)), arrays)


def _parts(inputs, seed: int) -> dict[str, tuple[str, dict[str, np.ndarray]]]:
    """Per grade_id, its cases (as JSON) and the arrays of the kernel's file they name."""
    shown, tests = probe.load_inputs(inputs[seed][1])
    parts = {}
    for grade_id, cases in tests.items():
        text = json.dumps(cases)
        parts[grade_id] = (text, {k: v for k, v in shown.items() if f'"{k}"' in text})
    return parts


def _same(a: tuple, b: tuple) -> bool:
    (text, arrays), (other_text, others) = a, b
    return (
        text == other_text
        and sorted(arrays) == sorted(others)
        and all(np.array_equal(v, others[k]) for k, v in arrays.items())
    )


def test_the_same_seed_gives_the_same_inputs_and_another_seed_others(inputs):
    """Is the inputs file a function of the seed alone, and does every part but the one
    the notebook fixes get other numbers, sizes, rates or seeds from another seed?"""
    seed = SEEDS[0]
    arrays, tests = REFERENCE.build(SOURCE, seed=seed)
    assert probe.save_inputs(arrays, tests) == (inputs[seed][1] / probe.INPUTS).read_bytes()
    first, other = _parts(inputs, SEEDS[0]), _parts(inputs, SEEDS[1])
    assert sorted(first) == sorted(REFERENCE.JUDGES)
    differ = sorted(g for g in first if not _same(first[g], other[g]))
    assert differ == sorted(set(REFERENCE.JUDGES) - set(FIXED))


def test_the_inputs_file_holds_no_answer_and_no_case_name(inputs):
    """Does the kernel's file use neutral ids and names only, carry no grader note, and
    hold none of the digits split (an answer of the data part)?"""
    arrays, folder = inputs[SEEDS[0]]
    shown, tests = probe.load_inputs(folder)
    assert all(re.fullmatch(r"v\d+", k) for k in shown)
    for cases in tests.values():
        assert all(re.fullmatch(r"c\d+", c["id"]) for c in cases)
        assert all(re.fullmatch(r"k\d+", c.get("keep", c.get("on", "k0"))) for c in cases)
        assert not any(k.startswith("_") for c in cases for k in c)
    split = [arrays[f"_dg_{n}"] for n in ("Xtr", "Xte")]
    assert not any(np.array_equal(v, s) for v in shown.values() for s in split)


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("grade_id", sorted(set(REFERENCE.JUDGES) - set(DIGITS)))
def test_the_solution_earns_every_part_on_every_seed(solved, inputs, seed, grade_id):
    assert verdict(inputs, seed, solved, grade_id) == RIGHT


@pytest.mark.slow
def test_the_trained_digits_network_earns_its_part_on_every_seed(inputs):
    ns = _solution(())
    for seed in SEEDS:
        assert verdict(inputs, seed, ns, "digits_test_accuracy") == RIGHT, seed


@pytest.mark.parametrize("grade_id", sorted(set(REFERENCE.JUDGES) - set(DIGITS) - set(FIXED)))
def test_answers_made_for_one_seed_earn_nothing_on_another(solved, inputs, grade_id):
    """A kernel that hands in the right results of another submission's inputs (answers
    precomputed for one seed) earns no points: the values are judged, not their form."""
    arrays, _ = inputs[SEEDS[1]]
    made = record(inputs[SEEDS[0]][1], solved, grade_id)
    assert REFERENCE.judge(grade_id, Results(made), arrays).fraction == 0.0


def _shortcut(solved: dict, name: str, fn) -> dict:
    ns = dict(solved)
    ns[name] = fn
    return ns


@pytest.mark.parametrize("seed", SEEDS)
def test_a_numerical_gradient_without_the_differences_earns_nothing(solved, inputs, seed):
    """The exact derivative in place of central differences, or an epsilon of its own, is
    off by far more than the tolerance on the large epsilon drawn."""
    flat = solved["get_params"]

    def exact(X, y, W1, W2, epsilon=1e-4):
        return flat(*solved["cost_function_prime"](X, y, W1, W2))

    def own_epsilon(X, y, W1, W2, epsilon=1e-4):
        return solved["compute_numerical_gradient"](X, y, W1, W2)

    for fn in (exact, own_epsilon):
        ns = _shortcut(solved, "compute_numerical_gradient", fn)
        got = verdict(inputs, seed, ns, "numerical_gradient_values")
        assert got.fraction == 0.0 and "epsilon passed in" in got.message, got


@pytest.mark.parametrize("seed", SEEDS)
def test_honest_forms_earn_full_marks(solved, inputs, seed):
    """A loop instead of matrix products, a list of costs built another way and numpy
    scalars for floats: values within the tolerance, every part right."""
    ns = dict(solved)

    def forward(X, W1, W2):
        z2 = np.einsum("ij,jk->ik", X, W1)
        a2 = 1.0 / (1.0 + np.exp(-z2))
        z3 = np.einsum("ij,jk->ik", a2, W2)
        return z2, a2, z3, 1.0 / (1.0 + np.exp(-z3))

    def cost_function(X, y, W1, W2):
        return np.float64(0.5 * sum(((y - forward(X, W1, W2)[3]) ** 2).ravel().tolist()))

    ns["forward"], ns["cost_function"] = forward, cost_function
    for grade_id in ("forward_pass_values", "cost_function_values"):
        assert verdict(inputs, seed, ns, grade_id) == RIGHT, grade_id


#: An honest float32 solution: forward, cost_function, sigmoid_prime, cost_function_prime and
#: every method of NeuralNetwork cast what they are given (inputs, targets, the weights, also
#: weights set from outside) to float32 and compute in it. Everything else is the solution's.
FLOAT32 = (
    Edit(
        "forward",
        "    z2 = X @ W1\n",
        "    X, W1, W2 = (np.asarray(v, dtype=np.float32) for v in (X, W1, W2))\n    z2 = X @ W1\n",
    ),
    Edit(
        "cost_function",
        "    y_hat = forward(X, W1, W2)[3]\n",
        "    y = np.asarray(y, dtype=np.float32)\n    y_hat = forward(X, W1, W2)[3]\n",
    ),
    Edit("sigmoid_prime", "s = sigmoid(z)", "s = sigmoid(np.asarray(z, dtype=np.float32))"),
    Edit(
        "cost_function_prime",
        "    z2, a2, z3, y_hat = forward(X, W1, W2)\n",
        "    X, y, W1, W2 = (np.asarray(v, dtype=np.float32) for v in (X, y, W1, W2))\n"
        "    z2, a2, z3, y_hat = forward(X, W1, W2)\n",
    ),
    Edit(
        "neural_network_class",
        "self.W.append(w / np.sqrt(self.layers[i]))",
        "self.W.append((w / np.sqrt(self.layers[i])).astype(np.float32))",
    ),
    Edit(
        "neural_network_class",
        "self.W.append(w / np.sqrt(self.layers[-2]))",
        "self.W.append((w / np.sqrt(self.layers[-2])).astype(np.float32))",
    ),
    Edit(
        "neural_network_class",
        "        A = [np.atleast_2d(x)]\n",
        "        self.W = [np.asarray(w, dtype=np.float32) for w in self.W]\n"
        "        x, y = np.asarray(x, dtype=np.float32), np.asarray(y, dtype=np.float32)\n"
        "        A = [np.atleast_2d(x)]\n",
    ),
    Edit(
        "neural_network_class",
        "        for w in self.W:\n            p = self.sigmoid(p @ w)\n",
        "        p = p.astype(np.float32)  # the bias column came in as float64\n"
        "        for w in self.W:\n"
        "            p = self.sigmoid(p @ np.asarray(w, dtype=np.float32))\n",
    ),
    Edit(
        "neural_network_class",
        "np.atleast_2d(targets)",
        "np.atleast_2d(np.asarray(targets, dtype=np.float32))",
    ),
)
#: The parts whose sections accept float32 (the digits accuracy too, judged by the slow test).
FLOAT32_PARTS = (
    "forward_pass_values",
    "cost_function_values",
    "sigmoid_prime_values",
    "cost_function_prime_values",
    "network_init_shapes",
    "network_init_seeded_scaled",
    "network_repr",
    "network_predict_values",
    "network_calculate_loss",
    "network_fit_partial_update",
    "network_fit_epochs",
    "xor_without_hidden_layer_fails",
    "digits_data_prepared",
)
#: The parts whose sections ask for float64, and how the float32 solution's message starts
#: there. (XOR from other starts asks for float64 too; float32 is off by 1e-6 to 2e-4 there,
#: so on some inputs it passes and it is left out.)
FLOAT64_PARTS = {
    "numerical_gradient_values": "the numerical gradient is wrong on a small problem (close: ",
    "gradient_check_relative_difference": "the notebook's gradient check fails (close: ",
    "bfgs_training_cost_falls": "costs[0] must be the cost at the start (close: ",
}


@pytest.fixture(scope="module")
def float32_solved():
    """The float32 solution's namespace, the digits network untrained."""
    return _solution(TRAINING, FLOAT32)


def test_every_part_is_sorted_by_the_precision_it_accepts():
    """Is every part either one that accepts float32 or one that asks for float64?"""
    both = {*FLOAT32_PARTS, *FLOAT64_PARTS, *DIGITS, "xor_two_two_one_learns"}
    assert sorted(both) == sorted(REFERENCE.JUDGES)


def test_the_float32_solution_computes_in_float32(float32_solved):
    ns = float32_solved
    X, y, W1, W2 = (ns[n] for n in ("X", "y", "W1_init", "W2_init"))
    assert {v.dtype for v in ns["forward"](X, W1, W2)} == {np.dtype(np.float32)}
    assert {g.dtype for g in ns["cost_function_prime"](X, y, W1, W2)} == {np.dtype(np.float32)}
    assert ns["sigmoid_prime"](X).dtype == np.float32
    assert {w.dtype for w in ns["nn_xor"].W} == {np.dtype(np.float32)}
    assert ns["nn_xor"].predict(ns["X_xor"]).dtype == np.float32


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("grade_id", FLOAT32_PARTS)
def test_a_float32_solution_earns_every_part_that_accepts_float32(
    float32_solved, inputs, seed, grade_id
):
    assert verdict(inputs, seed, float32_solved, grade_id) == RIGHT


@pytest.mark.parametrize("seed", SEEDS)
def test_a_float32_solution_is_told_where_float64_is_needed(float32_solved, inputs, seed):
    """Where a section asks for float64, is the float32 solution told that it is close and
    what it takes?"""
    for grade_id, start in FLOAT64_PARTS.items():
        got = verdict(inputs, seed, float32_solved, grade_id)
        assert got.fraction == 0.0, grade_id
        assert got.message.startswith(start), got.message
        assert got.message.endswith(", which takes float64 arithmetic)"), got.message


#: The visible test cells of the parts that accept float32 (XOR and the digits are not run).
VISIBLE_FLOAT32 = tuple(
    p for p in FLOAT32_PARTS if p not in ("xor_without_hidden_layer_fails", "digits_data_prepared")
)


def test_the_visible_checks_agree_with_the_grader_on_float32(tmp_path):
    """Do the visible checks pass the float32 solution where the grader does, and say where
    section 1.5 and 1.6 need float64, as the grader does?"""
    folder = workdir("mlp_from_scratch", tmp_path)
    run = run_variant("mlp_from_scratch", folder, "float32", *FLOAT32)
    assert {c: run.cells[c].error for c in VISIBLE_FLOAT32 if run.cells[c].error} == {}
    float64 = (
        "section 1.5 needs float64 throughout, also in the cost_function and "
        "cost_function_prime it calls"
    )
    assert run.cells["numerical_gradient_values"].error == (
        "The numerical gradient is close to the right one but not within 1e-07 of its size: "
        f"{float64} (in float32 the two costs of each difference share most of their digits)."
    )
    assert re.fullmatch(
        rf"The gradient check gives \d\.\de-0[345], close but not below 1e-8, as float32 "
        rf"arithmetic would: {float64}\.",
        run.cells["gradient_check_relative_difference"].error,
    )
    assert run.cells["bfgs_training_cost_falls"].error == (
        "cost_function is right only to float32's precision, and section 1.6 needs float64: "
        "rounded costs and gradients lead BFGS elsewhere on other data. Compute in float64 "
        "(NumPy's default)."
    )


def test_the_right_answers_of_the_small_problems_have_their_fingerprints():
    """Are the values the judge measures a close miss against the visible checks' answers?"""
    answers = REFERENCE.small_answers()
    mistakes = {"grad_W1_of_activation", "grad_W2_of_activation", "numerical_one_sided"}
    assert sorted(answers) == sorted(set(REFERENCE.CHECKS.FINGERPRINTS) - mistakes)
    assert [k for k, v in answers.items() if not REFERENCE.CHECKS._matches(v, k)] == []


@pytest.mark.parametrize("seed", SEEDS)
def test_a_value_just_outside_the_tolerance_is_called_close(solved, inputs, seed):
    """A y_hat 3e-3 too large on every problem, and a numerical gradient 2e-6 too large (the
    visible check's small problem lets that pass, other data do not): each message says how
    far off the value is and what is accepted."""
    ns = dict(solved)
    honest_forward, honest_numerical = solved["forward"], solved["compute_numerical_gradient"]

    def forward(X, W1, W2):
        z2, a2, z3, y_hat = honest_forward(X, W1, W2)
        return z2, a2, z3, y_hat * (1 + 3e-3)

    def compute_numerical_gradient(X, y, W1, W2, epsilon=1e-4):
        return honest_numerical(X, y, W1, W2, epsilon) * (1 + 2e-6)

    ns["forward"], ns["compute_numerical_gradient"] = forward, compute_numerical_gradient
    assert verdict(inputs, seed, ns, "forward_pass_values").message == (
        "forward is wrong on a small problem (close: off by 3.0e-03 of its size; at most 5e-05 "
        "is accepted)"
    )
    assert verdict(inputs, seed, ns, "numerical_gradient_values").message == (
        "the numerical gradient is wrong on other data: central differences with the epsilon "
        "passed in (close: off by 2.0e-06 of its size; at most 1e-07 is accepted, which takes "
        "float64 arithmetic)"
    )


TABLE = load_table("mlp_from_scratch")


@pytest.mark.slow
@pytest.mark.parametrize("student", [s.name for s in TABLE.STUDENTS])
def test_each_sample_student_scores_as_expected_on_fresh_inputs(inputs, student):
    """The sample class's expected score of every part but the digits network's, on one
    submission's fresh inputs: the student's cells run in order, a failing cell leaves what
    it defines undefined, as in a kernel (tests/test_pipeline_sample_class.py checks all)."""
    source = nbformat.read(SOURCE / "mlp_from_scratch.ipynb", as_version=4)
    spec = {s.name: s for s in TABLE.STUDENTS}[student]
    nb = student_notebook(source, release_notebook(source), spec)
    ns = {"__name__": "__main__"}
    with contextlib.redirect_stdout(io.StringIO()):
        for cell in nb.cells:
            meta = cell.metadata.get("nbgrader", {})
            if cell.cell_type != "code" or meta.get("grade") or cell_key(cell) in TRAINING:
                continue
            source_code = cell.source.replace("%matplotlib inline", "")
            source_code = source_code.replace("import mlp_from_scratch_checks as checks", "")
            try:
                exec(compile(source_code, "<cell>", "exec"), ns)
            except Exception:  # noqa: BLE001  (the notebook runs on past a failing cell)
                pass
            import matplotlib.pyplot as plt

            plt.close("all")
    seed = SEEDS[-1]
    for grade_id, (want, why) in TABLE.EXPECTED_SCORES[student].items():
        if grade_id in REFERENCE.JUDGES and grade_id not in DIGITS:
            got = verdict(inputs, seed, ns, grade_id)
            assert got.fraction * TABLE.POINTS[grade_id] == want, (grade_id, why, got)
