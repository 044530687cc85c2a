"""The course directory as grading sees it: configuration, submissions, autograded folders."""

from __future__ import annotations

import fnmatch
import hashlib
import os
import stat
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import nbformat
from nbgrader.coursedir import CourseDirectory
from nbgrader.utils import find_all_files
from sqlalchemy import create_engine
from sqlalchemy.exc import SQLAlchemyError
from traitlets.config import Config, PyFileConfigLoader

from ds4023 import settings
from ds4023.files import replace_folder
from ds4023.grading import gradebook as gradebook_io
from ds4023.grading.state import digest_files
from ds4023.grading.task import GradeResult, SubmissionFiles

#: Largest submission the grader reads (notebooks plus extra files, data files excluded), in MB.
T = TypeVar("T")

DEFAULT_MAX_SUBMISSION_MB = settings.get("DS4023_MAX_SUBMISSION_MB")
#: Largest ``timestamp.txt`` read (a real one is about 30 bytes).
MAX_TIMESTAMP_BYTES = 1024


def run_or_explain(action: Callable[[], T], also: tuple[type[Exception], ...] = ()) -> T | None:
    """Run ``action``; when the course or its gradebook is unusable, say why in one line.

    Args:
        action: what to do, e.g. ``lambda: write_report(course, assignment)``.
        also: more exceptions whose message is the one line (e.g. a bad roster).

    Returns:
        What ``action`` returned, or None after printing ``error: ...`` to stderr.
    """
    gradebook_io.ensure_alembic_on_path()
    try:
        return action()
    except (GradingError, gradebook_io.GradebookError, *also) as err:
        problem = str(err)
    except SQLAlchemyError as err:
        problem = gradebook_io.database_problem(err)
    print(f"error: {problem}", file=sys.stderr)
    return None


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
    except settings.SettingError as err:  # a DS4023_* variable, not the file, is to fix
        raise GradingError(str(err)) from None
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
        listed = folder.is_dir() or folder.is_symlink()  # a symlink is listed, then refused
        if listed and not s.startswith(".") and not a.startswith("."):
            if (assignment in (None, a)) and (student in (None, s)):
                found.setdefault(a, []).append(s)
    return found


#: Configuration sections that only say where things are or how results are delivered
#: (course paths, the exchange, feedback pages): they cannot change a grade, so they are
#: neither sent to workers nor part of the grading fingerprint (setting DS4023_EXCHANGE
#: must not regrade the class).
DELIVERY_SECTIONS = frozenset(
    {
        "CourseDirectory",
        "GenerateFeedback",
        "GenerateFeedbackApp",
        "HTMLExporter",
        "SafeFeedbackExporter",
        "CourseFeedback",
        "HideHiddenTests",
        "ReleaseFeedbackApp",
        "FetchFeedbackApp",
        "ZipCollectApp",
        "ExportApp",
    }
)


def is_delivery_section(name: str) -> bool:
    """Tell whether a configuration section cannot change a grade (:data:`DELIVERY_SECTIONS`,
    and nbgrader's exchange: ``Exchange``, ``ExchangeFactory``, ``Exchange...`` plugins)."""
    return name in DELIVERY_SECTIONS or name.startswith("Exchange")


def grading_config(cfg: Config) -> dict:
    """The nbgrader settings a worker needs, as plain nested dicts.

    Args:
        cfg: the course configuration.

    Returns:
        Every configuration section that can change a grade (:func:`is_delivery_section`).
    """

    def plain(value):
        return {k: plain(v) for k, v in value.items()} if isinstance(value, dict) else value

    return {k: plain(v) for k, v in cfg.items() if not is_delivery_section(k)}


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


class SubmissionRefused(Exception):
    """A submission the grader will not read: it becomes a recorded zero with :attr:`reason`.

    Attributes:
        reason: what is wrong and what to do, starting with ``refused:``.
        digest: a hash of what was seen (names, kinds, sizes, times, link targets and the
            limit; nothing is read), recorded so the unchanged submission is not looked at
            again and a fixed one is graded.
    """

    def __init__(self, reason: str, digest: str):
        super().__init__(reason)
        self.reason, self.digest = reason, digest


def _ignored(name: str, ignore: list) -> bool:
    """nbgrader's ``is_ignored`` on a base name, without touching the file system."""
    hidden_ok = name.startswith(".")
    return any(
        fnmatch.fnmatchcase(name, glob) and (not hidden_ok or glob.startswith("."))
        for glob in ignore
    )


_HAND_IN = "hand in the files themselves, not links"


def _mb(size: int) -> str:
    return f"{size / 1e6:.1f} MB"


def scan_submission(folder: Path, support: dict, ignore: list, max_bytes: int) -> dict[str, int]:
    """Look at a submitted folder with ``lstat`` only and refuse what the grader must not read.

    Refused: a submission folder (or its student folder) that is a symbolic link; any
    symbolic link or special file (FIFO, device, socket) inside it; files that would be read
    adding up to more than ``max_bytes``. Nothing is followed or opened. Files nbgrader
    ignores and files at the path of a support (data) file are never read, so they are
    neither refused nor counted.

    Args:
        folder: ``submitted/<student>/<assignment>``.
        support: the assignment's support files (relative path -> bytes).
        ignore: nbgrader's ignore globs.
        max_bytes: the size limit of the files that are read.

    Returns:
        relative path -> size of every file to read.

    Raises:
        SubmissionRefused: the reason, and a digest of what was seen.
    """
    folder = Path(folder)
    seen: list[str] = [f"limit {max_bytes}"]
    files: dict[str, int] = {}
    problems: list[str] = []

    def digest() -> str:
        return "refused-" + hashlib.sha256("\n".join(seen).encode()).hexdigest()

    for top, what in ((folder.parent, "student folder"), (folder, "submission folder")):
        st = os.lstat(top)
        if stat.S_ISLNK(st.st_mode):
            seen.append(f"{what} link {os.readlink(top)} {st.st_mtime_ns}")
            problems.append(
                f"refused: the {what} {top.name} is a symbolic link; hand in the files themselves"
            )
    if problems:
        raise SubmissionRefused(problems[0], digest())
    pending = [""]
    while pending:
        rel_dir = pending.pop()
        with os.scandir(folder / rel_dir) as entries:
            for entry in sorted(entries, key=lambda e: e.name):
                rel = os.path.join(rel_dir, entry.name) if rel_dir else entry.name
                if _ignored(entry.name, ignore):
                    continue
                st = entry.stat(follow_symlinks=False)
                mode = st.st_mode
                if stat.S_ISLNK(mode):
                    seen.append(f"{rel} link {os.readlink(entry.path)} {st.st_mtime_ns}")
                    if rel not in support:
                        problems.append(f"refused: {rel} is a symbolic link; {_HAND_IN}")
                elif stat.S_ISDIR(mode):
                    pending.append(rel)
                elif not stat.S_ISREG(mode):
                    seen.append(f"{rel} special {mode:o}")
                    problems.append(f"refused: {rel} is not a regular file; hand in files only")
                elif rel not in support:
                    seen.append(f"{rel} {st.st_size} {st.st_mtime_ns}")
                    files[rel] = st.st_size
    if problems:
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        raise SubmissionRefused(problems[0] + more, digest())
    total = sum(files.values())
    if total > max_bytes:
        big = max(files, key=files.get)
        raise SubmissionRefused(
            f"refused: the submission holds {_mb(total)}, more than the {_mb(max_bytes)} "
            f"limit (largest: {big}, {_mb(files[big])}); hand in only the notebook and the "
            "files it needs",
            digest(),
        )
    return files


def _read_regular(path: Path, size: int) -> bytes:
    """Read a file seen by ``lstat`` as regular, without following a link put there since."""
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | getattr(os, "O_NONBLOCK", 0))
    with os.fdopen(fd, "rb") as fh:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise OSError(f"{path.name} changed while it was read")
        data = fh.read(size + 1)
    if len(data) != size:
        raise OSError(f"{path.name} changed while it was read")
    return data


def read_submission(
    folder: Path,
    student: str,
    support: dict,
    ignore: list,
    max_bytes: int = int(DEFAULT_MAX_SUBMISSION_MB * 1e6),
) -> SubmissionFiles:
    """Read the files of one submitted folder that can change its grade.

    Files the source overwrites anyway (data files) are left out of the task and its hash.
    :func:`scan_submission` looks first, so a refused submission is never read.

    Args:
        folder: ``submitted/<student>/<assignment>``.
        student: the student id.
        support: the assignment's support files (relative path -> bytes).
        ignore: nbgrader's ignore globs.
        max_bytes: the size limit of the files read (``DS4023_MAX_SUBMISSION_MB``).

    Returns:
        The submission, with its digest.

    Raises:
        SubmissionRefused: a symbolic link, a special file, too many bytes, or a file that
            changed between the look and the read.
    """
    sizes = scan_submission(folder, support, ignore, max_bytes)
    files = {}
    for rel, size in sizes.items():
        try:
            files[rel] = _read_regular(Path(folder) / rel, size)
        except OSError as err:
            raise SubmissionRefused(
                f"refused: {rel} changed while it was read ({err.strerror or err}); "
                "hand in the submission again",
                "changed-while-read",
            ) from None
    return SubmissionFiles(student, files, digest_files(files))


def submission_timestamp(coursedir: CourseDirectory, folder: Path):
    """The time in a submission's ``timestamp.txt`` (None if absent or unreadable).

    Args:
        coursedir: the course directory.
        folder: the submitted folder.

    Returns:
        A datetime, or None; nbgrader itself fails a student whose timestamp is unreadable.
    """
    path = Path(folder) / "timestamp.txt"
    try:  # never through a symbolic link, never a huge file (the folder may be refused)
        if Path(folder).is_symlink() or Path(folder).parent.is_symlink():
            return None
        st = os.lstat(path)
        if not stat.S_ISREG(st.st_mode) or st.st_size > MAX_TIMESTAMP_BYTES:
            return None
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
    mode = 0o664 if coursedir.groupshared else 0o444
    contents = {**support, **result.files, **{f"{n}.ipynb": b for n, b in result.notebooks.items()}}
    replace_folder(dest, contents, file_mode=mode)
    return dest
