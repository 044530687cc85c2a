"""Tiny course directories for the grading tests: the toy assignment and its sample students.

The toy assignment (``tests/fixtures/toy/``) has three functions, each with a visible and/or
hidden test, a data file it reads by name, and one written answer. Students are derived from
the generated release notebook by replacing solution cells, so they stay valid whenever the
fixture notebook changes.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path

import nbformat

from ds4023.grading.gradebook import grade_table
from ds4023.grading.state import GradingState
from ds4023.release import run_nbgrader
from tests.helpers import COURSE_ROOT

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
ASSIGNMENT = "toy"

SQUARE = "def square(x):\n    return x * x"
SPREAD = "def spread(xs):\n    return float(np.max(xs) - np.min(xs))"
COUNT = "def count_positive(xs):\n    return int(sum(1 for x in xs if x > 0))"
WRITTEN = "Several inputs catch code that memorised one answer."

#: Student -> solution cell grade_id -> new source. None means: write a damaged file.
STUDENTS: dict[str, dict[str, str] | None] = {
    "correct": {"square": SQUARE, "spread": SPREAD, "count_positive": COUNT, "explain": WRITTEN},
    "blank": {},
    "partial": {"square": SQUARE},
    # max minus the FIRST element: right for the visible [1, 4, 2], wrong for the hidden inputs
    "one_mistake": {
        "square": SQUARE,
        "spread": "def spread(xs):\n    return float(np.max(xs) - xs[0])",
        "count_positive": COUNT,
        "explain": WRITTEN,
    },
    "kernel_killer": {"square": "def square(x):\n    import os\n    os._exit(1)"},
    "malformed": None,
}

#: Expected gradebook scores, part by part: (auto_score, needs_manual_grade).
#: test_square 2 pts, test_spread 3 pts, test_count_positive 1 pt, explain 2 pts (written).
#: A written answer left as released is scored 0 automatically; an edited one waits for a
#: person (auto None, flagged). A failed submission gets 0 everywhere, flagged for review.
_FAILED = {p: (0.0, True) for p in ("test_square", "test_spread", "test_count_positive")}
EXPECTED: dict[str, dict[str, tuple[float | None, bool]]] = {
    "correct": {
        "test_square": (2.0, False),
        "test_spread": (3.0, False),
        "test_count_positive": (1.0, False),
        "explain": (None, True),
    },
    "blank": {
        "test_square": (0.0, False),  # NotImplementedError in every function
        "test_spread": (0.0, False),
        "test_count_positive": (0.0, False),
        "explain": (0.0, False),  # unchanged answer: nbgrader scores it 0 itself
    },
    "partial": {
        "test_square": (2.0, False),  # the one function written is right
        "test_spread": (0.0, False),
        "test_count_positive": (0.0, False),
        "explain": (0.0, False),
    },
    "one_mistake": {
        "test_square": (2.0, False),
        "test_spread": (0.0, False),  # visible test passes, both hidden inputs fail
        "test_count_positive": (1.0, False),
        "explain": (None, True),
    },
    "kernel_killer": {**_FAILED, "explain": (0.0, True)},  # os._exit in the first test cell
    "malformed": {**_FAILED, "explain": (0.0, True)},  # not JSON: nothing can run
}
FAILING = {"kernel_killer", "malformed"}

#: Lines of the hidden-test regions (the feedback must never show any of them).
HIDDEN_MARKERS = ("hidden-marker-square", "hidden-marker-spread", "hidden-marker-count")


def nbgrader_env() -> dict[str, str]:
    """Environment for grading subprocesses: venv first on PATH, own gradebook, short timeouts."""
    env = dict(os.environ)
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    env.pop("DS4023_DB_URL", None)
    env["DS4023_CELL_TIMEOUT"] = "20"
    env["MPLBACKEND"] = "Agg"
    return env


def released_course(dest: Path) -> Path:
    """Build a course directory with the toy assignment released (gradebook and release/).

    Args:
        dest: an empty or missing folder.

    Returns:
        The course directory.
    """
    dest.mkdir(parents=True, exist_ok=True)
    shutil.copy2(COURSE_ROOT / "nbgrader_config.py", dest / "nbgrader_config.py")
    shutil.copytree(FIXTURES / ASSIGNMENT, dest / "source" / ASSIGNMENT)
    saved = {k: os.environ.get(k) for k in ("DS4023_DB_URL", "PATH")}
    try:
        os.environ.update({"PATH": nbgrader_env()["PATH"]})
        os.environ.pop("DS4023_DB_URL", None)
        run_nbgrader(["generate_assignment", ASSIGNMENT, "--force"], dest)
    finally:
        for k, v in saved.items():
            if v is not None:
                os.environ[k] = v
    return dest


def student_notebook(release_nb: Path, answers: dict[str, str]) -> str:
    """Fill a released notebook's answer cells as one student would.

    Args:
        release_nb: the released notebook.
        answers: grade_id -> new cell source.

    Returns:
        The student's notebook as JSON text.
    """
    nb = nbformat.read(release_nb, as_version=4)
    for cell in nb.cells:
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if grade_id in answers:
            cell.source = answers[grade_id]
    return nbformat.writes(nb)


def add_students(course: Path, students: dict[str, dict[str, str] | None] = STUDENTS) -> None:
    """Write ``submitted/<student>/toy/`` for each student (notebook plus the data file).

    Args:
        course: a released course directory.
        students: student -> answers (None: a damaged, non-JSON notebook).
    """
    release = course / "release" / ASSIGNMENT
    for student, answers in students.items():
        folder = course / "submitted" / student / ASSIGNMENT
        folder.mkdir(parents=True, exist_ok=True)
        shutil.copy2(release / "toy_data.csv", folder / "toy_data.csv")
        text = (
            student_notebook(release / "toy.ipynb", answers)
            if answers is not None
            else (release / "toy.ipynb").read_text()[:700]
        )
        (folder / "toy.ipynb").write_text(text)
        (folder / "timestamp.txt").write_text("2026-03-01 12:00:00.000000 UTC")


def scores(table: dict) -> dict[str, dict[str, tuple[float | None, bool]]]:
    """Reduce a gradebook grade table to student -> part -> (auto_score, needs_manual_grade)."""
    return {
        s: {p: (v["auto_score"], v["needs_manual_grade"]) for p, v in row["parts"].items()}
        for s, row in table.items()
    }


def table_of(course: Path) -> dict:
    """The toy assignment's grade table from the course's own SQLite gradebook."""
    return grade_table(f"sqlite:///{course / 'gradebook.db'}", "ds4023", ASSIGNMENT)


def outcomes(course: Path) -> dict:
    """student -> (status, reason) from the course's grading state."""
    state = GradingState(course)
    return {
        s: (state.get(ASSIGNMENT, s)["status"], state.get(ASSIGNMENT, s)["reason"])
        for s in STUDENTS
    }


def hidden_lines(course: Path) -> list[str]:
    """Every non-blank line inside a hidden-test region of the source notebook."""
    nb = json.loads((course / "source" / ASSIGNMENT / "toy.ipynb").read_text())
    lines, inside = [], False
    for cell in nb["cells"]:
        for line in "".join(cell["source"]).splitlines():
            if "BEGIN HIDDEN TESTS" in line:
                inside = True
            elif "END HIDDEN TESTS" in line:
                inside = False
            elif inside and line.strip():
                lines.append(line.strip())
    return lines


class course_env:
    """Context manager: the environment a grading run in a test needs, restored afterwards.

    Unsets ``DS4023_DB_URL`` (each course copy uses its own SQLite gradebook), sets a short
    cell timeout and puts the venv's ``bin/`` first on PATH.
    """

    def __init__(self, cell_timeout: int = 20):
        self.values = {**nbgrader_env(), "DS4023_CELL_TIMEOUT": str(cell_timeout)}

    def __enter__(self):
        self.saved = dict(os.environ)
        os.environ.clear()
        os.environ.update(self.values)
        return self

    def __exit__(self, *exc):
        os.environ.clear()
        os.environ.update(self.saved)


_CACHE: dict[str, object] = {}


def released_template(factory) -> Path:
    """The released toy course, built once per test session (generate_assignment is slow)."""
    if "released" not in _CACHE:
        with course_env():
            _CACHE["released"] = released_course(factory.mktemp("released") / "course")
    return _CACHE["released"]


def new_course(factory, dest: Path, students=STUDENTS) -> Path:
    """A fresh released course at ``dest`` with the given students submitted."""
    shutil.copytree(released_template(factory), dest)
    add_students(dest, students)
    return dest


def graded_class(factory):
    """The whole toy class graded once per session with 2 workers: ``(course, summary)``.

    Tests must not modify it; they copy it with :func:`copy_course` first.
    """
    if "graded" not in _CACHE:
        from ds4023.pipeline import grade_course

        course = new_course(factory, factory.mktemp("graded") / "course")
        with course_env():
            summary = grade_course(course, workers=2, progress=False)
        _CACHE["graded"] = (course, summary)
    return _CACHE["graded"]


def copy_course(course: Path, dest: Path) -> Path:
    """Copy a course directory (gradebook, state and products included)."""
    shutil.copytree(course, dest, symlinks=True)
    return dest


def plant_marker(config, scratch: Path):
    """A setup hook for the tests: drop a file into the scratch course's source folder."""
    (Path(scratch) / "source" / ASSIGNMENT / "hook_marker.txt").write_text(str(scratch))
    config.Execute.timeout = 17
    return lambda: None
