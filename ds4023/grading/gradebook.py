"""The grading parent's side of the gradebook: students and results in, one writer only."""

from __future__ import annotations

import json
import os
import shutil
import sys
import warnings
from pathlib import Path

import nbformat
from nbgrader.api import Gradebook, MissingEntry
from nbgrader.preprocessors import AssignLatePenalties, SaveAutoGrades
from sqlalchemy.exc import SAWarning
from traitlets.config import Config

from ds4023.grading.task import GradeResult

#: Prefix of the comment recorded on every answer cell of a submission that failed.
FAILURE_COMMENT = "Not graded automatically: "


class GradebookError(RuntimeError):
    """The gradebook lacks something grading needs; the message says how to fix it."""


def ensure_alembic_on_path() -> None:
    """Put this interpreter's ``bin/`` first on PATH: new gradebooks run ``alembic``."""
    bindir = str(Path(sys.executable).parent)
    if shutil.which("alembic") is None or not os.environ.get("PATH", "").startswith(bindir):
        os.environ["PATH"] = os.pathsep.join([bindir, os.environ.get("PATH", "")])


def database_problem(err: Exception) -> str:
    """Say in one line that the gradebook cannot be used, and how to fix it.

    Args:
        err: the database error.

    Returns:
        The message (the driver's first line; passwords are never part of it).
    """
    first = (str(getattr(err, "orig", None) or err).strip().splitlines() or [""])[0][:200]
    return f"the gradebook cannot be used ({first}): check DS4023_DB_URL and the database server"


def ensure_students(db_url: str, course_id: str, students: list[str]) -> None:
    """Create the students that are not in the gradebook yet (as ``nbgrader autograde`` does).

    Args:
        db_url: the gradebook URL.
        course_id: the course id.
        students: student ids.
    """
    with Gradebook(db_url, course_id) as gb:
        known = {s.id for s in gb.students}
        for student in students:
            if student not in known:
                gb.update_or_create_student(student)


def submitted_students(db_url: str, course_id: str, assignment: str) -> set[str]:
    """List the students who have a submission of an assignment in the gradebook.

    Args:
        db_url: the gradebook URL.
        course_id: the course id.
        assignment: the assignment name.

    Returns:
        The student ids.
    """
    with Gradebook(db_url, course_id) as gb:
        return {s.student.id for s in gb.find_assignment(assignment).submissions}


def _open_submission(gb: Gradebook, assignment: str, student: str, timestamp) -> None:
    gb.update_or_create_student(student)
    kwargs = {"timestamp": timestamp} if timestamp else {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SAWarning)
        gb.update_or_create_submission(assignment, student, **kwargs)


def record_result(
    db_url: str, course_id: str, config: Config, result: GradeResult, timestamp=None
) -> None:
    """Write one graded submission into the gradebook, as ``nbgrader autograde`` would.

    Creates the student and the submission (with the submission's timestamp), gives notebooks
    missing from the submission a zero, then runs nbgrader's own ``SaveAutoGrades`` and
    ``AssignLatePenalties`` preprocessors on each returned autograded notebook.

    Args:
        db_url: the gradebook URL.
        course_id: the course id.
        config: the course's nbgrader configuration (late-penalty plugin settings).
        result: a result with status ``"graded"``.
        timestamp: the submission time from ``timestamp.txt`` (None when there is none).

    Raises:
        GradebookError: the gradebook disagrees with the worker's scores (a bug, not a student).
    """
    with Gradebook(db_url, course_id) as gb:
        _open_submission(gb, result.assignment, result.student, timestamp)
        for nb in gb.find_assignment(result.assignment).notebooks:
            if nb.name not in result.notebooks:
                sub = gb.find_submission_notebook(nb.name, result.assignment, result.student)
                for grade in sub.grades:
                    grade.auto_score = 0
                    grade.needs_manual_grade = False
        gb.db.commit()
    for name, data in result.notebooks.items():
        nb = nbformat.reads(data.decode("utf-8"), as_version=4)
        resources = {
            "nbgrader": {
                "notebook": name,
                "assignment": result.assignment,
                "student": result.student,
                "db_url": db_url,
            }
        }
        nb, resources = SaveAutoGrades(config=config)(nb, resources)
        AssignLatePenalties(config=config)(nb, resources)
    recorded = recorded_auto_scores(db_url, course_id, result.assignment, result.student)
    expected = {n: s for n, s in result.scores.items() if n in result.notebooks}
    if {n: recorded.get(n) for n in expected} != expected:
        raise GradebookError(
            f"{result.student}/{result.assignment}: gradebook scores {recorded} differ from the "
            f"worker's {expected}; regrade with --force"
        )


def record_failure(
    db_url: str, course_id: str, assignment: str, student: str, reason: str, timestamp=None
) -> None:
    """Record a submission that could not be graded: zero points, flagged, reason attached.

    Every grade gets an automatic score of 0 and is marked as needing manual grading (so the
    formgrader lists it), every answer cell gets the reason as its automatic comment, and any
    late penalty is cleared. Manual scores an instructor gave earlier are kept.

    Args:
        db_url: the gradebook URL.
        course_id: the course id.
        assignment: the assignment name.
        student: the student id.
        reason: why grading failed.
        timestamp: the submission time from ``timestamp.txt`` (None when there is none).
    """
    with Gradebook(db_url, course_id) as gb:
        _open_submission(gb, assignment, student, timestamp)
        for nb in gb.find_assignment(assignment).notebooks:
            sub = gb.find_submission_notebook(nb.name, assignment, student)
            for grade in sub.grades:
                grade.auto_score = 0.0
                grade.needs_manual_grade = True
            for comment in sub.comments:
                comment.auto_comment = FAILURE_COMMENT + reason
            sub.late_submission_penalty = None
        gb.db.commit()


def recorded_auto_scores(db_url: str, course_id: str, assignment: str, student: str) -> dict:
    """Read one submission's automatic scores back from the gradebook.

    Args:
        db_url: the gradebook URL.
        course_id: the course id.
        assignment: the assignment name.
        student: the student id.

    Returns:
        notebook name -> grade_id -> auto score (None where nothing was scored automatically).
    """
    with Gradebook(db_url, course_id) as gb:
        sub = gb.find_submission(assignment, student)
        return {nb.name: {g.name: g.auto_score for g in nb.grades} for nb in sub.notebooks}


def grade_table(db_url: str, course_id: str, assignment: str) -> dict:
    """Everything the gradebook holds about an assignment's submissions, as plain data.

    Args:
        db_url: the gradebook URL.
        course_id: the course id.
        assignment: the assignment name.

    Returns:
        student -> ``{"late_penalty": float, "parts": {grade_id: {...}}, "comments": {...}}``
        where each part has ``notebook``, ``cell_type``, ``max_score``, ``auto_score``,
        ``manual_score``, ``score`` and ``needs_manual_grade``; comments map a cell name to
        its automatic comment. Grade ids are unique per assignment in this course.
    """
    table = {}
    with Gradebook(db_url, course_id) as gb:
        try:
            found = gb.find_assignment(assignment)
        except MissingEntry:
            raise GradebookError(f"assignment '{assignment}' is not in the gradebook") from None
        for sub in found.submissions:
            parts, comments, penalty = {}, {}, 0.0
            for nb in sub.notebooks:
                penalty += nb.late_submission_penalty or 0.0
                for g in nb.grades:
                    parts[g.name] = {
                        "notebook": nb.name,
                        "cell_type": g.cell.cell_type,
                        "max_score": g.max_score,
                        "auto_score": g.auto_score,
                        "manual_score": g.manual_score,
                        "score": g.score,
                        "needs_manual_grade": g.needs_manual_grade,
                    }
                for c in nb.comments:
                    comments[c.name] = c.auto_comment
            table[sub.student.id] = {"late_penalty": penalty, "parts": parts, "comments": comments}
    return json.loads(json.dumps(table))
