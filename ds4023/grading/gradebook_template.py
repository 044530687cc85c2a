"""Per-assignment gradebook templates: what a grading worker needs of the gradebook, as bytes."""

from __future__ import annotations

import tempfile
from pathlib import Path

from nbgrader.api import Base, Gradebook, MissingEntry
from sqlalchemy import create_engine, text
from sqlalchemy.exc import SQLAlchemyError

from ds4023.grading.gradebook import GradebookError, ensure_alembic_on_path


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
