"""One grading task: autograde one submission in a scratch course, bytes in and bytes out."""

from __future__ import annotations

import importlib
import logging
import os
import shutil
import tempfile
import threading
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path

from nbgrader.api import Gradebook
from nbgrader.coursedir import CourseDirectory
from nbgrader.utils import find_all_files
from sqlalchemy.exc import SAWarning
from traitlets.config import Config

from ds4023 import probe
from ds4023.grading.judge import submission_seed
from ds4023.grading.preprocessors.execute import (
    RUNNING,
    CapturingAutograde,
    WarningCollector,
    describe_failure,
    find_execute,
    tracked_preprocessors,
)
from ds4023.grading.preprocessors.judge_hidden_tests import reference_for
from ds4023.grading.preprocessors.overwrite_cells import sanitize_chain

GRADED = "graded"
FAILED = "failed"

#: Numerical libraries' thread counts, set to 1 for the kernels unless the operator set them:
#: parallelism comes from the workers (two 2-thread kernels on 2 cores thrash), and the
#: numbers then do not depend on how many workers run.
THREAD_VARIABLES = (
    "OMP_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "MKL_NUM_THREADS",
    "VECLIB_MAXIMUM_THREADS",
    "NUMEXPR_NUM_THREADS",
)

#: Files the student's code leaves behind larger than this are not sent back to the parent.
MAX_RETURNED_FILE = 20 * 1024 * 1024


@dataclass(frozen=True)
class AssignmentBundle:
    """Everything a worker needs to know about one assignment, as plain picklable data.

    Attributes:
        assignment: the assignment name.
        course_id: the course id recorded in the gradebook.
        notebooks: names (without ``.ipynb``) of the assignment's notebooks.
        gradebook_template: bytes of an SQLite gradebook holding only this assignment's
            notebooks and cells (what ``OverwriteCells`` restores from), no students.
        support_files: relative path -> bytes of every non-notebook source file that
            nbgrader copies over each submission (data files).
        config: nbgrader configuration sections (plain nested dicts) for the autograder,
            e.g. ``{"Execute": {"timeout": 180}}``; course paths are set by the worker.
        submission_timeout: seconds one whole submission may take before its kernel is killed.
        fingerprint: hash of all of the above; a change means every submission is regraded.
        setup_hook: optional ``"module:function"`` the worker calls as
            ``function(config, scratch_root)`` before grading, to adjust nbgrader's
            configuration for the scratch course (e.g. a sandboxed kernel); if it returns a
            callable, that is called after grading to clean up.
        probe_files: files put beside the notebook for the hidden tests' probes (the probe
            module and the grader's inputs); the kernel may read them, they hold no answers.
        judge_files: the assignment's ``reference.py`` (and what it reads), written where
            only the grading process can read them; empty for an assignment without one.
        secret: the course's grading secret: with it the task draws each submission's hidden
            inputs (``judge.submission_seed``) and writes them beside the notebook.
    """

    assignment: str
    course_id: str
    notebooks: tuple[str, ...]
    gradebook_template: bytes
    support_files: dict[str, bytes]
    config: dict
    submission_timeout: float
    fingerprint: str
    setup_hook: str | None = None
    probe_files: dict[str, bytes] = field(default_factory=dict)
    judge_files: dict[str, bytes] = field(default_factory=dict)
    secret: bytes = b""


@dataclass(frozen=True)
class SubmissionFiles:
    """One student's submitted folder, as bytes.

    Attributes:
        student: the student id.
        files: relative path -> bytes (notebooks, timestamp.txt, the student's extra files).
        digest: hash of the files, recorded to skip unchanged submissions later.
    """

    student: str
    files: dict[str, bytes]
    digest: str


@dataclass
class GradeResult:
    """What a task returns: plain data only, so it can travel back from any worker.

    Attributes:
        student: the student id.
        assignment: the assignment name.
        digest: the submission digest the result belongs to.
        fingerprint: the assignment fingerprint the result belongs to.
        status: ``"graded"`` or ``"failed"``.
        reason: why the submission failed (None when graded).
        notebooks: notebook name -> bytes of the autograded notebook.
        files: other files of the autograded folder that differ from the source's support
            files (the student's extra files and whatever their code wrote).
        scores: notebook name -> grade_id -> auto score in the scratch gradebook.
        warnings: nbgrader's warnings while grading (restored cells, changed metadata).
        timings: seconds spent per step (``setup``, ``kernel_start``, ``cells``, ``autograde``,
            ``task``).
    """

    student: str
    assignment: str
    digest: str
    fingerprint: str
    status: str
    reason: str | None = None
    notebooks: dict[str, bytes] = field(default_factory=dict)
    files: dict[str, bytes] = field(default_factory=dict)
    scores: dict[str, dict[str, float | None]] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)


def _write_files(root: Path, files: dict[str, bytes]) -> None:
    for rel, data in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)


def grade_submission(bundle: AssignmentBundle, submission: SubmissionFiles) -> GradeResult:
    """Autograde one submission with nbgrader in a private scratch course directory.

    A pure function of its arguments: it builds a course directory under the system's
    temporary directory (the gradebook template, the source's support files, the
    submission), runs nbgrader's ``Autograde`` converter there exactly as ``nbgrader
    autograde`` would, reads the result back and deletes the scratch directory. It touches
    no shared file, so it can run in any process or on any Dask worker.

    Args:
        bundle: the assignment's grading bundle (see :class:`AssignmentBundle`).
        submission: the student's submitted files.

    Returns:
        A :class:`GradeResult`; a submission that could not be graded comes back with
        status ``"failed"`` and the reason, never as an exception.
    """
    started = time.perf_counter()
    result = GradeResult(
        submission.student, bundle.assignment, submission.digest, bundle.fingerprint, FAILED
    )
    scratch = Path(tempfile.mkdtemp(prefix="ds4023-grade-"))
    handler = WarningCollector()
    log = logging.getLogger(f"ds4023.grade.{submission.student}")
    log.propagate = False
    log.addHandler(handler)
    timer, cleanup = None, None
    fired = threading.Event()
    expected = [f"{n}.ipynb" for n in bundle.notebooks]
    if not any(name in submission.files for name in expected):
        found = sorted(n for n in submission.files if n.endswith(".ipynb"))
        result.reason = f"no notebook named {' or '.join(expected)} in the submission" + (
            f" (found: {', '.join(found)[:200]})" if found else " (no notebook at all)"
        )
    try:
        if result.reason:
            return result
        (scratch / "gradebook.db").write_bytes(bundle.gradebook_template)
        _write_files(scratch / "source" / bundle.assignment, bundle.support_files)
        _write_files(scratch / "source" / bundle.assignment, bundle.probe_files)
        if bundle.judge_files:  # outside the assignment's folder: never shown to a kernel
            _write_files(scratch / "judge", {**bundle.support_files, **bundle.judge_files})
        sub_dir = scratch / "submitted" / submission.student / bundle.assignment
        sub_dir.mkdir(parents=True)
        _write_files(sub_dir, submission.files)
        cfg = Config(bundle.config)
        cfg.CourseDirectory.root = str(scratch)
        cfg.CourseDirectory.db_url = f"sqlite:///{scratch / 'gradebook.db'}"
        cfg.CourseDirectory.course_id = bundle.course_id
        cfg.CourseDirectory.assignment_id = bundle.assignment
        cfg.CourseDirectory.student_id = submission.student
        cfg.Autograde.sanitize_preprocessors = sanitize_chain(
            cfg.Autograde.get("sanitize_preprocessors")
        )
        cfg.Autograde.autograde_preprocessors = tracked_preprocessors(cfg)
        if bundle.judge_files:
            reference = scratch / "judge" / "reference.py"
            seed = submission_seed(
                bundle.secret, bundle.assignment, submission.student, submission.digest
            )
            _, arrays, tests = reference_for(reference, seed)
            inputs = scratch / "source" / bundle.assignment / probe.INPUTS
            inputs.write_bytes(probe.save_inputs(arrays, tests))
            cfg.JudgeHiddenTests.reference = str(reference)
            cfg.JudgeHiddenTests.seed = seed
        if "shutdown_kernel" not in cfg.Execute:  # outputs are in; no need to wait politely
            cfg.Execute.shutdown_kernel = "immediate"
        coursedir = CourseDirectory(config=cfg, log=log)
        if bundle.setup_hook:
            module, _, name = bundle.setup_hook.partition(":")
            cleanup = getattr(importlib.import_module(module), name)(cfg, scratch)
        grader = CapturingAutograde(coursedir=coursedir, config=cfg, log=log)
        result.timings["setup"] = time.perf_counter() - started

        owner = threading.get_ident()

        def watchdog() -> None:
            fired.set()
            running = RUNNING.get(owner)
            if running is not None:
                running.stopped_by_watchdog = bundle.submission_timeout
                running.kill_kernel()

        timer = threading.Timer(bundle.submission_timeout, watchdog)
        timer.daemon = True
        timer.start()
        t0 = time.perf_counter()
        os.environ.setdefault("MPLBACKEND", "Agg")  # this process; kernels: inline (TrackedExecute)
        for var in THREAD_VARIABLES:  # kernels inherit this: one BLAS thread each
            os.environ.setdefault(var, "1")
        try:
            with warnings.catch_warnings():  # nbgrader 0.9 on SQLAlchemy 2: harmless warnings
                warnings.simplefilter("ignore", SAWarning)
                grader.start()
            error = None
        except Exception as err:  # nbgrader wraps per-student errors in NbGraderException
            error = err
        result.timings["autograde"] = time.perf_counter() - t0
        timer.cancel()
        execute = find_execute(grader)
        if execute is not None and getattr(execute, "first_cell_at", None):
            result.timings["kernel_start"] = execute.first_cell_at - execute.started
            result.timings["cells"] = execute.cell_seconds
        result.warnings = handler.lines[:50]
        out_dir = scratch / "autograded" / submission.student / bundle.assignment
        produced = {n: out_dir / f"{n}.ipynb" for n in bundle.notebooks}
        if error is None and fired.is_set() and any(p.is_file() for p in produced.values()):
            limit = bundle.submission_timeout  # the tests that finished keep their scores
            result.warnings.append(f"stopped at the {limit:g} s limit: later tests scored 0")
        elif error is not None or fired.is_set() or not any(p.is_file() for p in produced.values()):
            timed_out = bundle.submission_timeout if fired.is_set() else 0
            reason = describe_failure(grader.failure or error, execute, timed_out)
            result.reason = reason.replace(str(scratch) + os.sep, "")  # no scratch paths
            return result
        result.notebooks = {n: p.read_bytes() for n, p in produced.items() if p.is_file()}
        result.files = _returned_files(out_dir, bundle, result.warnings)
        result.scores = _read_scores(cfg.CourseDirectory.db_url, bundle, submission.student)
        result.status = GRADED
        return result
    except Exception as err:  # a broken task must come back as a failure, never vanish
        result.status, result.notebooks, result.files = FAILED, {}, {}
        result.reason = f"the grader itself failed: {type(err).__name__}: {err}"[:300]
        return result
    finally:
        if timer is not None:
            timer.cancel()
        if callable(cleanup):
            try:
                cleanup()
            except Exception as err:
                result.warnings.append(f"setup hook clean-up failed: {err}"[:300])
        log.removeHandler(handler)
        shutil.rmtree(scratch, ignore_errors=True)
        result.timings["task"] = time.perf_counter() - started


def _returned_files(out_dir: Path, bundle: AssignmentBundle, notes: list[str]) -> dict:
    files = {}
    notebooks = {f"{n}.ipynb" for n in bundle.notebooks}
    for name in find_all_files(str(out_dir)):
        rel = os.path.relpath(name, out_dir)
        if rel in notebooks or rel == probe.INPUTS:  # the grader's, not the student's
            continue
        size = os.path.getsize(name)
        if size > MAX_RETURNED_FILE:
            notes.append(f"not kept: {rel} ({size} bytes) is larger than the limit")
            continue
        data = Path(name).read_bytes()
        if bundle.support_files.get(rel, bundle.probe_files.get(rel)) != data:
            files[rel] = data
    return files


def _read_scores(db_url: str, bundle: AssignmentBundle, student: str) -> dict:
    scores: dict[str, dict[str, float | None]] = {}
    with Gradebook(db_url, bundle.course_id) as gb:
        for name in bundle.notebooks:
            sub = gb.find_submission_notebook(name, bundle.assignment, student)
            scores[name] = {g.name: g.auto_score for g in sub.grades}
    return scores
