"""The course directory as grading sees it: configuration, submissions, autograded folders."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import nbformat
from nbgrader.coursedir import CourseDirectory
from nbgrader.utils import find_all_files
from sqlalchemy import create_engine
from traitlets.config import Config, PyFileConfigLoader

from ds4023.grading_state import digest_files
from ds4023.grading_task import GradeResult, SubmissionFiles


class GradingError(RuntimeError):
    """The course cannot be graded as asked; the message says what to fix."""


def load_course(course_root: Path) -> tuple[Config, CourseDirectory]:
    """Read a course directory's ``nbgrader_config.py``.

    Args:
        course_root: the course directory.

    Returns:
        The configuration and nbgrader's view of the course directory.

    Raises:
        GradingError: there is no configuration file, it fails to run, or the gradebook URL
            names a database driver that is not installed.
    """
    course_root = Path(course_root).resolve()
    config_file = course_root / "nbgrader_config.py"
    if not config_file.is_file():
        raise GradingError(f"{course_root} has no nbgrader_config.py: pass the course directory")
    try:
        cfg = PyFileConfigLoader(config_file.name, path=str(course_root)).load_config()
    except Exception as err:  # any error of the file's own code: say which, in one line
        first = (str(err).strip().splitlines() or [""])[0][:200]
        raise GradingError(
            f"{config_file} fails to run ({type(err).__name__}: {first}): fix the file"
        ) from None
    cfg.CourseDirectory.root = str(course_root)
    coursedir = CourseDirectory(config=cfg)
    _check_driver(coursedir.db_url)
    return cfg, coursedir


def _check_driver(db_url: str) -> None:
    """Fail in one line when the gradebook URL needs a database driver that is not installed."""
    try:
        create_engine(db_url).dispose()  # imports the driver; does not connect
    except ModuleNotFoundError as err:
        raise GradingError(
            f"the gradebook URL needs the Python database driver {err.name!r}, which is not "
            "installed: use a sqlite:/// or postgresql:// URL (DS4023_DB_URL)"
        ) from None


def find_submissions(coursedir: CourseDirectory, assignment=None, student=None) -> dict:
    """List the submitted folders ``submitted/<student>/<assignment>/``.

    Args:
        coursedir: the course directory.
        assignment: only this assignment (None: all).
        student: only this student (None: all).

    Returns:
        assignment -> sorted list of student ids.
    """
    found: dict[str, list[str]] = {}
    root = Path(coursedir.root) / coursedir.submitted_directory
    for folder in sorted(root.glob("*/*")):
        s, a = folder.parent.name, folder.name
        if folder.is_dir() and not s.startswith(".") and not a.startswith("."):
            if (assignment in (None, a)) and (student in (None, s)):
                found.setdefault(a, []).append(s)
    return found


def grading_config(cfg: Config) -> dict:
    """The nbgrader settings a worker needs, as plain nested dicts (course paths left out).

    Args:
        cfg: the course configuration.

    Returns:
        Every configuration section except ``CourseDirectory``.
    """

    def plain(value):
        return {k: plain(v) for k, v in value.items()} if isinstance(value, dict) else value

    return {k: plain(v) for k, v in cfg.items() if k != "CourseDirectory"}


def support_files(cfg: Config, coursedir: CourseDirectory, assignment: str) -> dict:
    """Read the source files nbgrader copies over every submission (all but notebooks).

    Args:
        cfg: the course configuration (``Autograde.exclude_overwriting`` is honoured).
        coursedir: the course directory.
        assignment: the assignment name.

    Returns:
        relative path -> bytes.
    """
    source = Path(coursedir.format_path(coursedir.source_directory, ".", assignment))
    keep = set(cfg.Autograde.get("exclude_overwriting", {}).get(assignment, []))
    files = {}
    for name in find_all_files(str(source), coursedir.ignore + ["*.ipynb"]):
        rel = os.path.relpath(name, source)
        if rel not in keep:
            files[rel] = Path(name).read_bytes()
    return files


def cell_order(coursedir: CourseDirectory, assignment: str) -> dict[str, list[str]]:
    """The grade_ids of each notebook's nbgrader cells in the order students received them.

    The release is read (the source where there is none); the hardened OverwriteCells puts a
    deleted test cell back after the cell that preceded it there.

    Args:
        coursedir: the course directory.
        assignment: the assignment name.

    Returns:
        notebook name -> grade_ids in notebook order.
    """
    order: dict[str, list[str]] = {}
    for step in (coursedir.release_directory, coursedir.source_directory):
        folder = Path(coursedir.format_path(step, ".", assignment))
        for path in sorted(folder.glob("*.ipynb")):
            try:
                nb = nbformat.read(path, as_version=4)
            except Exception:  # unreadable: take the other copy, or none
                continue
            ids = [c.get("metadata", {}).get("nbgrader", {}).get("grade_id") for c in nb.cells]
            order.setdefault(path.stem, [i for i in ids if i])
    return order


def read_submission(folder: Path, student: str, support: dict, ignore: list) -> SubmissionFiles:
    """Read the files of one submitted folder that can change its grade.

    Files the source overwrites anyway (data files) are left out of the task and its hash.

    Args:
        folder: ``submitted/<student>/<assignment>``.
        student: the student id.
        support: the assignment's support files (relative path -> bytes).
        ignore: nbgrader's ignore globs.

    Returns:
        The submission, with its digest.
    """
    files = {}
    for name in find_all_files(str(folder), ignore):
        rel = os.path.relpath(name, folder)
        if rel not in support:
            files[rel] = Path(name).read_bytes()
    return SubmissionFiles(student, files, digest_files(files))


def submission_timestamp(coursedir: CourseDirectory, folder: Path):
    """The time in a submission's ``timestamp.txt`` (None if absent or unreadable).

    Args:
        coursedir: the course directory.
        folder: the submitted folder.

    Returns:
        A datetime, or None; nbgrader itself fails a student whose timestamp is unreadable.
    """
    try:
        return coursedir.get_existing_timestamp(str(folder))
    except Exception:
        return None


def write_autograded(coursedir: CourseDirectory, result: GradeResult, support: dict) -> Path:
    """Write ``autograded/<student>/<assignment>/`` from a result, replacing any old folder.

    Args:
        coursedir: the course directory.
        result: a graded result.
        support: the assignment's support files (copied as nbgrader does).

    Returns:
        The folder.
    """
    dest = Path(coursedir.format_path(coursedir.autograded_directory, result.student, ""))
    dest = dest / result.assignment
    tmp = dest.with_name(f".{dest.name}.partial")
    shutil.rmtree(tmp, ignore_errors=True)
    mode = 0o664 if coursedir.groupshared else 0o444
    contents = {**support, **result.files, **{f"{n}.ipynb": b for n, b in result.notebooks.items()}}
    for rel, data in contents.items():
        path = tmp / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        path.chmod(mode)
    shutil.rmtree(dest, ignore_errors=True)
    os.replace(tmp, dest)
    return dest
