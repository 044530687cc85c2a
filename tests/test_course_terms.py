"""Tests for the course's grade terms, read from the README's points tables."""

from __future__ import annotations

import pytest

from ds4023 import course_terms
from ds4023.sample_class.students import load_table
from tests.helpers import COURSE_ROOT

TOTALS = {"backprop": (100, 20, 15), "mlp_from_scratch": (100, 0, 10)}


@pytest.mark.parametrize("assignment", sorted(TOTALS))
def test_the_readme_defines_core_optional_and_written_points(assignment):
    """Do the README's tables split each assignment's points as the course grades them?"""
    table = course_terms.parts(COURSE_ROOT, assignment)
    points = load_table(assignment).POINTS
    written = load_table(assignment).WRITTEN
    maxima = {**points, **dict.fromkeys(written, 5.0)}
    assert set(table) == set(maxima)
    best = course_terms.course_grade(table, maxima, maxima)
    assert (best.core_max, best.optional_max, best.written_max) == TOTALS[assignment]
    assert (best.core, best.optional, best.written) == TOTALS[assignment]
    assert {table[w].kind for w in written} == {course_terms.WRITTEN}


def test_written_answers_nobody_graded_are_awaiting_grading():
    """Does a grade show written answers as awaiting grading until a person scored them all?"""
    table = course_terms.parts(COURSE_ROOT, "backprop")
    maxima = {g: 5.0 for g in table}
    scores = {g: 5.0 for g in table}
    scores["answer_cost_differs"] = None
    grade = course_terms.course_grade(table, scores, maxima)
    assert grade.written_pending
    assert grade.text() == (
        f"core {5.0 * 11:g} / {5.0 * 11:g}, optional +5 / 5, written awaiting grading / 15"
    )
    scores["answer_cost_differs"] = 2.0
    assert course_terms.course_grade(table, scores, maxima).text().endswith("written 12 / 15")
