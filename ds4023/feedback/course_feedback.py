"""Feedback preprocessor: the grade in the course's terms, no grader paths, MathJax in the page."""

from __future__ import annotations

import os
import re
import sys
import sysconfig
import tempfile
from pathlib import Path

from nbconvert.preprocessors import Preprocessor
from nbgrader.api import Gradebook, MissingEntry
from traitlets import Bool

from ds4023 import course_terms
from ds4023.feedback import mathjax
from ds4023.feedback.hide_hidden_tests import rewrite_text_outputs
from ds4023.settings import COURSE_ROOT

_SEGMENT = r"[^\s'\"()<>:,;\x1b/]+"
#: The grader's scratch course (its student/assignment folder included) and installed packages.
_GRADER_PATHS = [
    (
        re.compile(
            rf"/(?:{_SEGMENT}/)*ds4023-grade-{_SEGMENT}"
            rf"(?:/(?:autograded|submitted|source)/{_SEGMENT}/{_SEGMENT})?"
        ),
        "<grader>",
    ),
    (re.compile(rf"/(?:{_SEGMENT}/)*(?:site|dist)-packages"), "<python>"),
]


def _prefixes(extra: tuple[str, ...]) -> list[tuple[re.Pattern, str]]:
    named = [
        (sysconfig.get_paths().get("stdlib", ""), "<python>"),
        (sys.prefix, "<python>"),
        (sys.base_prefix, "<python>"),
        (sys.exec_prefix, "<python>"),
        (str(COURSE_ROOT), "<course>"),
        *((p, "<course>") for p in extra),
        (tempfile.gettempdir(), "<tmp>"),
        (os.path.expanduser("~"), "<home>"),
    ]
    found = {}
    for path, name in named:
        for variant in {path, os.path.realpath(path)} if path else ():
            if len(variant) > 1:  # never "/"
                found.setdefault(variant.rstrip("/"), name)
    return [
        (re.compile(re.escape(p) + r"(?=[/\s'\"():,;\x1b]|\Z)"), name)
        for p, name in sorted(found.items(), key=lambda item: -len(item[0]))
    ]


def hide_grader_paths(text: str, extra: tuple[str, ...] = ()) -> str:
    """Replace paths of the grading machine in a message or traceback by a short placeholder.

    The grader's scratch course (``/tmp/ds4023-grade-.../autograded/<student>/<assignment>``)
    becomes ``<grader>``, the installed packages (``.../site-packages``) and the interpreter's
    folders ``<python>``, the course directory ``<course>``, the temporary directory ``<tmp>``
    and the home directory ``<home>``; file names below them stay.

    Args:
        text: any text from an output.
        extra: more folders to hide as ``<course>`` (e.g. the course directory of a copy).

    Returns:
        The text without those paths.
    """
    for pattern, name in _GRADER_PATHS + _prefixes(extra):
        text = pattern.sub(name, text)
    return text


def _hide_paths_in_outputs(cell, extra: tuple[str, ...]) -> None:
    rewrite_text_outputs(cell, lambda text: hide_grader_paths(text, extra))


def distinct_labels(labels: dict[str, str]) -> dict[str, str]:
    """Each grade_id's part name, numbered "(2 of 7)" where several cells share one part."""
    shared: dict[str, list[str]] = {}
    for gid, label in labels.items():
        shared.setdefault(label, []).append(gid)
    out = {}
    for label, gids in shared.items():
        for k, gid in enumerate(gids, 1):
            out[gid] = label if len(gids) == 1 else f"{label} ({k} of {len(gids)})"
    return out


class CourseFeedback(Preprocessor):
    """The page in the course's terms, without the grading machine's paths.

    Runs after nbgrader's ``GetGrades``. Puts into ``resources["ds4023"]``: ``grade``, the
    submission's grade as :func:`ds4023.course_terms.course_grade` words it (core, optional,
    written, "awaiting grading" while a person has not scored every written answer);
    ``labels``, grade_id -> the part's name in the README's table; ``pending``, the grade_ids
    nobody has graded yet. Replaces the grader's paths in every output
    (:func:`hide_grader_paths`) and puts MathJax into the page
    (``resources["ds4023_mathjax"]``, :func:`ds4023.feedback.mathjax.page_scripts`).
    """

    enabled = Bool(True).tag(config=True)

    def _course(self) -> dict:
        section = self.config.get("CourseDirectory", {})
        return {
            "root": Path(section.get("root") or COURSE_ROOT),
            "course_id": section.get("course_id") or "ds4023",
            "feedback": section.get("feedback_directory") or "feedback",
        }

    def preprocess(self, nb, resources):
        course = self._course()
        extra = (str(course["root"]),)
        for cell in nb.cells:
            if cell.cell_type == "code":
                _hide_paths_in_outputs(cell, extra)
        resources["ds4023_mathjax"] = mathjax.page_scripts()
        info = resources.get("nbgrader", {})
        if not {"db_url", "assignment", "student"} <= set(info):
            return nb, resources
        table = course_terms.parts(course["root"], info["assignment"])
        scores, maxima, pending, penalty = {}, {}, [], 0.0
        try:
            with Gradebook(info["db_url"], course["course_id"]) as gb:
                sub = gb.find_submission(info["assignment"], info["student"])
                for notebook in sub.notebooks:
                    penalty += notebook.late_submission_penalty or 0.0
                    for g in notebook.grades:
                        maxima[g.name] = g.max_score
                        ungraded = g.auto_score is None and g.manual_score is None
                        scores[g.name] = None if ungraded else g.score
                        if ungraded:
                            pending.append(g.name)
        except MissingEntry:
            return nb, resources
        grade = course_terms.course_grade(table, scores, maxima).text()
        if penalty > 0:
            grade += f", late penalty -{penalty:g}"
        resources["ds4023"] = {
            "grade": grade,
            "labels": distinct_labels({gid: part.label for gid, part in table.items()}),
            "pending": pending,
        }
        return nb, resources
