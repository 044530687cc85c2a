"""Tests for the autograder's hooks that need no kernel: probes, reasons, the chain, outputs.

The kernel-facing parts (probes evaluated through ``user_expressions``, the watchdog) run in
the grading tests; here each pure piece gets cells built from factories and fake messages.
"""

from __future__ import annotations

import json
import logging
from types import SimpleNamespace

import nbformat
import pytest
from nbclient.exceptions import CellTimeoutError, DeadKernelError
from nbconvert.preprocessors import ClearMetadataPreprocessor
from nbformat.reader import NotJSONError
from nbformat.validator import ValidationError
from nbgrader.converters import Autograde
from nbgrader.preprocessors import (
    AssignLatePenalties,
    CheckCellMetadata,
    Execute,
    IgnorePattern,
    LimitOutput,
    SaveAutoGrades,
)
from traitlets.config import Config

from ds4023.grading.preprocessors.execute import (
    HIDDEN_REGION,
    CapturingAutograde,
    TrackedExecute,
    WarningCollector,
    describe_failure,
    find_execute,
    probe_expression,
    tracked_preprocessors,
)
from ds4023.grading.preprocessors.judge_hidden_tests import JudgeHiddenTests
from ds4023.grading.preprocessors.overwrite_cells import NotThisNotebook
from tests.helpers.nbgrader_cells import grade_cell, plain_cell, solution_cell

PROBE = '__import__("ds4023_probe").run("test_f", globals())'
VISIBLE = '"""Is f right?"""\nassert f(2) == 4'


def hidden(body: str, indent: str = "") -> str:
    return f"{indent}### BEGIN HIDDEN TESTS\n{body}\n{indent}### END HIDDEN TESTS"


# ------------------------------------------------------------------ probe_expression
def test_a_test_cell_with_one_expression_region_is_a_probe():
    """Is the one-expression hidden region of a test cell its probe, stripped of blanks?"""
    cell = grade_cell(f"{VISIBLE}\n{hidden('  ' + PROBE + '  ')}\n", "test_f")
    assert probe_expression(cell) == PROBE


@pytest.mark.parametrize(
    "cell",
    [
        solution_cell(f"{VISIBLE}\n{hidden(PROBE)}", "answer_and_test"),
        plain_cell(f"{VISIBLE}\n{hidden(PROBE)}"),
        grade_cell(f"{VISIBLE}\n{hidden(PROBE)}", "md", cell_type="markdown"),
        grade_cell(VISIBLE, "test_f"),
        grade_cell(f"{hidden(PROBE)}\n{hidden(PROBE)}", "test_f"),
        grade_cell(hidden("x = 1"), "test_f"),
        grade_cell(hidden("assert f(3) == 9\nassert f(4) == 16"), "test_f"),
        grade_cell(hidden("f(3"), "test_f"),
    ],
    ids=[
        "solution",
        "plain",
        "markdown",
        "no-region",
        "two-regions",
        "statement",
        "asserts",
        "syntax-error",
    ],
)
def test_anything_else_is_not_a_probe(cell):
    """Are answer, plain and markdown cells, and old-style or broken hidden code, no probe?"""
    assert probe_expression(cell) is None


def test_a_graded_answer_cell_is_not_a_probe():
    """Is a cell that is both test and answer (student-written) never taken as a probe?"""
    cell = grade_cell(f"{VISIBLE}\n{hidden(PROBE)}", "both")
    cell.metadata["nbgrader"]["solution"] = True
    assert probe_expression(cell) is None


def test_stripping_the_region_leaves_the_visible_test_only():
    """Does the kernel run the visible test without any line of the hidden region?"""
    source = f"{VISIBLE}\n{hidden(PROBE, indent='  ')}\nprint('after')"
    stripped = HIDDEN_REGION.sub("", source)
    assert stripped == f"{VISIBLE}\nprint('after')"
    assert "HIDDEN" not in stripped and "ds4023_probe" not in stripped
    assert HIDDEN_REGION.sub("", f"{VISIBLE}\n{hidden(PROBE)}") == f"{VISIBLE}\n"


def test_a_marker_inside_a_line_does_not_open_a_region():
    """Is a marker only a marker at the start of its own line (not inside a string)?"""
    source = f"x = '### BEGIN HIDDEN TESTS'\n{PROBE}\ny = '### END HIDDEN TESTS'"
    assert HIDDEN_REGION.findall(source) == []


# ------------------------------------------------------------------ describe_failure
RUNNING_CELL = SimpleNamespace(current=(7, "test_f"), interrupted=True)


@pytest.mark.parametrize(
    "err, execute, timed_out, expected",
    [
        (
            None,
            RUNNING_CELL,
            900,
            "stopped: the submission ran longer than its 900 s limit while running cell 7 (test_f)",
        ),
        (
            DeadKernelError("x"),
            RUNNING_CELL,
            0.5,
            "stopped: the submission ran longer than its 0.5 s limit while running cell 7 (test_f)",
        ),
        (
            DeadKernelError("Kernel died"),
            RUNNING_CELL,
            0,
            "the kernel died while running cell 7 "
            "(test_f) (the code crashed it or exited the interpreter)",
        ),
        (
            DeadKernelError("x"),
            SimpleNamespace(current=(2, None)),
            0,
            "the kernel died while running cell 2 (the code crashed it or exited the interpreter)",
        ),
        (
            CellTimeoutError("t"),
            RUNNING_CELL,
            0,
            "a cell ran past its time limit and ignored "
            "the interrupt while running cell 7 (test_f)",
        ),
        (
            CellTimeoutError("t"),
            SimpleNamespace(current=(7, "test_f"), interrupted=False),
            0,
            "the output of a cell could not be collected in time (it printed too much) while "
            "running cell 7 (test_f)",
        ),
        (
            NotJSONError("bad"),
            None,
            0,
            "the notebook is not valid JSON (damaged file): it could not be read",
        ),
        (
            json.JSONDecodeError("x", "doc", 0),
            None,
            0,
            "the notebook is not valid JSON (damaged file): it could not be read",
        ),
        (
            ValidationError("v"),
            None,
            0,
            "the notebook does not follow the notebook format: it could not be read",
        ),
        (RuntimeError("first line\nsecond line"), None, 0, "RuntimeError: first line"),
        (KeyError(), RUNNING_CELL, 0, "KeyError while running cell 7 (test_f)"),
        (None, None, 0, "error"),
    ],
)
def test_each_failure_is_one_line_a_person_can_act_on(err, execute, timed_out, expected):
    """Does each way a run can fail read as the one line recorded with the zero?"""
    got = describe_failure(err, execute, timed_out)
    assert got == expected and "\n" not in got


def test_another_notebook_keeps_its_own_message():
    """Is a refused notebook's reason the refusal itself, not a class name?"""
    err = NotThisNotebook("the notebook holds none of the 4 test and answer cells of a1.ipynb")
    assert describe_failure(err, RUNNING_CELL, 0) == str(err)


def test_a_long_error_is_cut_short():
    """Is a huge error message cut to a readable length?"""
    got = describe_failure(ValueError("x" * 5000), None, 0)
    assert got.startswith("ValueError: x") and len(got) < 250


# ------------------------------------------------------------------ the preprocessor chain
def test_default_chain_runs_tracked_execute_and_the_judge_right_before_saving():
    """Is Execute swapped for TrackedExecute and the judge placed just before SaveAutoGrades?"""
    chain = tracked_preprocessors(Config())
    assert chain == [
        TrackedExecute,
        IgnorePattern,
        ClearMetadataPreprocessor,
        LimitOutput,
        JudgeHiddenTests,
        SaveAutoGrades,
        AssignLatePenalties,
        CheckCellMetadata,
    ]
    default = Autograde.class_traits()["autograde_preprocessors"].default()
    assert Execute in default and JudgeHiddenTests not in default  # nbgrader's own untouched


def test_a_configured_chain_is_kept_and_the_judge_is_never_doubled():
    """Is a course's own chain kept, a misplaced judge moved, and the result stable?"""
    cfg = Config()
    cfg.Autograde.autograde_preprocessors = [JudgeHiddenTests, Execute, SaveAutoGrades]
    chain = tracked_preprocessors(cfg)
    assert chain == [TrackedExecute, JudgeHiddenTests, SaveAutoGrades]
    cfg.Autograde.autograde_preprocessors = chain
    assert tracked_preprocessors(cfg) == chain


def test_a_chain_without_saving_has_no_judge():
    """Without SaveAutoGrades nothing is scored, so is no judge added?"""
    cfg = Config()
    cfg.Autograde.autograde_preprocessors = [Execute, LimitOutput]
    assert tracked_preprocessors(cfg) == [TrackedExecute, LimitOutput]


def test_find_execute_finds_the_instance_of_a_run():
    """Is the run's TrackedExecute found among the exporter's preprocessors (None if absent)?"""
    execute = TrackedExecute()
    grader = SimpleNamespace(exporter=SimpleNamespace(_preprocessors=[LimitOutput(), execute]))
    assert find_execute(grader) is execute
    assert find_execute(SimpleNamespace(exporter=None)) is None
    assert find_execute(SimpleNamespace()) is None


# ------------------------------------------------------------------ warnings, failures
def test_warning_collector_keeps_first_lines_of_warnings_but_not_checksums():
    """Are nbgrader's warnings kept (one line each), checksum noise and errors left out?"""
    log = logging.getLogger("ds4023.tests.collector")
    log.propagate = False
    collector = WarningCollector()
    log.addHandler(collector)
    try:
        log.warning("Cell 'test_f' was changed\nwith details")
        log.warning("Attribute 'checksum' for cell test_f has changed!")
        log.warning("x" * 1000)
        log.info("Sanitizing")
        log.error("an error is not a warning about the student")
        log.warning("   ")
    finally:
        log.removeHandler(collector)
    assert collector.lines == ["Cell 'test_f' was changed", "x" * 300]


def test_capturing_autograde_keeps_the_first_exception():
    """Does the grader remember the first error nbgrader raised, not a later one?"""
    grader = CapturingAutograde.__new__(CapturingAutograde)  # no course needed for _keep

    def fail(err):
        raise err

    first, second = ValueError("first"), RuntimeError("second")
    for err in (first, second):
        with pytest.raises(type(err)):
            grader._keep(fail, err)
    assert grader.failure is first
    assert grader._keep(lambda x: x * 2, 21) == 42


# ------------------------------------------------------------------ what a cell keeps
def _message(kind: str, **content) -> dict:
    return {
        "msg_type": kind,
        "content": content,
        "parent_header": {"msg_id": "m"},
        "header": {"msg_type": kind},
    }


@pytest.fixture
def execute():
    """A TrackedExecute ready to receive a cell's output messages (no kernel)."""
    ex = TrackedExecute(max_output_bytes=100)
    ex.reset_execution_trackers()
    ex.clear_before_next_output = False
    ex._output_bytes, ex._dropped = 0, set()
    return ex


def test_output_beyond_the_cap_is_dropped_once_per_stream(execute):
    """Past max_output_bytes, is further output dropped, saying so once per stream?"""
    outs = []
    for _ in range(5):
        execute.output(outs, _message("stream", name="stdout", text="x" * 30), None, 0)
    execute.output(outs, _message("stream", name="stderr", text="e" * 30), None, 0)
    kept = [(o.name, o.text) for o in outs]
    assert kept[:3] == [("stdout", "x" * 30)] * 3
    assert [name for name, _ in kept[3:]] == ["stdout", "stderr"]
    assert all("output truncated by the grader: more than 100 bytes" in t for _, t in kept[3:])


def test_errors_and_results_survive_the_cap(execute):
    """Is an error always kept, and a result (it may be a score) kept but cut short?"""
    outs = []
    execute.output(outs, _message("stream", name="stdout", text="x" * 500), None, 0)
    result = _message(
        "execute_result", data={"text/plain": "y" * 5000}, metadata={}, execution_count=1
    )
    execute.output(outs, result, None, 0)
    execute.output(outs, _message("error", ename="E", evalue="v", traceback=["t" * 500]), None, 0)
    kinds = [o.output_type for o in outs]
    assert kinds == ["stream", "execute_result", "error"]
    assert outs[1].data["text/plain"] == "y" * 1000
    assert outs[2].traceback == ["t" * 500]


@pytest.fixture
def counted():
    """A TrackedExecute that keeps at most 3 outputs per cell, bytes unlimited in practice."""
    ex = TrackedExecute(max_outputs=3)
    ex.reset_execution_trackers()
    ex.clear_before_next_output = False
    ex._output_bytes, ex._dropped = 0, set()
    return ex


def _display(i: int) -> dict:
    return _message("display_data", data={"text/plain": str(i)}, metadata={})


def test_a_flood_of_tiny_outputs_is_cut_by_count_said_once_per_stream(counted):
    """Past max_outputs, are further outputs dropped, however small, saying so once each for
    stdout and stderr (nbgrader scores a cell with stderr output 0, so that fact is kept)?"""
    outs = []
    for i in range(1000):
        counted.output(outs, _display(i), None, 0)
    counted.output(outs, _message("stream", name="stderr", text="warned"), None, 0)
    counted.output(outs, _message("stream", name="stderr", text="again"), None, 0)
    assert [o.output_type for o in outs] == ["display_data"] * 3 + ["stream"] * 2
    assert [(o.name, o.text) for o in outs[3:]] == [
        (name, "\n... output truncated by the grader: more than 3 outputs ...\n")
        for name in ("stdout", "stderr")
    ]


def test_past_the_count_the_first_error_and_result_are_kept_and_no_more(counted):
    """Past max_outputs, is the first error and the first result still kept (what nbgrader
    scores a self-scoring cell by), and a flood of either not?"""
    outs = []
    for i in range(5):
        counted.output(outs, _display(i), None, 0)
    result = _message("execute_result", data={"text/plain": "0.5"}, metadata={}, execution_count=1)
    error = _message("error", ename="E", evalue="v", traceback=["t"])
    for _ in range(100):
        counted.output(outs, result, None, 0)
        counted.output(outs, error, None, 0)
    kinds = [o.output_type for o in outs]
    assert kinds == ["display_data"] * 3 + ["stream", "execute_result", "error"]


def test_the_count_cap_is_a_setting_of_1000_outputs():
    """Is the cap a configurable trait, 1000 by default?"""
    assert TrackedExecute().max_outputs == 1000
    cfg = Config()
    cfg.TrackedExecute.max_outputs = 50
    assert TrackedExecute(config=cfg).max_outputs == 50


def _executed_test_cell():
    cell = grade_cell(VISIBLE, "test_f", points=2)
    cell.outputs = [
        nbformat.v4.new_output("execute_result", data={"text/plain": "2"}, execution_count=1),
        nbformat.v4.new_output("error", ename="AssertionError", evalue="", traceback=[]),
    ]
    return cell


ERROR_REPLY = {
    "content": {"status": "error", "ename": "AssertionError", "evalue": "", "traceback": []}
}


def test_a_self_scoring_test_that_failed_loses_the_result_it_printed_first():
    """Does a failed test without a probe keep its error but not a score it printed before?"""
    ex = TrackedExecute()
    cell = _executed_test_cell()
    ex.on_cell_executed(cell=cell, cell_index=0, execute_reply=ERROR_REPLY)
    assert [o.output_type for o in cell.outputs] == ["error"]


def test_a_judged_test_keeps_its_outputs_for_the_judge_to_head():
    """For a probed test, are the student's outputs left (the judge puts its score first)?"""
    ex = TrackedExecute()
    ex._judged = True
    cell = _executed_test_cell()
    ex.on_cell_executed(cell=cell, cell_index=0, execute_reply=ERROR_REPLY)
    assert [o.output_type for o in cell.outputs] == ["execute_result", "error"]


def test_a_passing_test_keeps_its_result_and_the_probe_reply_is_kept():
    """Is a successful cell left alone, and a reply's user_expressions kept for the probe?"""
    ex = TrackedExecute()
    cell = _executed_test_cell()
    cell.outputs = cell.outputs[:1]
    reply = {"content": {"status": "ok", "user_expressions": {"r": {"status": "ok"}}}}
    ex.on_cell_executed(cell=cell, cell_index=0, execute_reply=reply)
    assert [o.output_type for o in cell.outputs] == ["execute_result"]
    assert ex._probe_reply == {"r": {"status": "ok"}}
