"""Shared fixtures: temporary copies of the course directory, so no test writes into the repo."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers import copy_course


@pytest.fixture
def course_copy(tmp_path: Path) -> Path:
    """A fresh copy of the course with its built data, in tmp_path."""
    return copy_course(tmp_path / "course")


@pytest.fixture
def course_without_data(tmp_path: Path) -> Path:
    """A fresh copy of the course whose data has not been built yet."""
    return copy_course(tmp_path / "course", with_data=False)
