"""A whole term on a real JupyterHub (``ds4023 hub``), in chromium.

The instructor releases ``backprop`` in the formgrader (a hub service); three students (real
Unix users) log in, fetch it in the Assignments tab, write their notebook (the sample class's
``correct``, ``no_bias_column`` and ``blank``, generated from ``source/``) into their server,
Validate in the notebook and Submit; the instructor collects in the formgrader, grades with
``ds4023 grade`` (sandboxed, as the instructor's Unix user) and releases the feedback in the
formgrader; each student fetches it and reads the page, whose formulas render (no MathJax
error, no raw TeX). The class also holds a student whose work came from a Canvas download
(``ds4023 collect``), so the formgrader releases feedback to a mixed class. The grades are the
sample class's expected ones (those ``ds4023 grade`` gives the same notebooks). Afterwards
``hub stop`` leaves no process and no user behind.
"""

from __future__ import annotations

import json
import pwd
import re
import secrets
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import nbformat
import pytest
from nbgrader.api import Gradebook
from playwright.sync_api import expect

from ds4023.hub.plan import DEFAULT_PROXY, free_port
from ds4023.sample_class import students as sample_class
from tests.helpers import COURSE_ROOT
from tests.helpers.browser import chromium, require_chromium, shoot
from tests.helpers.exchange_course import require_root
from tests.helpers.feedback_render import typeset
from tests.helpers.lms_zips import canvas_name, roster_rows, write_zip

pytestmark = pytest.mark.timeout(2400)  # slow, browser, hub: the tier table in conftest.py

ASSIGNMENT = "backprop"
#: The sample-class students whose notebooks the three logins hand in, in login order.
SAMPLES = ("correct", "no_bias_column", "blank")
#: The sample student whose notebook arrives through a Canvas download instead of the hub.
LMS_SAMPLE = "no_bias_column"
VALIDATE_TIMEOUT_MS = 600_000  # Validate runs the whole notebook, TNC training included


def hub(state: Path, *args: str) -> subprocess.CompletedProcess:
    """``ds4023 hub --state STATE ARGS`` as a separate process."""
    cmd = [sys.executable, "-m", "ds4023.hub", "--state", str(state), *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=900)


@pytest.fixture(scope="module")
def term(artifacts):
    """A started hub in a folder others may traverse; stopped (users removed) afterwards."""
    require_root()
    require_chromium()
    if not (DEFAULT_PROXY / "configurable-http-proxy").exists():
        pytest.fail("configurable-http-proxy is missing: run make hub-proxy", pytrace=False)
    state = Path(tempfile.mkdtemp(prefix="ds4023-hub-"))
    state.chmod(0o711)
    tag = secrets.token_hex(3)
    args = ["start", "--port", str(free_port()), "--instructor", f"i{tag}"]
    started = hub(state, *args, "--student-prefix", f"s{tag}x", "--students", str(len(SAMPLES)))
    try:
        assert started.returncode == 0, started.stdout + started.stderr
        plan = json.loads((state / "plan.json").read_text())
        yield {"state": state, "plan": plan, "banner": started.stdout}
    finally:
        hub(state, "stop", "--remove-users")
        for log in (state / "logs").glob("*.log"):
            shutil.copy2(log, artifacts / f"hub-{log.name}")
        shutil.rmtree(state, ignore_errors=True)


def log_in(context, url: str, user: str, password: str):
    """A page logged into the hub as ``user``, on the user's JupyterLab."""
    page = context.new_page()
    page.goto(f"{url}hub/logout")  # whoever was logged in before, in this browser
    page.goto(f"{url}hub/login")
    page.fill("#username_input", user)
    page.fill("#password_input", password)
    page.click("#login_submit")
    page.wait_for_url(f"**/user/{user}/lab**")
    expect(page.locator(".lm-MenuBar-itemLabel", has_text="Nbgrader")).to_be_visible()
    return page


def assignments_tab(page):
    """Open nbgrader's Assignments tab; its released, fetched and submitted lists."""
    page.locator(".lm-MenuBar-itemLabel", has_text="Nbgrader").click()
    page.get_by_role("menuitem", name="Assignment List", exact=True).click()
    return (
        page.locator("#released_assignments_list"),
        page.locator("#fetched_assignments_list"),
        page.locator("#submitted_assignments_list"),
    )


def formgrader_row(page, url: str):
    """The formgrader's Manage Assignments page, and backprop's row in it."""
    page.goto(f"{url}services/ds4023/formgrader/manage_assignments")
    row = page.locator("tr", has_text=ASSIGNMENT).first
    expect(row).to_be_visible()
    return row


def close_modal(page, text: str) -> None:
    """Wait for the formgrader's result dialog to say ``text``, then close it."""
    modal = page.locator(".modal-dialog")
    expect(modal).to_contain_text(text)
    modal.get_by_role("button", name="Close").first.click()
    expect(modal).to_have_count(0)


def write_as(user: str, text: str, target: Path, scratch: Path) -> None:
    """The student's edit: ``text`` saved over their notebook, by the student's own uid."""
    tmp = scratch / f"{user}.ipynb"
    tmp.write_text(text)
    tmp.chmod(0o644)
    ids = [f"--reuid={user}", f"--regid={user}", "--clear-groups"]
    subprocess.run(["setpriv", *ids, "cp", str(tmp), str(target)], check=True)
    assert target.stat().st_uid == pwd.getpwnam(user).pw_uid


def collect_from_canvas(state: Path, teacher: str, course: Path, scratch: Path) -> str:
    """The instructor collects a Canvas download of one student (``LMS_SAMPLE``'s notebook).

    Returns the student's id in the course (on the roster, not a login of the hub).
    """
    row = roster_rows([f"lms_{LMS_SAMPLE}"])[0]
    roster = "id,first_name,last_name,email,lms_user_id\n" + ",".join(row.values()) + "\n"
    write_as(teacher, roster, course / "roster.csv", scratch)
    release = course / "release" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"
    notebook = student_notebook(release, LMS_SAMPLE).encode()
    download = write_zip(scratch / "canvas.zip", [(canvas_name(row, 4101), notebook)])
    download.chmod(0o644)
    argv = ["collect", "--lms", "canvas", "--zip", str(download), "--assignment", ASSIGNMENT]
    collected = hub(state, "exec", teacher, "--", "ds4023", *argv)
    assert collected.returncode == 0, collected.stdout[-3000:] + collected.stderr[-3000:]
    return row["id"]


def student_notebook(fetched: Path, sample: str) -> str:
    """The sample student's notebook, generated from source/ over the fetched release."""
    source = nbformat.read(COURSE_ROOT / "source" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb", 4)
    table = sample_class.load_table(ASSIGNMENT)
    student = next(s for s in table.STUDENTS if s.name == sample)
    return nbformat.writes(
        sample_class.student_notebook(source, nbformat.read(fetched, 4), student)
    )


def test_a_term_on_the_hub(term, artifacts: Path, capsys, tmp_path):
    """Release, fetch, validate, submit, collect, grade, release feedback, read it: in chromium."""
    plan = term["plan"]
    url = f"http://127.0.0.1:{plan['port']}/"
    password, teacher, logins = plan["password"], plan["instructor"], plan["students"]
    assert url in term["banner"] and password in term["banner"]
    course = Path(plan["state"]) / "homes" / teacher / "ds4023"
    scratch = Path(tempfile.mkdtemp(dir=plan["state"]))
    scratch.chmod(0o755)
    with chromium(tmp_path / "profile", height=900) as context:
        # the instructor releases backprop in the formgrader (a hub service, the course's name)
        page = log_in(context, url, teacher, password)
        row = formgrader_row(page, url)
        row.locator("td.release a").click()
        close_modal(page, "released")
        expect(row.locator("td.status")).to_contain_text("released")
        shoot(page, artifacts, "hub-1-formgrader-released", capsys)
        page.close()

        for login, sample in zip(logins, SAMPLES, strict=True):
            page = log_in(context, url, login, password)
            released, fetched, submitted = assignments_tab(page)
            item = released.locator(".list_item", has_text=ASSIGNMENT)
            expect(item).to_contain_text("ds4023")
            item.get_by_role("button", name="Fetch").click()
            expect(fetched.locator(".list_item", has_text=ASSIGNMENT).first).to_be_visible()
            mine = Path(plan["state"]) / "homes" / login / "ds4023" / ASSIGNMENT
            notebook = mine / f"{ASSIGNMENT}.ipynb"
            write_as(login, student_notebook(notebook, sample), notebook, scratch)
            page.goto(f"{url}user/{login}/lab/tree/ds4023/{ASSIGNMENT}/{ASSIGNMENT}.ipynb")
            page.get_by_role("button", name="Validate").click()
            dialog = page.locator(".jp-Dialog")
            expect(dialog).to_contain_text("Validation Results", timeout=VALIDATE_TIMEOUT_MS)
            if sample != "correct":  # nbgrader names the failing cells; the correct one passes
                expect(dialog).to_contain_text("The following cell failed")
            else:
                expect(dialog).not_to_contain_text("failed")
            shoot(page, artifacts, f"hub-2-{sample}-validated", capsys)
            dialog.locator("button").last.click()
            released, fetched, submitted = assignments_tab(page)
            fetched.locator(".list_item", has_text=ASSIGNMENT).first.get_by_role(
                "button", name="Submit"
            ).click()
            expect(submitted.locator(".list_item", has_text=ASSIGNMENT).first).to_be_visible()
            shoot(page, artifacts, f"hub-3-{sample}-submitted", capsys)
            page.close()

        # the instructor collects in the formgrader, grades (sandboxed), releases the feedback
        page = log_in(context, url, teacher, password)
        row = formgrader_row(page, url)
        row.locator("td.collect a").click()
        close_modal(page, "collected")
        lms_student = collect_from_canvas(Path(plan["state"]), teacher, course, scratch)
        grade = ["exec", teacher, "--", "ds4023", "grade", "--assignment", ASSIGNMENT]
        graded = hub(Path(plan["state"]), *grade, "--workers", "1")
        assert graded.returncode == 0, graded.stdout[-3000:] + graded.stderr[-3000:]
        row = formgrader_row(page, url)
        row.locator("td.release-feedback a").click()
        close_modal(page, "released")
        shoot(page, artifacts, "hub-4-feedback-released", capsys)
        page.close()

        for login, sample in zip(logins, SAMPLES, strict=True):
            page = log_in(context, url, login, password)
            released, fetched, submitted = assignments_tab(page)
            entry = submitted.locator(".list_item", has_text=ASSIGNMENT).first
            expect(entry).to_contain_text("feedback available to fetch")
            entry.get_by_role("button", name="Fetch Feedback").click()
            expect(submitted.get_by_text("(view feedback)")).to_be_visible()
            mine = Path(plan["state"]) / "homes" / login / "ds4023" / ASSIGNMENT / "feedback"
            pages = list(mine.glob(f"*/{ASSIGNMENT}.html"))
            assert len(pages) == 1
            stamp = pages[0].parent.name
            page.goto(
                f"{url}user/{login}/files/ds4023/{ASSIGNMENT}/feedback/{stamp}/{ASSIGNMENT}.html"
            )
            expect(page.locator("h4.course-grade")).to_contain_text(
                re.compile(r"core [\d.]+ / 100")
            )
            shown = typeset(page)  # as the student's browser shows it, served by the hub
            assert shown.math > 0 and shown.errors == 0 and shown.raw_tex == [], shown
            shoot(page, artifacts, f"hub-5-{sample}-feedback", capsys)
            page.close()

    # the grades are those ds4023 grade gives the sample class (tests/test_pipeline_sample_class)
    expected = sample_class.load_table(ASSIGNMENT).EXPECTED_SCORES
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        graded = [*zip(logins, SAMPLES, strict=True), (lms_student, LMS_SAMPLE)]
        for login, sample in graded:
            for grade_id, (score, why) in expected[sample].items():
                got = gb.find_grade(grade_id, ASSIGNMENT, ASSIGNMENT, login)
                if score is not None:
                    assert got.score == pytest.approx(score), f"{sample} {grade_id}: {why}"


def test_stop_leaves_no_process_and_no_user(term):
    """Does ``hub stop --remove-users`` end every process of the hub and remove its users?"""
    state, plan = term["state"], term["plan"]
    uids = {pwd.getpwnam(n).pw_uid for n in [plan["instructor"], *plan["students"]]}
    pids = [int((state / f"{n}.pid").read_text()) for n in ("hub", "proxy")]
    stopped = hub(state, "stop", "--remove-users")
    assert stopped.returncode == 0, stopped.stderr
    running = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                state = (entry / "stat").read_text().rsplit(") ", 1)[1][0]
                mine = entry.stat().st_uid in uids or int(entry.name) in pids
                if mine and state != "Z":  # a zombie has exited; init reaps it
                    running.append((entry / "cmdline").read_bytes().decode(errors="replace"))
            except OSError:
                continue
    assert running == []
    for name in [plan["instructor"], *plan["students"]]:
        with pytest.raises(KeyError):
            pwd.getpwnam(name)
