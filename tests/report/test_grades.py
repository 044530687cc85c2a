"""Tests for ds4023.report.grades: the grade CSV, the Markdown report and its two charts."""

from __future__ import annotations

import csv
import io

import nbformat
import pytest
from matplotlib.image import imread
from nbgrader.api import Gradebook

from ds4023.grading.state import GradingState
from ds4023.report import grades as report
from tests.helpers import COURSE_ROOT
from tests.helpers.grading_course import (
    ASSIGNMENT,
    EXPECTED,
    FAILING,
    copy_course,
    course_env,
    graded_class,
)

pytestmark = pytest.mark.timeout(600)

PARTS = ["test_square", "test_spread", "test_count_positive", "explain"]


@pytest.fixture(scope="module")
def reported(tmp_path_factory):
    """A copy of the graded toy class, one extra student without a submission, the report."""
    course = copy_course(graded_class(tmp_path_factory)[0], tmp_path_factory.mktemp("rep") / "c")
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}", "ds4023") as gb:
        gb.update_or_create_student("absent")
    with course_env():
        paths = report.write_report(course, ASSIGNMENT)
    return course, paths


def test_all_four_files_are_written(reported):
    """Are the CSV, the Markdown report and both PNG charts written under reports/?"""
    course, paths = reported
    names = sorted(p.name for p in paths)
    assert names == ["toy.md", "toy_grades.csv", "toy_parts.png", "toy_totals.png"]
    assert all(p.parent == course / "reports" for p in paths)
    assert not list((course / "reports").glob(".*"))  # no temporary files left behind
    for png in ("toy_parts.png", "toy_totals.png"):
        image = imread(course / "reports" / png)
        assert image.shape[0] > 100 and image.shape[1] > 300


def test_csv_has_one_row_per_student_with_total_parts_status_and_reason(reported):
    """Does the CSV carry each student's total, every part's score, status and reason?"""
    course, _ = reported
    rows = list(csv.DictReader(io.StringIO((course / "reports" / "toy_grades.csv").read_text())))
    by_student = {r["student"]: r for r in rows}
    assert set(by_student) == set(EXPECTED) | {"absent"}
    assert list(rows[0])[9:13] == PARTS  # parts in notebook order, after the fixed columns
    assert list(rows[0])[2:5] == ["core", "optional", "written"]  # the course's terms
    state = GradingState(course)
    for student, parts in EXPECTED.items():
        row = by_student[student]
        expected_total = sum(score or 0 for score, _ in parts.values())
        assert float(row["total"]) == expected_total and row["max_score"] == "8"
        for part, (score, _) in parts.items():
            assert row[part] == ("" if score is None else f"{score:g}")
        assert row["status"] == ("failed" if student in FAILING else "graded")
        assert row["reason"] == (state.get(ASSIGNMENT, student)["reason"] or "")
    assert by_student["correct"]["needs_manual_grade"] == "true"
    assert by_student["blank"]["needs_manual_grade"] == "false"
    absent = by_student["absent"]
    assert (absent["status"], absent["total"], absent["test_square"]) == ("no submission", "0", "")


def test_pass_rates_count_full_marks_among_scored_submissions(reported):
    """Is each part's pass rate the share of scored submissions with full marks?"""
    course, _ = reported
    parts, rows = report.collect(course, ASSIGNMENT)
    counts = report.pass_counts(parts, rows)
    # square: correct, partial, one_mistake; spread: correct; count: correct, one_mistake;
    # explain: no full marks yet, two answers still await a person (not counted)
    assert counts == {
        "test_square": (3, 6),
        "test_spread": (1, 6),
        "test_count_positive": (2, 6),
        "explain": (0, 4),
    }


def test_markdown_report_has_summary_charts_and_tables(reported):
    """Does the report link both charts and list every part and every student?"""
    course, _ = reported
    text = (course / "reports" / "toy.md").read_text()
    assert "7 students, 6 submissions, 2 failed to grade (recorded as 0)" in text
    assert "Mean total 1.83 / 8, median 1." in text
    assert "![Total scores](toy_totals.png)" in text and "(toy_parts.png)" in text
    assert "| test_square | code | 2 | 3 / 6 (50%) | 1.00 | 0 |" in text
    assert "| explain | markdown | 2 | 0 / 4 (0%) | 0.00 | 2 |" in text
    # the toy course has no README table: every part counts as core
    assert "| one_mistake | 3 / 8 | core 3 / 8 | graded | written answers to grade |" in text
    assert "| absent | 0 / 8 | core 0 / 8 | no submission |  |" in text
    assert "| malformed | 0 / 8 | core 0 / 8 | failed | the notebook is not valid JSON" in text


def test_unknown_assignment_is_one_error_line(reported, capsys):
    """Does asking for an assignment the course lacks give one clear error line?"""
    course, _ = reported
    with course_env():
        code = report.main(["--course", str(course), "--assignment", "nope"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1
    assert err[0] == f"error: no assignment 'nope' in this course: use --assignment {ASSIGNMENT}"


def test_part_stats_show_half_credit_and_the_mean(reported):
    """Does each part's mean count partial scores, with full / part / no marks counted?"""
    course, _ = reported
    parts, rows = report.collect(course, ASSIGNMENT)
    stats = report.part_stats(parts, rows)
    got = [r["scores"]["test_square"] for r in rows if r["status"] != report.MISSING]
    assert stats["test_square"]["mean"] == pytest.approx(sum(got) / len(got))
    square = stats["test_square"]
    assert square["full"] + square["partial"] + square["zero"] == square["scored"] == 6
    text = (course / "reports" / "toy.md").read_text()
    assert f"| test_square | code | 2 | 3 / 6 (50%) | {square['mean']:.2f} | 0 |" in text


def test_part_labels_come_from_the_readme_table():
    """Are the backprop parts labelled as the README's points table names them?"""
    labels = report.part_labels(COURSE_ROOT, "backprop")
    assert labels["sigmoid_values"] == "sigmoid"
    assert labels["plot_image_draws_digit"] == "draw one digit, plot_image"
    assert labels["gradient_checking_small_network"] == "optional: gradient_checking"
    assert len(labels) == 15


def _judged_notebook(path, verdicts):
    """Write an autograded notebook whose test cells carry the judge's bookkeeping."""
    nb = nbformat.v4.new_notebook()
    for grade_id, mistake, message in verdicts:
        cell = nbformat.v4.new_code_cell("check()")
        cell.metadata["nbgrader"] = {"grade_id": grade_id, "grade": True, "points": 10}
        cell.metadata["ds4023"] = {"score": 5.0, "mistake": mistake, "message": message}
        nb.cells.append(cell)
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, path)


def test_known_mistakes_are_counted_per_student_with_an_example(tmp_path):
    """Does the report count each known mistake once per student, most frequent first?"""
    half = "Partial credit: 5 of 10 points. The cost is m times too large."
    for student, verdicts in {
        "ann": [("cost", "cost_not_divided_by_m", half), ("reg", "cost_not_divided_by_m", half)],
        "bob": [("cost", "cost_not_divided_by_m", half), ("grad", "gradient_transposed", "x")],
        "cat": [("cost", None, "")],
    }.items():
        _judged_notebook(tmp_path / "autograded" / student / "a" / "a.ipynb", verdicts)
    seen = report.mistakes(tmp_path, "a")
    assert list(seen) == ["cost_not_divided_by_m", "gradient_transposed"]
    assert seen["cost_not_divided_by_m"] == {
        "students": ["ann", "bob"],
        "parts": ["cost", "reg"],
        "example": half,
    }
    text = report.to_markdown("a", [], [], {}, {}, seen)
    assert f"| cost_not_divided_by_m | cost, reg | 2 | {half} |" in text
