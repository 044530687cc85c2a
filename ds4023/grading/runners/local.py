"""Run grading tasks in local worker processes and hand results back one at a time."""

from __future__ import annotations

import ctypes
import multiprocessing
import os
import shutil
import signal
import sys
import tempfile
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import (
    FIRST_COMPLETED,
    Future,
    ProcessPoolExecutor,
    ThreadPoolExecutor,
    as_completed,
    wait,
)
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from pathlib import Path

from ds4023.grading.task import (
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


def _warm_up(log_dir: str | None, scratch: str) -> None:
    """Prepare a worker: die with the parent (Linux), log to a file, import nbgrader once."""
    tempfile.tempdir = scratch  # scratch courses of a killed worker go when the run ends
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
    import nbgrader.converters  # noqa: F401
    import nbgrader.preprocessors  # noqa: F401


def _new_pool(workers: int, log_dir: str | None, scratch: str) -> ProcessPoolExecutor:
    # "forkserver": workers must not inherit the parent's database connections and threads
    # (plain fork would), and forking from a server that has imported nbgrader once makes a
    # new worker cheap (plain spawn pays the imports again for every rebuilt pool).
    ctx = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload(["ds4023.grading.task"])
    return ProcessPoolExecutor(
        max_workers=workers, mp_context=ctx, initializer=_warm_up, initargs=(log_dir, scratch)
    )


RUN_PREFIX = "ds4023-run-"


def remove_stale_runs() -> None:
    """Delete scratch folders left by runs whose process was killed (named after its pid)."""
    for folder in Path(tempfile.gettempdir()).glob(f"{RUN_PREFIX}*-*"):
        pid = folder.name[len(RUN_PREFIX) :].split("-")[0]
        if not pid.isdigit():
            continue
        try:
            os.kill(int(pid), 0)  # signal 0: only asks whether the process exists
        except ProcessLookupError:
            shutil.rmtree(folder, ignore_errors=True)
        except PermissionError:
            pass


def _crashed(bundle: AssignmentBundle, sub: SubmissionFiles, reason: str = "") -> GradeResult:
    return GradeResult(
        sub.student,
        bundle.assignment,
        sub.digest,
        bundle.fingerprint,
        FAILED,
        reason=reason
        or "the grading worker process died while grading this submission "
        "(its code killed the grader, or the machine ran out of memory)",
    )


class WorkerStartError(RuntimeError):
    """Worker processes cannot run even an empty task: the machine, not a student, is at fault."""


def _isolated(bundle: AssignmentBundle, sub: SubmissionFiles, *where: str) -> GradeResult:
    """Grade one submission alone in a fresh process, to tell who broke a shared pool.

    Raises:
        WorkerStartError: a fresh worker cannot even run an empty task.
    """
    with _new_pool(1, *where) as pool:
        try:
            return pool.submit(grade_submission, bundle, sub).result()
        except BrokenProcessPool:
            pass
    with _new_pool(1, *where) as pool:
        try:
            pool.submit(os.getpid).result()
        except BrokenProcessPool:
            raise WorkerStartError(
                "grading worker processes die on start-up: see the logs in .grading/logs/"
            ) from None
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
    a fresh process of its own (``workers`` at a time): the one that kills its process again
    is failed with the reason, the others are graded normally.

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
    remove_stale_runs()
    scratch = tempfile.mkdtemp(prefix=f"{RUN_PREFIX}{os.getpid()}-")
    pool = _new_pool(max(1, workers), log_dir, scratch)

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
                    result = fut.result()
                except BrokenProcessPool:
                    broken.append((bundle, sub))
                    continue
                except Exception as err:  # e.g. a result that cannot be sent back
                    result = _crashed(bundle, sub, f"the grading task failed: {err}"[:300])
                yield result
            if broken:
                broken += list(in_flight.values())
                in_flight.clear()
                pool.shutdown(wait=False, cancel_futures=True)
                with ThreadPoolExecutor(max(1, workers)) as threads:
                    alone = [
                        threads.submit(_isolated, bundle, sub, log_dir, scratch)
                        for bundle, sub in broken
                    ]
                    for fut in as_completed(alone):
                        yield fut.result()
                pool = _new_pool(max(1, workers), log_dir, scratch)
            top_up()
        completed = True
    finally:
        pool.shutdown(wait=completed, cancel_futures=True)
        shutil.rmtree(scratch, ignore_errors=True)
