"""Run grading tasks in local worker processes and hand results back one at a time."""

from __future__ import annotations

import ctypes
import multiprocessing
import os
import signal
import sys
import warnings
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from pathlib import Path

from ds4023.grading_task import (
    FAILED,
    AssignmentBundle,
    GradeResult,
    SubmissionFiles,
    grade_submission,
)


@dataclass(frozen=True)
class Job:
    """One submission to grade.

    Attributes:
        assignment: the assignment name (a key of the bundles).
        student: the student id.
        load: reads the submitted files when the job is about to be sent to a worker, so
            a large class is never held in memory at once.
    """

    assignment: str
    student: str
    load: Callable[[], SubmissionFiles]


#: A runner grades jobs with the bundles and yields results as they finish, in any order.
#: ``run_local`` is the default; a Dask runner (issue 10) has the same signature.
Runner = Callable[[dict[str, AssignmentBundle], Iterable[Job], int], Iterator[GradeResult]]


def _warm_up(log_dir: str | None) -> None:
    """Prepare a worker: die with the parent (Linux), log to a file, import nbgrader once."""
    if log_dir:  # kernels inherit this: their start-up chatter goes to the log, not the screen
        Path(log_dir).mkdir(parents=True, exist_ok=True)
        fd = os.open(Path(log_dir) / f"worker-{os.getpid()}.log", os.O_WRONLY | os.O_CREAT, 0o644)
        os.dup2(fd, 1)
        os.dup2(fd, 2)
        os.close(fd)
    if sys.platform.startswith("linux"):
        try:  # PR_SET_PDEATHSIG = 1: a killed batch leaves no orphan worker behind
            ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)
        except (OSError, AttributeError):
            pass
    warnings.filterwarnings("ignore", message=".*not in session.*")
    import nbgrader.converters  # noqa: F401
    import nbgrader.preprocessors  # noqa: F401


def _new_pool(workers: int, log_dir: str | None) -> ProcessPoolExecutor:
    # "spawn": the parent holds database connections and a progress-bar thread, which a
    # forked child must not inherit; the import cost is paid once per worker.
    ctx = multiprocessing.get_context("spawn")
    return ProcessPoolExecutor(
        max_workers=workers, mp_context=ctx, initializer=_warm_up, initargs=(log_dir,)
    )


def _crashed(bundle: AssignmentBundle, sub: SubmissionFiles) -> GradeResult:
    return GradeResult(
        sub.student,
        bundle.assignment,
        sub.digest,
        bundle.fingerprint,
        FAILED,
        reason="the grading worker process died while grading this submission "
        "(its code killed the grader, or the machine ran out of memory)",
    )


def _isolated(bundle: AssignmentBundle, sub: SubmissionFiles, log_dir) -> GradeResult:
    """Grade one submission alone in a fresh process, to tell who broke a shared pool."""
    with _new_pool(1, log_dir) as pool:
        try:
            return pool.submit(grade_submission, bundle, sub).result()
        except BrokenProcessPool:
            return _crashed(bundle, sub)


def run_local(
    bundles: dict[str, AssignmentBundle],
    jobs: Iterable[Job],
    workers: int,
    log_dir: str | None = None,
) -> Iterator[GradeResult]:
    """Grade jobs in a pool of local worker processes, yielding each result as it finishes.

    At most ``2 * workers`` jobs are in flight, so memory stays bounded. Only the caller
    touches the gradebook. If a worker process dies (student code can kill its kernel's
    parent), the pool is rebuilt and every job that was in flight is graded again alone in
    a fresh process: the one that kills its process again is failed with the reason, the
    others are graded normally.

    Args:
        bundles: assignment name -> bundle.
        jobs: the submissions to grade.
        workers: the number of worker processes (at least 1).
        log_dir: folder for the workers' (and their kernels') stdout and stderr; None
            leaves them on the terminal.

    Yields:
        One :class:`GradeResult` per job.
    """
    pending = iter(jobs)
    in_flight: dict[Future, tuple[AssignmentBundle, SubmissionFiles]] = {}
    pool = _new_pool(max(1, workers), log_dir)

    def top_up() -> None:
        while len(in_flight) < 2 * max(1, workers):
            job = next(pending, None)
            if job is None:
                return
            bundle = bundles[job.assignment]
            sub = job.load()
            in_flight[pool.submit(grade_submission, bundle, sub)] = (bundle, sub)

    completed = False
    try:
        top_up()
        while in_flight:
            done, _ = wait(list(in_flight), return_when=FIRST_COMPLETED)
            broken = []
            for fut in done:
                bundle, sub = in_flight.pop(fut)
                try:
                    yield fut.result()
                except BrokenProcessPool:
                    broken.append((bundle, sub))
            if broken:
                broken += list(in_flight.values())
                in_flight.clear()
                pool.shutdown(wait=False, cancel_futures=True)
                for bundle, sub in broken:
                    yield _isolated(bundle, sub, log_dir)
                pool = _new_pool(max(1, workers), log_dir)
            top_up()
        completed = True
    finally:
        pool.shutdown(wait=completed, cancel_futures=True)
