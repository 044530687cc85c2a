"""Tests for ds4023.pipeline: parallel autograding with one gradebook writer.

Slow tests: each grading run starts real Jupyter kernels (about a second per submission).
They share one graded toy class per session (``grading_course.graded_class``) and copy it.
"""

from __future__ import annotations

import fcntl
import json
import os
import signal
import subprocess
import sys
import time

import pytest
from nbgrader.api import Gradebook

from ds4023 import pipeline as batch_grade
from ds4023.grading.course import read_submission
from ds4023.grading.gradebook import FAILURE_COMMENT
from ds4023.grading.preprocessors.execute import describe_failure
from ds4023.grading.recorder import Recorder
from ds4023.grading.runners.local import Job, WorkerStartError, run_local
from ds4023.grading.state import GradingState
from ds4023.grading.task import AssignmentBundle, SubmissionFiles, grade_submission
from ds4023.sandbox import kernelspec
from tests.helpers.grading_course import (
    ASSIGNMENT,
    COUNT,
    EXPECTED,
    FAILING,
    SPREAD,
    STUDENTS,
    copy_course,
    course_env,
    graded_class,
    nbgrader_env,
    new_course,
    scores,
    table_of,
)

pytestmark = pytest.mark.timeout(600)


def test_every_student_scores_exactly_as_expected_part_by_part(tmp_path_factory):
    """Does each toy student get exactly the points their answers deserve, part by part?"""
    course, summary = graded_class(tmp_path_factory)
    assert scores(table_of(course)) == EXPECTED
    totals = {r.student: (r.score, r.max_score, r.status) for r in summary.rows}
    assert totals == {
        "correct": (6, 8, "graded"),
        "blank": (0, 8, "graded"),
        "partial": (2, 8, "graded"),
        "one_mistake": (3, 8, "graded"),
        "kernel_killer": (0, 8, "failed"),
        "malformed": (0, 8, "failed"),
    }
    assert summary.graded_now == len(STUDENTS) and summary.skipped == 0


def test_failures_are_recorded_zeros_with_their_reason(tmp_path_factory):
    """Does a crashed or unreadable submission get a recorded zero with the reason, everywhere?"""
    course, summary = graded_class(tmp_path_factory)
    state = GradingState(course)
    reasons = {s: state.get(ASSIGNMENT, s)["reason"] for s in FAILING}
    assert "kernel died while running cell 4 (test_square)" in reasons["kernel_killer"]
    assert "not valid JSON" in reasons["malformed"]
    table = table_of(course)
    for student in FAILING:
        comments = set(table[student]["comments"].values())
        assert comments == {FAILURE_COMMENT + reasons[student]}
        assert not (course / "autograded" / student / ASSIGNMENT).exists()
    for student in set(STUDENTS) - FAILING:
        assert state.get(ASSIGNMENT, student)["status"] == "graded"
        assert (course / "autograded" / student / ASSIGNMENT / "toy.ipynb").is_file()
        assert (course / "autograded" / student / ASSIGNMENT / "toy_data.csv").is_file()
    assert summary.exit_code == 1 and len(summary.failed) == len(FAILING)
    text = batch_grade.format_table(summary)
    assert "2 failed (2 in this run)" in text and "recorded as zero" in text


def test_serial_run_gives_the_same_gradebook_as_the_parallel_run(tmp_path_factory):
    """Do one worker and two workers leave identical grades, comments and penalties?"""
    parallel, _ = graded_class(tmp_path_factory)
    serial = new_course(tmp_path_factory, tmp_path_factory.mktemp("serial") / "course")
    with course_env():
        summary = batch_grade.grade_course(serial, workers=1, progress=False)
    assert summary.graded_now == len(STUDENTS)
    assert table_of(serial) == table_of(parallel)


def test_gradebook_matches_nbgrader_autograde_for_gradable_submissions(tmp_path_factory):
    """Does the single-writer path record exactly what `nbgrader autograde` records?"""
    ours, _ = graded_class(tmp_path_factory)
    theirs = new_course(tmp_path_factory, tmp_path_factory.mktemp("nbgrader") / "course")
    env = {**nbgrader_env(), "DS4023_CELL_TIMEOUT": "20"}
    cmd = [sys.executable, "-m", "nbgrader", "autograde", ASSIGNMENT]
    subprocess.run(cmd, cwd=theirs, env=env, capture_output=True, check=False)
    expected, got = table_of(theirs), table_of(ours)
    for student in set(STUDENTS) - FAILING:
        assert got[student] == expected[student], student
    for student in FAILING:  # nbgrader leaves no score at all; we record zeros
        assert {p["auto_score"] for p in expected[student]["parts"].values()} == {None}
        assert {p["auto_score"] for p in got[student]["parts"].values()} == {0.0}


def test_second_run_skips_unchanged_and_regrades_only_what_changed(tmp_path_factory):
    """Is a rerun with nothing new a no-op, and does editing one submission regrade only it?"""
    course = copy_course(graded_class(tmp_path_factory)[0], tmp_path_factory.mktemp("rerun") / "c")
    before = table_of(course)
    with course_env():
        again = batch_grade.grade_course(course, workers=2, progress=False)
        assert (again.graded_now, again.skipped) == (0, len(STUDENTS))
        assert table_of(course) == before
        nb = course / "submitted" / "partial" / ASSIGNMENT / "toy.ipynb"
        text = json.loads(nb.read_text())
        for cell in text["cells"]:
            if cell["metadata"].get("nbgrader", {}).get("grade_id") == "spread":
                cell["source"] = SPREAD
        nb.write_text(json.dumps(text))
        third = batch_grade.grade_course(course, workers=2, progress=False)
    assert (third.graded_now, third.skipped) == (1, len(STUDENTS) - 1)
    after = scores(table_of(course))
    assert after["partial"]["test_spread"] == (3.0, False)
    assert {s: v for s, v in after.items() if s != "partial"} == {
        s: v for s, v in EXPECTED.items() if s != "partial"
    }


def test_force_regrades_everything_to_the_same_grades(tmp_path_factory):
    """Does --force grade every submission again and land on the same grades?"""
    course = copy_course(graded_class(tmp_path_factory)[0], tmp_path_factory.mktemp("force") / "c")
    before = table_of(course)
    with course_env():
        code = batch_grade.main(
            ["--course", str(course), "--force", "--quiet", "--no-feedback", "--no-report"]
        )
    assert code == 1  # the two failing students still fail
    assert table_of(course) == before
    graded_at = {GradingState(course).get(ASSIGNMENT, s)["graded_at"] for s in STUDENTS}
    assert graded_at and all(stamp for stamp in graded_at)


def test_a_killed_run_resumes_to_the_grades_of_an_uninterrupted_run(tmp_path_factory):
    """After SIGKILL mid-class, does a rerun finish the rest and match an undisturbed run?"""
    reference, _ = graded_class(tmp_path_factory)
    course = new_course(tmp_path_factory, tmp_path_factory.mktemp("killed") / "course")
    state_file = course / ".grading" / "state.json"
    cmd = [sys.executable, "-m", "ds4023.cli", "grade", "--course", str(course), "--workers", "1"]
    cmd += ["--quiet", "--no-feedback", "--no-report"]
    env = {**nbgrader_env(), "DS4023_CELL_TIMEOUT": "20"}
    proc = subprocess.Popen(cmd, env=env, start_new_session=True, stdout=subprocess.DEVNULL)
    deadline = time.monotonic() + 240
    recorded = 0
    while time.monotonic() < deadline and proc.poll() is None:
        if state_file.is_file():
            recorded = len(json.loads(state_file.read_text())["entries"])
            if recorded >= 1:
                break
        time.sleep(0.05)
    assert proc.poll() is None, "the batch finished before it could be killed"
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    recorded = len(json.loads(state_file.read_text())["entries"])
    assert 1 <= recorded < len(STUDENTS)
    with course_env():
        # the same settings as the killed command line (sandboxed kernels), so its work counts
        resumed = batch_grade.grade_course(
            course, workers=2, progress=False, setup_hook=kernelspec.GRADING_HOOK
        )
    assert resumed.skipped == recorded
    assert resumed.graded_now == len(STUDENTS) - recorded
    assert table_of(course) == table_of(reference)


def test_timeouts_and_a_killed_worker_fail_only_their_own_submission(tmp_path_factory):
    """Do an endless loop, a grader killer and a misnamed notebook spare the others?"""
    hostile = {
        # an endless loop the cell timeout interrupts: only that part is lost
        "looper": {"square": "def square(x):\n    while True:\n        pass", "spread": SPREAD},
        # kills the grading worker, the kernel's parent process
        "grader_killer": {"square": "import os, signal\nos.kill(os.getppid(), signal.SIGKILL)"},
        "fine": {"square": STUDENTS["correct"]["square"], "count_positive": COUNT},
        "renamed": {},  # submits "toy (1).ipynb": nothing to grade, say so
    }
    course = new_course(tmp_path_factory, tmp_path_factory.mktemp("hostile") / "c", hostile)
    renamed = course / "submitted" / "renamed" / ASSIGNMENT
    (renamed / "toy.ipynb").rename(renamed / "toy (1).ipynb")
    with course_env(cell_timeout=3):
        summary = batch_grade.grade_course(course, workers=2, progress=False)
    rows = {r.student: (r.score, r.status) for r in summary.rows}
    assert rows == {
        "looper": (3, "graded"),
        "grader_killer": (0, "failed"),
        "fine": (3, "graded"),
        "renamed": (0, "failed"),
    }
    state = GradingState(course)
    assert state.get(ASSIGNMENT, "renamed")["reason"] == (
        "no notebook named toy.ipynb in the submission (found: toy (1).ipynb)"
    )
    assert "worker process died" in state.get(ASSIGNMENT, "grader_killer")["reason"]
    got = scores(table_of(course))
    assert got["looper"]["test_square"] == (0.0, False)
    assert got["looper"]["test_spread"] == (3.0, False)


def test_command_line_errors_are_one_line_and_exit_codes_tell_the_outcome(tmp_path, capsys):
    """Does the CLI exit 2 with one error line on bad input, and 0 when nothing failed?"""
    assert batch_grade.main(["--course", str(tmp_path), "--quiet"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "nbgrader_config.py" in err[0]


def test_an_unreleased_assignment_is_refused_before_anything_is_graded(tmp_path_factory, capsys):
    """Is a submission of an assignment missing from the gradebook a clear error, not a zero?"""
    students = {"correct": STUDENTS["correct"]}
    course = new_course(tmp_path_factory, tmp_path_factory.mktemp("unreleased") / "c", students)
    (course / "submitted" / "zed" / "ghost").mkdir(parents=True)  # after correct/toy
    with course_env():
        code = batch_grade.main(["--course", str(course), "--quiet", "--no-feedback"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and "'ghost' is not in the gradebook" in err[0]
    assert not (course / ".grading" / "state.json").exists()
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}", "ds4023") as gb:
        assert gb.students == []  # not even the released assignment's students were added


def test_a_class_without_failures_exits_zero(tmp_path_factory, capsys):
    """Does the command exit 0 and print the table when every submission is graded?"""
    course = copy_course(graded_class(tmp_path_factory)[0], tmp_path_factory.mktemp("ok") / "c")
    with course_env():
        code = batch_grade.main(
            ["--course", str(course), "--student", "correct", "--quiet", "--no-feedback"]
        )
    out = capsys.readouterr().out
    assert code == 0
    assert "correct" in out and "grade (course terms)" in out and "0 failed" in out
    assert (course / "reports" / "toy_grades.csv").is_file()


def test_failure_reasons_name_the_cause_and_the_cell():
    """Is each kind of grading failure turned into a reason a student can act on?"""

    class CellTimeoutError(Exception):
        pass

    class DeadKernelError(Exception):
        pass

    class Running:
        current = (7, "test_spread")

    where = " while running cell 7 (test_spread)"
    assert describe_failure(CellTimeoutError("x"), Running(), 0) == (
        "a cell ran past its time limit and ignored the interrupt" + where
    )
    assert describe_failure(DeadKernelError("x"), Running(), 0).startswith(
        "the kernel died" + where
    )
    assert describe_failure(DeadKernelError("x"), Running(), 30) == (
        "stopped: the submission ran longer than its 30 s limit" + where
    )
    assert describe_failure(ValueError("bad value\nmore"), None, 0) == "ValueError: bad value"


def test_workers_that_cannot_start_stop_the_run_instead_of_failing_students(tmp_path):
    """If no worker can start, is that an error for the operator rather than zeros for all?"""
    bundle = AssignmentBundle(ASSIGNMENT, "ds4023", ("toy",), b"", {}, {}, 5.0, "fp")
    job = Job(ASSIGNMENT, "ann", lambda: SubmissionFiles("ann", {}, "digest"))
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the log folder should go")
    with pytest.raises(WorkerStartError):
        list(run_local({ASSIGNMENT: bundle}, [job], 1, log_dir=str(blocker / "logs")))


def test_a_setup_hook_configures_each_scratch_course_before_grading(tmp_path_factory):
    """Does the setup hook run in the worker's scratch course, and change the fingerprint?"""
    students = {"correct": STUDENTS["correct"]}
    course = new_course(tmp_path_factory, tmp_path_factory.mktemp("hook") / "c", students)
    with course_env():
        summary = batch_grade.grade_course(
            course,
            workers=1,
            progress=False,
            setup_hook="tests.helpers.grading_course:plant_marker",
        )
        marker = course / "autograded" / "correct" / ASSIGNMENT / "hook_marker.txt"
        assert summary.graded_now == 1 and marker.is_file()
        assert not marker.read_text().startswith(str(course))  # it ran in the scratch copy
        plain = batch_grade.grade_course(course, workers=1, progress=False)
    assert plain.graded_now == 1  # another hook is another grading set-up: regraded
    assert scores(table_of(course))["correct"] == EXPECTED["correct"]


def test_an_unusable_gradebook_is_one_error_line_and_nothing_is_recorded(tmp_path_factory, capsys):
    """Does a gradebook URL that cannot be opened stop the run with one clear line?"""
    course = new_course(tmp_path_factory, tmp_path_factory.mktemp("nodb") / "c")
    with course_env():
        os.environ["DS4023_DB_URL"] = f"sqlite:///{course / 'no-such-folder' / 'gradebook.db'}"
        code = batch_grade.main(["--course", str(course), "--quiet"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1
    assert err[0].startswith("error: the gradebook cannot be used (unable to open database file)")
    assert not (course / ".grading" / "state.json").exists()
    assert not (course / "autograded").exists()


def test_a_submission_over_its_time_limit_has_its_kernel_killed(tmp_path_factory):
    """Does the watchdog stop a submission whose cells together overrun its limit?"""
    slow = {"slowpoke": {"square": "import time\ntime.sleep(30)\n" + STUDENTS["correct"]["square"]}}
    course = new_course(tmp_path_factory, tmp_path_factory.mktemp("slow") / "c", slow)
    with course_env():
        recorder = Recorder(course, submission_timeout=3)
        plan = recorder.plan(ASSIGNMENT)
        folder = course / "submitted" / "slowpoke" / ASSIGNMENT
        sub = read_submission(folder, "slowpoke", plan["support"], recorder.coursedir.ignore)
        started = time.monotonic()
        result = grade_submission(recorder.bundle(ASSIGNMENT), sub)
    assert time.monotonic() - started < 20  # killed, not left to sleep for 30 s
    assert result.status == "failed" and result.notebooks == {}
    assert result.reason.startswith("stopped: the submission ran longer than its 3 s limit")


def test_a_second_run_on_the_same_course_is_refused_while_one_is_grading(tmp_path_factory, capsys):
    """While one run holds the course, does another stop instead of writing the gradebook too?"""
    course = copy_course(graded_class(tmp_path_factory)[0], tmp_path_factory.mktemp("lock") / "c")
    with open(course / ".grading" / "lock", "a+") as held:
        fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)
        held.truncate(0)
        held.write("4242")
        held.flush()
        with course_env():
            code = batch_grade.main(["--course", str(course), "--quiet", "--force"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and "another grading run (pid 4242)" in err[0]
    with course_env():  # released: the next run goes ahead (and has nothing new to do)
        assert batch_grade.grade_course(course, progress=False).skipped == len(STUDENTS)
