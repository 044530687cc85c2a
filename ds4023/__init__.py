"""Course code for DS4023's backpropagation exercise: data, grading helpers and reports."""

from pathlib import Path

#: The course directory: the repository root, one level above this package.
COURSE_ROOT = Path(__file__).resolve().parent.parent
