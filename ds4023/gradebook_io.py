"""The grading parent's side of the gradebook: templates out, results in, one writer only."""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
import warnings
from pathlib import Path

import nbformat
from nbgrader.api import Base, Gradebook, MissingEntry
from nbgrader.preprocessors import AssignLatePenalties, SaveAutoGrades
from sqlalchemy import create_engine, text
from sqlalchemy.exc import SAWarning, SQLAlchemyError
from traitlets.config import Config

from ds4023.grading_task import GradeResult

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


def assignment_spec(db_url: str, course_id: str, assignment: str) -> dict:
    """Describe an assignment exactly as the gradebook knows it (what autograding restores).

    Args:
        db_url: the gradebook URL.
        course_id: the course id.
        assignment: the assignment name.

    Returns:
        Plain data: due date, and per notebook its kernelspec and its grade, solution, task
        and source cells (name, type, points, lock, source, checksum), sorted by name.

    Raises:
        GradebookError: the assignment is not in the gradebook (it was never released).
    """
    with Gradebook(db_url, course_id) as gb:
        try:
            found = gb.find_assignment(assignment)
        except MissingEntry:
            raise GradebookError(
                f"assignment '{assignment}' is not in the gradebook: release it first "
                f"(`make release` or `nbgrader generate_assignment {assignment}`)"
            ) from None
        notebooks = []
        for nb in found.notebooks:
            notebooks.append(
                {
                    "name": nb.name,
                    "kernelspec": nb.kernelspec,
                    "grade": sorted((c.name, c.cell_type, c.max_score) for c in nb.grade_cells),
                    "solution": sorted(c.name for c in nb.solution_cells),
                    "task": sorted((c.name, c.cell_type, c.max_score) for c in nb.task_cells),
                    "source": sorted(
                        (c.name, c.cell_type, c.locked, c.source, c.checksum)
                        for c in nb.source_cells
                    ),
                }
            )
        duedate = found.duedate.isoformat() if found.duedate else None
    if not notebooks:
        raise GradebookError(
            f"assignment '{assignment}' has no notebooks in the gradebook: run `make release`"
        )
    return {"name": assignment, "duedate": duedate, "notebooks": notebooks}


def schema_version(db_url: str) -> str | None:
    """Read the gradebook's schema (alembic) revision, or None if it has none."""
    engine = create_engine(db_url)
    try:
        with engine.connect() as conn:
            return conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
    except SQLAlchemyError:
        return None
    finally:
        engine.dispose()


def build_template(spec: dict, course_id: str, revision: str | None = None) -> bytes:
    """Build an SQLite gradebook holding one assignment's cells and nothing else.

    Args:
        spec: the assignment as returned by :func:`assignment_spec`.
        course_id: the course id.
        revision: the main gradebook's schema revision; stamping it directly saves the
            ``alembic`` subprocess nbgrader runs for a new database (None: let nbgrader do it).

    Returns:
        The bytes of the SQLite file; a worker writes them to its scratch course.
    """
    ensure_alembic_on_path()
    with tempfile.TemporaryDirectory(prefix="ds4023-template-") as tmp:
        path = Path(tmp) / "gradebook.db"
        name = spec["name"]
        if revision:
            engine = create_engine(f"sqlite:///{path}")
            Base.metadata.create_all(bind=engine)
            with engine.begin() as conn:
                conn.execute(
                    text("CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL)")
                )
                conn.execute(text("INSERT INTO alembic_version VALUES (:v)"), {"v": revision})
            engine.dispose()
        with Gradebook(f"sqlite:///{path}", course_id) as gb:
            duedate = spec["duedate"]
            gb.update_or_create_assignment(name, duedate=duedate, course_id=course_id)
            for nb in spec["notebooks"]:
                gb.add_notebook(nb["name"], name, kernelspec=nb["kernelspec"])
                for cell, kind, points in nb["grade"]:
                    gb.update_or_create_grade_cell(
                        cell, nb["name"], name, max_score=points, cell_type=kind
                    )
                for cell in nb["solution"]:
                    gb.update_or_create_solution_cell(cell, nb["name"], name)
                for cell, kind, points in nb["task"]:
                    gb.update_or_create_task_cell(
                        cell, nb["name"], name, max_score=points, cell_type=kind
                    )
                for cell, kind, locked, source, checksum in nb["source"]:
                    gb.update_or_create_source_cell(
                        cell,
                        nb["name"],
                        name,
                        cell_type=kind,
                        locked=locked,
                        source=source,
                        checksum=checksum,
                    )
        return path.read_bytes()


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
