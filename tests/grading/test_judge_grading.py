"""The judge in a real grading run: a submission stopped at its limit keeps what it finished."""

from __future__ import annotations

import shutil

import nbformat
import pytest

from ds4023 import pipeline as batch_grade
from ds4023 import release
from ds4023.grading import gradebook as gradebook_io
from ds4023.grading.state import GradingState
from ds4023.sample_class import students as sample_class
from ds4023.sample_class.backprop import POINTS
from tests.helpers import copy_course
from tests.helpers.grading_course import course_env, scores

pytestmark = pytest.mark.timeout(900)

ASSIGNMENT = "backprop"
#: The tests that run before the endless cell, in notebook order.
BEFORE = ("plot_image_draws_digit", "onehot_encoding", "network_sizes", "sigmoid_values")
LIMIT = 40


def test_a_submission_stopped_at_its_limit_keeps_the_tests_it_finished(tmp_path):
    """Correct work with a cell that sleeps far past the submission limit after the sigmoid
    test: do the four tests before it keep their points and the rest score 0, with reasons?"""
    course = copy_course(tmp_path / "course")
    release.generate_release(ASSIGNMENT, course)
    sample_class.generate(course / "submitted", course, [ASSIGNMENT])
    for folder in (course / "submitted").iterdir():
        if folder.name != "correct":
            shutil.rmtree(folder)
    path = course / "submitted" / "correct" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"
    nb = nbformat.read(path, as_version=4)
    at = next(
        i
        for i, c in enumerate(nb.cells)
        if c.metadata.get("nbgrader", {}).get("grade_id") == "sigmoid_values"
    )
    nb.cells.insert(at + 1, nbformat.v4.new_code_cell("import time\n\ntime.sleep(3600)"))
    nbformat.write(nb, path)
    with course_env(cell_timeout=600):  # the submission limit, not the cell's, stops it
        batch_grade.grade_course(
            course, workers=1, submission_timeout=LIMIT, progress=False, engine="local"
        )
        table = gradebook_io.grade_table(f"sqlite:///{course}/gradebook.db", "ds4023", ASSIGNMENT)
    got = {part: score for part, (score, _) in scores(table)["correct"].items() if part in POINTS}
    assert got == {part: (POINTS[part] if part in BEFORE else 0.0) for part in POINTS}
    entry = GradingState(course).get(ASSIGNMENT, "correct")
    assert entry["status"] == "graded"
    assert any(f"stopped at the {LIMIT} s limit" in w for w in entry["warnings"])
    graded = nbformat.read(course / "autograded" / "correct" / ASSIGNMENT / path.name, 4)
    later = [
        c
        for c in graded.cells
        if c.metadata.get("nbgrader", {}).get("grade_id") == "cost_reference_value"
    ]
    assert f"ran longer than its {LIMIT} s limit" in later[0].metadata["ds4023"]["message"]
