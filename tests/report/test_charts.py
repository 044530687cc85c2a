"""Tests for ds4023.report.charts: what each bar's label says a number means."""

from __future__ import annotations

from ds4023.report.charts import _bar_text
from ds4023.report.grades import part_stats


def test_a_written_part_nobody_graded_yet_says_awaiting_grading():
    """Does a part whose every submission awaits a person read 'awaiting grading', not 0?"""
    parts = [{"id": "answer", "max_score": 5}]
    rows = [{"status": "graded", "scores": {"answer": None}} for _ in range(3)]
    stat = part_stats(parts, rows)["answer"]
    assert _bar_text(stat, 5) == " awaiting grading (3)"


def test_a_partly_graded_part_counts_the_ones_still_waiting():
    """Are graded submissions counted as full, part or none, and the rest as awaiting?"""
    parts = [{"id": "answer", "max_score": 5}]
    scores = [5, 2, None, 0]
    rows = [{"status": "graded", "scores": {"answer": s}} for s in scores]
    text = _bar_text(part_stats(parts, rows)["answer"], 5)
    assert text == " 2.3/5: 1 full, 1 part, 1 none, 1 awaiting grading"
