"""Tests for ds4023.feedback.sanitise: no feedback page runs anything a student wrote.

A graded student's autograded notebook is rewritten with every vector (script, event handlers,
``javascript:`` links, frames, objects, styles, SVG with script, JavaScript and widget outputs,
markdown links) in a written answer, a plain markdown cell, a plain code cell's outputs and a
test cell's outputs; then both feedback paths render it: ``ds4023.feedback.pages`` and nbgrader's
own ``generate_feedback`` (the formgrader's button). Every vector carries the marker ``xss-``,
which must not survive anywhere in the page; honest markdown (math, a table, code, a PNG)
must still render.
"""

from __future__ import annotations

import base64
import re
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import nbformat
import pytest
from nbconvert.exporters import HTMLExporter
from nbconvert.preprocessors.sanitize import SanitizeHTML
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output, new_raw_cell

from ds4023.feedback.pages import generate_feedback
from ds4023.feedback.sanitise import clean_html
from tests.helpers.grading_course import (
    ASSIGNMENT,
    copy_course,
    course_env,
    graded_class,
    nbgrader_env,
)

pytestmark = pytest.mark.timeout(600)

STUDENT = "correct"
PNG = base64.b64encode(b"\x89PNG\r\n\x1a\n" + b"\0" * 16).decode()
HONEST_SVG = '<svg xmlns="http://www.w3.org/2000/svg"><circle r="3"/></svg>'

#: HTML an attacker would try; each carries the marker.
HTML_VECTORS = {
    "script": "<script>alert('xss-script')</script>",
    "onerror": "<img src=x onerror=\"alert('xss-onerror')\">",
    "js_link": "<a href=\"javascript:alert('xss-jslink')\">click</a>",
    "iframe": "<iframe src=\"javascript:alert('xss-iframe')\"></iframe>",
    "object": "<object data=\"javascript:alert('xss-object')\"></object>",
    "embed": '<embed src="data:text/html,xss-embed">',
    "style": "<style>body { background: url('javascript:alert(\"xss-style\")') }</style>",
    "svg": "<svg onload=\"alert('xss-svg')\"></svg>",
    "handler": '<div onmouseover="alert(\'xss-hover\')" style="position:fixed">hover</div>',
    "data_link": "<a href=\"data:text/html,<script>alert('xss-datalink')</script>\">d</a>",
    "form": "<form action=\"javascript:alert('xss-form')\"><button>go</button></form>",
    "meta": '<meta http-equiv="refresh" content="0;url=javascript:alert(\'xss-meta\')">',
}
#: Markdown-only vectors: plain text to an HTML sanitiser, live links once rendered.
MARKDOWN_VECTORS = {
    "md_link": "[click me](javascript:alert('xss-mdlink'))",
    "md_image": "![pic](javascript:alert('xss-mdimg'))",
    "md_svg": "![svg](data:image/svg+xml;base64,"
    + base64.b64encode(b"<svg onload=alert('xss-mdsvg')/>").decode()
    + ")",
}
HONEST_MARKDOWN = (
    "## My answer\n\nEnergy is $E = mc^2$ and $$\\sum_i x_i < 1$$\n\n"
    "| input | output |\n|---|---|\n| 1 | 2 |\n\n"
    "```python\nprint('honest code')\n```\n\n"
    f"![plot](data:image/png;base64,{PNG})\n\n[docs](https://numpy.org)\n"
)


def hostile_markdown() -> str:
    """A written answer: honest markdown followed by every vector."""
    vectors = [*HTML_VECTORS.values(), *MARKDOWN_VECTORS.values()]
    return HONEST_MARKDOWN + "\n\n" + "\n\n".join(vectors) + "\n"


def hostile_outputs() -> list:
    """Outputs of every kind a cell can produce, each carrying the vectors."""
    html = "".join(HTML_VECTORS.values())
    svg = "<svg xmlns='http://www.w3.org/2000/svg'><script>alert('xss-svgout')</script></svg>"
    return [
        new_output("display_data", data={"text/html": html, "text/plain": "<HTML>"}),
        new_output("execute_result", data={"text/html": html}, execution_count=3),
        new_output(
            "display_data",
            data={"text/html": "<b>isolated</b><script>alert('xss-isolated')</script>"},
            metadata={"text/html": {"isolated": True}},
        ),
        new_output("display_data", data={"image/svg+xml": svg}),
        new_output("display_data", data={"image/svg+xml": HONEST_SVG}),
        new_output("display_data", data={"application/javascript": "alert('xss-js')"}),
        new_output("display_data", data={"text/markdown": hostile_markdown()}),
        new_output(
            "display_data",
            data={
                "application/vnd.jupyter.widget-view+json": {"model_id": "xss-widget"},
                "text/plain": "a widget",
            },
        ),
        new_output(
            "display_data",
            data={"image/png": PNG},
            metadata={"filenames": {"image/png": "javascript:alert('xss-filename')"}},
        ),
    ]


def plant_vectors(nb) -> None:
    """Put the vectors into the written answer, a markdown cell, a code cell and a test cell."""
    cells = {c.metadata.get("nbgrader", {}).get("grade_id"): c for c in nb.cells}
    cells["explain"].source = hostile_markdown()
    cells["part1_text"].source = hostile_markdown()
    cells["test_square"].outputs = hostile_outputs()
    plain = new_code_cell("show_off()", execution_count=7)
    plain.outputs = hostile_outputs()
    nb.cells.insert(2, plain)
    nb.cells.append(new_raw_cell(HTML_VECTORS["script"], metadata={"format": "text/html"}))
    widgets = {"state": {}, "xss-state": "</script><script>alert('xss-widgetstate')</script>"}
    nb.metadata["widgets"] = {"application/vnd.jupyter.widget-state+json": widgets}


class Tags(HTMLParser):
    """Every start tag of a page: (tag, attributes), and the text of each script."""

    def __init__(self, page: str):
        super().__init__()
        self.tags: list[tuple[str, dict]] = []
        self.scripts: list[str] = []
        self._in_script = False
        self.feed(page)

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))
        self._in_script = tag == "script"
        if self._in_script:
            self.scripts.append("")

    def handle_endtag(self, tag):
        self._in_script = False

    def handle_data(self, data):
        if self._in_script:
            self.scripts[-1] += data


def active_content(page: str) -> list[str]:
    """What in a page could run or load student content: handlers, bad URLs, frames..."""
    found = []
    for tag, attrs in Tags(page).tags:
        if tag in ("iframe", "object", "embed", "form", "base", "svg") or "http-equiv" in attrs:
            found.append(f"<{tag}>")
        for name, value in attrs.items():
            url = re.sub(r"[\x00-\x20]+", "", value or "").lower()
            if name.startswith("on"):
                found.append(f"<{tag} {name}=>")
            elif url.startswith(("javascript:", "vbscript:")):
                found.append(f"<{tag} {name}={url[:30]}>")
            elif url.startswith("data:") and not (
                tag == "img" and name == "src" and url.startswith("data:image/")
            ):
                found.append(f"<{tag} {name}={url[:30]}>")
            elif tag == "img" and url.startswith("data:image/svg+xml;base64,"):
                svg = base64.b64decode(value.split(",", 1)[1]).decode()
                if "<script" in svg or "onload" in svg:
                    found.append("<img src=svg with script>")
    return found


def check_page(page: str, baseline: str) -> None:
    """No vector survives; the page's own scripts and styles are those of an honest page."""
    assert "xss-" not in page, re.findall(r".{80}xss-.{40}", page, flags=re.S)[:3]
    assert active_content(page) == []
    ours, honest = Tags(page), Tags(baseline)
    assert ours.scripts == honest.scripts and len(ours.scripts) == 2  # MathJax and its config
    assert any("MathJax.Hub.Config" in s for s in ours.scripts)
    styles = sum(t == "style" for t, _ in ours.tags)
    assert styles == sum(t == "style" for t, _ in honest.tags)
    # honest markdown still renders: math left for MathJax, the table, code, the PNG
    assert "$E = mc^2$" in page and "<th>input</th>" in page
    assert "honest code" in page and f'src="data:image/png;base64,{PNG}"' in page
    assert '<a href="https://numpy.org"' in page
    assert "[output not shown in feedback: application/javascript]" in page
    assert base64.b64encode(HONEST_SVG.encode()).decode() in page  # honest SVG, as an image


@pytest.fixture(scope="module")
def hostile_course(tmp_path_factory):
    """A copy of the graded toy class whose student ``correct`` planted every vector."""
    course = copy_course(graded_class(tmp_path_factory)[0], tmp_path_factory.mktemp("xss") / "c")
    path = course / "autograded" / STUDENT / ASSIGNMENT / "toy.ipynb"
    nb = nbformat.read(path, as_version=4)
    plant_vectors(nb)
    path.chmod(0o644)
    path.write_text(nbformat.writes(nb), encoding="utf-8")
    return course


def _nbgrader_feedback(course: Path) -> Path:
    cmd = [sys.executable, "-m", "nbgrader", "generate_feedback", ASSIGNMENT, "--force"]
    done = subprocess.run(cmd, cwd=course, env=nbgrader_env(), capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    return course / "feedback" / STUDENT / ASSIGNMENT / "toy.html"


def test_our_feedback_page_runs_nothing_of_the_student(hostile_course, tmp_path):
    """Does python -m ds4023.feedback.pages escape or drop every vector and keep honest content?"""
    course = copy_course(hostile_course, tmp_path / "c")
    with course_env():
        written = generate_feedback(course, ASSIGNMENT, force=True, progress=False)
    page = course / "feedback" / STUDENT / ASSIGNMENT / "toy.html"
    baseline = course / "feedback" / "one_mistake" / ASSIGNMENT / "toy.html"
    assert page in written
    check_page(page.read_text(encoding="utf-8"), baseline.read_text(encoding="utf-8"))


def test_nbgrader_feedback_page_runs_nothing_of_the_student(hostile_course, tmp_path):
    """Does nbgrader's own generate_feedback (the formgrader's button) sanitise them too?"""
    course = copy_course(hostile_course, tmp_path / "c")
    page = _nbgrader_feedback(course).read_text(encoding="utf-8")
    baseline = course / "feedback" / "one_mistake" / ASSIGNMENT / "toy.html"
    check_page(page, baseline.read_text(encoding="utf-8"))
    assert "Score:" in page


def test_without_the_setting_nbgrader_feedback_runs_student_script(hostile_course, tmp_path):
    """Without c.GenerateFeedback.exporter_class, does nbgrader's page carry live script?"""
    course = copy_course(hostile_course, tmp_path / "c")
    config = course / "nbgrader_config.py"
    text = config.read_text()
    assert "c.GenerateFeedback.exporter_class" in text
    config.write_text(text.replace("c.GenerateFeedback.exporter_class", "_unused"))
    page = _nbgrader_feedback(course).read_text(encoding="utf-8")
    assert "<script>alert('xss-script')</script>" in page
    assert any("onerror" in item for item in active_content(page))


def test_nbconvert_sanitize_html_leaves_markdown_links_live():
    """Why not nbconvert's SanitizeHTML alone: it cleans markdown before it is rendered."""
    nb = new_notebook(cells=[new_markdown_cell(MARKDOWN_VECTORS["md_link"])])
    exporter = HTMLExporter(template_name="classic")
    exporter.register_preprocessor(SanitizeHTML(), enabled=True)
    page = exporter.from_notebook_node(nb)[0]
    assert any(x.startswith("<a href=javascript:alert(") for x in active_content(page))
    assert "javascript:" not in clean_html('<a href="javascript:alert(1)">x</a>')
