"""Small nbgrader notebooks built from cell factories, and a gradebook that knows them.

Modelled on nbgrader's own test helpers (``nbgrader/tests/__init__.py``): each factory returns
one cell with the nbgrader metadata of its kind, so a test builds exactly the notebook it needs
instead of reading a fixture file. :func:`save_release` records a notebook in an SQLite
gradebook as ``nbgrader generate_assignment`` would (nbgrader's ``SaveCells``), which is what the
autograder's sanitizing steps restore from; :func:`tiny_course` adds the course folder around it.
"""

from __future__ import annotations

import copy
import functools
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook
from nbgrader.api import Base, Gradebook
from nbgrader.nbgraderformat import SCHEMA_VERSION
from nbgrader.preprocessors import SaveCells
from nbgrader.utils import compute_checksum
from sqlalchemy import create_engine, text

COURSE_ID = "ds4023"


def _cell(source: str, cell_type: str, **flags) -> nbformat.NotebookNode:
    cell = new_code_cell(source) if cell_type == "code" else new_markdown_cell(source)
    meta = {"grade": False, "solution": False, "task": False, "locked": False}
    meta.update(flags)
    meta["schema_version"] = SCHEMA_VERSION
    cell.metadata["nbgrader"] = meta
    return cell


def grade_cell(source: str, grade_id: str, points: float = 1.0, cell_type: str = "code"):
    """A locked test cell worth ``points``."""
    return _cell(source, cell_type, grade=True, grade_id=grade_id, points=points, locked=True)


def solution_cell(source: str, grade_id: str, cell_type: str = "code"):
    """An answer cell the student edits."""
    return _cell(source, cell_type, solution=True, grade_id=grade_id)


def locked_cell(source: str, grade_id: str, cell_type: str = "code"):
    """A read-only cell that is neither a test nor an answer (set-up code, say)."""
    return _cell(source, cell_type, locked=True, grade_id=grade_id)


def task_cell(source: str, grade_id: str, points: float = 1.0):
    """A markdown task graded by hand."""
    return _cell(source, "markdown", task=True, grade_id=grade_id, points=points, locked=True)


def plain_cell(source: str, cell_type: str = "code"):
    """A cell without nbgrader metadata."""
    return new_code_cell(source) if cell_type == "code" else new_markdown_cell(source)


def notebook(*cells) -> nbformat.NotebookNode:
    """A notebook of (deep copies of) ``cells``, with a python3 kernelspec."""
    nb = new_notebook(cells=[copy.deepcopy(c) for c in cells])
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    return nb


def grade_ids(nb) -> list[str | None]:
    """The grade_id of each cell, in order (None for a cell without nbgrader metadata)."""
    return [c.metadata.get("nbgrader", {}).get("grade_id") for c in nb.cells]


@functools.cache
def _schema_head() -> str:
    from alembic.script import ScriptDirectory
    from nbgrader.dbutil import ALEMBIC_DIR

    return ScriptDirectory(ALEMBIC_DIR).get_current_head()


def new_gradebook(db_url: str) -> None:
    """Create an empty SQLite gradebook at ``db_url``, stamped with nbgrader's schema revision.

    nbgrader runs the ``alembic`` command to stamp every new database (seconds each on a busy
    machine); the revision is read here in-process, once.
    """
    engine = create_engine(db_url)
    try:
        Base.metadata.create_all(bind=engine)
        with engine.begin() as conn:
            conn.execute(text("CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL)"))
            conn.execute(text("INSERT INTO alembic_version VALUES (:v)"), {"v": _schema_head()})
    finally:
        engine.dispose()


def save_release(db_url: str, assignment: str, name: str, nb) -> None:
    """Record notebook ``name`` of ``assignment`` in the gradebook as generate_assignment does.

    Every nbgrader cell gets its checksum first (SaveCells stores it, OverwriteCells compares
    against it); ``nb`` itself is left unchanged.
    """
    nb = copy.deepcopy(nb)
    for cell in nb.cells:
        if "nbgrader" in cell.metadata:
            cell.metadata["nbgrader"]["checksum"] = compute_checksum(cell)
    path = Path(db_url.removeprefix("sqlite:///"))
    if db_url.startswith("sqlite:///") and not path.exists():
        new_gradebook(db_url)
    with Gradebook(db_url, COURSE_ID) as gb:
        gb.update_or_create_assignment(assignment)
    resources = {"nbgrader": {"db_url": db_url, "assignment": assignment, "notebook": name}}
    SaveCells().preprocess(nb, resources)


CONFIG = """\
c = get_config()  # noqa: F821
c.CourseDirectory.course_id = {course_id!r}
c.CourseDirectory.root = {root!r}
c.CourseDirectory.db_url = {db_url!r}
c.CourseDirectory.ignore = [".ipynb_checkpoints", "*.pyc", "__pycache__", "reference.py"]
"""


#: Autograding without a kernel: nbgrader's chain minus Execute (nothing runs, so nothing fails:
#: every test cell scores its full points); for tests of everything around the kernel.
NO_KERNEL = """
from nbconvert.preprocessors import ClearMetadataPreprocessor
from nbgrader.preprocessors import (
    AssignLatePenalties, CheckCellMetadata, IgnorePattern, LimitOutput, SaveAutoGrades,
)
c.Autograde.autograde_preprocessors = [
    IgnorePattern, ClearMetadataPreprocessor, LimitOutput, SaveAutoGrades,
    AssignLatePenalties, CheckCellMetadata,
]
"""


def tiny_course(
    root: Path,
    assignment: str,
    nb,
    extra: dict[str, bytes] | None = None,
    config: str = "",
) -> Path:
    """A course folder with one released notebook: config, source, gradebook.

    Args:
        root: the folder to create.
        assignment: the assignment (and notebook) name.
        nb: the source notebook.
        extra: other files of ``source/<assignment>/`` (data files), relative path -> bytes.
        config: more lines for nbgrader_config.py (e.g. :data:`NO_KERNEL`).

    Returns:
        ``root``.
    """
    root = Path(root)
    source = root / "source" / assignment
    source.mkdir(parents=True)
    db_url = f"sqlite:///{root / 'gradebook.db'}"
    (root / "nbgrader_config.py").write_text(
        CONFIG.format(course_id=COURSE_ID, root=str(root), db_url=db_url) + config
    )
    nbformat.write(nb, source / f"{assignment}.ipynb")
    for rel, data in (extra or {}).items():
        (source / rel).parent.mkdir(parents=True, exist_ok=True)
        (source / rel).write_bytes(data)
    save_release(db_url, assignment, assignment, nb)
    return root
