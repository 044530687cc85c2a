"""Tests for the Dask cluster helpers that decide before grading: hooks, workers, errors.

Worker checks run on a fake client (what ``client.run`` returns per worker); connecting is
tried against a closed port and against an in-process scheduler without workers, with short
timeouts. The embedded cluster's start-up failure is simulated. The cluster grading itself is
in ``test_dask.py``.
"""

from __future__ import annotations

import socket
import tempfile
from importlib import metadata

import pytest
from distributed.comm import CommClosedError

from ds4023.grading.runners import dask_cluster
from ds4023.grading.runners.dask_cluster import (
    CONNECT_TIMEOUT_ENV,
    GRADING_PACKAGES,
    WORKER_WAIT_ENV,
    ClusterError,
    EmbeddedWorkerSetup,
    _describe_worker,
    check_workers,
    connect,
    start_embedded,
    unfit_reason,
)
from ds4023.grading.runners.local import RUN_PREFIX, WorkerStartError
from ds4023.grading.task import AssignmentBundle
from ds4023.sandbox import kernelspec, limits

HOOK = "tests.helpers.grading_course:plant_marker"


def bundle(hook: str | None) -> AssignmentBundle:
    return AssignmentBundle("a1", "ds4023", ("a1",), b"", {}, {}, 60.0, "fp", setup_hook=hook)


class FakeClient:
    """What check_workers uses of a Dask client: ``run`` on every worker."""

    def __init__(self, answers=None, error: Exception | None = None):
        self.answers, self.error, self.calls = answers or {}, error, []

    def run(self, function, *args):
        self.calls.append((function, args))
        if self.error is not None:
            raise self.error
        return self.answers


def worker(unfit=(), **versions) -> dict:
    here = _describe_worker([])["versions"]
    return {"host": "node7", "versions": {**here, **versions}, "unfit": list(unfit)}


# ------------------------------------------------------------------ setup hooks
def test_no_hook_and_a_loadable_hook_are_fit():
    """Can a worker without a hook, or with one it can import, grade?"""
    assert unfit_reason(None) is None and unfit_reason("") is None
    assert unfit_reason(HOOK) is None


@pytest.mark.parametrize(
    "hook, words",
    [
        ("no_such_module_xyz:hook", "No module named 'no_such_module_xyz'"),
        ("tests.helpers.grading_course:no_such_function", "no_such_function"),
    ],
)
def test_a_hook_the_worker_cannot_load_is_named(hook, words):
    """Does a hook the worker cannot import say which and why, in one line?"""
    reason = unfit_reason(hook)
    assert reason.startswith(f"cannot load the setup hook {hook}: ") and words in reason
    assert "\n" not in reason


def test_the_sandbox_hook_needs_the_sandbox_on_the_worker(monkeypatch):
    """Is a worker without a usable sandbox unfit for the sandbox hook, with the reason?"""
    monkeypatch.setattr(limits, "unavailable_reason", lambda: "bubblewrap is not installed")
    assert unfit_reason(kernelspec.GRADING_HOOK) == "bubblewrap is not installed"
    monkeypatch.setattr(limits, "unavailable_reason", lambda: None)
    assert unfit_reason(kernelspec.GRADING_HOOK) is None


def test_a_worker_describes_its_versions_and_fitness():
    """Does a worker report python, every grading package's version and unfit hooks?"""
    info = _describe_worker(["no_such_module_xyz:hook", HOOK])
    assert set(info["versions"]) == {"python", *GRADING_PACKAGES}
    assert info["versions"]["numpy"] == metadata.version("numpy")
    assert info["host"] == socket.gethostname()
    assert len(info["unfit"]) == 1 and "no_such_module_xyz" in info["unfit"][0]


# ------------------------------------------------------------------ check_workers
def test_matching_workers_pass_and_get_the_bundles_hooks_once():
    """Do workers like this machine pass, asked about each distinct hook once, sorted?"""
    client = FakeClient({"tcp://w1:1": worker(), "tcp://w2:1": worker()})
    bundles = {
        "a": bundle("z:hook"),
        "b": bundle("a:hook"),
        "c": bundle("z:hook"),
        "d": bundle(None),
    }
    check_workers(client, bundles)
    assert client.calls == [(_describe_worker, (["a:hook", "z:hook"],))]


def test_an_unfit_worker_stops_the_run_naming_it():
    """Does one worker unable to run the hook stop the run, naming worker, host and reason?"""
    client = FakeClient({"tcp://w1:1": worker(), "tcp://w2:1": worker(["no sandbox here"])})
    with pytest.raises(ClusterError) as err:
        check_workers(client, {"a": bundle(HOOK)})
    assert str(err.value) == "Dask worker tcp://w2:1 (node7) cannot grade: no sandbox here"


def test_a_worker_with_other_versions_stops_the_run():
    """Does a worker with another numpy stop the run, saying both versions and the fix?"""
    here = metadata.version("numpy")
    client = FakeClient({"tcp://w1:1": worker(numpy="0.0.1")})
    with pytest.raises(ClusterError) as err:
        check_workers(client, {})
    assert str(err.value) == (
        f"Dask worker tcp://w1:1 (node7) has numpy 0.0.1, this machine {here}: "
        "install the same requirements.txt on every worker"
    )


@pytest.mark.parametrize(
    "error, start",
    [
        (OSError("timed out"), "lost the connection to the Dask scheduler (OSError)"),
        (CommClosedError("closed"), "lost the connection to the Dask scheduler (CommClosedError)"),
        (
            ModuleNotFoundError("No module named 'ds4023'\nmore"),
            "a Dask worker cannot run the grader (ModuleNotFoundError: No module named 'ds4023')",
        ),
    ],
)
def test_workers_that_cannot_answer_are_one_line(error, start):
    """Is a lost scheduler or a worker without this package one ClusterError line?"""
    with pytest.raises(ClusterError) as err:
        check_workers(FakeClient(error=error), {})
    assert str(err.value).startswith(start) and "\n" not in str(err.value)
    assert isinstance(err.value, WorkerStartError)  # the runner's "nobody is failed" path


# ------------------------------------------------------------------ connecting
@pytest.fixture
def short_waits(monkeypatch):
    values = {CONNECT_TIMEOUT_ENV: 2.0, WORKER_WAIT_ENV: 0.5}
    monkeypatch.setattr(dask_cluster.settings, "get", lambda name: values[name])


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_an_unreachable_scheduler_is_one_line_with_the_fix(short_waits):
    """Does a scheduler nobody listens for give one line naming it and what to do?"""
    address = f"tcp://127.0.0.1:{_closed_port()}"
    with pytest.raises(ClusterError) as err:
        connect(address)
    text = str(err.value)
    assert text.startswith(f"cannot reach the Dask scheduler at {address} (")
    assert "start `dask scheduler` there" in text and "DS4023_DASK_SCHEDULER" in text
    assert "\n" not in text


def test_a_scheduler_without_workers_is_one_line_with_the_wait(short_waits):
    """Does a scheduler with no worker give one line with the time waited and the command?"""
    from distributed import LocalCluster

    with LocalCluster(n_workers=0, processes=False, dashboard_address=None) as cluster:
        address = cluster.scheduler_address
        with pytest.raises(ClusterError) as err:
            connect(address)
    assert str(err.value) == (
        f"the Dask scheduler at {address} has no worker after 0.5 s: start "
        f"`dask worker {address} --nthreads 1` on the grading machines (docs/scaling.md)"
    )


# ------------------------------------------------------------------ the embedded cluster
def test_an_embedded_cluster_that_cannot_start_is_one_line_and_leaves_no_scratch(
    tmp_path, monkeypatch
):
    """Does a failing LocalCluster give one ClusterError line and remove its scratch folder?"""
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))

    def refuse(**kwargs):
        raise OSError("Address already in use\ntraceback lines")

    monkeypatch.setattr(dask_cluster, "LocalCluster", refuse)
    with pytest.raises(ClusterError) as err:
        start_embedded(2)
    assert str(err.value) == (
        "the embedded Dask cluster could not start (Address already in use): "
        "see .grading/logs/, or grade with --engine local"
    )
    assert not list(tmp_path.glob(f"{RUN_PREFIX}*"))


def test_worker_setup_puts_scratch_files_in_the_runs_folder(tmp_path, monkeypatch):
    """Does each embedded worker keep its temporary files in the run's private folder?"""
    monkeypatch.setattr(tempfile, "tempdir", None)
    EmbeddedWorkerSetup(None, str(tmp_path)).setup(worker=None)
    assert tempfile.gettempdir() == str(tmp_path)
