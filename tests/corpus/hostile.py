"""Generate a corpus of broken and hostile submissions from the source notebook, with outcomes."""

from __future__ import annotations

import argparse
import copy
import importlib
import sys
from dataclasses import dataclass
from pathlib import Path

import nbformat
from nbformat import NotebookNode
from tqdm import tqdm

from ds4023.assignments import MANIFESTS
from ds4023.files import replace_folder
from ds4023.sample_class import students as sample_class
from ds4023.sample_class.students import Edit, SampleClassError, Student, cell_key
from tests.helpers import COURSE_ROOT

#: Assignment -> module defining its ``HOSTILE`` and ``LEGIT`` students.
CORPUS_TABLES: dict[str, str] = {n: m.corpus for n, m in MANIFESTS.items() if m.corpus}


def _find(nb: NotebookNode, key: str) -> int:
    for i, cell in enumerate(nb.cells):
        if cell_key(cell) == key:
            return i
    raise SampleClassError(f"no cell {key!r} in the notebook: update the corpus to match it")


@dataclass(frozen=True)
class Replace:
    """Replace the whole source of a cell."""

    cell: str
    source: str

    def apply(self, nb: NotebookNode) -> None:
        nb.cells[_find(nb, self.cell)].source = self.source


@dataclass(frozen=True)
class Append:
    """Add code at the end of a cell."""

    cell: str
    code: str

    def apply(self, nb: NotebookNode) -> None:
        cell = nb.cells[_find(nb, self.cell)]
        cell.source = cell.source.rstrip("\n") + "\n\n" + self.code


@dataclass(frozen=True)
class AddCell:
    """Insert a new code cell after a cell (``after=""``: at the end of the notebook)."""

    code: str
    after: str = ""

    def apply(self, nb: NotebookNode) -> None:
        at = _find(nb, self.after) + 1 if self.after else len(nb.cells)
        nb.cells.insert(at, nbformat.v4.new_code_cell(self.code))


@dataclass(frozen=True)
class Delete:
    """Delete cells."""

    cells: tuple[str, ...]

    def apply(self, nb: NotebookNode) -> None:
        doomed = {_find(nb, key) for key in self.cells}
        nb.cells = [c for i, c in enumerate(nb.cells) if i not in doomed]


@dataclass(frozen=True)
class Metadata:
    """Change a cell's nbgrader metadata: ``(key, value)`` pairs; a value of None removes it."""

    cell: str
    changes: tuple[tuple[str, object], ...]

    def apply(self, nb: NotebookNode) -> None:
        meta = nb.cells[_find(nb, self.cell)].metadata.nbgrader
        for key, value in self.changes:
            if value is None:
                meta.pop(key, None)
            else:
                meta[key] = value


@dataclass(frozen=True)
class Tags:
    """Give cells Jupyter tags in their own metadata (``skip-execution``, ``raises-exception``)."""

    cells: tuple[str, ...]
    tags: tuple[str, ...]

    def apply(self, nb: NotebookNode) -> None:
        for key in self.cells:
            nb.cells[_find(nb, key)].metadata["tags"] = list(self.tags)


@dataclass(frozen=True)
class Duplicate:
    """Append a copy of a cell (same metadata) at the end, with another source if given."""

    cell: str
    source: str | None = None

    def apply(self, nb: NotebookNode) -> None:
        twin = copy.deepcopy(nb.cells[_find(nb, self.cell)])
        twin.id = f"{twin.get('id', 'cell')}-copy"
        if self.source is not None:
            twin.source = self.source
        nb.cells.append(twin)


@dataclass(frozen=True)
class MoveToEnd:
    """Move cells to the end of the notebook, in the order given."""

    cells: tuple[str, ...]

    def apply(self, nb: NotebookNode) -> None:
        moved = [nb.cells[_find(nb, key)] for key in self.cells]
        nb.cells = [c for c in nb.cells if all(c is not m for m in moved)] + moved


@dataclass(frozen=True)
class Hostile:
    """A bad submission and what the grader must make of it.

    Attributes:
        name: the student id.
        kind: ``resource``, ``tampering``, ``fooling``, ``outside`` or ``honest`` (unusual but
            honest code, which must be graded like the same work written plainly).
        story: one line saying what the submission does.
        base: the sample student whose work it starts from (its expected row is the basis).
        fast: apply the table's ``FAST_EDITS`` (training cut to 5 evaluations, so
            training_accuracy scores 0; figures skipped), so that the corpus grades quickly.
        edits: text substitutions (as in the sample class) on top of the base student's.
        changes: structural changes to the notebook, applied after the edits.
        origin: ``release`` (the current release), ``old_release`` (a release made from the
            source with the table's ``OLD_SOURCE_CELLS``) or ``other_assignment`` (the
            table's ``OTHER_ASSIGNMENT``, handed in under this assignment's name).
        filename: the notebook's file name (default: the assignment's).
        damaged: write only the first 700 bytes (not valid JSON).
        files: extra files handed in next to the notebook, ``(name, text)`` pairs.
        zero: parts the submission breaks on purpose (the base student had them right): each
            must score 0. A cheat on a part the base student got wrong needs no entry: the
            base row already says what honest work earns there, and the cheat must not add.
        scores: other differences from the base row, ``(grade_id, score or None)``.
        failed: the submission must be recorded as failed with a reason containing this.
        output: text that must appear in the outputs of the autograded notebook.
    """

    name: str
    kind: str
    story: str
    base: str = "correct"
    fast: bool = True
    edits: tuple[Edit, ...] = ()
    changes: tuple = ()
    origin: str = "release"
    filename: str | None = None
    damaged: bool = False
    files: tuple[tuple[str, str], ...] = ()
    zero: tuple[str, ...] = ()
    scores: tuple[tuple[str, float | None], ...] = ()
    failed: str | None = None
    output: str | None = None


@dataclass(frozen=True)
class Outcome:
    """The expected result of one submission.

    Attributes:
        scores: grade_id -> auto score (None: waits for a person); None when it must fail.
        failed: a text the recorded failure reason must contain (None when it is graded).
        output: a text the autograded notebook's outputs must contain (None: no check).
    """

    scores: dict[str, float | None] | None
    failed: str | None = None
    output: str | None = None


def load_corpus(assignment: str):
    """Import an assignment's corpus table (``HOSTILE``, ``LEGIT``, ``FAST_EDITS`` ...).

    Raises:
        SampleClassError: the assignment has no corpus.
    """
    if assignment not in CORPUS_TABLES:
        raise SampleClassError(f"no hostile corpus for {assignment!r}; known: backprop")
    return importlib.import_module(CORPUS_TABLES[assignment])


def expected(assignment: str) -> dict[str, Outcome]:
    """The outcome every student of the corpus (legitimate ones included) must get.

    Args:
        assignment: the assignment name.

    Returns:
        student -> :class:`Outcome`.
    """
    table = load_corpus(assignment)
    rows = sample_class.load_table(assignment).EXPECTED_SCORES
    out = {name: Outcome({g: s for g, (s, _) in rows[name].items()}) for name in table.LEGIT}
    for h in table.HOSTILE:
        if h.failed is not None:
            out[h.name] = Outcome(None, h.failed)
            continue
        row = {g: s for g, (s, _) in rows[h.base].items()}
        if h.fast:
            row[table.TRAINING_PART] = 0.0
        row.update({g: 0.0 for g in h.zero})
        row.update(dict(h.scores))
        out[h.name] = Outcome(row, None, h.output)
    return out


def hostile_notebook(h: Hostile, assignment: str, course_root: Path) -> NotebookNode:
    """Build one hostile student's notebook from the source notebook(s).

    Args:
        h: the student.
        assignment: the assignment it is handed in for.
        course_root: the course directory holding ``source/``.

    Returns:
        The notebook as the student hands it in.

    Raises:
        SampleClassError: an edit or change does not fit the source notebook.
    """
    table = load_corpus(assignment)
    name = table.OTHER_ASSIGNMENT if h.origin == "other_assignment" else assignment
    source = _read_source(course_root, name)
    if h.origin == "old_release":
        source = copy.deepcopy(source)
        for key, text in table.OLD_SOURCE_CELLS.items():
            source.cells[_find(source, key)].source = text
    base = {s.name: s for s in sample_class.load_table(name).STUDENTS}[h.base]
    edits = base.edits + (table.FAST_EDITS if h.fast else ()) + h.edits
    student = Student(h.name, h.story, base.solved, edits)
    nb = sample_class.student_notebook(source, sample_class.release_notebook(source), student)
    for change in h.changes:
        change.apply(nb)
    return nb


def _read_source(course_root: Path, assignment: str) -> NotebookNode:
    path = Path(course_root) / "source" / assignment / f"{assignment}.ipynb"
    if not path.is_file():
        raise SampleClassError(f"{path} is missing: the source notebook must exist first")
    return nbformat.read(path, as_version=4)


def generate(out: Path, course_root: Path = COURSE_ROOT, assignment: str = "backprop") -> list:
    """Write the corpus and its legitimate students under ``out/<student>/<assignment>/``.

    Args:
        out: the submissions folder (nbgrader's ``submitted/``).
        course_root: the course directory holding ``source/``.
        assignment: the assignment of the corpus.

    Returns:
        The folders written, legitimate students first.

    Raises:
        SampleClassError: a source notebook is missing or a student cannot be built.
    """
    table = load_corpus(assignment)
    source = _read_source(course_root, assignment)
    release = sample_class.release_notebook(source)
    filename = f"{assignment}.ipynb"
    folders = []
    students = {s.name: s for s in sample_class.load_table(assignment).STUDENTS}
    for name in table.LEGIT:
        nb = sample_class.student_notebook(source, release, students[name])
        folders.append(
            sample_class.write_submission(nb, Path(out) / name / assignment, filename).parent
        )
    for h in tqdm(table.HOSTILE, desc=f"hostile corpus {assignment}", unit="student"):
        nb = hostile_notebook(h, assignment, course_root)
        text = nbformat.writes(nb)
        files = {h.filename or filename: text[:700] if h.damaged else text, **dict(h.files)}
        folders.append(_write_files(Path(out) / h.name / assignment, files))
    return folders


def _write_files(folder: Path, files: dict[str, str]) -> Path:
    replace_folder(folder, {rel: text.encode() for rel, text in files.items()})
    return folder


def main(argv: list[str] | None = None) -> int:
    """Command line: ``python -m tests.corpus.hostile --out DIR [--course DIR]``.

    ``--out`` has no default: the corpus is for tests and experiments, and never lands in a
    course's real ``submitted/`` unless someone names that folder.
    """
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--out", type=Path, required=True, help="folder to write the submissions into"
    )
    parser.add_argument("--course", type=Path, default=COURSE_ROOT, help="course directory")
    parser.add_argument("--assignment", default="backprop", help="assignment of the corpus")
    args = parser.parse_args(argv)
    return sample_class.write_and_report(
        lambda: generate(args.out, args.course, args.assignment), args.out
    )


if __name__ == "__main__":
    sys.exit(main())
