"""The whole sample class graded as `make autograde` does it: sandboxed, two workers.

``.ci/run`` runs this module on every Python the README names: the run of ``make test``
writes its grades to a folder outside the clone (``DS4023_SAMPLE_GRADES``), and each other
Python's run compares its own with them (``DS4023_SAMPLE_GRADES_REFERENCE``), cell by cell.
"""

from __future__ import annotations

import json
import os
import platform
from pathlib import Path

import pytest

from ds4023.grading import gradebook as gradebook_io
from ds4023.sample_class import students as sample_class
from tests.helpers.sample_class_course import (
    PYTHON_FILE,
    REFERENCE,
    differences,
    grade_files,
    graded_sample_class,
)
from tests.helpers.visible_hidden import silent_but_failed

ASSIGNMENTS = sorted(sample_class.ASSIGNMENT_TABLES)


@pytest.fixture(scope="session")
def graded_class(tmp_path_factory):
    """A course copy whose generated sample class went through the batch grader's CLI."""
    return graded_sample_class(tmp_path_factory)


def test_grading_run_succeeds(graded_class):
    """Does the batch grader grade every sample student and exit 0?"""
    _, proc = graded_class
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_every_student_scores_as_expected(graded_class, assignment):
    """Does every sample student get exactly the expected score on every check?"""
    course, _ = graded_class
    db_url = f"sqlite:///{course / 'gradebook.db'}"
    table = gradebook_io.grade_table(db_url, "ds4023", assignment)
    expected = sample_class.load_table(assignment).EXPECTED_SCORES
    assert sorted(table) == sorted(expected)
    wrong = []
    for student, parts in expected.items():
        for grade_id, (score, why) in parts.items():
            got = table[student]["parts"][grade_id]
            if score is None:
                ok = got["needs_manual_grade"]
            else:
                ok = got["auto_score"] == score
            if not ok:
                wrong.append(f"{student}/{grade_id}: expected {score} ({why}), got {got}")
    assert not wrong, "\n".join(wrong)


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_every_student_gets_feedback_and_a_report_row(graded_class, assignment):
    """Does every student get a feedback page and a row in the grades CSV?"""
    course, _ = graded_class
    students = [s.name for s in sample_class.load_table(assignment).STUDENTS]
    for student in students:
        page = course / "feedback" / student / assignment / f"{assignment}.html"
        assert page.is_file(), page
        assert "BEGIN HIDDEN TESTS" not in page.read_text()
    csv = (course / "reports" / f"{assignment}_grades.csv").read_text()
    for student in students:
        assert f"\n{student}," in csv


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_a_silent_visible_check_means_the_hidden_test_agrees(graded_class, assignment):
    """For every sample student: where a test cell's visible check said nothing, did the
    hidden judgement give full points (fresh inputs show nothing the visible check missed)?"""
    course, _ = graded_class
    disagree = {}
    for student in (s.name for s in sample_class.load_table(assignment).STUDENTS):
        path = course / "autograded" / student / assignment / f"{assignment}.ipynb"
        disagree[student] = silent_but_failed(path)
    assert not any(disagree.values()), {k: v for k, v in disagree.items() if v}


def test_every_kernel_ran_on_the_graders_python(graded_class):
    """Did every notebook run in a kernel of the Python that runs the tests (its own venv)?"""
    course, _ = graded_class
    notebooks = sorted((course / "autograded").glob("*/*/*.ipynb"))
    assert len(notebooks) == sum(len(t.STUDENTS) for t in map(sample_class.load_table, ASSIGNMENTS))
    versions = {
        json.loads(nb.read_text())["metadata"]["language_info"]["version"] for nb in notebooks
    }
    assert versions == {platform.python_version()}


def test_grades_equal_those_of_the_reference_python(graded_class):
    """Are the grades the same, cell by cell, as those of the run on the reference Python?"""
    folder = os.environ.get(REFERENCE)
    if not folder:
        pytest.skip(f"no run on another Python to compare with: {REFERENCE} is unset")
    folder = Path(folder)
    course, _ = graded_class
    here = grade_files(course)
    reference = {p.name: p.read_text(encoding="utf-8") for p in folder.glob("*") if p.name in here}
    assert sorted(reference) == sorted(here), f"{folder} lacks files of a reference run"
    wrong = differences(reference, here)
    who = (folder / PYTHON_FILE).read_text().strip()
    assert not wrong, f"graded differently than by {who}:\n" + "\n".join(wrong)


def test_one_changed_cell_or_score_is_named_as_a_difference():
    """Does the comparison name a changed CSV cell, a changed score and a missing file?"""
    csv = "student,status,total,reason\nann,graded,10,\nbob,failed,0,the kernel died\n"
    table = {"ann": {"late_penalty": 0.0, "parts": {"t": {"auto_score": 2.5, "score": 2.5}}}}
    run = {"a_grades.csv": csv, "a_gradebook.json": json.dumps(table)}
    assert differences(run, dict(run)) == []
    other = json.loads(run["a_gradebook.json"])
    other["ann"]["parts"]["t"]["auto_score"] = 2.5000000001
    changed = {"a_grades.csv": csv.replace("ann,graded,10", "ann,graded,9.99")}
    changed["a_gradebook.json"] = json.dumps(other)
    assert differences(run, changed) == [
        "a_gradebook.json: ann/t: {'auto_score': 2.5000000001, 'score': 2.5} instead of "
        "{'auto_score': 2.5, 'score': 2.5}",
        "a_grades.csv: ann/total: '9.99' instead of '10'",
    ]
    assert differences(run, {"a_grades.csv": csv}) == ["a_gradebook.json: missing from this run"]
