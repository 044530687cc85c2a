"""Grade submissions on a Dask cluster: bytes out to the workers, results back to one writer."""

from __future__ import annotations

import contextlib
import importlib
import logging
import multiprocessing
import os
import platform
import shutil
import socket
import tempfile
import threading
import uuid
import warnings
from collections.abc import Callable, Iterable, Iterator
from importlib import metadata
from pathlib import Path

import dask
from distributed import Client, KilledWorker, LocalCluster, WorkerPlugin, as_completed, wait
from distributed.comm import CommClosedError
from distributed.utils import get_mp_context, silence_logging_cmgr

from ds4023.grading_pool import RUN_PREFIX, Job, WorkerStartError, _crashed, _remove_stale_runs
from ds4023.grading_task import AssignmentBundle, GradeResult, SubmissionFiles, grade_submission

#: Environment variable naming an existing scheduler, e.g. ``tcp://10.0.0.5:8786``.
SCHEDULER_ENV = "DS4023_DASK_SCHEDULER"

#: Scheduler settings of the embedded cluster. One task per one-thread worker at a time
#: (saturation 1.0), so a worker's death implicates only the task it was running; that task
#: is tried on one more worker (allowed-failures 1) before the scheduler gives up on it.
EMBEDDED_CONFIG = {
    "distributed.scheduler.allowed-failures": 1,
    "distributed.scheduler.worker-saturation": 1.0,
    "distributed.worker.multiprocessing-method": "forkserver",
}

#: Environment variables: seconds to reach a scheduler, and to wait for its first worker.
CONNECT_TIMEOUT_ENV, WORKER_WAIT_ENV = "DS4023_DASK_CONNECT_TIMEOUT", "DS4023_DASK_WORKER_WAIT"

#: Packages whose versions decide the grades: every worker must run the parent's versions.
GRADING_PACKAGES = ("nbgrader", "ipykernel", "numpy", "scipy", "scikit-learn", "matplotlib")

#: nbgrader changes the process's working directory: one grading at a time per process, even
#: on a worker started with more than one thread.
_ONE_AT_A_TIME = threading.Lock()


class ClusterError(WorkerStartError):
    """The Dask cluster cannot grade (unreachable, no workers, unfit workers); nobody is failed."""


class WorkerUnfit(RuntimeError):
    """Raised on a worker that cannot grade the way the parent asked (e.g. no sandbox there)."""


def _hold(bundle: AssignmentBundle) -> AssignmentBundle:
    """A task whose result is the bundle: the scheduler can recompute it if its workers die."""
    return bundle


def _unfit_reason(hook: str | None) -> str | None:
    """Why this worker cannot run a setup hook (None when it can)."""
    if not hook:
        return None
    module, _, name = hook.partition(":")
    try:
        mod = importlib.import_module(module)
        getattr(mod, name)
    except (ImportError, AttributeError) as err:
        return f"cannot load the setup hook {hook}: {err}"
    from ds4023 import sandbox

    return sandbox.unavailable_reason() if hook == sandbox.GRADING_HOOK else None


def grade_on_worker(bundle: AssignmentBundle, submission: SubmissionFiles) -> GradeResult:
    """The Dask task: grade one submission in this worker process (see grade_submission).

    Raises:
        WorkerUnfit: this worker cannot run the bundle's setup hook (e.g. not root for the
            sandbox); the parent stops the run instead of failing the student.
    """
    reason = _unfit_reason(bundle.setup_hook)
    if reason:
        raise WorkerUnfit(f"Dask worker on {socket.gethostname()}: {reason}")
    with _ONE_AT_A_TIME:
        return grade_submission(bundle, submission)


def _describe_worker(hooks: list[str]) -> dict:
    """Run on each worker before grading: versions that decide grades, and fitness."""
    versions = {"python": platform.python_version()}
    for name in GRADING_PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    unfit = [r for r in map(_unfit_reason, hooks) if r]
    return {"host": socket.gethostname(), "versions": versions, "unfit": unfit}


class EmbeddedWorkerSetup(WorkerPlugin):
    """Prepare each worker of the embedded cluster: scratch folder, log file, nbgrader imported.

    Args:
        log_dir: folder for the worker's (and its kernels') output; None leaves it on the
            terminal.
        scratch: the run's scratch folder, removed when the run ends (even after a crash).
    """

    name = "ds4023-embedded-worker"

    def __init__(self, log_dir: str | None, scratch: str):
        self.log_dir, self.scratch = log_dir, scratch

    def setup(self, worker) -> None:
        """Called by Dask in every worker process, including ones restarted after a death."""
        tempfile.tempdir = self.scratch
        if self.log_dir:  # kernels inherit these descriptors: their chatter goes to the log
            Path(self.log_dir).mkdir(parents=True, exist_ok=True)
            path = Path(self.log_dir) / f"dask-worker-{os.getpid()}.log"
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
            os.dup2(fd, 1)
            os.dup2(fd, 2)
            os.close(fd)
        import nbgrader.converters  # noqa: F401
        import nbgrader.preprocessors  # noqa: F401


def start_embedded(workers: int, log_dir: str | None = None) -> tuple[Client, Callable[[], None]]:
    """Start an in-process ``LocalCluster`` of one-thread worker processes on 127.0.0.1.

    Args:
        workers: the number of worker processes.
        log_dir: folder for the workers' output (None: the terminal).

    Returns:
        A client and a function that stops the cluster and removes its scratch folder.

    Raises:
        ClusterError: the cluster cannot start.
    """
    _remove_stale_runs()
    scratch = tempfile.mkdtemp(prefix=f"{RUN_PREFIX}{os.getpid()}-")
    try:
        # Dask puts its scratch folders first on sys.path: keep them all in this private
        # folder, never in a shared /tmp/dask-scratch-space another user could have made.
        with dask.config.set({**EMBEDDED_CONFIG, "temporary-directory": scratch}):
            # Workers fork from a server that has imported distributed and nbgrader once
            # (spawn would pay those imports again in every worker, seconds each).
            get_mp_context()
            ctx = multiprocessing.get_context("forkserver")
            ctx.set_forkserver_preload(["distributed", "ds4023.grading_task"])
            cluster = LocalCluster(
                n_workers=max(1, workers),
                threads_per_worker=1,
                processes=True,
                host="127.0.0.1",
                dashboard_address=":0",
                silence_logs=logging.CRITICAL,
                local_directory=scratch,
            )
        client = Client(cluster)
        client.register_plugin(EmbeddedWorkerSetup(log_dir, scratch))
    except Exception as err:
        shutil.rmtree(scratch, ignore_errors=True)
        first = (str(err).strip().splitlines() or [type(err).__name__])[0][:200]
        raise ClusterError(
            f"the embedded Dask cluster could not start ({first}): "
            "see .grading/logs/, or grade with --engine local"
        ) from None

    def stop() -> None:
        with contextlib.suppress(Exception):
            client.close(timeout=5)
        with contextlib.suppress(Exception):
            cluster.close()
        shutil.rmtree(scratch, ignore_errors=True)

    return client, stop


def connect(address: str) -> tuple[Client, Callable[[], None]]:
    """Connect to an existing Dask scheduler and wait for at least one worker.

    Args:
        address: the scheduler's address, e.g. ``tcp://10.0.0.5:8786``.

    Returns:
        A client and a function that disconnects it (the cluster keeps running).

    Raises:
        ClusterError: the scheduler cannot be reached, or it has no worker.
    """
    timeout = float(os.environ.get(CONNECT_TIMEOUT_ENV) or 20)
    patience = float(os.environ.get(WORKER_WAIT_ENV) or 120)
    quiet = contextlib.ExitStack()  # Dask's own tracebacks would bury the one error line
    quiet.enter_context(silence_logging_cmgr(logging.CRITICAL))
    try:
        client = Client(address, timeout=timeout)
    except Exception as err:
        quiet.close()
        first = (str(err).strip().splitlines() or [type(err).__name__])[0][:200]
        raise ClusterError(
            f"cannot reach the Dask scheduler at {address} ({first}): start `dask scheduler` "
            f"there, or fix --scheduler / {SCHEDULER_ENV}"
        ) from None
    try:
        client.wait_for_workers(1, timeout=patience)
    except Exception:
        client.close()
        quiet.close()
        raise ClusterError(
            f"the Dask scheduler at {address} has no worker after {patience:g} s: start "
            f"`dask worker {address} --nthreads 1` on the grading machines (docs/scaling.md)"
        ) from None

    def stop() -> None:
        with contextlib.suppress(Exception):
            client.close(timeout=5)
        quiet.close()

    return client, stop


def check_workers(client: Client, bundles: dict[str, AssignmentBundle]) -> None:
    """Check every connected worker before grading: this package, same versions, set-up hook.

    Args:
        client: the connected client.
        bundles: the bundles about to be graded (their setup hooks are checked).

    Raises:
        ClusterError: a worker cannot import this package, runs other versions of the
            grading packages, or cannot run the setup hook (e.g. no sandbox without root).
    """
    hooks = sorted({b.setup_hook for b in bundles.values() if b.setup_hook})
    here = _describe_worker([])["versions"]
    try:
        found = client.run(_describe_worker, hooks)
    except (OSError, CommClosedError) as err:
        raise ClusterError(
            f"lost the connection to the Dask scheduler ({type(err).__name__}): check that it "
            "is still running, then run again"
        ) from None
    except Exception as err:
        first = (str(err).strip().splitlines() or [type(err).__name__])[0][:200]
        raise ClusterError(
            f"a Dask worker cannot run the grader ({type(err).__name__}: {first}): install this "
            "repository and its venv on every worker (docs/scaling.md)"
        ) from None
    for address, info in sorted(found.items()):
        if info["unfit"]:
            raise ClusterError(
                f"Dask worker {address} ({info['host']}) cannot grade: {info['unfit'][0]}; start "
                "workers as root on Linux, or pass --unsafe-no-sandbox for trusted submissions"
            )
        differ = {k: v for k, v in info["versions"].items() if here.get(k) != v}
        if differ:
            name, version = next(iter(differ.items()))
            raise ClusterError(
                f"Dask worker {address} ({info['host']}) has {name} {version}, this machine "
                f"{here[name]}: install the same requirements.txt on every worker"
            )


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
        scheduler = scheduler or os.environ.get(SCHEDULER_ENV) or None
        client, stop = connect(scheduler) if scheduler else start_embedded(workers, log_dir)
    try:
        check_workers(client, bundles)
        yield from grade_on_cluster(client, bundles, jobs)
    finally:
        if stop is not None:
            stop()
