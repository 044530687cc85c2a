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
from ds4023.sample_class.students import cell_key, load_table, release_notebook, student_notebook

SOURCE = COURSE_ROOT / "source" / "mlp_from_scratch"
REFERENCE = load_reference(SOURCE / "reference.py")
SEEDS = (7, 4023, 20261205)
#: Cells the fast namespace leaves out: the digits training and its figure.
TRAINING = ("digits_train", "digits_loss_plot")
#: The parts that need the trained digits network.
DIGITS = ("digits_test_accuracy",)
#: The part whose inputs the notebook fixes completely (the seeded split of the digits).
FIXED = ("digits_data_prepared",)


def _solution(skip: tuple[str, ...]) -> dict:
    """The notebook's namespace after its solution cells (not the test cells, not ``skip``)."""
    import matplotlib

    matplotlib.use("Agg")
    nb = nbformat.read(SOURCE / "mlp_from_scratch.ipynb", as_version=4)
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
