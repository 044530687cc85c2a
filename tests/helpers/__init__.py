"""Helpers shared by the tests: course copies in tmp_path and the repository's location."""

from __future__ import annotations

import shutil
from pathlib import Path

#: The repository under test (the tests live inside it).
COURSE_ROOT = Path(__file__).resolve().parents[2]

#: What a course copy needs; everything else (the venv, git, grading products) stays behind.
COURSE_FILES = ("nbgrader_config.py", "source", "release")


def copy_course(dest: Path, with_data: bool = True) -> Path:
    """Copy the course's config, source and release (and built data) into ``dest``."""
    dest.mkdir(parents=True, exist_ok=True)
    for name in COURSE_FILES:
        src = COURSE_ROOT / name
        if src.is_dir():
            shutil.copytree(src, dest / name, ignore=shutil.ignore_patterns("*.mat"))
        else:
            shutil.copy2(src, dest / name)
    (dest / "data").mkdir(exist_ok=True)
    if with_data:
        for mat in (COURSE_ROOT / "data").glob("*.mat"):
            shutil.copy2(mat, dest / "data" / mat.name)
    return dest
