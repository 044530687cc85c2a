"""Tests for the backprop assignment: it runs clean, it grades right, and it is committed clean.

One session-scoped scratch course (in a temporary folder, never in the repository) is shared:
nbgrader generates the release there and autogrades two submissions, the source notebook itself
(solutions and hidden tests in) and the unchanged release. The autograded source doubles as
the top-to-bottom run of the source notebook. Together this takes one to two minutes.
"""

from __future__ import annotations

import os
import re
import shutil
import sys
from pathlib import Path

import nbformat
import pytest
from nbgrader.api import Gradebook

from ds4023 import pipeline as batch_grade
from ds4023.grading.preprocessors.execute import HIDDEN_REGION
from ds4023.release import install_data, run_nbgrader
from tests.helpers import COURSE_ROOT
from tests.helpers.notebook_cells import errors_and_stderr

pytestmark = pytest.mark.timeout(900)

ASSIGNMENT = "backprop"
SOURCE = COURSE_ROOT / "source" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"
#: Automatically graded parts (core, 100 points) and the optional extra part.
CORE_POINTS = 100
OPTIONAL = {"gradient_checking_small_network": 20}


def _meta(cell) -> dict:
    return cell.get("metadata", {}).get("nbgrader", {})


def _test_cells(nb) -> list:
    return [c for c in nb.cells if c.cell_type == "code" and _meta(c).get("grade")]


def _outputs_text(cell) -> str:
    parts = []
    for out in cell.get("outputs", []):
        parts.append(out.get("text", ""))
        parts.append(out.get("data", {}).get("text/plain", ""))
    return "".join(parts)


@pytest.fixture(scope="session")
def graded_course(tmp_path_factory):
    """A scratch course with the release generated and two submissions autograded.

    Returns:
        (course folder, {student: {grade_id: (score, max_score)}}) for the students
        ``reference`` (the source notebook) and ``blank`` (the unchanged release).
    """
    if not all((COURSE_ROOT / "data" / f).is_file() for f in ("ex4data1.mat", "ex4weights.mat")):
        pytest.fail("data/ is not built: run `make data` first")
    course = tmp_path_factory.mktemp("backprop_course")
    shutil.copy2(COURSE_ROOT / "nbgrader_config.py", course / "nbgrader_config.py")
    # the notebook and its support files (the checking module), without built data
    shutil.copytree(
        SOURCE.parent, course / "source" / ASSIGNMENT, ignore=shutil.ignore_patterns("*.mat")
    )
    shutil.copytree(COURSE_ROOT / "data", course / "data", ignore=shutil.ignore_patterns("*.md"))
    install_data(ASSIGNMENT, course)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("PATH", os.pathsep.join([str(Path(sys.executable).parent), os.environ["PATH"]]))
        mp.setenv("MPLBACKEND", "Agg")
        mp.delenv("DS4023_DB_URL", raising=False)
        run_nbgrader(["generate_assignment", ASSIGNMENT, "--force"], course)
        notebooks = {
            "reference": course / "source" / ASSIGNMENT,
            "blank": course / "release" / ASSIGNMENT,
        }
        for student, folder in notebooks.items():
            target = course / "submitted" / student / ASSIGNMENT
            shutil.copytree(folder, target)
        # the course's grader (hidden tests are judged outside the kernel; plain `nbgrader
        # autograde` cannot judge them)
        batch_grade.grade_course(course, workers=2, progress=False)
    scores = {}
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        for student in notebooks:
            nb = gb.find_submission_notebook(ASSIGNMENT, ASSIGNMENT, student)
            scores[student] = {g.name: (g.score, g.max_score) for g in nb.grades}
    return course, scores


@pytest.fixture(scope="session")
def executed_source(graded_course):
    """The source notebook as nbgrader executed it top to bottom (solutions and hidden tests in)."""
    course, _ = graded_course
    path = course / "autograded" / "reference" / ASSIGNMENT / SOURCE.name
    return nbformat.read(path, as_version=4)


def test_source_runs_without_errors_or_stderr(executed_source):
    """Does the source notebook run to the end with no error and nothing written to stderr?"""
    assert errors_and_stderr(executed_source) == []


def test_source_shows_the_reference_costs(executed_source):
    """Does the source show the exercise's costs 5.8303 and 5.9265 for the provided weights?"""
    shown = {}
    for cell in executed_source.cells:
        if cell.id in ("cost-value", "cost-reg-value"):
            match = re.search(r"\d+\.\d+", _outputs_text(cell))
            assert match, f"cell {cell.id} shows no number"
            shown[cell.id] = float(match.group())
    assert abs(shown["cost-value"] - 5.8303) <= 1e-4
    assert abs(shown["cost-reg-value"] - 5.9265) <= 1e-4


def test_source_trains_to_high_accuracy(executed_source):
    """Does the reference solution's training reach at least 95 % training accuracy?"""
    cell = next(c for c in executed_source.cells if c.id == "accuracy")
    match = re.search(r"accuracy = ([\d.]+)%", _outputs_text(cell))
    assert match and float(match.group(1)) >= 95


def test_reference_solution_scores_full_automatic_points(graded_course):
    """Autograded as a submission, does the source notebook earn every automatic point?"""
    _, scores = graded_course
    auto = {k: v for k, v in scores["reference"].items() if not k.startswith("answer_")}
    assert {k: s for k, (s, m) in auto.items() if s != m} == {}
    assert sum(m for _, m in auto.values()) == CORE_POINTS + sum(OPTIONAL.values())


def test_unchanged_release_scores_zero(graded_course):
    """Autograded unchanged, does the release earn no point at all?"""
    _, scores = graded_course
    blank = scores["blank"]
    assert set(blank) == set(scores["reference"])
    assert {k: s for k, (s, _) in blank.items() if s != 0} == {}


def test_release_has_stubs_and_no_solution_or_hidden_test(graded_course):
    """Does the release keep stubs, visible tests and data, but no solution or hidden test?"""
    course, _ = graded_course
    folder = course / "release" / ASSIGNMENT
    assert (folder / "ex4data1.mat").is_file() and (folder / "ex4weights.mat").is_file()
    nb = nbformat.read(folder / SOURCE.name, as_version=4)
    text = "\n".join(c.source for c in nb.cells)
    code = "\n".join(c.source for c in nb.cells if c.cell_type == "code")
    assert code.count("raise NotImplementedError()") == 12
    assert text.count("YOUR ANSWER HERE") == 3
    for marker in (
        "BEGIN SOLUTION",
        "BEGIN HIDDEN TESTS",
        "_worst",
        "_ref(",
        "dger",
        "logaddexp(0, -z3) +",
    ):
        assert marker not in text
    for cell in _test_cells(nb):
        assert cell.source.startswith('"""'), cell.id


def test_grading_design_of_the_source():
    """Is every test cell one documented check with one probe call, points as planned?"""
    nb = nbformat.read(SOURCE, as_version=4)
    ids = [_meta(c)["grade_id"] for c in nb.cells if _meta(c)]
    assert len(ids) == len(set(ids)), "grade_ids must be unique"
    tests = {_meta(c)["grade_id"]: c for c in _test_cells(nb)}
    points = {k: _meta(c)["points"] for k, c in tests.items()}
    core = {k: p for k, p in points.items() if k not in OPTIONAL}
    assert sum(core.values()) == CORE_POINTS
    assert {k: points[k] for k in OPTIONAL} == OPTIONAL
    for grade_id, cell in tests.items():
        first = cell.source.splitlines()[0]
        assert first.startswith('"""') and first.endswith('?"""'), grade_id
        # one hidden region per test, the probe call the grader evaluates and judges
        # (source/backprop/reference.py); nothing of the judgement is in the notebook
        hidden = HIDDEN_REGION.findall(cell.source)
        assert len(hidden) == 1, grade_id
        assert f'__import__("ds4023_probe").run("{grade_id}", globals())' in hidden[0][0]
        assert len(hidden[0][0].strip().splitlines()) <= 2, grade_id
    for cell in tests.values():
        for banned in ("np.isclose", "np.allclose", "np.testing"):
            hidden_part = cell.source.partition("### BEGIN HIDDEN TESTS")[2]
            assert banned not in hidden_part, f"{_meta(cell)['grade_id']} uses {banned}"
    written = [c for c in nb.cells if c.cell_type == "markdown" and _meta(c).get("grade")]
    assert [_meta(c)["points"] for c in written] == [5, 5, 5]
