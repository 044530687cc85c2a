"""Tests for the mlp_from_scratch assignment: it runs, it grades, and it is committed clean.

Two session-scoped products are shared by all tests (both in a temporary folder, never in the
repository): one plain execution of the source notebook, and one scratch course in which
nbgrader generated the release and autograded the source (as a submission), the unchanged
release and the sample class's single-mistake students. Together they take about two minutes.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient
from nbgrader.api import Gradebook

from ds4023.grading.judge import bundle_files
from ds4023.release import nbgrader_env, run_nbgrader
from ds4023.sample_class import mlp_from_scratch as sample_table
from ds4023.sample_class.students import release_notebook, student_notebook
from tests.helpers import COURSE_ROOT
from tests.helpers.notebook_cells import errors_and_stderr

pytestmark = pytest.mark.timeout(900)

ASSIGNMENT = "mlp_from_scratch"
SOURCE = COURSE_ROOT / "source" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"
#: The sample class's students with a mistake (correct and blank are covered by the source
#: and the release themselves).
MISTAKES = [s for s in sample_table.STUDENTS if s.edits]


def _nbgrader_meta(cell) -> dict:
    return cell.get("metadata", {}).get("nbgrader", {})


def _test_cells(nb) -> list:
    return [c for c in nb.cells if c.cell_type == "code" and _nbgrader_meta(c).get("grade")]


def _text_outputs(cell) -> str:
    return "".join(o.get("text", "") for o in cell.get("outputs", []) if o.output_type == "stream")


@pytest.fixture(scope="session")
def grading_env():
    """Environment of a grading run: venv first on PATH, Agg backend, no shared gradebook URL."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("PATH", os.pathsep.join([str(Path(sys.executable).parent), os.environ["PATH"]]))
        mp.setenv("MPLBACKEND", "Agg")
        mp.delenv("DS4023_DB_URL", raising=False)
        yield


@pytest.fixture(scope="session")
def executed_source(tmp_path_factory, grading_env):
    """The source notebook (solutions and hidden tests in) executed top to bottom, in tmp."""
    work = tmp_path_factory.mktemp("mlp_run")
    for name in ("mlp_from_scratch_checks.py", "checks_core.py"):  # the visible tests import them
        shutil.copy2(SOURCE.parent / name, work)
    for name, data in bundle_files(SOURCE.parent)[0].items():  # what the hidden tests call
        (work / name).write_bytes(data)
    nb = nbformat.read(SOURCE, as_version=4)
    NotebookClient(
        nb,
        timeout=300,
        kernel_name="python3",
        allow_errors=True,
        resources={"metadata": {"path": str(work)}},
    ).execute()
    return nb


@pytest.fixture(scope="session")
def graded_course(tmp_path_factory, grading_env):
    """A scratch course: release generated, source and unchanged release graded.

    Graded by the batch grader (``python -m ds4023.pipeline``), as the course grades: the
    hidden tests are probes that only the grader's judge (``reference.py``) scores.

    Returns:
        (course folder, {student: {grade_id: (auto_score, max_score)}}) for the students
        ``reference`` (the source notebook), ``blank`` (the release notebook) and the sample
        class's students with a mistake.
    """
    course = tmp_path_factory.mktemp("mlp_course")
    shutil.copy2(COURSE_ROOT / "nbgrader_config.py", course / "nbgrader_config.py")
    shutil.copytree(SOURCE.parent, course / "source" / ASSIGNMENT)
    run_nbgrader(["generate_assignment", ASSIGNMENT, "--force"], course)
    notebooks = {
        "reference": course / "source" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb",
        "blank": course / "release" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb",
    }
    for student, notebook in notebooks.items():
        folder = course / "submitted" / student / ASSIGNMENT
        folder.mkdir(parents=True)
        shutil.copy2(notebook, folder / notebook.name)
    source = nbformat.read(notebooks["reference"], as_version=4)
    release = release_notebook(source)
    for student in MISTAKES:
        folder = course / "submitted" / student.name / ASSIGNMENT
        folder.mkdir(parents=True)
        nbformat.write(student_notebook(source, release, student), folder / f"{ASSIGNMENT}.ipynb")
    env = nbgrader_env()
    env.pop("DS4023_DB_URL", None)  # grade into the scratch course's own gradebook
    command = [sys.executable, "-m", "ds4023.cli", "grade", "--course", str(course)]
    command += ["--assignment", ASSIGNMENT, "--workers", "2", "--quiet"]
    proc = subprocess.run(command, env=env, capture_output=True, text=True, timeout=1200)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    scores = {}
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        for student in [*notebooks, *(s.name for s in MISTAKES)]:
            nb = gb.find_submission_notebook(ASSIGNMENT, ASSIGNMENT, student)
            scores[student] = {g.name: (g.auto_score, g.max_score) for g in nb.grades}
    return course, scores


def test_source_runs_without_errors_or_stderr(executed_source):
    """Does the source notebook run to the end with no error and nothing written to stderr?"""
    assert errors_and_stderr(executed_source) == []


def test_source_shows_digits_accuracy_and_report(executed_source):
    """Does the digits part print a classification report and a test accuracy of at least 0.95?"""
    cell = next(
        c for c in executed_source.cells if _nbgrader_meta(c).get("grade_id") == "digits_train"
    )
    text = _text_outputs(cell)
    assert "precision" in text and "recall" in text, "classification_report is not printed"
    match = re.search(r"test accuracy: (\d\.\d+)", text)
    assert match, f"no test accuracy printed in:\n{text}"
    assert float(match.group(1)) >= 0.95


def test_source_shows_gradient_check_and_bfgs(executed_source):
    """Does Part 1 print a gradient check below 1e-8 and a BFGS run that ends near cost 0?"""
    cells = {_nbgrader_meta(c).get("grade_id"): _text_outputs(c) for c in executed_source.cells}
    rel = re.search(r"relative difference: (\S+)", cells["numerical_gradient"])
    assert rel and float(rel.group(1)) < 1e-8
    bfgs = re.search(r"cost (\S+) -> (\S+)", cells["run_bfgs"])
    assert bfgs and float(bfgs.group(2)) < 1e-3 * float(bfgs.group(1))


def test_reference_solution_scores_full_points(graded_course):
    """Autograded as a submission, does the source notebook earn every automatic point (100)?"""
    _, scores = graded_course
    reference = {k: v for k, v in scores["reference"].items() if k not in sample_table.WRITTEN}
    assert {k: s for k, (s, m) in reference.items() if s != m} == {}
    assert sum(m for _, m in reference.values()) == 100
    assert all(scores["reference"][k][0] is None for k in sample_table.WRITTEN), (
        "written answers of the source wait for a person"
    )


def test_unchanged_release_scores_zero(graded_course):
    """Autograded unchanged, does the release earn no automatic point in any test cell?"""
    _, scores = graded_course
    blank = scores["blank"]
    assert len(blank) == len(scores["reference"])
    assert {k: s for k, (s, _) in blank.items() if s != 0} == {}


@pytest.mark.parametrize("student", ["blank", *(s.name for s in MISTAKES)])
def test_sample_students_score_as_expected(graded_course, student):
    """Does each sample student get exactly the score the class table expects, check by check?"""
    _, scores = graded_course
    got = {grade_id: auto for grade_id, (auto, _) in scores[student].items()}
    want = {
        grade_id: score for grade_id, (score, _) in sample_table.EXPECTED_SCORES[student].items()
    }
    assert got == want


def test_release_has_stubs_and_no_solution_or_hidden_test(graded_course):
    """Does the generated release keep stubs and visible tests but no solution or hidden test?"""
    course, _ = graded_course
    nb = nbformat.read(course / "release" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb", as_version=4)
    text = "\n".join(c.source for c in nb.cells)
    assert text.count("raise NotImplementedError()") >= 10
    assert "YOUR ANSWER HERE" in text
    for marker in ("BEGIN SOLUTION", "END SOLUTION", "BEGIN HIDDEN TESTS", "ds4023_probe"):
        assert marker not in text
    assert all(c.source.lstrip().startswith('"""Checks') for c in _test_cells(nb))


def test_grading_design_of_the_source():
    """Is every test cell one documented check whose hidden test is the one probe call the
    grader judges (source/mlp_from_scratch/reference.py), and do points add up to 100?"""
    nb = nbformat.read(SOURCE, as_version=4)
    tests = _test_cells(nb)
    ids = [_nbgrader_meta(c)["grade_id"] for c in nb.cells if _nbgrader_meta(c)]
    assert len(ids) == len(set(ids)), "grade_ids must be unique"
    assert sum(_nbgrader_meta(c)["points"] for c in tests) == 100
    for cell in tests:
        assert cell.source.startswith('"""Checks'), _nbgrader_meta(cell)["grade_id"]
        grade_id = _nbgrader_meta(cell)["grade_id"]
        assert cell.source.count("### BEGIN HIDDEN TESTS") == 1, grade_id
        hidden = cell.source.split("### BEGIN HIDDEN TESTS\n")[1].split("### END HIDDEN TESTS")[0]
        probe = f'__import__("ds4023_probe").run("{grade_id}", globals())'
        assert [line for line in hidden.splitlines() if not line.startswith("#")] == [probe]
    written = [c for c in nb.cells if c.cell_type == "markdown" and _nbgrader_meta(c).get("grade")]
    assert len(written) == 2 and all(_nbgrader_meta(c)["points"] > 0 for c in written)
