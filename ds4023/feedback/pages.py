"""Feedback HTML for every graded student, with the source of hidden tests kept out of it.

Every page is rendered by :class:`~ds4023.feedback.sanitise.SafeFeedbackExporter`, so no HTML or
JavaScript from a submission is live in it (docs/security.md).
"""

from __future__ import annotations

import hashlib
import html
import json
import sys
from pathlib import Path

import nbformat
from nbconvert.preprocessors import CSSHTMLHeaderPreprocessor
from nbgrader.converters import GenerateFeedback
from nbgrader.preprocessors import GetGrades
from tqdm import tqdm

from ds4023.collect import exchange
from ds4023.feedback.course_feedback import CourseFeedback, hide_grader_paths
from ds4023.feedback.hide_hidden_tests import HideHiddenTests
from ds4023.feedback.sanitise import SafeFeedbackExporter
from ds4023.files import atomic_write_text
from ds4023.grading import gradebook as gradebook_io
from ds4023.grading.course import load_course
from ds4023.grading.state import STATE_DIR, GradingState
from ds4023.grading.task import GRADED
from ds4023.settings import COURSE_ROOT

#: Bump to regenerate every feedback file after a change here.
FEEDBACK_VERSION = 6


def _exporter(cfg, coursedir) -> SafeFeedbackExporter:
    # nbgrader's GenerateFeedback sets up the 'feedback' template and its paths on init
    feedback = GenerateFeedback(coursedir=coursedir, config=cfg)
    exporter = SafeFeedbackExporter(config=feedback.config)
    for pp in (HideHiddenTests, GetGrades, CourseFeedback, CSSHTMLHeaderPreprocessor):
        exporter.register_preprocessor(pp(config=feedback.config), enabled=True)
    return exporter


def _render(exporter, data: bytes, student: str, assignment: str, nb_name: str, coursedir):
    resources = {
        "unique_key": nb_name,
        "metadata": {"name": nb_name},
        "nbgrader": {
            "student": student,
            "assignment": assignment,
            "notebook": nb_name,
            "db_url": coursedir.db_url,
        },
    }
    nb = nbformat.reads(data.decode("utf-8"), as_version=4)
    return exporter.from_notebook_node(nb, resources)[0]


def failure_page(student: str, notebook: str, reason: str, max_score: float) -> str:
    """Render the feedback page of a submission that could not be graded.

    Args:
        student: the student id.
        notebook: the notebook name.
        reason: why grading failed.
        max_score: the points available.

    Returns:
        A small standalone HTML page.
    """
    e = html.escape
    return (
        f"<!DOCTYPE html>\n<html><head><meta charset='utf-8'><title>{e(notebook)}</title></head>"
        f"<body><h1>{e(notebook)}: not graded</h1>"
        f"<p>Student: {e(student)}. Score: 0 / {max_score:g}.</p>"
        f"<p>Your submission could not be graded automatically: {e(hide_grader_paths(reason))}.</p>"
        "<p>Fix the notebook and submit it again, or contact the instructor.</p></body></html>\n"
    )


def generate_feedback(
    course_root: Path = COURSE_ROOT,
    assignment: str = "backprop",
    force: bool = False,
    progress: bool = True,
    failures: list[str] | None = None,
) -> list[Path]:
    """Write ``feedback/<student>/<assignment>/<notebook>.html`` for every recorded submission.

    Graded submissions get nbgrader's feedback page (scores, test results and messages) built
    from the autograded notebook with hidden tests hidden; failed ones get a page with the
    reason. A page is rebuilt only when its autograded notebook or its grades changed.

    Args:
        course_root: the course directory.
        assignment: the assignment name.
        force: rebuild every page.
        progress: show a progress bar.
        failures: if given, gets one line per page that could not be rendered (the other
            pages are still written; each failure is also printed as it happens).

    Returns:
        The pages written.
    """
    cfg, coursedir = load_course(course_root)
    root = Path(coursedir.root)
    state = GradingState(root)
    table = gradebook_io.grade_table(coursedir.db_url, coursedir.course_id, assignment)
    memo_path = root / STATE_DIR / "feedback.json"
    try:
        memo = json.loads(memo_path.read_text())
    except (OSError, ValueError):
        memo = {}
    exporter, written = None, []
    for student in tqdm(sorted(table), desc="feedback", unit="student", disable=not progress):
        entry = state.get(assignment, student) or {"status": GRADED}
        parts = table[student]["parts"]
        notebooks = sorted({p["notebook"] for p in parts.values()})
        auto = Path(coursedir.format_path(coursedir.autograded_directory, student, assignment))
        out = Path(coursedir.format_path(coursedir.feedback_directory, student, assignment))
        for nb_name in notebooks:
            src = auto / f"{nb_name}.ipynb"
            if entry["status"] != GRADED or not src.is_file():
                top = sum(p["max_score"] for p in parts.values() if p["notebook"] == nb_name)
                reason = entry.get("reason") or "no autograded notebook was found"
                page, key_data = failure_page(student, nb_name, reason, top), reason.encode()
            else:
                page, key_data = None, src.read_bytes()
            grades = json.dumps(table[student], sort_keys=True).encode()
            key = hashlib.sha256(b"%d" % FEEDBACK_VERSION + key_data + grades).hexdigest()
            memo_key = f"{assignment}/{student}/{nb_name}"
            target = out / f"{nb_name}.html"
            if not force and memo.get(memo_key) == key and target.is_file():
                continue
            if page is None:
                exporter = exporter or _exporter(cfg, coursedir)
                try:
                    page = _render(exporter, key_data, student, assignment, nb_name, coursedir)
                except Exception as err:  # one unrenderable page must not stop the others
                    line = f"feedback: no page for {student}/{nb_name}: {err}"
                    tqdm.write(line, sys.stderr)
                    if failures is not None:
                        failures.append(line)
                    continue
            atomic_write_text(target, page)
            memo[memo_key] = key
            atomic_write_text(memo_path, json.dumps(memo, indent=1, sort_keys=True))
            written.append(target)
        exchange.prepare_release_feedback(coursedir, student, assignment)
    return written
