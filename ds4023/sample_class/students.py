"""Generate the sample class (submitted/<student>/<assignment>/) from the source notebooks."""

from __future__ import annotations

import copy
import importlib
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import nbformat
from nbformat import NotebookNode
from tqdm import tqdm

from ds4023 import command_line
from ds4023.assignments import MANIFESTS
from ds4023.files import replace_folder
from ds4023.settings import COURSE_ROOT

#: Assignment -> module defining its ``STUDENTS`` (tuple of Student) and ``EXPECTED_SCORES``
#: ({student: {grade_id: (score or None, one-line reason)}}), from the assignment manifests.
ASSIGNMENT_TABLES: dict[str, str] = {name: m.sample_class for name, m in MANIFESTS.items()}

_BEGIN, _END = "BEGIN SOLUTION", "END SOLUTION"


class SampleClassError(RuntimeError):
    """The sample class cannot be generated; the message says what is wrong and what to do."""


@dataclass(frozen=True)
class Edit:
    """One mistake, as a literal substitution in one cell of the student's notebook.

    Attributes:
        cell: the cell's nbgrader grade_id, or its cell id for a cell without nbgrader metadata.
        old: text that must occur exactly ``count`` times in that cell.
        new: what the student wrote instead.
        count: how often ``old`` occurs (all occurrences are replaced).
    """

    cell: str
    old: str
    new: str
    count: int = 1


@dataclass(frozen=True)
class Student:
    """A sample student: which solution cells they filled in, and the mistakes they made.

    Attributes:
        name: the student id (folder name under ``submitted/``).
        story: one line saying what this student did.
        solved: grade_ids of the solution cells filled in with the solution; None means all.
        edits: the mistakes, applied in order after the solutions are filled in.
    """

    name: str
    story: str
    solved: tuple[str, ...] | None = None
    edits: tuple[Edit, ...] = ()


#: One expected score per grade_id: (points, or None for a person to grade; one-line reason).
Expected = dict[str, tuple[float | None, str]]
#: Why a part scores 0 when the student left the released stub / answer text in place.
STUB = "stub left in: NotImplementedError"
UNTOUCHED = "answer left as released: nbgrader scores it 0 itself"


def expected_row(
    points: dict[str, float], written: tuple[str, ...], **changes: tuple[float | None, str]
) -> Expected:
    """A student's expected scores: full points, written answers left to a person, but ``changes``.

    Args:
        points: grade_id -> points of each automatically graded test cell.
        written: grade_ids of the written answers (nbgrader leaves them for a person).
        **changes: grade_id -> (score, reason) where this student differs from a correct one.

    Returns:
        grade_id -> (score or None, one-line reason), for every graded cell.
    """
    row: Expected = {
        grade_id: (full, "solution code; the student's mistake does not reach this check")
        for grade_id, full in points.items()
    }
    for grade_id in written:
        row[grade_id] = (None, "answer written: nbgrader leaves it for a person to grade")
    row.update(changes)
    return row


def blank_row(
    points: dict[str, float], written: tuple[str, ...], **changes: tuple[float | None, str]
) -> Expected:
    """The expected scores of a student who submitted the release as it is, but ``changes``.

    Args:
        points: grade_id -> points of each automatically graded test cell.
        written: grade_ids of the written answers.
        **changes: grade_id -> (score, reason) where a part fails for another reason.

    Returns:
        grade_id -> (0, reason) for every graded cell, with ``changes`` applied.
    """
    row: Expected = {grade_id: (0.0, STUB) for grade_id in points}
    row.update({grade_id: (0.0, UNTOUCHED) for grade_id in written})
    row.update(changes)
    return row


def load_table(assignment: str):
    """Import an assignment's student table.

    Args:
        assignment: the assignment name.

    Returns:
        The module holding ``STUDENTS`` and ``EXPECTED_SCORES`` for it.

    Raises:
        SampleClassError: the assignment has no student table.
    """
    if assignment not in ASSIGNMENT_TABLES:
        known = ", ".join(sorted(ASSIGNMENT_TABLES))
        raise SampleClassError(f"no sample students for {assignment!r}; known: {known}")
    return importlib.import_module(ASSIGNMENT_TABLES[assignment])


def cell_key(cell: NotebookNode) -> str:
    """The name edits use for a cell: its nbgrader grade_id, else its cell id."""
    return cell.get("metadata", {}).get("nbgrader", {}).get("grade_id") or cell.get("id", "")


def release_notebook(source: NotebookNode) -> NotebookNode:
    """What ``nbgrader generate_assignment`` makes of a source notebook, computed in-process.

    The same preprocessors in the same order as nbgrader's GenerateAssignment, minus the two
    that need a gradebook (SaveCells) or templates (InstantiateTests, unused here).

    Args:
        source: the source notebook (not modified).

    Returns:
        The release notebook: solution stubs, no hidden tests, no outputs, checksums.
    """
    from nbgrader import preprocessors as pp

    nb = copy.deepcopy(source)
    resources: dict = {}
    steps = [
        pp.IncludeHeaderFooter(),
        pp.LockCells(),
        pp.ClearSolutions(),
        pp.ClearOutput(),
        pp.CheckCellMetadata(),
        pp.ComputeChecksums(),
        pp.ClearHiddenTests(),
        pp.ClearMarkScheme(),
        pp.ComputeChecksums(),
        pp.CheckCellMetadata(),
    ]
    for step in steps:
        nb, resources = step.preprocess(nb, resources)
    return nb


def solution_text(cell: NotebookNode) -> str:
    """A solution cell as a student who solved it writes it: the delimiter lines dropped."""
    lines = cell.source.split("\n")
    return "\n".join(line for line in lines if _BEGIN not in line and _END not in line)


def apply_edit(text: str, edit: Edit, who: str) -> str:
    """Apply one mistake to a cell's text, failing loudly when it does not fit.

    Args:
        text: the cell's current source.
        edit: the substitution.
        who: the student's name, for the error message.

    Returns:
        The edited source.

    Raises:
        SampleClassError: ``edit.old`` does not occur exactly ``edit.count`` times.
    """
    found = text.count(edit.old)
    if found != edit.count:
        raise SampleClassError(
            f"student {who}: expected {edit.count} occurrence(s) of {edit.old!r} in cell "
            f"{edit.cell!r}, found {found}; update the edit to match the source notebook"
        )
    return text.replace(edit.old, edit.new)


def student_notebook(source: NotebookNode, release: NotebookNode, student: Student) -> NotebookNode:
    """Build one student's submitted notebook from the release.

    Args:
        source: the source notebook (solutions in).
        release: the release notebook made from it (see ``release_notebook``).
        student: who to build.

    Returns:
        The release with the student's solution cells filled in and their mistakes applied.

    Raises:
        SampleClassError: an edit or a solved cell names a cell that does not exist, or an
            edit does not match.
    """
    nb = copy.deepcopy(release)
    by_key = {cell_key(c): c for c in nb.cells}
    sources = {cell_key(c): c for c in source.cells}
    solution_keys = [
        k for k, c in sources.items() if c.metadata.get("nbgrader", {}).get("solution")
    ]
    solved = solution_keys if student.solved is None else list(student.solved)
    for key in solved:
        if key not in solution_keys:
            raise SampleClassError(f"student {student.name}: {key!r} is not a solution cell")
        by_key[key].source = solution_text(sources[key])
    for edit in student.edits:
        if edit.cell not in by_key:
            raise SampleClassError(f"student {student.name}: no cell {edit.cell!r} to edit")
        cell = by_key[edit.cell]
        cell.source = apply_edit(cell.source, edit, student.name)
    return nb


def generate(
    out: Path, course_root: Path = COURSE_ROOT, assignments: list[str] | None = None
) -> list[Path]:
    """Write every sample student's notebook under ``out/<student>/<assignment>/``.

    Each student's folder for an assignment is written to a temporary folder first and then
    moved into place, so an interrupted run never leaves a half-written submission.

    Args:
        out: the submissions folder (nbgrader's ``submitted/``).
        course_root: the course directory holding ``source/``.
        assignments: assignments to generate (default: all with a student table).

    Returns:
        The notebooks written, in order.

    Raises:
        SampleClassError: a source notebook is missing or a student cannot be built.
    """
    out = Path(out)
    written = []
    for assignment in assignments or sorted(ASSIGNMENT_TABLES):
        table = load_table(assignment)
        path = Path(course_root) / "source" / assignment / f"{assignment}.ipynb"
        if not path.is_file():
            raise SampleClassError(f"{path} is missing: the source notebook must exist first")
        source = nbformat.read(path, as_version=4)
        release = release_notebook(source)
        for student in tqdm(table.STUDENTS, desc=f"sample class {assignment}", unit="student"):
            nb = student_notebook(source, release, student)
            written.append(write_submission(nb, out / student.name / assignment, path.name))
    return written


def write_submission(nb: NotebookNode, folder: Path, filename: str) -> Path:
    """Write ``nb`` as ``folder/filename``, replacing the folder whole (never half-written).

    Args:
        nb: the notebook.
        folder: the submission folder, ``<submitted>/<student>/<assignment>``.
        filename: the notebook's file name.

    Returns:
        The path of the notebook written.
    """
    text = nbformat.writes(nb)
    replace_folder(folder, {filename: (text if text.endswith("\n") else text + "\n").encode()})
    return folder / filename


def main(argv: list[str] | None = None) -> int:
    """Command line: ``ds4023 sample-class [--out DIR] [--assignment NAME ...]``."""
    parser = command_line.parser(
        "sample-class",
        "Write the made-up sample class (one submission per kind of student: correct, "
        "blank, buggy, ...) into submitted/, generated from source/ for the demo and the tests.",
    )
    parser.add_argument(
        "--out", type=Path, default=COURSE_ROOT / "submitted", help="submissions folder"
    )
    parser.add_argument("--course", type=Path, default=COURSE_ROOT, help="course directory")
    parser.add_argument(
        "--assignment", action="append", help="only this assignment (repeatable; default: all)"
    )
    args = parser.parse_args(argv)
    return write_and_report(lambda: generate(args.out, args.course, args.assignment), args.out)


def write_and_report(write: Callable[[], list], out: Path) -> int:
    """Run a generator of submissions and say in one line what it wrote, or what went wrong.

    Args:
        write: writes the submissions and returns their paths (may raise SampleClassError).
        out: the submissions folder, for the message.

    Returns:
        The exit status: 0, or 2 after one ``error: ...`` line on stderr.
    """
    try:
        written = write()
    except SampleClassError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(f"wrote {len(written)} submissions under {out}")
    return 0
