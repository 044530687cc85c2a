"""The whole sample class graded once per test session, as `make autograde` grades it."""

from __future__ import annotations

import subprocess
import sys

from ds4023 import release
from ds4023.sample_class import students as sample_class
from tests.helpers import copy_course

_CACHE: dict[str, tuple] = {}


def graded_sample_class(factory):
    """A course copy whose generated sample class went through the batch grader's CLI.

    Built once per session (about ten minutes on 2 cores) and shared by every test module that
    asks for it; tests must not modify it.

    Args:
        factory: pytest's ``tmp_path_factory``.

    Returns:
        ``(course folder, completed grading process)``.
    """
    if "graded" not in _CACHE:
        course = copy_course(factory.mktemp("sample-class") / "course")
        for assignment in release.assignments(course):
            release.generate_release(assignment, course)
        sample_class.generate(course / "submitted", course)
        env = release.nbgrader_env()
        env.pop("DS4023_DB_URL", None)  # grade into the copy's own gradebook
        proc = subprocess.run(
            [
                sys.executable,
                "-m",
                "ds4023.cli",
                "grade",
                "--course",
                str(course),
                "--workers",
                "2",
            ],
            capture_output=True,
            text=True,
            env=env,
            timeout=1800,
        )
        _CACHE["graded"] = (course, proc)
    return _CACHE["graded"]
