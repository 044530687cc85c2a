"""Tests every assignment's checks must pass, imported into each ``test_<a>_checks.py``.

Each test reads the importing module's ``ASSIGNMENT``, ``TEST_CELLS``, ``DIAGNOSES``,
``MORE_MISTAKES`` and ``OTHER_CORRECT`` (``tests/notebooks/conftest.py`` parametrizes
``mistake`` and ``variant`` from the last two).
"""

from __future__ import annotations

import re

import nbformat

from ds4023.assignments import manifest
from ds4023.sample_class.students import load_table
from tests.helpers.notebook_cells import (
    diagnosis_problems,
    named_mistakes,
    run_variant,
    source_dir,
    visible_output,
)


def test_correct_student_passes_every_check(request, class_runs):
    """Does the reference solution pass every visible test it runs, showing nothing at all?"""
    run = class_runs["correct"]
    cells = request.module.TEST_CELLS
    shown = {c: (run.cells[c].error, run.cells[c].stdout, run.cells[c].stderr) for c in cells}
    assert {c: out for c, out in shown.items() if out != (None, "", "")} == {}


def test_each_sample_mistake_is_named_once_in_a_one_line_error(request, class_runs, checks):
    """Does each sample student's visible output name exactly their own mistake, once, in the
    one line its cell's error shows, with nothing printed on stdout or stderr?"""
    m = request.module
    assert diagnosis_problems(class_runs, checks, m.DIAGNOSES, m.TEST_CELLS) == {}
    assert set(m.DIAGNOSES) == {s.name for s in load_table(m.ASSIGNMENT).STUDENTS}


def test_further_mistakes_are_named_mistakes(request, folder, mistake):
    """Does a check name the other common mistakes it knows, and only in the right cell?"""
    m = request.module
    cell, *edits = m.MORE_MISTAKES[mistake]
    run = run_variant(m.ASSIGNMENT, folder, mistake, *edits)
    assert named_mistakes(run.checks, visible_output(run, [cell])) == {mistake}
    assert named_mistakes(run.checks, visible_output(run, m.TEST_CELLS)) <= {mistake}


def test_other_correct_solutions_pass_without_a_message(request, folder, variant):
    """Does a correct solution written another way pass every check, naming nothing?"""
    m = request.module
    run = run_variant(m.ASSIGNMENT, folder, re.sub(r"\W+", "_", variant), m.OTHER_CORRECT[variant])
    assert {c: run.cells[c].error for c in m.TEST_CELLS if run.cells[c].error} == {}
    assert named_mistakes(run.checks, visible_output(run, m.TEST_CELLS)) == set()


def solution_lines(assignment: str) -> list[str]:
    """The lines of the source notebook's solutions and hidden tests that could give one away:
    12 characters or more, and not a comment, an import or plain syntax (``except Exception:``,
    ``return "key"``)."""
    nb = nbformat.read(source_dir(assignment) / f"{assignment}.ipynb", as_version=4)
    generic = r'#.*|(import|from) .*|except \w+:|return (False|True|None|"\w+")'
    lines, inside = [], False
    for cell in nb.cells:
        for line in (ln.strip() for ln in cell.source.splitlines()):
            if "BEGIN SOLUTION" in line or "BEGIN HIDDEN TESTS" in line:
                inside = True
            elif "END SOLUTION" in line or "END HIDDEN TESTS" in line:
                inside = False
            elif inside and len(line) >= 12 and not re.fullmatch(generic, line):
                lines.append(line)
    return lines


def test_module_and_messages_hold_no_solution_or_hidden_test_code(request, checks):
    """Is no line of a solution or hidden test found in the module or in its messages?"""
    assignment = request.module.ASSIGNMENT
    text = (source_dir(assignment) / f"{manifest(assignment).checks}.py").read_text()
    lines = solution_lines(assignment)
    assert len(lines) > 60  # the solutions and the probe calls (the judgement is in reference.py)
    assert [ln for ln in lines if ln in text] == []
    for message in checks.MESSAGES.values():
        assert not [ln for ln in lines if ln in message]
        assert "\n" not in message and message.count(". ") <= 2
