"""The exchange round trip with this course's config, an instructor and a student of another uid."""

from __future__ import annotations

import csv
import io
import os
import re
import stat
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from nbgrader.api import Gradebook

from ds4023.collect import exchange
from tests.helpers.exchange_course import (
    ASSIGNMENT,
    COURSE_ID,
    course_and_student,
    ds4023,
    grade_without_sandbox,
    hand_in,
    instructor_env,
    nbgrader,
)

pytestmark = pytest.mark.timeout(1800)

#: How long before the student's hand-in the due date is set: the submission is this late.
LATE_BY = timedelta(hours=2)


@pytest.fixture
def round_trip_world(tmp_path: Path):
    """A private course copy in tmp_path; an exchange and a student user with a home."""
    with course_and_student(tmp_path / "course") as world:
        yield world


@pytest.mark.slow
def test_exchange_round_trip_with_a_second_user(round_trip_world, tmp_path, capsys):
    """Release, fetch and submit as another uid, collect, grade (late), feedback back: does the
    student's fetch_feedback get the very page the course's grader wrote?"""
    course, ex, student, shared = round_trip_world
    env = instructor_env(ex)
    started = time.perf_counter()
    steps = {}

    def step(name):
        steps[name] = time.perf_counter()

    # instructor: the student version, the exchange root, the due date, the release
    ds4023(course, env, "release", ASSIGNMENT, "--course", ".")
    step("generate")
    out = ds4023(course, env, "exchange", "init")
    assert str(ex) in out
    assert stat.S_IMODE(ex.stat().st_mode) == exchange.ROOT_MODE
    due = datetime.now(UTC) - LATE_BY
    nbgrader(
        course, env, "db", "assignment", "add", ASSIGNMENT, f"--duedate={due:%Y-%m-%d %H:%M:%S} UTC"
    )
    nbgrader(course, env, "release_assignment", ASSIGNMENT)
    assert (ex / COURSE_ID / "outbound" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb").is_file()
    assert stat.S_IMODE((ex / COURSE_ID / "inbound").stat().st_mode) == 0o2733  # setgid, -wx
    step("release")

    # student, another uid: fetch, edit, submit
    assert student.uid != os.getuid()
    assert student.run(["ls", str(course)]).returncode != 0  # the course stays private
    student.nbgrader("fetch_assignment", ASSIGNMENT, "--course", COURSE_ID)
    mine = hand_in(student, course, shared)
    student.nbgrader("submit", ASSIGNMENT, "--course", COURSE_ID)
    inbound = list((ex / COURSE_ID / "inbound").iterdir())
    assert len(inbound) == 1 and inbound[0].name.startswith(f"{student.name}+{ASSIGNMENT}+")
    assert inbound[0].stat().st_uid == student.uid
    step("student")

    # instructor: collect, grade, feedback, release it
    nbgrader(course, env, "collect", ASSIGNMENT)
    submitted = course / "submitted" / student.name / ASSIGNMENT
    assert (submitted / f"{ASSIGNMENT}.ipynb").read_bytes() == mine.read_bytes()
    stamp = (submitted / "timestamp.txt").read_text()
    step("collect")
    out = grade_without_sandbox(course, env)
    assert f"{student.name}" in out and "graded" in out, out
    step("grade")
    out = ds4023(course, env, "exchange", "release-feedback", ASSIGNMENT)
    assert f"released {ASSIGNMENT} feedback for 1 student to the exchange at {ex}" in out
    released = list((ex / COURSE_ID / "feedback").glob("*.html"))
    assert len(released) == 1
    step("release_feedback")

    # student: the feedback page, fetched from the exchange
    student.nbgrader("fetch_feedback", ASSIGNMENT, "--course", COURSE_ID)
    fetched = list((student.home / ASSIGNMENT / "feedback").glob(f"*/{ASSIGNMENT}.html"))
    step("fetch_feedback")
    seconds = time.perf_counter() - started
    page = course / "feedback" / student.name / ASSIGNMENT / f"{ASSIGNMENT}.html"
    assert len(fetched) == 1 and fetched[0].read_bytes() == page.read_bytes()
    assert fetched[0].parent.name == stamp.strip()  # nbgrader files it under the timestamp
    assert fetched[0].stat().st_uid == student.uid
    text = page.read_text()
    assert re.search(r'class="course-grade"[^>]*>\s*backprop: core [\d.]+ / 100', text), text[:300]
    assert "not graded" not in text  # not the page of a failed submission

    # the gradebook and the reports: graded, and late by about LATE_BY (nbgrader's arithmetic)
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}", COURSE_ID) as gb:
        sub = gb.find_submission(ASSIGNMENT, student.name)
        late_seconds = sub.total_seconds_late
        score = sub.score
        assert sub.timestamp.strftime("%Y-%m-%d %H:%M:%S") == stamp[:19]
    assert LATE_BY.total_seconds() < late_seconds < LATE_BY.total_seconds() + 600
    assert 0 < score < 100
    rows = list(
        csv.DictReader(io.StringIO((course / "reports" / f"{ASSIGNMENT}_grades.csv").read_text()))
    )
    row = next(r for r in rows if r["student"] == student.name)
    assert row["status"] == "graded" and row["late_penalty"] == "0"  # no penalty by default
    assert row["hours_late"] == f"{late_seconds / 3600:.2f}"
    report = (course / "reports" / f"{ASSIGNMENT}.md").read_text()
    assert "1 submitted late (0 with a late penalty)." in report
    assert f"| {student.name} |" in report and f"late {row['hours_late']} h" in report

    marks = [started, *steps.values()]
    split = ", ".join(
        f"{name} {end - start:.1f} s"
        for name, start, end in zip(steps, marks[:-1], marks[1:], strict=True)
    )
    with capsys.disabled():
        print(f"\n[exchange round trip] {seconds:.1f} s wall: {split}")


# --------------------------------------------------------------------------- fast, one user


def test_init_creates_the_root_with_the_mode_nbgrader_expects(tmp_path, capsys):
    """Does `init` create a missing root 0777, and set a wrong mode back to 0777?"""
    root = tmp_path / "a" / "exchange"
    assert exchange.main(["init", "--root", str(root)]) == 0
    assert stat.S_IMODE(root.stat().st_mode) == 0o777
    root.chmod(0o700)
    assert exchange.main(["init", "--root", str(root)]) == 0
    assert stat.S_IMODE(root.stat().st_mode) == 0o777
    assert f"exchange root {root} (mode 0o777)" in capsys.readouterr().out


def test_init_under_a_file_is_one_error_line(tmp_path, capsys):
    """Is a root that cannot be created refused in one line, with a non-zero exit?"""
    (tmp_path / "file").write_text("x")
    assert exchange.main(["init", "--root", str(tmp_path / "file" / "exchange")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: cannot set up the exchange at ")


def test_root_comes_from_the_environment_else_nbgrader_default(course_copy, monkeypatch):
    """Does the course's config use DS4023_EXCHANGE, and nbgrader's default without it?"""
    from ds4023.grading.course import load_course

    monkeypatch.delenv("DS4023_EXCHANGE", raising=False)
    cfg, _ = load_course(course_copy)
    assert "root" not in cfg.Exchange
    assert exchange.exchange_root({}) == "/usr/local/share/nbgrader/exchange"
    monkeypatch.setenv("DS4023_EXCHANGE", "/srv/ds4023-exchange")
    cfg, _ = load_course(course_copy)
    assert cfg.Exchange.root == "/srv/ds4023-exchange"
    assert exchange.exchange_root() == "/srv/ds4023-exchange"


def test_release_feedback_files_are_copied_beside_the_pages_never_through_a_link(course_copy):
    """Are timestamp.txt and submission_secret.txt copied next to the feedback pages, a
    symbolic link in their place in the submission ignored, and the pages made 0644?"""
    from ds4023.grading.course import load_course

    _, coursedir = load_course(course_copy)
    sub = course_copy / "submitted" / "alice" / ASSIGNMENT
    fb = course_copy / "feedback" / "alice" / ASSIGNMENT
    sub.mkdir(parents=True)
    assert exchange.prepare_release_feedback(coursedir, "alice", ASSIGNMENT) == []
    fb.mkdir(parents=True)
    (fb / f"{ASSIGNMENT}.html").write_text("<html></html>")
    (fb / f"{ASSIGNMENT}.html").chmod(0o600)  # as the course's feedback writes it
    (sub / "timestamp.txt").write_text("2026-03-01 12:00:00.000000 UTC")
    (sub / "submission_secret.txt").symlink_to("/etc/hostname")
    written = exchange.prepare_release_feedback(coursedir, "alice", ASSIGNMENT)
    assert written == [fb / "timestamp.txt"]
    assert (fb / "timestamp.txt").read_text() == "2026-03-01 12:00:00.000000 UTC"
    assert not (fb / "submission_secret.txt").exists()
    assert stat.S_IMODE((fb / f"{ASSIGNMENT}.html").stat().st_mode) == 0o644
    (sub / "submission_secret.txt").unlink()
    (sub / "submission_secret.txt").write_text("ab" * 64)
    written = exchange.prepare_release_feedback(coursedir, "alice", ASSIGNMENT)
    assert written == [fb / "submission_secret.txt"]  # the timestamp is unchanged
    assert (fb / "submission_secret.txt").read_text() == "ab" * 64


def _page(course: Path, student: str, secret: str | None) -> Path:
    """A feedback page of ``student``; with ``secret``, the two files a collect leaves too."""
    folder = course / "feedback" / student / ASSIGNMENT
    folder.mkdir(parents=True)
    (folder / f"{ASSIGNMENT}.html").write_text(f"<html>{student}</html>")
    if secret is not None:
        (folder / "timestamp.txt").write_text("2026-03-01 12:00:00.000000 UTC")
        (folder / "submission_secret.txt").write_text(secret)
    return folder


def test_release_feedback_leaves_out_students_from_outside_the_exchange(
    course_copy, tmp_path, monkeypatch, capsys
):
    """With one student handed in through an LMS between two from the exchange, does every
    exchange student's page reach the exchange (nbgrader's release_feedback alone stops at the
    first page without its files), the other one named in one line?"""
    from nbgrader.utils import notebook_hash

    root = tmp_path / "exchange"
    monkeypatch.setenv("DS4023_EXCHANGE", str(root))
    assert exchange.main(["init"]) == 0
    _page(course_copy, "alice", "a" * 128)
    _page(course_copy, "bob", None)
    _page(course_copy, "carol", "c" * 128)
    capsys.readouterr()
    argv = ["release-feedback", ASSIGNMENT, "--course", str(course_copy)]
    assert exchange.main(argv) == 0
    out = capsys.readouterr().out.splitlines()
    assert out == [
        "left out bob: handed in outside the exchange (no timestamp.txt or "
        "submission_secret.txt beside the page); give the page through the LMS "
        "(make export LMS=...)",
        f"released {ASSIGNMENT} feedback for 2 students to the exchange at {root}",
    ]
    released = root / COURSE_ID / "feedback"
    want = {f"{notebook_hash(secret=k * 128, notebook_id=ASSIGNMENT)}.html" for k in "ac"}
    assert {p.name for p in released.iterdir()} == want


def test_release_feedback_without_pages_is_one_error_line(course_copy, capsys):
    """Is a release of feedback that was never written one line and exit 1, nothing run?"""
    assert exchange.main(["release-feedback", ASSIGNMENT, "--course", str(course_copy)]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [
        f"error: no feedback pages for {ASSIGNMENT} in {course_copy / 'feedback'}: grade first "
        f"(ds4023 grade --assignment {ASSIGNMENT})"
    ]


@pytest.fixture
def mixed_class(course_copy, tmp_path, monkeypatch):
    """Feedback for alice and carol (through the exchange) and bob (an LMS download, so no
    timestamp.txt or submission_secret.txt beside his page); an initialised exchange."""
    root = tmp_path / "exchange"
    monkeypatch.setenv("DS4023_EXCHANGE", str(root))
    assert exchange.main(["init"]) == 0
    _page(course_copy, "alice", "a" * 128)
    bob = _page(course_copy, "bob", None)
    (bob / "submission_secret.txt").symlink_to(course_copy / "nbgrader_config.py")
    _page(course_copy, "carol", "c" * 128)
    return course_copy, root


def _released(root: Path) -> set[str]:
    folder = root / COURSE_ID / "feedback"
    return {p.name for p in folder.iterdir()} if folder.is_dir() else set()


def _hashes(*keys: str) -> set[str]:
    from nbgrader.utils import notebook_hash

    return {f"{notebook_hash(secret=k * 128, notebook_id=ASSIGNMENT)}.html" for k in keys}


@pytest.mark.slow
def test_plain_nbgrader_release_feedback_copes_with_a_mixed_class(mixed_class):
    """Does plain `nbgrader release_feedback` (nbgrader's stock class stops with
    FileNotFoundError at bob) release alice's and carol's pages and warn about bob?"""
    import subprocess
    import sys

    course, root = mixed_class
    cmd = [sys.executable, "-m", "nbgrader", "release_feedback", ASSIGNMENT]
    proc = subprocess.run(cmd, cwd=course, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert _released(root) == _hashes("a", "c")
    warned = [ln for ln in proc.stderr.splitlines() if "Not releasing feedback" in ln]
    assert len(warned) == 1 and "'bob'" in warned[0] and "submission_secret.txt" in warned[0]
    assert "Traceback" not in proc.stderr


def test_the_formgrader_release_button_copes_with_a_mixed_class(mixed_class):
    """Does the formgrader's Release Feedback (NbGraderAPI.release_feedback, with the
    course's config) release the exchange students, for all and for one student?"""
    from nbgrader.apps.api import NbGraderAPI
    from nbgrader.coursedir import CourseDirectory

    from ds4023.grading.course import load_course

    course, root = mixed_class
    cfg, _ = load_course(course)
    api = NbGraderAPI(coursedir=CourseDirectory(config=cfg), config=cfg)
    result = api.release_feedback(ASSIGNMENT, "bob")
    assert result["success"], result.get("error")
    assert _released(root) == set()
    assert "handed in outside the exchange" in result["log"]
    result = api.release_feedback(ASSIGNMENT)
    assert result["success"], result.get("error")
    assert _released(root) == _hashes("a", "c")
