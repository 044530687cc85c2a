"""Tests for the judge step: each probed test scored from a reference, never from the kernel.

``tests/grading/test_judge.py`` checks how a verdict reads in a cell; here the preprocessor
runs on a notebook built from cell factories, with a small ``reference.py`` written to tmp_path
and the records a kernel would have left in ``resources["ds4023_records"]``.
"""

from __future__ import annotations

import copy
import logging
import os
import textwrap

import nbformat
import pytest
from nbgrader.utils import determine_grade

from ds4023.grading.judge import Verdict
from ds4023.grading.preprocessors import judge_hidden_tests
from ds4023.grading.preprocessors.judge_hidden_tests import (
    JudgeHiddenTests,
    apply_verdict,
    reference_for,
)
from tests.helpers.nbgrader_cells import grade_cell, notebook, plain_cell, solution_cell

#: A reference judging two tests: right when case "c" came back as 4 (half credit for -4).
REFERENCE = textwrap.dedent(
    """
    from ds4023.grading.judge import RIGHT, NoResult, Verdict

    def build(folder):
        return {"x": 2}, {"test_f": {"c": "f(x)"}, "test_boom": {"c": "f(x)"}}

    def judge(grade_id, results, arrays):
        if grade_id == "test_boom":
            return 1 / 0
        try:
            value = results.value("c")
        except NoResult as why:
            return Verdict(0.0, str(why))
        if float(value) == arrays["x"] ** 2:
            return RIGHT
        if float(value) == -arrays["x"] ** 2:
            return Verdict(0.5, "The sign is wrong.", "sign")
        return Verdict(0.0, "f is wrong.")
    """
)
LOG = logging.getLogger("ds4023.tests.judge")


def record(value: float) -> dict:
    """A probe record as the kernel sends it: case "c" -> a scalar."""
    from ds4023 import probe

    return {"v": 1, "grade_id": "test_f", "cases": {"c": {"value": probe.encode(value)}}}


@pytest.fixture
def reference(tmp_path):
    path = tmp_path / "judge" / "reference.py"
    path.parent.mkdir()
    path.write_text(REFERENCE)
    return path


def executed(student_printed: str = "4") -> nbformat.NotebookNode:
    """An autograded notebook after execution: a judged test, an unjudged one, an answer."""
    test_f = grade_cell("check_f()", "test_f", points=4)
    test_f.outputs = [
        nbformat.v4.new_output("execute_result", data={"text/plain": student_printed}),
        nbformat.v4.new_output("stream", name="stdout", text="visible check passed\n"),
    ]
    test_f.execution_count = 5
    boom = grade_cell("check_boom()", "test_boom", points=2)
    other = grade_cell("assert True", "test_old_style", points=3)
    answer = solution_cell("def f(x):\n    return x * x", "test_f_answer")
    return notebook(plain_cell("import numpy"), answer, test_f, boom, other)


def judge(nb, reference, **resources):
    step = JudgeHiddenTests(reference=str(reference), log=LOG)
    return step.preprocess(nb, resources)[0]


def cells(nb) -> dict:
    return {c.metadata["nbgrader"]["grade_id"]: c for c in nb.cells if "nbgrader" in c.metadata}


@pytest.mark.parametrize(
    "value, score, message",
    [
        (4.0, 4.0, ""),
        (-4.0, 2.0, "Partial credit: 2 of 4 points. The sign is wrong."),
        (5.0, 0.0, "0 of 4 points: f is wrong."),
    ],
)
def test_a_probed_test_is_scored_from_its_record(reference, value, score, message):
    """Is the score the reference's verdict on the record, whatever the cell printed?"""
    nb = judge(executed("4"), reference, ds4023_records={"test_f": (record(value), "")})
    cell = cells(nb)["test_f"]
    assert determine_grade(cell) == (score, 4.0)
    assert cell.outputs[0].data["text/plain"] == f"{score:g}"
    assert cell.outputs[0].execution_count == 5
    assert cell.metadata["ds4023"]["score"] == score
    assert cell.metadata["ds4023"]["message"] == message
    assert cell.outputs[-1].text == "visible check passed\n"  # the student's output stays


def test_the_known_mistake_is_recorded_for_the_reports(reference):
    """Does a half-credit verdict name its mistake in the cell's ds4023 metadata?"""
    nb = judge(executed(), reference, ds4023_records={"test_f": (record(-4.0), "")})
    assert cells(nb)["test_f"].metadata["ds4023"]["mistake"] == "sign"


def test_a_test_without_a_record_scores_zero_with_the_reason(reference):
    """Does a probed test that never ran score 0, saying it did not run?"""
    nb = judge(executed("4"), reference, ds4023_records={})
    cell = cells(nb)["test_f"]
    assert determine_grade(cell) == (0.0, 4.0)
    assert "the test cell did not run" in cell.outputs[1].text


def test_a_stopped_run_gives_its_reason_to_the_tests_that_did_not_run(reference):
    """When the kernel was stopped, do the tests after it say why they scored 0?"""
    why = "not run: the kernel died while running cell 3 (test_f)"
    nb = judge(executed(), reference, ds4023_records={}, ds4023_stopped=why)
    assert why in cells(nb)["test_f"].outputs[1].text


def test_a_record_that_failed_in_the_kernel_says_why(reference):
    """Is the probe's own reason (e.g. the student's exception) passed to the verdict?"""
    records = {"test_f": (None, "the hidden test could not run (NameError: f)")}
    nb = judge(executed(), reference, ds4023_records=records)
    assert "NameError: f" in cells(nb)["test_f"].outputs[1].text


def test_a_judge_that_raises_scores_zero_and_logs_it(reference, caplog):
    """Does an error in the reference's judge give 0 with a message, not a failed notebook?"""
    with caplog.at_level(logging.WARNING, logger=LOG.name):
        nb = judge(executed(), reference, ds4023_records={})
    cell = cells(nb)["test_boom"]
    assert determine_grade(cell) == (0.0, 2.0)
    assert "could not be judged (ZeroDivisionError)" in cell.outputs[1].text
    assert "could not judge test_boom" in caplog.text


def test_cells_the_reference_does_not_judge_are_left_alone(reference):
    """Are answers, plain cells and tests without cases in the reference untouched?"""
    before = executed()
    nb = judge(copy.deepcopy(before), reference, ds4023_records={})
    for grade_id in ("test_old_style", "test_f_answer"):
        assert cells(nb)[grade_id] == cells(before)[grade_id]
    assert nb.cells[0] == before.cells[0]


def test_without_a_reference_self_scoring_tests_pass_through():
    """With no reference.py and no probes, is the notebook unchanged?"""
    before = executed()
    nb = JudgeHiddenTests(log=LOG).preprocess(copy.deepcopy(before), {"ds4023_records": {}})[0]
    assert nb == before


def test_probes_without_a_reference_are_an_error_not_a_free_pass():
    """Are probe records with no reference to judge them refused, saying what to add?"""
    with pytest.raises(RuntimeError, match="add source/<assignment>/reference.py"):
        JudgeHiddenTests(log=LOG).preprocess(executed(), {"ds4023_records": {"test_f": ({}, "")}})


def test_the_reference_is_loaded_once_per_file_state(reference):
    """Is the reference module cached, and reloaded when the file changes?"""
    judge_hidden_tests._CACHE.clear()
    first = reference_for(reference)
    assert reference_for(reference) is first
    reference.write_text(REFERENCE.replace('{"x": 2}', '{"x": 3}'))
    stat = reference.stat()
    os.utime(reference, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
    second = reference_for(reference)
    assert second is not first and second[1] == {"x": 3}
    assert len(judge_hidden_tests._CACHE) == 1


def test_apply_verdict_records_score_mistake_and_message_in_metadata():
    """Does apply_verdict leave the score, mistake and sentence in the cell's metadata?"""
    cell = grade_cell("check()", "t", points=3)
    assert apply_verdict(cell, Verdict(0.5, "Close.", "slip")) == 1.5
    assert cell.metadata["ds4023"] == {
        "score": 1.5,
        "mistake": "slip",
        "message": "Partial credit: 1.5 of 3 points. Close.",
    }
    assert [o.output_type for o in cell.outputs] == ["execute_result", "stream"]
