"""Browser test of the student's side of the exchange: JupyterLab's nbgrader Assignments tab.

The student is a Unix user of their own (``tests/exchange_course.py``) running JupyterLab in
their home; Debian's chromium, driven by Playwright, lists ``backprop``, fetches it, submits
it, and after the instructor collected, graded and released the feedback, fetches the
feedback, finds the link to it and opens the page. Every wait is on page state; screenshots go to
``DS4023_ARTIFACTS`` (else a temporary directory).
"""

from __future__ import annotations

import json
import os
import re
import secrets
import subprocess
import sys
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.helpers.exchange_course import (
    ASSIGNMENT,
    COURSE_ID,
    course_and_student,
    hand_in,
    instructor,
    instructor_env,
    nbgrader,
)
from tests.test_browser import (
    _free_port,
    _require_chromium,
    _shoot,
    _stop,
    _wait_until_serving,
    chromium,
)

pytestmark = pytest.mark.timeout(1800)  # slow and browser: the tier table in conftest.py


@pytest.fixture(scope="module")
def artifacts(tmp_path_factory) -> Path:
    """Directory for screenshots and the server log (env DS4023_ARTIFACTS overrides)."""
    chosen = os.environ.get("DS4023_ARTIFACTS")
    folder = Path(chosen) if chosen else tmp_path_factory.mktemp("browser-exchange-artifacts")
    folder.mkdir(parents=True, exist_ok=True)
    return folder.resolve()


@pytest.fixture(scope="module")
def world(tmp_path_factory, artifacts: Path) -> Iterator[dict]:
    """A released course (private), the exchange, a student and their JupyterLab server."""
    _require_chromium()
    with ExitStack() as stack:
        course, ex, student, shared = stack.enter_context(
            course_and_student(tmp_path_factory.mktemp("exchange-lab") / "course")
        )
        env = instructor_env(ex)
        instructor(
            course, env, sys.executable, "-m", "ds4023.cli", "release", ASSIGNMENT, "--course", "."
        )
        nbgrader(course, env, "release_assignment", ASSIGNMENT)
        settings = student.home / ".jupyter" / "lab" / "user-settings"
        notification = settings / "@jupyterlab" / "apputils-extension"
        notification.mkdir(parents=True)
        (notification / "notification.jupyterlab-settings").write_text(
            json.dumps({"fetchNews": "false", "checkForUpdates": False})
        )
        for path in [student.home / ".jupyter" / "lab", *settings.rglob("*"), settings]:
            os.chown(path, student.uid, student.gid)
        port, token = _free_port(), secrets.token_hex(16)
        cmd = [student.python, "-m", "jupyterlab", "--no-browser", "--ip=127.0.0.1"]
        cmd += [f"--port={port}", "--ServerApp.port_retries=0", f"--ServerApp.token={token}"]
        cmd += [f"--ServerApp.root_dir={student.home}"]
        log = artifacts / "jupyterlab-student.log"
        with log.open("w") as log_file:
            proc = subprocess.Popen(
                student.command(cmd),
                cwd=student.home,
                env=student.env(),
                stdout=log_file,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        stack.callback(_stop, proc)
        url = f"http://127.0.0.1:{port}"
        _wait_until_serving(proc, f"{url}/api/status?token={token}", log)
        yield {
            "course": course,
            "env": env,
            "exchange": ex,
            "shared": shared,
            "student": student,
            "url": f"{url}/lab?reset&token={token}",
        }


@pytest.fixture(scope="module")
def page(world, tmp_path_factory):
    """Headless Debian chromium, fresh profile, one tab."""
    with chromium(tmp_path_factory.mktemp("chromium-profile-exchange"), height=900) as context:
        yield context.new_page()


def test_student_fetches_submits_and_gets_feedback_in_the_assignments_tab(
    world, page, artifacts: Path, capsys
):
    """Does the student's Assignments tab list backprop, fetch and submit it, and after the
    instructor released feedback, fetch it and show the link to the page?"""
    student, course, env = world["student"], world["course"], world["env"]
    page.goto(world["url"])
    page.locator(".lm-MenuBar-itemLabel", has_text="Nbgrader").click()
    page.get_by_role("menuitem", name="Assignment List", exact=True).click()
    released = page.locator("#released_assignments_list")
    item = released.locator(".list_item", has_text=ASSIGNMENT)
    expect(item).to_be_visible()
    expect(item).to_contain_text(COURSE_ID)
    _shoot(page, artifacts, "6a-assignments-tab-lists-backprop", capsys)

    item.get_by_role("button", name="Fetch").click()
    fetched = page.locator("#fetched_assignments_list")
    expect(fetched.locator(".list_item", has_text=ASSIGNMENT).first).to_be_visible()
    expect(released.locator("#released_assignments_list_placeholder")).to_be_visible()
    mine = student.home / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"
    assert mine.is_file() and mine.stat().st_uid == student.uid
    _shoot(page, artifacts, "6b-backprop-fetched", capsys)

    hand_in(student, course, world["shared"])  # the student's work, saved into their copy
    fetched.get_by_role("button", name="Submit").click()
    submitted = page.locator("#submitted_assignments_list")
    entry = submitted.locator(".list_item", has_text=ASSIGNMENT).first
    expect(entry).to_be_visible()
    expect(entry.get_by_role("button", name="Fetch Feedback")).to_be_visible()
    inbound = list((world["exchange"] / COURSE_ID / "inbound").iterdir())
    assert [p.stat().st_uid for p in inbound] == [student.uid]
    _shoot(page, artifacts, "6c-backprop-submitted", capsys)

    # the instructor: collect, grade (the course's grader), release the feedback
    nbgrader(course, env, "collect", ASSIGNMENT)
    grade = [sys.executable, "-m", "ds4023.cli", "grade", "--course", ".", "--assignment"]
    grade += [ASSIGNMENT, "--workers", "1", "--engine", "local", "--quiet", "--no-report"]
    instructor(course, env, *grade, "--unsafe-no-sandbox")
    nbgrader(course, env, "release_feedback", ASSIGNMENT)

    page.locator("#refresh_assignments_list").click()
    entry = submitted.locator(".list_item", has_text=ASSIGNMENT).first
    expect(entry).to_contain_text("feedback available to fetch")
    _shoot(page, artifacts, "6d-feedback-available", capsys)
    entry.get_by_role("button", name="Fetch Feedback").click()
    link = submitted.get_by_text("(view feedback)")
    expect(link).to_be_visible()
    pages = list((student.home / ASSIGNMENT / "feedback").glob(f"*/{ASSIGNMENT}.html"))
    graded = course / "feedback" / student.name / ASSIGNMENT / f"{ASSIGNMENT}.html"
    assert len(pages) == 1 and pages[0].read_bytes() == graded.read_bytes()
    _shoot(page, artifacts, "6e-feedback-fetched-link", capsys)
    link.click()  # the file browser goes to the feedback folder
    listing = page.locator(".jp-DirListing-item", has_text=f"{ASSIGNMENT}.html")
    expect(listing).to_be_visible()
    _shoot(page, artifacts, "6f-feedback-in-file-browser", capsys)

    # the page as the student opens it: their grade in the course's terms
    page.goto(pages[0].as_uri())
    expect(page.locator("h4.course-grade")).to_contain_text(re.compile(r"core [\d.]+ / 100"))
    _shoot(page, artifacts, "6g-fetched-feedback-page", capsys)
