"""The sample class after `make autograde`: the feedback names each student's mistake.

The graded class (sandboxed batch grader, 2 workers, feedback pages) is the session-wide one
of ``sample_class_course``, shared with ``test_batch_grade_sample_class.py``, which checks the
scores (backprop's partial credits included) against each assignment's ``EXPECTED_SCORES``.
"""

from __future__ import annotations

import html
import re
from pathlib import Path

import pytest

from ds4023.assignments import manifest
from ds4023.grading import gradebook as gradebook_io
from ds4023.sample_class.backprop import DIAGNOSES as BACKPROP_DIAGNOSES
from ds4023.sample_class.students import load_table
from tests.helpers.notebook_cells import load_checks, source_dir
from tests.helpers.sample_class_course import graded_sample_class
from tests.notebooks.test_mlp_from_scratch_checks import DIAGNOSES as MLP_DIAGNOSES

pytestmark = pytest.mark.timeout(1800)

#: assignment -> student -> the mistake its feedback must name (None: nothing may be named).
DIAGNOSES = {"backprop": BACKPROP_DIAGNOSES, "mlp_from_scratch": MLP_DIAGNOSES}
#: Lines of the hidden tests that run around a check during grading.
GRADING_SIDE = ("ds4023_probe", "reference.py", "def _kind(", "_partial = None")


@pytest.fixture(scope="session")
def graded_class(tmp_path_factory):
    """The graded sample class: (course folder, assignment -> grade table)."""
    course, proc = graded_sample_class(tmp_path_factory)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    db_url = f"sqlite:///{course / 'gradebook.db'}"
    return course, {a: gradebook_io.grade_table(db_url, "ds4023", a) for a in DIAGNOSES}


@pytest.fixture(scope="session")
def messages(tmp_path_factory) -> dict[str, dict[str, str]]:
    """assignment -> the known mistakes' messages, read from a copy of its checking module."""
    found = {}
    for assignment in DIAGNOSES:
        folder = tmp_path_factory.mktemp(assignment)
        for name in (f"{manifest(assignment).checks}.py", "checks_core.py"):  # the core beside it
            (folder / name).write_bytes((source_dir(assignment) / name).read_bytes())
        found[assignment] = load_checks(assignment, folder).MESSAGES
    return found


def _page_text(course: Path, student: str, assignment: str) -> str:
    page = course / "feedback" / student / assignment / f"{assignment}.html"
    return html.unescape(re.sub(r"<[^>]+>", "", page.read_text()))


@pytest.mark.parametrize("assignment", sorted(DIAGNOSES))
def test_feedback_names_exactly_each_students_mistake(graded_class, messages, assignment):
    """Does each feedback page name the student's own mistake and no other (none if correct)?"""
    course, tables = graded_class
    table, expected = tables[assignment], DIAGNOSES[assignment]
    assert set(table) == set(expected)
    found = {
        s: {k for k, m in messages[assignment].items() if m in _page_text(course, s, assignment)}
        for s in table
    }
    assert found == {s: {expected[s]} if expected[s] else set() for s in table}


@pytest.mark.parametrize("assignment", sorted(DIAGNOSES))
def test_feedback_explains_every_partial_credit(graded_class, assignment):
    """Does each part scored between 0 and full show one 'Partial credit' line for it?"""
    course, tables = graded_class
    points = load_table(assignment).POINTS
    partial_parts = 0
    for student, row in tables[assignment].items():
        partial = [
            (value["auto_score"], points[part])
            for part, value in row["parts"].items()
            if part in points and 0 < value["auto_score"] < points[part]
        ]
        partial_parts += len(partial)
        text = _page_text(course, student, assignment)
        lines = re.findall(r"Partial credit: ([\d.]+) of ([\d.]+) points", text)
        assert sorted((float(a), float(b)) for a, b in lines) == sorted(partial), student
    # backprop's hidden tests give partial credit; mlp_from_scratch's do not (yet)
    assert (partial_parts > 0) == (assignment == "backprop")


@pytest.mark.parametrize("assignment", sorted(DIAGNOSES))
def test_feedback_hides_the_grading_side_of_the_checks(graded_class, assignment):
    """Are the hidden lines that defer a check and weigh its result absent from the feedback?"""
    course, tables = graded_class
    for student in tables[assignment]:
        text = _page_text(course, student, assignment)
        assert [h for h in GRADING_SIDE if h in text] == [], student
