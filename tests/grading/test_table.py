"""Tests for ds4023.grading.table: the grade table in the course's terms, nothing cut."""

from __future__ import annotations

from ds4023.grading.table import Row, format_table
from ds4023.pipeline import Summary

LONG = " ".join(f"word{i}" for i in range(40))  # a reason far wider than any terminal


def _summary() -> Summary:
    rows = [
        Row("late_one", "backprop", 120, 135, "graded", "", True, "core 100 / 100", "late 2.50 h"),
        Row("crashed", "backprop", 0, 135, "failed", LONG, True),
        Row("unchanged", "backprop", 90, 135, "graded", "", False, "core 90 / 100"),
    ]
    return Summary(rows=rows, graded_now=2, skipped=1, seconds=1.0)


def test_notes_are_wrapped_not_cut_and_grades_are_in_course_terms():
    """Is every word of a long note shown (wrapped to the width), the grade in course terms,
    and a late submission marked late?"""
    text = format_table(_summary(), width=80)
    assert all(len(line) <= 80 for line in text.splitlines() if "word" in line)
    assert [w for w in text.split() if w.startswith("word")] == LONG.split()
    assert "core 100 / 100" in text and "120/135" not in text
    assert "graded, late 2.50 h" in text


def test_a_failure_is_not_counted_as_graded_and_unchanged_rows_are_not_listed():
    """Does the summary count the failed submission once, as failed, and leave the skipped,
    unchanged submission out of the table?"""
    text = format_table(_summary(), width=100)
    assert "1 graded now, 1 unchanged and skipped" in text and "1 failed (1 in this run)" in text
    assert "unchanged  " not in text and "crashed" in text
