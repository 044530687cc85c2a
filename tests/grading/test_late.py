"""Tests for ds4023.grading.late: the penalty setting; late work in the gradebook and the report."""

from __future__ import annotations

import csv
import io
import os
import shutil

import pytest
from nbgrader.api import Gradebook
from nbgrader.preprocessors import AssignLatePenalties
from traitlets.config import Config

from ds4023.grading.course import GradingError, load_course
from ds4023.grading.late import PercentLatePenalty, configure_late_penalty, hours_late
from ds4023.pipeline import grade_course
from ds4023.report import grades as report
from tests.helpers.grading_course import (
    ASSIGNMENT,
    STUDENTS,
    course_env,
    released_template,
    student_notebook,
)

pytestmark = pytest.mark.timeout(600)

HOUR = 3600.0


def _plugin(setting):
    """The plugin nbgrader's AssignLatePenalties builds from a DS4023_LATE_PENALTY value."""
    c = Config()
    configure_late_penalty(c, setting)
    late = AssignLatePenalties(config=c)
    late.init_plugin()
    return late.plugin_inst


@pytest.mark.parametrize(
    ("setting", "seconds", "expected"),
    [
        (None, 5 * HOUR, None),  # the default: no penalty
        ("none", 5 * HOUR, None),
        ("zero", 1.0, 8.0),  # nbgrader's own 'zero' mode: the whole score
        ("10%", 1.0, 0.8),  # once, however late
        ("10%", 30 * HOUR, 0.8),
        ("10%/h", 1.0, 0.8),  # per started hour
        ("10%/h", 2 * HOUR + 1, 2.4),
        ("25%/H", 10 * HOUR, 8.0),  # capped at the score
        ("10%", 0.0, None),  # on time
    ],
)
def test_each_setting_gives_nbgrader_the_penalty_it_names(setting, seconds, expected):
    """Does each DS4023_LATE_PENALTY value make nbgrader's plugin take off what it says?"""
    plugin = _plugin(setting)
    penalty = plugin.late_submission_penalty("s", 8.0, seconds)
    if setting and "%" in setting:
        assert isinstance(plugin, PercentLatePenalty)
    if setting in (None, "none"):
        assert type(plugin).__name__ == "LateSubmissionPlugin"
        assert plugin.penalty_method == "none"
    assert penalty == (None if expected is None else pytest.approx(expected))


@pytest.mark.parametrize("setting", ["5", "half", "150%", "-5%", "10%/day", "zero%"])
def test_a_bad_setting_is_one_clear_error(setting, course_copy):
    """Is a value nbgrader cannot use refused with one line naming the accepted values?"""
    with pytest.raises(ValueError, match="DS4023_LATE_PENALTY=.* is not one of: none, zero"):
        configure_late_penalty(Config(), setting)
    os.environ["DS4023_LATE_PENALTY"] = setting
    try:
        with pytest.raises(GradingError) as err:
            load_course(course_copy)
    finally:
        del os.environ["DS4023_LATE_PENALTY"]
    assert "DS4023_LATE_PENALTY" in str(err.value) and "\n" not in str(err.value)


def test_hours_late_never_rounds_lateness_away():
    """Is a second late still shown as late, and on time as 0?"""
    assert hours_late(0) == "0"
    assert hours_late(1) == "0.01"
    assert hours_late(2 * HOUR + 18) == "2.00"
    assert hours_late(90 * 60) == "1.50"


@pytest.mark.slow
def test_late_submission_is_marked_and_penalised_in_gradebook_csv_and_report(
    tmp_path_factory, tmp_path
):
    """Graded with a due date in the gradebook and 10%/h: is the one submitted 1.5 h late marked
    in the CSV and the report, with 20 % (two started hours) of its score off, and the one on
    time untouched?"""
    course = tmp_path / "course"
    shutil.copytree(released_template(tmp_path_factory), course)
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}", "ds4023") as gb:
        gb.update_or_create_assignment(ASSIGNMENT, duedate="2026-03-01 10:00:00 UTC")
    release = course / "release" / ASSIGNMENT
    stamps = {"ontime": "2026-03-01 09:30:00.000000 UTC", "late": "2026-03-01 11:30:00.000000 UTC"}
    for student, stamp in stamps.items():
        folder = course / "submitted" / student / ASSIGNMENT
        folder.mkdir(parents=True)
        shutil.copy2(release / "toy_data.csv", folder / "toy_data.csv")
        text = student_notebook(release / "toy.ipynb", STUDENTS["correct"])
        (folder / "toy.ipynb").write_text(text)
        (folder / "timestamp.txt").write_text(stamp)
    with course_env():
        os.environ["DS4023_LATE_PENALTY"] = "10%/h"
        summary = grade_course(course, workers=1, engine="local", progress=False)
        report.write_report(course, ASSIGNMENT)
    assert summary.exit_code == 0
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}", "ds4023") as gb:
        late = gb.find_submission(ASSIGNMENT, "late")
        ontime = gb.find_submission(ASSIGNMENT, "ontime")
        assert late.total_seconds_late == pytest.approx(1.5 * HOUR)
        assert ontime.total_seconds_late == 0
        scored = late.score  # nbgrader keeps the score and the penalty apart
        assert late.late_submission_penalty == pytest.approx(0.2 * scored) and scored > 0
        assert ontime.late_submission_penalty == 0
    rows = {
        r["student"]: r
        for r in csv.DictReader(io.StringIO((course / "reports" / "toy_grades.csv").read_text()))
    }
    assert rows["late"]["hours_late"] == "1.50" and rows["ontime"]["hours_late"] == "0"
    assert float(rows["late"]["late_penalty"]) == pytest.approx(0.2 * scored)
    assert float(rows["late"]["total"]) == pytest.approx(0.8 * scored)
    assert float(rows["ontime"]["total"]) == pytest.approx(scored)
    text = (course / "reports" / "toy.md").read_text()
    assert "1 submitted late (1 with a late penalty)." in text
    assert f"late 1.50 h, penalty {0.2 * scored:g}" in text
    ontime_row = next(line for line in text.splitlines() if line.startswith("| ontime |"))
    assert "late" not in ontime_row
