"""nbgrader's exchange with this course's config: its root, and what release_feedback reads.

``release-feedback`` runs nbgrader's own ``release_feedback``, which this course configures
with :class:`ds4023.collect.release_feedback.CourseReleaseFeedback` (so the formgrader's button
and a plain ``nbgrader release_feedback`` leave out students who handed in through an LMS or
by hand instead of stopping at the first of them); the command names those students first,
one line each, and passes them to nbgrader's ``--CourseDirectory.student_id_exclude``.
"""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

from nbgrader.coursedir import CourseDirectory
from nbgrader.exchange import ExchangeError
from nbgrader.exchange.default import Exchange, ExchangeReleaseAssignment
from traitlets.config import Config

from ds4023 import command_line, settings
from ds4023.collect.release_feedback import RELEASE_FEEDBACK_FILES, missing_files
from ds4023.files import atomic_write_bytes
from ds4023.settings import COURSE_ROOT

#: Environment variable naming the exchange root (nbgrader's default when unset).
ROOT_VARIABLE = "DS4023_EXCHANGE"
#: nbgrader's own default exchange root.
DEFAULT_ROOT = Exchange.root.default_value
#: What nbgrader's ``release_assignment`` sets on the root (without ``groupshared``): rwx for all.
ROOT_MODE = 0o777
#: Largest such file copied (a secret is 128 characters, a timestamp about 30).
MAX_KEY_BYTES = 1024


def exchange_root(environ=None) -> str:
    """The exchange root this course uses: ``$DS4023_EXCHANGE``, else nbgrader's default."""
    return settings.read(ROOT_VARIABLE, environ) or DEFAULT_ROOT


def ensure_root(root: str | Path) -> Path:
    """Create the exchange root, or fix its mode, exactly as ``nbgrader release_assignment`` does.

    nbgrader's own ``ExchangeReleaseAssignment.ensure_root`` does the work: the root gets mode
    0777 (every student writes below it; each course's ``inbound`` is then 0733 + setgid, so
    students cannot list each other's submissions).

    Args:
        root: the exchange root.

    Returns:
        The root.

    Raises:
        ExchangeError: it cannot be created or its mode cannot be set (nbgrader's message).
    """
    cfg = Config()
    cfg.Exchange.root = str(root)
    release = ExchangeReleaseAssignment(coursedir=CourseDirectory(config=cfg), config=cfg)
    release.ensure_root()
    mode = stat.S_IMODE(os.stat(root).st_mode)
    if mode & 0o777 != ROOT_MODE:
        raise ExchangeError(f"{root} has mode {oct(mode)}; nbgrader needs {oct(ROOT_MODE)}")
    return Path(root)


def _read_small(path: Path) -> bytes | None:
    """A regular file's bytes, never through a symbolic link, None if absent or too big."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | getattr(os, "O_NONBLOCK", 0))
    except OSError:
        return None
    with os.fdopen(fd, "rb") as fh:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return None
        data = fh.read(MAX_KEY_BYTES + 1)
    return data if len(data) <= MAX_KEY_BYTES else None


def prepare_release_feedback(coursedir: CourseDirectory, student: str, assignment: str) -> list:
    """Make a student's feedback folder what ``nbgrader release_feedback`` needs.

    ``release_feedback`` opens ``timestamp.txt`` and ``submission_secret.txt`` in
    ``feedback/<student>/<assignment>/`` and copies each page into the exchange with its file
    mode. nbgrader's own ``generate_feedback`` copies every file of the autograded folder
    there and makes pages 0644 (0664 when ``groupshared``); the course's feedback writes only
    the pages, privately. So the two files are copied from the submitted folder ``nbgrader
    collect`` wrote (a submission handed in another way has none and is not released through
    the exchange), nothing through a symbolic link, and the pages get nbgrader's mode, or the
    student could not read the copy fetch_feedback makes.

    Args:
        coursedir: the course directory.
        student: the student id.
        assignment: the assignment name.

    Returns:
        The files written (none when they were already there and equal).
    """
    submitted = Path(coursedir.format_path(coursedir.submitted_directory, student, assignment))
    feedback = Path(coursedir.format_path(coursedir.feedback_directory, student, assignment))
    if not feedback.is_dir() or feedback.is_symlink():
        return []
    mode = 0o664 if coursedir.groupshared else 0o644
    for page in feedback.glob("*.html"):
        if not page.is_symlink() and stat.S_IMODE(page.stat().st_mode) != mode:
            page.chmod(mode)
    if submitted.is_symlink() or submitted.parent.is_symlink():
        return []
    written = []
    for name in RELEASE_FEEDBACK_FILES:
        data = _read_small(submitted / name)
        target = feedback / name
        if data is None or (_read_small(target) == data and not target.is_symlink()):
            continue
        atomic_write_bytes(target, data, mode)
        written.append(target)
    return written


def feedback_folders(course: Path, assignment: str) -> list[Path]:
    """The folders ``feedback/<student>/<assignment>/`` that hold a page, by student."""
    return sorted({p.parent for p in Path(course, "feedback").glob(f"*/{assignment}/*.html")})


def outside_exchange(folders: list[Path]) -> dict[str, list[str]]:
    """The students of ``folders`` whose page ``release_feedback`` cannot release.

    Args:
        folders: feedback folders, as :func:`feedback_folders` gives them.

    Returns:
        student -> the files of :data:`RELEASE_FEEDBACK_FILES` missing beside their page: they
        handed in outside the exchange (``nbgrader collect`` leaves both files).
    """
    missing = {}
    for folder in folders:
        absent = missing_files(str(folder))
        if absent:
            missing[folder.parent.name] = absent
    return missing


def release_feedback(course: Path, assignment: str) -> int:
    """``nbgrader release_feedback``, leaving out (and naming) students it cannot release.

    Args:
        course: the course directory (nbgrader reads its ``nbgrader_config.py``).
        assignment: the assignment name.

    Returns:
        0 when every page went out or was left out with a reason; nbgrader's status otherwise,
        or 1 when there is no page at all.
    """
    folders = feedback_folders(course, assignment)
    if not folders:
        print(
            f"error: no feedback pages for {assignment} in {course / 'feedback'}: grade first "
            f"(ds4023 grade --assignment {assignment})",
            file=sys.stderr,
        )
        return 1
    left_out = outside_exchange(folders)
    for student, absent in left_out.items():
        print(
            f"left out {student}: handed in outside the exchange (no {' or '.join(absent)} "
            "beside the page); give the page through the LMS (make export LMS=...)"
        )
    if len(left_out) == len(folders):
        return 0
    cmd = [sys.executable, "-m", "nbgrader", "release_feedback", assignment]
    if left_out:
        cmd.append(f"--CourseDirectory.student_id_exclude={','.join(left_out)}")
    proc = subprocess.run(cmd, cwd=course, capture_output=True, text=True)
    if proc.returncode != 0:
        print(proc.stdout + proc.stderr, file=sys.stderr, end="")
        return proc.returncode
    released = len(folders) - len(left_out)
    whom = f"{released} student" + ("" if released == 1 else "s")
    print(f"released {assignment} feedback for {whom} to the exchange at {exchange_root()}")
    return 0


def main(argv: list[str] | None = None) -> int:
    """Command line: ``ds4023 exchange init [--root DIR]`` or ``release-feedback ASSIGNMENT``.

    ``init`` creates the exchange root (``$DS4023_EXCHANGE``, else nbgrader's default) with the
    mode nbgrader expects, or fixes the mode of an existing one, and prints it.
    ``release-feedback`` puts the feedback pages into the exchange for students to fetch (see
    the module docstring).
    """
    parser = command_line.parser(
        "exchange",
        "nbgrader's exchange, the shared folder students fetch from and submit to: create its "
        "root (init), or put the feedback pages there for students to fetch (release-feedback).",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="{init,release-feedback}")
    init = sub.add_parser(
        "init",
        help="create the exchange root with nbgrader's permissions",
        description="Create nbgrader's exchange root (mode 0777, sticky), or fix its mode.",
    )
    init.add_argument(
        "--root",
        default=None,
        help=f"the folder (default: ${ROOT_VARIABLE}, else {DEFAULT_ROOT})",
    )
    back = sub.add_parser(
        "release-feedback",
        help="nbgrader release_feedback, safely",
        description="Put an assignment's feedback pages into the exchange for students to fetch.",
    )
    back.add_argument("assignment", help="assignment whose feedback to release")
    back.add_argument("--course", type=Path, default=COURSE_ROOT, help="course directory")
    args = parser.parse_args(argv)
    if args.command == "release-feedback":
        problem = command_line.unknown_assignment(args.course, args.assignment)
        if problem:
            return command_line.fail(problem)
        return release_feedback(args.course, args.assignment)
    root = args.root or exchange_root()
    try:
        ensure_root(root)
    except (ExchangeError, OSError) as err:
        print(f"error: cannot set up the exchange at {root}: {err}", file=sys.stderr)
        return 2
    print(f"exchange root {root} (mode {oct(stat.S_IMODE(os.stat(root).st_mode))})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
