"""Grade submissions on a Dask cluster: bytes out to the workers, results back to one writer."""

from __future__ import annotations

import contextlib
import socket
import threading
import uuid
import warnings
from collections.abc import Iterable, Iterator

from distributed import Client, KilledWorker, as_completed, wait

from ds4023 import settings
from ds4023.grading.runners.dask_cluster import (
    SCHEDULER_ENV,
    ClusterError,
    WorkerUnfit,
    check_workers,
    connect,
    start_embedded,
    unfit_reason,
)
from ds4023.grading.runners.local import Job, _crashed
from ds4023.grading.task import AssignmentBundle, GradeResult, SubmissionFiles, grade_submission

#: nbgrader changes the process's working directory: one grading at a time per process, even
#: on a worker started with more than one thread.
_ONE_AT_A_TIME = threading.Lock()


def _hold(bundle: AssignmentBundle) -> AssignmentBundle:
    """A task whose result is the bundle: the scheduler can recompute it if its workers die."""
    return bundle


def grade_on_worker(bundle: AssignmentBundle, submission: SubmissionFiles) -> GradeResult:
    """The Dask task: grade one submission in this worker process (see grade_submission).

    Raises:
        WorkerUnfit: this worker cannot run the bundle's setup hook (e.g. not root for the
            sandbox); the parent stops the run instead of failing the student.
    """
    reason = unfit_reason(bundle.setup_hook)
    if reason:
        raise WorkerUnfit(f"Dask worker on {socket.gethostname()}: {reason}")
    with _ONE_AT_A_TIME:
        return grade_submission(bundle, submission)


def _threads(client: Client) -> int:
    try:
        return max(1, sum(client.nthreads().values()))
    except Exception:
        return 1


def _outcome(fut, bundle: AssignmentBundle, sub: SubmissionFiles) -> GradeResult | None:
    """A finished future's GradeResult; None when its workers kept dying (KilledWorker).

    Raises:
        ClusterError: the cluster, not the student, is at fault (unfit worker, lost scheduler).
    """
    if fut.status == "finished":
        try:
            return fut.result()
        except Exception as err:  # a result that cannot be read back
            return _crashed(bundle, sub, f"the grading task failed: {err}"[:300])
    if fut.status == "error":
        err = fut.exception()
        if isinstance(err, KilledWorker):
            return None
        if isinstance(err, WorkerUnfit | ImportError):
            raise ClusterError(f"{err}"[:300] + " (docs/scaling.md)") from None
        return _crashed(bundle, sub, f"the grading task failed: {type(err).__name__}: {err}"[:300])
    raise ClusterError(
        f"lost the Dask cluster while grading (a task was {fut.status}): the results recorded "
        "so far are kept; run again to grade the rest"
    )


def grade_on_cluster(
    client: Client, bundles: dict[str, AssignmentBundle], jobs: Iterable[Job]
) -> Iterator[GradeResult]:
    """Grade jobs on the cluster behind ``client``, yielding each result as it completes.

    Each assignment's bundle travels to the scheduler once, as the argument of a task that
    returns it, and from there to each worker that needs it; so it is never repeated per
    submission, and a bundle whose workers all died is simply computed again. At most
    ``max(4 * threads, 32)`` submissions are in flight (threads of the cluster as it is now,
    so workers that join later get work). When a task's workers keep dying the scheduler
    gives up on it (``KilledWorker``); such a task is graded once more at the end, alone, and
    fails with the reason only if it kills its worker again.

    Args:
        client: a connected client.
        bundles: assignment name -> bundle.
        jobs: the submissions to grade.

    Yields:
        One :class:`GradeResult` per job.

    Raises:
        ClusterError: the cluster cannot go on (see :func:`_outcome`).
    """
    run = uuid.uuid4().hex[:8]
    with warnings.catch_warnings():  # a bundle with big data files is sent once, on purpose
        warnings.filterwarnings("ignore", message="Sending large graph")
        held = {
            a: client.submit(_hold, b, key=f"ds4023-bundle-{a}-{run}") for a, b in bundles.items()
        }
    in_flight: dict = {}
    pending = iter(jobs)
    queue = as_completed()

    def submit(assignment: str, sub: SubmissionFiles, retries: int = 1):
        fut = client.submit(
            grade_on_worker,
            held[assignment],
            sub,
            # one task group for the scheduler ("ds4023-grade"), readable names for people
            key=f"ds4023-grade-{uuid.uuid4().hex}-{assignment}-{sub.student}",
            retries=retries,
        )
        in_flight[fut] = (assignment, sub)
        return fut

    def top_up() -> None:
        limit = max(4 * _threads(client), 32)
        while len(in_flight) < limit:
            job = next(pending, None)
            if job is None:
                return
            queue.add(submit(job.assignment, job.load()))

    suspects = []
    try:
        top_up()
        for fut in queue:
            assignment, sub = in_flight.pop(fut)
            result = _outcome(fut, bundles[assignment], sub)
            fut.release()
            if result is None:
                suspects.append((assignment, sub))
            else:
                yield result
            top_up()
        for assignment, sub in suspects:  # one at a time: nothing else of ours can be blamed
            fut = submit(assignment, sub, retries=0)
            wait([fut])
            in_flight.pop(fut)
            result = _outcome(fut, bundles[assignment], sub)
            fut.release()
            yield result or _crashed(bundles[assignment], sub)
    finally:
        with contextlib.suppress(Exception):
            client.cancel([*in_flight, *held.values()])


def run_dask(
    bundles: dict[str, AssignmentBundle],
    jobs: Iterable[Job],
    workers: int,
    scheduler: str | None = None,
    client: Client | None = None,
    log_dir: str | None = None,
) -> Iterator[GradeResult]:
    """Grade jobs with Dask, yielding each result as it completes (a batch_grade runner).

    Without ``client`` or ``scheduler`` (nor ``DS4023_DASK_SCHEDULER``) an embedded
    ``LocalCluster`` of ``workers`` one-thread processes runs for the duration of the call.
    Every worker is checked first (:func:`check_workers`). Only the caller records results.

    Args:
        bundles: assignment name -> bundle.
        jobs: the submissions to grade.
        workers: the embedded cluster's worker processes (ignored for an existing cluster).
        scheduler: address of an existing scheduler (default: ``$DS4023_DASK_SCHEDULER``).
        client: an already connected client to use (and leave open).
        log_dir: the embedded workers' log folder (None: the terminal).

    Yields:
        One :class:`GradeResult` per job.

    Raises:
        ClusterError: no cluster to grade on, or unfit workers; no student is failed for it.
    """
    stop = None
    if client is None:
        scheduler = scheduler or settings.get(SCHEDULER_ENV)
        client, stop = connect(scheduler) if scheduler else start_embedded(workers, log_dir)
    try:
        check_workers(client, bundles)
        yield from grade_on_cluster(client, bundles, jobs)
    finally:
        if stop is not None:
            stop()
