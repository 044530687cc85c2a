"""A second Unix user and the nbgrader commands of an exchange round trip, for the exchange tests.

The instructor is this process's user (root in CI); the student is a user created for the test
with ``useradd`` (a unique name, removed afterwards) whose commands run through ``setpriv``
with their own uid, gid and home. Home and exchange live in a temporary folder others may
traverse; the course copy stays private in ``tmp_path``.
"""

from __future__ import annotations

import os
import pwd
import secrets
import shutil
import subprocess
import sys
import sysconfig
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import nbformat
import pytest

from ds4023.sample_class import students as sample_class
from tests.helpers import COURSE_ROOT, copy_course

ASSIGNMENT = "backprop"
COURSE_ID = "ds4023"
#: The sample student whose answers the test student hands in: the first parts solved, the
#: rest left as stubs, so grading is quick (no training) and the score is neither 0 nor full.
SAMPLE_STUDENT = "partial"


def require_root() -> None:
    """Skip without root on a workstation (a second user cannot be made); in CI, fail."""
    if os.getuid() == 0 and shutil.which("useradd") and shutil.which("setpriv"):
        return
    reason = "the exchange round trip needs root, useradd and setpriv to act as a second user"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(reason, pytrace=False)
    pytest.skip(reason)


@contextmanager
def shared_folder():
    """A folder other users may traverse (0711) for the exchange and the student's home.

    Not below ``tmp_path``: pytest keeps ``/tmp/pytest-of-<user>`` private (0700) and another
    pytest run of the same user resets it at any time; this one is removed afterwards.
    """
    folder = Path(tempfile.mkdtemp(prefix="ds4023-exchange-"))
    folder.chmod(0o711)
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@dataclass
class Student:
    """A Unix user created for one test."""

    name: str
    uid: int
    gid: int
    home: Path
    python: str = sys.executable

    def env(self) -> dict[str, str]:
        """A login-like environment: own HOME, the course's packages, no instructor settings.

        The student's interpreter is this one when the student may run it, else the system's
        Python of the same version (the venv's may live below a private home, e.g. pyenv's in
        /root) with the venv's packages and Jupyter data on its paths.
        """
        venv = Path(sys.prefix)
        return {
            "HOME": str(self.home),
            "USER": self.name,
            "LOGNAME": self.name,
            "PATH": os.pathsep.join([str(Path(self.python).parent), "/usr/bin", "/bin"]),
            "LANG": "C.UTF-8",
            "PYTHONPATH": sysconfig.get_paths()["purelib"],
            "PYTHONNOUSERSITE": "1",
            "JUPYTER_PATH": str(venv / "share" / "jupyter"),
            "JUPYTER_CONFIG_PATH": str(venv / "etc" / "jupyter"),
            "JUPYTERLAB_DIR": str(venv / "share" / "jupyter" / "lab"),
            "MPLBACKEND": "Agg",
        }

    def command(self, args: list[str]) -> list[str]:
        """``args`` run with the student's uid, gid and no supplementary groups."""
        ids = [f"--reuid={self.uid}", f"--regid={self.gid}", "--clear-groups"]
        return ["setpriv", *ids, "--", *args]

    def run(self, args: list[str], cwd: Path | None = None, timeout: float = 300):
        """Run a command as the student in their home (or ``cwd``); the completed process."""
        return subprocess.run(
            self.command(args),
            cwd=cwd or self.home,
            env=self.env(),
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    def nbgrader(self, *args: str, timeout: float = 300) -> str:
        """Run ``nbgrader ARGS`` as the student; its output, or the test fails with it."""
        proc = self.run([self.python, "-m", "nbgrader", *args], timeout=timeout)
        assert proc.returncode == 0, f"student's nbgrader {args}:\n{proc.stdout}{proc.stderr}"
        return proc.stdout + proc.stderr


def create_student(home: Path, exchange: Path) -> Student:
    """Create a Unix user with its home at ``home`` and an nbgrader config naming ``exchange``.

    Returns:
        The student; :func:`remove_student` deletes the user again.
    """
    name = f"ds4023s{secrets.token_hex(4)}"
    home.mkdir(parents=True)
    subprocess.run(
        ["useradd", "--no-create-home", "--home-dir", str(home), "--shell", "/usr/sbin/nologin"]
        + ["--user-group", "--no-log-init", name],
        check=True,
        capture_output=True,
    )
    entry = pwd.getpwnam(name)
    student = Student(name, entry.pw_uid, entry.pw_gid, home)
    # On a JupyterHub this line is in /etc/jupyter/nbgrader_config.py (README, exchange steps).
    config = home / ".jupyter" / "nbgrader_config.py"
    config.parent.mkdir()
    config.write_text(f"c = get_config()  # noqa: F821\nc.Exchange.root = {str(exchange)!r}\n")
    for path in (home, config.parent, config):
        os.chown(path, student.uid, student.gid)
    home.chmod(0o700)
    student.python = _student_python(student)
    return student


def _student_python(student: Student) -> str:
    """This interpreter if the student may run it, else the system's Python of this version."""
    version = f"python{sys.version_info.major}.{sys.version_info.minor}"
    candidates = [sys.executable, f"/usr/bin/{version}", f"/usr/local/bin/{version}"]
    tried = []
    for python in candidates:
        student.python = python
        proc = student.run([python, "-c", "import nbgrader"], timeout=120)
        if proc.returncode == 0:
            return python
        tried.append(f"{python}: {(proc.stderr.strip().splitlines() or ['?'])[-1]}")
    pytest.fail(f"the student user can run no Python with nbgrader: {'; '.join(tried)}")


def remove_student(student: Student) -> None:
    """Delete the user (and its group); its home in tmp_path goes with tmp_path."""
    proc = subprocess.run(["userdel", "--force", student.name], capture_output=True, text=True)
    assert proc.returncode == 0, f"userdel {student.name}: {proc.stderr.strip()}"


def instructor_env(exchange: Path, **extra: str) -> dict[str, str]:
    """The instructor's environment: the venv first on PATH, this exchange, own gradebook."""
    env = dict(os.environ)
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    env.pop("DS4023_DB_URL", None)
    env.pop("DS4023_LATE_PENALTY", None)
    env.update(DS4023_EXCHANGE=str(exchange), MPLBACKEND="Agg", **extra)
    return env


def instructor(course: Path, env: dict, *args: str, timeout: float = 900, ok=(0,)) -> str:
    """Run a command in the course directory as the instructor; its output."""
    proc = subprocess.run(
        list(args), cwd=course, env=env, capture_output=True, text=True, timeout=timeout
    )
    assert proc.returncode in ok, f"{args}:\n{proc.stdout[-3000:]}{proc.stderr[-3000:]}"
    return proc.stdout + proc.stderr


def nbgrader(course: Path, env: dict, *args: str, timeout: float = 900) -> str:
    """``nbgrader ARGS`` as the instructor, in the course directory."""
    return instructor(course, env, sys.executable, "-m", "nbgrader", *args, timeout=timeout)


def ds4023(course: Path, env: dict, *args: str, **kwargs) -> str:
    """The course's command, ``ds4023 ARGS``, as the instructor in the course directory."""
    return instructor(course, env, sys.executable, "-m", "ds4023.cli", *args, **kwargs)


def grade_without_sandbox(course: Path, env: dict, *extra: str) -> str:
    """``ds4023 grade`` of the assignment with one local worker and no sandbox: quick, for
    tests of the exchange (the sandbox has tests of its own)."""
    grade = ["grade", "--course", ".", "--assignment", ASSIGNMENT, "--workers", "1"]
    grade += ["--engine", "local", "--quiet", "--unsafe-no-sandbox", *extra]
    return ds4023(course, env, *grade)


def filled_notebook(course: Path, fetched: Path) -> str:
    """The fetched notebook with the sample student's solution cells filled from ``source/``."""
    source = nbformat.read(course / "source" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb", as_version=4)
    table = sample_class.load_table(ASSIGNMENT)
    student = next(s for s in table.STUDENTS if s.name == SAMPLE_STUDENT)
    release = nbformat.read(fetched, as_version=4)
    return nbformat.writes(sample_class.student_notebook(source, release, student))


def hand_in(student: Student, course: Path, scratch: Path) -> Path:
    """The student's edit: their fetched notebook replaced by the filled one, by the student.

    Returns:
        The student's notebook.
    """
    mine = student.home / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"
    edited = scratch / f"{student.name}-edited.ipynb"
    edited.write_text(filled_notebook(course, mine))
    edited.chmod(0o644)
    proc = student.run(["cp", str(edited), str(mine)])
    assert proc.returncode == 0, proc.stderr
    assert mine.stat().st_uid == student.uid
    return mine


@contextmanager
def course_and_student(dest: Path):
    """A private course copy at ``dest``, an exchange, and a student user with a home.

    Yields:
        ``(course, exchange, student, shared)``; the user is deleted afterwards.
    """
    require_root()
    course = copy_course(dest)
    shutil.copy2(COURSE_ROOT / "README.md", course)  # the points table: the grade's terms
    with shared_folder() as shared:
        student = create_student(shared / "home", shared / "exchange")
        try:
            yield course, shared / "exchange", student, shared
        finally:
            remove_student(student)


@contextmanager
def released_course_and_student(dest: Path):
    """As :func:`course_and_student`, with the assignment released to the exchange.

    Yields:
        ``(course, env, exchange, student, shared)``, ``env`` the instructor's environment.
    """
    with course_and_student(dest) as (course, ex, student, shared):
        env = instructor_env(ex)
        ds4023(course, env, "release", ASSIGNMENT, "--course", ".")
        nbgrader(course, env, "release_assignment", ASSIGNMENT)
        yield course, env, ex, student, shared
