"""The parsers of the ``ds4023`` subcommands: ``ds4023 <name>`` usage, plain help, one-line errors.

Each stage keeps the standard library's ``argparse`` for its ``main(argv)`` (tests and
``python -m`` call those directly, and ``argparse`` already does subcommands, choices and
types); this module only fixes what a new instructor meets: the usage line names the
subcommand, descriptions are plain text (no Sphinx roles from docstrings), and a mistake is one
``error:`` line naming the fix and exit status 2, never argparse's usage block.
"""

from __future__ import annotations

import argparse
import re
import signal
import sys
import textwrap
from pathlib import Path

#: Exit status after Ctrl-C or SIGTERM (the shell's 128 + SIGINT).
INTERRUPTED = 130


class _Formatter(argparse.HelpFormatter):
    """argparse's formatter, but a line of the description or epilog that starts with spaces
    (an example command) is kept as written; other lines are wrapped to the terminal."""

    def _fill_text(self, text: str, width: int, indent: str) -> str:
        return "\n".join(
            line if line.startswith(" ") else textwrap.fill(line, width, initial_indent=indent)
            for line in text.splitlines()
        )


class Parser(argparse.ArgumentParser):
    """An ``ArgumentParser`` whose errors are one line: what is wrong and where help is."""

    def error(self, message: str):  # noqa: D401 (argparse's hook)
        """Print ``error: <message>`` and the help command on one line; exit with status 2."""
        self.exit(2, f"error: {message}: see `{self.prog} --help`\n")


def plain(text: str) -> str:
    """Docstring text as a terminal shows it: Sphinx roles and double backticks dropped.

    Args:
        text: e.g. ``"see :class:`~ds4023.x.Y` and ``make demo``"``.

    Returns:
        ``"see Y and make demo"``.
    """
    text = re.sub(r":[a-z]+:`~?([^`]*?)`", lambda m: m.group(1).rsplit(".", 1)[-1], text)
    return text.replace("``", "`")


def parser(command: str, description: str, epilog: str | None = None) -> Parser:
    """The parser of ``ds4023 <command>``.

    Args:
        command: the subcommand, e.g. ``"grade"`` or ``"exchange"``.
        description: what it does, in a sentence or two (Sphinx markup is removed).
        epilog: text shown after the options (e.g. examples), or None.

    Returns:
        A parser whose usage line reads ``usage: ds4023 <command> ...``.
    """
    return Parser(
        prog=f"ds4023 {command}",
        description=plain(description),
        epilog=plain(epilog) if epilog else None,
        formatter_class=_Formatter,
    )


class Terminated(KeyboardInterrupt):
    """SIGTERM arrived: handled like Ctrl-C, so clean-up (pools, clusters) still runs."""


def _terminate(signum, frame) -> None:
    raise Terminated()


def stop_on_sigterm() -> None:
    """Turn SIGTERM into ``Terminated`` (a ``KeyboardInterrupt``) in this, the main, thread."""
    signal.signal(signal.SIGTERM, _terminate)


def stopped(err: BaseException, what: str, kept: str, again: str) -> int:
    """Say in one line on stderr that a command was stopped, what was kept, how to resume.

    Args:
        err: the ``KeyboardInterrupt`` (or ``Terminated``, or one raised from either).
        what: the command, e.g. ``"ds4023 grade"``.
        kept: what is on disk, e.g. ``"3 submissions graded before the stop are recorded"``.
        again: how to resume, e.g. ``"run `ds4023 grade` again to grade the rest"``.

    Returns:
        The exit status for an interrupted command (130).
    """
    term = isinstance(err, Terminated) or isinstance(err.__cause__, Terminated)
    cause = "SIGTERM" if term else "Ctrl-C"
    print(f"{what}: stopped by {cause}; {kept}: {again}", file=sys.stderr)
    return INTERRUPTED


def fail(message: str) -> int:
    """Print ``error: <message>`` on stderr; return the exit status for bad input (2)."""
    print(f"error: {message}", file=sys.stderr)
    return 2


def unknown_assignment(course_root, name: str) -> str | None:
    """Why ``name`` is not an assignment of the course (None when it is one).

    Args:
        course_root: the course directory.
        name: what was typed after ``--assignment``.

    Returns:
        One line naming the assignments there are, or None.
    """
    source = Path(course_root) / "source"  # as ds4023.release.assignments lists them
    known = sorted(p.parent.name for p in source.glob("*/*.ipynb") if p.stem == p.parent.name)
    if name in known:
        return None
    if not known:
        return (
            f"{course_root} has no assignments (no source/<name>/<name>.ipynb): run this in "
            "the course folder, or pass --course or set DS4023_COURSE"
        )
    return f"no assignment {name!r} in this course: use --assignment {' or '.join(known)}"
