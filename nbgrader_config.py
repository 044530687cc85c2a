"""nbgrader configuration for the DS4023 course directory (this repository)."""

from pathlib import Path

from nbconvert.preprocessors import CSSHTMLHeaderPreprocessor
from nbgrader.preprocessors import GetGrades

from ds4023 import settings
from ds4023.collect.release_feedback import CourseReleaseFeedback
from ds4023.feedback.course_feedback import CourseFeedback
from ds4023.feedback.folders import prune_after_feedback
from ds4023.feedback.hide_hidden_tests import HideHiddenTests
from ds4023.feedback.sanitise import SafeFeedbackExporter
from ds4023.grading.late import configure_late_penalty

c = get_config()  # noqa: F821  (injected by traitlets when nbgrader loads this file)

HERE = Path(__file__).resolve().parent

# The course id appears in the gradebook and in exported grades.
c.CourseDirectory.course_id = "ds4023"

# Each assignment's reference.py (the reference solution and the judgement of its hidden
# tests) is for the grader alone: nbgrader must never copy it into the release.
c.CourseDirectory.ignore = [
    ".ipynb_checkpoints",
    "*.pyc",
    "__pycache__",
    "feedback",
    "reference.py",
]

# Resolve paths against the repository, not the shell's working directory, so every
# nbgrader command and the JupyterLab extensions see the same course wherever they start.
c.CourseDirectory.root = str(HERE)

# SQLite in the repository (gitignored) for one instructor; set DS4023_DB_URL to a
# postgresql:// URL when several graders share the gradebook (docs/grading.md).
DB_URL = settings.read("DS4023_DB_URL") or f"sqlite:///{HERE / 'gradebook.db'}"
# SQLAlchemy 2.1 maps a bare postgresql:// to the psycopg 3 driver; the pinned one is psycopg2.
if DB_URL.startswith("postgresql://"):
    DB_URL = "postgresql+psycopg2://" + DB_URL[len("postgresql://") :]
c.CourseDirectory.db_url = DB_URL

# nbgrader's exchange (release_assignment, collect, release_feedback; students' fetch and submit
# read the same root from their own config): DS4023_EXCHANGE, else nbgrader's default
# /usr/local/share/nbgrader/exchange. `ds4023 exchange init` creates it.
if settings.read("DS4023_EXCHANGE"):
    c.Exchange.root = str(settings.read("DS4023_EXCHANGE"))
# nbgrader's release_feedback (also the formgrader's "Release Feedback" buttons) leaves out, with
# a warning, students who handed in through an LMS instead of stopping at the first of them.
c.ExchangeFactory.release_feedback = CourseReleaseFeedback

# Late work (due dates live in the gradebook: `nbgrader db assignment add A --duedate=...`):
# DS4023_LATE_PENALTY = none (default), zero (nbgrader's LateSubmissionPlugin), N% or N%/h.
configure_late_penalty(c, settings.read("DS4023_LATE_PENALTY"))

# nbgrader's default of 30 s per cell is too short for the TNC training cell (about a
# minute with a plain loop), yet an infinite loop must still be cut off.
c.Execute.timeout = settings.read("DS4023_CELL_TIMEOUT")

# nbgrader's own feedback (the formgrader's "Generate Feedback" button, `nbgrader
# generate_feedback`) would print the hidden tests (nbgrader issue #1363): hide them first,
# exactly as `python -m ds4023.feedback.pages` does.
c.GenerateFeedback.preprocessors = [
    HideHiddenTests,
    GetGrades,
    CourseFeedback,  # grade in the course's terms, no grader paths, MathJax inside the page
    CSSHTMLHeaderPreprocessor,
]

# ... and must not run anything a student wrote: HTML/JavaScript in outputs, written answers and
# markdown is sanitised after every preprocessor, in the exporter (ds4023/feedback_safety.py).
c.GenerateFeedback.exporter_class = SafeFeedbackExporter

# ... and leaves in feedback/<student>/<assignment>/ only the pages and the two files
# release_feedback reads, not the data file and checking modules it copied from autograded/.
c.GenerateFeedback.post_convert_hook = prune_after_feedback
