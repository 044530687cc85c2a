"""The sandbox and grading tests again, run by an unprivileged user (the tests run as root in CI).

A normal instructor grades without root. When this suite runs as root, this module copies the
course into a folder such a user can read, and runs the sandbox tests and the sandboxed grading
tests there as a uid of no account (``setpriv``), with the same venv. Run without root, the
sandbox tests themselves are already the unprivileged run.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from ds4023.sandbox import limits
from tests.helpers import COURSE_ROOT

#: A uid no account uses (setpriv needs none); its files are removed with the copy.
GRADER_UID = 40_230
#: What the unprivileged user runs: every sandbox test, and the grading tests that sandbox.
TESTS = [
    "tests/sandbox/test_sandbox.py",
    "tests/test_pipeline.py::test_a_killed_run_resumes_to_the_grades_of_an_uninterrupted_run",
]
LEAVE_BEHIND = (".venv", ".git", "autograded", "submitted", "feedback", "reports", "gradebook.db")

pytestmark = [
    pytest.mark.skipif(os.geteuid() != 0, reason="not root: the other tests are the non-root run"),
    pytest.mark.skipif(
        limits.unavailable_reason() is not None and not os.environ.get("CI"),
        reason=str(limits.unavailable_reason()),
    ),
]


def _blocking_ancestor(path: str) -> str | None:
    """The highest folder above ``path`` that others cannot enter (e.g. a 0700 /root)."""
    parts = Path(path).parts
    for i in range(2, len(parts)):
        folder = os.path.join(*parts[:i])
        if not os.stat(folder).st_mode & 0o001:
            return folder
    return None


def _reach_interpreter() -> list[str]:
    """Shell lines that make the venv's base interpreter reachable by others, if it is not.

    pyenv keeps interpreters under root's 0700 home; an instructor's own Python would be theirs.
    In a private mount namespace the blocking folder becomes an empty 0755 tmpfs with only the
    interpreter's folder mounted back at its own path.
    """
    base = os.path.realpath(sys.base_prefix)
    blocking = _blocking_ancestor(base)
    if blocking is None:
        return []
    q = shlex.quote
    return [
        'keep="$(mktemp -d)"',
        f'mount --bind {q(base)} "$keep"',
        f"mount -t tmpfs -o mode=0755 tmpfs {q(blocking)}",
        f"mkdir -p {q(base)}",
        f'mount --move "$keep" {q(base)}',
    ]


def test_sandbox_and_grading_tests_pass_for_an_unprivileged_user():
    """As an ordinary uid: do the sandbox and sandboxed grading tests pass, none skipped?"""
    top = Path(tempfile.mkdtemp(prefix="ds4023-unprivileged-"))
    try:
        top.chmod(0o755)
        copy = top / "main"
        shutil.copytree(
            COURSE_ROOT, copy, ignore=shutil.ignore_patterns(*LEAVE_BEHIND, "__pycache__", ".*")
        )
        shared = COURSE_ROOT.parent / "shared"
        if shared.exists():
            (top / "shared").symlink_to(shared)
        home = top / "home"
        home.mkdir()
        for path in [copy, home, *copy.rglob("*"), *home.rglob("*")]:
            os.lchown(path, GRADER_UID, GRADER_UID)
        venv_bin = Path(sys.executable).parent
        env = {
            "PATH": f"{venv_bin}:/usr/local/bin:/usr/bin:/bin",
            "HOME": str(home),
            "USER": "grader",
            "LOGNAME": "grader",
            "TMPDIR": "/tmp",
            "LANG": os.environ.get("LANG", "C.UTF-8"),
            "MPLBACKEND": "Agg",
            "PYTHONDONTWRITEBYTECODE": "1",
            **({"CI": os.environ["CI"]} if "CI" in os.environ else {}),
        }
        pytest_cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *TESTS]
        user = ["setpriv", f"--reuid={GRADER_UID}", f"--regid={GRADER_UID}", "--clear-groups"]
        script = "\n".join(
            ["set -e", *_reach_interpreter(), "exec " + shlex.join([*user, *pytest_cmd])]
        )
        out = subprocess.run(
            ["unshare", "--mount", "--propagation", "private", "sh", "-c", script],
            cwd=copy,
            env=env,
            capture_output=True,
            text=True,
            timeout=1500,
        )
        report = out.stdout[-6000:] + out.stderr[-3000:]
        assert out.returncode == 0, report
        summary = out.stdout.strip().splitlines()[-1]
        assert re.search(r"\d+ passed", summary), report
        assert not re.search(r"skipped|failed|error", summary), report
    finally:
        shutil.rmtree(top, ignore_errors=True)
