"""Tests for ds4023.grading.course: reading a course directory, and its errors in one line."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from ds4023.grading.course import GradingError, find_submissions, load_course


@pytest.fixture
def course(course_without_data, monkeypatch):
    """A course with the repository's config, one submission, and no DS4023_DB_URL set."""
    monkeypatch.delenv("DS4023_DB_URL", raising=False)
    root = course_without_data
    folder = root / "submitted" / "alice" / "backprop"
    folder.mkdir(parents=True)
    (folder / "backprop.ipynb").write_bytes((root / "release/backprop/backprop.ipynb").read_bytes())
    return root


def test_config_is_read_with_the_course_as_root(course):
    """Does load_course root the course where it is, with its own SQLite gradebook?"""
    cfg, coursedir = load_course(course)
    assert coursedir.root == str(course.resolve())
    assert coursedir.course_id == "ds4023"
    assert coursedir.db_url == f"sqlite:///{course.resolve() / 'gradebook.db'}"
    assert find_submissions(coursedir) == {"backprop": ["alice"]}
    assert find_submissions(coursedir, student="bob") == {}


def test_missing_config_is_one_clear_error(tmp_path):
    """Is a folder without nbgrader_config.py refused with a hint to pass the course?"""
    with pytest.raises(GradingError, match="has no nbgrader_config.py: pass the course"):
        load_course(tmp_path)


def test_config_that_fails_to_run_is_one_clear_error(course):
    """Does a config with a bug name the file and the error instead of a traceback?"""
    with (course / "nbgrader_config.py").open("a") as f:
        f.write("\nc.CourseDirectory.course_id = undefined_name\n")
    with pytest.raises(GradingError, match=r"fails to run \(NameError: name 'undefined_name'"):
        load_course(course)


@pytest.mark.parametrize(
    ("url", "driver"), [("mysql://u@localhost/db", "MySQLdb"), ("oracle://u@h/db", "oracledb")]
)
def test_uninstalled_database_driver_is_one_clear_error(course, monkeypatch, url, driver):
    """Is a gradebook URL whose driver is not installed refused, naming the driver?"""
    monkeypatch.setenv("DS4023_DB_URL", url)
    with pytest.raises(GradingError, match=f"driver '{driver}', which is not installed"):
        load_course(course)


def test_cli_refuses_an_uninstalled_driver_and_writes_nothing(course):
    """Does `batch_grade` exit 2 with one error line and leave the course untouched?"""
    before = sorted(p.relative_to(course) for p in course.rglob("*"))
    env = {**os.environ, "DS4023_DB_URL": "mysql://u@localhost/db"}
    cmd = [sys.executable, "-m", "ds4023.cli", "grade", "--course", str(course), "--quiet"]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: the gradebook URL needs"), done.stderr
    assert sorted(p.relative_to(course) for p in course.rglob("*")) == before
