"""Tests for the grading parent's bookkeeping: plans, bundles, the lock, recording results.

The course is a tiny one in tmp_path (``tests.helpers.nbgrader_cells.tiny_course``) whose
autograde chain has no Execute, so a real task result is produced in seconds without a kernel.
"""

from __future__ import annotations

import os
import sqlite3

import pytest

from ds4023.grading.course import GradingError
from ds4023.grading.gradebook import grade_table
from ds4023.grading.recorder import Recorder
from ds4023.grading.state import GradingState, digest_files
from ds4023.grading.task import FAILED, GRADED, GradeResult, SubmissionFiles, grade_submission
from tests.helpers.nbgrader_cells import (
    COURSE_ID,
    NO_KERNEL,
    grade_cell,
    notebook,
    plain_cell,
    solution_cell,
    tiny_course,
)

A = "a1"
RELEASE = notebook(
    plain_cell("import csv"),
    solution_cell("def f(x):\n    raise NotImplementedError()", "answer_f"),
    grade_cell("assert f(2) == 4", "test_f", points=2),
    grade_cell("assert f(3) == 9", "test_g", points=3),
)
DATA = {"data.csv": b"x,y\n1,2\n"}


@pytest.fixture
def course(tmp_path):
    return tiny_course(tmp_path / "course", A, RELEASE, extra=DATA, config=NO_KERNEL)


def submit(course, student: str = "s1") -> SubmissionFiles:
    """Hand in the release as ``student`` (submitted/<student>/a1/) and read it back."""
    folder = course / "submitted" / student / A
    folder.mkdir(parents=True)
    (folder / f"{A}.ipynb").write_text((course / "source" / A / f"{A}.ipynb").read_text())
    (folder / "timestamp.txt").write_text("2026-03-01 12:00:00.000000 UTC")
    files = {p.name: p.read_bytes() for p in folder.iterdir()}
    return SubmissionFiles(student, files, digest_files(files))


def parts(course, student: str) -> dict:
    table = grade_table(f"sqlite:///{course / 'gradebook.db'}", COURSE_ID, A)
    return {
        p: (v["auto_score"], v["needs_manual_grade"]) for p, v in table[student]["parts"].items()
    }


def test_a_graded_result_goes_to_autograded_gradebook_and_state(course):
    """Is one result written to autograded/, the gradebook and the state, and then done?"""
    rec = Recorder(course, submission_timeout=60)
    rec.plan(A)
    sub = submit(course)
    result = grade_submission(rec.bundle(A), sub)
    assert result.status == GRADED, result.reason
    rec.record(result)
    out = course / "autograded" / "s1" / A
    assert sorted(p.name for p in out.iterdir()) == ["a1.ipynb", "data.csv", "timestamp.txt"]
    assert parts(course, "s1") == {"test_f": (2.0, False), "test_g": (3.0, False)}
    entry = GradingState(course).get(A, "s1")
    assert entry["status"] == GRADED and entry["auto_score"] == 5.0
    assert entry["digest"] == sub.digest and entry["fingerprint"] == rec.plans[A]["fp"]
    assert "record" in entry["timings"]
    assert rec.is_done(A, "s1", sub.digest, {"s1"})
    assert not rec.is_done(A, "s1", "another digest", {"s1"})  # the student handed in again
    assert not rec.is_done(A, "s1", sub.digest, set())  # the gradebook lost the submission
    (out / "a1.ipynb").unlink()  # make clean removes autograded/
    assert not rec.is_done(A, "s1", sub.digest, {"s1"})


def test_a_failed_result_is_a_flagged_zero_with_its_reason(course):
    """Is a failure recorded as 0 needing a person, its reason kept, no autograded folder?"""
    rec = Recorder(course, submission_timeout=60)
    rec.plan(A)
    stale = course / "autograded" / "s1" / A
    stale.mkdir(parents=True)
    (stale / "a1.ipynb").write_text("{}")  # from an earlier, successful grading
    result = GradeResult("s1", A, "d", rec.plans[A]["fp"], FAILED, reason="the kernel died")
    rec.record(result)
    assert not stale.exists()
    assert parts(course, "s1") == {"test_f": (0.0, True), "test_g": (0.0, True)}
    entry = GradingState(course).get(A, "s1")
    assert (entry["status"], entry["reason"], entry["auto_score"]) == (FAILED, "the kernel died", 0)
    assert rec.is_done(A, "s1", "d", {"s1"})  # an unchanged failure is not regraded


def test_scores_the_gradebook_disagrees_with_become_a_recorded_failure(course):
    """When the gradebook's scores differ from the worker's, is it a zero with the reason?"""
    rec = Recorder(course, submission_timeout=60)
    rec.plan(A)
    result = grade_submission(rec.bundle(A), submit(course))
    result.scores = {A: {"test_f": 0.0, "test_g": 3.0}}  # not what the notebook says
    rec.record(result)
    entry = GradingState(course).get(A, "s1")
    assert entry["status"] == "failed"
    assert entry["reason"].startswith("could not record the grades: s1/a1: gradebook scores")
    assert not (course / "autograded" / "s1" / A).exists()
    assert parts(course, "s1") == {"test_f": (0.0, True), "test_g": (0.0, True)}


def test_plan_and_bundle_describe_the_assignment(course):
    """Does the bundle carry the notebooks, data, release order and an empty-class gradebook?"""
    rec = Recorder(course, submission_timeout=42, setup_hook="m:f")
    plan = rec.plan(A)
    bundle = rec.bundle(A)
    assert rec.bundle(A) is bundle  # built once
    assert bundle.notebooks == (A,) and bundle.support_files == DATA
    assert bundle.submission_timeout == 42 and bundle.setup_hook == "m:f"
    assert bundle.fingerprint == plan["fp"] and bundle.course_id == COURSE_ID
    order = bundle.config["RestoringOverwriteCells"]["cell_order"]
    assert order == {A: ["answer_f", "test_f", "test_g"]}
    assert "CourseDirectory" not in bundle.config
    assert bundle.probe_files == {} and bundle.judge_files == {}  # no reference.py
    db = course.parent / "template.db"
    db.write_bytes(bundle.gradebook_template)
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT count(*) FROM student").fetchone() == (0,)
        assert conn.execute("SELECT name FROM assignment").fetchall() == [(A,)]


def test_the_fingerprint_follows_data_and_hook(course):
    """Does changing a data file or the set-up hook change the fingerprint (all regraded)?"""
    base = Recorder(course, 60).plan(A)["fp"]
    assert Recorder(course, 60).plan(A)["fp"] == base
    assert Recorder(course, 60, setup_hook="m:f").plan(A)["fp"] != base
    (course / "source" / A / "data.csv").write_bytes(b"x,y\n1,3\n")
    assert Recorder(course, 60).plan(A)["fp"] != base


def test_a_second_grading_run_is_refused_while_the_first_holds_the_lock(course):
    """Is a second writer refused with the first one's pid, and the lock free afterwards?"""
    first, second = Recorder(course, 60), Recorder(course, 60)
    with first.lock():
        with pytest.raises(GradingError, match=f"another grading run \\(pid {os.getpid()}\\)"):
            with second.lock():
                pass
    with second.lock():
        assert (course / ".grading" / "lock").read_text() == str(os.getpid())


def test_an_unreleased_assignment_cannot_be_planned(course):
    """Does planning an assignment the gradebook does not know say to release it first?"""
    from ds4023.grading.gradebook import GradebookError

    with pytest.raises(GradebookError, match="release it first"):
        Recorder(course, 60).plan("a2")


#: Settings of the course's own nbgrader_config.py that only deliver results (exchange root,
#: release_feedback plugin, feedback pages); read from the environment like the real file.
DELIVERY = """
import os
from ds4023.collect.release_feedback import CourseReleaseFeedback
from ds4023.feedback.folders import prune_after_feedback
if os.environ.get("DS4023_EXCHANGE"):
    c.Exchange.root = os.environ["DS4023_EXCHANGE"]
c.ExchangeFactory.release_feedback = CourseReleaseFeedback
c.GenerateFeedback.post_convert_hook = prune_after_feedback
c.HTMLExporter.template_name = os.environ.get("FEEDBACK_TEMPLATE", "classic")
c.Execute.timeout = int(os.environ.get("DS4023_CELL_TIMEOUT", "30"))
"""


def test_settings_that_cannot_change_a_grade_never_change_the_fingerprint(tmp_path, monkeypatch):
    """Setting or unsetting the exchange root, or changing how feedback is made, leaves the
    fingerprint alone (no regrade); the cell timeout, which can change a grade, does not."""
    course = tiny_course(tmp_path / "course", A, RELEASE, extra=DATA, config=NO_KERNEL + DELIVERY)
    for name in ("DS4023_EXCHANGE", "FEEDBACK_TEMPLATE", "DS4023_CELL_TIMEOUT"):
        monkeypatch.delenv(name, raising=False)
    base = Recorder(course, 60).plan(A)["fp"]
    monkeypatch.setenv("DS4023_EXCHANGE", str(tmp_path / "exchange"))
    assert Recorder(course, 60).plan(A)["fp"] == base
    monkeypatch.setenv("FEEDBACK_TEMPLATE", "lab")
    assert Recorder(course, 60).plan(A)["fp"] == base
    monkeypatch.delenv("DS4023_EXCHANGE")
    assert Recorder(course, 60).plan(A)["fp"] == base
    monkeypatch.setenv("DS4023_CELL_TIMEOUT", "31")
    assert Recorder(course, 60).plan(A)["fp"] != base


def test_the_course_config_sends_workers_only_what_can_change_a_grade(course_copy, monkeypatch):
    """Does the course's own nbgrader_config.py give the same grading settings with and
    without DS4023_EXCHANGE or another gradebook URL, and other ones for another timeout or
    late penalty?"""
    from ds4023.grading.course import grading_config, load_course

    for name in ("DS4023_EXCHANGE", "DS4023_DB_URL", "DS4023_CELL_TIMEOUT", "DS4023_LATE_PENALTY"):
        monkeypatch.delenv(name, raising=False)
    base = grading_config(load_course(course_copy)[0])
    assert "Execute" in base and not {"Exchange", "ExchangeFactory", "GenerateFeedback"} & set(base)
    monkeypatch.setenv("DS4023_EXCHANGE", "/srv/ds4023-exchange")
    monkeypatch.setenv("DS4023_DB_URL", f"sqlite:///{course_copy / 'other.db'}")
    assert grading_config(load_course(course_copy)[0]) == base
    monkeypatch.setenv("DS4023_LATE_PENALTY", "zero")
    assert grading_config(load_course(course_copy)[0]) != base
    monkeypatch.delenv("DS4023_LATE_PENALTY")
    monkeypatch.setenv("DS4023_CELL_TIMEOUT", "60")
    assert grading_config(load_course(course_copy)[0]) != base
