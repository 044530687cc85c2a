"""Tests for the settings: declared once with type and default, read once, one-line errors."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from ds4023 import settings
from ds4023.settings import SETTINGS, SettingError, find_course_root, read, require_course
from tests.helpers import COURSE_ROOT


def test_every_setting_is_a_typed_ds4023_variable_with_help():
    """Is each setting named DS4023_*, declared once, typed, with a default of its type?"""
    names = [s.name for s in SETTINGS]
    assert len(names) == len(set(names)) and set(names) == set(settings.BY_NAME)
    for s in SETTINGS:
        assert re.fullmatch(r"DS4023_[A-Z0-9_]+", s.name), s.name
        assert s.type in (str, int, float, Path), s.name
        assert s.default is None or isinstance(s.default, s.type), s.name
        assert s.help.strip() and "\n" not in s.help and "|" not in s.help, s.name


@pytest.mark.parametrize(
    "name, raw, value",
    [
        ("DS4023_CELL_TIMEOUT", "20", 20),
        ("DS4023_SUBMISSION_TIMEOUT", "1.5", 1.5),
        ("DS4023_MAX_SUBMISSION_MB", "3", 3.0),
        ("DS4023_COURSE", "/srv/course", Path("/srv/course")),
        ("DS4023_GRADING_ENGINE", "local", "local"),
    ],
)
def test_values_are_converted_to_their_type(name, raw, value):
    """Does a set variable come back as its declared type?"""
    got = read(name, {name: raw})
    assert got == value and type(got) is type(value)


@pytest.mark.parametrize("environ", [{}, {"DS4023_CELL_TIMEOUT": ""}])
def test_unset_or_empty_gives_the_default(environ):
    """Does an unset or empty variable give the declared default?"""
    assert read("DS4023_CELL_TIMEOUT", environ) == 180
    assert read("DS4023_SUBMISSION_TIMEOUT", environ) == 900.0
    assert read("DS4023_GRADING_ENGINE", environ) == "dask"
    assert read("DS4023_DB_URL", environ) is None


@pytest.mark.parametrize(
    "name, raw",
    [
        ("DS4023_CELL_TIMEOUT", "3 minutes"),
        ("DS4023_CELL_TIMEOUT", "1.5"),
        ("DS4023_DASK_WORKER_WAIT", "x"),
    ],
)
def test_a_bad_value_is_one_line_naming_variable_value_and_fix(name, raw):
    """Does a value of the wrong type raise one SettingError line saying what to do?"""
    with pytest.raises(SettingError) as err:
        read(name, {name: raw})
    text = str(err.value)
    assert "\n" not in text
    assert f"{name}={raw!r}" in text and "unset it" in text
    assert str(settings.BY_NAME[name].default) in text
    assert isinstance(err.value, ValueError)  # callers that catch ValueError still do


def test_an_undeclared_name_is_a_key_error():
    """Is reading a name that is not in SETTINGS a programming error, not a silent None?"""
    with pytest.raises(KeyError):
        read("DS4023_NOT_A_SETTING", {})


def test_read_uses_the_process_environment_by_default(monkeypatch):
    """Does read() without an environ look at os.environ now (nbgrader_config.py relies on it)?"""
    monkeypatch.setenv("DS4023_CELL_TIMEOUT", "7")
    assert read("DS4023_CELL_TIMEOUT") == 7
    monkeypatch.setenv("DS4023_CELL_TIMEOUT", "8")
    assert read("DS4023_CELL_TIMEOUT") == 8


def test_current_is_read_once(monkeypatch):
    """Are the values frozen after the first current(), so a run cannot change its mind?"""
    settings.current.cache_clear()
    try:
        monkeypatch.setenv("DS4023_CELL_TIMEOUT", "11")
        assert settings.get("DS4023_CELL_TIMEOUT") == 11
        monkeypatch.setenv("DS4023_CELL_TIMEOUT", "12")
        assert settings.get("DS4023_CELL_TIMEOUT") == 11
        assert set(settings.current()) == set(settings.BY_NAME)
    finally:
        settings.current.cache_clear()


def test_course_root_is_found_upwards_from_a_nested_folder(tmp_path, monkeypatch):
    """Is the course the nearest folder upwards holding nbgrader_config.py?"""
    monkeypatch.delenv("DS4023_COURSE", raising=False)
    course = tmp_path / "course"
    nested = course / "submitted" / "s1" / "a1"
    nested.mkdir(parents=True)
    (course / "nbgrader_config.py").write_text("")
    assert find_course_root(nested) == course.resolve()
    assert find_course_root(course) == course.resolve()
    monkeypatch.chdir(nested)
    assert find_course_root() == course.resolve()


def test_without_a_course_the_start_folder_comes_back(tmp_path, monkeypatch):
    """Does a folder with no course above it come back as itself (require_course then says so)?"""
    monkeypatch.delenv("DS4023_COURSE", raising=False)
    if any((p / "nbgrader_config.py").is_file() for p in tmp_path.parents):
        pytest.skip("a folder above tmp_path holds an nbgrader_config.py")
    assert find_course_root(tmp_path) == tmp_path.resolve()


def test_ds4023_course_wins_over_the_working_directory(tmp_path, monkeypatch):
    """Does DS4023_COURSE name the course even when started inside another course?"""
    other, named = tmp_path / "other", tmp_path / "named"
    for folder in (other, named):
        folder.mkdir()
        (folder / "nbgrader_config.py").write_text("")
    monkeypatch.setenv("DS4023_COURSE", str(named))
    assert find_course_root(other) == named.resolve()


def test_the_package_does_not_find_its_course_from_its_own_path(tmp_path, monkeypatch):
    """Is the course root independent of where the package is installed?"""
    monkeypatch.delenv("DS4023_COURSE", raising=False)
    (tmp_path / "nbgrader_config.py").write_text("")
    assert find_course_root(tmp_path) != COURSE_ROOT


def test_require_course_accepts_a_course_and_refuses_other_folders_in_one_line(tmp_path):
    """Is a folder without nbgrader_config.py refused with one line saying how to fix it?"""
    with pytest.raises(SettingError) as err:
        require_course(tmp_path)
    text = str(err.value)
    assert "\n" not in text and str(tmp_path) in text
    assert "nbgrader_config.py" in text and "DS4023_COURSE" in text
    (tmp_path / "nbgrader_config.py").write_text("")
    assert require_course(tmp_path) == tmp_path


def test_the_readme_settings_table_lists_every_setting():
    """Does the README's Settings table have a row for every setting the package reads?"""
    readme = (COURSE_ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("\n## Settings\n", 1)[1].split("\n## ", 1)[0]
    rows = set(re.findall(r"^\| `(DS4023_[A-Z0-9_]+)`", section, re.M))
    missing = [s.name for s in SETTINGS if s.name not in rows]
    assert not missing, f"add these to README.md's Settings table: {missing}"


def test_table_has_one_row_per_setting():
    """Is settings.table() a Markdown table with a row per setting and its default?"""
    lines = settings.table().splitlines()
    assert lines[:2] == ["| variable | default | what for |", "| --- | --- | --- |"]
    assert len(lines) == 2 + len(SETTINGS)
    assert "| `DS4023_CELL_TIMEOUT` | `180` |" in settings.table()
    assert "| `DS4023_DB_URL` | — |" in settings.table()


def test_settings_main_prints_every_setting(capsys):
    """Does ``ds4023 settings`` print one line per setting with its help?"""
    assert settings.main([]) == 0
    out = capsys.readouterr().out.splitlines()
    assert [line.split("=", 1)[0] for line in out] == [s.name for s in SETTINGS]
    assert all(s.help in line for s, line in zip(SETTINGS, out, strict=True))
