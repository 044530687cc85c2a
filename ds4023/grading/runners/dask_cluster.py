"""Dask clusters to grade on: the embedded LocalCluster, an existing scheduler, worker checks."""

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
from collections.abc import Callable
from importlib import metadata
from pathlib import Path

import dask
from distributed import Client, LocalCluster, WorkerPlugin
from distributed.comm import CommClosedError
from distributed.utils import get_mp_context, silence_logging_cmgr

from ds4023 import settings
from ds4023.grading.runners.local import RUN_PREFIX, WorkerStartError, remove_stale_runs
from ds4023.grading.task import AssignmentBundle

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


class ClusterError(WorkerStartError):
    """The Dask cluster cannot grade (unreachable, no workers, unfit workers); nobody is failed."""


class WorkerUnfit(RuntimeError):
    """Raised on a worker that cannot grade the way the parent asked (e.g. no sandbox there)."""


def unfit_reason(hook: str | None) -> str | None:
    """Why this worker cannot run a setup hook (None when it can)."""
    if not hook:
        return None
    module, _, name = hook.partition(":")
    try:
        mod = importlib.import_module(module)
        getattr(mod, name)
    except (ImportError, AttributeError) as err:
        return f"cannot load the setup hook {hook}: {err}"
    from ds4023.sandbox import kernelspec, limits

    return limits.unavailable_reason() if hook == kernelspec.GRADING_HOOK else None


def _describe_worker(hooks: list[str]) -> dict:
    """Run on each worker before grading: versions that decide grades, and fitness."""
    versions = {"python": ".".join(platform.python_version_tuple()[:2])}
    for name in GRADING_PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    unfit = [r for r in map(unfit_reason, hooks) if r]
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
    remove_stale_runs()
    scratch = tempfile.mkdtemp(prefix=f"{RUN_PREFIX}{os.getpid()}-")
    try:
        # Dask puts its scratch folders first on sys.path: keep them all in this private
        # folder, never in a shared /tmp/dask-scratch-space another user could have made.
        with dask.config.set({**EMBEDDED_CONFIG, "temporary-directory": scratch}):
            # Workers fork from a server that has imported distributed and nbgrader once
            # (spawn would pay those imports again in every worker, seconds each).
            get_mp_context()
            ctx = multiprocessing.get_context("forkserver")
            ctx.set_forkserver_preload(["distributed", "ds4023.grading.task"])
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
    timeout = settings.get(CONNECT_TIMEOUT_ENV)
    patience = settings.get(WORKER_WAIT_ENV)
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
                f"Dask worker {address} ({info['host']}) cannot grade: {info['unfit'][0]}"
            )
        differ = {k: v for k, v in info["versions"].items() if here.get(k) != v}
        if differ:
            name, version = next(iter(differ.items()))
            raise ClusterError(
                f"Dask worker {address} ({info['host']}) has {name} {version}, this machine "
                f"{here[name]}: install the same requirements.txt on every worker"
            )
