"""Feedback HTML for every graded student, with the source of hidden tests kept out of it.

Every page is rendered by :class:`~ds4023.feedback_safety.SafeFeedbackExporter`, so no HTML or
JavaScript from a submission is live in it (docs/security.md).
"""

from __future__ import annotations

import argparse
import hashlib
import html
import importlib.metadata
import json
import os
import re
import shutil
import sys
import sysconfig
import tempfile
from pathlib import Path

import nbformat
from nbconvert.preprocessors import CSSHTMLHeaderPreprocessor, Preprocessor
from nbgrader.api import Gradebook, MissingEntry
from nbgrader.converters import GenerateFeedback
from nbgrader.preprocessors import ClearHiddenTests, GetGrades
from nbgrader.utils import is_grade, is_solution
from sqlalchemy.exc import SQLAlchemyError
from tqdm import tqdm
from traitlets import Bool, Unicode

from ds4023 import COURSE_ROOT, course_terms, gradebook_io
from ds4023.collect import exchange
from ds4023.course_dir import GradingError, load_course
from ds4023.feedback_safety import SafeFeedbackExporter
from ds4023.grading_state import STATE_DIR, GradingState, atomic_write_text
from ds4023.grading_task import GRADED

#: What replaces each hidden-test region in the feedback.
PLACEHOLDER = "# [hidden tests: not shown]"
#: What replaces an output line that quotes a hidden test.
REDACTED = "[line of a hidden test removed]"
#: Bump to regenerate every feedback file after a change here.
FEEDBACK_VERSION = 4
#: MathJax 2's configuration (the one jupyter_server_mathjax ships) and its Safe extension.
MATHJAX_CONFIG = "TeX-AMS-MML_HTMLorMML-full,Safe"
#: Where pages find the local MathJax: feedback/<student>/<assignment>/<notebook>.html.
MATHJAX_URL = f"../../_static/mathjax/MathJax.js?config={MATHJAX_CONFIG}"
_ANSI = re.compile(r"\x1b\[[0-9;]*m")


def _strip_hidden(source: str, begin: str, end: str) -> tuple[str, list[str]]:
    kept, hidden, inside = [], [], False
    for line in source.split("\n"):
        if begin in line:
            inside = True
            kept.append(line[: len(line) - len(line.lstrip())] + PLACEHOLDER)
        elif end in line:
            inside = False
        elif inside:
            hidden.append(line.strip())
        else:
            kept.append(line)
    return "\n".join(kept), [h for h in hidden if len(h) >= 6]


def _redact(text: str, hidden: list[str]) -> str:
    lines = text.split("\n")
    return "\n".join(
        REDACTED if any(h in _ANSI.sub("", ln) for h in hidden) else ln for ln in lines
    )


class HideHiddenTests(Preprocessor):
    """Replace hidden-test regions by a placeholder and scrub what any output quotes of them.

    In every test cell that held a hidden region: the region becomes one placeholder line;
    error tracebacks shrink to the exception type and message (IPython tracebacks quote the
    failing source lines); and any output line still quoting a hidden line is replaced. In
    every other cell, output lines quoting a line of any hidden region are replaced too: a
    student's cell could print what it caught of a hidden test that called its code.
    """

    #: on by default: nbgrader's GenerateFeedback registers its preprocessors without enabling
    enabled = Bool(True).tag(config=True)
    begin_test_delimeter = Unicode(ClearHiddenTests.begin_test_delimeter.default_value).tag(
        config=True
    )
    end_test_delimeter = Unicode(ClearHiddenTests.end_test_delimeter.default_value).tag(config=True)

    def _is_test(self, cell) -> bool:
        return (
            is_grade(cell)
            and not is_solution(cell)
            and cell.cell_type == "code"
            and self.begin_test_delimeter in cell.source
        )

    def preprocess(self, nb, resources):
        begin, end = self.begin_test_delimeter, self.end_test_delimeter
        self._all_hidden = [
            line
            for cell in nb.cells
            if self._is_test(cell)
            for line in _strip_hidden(cell.source, begin, end)[1]
        ]
        return super().preprocess(nb, resources)

    def preprocess_cell(self, cell, resources, index):
        if not self._is_test(cell):
            if cell.cell_type == "code" and getattr(self, "_all_hidden", None):
                _redact_outputs(cell, self._all_hidden, shrink_tracebacks=False)
            return cell, resources
        cell.source, hidden = _strip_hidden(
            cell.source, self.begin_test_delimeter, self.end_test_delimeter
        )
        _redact_outputs(cell, hidden, shrink_tracebacks=True)
        return cell, resources


def _redact_outputs(cell, hidden: list[str], shrink_tracebacks: bool) -> None:
    for out in cell.get("outputs", []):
        if out.output_type == "error":
            out.evalue = _redact(_ANSI.sub("", out.evalue), hidden)
            if shrink_tracebacks:
                out.traceback = [f"{out.ename}: {out.evalue}"]
            else:
                out.traceback = [_redact(line, hidden) for line in out.traceback]
        elif out.output_type == "stream":
            out.text = _redact(out.text, hidden)
        elif "data" in out:
            for mime, value in out.data.items():
                if mime.startswith("text/") and isinstance(value, str):
                    out.data[mime] = _redact(value, hidden)


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
    for out in cell.get("outputs", []):
        if out.output_type == "error":
            out.evalue = hide_grader_paths(str(out.get("evalue", "")), extra)
            out.traceback = [hide_grader_paths(line, extra) for line in out.get("traceback", [])]
        elif out.output_type == "stream":
            out.text = hide_grader_paths(out.text, extra)
        elif "data" in out:
            for mime, value in out.data.items():
                if mime.startswith("text/") and isinstance(value, str):
                    out.data[mime] = hide_grader_paths(value, extra)


def install_mathjax(feedback_dir: Path) -> str:
    """Copy MathJax (from the ``jupyter_server_mathjax`` package) to ``feedback/_static/``.

    Copied once per version (``_static/mathjax/.version``), through a temporary folder, so
    pages never load MathJax from the internet.

    Args:
        feedback_dir: the course's feedback folder.

    Returns:
        The URL of MathJax relative to a page, or "" when no local MathJax is installed.
    """
    try:
        import jupyter_server_mathjax

        version = importlib.metadata.version("jupyter_server_mathjax")
    except (ImportError, importlib.metadata.PackageNotFoundError):
        return ""
    src = Path(jupyter_server_mathjax.__file__).resolve().parent / "static"
    if not (src / "MathJax.js").is_file():
        return ""
    dest = Path(feedback_dir) / "_static" / "mathjax"
    stamp = dest / ".version"
    try:
        if stamp.is_file() and stamp.read_text().strip() == version:
            return MATHJAX_URL
        dest.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=".mathjax-", dir=dest.parent))
        shutil.copytree(src, staging, dirs_exist_ok=True)
        (staging / ".version").write_text(version)
        shutil.rmtree(dest, ignore_errors=True)
        os.replace(staging, dest)
    except OSError:
        if not stamp.is_file():
            return ""
    return MATHJAX_URL


class CourseFeedback(Preprocessor):
    """The page in the course's terms, without the grading machine's paths.

    Runs after nbgrader's ``GetGrades``. Puts into ``resources["ds4023"]``: ``grade``, the
    submission's grade as :func:`ds4023.course_terms.course_grade` words it (core, optional,
    written, "awaiting grading" while a person has not scored every written answer);
    ``labels``, grade_id -> the part's name in the README's table; ``pending``, the grade_ids
    nobody has graded yet. Replaces the grader's paths in every output
    (:func:`hide_grader_paths`) and points ``mathjax_url`` at a local MathJax
    (:func:`install_mathjax`), or at nothing.
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
        resources["mathjax_url"] = install_mathjax(course["root"] / course["feedback"])
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
            "labels": {gid: part.label for gid, part in table.items()},
            "pending": pending,
        }
        return nb, resources


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
                    tqdm.write(f"feedback: no page for {student}/{nb_name}: {err}", sys.stderr)
                    continue
            atomic_write_text(target, page)
            memo[memo_key] = key
            atomic_write_text(memo_path, json.dumps(memo, indent=1, sort_keys=True))
            written.append(target)
        exchange.prepare_release_feedback(coursedir, student, assignment)
    return written


def main(argv: list[str] | None = None) -> int:
    """Command line: ``python -m ds4023.feedback [--assignment A] [--course DIR] [--force]``."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--course", type=Path, default=COURSE_ROOT, help="course directory")
    parser.add_argument("--assignment", default="backprop", help="assignment name")
    parser.add_argument("--force", action="store_true", help="rebuild every page")
    args = parser.parse_args(argv)
    gradebook_io.ensure_alembic_on_path()
    try:
        pages = generate_feedback(args.course, args.assignment, args.force)
    except (GradingError, gradebook_io.GradebookError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except SQLAlchemyError as err:
        print(f"error: {gradebook_io.database_problem(err)}", file=sys.stderr)
        return 2
    print(f"wrote {len(pages)} feedback page(s) under {args.course / 'feedback'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
