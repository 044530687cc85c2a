"""Browser test of the student's side of the exchange: JupyterLab's nbgrader Assignments tab.

The student is a Unix user of their own (``tests/helpers/exchange_course.py``) running JupyterLab in
their home; Debian's chromium, driven by Playwright, lists ``backprop``, fetches it, submits
it, and after the instructor collected, graded and released the feedback, fetches the
feedback, finds the link to it and opens the page. Every wait is on page state; screenshots go to
``DS4023_ARTIFACTS`` (else a temporary directory).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.helpers.browser import (
    chromium,
    quiet_lab_settings,
    require_chromium,
    serve_lab,
    shoot,
)
from tests.helpers.exchange_course import (
    ASSIGNMENT,
    COURSE_ID,
    ds4023,
    grade_without_sandbox,
    hand_in,
    nbgrader,
    released_course_and_student,
)

pytestmark = pytest.mark.timeout(1800)  # slow and browser: the tier table in conftest.py


@pytest.fixture(scope="module")
def world(tmp_path_factory, artifacts: Path) -> Iterator[dict]:
    """A released course (private), the exchange, a student and their JupyterLab server."""
    require_chromium()
    with ExitStack() as stack:
        course, env, ex, student, shared = stack.enter_context(
            released_course_and_student(tmp_path_factory.mktemp("exchange-lab") / "course")
        )
        lab = student.home / ".jupyter" / "lab"
        for path in [lab, *quiet_lab_settings(lab / "user-settings")]:
            os.chown(path, student.uid, student.gid)
        cmd = [student.python, "-m", "jupyterlab", f"--ServerApp.root_dir={student.home}"]
        log = artifacts / "jupyterlab-student.log"
        serving = serve_lab(cmd, student.home, student.env(), log, launch=student.command)
        url, token = stack.enter_context(serving)
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
    shoot(page, artifacts, "6a-assignments-tab-lists-backprop", capsys)

    item.get_by_role("button", name="Fetch").click()
    fetched = page.locator("#fetched_assignments_list")
    expect(fetched.locator(".list_item", has_text=ASSIGNMENT).first).to_be_visible()
    expect(released.locator("#released_assignments_list_placeholder")).to_be_visible()
    mine = student.home / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"
    assert mine.is_file() and mine.stat().st_uid == student.uid
    shoot(page, artifacts, "6b-backprop-fetched", capsys)

    hand_in(student, course, world["shared"])  # the student's work, saved into their copy
    fetched.get_by_role("button", name="Submit").click()
    submitted = page.locator("#submitted_assignments_list")
    entry = submitted.locator(".list_item", has_text=ASSIGNMENT).first
    expect(entry).to_be_visible()
    expect(entry.get_by_role("button", name="Fetch Feedback")).to_be_visible()
    inbound = list((world["exchange"] / COURSE_ID / "inbound").iterdir())
    assert [p.stat().st_uid for p in inbound] == [student.uid]
    shoot(page, artifacts, "6c-backprop-submitted", capsys)

    # the instructor: collect, grade (the course's grader), release the feedback
    nbgrader(course, env, "collect", ASSIGNMENT)
    grade_without_sandbox(course, env, "--no-report")
    ds4023(course, env, "exchange", "release-feedback", ASSIGNMENT)

    page.locator("#refresh_assignments_list").click()
    entry = submitted.locator(".list_item", has_text=ASSIGNMENT).first
    expect(entry).to_contain_text("feedback available to fetch")
    shoot(page, artifacts, "6d-feedback-available", capsys)
    entry.get_by_role("button", name="Fetch Feedback").click()
    link = submitted.get_by_text("(view feedback)")
    expect(link).to_be_visible()
    pages = list((student.home / ASSIGNMENT / "feedback").glob(f"*/{ASSIGNMENT}.html"))
    graded = course / "feedback" / student.name / ASSIGNMENT / f"{ASSIGNMENT}.html"
    assert len(pages) == 1 and pages[0].read_bytes() == graded.read_bytes()
    shoot(page, artifacts, "6e-feedback-fetched-link", capsys)
    link.click()  # the file browser goes to the feedback folder
    listing = page.locator(".jp-DirListing-item", has_text=f"{ASSIGNMENT}.html")
    expect(listing).to_be_visible()
    shoot(page, artifacts, "6f-feedback-in-file-browser", capsys)

    # the page as the student opens it: their grade in the course's terms
    page.goto(pages[0].as_uri())
    expect(page.locator("h4.course-grade")).to_contain_text(re.compile(r"core [\d.]+ / 100"))
    shoot(page, artifacts, "6g-fetched-feedback-page", capsys)
