"""Tests for the hardened sanitizing steps: every test cell comes back, in place, as released.

Notebooks are built from cell factories (``tests.helpers.nbgrader_cells``) and the release is
recorded in a gradebook in tmp_path, as nbgrader's own preprocessor tests do; each test then
tampers with a student's copy the way a student could and checks what the step leaves.
"""

from __future__ import annotations

import copy
import logging

import pytest
from nbgrader.converters import Autograde
from nbgrader.nbgraderformat import MetadataValidator
from nbgrader.preprocessors import (
    CheckCellMetadata,
    ClearOutput,
    DeduplicateIds,
    OverwriteCells,
    OverwriteKernelspec,
)

from ds4023.grading.preprocessors.deduplicate_ids import DeduplicateCellIds
from ds4023.grading.preprocessors.overwrite_cells import (
    NotThisNotebook,
    RestoringOverwriteCells,
    sanitize_chain,
)
from tests.helpers.nbgrader_cells import (
    grade_cell,
    grade_ids,
    locked_cell,
    notebook,
    plain_cell,
    save_release,
    solution_cell,
    task_cell,
)

ASSIGNMENT, NAME = "a1", "a1"
TEST_A = "assert f(2) == 4\n### BEGIN HIDDEN TESTS\nassert f(3) == 9\n### END HIDDEN TESTS"
RELEASE = [
    plain_cell("# Assignment 1", "markdown"),
    locked_cell("import math", "setup"),
    solution_cell("def f(x):\n    raise NotImplementedError()", "answer_f"),
    grade_cell(TEST_A, "test_f", points=2),
    solution_cell("def g(x):\n    raise NotImplementedError()", "answer_g"),
    grade_cell("assert g(1) == 1", "test_g", points=3),
    task_cell("Explain why.", "task_explain", points=1),
]
ORDER = {NAME: [c.metadata["nbgrader"]["grade_id"] for c in RELEASE if "nbgrader" in c.metadata]}
LOG = logging.getLogger("ds4023.tests.overwrite")


@pytest.fixture(scope="module")
def released(tmp_path_factory) -> str:
    """The gradebook of the release (only read by the step, so shared by the module's tests)."""
    db_url = f"sqlite:///{tmp_path_factory.mktemp('release') / 'gradebook.db'}"
    save_release(db_url, ASSIGNMENT, NAME, notebook(*RELEASE))
    return db_url


@pytest.fixture
def resources(released):
    return {"nbgrader": {"db_url": released, "assignment": ASSIGNMENT, "notebook": NAME}}


def student() -> list:
    """A student's copy: the release with both answers written."""
    cells = copy.deepcopy(RELEASE)
    cells[2].source = "def f(x):\n    return x * x"
    cells[4].source = "def g(x):\n    return x"
    return cells


def restore(nb, resources):
    step = RestoringOverwriteCells(cell_order=ORDER, log=LOG)
    return step.preprocess(nb, resources)[0]


def by_id(nb, grade_id):
    return next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == grade_id)


def test_an_untouched_submission_keeps_the_students_answers(resources):
    """Does a submission nobody tampered with come through with its answers and cells as is?"""
    nb = restore(notebook(*student()), resources)
    assert grade_ids(nb) == grade_ids(notebook(*RELEASE))
    assert by_id(nb, "answer_f").source == "def f(x):\n    return x * x"
    assert by_id(nb, "test_f").source == TEST_A


def test_an_edited_test_cell_gets_its_released_source_back(resources):
    """Is a test the student rewrote (``assert True``) restored, hidden region included?"""
    cells = student()
    cells[3].source = "assert True"
    cells[1].source = "import os; os.system('rm -rf /')"  # the locked set-up cell too
    nb = restore(notebook(*cells), resources)
    assert by_id(nb, "test_f").source == TEST_A
    assert by_id(nb, "setup").source == "import math"


def test_a_deleted_test_cell_comes_back_after_its_answer(resources, caplog):
    """Is a deleted test put back where it was released: after the answer before it?"""
    cells = student()
    del cells[3]  # test_f
    with caplog.at_level(logging.WARNING, logger=LOG.name):
        nb = restore(notebook(*cells), resources)
    ids = grade_ids(nb)
    assert ids.index("test_f") == ids.index("answer_f") + 1
    assert "Missing grade cell test_f" in caplog.text
    back = by_id(nb, "test_f")
    assert back.metadata["nbgrader"]["points"] == 2 and back.metadata["nbgrader"]["grade"]
    assert TEST_A in back.source


def test_deleted_tests_come_back_in_release_order_even_with_their_answers_gone(resources):
    """With both tests and an answer deleted, are the tests back in their released order?"""
    cells = [c for c in student() if c.metadata.get("nbgrader", {}).get("grade_id")]
    cells = [c for c in cells if c.metadata["nbgrader"]["grade_id"] not in {"test_f", "test_g"}]
    cells = [c for c in cells if c.metadata["nbgrader"]["grade_id"] != "answer_g"]
    nb = restore(notebook(*cells), resources)
    ids = [i for i in grade_ids(nb) if i]
    assert ids.index("answer_f") < ids.index("test_f") < ids.index("test_g")


def test_a_test_turned_into_an_answer_is_a_test_again(resources, caplog):
    """Is a test cell whose metadata says 'solution, not graded' graded again, with its points?"""
    cells = student()
    meta = cells[3].metadata["nbgrader"]
    meta.update(grade=False, solution=True)
    del meta["points"]
    with caplog.at_level(logging.WARNING, logger=LOG.name):
        nb = restore(notebook(*cells), resources)
    meta = by_id(nb, "test_f").metadata["nbgrader"]
    assert meta["grade"] is True and meta["solution"] is False and meta["points"] == 2
    assert by_id(nb, "test_f").source == TEST_A


def test_changed_points_are_restored(resources):
    """Are a test's points the released ones whatever the submission says?"""
    cells = student()
    cells[5].metadata["nbgrader"]["points"] = 300
    nb = restore(notebook(*cells), resources)
    assert by_id(nb, "test_g").metadata["nbgrader"]["points"] == 3


def test_a_cell_with_an_unknown_grade_id_runs_as_a_plain_cell(resources):
    """Does a cell claiming an id the gradebook does not know lose its nbgrader metadata only?"""
    cells = student()
    cells.insert(3, grade_cell("print('extra')", "made_up_test", points=100))
    nb = restore(notebook(*cells), resources)
    extra = nb.cells[3]
    assert extra.source == "print('extra')" and "nbgrader" not in extra.metadata
    assert "made_up_test" not in grade_ids(nb)


@pytest.mark.parametrize(
    "tags, kept",
    [
        (["skip-execution"], []),
        (["raises-exception", "mine"], ["mine"]),
        (["skip-execution", "raises-exception", "x"], ["x"]),
        (["mine"], ["mine"]),
    ],
)
def test_execution_tags_are_removed_from_every_cell(resources, tags, kept, caplog):
    """Are skip-execution and raises-exception dropped (test, answer or plain cell), others kept?"""
    cells = student()
    cells.append(plain_cell("print(1)"))
    for i in (2, 3, len(cells) - 1):
        cells[i].metadata["tags"] = list(tags)
    with caplog.at_level(logging.WARNING, logger=LOG.name):
        nb = restore(notebook(*cells), resources)
    for cell in (by_id(nb, "answer_f"), by_id(nb, "test_f"), nb.cells[-1]):
        assert cell.metadata["tags"] == kept
    assert ("removed" in caplog.text) is (kept != tags)


def test_another_notebook_is_refused(resources):
    """Is a notebook with none of this notebook's tests and answers refused, naming it?"""
    other = notebook(
        plain_cell("# Another assignment", "markdown"),
        solution_cell("x = 1", "other_answer"),
        grade_cell("assert x == 1", "other_test"),
    )
    with pytest.raises(NotThisNotebook, match="none of the 4 test and answer cells of a1.ipynb"):
        restore(other, resources)


def test_a_notebook_keeping_one_answer_is_graded_not_refused(resources):
    """Is a badly damaged copy that still holds one answer graded (its tests restored)?"""
    nb = restore(notebook(solution_cell("def f(x):\n    return x * x", "answer_f")), resources)
    assert {"answer_f", "test_f", "test_g"} <= set(grade_ids(nb))


def test_deduplicate_leaves_earlier_copies_as_plain_cells_that_pass_the_metadata_check():
    """Is a copied answer cell a plain cell (no ``{}`` metadata nbgrader would reject)?"""
    cells = student()
    cells.insert(3, copy.deepcopy(cells[2]))  # the student duplicated the answer cell
    cells[3].id = "copied-cell"
    nb = notebook(*cells)
    nb, _ = DeduplicateCellIds(log=LOG).preprocess(nb, {})
    assert "nbgrader" not in nb.cells[2].metadata
    assert nb.cells[3].metadata["nbgrader"]["grade_id"] == "answer_f"
    assert grade_ids(nb).count("answer_f") == 1
    MetadataValidator().validate_nb(nb)  # raises on an emptied nbgrader metadata

    plain = notebook(*cells)
    plain, _ = DeduplicateIds(log=LOG).preprocess(plain, {})
    assert plain.cells[2].metadata["nbgrader"] == {}  # what nbgrader alone would leave


def test_sanitize_chain_swaps_in_the_hardened_steps_in_place():
    """Does the default sanitizing chain keep nbgrader's order with our two steps swapped in?"""
    assert sanitize_chain(None) == [
        ClearOutput,
        DeduplicateCellIds,
        OverwriteKernelspec,
        RestoringOverwriteCells,
        CheckCellMetadata,
    ]
    default = Autograde.class_traits()["sanitize_preprocessors"].default()
    assert len(sanitize_chain([])) == len(default)


def test_sanitize_chain_keeps_a_configured_chain_and_its_extra_steps():
    """Is a course's own chain kept, only nbgrader's two steps replaced (once, idempotently)?"""
    configured = [ClearOutput, OverwriteCells, CheckCellMetadata]
    assert sanitize_chain(configured) == [ClearOutput, RestoringOverwriteCells, CheckCellMetadata]
    assert sanitize_chain(sanitize_chain(configured)) == sanitize_chain(configured)
    assert configured == [ClearOutput, OverwriteCells, CheckCellMetadata]  # not modified
