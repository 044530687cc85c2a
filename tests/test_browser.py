"""Browser tests: a student and an instructor in JupyterLab, driven in Debian's chromium.

Playwright's Python API drives the system chromium (never a downloaded browser) against a
JupyterLab server that the fixtures start on a free loopback port, in a temporary copy of
the course. Every wait is on page state; each step leaves a screenshot in the artifacts
directory (env ``DS4023_ARTIFACTS``, else a temporary directory), whose paths are printed.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import nbformat
import pytest
from playwright.sync_api import expect

from ds4023 import release
from tests.helpers import COURSE_ROOT
from tests.helpers.browser import (
    PAGE_TIMEOUT_MS,
    chromium,
    quiet_lab_settings,
    require_chromium,
    serve_lab,
    shoot,
)
from tests.helpers.feedback_render import PROBE

#: The source notebook trains a network; "Run All" takes about a minute on two cores.
RUN_ALL_TIMEOUT_MS = 600_000

ASSIGNMENT = "backprop"
RELEASE_NB = f"release/{ASSIGNMENT}/{ASSIGNMENT}.ipynb"
SOURCE_NB = f"source/{ASSIGNMENT}/{ASSIGNMENT}.ipynb"
#: The student function the test fills in, the nbgrader id of its visible test, and the fill.
STUDENT_FUNCTION = "sigmoid"
SIGMOID_TEST_ID = "sigmoid_values"
SIGMOID_BODY = "return 1 / (1 + np.exp(-z))"
#: The exercise's unregularized and regularized costs for the pretrained weights, as shown to
#: four decimals (the notebook may show more digits: 5.830333 shows 5.8303).
REFERENCE_COSTS = ("5.8303", "5.9265")
STUB_MARKER = "raise NotImplementedError()"

pytestmark = pytest.mark.timeout(1800)


# --------------------------------------------------------------------------- notebook facts


def _cells(notebook: Path) -> list[dict]:
    return json.loads(notebook.read_text(encoding="utf-8"))["cells"]


def _source(cell: dict) -> str:
    return "".join(cell["source"])


def _nbgrader(cell: dict) -> dict:
    return cell.get("metadata", {}).get("nbgrader", {})


def _sigmoid_plan(cells: list[dict]) -> tuple[list[int], int, int]:
    """Find the cells a student runs to check ``sigmoid`` in the release notebook.

    Returns:
        (setup cells to run first, the sigmoid stub cell, its visible test cell). The setup
        cells are the read-only cells above the test (imports, data loading, helpers): nbgrader
        marks them ``locked`` and they depend on no stub, so none of them can fail on one.
    """
    stub = next(
        i
        for i, c in enumerate(cells)
        if _nbgrader(c).get("solution") and f"def {STUDENT_FUNCTION}(" in _source(c)
    )
    test = next(i for i, c in enumerate(cells) if _nbgrader(c).get("grade_id") == SIGMOID_TEST_ID)
    setup = [
        i
        for i, c in enumerate(cells[:test])
        if c["cell_type"] == "code"
        and _nbgrader(c).get("locked")
        and not (_nbgrader(c).get("solution") or _nbgrader(c).get("grade"))
    ]
    return setup, stub, test


def _rounds_to(text: str, value: str) -> bool:
    """Does ``text`` show a number with at least as many decimals as ``value`` rounding to it?"""
    places = len(value.split(".")[1])
    shown = re.findall(rf"-?\d+\.\d{{{places},}}", text)
    return any(f"{float(number):.{places}f}" == value for number in shown)


# --------------------------------------------------------------------------- fixtures


@dataclass
class Lab:
    """A running JupyterLab server on loopback."""

    url: str
    token: str
    course: Path
    log: Path

    def lab_url(self, path: str = "") -> str:
        """URL that opens ``path`` (relative to the course) in a fresh JupyterLab workspace."""
        tree = f"/tree/{path}" if path else ""
        return f"{self.url}/lab{tree}?reset&token={self.token}"


@pytest.fixture(scope="module")
def lab_course(tmp_path_factory) -> Path:
    """A copy of the course with data beside the notebooks and a gradebook of its assignments."""
    require_chromium()
    course = tmp_path_factory.mktemp("lab") / "course"
    keep_out = shutil.ignore_patterns("*.mat", ".ipynb_checkpoints", "__pycache__")
    course.mkdir()
    shutil.copy2(COURSE_ROOT / "nbgrader_config.py", course)
    for folder in ("source", "release"):
        shutil.copytree(COURSE_ROOT / folder, course / folder, ignore=keep_out)
    (course / "data").mkdir()
    for mat in (COURSE_ROOT / "data").glob("*.mat"):
        shutil.copy2(mat, course / "data" / mat.name)
    # generate_assignment puts the data beside source and release notebooks and records each
    # assignment in the copy's gradebook (which formgrader lists). The browser then opens
    # the committed release notebook, not the regenerated one.
    for name in release.assignments(course):
        release.generate_release(name, course)
        for committed in (COURSE_ROOT / "release" / name).glob("*.ipynb"):
            shutil.copy2(committed, course / "release" / name / committed.name)
    return course


@pytest.fixture(scope="module")
def lab(lab_course: Path, artifacts: Path, tmp_path_factory) -> Iterator[Lab]:
    """JupyterLab serving the course copy from its own directory, with a token."""
    home = tmp_path_factory.mktemp("jupyter-home")
    settings = home / "user-settings"
    quiet_lab_settings(settings)
    cmd = [
        sys.executable,
        "-m",
        "jupyterlab",
        f"--ServerApp.root_dir={lab_course}",
        f"--LabApp.user_settings_dir={settings}",
        f"--LabApp.workspaces_dir={home / 'workspaces'}",
    ]
    if os.getuid() == 0:
        cmd.append("--allow-root")
    env = dict(os.environ)
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    env.pop("MPLBACKEND", None)  # as `make lab`: kernels pick the inline backend themselves
    env.update(
        JUPYTER_CONFIG_DIR=str(home / "config"),
        JUPYTER_RUNTIME_DIR=str(home / "runtime"),
        IPYTHONDIR=str(home / "ipython"),
    )
    log = artifacts / "jupyterlab.log"
    # cwd = the copy: formgrader reads nbgrader_config.py from the server's working dir.
    with serve_lab(cmd, lab_course, env, log) as (url, token):
        yield Lab(url=url, token=token, course=lab_course, log=log)


@pytest.fixture(scope="module")
def browser(lab: Lab, tmp_path_factory):
    """Headless Debian chromium, fresh profile, driven by Playwright."""
    with chromium(tmp_path_factory.mktemp("chromium-profile")) as context:
        yield context


@pytest.fixture
def page(browser):
    """A new browser tab, closed after the test."""
    tab = browser.new_page()
    try:
        yield tab
    finally:
        tab.close()


# --------------------------------------------------------------------------- page helpers


def _open_notebook(page, lab: Lab, relpath: str):
    """Open a notebook in JupyterLab and wait until all its cells and an idle kernel show."""
    page.goto(lab.lab_url(relpath))
    panel = page.locator(".jp-NotebookPanel:visible")
    cells = panel.locator(".jp-Notebook .jp-Cell")
    expect(cells).to_have_count(len(_cells(lab.course / relpath)), timeout=PAGE_TIMEOUT_MS)
    expect(page.locator("#jp-main-statusbar")).to_contain_text("Idle", timeout=PAGE_TIMEOUT_MS)
    return panel, cells


def _errors(area):
    """Error outputs (tracebacks) in a cell or notebook; warnings on stderr do not count."""
    stderr = area.locator('.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"]')
    return stderr.filter(has_text="Traceback")


def _editor_text(cell) -> str:
    """The source shown in a cell's editor, line by line as CodeMirror renders it."""
    lines = cell.locator(".cm-content .cm-line")
    return "\n".join(lines.evaluate_all("lines => lines.map(line => line.textContent)"))


def _run(page, cell) -> None:
    """Run one code cell as a person does: click into it, Shift+Enter, wait for its result."""
    prompt = cell.locator(".jp-InputPrompt")
    before = prompt.inner_text()
    cell.locator(".jp-InputArea-editor").click()
    page.keyboard.press("Shift+Enter")
    expect(prompt).not_to_have_text(before, timeout=PAGE_TIMEOUT_MS)
    expect(prompt).to_have_text(re.compile(r"^\[\d+\]:$"), timeout=PAGE_TIMEOUT_MS)


def _save(page) -> None:
    """Save with Ctrl+S and wait until the notebook's tab no longer shows unsaved changes."""
    dirty = page.locator(".lm-TabBar-tab.lm-mod-current.jp-mod-dirty")
    expect(dirty).to_have_count(1)
    page.keyboard.press("Control+s")
    expect(dirty).to_have_count(0)


# --------------------------------------------------------------------------- tests


def test_release_notebook_shows_stubs_and_locks_tests(page, lab: Lab, artifacts: Path, capsys):
    """Does the release notebook render with its stubs and refuse edits to a locked test cell?"""
    cells_json = _cells(lab.course / RELEASE_NB)
    _, stub, test = _sigmoid_plan(cells_json)
    panel, cells = _open_notebook(page, lab, RELEASE_NB)

    n_stubs = sum(c["cell_type"] == "code" and "YOUR CODE HERE" in _source(c) for c in cells_json)
    assert n_stubs > 0
    expect(panel.locator(".jp-CodeCell .cm-content", has_text="YOUR CODE HERE")).to_have_count(
        n_stubs
    )
    expect(cells.nth(stub)).to_contain_text(f"def {STUDENT_FUNCTION}(")
    expect(panel.get_by_role("button", name="Validate")).to_be_visible()

    locked = cells.nth(test)
    editor = locked.locator(".cm-content")
    original = _source(cells_json[test])
    assert cells_json[test]["metadata"].get("editable") is False, "nbgrader did not lock it"
    expect(editor).to_have_attribute("aria-readonly", "true")
    editor.click()
    expect(page.locator("#jp-main-statusbar")).to_contain_text("Mode: Edit")
    page.keyboard.press("End")
    page.keyboard.type("  # a student's edit")
    page.keyboard.press("Enter")
    page.keyboard.type("assert True")
    expect(editor).not_to_contain_text("a student's edit")
    assert _editor_text(locked) == original
    locked.scroll_into_view_if_needed()
    shoot(page, artifacts, "1-release-notebook-locked-test", capsys)


def test_student_fills_sigmoid_and_its_test_passes(page, lab: Lab, artifacts: Path, capsys):
    """Does the visible sigmoid test fail on the stub and pass once the student types a body?"""
    path = lab.course / RELEASE_NB
    cells_json = _cells(path)
    setup, stub, test = _sigmoid_plan(cells_json)
    panel, cells = _open_notebook(page, lab, RELEASE_NB)

    for index in [*setup, stub, test]:
        _run(page, cells.nth(index))
    for index in setup:
        expect(_errors(cells.nth(index))).to_have_count(0)
    # one line that names the unwritten function (no traceback through the checks module)
    stderr = '.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"]'
    expect(cells.nth(test).locator(stderr)).to_have_text(
        re.compile(r"^\s*sigmoid is not written yet: replace `raise NotImplementedError\(\)`")
    )
    cells.nth(test).scroll_into_view_if_needed()
    shoot(page, artifacts, "2a-sigmoid-test-fails-on-stub", capsys)

    stub_cell = cells.nth(stub)
    stub_cell.locator(".cm-line", has_text=STUB_MARKER).click()
    page.keyboard.press("End")
    page.keyboard.press("Shift+Home")
    page.keyboard.type(SIGMOID_BODY)
    expect(stub_cell.locator(".cm-content")).to_contain_text(SIGMOID_BODY)
    expect(stub_cell.locator(".cm-content")).not_to_contain_text(STUB_MARKER)

    _run(page, stub_cell)
    _run(page, cells.nth(test))
    expect(_errors(stub_cell)).to_have_count(0)
    expect(_errors(cells.nth(test))).to_have_count(0)
    cells.nth(test).scroll_into_view_if_needed()
    shoot(page, artifacts, "2b-sigmoid-test-passes", capsys)

    _save(page)
    saved = _cells(path)
    assert SIGMOID_BODY in _source(saved[stub])
    assert _source(saved[test]) == _source(cells_json[test])


def test_source_notebook_reproduces_reference_costs(page, lab: Lab, artifacts: Path, capsys):
    """Does "Run All Cells" on the source notebook finish without errors and print both costs?"""
    cells_json = _cells(lab.course / SOURCE_NB)
    panel, cells = _open_notebook(page, lab, SOURCE_NB)
    # Start from a clean page, so only outputs of this run count (execution counts reset).
    page.locator(".lm-MenuBar-itemLabel", has_text="Edit").click()
    page.get_by_role("menuitem", name="Clear Outputs of All Cells", exact=True).click()
    expect(panel.locator(".jp-OutputArea-output")).to_have_count(0)
    page.locator(".lm-MenuBar-itemLabel", has_text="Run").click()
    page.get_by_role("menuitem", name="Run All Cells", exact=True).click()

    code = [i for i, c in enumerate(cells_json) if c["cell_type"] == "code"]
    prompts = [cells.nth(i).locator(".jp-InputPrompt") for i in code]
    numbered = re.compile(r"^\[\d+\]:$")
    # The run ends when the last code cell has its execution count, or stops at an error.
    last_done = prompts[-1].filter(has_text=numbered)
    expect(last_done.or_(_errors(panel).first)).to_be_attached(timeout=RUN_ALL_TIMEOUT_MS)
    expect(_errors(panel)).to_have_count(0)
    for prompt in prompts:
        expect(prompt).to_have_text(numbered)
    # Figures show inline (question 1 asks about the pictures of the digits).
    expect(panel.locator(".jp-OutputArea-output img").first).to_be_visible()
    outputs = panel.locator(".jp-OutputArea-output")
    # textContent, not innerText: JupyterLab skips rendering off-screen cells, and innerText
    # of an unrendered output is empty.
    texts = outputs.evaluate_all("outputs => outputs.map(output => output.textContent)")
    for step, value in zip("ab", REFERENCE_COSTS, strict=True):
        shown = [i for i, text in enumerate(texts) if _rounds_to(text, value)]
        assert shown, f"no output shows {value}; outputs: {[t[:80] for t in texts]}"
        outputs.nth(shown[0]).evaluate("output => output.scrollIntoView({block: 'center'})")
        expect(outputs.nth(shown[0])).to_be_in_viewport()
        shoot(page, artifacts, f"3{step}-source-notebook-shows-{value}", capsys)


def test_formgrader_lists_course_assignments(page, lab: Lab, artifacts: Path, capsys):
    """Does the instructor's Formgrader panel list every assignment of the course?"""
    page.goto(lab.lab_url())
    # JupyterLab's root is the course copy: its file browser shows the course's config.
    listing = page.locator(".jp-DirListing-item")
    expect(listing.filter(has_text="nbgrader_config.py")).to_be_visible()
    page.locator(".lm-MenuBar-itemLabel", has_text="Nbgrader").click()
    page.get_by_role("menuitem", name="Formgrader", exact=True).click()
    frame = page.frame_locator("iframe[src*='formgrader']")
    expect(frame.get_by_role("heading", name="Manage Assignments")).to_be_visible()
    names = release.assignments(lab.course)
    assert ASSIGNMENT in names
    for name in names:
        expect(frame.get_by_role("link", name=name, exact=True)).to_be_visible()
    shoot(page, artifacts, "4-formgrader-assignments", capsys)


# --------------------------------------------------------------------------- feedback page

#: The sample student the issue names: half credit on the costs, tracebacks from backprop.
FEEDBACK_STUDENT = "no_bias_column"
#: What must never reach a student's page: the grading machine's folders.
GRADER_PATHS = ("ds4023-grade-", "site-packages", "/.venv/", sys.prefix, str(COURSE_ROOT))


@pytest.fixture(scope="module")
def graded_feedback(tmp_path_factory) -> Path:
    """One sample student's backprop submission graded (no sandbox: trusted, 1-2 minutes)."""
    require_chromium()
    from ds4023.sample_class import students as sample_class
    from tests.helpers import copy_course

    course = copy_course(tmp_path_factory.mktemp("feedback") / "course")
    shutil.copy2(COURSE_ROOT / "README.md", course / "README.md")  # the points table's terms
    release.generate_release(ASSIGNMENT, course)
    table = sample_class.load_table(ASSIGNMENT)
    student = next(s for s in table.STUDENTS if s.name == FEEDBACK_STUDENT)
    source = nbformat.read(course / SOURCE_NB, as_version=4)
    notebook = sample_class.student_notebook(source, sample_class.release_notebook(source), student)
    folder = course / "submitted" / FEEDBACK_STUDENT / ASSIGNMENT
    folder.mkdir(parents=True)
    nbformat.write(notebook, str(folder / f"{ASSIGNMENT}.ipynb"))
    env = release.nbgrader_env()
    env.pop("DS4023_DB_URL", None)
    env["MPLBACKEND"] = "Agg"  # the grader is headless; its kernels draw inline regardless
    cmd = [sys.executable, "-m", "ds4023.cli", "grade", "--course", str(course)]
    cmd += ["--assignment", ASSIGNMENT, "--workers", "1", "--engine", "local", "--quiet"]
    cmd += ["--no-report", "--unsafe-no-sandbox"]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=1200)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    page = course / "feedback" / FEEDBACK_STUDENT / ASSIGNMENT / f"{ASSIGNMENT}.html"
    assert page.is_file(), proc.stdout[-2000:]
    return page


def test_feedback_page_reads_to_the_end(graded_feedback: Path, browser, artifacts: Path, capsys):
    """Does a graded student's feedback page, 1280 px wide, show the course's terms, the
    README's part names, figures and wrapped messages, and no path of the grading machine?"""
    # the module's browser: a second sync Playwright in the same thread would not start
    page = browser.new_page()
    try:
        page.set_viewport_size({"width": 1280, "height": 1000})
        outside = []  # nothing may be fetched from the network (MathJax is in the page)
        local = ("file:", "data:", PROBE)  # PROBE: MathJax's own font probe, never loaded
        page.on("request", lambda r: outside.append(r.url) if not r.url.startswith(local) else 0)
        page.goto(graded_feedback.as_uri())
        header = page.locator("h4.course-grade")
        expect(header).to_contain_text(re.compile(r"core [\d.]+ / 100"))
        expect(header).to_contain_text("optional +")
        expect(header).to_contain_text("written awaiting grading / 15")
        toc = page.locator("#toc")
        expect(toc).to_contain_text("forward_propagate")
        expect(toc).not_to_contain_text("Test cell")
        # The half credit on the cost is explained next to its part, once.
        partial = page.locator(".output_area", has_text="Partial credit:")
        expect(partial.first).to_be_visible()
        texts = partial.evaluate_all("areas => areas.map(a => a.textContent)")
        assert len(texts) == len(set(texts)) >= 2, texts
        # Figures: plot_image's digit and the grid of digits are PNG outputs.
        expect(page.locator(".output_area img[src^='data:image/png']").first).to_be_visible()
        # MathJax, inside the page, typesets the notebook's math.
        expect(page.locator(".MathJax, .MathJax_Display, .MathJax_CHTML").first).to_be_attached()
        clipped = page.locator(".output_area pre, .output_subarea").evaluate_all(
            "boxes => boxes.filter(b => b.scrollWidth > b.clientWidth + 1)"
            ".map(b => b.textContent.slice(0, 120))"
        )
        assert clipped == [], clipped
        body = page.locator("body").inner_text()
        assert [p for p in GRADER_PATHS if p in body] == []
        assert outside == [], outside
        partial.first.scroll_into_view_if_needed()
        shoot(page, artifacts, "5a-feedback-partial-credit", capsys)
        page.screenshot(path=str(artifacts / "5b-feedback-full-page.png"), full_page=True)
        with capsys.disabled():
            print(f"\n[browser screenshot] {artifacts / '5b-feedback-full-page.png'}")
    finally:
        page.close()
