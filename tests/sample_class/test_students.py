"""Tests for ds4023.sample_class.students: the class is generated, deterministic, leak-free."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from ds4023.release import run_nbgrader
from ds4023.sample_class.students import (
    ASSIGNMENT_TABLES,
    Edit,
    SampleClassError,
    Student,
    cell_key,
    generate,
    load_table,
    release_notebook,
    solution_text,
    student_notebook,
)
from tests.helpers import COURSE_ROOT

ASSIGNMENTS = sorted(ASSIGNMENT_TABLES)


def _source(assignment: str):
    return nbformat.read(COURSE_ROOT / "source" / assignment / f"{assignment}.ipynb", as_version=4)


def _cells(nb) -> dict[str, str]:
    return {cell_key(c): c.source for c in nb.cells}


@pytest.fixture(scope="module")
def sample_class(tmp_path_factory) -> Path:
    """The whole sample class, generated once into a temporary submitted/ folder."""
    out = tmp_path_factory.mktemp("submitted")
    generate(out)
    return out


def test_generation_is_deterministic(sample_class, tmp_path):
    """Does generating the class twice give byte-identical notebooks?"""
    again = tmp_path / "again"
    generate(again)
    first = sorted(p.relative_to(sample_class) for p in sample_class.rglob("*.ipynb"))
    second = sorted(p.relative_to(again) for p in again.rglob("*.ipynb"))
    assert first == second
    assert all((sample_class / p).read_bytes() == (again / p).read_bytes() for p in first)


def test_every_student_is_written(sample_class):
    """Is there one notebook per student and assignment, and nothing else?"""
    expected = {
        Path(s.name) / a / f"{a}.ipynb" for a in ASSIGNMENTS for s in load_table(a).STUDENTS
    }
    written = {p.relative_to(sample_class) for p in sample_class.rglob("*") if p.is_file()}
    assert written == expected


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_each_mistake_changes_exactly_its_cells(sample_class, assignment):
    """Does each student differ from the correct one only by their own edits, all applied?"""

    def read(name: str) -> dict[str, str]:
        path = sample_class / name / assignment / f"{assignment}.ipynb"
        return _cells(nbformat.read(path, as_version=4))

    correct = read("correct")
    for student in load_table(assignment).STUDENTS:
        if student.solved is not None:
            continue  # partial and blank students are checked against the release below
        cells = read(student.name)
        expected = dict(correct)
        for edit in student.edits:
            assert expected[edit.cell].count(edit.old) == edit.count, (student.name, edit.cell)
            expected[edit.cell] = expected[edit.cell].replace(edit.old, edit.new)
        assert cells == expected, student.name
        assert (cells != correct) == bool(student.edits), student.name


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_unsolved_cells_keep_the_release_stub(sample_class, assignment):
    """Do cells a student did not solve stay exactly as released, and solved ones not?"""
    source = _source(assignment)
    release = _cells(release_notebook(source))
    solutions = {
        cell_key(c): solution_text(c)
        for c in source.cells
        if c.metadata.get("nbgrader", {}).get("solution")
    }
    for student in load_table(assignment).STUDENTS:
        if student.solved is None or student.edits:
            continue
        path = sample_class / student.name / assignment / f"{assignment}.ipynb"
        cells = _cells(nbformat.read(path, as_version=4))
        for key, text in cells.items():
            want = solutions[key] if key in student.solved else release[key]
            assert text == want, (student.name, key)


def test_no_solution_or_hidden_test_leaks(sample_class):
    """Are hidden tests (and solution delimiters) absent from every submission's test cells?"""
    for path in sample_class.rglob("*.ipynb"):
        assignment = path.parent.name
        release = _cells(release_notebook(_source(assignment)))
        nb = nbformat.read(path, as_version=4)
        text = "\n".join(c.source for c in nb.cells)
        for marker in ("BEGIN HIDDEN TESTS", "END HIDDEN TESTS", "BEGIN SOLUTION", "END SOLUTION"):
            assert marker not in text, (path, marker)
        for cell in nb.cells:
            if cell.metadata.get("nbgrader", {}).get("grade") and cell.cell_type == "code":
                assert cell.source == release[cell_key(cell)], (path, cell_key(cell))
        assert all(c.get("outputs", []) == [] for c in nb.cells if c.cell_type == "code")


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_blank_student_is_nbgraders_release(sample_class, assignment, tmp_path):
    """Is the blank student byte for byte the release `nbgrader generate_assignment` writes?"""
    shutil.copy2(COURSE_ROOT / "nbgrader_config.py", tmp_path / "nbgrader_config.py")
    (tmp_path / "source" / assignment).mkdir(parents=True)
    name = f"{assignment}.ipynb"
    shutil.copy2(COURSE_ROOT / "source" / assignment / name, tmp_path / "source" / assignment)
    run_nbgrader(["generate_assignment", assignment, "--force"], tmp_path)
    released = (tmp_path / "release" / assignment / name).read_bytes()
    assert (sample_class / "blank" / assignment / name).read_bytes() == released


def test_an_edit_that_no_longer_fits_fails_loudly():
    """Does a mistake whose text is not in the source stop generation with a clear error?"""
    source = _source("backprop")
    release = release_notebook(source)
    missing = Student(
        "ghost", "edits text that is not there", edits=(Edit("cost_code", "zzz", "y"),)
    )
    with pytest.raises(SampleClassError, match="ghost.*'zzz'.*cost_code.*found 0"):
        student_notebook(source, release, missing)
    twice = Student("twice", "pattern occurs twice", edits=(Edit("cost_code", "m", "n"),))
    with pytest.raises(SampleClassError, match="twice"):
        student_notebook(source, release, twice)
    nowhere = Student("nowhere", "unknown cell", edits=(Edit("no_such_cell", "a", "b"),))
    with pytest.raises(SampleClassError, match="no cell 'no_such_cell'"):
        student_notebook(source, release, nowhere)


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_expected_scores_cover_every_student_and_graded_cell(assignment):
    """Does EXPECTED_SCORES give each student a justified score for every graded cell?"""
    table = load_table(assignment)
    graded = {
        c.metadata["nbgrader"]["grade_id"]: c.metadata["nbgrader"]["points"]
        for c in _source(assignment).cells
        if c.metadata.get("nbgrader", {}).get("grade")
    }
    assert set(table.EXPECTED_SCORES) == {s.name for s in table.STUDENTS}
    for student, row in table.EXPECTED_SCORES.items():
        assert set(row) == set(graded), student
        for grade_id, (score, reason) in row.items():
            assert reason.strip() and "\n" not in reason, (student, grade_id)
            assert score is None or 0 <= score <= graded[grade_id], (student, grade_id)


def test_cli_rejects_an_unknown_assignment(tmp_path):
    """Does the command line refuse an unknown assignment with one error line and no output?"""
    out = tmp_path / "submitted"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "ds4023.cli",
            "sample-class",
            "--out",
            str(out),
            "--assignment",
            "nope",
        ],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 2
    assert proc.stderr.strip().count("\n") == 0 and "nope" in proc.stderr
    assert not out.exists()
