"""Tests for a PostgreSQL gradebook (``DS4023_DB_URL=postgresql://...``) on a real server.

The test starts Debian's PostgreSQL itself: ``initdb`` in a private folder under /tmp and the
server on a private port of 127.0.0.1, as an unprivileged user (``postgres``, else ``nobody``)
when the tests run as root, and stops it afterwards. Without the server binaries the module
is skipped with the reason, except in CI (``CI=true``), where that is a failure:
``.ci/install-postgresql`` installs them.
"""

from __future__ import annotations

import hashlib
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import psycopg2
import pytest
from sqlalchemy.exc import OperationalError

from ds4023 import pipeline as batch_grade
from ds4023.grading.gradebook import grade_table
from ds4023.grading.runners.local import run_local
from ds4023.grading.state import GradingState
from ds4023.release import run_nbgrader
from ds4023.report import grades as report
from tests.helpers import COURSE_ROOT
from tests.helpers.grading_course import (
    ASSIGNMENT,
    FIXTURES,
    STUDENTS,
    add_students,
    copy_course,
    course_env,
    graded_class,
    outcomes,
    table_of,
)

pytestmark = pytest.mark.timeout(600)

PASSWORD = "s3cret-for-tests"


def postgres_bindir() -> Path | None:
    """The newest /usr/lib/postgresql/<version>/bin holding initdb and postgres, if any."""
    found = [
        p.parent
        for p in Path("/usr/lib/postgresql").glob("*/bin/initdb")
        if (p.parent / "postgres").is_file() and p.parts[-3].isdigit()
    ]
    return max(found, key=lambda p: int(p.parts[-2]), default=None)


class PostgresServer:
    """A throw-away PostgreSQL server: private data folder, port and socket; password auth."""

    def __init__(self, bindir: Path):
        self.bindir, self.proc = bindir, None
        self.root = Path(tempfile.mkdtemp(prefix="ds4023-pg-"))
        self.data, self.log = self.root / "data", self.root / "server.log"
        self.run_as: dict = {}
        if os.geteuid() == 0:  # initdb refuses root: hand the folder to an unprivileged user
            try:
                user = pwd.getpwnam("postgres")
            except KeyError:
                user = pwd.getpwnam("nobody")
            self.run_as = {"user": user.pw_uid, "group": user.pw_gid, "extra_groups": []}
            os.chown(self.root, user.pw_uid, user.pw_gid)
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port = sock.getsockname()[1]

    def _run(self, *cmd: str) -> None:
        out = subprocess.run(cmd, cwd=self.root, capture_output=True, text=True, **self.run_as)
        if out.returncode != 0:
            raise RuntimeError(f"{' '.join(cmd)} failed:\n{out.stdout}{out.stderr}")

    def init(self) -> PostgresServer:
        """Create the cluster: superuser ``ds4023`` with a password, SCRAM authentication."""
        pwfile = self.root / "pwfile"
        pwfile.write_text(PASSWORD + "\n")
        if self.run_as:
            os.chown(pwfile, self.run_as["user"], self.run_as["group"])
        self._run(
            str(self.bindir / "initdb"),
            *("-D", str(self.data), "-U", "ds4023", "--pwfile", str(pwfile), "-E", "UTF8"),
            *("--auth", "scram-sha-256", "--no-sync", "--no-instructions"),
        )
        pwfile.unlink()
        return self

    def start(self) -> PostgresServer:
        """Start the server (dies with this process) and wait until it accepts connections."""
        cmd = [str(self.bindir / "postgres"), "-D", str(self.data), "-p", str(self.port)]
        cmd += ["-k", str(self.root), "-c", "listen_addresses=127.0.0.1", "-c", "fsync=off"]
        cmd += ["-c", "synchronous_commit=off", "-c", "full_page_writes=off"]
        if shutil.which("setpriv"):
            cmd = ["setpriv", "--pdeathsig", "INT", *cmd]
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(
                cmd, cwd=self.root, stdout=log, stderr=subprocess.STDOUT, **self.run_as
            )
        deadline = time.monotonic() + 60
        while True:
            try:
                psycopg2.connect(self.dsn("postgres"), connect_timeout=2).close()
                return self
            except psycopg2.OperationalError:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    log = self.log.read_text()[-2000:]
                    raise RuntimeError(f"postgres did not start:\n{log}") from None
                time.sleep(0.1)

    def stop(self) -> None:
        """Fast shutdown (SIGINT): clients are disconnected, data is kept."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def dsn(self, database: str) -> str:
        return f"postgresql://ds4023:{PASSWORD}@127.0.0.1:{self.port}/{database}"

    def create_database(self, name: str, template: str | None = None) -> str:
        """Create a database (optionally a copy of another) and return its URL."""
        conn = psycopg2.connect(self.dsn("postgres"))
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute(
                f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else "")
            )
        conn.close()
        return self.dsn(name)


@pytest.fixture(scope="module")
def server():
    """A PostgreSQL server for this module, always stopped and removed afterwards."""
    bindir = postgres_bindir()
    if bindir is None:
        message = (
            "PostgreSQL server binaries missing (/usr/lib/postgresql/*/bin/postgres): "
            "run `bash .ci/install-postgresql`"
        )
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(message)
        pytest.skip(message)
    pg = PostgresServer(bindir)
    try:
        yield pg.init().start()
    finally:
        pg.stop()
        shutil.rmtree(pg.root, ignore_errors=True)


def psycopg2_url(url: str) -> str:
    """The URL with the driver named, for direct SQLAlchemy use (nbgrader_config.py does it)."""
    return url.replace("postgresql://", "postgresql+psycopg2://", 1)


def tree_digest(folder: Path) -> dict[str, str]:
    """Relative path -> sha256 of every file under a folder."""
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


@pytest.fixture(scope="module")
def pg_class(server, tmp_path_factory):
    """The toy class released into and graded into PostgreSQL: ``(course, db_url)``."""
    url = server.create_database("toyclass")
    course = tmp_path_factory.mktemp("pg") / "course"
    course.mkdir()
    shutil.copy2(COURSE_ROOT / "nbgrader_config.py", course / "nbgrader_config.py")
    shutil.copytree(FIXTURES / ASSIGNMENT, course / "source" / ASSIGNMENT)
    with course_env():
        os.environ["DS4023_DB_URL"] = url  # nbgrader_config.py reads it
        run_nbgrader(["generate_assignment", ASSIGNMENT, "--force"], course)
        add_students(course)
        summary = batch_grade.grade_course(course, workers=2, progress=False)
        report.write_report(course, ASSIGNMENT)
    assert summary.graded_now == len(STUDENTS)
    assert not (course / "gradebook.db").exists()  # everything went to the server
    return course, url


def test_a_class_graded_into_postgresql_gets_exactly_the_sqlite_grades(pg_class, tmp_path_factory):
    """Released, graded and reported with a PostgreSQL gradebook: same grades as SQLite?"""
    course, url = pg_class
    reference = copy_course(graded_class(tmp_path_factory)[0], tmp_path_factory.mktemp("sq") / "c")
    with course_env():
        report.write_report(reference, ASSIGNMENT)
    assert grade_table(psycopg2_url(url), "ds4023", ASSIGNMENT) == table_of(reference)
    assert outcomes(course) == outcomes(reference)
    csv = f"reports/{ASSIGNMENT}_grades.csv"
    assert (course / csv).read_text() == (reference / csv).read_text()


def _error_line(capsys) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    return err[0]


def test_a_wrong_url_or_a_stopped_server_is_one_error_line_and_nothing_is_lost(
    pg_class, server, tmp_path, capsys
):
    """Wrong password, database, driver or a stopped server: exit 2, one line, nothing lost?"""
    course, url = pg_class
    state = (course / ".grading" / "state.json").read_bytes()
    autograded = tree_digest(course / "autograded")
    before = grade_table(psycopg2_url(url), "ds4023", ASSIGNMENT)
    wrong = {
        "password authentication failed": url.replace(PASSWORD, "not-the-password"),
        'database "nosuchdb" does not exist': url.rsplit("/", 1)[0] + "/nosuchdb",
        "Can't load plugin: sqlalchemy.dialects:postgres": url.replace("postgresql:", "postgres:"),
        "Connection refused": url,  # the server is stopped for this one
    }
    args = ["--course", str(course), "--quiet", "--force", "--no-feedback", "--no-report"]
    try:
        for expected, bad_url in wrong.items():
            if expected == "Connection refused":
                server.stop()
            with course_env():
                os.environ["DS4023_DB_URL"] = bad_url
                code = batch_grade.main(args)
                line = _error_line(capsys)
                assert code == 2 and line.startswith("error: the gradebook cannot be used ("), line
                assert expected in line and "DS4023_DB_URL" in line
                assert PASSWORD not in line and "not-the-password" not in line
                assert report.main(["--course", str(course), "--assignment", ASSIGNMENT]) == 2
                assert _error_line(capsys).startswith("error: the gradebook cannot be used (")
            assert (course / ".grading" / "state.json").read_bytes() == state
            assert tree_digest(course / "autograded") == autograded
    finally:
        if server.proc is None:
            server.start()
    assert grade_table(psycopg2_url(url), "ds4023", ASSIGNMENT) == before
    with course_env():
        os.environ["DS4023_DB_URL"] = url
        again = batch_grade.grade_course(course, progress=False)
    assert (again.graded_now, again.skipped) == (0, len(STUDENTS))


def test_a_server_lost_in_the_middle_of_a_run_keeps_what_was_recorded(
    pg_class, server, tmp_path_factory
):
    """If the server stops mid-run, is what was recorded kept and the rest graded next time?"""
    course = copy_course(pg_class[0], tmp_path_factory.mktemp("outage") / "c")
    url = server.create_database("outage", template="toyclass")
    before = grade_table(psycopg2_url(url), "ds4023", ASSIGNMENT)
    old = {s: GradingState(course).get(ASSIGNMENT, s)["graded_at"] for s in STUDENTS}
    order = []

    def stop_after_first(bundles, jobs, workers):  # one worker: results in student order
        for result in run_local(bundles, jobs, workers):
            if order:
                server.stop()  # the first result is recorded; the second meets no server
            order.append(result.student)
            yield result

    try:
        with course_env():
            os.environ["DS4023_DB_URL"] = url
            with pytest.raises(OperationalError):
                batch_grade.grade_course(
                    course, workers=1, force=True, progress=False, runner=stop_after_first
                )
    finally:
        server.start()
    assert order == ["blank", "correct"]
    state = GradingState(course)
    assert state.get(ASSIGNMENT, "blank")["graded_at"] >= old["blank"]  # recorded anew
    assert {s: state.get(ASSIGNMENT, s)["graded_at"] for s in STUDENTS if s != "blank"} == {
        s: v for s, v in old.items() if s != "blank"
    }
    with course_env():
        os.environ["DS4023_DB_URL"] = url
        again = batch_grade.grade_course(course, progress=False)
    # "correct" lost its autograded folder with the failed recording: it alone is graded again
    assert (again.graded_now, again.skipped) == (1, len(STUDENTS) - 1)
    assert grade_table(psycopg2_url(url), "ds4023", ASSIGNMENT) == before
    assert outcomes(course) == outcomes(pg_class[0])
