"""The whole sample class graded once per test session, as `make autograde` grades it."""

from __future__ import annotations

import csv
import json
import os
import platform
import subprocess
import sys
from pathlib import Path

from ds4023 import release
from ds4023.grading import gradebook as gradebook_io
from ds4023.grading.recorder import SECRET
from ds4023.sample_class import students as sample_class
from tests.helpers import copy_course

_CACHE: dict[str, tuple] = {}
#: A folder the session's sample-class grades are written to (``.ci/run`` sets it, outside
#: the clone), so that a run on another Python can compare its own with them.
SAVE_TO = "DS4023_SAMPLE_GRADES"
#: The folder of another run's grades (written through ``SAVE_TO``) to compare with.
REFERENCE = "DS4023_SAMPLE_GRADES_REFERENCE"
#: The file in such a folder naming the Python that graded.
PYTHON_FILE = "python.txt"


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
        # one grading secret for every run: the same submissions get the same hidden inputs,
        # so runs on different Pythons can be compared message by message
        (course / SECRET).parent.mkdir(parents=True, exist_ok=True)
        (course / SECRET).write_bytes(b"ds4023 sample class, the same on every Python run")
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
        if os.environ.get(SAVE_TO) and proc.returncode == 0:
            save_grades(course, Path(os.environ[SAVE_TO]))
    return _CACHE["graded"]


def grade_files(course: Path) -> dict[str, str]:
    """What a grading run decided, as text: file name -> contents.

    Per assignment, the grades CSV of ``reports/`` and the gradebook's table (every part's
    automatic, manual and total score, its flag for manual grading, the automatic comments,
    the late penalty) as sorted JSON, floats written exactly.
    """
    files = {}
    db_url = f"sqlite:///{course / 'gradebook.db'}"
    for assignment in sorted(sample_class.ASSIGNMENT_TABLES):
        csv_name = f"{assignment}_grades.csv"
        files[csv_name] = (course / "reports" / csv_name).read_text(encoding="utf-8")
        table = gradebook_io.grade_table(db_url, "ds4023", assignment)
        files[f"{assignment}_gradebook.json"] = json.dumps(table, indent=1, sort_keys=True)
    return files


def save_grades(course: Path, folder: Path) -> None:
    """Write :func:`grade_files` of ``course`` and the grading Python's version to ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in grade_files(course).items():
        (folder / name).write_text(text, encoding="utf-8")
    (folder / PYTHON_FILE).write_text(f"{platform.python_version()} {sys.executable}\n")


def differences(reference: dict[str, str], here: dict[str, str]) -> list[str]:
    """Every cell of the grades CSVs and every value of the gradebook tables that differs.

    Args:
        reference: :func:`grade_files` of one run (read back from its folder).
        here: :func:`grade_files` of another.

    Returns:
        One line per difference (file, student, column or part, both values); empty when the
        two runs graded every student identically.
    """
    wrong = [
        f"{name}: missing from the reference run" for name in sorted(set(here) - set(reference))
    ]
    wrong += [f"{name}: missing from this run" for name in sorted(set(reference) - set(here))]
    for name in sorted(set(reference) & set(here)):
        if name.endswith(".csv"):
            wrong += _csv_differences(name, reference[name], here[name])
        else:
            wrong += _table_differences(name, json.loads(reference[name]), json.loads(here[name]))
    return wrong


def _csv_differences(name: str, reference: str, here: str) -> list[str]:
    ref_rows, rows = (list(csv.reader(text.splitlines())) for text in (reference, here))
    if not ref_rows or not rows or ref_rows[0] != rows[0]:
        return [f"{name}: header {rows[:1]} instead of {ref_rows[:1]}"]
    header = ref_rows[0]
    ref_by, by = ({r[0]: r for r in table[1:]} for table in (ref_rows, rows))
    wrong = [f"{name}: rows {sorted(set(by) ^ set(ref_by))} in one run only"] * (
        set(by) != set(ref_by)
    )
    for student in sorted(set(by) & set(ref_by)):
        ref_row, row = ref_by[student], by[student]
        if len(row) != len(ref_row):
            wrong.append(f"{name}: {student}: {len(row)} cells instead of {len(ref_row)}")
            continue
        for column, want, got in zip(header, ref_row, row, strict=True):
            if got != want:
                wrong.append(f"{name}: {student}/{column}: {got!r} instead of {want!r}")
    return wrong


def _table_differences(name: str, reference: dict, here: dict) -> list[str]:
    wrong = [f"{name}: students {sorted(set(here) ^ set(reference))} in one run only"] * (
        set(here) != set(reference)
    )
    for student in sorted(set(here) & set(reference)):
        ref_entry, entry = reference[student], here[student]
        for key in sorted(set(ref_entry) | set(entry)):
            if key != "parts" and entry.get(key) != ref_entry.get(key):
                wrong.append(
                    f"{name}: {student}/{key}: {entry.get(key)!r} instead of {ref_entry.get(key)!r}"
                )
        ref_parts, parts = ref_entry.get("parts", {}), entry.get("parts", {})
        for part in sorted(set(ref_parts) | set(parts)):
            if parts.get(part) != ref_parts.get(part):
                wrong.append(
                    f"{name}: {student}/{part}: {parts.get(part)} instead of {ref_parts.get(part)}"
                )
    return wrong
