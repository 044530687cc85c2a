"""Tests for one grading task: a bundle and a submission in, a plain result out, nothing left.

No kernel is started: the bundle's autograde chain leaves out Execute (``NO_KERNEL``), so a
test cell scores its full points unless the sanitizing steps or the task itself stop the
submission; what the kernel does to scores is tested by the grading tests of the toy class.
"""

from __future__ import annotations

import json
import os
import pickle
import tempfile
from pathlib import Path

import nbformat
import pytest
from nbconvert.preprocessors import ClearMetadataPreprocessor
from nbgrader.preprocessors import (
    AssignLatePenalties,
    CheckCellMetadata,
    IgnorePattern,
    LimitOutput,
    SaveAutoGrades,
)

from ds4023.grading import gradebook_template
from ds4023.grading.state import digest_files
from ds4023.grading.task import (
    FAILED,
    GRADED,
    THREAD_VARIABLES,
    AssignmentBundle,
    SubmissionFiles,
    grade_submission,
)
from tests.helpers.nbgrader_cells import (
    COURSE_ID,
    grade_cell,
    notebook,
    plain_cell,
    save_release,
    solution_cell,
)

A = "a1"
TEST_F = "assert f(2) == 4"
RELEASE = notebook(
    plain_cell("import csv"),
    solution_cell("def f(x):\n    raise NotImplementedError()", "answer_f"),
    grade_cell(TEST_F, "test_f", points=2),
    grade_cell("assert f(3) == 9", "test_g", points=3),
)
NO_KERNEL = {
    "Autograde": {
        "autograde_preprocessors": [
            IgnorePattern,
            ClearMetadataPreprocessor,
            LimitOutput,
            SaveAutoGrades,
            AssignLatePenalties,
            CheckCellMetadata,
        ]
    }
}
DATA = {"data.csv": b"x,y\n1,2\n"}
#: A reference that judges no test (the notebook's hidden tests are not probes).
REFERENCE = (
    b"def build(folder):\n    return {}, {}\n\n\ndef judge(grade_id, results, arrays):\n    pass\n"
)
#: Calls of the set-up hook below: (scratch exists, what it saw), and clean-ups.
HOOK_CALLS: list = []


def record_hook(config, scratch):
    """A set-up hook: note what the scratch course holds, return a clean-up."""
    scratch = Path(scratch)
    HOOK_CALLS.append(
        {
            "db": (scratch / "gradebook.db").is_file(),
            "judge": sorted(p.name for p in (scratch / "judge").glob("*")),
            "source": sorted(p.name for p in (scratch / "source" / A).glob("*")),
            "timeout": config.Execute.get("timeout"),
        }
    )
    return lambda: HOOK_CALLS.append("cleaned")


def broken_cleanup_hook(config, scratch):
    def cleanup():
        raise OSError("cgroup busy")

    return cleanup


def failing_hook(config, scratch):
    raise RuntimeError("no sandbox here")


@pytest.fixture(scope="module")
def template(tmp_path_factory) -> bytes:
    db_url = f"sqlite:///{tmp_path_factory.mktemp('release') / 'gradebook.db'}"
    save_release(db_url, A, A, RELEASE)
    spec = gradebook_template.assignment_spec(db_url, COURSE_ID, A)
    return gradebook_template.build_template(
        spec, COURSE_ID, gradebook_template.schema_version(db_url)
    )


@pytest.fixture(autouse=True)
def private_tmp(tmp_path, monkeypatch):
    """Scratch courses under tmp_path; the task's environment defaults undone afterwards."""
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    for var in (*THREAD_VARIABLES, "MPLBACKEND"):
        was = os.environ.get(var)
        monkeypatch.setenv(var, was or "")  # recorded: the old state comes back after the test
        if was is None:
            monkeypatch.delenv(var)
    HOOK_CALLS.clear()
    return tmp_path


def bundle(template: bytes, **changes) -> AssignmentBundle:
    fields = dict(
        assignment=A,
        course_id=COURSE_ID,
        notebooks=(A,),
        gradebook_template=template,
        support_files=DATA,
        config=NO_KERNEL,
        submission_timeout=60.0,
        fingerprint="fp",
    )
    return AssignmentBundle(**{**fields, **changes})


def submission(files: dict[str, bytes], student: str = "s1") -> SubmissionFiles:
    return SubmissionFiles(student, files, digest_files(files))


def student_notebook(**sources) -> bytes:
    """The release with cells replaced by grade_id (what a student hands in)."""
    nb = nbformat.from_dict(json.loads(nbformat.writes(RELEASE)))
    for cell in nb.cells:
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if grade_id in sources:
            cell.source = sources[grade_id]
    return nbformat.writes(nb).encode()


def leftovers(tmp_path) -> list[str]:
    return sorted(p.name for p in tmp_path.iterdir() if p.name.startswith("ds4023-grade-"))


def test_a_submission_comes_back_graded_with_scores_and_notebook(template, tmp_path):
    """Does a normal submission come back graded: scores, the autograded notebook, timings?"""
    files = {f"{A}.ipynb": student_notebook(answer_f="def f(x):\n    return x * x")}
    files["timestamp.txt"] = b"2026-03-01 12:00:00 UTC"
    result = grade_submission(bundle(template), submission(files))
    assert result.status == GRADED and result.reason is None
    assert (result.student, result.assignment, result.fingerprint) == ("s1", A, "fp")
    assert result.digest == digest_files(files)
    assert result.scores == {A: {"test_f": 2.0, "test_g": 3.0}}
    graded = nbformat.reads(result.notebooks[A].decode(), as_version=4)
    assert "return x * x" in graded.cells[1].source
    assert {"setup", "autograde", "task"} <= set(result.timings)
    assert leftovers(tmp_path) == []
    assert pickle.loads(pickle.dumps(result)) == result  # it travels back from any worker


def test_a_rewritten_test_is_graded_as_released(template):
    """Is a test the student replaced by ``pass`` put back before grading?"""
    files = {f"{A}.ipynb": student_notebook(test_f="pass")}
    result = grade_submission(bundle(template), submission(files))
    graded = nbformat.reads(result.notebooks[A].decode(), as_version=4)
    assert result.status == GRADED and graded.cells[2].source == TEST_F
    assert not any("checksum" in w for w in result.warnings)  # every hidden test differs so


def test_only_the_students_own_and_changed_files_come_back(template):
    """Are the student's extra files returned, and the course's unchanged data files not?"""
    files = {
        f"{A}.ipynb": student_notebook(),
        "notes.txt": b"mine",
        "data.csv": b"tampered",  # nbgrader copies the source's data file over it
    }
    result = grade_submission(bundle(template), submission(files))
    assert result.status == GRADED
    assert result.files == {"notes.txt": b"mine"}


@pytest.mark.parametrize(
    "files, reason",
    [
        ({}, "no notebook named a1.ipynb in the submission (no notebook at all)"),
        (
            {"A1 (1).ipynb": b"{}", "notes.txt": b""},
            "no notebook named a1.ipynb in the submission (found: A1 (1).ipynb)",
        ),
    ],
)
def test_a_submission_without_the_notebook_is_refused_with_what_was_found(
    template, tmp_path, files, reason
):
    """Does a misnamed or missing notebook fail at once, naming what was handed in?"""
    result = grade_submission(bundle(template), submission(files))
    assert (result.status, result.reason) == (FAILED, reason)
    assert result.notebooks == {} and result.scores == {}
    assert leftovers(tmp_path) == []


def test_a_damaged_notebook_fails_with_one_line(template, tmp_path):
    """Is a notebook that is not JSON a failed result with the reason, not an exception?"""
    files = {f"{A}.ipynb": student_notebook()[:300]}
    result = grade_submission(bundle(template), submission(files))
    assert result.status == FAILED
    assert result.reason == "the notebook is not valid JSON (damaged file): it could not be read"
    assert result.notebooks == {} and leftovers(tmp_path) == []


def test_another_assignments_notebook_is_refused(template, tmp_path):
    """Is a notebook holding none of this assignment's cells refused, with no scratch path?"""
    other = notebook(solution_cell("x = 1", "other_answer"), grade_cell("assert x", "other"))
    result = grade_submission(
        bundle(template), submission({f"{A}.ipynb": nbformat.writes(other).encode()})
    )
    assert result.status == FAILED
    assert "is it another assignment's notebook?" in result.reason
    assert str(tmp_path) not in result.reason


def test_the_setup_hook_sees_the_scratch_course_and_cleans_up(template):
    """Is the hook called with the config and a complete scratch course, and its clean-up run?"""
    hooked = bundle(
        template,
        setup_hook="tests.grading.test_task:record_hook",
        judge_files={"reference.py": REFERENCE},
        probe_files={"ds4023_probe.py": b"# probe"},
    )
    result = grade_submission(hooked, submission({f"{A}.ipynb": student_notebook()}))
    assert result.status == GRADED, result.reason
    seen, cleaned = HOOK_CALLS
    assert cleaned == "cleaned"
    assert seen["db"] and seen["judge"] == ["data.csv", "reference.py"]
    # never the reference; the submission's own inputs, drawn by the grader, beside the notebook
    assert seen["source"] == ["data.csv", "ds4023_inputs.npz", "ds4023_probe.py"]
    assert "ds4023_inputs.npz" not in result.files  # the grader's inputs are not the student's
    assert "ds4023_probe.py" not in result.files  # shipped files are not the student's


def test_a_hook_that_fails_to_clean_up_is_a_warning(template):
    """Does a failing clean-up leave the grade and say so in the warnings?"""
    hooked = bundle(template, setup_hook="tests.grading.test_task:broken_cleanup_hook")
    result = grade_submission(hooked, submission({f"{A}.ipynb": student_notebook()}))
    assert result.status == GRADED
    assert "setup hook clean-up failed: cgroup busy" in result.warnings


def test_a_failing_hook_is_the_graders_failure_not_the_students(template, tmp_path):
    """Does a hook that raises come back as a failed result naming the grader, never raise?"""
    hooked = bundle(template, setup_hook="tests.grading.test_task:failing_hook")
    result = grade_submission(hooked, submission({f"{A}.ipynb": student_notebook()}))
    assert result.status == FAILED and result.notebooks == {}
    assert result.reason == "the grader itself failed: RuntimeError: no sandbox here"
    assert leftovers(tmp_path) == []


def test_kernels_get_one_blas_thread_unless_the_operator_chose(template, monkeypatch):
    """Are the thread counts set to 1 for the kernels, an operator's own value kept?"""
    for var in THREAD_VARIABLES:
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("OMP_NUM_THREADS", "4")
    grade_submission(bundle(template), submission({f"{A}.ipynb": student_notebook()}))
    assert os.environ["OMP_NUM_THREADS"] == "4"
    assert all(os.environ[v] == "1" for v in THREAD_VARIABLES if v != "OMP_NUM_THREADS")


@pytest.mark.slow
def test_with_a_kernel_a_wrong_answer_scores_zero_and_a_crash_fails(template):
    """With nbgrader's own chain (a real kernel), is a wrong answer 0 and an exit a failure?"""
    real = bundle(template, config={"Execute": {"timeout": 60}})
    wrong = {f"{A}.ipynb": student_notebook(answer_f="def f(x):\n    return 4")}
    result = grade_submission(real, submission(wrong))
    assert result.status == GRADED, result.reason
    assert result.scores == {A: {"test_f": 2.0, "test_g": 0.0}}  # right for 2, wrong for 3
    assert "kernel_start" in result.timings and "cells" in result.timings

    crash = {f"{A}.ipynb": student_notebook(answer_f="import os\nos._exit(1)")}
    result = grade_submission(real, submission(crash))
    assert result.status == FAILED and result.notebooks == {}
    assert result.reason.startswith("the kernel died while running cell 1 (answer_f)")
