"""The whole sample class graded as `make autograde` does it: sandboxed, two workers."""

from __future__ import annotations

import pytest

from ds4023.grading import gradebook as gradebook_io
from ds4023.sample_class import students as sample_class
from tests.helpers.sample_class_course import graded_sample_class
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
                ok = got["auto_score"] == pytest.approx(score)
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


@pytest.mark.parametrize("assignment", ["backprop"])
def test_a_silent_visible_check_means_the_hidden_test_agrees(graded_class, assignment):
    """For every sample student: where a test cell's visible check said nothing, did the
    hidden judgement give full points (fresh inputs show nothing the visible check missed)?"""
    course, _ = graded_class
    disagree = {}
    for student in (s.name for s in sample_class.load_table(assignment).STUDENTS):
        path = course / "autograded" / student / assignment / f"{assignment}.ipynb"
        disagree[student] = silent_but_failed(path)
    assert not any(disagree.values()), {k: v for k, v in disagree.items() if v}
