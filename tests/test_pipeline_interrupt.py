"""Tests for stopping ``ds4023 grade``: Ctrl-C and SIGTERM say what was kept, leave no warnings.

Slow: each run starts real (sandboxed) kernels on the toy class (tests/helpers/grading_course.py)
and is stopped once the first submission is recorded.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from tests.helpers.grading_course import ASSIGNMENT, STUDENTS, nbgrader_env, new_course

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]


def _stop_after_first_record(course, engine: str, send) -> tuple[subprocess.CompletedProcess, int]:
    """Start ``ds4023 grade``, wait for one recorded submission, call ``send(proc)``, wait."""
    state_file = course / ".grading" / "state.json"
    cmd = [sys.executable, "-m", "ds4023.cli", "grade", "--course", str(course)]
    cmd += ["--workers", "1", "--quiet", "--no-feedback", "--no-report", "--engine", engine]
    proc = subprocess.Popen(
        cmd,
        env=nbgrader_env(),
        start_new_session=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline and proc.poll() is None:
        if state_file.is_file() and json.loads(state_file.read_text())["entries"]:
            break
        time.sleep(0.05)
    assert proc.poll() is None, "the run finished before it could be stopped"
    send(proc)
    out, err = proc.communicate(timeout=120)
    recorded = len(json.loads(state_file.read_text())["entries"])
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err), recorded


def _ctrl_c(proc: subprocess.Popen) -> None:
    os.killpg(proc.pid, signal.SIGINT)  # a terminal's Ctrl-C reaches the whole group


def _sigterm(proc: subprocess.Popen) -> None:
    os.kill(proc.pid, signal.SIGTERM)  # `kill PID`: the command alone


@pytest.mark.parametrize(
    "engine, send, cause",
    [("dask", _ctrl_c, "Ctrl-C"), ("dask", _sigterm, "SIGTERM"), ("local", _ctrl_c, "Ctrl-C")],
)
def test_a_stopped_run_says_what_it_kept_in_one_line_and_a_rerun_resumes(
    tmp_path_factory, engine, send, cause
):
    """Does a stopped run exit 130 with one line (kept, left, rerun), no traceback or warning?"""
    course = new_course(tmp_path_factory, tmp_path_factory.mktemp("stopped") / "course")
    done, recorded = _stop_after_first_record(course, engine, send)
    assert done.returncode == 130, done.stderr
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, done.stderr
    assert f"stopped by {cause}" in lines[0] and "run `ds4023 grade` again" in lines[0]
    assert f"{recorded} submission(s) graded before the stop are recorded" in lines[0]
    assert f"{len(STUDENTS) - recorded} are not" in lines[0]
    assert 1 <= recorded < len(STUDENTS)
    assert "Traceback" not in done.stdout + done.stderr
    assert "leaked" not in done.stdout + done.stderr
    rerun = subprocess.run(
        [sys.executable, "-m", "ds4023.cli", "grade", "--course", str(course), "--quiet"]
        + ["--workers", "2", "--no-feedback", "--no-report", "--assignment", ASSIGNMENT],
        env=nbgrader_env(),
        capture_output=True,
        text=True,
        timeout=400,
    )
    assert f"{recorded} unchanged and skipped" in rerun.stdout, rerun.stdout + rerun.stderr
