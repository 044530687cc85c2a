"""Canvas and Moodle bulk downloads of the sample class, built in code (never committed)."""

from __future__ import annotations

import csv
import io
import shutil
import stat
import zipfile
from pathlib import Path

from tests.helpers import COURSE_ROOT

ASSIGNMENT = "backprop"
NOTEBOOK = f"{ASSIGNMENT}.ipynb"


def roster_rows(students: list[str]) -> list[dict[str, str]]:
    """A roster for sample students: ``Correct Sample``, Canvas user ids from 1001."""
    return [
        {
            "id": s,
            "first_name": s.replace("_", " ").title().replace(" ", ""),
            "last_name": "Sample",
            "email": f"{s}@example.edu",
            "lms_user_id": str(1001 + i),
        }
        for i, s in enumerate(students)
    ]


def write_roster(course: Path, rows: list[dict[str, str]]) -> Path:
    """Write ``roster.csv`` in nbgrader's student import format."""
    buf = io.StringIO()
    writer = csv.DictWriter(buf, ["id", "first_name", "last_name", "email", "lms_user_id"])
    writer.writeheader()
    writer.writerows(rows)
    (course / "roster.csv").write_text(buf.getvalue(), encoding="utf-8")
    return course / "roster.csv"


def canvas_name(row: dict, attachment: int, original: str = NOTEBOOK, late=False) -> str:
    """Canvas's name for a submitted file: ``samplecorrect_[LATE_]1001_<attachment>_<name>``."""
    name = f"{row['last_name']}{row['first_name']}".lower()
    return f"{name}_{'LATE_' if late else ''}{row['lms_user_id']}_{attachment}_{original}"


def moodle_name(row: dict, participant: int, original: str = NOTEBOOK) -> str:
    """Moodle's path: ``Correct Sample_<participant>_assignsubmission_file_/<name>``."""
    return f"{row['first_name']} {row['last_name']}_{participant}_assignsubmission_file_/{original}"


def write_zip(path: Path, files: list[tuple[str, bytes]], links: dict[str, str] = ()) -> Path:
    """Write a zip of ``(entry name, bytes)``; ``links``: entry name -> symlink target."""
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in files:
            zf.writestr(name, data)
        for name, target in dict(links).items():
            info = zipfile.ZipInfo(name)
            info.external_attr = (stat.S_IFLNK | 0o777) << 16
            zf.writestr(info, target)
    return path


def course_with_release(dest: Path) -> Path:
    """A course folder with the config and ``release/backprop/`` (enough to collect into)."""
    dest.mkdir(parents=True, exist_ok=True)
    shutil.copy2(COURSE_ROOT / "nbgrader_config.py", dest / "nbgrader_config.py")
    shutil.copy2(COURSE_ROOT / "README.md", dest / "README.md")
    (dest / "release" / ASSIGNMENT).mkdir(parents=True)
    shutil.copy2(COURSE_ROOT / "release" / ASSIGNMENT / NOTEBOOK, dest / "release" / ASSIGNMENT)
    return dest
