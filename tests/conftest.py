"""Shared fixtures: temporary copies of the course directory, so no test writes into the repo."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from ds4023 import COURSE_ROOT

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


@pytest.fixture
def course_copy(tmp_path: Path) -> Path:
    """A fresh copy of the course with its built data, in tmp_path."""
    return copy_course(tmp_path / "course")


@pytest.fixture
def course_without_data(tmp_path: Path) -> Path:
    """A fresh copy of the course whose data has not been built yet."""
    return copy_course(tmp_path / "course", with_data=False)
