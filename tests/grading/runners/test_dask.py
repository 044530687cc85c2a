"""Tests for ds4023.grading.runners.dask: grading on a real Dask cluster started by the tests.

Slow tests: a `dask scheduler` and two `dask worker` processes are started as separate
processes on 127.0.0.1 (the way a real cluster is attached, docs/scaling.md) and always
stopped again; each grading run starts real Jupyter kernels. The reference grades are the
session's toy class graded by the default engine (an embedded LocalCluster).
"""

from __future__ import annotations

import ctypes
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from contextlib import contextmanager
from pathlib import Path

import pytest
from distributed import Client

from ds4023 import pipeline as batch_grade
from ds4023.grading.runners.dask_cluster import CONNECT_TIMEOUT_ENV, ClusterError
from ds4023.grading.state import GradingState
from tests.helpers.grading_course import (
    ASSIGNMENT,
    STUDENTS,
    course_env,
    graded_class,
    nbgrader_env,
    new_course,
    outcomes,
    table_of,
)

pytestmark = pytest.mark.timeout(600)


#: prctl option: the signal a process gets when its parent ends (linux/prctl.h).
PR_SET_PDEATHSIG = 1


def _die_with_pytest() -> None:
    """In each started process, before dask runs: SIGKILL when pytest's process ends, even
    when pytest itself is killed, so no scheduler or worker outlives a run. (A nanny's worker
    exits with its nanny, and kernels with their worker, by themselves.)"""
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_PDEATHSIG) failed")


class ExternalCluster:
    """A `dask scheduler` and named `dask worker` processes, each in its own process group."""

    def __init__(self, root: Path):
        self.root, self.procs, self.client = root, {}, None

    def start(self, workers: tuple[str, ...] = ("w1", "w2")) -> ExternalCluster:
        """Start the scheduler and the workers; return when every worker has joined."""
        scheduler_file = self.root / "scheduler.json"
        self._spawn(
            "scheduler",
            ["scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard"],
            ["--scheduler-file", scheduler_file],
        )
        deadline = time.monotonic() + 90
        while not scheduler_file.is_file() and time.monotonic() < deadline:
            self._check_alive("scheduler")
            time.sleep(0.1)
        self.address = json.loads(scheduler_file.read_text())["address"]
        for name in workers:
            self._spawn(
                name,
                ["worker", "--nthreads", "1", "--name", name, "--host", "127.0.0.1"],
                ["--no-dashboard", "--local-directory", self.root / name, "--scheduler-file"],
                [scheduler_file],
            )
        self.client = Client(self.address, timeout=30)
        self.client.wait_for_workers(len(workers), timeout=120)
        return self

    def _spawn(self, name: str, *args: list) -> None:
        cmd = [sys.executable, "-m", "dask", *(str(a) for part in args for a in part)]
        env = {**nbgrader_env(), "DASK_TEMPORARY_DIRECTORY": str(self.root)}  # private scratch
        with open(self.root / f"{name}.log", "wb") as log:
            self.procs[name] = subprocess.Popen(
                cmd,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                preexec_fn=_die_with_pytest,
            )

    def _check_alive(self, name: str) -> None:
        if self.procs[name].poll() is not None:
            log = (self.root / f"{name}.log").read_text()[-2000:]
            raise RuntimeError(f"dask {name} exited early:\n{log}")

    def names(self) -> dict[str, str]:
        """Worker address -> worker name, as the scheduler sees them now."""
        return {a: w["name"] for a, w in self.client.scheduler_info()["workers"].items()}

    def kill(self, name: str) -> None:
        """SIGKILL a worker's whole process group (nanny, worker and its kernels)."""
        os.killpg(self.procs[name].pid, signal.SIGKILL)
        self.procs[name].wait()

    def stop(self) -> None:
        """Stop every process that was started (SIGTERM, then SIGKILL after 15 s)."""
        if self.client is not None:
            self.client.close()
        for proc in self.procs.values():
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in self.procs.values():
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()


@contextmanager
def external_cluster(root: Path):
    """A started ExternalCluster, always stopped afterwards (also when it fails to start)."""
    cluster = ExternalCluster(root)
    try:
        yield cluster.start()
    finally:
        cluster.stop()


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    """One cluster for the tests that leave it intact."""
    with external_cluster(tmp_path_factory.mktemp("dask")) as started:
        yield started


def test_an_external_cluster_grades_the_class_exactly_as_the_embedded_one(
    tmp_path_factory, cluster
):
    """Graded by a separately started scheduler and two workers, is every grade the same?"""
    reference, _ = graded_class(tmp_path_factory)
    course = new_course(tmp_path_factory, tmp_path_factory.mktemp("external") / "course")
    with course_env():
        summary = batch_grade.grade_course(course, progress=False, scheduler=cluster.address)
    assert summary.graded_now == len(STUDENTS)
    assert table_of(course) == table_of(reference)
    assert outcomes(course) == outcomes(reference)
    executed = cluster.client.run(lambda dask_worker: dask_worker.state.executed_count)
    assert len(executed) == 2 and all(count > 0 for count in executed.values())
    assert sum(executed.values()) >= len(STUDENTS)  # the grading ran in those processes


def test_the_local_pool_grades_the_class_exactly_as_the_dask_engine(tmp_path_factory):
    """Does `--engine local` (a local process pool) give the default engine's grades?"""
    reference, _ = graded_class(tmp_path_factory)
    course = new_course(tmp_path_factory, tmp_path_factory.mktemp("local") / "course")
    with course_env():
        summary = batch_grade.grade_course(course, workers=2, progress=False, engine="local")
    assert summary.graded_now == len(STUDENTS)
    assert table_of(course) == table_of(reference)
    assert outcomes(course) == outcomes(reference)


def test_an_unreachable_scheduler_is_one_error_line_and_nothing_is_recorded(
    tmp_path_factory, capsys
):
    """Does a scheduler address nobody listens on stop the run with one clear line, exit 2?"""
    course = new_course(tmp_path_factory, tmp_path_factory.mktemp("nosched") / "c")
    with socket.socket() as sock:  # a port that was free a moment ago: nobody listens there
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with course_env():
        os.environ[CONNECT_TIMEOUT_ENV] = "2"
        code = batch_grade.main(
            ["--course", str(course), "--quiet", "--scheduler", f"tcp://127.0.0.1:{port}"]
        )
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1
    assert err[0].startswith(f"error: cannot reach the Dask scheduler at tcp://127.0.0.1:{port}")
    assert "DS4023_DASK_SCHEDULER" in err[0]
    assert not (course / ".grading" / "state.json").exists()
    assert not (course / "autograded").exists()


def test_workers_that_cannot_run_the_setup_hook_stop_the_run_before_any_grade(
    tmp_path_factory, cluster
):
    """If the workers lack the setup hook, is that the operator's error, not students' zeros?"""
    course = new_course(tmp_path_factory, tmp_path_factory.mktemp("nohook") / "c")
    with course_env(), pytest.raises(ClusterError, match="cannot load the setup hook"):
        batch_grade.grade_course(
            course, progress=False, scheduler=cluster.address, setup_hook="no_such_mod:hook"
        )
    assert not (course / ".grading" / "state.json").exists()
    assert not (course / "autograded").exists()


def test_a_worker_killed_mid_grading_has_its_tasks_regraded_elsewhere(tmp_path_factory):
    """When one worker dies while grading, does every grade still end up undisturbed?"""
    with external_cluster(tmp_path_factory.mktemp("dask-kill")) as cluster:
        _grade_and_kill_one_worker(tmp_path_factory, cluster)


def _grade_and_kill_one_worker(tmp_path_factory, cluster: ExternalCluster) -> None:
    reference, _ = graded_class(tmp_path_factory)
    course = new_course(tmp_path_factory, tmp_path_factory.mktemp("killed") / "course")
    caught: dict = {}
    done = threading.Event()

    def grading_keys(dask_worker):
        return [str(ts.key) for ts in dask_worker.state.executing if "ds4023-grade-" in str(ts.key)]

    def killer() -> None:
        deadline = time.monotonic() + 240
        while not done.is_set() and time.monotonic() < deadline:
            try:
                running = cluster.client.run(grading_keys, on_error="ignore")
            except Exception:  # a worker between two states: ask again
                running = {}
            for address, keys in running.items():
                if keys:
                    caught.update(name=cluster.names()[address], keys=keys)
                    cluster.kill(caught["name"])
                    return
            time.sleep(0.05)

    thread = threading.Thread(target=killer)
    thread.start()
    try:
        with course_env():
            summary = batch_grade.grade_course(course, progress=False, scheduler=cluster.address)
    finally:
        done.set()
        thread.join()
    assert caught, "no worker was caught grading"
    assert caught["name"] not in cluster.names().values()  # it really is gone
    assert summary.graded_now == len(STUDENTS)
    assert table_of(course) == table_of(reference)
    assert outcomes(course) == outcomes(reference)
    interrupted = {key.rsplit("-", 1)[-1] for key in caught["keys"]}
    assert interrupted <= set(STUDENTS)
    for student in interrupted:  # graded again on the surviving worker
        assert (
            GradingState(course).get(ASSIGNMENT, student)["status"]
            == (GradingState(reference).get(ASSIGNMENT, student)["status"])
        )


def test_what_the_cluster_starts_dies_with_a_killed_parent(tmp_path):
    """When the process that started them is SIGKILLed (a pytest run killed mid-way), do the
    processes started as the cluster's are (preexec_fn=_die_with_pytest) end too?"""
    parent = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import subprocess, sys, time\n"
            "from tests.grading.runners.test_dask import _die_with_pytest\n"
            "child = subprocess.Popen(['sleep', '600'], start_new_session=True,"
            " preexec_fn=_die_with_pytest)\n"
            "print(child.pid, flush=True)\n"
            "time.sleep(600)\n",
        ],
        stdout=subprocess.PIPE,
        text=True,
        cwd=Path(__file__).resolve().parents[3],
    )
    child = int(parent.stdout.readline())
    parent.kill()
    parent.wait()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and _alive(child):
        time.sleep(0.05)  # polling the child's end, which the kernel delivers asynchronously
    assert not _alive(child)


def _alive(pid: int) -> bool:
    """Is ``pid`` a running process (not a zombie waiting for its reaper)?"""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, IndexError):
        return False
    return state != "Z"
