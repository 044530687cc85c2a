"""Generate each assignment's student release from source/, with its data files beside it."""

from __future__ import annotations

import filecmp
import os
import shutil
import subprocess
import sys
from pathlib import Path

from ds4023 import command_line
from ds4023.assignments import MANIFESTS, SHIPPED
from ds4023.files import atomic_write_bytes
from ds4023.settings import COURSE_ROOT

#: Where the shipped student-side files (``assignments.SHIPPED``) are kept: this package.
SHARED_DIR = Path(__file__).resolve().parent


def _data_files(assignment: str) -> tuple[str, ...]:
    """The data files ``assignment`` reads (none for an assignment without a manifest)."""
    found = MANIFESTS.get(assignment)
    return found.data if found else ()


#: Files in ``source/<assignment>/`` for graders only (``nbgrader_config.py`` ignores them).
GRADER_ONLY = ("reference.py",)


class ReleaseError(RuntimeError):
    """A release step failed; the message says what is wrong and how to fix it."""


def assignments(course_root: Path = COURSE_ROOT) -> list[str]:
    """List the assignments of a course directory.

    Args:
        course_root: the course directory (holding ``source/``).

    Returns:
        Sorted names of the folders ``source/<name>/`` that hold ``<name>.ipynb``.
    """
    source = Path(course_root) / "source"
    return sorted(p.parent.name for p in source.glob("*/*.ipynb") if p.stem == p.parent.name)


def install_data(
    assignment: str, course_root: Path = COURSE_ROOT, into: str = "source"
) -> list[Path]:
    """Copy the data files an assignment reads next to its notebook in ``into/``.

    nbgrader copies every file of ``source/<assignment>/`` into the release, so students
    and the autograder find the data by its bare file name. Files already in place and
    identical are left alone; a copy goes through a temporary file, so an interrupted
    copy never leaves a truncated data file behind.

    Args:
        assignment: the assignment name.
        course_root: the course directory.
        into: ``"source"`` (nbgrader copies it on into the release) or ``"release"``.

    Returns:
        The paths that were (re)written.

    Raises:
        ReleaseError: a data file has not been built yet.
    """
    course_root = Path(course_root)
    written = []
    for name in _data_files(assignment):
        built = course_root / "data" / name
        if not built.is_file():
            raise ReleaseError(f"{built} is missing: build the data first with `make data`")
        target = course_root / into / assignment / name
        if not target.parent.is_dir():
            continue
        if target.is_file() and filecmp.cmp(built, target, shallow=False):
            continue
        atomic_write_bytes(target, built.read_bytes())
        written.append(target)
    return written


def install_shared(assignment: str, course_root: Path = COURSE_ROOT) -> list[Path]:
    """Copy the shipped student-side files (``assignments.SHIPPED``) into the source folder.

    The copy in ``ds4023/`` is the one to edit; ``source/<assignment>/`` holds a copy, rewritten
    here whenever it differs, because nbgrader releases and restores only the files it finds
    there.

    Args:
        assignment: the assignment name.
        course_root: the course directory.

    Returns:
        The paths that were (re)written.
    """
    written = []
    for name, kept in SHIPPED.items():
        target = Path(course_root) / "source" / assignment / name
        if not target.parent.is_dir():
            continue
        content = (SHARED_DIR / kept).read_bytes()
        if target.is_file() and target.read_bytes() == content:
            continue
        atomic_write_bytes(target, content)
        written.append(target)
    return written


def nbgrader_env() -> dict[str, str]:
    """Build the environment every nbgrader subprocess needs.

    Returns:
        A copy of ``os.environ`` with this interpreter's ``bin/`` first on ``PATH``:
        nbgrader runs the ``alembic`` executable when it creates a gradebook.
    """
    env = dict(os.environ)
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    env.setdefault("MPLBACKEND", "Agg")
    return env


def run_nbgrader(args: list[str], course_root: Path = COURSE_ROOT) -> str:
    """Run one nbgrader command in a course directory.

    Args:
        args: the nbgrader sub-command and its arguments.
        course_root: the course directory; nbgrader reads its ``nbgrader_config.py``.

    Returns:
        What the command printed (stdout and stderr together).

    Raises:
        ReleaseError: the command failed; the message carries nbgrader's last error line.
    """
    proc = subprocess.run(
        [sys.executable, "-m", "nbgrader", *args],
        cwd=course_root,
        env=nbgrader_env(),
        capture_output=True,
        text=True,
    )
    output = proc.stdout + proc.stderr
    if proc.returncode != 0:
        errors = [line for line in output.splitlines() if "ERROR" in line or "Error" in line]
        last = (errors or output.strip().splitlines() or ["no output"])[-1]
        raise ReleaseError(f"`nbgrader {' '.join(args)}` failed: {last.strip()}")
    return output


def generate_release(assignment: str, course_root: Path = COURSE_ROOT) -> Path:
    """Regenerate ``release/<assignment>/`` from ``source/<assignment>/``.

    The data files and the shared student-side files are put into ``source/<assignment>/``
    first, so the release (and the grader) find them beside the notebook.

    Args:
        assignment: the assignment name.
        course_root: the course directory.

    Returns:
        The release folder.

    Raises:
        ReleaseError: data missing or nbgrader failed.
    """
    install_data(assignment, course_root)
    install_shared(assignment, course_root)
    run_nbgrader(["generate_assignment", assignment, "--force"], course_root)
    folder = Path(course_root) / "release" / assignment
    leaked = sorted(name for name in GRADER_ONLY if (folder / name).exists())
    if leaked:
        # nbgrader goes on with its defaults when nbgrader_config.py fails to load, and then
        # copies everything: the reference solutions must never reach students that way.
        shutil.rmtree(folder)
        raise ReleaseError(
            f"nbgrader released {', '.join(leaked)} for {assignment}, so it did not apply "
            "nbgrader_config.py (see its error above); release/ was removed: fix the config "
            "and run `make release` again"
        )
    return folder


def main(argv: list[str] | None = None) -> int:
    """Command line: ``ds4023 release [ASSIGNMENT ...] [--course DIR] [--data-only]``."""
    parser = command_line.parser(
        "release",
        "Generate release/<assignment>/ (the students' notebooks) from source/ with nbgrader, "
        "and put the data beside the notebooks.",
    )
    parser.add_argument("assignment", nargs="*", help="assignments to release (default: all)")
    parser.add_argument("--course", type=Path, default=COURSE_ROOT, help="course directory")
    parser.add_argument(
        "--data-only",
        action="store_true",
        help="only put the data and the shipped files (assignments.SHIPPED) beside the source "
        "notebooks, and the data beside the released ones; leave release/ as is",
    )
    args = parser.parse_args(argv)
    names = args.assignment or assignments(args.course)
    try:
        for name in names:
            if name not in assignments(args.course):
                raise ReleaseError(f"no notebook source/{name}/{name}.ipynb in {args.course}")
            if args.data_only:
                for into in ("source", "release"):
                    install_data(name, args.course, into)
                install_shared(name, args.course)
                continue
            folder = generate_release(name, args.course)
            print(f"released {name} -> {folder.relative_to(args.course)}/")
    except ReleaseError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    return 0
